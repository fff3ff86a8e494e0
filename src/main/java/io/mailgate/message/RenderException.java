package io.mailgate.message;

/** A message cannot be rendered for a recipient (a part would be too large, a template fails on its vars): permanent. */
public class RenderException extends RuntimeException {
  public RenderException(String message) {
    super(message, null, false, false);
  }
}
