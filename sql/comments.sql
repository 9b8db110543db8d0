-- Every object of the extension has a comment, so that \dx+, \df+ and \dT+
-- explain it (issue 11, item 7).  Lists the members without one: expected
-- none.  Columns and other sub-objects do not count.
SELECT pg_describe_object(d.classid, d.objid, d.objsubid) AS uncommented
FROM pg_depend d
JOIN pg_extension e ON d.refclassid = 'pg_extension'::regclass AND d.refobjid = e.oid
WHERE e.extname = 'trace_agg' AND d.deptype = 'e'
  AND obj_description(d.objid, d.classid::regclass::name) IS NULL
ORDER BY 1;
