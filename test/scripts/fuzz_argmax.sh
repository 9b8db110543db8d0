#!/usr/bin/env bash
# fuzz_argmax.sh: feed random and mutated text to the input functions of the
# argmax state types, and random and mutated bytes to their receive
# functions (through binary COPY files), one statement each.  Errors are
# expected; the server must survive every input, and whatever it accepts
# must print, finalize, merge and travel again without error.
#
# The seed is printed; FUZZ_SEED=<n> replays a run.  FUZZ_TEXT and
# FUZZ_BINARY set how many inputs of each kind to try.
set -euo pipefail

seed=${FUZZ_SEED:-20250701}
ntext=${FUZZ_TEXT:-40000}
nbinary=${FUZZ_BINARY:-20000}
echo "fuzz_argmax: seed $seed, $ntext text inputs, $nbinary binary inputs"

psql_bin=${TA_BINDIR:+$TA_BINDIR/}psql
run_psql() { "$psql_bin" -X -q -v ON_ERROR_STOP=1 "$@"; }

# Files the server writes and reads go in a directory it owns.
work=$TA_DIR/fuzz_argmax
mkdir -p "$work"
[ "$(id -u)" = 0 ] && chown postgres: "$work"

run_psql -v seed="$seed" -v ntext="$ntext" -v nbinary="$nbinary" -v work="$work" <<'SQL'
CREATE EXTENSION IF NOT EXISTS trace_agg;
CREATE SCHEMA fuzz;
SELECT setseed((:seed % 1000003) / 1000003.0) AS seeded \gset

-- Well-formed states of every type and key kind, small, empty, and with a
-- value long enough to be compressed.
CREATE TABLE fuzz.seed_states (typ text, lit text, wire bytea);
INSERT INTO fuzz.seed_states (typ, lit) VALUES
    ('argmax_text', '{"key": "2025-07-01 10:00:00.123+00", "kind": "timestamptz", "value": "hello"}'),
    ('argmax_text', '{"key": "2025-07-01 10:00:00", "kind": "timestamp", "value": "ünïcödé ✓ \"q\" \\ x"}'),
    ('argmax_text', '{"key": -5, "kind": "bigint", "value": ""}'),
    ('argmax_text', '{"key": 7, "kind": "bigint", "value": "' || repeat('compressible text ', 40) || '"}'),
    ('argmax_text', '{"key": "infinity", "kind": "timestamptz", "value": "' || repeat('ab', 100) || '"}'),
    ('argmax_text', '{"kind": "timestamptz"}'),
    ('argmax_bool', '{"key": "2025-07-01 10:00:00+00", "kind": "timestamptz", "value": true}'),
    ('argmax_bool', '{"key": 42, "kind": "bigint", "value": false}'),
    ('argmax_bool', '{"kind": "timestamp"}'),
    ('argmax_jsonb', '{"key": "2025-07-01 10:00:00+00", "kind": "timestamptz", "value": {"n": [1, 2.5, null], "env": "prod"}}'),
    ('argmax_jsonb', '{"key": "0044-03-15 12:00:00 BC", "kind": "timestamp", "value": null}'),
    ('argmax_jsonb', '{"key": 1, "kind": "bigint", "value": "x"}'),
    ('argmax_jsonb', '{"kind": "bigint"}');
UPDATE fuzz.seed_states SET wire = CASE typ
    WHEN 'argmax_text' THEN trace_agg.argmax_text_send(lit::trace_agg.argmax_text)
    WHEN 'argmax_bool' THEN trace_agg.argmax_bool_send(lit::trace_agg.argmax_bool)
    ELSE trace_agg.argmax_jsonb_send(lit::trace_agg.argmax_jsonb) END;

-- Fragments that make mutations likely to reach deep into the parsers.
CREATE FUNCTION fuzz.token() RETURNS text LANGUAGE sql VOLATILE AS $$
    SELECT tokens[1 + floor(random() * array_length(tokens, 1))::int]
    FROM (SELECT ARRAY['{', '}', '[', ']', '"', ':', ',', ' ', '\', '\u', '\u0000', '\n',
        '"key"', '"kind"', '"value"', '"timestamptz"', '"timestamp"', '"bigint"',
        'true', 'false', 'null', '0', '1', '-', '+', '.', 'e', '9223372036854775808',
        '+00', '+02', ' BC', 'infinity', '2025-02-29', '24:00:00', '99', 'é', '✓',
        chr(1), chr(9), chr(127), 'x'] AS tokens) t
$$;

-- One to three edits of a literal: cut, overwrite, insert, delete, repeat.
CREATE FUNCTION fuzz.mutate_text(s text) RETURNS text LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    pos int;
    len int;
BEGIN
    FOR i IN 1 .. 1 + floor(random() * 3)::int LOOP
        pos := floor(random() * (length(s) + 1))::int;
        len := 1 + floor(random() * 8)::int;
        CASE floor(random() * 5)::int
            WHEN 0 THEN s := left(s, pos);
            WHEN 1 THEN s := overlay(s placing fuzz.token() from pos + 1 for len);
            WHEN 2 THEN s := left(s, pos) || fuzz.token() || substr(s, pos + 1);
            WHEN 3 THEN s := left(s, pos) || substr(s, pos + 1 + len);
            ELSE s := left(s, pos) || substr(s, pos + 1, len) || substr(s, pos + 1);
        END CASE;
    END LOOP;
    RETURN s;
END $$;

-- A JSON value likely to be almost right for some field: strings of
-- fragments, near-timestamps, numbers at and past the bigint range, kinds.
CREATE FUNCTION fuzz.random_json() RETURNS jsonb LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    CASE floor(random() * 7)::int
        WHEN 0 THEN RETURN to_jsonb(fuzz.token() || fuzz.token());
        WHEN 1 THEN RETURN to_jsonb(format('%s-%s-%s %s:%s:%s%s%s',
            lpad(floor(random() * 300000)::text, 4, '0'),
            lpad(floor(random() * 14)::text, 2, '0'), lpad(floor(random() * 33)::text, 2, '0'),
            lpad(floor(random() * 26)::text, 2, '0'), lpad(floor(random() * 62)::text, 2, '0'),
            lpad(floor(random() * 62)::text, 2, '0'),
            (ARRAY['', '.5', '.1234567', '.000001', '.'])[1 + floor(random() * 5)::int],
            (ARRAY['', '+00', '+01', ' BC', '+00 BC', 'Z'])[1 + floor(random() * 6)::int]));
        WHEN 2 THEN RETURN to_jsonb(round(((random() - 0.5) * 10 ^ (random() * 25))::numeric,
                                          floor(random() * 3)::int));
        WHEN 3 THEN RETURN to_jsonb(9223372036854775807::numeric + floor(random() * 3) - 1);
        WHEN 4 THEN RETURN (ARRAY['true', 'false', 'null', '[]', '{}', '[1, "x"]'])[1 + floor(random() * 6)::int]::jsonb;
        ELSE RETURN to_jsonb((ARRAY['timestamptz', 'timestamp', 'bigint', 'infinity', '-infinity',
                                    'Bigint', ''])[1 + floor(random() * 7)::int]);
    END CASE;
END $$;

-- Replace or drop one field of a literal, keeping it JSON, so that the
-- state's own checks are what refuse it.
CREATE FUNCTION fuzz.mutate_json(s text) RETURNS text LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    field text := (ARRAY['key', 'kind', 'value', 'extra'])[1 + floor(random() * 4)::int];
BEGIN
    IF random() < 0.25 THEN
        RETURN (s::jsonb - field)::text;
    END IF;
    RETURN jsonb_set(s::jsonb, ARRAY[field], fuzz.random_json(), true)::text;
END $$;

-- One to four edits of a wire form: overwrite a byte (often in the fixed
-- part), cut, append, or overwrite a length field.
CREATE FUNCTION fuzz.mutate_bytes(b bytea) RETURNS bytea LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    pos int;
    boundary int[] := ARRAY[0, 1, 2, 3, 4, 127, 128, 255];
BEGIN
    FOR i IN 1 .. 1 + floor(random() * 4)::int LOOP
        pos := floor(random() * greatest(length(b), 1))::int;
        CASE floor(random() * 6)::int
            WHEN 0 THEN
                IF length(b) > 0 THEN
                    b := set_byte(b, pos, floor(random() * 256)::int);
                END IF;
            WHEN 1 THEN
                IF length(b) > 0 THEN
                    b := set_byte(b, least(pos, 20) % length(b),
                                  boundary[1 + floor(random() * 8)::int]);
                END IF;
            WHEN 2 THEN b := substr(b, 1, pos);
            WHEN 3 THEN b := b || decode(md5(random()::text), 'hex');
            WHEN 4 THEN
                IF length(b) >= 19 THEN
                    b := overlay(b placing int4send(floor(random() * 400)::int - 100)
                                 from 12 + 4 * floor(random() * 2)::int for 4);
                END IF;
            ELSE
                IF length(b) > 0 THEN
                    b := set_byte(b, length(b) - 1 - pos % greatest(length(b) - 19, 1),
                                  floor(random() * 256)::int);
                END IF;
        END CASE;
    END LOOP;
    RETURN b;
END $$;

-- Text cases: literals with a field changed, literals edited as text, and
-- strings of random fragments.
CREATE TABLE fuzz.text_case (id int, typ text, lit text);
INSERT INTO fuzz.text_case
SELECT i, s.typ, CASE i % 5
                      WHEN 0 THEN (SELECT string_agg(fuzz.token(), '')
                                   FROM generate_series(0, (i * 7) % 30))
                      WHEN 1 THEN fuzz.mutate_text(s.lit)
                      WHEN 2 THEN fuzz.mutate_text(fuzz.mutate_json(s.lit))
                      ELSE fuzz.mutate_json(s.lit) END
FROM generate_series(1, :ntext) i
CROSS JOIN LATERAL (SELECT typ, lit FROM fuzz.seed_states
                    ORDER BY random() + i * 0 LIMIT 1) s;

-- Binary cases, each written as a one-field binary COPY file.
CREATE TABLE fuzz.binary_case (id int, typ text, wire bytea);
INSERT INTO fuzz.binary_case
SELECT i, s.typ, CASE WHEN i % 7 = 0
                      THEN substr(decode(md5(random()::text) || md5(random()::text), 'hex'),
                                  1, (i * 3) % 33)
                      ELSE fuzz.mutate_bytes(s.wire) END
FROM generate_series(1, :nbinary) i
CROSS JOIN LATERAL (SELECT typ, wire FROM fuzz.seed_states
                    ORDER BY random() + i * 0 LIMIT 1) s;
-- Committing now and then frees the locks the large objects take.
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

CREATE TABLE fuzz.accepted_text (s trace_agg.argmax_text);
CREATE TABLE fuzz.accepted_bool (s trace_agg.argmax_bool);
CREATE TABLE fuzz.accepted_jsonb (s trace_agg.argmax_jsonb);

-- The statements, one input each.
\pset tuples_only on
\pset format unaligned
\o :work/text_cases.sql
SELECT format('INSERT INTO fuzz.accepted_%s SELECT %L::trace_agg.%I;',
              substr(typ, 8), lit, typ)
FROM fuzz.text_case ORDER BY id;
\o :work/binary_cases.sql
SELECT format('COPY fuzz.accepted_%s FROM %L (FORMAT binary);',
              substr(typ, 8), :'work' || '/case_' || id || '.copy')
FROM fuzz.binary_case ORDER BY id;
\o
SQL

# Every statement on its own; errors are expected, a lost connection is not.
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
		sed 's/literal: .*/literal/; s/".*"/"..."/; s/[0-9][0-9]*/N/g' |
		sort | uniq -c | sort -rn | sed -n '1,12p'
done

# What was accepted is sound: it prints and reads back the same, finalizes,
# gives its key, merges with the others of its key kind, and travels in
# binary again.
run_psql <<'SQL'
\pset footer off
SELECT 'text' AS type, count(*) AS accepted,
       count(*) FILTER (WHERE s::text::trace_agg.argmax_text::text = s::text) AS reread,
       count(trace_agg.finalize(s)) AS with_value, count(trace_agg.argmax_key(s)) AS with_key,
       sum(length(trace_agg.argmax_text_send(s))) > 0 AS sent
FROM fuzz.accepted_text
UNION ALL
SELECT 'bool', count(*), count(*) FILTER (WHERE s::text::trace_agg.argmax_bool::text = s::text),
       count(trace_agg.finalize(s)), count(trace_agg.argmax_key(s)),
       sum(length(trace_agg.argmax_bool_send(s))) > 0
FROM fuzz.accepted_bool
UNION ALL
SELECT 'jsonb', count(*), count(*) FILTER (WHERE s::text::trace_agg.argmax_jsonb::text = s::text),
       count(trace_agg.finalize(s)), count(trace_agg.argmax_key(s)),
       sum(length(trace_agg.argmax_jsonb_send(s))) > 0
FROM fuzz.accepted_jsonb;
SELECT s::text::jsonb ->> 'kind' AS kind, trace_agg.argmax_merge(s) AS merged
FROM fuzz.accepted_text GROUP BY 1 ORDER BY 1;
SELECT s::text::jsonb ->> 'kind' AS kind, trace_agg.argmax_merge(s) AS merged
FROM fuzz.accepted_bool GROUP BY 1 ORDER BY 1;
SELECT s::text::jsonb ->> 'kind' AS kind, trace_agg.argmax_merge(s) AS merged
FROM fuzz.accepted_jsonb GROUP BY 1 ORDER BY 1;
SQL

run_psql -c "SELECT 1 AS alive" >/dev/null
if grep -E "terminated by signal|was terminated|PANIC|TRAP:" "$TA_DIR/server.log"; then
	echo "the server log records a crash"
	exit 1
fi
run_psql -c "DROP SCHEMA fuzz CASCADE" 2>/dev/null
echo "fuzz_argmax: server alive, no crash in its log"
