package io.mailgate.backend.ses;

import io.mailgate.backend.BackendSpec;
import io.mailgate.backend.OutboundRecipient;
import io.mailgate.backend.Outcome;
import io.mailgate.backend.http.CallLimits;
import io.mailgate.backend.http.HttpCalls;
import io.mailgate.backend.http.Provider;
import io.mailgate.message.Campaign;
import io.mailgate.message.RenderedParts;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.WorkerExecutor;
import java.net.URI;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.awscore.retry.AwsRetryStrategy;
import software.amazon.awssdk.http.urlconnection.UrlConnectionHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.sesv2.SesV2Client;
import software.amazon.awssdk.services.sesv2.SesV2ClientBuilder;
import software.amazon.awssdk.services.sesv2.model.Body;
import software.amazon.awssdk.services.sesv2.model.BulkEmailContent;
import software.amazon.awssdk.services.sesv2.model.BulkEmailEntry;
import software.amazon.awssdk.services.sesv2.model.BulkEmailEntryResult;
import software.amazon.awssdk.services.sesv2.model.Content;
import software.amazon.awssdk.services.sesv2.model.Destination;
import software.amazon.awssdk.services.sesv2.model.EmailContent;
import software.amazon.awssdk.services.sesv2.model.EmailTemplateContent;
import software.amazon.awssdk.services.sesv2.model.Message;
import software.amazon.awssdk.services.sesv2.model.MessageHeader;
import software.amazon.awssdk.services.sesv2.model.MessageTag;
import software.amazon.awssdk.services.sesv2.model.ReplacementEmailContent;
import software.amazon.awssdk.services.sesv2.model.ReplacementTemplate;
import software.amazon.awssdk.services.sesv2.model.SendBulkEmailRequest;
import software.amazon.awssdk.services.sesv2.model.SendBulkEmailResponse;
import software.amazon.awssdk.services.sesv2.model.SendEmailRequest;
import software.amazon.awssdk.services.sesv2.model.Template;

/**
 * Amazon SES v2's part of a provider backend, through the AWS SDK (SigV4 signing, request shapes). Templates with
 * plain variables go out with SendBulkEmail, up to {@code maxEntriesPerCall} (SES takes 50) recipients per call with
 * one inline template ({@link SesTemplate}); other templates with SendEmail, one message per recipient rendered by
 * the gateway. The SDK client is synchronous, so its calls run on this backend's own worker pool of
 * {@code maxConcurrentCalls} threads, never on an event loop; the SDK's own retries are off (the dispatcher retries,
 * honouring the outcome's fault).
 */
final class SesProvider implements Provider {

  private static final AtomicLong INSTANCES = new AtomicLong();
  private static final String CHARSET = "UTF-8";
  private static final String TAG_VALUE = "[A-Za-z0-9_-]{1,256}";

  private final SesSettings settings;
  private final WorkerExecutor workers;
  private final Future<SesV2Client> client;

  SesProvider(Vertx vertx, BackendSpec spec, SesSettings settings) {
    this.settings = settings;
    CallLimits limits = settings.limits();
    long maxExecute = limits.requestTimeout().plus(limits.connectTimeout()).toMillis() + 5_000;
    this.workers = vertx.createSharedWorkerExecutor("mailgate-ses-" + spec.name() + "-v" + spec.version() + "-"
        + INSTANCES.incrementAndGet(), limits.maxConcurrentCalls(), maxExecute, TimeUnit.MILLISECONDS);
    // building an SDK client loads and initialises a good many classes: off the event loop too
    this.client = workers.executeBlocking(() -> build(settings), false);
  }

  static SesV2Client build(SesSettings settings) {
    CallLimits s = settings.limits();
    SesV2ClientBuilder b = SesV2Client.builder()
        .httpClientBuilder(UrlConnectionHttpClient.builder()
            .connectionTimeout(s.connectTimeout())
            .socketTimeout(s.requestTimeout()))
        .credentialsProvider(StaticCredentialsProvider.create(
            AwsBasicCredentials.create(settings.accessKeyId(), settings.secretAccessKey())))
        .region(Region.of(settings.awsRegion()))
        .overrideConfiguration(o -> o
            .retryStrategy(AwsRetryStrategy.doNotRetry())
            .apiCallTimeout(s.requestTimeout().plus(s.connectTimeout())));
    if (settings.endpoint() != null) {
      b.endpointOverride(URI.create(settings.endpoint()));
    }
    return b.build();
  }

  /**
   * A shared or MIME job: SendEmail with the gateway's composed (and signed) message as raw content, one recipient
   * per call as its Destination (the envelope), so every recipient gets the same message with its own To and Cc. A
   * job with files goes the same way, each recipient's own composed message (its attachments in it) as raw content:
   * SendEmail's simple content and SendBulkEmail's templates carry no files.
   */
  @Override
  public Future<Job> prepare(io.mailgate.backend.Delivery delivery) {
    Campaign campaign = delivery.campaign();
    if (!campaign.oneMessage() && campaign.attachments().isEmpty()) {
      return prepare(campaign);
    }
    return client.transform(ar -> ar.failed()
        ? Future.failedFuture(new IllegalStateException("the SES client cannot be set up: " + ar.cause().getMessage(), ar.cause()))
        : Future.succeededFuture(new Job(1, batch -> delivery.message(batch.get(0))
            .compose(m -> raw(ar.result(), campaign, batch.get(0), m)).map(Answer::forCall))));
  }

  private Future<Outcome> raw(SesV2Client ses, Campaign c, OutboundRecipient r, io.mailgate.message.ComposedMessage m) {
    List<MessageTag> tags = new ArrayList<>(jobTags(c));
    tags.add(recipientTag(r));
    SendEmailRequest.Builder req = SendEmailRequest.builder()
        .fromEmailAddress(c.from().toHeader())
        .destination(Destination.builder().toAddresses(r.email().value()).build())
        .content(EmailContent.builder().raw(software.amazon.awssdk.services.sesv2.model.RawMessage.builder()
            .data(software.amazon.awssdk.core.SdkBytes.fromByteArray(m.toBytes())).build()).build())
        .emailTags(tags);
    if (settings.configurationSetName() != null) {
      req.configurationSetName(settings.configurationSetName());
    }
    SendEmailRequest request = req.build();
    return workers.executeBlocking(() -> ses.sendEmail(request), false)
        .<Outcome>map(resp -> new Outcome.Sent(resp.messageId(), 200, "accepted by SES"))
        .recover(e -> Future.succeededFuture(SesOutcomes.forException(e)));
  }

  /** A client that cannot be set up fails the delivery: the dispatcher defers its recipients with the reason. */
  @Override
  public Future<Job> prepare(Campaign campaign) {
    return client.transform(ar -> {
      if (ar.failed()) {
        return Future.failedFuture(
            new IllegalStateException("the SES client cannot be set up: " + ar.cause().getMessage(), ar.cause()));
      }
      SesV2Client ses = ar.result();
      return Future.succeededFuture(campaign.batchForm().map(SesTemplate::of)
          .map(t -> new Job(settings.limits().maxRecipientsPerCall(), batch -> bulk(ses, campaign, t, batch)))
          .orElseGet(() -> new Job(1, batch -> single(ses, campaign, batch.get(0)).map(Answer::forCall))));
    });
  }

  /** One SendBulkEmail call: one inline template, one entry per recipient with its replacement data. */
  private Future<Answer> bulk(SesV2Client ses, Campaign c, SesTemplate t, List<OutboundRecipient> batch) {
    List<BulkEmailEntry> entries = new ArrayList<>(batch.size());
    for (OutboundRecipient r : batch) {
      BulkEmailEntry.Builder entry = BulkEmailEntry.builder()
          .destination(Destination.builder().toAddresses(r.email().value()).build())
          .replacementTags(recipientTag(r))
          .replacementEmailContent(ReplacementEmailContent.builder()
              .replacementTemplate(ReplacementTemplate.builder().replacementTemplateData(t.data(r.vars())).build())
              .build());
      List<MessageHeader> own = headers(c.recipientHeaders(r.seq()));
      if (!own.isEmpty()) {
        entry.replacementHeaders(own); // List-Unsubscribe: each entry its own link
      }
      entries.add(entry.build());
    }
    Template.Builder template = Template.builder()
        .templateContent(EmailTemplateContent.builder().subject(t.subject()).text(t.text()).html(t.html()).build())
        .templateData(t.defaultData());
    List<MessageHeader> headers = headers(c);
    if (!headers.isEmpty()) {
      template.headers(headers);
    }
    SendBulkEmailRequest.Builder req = SendBulkEmailRequest.builder()
        .fromEmailAddress(c.from().toHeader())
        .defaultEmailTags(jobTags(c))
        .defaultContent(BulkEmailContent.builder().template(template.build()).build())
        .bulkEmailEntries(entries);
    if (c.replyTo() != null) {
      req.replyToAddresses(c.replyTo().toHeader());
    }
    if (settings.configurationSetName() != null) {
      req.configurationSetName(settings.configurationSetName());
    }
    SendBulkEmailRequest request = req.build();
    int n = batch.size();
    return workers.<SendBulkEmailResponse>executeBlocking(() -> ses.sendBulkEmail(request), false)
        .map(resp -> {
          List<BulkEmailEntryResult> results = resp.hasBulkEmailEntryResults() ? resp.bulkEmailEntryResults() : List.of();
          List<Outcome> out = new ArrayList<>(n);
          for (int i = 0; i < n; i++) {
            out.add(i < results.size() ? SesOutcomes.forEntry(results.get(i)) : SesOutcomes.missingEntry(results.size(), n));
          }
          return Answer.perRecipient(out);
        })
        .recover(e -> Future.succeededFuture(Answer.forCall(SesOutcomes.forException(e))));
  }

  /** One SendEmail call with the message rendered by the gateway, for templates SES cannot substitute. */
  private Future<Outcome> single(SesV2Client ses, Campaign c, OutboundRecipient r) {
    RenderedParts parts;
    try {
      parts = c.render(r.vars());
    } catch (RuntimeException e) {
      return Future.succeededFuture(new Outcome.Permanent(null, "cannot render the message: " + e.getMessage()));
    }
    Body.Builder body = Body.builder();
    if (parts.text() != null) {
      body.text(content(parts.text()));
    }
    if (parts.html() != null) {
      body.html(content(parts.html()));
    }
    Message.Builder message = Message.builder().subject(content(parts.subject())).body(body.build());
    List<MessageHeader> headers = headers(c);
    headers.addAll(headers(c.recipientHeaders(r.seq())));
    if (!headers.isEmpty()) {
      message.headers(headers);
    }
    List<MessageTag> tags = new ArrayList<>(jobTags(c));
    tags.add(recipientTag(r));
    SendEmailRequest.Builder req = SendEmailRequest.builder()
        .fromEmailAddress(c.from().toHeader())
        .destination(Destination.builder().toAddresses(r.email().value()).build())
        .content(EmailContent.builder().simple(message.build()).build())
        .emailTags(tags);
    if (c.replyTo() != null) {
      req.replyToAddresses(c.replyTo().toHeader());
    }
    if (settings.configurationSetName() != null) {
      req.configurationSetName(settings.configurationSetName());
    }
    SendEmailRequest request = req.build();
    return workers.executeBlocking(() -> ses.sendEmail(request), false)
        .<Outcome>map(resp -> new Outcome.Sent(resp.messageId(), 200, "accepted by SES"))
        .recover(e -> Future.succeededFuture(SesOutcomes.forException(e)));
  }

  private static Content content(String data) {
    return Content.builder().data(data).charset(CHARSET).build();
  }

  private static List<MessageHeader> headers(Campaign c) {
    return c.headers() == null ? new ArrayList<>() : headers(c.headers());
  }

  private static List<MessageHeader> headers(Map<String, String> headers) {
    List<MessageHeader> out = new ArrayList<>();
    for (Map.Entry<String, String> h : headers.entrySet()) {
      out.add(MessageHeader.builder().name(h.getKey()).value(h.getValue()).build());
    }
    return out;
  }

  /**
   * Message tags (for SES event publishing): {@code mailgate-job} and, when the job's first tag fits SES's tag
   * syntax (letters, digits, '-' and '_'), {@code mailgate-tag}.
   */
  private static List<MessageTag> jobTags(Campaign c) {
    List<MessageTag> tags = new ArrayList<>(2);
    tags.add(MessageTag.builder().name("mailgate-job").value(c.jobId().toString()).build());
    if (c.tags() != null && !c.tags().isEmpty() && c.tags().get(0).matches(TAG_VALUE)) {
      tags.add(MessageTag.builder().name("mailgate-tag").value(c.tags().get(0)).build());
    }
    return tags;
  }

  private static MessageTag recipientTag(OutboundRecipient r) {
    return MessageTag.builder().name("mailgate-recipient").value(Integer.toString(r.seq())).build();
  }

  @Override
  public Future<Void> close() {
    return client
        .compose(c -> workers.executeBlocking(() -> {
          c.close();
          return null;
        }, false))
        .otherwiseEmpty()
        .eventually(() -> workers.close())
        .mapEmpty();
  }

  /** Internationalised addresses: see README "Unicode addresses" for what its documentation says. */
  @Override
  public String asciiAddressesOnly() {
    return "Amazon SES";
  }

  @Override
  public String endpoint() {
    return settings.endpoint() != null ? HttpCalls.authority(settings.endpoint())
        : "email." + settings.awsRegion() + ".amazonaws.com:443";
  }
}
