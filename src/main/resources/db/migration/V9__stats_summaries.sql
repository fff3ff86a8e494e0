-- Summaries of closed hours, one per dimension that the statistics group by, so that a reader sums a few rows per
-- hour or day instead of one per backend x sender domain x recipient domain (x shard) of the counters. Written only
-- by the folding pass (StatsStore.foldHour), in the transaction that folds the hour's shards: hours before
-- stats_summarized.hours_until are in the summaries, later ones are read from the counters.
--   dim 'n': no group (grp ''), 'b': backend (grp = backend id), 's': sender domain, 'r': recipient domain,
--   't': tag (from stats_tags_hourly).
-- Hourly summaries keep n, b, s and r (by tag, an hour's folded counters are its summary already); daily ones keep
-- all five. The keys include n, so a tenant's range is read from the index alone (an index-only scan: the rows of
-- one tenant's days lie on few index pages, while in the table they are spread over every tenant's hours; on 30
-- days of 100 tenants, a month by day and recipient domain 32 ms from the table, see BENCHMARKS.md).
CREATE TABLE stats_summary_hourly (
    tenant_id  uuid NOT NULL,
    dim        "char" NOT NULL,
    hour       timestamptz NOT NULL,
    grp        text NOT NULL,
    event      text NOT NULL,
    severity   text NOT NULL,
    n          bigint NOT NULL,
    PRIMARY KEY (tenant_id, dim, hour, grp, event, severity) INCLUDE (n)
);
-- the operators' views read one dimension of every tenant
CREATE INDEX stats_summary_hourly_by_hour ON stats_summary_hourly (dim, hour);

CREATE TABLE stats_summary_daily (
    tenant_id  uuid NOT NULL,
    dim        "char" NOT NULL,
    day        date NOT NULL,
    grp        text NOT NULL,
    event      text NOT NULL,
    severity   text NOT NULL,
    n          bigint NOT NULL,
    PRIMARY KEY (tenant_id, dim, day, grp, event, severity) INCLUDE (n)
);
CREATE INDEX stats_summary_daily_by_day ON stats_summary_daily (dim, day);

-- One row: the hours before hours_until are summarized (NULL: none yet). The folding pass locks it, so gateway
-- processes folding at once summarize each hour once.
CREATE TABLE stats_summarized (
    id           boolean PRIMARY KEY DEFAULT true CHECK (id),
    hours_until  timestamptz
);
INSERT INTO stats_summarized (id, hours_until) VALUES (true, NULL);
