#!/usr/bin/env bash
# null_am_upgrade: pg_upgrade carries trace_agg_null tables (logged and
# unlogged) and their consuming triggers over to a new cluster, where they
# keep working.  pg_upgrade moves every table's storage file, so this checks
# that the access method keeps one.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

work=${TA_DIR:?run by test/run, which sets TA_DIR}
bindir=${TA_BINDIR:?run by test/run, which sets TA_BINDIR}
up=$work/upgrade
mkdir -p "$up"
[ "$(id -u)" = 0 ] && chown postgres: "$up"

trap 'ta_stop_instance "$up/old"; ta_stop_instance "$up/new"' EXIT

# pg_upgrade wants both clusters shut down cleanly.
stop_cleanly() {
	ta_as_pg "$bindir/pg_ctl" -D "$1/data" -m fast -w stop >/dev/null
}

# The new cluster must be freshly made: make it first, then stop it.
mkdir -p "$up/old" "$up/new"
[ "$(id -u)" = 0 ] && chown postgres: "$up/old" "$up/new"
ta_start_instance "$up/new"
new_port=$PGPORT
stop_cleanly "$up/new"

# The old cluster, with null tables feeding a heap table through triggers.
ta_start_instance "$up/old"
old_port=$PGPORT
q() { "$bindir/psql" -X -q -At -v ON_ERROR_STOP=1 "$@"; }
q <<'SQL'
CREATE EXTENSION trace_agg;
CREATE TABLE traces_null (id int, name text) USING trace_agg_null;
CREATE UNLOGGED TABLE spans_null (id int) USING trace_agg_null;
CREATE TABLE seen (n bigint);
CREATE FUNCTION record_new_rows() RETURNS trigger
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
BEGIN
	INSERT INTO seen SELECT count(*) FROM new_rows;
	RETURN NULL;
END
$$;
CREATE TRIGGER traces_consumer AFTER INSERT ON traces_null
REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION record_new_rows();
CREATE TRIGGER spans_consumer AFTER INSERT ON spans_null
REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION record_new_rows();
INSERT INTO traces_null SELECT g, 'x' FROM generate_series(1, 3) g;
SQL
stop_cleanly "$up/old"

(cd "$up" && ta_as_pg "$bindir/pg_upgrade" -b "$bindir" -B "$bindir" \
	-d "$up/old/data" -D "$up/new/data" -p "$old_port" -P "$new_port" \
	-U postgres -s "$up" >"$up/pg_upgrade.log" 2>&1) ||
	{ cat "$up/pg_upgrade.log"; exit 1; }

ta_as_pg "$bindir/pg_ctl" -D "$up/new/data" -l "$up/new/server.log" -w start >/dev/null
export PGHOST=$up/new PGPORT=$new_port
got=$(q -c "INSERT INTO traces_null VALUES (10, 'after')" \
	-c "INSERT INTO spans_null SELECT generate_series(1, 4)" \
	-c "SELECT string_agg(n::text, ',' ORDER BY n) FROM seen" \
	-c "SELECT count(*) FROM traces_null" \
	-c "SELECT string_agg((pg_stat_file(pg_relation_filepath(c)::text)).size::text, ',')
		FROM unnest(ARRAY['traces_null'::regclass, 'spans_null'::regclass]) c" \
	-c "SELECT (pg_stat_file(pg_relation_filepath('spans_null') || '_init')).size")
want=$'1,3,4\n0\n0,0\n0'
if [ "$got" != "$want" ]; then
	echo "FAILED: after pg_upgrade got:"
	echo "$got"
	echo "want:"
	echo "$want"
	exit 1
fi
echo "ok: null tables work after pg_upgrade"
