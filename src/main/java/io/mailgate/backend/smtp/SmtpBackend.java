package io.mailgate.backend.smtp;

import io.mailgate.backend.Delivery;
import io.mailgate.backend.MailBackend;
import io.mailgate.backend.Outcome;
import io.mailgate.backend.PerRecipientSender;
import io.mailgate.backend.OutboundRecipient;
import io.mailgate.backend.RateLimiter;
import io.mailgate.backend.http.BatchRunner;
import io.mailgate.backend.http.CallGate;
import io.mailgate.backend.http.Provider;
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
  private final CallGate gate;

  SmtpBackend(Vertx vertx, SmtpSettings settings) {
    this.settings = settings;
    this.pool = new SmtpPool(vertx, settings);
    this.rate = new RateLimiter(vertx.getOrCreateContext(), settings.ratePerSecond());
    // transactions in flight for shared messages; their rate is the rate limiter's, shared with the others
    this.gate = new CallGate(vertx.getOrCreateContext(), settings.maxConnections(), 0);
  }

  @Override
  public Future<Void> deliver(Delivery delivery) {
    Campaign campaign = delivery.campaign();
    if (campaign.oneMessage() && settings.maxRecipientsPerMessage() > 1) {
      return shared(delivery);
    }
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

  /**
   * A shared or MIME job: its one message in a transaction per group of up to {@code maxRecipientsPerMessage}
   * recipients (several RCPT TO, one DATA), at most {@code maxConnections} transactions in flight; each recipient
   * gets its own outcome (its RCPT reply, or the reply to the message). Batched like a provider's calls.
   */
  private Future<Void> shared(Delivery delivery) {
    Campaign campaign = delivery.campaign();
    return BatchRunner.run(delivery, gate, new Provider.Job(settings.maxRecipientsPerMessage(), batch -> rate.acquire(batch.size())
        .compose(v -> delivery.message(batch.get(0)))
        .compose(msg -> pool.acquire(delivery.highPriority()).compose(conn -> {
          Future<java.util.List<Outcome>> sent;
          try {
            sent = conn.sendMany(campaign.from().address(), batch.stream().map(OutboundRecipient::email).toList(),
                SmtpData.encode(msg), campaign.messageId(batch.get(0).seq()));
          } catch (RuntimeException e) {
            sent = Future.failedFuture(e);
          }
          return sent.andThen(ar -> pool.release(conn));
        }))
        .map(Provider.Answer::perRecipient)
        .recover(e -> Future.succeededFuture(Provider.Answer.forCall(connectionFailure(e))))), true);
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
