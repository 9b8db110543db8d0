-- group_uniq_array, group_uniq_array_array, group_uniq_merge: sets of
-- distinct strings, as sorted (bytewise) deduplicated text[].
CREATE SCHEMA group_uniq_test;
SET search_path = group_uniq_test, public;

--
-- group_uniq_array(text)
--

-- Duplicates collapse, NULLs are skipped, '' is a value.
SELECT trace_agg.group_uniq_array(x)
FROM (VALUES ('b'), ('a'), (NULL), ('b'), (''), ('a'), ('')) v(x);

-- No rows, or only NULLs: an empty array, not NULL (ClickHouse gives []).
SELECT trace_agg.group_uniq_array(x) AS no_rows,
	   trace_agg.group_uniq_array(x) IS NULL AS is_null,
	   cardinality(trace_agg.group_uniq_array(x)) AS n
FROM (VALUES ('a')) v(x) WHERE false;
SELECT trace_agg.group_uniq_array(NULL::text) AS only_nulls FROM generate_series(1, 3);

-- Per group, with a group of NULLs.
SELECT g, trace_agg.group_uniq_array(x)
FROM (VALUES (1, 'y'), (1, 'x'), (1, 'y'), (2, NULL), (3, 'z')) v(g, x)
GROUP BY g ORDER BY g;

-- Bytewise order, whatever the collation: uppercase before lowercase
-- ('B' is 0x42, 'a' 0x61), a prefix before its extensions, multibyte
-- UTF-8 after ASCII ('é' is 0xC3 0xA9, after 'z' 0x7A), '' first.
SELECT trace_agg.group_uniq_array(x)
FROM (VALUES ('a'), ('é'), ('B'), ('z'), ('ab'), ('A'), (''), ('b'), ('日本'), ('Z'), ('éa')) v(x);
-- the same as sorting with the "C" collation
SELECT trace_agg.group_uniq_array(x) = array_agg(DISTINCT x COLLATE "C" ORDER BY x COLLATE "C") AS same_as_c
FROM (VALUES ('a'), ('é'), ('B'), ('z'), ('ab'), ('A'), (''), ('b'), ('日本'), ('Z'), ('éa')) v(x);

-- varchar converts to text.
SELECT trace_agg.group_uniq_array(x) FROM (VALUES ('q'::varchar), ('p')) v(x);

-- max_size keeps the first max_size distinct values met in input order
-- (ClickHouse's groupUniqArray(max_size)(x)), returned sorted.
SELECT trace_agg.group_uniq_array(x, 2) AS first_two,
	   trace_agg.group_uniq_array(x, 3) AS first_three,
	   trace_agg.group_uniq_array(x, 100) AS all_of_them
FROM (SELECT x FROM (VALUES (1, 'd'), (2, NULL), (3, 'd'), (4, 'c'), (5, 'a'), (6, 'b')) v(pos, x)
	  ORDER BY pos) s;
SELECT trace_agg.group_uniq_array(x, 2 ORDER BY pos DESC) AS last_two
FROM (VALUES (1, 'd'), (2, 'c'), (3, 'a'), (4, 'b')) v(pos, x);
SELECT trace_agg.group_uniq_array(x, 1) FROM (VALUES ('a')) v(x) WHERE false;
SELECT trace_agg.group_uniq_array(x, 0) FROM (VALUES ('a')) v(x);
SELECT trace_agg.group_uniq_array(x, -1) FROM (VALUES ('a')) v(x);
SELECT trace_agg.group_uniq_array(x, NULL) FROM (VALUES ('a')) v(x);
SELECT trace_agg.group_uniq_array(x, n) FROM (VALUES ('a', 1), ('b', 2)) v(x, n);

-- As a window function: the set so far.
SELECT pos, trace_agg.group_uniq_array(x) OVER (ORDER BY pos)
FROM (VALUES (1, 'b'), (2, NULL), (3, 'a'), (4, 'b')) v(pos, x) ORDER BY pos;

--
-- group_uniq_array_array(text[])
--

-- The union of all elements: NULL arrays and NULL elements skipped, ''
-- kept, empty arrays harmless.
SELECT trace_agg.group_uniq_array_array(a)
FROM (VALUES ('{b,a,b}'::text[]), (NULL), ('{NULL,c,""}'), ('{}'), ('{a,NULL}')) v(a);

-- No rows, only NULL arrays, only empty arrays: an empty array.
SELECT trace_agg.group_uniq_array_array(a) AS no_rows
FROM (VALUES ('{a}'::text[])) v(a) WHERE false;
SELECT trace_agg.group_uniq_array_array(a) AS only_nulls
FROM (VALUES (NULL::text[]), ('{NULL,NULL}')) v(a);
SELECT trace_agg.group_uniq_array_array(a) AS only_empty
FROM (VALUES ('{}'::text[]), ('{}')) v(a);

-- Multi-dimensional arrays are read flat, as unnest() reads them; any
-- lower bound is fine.  The result always has one dimension from 1.
SELECT trace_agg.group_uniq_array_array(a)
FROM (VALUES ('{{d,c},{NULL,a}}'::text[]), ('[0:1]={b,c}'), ('{{{e}}}')) v(a);

-- Bytewise order and non-ASCII, as above.
SELECT trace_agg.group_uniq_array_array(a)
FROM (VALUES ('{a,é,B}'::text[]), ('{z,Ω,"",ab,é}')) v(a);

-- Arrays stored compressed (c) or out of line (e) are read like the
-- small ones, which a table stores with a one-byte header.
CREATE TABLE wide (id int, c text[], e text[]);
ALTER TABLE wide ALTER COLUMN e SET STORAGE EXTERNAL;
INSERT INTO wide
SELECT id, a, a
FROM (VALUES (1, ARRAY[repeat('k', 5000), repeat(md5('x'), 300)]),
			 (2, ARRAY[repeat(md5('x'), 300), 'short']),
			 (3, ARRAY[repeat('k', 5000)])) v(id, a);
SELECT id, pg_column_size(c) < 1000 AS c_compressed, pg_column_size(e) > 5000 AS e_uncompressed
FROM wide ORDER BY id;
SELECT cardinality(u) AS n, left(u[1], 6) AS first, length(u[1]) AS len1,
	   left(u[2], 6) AS second, length(u[2]) AS len2, u[3] AS third, u = v AS same
FROM (SELECT trace_agg.group_uniq_array_array(c) AS u, trace_agg.group_uniq_array_array(e) AS v
	  FROM wide) s;

-- 10,000-element arrays: e00001 .. e10000, three times over, shuffled.
SELECT cardinality(u) AS n, u[1] AS first, u[10000] AS last,
	   u = (SELECT array_agg('e' || lpad(i::text, 5, '0') ORDER BY i) FROM generate_series(1, 10000) i) AS exact
FROM (SELECT trace_agg.group_uniq_array_array(a) AS u
	  FROM (SELECT array_agg('e' || lpad(i::text, 5, '0') ORDER BY (i * 7919) % 10007) AS a
			FROM generate_series(1, 10000) i, generate_series(1, 3) r
			GROUP BY r) s) t;

-- Two overlapping 10,000-element arrays: 15,000 distinct.
SELECT cardinality(u) AS n, u[1] AS first, u[15000] AS last
FROM (SELECT trace_agg.group_uniq_array_array(a) AS u
	  FROM (SELECT array_agg('e' || lpad(i::text, 5, '0')) AS a
			FROM generate_series(1, 10000) i
			UNION ALL
			SELECT array_agg('e' || lpad(i::text, 5, '0'))
			FROM generate_series(5001, 15000) i) s) t;

-- max_size counts elements, in input order.
SELECT trace_agg.group_uniq_array_array(a, 3)
FROM (SELECT a FROM (VALUES (1, '{d,c}'::text[]), (2, '{NULL,d,a}'), (3, '{b}')) v(pos, a)
	  ORDER BY pos) s;
SELECT trace_agg.group_uniq_array_array(a, 0) FROM (VALUES ('{a}'::text[])) v(a);

--
-- group_uniq_merge(text[], text[])
--

SELECT trace_agg.group_uniq_merge('{a,c}', '{b,d}') AS ab,
	   trace_agg.group_uniq_merge('{b,d}', '{a,c}') AS ba,
	   trace_agg.group_uniq_merge('{a,b}', '{b,c}') AS overlap,
	   trace_agg.group_uniq_merge('{a,b}', '{a,b}') AS same,
	   trace_agg.group_uniq_merge('{}', '{}') AS empty;

-- NULL on one side yields the other; both NULL yield NULL.
SELECT trace_agg.group_uniq_merge(NULL, '{a,b}') AS null_first,
	   trace_agg.group_uniq_merge('{a,b}', NULL) AS null_second,
	   trace_agg.group_uniq_merge(NULL, NULL) IS NULL AS both_null,
	   trace_agg.group_uniq_merge(NULL, '{}') AS null_and_empty;

-- Arrays written by hand are normalized: unsorted, duplicated, NULL
-- elements, '' , several dimensions, other lower bounds.
SELECT trace_agg.group_uniq_merge('{c,a,c,NULL}', '{b,"",a}') AS unsorted,
	   trace_agg.group_uniq_merge('{b,a}', NULL) AS unsorted_alone,
	   trace_agg.group_uniq_merge(NULL, '{NULL}') AS only_null_element,
	   trace_agg.group_uniq_merge('{{b,a},{c,d}}', '{}') AS two_dims,
	   trace_agg.group_uniq_merge('[5:6]={y,z}', '{x}') AS lower_bound,
	   trace_agg.group_uniq_merge('[5:6]={y,z}', NULL) AS lower_bound_alone;
SELECT array_lower(trace_agg.group_uniq_merge('[5:6]={y,z}', '{y}'), 1) AS lower_after_merge;

-- Bytewise order in merges, whatever the input order.
SELECT trace_agg.group_uniq_merge('{é,a}', '{B,z}') AS m1,
	   trace_agg.group_uniq_merge('{B,z}', '{é,a}') AS m2;

-- Merge is commutative and idempotent on stored results.
SELECT trace_agg.group_uniq_merge(x, y) = trace_agg.group_uniq_merge(y, x) AS commutative,
	   trace_agg.group_uniq_merge(trace_agg.group_uniq_merge(x, y), y)
		 = trace_agg.group_uniq_merge(x, y) AS idempotent
FROM (VALUES ('{a,c,e}'::text[], '{b,c,d,f}'::text[])) v(x, y);

-- 10,000-element merges.
SELECT cardinality(m) AS n, m[1] AS first, m[15000] AS last
FROM (SELECT trace_agg.group_uniq_merge(
		(SELECT array_agg('e' || lpad(i::text, 5, '0') ORDER BY i DESC) FROM generate_series(1, 10000) i),
		(SELECT array_agg('e' || lpad(i::text, 5, '0') ORDER BY i) FROM generate_series(5001, 15000) i)) AS m) s;

-- A stored result that already holds every new element is returned as it
-- is, TOAST pointer included: ON CONFLICT DO UPDATE then keeps the stored
-- value instead of writing a new copy.  The toast table's chunk ids show
-- it: unchanged after a merge that adds nothing, new after one that adds.
CREATE TABLE stored (id int PRIMARY KEY, ids text[]);
ALTER TABLE stored ALTER COLUMN ids SET STORAGE EXTERNAL;
INSERT INTO stored
SELECT 1, trace_agg.group_uniq_array('id-' || lpad(i::text, 6, '0')) FROM generate_series(1, 5000) i;

CREATE FUNCTION toast_chunk_ids() RETURNS oid[]
LANGUAGE plpgsql AS $$
DECLARE
	ids oid[];
BEGIN
	EXECUTE format('SELECT array_agg(DISTINCT chunk_id ORDER BY chunk_id) FROM %s',
				   (SELECT reltoastrelid::regclass FROM pg_class WHERE oid = 'stored'::regclass))
		INTO ids;
	RETURN ids;
END
$$;
CREATE TABLE chunks (step text, ids oid[]);
INSERT INTO chunks SELECT 'before', toast_chunk_ids();

INSERT INTO stored VALUES (1, '{id-000002,id-004999,id-000002}')
ON CONFLICT (id) DO UPDATE SET ids = trace_agg.group_uniq_merge(stored.ids, excluded.ids);
INSERT INTO chunks SELECT 'nothing new', toast_chunk_ids();

INSERT INTO stored VALUES (1, '{id-000002,new}')
ON CONFLICT (id) DO UPDATE SET ids = trace_agg.group_uniq_merge(stored.ids, excluded.ids);
INSERT INTO chunks SELECT 'one new', toast_chunk_ids();

SELECT (SELECT ids FROM chunks WHERE step = 'nothing new') = (SELECT ids FROM chunks WHERE step = 'before') AS kept_toast,
	   (SELECT ids FROM chunks WHERE step = 'one new') <> (SELECT ids FROM chunks WHERE step = 'before') AS rewrote_toast,
	   cardinality(ids) AS n, ids[1] AS first, ids[5001] AS last
FROM stored;

--
-- Property: split random arrays into random batches, aggregate each batch,
-- fold the batch results with group_uniq_merge in random order: the result
-- is the one-pass aggregate, and the plain-SQL set.  Twenty splits, per key.
--
SELECT setseed(0.42);
CREATE TABLE prop AS
SELECT id, id % 5 AS k,
	   CASE WHEN random() < 0.05 THEN NULL
	   ELSE ARRAY(SELECT CASE WHEN random() < 0.1 THEN NULL
					  ELSE chr(65 + (random() * 60)::int) || (random() * 3)::int END
				  FROM generate_series(1, (random() * 6)::int + id * 0))
	   END AS a
FROM generate_series(1, 2000) id;

CREATE AGGREGATE merge_all(text[]) (SFUNC = trace_agg.group_uniq_merge, STYPE = text[]);

WITH split AS (
	SELECT s, k, (random() * s)::int AS batch, a
	FROM prop, generate_series(1, 20) s
), per_batch AS (
	SELECT s, k, batch, trace_agg.group_uniq_array_array(a) AS u
	FROM split GROUP BY s, k, batch
), folded AS (
	SELECT s, k, merge_all(u ORDER BY random()) AS u FROM per_batch GROUP BY s, k
), one_pass AS (
	SELECT k, trace_agg.group_uniq_array_array(a) AS u FROM prop GROUP BY k
), plain AS (
	SELECT k, array_agg(DISTINCT e COLLATE "C" ORDER BY e COLLATE "C") AS u
	FROM prop, unnest(a) e WHERE e IS NOT NULL GROUP BY k
)
SELECT count(*) AS splits_by_key,
	   count(*) FILTER (WHERE f.u = o.u) AS folded_equals_one_pass,
	   count(*) FILTER (WHERE o.u = p.u) AS one_pass_equals_plain_sql,
	   min(cardinality(o.u)) > 50 AS sets_are_big
FROM folded f JOIN one_pass o USING (k) JOIN plain p USING (k);

-- Folding with group_uniq_array_array over stored results works too.
SELECT (SELECT trace_agg.group_uniq_array_array(u)
		FROM (SELECT trace_agg.group_uniq_array_array(a) AS u FROM prop GROUP BY id % 7) s)
	   = (SELECT trace_agg.group_uniq_array_array(a) FROM prop) AS array_array_folds;

--
-- Parallel plans: partial states are serialized in the workers and
-- combined in the leader; the results are those of a serial plan.
--
CREATE TABLE par AS
SELECT i % 50 AS g,
	   ARRAY['t' || (i % 13), 'u' || (i % 101), CASE WHEN i % 7 = 0 THEN NULL ELSE 'é' || (i % 5) END] AS a,
	   CASE WHEN i % 50 < 5 OR i % 3 = 0 THEN NULL ELSE 'v' || (i % 17) END AS v
FROM generate_series(1, 60000) i;
ANALYZE par;

SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF)
SELECT g, trace_agg.group_uniq_array_array(a), trace_agg.group_uniq_array(v) FROM par GROUP BY g;
EXPLAIN (COSTS OFF)
SELECT trace_agg.group_uniq_array_array(a), trace_agg.group_uniq_array(v) FROM par;
CREATE TABLE par_grouped AS
SELECT g, trace_agg.group_uniq_array_array(a) AS u, trace_agg.group_uniq_array(v) AS v,
	   trace_agg.group_uniq_array_array(a, 4) AS u4
FROM par GROUP BY g;
CREATE TABLE par_total AS
SELECT trace_agg.group_uniq_array_array(a) AS u, trace_agg.group_uniq_array(v) AS v FROM par;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;

SET max_parallel_workers_per_gather = 0;
SELECT count(*) AS groups,
	   count(*) FILTER (WHERE p.u = s.u AND p.v = s.v) AS same_as_serial,
	   count(*) FILTER (WHERE p.v = '{}') AS empty_v_groups,
	   bool_and(cardinality(p.u4) = 4 AND p.u4 <@ s.u) AS limited_subsets
FROM par_grouped p
JOIN (SELECT g, trace_agg.group_uniq_array_array(a) AS u, trace_agg.group_uniq_array(v) AS v
	  FROM par GROUP BY g) s USING (g);
SELECT p.u = s.u AS u_same, p.v = s.v AS v_same, cardinality(p.u) AS n, p.v
FROM par_total p,
	 (SELECT trace_agg.group_uniq_array_array(a) AS u, trace_agg.group_uniq_array(v) AS v FROM par) s;
RESET max_parallel_workers_per_gather;

--
-- Memory: a group's state holds each distinct string once.  A HashAggregate
-- reports the peak memory of its groups and their states; with small
-- work_mem, a million rows of few distinct values must peak no higher than
-- ten thousand rows do.  array_agg, which keeps every row, shows that the
-- measure sees growth.
--
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
SELECT hashagg_peak_kb($$SELECT i % 1, trace_agg.group_uniq_array_array(ARRAY[md5((i % 50)::text), 'tag' || (i % 7)])
						FROM generate_series(1, 1000000) i GROUP BY 1$$)
	   <= hashagg_peak_kb($$SELECT i % 1, trace_agg.group_uniq_array_array(ARRAY[md5((i % 50)::text), 'tag' || (i % 7)])
						  FROM generate_series(1, 10000) i GROUP BY 1$$) AS array_array_flat,
	   hashagg_peak_kb($$SELECT i % 1, trace_agg.group_uniq_array(md5((i % 50)::text))
						FROM generate_series(1, 1000000) i GROUP BY 1$$)
	   <= hashagg_peak_kb($$SELECT i % 1, trace_agg.group_uniq_array(md5((i % 50)::text))
						  FROM generate_series(1, 10000) i GROUP BY 1$$) AS array_flat,
	   hashagg_peak_kb($$SELECT i % 1, array_agg(md5((i % 50)::text))
						FROM generate_series(1, 1000000) i GROUP BY 1$$)
	   > 10 * hashagg_peak_kb($$SELECT i % 1, array_agg(md5((i % 50)::text))
							  FROM generate_series(1, 10000) i GROUP BY 1$$) AS array_agg_grows;
RESET work_mem;
RESET enable_sort;
RESET max_parallel_workers_per_gather;

RESET search_path;
DROP SCHEMA group_uniq_test CASCADE;
