package io.mailgate.job;

import io.mailgate.config.GatewayConfig.LimitsConfig;
import io.mailgate.error.InvalidInputException;
import io.mailgate.message.EmailAddress;
import io.vertx.core.json.JsonObject;

/** Validates one recipient object: {@code {"email": "...", "vars": {...}}}. Called a million times per big job. */
public final class RecipientParser {

  /** A valid recipient, with its vars kept as JSON text for the database. */
  public record Parsed(String email, String varsJson) {}

  private final LimitsConfig limits;

  public RecipientParser(LimitsConfig limits) {
    this.limits = limits;
  }

  public Parsed parse(Object value) {
    if (!(value instanceof JsonObject o)) {
      throw new InvalidInputException("invalid_recipient", "a recipient must be an object with an email", "email");
    }
    String email = null;
    JsonObject vars = null;
    for (var e : o) {
      switch (e.getKey()) {
        case "email" -> {
          if (!(e.getValue() instanceof String s)) {
            throw new InvalidInputException("invalid_recipient", "email must be a string", "email");
          }
          email = s;
        }
        case "vars" -> {
          Object v = e.getValue();
          if (v != null && !(v instanceof JsonObject)) {
            throw new InvalidInputException("invalid_recipient", "vars must be an object", "vars");
          }
          vars = (JsonObject) v;
        }
        default -> throw new InvalidInputException("unknown_field",
            "unknown recipient field '" + JobSpecParser.printable(e.getKey()) + "'", e.getKey());
      }
    }
    if (email == null) {
      throw new InvalidInputException("invalid_recipient", "email is required", "email");
    }
    // the canonical form (the same string for a plain ASCII address): NFC, an IDN domain as U-labels
    email = EmailAddress.canonical(email, "email");
    if (vars != null && vars.size() > limits.maxVarsPerRecipient()) {
      throw new InvalidInputException("too_many_vars", "at most " + limits.maxVarsPerRecipient() + " vars per recipient", "vars");
    }
    if (vars != null) {
      checkShape(vars, 1);
    }
    return new Parsed(email, vars == null || vars.isEmpty() ? null : vars.encode());
  }

  /** Lists repeat template sections: their length and the nesting of vars are bounded, so a render stays small. */
  private void checkShape(Object v, int depth) {
    if (depth > limits.maxVarDepth()) {
      throw new InvalidInputException("invalid_vars", "vars nest deeper than " + limits.maxVarDepth() + " levels", "vars");
    }
    if (v instanceof JsonObject o) {
      for (var e : o) {
        checkShape(e.getValue(), depth + 1);
      }
    } else if (v instanceof io.vertx.core.json.JsonArray a) {
      if (a.size() > limits.maxVarListItems()) {
        throw new InvalidInputException("invalid_vars", "a list in vars has more than " + limits.maxVarListItems() + " items", "vars");
      }
      for (Object x : a) {
        checkShape(x, depth + 1);
      }
    }
  }
}
