package io.mailgate.job;

import org.junit.jupiter.api.Timeout;
import java.util.concurrent.TimeUnit;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.mailgate.config.GatewayConfig;
import io.mailgate.config.GatewayConfig.LimitsConfig;
import io.mailgate.error.InvalidInputException;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

@Timeout(value = 5, unit = TimeUnit.MINUTES)
class JobSpecParserTest {

  private static final LimitsConfig LIMITS = GatewayConfig.from(Map.of()).limits();
  private final JobSpecParser parser = new JobSpecParser(LIMITS);

  private static JsonObject job() {
    return new JsonObject()
        .put("from", "Acme News <news@acme.example>")
        .put("subject", "Hello {{name}}")
        .put("text", "Dear {{name}}");
  }

  private InvalidInputException rejected(JsonObject job) {
    return assertThrows(InvalidInputException.class, () -> parser.parse(job, true));
  }

  private static JsonObject headers(int n) {
    JsonObject h = new JsonObject();
    for (int i = 0; i < n; i++) {
      h.put("X-H" + i, "v" + i);
    }
    return h;
  }

  @Test
  void parsesACompleteJob() {
    JobSpec spec = parser.parse(job()
        .put("replyTo", "help@acme.example")
        .put("html", "<p>{{name}}</p>")
        .put("headers", new JsonObject().put("X-Campaign", "spring").put("List-Unsubscribe", "<mailto:u@acme.example>"))
        .put("tags", new JsonArray().add("spring").add("news")), false);
    assertEquals("news@acme.example", spec.from().address().value());
    assertEquals("Acme News", spec.from().displayName());
    assertEquals("help@acme.example", spec.replyTo().address().value());
    assertEquals("Hello {{name}}", spec.subject());
    assertEquals("Dear {{name}}", spec.text());
    assertEquals("<p>{{name}}</p>", spec.html());
    assertEquals(Map.of("X-Campaign", "spring", "List-Unsubscribe", "<mailto:u@acme.example>"), spec.headers());
    assertEquals(List.of("spring", "news"), spec.tags());
  }

  @Test
  void acceptsHtmlWithoutText() {
    JobSpec spec = parser.parse(job().put("text", (String) null).put("html", "<p>hi</p>"), false);
    assertNull(spec.text());
    assertEquals("<p>hi</p>", spec.html());
  }

  @Test
  void storedSpecReadsBackEqual() {
    JobSpec spec = parser.parse(job().put("replyTo", "\"Help, Desk\" <help@acme.example>")
        .put("headers", new JsonObject().put("X-A", "1")).put("tags", new JsonArray().add("t")), false);
    assertEquals(spec, JobSpec.fromStored(new JsonObject(spec.toJson().encode())));
  }

  @Test
  void ignoresTenantId() {
    JsonObject j = job().put("tenantId", UUID.randomUUID().toString());
    JobSpec spec = parser.parse(j, false);
    assertFalse(spec.toJson().containsKey("tenantId"));
    assertEquals(parser.parse(job(), false), spec);
  }

  @Test
  void acceptsRecipientsOnlyWhenAllowed() {
    JsonObject j = job().put("recipients", new JsonArray().add(new JsonObject().put("email", "a@example.com")));
    assertEquals("Hello {{name}}", parser.parse(j, true).subject());
    InvalidInputException e = assertThrows(InvalidInputException.class, () -> parser.parse(j, false));
    assertEquals("unknown_field", e.code());
    assertEquals("recipients", e.field());
  }

  @ParameterizedTest
  @ValueSource(strings = {"subjct", "bcc", "From", "sender", "attachment", "vars"})
  void rejectsUnknownFields(String field) {
    InvalidInputException e = rejected(job().put(field, "x"));
    assertEquals("unknown_field", e.code());
    assertEquals(field, e.field());
  }

  @Test
  void unknownFieldMessageHidesControlCharacters() {
    InvalidInputException e = rejected(job().put("x\r\ny", "v"));
    assertEquals("unknown_field", e.code());
    assertFalse(e.getMessage().contains("\r") || e.getMessage().contains("\n"), e.getMessage());
  }

  @ParameterizedTest
  @ValueSource(strings = {"from", "subject"})
  void rejectsMissingRequiredField(String field) {
    JsonObject j = job();
    j.remove(field);
    InvalidInputException e = rejected(j);
    assertEquals("missing_field", e.code());
    assertEquals(field, e.field());
  }

  @ParameterizedTest
  @ValueSource(strings = {"from", "subject"})
  void rejectsBlankRequiredField(String field) {
    InvalidInputException e = rejected(job().put(field, "  "));
    assertEquals("missing_field", e.code());
    assertEquals(field, e.field());
  }

  @Test
  void rejectsJobWithoutBody() {
    JsonObject j = job();
    j.remove("text");
    InvalidInputException e = rejected(j);
    assertEquals("missing_body", e.code());
  }

  @ParameterizedTest
  @ValueSource(strings = {"from", "subject", "text", "html", "replyTo"})
  void rejectsNonStringFields(String field) {
    InvalidInputException e = rejected(job().put(field, 42));
    assertEquals("invalid_field", e.code());
    assertEquals(field, e.field());
  }

  @ParameterizedTest
  @ValueSource(strings = {"Hello\r\nBcc: x@y.z", "Hello\nthere", "Hello\rthere", "Hello\0"})
  void rejectsLineBreaksInSubject(String subject) {
    InvalidInputException e = rejected(job().put("subject", subject));
    assertEquals("header_injection", e.code());
    assertEquals("subject", e.field());
  }

  @ParameterizedTest
  @ValueSource(strings = {"from", "replyTo"})
  void rejectsLineBreaksInAddresses(String field) {
    InvalidInputException e = rejected(job().put(field, "Acme\r\nBcc: x@y.z <news@acme.example>"));
    assertEquals("header_injection", e.code());
    assertEquals(field, e.field());
  }

  @ParameterizedTest
  @ValueSource(strings = {"v\r\nBcc: x@y.z", "v\n", "\rv", "v\0"})
  void rejectsLineBreaksInHeaderValues(String value) {
    InvalidInputException e = rejected(job().put("headers", new JsonObject().put("X-Campaign", value)));
    assertEquals("header_injection", e.code());
    assertEquals("headers.X-Campaign", e.field());
  }

  @Test
  void rejectsInvalidAddresses() {
    assertEquals("invalid_address", rejected(job().put("from", "not an address")).code());
    assertEquals("invalid_address", rejected(job().put("replyTo", "Help <help@localhost>")).code());
  }

  @Test
  void acceptsSubjectAtTheLimitAndRejectsLonger() {
    assertEquals(998, parser.parse(job().put("subject", "s".repeat(998)), false).subject().length());
    InvalidInputException e = rejected(job().put("subject", "s".repeat(999)));
    assertEquals("too_long", e.code());
    assertEquals("subject", e.field());
  }

  @Test
  void rejectsTemplatesLargerThanTheLimitInUtf8Bytes() {
    LimitsConfig small = GatewayConfig.from(Map.of("MAILGATE_MAX_TEMPLATE_BYTES", "10")).limits();
    JobSpecParser p = new JobSpecParser(small);
    assertEquals("ü".repeat(5), p.parse(job().put("text", "ü".repeat(5)), false).text());
    InvalidInputException e = assertThrows(InvalidInputException.class, () -> p.parse(job().put("text", "ü".repeat(6)), false));
    assertEquals("too_long", e.code());
    assertEquals("text", e.field());
    assertEquals("too_long", assertThrows(InvalidInputException.class,
        () -> p.parse(job().put("html", "x".repeat(11)), false)).code());
  }

  @Test
  void acceptsHeadersUpToTheLimitAndRejectsMore() {
    assertEquals(LIMITS.maxHeaders(), parser.parse(job().put("headers", headers(LIMITS.maxHeaders())), false).headers().size());
    InvalidInputException e = rejected(job().put("headers", headers(LIMITS.maxHeaders() + 1)));
    assertEquals("too_many_headers", e.code());
    assertEquals("headers", e.field());
  }

  @Test
  void rejectsHeadersThatAreNotAnObject() {
    assertEquals("invalid_field", rejected(job().put("headers", new JsonArray().add("X-A: 1"))).code());
    assertEquals("invalid_field", rejected(job().put("headers", "X-A: 1")).code());
  }

  @Test
  void rejectsNonStringHeaderValues() {
    InvalidInputException e = rejected(job().put("headers", new JsonObject().put("X-Count", 3)));
    assertEquals("invalid_field", e.code());
    assertEquals("headers.X-Count", e.field());
  }

  @Test
  void rejectsHeaderValueLongerThanTheLimit() {
    assertEquals("too_long", rejected(job().put("headers", new JsonObject().put("X-A", "v".repeat(999)))).code());
  }

  @ParameterizedTest
  @ValueSource(strings = {"From", "to", "CC", "Bcc", "Subject", "Date", "Message-ID", "message-id", "MIME-Version",
      "Content-Type", "content-transfer-encoding", "Reply-To", "Return-Path", "Received", "DKIM-Signature", "Sender"})
  void rejectsReservedHeaders(String name) {
    InvalidInputException e = rejected(job().put("headers", new JsonObject().put(name, "x")));
    assertEquals("reserved_header", e.code());
    assertEquals("headers." + name, e.field());
  }

  @ParameterizedTest
  @ValueSource(strings = {"", "X Campaign", "X-Campaign:", "X:Y", "X-Ünicode", "X-Tab\t", "X-\r\nBcc", "X-Del\u007f"})
  void rejectsInvalidHeaderNames(String name) {
    InvalidInputException e = rejected(job().put("headers", new JsonObject().put(name, "x")));
    assertEquals("invalid_header_name", e.code());
  }

  @Test
  void rejectsHeaderNamesLongerThan76Characters() {
    assertEquals(1, parser.parse(job().put("headers", new JsonObject().put("X" + "a".repeat(75), "x")), false).headers().size());
    assertEquals("invalid_header_name", rejected(job().put("headers", new JsonObject().put("X" + "a".repeat(76), "x"))).code());
  }

  @Test
  void acceptsTagsUpToTheLimitAndRejectsMore() {
    JsonArray tags = new JsonArray();
    for (int i = 0; i < LIMITS.maxTags(); i++) {
      tags.add("t" + i);
    }
    assertEquals(LIMITS.maxTags(), parser.parse(job().put("tags", tags.copy()), false).tags().size());
    InvalidInputException e = rejected(job().put("tags", tags.add("one-too-many")));
    assertEquals("too_many_tags", e.code());
    assertEquals("tags", e.field());
  }

  @Test
  void rejectsTagsThatAreNotAnArray() {
    assertEquals("invalid_field", rejected(job().put("tags", "spring")).code());
  }

  @Test
  void rejectsInvalidTags() {
    for (Object tag : new Object[] {"", "t".repeat(LIMITS.maxTagChars() + 1), "grüße", "a\tb", "a\nb", 42, new JsonObject()}) {
      InvalidInputException e = rejected(job().put("tags", new JsonArray().add(tag)));
      assertEquals("invalid_tag", e.code(), String.valueOf(tag));
    }
    assertEquals(List.of("with space", "t".repeat(LIMITS.maxTagChars())),
        parser.parse(job().put("tags", new JsonArray().add("with space").add("t".repeat(LIMITS.maxTagChars()))), false).tags());
  }

  @ParameterizedTest
  @ValueSource(strings = {"subject", "text", "html"})
  void rejectsInvalidTemplatesWhenParsed(String field) {
    InvalidInputException e = rejected(job().put(field, "Hello {{> partial}}"));
    assertEquals("invalid_template", e.code());
    assertEquals(field, e.field());
    assertEquals("invalid_template", rejected(job().put(field, "Hello {{#open}}")).code());
  }

  @Test
  void acceptsNonAsciiHeaderValues() {
    assertEquals("naïve café", parser.parse(job().put("headers", new JsonObject().put("X-Note", "naïve café")), false)
        .headers().get("X-Note"));
  }

  @Test
  void metadataIsKeptWithTheJobAndSurvivesStorage() {
    JobSpec spec = parser.parse(job().put("metadata", new JsonObject().put("crm-id", "4711").put("order", "{\"n\":1}")), true);
    assertEquals(Map.of("crm-id", "4711", "order", "{\"n\":1}"), spec.metadata());
    assertEquals(spec.metadata(), JobSpec.fromStored(spec.toJson()).metadata());
    assertFalse(parser.parse(job(), true).toJson().containsKey("metadata"), "no metadata, no field");
  }

  @Test
  void metadataMustBeStringsWithinItsBounds() {
    assertEquals("metadata.n", rejected(job().put("metadata", new JsonObject().put("n", 1))).field());
    assertEquals("metadata", rejected(job().put("metadata", new JsonArray().add("x"))).field());
    assertEquals("too_long", rejected(job().put("metadata", new JsonObject().put("big", "x".repeat(JobSpecParser.MAX_METADATA_BYTES)))).code());
    JsonObject many = new JsonObject();
    for (int i = 0; i <= LIMITS.maxVarsPerRecipient(); i++) {
      many.put("k" + i, "v");
    }
    assertEquals("too_many_vars", rejected(job().put("metadata", many)).code());
  }

  @Test
  void toAndCcMakeASharedMessageThatSurvivesStorage() {
    JsonObject j = new JsonObject().put("from", "a@acme.example").put("subject", "S").put("text", "T")
        .put("to", new JsonArray().add("Ann <ann@example.com>")).put("cc", new JsonArray().add("carl@example.com"));
    JobSpec spec = parser.parse(j, false);
    assertEquals(io.mailgate.message.Campaign.Shape.SHARED, spec.shape());
    JobSpec stored = JobSpec.fromStored(spec.toJson());
    assertEquals(io.mailgate.message.Campaign.Shape.SHARED, stored.shape());
    assertEquals(List.of("Ann <ann@example.com>"), stored.to().stream().map(Object::toString).toList());
    assertEquals(List.of("carl@example.com"), stored.cc().stream().map(Object::toString).toList());
    JsonObject personal = j.copy();
    personal.remove("to");
    personal.remove("cc");
    assertEquals(io.mailgate.message.Campaign.Shape.PERSONAL, JobSpec.fromStored(parser.parse(personal, false).toJson()).shape());
  }

  @Test
  void aSharedMessageRefusesOneClickUnsubscribeEvenWhereLinksCanBeMade() {
    JsonObject j = new JsonObject().put("from", "a@acme.example").put("subject", "S").put("text", "T")
        .put("to", new JsonArray().add("a@example.com")).put("unsubscribe", true);
    InvalidInputException e = assertThrows(InvalidInputException.class, () -> new JobSpecParser(LIMITS, true).parse(j, false));
    assertEquals("unsubscribe", e.field());
    JobSpec withDefault = new JobSpecParser(LIMITS, true).parse(j.copy().put("unsubscribe", (Object) null), false,
        new JobSpecParser.TenantDefaults(true, null));
    assertNull(withDefault.unsubscribe(), "the tenant's default does not apply to a shared message");
  }

  @ParameterizedTest
  @ValueSource(strings = {"{\"to\": \"a@example.com\"}", "{\"to\": [1]}", "{\"cc\": [\"not an address\"]}",
      "{\"to\": [\"a@example.com\"], \"text\": \"Hi {{name}}\"}",
      "{\"to\": [\"a@example.com\"], \"subject\": \"{{#x}}y{{/x}}\"}"})
  void aSharedMessageRefusesMalformedListsSubstitutionAndUnsubscribe(String extra) {
    JsonObject j = new JsonObject().put("from", "a@acme.example").put("subject", "S").put("text", "T")
        .mergeIn(new JsonObject(extra));
    assertThrows(InvalidInputException.class, () -> parser.parse(j, false));
  }

  @Test
  void attachmentsAreDecodedWithTheirNameTypeAndContentIdDefaults() {
    JobSpec spec = parser.parse(job().put("html", "<img src=\"cid:logo.png\">").put("attachments", new JsonArray()
        .add(new JsonObject().put("filename", "C:\\Users\\ann\\report.pdf").put("content", "AAEC"))
        .add(new JsonObject().put("filename", "logo.png").put("contentType", "Image/PNG").put("inline", true).put("content", "/w=="))
        .add(new JsonObject().put("filename", "x.gif").put("contentId", "pic@acme").put("content", ""))), false);
    var files = spec.attachments();
    assertEquals(3, files.size());
    assertEquals("report.pdf", files.get(0).filename(), "the last segment of a path");
    assertEquals("application/octet-stream", files.get(0).contentType());
    assertEquals(null, files.get(0).contentId());
    assertEquals(3, files.get(0).data().length);
    assertEquals("image/png", files.get(1).contentType());
    assertEquals("logo.png", files.get(1).contentId(), "an inline part's Content-ID defaults to its name");
    assertEquals("pic@acme", files.get(2).contentId(), "a contentId makes the part inline");
    assertEquals(0, files.get(2).data().length);
    assertEquals(3, spec.toJson().getInteger("attachments"), "the stored spec keeps their number, not their bytes");
    assertFalse(spec.toJson().encode().contains("AAEC"));
  }

  @Test
  void twoInlinePartsWithOneContentIdAreRefused() {
    InvalidInputException e = rejected(job().put("attachments", new JsonArray()
        .add(new JsonObject().put("filename", "a.png").put("inline", true).put("content", "AAAA"))
        .add(new JsonObject().put("filename", "b.png").put("contentId", "a.png").put("content", "AAAA"))));
    assertEquals("attachments[1].contentId", e.field());
  }
}
