package io.mailgate.tenant;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Optional;
import java.util.function.Supplier;

/**
 * A credential given in the environment, or else kept in a file of the data dir (mode 0600), generated on first
 * start. Blocking file IO: called before the event loops start.
 */
public final class LocalCredentials {

  /** The value, and whether it was generated just now (so it is shown once). */
  public record Credential(String value, boolean generated, Path file) {}

  private LocalCredentials() {}

  public static Credential loadOrCreate(Optional<String> fromEnv, Path dataDir, String fileName, Supplier<String> generator)
      throws IOException {
    if (fromEnv.isPresent()) {
      return new Credential(fromEnv.get(), false, null);
    }
    Path file = dataDir.resolve(fileName);
    if (Files.exists(file)) {
      return new Credential(Files.readString(file, StandardCharsets.UTF_8).trim(), false, file);
    }
    Files.createDirectories(dataDir);
    String value = generator.get();
    Path tmp = dataDir.resolve(fileName + ".tmp");
    Files.writeString(tmp, value + "\n", StandardCharsets.UTF_8);
    try {
      Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rw-------"));
    } catch (UnsupportedOperationException e) {
      // not a POSIX file system: keep the default permissions
    }
    Files.move(tmp, file, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    return new Credential(value, true, file);
  }
}
