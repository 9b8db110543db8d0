-- test/bench/peer.sql: the plain-SQL peer of trace_agg's traces setup, for
-- the benchmark (test/bench/run).
--
-- What a skilled Postgres user writes without the extension: a heap
-- traces_null whose INSERT statements fire one statement-level AFTER INSERT
-- trigger per target table; each trigger aggregates the statement's rows
-- (REFERENCING NEW TABLE) per trace and merges them into its target with
-- INSERT ... SELECT ... GROUP BY ... ON CONFLICT DO UPDATE.  The merged
-- values are the same as trace_agg's (the benchmark checks it): argMax as a
-- composite (key, value) where the greater key wins and, on equal keys, the
-- earlier row; sumMap and maxMap over jsonb objects; tags and id arrays as
-- sorted sets; the 7d and 30d tables skip traces past their TTL, also when
-- only the all table knows that the trace started before the window.
--
-- Made as fast as plain SQL honestly allows:
-- - traces_null is UNLOGGED: its rows only carry a statement's events to
--   the triggers, and the targets are logged;
-- - the input/output composites are compressed with lz4, not pglz;
-- - the targets leave room for updates on their pages and move large values
--   out of line (fillfactor, toast_tuple_target, as trace_agg's setup), so
--   that most updates are HOT;
-- - a batch is aggregated from its rows sorted once by trace and arrival, so
--   that "last non-null" and "first greatest key" are array subscripts, not
--   per-group sorts;
-- - the TTL tables decide which traces they keep before aggregating them;
-- - merges skip work when the batch brings nothing new (tags already
--   present, empty maps, a losing argMax, whose stored TOAST value is then
--   kept as it is).
--
-- Everything lives in schema peer; the read views traces_all, traces_7d and
-- traces_30d show plain values, as trace_agg's do.

CREATE SCHEMA peer;

CREATE TYPE peer.argmax_text AS (ts timestamptz, v text);
CREATE TYPE peer.argmax_bool AS (ts timestamptz, v boolean);

-- The oldest start_time a TTL table keeps (trace_agg.ttl_cutoff's rule: a
-- trace lives while its UTC start date plus the TTL is after now).
CREATE FUNCTION peer.ttl_cutoff(ttl interval) RETURNS timestamptz
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN (date_trunc('day', (now() AT TIME ZONE 'UTC') - ttl) + interval '1 day') AT TIME ZONE 'UTC';

CREATE UNLOGGED TABLE peer.traces_null (
    project_id      text NOT NULL,
    id              text NOT NULL,
    start_time      timestamptz NOT NULL,
    end_time        timestamptz,
    name            text,
    metadata        jsonb NOT NULL DEFAULT '{}',
    user_id         text,
    session_id      text,
    environment     text NOT NULL DEFAULT 'default',
    tags            text[] NOT NULL DEFAULT '{}',
    version         text,
    release         text,
    bookmarked      boolean,
    public          boolean,
    observation_ids text[] NOT NULL DEFAULT '{}',
    score_ids       text[] NOT NULL DEFAULT '{}',
    cost_details    jsonb NOT NULL DEFAULT '{}',
    usage_details   jsonb NOT NULL DEFAULT '{}',
    input           text NOT NULL DEFAULT '',
    output          text NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    event_ts        timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE peer.traces_null ALTER input SET COMPRESSION lz4, ALTER output SET COMPRESSION lz4;

CREATE TABLE peer.traces_all_amt (
    project_id      text NOT NULL,
    id              text NOT NULL,
    "timestamp"     timestamptz,
    start_time      timestamptz,
    end_time        timestamptz,
    name            text,
    metadata        jsonb,
    user_id         text,
    session_id      text,
    environment     text,
    tags            text[],
    version         text,
    release         text,
    bookmarked      peer.argmax_bool,
    public          peer.argmax_bool,
    observation_ids text[],
    score_ids       text[],
    cost_details    jsonb,
    usage_details   jsonb,
    input           peer.argmax_text COMPRESSION lz4,
    output          peer.argmax_text COMPRESSION lz4,
    created_at      timestamptz,
    updated_at      timestamptz,
    PRIMARY KEY (project_id, id)
) WITH (fillfactor = 70, toast_tuple_target = 512);
CREATE TABLE peer.traces_7d_amt (LIKE peer.traces_all_amt INCLUDING ALL)
    WITH (fillfactor = 70, toast_tuple_target = 512);
CREATE TABLE peer.traces_30d_amt (LIKE peer.traces_all_amt INCLUDING ALL)
    WITH (fillfactor = 70, toast_tuple_target = 512);

-- The same indexes as trace_agg's setup, for the same reads.
DO $do$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['traces_all_amt', 'traces_7d_amt', 'traces_30d_amt'] LOOP
        EXECUTE format('CREATE INDEX ON peer.%I (project_id, "timestamp" DESC)', t);
        EXECUTE format('CREATE INDEX ON peer.%I (project_id, environment, "timestamp" DESC)', t);
        EXECUTE format('CREATE INDEX ON peer.%I (project_id, session_id) WHERE session_id IS NOT NULL', t);
        EXECUTE format('CREATE INDEX ON peer.%I (project_id, user_id) WHERE user_id IS NOT NULL', t);
        EXECUTE format('CREATE INDEX ON peer.%I (project_id, name)', t);
        EXECUTE format('CREATE INDEX ON peer.%I USING gin (tags)', t);
        EXECUTE format('CREATE INDEX ON peer.%I USING gin (metadata jsonb_path_ops)', t);
        EXECUTE format('CREATE INDEX ON peer.%I (start_time)', t);
    END LOOP;
END
$do$;
CREATE INDEX ON peer.traces_all_amt (id);
CREATE INDEX ON peer.traces_all_amt (created_at);

-- The body every trigger shares, as text: "%1$s" is the target, "%2$s" the
-- TTL condition on the batch's traces and "%3$s" the one on stored rows.
CREATE FUNCTION peer.merge_sql(target text, batch_alive text, stored_alive text)
    RETURNS text LANGUAGE sql IMMUTABLE
RETURN format($q$
WITH n AS (
    SELECT r.*, row_number() OVER () AS ord FROM new_rows r
), k AS (
    -- the traces of the batch this target keeps
    SELECT n.project_id, n.id, min(n.start_time) AS start_time
    FROM n GROUP BY n.project_id, n.id
    HAVING %2$s
), s AS (
    SELECT n.* FROM n JOIN k USING (project_id, id) ORDER BY n.project_id, n.id, n.ord
), a AS (
    SELECT s.project_id, s.id,
           min(s.start_time) AS start_time,
           max(coalesce(s.end_time, s.start_time)) AS end_time,
           array_agg(s.name) FILTER (WHERE s.name IS NOT NULL) AS names,
           array_agg(s.user_id) FILTER (WHERE s.user_id IS NOT NULL) AS user_ids,
           array_agg(s.session_id) FILTER (WHERE s.session_id IS NOT NULL) AS session_ids,
           array_agg(s.environment) AS environments,
           array_agg(s.version) FILTER (WHERE s.version IS NOT NULL) AS versions,
           array_agg(s.release) FILTER (WHERE s.release IS NOT NULL) AS releases,
           array_agg(s.bookmarked) FILTER (WHERE s.bookmarked IS NOT NULL) AS bookmarked_v,
           array_agg(s.event_ts) FILTER (WHERE s.bookmarked IS NOT NULL) AS bookmarked_k,
           max(s.event_ts) FILTER (WHERE s.bookmarked IS NOT NULL) AS bookmarked_max,
           array_agg(s.public) FILTER (WHERE s.public IS NOT NULL) AS public_v,
           array_agg(s.event_ts) FILTER (WHERE s.public IS NOT NULL) AS public_k,
           max(s.event_ts) FILTER (WHERE s.public IS NOT NULL) AS public_max,
           array_agg(s.input) FILTER (WHERE s.input <> '') AS input_v,
           array_agg(s.event_ts) FILTER (WHERE s.input <> '') AS input_k,
           max(s.event_ts) FILTER (WHERE s.input <> '') AS input_max,
           array_agg(s.output) FILTER (WHERE s.output <> '') AS output_v,
           array_agg(s.event_ts) FILTER (WHERE s.output <> '') AS output_k,
           max(s.event_ts) FILTER (WHERE s.output <> '') AS output_max,
           min(s.created_at) AS created_at,
           max(s.updated_at) AS updated_at
    FROM s GROUP BY s.project_id, s.id
), e AS (
    -- map entries: 1 metadata (maxMap), 2 usage and 3 cost (sumMap)
    SELECT s.project_id, s.id, 1 AS kind, m.key, m.value FROM s, jsonb_each_text(s.metadata) m
    UNION ALL
    SELECT s.project_id, s.id, 2, m.key, m.value FROM s, jsonb_each_text(s.usage_details) m
    UNION ALL
    SELECT s.project_id, s.id, 3, m.key, m.value FROM s, jsonb_each_text(s.cost_details) m
), m AS (
    SELECT project_id, id,
           jsonb_object_agg(key, v) FILTER (WHERE kind = 1) AS metadata,
           jsonb_object_agg(key, v) FILTER (WHERE kind = 2) AS usage_details,
           jsonb_object_agg(key, v) FILTER (WHERE kind = 3) AS cost_details
    FROM (SELECT project_id, id, kind, key,
                 CASE kind WHEN 1 THEN to_jsonb(max(value COLLATE "C"))
                           ELSE to_jsonb(sum(CASE WHEN kind > 1 THEN value::numeric END)) END AS v
          FROM e GROUP BY project_id, id, kind, key) x
    GROUP BY project_id, id
), u AS (
    -- array elements: 1 tags, 2 observation ids, 3 score ids
    SELECT project_id, id,
           array_agg(DISTINCT x COLLATE "C" ORDER BY x COLLATE "C") FILTER (WHERE kind = 1) AS tags,
           array_agg(DISTINCT x COLLATE "C" ORDER BY x COLLATE "C") FILTER (WHERE kind = 2) AS observation_ids,
           array_agg(DISTINCT x COLLATE "C" ORDER BY x COLLATE "C") FILTER (WHERE kind = 3) AS score_ids
    FROM (SELECT s.project_id, s.id, 1 AS kind, x FROM s, unnest(s.tags) x
          UNION ALL SELECT s.project_id, s.id, 2, x FROM s, unnest(s.observation_ids) x
          UNION ALL SELECT s.project_id, s.id, 3, x FROM s, unnest(s.score_ids) x) y
    GROUP BY project_id, id
)
INSERT INTO %1$s AS t
SELECT a.project_id, a.id, a.start_time, a.start_time, a.end_time,
       a.names[cardinality(a.names)],
       coalesce(m.metadata, '{}'),
       a.user_ids[cardinality(a.user_ids)],
       a.session_ids[cardinality(a.session_ids)],
       a.environments[cardinality(a.environments)],
       coalesce(u.tags, '{}'),
       a.versions[cardinality(a.versions)],
       a.releases[cardinality(a.releases)],
       CASE WHEN a.bookmarked_max IS NOT NULL
            THEN ROW(a.bookmarked_max, a.bookmarked_v[array_position(a.bookmarked_k, a.bookmarked_max)])::peer.argmax_bool END,
       CASE WHEN a.public_max IS NOT NULL
            THEN ROW(a.public_max, a.public_v[array_position(a.public_k, a.public_max)])::peer.argmax_bool END,
       coalesce(u.observation_ids, '{}'),
       coalesce(u.score_ids, '{}'),
       coalesce(m.cost_details, '{}'),
       coalesce(m.usage_details, '{}'),
       CASE WHEN a.input_max IS NOT NULL
            THEN ROW(a.input_max, a.input_v[array_position(a.input_k, a.input_max)])::peer.argmax_text END,
       CASE WHEN a.output_max IS NOT NULL
            THEN ROW(a.output_max, a.output_v[array_position(a.output_k, a.output_max)])::peer.argmax_text END,
       a.created_at, a.updated_at
FROM a LEFT JOIN m USING (project_id, id) LEFT JOIN u USING (project_id, id)
ORDER BY a.project_id, a.id
ON CONFLICT (project_id, id) DO UPDATE SET
    "timestamp" = LEAST(t."timestamp", excluded."timestamp"),
    start_time = LEAST(t.start_time, excluded.start_time),
    end_time = GREATEST(t.end_time, excluded.end_time),
    name = COALESCE(excluded.name, t.name),
    metadata = CASE WHEN excluded.metadata <@ t.metadata THEN t.metadata
                    ELSE (SELECT jsonb_object_agg(key, v)
                          FROM (SELECT key, max(value COLLATE "C") AS v
                                FROM (SELECT * FROM jsonb_each_text(t.metadata)
                                      UNION ALL SELECT * FROM jsonb_each_text(excluded.metadata)) x
                                GROUP BY key) y) END,
    user_id = COALESCE(excluded.user_id, t.user_id),
    session_id = COALESCE(excluded.session_id, t.session_id),
    environment = COALESCE(excluded.environment, t.environment),
    tags = CASE WHEN excluded.tags <@ t.tags THEN t.tags
                ELSE ARRAY(SELECT DISTINCT x COLLATE "C" FROM unnest(t.tags || excluded.tags) x ORDER BY 1) END,
    version = COALESCE(excluded.version, t.version),
    release = COALESCE(excluded.release, t.release),
    bookmarked = CASE WHEN num_nulls(excluded.bookmarked) = 1 THEN t.bookmarked
                 WHEN num_nulls(t.bookmarked) = 1 OR (excluded.bookmarked).ts > (t.bookmarked).ts THEN excluded.bookmarked
                 ELSE t.bookmarked END,
    public = CASE WHEN num_nulls(excluded.public) = 1 THEN t.public
                 WHEN num_nulls(t.public) = 1 OR (excluded.public).ts > (t.public).ts THEN excluded.public
                 ELSE t.public END,
    observation_ids = CASE WHEN excluded.observation_ids <@ t.observation_ids THEN t.observation_ids
                           ELSE ARRAY(SELECT DISTINCT x COLLATE "C"
                                      FROM unnest(t.observation_ids || excluded.observation_ids) x ORDER BY 1) END,
    score_ids = CASE WHEN excluded.score_ids <@ t.score_ids THEN t.score_ids
                     ELSE ARRAY(SELECT DISTINCT x COLLATE "C"
                                FROM unnest(t.score_ids || excluded.score_ids) x ORDER BY 1) END,
    cost_details = CASE WHEN excluded.cost_details = '{}' THEN t.cost_details
                        WHEN t.cost_details = '{}' THEN excluded.cost_details
                        ELSE (SELECT jsonb_object_agg(key, v)
                              FROM (SELECT key, sum(value::numeric) AS v
                                    FROM (SELECT * FROM jsonb_each_text(t.cost_details)
                                          UNION ALL SELECT * FROM jsonb_each_text(excluded.cost_details)) x
                                    GROUP BY key) y) END,
    usage_details = CASE WHEN excluded.usage_details = '{}' THEN t.usage_details
                         WHEN t.usage_details = '{}' THEN excluded.usage_details
                         ELSE (SELECT jsonb_object_agg(key, v)
                              FROM (SELECT key, sum(value::numeric) AS v
                                    FROM (SELECT * FROM jsonb_each_text(t.usage_details)
                                          UNION ALL SELECT * FROM jsonb_each_text(excluded.usage_details)) x
                                    GROUP BY key) y) END,
    input = CASE WHEN num_nulls(excluded.input) = 1 THEN t.input
                 WHEN num_nulls(t.input) = 1 OR (excluded.input).ts > (t.input).ts THEN excluded.input
                 ELSE t.input END,
    output = CASE WHEN num_nulls(excluded.output) = 1 THEN t.output
                 WHEN num_nulls(t.output) = 1 OR (excluded.output).ts > (t.output).ts THEN excluded.output
                 ELSE t.output END,
    created_at = LEAST(t.created_at, excluded.created_at),
    updated_at = GREATEST(t.updated_at, excluded.updated_at)
%3$s$q$, target, batch_alive, stored_alive);

-- Static SQL in PL/pgSQL, so that each trigger's statement is planned once
-- per session.  Triggers fire in name order: the all table is merged first,
-- so that the TTL tables' check of a trace's real start sees this batch.
-- With the window-views layout (psql variable windows = views, as
-- trace_agg's setup) only the all table is merged and the window views
-- read it.
SELECT :'windows' = 'views' AS window_views \gset
SET peer.window_views = :'window_views';
DO $do$
DECLARE
    t record;
    cutoff text;
    window_views boolean := current_setting('peer.window_views')::boolean;
BEGIN
    FOR t IN SELECT * FROM (VALUES (1, 'all', NULL), (2, '7d', '7 days'), (3, '30d', '30 days'))
                           AS v(ord, name, ttl)
    LOOP
        cutoff := format('peer.ttl_cutoff(%L)', t.ttl);
        IF t.ttl IS NULL OR NOT window_views THEN
            EXECUTE format($f$CREATE FUNCTION peer.%I() RETURNS trigger LANGUAGE plpgsql AS %L$f$,
                           'merge_' || t.name,
                           format(E'BEGIN\n%s;\nRETURN NULL;\nEND',
                                  peer.merge_sql(format('peer.%I', 'traces_' || t.name || '_amt'),
                                                 CASE WHEN t.ttl IS NULL THEN 'true' ELSE format(
                                                     $c$min(n.start_time) >= %1$s
                                                        AND NOT EXISTS (SELECT FROM peer.traces_all_amt r
                                                                        WHERE r.project_id = n.project_id AND r.id = n.id
                                                                          AND r.start_time < %1$s)$c$, cutoff) END,
                                                 CASE WHEN t.ttl IS NULL THEN ''
                                                      ELSE format('WHERE t.start_time >= %s', cutoff) END)));
            EXECUTE format($f$CREATE TRIGGER %I AFTER INSERT ON peer.traces_null
                              REFERENCING NEW TABLE AS new_rows
                              FOR EACH STATEMENT EXECUTE FUNCTION peer.%I()$f$,
                           'merge_' || t.ord || '_' || t.name, 'merge_' || t.name);
        END IF;
        EXECUTE format($f$CREATE VIEW peer.%I AS
            SELECT project_id, id, "timestamp", start_time, end_time, name, metadata,
                   user_id, session_id, environment, tags, version, release,
                   (bookmarked).v AS bookmarked, (public).v AS public,
                   observation_ids, score_ids, cost_details, usage_details,
                   coalesce((input).v, '') AS input, coalesce((output).v, '') AS output,
                   created_at, updated_at
            FROM peer.%I %s$f$,
            'traces_' || t.name, CASE WHEN window_views THEN 'traces_all_amt' ELSE 'traces_' || t.name || '_amt' END,
            CASE WHEN t.ttl IS NULL THEN '' ELSE format('WHERE start_time >= %s', cutoff) END);
    END LOOP;
END
$do$;
