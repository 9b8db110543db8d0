
-- Materialized views: the fan-out engine (src/fanout_*.c).

-- A materialized view is a Postgres view (its query, name, schema and
-- owner) plus this row naming it, its source and its target by OID, and,
-- for a replacing view, the number of the view's column holding the
-- version (a view's columns keep their numbers through renames and
-- pg_dump, a table's do not).
CREATE TABLE trace_agg.materialized_view (
    view   regclass PRIMARY KEY,
    source regclass NOT NULL,
    target regclass NOT NULL,
    version_attnum smallint
);
COMMENT ON TABLE trace_agg.materialized_view IS
    'materialized views: every INSERT into source is aggregated by the query of view and merged into target';
-- Definitions are user data: pg_dump keeps them.
COMMENT ON COLUMN trace_agg.materialized_view.version_attnum IS
    'replacing views: the attnum of the column of view holding the version (the target keeps per key the row of the greatest version); NULL: the view aggregates';
SELECT pg_catalog.pg_extension_config_dump('trace_agg.materialized_view', '');

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

-- ttl is null when only per_key's rules expire rows (keys without a rule
-- are kept).
CREATE TABLE trace_agg.ttl (
    target     regclass PRIMARY KEY,
    ttl_column name NOT NULL,
    ttl        interval,
    reference  regclass,
    per_key    regclass,
    CONSTRAINT ttl_or_per_key CHECK (ttl IS NOT NULL OR per_key IS NOT NULL)
);
COMMENT ON TABLE trace_agg.ttl IS
    'retention of target tables: a row expires when its ttl_column, truncated to its UTC date, plus ttl (or its key''s shorter rule in per_key) is at or before now';
SELECT pg_catalog.pg_extension_config_dump('trace_agg.ttl', '');

-- Everyone may use the extension's types and functions and read the
-- definitions (as pg_views shows every view); only the extension's
-- functions write the catalog.
GRANT USAGE ON SCHEMA trace_agg TO PUBLIC;
REVOKE ALL ON trace_agg.materialized_view, trace_agg.ttl FROM PUBLIC;
GRANT SELECT ON trace_agg.materialized_view, trace_agg.ttl TO PUBLIC;

-- No role writes the TTL catalog: a row decides what the purge deletes and
-- which table every merge into the target reads, so set_ttl() and
-- remove_ttl() check the caller's rights and write it as its owner.  Every
-- role reads the TTLs of the tables it owns here (all of them through
-- materialized_views).
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
COMMENT ON TABLE trace_agg.insert_token IS
    'insert tokens already applied to a source (trace_agg.insert_token), kept for trace_agg.insert_token_window';

-- The statement trigger of every source.  Executable by PUBLIC, as trigger
-- functions are: it only runs the views defined on the table it fires for,
-- and only their owners could define them.
CREATE FUNCTION trace_agg.fanout() RETURNS trigger
    AS 'MODULE_PATHNAME', 'trace_agg_fanout' LANGUAGE C;
COMMENT ON FUNCTION trace_agg.fanout() IS
    'statement trigger of a materialized view source: merges the inserted rows into every target';

CREATE FUNCTION trace_agg.create_materialized_view(name text, target regclass, query text,
                                                   backfill boolean DEFAULT false,
                                                   version name DEFAULT NULL)
    RETURNS void
    AS 'MODULE_PATHNAME', 'trace_agg_create_materialized_view' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION trace_agg.create_materialized_view(text, regclass, text, boolean, name) IS
    'create a materialized view (a view named name, by default in target''s schema): every INSERT into the query''s source is aggregated by the query and merged into target; backfill merges the rows the source already holds; with version (a target column), the query selects rows and target keeps per primary key the row of the greatest version, the later arrival of equal ones';

-- Internal: set_ttl and remove_ttl call it to have the statements that
-- involve a target generated again.
CREATE FUNCTION trace_agg.rebuild_materialized_views(target regclass)
    RETURNS void
    AS 'MODULE_PATHNAME', 'trace_agg_rebuild_materialized_views' LANGUAGE C VOLATILE STRICT;
REVOKE ALL ON FUNCTION trace_agg.rebuild_materialized_views(regclass) FROM PUBLIC;
COMMENT ON FUNCTION trace_agg.rebuild_materialized_views(regclass) IS
    'internal: regenerate the statements of the materialized views involving target at their next use';

CREATE FUNCTION trace_agg.drop_materialized_view(name text, if_exists boolean DEFAULT false)
    RETURNS void
    AS 'MODULE_PATHNAME', 'trace_agg_drop_materialized_view' LANGUAGE C VOLATILE STRICT;
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
           t.ttl_column, t.ttl, t.reference AS ttl_reference, t.per_key AS ttl_per_key,
           (SELECT a.attname FROM pg_catalog.pg_attribute a
            WHERE a.attrelid OPERATOR(pg_catalog.=) m.view
              AND a.attnum OPERATOR(pg_catalog.=) m.version_attnum) AS version_column
    FROM trace_agg.materialized_view m
    JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) m.view
    JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
    LEFT JOIN trace_agg.ttl t ON t.target OPERATOR(pg_catalog.=) m.target;
GRANT SELECT ON trace_agg.materialized_views TO PUBLIC;
COMMENT ON VIEW trace_agg.materialized_views IS 'materialized views with their queries, the TTL of their targets (with the table of per-key rules) and the version column of replacing views';

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
CREATE FUNCTION trace_agg.guard_drop() RETURNS event_trigger
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
REVOKE ALL ON FUNCTION trace_agg.guard_drop() FROM PUBLIC;
COMMENT ON FUNCTION trace_agg.guard_drop() IS
    'event trigger: forgets dropped materialized views, the TTLs of dropped targets, and the tombstones and insert tokens of dropped sources; refuses to drop a table a view writes';

CREATE EVENT TRIGGER trace_agg_guard_drop ON sql_drop
    EXECUTE FUNCTION trace_agg.guard_drop();
COMMENT ON EVENT TRIGGER trace_agg_guard_drop IS
    'forgets dropped materialized views and protects the tables they write';

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
