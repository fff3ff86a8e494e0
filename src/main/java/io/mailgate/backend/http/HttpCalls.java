package io.mailgate.backend.http;

import io.mailgate.backend.Outcome;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.PoolOptions;
import io.vertx.ext.web.client.HttpResponse;
import io.vertx.ext.web.client.WebClient;
import io.vertx.ext.web.client.WebClientOptions;
import java.util.concurrent.TimeoutException;
import java.util.function.Function;

/** What HTTP provider backends share around one API call: the client, and turning the answer into an outcome. */
public final class HttpCalls {

  private HttpCalls() {}

  /** A client for one backend instance: as many pooled connections as calls in flight, the connect timeout. */
  public static WebClient client(Vertx vertx, CallLimits limits, String userAgent) {
    WebClientOptions options = new WebClientOptions()
        .setConnectTimeout((int) Math.min(Integer.MAX_VALUE, limits.connectTimeout().toMillis()))
        .setKeepAlive(true)
        .setFollowRedirects(false)
        .setUserAgent(userAgent);
    return WebClient.create(vertx, options, new PoolOptions().setHttp1MaxSize(limits.maxConcurrentCalls()));
  }

  /**
   * The outcome of a call. 2xx goes to {@code accepted}; any other status to {@link HttpOutcomes} with the
   * provider's error text (from {@code errorText}); no answer to {@link #forError}.
   */
  public static Future<Outcome> outcome(Future<HttpResponse<Buffer>> response,
                                        Function<HttpResponse<Buffer>, Outcome> accepted,
                                        Function<String, String> errorText) {
    return response.map(r -> {
      if (r.statusCode() / 100 == 2) {
        return accepted.apply(r);
      }
      String body = r.bodyAsString();
      String text = body == null ? null : errorText.apply(body);
      return HttpOutcomes.forFailure(r.statusCode(), text, r.getHeader("Retry-After"));
    }).otherwise(HttpCalls::forError);
  }

  /**
   * No answer. The request timeout runs only once a connection is obtained and the request written, so a timeout
   * means the provider may have taken the call: deferred with {@code possibleDuplicate}. A refused or timed-out
   * connect means nothing was sent. A connection closed before the answer is counted as not accepted (it is
   * nearly always a stale pooled connection the request never reached).
   */
  public static Outcome forError(Throwable e) {
    if (e instanceof TimeoutException) {
      return new Outcome.Temporary(null, "no answer within the request timeout; the provider may have accepted the call: "
          + HttpOutcomes.shorten(String.valueOf(e.getMessage())), null, true, Outcome.Fault.BACKEND);
    }
    return HttpOutcomes.forNetworkError(e);
  }

  /** An accepted call whose answer lacks the provider's id: we cannot tell what happened. */
  public static Outcome unreadableAcceptance(HttpResponse<Buffer> r, String what) {
    String body = r.bodyAsString();
    return new Outcome.Temporary(r.statusCode(), "HTTP " + r.statusCode() + " without " + what
        + (body == null || body.isBlank() ? "" : ": " + HttpOutcomes.shorten(body)), null, true, Outcome.Fault.BACKEND);
  }

  /** "host:port" of an absolute URL (the port the scheme implies when none is given); null if it has no host. */
  public static String authority(String url) {
    try {
      java.net.URI u = java.net.URI.create(url);
      if (u.getHost() == null) {
        return null;
      }
      int port = u.getPort() >= 0 ? u.getPort() : "http".equalsIgnoreCase(u.getScheme()) ? 80 : 443;
      return u.getHost() + ":" + port;
    } catch (IllegalArgumentException e) {
      return null;
    }
  }
}
