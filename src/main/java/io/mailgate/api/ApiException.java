package io.mailgate.api;

/** A failure that only exists at the HTTP level (authentication, media type). */
final class ApiException extends RuntimeException {
  final int status;
  final String code;

  ApiException(int status, String code, String message) {
    super(message, null, false, false);
    this.status = status;
    this.code = code;
  }

  static ApiException unauthorized() {
    return new ApiException(401, "unauthorized", "missing or unknown API key (Authorization: Bearer <key>)");
  }

  static ApiException forbidden(String message) {
    return new ApiException(403, "forbidden", message);
  }
}
