package io.mailgate.tenant;

import java.time.OffsetDateTime;
import java.util.UUID;

/** A customer of the gateway: its residency region and the backend its mail goes to. */
public record Tenant(UUID id, String name, String region, UUID backendId, String backendName, OffsetDateTime createdAt) {}
