#!/usr/bin/env bash
# extension_update: a database that ran the released 0.1 (its library built
# from the release commit, its frozen script in sql/versions/), with a
# populated traces setup and a view of its own, gets the current library
# (the package upgrade) and is updated with ALTER EXTENSION trace_agg
# UPDATE.  Afterwards:
#   - the traces and states written by 0.1 read the same;
#   - ingestion goes on, ending with exactly what a database that ran the
#     new version from the start holds after the same events;
#   - the extension's objects (definitions, rights, comments) equal those of
#     a fresh install of the new version, and so does pg_dump of the rest.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"
# old_db lives on the cluster that ran 0.1, new_db on test/run's instance.
on_cluster_of() {
	case " $* " in
	*" old_db "* | *"=old_db "*) PGHOST=$old_host PGPORT=$old_port "$@" ;;
	*) PGHOST=$new_host PGPORT=$new_port "$@" ;;
	esac
}
psql() { on_cluster_of "$new_bindir/psql" -X -v ON_ERROR_STOP=1 -q "$@"; }

# The commit that released 0.1.  Its library only ever built on PostgreSQL
# 15, so there is no 0.1 database to update on other majors.
release=214efd21b633a37f9d6ce9a8ee76088cc8ec4056
major=$("$PG_CONFIG" --version | sed 's/^PostgreSQL \([0-9]*\).*/\1/')
if [ "$major" != 15 ]; then
	echo "0.1 was released for PostgreSQL 15 only; nothing to update on $major"
	exit 0
fi
git -C "$TA_ROOT" cat-file -e "$release^{commit}" ||
	{ echo "the release commit of 0.1 is not in this clone's history"; exit 1; }

# A private copy of the server with the 0.1 library in it.
old=$TA_DIR/v0.1
mkdir -p "$old/src" "$old/cluster"
git -C "$TA_ROOT" archive "$release" | tar -x -C "$old/src"
make -C "$old/src" -s PG_CONFIG="$PG_CONFIG" >/dev/null
lib=$("$PG_CONFIG" --pkglibdir)
share=$("$PG_CONFIG" --sharedir)
bindir=$("$PG_CONFIG" --bindir)
mkdir -p "$old/sandbox$(dirname "$bindir")" "$old/sandbox$share"
cp -a "$(dirname "$bindir")/." "$old/sandbox$(dirname "$bindir")/"
cp -a "$share/." "$old/sandbox$share/"
make -C "$old/src" -s PG_CONFIG="$PG_CONFIG" DESTDIR="$old/sandbox" install >/dev/null
chmod -R a+rX "$old"
[ "$(id -u)" = 0 ] && chown -R postgres: "$old/cluster"
new_bindir=$TA_BINDIR
new_host=$PGHOST new_port=$PGPORT
old_host='' old_port=''
now=$(date +%s)
perl "$here/../gen_events.pl" --events 4000 --seed 21 --max-payload 65536 --now "$now" >"$TA_DIR/first.sql"
perl "$here/../gen_events.pl" --events 2000 --seed 22 --max-payload 65536 --now "$now" >"$TA_DIR/second.sql"

latest=$(sed -n "s/^default_version = '\(.*\)'/\1/p" "$here/../../trace_agg.control")

# What both databases hold: the traces setup and a small view of its own
# over a heap source, so that a plain table and argmax states are covered.
# 0.1 had only the window tables, the layout that 0.2 gives with windows =>
# 'tables' ($2).
setup() {
	psql -d "$1" -v windows="$2" <<'SQL'
SELECT trace_agg.create_traces_tables(:windows);
CREATE TABLE events (k text NOT NULL, v text, ts timestamptz, n bigint);
CREATE TABLE latest (k text PRIMARY KEY, v trace_agg.argmax_text, n bigint);
SELECT trace_agg.create_materialized_view('latest_mv', 'latest',
  $$SELECT k, trace_agg.argmax_state(v, ts) AS v, sum(n) AS n FROM events GROUP BY k$$);
INSERT INTO events
SELECT 'k' || (g % 50), repeat(md5(g::text), 1 + g % 9), '2026-01-01'::timestamptz + g * interval '1 min', g
FROM generate_series(1, 2000) g;
SQL
}

fingerprint() {
	psql -d "$1" -At \
	     -c "SELECT count(*) || ' traces, ' || md5(string_agg(row(t.*)::text, ',' ORDER BY project_id, id)) FROM traces_all t" \
	     -c "SELECT (SELECT count(*) FROM traces_7d) || ' in 7d, ' || (SELECT count(*) FROM traces_30d) || ' in 30d'" \
	     -c "SELECT md5(string_agg(k || trace_agg.finalize(v) || trace_agg.argmax_key(v) || n, ',' ORDER BY k)) FROM latest" \
	     -c "SELECT md5(string_agg(v::text, ',' ORDER BY k)) FROM latest"
}

# Every member of the extension with what defines it: a function's
# definition, rights, cost and settings; a table's or view's columns,
# rights, policies and definition; a type's storage and rights; and every
# comment.  OIDs and names of the database are left out.
catalog() {
	psql -d "$1" -At <<'SQL'
WITH member AS (
    SELECT d.classid, d.objid
    FROM pg_depend d
    WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
      AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'trace_agg'))
SELECT pg_describe_object(m.classid, m.objid, 0) || ' :: ' ||
       coalesce(obj_description(m.objid, (SELECT relname FROM pg_class WHERE oid = m.classid)), '(no comment)') || ' :: ' ||
       coalesce(CASE m.classid
         WHEN 'pg_proc'::regclass THEN (
             SELECT concat_ws(' | ', CASE WHEN p.prokind <> 'a' THEN pg_get_functiondef(p.oid) END,
                              p.proacl::text, p.procost, p.prorows, p.proparallel, p.provolatile,
                              p.prosecdef, p.proconfig::text, p.proisstrict,
                              (SELECT concat_ws(' ', a.aggtransfn, a.aggfinalfn, a.aggcombinefn, a.aggserialfn,
                                                a.aggdeserialfn, a.aggtranstype::regtype, a.aggfinalmodify,
                                                a.agginitval)
                               FROM pg_aggregate a WHERE a.aggfnoid = p.oid))
             FROM pg_proc p WHERE p.oid = m.objid)
         WHEN 'pg_class'::regclass THEN (
             SELECT concat_ws(' | ', c.relkind, c.relacl::text, c.relrowsecurity, c.reloptions::text,
                              (SELECT string_agg(format('%s %s %s %s %s', a.attname, format_type(a.atttypid, a.atttypmod),
                                                        a.attnotnull, pg_get_expr(ad.adbin, ad.adrelid),
                                                        col_description(c.oid, a.attnum)), ', ' ORDER BY a.attnum)
                               FROM pg_attribute a
                               LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
                               WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped),
                              CASE WHEN c.relkind = 'v' THEN pg_get_viewdef(c.oid) END,
                              (SELECT string_agg(pg_get_indexdef(i.indexrelid), '; ' ORDER BY pg_get_indexdef(i.indexrelid))
                               FROM pg_index i WHERE i.indrelid = c.oid),
                              (SELECT string_agg(k.conname || ' ' || pg_get_constraintdef(k.oid), '; ' ORDER BY k.conname)
                               FROM pg_constraint k WHERE k.conrelid = c.oid),
                              (SELECT string_agg(format('%s %s %s %s %s', po.polname, po.polcmd, po.polroles::regrole[],
                                                        pg_get_expr(po.polqual, po.polrelid),
                                                        pg_get_expr(po.polwithcheck, po.polrelid)), '; ' ORDER BY po.polname)
                               FROM pg_policy po WHERE po.polrelid = c.oid),
                              (SELECT string_agg(tg.tgname || ' ' || pg_get_triggerdef(tg.oid), '; ' ORDER BY tg.tgname)
                               FROM pg_trigger tg WHERE tg.tgrelid = c.oid))
             FROM pg_class c WHERE c.oid = m.objid)
         WHEN 'pg_type'::regclass THEN (
             SELECT concat_ws(' | ', t.typacl::text, t.typstorage, t.typalign, t.typlen, t.typnotnull,
                              format_type(t.typbasetype, t.typtypmod),
                              (SELECT string_agg(pg_get_constraintdef(k.oid), '; ' ORDER BY pg_get_constraintdef(k.oid))
                               FROM pg_constraint k WHERE k.contypid = t.oid))
             FROM pg_type t WHERE t.oid = m.objid)
         WHEN 'pg_event_trigger'::regclass THEN (
             SELECT concat_ws(' | ', e.evtevent, e.evtfoid::regproc, e.evtenabled, e.evttags::text)
             FROM pg_event_trigger e WHERE e.oid = m.objid)
         WHEN 'pg_namespace'::regclass THEN (
             SELECT n.nspacl::text FROM pg_namespace n WHERE n.oid = m.objid)
       END, '')
FROM member m
UNION ALL
SELECT 'configuration table ' || c::regclass || ' ' || coalesce(w, '')
FROM pg_extension e, unnest(e.extconfig, e.extcondition) AS x(c, w)
WHERE e.extname = 'trace_agg'
ORDER BY 1;
SQL
}

# The database that runs the current version from the start.
psql -c "CREATE DATABASE new_db"
psql -d new_db -c "CREATE EXTENSION trace_agg"
setup new_db "windows => 'tables'"
psql -d new_db -f "$TA_DIR/first.sql"

# The 0.1 database, on a cluster of the 0.1 server copy.
TA_BINDIR=$old/sandbox$bindir ta_start_instance "$old/cluster" >/dev/null
old_host=$PGHOST old_port=$PGPORT
psql -d postgres -c "CREATE DATABASE old_db"
psql -d old_db -c "CREATE EXTENSION trace_agg"
[ "$(psql -d old_db -At -c "SELECT extversion FROM pg_extension WHERE extname = 'trace_agg'")" = 0.1 ]
setup old_db ""
psql -d old_db -f "$TA_DIR/first.sql"
before=$(fingerprint old_db)

# The package upgrade: the same cluster now runs the current library.
ta_as_pg "$old/sandbox$bindir/pg_ctl" -D "$old/cluster/data" -m fast -w stop >/dev/null
ta_as_pg "$new_bindir/pg_ctl" -D "$old/cluster/data" -l "$old/cluster/server.log" -w start >/dev/null
trap 'ta_as_pg "$new_bindir/pg_ctl" -D "$old/cluster/data" -m immediate -w stop >/dev/null 2>&1' EXIT

# Until the update, inserts are refused with a clear message, not lost.
if psql -d old_db -c "INSERT INTO events VALUES ('early', 'x', now(), 1)" 2>"$TA_DIR/early.err"; then
	echo "an insert before the update was accepted"; exit 1
fi
cat "$TA_DIR/early.err"
grep -q 'ALTER EXTENSION trace_agg UPDATE' "$TA_DIR/early.err"

psql -d old_db -c "ALTER EXTENSION trace_agg UPDATE"
version=$(psql -d old_db -At -c "SELECT extversion FROM pg_extension WHERE extname = 'trace_agg'")
echo "updated to $version (latest $latest)"
[ "$version" = "$latest" ]

after=$(fingerprint old_db)
printf 'before update: %s\nafter update:  %s\n' "$before" "$after"
[ "$before" = "$after" ]

# The update leaves users' tables alone; README's Upgrades section gives a
# 0.1 traces setup the indexes of 0.2's product queries.
sed -n '/^-- indexes of a 0.1 traces setup/,/^$/p' "$here/../../README.md" >"$TA_DIR/indexes.sql"
[ "$(grep -c 'CREATE INDEX' "$TA_DIR/indexes.sql")" -ge 4 ]
psql -d old_db -f "$TA_DIR/indexes.sql"

# Both go on ingesting, into the traces setup and the view of its own.
for db in old_db new_db; do
	psql -d "$db" -f "$TA_DIR/second.sql"
	psql -d "$db" -c "INSERT INTO events SELECT 'k' || (g % 70), md5(g::text), '2026-02-01'::timestamptz + g * interval '1 s', g FROM generate_series(1, 700) g"
done
a=$(fingerprint old_db); b=$(fingerprint new_db)
printf 'updated: %s\nfresh:   %s\n' "$a" "$b"
[ "$a" = "$b" ]

# The definitions (views, sources, targets, owners, queries, TTLs) read
# the same, and the TTL purge runs on the updated database as on the fresh
# one.
definitions() {
	psql -d "$1" -At -c "SELECT schema, view_name, source::text, target::text, owner::text, query,
	                            ttl_column, ttl, ttl_reference::text, ttl_per_key::text, version_column
	                     FROM trace_agg.materialized_views ORDER BY schema, view_name" \
	     -c "SELECT trace_agg.purge_expired()"
}
definitions old_db >"$TA_DIR/definitions_updated"
definitions new_db >"$TA_DIR/definitions_fresh"
[ "$(grep -c '|start_time|' "$TA_DIR/definitions_fresh")" = 2 ]
diff -u "$TA_DIR/definitions_fresh" "$TA_DIR/definitions_updated"

catalog old_db >"$TA_DIR/catalog_updated"
catalog new_db >"$TA_DIR/catalog_fresh"
echo "$(wc -l <"$TA_DIR/catalog_fresh") extension objects compared"
[ "$(wc -l <"$TA_DIR/catalog_fresh")" -gt 50 ]
diff -u "$TA_DIR/catalog_fresh" "$TA_DIR/catalog_updated"

# pg_dump of everything else (the setup's tables, views, triggers, and the
# extension's configuration rows) is the same too.
for db in old_db new_db; do
	on_cluster_of "$new_bindir/pg_dump" --schema-only "$db" | grep -v -e '^--' -e '^\\restrict' -e '^\\unrestrict' >"$TA_DIR/dump_$db.sql"
done
diff -u "$TA_DIR/dump_new_db.sql" "$TA_DIR/dump_old_db.sql"
echo "catalogs equal"
