-- Materialized views are definitions bound to OIDs: renames of the source,
-- the target, their columns and schemas keep every view on the same
-- tables; names live in schemas (two traces setups in one database);
-- several views of different sources share one target, each writing its
-- own columns; the statement that runs can be read.
CREATE SCHEMA df;
SET search_path = df, public;

CREATE TABLE ev (k text, v int, note text) USING trace_agg_null;
CREATE TABLE agg (k text PRIMARY KEY, n bigint, total bigint);
SELECT trace_agg.create_materialized_view('agg_mv', 'agg',
    'SELECT k, count(*) AS n, sum(v) AS total FROM ev GROUP BY k');
-- The view lives in the target's schema, as a relation of its own.
SELECT view::text, schema, view_name, source, target FROM trace_agg.materialized_views;
SELECT relkind FROM pg_class WHERE oid = 'df.agg_mv'::regclass;

-- The statement an insert runs, readable and explainable.
SELECT views, owner::text, statement FROM trace_agg.materialized_view_statements('ev');
-- Run by hand over a table named like the transition table, it plans and
-- merges as an insert does.
BEGIN;
CREATE TEMP TABLE trace_agg_new_rows (LIKE ev);
INSERT INTO trace_agg_new_rows VALUES ('z', 5, NULL), ('z', 6, NULL);
CREATE FUNCTION pg_temp.plan_writes(q text, target text) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    line text;
BEGIN
    FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || q LOOP
        IF line LIKE '%Insert on ' || target || ' %' THEN
            RETURN true;
        END IF;
    END LOOP;
    RETURN false;
END
$$;
SELECT pg_temp.plan_writes(statement, 'agg') AS plan_inserts_into_agg
FROM trace_agg.materialized_view_statements('ev');
SELECT statement FROM trace_agg.materialized_view_statements('ev') \gexec
SELECT * FROM agg WHERE k = 'z';
ROLLBACK;
INSERT INTO ev VALUES ('a', 1, NULL), ('b', 2, NULL);

-- Renames of everything involved: the source, the target, a column of
-- each, the view and the schema.
ALTER TABLE ev RENAME TO events;
ALTER TABLE events RENAME COLUMN v TO value;
ALTER TABLE agg RENAME TO totals;
ALTER TABLE totals RENAME COLUMN total TO sum_value;
ALTER VIEW agg_mv RENAME TO totals_mv;
ALTER SCHEMA df RENAME TO df2;
SET search_path = df2, public;
INSERT INTO events VALUES ('a', 10, NULL), ('c', 3, NULL);
SELECT * FROM totals ORDER BY k;
SELECT view::text, source::text, target::text FROM trace_agg.materialized_views;
SELECT statement FROM trace_agg.materialized_view_statements('events');
-- A table that takes an old name is not written to.
CREATE TABLE agg (k text PRIMARY KEY, n bigint, total bigint);
INSERT INTO events VALUES ('a', 100, NULL);
SELECT (SELECT count(*) FROM agg) AS impostor_rows, (SELECT n FROM totals WHERE k = 'a') AS a_n;
DROP TABLE agg;

-- Moving the source or target to another schema is followed too.
CREATE SCHEMA df3;
ALTER TABLE totals SET SCHEMA df3;
INSERT INTO events VALUES ('d', 4, NULL);
SELECT * FROM df3.totals ORDER BY k;
ALTER TABLE df3.totals SET SCHEMA df2;

-- A TTL matches columns by name: its column in the target and in the
-- reference, the target's key in the reference.  Renaming one of those is
-- refused (inserts would fail on the old name), other columns follow.
CREATE TABLE ttl_ev (k text, ts timestamptz, n int) USING trace_agg_null;
CREATE TABLE ttl_ref (k text PRIMARY KEY, ts timestamptz, note text);
CREATE TABLE ttl_t (k text PRIMARY KEY, ts timestamptz, n bigint);
SELECT trace_agg.create_materialized_view('ttl_mv', 'ttl_t',
    'SELECT k, max(ts) AS ts, count(*) AS n FROM ttl_ev GROUP BY k');
SELECT trace_agg.set_ttl('ttl_t', 'ts', '7 days', 'ttl_ref');
ALTER TABLE ttl_t RENAME COLUMN ts TO event_time;
ALTER TABLE ttl_ref RENAME COLUMN ts TO event_time;
ALTER TABLE ttl_ref RENAME COLUMN k TO key;
ALTER TABLE ttl_t RENAME COLUMN k TO key;
ALTER TABLE ttl_ref RENAME COLUMN note TO remark;
ALTER TABLE ttl_t RENAME COLUMN n TO events;
INSERT INTO ttl_ev VALUES ('a', now(), 1);
SELECT k, events FROM ttl_t;
SELECT trace_agg.remove_ttl('ttl_t');
DROP TABLE ttl_t, ttl_ref, ttl_ev CASCADE;

-- A column a view reads cannot be dropped without CASCADE, which drops the view.
ALTER TABLE events DROP COLUMN value;
ALTER TABLE events DROP COLUMN note;
-- Nor a column a view writes.
ALTER TABLE totals DROP COLUMN sum_value;
BEGIN;
ALTER TABLE totals DROP COLUMN sum_value CASCADE;
SELECT count(*) AS views_of_events FROM trace_agg.materialized_view WHERE source = 'events'::regclass;
ROLLBACK;

-- Partial views: two sources feed one target, each its own columns; the
-- others must be nullable or have a default.
CREATE TABLE spans (trace_id text, cost numeric) USING trace_agg_null;
CREATE TABLE scores (trace_id text, score int) USING trace_agg_null;
CREATE TABLE trace_sums (trace_id text PRIMARY KEY, cost numeric, spans bigint NOT NULL DEFAULT 0,
                         best_score int, scored bigint NOT NULL DEFAULT 0);
SELECT trace_agg.create_materialized_view('trace_costs_mv', 'trace_sums',
    'SELECT trace_id, sum(cost) AS cost, count(*) AS spans FROM spans GROUP BY trace_id');
SELECT trace_agg.create_materialized_view('trace_scores_mv', 'trace_sums',
    'SELECT trace_id, max(score) AS best_score, count(*) AS scored FROM scores GROUP BY trace_id');
INSERT INTO spans VALUES ('t1', 0.5), ('t1', 0.25), ('t2', 1);
INSERT INTO scores VALUES ('t1', 3), ('t3', 9), ('t1', 5);
INSERT INTO spans VALUES ('t3', 2);
SELECT * FROM trace_sums ORDER BY trace_id;

-- Backfill: a view created on a stored source that already holds rows
-- merges them at once; later inserts are merged by the trigger.  The view
-- itself, selected from, recomputes the target from the whole source.
CREATE TABLE stored (k text, v int, note text);
INSERT INTO stored SELECT 'k' || (g % 7), g, 'n' || g FROM generate_series(1, 1000) g;
CREATE TABLE stored_sums (k text PRIMARY KEY, n bigint, total bigint, last_note text);
SELECT trace_agg.create_materialized_view('stored_mv', 'stored_sums',
    'SELECT k, count(*) AS n, sum(v) AS total, trace_agg.any_last(note) AS last_note FROM stored GROUP BY k',
    backfill => true);
INSERT INTO stored VALUES ('k1', 5, 'later'), ('new', 1, 'new');
SELECT k, n, total FROM stored_sums ORDER BY k;
SELECT count(*) AS differing_rows FROM (
    (SELECT k, n, total FROM stored_sums EXCEPT SELECT k, n, total FROM stored_mv)
    UNION ALL
    (SELECT k, n, total FROM stored_mv EXCEPT SELECT k, n, total FROM stored_sums)) d;
SELECT last_note FROM stored_sums WHERE k IN ('k1', 'new') ORDER BY k;
-- Without a fresh snapshot per statement, a backfill could miss rows.
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT trace_agg.create_materialized_view('stored2_mv', 'stored_sums',
    'SELECT k, max(v)::bigint AS total FROM stored GROUP BY k', backfill => true);
ROLLBACK;

-- Qualified names: create and drop in any schema; an unqualified drop
-- follows search_path like DROP VIEW.
SELECT trace_agg.create_materialized_view('df3.other_mv', 'trace_sums',
    'SELECT trace_id, max(cost) AS cost FROM spans GROUP BY trace_id');
SELECT trace_agg.drop_materialized_view('other_mv');
SELECT trace_agg.drop_materialized_view('df3.other_mv');
SELECT trace_agg.drop_materialized_view('df3.other_mv', true);
SELECT trace_agg.drop_materialized_view('df2.totals');
SELECT trace_agg.drop_materialized_view('no_schema.x');
SELECT trace_agg.drop_materialized_view('a.b.c.d');

-- Two traces setups in one database, each fed by its own null table: one
-- with ClickHouse's window tables, one with the windows as views over the
-- all table (the default).  Fed the same events (recent, 10 and 40 days old, and late
-- events of old traces), their read views hold the same rows (but for
-- created_at and updated_at, which default to each statement's now()).
CREATE SCHEMA tenant_a;
CREATE SCHEMA tenant_b;
SELECT trace_agg.create_traces_tables('tenant_a', windows => 'tables');
SELECT trace_agg.create_traces_tables('tenant_b');
SELECT trace_agg.create_traces_tables('tenant_b', windows => 'partitions');
CREATE TEMP TABLE ev_both AS
SELECT 'p' || (g % 3) AS project_id, 't' || g AS id,
       now() - (g % 50) * interval '1 day' AS start_time, 'trace ' || g AS name,
       ARRAY['tag' || (g % 4)] AS tags, repeat('x', g % 300) AS input,
       now() - (g % 50) * interval '1 day' AS event_ts
FROM generate_series(1, 200) g;
INSERT INTO tenant_a.traces_null (project_id, id, start_time, name, tags, input, event_ts)
SELECT * FROM ev_both;
INSERT INTO tenant_b.traces_null (project_id, id, start_time, name, tags, input, event_ts)
SELECT * FROM ev_both;
-- late events: every trace gets a recent one with a recent start_time
CREATE TEMP TABLE late_both AS SELECT project_id, id, now() AS ts FROM ev_both;
INSERT INTO tenant_a.traces_null (project_id, id, start_time, output, event_ts)
SELECT project_id, id, ts, 'late', ts FROM late_both;
INSERT INTO tenant_b.traces_null (project_id, id, start_time, output, event_ts)
SELECT project_id, id, ts, 'late', ts FROM late_both;
SELECT w, (SELECT count(*) FROM tenant_a.traces_all) AS all_rows,
       count(*) AS rows, count(*) FILTER (WHERE in_a AND in_b) AS in_both
FROM (SELECT '7d' AS w, a.id IS NOT NULL AS in_a, b.id IS NOT NULL AS in_b
      FROM tenant_a.traces_7d a FULL JOIN tenant_b.traces_7d b ON row(a.project_id, a.id, a.start_time, a.end_time, a.name, a.tags, a.input, a.output)::text
         = row(b.project_id, b.id, b.start_time, b.end_time, b.name, b.tags, b.input, b.output)::text
      UNION ALL
      SELECT '30d', a.id IS NOT NULL, b.id IS NOT NULL
      FROM tenant_a.traces_30d a FULL JOIN tenant_b.traces_30d b ON row(a.project_id, a.id, a.start_time, a.end_time, a.name, a.tags, a.input, a.output)::text
         = row(b.project_id, b.id, b.start_time, b.end_time, b.name, b.tags, b.input, b.output)::text
      UNION ALL
      SELECT 'all', a.id IS NOT NULL, b.id IS NOT NULL
      FROM tenant_a.traces_all a FULL JOIN tenant_b.traces_all b ON row(a.project_id, a.id, a.start_time, a.end_time, a.name, a.tags, a.input, a.output)::text
         = row(b.project_id, b.id, b.start_time, b.end_time, b.name, b.tags, b.input, b.output)::text) x
GROUP BY w ORDER BY w;
SELECT relname FROM pg_class WHERE relnamespace = 'tenant_b'::regnamespace AND relkind IN ('r', 'v') ORDER BY 1;
-- The product's queries read the all table through an index each (the
-- indexes a plan uses, on 6,000 traces of three projects over 60 days).
INSERT INTO tenant_b.traces_null (project_id, id, start_time, name, user_id, session_id, environment, tags,
                                  created_at, event_ts)
SELECT 'p' || (g % 3), 'bulk' || g, now() - (g % 60) * interval '1 day' - (g % 24) * interval '1 hour',
       'name ' || (g % 40), 'u' || (g % 300), 's' || (g % 900), (ARRAY['production', 'staging', 'dev'])[1 + g % 7 / 3],
       ARRAY['tag' || (g % 200)], now() - (g % 60) * interval '1 day', now()
FROM generate_series(1, 6000) g;
CREATE FUNCTION pg_temp.indexes_used(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    plan text;
BEGIN
    EXECUTE 'EXPLAIN (FORMAT JSON, COSTS OFF) ' || q INTO plan;
    RETURN (SELECT string_agg(DISTINCT m[1], ', ') FROM regexp_matches(plan, '"Index Name": "([^"]+)"', 'g') m);
END
$$;
ANALYZE tenant_b.traces_all_amt;
SELECT query, pg_temp.indexes_used(q) AS indexes
FROM (VALUES
  ('page, newest first', $q$SELECT id FROM tenant_b.traces_all_amt WHERE project_id = 'p1'
                            AND "timestamp" >= now() - interval '7 days' ORDER BY "timestamp" DESC LIMIT 50$q$),
  ('page in an environment', $q$SELECT id FROM tenant_b.traces_all_amt WHERE project_id = 'p1'
                                AND environment = 'production' ORDER BY "timestamp" DESC LIMIT 50$q$),
  ('count of a time range', $q$SELECT count(*) FROM tenant_b.traces_all_amt WHERE project_id = 'p1'
                               AND "timestamp" >= now() - interval '1 day'$q$),
  ('by id, any project', $q$SELECT project_id FROM tenant_b.traces_all_amt WHERE id = ANY ('{t1,t2}')$q$),
  ('created in an interval', $q$SELECT project_id, count(*) FROM tenant_b.traces_all_amt
                                WHERE created_at >= now() - interval '1 day' GROUP BY 1$q$),
  ('window by start', $q$SELECT count(*) FROM tenant_b.traces_all_amt WHERE start_time >= now() - interval '1 day'$q$),
  ('session', $q$SELECT id FROM tenant_b.traces_all_amt WHERE project_id = 'p1' AND session_id = 's1'$q$),
  ('user', $q$SELECT id FROM tenant_b.traces_all_amt WHERE project_id = 'p1' AND user_id = 'u1'$q$),
  ('name', $q$SELECT id FROM tenant_b.traces_all_amt WHERE project_id = 'p1' AND name = 'name 7'$q$),
  ('tag', $q$SELECT id FROM tenant_b.traces_all_amt WHERE tags @> '{tag7}'$q$)) v(query, q);
SELECT schema, count(*) FROM trace_agg.materialized_views GROUP BY schema ORDER BY 1;

RESET search_path;
DROP SCHEMA df2, df3, tenant_a, tenant_b CASCADE;
SELECT count(*) AS views_left FROM trace_agg.materialized_view;
