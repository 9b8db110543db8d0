-- Deletion that stays deleted: trace_agg.delete_keys() and the traces
-- setup's delete_traces() / delete_project_traces() delete from every
-- target a source feeds, in one transaction, and later events of what they
-- deleted are dropped for trace_agg.tombstone_window.
CREATE SCHEMA del;
SELECT trace_agg.create_traces_tables('del', windows => 'tables');
CREATE TEMP TABLE t0 AS SELECT now() AS now;
-- Three projects; in p2 one old trace (40 days) and one recent.
INSERT INTO del.traces_null (project_id, id, start_time, name, event_ts)
SELECT p, p || '-' || i, (SELECT now FROM t0) - CASE WHEN p = 'p2' AND i = 1 THEN interval '40 days' ELSE interval '1 hour' END,
       'trace ' || i, (SELECT now FROM t0)
FROM unnest(ARRAY['p1', 'p2', 'p3']) p, generate_series(1, 2) i;
CREATE FUNCTION pg_temp.traces() RETURNS TABLE (tbl text, ids text)
LANGUAGE sql AS $$
    SELECT tbl, string_agg(project_id || '/' || id, ' ' ORDER BY project_id, id)
    FROM (SELECT 'all' AS tbl, project_id, id FROM del.traces_all_amt
          UNION ALL SELECT '30d', project_id, id FROM del.traces_30d_amt
          UNION ALL SELECT '7d', project_id, id FROM del.traces_7d_amt) t
    GROUP BY tbl ORDER BY tbl
$$;
SELECT * FROM pg_temp.traces();

-- One trace: gone from every table; a late event of it (a score, an
-- observation) does not bring it back as a partial row.
SELECT trace_agg.delete_traces('del.traces_null', 'p1', ARRAY['p1-1']) AS rows_deleted;
INSERT INTO del.traces_null (project_id, id, start_time, score_ids, event_ts)
VALUES ('p1', 'p1-1', now(), '{s1}', now()), ('p1', 'p1-2', now(), '{s2}', now());
SELECT * FROM pg_temp.traces();
SELECT id, score_ids FROM del.traces_all WHERE project_id = 'p1';

-- A project's traces that started before a date: only those go, and only
-- their later events are dropped; newer traces of the project keep being fed.
SELECT trace_agg.delete_project_traces('del.traces_null', 'p2', now() - interval '10 days') AS rows_deleted;
INSERT INTO del.traces_null (project_id, id, start_time, name, event_ts)
VALUES ('p2', 'p2-1', now(), 'late', now()), ('p2', 'p2-2', now(), 'renamed', now() + interval '1 s'),
       ('p2', 'p2-3', now(), 'new', now());
SELECT * FROM pg_temp.traces();

-- A whole project: every trace, and any later event under it.
SELECT trace_agg.delete_project_traces('del.traces_null', 'p3') AS rows_deleted;
INSERT INTO del.traces_null (project_id, id, start_time, name, event_ts)
VALUES ('p3', 'p3-1', now(), 'late', now()), ('p3', 'p3-9', now(), 'brand new', now());
SELECT * FROM pg_temp.traces();
SELECT source, key FROM trace_agg.tombstone ORDER BY key;
SELECT trace_agg.purge_expired() IS NOT NULL AS purged;
SELECT count(*) AS tombstones_kept FROM trace_agg.tombstone;

-- Only the source's owner deletes; tombstones are seen only by roles that
-- may read the source; bad arguments are refused.
CREATE ROLE del_other;
GRANT USAGE ON SCHEMA del TO del_other;
SET ROLE del_other;
SELECT trace_agg.delete_project_traces('del.traces_null', 'p1');
INSERT INTO trace_agg.tombstone VALUES ('del.traces_null', '{p1}', now());
SELECT count(*) AS tombstones_seen FROM trace_agg.tombstone;
RESET ROLE;
GRANT SELECT ON del.traces_null TO del_other;
SET ROLE del_other;
SELECT count(*) AS tombstones_seen FROM trace_agg.tombstone;
RESET ROLE;
SELECT trace_agg.delete_keys('del.traces_null', '{}');
SELECT trace_agg.delete_keys('del.traces_null', ARRAY['p1', NULL]);
SELECT trace_agg.delete_keys('del.traces_null', ARRAY['p1', 'x', 'y']);
SELECT trace_agg.delete_keys('del.traces_null', ARRAY['p1'], now());
SELECT trace_agg.delete_keys('del.traces_null', NULL);
-- The statement reads tombstones only while the source has some.
SELECT statement LIKE '%trace_agg.tombstone%' AS filters_tombstones
FROM trace_agg.materialized_view_statements('del.traces_null');
-- Each prefix of a key is one equality with the tombstones' key (an index
-- probe or one hash per batch, not every tombstone tested for every row).
SELECT (length(statement) - length(replace(statement, 'z.key OPERATOR(pg_catalog.=) ARRAY[', '')))
       / length('z.key OPERATOR(pg_catalog.=) ARRAY[') AS key_equalities
FROM trace_agg.materialized_view_statements('del.traces_null');

-- Key columns named like the tombstones' columns (source, key) are the
-- row's: a deleted key stays deleted, the others are fed.
CREATE TABLE del.kv_events (source text, key text, n int) USING trace_agg_null;
CREATE TABLE del.kv (source text, key text, n bigint, PRIMARY KEY (source, key));
SELECT trace_agg.create_materialized_view('del.kv_mv', 'del.kv',
  $$SELECT source, key, sum(n) AS n FROM del.kv_events GROUP BY source, key$$);
INSERT INTO del.kv_events VALUES ('a', 'x', 1), ('a', 'y', 2), ('b', 'x', 3);
SELECT trace_agg.delete_keys('del.kv_events', ARRAY['a', 'x']) AS rows_deleted;
INSERT INTO del.kv_events VALUES ('a', 'x', 10), ('a', 'y', 20), ('b', 'x', 30);
SELECT * FROM del.kv ORDER BY source, key;

-- A target another role owns (it put a view on the source): the source's
-- owner deletes its keys only holding DELETE on it.
CREATE ROLE del_feeder;
GRANT USAGE ON SCHEMA del TO del_feeder;
GRANT CREATE ON SCHEMA del TO del_other;
ALTER TABLE del.kv_events OWNER TO del_feeder;
ALTER TABLE del.kv OWNER TO del_feeder;
CREATE TABLE del.kv_other (source text, key text, n bigint, PRIMARY KEY (source, key));
ALTER TABLE del.kv_other OWNER TO del_other;
GRANT SELECT, TRIGGER ON del.kv_events TO del_other;
SET ROLE del_other;
SELECT trace_agg.create_materialized_view('del.kv_other_mv', 'del.kv_other',
  $$SELECT source, key, sum(n) AS n FROM del.kv_events GROUP BY source, key$$);
RESET ROLE;
SET ROLE del_feeder;
INSERT INTO del.kv_events VALUES ('b', 'y', 5);
SELECT trace_agg.delete_keys('del.kv_events', ARRAY['b', 'y']);
RESET ROLE;
SET ROLE del_other;
GRANT DELETE ON del.kv_other TO del_feeder;
RESET ROLE;
SET ROLE del_feeder;
SELECT trace_agg.delete_keys('del.kv_events', ARRAY['b', 'y']) AS rows_deleted;
RESET ROLE;
SELECT 'kv' AS t, * FROM del.kv UNION ALL SELECT 'kv_other', * FROM del.kv_other ORDER BY 1, 2, 3;

-- Dropping a source forgets its tombstones and insert tokens: a table that
-- later gets its OID inherits none.
SET trace_agg.insert_token = 'kv-batch-1';
INSERT INTO del.kv_events VALUES ('c', 'x', 1);
RESET trace_agg.insert_token;
SELECT 'del.kv_events'::regclass::oid AS kv_events_oid \gset
SELECT (SELECT count(*) FROM trace_agg.tombstone WHERE source = :kv_events_oid) AS tombstones,
       (SELECT count(*) FROM trace_agg.insert_token WHERE source = :kv_events_oid) AS tokens;
DROP TABLE del.kv_events CASCADE;
SELECT (SELECT count(*) FROM trace_agg.tombstone WHERE source = :kv_events_oid) AS tombstones,
       (SELECT count(*) FROM trace_agg.insert_token WHERE source = :kv_events_oid) AS tokens;

-- After the window, a key is new again.
SET trace_agg.tombstone_window = '1s';
SELECT pg_sleep(1.2);
INSERT INTO del.traces_null (project_id, id, start_time, name, event_ts)
VALUES ('p3', 'p3-1', now(), 'back', now());
SELECT id, name FROM del.traces_all WHERE project_id = 'p3';
SELECT trace_agg.purge_expired() IS NOT NULL AS purged;
SELECT count(*) AS tombstones_kept FROM trace_agg.tombstone;
RESET trace_agg.tombstone_window;
SELECT trace_agg.rebuild_materialized_views('del.traces_null');
SELECT statement LIKE '%trace_agg.tombstone%' AS filters_tombstones
FROM trace_agg.materialized_view_statements('del.traces_null');

DROP SCHEMA del CASCADE;
DROP ROLE del_other, del_feeder;
