-- The demo: what trace_agg gives a fresh database.
\pset pager off
CREATE EXTENSION trace_agg;
\dx trace_agg
\dx+ trace_agg
