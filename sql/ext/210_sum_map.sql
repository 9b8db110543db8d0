-- sum_map: ClickHouse's sumMap over uint64_map and decimal_map, and
-- sum_map_merge, which adds two stored sums.  The support functions shared
-- by every map aggregate (combine, serialize, deserialize, final) are
-- declared here too; min_map and max_map reuse them.

CREATE FUNCTION trace_agg.map_agg_combine(internal, internal) RETURNS internal
AS 'MODULE_PATHNAME', 'map_agg_combine'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION trace_agg.map_agg_serialize(internal) RETURNS bytea
AS 'MODULE_PATHNAME', 'map_agg_serialize'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION trace_agg.map_agg_deserialize(bytea, internal) RETURNS internal
AS 'MODULE_PATHNAME', 'map_agg_deserialize'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION trace_agg.sum_map_uint64_transfn(internal, trace_agg.uint64_map)
RETURNS internal
AS 'MODULE_PATHNAME', 'sum_map_uint64_transfn'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION trace_agg.sum_map_decimal_transfn(internal, trace_agg.decimal_map)
RETURNS internal
AS 'MODULE_PATHNAME', 'sum_map_decimal_transfn'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

-- One C final for every map aggregate; declared once per result type.
CREATE FUNCTION trace_agg.sum_map_uint64_final(internal) RETURNS trace_agg.uint64_map
AS 'MODULE_PATHNAME', 'map_agg_final'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION trace_agg.sum_map_decimal_final(internal) RETURNS trace_agg.decimal_map
AS 'MODULE_PATHNAME', 'map_agg_final'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

-- SSPACE: a state for a few keys takes well under a kilobyte; the default
-- guess for internal states (8 kB) would steer the planner away from hash
-- aggregation.
CREATE AGGREGATE trace_agg.sum_map(trace_agg.uint64_map) (
	SFUNC = trace_agg.sum_map_uint64_transfn,
	STYPE = internal,
	SSPACE = 1024,
	FINALFUNC = trace_agg.sum_map_uint64_final,
	COMBINEFUNC = trace_agg.map_agg_combine,
	SERIALFUNC = trace_agg.map_agg_serialize,
	DESERIALFUNC = trace_agg.map_agg_deserialize,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE trace_agg.sum_map(trace_agg.uint64_map) IS
	'per-key sums (ClickHouse sumMap); exact, an error past 2^64-1; zero totals kept; no rows gives {}';

CREATE AGGREGATE trace_agg.sum_map(trace_agg.decimal_map) (
	SFUNC = trace_agg.sum_map_decimal_transfn,
	STYPE = internal,
	SSPACE = 1024,
	FINALFUNC = trace_agg.sum_map_decimal_final,
	COMBINEFUNC = trace_agg.map_agg_combine,
	SERIALFUNC = trace_agg.map_agg_serialize,
	DESERIALFUNC = trace_agg.map_agg_deserialize,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE trace_agg.sum_map(trace_agg.decimal_map) IS
	'per-key sums (ClickHouse sumMap) exact at 12 decimal places; an error at 10^26; zero totals kept; no rows gives {}';

-- Not strict: a NULL side gives back the other.
CREATE FUNCTION trace_agg.sum_map_merge(trace_agg.uint64_map, trace_agg.uint64_map)
RETURNS trace_agg.uint64_map
AS 'MODULE_PATHNAME', 'sum_map_merge_uint64'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION trace_agg.sum_map_merge(trace_agg.uint64_map, trace_agg.uint64_map) IS
	'per-key sum of two maps, e.g. a stored sum_map result and a new one in ON CONFLICT DO UPDATE';

CREATE FUNCTION trace_agg.sum_map_merge(trace_agg.decimal_map, trace_agg.decimal_map)
RETURNS trace_agg.decimal_map
AS 'MODULE_PATHNAME', 'sum_map_merge_decimal'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION trace_agg.sum_map_merge(trace_agg.decimal_map, trace_agg.decimal_map) IS
	'per-key sum of two maps, e.g. a stored sum_map result and a new one in ON CONFLICT DO UPDATE';

-- Not strict: a NULL b gives back a, a NULL a counts as {}.
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

-- Comments on the objects above that have none beside their definition,
-- so that \df+ and \dT+ explain every one (issue 11, item 7).
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
