package io.mailgate.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

@Timeout(value = 1, unit = TimeUnit.MINUTES)
class PublicConfigTest {

  @Test
  void publicEndpointsAreOffByDefault() {
    GatewayConfig.PublicConfig p = GatewayConfig.from(Map.of()).publicEndpoints();
    assertEquals(Optional.empty(), p.url());
    assertEquals(Optional.empty(), p.port());
    assertEquals("0.0.0.0", p.host());
    assertTrue(p.unsubscribeKey().isEmpty());
  }

  @Test
  void acceptsAnHttpsUrlAndDropsItsTrailingSlash() {
    GatewayConfig c = GatewayConfig.from(Map.of("MAILGATE_PUBLIC_URL", "https://mail.acme.example/gw/"));
    assertEquals(Optional.of("https://mail.acme.example/gw"), c.publicEndpoints().url());
  }

  @ParameterizedTest
  @ValueSource(strings = {"http://localhost:8080", "http://127.0.0.1:9000", "http://127.1.2.3", "http://[::1]:8080"})
  void acceptsPlainHttpOnlyOnLoopback(String url) {
    assertTrue(GatewayConfig.from(Map.of("MAILGATE_PUBLIC_URL", url)).publicEndpoints().url().isPresent());
  }

  @ParameterizedTest
  @ValueSource(strings = {"http://mail.acme.example", "http://10.0.0.1", "http://128.0.0.1", "http://127.0.0.1.evil.example",
      "http://localhost.evil.example:80/x"})
  void refusesPlainHttpOnANonLoopbackHost(String url) {
    ConfigException e = assertThrows(ConfigException.class, () -> GatewayConfig.from(Map.of("MAILGATE_PUBLIC_URL", url)));
    assertTrue(e.getMessage().contains("MAILGATE_PUBLIC_URL must use https"), e.getMessage());
  }

  @ParameterizedTest
  @ValueSource(strings = {"mail.acme.example", "ftp://mail.acme.example", "https://mail.acme.example/?a=b",
      "https://user@mail.acme.example", "https:///nohost", "https://mail.acme.example/#x"})
  void refusesWhatIsNotABaseUrl(String url) {
    ConfigException e = assertThrows(ConfigException.class, () -> GatewayConfig.from(Map.of("MAILGATE_PUBLIC_URL", url)));
    assertTrue(e.getMessage().startsWith("MAILGATE_PUBLIC_URL"), e.getMessage());
  }

  @Test
  void refusesAPublicPortThatIsTheMainPort() {
    ConfigException e = assertThrows(ConfigException.class,
        () -> GatewayConfig.from(Map.of("MAILGATE_HTTP_PORT", "8080", "MAILGATE_PUBLIC_PORT", "8080")));
    assertTrue(e.getMessage().contains("MAILGATE_PUBLIC_PORT"), e.getMessage());
  }

  @Test
  void readsThePublicListener() {
    GatewayConfig.PublicConfig p = GatewayConfig.from(Map.of("MAILGATE_PUBLIC_PORT", "8443", "MAILGATE_PUBLIC_HOST", "10.1.2.3"))
        .publicEndpoints();
    assertEquals(Optional.of(8443), p.port());
    assertEquals("10.1.2.3", p.host());
  }

  @Test
  void unsubscribeKeyMustBeLongEnoughAndIsNeverPrinted() {
    assertThrows(ConfigException.class, () -> GatewayConfig.from(Map.of("MAILGATE_UNSUBSCRIBE_KEY", "c2hvcnQ=")));
    String key = java.util.Base64.getEncoder().encodeToString(new byte[32]);
    GatewayConfig.PublicConfig p = GatewayConfig.from(Map.of("MAILGATE_UNSUBSCRIBE_KEY", key)).publicEndpoints();
    assertEquals(32, p.unsubscribeKey().orElseThrow().length);
    assertFalse(p.toString().contains(key));
  }
}
