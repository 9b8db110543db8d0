
-- Materialized views: the fan-out engine (src/fanout_*.c).

CREATE TABLE trace_agg.materialized_view (
    view_name text PRIMARY KEY,
    source    regclass NOT NULL,
    target    regclass NOT NULL,
    query     text NOT NULL,
    owner     regrole NOT NULL,
    merge_sql text NOT NULL
);
COMMENT ON TABLE trace_agg.materialized_view IS
    'materialized views: each INSERT into source is aggregated by query and merged into target by merge_sql';
-- Definitions are user data: pg_dump keeps them.
SELECT pg_catalog.pg_extension_config_dump('trace_agg.materialized_view', '');

CREATE TABLE trace_agg.ttl (
    target     regclass PRIMARY KEY,
    ttl_column name NOT NULL,
    ttl        interval NOT NULL,
    reference  regclass
);
COMMENT ON TABLE trace_agg.ttl IS
    'retention of target tables: a row expires when its ttl_column, truncated to its UTC date, plus ttl is at or before now';
SELECT pg_catalog.pg_extension_config_dump('trace_agg.ttl', '');

-- Everyone may use the extension's types and functions and read the
-- definitions (as pg_views shows every view); only the extension's
-- functions write the catalog.
GRANT USAGE ON SCHEMA trace_agg TO PUBLIC;
REVOKE ALL ON trace_agg.materialized_view, trace_agg.ttl FROM PUBLIC;
GRANT SELECT ON trace_agg.materialized_view, trace_agg.ttl TO PUBLIC;

-- A TTL holds no code, so a role may set one on any table it owns.
GRANT INSERT, UPDATE, DELETE ON trace_agg.ttl TO PUBLIC;
ALTER TABLE trace_agg.ttl ENABLE ROW LEVEL SECURITY;
CREATE POLICY ttl_of_own_tables ON trace_agg.ttl
    USING (pg_catalog.pg_has_role(CURRENT_USER,
           (SELECT c.relowner FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) target), 'USAGE'));

-- Insert tokens already applied (trace_agg.insert_token), kept for
-- trace_agg.insert_token_window and removed by purge_expired().
CREATE TABLE trace_agg.insert_token (
    source     regclass NOT NULL,
    token      text NOT NULL,
    applied_at timestamptz NOT NULL,
    PRIMARY KEY (source, token)
);
REVOKE ALL ON trace_agg.insert_token FROM PUBLIC;

CREATE FUNCTION trace_agg.fanout() RETURNS trigger
    AS 'MODULE_PATHNAME', 'trace_agg_fanout' LANGUAGE C;

CREATE FUNCTION trace_agg.create_materialized_view(name text, target regclass, query text)
    RETURNS void
    AS 'MODULE_PATHNAME', 'trace_agg_create_materialized_view' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION trace_agg.create_materialized_view(text, regclass, text) IS
    'create a materialized view: every INSERT into the query''s source is aggregated by the query and merged into target';

CREATE FUNCTION trace_agg.rebuild_materialized_views(target regclass)
    RETURNS void
    AS 'MODULE_PATHNAME', 'trace_agg_rebuild_materialized_views' LANGUAGE C VOLATILE STRICT;

CREATE FUNCTION trace_agg.drop_materialized_view(name text, if_exists boolean DEFAULT false)
    RETURNS void
    AS 'MODULE_PATHNAME', 'trace_agg_drop_materialized_view' LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION trace_agg.drop_materialized_view(text, boolean) IS
    'drop a materialized view; its source and target tables stay';

CREATE VIEW trace_agg.materialized_views AS
    SELECT m.view_name, m.source, m.target, m.owner, m.query,
           t.ttl_column, t.ttl, t.reference AS ttl_reference
    FROM trace_agg.materialized_view m
    LEFT JOIN trace_agg.ttl t ON t.target = m.target;
GRANT SELECT ON trace_agg.materialized_views TO PUBLIC;
COMMENT ON VIEW trace_agg.materialized_views IS 'materialized views with their queries and the TTL of their targets';

-- A source or target with views attached cannot be dropped, not even with
-- CASCADE: drop the views first.  An event trigger sees every way of
-- dropping a table (DROP TABLE, DROP SCHEMA ... CASCADE, DROP OWNED).
-- SECURITY DEFINER: after a drop, the TTL rows of the dropped tables must go
-- although the dropped table's owner can no longer be looked up by the
-- row-level policy; it deletes only rows of tables that were just dropped.
CREATE FUNCTION trace_agg.guard_drop() RETURNS event_trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    d record;
BEGIN
    FOR d IN
        SELECT o.object_identity, m.view_name
        FROM pg_event_trigger_dropped_objects() o
        JOIN trace_agg.materialized_view m ON o.objid IN (m.source, m.target)
        WHERE o.classid = 'pg_class'::regclass AND o.objsubid = 0
        UNION ALL
        SELECT o.object_identity, NULL
        FROM pg_event_trigger_dropped_objects() o
        JOIN trace_agg.ttl t ON o.objid = t.reference
        WHERE o.classid = 'pg_class'::regclass AND o.objsubid = 0
        LIMIT 1
    LOOP
        RAISE EXCEPTION 'cannot drop table % because trace_agg uses it', d.object_identity
            USING ERRCODE = 'dependent_objects_still_exist',
                  DETAIL = coalesce(format('Materialized view "%s" reads or writes it.', d.view_name),
                                    'It is the reference of a TTL.'),
                  HINT = 'Drop the materialized view with trace_agg.drop_materialized_view() first.';
    END LOOP;
    DELETE FROM trace_agg.ttl t
    WHERE t.target IN (SELECT o.objid FROM pg_event_trigger_dropped_objects() o
                       WHERE o.classid = 'pg_class'::regclass AND o.objsubid = 0);
END
$$;

CREATE EVENT TRIGGER trace_agg_guard_drop ON sql_drop
    EXECUTE FUNCTION trace_agg.guard_drop();
