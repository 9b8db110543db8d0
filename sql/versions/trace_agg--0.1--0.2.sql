-- trace_agg update from 0.1 to 0.2.  A fresh install of 0.2 runs the parts
-- in sql/ext/; this script must leave an updated database with the same
-- objects (test/scripts/upgrade.sh compares the two).

\echo Use "ALTER EXTENSION trace_agg UPDATE TO '0.2'" to load this file. \quit

-- Comments (issue 11, item 7): every object of 0.1 that had none, so that
-- \dx+, \df+ and \dT+ explain them; the same statements as in sql/ext/.

-- 100_argmax_types.sql
COMMENT ON FUNCTION trace_agg.argmax_text_in(cstring) IS
    'input function of argmax_text: reads the JSON text form {"key": ..., "kind": ..., "value": ...}';
COMMENT ON FUNCTION trace_agg.argmax_text_out(trace_agg.argmax_text) IS
    'output function of argmax_text: the JSON text form, independent of DateStyle and TimeZone';
COMMENT ON FUNCTION trace_agg.argmax_text_recv(internal) IS
    'binary input function of argmax_text (COPY BINARY, replication): every layout version, every byte checked';
COMMENT ON FUNCTION trace_agg.argmax_text_send(trace_agg.argmax_text) IS
    'binary output function of argmax_text: the current layout version, in network byte order';
COMMENT ON FUNCTION trace_agg.argmax_bool_in(cstring) IS
    'input function of argmax_bool: reads the JSON text form {"key": ..., "kind": ..., "value": ...}';
COMMENT ON FUNCTION trace_agg.argmax_bool_out(trace_agg.argmax_bool) IS
    'output function of argmax_bool: the JSON text form, independent of DateStyle and TimeZone';
COMMENT ON FUNCTION trace_agg.argmax_bool_recv(internal) IS
    'binary input function of argmax_bool (COPY BINARY, replication): every layout version, every byte checked';
COMMENT ON FUNCTION trace_agg.argmax_bool_send(trace_agg.argmax_bool) IS
    'binary output function of argmax_bool: the current layout version, in network byte order';
COMMENT ON FUNCTION trace_agg.argmax_jsonb_in(cstring) IS
    'input function of argmax_jsonb: reads the JSON text form {"key": ..., "kind": ..., "value": ...}';
COMMENT ON FUNCTION trace_agg.argmax_jsonb_out(trace_agg.argmax_jsonb) IS
    'output function of argmax_jsonb: the JSON text form, independent of DateStyle and TimeZone';
COMMENT ON FUNCTION trace_agg.argmax_jsonb_recv(internal) IS
    'binary input function of argmax_jsonb (COPY BINARY, replication): every layout version, every byte checked';
COMMENT ON FUNCTION trace_agg.argmax_jsonb_send(trace_agg.argmax_jsonb) IS
    'binary output function of argmax_jsonb: the current layout version, in network byte order';

-- 110_argmax_functions.sql
COMMENT ON FUNCTION trace_agg.merge(trace_agg.argmax_text, trace_agg.argmax_text) IS
    'the state of both states together: the second only with a strictly greater key, else the first, returned itself; NULL on one side gives the other';
COMMENT ON FUNCTION trace_agg.merge(trace_agg.argmax_bool, trace_agg.argmax_bool) IS
    'the state of both states together: the second only with a strictly greater key, else the first, returned itself; NULL on one side gives the other';
COMMENT ON FUNCTION trace_agg.merge(trace_agg.argmax_jsonb, trace_agg.argmax_jsonb) IS
    'the state of both states together: the second only with a strictly greater key, else the first, returned itself; NULL on one side gives the other';
COMMENT ON FUNCTION trace_agg.finalize(trace_agg.argmax_text) IS
    'the text value of the row with the greatest key (ClickHouse finalizeAggregation); NULL for a state that saw no row';
COMMENT ON FUNCTION trace_agg.finalize(trace_agg.argmax_bool) IS
    'the boolean value of the row with the greatest key (ClickHouse finalizeAggregation); NULL for a state that saw no row';
COMMENT ON FUNCTION trace_agg.finalize(trace_agg.argmax_jsonb) IS
    'the jsonb value of the row with the greatest key (ClickHouse finalizeAggregation); NULL for a state that saw no row';
COMMENT ON FUNCTION trace_agg.argmax_key(trace_agg.argmax_text) IS
    'the winning key as text (ISO, UTC for timestamptz); NULL for a state that saw no row';
COMMENT ON FUNCTION trace_agg.argmax_key(trace_agg.argmax_bool) IS
    'the winning key as text (ISO, UTC for timestamptz); NULL for a state that saw no row';
COMMENT ON FUNCTION trace_agg.argmax_key(trace_agg.argmax_jsonb) IS
    'the winning key as text (ISO, UTC for timestamptz); NULL for a state that saw no row';

-- 120_argmax_aggregates.sql
COMMENT ON FUNCTION trace_agg.argmax_transfn(internal, "any", "any") IS
    'transition function of argmax and argmax_state: keeps the value of the row with the greatest key';
COMMENT ON FUNCTION trace_agg.argmax_combinefn(internal, internal) IS
    'combine function of argmax and argmax_state: merges partial states, the first winning ties';
COMMENT ON FUNCTION trace_agg.argmax_serialfn(internal) IS
    'serialize function of argmax and argmax_state: a partial state as an argmax state, for parallel workers';
COMMENT ON FUNCTION trace_agg.argmax_deserialfn(bytea, internal) IS
    'deserialize function of argmax and argmax_state: the inverse of argmax_serialfn';
COMMENT ON FUNCTION trace_agg.argmax_text_finalfn(internal) IS
    'final function of argmax over text values: the winning value';
COMMENT ON FUNCTION trace_agg.argmax_bool_finalfn(internal) IS
    'final function of argmax over boolean values: the winning value';
COMMENT ON FUNCTION trace_agg.argmax_jsonb_finalfn(internal) IS
    'final function of argmax over jsonb values: the winning value';
COMMENT ON FUNCTION trace_agg.argmax_text_state_finalfn(internal, "any", "any") IS
    'final function of argmax_state over text values: the winning row as an argmax_text state';
COMMENT ON FUNCTION trace_agg.argmax_bool_state_finalfn(internal, "any", "any") IS
    'final function of argmax_state over boolean values: the winning row as an argmax_bool state';
COMMENT ON FUNCTION trace_agg.argmax_jsonb_state_finalfn(internal, "any", "any") IS
    'final function of argmax_state over jsonb values: the winning row as an argmax_jsonb state';
COMMENT ON AGGREGATE trace_agg.argmax(text, timestamptz) IS
    'the text value of the row with the greatest timestamptz key (ClickHouse argMax); the first row wins ties; NULL values and keys skipped';
COMMENT ON AGGREGATE trace_agg.argmax(text, timestamp) IS
    'the text value of the row with the greatest timestamp key (ClickHouse argMax); the first row wins ties; NULL values and keys skipped';
COMMENT ON AGGREGATE trace_agg.argmax(text, bigint) IS
    'the text value of the row with the greatest bigint key (ClickHouse argMax); the first row wins ties; NULL values and keys skipped';
COMMENT ON AGGREGATE trace_agg.argmax(boolean, timestamptz) IS
    'the boolean value of the row with the greatest timestamptz key (ClickHouse argMax); the first row wins ties; NULL values and keys skipped';
COMMENT ON AGGREGATE trace_agg.argmax(boolean, timestamp) IS
    'the boolean value of the row with the greatest timestamp key (ClickHouse argMax); the first row wins ties; NULL values and keys skipped';
COMMENT ON AGGREGATE trace_agg.argmax(boolean, bigint) IS
    'the boolean value of the row with the greatest bigint key (ClickHouse argMax); the first row wins ties; NULL values and keys skipped';
COMMENT ON AGGREGATE trace_agg.argmax(jsonb, timestamptz) IS
    'the jsonb value of the row with the greatest timestamptz key (ClickHouse argMax); the first row wins ties; NULL values and keys skipped';
COMMENT ON AGGREGATE trace_agg.argmax(jsonb, timestamp) IS
    'the jsonb value of the row with the greatest timestamp key (ClickHouse argMax); the first row wins ties; NULL values and keys skipped';
COMMENT ON AGGREGATE trace_agg.argmax(jsonb, bigint) IS
    'the jsonb value of the row with the greatest bigint key (ClickHouse argMax); the first row wins ties; NULL values and keys skipped';
COMMENT ON AGGREGATE trace_agg.argmax_state(text, timestamptz) IS
    'the text value of the row with the greatest timestamptz key, as an argmax_text state to store and merge (ClickHouse argMaxState)';
COMMENT ON AGGREGATE trace_agg.argmax_state(text, timestamp) IS
    'the text value of the row with the greatest timestamp key, as an argmax_text state to store and merge (ClickHouse argMaxState)';
COMMENT ON AGGREGATE trace_agg.argmax_state(text, bigint) IS
    'the text value of the row with the greatest bigint key, as an argmax_text state to store and merge (ClickHouse argMaxState)';
COMMENT ON AGGREGATE trace_agg.argmax_state(boolean, timestamptz) IS
    'the boolean value of the row with the greatest timestamptz key, as an argmax_bool state to store and merge (ClickHouse argMaxState)';
COMMENT ON AGGREGATE trace_agg.argmax_state(boolean, timestamp) IS
    'the boolean value of the row with the greatest timestamp key, as an argmax_bool state to store and merge (ClickHouse argMaxState)';
COMMENT ON AGGREGATE trace_agg.argmax_state(boolean, bigint) IS
    'the boolean value of the row with the greatest bigint key, as an argmax_bool state to store and merge (ClickHouse argMaxState)';
COMMENT ON AGGREGATE trace_agg.argmax_state(jsonb, timestamptz) IS
    'the jsonb value of the row with the greatest timestamptz key, as an argmax_jsonb state to store and merge (ClickHouse argMaxState)';
COMMENT ON AGGREGATE trace_agg.argmax_state(jsonb, timestamp) IS
    'the jsonb value of the row with the greatest timestamp key, as an argmax_jsonb state to store and merge (ClickHouse argMaxState)';
COMMENT ON AGGREGATE trace_agg.argmax_state(jsonb, bigint) IS
    'the jsonb value of the row with the greatest bigint key, as an argmax_jsonb state to store and merge (ClickHouse argMaxState)';
COMMENT ON FUNCTION trace_agg.argmax_merge_transfn(internal, "any") IS
    'transition function of argmax_merge: keeps the winning state as it arrived, reading only fixed parts';
COMMENT ON FUNCTION trace_agg.argmax_merge_combinefn(internal, internal) IS
    'combine function of argmax_merge: the first partial state wins ties';
COMMENT ON FUNCTION trace_agg.argmax_merge_serialfn(internal) IS
    'serialize function of argmax_merge: the winning state, detoasted, for parallel workers';
COMMENT ON FUNCTION trace_agg.argmax_merge_deserialfn(bytea, internal) IS
    'deserialize function of argmax_merge: the inverse of argmax_merge_serialfn';
COMMENT ON FUNCTION trace_agg.argmax_text_merge_finalfn(internal) IS
    'final function of argmax_merge over argmax_text: the winning state';
COMMENT ON FUNCTION trace_agg.argmax_bool_merge_finalfn(internal) IS
    'final function of argmax_merge over argmax_bool: the winning state';
COMMENT ON FUNCTION trace_agg.argmax_jsonb_merge_finalfn(internal) IS
    'final function of argmax_merge over argmax_jsonb: the winning state';
COMMENT ON AGGREGATE trace_agg.argmax_merge(trace_agg.argmax_text) IS
    'argmax_text states merged into one (ClickHouse argMaxMerge); the earlier state wins ties; no rows gives NULL';
COMMENT ON AGGREGATE trace_agg.argmax_merge(trace_agg.argmax_bool) IS
    'argmax_bool states merged into one (ClickHouse argMaxMerge); the earlier state wins ties; no rows gives NULL';
COMMENT ON AGGREGATE trace_agg.argmax_merge(trace_agg.argmax_jsonb) IS
    'argmax_jsonb states merged into one (ClickHouse argMaxMerge); the earlier state wins ties; no rows gives NULL';

-- 210_sum_map.sql
COMMENT ON FUNCTION trace_agg.map_agg_combine(internal, internal) IS
    'combine function of sum_map, min_map and max_map: merges two partial maps';
COMMENT ON FUNCTION trace_agg.map_agg_serialize(internal) IS
    'serialize function of sum_map, min_map and max_map: a partial map as bytes, for parallel workers';
COMMENT ON FUNCTION trace_agg.map_agg_deserialize(bytea, internal) IS
    'deserialize function of sum_map, min_map and max_map: the inverse of map_agg_serialize, every byte checked';
COMMENT ON FUNCTION trace_agg.sum_map_uint64_transfn(internal, trace_agg.uint64_map) IS
    'transition function of sum_map over uint64_map: adds each key''s value';
COMMENT ON FUNCTION trace_agg.sum_map_decimal_transfn(internal, trace_agg.decimal_map) IS
    'transition function of sum_map over decimal_map: adds each key''s value';
COMMENT ON FUNCTION trace_agg.sum_map_uint64_final(internal) IS
    'final function of sum_map over uint64_map: the sums as a uint64_map';
COMMENT ON FUNCTION trace_agg.sum_map_decimal_final(internal) IS
    'final function of sum_map over decimal_map: the sums as a decimal_map';

-- 220_minmax_map.sql
COMMENT ON FUNCTION trace_agg.min_map_transfn(internal, trace_agg.text_map) IS
    'transition function of min_map: keeps each key''s bytewise least value';
COMMENT ON FUNCTION trace_agg.max_map_transfn(internal, trace_agg.text_map) IS
    'transition function of max_map: keeps each key''s bytewise greatest value';
COMMENT ON FUNCTION trace_agg.text_map_final(internal) IS
    'final function of min_map and max_map: the values as a text_map';

-- 300_any_last.sql
COMMENT ON FUNCTION trace_agg.any_last_transfn(anyelement, anyelement) IS
    'transition and combine function of any_last: returns its second argument';

-- 310_group_uniq.sql
COMMENT ON FUNCTION trace_agg.group_uniq_array_transfn(internal, text) IS
    'transition function of group_uniq_array(text): adds a value to the set';
COMMENT ON FUNCTION trace_agg.group_uniq_array_limited_transfn(internal, text, integer) IS
    'transition function of group_uniq_array(text, max_size): adds a value while the set is smaller than max_size';
COMMENT ON FUNCTION trace_agg.group_uniq_array_array_transfn(internal, text[]) IS
    'transition function of group_uniq_array_array(text[]): adds an array''s elements to the set';
COMMENT ON FUNCTION trace_agg.group_uniq_array_array_limited_transfn(internal, text[], integer) IS
    'transition function of group_uniq_array_array(text[], max_size): adds elements while the set is smaller than max_size';
COMMENT ON FUNCTION trace_agg.group_uniq_combine(internal, internal) IS
    'combine function of the group_uniq aggregates: the union of two partial sets';
COMMENT ON FUNCTION trace_agg.group_uniq_serialize(internal) IS
    'serialize function of the group_uniq aggregates: a partial set as bytes, for parallel workers';
COMMENT ON FUNCTION trace_agg.group_uniq_deserialize(bytea, internal) IS
    'deserialize function of the group_uniq aggregates: the inverse of group_uniq_serialize, every byte checked';
COMMENT ON FUNCTION trace_agg.group_uniq_finalfn(internal) IS
    'final function of the group_uniq aggregates: the set as a text[] sorted bytewise';

-- 500_null_am.sql
COMMENT ON FUNCTION trace_agg.null_am_handler(internal) IS
    'handler of the trace_agg_null table access method';

-- 700_traces.sql
COMMENT ON FUNCTION trace_agg.traces_view_query(regclass) IS
    'the query of the reference traces materialized views (ClickHouse traces_*_amt_mv) over the given source table';
