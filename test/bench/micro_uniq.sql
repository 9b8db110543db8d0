-- test/bench/micro_uniq.sql: group_uniq_array_array against plain SQL.
--
-- Usage: psql -X -f test/bench/micro_uniq.sql   (trace_agg installed; the
-- script creates the extension if missing, and only temporary tables)
--
-- One million rows in 10,000 groups of 100 rows.  Each row is a text[]
-- shaped like the tags and ids a trace event carries: a tag out of 7, an
-- environment out of 3, and an id that is new one row in four, so that a
-- group ends with 35 distinct strings out of 300.  The rows come in two
-- layouts of the same content:
--   clustered    the rows of a group are adjacent, as the events of a trace
--                arrive together;
--   interleaved  consecutive rows belong to different groups, the worst
--                case for the caches (every row touches another set).
-- Each query runs three times, serially, and the best time counts.  Prints
-- the times, whether both queries agree, and the speed-up; asserts nothing.

\set ON_ERROR_STOP 1
CREATE EXTENSION IF NOT EXISTS trace_agg;

-- the aggregation itself is measured: no parallel machinery, no spilling,
-- and the temporary tables held in memory (set before they are first used)
SET max_parallel_workers_per_gather = 0;
SET work_mem = '256MB';
SET temp_buffers = '512MB';

CREATE TEMP TABLE bench_clustered AS
SELECT i / 100 AS g,
	   ARRAY['tag-' || (i % 7), 'env-' || (i % 3), 'obs-' || (i / 4)] AS a
FROM generate_series(0, 999999) AS i;

CREATE TEMP TABLE bench_interleaved AS
SELECT i % 10000 AS g,
	   ARRAY['tag-' || (i % 7), 'env-' || (i % 3), 'obs-' || (i / 40000)] AS a
FROM generate_series(0, 999999) AS i;

VACUUM ANALYZE bench_clustered;
VACUUM ANALYZE bench_interleaved;

CREATE FUNCTION pg_temp.bench(tab text) RETURNS void
LANGUAGE plpgsql AS $bench$
DECLARE
	ours_sql constant text := format(
		'SELECT g, trace_agg.group_uniq_array_array(a) AS u FROM %I GROUP BY g', tab);
	plain_sql constant text := format(
		'SELECT g, array_agg(DISTINCT e COLLATE "C" ORDER BY e COLLATE "C") AS u'
		' FROM %I, unnest(a) AS e GROUP BY g', tab);
	best_ours interval;
	best_plain interval;
	t0 timestamptz;
	total bigint;
	same boolean;
BEGIN
	FOR run IN 1..3 LOOP
		t0 := clock_timestamp();
		-- sum(cardinality(u)) keeps the planner from dropping the aggregate
		EXECUTE 'SELECT sum(cardinality(u)) FROM (' || ours_sql || ') s' INTO total;
		best_ours := least(best_ours, clock_timestamp() - t0);

		t0 := clock_timestamp();
		EXECUTE 'SELECT sum(cardinality(u)) FROM (' || plain_sql || ') s' INTO total;
		best_plain := least(best_plain, clock_timestamp() - t0);
	END LOOP;

	EXECUTE 'SELECT count(*) = 10000 AND bool_and(o.u = p.u) FROM (' || ours_sql
		|| ') o JOIN (' || plain_sql || ') p USING (g)' INTO same;

	RAISE NOTICE '% rows: 1000000 in 10000 groups, % distinct strings kept, same results: %',
		tab, total, same;
	RAISE NOTICE '%: group_uniq_array_array % ms, plain SQL (unnest, array_agg DISTINCT ORDER BY) % ms, speed-up %x',
		tab,
		round(extract(epoch FROM best_ours) * 1000),
		round(extract(epoch FROM best_plain) * 1000),
		round((extract(epoch FROM best_plain) / extract(epoch FROM best_ours))::numeric, 1);
END
$bench$;

SELECT pg_temp.bench('bench_clustered');
SELECT pg_temp.bench('bench_interleaved');

DROP TABLE bench_clustered, bench_interleaved;
