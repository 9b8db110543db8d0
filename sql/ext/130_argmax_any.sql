-- Generic argmax and argmin (issue 13): a value of any type, a key of any
-- type with a default btree ordering (text keys compare bytewise, as
-- COLLATE "C").  The rule is the aggregate's and travels in its state:
--   argmax(v, key)       greatest key; the first row wins ties (ClickHouse argMax)
--   argmin(v, key)       least key; the first row wins ties (ClickHouse argMin)
--   argmax_last(v, key)  greatest key; the later row wins ties (the latest
--                        version of a row, as ReplacingMergeTree keeps it)
--   last_set(v, ts)      as argmax_last, but a NULL value is a value (a field
--                        cleared on purpose) and a NULL ts means the row does
--                        not set the field
-- argmax, argmin and argmax_last skip rows whose value or key is NULL.  Each
-- has a state form (argmax_state, argmin_state, argmax_last_state,
-- last_set_state) of type argmax_any or argmin_any, which merge(),
-- argmax_merge()/argmin_merge() and materialized views combine, and
-- finalize(state, NULL::type) reads.  The text form is JSON naming the
-- types, e.g.
--   {"rule": "argmax_last", "key_type": "timestamp with time zone",
--    "value_type": "numeric", "key": "2025-07-01 10:00:00+00", "value": "1.5"}
-- STORAGE = external: values are stored uncompressed, so reading one is a
-- copy, and merge() fetches only the head of an out-of-line state.

CREATE TYPE trace_agg.argmax_any;

CREATE FUNCTION trace_agg.argmax_any_in(cstring) RETURNS trace_agg.argmax_any
    AS 'MODULE_PATHNAME', 'argmax_any_in' LANGUAGE C STABLE STRICT PARALLEL SAFE;
CREATE FUNCTION trace_agg.argmax_any_out(trace_agg.argmax_any) RETURNS cstring
    AS 'MODULE_PATHNAME', 'argany_out' LANGUAGE C STABLE STRICT PARALLEL SAFE;
CREATE FUNCTION trace_agg.argmax_any_recv(internal) RETURNS trace_agg.argmax_any
    AS 'MODULE_PATHNAME', 'argmax_any_recv' LANGUAGE C STABLE STRICT PARALLEL SAFE;
CREATE FUNCTION trace_agg.argmax_any_send(trace_agg.argmax_any) RETURNS bytea
    AS 'MODULE_PATHNAME', 'argany_send' LANGUAGE C STABLE STRICT PARALLEL SAFE;

CREATE TYPE trace_agg.argmax_any (
    INPUT = trace_agg.argmax_any_in,
    OUTPUT = trace_agg.argmax_any_out,
    RECEIVE = trace_agg.argmax_any_recv,
    SEND = trace_agg.argmax_any_send,
    INTERNALLENGTH = VARIABLE,
    ALIGNMENT = double,
    STORAGE = external
);
COMMENT ON TYPE trace_agg.argmax_any IS
    'argMax state of a value of any type under a key of any ordered type (argmax_state, argmax_last_state, last_set_state)';

CREATE TYPE trace_agg.argmin_any;

CREATE FUNCTION trace_agg.argmin_any_in(cstring) RETURNS trace_agg.argmin_any
    AS 'MODULE_PATHNAME', 'argmin_any_in' LANGUAGE C STABLE STRICT PARALLEL SAFE;
CREATE FUNCTION trace_agg.argmin_any_out(trace_agg.argmin_any) RETURNS cstring
    AS 'MODULE_PATHNAME', 'argany_out' LANGUAGE C STABLE STRICT PARALLEL SAFE;
CREATE FUNCTION trace_agg.argmin_any_recv(internal) RETURNS trace_agg.argmin_any
    AS 'MODULE_PATHNAME', 'argmin_any_recv' LANGUAGE C STABLE STRICT PARALLEL SAFE;
CREATE FUNCTION trace_agg.argmin_any_send(trace_agg.argmin_any) RETURNS bytea
    AS 'MODULE_PATHNAME', 'argany_send' LANGUAGE C STABLE STRICT PARALLEL SAFE;

CREATE TYPE trace_agg.argmin_any (
    INPUT = trace_agg.argmin_any_in,
    OUTPUT = trace_agg.argmin_any_out,
    RECEIVE = trace_agg.argmin_any_recv,
    SEND = trace_agg.argmin_any_send,
    INTERNALLENGTH = VARIABLE,
    ALIGNMENT = double,
    STORAGE = external
);
COMMENT ON TYPE trace_agg.argmin_any IS
    'argMin state of a value of any type under a key of any ordered type (argmin_state)';

COMMENT ON FUNCTION trace_agg.argmax_any_in(cstring) IS
    'input function of argmax_any: reads the JSON text form naming the rule, the key and value types, the key and the value';
COMMENT ON FUNCTION trace_agg.argmax_any_out(trace_agg.argmax_any) IS
    'output function of argmax_any: the JSON text form, types by qualified name, key and value in their types'' text forms';
COMMENT ON FUNCTION trace_agg.argmax_any_recv(internal) IS
    'binary input function of argmax_any: types by name, key and value through their types'' receive functions';
COMMENT ON FUNCTION trace_agg.argmax_any_send(trace_agg.argmax_any) IS
    'binary output function of argmax_any: layout version, flags, type names, key and value in their binary forms';
COMMENT ON FUNCTION trace_agg.argmin_any_in(cstring) IS
    'input function of argmin_any: reads the JSON text form naming the rule, the key and value types, the key and the value';
COMMENT ON FUNCTION trace_agg.argmin_any_out(trace_agg.argmin_any) IS
    'output function of argmin_any: the JSON text form, types by qualified name, key and value in their types'' text forms';
COMMENT ON FUNCTION trace_agg.argmin_any_recv(internal) IS
    'binary input function of argmin_any: types by name, key and value through their types'' receive functions';
COMMENT ON FUNCTION trace_agg.argmin_any_send(trace_agg.argmin_any) IS
    'binary output function of argmin_any: layout version, flags, type names, key and value in their binary forms';

-- merge(a, b): the state of a's rows followed by b's, returning one of its
-- arguments itself (no detoast of a stored value, no rewrite).
CREATE FUNCTION trace_agg.merge(trace_agg.argmax_any, trace_agg.argmax_any)
    RETURNS trace_agg.argmax_any
    AS 'MODULE_PATHNAME', 'argany_merge_states' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION trace_agg.merge(trace_agg.argmin_any, trace_agg.argmin_any)
    RETURNS trace_agg.argmin_any
    AS 'MODULE_PATHNAME', 'argany_merge_states' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION trace_agg.merge(trace_agg.argmax_any, trace_agg.argmax_any) IS
    'the state of both states together: the second wins with a greater key, or an equal one under argmax_last and last_set; returns the winner itself; NULL on one side gives the other';
COMMENT ON FUNCTION trace_agg.merge(trace_agg.argmin_any, trace_agg.argmin_any) IS
    'the state of both states together: the second wins only with a strictly smaller key; returns the winner itself; NULL on one side gives the other';

-- finalize(state, NULL::type): the polymorphic result needs the value type
-- named, as jsonb_populate_record does; it must be the state's.
CREATE FUNCTION trace_agg.finalize(trace_agg.argmax_any, anyelement) RETURNS anyelement
    AS 'MODULE_PATHNAME', 'argany_finalize' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION trace_agg.finalize(trace_agg.argmin_any, anyelement) RETURNS anyelement
    AS 'MODULE_PATHNAME', 'argany_finalize' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION trace_agg.finalize(trace_agg.argmax_any, anyelement) IS
    'the value of the winning row, of the type of the second argument (pass NULL::type); NULL for no row or a cleared value';
COMMENT ON FUNCTION trace_agg.finalize(trace_agg.argmin_any, anyelement) IS
    'the value of the winning row, of the type of the second argument (pass NULL::type); NULL for no row';

CREATE FUNCTION trace_agg.argmax_key(trace_agg.argmax_any) RETURNS text
    AS 'MODULE_PATHNAME', 'argany_key_text' LANGUAGE C STABLE STRICT PARALLEL SAFE;
CREATE FUNCTION trace_agg.argmin_key(trace_agg.argmin_any) RETURNS text
    AS 'MODULE_PATHNAME', 'argany_key_text' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION trace_agg.argmax_key(trace_agg.argmax_any) IS
    'the winning key in its type''s text form; NULL for a state that saw no row';
COMMENT ON FUNCTION trace_agg.argmin_key(trace_agg.argmin_any) IS
    'the winning key in its type''s text form; NULL for a state that saw no row';

-- Support functions; internal states, so not callable from SQL.
CREATE FUNCTION trace_agg.argany_max_transfn(internal, anyelement, anycompatible) RETURNS internal
    AS 'MODULE_PATHNAME', 'argany_max_transfn' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION trace_agg.argany_min_transfn(internal, anyelement, anycompatible) RETURNS internal
    AS 'MODULE_PATHNAME', 'argany_min_transfn' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION trace_agg.argany_max_last_transfn(internal, anyelement, anycompatible) RETURNS internal
    AS 'MODULE_PATHNAME', 'argany_max_last_transfn' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION trace_agg.argany_last_set_transfn(internal, anyelement, anycompatible) RETURNS internal
    AS 'MODULE_PATHNAME', 'argany_last_set_transfn' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION trace_agg.argany_combinefn(internal, internal) RETURNS internal
    AS 'MODULE_PATHNAME', 'argany_combinefn' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION trace_agg.argany_serialfn(internal) RETURNS bytea
    AS 'MODULE_PATHNAME', 'argany_serialfn' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION trace_agg.argany_deserialfn(bytea, internal) RETURNS internal
    AS 'MODULE_PATHNAME', 'argany_deserialfn' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION trace_agg.argany_finalfn(internal, anyelement, anycompatible) RETURNS anyelement
    AS 'MODULE_PATHNAME', 'argany_finalfn' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION trace_agg.argany_max_state_finalfn(internal, anyelement, anycompatible)
    RETURNS trace_agg.argmax_any
    AS 'MODULE_PATHNAME', 'argany_max_state_finalfn' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION trace_agg.argany_min_state_finalfn(internal, anyelement, anycompatible)
    RETURNS trace_agg.argmin_any
    AS 'MODULE_PATHNAME', 'argany_min_state_finalfn' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION trace_agg.argany_max_last_state_finalfn(internal, anyelement, anycompatible)
    RETURNS trace_agg.argmax_any
    AS 'MODULE_PATHNAME', 'argany_max_last_state_finalfn' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION trace_agg.argany_last_set_state_finalfn(internal, anyelement, anycompatible)
    RETURNS trace_agg.argmax_any
    AS 'MODULE_PATHNAME', 'argany_last_set_state_finalfn' LANGUAGE C IMMUTABLE PARALLEL SAFE;

COMMENT ON FUNCTION trace_agg.argany_max_transfn(internal, anyelement, anycompatible) IS
    'transition function of argmax and argmax_state over any types: keeps the row with the greatest key, the first of equal ones';
COMMENT ON FUNCTION trace_agg.argany_min_transfn(internal, anyelement, anycompatible) IS
    'transition function of argmin and argmin_state: keeps the row with the least key, the first of equal ones';
COMMENT ON FUNCTION trace_agg.argany_max_last_transfn(internal, anyelement, anycompatible) IS
    'transition function of argmax_last and argmax_last_state: keeps the row with the greatest key, the last of equal ones';
COMMENT ON FUNCTION trace_agg.argany_last_set_transfn(internal, anyelement, anycompatible) IS
    'transition function of last_set and last_set_state: as argmax_last, a NULL value counting as a value, a NULL key skipping the row';
COMMENT ON FUNCTION trace_agg.argany_combinefn(internal, internal) IS
    'combine function of the generic argmax and argmin aggregates: the second partial state wins under the state''s rule';
COMMENT ON FUNCTION trace_agg.argany_serialfn(internal) IS
    'serialize function of the generic argmax and argmin aggregates: a partial state in the stored layout';
COMMENT ON FUNCTION trace_agg.argany_deserialfn(bytea, internal) IS
    'deserialize function of the generic argmax and argmin aggregates: the inverse of argany_serialfn';
COMMENT ON FUNCTION trace_agg.argany_finalfn(internal, anyelement, anycompatible) IS
    'final function of the generic argmax, argmin, argmax_last and last_set: the winning value';
COMMENT ON FUNCTION trace_agg.argany_max_state_finalfn(internal, anyelement, anycompatible) IS
    'final function of argmax_state over any types: the winning row as an argmax_any state';
COMMENT ON FUNCTION trace_agg.argany_min_state_finalfn(internal, anyelement, anycompatible) IS
    'final function of argmin_state: the winning row as an argmin_any state';
COMMENT ON FUNCTION trace_agg.argany_max_last_state_finalfn(internal, anyelement, anycompatible) IS
    'final function of argmax_last_state: the winning row as an argmax_any state';
COMMENT ON FUNCTION trace_agg.argany_last_set_state_finalfn(internal, anyelement, anycompatible) IS
    'final function of last_set_state: the winning row as an argmax_any state';

CREATE AGGREGATE trace_agg.argmax(anyelement, anycompatible) (
    SFUNC = trace_agg.argany_max_transfn, STYPE = internal,
    FINALFUNC = trace_agg.argany_finalfn, FINALFUNC_EXTRA,
    COMBINEFUNC = trace_agg.argany_combinefn,
    SERIALFUNC = trace_agg.argany_serialfn, DESERIALFUNC = trace_agg.argany_deserialfn,
    SSPACE = 128, PARALLEL = SAFE);
CREATE AGGREGATE trace_agg.argmin(anyelement, anycompatible) (
    SFUNC = trace_agg.argany_min_transfn, STYPE = internal,
    FINALFUNC = trace_agg.argany_finalfn, FINALFUNC_EXTRA,
    COMBINEFUNC = trace_agg.argany_combinefn,
    SERIALFUNC = trace_agg.argany_serialfn, DESERIALFUNC = trace_agg.argany_deserialfn,
    SSPACE = 128, PARALLEL = SAFE);
CREATE AGGREGATE trace_agg.argmax_last(anyelement, anycompatible) (
    SFUNC = trace_agg.argany_max_last_transfn, STYPE = internal,
    FINALFUNC = trace_agg.argany_finalfn, FINALFUNC_EXTRA,
    COMBINEFUNC = trace_agg.argany_combinefn,
    SERIALFUNC = trace_agg.argany_serialfn, DESERIALFUNC = trace_agg.argany_deserialfn,
    SSPACE = 128, PARALLEL = SAFE);
CREATE AGGREGATE trace_agg.last_set(anyelement, anycompatible) (
    SFUNC = trace_agg.argany_last_set_transfn, STYPE = internal,
    FINALFUNC = trace_agg.argany_finalfn, FINALFUNC_EXTRA,
    COMBINEFUNC = trace_agg.argany_combinefn,
    SERIALFUNC = trace_agg.argany_serialfn, DESERIALFUNC = trace_agg.argany_deserialfn,
    SSPACE = 128, PARALLEL = SAFE);
CREATE AGGREGATE trace_agg.argmax_state(anyelement, anycompatible) (
    SFUNC = trace_agg.argany_max_transfn, STYPE = internal,
    FINALFUNC = trace_agg.argany_max_state_finalfn, FINALFUNC_EXTRA,
    COMBINEFUNC = trace_agg.argany_combinefn,
    SERIALFUNC = trace_agg.argany_serialfn, DESERIALFUNC = trace_agg.argany_deserialfn,
    SSPACE = 128, PARALLEL = SAFE);
CREATE AGGREGATE trace_agg.argmin_state(anyelement, anycompatible) (
    SFUNC = trace_agg.argany_min_transfn, STYPE = internal,
    FINALFUNC = trace_agg.argany_min_state_finalfn, FINALFUNC_EXTRA,
    COMBINEFUNC = trace_agg.argany_combinefn,
    SERIALFUNC = trace_agg.argany_serialfn, DESERIALFUNC = trace_agg.argany_deserialfn,
    SSPACE = 128, PARALLEL = SAFE);
CREATE AGGREGATE trace_agg.argmax_last_state(anyelement, anycompatible) (
    SFUNC = trace_agg.argany_max_last_transfn, STYPE = internal,
    FINALFUNC = trace_agg.argany_max_last_state_finalfn, FINALFUNC_EXTRA,
    COMBINEFUNC = trace_agg.argany_combinefn,
    SERIALFUNC = trace_agg.argany_serialfn, DESERIALFUNC = trace_agg.argany_deserialfn,
    SSPACE = 128, PARALLEL = SAFE);
CREATE AGGREGATE trace_agg.last_set_state(anyelement, anycompatible) (
    SFUNC = trace_agg.argany_last_set_transfn, STYPE = internal,
    FINALFUNC = trace_agg.argany_last_set_state_finalfn, FINALFUNC_EXTRA,
    COMBINEFUNC = trace_agg.argany_combinefn,
    SERIALFUNC = trace_agg.argany_serialfn, DESERIALFUNC = trace_agg.argany_deserialfn,
    SSPACE = 128, PARALLEL = SAFE);

-- argmax_merge/argmin_merge: merge() as the transition and combine
-- function; the winning state is kept as it came.
CREATE AGGREGATE trace_agg.argmax_merge(trace_agg.argmax_any) (
    SFUNC = trace_agg.merge, STYPE = trace_agg.argmax_any,
    COMBINEFUNC = trace_agg.merge, PARALLEL = SAFE);
CREATE AGGREGATE trace_agg.argmin_merge(trace_agg.argmin_any) (
    SFUNC = trace_agg.merge, STYPE = trace_agg.argmin_any,
    COMBINEFUNC = trace_agg.merge, PARALLEL = SAFE);

COMMENT ON AGGREGATE trace_agg.argmax(anyelement, anycompatible) IS
    'the value of the row with the greatest key, any value type, any key type with a btree ordering (ClickHouse argMax); the first row wins ties; NULL values and keys skipped';
COMMENT ON AGGREGATE trace_agg.argmin(anyelement, anycompatible) IS
    'the value of the row with the least key, any value type, any key type with a btree ordering (ClickHouse argMin); the first row wins ties; NULL values and keys skipped';
COMMENT ON AGGREGATE trace_agg.argmax_last(anyelement, anycompatible) IS
    'the value of the row with the greatest key, the later row winning ties (ReplacingMergeTree''s latest version); NULL values and keys skipped';
COMMENT ON AGGREGATE trace_agg.last_set(anyelement, anycompatible) IS
    'the value set by the row with the greatest key, the later winning ties; a NULL value clears, a NULL key leaves the field unset';
COMMENT ON AGGREGATE trace_agg.argmax_state(anyelement, anycompatible) IS
    'argmax over any types as an argmax_any state to store and merge (ClickHouse argMaxState)';
COMMENT ON AGGREGATE trace_agg.argmin_state(anyelement, anycompatible) IS
    'argmin as an argmin_any state to store and merge (ClickHouse argMinState)';
COMMENT ON AGGREGATE trace_agg.argmax_last_state(anyelement, anycompatible) IS
    'argmax_last as an argmax_any state to store and merge; merging, the later state wins ties';
COMMENT ON AGGREGATE trace_agg.last_set_state(anyelement, anycompatible) IS
    'last_set as an argmax_any state to store and merge; merging, the later state wins ties';
COMMENT ON AGGREGATE trace_agg.argmax_merge(trace_agg.argmax_any) IS
    'argmax_any states merged into one, in input order, under their rule; no rows gives NULL';
COMMENT ON AGGREGATE trace_agg.argmin_merge(trace_agg.argmin_any) IS
    'argmin_any states merged into one, in input order; no rows gives NULL';
