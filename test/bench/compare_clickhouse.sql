-- test/bench/compare_clickhouse.sql: trace_agg's finalized traces (its read
-- views traces_all, traces_7d, traces_30d) against ClickHouse 18.16's
-- (test/bench/clickhouse_read.sql, loaded by test/bench/run into
-- bench.ch_raw as one JSON object a trace), field by field.  Records, per
-- view and field, how many traces differ and one example in bench.ch_check;
-- the benchmark fails on any difference.
--
-- Normalization, each for a documented difference of form, not of value:
--   timestamps  ClickHouse's are Decimal64(3) epoch seconds: both sides
--               compared as epoch seconds (numeric, trailing zeros cut);
--   sets        tags, observation_ids, score_ids sorted bytewise on both
--               sides (ClickHouse's groupUniqArray order is a hash table's);
--   maps        compared as jsonb (key order is not part of the value),
--               numbers by value (Decimal(38, 12) prints 12 digits); keys
--               whose sum is 0 are dropped from trace_agg's sums, because
--               ClickHouse's sumMap drops them (README, known deviations);
--   booleans    ClickHouse's UInt8 1/0 read as true/false.
\set ON_ERROR_STOP 1
SET bench.shape = :'shape';
CREATE FUNCTION pg_temp.epoch(t timestamptz) RETURNS text
    LANGUAGE sql IMMUTABLE RETURN trim_scale(extract(epoch FROM t))::text;
CREATE FUNCTION pg_temp.epoch(j jsonb) RETURNS text
    LANGUAGE sql IMMUTABLE RETURN trim_scale((j #>> '{}')::numeric)::text;
CREATE FUNCTION pg_temp.sorted(a text[]) RETURNS text
    LANGUAGE sql IMMUTABLE RETURN (SELECT array_agg(x ORDER BY x COLLATE "C") FROM unnest(a) x)::text;
CREATE FUNCTION pg_temp.sorted(j jsonb) RETURNS text
    LANGUAGE sql IMMUTABLE
    RETURN (SELECT array_agg(x ORDER BY x COLLATE "C") FROM jsonb_array_elements_text(j) x)::text;
-- A map of trace_agg, numbers cut of trailing zeros, zero sums dropped.
CREATE FUNCTION pg_temp.sums(m jsonb) RETURNS text
    LANGUAGE sql IMMUTABLE
    RETURN (SELECT coalesce(jsonb_object_agg(key, trim_scale(value::text::numeric)), '{}')
            FROM jsonb_each(m) WHERE value::text::numeric <> 0)::text;
-- A map of ClickHouse, from its key and value arrays.
CREATE FUNCTION pg_temp.ch_sums(k jsonb, v jsonb) RETURNS text
    LANGUAGE sql IMMUTABLE
    RETURN (SELECT coalesce(jsonb_object_agg(kk, trim_scale((vv #>> '{}')::numeric)), '{}')
            FROM jsonb_array_elements_text(k) WITH ORDINALITY a(kk, i)
            JOIN jsonb_array_elements(v) WITH ORDINALITY b(vv, j) ON i = j)::text;
CREATE FUNCTION pg_temp.ch_texts(k jsonb, v jsonb) RETURNS text
    LANGUAGE sql IMMUTABLE
    RETURN (SELECT coalesce(jsonb_object_agg(kk, vv), '{}')
            FROM jsonb_array_elements_text(k) WITH ORDINALITY a(kk, i)
            JOIN jsonb_array_elements(v) WITH ORDINALITY b(vv, j) ON i = j)::text;

WITH ta AS (
    SELECT 'traces_all' AS view, * FROM ta.traces_all
    UNION ALL SELECT 'traces_7d', * FROM ta.traces_7d
    UNION ALL SELECT 'traces_30d', * FROM ta.traces_30d
), ch AS (
    SELECT view, j FROM bench.ch_raw WHERE shape = :'shape'
), pairs AS (
    SELECT coalesce(t.view, c.view) AS either_view, t.view IS NOT NULL AS in_ta, t.*, c.j
    FROM ta t FULL JOIN ch c ON c.view = t.view AND c.j->>'project_id' = t.project_id AND c.j->>'id' = t.id
), fields AS (
    SELECT p.either_view AS view, p.in_ta, p.j IS NOT NULL AS in_ch,
           coalesce(p.project_id, p.j->>'project_id') || '/' || coalesce(p.id, p.j->>'id') AS trace, f.*
    FROM pairs p
    CROSS JOIN LATERAL (VALUES
        ('timestamp', pg_temp.epoch(p."timestamp"), pg_temp.epoch(p.j->'timestamp')),
        ('start_time', pg_temp.epoch(p.start_time), pg_temp.epoch(p.j->'start_time')),
        ('end_time', pg_temp.epoch(p.end_time), pg_temp.epoch(p.j->'end_time')),
        ('name', p.name, p.j->>'name'),
        ('metadata', p.metadata::jsonb::text, pg_temp.ch_texts(p.j->'metadata_keys', p.j->'metadata_values')),
        ('user_id', p.user_id, p.j->>'user_id'),
        ('session_id', p.session_id, p.j->>'session_id'),
        ('environment', p.environment, p.j->>'environment'),
        ('tags', pg_temp.sorted(p.tags), pg_temp.sorted(p.j->'tags')),
        ('version', p.version, p.j->>'version'),
        ('release', p.release, p.j->>'release'),
        ('bookmarked', p.bookmarked::text, (p.j->>'bookmarked')::boolean::text),
        ('public', p.public::text, (p.j->>'public')::boolean::text),
        ('observation_ids', pg_temp.sorted(p.observation_ids), pg_temp.sorted(p.j->'observation_ids')),
        ('score_ids', pg_temp.sorted(p.score_ids), pg_temp.sorted(p.j->'score_ids')),
        ('cost_details', pg_temp.sums(p.cost_details::jsonb),
         pg_temp.ch_sums(p.j->'cost_details_keys', p.j->'cost_details_values')),
        ('usage_details', pg_temp.sums(p.usage_details::jsonb),
         pg_temp.ch_sums(p.j->'usage_details_keys', p.j->'usage_details_values')),
        ('input', p.input, p.j->>'input'),
        ('output', p.output, p.j->>'output'),
        ('created_at', pg_temp.epoch(p.created_at), pg_temp.epoch(p.j->'created_at')),
        ('updated_at', pg_temp.epoch(p.updated_at), pg_temp.epoch(p.j->'updated_at'))
    ) AS f(field, ta_value, ch_value)
)
INSERT INTO bench.ch_check
SELECT :'shape', view, field, count(*) FILTER (WHERE in_ta), count(*) FILTER (WHERE in_ch),
       count(*) FILTER (WHERE NOT (in_ta AND in_ch) OR ta_value IS DISTINCT FROM ch_value),
       min(format('%s: trace_agg %s, ClickHouse %s', trace,
                  CASE WHEN in_ta THEN left(coalesce(ta_value, 'NULL'), 80) ELSE '(no row)' END,
                  CASE WHEN in_ch THEN left(coalesce(ch_value, 'NULL'), 80) ELSE '(no row)' END))
           FILTER (WHERE NOT (in_ta AND in_ch) OR ta_value IS DISTINCT FROM ch_value)
FROM fields
GROUP BY view, field;

DO $$
DECLARE
    report text;
BEGIN
    SELECT string_agg(format('%s.%s: %s traces differ, e.g. %s', view, field, differences, example), E'\n'
                      ORDER BY view, field)
    INTO report
    FROM bench.ch_check WHERE shape = current_setting('bench.shape') AND differences > 0;
    IF report IS NOT NULL THEN
        RAISE EXCEPTION E'trace_agg and ClickHouse disagree on some traces:\n%', report;
    END IF;
END
$$;
