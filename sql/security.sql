-- The security model of materialized views, replayed as a hostile ordinary
-- role would try it (issue findings 2 to 7 and 11; the TTL ones are in
-- security_ttl).  Roles: sec_owner owns the source and the targets,
-- sec_attacker is an ordinary role, sec_ingest may only insert.
CREATE ROLE sec_owner;
CREATE ROLE sec_attacker;
CREATE ROLE sec_ingest;
CREATE SCHEMA sec AUTHORIZATION sec_owner;
CREATE SCHEMA evil AUTHORIZATION sec_attacker;
-- A schema both may create in, as public was before PostgreSQL 15.
CREATE SCHEMA shared;
GRANT CREATE, USAGE ON SCHEMA shared TO sec_owner, sec_attacker;
GRANT USAGE ON SCHEMA sec TO sec_attacker, sec_ingest;
GRANT USAGE ON SCHEMA evil TO PUBLIC;

SET ROLE sec_owner;
CREATE TABLE sec.src (k text, v int, secret boolean DEFAULT false) USING trace_agg_null;
CREATE TABLE sec.tgt (k text PRIMARY KEY, n bigint, total bigint);
SELECT trace_agg.create_materialized_view('sec.tgt_mv', 'sec.tgt',
    'SELECT k, count(*) AS n, sum(v) AS total FROM sec.src GROUP BY k');
GRANT INSERT ON sec.src TO sec_ingest;
GRANT SELECT ON sec.src TO sec_attacker;
RESET ROLE;

-- No role writes the catalog directly, nor regenerates statements.
SET ROLE sec_attacker;
INSERT INTO trace_agg.materialized_view VALUES ('evil.x', 'sec.src', 'sec.tgt');
DELETE FROM trace_agg.materialized_view;
SELECT trace_agg.rebuild_materialized_views('sec.tgt');
RESET ROLE;
SELECT p.oid::regprocedure AS function
FROM pg_proc p
WHERE p.pronamespace = 'trace_agg'::regnamespace
  AND p.proname IN ('rebuild_materialized_views', 'guard_drop')
  AND has_function_privilege('sec_attacker', p.oid, 'EXECUTE')
ORDER BY 1;

-- A view reads its source as a trigger with a transition table does: its
-- owner needs TRIGGER on it (the source's owner grants it), not only SELECT.
CREATE TABLE evil.sink (k text PRIMARY KEY, n bigint CHECK (n < 0));
ALTER TABLE evil.sink OWNER TO sec_attacker;
SET ROLE sec_attacker;
SELECT trace_agg.create_materialized_view('evil.sink_mv', 'evil.sink',
    'SELECT k, count(*) AS n FROM sec.src GROUP BY k');
RESET ROLE;

-- Given TRIGGER, the attacker's view runs as the attacker inside a
-- security-restricted operation, and whatever its functions change in the
-- session is rolled back: the inserting superuser keeps its search_path
-- and insert token, and nobody becomes superuser.
SET ROLE sec_owner;
GRANT TRIGGER ON sec.src TO sec_attacker;
RESET ROLE;
ALTER TABLE evil.sink DROP CONSTRAINT sink_n_check;
CREATE FUNCTION evil.plant(v int) RETURNS int
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('search_path', 'evil, pg_catalog', false);
    PERFORM set_config('trace_agg.insert_token', 'planted', false);
    PERFORM set_config('work_mem', '64kB', false);
    BEGIN
        EXECUTE 'ALTER ROLE sec_attacker SUPERUSER';
    EXCEPTION WHEN OTHERS THEN
        RAISE NOTICE 'plant: ALTER ROLE failed with SQLSTATE %', SQLSTATE;
    END;
    RETURN v;
END
$$;
ALTER FUNCTION evil.plant(int) OWNER TO sec_attacker;
SET ROLE sec_attacker;
SELECT trace_agg.create_materialized_view('evil.sink_mv', 'evil.sink',
    'SELECT k, count(*) AS n FROM sec.src WHERE evil.plant(v) IS NOT NULL GROUP BY k');
RESET ROLE;
SET search_path = public;
SET work_mem = '4MB';
INSERT INTO sec.src (k, v) VALUES ('a', 1), ('b', 2);
SHOW search_path;
SHOW work_mem;
SELECT current_setting('trace_agg.insert_token') = '' AS token_untouched;
SELECT rolsuper FROM pg_roles WHERE rolname = 'sec_attacker';
SELECT * FROM evil.sink ORDER BY k;
SELECT * FROM sec.tgt ORDER BY k;
RESET search_path;
RESET work_mem;

-- The attacker cannot drop the owner's view; the source's owner can drop
-- the attacker's (a view on your table must never block you), and so can
-- DROP TABLE ... CASCADE.
SET ROLE sec_attacker;
SELECT trace_agg.drop_materialized_view('sec.tgt_mv');
RESET ROLE;
ALTER TABLE evil.sink ADD CONSTRAINT sink_n_check CHECK (n < 0) NOT VALID;
SET ROLE sec_ingest;
INSERT INTO sec.src (k, v) VALUES ('c', 3);
RESET ROLE;
SET ROLE sec_owner;
SELECT trace_agg.drop_materialized_view('evil.sink_mv');
RESET ROLE;
SET ROLE sec_ingest;
INSERT INTO sec.src (k, v) VALUES ('c', 3);
RESET ROLE;
SELECT * FROM sec.tgt ORDER BY k;
SELECT view_name FROM trace_agg.materialized_views ORDER BY 1;

-- Row-level security on the source: a transition table would show the
-- attacker every row, so only a role that bypasses RLS may own a view on
-- it.  Enabled after the attacker's view exists, inserts fail (nothing
-- leaks) until the source's owner drops it.
SET ROLE sec_attacker;
SELECT trace_agg.create_materialized_view('evil.sink_mv', 'evil.sink',
    'SELECT k, min(-v) AS n FROM sec.src GROUP BY k');
RESET ROLE;
SET ROLE sec_owner;
CREATE POLICY no_secrets ON sec.src USING (NOT secret);
ALTER TABLE sec.src ENABLE ROW LEVEL SECURITY;
RESET ROLE;
\set VERBOSITY terse
INSERT INTO sec.src (k, v, secret) VALUES ('s', 99, true);
\set VERBOSITY default
SET ROLE sec_attacker;
SELECT trace_agg.create_materialized_view('evil.sink2_mv', 'evil.sink',
    'SELECT k, min(-v) AS n FROM sec.src WHERE v > 0 GROUP BY k');
RESET ROLE;
SET ROLE sec_owner;
SELECT trace_agg.drop_materialized_view('evil.sink_mv');
RESET ROLE;
INSERT INTO sec.src (k, v, secret) VALUES ('s', 99, true);
SELECT * FROM evil.sink ORDER BY k;
SELECT * FROM sec.tgt ORDER BY k;

-- Writes follow the target's OID, not its name: after a rename, a table
-- that takes the old name receives nothing, the renamed table everything.
SET ROLE sec_owner;
CREATE TABLE shared.totals (k text PRIMARY KEY, n bigint);
CREATE TABLE sec.src2 (k text) USING trace_agg_null;
SELECT trace_agg.create_materialized_view('sec.totals_mv', 'shared.totals',
    'SELECT k, count(*) AS n FROM sec.src2 GROUP BY k');
INSERT INTO sec.src2 VALUES ('before');
ALTER TABLE shared.totals RENAME TO totals_renamed;
RESET ROLE;
SET ROLE sec_attacker;
CREATE TABLE shared.totals (k text PRIMARY KEY, n bigint);
RESET ROLE;
INSERT INTO sec.src2 VALUES ('after');
SELECT 'renamed' AS t, * FROM shared.totals_renamed UNION ALL SELECT 'impostor', * FROM shared.totals ORDER BY 1, 2;

-- A view whose query is replaced to read another table is refused at the
-- next insert rather than followed.
SET ROLE sec_owner;
CREATE TABLE sec.other (k text);
CREATE OR REPLACE VIEW sec.totals_mv AS SELECT k, count(*) AS n FROM sec.other GROUP BY k;
RESET ROLE;
\set VERBOSITY terse
INSERT INTO sec.src2 VALUES ('replaced');
\set VERBOSITY default
SET ROLE sec_owner;
CREATE OR REPLACE VIEW sec.totals_mv AS SELECT k, count(*) AS n FROM sec.src2 GROUP BY k;
RESET ROLE;

-- A role that owns views cannot be dropped; DROP OWNED drops its views and
-- the source keeps working.
SET ROLE sec_attacker;
SELECT trace_agg.create_materialized_view('evil.sink_mv', 'evil.sink',
    'SELECT k, min(-length(k)) AS n FROM sec.src2 GROUP BY k');
RESET ROLE;
SET ROLE sec_owner;
GRANT SELECT, TRIGGER ON sec.src2 TO sec_attacker;
RESET ROLE;
SET ROLE sec_attacker;
SELECT trace_agg.create_materialized_view('evil.sink_mv', 'evil.sink',
    'SELECT k, min(-length(k)) AS n FROM sec.src2 GROUP BY k');
RESET ROLE;
\set VERBOSITY terse
DROP ROLE sec_attacker;
\set VERBOSITY default
DROP OWNED BY sec_attacker;
SELECT view_name, owner FROM trace_agg.materialized_views ORDER BY 1;
INSERT INTO sec.src2 VALUES ('after drop owned');
SELECT * FROM shared.totals_renamed ORDER BY 1;

-- A TTL whose reference is gone (only a superuser could forge one) is an
-- error naming it, never a crash.
CREATE TABLE sec.src3 (k text, ts timestamptz) USING trace_agg_null;
CREATE TABLE sec.recent (k text PRIMARY KEY, ts timestamptz);
SELECT trace_agg.create_materialized_view('sec.recent_mv', 'sec.recent',
    'SELECT k, max(ts) AS ts FROM sec.src3 GROUP BY k');
INSERT INTO trace_agg.ttl (target, ttl_column, ttl, reference)
VALUES ('sec.recent', 'ts', '1 day', 4000000000);
SELECT trace_agg.rebuild_materialized_views('sec.recent');
\set VERBOSITY terse
INSERT INTO sec.src3 VALUES ('dangling', now());
\set VERBOSITY default
DELETE FROM trace_agg.ttl WHERE target = 'sec.recent'::regclass;
SELECT trace_agg.rebuild_materialized_views('sec.recent');
INSERT INTO sec.src3 VALUES ('fine', now());
SELECT k FROM sec.recent;

DROP SCHEMA IF EXISTS sec, evil, shared CASCADE;
DROP ROLE sec_owner, sec_attacker, sec_ingest;
