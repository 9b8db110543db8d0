-- trace_agg update from 0.1 to 0.2.  A fresh install of 0.2 runs the parts
-- in sql/ext/; this script must leave an updated database with the same
-- objects (test/scripts/extension_update.sh compares the two).

\echo Use "ALTER EXTENSION trace_agg UPDATE TO '0.2'" to load this file. \quit

-- Fan-out catalog: definitions bound to OIDs.  A materialized view becomes
-- a Postgres view (query, name in the target's schema, owner) plus a row
-- naming it, its source and its target; no generated SQL is stored.
DROP VIEW trace_agg.materialized_views;
ALTER TABLE trace_agg.materialized_view RENAME TO materialized_view_0_1;
ALTER TABLE trace_agg.materialized_view_0_1 RENAME CONSTRAINT materialized_view_pkey TO materialized_view_0_1_pkey;

CREATE TABLE trace_agg.materialized_view (
    view   regclass PRIMARY KEY,
    source regclass NOT NULL,
    target regclass NOT NULL
);
COMMENT ON TABLE trace_agg.materialized_view IS
    'materialized views: every INSERT into source is aggregated by the query of view and merged into target';
SELECT pg_catalog.pg_extension_config_dump('trace_agg.materialized_view', '');
REVOKE ALL ON trace_agg.materialized_view FROM PUBLIC;
GRANT SELECT ON trace_agg.materialized_view TO PUBLIC;

-- A view depends on its target (dropping the target needs CASCADE, which
-- drops the view).  Recorded by a trigger so that pg_restore's copy of the
-- rows records it too.
CREATE FUNCTION trace_agg.record_view_dependency() RETURNS trigger
    AS 'MODULE_PATHNAME', 'trace_agg_record_view_dependency' LANGUAGE C;
REVOKE ALL ON FUNCTION trace_agg.record_view_dependency() FROM PUBLIC;
COMMENT ON FUNCTION trace_agg.record_view_dependency() IS
    'internal trigger: records that a materialized view depends on its target';
CREATE TRIGGER view_depends_on_target AFTER INSERT ON trace_agg.materialized_view
    FOR EACH ROW EXECUTE FUNCTION trace_agg.record_view_dependency();

-- The drop guard reads the new catalog from here on (the update drops
-- objects below).
-- Every way a materialized view, its source or its target goes (DROP VIEW,
-- DROP TABLE ... CASCADE, DROP SCHEMA ... CASCADE, DROP OWNED) passes here.
-- A dropped view's definition is forgotten (and any whose view is gone by
-- a way no event trigger sees), and with a source's last view its
-- trigger; a target cannot go while a view still writes it (a drop that
-- takes the view too, by CASCADE, may).  A dropped TTL reference is
-- detached from its TTLs before this runs (trace_agg_detach_reference).
-- SECURITY DEFINER: the catalog is the extension's alone, and a dropped
-- table's owner can no longer be looked up by the TTL's row-level policy;
-- it changes only rows of objects this very command dropped.
CREATE OR REPLACE FUNCTION trace_agg.guard_drop() RETURNS event_trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    d record;
    src regclass;
    dropped oid[] := ARRAY(SELECT o.objid FROM pg_event_trigger_dropped_objects() o
                           WHERE o.classid = 'pg_class'::regclass AND o.objsubid = 0);
BEGIN
    FOR d IN
        SELECT m.target::oid AS table_oid, m.view::oid AS view
        FROM trace_agg.materialized_view m
        WHERE m.target = ANY (dropped) AND NOT m.view = ANY (dropped)
          AND EXISTS (SELECT FROM pg_class c WHERE c.oid = m.view)
        LIMIT 1
    LOOP
        RAISE EXCEPTION 'cannot drop table % because trace_agg uses it',
                        (SELECT o.object_identity FROM pg_event_trigger_dropped_objects() o
                         WHERE o.objid = d.table_oid AND o.classid = 'pg_class'::regclass AND o.objsubid = 0)
            USING ERRCODE = 'dependent_objects_still_exist',
                  DETAIL = format('Materialized view %s writes it.', d.view::regclass),
                  HINT = 'Drop the materialized view with trace_agg.drop_materialized_view() first, or drop the table with CASCADE.';
    END LOOP;

    FOR src IN
        DELETE FROM trace_agg.materialized_view m
        WHERE m.view = ANY (dropped) OR NOT EXISTS (SELECT FROM pg_class c WHERE c.oid = m.view)
        RETURNING m.source
    LOOP
        IF NOT src = ANY (dropped)
           AND NOT EXISTS (SELECT FROM trace_agg.materialized_view m WHERE m.source = src)
           AND EXISTS (SELECT FROM pg_trigger g WHERE g.tgrelid = src AND g.tgname = 'trace_agg_fanout') THEN
            EXECUTE format('DROP TRIGGER trace_agg_fanout ON %s', src);
        END IF;
    END LOOP;
    DELETE FROM trace_agg.ttl t WHERE t.target = ANY (dropped);
END
$$;
REVOKE ALL ON FUNCTION trace_agg.guard_drop() FROM PUBLIC;
COMMENT ON FUNCTION trace_agg.guard_drop() IS
    'event trigger: forgets dropped materialized views, the TTLs of dropped targets, and the tombstones and insert tokens of dropped sources; refuses to drop a table a view writes';

COMMENT ON EVENT TRIGGER trace_agg_guard_drop IS
    'forgets dropped materialized views and protects the tables they write';

-- Each 0.1 view's stored query (qualified, as 0.1 normalized it) becomes a
-- Postgres view owned by the view's owner.  A view whose owner was dropped
-- could not run any more (every insert into its source failed): it is
-- dropped, with a warning.
DO $$
DECLARE
    v record;
    view_oid oid;
    name text;
    n integer;
BEGIN
    PERFORM pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);
    FOR v IN SELECT m.view_name, m.source, m.target, m.query, m.owner::oid AS owner,
                    n.nspname AS schema
             FROM trace_agg.materialized_view_0_1 m
             JOIN pg_class c ON c.oid = m.target
             JOIN pg_namespace n ON n.oid = c.relnamespace
             ORDER BY m.view_name
    LOOP
        IF NOT EXISTS (SELECT FROM pg_roles r WHERE r.oid = v.owner) THEN
            RAISE WARNING 'materialized view "%" is dropped: its owner (OID %) no longer exists', v.view_name, v.owner;
            CONTINUE;
        END IF;
        name := v.view_name;
        n := 0;
        WHILE EXISTS (SELECT FROM pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace
                      WHERE s.nspname = v.schema AND c.relname = name) LOOP
            n := n + 1;
            name := left(v.view_name, 50) || '_' || n;
        END LOOP;
        IF name <> v.view_name THEN
            RAISE NOTICE 'materialized view "%" is now %.%: a relation % already exists there',
                         v.view_name, quote_ident(v.schema), quote_ident(name), quote_ident(v.view_name);
        END IF;
        EXECUTE format('CREATE VIEW %I.%I AS %s', v.schema, name, v.query);
        view_oid := format('%I.%I', v.schema, name)::regclass;
        EXECUTE format('ALTER EXTENSION trace_agg DROP VIEW %s', view_oid::regclass);
        EXECUTE format('ALTER VIEW %s OWNER TO %I', view_oid::regclass, (SELECT rolname FROM pg_roles WHERE oid = v.owner));
        INSERT INTO trace_agg.materialized_view (view, source, target) VALUES (view_oid, v.source, v.target);
    END LOOP;
    FOR v IN SELECT DISTINCT m.source FROM trace_agg.materialized_view_0_1 m
             WHERE NOT EXISTS (SELECT FROM trace_agg.materialized_view n WHERE n.source = m.source)
    LOOP
        EXECUTE format('DROP TRIGGER IF EXISTS trace_agg_fanout ON %s', v.source);
    END LOOP;
END
$$;

COMMENT ON TABLE trace_agg.insert_token IS
    'insert tokens already applied to a source (trace_agg.insert_token), kept for trace_agg.insert_token_window';
COMMENT ON FUNCTION trace_agg.fanout() IS
    'statement trigger of a materialized view source: merges the inserted rows into every target';
DROP FUNCTION trace_agg.create_materialized_view(text, regclass, text);
CREATE FUNCTION trace_agg.create_materialized_view(name text, target regclass, query text,
                                                   backfill boolean DEFAULT false)
    RETURNS void
    AS 'MODULE_PATHNAME', 'trace_agg_create_materialized_view' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION trace_agg.create_materialized_view(text, regclass, text, boolean) IS
    'create a materialized view (a view named name, by default in target''s schema): every INSERT into the query''s source is aggregated by the query and merged into target; backfill merges the rows the source already holds';
REVOKE ALL ON FUNCTION trace_agg.rebuild_materialized_views(regclass) FROM PUBLIC;
COMMENT ON FUNCTION trace_agg.rebuild_materialized_views(regclass) IS
    'internal: regenerate the statements of the materialized views involving target at their next use';
COMMENT ON FUNCTION trace_agg.drop_materialized_view(text, boolean) IS
    'drop a materialized view (its owner or its source''s owner may); its source and target tables stay';

CREATE FUNCTION trace_agg.materialized_view_statements(source regclass,
                                                       OUT views regclass[], OUT owner regrole,
                                                       OUT statement text)
    RETURNS SETOF record
    AS 'MODULE_PATHNAME', 'trace_agg_materialized_view_statements' LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION trace_agg.materialized_view_statements(regclass) IS
    'the statements an INSERT into source runs, in order, each as its views'' owner, over the transition table trace_agg_new_rows';

CREATE VIEW trace_agg.materialized_views AS
    SELECT m.view, n.nspname AS schema, c.relname AS view_name, m.source, m.target,
           c.relowner::pg_catalog.regrole AS owner, pg_catalog.pg_get_viewdef(m.view) AS query,
           t.ttl_column, t.ttl, t.reference AS ttl_reference
    FROM trace_agg.materialized_view m
    JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) m.view
    JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
    LEFT JOIN trace_agg.ttl t ON t.target OPERATOR(pg_catalog.=) m.target;
GRANT SELECT ON trace_agg.materialized_views TO PUBLIC;
COMMENT ON VIEW trace_agg.materialized_views IS 'materialized views with their queries and the TTL of their targets';


-- Renaming a column a view writes renames the view's output column too;
-- dropping one needs CASCADE, which drops the view (src/fanout_ddl.c).
CREATE FUNCTION trace_agg.guard_alter() RETURNS event_trigger
    AS 'MODULE_PATHNAME', 'trace_agg_guard_alter' LANGUAGE C;
REVOKE ALL ON FUNCTION trace_agg.guard_alter() FROM PUBLIC;
COMMENT ON FUNCTION trace_agg.guard_alter() IS
    'event trigger: makes views follow renames of the target columns they write, refuses to drop those columns, and refuses to rename a column a TTL matches by name';

CREATE EVENT TRIGGER trace_agg_guard_alter ON ddl_command_start
    WHEN TAG IN ('ALTER TABLE')
    EXECUTE FUNCTION trace_agg.guard_alter();
COMMENT ON EVENT TRIGGER trace_agg_guard_alter IS
    'keeps materialized views in step with renamed and dropped target columns';

-- Dropped last: the new guard_drop sees this drop.  Leaving the extension
-- first takes the table out of the extension's configuration list too.
ALTER EXTENSION trace_agg DROP TABLE trace_agg.materialized_view_0_1;
DROP TABLE trace_agg.materialized_view_0_1;

-- TTL: security.  No role writes the TTL catalog (set_ttl() and remove_ttl()
-- check the caller and write as the catalog's owner); the purge runs as each
-- target's owner in a security-restricted operation; the worker's internal
-- functions are not executable by PUBLIC; a dropped reference leaves its
-- TTLs instead of being undroppable.  Same statements as sql/ext/650_ttl.sql.
REVOKE INSERT, UPDATE, DELETE ON trace_agg.ttl FROM PUBLIC;

-- Internal: set_ttl() and the fan-out start the worker by themselves.  A
-- superuser may call it, e.g. after a restart, for TTL targets that no
-- insert reaches.
REVOKE EXECUTE ON FUNCTION trace_agg.start_ttl_worker() FROM PUBLIC;

-- Needs ownership of target (the rights of its owner) and SELECT on
-- reference; checks that both are tables with a timestamptz ttl_column.
CREATE OR REPLACE FUNCTION trace_agg.set_ttl(target regclass, ttl_column name, ttl interval,
                                             reference regclass DEFAULT NULL)
    RETURNS void
    AS 'MODULE_PATHNAME', 'trace_agg_set_ttl' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION trace_agg.set_ttl(regclass, name, interval, regclass) IS
    'keep rows of target while date_trunc(''day'', ttl_column UTC) + ttl is after now; reference, if given, is the table whose ttl_column decides for a key (no ghost rows)';

CREATE OR REPLACE FUNCTION trace_agg.remove_ttl(target regclass) RETURNS void
    AS 'MODULE_PATHNAME', 'trace_agg_remove_ttl' LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION trace_agg.remove_ttl(regclass) IS
    'stop expiring the rows of target (its owner only)';

-- Internal: one batch of the purge, as the target's owner; the caller must
-- have the rights of that owner all the same.
CREATE OR REPLACE FUNCTION trace_agg.purge_expired_batch(target regclass, batch_size integer DEFAULT 5000)
    RETURNS bigint
    AS 'MODULE_PATHNAME', 'trace_agg_purge_expired_batch' LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION trace_agg.purge_expired_batch(regclass, integer) IS
    'delete up to batch_size expired rows of target, as its owner, skipping rows other transactions hold; returns how many';
REVOKE EXECUTE ON FUNCTION trace_agg.purge_expired_batch(regclass, integer) FROM PUBLIC;

-- Internal: forget insert tokens older than trace_agg.insert_token_window
-- and tombstones older than trace_agg.tombstone_window; returns how many of
-- either are left (the worker keeps coming back while any is).  The worker
-- and purge_expired() call it as the extension's owner.
CREATE OR REPLACE FUNCTION trace_agg.purge_insert_tokens() RETURNS bigint
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    DELETE FROM trace_agg.insert_token
    WHERE applied_at <= now() - make_interval(secs => (SELECT setting::integer FROM pg_settings
                                                        WHERE name = 'trace_agg.insert_token_window'));
    -- Tombstones past their window drop nothing any more.
    DELETE FROM trace_agg.tombstone
    WHERE deleted_at <= now() - current_setting('trace_agg.tombstone_window')::interval;
    RETURN (SELECT count(*) FROM trace_agg.insert_token) + (SELECT count(*) FROM trace_agg.tombstone);
END
$$;
COMMENT ON FUNCTION trace_agg.purge_insert_tokens() IS
    'forget insert tokens older than trace_agg.insert_token_window and tombstones older than trace_agg.tombstone_window; returns how many tokens and tombstones are left';
REVOKE EXECUTE ON FUNCTION trace_agg.purge_insert_tokens() FROM PUBLIC;

-- Like VACUUM: a role purges the targets whose owner's rights it has (a
-- superuser all), each as its owner in a security-restricted operation.
CREATE OR REPLACE FUNCTION trace_agg.purge_expired() RETURNS bigint
    AS 'MODULE_PATHNAME', 'trace_agg_purge_expired' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION trace_agg.purge_expired() IS
    'delete every expired row of the TTL targets the caller owns (all for a superuser) now; returns the number of rows deleted';

-- Setting a TTL needs only SELECT on its reference, so the reference's
-- owner must still be able to drop it: the TTL then stays, without a
-- reference.  This trigger fires before trace_agg_guard_drop (event
-- triggers of one event fire in name order), which would otherwise refuse
-- the drop.  A target dropped in the same statement is left to that guard.
-- SECURITY DEFINER: no role may write the TTL catalog, and it changes only
-- rows naming a table the caller has just dropped.
CREATE FUNCTION trace_agg.detach_dropped_reference() RETURNS event_trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    t record;
BEGIN
    FOR t IN
        WITH dropped AS (
            SELECT o.objid, o.object_identity FROM pg_event_trigger_dropped_objects() o
            WHERE o.classid = 'pg_class'::regclass AND o.objsubid = 0)
        UPDATE trace_agg.ttl x SET reference = NULL
        FROM dropped d
        WHERE x.reference = d.objid AND x.target NOT IN (SELECT objid FROM dropped)
        RETURNING x.target, d.object_identity
    LOOP
        RAISE NOTICE 'table % is no longer the reference of the TTL of table %', t.object_identity, t.target;
        -- A view reading a dropped table makes the drop guard refuse it.
        IF NOT EXISTS (SELECT FROM trace_agg.materialized_view m, pg_event_trigger_dropped_objects() o
                       WHERE m.target = t.target AND o.classid = 'pg_class'::regclass
                         AND o.objid = m.source) THEN
            PERFORM trace_agg.rebuild_materialized_views(t.target);
        END IF;
    END LOOP;
END
$$;
COMMENT ON FUNCTION trace_agg.detach_dropped_reference() IS
    'event trigger: a dropped table stops being the reference of the TTLs naming it';
-- Only the event trigger runs it (Postgres checks no right when it does).
REVOKE EXECUTE ON FUNCTION trace_agg.detach_dropped_reference() FROM PUBLIC;

CREATE EVENT TRIGGER trace_agg_detach_reference ON sql_drop
    EXECUTE FUNCTION trace_agg.detach_dropped_reference();
COMMENT ON EVENT TRIGGER trace_agg_detach_reference IS
    'a dropped table stops being the reference of the TTLs naming it';

COMMENT ON FUNCTION trace_agg.ttl_cutoff(interval) IS
    'the oldest value of a TTL column still alive under ttl: rows before it have expired';

-- Traces setup: the 7-day and 30-day windows are views over the all table
-- by default (windows => 'tables' keeps tables of their own), and indexes
-- follow the product's queries ("timestamp", environment, id, created_at).
-- Setups created by 0.1 keep their tables and indexes.
DROP FUNCTION trace_agg.create_traces_tables(name);
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

-- Deletions (issue 13): keys deleted for good, with tombstones.
-- (src/fanout_delete.c) The keys deleted from every
-- target of a source, whose later events the source's statements drop for
-- trace_agg.tombstone_window.
CREATE TABLE trace_agg.tombstone (
    source     regclass NOT NULL,
    key        text[] NOT NULL,
    deleted_at timestamptz NOT NULL,
    PRIMARY KEY (source, key)
);
COMMENT ON TABLE trace_agg.tombstone IS
    'keys deleted by trace_agg.delete_keys(): the leading key values of the views of source, as text; their events are dropped for trace_agg.tombstone_window after deleted_at';
SELECT pg_catalog.pg_extension_config_dump('trace_agg.tombstone', '');
-- Written only by delete_keys(); read by the statements of the source's
-- views, which run as the views' owners: a role sees the tombstones of the
-- sources it may read (deleted keys are no business of the others).
REVOKE ALL ON trace_agg.tombstone FROM PUBLIC;
GRANT SELECT ON trace_agg.tombstone TO PUBLIC;
ALTER TABLE trace_agg.tombstone ENABLE ROW LEVEL SECURITY;
CREATE POLICY tombstones_of_readable_sources ON trace_agg.tombstone
    USING (pg_catalog.has_table_privilege(source, 'SELECT'));

CREATE FUNCTION trace_agg.delete_keys(source regclass, key_prefix text[],
                                      before timestamptz DEFAULT NULL, time_column name DEFAULT NULL)
    RETURNS bigint
    AS 'MODULE_PATHNAME', 'trace_agg_delete_keys' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION trace_agg.delete_keys(regclass, text[], timestamptz, name) IS
    'delete the keys starting with key_prefix (and, with before, only rows whose time_column is before it) from every target of source, and drop their later events for trace_agg.tombstone_window; returns the number of target rows deleted';

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

-- finalize() of text and jsonb states fetches and decompresses the value:
-- a realistic COST lets the planner finalize after a sort and LIMIT.
ALTER FUNCTION trace_agg.finalize(trace_agg.argmax_text) COST 100;
ALTER FUNCTION trace_agg.finalize(trace_agg.argmax_jsonb) COST 100;

-- Comments (issue 11, item 7): every object of 0.1 that had none, so that
-- \dx+, \df+ and \dT+ explain them; the same statements as in sql/ext/.

-- 100_argmax_types.sql
COMMENT ON FUNCTION trace_agg.argmax_text_in(cstring) IS
    'input function of argmax_text: reads the JSON text form {"key": ..., "kind": ..., "value": ...}';
COMMENT ON FUNCTION trace_agg.argmax_text_out(trace_agg.argmax_text) IS
    'output function of argmax_text: the JSON text form, independent of DateStyle and TimeZone';
COMMENT ON FUNCTION trace_agg.argmax_text_recv(internal) IS
    'binary input function of argmax_text (COPY BINARY, replication): every layout version, every byte checked';
COMMENT ON FUNCTION trace_agg.argmax_text_send(trace_agg.argmax_text) IS
    'binary output function of argmax_text: the current layout version, in network byte order';
COMMENT ON FUNCTION trace_agg.argmax_bool_in(cstring) IS
    'input function of argmax_bool: reads the JSON text form {"key": ..., "kind": ..., "value": ...}';
COMMENT ON FUNCTION trace_agg.argmax_bool_out(trace_agg.argmax_bool) IS
    'output function of argmax_bool: the JSON text form, independent of DateStyle and TimeZone';
COMMENT ON FUNCTION trace_agg.argmax_bool_recv(internal) IS
    'binary input function of argmax_bool (COPY BINARY, replication): every layout version, every byte checked';
COMMENT ON FUNCTION trace_agg.argmax_bool_send(trace_agg.argmax_bool) IS
    'binary output function of argmax_bool: the current layout version, in network byte order';
COMMENT ON FUNCTION trace_agg.argmax_jsonb_in(cstring) IS
    'input function of argmax_jsonb: reads the JSON text form {"key": ..., "kind": ..., "value": ...}';
COMMENT ON FUNCTION trace_agg.argmax_jsonb_out(trace_agg.argmax_jsonb) IS
    'output function of argmax_jsonb: the JSON text form, independent of DateStyle and TimeZone';
COMMENT ON FUNCTION trace_agg.argmax_jsonb_recv(internal) IS
    'binary input function of argmax_jsonb (COPY BINARY, replication): every layout version, every byte checked';
COMMENT ON FUNCTION trace_agg.argmax_jsonb_send(trace_agg.argmax_jsonb) IS
    'binary output function of argmax_jsonb: the current layout version, in network byte order';

-- 110_argmax_functions.sql
COMMENT ON FUNCTION trace_agg.merge(trace_agg.argmax_text, trace_agg.argmax_text) IS
    'the state of both states together: the second only with a strictly greater key, else the first, returned itself; NULL on one side gives the other';
COMMENT ON FUNCTION trace_agg.merge(trace_agg.argmax_bool, trace_agg.argmax_bool) IS
    'the state of both states together: the second only with a strictly greater key, else the first, returned itself; NULL on one side gives the other';
COMMENT ON FUNCTION trace_agg.merge(trace_agg.argmax_jsonb, trace_agg.argmax_jsonb) IS
    'the state of both states together: the second only with a strictly greater key, else the first, returned itself; NULL on one side gives the other';
COMMENT ON FUNCTION trace_agg.finalize(trace_agg.argmax_text) IS
    'the text value of the row with the greatest key (ClickHouse finalizeAggregation); NULL for a state that saw no row';
COMMENT ON FUNCTION trace_agg.finalize(trace_agg.argmax_bool) IS
    'the boolean value of the row with the greatest key (ClickHouse finalizeAggregation); NULL for a state that saw no row';
COMMENT ON FUNCTION trace_agg.finalize(trace_agg.argmax_jsonb) IS
    'the jsonb value of the row with the greatest key (ClickHouse finalizeAggregation); NULL for a state that saw no row';
COMMENT ON FUNCTION trace_agg.argmax_key(trace_agg.argmax_text) IS
    'the winning key as text (ISO, UTC for timestamptz); NULL for a state that saw no row';
COMMENT ON FUNCTION trace_agg.argmax_key(trace_agg.argmax_bool) IS
    'the winning key as text (ISO, UTC for timestamptz); NULL for a state that saw no row';
COMMENT ON FUNCTION trace_agg.argmax_key(trace_agg.argmax_jsonb) IS
    'the winning key as text (ISO, UTC for timestamptz); NULL for a state that saw no row';

-- 120_argmax_aggregates.sql
COMMENT ON FUNCTION trace_agg.argmax_transfn(internal, "any", "any") IS
    'transition function of argmax and argmax_state: keeps the value of the row with the greatest key';
COMMENT ON FUNCTION trace_agg.argmax_combinefn(internal, internal) IS
    'combine function of argmax and argmax_state: merges partial states, the first winning ties';
COMMENT ON FUNCTION trace_agg.argmax_serialfn(internal) IS
    'serialize function of argmax and argmax_state: a partial state as an argmax state, for parallel workers';
COMMENT ON FUNCTION trace_agg.argmax_deserialfn(bytea, internal) IS
    'deserialize function of argmax and argmax_state: the inverse of argmax_serialfn';
COMMENT ON FUNCTION trace_agg.argmax_text_finalfn(internal) IS
    'final function of argmax over text values: the winning value';
COMMENT ON FUNCTION trace_agg.argmax_bool_finalfn(internal) IS
    'final function of argmax over boolean values: the winning value';
COMMENT ON FUNCTION trace_agg.argmax_jsonb_finalfn(internal) IS
    'final function of argmax over jsonb values: the winning value';
COMMENT ON FUNCTION trace_agg.argmax_text_state_finalfn(internal, "any", "any") IS
    'final function of argmax_state over text values: the winning row as an argmax_text state';
COMMENT ON FUNCTION trace_agg.argmax_bool_state_finalfn(internal, "any", "any") IS
    'final function of argmax_state over boolean values: the winning row as an argmax_bool state';
COMMENT ON FUNCTION trace_agg.argmax_jsonb_state_finalfn(internal, "any", "any") IS
    'final function of argmax_state over jsonb values: the winning row as an argmax_jsonb state';
COMMENT ON AGGREGATE trace_agg.argmax(text, timestamptz) IS
    'the text value of the row with the greatest timestamptz key (ClickHouse argMax); the first row wins ties; NULL values and keys skipped';
COMMENT ON AGGREGATE trace_agg.argmax(text, timestamp) IS
    'the text value of the row with the greatest timestamp key (ClickHouse argMax); the first row wins ties; NULL values and keys skipped';
COMMENT ON AGGREGATE trace_agg.argmax(text, bigint) IS
    'the text value of the row with the greatest bigint key (ClickHouse argMax); the first row wins ties; NULL values and keys skipped';
COMMENT ON AGGREGATE trace_agg.argmax(boolean, timestamptz) IS
    'the boolean value of the row with the greatest timestamptz key (ClickHouse argMax); the first row wins ties; NULL values and keys skipped';
COMMENT ON AGGREGATE trace_agg.argmax(boolean, timestamp) IS
    'the boolean value of the row with the greatest timestamp key (ClickHouse argMax); the first row wins ties; NULL values and keys skipped';
COMMENT ON AGGREGATE trace_agg.argmax(boolean, bigint) IS
    'the boolean value of the row with the greatest bigint key (ClickHouse argMax); the first row wins ties; NULL values and keys skipped';
COMMENT ON AGGREGATE trace_agg.argmax(jsonb, timestamptz) IS
    'the jsonb value of the row with the greatest timestamptz key (ClickHouse argMax); the first row wins ties; NULL values and keys skipped';
COMMENT ON AGGREGATE trace_agg.argmax(jsonb, timestamp) IS
    'the jsonb value of the row with the greatest timestamp key (ClickHouse argMax); the first row wins ties; NULL values and keys skipped';
COMMENT ON AGGREGATE trace_agg.argmax(jsonb, bigint) IS
    'the jsonb value of the row with the greatest bigint key (ClickHouse argMax); the first row wins ties; NULL values and keys skipped';
COMMENT ON AGGREGATE trace_agg.argmax_state(text, timestamptz) IS
    'the text value of the row with the greatest timestamptz key, as an argmax_text state to store and merge (ClickHouse argMaxState)';
COMMENT ON AGGREGATE trace_agg.argmax_state(text, timestamp) IS
    'the text value of the row with the greatest timestamp key, as an argmax_text state to store and merge (ClickHouse argMaxState)';
COMMENT ON AGGREGATE trace_agg.argmax_state(text, bigint) IS
    'the text value of the row with the greatest bigint key, as an argmax_text state to store and merge (ClickHouse argMaxState)';
COMMENT ON AGGREGATE trace_agg.argmax_state(boolean, timestamptz) IS
    'the boolean value of the row with the greatest timestamptz key, as an argmax_bool state to store and merge (ClickHouse argMaxState)';
COMMENT ON AGGREGATE trace_agg.argmax_state(boolean, timestamp) IS
    'the boolean value of the row with the greatest timestamp key, as an argmax_bool state to store and merge (ClickHouse argMaxState)';
COMMENT ON AGGREGATE trace_agg.argmax_state(boolean, bigint) IS
    'the boolean value of the row with the greatest bigint key, as an argmax_bool state to store and merge (ClickHouse argMaxState)';
COMMENT ON AGGREGATE trace_agg.argmax_state(jsonb, timestamptz) IS
    'the jsonb value of the row with the greatest timestamptz key, as an argmax_jsonb state to store and merge (ClickHouse argMaxState)';
COMMENT ON AGGREGATE trace_agg.argmax_state(jsonb, timestamp) IS
    'the jsonb value of the row with the greatest timestamp key, as an argmax_jsonb state to store and merge (ClickHouse argMaxState)';
COMMENT ON AGGREGATE trace_agg.argmax_state(jsonb, bigint) IS
    'the jsonb value of the row with the greatest bigint key, as an argmax_jsonb state to store and merge (ClickHouse argMaxState)';
COMMENT ON FUNCTION trace_agg.argmax_merge_transfn(internal, "any") IS
    'transition function of argmax_merge: keeps the winning state as it arrived, reading only fixed parts';
COMMENT ON FUNCTION trace_agg.argmax_merge_combinefn(internal, internal) IS
    'combine function of argmax_merge: the first partial state wins ties';
COMMENT ON FUNCTION trace_agg.argmax_merge_serialfn(internal) IS
    'serialize function of argmax_merge: the winning state, detoasted, for parallel workers';
COMMENT ON FUNCTION trace_agg.argmax_merge_deserialfn(bytea, internal) IS
    'deserialize function of argmax_merge: the inverse of argmax_merge_serialfn';
COMMENT ON FUNCTION trace_agg.argmax_text_merge_finalfn(internal) IS
    'final function of argmax_merge over argmax_text: the winning state';
COMMENT ON FUNCTION trace_agg.argmax_bool_merge_finalfn(internal) IS
    'final function of argmax_merge over argmax_bool: the winning state';
COMMENT ON FUNCTION trace_agg.argmax_jsonb_merge_finalfn(internal) IS
    'final function of argmax_merge over argmax_jsonb: the winning state';
COMMENT ON AGGREGATE trace_agg.argmax_merge(trace_agg.argmax_text) IS
    'argmax_text states merged into one (ClickHouse argMaxMerge); the earlier state wins ties; no rows gives NULL';
COMMENT ON AGGREGATE trace_agg.argmax_merge(trace_agg.argmax_bool) IS
    'argmax_bool states merged into one (ClickHouse argMaxMerge); the earlier state wins ties; no rows gives NULL';
COMMENT ON AGGREGATE trace_agg.argmax_merge(trace_agg.argmax_jsonb) IS
    'argmax_jsonb states merged into one (ClickHouse argMaxMerge); the earlier state wins ties; no rows gives NULL';

-- 210_sum_map.sql
COMMENT ON FUNCTION trace_agg.map_agg_combine(internal, internal) IS
    'combine function of sum_map, min_map and max_map: merges two partial maps';
COMMENT ON FUNCTION trace_agg.map_agg_serialize(internal) IS
    'serialize function of sum_map, min_map and max_map: a partial map as bytes, for parallel workers';
COMMENT ON FUNCTION trace_agg.map_agg_deserialize(bytea, internal) IS
    'deserialize function of sum_map, min_map and max_map: the inverse of map_agg_serialize, every byte checked';
COMMENT ON FUNCTION trace_agg.sum_map_uint64_transfn(internal, trace_agg.uint64_map) IS
    'transition function of sum_map over uint64_map: adds each key''s value';
COMMENT ON FUNCTION trace_agg.sum_map_decimal_transfn(internal, trace_agg.decimal_map) IS
    'transition function of sum_map over decimal_map: adds each key''s value';
COMMENT ON FUNCTION trace_agg.sum_map_uint64_final(internal) IS
    'final function of sum_map over uint64_map: the sums as a uint64_map';
COMMENT ON FUNCTION trace_agg.sum_map_decimal_final(internal) IS
    'final function of sum_map over decimal_map: the sums as a decimal_map';

-- 220_minmax_map.sql
COMMENT ON FUNCTION trace_agg.min_map_transfn(internal, trace_agg.text_map) IS
    'transition function of min_map: keeps each key''s bytewise least value';
COMMENT ON FUNCTION trace_agg.max_map_transfn(internal, trace_agg.text_map) IS
    'transition function of max_map: keeps each key''s bytewise greatest value';
COMMENT ON FUNCTION trace_agg.text_map_final(internal) IS
    'final function of min_map and max_map: the values as a text_map';

-- 300_any_last.sql
COMMENT ON FUNCTION trace_agg.any_last_transfn(anyelement, anyelement) IS
    'transition and combine function of any_last: returns its second argument';

-- 310_group_uniq.sql
COMMENT ON FUNCTION trace_agg.group_uniq_array_transfn(internal, text) IS
    'transition function of group_uniq_array(text): adds a value to the set';
COMMENT ON FUNCTION trace_agg.group_uniq_array_limited_transfn(internal, text, integer) IS
    'transition function of group_uniq_array(text, max_size): adds a value while the set is smaller than max_size';
COMMENT ON FUNCTION trace_agg.group_uniq_array_array_transfn(internal, text[]) IS
    'transition function of group_uniq_array_array(text[]): adds an array''s elements to the set';
COMMENT ON FUNCTION trace_agg.group_uniq_array_array_limited_transfn(internal, text[], integer) IS
    'transition function of group_uniq_array_array(text[], max_size): adds elements while the set is smaller than max_size';
COMMENT ON FUNCTION trace_agg.group_uniq_combine(internal, internal) IS
    'combine function of the group_uniq aggregates: the union of two partial sets';
COMMENT ON FUNCTION trace_agg.group_uniq_serialize(internal) IS
    'serialize function of the group_uniq aggregates: a partial set as bytes, for parallel workers';
COMMENT ON FUNCTION trace_agg.group_uniq_deserialize(bytea, internal) IS
    'deserialize function of the group_uniq aggregates: the inverse of group_uniq_serialize, every byte checked';
COMMENT ON FUNCTION trace_agg.group_uniq_finalfn(internal) IS
    'final function of the group_uniq aggregates: the set as a text[] sorted bytewise';

-- 500_null_am.sql
COMMENT ON FUNCTION trace_agg.null_am_handler(internal) IS
    'handler of the trace_agg_null table access method';

-- 700_traces.sql
COMMENT ON FUNCTION trace_agg.traces_view_query(regclass) IS
    'the query of the reference traces materialized views (ClickHouse traces_*_amt_mv) over the given source table';

-- Corrections (issue 13): generic argmax/argmin and their states
-- (argmax_any, argmin_any), argmax_last for the latest version of a row,
-- last_set for fields cleared on purpose, and last-writer-wins maps for tags
-- and metadata.  Same statements as sql/ext/130_argmax_any.sql and
-- sql/ext/320_corrections.sql.

-- Generic argmax and argmin (issue 13): a value of any type, a key of any
-- type with a default btree ordering (text keys compare bytewise, as
-- COLLATE "C").  The rule is the aggregate's and travels in its state:
--   argmax(v, key)       greatest key; the first row wins ties (ClickHouse argMax)
--   argmin(v, key)       least key; the first row wins ties (ClickHouse argMin)
--   argmax_last(v, key)  greatest key; the later row wins ties (the latest
--                        version of a row, as ReplacingMergeTree keeps it)
--   last_set(v, ts)      as argmax_last, but a NULL value is a value (a field
--                        cleared on purpose) and a NULL ts means the row does
--                        not set the field
-- argmax, argmin and argmax_last skip rows whose value or key is NULL.  Each
-- has a state form (argmax_state, argmin_state, argmax_last_state,
-- last_set_state) of type argmax_any or argmin_any, which merge(),
-- argmax_merge()/argmin_merge() and materialized views combine, and
-- finalize(state, NULL::type) reads.  The text form is JSON naming the
-- types, e.g.
--   {"rule": "argmax_last", "key_type": "timestamp with time zone",
--    "value_type": "numeric", "key": "2025-07-01 10:00:00+00", "value": "1.5"}
-- STORAGE = external: values are stored uncompressed, so reading one is a
-- copy, and merge() fetches only the head of an out-of-line state.

CREATE TYPE trace_agg.argmax_any;

CREATE FUNCTION trace_agg.argmax_any_in(cstring) RETURNS trace_agg.argmax_any
    AS 'MODULE_PATHNAME', 'argmax_any_in' LANGUAGE C STABLE STRICT PARALLEL SAFE;
CREATE FUNCTION trace_agg.argmax_any_out(trace_agg.argmax_any) RETURNS cstring
    AS 'MODULE_PATHNAME', 'argany_out' LANGUAGE C STABLE STRICT PARALLEL SAFE;
CREATE FUNCTION trace_agg.argmax_any_recv(internal) RETURNS trace_agg.argmax_any
    AS 'MODULE_PATHNAME', 'argmax_any_recv' LANGUAGE C STABLE STRICT PARALLEL SAFE;
CREATE FUNCTION trace_agg.argmax_any_send(trace_agg.argmax_any) RETURNS bytea
    AS 'MODULE_PATHNAME', 'argany_send' LANGUAGE C STABLE STRICT PARALLEL SAFE;

CREATE TYPE trace_agg.argmax_any (
    INPUT = trace_agg.argmax_any_in,
    OUTPUT = trace_agg.argmax_any_out,
    RECEIVE = trace_agg.argmax_any_recv,
    SEND = trace_agg.argmax_any_send,
    INTERNALLENGTH = VARIABLE,
    ALIGNMENT = double,
    STORAGE = external
);
COMMENT ON TYPE trace_agg.argmax_any IS
    'argMax state of a value of any type under a key of any ordered type (argmax_state, argmax_last_state, last_set_state)';

CREATE TYPE trace_agg.argmin_any;

CREATE FUNCTION trace_agg.argmin_any_in(cstring) RETURNS trace_agg.argmin_any
    AS 'MODULE_PATHNAME', 'argmin_any_in' LANGUAGE C STABLE STRICT PARALLEL SAFE;
CREATE FUNCTION trace_agg.argmin_any_out(trace_agg.argmin_any) RETURNS cstring
    AS 'MODULE_PATHNAME', 'argany_out' LANGUAGE C STABLE STRICT PARALLEL SAFE;
CREATE FUNCTION trace_agg.argmin_any_recv(internal) RETURNS trace_agg.argmin_any
    AS 'MODULE_PATHNAME', 'argmin_any_recv' LANGUAGE C STABLE STRICT PARALLEL SAFE;
CREATE FUNCTION trace_agg.argmin_any_send(trace_agg.argmin_any) RETURNS bytea
    AS 'MODULE_PATHNAME', 'argany_send' LANGUAGE C STABLE STRICT PARALLEL SAFE;

CREATE TYPE trace_agg.argmin_any (
    INPUT = trace_agg.argmin_any_in,
    OUTPUT = trace_agg.argmin_any_out,
    RECEIVE = trace_agg.argmin_any_recv,
    SEND = trace_agg.argmin_any_send,
    INTERNALLENGTH = VARIABLE,
    ALIGNMENT = double,
    STORAGE = external
);
COMMENT ON TYPE trace_agg.argmin_any IS
    'argMin state of a value of any type under a key of any ordered type (argmin_state)';

COMMENT ON FUNCTION trace_agg.argmax_any_in(cstring) IS
    'input function of argmax_any: reads the JSON text form naming the rule, the key and value types, the key and the value';
COMMENT ON FUNCTION trace_agg.argmax_any_out(trace_agg.argmax_any) IS
    'output function of argmax_any: the JSON text form, types by qualified name, key and value in their types'' text forms';
COMMENT ON FUNCTION trace_agg.argmax_any_recv(internal) IS
    'binary input function of argmax_any: types by name, key and value through their types'' receive functions';
COMMENT ON FUNCTION trace_agg.argmax_any_send(trace_agg.argmax_any) IS
    'binary output function of argmax_any: layout version, flags, type names, key and value in their binary forms';
COMMENT ON FUNCTION trace_agg.argmin_any_in(cstring) IS
    'input function of argmin_any: reads the JSON text form naming the rule, the key and value types, the key and the value';
COMMENT ON FUNCTION trace_agg.argmin_any_out(trace_agg.argmin_any) IS
    'output function of argmin_any: the JSON text form, types by qualified name, key and value in their types'' text forms';
COMMENT ON FUNCTION trace_agg.argmin_any_recv(internal) IS
    'binary input function of argmin_any: types by name, key and value through their types'' receive functions';
COMMENT ON FUNCTION trace_agg.argmin_any_send(trace_agg.argmin_any) IS
    'binary output function of argmin_any: layout version, flags, type names, key and value in their binary forms';

-- merge(a, b): the state of a's rows followed by b's, returning one of its
-- arguments itself (no detoast of a stored value, no rewrite).
CREATE FUNCTION trace_agg.merge(trace_agg.argmax_any, trace_agg.argmax_any)
    RETURNS trace_agg.argmax_any
    AS 'MODULE_PATHNAME', 'argany_merge_states' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION trace_agg.merge(trace_agg.argmin_any, trace_agg.argmin_any)
    RETURNS trace_agg.argmin_any
    AS 'MODULE_PATHNAME', 'argany_merge_states' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION trace_agg.merge(trace_agg.argmax_any, trace_agg.argmax_any) IS
    'the state of both states together: the second wins with a greater key, or an equal one under argmax_last and last_set; returns the winner itself; NULL on one side gives the other';
COMMENT ON FUNCTION trace_agg.merge(trace_agg.argmin_any, trace_agg.argmin_any) IS
    'the state of both states together: the second wins only with a strictly smaller key; returns the winner itself; NULL on one side gives the other';

-- finalize(state, NULL::type): the polymorphic result needs the value type
-- named, as jsonb_populate_record does; it must be the state's.
CREATE FUNCTION trace_agg.finalize(trace_agg.argmax_any, anyelement) RETURNS anyelement
    AS 'MODULE_PATHNAME', 'argany_finalize' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION trace_agg.finalize(trace_agg.argmin_any, anyelement) RETURNS anyelement
    AS 'MODULE_PATHNAME', 'argany_finalize' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION trace_agg.finalize(trace_agg.argmax_any, anyelement) IS
    'the value of the winning row, of the type of the second argument (pass NULL::type); NULL for no row or a cleared value';
COMMENT ON FUNCTION trace_agg.finalize(trace_agg.argmin_any, anyelement) IS
    'the value of the winning row, of the type of the second argument (pass NULL::type); NULL for no row';

CREATE FUNCTION trace_agg.argmax_key(trace_agg.argmax_any) RETURNS text
    AS 'MODULE_PATHNAME', 'argany_key_text' LANGUAGE C STABLE STRICT PARALLEL SAFE;
CREATE FUNCTION trace_agg.argmin_key(trace_agg.argmin_any) RETURNS text
    AS 'MODULE_PATHNAME', 'argany_key_text' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION trace_agg.argmax_key(trace_agg.argmax_any) IS
    'the winning key in its type''s text form; NULL for a state that saw no row';
COMMENT ON FUNCTION trace_agg.argmin_key(trace_agg.argmin_any) IS
    'the winning key in its type''s text form; NULL for a state that saw no row';

-- Support functions; internal states, so not callable from SQL.
CREATE FUNCTION trace_agg.argany_max_transfn(internal, anyelement, anycompatible) RETURNS internal
    AS 'MODULE_PATHNAME', 'argany_max_transfn' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION trace_agg.argany_min_transfn(internal, anyelement, anycompatible) RETURNS internal
    AS 'MODULE_PATHNAME', 'argany_min_transfn' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION trace_agg.argany_max_last_transfn(internal, anyelement, anycompatible) RETURNS internal
    AS 'MODULE_PATHNAME', 'argany_max_last_transfn' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION trace_agg.argany_last_set_transfn(internal, anyelement, anycompatible) RETURNS internal
    AS 'MODULE_PATHNAME', 'argany_last_set_transfn' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION trace_agg.argany_combinefn(internal, internal) RETURNS internal
    AS 'MODULE_PATHNAME', 'argany_combinefn' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION trace_agg.argany_serialfn(internal) RETURNS bytea
    AS 'MODULE_PATHNAME', 'argany_serialfn' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION trace_agg.argany_deserialfn(bytea, internal) RETURNS internal
    AS 'MODULE_PATHNAME', 'argany_deserialfn' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION trace_agg.argany_finalfn(internal, anyelement, anycompatible) RETURNS anyelement
    AS 'MODULE_PATHNAME', 'argany_finalfn' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION trace_agg.argany_max_state_finalfn(internal, anyelement, anycompatible)
    RETURNS trace_agg.argmax_any
    AS 'MODULE_PATHNAME', 'argany_max_state_finalfn' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION trace_agg.argany_min_state_finalfn(internal, anyelement, anycompatible)
    RETURNS trace_agg.argmin_any
    AS 'MODULE_PATHNAME', 'argany_min_state_finalfn' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION trace_agg.argany_max_last_state_finalfn(internal, anyelement, anycompatible)
    RETURNS trace_agg.argmax_any
    AS 'MODULE_PATHNAME', 'argany_max_last_state_finalfn' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION trace_agg.argany_last_set_state_finalfn(internal, anyelement, anycompatible)
    RETURNS trace_agg.argmax_any
    AS 'MODULE_PATHNAME', 'argany_last_set_state_finalfn' LANGUAGE C IMMUTABLE PARALLEL SAFE;

COMMENT ON FUNCTION trace_agg.argany_max_transfn(internal, anyelement, anycompatible) IS
    'transition function of argmax and argmax_state over any types: keeps the row with the greatest key, the first of equal ones';
COMMENT ON FUNCTION trace_agg.argany_min_transfn(internal, anyelement, anycompatible) IS
    'transition function of argmin and argmin_state: keeps the row with the least key, the first of equal ones';
COMMENT ON FUNCTION trace_agg.argany_max_last_transfn(internal, anyelement, anycompatible) IS
    'transition function of argmax_last and argmax_last_state: keeps the row with the greatest key, the last of equal ones';
COMMENT ON FUNCTION trace_agg.argany_last_set_transfn(internal, anyelement, anycompatible) IS
    'transition function of last_set and last_set_state: as argmax_last, a NULL value counting as a value, a NULL key skipping the row';
COMMENT ON FUNCTION trace_agg.argany_combinefn(internal, internal) IS
    'combine function of the generic argmax and argmin aggregates: the second partial state wins under the state''s rule';
COMMENT ON FUNCTION trace_agg.argany_serialfn(internal) IS
    'serialize function of the generic argmax and argmin aggregates: a partial state in the stored layout';
COMMENT ON FUNCTION trace_agg.argany_deserialfn(bytea, internal) IS
    'deserialize function of the generic argmax and argmin aggregates: the inverse of argany_serialfn';
COMMENT ON FUNCTION trace_agg.argany_finalfn(internal, anyelement, anycompatible) IS
    'final function of the generic argmax, argmin, argmax_last and last_set: the winning value';
COMMENT ON FUNCTION trace_agg.argany_max_state_finalfn(internal, anyelement, anycompatible) IS
    'final function of argmax_state over any types: the winning row as an argmax_any state';
COMMENT ON FUNCTION trace_agg.argany_min_state_finalfn(internal, anyelement, anycompatible) IS
    'final function of argmin_state: the winning row as an argmin_any state';
COMMENT ON FUNCTION trace_agg.argany_max_last_state_finalfn(internal, anyelement, anycompatible) IS
    'final function of argmax_last_state: the winning row as an argmax_any state';
COMMENT ON FUNCTION trace_agg.argany_last_set_state_finalfn(internal, anyelement, anycompatible) IS
    'final function of last_set_state: the winning row as an argmax_any state';

CREATE AGGREGATE trace_agg.argmax(anyelement, anycompatible) (
    SFUNC = trace_agg.argany_max_transfn, STYPE = internal,
    FINALFUNC = trace_agg.argany_finalfn, FINALFUNC_EXTRA,
    COMBINEFUNC = trace_agg.argany_combinefn,
    SERIALFUNC = trace_agg.argany_serialfn, DESERIALFUNC = trace_agg.argany_deserialfn,
    SSPACE = 128, PARALLEL = SAFE);
CREATE AGGREGATE trace_agg.argmin(anyelement, anycompatible) (
    SFUNC = trace_agg.argany_min_transfn, STYPE = internal,
    FINALFUNC = trace_agg.argany_finalfn, FINALFUNC_EXTRA,
    COMBINEFUNC = trace_agg.argany_combinefn,
    SERIALFUNC = trace_agg.argany_serialfn, DESERIALFUNC = trace_agg.argany_deserialfn,
    SSPACE = 128, PARALLEL = SAFE);
CREATE AGGREGATE trace_agg.argmax_last(anyelement, anycompatible) (
    SFUNC = trace_agg.argany_max_last_transfn, STYPE = internal,
    FINALFUNC = trace_agg.argany_finalfn, FINALFUNC_EXTRA,
    COMBINEFUNC = trace_agg.argany_combinefn,
    SERIALFUNC = trace_agg.argany_serialfn, DESERIALFUNC = trace_agg.argany_deserialfn,
    SSPACE = 128, PARALLEL = SAFE);
CREATE AGGREGATE trace_agg.last_set(anyelement, anycompatible) (
    SFUNC = trace_agg.argany_last_set_transfn, STYPE = internal,
    FINALFUNC = trace_agg.argany_finalfn, FINALFUNC_EXTRA,
    COMBINEFUNC = trace_agg.argany_combinefn,
    SERIALFUNC = trace_agg.argany_serialfn, DESERIALFUNC = trace_agg.argany_deserialfn,
    SSPACE = 128, PARALLEL = SAFE);
CREATE AGGREGATE trace_agg.argmax_state(anyelement, anycompatible) (
    SFUNC = trace_agg.argany_max_transfn, STYPE = internal,
    FINALFUNC = trace_agg.argany_max_state_finalfn, FINALFUNC_EXTRA,
    COMBINEFUNC = trace_agg.argany_combinefn,
    SERIALFUNC = trace_agg.argany_serialfn, DESERIALFUNC = trace_agg.argany_deserialfn,
    SSPACE = 128, PARALLEL = SAFE);
CREATE AGGREGATE trace_agg.argmin_state(anyelement, anycompatible) (
    SFUNC = trace_agg.argany_min_transfn, STYPE = internal,
    FINALFUNC = trace_agg.argany_min_state_finalfn, FINALFUNC_EXTRA,
    COMBINEFUNC = trace_agg.argany_combinefn,
    SERIALFUNC = trace_agg.argany_serialfn, DESERIALFUNC = trace_agg.argany_deserialfn,
    SSPACE = 128, PARALLEL = SAFE);
CREATE AGGREGATE trace_agg.argmax_last_state(anyelement, anycompatible) (
    SFUNC = trace_agg.argany_max_last_transfn, STYPE = internal,
    FINALFUNC = trace_agg.argany_max_last_state_finalfn, FINALFUNC_EXTRA,
    COMBINEFUNC = trace_agg.argany_combinefn,
    SERIALFUNC = trace_agg.argany_serialfn, DESERIALFUNC = trace_agg.argany_deserialfn,
    SSPACE = 128, PARALLEL = SAFE);
CREATE AGGREGATE trace_agg.last_set_state(anyelement, anycompatible) (
    SFUNC = trace_agg.argany_last_set_transfn, STYPE = internal,
    FINALFUNC = trace_agg.argany_last_set_state_finalfn, FINALFUNC_EXTRA,
    COMBINEFUNC = trace_agg.argany_combinefn,
    SERIALFUNC = trace_agg.argany_serialfn, DESERIALFUNC = trace_agg.argany_deserialfn,
    SSPACE = 128, PARALLEL = SAFE);

-- argmax_merge/argmin_merge: merge() as the transition and combine
-- function; the winning state is kept as it came.
CREATE AGGREGATE trace_agg.argmax_merge(trace_agg.argmax_any) (
    SFUNC = trace_agg.merge, STYPE = trace_agg.argmax_any,
    COMBINEFUNC = trace_agg.merge, PARALLEL = SAFE);
CREATE AGGREGATE trace_agg.argmin_merge(trace_agg.argmin_any) (
    SFUNC = trace_agg.merge, STYPE = trace_agg.argmin_any,
    COMBINEFUNC = trace_agg.merge, PARALLEL = SAFE);

COMMENT ON AGGREGATE trace_agg.argmax(anyelement, anycompatible) IS
    'the value of the row with the greatest key, any value type, any key type with a btree ordering (ClickHouse argMax); the first row wins ties; NULL values and keys skipped';
COMMENT ON AGGREGATE trace_agg.argmin(anyelement, anycompatible) IS
    'the value of the row with the least key, any value type, any key type with a btree ordering (ClickHouse argMin); the first row wins ties; NULL values and keys skipped';
COMMENT ON AGGREGATE trace_agg.argmax_last(anyelement, anycompatible) IS
    'the value of the row with the greatest key, the later row winning ties (ReplacingMergeTree''s latest version); NULL values and keys skipped';
COMMENT ON AGGREGATE trace_agg.last_set(anyelement, anycompatible) IS
    'the value set by the row with the greatest key, the later winning ties; a NULL value clears, a NULL key leaves the field unset';
COMMENT ON AGGREGATE trace_agg.argmax_state(anyelement, anycompatible) IS
    'argmax over any types as an argmax_any state to store and merge (ClickHouse argMaxState)';
COMMENT ON AGGREGATE trace_agg.argmin_state(anyelement, anycompatible) IS
    'argmin as an argmin_any state to store and merge (ClickHouse argMinState)';
COMMENT ON AGGREGATE trace_agg.argmax_last_state(anyelement, anycompatible) IS
    'argmax_last as an argmax_any state to store and merge; merging, the later state wins ties';
COMMENT ON AGGREGATE trace_agg.last_set_state(anyelement, anycompatible) IS
    'last_set as an argmax_any state to store and merge; merging, the later state wins ties';
COMMENT ON AGGREGATE trace_agg.argmax_merge(trace_agg.argmax_any) IS
    'argmax_any states merged into one, in input order, under their rule; no rows gives NULL';
COMMENT ON AGGREGATE trace_agg.argmin_merge(trace_agg.argmin_any) IS
    'argmin_any states merged into one, in input order; no rows gives NULL';

-- Corrections that merge in any order (issue 13): tags that can be removed
-- and added again, metadata whose keys keep their latest value and can be
-- removed.  Both are last-writer-wins maps, lww_map: a jsonb object from
-- an element (a tag, a metadata key) to its latest operation,
--   {"t": <event time in microseconds since 1970 UTC>, "v": <value>}  set
--   {"t": <event time>}                                                added tag
--   {"t": <event time>, "d": true}                                     removed
-- Merging keeps, per element, the operation that is greatest by (t, removal
-- before anything else, v in jsonb order): a join of a total order, so the
-- result is the same for any split into batches and any order of arrival.
-- Ties (equal event times): a removal wins; between two values, the greater
-- in jsonb order.  Removed elements stay as tombstones, so that an older
-- operation arriving late cannot bring them back.

-- Whether a jsonb object has the shape of a lww_map (the domain's check).
CREATE FUNCTION trace_agg.lww_map_is_valid(jsonb) RETURNS boolean
    AS 'MODULE_PATHNAME', 'lww_map_is_valid' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION trace_agg.lww_map_is_valid(jsonb) IS
    'whether a jsonb object is a last-writer-wins map: every entry {"t": number} plus "v": value or "d": true';

CREATE DOMAIN trace_agg.lww_map AS jsonb
    CONSTRAINT lww_map_entries CHECK (trace_agg.lww_map_is_valid(VALUE));
COMMENT ON DOMAIN trace_agg.lww_map IS
    'last-writer-wins map: element -> {"t": event time in microseconds, "v": value} or {"t": ..., "d": true} when removed';

-- lww_merge(a, b): per element the winning operation; returns a itself when
-- b changes nothing, NULL on one side gives the other.
CREATE FUNCTION trace_agg.lww_merge(trace_agg.lww_map, trace_agg.lww_map)
    RETURNS trace_agg.lww_map
    AS 'MODULE_PATHNAME', 'lww_merge' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION trace_agg.lww_merge(trace_agg.lww_map, trace_agg.lww_map) IS
    'merges two last-writer-wins maps: per element the latest operation (ties: removal, then greater value); returns the first when the second changes nothing';

-- Readers of a stored map.
CREATE FUNCTION trace_agg.lww_keys(trace_agg.lww_map) RETURNS text[]
    AS 'MODULE_PATHNAME', 'lww_keys' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION trace_agg.lww_keys(trace_agg.lww_map) IS
    'the elements of a last-writer-wins map not removed, sorted bytewise (the tags of a tag_set_state)';
CREATE FUNCTION trace_agg.lww_values(trace_agg.lww_map) RETURNS jsonb
    AS 'MODULE_PATHNAME', 'lww_values' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION trace_agg.lww_values(trace_agg.lww_map) IS
    'the keys of a last-writer-wins map not removed, with their latest values (the metadata of a metadata_state)';

-- Support functions of the aggregates; internal states, so not callable
-- from SQL.  An event's removals apply after its additions: a tag or key
-- both added and removed by one event is removed.  A NULL event time skips
-- the event, an infinite one is refused.
CREATE FUNCTION trace_agg.lww_tags_transfn(internal, text[], text[], timestamptz) RETURNS internal
    AS 'MODULE_PATHNAME', 'lww_tags_transfn' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION trace_agg.lww_metadata_transfn(internal, jsonb, text[], timestamptz) RETURNS internal
    AS 'MODULE_PATHNAME', 'lww_metadata_transfn' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION trace_agg.lww_combinefn(internal, internal) RETURNS internal
    AS 'MODULE_PATHNAME', 'lww_combinefn' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION trace_agg.lww_serialfn(internal) RETURNS bytea
    AS 'MODULE_PATHNAME', 'lww_serialfn' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION trace_agg.lww_deserialfn(bytea, internal) RETURNS internal
    AS 'MODULE_PATHNAME', 'lww_deserialfn' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION trace_agg.lww_state_finalfn(internal) RETURNS trace_agg.lww_map
    AS 'MODULE_PATHNAME', 'lww_state_finalfn' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION trace_agg.lww_tags_finalfn(internal) RETURNS text[]
    AS 'MODULE_PATHNAME', 'lww_tags_finalfn' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION trace_agg.lww_values_finalfn(internal) RETURNS jsonb
    AS 'MODULE_PATHNAME', 'lww_values_finalfn' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION trace_agg.lww_tags_transfn(internal, text[], text[], timestamptz) IS
    'transition function of tag_set_state and tags: applies one event''s added and removed tags';
COMMENT ON FUNCTION trace_agg.lww_metadata_transfn(internal, jsonb, text[], timestamptz) IS
    'transition function of metadata_state and metadata: applies one event''s set and removed keys';
COMMENT ON FUNCTION trace_agg.lww_combinefn(internal, internal) IS
    'combine function of the last-writer-wins aggregates: per element the winning operation';
COMMENT ON FUNCTION trace_agg.lww_serialfn(internal) IS
    'serialize function of the last-writer-wins aggregates: the map as jsonb, for parallel workers';
COMMENT ON FUNCTION trace_agg.lww_deserialfn(bytea, internal) IS
    'deserialize function of the last-writer-wins aggregates: the inverse of lww_serialfn';
COMMENT ON FUNCTION trace_agg.lww_state_finalfn(internal) IS
    'final function of tag_set_state and metadata_state: the map, tombstones included';
COMMENT ON FUNCTION trace_agg.lww_tags_finalfn(internal) IS
    'final function of tags: the tags not removed, sorted bytewise';
COMMENT ON FUNCTION trace_agg.lww_values_finalfn(internal) IS
    'final function of metadata: the keys not removed with their latest values';

CREATE AGGREGATE trace_agg.tag_set_state(text[], text[], timestamptz) (
    SFUNC = trace_agg.lww_tags_transfn, STYPE = internal,
    FINALFUNC = trace_agg.lww_state_finalfn,
    COMBINEFUNC = trace_agg.lww_combinefn,
    SERIALFUNC = trace_agg.lww_serialfn, DESERIALFUNC = trace_agg.lww_deserialfn,
    SSPACE = 256, PARALLEL = SAFE);
CREATE AGGREGATE trace_agg.tags(text[], text[], timestamptz) (
    SFUNC = trace_agg.lww_tags_transfn, STYPE = internal,
    FINALFUNC = trace_agg.lww_tags_finalfn,
    COMBINEFUNC = trace_agg.lww_combinefn,
    SERIALFUNC = trace_agg.lww_serialfn, DESERIALFUNC = trace_agg.lww_deserialfn,
    SSPACE = 256, PARALLEL = SAFE);
CREATE AGGREGATE trace_agg.metadata_state(jsonb, text[], timestamptz) (
    SFUNC = trace_agg.lww_metadata_transfn, STYPE = internal,
    FINALFUNC = trace_agg.lww_state_finalfn,
    COMBINEFUNC = trace_agg.lww_combinefn,
    SERIALFUNC = trace_agg.lww_serialfn, DESERIALFUNC = trace_agg.lww_deserialfn,
    SSPACE = 256, PARALLEL = SAFE);
CREATE AGGREGATE trace_agg.metadata(jsonb, text[], timestamptz) (
    SFUNC = trace_agg.lww_metadata_transfn, STYPE = internal,
    FINALFUNC = trace_agg.lww_values_finalfn,
    COMBINEFUNC = trace_agg.lww_combinefn,
    SERIALFUNC = trace_agg.lww_serialfn, DESERIALFUNC = trace_agg.lww_deserialfn,
    SSPACE = 256, PARALLEL = SAFE);

COMMENT ON AGGREGATE trace_agg.tag_set_state(text[], text[], timestamptz) IS
    'tags added and removed by events (added, removed, event time) as a lww_map to store and merge with lww_merge; the latest operation per tag wins, a removal wins ties';
COMMENT ON AGGREGATE trace_agg.tags(text[], text[], timestamptz) IS
    'the tags left after events (added, removed, event time), sorted bytewise; the latest operation per tag wins, a removal wins ties';
COMMENT ON AGGREGATE trace_agg.metadata_state(jsonb, text[], timestamptz) IS
    'metadata keys set and removed by events (object set, keys removed, event time) as a lww_map to store and merge with lww_merge; the latest operation per key wins';
COMMENT ON AGGREGATE trace_agg.metadata(jsonb, text[], timestamptz) IS
    'the metadata left after events (object set, keys removed, event time): per key the latest value; a removal wins ties, then the greater value';

-- Derived views (issue 14): views over stored tables that change, kept
-- exact by recomputing the affected keys.  Same statements as
-- sql/ext/620_derived.sql.

-- A derived view is a Postgres view (its query, name, schema and owner)
-- plus this row naming it, its source and its target by OID.  A target has
-- one derived view at most: the view is its only writer.
-- Its mode says how: 'recompute' reads the source again for the keys a
-- statement touched, 'delta' adds the statement's changes to the stored
-- aggregates (src/derived_delta.c).
CREATE TABLE trace_agg.derived_view (
    view   regclass PRIMARY KEY,
    source regclass NOT NULL,
    target regclass NOT NULL UNIQUE,
    mode   text NOT NULL DEFAULT 'recompute' CHECK (mode IN ('recompute', 'delta'))
);
COMMENT ON TABLE trace_agg.derived_view IS
    'derived views: after every statement writing source, the keys it touched are recomputed by the query of view into target (mode recompute), or the statement''s changes are added to their rows (mode delta)';
-- Definitions are user data: pg_dump keeps them.
SELECT pg_catalog.pg_extension_config_dump('trace_agg.derived_view', '');
-- Everyone reads the definitions (as pg_views); only the extension's
-- functions write them.
REVOKE ALL ON trace_agg.derived_view FROM PUBLIC;
GRANT SELECT ON trace_agg.derived_view TO PUBLIC;

-- A derived view depends on its target, as a materialized view does.
CREATE TRIGGER derived_view_depends_on_target AFTER INSERT ON trace_agg.derived_view
    FOR EACH ROW EXECUTE FUNCTION trace_agg.record_view_dependency();

-- The statement triggers of every source.  Executable by PUBLIC, as
-- trigger functions are: it only recomputes the derived views defined on
-- the table it fires for, as their owners, at the end of the statement.
CREATE FUNCTION trace_agg.derived_maintain() RETURNS trigger
    AS 'MODULE_PATHNAME', 'trace_agg_derived_maintain' LANGUAGE C;
COMMENT ON FUNCTION trace_agg.derived_maintain() IS
    'statement trigger of a derived view source: recomputes the keys the statement touched in every derived view of it';

CREATE FUNCTION trace_agg.create_derived_view(name text, target regclass, query text,
                                              mode text DEFAULT 'recompute')
    RETURNS void
    AS 'MODULE_PATHNAME', 'trace_agg_create_derived_view' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION trace_agg.create_derived_view(text, regclass, text, text) IS
    'create a derived view (a view named name, by default in target''s schema) over a stored table that changes: target holds the query''s rows, and every statement writing the source recomputes the keys it touched (mode recompute) or, for count and sum only, adds its changes to their rows (mode delta)';

CREATE FUNCTION trace_agg.drop_derived_view(name text, if_exists boolean DEFAULT false)
    RETURNS void
    AS 'MODULE_PATHNAME', 'trace_agg_drop_derived_view' LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION trace_agg.drop_derived_view(text, boolean) IS
    'drop a derived view (its owner or the owner of its source or target may); its source and target tables stay';

CREATE FUNCTION trace_agg.refresh_derived_view(name text)
    RETURNS void
    AS 'MODULE_PATHNAME', 'trace_agg_refresh_derived_view' LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION trace_agg.refresh_derived_view(text) IS
    'recompute every key of a derived view now, for a source written without firing its triggers (session_replication_role = replica, triggers disabled); who may drop the view may refresh it';

CREATE FUNCTION trace_agg.derived_view_statements(source regclass,
                                                  OUT view regclass, OUT owner regrole,
                                                  OUT key_types regtype[], OUT lock_statement text,
                                                  OUT statement text, OUT full_statement text,
                                                  OUT mode text, OUT delta_statement text,
                                                  OUT cleanup_statement text)
    RETURNS SETOF record
    AS 'MODULE_PATHNAME', 'trace_agg_derived_view_statements' LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION trace_agg.derived_view_statements(regclass) IS
    'the statements that maintain the derived views of source, in order, each as its view''s owner: the lock and the recomputation of the keys a statement touched (one array per key column, of key_types, as $1 ...), and the recomputation of every key';

CREATE VIEW trace_agg.derived_views AS
    SELECT d.view, n.nspname AS schema, c.relname AS view_name, d.source, d.target,
           c.relowner::pg_catalog.regrole AS owner, pg_catalog.pg_get_viewdef(d.view) AS query, d.mode
    FROM trace_agg.derived_view d
    JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) d.view
    JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace;
GRANT SELECT ON trace_agg.derived_views TO PUBLIC;
COMMENT ON VIEW trace_agg.derived_views IS 'derived views with their queries and modes';

-- Every way a derived view, its source or its target goes passes here: a
-- dropped view's definition is forgotten (and any whose view is gone by a
-- way no event trigger sees), and with a source's last derived view its
-- triggers (on every partition of a partitioned source); a target cannot go
-- while a view still writes it.
-- SECURITY DEFINER: the catalog is the extension's alone, and the triggers
-- it drops belong to a table another role may own; it changes only rows
-- and triggers of objects this very command dropped.
CREATE FUNCTION trace_agg.guard_drop_derived() RETURNS event_trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    d record;
    src regclass;
    dropped oid[] := ARRAY(SELECT o.objid FROM pg_event_trigger_dropped_objects() o
                           WHERE o.classid = 'pg_class'::regclass AND o.objsubid = 0);
BEGIN
    FOR d IN
        SELECT v.target::oid AS table_oid, v.view::oid AS view
        FROM trace_agg.derived_view v
        WHERE v.target = ANY (dropped) AND NOT v.view = ANY (dropped)
          AND EXISTS (SELECT FROM pg_class c WHERE c.oid = v.view)
        LIMIT 1
    LOOP
        RAISE EXCEPTION 'cannot drop table % because trace_agg uses it',
                        (SELECT o.object_identity FROM pg_event_trigger_dropped_objects() o
                         WHERE o.objid = d.table_oid AND o.classid = 'pg_class'::regclass AND o.objsubid = 0)
            USING ERRCODE = 'dependent_objects_still_exist',
                  DETAIL = format('Derived view %s writes it.', d.view::regclass),
                  HINT = 'Drop the derived view with trace_agg.drop_derived_view() first, or drop the table with CASCADE.';
    END LOOP;

    FOR src IN
        DELETE FROM trace_agg.derived_view v
        WHERE v.view = ANY (dropped) OR NOT EXISTS (SELECT FROM pg_class c WHERE c.oid = v.view)
        RETURNING v.source
    LOOP
        IF NOT src = ANY (dropped)
           AND NOT EXISTS (SELECT FROM trace_agg.derived_view v WHERE v.source = src) THEN
            FOR d IN
                SELECT g.tgname, g.tgrelid::regclass AS rel
                FROM pg_trigger g
                WHERE g.tgrelid IN (SELECT relid FROM pg_partition_tree(src) UNION SELECT src)
                  AND g.tgname IN ('trace_agg_derived_insert', 'trace_agg_derived_update',
                                   'trace_agg_derived_delete', 'trace_agg_derived_truncate')
            LOOP
                EXECUTE format('DROP TRIGGER %I ON %s', d.tgname, d.rel);
            END LOOP;
        END IF;
    END LOOP;
END
$$;
REVOKE ALL ON FUNCTION trace_agg.guard_drop_derived() FROM PUBLIC;
COMMENT ON FUNCTION trace_agg.guard_drop_derived() IS
    'event trigger: forgets dropped derived views, drops their source''s triggers with the last one, and refuses to drop a table a derived view writes';

CREATE EVENT TRIGGER trace_agg_guard_drop_derived ON sql_drop
    EXECUTE FUNCTION trace_agg.guard_drop_derived();
COMMENT ON EVENT TRIGGER trace_agg_guard_drop_derived IS
    'forgets dropped derived views and protects the tables they write';

-- Partitioned sources: every member of the tree carries the triggers, new
-- and attached partitions get them, attaching or detaching a partition
-- recomputes the source's derived views, and dropping a partition (its rows
-- would go unseen) is refused (src/derived_ddl.c).
CREATE FUNCTION trace_agg.guard_derived_partitions() RETURNS event_trigger
    AS 'MODULE_PATHNAME', 'trace_agg_derived_guard_partitions' LANGUAGE C;
REVOKE ALL ON FUNCTION trace_agg.guard_derived_partitions() FROM PUBLIC;
COMMENT ON FUNCTION trace_agg.guard_derived_partitions() IS
    'event trigger: keeps derived views of partitioned tables exact through partitions created, attached, detached and dropped';

CREATE EVENT TRIGGER trace_agg_derived_partitions_start ON ddl_command_start
    WHEN TAG IN ('ALTER TABLE', 'DROP TABLE')
    EXECUTE FUNCTION trace_agg.guard_derived_partitions();
COMMENT ON EVENT TRIGGER trace_agg_derived_partitions_start IS
    'refuses dropping a partition of a derived view''s source, detaching one concurrently, and attaching a source to another table';
CREATE EVENT TRIGGER trace_agg_derived_partitions_end ON ddl_command_end
    WHEN TAG IN ('CREATE TABLE', 'ALTER TABLE')
    EXECUTE FUNCTION trace_agg.guard_derived_partitions();
COMMENT ON EVENT TRIGGER trace_agg_derived_partitions_end IS
    'gives new and attached partitions of a derived view''s source its triggers, and recomputes its derived views when a partition is attached or detached';

-- Replacing views (issue 13, item 2): a materialized view with a version
-- column keeps, per primary key of its target, the whole row of the
-- greatest version in plain columns (ClickHouse's ReplacingMergeTree).
-- The catalog keeps the number of the view's column holding the version.
-- Same statements as in sql/ext/600_fanout.sql.
ALTER TABLE trace_agg.materialized_view ADD COLUMN version_attnum smallint;
COMMENT ON COLUMN trace_agg.materialized_view.version_attnum IS
    'replacing views: the attnum of the column of view holding the version (the target keeps per key the row of the greatest version); NULL: the view aggregates';
DROP FUNCTION trace_agg.create_materialized_view(text, regclass, text, boolean);
CREATE FUNCTION trace_agg.create_materialized_view(name text, target regclass, query text,
                                                   backfill boolean DEFAULT false,
                                                   version name DEFAULT NULL)
    RETURNS void
    AS 'MODULE_PATHNAME', 'trace_agg_create_materialized_view' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION trace_agg.create_materialized_view(text, regclass, text, boolean, name) IS
    'create a materialized view (a view named name, by default in target''s schema): every INSERT into the query''s source is aggregated by the query and merged into target; backfill merges the rows the source already holds; with version (a target column), the query selects rows and target keeps per primary key the row of the greatest version, the later arrival of equal ones';

-- Per-key retention (issue 13, item 1): a TTL may take a key's interval
-- from a user's table of rules (a project's retention), read when the
-- statements run; the traces setup gets set_traces_retention().  Same
-- statements as sql/ext/600_fanout.sql, 650_ttl.sql and 700_traces.sql.
-- materialized_views gains the per-key rules and, from the section above,
-- the version column of replacing views.
ALTER TABLE trace_agg.ttl ALTER COLUMN ttl DROP NOT NULL,
    ADD COLUMN per_key regclass,
    ADD CONSTRAINT ttl_or_per_key CHECK (ttl IS NOT NULL OR per_key IS NOT NULL);
COMMENT ON TABLE trace_agg.ttl IS
    'retention of target tables: a row expires when its ttl_column, truncated to its UTC date, plus ttl (or its key''s shorter rule in per_key) is at or before now';

CREATE OR REPLACE VIEW trace_agg.materialized_views AS
    SELECT m.view, n.nspname AS schema, c.relname AS view_name, m.source, m.target,
           c.relowner::pg_catalog.regrole AS owner, pg_catalog.pg_get_viewdef(m.view) AS query,
           t.ttl_column, t.ttl, t.reference AS ttl_reference, t.per_key AS ttl_per_key,
           (SELECT a.attname FROM pg_catalog.pg_attribute a
            WHERE a.attrelid OPERATOR(pg_catalog.=) m.view
              AND a.attnum OPERATOR(pg_catalog.=) m.version_attnum) AS version_column
    FROM trace_agg.materialized_view m
    JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) m.view
    JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
    LEFT JOIN trace_agg.ttl t ON t.target OPERATOR(pg_catalog.=) m.target;
COMMENT ON VIEW trace_agg.materialized_views IS 'materialized views with their queries, the TTL of their targets (with the table of per-key rules) and the version column of replacing views';

DROP FUNCTION trace_agg.set_ttl(regclass, name, interval, regclass);
-- Needs ownership of target (the rights of its owner) and SELECT on
-- reference and per_key; checks that they are tables with a timestamptz
-- ttl_column (per_key: columns named like key columns of target, a unique
-- index on them and one interval column).  ttl may be null with per_key.
CREATE FUNCTION trace_agg.set_ttl(target regclass, ttl_column name, ttl interval,
                                  reference regclass DEFAULT NULL, per_key regclass DEFAULT NULL)
    RETURNS void
    AS 'MODULE_PATHNAME', 'trace_agg_set_ttl' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION trace_agg.set_ttl(regclass, name, interval, regclass, regclass) IS
    'keep rows of target while date_trunc(''day'', ttl_column UTC) + ttl is after now; reference, if given, is the table whose ttl_column decides for a key (no ghost rows); per_key, if given, is a table of rules (key columns and an interval) whose interval replaces a longer or null ttl for its keys';

-- Setting a TTL needs only SELECT on its reference or its per-key rules,
-- so their owner must still be able to drop them: the TTL then stays,
-- without the reference, or without the rules (a TTL that had only the
-- rules is removed: no row expires any more).  This trigger fires before
-- trace_agg_guard_drop (event triggers of one event fire in name order),
-- which would otherwise refuse the drop.  A target dropped in the same
-- statement is left to that guard.
-- SECURITY DEFINER: no role may write the TTL catalog, and it changes only
-- rows naming a table the caller has just dropped.
CREATE OR REPLACE FUNCTION trace_agg.detach_dropped_reference() RETURNS event_trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    t record;
BEGIN
    -- A drop that concerns no TTL only reads the catalog.
    IF NOT EXISTS (SELECT FROM trace_agg.ttl x, pg_event_trigger_dropped_objects() o
                   WHERE o.classid = 'pg_class'::regclass AND o.objsubid = 0
                     AND o.objid IN (x.reference, x.per_key)) THEN
        RETURN;
    END IF;
    FOR t IN
        WITH dropped AS (
            SELECT o.objid, o.object_identity FROM pg_event_trigger_dropped_objects() o
            WHERE o.classid = 'pg_class'::regclass AND o.objsubid = 0),
        removed AS (
            DELETE FROM trace_agg.ttl x USING dropped d
            WHERE x.per_key = d.objid AND x.ttl IS NULL AND x.target NOT IN (SELECT objid FROM dropped)
            RETURNING x.target, format('table %s is no longer the per-key rules of the TTL of table %s, which is removed',
                                       d.object_identity, x.target) AS message),
        detached AS (
            UPDATE trace_agg.ttl x
            SET reference = CASE WHEN x.reference IN (SELECT objid FROM dropped) THEN NULL ELSE x.reference END,
                per_key = CASE WHEN x.per_key IN (SELECT objid FROM dropped) THEN NULL ELSE x.per_key END
            FROM trace_agg.ttl o
            WHERE o.target = x.target
              AND (x.reference IN (SELECT objid FROM dropped) OR x.per_key IN (SELECT objid FROM dropped))
              AND x.target NOT IN (SELECT objid FROM dropped)
              AND x.target NOT IN (SELECT target FROM removed)
            RETURNING x.target, concat_ws('; ',
                (SELECT format('table %s is no longer the reference of the TTL of table %s', d.object_identity, x.target)
                 FROM dropped d WHERE d.objid = o.reference),
                (SELECT format('table %s is no longer the per-key rules of the TTL of table %s', d.object_identity, x.target)
                 FROM dropped d WHERE d.objid = o.per_key)) AS message)
        SELECT * FROM removed UNION ALL SELECT * FROM detached ORDER BY message
    LOOP
        RAISE NOTICE '%', t.message;
        -- A view reading a dropped table makes the drop guard refuse it.
        IF NOT EXISTS (SELECT FROM trace_agg.materialized_view m, pg_event_trigger_dropped_objects() o
                       WHERE m.target = t.target AND o.classid = 'pg_class'::regclass
                         AND o.objid = m.source) THEN
            PERFORM trace_agg.rebuild_materialized_views(t.target);
        END IF;
    END LOOP;
END
$$;
COMMENT ON FUNCTION trace_agg.detach_dropped_reference() IS
    'event trigger: a dropped table stops being the reference or the per-key rules of the TTLs naming it';
-- Only the event trigger runs it (Postgres checks no right when it does).
REVOKE EXECUTE ON FUNCTION trace_agg.detach_dropped_reference() FROM PUBLIC;

COMMENT ON EVENT TRIGGER trace_agg_detach_reference IS
    'a dropped table stops being the reference or the per-key rules of the TTLs naming it';

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

-- Observations setup (issue 14): traces and sessions derived from versioned
-- observations, sharing the traces target with the trace-level events.
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

-- Security review of 2026-12-07
-- Creations of views serialize on a lock of their own (src/fanout_catalog.c)
-- instead of locking the catalogs, and the drop event triggers write the
-- catalogs only when the drop concerns a view or a TTL: an open transaction
-- that created a view no longer makes every DROP in the database wait.
-- (detach_dropped_reference's check is in its definition of the per-key
-- retention section above.)
CREATE OR REPLACE FUNCTION trace_agg.guard_drop() RETURNS event_trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    d record;
    src regclass;
    dropped oid[] := ARRAY(SELECT o.objid FROM pg_event_trigger_dropped_objects() o
                           WHERE o.classid = 'pg_class'::regclass AND o.objsubid = 0);
BEGIN
    FOR d IN
        SELECT m.target::oid AS table_oid, m.view::oid AS view
        FROM trace_agg.materialized_view m
        WHERE m.target = ANY (dropped) AND NOT m.view = ANY (dropped)
          AND EXISTS (SELECT FROM pg_class c WHERE c.oid = m.view)
        LIMIT 1
    LOOP
        RAISE EXCEPTION 'cannot drop table % because trace_agg uses it',
                        (SELECT o.object_identity FROM pg_event_trigger_dropped_objects() o
                         WHERE o.objid = d.table_oid AND o.classid = 'pg_class'::regclass AND o.objsubid = 0)
            USING ERRCODE = 'dependent_objects_still_exist',
                  DETAIL = format('Materialized view %s writes it.', d.view::regclass),
                  HINT = 'Drop the materialized view with trace_agg.drop_materialized_view() first, or drop the table with CASCADE.';
    END LOOP;

    -- Only a drop that concerns a view or a TTL writes the catalogs: any
    -- other only reads them, and never waits for a transaction that
    -- created a view and is still open.
    IF EXISTS (SELECT FROM trace_agg.materialized_view m
               WHERE m.view = ANY (dropped) OR NOT EXISTS (SELECT FROM pg_class c WHERE c.oid = m.view)) THEN
        FOR src IN
            DELETE FROM trace_agg.materialized_view m
            WHERE m.view = ANY (dropped) OR NOT EXISTS (SELECT FROM pg_class c WHERE c.oid = m.view)
            RETURNING m.source
        LOOP
            IF NOT src = ANY (dropped)
               AND NOT EXISTS (SELECT FROM trace_agg.materialized_view m WHERE m.source = src)
               AND EXISTS (SELECT FROM pg_trigger g WHERE g.tgrelid = src AND g.tgname = 'trace_agg_fanout') THEN
                EXECUTE format('DROP TRIGGER trace_agg_fanout ON %s', src);
            END IF;
        END LOOP;
    END IF;
    IF EXISTS (SELECT FROM trace_agg.ttl t WHERE t.target = ANY (dropped)) THEN
        DELETE FROM trace_agg.ttl t WHERE t.target = ANY (dropped);
    END IF;
    -- A dropped source's tombstones and insert tokens go with it: a table
    -- that later gets its OID must not inherit them.
    IF EXISTS (SELECT FROM trace_agg.tombstone z WHERE z.source = ANY (dropped)) THEN
        DELETE FROM trace_agg.tombstone z WHERE z.source = ANY (dropped);
    END IF;
    IF EXISTS (SELECT FROM trace_agg.insert_token k WHERE k.source = ANY (dropped)) THEN
        DELETE FROM trace_agg.insert_token k WHERE k.source = ANY (dropped);
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION trace_agg.guard_drop_derived() RETURNS event_trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    d record;
    src regclass;
    dropped oid[] := ARRAY(SELECT o.objid FROM pg_event_trigger_dropped_objects() o
                           WHERE o.classid = 'pg_class'::regclass AND o.objsubid = 0);
BEGIN
    FOR d IN
        SELECT v.target::oid AS table_oid, v.view::oid AS view
        FROM trace_agg.derived_view v
        WHERE v.target = ANY (dropped) AND NOT v.view = ANY (dropped)
          AND EXISTS (SELECT FROM pg_class c WHERE c.oid = v.view)
        LIMIT 1
    LOOP
        RAISE EXCEPTION 'cannot drop table % because trace_agg uses it',
                        (SELECT o.object_identity FROM pg_event_trigger_dropped_objects() o
                         WHERE o.objid = d.table_oid AND o.classid = 'pg_class'::regclass AND o.objsubid = 0)
            USING ERRCODE = 'dependent_objects_still_exist',
                  DETAIL = format('Derived view %s writes it.', d.view::regclass),
                  HINT = 'Drop the derived view with trace_agg.drop_derived_view() first, or drop the table with CASCADE.';
    END LOOP;

    -- A drop that concerns no derived view only reads the catalog: it
    -- must not wait for a transaction that created a view and is still open.
    IF NOT EXISTS (SELECT FROM trace_agg.derived_view v
                   WHERE v.view = ANY (dropped) OR NOT EXISTS (SELECT FROM pg_class c WHERE c.oid = v.view)) THEN
        RETURN;
    END IF;
    FOR src IN
        DELETE FROM trace_agg.derived_view v
        WHERE v.view = ANY (dropped) OR NOT EXISTS (SELECT FROM pg_class c WHERE c.oid = v.view)
        RETURNING v.source
    LOOP
        IF NOT src = ANY (dropped)
           AND NOT EXISTS (SELECT FROM trace_agg.derived_view v WHERE v.source = src) THEN
            FOR d IN
                SELECT g.tgname, g.tgrelid::regclass AS rel
                FROM pg_trigger g
                WHERE g.tgrelid IN (SELECT relid FROM pg_partition_tree(src) UNION SELECT src)
                  AND g.tgname IN ('trace_agg_derived_insert', 'trace_agg_derived_update',
                                   'trace_agg_derived_delete', 'trace_agg_derived_truncate')
            LOOP
                EXECUTE format('DROP TRIGGER %I ON %s', d.tgname, d.rel);
            END LOOP;
        END IF;
    END LOOP;
END
$$;

-- The lock statement of a derived view now returns its keys' hashes, whose
-- locks maintenance takes in C on tags SQL cannot take; the function checks
-- the caller's rights before opening anything.
COMMENT ON FUNCTION trace_agg.derived_view_statements(regclass) IS
    'the statements that maintain the derived views of source, in order, each as its view''s owner: the hashes of the keys a statement touched, whose locks maintenance takes in that order (keys as one array per key column, of key_types, as $1 ...), their recomputation, and the recomputation of every key; for roles with SELECT on source or owning one of its derived views';

-- Delta mode of derived views (issue 14): create_derived_view's mode, the
-- catalog's mode column and derived_view_statements' delta statements are
-- defined in place in the derived views section above; the description of
-- derived_view_statements, last set by the security review, says what it
-- shows for a view in delta mode.
COMMENT ON FUNCTION trace_agg.derived_view_statements(regclass) IS
    'the statements that maintain the derived views of source, in order, each as its view''s owner: the hashes of the keys a statement touched, whose locks maintenance takes in that order (keys as one array per key column, of key_types, as $1 ...), their recomputation, and the recomputation of every key; in delta mode no lock, the statement gathering a firing''s changes (delta_statement), the one adding them (statement, after the keys one numeric[] per count or sum and two jsonb[] per sum_map) and the one deleting rows whose count fell to 0 and subtracting what old rows took from sum_maps (cleanup_statement); for roles with SELECT on source or owning one of its derived views';

-- sum_map_subtract: what a stored sum becomes when rows leave it (the
-- delta mode of sum_map outputs).  Same statements as in sql/ext/210_sum_map.sql.
CREATE FUNCTION trace_agg.sum_map_subtract(trace_agg.uint64_map, trace_agg.uint64_map)
RETURNS trace_agg.uint64_map
AS 'MODULE_PATHNAME', 'sum_map_subtract_uint64'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION trace_agg.sum_map_subtract(trace_agg.uint64_map, trace_agg.uint64_map) IS
	'per-key difference a - b of two maps, zero totals kept (a negative total is an error), e.g. a stored sum_map result less the sum of rows that left it';

CREATE FUNCTION trace_agg.sum_map_subtract(trace_agg.decimal_map, trace_agg.decimal_map)
RETURNS trace_agg.decimal_map
AS 'MODULE_PATHNAME', 'sum_map_subtract_decimal'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION trace_agg.sum_map_subtract(trace_agg.decimal_map, trace_agg.decimal_map) IS
	'per-key difference a - b of two maps, zero totals kept, e.g. a stored sum_map result less the sum of rows that left it';
