-- trace_agg_null, the table access method that stores nothing (ClickHouse's
-- Null engine): inserted rows reach statement-level AFTER INSERT triggers
-- through their transition table and are then forgotten.
CREATE SCHEMA null_am_test;
SET search_path = null_am_test;

CREATE TABLE traces_null (project_id text, id int, name text)
USING trace_agg_null;

-- The table has a real storage file, and a TOAST table like heap would
-- have, both of which stay empty.
SELECT a.amname, c.relkind, c.relpages, c.reltoastrelid <> 0 AS has_toast
FROM pg_class c JOIN pg_am a ON a.oid = c.relam
WHERE c.oid = 'traces_null'::regclass;
SELECT (pg_stat_file(pg_relation_filepath('traces_null'))).size AS file_size;

--
-- Nothing reads the rows yet: inserting is an error, unless discarding is
-- allowed explicitly.
--
SHOW trace_agg.allow_discard;
INSERT INTO traces_null VALUES ('p1', 1, 'a');
COPY traces_null FROM STDIN;
p1	1	a
\.
-- an insert of no rows discards nothing
INSERT INTO traces_null SELECT 'p1', 1, 'a' WHERE false;

SET trace_agg.allow_discard = on;
INSERT INTO traces_null VALUES ('p1', 1, 'a'), ('p1', 2, 'b');
-- RETURNING sees the rows as inserted; they have no location (invalid ctid).
INSERT INTO traces_null VALUES ('p1', 3, 'c')
RETURNING *, tableoid::regclass, ctid;
SELECT * FROM traces_null;
RESET trace_agg.allow_discard;

--
-- A consumer: a statement-level AFTER INSERT trigger with a transition table.
-- It records what each statement's transition table held.
--
CREATE TABLE seen (stmt serial, n bigint, ids text, names text);
CREATE FUNCTION record_new_rows() RETURNS trigger
LANGUAGE plpgsql SET search_path = null_am_test, pg_temp AS $$
BEGIN
	INSERT INTO seen (n, ids, names)
	SELECT count(*),
		   CASE WHEN count(*) <= 5 THEN string_agg(id::text, ',' ORDER BY id) END,
		   CASE WHEN count(*) <= 5
				THEN string_agg(coalesce(name, '<null>'), ',' ORDER BY id) END
	FROM new_rows;
	RETURN NULL;
END
$$;
CREATE TRIGGER traces_consumer AFTER INSERT ON traces_null
REFERENCING NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION record_new_rows();

-- stmt 1: one row
INSERT INTO traces_null VALUES ('p1', 1, 'one');
-- stmt 2: several rows
INSERT INTO traces_null VALUES ('p1', 2, 'two'), ('p1', 3, NULL), ('p2', 4, 'four');
-- stmt 3: INSERT ... SELECT
INSERT INTO traces_null SELECT 'p3', g, 'gen' FROM generate_series(1, 1000) g;
-- stmt 4: COPY, text format
COPY traces_null FROM STDIN;
p1	10	back\\slash
p1	11	\N
\.
-- stmt 5: COPY, CSV format
COPY traces_null (id, name, project_id) FROM STDIN WITH (FORMAT csv, HEADER true);
id,name,project_id
20,"comma, quoted",p1
21,,p1
\.
-- stmt 6: COPY, binary format, through a server-side file
SELECT current_setting('data_directory') || '/null_am_test.copy' AS copy_file \gset
COPY (SELECT 'p1', g, 'bin' || g FROM generate_series(30, 33) g)
TO :'copy_file' WITH (FORMAT binary);
COPY traces_null FROM :'copy_file' WITH (FORMAT binary);
\setenv NULL_AM_TEST_COPY_FILE :copy_file
\! rm -f "$NULL_AM_TEST_COPY_FILE"
-- stmt 7: RETURNING
INSERT INTO traces_null VALUES ('p1', 40, 'ret') RETURNING id, name, tableoid::regclass;
-- stmt 8: ON CONFLICT DO NOTHING without a target is a plain insert
INSERT INTO traces_null VALUES ('p1', 50, 'conflict') ON CONFLICT DO NOTHING;
-- a conflict target needs a unique index, which this table cannot have
INSERT INTO traces_null VALUES ('p1', 51, 'conflict') ON CONFLICT (id) DO NOTHING;
-- stmt 9: MERGE finds no rows to match, so it inserts every source row
MERGE INTO traces_null t
USING (VALUES (60, 'merge'), (61, 'merge')) s(id, name) ON t.id = s.id
WHEN MATCHED THEN UPDATE SET name = 'updated'
WHEN NOT MATCHED THEN INSERT VALUES ('p1', s.id, s.name);
-- stmt 10: through a view
CREATE VIEW traces_view AS SELECT id, name FROM traces_null;
INSERT INTO traces_view VALUES (70, 'view');

DROP VIEW traces_view;
SELECT * FROM seen ORDER BY stmt;
TRUNCATE seen;
-- and nothing was stored: the file and the TOAST table are empty (the total
-- counts the metapage of the TOAST table's index)
SELECT count(*) FROM traces_null;
SELECT pg_relation_size(oid) AS main, pg_relation_size(reltoastrelid) AS toast,
	   pg_total_relation_size(oid) AS total
FROM pg_class WHERE oid = 'traces_null'::regclass;

-- BEFORE ROW triggers work as usual: they change or skip rows before the
-- transition table captures them.
CREATE FUNCTION shout() RETURNS trigger
LANGUAGE plpgsql SET search_path = null_am_test, pg_temp AS $$
BEGIN
	IF NEW.name = 'skip' THEN
		RETURN NULL;
	END IF;
	NEW.name := upper(NEW.name);
	RETURN NEW;
END
$$;
CREATE TRIGGER traces_shout BEFORE INSERT ON traces_null
FOR EACH ROW EXECUTE FUNCTION shout();
INSERT INTO traces_null VALUES ('p1', 1, 'quiet'), ('p1', 2, 'skip'), ('p1', 3, 'low');
COPY traces_null FROM STDIN;
p1	4	copied
p1	5	skip
\.
SELECT n, ids, names FROM seen ORDER BY stmt;
TRUNCATE seen;
DROP TRIGGER traces_shout ON traces_null;

--
-- AFTER ROW triggers would read the row back after the insert, which is
-- impossible here: refused, unless the trigger does not fire.
--
CREATE FUNCTION after_row() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	RAISE NOTICE 'after row %', NEW;
	RETURN NULL;
END
$$;
CREATE TRIGGER traces_after_row AFTER INSERT ON traces_null
FOR EACH ROW EXECUTE FUNCTION after_row();
INSERT INTO traces_null VALUES ('p1', 1, 'a');
COPY traces_null FROM STDIN;
p1	1	a
\.
-- discarding on purpose does not change that
SET trace_agg.allow_discard = on;
INSERT INTO traces_null VALUES ('p1', 1, 'a');
RESET trace_agg.allow_discard;
ALTER TABLE traces_null DISABLE TRIGGER traces_after_row;
INSERT INTO traces_null VALUES ('p1', 1, 'after row disabled');
DROP TRIGGER traces_after_row ON traces_null;
-- a foreign key is checked by such a trigger too
CREATE TABLE projects (project_id text PRIMARY KEY);
ALTER TABLE traces_null ADD CONSTRAINT traces_project_fk
	FOREIGN KEY (project_id) REFERENCES projects;
INSERT INTO traces_null VALUES ('p1', 1, 'a');
ALTER TABLE traces_null DROP CONSTRAINT traces_project_fk;
SELECT n, ids, names FROM seen ORDER BY stmt;
TRUNCATE seen;

--
-- The consumer must fire under the current session_replication_role.
--
-- ENABLE (origin only): not in replica mode
SET session_replication_role = replica;
INSERT INTO traces_null VALUES ('p1', 1, 'origin trigger, replica role');
RESET session_replication_role;
-- ENABLE ALWAYS: in every mode
ALTER TABLE traces_null ENABLE ALWAYS TRIGGER traces_consumer;
SET session_replication_role = replica;
INSERT INTO traces_null VALUES ('p1', 2, 'always, replica role');
RESET session_replication_role;
INSERT INTO traces_null VALUES ('p1', 3, 'always, origin role');
-- ENABLE REPLICA: in replica mode only
ALTER TABLE traces_null ENABLE REPLICA TRIGGER traces_consumer;
INSERT INTO traces_null VALUES ('p1', 4, 'replica trigger, origin role');
SET session_replication_role = replica;
INSERT INTO traces_null VALUES ('p1', 5, 'replica trigger, replica role');
SET session_replication_role = local;
INSERT INTO traces_null VALUES ('p1', 6, 'replica trigger, local role');
RESET session_replication_role;
-- DISABLE: never
ALTER TABLE traces_null DISABLE TRIGGER traces_consumer;
INSERT INTO traces_null VALUES ('p1', 7, 'disabled');
ALTER TABLE traces_null ENABLE TRIGGER traces_consumer;
SELECT n, ids, names FROM seen ORDER BY stmt;
TRUNCATE seen;

-- The check runs once per statement; a change between statements of one
-- transaction, or of one function, is still seen.
BEGIN;
INSERT INTO traces_null VALUES ('p1', 1, 'in transaction');
ALTER TABLE traces_null DISABLE TRIGGER traces_consumer;
INSERT INTO traces_null VALUES ('p1', 2, 'in transaction');
ROLLBACK;
DO $$
BEGIN
	INSERT INTO null_am_test.traces_null VALUES ('p1', 3, 'in function');
	PERFORM set_config('session_replication_role', 'replica', true);
	BEGIN
		INSERT INTO null_am_test.traces_null VALUES ('p1', 4, 'in function');
	EXCEPTION WHEN object_not_in_prerequisite_state THEN
		RAISE NOTICE 'second insert refused: %', SQLERRM;
	END;
END
$$;
SELECT n, ids, names FROM seen ORDER BY stmt;
TRUNCATE seen;

--
-- Reading: every scan is empty and nothing can be changed.
--
SELECT * FROM traces_null;
SELECT * FROM traces_null WHERE id = 1;
SELECT count(*), max(id) FROM traces_null;
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT * FROM traces_null WHERE ctid = '(0,1)';
SELECT * FROM traces_null WHERE ctid = '(0,1)';
SELECT * FROM traces_null WHERE ctid = ANY (ARRAY['(0,1)', '(4294967295,0)']::tid[]);
EXPLAIN (COSTS OFF) SELECT * FROM traces_null WHERE ctid > '(0,1)';
SELECT * FROM traces_null WHERE ctid > '(0,1)';
RESET enable_seqscan;
SELECT * FROM traces_null TABLESAMPLE SYSTEM (50);
SELECT * FROM traces_null TABLESAMPLE BERNOULLI (100) REPEATABLE (1);
SELECT * FROM traces_null FOR UPDATE;
UPDATE traces_null SET name = 'x';
UPDATE traces_null SET name = 'x' WHERE id = 1 RETURNING *;
DELETE FROM traces_null;
DELETE FROM traces_null WHERE id = 1 RETURNING *;
BEGIN;
DECLARE traces_cursor CURSOR FOR SELECT * FROM traces_null FOR UPDATE;
FETCH traces_cursor;
DELETE FROM traces_null WHERE CURRENT OF traces_cursor;
ROLLBACK;

-- Parallel scans, in a plan where workers scan this table next to a heap.
CREATE TABLE heap_rows AS SELECT g AS id FROM generate_series(1, 10000) g;
ANALYZE heap_rows;
ALTER TABLE traces_null SET (parallel_workers = 2);
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
EXPLAIN (COSTS OFF)
SELECT count(*) FROM (SELECT id FROM heap_rows UNION ALL SELECT id FROM traces_null) s;
SELECT count(*) FROM (SELECT id FROM heap_rows UNION ALL SELECT id FROM traces_null) s;
EXPLAIN (COSTS OFF)
SELECT count(*) FROM heap_rows JOIN traces_null USING (id);
SELECT count(*) FROM heap_rows JOIN traces_null USING (id);
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
ALTER TABLE traces_null RESET (parallel_workers);

-- The planner is told the table is empty, not the ten pages it would assume
-- for an empty heap file.
EXPLAIN SELECT * FROM traces_null;

--
-- Maintenance.
--
ANALYZE traces_null;
VACUUM traces_null;
VACUUM (ANALYZE, FREEZE) traces_null;
SELECT relpages, reltuples, relallvisible, relfrozenxid, relminmxid
FROM pg_class WHERE oid = 'traces_null'::regclass;
TRUNCATE traces_null;
-- a table created in the same transaction is truncated in place
BEGIN;
CREATE TABLE fresh_null (a int) USING trace_agg_null;
TRUNCATE fresh_null;
SELECT pg_relation_size('fresh_null');
COMMIT;
-- CLUSTER needs an index, which cannot exist
CLUSTER traces_null;
-- adding a column, without and with a rewrite of the table
SELECT relfilenode AS old_filenode FROM pg_class
WHERE oid = 'traces_null'::regclass \gset
ALTER TABLE traces_null ADD COLUMN level text DEFAULT 'info';
SELECT relfilenode = :old_filenode AS same_file FROM pg_class
WHERE oid = 'traces_null'::regclass;
ALTER TABLE traces_null ADD COLUMN sample float8 DEFAULT random();
SELECT relfilenode = :old_filenode AS same_file, relfrozenxid <> '0' AS has_horizon
FROM pg_class WHERE oid = 'traces_null'::regclass;
-- VACUUM moves the horizon the rewrite set up; VACUUM FULL drops it again
SELECT relfrozenxid AS old_frozenxid FROM pg_class
WHERE oid = 'traces_null'::regclass \gset
SELECT pg_current_xact_id() IS NOT NULL AS used_an_xid;
VACUUM traces_null;
SELECT age(relfrozenxid) < age(:'old_frozenxid'::xid) AS advanced FROM pg_class
WHERE oid = 'traces_null'::regclass;
VACUUM FULL traces_null;
SELECT relfrozenxid, relminmxid, (pg_stat_file(pg_relation_filepath(oid))).size AS file_size
FROM pg_class WHERE oid = 'traces_null'::regclass;
ALTER TABLE traces_null ALTER COLUMN id TYPE bigint;
-- the consumer still works after the rewrites
INSERT INTO traces_null (project_id, id, name) VALUES ('p1', 1, 'after alter');
SELECT n, ids, names FROM seen ORDER BY stmt;
TRUNCATE seen;
ALTER TABLE traces_null DROP COLUMN level, DROP COLUMN sample;
ALTER TABLE traces_null ALTER COLUMN id TYPE int;

--
-- Indexes, and the constraints that need one, are refused; the whole
-- statement is rolled back.
--
CREATE INDEX traces_id ON traces_null (id);
CREATE INDEX traces_brin ON traces_null USING brin (id);
ALTER TABLE traces_null ADD PRIMARY KEY (id);
ALTER TABLE traces_null ADD CONSTRAINT traces_unique UNIQUE (project_id, id);
ALTER TABLE traces_null ADD CONSTRAINT traces_exclude EXCLUDE USING btree (id WITH =);
CREATE TABLE keyed_null (id int PRIMARY KEY) USING trace_agg_null;
SELECT to_regclass('keyed_null') AS keyed_null;
SELECT count(*) AS indexes FROM pg_index WHERE indrelid = 'traces_null'::regclass;
SELECT attname, attnotnull FROM pg_attribute
WHERE attrelid = 'traces_null'::regclass AND attnum > 0 AND NOT attisdropped
ORDER BY attnum;
-- CREATE INDEX CONCURRENTLY commits the catalog entry before it builds, so
-- like any failed concurrent build it leaves an invalid index behind.
CREATE INDEX CONCURRENTLY traces_concurrent ON traces_null (id);
SELECT indexrelid::regclass, indisvalid FROM pg_index
WHERE indrelid = 'traces_null'::regclass;
DROP INDEX traces_concurrent;

--
-- Changing the access method.
--
CREATE TABLE traces_heap (project_id text, id int, name text);
INSERT INTO traces_heap VALUES ('p1', 1, 'kept');
-- a table with rows cannot become a null table: its rows would be lost
ALTER TABLE traces_heap SET ACCESS METHOD trace_agg_null;
SET trace_agg.allow_discard = on;
ALTER TABLE traces_heap SET ACCESS METHOD trace_agg_null;
RESET trace_agg.allow_discard;
SELECT * FROM traces_heap;
-- an empty one can, and back
DELETE FROM traces_heap;
ALTER TABLE traces_heap SET ACCESS METHOD trace_agg_null;
SELECT a.amname FROM pg_class c JOIN pg_am a ON a.oid = c.relam
WHERE c.oid = 'traces_heap'::regclass;
ALTER TABLE traces_heap SET ACCESS METHOD heap;
-- the heap table kept its TOAST table, so long values can be stored
SELECT a.amname, c.reltoastrelid <> 0 AS has_toast FROM pg_class c JOIN pg_am a ON a.oid = c.relam
WHERE c.oid = 'traces_heap'::regclass;
INSERT INTO traces_heap VALUES ('p1', 2, 'stored');
INSERT INTO traces_heap
SELECT 'p1', 3, string_agg(md5(g::text), '') FROM generate_series(1, 2000) g;
SELECT id, length(name) FROM traces_heap ORDER BY id;

--
-- Storage: persistence and tablespaces.
--
ALTER TABLE traces_null SET TABLESPACE pg_default;
CREATE UNLOGGED TABLE unlogged_null (a int) USING trace_agg_null;
-- an unlogged table has an (empty) init fork to be reset from after a crash
SELECT (pg_stat_file(pg_relation_filepath('unlogged_null'))).size AS main,
	   (pg_stat_file(pg_relation_filepath('unlogged_null') || '_init')).size AS init;
ALTER TABLE unlogged_null SET LOGGED;
SELECT relpersistence, (pg_stat_file(pg_relation_filepath(oid))).size AS main,
	   (pg_stat_file(pg_relation_filepath(oid) || '_init', true)).size AS init
FROM pg_class WHERE oid = 'unlogged_null'::regclass;
ALTER TABLE unlogged_null SET UNLOGGED;
SET allow_in_place_tablespaces = on;
CREATE TABLESPACE null_am_test_space LOCATION '';
RESET allow_in_place_tablespaces;
ALTER TABLE traces_null SET TABLESPACE null_am_test_space;
ALTER TABLE unlogged_null SET TABLESPACE null_am_test_space;
SELECT relname, pg_relation_filepath(oid) LIKE 'pg_tblspc/%' AS moved,
	   (pg_stat_file(pg_relation_filepath(oid))).size AS main,
	   (pg_stat_file(pg_relation_filepath(oid) || '_init', true)).size AS init
FROM pg_class WHERE oid IN ('traces_null'::regclass, 'unlogged_null'::regclass)
ORDER BY relname;
INSERT INTO traces_null VALUES ('p1', 1, 'in tablespace');
ALTER TABLE traces_null SET TABLESPACE pg_default;
ALTER TABLE unlogged_null SET TABLESPACE pg_default;
DROP TABLESPACE null_am_test_space;
SELECT n, ids, names FROM seen ORDER BY stmt;
TRUNCATE seen;

--
-- Partitions: rows routed through a partitioned table fire that table's
-- statement triggers, not the partition's, so both need a consumer.
--
CREATE TABLE traces_by_id (id int, name text) PARTITION BY RANGE (id);
CREATE TABLE traces_low PARTITION OF traces_by_id FOR VALUES FROM (0) TO (100)
USING trace_agg_null;
CREATE TABLE traces_high PARTITION OF traces_by_id FOR VALUES FROM (100) TO (200);
CREATE TRIGGER low_consumer AFTER INSERT ON traces_low
REFERENCING NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION record_new_rows();
INSERT INTO traces_low VALUES (1, 'direct');
INSERT INTO traces_by_id VALUES (2, 'routed'), (102, 'routed');
CREATE TRIGGER parent_consumer AFTER INSERT ON traces_by_id
REFERENCING NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION record_new_rows();
INSERT INTO traces_low VALUES (1, 'direct');
INSERT INTO traces_by_id VALUES (3, 'routed'), (103, 'routed');
COPY traces_by_id FROM STDIN;
4	copied
104	copied
\.
SELECT n, ids, names FROM seen ORDER BY stmt;
SELECT tableoid::regclass, * FROM traces_by_id ORDER BY id;
TRUNCATE seen;

--
-- Tables filled at creation.
--
CREATE TABLE created_null USING trace_agg_null AS SELECT 1 AS a;
SET trace_agg.allow_discard = on;
CREATE TABLE created_null USING trace_agg_null AS SELECT 1 AS a;
CREATE MATERIALIZED VIEW null_view USING trace_agg_null AS SELECT 1 AS a;
RESET trace_agg.allow_discard;
REFRESH MATERIALIZED VIEW null_view;
SELECT * FROM created_null;
SELECT * FROM null_view;

SET client_min_messages = warning;
DROP SCHEMA null_am_test CASCADE;
RESET client_min_messages;
