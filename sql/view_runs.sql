-- Views of one source with the same query run as one statement (one
-- aggregation of the batch, one upsert per target); the result must be what
-- running them one after the other gives.  Covered here: a TTL view whose
-- reference is merged earlier in the same statement, with a merge rule
-- (max) under which a stored expired start becomes alive again; two views
-- into the same target, which cannot share a statement; a view with another
-- query between views of one query; a failure in a shared statement; an
-- ingest role that cannot see the TTLs; a reference with a TTL of its own.
-- (Named to run after the other tests: it leaves free space in the views'
-- catalog, and the order in which the drop guard finds views depends on it.)
CREATE SCHEMA fr;
SET search_path = fr, public;

-- One run: p_mv (no TTL) then q_mv, whose TTL asks p.
CREATE TABLE src (k text, ts timestamptz, v int) USING trace_agg_null;
CREATE TABLE p (k text PRIMARY KEY, ts timestamptz, n bigint, total bigint);
CREATE TABLE q (LIKE p INCLUDING ALL);
DO $$
DECLARE
    query text := 'SELECT k, max(ts) AS ts, count(*) AS n, sum(v) AS total FROM fr.src GROUP BY k';
BEGIN
    PERFORM trace_agg.create_materialized_view('p_mv', 'fr.p', query);
    PERFORM trace_agg.create_materialized_view('q_mv', 'fr.q', query);
    PERFORM trace_agg.set_ttl('fr.q', 'ts', '7 days', 'fr.p');
END
$$;

-- x starts 30 days ago: only p takes it.
INSERT INTO src VALUES ('x', now() - interval '30 days', 1), ('y', now(), 10);
SELECT 'p' AS t, k, n, total FROM p UNION ALL SELECT 'q', k, n, total FROM q ORDER BY 1, 2;
-- A later event of x brings a recent ts.  p merges ts with max, so as p
-- knows it once merged, x is alive again: q takes it (with this batch's
-- values only).  z starts 30 days ago, and only p takes it.
INSERT INTO src VALUES ('x', now(), 2), ('y', now(), 20), ('z', now() - interval '30 days', 100);
SELECT 'p' AS t, k, ts > now() - interval '1 day' AS recent, n, total FROM p
UNION ALL SELECT 'q', k, ts > now() - interval '1 day', n, total FROM q ORDER BY 1, 2;

-- An ingest role that may only insert into the source, in a new session
-- (no statement prepared yet), still merges with q's TTL, which it may not
-- even see.
\c -
SET search_path = fr, public;
CREATE ROLE fr_ingest;
GRANT USAGE ON SCHEMA fr TO fr_ingest;
GRANT INSERT ON src TO fr_ingest;
SET ROLE fr_ingest;
SELECT count(*) AS ttls_it_sees FROM trace_agg.ttl;
INSERT INTO src VALUES ('w', now() - interval '30 days', 1000), ('y', now(), 40);
RESET ROLE;
SELECT 'p' AS t, k, n, total FROM p UNION ALL SELECT 'q', k, n, total FROM q ORDER BY 1, 2;

-- A view whose TTL asks a target with a TTL of its own (which may leave a
-- key as stored) does not share that target's statement: rm_mv (30 days),
-- then sm_mv (7 days, asking rm) in a statement of its own.
CREATE TABLE src3 (k text, ts timestamptz, v int) USING trace_agg_null;
CREATE TABLE rm (k text PRIMARY KEY, ts timestamptz, n bigint, total bigint);
CREATE TABLE sm (LIKE rm INCLUDING ALL);
DO $$
DECLARE
    query text := 'SELECT k, max(ts) AS ts, count(*) AS n, sum(v) AS total FROM fr.src3 GROUP BY k';
BEGIN
    PERFORM trace_agg.create_materialized_view('rm_mv', 'fr.rm', query);
    PERFORM trace_agg.create_materialized_view('sm_mv', 'fr.sm', query);
    PERFORM trace_agg.set_ttl('fr.rm', 'ts', '30 days');
    PERFORM trace_agg.set_ttl('fr.sm', 'ts', '7 days', 'fr.rm');
END
$$;
-- v starts 10 days ago (rm only), then comes back recent: rm merges it
-- with max, so sm takes it; u starts 40 days ago, which neither keeps, and
-- comes back recent: rm takes it as recent, and so does sm.
INSERT INTO src3 VALUES ('v', now() - interval '10 days', 1), ('u', now() - interval '40 days', 1);
INSERT INTO src3 VALUES ('v', now(), 2), ('u', now(), 2);
SELECT 'rm' AS t, k, ts > now() - interval '1 day' AS recent, n, total FROM rm
UNION ALL SELECT 'sm', k, ts > now() - interval '1 day', n, total FROM sm ORDER BY 1, 2;

-- Another source: a_mv, d1_mv, o_mv, then (with TTLs) b_mv and c_mv, in
-- that order.  Runs: (a_mv, d1_mv), o_mv (another query), (b_mv, c_mv); b
-- asks a, merged by an earlier statement.
CREATE TABLE src2 (k text, ts timestamptz, v int) USING trace_agg_null;
CREATE TABLE a (k text PRIMARY KEY, ts timestamptz, n bigint, total bigint);
CREATE TABLE b (LIKE a INCLUDING ALL);
CREATE TABLE c (LIKE a INCLUDING ALL);
CREATE TABLE d (LIKE a INCLUDING ALL);
CREATE TABLE other (k text PRIMARY KEY, n bigint);
DO $$
DECLARE
    query text := 'SELECT k, max(ts) AS ts, count(*) AS n, sum(v) AS total FROM fr.src2 GROUP BY k';
BEGIN
    PERFORM trace_agg.create_materialized_view('a_mv', 'fr.a', query);
    PERFORM trace_agg.create_materialized_view('b_mv', 'fr.b', query);
    PERFORM trace_agg.create_materialized_view('c_mv', 'fr.c', query);
    PERFORM trace_agg.create_materialized_view('d1_mv', 'fr.d', query);
    PERFORM trace_agg.create_materialized_view('o_mv', 'fr.other',
        'SELECT k, count(*) AS n FROM fr.src2 GROUP BY k');
    PERFORM trace_agg.set_ttl('fr.b', 'ts', '7 days', 'fr.a');
    PERFORM trace_agg.set_ttl('fr.c', 'ts', '7 days');
END
$$;

-- A second view with the same query into the same target would merge every
-- row twice: refused.  (0.1 allowed it; a database updated from 0.1 may
-- hold such a pair, which then runs as two statements.)
SELECT trace_agg.create_materialized_view('d2_mv', 'fr.d',
    'SELECT k, max(ts) AS ts, count(*) AS n, sum(v) AS total FROM fr.src2 GROUP BY k');

INSERT INTO src2 VALUES ('x', now() - interval '30 days', 1), ('y', now(), 10);
INSERT INTO src2 VALUES ('x', now(), 2), ('y', now(), 20);
-- a, b and c as p and q above (c keeps x from this batch on its own); d
-- as a.
SELECT 'a' AS t, k, ts > now() - interval '1 day' AS recent, n, total FROM a
UNION ALL SELECT 'b', k, ts > now() - interval '1 day', n, total FROM b
UNION ALL SELECT 'c', k, ts > now() - interval '1 day', n, total FROM c
UNION ALL SELECT 'd', k, ts > now() - interval '1 day', n, total FROM d ORDER BY 1, 2;
SELECT * FROM other ORDER BY k;

-- A failure fails the whole statement (here a NULL key, which no target
-- takes), and every target keeps its rows.  The error is a's, the first
-- view's, as when the views run one after the other.
\set VERBOSITY terse
INSERT INTO src2 VALUES ('y', now(), 5), (NULL, now(), 1);
\set VERBOSITY default
SELECT 'a' AS t, k, n, total FROM a UNION ALL SELECT 'd', k, n, total FROM d
UNION ALL SELECT 'other', k, n, NULL FROM other ORDER BY 1, 2;

SELECT trace_agg.remove_ttl(t) FROM unnest(ARRAY['fr.q', 'fr.b', 'fr.c', 'fr.sm', 'fr.rm']::regclass[]) t;
SELECT trace_agg.drop_materialized_view(v)
FROM unnest(ARRAY['p_mv', 'q_mv', 'rm_mv', 'sm_mv', 'a_mv', 'b_mv', 'c_mv', 'd1_mv', 'o_mv']) v;
DROP SCHEMA fr CASCADE;
DROP ROLE fr_ingest;
