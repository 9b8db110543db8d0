#!/usr/bin/env bash
# Generic argmax/argmin states leave a database by name, not by OID: after
# pg_dump and restore into a database where the same user types get other
# OIDs, and after a binary COPY from one database into the other, every
# state reads the same value (enums, composites, arrays, numerics) and keeps
# merging; a state naming a type the other database lacks is refused.
set -euo pipefail
psql() { "$TA_BINDIR/psql" -X -v ON_ERROR_STOP=1 -q "$@"; }

psql <<'SQL'
CREATE EXTENSION trace_agg;
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE TYPE pair AS (a int, b text, c numeric[]);
CREATE TABLE ev (id int, ts timestamptz, m mood, p pair, n numeric, u uuid);
INSERT INTO ev
SELECT i % 7, '2025-01-01'::timestamptz + (i % 13) * interval '1 h',
       (ARRAY['sad', 'ok', 'happy'])[1 + i % 3]::mood,
       ROW(i, 'b' || i, ARRAY[i / 3.0, NULL])::pair, i * 1.5, md5(i::text)::uuid
FROM generate_series(1, 200) i;
CREATE TABLE st AS
SELECT id, trace_agg.argmax_state(m, ts) AS sm, trace_agg.argmax_last_state(p, ts) AS sp,
       trace_agg.argmin_state(n, m) AS sn, trace_agg.last_set_state(u, ts) AS su
FROM ev GROUP BY id;
SQL

fingerprint() {
	psql -d "$1" -At -c "SELECT md5(string_agg(concat_ws('|', id,
	        trace_agg.finalize(sm, NULL::mood), trace_agg.finalize(sp, NULL::pair),
	        trace_agg.finalize(sn, NULL::numeric), trace_agg.finalize(su, NULL::uuid),
	        trace_agg.argmax_key(sm), trace_agg.argmin_key(sn)), ',' ORDER BY id)) FROM $2"
}

# The restored database creates other objects first, so that the types get
# other OIDs.
"$TA_BINDIR/pg_dump" -Fc -f "$TA_DIR/st.dump" postgres
psql -c "CREATE DATABASE restored"
psql -d restored -c "CREATE TYPE filler1 AS (x int)" -c "CREATE TYPE filler2 AS ENUM ('x')" \
	-c "CREATE TABLE filler3 (x int)"
"$TA_BINDIR/pg_restore" --exit-on-error -d restored "$TA_DIR/st.dump"
oids=$(psql -At -c "SELECT 'mood'::regtype::oid || ' ' || 'pair'::regtype::oid")
roids=$(psql -d restored -At -c "SELECT 'mood'::regtype::oid || ' ' || 'pair'::regtype::oid")
echo "type OIDs: original $oids, restored $roids"
[ "$oids" != "$roids" ]
a=$(fingerprint postgres st); b=$(fingerprint restored st)
printf 'original: %s\nrestored: %s\n' "$a" "$b"
[ "$a" = "$b" ]

# Binary COPY of the states of enum and builtin types between the two
# databases (Postgres' own binary form of a composite names its column
# types by OID, so composites travel in text form, as above).
psql -c "COPY (SELECT id, sm, sn, su FROM st) TO '$TA_DIR/st.bin' (FORMAT binary)"
psql -d restored -c "CREATE TABLE st_bin (id int, sm trace_agg.argmax_any, sn trace_agg.argmin_any, su trace_agg.argmax_any)" \
	-c "COPY st_bin FROM '$TA_DIR/st.bin' (FORMAT binary)"
a=$(psql -At -c "SELECT md5(string_agg(concat_ws('|', id, sm, sn, su), ',' ORDER BY id)) FROM st")
b=$(psql -d restored -At -c "SELECT md5(string_agg(concat_ws('|', id, sm, sn, su), ',' ORDER BY id)) FROM st_bin")
printf 'binary copy: %s %s\n' "$a" "$b"
[ "$a" = "$b" ]

# Both keep merging new rows the same way.
for db in postgres restored; do
	psql -d "$db" -c "UPDATE st SET sm = trace_agg.merge(sm, '{\"rule\": \"argmax\", \"key_type\": \"timestamp with time zone\", \"value_type\": \"public.mood\", \"key\": \"2030-01-01 00:00:00+00\", \"value\": \"happy\"}') WHERE id = 3"
done
a=$(fingerprint postgres st); b=$(fingerprint restored st)
[ "$a" = "$b" ]

# A database without the type refuses the state, naming the type.
psql -c "CREATE DATABASE bare" -d postgres
psql -d bare -c "CREATE EXTENSION trace_agg" -c "CREATE TABLE st_bin (id int, sm trace_agg.argmax_any, sn trace_agg.argmin_any, su trace_agg.argmax_any)"
if psql -d bare -c "COPY st_bin FROM '$TA_DIR/st.bin' (FORMAT binary)" 2>"$TA_DIR/bare.err"; then
	echo "a state of an unknown type was accepted"
	exit 1
fi
grep -q 'type "public.mood" does not exist' "$TA_DIR/bare.err"
echo "argmax_any_dump: states travel by type name"
