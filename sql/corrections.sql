-- Corrections that merge in any order (issue 13, item 3): a field cleared
-- on purpose (last_set), tags removed and added again (tag_set_state), and
-- metadata keys set and removed by event time (metadata_state).  Each is
-- checked by hand, then as a property: random events in random batches and
-- random orders of arrival give the one-pass result and that of a plain
-- recomputation of the rule.
CREATE SCHEMA corr;
SET search_path = corr, public;

-- last_set: a NULL key (the event does not touch the field) leaves it; a
-- NULL value with a key clears it; the latest event wins, ties go to the
-- later arrival.
SELECT trace_agg.last_set(v, CASE WHEN touched THEN ts END) AS name
FROM (VALUES ('a', true, '2025-01-01'::timestamptz), (NULL, false, '2025-01-03'),
             (NULL, true, '2025-01-02'), ('b', true, '2025-01-01')) e(v, touched, ts);
SELECT trace_agg.last_set(v, CASE WHEN touched THEN ts END) AS name
FROM (VALUES ('a', true, '2025-01-01'::timestamptz), (NULL, true, '2025-01-02'),
             ('c', true, '2025-01-02')) e(v, touched, ts);

-- Tags: the latest operation per tag wins; a removal wins a tie; a tag
-- removed can come back later; an older addition arriving late does not
-- bring a removed tag back; NULL elements and NULL times are skipped.
SELECT trace_agg.tags(a, r, ts) AS tags, trace_agg.tag_set_state(a, r, ts) AS state
FROM (VALUES ('{x,y,z}'::text[], NULL::text[], '2025-01-01 10:00'::timestamptz),
             (NULL, '{x,y}', '2025-01-01 11:00'),
             ('{x}', NULL, '2025-01-01 12:00'),
             ('{y,NULL}', NULL, '2025-01-01 10:30'),
             ('{w}', '{w}', '2025-01-01 10:00'),
             ('{v}', NULL, NULL)) e(a, r, ts);
SELECT trace_agg.tags(NULL, NULL, NULL) AS no_events, trace_agg.lww_keys('{}') AS empty;

-- Metadata: per key the latest value; removal; ties: removal first, then
-- the greater value in jsonb order, whatever the order of arrival.
SELECT trace_agg.metadata(s, r, ts) AS metadata
FROM (VALUES ('{"env": "dev", "user": "ann", "n": 1}'::jsonb, NULL::text[], '2025-01-01'::timestamptz),
             ('{"env": "prod"}', '{user}', '2025-01-02'),
             ('{"env": "staging"}', NULL, '2025-01-01 12:00'),
             ('{"n": 2}', NULL, '2025-01-01'),
             ('{"gone": "x"}', '{gone}', '2025-01-01')) e(s, r, ts);
SELECT trace_agg.metadata(s, NULL, '2025-01-01') AS tie_greater_value
FROM (VALUES ('{"k": "b"}'::jsonb), ('{"k": "a"}')) e(s);
SELECT trace_agg.metadata(s, NULL, '2025-01-01') AS tie_greater_value_reversed
FROM (VALUES ('{"k": "a"}'::jsonb), ('{"k": "b"}')) e(s);

-- lww_merge returns its first argument when the second changes nothing.
SELECT trace_agg.lww_merge('{"x": {"t": 5}}', '{"x": {"t": 4}}') AS older_ignored,
       trace_agg.lww_merge('{"x": {"t": 5}}', '{"x": {"t": 5, "d": true}}') AS removal_wins_tie,
       trace_agg.lww_merge(NULL, '{"x": {"t": 5}}') AS null_gives_other;

-- Bad input: clear errors.
SELECT trace_agg.metadata('[1, 2]', NULL, '2025-01-01');
SELECT trace_agg.tags('{a}', NULL, 'infinity');
SELECT '{"x": {"t": "soon"}}'::trace_agg.lww_map;
SELECT '{"x": {"t": 1, "d": false}}'::trace_agg.lww_map;
SELECT '[]'::trace_agg.lww_map;

-- Property.  600 events over 10 ids, times on a 7-second grid (many ties),
-- random tag additions and removals, metadata sets and removals, a name set,
-- cleared or left; 5% of events without a time.
SELECT setseed(0.31);
CREATE TABLE ev AS
SELECT i AS arrival, (random() * 9)::int AS id,
       CASE WHEN random() < 0.05 THEN NULL
            ELSE '2025-05-01'::timestamptz + (random() * 6)::int * interval '1 second' END AS ts,
       ARRAY(SELECT 'tag' || (random() * 5)::int FROM generate_series(1, (random() * 2)::int + 0 * i)) AS tags_added,
       ARRAY(SELECT 'tag' || (random() * 5)::int FROM generate_series(1, (random() * 1.2)::int + 0 * i)) AS tags_removed,
       (SELECT jsonb_object_agg('k' || (random() * 3)::int, 'v' || (random() * 3)::int)
        FROM generate_series(1, (random() * 2)::int + 0 * i)) AS meta_set,
       ARRAY(SELECT 'k' || (random() * 3)::int FROM generate_series(1, (random() * 1.2)::int + 0 * i)) AS meta_removed,
       CASE WHEN random() < 0.3 THEN NULL ELSE 'name' || (random() * 9)::int END AS name,
       random() < 0.6 AS name_set,
       random() AS order2
FROM generate_series(1, 600) i;

-- One pass, in arrival order.
CREATE TABLE one_pass AS
SELECT id, trace_agg.tags(tags_added, tags_removed, ts) AS tags,
       trace_agg.metadata(meta_set, meta_removed, ts) AS metadata,
       trace_agg.last_set(name, CASE WHEN name_set THEN ts END) AS name
FROM (SELECT * FROM ev ORDER BY arrival) e GROUP BY id;

-- The plain rule: per element the latest operation by (time, removal,
-- value); per field the latest event setting it, later arrival on ties.
CREATE TABLE plain AS
SELECT ids.id,
       (SELECT COALESCE(array_agg(tag ORDER BY tag COLLATE "C") FILTER (WHERE NOT removal), '{}')
        FROM (SELECT DISTINCT ON (tag) tag, removal
              FROM (SELECT unnest(tags_added) AS tag, false AS removal, ts FROM ev WHERE id = ids.id
                    UNION ALL
                    SELECT unnest(tags_removed), true, ts FROM ev WHERE id = ids.id) o
              WHERE ts IS NOT NULL ORDER BY tag, ts DESC, removal DESC) l) AS tags,
       (SELECT COALESCE(jsonb_object_agg(k, v) FILTER (WHERE NOT removal), '{}')
        FROM (SELECT DISTINCT ON (k) k, v, removal
              FROM (SELECT x.k, x.v, false AS removal, ts FROM ev, jsonb_each(meta_set) x(k, v) WHERE id = ids.id
                    UNION ALL
                    SELECT unnest(meta_removed), NULL, true, ts FROM ev WHERE id = ids.id) o
              WHERE ts IS NOT NULL ORDER BY k, ts DESC, removal DESC, v DESC) l) AS metadata,
       (SELECT name FROM ev WHERE id = ids.id AND name_set AND ts IS NOT NULL
        ORDER BY ts DESC, arrival DESC LIMIT 1) AS name
FROM (SELECT DISTINCT id FROM ev) ids;

-- States of random batches (in arrival order), folded in a random order:
-- tags and metadata do not depend on it.
CREATE AGGREGATE fold(trace_agg.lww_map) (SFUNC = trace_agg.lww_merge, STYPE = trace_agg.lww_map);
CREATE TABLE batch_of AS
SELECT arrival, sum(CASE WHEN random() < 0.08 THEN 1 ELSE 0 END) OVER (ORDER BY arrival) AS batch FROM ev;
CREATE TABLE batch_states AS
SELECT id, batch, trace_agg.tag_set_state(tags_added, tags_removed, ts) AS tags,
       trace_agg.metadata_state(meta_set, meta_removed, ts) AS metadata,
       trace_agg.last_set_state(name, CASE WHEN name_set THEN ts END) AS name
FROM (SELECT * FROM ev JOIN batch_of USING (arrival) ORDER BY arrival) e GROUP BY id, batch;
CREATE TABLE merged AS
SELECT id, trace_agg.lww_keys(fold(tags ORDER BY random())) AS tags,
       trace_agg.lww_values(fold(metadata ORDER BY random())) AS metadata,
       trace_agg.finalize(trace_agg.argmax_merge(name ORDER BY batch), NULL::text) AS name
FROM batch_states GROUP BY id;

-- Through materialized views: the same events in random batches, once in
-- arrival order and once in another random order (tags and metadata only:
-- ties of last_set follow arrival by design).
CREATE TABLE src (LIKE ev);
CREATE TABLE src2 (LIKE ev);
CREATE TABLE target (id int PRIMARY KEY, tags trace_agg.lww_map, metadata trace_agg.lww_map,
                     name trace_agg.argmax_any);
CREATE TABLE target2 (id int PRIMARY KEY, tags trace_agg.lww_map, metadata trace_agg.lww_map);
SELECT trace_agg.create_materialized_view('target_mv', 'corr.target', $q$
SELECT e.id, trace_agg.tag_set_state(e.tags_added, e.tags_removed, e.ts) AS tags,
       trace_agg.metadata_state(e.meta_set, e.meta_removed, e.ts) AS metadata,
       trace_agg.last_set_state(e.name, CASE WHEN e.name_set THEN e.ts END) AS name
FROM corr.src e GROUP BY e.id$q$);
SELECT trace_agg.create_materialized_view('target2_mv', 'corr.target2', $q$
SELECT e.id, trace_agg.tag_set_state(e.tags_added, e.tags_removed, e.ts) AS tags,
       trace_agg.metadata_state(e.meta_set, e.meta_removed, e.ts) AS metadata
FROM corr.src2 e GROUP BY e.id$q$);
DO $$
DECLARE
    lo int := 0;
    hi int;
BEGIN
    WHILE lo < 600 LOOP
        hi := lo + 1 + (random() * 40)::int;
        INSERT INTO corr.src SELECT * FROM corr.ev WHERE arrival > lo AND arrival <= hi ORDER BY arrival;
        INSERT INTO corr.src2
        SELECT (x.e).* FROM (SELECT e, row_number() OVER (ORDER BY e.order2) AS pos FROM corr.ev e) x
        WHERE pos > lo AND pos <= hi ORDER BY pos;
        lo := hi;
    END LOOP;
END $$;
CREATE TABLE viewed AS
SELECT t.id, trace_agg.lww_keys(t.tags) AS tags, trace_agg.lww_values(t.metadata) AS metadata,
       trace_agg.finalize(t.name, NULL::text) AS name
FROM target t;
CREATE TABLE viewed2 AS
SELECT t.id, trace_agg.lww_keys(t.tags) AS tags, trace_agg.lww_values(t.metadata) AS metadata
FROM target2 t;

SELECT count(*) AS ids,
       count(*) FILTER (WHERE (o.*)::text = (p.*)::text) AS one_pass_is_plain,
       count(*) FILTER (WHERE (o.*)::text = (m.*)::text) AS batches_equal,
       count(*) FILTER (WHERE (o.*)::text = (v.*)::text) AS view_equal,
       count(*) FILTER (WHERE o.tags = v2.tags AND o.metadata = v2.metadata) AS other_order_equal
FROM one_pass o JOIN plain p USING (id) JOIN merged m USING (id)
JOIN viewed v USING (id) JOIN viewed2 v2 USING (id);
-- The events exercised every rule: removals that stayed, ties of event
-- times, names cleared on purpose.
SELECT (SELECT count(DISTINCT batch) FROM batch_of) > 20 AS many_batches,
       (SELECT count(*) FROM target t, jsonb_each(t.tags) x(k, e) WHERE e ? 'd') AS removed_tags,
       (SELECT count(*) FROM target t, jsonb_each(t.metadata) x(k, e) WHERE e ? 'd') AS removed_keys,
       (SELECT count(*) FROM one_pass WHERE name IS NULL) AS cleared_names,
       (SELECT count(*) FROM (SELECT id, ts FROM ev WHERE ts IS NOT NULL GROUP BY id, ts HAVING count(*) > 1) t) AS tied_times;

RESET search_path;
DROP SCHEMA corr CASCADE;
