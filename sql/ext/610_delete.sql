
-- Deleting keys for good (src/fanout_delete.c): the keys deleted from every
-- target of a source, whose later events the source's statements drop for
-- trace_agg.tombstone_window.
CREATE TABLE trace_agg.tombstone (
    source     regclass NOT NULL,
    key        text[] NOT NULL,
    deleted_at timestamptz NOT NULL,
    PRIMARY KEY (source, key)
);
COMMENT ON TABLE trace_agg.tombstone IS
    'keys deleted by trace_agg.delete_keys(): the leading key values of the views of source, as text; their events are dropped for trace_agg.tombstone_window after deleted_at';
SELECT pg_catalog.pg_extension_config_dump('trace_agg.tombstone', '');
-- Written only by delete_keys(); read by the statements of the source's
-- views, which run as the views' owners: a role sees the tombstones of the
-- sources it may read (deleted keys are no business of the others).
REVOKE ALL ON trace_agg.tombstone FROM PUBLIC;
GRANT SELECT ON trace_agg.tombstone TO PUBLIC;
ALTER TABLE trace_agg.tombstone ENABLE ROW LEVEL SECURITY;
CREATE POLICY tombstones_of_readable_sources ON trace_agg.tombstone
    USING (pg_catalog.has_table_privilege(source, 'SELECT'));

CREATE FUNCTION trace_agg.delete_keys(source regclass, key_prefix text[],
                                      before timestamptz DEFAULT NULL, time_column name DEFAULT NULL)
    RETURNS bigint
    AS 'MODULE_PATHNAME', 'trace_agg_delete_keys' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION trace_agg.delete_keys(regclass, text[], timestamptz, name) IS
    'delete the keys starting with key_prefix (and, with before, only rows whose time_column is before it) from every target of source, and drop their later events for trace_agg.tombstone_window; returns the number of target rows deleted';
