#!/usr/bin/env bash
# fuzz_maps.sh: random and mutated JSON cast to the map domains and fed to
# sum_map, min_map, max_map and the merge functions; random and mutated
# serialized aggregate states fed to the deserialize function.  Errors are
# expected; what must not happen is a crash, an internal error (SQLSTATE
# class XX) or a merge that disagrees with the aggregate.  The seed is
# printed; FUZZ_SEED=n reruns a case.
#
# Runs against the instance test/run started (PG* variables, TA_DIR with its
# server.log); the deserialize function is only callable from an aggregate,
# so a small C harness, compiled here, calls it through a dummy AggState.
set -euo pipefail

SEED=${FUZZ_SEED:-20250611}
echo "fuzz_maps seed: $SEED"
PSQL=(psql -X -q -v ON_ERROR_STOP=1)
LOG=${TA_DIR:?TA_DIR is set by test/run}/server.log

# The harness: fuzz_map_state(bytea) deserializes, serializes again and
# deserializes that, and returns both final results as text.
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
cat >"$TA_DIR/fuzz_map_state.c" <<'EOF'
#include "postgres.h"

#include "fmgr.h"
#include "nodes/execnodes.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

PG_MODULE_MAGIC;

static Datum
call(const char *name, AggState *agg, Datum arg, int nargs)
{
	PGFunction	fn = (PGFunction) load_external_function("$libdir/trace_agg", name, true, NULL);
	LOCAL_FCINFO(fcinfo, 2);
	Datum		result;

	InitFunctionCallInfoData(*fcinfo, NULL, nargs, InvalidOid, (Node *) agg, NULL);
	fcinfo->args[0].value = arg;
	fcinfo->args[0].isnull = false;
	fcinfo->args[1].value = (Datum) 0;
	fcinfo->args[1].isnull = true;
	result = fn(fcinfo);
	if (fcinfo->isnull)
		elog(ERROR, "%s returned NULL", name);
	return result;
}

PG_FUNCTION_INFO_V1(fuzz_map_state);
Datum
fuzz_map_state(PG_FUNCTION_ARGS)
{
	AggState   *agg = makeNode(AggState);
	Datum		state = call("map_agg_deserialize", agg, PG_GETARG_DATUM(0), 2);
	Datum		again = call("map_agg_deserialize", agg,
							 call("map_agg_serialize", agg, state, 1), 2);
	Jsonb	   *first = DatumGetJsonbP(call("map_agg_final", agg, state, 1));
	Jsonb	   *second = DatumGetJsonbP(call("map_agg_final", agg, again, 1));
	char	   *a = JsonbToCString(NULL, &first->root, VARSIZE(first));
	char	   *b = JsonbToCString(NULL, &second->root, VARSIZE(second));

	if (strcmp(a, b) != 0)
		elog(ERROR, "state changed in a serialization round trip: %s / %s", a, b);
	PG_RETURN_TEXT_P(cstring_to_text(a));
}
EOF
gcc -shared -fPIC -O1 -I"$("$PG_CONFIG" --includedir-server)" \
	-o "$TA_DIR/fuzz_map_state.so" "$TA_DIR/fuzz_map_state.c"
chmod a+r "$TA_DIR/fuzz_map_state.so"

"${PSQL[@]}" -v seed="$SEED" -v harness="$TA_DIR/fuzz_map_state.so" <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION trace_agg;
CREATE SCHEMA fuzz;
CREATE FUNCTION fuzz.map_state(bytea) RETURNS text
	AS :'harness', 'fuzz_map_state' LANGUAGE C STRICT;
SELECT setseed((:seed % 1000000) / 1000000.0);
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;

-- Tallies of outcomes by SQLSTATE.
CREATE TABLE fuzz.outcome (what text, sqlstate text, n int DEFAULT 1);
CREATE FUNCTION fuzz.note(what text, state text) RETURNS void LANGUAGE sql
AS $$ INSERT INTO fuzz.outcome VALUES (what, state) $$;

CREATE FUNCTION fuzz.pick(options text[]) RETURNS text LANGUAGE sql VOLATILE
AS $$ SELECT options[1 + floor(random() * array_length(options, 1))::int] $$;

-- A random JSON value of any kind; numbers cluster around the domains'
-- limits, strings include escapes and non-ASCII text.
CREATE FUNCTION fuzz.value(depth int) RETURNS text LANGUAGE plpgsql VOLATILE AS $$
DECLARE
	r int := floor(random() * 22);
BEGIN
	IF depth > 0 AND r >= 20 THEN
		IF r = 20 THEN
			RETURN '[' || fuzz.value(depth - 1) || ',' || fuzz.value(depth - 1) || ']';
		END IF;
		RETURN fuzz.object(depth - 1);
	END IF;
	RETURN CASE r % 20
		WHEN 0 THEN floor(random() * 1000)::text
		WHEN 1 THEN floor(random() * 1000)::text
		WHEN 2 THEN fuzz.pick('{18446744073709551615,18446744073709551616,9223372036854775808,0,-0,0.0,1.0}')
		WHEN 3 THEN '-' || floor(random() * 1000)::text
		WHEN 4 THEN round((random() * 1000)::numeric, floor(random() * 16)::int)::text
		WHEN 5 THEN floor(random() * 10)::text || 'e' || floor(random() * 60 - 30)::text
		WHEN 6 THEN fuzz.pick('{99999999999999999999999999.999999999999,99999999999999999999999999.9999999999995,-99999999999999999999999999.999999999999,1e26,-1e26,0.0000000000005,-0.0000000000005,1e-40}')
		WHEN 7 THEN floor(random() * 1e19)::numeric::text
		WHEN 8 THEN round(((random() - 0.5) * 1e6)::numeric, 12)::text
		WHEN 9 THEN 'null'
		WHEN 10 THEN fuzz.pick('{true,false}')
		WHEN 11 THEN '""'
		WHEN 12 THEN to_json(left(md5(random()::text), floor(random() * 8)::int))::text
		WHEN 13 THEN to_json(fuzz.pick('{B,a,b,é,z,ü,日本,"a b","x\"y","\\",tab	x}'))::text
		WHEN 14 THEN '"\u00e9\n\t\\"'
		WHEN 15 THEN to_json(repeat(chr(65 + floor(random() * 58)::int), floor(random() * 100)::int))::text
		ELSE to_json(chr(33 + floor(random() * 90)::int))::text
	END;
END $$;

CREATE FUNCTION fuzz.key() RETURNS text LANGUAGE sql VOLATILE AS $$
	SELECT CASE WHEN random() < 0.9
		THEN to_json(fuzz.pick('{input,output,total,a,b,B,aaa,"",é,k1,k2,"key with space","q\"uote"}'))::text
		ELSE to_json(md5(random()::text))::text END
$$;

CREATE FUNCTION fuzz.object(depth int) RETURNS text LANGUAGE plpgsql VOLATILE AS $$
DECLARE
	parts text[] := '{}';
BEGIN
	FOR i IN 1..floor(random() * 6)::int LOOP
		parts := parts || (fuzz.key() || ':' || fuzz.value(depth));
	END LOOP;
	RETURN '{' || array_to_string(parts, ',') || '}';
END $$;

-- One to four random edits: delete, insert or replace a character, or cut.
CREATE FUNCTION fuzz.mutate(s text) RETURNS text LANGUAGE plpgsql VOLATILE AS $$
DECLARE
	pos int;
	c text;
BEGIN
	FOR i IN 1..1 + floor(random() * 4)::int LOOP
		pos := 1 + floor(random() * greatest(length(s), 1))::int;
		c := substr('{}[]":,-.0123456789eE\ nultrfaé', 1 + floor(random() * 31)::int, 1);
		s := CASE floor(random() * 4)
			WHEN 0 THEN overlay(s placing '' from pos for 1)
			WHEN 1 THEN overlay(s placing c from pos for 0)
			WHEN 2 THEN overlay(s placing c from pos for 1)
			ELSE left(s, pos) END;
	END LOOP;
	RETURN s;
END $$;

CREATE TABLE fuzz.u (id serial, m trace_agg.uint64_map);
CREATE TABLE fuzz.d (id serial, m trace_agg.decimal_map);
CREATE TABLE fuzz.t (id serial, m trace_agg.text_map);

-- Casts: 6000 random objects, 6000 mutations of them, 600 random
-- values of any kind.
DO $$
DECLARE
	src text;
	j jsonb;
BEGIN
	FOR i IN 1..12600 LOOP
		src := CASE WHEN i <= 6000 THEN fuzz.object(2)
		            WHEN i <= 12000 THEN fuzz.mutate(fuzz.object(2))
		            ELSE fuzz.value(2) END;
		BEGIN
			j := src::jsonb;
		EXCEPTION WHEN others THEN
			PERFORM fuzz.note('jsonb', SQLSTATE);
			CONTINUE;
		END;
		BEGIN
			INSERT INTO fuzz.u (m) VALUES (j::trace_agg.uint64_map);
			PERFORM fuzz.note('uint64_map', 'ok');
		EXCEPTION WHEN others THEN
			PERFORM fuzz.note('uint64_map', SQLSTATE);
		END;
		BEGIN
			INSERT INTO fuzz.d (m) VALUES (j::trace_agg.decimal_map);
			PERFORM fuzz.note('decimal_map', 'ok');
		EXCEPTION WHEN others THEN
			PERFORM fuzz.note('decimal_map', SQLSTATE);
		END;
		BEGIN
			INSERT INTO fuzz.t (m) VALUES (j::trace_agg.text_map);
			PERFORM fuzz.note('text_map', 'ok');
		EXCEPTION WHEN others THEN
			PERFORM fuzz.note('text_map', SQLSTATE);
		END;
	END LOOP;
END $$;
ANALYZE fuzz.u, fuzz.d, fuzz.t;

-- Aggregates over random subsets of the accepted maps in random groups:
-- sums may overflow (an error), everything else must work, and serial and
-- parallel plans must give the same result or the same error.
CREATE FUNCTION fuzz.run(query text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	result text;
BEGIN
	EXECUTE query INTO result;
	RETURN coalesce(result, 'null');
EXCEPTION WHEN others THEN
	RETURN SQLSTATE;
END $$;

DO $$
DECLARE
	query text;
	serial text;
	parallel text;
BEGIN
	FOR i IN 1..150 LOOP
		query := format($q$
			SELECT md5(string_agg(concat_ws(' ', g, s), ';' ORDER BY g))
			FROM (SELECT id %% %s AS g, %s AS s FROM fuzz.%s
			      WHERE abs(hashint4(id + %s)) %% 1000 < %s GROUP BY 1) x$q$,
			1 + floor(random() * 20)::int,
			(ARRAY['trace_agg.sum_map(m)', 'trace_agg.sum_map(m)',
			       'trace_agg.min_map(m)::text || trace_agg.max_map(m)::text'])[1 + i % 3],
			(ARRAY['u', 'd', 't'])[1 + i % 3],
			floor(random() * 1e6)::int, 5 + floor(random() * 100)::int);
		PERFORM set_config('max_parallel_workers_per_gather', '0', true);
		serial := fuzz.run(query);
		PERFORM set_config('max_parallel_workers_per_gather', '2', true);
		parallel := fuzz.run(query);
		PERFORM fuzz.note('aggregate ' || (ARRAY['sum_map(uint64_map)', 'sum_map(decimal_map)',
		                                         'min_map/max_map'])[1 + i % 3],
		                  CASE WHEN serial <> parallel THEN 'MISMATCH'
		                       WHEN length(serial) = 5 THEN serial ELSE 'ok' END);
	END LOOP;
END $$;

-- Merging two maps equals aggregating them (when neither is empty, since
-- an empty side hands the other back unrounded).
DO $$
DECLARE
	ok boolean;
BEGIN
	FOR i IN 1..2000 LOOP
		BEGIN
			SELECT trace_agg.sum_map_merge(a.m, b.m)::jsonb =
			       (SELECT trace_agg.sum_map(x) FROM (VALUES (a.m), (b.m)) v(x))::jsonb
			INTO ok
			FROM (SELECT m FROM fuzz.u WHERE m <> '{}' ORDER BY random() LIMIT 1) a,
			     (SELECT m FROM fuzz.u WHERE m <> '{}' ORDER BY random() LIMIT 1) b;
			PERFORM fuzz.note('sum_map_merge(uint64_map)', CASE WHEN ok THEN 'ok' ELSE 'MISMATCH' END);
		EXCEPTION WHEN others THEN
			PERFORM fuzz.note('sum_map_merge(uint64_map)', SQLSTATE);
		END;
		BEGIN
			SELECT trace_agg.sum_map_merge(a.m, b.m)::jsonb =
			       (SELECT trace_agg.sum_map(x) FROM (VALUES (a.m), (b.m)) v(x))::jsonb
			INTO ok
			FROM (SELECT m FROM fuzz.d WHERE m <> '{}' ORDER BY random() LIMIT 1) a,
			     (SELECT m FROM fuzz.d WHERE m <> '{}' ORDER BY random() LIMIT 1) b;
			PERFORM fuzz.note('sum_map_merge(decimal_map)', CASE WHEN ok THEN 'ok' ELSE 'MISMATCH' END);
		EXCEPTION WHEN others THEN
			PERFORM fuzz.note('sum_map_merge(decimal_map)', SQLSTATE);
		END;
		BEGIN
			SELECT trace_agg.min_map_merge(a.m, b.m)::text =
			       (SELECT trace_agg.min_map(x) FROM (VALUES (a.m), (b.m)) v(x))::text
			   AND trace_agg.max_map_merge(a.m, b.m)::text =
			       (SELECT trace_agg.max_map(x) FROM (VALUES (a.m), (b.m)) v(x))::text
			INTO ok
			FROM (SELECT m FROM fuzz.t ORDER BY random() LIMIT 1) a,
			     (SELECT m FROM fuzz.t ORDER BY random() LIMIT 1) b;
			PERFORM fuzz.note('min/max_map_merge', CASE WHEN ok THEN 'ok' ELSE 'MISMATCH' END);
		EXCEPTION WHEN others THEN
			PERFORM fuzz.note('min/max_map_merge', SQLSTATE);
		END;
	END LOOP;
END $$;

-- Serialized states: well-formed ones for each map type, then byte flips,
-- cuts, splices and pure noise.
CREATE FUNCTION fuzz.state_bytes() RETURNS bytea LANGUAGE plpgsql VOLATILE AS $$
DECLARE
	kind int := floor(random() * 4);
	n int := floor(random() * 5);
	b bytea := '\x6d617031'::bytea
		|| set_byte('\x00'::bytea, 0, CASE kind WHEN 0 THEN 0 WHEN 1 THEN 1 ELSE 2 END)
		|| set_byte('\x00'::bytea, 0, CASE kind WHEN 2 THEN 1 WHEN 3 THEN 2 ELSE 0 END)
		|| int4send(n);
	key bytea;
	val bytea;
BEGIN
	FOR i IN 1..n LOOP
		key := convert_to(fuzz.pick('{input,output,é,"",k1}') || i, 'UTF8');
		b := b || int4send(length(key)) || key;
		IF kind < 2 THEN
			b := b || int8send(CASE WHEN random() < 0.1 THEN -1 ELSE 0 END)
			       || int8send(floor(random() * 9e18)::bigint);
		ELSE
			val := convert_to(left(md5(random()::text), floor(random() * 10)::int), 'UTF8');
			b := b || int4send(length(val)) || val;
		END IF;
	END LOOP;
	RETURN b;
END $$;

CREATE FUNCTION fuzz.mutate_bytes(b bytea) RETURNS bytea LANGUAGE plpgsql VOLATILE AS $$
DECLARE
	pos int;
BEGIN
	FOR i IN 1..1 + floor(random() * 3)::int LOOP
		IF length(b) = 0 THEN
			RETURN b;
		END IF;
		pos := floor(random() * length(b))::int;
		b := CASE floor(random() * 4)
			WHEN 0 THEN set_byte(b, pos, floor(random() * 256)::int)
			WHEN 1 THEN substring(b FROM 1 FOR pos)
			WHEN 2 THEN substring(b FROM 1 FOR pos) || decode(md5(random()::text), 'hex')
			ELSE overlay(b placing int4send(floor(random() * 2147483647)::int) from 1 + pos for 4) END;
	END LOOP;
	RETURN b;
END $$;

DO $$
DECLARE
	b bytea;
BEGIN
	FOR i IN 1..6000 LOOP
		b := CASE WHEN i <= 1000 THEN fuzz.state_bytes()
		          WHEN i <= 5600 THEN fuzz.mutate_bytes(fuzz.state_bytes())
		          ELSE decode(repeat(md5(random()::text), 1 + floor(random() * 3)::int), 'hex') END;
		BEGIN
			PERFORM fuzz.map_state(b);
			PERFORM fuzz.note(CASE WHEN i <= 1000 THEN 'state well-formed' ELSE 'state mutated' END, 'ok');
		EXCEPTION WHEN others THEN
			PERFORM fuzz.note(CASE WHEN i <= 1000 THEN 'state well-formed' ELSE 'state mutated' END, SQLSTATE);
		END;
	END LOOP;
END $$;

\pset footer off
SELECT what, sqlstate, sum(n) AS cases FROM fuzz.outcome GROUP BY 1, 2 ORDER BY 1, 2;

-- Failures: internal errors, merge mismatches, well-formed states that did
-- not load.  (A well-formed state may carry a deliberately negative uint64
-- sum: 22P03.)
DO $$
BEGIN
	IF EXISTS (SELECT FROM fuzz.outcome
	           WHERE sqlstate LIKE 'XX%' OR sqlstate = 'MISMATCH'
	              OR (what = 'state well-formed' AND sqlstate NOT IN ('ok', '22P03'))) THEN
		RAISE EXCEPTION 'fuzz_maps: internal errors or mismatches, see the table above';
	END IF;
END $$;
SELECT count(*) AS ok_casts FROM fuzz.outcome WHERE what LIKE '%map' AND sqlstate = 'ok' \gset
DROP SCHEMA fuzz CASCADE;
DROP EXTENSION trace_agg;
\echo 'accepted casts:' :ok_casts
SQL

# The server must be alive, and its log free of crashes.
"${PSQL[@]}" -c 'SELECT 1' >/dev/null
if grep -nE 'terminated by signal|PANIC|server process .* was terminated|TRAP:' "$LOG"; then
	echo "FAIL: the server log shows a crash"
	exit 1
fi
echo "fuzz_maps: ok (seed $SEED)"
