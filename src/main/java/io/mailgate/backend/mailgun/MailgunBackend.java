package io.mailgate.backend.mailgun;

import io.mailgate.backend.Delivery;
import io.mailgate.backend.MailBackend;
import io.mailgate.backend.Outcome;
import io.mailgate.backend.http.BatchRunner;
import io.mailgate.backend.http.CallGate;
import io.mailgate.backend.http.HttpCalls;
import io.mailgate.backend.http.HttpOutcomes;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpResponse;
import io.vertx.ext.web.client.WebClient;
import java.util.List;

/**
 * Mailgun's HTTP API: batch calls of up to {@code maxRecipientsPerCall} recipients with recipient variables
 * (one call per recipient when the templates need the gateway's rendering), at most {@code maxConcurrentCalls}
 * in flight and {@code ratePerSecond} messages per second.
 */
final class MailgunBackend implements MailBackend {

  private final MailgunSettings settings;
  private final WebClient client;
  private final CallGate gate;

  MailgunBackend(Vertx vertx, MailgunSettings settings) {
    this.settings = settings;
    this.client = HttpCalls.client(vertx, settings.limits(), "mailgate");
    this.gate = new CallGate(vertx.getOrCreateContext(), settings.limits());
  }

  @Override
  public Future<Void> deliver(Delivery delivery) {
    MailgunRequests req;
    try {
      req = MailgunRequests.of(delivery.campaign());
    } catch (RuntimeException e) {
      return Future.failedFuture(e);
    }
    int perCall = req.batchable() ? settings.limits().maxRecipientsPerCall() : 1;
    return BatchRunner.run(delivery, gate, perCall, batch -> call(req.batchable() ? req.batch(batch) : req.single(batch.get(0))));
  }

  private Future<Outcome> call(List<MailgunRequests.Field> form) {
    Buffer body = MailgunRequests.encode(form);
    Future<HttpResponse<Buffer>> response = client.postAbs(settings.messagesUrl())
        .basicAuthentication("api", settings.apiKey())
        .putHeader("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
        .putHeader("Accept", "application/json")
        .idleTimeout(settings.limits().requestTimeout().toMillis())
        .sendBuffer(body);
    return HttpCalls.outcome(response, MailgunBackend::accepted, MailgunBackend::errorText);
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
    return io.mailgate.backend.http.HttpCalls.authority(settings.messagesUrl());
  }
}
