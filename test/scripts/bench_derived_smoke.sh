#!/usr/bin/env bash
# bench_derived_smoke: the derived-views benchmark (test/bench/derived_run)
# end to end at 2,000 rows with 1 and 2 clients, on its own instance.  Every
# system's statements must succeed (the benchmark fails otherwise), trace_agg's
# traces and sessions must equal the plain-SQL peer's (the benchmark fails
# otherwise, and the check table must say 0 differences), and the ingest and
# read tables must be printed for every system.  No timing is checked.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${TA_DIR:?run by test/run, which sets TA_DIR}/bench_derived.out

fail() {
	echo "$1"
	cat "$out"
	exit 1
}

TA_BENCH_CLIENTS="1 2" "$here/../bench/derived_run" 2000 >"$out" 2>&1 || fail "the benchmark failed"
for heading in 'Ingest:' 'Reads (ms' 'Check:'; do
	grep -q "^$heading" "$out" || fail "the benchmark printed no \"$heading\" table"
done
runs=$(grep -cE '^ +[12] \| (intake|traces|trace_agg|peer) ' "$out" || true)
[ "$runs" = 8 ] || fail "expected 8 ingest results, got $runs"
reads=$(grep -cE '^ (trace by id|traces page|a session|sessions page).*\| (trace_agg|peer|traces) ' "$out" || true)
[ "$reads" = 12 ] || fail "expected 12 read results, got $reads"
for table in traces sessions; do
	grep -qE "^ $table +\| +[1-9][0-9]* \| +[1-9][0-9]* \| +0$" "$out" ||
		fail "the check of $table did not find equal, non-empty tables"
done
echo ok
