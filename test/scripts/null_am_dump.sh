#!/usr/bin/env bash
# null_am_dump: trace_agg_null tables and their consuming trigger survive
# pg_dump and a restore into a new database (plain and custom format), and
# work there: inserted rows reach the trigger and none are stored.
set -euo pipefail

bindir=${TA_BINDIR:-/usr/lib/postgresql/15/bin}
work=${TA_DIR:?run by test/run, which sets TA_DIR}

q() { "$bindir/psql" -X -q -At -v ON_ERROR_STOP=1 "$@"; }

fail=0
expect() {
	local what=$1 got=$2 want=$3
	if [ "$got" = "$want" ]; then
		echo "ok: $what"
	else
		echo "FAILED: $what: got '$got', want '$want'"
		fail=1
	fi
}

q -d postgres -c "CREATE DATABASE null_am_src"
q -d null_am_src <<'SQL'
CREATE EXTENSION trace_agg;
CREATE TABLE traces_null (project_id text, id int, name text) USING trace_agg_null;
CREATE UNLOGGED TABLE spans_null (id int) USING trace_agg_null;
CREATE TABLE seen (n bigint, ids text);
CREATE FUNCTION record_new_rows() RETURNS trigger
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
BEGIN
	INSERT INTO seen SELECT count(*), string_agg(id::text, ',' ORDER BY id) FROM new_rows;
	RETURN NULL;
END
$$;
CREATE TRIGGER traces_consumer AFTER INSERT ON traces_null
REFERENCING NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION record_new_rows();
CREATE TRIGGER spans_consumer AFTER INSERT ON spans_null
REFERENCING NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION record_new_rows();
ALTER TABLE spans_null ENABLE ALWAYS TRIGGER spans_consumer;
INSERT INTO traces_null VALUES ('p1', 1, 'a'), ('p1', 2, 'b');
INSERT INTO spans_null VALUES (3);
SQL

"$bindir/pg_dump" -d null_am_src -f "$work/plain.sql"
"$bindir/pg_dump" -d null_am_src -Fc -f "$work/custom.dump"
expect "plain dump sets the access method" \
	"$(grep -cx "SET default_table_access_method = trace_agg_null;" "$work/plain.sql")" 1

q -d postgres -c "CREATE DATABASE null_am_plain"
q -d null_am_plain -f "$work/plain.sql" >/dev/null
q -d postgres -c "CREATE DATABASE null_am_custom"
"$bindir/pg_restore" --exit-on-error -d null_am_custom "$work/custom.dump"

for db in null_am_plain null_am_custom; do
	expect "$db: access methods" "$(q -d "$db" -c "
		SELECT string_agg(c.relname || ':' || a.amname || ':' || c.relpersistence::text, ' ' ORDER BY c.relname)
		FROM pg_class c JOIN pg_am a ON a.oid = c.relam
		WHERE c.relname IN ('traces_null', 'spans_null')")" \
		"spans_null:trace_agg_null:u traces_null:trace_agg_null:p"
	expect "$db: triggers" "$(q -d "$db" -c "
		SELECT string_agg(tgname || ':' || tgenabled::text, ' ' ORDER BY tgname)
		FROM pg_trigger WHERE NOT tgisinternal
		  AND tgrelid NOT IN (SELECT oid FROM pg_class WHERE relnamespace = 'trace_agg'::regnamespace)")" \
		"spans_consumer:A traces_consumer:O"
	expect "$db: consumer's rows restored" \
		"$(q -d "$db" -c "SELECT string_agg(n || '/' || ids, ' ' ORDER BY ids) FROM seen")" \
		"2/1,2 1/3"
	expect "$db: storage files exist and are empty" "$(q -d "$db" -c "
		SELECT string_agg((pg_stat_file(pg_relation_filepath(c)::text)).size::text, ' ' ORDER BY c)
		FROM unnest(ARRAY['traces_null'::regclass, 'spans_null'::regclass]) c")" "0 0"
	q -d "$db" -c "INSERT INTO traces_null SELECT 'p2', g, 'x' FROM generate_series(10, 14) g"
	q -d "$db" -c "INSERT INTO spans_null VALUES (20), (21)"
	expect "$db: restored triggers read new rows" \
		"$(q -d "$db" -c "SELECT string_agg(n || '/' || ids, ' ' ORDER BY ids) FROM seen")" \
		"2/1,2 5/10,11,12,13,14 2/20,21 1/3"
	expect "$db: nothing stored" "$(q -d "$db" -c "
		SELECT (SELECT count(*) FROM traces_null) + (SELECT count(*) FROM spans_null)
			+ pg_relation_size('traces_null') + pg_relation_size('spans_null')")" 0
	expect "$db: unread rows still refused" \
		"$(q -d "$db" -c "ALTER TABLE traces_null DISABLE TRIGGER traces_consumer" \
			-c "INSERT INTO traces_null VALUES ('p3', 30, 'lost')" 2>&1 | head -1)" \
		'ERROR:  rows inserted into "traces_null" would be discarded'
done

exit $fail
