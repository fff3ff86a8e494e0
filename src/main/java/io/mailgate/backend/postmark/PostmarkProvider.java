package io.mailgate.backend.postmark;

import io.mailgate.backend.OutboundRecipient;
import io.mailgate.backend.Outcome;
import io.mailgate.backend.http.HttpCalls;
import io.mailgate.backend.http.Provider;
import io.mailgate.message.Campaign;
import io.mailgate.message.RenderedParts;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.WebClient;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * Postmark's part of a provider backend: {@code POST /email/batch} with up to {@code maxMessagesPerCall} messages
 * (Postmark takes 500), each rendered for its recipient by the gateway. One result per message comes back;
 * {@link PostmarkAnswers} maps them.
 */
final class PostmarkProvider implements Provider {

  private final PostmarkSettings settings;
  private final WebClient client;
  private final String url;
  private final Vertx vertx;

  PostmarkProvider(Vertx vertx, PostmarkSettings settings) {
    this.vertx = vertx;
    this.settings = settings;
    this.client = HttpCalls.client(vertx, settings.limits(), "mailgate");
    this.url = settings.baseUrl() + "/email/batch";
  }

  /**
   * Every message of a batch carries the job's files (base64, encoded once for the job, off the event loop): a job
   * with files sends as many messages per call as {@code maxRequestSize} takes with them, at least one.
   */
  @Override
  public Future<Job> prepare(Campaign campaign) {
    if (campaign.attachments().isEmpty()) {
      return Future.succeededFuture(new Job(settings.limits().maxRecipientsPerCall(), batch -> send(campaign, batch)));
    }
    return vertx.executeBlocking(() -> {
      long bytes = 4096;
      for (io.mailgate.message.Attachment a : campaign.attachments()) {
        bytes += a.base64().length() + a.filename().length() * 6L + 256;
      }
      int perCall = (int) Math.max(1, Math.min(settings.limits().maxRecipientsPerCall(), settings.maxRequestBytes() / bytes));
      return new Job(perCall, batch -> send(campaign, batch));
    }, false);
  }

  /**
   * Renders the batch and sends it in as few requests as {@code maxRequestSize} allows (normally one, whose answer
   * is the batch's); a message that cannot be rendered fails on its own.
   */
  private Future<Answer> send(Campaign campaign, List<OutboundRecipient> batch) {
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
    if (messages.size() == batch.size() && fits(messages, 0) == messages.size()) {
      return call(body(messages, 0, messages.size()), messages.size());
    }
    return sendFrom(messages, positions, 0, out).map(v -> Answer.perRecipient(Arrays.asList(out)));
  }

  /** Where the request from {@code from} ends: as many messages as {@code maxRequestSize} takes, at least one. */
  private int fits(List<Buffer> messages, int from) {
    long max = settings.maxRequestBytes();
    int end = from;
    long bytes = 2;
    while (end < messages.size() && (end == from || bytes + messages.get(end).length() + 1 <= max)) {
      bytes += messages.get(end).length() + 1;
      end++;
    }
    return end;
  }

  /** A JSON array of {@code messages[from, end)}. */
  private static Buffer body(List<Buffer> messages, int from, int end) {
    long bytes = 2;
    for (int i = from; i < end; i++) {
      bytes += messages.get(i).length() + 1;
    }
    Buffer body = Buffer.buffer((int) Math.min(Integer.MAX_VALUE, bytes)).appendByte((byte) '[');
    for (int i = from; i < end; i++) {
      if (i > from) {
        body.appendByte((byte) ',');
      }
      body.appendBuffer(messages.get(i));
    }
    return body.appendByte((byte) ']');
  }

  /** Sends {@code messages[from...]} in requests of at most {@code maxRequestSize} bytes, one after the other. */
  private Future<Void> sendFrom(List<Buffer> messages, List<Integer> positions, int from, Outcome[] out) {
    if (from >= messages.size()) {
      return Future.succeededFuture();
    }
    int end = fits(messages, from);
    int n = end - from;
    return call(body(messages, from, end), n).compose(answer -> {
      for (int i = 0; i < n; i++) {
        out[positions.get(from + i)] = answer.of(i);
      }
      return sendFrom(messages, positions, end, out);
    });
  }

  private Future<Answer> call(Buffer body, int n) {
    return client.postAbs(url)
        .putHeader("X-Postmark-Server-Token", settings.serverToken())
        .putHeader("Accept", "application/json")
        .putHeader("Content-Type", "application/json")
        .timeout(settings.limits().requestTimeout().toMillis())
        .sendBuffer(body)
        .map(resp -> PostmarkAnswers.answer(resp.statusCode(), resp.bodyAsString(), resp.getHeader("Retry-After"), n))
        .recover(e -> Future.succeededFuture(Answer.forCall(PostmarkAnswers.networkFailure(e))));
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
    if (!c.attachments().isEmpty()) {
      JsonArray files = new JsonArray();
      for (io.mailgate.message.Attachment a : c.attachments()) {
        JsonObject f = new JsonObject().put("Name", a.filename()).put("Content", a.base64()).put("ContentType", a.contentType());
        if (a.inline()) {
          f.put("ContentID", "cid:" + a.contentId());
        }
        files.add(f);
      }
      m.put("Attachments", files);
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
  public String cannotSendOneMessage() {
    return PostmarkBackendType.ONE_MESSAGE;
  }

  /** Internationalised addresses: see README "Unicode addresses" for what its documentation says. */
  @Override
  public String asciiAddressesOnly() {
    return "Postmark";
  }

  @Override
  public String endpoint() {
    return HttpCalls.authority(url);
  }
}
