package io.mailgate.backend.http;

import io.mailgate.backend.Delivery;
import io.mailgate.backend.MailBackend;
import io.vertx.core.Future;
import io.vertx.core.Vertx;

/**
 * The one engine of the provider backends: a {@link Provider}'s calls, at most {@code maxConcurrentCalls} in flight
 * and {@code ratePerSecond} messages per second across all deliveries of this instance ({@link CallGate}), each
 * delivery sent by a {@link BatchRunner}.
 */
public final class ProviderBackend implements MailBackend {

  private final Provider provider;
  private final CallGate gate;

  private ProviderBackend(Vertx vertx, CallLimits limits, Provider provider) {
    this.provider = provider;
    this.gate = new CallGate(vertx.getOrCreateContext(), limits.maxConcurrentCalls(), limits.ratePerSecond());
  }

  /** A backend of {@code provider} within its settings' {@code maxConcurrentCalls} and {@code ratePerSecond}. */
  public static ProviderBackend of(Vertx vertx, CallLimits limits, Provider provider) {
    return new ProviderBackend(vertx, limits, provider);
  }

  @Override
  public Future<Void> deliver(Delivery delivery) {
    String refusal = delivery.campaign().oneMessage() ? provider.cannotSendOneMessage() : null;
    if (refusal != null) {
      return delivery.reportAll(new io.mailgate.backend.Outcome.Permanent(null, "not sent: one message to several"
          + " recipients as it is (a shared or MIME message) cannot go through this backend: " + refusal));
    }
    String asciiOnly = provider.asciiAddressesOnly();
    String need = asciiOnly == null ? null : io.mailgate.backend.Utf8Addresses.jobNeed(delivery.campaign());
    if (need != null) {
      return delivery.reportAll(io.mailgate.backend.Utf8Addresses.refusal(need, asciiOnly + " takes ASCII addresses only"));
    }
    Future<Provider.Job> job;
    try {
      job = provider.prepare(delivery);
    } catch (RuntimeException e) {
      job = Future.failedFuture(e);
    }
    // a job that cannot be prepared fails the delivery: the dispatcher defers its recipients with the reason
    return job.compose(j -> BatchRunner.run(delivery, gate, j, provider.distinctAddressesPerCall(), asciiOnly));
  }

  @Override
  public Future<Void> close() {
    return provider.close();
  }

  @Override
  public String endpoint() {
    return provider.endpoint();
  }
}
