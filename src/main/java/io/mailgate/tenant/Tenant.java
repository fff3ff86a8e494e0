package io.mailgate.tenant;

import java.time.OffsetDateTime;
import java.util.List;
import java.util.UUID;

/**
 * A customer of the gateway: its residency region (and the other regions it allows), its route (a primary
 * backend and an optional fallback), its own limits on top of the backends', whether its jobs carry a one-click
 * unsubscribe by default (and which mailto address List-Unsubscribe also names), and its own reputation thresholds on
 * top of the global ones ({@code reputationThresholds}: only the fields it sets; null: none).
 */
public record Tenant(UUID id, String name, String region, List<String> allowedRegions, UUID backendId, String backendName,
                     UUID fallbackId, String fallbackName, Double maxRatePerSecond, Integer maxConcurrentChunks,
                     OffsetDateTime createdAt, String holdReason, String holdDetail, OffsetDateTime heldAt,
                     boolean unsubscribeDefault, String unsubscribeMailto, io.vertx.core.json.JsonObject reputationThresholds) {

  /** Whether mail of this tenant may be processed by a backend in {@code backendRegion}. */
  public boolean allows(String backendRegion) {
    return region.equals(backendRegion) || allowedRegions.contains(backendRegion);
  }
}
