package io.mailgate.webhook.out;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.mailgate.error.InvalidInputException;
import java.net.InetAddress;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The SSRF rules of webhook URLs: the URL's form, and which addresses calls may go to (literal addresses, no DNS). */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class UrlPolicyTest {

  private final UrlPolicy strict = new UrlPolicy(false, false);

  @ParameterizedTest
  @ValueSource(strings = {"0.0.0.0", "127.0.0.1", "127.8.9.10", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1",
      "100.64.0.1", "169.254.169.254", "224.0.0.1", "239.255.255.250", "240.0.0.1", "255.255.255.255", "192.0.0.8",
      "198.18.0.1", "::", "::1", "fe80::1", "fec0::1", "fc00::1", "fd12:3456::1", "ff02::1", "::ffff:127.0.0.1",
      "::ffff:10.0.0.1", "::127.0.0.1", "64:ff9b::a9fe:a9fe", "2002:7f00:1::", "2001:db8::1"})
  void refusesNonPublicAddresses(String address) throws Exception {
    assertNotNull(strict.refusal(InetAddress.getByName(address)), address);
  }

  @ParameterizedTest
  @ValueSource(strings = {"93.184.215.14", "8.8.8.8", "172.32.0.1", "100.128.0.1", "2606:2800:21f:cb07:6820:80da:af6b:8b2c",
      "::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::"})
  void acceptsPublicAddresses(String address) throws Exception {
    assertNull(strict.refusal(InetAddress.getByName(address)), address);
  }

  @Test
  void operatorSwitchAllowsPrivateAddresses() throws Exception {
    assertNull(new UrlPolicy(false, true).refusal(InetAddress.getByName("127.0.0.1")));
    assertNull(new UrlPolicy(false, true).refusal(InetAddress.getByName("::1")));
  }

  @Test
  void requiresHttpsUnlessAllowed() {
    InvalidInputException e = assertThrows(InvalidInputException.class, () -> strict.parse("http://hooks.example/x", "url"));
    assertEquals("invalid_url", e.code());
    assertEquals("http", new UrlPolicy(true, false).parse("http://hooks.example/x", "url").uri().getScheme());
    assertThrows(InvalidInputException.class, () -> strict.parse("ftp://hooks.example/x", "url"));
    assertThrows(InvalidInputException.class, () -> strict.parse("file:///etc/passwd", "url"));
  }

  @ParameterizedTest
  @ValueSource(strings = {"", "hooks.example/x", "https://", "https://user:pw@hooks.example/x", "https://hooks.example/x#frag",
      "https://hooks.example:0/x", "https://hooks.example:70000/x", "https://hooks example/x"})
  void refusesMalformedUrls(String url) {
    assertThrows(InvalidInputException.class, () -> strict.parse(url, "url"));
  }

  @Test
  void takesTheUrlApart() {
    UrlPolicy.Target t = strict.parse("https://Hooks.Example:8443/in/mg?x=1", "url");
    assertEquals("hooks.example", t.host());
    assertEquals(8443, t.port());
    assertEquals("/in/mg?x=1", t.pathAndQuery());
    UrlPolicy.Target v6 = strict.parse("https://[2001:4860::1]/", "url");
    assertEquals("2001:4860::1", v6.host());
    assertEquals(443, v6.port());
  }
}
