package io.mailgate.webhook.in;

import io.mailgate.backend.SettingsReader;
import io.mailgate.error.ForbiddenException;
import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.streams.WriteStream;
import io.vertx.ext.web.client.WebClient;
import io.vertx.ext.web.client.WebClientOptions;
import io.vertx.ext.web.codec.BodyCodec;
import java.io.ByteArrayInputStream;
import java.net.URI;
import java.net.URISyntaxException;
import java.security.PublicKey;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * What the SNS webhook fetches: signing certificates (only from URLs of the allowed scheme whose host matches the
 * backend's pattern, no redirects, at most {@code maxCertBytes}; kept by URL, at most {@code cacheSize}, the oldest
 * dropped first) and subscription confirmations (a GET of the SubscribeURL, under the same checks). Only finished
 * certificates are shared between event loops; a fetch under way is not, so a future never completes on another
 * loop. Thread-safe.
 */
final class SnsFetcher {

  private final WebClient client;
  private final int maxCertBytes;
  private final long timeoutMillis;
  private final Map<String, PublicKey> keys;

  SnsFetcher(Vertx vertx, int cacheSize, int maxCertBytes, Duration timeout) {
    this.client = WebClient.create(vertx, new WebClientOptions().setFollowRedirects(false).setMaxRedirects(0)
        .setUserAgent("mailgate").setConnectTimeout((int) Math.min(Integer.MAX_VALUE, timeout.toMillis())));
    this.maxCertBytes = maxCertBytes;
    this.timeoutMillis = timeout.toMillis();
    this.keys = java.util.Collections.synchronizedMap(new LinkedHashMap<>(16, 0.75f, false) {
      @Override
      protected boolean removeEldestEntry(Map.Entry<String, PublicKey> eldest) {
        return size() > cacheSize;
      }
    });
  }

  /** Throws {@link ForbiddenException} unless {@code url} has the scheme and a host the backend allows. */
  static URI allowed(String url, String what, String scheme, Pattern host) {
    URI u;
    try {
      u = url == null ? null : new URI(url);
    } catch (URISyntaxException e) {
      u = null;
    }
    if (u == null || u.getScheme() == null || u.getHost() == null || u.getRawUserInfo() != null) {
      throw new ForbiddenException("url_not_allowed", what + " is not a URL");
    }
    String s = u.getScheme().toLowerCase(Locale.ROOT);
    String h = u.getHost().toLowerCase(Locale.ROOT);
    // plain http only to a loopback host, as for every other URL a backend's settings name
    if (!s.equals(scheme) || s.equals("http") && !SettingsReader.isLoopbackHost(h) || !host.matcher(h).matches()) {
      throw new ForbiddenException("url_not_allowed", what + " is not on an allowed SNS host (snsCertHostPattern, snsCertScheme)");
    }
    return u;
  }

  /** The public key of the certificate at {@code url} (checked by the caller with {@link #allowed}). */
  Future<PublicKey> key(URI url) {
    String k = url.toString();
    PublicKey known = keys.get(k);
    if (known != null) {
      return Future.succeededFuture(known);
    }
    Limited sink = new Limited(maxCertBytes);
    return client.getAbs(k).timeout(timeoutMillis).as(BodyCodec.pipe(sink)).send()
        .recover(e -> Future.failedFuture(new ForbiddenException("certificate_unavailable",
            "the SNS signing certificate cannot be fetched: " + (sink.over ? "larger than MAILGATE_PROVIDER_HOOK_CERT_MAX_BYTES"
                : e.getClass().getSimpleName()))))
        .compose(resp -> {
          if (resp.statusCode() != 200) {
            return Future.failedFuture(new ForbiddenException("certificate_unavailable",
                "the SNS signing certificate cannot be fetched: HTTP " + resp.statusCode()));
          }
          try {
            X509Certificate cert = (X509Certificate) CertificateFactory.getInstance("X.509")
                .generateCertificate(new ByteArrayInputStream(sink.data.getBytes()));
            cert.checkValidity();
            keys.put(k, cert.getPublicKey());
            return Future.succeededFuture(cert.getPublicKey());
          } catch (CertificateException e) {
            return Future.failedFuture(new ForbiddenException("certificate_invalid",
                "the SNS signing certificate is not a valid X.509 certificate now"));
          }
        });
  }

  /** GETs a SubscribeURL (checked by the caller with {@link #allowed}); succeeds on a 200. */
  Future<Void> confirm(URI url) {
    return client.getAbs(url.toString()).timeout(timeoutMillis).as(BodyCodec.pipe(new Limited(maxCertBytes))).send()
        .compose(resp -> resp.statusCode() == 200 ? Future.succeededFuture()
            : Future.failedFuture(new IllegalStateException("HTTP " + resp.statusCode())));
  }

  void close() {
    client.close();
  }

  /** A body kept in memory up to a bound; past it, the write fails and so does the fetch. */
  private static final class Limited implements WriteStream<Buffer> {
    private final int max;
    final Buffer data = Buffer.buffer();
    boolean over;

    Limited(int max) {
      this.max = max;
    }

    @Override
    public WriteStream<Buffer> exceptionHandler(Handler<Throwable> handler) {
      return this;
    }

    @Override
    public Future<Void> write(Buffer b) {
      if (data.length() + b.length() > max) {
        over = true;
        return Future.failedFuture(new IllegalStateException("body larger than " + max + " bytes"));
      }
      data.appendBuffer(b);
      return Future.succeededFuture();
    }

    @Override
    public Future<Void> end() {
      return over ? Future.failedFuture(new IllegalStateException("body too large")) : Future.succeededFuture();
    }

    @Override
    public WriteStream<Buffer> setWriteQueueMaxSize(int maxSize) {
      return this;
    }

    @Override
    public boolean writeQueueFull() {
      return false;
    }

    @Override
    public WriteStream<Buffer> drainHandler(Handler<Void> handler) {
      return this;
    }
  }
}
