#!/usr/bin/env bash
# Forged argmax_text states are refused before anything is allocated from
# the lengths they declare (issue 10, finding 13): a state that declares a
# value of 1 GiB over a zstd frame of 17 bytes, received through COPY BINARY
# or read from disk by finalize, output and send, leaves the backend's peak
# virtual size (VmPeak, which counts allocations whether or not they are
# touched) within a few megabytes.  The regression test security_input
# checks the messages; this checks the memory, which SQL cannot see.
set -euo pipefail
psql() { "$TA_BINDIR/psql" -X -q -At "$@"; }

psql -v ON_ERROR_STOP=1 -c "CREATE EXTENSION trace_agg" >/dev/null
out=$(psql -d postgres 2>&1 <<'SQL'
CREATE TYPE raw;
CREATE FUNCTION raw_in(cstring) RETURNS raw AS 'byteain' LANGUAGE internal IMMUTABLE STRICT;
CREATE FUNCTION raw_out(raw) RETURNS cstring AS 'byteaout' LANGUAGE internal IMMUTABLE STRICT;
CREATE TYPE raw (INPUT = raw_in, OUTPUT = raw_out, INTERNALLENGTH = VARIABLE,
                 ALIGNMENT = double, STORAGE = external);
CREATE CAST (trace_agg.argmax_text AS raw) WITHOUT FUNCTION;
CREATE CAST (raw AS trace_agg.argmax_text) WITHOUT FUNCTION;
-- rawlen 1073610752 and a frame declaring 100 bytes (magic, single segment
-- with a 4-byte size and checksum flag, size, one RLE block, checksum)
CREATE TABLE forged AS
SELECT '\x0103830100000000000000053ffe0000'::bytea || int4send(17)
       || '\x28b52ffda4640000000300086100000000'::bytea AS wire,
       (CASE WHEN get_byte(real, 0) = 1 THEN '\x0000fe3f'::bytea ELSE '\x3ffe0000'::bytea END
        || substr(real, 5, 8) || '\x01038301'::bytea
        || '\x28b52ffda4640000000300086100000000'::bytea)::text::raw::trace_agg.argmax_text AS s
FROM (SELECT '{"key": 5, "kind": "bigint", "value": "x"}'::trace_agg.argmax_text::raw::text::bytea) r(real);
CREATE TABLE t (s trace_agg.argmax_text);
SELECT current_setting('data_directory') || '/input_memory.copy' AS copyfile \gset
SELECT pg_catalog.lo_from_bytea(0,
        '\x5047434f50590aff0d0a00'::bytea || '\x00000000'::bytea || '\x00000000'::bytea
        || '\x0001'::bytea || int4send(length(wire)) || wire || '\xffff'::bytea) AS lo
FROM forged \gset
SELECT pg_catalog.lo_export(:lo, :'copyfile') \gset
CREATE FUNCTION vmpeak_mb() RETURNS int LANGUAGE sql AS $$
SELECT substring(s FROM 'VmPeak:\s*(\d+)')::int / 1024
FROM pg_read_file('/proc/' || pg_backend_pid() || '/status') s $$;
SELECT vmpeak_mb() AS before \gset
COPY t FROM :'copyfile' (FORMAT binary);
SELECT trace_agg.finalize(s) FROM forged;
SELECT s::text FROM forged;
SELECT trace_agg.argmax_text_send(s) FROM forged;
SELECT 'growth ' || (vmpeak_mb() - :before);
SQL
)
echo "$out"
refused=$(grep -c 'declares a value of 100 bytes, but the state declares 1073610752' <<<"$out" || true)
growth=$(sed -n 's/^growth //p' <<<"$out")
[ "$refused" = 4 ] || { echo "expected 4 refusals naming both sizes, got $refused"; exit 1; }
[ -n "$growth" ] && [ "$growth" -lt 64 ] || { echo "peak virtual size grew by ${growth:-?} MB"; exit 1; }
echo "refused 4 forged states; peak virtual size grew by $growth MB"
