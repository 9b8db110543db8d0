
-- Derived views (src/derived_*.c): views over stored tables that change,
-- kept exact by recomputing the keys each writing statement affects.

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
    'the statements that maintain the derived views of source, in order, each as its view''s owner: the hashes of the keys a statement touched, whose locks maintenance takes in that order (keys as one array per key column, of key_types, as $1 ...), their recomputation, and the recomputation of every key; in delta mode no lock, the statement gathering a firing''s changes (delta_statement), the one adding them (statement, after the keys one numeric[] per count or sum and two jsonb[] per sum_map) and the one deleting rows whose count fell to 0 and subtracting what old rows took from sum_maps (cleanup_statement); for roles with SELECT on source or owning one of its derived views';

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
