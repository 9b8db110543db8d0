-- The map domains uint64_map, decimal_map and text_map: what they accept,
-- the errors for what they refuse, overload resolution, key order and
-- index support.
CREATE SCHEMA maps_test;
SET search_path = maps_test, trace_agg, pg_catalog;

-- Good maps.  The domain stores the jsonb as given: 1.0 and 1e3 are
-- integers (1e3 is stored as 1000), the empty object is an empty map.
SELECT '{}'::uint64_map AS u, '{}'::decimal_map AS d, '{}'::text_map AS t;
SELECT '{"a": 0, "b": 18446744073709551615, "c": 1e3, "d": 1.0, "e": -0}'::uint64_map;
SELECT '{"a": -1.5, "b": 0.000000000001, "c": 99999999999999999999999999.999999999999,
         "d": -99999999999999999999999999.999999999999, "e": 1e-20}'::decimal_map;
SELECT '{"a": "", "b": "x", "é": "ü", "": "empty key"}'::text_map;
SELECT NULL::uint64_map IS NULL AS sql_null_is_allowed;

-- uint64_map refuses negatives, fractions, values past 2^64-1 and
-- anything that is not a number.
SELECT '{"input": -5}'::uint64_map;
SELECT '{"input": -0.5}'::uint64_map;
SELECT '{"input": 1.5}'::uint64_map;
SELECT '{"input": 1e-5}'::uint64_map;
SELECT '{"input": 18446744073709551616}'::uint64_map;
SELECT '{"input": 1e20}'::uint64_map;
SELECT '{"input": "12"}'::uint64_map;
SELECT '{"input": null}'::uint64_map;
SELECT '{"input": true}'::uint64_map;
SELECT '{"input": [1]}'::uint64_map;
SELECT '{"input": {"nested": 1}}'::uint64_map;
-- the bad value is reported whatever its position
SELECT '{"a": 1, "b": 2, "c": 3, "zzzz": -1}'::uint64_map;

-- decimal_map: |value| < 10^26 after rounding to 12 places.
SELECT '{"cost": 1e26}'::decimal_map;
SELECT '{"cost": -100000000000000000000000000}'::decimal_map;
SELECT '{"cost": 99999999999999999999999999.9999999999995}'::decimal_map;
SELECT '{"cost": "0.5"}'::decimal_map;
SELECT '{"cost": null}'::decimal_map;
SELECT '{"cost": [0.5]}'::decimal_map;

-- text_map: values are JSON strings.
SELECT '{"env": 1}'::text_map;
SELECT '{"env": false}'::text_map;
SELECT '{"env": null}'::text_map;
SELECT '{"env": ["prod"]}'::text_map;
SELECT '{"a": "x", "env": {"k": "v"}}'::text_map;

-- A map is an object: not an array, a scalar or null.
SELECT '[]'::uint64_map;
SELECT '"x"'::decimal_map;
SELECT '1'::uint64_map;
SELECT 'null'::text_map;
SELECT 'true'::text_map;

-- Keys are quoted as JSON in messages, and long keys and values are cut.
SELECT '{"we\"ird\nkey": -1}'::uint64_map;
SELECT jsonb_build_object(repeat('k', 100), repeat('v', 100))::uint64_map;

-- Columns of the domains check every insert and update with the same
-- messages.
CREATE TABLE maps_test.spans (
	id int PRIMARY KEY,
	usage uint64_map,
	cost decimal_map,
	metadata text_map
);
INSERT INTO maps_test.spans VALUES (1, '{"input": 10}', '{"input": 0.5}', '{"env": "prod"}');
INSERT INTO maps_test.spans VALUES (2, '{"input": -10}', NULL, NULL);
UPDATE maps_test.spans SET metadata = '{"env": 42}' WHERE id = 1;
SELECT * FROM maps_test.spans;

-- A column of either numeric domain resolves sum_map to its own overload
-- and gets its own domain back.
SELECT pg_typeof(sum_map(usage)) AS usage_type, sum_map(usage) AS usage,
       pg_typeof(sum_map(cost)) AS cost_type, sum_map(cost) AS cost,
       pg_typeof(max_map(metadata)) AS metadata_type
FROM maps_test.spans;
-- Plain jsonb fits both sum_map overloads: an ambiguity error, not a guess
-- (an integer-valued map is a valid decimal_map too, and the results would
-- differ in type and range).  Cast to the domain instead.
SELECT sum_map(usage::jsonb) FROM maps_test.spans;
SELECT sum_map(usage::jsonb::uint64_map) FROM maps_test.spans;
SELECT sum_map_merge('{"a": 1}'::jsonb, '{"a": 2}'::jsonb);
-- A VALUES list mixing a domain-typed row with untyped literals resolves to
-- the base type, jsonb: type every row, or cast the column.
SELECT sum_map(m) FROM (VALUES ('{"a": 1}'::uint64_map), ('{"a": 2}')) v(m);
SELECT sum_map(m) FROM (VALUES ('{"a": 1}'::uint64_map), ('{"a": 2}'::uint64_map)) v(m);
SELECT sum_map(m::uint64_map) FROM (VALUES ('{"a": 1}'::uint64_map), ('{"a": 2}')) v(m);
-- min_map and max_map have one overload: plain jsonb is cast to text_map,
-- domain check included.
SELECT max_map(m) FROM (VALUES ('{"a": "x"}'::jsonb)) v(m);
SELECT max_map(m) FROM (VALUES ('{"a": 1}'::jsonb)) v(m);

-- Key order (a deviation from ClickHouse): jsonb keeps object keys sorted
-- by length, then bytewise, so "b" prints before "aaa"; ClickHouse prints
-- a Map in bytewise key order.  Values are unaffected.
SELECT sum_map(m::uint64_map) AS jsonb_order
FROM (VALUES ('{"aaa": 1, "b": 2, "B": 3, "cc": 4}'::jsonb)) v(m);
SELECT string_agg(key, ', ' ORDER BY key COLLATE "C") AS clickhouse_order
FROM jsonb_each('{"aaa": 1, "b": 2, "B": 3, "cc": 4}');

-- Key lookups use jsonb's indexes: GIN with jsonb_path_ops serves
-- containment, an expression index serves ->>.
CREATE TABLE maps_test.traces (id int, metadata text_map);
INSERT INTO maps_test.traces
SELECT i, jsonb_build_object('env', CASE WHEN i % 10 = 0 THEN 'prod' ELSE 'dev' END,
                             'user', 'u' || i)
FROM generate_series(1, 1000) AS i;
CREATE INDEX traces_metadata_gin ON maps_test.traces USING gin (metadata jsonb_path_ops);
CREATE INDEX traces_user ON maps_test.traces ((metadata ->> 'user'));
ANALYZE maps_test.traces;
SET enable_seqscan = off;
EXPLAIN (COSTS OFF)
SELECT id FROM maps_test.traces WHERE metadata @> '{"env": "prod", "user": "u10"}';
SELECT id FROM maps_test.traces WHERE metadata @> '{"env": "prod", "user": "u10"}';
EXPLAIN (COSTS OFF)
SELECT id FROM maps_test.traces WHERE (metadata ->> 'user') = 'u20';
SELECT id FROM maps_test.traces WHERE (metadata ->> 'user') = 'u20';
RESET enable_seqscan;

DROP SCHEMA maps_test CASCADE;
