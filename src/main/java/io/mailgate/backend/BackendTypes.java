package io.mailgate.backend;

import io.mailgate.backend.file.FileBackendType;
import io.mailgate.backend.mailgun.MailgunBackendType;
import io.mailgate.backend.postmark.PostmarkBackendType;
import io.mailgate.backend.sendgrid.SendGridBackendType;
import io.mailgate.backend.ses.SesBackendType;
import io.mailgate.backend.smtp.SmtpBackendType;
import io.mailgate.error.InvalidInputException;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/** The registry of backend types. Adding a type: one package under {@code backend} and one line here. */
public final class BackendTypes {

  private final Map<String, BackendType> types = new TreeMap<>();

  public BackendTypes(List<BackendType> types) {
    types.forEach(t -> this.types.put(t.name(), t));
  }

  public static BackendTypes standard() {
    return new BackendTypes(List.of(
        new SmtpBackendType(),
        new FileBackendType(),
        new MailgunBackendType(),
        new SendGridBackendType(),
        new PostmarkBackendType(),
        new SesBackendType()));
  }

  public BackendType get(String name) {
    BackendType t = name == null ? null : types.get(name);
    if (t == null) {
      throw new InvalidInputException("invalid_backend_type", "type must be one of " + types.keySet(), "type");
    }
    return t;
  }
}
