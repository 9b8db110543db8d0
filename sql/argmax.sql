-- argmax, argmax_state, argmax_merge, merge and finalize follow ClickHouse's
-- argMax: a row wins only with a strictly greater key (the first of equal
-- keys stays), NULL values and keys are skipped, and merging states gives
-- the same answer as one pass over the rows, the earlier state winning ties.
CREATE SCHEMA argmax_test;

-- A small event log of two traces.  ord is the input order.
CREATE TABLE argmax_test.ev (
    trace int, ord int, ts timestamptz, input text, flag boolean, meta jsonb
);
INSERT INTO argmax_test.ev VALUES
    (1, 1, '2025-07-01 10:00:00+00', 'first',  true,  '{"a": "1"}'),
    (1, 2, '2025-07-01 10:00:02+00', 'tie-a',  NULL,  '{"a": "2"}'),
    (1, 3, '2025-07-01 10:00:02+00', 'tie-b',  false, NULL),
    (1, 4, '2025-07-01 10:00:01+00', 'older',  true,  '{"a": "4"}'),
    (1, 5, '2025-07-01 10:00:09+00', NULL,     NULL,  NULL),
    (1, 6, NULL,                     'no-key', true,  '{"a": "6"}'),
    (2, 1, '2025-07-01 11:00:00+00', 'hello',  NULL,  NULL),
    (2, 2, '2025-07-01 11:00:05+00', '',       NULL,  NULL),
    (2, 3, '2025-07-01 11:00:03+00', 'world',  NULL,  NULL);

-- One pass.  Trace 1: the ties at 10:00:02 go to the first row in input
-- order; the NULL value at 10:00:09 and the NULL key are skipped.  Trace 2:
-- '' is an ordinary value and wins with the greatest key.
SELECT trace,
       quote_nullable(trace_agg.argmax(input, ts ORDER BY ord)) AS input,
       trace_agg.argmax(flag, ts ORDER BY ord) AS flag,
       trace_agg.argmax(meta, ts ORDER BY ord) AS meta
FROM argmax_test.ev GROUP BY trace ORDER BY trace;

-- The same rows in reverse input order: now tie-b comes first and wins.
SELECT trace, quote_nullable(trace_agg.argmax(input, ts ORDER BY ord DESC)) AS input
FROM argmax_test.ev GROUP BY trace ORDER BY trace;

-- argmax_state holds the same winner; finalize reads it back.
SELECT trace, s, quote_nullable(trace_agg.finalize(s)) AS value, trace_agg.argmax_key(s) AS key
FROM (SELECT trace, trace_agg.argmax_state(input, ts ORDER BY ord) AS s
      FROM argmax_test.ev GROUP BY trace) t
ORDER BY trace;

-- The product's pattern: an empty input is pushed back to the epoch, so a
-- later '' does not hide an earlier text (trace 2 keeps 'world', the latest
-- non-empty one); a trace with only '' inputs still gets ''.
SELECT trace, trace_agg.finalize(trace_agg.argmax_state(
           input, CASE WHEN input <> '' THEN ts ELSE 'epoch' END ORDER BY ord)) AS input
FROM argmax_test.ev GROUP BY trace ORDER BY trace;
SELECT quote_nullable(trace_agg.finalize(trace_agg.argmax_state(
           v, CASE WHEN v <> '' THEN ts ELSE 'epoch' END ORDER BY ts))) AS only_empty
FROM (VALUES ('', '2025-01-01 00:00:00+00'::timestamptz),
             ('', '2025-01-02 00:00:00+00')) AS r(v, ts);

-- Booleans with NULLs, as bookmarked/public are fed: NULL never wins, so
-- trace 1 keeps false (tie at 10:00:02 where the first row is NULL and
-- skipped), and trace 2, all NULL, finalizes to NULL.
SELECT trace, s, trace_agg.finalize(s) AS flag
FROM (SELECT trace, trace_agg.argmax_state(
                 flag, CASE WHEN flag IS NOT NULL THEN ts ELSE 'epoch' END ORDER BY ord) AS s
      FROM argmax_test.ev GROUP BY trace) t
ORDER BY trace;

-- No input at all: argmax gives NULL; argmax_state gives an empty state of
-- the key kind, which finalizes to NULL and has no key.
SELECT quote_nullable(trace_agg.argmax(input, ts)) AS value,
       trace_agg.argmax_state(input, ts) AS state,
       quote_nullable(trace_agg.finalize(trace_agg.argmax_state(input, ts))) AS finalized,
       quote_nullable(trace_agg.argmax_key(trace_agg.argmax_state(input, ts))) AS key
FROM argmax_test.ev WHERE false;
SELECT trace_agg.argmax_state(flag, ord::bigint) AS bool_empty,
       trace_agg.argmax_state(meta, ts::timestamp) AS jsonb_empty
FROM argmax_test.ev WHERE false;
-- Only skipped rows is the same as no rows.
SELECT trace_agg.argmax_state(input, ts) AS only_nulls
FROM argmax_test.ev WHERE input IS NULL OR ts IS NULL;

-- Every value type with every key type, and the state type each makes.  A
-- domain over jsonb (how the text maps are declared) resolves to jsonb.
CREATE DOMAIN argmax_test.text_map AS jsonb CHECK (jsonb_typeof(VALUE) = 'object');
SELECT pg_typeof(trace_agg.argmax_state('x'::text, now())) AS text_tz,
       pg_typeof(trace_agg.argmax_state(true, localtimestamp)) AS bool_ts,
       pg_typeof(trace_agg.argmax_state('{}'::argmax_test.text_map, 1::bigint)) AS map_bigint,
       pg_typeof(trace_agg.argmax('{}'::argmax_test.text_map, 1::bigint)) AS map_value;
SELECT trace_agg.argmax_state(v, k::bigint) AS bigint_key,
       trace_agg.argmax_state(v, '2025-07-01'::timestamp + k * interval '1 ms') AS timestamp_key,
       trace_agg.argmax_state(v, '2025-07-01+00'::timestamptz + k * interval '1 us') AS timestamptz_key
FROM (VALUES ('a', 3), ('b', -7), ('c', 12), ('d', 12)) AS r(v, k);
SELECT trace_agg.argmax(v, k::bigint) AS text_bigint,
       trace_agg.argmax(v <> 'b', k::bigint) AS bool_bigint,
       trace_agg.argmax(jsonb_build_object('v', v), k::bigint) AS jsonb_bigint,
       trace_agg.argmax(v, '2025-07-01'::timestamp + k * interval '1 s') AS text_timestamp,
       trace_agg.argmax(v = 'c', '2025-07-01'::timestamp + k * interval '1 s') AS bool_timestamp,
       trace_agg.argmax(to_jsonb(k), '2025-07-01'::timestamp + k * interval '1 s') AS jsonb_timestamp
FROM (VALUES ('a', 3), ('b', 15), ('c', -1)) AS r(v, k);
-- jsonb keeps any JSON value, a JSON null included: that is a value, not
-- a skipped row.
SELECT trace_agg.argmax_state(v, k) AS state, trace_agg.finalize(trace_agg.argmax_state(v, k)) AS value
FROM (VALUES ('[1, "x"]'::jsonb, 1::bigint), ('null'::jsonb, 2)) AS r(v, k);

-- Non-ASCII text survives the state, its text form and finalize.
SELECT s, trace_agg.finalize(s) AS value,
       trace_agg.finalize(s::text::trace_agg.argmax_text) = trace_agg.finalize(s) AS round_trip
FROM (SELECT trace_agg.argmax_state(v, 1::bigint) AS s
      FROM (VALUES ('héllo wörld ✓ 日本語 "quoted" \ tab	end')) AS r(v)) t;

-- merge: the greater key wins; on a tie the first argument stays, in both
-- orders; NULL on one side gives the other; an empty state never wins.
CREATE TABLE argmax_test.st (name text, s trace_agg.argmax_text);
INSERT INTO argmax_test.st VALUES
    ('early', '{"key": "2025-07-01 10:00:00+00", "kind": "timestamptz", "value": "early"}'),
    ('late',  '{"key": "2025-07-01 10:00:05+00", "kind": "timestamptz", "value": "late"}'),
    ('tie1',  '{"key": "2025-07-01 10:00:05+00", "kind": "timestamptz", "value": "tie1"}'),
    ('empty', '{"kind": "timestamptz"}'),
    ('other', '{"key": 5, "kind": "bigint", "value": "other"}');
SELECT a.name AS first, b.name AS second,
       quote_nullable(trace_agg.finalize(trace_agg.merge(a.s, b.s))) AS winner
FROM argmax_test.st a, argmax_test.st b
WHERE a.name <> 'other' AND b.name <> 'other'
ORDER BY a.name, b.name;
SELECT trace_agg.finalize(trace_agg.merge(NULL, s)) AS null_first,
       trace_agg.finalize(trace_agg.merge(s, NULL)) AS null_second,
       trace_agg.merge(NULL::trace_agg.argmax_text, NULL) IS NULL AS both_null
FROM argmax_test.st WHERE name = 'late';
SELECT trace_agg.merge(a.s, b.s) AS empty_empty
FROM argmax_test.st a, argmax_test.st b WHERE a.name = 'empty' AND b.name = 'empty';
SELECT trace_agg.merge('{"key": 1, "kind": "bigint", "value": false}'::trace_agg.argmax_bool,
                       '{"key": 1, "kind": "bigint", "value": true}') AS bool_tie,
       trace_agg.merge('{"key": 1, "kind": "bigint", "value": {"x": 1}}'::trace_agg.argmax_jsonb,
                       '{"key": 2, "kind": "bigint", "value": {"y": 2}}') AS jsonb_later;

-- States of different key kinds cannot be merged, not even empty ones.
SELECT trace_agg.merge(a.s, b.s) FROM argmax_test.st a, argmax_test.st b
WHERE a.name = 'late' AND b.name = 'other';
SELECT trace_agg.merge(a.s, b.s) FROM argmax_test.st a, argmax_test.st b
WHERE a.name = 'other' AND b.name = 'empty';
SELECT trace_agg.argmax_merge(s) FROM argmax_test.st;

-- argmax_merge: ties go to the earlier state in input order; NULL states
-- are skipped; no rows give NULL.
SELECT trace_agg.argmax_merge(s ORDER BY name) AS forward,
       trace_agg.argmax_merge(s ORDER BY name DESC) AS backward
FROM argmax_test.st WHERE name <> 'other';
SELECT trace_agg.argmax_merge(s) IS NULL AS no_rows FROM argmax_test.st WHERE false;
SELECT trace_agg.finalize(trace_agg.argmax_merge(s)) AS nulls_skipped
FROM (SELECT s FROM argmax_test.st WHERE name = 'early' UNION ALL SELECT NULL) t;
SELECT trace_agg.argmax_merge(s) AS only_empty FROM argmax_test.st WHERE name = 'empty';

-- Merge is associative and, with the tie rule, equals one pass: for a run
-- of rows full of ties, every split into two and into three in-order
-- batches gives the one-pass winner, through merge() and argmax_merge().
CREATE TABLE argmax_test.run AS
SELECT i AS ord, 'v' || i AS v, (i * 7 % 5)::bigint AS k FROM generate_series(1, 12) i;
SELECT trace_agg.argmax(v, k ORDER BY ord) AS one_pass FROM argmax_test.run;
SELECT count(*) AS splits,
       count(*) FILTER (WHERE trace_agg.finalize(two) = one) AS two_batches_agree,
       count(*) FILTER (WHERE trace_agg.finalize(three) = one) AS three_batches_agree
FROM (
    SELECT (SELECT trace_agg.argmax(v, k ORDER BY ord) FROM argmax_test.run) AS one,
           trace_agg.merge(
               (SELECT trace_agg.argmax_state(v, k ORDER BY ord) FROM argmax_test.run WHERE ord <= a),
               (SELECT trace_agg.argmax_state(v, k ORDER BY ord) FROM argmax_test.run WHERE ord > a)) AS two,
           (SELECT trace_agg.argmax_merge(s ORDER BY batch)
            FROM (SELECT 1 AS batch, trace_agg.argmax_state(v, k ORDER BY ord) AS s
                  FROM argmax_test.run WHERE ord <= a
                  UNION ALL
                  SELECT 2, trace_agg.argmax_state(v, k ORDER BY ord)
                  FROM argmax_test.run WHERE ord > a AND ord <= b
                  UNION ALL
                  SELECT 3, trace_agg.argmax_state(v, k ORDER BY ord)
                  FROM argmax_test.run WHERE ord > b) batches) AS three
    FROM generate_series(0, 12) a, generate_series(0, 12) b
    WHERE a <= b
) t;
-- (a, b) merged as (a, b) then c equals a then (b, c).
SELECT trace_agg.finalize(trace_agg.merge(trace_agg.merge(x, y), z)) AS left_first,
       trace_agg.finalize(trace_agg.merge(x, trace_agg.merge(y, z))) AS right_first
FROM (SELECT '{"key": 4, "kind": "bigint", "value": "x"}'::trace_agg.argmax_text AS x,
             '{"key": 4, "kind": "bigint", "value": "y"}'::trace_agg.argmax_text AS y,
             '{"key": 2, "kind": "bigint", "value": "z"}'::trace_agg.argmax_text AS z) t;

-- As a window aggregate: the running winner.
SELECT ord, k, trace_agg.argmax(v, k) OVER (ORDER BY ord) AS running
FROM argmax_test.run WHERE ord <= 6 ORDER BY ord;

DROP SCHEMA argmax_test CASCADE;
