-- The traces setup of the reference: traces_null fanned out into the all,
-- 7d and 30d tables; ClickHouse's tie rules, out-of-order events, atomicity,
-- TTL at UTC midnight and ghost rows.
CREATE SCHEMA tr;
SELECT trace_agg.create_traces_tables('tr', windows => 'tables');
SET search_path = tr, public;

SELECT c.relname, a.amname, c.relkind
FROM pg_class c LEFT JOIN pg_am a ON a.oid = c.relam
WHERE c.relnamespace = 'tr'::regnamespace AND c.relkind IN ('r', 'v')
ORDER BY c.relname;
SELECT view_name, source, target, ttl_column, ttl, ttl_reference
FROM trace_agg.materialized_views ORDER BY view_name;
-- The tables are the user's, not the extension's.
SELECT count(*) AS extension_members
FROM pg_depend d JOIN pg_class c ON d.classid = 'pg_class'::regclass AND d.objid = c.oid
WHERE d.deptype = 'e' AND c.relnamespace = 'tr'::regnamespace;
SELECT indexrelid::regclass AS index, pg_get_indexdef(indexrelid) LIKE '%(project_id, "timestamp" DESC)%' AS by_time
FROM pg_index WHERE indrelid = 'traces_all_amt'::regclass ORDER BY 1;

-- A trace in four statements, as the product sends it.  Times are today's,
-- so that the 7-day table keeps it.
CREATE TEMP TABLE clock AS SELECT date_trunc('hour', now()) - interval '1 hour' AS t0;
INSERT INTO traces_null (project_id, id, start_time, name, user_id, session_id, metadata, tags,
                         input, environment, event_ts)
SELECT 'p1', 't1', t0, 'first name', 'u1', 's1', '{"region":"eu","tier":"b"}', '{beta,chat}',
       '{"q":"one"}', 'production', t0 FROM clock;
-- Two observations in one statement; the second repeats an id.
INSERT INTO traces_null (project_id, id, start_time, observation_ids, usage_details, cost_details, event_ts)
SELECT 'p1', 't1', t0, ids, usage, cost, t0 + interval '1 s'
FROM clock, (VALUES ('{o1}'::text[], '{"input":100,"output":20}'::trace_agg.uint64_map, '{"total":0.000001500001}'::trace_agg.decimal_map),
                    ('{o2,o1}', '{"input":18446744073709551000}', '{"total":-0.000000500001}')) v(ids, usage, cost);
-- An update: a new name (any_last), output, metadata rewrite (maxMap keeps the
-- bytewise greatest value per key), one more tag, a bookmark.
INSERT INTO traces_null (project_id, id, start_time, name, metadata, tags, output, bookmarked, end_time, event_ts)
SELECT 'p1', 't1', t0, 'final name', '{"region":"ap","extra":""}', '{chat,Zeta}', '{"a":"two"}', true,
       t0 + interval '5 s', t0 + interval '5 s' FROM clock;
-- A NULL name and NULL bookmark change nothing; an empty output loses to the real one.
INSERT INTO traces_null (project_id, id, start_time, output, event_ts)
SELECT 'p1', 't1', t0, '', t0 + interval '9 s' FROM clock;

SELECT id, name, user_id, session_id, metadata, tags, observation_ids, usage_details, cost_details,
       input, output, bookmarked, public, end_time - start_time AS duration,
       start_time = "timestamp" AS timestamp_is_start
FROM traces_all;
-- The three tables agree; traces_null stores nothing.
SELECT (SELECT count(*) FROM traces_null) AS null_rows,
       (SELECT row(a.*)::text FROM traces_all a) = (SELECT row(s.*)::text FROM traces_7d s) AS all_eq_7d,
       (SELECT row(a.*)::text FROM traces_all a) = (SELECT row(s.*)::text FROM traces_30d s) AS all_eq_30d;

-- Ties on event_ts: the first row of a statement wins; across statements the
-- stored value wins.  A late (out-of-order) row with an older event_ts loses.
INSERT INTO traces_null (project_id, id, start_time, output, event_ts)
SELECT 'p1', 't2', t0, o, t0 + interval '1 min' FROM clock, (VALUES ('first'), ('second')) v(o);
INSERT INTO traces_null (project_id, id, start_time, output, event_ts)
SELECT 'p1', 't2', t0, 'third, same time', t0 + interval '1 min' FROM clock;
INSERT INTO traces_null (project_id, id, start_time, output, event_ts)
SELECT 'p1', 't2', t0, 'late and older', t0 + interval '30 s' FROM clock;
SELECT id, output FROM traces_all WHERE id = 't2';
-- any_last: the last non-NULL value in arrival order, '' included.
INSERT INTO traces_null (project_id, id, start_time, name, event_ts)
SELECT 'p1', 't2', t0, n, t0 FROM clock, (VALUES ('a'), (NULL), ('b'), (NULL)) v(n);
SELECT id, name FROM traces_all WHERE id = 't2';
INSERT INTO traces_null (project_id, id, start_time, name, event_ts)
SELECT 'p1', 't2', t0, '', t0 FROM clock;
SELECT id, name = '' AS name_is_empty FROM traces_all WHERE id = 't2';

-- A statement that fails in one view changes nothing anywhere: here the
-- usage total of t1 would pass 2^64-1.  (The context, the internal merge
-- statement, is not shown.)
\set SHOW_CONTEXT never
INSERT INTO traces_null (project_id, id, start_time, usage_details, event_ts)
SELECT 'p1', id, t0, u::trace_agg.uint64_map, t0 FROM clock,
       (VALUES ('t3', '{"input":1}'), ('t1', '{"input":18446744073709551615}')) v(id, u);
\set SHOW_CONTEXT errors
SELECT id, usage_details FROM traces_all ORDER BY id;
SELECT count(*) AS t3_rows FROM traces_30d_amt WHERE id = 't3';
-- NULL keys are refused by the null table's constraints.
\set VERBOSITY terse
INSERT INTO traces_null (project_id, id, start_time) VALUES ('p1', NULL, now());
\set VERBOSITY default

--
-- TTL: a row lives while its UTC start date plus the TTL is after now, so the
-- boundary is a UTC midnight whatever the session's time zone (offsets
-- below are in hours: days in New York's zone may span a DST change).
--
SET TimeZone = 'America/New_York';
SELECT trace_agg.ttl_cutoff('7 days') = (date_trunc('day', now() AT TIME ZONE 'UTC') - interval '6 days') AT TIME ZONE 'UTC'
       AS cutoff_is_utc_midnight_6_days_ago,
       trace_agg.ttl_cutoff('30 days') = (date_trunc('day', now() AT TIME ZONE 'UTC') - interval '29 days') AT TIME ZONE 'UTC'
       AS cutoff_30d;
INSERT INTO traces_null (project_id, id, start_time, event_ts)
SELECT 'p2', id, trace_agg.ttl_cutoff('7 days') + d, now() FROM
  (VALUES ('at-7d-cutoff', interval '0'), ('just-before-7d-cutoff', - interval '1 microsecond'),
          ('at-30d-cutoff', - interval '552 hours'), ('before-30d-cutoff', - interval '552 hours 0.000001 s'),
          ('ten-days-old', - interval '96 hours')) v(id, d);
SELECT a.id,
       EXISTS (SELECT FROM traces_7d_amt s WHERE (s.project_id, s.id) = (a.project_id, a.id)) AS in_7d,
       EXISTS (SELECT FROM traces_30d_amt s WHERE (s.project_id, s.id) = (a.project_id, a.id)) AS in_30d
FROM traces_all_amt a WHERE a.project_id = 'p2' ORDER BY a.start_time DESC;
RESET TimeZone;

-- No ghost rows: a late score of the ten-days-old trace, sent with a recent
-- start_time, does not create a partial row in the 7-day table, because the
-- all table knows the trace's real start.
INSERT INTO traces_null (project_id, id, start_time, score_ids, event_ts)
VALUES ('p2', 'ten-days-old', now(), '{late-score}', now());
SELECT id, score_ids, start_time = trace_agg.ttl_cutoff('7 days') - interval '96 hours' AS real_start_kept
FROM traces_all WHERE id = 'ten-days-old';
SELECT count(*) AS ghost_rows_in_7d FROM traces_7d_amt WHERE id = 'ten-days-old';
SELECT score_ids FROM traces_30d WHERE id = 'ten-days-old';

-- Rows that expired after they were written: the read views hide them at
-- once, purge_expired() deletes them.
INSERT INTO traces_7d_amt (project_id, id, start_time) VALUES ('p3', 'expired', now() - interval '8 days');
SELECT count(*) AS visible_in_traces_7d FROM traces_7d WHERE id = 'expired';
SELECT trace_agg.purge_expired() AS purged;
SELECT count(*) AS left_in_7d_amt FROM traces_7d_amt WHERE id = 'expired';
SELECT trace_agg.purge_expired() AS purged_again;

-- Backfill from a legacy table with one INSERT ... SELECT, and states written
-- straight into a target with INSERT ... SELECT ... GROUP BY.
CREATE TABLE legacy (project_id text, id text, ts timestamptz, name text, input text, tokens bigint);
INSERT INTO legacy
SELECT 'p4', 'l' || (g % 100), now() - interval '1 hour', 'legacy ' || g, 'input ' || g, g
FROM generate_series(1, 10000) g;
INSERT INTO traces_null (project_id, id, start_time, name, input, usage_details, event_ts)
SELECT project_id, id, ts, name, input, jsonb_build_object('total', tokens), ts + g * interval '1 ms'
FROM legacy, LATERAL (SELECT tokens AS g) x ORDER BY tokens;
SELECT count(*) AS traces, sum((usage_details->>'total')::numeric) AS total_tokens,
       sum((usage_details->>'total')::numeric) = (SELECT sum(tokens) FROM legacy) AS sums_match
FROM traces_all WHERE project_id = 'p4';
SELECT id, name, input FROM traces_all WHERE project_id = 'p4' AND id = 'l7';
INSERT INTO traces_all_amt (project_id, id, start_time, "timestamp", input, output, bookmarked, public, tags)
SELECT project_id, 'direct-' || id, min(ts), min(ts), trace_agg.argmax_state(input, ts),
       trace_agg.argmax_state(''::text, ts), trace_agg.argmax_state(NULL::boolean, ts),
       trace_agg.argmax_state(NULL::boolean, ts), '{}'
FROM legacy WHERE id = 'l7' GROUP BY project_id, id;
SELECT id, input, output, bookmarked FROM traces_all WHERE id = 'direct-l7';

-- Dropping a table the views use is refused.
DROP TABLE traces_null;

SELECT trace_agg.drop_materialized_view(v) FROM unnest(ARRAY['traces_all_amt_mv', 'traces_7d_amt_mv', 'traces_30d_amt_mv']) v;
SELECT trace_agg.remove_ttl(t) FROM unnest(ARRAY['tr.traces_7d_amt', 'tr.traces_30d_amt']::regclass[]) t;
RESET search_path;
DROP SCHEMA tr CASCADE;
SELECT count(*) AS views_left FROM trace_agg.materialized_view;
SELECT count(*) AS ttls_left FROM trace_agg.ttl;
