-- Large values: zstd compression of argmax_text, exact round trips, and
-- merging that reads only the fixed part of a TOASTed state and leaves a
-- stored state that keeps winning untouched.
CREATE SCHEMA argmax_test;

-- Texts: a 1 MB compressible one, 1 MB of random characters, and random
-- ones just below and above the 128-byte compression threshold.
SELECT setseed(0.25);
CREATE TABLE argmax_test.val (name text, v text);
INSERT INTO argmax_test.val
SELECT 'compressible', repeat('{"role": "user", "content": "tell me about traces"} ', 20000);
INSERT INTO argmax_test.val
SELECT name, (SELECT string_agg(chr(32 + (random() * 94)::int), '')
              FROM generate_series(1, n) WHERE n > 0)
FROM (VALUES ('random 1 MB', 1000000), ('random 127', 127), ('random 200', 200)) AS r(name, n);

-- The state of the compressible text is a tiny fraction of it; random text
-- gains little and stays raw when zstd would not make it smaller (a raw
-- state is the text plus 20 bytes of headers).  finalize and the text form
-- give every one back exactly.
SELECT name, octet_length(v) AS raw_bytes,
       pg_column_size(s) < octet_length(v) / 100 AS under_1_percent,
       pg_column_size(s) - octet_length(v) = 20 AS stored_raw,
       md5(trace_agg.finalize(s)) = md5(v) AS exact,
       md5(trace_agg.finalize(s::text::trace_agg.argmax_text)) = md5(v) AS exact_via_text
FROM (SELECT name, v, trace_agg.argmax_state(v, 1::bigint) AS s
      FROM argmax_test.val GROUP BY name, v) t
ORDER BY name;
SELECT pg_column_size(s) BETWEEN 700000 AND 999999 AS random_1mb_compressed_somewhat
FROM (SELECT trace_agg.argmax_state(v, 1::bigint) AS s
      FROM argmax_test.val WHERE name = 'random 1 MB') t;

-- trace_agg.zstd_level picks the level; every level reads back the same.
SET trace_agg.zstd_level = 1;
CREATE TABLE argmax_test.levels AS
SELECT 1 AS level, trace_agg.argmax_state(v, 1::bigint) AS s FROM argmax_test.val WHERE name = 'random 1 MB';
SET trace_agg.zstd_level = 19;
INSERT INTO argmax_test.levels
SELECT 19, trace_agg.argmax_state(v, 1::bigint) FROM argmax_test.val WHERE name = 'random 1 MB';
RESET trace_agg.zstd_level;
SELECT level, md5(trace_agg.finalize(s)) = (SELECT md5(v) FROM argmax_test.val WHERE name = 'random 1 MB') AS exact
FROM argmax_test.levels ORDER BY level;
-- Levels outside 1 to 19 are refused.
SET trace_agg.zstd_level = 20;

-- A table of stored states, as an aggregating table keeps them.  The
-- random 1 MB state is far too big to stay inline, so it lives in TOAST.
CREATE TABLE argmax_test.agg (id int PRIMARY KEY, input trace_agg.argmax_text);
INSERT INTO argmax_test.agg
SELECT 1, trace_agg.argmax_state(v, '2025-07-01 10:00:00+00'::timestamptz)
FROM argmax_test.val WHERE name = 'random 1 MB';
SELECT reltoastrelid::regclass AS toastrel FROM pg_class
WHERE oid = 'argmax_test.agg'::regclass \gset
CREATE TABLE argmax_test.chunks_before AS SELECT DISTINCT chunk_id FROM :toastrel;
SELECT count(*) AS toasted_values FROM argmax_test.chunks_before;

-- Reading the key fetches one block of the TOAST table; finalize fetches
-- them all.  (Block counts are compared within a transaction, where the
-- backend's counters are not flushed.)
BEGIN;
SELECT pg_stat_get_xact_blocks_fetched(:'toastrel'::regclass) AS fetched \gset
SELECT trace_agg.argmax_key(input) FROM argmax_test.agg;
SELECT pg_stat_get_xact_blocks_fetched(:'toastrel'::regclass) - :fetched AS key_blocks;
SELECT pg_stat_get_xact_blocks_fetched(:'toastrel'::regclass) AS fetched \gset
SELECT md5(trace_agg.finalize(input)) = (SELECT md5(v) FROM argmax_test.val WHERE name = 'random 1 MB') AS exact
FROM argmax_test.agg;
SELECT pg_stat_get_xact_blocks_fetched(:'toastrel'::regclass) - :fetched > 50 AS finalize_reads_all;
COMMIT;

-- An older event and then an equal-keyed one arrive for the row: both lose.
-- merge() hands back the stored datum itself, so the row keeps its TOAST
-- pointer: the same chunks, nothing rewritten, and each merge read one
-- block of the TOAST table.
BEGIN;
SELECT pg_stat_get_xact_blocks_fetched(:'toastrel'::regclass) AS fetched \gset
INSERT INTO argmax_test.agg
SELECT 1, trace_agg.argmax_state('older', '2025-07-01 09:00:00+00'::timestamptz)
ON CONFLICT (id) DO UPDATE SET input = trace_agg.merge(agg.input, excluded.input);
INSERT INTO argmax_test.agg
SELECT 1, trace_agg.argmax_state('same time', '2025-07-01 10:00:00+00'::timestamptz)
ON CONFLICT (id) DO UPDATE SET input = trace_agg.merge(agg.input, excluded.input);
SELECT pg_stat_get_xact_blocks_fetched(:'toastrel'::regclass) - :fetched AS two_merges_blocks;
COMMIT;
SELECT (SELECT array_agg(chunk_id ORDER BY chunk_id) FROM (SELECT DISTINCT chunk_id FROM :toastrel) c)
     = (SELECT array_agg(chunk_id ORDER BY chunk_id) FROM argmax_test.chunks_before) AS same_toast_value,
       md5(trace_agg.finalize(input)) = (SELECT md5(v) FROM argmax_test.val WHERE name = 'random 1 MB') AS exact
FROM argmax_test.agg;

-- A newer event wins: the row takes the new state and the old TOAST value
-- is gone.
INSERT INTO argmax_test.agg
SELECT 1, trace_agg.argmax_state('newer', '2025-07-01 11:00:00+00'::timestamptz)
ON CONFLICT (id) DO UPDATE SET input = trace_agg.merge(agg.input, excluded.input);
SELECT trace_agg.finalize(input) AS input,
       (SELECT count(*) FROM :toastrel) AS toast_chunks_left
FROM argmax_test.agg;

-- argmax_merge over TOASTed states: the winner comes back whole, whichever
-- order the states arrive in.
CREATE TABLE argmax_test.parts (ord int, s trace_agg.argmax_text);
INSERT INTO argmax_test.parts
SELECT ord, trace_agg.argmax_state(v || ord, ('2025-07-01'::timestamp + ord * interval '1 min'))
FROM argmax_test.val, (VALUES (1), (3), (2)) AS o(ord)
WHERE name = 'random 1 MB'
GROUP BY ord, v;
SELECT right(trace_agg.finalize(trace_agg.argmax_merge(s ORDER BY ord)), 1) AS forward,
       right(trace_agg.finalize(trace_agg.argmax_merge(s ORDER BY ord DESC)), 1) AS backward,
       md5(trace_agg.finalize(trace_agg.argmax_merge(s)))
           = (SELECT md5(v || '3') FROM argmax_test.val WHERE name = 'random 1 MB') AS exact
FROM argmax_test.parts;

DROP SCHEMA argmax_test CASCADE;
