-- trace_agg 0.1, as released: frozen.  Installs of 0.1 and updates from it
-- start here; never edit it (changes go into an update script).

\echo Use "CREATE EXTENSION trace_agg" to load this file. \quit

-- The schema is created here, not named in the control file, so that it is a
-- member of the extension and DROP EXTENSION removes it.  Every object below
-- is qualified with it.
CREATE SCHEMA trace_agg;
COMMENT ON SCHEMA trace_agg IS 'objects of the trace_agg extension';
-- argmax state types: what argmax_state() returns, merge() and
-- argmax_merge() combine, and finalize() reads; ClickHouse's
-- AggregateFunction(argMax, T, key).  STORAGE = external: argmax_text
-- compresses its own payload with zstd, so TOAST compression would only cost
-- CPU, while a large state still moves out of line, where merge() reads just
-- its fixed part.  The text form is JSON, e.g.
--   {"key": "2025-07-01 10:00:00.123+00", "kind": "timestamptz", "value": "..."}

CREATE TYPE trace_agg.argmax_text;

CREATE FUNCTION trace_agg.argmax_text_in(cstring) RETURNS trace_agg.argmax_text
    AS 'MODULE_PATHNAME', 'argmax_text_in' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION trace_agg.argmax_text_out(trace_agg.argmax_text) RETURNS cstring
    AS 'MODULE_PATHNAME', 'argmax_out' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION trace_agg.argmax_text_recv(internal) RETURNS trace_agg.argmax_text
    AS 'MODULE_PATHNAME', 'argmax_text_recv' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION trace_agg.argmax_text_send(trace_agg.argmax_text) RETURNS bytea
    AS 'MODULE_PATHNAME', 'argmax_send' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE TYPE trace_agg.argmax_text (
    INPUT = trace_agg.argmax_text_in,
    OUTPUT = trace_agg.argmax_text_out,
    RECEIVE = trace_agg.argmax_text_recv,
    SEND = trace_agg.argmax_text_send,
    INTERNALLENGTH = VARIABLE,
    ALIGNMENT = double,
    STORAGE = external
);
COMMENT ON TYPE trace_agg.argmax_text IS 'argMax state of a text value: the value of the row with the greatest key, zstd-compressed when large';

CREATE TYPE trace_agg.argmax_bool;

CREATE FUNCTION trace_agg.argmax_bool_in(cstring) RETURNS trace_agg.argmax_bool
    AS 'MODULE_PATHNAME', 'argmax_bool_in' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION trace_agg.argmax_bool_out(trace_agg.argmax_bool) RETURNS cstring
    AS 'MODULE_PATHNAME', 'argmax_out' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION trace_agg.argmax_bool_recv(internal) RETURNS trace_agg.argmax_bool
    AS 'MODULE_PATHNAME', 'argmax_bool_recv' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION trace_agg.argmax_bool_send(trace_agg.argmax_bool) RETURNS bytea
    AS 'MODULE_PATHNAME', 'argmax_send' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE TYPE trace_agg.argmax_bool (
    INPUT = trace_agg.argmax_bool_in,
    OUTPUT = trace_agg.argmax_bool_out,
    RECEIVE = trace_agg.argmax_bool_recv,
    SEND = trace_agg.argmax_bool_send,
    INTERNALLENGTH = VARIABLE,
    ALIGNMENT = double,
    STORAGE = external
);
COMMENT ON TYPE trace_agg.argmax_bool IS 'argMax state of a boolean value: the value of the row with the greatest key';

CREATE TYPE trace_agg.argmax_jsonb;

CREATE FUNCTION trace_agg.argmax_jsonb_in(cstring) RETURNS trace_agg.argmax_jsonb
    AS 'MODULE_PATHNAME', 'argmax_jsonb_in' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION trace_agg.argmax_jsonb_out(trace_agg.argmax_jsonb) RETURNS cstring
    AS 'MODULE_PATHNAME', 'argmax_out' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION trace_agg.argmax_jsonb_recv(internal) RETURNS trace_agg.argmax_jsonb
    AS 'MODULE_PATHNAME', 'argmax_jsonb_recv' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION trace_agg.argmax_jsonb_send(trace_agg.argmax_jsonb) RETURNS bytea
    AS 'MODULE_PATHNAME', 'argmax_send' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE TYPE trace_agg.argmax_jsonb (
    INPUT = trace_agg.argmax_jsonb_in,
    OUTPUT = trace_agg.argmax_jsonb_out,
    RECEIVE = trace_agg.argmax_jsonb_recv,
    SEND = trace_agg.argmax_jsonb_send,
    INTERNALLENGTH = VARIABLE,
    ALIGNMENT = double,
    STORAGE = external
);
COMMENT ON TYPE trace_agg.argmax_jsonb IS 'argMax state of a jsonb value (the text maps): the value of the row with the greatest key';
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
-- winning row, NULL for a state that saw no row.
CREATE FUNCTION trace_agg.finalize(trace_agg.argmax_text) RETURNS text
    AS 'MODULE_PATHNAME', 'argmax_text_finalize' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION trace_agg.finalize(trace_agg.argmax_bool) RETURNS boolean
    AS 'MODULE_PATHNAME', 'argmax_bool_finalize' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION trace_agg.finalize(trace_agg.argmax_jsonb) RETURNS jsonb
    AS 'MODULE_PATHNAME', 'argmax_jsonb_finalize' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- argmax_key(state) is the winning row's key in the text form of the state
-- (ISO and UTC for timestamptz), NULL for a state that saw no row.
CREATE FUNCTION trace_agg.argmax_key(trace_agg.argmax_text) RETURNS text
    AS 'MODULE_PATHNAME', 'argmax_key' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION trace_agg.argmax_key(trace_agg.argmax_bool) RETURNS text
    AS 'MODULE_PATHNAME', 'argmax_key' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION trace_agg.argmax_key(trace_agg.argmax_jsonb) RETURNS text
    AS 'MODULE_PATHNAME', 'argmax_key' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
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
-- ClickHouse Map columns as domains over jsonb.
--
-- A map is a JSON object: it casts to and from jsonb for free, prints as
-- JSON, and jsonb's GIN (jsonb_path_ops) and expression indexes serve key
-- lookups.  The CHECK functions raise their own errors, naming the key and
-- the value that do not fit, instead of a bare domain violation.

CREATE FUNCTION trace_agg.check_uint64_map(jsonb) RETURNS boolean
AS 'MODULE_PATHNAME', 'check_uint64_map'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION trace_agg.check_uint64_map(jsonb) IS
	'true if the jsonb is an object of integers from 0 to 2^64-1, else an error naming the bad key';

CREATE FUNCTION trace_agg.check_decimal_map(jsonb) RETURNS boolean
AS 'MODULE_PATHNAME', 'check_decimal_map'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION trace_agg.check_decimal_map(jsonb) IS
	'true if the jsonb is an object of numbers below 10^26 in absolute value, else an error naming the bad key';

CREATE FUNCTION trace_agg.check_text_map(jsonb) RETURNS boolean
AS 'MODULE_PATHNAME', 'check_text_map'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION trace_agg.check_text_map(jsonb) IS
	'true if the jsonb is an object of strings, else an error naming the bad key';

CREATE DOMAIN trace_agg.uint64_map AS jsonb
	CONSTRAINT uint64_map_check CHECK (trace_agg.check_uint64_map(VALUE));
COMMENT ON DOMAIN trace_agg.uint64_map IS
	'ClickHouse Map(String, UInt64): a JSON object of integers from 0 to 18446744073709551615';

CREATE DOMAIN trace_agg.decimal_map AS jsonb
	CONSTRAINT decimal_map_check CHECK (trace_agg.check_decimal_map(VALUE));
COMMENT ON DOMAIN trace_agg.decimal_map IS
	'ClickHouse Map(String, Decimal(38, 12)): a JSON object of numbers whose absolute value is below 10^26; sums round to 12 decimal places';

CREATE DOMAIN trace_agg.text_map AS jsonb
	CONSTRAINT text_map_check CHECK (trace_agg.check_text_map(VALUE));
COMMENT ON DOMAIN trace_agg.text_map IS
	'ClickHouse Map(String, String): a JSON object of strings';
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
-- trace_agg_null: a table access method that stores nothing, like
-- ClickHouse's Null engine.  Inserted rows reach AFTER ... FOR EACH STATEMENT
-- triggers through REFERENCING NEW TABLE and are then forgotten; an insert
-- that no such trigger reads is an error unless trace_agg.allow_discard is on.

CREATE FUNCTION trace_agg.null_am_handler(internal)
RETURNS table_am_handler
AS 'MODULE_PATHNAME', 'null_am_handler'
LANGUAGE C STRICT PARALLEL SAFE;

-- Access methods are not schema objects; the name carries the prefix.
CREATE ACCESS METHOD trace_agg_null TYPE TABLE HANDLER trace_agg.null_am_handler;

COMMENT ON ACCESS METHOD trace_agg_null IS
'stores nothing: inserted rows are only seen by statement triggers with transition tables';

-- Materialized views: the fan-out engine (src/fanout_*.c).

CREATE TABLE trace_agg.materialized_view (
    view_name text PRIMARY KEY,
    source    regclass NOT NULL,
    target    regclass NOT NULL,
    query     text NOT NULL,
    owner     regrole NOT NULL,
    merge_sql text NOT NULL
);
COMMENT ON TABLE trace_agg.materialized_view IS
    'materialized views: each INSERT into source is aggregated by query and merged into target by merge_sql';
-- Definitions are user data: pg_dump keeps them.
SELECT pg_catalog.pg_extension_config_dump('trace_agg.materialized_view', '');

CREATE TABLE trace_agg.ttl (
    target     regclass PRIMARY KEY,
    ttl_column name NOT NULL,
    ttl        interval NOT NULL,
    reference  regclass
);
COMMENT ON TABLE trace_agg.ttl IS
    'retention of target tables: a row expires when its ttl_column, truncated to its UTC date, plus ttl is at or before now';
SELECT pg_catalog.pg_extension_config_dump('trace_agg.ttl', '');

-- Everyone may use the extension's types and functions and read the
-- definitions (as pg_views shows every view); only the extension's
-- functions write the catalog.
GRANT USAGE ON SCHEMA trace_agg TO PUBLIC;
REVOKE ALL ON trace_agg.materialized_view, trace_agg.ttl FROM PUBLIC;
GRANT SELECT ON trace_agg.materialized_view, trace_agg.ttl TO PUBLIC;

-- A TTL holds no code, so a role may set one on any table it owns.
GRANT INSERT, UPDATE, DELETE ON trace_agg.ttl TO PUBLIC;
ALTER TABLE trace_agg.ttl ENABLE ROW LEVEL SECURITY;
CREATE POLICY ttl_of_own_tables ON trace_agg.ttl
    USING (pg_catalog.pg_has_role(CURRENT_USER,
           (SELECT c.relowner FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) target), 'USAGE'));

-- Insert tokens already applied (trace_agg.insert_token), kept for
-- trace_agg.insert_token_window and removed by purge_expired().
CREATE TABLE trace_agg.insert_token (
    source     regclass NOT NULL,
    token      text NOT NULL,
    applied_at timestamptz NOT NULL,
    PRIMARY KEY (source, token)
);
REVOKE ALL ON trace_agg.insert_token FROM PUBLIC;

CREATE FUNCTION trace_agg.fanout() RETURNS trigger
    AS 'MODULE_PATHNAME', 'trace_agg_fanout' LANGUAGE C;

CREATE FUNCTION trace_agg.create_materialized_view(name text, target regclass, query text)
    RETURNS void
    AS 'MODULE_PATHNAME', 'trace_agg_create_materialized_view' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION trace_agg.create_materialized_view(text, regclass, text) IS
    'create a materialized view: every INSERT into the query''s source is aggregated by the query and merged into target';

CREATE FUNCTION trace_agg.rebuild_materialized_views(target regclass)
    RETURNS void
    AS 'MODULE_PATHNAME', 'trace_agg_rebuild_materialized_views' LANGUAGE C VOLATILE STRICT;

CREATE FUNCTION trace_agg.drop_materialized_view(name text, if_exists boolean DEFAULT false)
    RETURNS void
    AS 'MODULE_PATHNAME', 'trace_agg_drop_materialized_view' LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION trace_agg.drop_materialized_view(text, boolean) IS
    'drop a materialized view; its source and target tables stay';

CREATE VIEW trace_agg.materialized_views AS
    SELECT m.view_name, m.source, m.target, m.owner, m.query,
           t.ttl_column, t.ttl, t.reference AS ttl_reference
    FROM trace_agg.materialized_view m
    LEFT JOIN trace_agg.ttl t ON t.target = m.target;
GRANT SELECT ON trace_agg.materialized_views TO PUBLIC;
COMMENT ON VIEW trace_agg.materialized_views IS 'materialized views with their queries and the TTL of their targets';

-- A source or target with views attached cannot be dropped, not even with
-- CASCADE: drop the views first.  An event trigger sees every way of
-- dropping a table (DROP TABLE, DROP SCHEMA ... CASCADE, DROP OWNED).
-- SECURITY DEFINER: after a drop, the TTL rows of the dropped tables must go
-- although the dropped table's owner can no longer be looked up by the
-- row-level policy; it deletes only rows of tables that were just dropped.
CREATE FUNCTION trace_agg.guard_drop() RETURNS event_trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    d record;
BEGIN
    FOR d IN
        SELECT o.object_identity, m.view_name
        FROM pg_event_trigger_dropped_objects() o
        JOIN trace_agg.materialized_view m ON o.objid IN (m.source, m.target)
        WHERE o.classid = 'pg_class'::regclass AND o.objsubid = 0
        UNION ALL
        SELECT o.object_identity, NULL
        FROM pg_event_trigger_dropped_objects() o
        JOIN trace_agg.ttl t ON o.objid = t.reference
        WHERE o.classid = 'pg_class'::regclass AND o.objsubid = 0
        LIMIT 1
    LOOP
        RAISE EXCEPTION 'cannot drop table % because trace_agg uses it', d.object_identity
            USING ERRCODE = 'dependent_objects_still_exist',
                  DETAIL = coalesce(format('Materialized view "%s" reads or writes it.', d.view_name),
                                    'It is the reference of a TTL.'),
                  HINT = 'Drop the materialized view with trace_agg.drop_materialized_view() first.';
    END LOOP;
    DELETE FROM trace_agg.ttl t
    WHERE t.target IN (SELECT o.objid FROM pg_event_trigger_dropped_objects() o
                       WHERE o.classid = 'pg_class'::regclass AND o.objsubid = 0);
END
$$;

CREATE EVENT TRIGGER trace_agg_guard_drop ON sql_drop
    EXECUTE FUNCTION trace_agg.guard_drop();

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

-- The traces setup of the reference (ClickHouse's traces_null feeding
-- traces_all_amt, traces_7d_amt and traces_30d_amt), ready to use.

-- The materialized view query of the reference, in Postgres syntax.
CREATE FUNCTION trace_agg.traces_view_query(source regclass) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    RETURN format($q$
SELECT project_id,
       id,
       min(start_time)                                   AS "timestamp",
       min(start_time)                                   AS start_time,
       max(coalesce(end_time, start_time))               AS end_time,
       trace_agg.any_last(name)                          AS name,
       trace_agg.max_map(metadata)                       AS metadata,
       trace_agg.any_last(user_id)                       AS user_id,
       trace_agg.any_last(session_id)                    AS session_id,
       trace_agg.any_last(environment)                   AS environment,
       trace_agg.group_uniq_array_array(tags)            AS tags,
       trace_agg.any_last(version)                       AS version,
       trace_agg.any_last(release)                       AS release,
       trace_agg.argmax_state(bookmarked, CASE WHEN bookmarked IS NOT NULL THEN event_ts
                                               ELSE 'epoch'::timestamptz END) AS bookmarked,
       trace_agg.argmax_state(public, CASE WHEN public IS NOT NULL THEN event_ts
                                           ELSE 'epoch'::timestamptz END)     AS public,
       trace_agg.group_uniq_array_array(observation_ids) AS observation_ids,
       trace_agg.group_uniq_array_array(score_ids)       AS score_ids,
       trace_agg.sum_map(cost_details)                   AS cost_details,
       trace_agg.sum_map(usage_details)                  AS usage_details,
       trace_agg.argmax_state(input, CASE WHEN input <> '' THEN event_ts
                                          ELSE 'epoch'::timestamptz END)      AS input,
       trace_agg.argmax_state(output, CASE WHEN output <> '' THEN event_ts
                                           ELSE 'epoch'::timestamptz END)     AS output,
       min(created_at)                                   AS created_at,
       max(updated_at)                                   AS updated_at
FROM %s
GROUP BY project_id, id$q$, source);

CREATE FUNCTION trace_agg.create_traces_tables(schema name DEFAULT 'public')
    RETURNS void
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    s text := quote_ident(schema);
    t text;
BEGIN
    EXECUTE format($ddl$
        CREATE TABLE %1$s.traces_null (
            project_id      text NOT NULL,
            id              text NOT NULL,
            start_time      timestamptz NOT NULL,
            end_time        timestamptz,
            name            text,
            metadata        trace_agg.text_map NOT NULL DEFAULT '{}',
            user_id         text,
            session_id      text,
            environment     text NOT NULL DEFAULT 'default',
            tags            text[] NOT NULL DEFAULT '{}',
            version         text,
            release         text,
            bookmarked      boolean,
            public          boolean,
            observation_ids text[] NOT NULL DEFAULT '{}',
            score_ids       text[] NOT NULL DEFAULT '{}',
            cost_details    trace_agg.decimal_map NOT NULL DEFAULT '{}',
            usage_details   trace_agg.uint64_map NOT NULL DEFAULT '{}',
            input           text NOT NULL DEFAULT '',
            output          text NOT NULL DEFAULT '',
            created_at      timestamptz NOT NULL DEFAULT now(),
            updated_at      timestamptz NOT NULL DEFAULT now(),
            event_ts        timestamptz NOT NULL DEFAULT now()
        ) USING trace_agg_null$ddl$, s);

    FOREACH t IN ARRAY ARRAY['traces_all_amt', 'traces_7d_amt', 'traces_30d_amt'] LOOP
        EXECUTE format($ddl$
            CREATE TABLE %1$s.%2$I (
                project_id      text NOT NULL,
                id              text NOT NULL,
                "timestamp"     timestamptz,
                start_time      timestamptz,
                end_time        timestamptz,
                name            text,
                metadata        trace_agg.text_map,
                user_id         text,
                session_id      text,
                environment     text,
                tags            text[],
                version         text,
                release         text,
                bookmarked      trace_agg.argmax_bool,
                public          trace_agg.argmax_bool,
                observation_ids text[],
                score_ids       text[],
                cost_details    trace_agg.decimal_map,
                usage_details   trace_agg.uint64_map,
                input           trace_agg.argmax_text,
                output          trace_agg.argmax_text,
                created_at      timestamptz,
                updated_at      timestamptz,
                PRIMARY KEY (project_id, id)
            ) WITH (fillfactor = 70, toast_tuple_target = 512)$ddl$, s, t);
        -- A trace's row is updated by most batches that carry its events.
        -- The room fillfactor leaves lets the new version stay on its page
        -- (a HOT update, with no index entry to add); toast_tuple_target
        -- keeps the row small by moving input/output states and long id
        -- arrays out of line, where an update that does not change them
        -- keeps them as they are instead of writing them again.
        -- Indexes for the product's queries.  Columns that merges change
        -- on most events (observation_ids, usage, input, output, end_time,
        -- updated_at) stay unindexed so that those updates remain HOT.
        EXECUTE format('CREATE INDEX ON %1$s.%2$I (project_id, start_time DESC)', s, t);
        EXECUTE format('CREATE INDEX ON %1$s.%2$I (project_id, session_id) WHERE session_id IS NOT NULL', s, t);
        EXECUTE format('CREATE INDEX ON %1$s.%2$I (project_id, user_id) WHERE user_id IS NOT NULL', s, t);
        EXECUTE format('CREATE INDEX ON %1$s.%2$I (project_id, name)', s, t);
        EXECUTE format('CREATE INDEX ON %1$s.%2$I USING gin (tags)', s, t);
        EXECUTE format('CREATE INDEX ON %1$s.%2$I USING gin (metadata jsonb_path_ops)', s, t);
        EXECUTE format('ALTER TABLE %1$s.%2$I ALTER input SET STORAGE external, ALTER output SET STORAGE external', s, t);
        PERFORM trace_agg.create_materialized_view(t || '_mv', format('%s.%I', s, t)::regclass,
                                                   trace_agg.traces_view_query(format('%s.traces_null', s)::regclass));
    END LOOP;
    EXECUTE format('CREATE INDEX ON %1$s.traces_7d_amt (start_time)', s);
    EXECUTE format('CREATE INDEX ON %1$s.traces_30d_amt (start_time)', s);
    PERFORM trace_agg.set_ttl(format('%s.traces_7d_amt', s)::regclass, 'start_time', interval '7 days',
                              format('%s.traces_all_amt', s)::regclass);
    PERFORM trace_agg.set_ttl(format('%s.traces_30d_amt', s)::regclass, 'start_time', interval '30 days',
                              format('%s.traces_all_amt', s)::regclass);

    -- Read views: plain values, as the reference's "Query AggregatingMergeTrees".
    -- The 7d/30d views also hide rows that expired since the last purge; the
    -- cutoff is a sub-select, computed once per query rather than per row
    -- (ttl_cutoff has its own search_path, so it is never inlined).
    FOREACH t IN ARRAY ARRAY['all', '7d', '30d'] LOOP
        EXECUTE format($ddl$
            CREATE VIEW %1$s.%2$I AS
            SELECT project_id, id, "timestamp", start_time, end_time, name, metadata,
                   user_id, session_id, environment, tags, version, release,
                   trace_agg.finalize(bookmarked) AS bookmarked,
                   trace_agg.finalize(public) AS public,
                   observation_ids, score_ids, cost_details, usage_details,
                   trace_agg.finalize(input) AS input,
                   trace_agg.finalize(output) AS output,
                   created_at, updated_at
            FROM %1$s.%3$I %4$s$ddl$,
            s, 'traces_' || t, 'traces_' || t || '_amt',
            CASE t WHEN '7d' THEN $w$WHERE start_time >= (SELECT trace_agg.ttl_cutoff('7 days'))$w$
                   WHEN '30d' THEN $w$WHERE start_time >= (SELECT trace_agg.ttl_cutoff('30 days'))$w$
                   ELSE '' END);
    END LOOP;
END
$fn$;
COMMENT ON FUNCTION trace_agg.create_traces_tables(name) IS
    'create traces_null, traces_all_amt, traces_7d_amt, traces_30d_amt, their materialized views and TTLs, and the read views traces_all, traces_7d, traces_30d in schema';
