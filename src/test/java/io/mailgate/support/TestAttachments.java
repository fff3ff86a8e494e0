package io.mailgate.support;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.Random;

/**
 * Files for attachment tests: a binary "report" (every byte value, so no encoding step can pass it unchanged by
 * luck), a small UTF-8 text with a non-ASCII name, and an inline image referenced from the html as {@code cid:logo.png}.
 */
public final class TestAttachments {
  private TestAttachments() {}

  public static final byte[] REPORT = bytes(70_001, 7);
  public static final byte[] NOTES = "Grüße — notes\r\nline two\r\n".getBytes(StandardCharsets.UTF_8);
  public static final byte[] LOGO = bytes(3_333, 11);
  public static final String NOTES_NAME = "Notizen für März.txt";
  public static final String HTML = "<p>Hello <img src=\"cid:logo.png\" alt=\"logo\"></p>";

  /** Deterministic bytes covering all 256 values. */
  public static byte[] bytes(int n, long seed) {
    byte[] b = new byte[n];
    new Random(seed).nextBytes(b);
    for (int i = 0; i < Math.min(256, n); i++) {
      b[i] = (byte) i;
    }
    return b;
  }

  /** The job API's {@code attachments} for the three files. */
  public static JsonArray json() {
    return new JsonArray()
        .add(new JsonObject().put("filename", "report.pdf").put("contentType", "application/pdf")
            .put("content", Base64.getEncoder().encodeToString(REPORT)))
        .add(new JsonObject().put("filename", NOTES_NAME).put("contentType", "text/plain; charset=utf-8")
            .put("content", Base64.getEncoder().encodeToString(NOTES)))
        .add(new JsonObject().put("filename", "logo.png").put("contentType", "image/png").put("inline", true)
            .put("content", Base64.getEncoder().encodeToString(LOGO)));
  }
}
