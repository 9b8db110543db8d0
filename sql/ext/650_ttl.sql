
-- Retention (TTL) of target tables (src/ttl_worker.c runs the purge).

-- The first instant a row is alive at: rows whose TTL column lies before it
-- have expired, because their UTC date plus the TTL is at or before now.
CREATE FUNCTION trace_agg.ttl_cutoff(ttl interval) RETURNS timestamptz
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    RETURN (date_trunc('day', (now() AT TIME ZONE 'UTC') - ttl) + interval '1 day') AT TIME ZONE 'UTC';

CREATE FUNCTION trace_agg.start_ttl_worker() RETURNS boolean
    AS 'MODULE_PATHNAME', 'trace_agg_start_ttl_worker' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION trace_agg.start_ttl_worker() IS
    'start this database''s TTL worker, when the transaction commits, unless it runs; true if a start was asked for';

CREATE FUNCTION trace_agg.set_ttl(target regclass, ttl_column name, ttl interval,
                                  reference regclass DEFAULT NULL)
    RETURNS void
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    coltype regtype;
BEGIN
    SELECT a.atttypid INTO coltype FROM pg_attribute a
    WHERE a.attrelid = target AND a.attname = ttl_column AND a.attnum > 0 AND NOT a.attisdropped;
    IF coltype IS NULL THEN
        RAISE EXCEPTION 'column "%" of table % does not exist', ttl_column, target
            USING ERRCODE = 'undefined_column';
    END IF;
    IF coltype <> 'timestamptz'::regtype THEN
        RAISE EXCEPTION 'TTL column "%" of table % is of type %, not timestamptz', ttl_column, target, coltype
            USING ERRCODE = 'datatype_mismatch';
    END IF;
    IF ttl IS NULL OR ttl <= interval '0' THEN
        RAISE EXCEPTION 'TTL of table % must be a positive interval, not %', target, ttl
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF reference IS NOT NULL AND NOT EXISTS (
        SELECT FROM pg_attribute a
        WHERE a.attrelid = reference AND a.attname = ttl_column AND a.attnum > 0 AND NOT a.attisdropped) THEN
        RAISE EXCEPTION 'reference table % of the TTL has no column "%"', reference, ttl_column
            USING ERRCODE = 'undefined_column';
    END IF;
    IF NOT pg_has_role(current_user, (SELECT c.relowner FROM pg_class c WHERE c.oid = target), 'USAGE') THEN
        RAISE EXCEPTION 'must be owner of table % to set its TTL', target
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    INSERT INTO trace_agg.ttl AS t VALUES (target, ttl_column, ttl, reference)
    ON CONFLICT ON CONSTRAINT ttl_pkey DO UPDATE
        SET ttl_column = excluded.ttl_column, ttl = excluded.ttl, reference = excluded.reference;
    PERFORM trace_agg.rebuild_materialized_views(target);
    PERFORM trace_agg.start_ttl_worker();
END
$$;
COMMENT ON FUNCTION trace_agg.set_ttl(regclass, name, interval, regclass) IS
    'keep rows of target while date_trunc(''day'', ttl_column UTC) + ttl is after now; reference, if given, is the table whose ttl_column decides for a key (no ghost rows)';

CREATE FUNCTION trace_agg.remove_ttl(target regclass) RETURNS void
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NOT pg_has_role(current_user, (SELECT c.relowner FROM pg_class c WHERE c.oid = target), 'USAGE') THEN
        RAISE EXCEPTION 'must be owner of table % to remove its TTL', target
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    DELETE FROM trace_agg.ttl t WHERE t.target = remove_ttl.target;
    PERFORM trace_agg.rebuild_materialized_views(target);
END
$$;

-- Delete up to batch_size expired rows of one target, skipping rows that
-- ingesting transactions hold.  Returns the number deleted.
CREATE FUNCTION trace_agg.purge_expired_batch(target regclass, batch_size integer DEFAULT 5000)
    RETURNS bigint
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    t trace_agg.ttl;
    n bigint;
BEGIN
    SELECT * INTO t FROM trace_agg.ttl x WHERE x.target = purge_expired_batch.target;
    IF NOT FOUND THEN
        RETURN 0;
    END IF;
    EXECUTE format('DELETE FROM %1$s WHERE ctid = ANY (ARRAY(SELECT ctid FROM %1$s '
                   'WHERE %2$I < trace_agg.ttl_cutoff($1) LIMIT $2 FOR UPDATE SKIP LOCKED))',
                   t.target, t.ttl_column)
        USING t.ttl, batch_size;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$$;

-- Forget insert tokens older than trace_agg.insert_token_window; returns
-- how many are left.  SECURITY DEFINER: the token table is the extension's
-- alone, and this only removes what has expired.
CREATE FUNCTION trace_agg.purge_insert_tokens() RETURNS bigint
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    DELETE FROM trace_agg.insert_token
    WHERE applied_at <= now() - make_interval(secs => (SELECT setting::integer FROM pg_settings
                                                        WHERE name = 'trace_agg.insert_token_window'));
    RETURN (SELECT count(*) FROM trace_agg.insert_token);
END
$$;

CREATE FUNCTION trace_agg.purge_expired() RETURNS bigint
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    t regclass;
    n bigint;
    total bigint := 0;
BEGIN
    PERFORM trace_agg.purge_insert_tokens();
    FOR t IN SELECT x.target FROM trace_agg.ttl x ORDER BY x.target LOOP
        LOOP
            n := trace_agg.purge_expired_batch(t, 5000);
            total := total + n;
            EXIT WHEN n < 5000;
        END LOOP;
    END LOOP;
    RETURN total;
END
$$;
COMMENT ON FUNCTION trace_agg.purge_expired() IS
    'delete every expired row of every TTL target now; returns the number of rows deleted';
