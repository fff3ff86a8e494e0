package io.mailgate.job;

import io.mailgate.error.InvalidInputException;
import io.mailgate.error.UnprocessableException;
import io.mailgate.job.JobIntake.Accepted;
import io.mailgate.store.JobStore;
import io.mailgate.store.SqlErrors;
import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.UUID;

/**
 * Idempotency-Key semantics: a retry with the same key and body answers as the first time and creates nothing; the
 * same key with another body answers 422; two requests with one key at once create one job (the database's unique
 * key decides, the loser answers like a retry).
 */
final class Idempotency {

  private final JobStore jobs;
  private final int maxKeyChars;

  Idempotency(JobStore jobs, int maxKeyChars) {
    this.jobs = jobs;
    this.maxKeyChars = maxKeyChars;
  }

  /** A malformed key, or null. */
  InvalidInputException check(String key) {
    if (key != null && (key.isEmpty() || key.length() > maxKeyChars || !key.chars().allMatch(c -> c > 32 && c < 127))) {
      return new InvalidInputException("invalid_idempotency_key",
          "Idempotency-Key must be 1 to " + maxKeyChars + " printable ASCII characters", "Idempotency-Key");
    }
    return null;
  }

  /** The answer to a request whose key is taken: the original job if the body is the same, else 422. */
  Future<Accepted> replay(UUID tenantId, String key, byte[] hash) {
    return jobs.findIdempotencyKey(tenantId, key).compose(found -> found.isEmpty()
        ? Future.failedFuture(new IllegalStateException("Idempotency-Key " + key + " is taken but not found"))
        : replay(tenantId, found.get(), hash));
  }

  Future<Accepted> replay(UUID tenantId, JobStore.IdempotentJob job, byte[] hash) {
    if (!MessageDigest.isEqual(job.requestHash(), hash)) {
      return Future.failedFuture(new UnprocessableException("idempotency_key_reused",
          "this Idempotency-Key was used for a different request body"));
    }
    return jobs.get(tenantId, job.jobId()).map(j -> new Accepted(job.jobId(), j.map(r -> r.recipients()).orElse(0), true));
  }

  /** A write that failed on the key's unique index lost a race with a twin: answer like a retry. */
  Future<Accepted> raceLost(UUID tenantId, String key, byte[] hash, Throwable e) {
    if (key == null || hash == null || !SqlErrors.isUniqueViolation(e)) {
      return Future.failedFuture(e);
    }
    return jobs.findIdempotencyKey(tenantId, key).compose(found -> found.isPresent()
        ? replay(tenantId, found.get(), hash)
        : Future.failedFuture(e));
  }

  static byte[] sha256(Buffer b) {
    return sha256().digest(b.getBytes());
  }

  static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
