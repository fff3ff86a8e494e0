package io.mailgate.webhook.out;

import io.mailgate.error.InvalidInputException;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.UnknownHostException;
import java.util.Locale;

/**
 * Where webhook calls may go (SSRF): an absolute https URL (http only with MAILGATE_WEBHOOK_ALLOW_HTTP) without user
 * information or fragment, whose host resolves only to public addresses: no loopback, private, link-local, unique
 * local, carrier-grade NAT, multicast, unspecified, broadcast or reserved address, IPv4 or IPv6, including IPv4
 * embedded in IPv6 (mapped, compatible, NAT64, 6to4), unless MAILGATE_WEBHOOK_ALLOW_PRIVATE. Checked at
 * registration and again before every call, and the call connects to the address checked (DNS rebinding).
 */
public final class UrlPolicy {

  /** A URL taken apart: {@code pathAndQuery} is what the request line carries. */
  public record Target(URI uri, boolean https, String host, int port, String pathAndQuery) {}

  /** The address a call connects to, checked. */
  public record Resolved(Target target, InetAddress address) {}

  private static final int MAX_URL_CHARS = 2000;

  private final boolean allowHttp;
  private final boolean allowPrivate;

  public UrlPolicy(boolean allowHttp, boolean allowPrivate) {
    this.allowHttp = allowHttp;
    this.allowPrivate = allowPrivate;
  }

  /** The URL's form alone (no name is resolved); a bad one is an {@link InvalidInputException} on {@code field}. */
  public Target parse(String url, String field) {
    if (url == null || url.isBlank()) {
      throw new InvalidInputException("missing_field", field + " is required", field);
    }
    if (url.length() > MAX_URL_CHARS) {
      throw new InvalidInputException("too_long", field + " is longer than " + MAX_URL_CHARS + " characters", field);
    }
    URI u;
    try {
      u = new URI(url.trim());
    } catch (URISyntaxException e) {
      throw new InvalidInputException("invalid_url", field + " is not a URL", field);
    }
    String scheme = u.getScheme() == null ? "" : u.getScheme().toLowerCase(Locale.ROOT);
    if (!u.isAbsolute() || u.getHost() == null || u.getHost().isEmpty()) {
      throw new InvalidInputException("invalid_url", field + " must be an absolute URL with a host", field);
    }
    if (!scheme.equals("https") && !(scheme.equals("http") && allowHttp)) {
      throw new InvalidInputException("invalid_url", field + " must use https" + (scheme.equals("http")
          ? " (plain http is allowed only when the operator sets MAILGATE_WEBHOOK_ALLOW_HTTP)" : ""), field);
    }
    if (u.getRawUserInfo() != null || u.getRawFragment() != null) {
      throw new InvalidInputException("invalid_url", field + " must not carry user information or a fragment", field);
    }
    boolean https = scheme.equals("https");
    int port = u.getPort() == -1 ? (https ? 443 : 80) : u.getPort();
    if (port < 1 || port > 65535) {
      throw new InvalidInputException("invalid_url", field + " has an invalid port", field);
    }
    String host = u.getHost();
    if (host.startsWith("[") && host.endsWith("]")) {
      host = host.substring(1, host.length() - 1);
    }
    String path = u.getRawPath() == null || u.getRawPath().isEmpty() ? "/" : u.getRawPath();
    return new Target(u, https, host.toLowerCase(Locale.ROOT), port,
        u.getRawQuery() == null ? path : path + "?" + u.getRawQuery());
  }

  /**
   * Resolves the host (on a worker thread: a lookup blocks) and checks every address it has; the first is the one
   * to connect to. A host with any refused address is refused whole.
   */
  public Future<Resolved> resolve(Vertx vertx, Target t, String field) {
    return vertx.<InetAddress[]>executeBlocking(() -> {
          try {
            return InetAddress.getAllByName(t.host());
          } catch (UnknownHostException e) {
            throw new InvalidInputException("invalid_url", field + ": the host " + t.host() + " does not resolve", field);
          }
        }, false)
        .map(all -> {
          for (InetAddress a : all) {
            String why = refusal(a);
            if (why != null) {
              throw new InvalidInputException("forbidden_url", field + ": " + t.host() + " resolves to " + why
                  + " address (" + a.getHostAddress() + "); webhooks call public addresses only", field);
            }
          }
          return new Resolved(t, all[0]);
        });
  }

  /** Why an address is refused ("a loopback", ...), or null when calls may go to it. */
  public String refusal(InetAddress a) {
    if (allowPrivate) {
      return null;
    }
    return kind(a);
  }

  /** What kind of non-public address this is, or null for a public one. */
  static String kind(InetAddress a) {
    if (a instanceof Inet6Address v6) {
      byte[] b = v6.getAddress();
      Inet4Address embedded = embeddedIpv4(b);
      if (embedded != null) {
        String k = kind(embedded);
        return k == null ? null : k + " (IPv4 in IPv6)";
      }
      if (v6.isAnyLocalAddress()) {
        return "an unspecified";
      }
      if (v6.isLoopbackAddress()) {
        return "a loopback";
      }
      if (v6.isLinkLocalAddress()) {
        return "a link-local";
      }
      if (v6.isSiteLocalAddress()) {
        return "a site-local (private)";
      }
      if (v6.isMulticastAddress()) {
        return "a multicast";
      }
      if ((b[0] & 0xfe) == 0xfc) {
        return "a unique local (private)";
      }
      if ((b[0] & 0xff) == 0x20 && (b[1] & 0xff) == 0x01 && (b[2] & 0xff) == 0x0d && (b[3] & 0xff) == 0xb8) {
        return "a documentation";
      }
      if ((b[0] & 0xe0) != 0x20) {
        return "a reserved"; // outside 2000::/3, the global unicast space
      }
      return null;
    }
    byte[] b = a.getAddress();
    int o0 = b[0] & 0xff;
    int o1 = b[1] & 0xff;
    if (o0 == 0) {
      return "an unspecified";
    }
    if (o0 == 127) {
      return "a loopback";
    }
    if (o0 == 10 || (o0 == 172 && o1 >= 16 && o1 <= 31) || (o0 == 192 && o1 == 168)) {
      return "a private";
    }
    if (o0 == 100 && o1 >= 64 && o1 <= 127) {
      return "a carrier-grade NAT (private)";
    }
    if (o0 == 169 && o1 == 254) {
      return "a link-local";
    }
    if (o0 >= 224 && o0 <= 239) {
      return "a multicast";
    }
    if (o0 >= 240) {
      return "a reserved or broadcast";
    }
    if ((o0 == 192 && o1 == 0 && (b[2] & 0xff) == 0) || (o0 == 198 && (o1 == 18 || o1 == 19))) {
      return "a reserved";
    }
    return null;
  }

  /** The IPv4 address inside an IPv4-mapped, IPv4-compatible, NAT64 (64:ff9b::/96) or 6to4 (2002::/16) one. */
  private static Inet4Address embeddedIpv4(byte[] b) {
    boolean zero80 = true;
    for (int i = 0; i < 10; i++) {
      zero80 &= b[i] == 0;
    }
    boolean mapped = zero80 && (b[10] & 0xff) == 0xff && (b[11] & 0xff) == 0xff;
    boolean compatible = zero80 && b[10] == 0 && b[11] == 0 && !(b[12] == 0 && b[13] == 0 && b[14] == 0 && (b[15] & 0xfe) == 0);
    boolean nat64 = (b[0] & 0xff) == 0x00 && (b[1] & 0xff) == 0x64 && (b[2] & 0xff) == 0xff && (b[3] & 0xff) == 0x9b;
    for (int i = 4; nat64 && i < 12; i++) {
      nat64 = b[i] == 0;
    }
    try {
      if (mapped || compatible || nat64) {
        return (Inet4Address) InetAddress.getByAddress(new byte[] {b[12], b[13], b[14], b[15]});
      }
      if ((b[0] & 0xff) == 0x20 && (b[1] & 0xff) == 0x02) {
        return (Inet4Address) InetAddress.getByAddress(new byte[] {b[2], b[3], b[4], b[5]});
      }
    } catch (UnknownHostException e) {
      throw new IllegalStateException(e);
    }
    return null;
  }
}
