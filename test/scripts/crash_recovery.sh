#!/usr/bin/env bash
# crash_recovery.sh: four clients ingest into traces_null, one transaction
# per batch, while the server is killed again and again, each time at a
# different kind of point:
#   immediate   pg_ctl stop -m immediate
#   postmaster  kill -9 of the postmaster and of every server process
#   backend     kill -9 of a backend in the middle of an INSERT or COPY
#               (the postmaster then restarts all processes by itself)
#   checkpoint  kill -9 of the postmaster and its processes during a CHECKPOINT
# After each kill the server is started again and the clients carry on.
# Afterwards:
#   - every batch a client saw committed (logged after COMMIT returned) is
#     in raw_events with all its rows, and every target equals the
#     plain-SQL recomputation from raw_events (traces_discrepancy.sql): no
#     committed batch lost, none applied twice or in part;
#   - no batch that rolled back is anywhere: clients also send "poison"
#     batches (usage {"poison": 1}, a trace of project "poison") that end in
#     ROLLBACK;
#   - the server log has no PANIC, no failed assertion and no corruption
#     message, amcheck finds the targets' indexes consistent with their
#     heaps, and ingestion goes on after the last restart.
#
# A batch interrupted by a kill may or may not have committed; its client
# retries it.  Clients 0 and 2 retry with the batch's insert token
# (trace_agg.insert_token), so that a batch that did commit is skipped by
# the fan-out; clients 1 and 3 look in raw_events first and retry only a
# batch that is not there.  As a kill rarely falls between a COMMIT and its
# acknowledgement, every third committed batch is also treated as if its
# acknowledgement had been lost: resent with its token (the fan-out must
# skip every such resend), or looked up in raw_events.  raw_events is written by a statement trigger
# that fires after the fan-out, numbering rows by a sequence read while the
# fan-out holds the batch's keys (as in load_8_clients.sh), and skipping a
# batch already recorded.
#
# CRASH_ROUNDS (default 6), CRASH_EVENTS (60000), CRASH_SEED (5).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"
rounds=${CRASH_ROUNDS:-6}
events=${CRASH_EVENTS:-60000}
seed=${CRASH_SEED:-5}
clients=4
dir=${TA_DIR:?run by test/run, which sets TA_DIR}
data=$dir/data
work=$dir/crash
mkdir -p "$work"
[ "$(id -u)" = 0 ] && chown postgres: "$work"
psql() { "$TA_BINDIR/psql" -X -v ON_ERROR_STOP=1 -q "$@"; }
echo "crash test: $rounds kills, $events events, $clients clients, seed $seed"
RANDOM=$seed

psql <<'SQL'
CREATE EXTENSION trace_agg;
CREATE EXTENSION amcheck;
DO $$ BEGIN PERFORM trace_agg.create_traces_tables(windows => 'tables'); END $$;
CREATE TABLE raw_events (seq bigint PRIMARY KEY, batch_id text NOT NULL, LIKE traces_null INCLUDING DEFAULTS);
CREATE INDEX ON raw_events (batch_id);
CREATE SEQUENCE batch_order;
CREATE FUNCTION capture_raw() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    batch text := current_setting('crash.batch');
    b bigint;
BEGIN
    IF NOT EXISTS (SELECT FROM raw_events WHERE batch_id = batch) THEN
        b := nextval('batch_order');
        INSERT INTO raw_events SELECT b * 100000 + row_number() OVER (), batch, n.* FROM new_rows n;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER zz_capture_raw AFTER INSERT ON traces_null
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION capture_raw();
SQL

perl "$here/../gen_events.pl" --events "$events" --seed "$seed" --max-payload 2048 \
	--now "$(date +%s)" --raw stream --batch 10000 |
	perl "$here/../split_events.pl" --clients "$clients" --seed "$seed" --dir "$work" \
		--min 100 --max 3000 --per-batch --poison 4

# One batch in its own transaction; exit 0 once COMMIT has returned.
send() {
	local batch=$1 file=$2 token=$3 end=$4
	psql -v batch="$batch" -v token="$token" -v end="$end" -f - -f "$file" -c "$end" <<'SQL'
BEGIN;
SET LOCAL crash.batch = :'batch';
SET LOCAL trace_agg.insert_token = :'token';
SQL
}

server_up() { "$TA_BINDIR/pg_isready" -q; }

# Wait for the server to accept connections again, two minutes at most.
wait_for_server() {
	local deadline=$(($(date +%s) + 120))
	until server_up; do
		[ "$(date +%s)" -lt "$deadline" ] || return 1
		sleep 0.1
	done
}

# Whether a batch is in raw_events, whole; asked until the server answers.
batch_recorded() {
	local batch=$1 rows=$2 n
	until n=$(psql -At -c "SELECT count(*) FROM raw_events WHERE batch_id = '$batch'" 2>/dev/null); do
		wait_for_server || return 1
	done
	[ "$n" = "$rows" ]
}

# Send a batch until it is committed.  A client with a token retries
# blindly; one without looks in raw_events first.  Gives up after 30
# failed attempts.
commit_batch() {
	local c=$1 batch=$2 f=$3 token=$4 rows=$5 attempts=0
	until send "$batch" "$f" "$token" COMMIT >>"$work/client-$c.log" 2>&1; do
		attempts=$((attempts + 1))
		[ "$attempts" -lt 30 ] || { echo "client $c gave up on batch $batch"; return 1; }
		wait_for_server || { echo "client $c: the server did not come back"; return 1; }
		if [ -z "$token" ] && batch_recorded "$batch" "$rows"; then
			echo "found $batch" >>"$work/client-$c.log"
			return 0
		fi
		echo "retry $batch" >>"$work/client-$c.log"
	done
}

# A client: each batch until it is committed, then logged; poison batches
# once each, rolled back.  Every third batch its acknowledgement is taken
# as lost after the commit: a client with a token sends it again, which
# must be skipped; one without must find it in raw_events.
client() {
	local c=$1 f batch token rows n=0
	for f in "$work/client-$c"/[0-9][0-9][0-9][0-9].sql; do
		batch=c$c-$(basename "$f" .sql)
		rows=$(cat "${f%.sql}.rows")
		token=
		if [ $((c % 2)) = 0 ]; then
			token=$batch
		fi
		if [ -f "${f%.sql}.poison.sql" ]; then
			send "poison-$batch" "${f%.sql}.poison.sql" "" ROLLBACK >/dev/null 2>&1 || true
		fi
		commit_batch "$c" "$batch" "$f" "$token" "$rows" || return 1
		echo "$batch $rows" >>"$work/committed-$c"
		n=$((n + 1))
		[ $((n % 3)) = 0 ] || continue
		if [ -n "$token" ]; then
			echo "resend $batch" >>"$work/client-$c.log"
			commit_batch "$c" "$batch" "$f" "$token" "$rows" || return 1
		elif ! batch_recorded "$batch" "$rows"; then
			echo "client $c: committed batch $batch is not in raw_events"
			return 1
		fi
	done
}

postmaster_pid() { head -1 "$data/postmaster.pid"; }

start_server() {
	ta_as_pg "$TA_BINDIR/pg_ctl" -D "$data" -l "$dir/server.log" -w -t 120 start >/dev/null 2>>"$work/pg_ctl.log" || {
		echo "the server did not start again"
		tail -5 "$dir/server.log"
		exit 1
	}
}

children_of() {
	local p
	for p in /proc/[0-9]*; do
		[ "$(awk '{ print $4 }' "$p/stat" 2>/dev/null)" = "$1" ] && echo "${p#/proc/}"
	done
	return 0
}

# kill -9 the postmaster and, as a machine crash would, all its processes.
# The postmaster is stopped first, so that it starts no process after they
# are listed.
kill_everything() {
	local pm children
	pm=$(postmaster_pid)
	kill -STOP "$pm"
	children=$(children_of "$pm")
	kill -9 "$pm" $children 2>/dev/null || true
	while kill -0 "$pm" $children 2>/dev/null; do sleep 0.05; done
}

crash() {
	local how=$1 pid
	case $how in
	immediate)
		ta_as_pg "$TA_BINDIR/pg_ctl" -D "$data" -m immediate -w stop >/dev/null
		start_server ;;
	postmaster)
		kill_everything
		start_server ;;
	backend)
		pid=$(psql -At -c "SELECT pid FROM pg_stat_activity WHERE state = 'active'
		                   AND (query LIKE 'COPY%' OR query LIKE 'INSERT%') LIMIT 1")
		if [ -z "$pid" ]; then
			echo "  (no INSERT or COPY running: killing the postmaster instead)"
			kill_everything
			start_server
			return
		fi
		kill -9 "$pid"
		sleep 0.5
		wait_for_server || { echo "the server did not come back after a backend was killed"; exit 1; } ;;
	checkpoint)
		psql -c "CHECKPOINT" >/dev/null 2>&1 &
		sleep 0.05
		kill_everything
		wait $! || true
		start_server ;;
	esac
}

t0=$(date +%s)
cpids=()
trap 'kill "${cpids[@]}" 2>/dev/null || true' EXIT
for ((c = 0; c < clients; c++)); do
	client "$c" &
	cpids+=($!)
done

# Kill number r comes once the clients have committed r/(rounds+1) of the
# batches, a moment later, so that kills fall at random points of a batch.
total=$(ls "$work"/client-*/[0-9][0-9][0-9][0-9].sql | wc -l)
kinds=(immediate postmaster backend checkpoint)
for ((r = 1; r <= rounds; r++)); do
	deadline=$(($(date +%s) + 120))
	until [ "$(cat "$work"/committed-* 2>/dev/null | wc -l)" -ge $((total * r / (rounds + 1))) ]; do
		[ "$(date +%s)" -lt "$deadline" ] || { echo "no progress for 120 s"; tail "$work"/client-*.log; exit 1; }
		sleep 0.05
	done
	sleep "0.$((RANDOM % 10))"
	echo "kill $r: ${kinds[(r - 1) % 4]}, after $(cat "$work"/committed-* | wc -l) of $total batches"
	crash "${kinds[(r - 1) % 4]}"
done

for pid in "${cpids[@]}"; do
	wait "$pid"
done
count() { cat "$work"/client-*.log | grep -c "$1" || true; }
resent=$(count '^resend')
skipped=$(count 'was already applied')
echo "clients done in $(($(date +%s) - t0)) s: $(count '^retry') retries after a failure," \
	"$(count '^found') batches found committed, $resent resent with their token, $skipped skipped"
[ "$skipped" -ge "$resent" ] || { echo "a batch resent with its token was applied again"; exit 1; }

# Every committed batch is in raw_events, whole; poison is nowhere.
cat "$work"/committed-* | awk '{ print $1 "\t" $2 }' >"$work/committed.tsv"
chmod a+r "$work/committed.tsv"
psql -v file="$work/committed.tsv" <<'SQL' | tee "$work/batches.out"
\pset footer off
CREATE TEMP TABLE committed (batch_id text, nrows bigint);
COPY committed FROM :'file';
CREATE TEMP TABLE verdict AS
SELECT (SELECT count(*) FROM committed) AS committed_batches,
       (SELECT count(*) FROM committed c
        WHERE c.nrows IS DISTINCT FROM (SELECT count(*) FROM raw_events r WHERE r.batch_id = c.batch_id)) AS incomplete,
       (SELECT count(DISTINCT batch_id) FROM raw_events WHERE batch_id NOT IN (SELECT batch_id FROM committed)) AS unexpected,
       (SELECT count(*) FROM (SELECT project_id, usage_details FROM traces_all_amt
                              UNION ALL SELECT project_id, usage_details FROM traces_7d_amt
                              UNION ALL SELECT project_id, usage_details FROM traces_30d_amt) t
        WHERE project_id = 'poison' OR usage_details ? 'poison') AS poisoned,
       (SELECT count(*) FROM raw_events WHERE batch_id LIKE 'poison%') AS poison_raw;
TABLE verdict;
SELECT CASE WHEN incomplete = 0 AND unexpected = 0 AND poisoned = 0 AND poison_raw = 0
            THEN 'batches ok' ELSE 'LOST, PARTIAL OR EXTRA BATCHES' END AS verdict FROM verdict \gset
\echo :verdict
SQL

# Indexes agree with their tables after the crashes.
psql -c "SELECT bt_index_check(i.indexrelid, true) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
         WHERE i.indrelid IN ('traces_all_amt'::regclass, 'traces_7d_amt'::regclass, 'traces_30d_amt'::regclass)
           AND c.relam = (SELECT oid FROM pg_am WHERE amname = 'btree')" >/dev/null

# Ingestion goes on.
psql <<'SQL'
BEGIN;
SET LOCAL crash.batch = 'after';
INSERT INTO traces_null (project_id, id, start_time, usage_details)
VALUES ('after', 'a1', now(), '{"n": 1}'), ('after', 'a1', now(), '{"n": 2}');
COMMIT;
SQL
[ "$(psql -At -c "SELECT usage_details->>'n' FROM traces_all_amt WHERE project_id = 'after'")" = 3 ]

psql -c "CREATE INDEX ON raw_events (project_id, id, seq)" -c "ANALYZE raw_events"
psql -f "$here/traces_discrepancy.sql" | tee "$work/discrepancy.out"

if grep -E 'PANIC|TRAP|invalid page|corrupt|could not read block|unexpected zero page' "$dir/server.log"; then
	echo "the server log reports damage"
	exit 1
fi
grep -q '^batches ok$' "$work/batches.out"
grep -q '^ok$' "$work/discrepancy.out"
