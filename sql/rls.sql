-- Row-level security on a target: readers see only their project's rows,
-- while the fan-out, running with the rights of the view's owner, keeps
-- writing every project.  The read views run with their owner's rights
-- unless they are security_invoker views.
CREATE ROLE rls_admin;
CREATE ROLE rls_ingest;
CREATE ROLE rls_p1;
CREATE ROLE rls_p2;
CREATE SCHEMA rls AUTHORIZATION rls_admin;
GRANT USAGE ON SCHEMA rls TO rls_ingest, rls_p1, rls_p2;

-- An ordinary role owns the traces setup and its views.
SET ROLE rls_admin;
SET search_path = rls;
SELECT trace_agg.create_traces_tables('rls', windows => 'tables');
SELECT view_name, owner FROM trace_agg.materialized_views ORDER BY 1;

-- Who may read which project.
CREATE TABLE project_member (role name, project_id text, PRIMARY KEY (role, project_id));
INSERT INTO project_member VALUES ('rls_p1', 'p1'), ('rls_p2', 'p2'), ('rls_p2', 'p3');
GRANT SELECT ON project_member TO rls_p1, rls_p2;
ALTER TABLE traces_all_amt ENABLE ROW LEVEL SECURITY;
CREATE POLICY member_reads ON traces_all_amt FOR SELECT
    USING (EXISTS (SELECT FROM rls.project_member m
                   WHERE m.role = current_user AND m.project_id = traces_all_amt.project_id));
GRANT SELECT ON traces_all_amt, traces_all TO rls_p1, rls_p2;
GRANT INSERT ON traces_null TO rls_ingest;

-- The ingest role can only insert; the fan-out writes all three projects.
SET ROLE rls_ingest;
INSERT INTO rls.traces_null (project_id, id, start_time, name, usage_details, input, event_ts)
VALUES ('p1', 't1', now(), 'one', '{"n": 1}', 'in-1', now()),
       ('p2', 't2', now(), 'two', '{"n": 2}', 'in-2', now()),
       ('p3', 't3', now(), 'three', '{"n": 3}', 'in-3', now());
SELECT count(*) FROM rls.traces_all_amt;
SELECT count(*) FROM rls.traces_all;

-- Reads through the table see the member's projects only.
SET ROLE rls_p1;
SELECT project_id, id, name, usage_details, trace_agg.finalize(input) AS input FROM rls.traces_all_amt ORDER BY id;
SET ROLE rls_p2;
SELECT project_id, id, name, usage_details FROM rls.traces_all_amt ORDER BY id;
-- and cannot write, directly or by inserting into the source.
UPDATE rls.traces_all_amt SET name = 'x';
INSERT INTO rls.traces_null (project_id, id, start_time) VALUES ('p2', 't9', now());

-- The read view traces_all runs with its owner's rights, and the owner is
-- not subject to the table's policies: through the view every project shows.
SELECT project_id, id, name, input FROM rls.traces_all ORDER BY id;
-- A security_invoker view applies the reader's policies.
SET ROLE rls_admin;
ALTER VIEW traces_all SET (security_invoker = true);
SET ROLE rls_p2;
SELECT project_id, id, name, input FROM rls.traces_all ORDER BY id;
SET ROLE rls_p1;
SELECT project_id, id, name, input FROM rls.traces_all ORDER BY id;

-- Ingestion keeps writing every project while readers are restricted:
-- new traces and merges into existing ones.
SET ROLE rls_ingest;
INSERT INTO rls.traces_null (project_id, id, start_time, usage_details, output, event_ts)
VALUES ('p1', 't1', now(), '{"n": 10}', 'out-1', now() + interval '1 second'),
       ('p2', 't2', now(), '{"n": 20}', 'out-2', now() + interval '1 second'),
       ('p2', 't4', now(), '{"n": 4}', '', now()),
       ('p3', 't3', now(), '{"n": 30}', 'out-3', now() + interval '1 second');
SET ROLE rls_p1;
SELECT project_id, id, usage_details, output FROM rls.traces_all ORDER BY id;
SET ROLE rls_p2;
SELECT project_id, id, usage_details, output FROM rls.traces_all ORDER BY id;
SET ROLE rls_admin;
SELECT project_id, id, usage_details, output FROM traces_all ORDER BY id;

-- FORCE ROW LEVEL SECURITY subjects the owner, and with it the fan-out, to
-- the policies: the merge needs a policy letting the owner write, or the
-- whole INSERT fails and nothing changes.
ALTER TABLE traces_all_amt FORCE ROW LEVEL SECURITY;
SET ROLE rls_ingest;
\set VERBOSITY terse
INSERT INTO rls.traces_null (project_id, id, start_time, usage_details) VALUES ('p1', 't1', now(), '{"n": 100}');
\set VERBOSITY default
SET ROLE rls_admin;
CREATE POLICY owner_writes ON traces_all_amt TO rls_admin USING (true);
SET ROLE rls_ingest;
INSERT INTO rls.traces_null (project_id, id, start_time, usage_details) VALUES ('p1', 't1', now(), '{"n": 100}');
SET ROLE rls_p1;
SELECT project_id, id, usage_details FROM rls.traces_all ORDER BY id;

RESET ROLE;
SELECT trace_agg.drop_materialized_view(v)
FROM unnest(ARRAY['traces_all_amt_mv', 'traces_7d_amt_mv', 'traces_30d_amt_mv']) v;
SELECT trace_agg.remove_ttl(t) FROM unnest(ARRAY['rls.traces_7d_amt', 'rls.traces_30d_amt']::regclass[]) t;
RESET search_path;
DROP SCHEMA rls CASCADE;
DROP ROLE rls_admin, rls_ingest, rls_p1, rls_p2;
