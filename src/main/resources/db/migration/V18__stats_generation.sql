-- Bumped by the folding pass, in its transaction, whenever it adds to hours already summarized (late writers' rows):
-- the closed part of a statistics answer read at one generation holds while it is the same (StatsCache).
ALTER TABLE stats_summarized ADD COLUMN generation bigint NOT NULL DEFAULT 0;
