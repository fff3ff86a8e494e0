package io.mailgate.store;

import java.time.OffsetDateTime;
import java.util.UUID;

/**
 * A job as reported to its tenant: state, size, and its recipients counted by state; {@code hold} the reason its
 * tenant is held (nothing of it is sent meanwhile), or null.
 */
public record JobRecord(UUID id, String state, int recipients, Counts counts, int priority, OffsetDateTime expiresAt,
                        OffsetDateTime sendAt, OffsetDateTime createdAt, OffsetDateTime updatedAt, String hold, boolean testMode) {

  public record Counts(long queued, long sending, long sent, long deferred, long failed, long cancelled, long expired,
                       long suppressed) {}
}
