#!/usr/bin/env bash
# bench_smoke: the benchmark (test/bench/run) end to end at 1,000 events of
# each stream shape (light and heavy), on its own instance, with ClickHouse
# 18.16 (installed by the benchmark when missing) unless
# TA_BENCH_CLICKHOUSE=0.  Every part must run without error, trace_agg and
# the plain-SQL peer must merge the same traces, trace_agg's finalized
# traces must equal ClickHouse's field by field (the benchmark checks both),
# and every result table of both shapes must be printed.  No timing is
# checked.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${TA_DIR:?run by test/run, which sets TA_DIR}/bench.out
with_ch=${TA_BENCH_CLICKHOUSE:-1}

fail() {
	echo "$1"
	cat "$out"
	exit 1
}

# No timing is checked, so no wait after a previous benchmark's drop of
# ClickHouse parts (TA_BENCH_CH_SETTLE=0).
TA_BENCH_SHAPES="light heavy" TA_BENCH_CLIENTS="1 2 4" TA_BENCH_CLICKHOUSE=$with_ch TA_BENCH_CH_SETTLE=0 \
	"$here/../bench/run" 1000 >"$out" 2>&1 || fail "the benchmark failed"
for shape in light heavy; do
	# The report of one shape: from its heading to the next one.
	section=$(awk -v h="=== The $shape stream ===" '$0 == h { on = 1; next } /^=== The / { on = 0 } on' "$out")
	for heading in 'Ingest:' 'Against ClickHouse:' 'Headroom:' 'Reads:' 'Storage:' 'Merged input/output payloads' 'Plans'; do
		grep -q "^$heading" <<<"$section" || fail "the benchmark printed no \"$heading\" table for the $shape stream"
	done
	# Five systems (four without ClickHouse) at 1, 2 and 4 clients.
	runs=$(grep -cE '^ +[124] \| (trace_agg|clickhouse|peer|floor|intake) ' <<<"$section" || true)
	want=$([ "$with_ch" = 1 ] && echo 15 || echo 12)
	[ "$runs" = "$want" ] || fail "expected $want ingest results for the $shape stream, got $runs"
	if [ "$with_ch" = 1 ]; then
		# The three read views compared with ClickHouse, no field differing.
		checked=$(grep -cE '^ traces_(all|7d|30d) +\| +[1-9][0-9]* \| +[1-9][0-9]* \| +21 \| none$' <<<"$section" || true)
		[ "$checked" = 3 ] || fail "the $shape stream's check against ClickHouse did not cover three views with 0 differences"
	fi
done
echo ok
