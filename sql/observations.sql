-- The observation-centric setup (issue 14) and what it rests on: a derived
-- view sharing its target with materialized views that write other
-- columns.  Traces are derived from the latest version of each observation
-- and merged with their trace-level events in one row; sessions are
-- derived from traces.  The checks compare every row with a one-pass
-- GROUP BY over the latest version of each observation, computed from a
-- stored copy of every event (0 differences expected).
CREATE SCHEMA shared;
SET search_path = shared, public;

-- Shared targets: the rules.
CREATE TABLE kids (id text PRIMARY KEY, parent text NOT NULL, n bigint, label text);
CREATE INDEX ON kids (parent);
CREATE TABLE parent_events (parent text, note text, ts timestamptz) USING trace_agg_null;
CREATE TABLE parents (parent text PRIMARY KEY, total bigint, kids bigint, note text, events bigint);
SELECT trace_agg.create_derived_view('parents_dv', 'parents',
    'SELECT parent, sum(n) AS total, count(*) AS kids FROM kids GROUP BY parent');
-- A materialized view may write the other columns.
SELECT trace_agg.create_materialized_view('parents_mv', 'parents',
    'SELECT parent, trace_agg.any_last(note) AS note, count(*) AS events FROM parent_events GROUP BY parent');
-- Not a column the derived view writes.
SELECT trace_agg.create_materialized_view('parents_mv2', 'parents',
    'SELECT parent, count(*) AS kids FROM parent_events GROUP BY parent');
-- Nor a second derived view on the same target, even on other columns.
CREATE TABLE kids2 (id text PRIMARY KEY, parent text NOT NULL, label text);
SELECT trace_agg.create_derived_view('parents_dv2', 'parents',
    'SELECT parent, max(label) AS note FROM kids2 GROUP BY parent');
-- Created the other way round: the derived view after the materialized view.
CREATE TABLE parents2 (parent text PRIMARY KEY, total bigint, note text);
SELECT trace_agg.create_materialized_view('parents2_mv', 'parents2',
    'SELECT parent, trace_agg.any_last(note) AS note FROM parent_events GROUP BY parent');
SELECT trace_agg.create_derived_view('parents2_dv', 'parents2',
    'SELECT parent, max(label) AS note FROM kids GROUP BY parent');
-- Sharing a target, a column must read the source inside aggregates only
-- (a key without rows keeps its row, with what the query gives over none).
SELECT trace_agg.create_derived_view('parents2_dv', 'parents2',
    'SELECT parent, sum(n) + length(parent) AS total FROM kids GROUP BY parent');
SELECT trace_agg.create_derived_view('parents2_dv', 'parents2',
    'SELECT parent, sum(n) AS total FROM kids GROUP BY parent');
-- ... and a materialized view added later is checked against it too.
CREATE TABLE parents3 (parent text PRIMARY KEY, total bigint, note text);
SELECT trace_agg.create_derived_view('parents3_dv', 'parents3',
    'SELECT parent, coalesce(max(id), parent) AS note FROM kids GROUP BY parent');
SELECT trace_agg.create_materialized_view('parents3_mv', 'parents3',
    'SELECT parent, sum(length(note)) AS total FROM parent_events GROUP BY parent');
SELECT trace_agg.drop_derived_view('parents3_dv');

-- Each view sets only its columns, whoever comes first.
INSERT INTO parent_events VALUES ('a', 'first', now());
INSERT INTO kids VALUES ('k1', 'a', 1), ('k2', 'a', 2), ('k3', 'b', 3);
INSERT INTO parent_events VALUES ('a', 'second', now()), ('b', 'b-note', now());
UPDATE kids SET n = 10 WHERE id = 'k1';
SELECT * FROM parents ORDER BY parent;
SELECT * FROM parents2 ORDER BY parent;
-- A key left without source rows keeps its row when other views write the
-- target: the derived columns become what the query gives over no rows
-- (sum NULL, count 0), the others stay.
DELETE FROM kids WHERE parent = 'a';
SELECT * FROM parents ORDER BY parent;
-- Its next child brings the derived columns back.
INSERT INTO kids VALUES ('k4', 'a', 4);
SELECT * FROM parents ORDER BY parent;
-- TRUNCATE (a full recomputation) does the same for every key.
TRUNCATE kids;
SELECT * FROM parents ORDER BY parent;
-- A derived view alone on its target still deletes the rows of keys left
-- without source rows.
CREATE TABLE only_dv (parent text PRIMARY KEY, total bigint);
SELECT trace_agg.create_derived_view('only_dv_dv', 'only_dv',
    'SELECT parent, sum(n) AS total FROM kids GROUP BY parent');
INSERT INTO kids VALUES ('k5', 'c', 5);
SELECT * FROM only_dv;
DELETE FROM kids;
SELECT count(*) FROM only_dv;
-- delete_keys through the materialized view's source deletes whole rows,
-- the derived view's columns included; a later child makes a row again.
INSERT INTO kids VALUES ('k6', 'd', 6);
INSERT INTO parent_events VALUES ('d', 'd-note', now());
SELECT * FROM parents WHERE parent = 'd';
SELECT trace_agg.delete_keys('parent_events', ARRAY['d']);
SELECT count(*) FROM parents WHERE parent = 'd';
INSERT INTO parent_events VALUES ('d', 'dropped: tombstoned', now());
UPDATE kids SET n = 7 WHERE id = 'k6';
SELECT * FROM parents WHERE parent = 'd';
RESET search_path;
DROP SCHEMA shared CASCADE;

-- The setup.
CREATE SCHEMA obs;
SELECT trace_agg.create_observation_tables('obs');
SELECT view_name, source, target FROM trace_agg.materialized_views WHERE schema = 'obs' ORDER BY 1;
SELECT view_name, source, target FROM trace_agg.derived_views WHERE schema = 'obs' ORDER BY 1;
SELECT c.relname, obj_description(c.oid, 'pg_class') IS NOT NULL AS commented
FROM pg_class c WHERE c.relnamespace = 'obs'::regnamespace AND c.relkind IN ('r', 'v') ORDER BY 1;
SET search_path = obs, public;

-- Every event is kept in a log, to check against.  Observations: 200
-- traces of 1 to 8 observations in 4 projects; a third of them have 2 or
-- 3 updates (end time, output, usage and cost growing, sometimes ERROR).
CREATE TABLE obs_log AS
SELECT o.*, row_number() OVER () AS seq
FROM (
    SELECT 'p' || (t % 4) AS project_id, format('o-%s-%s', t, k) AS id, 't' || t AS trace_id,
           CASE WHEN k > 1 THEN format('o-%s-%s', t, 1 + (k * 7) % (k - 1)) END AS parent_observation_id,
           CASE WHEN k % 2 = 0 THEN 'GENERATION' ELSE 'SPAN' END AS type,
           'step-' || k AS name,
           timestamptz '2026-11-01' + make_interval(secs => t * 60 + k) AS start_time,
           CASE WHEN v > 0 THEN timestamptz '2026-11-01' + make_interval(secs => t * 60 + k + v * 5) END AS end_time,
           CASE WHEN v > 0 AND (t * k + v) % 17 = 0 THEN 'ERROR' ELSE 'DEFAULT' END AS level,
           CASE WHEN k % 2 = 0 THEN 'model-' || t % 3 END AS model,
           CASE WHEN v > 0 AND k % 2 = 0
                THEN format('{"input": %s, "output": %s}', 100 * v + t, 10 * v + k)::trace_agg.uint64_map
                ELSE '{}' END AS usage_details,
           CASE WHEN v > 0 AND k % 2 = 0
                THEN format('{"total": %s}', round((100 * v + t) * 0.000003 + (10 * v + k) * 0.000015, 9))::trace_agg.decimal_map
                ELSE '{}' END AS cost_details,
           'in-' || t || '-' || k AS input,
           CASE WHEN v > 0 THEN 'out-' || t || '-' || k || '-' || v ELSE '' END AS output,
           timestamptz '2026-11-01' + make_interval(secs => t * 60 + k + v * 5) AS version,
           timestamptz '2026-11-01' + make_interval(secs => t * 60 + k + v * 5) AS event_ts
    FROM generate_series(1, 200) t,
         generate_series(1, 1 + t % 8) k,
         generate_series(0, CASE WHEN (t + k) % 3 = 0 THEN 2 + (t * k) % 2 ELSE 0 END) v
) o;
-- Trace-level events: a create for each trace (two thirds in a session of
-- up to 5 traces), a bookmark or a score for some.
CREATE TABLE trace_log AS
SELECT 'p' || (t % 4) AS project_id, 't' || t AS id,
       timestamptz '2026-11-01' + make_interval(secs => t * 60) AS start_time,
       CASE WHEN e = 0 THEN 'trace-' || t % 5 END AS name,
       CASE WHEN e = 0 AND t % 5 <> 0 THEN 'u' || t % 7 END AS user_id,
       CASE WHEN e = 0 AND t % 3 <> 0 THEN 's' || t / 5 END AS session_id,
       'default' AS environment,
       CASE WHEN e = 0 THEN ARRAY['tag' || t % 3] ELSE '{}' END AS tags,
       CASE WHEN e = 1 THEN t % 2 = 0 END AS bookmarked,
       CASE WHEN e = 2 THEN ARRAY['score-' || t] ELSE '{}' END AS score_ids,
       timestamptz '2026-11-01' + make_interval(secs => t * 60 + e) AS event_ts
FROM generate_series(1, 200) t, generate_series(0, CASE WHEN t % 4 = 0 THEN 2 ELSE 0 END) e;

-- Feed them in batches of about 50, in an order where an observation's
-- versions and a trace's events arrive out of order (late versions
-- included), mixing both tables.
CREATE FUNCTION feed() RETURNS void LANGUAGE plpgsql AS $$
DECLARE b int;
BEGIN
    FOR b IN 0 .. 19 LOOP
        INSERT INTO observations_null (project_id, id, trace_id, parent_observation_id, type, name, start_time,
                                       end_time, level, model, usage_details, cost_details, input, output,
                                       version, event_ts)
        SELECT project_id, id, trace_id, parent_observation_id, type, name, start_time, end_time, level, model,
               usage_details, cost_details, input, output, version, event_ts
        FROM obs_log WHERE hashtext(id || version) & 19 = b ORDER BY md5(seq::text);
        INSERT INTO traces_null (project_id, id, start_time, name, user_id, session_id, environment, tags,
                                 bookmarked, score_ids, event_ts)
        SELECT project_id, id, start_time, name, user_id, session_id, environment, tags, bookmarked, score_ids, event_ts
        FROM trace_log WHERE hashtext(id || event_ts) & 19 = b ORDER BY event_ts;
    END LOOP;
END $$;
SELECT count(*) AS observation_versions, count(DISTINCT id) AS observations,
       count(DISTINCT trace_id) AS traces FROM obs_log;
-- Versions that arrive after a newer one of the same observation.
SELECT count(*) AS late_versions FROM (
    SELECT version < max(version) OVER (PARTITION BY id ORDER BY hashtext(id || version) & 19, md5(seq::text)
                                        ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS late
    FROM obs_log) l WHERE late;
SELECT feed();

-- What every row must be, from the log: the latest version of each
-- observation, and each trace's events.
CREATE VIEW expected_traces AS
WITH latest AS (SELECT DISTINCT ON (project_id, id) * FROM obs_log ORDER BY project_id, id, version DESC),
     per_trace AS (
        SELECT project_id, trace_id AS id, min(start_time) AS start_time,
               max(coalesce(end_time, start_time)) AS end_time, count(*) AS observation_count,
               count(*) FILTER (WHERE level = 'ERROR') AS error_count,
               CASE WHEN bool_or(level = 'ERROR') THEN 'ERROR' ELSE max(level) END AS level,
               (SELECT jsonb_object_agg(key, total) FROM (
                    SELECT key, sum(value::numeric) AS total
                    FROM latest l2, jsonb_each_text(l2.usage_details::jsonb)
                    WHERE l2.project_id = l.project_id AND l2.trace_id = l.trace_id GROUP BY key) u) AS usage,
               (SELECT jsonb_object_agg(key, total) FROM (
                    SELECT key, sum(value::numeric) AS total
                    FROM latest l2, jsonb_each_text(l2.cost_details::jsonb)
                    WHERE l2.project_id = l.project_id AND l2.trace_id = l.trace_id GROUP BY key) u) AS cost,
               (array_agg(name ORDER BY start_time) FILTER (WHERE parent_observation_id IS NULL))[1] AS root_name,
               (array_agg(input ORDER BY start_time) FILTER (WHERE parent_observation_id IS NULL))[1] AS input,
               (array_agg(output ORDER BY start_time) FILTER (WHERE parent_observation_id IS NULL))[1] AS output
        FROM latest l GROUP BY project_id, trace_id),
     events AS (
        SELECT project_id, id, min(start_time) AS "timestamp",
               (array_agg(name ORDER BY event_ts DESC) FILTER (WHERE name IS NOT NULL))[1] AS name,
               (array_agg(user_id ORDER BY event_ts DESC) FILTER (WHERE user_id IS NOT NULL))[1] AS user_id,
               (array_agg(session_id ORDER BY event_ts DESC) FILTER (WHERE session_id IS NOT NULL))[1] AS session_id,
               (array_agg(bookmarked ORDER BY event_ts DESC) FILTER (WHERE bookmarked IS NOT NULL))[1] AS bookmarked,
               (SELECT array_agg(DISTINCT x ORDER BY x) FROM trace_log t2, unnest(t2.tags) x
                WHERE t2.project_id = e.project_id AND t2.id = e.id) AS tags,
               (SELECT array_agg(DISTINCT x ORDER BY x) FROM trace_log t2, unnest(t2.score_ids) x
                WHERE t2.project_id = e.project_id AND t2.id = e.id) AS score_ids
        FROM trace_log e GROUP BY project_id, id)
SELECT e.project_id, e.id, e."timestamp", coalesce(e.name, p.root_name) AS name, e.user_id, e.session_id,
       coalesce(e.tags, '{}') AS tags, coalesce(e.bookmarked, false) AS bookmarked, coalesce(e.score_ids, '{}') AS score_ids,
       p.start_time, p.end_time, coalesce(p.observation_count, 0) AS observation_count,
       coalesce(p.error_count, 0) AS error_count, p.level,
       coalesce(p.usage, '{}') AS usage, coalesce(p.cost, '{}') AS cost, p.input, p.output
FROM events e FULL JOIN per_trace p USING (project_id, id);
CREATE VIEW actual_traces AS
SELECT project_id, id, "timestamp", name, user_id, session_id,
       ARRAY(SELECT x FROM unnest(tags) x ORDER BY x) AS tags, bookmarked,
       ARRAY(SELECT x FROM unnest(score_ids) x ORDER BY x) AS score_ids,
       start_time, end_time, observation_count, error_count, level,
       coalesce(usage_details::jsonb, '{}') AS usage, coalesce(cost_details::jsonb, '{}') AS cost, input, output
FROM traces_all;
CREATE VIEW expected_sessions AS
SELECT project_id, session_id, count(*) AS trace_count, count(DISTINCT user_id) AS user_count,
       array_agg(DISTINCT user_id) FILTER (WHERE user_id IS NOT NULL) AS user_ids,
       (SELECT jsonb_object_agg(key, total) FROM (
            SELECT key, sum(value::numeric) AS total FROM expected_traces t2, jsonb_each_text(t2.usage)
            WHERE t2.project_id = t.project_id AND t2.session_id = t.session_id GROUP BY key) u) AS usage,
       (SELECT jsonb_object_agg(key, total) FROM (
            SELECT key, sum(value::numeric) AS total FROM expected_traces t2, jsonb_each_text(t2.cost)
            WHERE t2.project_id = t.project_id AND t2.session_id = t.session_id GROUP BY key) u) AS cost,
       min(coalesce(start_time, "timestamp")) AS first_time,
       max(coalesce(end_time, start_time, "timestamp")) AS last_time
FROM expected_traces t WHERE session_id IS NOT NULL GROUP BY project_id, session_id;
CREATE VIEW actual_sessions AS
SELECT project_id, session_id, trace_count, user_count, user_ids,
       nullif(usage_details::jsonb, '{}') AS usage, nullif(cost_details::jsonb, '{}') AS cost, first_time, last_time
FROM sessions;
CREATE FUNCTION differences() RETURNS TABLE (traces bigint, sessions bigint) LANGUAGE sql AS $$
    SELECT (SELECT count(*) FROM ((TABLE expected_traces EXCEPT ALL TABLE actual_traces)
                                  UNION ALL (TABLE actual_traces EXCEPT ALL TABLE expected_traces)) d),
           (SELECT count(*) FROM ((TABLE expected_sessions EXCEPT ALL TABLE actual_sessions)
                                  UNION ALL (TABLE actual_sessions EXCEPT ALL TABLE expected_sessions)) d) $$;
SELECT (SELECT count(*) FROM observations) AS observations, (SELECT count(*) FROM traces) AS traces,
       (SELECT count(*) FROM sessions) AS sessions;
SELECT * FROM differences();
-- Laminar counts a session's traces from its spans, so a trace without
-- one is missed; here every trace with a session id counts.
INSERT INTO traces_null (project_id, id, start_time, session_id, event_ts)
VALUES ('p1', 'lonely', '2026-11-01 05:00', 's1', '2026-11-01 05:00');
INSERT INTO trace_log (project_id, id, start_time, session_id, environment, tags, score_ids, event_ts)
VALUES ('p1', 'lonely', '2026-11-01 05:00', 's1', 'default', '{}', '{}', '2026-11-01 05:00');
SELECT trace_count, (SELECT count(*) FROM traces_all WHERE project_id = 'p1' AND session_id = 's1'
                     AND observation_count > 0) AS traces_with_observations
FROM sessions WHERE project_id = 'p1' AND session_id = 's1';
SELECT * FROM differences();

-- A correction of an observation's usage reaches the trace and the session:
-- a newer version replaces it (no double counting), an older one is ignored.
SELECT id, trace_id, usage_details, version FROM observations WHERE id = 'o-4-2';
SELECT t.usage_details AS trace_usage, s.usage_details AS session_usage
FROM traces t JOIN sessions s USING (project_id, session_id) WHERE t.id = 't4';
INSERT INTO obs_log SELECT project_id, id, trace_id, parent_observation_id, type, name, start_time, end_time, level,
       model, '{"input": 1, "output": 1}', '{"total": 0.5}', input, output, version + interval '1 hour',
       event_ts + interval '1 hour', 1000000 FROM obs_log WHERE id = 'o-4-2' ORDER BY version DESC LIMIT 1;
INSERT INTO obs_log SELECT project_id, id, trace_id, parent_observation_id, type, name, start_time, end_time, level,
       model, '{"input": 999, "output": 999}', '{"total": 9}', input, output, version - interval '1 hour',
       event_ts, 1000001 FROM obs_log WHERE id = 'o-4-2' ORDER BY version LIMIT 1;
INSERT INTO observations_null SELECT project_id, id, trace_id, parent_observation_id, type, name, start_time,
       end_time, level, model, usage_details, cost_details, input, output, version, event_ts
FROM obs_log WHERE seq >= 1000000 ORDER BY seq;
SELECT id, trace_id, usage_details, version FROM observations WHERE id = 'o-4-2';
SELECT t.usage_details AS trace_usage, s.usage_details AS session_usage
FROM traces t JOIN sessions s USING (project_id, session_id) WHERE t.id = 't4';
SELECT * FROM differences();

-- Deleting an observation (by hand, or for good with delete_keys through
-- observations_null) recomputes its trace and session.
DELETE FROM observations WHERE id = 'o-4-2';
DELETE FROM obs_log WHERE id = 'o-4-2';
SELECT trace_agg.delete_keys('observations_null', ARRAY['p1', 'o-9-1']);
DELETE FROM obs_log WHERE id = 'o-9-1';
SELECT * FROM differences();
SELECT id, name, observation_count, usage_details, start_time FROM traces_all WHERE id = 't9';
-- A late version of the deleted observation is dropped.
INSERT INTO observations_null (project_id, id, trace_id, start_time, version)
VALUES ('p1', 'o-9-1', 't9', '2026-11-01', '2027-01-01');
SELECT observation_count FROM traces WHERE id = 't9';
-- Deleting traces for good: their trace-level rows go with delete_traces
-- on traces_null, and their observations with a DELETE.
-- A trace whose last observation goes keeps its row and its trace-level
-- columns (traces_mv writes them too); delete_traces removes the row.
DELETE FROM observations WHERE project_id = 'p2' AND trace_id = 't2';
SELECT id, name, session_id, observation_count, start_time, usage_details FROM traces_all WHERE id = 't2';
SELECT trace_agg.delete_traces('traces_null', 'p2', ARRAY['t2']);
DELETE FROM obs_log WHERE project_id = 'p2' AND trace_id = 't2';
DELETE FROM trace_log WHERE project_id = 'p2' AND id = 't2';
SELECT count(*) FROM traces WHERE id = 't2';
SELECT * FROM differences();

-- The trace recomputation reads the trace's observations by their index.
SET enable_seqscan = off;
PREPARE recompute AS SELECT count(*) FROM observations WHERE project_id = $1 AND trace_id = $2;
EXPLAIN (COSTS OFF) EXECUTE recompute('p1', 't1');
RESET enable_seqscan;
RESET search_path;
DROP SCHEMA obs CASCADE;
