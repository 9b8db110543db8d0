-- min_map / max_map: ClickHouse's minMap and maxMap over text_map, with
-- bytewise string order; min_map_merge / max_map_merge merge two stored
-- results.  The support functions come from 210_sum_map.sql.

CREATE FUNCTION trace_agg.min_map_transfn(internal, trace_agg.text_map)
RETURNS internal
AS 'MODULE_PATHNAME', 'min_map_transfn'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION trace_agg.max_map_transfn(internal, trace_agg.text_map)
RETURNS internal
AS 'MODULE_PATHNAME', 'max_map_transfn'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION trace_agg.text_map_final(internal) RETURNS trace_agg.text_map
AS 'MODULE_PATHNAME', 'map_agg_final'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE AGGREGATE trace_agg.min_map(trace_agg.text_map) (
	SFUNC = trace_agg.min_map_transfn,
	STYPE = internal,
	SSPACE = 1024,
	FINALFUNC = trace_agg.text_map_final,
	COMBINEFUNC = trace_agg.map_agg_combine,
	SERIALFUNC = trace_agg.map_agg_serialize,
	DESERIALFUNC = trace_agg.map_agg_deserialize,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE trace_agg.min_map(trace_agg.text_map) IS
	'per-key bytewise smallest string (ClickHouse minMap); no rows gives {}';

CREATE AGGREGATE trace_agg.max_map(trace_agg.text_map) (
	SFUNC = trace_agg.max_map_transfn,
	STYPE = internal,
	SSPACE = 1024,
	FINALFUNC = trace_agg.text_map_final,
	COMBINEFUNC = trace_agg.map_agg_combine,
	SERIALFUNC = trace_agg.map_agg_serialize,
	DESERIALFUNC = trace_agg.map_agg_deserialize,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE trace_agg.max_map(trace_agg.text_map) IS
	'per-key bytewise largest string (ClickHouse maxMap); no rows gives {}';

-- Not strict: a NULL side gives back the other.
CREATE FUNCTION trace_agg.min_map_merge(trace_agg.text_map, trace_agg.text_map)
RETURNS trace_agg.text_map
AS 'MODULE_PATHNAME', 'min_map_merge'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION trace_agg.min_map_merge(trace_agg.text_map, trace_agg.text_map) IS
	'per-key bytewise smallest string of two maps; the first map itself when the second changes nothing';

CREATE FUNCTION trace_agg.max_map_merge(trace_agg.text_map, trace_agg.text_map)
RETURNS trace_agg.text_map
AS 'MODULE_PATHNAME', 'max_map_merge'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION trace_agg.max_map_merge(trace_agg.text_map, trace_agg.text_map) IS
	'per-key bytewise largest string of two maps; the first map itself when the second changes nothing';

-- Comments on the objects above that have none beside their definition,
-- so that \df+ and \dT+ explain every one (issue 11, item 7).
COMMENT ON FUNCTION trace_agg.min_map_transfn(internal, trace_agg.text_map) IS
    'transition function of min_map: keeps each key''s bytewise least value';
COMMENT ON FUNCTION trace_agg.max_map_transfn(internal, trace_agg.text_map) IS
    'transition function of max_map: keeps each key''s bytewise greatest value';
COMMENT ON FUNCTION trace_agg.text_map_final(internal) IS
    'final function of min_map and max_map: the values as a text_map';
