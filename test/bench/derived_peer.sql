-- test/bench/derived_peer.sql: the plain-SQL peer of trace_agg's
-- observation setup (create_observation_tables), for test/bench/derived_run.
--
-- What a skilled Postgres user writes without the extension: heap tables
-- receive the clients' COPY statements (observations_null, the raw
-- observation versions, and traces_null, the trace-level events; UNLOGGED,
-- since they only carry a statement's rows to its trigger, and the tables
-- kept are logged), and one statement-level AFTER INSERT trigger each
-- (REFERENCING NEW TABLE):
-- - observations_null: upserts each observation's latest version of the
--   statement into observations (INSERT ... ON CONFLICT DO UPDATE ... WHERE
--   stored version <= new version), then recomputes the statement's traces
--   from observations (read by their (project_id, trace_id) index) into
--   their columns of traces, then their sessions from traces;
-- - traces_null: merges the statement's trace-level events into their
--   columns of traces (last non-null name, user, session, environment; tag
--   and score sets; the latest bookmark), then recomputes their sessions.
-- Maps are jsonb objects, summed per key.  Rows are locked in key order in
-- each statement, as trace_agg does.  The recomputed columns and sessions
-- equal trace_agg's (the benchmark checks it).
CREATE SCHEMA peer;
-- The trigger functions name the tables unqualified: the benchmark renames
-- the schema its clients write to, and sets their search_path to it.
SET search_path = peer, public;

CREATE UNLOGGED TABLE peer.observations_null (
    project_id            text NOT NULL,
    id                    text NOT NULL,
    trace_id              text NOT NULL,
    parent_observation_id text,
    type                  text,
    name                  text,
    start_time            timestamptz,
    end_time              timestamptz,
    level                 text NOT NULL DEFAULT 'DEFAULT',
    model                 text,
    usage_details         jsonb NOT NULL DEFAULT '{}',
    cost_details          jsonb NOT NULL DEFAULT '{}',
    input                 text NOT NULL DEFAULT '',
    output                text NOT NULL DEFAULT '',
    version               timestamptz,
    event_ts              timestamptz NOT NULL DEFAULT now());
CREATE TABLE peer.observations (LIKE peer.observations_null INCLUDING DEFAULTS, PRIMARY KEY (project_id, id))
    WITH (fillfactor = 70);
ALTER TABLE peer.observations ALTER input SET STORAGE external, ALTER output SET STORAGE external;
CREATE INDEX ON peer.observations (project_id, trace_id);

CREATE UNLOGGED TABLE peer.traces_null (
    project_id  text NOT NULL,
    id          text NOT NULL,
    start_time  timestamptz NOT NULL,
    name        text,
    user_id     text,
    session_id  text,
    environment text NOT NULL DEFAULT 'default',
    tags        text[] NOT NULL DEFAULT '{}',
    bookmarked  boolean,
    score_ids   text[] NOT NULL DEFAULT '{}',
    event_ts    timestamptz NOT NULL DEFAULT now());
CREATE TABLE peer.traces (
    project_id        text NOT NULL,
    id                text NOT NULL,
    "timestamp"       timestamptz,
    name              text,
    user_id           text,
    session_id        text,
    environment       text,
    tags              text[],
    bookmarked        boolean,
    bookmarked_ts     timestamptz,
    score_ids         text[],
    start_time        timestamptz,
    end_time          timestamptz,
    observation_count bigint,
    error_count       bigint,
    level             text,
    usage_details     jsonb,
    cost_details      jsonb,
    root_name         text,
    input             text,
    output            text,
    PRIMARY KEY (project_id, id)) WITH (fillfactor = 70);
ALTER TABLE peer.traces ALTER input SET STORAGE external, ALTER output SET STORAGE external;
CREATE INDEX ON peer.traces (project_id, "timestamp" DESC);
CREATE INDEX ON peer.traces (project_id, session_id) WHERE session_id IS NOT NULL;
CREATE INDEX ON peer.traces (project_id, user_id) WHERE user_id IS NOT NULL;
CREATE TABLE peer.sessions (
    project_id    text NOT NULL,
    session_id    text NOT NULL,
    trace_count   bigint NOT NULL,
    user_count    bigint NOT NULL,
    user_ids      text[],
    usage_details jsonb,
    cost_details  jsonb,
    first_time    timestamptz,
    last_time     timestamptz,
    PRIMARY KEY (project_id, session_id));
CREATE INDEX ON peer.sessions (project_id, first_time DESC);

-- The sessions (projects[i], sessions[i]) recomputed from traces; a session
-- left without traces is deleted.  A session's traces may be written by
-- concurrent transactions (clients split the stream by trace), so each
-- session is locked first (transaction advisory locks, in order, so that
-- single statements cannot deadlock) and recomputed by the next statement,
-- whose snapshot sees every transaction that held its lock before as
-- committed: else two transactions could each recompute it without the
-- other's traces, and the last to write would leave it wrong.
CREATE FUNCTION peer.recompute_sessions(projects text[], sessions text[]) RETURNS void
LANGUAGE sql AS $$
    SELECT pg_advisory_xact_lock(h) FROM (
        SELECT DISTINCT hashtext(p || '/' || s) AS h FROM unnest(projects, sessions) AS u(p, s)
        WHERE s IS NOT NULL ORDER BY 1) l;
    WITH k AS (SELECT DISTINCT p AS project_id, s AS session_id FROM unnest(projects, sessions) AS u(p, s)
               WHERE s IS NOT NULL),
    t AS (SELECT t.* FROM traces t JOIN k USING (project_id, session_id)),
    m AS (SELECT project_id, session_id, kind, jsonb_object_agg(key, v) AS map
          FROM (SELECT t.project_id, t.session_id, 1 AS kind, e.key, sum(e.value::numeric) AS v
                FROM t, jsonb_each_text(t.usage_details) e GROUP BY 1, 2, 4
                UNION ALL
                SELECT t.project_id, t.session_id, 2, e.key, sum(e.value::numeric)
                FROM t, jsonb_each_text(t.cost_details) e GROUP BY 1, 2, 4) x
          GROUP BY 1, 2, 3),
    fresh AS (SELECT project_id, session_id, count(*) AS trace_count, count(DISTINCT user_id) AS user_count,
                     array_agg(DISTINCT user_id) FILTER (WHERE user_id IS NOT NULL) AS user_ids,
                     min(coalesce(start_time, "timestamp")) AS first_time,
                     max(coalesce(end_time, start_time, "timestamp")) AS last_time
              FROM t GROUP BY 1, 2),
    up AS (INSERT INTO sessions AS s
           SELECT f.project_id, f.session_id, f.trace_count, f.user_count, f.user_ids,
                  coalesce(mu.map, '{}'), coalesce(mc.map, '{}'), f.first_time, f.last_time
           FROM fresh f
           LEFT JOIN m mu ON mu.project_id = f.project_id AND mu.session_id = f.session_id AND mu.kind = 1
           LEFT JOIN m mc ON mc.project_id = f.project_id AND mc.session_id = f.session_id AND mc.kind = 2
           ORDER BY 1, 2
           ON CONFLICT (project_id, session_id) DO UPDATE SET
               trace_count = excluded.trace_count, user_count = excluded.user_count, user_ids = excluded.user_ids,
               usage_details = excluded.usage_details, cost_details = excluded.cost_details,
               first_time = excluded.first_time, last_time = excluded.last_time)
    DELETE FROM sessions s USING (SELECT project_id, session_id FROM k EXCEPT SELECT project_id, session_id FROM fresh) g
    WHERE s.project_id = g.project_id AND s.session_id = g.session_id $$;

CREATE FUNCTION peer.observations_in() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    projects text[];
    sessions text[];
BEGIN
    -- Each observation's latest version in the statement (of equal
    -- versions the later row), kept unless a newer one is stored.
    INSERT INTO observations AS o
    SELECT DISTINCT ON (project_id, id) project_id, id, trace_id, parent_observation_id, type, name, start_time,
           end_time, level, model, usage_details, cost_details, input, output, version, event_ts
    FROM (SELECT n.*, row_number() OVER () AS arrival FROM new_rows n) b
    ORDER BY project_id, id, version DESC NULLS LAST, arrival DESC
    ON CONFLICT (project_id, id) DO UPDATE SET
        trace_id = excluded.trace_id, parent_observation_id = excluded.parent_observation_id,
        type = excluded.type, name = excluded.name, start_time = excluded.start_time,
        end_time = excluded.end_time, level = excluded.level, model = excluded.model,
        usage_details = excluded.usage_details, cost_details = excluded.cost_details,
        input = excluded.input, output = excluded.output, version = excluded.version,
        event_ts = excluded.event_ts
    WHERE o.version IS NULL OR o.version <= excluded.version;

    -- The statement's traces, recomputed from their observations.
    WITH k AS (SELECT DISTINCT project_id, trace_id FROM new_rows),
    o AS (SELECT o.* FROM observations o JOIN k USING (project_id, trace_id)),
    m AS (SELECT project_id, trace_id, kind, jsonb_object_agg(key, v) AS map
          FROM (SELECT o.project_id, o.trace_id, 1 AS kind, e.key, sum(e.value::numeric) AS v
                FROM o, jsonb_each_text(o.usage_details) e GROUP BY 1, 2, 4
                UNION ALL
                SELECT o.project_id, o.trace_id, 2, e.key, sum(e.value::numeric)
                FROM o, jsonb_each_text(o.cost_details) e GROUP BY 1, 2, 4) x
          GROUP BY 1, 2, 3),
    fresh AS (SELECT project_id, trace_id, min(start_time) AS start_time,
                     max(coalesce(end_time, start_time)) AS end_time, count(*) AS observation_count,
                     count(*) FILTER (WHERE level = 'ERROR') AS error_count,
                     CASE WHEN bool_or(level = 'ERROR') THEN 'ERROR' ELSE max(level) END AS level,
                     (array_agg(name ORDER BY start_time) FILTER (WHERE parent_observation_id IS NULL))[1] AS root_name,
                     (array_agg(input ORDER BY start_time) FILTER (WHERE parent_observation_id IS NULL))[1] AS input,
                     (array_agg(output ORDER BY start_time) FILTER (WHERE parent_observation_id IS NULL))[1] AS output
              FROM o GROUP BY 1, 2),
    up AS (INSERT INTO traces AS t (project_id, id, start_time, end_time, observation_count, error_count,
                                         level, usage_details, cost_details, root_name, input, output)
           SELECT f.project_id, f.trace_id, f.start_time, f.end_time, f.observation_count, f.error_count, f.level,
                  coalesce(mu.map, '{}'), coalesce(mc.map, '{}'), f.root_name, f.input, f.output
           FROM fresh f
           LEFT JOIN m mu ON mu.project_id = f.project_id AND mu.trace_id = f.trace_id AND mu.kind = 1
           LEFT JOIN m mc ON mc.project_id = f.project_id AND mc.trace_id = f.trace_id AND mc.kind = 2
           ORDER BY 1, 2
           ON CONFLICT (project_id, id) DO UPDATE SET
               start_time = excluded.start_time, end_time = excluded.end_time,
               observation_count = excluded.observation_count, error_count = excluded.error_count,
               level = excluded.level, usage_details = excluded.usage_details,
               cost_details = excluded.cost_details, root_name = excluded.root_name,
               input = excluded.input, output = excluded.output
           RETURNING t.project_id, t.session_id)
    SELECT array_agg(project_id), array_agg(session_id) INTO projects, sessions FROM up;
    PERFORM recompute_sessions(projects, sessions);
    RETURN NULL;
END $$;
CREATE TRIGGER observations_in AFTER INSERT ON peer.observations_null
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION peer.observations_in();

CREATE FUNCTION peer.traces_in() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    projects text[];
    sessions text[];
BEGIN
    -- The sessions a trace leaves count too.
    WITH b AS (SELECT n.*, row_number() OVER () AS arrival FROM new_rows n),
    agg AS (SELECT project_id, id, min(start_time) AS ts,
                   (array_agg(name ORDER BY arrival DESC) FILTER (WHERE name IS NOT NULL))[1] AS name,
                   (array_agg(user_id ORDER BY arrival DESC) FILTER (WHERE user_id IS NOT NULL))[1] AS user_id,
                   (array_agg(session_id ORDER BY arrival DESC) FILTER (WHERE session_id IS NOT NULL))[1] AS session_id,
                   (array_agg(environment ORDER BY arrival DESC) FILTER (WHERE environment IS NOT NULL))[1] AS environment,
                   (SELECT array_agg(DISTINCT x ORDER BY x) FROM b b2, unnest(b2.tags) x
                    WHERE b2.project_id = b.project_id AND b2.id = b.id) AS tags,
                   (array_agg(bookmarked ORDER BY event_ts DESC, arrival) FILTER (WHERE bookmarked IS NOT NULL))[1] AS bookmarked,
                   max(event_ts) FILTER (WHERE bookmarked IS NOT NULL) AS bookmarked_ts,
                   (SELECT array_agg(DISTINCT x ORDER BY x) FROM b b2, unnest(b2.score_ids) x
                    WHERE b2.project_id = b.project_id AND b2.id = b.id) AS score_ids
            FROM b GROUP BY project_id, id),
    old AS (SELECT t.project_id, t.session_id FROM traces t JOIN agg USING (project_id, id)
            WHERE t.session_id IS NOT NULL),
    up AS (INSERT INTO traces AS t (project_id, id, "timestamp", name, user_id, session_id, environment,
                                         tags, bookmarked, bookmarked_ts, score_ids)
           SELECT project_id, id, ts, name, user_id, session_id, environment, coalesce(tags, '{}'),
                  bookmarked, bookmarked_ts, coalesce(score_ids, '{}')
           FROM agg ORDER BY 1, 2
           ON CONFLICT (project_id, id) DO UPDATE SET
               "timestamp" = LEAST(t."timestamp", excluded."timestamp"),
               name = coalesce(excluded.name, t.name), user_id = coalesce(excluded.user_id, t.user_id),
               session_id = coalesce(excluded.session_id, t.session_id),
               environment = coalesce(excluded.environment, t.environment),
               tags = CASE WHEN excluded.tags <@ coalesce(t.tags, '{}') THEN t.tags
                           ELSE ARRAY(SELECT DISTINCT x FROM unnest(coalesce(t.tags, '{}') || excluded.tags) x ORDER BY x) END,
               bookmarked = CASE WHEN t.bookmarked_ts IS NULL OR excluded.bookmarked_ts > t.bookmarked_ts
                                 THEN coalesce(excluded.bookmarked, t.bookmarked) ELSE t.bookmarked END,
               bookmarked_ts = GREATEST(t.bookmarked_ts, excluded.bookmarked_ts),
               score_ids = CASE WHEN excluded.score_ids <@ coalesce(t.score_ids, '{}') THEN t.score_ids
                                ELSE ARRAY(SELECT DISTINCT x FROM unnest(coalesce(t.score_ids, '{}') || excluded.score_ids) x ORDER BY x) END
           RETURNING t.project_id, t.session_id)
    SELECT array_agg(project_id), array_agg(session_id) INTO projects, sessions
    FROM (SELECT * FROM up UNION SELECT * FROM old) s;
    PERFORM recompute_sessions(projects, sessions);
    RETURN NULL;
END $$;
CREATE TRIGGER traces_in AFTER INSERT ON peer.traces_null
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION peer.traces_in();

-- The read view, with the columns of trace_agg's obs.traces_all.
CREATE VIEW peer.traces_all AS
SELECT project_id, id, "timestamp", coalesce(name, root_name) AS name, user_id, session_id,
       environment, tags, coalesce(bookmarked, false) AS bookmarked, score_ids, start_time, end_time,
       coalesce(observation_count, 0) AS observation_count, coalesce(error_count, 0) AS error_count,
       level, usage_details, cost_details, input, output
FROM peer.traces;
