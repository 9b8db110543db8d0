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

-- Whether an entry is a well-formed lww_map operation.
CREATE FUNCTION trace_agg.lww_map_is_valid(m jsonb) RETURNS boolean
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
SELECT jsonb_typeof(m) = 'object' AND NOT EXISTS (
    SELECT FROM jsonb_each(m) AS x(k, e)
    WHERE NOT (jsonb_typeof(e) = 'object'
               AND jsonb_typeof(e -> 't') = 'number'
               AND ((e - 't') = '{}' OR (e - 't') = '{"d": true}'
                    OR ((e - 't') ? 'v' AND (e - 't' - 'v') = '{}'))))
$$;
COMMENT ON FUNCTION trace_agg.lww_map_is_valid(jsonb) IS
    'whether a jsonb object is a last-writer-wins map: every entry {"t": number} plus "v": value or "d": true';

CREATE DOMAIN trace_agg.lww_map AS jsonb
    CONSTRAINT lww_map_entries CHECK (trace_agg.lww_map_is_valid(VALUE));
COMMENT ON DOMAIN trace_agg.lww_map IS
    'last-writer-wins map: element -> {"t": event time in microseconds, "v": value} or {"t": ..., "d": true} when removed';

-- Whether operation e replaces operation cur (NULL: none yet).
CREATE FUNCTION trace_agg.lww_beats(e jsonb, cur jsonb) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
SELECT cur IS NULL OR COALESCE(
    ROW((e ->> 't')::numeric, e ? 'd', e -> 'v') > ROW((cur ->> 't')::numeric, cur ? 'd', cur -> 'v'),
    false)
$$;
COMMENT ON FUNCTION trace_agg.lww_beats(jsonb, jsonb) IS
    'whether a lww_map operation replaces another: later event time, then removal, then greater value in jsonb order';

-- lww_merge(a, b): per element the winning operation; returns a itself when
-- b changes nothing, NULL on one side gives the other.
CREATE FUNCTION trace_agg.lww_merge(a trace_agg.lww_map, b trace_agg.lww_map)
    RETURNS trace_agg.lww_map
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
SELECT CASE WHEN a IS NULL THEN b WHEN b IS NULL THEN a
    ELSE COALESCE(a::jsonb || (SELECT jsonb_object_agg(k, e) FROM jsonb_each(b) AS n(k, e)
                               WHERE trace_agg.lww_beats(e, a -> k)),
                  a::jsonb)::trace_agg.lww_map END
$$;
COMMENT ON FUNCTION trace_agg.lww_merge(trace_agg.lww_map, trace_agg.lww_map) IS
    'merges two last-writer-wins maps: per element the latest operation (ties: removal, then greater value); returns the first when the second changes nothing';

-- The microseconds since 1970 UTC of an event time; infinite times are
-- refused (they would win over every correction for ever).
CREATE FUNCTION trace_agg.lww_time(ts timestamptz) RETURNS bigint
    LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF isfinite(ts) THEN
        RETURN (extract(epoch FROM ts) * 1000000)::bigint;
    END IF;
    RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
        MESSAGE = format('event time %s of a correction is not finite', ts),
        HINT = 'Give every tag and metadata operation the time of its event.';
END
$$;
COMMENT ON FUNCTION trace_agg.lww_time(timestamptz) IS
    'event time of a lww_map operation: microseconds since 1970 UTC; infinity refused';

-- Transition of tag_set_state and tags: one event adding and removing tags
-- at ts (a tag in both is removed).  A NULL ts or NULL elements are skipped.
CREATE FUNCTION trace_agg.lww_tags_transfn(s trace_agg.lww_map, added text[], removed text[],
                                           ts timestamptz)
    RETURNS trace_agg.lww_map
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
SELECT CASE WHEN ts IS NULL THEN s ELSE trace_agg.lww_merge(s, (
    SELECT jsonb_object_agg(tag, op ORDER BY removal)
    FROM (SELECT tag, false AS removal, jsonb_build_object('t', trace_agg.lww_time(ts)) AS op
            FROM unnest(added) AS tag WHERE tag IS NOT NULL
          UNION ALL
          SELECT tag, true, jsonb_build_object('t', trace_agg.lww_time(ts), 'd', true)
            FROM unnest(removed) AS tag WHERE tag IS NOT NULL) AS ops)::trace_agg.lww_map) END
$$;
COMMENT ON FUNCTION trace_agg.lww_tags_transfn(trace_agg.lww_map, text[], text[], timestamptz) IS
    'transition function of tag_set_state and tags: merges one event''s added and removed tags';

-- Transition of metadata_state and metadata: one event setting the keys of
-- an object and removing others at ts (a key in both is removed).
CREATE FUNCTION trace_agg.lww_metadata_transfn(s trace_agg.lww_map, kv jsonb, removed text[],
                                               ts timestamptz)
    RETURNS trace_agg.lww_map
    LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF ts IS NULL THEN
        RETURN s;
    END IF;
    IF kv IS NOT NULL AND jsonb_typeof(kv) <> 'object' THEN
        RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
            MESSAGE = format('metadata to set must be a JSON object, not %s', jsonb_typeof(kv));
    END IF;
    RETURN trace_agg.lww_merge(s, (
        SELECT jsonb_object_agg(k, op ORDER BY removal)
        FROM (SELECT k, false AS removal, jsonb_build_object('t', trace_agg.lww_time(ts), 'v', v) AS op
                FROM jsonb_each(kv) AS x(k, v)
              UNION ALL
              SELECT k, true, jsonb_build_object('t', trace_agg.lww_time(ts), 'd', true)
                FROM unnest(removed) AS k WHERE k IS NOT NULL) AS ops)::trace_agg.lww_map);
END
$$;
COMMENT ON FUNCTION trace_agg.lww_metadata_transfn(trace_agg.lww_map, jsonb, text[], timestamptz) IS
    'transition function of metadata_state and metadata: merges one event''s set and removed keys';

-- The live elements of a map, sorted bytewise: the tags.
CREATE FUNCTION trace_agg.lww_keys(m trace_agg.lww_map) RETURNS text[]
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
SELECT COALESCE(array_agg(k ORDER BY k COLLATE "C"), '{}')
FROM jsonb_each(m) AS x(k, e) WHERE NOT e ? 'd'
$$;
COMMENT ON FUNCTION trace_agg.lww_keys(trace_agg.lww_map) IS
    'the elements of a last-writer-wins map not removed, sorted bytewise (the tags of a tag_set_state)';

-- The live keys of a map with their values: the metadata.
CREATE FUNCTION trace_agg.lww_values(m trace_agg.lww_map) RETURNS jsonb
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
SELECT COALESCE(jsonb_object_agg(k, e -> 'v'), '{}')
FROM jsonb_each(m) AS x(k, e) WHERE e ? 'v'
$$;
COMMENT ON FUNCTION trace_agg.lww_values(trace_agg.lww_map) IS
    'the keys of a last-writer-wins map not removed, with their latest values (the metadata of a metadata_state)';

CREATE AGGREGATE trace_agg.tag_set_state(text[], text[], timestamptz) (
    SFUNC = trace_agg.lww_tags_transfn, STYPE = trace_agg.lww_map, INITCOND = '{}',
    COMBINEFUNC = trace_agg.lww_merge, PARALLEL = SAFE);
CREATE AGGREGATE trace_agg.tags(text[], text[], timestamptz) (
    SFUNC = trace_agg.lww_tags_transfn, STYPE = trace_agg.lww_map, INITCOND = '{}',
    FINALFUNC = trace_agg.lww_keys,
    COMBINEFUNC = trace_agg.lww_merge, PARALLEL = SAFE);
CREATE AGGREGATE trace_agg.metadata_state(jsonb, text[], timestamptz) (
    SFUNC = trace_agg.lww_metadata_transfn, STYPE = trace_agg.lww_map, INITCOND = '{}',
    COMBINEFUNC = trace_agg.lww_merge, PARALLEL = SAFE);
CREATE AGGREGATE trace_agg.metadata(jsonb, text[], timestamptz) (
    SFUNC = trace_agg.lww_metadata_transfn, STYPE = trace_agg.lww_map, INITCOND = '{}',
    FINALFUNC = trace_agg.lww_values,
    COMBINEFUNC = trace_agg.lww_merge, PARALLEL = SAFE);

COMMENT ON AGGREGATE trace_agg.tag_set_state(text[], text[], timestamptz) IS
    'tags added and removed by events (added, removed, event time) as a lww_map to store and merge with lww_merge; the latest operation per tag wins, a removal wins ties';
COMMENT ON AGGREGATE trace_agg.tags(text[], text[], timestamptz) IS
    'the tags left after events (added, removed, event time), sorted bytewise; the latest operation per tag wins, a removal wins ties';
COMMENT ON AGGREGATE trace_agg.metadata_state(jsonb, text[], timestamptz) IS
    'metadata keys set and removed by events (object set, keys removed, event time) as a lww_map to store and merge with lww_merge; the latest operation per key wins';
COMMENT ON AGGREGATE trace_agg.metadata(jsonb, text[], timestamptz) IS
    'the metadata left after events (object set, keys removed, event time): per key the latest value; a removal wins ties, then the greater value';
