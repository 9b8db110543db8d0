#!/usr/bin/env bash
# pg_dump and restore of a populated traces setup: the restored database has
# the same collapsed traces, the same materialized views and TTLs, and keeps
# ingesting exactly like the original.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
psql() { "$TA_BINDIR/psql" -X -v ON_ERROR_STOP=1 -q "$@"; }
now=$(date +%s)
fingerprint() {
	psql -d "$1" -At -c "SELECT count(*) || ' traces, ' || md5(string_agg(row(t.*)::text, ',' ORDER BY project_id, id))
	                     FROM traces_all t" \
	     -c "SELECT string_agg(view_name || ':' || target || ':' || coalesce(ttl::text, '-'), ' ' ORDER BY view_name)
	         FROM trace_agg.materialized_views" \
	     -c "SELECT (SELECT count(*) FROM traces_7d) || ' in 7d, ' || (SELECT count(*) FROM traces_30d) || ' in 30d'"
}

psql -c "CREATE EXTENSION trace_agg" -c "SELECT trace_agg.create_traces_tables(windows => 'tables')"
perl "$here/../gen_events.pl" --events 6000 --seed 11 --max-payload 65536 --now "$now" >"$TA_DIR/first.sql"
perl "$here/../gen_events.pl" --events 3000 --seed 12 --max-payload 65536 --now "$now" >"$TA_DIR/second.sql"
psql -f "$TA_DIR/first.sql"

"$TA_BINDIR/pg_dump" -Fc -f "$TA_DIR/traces.dump" postgres
psql -c "CREATE DATABASE restored"
"$TA_BINDIR/pg_restore" --exit-on-error -d restored "$TA_DIR/traces.dump"

a=$(fingerprint postgres); b=$(fingerprint restored)
printf 'original: %s\nrestored: %s\n' "$a" "$b"
[ "$a" = "$b" ]

# Both keep ingesting, with the same result.
psql -f "$TA_DIR/second.sql"
psql -d restored -f "$TA_DIR/second.sql"
a=$(fingerprint postgres); b=$(fingerprint restored)
printf 'after more events\noriginal: %s\nrestored: %s\n' "$a" "$b"
[ "$a" = "$b" ]

# The restored views depend on their targets again (the catalog's trigger
# records it as pg_restore copies the rows): dropping a target needs
# CASCADE, which drops its view.
if psql -d restored -c "DROP TABLE traces_7d_amt" 2>"$TA_DIR/drop.err"; then
	echo "a target of a view was dropped without CASCADE"; exit 1
fi
cat "$TA_DIR/drop.err"
grep -q 'view traces_7d_amt_mv depends on table traces_7d_amt' "$TA_DIR/drop.err"
psql -d restored -c "BEGIN" -c "DROP TABLE traces_7d_amt CASCADE" \
     -c "SELECT count(*) FROM trace_agg.materialized_view WHERE target::text LIKE '%7d%'" -c "ROLLBACK"
