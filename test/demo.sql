-- What the demo shows once the stream is in.
\pset pager off
\echo '== rows: traces_null stores nothing; traces_all_amt holds one merged row per trace, the windows read it'
SELECT (SELECT count(*) FROM traces_null) AS traces_null,
       (SELECT count(*) FROM traces_all_amt) AS traces_all_amt,
       (SELECT count(*) FROM traces_30d) AS traces_30d,
       (SELECT count(*) FROM traces_7d) AS traces_7d;

\echo '== storage: bytes per trace, input/output kept zstd-compressed in argmax_text states'
SELECT pg_size_pretty(pg_total_relation_size('traces_all_amt')) AS traces_all_amt_total,
       pg_total_relation_size('traces_all_amt') / greatest(count(*), 1) AS bytes_per_trace,
       pg_size_pretty(sum(pg_column_size(input) + pg_column_size(output))) AS io_stored,
       pg_size_pretty(sum(octet_length(trace_agg.finalize(input)) + octet_length(trace_agg.finalize(output)))) AS io_raw
FROM traces_all_amt;

\echo '== the materialized views'
SELECT view_name, target, ttl_column, ttl FROM trace_agg.materialized_views ORDER BY view_name;

\echo '== the five traces with the most observations, collapsed (traces_all)'
SELECT project_id, id, name, user_id, environment, tags, start_time,
       cardinality(observation_ids) AS observations, cardinality(score_ids) AS scores,
       usage_details, cost_details, metadata, bookmarked,
       left(input, 40) AS input_head, octet_length(output) AS output_bytes
FROM traces_all
ORDER BY cardinality(observation_ids) DESC, project_id, id
LIMIT 5;

\echo '== traces page of the busiest project: last 7 days, newest first (traces_7d)'
SELECT id, name, start_time, end_time - start_time AS duration, user_id, tags,
       (usage_details->>'total')::bigint AS tokens, (cost_details->>'total')::numeric AS cost
FROM traces_7d
WHERE project_id = (SELECT project_id FROM traces_all_amt GROUP BY 1 ORDER BY count(*) DESC LIMIT 1)
ORDER BY start_time DESC
LIMIT 10;

\echo '== users of that project by token usage'
SELECT user_id, count(*) AS traces, sum((usage_details->>'total')::bigint) AS tokens,
       sum((cost_details->>'total')::numeric) AS cost
FROM traces_30d
WHERE project_id = (SELECT project_id FROM traces_all_amt GROUP BY 1 ORDER BY count(*) DESC LIMIT 1)
  AND user_id IS NOT NULL
GROUP BY user_id ORDER BY tokens DESC NULLS LAST LIMIT 5;
