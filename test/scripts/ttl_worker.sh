#!/usr/bin/env bash
# The TTL worker starts by itself (no shared_preload_libraries, no cron),
# removes expired rows within its naptime, keeps ingestion unblocked, and
# exits when no TTL is left.
set -euo pipefail
psql() { "$TA_BINDIR/psql" -X -v ON_ERROR_STOP=1 -q -At "$@"; }
wait_for() {	# wait_for SQL EXPECTED: poll up to 30 s
	local i got
	for i in $(seq 1 60); do
		got=$(psql -c "$1")
		[ "$got" = "$2" ] && return 0
		sleep 0.5
	done
	echo "waited 30 s for [$1] = $2, got $got"
	return 1
}

psql -c "LOAD 'trace_agg'" -c "ALTER SYSTEM SET trace_agg.ttl_naptime = 1" -c "SELECT pg_reload_conf()" >/dev/null
psql -c "CREATE EXTENSION trace_agg"
# The database's worker holds a lock no SQL session can take (an advisory
# tag with objsubid 29812) from its start to its exit, also while it sleeps
# unconnected between rounds, when pg_stat_activity does not show it.
worker="SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 29812 AND granted"
[ "$(psql -c "$worker")" = 0 ]

psql -c "SELECT trace_agg.create_traces_tables(windows => 'tables')"
echo "worker started by set_ttl"
wait_for "$worker" 1

# Rows that expired after they were written (placed directly in the
# target) disappear without anyone calling purge_expired().
psql -c "INSERT INTO traces_7d_amt (project_id, id, start_time)
         SELECT 'p', 'old-' || g, now() - interval '8 days' FROM generate_series(1, 12000) g"
psql -c "INSERT INTO traces_7d_amt (project_id, id, start_time) VALUES ('p', 'fresh', now())"
wait_for "SELECT count(*) FROM traces_7d_amt" 1
echo "12000 expired rows purged in batches; the fresh row stays"

# A row an ingesting transaction holds is skipped, not waited for.
psql -c "INSERT INTO traces_7d_amt (project_id, id, start_time) VALUES ('p', 'held', now() - interval '8 days')"
"$TA_BINDIR/psql" -X -q -c "BEGIN; SELECT FROM traces_7d_amt WHERE id = 'held' FOR UPDATE; SELECT pg_sleep(3); COMMIT;" >/dev/null &
sleep 2.5
[ "$(psql -c "SELECT count(*) FROM traces_7d_amt WHERE id = 'held'")" = 1 ]
wait
wait_for "SELECT count(*) FROM traces_7d_amt WHERE id = 'held'" 0
echo "a held row was skipped, then purged"

# Per-project retention: the worker purges each project's traces by its
# rule (a project without one keeps its traces in the all table), and a
# rule changed by an UPDATE applies at its next round.
psql -c "CREATE TABLE project_retention (project_id text PRIMARY KEY, ttl interval NOT NULL)" \
     -c "INSERT INTO project_retention VALUES ('short', '3 days'), ('long', '90 days')" \
     -c "SELECT trace_agg.set_traces_retention('public', 'project_retention')"
psql -c "INSERT INTO traces_all_amt (project_id, id, start_time)
         SELECT p, 'r-' || g, now() - interval '5 days' FROM generate_series(1, 100) g,
                unnest(ARRAY['short', 'long', 'none']) p"
wait_for "SELECT string_agg(project_id || ':' || n, ' ' ORDER BY project_id)
          FROM (SELECT project_id, count(*) n FROM traces_all_amt WHERE id LIKE 'r-%' GROUP BY 1) c" "long:100 none:100"
psql -c "UPDATE project_retention SET ttl = '1 day' WHERE project_id = 'long'"
wait_for "SELECT string_agg(project_id || ':' || n, ' ' ORDER BY project_id)
          FROM (SELECT project_id, count(*) n FROM traces_all_amt WHERE id LIKE 'r-%' GROUP BY 1) c" "none:100"
psql -c "SELECT trace_agg.set_traces_retention('public', NULL)"
echo "per-project retention purged by the worker"

# Once no TTL is left, the worker exits; the fan-out starts it again when
# it writes a TTL target.
psql -c "SELECT trace_agg.remove_ttl('traces_7d_amt')" -c "SELECT trace_agg.remove_ttl('traces_30d_amt')"
wait_for "$worker" 0
echo "worker exited without TTLs"
# Deleting keys starts the worker, which forgets the tombstones once their
# window has passed (the statements then drop no event of the keys), and
# exits when none is left.
psql -c "LOAD 'trace_agg'" -c "ALTER SYSTEM SET trace_agg.tombstone_window = 2" -c "SELECT pg_reload_conf()" >/dev/null
psql -c "INSERT INTO traces_null (project_id, id, start_time) VALUES ('p', 'gone', now())"
[ "$(psql -c "SELECT trace_agg.delete_traces('traces_null', 'p', ARRAY['gone'])")" -gt 0 ]
[ "$(psql -c "SELECT count(*) FROM trace_agg.tombstone")" = 1 ]
wait_for "$worker" 1
wait_for "SELECT count(*) FROM trace_agg.tombstone" 0
wait_for "$worker" 0
psql -c "LOAD 'trace_agg'" -c "ALTER SYSTEM RESET trace_agg.tombstone_window" -c "SELECT pg_reload_conf()" >/dev/null
echo "tombstones forgotten by the worker after their window"
psql -c "SELECT trace_agg.set_ttl('traces_7d_amt', 'start_time', '7 days', 'traces_all_amt')"
wait_for "$worker" 1
kill -TERM "$(psql -c "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 29812 AND granted")"
wait_for "$worker" 0
psql -c "INSERT INTO traces_null (project_id, id, start_time) VALUES ('p', 'new', now())"
wait_for "$worker" 1
echo "worker restarted by the fan-out"
