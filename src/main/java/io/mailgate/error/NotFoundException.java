package io.mailgate.error;

/** The resource does not exist for the caller; another tenant's resource is reported the same way. */
public class NotFoundException extends MailgateException {
  public NotFoundException(String what) {
    super("not_found", what + " not found");
  }
}
