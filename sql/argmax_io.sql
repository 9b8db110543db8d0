-- Text and binary forms of the argmax state types, and how bad input and
-- damaged states are refused.
CREATE SCHEMA argmax_test;

-- Text form: each state type with each key kind, and the empty forms; every
-- one reads back to the same text.
CREATE TABLE argmax_test.lit (id int, s text);
INSERT INTO argmax_test.lit VALUES
    (1, '{"key": "2025-07-01 10:00:00.123+00", "kind": "timestamptz", "value": "a \"quoted\"\nline"}'),
    (2, '{"key": "2025-07-01 10:00:00", "kind": "timestamp", "value": ""}'),
    (3, '{"key": -42, "kind": "bigint", "value": "ünïcödé ✓"}'),
    (4, '{"kind": "timestamptz"}'),
    (5, '{"key": "infinity", "kind": "timestamptz", "value": "latest possible"}'),
    (6, '{"key": "-infinity", "kind": "timestamp", "value": "earliest possible"}'),
    (7, '{"key": "0044-03-15 12:00:00+00 BC", "kind": "timestamptz", "value": "ides"}'),
    (8, '{"key": "294276-12-31 23:59:59.999999", "kind": "timestamp", "value": "last"}');
SELECT id, s::trace_agg.argmax_text AS state,
       s::trace_agg.argmax_text::text::trace_agg.argmax_text::text = s AS round_trip
FROM argmax_test.lit ORDER BY id;
SELECT s::trace_agg.argmax_bool AS state,
       s::trace_agg.argmax_bool::text::trace_agg.argmax_bool::text = s AS round_trip
FROM (VALUES ('{"key": "2025-07-01 10:00:00+00", "kind": "timestamptz", "value": true}'),
             ('{"key": 7, "kind": "bigint", "value": false}'),
             ('{"kind": "timestamp"}')) AS v(s);
SELECT s::trace_agg.argmax_jsonb AS state,
       s::trace_agg.argmax_jsonb::text::trace_agg.argmax_jsonb::text = s AS round_trip
FROM (VALUES ('{"key": "2025-07-01 10:00:00+00", "kind": "timestamptz", "value": {"n": "1", "env": "prod"}}'),
             ('{"key": 0, "kind": "bigint", "value": [1, "two", null]}'),
             ('{"key": "2025-07-01 10:00:00", "kind": "timestamp", "value": null}'),
             ('{"kind": "bigint"}')) AS v(s);
-- Input takes the fields in any order and spacing, and other spellings of
-- the same JSON; output is canonical.
SELECT '{ "value" : "x", "kind":"bigint","key":1e3 }'::trace_agg.argmax_text AS reordered,
       '{"key": "2025-07-01 10:00:00.500000+00", "kind": "timestamptz", "value": "\u00e9"}'::trace_agg.argmax_text AS respelled;

-- The text form ignores DateStyle and TimeZone: keys print and read as
-- ISO, UTC for timestamptz, in any session.
SET DateStyle = 'SQL, DMY';
SET TimeZone = 'Asia/Kolkata';
SELECT trace_agg.argmax_state('x', '2025-07-01 15:30:00.5+05:30'::timestamptz) AS tz_state,
       trace_agg.argmax_state('x', '2025-07-01 10:00:00'::timestamp) AS ts_state,
       trace_agg.argmax_key('{"key": "2025-07-01 10:00:00.5+00", "kind": "timestamptz", "value": "x"}'::trace_agg.argmax_text) AS key;
SELECT trace_agg.argmax_key(trace_agg.argmax_state('x', '2025-07-01 10:00:00+00'::timestamptz))
     = trace_agg.argmax_key('{"key": "2025-07-01 10:00:00+00", "kind": "timestamptz", "value": "x"}'::trace_agg.argmax_text) AS same_key;
RESET DateStyle;
RESET TimeZone;

-- Bad text input is refused, each with what is wrong.
SELECT 'not json'::trace_agg.argmax_text;
SELECT '[1, 2]'::trace_agg.argmax_text;
SELECT '"state"'::trace_agg.argmax_text;
SELECT '{}'::trace_agg.argmax_text;
SELECT '{"kind": "minutes"}'::trace_agg.argmax_text;
SELECT '{"kind": 1}'::trace_agg.argmax_text;
SELECT '{"key": 1, "kind": "bigint"}'::trace_agg.argmax_text;
SELECT '{"kind": "bigint", "value": "x"}'::trace_agg.argmax_text;
SELECT '{"key": 1, "kind": "bigint", "value": "x", "extra": 0}'::trace_agg.argmax_text;
SELECT '{"key": 1, "kind": "bigint", "value": 5}'::trace_agg.argmax_text;
SELECT '{"key": 1, "kind": "bigint", "value": null}'::trace_agg.argmax_text;
SELECT '{"key": 1, "kind": "bigint", "value": "true"}'::trace_agg.argmax_bool;
SELECT '{"key": 1, "kind": "bigint", "value": "x\u0000y"}'::trace_agg.argmax_text;
SELECT '{"key": "1", "kind": "bigint", "value": "x"}'::trace_agg.argmax_text;
SELECT '{"key": 1.5, "kind": "bigint", "value": "x"}'::trace_agg.argmax_text;
SELECT '{"key": 9223372036854775808, "kind": "bigint", "value": "x"}'::trace_agg.argmax_text;
SELECT '{"key": 1, "kind": "timestamptz", "value": "x"}'::trace_agg.argmax_text;
SELECT '{"key": "2025-07-01 10:00:00", "kind": "timestamptz", "value": "x"}'::trace_agg.argmax_text;
SELECT '{"key": "2025-07-01 10:00:00+02", "kind": "timestamptz", "value": "x"}'::trace_agg.argmax_text;
SELECT '{"key": "2025-07-01T10:00:00+00", "kind": "timestamptz", "value": "x"}'::trace_agg.argmax_text;
SELECT '{"key": "now", "kind": "timestamptz", "value": "x"}'::trace_agg.argmax_text;
SELECT '{"key": "2025-02-29 00:00:00+00", "kind": "timestamptz", "value": "x"}'::trace_agg.argmax_text;
SELECT '{"key": "2025-07-01 24:00:00+00", "kind": "timestamptz", "value": "x"}'::trace_agg.argmax_text;
SELECT '{"key": "2025-07-01 10:00:00.1234567+00", "kind": "timestamptz", "value": "x"}'::trace_agg.argmax_text;
SELECT '{"key": "0000-01-01 00:00:00+00", "kind": "timestamptz", "value": "x"}'::trace_agg.argmax_text;
SELECT '{"key": "4714-11-23 00:00:00+00 BC", "kind": "timestamptz", "value": "x"}'::trace_agg.argmax_text;
SELECT '{"key": "2025-07-01 10:00:00+00", "kind": "timestamp", "value": "x"}'::trace_agg.argmax_text;

-- Binary form: send writes network byte order, independent of the platform.
SELECT trace_agg.argmax_text_send('{"key": 5, "kind": "bigint", "value": "hi"}') AS text_wire,
       trace_agg.argmax_bool_send('{"kind": "timestamp"}') AS empty_bool_wire,
       trace_agg.argmax_jsonb_send('{"key": 1, "kind": "bigint", "value": {"a": 1}}') AS jsonb_wire;

-- COPY BINARY out and back in keeps every state, a large compressed one too.
SELECT current_setting('data_directory') || '/argmax_io.copy' AS copyfile \gset
CREATE TABLE argmax_test.bin (
    id int, t trace_agg.argmax_text, b trace_agg.argmax_bool, j trace_agg.argmax_jsonb
);
INSERT INTO argmax_test.bin
SELECT id, s::trace_agg.argmax_text, NULL, NULL FROM argmax_test.lit;
INSERT INTO argmax_test.bin VALUES
    (9, NULL, '{"key": "2025-07-01 10:00:00+00", "kind": "timestamptz", "value": true}',
            '{"key": 3, "kind": "bigint", "value": {"a": [1, 2]}}'),
    (10, NULL, '{"kind": "bigint"}', '{"kind": "timestamp"}');
INSERT INTO argmax_test.bin
SELECT 11, trace_agg.argmax_state(repeat('compressible ', 20000), 1::bigint), NULL, NULL;
COPY argmax_test.bin TO :'copyfile' (FORMAT binary);
CREATE TABLE argmax_test.bin_back (LIKE argmax_test.bin);
COPY argmax_test.bin_back FROM :'copyfile' (FORMAT binary);
SELECT count(*) AS rows,
       count(*) FILTER (WHERE a.t::text IS NOT DISTINCT FROM b.t::text
                          AND a.b::text IS NOT DISTINCT FROM b.b::text
                          AND a.j::text IS NOT DISTINCT FROM b.j::text) AS identical
FROM argmax_test.bin a JOIN argmax_test.bin_back b USING (id);
SELECT md5(trace_agg.finalize(t)) = md5(repeat('compressible ', 20000)) AS large_exact
FROM argmax_test.bin_back WHERE id = 11;

-- Garbage offered to receive is refused.  Each case is one field of a
-- binary COPY file: vtype, kind, flags, int64 key, then with a value
-- uint32 rawlen, uint32 payload length and the payload.
CREATE PROCEDURE argmax_test.write_copy_file(path text, field bytea)
LANGUAGE plpgsql AS $$
DECLARE
    lo oid := pg_catalog.lo_from_bytea(0,
        '\x5047434f50590aff0d0a00'::bytea || '\x00000000'::bytea || '\x00000000'::bytea
        || '\x0001'::bytea || pg_catalog.int4send(pg_catalog.length(field)) || field
        || '\xffff'::bytea);
BEGIN
    PERFORM pg_catalog.lo_export(lo, path);
    PERFORM pg_catalog.lo_unlink(lo);
END $$;
CREATE TABLE argmax_test.rt (s trace_agg.argmax_text);
CREATE TABLE argmax_test.rb (s trace_agg.argmax_bool);
CREATE TABLE argmax_test.rj (s trace_agg.argmax_jsonb);
-- a well-formed one is accepted
CALL argmax_test.write_copy_file(:'copyfile', '\x010301000000000000000500000002000000026869');
COPY argmax_test.rt FROM :'copyfile' (FORMAT binary);
SELECT s FROM argmax_test.rt;
-- wrong value type
CALL argmax_test.write_copy_file(:'copyfile', '\x020301000000000000000500000002000000026869');
COPY argmax_test.rt FROM :'copyfile' (FORMAT binary);
-- unknown key kind
CALL argmax_test.write_copy_file(:'copyfile', '\x010401000000000000000500000002000000026869');
COPY argmax_test.rt FROM :'copyfile' (FORMAT binary);
-- unknown flag
CALL argmax_test.write_copy_file(:'copyfile', '\x010305000000000000000500000002000000026869');
COPY argmax_test.rt FROM :'copyfile' (FORMAT binary);
-- empty state with a key
CALL argmax_test.write_copy_file(:'copyfile', '\x0103000000000000000001');
COPY argmax_test.rt FROM :'copyfile' (FORMAT binary);
-- truncated inside the key
CALL argmax_test.write_copy_file(:'copyfile', '\x0103010000');
COPY argmax_test.rt FROM :'copyfile' (FORMAT binary);
-- trailing byte
CALL argmax_test.write_copy_file(:'copyfile', '\x01030100000000000000050000000200000002686900');
COPY argmax_test.rt FROM :'copyfile' (FORMAT binary);
-- payload longer than the message
CALL argmax_test.write_copy_file(:'copyfile', '\x010301000000000000000500000002ffffffff6869');
COPY argmax_test.rt FROM :'copyfile' (FORMAT binary);
-- raw length different from an uncompressed payload
CALL argmax_test.write_copy_file(:'copyfile', '\x010301000000000000000500000003000000026869');
COPY argmax_test.rt FROM :'copyfile' (FORMAT binary);
-- a "compressed" payload that is no zstd frame
CALL argmax_test.write_copy_file(:'copyfile', '\x0103030000000000000005000000c80000000461626364');
COPY argmax_test.rt FROM :'copyfile' (FORMAT binary);
-- text that is not valid UTF-8
CALL argmax_test.write_copy_file(:'copyfile', '\x01030100000000000000050000000200000002fffe');
COPY argmax_test.rt FROM :'copyfile' (FORMAT binary);
-- timestamptz key out of range (below 4714 BC, above -infinity)
CALL argmax_test.write_copy_file(:'copyfile', '\x01010180000000000000010000000200000002686a');
COPY argmax_test.rt FROM :'copyfile' (FORMAT binary);
-- boolean byte other than 0 or 1, and a compressed boolean
CALL argmax_test.write_copy_file(:'copyfile', '\x0203010000000000000005000000010000000102');
COPY argmax_test.rb FROM :'copyfile' (FORMAT binary);
CALL argmax_test.write_copy_file(:'copyfile', '\x0203030000000000000005000000020000000101');
COPY argmax_test.rb FROM :'copyfile' (FORMAT binary);
-- jsonb of an unknown version, and jsonb that is not JSON
CALL argmax_test.write_copy_file(:'copyfile', '\x03030100000000000000050000000300000003027b7d');
COPY argmax_test.rj FROM :'copyfile' (FORMAT binary);
CALL argmax_test.write_copy_file(:'copyfile', '\x03030100000000000000050000000200000002017b');
COPY argmax_test.rj FROM :'copyfile' (FORMAT binary);
SELECT count(*) AS accepted_bool, (SELECT count(*) FROM argmax_test.rj) AS accepted_jsonb
FROM argmax_test.rb;

-- Damaged stored states are reported, never trusted.  A raw view of the
-- state types (same storage, bytea's I/O) forges them; offsets are after
-- the varlena header: rawlen 0-3, key 4-11, vtype 12, kind 13, flags 14
-- (0x80: versioned), layout version 15, then the payload.
CREATE TYPE argmax_test.raw;
CREATE FUNCTION argmax_test.raw_in(cstring) RETURNS argmax_test.raw
    AS 'byteain' LANGUAGE internal IMMUTABLE STRICT;
-- The notice that the argument type is only a shell is left out: from 18
-- on it carries a LINE context, before it did not.
SET client_min_messages = warning;
CREATE FUNCTION argmax_test.raw_out(argmax_test.raw) RETURNS cstring
    AS 'byteaout' LANGUAGE internal IMMUTABLE STRICT;
RESET client_min_messages;
CREATE TYPE argmax_test.raw (
    INPUT = argmax_test.raw_in, OUTPUT = argmax_test.raw_out,
    INTERNALLENGTH = VARIABLE, ALIGNMENT = double, STORAGE = external);
CREATE CAST (trace_agg.argmax_text AS argmax_test.raw) WITHOUT FUNCTION;
CREATE CAST (argmax_test.raw AS trace_agg.argmax_text) WITHOUT FUNCTION;
CREATE CAST (trace_agg.argmax_bool AS argmax_test.raw) WITHOUT FUNCTION;
CREATE CAST (argmax_test.raw AS trace_agg.argmax_bool) WITHOUT FUNCTION;
CREATE FUNCTION argmax_test.bytes(s trace_agg.argmax_text) RETURNS bytea
    LANGUAGE sql AS $$ SELECT s::argmax_test.raw::text::bytea $$;
CREATE FUNCTION argmax_test.forge(b bytea) RETURNS trace_agg.argmax_text
    LANGUAGE sql AS $$ SELECT b::text::argmax_test.raw::trace_agg.argmax_text $$;
CREATE TABLE argmax_test.good AS
SELECT '{"key": 5, "kind": "bigint", "value": "hi"}'::trace_agg.argmax_text AS small,
       trace_agg.argmax_state(repeat('compressible ', 1000), 1::bigint) AS big;
-- the forging itself is faithful
SELECT argmax_test.forge(argmax_test.bytes(small)) AS unchanged FROM argmax_test.good;
-- shorter than the fixed part
SELECT argmax_test.forge(substr(argmax_test.bytes(small), 1, 10)) FROM argmax_test.good;
-- unknown value type, key kind, flags
SELECT trace_agg.finalize(argmax_test.forge(set_byte(argmax_test.bytes(small), 12, 7))) FROM argmax_test.good;
SELECT trace_agg.argmax_key(argmax_test.forge(set_byte(argmax_test.bytes(small), 13, 9))) FROM argmax_test.good;
SELECT argmax_test.forge(set_byte(argmax_test.bytes(small), 14, 133))::text FROM argmax_test.good;
-- raw length that does not match the payload
SELECT trace_agg.finalize(argmax_test.forge(set_byte(argmax_test.bytes(small), 0, 3))) FROM argmax_test.good;
-- an empty state that carries a payload
SELECT trace_agg.merge(small, argmax_test.forge(set_byte(argmax_test.bytes(small), 14, 0))) FROM argmax_test.good;
-- a compressed frame with a byte changed, cut short, or of another length
-- (sizes of frames are left out: they depend on the zstd version)
\set VERBOSITY terse
SELECT trace_agg.finalize(argmax_test.forge(
           set_byte(argmax_test.bytes(big), length(argmax_test.bytes(big)) - 20,
                    get_byte(argmax_test.bytes(big), length(argmax_test.bytes(big)) - 20) # 85)))
FROM argmax_test.good;
SELECT trace_agg.finalize(argmax_test.forge(
           substr(argmax_test.bytes(big), 1, length(argmax_test.bytes(big)) - 6)))
FROM argmax_test.good;
SELECT trace_agg.finalize(argmax_test.forge(set_byte(argmax_test.bytes(big), 0, 1))) FROM argmax_test.good;
\set VERBOSITY default
-- a boolean state read as a text state, and a boolean byte of 2
SELECT trace_agg.finalize('{"key": 1, "kind": "bigint", "value": true}'::trace_agg.argmax_bool::argmax_test.raw::trace_agg.argmax_text);
SELECT trace_agg.finalize(set_byte(
           '{"key": 1, "kind": "bigint", "value": true}'::trace_agg.argmax_bool::argmax_test.raw::text::bytea,
           16, 2)::text::argmax_test.raw::trace_agg.argmax_bool);
-- a timestamptz key out of range
SELECT argmax_test.forge(set_byte(set_byte(argmax_test.bytes(small), 13, 1), 11, 128))::text FROM argmax_test.good;

DROP SCHEMA argmax_test CASCADE;
