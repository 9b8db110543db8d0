-- Insert tokens (trace_agg.insert_token), ClickHouse's
-- insert_deduplication_token: a batch carrying a token already applied to
-- the same source within trace_agg.insert_token_window is skipped as a
-- whole, so a client retrying a batch that had in fact committed does not
-- double sum_map usage and cost.  Anything that undoes the first attempt
-- (ROLLBACK, a failed statement) undoes its token too.
CREATE SCHEMA tok;
SELECT trace_agg.create_traces_tables('tok', windows => 'tables');
SET search_path = tok, public;

-- One batch: two observations of t1 and one of t2, an hour old (alive in
-- the 7 and 30 day tables too).
CREATE FUNCTION send_batch() RETURNS void LANGUAGE sql AS $$
  INSERT INTO tok.traces_null (project_id, id, start_time, observation_ids,
                               usage_details, cost_details, event_ts)
  VALUES ('p1', 't1', now() - interval '1 hour', '{o1}', '{"input": 100, "output": 10}', '{"total": 0.25}', now()),
         ('p1', 't1', now() - interval '1 hour', '{o2}', '{"input": 1}', '{"total": 0.000000000001}', now()),
         ('p1', 't2', now() - interval '1 hour', '{o3}', '{"input": 7}', '{}', now())
$$;
CREATE VIEW totals AS
SELECT 'all' AS tbl, id, usage_details, cost_details, observation_ids FROM traces_all_amt
UNION ALL
SELECT '7d', id, usage_details, cost_details, observation_ids FROM traces_7d_amt
UNION ALL
SELECT '30d', id, usage_details, cost_details, observation_ids FROM traces_30d_amt
ORDER BY 1, 2;

-- No token (the default): every batch counts.
SHOW trace_agg.insert_token;
SHOW trace_agg.insert_token_window;
SELECT send_batch();

-- The same token twice: the second is skipped with a notice, in every
-- target: t1 has input 101 from the batch without a token and 101 from
-- batch-1, not 101 more.
SET trace_agg.insert_token = 'batch-1';
SELECT send_batch();
SELECT send_batch();
SELECT * FROM totals;

-- COPY is a batch like INSERT: a COPY with an applied token is skipped too,
-- and one with a new token applies.
COPY traces_null (project_id, id, start_time, usage_details) FROM STDIN;
p1	t2	2099-01-01 00:00:00+00	{"input": 1000}
\.
SET trace_agg.insert_token = 'batch-2';
COPY traces_null (project_id, id, start_time, usage_details) FROM STDIN;
p1	t2	2099-01-01 00:00:00+00	{"input": 1000}
\.
-- Different tokens count twice: t2 input 7 + 7 + 1000 + 7.
SET trace_agg.insert_token = 'batch-3';
SELECT send_batch();
SELECT id, usage_details FROM traces_all_amt ORDER BY id;

-- A rolled-back first attempt leaves no token: the retry applies, once.
BEGIN;
SET LOCAL trace_agg.insert_token = 'batch-4';
SELECT send_batch();
ROLLBACK;
SET trace_agg.insert_token = 'batch-4';
SELECT send_batch();
SELECT send_batch();
-- So does a statement that fails after claiming its token: here the merge
-- of t1 overflows UInt64 (the statement is rolled back to the savepoint).
BEGIN;
SET LOCAL trace_agg.insert_token = 'batch-5';
SAVEPOINT attempt;
\set VERBOSITY terse
INSERT INTO traces_null (project_id, id, start_time, usage_details)
VALUES ('p1', 't1', now(), '{"input": 18446744073709551615}');
\set VERBOSITY default
ROLLBACK TO SAVEPOINT attempt;
SELECT send_batch();
SELECT send_batch();
COMMIT;
-- t1: 101 from no token, batch-1, batch-3, batch-4 and batch-5; 7 each for t2 plus 1000.
SELECT id, usage_details, cost_details FROM traces_all_amt ORDER BY id;

-- An empty statement claims no token.
SET trace_agg.insert_token = 'batch-6';
INSERT INTO traces_null (project_id, id, start_time) SELECT 'p1', 't9', now() WHERE false;
SELECT send_batch();
-- A token names one statement: a second statement with the same token in
-- the same transaction is skipped like a retry.
BEGIN;
SET LOCAL trace_agg.insert_token = 'batch-7';
SELECT send_batch();
INSERT INTO traces_null (project_id, id, start_time) VALUES ('p1', 't3', now());
COMMIT;
SELECT count(*) AS t3_rows FROM traces_all_amt WHERE id = 't3';

-- Tokens are per source: a second null table feeding the same targets
-- applies a batch with a token the first one already used.
CREATE TABLE other_null (LIKE traces_null INCLUDING DEFAULTS) USING trace_agg_null;
SELECT trace_agg.create_materialized_view('tok_other_mv', 'traces_all_amt',
                                          trace_agg.traces_view_query('other_null'));
SET trace_agg.insert_token = 'shared';
INSERT INTO traces_null (project_id, id, start_time, usage_details) VALUES ('p1', 't4', now(), '{"n": 1}');
INSERT INTO other_null (project_id, id, start_time, usage_details) VALUES ('p1', 't4', now(), '{"n": 1}');
INSERT INTO other_null (project_id, id, start_time, usage_details) VALUES ('p1', 't4', now(), '{"n": 1}');
SELECT id, usage_details FROM traces_all_amt WHERE id = 't4';

-- The window: a token is forgotten after trace_agg.insert_token_window
-- (superuser only; here 3 s), and a batch with it applies again.
SET trace_agg.insert_token_window = 3;
SET trace_agg.insert_token = 'late';
INSERT INTO traces_null (project_id, id, start_time, usage_details) VALUES ('p1', 't5', now(), '{"n": 1}');
INSERT INTO traces_null (project_id, id, start_time, usage_details) VALUES ('p1', 't5', now(), '{"n": 1}');
SELECT pg_sleep(3.5);
INSERT INTO traces_null (project_id, id, start_time, usage_details) VALUES ('p1', 't5', now(), '{"n": 1}');
INSERT INTO traces_null (project_id, id, start_time, usage_details) VALUES ('p1', 't5', now(), '{"n": 1}');
SELECT id, usage_details FROM traces_all_amt WHERE id = 't5';
-- purge_expired() forgets expired tokens: after another wait, none of this
-- test's tokens are left.
SELECT pg_sleep(3.5);
SELECT trace_agg.purge_expired() >= 0 AS purged;
SELECT count(*) AS tokens_left FROM trace_agg.insert_token
WHERE source IN ('tok.traces_null'::regclass, 'tok.other_null'::regclass);
RESET trace_agg.insert_token_window;

-- An ingest role with nothing but INSERT on the source uses tokens too,
-- although it can neither read nor write the token table.
CREATE ROLE tok_ingest;
GRANT USAGE ON SCHEMA tok TO tok_ingest;
GRANT INSERT ON traces_null TO tok_ingest;
SET ROLE tok_ingest;
SET trace_agg.insert_token = 'role-batch';
INSERT INTO traces_null (project_id, id, start_time, usage_details) VALUES ('p1', 't6', now(), '{"n": 1}');
INSERT INTO traces_null (project_id, id, start_time, usage_details) VALUES ('p1', 't6', now(), '{"n": 1}');
SELECT count(*) FROM trace_agg.insert_token;
DELETE FROM trace_agg.insert_token;
-- nor change the window
SET trace_agg.insert_token_window = 10;
RESET ROLE;
SELECT id, usage_details FROM traces_all_amt WHERE id = 't6';

RESET trace_agg.insert_token;
DROP OWNED BY tok_ingest;
DROP ROLE tok_ingest;
SELECT trace_agg.drop_materialized_view(v)
FROM unnest(ARRAY['traces_all_amt_mv', 'traces_7d_amt_mv', 'traces_30d_amt_mv', 'tok_other_mv']) v;
SELECT trace_agg.remove_ttl(t) FROM unnest(ARRAY['traces_7d_amt', 'traces_30d_amt']) t;
RESET search_path;
DELETE FROM trace_agg.insert_token
WHERE source IN ('tok.traces_null'::regclass, 'tok.other_null'::regclass);
DROP SCHEMA tok CASCADE;
