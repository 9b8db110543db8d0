-- test/bench/clickhouse.sql: the reference's traces_null and its three
-- AggregatingMergeTree targets with their materialized views
-- (clickhouse-traces-null-amt.md in the shared reference) translated to
-- ClickHouse 18.16, Debian's package, for test/bench/run.  The run renames
-- database bench to one database per run and instantiates the part after
-- the target marker below once per target, with the table name
-- traces_all_amt, traces_7d_amt or traces_30d_amt, and the WHERE clause
-- that stands for the TTL.
-- README ("ClickHouse in the benchmark") gives every translation choice
-- and its reason; in short:
--   DateTime64(3)              Decimal64(3), seconds since the epoch (the
--                              same 64-bit milliseconds)
--   Bool                       UInt8
--   Map(K, V)                  parallel arrays K_keys, K_values
--   SimpleAggregateFunction    AggregateFunction, -State in the view,
--                              -Merge with GROUP BY at read
--   anyLast(Nullable(String))  18.16's state has no NULL: a key without a
--                              value reads '' (nullIf at read)
--   argMax(Nullable(Bool), ts) NULL stored as 2 under the epoch key, so 2
--                              remains exactly when no row had a value
--                              (18.16 would read 0); nullIf at read
--   maxMap(Map(String, String)) the set of (key, value) pairs, the largest
--                              value of each key taken at read
--   sumMap(Map(String, N))     sumMap over cityHash64 of the keys, beside
--                              the set of key names that names the sums at
--                              read (18.16's sumMap takes numeric keys)
--   TTL toDate(start_time) + INTERVAL n DAY
--                              the view skips expired rows and the read
--                              hides expired keys
--   CODEC(ZSTD(3))             the server's <compression> (every column)
--   bloom_filter indexes       none (18.16 has no data-skipping indexes)
CREATE DATABASE IF NOT EXISTS bench;

CREATE TABLE bench.traces_null
(
    project_id            String,
    id                    String,
    start_time            Decimal64(3),
    end_time              Nullable(Decimal64(3)),
    name                  Nullable(String),
    metadata_keys         Array(String),
    metadata_values       Array(String),
    user_id               Nullable(String),
    session_id            Nullable(String),
    environment           String,
    tags                  Array(String),
    version               Nullable(String),
    release               Nullable(String),
    bookmarked            Nullable(UInt8),
    public                Nullable(UInt8),
    observation_ids       Array(String),
    score_ids             Array(String),
    cost_details_keys     Array(String),
    cost_details_values   Array(Decimal(38, 12)),
    usage_details_keys    Array(String),
    usage_details_values  Array(UInt64),
    input                 String,
    output                String,
    created_at            Decimal64(3),
    updated_at            Decimal64(3),
    event_ts              Decimal64(3),
    -- 18.16 resolves a column name, even qualified, to the view's alias of
    -- that name, so the view reads start_time, which its aliases shadow,
    -- under this second name (computed on insert, before the views run).
    start_ts              Decimal64(3) MATERIALIZED start_time
) ENGINE = Null;

-- @TARGET@
CREATE TABLE bench.@TABLE@
(
    project_id          String,
    id                  String,
    timestamp           AggregateFunction(min, Decimal64(3)),
    start_time          AggregateFunction(min, Decimal64(3)),
    end_time            AggregateFunction(max, Decimal64(3)),
    name                AggregateFunction(anyLast, String),
    metadata            AggregateFunction(groupUniqArrayArray, Array(Tuple(String, String))),
    user_id             AggregateFunction(anyLast, String),
    session_id          AggregateFunction(anyLast, String),
    environment         AggregateFunction(anyLast, String),
    tags                AggregateFunction(groupUniqArrayArray, Array(String)),
    version             AggregateFunction(anyLast, String),
    release             AggregateFunction(anyLast, String),
    bookmarked          AggregateFunction(argMax, UInt8, Decimal64(3)),
    public              AggregateFunction(argMax, UInt8, Decimal64(3)),
    observation_ids     AggregateFunction(groupUniqArrayArray, Array(String)),
    score_ids           AggregateFunction(groupUniqArrayArray, Array(String)),
    cost_details        AggregateFunction(sumMap, Array(UInt64), Array(Decimal(38, 12))),
    cost_details_names  AggregateFunction(groupUniqArrayArray, Array(String)),
    usage_details       AggregateFunction(sumMap, Array(UInt64), Array(UInt64)),
    usage_details_names AggregateFunction(groupUniqArrayArray, Array(String)),
    input               AggregateFunction(argMax, String, Decimal64(3)),
    output              AggregateFunction(argMax, String, Decimal64(3)),
    created_at          AggregateFunction(min, Decimal64(3)),
    updated_at          AggregateFunction(max, Decimal64(3))
) ENGINE = AggregatingMergeTree() ORDER BY (project_id, id);

CREATE MATERIALIZED VIEW bench.@TABLE@_mv TO bench.@TABLE@ AS
SELECT
    project_id,
    id,
    minState(start_ts)                                                   AS timestamp,
    minState(start_ts)                                                   AS start_time,
    maxState(coalesce(end_time, start_ts))                                 AS end_time,
    anyLastState(name)                                                   AS name,
    groupUniqArrayArrayState(arrayMap((k, v) -> tuple(k, v), metadata_keys, metadata_values)) AS metadata,
    anyLastState(user_id)                                                AS user_id,
    anyLastState(session_id)                                             AS session_id,
    anyLastState(environment)                                            AS environment,
    groupUniqArrayArrayState(tags)                                       AS tags,
    anyLastState(version)                                                AS version,
    anyLastState(release)                                                AS release,
    argMaxState(ifNull(bookmarked, 2), if(bookmarked IS NOT NULL, event_ts, toDecimal64(0, 3))) AS bookmarked,
    argMaxState(ifNull(public, 2), if(public IS NOT NULL, event_ts, toDecimal64(0, 3)))         AS public,
    groupUniqArrayArrayState(observation_ids)                            AS observation_ids,
    groupUniqArrayArrayState(score_ids)                                  AS score_ids,
    sumMapState(arrayMap(k -> cityHash64(k), cost_details_keys), cost_details_values)   AS cost_details,
    groupUniqArrayArrayState(cost_details_keys)                          AS cost_details_names,
    sumMapState(arrayMap(k -> cityHash64(k), usage_details_keys), usage_details_values) AS usage_details,
    groupUniqArrayArrayState(usage_details_keys)                         AS usage_details_names,
    argMaxState(input, if(input != '', event_ts, toDecimal64(0, 3)))   AS input,
    argMaxState(output, if(output != '', event_ts, toDecimal64(0, 3))) AS output,
    minState(created_at)                                                 AS created_at,
    maxState(updated_at)                                                 AS updated_at
FROM bench.traces_null
@TTL@
GROUP BY project_id, id;
