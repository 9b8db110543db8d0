-- Aggregating many rows into one group keeps memory at the size of the
-- state: each winning row replaces the previous copy, nothing piles up per
-- row.  The hash aggregate reports the memory of its groups and their
-- transition states; 1 million rows must need no more than 10 thousand.
CREATE SCHEMA argmax_test;

-- Peak memory (kB) of the hash aggregate at the top of query's plan.
CREATE FUNCTION argmax_test.hashagg_peak_kb(query text) RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
    plan json;
BEGIN
    EXECUTE 'EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, FORMAT JSON) ' || query INTO plan;
    IF plan -> 0 -> 'Plan' ->> 'Node Type' <> 'Aggregate'
       OR plan -> 0 -> 'Plan' ->> 'Strategy' <> 'Hashed' THEN
        RAISE EXCEPTION 'expected a hash aggregate at the top of %', plan;
    END IF;
    RETURN (plan -> 0 -> 'Plan' ->> 'Peak Memory Usage')::int;
END $$;

SET max_parallel_workers_per_gather = 0;
SET enable_sort = off;

-- Every row wins (keys increase), the worst case for copying: argmax and
-- argmax_state (which share one transition state) over text, jsonb and
-- boolean values.
CREATE FUNCTION argmax_test.agg_query(n int) RETURNS text LANGUAGE sql AS $$
    SELECT format($q$
        SELECT g, trace_agg.argmax(md5(i::text), i::bigint),
               trace_agg.argmax_state(md5(i::text), i::bigint),
               trace_agg.argmax(jsonb_build_object('i', i), '2025-07-01'::timestamp + i * interval '1 ms'),
               trace_agg.argmax(i %% 2 = 0, '2025-07-01'::timestamptz + i * interval '1 ms')
        FROM (SELECT i, i %% 1 AS g FROM generate_series(1, %s) i) s GROUP BY g$q$, n)
$$;
SELECT argmax_test.hashagg_peak_kb(argmax_test.agg_query(10000)) AS rows_10k \gset
SELECT argmax_test.hashagg_peak_kb(argmax_test.agg_query(1000000)) AS rows_1m \gset
SELECT :rows_1m <= :rows_10k AS argmax_flat;

-- argmax_merge keeps the winning state the same way.
CREATE FUNCTION argmax_test.merge_query(n int) RETURNS text LANGUAGE sql AS $$
    SELECT format($q$
        SELECT g, trace_agg.argmax_merge(
                   ('{"key": ' || i || ', "kind": "bigint", "value": "' || md5(i::text) || '"}')::trace_agg.argmax_text)
        FROM (SELECT i, i %% 1 AS g FROM generate_series(1, %s) i) s GROUP BY g$q$, n)
$$;
SELECT argmax_test.hashagg_peak_kb(argmax_test.merge_query(10000)) AS merge_10k \gset
SELECT argmax_test.hashagg_peak_kb(argmax_test.merge_query(300000)) AS merge_300k \gset
SELECT :merge_300k <= :merge_10k AS argmax_merge_flat;

RESET enable_sort;
RESET max_parallel_workers_per_gather;
DROP SCHEMA argmax_test CASCADE;
