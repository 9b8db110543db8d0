#!/usr/bin/env bash
# load_8_clients.sh: eight clients ingest one generated event stream into
# traces_null at the same time, in batches of 100 to 10,000 rows (COPY and
# multi-row INSERT, one statement each), with heavy key overlap: the stream
# interleaves about 300 live traces and test/split_events.pl deals its
# batches round-robin to the clients, so concurrent batches keep hitting the
# same traces.  Then every target must equal the plain-SQL recomputation
# from the raw events (test/scripts/traces_discrepancy.sql), no client may
# have seen an error, and the server must have detected no deadlock.
# Prints the throughput and how many traces two or more clients wrote.
#
# The raw events are kept by a second statement trigger on traces_null,
# which fires after the fan-out trigger (triggers fire in name order) and
# numbers the statement's rows seq = batch_order * 100000 + position.
# batch_order comes from a sequence read after the fan-out has merged the
# statement, while it holds the row locks of all its keys until commit; of
# two batches that share a key, the one merged second waited for the first
# to commit before taking its number.  So seq orders every key's events as
# they were merged, and the recomputation is exact for the order-dependent
# columns too: any_last in arrival order, and argMax ties (events of a
# trace sharing an event_ts, which the generator makes on purpose) won by
# the first to arrive, without forcing unique timestamps.
#
# Size: LOAD_EVENTS (default 200000; the issue's full run is
# LOAD_EVENTS=1000000), LOAD_CLIENTS (8), LOAD_SEED (11), LOAD_MAX_PAYLOAD
# (bytes of input/output payloads, 4096).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
events=${LOAD_EVENTS:-200000}
clients=${LOAD_CLIENTS:-8}
seed=${LOAD_SEED:-11}
max_payload=${LOAD_MAX_PAYLOAD:-4096}
work=${TA_DIR:?run by test/run, which sets TA_DIR}/load
mkdir -p "$work"
psql() { "$TA_BINDIR/psql" -X -v ON_ERROR_STOP=1 -q "$@"; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
echo "load test: $events events, $clients clients, seed $seed, payloads up to $max_payload bytes"

psql <<'SQL'
CREATE EXTENSION trace_agg;
DO $$ BEGIN PERFORM trace_agg.create_traces_tables(windows => 'tables'); END $$;
CREATE TABLE raw_events (seq bigint PRIMARY KEY, LIKE traces_null INCLUDING DEFAULTS);
CREATE TABLE load_batch (batch_order bigint PRIMARY KEY, client text, nrows bigint, done timestamptz);
CREATE SEQUENCE load_batch_order;
CREATE FUNCTION capture_raw() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    b bigint := nextval('load_batch_order');
BEGIN
    INSERT INTO raw_events SELECT b * 100000 + row_number() OVER (), n.* FROM new_rows n;
    INSERT INTO load_batch SELECT b, current_setting('application_name'), count(*), clock_timestamp()
    FROM new_rows;
    RETURN NULL;
END
$$;
CREATE TRIGGER zz_capture_raw AFTER INSERT ON traces_null
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION capture_raw();
SQL

# The stream, cut into batches of 100 to 10,000 rows dealt round-robin to
# the clients.
t0=$(date +%s.%N)
perl "$here/../gen_events.pl" --events "$events" --seed "$seed" --max-payload "$max_payload" \
	--now "$(date +%s)" --raw stream --batch 10000 |
	perl "$here/../split_events.pl" --clients "$clients" --seed "$seed" --dir "$work"
t1=$(date +%s.%N)
echo "generated in $(elapsed "$t0" "$t1") s"

# The clients, all at once; each stops at its first error.
pids=()
for ((c = 0; c < clients; c++)); do
	PGAPPNAME=client-$c psql -f "$work/client-$c.sql" >"$work/client-$c.log" 2>&1 &
	pids+=($!)
done
failed=0
for ((c = 0; c < clients; c++)); do
	wait "${pids[$c]}" || { failed=$((failed + 1)); echo "client $c failed:"; tail -5 "$work/client-$c.log"; }
done
t2=$(date +%s.%N)
secs=$(elapsed "$t1" "$t2")

psql -v secs="$secs" <<'SQL'
\pset footer off
SELECT sum(nrows) AS events, count(*) AS batches,
       min(nrows) AS smallest, max(nrows) AS largest, count(DISTINCT client) AS clients,
       round(sum(nrows) / :secs) AS events_per_s, round(:secs::numeric, 1) AS seconds
FROM load_batch;
SELECT pg_size_pretty(sum(pg_column_size(r.*))) AS raw_event_bytes,
       pg_size_pretty(round(sum(pg_column_size(r.*)) / :secs)) || '/s' AS rate
FROM raw_events r;
-- How much the clients shared: traces written by two clients or more.
SELECT count(*) AS traces,
       count(*) FILTER (WHERE nclients >= 2) AS written_by_2_or_more_clients,
       round(avg(nclients), 2) AS avg_clients_per_trace
FROM (SELECT r.project_id, r.id, count(DISTINCT b.client) AS nclients
      FROM raw_events r JOIN load_batch b ON b.batch_order = r.seq / 100000
      GROUP BY r.project_id, r.id) t;
SELECT deadlocks, xact_rollback AS rollbacks
FROM pg_stat_database WHERE datname = current_database();
SQL

[ "$failed" = 0 ] || { echo "$failed clients failed"; exit 1; }
deadlocks=$(psql -At -c "SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()")
[ "$deadlocks" = 0 ] || { echo "the server detected $deadlocks deadlocks"; exit 1; }
[ "$(psql -At -c 'SELECT count(*) FROM raw_events')" = "$events" ] ||
	{ echo "raw_events does not hold the $events events"; exit 1; }

psql -c "CREATE INDEX ON raw_events (project_id, id, seq)" -c "ANALYZE raw_events"
psql -f "$here/traces_discrepancy.sql" | tee "$work/discrepancy.out"
grep -q '^ok$' "$work/discrepancy.out"
echo "checked in $(elapsed "$t2" "$(date +%s.%N)") s"
