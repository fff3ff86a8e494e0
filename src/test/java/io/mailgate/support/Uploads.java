package io.mailgate.support;

import java.io.IOException;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * The temporary files a gateway's uploads leave in {@code java.io.tmpdir} (the same directory as this JVM's: the
 * tests run the gateway in it), Mailgun form bodies, and requests cut off half-way by their client.
 */
public final class Uploads {

  private Uploads() {}

  /** The files in the temporary directory whose names start with {@code prefix}. */
  public static Set<Path> tempFiles(String prefix) {
    try (Stream<Path> files = Files.list(Path.of(System.getProperty("java.io.tmpdir")))) {
      return files.filter(f -> f.getFileName().toString().startsWith(prefix)).collect(Collectors.toSet());
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  /** Waits until every file named {@code prefix}... that was not there {@code before} is gone. */
  public static void awaitNoNewTempFiles(String prefix, Set<Path> before, Duration timeout) {
    Polling.await("no temporary file " + prefix + "* is left", () -> {
      Set<Path> now = new java.util.HashSet<>(tempFiles(prefix));
      now.removeAll(before);
      return now.isEmpty();
    }, timeout);
  }

  /**
   * Waits for a new temporary file named {@code prefix}... (not among {@code before}) that holds {@code marker}: an
   * upload's own file, being written. Another process's files (tests of other checkouts share the directory) are not
   * taken for it.
   */
  public static Path awaitTempFileWith(String prefix, Set<Path> before, String marker, Duration timeout) {
    byte[] m = marker.getBytes(StandardCharsets.US_ASCII);
    return Polling.await("a temporary file " + prefix + "* holds the upload's first bytes", () -> {
      for (Path f : tempFiles(prefix)) {
        if (!before.contains(f) && contains(f, m)) {
          return f;
        }
      }
      return null;
    }, java.util.Objects::nonNull, timeout);
  }

  private static boolean contains(Path f, byte[] marker) {
    byte[] b;
    try {
      b = Files.readAllBytes(f);
    } catch (IOException e) {
      return false; // deleted meanwhile
    }
    outer:
    for (int i = 0; i + marker.length <= b.length; i++) {
      for (int j = 0; j < marker.length; j++) {
        if (b[i + j] != marker[j]) {
          continue outer;
        }
      }
      return true;
    }
    return false;
  }

  /** A {@code multipart/form-data} body: the fields, then one file part. */
  public static byte[] form(String boundary, java.util.List<String[]> fields, String fileField, String filename,
                            byte[] file) {
    StringBuilder head = new StringBuilder();
    for (String[] f : fields) {
      head.append("--").append(boundary).append("\r\nContent-Disposition: form-data; name=\"").append(f[0])
          .append("\"\r\n\r\n").append(f[1]).append("\r\n");
    }
    head.append("--").append(boundary).append("\r\nContent-Disposition: form-data; name=\"").append(fileField)
        .append("\"; filename=\"").append(filename).append("\"\r\nContent-Type: application/octet-stream\r\n\r\n");
    byte[] h = head.toString().getBytes(StandardCharsets.UTF_8);
    byte[] t = ("\r\n--" + boundary + "--\r\n").getBytes(StandardCharsets.US_ASCII);
    byte[] out = new byte[h.length + file.length + t.length];
    System.arraycopy(h, 0, out, 0, h.length);
    System.arraycopy(file, 0, out, h.length, file.length);
    System.arraycopy(t, 0, out, h.length + file.length, t.length);
    return out;
  }

  /**
   * Opens a connection and sends a Mailgun {@code POST} whose Content-Length announces all of {@code body}, then only
   * its first {@code sent} bytes: the client's to close (cutting the upload off) when the test is ready.
   */
  public static Socket cutOff(int port, String path, String apiKey, String boundary, byte[] body, int sent) {
    String head = "POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        + "Authorization: Basic " + Base64.getEncoder().encodeToString(("api:" + apiKey).getBytes(StandardCharsets.UTF_8))
        + "\r\nContent-Type: multipart/form-data; boundary=" + boundary + "\r\nContent-Length: " + body.length + "\r\n\r\n";
    try {
      Socket socket = new Socket("127.0.0.1", port);
      OutputStream out = socket.getOutputStream();
      out.write(head.getBytes(StandardCharsets.US_ASCII));
      out.write(body, 0, sent);
      out.flush();
      return socket;
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }
}
