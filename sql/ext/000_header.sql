-- trace_agg extension script, built by the Makefile from sql/ext/*.sql in
-- name order.  Edit the parts, not the built file.  This is the fresh
-- install of the current version; every change to it also goes into the
-- update script from the previous version (sql/versions/), and
-- test/scripts/extension_update.sh checks that both give the same objects.

\echo Use "CREATE EXTENSION trace_agg" to load this file. \quit

-- The schema is created here, not named in the control file, so that it is a
-- member of the extension and DROP EXTENSION removes it.  Every object below
-- is qualified with it.
CREATE SCHEMA trace_agg;
COMMENT ON SCHEMA trace_agg IS 'objects of the trace_agg extension';
