package io.mailgate.message;

/**
 * Signs a composed message (DKIM). Thread-safe and free of I/O, but may be CPU-heavy (an RSA signature takes about a
 * millisecond), so dispatchers call it on a worker pool, never on an event loop.
 */
public interface MessageSigner {

  /** The message with its signature header added; the bytes after it are exactly the ones signed. */
  ComposedMessage sign(ComposedMessage message);
}
