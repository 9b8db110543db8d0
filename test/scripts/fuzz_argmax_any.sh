#!/usr/bin/env bash
# fuzz_argmax_any.sh: feed random and mutated text to the input functions of
# the generic argmax/argmin state types (argmax_any, argmin_any), and random
# and mutated bytes to their receive functions (through binary COPY files),
# one statement each.  Errors are expected; the server must survive every
# input, and whatever it accepts must print and read back the same, give its
# key, merge with itself and travel in binary again.
#
# The seed is printed; FUZZ_SEED=<n> replays a run.  FUZZ_TEXT and
# FUZZ_BINARY set how many inputs of each kind to try.
set -euo pipefail

seed=${FUZZ_SEED:-20251207}
ntext=${FUZZ_TEXT:-6000}
nbinary=${FUZZ_BINARY:-6000}
echo "fuzz_argmax_any: seed $seed, $ntext text inputs, $nbinary binary inputs"

psql_bin=${TA_BINDIR:+$TA_BINDIR/}psql
run_psql() { "$psql_bin" -X -q -v ON_ERROR_STOP=1 "$@"; }

work=$TA_DIR/fuzz_argmax_any
mkdir -p "$work"
[ "$(id -u)" = 0 ] && chown postgres: "$work"

run_psql -v seed="$seed" -v ntext="$ntext" -v nbinary="$nbinary" -v work="$work" <<'SQL'
CREATE EXTENSION IF NOT EXISTS trace_agg;
CREATE SCHEMA fuzz;
SELECT setseed((:seed % 1000003) / 1000003.0) AS seeded \gset
CREATE TYPE fuzz.mood AS ENUM ('sad', 'ok', 'happy');
CREATE TYPE fuzz.pair AS (a int, b text);

-- Well-formed states of many value and key types, of every rule, empty,
-- cleared, and with a long value.
CREATE TABLE fuzz.seed_states (typ text, lit text, wire bytea);
INSERT INTO fuzz.seed_states (typ, lit) VALUES
    ('argmax_any', '{"rule": "argmax", "key_type": "timestamp with time zone", "value_type": "numeric", "key": "2025-07-01 10:00:00.123+00", "value": "-1.5e10"}'),
    ('argmax_any', '{"rule": "argmax_last", "key_type": "bigint", "value_type": "uuid", "key": "-5", "value": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"}'),
    ('argmax_any', '{"rule": "last_set", "key_type": "text", "value_type": "text", "key": "ünï", "value": null}'),
    ('argmax_any', '{"rule": "last_set", "key_type": "date", "value_type": "integer[]", "key": "2025-01-01", "value": "{1,NULL,3}"}'),
    ('argmax_any', '{"rule": "argmax", "key_type": "fuzz.mood", "value_type": "fuzz.pair", "key": "ok", "value": "(1,\"x y\")"}'),
    ('argmax_any', '{"rule": "argmax_last", "key_type": "integer", "value_type": "jsonb", "key": "7", "value": "{\"a\": [1, 2]}"}'),
    ('argmax_any', '{"rule": "argmax", "key_type": "smallint", "value_type": "text", "key": "3", "value": "' || repeat('long text ', 60) || '"}'),
    ('argmax_any', '{"rule": "argmax", "key_type": "timestamp without time zone", "value_type": "boolean"}'),
    ('argmin_any', '{"rule": "argmin", "key_type": "numeric", "value_type": "interval", "key": "1.25", "value": "1 day 02:00:00"}'),
    ('argmin_any', '{"rule": "argmin", "key_type": "uuid", "value_type": "bytea", "key": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "value": "\\\\x00ff"}'),
    ('argmin_any', '{"rule": "argmin", "key_type": "text", "value_type": "double precision"}');
UPDATE fuzz.seed_states SET wire = CASE typ
    WHEN 'argmax_any' THEN trace_agg.argmax_any_send(lit::trace_agg.argmax_any)
    ELSE trace_agg.argmin_any_send(lit::trace_agg.argmin_any) END;

CREATE FUNCTION fuzz.token() RETURNS text LANGUAGE sql VOLATILE AS $$
    SELECT tokens[1 + floor(random() * array_length(tokens, 1))::int]
    FROM (SELECT ARRAY['{', '}', '[', ']', '"', ':', ',', ' ', '\', '\u0000', 'null',
        '"rule"', '"key_type"', '"value_type"', '"key"', '"value"', '"argmax"', '"argmin"',
        '"argmax_last"', '"last_set"', '"record"', '"cstring"', '"point"', '"anyelement"',
        '"integer"', '"text"', '"fuzz.mood"', '0', '-', '1e400', 'NaN', 'infinity',
        '9223372036854775808', 'é', chr(1), 'x'] AS tokens) t
$$;

CREATE FUNCTION fuzz.mutate_text(s text) RETURNS text LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    pos int;
    len int;
BEGIN
    FOR i IN 1 .. 1 + floor(random() * 3)::int LOOP
        pos := floor(random() * (length(s) + 1))::int;
        len := 1 + floor(random() * 8)::int;
        CASE floor(random() * 4)::int
            WHEN 0 THEN s := left(s, pos);
            WHEN 1 THEN s := overlay(s placing fuzz.token() from pos + 1 for len);
            WHEN 2 THEN s := left(s, pos) || fuzz.token() || substr(s, pos + 1);
            ELSE s := left(s, pos) || substr(s, pos + 1 + len);
        END CASE;
    END LOOP;
    RETURN s;
END $$;

-- Replace or drop one field, keeping the text JSON.
CREATE FUNCTION fuzz.mutate_json(s text) RETURNS text LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    field text := (ARRAY['rule', 'key_type', 'value_type', 'key', 'value', 'extra'])[1 + floor(random() * 6)::int];
BEGIN
    IF random() < 0.25 THEN
        RETURN (s::jsonb - field)::text;
    END IF;
    RETURN jsonb_set(s::jsonb, ARRAY[field], to_jsonb(replace(fuzz.token(), '"', '')), true)::text;
END $$;

-- One to four edits of a wire form: overwrite a byte (often the version,
-- flags or a length), cut, append.
CREATE FUNCTION fuzz.mutate_bytes(b bytea) RETURNS bytea LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    pos int;
BEGIN
    FOR i IN 1 .. 1 + floor(random() * 4)::int LOOP
        pos := floor(random() * greatest(length(b), 1))::int;
        CASE floor(random() * 5)::int
            WHEN 0 THEN
                IF length(b) > 0 THEN
                    b := set_byte(b, pos, floor(random() * 256)::int);
                END IF;
            WHEN 1 THEN
                IF length(b) > 2 THEN
                    b := set_byte(b, pos % 2, (ARRAY[0, 1, 2, 4, 8, 16, 17, 19, 25, 31, 32, 255])[1 + floor(random() * 12)::int]);
                END IF;
            WHEN 2 THEN b := substr(b, 1, pos);
            WHEN 3 THEN b := b || decode(md5(random()::text), 'hex');
            ELSE
                IF length(b) >= pos + 4 THEN
                    b := overlay(b placing int4send(floor(random() * 70)::int - 5) from pos + 1 for 4);
                END IF;
        END CASE;
    END LOOP;
    RETURN b;
END $$;

CREATE TABLE fuzz.text_case (id int, typ text, lit text);
INSERT INTO fuzz.text_case
SELECT i, s.typ, CASE i % 4
                      WHEN 0 THEN fuzz.mutate_text(s.lit)
                      WHEN 1 THEN fuzz.mutate_text(fuzz.mutate_json(s.lit))
                      ELSE fuzz.mutate_json(s.lit) END
FROM generate_series(1, :ntext) i
CROSS JOIN LATERAL (SELECT typ, lit FROM fuzz.seed_states
                    ORDER BY random() + i * 0 LIMIT 1) s;

CREATE TABLE fuzz.binary_case (id int, typ text, wire bytea);
INSERT INTO fuzz.binary_case
SELECT i, s.typ, CASE WHEN i % 11 = 0
                      THEN substr(decode(md5(random()::text) || md5(random()::text), 'hex'),
                                  1, (i * 3) % 33)
                      ELSE fuzz.mutate_bytes(s.wire) END
FROM generate_series(1, :nbinary) i
CROSS JOIN LATERAL (SELECT typ, wire FROM fuzz.seed_states
                    ORDER BY random() + i * 0 LIMIT 1) s;
CREATE PROCEDURE fuzz.write_binary_cases(dir text) LANGUAGE plpgsql AS $$
DECLARE
    c record;
    lo oid;
BEGIN
    FOR c IN SELECT id, wire FROM fuzz.binary_case ORDER BY id LOOP
        lo := lo_from_bytea(0, '\x5047434f50590aff0d0a00'::bytea || '\x0000000000000000'::bytea
                               || '\x0001'::bytea || int4send(length(c.wire)) || c.wire
                               || '\xffff'::bytea);
        PERFORM lo_export(lo, dir || '/case_' || c.id || '.copy');
        PERFORM lo_unlink(lo);
        IF c.id % 1000 = 0 THEN
            COMMIT;
        END IF;
    END LOOP;
END $$;
CALL fuzz.write_binary_cases(:'work');

CREATE TABLE fuzz.accepted_argmax_any (s trace_agg.argmax_any);
CREATE TABLE fuzz.accepted_argmin_any (s trace_agg.argmin_any);

\pset tuples_only on
\pset format unaligned
\o :work/text_cases.sql
SELECT format('INSERT INTO fuzz.accepted_%s SELECT %L::trace_agg.%I;', typ, lit, typ)
FROM fuzz.text_case ORDER BY id;
\o :work/binary_cases.sql
SELECT format('COPY fuzz.accepted_%s FROM %L (FORMAT binary);',
              typ, :'work' || '/case_' || id || '.copy')
FROM fuzz.binary_case ORDER BY id;
\o
SQL

for kind in text binary; do
	rc=0
	"$psql_bin" -X -q -v ON_ERROR_STOP=0 \
		-f "$work/${kind}_cases.sql" >/dev/null 2>"$work/${kind}_errors.log" || rc=$?
	if [ "$rc" != 0 ]; then
		echo "psql stopped (exit $rc) on the $kind cases:"
		tail -n 5 "$work/${kind}_errors.log"
		exit 1
	fi
	echo "$kind cases: $(grep -c 'ERROR:' "$work/${kind}_errors.log") refused; most frequent reasons:"
	sed -n 's/.*ERROR:  //p; s/^DETAIL:  /  /p' "$work/${kind}_errors.log" |
		sed 's/: ".*//; s/".*"/"..."/; s/[0-9][0-9]*/N/g' |
		sort | uniq -c | sort -rn | sed -n '1,10p'
done

# What was accepted is sound.
run_psql <<'SQL'
\pset footer off
SELECT 'argmax_any' AS type, count(*) AS accepted,
       count(*) FILTER (WHERE s::text::trace_agg.argmax_any::text = s::text) AS reread,
       count(trace_agg.argmax_key(s)) AS with_key,
       count(*) FILTER (WHERE trace_agg.merge(s, s)::text = s::text) AS merged_self,
       count(*) FILTER (WHERE length(trace_agg.argmax_any_send(s)) > 0) AS sent
FROM fuzz.accepted_argmax_any
UNION ALL
SELECT 'argmin_any', count(*), count(*) FILTER (WHERE s::text::trace_agg.argmin_any::text = s::text),
       count(trace_agg.argmin_key(s)),
       count(*) FILTER (WHERE trace_agg.merge(s, s)::text = s::text),
       count(*) FILTER (WHERE length(trace_agg.argmin_any_send(s)) > 0)
FROM fuzz.accepted_argmin_any;
SQL

run_psql -c "SELECT 1 AS alive" >/dev/null
if grep -E "terminated by signal|was terminated|PANIC|TRAP:" "$TA_DIR/server.log"; then
	echo "the server log records a crash"
	exit 1
fi
run_psql -c "DROP SCHEMA fuzz CASCADE" 2>/dev/null
echo "fuzz_argmax_any: server alive, no crash in its log"
