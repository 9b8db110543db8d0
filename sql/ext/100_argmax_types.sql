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

-- Comments on the objects above that have none beside their definition,
-- so that \df+ and \dT+ explain every one (issue 11, item 7).
COMMENT ON FUNCTION trace_agg.argmax_text_in(cstring) IS
    'input function of argmax_text: reads the JSON text form {"key": ..., "kind": ..., "value": ...}';
COMMENT ON FUNCTION trace_agg.argmax_text_out(trace_agg.argmax_text) IS
    'output function of argmax_text: the JSON text form, independent of DateStyle and TimeZone';
COMMENT ON FUNCTION trace_agg.argmax_text_recv(internal) IS
    'binary input function of argmax_text (COPY BINARY, replication): every layout version, every byte checked';
COMMENT ON FUNCTION trace_agg.argmax_text_send(trace_agg.argmax_text) IS
    'binary output function of argmax_text: the current layout version, in network byte order';
COMMENT ON FUNCTION trace_agg.argmax_bool_in(cstring) IS
    'input function of argmax_bool: reads the JSON text form {"key": ..., "kind": ..., "value": ...}';
COMMENT ON FUNCTION trace_agg.argmax_bool_out(trace_agg.argmax_bool) IS
    'output function of argmax_bool: the JSON text form, independent of DateStyle and TimeZone';
COMMENT ON FUNCTION trace_agg.argmax_bool_recv(internal) IS
    'binary input function of argmax_bool (COPY BINARY, replication): every layout version, every byte checked';
COMMENT ON FUNCTION trace_agg.argmax_bool_send(trace_agg.argmax_bool) IS
    'binary output function of argmax_bool: the current layout version, in network byte order';
COMMENT ON FUNCTION trace_agg.argmax_jsonb_in(cstring) IS
    'input function of argmax_jsonb: reads the JSON text form {"key": ..., "kind": ..., "value": ...}';
COMMENT ON FUNCTION trace_agg.argmax_jsonb_out(trace_agg.argmax_jsonb) IS
    'output function of argmax_jsonb: the JSON text form, independent of DateStyle and TimeZone';
COMMENT ON FUNCTION trace_agg.argmax_jsonb_recv(internal) IS
    'binary input function of argmax_jsonb (COPY BINARY, replication): every layout version, every byte checked';
COMMENT ON FUNCTION trace_agg.argmax_jsonb_send(trace_agg.argmax_jsonb) IS
    'binary output function of argmax_jsonb: the current layout version, in network byte order';
