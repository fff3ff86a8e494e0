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

  /** What a messages.mime request may carry besides its message: {@code to}, options, the multipart framing. */
  static final long MIME_FORM_OVERHEAD_BYTES = 1024 * 1024;

  static void mount(Router router, DkimService domains, JobIntake intake) {
    router.post("/v3/:domain/messages").handler(ctx -> MailgunRoutes.json(ctx, () -> send(ctx, domains, intake)));
    router.post("/v3/:domain/messages.mime").handler(ctx -> MailgunRoutes.json(ctx, () -> sendMime(ctx, domains, intake)));
  }

  /**
   * {@code POST /v3/{domain}/messages.mime}: {@code to} and the options as form fields, the whole message in the file
   * part {@code message}, streamed to a temporary file while the form is decoded (never held whole in memory before
   * it is read once, checked and stored), at most {@code MAILGATE_MAX_MIME_MESSAGE} bytes.
   */
  private static Future<JsonObject> sendMime(RoutingContext ctx, DkimService domains, JobIntake intake) {
    Tenant tenant = MailgunAuth.tenant(ctx);
    HttpServerRequest req = ctx.request();
    String domain = ctx.pathParam("domain");
    long declared = declaredLength(req);
    long maxMessage = intake.limits().maxMimeMessageBytes();
    return MailgunRoutes.ownDomain(domains, tenant, domain).compose(d -> {
      if (!mediaType(req.getHeader("Content-Type")).equals("multipart/form-data")) {
        return Future.<JsonObject>failedFuture(new InvalidInputException("invalid_parameter",
            "Content-Type must be multipart/form-data, with the message in the file part 'message'", null));
      }
      if (declared > maxMessage + MIME_FORM_OVERHEAD_BYTES) {
        return Future.<JsonObject>failedFuture(mimeTooLarge(maxMessage));
      }
      MailgunRoutes.continueIfExpected(req);
      return intake.submitMime(tenant.id(), declared, () -> readMimeForm(ctx.vertx(), req, maxMessage))
          .map(a -> new JsonObject()
              .put("id", "<" + a.jobId() + "@" + d + ">")
              .put("message", "Queued. Thank you."));
    });
  }

  /**
   * Decodes the form while it arrives: the {@code message} file part goes to a temporary file (the upload's own
   * pipe, with backpressure), the other fields are kept; then, on a worker, the file is read once, checked
   * ({@link io.mailgate.message.MimeMessage#parse}) and deleted.
   */
  private static Future<JobIntake.MimeJob> readMimeForm(io.vertx.core.Vertx vertx, HttpServerRequest req, long maxMessage) {
    if (req.isEnded()) {
      return Future.failedFuture(new InvalidInputException("invalid_parameter", "message parameter is missing", null));
    }
    Promise<JobIntake.MimeJob> p = Promise.promise();
    List<String> otherFiles = new ArrayList<>();
    String[] file = {null};
    @SuppressWarnings("unchecked")
    Future<Void>[] stored = new Future[] {null};
    io.vertx.core.http.HttpServerFileUpload[] message = {null};
    long[] seen = {0};
    req.setExpectMultipart(true);
    req.uploadHandler(upload -> {
      if (!upload.name().equals("message") || message[0] != null) {
        otherFiles.add(upload.name());
        upload.exceptionHandler(e -> {});
        upload.handler(b -> {});
        return;
      }
      message[0] = upload;
      // readable by this process only (a message is the tenant's mail); the upload waits until the file exists
      upload.pause();
      stored[0] = vertx.fileSystem().createTempFile("mailgate-mime-", ".eml", "rw-------").compose(path -> {
        file[0] = path;
        return upload.streamToFileSystem(path);
      });
    });
    req.handler(b -> {
      seen[0] += b.length();
      if (seen[0] > maxMessage + MIME_FORM_OVERHEAD_BYTES) {
        req.pause();
        p.tryFail(mimeTooLarge(maxMessage));
      }
    });
    req.exceptionHandler(e -> p.tryFail(formError(e)));
    req.endHandler(v -> {
      List<Map.Entry<String, String>> params = new ArrayList<>();
      String inline = null;
      for (Map.Entry<String, String> e : req.formAttributes().entries()) {
        String name = prefixRestored(e.getKey());
        if (name.equals("message")) {
          inline = e.getValue(); // a client that sends the message as a plain field
        } else {
          params.add(Map.entry(name, e.getValue()));
        }
      }
      String text = inline;
      Future<Void> written = stored[0] == null ? Future.succeededFuture() : stored[0];
      written.compose(x -> {
        if (message[0] != null && message[0].size() > maxMessage) {
          return Future.failedFuture(mimeTooLarge(maxMessage));
        }
        if (message[0] == null && text == null) {
          return Future.failedFuture(new InvalidInputException("invalid_parameter", "message parameter is missing", null));
        }
        // the job's fields first: a refused parameter costs no read of the message
        JsonObject job = MessageTranslation.toMimeJob(params, otherFiles);
        return vertx.executeBlocking(() -> {
          byte[] data = message[0] != null ? java.nio.file.Files.readAllBytes(java.nio.file.Path.of(file[0]))
              : text.getBytes(java.nio.charset.StandardCharsets.UTF_8);
          if (data.length > maxMessage) {
            throw mimeTooLarge(maxMessage);
          }
          return new JobIntake.MimeJob(job, io.mailgate.message.MimeMessage.parse(data, data.length));
        }, false);
      }).onComplete(ar -> {
        if (ar.succeeded()) {
          p.tryComplete(ar.result());
        } else {
          p.tryFail(ar.cause());
        }
      });
    });
    req.resume();
    // the temporary file goes once the request is done with, whatever the outcome
    return p.future().andThen(ar -> {
      Future<Void> w = stored[0] == null ? Future.succeededFuture() : stored[0];
      w.otherwiseEmpty().onComplete(x -> {
        if (file[0] != null) {
          vertx.fileSystem().delete(file[0]).otherwiseEmpty();
        }
      });
    });
  }

  private static PayloadTooLargeException mimeTooLarge(long max) {
    return new PayloadTooLargeException("Message is larger than " + max + " bytes (MAILGATE_MAX_MIME_MESSAGE)");
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
