#!/usr/bin/env bash
# pg_dump and restore of derived views: the restored database has the same
# definitions (catalog rows with their modes, views, the triggers on every
# member of a partitioned source, the dependency of a view on its target)
# and the same rows, and keeps maintaining them exactly like the original,
# a view in delta mode included.
set -euo pipefail
psql() { "$TA_BINDIR/psql" -X -v ON_ERROR_STOP=1 -q "$@"; }
fingerprint() {
	psql -d "$1" -At \
	     -c "SELECT string_agg(view_name || ':' || source || ':' || target || ':' || mode, ' ' ORDER BY view_name)
	         FROM trace_agg.derived_views" \
	     -c "SELECT string_agg(tgrelid::regclass || '.' || tgname, ' ' ORDER BY tgrelid::regclass::text, tgname)
	         FROM pg_trigger WHERE tgname LIKE 'trace_agg_derived%'" \
	     -c "SELECT md5(string_agg(t::text, ',' ORDER BY t::text)) FROM traces t" \
	     -c "SELECT md5(string_agg(s::text, ',' ORDER BY s::text)) FROM sessions s" \
	     -c "SELECT md5(string_agg(c::text, ',' ORDER BY c::text)) FROM trace_counts c"
}

psql <<'SQL'
CREATE EXTENSION trace_agg;
CREATE TABLE observations (project_id text NOT NULL, trace_id text NOT NULL, id text,
                           session_id text, usage bigint, PRIMARY KEY (project_id, id))
    PARTITION BY LIST (project_id);
CREATE TABLE observations_p1 PARTITION OF observations FOR VALUES IN ('p1');
CREATE TABLE observations_p2 PARTITION OF observations FOR VALUES IN ('p2');
CREATE INDEX ON observations (project_id, trace_id);
CREATE TABLE traces (project_id text, trace_id text, session_id text, usage bigint, n bigint,
                     PRIMARY KEY (project_id, trace_id));
CREATE TABLE sessions (project_id text, session_id text, usage bigint, traces bigint,
                       PRIMARY KEY (project_id, session_id));
SELECT trace_agg.create_derived_view('traces_dv', 'traces', $$
    SELECT project_id, trace_id, max(session_id) AS session_id, sum(usage) AS usage, count(*) AS n
    FROM observations GROUP BY project_id, trace_id$$);
SELECT trace_agg.create_derived_view('sessions_dv', 'sessions', $$
    SELECT project_id, session_id, sum(usage) AS usage, count(*) AS traces
    FROM traces WHERE session_id IS NOT NULL GROUP BY project_id, session_id$$);
CREATE TABLE trace_counts (project_id text, trace_id text, n bigint, usage numeric, usage_n bigint,
                           PRIMARY KEY (project_id, trace_id));
SELECT trace_agg.create_derived_view('trace_counts_dv', 'trace_counts', $$
    SELECT project_id, trace_id, count(*) AS n, sum(usage) AS usage, count(usage) AS usage_n
    FROM observations GROUP BY project_id, trace_id$$, mode => 'delta');
INSERT INTO observations
SELECT 'p' || (1 + i % 2), 't' || (i % 300), 'o' || i, 's' || (i % 40), i % 17 FROM generate_series(1, 3000) i;
UPDATE observations SET usage = usage * 2 WHERE id LIKE '%7';
SQL

"$TA_BINDIR/pg_dump" -Fc -f "$TA_DIR/derived.dump" postgres
psql -c "CREATE DATABASE restored"
"$TA_BINDIR/pg_restore" --exit-on-error -d restored "$TA_DIR/derived.dump"
a=$(fingerprint postgres); b=$(fingerprint restored)
printf 'original:\n%s\nrestored:\n%s\n' "$a" "$b"
[ "$a" = "$b" ]

# Both keep maintaining, with the same result; the restored view still
# depends on its target.
for db in postgres restored; do
	psql -d "$db" -c "UPDATE observations SET usage = usage + 1 WHERE id LIKE '%3'" \
	     -c "DELETE FROM observations WHERE id LIKE '%11'" \
	     -c "INSERT INTO observations_p2 VALUES ('p2', 't9999', 'new', 's1', 5)"
done
a=$(fingerprint postgres); b=$(fingerprint restored)
[ "$a" = "$b" ] || { printf 'after writes, original:\n%s\nrestored:\n%s\n' "$a" "$b"; exit 1; }
psql -d restored -At -c "SELECT count(*) FROM ((TABLE traces EXCEPT TABLE traces_dv)
                                              UNION ALL (TABLE traces_dv EXCEPT TABLE traces)) d" |
	grep -qx 0
psql -d restored -At -c "SELECT count(*) FROM ((TABLE trace_counts EXCEPT TABLE trace_counts_dv)
                                              UNION ALL (TABLE trace_counts_dv EXCEPT TABLE trace_counts)) d" |
	grep -qx 0
psql -d restored -At -c "SELECT mode FROM trace_agg.derived_views WHERE view_name = 'trace_counts_dv'" | grep -qx delta
if psql -d restored -c "DROP TABLE traces" 2>"$TA_DIR/drop.err"; then
	echo "the restored target could be dropped without CASCADE"; exit 1
fi
grep -q 'depends on table traces' "$TA_DIR/drop.err"
echo "dump and restore keep derived views"
