package io.mailgate.store;

import io.mailgate.error.ConflictException;
import io.mailgate.error.NotFoundException;
import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.SqlConnection;
import io.vertx.sqlclient.Tuple;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;

/** SQL for the domains a tenant owns and their DKIM keys. */
public final class DkimStore {

  /** A key as the API shows it: no private part. */
  public record KeyRecord(UUID id, UUID tenantId, String domain, String selector, String algorithm, String publicKey,
                          OffsetDateTime createdAt) {}

  /** What a dispatcher needs to sign: the sealed private key and its name in DNS. */
  public record SigningKey(UUID id, String domain, String selector, String algorithm, byte[] sealedPrivateKey) {
    @Override
    public String toString() {
      return "SigningKey[" + id + ", " + selector + "._domainkey." + domain + ", " + algorithm + "]";
    }
  }

  /** A domain a tenant owns, and since when. */
  public record DomainRecord(String domain, OffsetDateTime createdAt) {}

  private static final String FOREIGN_KEY_VIOLATION = "23503";

  private final Pool pool;

  public DkimStore(Pool pool) {
    this.pool = pool;
  }

  public Future<Boolean> tenantExists(UUID tenantId) {
    return pool.preparedQuery("SELECT 1 FROM tenants WHERE id = $1").execute(Tuple.of(tenantId)).map(r -> r.size() == 1);
  }

  /** The tenant's domains, sorted; empty for an unknown tenant. */
  public Future<List<String>> domains(UUID tenantId) {
    return domains(pool.preparedQuery("SELECT domain FROM tenant_domains WHERE tenant_id = $1 ORDER BY domain")
        .execute(Tuple.of(tenantId)).map(r -> r));
  }

  /** The tenant's domains with the time each was added, sorted by name; empty for an unknown tenant. */
  public Future<List<DomainRecord>> domainRecords(UUID tenantId) {
    return pool.preparedQuery("SELECT domain, created_at FROM tenant_domains WHERE tenant_id = $1 ORDER BY domain")
        .execute(Tuple.of(tenantId))
        .map(rows -> {
          List<DomainRecord> out = new ArrayList<>(rows.size());
          rows.forEach(r -> out.add(new DomainRecord(r.getString("domain"), r.getOffsetDateTime("created_at"))));
          return out;
        });
  }

  /**
   * Makes {@code domains} (lowercase, distinct) the tenant's set, in one transaction. Fails with NotFound for an
   * unknown tenant, Conflict {@code domain_taken} when another tenant owns one of them, and Conflict
   * {@code domain_has_keys} when a domain to be removed still has DKIM keys.
   */
  public Future<List<String>> replaceDomains(UUID tenantId, List<String> domains) {
    String[] wanted = domains.toArray(new String[0]);
    return pool.withTransaction(c -> c.preparedQuery("SELECT 1 FROM tenants WHERE id = $1 FOR NO KEY UPDATE")
            .execute(Tuple.of(tenantId))
            .compose(t -> t.size() == 1 ? Future.succeededFuture() : Future.failedFuture(new NotFoundException("tenant")))
            .compose(x -> c.preparedQuery("SELECT domain FROM tenant_domains WHERE domain = ANY($2) AND tenant_id <> $1 ORDER BY domain")
                .execute(Tuple.of(tenantId).addArrayOfString(wanted)))
            .compose(taken -> taken.size() == 0 ? Future.succeededFuture()
                : Future.failedFuture(taken(taken.iterator().next().getString(0))))
            .compose(x -> c.preparedQuery("""
                    SELECT DISTINCT domain FROM dkim_keys WHERE tenant_id = $1 AND domain <> ALL($2) ORDER BY domain""")
                .execute(Tuple.of(tenantId).addArrayOfString(wanted)))
            .compose(keyed -> keyed.size() == 0 ? Future.succeededFuture()
                : Future.failedFuture(hasKeys(keyed.iterator().next().getString(0))))
            .compose(x -> c.preparedQuery("DELETE FROM tenant_domains WHERE tenant_id = $1 AND domain <> ALL($2)")
                .execute(Tuple.of(tenantId).addArrayOfString(wanted)))
            .compose(x -> c.preparedQuery("""
                    INSERT INTO tenant_domains (domain, tenant_id)
                    SELECT d, $1 FROM unnest($2::text[]) AS d
                    WHERE NOT EXISTS (SELECT 1 FROM tenant_domains t WHERE t.domain = d)""")
                .execute(Tuple.of(tenantId).addArrayOfString(wanted)))
            .compose(x -> domains(c, tenantId)))
        // a concurrent claim of the same domain, or a key added to a domain being removed, loses at commit time
        .recover(e -> SqlErrors.isUniqueViolation(e)
            ? Future.failedFuture(new ConflictException("domain_taken", "one of the domains belongs to another tenant"))
            : isForeignKeyViolation(e) ? Future.failedFuture(new ConflictException("domain_has_keys",
                "a domain to be removed has DKIM keys; delete them first"))
            : Future.failedFuture(e));
  }

  /**
   * Stores a key if the tenant owns the domain (checked in the same statement); empty if it does not. Conflict
   * {@code selector_exists} if the domain already has a key with this selector.
   */
  public Future<Optional<KeyRecord>> insertKey(UUID id, UUID tenantId, String domain, String selector, String algorithm,
                                               byte[] sealedPrivateKey, String publicKey) {
    return pool.preparedQuery("""
            INSERT INTO dkim_keys (id, tenant_id, domain, selector, algorithm, private_key_sealed, public_key)
            SELECT $1, $2, $3, $4, $5, $6, $7
            WHERE EXISTS (SELECT 1 FROM tenant_domains WHERE domain = $3 AND tenant_id = $2)
            RETURNING created_at""")
        .execute(Tuple.of(id, tenantId, domain, selector, algorithm, Buffer.buffer(sealedPrivateKey), publicKey))
        .recover(e -> SqlErrors.isUniqueViolation(e)
            ? Future.failedFuture(new ConflictException("selector_exists",
                "domain " + domain + " already has a key with selector '" + selector + "'"))
            : isForeignKeyViolation(e) ? Future.succeededFuture(null) // the domain went away meanwhile
            : Future.failedFuture(e))
        .map(rows -> {
          if (rows == null || rows.size() == 0) {
            return Optional.empty();
          }
          OffsetDateTime created = rows.iterator().next().getOffsetDateTime("created_at");
          return Optional.of(new KeyRecord(id, tenantId, domain, selector, algorithm, publicKey, created));
        });
  }

  /** The tenant's keys, by domain, newest first. */
  public Future<List<KeyRecord>> keys(UUID tenantId) {
    return pool.preparedQuery("""
            SELECT id, tenant_id, domain, selector, algorithm, public_key, created_at FROM dkim_keys
            WHERE tenant_id = $1 ORDER BY domain, created_at DESC, id DESC""")
        .execute(Tuple.of(tenantId))
        .map(rows -> {
          List<KeyRecord> out = new ArrayList<>();
          rows.forEach(r -> out.add(new KeyRecord(r.getUUID("id"), r.getUUID("tenant_id"), r.getString("domain"),
              r.getString("selector"), r.getString("algorithm"), r.getString("public_key"), r.getOffsetDateTime("created_at"))));
          return out;
        });
  }

  /** @return false if the tenant has no such key */
  public Future<Boolean> deleteKey(UUID tenantId, UUID keyId) {
    return pool.preparedQuery("DELETE FROM dkim_keys WHERE id = $1 AND tenant_id = $2")
        .execute(Tuple.of(keyId, tenantId)).map(r -> r.rowCount() == 1);
  }

  /** The tenant's newest key for the domain, only while the tenant owns the domain. */
  public Future<Optional<SigningKey>> signingKey(UUID tenantId, String domain) {
    return pool.preparedQuery("""
            SELECT k.id, k.domain, k.selector, k.algorithm, k.private_key_sealed
            FROM dkim_keys k JOIN tenant_domains d ON d.domain = k.domain AND d.tenant_id = k.tenant_id
            WHERE k.tenant_id = $1 AND k.domain = $2
            ORDER BY k.created_at DESC, k.id DESC LIMIT 1""")
        .execute(Tuple.of(tenantId, domain))
        .map(rows -> {
          var it = rows.iterator();
          if (!it.hasNext()) {
            return Optional.empty();
          }
          Row r = it.next();
          return Optional.of(new SigningKey(r.getUUID("id"), r.getString("domain"), r.getString("selector"),
              r.getString("algorithm"), r.getBuffer("private_key_sealed").getBytes()));
        });
  }

  private static Future<List<String>> domains(SqlConnection c, UUID tenantId) {
    return domains(c.preparedQuery("SELECT domain FROM tenant_domains WHERE tenant_id = $1 ORDER BY domain")
        .execute(Tuple.of(tenantId)).map(r -> r));
  }

  private static Future<List<String>> domains(Future<io.vertx.sqlclient.RowSet<Row>> rows) {
    return rows.map(rs -> {
      List<String> out = new ArrayList<>();
      rs.forEach(r -> out.add(r.getString(0)));
      return out;
    });
  }

  private static ConflictException taken(String domain) {
    return new ConflictException("domain_taken", "domain " + domain + " belongs to another tenant");
  }

  private static ConflictException hasKeys(String domain) {
    return new ConflictException("domain_has_keys",
        "domain " + domain + " has DKIM keys; delete them (DELETE /v1/admin/tenants/{id}/dkim/{keyId}) before removing it");
  }

  private static boolean isForeignKeyViolation(Throwable t) {
    return t instanceof io.vertx.pgclient.PgException pg && FOREIGN_KEY_VIOLATION.equals(pg.getSqlState());
  }
}
