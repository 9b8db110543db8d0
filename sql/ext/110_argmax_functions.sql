-- Scalar functions on argmax states.
--
-- merge(a, b) is the state of a and b together; on equal keys a stays.  It
-- is not strict (NULL on one side gives the other) and returns its first
-- argument untouched when that one stays, so that
--   INSERT ... ON CONFLICT DO UPDATE SET c = trace_agg.merge(t.c, excluded.c)
-- leaves a large stored state's TOAST data in place.
CREATE FUNCTION trace_agg.merge(trace_agg.argmax_text, trace_agg.argmax_text)
    RETURNS trace_agg.argmax_text
    AS 'MODULE_PATHNAME', 'argmax_merge_states' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION trace_agg.merge(trace_agg.argmax_bool, trace_agg.argmax_bool)
    RETURNS trace_agg.argmax_bool
    AS 'MODULE_PATHNAME', 'argmax_merge_states' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION trace_agg.merge(trace_agg.argmax_jsonb, trace_agg.argmax_jsonb)
    RETURNS trace_agg.argmax_jsonb
    AS 'MODULE_PATHNAME', 'argmax_merge_states' LANGUAGE C IMMUTABLE PARALLEL SAFE;

-- finalize(state) is ClickHouse's finalizeAggregation: the value of the
-- winning row, NULL for a state that saw no row.  Reading a text or jsonb
-- value means fetching it from TOAST and often decompressing it: their COST
-- tells the planner to finalize after a sort and LIMIT rather than for
-- every candidate row (a page of 50 traces of a 30,000-trace project: 67 ms
-- at the default COST 1, 15 ms at 100).
CREATE FUNCTION trace_agg.finalize(trace_agg.argmax_text) RETURNS text
    AS 'MODULE_PATHNAME', 'argmax_text_finalize' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE COST 100;
CREATE FUNCTION trace_agg.finalize(trace_agg.argmax_bool) RETURNS boolean
    AS 'MODULE_PATHNAME', 'argmax_bool_finalize' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION trace_agg.finalize(trace_agg.argmax_jsonb) RETURNS jsonb
    AS 'MODULE_PATHNAME', 'argmax_jsonb_finalize' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE COST 100;

-- argmax_key(state) is the winning row's key in the text form of the state
-- (ISO and UTC for timestamptz), NULL for a state that saw no row.
CREATE FUNCTION trace_agg.argmax_key(trace_agg.argmax_text) RETURNS text
    AS 'MODULE_PATHNAME', 'argmax_key' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION trace_agg.argmax_key(trace_agg.argmax_bool) RETURNS text
    AS 'MODULE_PATHNAME', 'argmax_key' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION trace_agg.argmax_key(trace_agg.argmax_jsonb) RETURNS text
    AS 'MODULE_PATHNAME', 'argmax_key' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- Comments on the objects above that have none beside their definition,
-- so that \df+ and \dT+ explain every one (issue 11, item 7).
COMMENT ON FUNCTION trace_agg.merge(trace_agg.argmax_text, trace_agg.argmax_text) IS
    'the state of both states together: the second only with a strictly greater key, else the first, returned itself; NULL on one side gives the other';
COMMENT ON FUNCTION trace_agg.merge(trace_agg.argmax_bool, trace_agg.argmax_bool) IS
    'the state of both states together: the second only with a strictly greater key, else the first, returned itself; NULL on one side gives the other';
COMMENT ON FUNCTION trace_agg.merge(trace_agg.argmax_jsonb, trace_agg.argmax_jsonb) IS
    'the state of both states together: the second only with a strictly greater key, else the first, returned itself; NULL on one side gives the other';
COMMENT ON FUNCTION trace_agg.finalize(trace_agg.argmax_text) IS
    'the text value of the row with the greatest key (ClickHouse finalizeAggregation); NULL for a state that saw no row';
COMMENT ON FUNCTION trace_agg.finalize(trace_agg.argmax_bool) IS
    'the boolean value of the row with the greatest key (ClickHouse finalizeAggregation); NULL for a state that saw no row';
COMMENT ON FUNCTION trace_agg.finalize(trace_agg.argmax_jsonb) IS
    'the jsonb value of the row with the greatest key (ClickHouse finalizeAggregation); NULL for a state that saw no row';
COMMENT ON FUNCTION trace_agg.argmax_key(trace_agg.argmax_text) IS
    'the winning key as text (ISO, UTC for timestamptz); NULL for a state that saw no row';
COMMENT ON FUNCTION trace_agg.argmax_key(trace_agg.argmax_bool) IS
    'the winning key as text (ISO, UTC for timestamptz); NULL for a state that saw no row';
COMMENT ON FUNCTION trace_agg.argmax_key(trace_agg.argmax_jsonb) IS
    'the winning key as text (ISO, UTC for timestamptz); NULL for a state that saw no row';
