package io.mailgate.support;

import io.mailgate.store.DbTarget;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** A gateway in its own JVM (io.mailgate.Main), so a test can kill it abruptly, as a crash would. */
public final class GatewayProcess implements AutoCloseable {

  private final Process process;
  public final Api api;
  public final Path log;

  private GatewayProcess(Process process, int port, Path log) {
    this.process = process;
    this.api = new Api(port, TestGateway.ADMIN_TOKEN);
    this.log = log;
  }

  /**
   * Starts Main against {@code db} (or, if null, its own embedded database in MAILGATE_DATA_DIR) with the test
   * settings plus {@code overrides}, and waits until /health answers.
   */
  public static GatewayProcess start(DbTarget db, Map<String, String> overrides) throws Exception {
    Map<String, String> env = TestGateway.env(overrides);
    int port = Integer.parseInt(env.get("MAILGATE_HTTP_PORT"));
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    cmd.add("-Xmx256m");
    cmd.add("-cp");
    cmd.add(System.getProperty("java.class.path"));
    cmd.add("io.mailgate.Main");
    ProcessBuilder pb = new ProcessBuilder(cmd);
    pb.environment().putAll(env);
    if (db != null) {
      pb.environment().put("MAILGATE_DB_URL", "postgresql://" + db.user()
          + (db.password() == null || db.password().isEmpty() ? "" : ":" + db.password())
          + "@" + db.host() + ":" + db.port() + "/" + db.database());
    }
    pb.environment().put("MAILGATE_ADMIN_TOKEN", TestGateway.ADMIN_TOKEN);
    pb.environment().put("MAILGATE_SECRET_KEY", TestGateway.SECRET_KEY);
    Path log = Files.createTempFile("mailgate-process", ".log");
    pb.redirectErrorStream(true).redirectOutput(log.toFile());
    Process p = pb.start();
    GatewayProcess g = new GatewayProcess(p, port, log);
    HttpClient client = HttpClient.newHttpClient();
    long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
    while (System.nanoTime() < deadline) {
      if (!p.isAlive()) {
        throw new IllegalStateException("gateway process exited: " + Files.readString(log));
      }
      try {
        HttpResponse<String> r = client.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/health")).build(),
            HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() == 200) {
          return g;
        }
      } catch (java.io.IOException e) {
        // not listening yet
      }
      Api.sleep(100);
    }
    p.destroyForcibly();
    throw new IllegalStateException("gateway process did not become healthy: " + Files.readString(log));
  }

  /** SIGKILL: no shutdown hook, no graceful release, exactly like a crash. */
  public void kill() throws InterruptedException {
    process.destroyForcibly();
    process.waitFor();
  }

  /** SIGTERM: the graceful path. @return the exit code */
  public int terminate() throws InterruptedException {
    process.destroy();
    return process.waitFor();
  }

  public String output() throws java.io.IOException {
    return Files.readString(log);
  }

  @Override
  public void close() throws Exception {
    if (process.isAlive()) {
      kill();
    }
    Files.deleteIfExists(log);
  }
}
