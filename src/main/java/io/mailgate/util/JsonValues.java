package io.mailgate.util;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Converts Vert.x JSON values to plain maps and lists, the only shapes the template engine looks into. */
public final class JsonValues {
  private JsonValues() {}

  public static Map<String, Object> toPlainMap(JsonObject o) {
    if (o == null) {
      return Map.of();
    }
    Map<String, Object> out = new LinkedHashMap<>();
    o.getMap().forEach((k, v) -> out.put(k, plain(v)));
    return out;
  }

  private static Object plain(Object v) {
    if (v instanceof JsonObject j) {
      return toPlainMap(j);
    }
    if (v instanceof Map<?, ?> m) {
      Map<String, Object> out = new LinkedHashMap<>();
      m.forEach((k, x) -> out.put(String.valueOf(k), plain(x)));
      return out;
    }
    if (v instanceof JsonArray a) {
      return plainList(a.getList());
    }
    if (v instanceof List<?> l) {
      return plainList(l);
    }
    return v;
  }

  private static List<Object> plainList(List<?> l) {
    List<Object> out = new ArrayList<>(l.size());
    l.forEach(x -> out.add(plain(x)));
    return out;
  }
}
