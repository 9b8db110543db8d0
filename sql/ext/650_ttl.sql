
-- Retention (TTL) of target tables: src/ttl_catalog.c writes the catalog,
-- src/ttl_purge.c deletes expired rows as each target's owner and
-- src/ttl_worker.c runs the purge in the background.

-- The first instant a row is alive at: rows whose TTL column lies before it
-- have expired, because their UTC date plus the TTL is at or before now.
CREATE FUNCTION trace_agg.ttl_cutoff(ttl interval) RETURNS timestamptz
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    RETURN (date_trunc('day', (now() AT TIME ZONE 'UTC') - ttl) + interval '1 day') AT TIME ZONE 'UTC';
COMMENT ON FUNCTION trace_agg.ttl_cutoff(interval) IS
    'the oldest value of a TTL column still alive under ttl: rows before it have expired';

-- Internal: set_ttl() and the fan-out start the worker by themselves.  A
-- superuser may call it, e.g. after a restart, for TTL targets that no
-- insert reaches.
CREATE FUNCTION trace_agg.start_ttl_worker() RETURNS boolean
    AS 'MODULE_PATHNAME', 'trace_agg_start_ttl_worker' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION trace_agg.start_ttl_worker() IS
    'start this database''s TTL worker, when the transaction commits, unless it runs; true if a start was asked for';
REVOKE EXECUTE ON FUNCTION trace_agg.start_ttl_worker() FROM PUBLIC;

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

CREATE FUNCTION trace_agg.remove_ttl(target regclass) RETURNS void
    AS 'MODULE_PATHNAME', 'trace_agg_remove_ttl' LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION trace_agg.remove_ttl(regclass) IS
    'stop expiring the rows of target (its owner only)';

-- Internal: one batch of the purge, as the target's owner; the caller must
-- have the rights of that owner all the same.
CREATE FUNCTION trace_agg.purge_expired_batch(target regclass, batch_size integer DEFAULT 5000)
    RETURNS bigint
    AS 'MODULE_PATHNAME', 'trace_agg_purge_expired_batch' LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION trace_agg.purge_expired_batch(regclass, integer) IS
    'delete up to batch_size expired rows of target, as its owner, skipping rows other transactions hold; returns how many';
REVOKE EXECUTE ON FUNCTION trace_agg.purge_expired_batch(regclass, integer) FROM PUBLIC;

-- Internal: forget insert tokens older than trace_agg.insert_token_window
-- and tombstones older than trace_agg.tombstone_window; returns how many of
-- either are left (the worker keeps coming back while any is).  The worker
-- and purge_expired() call it as the extension's owner.
CREATE FUNCTION trace_agg.purge_insert_tokens() RETURNS bigint
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
CREATE FUNCTION trace_agg.purge_expired() RETURNS bigint
    AS 'MODULE_PATHNAME', 'trace_agg_purge_expired' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION trace_agg.purge_expired() IS
    'delete every expired row of the TTL targets the caller owns (all for a superuser) now; returns the number of rows deleted';

-- Setting a TTL needs only SELECT on its reference or its per-key rules,
-- so their owner must still be able to drop them: the TTL then stays,
-- without the reference, or without the rules (a TTL that had only the
-- rules is removed: no row expires any more).  This trigger fires before
-- trace_agg_guard_drop (event triggers of one event fire in name order),
-- which would otherwise refuse the drop.  A target dropped in the same
-- statement is left to that guard.
-- SECURITY DEFINER: no role may write the TTL catalog, and it changes only
-- rows naming a table the caller has just dropped.
CREATE FUNCTION trace_agg.detach_dropped_reference() RETURNS event_trigger
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

CREATE EVENT TRIGGER trace_agg_detach_reference ON sql_drop
    EXECUTE FUNCTION trace_agg.detach_dropped_reference();
COMMENT ON EVENT TRIGGER trace_agg_detach_reference IS
    'a dropped table stops being the reference or the per-key rules of the TTLs naming it';
