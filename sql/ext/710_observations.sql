
-- The observation-centric setup (issue 14): observations arrive as whole
-- versions and are kept latest-version-only; traces are derived from them
-- (recomputed per affected trace, so a corrected usage replaces the old
-- one instead of adding to it) and merged with the trace-level events of
-- traces_null into the same rows; sessions are derived from traces.
CREATE FUNCTION trace_agg.create_observation_tables(schema name DEFAULT 'public')
    RETURNS void
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    s text := quote_ident(schema);
    t text;
BEGIN
    -- The columns test/gen_observations.pl writes, as an ingestion worker
    -- sends them: every version complete.
    FOREACH t IN ARRAY ARRAY['observations_null', 'observations'] LOOP
        EXECUTE format($ddl$
            CREATE TABLE %1$s.%2$I (
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
                usage_details         trace_agg.uint64_map NOT NULL DEFAULT '{}',
                cost_details          trace_agg.decimal_map NOT NULL DEFAULT '{}',
                input                 text NOT NULL DEFAULT '',
                output                text NOT NULL DEFAULT '',
                version               timestamptz,
                event_ts              timestamptz NOT NULL DEFAULT now()
            ) %3$s$ddl$, s, t,
            CASE t WHEN 'observations_null' THEN 'USING trace_agg_null'
                   ELSE 'WITH (fillfactor = 70)' END);
    END LOOP;
    -- A new version replaces the row: room on its page keeps the update
    -- HOT, and payloads, which change with most versions, are stored
    -- uncompressed out of line (compressing each version cost more than
    -- it saved in the replacing view's measurements).
    EXECUTE format('ALTER TABLE %1$s.observations ADD PRIMARY KEY (project_id, id)', s);
    EXECUTE format('ALTER TABLE %1$s.observations ALTER input SET STORAGE external, ALTER output SET STORAGE external', s);
    -- A trace's recomputation reads its observations by this index.
    EXECUTE format('CREATE INDEX ON %1$s.observations (project_id, trace_id)', s);
    PERFORM trace_agg.create_materialized_view(format('%s.observations_mv', s),
                                               format('%s.observations', s)::regclass,
                                               format('SELECT * FROM %s.observations_null', s),
                                               version => 'version');

    EXECUTE format($ddl$
        CREATE TABLE %1$s.traces_null (
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
            event_ts    timestamptz NOT NULL DEFAULT now()
        ) USING trace_agg_null$ddl$, s);
    -- One row per trace, written by two views on disjoint columns: the
    -- materialized view of the trace-level events ("timestamp" to
    -- score_ids) and the derived view of the observations (start_time to
    -- output).
    EXECUTE format($ddl$
        CREATE TABLE %1$s.traces (
            project_id        text NOT NULL,
            id                text NOT NULL,
            "timestamp"       timestamptz,
            name              text,
            user_id           text,
            session_id        text,
            environment       text,
            tags              text[],
            bookmarked        trace_agg.argmax_bool,
            score_ids         text[],
            start_time        timestamptz,
            end_time          timestamptz,
            observation_count bigint,
            error_count       bigint,
            level             text,
            usage_details     trace_agg.uint64_map,
            cost_details      trace_agg.decimal_map,
            root_name         text,
            input             text,
            output            text,
            PRIMARY KEY (project_id, id)
        ) WITH (fillfactor = 70)$ddl$, s);
    EXECUTE format('ALTER TABLE %1$s.traces ALTER input SET STORAGE external, ALTER output SET STORAGE external', s);
    -- The product's reads: a project's traces newest first, a session's
    -- traces, a user's; the columns recomputations change are not indexed,
    -- so that their updates stay HOT.
    EXECUTE format('CREATE INDEX ON %1$s.traces (project_id, "timestamp" DESC)', s);
    EXECUTE format('CREATE INDEX ON %1$s.traces (project_id, session_id) WHERE session_id IS NOT NULL', s);
    EXECUTE format('CREATE INDEX ON %1$s.traces (project_id, user_id) WHERE user_id IS NOT NULL', s);
    PERFORM trace_agg.create_derived_view(format('%s.traces_dv', s), format('%s.traces', s)::regclass, format($q$
        SELECT project_id, trace_id AS id,
               min(start_time) AS start_time,
               max(coalesce(end_time, start_time)) AS end_time,
               count(*) AS observation_count,
               count(*) FILTER (WHERE level = 'ERROR') AS error_count,
               CASE WHEN bool_or(level = 'ERROR') THEN 'ERROR' ELSE max(level) END AS level,
               trace_agg.sum_map(usage_details) AS usage_details,
               trace_agg.sum_map(cost_details) AS cost_details,
               trace_agg.argmin(name, start_time) FILTER (WHERE parent_observation_id IS NULL) AS root_name,
               trace_agg.argmin(input, start_time) FILTER (WHERE parent_observation_id IS NULL) AS input,
               trace_agg.argmin(output, start_time) FILTER (WHERE parent_observation_id IS NULL) AS output
        FROM %s.observations
        GROUP BY project_id, trace_id$q$, s));
    PERFORM trace_agg.create_materialized_view(format('%s.traces_mv', s), format('%s.traces', s)::regclass, format($q$
        SELECT project_id, id,
               min(start_time) AS "timestamp",
               trace_agg.any_last(name) AS name,
               trace_agg.any_last(user_id) AS user_id,
               trace_agg.any_last(session_id) AS session_id,
               trace_agg.any_last(environment) AS environment,
               trace_agg.group_uniq_array_array(tags) AS tags,
               trace_agg.argmax_state(bookmarked, CASE WHEN bookmarked IS NOT NULL THEN event_ts
                                                       ELSE 'epoch'::timestamptz END) AS bookmarked,
               trace_agg.group_uniq_array_array(score_ids) AS score_ids
        FROM %s.traces_null
        GROUP BY project_id, id$q$, s));

    -- Every trace with a session id counts, observations or not.
    EXECUTE format($ddl$
        CREATE TABLE %1$s.sessions (
            project_id    text NOT NULL,
            session_id    text NOT NULL,
            trace_count   bigint NOT NULL,
            user_count    bigint NOT NULL,
            user_ids      text[],
            usage_details trace_agg.uint64_map,
            cost_details  trace_agg.decimal_map,
            first_time    timestamptz,
            last_time     timestamptz,
            PRIMARY KEY (project_id, session_id)
        )$ddl$, s);
    EXECUTE format('CREATE INDEX ON %1$s.sessions (project_id, first_time DESC)', s);
    PERFORM trace_agg.create_derived_view(format('%s.sessions_dv', s), format('%s.sessions', s)::regclass, format($q$
        SELECT project_id, session_id,
               count(*) AS trace_count,
               count(DISTINCT user_id) AS user_count,
               array_agg(DISTINCT user_id) FILTER (WHERE user_id IS NOT NULL) AS user_ids,
               trace_agg.sum_map(usage_details) AS usage_details,
               trace_agg.sum_map(cost_details) AS cost_details,
               min(coalesce(start_time, "timestamp")) AS first_time,
               max(coalesce(end_time, start_time, "timestamp")) AS last_time
        FROM %s.traces
        WHERE session_id IS NOT NULL
        GROUP BY project_id, session_id$q$, s));

    -- Plain values: the bookmark finalized, the trace's name from its
    -- events or else its root observation's.
    EXECUTE format($ddl$
        CREATE VIEW %1$s.traces_all AS
        SELECT project_id, id, "timestamp", coalesce(name, root_name) AS name, user_id, session_id,
               environment, tags, coalesce(trace_agg.finalize(bookmarked), false) AS bookmarked,
               score_ids, start_time, end_time, coalesce(observation_count, 0) AS observation_count,
               coalesce(error_count, 0) AS error_count, level, usage_details, cost_details, input, output
        FROM %1$s.traces$ddl$, s);
    EXECUTE format($c$COMMENT ON TABLE %1$s.observations_null IS 'observation versions arrive here (trace_agg_null: stores nothing); observations_mv keeps the latest of each'$c$, s);
    EXECUTE format($c$COMMENT ON TABLE %1$s.observations IS 'the latest version of each observation (replacing view observations_mv, by version)'$c$, s);
    EXECUTE format($c$COMMENT ON TABLE %1$s.traces_null IS 'trace-level events (name, user, session, tags, bookmarks, scores) arrive here (trace_agg_null: stores nothing)'$c$, s);
    EXECUTE format($c$COMMENT ON TABLE %1$s.traces IS 'one row per trace: trace-level events merged by traces_mv, observation totals recomputed by traces_dv'$c$, s);
    EXECUTE format($c$COMMENT ON TABLE %1$s.sessions IS 'one row per session, recomputed from traces by sessions_dv'$c$, s);
    EXECUTE format($c$COMMENT ON VIEW %1$s.traces_all IS 'traces with plain values: the bookmark finalized, the name from the trace''s events or its root observation'$c$, s);
    EXECUTE format($c$COMMENT ON VIEW %1$s.observations_mv IS 'replacing view: the latest version of each observation into observations'$c$, s);
    EXECUTE format($c$COMMENT ON VIEW %1$s.traces_mv IS 'materialized view: trace-level events into their columns of traces'$c$, s);
    EXECUTE format($c$COMMENT ON VIEW %1$s.traces_dv IS 'derived view: each trace''s totals over the latest version of its observations'$c$, s);
    EXECUTE format($c$COMMENT ON VIEW %1$s.sessions_dv IS 'derived view: each session''s totals over its traces'$c$, s);
END
$fn$;
COMMENT ON FUNCTION trace_agg.create_observation_tables(name) IS
    'create the observation-centric setup in schema: observations_null and observations (latest version of each), traces_null and traces (trace events merged, observation totals derived), sessions (derived from traces), and the read view traces_all';
