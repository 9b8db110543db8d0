-- test/bench/reads.sql: the read side of the benchmark (test/bench/run).
--
-- The product's trace queries, run on trace_agg's read views (schema ta)
-- and on the plain-SQL peer's (schema peer), which have the same names and
-- columns.  Each query runs with parameters drawn at random from the data
-- (the same draws for both systems), timed in the server from the start of
-- planning to the last row, every row fully computed (payloads finalized)
-- but not sent to a client.  One EXPLAIN per query and system is kept.
-- Results go to bench.read_result; the run script prints them.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
DO $$ BEGIN PERFORM setseed(0.42); END $$;

CREATE TABLE bench.read_query (
    ord    int PRIMARY KEY,
    name   text NOT NULL,
    reps   int NOT NULL,
    sql    text NOT NULL,       -- $1, $2: text parameters
    params text NOT NULL        -- query giving (p1, p2) rows, on schema ta
);

INSERT INTO bench.read_query VALUES
(1, 'trace by id', 100,
 $$SELECT * FROM traces_all WHERE project_id = $1 AND id = $2$$,
 $$SELECT project_id, id FROM ta.traces_all_amt ORDER BY random()$$),
(2, 'traces page (24 h, 50 newest)', 100,
 $$SELECT id, "timestamp", name, user_id, session_id, environment, tags, version, release,
          metadata, bookmarked, public, end_time - start_time AS latency,
          usage_details, cost_details, cardinality(observation_ids) AS observations
   FROM traces_7d WHERE project_id = $1 AND "timestamp" >= now() - interval '24 hours'
   ORDER BY "timestamp" DESC LIMIT 50$$,
 $$SELECT project_id, NULL FROM ta.traces_all_amt ORDER BY random()$$),
(3, 'traces page + environment', 100,
 $$SELECT id, "timestamp", name, user_id, session_id, environment, tags, version, release,
          metadata, bookmarked, public, end_time - start_time AS latency,
          usage_details, cost_details, cardinality(observation_ids) AS observations
   FROM traces_7d WHERE project_id = $1 AND "timestamp" >= now() - interval '24 hours'
     AND environment = $2
   ORDER BY "timestamp" DESC LIMIT 50$$,
 $$SELECT project_id, environment FROM ta.traces_all_amt ORDER BY random()$$),
(4, 'traces page + name', 100,
 $$SELECT id, "timestamp", name, user_id, session_id, environment, tags, version, release,
          metadata, bookmarked, public, end_time - start_time AS latency,
          usage_details, cost_details, cardinality(observation_ids) AS observations
   FROM traces_7d WHERE project_id = $1 AND "timestamp" >= now() - interval '24 hours'
     AND name = $2
   ORDER BY "timestamp" DESC LIMIT 50$$,
 $$SELECT project_id, name FROM ta.traces_all_amt ORDER BY random()$$),
(5, 'traces page + tag', 100,
 $$SELECT id, "timestamp", name, user_id, session_id, environment, tags, version, release,
          metadata, bookmarked, public, end_time - start_time AS latency,
          usage_details, cost_details, cardinality(observation_ids) AS observations
   FROM traces_7d WHERE project_id = $1 AND "timestamp" >= now() - interval '24 hours'
     AND tags @> ARRAY[$2]
   ORDER BY "timestamp" DESC LIMIT 50$$,
 $$SELECT project_id, tags[1] FROM ta.traces_all_amt WHERE tags <> '{}' ORDER BY random()$$),
(6, 'traces count (24 h)', 100,
 $$SELECT count(*) FROM traces_7d
   WHERE project_id = $1 AND "timestamp" >= now() - interval '24 hours'$$,
 $$SELECT project_id, NULL FROM ta.traces_all_amt ORDER BY random()$$),
(7, 'session traces', 100,
 $$SELECT * FROM traces_all WHERE project_id = $1 AND session_id = $2 ORDER BY "timestamp"$$,
 $$SELECT project_id, session_id FROM (SELECT DISTINCT project_id, session_id FROM ta.traces_all_amt
                                       WHERE session_id IS NOT NULL) s ORDER BY random()$$),
(8, 'user list with counts', 20,
 $$SELECT user_id, count(*) AS traces, min(start_time) AS first_trace, max(start_time) AS last_trace
   FROM traces_all WHERE project_id = $1 AND user_id IS NOT NULL
   GROUP BY user_id ORDER BY traces DESC, user_id LIMIT 50$$,
 $$SELECT project_id, NULL FROM ta.traces_all_amt ORDER BY random()$$),
(9, 'tag filter options (7 d)', 20,
 $$SELECT DISTINCT t FROM traces_7d, unnest(tags) t WHERE project_id = $1 ORDER BY t LIMIT 1000$$,
 $$SELECT project_id, NULL FROM ta.traces_all_amt ORDER BY random()$$),
(10, 'name filter options (7 d)', 20,
 $$SELECT name, count(*) FROM traces_7d WHERE project_id = $1 GROUP BY name ORDER BY count(*) DESC, name$$,
 $$SELECT project_id, NULL FROM ta.traces_all_amt ORDER BY random()$$),
(11, 'public API list, page 3', 100,
 $$SELECT * FROM traces_all WHERE project_id = $1 ORDER BY "timestamp" DESC LIMIT 50 OFFSET 100$$,
 $$SELECT project_id, NULL FROM ta.traces_all_amt ORDER BY random()$$),
-- The reference's discrepancy query, all table against the 30-day table,
-- for one project (drawn uniformly) and the last 30 days.
(12, 'discrepancy, one project', 10,
 $$SELECT t.project_id, t.id,
          (t."timestamp" IS DISTINCT FROM a.start_time)::int + (t.name IS DISTINCT FROM a.name)::int
          + (t.user_id IS DISTINCT FROM a.user_id)::int + (t.session_id IS DISTINCT FROM a.session_id)::int
          + (t.release IS DISTINCT FROM a.release)::int + (t.version IS DISTINCT FROM a.version)::int
          + (t.public IS DISTINCT FROM a.public)::int + (t.bookmarked IS DISTINCT FROM a.bookmarked)::int
          + (t.tags IS DISTINCT FROM a.tags)::int + (t.input IS DISTINCT FROM a.input)::int
          + (t.output IS DISTINCT FROM a.output)::int + (t.metadata IS DISTINCT FROM a.metadata)::int
          + (t.environment IS DISTINCT FROM a.environment)::int AS total_diff,
          t.name, a.name, t.user_id, a.user_id, t.session_id, a.session_id, t.environment, a.environment,
          t.metadata, a.metadata, t.tags, a.tags, t.bookmarked, a.bookmarked, t.public, a.public,
          t.release, a.release, t.version, a.version, t.input, a.input, t.output, a.output
   FROM traces_all t LEFT JOIN traces_30d a ON t.project_id = a.project_id AND t.id = a.id
   WHERE (t."timestamp" >= now() - interval '30 days' OR a.start_time >= now() - interval '30 days')
     AND t.project_id = $1
   ORDER BY total_diff DESC LIMIT 1000$$,
 $$SELECT 'project-' || (1 + floor(random() * 20))::int, NULL FROM generate_series(1, 1000)$$),
-- The rest of the reference's access-pattern checklist: traces by ids in
-- any project, whether a project has traces, and the traces each project
-- created in an hour (usage metering).
(13, 'traces by ids, any project', 100,
 $$SELECT * FROM traces_all WHERE id = ANY (string_to_array($1, ','))$$,
 $$SELECT string_agg(id, ',' ORDER BY r), NULL
   FROM (SELECT id, random() AS r, (row_number() OVER (ORDER BY random()) - 1) / 10 AS g
         FROM ta.traces_all_amt) x GROUP BY g ORDER BY random()$$),
(14, 'project has traces', 100,
 $$SELECT EXISTS (SELECT FROM traces_all WHERE project_id = $1)$$,
 $$SELECT project_id, NULL FROM ta.traces_all_amt ORDER BY random()$$),
(15, 'traces created per project, 1 h', 20,
 $$SELECT project_id, count(*) FROM traces_all
   WHERE created_at >= $1::timestamptz AND created_at < $1::timestamptz + interval '1 hour'
   GROUP BY project_id ORDER BY project_id$$,
 $$SELECT created_at::text, NULL FROM ta.traces_all_amt ORDER BY random()$$);

CREATE TABLE bench.read_param (query int, n int, p1 text, p2 text, PRIMARY KEY (query, n));
DO $$
DECLARE
    q record;
BEGIN
    FOR q IN SELECT * FROM bench.read_query ORDER BY ord LOOP
        EXECUTE format('INSERT INTO bench.read_param SELECT %s, row_number() OVER (), p.* '
                       'FROM (%s LIMIT %s) AS p(p1, p2)', q.ord, q.params, q.reps);
    END LOOP;
END
$$;

CREATE TABLE bench.read_result (
    system  text,
    query   int,
    ms      float8[],
    plan    text,
    PRIMARY KEY (system, query)
);

-- Time every query of bench.read_query on the views of schema system.
CREATE PROCEDURE bench.time_reads(system text)
    LANGUAGE plpgsql
AS $$
DECLARE
    q record;
    p record;
    r record;
    line text;
    plan text;
    t0 timestamptz;
    ms float8[];
BEGIN
    PERFORM set_config('search_path', system || ', pg_catalog', true);
    FOR q IN SELECT * FROM bench.read_query ORDER BY ord LOOP
        ms := '{}';
        plan := '';
        FOR p IN SELECT * FROM bench.read_param WHERE query = q.ord ORDER BY n LOOP
            IF p.n = 1 THEN
                FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || q.sql USING p.p1, p.p2 LOOP
                    plan := plan || line || E'\n';
                END LOOP;
                -- one untimed run, so that every query starts with warm caches
                FOR r IN EXECUTE q.sql USING p.p1, p.p2 LOOP END LOOP;
            END IF;
            t0 := clock_timestamp();
            FOR r IN EXECUTE q.sql USING p.p1, p.p2 LOOP END LOOP;
            ms := ms || extract(epoch FROM clock_timestamp() - t0)::float8 * 1000;
        END LOOP;
        INSERT INTO bench.read_result VALUES (system, q.ord, ms, plan);
    END LOOP;
END
$$;

CALL bench.time_reads('ta');
CALL bench.time_reads('peer');
