#!/usr/bin/env bash
# derived_property.sh: random versioned child streams against derived views,
# from several sessions at once, must leave every derived row equal to a
# one-pass GROUP BY over the source.
#
# Children (observations) are created, updated with new versions, moved to
# another parent, deleted, and upserted with versions that arrive late and
# out of order (an older version loses: ON CONFLICT ... WHERE version <
# excluded.version), in random batches of 1 to 40 rows, from
# DERIVED_CLIENTS (4) sessions at once, DERIVED_BATCHES (150) statements
# each.  Each session owns its children (so sessions never wait on one
# another's child rows), and all share a small pool of parents (traces in
# sessions), so that concurrent statements keep recomputing the same
# parents; the first session locks whole targets when a statement touches
# more than 5 parents, the others lock parent by parent.  A second stream
# of versions goes through a trace_agg_null table, whose materialized view
# keeps each child's latest version, which a derived view sums per trace: a
# fan-out and a derived view in one statement.
#
# The same stream also feeds views in delta mode, which add each
# statement's changes instead of recomputing: per-trace counts, sums and
# sum_maps of the observations (traces_delta; map values are often 0, so
# keys whose total is 0 come and go), and per-project sums of those
# (projects_delta, a delta view of a delta view's target).
#
# Two rounds, each checked at the end: the traces, sessions, per-trace
# usage, traces_delta and projects_delta tables must equal their one-pass
# recomputations over the source (0 differences).
# In the first, every statement is its own transaction, and none may fail:
# a statement locks each target's keys once, in order (the two firings of
# an upsert and the three of a derived view's own write included), so no
# deadlock.  In the second, a sixth of the transactions run two
# statements; such transactions lock in two batches and may deadlock, as
# the README says: Postgres fails one (40P01), which changes nothing, and
# no other error is allowed.  DERIVED_SEED (5) fixes the stream.
#
# Then the checker must catch a delta applied twice: a second statement
# trigger on the source, in PL/pgSQL, runs traces_delta's own statements
# (from derived_view_statements) over each UPDATE's transition tables
# again; after a few updates the check must report traces_delta as
# different, and the script fails if it does not.
set -euo pipefail
clients=${DERIVED_CLIENTS:-4}
batches=${DERIVED_BATCHES:-150}
seed=${DERIVED_SEED:-5}
work=${TA_DIR:?run by test/run, which sets TA_DIR}/derived
mkdir -p "$work"
psql() { "$TA_BINDIR/psql" -X -v ON_ERROR_STOP=1 -q "$@"; }
echo "derived property test: $clients sessions, $batches statements each, seed $seed"

psql <<'SQL'
CREATE EXTENSION trace_agg;
CREATE TABLE observations (
    project_id text NOT NULL, trace_id text NOT NULL, id text PRIMARY KEY, session_id text,
    version bigint NOT NULL, usage bigint, cost numeric, start_time timestamptz, level text, name text,
    details trace_agg.uint64_map);
CREATE INDEX ON observations (project_id, trace_id);
CREATE TABLE traces (
    project_id text, trace_id text, session_id text, usage bigint, cost numeric,
    start_time timestamptz, has_error boolean, observations bigint, names bigint,
    avg_usage numeric, p50_usage double precision, PRIMARY KEY (project_id, trace_id));
CREATE INDEX ON traces (project_id, session_id);
CREATE TABLE sessions (project_id text, session_id text, traces bigint, usage bigint, cost numeric,
                       errors bigint, PRIMARY KEY (project_id, session_id));
SELECT trace_agg.create_derived_view('traces_dv', 'traces', $$
    SELECT project_id, trace_id, max(session_id) AS session_id, sum(usage) AS usage, sum(cost) AS cost,
           min(start_time) AS start_time, bool_or(level = 'ERROR') AS has_error,
           count(*) AS observations, count(DISTINCT name) AS names, avg(usage) AS avg_usage,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY usage) AS p50_usage
    FROM observations GROUP BY project_id, trace_id$$);
SELECT trace_agg.create_derived_view('sessions_dv', 'sessions', $$
    SELECT project_id, session_id, count(*) AS traces, sum(usage) AS usage, sum(cost) AS cost,
           count(*) FILTER (WHERE has_error) AS errors
    FROM traces WHERE session_id IS NOT NULL GROUP BY project_id, session_id$$);

CREATE TABLE obs_events (project_id text, trace_id text, id text, usage bigint, ts timestamptz)
    USING trace_agg_null;
CREATE TABLE obs_latest (project_id text, trace_id text, id text, usage trace_agg.argmax_any,
                         PRIMARY KEY (project_id, trace_id, id));
SELECT trace_agg.create_materialized_view('obs_latest_mv', 'obs_latest', $$
    SELECT project_id, trace_id, id, trace_agg.argmax_last_state(usage, ts) AS usage
    FROM obs_events GROUP BY project_id, trace_id, id$$);
CREATE TABLE trace_usage (project_id text, trace_id text, usage numeric, observations bigint,
                          PRIMARY KEY (project_id, trace_id));
SELECT trace_agg.create_derived_view('trace_usage_dv', 'trace_usage', $$
    SELECT project_id, trace_id, sum(trace_agg.finalize(usage, NULL::bigint)) AS usage,
           count(*) AS observations
    FROM obs_latest GROUP BY project_id, trace_id$$);

CREATE TABLE traces_delta (project_id text, trace_id text, observations bigint, usage numeric(20, 0),
                           usage_count bigint, cost numeric, cost_count bigint, errors bigint NOT NULL,
                           details trace_agg.uint64_map, error_details trace_agg.uint64_map,
                           PRIMARY KEY (project_id, trace_id));
SELECT trace_agg.create_derived_view('traces_delta_dv', 'traces_delta', $$
    SELECT project_id, trace_id, count(*) AS observations, sum(usage) AS usage, count(usage) AS usage_count,
           sum(cost::numeric(12, 2)) AS cost, count(cost::numeric(12, 2)) AS cost_count,
           count(*) FILTER (WHERE level = 'ERROR') AS errors, trace_agg.sum_map(details) AS details,
           trace_agg.sum_map(details) FILTER (WHERE level = 'ERROR') AS error_details
    FROM observations GROUP BY project_id, trace_id$$, mode => 'delta');
CREATE TABLE projects_delta (project_id text PRIMARY KEY, traces bigint, usage numeric, usage_count bigint,
                             errors numeric, details trace_agg.uint64_map);
SELECT trace_agg.create_derived_view('projects_delta_dv', 'projects_delta', $$
    SELECT project_id, count(*) AS traces, sum(usage) AS usage, count(usage) AS usage_count,
           sum(errors) AS errors, trace_agg.sum_map(details) AS details
    FROM traces_delta GROUP BY project_id$$, mode => 'delta');
SQL

# round NAME MULTI SEED: the sessions of one round, MULTI the share of
# two-statement transactions; prints the errors and deadlocks seen.
round() {
local name=$1 multi=$2 rseed=$3
mkdir -p "$work/$name"
perl - "$work/$name" "$clients" "$batches" "$rseed" "$multi" <<'PERL'
use strict; use warnings;
my ($dir, $clients, $batches, $seed, $multi) = @ARGV;
srand($seed);
sub pick { $_[int(rand(@_))] }
sub parent { my $t = int(rand(30)); ('p' . ($t % 3), "t$t", 's' . ($t % 7)) }
# a map of some of three keys, values often 0; NULL at times
sub details {
    return 'NULL' if rand() < 0.1;
    "'{" . join(', ', map { "\"$_\": " . (rand() < 0.3 ? 0 : int(rand(50))) } grep { rand() < 0.5 } qw(in out cache)) . "}'";
}
for my $c (0 .. $clients - 1) {
    open(my $out, '>', "$dir/client-$c.sql") or die;
    # the first session locks whole targets past 5 keys, the others key by key
    print $out "SET trace_agg.derived_max_key_locks = 5;\n" if $c == 0;
    my $child = sub { "c$c-o" . int(rand(60)) };
    my $ids = sub { join(', ', map { "'" . $child->() . "'" } 1 .. 1 + int(rand(8))) };
    my $op = sub {
        my $r = rand();
        if ($r < 0.40) {
            my $n = 1 + int(rand(40));
            my @rows = map {
                my ($p, $t, $s) = parent();
                my $sess = rand() < 0.1 ? 'NULL' : "'$s'";
                sprintf("('%s', '%s', '%s', %s, %d, %d, %.2f, '2026-01-01'::timestamptz + interval '%d s', '%s', '%s', %s)",
                        $p, $t, $child->(), $sess, int(rand(1000)), int(rand(100)), rand(5),
                        int(rand(86400)), pick('DEFAULT', 'DEFAULT', 'WARNING', 'ERROR'), pick('llm', 'tool', 'span'),
                        details())
            } 1 .. $n;
            my %seen; my @uniq = grep { my ($id) = /'(c\d+-o\d+)'/; !$seen{$id}++ } @rows;
            return "INSERT INTO observations VALUES " . join(', ', @uniq)
                . " ON CONFLICT (id) DO UPDATE SET project_id = excluded.project_id, trace_id = excluded.trace_id,"
                . " session_id = excluded.session_id, version = excluded.version, usage = excluded.usage,"
                . " cost = excluded.cost, level = excluded.level, name = excluded.name, details = excluded.details"
                . " WHERE observations.version < excluded.version;";
        } elsif ($r < 0.60) {
            return sprintf("UPDATE observations SET usage = usage + %d, version = version + 1, level = '%s'%s WHERE id IN (%s);",
                           int(rand(20)), pick('DEFAULT', 'ERROR'),
                           rand() < 0.5 ? ', details = ' . details() : '', $ids->());
        } elsif ($r < 0.72) {
            my ($p, $t, $s) = parent();
            return "UPDATE observations SET project_id = '$p', trace_id = '$t', session_id = '$s' WHERE id IN (" . $ids->() . ");";
        } elsif ($r < 0.85) {
            return "DELETE FROM observations WHERE id IN (" . $ids->() . ");";
        } else {
            my $n = 1 + int(rand(30));
            return "INSERT INTO obs_events VALUES " . join(', ', map {
                my ($p, $t) = parent();
                sprintf("('%s', '%s', '%s', %d, '2026-01-01'::timestamptz + interval '%d s')",
                        $p, $t, $child->(), int(rand(100)), int(rand(3600)))
            } 1 .. $n) . ";";
        }
    };
    for (1 .. $batches) {
        if (rand() < $multi) { print $out "BEGIN;\n", $op->(), "\n", $op->(), "\nCOMMIT;\n" }
        else { print $out $op->(), "\n" }
    }
    close($out);
}
PERL

# The sessions, all at once; a statement's error does not stop its session.
pids=()
for ((c = 0; c < clients; c++)); do
	"$TA_BINDIR/psql" -X -q -v ON_ERROR_STOP=0 -f "$work/$name/client-$c.sql" >"$work/$name/client-$c.log" 2>&1 &
	pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid"; done
errors=$(cat "$work/$name"/client-*.log | grep -c 'ERROR:  ' || true)
deadlocks=$(cat "$work/$name"/client-*.log | grep -c 'ERROR:  deadlock detected' || true)
aborted=$(cat "$work/$name"/client-*.log | grep -c 'ERROR:  current transaction is aborted' || true)
echo "round $name: $((clients * batches)) statements, $deadlocks deadlocks, $((errors - deadlocks - aborted)) other errors"
if [ "$((errors - deadlocks - aborted))" != 0 ]; then
	grep -h 'ERROR:  ' "$work/$name"/client-*.log | grep -v 'deadlock detected\|transaction is aborted' | sort | uniq -c | head
	return 1
fi
check
[ "$name" != single ] || [ "$deadlocks" = 0 ] || { echo "single statements deadlocked"; return 1; }
}

check() {
psql -At >"$work/check.out" <<'SQL'
SELECT 'rows: observations ' || (SELECT count(*) FROM observations) || ', traces ' || (SELECT count(*) FROM traces)
       || ', sessions ' || (SELECT count(*) FROM sessions) || ', obs_latest ' || (SELECT count(*) FROM obs_latest)
       || ', trace_usage ' || (SELECT count(*) FROM trace_usage);
CREATE TEMP VIEW traces_expected AS
    SELECT o.project_id, o.trace_id, max(o.session_id) AS session_id, sum(o.usage) AS usage,
           sum(o.cost) AS cost, min(o.start_time) AS start_time, bool_or(o.level = 'ERROR') AS has_error,
           count(*) AS observations, count(DISTINCT o.name) AS names, avg(o.usage) AS avg_usage,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY o.usage) AS p50_usage
    FROM observations o GROUP BY 1, 2;
CREATE TEMP VIEW sessions_expected AS
    SELECT t.project_id, t.session_id, count(*) AS traces, sum(t.usage) AS usage, sum(t.cost) AS cost,
           count(*) FILTER (WHERE t.has_error) AS errors
    FROM traces_expected t WHERE t.session_id IS NOT NULL GROUP BY 1, 2;
CREATE TEMP VIEW trace_usage_expected AS
    SELECT l.project_id, l.trace_id, sum(trace_agg.finalize(l.usage, NULL::bigint))::numeric, count(*)
    FROM obs_latest l GROUP BY 1, 2;
CREATE TEMP VIEW traces_delta_expected AS
    SELECT o.project_id, o.trace_id, count(*) AS observations, sum(o.usage) AS usage,
           count(o.usage) AS usage_count, sum(o.cost::numeric(12, 2)) AS cost,
           count(o.cost::numeric(12, 2)) AS cost_count, count(*) FILTER (WHERE o.level = 'ERROR') AS errors,
           trace_agg.sum_map(o.details) AS details,
           trace_agg.sum_map(o.details) FILTER (WHERE o.level = 'ERROR') AS error_details
    FROM observations o GROUP BY 1, 2;
CREATE TEMP VIEW projects_delta_expected AS
    SELECT t.project_id, count(*) AS traces, sum(t.usage) AS usage, count(t.usage) AS usage_count,
           sum(t.errors) AS errors, trace_agg.sum_map(t.details) AS details
    FROM traces_delta_expected t GROUP BY 1;
SELECT 'delta differences: traces_delta ' ||
       (SELECT count(*) FROM ((SELECT d::text FROM traces_delta d EXCEPT ALL SELECT e::text FROM traces_delta_expected e)
                              UNION ALL (SELECT e::text FROM traces_delta_expected e
                                         EXCEPT ALL SELECT d::text FROM traces_delta d)) d)
       || ', projects_delta ' ||
       (SELECT count(*) FROM ((SELECT d::text FROM projects_delta d EXCEPT ALL SELECT e::text FROM projects_delta_expected e)
                              UNION ALL (SELECT e::text FROM projects_delta_expected e
                                         EXCEPT ALL SELECT d::text FROM projects_delta d)) d);
SELECT 'differences: traces ' ||
       (SELECT count(*) FROM ((TABLE traces EXCEPT ALL TABLE traces_expected)
                              UNION ALL (TABLE traces_expected EXCEPT ALL TABLE traces)) d)
       || ', sessions ' ||
       (SELECT count(*) FROM ((TABLE sessions EXCEPT ALL TABLE sessions_expected)
                              UNION ALL (TABLE sessions_expected EXCEPT ALL TABLE sessions)) d)
       || ', trace_usage ' ||
       (SELECT count(*) FROM ((TABLE trace_usage EXCEPT ALL TABLE trace_usage_expected)
                              UNION ALL (TABLE trace_usage_expected EXCEPT ALL TABLE trace_usage)) d);
SQL
cat "$work/check.out"
grep -q '^differences: traces 0, sessions 0, trace_usage 0$' "$work/check.out" &&
	grep -q '^delta differences: traces_delta 0, projects_delta 0$' "$work/check.out"
}

round single 0 "$seed"
round multi 0.16 "$((seed + 1))"

# A delta applied twice: the same checker must see it.
psql <<'SQL'
CREATE FUNCTION apply_again() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
    gather text;
    apply text;
    k1 text[]; k2 text[];
    d1 numeric[]; d2 numeric[]; d3 numeric[]; d4 numeric[]; d5 numeric[]; d6 numeric[];
    p7 jsonb[]; m7 jsonb[]; p8 jsonb[]; m8 jsonb[];
BEGIN
    SELECT s.delta_statement, s.statement INTO gather, apply
    FROM trace_agg.derived_view_statements('observations') s WHERE s.view = 'traces_delta_dv'::regclass;
    EXECUTE gather INTO k1, k2, d1, d2, d3, d4, d5, d6, p7, m7, p8, m8
        USING NULL::text[], NULL::text[], NULL::numeric[], NULL::numeric[], NULL::numeric[],
              NULL::numeric[], NULL::numeric[], NULL::numeric[],
              NULL::jsonb[], NULL::jsonb[], NULL::jsonb[], NULL::jsonb[];
    IF k1 IS NOT NULL THEN
        EXECUTE apply USING k1, k2, d1, d2, d3, d4, d5, d6, p7, m7, p8, m8;
    END IF;
    RETURN NULL;
END
$fn$;
CREATE TRIGGER apply_again AFTER UPDATE ON observations
    REFERENCING OLD TABLE AS trace_agg_old_rows NEW TABLE AS trace_agg_new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION apply_again();
UPDATE observations SET usage = usage + 1 WHERE id IN (SELECT id FROM observations ORDER BY id LIMIT 5);
SQL
if check; then
	echo "a delta applied twice went unnoticed"
	exit 1
fi
grep -q '^delta differences: traces_delta [1-9]' "$work/check.out" ||
	{ echo "a delta applied twice was not reported as a traces_delta difference"; exit 1; }
echo "a delta applied twice is reported"
