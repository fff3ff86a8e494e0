package io.mailgate.backend.smtp;

import io.mailgate.backend.Delivery;
import io.mailgate.backend.MailBackend;
import io.mailgate.backend.Outcome;
import io.mailgate.backend.PerRecipientSender;
import io.mailgate.backend.RateLimiter;
import io.mailgate.message.Campaign;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;

/**
 * The customer's own mail server: one personalised message per recipient over pooled, pipelined connections,
 * at most {@code maxConnections} in flight and {@code ratePerSecond} messages per second.
 */
final class SmtpBackend implements MailBackend {

  private final SmtpSettings settings;
  private final SmtpPool pool;
  private final RateLimiter rate;

  SmtpBackend(Vertx vertx, SmtpSettings settings) {
    this.settings = settings;
    this.pool = new SmtpPool(vertx, settings);
    this.rate = new RateLimiter(vertx.getOrCreateContext(), settings.ratePerSecond());
  }

  @Override
  public Future<Void> deliver(Delivery delivery) {
    Campaign campaign = delivery.campaign();
    return PerRecipientSender.run(delivery, settings.maxConnections(), r -> rate.acquire()
        .compose(v -> delivery.message(r))
        .compose(msg -> pool.acquire(delivery.highPriority()).compose(conn -> {
          Future<Outcome> sent;
          try {
            Buffer data = SmtpData.encode(msg);
            sent = conn.send(campaign.from().address(), r.email(), data, campaign.messageId(r.seq()));
          } catch (RuntimeException e) {
            sent = Future.failedFuture(e);
          }
          return sent.andThen(ar -> pool.release(conn));
        }))
        .recover(e -> Future.succeededFuture(connectionFailure(e))));
  }

  private static Outcome connectionFailure(Throwable e) {
    if (e instanceof io.mailgate.message.RenderException) {
      return new Outcome.Permanent(null, e.getMessage());
    }
    if (e instanceof SmtpException se) {
      Integer code = se.reply() == null ? null : se.reply().code();
      return new Outcome.Temporary(code, se.getMessage(), null, se.afterData(),
          se.authentication() ? Outcome.Fault.CREDENTIALS : Outcome.Fault.BACKEND);
    }
    return new Outcome.Temporary(null, String.valueOf(e.getMessage()), Outcome.Fault.BACKEND);
  }

  @Override
  public Future<Void> close() {
    return pool.close();
  }

  @Override
  public String endpoint() {
    return settings.host() + ":" + settings.port();
  }
}
