#!/usr/bin/env bash
# The reference's discrepancy check: a generated stream of 100,000 trace
# events goes through traces_null into the all/7d/30d tables, and every
# finalized trace must equal a plain-SQL recomputation from the raw events,
# which are also kept, numbered in arrival order, in a side table.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
psql() { "$TA_BINDIR/psql" -X -v ON_ERROR_STOP=1 -q "$@"; }

psql -c "CREATE EXTENSION trace_agg" -c "SELECT trace_agg.create_traces_tables(windows => 'tables')" \
     -c "CREATE TABLE raw_events (seq bigint PRIMARY KEY, LIKE traces_null INCLUDING DEFAULTS)"
perl "$here/../gen_events.pl" --events "${EVENTS:-100000}" --seed 7 --max-payload 16384 \
     --now "$(date +%s)" --raw raw_events | psql
psql -c "CREATE INDEX ON raw_events (project_id, id, seq)" -c "ANALYZE raw_events"
# Replay the stream into traces_null in statements of 1,000 rows, in order.
psql <<'SQL'
DO $$
DECLARE
    lo bigint := 0;
    hi bigint := (SELECT max(seq) FROM raw_events);
BEGIN
    WHILE lo < hi LOOP
        INSERT INTO traces_null
        SELECT project_id, id, start_time, end_time, name, metadata, user_id, session_id,
               environment, tags, version, release, bookmarked, public, observation_ids,
               score_ids, cost_details, usage_details, input, output, created_at, updated_at, event_ts
        FROM raw_events WHERE seq > lo AND seq <= lo + 1000 ORDER BY seq;
        lo := lo + 1000;
    END LOOP;
END
$$;
SQL
psql -f "$here/traces_discrepancy.sql" | tee "$TA_DIR/discrepancy.out"
grep -q '^ok$' "$TA_DIR/discrepancy.out"
