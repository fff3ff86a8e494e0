package io.mailgate.api;

import org.junit.jupiter.api.Timeout;
import java.util.concurrent.TimeUnit;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mailgate.support.Api;
import io.mailgate.support.Api.TenantKey;
import io.mailgate.support.DkimVerifiers;
import io.mailgate.support.DkimVerifiers.Verdict;
import io.mailgate.support.ScriptedSmtpServer;
import io.mailgate.support.TestDatabase;
import io.mailgate.support.TestGateway;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyFactory;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.interfaces.EdECPrivateKey;
import java.security.interfaces.RSAPrivateCrtKey;
import java.security.interfaces.RSAPublicKey;
import java.security.spec.ECGenParameterSpec;
import java.security.spec.X509EncodedKeySpec;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * DKIM through the operator API and the whole gateway: tenant domains, keys (generated and imported, never shown),
 * and messages received by an SMTP server or written by the file backend, checked by independent verifiers.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class DkimApiTest {

  private static final String ADMIN = TestGateway.ADMIN_TOKEN;
  private static final Duration TIMEOUT = Duration.ofSeconds(60);

  static TestGateway gw;
  static Api api;
  static ScriptedSmtpServer smtp;

  @BeforeAll
  static void start() {
    smtp = new ScriptedSmtpServer().start();
    gw = TestGateway.start(TestDatabase.fresh());
    api = gw.api.overHttp11();
  }

  @AfterAll
  static void stop() {
    gw.close();
    smtp.close();
  }

  // --- domains

  @Test
  void putDomainsReplacesTheSetAndAnswersItLowercaseSortedAndDistinct() {
    TenantKey t = api.createTenant("dom-put", "eu");
    Api.Response r = putDomains(t, "Zeta.example", "acme-put.example", "zeta.example", "mail.acme-put.example");
    assertEquals(200, r.status(), r.text());
    assertEquals(new JsonArray(List.of("acme-put.example", "mail.acme-put.example", "zeta.example")),
        r.json().getJsonArray("domains"));
    Api.Response get = api.get(domainsPath(t), ADMIN);
    assertEquals(200, get.status(), get.text());
    assertEquals(r.json(), get.json());

    Api.Response replaced = putDomains(t, "acme-put.example");
    assertEquals(200, replaced.status(), replaced.text());
    assertEquals(new JsonArray(List.of("acme-put.example")), api.get(domainsPath(t), ADMIN).json().getJsonArray("domains"));
    assertEquals(new JsonArray(), putDomains(t).json().getJsonArray("domains"), "an empty list removes every domain");
  }

  @Test
  void domainOwnedByAnotherTenantIsRefusedWith409AndNothingChanges() {
    TenantKey owner = api.createTenant("dom-owner", "eu");
    TenantKey other = api.createTenant("dom-other", "eu");
    Api.expect(putDomains(owner, "owned.example"), 200);
    Api.expect(putDomains(other, "other.example"), 200);

    Api.Response r = putDomains(other, "other.example", "OWNED.example", "new.example");
    assertEquals(409, r.status(), r.text());
    assertEquals("domain_taken", r.errorCode());
    assertEquals(new JsonArray(List.of("other.example")), api.get(domainsPath(other), ADMIN).json().getJsonArray("domains"),
        "a refused request changes nothing");
    assertEquals(new JsonArray(List.of("owned.example")), api.get(domainsPath(owner), ADMIN).json().getJsonArray("domains"));
  }

  static Stream<Arguments> invalidDomains() {
    return Stream.of(Arguments.of("localhost"), Arguments.of("-bad.example"), Arguments.of("a..example"),
        Arguments.of("exa mple.com"), Arguments.of("1.2.3.4"), Arguments.of("ex_ample.com"), Arguments.of("example.com."),
        Arguments.of("bücher.example"), Arguments.of("x".repeat(64) + ".example"), Arguments.of(42), Arguments.of(""));
  }

  @ParameterizedTest
  @MethodSource("invalidDomains")
  void invalidDomainIsRefusedWith400(Object domain) {
    TenantKey t = api.createTenant("dom-bad-" + UUID.randomUUID().toString().substring(0, 8), "eu");
    Api.Response r = api.put(domainsPath(t), ADMIN, new JsonObject().put("domains", new JsonArray().add("fine.example").add(domain)));
    assertEquals(400, r.status(), r.text());
    assertEquals("domains[1]", r.json().getJsonObject("error").getString("field"), r.text());
    assertEquals(new JsonArray(), api.get(domainsPath(t), ADMIN).json().getJsonArray("domains"));
  }

  @Test
  void malformedDomainBodiesAre400AndUnknownTenantIs404() {
    TenantKey t = api.createTenant("dom-body", "eu");
    assertEquals("missing_field", api.put(domainsPath(t), ADMIN, new JsonObject()).errorCode());
    assertEquals("invalid_field", api.put(domainsPath(t), ADMIN, new JsonObject().put("domains", "a.example")).errorCode());
    assertEquals("unknown_field", api.put(domainsPath(t), ADMIN,
        new JsonObject().put("domains", new JsonArray()).put("domain", "a.example")).errorCode());
    String unknown = "/v1/admin/tenants/" + UUID.randomUUID() + "/domains";
    assertEquals(404, api.put(unknown, ADMIN, new JsonObject().put("domains", new JsonArray().add("a.example"))).status());
    assertEquals(404, api.get(unknown, ADMIN).status());
    assertEquals(404, api.get("/v1/admin/tenants/not-a-uuid/dkim", ADMIN).status());
  }

  @Test
  void tenantKeyOnTheDkimRoutesIs403AndNoTokenIs401() {
    TenantKey t = api.createTenant("dom-auth", "eu");
    assertEquals(403, api.get(domainsPath(t), t.apiKey()).status());
    assertEquals(403, api.put(domainsPath(t), t.apiKey(), new JsonObject().put("domains", new JsonArray().add("x.example"))).status());
    assertEquals(403, api.post(dkimPath(t), t.apiKey(), new JsonObject().put("domain", "x.example").put("selector", "s")).status());
    assertEquals(403, api.get(dkimPath(t), t.apiKey()).status());
    assertEquals(401, api.get(dkimPath(t), null).status());
    assertEquals(new JsonArray(), api.get(domainsPath(t), ADMIN).json().getJsonArray("domains"), "nothing was stored");
  }

  // --- keys

  @Test
  void generatedRsaKeyAnswers201WithTheDnsRecordAndNeverThePrivateKey() throws Exception {
    TenantKey t = api.createTenant("key-gen", "eu");
    Api.expect(putDomains(t, "gen.example"), 200);
    Api.Response r = api.post(dkimPath(t), ADMIN, new JsonObject().put("domain", "Gen.Example").put("selector", "s2026"));
    assertEquals(201, r.status(), r.text());
    JsonObject k = r.json();
    assertEquals(Set.of("id", "domain", "selector", "algorithm", "dnsName", "dnsRecord", "createdAt"), k.fieldNames());
    UUID.fromString(k.getString("id"));
    assertNotNull(Instant.parse(k.getString("createdAt")));
    assertEquals("gen.example", k.getString("domain"));
    assertEquals("s2026", k.getString("selector"));
    assertEquals("rsa-sha256", k.getString("algorithm"));
    assertEquals("s2026._domainkey.gen.example", k.getString("dnsName"));
    String record = k.getString("dnsRecord");
    assertTrue(record.matches("v=DKIM1; k=rsa; p=[A-Za-z0-9+/]+=*"), record);
    RSAPublicKey pub = (RSAPublicKey) KeyFactory.getInstance("RSA")
        .generatePublic(new X509EncodedKeySpec(Base64.getDecoder().decode(record.substring(record.indexOf("p=") + 2))));
    assertEquals(2048, pub.getModulus().bitLength());
    assertFalse(r.text().toLowerCase().contains("private"), r.text());

    Api.Response list = api.get(dkimPath(t), ADMIN);
    assertEquals(200, list.status(), list.text());
    JsonArray items = list.json().getJsonArray("items");
    assertEquals(1, items.size());
    assertEquals(k, items.getJsonObject(0), "the list shows the same key, and nothing more");
    assertFalse(list.text().toLowerCase().contains("private"), list.text());
    assertEquals(1, TestDatabase.count(gw.db, "SELECT count(*) FROM dkim_keys WHERE id = '" + k.getString("id")
        + "' AND length(private_key_sealed) > 1000"), "the private key is stored, sealed");
  }

  static Stream<Arguments> importedKeys() throws Exception {
    KeyPairGenerator rsa = KeyPairGenerator.getInstance("RSA");
    rsa.initialize(2048);
    KeyPair rsa2048 = rsa.generateKeyPair();
    rsa.initialize(3072);
    KeyPair rsa3072 = rsa.generateKeyPair();
    KeyPair ed = KeyPairGenerator.getInstance("Ed25519").generateKeyPair();
    byte[] edSpki = ed.getPublic().getEncoded();
    return Stream.of(
        Arguments.of("PKCS#8 RSA", pem("PRIVATE KEY", rsa2048.getPrivate().getEncoded()), null, "rsa",
            rsa2048.getPublic().getEncoded(), ((RSAPrivateCrtKey) rsa2048.getPrivate()).getPrivateExponent().toByteArray()),
        Arguments.of("PKCS#1 RSA", pem("RSA PRIVATE KEY", pkcs1(rsa3072.getPrivate().getEncoded())), "rsa-sha256", "rsa",
            rsa3072.getPublic().getEncoded(), ((RSAPrivateCrtKey) rsa3072.getPrivate()).getPrivateExponent().toByteArray()),
        Arguments.of("PKCS#8 Ed25519", pem("PRIVATE KEY", ed.getPrivate().getEncoded()), "ed25519-sha256", "ed25519",
            Arrays.copyOfRange(edSpki, edSpki.length - 32, edSpki.length), ((EdECPrivateKey) ed.getPrivate()).getBytes().orElseThrow()));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("importedKeys")
  void importedKeyIsAcceptedPublishedAndNeverShown(String name, String pem, String algorithm, String keyType,
                                                   byte[] publicValue, byte[] secret) throws Exception {
    String suffix = UUID.randomUUID().toString().substring(0, 8);
    TenantKey t = api.createTenant("key-imp-" + suffix, "eu");
    Api.expect(putDomains(t, "imported-" + suffix + ".example"), 200);
    JsonObject body = new JsonObject().put("domain", "imported-" + suffix + ".example").put("selector", "imp1").put("privateKeyPem", pem);
    if (algorithm != null) {
      body.put("algorithm", algorithm);
    }
    Api.Response r = api.post(dkimPath(t), ADMIN, body);
    assertEquals(201, r.status(), name + ": " + r.text());
    assertEquals("v=DKIM1; k=" + keyType + "; p=" + Base64.getEncoder().encodeToString(publicValue),
        r.json().getString("dnsRecord"), "the record publishes the key's own public half");
    assertEquals(keyType.equals("rsa") ? "rsa-sha256" : "ed25519-sha256", r.json().getString("algorithm"));

    for (Api.Response a : List.of(r, api.get(dkimPath(t), ADMIN), api.get(domainsPath(t), ADMIN))) {
      assertNoSecret(a.text(), secret);
      assertFalse(a.text().contains("PRIVATE"), a.text());
    }
    try (Connection c = TestDatabase.jdbc(gw.db);
         PreparedStatement ps = c.prepareStatement("SELECT private_key_sealed FROM dkim_keys WHERE id = ?")) {
      ps.setObject(1, UUID.fromString(r.json().getString("id")));
      try (ResultSet rs = ps.executeQuery()) {
        assertTrue(rs.next());
        byte[] sealed = rs.getBytes(1);
        assertFalse(contains(sealed, Arrays.copyOfRange(secret, 0, 16)), "the stored key is encrypted");
      }
    }
  }

  static Stream<Arguments> refusedKeys() throws Exception {
    KeyPairGenerator rsa = KeyPairGenerator.getInstance("RSA");
    rsa.initialize(1024);
    KeyPair weak = rsa.generateKeyPair();
    rsa.initialize(2048);
    KeyPair ok = rsa.generateKeyPair();
    KeyPairGenerator ec = KeyPairGenerator.getInstance("EC");
    ec.initialize(new ECGenParameterSpec("secp256r1"));
    String okPem = pem("PRIVATE KEY", ok.getPrivate().getEncoded());
    return Stream.of(
        Arguments.of("RSA 1024", new JsonObject().put("privateKeyPem", pem("PRIVATE KEY", weak.getPrivate().getEncoded())), "weak_key"),
        Arguments.of("PKCS#1 RSA 1024", new JsonObject().put("privateKeyPem", pem("RSA PRIVATE KEY",
            pkcs1(weak.getPrivate().getEncoded()))), "weak_key"),
        Arguments.of("not PEM", new JsonObject().put("privateKeyPem", "hello"), "invalid_key"),
        Arguments.of("bad base64", new JsonObject().put("privateKeyPem",
            "-----BEGIN PRIVATE KEY-----\n!!!!\n-----END PRIVATE KEY-----\n"), "invalid_key"),
        Arguments.of("truncated", new JsonObject().put("privateKeyPem", okPem.substring(0, 200)
            + "\n-----END PRIVATE KEY-----\n"), "invalid_key"),
        Arguments.of("EC key", new JsonObject().put("privateKeyPem", pem("PRIVATE KEY", ec.generateKeyPair().getPrivate().getEncoded())),
            "invalid_key"),
        Arguments.of("encrypted", new JsonObject().put("privateKeyPem", pem("ENCRYPTED PRIVATE KEY", new byte[] {1, 2, 3})),
            "invalid_key"),
        Arguments.of("algorithm does not match the key", new JsonObject().put("privateKeyPem", okPem)
            .put("algorithm", "ed25519-sha256"), "invalid_key"),
        Arguments.of("unknown algorithm", new JsonObject().put("algorithm", "rsa-sha1"), "invalid_field"),
        Arguments.of("misspelt field", new JsonObject().put("privateKey", okPem), "unknown_field"),
        Arguments.of("bad selector", new JsonObject().put("selector", "no_underscores"), "invalid_field"),
        Arguments.of("no selector", new JsonObject().putNull("selector"), "missing_field"),
        Arguments.of("bad domain", new JsonObject().put("domain", "not a domain"), "invalid_domain"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("refusedKeys")
  void malformedOrWeakKeyIsRefusedWith400AndNothingIsStored(String name, JsonObject overrides, String code) {
    String suffix = UUID.randomUUID().toString().substring(0, 8);
    TenantKey t = api.createTenant("key-bad-" + suffix, "eu");
    Api.expect(putDomains(t, "refused-" + suffix + ".example"), 200);
    JsonObject body = new JsonObject().put("domain", "refused-" + suffix + ".example").put("selector", "s1").mergeIn(overrides);
    if (body.getValue("selector") == null) {
      body.remove("selector");
    }
    Api.Response r = api.post(dkimPath(t), ADMIN, body);
    assertEquals(400, r.status(), name + ": " + r.text());
    assertEquals(code, r.errorCode(), r.text());
    assertEquals(0, api.get(dkimPath(t), ADMIN).json().getJsonArray("items").size());
  }

  @Test
  void keyForADomainTheTenantDoesNotOwnIs422() {
    TenantKey owner = api.createTenant("key-owner", "eu");
    TenantKey intruder = api.createTenant("key-intruder", "eu");
    Api.expect(putDomains(owner, "victim.example"), 200);
    Api.expect(putDomains(intruder, "intruder.example"), 200);
    Api.Response r = api.post(dkimPath(intruder), ADMIN, new JsonObject().put("domain", "victim.example").put("selector", "s1"));
    assertEquals(422, r.status(), r.text());
    assertEquals("domain_not_owned", r.errorCode());
    Api.Response nobody = api.post(dkimPath(intruder), ADMIN, new JsonObject().put("domain", "nobody.example").put("selector", "s1"));
    assertEquals(422, nobody.status(), nobody.text());
    assertEquals(0, api.get(dkimPath(intruder), ADMIN).json().getJsonArray("items").size());
    assertEquals(0, api.get(dkimPath(owner), ADMIN).json().getJsonArray("items").size());
    assertEquals(404, api.post("/v1/admin/tenants/" + UUID.randomUUID() + "/dkim", ADMIN,
        new JsonObject().put("domain", "victim.example").put("selector", "s1")).status());
  }

  @Test
  void sameSelectorTwiceIs409AndSeveralSelectorsAreListedNewestFirst() {
    TenantKey t = api.createTenant("key-sel", "eu");
    Api.expect(putDomains(t, "sel.example"), 200);
    Api.Response first = generate(t, "sel.example", "one", null);
    Api.Response again = api.post(dkimPath(t), ADMIN, new JsonObject().put("domain", "sel.example").put("selector", "ONE"));
    assertEquals(409, again.status(), again.text());
    assertEquals("selector_exists", again.errorCode());
    Api.Response second = generate(t, "sel.example", "two", "ed25519-sha256");
    assertTrue(second.json().getString("dnsRecord").matches("v=DKIM1; k=ed25519; p=[A-Za-z0-9+/]{43}="), second.text());
    JsonArray items = api.get(dkimPath(t), ADMIN).json().getJsonArray("items");
    assertEquals(List.of(second.json().getString("id"), first.json().getString("id")),
        List.of(items.getJsonObject(0).getString("id"), items.getJsonObject(1).getString("id")));
  }

  @Test
  void removingADomainWithKeysIs409UntilItsKeysAreDeleted() {
    TenantKey t = api.createTenant("key-rm", "eu");
    Api.expect(putDomains(t, "keep.example", "drop.example"), 200);
    String keyId = generate(t, "drop.example", "s1", null).json().getString("id");

    Api.Response r = putDomains(t, "keep.example");
    assertEquals(409, r.status(), r.text());
    assertEquals("domain_has_keys", r.errorCode());
    assertTrue(r.json().getJsonObject("error").getString("message").contains("drop.example"), r.text());
    assertEquals(2, api.get(domainsPath(t), ADMIN).json().getJsonArray("domains").size());

    assertEquals(404, api.send("DELETE", dkimPath(t) + "/" + UUID.randomUUID(), ADMIN, null, null, Map.of()).status());
    TenantKey other = api.createTenant("key-rm-other", "eu");
    assertEquals(404, api.send("DELETE", dkimPath(other) + "/" + keyId, ADMIN, null, null, Map.of()).status(),
        "another tenant's key is not found");
    assertEquals(204, api.send("DELETE", dkimPath(t) + "/" + keyId, ADMIN, null, null, Map.of()).status());
    assertEquals(0, api.get(dkimPath(t), ADMIN).json().getJsonArray("items").size());
    Api.Response removed = putDomains(t, "keep.example");
    assertEquals(200, removed.status(), removed.text());
    assertEquals(new JsonArray(List.of("keep.example")), removed.json().getJsonArray("domains"));
  }

  // --- signing, end to end

  @Test
  void messagesSentOverSmtpAreSignedWithTheTenantsRsaKeyAndVerify() {
    TenantKey t = api.tenantOnSmtp("sign-rsa", smtp.port(), null);
    Api.expect(putDomains(t, "rsa-signed.example"), 200);
    JsonObject key = generate(t, "rsa-signed.example", "s2026", null).json();

    List<ScriptedSmtpServer.Received> got = send(t, "Acme News <news@rsa-signed.example>", "rsa", 3, new JsonObject()
        .put("subject", "Grüße, {{name}} — 5 €")
        .put("text", "Liebe {{name}},\nÄrger über Öl?\n.a line with a dot\n")
        .put("html", "<p>Liebe {{name}}, <b>Ärger</b> über Öl?</p>")
        .put("headers", new JsonObject().put("X-Campaign", "spring")));
    for (ScriptedSmtpServer.Received m : got) {
      byte[] data = m.data().getBytes(StandardCharsets.UTF_8);
      assertTrue(m.data().replace("\r\n ", " ").startsWith(
          "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=rsa-signed.example; s=s2026;"), m.data());
      Verdict v = DkimVerifiers.jdkim(data, key.getString("dnsName"), key.getString("dnsRecord"));
      assertTrue(v.valid(), v.detail() + "\n" + m.data());
      Verdict py = DkimVerifiers.dkimpy(data, key.getString("dnsName"), key.getString("dnsRecord"));
      assertTrue(py.valid(), py.detail());
    }
  }

  @Test
  void messagesSentOverSmtpAreSignedWithAnEd25519KeyAndVerifyWithDkimpy() {
    TenantKey t = api.tenantOnSmtp("sign-ed", smtp.port(), null);
    Api.expect(putDomains(t, "ed-signed.example"), 200);
    JsonObject key = generate(t, "ed-signed.example", "ed1", "ed25519-sha256").json();
    List<ScriptedSmtpServer.Received> got = send(t, "news@ed-signed.example", "ed", 2, new JsonObject()
        .put("subject", "Hello {{name}}").put("text", "Hi {{name}}, ça va?").put("html", "<p>Hi {{name}}</p>"));
    for (ScriptedSmtpServer.Received m : got) {
      assertTrue(m.data().startsWith("DKIM-Signature: v=1; a=ed25519-sha256;"), m.data());
      Verdict v = DkimVerifiers.dkimpy(m.data().getBytes(StandardCharsets.UTF_8), key.getString("dnsName"), key.getString("dnsRecord"));
      assertTrue(v.valid(), v.detail());
    }
  }

  @Test
  void fromDomainIsMatchedCaseInsensitivelyAndTheNewestKeySigns() {
    TenantKey t = api.tenantOnSmtp("sign-case", smtp.port(), null);
    Api.expect(putDomains(t, "case-signed.example"), 200);
    JsonObject old = generate(t, "case-signed.example", "old", null).json();
    JsonObject newest = generate(t, "case-signed.example", "new", null).json();
    List<ScriptedSmtpServer.Received> got = send(t, "news@Case-Signed.EXAMPLE", "case", 1,
        new JsonObject().put("subject", "Hi").put("text", "Hi {{name}}"));
    byte[] data = got.get(0).data().getBytes(StandardCharsets.UTF_8);
    assertTrue(DkimVerifiers.jdkim(data, newest.getString("dnsName"), newest.getString("dnsRecord")).valid(), got.get(0).data());
    assertFalse(DkimVerifiers.jdkim(data, old.getString("dnsName"), old.getString("dnsRecord")).valid());
  }

  @Test
  void messageFromADomainWithoutAKeyIsNotSigned() {
    TenantKey t = api.tenantOnSmtp("sign-none", smtp.port(), null);
    Api.expect(putDomains(t, "keyed.example", "unkeyed.example"), 200);
    generate(t, "keyed.example", "s1", null);
    for (String from : List.of("news@unkeyed.example", "news@not-owned.example", "news@sub.keyed.example")) {
      List<ScriptedSmtpServer.Received> got = send(t, from, "none-" + from.substring(5, 12), 2,
          new JsonObject().put("subject", "Hi").put("text", "Hi {{name}}"));
      for (ScriptedSmtpServer.Received m : got) {
        assertFalse(m.data().toLowerCase().contains("dkim-signature"), from + ": " + m.data());
      }
    }
  }

  @Test
  void tenantCannotSignAsAnotherTenantsDomain() {
    TenantKey owner = api.tenantOnSmtp("sign-owner", smtp.port(), null);
    Api.expect(putDomains(owner, "brand.example"), 200);
    generate(owner, "brand.example", "s1", null);
    TenantKey impostor = api.tenantOnSmtp("sign-impostor", smtp.port(), null);
    Api.expect(putDomains(impostor, "impostor.example"), 200);
    generate(impostor, "impostor.example", "s1", null);

    List<ScriptedSmtpServer.Received> got = send(impostor, "ceo@brand.example", "impostor", 2,
        new JsonObject().put("subject", "Urgent").put("text", "Pay {{name}}"));
    for (ScriptedSmtpServer.Received m : got) {
      assertFalse(m.data().toLowerCase().contains("dkim-signature"), m.data());
    }
    // the owner's own mail from that domain is signed
    List<ScriptedSmtpServer.Received> own = send(owner, "news@brand.example", "owner", 1,
        new JsonObject().put("subject", "News").put("text", "Hi {{name}}"));
    assertTrue(own.get(0).data().startsWith("DKIM-Signature:"), own.get(0).data());
  }

  @Test
  void fileBackendWritesSignedMessagesThatVerify() throws Exception {
    Path dir = Files.createTempDirectory("mailgate-dkim-files");
    api.createBackend("dkim-files", "file", "eu", new JsonObject().put("dir", dir.toString()));
    TenantKey t = api.createTenant("sign-file", "eu");
    api.route(t, "dkim-files");
    Api.expect(putDomains(t, "file-signed.example"), 200);
    JsonObject key = generate(t, "file-signed.example", "f1", null).json();

    JsonArray recipients = new JsonArray();
    for (int i = 0; i < 3; i++) {
      recipients.add(new JsonObject().put("email", "file" + i + "@example.com").put("vars", new JsonObject().put("name", "Zoë " + i)));
    }
    Api.Response accepted = api.submitJson(t, new JsonObject().put("from", "news@file-signed.example")
        .put("subject", "Für {{name}}").put("text", "Hallo {{name}}\n").put("html", "<p>Hallo {{name}}</p>")
        .put("recipients", recipients));
    Api.expect(accepted, 202);
    String id = accepted.json().getString("id");
    api.awaitState(t, id, "completed", TIMEOUT);
    List<Path> files;
    try (Stream<Path> s = Files.list(dir.resolve(id))) {
      files = s.filter(p -> p.toString().endsWith(".eml")).toList();
    }
    assertEquals(3, files.size(), files.toString());
    for (Path f : files) {
      byte[] eml = Files.readAllBytes(f);
      assertTrue(new String(eml, StandardCharsets.ISO_8859_1).startsWith("DKIM-Signature: v=1; a=rsa-sha256;"), f.toString());
      Verdict v = DkimVerifiers.jdkim(eml, key.getString("dnsName"), key.getString("dnsRecord"));
      assertTrue(v.valid(), f + ": " + v.detail());
    }
  }

  // --- helpers

  private static String domainsPath(TenantKey t) {
    return "/v1/admin/tenants/" + t.id() + "/domains";
  }

  private static String dkimPath(TenantKey t) {
    return "/v1/admin/tenants/" + t.id() + "/dkim";
  }

  private static Api.Response putDomains(TenantKey t, String... domains) {
    return api.put(domainsPath(t), ADMIN, new JsonObject().put("domains", new JsonArray(List.of(domains))));
  }

  private static Api.Response generate(TenantKey t, String domain, String selector, String algorithm) {
    JsonObject body = new JsonObject().put("domain", domain).put("selector", selector);
    if (algorithm != null) {
      body.put("algorithm", algorithm);
    }
    Api.Response r = api.post(dkimPath(t), ADMIN, body);
    Api.expect(r, 201);
    return r;
  }

  /** Submits a job to n recipients, waits until every one is sent, and answers what the SMTP server received for them. */
  private static List<ScriptedSmtpServer.Received> send(TenantKey t, String from, String prefix, int n, JsonObject job) {
    String tag = prefix + "-" + UUID.randomUUID().toString().substring(0, 8);
    JsonArray recipients = new JsonArray();
    List<String> emails = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      String email = tag + "-" + i + "@example.com";
      emails.add(email);
      recipients.add(new JsonObject().put("email", email).put("vars", new JsonObject().put("name", "Zoë " + i)));
    }
    Api.Response accepted = api.submitJson(t, job.copy().put("from", from).put("recipients", recipients));
    Api.expect(accepted, 202);
    JsonObject done = api.awaitState(t, accepted.json().getString("id"), "completed", TIMEOUT);
    assertEquals(n, done.getJsonObject("counts").getInteger("sent"), done.encode());
    List<ScriptedSmtpServer.Received> got = smtp.received().stream().filter(m -> emails.contains(m.rcptTo().get(0))).toList();
    assertEquals(n, got.size());
    return got;
  }

  private static String pem(String type, byte[] der) {
    return "-----BEGIN " + type + "-----\n" + Base64.getMimeEncoder(64, new byte[] {'\n'}).encodeToString(der)
        + "\n-----END " + type + "-----\n";
  }

  /** The PKCS#1 RSAPrivateKey inside a PKCS#8 PrivateKeyInfo (the OCTET STRING after the version and algorithm). */
  private static byte[] pkcs1(byte[] pkcs8) {
    int i = header(pkcs8, 0)[0]; // into the outer SEQUENCE
    int[] version = header(pkcs8, i);
    i = version[0] + version[1];
    int[] algorithm = header(pkcs8, i);
    i = algorithm[0] + algorithm[1];
    int[] octets = header(pkcs8, i);
    return Arrays.copyOfRange(pkcs8, octets[0], octets[0] + octets[1]);
  }

  /** A DER element at {@code at}: {content start, content length}. */
  private static int[] header(byte[] der, int at) {
    int len = der[at + 1] & 0xff;
    int start = at + 2;
    if (len >= 0x80) {
      int n = len & 0x7f;
      len = 0;
      for (int k = 0; k < n; k++) {
        len = (len << 8) | (der[start + k] & 0xff);
      }
      start += n;
    }
    return new int[] {start, len};
  }

  /** No run of 24 base64 characters of the secret (at any byte alignment) appears in the text. */
  private static void assertNoSecret(String text, byte[] secret) {
    for (int offset = 0; offset < 3; offset++) {
      String b64 = Base64.getEncoder().encodeToString(Arrays.copyOfRange(secret, offset, secret.length));
      for (int i = 0; i + 24 <= b64.length() - 4; i += 12) {
        assertFalse(text.contains(b64.substring(i, i + 24)), "a piece of the private key in an answer: " + text);
      }
    }
  }

  private static boolean contains(byte[] haystack, byte[] needle) {
    outer:
    for (int i = 0; i + needle.length <= haystack.length; i++) {
      for (int j = 0; j < needle.length; j++) {
        if (haystack[i + j] != needle[j]) {
          continue outer;
        }
      }
      return true;
    }
    return false;
  }
}
