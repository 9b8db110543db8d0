-- Derived views (issue 14): views over stored tables whose rows change.
-- After every statement writing the source, the keys it touched are
-- recomputed from the stored source, so every aggregate is exact and a
-- child's update replaces its old version (usage 0 -> 10 -> 12 gives 12).
-- Each check compares the targets with a one-pass GROUP BY over the source
-- written out here (0 differences expected).
CREATE SCHEMA dv;
SET search_path = dv, public;

CREATE TABLE observations (
    project_id text NOT NULL, trace_id text NOT NULL, id text PRIMARY KEY,
    session_id text, usage bigint, cost numeric, start_time timestamptz,
    end_time timestamptz, level text, name text);
CREATE INDEX observations_trace ON observations (project_id, trace_id);
CREATE TABLE traces (
    project_id text, trace_id text, session_id text, usage bigint, cost numeric,
    start_time timestamptz, end_time timestamptz, has_error boolean, observations bigint,
    names bigint, avg_usage numeric, p90_usage double precision, cost_per_obs numeric,
    PRIMARY KEY (project_id, trace_id));
CREATE TABLE sessions (
    project_id text, session_id text, traces bigint, usage bigint, cost numeric,
    errors bigint, PRIMARY KEY (project_id, session_id));

SELECT trace_agg.create_derived_view('traces_dv', 'traces', $$
    SELECT project_id, trace_id, max(session_id) AS session_id, sum(usage) AS usage,
           sum(cost) AS cost, min(start_time) AS start_time, max(end_time) AS end_time,
           bool_or(level = 'ERROR') AS has_error, count(*) AS observations,
           count(DISTINCT name) AS names, avg(usage) AS avg_usage,
           percentile_cont(0.9) WITHIN GROUP (ORDER BY usage) AS p90_usage,
           round(sum(cost) / count(*), 6) AS cost_per_obs
    FROM observations GROUP BY project_id, trace_id$$);
-- A derived view of a derived target: traces -> sessions.
SELECT trace_agg.create_derived_view('sessions_dv', 'sessions', $$
    SELECT project_id, session_id, count(*) AS traces, sum(usage) AS usage,
           sum(cost) AS cost, count(*) FILTER (WHERE has_error) AS errors
    FROM traces WHERE session_id IS NOT NULL GROUP BY project_id, session_id$$);
SELECT view::text, schema, view_name, source, target, owner FROM trace_agg.derived_views ORDER BY 1;
SELECT tgname FROM pg_trigger WHERE tgrelid = 'observations'::regclass ORDER BY 1;

-- The recomputation, written out: what every target row must equal.
CREATE VIEW traces_expected AS
    SELECT o.project_id, o.trace_id, max(o.session_id) AS session_id, sum(o.usage) AS usage,
           sum(o.cost) AS cost, min(o.start_time) AS start_time, max(o.end_time) AS end_time,
           bool_or(o.level = 'ERROR') AS has_error, count(*) AS observations,
           count(DISTINCT o.name) AS names, avg(o.usage) AS avg_usage,
           percentile_cont(0.9) WITHIN GROUP (ORDER BY o.usage) AS p90_usage,
           round(sum(o.cost) / count(*), 6) AS cost_per_obs
    FROM observations o GROUP BY 1, 2;
CREATE VIEW sessions_expected AS
    SELECT t.project_id, t.session_id, count(*) AS traces, sum(t.usage) AS usage,
           sum(t.cost) AS cost, count(*) FILTER (WHERE t.has_error) AS errors
    FROM traces_expected t WHERE t.session_id IS NOT NULL GROUP BY 1, 2;
CREATE FUNCTION differences() RETURNS TABLE (traces bigint, sessions bigint)
LANGUAGE sql AS $$
    SELECT (SELECT count(*) FROM ((TABLE traces EXCEPT ALL TABLE traces_expected)
                                  UNION ALL (TABLE traces_expected EXCEPT ALL TABLE traces)) d),
           (SELECT count(*) FROM ((TABLE sessions EXCEPT ALL TABLE sessions_expected)
                                  UNION ALL (TABLE sessions_expected EXCEPT ALL TABLE sessions)) d)
$$;

-- Created, then updated: usage 0 -> 10 -> 12 counts 12, not 22.
INSERT INTO observations VALUES
    ('p1', 't1', 'o1', 's1', 0, 0.5, '2026-01-01 10:00', '2026-01-01 10:01', 'DEFAULT', 'llm');
UPDATE observations SET usage = 10 WHERE id = 'o1';
UPDATE observations SET usage = 12, cost = 1.25 WHERE id = 'o1';
SELECT trace_id, session_id, usage, cost, observations, avg_usage FROM traces;
SELECT * FROM sessions;
SELECT * FROM differences();

-- More children, one an error; a child moving to another trace and session.
INSERT INTO observations VALUES
    ('p1', 't1', 'o2', 's1', 30, 0.25, '2026-01-01 09:59', '2026-01-01 10:05', 'ERROR', 'tool'),
    ('p1', 't2', 'o3', 's1', 5, 0.1, '2026-01-01 11:00', '2026-01-01 11:00:30', 'DEFAULT', 'llm'),
    ('p1', 't3', 'o4', 's2', 7, 0.2, '2026-01-01 12:00', NULL, 'DEFAULT', 'llm'),
    ('p2', 't1', 'o5', NULL, 1, 0, '2026-01-01 12:00', NULL, 'DEFAULT', 'llm');
SELECT trace_id, usage, start_time, end_time, has_error, observations, names, p90_usage FROM traces
WHERE project_id = 'p1' ORDER BY 1;
UPDATE observations SET trace_id = 't3', session_id = 's2' WHERE id = 'o3';
SELECT project_id, trace_id, usage, observations FROM traces ORDER BY 1, 2;
SELECT * FROM sessions ORDER BY 1, 2;
SELECT * FROM differences();

-- Upserts of versions: the INSERT and UPDATE parts of one statement.
INSERT INTO observations VALUES
    ('p1', 't1', 'o2', 's1', 31, 0.25, '2026-01-01 09:59', '2026-01-01 10:05', 'DEFAULT', 'tool'),
    ('p1', 't4', 'o6', 's2', 2, 0.5, '2026-01-01 13:00', NULL, 'ERROR', 'llm')
ON CONFLICT (id) DO UPDATE SET usage = excluded.usage, level = excluded.level;
SELECT trace_id, usage, has_error FROM traces WHERE project_id = 'p1' ORDER BY 1;
SELECT * FROM sessions ORDER BY 1, 2;
SELECT * FROM differences();

-- Deletes: a trace whose last child goes is deleted, and so is a session
-- whose last trace goes.
DELETE FROM observations WHERE id IN ('o4', 'o3');
DELETE FROM observations WHERE id = 'o5';
SELECT project_id, trace_id, usage FROM traces ORDER BY 1, 2;
SELECT * FROM sessions ORDER BY 1, 2;
SELECT * FROM differences();

-- A statement that touches nothing changes nothing.
UPDATE observations SET usage = 0 WHERE false;
DELETE FROM observations WHERE id = 'none';
SELECT count(*) FROM traces;

-- A rolled-back statement leaves the targets as they were.
BEGIN;
UPDATE observations SET usage = usage * 100;
SELECT sum(usage) FROM sessions;
ROLLBACK;
SELECT sum(usage) FROM sessions;

-- Many children in one statement, and a bulk update of half of them.
INSERT INTO observations
SELECT 'p3', 't' || (i % 500), 'bulk' || i, 's' || (i % 7), i % 13, (i % 5) * 0.01,
       '2026-01-02'::timestamptz + i * interval '1 second', NULL,
       CASE WHEN i % 97 = 0 THEN 'ERROR' ELSE 'DEFAULT' END, 'n' || (i % 3)
FROM generate_series(1, 4000) i;
UPDATE observations SET usage = usage + 1, name = 'renamed' WHERE id LIKE 'bulk%' AND usage % 2 = 0;
DELETE FROM observations WHERE id LIKE 'bulk1%';
SELECT count(*) AS traces, sum(observations) AS observations FROM traces WHERE project_id = 'p3';
SELECT * FROM differences();

-- The locks: the whole target shared, then one per key; past
-- trace_agg.derived_max_key_locks keys, the whole target exclusively.
-- Their tags' last field (objsubid) is 29796 (target) or 29803 (key),
-- never 1 or 2, which SQL's advisory lock functions use: no role can take
-- them to stall a target's writers.
BEGIN;
UPDATE observations SET usage = usage + 1 WHERE project_id = 'p3' AND trace_id IN ('t1', 't2');
SELECT objsubid, mode, count(*) FROM pg_locks
WHERE locktype = 'advisory' AND pid = pg_backend_pid()
  AND ('traces'::regclass::oid IN (classid, objid))
GROUP BY 1, 2 ORDER BY 1, 2;
ROLLBACK;
BEGIN;
SET LOCAL trace_agg.derived_max_key_locks = 10;
UPDATE observations SET usage = usage + 1 WHERE project_id = 'p3';
SELECT objsubid, mode, count(*) FROM pg_locks
WHERE locktype = 'advisory' AND pid = pg_backend_pid()
  AND ('traces'::regclass::oid IN (classid, objid))
GROUP BY 1, 2 ORDER BY 1, 2;
SELECT * FROM differences();
ROLLBACK;

-- TRUNCATE empties the targets, down the chain.
BEGIN;
TRUNCATE observations;
SELECT (SELECT count(*) FROM traces) AS traces, (SELECT count(*) FROM sessions) AS sessions;
ROLLBACK;
SELECT * FROM differences();

-- Writes that fire no trigger (session_replication_role = replica, as
-- logical replication applies changes) leave the targets behind until
-- refresh_derived_view() recomputes every key; its writes bring the views
-- downstream up to date too.
SET session_replication_role = replica;
UPDATE observations SET usage = usage + 1000 WHERE id = 'o1';
RESET session_replication_role;
SELECT * FROM differences();
SELECT trace_agg.refresh_derived_view('traces_dv');
SELECT * FROM differences();
SELECT trace_agg.refresh_derived_view('sessions_dv');
SELECT * FROM differences();
SELECT trace_agg.refresh_derived_view('traces_expected');
SELECT trace_agg.refresh_derived_view('no_such_view');

-- COPY (its triggers fire outside the executor), a statement whose
-- writable CTE deletes and inserts (two firings, maintained together), and
-- a function whose inner block fails after writing (what it wrote, and its
-- maintenance, roll back with the block).
COPY observations (project_id, trace_id, id, session_id, usage, cost, name) FROM stdin;
p9	t1	c1	s9	5	0.5	llm
p9	t1	c2	s9	6	0.5	llm
p9	t2	c3	s9	1	0.5	tool
\.
SELECT trace_id, usage, observations, names FROM traces WHERE project_id = 'p9' ORDER BY 1;
WITH moved AS (DELETE FROM observations WHERE id = 'c1' RETURNING *)
INSERT INTO observations (project_id, trace_id, id, session_id, usage, cost, name)
SELECT project_id, 't2', 'c4', session_id, usage * 10, cost, name FROM moved;
SELECT trace_id, usage, observations, names FROM traces WHERE project_id = 'p9' ORDER BY 1;
CREATE FUNCTION write_then_fail() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    BEGIN
        UPDATE observations SET usage = 1000 WHERE id = 'c2';
        RAISE EXCEPTION 'fails after writing';
    EXCEPTION WHEN raise_exception THEN NULL;
    END;
    UPDATE observations SET usage = 7 WHERE id = 'c3';
END
$$;
SELECT write_then_fail();
SELECT trace_id, usage, observations, names FROM traces WHERE project_id = 'p9' ORDER BY 1;
SELECT * FROM sessions WHERE project_id = 'p9';
SELECT * FROM differences();
DELETE FROM observations WHERE project_id = 'p9';
SELECT count(*) FROM traces WHERE project_id = 'p9';

-- The statements that run, to read and EXPLAIN: the keys a statement
-- touched are passed as one array per key column.  With an index on the
-- source's key columns, the recomputation reads only the affected keys'
-- children (an index scan, no sequential scan of the source), and the
-- target by its key.
SELECT view, owner, key_types, lock_statement, statement
FROM trace_agg.derived_view_statements('traces');
ANALYZE observations, traces;
SELECT format('PREPARE recompute(%s) AS %s', array_to_string(key_types, ', '), statement)
FROM trace_agg.derived_view_statements('observations') \gexec
CREATE FUNCTION plan_of(sql text) RETURNS SETOF text LANGUAGE plpgsql AS $$
BEGIN
    RETURN QUERY EXECUTE 'EXPLAIN (COSTS OFF) ' || sql;
END
$$;
SELECT bool_or(p ~ 'Index Scan using observations_trace on observations') AS reads_source_by_index,
       bool_or(p ~ 'Seq Scan on observations') AS scans_source,
       bool_or(p ~ 'Index Scan using traces_pkey on traces') AS reads_target_by_key,
       bool_or(p ~ 'Seq Scan on traces') AS scans_target
FROM plan_of($$EXECUTE recompute('{p1,p3}', '{t1,t7}')$$) p;
DEALLOCATE recompute;

-- A chain fed by a materialized view, in ONE statement: an insert into a
-- trace_agg_null table is merged into a table of observation versions,
-- whose upserts recompute the derived per-trace totals.
CREATE TABLE obs_events (project_id text, trace_id text, id text, usage bigint, ts timestamptz)
    USING trace_agg_null;
CREATE TABLE obs_latest (project_id text, trace_id text, id text, usage trace_agg.argmax_any,
                         PRIMARY KEY (project_id, trace_id, id));
SELECT trace_agg.create_materialized_view('obs_latest_mv', 'obs_latest', $$
    SELECT project_id, trace_id, id, trace_agg.argmax_last_state(usage, ts) AS usage
    FROM obs_events GROUP BY project_id, trace_id, id$$);
CREATE TABLE trace_usage (project_id text, trace_id text, usage numeric, observations bigint,
                          PRIMARY KEY (project_id, trace_id));
SELECT trace_agg.create_derived_view('trace_usage_dv', 'trace_usage', $$
    SELECT project_id, trace_id, sum(trace_agg.finalize(usage, NULL::bigint)) AS usage,
           count(*) AS observations
    FROM obs_latest GROUP BY project_id, trace_id$$);
INSERT INTO obs_events VALUES
    ('p1', 't1', 'o1', 0, '2026-01-01 10:00'), ('p1', 't1', 'o1', 10, '2026-01-01 10:01'),
    ('p1', 't1', 'o2', 5, '2026-01-01 10:00');
SELECT * FROM trace_usage;
-- A later version and a late, older one arriving together.
INSERT INTO obs_events VALUES
    ('p1', 't1', 'o1', 12, '2026-01-01 10:02'), ('p1', 't1', 'o2', 99, '2026-01-01 09:00'),
    ('p1', 't2', 'o3', 1, '2026-01-01 10:00');
SELECT * FROM trace_usage ORDER BY 2;
-- Deleting keys of the materialized view's targets reaches the derived view.
SELECT trace_agg.delete_keys('obs_events', ARRAY['p1', 't2']);
SELECT * FROM trace_usage ORDER BY 2;

-- Refused, with clear errors.
-- A cycle: sessions feeds nothing that reads observations... until now.
CREATE TABLE session_obs (project_id text, trace_id text, n bigint, PRIMARY KEY (project_id, trace_id));
SELECT trace_agg.create_derived_view('loop_dv', 'observations', $$
    SELECT project_id, session_id AS trace_id, 'x' || session_id AS id FROM sessions GROUP BY project_id, session_id$$);
SELECT trace_agg.create_derived_view('self_dv', 'session_obs', $$
    SELECT project_id, trace_id, count(*) AS n FROM session_obs GROUP BY project_id, trace_id$$);
-- A second writer of a derived target, of either kind.
SELECT trace_agg.create_derived_view('traces_again', 'traces', $$
    SELECT project_id, trace_id, count(*) AS observations FROM observations GROUP BY project_id, trace_id$$);
CREATE TABLE raw_events (project_id text, trace_id text) USING trace_agg_null;
SELECT trace_agg.create_materialized_view('traces_mv', 'traces', $$
    SELECT project_id, trace_id, count(*) AS observations FROM raw_events GROUP BY project_id, trace_id$$);
-- A materialized view reading a derived target would miss its updates.
CREATE TABLE session_counts (project_id text PRIMARY KEY, n bigint);
SELECT trace_agg.create_materialized_view('session_counts_mv', 'session_counts', $$
    SELECT project_id, count(*) AS n FROM sessions GROUP BY project_id$$);
-- A derived view writing a materialized view's source or target.
SELECT trace_agg.create_derived_view('latest_dv', 'obs_latest', $$
    SELECT project_id, trace_id, id, trace_agg.argmax_last_state(usage, start_time) AS usage
    FROM observations GROUP BY project_id, trace_id, id$$);
CREATE TABLE obs_counts (project_id text PRIMARY KEY, n bigint);
SELECT trace_agg.create_materialized_view('obs_counts_mv', 'obs_counts', $$
    SELECT project_id, count(*) AS n FROM raw_events GROUP BY project_id$$);
SELECT trace_agg.create_derived_view('to_raw_dv', 'raw_events', $$
    SELECT project_id, trace_id FROM observations GROUP BY project_id, trace_id$$);
-- Sources that store nothing, or are not plain tables.
SELECT trace_agg.create_derived_view('null_dv', 'session_obs', $$
    SELECT project_id, trace_id, count(*) AS n FROM raw_events GROUP BY project_id, trace_id$$);
CREATE TABLE parted (project_id text, trace_id text) PARTITION BY LIST (project_id);
CREATE TABLE parted_a PARTITION OF parted FOR VALUES IN ('a');
SELECT trace_agg.create_derived_view('partition_dv', 'session_obs', $$
    SELECT project_id, trace_id, count(*) AS n FROM parted_a GROUP BY project_id, trace_id$$);
CREATE TABLE parted_null PARTITION OF parted FOR VALUES IN ('n') USING trace_agg_null;
SELECT trace_agg.create_derived_view('parted_dv', 'session_obs', $$
    SELECT project_id, trace_id, count(*) AS n FROM parted GROUP BY project_id, trace_id$$);
CREATE TABLE inherited (project_id text, trace_id text);
CREATE TABLE inheriting () INHERITS (inherited);
SELECT trace_agg.create_derived_view('inherited_dv', 'session_obs', $$
    SELECT project_id, trace_id, count(*) AS n FROM inherited GROUP BY project_id, trace_id$$);
-- Targets: keys not a unique index, nullable key, unknown column, NOT NULL column left out.
CREATE TABLE no_key (project_id text, n bigint);
SELECT trace_agg.create_derived_view('no_key_dv', 'no_key', $$
    SELECT project_id, count(*) AS n FROM observations GROUP BY project_id$$);
CREATE TABLE null_key (project_id text, n bigint);
CREATE UNIQUE INDEX ON null_key (project_id);
SELECT trace_agg.create_derived_view('null_key_dv', 'null_key', $$
    SELECT project_id, count(*) AS n FROM observations GROUP BY project_id$$);
SELECT trace_agg.create_derived_view('unknown_dv', 'session_obs', $$
    SELECT project_id, trace_id, count(*) AS total FROM observations GROUP BY project_id, trace_id$$);
CREATE TABLE strict_target (project_id text PRIMARY KEY, n bigint, must text NOT NULL);
SELECT trace_agg.create_derived_view('strict_dv', 'strict_target', $$
    SELECT project_id, count(*) AS n FROM observations GROUP BY project_id$$);
-- Queries that are not one grouped table.
SELECT trace_agg.create_derived_view('join_dv', 'session_obs', $$
    SELECT o.project_id, o.trace_id, count(*) AS n FROM observations o JOIN traces t USING (project_id, trace_id)
    GROUP BY o.project_id, o.trace_id$$);
SELECT trace_agg.create_derived_view('expr_key_dv', 'session_obs', $$
    SELECT project_id, lower(trace_id) AS trace_id, count(*) AS n FROM observations GROUP BY project_id, lower(trace_id)$$);
-- REPEATABLE READ and SERIALIZABLE cannot see what committed after their snapshot.
BEGIN ISOLATION LEVEL REPEATABLE READ;
UPDATE observations SET usage = usage WHERE id = 'o1';
ROLLBACK;
BEGIN ISOLATION LEVEL SERIALIZABLE;
SELECT trace_agg.create_derived_view('rr_dv', 'session_obs', $$
    SELECT project_id, trace_id, count(*) AS n FROM observations GROUP BY project_id, trace_id$$);
ROLLBACK;
-- The trigger function runs only as the triggers the view made.
CREATE TABLE forged (project_id text, trace_id text);
CREATE TRIGGER trace_agg_derived_insert AFTER INSERT ON forged
    FOR EACH STATEMENT EXECUTE FUNCTION trace_agg.derived_maintain();
INSERT INTO forged VALUES ('p', 't');
DROP TABLE forged;
SELECT * FROM differences();

-- A partitioned source: statements naming the partitioned table, a
-- partition or a sub-partition are all seen (every member carries the
-- triggers), so is a partition created later; attaching a partition
-- recomputes with its rows, detaching one without them; dropping a
-- partition, detaching one concurrently and attaching the source to
-- another table are refused.
CREATE TABLE pobs (project_id text NOT NULL, trace_id text NOT NULL, id text, usage bigint,
                   PRIMARY KEY (project_id, id)) PARTITION BY LIST (project_id);
CREATE TABLE pobs_a PARTITION OF pobs FOR VALUES IN ('a');
CREATE TABLE pobs_b PARTITION OF pobs FOR VALUES IN ('b') PARTITION BY HASH (id);
CREATE TABLE pobs_b0 PARTITION OF pobs_b FOR VALUES WITH (MODULUS 2, REMAINDER 0);
CREATE TABLE pobs_b1 PARTITION OF pobs_b FOR VALUES WITH (MODULUS 2, REMAINDER 1);
CREATE INDEX ON pobs (project_id, trace_id);
INSERT INTO pobs VALUES ('a', 't1', 'o1', 1), ('b', 't2', 'o2', 2), ('b', 't2', 'o3', 3);
CREATE TABLE ptraces (project_id text, trace_id text, usage bigint, n bigint,
                      PRIMARY KEY (project_id, trace_id));
SELECT trace_agg.create_derived_view('ptraces_dv', 'ptraces', $$
    SELECT project_id, trace_id, sum(usage) AS usage, count(*) AS n FROM pobs GROUP BY project_id, trace_id$$);
SELECT tgrelid::regclass, count(*) FROM pg_trigger WHERE tgname LIKE 'trace_agg_derived%'
  AND tgrelid::regclass::text LIKE 'pobs%' GROUP BY 1 ORDER BY 1;
TABLE ptraces ORDER BY 1, 2;
INSERT INTO pobs_a VALUES ('a', 't1', 'o4', 10);
UPDATE pobs_b SET usage = usage + 100;
UPDATE pobs SET project_id = 'a', trace_id = 't1' WHERE id = 'o3';
TABLE ptraces ORDER BY 1, 2;
CREATE TABLE pobs_c PARTITION OF pobs FOR VALUES IN ('c');
INSERT INTO pobs_c VALUES ('c', 't3', 'o5', 5);
CREATE TABLE pobs_d (project_id text NOT NULL, trace_id text NOT NULL, id text, usage bigint,
                     PRIMARY KEY (project_id, id));
INSERT INTO pobs_d VALUES ('d', 't4', 'o6', 6);
ALTER TABLE pobs ATTACH PARTITION pobs_d FOR VALUES IN ('d');
TABLE ptraces ORDER BY 1, 2;
INSERT INTO pobs_d VALUES ('d', 't4', 'o7', 7);
ALTER TABLE pobs DETACH PARTITION pobs_c;
TRUNCATE pobs_b1;
TABLE ptraces ORDER BY 1, 2;
DROP TABLE pobs_a;
ALTER TABLE pobs DETACH PARTITION pobs_d CONCURRENTLY;
CREATE TABLE pobs_outer (project_id text NOT NULL, trace_id text NOT NULL, id text, usage bigint)
    PARTITION BY LIST (project_id);
ALTER TABLE pobs_outer ATTACH PARTITION pobs FOR VALUES IN ('a', 'b', 'd');
SELECT count(*) AS differences FROM ((TABLE ptraces EXCEPT ALL TABLE ptraces_dv)
                                     UNION ALL (TABLE ptraces_dv EXCEPT ALL TABLE ptraces)) d;
-- The triggers went with the detached partition, and go from every member
-- with the last view.
SELECT tgrelid::regclass, count(*) FROM pg_trigger WHERE tgname LIKE 'trace_agg_derived%'
  AND tgrelid::regclass::text LIKE 'pobs%' GROUP BY 1 ORDER BY 1;
SELECT trace_agg.drop_derived_view('ptraces_dv');
SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'trace_agg_derived%' AND tgrelid::regclass::text LIKE 'pobs%';
DROP TABLE pobs, pobs_c, pobs_outer, ptraces;

-- Rights.  Creating a view needs TRIGGER and SELECT on the source and
-- SELECT, INSERT, UPDATE and DELETE on the target; a source under
-- row-level security only to a role that bypasses it.  Maintenance runs as
-- the view's owner: a role that may only write the source keeps targets
-- exact that it can neither read nor write.
CREATE ROLE dv_owner;
CREATE ROLE dv_ingest;
GRANT USAGE, CREATE ON SCHEMA dv TO dv_owner;
GRANT USAGE ON SCHEMA dv TO dv_ingest;
CREATE TABLE spans (trace_id text NOT NULL, id text PRIMARY KEY, usage bigint);
CREATE INDEX ON spans (trace_id);
CREATE TABLE span_totals (trace_id text PRIMARY KEY, usage bigint, spans bigint);
ALTER TABLE span_totals OWNER TO dv_owner;
GRANT SELECT ON spans TO dv_owner;
SET ROLE dv_owner;
SELECT trace_agg.create_derived_view('span_totals_dv', 'span_totals', $$
    SELECT trace_id, sum(usage) AS usage, count(*) AS spans FROM spans GROUP BY trace_id$$);
RESET ROLE;
GRANT TRIGGER ON spans TO dv_owner;
REVOKE DELETE ON span_totals FROM dv_owner;
SET ROLE dv_owner;
SELECT trace_agg.create_derived_view('span_totals_dv', 'span_totals', $$
    SELECT trace_id, sum(usage) AS usage, count(*) AS spans FROM spans GROUP BY trace_id$$);
RESET ROLE;
GRANT DELETE ON span_totals TO dv_owner;
ALTER TABLE spans ENABLE ROW LEVEL SECURITY;
SET ROLE dv_owner;
SELECT trace_agg.create_derived_view('span_totals_dv', 'span_totals', $$
    SELECT trace_id, sum(usage) AS usage, count(*) AS spans FROM spans GROUP BY trace_id$$);
RESET ROLE;
ALTER TABLE spans DISABLE ROW LEVEL SECURITY;
SET ROLE dv_owner;
SELECT trace_agg.create_derived_view('span_totals_dv', 'span_totals', $$
    SELECT trace_id, sum(usage) AS usage, count(*) AS spans FROM spans GROUP BY trace_id$$);
RESET ROLE;
GRANT SELECT, INSERT, UPDATE, DELETE ON spans TO dv_ingest;
SET ROLE dv_ingest;
INSERT INTO spans VALUES ('t1', 's1', 5), ('t1', 's2', 7), ('t2', 's3', 1);
UPDATE spans SET usage = 8 WHERE id = 's2';
DELETE FROM spans WHERE id = 's3';
SELECT * FROM span_totals;
RESET ROLE;
SELECT * FROM span_totals;
-- The statements are built as the view's owner too: a writer without
-- USAGE on the schema of a function the view calls keeps its target exact.
CREATE SCHEMA dv_own AUTHORIZATION dv_owner;
SET ROLE dv_owner;
CREATE FUNCTION dv_own.twice(numeric) RETURNS numeric
    LANGUAGE sql IMMUTABLE AS 'SELECT $1 * 2';
CREATE TABLE dv_own.span_twice (trace_id text PRIMARY KEY, usage numeric);
SELECT trace_agg.create_derived_view('span_twice_dv', 'dv_own.span_twice', $$
    SELECT trace_id, dv_own.twice(sum(usage)) AS usage FROM spans GROUP BY trace_id$$);
RESET ROLE;
SET ROLE dv_ingest;
INSERT INTO spans VALUES ('t3', 's4', 4);
RESET ROLE;
SELECT * FROM dv_own.span_twice ORDER BY 1;
DROP SCHEMA dv_own CASCADE;
-- Its statements, which lock the source and the views, are shown to a
-- role with SELECT on the source or owning one of its views only.
CREATE ROLE dv_stranger;
GRANT USAGE ON SCHEMA dv TO dv_stranger;
SET ROLE dv_stranger;
SELECT count(*) FROM trace_agg.derived_view_statements('spans');
RESET ROLE;
REVOKE SELECT ON spans FROM dv_owner;
SET ROLE dv_owner;
SELECT view FROM trace_agg.derived_view_statements('spans');
RESET ROLE;
GRANT SELECT ON spans TO dv_owner;
REVOKE ALL ON SCHEMA dv FROM dv_stranger;
DROP ROLE dv_stranger;
-- Turning row-level security on later makes writes fail, naming the view,
-- rather than recompute from rows the owner may not see.
ALTER TABLE spans ENABLE ROW LEVEL SECURITY;
UPDATE spans SET usage = 9 WHERE id = 's2';
ALTER TABLE spans DISABLE ROW LEVEL SECURITY;
SET ROLE dv_ingest;
SELECT trace_agg.refresh_derived_view('span_totals_dv');
RESET ROLE;
-- The source's owner may drop a view another role put on it.
SELECT trace_agg.drop_derived_view('span_totals_dv');
DROP TABLE spans, span_totals;
REVOKE ALL ON SCHEMA dv FROM dv_owner, dv_ingest;
DROP ROLE dv_owner;
DROP ROLE dv_ingest;

-- Renames keep every view on its tables: the source, a source column, the
-- target, a target column (the view's output follows), the view.
ALTER TABLE observations RENAME TO obs;
ALTER TABLE obs RENAME COLUMN usage TO tokens;
ALTER TABLE traces RENAME TO trace_rows;
ALTER TABLE trace_rows RENAME COLUMN usage TO total_usage;
ALTER VIEW traces_dv RENAME TO trace_rows_dv;
SELECT pg_get_viewdef('trace_rows_dv') ~ 'sum\((obs\.)?tokens\) AS total_usage' AS follows;
UPDATE obs SET tokens = 100 WHERE id = 'o1';
SELECT trace_id, total_usage FROM trace_rows WHERE project_id = 'p1' ORDER BY 1;
SELECT * FROM sessions WHERE project_id = 'p1' ORDER BY 2;
-- A target column a view writes cannot be dropped without CASCADE.
ALTER TABLE trace_rows DROP COLUMN total_usage;

-- Dropping.  A target cannot go while its view writes it; the source's
-- owner may drop the view; the triggers go with the source's last view.
DROP TABLE trace_rows;
SELECT trace_agg.drop_derived_view('trace_rows_dv');
SELECT tgname FROM pg_trigger WHERE tgrelid = 'obs'::regclass ORDER BY 1;
SELECT trace_agg.drop_derived_view('trace_rows_dv');
SELECT trace_agg.drop_derived_view('trace_rows_dv', if_exists => true);
SELECT trace_agg.drop_derived_view('sessions_expected');
UPDATE obs SET tokens = 1 WHERE id = 'o1';
SELECT trace_id, total_usage FROM trace_rows WHERE project_id = 'p1' ORDER BY 1;
-- Dropping a target with CASCADE drops its view, and dropping the
-- source drops the views reading it.
DROP TABLE trace_rows CASCADE;
SELECT view::text FROM trace_agg.derived_views ORDER BY 1;
DROP TABLE obs_latest CASCADE;
SELECT view::text FROM trace_agg.derived_views ORDER BY 1;
SELECT tgname FROM pg_trigger WHERE tgname LIKE 'trace_agg_derived%' ORDER BY 1;
SELECT count(*) FROM trace_agg.derived_view;

RESET search_path;
DROP SCHEMA dv CASCADE;
