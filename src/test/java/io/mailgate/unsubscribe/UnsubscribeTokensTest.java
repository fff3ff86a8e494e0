package io.mailgate.unsubscribe;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mailgate.tenant.SecretBox;
import java.util.Base64;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(value = 1, unit = TimeUnit.MINUTES)
class UnsubscribeTokensTest {

  private static final byte[] KEY = SecretBox.fromBase64(SecretBox.generateKey()).derive(UnsubscribeTokens.KEY_PURPOSE);
  private final UnsubscribeTokens tokens = new UnsubscribeTokens(KEY, "https://mail.acme.example");
  private final UUID tenant = UUID.randomUUID();
  private final UUID job = UUID.randomUUID();

  @Test
  void aMintedTokenNamesItsTenantJobAndRecipient() {
    String t = tokens.mint(tenant, job, 41);
    assertEquals(UnsubscribeTokens.LENGTH, t.length());
    assertTrue(t.matches("[A-Za-z0-9_-]+"), t);
    assertEquals(Optional.of(new UnsubscribeTokens.Target(tenant, job, 41)), tokens.verify(t));
  }

  @Test
  void everyAlteredCharacterIsRefused() {
    String t = tokens.mint(tenant, job, 7);
    for (int i = 0; i < t.length(); i++) {
      char c = t.charAt(i);
      String altered = t.substring(0, i) + (c == 'A' ? 'B' : 'A') + t.substring(i + 1);
      assertEquals(Optional.empty(), tokens.verify(altered), "position " + i);
    }
  }

  @Test
  void aTokenOfAnotherKeyOrAnotherRecipientIsRefused() {
    UnsubscribeTokens other = new UnsubscribeTokens(SecretBox.fromBase64(SecretBox.generateKey()).derive(UnsubscribeTokens.KEY_PURPOSE), null);
    assertEquals(Optional.empty(), tokens.verify(other.mint(tenant, job, 7)));
    // the MAC of seq 7 under seq 8's payload
    byte[] raw = Base64.getUrlDecoder().decode(tokens.mint(tenant, job, 7));
    raw[36] = 8;
    assertEquals(Optional.empty(), tokens.verify(Base64.getUrlEncoder().withoutPadding().encodeToString(raw)));
  }

  @Test
  void malformedTokensAreRefused() {
    for (String t : new String[] {null, "", "x", "!".repeat(UnsubscribeTokens.LENGTH), tokens.mint(tenant, job, 1) + "A"}) {
      assertEquals(Optional.empty(), tokens.verify(t));
    }
  }

  @Test
  void linksNeedThePublicUrl() {
    assertEquals("https://mail.acme.example/u/" + tokens.mint(tenant, job, 3), tokens.forJob(tenant, job, null).url(3));
    assertEquals("<https://mail.acme.example/u/" + tokens.mint(tenant, job, 3) + ">, <mailto:unsub@acme.example>",
        tokens.forJob(tenant, job, "unsub@acme.example").header(3));
    UnsubscribeTokens noUrl = new UnsubscribeTokens(KEY, null);
    assertThrows(IllegalStateException.class, () -> noUrl.forJob(tenant, job, null));
    assertEquals(Optional.of(new UnsubscribeTokens.Target(tenant, job, 3)), noUrl.verify(tokens.mint(tenant, job, 3)));
  }

  @Test
  void theDerivedKeyIsNotTheSecretKeyAndIsStable() {
    String secret = SecretBox.generateKey();
    byte[] a = SecretBox.fromBase64(secret).derive(UnsubscribeTokens.KEY_PURPOSE);
    byte[] b = SecretBox.fromBase64(secret).derive(UnsubscribeTokens.KEY_PURPOSE);
    assertEquals(Base64.getEncoder().encodeToString(a), Base64.getEncoder().encodeToString(b));
    assertNotEquals(secret, Base64.getEncoder().encodeToString(a));
  }
}
