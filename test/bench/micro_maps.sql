-- Micro-benchmark of sum_map (psql; prints timings and ratios, asserts
-- nothing).  Run against any database where trace_agg can be created:
--   psql -X -f test/bench/micro_maps.sql
-- 1. sum_map over 1 million usage maps in 10,000 groups, against the same
--    result computed in plain SQL (jsonb_each + sum + jsonb_object_agg).
-- 2. memory: a single group fed 100,000 and then 1,000,000 rows must report
--    the same hash aggregate memory, since the state grows with distinct
--    keys, not with rows.
\set ON_ERROR_STOP on
\pset pager off
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS trace_agg;
CREATE SCHEMA micro_maps;
SET max_parallel_workers_per_gather = 0;
SET work_mem = '256MB';
SET jit = off;

CREATE TABLE micro_maps.usage AS
SELECT g % 10000 AS trace_id,
       jsonb_build_object('input', g % 1000, 'output', g % 777,
                          'total', g % 1000 + g % 777)::trace_agg.uint64_map AS usage
FROM generate_series(1, 1000000) AS g;
VACUUM ANALYZE micro_maps.usage;

-- Best of three runs of a query, in milliseconds.
CREATE FUNCTION micro_maps.best_ms(query text) RETURNS double precision
LANGUAGE plpgsql AS $$
DECLARE
	best double precision := 'Infinity';
	t0 timestamptz;
BEGIN
	FOR i IN 1..3 LOOP
		t0 := clock_timestamp();
		EXECUTE query;
		best := least(best, extract(epoch FROM clock_timestamp() - t0) * 1000);
	END LOOP;
	RETURN best;
END $$;

-- Both forms must agree before they are timed.
SELECT count(*) AS groups_that_differ
FROM (SELECT trace_id, trace_agg.sum_map(usage)::jsonb AS m
      FROM micro_maps.usage GROUP BY trace_id) a
FULL JOIN (SELECT trace_id, jsonb_object_agg(key, total) AS m
           FROM (SELECT trace_id, key, sum(value::numeric) AS total
                 FROM micro_maps.usage, jsonb_each(usage)
                 GROUP BY trace_id, key) s
           GROUP BY trace_id) b USING (trace_id)
WHERE a.m IS DISTINCT FROM b.m;

WITH t AS (
	SELECT micro_maps.best_ms($q$
		SELECT trace_id, trace_agg.sum_map(usage)
		FROM micro_maps.usage GROUP BY trace_id$q$) AS sum_map_ms,
	       micro_maps.best_ms($q$
		SELECT trace_id, jsonb_object_agg(key, total)
		FROM (SELECT trace_id, key, sum(value::numeric) AS total
		      FROM micro_maps.usage, jsonb_each(usage)
		      GROUP BY trace_id, key) s
		GROUP BY trace_id$q$) AS plain_sql_ms)
SELECT round(sum_map_ms::numeric, 1) AS sum_map_ms,
       round(plain_sql_ms::numeric, 1) AS plain_sql_ms,
       round((plain_sql_ms / sum_map_ms)::numeric, 2) AS speedup
FROM t;

-- The domain check alone: casting 1 million maps.
SELECT round(micro_maps.best_ms($q$
	SELECT count(u::trace_agg.uint64_map) FROM (SELECT usage::jsonb AS u FROM micro_maps.usage) s$q$)::numeric, 1)
	AS cast_1m_uint64_maps_ms,
       round(micro_maps.best_ms($q$
	SELECT count(u) FROM (SELECT usage::jsonb AS u FROM micro_maps.usage) s$q$)::numeric, 1)
	AS same_without_cast_ms;

-- Memory of one group: the hash aggregate's peak must not grow with rows.
SET enable_sort = off;
CREATE FUNCTION micro_maps.hashagg_memory(nrows int) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
	line text;
BEGIN
	FOR line IN EXECUTE format($q$
		EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
		SELECT trace_id / 10000 AS one_group, trace_agg.sum_map(usage)
		FROM (SELECT * FROM micro_maps.usage LIMIT %s) s GROUP BY 1$q$, nrows)
	LOOP
		IF line ~ 'Memory Usage' THEN
			RETURN substring(line FROM 'Memory Usage: \S+');
		END IF;
	END LOOP;
	RETURN NULL;
END $$;
SELECT micro_maps.hashagg_memory(100000) AS rows_100k,
       micro_maps.hashagg_memory(1000000) AS rows_1m;

DROP SCHEMA micro_maps CASCADE;
