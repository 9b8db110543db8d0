-- test/bench/compare.sql: trace_agg's and the peer's merged traces must be
-- equal, row for row, in all three read views; the benchmark fails otherwise.
\set ON_ERROR_STOP 1
CREATE FUNCTION pg_temp.traces_differing(view text) RETURNS bigint
    LANGUAGE plpgsql
AS $$
DECLARE
    cols text := 'project_id, id, "timestamp", start_time, end_time, name, metadata::jsonb, user_id, '
                 'session_id, environment, tags, version, release, bookmarked, public, observation_ids, '
                 'score_ids, cost_details::jsonb, usage_details::jsonb, input, output, created_at, updated_at';
    n bigint;
BEGIN
    EXECUTE format('SELECT count(*) FROM ((SELECT %1$s FROM ta.%2$I EXCEPT ALL SELECT %1$s FROM peer.%2$I) '
                   'UNION ALL (SELECT %1$s FROM peer.%2$I EXCEPT ALL SELECT %1$s FROM ta.%2$I)) d', cols, view)
        INTO n;
    RETURN n;
END
$$;

DO $$
DECLARE
    report text;
BEGIN
    SELECT string_agg(format('%s %s', v, pg_temp.traces_differing(v)), ', ') INTO report
    FROM unnest(ARRAY['traces_all', 'traces_7d', 'traces_30d']) v;
    IF report ~ ' [1-9]' THEN
        RAISE EXCEPTION 'trace_agg and the peer disagree on some traces: %', report;
    END IF;
END
$$;
