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
   * part {@code message}, streamed to a temporary file while the form is decoded, at most
   * {@code MAILGATE_MAX_MIME_MESSAGE} bytes; then read back a part at a time, checked and stored in parts
   * ({@link JobIntake#submitMime}), never held whole. The file is deleted once the submission is done, whatever its
   * outcome.
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
      TemporaryUploads files = new TemporaryUploads(ctx.vertx(), "mailgate-mime-", ".eml");
      return intake.submitMime(tenant.id(), declared, () -> readMimeForm(req, maxMessage, files))
          .andThen(ar -> files.close())
          .map(a -> new JsonObject()
              .put("id", "<" + a.jobId() + "@" + d + ">")
              .put("message", "Queued. Thank you."));
    });
  }

  /**
   * Decodes the form while it arrives: the {@code message} file part goes to a temporary file ({@code files}), the
   * other fields are kept. The message is not read here: it is checked as it is stored.
   */
  private static Future<JobIntake.MimeJob> readMimeForm(HttpServerRequest req, long maxMessage, TemporaryUploads files) {
    if (req.isEnded()) {
      return Future.failedFuture(new InvalidInputException("invalid_parameter", "message parameter is missing", null));
    }
    Promise<JobIntake.MimeJob> p = Promise.promise();
    List<String> otherFiles = new ArrayList<>();
    @SuppressWarnings("unchecked")
    Future<String>[] stored = new Future[] {null};
    io.vertx.core.http.HttpServerFileUpload[] message = {null};
    long[] seen = {0};
    req.setExpectMultipart(true);
    req.uploadHandler(upload -> {
      if (!upload.name().equals("message") || message[0] != null) {
        otherFiles.add(upload.name());
        TemporaryUploads.drop(upload);
        return;
      }
      message[0] = upload;
      stored[0] = files.stream(upload);
    });
    req.handler(b -> {
      seen[0] += b.length();
      if (seen[0] > maxMessage + MIME_FORM_OVERHEAD_BYTES) {
        req.pause();
        p.tryFail(mimeTooLarge(maxMessage));
      }
    });
    req.exceptionHandler(e -> p.tryFail(formError(e)));
    failIfGone(req, p);
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
      Future<String> written = stored[0] == null ? Future.succeededFuture() : stored[0];
      written.compose(path -> {
        if (message[0] != null && message[0].size() > maxMessage) {
          return Future.failedFuture(mimeTooLarge(maxMessage));
        }
        if (message[0] == null && text == null) {
          return Future.failedFuture(new InvalidInputException("invalid_parameter", "message parameter is missing", null));
        }
        byte[] data = path == null ? text.getBytes(java.nio.charset.StandardCharsets.UTF_8) : null;
        if (data != null && data.length > maxMessage) {
          return Future.failedFuture(mimeTooLarge(maxMessage));
        }
        JsonObject job = MessageTranslation.toMimeJob(params, otherFiles);
        return Future.succeededFuture(new JobIntake.MimeJob(job, path, data));
      }).onComplete(ar -> settle(p, ar));
    });
    req.resume();
    return p.future();
  }

  /**
   * Fails {@code p} when the client went away already: its connection's close came while the request waited to be
   * read (authentication, the domain's check), before there was a handler to hear of it; from here on the request's
   * exception handler does.
   */
  private static void failIfGone(HttpServerRequest req, Promise<?> p) {
    if (req.response().closed()) {
      p.tryFail(new io.vertx.core.http.HttpClosedException("the client closed the connection before its request was read"));
    }
  }

  /** Completes {@code p} with {@code ar} unless the form already failed it (too large, a broken upload). */
  private static <T> void settle(Promise<T> p, io.vertx.core.AsyncResult<T> ar) {
    if (ar.succeeded()) {
      p.tryComplete(ar.result());
    } else {
      p.tryFail(ar.cause());
    }
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
      TemporaryUploads files = new TemporaryUploads(ctx.vertx(), "mailgate-attachment-", ".part");
      return intake.submitForm(tenant.id(), defaults, declared, MAX_BODY_BYTES, () -> readForm(req, intake.limits(), files))
          .andThen(ar -> files.close())
          .map(a -> new JsonObject()
              .put("id", "<" + a.jobId() + "@" + d + ">")
              .put("message", "Queued. Thank you."));
    });
  }

  /** An {@code attachment} or {@code inline} file part as its form part names it. */
  private record Upload(String name, String filename, String contentType, String charset) {}

  /**
   * Decodes the form while it arrives (Vert.x's streaming decoder, bounded by the server's form limits). The file
   * parts {@code attachment} and {@code inline} (at most {@code MAILGATE_MAX_ATTACHMENTS}) each go to a temporary
   * file ({@code files}); other file parts are counted by name and their bytes dropped, so they are refused without
   * being held. The files are not read here: the job is stored from them ({@link JobIntake#submitForm}), and they
   * are deleted once that is done, whatever its outcome.
   */
  private static Future<JobIntake.FormJob> readForm(HttpServerRequest req,
                                                    io.mailgate.config.GatewayConfig.LimitsConfig limits,
                                                    TemporaryUploads files) {
    List<String> otherFiles = new ArrayList<>();
    if (req.isEnded()) {
      return Future.succeededFuture(new JobIntake.FormJob(MessageTranslation.toJob(List.of(), otherFiles), List.of()));
    }
    Promise<JobIntake.FormJob> p = Promise.promise();
    List<Upload> uploads = new ArrayList<>();
    List<Future<String>> written = new ArrayList<>();
    long[] seen = {0};
    req.setExpectMultipart(true);
    req.uploadHandler(upload -> {
      String name = upload.name().toLowerCase(Locale.ROOT);
      boolean file = name.equals("attachment") || name.equals("inline");
      if (!file || uploads.size() >= limits.maxAttachments()) {
        if (file) {
          p.tryFail(new InvalidInputException("invalid_parameter", "Too many attachments; max is "
              + limits.maxAttachments() + " (MAILGATE_MAX_ATTACHMENTS)", null));
        } else {
          otherFiles.add(upload.name());
        }
        TemporaryUploads.drop(upload);
        return;
      }
      uploads.add(new Upload(name, upload.filename(), upload.contentType(), upload.charset()));
      written.add(files.stream(upload));
    });
    req.handler(b -> {
      seen[0] += b.length();
      if (seen[0] > MAX_BODY_BYTES) {
        req.pause();
        p.tryFail(tooLarge());
      }
    });
    req.exceptionHandler(e -> p.tryFail(formError(e)));
    failIfGone(req, p);
    boolean multipart = mediaType(req.getHeader("Content-Type")).equals("multipart/form-data");
    req.endHandler(v -> {
      List<Map.Entry<String, String>> params = new ArrayList<>();
      for (Map.Entry<String, String> e : req.formAttributes().entries()) {
        params.add(multipart ? Map.entry(prefixRestored(e.getKey()), e.getValue()) : e);
      }
      Future.all(written).compose(x -> {
        JsonObject job = MessageTranslation.toJob(params, otherFiles);
        List<String[]> checked = checked(uploads, limits);
        List<JobIntake.FormFile> out = new ArrayList<>(uploads.size());
        for (int i = 0; i < uploads.size(); i++) {
          String[] c = checked.get(i);
          out.add(new JobIntake.FormFile(c[0], c[1], c[2], written.get(i).result()));
        }
        return Future.succeededFuture(new JobIntake.FormJob(job, out));
      }).onComplete(ar -> settle(p, ar));
    });
    req.resume();
    return p.future();
  }

  /**
   * Each upload's file name (its last path segment, no control characters), content type (the part's, checked;
   * default {@code application/octet-stream}) and, for an {@code inline} part, Content-ID (its file name, as Mailgun
   * does: the html refers to it as {@code cid:<filename>}).
   */
  private static List<String[]> checked(List<Upload> uploads, io.mailgate.config.GatewayConfig.LimitsConfig limits) {
    List<String[]> out = new ArrayList<>(uploads.size());
    java.util.Set<String> ids = new java.util.HashSet<>();
    for (Upload u : uploads) {
      String field = u.name() + " '" + io.mailgate.message.EmailAddress.printable(String.valueOf(u.filename())) + "'";
      String filename;
      String type;
      String cid = null;
      try {
        filename = io.mailgate.message.Attachment.filename(u.filename(), limits.maxAttachmentNameChars(), u.name() + " filename");
        type = io.mailgate.message.Attachment.contentType(u.contentType(), u.charset(), field + " Content-Type");
        if (u.name().equals("inline")) {
          cid = io.mailgate.message.Attachment.contentId(filename, field);
          if (!ids.add(cid)) {
            throw new InvalidInputException("invalid_parameter", field + ": two inline parts have this file name, which"
                + " is their Content-ID", null);
          }
        }
      } catch (InvalidInputException e) {
        throw new InvalidInputException("invalid_parameter", e.getMessage(), null);
      }
      out.add(new String[] {filename, type, cid});
    }
    return out;
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
