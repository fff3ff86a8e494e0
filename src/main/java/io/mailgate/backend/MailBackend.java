package io.mailgate.backend;

import io.vertx.core.Future;

/**
 * Where mail leaves the gateway: an SMTP server, a provider's HTTP API, a directory. One instance per configured
 * backend (and version of its settings) per dispatcher; it owns its connections and limits.
 */
public interface MailBackend {

  /**
   * Sends the delivery's recipients in the backend's own shape (one SMTP transaction each, provider batches...),
   * reporting every started recipient. The future completes when all started sends are reported.
   */
  Future<Void> deliver(Delivery delivery);

  Future<Void> close();

  /**
   * Where this backend sends, for the events of outcomes that do not say which server took them ("host:port" of
   * its API or server, a directory): null if unknown.
   */
  default String endpoint() {
    return null;
  }
}
