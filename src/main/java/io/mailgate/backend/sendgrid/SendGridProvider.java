package io.mailgate.backend.sendgrid;

import io.mailgate.backend.Outcome;
import io.mailgate.backend.http.HttpCalls;
import io.mailgate.backend.http.Provider;
import io.mailgate.message.Campaign;
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
 * SendGrid's part of a provider backend: {@code POST /v3/mail/send} with the JSON of {@link SendGridRequests} (one
 * personalization per recipient with substitutions, or one recipient rendered by the gateway); a request is
 * accepted for all its personalizations or none.
 */
final class SendGridProvider implements Provider {

  private final SendGridSettings settings;
  private final WebClient client;
  private final Vertx vertx;

  SendGridProvider(Vertx vertx, SendGridSettings settings) {
    this.vertx = vertx;
    this.settings = settings;
    this.client = HttpCalls.client(vertx, settings.limits(), "mailgate");
  }

  /** A job's files are base64-encoded once, off the event loop, before its calls are built. */
  @Override
  public Future<Job> prepare(Campaign campaign) {
    if (campaign.attachments().isEmpty()) {
      return jobOf(campaign);
    }
    return vertx.executeBlocking(() -> {
      campaign.attachments().forEach(io.mailgate.message.Attachment::base64);
      return campaign;
    }, false).compose(this::jobOf);
  }

  private Future<Job> jobOf(Campaign campaign) {
    SendGridRequests req = SendGridRequests.of(campaign);
    if (req.batchable()) {
      return Future.succeededFuture(new Job(settings.limits().maxRecipientsPerCall(), batch -> call(req.batch(batch))));
    }
    return Future.succeededFuture(new Job(1, batch -> call(req.single(batch.get(0)))));
  }

  /** SendGrid refuses a request with the same address in two personalizations. */
  @Override
  public boolean distinctAddressesPerCall() {
    return true;
  }

  private Future<Answer> call(JsonObject body) {
    Future<HttpResponse<Buffer>> response = client.postAbs(settings.sendUrl())
        .bearerTokenAuthentication(settings.apiKey())
        .putHeader("Content-Type", "application/json")
        .putHeader("Accept", "application/json")
        .idleTimeout(settings.limits().requestTimeout().toMillis())
        .sendBuffer(body.toBuffer());
    return HttpCalls.outcome(response, SendGridProvider::accepted, SendGridProvider::errorText).map(Answer::forCall);
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
  public String cannotSendOneMessage() {
    return SendGridBackendType.ONE_MESSAGE;
  }

  /** Internationalised addresses: see README "Unicode addresses" for what its documentation says. */
  @Override
  public String asciiAddressesOnly() {
    return "SendGrid";
  }

  @Override
  public String endpoint() {
    return HttpCalls.authority(settings.sendUrl());
  }
}
