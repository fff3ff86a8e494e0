package io.mailgate.store.embedded;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * {@code postmaster.pid}, the lock file a PostgreSQL server keeps in its data directory: its pid (line 1), data
 * directory (2), port (4) and status (8, {@code ready} once it accepts connections). A file left by a server that
 * no longer runs is stale; PostgreSQL itself ignores a stale file whose pid is gone.
 */
record PostmasterPid(long pid, Path dataDir, int port, String status) {

  static Optional<PostmasterPid> read(Path dataDir) throws IOException {
    List<String> lines;
    try {
      lines = Files.readAllLines(dataDir.resolve("postmaster.pid"), StandardCharsets.UTF_8);
    } catch (NoSuchFileException e) {
      return Optional.empty();
    }
    if (lines.isEmpty()) {
      return Optional.empty();
    }
    try {
      long pid = Long.parseLong(lines.get(0).trim());
      Path dir = lines.size() > 1 ? Path.of(lines.get(1).trim()) : dataDir;
      int port = lines.size() > 3 && !lines.get(3).isBlank() ? Integer.parseInt(lines.get(3).trim()) : -1;
      String status = lines.size() > 7 ? lines.get(7).trim() : "";
      return Optional.of(new PostmasterPid(pid, dir, port, status));
    } catch (NumberFormatException e) {
      // a file cut short by a crash while it was written
      return Optional.of(new PostmasterPid(-1, dataDir, -1, ""));
    }
  }

  /** The live process of this pid if it is a PostgreSQL server working in {@code dataDir}. */
  Optional<ProcessHandle> liveServer(Path expectedDataDir) {
    if (pid <= 0) {
      return Optional.empty();
    }
    Optional<ProcessHandle> ph = ProcessHandle.of(pid).filter(ProcessHandle::isAlive);
    if (ph.isEmpty() || !running(pid)) {
      return Optional.empty();
    }
    String command = ph.get().info().command().orElse("");
    String name = Path.of(command.isEmpty() ? "unknown" : command).getFileName().toString();
    if (!name.equals("postgres") && !name.equals("postgres.exe")) {
      return Optional.empty();
    }
    // a postmaster chdirs into its data directory: a postgres of another cluster that reused the pid is not ours
    Path cwd = Path.of("/proc", Long.toString(pid), "cwd");
    try {
      if (Files.exists(Path.of("/proc/self")) && !Files.isSameFile(Files.readSymbolicLink(cwd), expectedDataDir)) {
        return Optional.empty();
      }
    } catch (IOException | UnsupportedOperationException e) {
      // cannot look: trust the pid file, as pg_ctl does
    }
    return ph;
  }

  /**
   * Whether process {@code pid} runs. A server that was killed is a zombie until its parent (often an init that
   * reaps slowly) collects it; on Linux /proc tells a zombie from a live process.
   */
  static boolean running(long pid) {
    if (pid <= 0 || !ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)) {
      return false;
    }
    try {
      String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"), StandardCharsets.US_ASCII);
      int close = stat.lastIndexOf(')');
      return close < 0 || close + 2 >= stat.length() || stat.charAt(close + 2) != 'Z';
    } catch (IOException | UnsupportedOperationException e) {
      return true; // no /proc: trust the process handle
    }
  }

  /** A pid that is alive but whose command we may not read (another user's process). */
  boolean aliveButUnknown() {
    return running(pid) && ProcessHandle.of(pid).map(ph -> ph.info().command().isEmpty()).orElse(false);
  }
}
