package io.mailgate.store.embedded;

import io.mailgate.store.DbTarget;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A real PostgreSQL server run from the binaries in the jar, the default database. Its data directory is the
 * user's data store and is treated as one:
 * <ul>
 *   <li>one mailgate process per directory (a lock file beside it), and never two servers on it;</li>
 *   <li>a server left running by a crashed gateway is stopped cleanly (fast shutdown) before a new one starts, and a
 *       stale {@code postmaster.pid} (power loss) is left to PostgreSQL's own recovery; nothing is ever deleted;</li>
 *   <li>when the gateway dies (kill -9, OOM kill) a watchdog process stops the server, so nothing is left running;</li>
 *   <li>a directory made by another PostgreSQL major version is refused with the upgrade path;</li>
 *   <li>{@code fsync} and {@code synchronous_commit} are on, so a committed job survives power loss, and checkpoints
 *       are frequent enough that crash recovery stays short;</li>
 *   <li>the superuser has a generated password (kept beside the directory, mode 0600), not trust authentication.</li>
 * </ul>
 * Blocking: used before the event loops start, and by its supervisor thread.
 */
public final class EmbeddedDatabase implements AutoCloseable {

  private static final Logger LOG = LoggerFactory.getLogger(EmbeddedDatabase.class);
  public static final String DATABASE = "mailgate";
  public static final String SUPERUSER = "postgres";
  private static final Pattern VERSION = Pattern.compile("\\(PostgreSQL\\)\\s+(\\d+)(?:\\.(\\d+))?");
  private static String binariesVersion;
  private static List<String> asNonRoot;

  /**
   * How the server runs. {@code durable} keeps fsync and synchronous_commit on (tests turn both off for speed);
   * {@code port} 0 picks a free port once, kept across restarts of the server within this process;
   * {@code checkpointTimeout} and {@code maxWalSize} bound the WAL that crash recovery replays.
   */
  public record Options(boolean durable, int port, Duration checkpointTimeout, String maxWalSize, Duration startTimeout,
                        java.util.Map<String, String> extraSettings) {
    public Options(boolean durable, int port, Duration checkpointTimeout, String maxWalSize, Duration startTimeout) {
      this(durable, port, checkpointTimeout, maxWalSize, startTimeout, java.util.Map.of());
    }

    public static Options of(boolean durable) {
      return new Options(durable, 0, Duration.ofMinutes(1), "1GB", Duration.ofMinutes(10));
    }
  }

  /** What the supervisor reports about a server that died under a running gateway. */
  public interface Supervisor {
    void down(String why);

    void up();

    /** The server could not be brought back; the gateway should exit with this message. */
    void gaveUp(String why);
  }

  private final Path dataDir;
  private final Options options;
  private final FileChannel lockChannel;
  private final FileLock lock;
  private final String password;
  private final int port;
  private volatile long pid;
  private Process watchdog;
  private volatile boolean closing;
  private Thread supervisor;

  private EmbeddedDatabase(Path dataDir, Options options, FileChannel lockChannel, FileLock lock, String password, int port) {
    this.dataDir = dataDir;
    this.options = options;
    this.lockChannel = lockChannel;
    this.lock = lock;
    this.password = password;
    this.port = port;
  }

  public static EmbeddedDatabase start(Path dataDir, boolean durable) throws IOException {
    return start(dataDir, Options.of(durable));
  }

  /**
   * Starts the server on {@code dataDir} (created by initdb on first start, reused after) and creates the
   * {@value #DATABASE} database if it does not exist.
   */
  public static EmbeddedDatabase start(Path dataDir, Options options) throws IOException {
    Path dir = dataDir.toAbsolutePath().normalize();
    Files.createDirectories(dir.getParent());
    Path lockFile = sibling(dir, ".lock");
    FileChannel ch = FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
    FileLock lock;
    try {
      lock = ch.tryLock();
    } catch (OverlappingFileLockException e) {
      lock = null;
    }
    if (lock == null) {
      ch.close();
      throw new EmbeddedDatabaseException("another mailgate process uses the embedded database in " + dir
          + " (it holds " + lockFile + "); stop it first, or give this one its own MAILGATE_DATA_DIR");
    }
    try {
      String password = prepareCluster(dir, options);
      int port = options.port() > 0 ? options.port() : freePort();
      EmbeddedDatabase db = new EmbeddedDatabase(dir, options, ch, lock, password, port);
      db.stopLeftoverServer();
      db.startServer();
      db.createDatabaseIfMissing();
      return db;
    } catch (IOException | RuntimeException e) {
      lock.release();
      ch.close();
      throw e;
    }
  }

  public DbTarget target() {
    return new DbTarget("127.0.0.1", port, DATABASE, SUPERUSER, password);
  }

  public Path dataDir() {
    return dataDir;
  }

  /** The server's process id (changes when the supervisor restarts it). */
  public long pid() {
    return pid;
  }

  /**
   * The server a running gateway keeps on {@code dataDir}, if one runs and accepts connections: how to reach it
   * (for a backup while the gateway works).
   */
  public static Optional<DbTarget> running(Path dataDir) throws IOException {
    Path dir = dataDir.toAbsolutePath().normalize();
    Optional<PostmasterPid> p = PostmasterPid.read(dir);
    if (p.isEmpty() || p.get().port() <= 0 || !"ready".equals(p.get().status()) || p.get().liveServer(dir).isEmpty()) {
      return Optional.empty();
    }
    Path passwordFile = sibling(dir, ".password");
    String password = Files.exists(passwordFile) ? Files.readString(passwordFile, StandardCharsets.UTF_8).trim() : "";
    return Optional.of(new DbTarget("127.0.0.1", p.get().port(), DATABASE, SUPERUSER, password));
  }

  /** The PostgreSQL version of the binaries in the jar, e.g. {@code 17.5}. */
  public static synchronized String binariesVersion() throws IOException {
    if (binariesVersion == null) {
      String out = run(List.of(PgBinaries.bin("postgres").toString(), "--version"), Duration.ofSeconds(30)).output;
      Matcher m = VERSION.matcher(out);
      if (!m.find()) {
        throw new IOException("cannot read the PostgreSQL version from: " + out.trim());
      }
      binariesVersion = m.group(1) + (m.group(2) == null ? "" : "." + m.group(2));
    }
    return binariesVersion;
  }

  private static String major(String version) {
    int dot = version.indexOf('.');
    return dot < 0 ? version : version.substring(0, dot);
  }

  /** Runs initdb on an empty directory, or checks that an existing cluster is of our major version. @return the password */
  private static String prepareCluster(Path dir, Options options) throws IOException {
    String ours = major(binariesVersion());
    Path pgVersion = dir.resolve("PG_VERSION");
    Path passwordFile = sibling(dir, ".password");
    if (Files.exists(pgVersion)) {
      String theirs = Files.readString(pgVersion, StandardCharsets.US_ASCII).trim();
      if (!theirs.equals(ours)) {
        throw new EmbeddedDatabaseException("the embedded database in " + dir + " was made by PostgreSQL " + theirs
            + ", and this mailgate runs PostgreSQL " + binariesVersion() + ". Nothing was changed. To move the data:"
            + " back it up with the mailgate version that made it (java -jar mailgate.jar backup FILE), then restore it"
            + " with this one into a new MAILGATE_DATA_DIR (java -jar mailgate.jar restore FILE); or upgrade the"
            + " directory in place with pg_upgrade from both versions' binaries. See README, 'Upgrading the embedded database'.");
      }
      // a cluster made before passwords were generated uses trust authentication on loopback
      return Files.exists(passwordFile) ? Files.readString(passwordFile, StandardCharsets.UTF_8).trim() : "";
    }
    if (Files.isDirectory(dir)) {
      try (var entries = Files.list(dir)) {
        if (entries.findAny().isPresent()) {
          throw new EmbeddedDatabaseException(dir + " is not empty but holds no PostgreSQL data directory (no PG_VERSION):"
              + " an interrupted first start, or another program's files. Nothing was changed; move it away and start again.");
        }
      }
    }
    Files.createDirectories(dir);
    String password = newPassword();
    writePrivate(passwordFile, password);
    Path pwfile = sibling(dir, ".initpw");
    writePrivate(pwfile, password);
    try {
      List<String> cmd = new ArrayList<>(List.of(PgBinaries.bin("initdb").toString(), "-D", dir.toString(), "-U", SUPERUSER,
          "-A", "scram-sha-256", "--pwfile=" + pwfile, "-E", "UTF8", "--locale=C"));
      if (!options.durable()) {
        cmd.add("--no-sync");
      }
      Result r = run(cmd, Duration.ofMinutes(5));
      if (r.exit != 0) {
        throw new EmbeddedDatabaseException("initdb failed in " + dir + ":\n" + tail(r.output, 20));
      }
    } finally {
      Files.deleteIfExists(pwfile);
    }
    LOG.atInfo().addKeyValue("dataDir", dir).addKeyValue("version", binariesVersion()).log("created the embedded database");
    return password;
  }

  /**
   * A server still running on this directory was left by a gateway that died without stopping it (or before this
   * gateway had a watchdog): stop it cleanly. A pid file whose process is gone is left to PostgreSQL, which
   * recovers from its WAL.
   */
  private void stopLeftoverServer() throws IOException {
    Optional<PostmasterPid> file = PostmasterPid.read(dataDir);
    if (file.isEmpty()) {
      return;
    }
    PostmasterPid p = file.get();
    Optional<ProcessHandle> live = p.liveServer(dataDir);
    if (live.isPresent()) {
      LOG.atWarn().addKeyValue("pid", p.pid()).addKeyValue("dataDir", dataDir)
          .log("a PostgreSQL server left by an earlier run still uses the data directory; stopping it (fast shutdown)");
      Result r = pgCtl(List.of("stop", "-m", "fast", "-w", "-t", "60"), Duration.ofSeconds(90));
      if (!awaitExit(live.get(), Duration.ofSeconds(5))) {
        LOG.atWarn().addKeyValue("pid", p.pid()).addKeyValue("pgctl", tail(r.output, 3))
            .log("the leftover server did not stop in time; stopping it immediately (it recovers from its WAL at start)");
        pgCtl(List.of("stop", "-m", "immediate", "-w", "-t", "30"), Duration.ofSeconds(60));
        if (!awaitExit(live.get(), Duration.ofSeconds(10))) {
          throw new EmbeddedDatabaseException("a PostgreSQL server (pid " + p.pid() + ") left by an earlier run still uses "
              + dataDir + " and does not stop; stop it by hand (pg_ctl stop -D " + dataDir + ") and start again");
        }
      }
      return;
    }
    if (p.aliveButUnknown()) {
      throw new EmbeddedDatabaseException("process " + p.pid() + " named in " + dataDir.resolve("postmaster.pid")
          + " is running but cannot be inspected (another user's?); if it is not a PostgreSQL server of this directory,"
          + " move postmaster.pid away and start again");
    }
    if (PostmasterPid.running(p.pid())) {
      // the pid was reused by an unrelated process (after a reboot): PostgreSQL would refuse to start on it
      Path aside = dataDir.resolve("postmaster.pid.stale");
      Files.move(dataDir.resolve("postmaster.pid"), aside, StandardCopyOption.REPLACE_EXISTING);
      LOG.atWarn().addKeyValue("pid", p.pid()).addKeyValue("movedTo", aside)
          .log("postmaster.pid names a process that is not this directory's server (a pid reused after a restart); moved aside");
      return;
    }
    LOG.atInfo().addKeyValue("pid", p.pid())
        .log("the embedded database was not shut down cleanly (its server is gone); PostgreSQL recovers from its WAL");
  }

  private void startServer() throws IOException {
    long deadline = System.nanoTime() + options.startTimeout().toNanos();
    long started = System.nanoTime();
    while (true) {
      long left = Math.max(5, TimeUnit.NANOSECONDS.toSeconds(deadline - System.nanoTime()));
      Result r = pgCtl(List.of("start", "-w", "-t", Long.toString(left), "-l", sibling(dataDir, ".log").toString(),
          "-o", serverOptions()), Duration.ofSeconds(left + 30));
      if (r.exit == 0) {
        pid = PostmasterPid.read(dataDir).map(PostmasterPid::pid)
            .orElseThrow(() -> new EmbeddedDatabaseException("PostgreSQL started but wrote no postmaster.pid in " + dataDir));
        startWatchdog();
        LOG.atInfo().addKeyValue("pid", pid).addKeyValue("port", port)
            .addKeyValue("ms", TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started)).log("embedded PostgreSQL ready");
        return;
      }
      String log = tail(readLog(), 15);
      // processes of a server killed a moment ago may still hold its shared memory: wait for them to go
      boolean retryable = log.contains("pre-existing shared memory block") || log.contains("lock file")
          && log.contains("already exists");
      if (!retryable || System.nanoTime() > deadline) {
        throw new EmbeddedDatabaseException("PostgreSQL did not start on " + dataDir + " (pg_ctl: " + tail(r.output, 3).trim()
            + "); its log " + sibling(dataDir, ".log") + " ends:\n" + log);
      }
      sleep(500);
    }
  }

  private String serverOptions() {
    boolean durable = options.durable();
    List<String> o = new ArrayList<>(List.of("-p", Integer.toString(port),
        "-c", "listen_addresses=127.0.0.1",
        "-c", "unix_socket_directories=''",
        "-c", "fsync=" + (durable ? "on" : "off"),
        "-c", "synchronous_commit=" + (durable ? "on" : "off"),
        "-c", "full_page_writes=" + (durable ? "on" : "off"),
        "-c", "max_connections=200",
        "-c", "shared_buffers=128MB",
        "-c", "max_wal_size=" + options.maxWalSize(),
        "-c", "checkpoint_timeout=" + options.checkpointTimeout().toSeconds() + "s",
        "-c", "timezone=UTC"));
    options.extraSettings().forEach((k, v) -> {
      o.add("-c");
      o.add(k + "=" + v);
    });
    return String.join(" ", o);
  }

  /**
   * A shell that waits on a pipe from this JVM: when the JVM dies, however it dies, the pipe closes and the shell
   * stops the server (fast shutdown). {@link #close()} detaches it first. Where there is no POSIX shell, a server
   * left by a crash is stopped by the next start instead.
   */
  private void startWatchdog() {
    if (PgBinaries.windows() || !Files.isExecutable(Path.of("/bin/sh"))) {
      return;
    }
    String script = "trap '' INT HUP TERM; read -r cmd; [ \"$cmd\" = detach ] || kill -INT " + pid + " 2>/dev/null; exit 0";
    try {
      watchdog = new ProcessBuilder("/bin/sh", "-c", script)
          .redirectOutput(ProcessBuilder.Redirect.DISCARD)
          .redirectError(ProcessBuilder.Redirect.DISCARD)
          .start();
    } catch (IOException e) {
      LOG.atWarn().addKeyValue("error", e.getMessage()).log("no watchdog for the embedded database: a crash will leave it running until the next start");
    }
  }

  private void detachWatchdog() {
    Process w = watchdog;
    watchdog = null;
    if (w == null) {
      return;
    }
    try (OutputStream in = w.getOutputStream()) {
      in.write("detach\n".getBytes(StandardCharsets.US_ASCII));
    } catch (IOException e) {
      // it is gone already
    }
    try {
      if (!w.waitFor(2, TimeUnit.SECONDS)) {
        w.destroyForcibly();
      }
    } catch (InterruptedException e) {
      w.destroyForcibly();
      Thread.currentThread().interrupt();
    }
  }

  private void createDatabaseIfMissing() throws IOException {
    String url = "jdbc:postgresql://127.0.0.1:" + port + "/postgres";
    try (Connection c = DriverManager.getConnection(url, SUPERUSER, password); Statement st = c.createStatement()) {
      try (ResultSet rs = st.executeQuery("SELECT 1 FROM pg_database WHERE datname = '" + DATABASE + "'")) {
        if (!rs.next()) {
          st.execute("CREATE DATABASE " + DATABASE);
        }
      }
    } catch (SQLException e) {
      throw new IOException("cannot prepare the " + DATABASE + " database: " + e.getMessage(), e);
    }
  }

  /**
   * Watches the server while the gateway runs: if it dies (killed, crashed), the gateway is told, the server is
   * started again after {@code delay} (growing per attempt) on the same port, and after {@code attempts} failed starts the
   * gateway is told to give up.
   */
  public synchronized void supervise(Duration delay, int attempts, Supervisor listener) {
    if (supervisor != null) {
      return;
    }
    supervisor = new Thread(() -> {
      while (!closing) {
        sleep(250);
        if (closing || PostmasterPid.running(pid)) {
          continue;
        }
        String why = "embedded PostgreSQL (pid " + pid + ") exited unexpectedly";
        LOG.atError().addKeyValue("pid", pid).addKeyValue("log", tail(readLog(), 5))
            .log("embedded PostgreSQL exited unexpectedly; restarting it");
        listener.down(why);
        detachWatchdog();
        boolean back = false;
        String last = "";
        for (int i = 1; i <= attempts && !closing && !back; i++) {
          sleep(delay.toMillis() * i);
          try {
            synchronized (this) {
              if (closing) {
                return;
              }
              stopLeftoverServer();
              startServer();
            }
            back = true;
          } catch (IOException | RuntimeException e) {
            last = e.getMessage();
            LOG.atWarn().addKeyValue("attempt", i).addKeyValue("error", last).log("restarting embedded PostgreSQL failed");
          }
        }
        if (back) {
          LOG.atInfo().addKeyValue("pid", pid).log("embedded PostgreSQL restarted");
          listener.up();
        } else if (!closing) {
          listener.gaveUp(why + " and could not be restarted after " + attempts + " attempts: " + last);
          return;
        }
      }
    }, "mailgate-embedded-pg-supervisor");
    supervisor.setDaemon(true);
    supervisor.start();
  }

  /** Stops the server (fast shutdown: open transactions roll back, a checkpoint is written) and releases the directory. */
  @Override
  public void close() throws IOException {
    synchronized (this) {
      if (closing) {
        return;
      }
      closing = true;
    }
    try {
      detachWatchdog();
      Result r = pgCtl(List.of("stop", "-m", "fast", "-w", "-t", "60"), Duration.ofSeconds(90));
      if (r.exit != 0 && PostmasterPid.running(pid)) {
        LOG.atWarn().addKeyValue("pgctl", tail(r.output, 3)).log("embedded PostgreSQL did not stop in time; stopping it immediately");
        pgCtl(List.of("stop", "-m", "immediate", "-w", "-t", "30"), Duration.ofSeconds(60));
      }
    } finally {
      lock.release();
      lockChannel.close();
    }
  }

  private Result pgCtl(List<String> args, Duration timeout) throws IOException {
    List<String> cmd = new ArrayList<>();
    cmd.add(PgBinaries.bin("pg_ctl").toString());
    cmd.add("-D");
    cmd.add(dataDir.toString());
    cmd.addAll(args);
    return run(cmd, timeout);
  }

  private record Result(int exit, String output) {}

  /**
   * PostgreSQL refuses to run as root. As root on Linux (containers, CI machines) its programs run in a user
   * namespace of their own ({@code unshare -U}), where they are not root, as zonky's own launcher does.
   */
  private static synchronized List<String> asNonRoot() {
    if (asNonRoot == null) {
      asNonRoot = List.of();
      if ("root".equals(System.getProperty("user.name")) && System.getProperty("os.name", "").startsWith("Linux")) {
        try {
          Process p = new ProcessBuilder("unshare", "-U", "true").redirectErrorStream(true)
              .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
          if (p.waitFor(10, TimeUnit.SECONDS) && p.exitValue() == 0) {
            asNonRoot = List.of("unshare", "-U");
          }
        } catch (IOException e) {
          // no unshare: initdb will say that it cannot run as root
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
    }
    return asNonRoot;
  }

  private static Result run(List<String> command, Duration timeout) throws IOException {
    List<String> cmd = new ArrayList<>(asNonRoot());
    cmd.addAll(command);
    Path out = Files.createTempFile("mailgate-pg", ".out");
    try {
      ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(out.toFile());
      pb.environment().keySet().removeIf(k -> k.startsWith("PG"));
      pb.environment().put("LC_ALL", "C");
      Process p = pb.start();
      if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
        p.destroyForcibly();
        throw new IOException(cmd.get(0) + " did not finish within " + timeout);
      }
      return new Result(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted", e);
    } finally {
      Files.deleteIfExists(out);
    }
  }

  private String readLog() {
    try {
      Path log = sibling(dataDir, ".log");
      if (!Files.exists(log)) {
        return "";
      }
      long size = Files.size(log);
      try (var ch = FileChannel.open(log)) {
        long from = Math.max(0, size - 16_384);
        var buf = java.nio.ByteBuffer.allocate((int) (size - from));
        ch.read(buf, from);
        return new String(buf.array(), 0, buf.position(), StandardCharsets.UTF_8);
      }
    } catch (IOException e) {
      return "";
    }
  }

  private static String tail(String text, int lines) {
    String[] all = text.split("\n");
    StringBuilder b = new StringBuilder();
    for (int i = Math.max(0, all.length - lines); i < all.length; i++) {
      b.append(all[i]).append('\n');
    }
    return b.toString();
  }

  private static boolean awaitExit(ProcessHandle p, Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (PostmasterPid.running(p.pid())) {
      if (System.nanoTime() > deadline) {
        return false;
      }
      sleep(50);
    }
    return true;
  }

  /** {@code data/pg} → {@code data/pg.lock}, {@code data/pg.log}, ...: beside the data directory, never inside it. */
  static Path sibling(Path dataDir, String suffix) {
    return dataDir.resolveSibling(dataDir.getFileName() + suffix);
  }

  private static String newPassword() {
    byte[] b = new byte[24];
    new SecureRandom().nextBytes(b);
    return Base64.getUrlEncoder().withoutPadding().encodeToString(b);
  }

  private static void writePrivate(Path file, String value) throws IOException {
    Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
    Files.writeString(tmp, value + "\n", StandardCharsets.UTF_8);
    try {
      Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rw-------"));
    } catch (UnsupportedOperationException e) {
      // not a POSIX file system
    }
    Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }

  private static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
