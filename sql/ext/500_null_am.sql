-- trace_agg_null: a table access method that stores nothing, like
-- ClickHouse's Null engine.  Inserted rows reach AFTER ... FOR EACH STATEMENT
-- triggers through REFERENCING NEW TABLE and are then forgotten; an insert
-- that no such trigger reads is an error unless trace_agg.allow_discard is on.

CREATE FUNCTION trace_agg.null_am_handler(internal)
RETURNS table_am_handler
AS 'MODULE_PATHNAME', 'null_am_handler'
LANGUAGE C STRICT PARALLEL SAFE;

-- Access methods are not schema objects; the name carries the prefix.
CREATE ACCESS METHOD trace_agg_null TYPE TABLE HANDLER trace_agg.null_am_handler;

COMMENT ON ACCESS METHOD trace_agg_null IS
'stores nothing: inserted rows are only seen by statement triggers with transition tables';

-- Comments on the objects above that have none beside their definition,
-- so that \df+ and \dT+ explain every one (issue 11, item 7).
COMMENT ON FUNCTION trace_agg.null_am_handler(internal) IS
    'handler of the trace_agg_null table access method';
