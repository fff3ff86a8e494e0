package io.mailgate.api.mailgun;

import io.mailgate.tenant.AdminService;
import io.mailgate.tenant.Tenant;
import io.vertx.core.Handler;
import io.vertx.ext.web.RoutingContext;
import java.nio.charset.StandardCharsets;
import java.util.Base64;

/**
 * Mailgun's authentication: HTTP Basic with the user {@code api} and the tenant's API key as the password. Anything
 * else answers 401 {@code Forbidden}, as Mailgun does. The request is paused while the key is looked up, so no body
 * byte is read before the caller is known.
 */
final class MailgunAuth implements Handler<RoutingContext> {

  private static final String TENANT = "mailgate.mailgun.tenant";

  private final AdminService admin;

  MailgunAuth(AdminService admin) {
    this.admin = admin;
  }

  static Tenant tenant(RoutingContext ctx) {
    return ctx.get(TENANT);
  }

  @Override
  public void handle(RoutingContext ctx) {
    String key = apiKey(ctx.request().getHeader("Authorization"));
    if (key == null) {
      ctx.fail(MailgunAnswer.forbidden());
      return;
    }
    if (!ctx.request().isEnded()) {
      ctx.request().pause();
    }
    admin.authenticate(key).onComplete(ar -> {
      if (ar.failed()) {
        ctx.fail(ar.cause());
      } else if (ar.result().isEmpty()) {
        ctx.fail(MailgunAnswer.forbidden());
      } else {
        ctx.put(TENANT, ar.result().get());
        ctx.next();
      }
    });
  }

  /** The password of {@code Authorization: Basic base64(api:<key>)}, or null for any other header. */
  static String apiKey(String header) {
    if (header == null || header.length() < 7 || !header.regionMatches(true, 0, "Basic ", 0, 6)) {
      return null;
    }
    String decoded;
    try {
      decoded = new String(Base64.getDecoder().decode(header.substring(6).trim()), StandardCharsets.UTF_8);
    } catch (IllegalArgumentException e) {
      return null;
    }
    int colon = decoded.indexOf(':');
    if (colon < 0 || !decoded.substring(0, colon).equals("api")) {
      return null;
    }
    String key = decoded.substring(colon + 1);
    return key.isEmpty() ? null : key;
  }
}
