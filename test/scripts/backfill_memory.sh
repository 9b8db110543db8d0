#!/usr/bin/env bash
# A backfill in one INSERT ... SELECT runs in memory bounded by work_mem and
# the states' content, not by the number of rows: the backend's peak private
# memory (peak resident size less the shared memory it touched) for 600,000
# rows stays close to its peak for 200,000 rows.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
psql() { "$TA_BINDIR/psql" -X -v ON_ERROR_STOP=1 -q -At "$@"; }

# Small shared buffers, so that touching them barely counts in the peak.
ta_as_pg "$TA_BINDIR/pg_ctl" -D "$TA_DIR/data" -w -o "-c shared_buffers=16MB" restart >/dev/null
psql -c "CREATE EXTENSION trace_agg" -c "SELECT trace_agg.create_traces_tables()"

peak_kb() {	# peak_kb ROWS: peak resident memory of a backend running the backfill
	psql <<SQL
SET work_mem = '4MB';
INSERT INTO traces_null (project_id, id, start_time, name, tags, observation_ids, usage_details, input, event_ts)
SELECT 'backfill-$1', 't' || (g % ($1 / 10)), now() - interval '1 day', 'n' || g, ARRAY['tag' || (g % 7)],
       ARRAY['o' || g], jsonb_build_object('input', g % 100, 'output', 1),
       repeat('payload ' || g, 20), now() - interval '1 day' + g * interval '1 ms'
FROM generate_series(1, $1) g;
SELECT substring(s FROM 'VmHWM:\s*(\d+)')::int - substring(s FROM 'RssShmem:\s*(\d+)')::int
FROM pg_read_file('/proc/' || pg_backend_pid() || '/status') s;
SQL
}
small=$(peak_kb 200000)
large=$(peak_kb 600000)
echo "peak private backend memory: 200,000 rows ${small} kB, 600,000 rows ${large} kB"
psql -c "SELECT count(*) || ' traces, ' || sum((usage_details->>'input')::numeric) || ' input tokens'
         FROM traces_all WHERE project_id = 'backfill-600000'"
[ "$(psql -c "SELECT count(*) FROM traces_all WHERE project_id = 'backfill-600000'")" = 60000 ]
# Three times the rows may not cost more than 32 MB more at the peak.
[ "$large" -lt $((small + 32768)) ]
