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
