package io.mailgate.api.mailgun;

import io.mailgate.error.InvalidInputException;
import io.mailgate.error.PayloadTooLargeException;
import io.mailgate.job.JobIntake;
import io.mailgate.job.JobSpecParser;
import io.mailgate.tenant.DkimService;
import io.mailgate.tenant.Tenant;
import io.netty.handler.codec.http.multipart.HttpPostRequestDecoder;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * {@code POST /v3/{domain}/messages}: Mailgun's send, as form fields ({@code application/x-www-form-urlencoded} or
 * {@code multipart/form-data}, decoded while the body streams in, within {@link #MAX_BODY_BYTES}), translated by
 * {@link MessageTranslation} into one of our jobs and submitted through {@link JobIntake} like any job: admitted by
 * cost first, answered only once durable. The answer's id is {@code <jobId@domain>}.
 */
final class MessagesRoutes {
  private MessagesRoutes() {}

  /** Mailgun's largest message. */
  static final long MAX_BODY_BYTES = 25L * 1024 * 1024;
  /** Form fields of one request: {@link MessageTranslation#MAX_RECIPIENTS} {@code to} fields and room for the rest. */
  static final int MAX_FORM_FIELDS = 2 * MessageTranslation.MAX_RECIPIENTS;

  static void mount(Router router, DkimService domains, JobIntake intake) {
    router.post("/v3/:domain/messages").handler(ctx -> MailgunRoutes.json(ctx, () -> send(ctx, domains, intake)));
  }

  private static Future<JsonObject> send(RoutingContext ctx, DkimService domains, JobIntake intake) {
    Tenant tenant = MailgunAuth.tenant(ctx);
    HttpServerRequest req = ctx.request();
    String domain = ctx.pathParam("domain");
    long declared = declaredLength(req);
    return MailgunRoutes.ownDomain(domains, tenant, domain).compose(d -> {
      String type = mediaType(req.getHeader("Content-Type"));
      if (!type.equals("multipart/form-data") && !type.equals("application/x-www-form-urlencoded")) {
        return Future.<JsonObject>failedFuture(new InvalidInputException("invalid_parameter",
            "Content-Type must be multipart/form-data or application/x-www-form-urlencoded", null));
      }
      if (declared > MAX_BODY_BYTES) {
        return Future.<JsonObject>failedFuture(tooLarge());
      }
      MailgunRoutes.continueIfExpected(req);
      var defaults = new JobSpecParser.TenantDefaults(tenant.unsubscribeDefault(), tenant.unsubscribeMailto());
      return intake.submitJson(tenant.id(), defaults, declared, () -> readForm(req)
          .map(form -> MessageTranslation.toJob(form.params(), form.files()).toBuffer()), null)
          .map(a -> new JsonObject()
              .put("id", "<" + a.jobId() + "@" + d + ">")
              .put("message", "Queued. Thank you."));
    });
  }

  private record Form(List<Map.Entry<String, String>> params, List<String> files) {}

  /**
   * Decodes the form while it arrives (Vert.x's streaming decoder, bounded by the server's form limits); file parts
   * are counted by name and their bytes dropped, so they are refused without being held.
   */
  private static Future<Form> readForm(HttpServerRequest req) {
    List<String> files = new ArrayList<>();
    if (req.isEnded()) {
      return Future.succeededFuture(new Form(List.of(), files));
    }
    Promise<Form> p = Promise.promise();
    long[] seen = {0};
    req.setExpectMultipart(true);
    req.uploadHandler(upload -> {
      files.add(upload.name());
      upload.exceptionHandler(e -> {});
      upload.handler(b -> {});
    });
    req.handler(b -> {
      seen[0] += b.length();
      if (seen[0] > MAX_BODY_BYTES) {
        req.pause();
        p.tryFail(tooLarge());
      }
    });
    req.exceptionHandler(e -> p.tryFail(formError(e)));
    boolean multipart = mediaType(req.getHeader("Content-Type")).equals("multipart/form-data");
    req.endHandler(v -> {
      List<Map.Entry<String, String>> params = new ArrayList<>();
      for (Map.Entry<String, String> e : req.formAttributes().entries()) {
        params.add(multipart ? Map.entry(prefixRestored(e.getKey()), e.getValue()) : e);
      }
      p.tryComplete(new Form(params, files));
    });
    req.resume();
    return p.future();
  }

  /**
   * Netty's multipart decoder turns ':' (and ',', '=', ';', tab) in a part's name into a space, so {@code o:tag}
   * arrives as {@code o tag}: the prefixes of Mailgun's parameters ({@code o:}, {@code h:}, {@code v:}, {@code t:})
   * are put back. (A ':' further on in a {@code v:} name cannot be told from a space and stays a space.)
   */
  static String prefixRestored(String name) {
    if (name.length() > 2 && name.charAt(1) == ' ' && "ohvtOHVT".indexOf(name.charAt(0)) >= 0) {
      return name.charAt(0) + ":" + name.substring(2);
    }
    return name;
  }

  private static Throwable formError(Throwable e) {
    if (e instanceof HttpPostRequestDecoder.TooManyFormFieldsException) {
      return new InvalidInputException("invalid_parameter", "Too many parameters; max is " + MAX_FORM_FIELDS, null);
    }
    if (e instanceof HttpPostRequestDecoder.TooLongFormFieldException) {
      return new InvalidInputException("invalid_parameter", "A parameter name is too long", null);
    }
    if (e instanceof HttpPostRequestDecoder.ErrorDataDecoderException) {
      // a field over the server's MaxFormAttributeSize (the body limit) fails as an IOException inside
      for (Throwable c = e; c != null; c = c.getCause()) {
        if (c instanceof java.io.IOException && String.valueOf(c.getMessage()).contains("maximum")) {
          return tooLarge();
        }
      }
      return new InvalidInputException("invalid_parameter", "The form body cannot be decoded", null);
    }
    return e;
  }

  private static PayloadTooLargeException tooLarge() {
    return new PayloadTooLargeException("Request is larger than " + MAX_BODY_BYTES / (1024 * 1024) + " MB");
  }

  /** The Content-Length, or -1 when the body is chunked or of unknown length. */
  private static long declaredLength(HttpServerRequest req) {
    String cl = req.getHeader("Content-Length");
    try {
      return cl == null ? -1 : Long.parseLong(cl.trim());
    } catch (NumberFormatException e) {
      return -1;
    }
  }

  private static String mediaType(String contentType) {
    if (contentType == null) {
      return "";
    }
    int semi = contentType.indexOf(';');
    return (semi < 0 ? contentType : contentType.substring(0, semi)).trim().toLowerCase(Locale.ROOT);
  }
}
