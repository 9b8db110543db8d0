-- Retention (TTL) against hostile ordinary roles (issue 10).  Replayed as
-- the attacker would: finding 3 on the TTL catalog (a row written directly,
-- a reference naming no relation or a table the attacker cannot read), 8
-- (making another owner's table undroppable through a TTL reference), 1
-- (a table owner's trigger run by someone else's purge), and who may run
-- the extension's TTL functions.
CREATE ROLE sttl_owner NOLOGIN;
CREATE ROLE sttl_attacker NOLOGIN;
CREATE SCHEMA sttl;
GRANT USAGE, CREATE ON SCHEMA sttl TO sttl_owner, sttl_attacker;
SET search_path = sttl, public;

SET ROLE sttl_owner;
CREATE TABLE owned (k int PRIMARY KEY, ts timestamptz);
CREATE TABLE private (k int PRIMARY KEY, ts timestamptz);
SELECT trace_agg.set_ttl('owned', 'ts', '7 days');
SET ROLE sttl_attacker;
CREATE TABLE mine (k int PRIMARY KEY, ts timestamptz, n int);

--
-- Finding 3: no role writes the TTL catalog directly, so no row can name a
-- relation that is not there; set_ttl() checks every table it is given.
--
INSERT INTO trace_agg.ttl VALUES ('mine', 'ts', '1 day', 999999);
UPDATE trace_agg.ttl SET reference = 999999;
DELETE FROM trace_agg.ttl;
SELECT trace_agg.set_ttl('mine', 'ts', '1 day', 999999);
SELECT trace_agg.set_ttl(999999, 'ts', '1 day');
-- A reference the attacker cannot read.
SELECT trace_agg.set_ttl('mine', 'ts', '1 day', 'private');
-- Another owner's target can be neither changed nor cleared.
SELECT trace_agg.set_ttl('owned', 'ts', '1 day');
SELECT trace_agg.remove_ttl('owned');
-- What the TTL names must fit.
SELECT trace_agg.set_ttl('mine', 'n', '1 day');
SELECT trace_agg.set_ttl('mine', 'nope', '1 day');
SELECT trace_agg.set_ttl('mine', 'ts', '-1 day');
SELECT trace_agg.set_ttl('mine', 'ts', NULL);
SELECT trace_agg.set_ttl('pg_catalog.pg_class'::regclass, 'ts', '1 day');
CREATE TEMP TABLE mine_for_now (LIKE mine);
SELECT trace_agg.set_ttl('mine_for_now', 'ts', '1 day');
SELECT trace_agg.set_ttl('mine', 'ts', '1 day', 'mine_for_now');
CREATE VIEW mine_view AS SELECT * FROM mine;
SELECT trace_agg.set_ttl('mine', 'ts', '1 day', 'mine_view');
DROP VIEW mine_view;
DROP TABLE mine_for_now;
-- Reading is as before: a role reads the TTLs of its own tables.
SELECT trace_agg.set_ttl('mine', 'ts', '1 day');
SELECT target, ttl_column, ttl, reference FROM trace_agg.ttl ORDER BY target::text;

--
-- Finding 8: a TTL may read a table its setter may read, and that table's
-- owner can still drop it; the TTL then stays without a reference.
--
SET ROLE sttl_owner;
GRANT SELECT ON owned TO sttl_attacker;
SET ROLE sttl_attacker;
SELECT trace_agg.set_ttl('mine', 'ts', '1 day', 'owned');
SELECT target, reference FROM trace_agg.ttl;
SET ROLE sttl_owner;
DROP TABLE owned;
RESET ROLE;
SELECT target, ttl, reference FROM trace_agg.ttl WHERE target = 'sttl.mine'::regclass;

--
-- Finding 1: the purge fires the owner's BEFORE DELETE trigger as the
-- owner, inside a security-restricted operation, whoever purges: this
-- trigger tries to make its owner a superuser, to switch roles, to create
-- a temporary table and to plant a search_path in the purging session.
-- (In one transaction, so that the TTL worker cannot purge first.)
--
SET ROLE sttl_owner;
CREATE TABLE hostile (k int, ts timestamptz);
CREATE TABLE trigger_log (who text, attempt text, outcome text);
CREATE FUNCTION try(attempt text, command text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE command;
    INSERT INTO sttl.trigger_log VALUES (current_user, attempt, 'done');
EXCEPTION WHEN OTHERS THEN
    -- (ALTER ROLE's message differs between majors)
    INSERT INTO sttl.trigger_log VALUES (current_user, attempt,
        CASE WHEN SQLERRM LIKE 'must be superuser to alter superuser roles%'
                  OR SQLERRM = 'permission denied to alter role'
             THEN 'not allowed to alter the role' ELSE SQLERRM END);
END $$;
CREATE FUNCTION hostile_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM sttl.try('superuser', 'ALTER ROLE sttl_owner SUPERUSER');
    PERFORM sttl.try('set role', 'SET ROLE sttl_attacker');
    PERFORM sttl.try('temporary table', 'CREATE TEMP TABLE planted (x int)');
    PERFORM sttl.try('search_path', 'SELECT pg_catalog.set_config(''search_path'', ''planted'', false)');
    RETURN OLD;
END $$;
CREATE TRIGGER hostile_trigger BEFORE DELETE ON hostile FOR EACH ROW EXECUTE FUNCTION hostile_trigger();
SELECT trace_agg.set_ttl('hostile', 'ts', '7 days');
RESET ROLE;
-- Like VACUUM, a role purges only the tables it owns: the attacker's call
-- does not even lock hostile, so it cannot make its owner wait.
BEGIN;
SET ROLE sttl_attacker;
SELECT trace_agg.purge_expired() AS purged_by_attacker;
RESET ROLE;
SELECT count(*) AS hostile_locks FROM pg_locks
WHERE relation = 'sttl.hostile'::regclass AND pid = pg_backend_pid();
COMMIT;
BEGIN;
INSERT INTO hostile VALUES (1, now() - interval '30 days'), (2, now() - interval '30 days'), (3, now());
SET ROLE sttl_attacker;
SELECT trace_agg.purge_expired() AS purged_by_attacker;
RESET ROLE;
SELECT count(*) AS rows_left FROM hostile;
SAVEPOINT s;
SET ROLE sttl_attacker;
SELECT trace_agg.purge_expired_batch('hostile');
ROLLBACK TO s;
-- A superuser's purge runs the trigger as the owner, restricted.
RESET ROLE;
SELECT trace_agg.purge_expired_batch('hostile', 1) AS purged_by_superuser;
SELECT trace_agg.purge_expired() >= 1 AS purged_by_superuser;
SELECT count(*) AS rows_left FROM hostile;
SELECT who, attempt, outcome FROM trigger_log ORDER BY attempt, who;
SELECT current_setting('search_path') AS search_path_after_purge;
SELECT rolsuper FROM pg_roles WHERE rolname = 'sttl_owner';
-- The owner purges its own table the same way.
INSERT INTO hostile VALUES (4, now() - interval '30 days');
SET ROLE sttl_owner;
SELECT trace_agg.purge_expired() AS purged_by_owner;
RESET ROLE;
COMMIT;
SELECT count(*) FILTER (WHERE who = 'sttl_owner') AS runs_as_owner, count(*) AS trigger_runs FROM trigger_log;

--
-- The rights on the TTL functions and catalog.  start_ttl_worker,
-- purge_expired_batch and purge_insert_tokens are internal; set_ttl,
-- remove_ttl and purge_expired check the caller themselves.
--
SELECT p.oid::regprocedure AS function, has_function_privilege('public', p.oid, 'EXECUTE') AS public_may_run,
       p.prosecdef AS security_definer
FROM pg_proc p
WHERE p.pronamespace = 'trace_agg'::regnamespace
  AND p.proname IN ('set_ttl', 'remove_ttl', 'purge_expired', 'purge_expired_batch',
                    'purge_insert_tokens', 'start_ttl_worker', 'ttl_cutoff', 'detach_dropped_reference')
ORDER BY 1::text;
SELECT privilege, has_table_privilege('public', 'trace_agg.ttl', privilege) AS public_has
FROM unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE']) privilege;
SET ROLE sttl_attacker;
SELECT trace_agg.start_ttl_worker();
SELECT trace_agg.purge_insert_tokens();
RESET ROLE;

-- set_traces_retention on a setup in a schema another role may create in:
-- a window table that role planted (traces_7d_amt, which a 'views' setup
-- does not have) is not the setup's, and gets no TTL, whoever calls it.
CREATE SCHEMA sttl_tr;
GRANT USAGE, CREATE ON SCHEMA sttl_tr TO sttl_owner, sttl_attacker;
SET ROLE sttl_owner;
SELECT trace_agg.create_traces_tables('sttl_tr');
CREATE TABLE sttl_tr.rules (project_id text PRIMARY KEY, retention interval);
SET ROLE sttl_attacker;
CREATE TABLE sttl_tr.traces_7d_amt (project_id text, id text, start_time timestamptz,
                                    PRIMARY KEY (project_id, id));
SET ROLE sttl_owner;
SELECT trace_agg.set_traces_retention('sttl_tr', 'sttl_tr.rules');
RESET ROLE;
SELECT trace_agg.set_traces_retention('sttl_tr', 'sttl_tr.rules');
SELECT target, ttl, reference, per_key FROM trace_agg.ttl
WHERE target::text LIKE 'sttl_tr.%' ORDER BY 1::text;
SELECT trace_agg.set_traces_retention('sttl_tr', NULL);
DROP SCHEMA sttl_tr CASCADE;

SELECT trace_agg.remove_ttl(t) FROM unnest(ARRAY['sttl.mine', 'sttl.hostile']::regclass[]) t;
RESET search_path;
DROP SCHEMA sttl CASCADE;
DROP ROLE sttl_owner, sttl_attacker;
