-- test/bench/report.sql: the result tables of test/bench/run for one
-- stream shape (:shape).
\set ON_ERROR_STOP 1
\pset footer off
\echo
\echo Ingest: events/s (elapsed) and CPU time per event, each with its ratio to the floor, to
\echo ClickHouse and to the peer (higher is better); WAL bytes per event (ClickHouse: bytes its server
\echo wrote) and full-page images; peak private memory (RssAnon, MB: whole run, and first / last quarter
\echo of the run; of the largest client backend, or of the ClickHouse server).  The CPU of ClickHouse
\echo is its server and its clients (which parse the rows); its OPTIMIZE FINAL is in the last column
-- CPU time counts in clock ticks (10 ms): a run that short (the smoke
-- test's intake) can show none, and its CPU ratios are left empty.
SELECT i.clients, i.system,
       round(:events / i.seconds) AS "events/s",
       round((f.seconds / i.seconds)::numeric, 2) AS "x floor",
       round((c.seconds / i.seconds)::numeric, 2) AS "x ClickHouse",
       round((p.seconds / i.seconds)::numeric, 2) AS "x peer",
       round((i.cpu_seconds * 1e6 / :events)::numeric) AS "CPU us/event",
       round((f.cpu_seconds / nullif(i.cpu_seconds, 0))::numeric, 2) AS "x floor ",
       round((c.cpu_seconds / nullif(i.cpu_seconds, 0))::numeric, 2) AS "x ClickHouse ",
       round((p.cpu_seconds / nullif(i.cpu_seconds, 0))::numeric, 2) AS "x peer ",
       round(coalesce(i.wal_bytes, i.written_bytes) / :events) AS "WAL B/event",
       i.fpi AS "FPI",
       round(i.peak_kb / 1024.0, 1) AS "peak MB",
       round(i.first_kb / 1024.0, 1) || ' / ' || round(i.last_kb / 1024.0, 1) AS "first / last",
       round(i.optimize_seconds::numeric, 2) AS "OPTIMIZE FINAL s"
FROM bench.ingest i
JOIN bench.ingest f ON f.shape = i.shape AND f.clients = i.clients AND f.system = 'floor'
JOIN bench.ingest p ON p.shape = i.shape AND p.clients = i.clients AND p.system = 'peer'
LEFT JOIN bench.ingest c ON c.shape = i.shape AND c.clients = i.clients AND c.system = 'clickhouse'
WHERE i.shape = :'shape'
ORDER BY i.clients, array_position(ARRAY['trace_agg', 'clickhouse', 'peer', 'floor', 'intake'], i.system);

\echo
\echo Against ClickHouse: the finalized traces of trace_agg and of ClickHouse 18.16 after OPTIMIZE FINAL,
\echo field by field (test/bench/compare_clickhouse.sql; traces of the last run, in each read view)
SELECT view, max(ta_rows) AS "trace_agg traces", max(ch_rows) AS "ClickHouse traces", count(*) AS fields,
       coalesce(string_agg(field || ' ' || differences, ', ') FILTER (WHERE differences > 0), 'none') AS "fields that differ"
FROM bench.ch_check
WHERE shape = :'shape'
GROUP BY view
ORDER BY array_position(ARRAY['traces_all', 'traces_7d', 'traces_30d'], view);

\echo
\echo Headroom: intake is the cost of the statements alone (sent, parsed, nothing stored), which every
\echo system pays; peer / intake is the most any design can reach against the peer with these clients,
\echo and the merge cost is what trace_agg adds to it
SELECT i.clients,
       round((p.seconds / i.seconds)::numeric, 2) AS "most x peer (elapsed)",
       round((p.cpu_seconds / nullif(i.cpu_seconds, 0))::numeric, 2) AS "most x peer (CPU)",
       round((t.seconds / i.seconds)::numeric, 2) AS "trace_agg time / intake time",
       round(((t.cpu_seconds - i.cpu_seconds) * 1e6 / :events)::numeric) AS "trace_agg merge CPU us/event",
       round(((p.cpu_seconds - i.cpu_seconds) * 1e6 / :events)::numeric) AS "peer merge CPU us/event"
FROM bench.ingest i
JOIN bench.ingest t ON t.shape = i.shape AND t.clients = i.clients AND t.system = 'trace_agg'
JOIN bench.ingest p ON p.shape = i.shape AND p.clients = i.clients AND p.system = 'peer'
WHERE i.system = 'intake' AND i.shape = :'shape'
ORDER BY i.clients;

\echo
\echo Reads: milliseconds from planning to the last row (payloads finalized, nothing sent), runs with random parameters
SELECT q.ord AS "#", q.name AS query, cardinality(t.ms) AS runs,
       round(percentile_disc(0.5) WITHIN GROUP (ORDER BY m.v)::numeric, 2) AS "trace_agg p50",
       round(percentile_disc(0.95) WITHIN GROUP (ORDER BY m.v)::numeric, 2) AS "p95",
       (SELECT round(percentile_disc(0.5) WITHIN GROUP (ORDER BY v)::numeric, 2) FROM unnest(p.ms) v) AS "peer p50",
       (SELECT round(percentile_disc(0.95) WITHIN GROUP (ORDER BY v)::numeric, 2) FROM unnest(p.ms) v) AS "p95 ",
       concat_ws(' ', CASE WHEN t.plan ~ 'Seq Scan on traces_\w+_amt' THEN 'trace_agg' END,
                 CASE WHEN p.plan ~ 'Seq Scan on traces_\w+_amt' THEN 'peer' END) AS "seq scan of a target"
FROM bench.read_query q
JOIN bench.read_result t ON t.system = 'ta' AND t.query = q.ord
JOIN bench.read_result p ON p.system = 'peer' AND p.query = q.ord
CROSS JOIN LATERAL unnest(t.ms) m(v)
GROUP BY q.ord, q.name, t.ms, p.ms, t.plan, p.plan
ORDER BY q.ord;

\echo
\echo Storage: bytes per trace (heap, TOAST, indexes, total), and updates that were HOT
SELECT CASE system WHEN 'ta' THEN 'trace_agg' ELSE system END AS system, "table", traces,
       round(heap::numeric / nullif(traces, 0)) AS heap,
       round(toast::numeric / nullif(traces, 0)) AS toast,
       round(indexes::numeric / nullif(traces, 0)) AS indexes,
       round(total::numeric / nullif(traces, 0)) AS total,
       pg_size_pretty(total) AS "table size",
       CASE WHEN updates > 0 THEN round(100.0 * hot_updates / updates) || '%' END AS "HOT updates"
FROM bench.storage
ORDER BY array_position(ARRAY['ta', 'peer', 'floor'], system), "table";

\echo
\echo Merged input/output payloads of the all table, stored compressed
SELECT c.codec, round(c.bytes::numeric / t.n) AS "bytes/trace",
       round(r.bytes::numeric / c.bytes, 2) AS "ratio to raw",
       round(c.ms) AS "store ms"
FROM bench.compression c, bench.compression r, (SELECT count(*) AS n FROM bench.io_raw) t
WHERE r.codec = 'raw'
ORDER BY array_position(ARRAY['raw', 'zstd', 'lz4', 'pglz'], c.codec);

\echo
\echo Plans (one run per query and system)
SELECT format(E'-- %s. %s on %s\n%s', q.ord, q.name, CASE r.system WHEN 'ta' THEN 'trace_agg' ELSE r.system END,
              rtrim(r.plan, E'\n')) AS plan
FROM bench.read_query q JOIN bench.read_result r ON r.query = q.ord
ORDER BY q.ord, r.system DESC \g (format=unaligned tuples_only)
