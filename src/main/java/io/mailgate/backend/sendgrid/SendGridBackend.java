package io.mailgate.backend.sendgrid;

import io.mailgate.backend.Delivery;
import io.mailgate.backend.MailBackend;
import io.mailgate.backend.Outcome;
import io.mailgate.backend.http.BatchRunner;
import io.mailgate.backend.http.CallGate;
import io.mailgate.backend.http.HttpCalls;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpResponse;
import io.vertx.ext.web.client.WebClient;
import java.util.ArrayList;
import java.util.List;

/**
 * SendGrid's v3 Mail Send API: requests of up to {@code maxRecipientsPerCall} personalizations with substitutions
 * (one request per recipient when the templates need the gateway's rendering), at most {@code maxConcurrentCalls}
 * in flight and {@code ratePerSecond} messages per second.
 */
final class SendGridBackend implements MailBackend {

  private final SendGridSettings settings;
  private final WebClient client;
  private final CallGate gate;

  SendGridBackend(Vertx vertx, SendGridSettings settings) {
    this.settings = settings;
    this.client = HttpCalls.client(vertx, settings.limits(), "mailgate");
    this.gate = new CallGate(vertx.getOrCreateContext(), settings.limits());
  }

  @Override
  public Future<Void> deliver(Delivery delivery) {
    SendGridRequests req;
    try {
      req = SendGridRequests.of(delivery.campaign());
    } catch (RuntimeException e) {
      return Future.failedFuture(e);
    }
    int perCall = req.batchable() ? settings.limits().maxRecipientsPerCall() : 1;
    return BatchRunner.run(delivery, gate, perCall, batch -> call(req.batchable() ? req.batch(batch) : req.single(batch.get(0))));
  }

  private Future<Outcome> call(JsonObject body) {
    Future<HttpResponse<Buffer>> response = client.postAbs(settings.sendUrl())
        .bearerTokenAuthentication(settings.apiKey())
        .putHeader("Content-Type", "application/json")
        .putHeader("Accept", "application/json")
        .idleTimeout(settings.limits().requestTimeout().toMillis())
        .sendBuffer(body.toBuffer());
    return HttpCalls.outcome(response, SendGridBackend::accepted, SendGridBackend::errorText);
  }

  /** 202 with the request's id in X-Message-Id: every personalization of the request is sent. */
  private static Outcome accepted(HttpResponse<Buffer> r) {
    String id = r.getHeader("X-Message-Id");
    if (id == null || id.isBlank()) {
      return HttpCalls.unreadableAcceptance(r, "an X-Message-Id");
    }
    return new Outcome.Sent(id.trim(), r.statusCode(), "accepted");
  }

  /** SendGrid's errors are {"errors": [{"message", "field", "help"}]}: their messages, with the field if any. */
  static String errorText(String body) {
    try {
      if (body.trim().startsWith("{")) {
        JsonArray errors = new JsonObject(body).getJsonArray("errors");
        if (errors != null && !errors.isEmpty()) {
          List<String> out = new ArrayList<>();
          for (Object o : errors) {
            if (o instanceof JsonObject e && e.getValue("message") instanceof String m) {
              out.add(e.getValue("field") instanceof String f && !f.isBlank() ? f + ": " + m : m);
            }
          }
          if (!out.isEmpty()) {
            return String.join("; ", out);
          }
        }
      }
    } catch (DecodeException | ClassCastException e) {
      // not SendGrid's error shape: keep the body as it is
    }
    return body;
  }

  @Override
  public Future<Void> close() {
    client.close();
    return Future.succeededFuture();
  }

  @Override
  public String endpoint() {
    return io.mailgate.backend.http.HttpCalls.authority(settings.sendUrl());
  }
}
