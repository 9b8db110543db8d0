-- test/bench/storage.sql: bytes per trace of every table of the benchmark,
-- and the merged input/output payloads stored compressed by zstd (as
-- trace_agg's argmax_text states) against the same text in columns with
-- COMPRESSION pglz and lz4.  Results go to bench.storage and
-- bench.compression; test/bench/run prints them.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;

-- Raw tables (the floor's, the peer's traces_null) hold every trace of the
-- stream, as many as trace_agg's all table.
CREATE FUNCTION pg_temp.rows_of(rel regclass) RETURNS bigint
    LANGUAGE plpgsql
AS $$
DECLARE
    n bigint;
BEGIN
    EXECUTE format('SELECT count(*) FROM %s', rel) INTO n;
    RETURN n;
END
$$;
CREATE TABLE bench.storage AS
SELECT n.nspname AS system, c.relname AS "table",
       pg_temp.rows_of(CASE WHEN c.relname = 'traces_null' THEN 'ta.traces_all_amt'::regclass
                            ELSE c.oid::regclass END) AS traces,
       pg_relation_size(c.oid) AS heap,
       coalesce(pg_total_relation_size(nullif(c.reltoastrelid, 0)), 0) AS toast,
       pg_indexes_size(c.oid) AS indexes,
       pg_total_relation_size(c.oid) AS total,
       s.n_tup_ins AS inserts, s.n_tup_upd AS updates, s.n_tup_hot_upd AS hot_updates
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
WHERE n.nspname IN ('ta', 'peer', 'floor') AND c.relkind = 'r';

-- The merged payloads, raw (storage external: no compression; counted as
-- their length), then the same stored three ways.  The time of each INSERT
-- is the cost of compressing (for zstd, of building the argmax_text states
-- one group each, which adds a little grouping work).
CREATE TABLE bench.io_raw (input text, output text);
ALTER TABLE bench.io_raw ALTER input SET STORAGE external, ALTER output SET STORAGE external;
INSERT INTO bench.io_raw SELECT input, output FROM ta.traces_all;
CREATE TABLE bench.io_zstd (input trace_agg.argmax_text, output trace_agg.argmax_text);
ALTER TABLE bench.io_zstd ALTER input SET STORAGE external, ALTER output SET STORAGE external;
CREATE TABLE bench.io_pglz (input text COMPRESSION pglz, output text COMPRESSION pglz);
CREATE TABLE bench.io_lz4 (input text COMPRESSION lz4, output text COMPRESSION lz4);
CREATE TABLE bench.compression (codec text, ms float8, bytes bigint);

CREATE PROCEDURE pg_temp.store(codec text, fill text)
    LANGUAGE plpgsql
AS $$
DECLARE
    t0 timestamptz := clock_timestamp();
BEGIN
    EXECUTE fill;
    INSERT INTO bench.compression
    VALUES (codec, extract(epoch FROM clock_timestamp() - t0) * 1000,
            pg_total_relation_size(format('bench.io_%s', codec)::regclass));
END
$$;
CALL pg_temp.store('raw', 'SELECT');
CALL pg_temp.store('zstd', $$INSERT INTO bench.io_zstd
    SELECT trace_agg.argmax_state(input, ts), trace_agg.argmax_state(output, ts)
    FROM (SELECT input, output, now() AS ts, row_number() OVER () AS n FROM bench.io_raw) r GROUP BY n$$);
CALL pg_temp.store('pglz', 'INSERT INTO bench.io_pglz SELECT input, output FROM bench.io_raw');
CALL pg_temp.store('lz4', 'INSERT INTO bench.io_lz4 SELECT input, output FROM bench.io_raw');
UPDATE bench.compression
SET ms = NULL, bytes = (SELECT sum(octet_length(input) + octet_length(output)) FROM bench.io_raw)
WHERE codec = 'raw';
