-- Materialized views over an ordinary source table, with core aggregates:
-- creation checks, merge rules, atomicity, drop protection, privileges.
CREATE SCHEMA fo;
SET search_path = fo, public;

CREATE TABLE ev (k text, k2 int, v int, flag boolean, note text);
CREATE TABLE agg (k text, k2 int, n bigint NOT NULL, total bigint, lo int, hi int,
                  any_flag boolean, all_flag boolean, PRIMARY KEY (k, k2));

-- Creation checks
SELECT trace_agg.create_materialized_view('bad', 'agg', 'SELECT 1');
SELECT trace_agg.create_materialized_view('bad', 'agg', 'INSERT INTO ev VALUES (1)');
-- A view may leave nullable columns to others, not a NOT NULL one without default.
SELECT trace_agg.create_materialized_view('bad', 'agg', 'SELECT k, k2, sum(v) AS total FROM ev GROUP BY k, k2');
SELECT trace_agg.create_materialized_view('bad', 'agg',
  'SELECT k, k2, count(*) AS n, sum(v) AS total, min(v) AS lo, max(v) AS hi, bool_or(flag) AS any_flag, bool_and(flag) AS all_flag, max(note) AS nope FROM ev GROUP BY k, k2');
SELECT trace_agg.create_materialized_view('bad', 'agg',
  'SELECT k, k2, count(*) AS n, avg(v)::bigint AS total, min(v) AS lo, max(v) AS hi, bool_or(flag) AS any_flag, bool_and(flag) AS all_flag FROM ev GROUP BY k, k2');
SELECT trace_agg.create_materialized_view('bad', 'agg',
  'SELECT k, k2, count(*) AS n, stddev(v) AS total, min(v) AS lo, max(v) AS hi, bool_or(flag) AS any_flag, bool_and(flag) AS all_flag FROM ev GROUP BY k, k2');
SELECT trace_agg.create_materialized_view('bad', 'agg',
  'SELECT k, k2, count(DISTINCT v) AS n, sum(v) AS total, min(v) AS lo, max(v) AS hi, bool_or(flag) AS any_flag, bool_and(flag) AS all_flag FROM ev GROUP BY k, k2');
SELECT trace_agg.create_materialized_view('bad', 'agg',
  'SELECT k, k2, count(*) AS n, sum(v) AS total, min(v) AS lo, max(v) AS hi, bool_or(flag) AS any_flag, v > 0 AS all_flag FROM ev GROUP BY k, k2, v');
SELECT trace_agg.create_materialized_view('bad', 'agg',
  'SELECT k, max(k2) AS k2, count(*) AS n, sum(v) AS total, min(v) AS lo, max(v) AS hi, bool_or(flag) AS any_flag, bool_and(flag) AS all_flag FROM ev GROUP BY k');
SELECT trace_agg.create_materialized_view('bad', 'agg',
  'SELECT e.k, e.k2, count(*) AS n, sum(e.v) AS total, min(e.v) AS lo, max(e.v) AS hi, bool_or(e.flag) AS any_flag, bool_and(e.flag) AS all_flag FROM ev e JOIN ev f ON e.k = f.k GROUP BY e.k, e.k2');
SELECT trace_agg.create_materialized_view('bad', 'agg',
  'SELECT k, k2, count(*) AS n, sum(note) AS total, min(v) AS lo, max(v) AS hi, bool_or(flag) AS any_flag, bool_and(flag) AS all_flag FROM ev GROUP BY k, k2');
SELECT trace_agg.create_materialized_view('bad', 'agg',
  'SELECT k, k2, count(*) AS n, sum(v) AS total, min(v) AS lo, max(v) AS hi, bool_or(flag) AS any_flag, bool_and(flag) AS all_flag FROM ev GROUP BY k, k2 HAVING count(*) > 1');
CREATE TABLE tags_agg (k text PRIMARY KEY, tags text[]);
SELECT trace_agg.create_materialized_view('bad', 'tags_agg',
  'SELECT k, trace_agg.group_uniq_array(note, 3) AS tags FROM ev GROUP BY k');
SELECT trace_agg.create_materialized_view('bad', 'tags_agg',
  'SELECT k, trace_agg.group_uniq_array(note ORDER BY v) AS tags FROM ev GROUP BY k');
DROP TABLE tags_agg;
SELECT count(*) AS views_after_failures FROM trace_agg.materialized_view;

-- A good view.  WHERE filters the source rows; outputs match by name, in any order.
SELECT trace_agg.create_materialized_view('agg_mv', 'agg', $$
  SELECT k2, k, bool_and(flag) AS all_flag, bool_or(flag) AS any_flag,
         count(*) AS n, sum(v) AS total, min(v) AS lo, max(v) AS hi
  FROM ev WHERE k <> 'ignored' GROUP BY k, k2$$);
-- A view's name is a relation name in its schema (here the target's).
SELECT trace_agg.create_materialized_view('agg_mv', 'agg', 'SELECT k, k2, count(*) AS n FROM ev GROUP BY k, k2');
-- The same query into the same target would count every row twice.
SELECT trace_agg.create_materialized_view('agg_mv_again', 'agg', $$
  SELECT k2, k, bool_and(flag) AS all_flag, bool_or(flag) AS any_flag,
         count(*) AS n, sum(v) AS total, min(v) AS lo, max(v) AS hi
  FROM ev WHERE k <> 'ignored' GROUP BY k, k2$$);
-- Views cannot be chained: the target's upserts would not reach a second view.
CREATE TABLE agg2 (k text PRIMARY KEY, n bigint);
SELECT trace_agg.create_materialized_view('chained', 'agg2', 'SELECT k, sum(n) AS n FROM agg GROUP BY k');
SELECT trace_agg.create_materialized_view('loop', 'agg2', 'SELECT k, count(*) AS n FROM agg2 GROUP BY k');
DROP TABLE agg2;
SELECT view_name, source, target, owner, query LIKE $$%WHERE%$$ AS filters FROM trace_agg.materialized_views;

INSERT INTO ev VALUES ('a', 1, 1, true, 'x'), ('a', 1, 5, NULL, 'y'), ('b', 1, NULL, false, 'z');
INSERT INTO ev VALUES ('ignored', 1, 100, true, 'i');
INSERT INTO ev SELECT 'a', 1, g, false, 'g' FROM generate_series(1, 10) g;
INSERT INTO ev VALUES ('b', 1, 7, NULL, NULL), ('b', 2, -3, true, NULL);
INSERT INTO ev SELECT * FROM ev WHERE false;
-- Expected: a/1 n=12 total=1+5+55=61 lo=1 hi=10 any=t all=f; b/1 n=2 total=7 lo=hi=7 any=f all=f;
-- b/2 n=1 total=-3 any=t all=t; nothing for "ignored".
SELECT * FROM agg ORDER BY k, k2;
-- The source keeps its own rows: it is an ordinary table here.
SELECT count(*) AS source_rows FROM ev;

-- COPY feeds the view too.
COPY ev FROM STDIN;
a	1	100	\N	c
c	9	1	t	c
\.
SELECT * FROM agg WHERE k IN ('a', 'c') ORDER BY k, k2;

-- A change to the source's shape drops the session's prepared statements.
ALTER TABLE ev ADD COLUMN extra int DEFAULT 7;
INSERT INTO ev VALUES ('c', 9, 2, false, 'after alter', 1);
ALTER TABLE ev DROP COLUMN extra;
INSERT INTO ev VALUES ('c', 9, 3, NULL, 'after drop');
SELECT * FROM agg WHERE k = 'c';

-- A second view on the same source, into a narrower target; a failing merge
-- rolls the whole INSERT back: nothing reaches the source or either target.
CREATE TABLE agg_small (k text, k2 int, total int, PRIMARY KEY (k, k2));
SELECT trace_agg.create_materialized_view('agg_mv_overflow', 'agg_small', $$SELECT k, k2, sum(v) AS total FROM ev GROUP BY k, k2$$);
INSERT INTO ev VALUES ('e', 1, 2147483647, true, NULL);
INSERT INTO ev VALUES ('e', 1, 1, true, NULL), ('f', 1, 1, true, NULL);
SELECT k, k2, n FROM agg WHERE k IN ('e', 'f') ORDER BY k, k2;
SELECT * FROM agg_small ORDER BY k, k2;
SELECT count(*) FILTER (WHERE k = 'f') AS f_rows_in_source FROM ev;
SELECT trace_agg.drop_materialized_view('agg_mv_overflow');

-- Drop protection: a source or target of a view is dropped only with
-- CASCADE, which drops the view (and forgets it) too.
DROP TABLE agg;
DROP TABLE ev;
BEGIN;
DROP TABLE ev CASCADE;
SELECT count(*) AS views_left FROM trace_agg.materialized_view;
ROLLBACK;
BEGIN;
DROP TABLE agg CASCADE;
SELECT count(*) AS views_left FROM trace_agg.materialized_view;
SELECT tgname FROM pg_trigger WHERE tgrelid = 'ev'::regclass;
ROLLBACK;
SELECT trace_agg.drop_materialized_view('nope');
SELECT trace_agg.drop_materialized_view('nope', if_exists => true);

-- Privileges: an ingest role with only INSERT on the source feeds the target
-- through the view (it runs with its owner's rights) but cannot touch the target.
CREATE ROLE fo_ingest;
GRANT USAGE ON SCHEMA fo TO fo_ingest;
GRANT INSERT ON ev TO fo_ingest;
SET ROLE fo_ingest;
INSERT INTO ev VALUES ('p', 1, 1, true, NULL);
SELECT * FROM agg;
INSERT INTO agg VALUES ('x', 1, 1, 1, 1, 1, true, true);
SELECT trace_agg.drop_materialized_view('agg_mv');
RESET ROLE;
SELECT k, n FROM agg WHERE k = 'p';
SET ROLE fo_ingest;
INSERT INTO agg_small VALUES ('x', 1, 1);
RESET ROLE;

-- Hostile objects in the caller's search_path do not change what a view does.
CREATE FUNCTION fo.least(bigint, bigint) RETURNS bigint LANGUAGE sql AS 'SELECT 0::bigint';
CREATE FUNCTION fo.count(anyelement) RETURNS bigint LANGUAGE sql AS 'SELECT 0::bigint';
CREATE FUNCTION fo.plus_bad(bigint, bigint) RETURNS bigint LANGUAGE sql AS 'SELECT 0::bigint';
CREATE OPERATOR fo.+ (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = fo.plus_bad);
SET search_path = fo, pg_catalog;
INSERT INTO ev VALUES ('p', 1, 1, true, NULL);
SELECT k, n, total FROM agg WHERE k = 'p';
SET search_path = fo, public;

-- Dropping the last view of a source removes the trigger; the tables stay.
SELECT trace_agg.drop_materialized_view('agg_mv');
SELECT tgname FROM pg_trigger WHERE tgrelid = 'ev'::regclass;
INSERT INTO ev VALUES ('q', 1, 1, true, NULL);
SELECT count(*) AS q_rows FROM agg WHERE k = 'q';

RESET search_path;
DROP SCHEMA fo CASCADE;
DROP ROLE fo_ingest;
