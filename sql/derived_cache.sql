-- The statements of derived views are prepared once per backend and kept:
-- each change below, made after they were prepared (the cache is warm),
-- must be seen by the next write of this very session.  Every check counts
-- the rows of the target that differ from the view's one-pass GROUP BY
-- (the Postgres view of the derived view, which follows renames), compared
-- by the view's column names: 0 expected.
CREATE SCHEMA dc;
SET search_path = dc, public;
CREATE FUNCTION dc.differences(target regclass, view regclass) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    cols text;
    n bigint;
BEGIN
    SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) INTO cols
    FROM pg_attribute WHERE attrelid = view AND attnum > 0;
    EXECUTE format('SELECT count(*) FROM ((SELECT %s FROM %s EXCEPT ALL SELECT %1$s FROM %s) UNION ALL '
                   '(SELECT %1$s FROM %3$s EXCEPT ALL SELECT %1$s FROM %2$s)) d', cols, target, view) INTO n;
    RETURN n;
END $$;
CREATE FUNCTION dc.weight(v integer) RETURNS bigint LANGUAGE sql IMMUTABLE AS 'SELECT v::bigint';

-- n and s are both bigint: a statement writing them by their old names
-- after they are swapped would run without error.  A materialized view
-- writes events at the end.
CREATE TABLE src (id integer PRIMARY KEY, k text NOT NULL, a integer, b integer);
CREATE INDEX ON src (k);
CREATE TABLE tgt (k text PRIMARY KEY, n bigint, s bigint, events bigint);
INSERT INTO src SELECT i, 'k' || (i % 3), i, 10 * i FROM generate_series(1, 9) i;
SELECT trace_agg.create_derived_view('v', 'tgt',
    'SELECT k, count(*) AS n, sum(dc.weight(a)) AS s FROM src GROUP BY k');
-- warm: each kind of firing prepares its statements
INSERT INTO src VALUES (10, 'k1', 10, 100);
UPDATE src SET a = a + 1 WHERE id = 10;
DELETE FROM src WHERE id = 10;
SELECT dc.differences('tgt', 'v');

-- The source's columns swap names: the view follows (it reads them by
-- number), the statements must too, or they would sum b.
ALTER TABLE src RENAME COLUMN a TO tmp;
ALTER TABLE src RENAME COLUMN b TO a;
ALTER TABLE src RENAME COLUMN tmp TO b;
UPDATE src SET b = b + 1 WHERE id = 1;
SELECT * FROM tgt ORDER BY k;
SELECT dc.differences('tgt', 'v');

-- A column of the target is renamed: the view's output is renamed with it
-- (the extension's DDL trigger does so), and the statements must write the
-- new name.  Then two columns of the target swap names, the view's outputs
-- with them: each aggregate must still go to its column.
ALTER TABLE tgt RENAME COLUMN n TO cnt;
UPDATE src SET b = b + 1 WHERE id = 2;
SELECT dc.differences('tgt', 'v');
ALTER TABLE tgt RENAME COLUMN cnt TO n;
BEGIN;
ALTER TABLE tgt RENAME COLUMN n TO tmp;
ALTER TABLE tgt RENAME COLUMN s TO n;
ALTER TABLE tgt RENAME COLUMN tmp TO s;
COMMIT;
UPDATE src SET b = b + 1 WHERE id = 2;
SELECT * FROM tgt ORDER BY k;
SELECT * FROM v ORDER BY k;
SELECT dc.differences('tgt', 'v');

-- The source is renamed and a table takes its old name: the statements
-- must still read the source, not the newcomer.
ALTER TABLE src RENAME TO src_old;
CREATE TABLE src (id integer PRIMARY KEY, k text NOT NULL, a integer, b integer);
INSERT INTO src VALUES (1, 'k0', 1000, 1000), (2, 'k1', 1000, 1000), (3, 'k2', 1000, 1000);
UPDATE src_old SET b = b + 1 WHERE id IN (3, 4);
SELECT dc.differences('tgt', 'v');

-- The target is renamed and a table takes its old name.
ALTER TABLE tgt RENAME TO tgt_old;
CREATE TABLE tgt (k text PRIMARY KEY, s bigint, n bigint, events bigint);
UPDATE src_old SET b = b + 1 WHERE id IN (5, 6);
SELECT count(*) AS newcomer_rows FROM tgt;
SELECT dc.differences('tgt_old', 'v');
DROP TABLE src, tgt;

-- The schema is renamed: the statements name it.
ALTER SCHEMA dc RENAME TO dc2;
SET search_path = dc2, public;
UPDATE src_old SET b = b + 1 WHERE id IN (7, 8);
SELECT dc2.differences('tgt_old', 'v');
ALTER SCHEMA dc2 RENAME TO dc;
SET search_path = dc, public;

-- A function of the view's query is replaced: every key is touched, so
-- the whole target must follow the new function.
CREATE OR REPLACE FUNCTION dc.weight(v integer) RETURNS bigint LANGUAGE sql IMMUTABLE AS 'SELECT v::bigint * 100';
UPDATE src_old SET b = b + 1;
SELECT * FROM tgt_old ORDER BY k;
SELECT dc.differences('tgt_old', 'v');

-- The view changes owner: it runs as the new one, who may not write the
-- target; and again, once allowed.
CREATE ROLE dc_owner;
GRANT USAGE ON SCHEMA dc TO dc_owner;
GRANT SELECT ON src_old TO dc_owner;
ALTER VIEW v OWNER TO dc_owner;
UPDATE src_old SET b = b + 1 WHERE id = 1;
GRANT SELECT, INSERT, UPDATE, DELETE ON tgt_old TO dc_owner;
UPDATE src_old SET b = b + 1 WHERE id = 1;
SELECT dc.differences('tgt_old', 'v');

-- Dropped and created again under the same name with another query.
SELECT trace_agg.drop_derived_view('v');
SELECT trace_agg.create_derived_view('v', 'tgt_old',
    'SELECT k, count(*) AS n, max(b)::bigint AS s FROM src_old GROUP BY k');
UPDATE src_old SET b = 0 WHERE id = 9;
SELECT * FROM tgt_old ORDER BY k;
SELECT dc.differences('tgt_old', 'v');

-- Recompute to delta and back, by drop and create again, each warmed.
SELECT trace_agg.drop_derived_view('v');
SELECT trace_agg.create_derived_view('v', 'tgt_old',
    'SELECT k, count(*) AS n, sum(a) AS s, count(a) AS events FROM src_old GROUP BY k', mode => 'delta');
SELECT mode FROM trace_agg.derived_view_statements('src_old'::regclass);
UPDATE src_old SET a = a + 1 WHERE id = 1;
DELETE FROM src_old WHERE id = 2;
INSERT INTO src_old VALUES (2, 'k2', 2, NULL);
SELECT * FROM tgt_old ORDER BY k;
SELECT dc.differences('tgt_old', 'v');
SELECT trace_agg.drop_derived_view('v');
SELECT trace_agg.create_derived_view('v', 'tgt_old',
    'SELECT k, count(*) AS n, sum(b)::bigint AS s FROM src_old GROUP BY k');
UPDATE src_old SET b = b + 1 WHERE id = 3;
DELETE FROM src_old WHERE id = 2;
INSERT INTO src_old VALUES (2, 'k2', 2, 20);
SELECT dc.differences('tgt_old', 'v');
UPDATE tgt_old SET events = NULL;

-- A materialized view starts writing other columns of the target: a key
-- left without source rows must then keep its row (its columns as over no
-- rows), where the view alone deleted it.
CREATE TABLE events (k text) USING trace_agg_null;
DELETE FROM src_old WHERE id = 3;
SELECT trace_agg.create_materialized_view('events_mv', 'tgt_old',
    'SELECT k, count(*) AS events FROM events GROUP BY k');
INSERT INTO events VALUES ('k0'), ('k0');
DELETE FROM src_old WHERE k = 'k0';
SELECT * FROM tgt_old ORDER BY k;
SELECT trace_agg.drop_materialized_view('events_mv');
-- and once it is gone, a key without rows goes again
DELETE FROM tgt_old WHERE k = 'k0';
DELETE FROM src_old WHERE k = 'k1';
SELECT * FROM tgt_old ORDER BY k;

SELECT trace_agg.drop_derived_view('v');

-- A chain: the target of one view is the source of another, maintained
-- while the first one's statement runs.  That statement calls a function
-- that replaces another function, so every prepared statement turns stale
-- while it runs: the second view's firing must build its own again and
-- leave the running one alone.
CREATE FUNCTION dc.replacing(v integer) RETURNS integer LANGUAGE plpgsql AS $$
BEGIN
    CREATE OR REPLACE FUNCTION dc.nothing() RETURNS void LANGUAGE sql AS '';
    RETURN v;
END $$;
CREATE TABLE per_k (k text PRIMARY KEY, total bigint NOT NULL, grp integer NOT NULL DEFAULT 1);
CREATE TABLE overall (grp integer PRIMARY KEY, keys bigint, total numeric);
SELECT trace_agg.create_derived_view('per_k_v', 'per_k',
    'SELECT k, sum(dc.replacing(b)) AS total FROM src_old GROUP BY k');
SELECT trace_agg.create_derived_view('overall_v', 'overall',
    'SELECT grp, count(*) AS keys, sum(total) AS total FROM per_k GROUP BY grp');
UPDATE src_old SET b = b + 1;
UPDATE src_old SET b = b + 1 WHERE k = 'k2';
INSERT INTO src_old VALUES (20, 'k3', 0, 5);
SELECT k, total FROM per_k ORDER BY k;
SELECT * FROM overall;
SELECT dc.differences('per_k', 'per_k_v') + dc.differences('overall', 'overall_v') AS differences;
SELECT trace_agg.drop_derived_view('overall_v');
SELECT trace_agg.drop_derived_view('per_k_v');
DROP SCHEMA dc CASCADE;
REVOKE ALL ON SCHEMA public FROM dc_owner;
DROP ROLE dc_owner;
