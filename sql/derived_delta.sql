-- Derived views in delta mode (issue 14): each statement's change, the
-- aggregates over its new rows minus those over its old rows, is added to
-- the target's rows; the source is not read again.  Accepted only where
-- that equals a recomputation.  Every check compares the targets, as text
-- (so a numeric's scale counts too), with the views' own queries: a
-- one-pass GROUP BY over the source (0 differences expected).
CREATE SCHEMA dd;
SET search_path = dd, public;

CREATE TABLE obs (
    id text PRIMARY KEY, trace_id text, session_id text, usage bigint,
    cost numeric(12, 2), tokens integer NOT NULL DEFAULT 0, level text);
CREATE INDEX ON obs (trace_id);
CREATE TABLE traces (
    trace_id text PRIMARY KEY, session_id text, observations bigint, usage numeric(20, 0),
    usage_count bigint, cost numeric, cost_count bigint, errors bigint, tokens numeric,
    error_tokens bigint, errors_counted bigint);
CREATE TABLE sessions (
    session_id text PRIMARY KEY, traces bigint, usage numeric, usage_count bigint);

-- Refusals: each names the column or the reason, and hints at recompute.
SELECT trace_agg.create_derived_view('bad', 'traces',
    'SELECT trace_id, count(*) AS observations FROM obs GROUP BY trace_id', mode => 'fast');
SELECT trace_agg.create_derived_view('bad', 'traces',
    'SELECT trace_id, count(*) AS observations FROM obs GROUP BY trace_id', mode => NULL);
-- no unfiltered count(*): a key's row could not go when its last row does
SELECT trace_agg.create_derived_view('bad', 'traces', $$
    SELECT trace_id, count(*) FILTER (WHERE level = 'ERROR') AS errors FROM obs GROUP BY trace_id$$,
    mode => 'delta');
-- aggregates that are not invertible
SELECT trace_agg.create_derived_view('bad', 'traces', $$
    SELECT trace_id, count(*) AS observations, avg(usage) AS usage FROM obs GROUP BY trace_id$$,
    mode => 'delta');
SELECT trace_agg.create_derived_view('bad', 'traces', $$
    SELECT trace_id, count(*) AS observations, max(session_id) AS session_id FROM obs GROUP BY trace_id$$,
    mode => 'delta');
SELECT trace_agg.create_derived_view('bad', 'traces', $$
    SELECT trace_id, count(*) AS observations, count(DISTINCT level) AS errors FROM obs GROUP BY trace_id$$,
    mode => 'delta');
-- float sums drift; other types are not summed
SELECT trace_agg.create_derived_view('bad', 'traces', $$
    SELECT trace_id, count(*) AS observations, sum(usage::float8) AS usage, count(usage) AS usage_count
    FROM obs GROUP BY trace_id$$, mode => 'delta');
SELECT trace_agg.create_derived_view('bad', 'traces', $$
    SELECT trace_id, count(*) AS observations, sum(interval '1 s') AS usage FROM obs GROUP BY trace_id$$,
    mode => 'delta');
-- an expression over aggregates
SELECT trace_agg.create_derived_view('bad', 'traces', $$
    SELECT trace_id, count(*) AS observations, count(usage) * 2 AS usage_count FROM obs GROUP BY trace_id$$,
    mode => 'delta');
-- a sum of a nullable column without its count, or with a count of another FILTER
SELECT trace_agg.create_derived_view('bad', 'traces', $$
    SELECT trace_id, count(*) AS observations, sum(usage) AS usage FROM obs GROUP BY trace_id$$,
    mode => 'delta');
SELECT trace_agg.create_derived_view('bad', 'traces', $$
    SELECT trace_id, count(*) AS observations, sum(usage) FILTER (WHERE level = 'ERROR') AS usage,
           count(usage) AS usage_count FROM obs GROUP BY trace_id$$,
    mode => 'delta');
-- a filtered sum of a NOT NULL column needs a count(*) of the same FILTER
SELECT trace_agg.create_derived_view('bad', 'traces', $$
    SELECT trace_id, count(*) AS observations, sum(tokens) FILTER (WHERE level = 'ERROR') AS error_tokens
    FROM obs GROUP BY trace_id$$,
    mode => 'delta');
-- numeric without a fixed scale, and a column of a smaller scale
SELECT trace_agg.create_derived_view('bad', 'traces', $$
    SELECT trace_id, count(*) AS observations, sum(cost::numeric) AS cost, count(cost::numeric) AS cost_count
    FROM obs GROUP BY trace_id$$, mode => 'delta');
ALTER TABLE traces ALTER cost TYPE numeric(14, 1);
SELECT trace_agg.create_derived_view('bad', 'traces', $$
    SELECT trace_id, count(*) AS observations, sum(cost) AS cost, count(cost) AS cost_count
    FROM obs GROUP BY trace_id$$, mode => 'delta');
ALTER TABLE traces ALTER cost TYPE numeric;
-- a count into a column that is not bigint or numeric
ALTER TABLE traces ALTER errors TYPE integer;
SELECT trace_agg.create_derived_view('bad', 'traces', $$
    SELECT trace_id, count(*) AS observations, count(*) FILTER (WHERE level = 'ERROR') AS errors
    FROM obs GROUP BY trace_id$$, mode => 'delta');
ALTER TABLE traces ALTER errors TYPE bigint;
-- a function that is not immutable
SELECT trace_agg.create_derived_view('bad', 'traces', $$
    SELECT trace_id, count(*) AS observations FROM obs
    WHERE level <> to_char(now(), 'YYYY') GROUP BY trace_id$$, mode => 'delta');
-- a target with a TTL, or shared with a materialized view
CREATE TABLE ttl_target (trace_id text PRIMARY KEY, observations bigint, seen timestamptz DEFAULT '2026-01-01');
SELECT trace_agg.set_ttl('ttl_target', 'seen', interval '1 year');
SELECT trace_agg.create_derived_view('bad', 'ttl_target',
    'SELECT trace_id, count(*) AS observations FROM obs GROUP BY trace_id', mode => 'delta');
CREATE TABLE events (trace_id text, name text) USING trace_agg_null;
CREATE TABLE shared (trace_id text PRIMARY KEY, observations bigint, name text);
SELECT trace_agg.create_materialized_view('shared_mv', 'shared',
    'SELECT trace_id, trace_agg.any_last(name) AS name FROM events GROUP BY trace_id');
SELECT trace_agg.create_derived_view('bad', 'shared',
    'SELECT trace_id, count(*) AS observations FROM obs GROUP BY trace_id', mode => 'delta');
SELECT trace_agg.drop_materialized_view('shared_mv');
SELECT trace_agg.create_derived_view('shared_dv', 'shared',
    'SELECT trace_id, count(*) AS observations FROM obs GROUP BY trace_id', mode => 'delta');
SELECT trace_agg.create_materialized_view('shared_mv', 'shared',
    'SELECT trace_id, trace_agg.any_last(name) AS name FROM events GROUP BY trace_id');
SELECT trace_agg.drop_derived_view('shared_dv');
-- nothing was created
SELECT count(*) FROM trace_agg.derived_views;

-- Rows present at creation are computed as a recomputation does.
INSERT INTO obs VALUES ('o1', 't1', 's1', 5, 1.50, 10, 'DEFAULT'), ('o2', 't1', 's1', NULL, NULL, 3, 'ERROR'),
                       ('o3', 't2', 's1', 7, 0.25, 1, 'DEBUG');
SELECT trace_agg.create_derived_view('traces_dv', 'traces', $$
    SELECT trace_id, max(session_id) AS session_id, count(*) AS observations,
           sum(usage) AS usage, count(usage) AS usage_count, sum(cost) AS cost, count(cost) AS cost_count,
           count(*) FILTER (WHERE level = 'ERROR') AS errors, sum(tokens) AS tokens,
           sum(tokens) FILTER (WHERE level = 'ERROR') AS error_tokens,
           count(*) FILTER (WHERE level = 'ERROR') AS errors_counted
    FROM obs WHERE level IS DISTINCT FROM 'DEBUG' GROUP BY trace_id$$, mode => 'delta');
-- max(session_id) was refused above; the view keeps session ids out
SELECT trace_agg.create_derived_view('traces_dv', 'traces', $$
    SELECT trace_id, count(*) AS observations,
           sum(usage) AS usage, count(usage) AS usage_count, sum(cost) AS cost, count(cost) AS cost_count,
           count(*) FILTER (WHERE level = 'ERROR') AS errors, sum(tokens) AS tokens,
           sum(tokens) FILTER (WHERE level = 'ERROR') AS error_tokens,
           count(*) FILTER (WHERE level = 'ERROR') AS errors_counted
    FROM obs WHERE level IS DISTINCT FROM 'DEBUG' GROUP BY trace_id$$, mode => 'delta');
-- A chain: a delta view of the delta view's target.
SELECT trace_agg.create_derived_view('sessions_dv', 'sessions', $$
    SELECT session_id, count(*) AS traces, sum(usage) AS usage, count(usage) AS usage_count
    FROM traces WHERE session_id IS NOT NULL GROUP BY session_id$$, mode => 'delta');
SELECT view_name, source, target, mode FROM trace_agg.derived_views ORDER BY 1;
SELECT view, mode, lock_statement IS NULL AS no_lock, key_types,
       delta_statement LIKE '%trace_agg_old_rows%' AND delta_statement LIKE '%trace_agg_new_rows%'
           AS reads_transition_tables,
       statement LIKE '%ON CONFLICT%' AS upserts, cleanup_statement LIKE '%DELETE%' AS deletes
FROM trace_agg.derived_view_statements('obs');

-- traces.session_id is written by hand (the view does not write it): the
-- sessions chain follows it.
CREATE FUNCTION differences() RETURNS TABLE (traces bigint, sessions bigint)
LANGUAGE sql AS $$
    SELECT (SELECT count(*) FROM ((SELECT (trace_id, observations, usage, usage_count, cost, cost_count,
                                           errors, tokens, error_tokens, errors_counted)::text FROM traces
                                   EXCEPT ALL SELECT v::text FROM traces_dv v)
                                  UNION ALL (SELECT v::text FROM traces_dv v
                                   EXCEPT ALL SELECT (trace_id, observations, usage, usage_count, cost, cost_count,
                                           errors, tokens, error_tokens, errors_counted)::text FROM traces)) d),
           (SELECT count(*) FROM ((SELECT s::text FROM sessions s EXCEPT ALL SELECT v::text FROM sessions_dv v)
                                  UNION ALL (SELECT v::text FROM sessions_dv v EXCEPT ALL SELECT s::text FROM sessions s)) d)
$$;
SELECT * FROM traces ORDER BY trace_id;
SELECT * FROM differences();

-- Every kind of statement.
INSERT INTO obs VALUES ('o4', 't1', 's1', 4, 2.00, 5, 'ERROR'), ('o5', 't3', 's2', NULL, 0.10, 0, 'DEFAULT');
SELECT * FROM differences();
UPDATE traces SET session_id = 's' || right(trace_id, 1);
SELECT * FROM sessions ORDER BY session_id;
SELECT * FROM differences();
-- update of non-key columns: a value, a value to NULL, NULL to a value
UPDATE obs SET usage = usage + 100 WHERE id = 'o1';
UPDATE obs SET usage = NULL, cost = NULL WHERE id = 'o4';
UPDATE obs SET usage = 0 WHERE id = 'o5';
SELECT * FROM traces ORDER BY trace_id;
SELECT * FROM differences();
-- the last non-null value goes: the sum is NULL again, not 0
UPDATE obs SET usage = NULL WHERE id = 'o5';
SELECT trace_id, usage, usage_count FROM traces WHERE trace_id = 't3';
SELECT * FROM differences();
-- a row entering and leaving the WHERE clause
UPDATE obs SET level = 'DEFAULT' WHERE id = 'o3';
UPDATE obs SET level = 'DEBUG' WHERE id = 'o2';
SELECT * FROM differences();
-- a key moving between groups, to a new group and away from its last one
UPDATE obs SET trace_id = 't3' WHERE id = 'o1';
UPDATE obs SET trace_id = 't9' WHERE id = 'o3';
SELECT trace_id, observations FROM traces ORDER BY trace_id;
SELECT * FROM differences();
-- delete, and delete a group's last row: its row goes
DELETE FROM obs WHERE id = 'o4';
DELETE FROM obs WHERE trace_id = 't9';
SELECT trace_id, observations FROM traces ORDER BY trace_id;
SELECT * FROM differences();
-- upserts: the UPDATE and INSERT firings of one statement add up
INSERT INTO obs VALUES ('o5', 't3', 's3', 50, 5.00, 7, 'ERROR'), ('o6', 't3', 's3', 1, 1.00, 1, 'DEFAULT'),
                       ('o7', 't4', 's4', 2, 0.05, 2, 'DEFAULT')
ON CONFLICT (id) DO UPDATE SET usage = excluded.usage, cost = excluded.cost, tokens = excluded.tokens,
                               level = excluded.level;
SELECT * FROM traces ORDER BY trace_id;
SELECT * FROM differences();
-- a statement that changes no aggregate writes no row
UPDATE obs SET session_id = 'elsewhere';
SELECT * FROM differences();
-- a rolled back statement leaves the target as it was
BEGIN;
DELETE FROM obs;
SELECT count(*) FROM traces;
ROLLBACK;
SELECT * FROM differences();
-- no key lock is taken: the upsert's row locks order writers
BEGIN;
UPDATE obs SET usage = usage + 1;
SELECT count(*) AS key_locks FROM pg_locks
WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND objsubid IN (29796, 29803);
COMMIT;
SELECT * FROM differences();
-- TRUNCATE recomputes (the target is emptied), and so does refresh
TRUNCATE obs;
SELECT count(*) FROM traces;
INSERT INTO obs VALUES ('o1', 't1', 's1', 1, 1.00, 1, 'DEFAULT'), ('o2', 't2', 's1', 2, 2.00, 2, 'ERROR');
UPDATE traces SET session_id = 's1';
SELECT * FROM differences();
UPDATE traces SET observations = 99;
SELECT trace_agg.refresh_derived_view('traces_dv');
SELECT trace_id, session_id, observations FROM traces ORDER BY 1;
SELECT * FROM differences();

-- Upserts from an upstream materialized view (a replacing view keeping the
-- latest version of each child) are changes too.
CREATE TABLE versions (id text, trace_id text, usage bigint, version bigint) USING trace_agg_null;
CREATE TABLE latest (id text PRIMARY KEY, trace_id text, usage bigint, version bigint);
CREATE INDEX ON latest (trace_id);
SELECT trace_agg.create_materialized_view('latest_mv', 'latest',
    'SELECT id, trace_id, usage, version FROM versions', version => 'version');
CREATE TABLE latest_totals (trace_id text PRIMARY KEY, children bigint, usage numeric, usage_count bigint);
SELECT trace_agg.create_derived_view('latest_totals_dv', 'latest_totals', $$
    SELECT trace_id, count(*) AS children, sum(usage) AS usage, count(usage) AS usage_count
    FROM latest GROUP BY trace_id$$, mode => 'delta');
INSERT INTO versions VALUES ('c1', 'a', 10, 1), ('c2', 'a', 20, 1), ('c1', 'a', 11, 2);
INSERT INTO versions VALUES ('c1', 'a', 5, 1), ('c2', 'b', 21, 2), ('c3', 'b', NULL, 1);
INSERT INTO versions VALUES ('c3', 'b', 3, 3), ('c1', 'b', 12, 3);
SELECT * FROM latest_totals ORDER BY 1;
SELECT count(*) AS differences FROM ((TABLE latest_totals EXCEPT ALL TABLE latest_totals_dv)
                                     UNION ALL (TABLE latest_totals_dv EXCEPT ALL TABLE latest_totals)) d;

-- sum_map: per-key sums of maps; a key whose total falls to 0 stays while
-- a row carries it, as in a recomputation, and goes with its last carrier.
CREATE TABLE spans (id text PRIMARY KEY, trace_id text, usage trace_agg.uint64_map,
                    cost trace_agg.decimal_map, level text);
CREATE INDEX ON spans (trace_id);
CREATE TABLE span_totals (trace_id text PRIMARY KEY, spans bigint, usage trace_agg.uint64_map,
                          cost trace_agg.decimal_map, error_usage trace_agg.uint64_map);
SELECT trace_agg.create_derived_view('bad', 'span_totals', $$
    SELECT trace_id, count(*) AS spans, trace_agg.sum_map(usage::jsonb::trace_agg.decimal_map) AS usage
    FROM spans GROUP BY trace_id$$, mode => 'delta');
SELECT trace_agg.create_derived_view('span_totals_dv', 'span_totals', $$
    SELECT trace_id, count(*) AS spans, trace_agg.sum_map(usage) AS usage, trace_agg.sum_map(cost) AS cost,
           trace_agg.sum_map(usage) FILTER (WHERE level = 'ERROR' OR level = 'FATAL') AS error_usage
    FROM spans GROUP BY trace_id$$, mode => 'delta');
CREATE FUNCTION span_differences() RETURNS bigint LANGUAGE sql AS $$
    SELECT count(*) FROM ((SELECT t::text FROM span_totals t EXCEPT ALL SELECT v::text FROM span_totals_dv v)
                          UNION ALL (SELECT v::text FROM span_totals_dv v EXCEPT ALL SELECT t::text FROM span_totals t)) d
$$;
INSERT INTO spans VALUES ('s1', 't1', '{"in": 5, "out": 1}', '{"in": 0.5}', 'ERROR'),
                         ('s2', 't1', NULL, '{"x": 0}', 'DEFAULT');
SELECT * FROM span_totals;
-- "out" leaves with its only carrier
UPDATE spans SET usage = '{"in": 7}' WHERE id = 's1';
SELECT * FROM span_totals;
SELECT span_differences();
-- a second carrier of "in" with 0, and a new key
UPDATE spans SET usage = '{"in": 0, "z": 3}' WHERE id = 's2';
SELECT span_differences();
-- "in" at 0 stays while s2 carries it; negative decimals, "x" goes
UPDATE spans SET usage = '{"in": 0}', cost = '{"x": -0.5, "in": 0.25}' WHERE id = 's2';
UPDATE spans SET usage = '{}', level = 'DEFAULT' WHERE id = 's1';
SELECT * FROM span_totals;
SELECT span_differences();
-- a span entering and leaving the FILTER
UPDATE spans SET level = 'FATAL' WHERE id = 's2';
SELECT error_usage FROM span_totals;
UPDATE spans SET level = 'DEFAULT' WHERE id = 's2';
SELECT span_differences();
-- the last carrier of "in" goes: so does the key
UPDATE spans SET usage = '{"z": 1}' WHERE id = 's2';
SELECT * FROM span_totals;
SELECT span_differences();
DELETE FROM spans;
SELECT count(*) FROM span_totals;

-- A TTL cannot be set on a delta view's target later either.
ALTER TABLE latest_totals ADD seen timestamptz;
SELECT trace_agg.set_ttl('latest_totals', 'seen', interval '1 day');

SELECT trace_agg.drop_derived_view('sessions_dv');
SELECT trace_agg.drop_derived_view('traces_dv');
SELECT trace_agg.drop_derived_view('latest_totals_dv');
SELECT trace_agg.drop_derived_view('span_totals_dv');
SELECT trace_agg.drop_materialized_view('latest_mv');
SELECT trace_agg.remove_ttl('ttl_target');
RESET search_path;
DROP SCHEMA dd CASCADE;
