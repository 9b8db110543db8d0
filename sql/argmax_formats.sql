-- Layouts of the argmax states: states written by trace_agg 0.1 (layout 0,
-- no version byte) are read forever, by every function and next to states of
-- the current layout 1; new states are written in layout 1; a later layout
-- is refused.  The 0.1 bytes below were written by the 0.1 code on a
-- little-endian machine (stored states are in the machine's byte order), the
-- 0.1 binary forms are in network byte order.
CREATE SCHEMA fmt;

-- A raw view of the state types (same storage, bytea's I/O) to write and
-- read the stored bytes.
CREATE TYPE fmt.raw;
CREATE FUNCTION fmt.raw_in(cstring) RETURNS fmt.raw
    AS 'byteain' LANGUAGE internal IMMUTABLE STRICT;
-- (the notice that raw is only a shell differs between majors)
SET client_min_messages = warning;
CREATE FUNCTION fmt.raw_out(fmt.raw) RETURNS cstring
    AS 'byteaout' LANGUAGE internal IMMUTABLE STRICT;
RESET client_min_messages;
CREATE TYPE fmt.raw (
    INPUT = fmt.raw_in, OUTPUT = fmt.raw_out,
    INTERNALLENGTH = VARIABLE, ALIGNMENT = double, STORAGE = external);
CREATE CAST (trace_agg.argmax_text AS fmt.raw) WITHOUT FUNCTION;
CREATE CAST (fmt.raw AS trace_agg.argmax_text) WITHOUT FUNCTION;
CREATE CAST (trace_agg.argmax_bool AS fmt.raw) WITHOUT FUNCTION;
CREATE CAST (fmt.raw AS trace_agg.argmax_bool) WITHOUT FUNCTION;
CREATE CAST (trace_agg.argmax_jsonb AS fmt.raw) WITHOUT FUNCTION;
CREATE CAST (fmt.raw AS trace_agg.argmax_jsonb) WITHOUT FUNCTION;
CREATE FUNCTION fmt.bytes(s trace_agg.argmax_text) RETURNS bytea
    LANGUAGE sql AS $$ SELECT s::fmt.raw::text::bytea $$;
CREATE FUNCTION fmt.bytes(s trace_agg.argmax_bool) RETURNS bytea
    LANGUAGE sql AS $$ SELECT s::fmt.raw::text::bytea $$;
CREATE FUNCTION fmt.bytes(s trace_agg.argmax_jsonb) RETURNS bytea
    LANGUAGE sql AS $$ SELECT s::fmt.raw::text::bytea $$;
CREATE FUNCTION fmt.forge(b bytea) RETURNS trace_agg.argmax_text
    LANGUAGE sql AS $$ SELECT b::text::fmt.raw::trace_agg.argmax_text $$;

-- States as 0.1 stored them: offsets after the varlena header are rawlen
-- 0-3, key 4-11, vtype 12, kind 13, flags 14, then the payload.
CREATE TABLE fmt.old_text (id int, s trace_agg.argmax_text);
INSERT INTO fmt.old_text VALUES
    -- "hello" at 2025-07-01 10:00:00.123+00
    (1, '\x0500000078a8e1f9d9db020001010168656c6c6f'::fmt.raw::trace_agg.argmax_text),
    -- empty, timestamptz
    (2, '\x000000000000000000000000010100'::fmt.raw::trace_agg.argmax_text),
    -- "" at bigint 42
    (3, '\x000000002a00000000000000010301'::fmt.raw::trace_agg.argmax_text),
    -- "é" at timestamp 2025-07-01 10:00:00
    (4, '\x0200000000c8dff9d9db0200010201c3a9'::fmt.raw::trace_agg.argmax_text),
    -- repeat('ab', 100) at bigint 7, compressed (flags 3)
    (5, '\xc8000000070000000000000001030328b52ffd24c84d00001061620100c3288705634d0b08'::fmt.raw::trace_agg.argmax_text);
SELECT id, s, trace_agg.finalize(s) = repeat('ab', 100) AS is_ab,
       CASE WHEN id <> 5 THEN trace_agg.finalize(s) END AS value,
       trace_agg.argmax_key(s)
FROM fmt.old_text ORDER BY id;
CREATE TABLE fmt.old_other (id int, b trace_agg.argmax_bool, j trace_agg.argmax_jsonb);
INSERT INTO fmt.old_other VALUES
    (1, '\x01000000050000000000000002030101'::fmt.raw::trace_agg.argmax_bool,
        '\x25000000050000000000000003030101000020010000801800005061000000020000400800009001000000200000000080010078'::fmt.raw::trace_agg.argmax_jsonb),
    (2, '\x000000000000000000000000020300'::fmt.raw::trace_agg.argmax_bool,
        '\x000000000000000000000000030200'::fmt.raw::trace_agg.argmax_jsonb);
SELECT id, b, trace_agg.finalize(b), j, trace_agg.finalize(j), trace_agg.argmax_key(j)
FROM fmt.old_other ORDER BY id;

-- New states are written in layout 1: flags carry 0x80 and a version byte 1
-- follows them, before the payload.
SELECT '{"key": 5, "kind": "bigint", "value": "hi"}'::trace_agg.argmax_text::fmt.raw AS text_v1,
       '{"kind": "timestamptz"}'::trace_agg.argmax_text::fmt.raw AS empty_v1,
       '{"key": 5, "kind": "bigint", "value": true}'::trace_agg.argmax_bool::fmt.raw AS bool_v1;
-- and the text form of a state does not depend on its layout
SELECT o.s::text = n.s::text AS same_text, fmt.bytes(o.s) <> fmt.bytes(n.s) AS other_bytes
FROM fmt.old_text o,
     LATERAL (SELECT o.s::text::trace_agg.argmax_text AS s) n
WHERE o.id = 1;

-- merge of an old and a new state, both ways: the winner is handed on as it
-- is, in its own layout, so an old state that keeps winning is not rewritten.
CREATE TABLE fmt.newer (s trace_agg.argmax_text);
INSERT INTO fmt.newer VALUES
    ('{"key": "2025-07-01 10:00:00.124+00", "kind": "timestamptz", "value": "later"}'),
    ('{"key": "2025-07-01 10:00:00.122+00", "kind": "timestamptz", "value": "earlier"}');
SELECT trace_agg.finalize(trace_agg.merge(o.s, n.s)) AS old_first,
       trace_agg.finalize(trace_agg.merge(n.s, o.s)) AS new_first,
       fmt.bytes(trace_agg.merge(o.s, n.s)) = fmt.bytes(o.s) AS old_kept_as_is
FROM fmt.old_text o, fmt.newer n WHERE o.id = 1 ORDER BY 1;
-- merge with an empty state of the other layout
SELECT trace_agg.finalize(trace_agg.merge(o.s, '{"kind": "timestamptz"}')) AS old_vs_empty,
       trace_agg.finalize(trace_agg.merge(e.s, '{"key": "2025-07-01 10:00:00+00", "kind": "timestamptz", "value": "new"}')) AS empty_old_vs_new
FROM fmt.old_text o, fmt.old_text e WHERE o.id = 1 AND e.id = 2;
-- the argmax_merge aggregate over a mix of layouts
SELECT trace_agg.finalize(trace_agg.argmax_merge(s)) FROM (
    SELECT s FROM fmt.old_text WHERE id IN (1, 2)
    UNION ALL SELECT s FROM fmt.newer) m;
SELECT trace_agg.finalize(trace_agg.argmax_merge(s)) FROM (
    SELECT s FROM fmt.old_text WHERE id IN (3, 5)
    UNION ALL SELECT '{"key": 50, "kind": "bigint", "value": "fifty"}') m;

-- send writes layout 1: vtype, kind, flags | 0x80, version 1, key, ...
SELECT id, trace_agg.argmax_text_send(s) FROM fmt.old_text ORDER BY id;
SELECT trace_agg.argmax_bool_send(b), trace_agg.argmax_jsonb_send(j) FROM fmt.old_other ORDER BY id;

-- COPY BINARY of old states reads back the same, now in layout 1.
SELECT current_setting('data_directory') || '/argmax_formats.copy' AS copyfile \gset
COPY fmt.old_text TO :'copyfile' (FORMAT binary);
CREATE TABLE fmt.back (LIKE fmt.old_text);
COPY fmt.back FROM :'copyfile' (FORMAT binary);
SELECT o.id, o.s::text = b.s::text AS same_state,
       get_byte(fmt.bytes(b.s), 14) >= 128 AND get_byte(fmt.bytes(b.s), 15) = 1 AS layout_1
FROM fmt.old_text o JOIN fmt.back b USING (id) ORDER BY o.id;

-- Receive takes the binary form 0.1 sent (layout 0, no version byte) too.
-- Each case is one field of a binary COPY file.
CREATE PROCEDURE fmt.write_copy_file(path text, field bytea)
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
CREATE TABLE fmt.rt (s trace_agg.argmax_text);
CREATE TABLE fmt.rb (s trace_agg.argmax_bool);
CREATE TABLE fmt.rj (s trace_agg.argmax_jsonb);
CALL fmt.write_copy_file(:'copyfile', '\x0101010002dbd9f9e1a878000000050000000568656c6c6f');
COPY fmt.rt FROM :'copyfile' (FORMAT binary);
CALL fmt.write_copy_file(:'copyfile', '\x0103030000000000000007000000c80000001628b52ffd24c84d00001061620100c3288705634d0b08');
COPY fmt.rt FROM :'copyfile' (FORMAT binary);
CALL fmt.write_copy_file(:'copyfile', '\x0101000000000000000000');
COPY fmt.rt FROM :'copyfile' (FORMAT binary);
CALL fmt.write_copy_file(:'copyfile', '\x0203010000000000000005000000010000000101');
COPY fmt.rb FROM :'copyfile' (FORMAT binary);
CALL fmt.write_copy_file(:'copyfile', '\x03030100000000000000050000001000000010017b2261223a205b312c202278225d7d');
COPY fmt.rj FROM :'copyfile' (FORMAT binary);
SELECT s, get_byte(fmt.bytes(s), 15) AS version FROM fmt.rt;
SELECT s, get_byte(fmt.bytes(s), 15) AS version FROM fmt.rb;
SELECT s, get_byte(fmt.bytes(s), 15) AS version FROM fmt.rj;
-- and the current binary form, which send wrote
CALL fmt.write_copy_file(:'copyfile', '\x0103810100000000000000050000000200000002686a');
COPY fmt.rt FROM :'copyfile' (FORMAT binary);
SELECT count(*) AS received FROM fmt.rt;

-- A layout this version does not know is refused, stored or received.
CREATE TABLE fmt.later AS
SELECT fmt.forge(set_byte(fmt.bytes('{"key": 5, "kind": "bigint", "value": "hi"}'::trace_agg.argmax_text), 15, 2)) AS s;
SELECT s FROM fmt.later;
SELECT trace_agg.finalize(s) FROM fmt.later;
SELECT trace_agg.merge(s, '{"kind": "bigint"}') FROM fmt.later;
-- a versioned flag on a state too short to carry the version byte
SELECT '\x000000000000000000000000010180'::fmt.raw::trace_agg.argmax_text;
CALL fmt.write_copy_file(:'copyfile', '\x0103810200000000000000050000000200000002686a');
COPY fmt.rt FROM :'copyfile' (FORMAT binary);

SET client_min_messages = warning;
DROP SCHEMA fmt CASCADE;
