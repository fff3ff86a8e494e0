package io.mailgate.store;

import io.vertx.core.Future;
import io.vertx.core.streams.ReadStream;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.RowStream;
import io.vertx.sqlclient.Tuple;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

/** A tenant's suppression list. Every query is scoped to the tenant. */
public final class SuppressionStore {

  public record Suppression(String address, String tag, String reason, Integer code, String detail, Long sourceEvent,
                            OffsetDateTime createdAt) {}

  /** One to add: address lower case, tag '' for every job. */
  public record NewSuppression(String address, String tag, String reason, String detail) {}

  private static final String COLUMNS = "SELECT address, tag, reason, code, detail, source_event, created_at FROM suppressions";

  private final Pool pool;

  public SuppressionStore(Pool pool) {
    this.pool = pool;
  }

  /** A page in address order, after {@code after} ("address" or "address/tag" of the last row seen). */
  public Future<List<Suppression>> list(UUID tenantId, String reason, String afterAddress, String afterTag, int limit) {
    StringBuilder sql = new StringBuilder(COLUMNS).append(" WHERE tenant_id = $1");
    Tuple t = Tuple.of(tenantId);
    if (reason != null) {
      t.addValue(reason);
      sql.append(" AND reason = $").append(t.size());
    }
    if (afterAddress != null) {
      t.addValue(afterAddress).addValue(afterTag == null ? "" : afterTag);
      sql.append(" AND (address, tag) > ($").append(t.size() - 1).append(", $").append(t.size()).append(")");
    }
    t.addValue(limit);
    sql.append(" ORDER BY address, tag LIMIT $").append(t.size());
    return pool.preparedQuery(sql.toString()).execute(t).map(SuppressionStore::rows);
  }

  /** Every suppression of one address (for every job, and per tag). */
  public Future<List<Suppression>> get(UUID tenantId, String address) {
    return pool.preparedQuery(COLUMNS + " WHERE tenant_id = $1 AND address = $2 ORDER BY tag")
        .execute(Tuple.of(tenantId, address)).map(SuppressionStore::rows);
  }

  /** Removes an address's suppressions (of one tag, or all when {@code tag} is null); how many there were. */
  public Future<Integer> delete(UUID tenantId, String address, String tag) {
    return (tag == null
        ? pool.preparedQuery("DELETE FROM suppressions WHERE tenant_id = $1 AND address = $2").execute(Tuple.of(tenantId, address))
        : pool.preparedQuery("DELETE FROM suppressions WHERE tenant_id = $1 AND address = $2 AND tag = $3")
            .execute(Tuple.of(tenantId, address, tag)))
        .map(rows -> rows.rowCount());
  }

  /** Adds suppressions in one statement; one already there keeps its reason and time. @return how many were new */
  public Future<Integer> add(UUID tenantId, List<NewSuppression> list) {
    if (list.isEmpty()) {
      return Future.succeededFuture(0);
    }
    String[] address = list.stream().map(NewSuppression::address).toArray(String[]::new);
    String[] tag = list.stream().map(NewSuppression::tag).toArray(String[]::new);
    String[] reason = list.stream().map(NewSuppression::reason).toArray(String[]::new);
    String[] detail = list.stream().map(NewSuppression::detail).toArray(String[]::new);
    return pool.preparedQuery("""
            INSERT INTO suppressions (tenant_id, address, tag, reason, detail)
            SELECT $1, a, t, r, d FROM unnest($2::text[], $3::text[], $4::text[], $5::text[]) AS x(a, t, r, d)
            ON CONFLICT DO NOTHING""")
        .execute(Tuple.of(tenantId, address, tag, reason, detail))
        .map(rows -> rows.rowCount());
  }

  /**
   * The suppressions of one reason of a page of {@code limit} addresses in address order: after {@code pivot} (or from
   * the first) when {@code forward}, else the {@code limit} addresses before it (or the last ones). Every row of
   * those addresses (one per tag), in address and tag order.
   */
  public Future<List<Suppression>> pageOfAddresses(UUID tenantId, String reason, String pivot, boolean forward, int limit) {
    String cmp = pivot == null ? "" : " AND address " + (forward ? ">" : "<") + " $3";
    String sql = "WITH a AS (SELECT DISTINCT address FROM suppressions WHERE tenant_id = $1 AND reason = $2" + cmp
        + " ORDER BY address " + (forward ? "ASC" : "DESC") + " LIMIT $4) "
        + COLUMNS + " s WHERE s.tenant_id = $1 AND s.reason = $2 AND s.address IN (SELECT address FROM a) ORDER BY s.address, s.tag";
    return pool.preparedQuery(sql).execute(Tuple.of(tenantId, reason, pivot == null ? "" : pivot, limit)).map(SuppressionStore::rows);
  }

  /** An address's suppressions of one reason (one per tag). */
  public Future<List<Suppression>> get(UUID tenantId, String address, String reason) {
    return pool.preparedQuery(COLUMNS + " WHERE tenant_id = $1 AND address = $2 AND reason = $3 ORDER BY tag")
        .execute(Tuple.of(tenantId, address, reason)).map(SuppressionStore::rows);
  }

  /**
   * Removes an address's suppressions of one reason (of one tag, when {@code tag} is not null), or with {@code address}
   * null every suppression of that reason; how many there were.
   */
  public Future<Integer> deleteOfReason(UUID tenantId, String address, String reason, String tag) {
    Tuple t = Tuple.of(tenantId, reason);
    StringBuilder sql = new StringBuilder("DELETE FROM suppressions WHERE tenant_id = $1 AND reason = $2");
    if (address != null) {
      t.addValue(address);
      sql.append(" AND address = $").append(t.size());
    }
    if (tag != null) {
      t.addValue(tag);
      sql.append(" AND tag = $").append(t.size());
    }
    return pool.preparedQuery(sql.toString()).execute(t).map(rows -> rows.rowCount());
  }

  /**
   * Adds or replaces suppressions in one statement, as an import's lines do: an address (per tag) already listed takes
   * the reason, code and detail given, and the time where one is given (code, detail and createdAt may hold nulls).
   * @return how many were new to the list
   */
  public Future<Integer> put(UUID tenantId, String[] address, String[] tag, String[] reason, Integer[] code, String[] detail,
                             OffsetDateTime[] createdAt) {
    return pool.preparedQuery(SuppressionImportTransaction.WRITE_BATCH)
        .execute(Tuple.tuple().addValue(tenantId).addValue(address).addValue(tag).addValue(reason).addValue(code)
            .addValue(detail).addValue(createdAt))
        .map(rows -> rows.iterator().next().getInteger("added"));
  }

  /** A transaction for one CSV import into the tenant's list. */
  public Future<SuppressionImportTransaction> beginImport(UUID tenantId) {
    return SuppressionImportTransaction.begin(pool, tenantId);
  }

  /**
   * Every suppression of the tenant (of one reason, when given), in address order, through a server-side cursor
   * that fetches {@code fetchRows} at a time: {@code reader} gets them as a stream (pause it, and no more rows are
   * fetched) and completes its future when it has taken them all. One read-only transaction, rolled back if the
   * reader fails.
   */
  public Future<Void> stream(UUID tenantId, String reason, int fetchRows,
                             java.util.function.Function<ReadStream<Suppression>, Future<Void>> reader) {
    String sql = COLUMNS + " WHERE tenant_id = $1" + (reason == null ? "" : " AND reason = $2") + " ORDER BY address, tag";
    Tuple args = reason == null ? Tuple.of(tenantId) : Tuple.of(tenantId, reason);
    return pool.withTransaction(conn -> conn.prepare(sql).compose(ps -> {
      RowStream<Row> rows = ps.createStream(fetchRows, args);
      return reader.apply(new Mapped(rows)).eventually(rows::close);
    }));
  }

  /** The cursor's rows as suppressions. */
  private static final class Mapped implements ReadStream<Suppression> {
    private final RowStream<Row> rows;

    Mapped(RowStream<Row> rows) {
      this.rows = rows;
    }

    @Override
    public ReadStream<Suppression> exceptionHandler(io.vertx.core.Handler<Throwable> handler) {
      rows.exceptionHandler(handler);
      return this;
    }

    @Override
    public ReadStream<Suppression> handler(io.vertx.core.Handler<Suppression> handler) {
      rows.handler(handler == null ? null : r -> handler.handle(suppression(r)));
      return this;
    }

    @Override
    public ReadStream<Suppression> pause() {
      rows.pause();
      return this;
    }

    @Override
    public ReadStream<Suppression> resume() {
      rows.resume();
      return this;
    }

    @Override
    public ReadStream<Suppression> fetch(long amount) {
      rows.fetch(amount);
      return this;
    }

    @Override
    public ReadStream<Suppression> endHandler(io.vertx.core.Handler<Void> endHandler) {
      rows.endHandler(endHandler);
      return this;
    }
  }

  private static Suppression suppression(Row r) {
    return new Suppression(r.getString("address"), r.getString("tag"), r.getString("reason"), r.getInteger("code"),
        r.getString("detail"), r.getLong("source_event"), r.getOffsetDateTime("created_at"));
  }

  private static List<Suppression> rows(io.vertx.sqlclient.RowSet<Row> rows) {
    List<Suppression> out = new ArrayList<>(rows.size());
    for (Row r : rows) {
      out.add(suppression(r));
    }
    return out;
  }
}
