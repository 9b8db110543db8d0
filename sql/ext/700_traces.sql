
-- The traces setup of the reference (ClickHouse's traces_null feeding
-- traces_all_amt, traces_7d_amt and traces_30d_amt), ready to use.

-- The materialized view query of the reference, in Postgres syntax.
CREATE FUNCTION trace_agg.traces_view_query(source regclass) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    RETURN format($q$
SELECT project_id,
       id,
       min(start_time)                                   AS "timestamp",
       min(start_time)                                   AS start_time,
       max(coalesce(end_time, start_time))               AS end_time,
       trace_agg.any_last(name)                          AS name,
       trace_agg.max_map(metadata)                       AS metadata,
       trace_agg.any_last(user_id)                       AS user_id,
       trace_agg.any_last(session_id)                    AS session_id,
       trace_agg.any_last(environment)                   AS environment,
       trace_agg.group_uniq_array_array(tags)            AS tags,
       trace_agg.any_last(version)                       AS version,
       trace_agg.any_last(release)                       AS release,
       trace_agg.argmax_state(bookmarked, CASE WHEN bookmarked IS NOT NULL THEN event_ts
                                               ELSE 'epoch'::timestamptz END) AS bookmarked,
       trace_agg.argmax_state(public, CASE WHEN public IS NOT NULL THEN event_ts
                                           ELSE 'epoch'::timestamptz END)     AS public,
       trace_agg.group_uniq_array_array(observation_ids) AS observation_ids,
       trace_agg.group_uniq_array_array(score_ids)       AS score_ids,
       trace_agg.sum_map(cost_details)                   AS cost_details,
       trace_agg.sum_map(usage_details)                  AS usage_details,
       trace_agg.argmax_state(input, CASE WHEN input <> '' THEN event_ts
                                          ELSE 'epoch'::timestamptz END)      AS input,
       trace_agg.argmax_state(output, CASE WHEN output <> '' THEN event_ts
                                           ELSE 'epoch'::timestamptz END)     AS output,
       min(created_at)                                   AS created_at,
       max(updated_at)                                   AS updated_at
FROM %s
GROUP BY project_id, id$q$, source);

CREATE FUNCTION trace_agg.create_traces_tables(schema name DEFAULT 'public',
                                               windows text DEFAULT 'views')
    RETURNS void
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    s text := quote_ident(schema);
    t text;
    targets text[];
BEGIN
    -- 'views', the default, merges into traces_all_amt alone and serves the
    -- 7-day and 30-day windows from it through its indexes: the same rows
    -- (a window table holds exactly the all table's rows whose start is in
    -- the window, ghost rows being prevented), for one merge per batch
    -- instead of three, half the WAL and no purge.  'tables' is
    -- ClickHouse's layout: traces_7d_amt and traces_30d_amt are tables of
    -- their own, each merged by its view and purged by its TTL.
    IF windows IS NULL OR windows NOT IN ('tables', 'views') THEN
        RAISE EXCEPTION 'windows of the traces setup must be ''tables'' or ''views'', not %', coalesce(quote_literal(windows), 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    targets := CASE windows WHEN 'tables' THEN ARRAY['traces_all_amt', 'traces_7d_amt', 'traces_30d_amt']
                            ELSE ARRAY['traces_all_amt'] END;
    EXECUTE format($ddl$
        CREATE TABLE %1$s.traces_null (
            project_id      text NOT NULL,
            id              text NOT NULL,
            start_time      timestamptz NOT NULL,
            end_time        timestamptz,
            name            text,
            metadata        trace_agg.text_map NOT NULL DEFAULT '{}',
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
            cost_details    trace_agg.decimal_map NOT NULL DEFAULT '{}',
            usage_details   trace_agg.uint64_map NOT NULL DEFAULT '{}',
            input           text NOT NULL DEFAULT '',
            output          text NOT NULL DEFAULT '',
            created_at      timestamptz NOT NULL DEFAULT now(),
            updated_at      timestamptz NOT NULL DEFAULT now(),
            event_ts        timestamptz NOT NULL DEFAULT now()
        ) USING trace_agg_null$ddl$, s);

    FOREACH t IN ARRAY targets LOOP
        EXECUTE format($ddl$
            CREATE TABLE %1$s.%2$I (
                project_id      text NOT NULL,
                id              text NOT NULL,
                "timestamp"     timestamptz,
                start_time      timestamptz,
                end_time        timestamptz,
                name            text,
                metadata        trace_agg.text_map,
                user_id         text,
                session_id      text,
                environment     text,
                tags            text[],
                version         text,
                release         text,
                bookmarked      trace_agg.argmax_bool,
                public          trace_agg.argmax_bool,
                observation_ids text[],
                score_ids       text[],
                cost_details    trace_agg.decimal_map,
                usage_details   trace_agg.uint64_map,
                input           trace_agg.argmax_text,
                output          trace_agg.argmax_text,
                created_at      timestamptz,
                updated_at      timestamptz,
                PRIMARY KEY (project_id, id)
            ) WITH (fillfactor = 70, toast_tuple_target = 512)$ddl$, s, t);
        -- A trace's row is updated by most batches that carry its events.
        -- The room fillfactor leaves lets the new version stay on its page
        -- (a HOT update, with no index entry to add); toast_tuple_target
        -- keeps the row small by moving input/output states and long id
        -- arrays out of line, where an update that does not change them
        -- keeps them as they are instead of writing them again.
        -- Indexes for the product's queries (the reference's access-pattern
        -- checklist): pages, counts and filters of a project newest first
        -- by "timestamp", alone or within an environment; sessions, users
        -- and names of a project; tags and metadata keys.  version and
        -- release, which the reference indexed with bloom filters, are
        -- left to the timestamp index: they only ever narrow a project's
        -- time range.  Columns that merges change on most events
        -- (observation_ids, usage, input, output, end_time, updated_at)
        -- stay unindexed so that those updates remain HOT; the indexed
        -- ones change only when a trace's first event arrives late or its
        -- environment, user, session or name changes.
        EXECUTE format('CREATE INDEX ON %1$s.%2$I (project_id, "timestamp" DESC)', s, t);
        EXECUTE format('CREATE INDEX ON %1$s.%2$I (project_id, environment, "timestamp" DESC)', s, t);
        EXECUTE format('CREATE INDEX ON %1$s.%2$I (project_id, session_id) WHERE session_id IS NOT NULL', s, t);
        EXECUTE format('CREATE INDEX ON %1$s.%2$I (project_id, user_id) WHERE user_id IS NOT NULL', s, t);
        EXECUTE format('CREATE INDEX ON %1$s.%2$I (project_id, name)', s, t);
        EXECUTE format('CREATE INDEX ON %1$s.%2$I USING gin (tags)', s, t);
        EXECUTE format('CREATE INDEX ON %1$s.%2$I USING gin (metadata jsonb_path_ops)', s, t);
        EXECUTE format('ALTER TABLE %1$s.%2$I ALTER input SET STORAGE external, ALTER output SET STORAGE external', s, t);
        PERFORM trace_agg.create_materialized_view(t || '_mv', format('%s.%I', s, t)::regclass,
                                                   trace_agg.traces_view_query(format('%s.traces_null', s)::regclass));
    END LOOP;
    -- Lookups by id alone, across projects (getTracesByIdsForAnyProject),
    -- and counts by creation time across projects (usage metering) read
    -- the all table.  start_time serves the windows and the TTL purge.
    EXECUTE format('CREATE INDEX ON %1$s.traces_all_amt (id)', s);
    EXECUTE format('CREATE INDEX ON %1$s.traces_all_amt (created_at)', s);
    IF windows = 'tables' THEN
        EXECUTE format('CREATE INDEX ON %1$s.traces_7d_amt (start_time)', s);
        EXECUTE format('CREATE INDEX ON %1$s.traces_30d_amt (start_time)', s);
        PERFORM trace_agg.set_ttl(format('%s.traces_7d_amt', s)::regclass, 'start_time', interval '7 days',
                                  format('%s.traces_all_amt', s)::regclass);
        PERFORM trace_agg.set_ttl(format('%s.traces_30d_amt', s)::regclass, 'start_time', interval '30 days',
                                  format('%s.traces_all_amt', s)::regclass);
    ELSE
        -- start_time changes only when a late event starts earlier, so
        -- merges stay HOT with this index too.
        EXECUTE format('CREATE INDEX ON %1$s.traces_all_amt (start_time)', s);
    END IF;

    -- Read views: plain values, as the reference's "Query AggregatingMergeTrees".
    -- The 7d/30d views also hide rows that expired since the last purge; the
    -- cutoff is a sub-select, computed once per query rather than per row
    -- (ttl_cutoff has its own search_path, so it is never inlined).
    FOREACH t IN ARRAY ARRAY['all', '7d', '30d'] LOOP
        EXECUTE format($ddl$
            CREATE VIEW %1$s.%2$I AS
            SELECT project_id, id, "timestamp", start_time, end_time, name, metadata,
                   user_id, session_id, environment, tags, version, release,
                   trace_agg.finalize(bookmarked) AS bookmarked,
                   trace_agg.finalize(public) AS public,
                   observation_ids, score_ids, cost_details, usage_details,
                   trace_agg.finalize(input) AS input,
                   trace_agg.finalize(output) AS output,
                   created_at, updated_at
            FROM %1$s.%3$I %4$s$ddl$,
            s, 'traces_' || t, CASE windows WHEN 'tables' THEN 'traces_' || t || '_amt' ELSE 'traces_all_amt' END,
            CASE t WHEN '7d' THEN $w$WHERE start_time >= (SELECT trace_agg.ttl_cutoff('7 days'))$w$
                   WHEN '30d' THEN $w$WHERE start_time >= (SELECT trace_agg.ttl_cutoff('30 days'))$w$
                   ELSE '' END);
    END LOOP;
END
$fn$;
COMMENT ON FUNCTION trace_agg.create_traces_tables(name, text) IS
    'create traces_null, traces_all_amt (and with windows => ''tables'' traces_7d_amt, traces_30d_amt with their TTLs), their materialized views, and the read views traces_all, traces_7d, traces_30d in schema';

-- The product's deletions, by name (Langfuse: delete traces, delete a
-- project, per-project retention by date).  Each deletes from every table
-- the traces_null table feeds, and later events of what it deleted are
-- dropped (trace_agg.delete_keys).
CREATE FUNCTION trace_agg.delete_traces(traces_null regclass, project_id text, ids text[])
    RETURNS bigint
    LANGUAGE sql VOLATILE
    SET search_path = pg_catalog, pg_temp
    RETURN (SELECT coalesce(sum(trace_agg.delete_keys(traces_null, ARRAY[project_id, i])), 0)::bigint
            FROM unnest(ids) AS i);
COMMENT ON FUNCTION trace_agg.delete_traces(regclass, text, text[]) IS
    'delete traces ids of project_id from every table traces_null feeds, for good; returns the rows deleted';

CREATE FUNCTION trace_agg.delete_project_traces(traces_null regclass, project_id text,
                                                before timestamptz DEFAULT NULL)
    RETURNS bigint
    LANGUAGE sql VOLATILE
    SET search_path = pg_catalog, pg_temp
    RETURN trace_agg.delete_keys(traces_null, ARRAY[project_id], before,
                                 CASE WHEN before IS NOT NULL THEN 'start_time'::name END);
COMMENT ON FUNCTION trace_agg.delete_project_traces(regclass, text, timestamptz) IS
    'delete the traces of project_id (with before, those that started before it) from every table traces_null feeds, for good; returns the rows deleted';

-- Comments on the objects above that have none beside their definition,
-- so that \df+ and \dT+ explain every one (issue 11, item 7).
COMMENT ON FUNCTION trace_agg.traces_view_query(regclass) IS
    'the query of the reference traces materialized views (ClickHouse traces_*_amt_mv) over the given source table';

-- Per-project retention (Langfuse's data retention: a number of days per
-- project, none meaning forever), from a table of the user's with a
-- project_id column, a unique index on it and an interval column.  Each
-- table of the setup expires a project's traces by its rule: the all table
-- by the rule alone (projects without one are kept), the window tables by
-- the rule or their window, whichever is shorter, with the all table as
-- reference (no ghost rows).  per_project NULL takes the rules away.
CREATE FUNCTION trace_agg.set_traces_retention(schema name, per_project regclass)
    RETURNS void
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    s text := quote_ident(schema);
    all_amt regclass := format('%s.traces_all_amt', s)::regclass;
    w record;
BEGIN
    IF per_project IS NULL THEN
        PERFORM trace_agg.remove_ttl(all_amt);
    ELSE
        PERFORM trace_agg.set_ttl(all_amt, 'start_time', NULL, NULL, per_project);
    END IF;
    FOR w IN SELECT * FROM (VALUES ('traces_7d_amt', interval '7 days'),
                                   ('traces_30d_amt', interval '30 days')) AS v (name, ttl) LOOP
        -- Only a window table of this setup (one its traces_null feeds): a
        -- table of that name another role made in the schema is not one,
        -- and setting its TTL would fail, or, for a superuser, adopt it.
        IF EXISTS (SELECT FROM trace_agg.materialized_view m
                   WHERE m.target = to_regclass(format('%s.%I', s, w.name))
                     AND m.source = to_regclass(format('%s.traces_null', s))) THEN
            PERFORM trace_agg.set_ttl(format('%s.%I', s, w.name)::regclass, 'start_time', w.ttl,
                                      all_amt, per_project);
        END IF;
    END LOOP;
END
$fn$;
COMMENT ON FUNCTION trace_agg.set_traces_retention(name, regclass) IS
    'expire the traces of the setup in schema per project by the rules of per_project (project_id, an interval): the all table by the rule, the 7-day and 30-day tables by the rule or their window, whichever is shorter; NULL removes the rules';
