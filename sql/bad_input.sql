-- Bad input on the ingest path of the traces setup: every statement is
-- either taken exactly or refused with an error naming the value (and, for
-- COPY, the line and column), and a refused statement changes nothing in
-- any target.  Large inputs: a 100 MB payload through argMax and a million
-- tags in one batch are taken exactly.
CREATE SCHEMA bad;
SELECT trace_agg.create_traces_tables('bad', windows => 'tables');
SET search_path = bad, public;

-- What the targets hold, summed up: after a refused statement it must not
-- have changed.
CREATE VIEW fingerprint AS
SELECT count(*) AS rows,
       md5(string_agg(concat_ws('|', tbl, project_id, id, start_time, name, metadata, tags,
                                observation_ids, usage_details, cost_details,
                                pg_column_size(input), pg_column_size(output)),
                      '/' ORDER BY tbl, project_id, id)) AS digest
FROM (SELECT 'all' AS tbl, * FROM traces_all_amt
      UNION ALL SELECT '7d', * FROM traces_7d_amt
      UNION ALL SELECT '30d', * FROM traces_30d_amt) t;
CREATE TABLE seen AS SELECT * FROM fingerprint WHERE false;
-- Record the fingerprint after an accepted statement; check it after a
-- refused one.
CREATE FUNCTION remember() RETURNS void LANGUAGE sql
    BEGIN ATOMIC DELETE FROM bad.seen; INSERT INTO bad.seen SELECT * FROM bad.fingerprint; END;
CREATE FUNCTION unchanged() RETURNS boolean LANGUAGE sql
    RETURN (SELECT (f.rows, f.digest) = (s.rows, s.digest) FROM bad.fingerprint f, bad.seen s);

INSERT INTO traces_null (project_id, id, start_time, name, metadata, tags, usage_details, cost_details)
VALUES ('p1', 't1', '2099-01-01', 'first', '{"region": "eu"}', '{a,b}', '{"input": 10}', '{"total": 0.5}'),
       ('p1', 't2', '2099-01-01', 'second', '{}', '{}', '{"input": 18446744073709551610}', '{}');
SELECT remember();
SELECT * FROM fingerprint;

--
-- NULL keys: refused by the source's NOT NULL constraints, naming the column.
--
INSERT INTO traces_null (project_id, id, start_time, created_at, updated_at, event_ts)
VALUES (NULL, 't1', '2099-01-01', '2099-01-01', '2099-01-01', '2099-01-01');
INSERT INTO traces_null (project_id, id, start_time, created_at, updated_at, event_ts)
VALUES ('p1', 't1', '2099-01-01', '2099-01-01', '2099-01-01', '2099-01-01'),
       ('p1', NULL, '2099-01-01', '2099-01-01', '2099-01-01', '2099-01-01');
COPY traces_null (project_id, id, start_time, created_at, updated_at, event_ts) FROM STDIN;
p1	t1	2099-01-01	2099-01-01	2099-01-01	2099-01-01
p1	\N	2099-01-01	2099-01-01	2099-01-01	2099-01-01
\.
SELECT unchanged();
-- A source without NOT NULL: the target's primary key refuses the row, in
-- the merge, and the views that already ran are undone with the statement.
CREATE TABLE loose_null (LIKE traces_null INCLUDING DEFAULTS) USING trace_agg_null;
ALTER TABLE loose_null ALTER project_id DROP NOT NULL, ALTER id DROP NOT NULL;
SELECT trace_agg.create_materialized_view('bad_loose_mv', 'traces_all_amt',
                                          trace_agg.traces_view_query('loose_null'));
SELECT trace_agg.create_materialized_view('bad_loose_2_mv', 'traces_7d_amt',
                                          trace_agg.traces_view_query('loose_null'));
\set VERBOSITY terse
INSERT INTO loose_null (project_id, id, start_time, usage_details)
VALUES ('p1', 't1', now(), '{"input": 1}'), (NULL, 't1', now(), '{"input": 1}');
INSERT INTO loose_null (project_id, id, start_time, usage_details)
VALUES ('p1', 't1', now(), '{"input": 1}'), ('p1', NULL, now(), '{"input": 1}');
\set VERBOSITY default
SELECT unchanged();
SELECT trace_agg.drop_materialized_view('bad_loose_mv');
SELECT trace_agg.drop_materialized_view('bad_loose_2_mv');

--
-- Numbers out of range in the usage (UInt64) and cost (Decimal(38, 12))
-- maps: one bad value refuses the whole batch.
--
INSERT INTO traces_null (project_id, id, start_time, usage_details)
VALUES ('p1', 't1', now(), '{"input": 1}'), ('p1', 't3', now(), '{"input": 18446744073709551616}');
INSERT INTO traces_null (project_id, id, start_time, usage_details) VALUES ('p1', 't1', now(), '{"input": -1}');
INSERT INTO traces_null (project_id, id, start_time, usage_details) VALUES ('p1', 't1', now(), '{"input": 1.5}');
INSERT INTO traces_null (project_id, id, start_time, usage_details) VALUES ('p1', 't1', now(), '{"input": 1e20}');
INSERT INTO traces_null (project_id, id, start_time, usage_details) VALUES ('p1', 't1', now(), '{"input": "12"}');
INSERT INTO traces_null (project_id, id, start_time, cost_details) VALUES ('p1', 't1', now(), '{"total": 1e26}');
INSERT INTO traces_null (project_id, id, start_time, cost_details) VALUES ('p1', 't1', now(), '{"total": -123456789012345678901234567}');
COPY traces_null (project_id, id, start_time, usage_details) FROM STDIN;
p1	t1	2099-01-01	{"input": 1}
p1	t1	2099-01-01	{"input": 99999999999999999999}
\.
-- Sums that leave UInt64, within one batch and against the stored total
-- (t2 holds 18446744073709551610).
\set VERBOSITY terse
INSERT INTO traces_null (project_id, id, start_time, usage_details)
VALUES ('p1', 't4', now(), '{"n": 9223372036854775808}'), ('p1', 't4', now(), '{"n": 9223372036854775808}');
INSERT INTO traces_null (project_id, id, start_time, usage_details)
VALUES ('p1', 't1', now(), '{"input": 1}'), ('p1', 't2', now(), '{"input": 6}');
\set VERBOSITY default
SELECT unchanged();
-- The edges are taken exactly: 2^64-1 in total, an integer written as
-- 1e3, decimals below 10^26 with 12 places.
INSERT INTO traces_null (project_id, id, start_time, usage_details, cost_details)
VALUES ('p1', 't2', '2099-01-01', '{"input": 5}', '{"total": 99999999999999999999999999.999999999999}'),
       ('p1', 't5', '2099-01-01', '{"input": 1e3}', '{"total": 0.000000000001}');
SELECT id, usage_details, cost_details FROM traces_all_amt WHERE id IN ('t2', 't5') ORDER BY id;
SELECT remember();

--
-- JSON of the wrong shape, and text that is no JSON.
--
INSERT INTO traces_null (project_id, id, start_time, usage_details) VALUES ('p1', 't1', now(), '[1, 2]');
INSERT INTO traces_null (project_id, id, start_time, usage_details) VALUES ('p1', 't1', now(), '7');
INSERT INTO traces_null (project_id, id, start_time, usage_details) VALUES ('p1', 't1', now(), 'null');
INSERT INTO traces_null (project_id, id, start_time, usage_details) VALUES ('p1', 't1', now(), '{"a": {"b": 1}}');
INSERT INTO traces_null (project_id, id, start_time, usage_details) VALUES ('p1', 't1', now(), '{"a": null}');
INSERT INTO traces_null (project_id, id, start_time, metadata) VALUES ('p1', 't1', now(), '{"k": 1}');
INSERT INTO traces_null (project_id, id, start_time, metadata) VALUES ('p1', 't1', now(), '{"k": ["v"]}');
INSERT INTO traces_null (project_id, id, start_time, metadata) VALUES ('p1', 't1', now(), '{"k": "v"');
INSERT INTO traces_null (project_id, id, start_time, tags) VALUES ('p1', 't1', now(), '{a,b');
COPY traces_null (project_id, id, start_time, metadata) FROM STDIN;
p1	t1	2099-01-01	{"k": "v"}
p1	t1	2099-01-01	["k", "v"]
\.
SELECT unchanged();
-- What JSON and arrays allow is taken as they define it: a repeated key
-- keeps its last value, NULL tags are left out (as ClickHouse aggregates
-- skip NULLs).
INSERT INTO traces_null (project_id, id, start_time, usage_details, tags)
VALUES ('p1', 't6', '2099-01-01', '{"n": 1, "n": 2}', ARRAY['x', NULL, 'y']);
SELECT id, usage_details, tags FROM traces_all_amt WHERE id = 't6';
SELECT remember();

--
-- Invalid UTF-8 and NUL bytes through bytea conversions, JSON escapes and
-- binary COPY.
--
INSERT INTO traces_null (project_id, id, start_time, input) VALUES ('p1', 't1', now(), convert_from('\xc328', 'UTF8'));
INSERT INTO traces_null (project_id, id, start_time, name) VALUES ('p1', 't1', now(), convert_from('\x610062', 'UTF8'));
INSERT INTO traces_null (project_id, id, start_time, metadata) VALUES ('p1', 't1', now(), '{"k": "\ud800"}');
INSERT INTO traces_null (project_id, id, start_time, metadata) VALUES ('p1', 't1', now(), '{"k": "\u0000"}');
-- A binary COPY of (project_id, id, start_time, name) whose name is
-- invalid UTF-8: the row, the column and the bytes are named.
SELECT current_setting('data_directory') || '/bad_input.copy' AS copyfile \gset
CREATE FUNCTION write_copy_file(path text, fields bytea[]) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    body bytea := int2send(cardinality(fields)::int2);
    f bytea;
    lo oid;
BEGIN
    FOREACH f IN ARRAY fields LOOP
        body := body || int4send(length(f)) || f;
    END LOOP;
    lo := lo_from_bytea(0, '\x5047434f50590aff0d0a00'::bytea || '\x0000000000000000'::bytea
                           || body || '\xffff'::bytea);
    PERFORM lo_export(lo, path);
    PERFORM lo_unlink(lo);
END $$;
SELECT write_copy_file(:'copyfile', ARRAY[convert_to('p1', 'UTF8'), convert_to('t7', 'UTF8'),
                                          timestamptz_send('2099-01-01'), '\x6361c3'::bytea]);
COPY traces_null (project_id, id, start_time, name) FROM :'copyfile' (FORMAT binary);
-- a timestamp field of 3 bytes instead of 8
SELECT write_copy_file(:'copyfile', ARRAY[convert_to('p1', 'UTF8'), convert_to('t7', 'UTF8'),
                                          '\x000102'::bytea, convert_to('ok', 'UTF8')]);
COPY traces_null (project_id, id, start_time, name) FROM :'copyfile' (FORMAT binary);
SELECT unchanged();
-- Valid bytes in another encoding convert exactly; escaped bytes stay escaped.
INSERT INTO traces_null (project_id, id, start_time, name, input, event_ts)
VALUES ('p1', 't7', '2099-01-01', convert_from('\x636166e9', 'LATIN1'), convert_from('\xe282ac', 'UTF8'), now());
INSERT INTO traces_null (project_id, id, start_time, output, event_ts)
VALUES ('p1', 't7', '2099-01-01', encode('\xfffe'::bytea, 'escape'), now());
SELECT name, trace_agg.finalize(input) AS input, trace_agg.finalize(output) AS output
FROM traces_all_amt WHERE id = 't7';
SELECT write_copy_file(:'copyfile', ARRAY[convert_to('p1', 'UTF8'), convert_to('t8', 'UTF8'),
                                          timestamptz_send('2099-01-01'), '\x636166c3a9'::bytea]);
COPY traces_null (project_id, id, start_time, name) FROM :'copyfile' (FORMAT binary);
SELECT name FROM traces_all_amt WHERE id = 't8';
SELECT remember();

--
-- A key longer than a btree entry may be (about 2.7 kB after compression)
-- is refused by the target's primary key; the statement is undone.
--
\set VERBOSITY terse
INSERT INTO traces_null (project_id, id, start_time)
SELECT 'p1', string_agg(md5(g::text), ''), now() FROM generate_series(1, 200) g;
\set VERBOSITY default
SELECT unchanged();

--
-- A 100 MB payload of incompressible-ish text (hex digits) through argMax:
-- stored compressed (about 55 MB in TOAST) in all three tables, and read
-- back exactly.
--
INSERT INTO traces_null (project_id, id, start_time, input, event_ts)
SELECT 'p1', 'big', '2099-01-01', string_agg(md5(g::text), ''), '2099-01-01'
FROM generate_series(1, 3276800) g;
SELECT tbl, octet_length(trace_agg.finalize(input)) AS bytes,
       pg_column_size(input) BETWEEN 50000000 AND 60000000 AS compressed_to_about_55mb
FROM (SELECT 'all' AS tbl, input FROM traces_all_amt WHERE id = 'big'
      UNION ALL SELECT '7d', input FROM traces_7d_amt WHERE id = 'big'
      UNION ALL SELECT '30d', input FROM traces_30d_amt WHERE id = 'big') t;
SELECT md5(trace_agg.finalize(input)) = (SELECT md5(string_agg(md5(g::text), '')) FROM generate_series(1, 3276800) g)
       AS exact
FROM traces_all_amt WHERE id = 'big';
-- An earlier payload does not replace it; a later one does.
INSERT INTO traces_null (project_id, id, start_time, input, event_ts)
VALUES ('p1', 'big', '2099-01-01', 'older', '2098-12-31'), ('p1', 'big', '2099-01-01', '', '2099-01-02');
SELECT octet_length(trace_agg.finalize(input)) AS bytes FROM traces_all_amt WHERE id = 'big';
INSERT INTO traces_null (project_id, id, start_time, input, event_ts)
VALUES ('p1', 'big', '2099-01-01', 'newer', '2099-01-02');
SELECT trace_agg.finalize(input) FROM traces_all_amt WHERE id = 'big';
SELECT remember();

--
-- A million distinct tags in one batch (100 rows of 10,000), and a batch
-- that then fails: the union is exact, and the failed batch adds nothing.
--
INSERT INTO traces_null (project_id, id, start_time, tags)
SELECT 'p1', 'tagged', '2099-01-01', array_agg('tag-' || lpad(g::text, 7, '0'))
FROM generate_series(0, 999999) g GROUP BY g / 10000;
SELECT cardinality(tags) AS tags, tags[1] AS first, tags[1000000] AS last,
       tags = ARRAY(SELECT 'tag-' || lpad(g::text, 7, '0') FROM generate_series(0, 999999) g) AS exact
FROM traces_all_amt WHERE id = 'tagged';
SELECT remember();
INSERT INTO traces_null (project_id, id, start_time, tags, usage_details)
VALUES ('p1', 'tagged', '2099-01-01', '{extra}', '{}'), ('p1', 'tagged', '2099-01-01', '{}', '{"n": -1}');
SELECT unchanged();

SELECT trace_agg.drop_materialized_view(v)
FROM unnest(ARRAY['traces_all_amt_mv', 'traces_7d_amt_mv', 'traces_30d_amt_mv']) v;
SELECT trace_agg.remove_ttl(t) FROM unnest(ARRAY['traces_7d_amt', 'traces_30d_amt']) t;
RESET search_path;
DROP SCHEMA bad CASCADE;
