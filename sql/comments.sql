-- Every object of the extension has a comment, so that \dx+, \df+ and \dT+
-- explain it (issue 11, item 7).  Lists the members without one: expected
-- none.  Columns and other sub-objects do not count, nor do the array and
-- row types Postgres makes for a type or table (16 and later record them as
-- members too).
SELECT pg_describe_object(d.classid, d.objid, d.objsubid) AS uncommented
FROM pg_depend d
JOIN pg_extension e ON d.refclassid = 'pg_extension'::regclass AND d.refobjid = e.oid
WHERE e.extname = 'trace_agg' AND d.deptype = 'e'
  AND obj_description(d.objid, d.classid::regclass::name) IS NULL
  AND NOT EXISTS (SELECT FROM pg_type t
                  WHERE d.classid = 'pg_type'::regclass AND t.oid = d.objid
                    AND (t.typrelid <> 0 OR (t.typelem <> 0 AND t.typlen = -1)))
ORDER BY 1;
