-- The extension loads, lives in its own schema, and leaves nothing behind.
SELECT extname, extversion, extrelocatable
FROM pg_extension WHERE extname = 'trace_agg';

-- The trace_agg schema belongs to the extension, so DROP EXTENSION removes it.
SELECT n.nspname, d.deptype
FROM pg_namespace n
JOIN pg_depend d ON d.classid = 'pg_namespace'::regclass AND d.objid = n.oid
JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'trace_agg'
WHERE n.nspname = 'trace_agg';

-- Every function of the extension pins its search_path or is written in C
-- (a C function resolves no names).
SELECT p.oid::regprocedure AS unpinned
FROM pg_proc p
JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'trace_agg'
JOIN pg_language l ON l.oid = p.prolang
WHERE l.lanname NOT IN ('c', 'internal')
  AND NOT coalesce(p.proconfig::text[] @> ARRAY['search_path=pg_catalog, pg_temp'], false)
  AND NOT coalesce(p.proconfig::text[] @> ARRAY['search_path=pg_catalog'], false)
ORDER BY 1;

DROP EXTENSION trace_agg;

SELECT count(*) AS leftover_schemas FROM pg_namespace WHERE nspname = 'trace_agg';
SELECT count(*) AS leftover_types FROM pg_type WHERE typname LIKE 'argmax%';
SELECT count(*) AS leftover_ams FROM pg_am WHERE amname LIKE 'trace_agg%';

CREATE EXTENSION trace_agg;
SELECT extversion FROM pg_extension WHERE extname = 'trace_agg';

-- Nothing outside the schema pointed at the library either.
DROP EXTENSION trace_agg;
SELECT count(*) AS leftover_functions FROM pg_proc WHERE probin LIKE '%trace_agg%';
CREATE EXTENSION trace_agg;
