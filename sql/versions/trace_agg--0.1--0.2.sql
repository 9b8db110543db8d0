-- trace_agg update from 0.1 to 0.2.  A fresh install of 0.2 runs the parts
-- in sql/ext/; this script must leave an updated database with the same
-- objects (test/scripts/upgrade.sh compares the two).

\echo Use "ALTER EXTENSION trace_agg UPDATE TO '0.2'" to load this file. \quit
