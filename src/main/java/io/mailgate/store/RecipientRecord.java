package io.mailgate.store;

import java.time.OffsetDateTime;

/** One recipient's delivery record. */
public record RecipientRecord(int seq, String email, String state, int attempts, Integer lastCode, String lastMessage,
                              String messageId, boolean possibleDuplicate, OffsetDateTime nextAttemptAt,
                              OffsetDateTime updatedAt) {}
