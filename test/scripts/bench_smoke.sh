#!/usr/bin/env bash
# bench_smoke: the benchmark (test/bench/run) end to end at a few thousand
# events, on its own instance.  Every part must run without error, trace_agg
# and the plain-SQL peer must merge the same traces (the benchmark checks
# it), and every result table must be printed.  No timing is checked.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${TA_DIR:?run by test/run, which sets TA_DIR}/bench.out

if ! "$here/../bench/run" 3000 >"$out" 2>&1; then
	cat "$out"
	exit 1
fi
for heading in 'Ingest:' 'Headroom:' 'Reads:' 'Storage:' 'Merged input/output payloads' 'Plans'; do
	if ! grep -q "^$heading" "$out"; then
		echo "the benchmark printed no \"$heading\" table"
		cat "$out"
		exit 1
	fi
done
# Twelve ingest runs: four systems at 1, 2 and 4 clients.
runs=$(grep -cE '^ +[124] \| (trace_agg|peer|floor|intake) ' "$out")
if [ "$runs" != 12 ]; then
	echo "expected 12 ingest results, got $runs"
	cat "$out"
	exit 1
fi
echo ok
