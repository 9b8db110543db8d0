-- Replacing views (issue 13, item 2): create_materialized_view(...,
-- version => column) keeps, per primary key of the target, the whole row of
-- the greatest version in plain columns, as Opik's ReplacingMergeTree
-- (last_updated_at) tables keep traces, spans and feedback scores.  Equal
-- versions go to the later arrival, in one batch and across batches; a NULL
-- version is less than any other.  Each target must equal the plain
-- recomputation from the stored sources:
--   DISTINCT ON (key) ... ORDER BY key, version DESC NULLS LAST, arrival DESC
CREATE SCHEMA rr;
SET search_path = rr, public;
CREATE TYPE span_type AS ENUM ('general', 'tool', 'llm', 'guardrails');
CREATE TYPE entity_type AS ENUM ('trace', 'span', 'thread');
CREATE TYPE score_source AS ENUM ('sdk', 'ui', 'online_scoring');

-- The sources store every version (heap tables), so that the targets can
-- be recomputed; arrival numbers the versions in the order they came.
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

-- The targets: plain tables keyed as Opik orders its tables.
CREATE TABLE traces_rows (LIKE traces, PRIMARY KEY (workspace_id, project_id, id));
CREATE TABLE spans_rows (LIKE spans, PRIMARY KEY (workspace_id, project_id, trace_id, id));
CREATE TABLE feedback_scores_rows (LIKE feedback_scores,
    PRIMARY KEY (workspace_id, project_id, entity_type, entity_id, name));
SELECT trace_agg.create_materialized_view('traces_rows_mv', 'rr.traces_rows',
    'SELECT * FROM rr.traces', version => 'last_updated_at');
SELECT trace_agg.create_materialized_view('spans_rows_mv', 'rr.spans_rows',
    'SELECT * FROM rr.spans', version => 'last_updated_at');
-- A WHERE clause filters the rows; drafts are never kept.
SELECT trace_agg.create_materialized_view('feedback_scores_rows_mv', 'rr.feedback_scores_rows',
    $$SELECT * FROM rr.feedback_scores f WHERE f.name <> 'draft'$$, version => 'last_updated_at');
SELECT view_name, target, version_column FROM trace_agg.materialized_views
WHERE schema = 'rr' ORDER BY 1;

-- Versions: 200 ids, 1 to 6 versions each, last_updated_at on a grid of
-- four minutes so that many versions tie; arrival in random order.
SELECT setseed(0.13);
CREATE TABLE versions AS
SELECT v.*, row_number() OVER (ORDER BY random()) AS arrival
FROM (SELECT ('00000000-0000-0000-0000-' || lpad(i::text, 12, '0'))::uuid AS id, n AS version,
             '2025-03-01'::timestamptz + (random() * 3)::int * interval '1 minute' AS last_updated_at,
             random() AS r1, random() AS r2
      FROM generate_series(1, 200) i, generate_series(1, 1 + (random() * 5)::int) n) v;

-- Random batches in arrival order, one INSERT per batch and table.
DO $$
DECLARE
    lo bigint := 0;
    hi bigint;
    total bigint := (SELECT count(*) FROM rr.versions);
BEGIN
    WHILE lo < total LOOP
        hi := lo + 1 + (random() * 40)::int;
        INSERT INTO rr.traces
        SELECT id, 'ws', '11111111-1111-1111-1111-111111111111', 'trace v' || version,
               '2025-03-01', CASE WHEN r1 < 0.3 THEN NULL ELSE '2025-03-01 00:00:01'::timestamptz END,
               'in ' || version, CASE WHEN r2 < 0.2 THEN NULL ELSE 'out ' || version END,
               jsonb_build_object('v', version), ARRAY['t' || version], NULL,
               '2025-03-01', last_updated_at, arrival
        FROM rr.versions WHERE arrival > lo AND arrival <= hi ORDER BY arrival;
        INSERT INTO rr.spans
        SELECT id, 'ws', '11111111-1111-1111-1111-111111111111', id, NULL, 'span v' || version,
               (ARRAY['general', 'tool', 'llm', 'guardrails'])[1 + version % 4]::rr.span_type,
               '2025-03-01', NULL, 'in', CASE WHEN r2 < 0.5 THEN NULL ELSE 'out' END,
               '{}', '{}', jsonb_build_object('total_tokens', version * 10),
               CASE WHEN r1 < 0.5 THEN 'gpt' END, NULL, (r1 * 100)::numeric(38, 12),
               '2025-03-01', last_updated_at, arrival
        FROM rr.versions WHERE arrival > lo AND arrival <= hi ORDER BY arrival;
        INSERT INTO rr.feedback_scores
        SELECT id, (ARRAY['trace', 'span'])[1 + (get_byte(uuid_send(id), 15) % 2)]::rr.entity_type,
               '11111111-1111-1111-1111-111111111111', 'ws',
               CASE WHEN get_byte(uuid_send(id), 15) % 5 = 0 THEN 'draft' ELSE 'accuracy' END, NULL,
               round(r1::numeric, 4), CASE WHEN r2 < 0.3 THEN NULL ELSE 'reason ' || version END,
               (ARRAY['sdk', 'ui', 'online_scoring'])[1 + version % 3]::rr.score_source,
               '2025-03-01', last_updated_at, arrival
        FROM rr.versions WHERE arrival > lo AND arrival <= hi ORDER BY arrival;
        lo := hi;
    END LOOP;
END $$;

-- The data exercises the rule: for many ids the greatest versions tie, and
-- the later arrival among them is another row than the first.
SELECT count(DISTINCT id) AS ids, count(*) AS versions,
       (SELECT count(*) FROM (SELECT DISTINCT ON (id) id, arrival FROM versions ORDER BY id, last_updated_at DESC, arrival DESC) l
        JOIN (SELECT DISTINCT ON (id) id, arrival FROM versions ORDER BY id, last_updated_at DESC, arrival) f USING (id)
        WHERE l.arrival <> f.arrival) AS ids_where_ties_matter
FROM versions;

-- Targets against the plain recomputation: no difference, one row per key.
CREATE VIEW traces_expected AS
SELECT DISTINCT ON (workspace_id, project_id, id) * FROM traces
ORDER BY workspace_id, project_id, id, last_updated_at DESC NULLS LAST, arrival DESC;
CREATE VIEW spans_expected AS
SELECT DISTINCT ON (workspace_id, project_id, trace_id, id) * FROM spans
ORDER BY workspace_id, project_id, trace_id, id, last_updated_at DESC NULLS LAST, arrival DESC;
CREATE VIEW feedback_scores_expected AS
SELECT DISTINCT ON (workspace_id, project_id, entity_type, entity_id, name) * FROM feedback_scores
WHERE name <> 'draft'
ORDER BY workspace_id, project_id, entity_type, entity_id, name, last_updated_at DESC NULLS LAST, arrival DESC;
CREATE VIEW differences AS
SELECT 'traces' AS t, count(*) AS rows,
       count(*) FILTER (WHERE (p.*)::text IS DISTINCT FROM (m.*)::text) AS differences
FROM traces_expected p FULL JOIN traces_rows m USING (workspace_id, project_id, id)
UNION ALL
SELECT 'spans', count(*), count(*) FILTER (WHERE (p.*)::text IS DISTINCT FROM (m.*)::text)
FROM spans_expected p FULL JOIN spans_rows m USING (workspace_id, project_id, trace_id, id)
UNION ALL
SELECT 'feedback_scores', count(*), count(*) FILTER (WHERE (p.*)::text IS DISTINCT FROM (m.*)::text)
FROM feedback_scores_expected p
FULL JOIN feedback_scores_rows m USING (workspace_id, project_id, entity_type, entity_id, name);
SELECT * FROM differences;
SELECT count(*) AS drafts_kept FROM feedback_scores_rows WHERE name = 'draft';

-- Backfill: a new view over the stored versions fills its target at once,
-- rows fed in the order a scan returns them (here, arrival order).
CREATE TABLE traces_rows_2 (LIKE traces, PRIMARY KEY (workspace_id, project_id, id));
SELECT trace_agg.create_materialized_view('traces_rows_2_mv', 'rr.traces_rows_2',
    'SELECT * FROM rr.traces', backfill => true, version => 'last_updated_at');
SELECT count(*) AS rows,
       count(*) FILTER (WHERE (p.*)::text IS DISTINCT FROM (m.*)::text) AS differences
FROM traces_expected p FULL JOIN traces_rows_2 m USING (workspace_id, project_id, id);

-- Deleting a trace for good: a later version of it, even a newer one, does
-- not bring it back; other traces keep being replaced.
SELECT trace_agg.delete_keys('rr.traces', ARRAY['ws', '11111111-1111-1111-1111-111111111111',
                                                 '00000000-0000-0000-0000-000000000007']);
INSERT INTO traces (id, workspace_id, project_id, name, last_updated_at, arrival)
VALUES ('00000000-0000-0000-0000-000000000007', 'ws', '11111111-1111-1111-1111-111111111111',
        'late version of a deleted trace', '2025-06-01', 100000),
       ('00000000-0000-0000-0000-000000000008', 'ws', '11111111-1111-1111-1111-111111111111',
        'late version', '2025-06-01', 100001);
SELECT id, name FROM traces_rows
WHERE id IN ('00000000-0000-0000-0000-000000000007', '00000000-0000-0000-0000-000000000008')
UNION ALL
SELECT id, name FROM traces_rows_2
WHERE id IN ('00000000-0000-0000-0000-000000000007', '00000000-0000-0000-0000-000000000008')
ORDER BY 1;

-- The tie and NULL rules one by one, and what a view runs.
CREATE TABLE ev (k int, v bigint, payload text, arrival int) USING trace_agg_null;
CREATE TABLE latest (k int PRIMARY KEY, v bigint, payload text, arrival int,
                     note text DEFAULT 'untouched');
SELECT trace_agg.create_materialized_view('latest_mv', 'rr.latest',
    'SELECT e.k, e.v, e.payload, e.arrival FROM rr.ev e', version => 'v');
SELECT statement FROM trace_agg.materialized_view_statements('rr.ev');
-- In one batch, equal versions: the later arrival wins; an older version
-- arriving after them does not.
INSERT INTO ev VALUES (1, 5, 'first', 1), (1, 5, 'second', 2), (1, 4, 'older, later', 3);
SELECT k, v, payload, arrival, note FROM latest;
-- Across batches: an equal version of a later batch replaces the row, an
-- older one does not, a newer one does.  A column the view does not write
-- keeps its value.
UPDATE latest SET note = 'set by hand';
INSERT INTO ev VALUES (1, 5, 'third', 4);
SELECT k, v, payload, arrival, note FROM latest;
INSERT INTO ev VALUES (1, 4, 'older', 5);
SELECT k, v, payload, arrival, note FROM latest;
INSERT INTO ev VALUES (1, 6, 'newer', 6);
SELECT k, v, payload, arrival, note FROM latest;
-- NULL versions: less than any version; of NULL versions the later arrival
-- wins, in a batch and across batches.
INSERT INTO ev VALUES (2, NULL, 'null a', 7), (2, NULL, 'null b', 8);
SELECT k, v, payload, arrival FROM latest WHERE k = 2;
INSERT INTO ev VALUES (2, NULL, 'null c', 9);
SELECT k, v, payload, arrival FROM latest WHERE k = 2;
INSERT INTO ev VALUES (2, 1, 'one', 10), (2, NULL, 'null d', 11);
SELECT k, v, payload, arrival FROM latest WHERE k = 2;
INSERT INTO ev VALUES (2, NULL, 'null e', 12);
SELECT k, v, payload, arrival FROM latest WHERE k = 2;

-- Renaming the version column keeps the view replacing by it.
ALTER TABLE latest RENAME COLUMN v TO version;
SELECT view_name, version_column FROM trace_agg.materialized_views WHERE view_name = 'latest_mv';
INSERT INTO ev VALUES (1, 7, 'after the rename', 13), (1, 3, 'old, after the rename', 14);
SELECT k, version, payload, arrival FROM latest WHERE k = 1;
INSERT INTO ev VALUES (1, 6, 'older, after the rename', 15);
SELECT k, version, payload, arrival FROM latest WHERE k = 1;
-- Dropping it needs CASCADE, which drops the view.
ALTER TABLE latest DROP COLUMN version;
BEGIN;
ALTER TABLE latest DROP COLUMN version CASCADE;
SELECT count(*) AS views_left FROM trace_agg.materialized_views WHERE view_name = 'latest_mv';
ROLLBACK;

-- A replacing view never shares a statement: neither with an aggregating
-- view of its source, nor with a replacing view of the same query (its rows
-- per key depend on its target's key).
CREATE TABLE counts (k int PRIMARY KEY, n bigint);
SELECT trace_agg.create_materialized_view('counts_mv', 'rr.counts',
    'SELECT e.k, count(*) AS n FROM rr.ev e GROUP BY e.k');
CREATE TABLE latest_by_payload (payload text PRIMARY KEY, k int, v bigint, arrival int);
SELECT trace_agg.create_materialized_view('latest_by_payload_mv', 'rr.latest_by_payload',
    'SELECT e.k, e.v, e.payload, e.arrival FROM rr.ev e', version => 'v');
SELECT views::text FROM trace_agg.materialized_view_statements('rr.ev') ORDER BY 1;
INSERT INTO ev VALUES (3, 1, 'p', 16), (4, 2, 'p', 17), (3, 1, 'q', 18);
SELECT * FROM counts ORDER BY k;
SELECT * FROM latest_by_payload ORDER BY payload;
SELECT k, version, payload, arrival FROM latest WHERE k IN (3, 4) ORDER BY k;

-- TTL: a version whose TTL column has expired is never written; a live
-- one replaces as usual.
CREATE TABLE tev (k int, v int, ts timestamptz) USING trace_agg_null;
CREATE TABLE tlatest (k int PRIMARY KEY, v int, ts timestamptz);
SELECT trace_agg.create_materialized_view('tlatest_mv', 'rr.tlatest',
    'SELECT t.k, t.v, t.ts FROM rr.tev t', version => 'v');
SELECT trace_agg.set_ttl('rr.tlatest', 'ts', '7 days');
INSERT INTO tev VALUES (1, 1, now()), (2, 1, '2000-01-01');
SELECT k, v, ts > now() - interval '1 day' AS recent FROM tlatest ORDER BY k;
INSERT INTO tev VALUES (1, 2, '2000-01-01');
SELECT k, v, ts > now() - interval '1 day' AS recent FROM tlatest ORDER BY k;
INSERT INTO tev VALUES (1, 3, now());
SELECT k, v, ts > now() - interval '1 day' AS recent FROM tlatest ORDER BY k;

-- Refused, with nothing left behind.
SELECT trace_agg.create_materialized_view('bad', 'rr.latest',
    'SELECT e.k, max(e.v) AS version FROM rr.ev e GROUP BY e.k', version => 'version');
SELECT trace_agg.create_materialized_view('bad', 'rr.latest',
    'SELECT max(e.k) AS k, max(e.v) AS version FROM rr.ev e', version => 'version');
SELECT trace_agg.create_materialized_view('bad', 'rr.latest',
    'SELECT e.k, e.v AS version FROM rr.ev e', version => 'nope');
-- A system column is no version column.
SELECT trace_agg.create_materialized_view('bad', 'rr.latest',
    'SELECT e.k, e.v AS version FROM rr.ev e', version => 'xmin');
SELECT trace_agg.create_materialized_view('bad', 'rr.latest',
    'SELECT e.k, e.payload FROM rr.ev e', version => 'version');
CREATE TABLE no_pkey (k int UNIQUE, v bigint);
SELECT trace_agg.create_materialized_view('bad', 'rr.no_pkey',
    'SELECT e.k, e.v FROM rr.ev e', version => 'v');
CREATE TABLE two_keys (k int, j int, v bigint, PRIMARY KEY (k, j));
SELECT trace_agg.create_materialized_view('bad', 'rr.two_keys',
    'SELECT e.k, e.v FROM rr.ev e', version => 'v');
SELECT trace_agg.create_materialized_view('bad', 'rr.latest',
    'SELECT e.k + 1 AS k, e.v AS version FROM rr.ev e', version => 'version');
CREATE TABLE version_in_key (k int, v bigint, PRIMARY KEY (k, v));
SELECT trace_agg.create_materialized_view('bad', 'rr.version_in_key',
    'SELECT e.k, e.v FROM rr.ev e', version => 'v');
SELECT trace_agg.create_materialized_view('bad', 'rr.latest',
    'SELECT e.k, e.v::int AS version FROM rr.ev e', version => 'version');
CREATE TABLE json_version (k int PRIMARY KEY, v json);
SELECT trace_agg.create_materialized_view('bad', 'rr.json_version',
    'SELECT e.k, to_json(e.v) AS v FROM rr.ev e', version => 'v');
SELECT trace_agg.create_materialized_view('bad', 'rr.latest',
    'SELECT e.k, e.v AS version, row_number() OVER () AS arrival FROM rr.ev e', version => 'version');
SELECT count(*) AS bad_views FROM trace_agg.materialized_views WHERE view_name = 'bad';

RESET search_path;
DROP SCHEMA rr CASCADE;
