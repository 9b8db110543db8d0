-- Recompute every trace from raw_events (seq = arrival order) with plain SQL
-- and ClickHouse's rules, then compare with the read views.
\pset footer off
CREATE TEMP TABLE expected AS
WITH keys AS (
    SELECT project_id, id, min(start_time) AS start_time,
           max(coalesce(end_time, start_time)) AS end_time,
           min(created_at) AS created_at, max(updated_at) AS updated_at
    FROM raw_events GROUP BY project_id, id
), last_value AS (
    -- any_last: the last non-NULL value in arrival order
    SELECT k.project_id, k.id,
        (SELECT r.name FROM raw_events r WHERE (r.project_id, r.id) = (k.project_id, k.id) AND r.name IS NOT NULL ORDER BY seq DESC LIMIT 1) AS name,
        (SELECT r.user_id FROM raw_events r WHERE (r.project_id, r.id) = (k.project_id, k.id) AND r.user_id IS NOT NULL ORDER BY seq DESC LIMIT 1) AS user_id,
        (SELECT r.session_id FROM raw_events r WHERE (r.project_id, r.id) = (k.project_id, k.id) AND r.session_id IS NOT NULL ORDER BY seq DESC LIMIT 1) AS session_id,
        (SELECT r.environment FROM raw_events r WHERE (r.project_id, r.id) = (k.project_id, k.id) ORDER BY seq DESC LIMIT 1) AS environment,
        (SELECT r.version FROM raw_events r WHERE (r.project_id, r.id) = (k.project_id, k.id) AND r.version IS NOT NULL ORDER BY seq DESC LIMIT 1) AS version,
        (SELECT r.release FROM raw_events r WHERE (r.project_id, r.id) = (k.project_id, k.id) AND r.release IS NOT NULL ORDER BY seq DESC LIMIT 1) AS release,
        -- argMax: greatest key; among equal keys the first to arrive
        (SELECT r.input FROM raw_events r WHERE (r.project_id, r.id) = (k.project_id, k.id)
         ORDER BY CASE WHEN r.input <> '' THEN r.event_ts ELSE 'epoch' END DESC, seq LIMIT 1) AS input,
        (SELECT r.output FROM raw_events r WHERE (r.project_id, r.id) = (k.project_id, k.id)
         ORDER BY CASE WHEN r.output <> '' THEN r.event_ts ELSE 'epoch' END DESC, seq LIMIT 1) AS output,
        (SELECT r.bookmarked FROM raw_events r WHERE (r.project_id, r.id) = (k.project_id, k.id) AND r.bookmarked IS NOT NULL
         ORDER BY r.event_ts DESC, seq LIMIT 1) AS bookmarked,
        (SELECT r.public FROM raw_events r WHERE (r.project_id, r.id) = (k.project_id, k.id) AND r.public IS NOT NULL
         ORDER BY r.event_ts DESC, seq LIMIT 1) AS public
    FROM keys k
), sets AS (
    SELECT k.project_id, k.id,
        ARRAY(SELECT DISTINCT t COLLATE "C" FROM raw_events r, unnest(r.tags) t
              WHERE (r.project_id, r.id) = (k.project_id, k.id) ORDER BY 1) AS tags,
        ARRAY(SELECT DISTINCT t COLLATE "C" FROM raw_events r, unnest(r.observation_ids) t
              WHERE (r.project_id, r.id) = (k.project_id, k.id) ORDER BY 1) AS observation_ids,
        ARRAY(SELECT DISTINCT t COLLATE "C" FROM raw_events r, unnest(r.score_ids) t
              WHERE (r.project_id, r.id) = (k.project_id, k.id) ORDER BY 1) AS score_ids,
        (SELECT coalesce(jsonb_object_agg(key, v), '{}') FROM (
            SELECT e.key, max(e.value COLLATE "C") AS v FROM raw_events r, jsonb_each_text(r.metadata) e
            WHERE (r.project_id, r.id) = (k.project_id, k.id) GROUP BY e.key) m) AS metadata,
        (SELECT coalesce(jsonb_object_agg(key, v), '{}') FROM (
            SELECT e.key, sum(e.value::numeric) AS v FROM raw_events r, jsonb_each_text(r.usage_details) e
            WHERE (r.project_id, r.id) = (k.project_id, k.id) GROUP BY e.key) m) AS usage_details,
        (SELECT coalesce(jsonb_object_agg(key, v), '{}') FROM (
            SELECT e.key, sum(e.value::numeric) AS v FROM raw_events r, jsonb_each_text(r.cost_details) e
            WHERE (r.project_id, r.id) = (k.project_id, k.id) GROUP BY e.key) m) AS cost_details
    FROM keys k
)
SELECT * FROM keys JOIN last_value USING (project_id, id) JOIN sets USING (project_id, id);

CREATE TEMP VIEW diffs AS
SELECT 'all' AS tbl, e.project_id, e.id,
       a.id IS NULL AS missing,
       a.start_time IS DISTINCT FROM e.start_time OR a."timestamp" IS DISTINCT FROM e.start_time AS start_time_diff,
       a.end_time IS DISTINCT FROM e.end_time AS end_time_diff,
       a.name IS DISTINCT FROM e.name AS name_diff,
       a.user_id IS DISTINCT FROM e.user_id AS user_id_diff,
       a.session_id IS DISTINCT FROM e.session_id AS session_id_diff,
       a.environment IS DISTINCT FROM e.environment AS environment_diff,
       a.version IS DISTINCT FROM e.version OR a.release IS DISTINCT FROM e.release AS version_release_diff,
       a.bookmarked IS DISTINCT FROM e.bookmarked OR a.public IS DISTINCT FROM e.public AS ui_diff,
       a.tags::text[] IS DISTINCT FROM e.tags::text[] AS tags_diff,
       a.observation_ids::text[] IS DISTINCT FROM e.observation_ids::text[]
         OR a.score_ids::text[] IS DISTINCT FROM e.score_ids::text[] AS ids_diff,
       a.metadata::jsonb IS DISTINCT FROM e.metadata AS metadata_diff,
       a.usage_details::jsonb IS DISTINCT FROM e.usage_details
         OR a.cost_details::jsonb IS DISTINCT FROM e.cost_details AS usage_cost_diff,
       a.input IS DISTINCT FROM e.input OR a.output IS DISTINCT FROM e.output AS io_diff,
       a.created_at IS DISTINCT FROM e.created_at OR a.updated_at IS DISTINCT FROM e.updated_at AS created_updated_diff
FROM expected e LEFT JOIN traces_all a USING (project_id, id);

SELECT count(*) AS traces, count(*) FILTER (WHERE input <> '') AS with_input,
       count(*) FILTER (WHERE bookmarked IS NOT NULL) AS bookmarked,
       (SELECT count(*) FROM raw_events) AS events FROM expected;

SELECT count(*) FILTER (WHERE missing) AS missing,
       count(*) FILTER (WHERE start_time_diff) AS start_time, count(*) FILTER (WHERE end_time_diff) AS end_time,
       count(*) FILTER (WHERE name_diff) AS name, count(*) FILTER (WHERE user_id_diff) AS user_id,
       count(*) FILTER (WHERE session_id_diff) AS session_id, count(*) FILTER (WHERE environment_diff) AS env,
       count(*) FILTER (WHERE version_release_diff) AS ver_rel, count(*) FILTER (WHERE ui_diff) AS ui,
       count(*) FILTER (WHERE tags_diff) AS tags, count(*) FILTER (WHERE ids_diff) AS ids,
       count(*) FILTER (WHERE metadata_diff) AS metadata, count(*) FILTER (WHERE usage_cost_diff) AS usage_cost,
       count(*) FILTER (WHERE io_diff) AS io, count(*) FILTER (WHERE created_updated_diff) AS created_updated
FROM diffs;

-- The 7d and 30d tables hold exactly the traces whose UTC start date plus
-- the TTL is after now, with the same values as the all table.
SELECT 'rows' AS what,
       (SELECT count(*) FROM traces_7d) AS in_7d,
       (SELECT count(*) FROM traces_all WHERE start_time >= trace_agg.ttl_cutoff('7 days')) AS expected_7d,
       (SELECT count(*) FROM traces_30d) AS in_30d,
       (SELECT count(*) FROM traces_all WHERE start_time >= trace_agg.ttl_cutoff('30 days')) AS expected_30d;

SELECT CASE WHEN (SELECT count(*) FROM diffs WHERE missing OR start_time_diff OR end_time_diff OR name_diff
                  OR user_id_diff OR session_id_diff OR environment_diff OR version_release_diff OR ui_diff
                  OR tags_diff OR ids_diff OR metadata_diff OR usage_cost_diff OR io_diff OR created_updated_diff) = 0
             AND (SELECT count(*) FROM traces_all) = (SELECT count(*) FROM expected)
             AND (SELECT count(*) FROM traces_7d_amt) = (SELECT count(*) FROM traces_all WHERE start_time >= trace_agg.ttl_cutoff('7 days'))
             AND (SELECT count(*) FROM traces_30d_amt) = (SELECT count(*) FROM traces_all WHERE start_time >= trace_agg.ttl_cutoff('30 days'))
             AND NOT EXISTS (SELECT project_id, id, start_time, name, tags, input, output FROM traces_7d
                             EXCEPT SELECT project_id, id, start_time, name, tags, input, output FROM traces_all)
             AND NOT EXISTS (SELECT project_id, id, start_time, name, tags, input, output FROM traces_30d
                             EXCEPT SELECT project_id, id, start_time, name, tags, input, output FROM traces_all)
        THEN 'ok' ELSE 'DIFFERENCES' END AS verdict \gset
\echo :verdict
