package io.mailgate.backend.http;

import io.mailgate.backend.OutboundRecipient;
import io.mailgate.backend.Outcome;
import io.mailgate.message.Campaign;
import io.vertx.core.Future;
import java.util.List;

/**
 * The provider-specific part of a provider backend (Mailgun, SendGrid, Postmark, SES), as small as listmonk's
 * {@code Messenger}: how one call for a batch of recipients is built and sent, and what the provider's answer means
 * for each of them. Everything else (batching, calls in flight, rate, Retry-After, backpressure) is the one engine's,
 * {@link ProviderBackend} with {@link BatchRunner}.
 */
public interface Provider {

  /** One call for a batch of consecutive recipients, at most the job's {@link Job#recipientsPerCall()}. */
  interface Call {
    /** A failed future (or a thrown exception) defers the whole call as the backend's fault. */
    Future<Answer> send(List<OutboundRecipient> batch);
  }

  /** A job as this provider sends it: recipients per call (1 when the gateway renders each message) and the call. */
  record Job(int recipientsPerCall, Call call) {}

  /**
   * What a provider answered to one call: one outcome for the whole call (accepted or refused as a whole), or one
   * per recipient in the order sent (Postmark's and SES's per-message results).
   */
  record Answer(Outcome whole, List<Outcome> each) {

    /** One outcome for every recipient of the call. */
    public static Answer forCall(Outcome outcome) {
      return new Answer(outcome, null);
    }

    /** One outcome per recipient, in the order sent. */
    public static Answer perRecipient(List<Outcome> outcomes) {
      return new Answer(null, outcomes);
    }

    /** The outcome of the {@code i}-th recipient of the call, or null if the answer has none for it. */
    public Outcome of(int i) {
      if (whole != null) {
        return whole;
      }
      return each != null && i < each.size() ? each.get(i) : null;
    }
  }

  /** Builds a job's requests once (its templates in the provider's syntax); a failure defers the whole delivery. */
  Future<Job> prepare(Campaign campaign);

  /**
   * True when one call must not carry the same address twice (the provider keys per-recipient data by address:
   * Mailgun's recipient-variables, SendGrid's personalizations).
   */
  default boolean distinctAddressesPerCall() {
    return false;
  }

  /**
   * Why this provider cannot send a shared or MIME job (one message to several recipients as it is), or null when it
   * can: such a job routed to it fails for good with the reason, nothing sent.
   */
  default String cannotSendOneMessage() {
    return null;
  }

  /**
   * The calls of a job; by default from its campaign alone. A provider that sends the gateway's composed message
   * (Mailgun's messages.mime, SES raw) reads it from the delivery.
   */
  default Future<Job> prepare(io.mailgate.backend.Delivery delivery) {
    return prepare(delivery.campaign());
  }

  /**
   * Null when the provider takes internationalised addresses as they are (Mailgun: UTF-8 in the form); else its name
   * for the failures of the addresses it cannot take: an address with a UTF-8 local part is then not sent (553 5.6.7,
   * per recipient; every recipient when the sender or a header address has one) and an IDN domain goes as A-labels.
   */
  default String asciiAddressesOnly() {
    return null;
  }

  /** "host:port" of the provider's API, for events. */
  String endpoint();

  Future<Void> close();
}
