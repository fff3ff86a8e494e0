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

/**
 * A gateway in its own JVM, so a test can kill it abruptly, as a crash would: the packaged jar
 * ({@code java -jar target/mailgate.jar}, the failsafe tests get its path as {@code mailgate.jar}), or
 * io.mailgate.Main on the test class path where no jar was built (a test run from an IDE).
 */
public final class GatewayProcess implements AutoCloseable {

  private final Process process;
  public final Api api;
  public final Path log;
  public final Map<String, String> env;
  /** From the start of the process until /health answered 200. */
  public final Duration startup;

  private GatewayProcess(Process process, int port, Path log, Map<String, String> env, Duration startup) {
    this.process = process;
    this.api = new Api(port, TestGateway.ADMIN_TOKEN);
    this.log = log;
    this.env = env;
    this.startup = startup;
  }

  /**
   * Starts the gateway against {@code db} (or, if null, its own embedded database in MAILGATE_DATA_DIR) with the
   * test settings plus {@code overrides}, and waits until /health answers 200.
   */
  public static GatewayProcess start(DbTarget db, Map<String, String> overrides) throws Exception {
    return start(db, overrides, Duration.ofSeconds(90));
  }

  public static GatewayProcess start(DbTarget db, Map<String, String> overrides, Duration healthyWithin) throws Exception {
    Map<String, String> env = TestGateway.env(overrides);
    int port = Integer.parseInt(env.get("MAILGATE_HTTP_PORT"));
    ProcessBuilder pb = new ProcessBuilder(javaCommand());
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
    long started = System.nanoTime();
    Process p = pb.start();
    HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
    long deadline = started + healthyWithin.toNanos();
    while (System.nanoTime() < deadline) {
      if (!p.isAlive()) {
        throw new IllegalStateException("gateway process exited with " + p.exitValue() + ": " + Files.readString(log));
      }
      try {
        HttpResponse<String> r = client.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/health"))
            .timeout(Duration.ofSeconds(3)).build(), HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() == 200) {
          return new GatewayProcess(p, port, log, env, Duration.ofNanos(System.nanoTime() - started));
        }
      } catch (java.io.IOException e) {
        // not listening yet
      }
      Api.sleep(50);
    }
    p.destroyForcibly();
    throw new IllegalStateException("gateway process did not become healthy within " + healthyWithin + ": " + Files.readString(log));
  }

  /** What a command of the jar printed, and its exit status. */
  public record CommandResult(int exit, String output) {}

  /** Runs {@code java -jar mailgate.jar args...} (e.g. backup FILE) with the test settings plus {@code overrides}. */
  public static CommandResult command(Map<String, String> overrides, String... args) throws Exception {
    List<String> cmd = new ArrayList<>(javaCommand());
    cmd.addAll(List.of(args));
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
    pb.environment().putAll(TestGateway.env(overrides));
    pb.environment().put("MAILGATE_ADMIN_TOKEN", TestGateway.ADMIN_TOKEN);
    pb.environment().put("MAILGATE_SECRET_KEY", TestGateway.SECRET_KEY);
    Process p = pb.start();
    String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
    if (!p.waitFor(5, java.util.concurrent.TimeUnit.MINUTES)) {
      p.destroyForcibly();
      throw new AssertionError("mailgate " + String.join(" ", args) + " did not finish: " + out);
    }
    return new CommandResult(p.exitValue(), out);
  }

  private static List<String> javaCommand() {
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    cmd.add("-Xmx256m");
    String jar = System.getProperty("mailgate.jar");
    if (jar != null && Files.isRegularFile(Path.of(jar))) {
      cmd.add("-jar");
      cmd.add(jar);
    } else {
      cmd.add("-cp");
      cmd.add(System.getProperty("java.class.path"));
      cmd.add("io.mailgate.Main");
    }
    return cmd;
  }

  public long pid() {
    return process.pid();
  }

  public boolean alive() {
    return process.isAlive();
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

  /** Waits for the process to end by itself. @return its exit code */
  public int awaitExit(Duration timeout) throws InterruptedException {
    if (!process.waitFor(timeout.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS)) {
      throw new AssertionError("the gateway process did not exit within " + timeout);
    }
    return process.exitValue();
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
