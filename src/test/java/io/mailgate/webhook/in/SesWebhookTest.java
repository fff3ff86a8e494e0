package io.mailgate.webhook.in;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mailgate.support.Api.TenantKey;
import io.mailgate.support.TestJobs;
import io.mailgate.support.sim.SesSimulator;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * {@code POST /hooks/ses/{backendId}}: mail sent through the gateway to {@link SesSimulator}, then SES events published
 * through SNS for it (with the message tags our backend set), signed by a loopback stand-in for SNS
 * ({@link SnsEndpoint}) whose host and scheme the backend's settings allow.
 */
@Timeout(value = 4, unit = TimeUnit.MINUTES)
class SesWebhookTest extends HookTests {

  static final String KEY_ID = "AKIAIOSFODNN7EXAMPLE";
  static final String SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
  static final String REGION = "eu-west-1";
  static final String TOPIC = "arn:aws:sns:eu-west-1:123456789012:ses-events";

  static SesSimulator ses;
  static SnsEndpoint sns;
  static TenantKey tenant;
  static String backend;
  static String job;
  static List<String> to = TestJobs.emails("ses-", 6);

  @BeforeAll
  static void start() {
    startGateway(Map.of());
    ses = SesSimulator.start(KEY_ID, SECRET, REGION);
    sns = new SnsEndpoint().start();
    backend = api.createBackend("hooks-ses", "ses", "eu", new JsonObject().put("accessKeyId", KEY_ID)
        .put("secretAccessKey", SECRET).put("awsRegion", REGION).put("endpoint", ses.endpoint())
        .put("configurationSetName", "mailgate-events").put("ratePerSecond", 0)
        .put("snsTopicArns", new JsonArray().add(TOPIC)).put("snsCertScheme", "http")
        .put("snsCertHostPattern", "127\\.0\\.0\\.1"));
    tenant = api.createTenant("hooks-ses", "eu");
    api.route(tenant, "hooks-ses");
    job = TestJobs.submit(api, tenant, to);
    api.awaitState(tenant, job, "completed", TIMEOUT);
  }

  @AfterAll
  static void stop() {
    if (sns != null) {
      sns.close();
    }
    if (ses != null) {
      ses.close();
    }
    stopGateway();
  }

  /** The tags SES reports with an event of the message to {@code email}: the request's defaults and the entry's own. */
  static JsonObject tags(SesSimulator.Delivered d) {
    JsonObject tags = new JsonObject();
    JsonObject req = d.request();
    JsonArray all = new JsonArray();
    if (req.getJsonArray("DefaultEmailTags") != null) {
      all.addAll(req.getJsonArray("DefaultEmailTags"));
    }
    if (req.getJsonArray("EmailTags") != null) {
      all.addAll(req.getJsonArray("EmailTags"));
    }
    JsonArray entries = req.getJsonArray("BulkEmailEntries", new JsonArray());
    for (Object o : entries) {
      JsonObject e = (JsonObject) o;
      if (e.getJsonObject("Destination").getJsonArray("ToAddresses").getString(0).equals(d.to())
          && e.getJsonArray("ReplacementTags") != null) {
        all.addAll(e.getJsonArray("ReplacementTags"));
      }
    }
    all.forEach(t -> tags.put(((JsonObject) t).getString("Name"), new JsonArray().add(((JsonObject) t).getString("Value"))));
    return tags;
  }

  /** An SES event (as event publishing writes it) about our message to {@code email}. */
  static JsonObject sesEvent(String eventType, String email) {
    SesSimulator.Delivered d = ses.delivered().stream().filter(x -> x.to().equals(email)).findFirst().orElseThrow();
    return new JsonObject().put("eventType", eventType).put("mail", new JsonObject().put("timestamp", "2026-12-03T06:00:00.000Z")
        .put("source", "news@acme.example").put("messageId", d.messageId()).put("destination", new JsonArray().add(email))
        .put("tags", tags(d)));
  }

  static JsonObject notification(JsonObject sesEvent) {
    return new JsonObject().put("Type", "Notification").put("MessageId", UUID.randomUUID().toString()).put("TopicArn", TOPIC)
        .put("Message", sesEvent.encode()).put("Timestamp", "2026-12-03T06:00:01.000Z");
  }

  static Answer post(JsonObject snsMessage) {
    return hook(true, "ses", backend, "text/plain; charset=UTF-8", snsMessage.encode().getBytes(java.nio.charset.StandardCharsets.UTF_8),
        Map.of("x-amz-sns-message-type", snsMessage.getString("Type")));
  }

  @Test
  void aSubscriptionConfirmationIsConfirmedByGettingItsSubscribeUrl() {
    JsonObject m = new JsonObject().put("Type", "SubscriptionConfirmation").put("MessageId", UUID.randomUUID().toString())
        .put("Token", "2336412f37fb687f5d51e6e2425c464de12884").put("TopicArn", TOPIC)
        .put("Message", "You have chosen to subscribe to the topic " + TOPIC)
        .put("SubscribeURL", sns.base() + "/confirm?Action=ConfirmSubscription&Token=2336412f37fb687f5d51e6e2425c464de12884")
        .put("Timestamp", "2026-12-03T06:00:00.000Z");
    Answer a = post(sns.sign(m, "2"));
    expect(a, 200);
    assertEquals("subscription confirmed", a.json().getString("note"));
    assertTrue(sns.requests().contains("/confirm?Action=ConfirmSubscription&Token=2336412f37fb687f5d51e6e2425c464de12884"),
        sns.requests().toString());
    // a SubscribeURL elsewhere is not followed
    JsonObject elsewhere = m.copy().put("MessageId", UUID.randomUUID().toString())
        .put("SubscribeURL", "http://localhost:1/confirm?Token=x");
    expect(post(sns.sign(elsewhere, "2")), 403);
  }

  @Test
  void aDeliveryNotificationIsRecordedAgainstTheRecipientItsTagsName() {
    String email = to.get(0);
    JsonObject e = sesEvent("Delivery", email).put("delivery", new JsonObject().put("timestamp", "2026-12-03T06:00:02.000Z")
        .put("recipients", new JsonArray().add(email)).put("smtpResponse", "250 2.6.0 Message received"));
    expect(post(sns.sign(notification(e), "1")), 200); // SignatureVersion 1: SHA1withRSA
    assertEquals("delivered", recipient(tenant, job, email).getString("state"));
    JsonObject ev = api.get("/v1/events?type=delivered&recipient=" + email, tenant.apiKey()).json().getJsonArray("items")
        .getJsonObject(0);
    assertEquals("webhook:ses", ev.getString("source"));
    assertEquals(250, ev.getInteger("code"));
  }

  @Test
  void aPermanentBounceIsHardAndSuppressesATransientOneIsSoft() {
    JsonObject hard = sesEvent("Bounce", to.get(1)).put("bounce", new JsonObject().put("bounceType", "Permanent")
        .put("bounceSubType", "General").put("bouncedRecipients", new JsonArray().add(new JsonObject()
            .put("emailAddress", to.get(1)).put("status", "5.1.1").put("diagnosticCode", "smtp; 550 5.1.1 user unknown"))));
    JsonObject soft = sesEvent("Bounce", to.get(2)).put("bounce", new JsonObject().put("bounceType", "Transient")
        .put("bouncedRecipients", new JsonArray().add(new JsonObject().put("emailAddress", to.get(2)))));
    expect(post(sns.sign(notification(hard), "2")), 200);
    expect(post(sns.sign(notification(soft), "2")), 200);
    assertEquals("hard_bounce", suppressions(tenant).get(to.get(1)));
    assertFalse(suppressions(tenant).containsKey(to.get(2)));
    JsonObject h = api.get("/v1/events?type=bounced&recipient=" + to.get(1), tenant.apiKey()).json().getJsonArray("items")
        .getJsonObject(0);
    assertEquals("hard", h.getString("severity"));
    assertEquals(550, h.getInteger("code"));
    assertEquals("soft", api.get("/v1/events?type=bounced&recipient=" + to.get(2), tenant.apiKey()).json()
        .getJsonArray("items").getJsonObject(0).getString("severity"));

    JsonObject complaint = sesEvent("Complaint", to.get(3)).put("complaint", new JsonObject()
        .put("complainedRecipients", new JsonArray().add(new JsonObject().put("emailAddress", to.get(3)))));
    expect(post(sns.sign(notification(complaint), "2")), 200);
    assertEquals("complaint", suppressions(tenant).get(to.get(3)));
    Answer send = post(sns.sign(notification(sesEvent("Send", to.get(4)).put("send", new JsonObject())), "2"));
    expect(send, 200);
    assertEquals(1, send.json().getInteger("ignored"));
  }

  @Test
  void forgedOrNotAllowedMessagesAreRefusedAndRecordNothing() {
    long before = recorded("ses");
    String email = to.get(5);
    JsonObject m = notification(sesEvent("Complaint", email).put("complaint", new JsonObject()
        .put("complainedRecipients", new JsonArray().add(new JsonObject().put("emailAddress", email)))));
    // signed by another key, with our certificate's URL
    Answer forged = post(SnsEndpoint.sign(m, "2", SnsEndpoint.rsa().getPrivate(), sns.certUrl()));
    expect(forged, 401);
    assertEquals("signature_invalid", forged.errorCode());
    // signed, then changed
    JsonObject altered = sns.sign(m, "2").put("Message", sesEvent("Complaint", to.get(4)).encode());
    expect(post(altered), 401);
    // another topic
    Answer topic = post(sns.sign(m.copy().put("TopicArn", "arn:aws:sns:eu-west-1:999999999999:other"), "2"));
    expect(topic, 403);
    assertEquals("topic_not_allowed", topic.errorCode());
    // a certificate from a host the pattern does not allow: not even fetched
    int asked = sns.requests().size();
    Answer host = post(SnsEndpoint.sign(m, "2", SnsEndpoint.rsa().getPrivate(), "http://localhost:9/cert.pem"));
    expect(host, 403);
    assertEquals("url_not_allowed", host.errorCode());
    expect(post(SnsEndpoint.sign(m, "2", SnsEndpoint.rsa().getPrivate(), "https://127.0.0.1:9/cert.pem")), 403);
    assertEquals(asked, sns.requests().size());
    // an unknown signature version
    expect(post(sns.sign(m, "2").put("SignatureVersion", "3")), 401);
    assertEquals(before, recorded("ses"));
    assertFalse(suppressions(tenant).containsKey(email));
  }

  @Test
  void theSigningCertificateIsFetchedOnceAndAnOversizedOneIsRefused() {
    for (int i = 0; i < 3; i++) {
      expect(post(sns.sign(notification(sesEvent("Send", to.get(0))), "2")), 200);
    }
    String path = java.net.URI.create(sns.certUrl()).getPath();
    assertEquals(1, sns.requests().stream().filter(path::equals).count(), sns.requests().toString());
    Answer big = post(SnsEndpoint.sign(notification(sesEvent("Send", to.get(0))), "2", SnsEndpoint.rsa().getPrivate(),
        sns.base() + "/big.pem"));
    expect(big, 403);
    assertEquals("certificate_unavailable", big.errorCode());
  }

  @Test
  void aNotificationDeliveredTwiceIsRecordedOnce() {
    String email = to.get(4);
    JsonObject open = sns.sign(notification(sesEvent("Open", email).put("open", new JsonObject()
        .put("timestamp", "2026-12-03T06:10:00.000Z"))), "2");
    expect(post(open), 200);
    expect(post(open), 200); // SNS retrying the same message
    assertEquals(1, recorded("ses", email, "opened"));
  }

  @Test
  void unknownRecipientsAreAnsweredWith200AndCounted() {
    double before = metric("mailgate_webhook_events_total", Map.of("provider", "ses", "outcome", "unknown_recipient"));
    // an identity notification: no tags
    JsonObject e = new JsonObject().put("notificationType", "Delivery").put("mail", new JsonObject()
            .put("messageId", "0102018f-0000").put("destination", new JsonArray().add("someone@example.com")))
        .put("delivery", new JsonObject().put("recipients", new JsonArray().add("someone@example.com")));
    Answer a = post(sns.sign(notification(e), "2"));
    expect(a, 200);
    assertEquals(1, a.json().getInteger("unknownRecipients"));
    assertEquals(before + 1, metric("mailgate_webhook_events_total", Map.of("provider", "ses", "outcome", "unknown_recipient")));
  }
}
