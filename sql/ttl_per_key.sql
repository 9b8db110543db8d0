-- Per-key retention (issue 13, item 1): a TTL whose interval comes from a
-- user's table of rules keyed like the target (a project's retention), read
-- when the statements run, with the no-ghost-row guarantee of a reference.
-- Times are placed from ttl_cutoff() in hours, so that the boundaries are
-- the UTC midnights the TTL uses.  Purges run in transactions, so that the
-- TTL worker cannot purge first.
CREATE SCHEMA tpk;
SET search_path = tpk, public;
SELECT trace_agg.create_traces_tables('tpk', windows => 'tables');
CREATE TABLE retention (project_id text PRIMARY KEY, ttl interval NOT NULL, note text);
INSERT INTO retention VALUES ('short', '3 days'), ('long', '90 days'), ('changing', '90 days');
SELECT trace_agg.set_traces_retention('tpk', 'retention');
SELECT view_name, ttl, ttl_reference, ttl_per_key FROM trace_agg.materialized_views
WHERE schema = 'tpk' ORDER BY view_name;

--
-- Insert time: each project's events expire by its own rule; the all table
-- keeps a project without a rule forever, the window tables by their
-- window; a rule shorter than a window shortens it.
--
INSERT INTO traces_null (project_id, id, start_time, event_ts)
SELECT p, id, trace_agg.ttl_cutoff(ttl) + d, now() FROM
  (VALUES ('short', 'at-3d-cutoff', interval '3 days', interval '0'),
          ('short', 'before-3d-cutoff', interval '3 days', - interval '1 microsecond'),
          ('long', 'ten-days-old', interval '7 days', - interval '96 hours'),
          ('long', 'at-90d-cutoff', interval '90 days', interval '0'),
          ('long', 'before-90d-cutoff', interval '90 days', - interval '1 microsecond'),
          ('none', 'ancient', interval '1 day', - interval '100000 hours'),
          ('none', 'ten-days-old', interval '7 days', - interval '96 hours'),
          ('none', 'recent', interval '1 day', interval '1 hour')) v(p, id, ttl, d);
SELECT p.project_id, p.id,
       EXISTS (SELECT FROM traces_all_amt s WHERE (s.project_id, s.id) = (p.project_id, p.id)) AS in_all,
       EXISTS (SELECT FROM traces_7d_amt s WHERE (s.project_id, s.id) = (p.project_id, p.id)) AS in_7d,
       EXISTS (SELECT FROM traces_30d_amt s WHERE (s.project_id, s.id) = (p.project_id, p.id)) AS in_30d
FROM (SELECT DISTINCT project_id, id FROM (VALUES ('short', 'at-3d-cutoff'), ('short', 'before-3d-cutoff'),
        ('long', 'ten-days-old'), ('long', 'at-90d-cutoff'), ('long', 'before-90d-cutoff'),
        ('none', 'ancient'), ('none', 'ten-days-old'), ('none', 'recent')) v(project_id, id)) p
ORDER BY 1, 2;

--
-- No ghost rows: late events of a trace whose start its project's rule
-- has expired change no table.  A trace of project "changing" started ten
-- days ago: alive under its 90-day rule in the all and 30-day tables.  A
-- late score (with a recent start) is merged there, and not into the
-- 7-day table, which the all table tells that the trace is older.
--
INSERT INTO traces_null (project_id, id, start_time, event_ts)
VALUES ('changing', 'trace', trace_agg.ttl_cutoff('7 days') - interval '96 hours', now());
INSERT INTO traces_null (project_id, id, start_time, score_ids, event_ts)
VALUES ('changing', 'trace', now(), '{score-1}', now());
SELECT 'all' AS tbl, score_ids FROM traces_all_amt WHERE id = 'trace'
UNION ALL SELECT '7d', score_ids FROM traces_7d_amt WHERE id = 'trace'
UNION ALL SELECT '30d', score_ids FROM traces_30d_amt WHERE id = 'trace';
-- The project's retention becomes 3 days: an UPDATE of the rules, nothing
-- else.  The next late score reaches no table: the trace expired in the
-- all and 30-day tables (not purged yet, so the all table still knows its
-- start) and the 7-day table still gets no partial row.
UPDATE retention SET ttl = '3 days' WHERE project_id = 'changing';
INSERT INTO traces_null (project_id, id, start_time, score_ids, event_ts)
VALUES ('changing', 'trace', now(), '{score-2}', now());
SELECT 'all' AS tbl, score_ids FROM traces_all_amt WHERE id = 'trace'
UNION ALL SELECT '7d', score_ids FROM traces_7d_amt WHERE id = 'trace'
UNION ALL SELECT '30d', score_ids FROM traces_30d_amt WHERE id = 'trace';
-- A new trace of the project is still merged everywhere.
INSERT INTO traces_null (project_id, id, start_time, event_ts) VALUES ('changing', 'new', now(), now());
SELECT (SELECT count(*) FROM traces_all_amt WHERE id = 'new') AS in_all,
       (SELECT count(*) FROM traces_7d_amt WHERE id = 'new') AS in_7d,
       (SELECT count(*) FROM traces_30d_amt WHERE id = 'new') AS in_30d;

--
-- Purge: each project's rows by its own rule (the shorter of the rule and
-- the window in the window tables); rows of a project without a rule stay
-- in the all table.  Rows are placed straight into the targets.
--
BEGIN;
SELECT trace_agg.purge_expired() >= 0 AS purged_what_was_expired;
INSERT INTO traces_all_amt (project_id, id, start_time)
SELECT p, id, trace_agg.ttl_cutoff(ttl) + d FROM
  (VALUES ('short', 'p-expired', interval '3 days', - interval '1 hour'),
          ('short', 'p-alive', interval '3 days', interval '1 hour'),
          ('long', 'p-expired', interval '90 days', - interval '1 hour'),
          ('long', 'p-alive', interval '90 days', interval '1 hour'),
          ('none', 'p-ancient', interval '1 day', - interval '100000 hours')) v(p, id, ttl, d);
INSERT INTO traces_7d_amt (project_id, id, start_time)
SELECT p, id, trace_agg.ttl_cutoff(ttl) + d FROM
  (VALUES ('short', 'p-expired', interval '3 days', - interval '1 hour'),
          ('short', 'p-alive', interval '3 days', interval '1 hour'),
          ('long', 'p-expired', interval '7 days', - interval '1 hour'),
          ('long', 'p-alive', interval '7 days', interval '1 hour'),
          ('none', 'p-expired', interval '7 days', - interval '1 hour'),
          ('none', 'p-alive', interval '7 days', interval '1 hour')) v(p, id, ttl, d);
SELECT trace_agg.purge_expired() AS purged;
SELECT 'all' AS tbl, project_id, id FROM traces_all_amt WHERE id LIKE 'p-%'
UNION ALL SELECT '7d', project_id, id FROM traces_7d_amt WHERE id LIKE 'p-%'
ORDER BY 1, 2, 3;
-- The trace of project "changing" expired by its new rule, in every table.
SELECT count(*) AS changing_trace_left FROM traces_all_amt WHERE id = 'trace';
-- A rule changed: the next purge applies it.
UPDATE retention SET ttl = '1 day' WHERE project_id = 'long';
SELECT trace_agg.purge_expired() AS purged_after_update;
SELECT project_id, id FROM traces_all_amt WHERE id LIKE 'p-%' ORDER BY 1, 2;
COMMIT;

--
-- Renaming the rules table and its interval column keeps the TTLs on it.
--
ALTER TABLE retention RENAME TO project_retention;
ALTER TABLE project_retention RENAME COLUMN ttl TO days;
SELECT DISTINCT ttl_per_key FROM trace_agg.materialized_views WHERE schema = 'tpk';
INSERT INTO traces_null (project_id, id, start_time, event_ts)
VALUES ('short', 'renamed-expired', trace_agg.ttl_cutoff('3 days') - interval '1 hour', now()),
       ('short', 'renamed-alive', trace_agg.ttl_cutoff('3 days') + interval '1 hour', now());
SELECT id FROM traces_all_amt WHERE id LIKE 'renamed-%' ORDER BY 1;
BEGIN;
INSERT INTO traces_all_amt (project_id, id, start_time)
VALUES ('short', 'renamed-placed', trace_agg.ttl_cutoff('3 days') - interval '1 hour');
SELECT trace_agg.purge_expired() AS purged_after_rename;
ROLLBACK;
-- Its key column is matched by name with the target's: renaming it, or the
-- target's, is refused; a column the rules do not match may be renamed.
ALTER TABLE project_retention RENAME COLUMN project_id TO project;
ALTER TABLE traces_all_amt RENAME COLUMN project_id TO project;
ALTER TABLE project_retention RENAME COLUMN note TO remark;
ALTER TABLE project_retention RENAME COLUMN remark TO note;

--
-- What set_ttl() refuses, with the reason.
--
CREATE TABLE t (project_id text, id text, ts timestamptz, PRIMARY KEY (project_id, id));
CREATE TABLE no_key (project_id text, ts timestamptz);
CREATE TABLE r_no_match (project text PRIMARY KEY, ttl interval);
CREATE TABLE r_no_interval (project_id text PRIMARY KEY, days integer);
CREATE TABLE r_two_intervals (project_id text PRIMARY KEY, ttl interval, grace interval);
CREATE TABLE r_other_type (project_id varchar PRIMARY KEY, ttl interval);
CREATE TABLE r_not_unique (project_id text, ttl interval);
CREATE INDEX ON r_not_unique (project_id);
CREATE TABLE r_rls (project_id text PRIMARY KEY, ttl interval);
ALTER TABLE r_rls ENABLE ROW LEVEL SECURITY;
CREATE VIEW r_view AS SELECT * FROM project_retention;
CREATE TEMP TABLE r_temp (project_id text PRIMARY KEY, ttl interval);
SELECT trace_agg.set_ttl('t', 'ts', NULL);
SELECT trace_agg.set_ttl('t', 'ts', '1 day', NULL, 'r_no_match');
SELECT trace_agg.set_ttl('t', 'ts', '1 day', NULL, 'r_no_interval');
SELECT trace_agg.set_ttl('t', 'ts', '1 day', NULL, 'r_two_intervals');
SELECT trace_agg.set_ttl('t', 'ts', '1 day', NULL, 'r_other_type');
SELECT trace_agg.set_ttl('t', 'ts', '1 day', NULL, 'r_not_unique');
SELECT trace_agg.set_ttl('t', 'ts', '1 day', NULL, 'r_rls');
SELECT trace_agg.set_ttl('t', 'ts', '1 day', NULL, 'r_view');
SELECT trace_agg.set_ttl('t', 'ts', '1 day', NULL, 'r_temp');
SELECT trace_agg.set_ttl('no_key', 'ts', '1 day', NULL, 'project_retention');
-- A unique index on part of the matched columns is enough; other columns
-- (here a timestamptz) are ignored.
CREATE TABLE r_by_key (project_id text, id text, ttl interval, updated timestamptz, UNIQUE (project_id));
SELECT trace_agg.set_ttl('t', 'ts', NULL, NULL, 'r_by_key');
SELECT ttl, per_key FROM trace_agg.ttl WHERE target = 'tpk.t'::regclass;
SELECT trace_agg.remove_ttl('t');

--
-- Rights: attaching another role's rules needs SELECT on them, for the
-- setter and the target's owner (the purge reads them as that owner).  A
-- rules table's owner cannot make a target's readers run code of theirs:
-- row-level security on it is refused when set, and when enabled later
-- the merges and the purge fail rather than run its policies.
--
CREATE ROLE tpk_owner NOLOGIN;
CREATE ROLE tpk_other NOLOGIN;
GRANT USAGE, CREATE ON SCHEMA tpk TO tpk_owner, tpk_other;
SET ROLE tpk_other;
CREATE TABLE other_rules (project_id text PRIMARY KEY, ttl interval);
INSERT INTO other_rules VALUES ('secret-customer', '1 day');
CREATE TABLE policy_calls (who text);
GRANT INSERT ON policy_calls TO PUBLIC;
CREATE FUNCTION spy() RETURNS boolean LANGUAGE sql AS $$ INSERT INTO tpk.policy_calls VALUES (current_user) RETURNING true $$;
SET ROLE tpk_owner;
CREATE TABLE src (project_id text, id text, ts timestamptz);
CREATE TABLE dst (project_id text, id text, ts timestamptz, PRIMARY KEY (project_id, id));
SELECT trace_agg.create_materialized_view('dst_mv', 'dst',
    'SELECT project_id, id, min(ts) AS ts FROM tpk.src GROUP BY project_id, id');
SELECT trace_agg.set_ttl('dst', 'ts', '30 days', NULL, 'other_rules');
SET ROLE tpk_other;
GRANT SELECT ON other_rules TO tpk_owner;
SET ROLE tpk_owner;
SELECT trace_agg.set_ttl('dst', 'ts', '30 days', NULL, 'other_rules');
INSERT INTO src VALUES ('secret-customer', 'a', now() - interval '3 days'), ('other', 'a', now() - interval '3 days');
SELECT project_id, id FROM dst ORDER BY 1;
SET ROLE tpk_other;
CREATE POLICY spying ON other_rules USING (tpk.spy());
ALTER TABLE other_rules ENABLE ROW LEVEL SECURITY;
SET ROLE tpk_owner;
INSERT INTO src VALUES ('other', 'b', now());
SELECT trace_agg.purge_expired();
SET ROLE tpk_other;
ALTER TABLE other_rules DISABLE ROW LEVEL SECURITY;
REVOKE SELECT ON other_rules FROM tpk_owner;
SET ROLE tpk_owner;
INSERT INTO src VALUES ('other', 'c', now());
RESET ROLE;
SELECT count(*) AS policy_calls FROM policy_calls;
-- A superuser may attach rules that the target's owner cannot read only
-- if the owner can: the purge reads them as the owner.
SELECT trace_agg.set_ttl('dst', 'ts', '30 days', NULL, 'other_rules');

--
-- Dropping the rules table: its owner may, whoever reads it.  The TTLs keep
-- their interval and reference without it; a TTL that had only the rules
-- is removed.
--
SET ROLE tpk_other;
DROP TABLE other_rules;
RESET ROLE;
SELECT ttl, per_key FROM trace_agg.ttl WHERE target = 'tpk.dst'::regclass;
DROP VIEW r_view;
DROP TABLE project_retention;
SELECT view_name, ttl, ttl_reference, ttl_per_key FROM trace_agg.materialized_views
WHERE schema = 'tpk' ORDER BY view_name;
INSERT INTO traces_null (project_id, id, start_time, event_ts)
VALUES ('short', 'after-drop', trace_agg.ttl_cutoff('3 days') - interval '1 hour', now());
SELECT (SELECT count(*) FROM traces_all_amt WHERE id = 'after-drop') AS in_all,
       (SELECT count(*) FROM traces_7d_amt WHERE id = 'after-drop') AS in_7d;

SELECT trace_agg.drop_materialized_view(v)
FROM unnest(ARRAY['tpk.traces_all_amt_mv', 'tpk.traces_7d_amt_mv', 'tpk.traces_30d_amt_mv', 'tpk.dst_mv']) v;
SELECT trace_agg.remove_ttl(t) FROM unnest(ARRAY['tpk.traces_7d_amt', 'tpk.traces_30d_amt', 'tpk.dst']::regclass[]) t;
RESET search_path;
SET client_min_messages = warning;
DROP SCHEMA tpk CASCADE;
RESET client_min_messages;
DROP ROLE tpk_owner, tpk_other;

-- The default layout, window views: the retention expires the all table,
-- which the window views read, at insert time and by the purge.
CREATE SCHEMA tpv;
SELECT trace_agg.create_traces_tables('tpv');
CREATE TABLE tpv.retention (project_id text PRIMARY KEY, ttl interval NOT NULL);
INSERT INTO tpv.retention VALUES ('short', '3 days');
SELECT trace_agg.set_traces_retention('tpv', 'tpv.retention');
SELECT view_name, target, ttl, ttl_reference, ttl_per_key FROM trace_agg.materialized_views
WHERE schema = 'tpv';
INSERT INTO tpv.traces_null (project_id, id, start_time, event_ts)
VALUES ('short', 'five-days-old', now() - interval '5 days', now()),
       ('short', 'recent', now() - interval '1 hour', now()),
       ('none', 'five-days-old', now() - interval '5 days', now());
SELECT 'all' AS w, project_id, id FROM tpv.traces_all
UNION ALL SELECT '7d', project_id, id FROM tpv.traces_7d ORDER BY 1, 2, 3;
-- A row that expired after it was written: the purge deletes it.
INSERT INTO tpv.traces_all_amt (project_id, id, start_time) VALUES ('short', 'stored-long-ago', now() - interval '10 days');
SELECT trace_agg.purge_expired() AS purged;
SELECT project_id, id FROM tpv.traces_all_amt ORDER BY 1, 2;
SET client_min_messages = warning;
DROP SCHEMA tpv CASCADE;
RESET client_min_messages;
