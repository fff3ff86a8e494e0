package io.mailgate.support;

import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;

/**
 * External programs some tests need (Postfix's smtp-sink, dkimpy, Node.js with the packages of a Node project under
 * {@code src/test/node}), found on the PATH and at their standard places.
 * Without one, a test is skipped on a developer's machine and fails under {@code CI=true}, with what to install:
 * CI (set up by {@code .ci/run}) must never go green by skipping.
 */
public final class Tools {
  private Tools() {}

  private static Optional<Path> smtpSink;
  private static Optional<String> dkimpy;
  private static Optional<Path> node;

  public static boolean ci() {
    return "true".equalsIgnoreCase(System.getenv("CI"));
  }

  /** Postfix's smtp-sink (Debian package postfix). MAILGATE_TEST_SMTP_SINK may name it. */
  public static synchronized Path smtpSink() {
    if (smtpSink == null) {
      List<Path> candidates = new ArrayList<>();
      String named = System.getenv("MAILGATE_TEST_SMTP_SINK");
      if (named != null && !named.isBlank()) {
        candidates.add(Path.of(named));
      }
      candidates.addAll(onPath("smtp-sink"));
      candidates.add(Path.of("/usr/sbin/smtp-sink"));
      candidates.add(Path.of("/usr/lib/postfix/sbin/smtp-sink"));
      candidates.add(Path.of("/usr/libexec/postfix/smtp-sink"));
      smtpSink = candidates.stream().filter(Files::isExecutable).findFirst();
    }
    return require(smtpSink, "Postfix's smtp-sink", "the Debian package postfix");
  }

  /** A python3 that imports dkimpy and PyNaCl (Debian packages python3-dkim and python3-nacl). */
  public static synchronized String dkimpyPython() {
    if (dkimpy == null) {
      List<String> candidates = new ArrayList<>(List.of("/usr/bin/python3"));
      onPath("python3").forEach(p -> candidates.add(p.toString()));
      candidates.add("/usr/local/bin/python3");
      dkimpy = candidates.stream().distinct().filter(Tools::importsDkim).findFirst();
    }
    return require(dkimpy, "dkimpy (python3 with the dkim and nacl modules)", "the Debian packages python3-dkim and python3-nacl");
  }

  /** Node.js 18 or later ({@code node}); MAILGATE_TEST_NODE may name it. */
  public static synchronized Path node() {
    if (node == null) {
      List<Path> candidates = new ArrayList<>();
      String named = System.getenv("MAILGATE_TEST_NODE");
      if (named != null && !named.isBlank()) {
        candidates.add(Path.of(named));
      }
      candidates.addAll(onPath("node"));
      candidates.add(Path.of("/usr/bin/node"));
      candidates.add(Path.of("/usr/local/bin/node"));
      node = candidates.stream().filter(Files::isExecutable).filter(Tools::isNode18).findFirst();
    }
    return require(node, "Node.js 18 or later", "the Debian packages nodejs and npm");
  }

  /**
   * The Node project {@code src/test/node/{name}} with its dependencies installed ({@code node_modules} holding each
   * of {@code packages}), as {@code npm ci} in that directory leaves it.
   */
  public static Path nodeProject(String name, String... packages) {
    Path project = Path.of("src", "test", "node", name).toAbsolutePath();
    boolean installed = Files.isRegularFile(project.resolve("package-lock.json"));
    for (String p : packages) {
      installed &= Files.isRegularFile(project.resolve("node_modules").resolve(p).resolve("package.json"));
    }
    return require(installed ? Optional.of(project) : Optional.empty(), "the Node project " + project
        + " (its node_modules)", "its packages with `npm ci --no-audit --no-fund` in that directory");
  }

  private static <T> T require(Optional<T> found, String what, String install) {
    if (found.isPresent()) {
      return found.get();
    }
    String msg = what + " is not installed: install " + install + " (.ci/run does)";
    if (ci()) {
      throw new AssertionError(msg + "; under CI=true a missing tool fails the build");
    }
    Assumptions.abort(msg);
    throw new IllegalStateException("unreachable");
  }

  private static List<Path> onPath(String program) {
    List<Path> out = new ArrayList<>();
    String path = System.getenv("PATH");
    if (path != null) {
      for (String dir : path.split(java.io.File.pathSeparator)) {
        if (!dir.isBlank()) {
          out.add(Path.of(dir, program));
        }
      }
    }
    return out;
  }

  private static boolean isNode18(Path program) {
    try {
      Process p = new ProcessBuilder(program.toString(), "-e", "process.exit(+process.versions.node.split('.')[0] >= 18 ? 0 : 1)")
          .redirectErrorStream(true).start();
      p.getInputStream().transferTo(OutputStream.nullOutputStream());
      if (p.waitFor(30, TimeUnit.SECONDS)) {
        return p.exitValue() == 0;
      }
      p.destroyForcibly();
    } catch (Exception e) {
      // not this one
    }
    return false;
  }

  private static boolean importsDkim(String python) {
    try {
      Process p = new ProcessBuilder(python, "-c", "import dkim, nacl").redirectErrorStream(true).start();
      p.getInputStream().transferTo(OutputStream.nullOutputStream());
      if (p.waitFor(30, TimeUnit.SECONDS)) {
        return p.exitValue() == 0;
      }
      p.destroyForcibly();
    } catch (Exception e) {
      // not this one
    }
    return false;
  }
}
