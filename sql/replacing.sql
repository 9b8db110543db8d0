-- Latest version per id, as Opik's ReplacingMergeTree tables keep it
-- (issue 13, item 2): traces, spans and feedback scores, each fed in random
-- batches, arriving in random order with many equal versions, into a target
-- of one row per id through a materialized view.  Equal versions go to the
-- later arrival (ReplacingMergeTree keeps the last inserted).  The targets
-- must equal a plain recomputation from the stored sources:
--   DISTINCT ON (id) ... ORDER BY id, last_updated_at DESC, arrival DESC
CREATE SCHEMA opik;
SET search_path = opik, public;
CREATE TYPE span_type AS ENUM ('general', 'tool', 'llm', 'guardrails');
CREATE TYPE entity_type AS ENUM ('trace', 'span', 'thread');
CREATE TYPE score_source AS ENUM ('sdk', 'ui', 'online_scoring');

CREATE TABLE traces (
    id uuid NOT NULL, workspace_id text NOT NULL, project_id uuid NOT NULL,
    name text, start_time timestamptz, end_time timestamptz,
    input text, output text, metadata jsonb, tags text[], thread_id text,
    created_at timestamptz, last_updated_at timestamptz NOT NULL, arrival bigint NOT NULL);
CREATE TABLE spans (
    id uuid NOT NULL, workspace_id text NOT NULL, project_id uuid NOT NULL,
    trace_id uuid NOT NULL, parent_span_id uuid, name text, type span_type,
    start_time timestamptz, end_time timestamptz, input text, output text,
    metadata jsonb, tags text[], usage jsonb, model text, error_info text,
    total_estimated_cost numeric(38, 12),
    created_at timestamptz, last_updated_at timestamptz NOT NULL, arrival bigint NOT NULL);
CREATE TABLE feedback_scores (
    entity_id uuid NOT NULL, entity_type entity_type NOT NULL, project_id uuid NOT NULL,
    workspace_id text NOT NULL, name text NOT NULL, category_name text,
    value numeric(18, 9), reason text, source score_source,
    created_at timestamptz, last_updated_at timestamptz NOT NULL, arrival bigint NOT NULL);

-- Whole rows as states: the row type of the source names every column, so
-- the state holds the complete latest version.
CREATE TABLE traces_latest (id uuid PRIMARY KEY, last_updated_at timestamptz,
                            versions bigint, r trace_agg.argmax_any);
SELECT trace_agg.create_materialized_view('traces_latest_mv', 'opik.traces_latest', $q$
SELECT t.id, max(t.last_updated_at) AS last_updated_at, count(*) AS versions,
       trace_agg.argmax_last_state(ROW(t.id, t.workspace_id, t.project_id, t.name, t.start_time,
                                       t.end_time, t.input, t.output, t.metadata, t.tags,
                                       t.thread_id, t.created_at, t.last_updated_at,
                                       t.arrival)::opik.traces, t.last_updated_at) AS r
FROM opik.traces t GROUP BY t.id$q$);
CREATE TABLE spans_latest (id uuid PRIMARY KEY, r trace_agg.argmax_any);
SELECT trace_agg.create_materialized_view('spans_latest_mv', 'opik.spans_latest', $q$
SELECT s.id,
       trace_agg.argmax_last_state(ROW(s.id, s.workspace_id, s.project_id, s.trace_id,
                                       s.parent_span_id, s.name, s.type, s.start_time,
                                       s.end_time, s.input, s.output, s.metadata, s.tags,
                                       s.usage, s.model, s.error_info, s.total_estimated_cost,
                                       s.created_at, s.last_updated_at, s.arrival)::opik.spans,
                                   s.last_updated_at) AS r
FROM opik.spans s GROUP BY s.id$q$);
-- Column by column: last_set counts a NULL of the latest version as its
-- value, so each column is that of the latest version, as a whole row's.
CREATE TABLE feedback_scores_latest (
    entity_type entity_type, entity_id uuid, name text,
    value trace_agg.argmax_any, reason trace_agg.argmax_any, source trace_agg.argmax_any,
    arrival trace_agg.argmax_any,
    PRIMARY KEY (entity_type, entity_id, name));
SELECT trace_agg.create_materialized_view('feedback_scores_latest_mv', 'opik.feedback_scores_latest', $q$
SELECT f.entity_type, f.entity_id, f.name,
       trace_agg.last_set_state(f.value, f.last_updated_at) AS value,
       trace_agg.last_set_state(f.reason, f.last_updated_at) AS reason,
       trace_agg.last_set_state(f.source, f.last_updated_at) AS source,
       trace_agg.last_set_state(f.arrival, f.last_updated_at) AS arrival
FROM opik.feedback_scores f GROUP BY f.entity_type, f.entity_id, f.name$q$);

-- Reading: the state's value is stored uncompressed, so finalize() is a
-- copy; a function in FROM expands the row once.
CREATE VIEW traces_current AS
SELECT r.* FROM opik.traces_latest l CROSS JOIN LATERAL trace_agg.finalize(l.r, NULL::opik.traces) AS r;
CREATE VIEW spans_current AS
SELECT r.* FROM opik.spans_latest l CROSS JOIN LATERAL trace_agg.finalize(l.r, NULL::opik.spans) AS r;
CREATE VIEW feedback_scores_current AS
SELECT entity_type, entity_id, name,
       trace_agg.finalize(value, NULL::numeric) AS value,
       trace_agg.finalize(reason, NULL::text) AS reason,
       trace_agg.finalize(source, NULL::opik.score_source) AS source,
       trace_agg.finalize(arrival, NULL::bigint) AS arrival
FROM opik.feedback_scores_latest;

-- Versions: 80 ids, 1 to 5 versions each, last_updated_at on a coarse grid
-- so that many versions tie; arrival in random order.
SELECT setseed(0.42);
CREATE TABLE versions AS
SELECT v.*, row_number() OVER (ORDER BY random()) AS arrival
FROM (SELECT ('00000000-0000-0000-0000-' || lpad(i::text, 12, '0'))::uuid AS id, n AS version,
             '2025-03-01'::timestamptz + (random() * 4)::int * interval '1 minute' AS last_updated_at,
             random() AS r1, random() AS r2
      FROM generate_series(1, 80) i, generate_series(1, 1 + (random() * 4)::int) n) v;

-- Random batches in arrival order, one INSERT per batch and table.
DO $$
DECLARE
    lo bigint := 0;
    hi bigint;
    total bigint := (SELECT count(*) FROM opik.versions);
BEGIN
    WHILE lo < total LOOP
        hi := lo + 1 + (random() * 30)::int;
        INSERT INTO opik.traces
        SELECT id, 'ws', '11111111-1111-1111-1111-111111111111', 'trace v' || version,
               '2025-03-01', CASE WHEN r1 < 0.3 THEN NULL ELSE '2025-03-01 00:00:01'::timestamptz END,
               'in ' || version, CASE WHEN r2 < 0.2 THEN NULL ELSE 'out ' || version END,
               jsonb_build_object('v', version), ARRAY['t' || version], NULL,
               '2025-03-01', last_updated_at, arrival
        FROM opik.versions WHERE arrival > lo AND arrival <= hi ORDER BY arrival;
        INSERT INTO opik.spans
        SELECT id, 'ws', '11111111-1111-1111-1111-111111111111', id, NULL, 'span v' || version,
               (ARRAY['general', 'tool', 'llm', 'guardrails'])[1 + version % 4]::opik.span_type,
               '2025-03-01', NULL, 'in', CASE WHEN r2 < 0.5 THEN NULL ELSE 'out' END,
               '{}', '{}', jsonb_build_object('total_tokens', version * 10),
               CASE WHEN r1 < 0.5 THEN 'gpt' END, NULL, (r1 * 100)::numeric(38, 12),
               '2025-03-01', last_updated_at, arrival
        FROM opik.versions WHERE arrival > lo AND arrival <= hi ORDER BY arrival;
        INSERT INTO opik.feedback_scores
        SELECT id, (ARRAY['trace', 'span'])[1 + (get_byte(uuid_send(id), 15) % 2)]::opik.entity_type,
               '11111111-1111-1111-1111-111111111111', 'ws', 'accuracy', NULL,
               round(r1::numeric, 4), CASE WHEN r2 < 0.3 THEN NULL ELSE 'reason ' || version END,
               (ARRAY['sdk', 'ui', 'online_scoring'])[1 + version % 3]::opik.score_source,
               '2025-03-01', last_updated_at, arrival
        FROM opik.versions WHERE arrival > lo AND arrival <= hi ORDER BY arrival;
        lo := hi;
    END LOOP;
END $$;

-- The data exercises the rules: for many ids the latest versions tie, and
-- the later arrival among them is another row than the first (argmax would
-- keep the first).
SELECT count(DISTINCT id) AS ids, count(*) AS versions,
       (SELECT count(*) FROM (SELECT DISTINCT ON (id) id, arrival FROM versions ORDER BY id, last_updated_at DESC, arrival DESC) l
        JOIN (SELECT DISTINCT ON (id) id, arrival FROM versions ORDER BY id, last_updated_at DESC, arrival) f USING (id)
        WHERE l.arrival <> f.arrival) AS ids_where_ties_matter
FROM versions;

-- Targets against the plain recomputation: no difference, one row per id.
SELECT 'traces' AS t, count(*) AS rows,
       count(*) FILTER (WHERE (p.*)::text IS DISTINCT FROM (m.*)::text) AS differences
FROM (SELECT DISTINCT ON (id) * FROM traces ORDER BY id, last_updated_at DESC, arrival DESC) p
FULL JOIN traces_current m USING (id)
UNION ALL
SELECT 'spans', count(*), count(*) FILTER (WHERE (p.*)::text IS DISTINCT FROM (m.*)::text)
FROM (SELECT DISTINCT ON (id) * FROM spans ORDER BY id, last_updated_at DESC, arrival DESC) p
FULL JOIN spans_current m USING (id)
UNION ALL
SELECT 'feedback_scores', count(*), count(*) FILTER (WHERE (p.*)::text IS DISTINCT FROM (m.*)::text)
FROM (SELECT DISTINCT ON (entity_type, entity_id, name) entity_type, entity_id, name, value, reason, source, arrival
      FROM feedback_scores ORDER BY entity_type, entity_id, name, last_updated_at DESC, arrival DESC) p
FULL JOIN feedback_scores_current m USING (entity_type, entity_id, name);
SELECT count(*) AS ids, sum(versions) = (SELECT count(*) FROM traces) AS counted, max(last_updated_at) = (SELECT max(last_updated_at) FROM traces) AS max_ok
FROM traces_latest;

-- A later version arriving alone replaces the row; an older one, or an
-- equal one arriving earlier than the stored, does not.
INSERT INTO traces (id, workspace_id, project_id, name, last_updated_at, arrival)
VALUES ('00000000-0000-0000-0000-000000000001', 'ws', '11111111-1111-1111-1111-111111111111',
        'older', '2025-02-01', 100000);
SELECT name FROM traces_current WHERE id = '00000000-0000-0000-0000-000000000001';
INSERT INTO traces (id, workspace_id, project_id, name, last_updated_at, arrival)
VALUES ('00000000-0000-0000-0000-000000000001', 'ws', '11111111-1111-1111-1111-111111111111',
        'equal, later arrival', '2025-03-01 00:04', 100001);
SELECT name FROM traces_current WHERE id = '00000000-0000-0000-0000-000000000001';
INSERT INTO traces (id, workspace_id, project_id, name, last_updated_at, arrival)
VALUES ('00000000-0000-0000-0000-000000000001', 'ws', '11111111-1111-1111-1111-111111111111',
        'newer', '2025-04-01', 100002),
       ('00000000-0000-0000-0000-000000000001', 'ws', '11111111-1111-1111-1111-111111111111',
        'newer, same batch, later', '2025-04-01', 100003);
SELECT name FROM traces_current WHERE id = '00000000-0000-0000-0000-000000000001';

-- A whole row built without a type cannot be stored: it has no name.
SELECT trace_agg.argmax_last_state(ROW(t.id, t.name), t.last_updated_at) FROM traces t;

RESET search_path;
DROP SCHEMA opik CASCADE;
