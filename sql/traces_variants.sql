-- The older variants of the reference, built from the same blocks: a stored
-- traces_mt partitioned by month as the source (v1 and v2), argMax states
-- over names, ids and metadata beside anyLast (v1), minMap metadata (v2).
-- Because the source keeps every row, the merged targets can be checked
-- against the same aggregates computed in one pass over all of it.
CREATE SCHEMA tv;
SET search_path = tv, public;

CREATE TABLE traces_mt (
    project_id text NOT NULL, id text NOT NULL, start_time timestamptz NOT NULL,
    end_time timestamptz, name text, metadata trace_agg.text_map NOT NULL DEFAULT '{}',
    user_id text, session_id text, environment text NOT NULL DEFAULT 'default',
    tags text[] NOT NULL DEFAULT '{}', version text, release text,
    bookmarked boolean, public boolean,
    observation_ids text[] NOT NULL DEFAULT '{}', score_ids text[] NOT NULL DEFAULT '{}',
    cost_details trace_agg.decimal_map NOT NULL DEFAULT '{}',
    usage_details trace_agg.uint64_map NOT NULL DEFAULT '{}',
    input text NOT NULL DEFAULT '', output text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT '2025-01-01', updated_at timestamptz NOT NULL DEFAULT '2025-01-01',
    event_ts timestamptz NOT NULL
) PARTITION BY RANGE (start_time);
CREATE TABLE traces_mt_2025_06 PARTITION OF traces_mt FOR VALUES FROM ('2025-06-01') TO ('2025-07-01');
CREATE TABLE traces_mt_2025_07 PARTITION OF traces_mt FOR VALUES FROM ('2025-07-01') TO ('2025-08-01');

-- v1: argMax states kept beside anyLast values.
CREATE TABLE traces_v1_amt (
    project_id text, id text, start_time timestamptz, end_time timestamptz,
    name_argmax trace_agg.argmax_text, name text,
    metadata_argmax trace_agg.argmax_jsonb, metadata trace_agg.text_map,
    user_id_argmax trace_agg.argmax_text, user_id text, environment text,
    tags text[], version trace_agg.argmax_text, release trace_agg.argmax_text,
    bookmarked trace_agg.argmax_bool, observation_ids text[],
    usage_details trace_agg.uint64_map, cost_details trace_agg.decimal_map,
    input_argmax trace_agg.argmax_text, output_argmax trace_agg.argmax_text,
    input text, output text, created_at timestamptz, updated_at timestamptz,
    PRIMARY KEY (project_id, id));
CREATE FUNCTION tv.v1_query() RETURNS text LANGUAGE sql RETURN $q$
SELECT t0.project_id, t0.id,
       min(t0.start_time) AS start_time,
       max(coalesce(t0.end_time, t0.start_time)) AS end_time,
       trace_agg.argmax_state(t0.name, CASE WHEN t0.name <> '' THEN t0.event_ts ELSE 'epoch' END) AS name_argmax,
       trace_agg.any_last(t0.name) AS name,
       trace_agg.argmax_state(t0.metadata, CASE WHEN t0.metadata <> '{}' THEN t0.event_ts ELSE 'epoch' END) AS metadata_argmax,
       trace_agg.any_last(t0.metadata) AS metadata,
       trace_agg.argmax_state(t0.user_id, CASE WHEN t0.user_id <> '' THEN t0.event_ts ELSE 'epoch' END) AS user_id_argmax,
       trace_agg.any_last(t0.user_id) AS user_id,
       trace_agg.any_last(t0.environment) AS environment,
       trace_agg.group_uniq_array_array(t0.tags) AS tags,
       trace_agg.argmax_state(t0.version, CASE WHEN t0.version <> '' THEN t0.event_ts ELSE 'epoch' END) AS version,
       trace_agg.argmax_state(t0.release, CASE WHEN t0.release <> '' THEN t0.event_ts ELSE 'epoch' END) AS release,
       trace_agg.argmax_state(t0.bookmarked, CASE WHEN t0.bookmarked IS NOT NULL THEN t0.event_ts ELSE 'epoch' END) AS bookmarked,
       trace_agg.group_uniq_array_array(t0.observation_ids) AS observation_ids,
       trace_agg.sum_map(t0.usage_details) AS usage_details,
       trace_agg.sum_map(t0.cost_details) AS cost_details,
       trace_agg.argmax_state(t0.input, CASE WHEN t0.input <> '' THEN t0.event_ts ELSE 'epoch' END) AS input_argmax,
       trace_agg.argmax_state(t0.output, CASE WHEN t0.output <> '' THEN t0.event_ts ELSE 'epoch' END) AS output_argmax,
       trace_agg.any_last(t0.input) AS input,
       trace_agg.any_last(t0.output) AS output,
       min(t0.created_at) AS created_at, max(t0.updated_at) AS updated_at
FROM tv.traces_mt t0
GROUP BY t0.project_id, t0.id$q$;
SELECT trace_agg.create_materialized_view('traces_v1_amt_mv', 'traces_v1_amt', tv.v1_query());

-- v2: minMap metadata, the timestamp column, argMax only for UI and payloads.
CREATE TABLE traces_v2_amt (
    project_id text, id text, "timestamp" timestamptz, start_time timestamptz,
    name text, metadata trace_agg.text_map, tags text[],
    bookmarked trace_agg.argmax_bool, public trace_agg.argmax_bool,
    score_ids text[], usage_details trace_agg.uint64_map,
    input trace_agg.argmax_text, output trace_agg.argmax_text,
    PRIMARY KEY (project_id, id));
CREATE FUNCTION tv.v2_query() RETURNS text LANGUAGE sql RETURN $q$
SELECT t0.project_id, t0.id,
       min(t0.start_time) AS "timestamp", min(t0.start_time) AS start_time,
       trace_agg.any_last(t0.name) AS name,
       trace_agg.min_map(t0.metadata) AS metadata,
       trace_agg.group_uniq_array_array(t0.tags) AS tags,
       trace_agg.argmax_state(t0.bookmarked, CASE WHEN t0.bookmarked IS NOT NULL THEN t0.event_ts ELSE 'epoch' END) AS bookmarked,
       trace_agg.argmax_state(t0.public, CASE WHEN t0.public IS NOT NULL THEN t0.event_ts ELSE 'epoch' END) AS public,
       trace_agg.group_uniq_array_array(t0.score_ids) AS score_ids,
       trace_agg.sum_map(t0.usage_details) AS usage_details,
       trace_agg.argmax_state(t0.input, CASE WHEN t0.input <> '' THEN t0.event_ts ELSE 'epoch' END) AS input,
       trace_agg.argmax_state(t0.output, CASE WHEN t0.output <> '' THEN t0.event_ts ELSE 'epoch' END) AS output
FROM tv.traces_mt t0
GROUP BY t0.project_id, t0.id$q$;
SELECT trace_agg.create_materialized_view('traces_v2_amt_mv', 'traces_v2_amt', tv.v2_query());
SELECT view_name, source, target FROM trace_agg.materialized_views ORDER BY 1;

-- 120 traces over two months, 3,000 events in 30 statements; event_ts goes up
-- and down, names, metadata and payloads are rewritten, some values are ''.
SELECT setseed(0.42);
CREATE TEMP TABLE events AS
SELECT g AS seq,
       'p' || (g % 3) AS project_id,
       't' || (g % 40) AS id,
       timestamptz '2025-06-20' + (g % 40) * interval '1 day' AS start_time,
       CASE WHEN random() < 0.3 THEN timestamptz '2025-06-20' + (g % 40) * interval '1 day' + random() * interval '1 hour' END AS end_time,
       CASE WHEN random() < 0.4 THEN (ARRAY['', 'alpha', 'beta', 'Gamma', 'é'])[1 + floor(random() * 5)] END AS name,
       CASE WHEN random() < 0.3 THEN jsonb_build_object('k' || floor(random() * 3), (ARRAY['', 'a', 'B', 'z'])[1 + floor(random() * 4)])
            ELSE '{}' END::trace_agg.text_map AS metadata,
       CASE WHEN random() < 0.5 THEN 'u' || floor(random() * 4) WHEN random() < 0.2 THEN '' END AS user_id,
       (ARRAY['production', 'staging'])[1 + floor(random() * 2)] AS environment,
       CASE WHEN random() < 0.2 THEN ARRAY['tag' || floor(random() * 5), 'tag' || floor(random() * 5)] ELSE '{}' END AS tags,
       CASE WHEN random() < 0.1 THEN 'v' || floor(random() * 3) END AS version,
       CASE WHEN random() < 0.1 THEN 'r' || floor(random() * 3) END AS release,
       CASE WHEN random() < 0.05 THEN random() < 0.5 END AS bookmarked,
       CASE WHEN random() < 0.05 THEN random() < 0.5 END AS public,
       CASE WHEN random() < 0.5 THEN ARRAY['o' || g] ELSE '{}' END AS observation_ids,
       CASE WHEN random() < 0.1 THEN ARRAY['s' || floor(random() * 50)] ELSE '{}' END AS score_ids,
       CASE WHEN random() < 0.4 THEN jsonb_build_object('total', round((random() * 0.001)::numeric, 12)) ELSE '{}' END::trace_agg.decimal_map AS cost_details,
       CASE WHEN random() < 0.4 THEN jsonb_build_object('input', floor(random() * 1000), 'output', floor(random() * 100)) ELSE '{}' END::trace_agg.uint64_map AS usage_details,
       CASE WHEN random() < 0.2 THEN 'in ' || g ELSE '' END AS input,
       CASE WHEN random() < 0.2 THEN repeat('out ' || g || ' ', 1 + floor(random() * 200)::int) ELSE '' END AS output,
       timestamptz '2025-07-01' + floor(random() * 600) * interval '1 s' AS event_ts
FROM generate_series(1, 3000) g;

DO $$
BEGIN
    FOR b IN 0..29 LOOP
        INSERT INTO tv.traces_mt (project_id, id, start_time, end_time, name, metadata, user_id,
                                  environment, tags, version, release, bookmarked, public,
                                  observation_ids, score_ids, cost_details, usage_details,
                                  input, output, event_ts)
        SELECT project_id, id, start_time, end_time, name, metadata, user_id, environment, tags,
               version, release, bookmarked, public, observation_ids, score_ids, cost_details,
               usage_details, input, output, event_ts
        FROM events WHERE seq > b * 100 AND seq <= (b + 1) * 100 ORDER BY seq;
    END LOOP;
END
$$;

-- The source stored every row, routed to its month's partition.
SELECT tableoid::regclass AS partition, count(*) FROM traces_mt GROUP BY 1 ORDER BY 1;

-- Merged per statement and combined row by row, the targets equal one pass
-- over all the rows (states compared finalized, maps as jsonb).  Each trace
-- lives in one partition, in arrival order; hashing keeps that order within
-- a group, which a sort would not.
SET enable_sort = off;
CREATE TEMP TABLE one_pass_v1 AS SELECT * FROM traces_v1_amt WHERE false;
SELECT format('INSERT INTO one_pass_v1 %s', tv.v1_query()) AS q \gset
:q;
SELECT count(*) AS v1_rows,
       count(*) FILTER (WHERE (t.start_time, t.end_time, trace_agg.finalize(t.name_argmax), t.name,
                               trace_agg.finalize(t.metadata_argmax), t.metadata::jsonb,
                               trace_agg.finalize(t.user_id_argmax), t.user_id, t.environment, t.tags,
                               trace_agg.finalize(t.version), trace_agg.finalize(t.release),
                               trace_agg.finalize(t.bookmarked), t.observation_ids,
                               t.usage_details::jsonb, t.cost_details::jsonb,
                               trace_agg.finalize(t.input_argmax), trace_agg.finalize(t.output_argmax),
                               t.input, t.output, t.created_at, t.updated_at)
                              IS NOT DISTINCT FROM
                              (o.start_time, o.end_time, trace_agg.finalize(o.name_argmax), o.name,
                               trace_agg.finalize(o.metadata_argmax), o.metadata::jsonb,
                               trace_agg.finalize(o.user_id_argmax), o.user_id, o.environment, o.tags,
                               trace_agg.finalize(o.version), trace_agg.finalize(o.release),
                               trace_agg.finalize(o.bookmarked), o.observation_ids,
                               o.usage_details::jsonb, o.cost_details::jsonb,
                               trace_agg.finalize(o.input_argmax), trace_agg.finalize(o.output_argmax),
                               o.input, o.output, o.created_at, o.updated_at)) AS v1_equal
FROM traces_v1_amt t FULL JOIN one_pass_v1 o USING (project_id, id);

CREATE TEMP TABLE one_pass_v2 AS SELECT * FROM traces_v2_amt WHERE false;
SELECT format('INSERT INTO one_pass_v2 %s', tv.v2_query()) AS q \gset
:q;
SELECT count(*) AS v2_rows,
       count(*) FILTER (WHERE (t."timestamp", t.start_time, t.name, t.metadata::jsonb, t.tags,
                               trace_agg.finalize(t.bookmarked), trace_agg.finalize(t.public), t.score_ids,
                               t.usage_details::jsonb, trace_agg.finalize(t.input), trace_agg.finalize(t.output))
                              IS NOT DISTINCT FROM
                              (o."timestamp", o.start_time, o.name, o.metadata::jsonb, o.tags,
                               trace_agg.finalize(o.bookmarked), trace_agg.finalize(o.public), o.score_ids,
                               o.usage_details::jsonb, trace_agg.finalize(o.input), trace_agg.finalize(o.output))) AS v2_equal
FROM traces_v2_amt t FULL JOIN one_pass_v2 o USING (project_id, id);

RESET enable_sort;

-- A few values, checked against the rules by hand below.
SELECT id, name, trace_agg.finalize(name_argmax) AS name_argmax, metadata,
       trace_agg.finalize(metadata_argmax) AS metadata_argmax
FROM traces_v1_amt WHERE project_id = 'p0' AND id IN ('t0', 't3') ORDER BY id;
SELECT id, metadata AS min_map_metadata FROM traces_v2_amt WHERE project_id = 'p0' AND id IN ('t0', 't3') ORDER BY id;
-- The last non-NULL name of t0 in arrival order, and the name with the
-- greatest event_ts among non-empty ones (first arrival on ties):
SELECT (SELECT name FROM events WHERE id = 't0' AND project_id = 'p0' AND name IS NOT NULL ORDER BY seq DESC LIMIT 1) AS any_last_name,
       (SELECT name FROM events WHERE id = 't0' AND project_id = 'p0' AND name <> '' ORDER BY event_ts DESC, seq LIMIT 1) AS argmax_name;
-- minMap: per key, the bytewise least value ('' is the least).
SELECT e.key, min(e.value COLLATE "C") AS least
FROM events, jsonb_each_text(metadata) e WHERE id = 't0' AND project_id = 'p0' GROUP BY 1 ORDER BY 1;

SELECT trace_agg.drop_materialized_view('traces_v1_amt_mv');
SELECT trace_agg.drop_materialized_view('traces_v2_amt_mv');
RESET search_path;
DROP SCHEMA tv CASCADE;
