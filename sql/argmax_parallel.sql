-- The argmax aggregates under a forced parallel plan (partial states
-- serialized by the workers, combined by the leader) give exactly the
-- answers of a serial plan.
CREATE SCHEMA argmax_test;

-- 200000 events in 1000 traces.  Keys are distinct (7919 is prime to
-- 200000), so the winner does not depend on which worker saw which row.
CREATE TABLE argmax_test.ev AS
SELECT i % 1000 AS trace, i AS ord,
       '2025-07-01 00:00:00+00'::timestamptz + (i * 7919 % 200000) * interval '1 ms' AS ts,
       md5(i::text) AS input,
       CASE WHEN i % 3 = 0 THEN NULL ELSE i % 2 = 0 END AS flag,
       jsonb_build_object('i', i) AS meta
FROM generate_series(1, 200000) i;
ANALYZE argmax_test.ev;

-- Per-trace results and their states, merged again by argmax_merge.
CREATE VIEW argmax_test.per_trace AS
SELECT trace,
       trace_agg.argmax(input, ts) AS input,
       trace_agg.argmax(flag, ts::timestamp) AS flag,
       trace_agg.argmax(meta, (i_key)::bigint) AS meta,
       trace_agg.argmax_state(input, ts)::text AS input_state,
       trace_agg.argmax_state(flag, ts)::text AS flag_state,
       trace_agg.argmax_state(meta, ts)::text AS meta_state
FROM (SELECT *, ord * 7919 % 200000 AS i_key FROM argmax_test.ev) e
GROUP BY trace;
CREATE TABLE argmax_test.parts AS
SELECT trace, ord % 49 AS part, trace_agg.argmax_state(input, ts) AS s
FROM argmax_test.ev GROUP BY trace, ord % 49;
ANALYZE argmax_test.parts;
CREATE VIEW argmax_test.merged AS
SELECT trace, trace_agg.argmax_merge(s)::text AS merged
FROM argmax_test.parts GROUP BY trace;
CREATE VIEW argmax_test.overall AS
SELECT trace_agg.argmax(input, ts) AS input, trace_agg.argmax_state(meta, ts)::text AS meta
FROM argmax_test.ev;

SET max_parallel_workers_per_gather = 0;
CREATE TABLE argmax_test.serial_per_trace AS SELECT * FROM argmax_test.per_trace;
CREATE TABLE argmax_test.serial_merged AS SELECT * FROM argmax_test.merged;
CREATE TABLE argmax_test.serial_overall AS SELECT * FROM argmax_test.overall;

SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SET enable_sort = off;
EXPLAIN (COSTS OFF) SELECT * FROM argmax_test.per_trace;
EXPLAIN (COSTS OFF) SELECT * FROM argmax_test.overall;
EXPLAIN (COSTS OFF) SELECT * FROM argmax_test.merged;

SELECT count(*) AS traces,
       count(*) FILTER (WHERE p IS NOT DISTINCT FROM s) AS identical
FROM argmax_test.per_trace p FULL JOIN argmax_test.serial_per_trace s USING (trace);
-- The serial answers are those of plain SQL: the latest row, NULLs left out.
SELECT count(*) FILTER (WHERE s.input = d.input) AS input_agrees,
       count(*) FILTER (WHERE s.flag = f.flag) AS flag_agrees,
       count(*) FILTER (WHERE s.meta = m.meta) AS meta_agrees
FROM argmax_test.serial_per_trace s
JOIN (SELECT DISTINCT ON (trace) trace, input FROM argmax_test.ev
      ORDER BY trace, ts DESC) d USING (trace)
JOIN (SELECT DISTINCT ON (trace) trace, flag FROM argmax_test.ev
      WHERE flag IS NOT NULL ORDER BY trace, ts DESC) f USING (trace)
JOIN (SELECT DISTINCT ON (trace) trace, meta FROM argmax_test.ev
      ORDER BY trace, ord * 7919 % 200000 DESC) m USING (trace);
SELECT count(*) AS traces,
       count(*) FILTER (WHERE p.merged = s.merged) AS identical
FROM argmax_test.merged p FULL JOIN argmax_test.serial_merged s USING (trace);
SELECT o.input = s.input AND o.meta = s.meta AS identical, o.input, o.meta
FROM argmax_test.overall o, argmax_test.serial_overall s;

RESET enable_sort;
RESET max_parallel_workers_per_gather;
RESET min_parallel_table_scan_size;
RESET parallel_tuple_cost;
RESET parallel_setup_cost;
DROP SCHEMA argmax_test CASCADE;
