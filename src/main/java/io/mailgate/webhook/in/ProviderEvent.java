package io.mailgate.webhook.in;

import java.util.UUID;

/**
 * One provider event, mapped: the recipient as our backends named it ({@code jobId}/{@code seq}, from the custom
 * variables, metadata or tags they attach; null when the event carries none), one of the event log's later types, and
 * the provider's own id of the event ({@code eventId}), so a delivery retried by the provider is recorded once.
 */
public record ProviderEvent(UUID jobId, Integer seq, String email, String type, String severity, Integer code,
                            String message, String messageId, String eventId) {}
