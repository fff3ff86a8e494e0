package io.mailgate.support.sim;

import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * Amazon SES v2's sending endpoints on 127.0.0.1 (random port), with the documented REST JSON shapes:
 * {@code POST /v2/email/outbound-bulk-emails} (SendBulkEmail: at most 50 entries, per-entry results) and
 * {@code POST /v2/email/outbound-emails} (SendEmail). Every request must carry a valid AWS Signature Version 4:
 * the access key id, region and service ({@code ses}) of the credential scope are checked, and the signature is
 * recomputed with the known secret (403 SignatureDoesNotMatch / UnrecognizedClientException otherwise). Inline
 * templates are rendered as SES does (Handlebars; SES does not HTML-escape), refusing anything beyond plain
 * references and failing an entry whose data lacks a referenced attribute. Tests script it: answers for the next
 * calls (429 TooManyRequestsException, 500...) and per-address entry statuses. It records calls and deliveries.
 */
public final class SesSimulator implements AutoCloseable {

  public static final int BULK_LIMIT = 50;

  /** A call as received: operation, HTTP status it got, and its JSON body. */
  public record Call(String operation, int status, JsonObject body, Map<String, String> headers) {}

  /** A message SES accepted, as it would go out: rendered subject, text and html. */
  /** One message sent; for a raw SendEmail, {@code text} is the whole MIME message and {@code subject} null. */
  public record Delivered(String operation, String messageId, String to, String subject, String text, String html,
                          JsonObject request) {}

  private record Scripted(int status, String errorType, String message) {}

  private record EntryFailure(String status, String error, AtomicInteger times) {}

  private static final DateTimeFormatter AMZ_DATE = DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmmss'Z'");

  private final Vertx vertx = Vertx.vertx();
  private final String accessKeyId;
  private final String secretAccessKey;
  private final String region;
  private final ConcurrentLinkedQueue<Scripted> script = new ConcurrentLinkedQueue<>();
  private final Map<String, EntryFailure> failures = new ConcurrentHashMap<>();
  private final ConcurrentLinkedQueue<Call> calls = new ConcurrentLinkedQueue<>();
  private final ConcurrentLinkedQueue<Delivered> delivered = new ConcurrentLinkedQueue<>();
  private HttpServer server;

  private SesSimulator(String accessKeyId, String secretAccessKey, String region) {
    this.accessKeyId = accessKeyId;
    this.secretAccessKey = secretAccessKey;
    this.region = region;
  }

  /** Starts a simulator for one IAM key in one region. */
  public static SesSimulator start(String accessKeyId, String secretAccessKey, String region) {
    SesSimulator sim = new SesSimulator(accessKeyId, secretAccessKey, region);
    try {
      sim.server = sim.vertx.createHttpServer().requestHandler(sim::handle)
          .listen(0, "127.0.0.1").toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    } catch (Exception e) {
      sim.close();
      throw new IllegalStateException("SES simulator did not start", e);
    }
    return sim;
  }

  public String endpoint() {
    return "http://127.0.0.1:" + server.actualPort();
  }

  /** The next {@code times} calls fail with this HTTP status and error type (e.g. 429 TooManyRequestsException). */
  public SesSimulator failNext(int times, int status, String errorType, String message) {
    for (int i = 0; i < times; i++) {
      script.add(new Scripted(status, errorType, message));
    }
    return this;
  }

  /**
   * The next {@code times} entries (or SendEmail calls) for {@code address} fail with this bulk status (e.g.
   * MESSAGE_REJECTED); {@code times < 0} is every one. For SendEmail the status becomes the matching exception.
   */
  public SesSimulator failAddress(String address, String status, String error, int times) {
    failures.put(address, new EntryFailure(status, error, new AtomicInteger(times < 0 ? Integer.MAX_VALUE : times)));
    return this;
  }

  public List<Call> calls() {
    return new ArrayList<>(calls);
  }

  public List<Call> calls(String operation) {
    return calls.stream().filter(c -> c.operation().equals(operation)).toList();
  }

  public List<Delivered> delivered() {
    return new ArrayList<>(delivered);
  }

  public Map<String, Integer> deliveredPerAddress() {
    Map<String, Integer> out = new HashMap<>();
    delivered.forEach(d -> out.merge(d.to(), 1, Integer::sum));
    return out;
  }

  // --- requests

  private void handle(HttpServerRequest req) {
    req.body().onSuccess(buf -> {
      Map<String, String> headers = new HashMap<>();
      req.headers().forEach(e -> headers.merge(e.getKey().toLowerCase(Locale.ROOT), e.getValue(), (a, b) -> a + "," + b));
      String operation = switch (req.path()) {
        case "/v2/email/outbound-bulk-emails" -> "SendBulkEmail";
        case "/v2/email/outbound-emails" -> "SendEmail";
        default -> "Unknown";
      };
      JsonObject body = null;
      try {
        body = buf.length() == 0 ? new JsonObject() : new JsonObject(buf);
      } catch (DecodeException e) {
        // answered below
      }
      Answer a = answer(req, operation, headers, buf, body);
      calls.add(new Call(operation, a.status, body, headers));
      var resp = req.response().setStatusCode(a.status).putHeader("Content-Type", "application/json")
          .putHeader("x-amzn-RequestId", UUID.randomUUID().toString());
      if (a.errorType != null) {
        resp.putHeader("x-amzn-ErrorType", a.errorType);
      }
      resp.end(a.body.encode());
    });
  }

  private record Answer(int status, String errorType, JsonObject body) {
    static Answer error(int status, String type, String message) {
      return new Answer(status, type, new JsonObject().put("message", message));
    }
  }

  private Answer answer(HttpServerRequest req, String operation, Map<String, String> headers, Buffer raw, JsonObject body) {
    String authProblem = authenticate(req, headers, raw);
    if (authProblem != null) {
      return Answer.error(403, authProblem.startsWith("UnrecognizedClient") ? "UnrecognizedClientException" : "SignatureDoesNotMatch",
          authProblem.substring(authProblem.indexOf(':') + 1).trim());
    }
    if (!req.method().name().equals("POST") || operation.equals("Unknown")) {
      return Answer.error(404, "NotFoundException", "Unknown operation " + req.method() + " " + req.path());
    }
    Scripted s = script.poll();
    if (s != null) {
      return Answer.error(s.status(), s.errorType(), s.message());
    }
    if (body == null) {
      return Answer.error(400, "BadRequestException", "The request body is not valid JSON.");
    }
    return operation.equals("SendBulkEmail") ? sendBulk(body) : send(body);
  }

  private Answer sendBulk(JsonObject body) {
    JsonArray entries = body.getJsonArray("BulkEmailEntries");
    if (body.getString("FromEmailAddress") == null) {
      return Answer.error(400, "BadRequestException", "FromEmailAddress is required.");
    }
    if (entries == null || entries.isEmpty()) {
      return Answer.error(400, "BadRequestException", "BulkEmailEntries must have at least one entry.");
    }
    if (entries.size() > BULK_LIMIT) {
      return Answer.error(400, "BadRequestException", "Too many entries: " + entries.size() + " (at most " + BULK_LIMIT + ").");
    }
    JsonObject template = body.getJsonObject("DefaultContent", new JsonObject()).getJsonObject("Template");
    JsonObject content = template == null ? null : template.getJsonObject("TemplateContent");
    if (content == null || content.getString("Subject") == null) {
      return Answer.error(400, "BadRequestException", "DefaultContent.Template.TemplateContent with a Subject is required.");
    }
    JsonArray results = new JsonArray();
    for (Object o : entries) {
      JsonObject entry = (JsonObject) o;
      JsonArray to = entry.getJsonObject("Destination", new JsonObject()).getJsonArray("ToAddresses", new JsonArray());
      if (to.size() != 1) {
        results.add(new JsonObject().put("Status", "INVALID_PARAMETER").put("Error", "expected one destination"));
        continue;
      }
      String address = to.getString(0);
      EntryFailure f = failure(address);
      if (f != null) {
        results.add(new JsonObject().put("Status", f.status()).put("Error", f.error()));
        continue;
      }
      String dataJson = entry.getJsonObject("ReplacementEmailContent", new JsonObject())
          .getJsonObject("ReplacementTemplate", new JsonObject())
          .getString("ReplacementTemplateData", template.getString("TemplateData", "{}"));
      try {
        JsonObject data = new JsonObject(dataJson);
        String id = messageId();
        delivered.add(new Delivered("SendBulkEmail", id, address, render(content.getString("Subject"), data),
            render(content.getString("Text"), data), render(content.getString("Html"), data), body));
        results.add(new JsonObject().put("Status", "SUCCESS").put("MessageId", id));
      } catch (IllegalArgumentException e) {
        results.add(new JsonObject().put("Status", "FAILED").put("Error", e.getMessage()));
      }
    }
    return new Answer(200, null, new JsonObject().put("BulkEmailEntryResults", results));
  }

  private Answer send(JsonObject body) {
    JsonArray to = body.getJsonObject("Destination", new JsonObject()).getJsonArray("ToAddresses", new JsonArray());
    JsonObject raw = body.getJsonObject("Content", new JsonObject()).getJsonObject("Raw");
    if (raw != null) {
      // a raw message: Data is the whole MIME message (base64 in the JSON), Destination the envelope
      if (raw.getString("Data") == null || to.isEmpty()) {
        return Answer.error(400, "BadRequestException", "Destination and Content.Raw.Data are required.");
      }
      String id = messageId();
      String data = new String(java.util.Base64.getDecoder().decode(raw.getString("Data")), StandardCharsets.ISO_8859_1);
      delivered.add(new Delivered("SendEmail", id, to.getString(0), null, data, null, body));
      return new Answer(200, null, new JsonObject().put("MessageId", id));
    }
    JsonObject simple = body.getJsonObject("Content", new JsonObject()).getJsonObject("Simple");
    if (body.getString("FromEmailAddress") == null || to.isEmpty() || simple == null
        || simple.getJsonObject("Subject") == null || simple.getJsonObject("Body") == null) {
      return Answer.error(400, "BadRequestException", "FromEmailAddress, Destination and Content.Simple are required.");
    }
    EntryFailure f = failure(to.getString(0));
    if (f != null) {
      return switch (f.status()) {
        case "MESSAGE_REJECTED" -> Answer.error(400, "MessageRejected", f.error());
        case "ACCOUNT_THROTTLED" -> Answer.error(429, "TooManyRequestsException", f.error());
        case "TRANSIENT_FAILURE", "FAILED" -> Answer.error(500, "InternalServiceErrorException", f.error());
        case "ACCOUNT_SUSPENDED" -> Answer.error(400, "AccountSuspendedException", f.error());
        case "MAIL_FROM_DOMAIN_NOT_VERIFIED" -> Answer.error(400, "MailFromDomainNotVerifiedException", f.error());
        default -> Answer.error(400, "BadRequestException", f.error());
      };
    }
    JsonObject b = simple.getJsonObject("Body");
    String id = messageId();
    delivered.add(new Delivered("SendEmail", id, to.getString(0), simple.getJsonObject("Subject").getString("Data"),
        b.getJsonObject("Text") == null ? null : b.getJsonObject("Text").getString("Data"),
        b.getJsonObject("Html") == null ? null : b.getJsonObject("Html").getString("Data"), body));
    return new Answer(200, null, new JsonObject().put("MessageId", id));
  }

  private EntryFailure failure(String address) {
    EntryFailure f = failures.get(address);
    if (f == null || f.times().getAndUpdate(n -> n > 0 ? n - 1 : 0) <= 0) {
      return null;
    }
    return f;
  }

  private static String messageId() {
    return "0100" + UUID.randomUUID().toString().replace("-", "") + "-000000";
  }

  // --- SES's Handlebars, as far as plain references go

  /** Renders {@code {{x}}} and {@code {{{x}}}} (SES escapes neither); {@code \{{} is a literal; nothing else is accepted. */
  static String render(String template, JsonObject data) {
    if (template == null) {
      return null;
    }
    StringBuilder out = new StringBuilder();
    int at = 0;
    while (at < template.length()) {
      int open = template.indexOf("{{", at);
      if (open < 0) {
        out.append(template, at, template.length());
        break;
      }
      if (open > at && template.charAt(open - 1) == '\\') {
        out.append(template, at, open - 1).append("{{");
        at = open + 2;
        continue;
      }
      out.append(template, at, open);
      boolean triple = template.startsWith("{{{", open);
      String close = triple ? "}}}" : "}}";
      int end = template.indexOf(close, open + close.length());
      if (end < 0) {
        throw new IllegalArgumentException("Template syntax error: unclosed tag at " + open);
      }
      String name = template.substring(open + close.length(), end).trim();
      if (!name.matches("[A-Za-z0-9_][A-Za-z0-9_.-]*")) {
        throw new IllegalArgumentException("Template construct not supported by the simulator: " + name);
      }
      Object v = data;
      for (String part : name.split("\\.")) {
        if (!(v instanceof JsonObject o) || !o.containsKey(part)) {
          throw new IllegalArgumentException("Attribute '" + name + "' is not present in the rendering data.");
        }
        v = o.getValue(part);
      }
      out.append(v == null ? "" : v.toString());
      at = end + close.length();
    }
    return out.toString();
  }

  // --- AWS Signature Version 4

  /** Null if the request is signed by our key for this region and service, else "Type: message". */
  private String authenticate(HttpServerRequest req, Map<String, String> headers, Buffer body) {
    String auth = headers.get("authorization");
    if (auth == null || !auth.startsWith("AWS4-HMAC-SHA256 ")) {
      return "SignatureDoesNotMatch: Missing or unsupported Authorization header.";
    }
    Map<String, String> parts = new HashMap<>();
    for (String p : auth.substring("AWS4-HMAC-SHA256 ".length()).split(",")) {
      int eq = p.indexOf('=');
      if (eq > 0) {
        parts.put(p.substring(0, eq).trim(), p.substring(eq + 1).trim());
      }
    }
    String credential = parts.get("Credential");
    String signedHeaders = parts.get("SignedHeaders");
    String signature = parts.get("Signature");
    if (credential == null || signedHeaders == null || signature == null) {
      return "SignatureDoesNotMatch: Authorization header requires Credential, SignedHeaders and Signature.";
    }
    String[] scope = credential.split("/");
    if (scope.length != 5 || !scope[4].equals("aws4_request")) {
      return "SignatureDoesNotMatch: Credential should be <key>/<date>/<region>/<service>/aws4_request.";
    }
    if (!scope[0].equals(accessKeyId)) {
      return "UnrecognizedClient: The security token included in the request is invalid.";
    }
    if (!scope[2].equals(region)) {
      return "SignatureDoesNotMatch: Credential should be scoped to a valid region, not '" + scope[2] + "'.";
    }
    if (!scope[3].equals("ses")) {
      return "SignatureDoesNotMatch: Credential should be scoped to correct service: 'ses'.";
    }
    String amzDate = headers.get("x-amz-date");
    if (amzDate == null || !amzDate.startsWith(scope[1])) {
      return "SignatureDoesNotMatch: X-Amz-Date is missing or does not match the credential scope date.";
    }
    try {
      LocalDateTime when = LocalDateTime.parse(amzDate, AMZ_DATE);
      if (Duration.between(when, LocalDateTime.now(ZoneOffset.UTC)).abs().toMinutes() > 15) {
        return "SignatureDoesNotMatch: Signature expired.";
      }
    } catch (DateTimeParseException e) {
      return "SignatureDoesNotMatch: X-Amz-Date is not a date.";
    }
    List<String> names = List.of(signedHeaders.split(";"));
    if (!names.contains("host") || !names.contains("x-amz-date")) {
      return "SignatureDoesNotMatch: host and x-amz-date must be signed.";
    }
    StringBuilder canonical = new StringBuilder();
    canonical.append(req.method().name()).append('\n')
        .append(req.path()).append('\n')
        .append(canonicalQuery(req.query())).append('\n');
    for (String name : names) {
      String v = headers.get(name);
      if (v == null) {
        return "SignatureDoesNotMatch: signed header " + name + " is missing.";
      }
      canonical.append(name).append(':').append(v.trim().replaceAll("\\s+", " ")).append('\n');
    }
    String payloadHash = hex(sha256(body.getBytes()));
    String declared = headers.get("x-amz-content-sha256");
    if (declared != null && !declared.equals(payloadHash)) {
      return "SignatureDoesNotMatch: x-amz-content-sha256 does not match the body.";
    }
    canonical.append('\n').append(signedHeaders).append('\n').append(payloadHash);
    String scopeText = scope[1] + "/" + scope[2] + "/" + scope[3] + "/aws4_request";
    String stringToSign = "AWS4-HMAC-SHA256\n" + amzDate + "\n" + scopeText + "\n"
        + hex(sha256(canonical.toString().getBytes(StandardCharsets.UTF_8)));
    byte[] key = hmac(("AWS4" + secretAccessKey).getBytes(StandardCharsets.UTF_8), scope[1]);
    key = hmac(key, scope[2]);
    key = hmac(key, scope[3]);
    key = hmac(key, "aws4_request");
    String expected = hex(hmac(key, stringToSign));
    if (!MessageDigest.isEqual(expected.getBytes(StandardCharsets.US_ASCII), signature.getBytes(StandardCharsets.US_ASCII))) {
      return "SignatureDoesNotMatch: The request signature we calculated does not match the signature you provided. "
          + "Check your AWS Secret Access Key and signing method.";
    }
    return null;
  }

  private static String canonicalQuery(String query) {
    if (query == null || query.isEmpty()) {
      return "";
    }
    List<String> pairs = new ArrayList<>(List.of(query.split("&")));
    pairs.replaceAll(p -> p.contains("=") ? p : p + "=");
    pairs.sort(null);
    return String.join("&", pairs);
  }

  private static byte[] sha256(byte[] data) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(data);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  private static byte[] hmac(byte[] key, String data) {
    try {
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(new SecretKeySpec(key, "HmacSHA256"));
      return mac.doFinal(data.getBytes(StandardCharsets.UTF_8));
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  private static String hex(byte[] b) {
    return HexFormat.of().formatHex(b);
  }

  @Override
  public void close() {
    try {
      vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new IllegalStateException("SES simulator did not stop", e);
    }
  }
}
