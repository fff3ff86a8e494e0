package io.mailgate.config;

/** A setting is missing or malformed; the gateway refuses to start and says which one. */
public class ConfigException extends RuntimeException {
  public ConfigException(String message) {
    super(message);
  }
}
