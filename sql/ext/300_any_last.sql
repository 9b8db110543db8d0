-- any_last: ClickHouse's anyLast, the last non-NULL value of a group.

-- Returns its second argument.  STRICT with no initial value: nodeAgg skips
-- NULL inputs, keeps the first non-NULL one as the state, and copies each
-- returned value into the aggregate context (see src/any_last.c).
CREATE FUNCTION trace_agg.any_last_transfn(anyelement, anyelement)
RETURNS anyelement
AS 'MODULE_PATHNAME', 'any_last_transfn'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE AGGREGATE trace_agg.any_last(anyelement) (
	SFUNC = trace_agg.any_last_transfn,
	STYPE = anyelement,
	COMBINEFUNC = trace_agg.any_last_transfn,
	PARALLEL = SAFE
);

COMMENT ON AGGREGATE trace_agg.any_last(anyelement) IS
'last non-NULL value in input order (ClickHouse anyLast); NULL when there is none';

-- Comments on the objects above that have none beside their definition,
-- so that \df+ and \dT+ explain every one (issue 11, item 7).
COMMENT ON FUNCTION trace_agg.any_last_transfn(anyelement, anyelement) IS
    'transition and combine function of any_last: returns its second argument';
