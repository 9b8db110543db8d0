-- Decompression bombs and forged lengths in argmax_text states (issue 10,
-- finding 13).  A state records the length of its value (rawlen); when the
-- value is a zstd frame, the frame declares its content size in its header.
-- Receive and every reader of a stored state compare the two, and check that
-- the payload is exactly one checksummed frame, before allocating anything
-- from either, and decompress into exactly rawlen bytes.  A frame that
-- honestly declares a large value is accepted: argmax_state builds the same
-- bytes from a value that long.
CREATE SCHEMA sec;

-- A zstd frame built by hand (RFC 8878): magic number, a descriptor for a
-- single segment with a 4-byte content size and a checksum flag, the
-- declared content size (little-endian), then RLE blocks each expanding one
-- byte 'a' to 128 KiB (4 bytes per block), and a checksum that is never
-- reached.
CREATE FUNCTION sec.rle_frame(declared bigint, blocks int, checksum bool) RETURNS bytea
LANGUAGE sql AS $$
SELECT '\x28b52ffd'::bytea
       || CASE WHEN checksum THEN '\xa4'::bytea ELSE '\xa0'::bytea END
       || set_byte(set_byte(set_byte(set_byte('\x00000000'::bytea,
              0, (declared & 255)::int), 1, ((declared >> 8) & 255)::int),
              2, ((declared >> 16) & 255)::int), 3, ((declared >> 24) & 255)::int)
       || decode(repeat('02001061', blocks - 1) || '03001061', 'hex')
       || CASE WHEN checksum THEN '\x00000000'::bytea ELSE ''::bytea END
$$;
-- The binary form of a compressed argmax_text state under bigint key 5:
-- vtype 1, kind 3, flags 0x83 (versioned, value, compressed), version 1,
-- key, rawlen, payload length, payload.
CREATE FUNCTION sec.wire(rawlen bigint, frame bytea) RETURNS bytea
LANGUAGE sql AS $$
SELECT '\x01038301'::bytea || int8send(5) || int4send(rawlen::int)
       || int4send(length(frame)) || frame
$$;
-- The stored form of the same state, for the readers of stored states: a
-- raw view of argmax_text (same storage, bytea's I/O) forges it; numbers
-- are in the machine's byte order, so rawlen is written in the order a real
-- state shows, and the key is copied from one.
CREATE TYPE sec.raw;
CREATE FUNCTION sec.raw_in(cstring) RETURNS sec.raw
    AS 'byteain' LANGUAGE internal IMMUTABLE STRICT;
-- (the notice that raw is only a shell differs between majors)
SET client_min_messages = warning;
CREATE FUNCTION sec.raw_out(sec.raw) RETURNS cstring
    AS 'byteaout' LANGUAGE internal IMMUTABLE STRICT;
RESET client_min_messages;
CREATE TYPE sec.raw (
    INPUT = sec.raw_in, OUTPUT = sec.raw_out,
    INTERNALLENGTH = VARIABLE, ALIGNMENT = double, STORAGE = external);
CREATE CAST (trace_agg.argmax_text AS sec.raw) WITHOUT FUNCTION;
CREATE CAST (sec.raw AS trace_agg.argmax_text) WITHOUT FUNCTION;
CREATE FUNCTION sec.bytes(s trace_agg.argmax_text) RETURNS bytea
    LANGUAGE sql AS $$ SELECT s::sec.raw::text::bytea $$;
CREATE FUNCTION sec.stored(rawlen bigint, frame bytea) RETURNS trace_agg.argmax_text
LANGUAGE sql AS $$
SELECT (CASE WHEN get_byte(real, 0) = 1
             THEN set_byte(set_byte(set_byte(set_byte('\x00000000'::bytea,
                      0, (rawlen & 255)::int), 1, ((rawlen >> 8) & 255)::int),
                      2, ((rawlen >> 16) & 255)::int), 3, ((rawlen >> 24) & 255)::int)
             ELSE int4send(rawlen::int) END
        || substr(real, 5, 8) || '\x01038301'::bytea || frame)::text::sec.raw::trace_agg.argmax_text
FROM sec.bytes('{"key": 5, "kind": "bigint", "value": "x"}') AS real
$$;
-- Writes a binary COPY file of one field.
CREATE PROCEDURE sec.write_copy_file(path text, field bytea)
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
SELECT current_setting('data_directory') || '/security_input.copy' AS copyfile \gset
CREATE TABLE sec.t (s trace_agg.argmax_text);

-- The bomb: 32 KiB whose frame expands to 1 GiB (8191 blocks of 128 KiB),
-- under a state that declares 100000 bytes.
SELECT length(sec.rle_frame(1073610752, 8191, true)) AS bomb_bytes;
CALL sec.write_copy_file(:'copyfile', sec.wire(100000, sec.rle_frame(1073610752, 8191, true)));
COPY sec.t FROM :'copyfile' (FORMAT binary);
-- The reverse: a state that declares 1 GiB over a frame of 100 bytes is
-- refused before the gigabyte is allocated.
CALL sec.write_copy_file(:'copyfile', sec.wire(1073610752, sec.rle_frame(100, 1, true)));
COPY sec.t FROM :'copyfile' (FORMAT binary);
-- A frame that declares the state's 100000 bytes but whose blocks would
-- expand to 1 GiB: decompression stops at the 100000 bytes it has room for
-- (zstd's words for it vary between versions, hence terse).
CALL sec.write_copy_file(:'copyfile', sec.wire(100000, sec.rle_frame(100000, 8191, true)));
\set VERBOSITY terse
COPY sec.t FROM :'copyfile' (FORMAT binary);
\set VERBOSITY default
-- A frame without a content size (no single segment, a window descriptor
-- instead), and one without a checksum.
CALL sec.write_copy_file(:'copyfile', sec.wire(131072, '\x28b52ffd040003001061'));
COPY sec.t FROM :'copyfile' (FORMAT binary);
CALL sec.write_copy_file(:'copyfile', sec.wire(131072, sec.rle_frame(131072, 1, false)));
COPY sec.t FROM :'copyfile' (FORMAT binary);
-- Two frames, each declaring the whole value (their size depends on the
-- zstd version, hence terse), and a skippable frame.
CREATE TABLE sec.good AS
SELECT trace_agg.argmax_state(repeat('a', 131072), 5::bigint) AS s;
SELECT substr(sec.bytes(s), 17) AS frame FROM sec.good \gset
CALL sec.write_copy_file(:'copyfile', sec.wire(131072, :'frame'::bytea || :'frame'::bytea));
\set VERBOSITY terse
COPY sec.t FROM :'copyfile' (FORMAT binary);
\set VERBOSITY default
CALL sec.write_copy_file(:'copyfile', sec.wire(131072, '\x502a4d1804000000616161610000'));
COPY sec.t FROM :'copyfile' (FORMAT binary);
-- the genuine frame is accepted, so the refusals above are about the frames
CALL sec.write_copy_file(:'copyfile', sec.wire(131072, :'frame'));
COPY sec.t FROM :'copyfile' (FORMAT binary);
SELECT length(trace_agg.finalize(s)) AS received_length FROM sec.t;

-- The same forged states stored on disk are refused by every reader that
-- would allocate from them.
CREATE TABLE sec.stored AS
SELECT 1 AS id, sec.stored(100000, sec.rle_frame(1073610752, 8191, true)) AS s
UNION ALL SELECT 2, sec.stored(1073610752, sec.rle_frame(100, 1, true))
UNION ALL SELECT 3, sec.stored(131072, sec.rle_frame(131072, 1, false));
SELECT trace_agg.finalize(s) FROM sec.stored WHERE id = 1;
SELECT trace_agg.finalize(s) FROM sec.stored WHERE id = 2;
SELECT s::text FROM sec.stored WHERE id = 2;
SELECT trace_agg.argmax_text_send(s) FROM sec.stored WHERE id = 2;
SELECT trace_agg.finalize(trace_agg.argmax_merge(s)) FROM sec.stored WHERE id = 2;
SELECT trace_agg.finalize(s) FROM sec.stored WHERE id = 3;
-- merge reads only the fixed parts and hands the winner on unopened
SELECT trace_agg.argmax_key(trace_agg.merge(s, '{"kind": "bigint"}')) FROM sec.stored WHERE id = 1;

-- An honest state of a 64 MiB value takes a few kilobytes; it goes out and
-- back in through COPY BINARY and finalizes to its whole value.
CREATE TABLE sec.big AS
SELECT trace_agg.argmax_state(repeat('a', 64 * 1024 * 1024), 1::bigint) AS s;
SELECT pg_column_size(s) < 65536 AS few_kilobytes FROM sec.big;
COPY sec.big TO :'copyfile' (FORMAT binary);
CREATE TABLE sec.big_back (LIKE sec.big);
COPY sec.big_back FROM :'copyfile' (FORMAT binary);
SELECT length(trace_agg.finalize(s)) AS big_length FROM sec.big_back;

SET client_min_messages = warning;
DROP SCHEMA sec CASCADE;
