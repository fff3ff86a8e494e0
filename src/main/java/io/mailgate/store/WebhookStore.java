package io.mailgate.store;

import io.vertx.core.Future;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.Tuple;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.UUID;

/**
 * A tenant's webhooks, its signing key (sealed by the caller) and the calls made to them, read for the tenant. Every
 * statement is scoped by the tenant: another tenant's webhook reads as missing.
 */
public final class WebhookStore {

  /** A webhook; {@code domain} is set for those registered through the Mailgun API. */
  public record WebhookRecord(UUID id, UUID tenantId, String domain, String url, String format, List<String> names,
                              OffsetDateTime createdAt, OffsetDateTime updatedAt) {}

  /** A call of the outbox, as the tenant sees it. */
  public record DeliveryRecord(long id, long eventId, String email, String state, int attempts, Integer lastCode,
                               String lastError, OffsetDateTime lastAttemptAt, OffsetDateTime nextAttemptAt,
                               OffsetDateTime createdAt, OffsetDateTime finishedAt) {}

  private static final String COLUMNS = "SELECT id, tenant_id, domain, url, format, names, created_at, updated_at FROM webhooks";

  private final Pool pool;

  public WebhookStore(Pool pool) {
    this.pool = pool;
  }

  /** The tenant's webhooks in creation order; {@code domain} null: all of them, else those of that Mailgun domain. */
  public Future<List<WebhookRecord>> list(UUID tenantId, String domain) {
    String sql = COLUMNS + " WHERE tenant_id = $1" + (domain == null ? "" : " AND domain = $2") + " ORDER BY created_at, id";
    Tuple t = domain == null ? Tuple.of(tenantId) : Tuple.of(tenantId, domain);
    return pool.preparedQuery(sql).execute(t).map(rows -> {
      List<WebhookRecord> out = new ArrayList<>();
      rows.forEach(r -> out.add(webhook(r)));
      return out;
    });
  }

  public Future<Optional<WebhookRecord>> get(UUID tenantId, UUID id) {
    return pool.preparedQuery(COLUMNS + " WHERE tenant_id = $1 AND id = $2").execute(Tuple.of(tenantId, id))
        .map(rows -> rows.size() == 0 ? Optional.empty() : Optional.of(webhook(rows.iterator().next())));
  }

  /**
   * Inserts a webhook unless the tenant has {@code max} already (checked under a lock of the tenant's row, so two
   * concurrent creations cannot pass the bound together). @return false when the bound was reached
   */
  public Future<Boolean> insert(UUID tenantId, UUID id, String domain, String url, String format, List<String> names,
                                List<String> match, int max) {
    return pool.withTransaction(c -> c.preparedQuery("SELECT 1 FROM tenants WHERE id = $1 FOR UPDATE").execute(Tuple.of(tenantId))
        .compose(x -> c.preparedQuery("SELECT count(*) FROM webhooks WHERE tenant_id = $1").execute(Tuple.of(tenantId)))
        .compose(rows -> {
          if (rows.iterator().next().getLong(0) >= max) {
            return Future.succeededFuture(false);
          }
          return c.preparedQuery("INSERT INTO webhooks (id, tenant_id, domain, url, format, names, match)"
                  + " VALUES ($1, $2, $3, $4, $5, $6, $7)")
              .execute(Tuple.of(id, tenantId, domain, url, format, names.toArray(String[]::new), match.toArray(String[]::new)))
              .map(true);
        }));
  }

  /** @return whether the tenant has that webhook */
  public Future<Boolean> update(UUID tenantId, UUID id, String url, String format, List<String> names, List<String> match) {
    return pool.preparedQuery("UPDATE webhooks SET url = $3, format = $4, names = $5, match = $6, updated_at = now()"
            + " WHERE tenant_id = $1 AND id = $2")
        .execute(Tuple.of(tenantId, id, url, format, names.toArray(String[]::new), match.toArray(String[]::new)))
        .map(r -> r.rowCount() == 1);
  }

  /** Deletes a webhook and its calls, pending ones too. @return whether the tenant had it */
  public Future<Boolean> delete(UUID tenantId, UUID id) {
    return pool.preparedQuery("DELETE FROM webhooks WHERE tenant_id = $1 AND id = $2").execute(Tuple.of(tenantId, id))
        .map(r -> r.rowCount() == 1);
  }

  /** Deletes those of a domain's webhooks for one Mailgun id whose URL is not kept. @return how many */
  public Future<Integer> deleteDomainHooks(UUID tenantId, String domain, String name, List<String> keepUrls) {
    return pool.preparedQuery("DELETE FROM webhooks WHERE tenant_id = $1 AND domain = $2 AND names = ARRAY[$3]::text[]"
            + " AND NOT (url = ANY($4::text[]))")
        .execute(Tuple.of(tenantId, domain, name, keepUrls.toArray(String[]::new)))
        .map(r -> r.rowCount());
  }

  /** The tenant's sealed signing key, if it has one. */
  public Future<Optional<byte[]>> signingKey(UUID tenantId) {
    return pool.preparedQuery("SELECT sealed FROM webhook_signing_keys WHERE tenant_id = $1").execute(Tuple.of(tenantId))
        .map(rows -> rows.size() == 0 ? Optional.empty()
            : Optional.of(rows.iterator().next().getBuffer(0).getBytes()));
  }

  /** Stores a key unless the tenant has one. @return the tenant's key (the one given, or the one it had) */
  public Future<byte[]> ensureSigningKey(UUID tenantId, byte[] sealed) {
    return pool.preparedQuery("""
            WITH ins AS (
              INSERT INTO webhook_signing_keys (tenant_id, sealed) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING sealed
            )
            SELECT sealed FROM ins UNION ALL SELECT sealed FROM webhook_signing_keys WHERE tenant_id = $1 LIMIT 1""")
        .execute(Tuple.of(tenantId, io.vertx.core.buffer.Buffer.buffer(sealed)))
        .map(rows -> rows.iterator().next().getBuffer(0).getBytes());
  }

  /** Replaces the tenant's key: calls signed from now on use the new one. */
  public Future<Void> rotateSigningKey(UUID tenantId, byte[] sealed) {
    return pool.preparedQuery("""
            INSERT INTO webhook_signing_keys (tenant_id, sealed) VALUES ($1, $2)
            ON CONFLICT (tenant_id) DO UPDATE SET sealed = excluded.sealed, rotated_at = now()""")
        .execute(Tuple.of(tenantId, io.vertx.core.buffer.Buffer.buffer(sealed))).mapEmpty();
  }

  /** A page of a webhook's calls, newest first, after the keyset cursor {@code before} (a call id) when given. */
  public Future<List<DeliveryRecord>> deliveries(UUID tenantId, UUID webhookId, String state, Long before, int limit) {
    StringBuilder sql = new StringBuilder("""
        SELECT id, event_id, email, state, attempts, last_code, last_error, last_attempt_at,
               CASE WHEN state = 'pending' THEN next_attempt_at END AS next_attempt_at, created_at, finished_at
        FROM webhook_deliveries WHERE webhook_id = $1 AND tenant_id = $2""");
    Tuple t = Tuple.of(webhookId, tenantId);
    if (state != null) {
      t.addValue(state);
      sql.append(" AND state = $").append(t.size());
    }
    if (before != null) {
      t.addValue(before);
      sql.append(" AND id < $").append(t.size());
    }
    t.addValue(limit);
    sql.append(" ORDER BY id DESC LIMIT $").append(t.size());
    return pool.preparedQuery(sql.toString()).execute(t).map(rows -> {
      List<DeliveryRecord> out = new ArrayList<>();
      for (Row r : rows) {
        out.add(new DeliveryRecord(r.getLong("id"), r.getLong("event_id"), r.getString("email"), r.getString("state"),
            r.getInteger("attempts"), r.getInteger("last_code"), r.getString("last_error"),
            r.getOffsetDateTime("last_attempt_at"), r.getOffsetDateTime("next_attempt_at"), r.getOffsetDateTime("created_at"),
            r.getOffsetDateTime("finished_at")));
      }
      return out;
    });
  }

  private static WebhookRecord webhook(Row r) {
    return new WebhookRecord(r.getUUID("id"), r.getUUID("tenant_id"), r.getString("domain"), r.getString("url"),
        r.getString("format"), Arrays.asList(r.getArrayOfStrings("names")), r.getOffsetDateTime("created_at"),
        r.getOffsetDateTime("updated_at"));
  }
}
