# test/bench/profile.awk: sorts the CPU samples of a trace_agg ingest
# (perf script -F ip,sym,dso, one call stack per paragraph, leaf first) into
# the phases of an INSERT or COPY into traces_null, and prints each phase's
# share of all samples.
#
# The fan-out's phases are told apart by the executor or storage function
# on the stack that does the work; libzstd has no frame pointers, so its
# samples are recognised by their leaf alone.
BEGIN { RS = "" }
{
	n = split($0, frame, "\n")
	zstd = frame[1] ~ /libzstd/
	stack = "|"
	for (i = 1; i <= n; i++) {
		f = frame[i]
		sub(/^[ \t]*[0-9a-f]+ /, "", f)
		sub(/ \(.*$/, "", f)
		stack = stack f "|"
	}
	if (zstd)
		phase = "merge: zstd compression of payloads"
	else if (stack ~ /\|trace_agg_fanout\|/) {
		if (stack ~ /\|(toast_save_datum|toast_delete_datum|heap_toast_insert_or_update|toast_tuple_cleanup)\|/)
			phase = "merge: TOAST writes (payloads out of line)"
		else if (stack ~ /\|ExecInsertIndexTuples\|/)
			phase = "merge: index maintenance"
		else if (stack ~ /\|ExecCheckIndexConstraints\|/)
			phase = "merge: conflict lookups of ON CONFLICT"
		else if (stack ~ /\|argmax_header_fetch\|/)
			phase = "merge: stored argMax keys read from TOAST"
		else if (stack ~ /\|(heap_update|heap_insert|XLogInsert)\|/)
			phase = "merge: row versions and their WAL"
		else if (stack ~ /\|(tuplesort_[a-z_]+|ExecSort)\|/)
			phase = "merge: sorts (arrival order, key order)"
		else if (stack ~ /\|tuplestore_[a-z_]+\|/)
			phase = "merge: tuplestores read and written (transition rows, window, CTE)"
		else if (stack ~ /\|(argmax_merge[a-z_]*|group_uniq_merge|sum_map_merge[a-z_]*|max_map_merge|min_map_merge|detoast_attr)\|/)
			phase = "merge: merge functions"
		else
			phase = "merge: rest of the executor"
	}
	else if (stack ~ /\|tuplestore_puttupleslot\|/)
		phase = "transition table capture"
	else if (stack ~ /\|CommitTransactionCommand\|/)
		phase = "commit"
	else
		phase = "statements: receive, parse, COPY (the intake)"
	samples[phase]++
	total++
}
END {
	for (phase in samples)
		printf "%6.1f%%  %s\n", 100 * samples[phase] / total, phase | "sort -k2"
	close("sort -k2")
	printf "%d samples\n", total
}
