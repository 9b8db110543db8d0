-- micro_argmax.sql: the latest value per group with the argmax aggregates
-- against plain SQL, over 1 million rows in 10 thousand groups.  Prints
-- the time of each (best of three runs) and how many times slower each is
-- than argmax; no assertions.
--
-- Run against a database where trace_agg is installed:
--     psql -X -f test/bench/micro_argmax.sql
-- Single process (no parallel workers).  Each variant runs with the default
-- work_mem of 4MB, where the plain-SQL sorts spill to disk while argmax's
-- hash table fits, and with 1GB, where everything stays in memory: the
-- second compares the work done alone.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS trace_agg;
SET max_parallel_workers_per_gather = 0;

-- 1 million events, 100 per trace; 64-character inputs; distinct keys so
-- that every variant has one right answer.
CREATE TEMP TABLE bench_ev AS
SELECT i % 10000 AS trace,
       '2025-07-01 00:00:00+00'::timestamptz + (i::bigint * 7919 % 1000000) * interval '1 ms' AS ts,
       md5(i::text) || md5((i + 1)::text) AS input
FROM generate_series(1, 1000000) i;
VACUUM ANALYZE bench_ev;

CREATE TEMP TABLE bench_result (name text, work_mem text, ms numeric);

-- Best of three runs of query at each work_mem; its result is consumed by
-- sum() so that nothing is optimized away.
CREATE FUNCTION pg_temp.bench(name text, query text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    started timestamptz;
    best numeric;
    took numeric;
    consumed bigint;
    mem text;
BEGIN
    FOREACH mem IN ARRAY ARRAY['4MB', '1GB'] LOOP
        PERFORM set_config('work_mem', mem, true);
        best := NULL;
        FOR run IN 1 .. 3 LOOP
            started := clock_timestamp();
            EXECUTE query INTO consumed;
            took := extract(epoch FROM clock_timestamp() - started) * 1000;
            best := least(best, took);
        END LOOP;
        INSERT INTO bench_result VALUES (name, mem, round(best, 1));
    END LOOP;
END $$;

DO $bench$
BEGIN
    PERFORM pg_temp.bench('argmax',
    $q$SELECT sum(length(v)) FROM (
         SELECT trace, trace_agg.argmax(input, ts) AS v FROM bench_ev GROUP BY trace) r$q$);
    PERFORM pg_temp.bench('argmax_state',
    $q$SELECT sum(pg_column_size(s)) FROM (
         SELECT trace, trace_agg.argmax_state(input, ts) AS s FROM bench_ev GROUP BY trace) r$q$);
    PERFORM pg_temp.bench('finalize(argmax_state)',
    $q$SELECT sum(length(trace_agg.finalize(s))) FROM (
         SELECT trace, trace_agg.argmax_state(input, ts) AS s FROM bench_ev GROUP BY trace) r$q$);
    PERFORM pg_temp.bench('SQL: DISTINCT ON ... ORDER BY ts DESC',
    $q$SELECT sum(length(v)) FROM (
         SELECT DISTINCT ON (trace) trace, input AS v FROM bench_ev ORDER BY trace, ts DESC) r$q$);
    PERFORM pg_temp.bench('SQL: row_number() OVER (... ORDER BY ts DESC) = 1',
    $q$SELECT sum(length(v)) FROM (
         SELECT input AS v, row_number() OVER (PARTITION BY trace ORDER BY ts DESC) AS n
         FROM bench_ev) r WHERE n = 1$q$);
    PERFORM pg_temp.bench('SQL: (array_agg(... ORDER BY ts DESC))[1]',
    $q$SELECT sum(length(v)) FROM (
         SELECT trace, (array_agg(input ORDER BY ts DESC))[1] AS v FROM bench_ev GROUP BY trace) r$q$);
END $bench$;

-- The fast path must also be right: argmax agrees with DISTINCT ON.
SELECT count(*) FILTER (WHERE a.v = d.v) AS groups_agreeing, count(*) AS groups
FROM (SELECT trace, trace_agg.argmax(input, ts) AS v FROM bench_ev GROUP BY trace) a
JOIN (SELECT DISTINCT ON (trace) trace, input AS v FROM bench_ev ORDER BY trace, ts DESC) d
USING (trace);

\pset footer off
SELECT r4.name, r4.ms AS ms_4mb,
       round(r4.ms / (SELECT ms FROM bench_result WHERE name = 'argmax' AND work_mem = '4MB'), 1) AS x_argmax_4mb,
       r1.ms AS ms_1gb,
       round(r1.ms / (SELECT ms FROM bench_result WHERE name = 'argmax' AND work_mem = '1GB'), 1) AS x_argmax_1gb
FROM bench_result r4 JOIN bench_result r1 ON r1.name = r4.name AND r1.work_mem = '1GB'
WHERE r4.work_mem = '4MB'
ORDER BY r4.ms;
SELECT work_mem,
       round(max(ms) FILTER (WHERE name LIKE 'SQL: DISTINCT ON%')
             / max(ms) FILTER (WHERE name = 'argmax'), 1) AS distinct_on_over_argmax
FROM bench_result GROUP BY work_mem ORDER BY work_mem DESC;
