-- Generic argmax, argmin, argmax_last and last_set (issue 13): any value
-- type, any key type with a btree ordering; states that name their types,
-- survive their text and binary forms, merge under their rule, and run in
-- parallel.
CREATE SCHEMA aa;
SET search_path = aa, public;
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE TYPE pair AS (a int, b text);
CREATE TABLE ev (id int, arrival int, ts timestamptz, n numeric, m mood, u uuid,
                 arr int[], p pair, t text, j jsonb, k text);
INSERT INTO ev VALUES
    (1, 1, '2025-01-01', 1.5, 'ok', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{1,2}', '(1,x)', 'one', '{"a": 1}', 'b'),
    (1, 2, '2025-01-02', 2.5, 'sad', NULL, '{3}', '(2,y)', 'two', NULL, 'a'),
    (1, 3, '2025-01-02', 3.5, 'happy', 'b0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', NULL, NULL, NULL, '{"a": 3}', 'c'),
    (1, 4, '2024-06-01', 0.5, 'happy', NULL, '{}', '(4,z)', 'four', '[]', 'B'),
    (2, 5, NULL, 9.9, 'ok', NULL, '{9}', '(9,n)', 'nine', '{}', NULL);

-- Values of many types; ties: argmax and argmin keep the first row,
-- argmax_last the later one; NULL values and keys are skipped.
SELECT id, trace_agg.argmax(n, ts) AS max_n, trace_agg.argmin(n, ts) AS min_n,
       trace_agg.argmax_last(n, ts) AS last_n, trace_agg.argmax(m, ts) AS max_m,
       trace_agg.argmax(u, ts) AS max_u, trace_agg.argmax_last(u, ts) AS last_u,
       trace_agg.argmax(arr, ts) AS max_arr, trace_agg.argmax(p, ts) AS max_p,
       trace_agg.argmax(ts, n) AS ts_of_max_n, trace_agg.argmin(j, arrival) AS first_j
FROM ev GROUP BY id ORDER BY id;
-- Keys of other types: an enum orders by its labels, text bytewise ("B" < "a").
SELECT trace_agg.argmax(n, m) AS by_mood, trace_agg.argmin(n, m) AS by_mood_min,
       trace_agg.argmin(n, k) AS by_text_min, trace_agg.argmax(n, k) AS by_text_max,
       trace_agg.argmax(k, arr) AS by_array
FROM ev WHERE id = 1;
-- last_set: a NULL value clears (row 3 ties with row 2 and arrives later),
-- a NULL key leaves the field as it is.
SELECT trace_agg.last_set(t, ts) IS NULL AS cleared,
       trace_agg.last_set(t, CASE WHEN t IS NOT NULL THEN ts END) AS kept,
       trace_agg.argmax_last(t, ts) AS argmax_last_skips_null
FROM ev WHERE id = 1;
-- No row at all.
SELECT trace_agg.argmax(n, ts) FROM ev WHERE false;

-- States: their text form names the types, and reads back to the same state.
CREATE TABLE st AS
SELECT id, trace_agg.argmax_state(n, ts) AS s_n, trace_agg.argmin_state(m, ts) AS s_m,
       trace_agg.argmax_last_state(p, ts) AS s_p, trace_agg.last_set_state(t, ts) AS s_t,
       trace_agg.argmax_state(ev, ts) AS s_row
FROM ev GROUP BY id;
SELECT id, s_n, s_m, s_p, s_t FROM st ORDER BY id;
SELECT id, s_n::text = s_n::text::trace_agg.argmax_any::text AS n_ok,
       s_m::text = s_m::text::trace_agg.argmin_any::text AS m_ok,
       s_p::text = s_p::text::trace_agg.argmax_any::text AS p_ok,
       s_t::text = s_t::text::trace_agg.argmax_any::text AS t_ok,
       s_row::text = s_row::text::trace_agg.argmax_any::text AS row_ok
FROM st ORDER BY id;
SELECT id, trace_agg.finalize(s_n, NULL::numeric) AS n, trace_agg.finalize(s_m, NULL::mood) AS m,
       trace_agg.finalize(s_p, NULL::pair) AS p, trace_agg.finalize(s_t, NULL::text) AS t,
       (trace_agg.finalize(s_row, NULL::ev)).arr AS row_arr,
       trace_agg.argmax_key(s_n) AS key_n, trace_agg.argmin_key(s_m) AS key_m
FROM st ORDER BY id;
-- Literals: type names resolve as in SQL (qualified on output); keys and
-- values use their types' text forms.
SELECT '{"rule": "argmax", "key_type": "bigint", "value_type": "uuid", "key": "7", "value": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"}'::trace_agg.argmax_any;
SELECT '{"rule": "last_set", "key_type": "date", "value_type": "aa.mood", "key": "2025-01-01", "value": null}'::trace_agg.argmax_any;
SELECT '{"rule": "argmin", "key_type": "integer", "value_type": "text"}'::trace_agg.argmin_any;

-- Binary form: COPY BINARY out and in gives the same states, types by name.
CREATE TABLE st2 (LIKE st);
DO $$
DECLARE
    f text := '/tmp/trace_agg_argmax_any_' || pg_backend_pid() || '.bin';
BEGIN
    EXECUTE format('COPY aa.st TO %L (FORMAT binary)', f);
    EXECUTE format('COPY aa.st2 FROM PROGRAM %L (FORMAT binary)', 'cat ' || f || ' && rm ' || f);
END $$;
SELECT count(*) AS same FROM st JOIN st2 USING (id)
WHERE st.s_n::text = st2.s_n::text AND st.s_m::text = st2.s_m::text
  AND st.s_p::text = st2.s_p::text AND st.s_t::text = st2.s_t::text
  AND st.s_row::text = st2.s_row::text;

-- merge: the later state wins only with a greater key, or an equal key
-- under argmax_last and last_set; it returns one of its arguments.
SELECT trace_agg.merge(a, b) AS max_tie_first, trace_agg.merge(b, a) AS max_tie_first_rev
FROM (SELECT '{"rule": "argmax", "key_type": "integer", "value_type": "text", "key": "1", "value": "a"}'::trace_agg.argmax_any AS a,
             '{"rule": "argmax", "key_type": "integer", "value_type": "text", "key": "1", "value": "b"}'::trace_agg.argmax_any AS b) x;
SELECT trace_agg.merge(a, b) AS last_tie_second
FROM (SELECT '{"rule": "argmax_last", "key_type": "integer", "value_type": "text", "key": "1", "value": "a"}'::trace_agg.argmax_any AS a,
             '{"rule": "argmax_last", "key_type": "integer", "value_type": "text", "key": "1", "value": "b"}'::trace_agg.argmax_any AS b) x;
SELECT trace_agg.merge(a, b) AS min_smaller_wins, trace_agg.merge(NULL, a) AS null_gives_other
FROM (SELECT '{"rule": "argmin", "key_type": "integer", "value_type": "text", "key": "2", "value": "a"}'::trace_agg.argmin_any AS a,
             '{"rule": "argmin", "key_type": "integer", "value_type": "text", "key": "1", "value": "b"}'::trace_agg.argmin_any AS b) x;
SELECT trace_agg.merge(s_n, '{"rule": "argmax", "key_type": "timestamp with time zone", "value_type": "numeric"}')::text = s_n::text AS empty_loses
FROM st WHERE id = 1;
-- A large stored state (out of line, uncompressed) merges by its head: the
-- stored state stays when it wins, and its key reads without its value.
CREATE TABLE large (id int PRIMARY KEY, s trace_agg.argmax_any);
INSERT INTO large SELECT 1, trace_agg.argmax_last_state(repeat(md5(i::text), 40000), i) FROM generate_series(1, 3) i;
SELECT pg_column_size(s) > 1000000 AS uncompressed, trace_agg.argmax_key(s) AS key FROM large;
UPDATE large SET s = trace_agg.merge(s, '{"rule": "argmax_last", "key_type": "integer", "value_type": "text", "key": "2", "value": "small"}') RETURNING trace_agg.argmax_key(s) AS key_after_older,
    length(trace_agg.finalize(s, NULL::text)) AS len;
UPDATE large SET s = trace_agg.merge(s, '{"rule": "argmax_last", "key_type": "integer", "value_type": "text", "key": "3", "value": "small"}') RETURNING trace_agg.argmax_key(s) AS key_after_tie,
    trace_agg.finalize(s, NULL::text) AS value;

-- Property: states of random batches, merged in batch order by the merge
-- aggregates (merge() folded left to right), give the one-pass result and
-- that of a plain recomputation of each rule; with keys 0 to 4 over 400
-- rows most winners are ties, which argmax and argmin give to the first
-- arrival and argmax_last and last_set to the last.
SELECT setseed(0.13);
CREATE TABLE rnd AS
SELECT i AS arrival, (random() * 7)::int AS id, (random() * 4)::int AS key,
       CASE WHEN random() < 0.2 THEN NULL ELSE (random() * 1000)::int END AS v,
       (random() * 9)::int AS batch
FROM generate_series(1, 400) i;
UPDATE rnd SET batch = sub.b FROM (
    SELECT arrival, sum(CASE WHEN random() < 0.1 THEN 1 ELSE 0 END) OVER (ORDER BY arrival) AS b FROM rnd) sub
WHERE rnd.arrival = sub.arrival;
CREATE TABLE batch_states AS
SELECT id, batch, trace_agg.argmax_state(v, key) AS amax, trace_agg.argmin_state(v, key) AS amin,
       trace_agg.argmax_last_state(v, key) AS alast, trace_agg.last_set_state(v, key) AS aset
FROM (SELECT * FROM rnd ORDER BY arrival) r GROUP BY id, batch;
CREATE TABLE one_pass AS
SELECT id, trace_agg.argmax(v, key) AS amax, trace_agg.argmin(v, key) AS amin,
       trace_agg.argmax_last(v, key) AS alast, trace_agg.last_set(v, key) AS aset
FROM (SELECT * FROM rnd ORDER BY arrival) r GROUP BY id;
CREATE TABLE merged AS
SELECT id, trace_agg.finalize(trace_agg.argmax_merge(amax ORDER BY batch), NULL::int) AS amax,
       trace_agg.finalize(trace_agg.argmin_merge(amin ORDER BY batch), NULL::int) AS amin,
       trace_agg.finalize(trace_agg.argmax_merge(alast ORDER BY batch), NULL::int) AS alast,
       trace_agg.finalize(trace_agg.argmax_merge(aset ORDER BY batch), NULL::int) AS aset
FROM batch_states GROUP BY id;
-- An independent recomputation of the rules.
CREATE TABLE plain AS
SELECT ids.id,
       (SELECT v FROM rnd r WHERE r.id = ids.id AND v IS NOT NULL ORDER BY key DESC, arrival LIMIT 1) AS amax,
       (SELECT v FROM rnd r WHERE r.id = ids.id AND v IS NOT NULL ORDER BY key, arrival LIMIT 1) AS amin,
       (SELECT v FROM rnd r WHERE r.id = ids.id AND v IS NOT NULL ORDER BY key DESC, arrival DESC LIMIT 1) AS alast,
       (SELECT v FROM rnd r WHERE r.id = ids.id ORDER BY key DESC, arrival DESC LIMIT 1) AS aset
FROM (SELECT DISTINCT id FROM rnd) ids;
SELECT count(*) AS groups,
       count(*) FILTER (WHERE (o.*)::text = (m.*)::text) AS merged_equal,
       count(*) FILTER (WHERE (o.*)::text = (p.*)::text) AS plain_equal,
       count(*) FILTER (WHERE o.aset IS NULL) AS cleared
FROM one_pass o JOIN merged m USING (id) JOIN plain p USING (id);
SELECT count(DISTINCT batch) > 5 AS several_batches FROM rnd;

-- Parallel plans: partial states serialized by workers and combined give
-- the serial answer (keys distinct, so no tie depends on the split).
CREATE TABLE big AS
SELECT i % 50 AS g, (i * 7919) % 100000 AS key, i::numeric AS v, md5(i::text)::uuid AS u
FROM generate_series(1, 100000) i;
ANALYZE big;
CREATE TABLE serial_res AS
SELECT g, trace_agg.argmax(v, key) AS a, trace_agg.argmin(u, key) AS b,
       trace_agg.argmax_state(v, key)::text AS s FROM big GROUP BY g;
SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0; SET max_parallel_workers_per_gather = 2;
SET enable_hashagg = off;
EXPLAIN (COSTS OFF) SELECT g, trace_agg.argmax(v, key) FROM big GROUP BY g;
SELECT count(*) AS same FROM serial_res s JOIN (
    SELECT g, trace_agg.argmax(v, key) AS a, trace_agg.argmin(u, key) AS b,
           trace_agg.argmax_state(v, key)::text AS s FROM big GROUP BY g) p USING (g)
WHERE s.a = p.a AND s.b = p.b AND s.s = p.s;
RESET parallel_setup_cost; RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size; RESET max_parallel_workers_per_gather;
RESET enable_hashagg;

-- Materialized views merge argmin and argmax states of any type: the
-- earliest and the greatest reading per sensor, over two batches.
CREATE TABLE readings (sensor text, at timestamptz, value numeric);
CREATE TABLE sensor_summary (sensor text PRIMARY KEY, first_value trace_agg.argmin_any,
                             peak_at trace_agg.argmax_any);
SELECT trace_agg.create_materialized_view('sensor_summary_mv', 'aa.sensor_summary', $q$
SELECT r.sensor, trace_agg.argmin_state(r.value, r.at) AS first_value,
       trace_agg.argmax_state(r.at, r.value) AS peak_at
FROM aa.readings r GROUP BY r.sensor$q$);
INSERT INTO readings VALUES ('s1', '2025-01-02', 5), ('s1', '2025-01-03', 9), ('s2', '2025-01-01', 1);
INSERT INTO readings VALUES ('s1', '2025-01-01', 7), ('s1', '2025-01-04', 9), ('s2', '2025-01-05', 3);
SELECT sensor, trace_agg.finalize(first_value, NULL::numeric) AS first_value,
       trace_agg.finalize(peak_at, NULL::timestamptz) AS peak_at
FROM sensor_summary ORDER BY sensor;

-- Bad input: clear errors.
SELECT trace_agg.argmax(n, point(1, 2)) FROM ev;
SELECT trace_agg.finalize(s_n, NULL::integer) FROM st WHERE id = 1;
SELECT trace_agg.merge(s_n, '{"rule": "argmax_last", "key_type": "timestamp with time zone", "value_type": "numeric"}') FROM st WHERE id = 1;
SELECT trace_agg.merge(s_n, '{"rule": "argmax", "key_type": "bigint", "value_type": "numeric"}') FROM st WHERE id = 1;
SELECT '{"rule": "argmin", "key_type": "integer", "value_type": "text"}'::trace_agg.argmax_any;
SELECT '{"rule": "argmax", "key_type": "integer", "value_type": "text", "key": "1", "value": null}'::trace_agg.argmax_any;
SELECT '{"rule": "argmax", "key_type": "integer", "value_type": "text", "key": "1"}'::trace_agg.argmax_any;
SELECT '{"rule": "argmax", "key_type": "no_such_type", "value_type": "text"}'::trace_agg.argmax_any;
SELECT '{"rule": "argmax", "key_type": "point", "value_type": "text"}'::trace_agg.argmax_any;
SELECT '{"rule": "argmax", "key_type": "integer", "value_type": "text", "key": "x", "value": "a"}'::trace_agg.argmax_any;
SELECT '[1]'::trace_agg.argmax_any;
SELECT '{"rule": "argmax", "key_type": "integer", "value_type": "text", "key": "1", "value": "a", "extra": "1"}'::trace_agg.argmax_any;

-- A state holding a value of a type that is dropped afterwards is refused
-- on reading, never misread.
CREATE TYPE gone AS ENUM ('x');
CREATE TABLE keep AS SELECT trace_agg.argmax_state('x'::gone, 1) AS s;
DROP TYPE gone;
DO $$
BEGIN
    PERFORM s::text FROM aa.keep;
EXCEPTION WHEN undefined_object THEN
    RAISE NOTICE 'refused: %', regexp_replace(SQLERRM, '[0-9]+', 'N');
END $$;

RESET search_path;
DROP SCHEMA aa CASCADE;
