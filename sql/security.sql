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

-- The statements a source's views run, which lock the views until commit,
-- are shown to a role with SELECT on the source or owning one of its views.
SET ROLE sec_ingest;
SELECT count(*) FROM trace_agg.materialized_view_statements('sec.src');
RESET ROLE;
-- A view's statement is built (its query parsed) as its owner: a role
-- without USAGE on the schema of a function the view calls may insert.
CREATE SCHEMA sec_priv AUTHORIZATION sec_owner;
SET ROLE sec_owner;
CREATE FUNCTION sec_priv.twice(bigint) RETURNS bigint
    LANGUAGE sql IMMUTABLE AS 'SELECT $1 * 2';
CREATE TABLE sec.tgt_twice (k text PRIMARY KEY, total bigint);
SELECT trace_agg.create_materialized_view('sec.tgt_twice_mv', 'sec.tgt_twice',
    'SELECT k, sum(sec_priv.twice(v)) AS total FROM sec.src GROUP BY k');
RESET ROLE;
SET ROLE sec_ingest;
INSERT INTO sec.src VALUES ('twice', 4);
RESET ROLE;
SELECT * FROM sec.tgt_twice;
SELECT trace_agg.drop_materialized_view('sec.tgt_twice_mv');
DROP TABLE sec.tgt_twice;
DELETE FROM sec.tgt WHERE k = 'twice';
DROP SCHEMA sec_priv CASCADE;

-- No role writes the catalog directly, nor regenerates statements.
SET ROLE sec_attacker;
INSERT INTO trace_agg.materialized_view VALUES ('sec.tgt_mv', 'sec.src', 'sec.tgt');
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
GRANT SELECT, INSERT, UPDATE ON shared.totals TO sec_owner;
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
-- A view given to a role without the rights (ALTER VIEW ... OWNER TO)
-- makes inserts fail naming it; REASSIGN OWNED gives it back, and inserts
-- go on.
ALTER VIEW evil.sink_mv OWNER TO sec_ingest;
INSERT INTO sec.src2 VALUES ('given away');
REASSIGN OWNED BY sec_ingest TO sec_attacker;
INSERT INTO sec.src2 VALUES ('given back');
SELECT * FROM evil.sink WHERE k LIKE 'given%' ORDER BY k;
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

-- More of the same, found by a hostile review.
CREATE ROLE sec_mallory;
CREATE ROLE sec_readers;
CREATE SCHEMA mal AUTHORIZATION sec_mallory;
GRANT USAGE ON SCHEMA sec TO sec_mallory;
SET ROLE sec_owner;
CREATE TABLE sec.events (k text, v int) USING trace_agg_null;
CREATE TABLE sec.counts (k text PRIMARY KEY, n bigint);
SELECT trace_agg.create_materialized_view('sec.counts_mv', 'sec.counts',
    'SELECT k, count(*) AS n FROM sec.events GROUP BY k');
GRANT SELECT, TRIGGER ON sec.events TO sec_readers;
GRANT INSERT ON sec.counts TO sec_mallory;
RESET ROLE;
GRANT sec_readers TO sec_mallory;
SET ROLE sec_mallory;
CREATE TABLE mal.t (k text PRIMARY KEY, n bigint);
CREATE TABLE mal.src (k text);
-- A temporary view would vanish without its definition being forgotten.
SELECT trace_agg.create_materialized_view('pg_temp.t_mv', 'mal.t',
    'SELECT k, count(*) AS n FROM sec.events GROUP BY k');
-- INSERT without UPDATE on a table does not make it a target.
SELECT trace_agg.create_materialized_view('mal.into_counts_mv', 'sec.counts',
    'SELECT k, count(*) AS n FROM mal.src GROUP BY k');
-- A second trigger calling trace_agg.fanout() with another transition
-- table name, plus a temporary table of the expected name, cannot feed
-- forged rows into the owner's targets.
RESET ROLE;
SET ROLE sec_owner;
GRANT INSERT ON sec.events TO sec_mallory;
RESET ROLE;
SET ROLE sec_mallory;
CREATE TRIGGER rogue AFTER INSERT ON sec.events REFERENCING NEW TABLE AS other
    FOR EACH STATEMENT EXECUTE FUNCTION trace_agg.fanout();
CREATE TEMP TABLE trace_agg_new_rows (k text, v int);
INSERT INTO trace_agg_new_rows VALUES ('forged', 1);
INSERT INTO sec.events VALUES ('real', 1);
DROP TABLE trace_agg_new_rows;
RESET ROLE;
DROP TRIGGER rogue ON sec.events;
SET ROLE sec_mallory;
-- A view through a group's rights, with a view of its own built on it.
SELECT trace_agg.create_materialized_view('mal.t_mv', 'mal.t',
    'SELECT k, count(*) AS n FROM sec.events GROUP BY k');
CREATE VIEW mal.on_top AS SELECT * FROM mal.t_mv;
INSERT INTO sec.events VALUES ('real', 1);
RESET ROLE;
-- Losing the membership stops the view at the next insert of a session
-- that already prepared its statements.
REVOKE sec_readers FROM sec_mallory;
\set VERBOSITY terse
INSERT INTO sec.events VALUES ('after revoke', 1);
\set VERBOSITY default
-- The source's owner drops it, with what its owner built on it, even
-- without the right to use the schema it lives in.
SET ROLE sec_owner;
SELECT trace_agg.drop_materialized_view('mal.t_mv');
RESET ROLE;
INSERT INTO sec.events VALUES ('after drop', 1);
SELECT 'counts' AS t, * FROM sec.counts UNION ALL SELECT 'mal', * FROM mal.t ORDER BY 1, 2;
SELECT count(*) AS on_top_left FROM pg_class WHERE oid = to_regclass('mal.on_top');

-- A TTL's reference must be readable by the target's owner: what it holds
-- decides which rows the target gets.
SET ROLE sec_owner;
CREATE TABLE sec.hidden (k text PRIMARY KEY, ts timestamptz);
CREATE TABLE sec.src4 (k text, ts timestamptz) USING trace_agg_null;
RESET ROLE;
CREATE TABLE mal.seen (k text PRIMARY KEY, ts timestamptz);
ALTER TABLE mal.seen OWNER TO sec_mallory;
GRANT INSERT, UPDATE ON mal.seen TO sec_owner;
GRANT USAGE ON SCHEMA mal TO sec_owner;
SET ROLE sec_owner;
SELECT trace_agg.create_materialized_view('sec.seen_mv', 'mal.seen',
    'SELECT k, max(ts) AS ts FROM sec.src4 GROUP BY k');
RESET ROLE;
INSERT INTO trace_agg.ttl (target, ttl_column, ttl, reference) VALUES ('mal.seen', 'ts', '1 day', 'sec.hidden');
SELECT trace_agg.rebuild_materialized_views('mal.seen');
\set VERBOSITY terse
INSERT INTO sec.src4 VALUES ('k1', now());
\set VERBOSITY default
DELETE FROM trace_agg.ttl WHERE target = 'mal.seen'::regclass;

-- Partitions and inheritance children are not sources: rows inserted into
-- them directly would bypass the parent's views.
CREATE TABLE sec.parted (k text, v int) PARTITION BY LIST (k);
CREATE TABLE sec.parted_a PARTITION OF sec.parted FOR VALUES IN ('a');
CREATE TABLE sec.parent (k text, v int);
CREATE TABLE sec.child () INHERITS (sec.parent);
CREATE TABLE sec.per_k (k text PRIMARY KEY, n bigint);
SELECT trace_agg.create_materialized_view('sec.part_mv', 'sec.per_k', 'SELECT k, count(*) AS n FROM sec.parted_a GROUP BY k');
SELECT trace_agg.create_materialized_view('sec.parent_mv', 'sec.per_k', 'SELECT k, count(*) AS n FROM sec.parent GROUP BY k');
SELECT trace_agg.create_materialized_view('sec.parted_mv', 'sec.per_k', 'SELECT k, count(*) AS n FROM sec.parted GROUP BY k');
INSERT INTO sec.parted VALUES ('a', 1);
SELECT * FROM sec.per_k;

-- Derived views run as their owner in a security-restricted operation too,
-- and roll back what their functions change in the writing session, on
-- every path: a statement's end, a top-level COPY, TRUNCATE, a refresh.
SET ROLE sec_owner;
CREATE TABLE sec.dsrc (k text, v int);
GRANT SELECT, TRIGGER ON sec.dsrc TO sec_mallory;
RESET ROLE;
SET ROLE sec_mallory;
CREATE TABLE mal.dsink (k text PRIMARY KEY, n bigint);
CREATE FUNCTION mal.plant(v int) RETURNS int
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('search_path', 'mal, pg_catalog', false);
    PERFORM set_config('trace_agg.insert_token', 'planted', false);
    PERFORM set_config('work_mem', '64kB', false);
    BEGIN
        CREATE TEMP TABLE planted (x int);
    EXCEPTION WHEN OTHERS THEN
        RAISE NOTICE 'plant: CREATE TEMP TABLE failed with SQLSTATE %', SQLSTATE;
    END;
    RETURN v;
END
$$;
SELECT trace_agg.create_derived_view('mal.dsink_dv', 'mal.dsink',
    'SELECT k, sum(mal.plant(v)) AS n FROM sec.dsrc GROUP BY k');
RESET ROLE;
SET search_path = public;
SET work_mem = '4MB';
INSERT INTO sec.dsrc VALUES ('a', 1);
UPDATE sec.dsrc SET v = 2;
COPY sec.dsrc FROM STDIN (FORMAT csv);
b,3
\.
SELECT trace_agg.refresh_derived_view('mal.dsink_dv');
TRUNCATE sec.dsrc;
SHOW search_path;
SHOW work_mem;
SELECT current_setting('trace_agg.insert_token') = '' AS token_untouched;
SELECT count(*) AS temp_tables FROM pg_class WHERE relname = 'planted';
RESET search_path;
RESET work_mem;
SET ROLE sec_owner;
SELECT trace_agg.drop_derived_view('mal.dsink_dv');
RESET ROLE;

-- A derived view writing another role's target: that role may drop the
-- view but not refresh it, which would run its triggers on the target with
-- the view owner's rights whenever it chose.
SET ROLE sec_mallory;
CREATE TABLE mal.dtarget (k text PRIMARY KEY, n bigint);
GRANT SELECT, INSERT, UPDATE, DELETE ON mal.dtarget TO sec_owner;
RESET ROLE;
SET ROLE sec_owner;
CREATE TABLE sec.dsrc2 (k text, v int);
SELECT trace_agg.create_derived_view('sec.dtarget_dv', 'mal.dtarget',
    'SELECT k, sum(v) AS n FROM sec.dsrc2 GROUP BY k');
INSERT INTO sec.dsrc2 VALUES ('a', 1);
RESET ROLE;
SET ROLE sec_mallory;
SELECT trace_agg.refresh_derived_view('sec.dtarget_dv');
RESET ROLE;
SET ROLE sec_owner;
SELECT trace_agg.refresh_derived_view('sec.dtarget_dv');
SELECT * FROM mal.dtarget;
SELECT trace_agg.drop_derived_view('sec.dtarget_dv');
RESET ROLE;

-- A role with TRIGGER on a table cannot plant triggers under the names the
-- views' triggers take, for the owner's views to adopt: creating a view
-- refuses a trigger of that name that trace_agg did not make.
SET ROLE sec_owner;
CREATE TABLE sec.nsrc (k text) USING trace_agg_null;
CREATE TABLE sec.ntot (k text PRIMARY KEY, n bigint);
CREATE TABLE sec.hsrc (k text, v int);
CREATE TABLE sec.htot (k text PRIMARY KEY, n bigint);
GRANT TRIGGER ON sec.nsrc, sec.hsrc TO sec_mallory;
RESET ROLE;
SET ROLE sec_mallory;
CREATE FUNCTION mal.swallow() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$;
CREATE TRIGGER trace_agg_fanout AFTER INSERT ON sec.nsrc REFERENCING NEW TABLE AS trace_agg_new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION mal.swallow();
CREATE TRIGGER trace_agg_derived_update AFTER UPDATE ON sec.hsrc
    FOR EACH STATEMENT EXECUTE FUNCTION mal.swallow();
RESET ROLE;
SET ROLE sec_owner;
SELECT trace_agg.create_materialized_view('sec.ntot_mv', 'sec.ntot',
    'SELECT k, count(*) AS n FROM sec.nsrc GROUP BY k');
SELECT trace_agg.create_derived_view('sec.htot_dv', 'sec.htot',
    'SELECT k, sum(v) AS n FROM sec.hsrc GROUP BY k');
DROP TRIGGER trace_agg_fanout ON sec.nsrc;
DROP TRIGGER trace_agg_derived_update ON sec.hsrc;
SELECT trace_agg.create_materialized_view('sec.ntot_mv', 'sec.ntot',
    'SELECT k, count(*) AS n FROM sec.nsrc GROUP BY k');
SELECT trace_agg.create_derived_view('sec.htot_dv', 'sec.htot',
    'SELECT k, sum(v) AS n FROM sec.hsrc GROUP BY k');
INSERT INTO sec.nsrc VALUES ('a');
INSERT INTO sec.hsrc VALUES ('a', 1);
UPDATE sec.hsrc SET v = 5;
SELECT 'ntot' AS t, k, n FROM sec.ntot UNION ALL SELECT 'htot', k, n FROM sec.htot ORDER BY 1;
SELECT trace_agg.drop_materialized_view('sec.ntot_mv');
SELECT trace_agg.drop_derived_view('sec.htot_dv');
RESET ROLE;

-- Operators planted for the catalog reads the extension runs as the
-- catalog's owner: an exact match for regclass or oid operands in a schema
-- of the caller's search_path would be chosen over pg_catalog's.  Every
-- path that reads the catalogs on a role's DDL or call is walked with it
-- in place: renaming and dropping columns, partitions created, attached,
-- detached, creating, listing and dropping views, TTLs, deletions.
SET ROLE sec_mallory;
CREATE TABLE mal.seize_log (who text);
GRANT INSERT ON mal.seize_log TO PUBLIC;
-- Called by a planted operator: as anyone but its owner, it notes who and
-- tries to make its owner a superuser.
CREATE FUNCTION mal.seize() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF current_user OPERATOR(pg_catalog.<>) 'sec_mallory' THEN
        INSERT INTO mal.seize_log VALUES (current_user);
        BEGIN
            EXECUTE 'ALTER ROLE sec_mallory SUPERUSER';
        EXCEPTION WHEN OTHERS THEN NULL;
        END;
    END IF;
END
$$;
DO $$
DECLARE
    operands text[];
BEGIN
    FOREACH operands SLICE 1 IN ARRAY ARRAY[['oid', 'oid'], ['regclass', 'regclass'], ['oid', 'regclass'],
                                            ['regclass', 'oid'], ['name', 'name'], ['text', 'text']] LOOP
        EXECUTE format('CREATE FUNCTION mal.seize_eq(%s, %s) RETURNS boolean LANGUAGE plpgsql AS '
                       '$f$BEGIN PERFORM mal.seize(); RETURN $1::text OPERATOR(pg_catalog.=) $2::text; END$f$',
                       operands[1], operands[2]);
        EXECUTE format('CREATE OPERATOR mal.= (LEFTARG = %s, RIGHTARG = %s, FUNCTION = mal.seize_eq)',
                       operands[1], operands[2]);
    END LOOP;
END
$$;
SET search_path = mal, pg_catalog;
CREATE TABLE mal.pe (k text, v int) PARTITION BY LIST (k);
CREATE TABLE mal.pe_a PARTITION OF mal.pe FOR VALUES IN ('a');
CREATE TABLE mal.pt (k text PRIMARY KEY, n bigint, ts timestamptz);
SELECT trace_agg.create_derived_view('mal.pt_dv', 'mal.pt',
    'SELECT k, sum(v) AS n, NULL::timestamptz AS ts FROM mal.pe GROUP BY k');
CREATE TABLE mal.pe_b PARTITION OF mal.pe FOR VALUES IN ('b');
ALTER TABLE mal.pe DETACH PARTITION mal.pe_b;
ALTER TABLE mal.pe ATTACH PARTITION mal.pe_b FOR VALUES IN ('b');
INSERT INTO mal.pe VALUES ('a', 1), ('b', 2);
SELECT trace_agg.refresh_derived_view('mal.pt_dv');
CREATE TABLE mal.ne (k text, v int) USING trace_agg_null;
CREATE TABLE mal.nt (k text PRIMARY KEY, n bigint, ts timestamptz);
SELECT trace_agg.create_materialized_view('mal.nt_mv', 'mal.nt',
    'SELECT k, count(*) AS n, max(now()) AS ts FROM mal.ne GROUP BY k');
INSERT INTO mal.ne VALUES ('a', 1);
SELECT trace_agg.set_ttl('mal.nt', 'ts', '1 day');
ALTER TABLE mal.nt RENAME COLUMN n TO total;
ALTER TABLE mal.nt RENAME COLUMN ts TO at;
ALTER TABLE mal.nt DROP COLUMN total;
SELECT trace_agg.delete_keys('mal.ne', ARRAY['a']);
SELECT count(*) FROM trace_agg.materialized_views;
SELECT count(*) FROM trace_agg.materialized_view_statements('mal.ne');
SELECT trace_agg.purge_expired() >= 0 AS purged;
SELECT trace_agg.remove_ttl('mal.nt');
SELECT trace_agg.drop_materialized_view('mal.nt_mv');
SELECT trace_agg.drop_derived_view('mal.pt_dv');
DROP TABLE mal.ne, mal.nt, mal.pe, mal.pt;
RESET search_path;
RESET ROLE;
SELECT rolsuper FROM pg_roles WHERE rolname = 'sec_mallory';
SELECT who, count(*) FROM mal.seize_log GROUP BY who ORDER BY who;

-- ALTER TABLE ... ATTACH PARTITION on the attacker's own tables, whose
-- partition key calls a function of its own that changes search_path when
-- ATTACH checks the rows: the partitions guard, at the command's end, must
-- not take the names for the owner's tables of the same names (recomputing
-- the owner's derived view, or dropping its triggers on DETACH).
CREATE SCHEMA shifty AUTHORIZATION sec_attacker;
GRANT USAGE ON SCHEMA sec TO sec_attacker;
SET ROLE sec_owner;
CREATE TABLE sec.shift (k int, v int) PARTITION BY RANGE (k);
CREATE TABLE sec.shift_0 PARTITION OF sec.shift FOR VALUES FROM (0) TO (100);
CREATE TABLE sec.shift_t (k int PRIMARY KEY, n bigint);
SELECT trace_agg.create_derived_view('sec.shift_dv', 'sec.shift_t',
    'SELECT k, count(*) AS n FROM sec.shift GROUP BY k');
INSERT INTO sec.shift VALUES (1, 1);
SELECT xmin AS shift_xmin FROM sec.shift_t \gset
SET ROLE sec_attacker;
CREATE FUNCTION shifty.to_sec(int) RETURNS int LANGUAGE plpgsql IMMUTABLE
    AS $$ BEGIN PERFORM set_config('search_path', 'sec', false); RETURN $1; END $$;
CREATE TABLE shifty.shift (k int, v int) PARTITION BY RANGE (shifty.to_sec(k));
CREATE TABLE shifty.shift_0 (k int, v int);
INSERT INTO shifty.shift_0 VALUES (5, 5);
SET search_path = shifty;
ALTER TABLE shift ATTACH PARTITION shift_0 FOR VALUES FROM (0) TO (100);
RESET search_path;
-- With qualified names the same command is the attacker's own business.
ALTER TABLE shifty.shift ATTACH PARTITION shifty.shift_0 FOR VALUES FROM (0) TO (100);
RESET search_path;
RESET ROLE;
SELECT xmin = :'shift_xmin' AS owner_view_untouched FROM sec.shift_t;

DROP SCHEMA IF EXISTS sec, evil, shared, mal, shifty CASCADE;
DROP ROLE sec_owner, sec_attacker, sec_ingest, sec_mallory, sec_readers;
