package io.mailgate.backend.ses;

import io.mailgate.backend.Outcome;
import io.mailgate.backend.Outcome.Fault;
import io.mailgate.backend.http.HttpOutcomes;
import java.net.ConnectException;
import java.net.NoRouteToHostException;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.Map;
import java.util.Set;
import software.amazon.awssdk.awscore.exception.AwsServiceException;
import software.amazon.awssdk.core.exception.ApiCallAttemptTimeoutException;
import software.amazon.awssdk.core.exception.ApiCallTimeoutException;
import software.amazon.awssdk.core.exception.SdkClientException;
import software.amazon.awssdk.services.sesv2.model.BulkEmailEntryResult;
import software.amazon.awssdk.services.sesv2.model.BulkEmailStatus;

/**
 * What SES's answers mean for each recipient.
 *
 * <p>Per entry of SendBulkEmail ({@code BulkEmailEntryResult.Status}): statuses about this message or address fail
 * it; statuses about the account, the sending identity or the configuration defer it without ever failing it (an
 * operator must act); throttling defers it as THROTTLED; the rest defer it with a backend fault, so it fails once
 * the retries are used up.
 *
 * <pre>
 * Status                              outcome    fault        why
 * SUCCESS                             sent       -            MessageId recorded
 * MESSAGE_REJECTED                    failed     -            this message or address (content, unverified address in the sandbox)
 * INVALID_PARAMETER                   failed     -            this entry's destination or data
 * MAIL_FROM_DOMAIN_NOT_VERIFIED       deferred   CREDENTIALS  the sending identity's MAIL FROM domain
 * CONFIGURATION_SET_NOT_FOUND         deferred   CREDENTIALS  settings.configurationSetName
 * CONFIGURATION_SET_SENDING_PAUSED    deferred   CREDENTIALS  the configuration set is paused
 * INVALID_SENDING_POOL_NAME           deferred   CREDENTIALS  the configuration set's pool
 * ACCOUNT_SUSPENDED                   deferred   CREDENTIALS  the account may not send
 * ACCOUNT_SENDING_PAUSED              deferred   CREDENTIALS  same
 * ACCOUNT_THROTTLED                   deferred   THROTTLED    over the send rate
 * ACCOUNT_DAILY_QUOTA_EXCEEDED        deferred   THROTTLED    over the 24-hour quota; never a failure
 * TEMPLATE_NOT_FOUND                  deferred   BACKEND      cannot happen with inline templates
 * TRANSIENT_FAILURE, FAILED, other    deferred   BACKEND      SES's trouble or unknown
 * </pre>
 *
 * <p>A whole call that fails (an exception from the SDK):
 * <pre>
 * TooManyRequestsException, LimitExceededException, Throttling*, HTTP 429   deferred  THROTTLED (Retry-After if any)
 * HTTP 401/403, SignatureDoesNotMatch, InvalidClientTokenId, UnrecognizedClientException,
 *   InvalidSignatureException, IncompleteSignature, MissingAuthenticationToken, AccessDenied*, ExpiredToken*
 *                                                                            deferred  CREDENTIALS
 * AccountSuspendedException, SendingPausedException, MailFromDomainNotVerifiedException,
 *   NotFoundException (configuration set)                                    deferred  CREDENTIALS
 * MessageRejected, BadRequestException                                      failed
 * InternalServiceErrorException, HTTP 5xx, SdkClientException (network)      deferred  BACKEND
 * timeouts after the request went out                                       deferred  BACKEND, possibleDuplicate
 * any other 4xx                                                             as HttpOutcomes: failed
 * </pre>
 */
final class SesOutcomes {

  private static final Map<BulkEmailStatus, Fault> DEFERRED = Map.ofEntries(
      Map.entry(BulkEmailStatus.MAIL_FROM_DOMAIN_NOT_VERIFIED, Fault.CREDENTIALS),
      Map.entry(BulkEmailStatus.CONFIGURATION_SET_NOT_FOUND, Fault.CREDENTIALS),
      Map.entry(BulkEmailStatus.CONFIGURATION_SET_SENDING_PAUSED, Fault.CREDENTIALS),
      Map.entry(BulkEmailStatus.INVALID_SENDING_POOL_NAME, Fault.CREDENTIALS),
      Map.entry(BulkEmailStatus.ACCOUNT_SUSPENDED, Fault.CREDENTIALS),
      Map.entry(BulkEmailStatus.ACCOUNT_SENDING_PAUSED, Fault.CREDENTIALS),
      Map.entry(BulkEmailStatus.ACCOUNT_THROTTLED, Fault.THROTTLED),
      Map.entry(BulkEmailStatus.ACCOUNT_DAILY_QUOTA_EXCEEDED, Fault.THROTTLED),
      Map.entry(BulkEmailStatus.TEMPLATE_NOT_FOUND, Fault.BACKEND),
      Map.entry(BulkEmailStatus.TRANSIENT_FAILURE, Fault.BACKEND),
      Map.entry(BulkEmailStatus.FAILED, Fault.BACKEND));

  private static final Set<BulkEmailStatus> FAILED = Set.of(BulkEmailStatus.MESSAGE_REJECTED,
      BulkEmailStatus.INVALID_PARAMETER);

  private static final Set<String> THROTTLING = Set.of("TooManyRequestsException", "LimitExceededException",
      "Throttling", "ThrottlingException", "ThrottledException", "RequestLimitExceeded");

  private static final Set<String> AUTH = Set.of("SignatureDoesNotMatch", "SignatureDoesNotMatchException",
      "InvalidClientTokenId", "UnrecognizedClientException", "InvalidSignatureException", "IncompleteSignature",
      "IncompleteSignatureException", "MissingAuthenticationToken", "MissingAuthenticationTokenException",
      "AccessDenied", "AccessDeniedException", "ExpiredToken", "ExpiredTokenException", "InvalidAccessKeyId",
      "AuthFailure", "NotAuthorized", "OptInRequired");

  private static final Set<String> ACCOUNT = Set.of("AccountSuspendedException", "SendingPausedException",
      "MailFromDomainNotVerifiedException", "NotFoundException");

  private static final Set<String> REJECTED = Set.of("MessageRejected", "BadRequestException");

  private SesOutcomes() {}

  /** One entry of a SendBulkEmail answer, by the table above. */
  static Outcome forEntry(BulkEmailEntryResult r) {
    BulkEmailStatus status = r.status();
    String name = r.statusAsString() == null ? "no status" : r.statusAsString();
    if (status == BulkEmailStatus.SUCCESS) {
      return new Outcome.Sent(r.messageId(), 200, "SUCCESS");
    }
    String msg = "SES " + name + (r.error() == null || r.error().isBlank() ? "" : ": " + HttpOutcomes.shorten(r.error()));
    if (FAILED.contains(status)) {
      return new Outcome.Permanent(null, msg);
    }
    return new Outcome.Temporary(null, msg, null, false, DEFERRED.getOrDefault(status, Fault.BACKEND));
  }

  /** A SendBulkEmail answer with fewer results than entries: the missing ones may have been sent. */
  static Outcome missingEntry(int results, int entries) {
    return new Outcome.Temporary(200, "SES answered " + results + " results for " + entries + " entries", null, true,
        Fault.BACKEND);
  }

  /** A call that failed as a whole, by the table above. */
  static Outcome forException(Throwable e) {
    Throwable t = e;
    while (t instanceof java.util.concurrent.CompletionException && t.getCause() != null) {
      t = t.getCause();
    }
    if (t instanceof AwsServiceException ae) {
      int status = ae.statusCode();
      String code = ae.awsErrorDetails() == null ? null : ae.awsErrorDetails().errorCode();
      String text = ae.awsErrorDetails() == null || ae.awsErrorDetails().errorMessage() == null
          ? ae.getMessage() : ae.awsErrorDetails().errorMessage();
      String msg = "SES " + (code == null ? "HTTP " + status : code) + (text == null ? "" : ": " + HttpOutcomes.shorten(text));
      Duration retryAfter = ae.awsErrorDetails() == null || ae.awsErrorDetails().sdkHttpResponse() == null ? null
          : HttpOutcomes.retryAfter(ae.awsErrorDetails().sdkHttpResponse().firstMatchingHeader("Retry-After").orElse(null));
      Integer statusCode = status > 0 ? status : null;
      if (status == 429 || code != null && THROTTLING.contains(code)) {
        return new Outcome.Temporary(statusCode, msg, retryAfter, false, Fault.THROTTLED);
      }
      if (status == 401 || status == 403 || code != null && AUTH.contains(code)) {
        return new Outcome.Temporary(statusCode, msg, null, false, Fault.CREDENTIALS);
      }
      if (code != null && ACCOUNT.contains(code)) {
        return new Outcome.Temporary(statusCode, msg, null, false, Fault.CREDENTIALS);
      }
      if (code != null && REJECTED.contains(code)) {
        return new Outcome.Permanent(statusCode, msg);
      }
      if (status >= 500 || status == 408 || "InternalServiceErrorException".equals(code)) {
        return new Outcome.Temporary(statusCode, msg, retryAfter, false, Fault.BACKEND);
      }
      return HttpOutcomes.forFailure(status, msg, null);
    }
    if (t instanceof ApiCallTimeoutException || t instanceof ApiCallAttemptTimeoutException) {
      return new Outcome.Temporary(null, "SES call timed out: " + HttpOutcomes.shorten(String.valueOf(t.getMessage())),
          null, true, Fault.BACKEND);
    }
    if (t instanceof SdkClientException) {
      boolean beforeSending = causedBy(t, ConnectException.class) || causedBy(t, UnknownHostException.class)
          || causedBy(t, NoRouteToHostException.class) || String.valueOf(t.getMessage()).toLowerCase().contains("connect timed out");
      return new Outcome.Temporary(null, "SES call failed: " + HttpOutcomes.shorten(String.valueOf(t.getMessage())),
          null, !beforeSending, Fault.BACKEND);
    }
    return new Outcome.Temporary(null, "SES call failed: " + t.getClass().getSimpleName()
        + (t.getMessage() == null ? "" : ": " + HttpOutcomes.shorten(t.getMessage())), Fault.BACKEND);
  }

  private static boolean causedBy(Throwable t, Class<? extends Throwable> type) {
    for (Throwable c = t; c != null; c = c.getCause() == c ? null : c.getCause()) {
      if (type.isInstance(c)) {
        return true;
      }
    }
    return false;
  }
}
