-- sum_map, min_map, max_map and the merge functions: per-key semantics,
-- NULLs and empty input, exact bounds, merges in both orders, upserts that
-- keep the stored value, parallel plans, and a property check that merging
-- per-batch results in order equals aggregating in one pass.
CREATE SCHEMA map_agg_test;
SET search_path = map_agg_test, trace_agg, pg_catalog;

CREATE TABLE map_agg_test.obs (
	seq int,
	trace text,
	usage uint64_map,
	cost decimal_map,
	metadata text_map
);
INSERT INTO map_agg_test.obs VALUES
	(1, 't1', '{"input": 10, "output": 5}', '{"input": 0.000001, "output": 0.5}',
	 '{"env": "prod", "region": "eu"}'),
	(2, 't1', '{"input": 3, "total": 0}', '{"input": 0.000001, "refund": -0.75}',
	 '{"env": "dev", "user": ""}'),
	(3, 't1', NULL, NULL, NULL),
	(4, 't2', '{}', '{}', '{}'),
	(5, 't3', NULL, NULL, NULL);

-- Per-key sums, minimum and maximum; NULL maps are skipped; a group with
-- only empty or NULL maps gives '{}', not NULL.
SELECT trace, sum_map(usage) AS usage, sum_map(cost) AS cost,
       min_map(metadata) AS min_metadata, max_map(metadata) AS max_metadata
FROM map_agg_test.obs GROUP BY trace ORDER BY trace;
-- No rows at all: '{}' too.
SELECT sum_map(usage) AS usage, sum_map(cost) AS cost,
       min_map(metadata) AS min_metadata, max_map(metadata) AS max_metadata
FROM map_agg_test.obs WHERE false;
-- The final function leaves the state alone, so a running (window) sum works.
SELECT seq, sum_map(usage) OVER (ORDER BY seq) AS running_usage,
       max_map(metadata) OVER (ORDER BY seq) AS running_max
FROM map_agg_test.obs WHERE trace = 't1' ORDER BY seq;

-- A key whose total is zero is kept (ClickHouse's sumMap drops it).
SELECT sum_map(m) FROM (VALUES ('{"x": 1.5, "y": 7}'::decimal_map),
                               ('{"x": -1.5}'::decimal_map)) v(m);

-- uint64 sums are exact up to 2^64-1; one more is an error naming the key
-- (ClickHouse wraps around).
SELECT sum_map(m) FROM (VALUES ('{"k": 9223372036854775808}'::uint64_map),
                               ('{"k": 9223372036854775807}'::uint64_map)) v(m);
SELECT sum_map(m) FROM (VALUES ('{"k": 18446744073709551614, "j": 1}'::uint64_map),
                               ('{"k": 1}'::uint64_map)) v(m);
SELECT sum_map(m) FROM (VALUES ('{"k": 18446744073709551615, "j": 1}'::uint64_map),
                               ('{"k": 1}'::uint64_map)) v(m);

-- Decimal sums are exact at 12 places and print without trailing zeros.
SELECT sum_map(m) FROM (VALUES ('{"c": 0.000000000001, "d": 0.1}'::decimal_map),
                               ('{"c": 0.000000000001, "d": 0.2}'::decimal_map),
                               ('{"c": 0.000000000001}'::decimal_map)) v(m);
SELECT sum_map(m) FROM (VALUES ('{"neg": -2.5, "mixed": 1}'::decimal_map),
                               ('{"neg": -0.000000000001, "mixed": -3.25}'::decimal_map)) v(m);
-- More than 12 places round half away from zero when summed.
SELECT sum_map(m) FROM (VALUES ('{"up": 0.0000000000005, "down": 0.00000000000049999,
                                  "neg": -0.0000000000005, "tiny": 1e-30}'::decimal_map)) v(m);
-- The bounds: |total| < 10^26.
SELECT sum_map(m) FROM (VALUES ('{"c": 99999999999999999999999999.999999999998}'::decimal_map),
                               ('{"c": 0.000000000001}'::decimal_map)) v(m);
SELECT sum_map(m) FROM (VALUES ('{"c": 99999999999999999999999999.999999999999}'::decimal_map),
                               ('{"c": 0.000000000001}'::decimal_map)) v(m);
SELECT sum_map(m) FROM (VALUES ('{"c": -99999999999999999999999999.999999999999}'::decimal_map),
                               ('{"c": -0.000000000001}'::decimal_map)) v(m);

-- min_map / max_map compare bytewise, whatever the collation: 'B' < 'a'
-- (0x42 < 0x61), 'z' < 'é' (0x7a < 0xc3), '' is the smallest value and a
-- prefix sorts before its extensions.  Keys are never dropped.
SELECT min_map(m), max_map(m) FROM (VALUES
	('{"case": "a", "accent": "z", "empty": "x"}'::text_map),
	('{"case": "B", "accent": "é", "empty": ""}'::text_map),
	('{"case": "b", "prefix": "ab"}'::text_map),
	('{"prefix": "abc", "only": "once"}'::text_map)) v(m);

-- sum_map_merge adds two stored sums, in either order; a NULL side gives
-- the other.
SELECT sum_map_merge('{"a": 1, "b": 2}'::uint64_map, '{"b": 3, "cc": 4}'::uint64_map) AS ab,
       sum_map_merge('{"b": 3, "cc": 4}'::uint64_map, '{"a": 1, "b": 2}'::uint64_map) AS ba;
SELECT sum_map_merge('{"a": 0.5, "b": -1}'::decimal_map, '{"a": 0.000000000001, "b": 1}'::decimal_map) AS ab,
       sum_map_merge('{"a": 0.000000000001, "b": 1}'::decimal_map, '{"a": 0.5, "b": -1}'::decimal_map) AS ba;
SELECT sum_map_merge('{"a": 1}'::uint64_map, NULL::uint64_map) AS a_null,
       sum_map_merge(NULL::uint64_map, '{"a": 1}'::uint64_map) AS null_a,
       sum_map_merge(NULL::uint64_map, NULL::uint64_map) IS NULL AS null_null,
       sum_map_merge(NULL::decimal_map, '{"a": 1.5}'::decimal_map) AS null_decimal;
SELECT sum_map_merge('{"a": 18446744073709551615}'::uint64_map, '{"a": 1}'::uint64_map);
SELECT sum_map_merge('{"a": -99999999999999999999999999}'::decimal_map,
                     '{"a": -1}'::decimal_map);
-- An empty side gives the other argument back untouched: the stored 1.0
-- survives, where a merge that adds something rebuilds the map as 1.
SELECT sum_map_merge('{"a": 1.0}'::uint64_map, '{}'::uint64_map) AS untouched,
       sum_map_merge('{}'::uint64_map, '{"a": 1.0}'::uint64_map) AS untouched_too,
       sum_map_merge('{"a": 1.0}'::uint64_map, '{"b": 0}'::uint64_map) AS rebuilt;

-- min_map_merge / max_map_merge, both orders and NULL sides.
SELECT min_map_merge('{"a": "x", "b": "B"}'::text_map, '{"a": "y", "b": "a", "c": ""}'::text_map) AS min_ab,
       min_map_merge('{"a": "y", "b": "a", "c": ""}'::text_map, '{"a": "x", "b": "B"}'::text_map) AS min_ba;
SELECT max_map_merge('{"a": "x", "b": "B"}'::text_map, '{"a": "y", "b": "a", "c": ""}'::text_map) AS max_ab,
       max_map_merge('{"a": "y", "b": "a", "c": ""}'::text_map, '{"a": "x", "b": "B"}'::text_map) AS max_ba;
SELECT min_map_merge(NULL::text_map, '{"a": "x"}'::text_map) AS null_a,
       max_map_merge('{"a": "x"}'::text_map, NULL::text_map) AS a_null,
       max_map_merge(NULL::text_map, NULL::text_map) IS NULL AS null_null,
       max_map_merge('{"a": "x"}'::text_map, '{}'::text_map) AS a_empty,
       min_map_merge('{}'::text_map, '{"a": "x"}'::text_map) AS empty_a;

-- The merges in an upsert: when the new row changes nothing, the stored
-- (here toasted) maps are handed back as they are, so the updated row keeps
-- pointing at the same TOAST chunks; a change writes the new map.
CREATE TABLE map_agg_test.traces (id int PRIMARY KEY, usage uint64_map, metadata text_map);
ALTER TABLE map_agg_test.traces ALTER usage SET STORAGE EXTERNAL,
                                ALTER metadata SET STORAGE EXTERNAL;
INSERT INTO map_agg_test.traces
SELECT 1, (SELECT jsonb_object_agg('k' || i, i) FROM generate_series(1, 500) i),
          (SELECT jsonb_object_agg('k' || i, md5(i::text)) FROM generate_series(1, 100) i);
SELECT reltoastrelid::regclass AS toast FROM pg_class
WHERE oid = 'map_agg_test.traces'::regclass \gset
SELECT string_agg(DISTINCT chunk_id::text, ',') AS values_before FROM :toast \gset
INSERT INTO map_agg_test.traces VALUES (1, '{}', '{"k1": "0", "k2": ""}')
ON CONFLICT (id) DO UPDATE
SET usage = sum_map_merge(traces.usage, EXCLUDED.usage),
    metadata = max_map_merge(traces.metadata, EXCLUDED.metadata);
SELECT count(DISTINCT chunk_id) AS toasted_values,
       string_agg(DISTINCT chunk_id::text, ',') = :'values_before' AS same_toasted_values
FROM :toast;
INSERT INTO map_agg_test.traces VALUES (1, '{"k1": 1}', '{"k1": "zzz"}')
ON CONFLICT (id) DO UPDATE
SET usage = sum_map_merge(traces.usage, EXCLUDED.usage),
    metadata = max_map_merge(traces.metadata, EXCLUDED.metadata);
SELECT count(DISTINCT chunk_id) AS toasted_values,
       string_agg(DISTINCT chunk_id::text, ',') = :'values_before' AS same_toasted_values
FROM :toast;
SELECT usage -> 'k1' AS usage_k1, usage -> 'k500' AS usage_k500,
       metadata -> 'k1' AS metadata_k1, metadata -> 'k2' AS metadata_k2
FROM map_agg_test.traces;

-- Parallel plans: partial aggregates in two workers, states serialized to
-- the leader and combined there, give the serial result.
CREATE TABLE map_agg_test.big AS
SELECT i % 4 AS g,
       jsonb_build_object('input', i, 'output', i % 1000, 'k' || (i % 7), 1)::uint64_map AS usage,
       jsonb_build_object('cost', (i % 997) * 0.000001,
                          'refund', -(i % 13) * 0.000000000001)::decimal_map AS cost,
       jsonb_build_object('model', 'm' || (i % 11), 'user', md5(i::text))::text_map AS metadata
FROM generate_series(1, 30000) AS i;
ANALYZE map_agg_test.big;
-- EXPLAIN ANALYZE (to show that the workers ran) without row counts,
-- buffer and memory figures, which vary between runs (18 shows buffers by
-- default, and row counts as fractions).
CREATE FUNCTION map_agg_test.plan(query text) RETURNS SETOF text
LANGUAGE plpgsql AS $$
DECLARE
	line text;
BEGIN
	FOR line IN EXECUTE 'EXPLAIN (ANALYZE, BUFFERS OFF, COSTS OFF, TIMING OFF, SUMMARY OFF) ' || query
	LOOP
		CONTINUE WHEN line ~ 'Memory';
		RETURN NEXT regexp_replace(line, ' \(actual rows=[\d.]+ loops=\d+\)', '');
	END LOOP;
END $$;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SELECT map_agg_test.plan('SELECT sum_map(usage), sum_map(cost), min_map(metadata), max_map(metadata) FROM map_agg_test.big');
SELECT sum_map(usage) AS usage, sum_map(cost) AS cost FROM map_agg_test.big;
SELECT min_map(metadata) AS min_metadata, max_map(metadata) AS max_metadata FROM map_agg_test.big;
SELECT map_agg_test.plan('SELECT g, sum_map(usage) FROM map_agg_test.big GROUP BY g');
SELECT md5(string_agg(concat_ws(' ', g, usage, cost, mn, mx), ';' ORDER BY g)) AS parallel_groups
FROM (SELECT g, sum_map(usage) AS usage, sum_map(cost) AS cost,
             min_map(metadata) AS mn, max_map(metadata) AS mx
      FROM map_agg_test.big GROUP BY g) s \gset
SET max_parallel_workers_per_gather = 0;
SELECT map_agg_test.plan('SELECT sum_map(usage), sum_map(cost), min_map(metadata), max_map(metadata) FROM map_agg_test.big');
SELECT sum_map(usage) AS usage, sum_map(cost) AS cost FROM map_agg_test.big;
SELECT min_map(metadata) AS min_metadata, max_map(metadata) AS max_metadata FROM map_agg_test.big;
SELECT md5(string_agg(concat_ws(' ', g, usage, cost, mn, mx), ';' ORDER BY g)) = :'parallel_groups'
       AS groups_same_as_parallel
FROM (SELECT g, sum_map(usage) AS usage, sum_map(cost) AS cost,
             min_map(metadata) AS mn, max_map(metadata) AS mx
      FROM map_agg_test.big GROUP BY g) s;
-- The same values from plain SQL (collation "C" is bytewise in UTF-8).
SELECT sum((usage ->> 'input')::numeric) AS input, sum((usage ->> 'output')::numeric) AS output,
       sum((cost ->> 'cost')::numeric) AS cost, sum((cost ->> 'refund')::numeric) AS refund,
       min(metadata ->> 'user' COLLATE "C") AS min_user, max(metadata ->> 'user' COLLATE "C") AS max_user
FROM map_agg_test.big;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;

-- Property: random rows split into random batches; sum_map (min_map,
-- max_map) per batch, then the batch results folded in batch order with the
-- merge functions, equal the one-pass aggregate, which equals the plain-SQL
-- jsonb_each + sum form.  20 trials of 300 rows, with NULL and empty maps.
CREATE AGGREGATE map_agg_test.fold_sum(uint64_map) (SFUNC = sum_map_merge, STYPE = uint64_map);
CREATE AGGREGATE map_agg_test.fold_sum(decimal_map) (SFUNC = sum_map_merge, STYPE = decimal_map);
CREATE AGGREGATE map_agg_test.fold_min(text_map) (SFUNC = min_map_merge, STYPE = text_map);
CREATE AGGREGATE map_agg_test.fold_max(text_map) (SFUNC = max_map_merge, STYPE = text_map);
SELECT setseed(0.25);
CREATE TABLE map_agg_test.prop AS
SELECT trial, floor(random() * (1 + trial))::int AS batch,
       CASE WHEN random() < 0.05 THEN NULL WHEN random() < 0.05 THEN '{}'
            ELSE jsonb_build_object('k' || floor(random() * 8), floor(random() * 1e15)::bigint,
                                    'k' || floor(random() * 8), floor(random() * 1e17)::bigint)
       END::uint64_map AS usage,
       CASE WHEN random() < 0.05 THEN NULL
            ELSE jsonb_build_object('c' || floor(random() * 8), round((random() - 0.5)::numeric * 1000, 12),
                                    'c' || floor(random() * 8), round((random() - 0.5)::numeric, 12))
       END::decimal_map AS cost,
       CASE WHEN random() < 0.05 THEN NULL
            ELSE jsonb_build_object('m' || floor(random() * 8), left(md5(random()::text), floor(random() * 4)::int),
                                    'm' || floor(random() * 8), chr(65 + floor(random() * 60)::int))
       END::text_map AS metadata
FROM generate_series(1, 20) AS trial, generate_series(1, 300) AS i;
WITH per_batch AS (
	SELECT trial, batch, sum_map(usage) AS usage, sum_map(cost) AS cost,
	       min_map(metadata) AS mn, max_map(metadata) AS mx
	FROM map_agg_test.prop GROUP BY trial, batch
), merged AS (
	SELECT trial, fold_sum(usage ORDER BY batch) AS usage, fold_sum(cost ORDER BY batch) AS cost,
	       fold_min(mn ORDER BY batch) AS mn, fold_max(mx ORDER BY batch) AS mx,
	       count(*) AS batches
	FROM per_batch GROUP BY trial
), one_pass AS (
	SELECT trial, sum_map(usage) AS usage, sum_map(cost) AS cost,
	       min_map(metadata) AS mn, max_map(metadata) AS mx
	FROM map_agg_test.prop GROUP BY trial
), plain_sql AS (
	SELECT trial,
	       (SELECT coalesce(jsonb_object_agg(key, total), '{}')
	        FROM (SELECT key, sum(value::numeric) AS total
	              FROM map_agg_test.prop p, jsonb_each(p.usage)
	              WHERE p.trial = t.trial GROUP BY key) s) AS usage,
	       (SELECT coalesce(jsonb_object_agg(key, total), '{}')
	        FROM (SELECT key, sum(value::numeric) AS total
	              FROM map_agg_test.prop p, jsonb_each(p.cost)
	              WHERE p.trial = t.trial GROUP BY key) s) AS cost
	FROM generate_series(1, 20) AS t(trial)
)
SELECT count(*) AS trials,
       min(batches) AS min_batches, max(batches) AS max_batches,
       count(*) FILTER (WHERE m.usage::text = o.usage::text AND m.cost::text = o.cost::text
                          AND m.mn::text = o.mn::text AND m.mx::text = o.mx::text) AS merged_equal,
       count(*) FILTER (WHERE o.usage::jsonb = p.usage AND o.cost::jsonb = p.cost) AS plain_sql_equal
FROM merged m JOIN one_pass o USING (trial) JOIN plain_sql p USING (trial);

DROP SCHEMA map_agg_test CASCADE;
