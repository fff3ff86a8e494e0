package io.mailgate.backend.postmark;

import io.mailgate.backend.Outcome;
import io.mailgate.backend.Outcome.Fault;
import io.mailgate.backend.http.HttpOutcomes;
import io.mailgate.backend.http.Provider.Answer;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.net.ConnectException;
import java.net.NoRouteToHostException;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * What Postmark's answers to {@code POST /email/batch} mean for each recipient of the call.
 *
 * <p>HTTP: 200 carries one result per message, in the order sent, each with its own {@code ErrorCode} (0 is
 * accepted); 401 is our token (credentials, deferred); 422 refuses the whole request with one {@code ErrorCode},
 * classified by the table below; 429 is throttling (Retry-After honoured); 408 and 5xx are Postmark's trouble;
 * anything else goes through {@link HttpOutcomes}.
 *
 * <p>Postmark's API error codes (https://postmarkapp.com/developer/api/overview#error-codes), as they can come
 * back from the email API, and what each means for a recipient. Codes about the recipient or the message fail it;
 * codes about the account or server defer it without ever failing it (an operator must act); codes about the
 * request the gateway built defer it with a backend fault, so it fails once the retries are used up.
 *
 * <pre>
 * code  Postmark's name                  outcome     fault        why
 *    0  (accepted)                       sent        -
 *   10  Bad or missing API token         deferred    CREDENTIALS  our serverToken
 *  100  Maintenance                      deferred    BACKEND      Postmark is offline
 *  300  Invalid email request            failed      -            this message is invalid (address, From, body...)
 *  400  Sender signature not found       deferred    CREDENTIALS  the From is not a sender of this server: configuration
 *  401  Sender signature not confirmed   deferred    CREDENTIALS  same
 *  402  Invalid JSON                     deferred    BACKEND      the request the gateway built
 *  403  Incompatible JSON                deferred    BACKEND      same
 *  405  Not allowed to send              deferred    CREDENTIALS  the account is out of credits
 *  406  Inactive recipient               failed      -            hard bounce or spam complaint earlier
 *  409  JSON required                    deferred    BACKEND      the request the gateway built
 *  410  Too many batch messages          deferred    BACKEND      same (maxMessagesPerCall is at most 500)
 *  411  Forbidden attachment type        failed      -            this message
 *  412  Account is pending               deferred    CREDENTIALS  the account is not approved yet
 *  413  Account may not send             deferred    CREDENTIALS  the account is not approved for sending
 *  429  Rate limit exceeded              deferred    THROTTLED    slow down; never a failure
 *  any other code                        deferred    BACKEND      unknown: retried, failed once retries are used up
 * </pre>
 */
final class PostmarkAnswers {

  private enum Kind { FAIL, DEFER }

  private record Rule(Kind kind, Fault fault) {}

  private static final Rule FAIL = new Rule(Kind.FAIL, null);
  private static final Rule CREDENTIALS = new Rule(Kind.DEFER, Fault.CREDENTIALS);
  private static final Rule BACKEND = new Rule(Kind.DEFER, Fault.BACKEND);
  private static final Rule THROTTLED = new Rule(Kind.DEFER, Fault.THROTTLED);

  /** The table above. */
  private static final Map<Integer, Rule> CODES = Map.ofEntries(
      Map.entry(10, CREDENTIALS),
      Map.entry(100, BACKEND),
      Map.entry(300, FAIL),
      Map.entry(400, CREDENTIALS),
      Map.entry(401, CREDENTIALS),
      Map.entry(402, BACKEND),
      Map.entry(403, BACKEND),
      Map.entry(405, CREDENTIALS),
      Map.entry(406, FAIL),
      Map.entry(409, BACKEND),
      Map.entry(410, BACKEND),
      Map.entry(411, FAIL),
      Map.entry(412, CREDENTIALS),
      Map.entry(413, CREDENTIALS),
      Map.entry(429, THROTTLED));

  private PostmarkAnswers() {}

  /**
   * The answer to a call of {@code messages} messages: one outcome per message, in the order they were sent, or one
   * for the whole call when Postmark refused it as a whole.
   */
  static Answer answer(int status, String body, String retryAfterHeader, int messages) {
    if (status == 200) {
      return accepted(body, messages);
    }
    if (status == 422) {
      JsonObject error = object(body);
      if (error != null && error.getValue("ErrorCode") instanceof Number code) {
        return Answer.forCall(forErrorCode(code.intValue(), error.getString("Message"),
            HttpOutcomes.retryAfter(retryAfterHeader)));
      }
    }
    return Answer.forCall(HttpOutcomes.forFailure(status, body, retryAfterHeader));
  }

  /** The call got no answer. A refused connection sent nothing; after that, Postmark may have taken the batch. */
  static Outcome networkFailure(Throwable e) {
    boolean beforeSending = e instanceof ConnectException || e instanceof UnknownHostException
        || e instanceof NoRouteToHostException || e.getCause() instanceof ConnectException;
    String msg = "request to Postmark failed: " + HttpOutcomes.shorten(e.getClass().getSimpleName()
        + (e.getMessage() == null ? "" : ": " + e.getMessage()));
    return new Outcome.Temporary(null, msg, null, !beforeSending, Fault.BACKEND);
  }

  /** The outcome of one Postmark {@code ErrorCode} (0 is not an error), by the table above. */
  static Outcome forErrorCode(int code, String message, Duration retryAfter) {
    String msg = "Postmark error " + code + (message == null || message.isBlank() ? "" : ": " + HttpOutcomes.shorten(message));
    Rule rule = CODES.getOrDefault(code, BACKEND);
    if (rule.kind() == Kind.FAIL) {
      return new Outcome.Permanent(code, msg);
    }
    return new Outcome.Temporary(code, msg, rule.fault() == Fault.THROTTLED ? retryAfter : null, false, rule.fault());
  }

  private static Answer accepted(String body, int messages) {
    JsonArray results = array(body);
    if (results == null) {
      JsonObject single = object(body);
      if (single != null && single.getValue("ErrorCode") instanceof Number code && code.intValue() != 0) {
        return Answer.forCall(forErrorCode(code.intValue(), single.getString("Message"), null));
      }
      return Answer.forCall(unreadable("an answer that is not a list of results"));
    }
    if (results.size() != messages) {
      return Answer.forCall(unreadable(results.size() + " results for " + messages + " messages"));
    }
    List<Outcome> out = new ArrayList<>(messages);
    for (int i = 0; i < messages; i++) {
      Object o = results.getValue(i);
      if (!(o instanceof JsonObject r) || !(r.getValue("ErrorCode") instanceof Number code)) {
        out.add(unreadable("a result without ErrorCode"));
      } else if (code.intValue() == 0) {
        out.add(new Outcome.Sent(r.getValue("MessageID") == null ? null : String.valueOf(r.getValue("MessageID")), 200,
            r.getString("Message", "OK")));
      } else {
        out.add(forErrorCode(code.intValue(), r.getString("Message"), null));
      }
    }
    return Answer.perRecipient(out);
  }

  /** Postmark answered 200 but not as documented: it may have sent the messages, so they are marked as such. */
  private static Outcome unreadable(String what) {
    return new Outcome.Temporary(200, "Postmark answered 200 with " + what, null, true, Fault.BACKEND);
  }

  private static JsonArray array(String body) {
    if (body == null || !body.stripLeading().startsWith("[")) {
      return null;
    }
    try {
      return new JsonArray(body);
    } catch (DecodeException e) {
      return null;
    }
  }

  private static JsonObject object(String body) {
    if (body == null || !body.stripLeading().startsWith("{")) {
      return null;
    }
    try {
      return new JsonObject(body);
    } catch (DecodeException e) {
      return null;
    }
  }
}
