package io.mailgate.backend.mailgun;

import io.mailgate.backend.Outcome;
import io.mailgate.backend.http.HttpCalls;
import io.mailgate.backend.http.HttpOutcomes;
import io.mailgate.backend.http.Provider;
import io.mailgate.message.Campaign;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpResponse;
import io.vertx.ext.web.client.WebClient;
import java.util.List;

/**
 * Mailgun's part of a provider backend: {@code POST /v3/{domain}/messages} with the form of {@link MailgunRequests}
 * (a batch with recipient variables, or one recipient rendered by the gateway), with the job's files as
 * {@code attachment} and {@code inline} parts of a multipart form; a call is accepted for all its recipients or none.
 */
final class MailgunProvider implements Provider {

  private final MailgunSettings settings;
  private final WebClient client;

  MailgunProvider(Vertx vertx, MailgunSettings settings) {
    this.settings = settings;
    this.client = HttpCalls.client(vertx, settings.limits(), "mailgate");
  }

  /**
   * A shared or MIME job goes out as the gateway composed (and signed) it, through {@code messages.mime}: the
   * message's own To and Cc, the call's {@code to} the envelope, so every recipient gets the same bytes. One recipient
   * per call: Mailgun's webhooks name the recipient by the call's {@code v:mailgate-recipient} (its seq), which a call
   * of several would need recipient-variables for, and those substitute inside the message.
   */
  @Override
  public Future<Job> prepare(io.mailgate.backend.Delivery delivery) {
    Campaign campaign = delivery.campaign();
    if (!campaign.oneMessage()) {
      return prepare(campaign);
    }
    return Future.succeededFuture(new Job(1, batch -> delivery.message(batch.get(0))
        .compose(m -> mime(MailgunRequests.mime(campaign, batch), m))));
  }

  private Future<Answer> mime(List<MailgunRequests.Field> fields, io.mailgate.message.ComposedMessage message) {
    String boundary = "mailgate-" + java.util.UUID.randomUUID();
    Buffer body = MailgunRequests.multipart(boundary, fields, message);
    Future<HttpResponse<Buffer>> response = client.postAbs(settings.mimeUrl())
        .basicAuthentication("api", settings.apiKey())
        .putHeader("Content-Type", "multipart/form-data; boundary=" + boundary)
        .putHeader("Accept", "application/json")
        .idleTimeout(settings.limits().requestTimeout().toMillis())
        .sendBuffer(body);
    return HttpCalls.outcome(response, MailgunProvider::accepted, MailgunProvider::errorText).map(Answer::forCall);
  }

  @Override
  public Future<Job> prepare(Campaign campaign) {
    MailgunRequests req = MailgunRequests.of(campaign);
    if (req.batchable()) {
      return Future.succeededFuture(new Job(settings.limits().maxRecipientsPerCall(), batch -> call(req.batch(batch), campaign.attachments())));
    }
    return Future.succeededFuture(new Job(1, batch -> call(req.single(batch.get(0)), campaign.attachments())));
  }

  /** Recipient variables are keyed by address. */
  @Override
  public boolean distinctAddressesPerCall() {
    return true;
  }

  /** A call of the form; a job with files sends it as multipart/form-data with them, else url-encoded. */
  private Future<Answer> call(List<MailgunRequests.Field> form, List<io.mailgate.message.Attachment> files) {
    String boundary = "mailgate-" + java.util.UUID.randomUUID();
    Buffer body = files.isEmpty() ? MailgunRequests.encode(form) : MailgunRequests.multipart(boundary, form, files);
    Future<HttpResponse<Buffer>> response = client.postAbs(settings.messagesUrl())
        .basicAuthentication("api", settings.apiKey())
        .putHeader("Content-Type", files.isEmpty() ? "application/x-www-form-urlencoded; charset=utf-8"
            : "multipart/form-data; boundary=" + boundary)
        .putHeader("Accept", "application/json")
        .idleTimeout(settings.limits().requestTimeout().toMillis())
        .sendBuffer(body);
    return HttpCalls.outcome(response, MailgunProvider::accepted, MailgunProvider::errorText).map(Answer::forCall);
  }

  /** 200 {"id": "<...@domain>", "message": "Queued. Thank you."}: every recipient of the call is sent. */
  private static Outcome accepted(HttpResponse<Buffer> r) {
    JsonObject json = json(r.bodyAsString());
    String id = json == null ? null : json.getValue("id") instanceof String s && !s.isBlank() ? s : null;
    if (id == null) {
      return HttpCalls.unreadableAcceptance(r, "a message id");
    }
    String message = json.getValue("message") instanceof String m ? HttpOutcomes.shorten(m) : "queued";
    return new Outcome.Sent(id, r.statusCode(), message);
  }

  /** Mailgun's errors are {"message": "..."} (or plain text, e.g. "Forbidden"). */
  private static String errorText(String body) {
    JsonObject json = json(body);
    if (json != null && json.getValue("message") instanceof String m) {
      return m;
    }
    return body;
  }

  private static JsonObject json(String body) {
    if (body == null || !body.trim().startsWith("{")) {
      return null;
    }
    try {
      return new JsonObject(body);
    } catch (DecodeException e) {
      return null;
    }
  }

  @Override
  public Future<Void> close() {
    client.close();
    return Future.succeededFuture();
  }

  @Override
  public String endpoint() {
    return HttpCalls.authority(settings.messagesUrl());
  }
}
