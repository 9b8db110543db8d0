-- any_last(anyelement): the last non-NULL value in input order.
CREATE SCHEMA any_last_test;
SET search_path = any_last_test, public;

-- Rows with an explicit position; the subqueries below feed them to the
-- aggregate in that order.
CREATE TABLE ev (g int, pos int, t text, i int, b bool, ts timestamptz, j jsonb);
INSERT INTO ev VALUES
	(1, 1, 'a',  10,   true,  '2024-01-01 10:00+00', '{"k": 1}'),
	(1, 2, NULL, NULL, NULL,  NULL,                  NULL),
	(1, 3, 'b',  20,   false, '2024-01-02 10:00+00', '[1, 2]'),
	(1, 4, NULL, NULL, NULL,  NULL,                  NULL),
	(2, 1, 'x',  1,    false, '2024-02-01 00:00+00', '"s"'),
	(2, 2, '',   0,    true,  '2023-01-01 00:00+00', 'null'),
	(2, 3, NULL, NULL, NULL,  NULL,                  NULL),
	(3, 1, NULL, NULL, NULL,  NULL,                  NULL),
	(3, 2, NULL, NULL, NULL,  NULL,                  NULL);

-- NULLs are skipped; '' is a value and overwrites; a group of NULLs gives
-- NULL.  Every type keeps its own value (jsonb 'null' is a value, not NULL).
SET TIME ZONE 'UTC';
SELECT g,
	   quote_nullable(trace_agg.any_last(t)) AS t,
	   trace_agg.any_last(i) AS i,
	   trace_agg.any_last(b) AS b,
	   trace_agg.any_last(ts) AS ts,
	   trace_agg.any_last(j) AS j,
	   trace_agg.any_last(j) IS NULL AS j_is_sql_null
FROM (SELECT * FROM ev ORDER BY g, pos) s
GROUP BY g ORDER BY g;
RESET TIME ZONE;

-- The result type is the input type.
SELECT pg_typeof(trace_agg.any_last(i)) AS int_type,
	   pg_typeof(trace_agg.any_last(j)) AS jsonb_type,
	   pg_typeof(trace_agg.any_last(ARRAY[i])) AS array_type
FROM ev;

-- ORDER BY inside the aggregate makes "last" explicit.
SELECT g, trace_agg.any_last(t ORDER BY pos DESC) AS first_non_null,
	   trace_agg.any_last(t ORDER BY pos) AS last_non_null
FROM ev GROUP BY g ORDER BY g;

-- Zero rows, only NULLs: NULL.
SELECT trace_agg.any_last(t) IS NULL AS zero_rows FROM ev WHERE false;
SELECT trace_agg.any_last(NULL::text) IS NULL AS only_nulls FROM generate_series(1, 3);
SELECT trace_agg.any_last(x) AS last_int FROM (VALUES (1), (2), (NULL)) v(x);

-- As a window function: the last non-NULL value so far (fill forward).
SELECT pos, t, trace_agg.any_last(t) OVER (ORDER BY pos) AS filled
FROM ev WHERE g = 1 ORDER BY pos;

-- An untyped literal has no type to resolve to, as for other anyelement
-- aggregates; a cast gives it one.
SELECT trace_agg.any_last('a');
SELECT trace_agg.any_last('a'::text);

-- Large, toasted values: the last one comes back whole.
CREATE TABLE big (pos int, v text);
INSERT INTO big
SELECT p, string_agg(md5(p::text || ':' || k::text), '' ORDER BY k)
FROM generate_series(1, 3) p, generate_series(1, 2000) k GROUP BY p;
SELECT length(trace_agg.any_last(v)) AS len,
	   trace_agg.any_last(v) = (SELECT v FROM big WHERE pos = 3) AS is_pos_3
FROM (SELECT * FROM big ORDER BY pos) s;

-- Memory: nodeAgg copies each new value into the aggregate context and
-- frees the previous one, so a group of a million rows holds one value.
-- A HashAggregate reports the peak memory of its groups and their states;
-- a million rows must peak no higher than ten thousand do.  array_agg,
-- which keeps every row, shows that the measure sees growth.
CREATE FUNCTION hashagg_peak_kb(query text) RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
	plan json;
BEGIN
	EXECUTE 'EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, FORMAT JSON) ' || query INTO plan;
	RETURN (plan -> 0 -> 'Plan' ->> 'Peak Memory Usage')::int;
END
$$;

SET work_mem = '64kB';
SET enable_sort = off;
SET max_parallel_workers_per_gather = 0;
SELECT hashagg_peak_kb($$SELECT i % 1, trace_agg.any_last(repeat(md5(i::text), 3))
						FROM generate_series(1, 1000000) i GROUP BY 1$$)
	   <= hashagg_peak_kb($$SELECT i % 1, trace_agg.any_last(repeat(md5(i::text), 3))
						  FROM generate_series(1, 10000) i GROUP BY 1$$) AS any_last_flat,
	   hashagg_peak_kb($$SELECT i % 1, array_agg(repeat(md5(i::text), 3))
						FROM generate_series(1, 1000000) i GROUP BY 1$$)
	   > 10 * hashagg_peak_kb($$SELECT i % 1, array_agg(repeat(md5(i::text), 3))
							  FROM generate_series(1, 10000) i GROUP BY 1$$) AS array_agg_grows;
RESET work_mem;
RESET enable_sort;
RESET max_parallel_workers_per_gather;

-- A parallel plan: partial aggregates in the workers, combined in the
-- leader.  Which value is "last" across workers is unspecified, as in
-- ClickHouse; groups holding one distinct value, and groups of NULLs, give
-- the same result as a serial plan.
CREATE TABLE par AS
SELECT i % 100 AS g,
	   CASE WHEN i % 100 < 10 OR i % 3 = 0 THEN NULL ELSE 'v' || (i % 100) END AS v
FROM generate_series(1, 60000) i;
ANALYZE par;

SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF) SELECT g, trace_agg.any_last(v) FROM par GROUP BY g;
CREATE TABLE par_result AS SELECT g, trace_agg.any_last(v) AS v FROM par GROUP BY g;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;

SET max_parallel_workers_per_gather = 0;
SELECT count(*) AS groups,
	   count(*) FILTER (WHERE p.v IS NOT DISTINCT FROM s.v) AS same_as_serial,
	   count(*) FILTER (WHERE p.v IS NULL) AS null_groups
FROM par_result p
JOIN (SELECT g, trace_agg.any_last(v) AS v FROM par GROUP BY g) s USING (g);
RESET max_parallel_workers_per_gather;

RESET search_path;
DROP SCHEMA any_last_test CASCADE;
