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
import io.mailgate.message.EmailAddress;
import java.util.ArrayList;
import java.util.List;

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
    Utf8 utf8 = Utf8.of(campaign);
    if (campaign.oneMessage() && settings.maxRecipientsPerMessage() > 1) {
      return shared(delivery, utf8);
    }
    return PerRecipientSender.run(delivery, settings.maxConnections(), r -> rate.acquire()
        .compose(v -> delivery.message(r))
        .compose(msg -> pool.acquire(delivery.highPriority()).compose(conn -> {
          Future<Outcome> sent;
          try {
            boolean smtpUtf8 = utf8.asks || r.email().utf8Local();
            Outcome refused = smtpUtf8 && !conn.offers("SMTPUTF8") ? utf8.refusal(r.email(), endpoint()) : null;
            if (refused != null) {
              sent = Future.succeededFuture(refused); // nothing of it goes on the wire: no address is mangled
            } else {
              Buffer data = SmtpData.encode(msg);
              sent = conn.send(campaign.from().address(), r.email(), data, campaign.messageId(r.seq()),
                  smtpUtf8 && conn.offers("SMTPUTF8"));
            }
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
  private Future<Void> shared(Delivery delivery, Utf8 utf8) {
    Campaign campaign = delivery.campaign();
    return BatchRunner.run(delivery, gate, new Provider.Job(settings.maxRecipientsPerMessage(), batch -> rate.acquire(batch.size())
        .compose(v -> delivery.message(batch.get(0)))
        .compose(msg -> pool.acquire(delivery.highPriority()).compose(conn -> {
          Future<java.util.List<Outcome>> sent;
          try {
            sent = sendMany(conn, campaign, utf8, batch, msg);
          } catch (RuntimeException e) {
            sent = Future.failedFuture(e);
          }
          return sent.andThen(ar -> pool.release(conn));
        }))
        .map(Provider.Answer::perRecipient)
        .recover(e -> Future.succeededFuture(Provider.Answer.forCall(connectionFailure(e))))), true);
  }

  /**
   * One transaction for a batch of a shared message. Without SMTPUTF8 on this connection, recipients with a UTF-8 local
   * part fail for good without a command sent, and the others go in ASCII (IDN domains as A-labels); all of them fail
   * when the sender or the headers need it.
   */
  private Future<List<Outcome>> sendMany(SmtpConnection conn, Campaign campaign, Utf8 utf8, List<OutboundRecipient> batch,
      io.mailgate.message.ComposedMessage msg) {
    boolean offered = conn.offers("SMTPUTF8");
    boolean wanted = utf8.asks || batch.stream().anyMatch(r -> r.email().utf8Local());
    List<Outcome> out = new ArrayList<>(java.util.Collections.nCopies(batch.size(), (Outcome) null));
    List<EmailAddress> send = new ArrayList<>(batch.size());
    List<Integer> at = new ArrayList<>(batch.size());
    for (int i = 0; i < batch.size(); i++) {
      Outcome refused = wanted && !offered ? utf8.refusal(batch.get(i).email(), endpoint()) : null;
      if (refused != null) {
        out.set(i, refused);
      } else {
        send.add(batch.get(i).email());
        at.add(i);
      }
    }
    if (send.isEmpty()) {
      return Future.succeededFuture(out);
    }
    return conn.sendMany(campaign.from().address(), send, SmtpData.encode(msg), campaign.messageId(batch.get(0).seq()),
        wanted && offered).map(sent -> {
          for (int k = 0; k < sent.size(); k++) {
            out.set(at.get(k), sent.get(k));
          }
          return out;
        });
  }

  /**
   * What a delivery's message needs of SMTPUTF8 (RFC 6531), decided once: {@code requires} when the sender (MAIL FROM
   * and From) or an address the gateway writes into the headers (Reply-To, a shared message's To and Cc) has a UTF-8
   * local part; {@code asks} also when a caller's MIME message has 8-bit headers (asked for where offered, else the
   * message goes as given, as before). A recipient with a UTF-8 local part needs it for itself.
   */
  record Utf8(boolean requires, boolean asks, String why) {

    static Utf8 of(Campaign c) {
      String why = io.mailgate.backend.Utf8Addresses.jobNeed(c);
      boolean requires = why != null;
      boolean asks = requires || c.mime() != null && c.mime().eightBitHeaders();
      return new Utf8(requires, asks, why);
    }

    /**
     * The permanent failure of a recipient on a connection without SMTPUTF8 (553 5.6.7, RFC 6531 3.7.4.2), or null
     * when it can go in ASCII.
     */
    Outcome refusal(EmailAddress rcpt, String endpoint) {
      String reason = requires ? why : rcpt.utf8Local() ? "the address has a UTF-8 local part" : null;
      return reason == null ? null
          : io.mailgate.backend.Utf8Addresses.refusal(reason, "which the SMTP server " + endpoint + " does not offer");
    }
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
