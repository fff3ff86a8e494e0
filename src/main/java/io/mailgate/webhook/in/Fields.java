package io.mailgate.webhook.in;

import io.mailgate.error.InvalidInputException;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Reading the values the providers send back: our ids, SMTP codes, provider event ids; all lenient, never throwing. */
final class Fields {
  private Fields() {}

  private static final Pattern SMTP_CODE = Pattern.compile("(?<![0-9])([245][0-9][0-9])(?![0-9])");

  /** A job id as our backends send it, or null. */
  static UUID job(Object v) {
    if (!(v instanceof String s) || s.length() != 36) {
      return null;
    }
    try {
      return UUID.fromString(s);
    } catch (IllegalArgumentException e) {
      return null;
    }
  }

  /** A recipient's seq as our backends send it (a decimal string), or null. */
  static Integer seq(Object v) {
    if (v instanceof Number n && n.doubleValue() == Math.rint(n.doubleValue()) && n.longValue() >= 0
        && n.longValue() <= Integer.MAX_VALUE) {
      return n.intValue();
    }
    if (!(v instanceof String s) || !s.matches("[0-9]{1,10}")) {
      return null;
    }
    long n = Long.parseLong(s);
    return n <= Integer.MAX_VALUE ? (int) n : null;
  }

  static String string(Object v) {
    return v instanceof String s && !s.isEmpty() ? s : v instanceof Number n ? n.toString() : null;
  }

  /** The first SMTP reply code in a diagnostic text ("smtp; 550 5.1.1 ..."), or null. */
  static Integer smtpCode(String text) {
    if (text == null) {
      return null;
    }
    Matcher m = SMTP_CODE.matcher(text);
    return m.find() ? Integer.parseInt(m.group(1)) : null;
  }

  /** A provider event id of at most 200 characters: longer composite ids are replaced by their SHA-256. */
  static String eventId(String id) {
    if (id == null || id.isEmpty()) {
      return null;
    }
    if (id.length() <= 200) {
      return id;
    }
    try {
      return "sha256:" + HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(id.getBytes(StandardCharsets.UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  static JsonObject object(Buffer body, String what) {
    try {
      Object v = io.vertx.core.json.Json.decodeValue(body);
      if (v instanceof JsonObject o) {
        return o;
      }
    } catch (DecodeException e) {
      // below
    }
    throw new InvalidInputException("invalid_body", what + " must be a JSON object", null);
  }

  /** A JSON array, or one JSON object taken as an array of one. */
  static JsonArray objects(Buffer body, String what) {
    Object v;
    try {
      v = io.vertx.core.json.Json.decodeValue(body);
    } catch (DecodeException e) {
      v = null;
    }
    if (v instanceof JsonObject o) {
      return new JsonArray().add(o);
    }
    if (v instanceof JsonArray a) {
      return a;
    }
    throw new InvalidInputException("invalid_body", what + " must be a JSON array of events or one event object", null);
  }

  static JsonObject obj(JsonObject o, String key) {
    return o != null && o.getValue(key) instanceof JsonObject j ? j : null;
  }
}
