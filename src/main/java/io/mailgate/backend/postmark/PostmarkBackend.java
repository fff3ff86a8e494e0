package io.mailgate.backend.postmark;

import io.mailgate.backend.http.BatchLoop;
import io.mailgate.backend.Delivery;
import io.mailgate.backend.MailBackend;
import io.mailgate.backend.OutboundRecipient;
import io.mailgate.backend.Outcome;
import io.mailgate.backend.RateLimiter;
import io.mailgate.message.Campaign;
import io.mailgate.message.RenderedParts;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpVersion;
import io.vertx.core.http.PoolOptions;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.WebClient;
import io.vertx.ext.web.client.WebClientOptions;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * Postmark's batch API: {@code POST /email/batch} with up to {@code maxMessagesPerCall} messages (Postmark takes
 * 500), each rendered for its recipient by the gateway, at most {@code maxConcurrentCalls} calls in flight and
 * {@code ratePerSecond} messages per second. One result per message comes back; {@link PostmarkAnswers} maps them.
 */
final class PostmarkBackend implements MailBackend {

  private final PostmarkSettings settings;
  private final Context context;
  private final WebClient client;
  private final String url;
  private final RateLimiter rate;
  private final BatchLoop.Slots slots;

  PostmarkBackend(Vertx vertx, PostmarkSettings settings) {
    this.settings = settings;
    this.context = vertx.getOrCreateContext();
    this.client = WebClient.create(vertx, new WebClientOptions()
        .setProtocolVersion(HttpVersion.HTTP_1_1)
        .setConnectTimeout((int) Math.min(Integer.MAX_VALUE, settings.connectTimeout().toMillis()))
        .setKeepAlive(true)
        .setFollowRedirects(false)
        .setUserAgent("mailgate"),
        new PoolOptions().setHttp1MaxSize(settings.maxConcurrentCalls()));
    this.url = settings.baseUrl() + "/email/batch";
    this.rate = new RateLimiter(context, settings.ratePerSecond());
    this.slots = new BatchLoop.Slots(settings.maxConcurrentCalls());
  }

  @Override
  public Future<Void> deliver(Delivery delivery) {
    Campaign campaign = delivery.campaign();
    return BatchLoop.run(delivery, context, slots, rate, settings.maxMessagesPerCall(), settings.maxConcurrentCalls(),
        batch -> send(campaign, batch));
  }

  /** Renders the batch and sends it in as few calls as {@code maxRequestSize} allows (normally one). */
  private Future<List<Outcome>> send(Campaign campaign, List<OutboundRecipient> batch) {
    Outcome[] out = new Outcome[batch.size()];
    List<Integer> positions = new ArrayList<>(batch.size());
    List<Buffer> messages = new ArrayList<>(batch.size());
    for (int i = 0; i < batch.size(); i++) {
      try {
        messages.add(message(campaign, batch.get(i)).toBuffer());
        positions.add(i);
      } catch (RuntimeException e) {
        out[i] = new Outcome.Permanent(null, "cannot render the message: " + e.getMessage());
      }
    }
    return sendFrom(messages, positions, 0, out).map(v -> Arrays.asList(out));
  }

  /** Sends {@code messages[from...]} in calls of at most {@code maxRequestSize} bytes, one after the other. */
  private Future<Void> sendFrom(List<Buffer> messages, List<Integer> positions, int from, Outcome[] out) {
    if (from >= messages.size()) {
      return Future.succeededFuture();
    }
    long max = settings.maxRequestBytes();
    int end = from;
    long bytes = 2;
    while (end < messages.size() && (end == from || bytes + messages.get(end).length() + 1 <= max)) {
      bytes += messages.get(end).length() + 1;
      end++;
    }
    Buffer body = Buffer.buffer((int) Math.min(Integer.MAX_VALUE, bytes)).appendByte((byte) '[');
    for (int i = from; i < end; i++) {
      if (i > from) {
        body.appendByte((byte) ',');
      }
      body.appendBuffer(messages.get(i));
    }
    body.appendByte((byte) ']');
    int first = from;
    int last = end;
    int n = end - from;
    return call(body, n).compose(results -> {
      for (int i = 0; i < n; i++) {
        out[positions.get(first + i)] = results.get(i);
      }
      return sendFrom(messages, positions, last, out);
    });
  }

  private Future<List<Outcome>> call(Buffer body, int n) {
    return client.postAbs(url)
        .putHeader("X-Postmark-Server-Token", settings.serverToken())
        .putHeader("Accept", "application/json")
        .putHeader("Content-Type", "application/json")
        .timeout(settings.requestTimeout().toMillis())
        .sendBuffer(body)
        .map(resp -> PostmarkAnswers.outcomes(resp.statusCode(), resp.bodyAsString(), resp.getHeader("Retry-After"), n))
        .recover(e -> Future.succeededFuture(java.util.Collections.nCopies(n, PostmarkAnswers.networkFailure(e))));
  }

  /** One message of the batch, as Postmark's email API takes it. */
  private JsonObject message(Campaign c, OutboundRecipient r) {
    RenderedParts parts = c.render(r.vars());
    JsonObject m = new JsonObject()
        .put("From", c.from().toHeader())
        .put("To", r.email().value())
        .put("Subject", parts.subject());
    if (parts.text() != null) {
      m.put("TextBody", parts.text());
    }
    if (parts.html() != null) {
      m.put("HtmlBody", parts.html());
    }
    if (c.replyTo() != null) {
      m.put("ReplyTo", c.replyTo().toHeader());
    }
    Map<String, String> own = c.recipientHeaders(r.seq());
    if (c.headers() != null && !c.headers().isEmpty() || !own.isEmpty()) {
      JsonArray headers = new JsonArray();
      for (Map.Entry<String, String> h : c.headers().entrySet()) {
        headers.add(new JsonObject().put("Name", h.getKey()).put("Value", h.getValue()));
      }
      own.forEach((name, value) -> headers.add(new JsonObject().put("Name", name).put("Value", value)));
      m.put("Headers", headers);
    }
    if (c.tags() != null && !c.tags().isEmpty()) {
      m.put("Tag", c.tags().get(0)); // Postmark takes one tag per message
    }
    m.put("Metadata", new JsonObject()
        .put("mailgate-job", c.jobId().toString())
        .put("mailgate-recipient", Integer.toString(r.seq())));
    if (settings.messageStream() != null) {
      m.put("MessageStream", settings.messageStream());
    }
    return m;
  }

  @Override
  public Future<Void> close() {
    client.close();
    return Future.succeededFuture();
  }

  @Override
  public String endpoint() {
    return io.mailgate.backend.http.HttpCalls.authority(url);
  }
}
