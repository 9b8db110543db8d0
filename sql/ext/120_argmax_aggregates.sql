-- The argmax aggregates, ClickHouse's argMax family:
--   argmax(value, key)        the value of the row with the greatest key
--   argmax_state(value, key)  the same, as a state to store and merge later
--   argmax_merge(state)       the states of many rows merged into one
-- for values of type text, boolean and jsonb (a jsonb domain resolves to
-- jsonb) and keys of type timestamptz, timestamp and bigint.  A row wins only
-- with a strictly greater key, so the first of equal keys stays; rows whose
-- value or key is NULL are skipped.  All run in parallel: partial states are
-- combined with the earlier one winning ties.  SSPACE tells the planner what
-- a group's state costs (without it an internal state counts as 8kB, and
-- hash aggregation is planned to spill long before it needs to); a longer
-- winning value only makes the hash table spill later than planned.

-- Support functions shared by argmax and argmax_state.  The "any" arguments
-- only carry the aggregate's argument types; the state is internal, so these
-- cannot be called from SQL.
CREATE FUNCTION trace_agg.argmax_transfn(internal, "any", "any") RETURNS internal
    AS 'MODULE_PATHNAME', 'argmax_transfn' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION trace_agg.argmax_combinefn(internal, internal) RETURNS internal
    AS 'MODULE_PATHNAME', 'argmax_combinefn' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION trace_agg.argmax_serialfn(internal) RETURNS bytea
    AS 'MODULE_PATHNAME', 'argmax_serialfn' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION trace_agg.argmax_deserialfn(bytea, internal) RETURNS internal
    AS 'MODULE_PATHNAME', 'argmax_deserialfn' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION trace_agg.argmax_text_finalfn(internal) RETURNS text
    AS 'MODULE_PATHNAME', 'argmax_finalfn' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION trace_agg.argmax_bool_finalfn(internal) RETURNS boolean
    AS 'MODULE_PATHNAME', 'argmax_finalfn' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION trace_agg.argmax_jsonb_finalfn(internal) RETURNS jsonb
    AS 'MODULE_PATHNAME', 'argmax_finalfn' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION trace_agg.argmax_text_state_finalfn(internal, "any", "any")
    RETURNS trace_agg.argmax_text
    AS 'MODULE_PATHNAME', 'argmax_state_finalfn' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION trace_agg.argmax_bool_state_finalfn(internal, "any", "any")
    RETURNS trace_agg.argmax_bool
    AS 'MODULE_PATHNAME', 'argmax_state_finalfn' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION trace_agg.argmax_jsonb_state_finalfn(internal, "any", "any")
    RETURNS trace_agg.argmax_jsonb
    AS 'MODULE_PATHNAME', 'argmax_state_finalfn' LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE AGGREGATE trace_agg.argmax(text, timestamptz) (
    SFUNC = trace_agg.argmax_transfn, STYPE = internal,
    FINALFUNC = trace_agg.argmax_text_finalfn,
    COMBINEFUNC = trace_agg.argmax_combinefn,
    SERIALFUNC = trace_agg.argmax_serialfn, DESERIALFUNC = trace_agg.argmax_deserialfn,
    SSPACE = 256, PARALLEL = SAFE);
CREATE AGGREGATE trace_agg.argmax(text, timestamp) (
    SFUNC = trace_agg.argmax_transfn, STYPE = internal,
    FINALFUNC = trace_agg.argmax_text_finalfn,
    COMBINEFUNC = trace_agg.argmax_combinefn,
    SERIALFUNC = trace_agg.argmax_serialfn, DESERIALFUNC = trace_agg.argmax_deserialfn,
    SSPACE = 256, PARALLEL = SAFE);
CREATE AGGREGATE trace_agg.argmax(text, bigint) (
    SFUNC = trace_agg.argmax_transfn, STYPE = internal,
    FINALFUNC = trace_agg.argmax_text_finalfn,
    COMBINEFUNC = trace_agg.argmax_combinefn,
    SERIALFUNC = trace_agg.argmax_serialfn, DESERIALFUNC = trace_agg.argmax_deserialfn,
    SSPACE = 256, PARALLEL = SAFE);
CREATE AGGREGATE trace_agg.argmax(boolean, timestamptz) (
    SFUNC = trace_agg.argmax_transfn, STYPE = internal,
    FINALFUNC = trace_agg.argmax_bool_finalfn,
    COMBINEFUNC = trace_agg.argmax_combinefn,
    SERIALFUNC = trace_agg.argmax_serialfn, DESERIALFUNC = trace_agg.argmax_deserialfn,
    SSPACE = 64, PARALLEL = SAFE);
CREATE AGGREGATE trace_agg.argmax(boolean, timestamp) (
    SFUNC = trace_agg.argmax_transfn, STYPE = internal,
    FINALFUNC = trace_agg.argmax_bool_finalfn,
    COMBINEFUNC = trace_agg.argmax_combinefn,
    SERIALFUNC = trace_agg.argmax_serialfn, DESERIALFUNC = trace_agg.argmax_deserialfn,
    SSPACE = 64, PARALLEL = SAFE);
CREATE AGGREGATE trace_agg.argmax(boolean, bigint) (
    SFUNC = trace_agg.argmax_transfn, STYPE = internal,
    FINALFUNC = trace_agg.argmax_bool_finalfn,
    COMBINEFUNC = trace_agg.argmax_combinefn,
    SERIALFUNC = trace_agg.argmax_serialfn, DESERIALFUNC = trace_agg.argmax_deserialfn,
    SSPACE = 64, PARALLEL = SAFE);
CREATE AGGREGATE trace_agg.argmax(jsonb, timestamptz) (
    SFUNC = trace_agg.argmax_transfn, STYPE = internal,
    FINALFUNC = trace_agg.argmax_jsonb_finalfn,
    COMBINEFUNC = trace_agg.argmax_combinefn,
    SERIALFUNC = trace_agg.argmax_serialfn, DESERIALFUNC = trace_agg.argmax_deserialfn,
    SSPACE = 256, PARALLEL = SAFE);
CREATE AGGREGATE trace_agg.argmax(jsonb, timestamp) (
    SFUNC = trace_agg.argmax_transfn, STYPE = internal,
    FINALFUNC = trace_agg.argmax_jsonb_finalfn,
    COMBINEFUNC = trace_agg.argmax_combinefn,
    SERIALFUNC = trace_agg.argmax_serialfn, DESERIALFUNC = trace_agg.argmax_deserialfn,
    SSPACE = 256, PARALLEL = SAFE);
CREATE AGGREGATE trace_agg.argmax(jsonb, bigint) (
    SFUNC = trace_agg.argmax_transfn, STYPE = internal,
    FINALFUNC = trace_agg.argmax_jsonb_finalfn,
    COMBINEFUNC = trace_agg.argmax_combinefn,
    SERIALFUNC = trace_agg.argmax_serialfn, DESERIALFUNC = trace_agg.argmax_deserialfn,
    SSPACE = 256, PARALLEL = SAFE);

-- FINALFUNC_EXTRA hands the final function the argument types, so that no
-- input at all still gives an empty state of the right key kind.
CREATE AGGREGATE trace_agg.argmax_state(text, timestamptz) (
    SFUNC = trace_agg.argmax_transfn, STYPE = internal,
    FINALFUNC = trace_agg.argmax_text_state_finalfn, FINALFUNC_EXTRA,
    COMBINEFUNC = trace_agg.argmax_combinefn,
    SERIALFUNC = trace_agg.argmax_serialfn, DESERIALFUNC = trace_agg.argmax_deserialfn,
    SSPACE = 256, PARALLEL = SAFE);
CREATE AGGREGATE trace_agg.argmax_state(text, timestamp) (
    SFUNC = trace_agg.argmax_transfn, STYPE = internal,
    FINALFUNC = trace_agg.argmax_text_state_finalfn, FINALFUNC_EXTRA,
    COMBINEFUNC = trace_agg.argmax_combinefn,
    SERIALFUNC = trace_agg.argmax_serialfn, DESERIALFUNC = trace_agg.argmax_deserialfn,
    SSPACE = 256, PARALLEL = SAFE);
CREATE AGGREGATE trace_agg.argmax_state(text, bigint) (
    SFUNC = trace_agg.argmax_transfn, STYPE = internal,
    FINALFUNC = trace_agg.argmax_text_state_finalfn, FINALFUNC_EXTRA,
    COMBINEFUNC = trace_agg.argmax_combinefn,
    SERIALFUNC = trace_agg.argmax_serialfn, DESERIALFUNC = trace_agg.argmax_deserialfn,
    SSPACE = 256, PARALLEL = SAFE);
CREATE AGGREGATE trace_agg.argmax_state(boolean, timestamptz) (
    SFUNC = trace_agg.argmax_transfn, STYPE = internal,
    FINALFUNC = trace_agg.argmax_bool_state_finalfn, FINALFUNC_EXTRA,
    COMBINEFUNC = trace_agg.argmax_combinefn,
    SERIALFUNC = trace_agg.argmax_serialfn, DESERIALFUNC = trace_agg.argmax_deserialfn,
    SSPACE = 64, PARALLEL = SAFE);
CREATE AGGREGATE trace_agg.argmax_state(boolean, timestamp) (
    SFUNC = trace_agg.argmax_transfn, STYPE = internal,
    FINALFUNC = trace_agg.argmax_bool_state_finalfn, FINALFUNC_EXTRA,
    COMBINEFUNC = trace_agg.argmax_combinefn,
    SERIALFUNC = trace_agg.argmax_serialfn, DESERIALFUNC = trace_agg.argmax_deserialfn,
    SSPACE = 64, PARALLEL = SAFE);
CREATE AGGREGATE trace_agg.argmax_state(boolean, bigint) (
    SFUNC = trace_agg.argmax_transfn, STYPE = internal,
    FINALFUNC = trace_agg.argmax_bool_state_finalfn, FINALFUNC_EXTRA,
    COMBINEFUNC = trace_agg.argmax_combinefn,
    SERIALFUNC = trace_agg.argmax_serialfn, DESERIALFUNC = trace_agg.argmax_deserialfn,
    SSPACE = 64, PARALLEL = SAFE);
CREATE AGGREGATE trace_agg.argmax_state(jsonb, timestamptz) (
    SFUNC = trace_agg.argmax_transfn, STYPE = internal,
    FINALFUNC = trace_agg.argmax_jsonb_state_finalfn, FINALFUNC_EXTRA,
    COMBINEFUNC = trace_agg.argmax_combinefn,
    SERIALFUNC = trace_agg.argmax_serialfn, DESERIALFUNC = trace_agg.argmax_deserialfn,
    SSPACE = 256, PARALLEL = SAFE);
CREATE AGGREGATE trace_agg.argmax_state(jsonb, timestamp) (
    SFUNC = trace_agg.argmax_transfn, STYPE = internal,
    FINALFUNC = trace_agg.argmax_jsonb_state_finalfn, FINALFUNC_EXTRA,
    COMBINEFUNC = trace_agg.argmax_combinefn,
    SERIALFUNC = trace_agg.argmax_serialfn, DESERIALFUNC = trace_agg.argmax_deserialfn,
    SSPACE = 256, PARALLEL = SAFE);
CREATE AGGREGATE trace_agg.argmax_state(jsonb, bigint) (
    SFUNC = trace_agg.argmax_transfn, STYPE = internal,
    FINALFUNC = trace_agg.argmax_jsonb_state_finalfn, FINALFUNC_EXTRA,
    COMBINEFUNC = trace_agg.argmax_combinefn,
    SERIALFUNC = trace_agg.argmax_serialfn, DESERIALFUNC = trace_agg.argmax_deserialfn,
    SSPACE = 256, PARALLEL = SAFE);

-- argmax_merge keeps the winning state as it arrived (possibly a TOAST
-- pointer) and reads only the fixed part of each input.  No input gives NULL.
CREATE FUNCTION trace_agg.argmax_merge_transfn(internal, "any") RETURNS internal
    AS 'MODULE_PATHNAME', 'argmax_merge_transfn' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION trace_agg.argmax_merge_combinefn(internal, internal) RETURNS internal
    AS 'MODULE_PATHNAME', 'argmax_merge_combinefn' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION trace_agg.argmax_merge_serialfn(internal) RETURNS bytea
    AS 'MODULE_PATHNAME', 'argmax_merge_serialfn' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION trace_agg.argmax_merge_deserialfn(bytea, internal) RETURNS internal
    AS 'MODULE_PATHNAME', 'argmax_merge_deserialfn' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION trace_agg.argmax_text_merge_finalfn(internal)
    RETURNS trace_agg.argmax_text
    AS 'MODULE_PATHNAME', 'argmax_merge_finalfn' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION trace_agg.argmax_bool_merge_finalfn(internal)
    RETURNS trace_agg.argmax_bool
    AS 'MODULE_PATHNAME', 'argmax_merge_finalfn' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION trace_agg.argmax_jsonb_merge_finalfn(internal)
    RETURNS trace_agg.argmax_jsonb
    AS 'MODULE_PATHNAME', 'argmax_merge_finalfn' LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE AGGREGATE trace_agg.argmax_merge(trace_agg.argmax_text) (
    SFUNC = trace_agg.argmax_merge_transfn, STYPE = internal,
    FINALFUNC = trace_agg.argmax_text_merge_finalfn,
    COMBINEFUNC = trace_agg.argmax_merge_combinefn,
    SERIALFUNC = trace_agg.argmax_merge_serialfn,
    DESERIALFUNC = trace_agg.argmax_merge_deserialfn,
    SSPACE = 128, PARALLEL = SAFE);
CREATE AGGREGATE trace_agg.argmax_merge(trace_agg.argmax_bool) (
    SFUNC = trace_agg.argmax_merge_transfn, STYPE = internal,
    FINALFUNC = trace_agg.argmax_bool_merge_finalfn,
    COMBINEFUNC = trace_agg.argmax_merge_combinefn,
    SERIALFUNC = trace_agg.argmax_merge_serialfn,
    DESERIALFUNC = trace_agg.argmax_merge_deserialfn,
    SSPACE = 128, PARALLEL = SAFE);
CREATE AGGREGATE trace_agg.argmax_merge(trace_agg.argmax_jsonb) (
    SFUNC = trace_agg.argmax_merge_transfn, STYPE = internal,
    FINALFUNC = trace_agg.argmax_jsonb_merge_finalfn,
    COMBINEFUNC = trace_agg.argmax_merge_combinefn,
    SERIALFUNC = trace_agg.argmax_merge_serialfn,
    DESERIALFUNC = trace_agg.argmax_merge_deserialfn,
    SSPACE = 128, PARALLEL = SAFE);

-- Comments on the objects above that have none beside their definition,
-- so that \df+ and \dT+ explain every one (issue 11, item 7).
COMMENT ON FUNCTION trace_agg.argmax_transfn(internal, "any", "any") IS
    'transition function of argmax and argmax_state: keeps the value of the row with the greatest key';
COMMENT ON FUNCTION trace_agg.argmax_combinefn(internal, internal) IS
    'combine function of argmax and argmax_state: merges partial states, the first winning ties';
COMMENT ON FUNCTION trace_agg.argmax_serialfn(internal) IS
    'serialize function of argmax and argmax_state: a partial state as an argmax state, for parallel workers';
COMMENT ON FUNCTION trace_agg.argmax_deserialfn(bytea, internal) IS
    'deserialize function of argmax and argmax_state: the inverse of argmax_serialfn';
COMMENT ON FUNCTION trace_agg.argmax_text_finalfn(internal) IS
    'final function of argmax over text values: the winning value';
COMMENT ON FUNCTION trace_agg.argmax_bool_finalfn(internal) IS
    'final function of argmax over boolean values: the winning value';
COMMENT ON FUNCTION trace_agg.argmax_jsonb_finalfn(internal) IS
    'final function of argmax over jsonb values: the winning value';
COMMENT ON FUNCTION trace_agg.argmax_text_state_finalfn(internal, "any", "any") IS
    'final function of argmax_state over text values: the winning row as an argmax_text state';
COMMENT ON FUNCTION trace_agg.argmax_bool_state_finalfn(internal, "any", "any") IS
    'final function of argmax_state over boolean values: the winning row as an argmax_bool state';
COMMENT ON FUNCTION trace_agg.argmax_jsonb_state_finalfn(internal, "any", "any") IS
    'final function of argmax_state over jsonb values: the winning row as an argmax_jsonb state';
COMMENT ON AGGREGATE trace_agg.argmax(text, timestamptz) IS
    'the text value of the row with the greatest timestamptz key (ClickHouse argMax); the first row wins ties; NULL values and keys skipped';
COMMENT ON AGGREGATE trace_agg.argmax(text, timestamp) IS
    'the text value of the row with the greatest timestamp key (ClickHouse argMax); the first row wins ties; NULL values and keys skipped';
COMMENT ON AGGREGATE trace_agg.argmax(text, bigint) IS
    'the text value of the row with the greatest bigint key (ClickHouse argMax); the first row wins ties; NULL values and keys skipped';
COMMENT ON AGGREGATE trace_agg.argmax(boolean, timestamptz) IS
    'the boolean value of the row with the greatest timestamptz key (ClickHouse argMax); the first row wins ties; NULL values and keys skipped';
COMMENT ON AGGREGATE trace_agg.argmax(boolean, timestamp) IS
    'the boolean value of the row with the greatest timestamp key (ClickHouse argMax); the first row wins ties; NULL values and keys skipped';
COMMENT ON AGGREGATE trace_agg.argmax(boolean, bigint) IS
    'the boolean value of the row with the greatest bigint key (ClickHouse argMax); the first row wins ties; NULL values and keys skipped';
COMMENT ON AGGREGATE trace_agg.argmax(jsonb, timestamptz) IS
    'the jsonb value of the row with the greatest timestamptz key (ClickHouse argMax); the first row wins ties; NULL values and keys skipped';
COMMENT ON AGGREGATE trace_agg.argmax(jsonb, timestamp) IS
    'the jsonb value of the row with the greatest timestamp key (ClickHouse argMax); the first row wins ties; NULL values and keys skipped';
COMMENT ON AGGREGATE trace_agg.argmax(jsonb, bigint) IS
    'the jsonb value of the row with the greatest bigint key (ClickHouse argMax); the first row wins ties; NULL values and keys skipped';
COMMENT ON AGGREGATE trace_agg.argmax_state(text, timestamptz) IS
    'the text value of the row with the greatest timestamptz key, as an argmax_text state to store and merge (ClickHouse argMaxState)';
COMMENT ON AGGREGATE trace_agg.argmax_state(text, timestamp) IS
    'the text value of the row with the greatest timestamp key, as an argmax_text state to store and merge (ClickHouse argMaxState)';
COMMENT ON AGGREGATE trace_agg.argmax_state(text, bigint) IS
    'the text value of the row with the greatest bigint key, as an argmax_text state to store and merge (ClickHouse argMaxState)';
COMMENT ON AGGREGATE trace_agg.argmax_state(boolean, timestamptz) IS
    'the boolean value of the row with the greatest timestamptz key, as an argmax_bool state to store and merge (ClickHouse argMaxState)';
COMMENT ON AGGREGATE trace_agg.argmax_state(boolean, timestamp) IS
    'the boolean value of the row with the greatest timestamp key, as an argmax_bool state to store and merge (ClickHouse argMaxState)';
COMMENT ON AGGREGATE trace_agg.argmax_state(boolean, bigint) IS
    'the boolean value of the row with the greatest bigint key, as an argmax_bool state to store and merge (ClickHouse argMaxState)';
COMMENT ON AGGREGATE trace_agg.argmax_state(jsonb, timestamptz) IS
    'the jsonb value of the row with the greatest timestamptz key, as an argmax_jsonb state to store and merge (ClickHouse argMaxState)';
COMMENT ON AGGREGATE trace_agg.argmax_state(jsonb, timestamp) IS
    'the jsonb value of the row with the greatest timestamp key, as an argmax_jsonb state to store and merge (ClickHouse argMaxState)';
COMMENT ON AGGREGATE trace_agg.argmax_state(jsonb, bigint) IS
    'the jsonb value of the row with the greatest bigint key, as an argmax_jsonb state to store and merge (ClickHouse argMaxState)';
COMMENT ON FUNCTION trace_agg.argmax_merge_transfn(internal, "any") IS
    'transition function of argmax_merge: keeps the winning state as it arrived, reading only fixed parts';
COMMENT ON FUNCTION trace_agg.argmax_merge_combinefn(internal, internal) IS
    'combine function of argmax_merge: the first partial state wins ties';
COMMENT ON FUNCTION trace_agg.argmax_merge_serialfn(internal) IS
    'serialize function of argmax_merge: the winning state, detoasted, for parallel workers';
COMMENT ON FUNCTION trace_agg.argmax_merge_deserialfn(bytea, internal) IS
    'deserialize function of argmax_merge: the inverse of argmax_merge_serialfn';
COMMENT ON FUNCTION trace_agg.argmax_text_merge_finalfn(internal) IS
    'final function of argmax_merge over argmax_text: the winning state';
COMMENT ON FUNCTION trace_agg.argmax_bool_merge_finalfn(internal) IS
    'final function of argmax_merge over argmax_bool: the winning state';
COMMENT ON FUNCTION trace_agg.argmax_jsonb_merge_finalfn(internal) IS
    'final function of argmax_merge over argmax_jsonb: the winning state';
COMMENT ON AGGREGATE trace_agg.argmax_merge(trace_agg.argmax_text) IS
    'argmax_text states merged into one (ClickHouse argMaxMerge); the earlier state wins ties; no rows gives NULL';
COMMENT ON AGGREGATE trace_agg.argmax_merge(trace_agg.argmax_bool) IS
    'argmax_bool states merged into one (ClickHouse argMaxMerge); the earlier state wins ties; no rows gives NULL';
COMMENT ON AGGREGATE trace_agg.argmax_merge(trace_agg.argmax_jsonb) IS
    'argmax_jsonb states merged into one (ClickHouse argMaxMerge); the earlier state wins ties; no rows gives NULL';
