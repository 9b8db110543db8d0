-- test/bench/clickhouse_read.sql: the finalized traces of one ClickHouse
-- target (@TABLE@), as the reference's "Query AggregatingMergeTrees" reads
-- them, one JSON object a trace, for test/bench/run to compare with
-- trace_agg's.  After OPTIMIZE ... FINAL a key has one row, so -Merge with
-- GROUP BY only finalizes.  Maps come back as sorted key and value arrays:
-- metadata the largest value of each key (maxMap), the sums named by the
-- key whose hash they were summed under (sumMap).  @TTL@ is the TTL's
-- cutoff, as trace_agg's read views apply it.
SELECT
    project_id,
    id,
    minMerge(timestamp)                 AS timestamp,
    minMerge(start_time)                AS start_time,
    maxMerge(end_time)                  AS end_time,
    nullIf(anyLastMerge(name), '')      AS name,
    groupUniqArrayArrayMerge(metadata)  AS metadata_pairs,
    arraySort(arrayDistinct(arrayMap(p -> p.1, metadata_pairs))) AS metadata_keys,
    arrayMap(k -> arrayReduce('max', arrayMap(p -> p.2, arrayFilter(p -> p.1 = k, metadata_pairs))),
             metadata_keys)             AS metadata_values,
    nullIf(anyLastMerge(user_id), '')   AS user_id,
    nullIf(anyLastMerge(session_id), '') AS session_id,
    anyLastMerge(environment)           AS environment,
    arraySort(groupUniqArrayArrayMerge(tags)) AS tags,
    nullIf(anyLastMerge(version), '')   AS version,
    nullIf(anyLastMerge(release), '')   AS release,
    nullIf(argMaxMerge(bookmarked), 2) AS bookmarked,
    nullIf(argMaxMerge(public), 2)   AS public,
    arraySort(groupUniqArrayArrayMerge(observation_ids)) AS observation_ids,
    arraySort(groupUniqArrayArrayMerge(score_ids)) AS score_ids,
    sumMapMerge(cost_details)           AS cost_sums,
    groupUniqArrayArrayMerge(cost_details_names) AS cost_names,
    arrayMap(h -> arrayFirst(n -> cityHash64(n) = h, cost_names), cost_sums.1) AS cost_details_keys,
    cost_sums.2                         AS cost_details_values,
    sumMapMerge(usage_details)          AS usage_sums,
    groupUniqArrayArrayMerge(usage_details_names) AS usage_names,
    arrayMap(h -> arrayFirst(n -> cityHash64(n) = h, usage_names), usage_sums.1) AS usage_details_keys,
    usage_sums.2                        AS usage_details_values,
    argMaxMerge(input)                  AS input,
    argMaxMerge(output)                 AS output,
    minMerge(created_at)                AS created_at,
    maxMerge(updated_at)                AS updated_at
FROM bench.@TABLE@
GROUP BY project_id, id
@TTL@
FORMAT JSONEachRow
