-- group_uniq_array, group_uniq_array_array: ClickHouse's groupUniqArray and
-- groupUniqArrayArray for text; group_uniq_merge: the union of two stored
-- results.  Results are sorted bytewise and free of duplicates.

CREATE FUNCTION trace_agg.group_uniq_array_transfn(internal, text)
RETURNS internal
AS 'MODULE_PATHNAME', 'group_uniq_array_transfn'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION trace_agg.group_uniq_array_limited_transfn(internal, text, integer)
RETURNS internal
AS 'MODULE_PATHNAME', 'group_uniq_array_limited_transfn'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION trace_agg.group_uniq_array_array_transfn(internal, text[])
RETURNS internal
AS 'MODULE_PATHNAME', 'group_uniq_array_array_transfn'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION trace_agg.group_uniq_array_array_limited_transfn(internal, text[], integer)
RETURNS internal
AS 'MODULE_PATHNAME', 'group_uniq_array_array_limited_transfn'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION trace_agg.group_uniq_combine(internal, internal)
RETURNS internal
AS 'MODULE_PATHNAME', 'group_uniq_combine'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION trace_agg.group_uniq_serialize(internal)
RETURNS bytea
AS 'MODULE_PATHNAME', 'group_uniq_serialize'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION trace_agg.group_uniq_deserialize(bytea, internal)
RETURNS internal
AS 'MODULE_PATHNAME', 'group_uniq_deserialize'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION trace_agg.group_uniq_finalfn(internal)
RETURNS text[]
AS 'MODULE_PATHNAME', 'group_uniq_finalfn'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE AGGREGATE trace_agg.group_uniq_array(text) (
	SFUNC = trace_agg.group_uniq_array_transfn,
	STYPE = internal,
	FINALFUNC = trace_agg.group_uniq_finalfn,
	FINALFUNC_MODIFY = READ_ONLY,
	COMBINEFUNC = trace_agg.group_uniq_combine,
	SERIALFUNC = trace_agg.group_uniq_serialize,
	DESERIALFUNC = trace_agg.group_uniq_deserialize,
	PARALLEL = SAFE
);

COMMENT ON AGGREGATE trace_agg.group_uniq_array(text) IS
'distinct non-NULL values, sorted bytewise (ClickHouse groupUniqArray); empty array when there are none';

CREATE AGGREGATE trace_agg.group_uniq_array(text, integer) (
	SFUNC = trace_agg.group_uniq_array_limited_transfn,
	STYPE = internal,
	FINALFUNC = trace_agg.group_uniq_finalfn,
	FINALFUNC_MODIFY = READ_ONLY,
	COMBINEFUNC = trace_agg.group_uniq_combine,
	SERIALFUNC = trace_agg.group_uniq_serialize,
	DESERIALFUNC = trace_agg.group_uniq_deserialize,
	PARALLEL = SAFE
);

COMMENT ON AGGREGATE trace_agg.group_uniq_array(text, integer) IS
'the first max_size distinct non-NULL values met, sorted bytewise (ClickHouse groupUniqArray(max_size))';

CREATE AGGREGATE trace_agg.group_uniq_array_array(text[]) (
	SFUNC = trace_agg.group_uniq_array_array_transfn,
	STYPE = internal,
	FINALFUNC = trace_agg.group_uniq_finalfn,
	FINALFUNC_MODIFY = READ_ONLY,
	COMBINEFUNC = trace_agg.group_uniq_combine,
	SERIALFUNC = trace_agg.group_uniq_serialize,
	DESERIALFUNC = trace_agg.group_uniq_deserialize,
	PARALLEL = SAFE
);

COMMENT ON AGGREGATE trace_agg.group_uniq_array_array(text[]) IS
'distinct non-NULL elements of all arrays, sorted bytewise (ClickHouse groupUniqArrayArray); empty array when there are none';

CREATE AGGREGATE trace_agg.group_uniq_array_array(text[], integer) (
	SFUNC = trace_agg.group_uniq_array_array_limited_transfn,
	STYPE = internal,
	FINALFUNC = trace_agg.group_uniq_finalfn,
	FINALFUNC_MODIFY = READ_ONLY,
	COMBINEFUNC = trace_agg.group_uniq_combine,
	SERIALFUNC = trace_agg.group_uniq_serialize,
	DESERIALFUNC = trace_agg.group_uniq_deserialize,
	PARALLEL = SAFE
);

COMMENT ON AGGREGATE trace_agg.group_uniq_array_array(text[], integer) IS
'the first max_size distinct non-NULL elements met, sorted bytewise (ClickHouse groupUniqArrayArray(max_size))';

-- Not STRICT: a NULL side yields the other.  Returns its first argument
-- itself when that already is the union (see src/group_uniq.c).
CREATE FUNCTION trace_agg.group_uniq_merge(text[], text[])
RETURNS text[]
AS 'MODULE_PATHNAME', 'group_uniq_merge'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

COMMENT ON FUNCTION trace_agg.group_uniq_merge(text[], text[]) IS
'sorted, deduplicated union of two group_uniq_array results; NULL counts as empty, both NULL give NULL';

-- Comments on the objects above that have none beside their definition,
-- so that \df+ and \dT+ explain every one (issue 11, item 7).
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
