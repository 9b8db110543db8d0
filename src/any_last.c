/*
 * any_last.c
 *		any_last(anyelement): ClickHouse's anyLast, the last non-NULL value
 *		of a group in input order.
 *
 * The aggregate keeps no state of its own: its transition value is simply
 * the value seen last.  The transition function is declared STRICT with no
 * initial value, which makes nodeAgg do everything else:
 *
 *	- NULL inputs never reach the function, so they are skipped;
 *	- the first non-NULL input becomes the transition value, copied into the
 *	  aggregate memory context (ExecAggInitGroup);
 *	- afterwards, whenever the function returns a by-reference datum other
 *	  than the current transition value, nodeAgg copies it into the aggregate
 *	  context and frees the previous one (ExecAggTransReparent), so a long
 *	  group holds exactly one value at a time;
 *	- a group with no non-NULL input ends with a NULL transition value, and
 *	  without a final function that NULL is the result.
 *
 * The same function serves as combine function: of two partial states the
 * later one wins, and a NULL partial state (a worker that saw only NULLs) is
 * skipped like a NULL input.  Which state is "later" under a parallel plan
 * is as unspecified as "last" is in ClickHouse's multithreaded aggregation.
 */
#include "postgres.h"

#include "fmgr.h"

/*
 * any_last_transfn(state anyelement, value anyelement) returns anyelement
 *
 * Returns its second argument untouched: no copy and no detoasting here,
 * because nodeAgg copies the returned datum into the aggregate context
 * itself (a TOAST pointer stays a pointer until the value is used).
 */
PG_FUNCTION_INFO_V1(any_last_transfn);

Datum
any_last_transfn(PG_FUNCTION_ARGS)
{
	PG_RETURN_DATUM(PG_GETARG_DATUM(1));
}
