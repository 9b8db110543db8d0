/*
 * argmax_merge.c
 *		Merging argmax states: the scalar merge(a, b) and the aggregate
 *		argmax_merge(state).
 *
 * Merging needs only the fixed part of each state, so both read that part
 * with a slice detoast and hand the winner on as it came, never opening its
 * payload.  merge(stored, incoming) returns its first argument itself when
 * that one stays, so in
 *		INSERT ... ON CONFLICT DO UPDATE SET c = trace_agg.merge(t.c, excluded.c)
 * a stored state that keeps winning is written back as the same TOAST
 * pointer and its payload is not rewritten.  On equal keys the earlier
 * state, the first argument or the earlier row, stays, as in ClickHouse.
 */
#include "postgres.h"

#include "access/detoast.h"

#include "argmax.h"

PG_FUNCTION_INFO_V1(argmax_merge_states);

/*
 * merge(a, b): the state of a and b taken together.  Not strict: NULL on
 * one side returns the other.
 */
Datum
argmax_merge_states(PG_FUNCTION_ARGS)
{
	ArgMaxHeader first;
	ArgMaxHeader second;

	if (PG_ARGISNULL(0))
	{
		if (PG_ARGISNULL(1))
			PG_RETURN_NULL();
		PG_RETURN_DATUM(PG_GETARG_DATUM(1));
	}
	if (PG_ARGISNULL(1))
		PG_RETURN_DATUM(PG_GETARG_DATUM(0));

	argmax_header_fetch(PG_GETARG_DATUM(0), &first);
	argmax_header_fetch(PG_GETARG_DATUM(1), &second);
	argmax_check_compatible(&first, &second);
	if (argmax_header_beats(&second, &first))
		PG_RETURN_DATUM(PG_GETARG_DATUM(1));
	PG_RETURN_DATUM(PG_GETARG_DATUM(0));
}

/*
 * Transition state of argmax_merge: the winning state as it arrived, which
 * may still be a TOAST pointer, and its unpacked fixed part.
 */
typedef struct ArgMaxMergeTrans
{
	ArgMaxHeader hdr;
	struct varlena *held;
} ArgMaxMergeTrans;

/* A copy of state in cxt, its payload left where it is when on disk. */
static struct varlena *
copy_state_shallow(MemoryContext cxt, struct varlena *state)
{
	struct varlena *copy;

	/* in-memory indirections may not outlive the row they came with */
	if (VARATT_IS_EXTERNAL(state) && !VARATT_IS_EXTERNAL_ONDISK(state))
		state = detoast_external_attr(state);
	copy = MemoryContextAlloc(cxt, VARSIZE_ANY(state));
	memcpy(copy, state, VARSIZE_ANY(state));
	return copy;
}

/* Merge the state held with header hdr into trans, creating it if NULL. */
static ArgMaxMergeTrans *
merge_trans_add(ArgMaxMergeTrans *trans, MemoryContext aggcxt,
				const ArgMaxHeader *hdr, struct varlena *held)
{
	if (trans == NULL)
		trans = MemoryContextAllocZero(aggcxt, sizeof(ArgMaxMergeTrans));
	else
	{
		argmax_check_compatible(&trans->hdr, hdr);
		if (!argmax_header_beats(hdr, &trans->hdr))
			return trans;
		pfree(trans->held);
	}
	trans->hdr = *hdr;
	trans->held = copy_state_shallow(aggcxt, held);
	return trans;
}

PG_FUNCTION_INFO_V1(argmax_merge_transfn);

/* argmax_merge_transfn(trans internal, state "any") */
Datum
argmax_merge_transfn(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt;
	ArgMaxMergeTrans *trans = PG_ARGISNULL(0) ? NULL : (ArgMaxMergeTrans *) PG_GETARG_POINTER(0);
	ArgMaxHeader hdr;

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		elog(ERROR, "argmax_merge_transfn called in non-aggregate context");
	if (PG_ARGISNULL(1))
	{
		if (trans == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(trans);
	}

	argmax_header_fetch(PG_GETARG_DATUM(1), &hdr);
	trans = merge_trans_add(trans, aggcxt, &hdr,
							(struct varlena *) PG_GETARG_POINTER(1));
	PG_RETURN_POINTER(trans);
}

PG_FUNCTION_INFO_V1(argmax_merge_combinefn);

/* argmax_merge_combinefn(trans internal, other internal); the first wins ties */
Datum
argmax_merge_combinefn(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt;
	ArgMaxMergeTrans *trans = PG_ARGISNULL(0) ? NULL : (ArgMaxMergeTrans *) PG_GETARG_POINTER(0);
	ArgMaxMergeTrans *other = PG_ARGISNULL(1) ? NULL : (ArgMaxMergeTrans *) PG_GETARG_POINTER(1);

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		elog(ERROR, "argmax_merge_combinefn called in non-aggregate context");
	if (other == NULL)
	{
		if (trans == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(trans);
	}
	PG_RETURN_POINTER(merge_trans_add(trans, aggcxt, &other->hdr, other->held));
}

PG_FUNCTION_INFO_V1(argmax_merge_serialfn);

/* argmax_merge_serialfn(trans internal): the winning state, fetched whole */
Datum
argmax_merge_serialfn(PG_FUNCTION_ARGS)
{
	ArgMaxMergeTrans *trans = (ArgMaxMergeTrans *) PG_GETARG_POINTER(0);

	PG_RETURN_POINTER(PG_DETOAST_DATUM_COPY(PointerGetDatum(trans->held)));
}

PG_FUNCTION_INFO_V1(argmax_merge_deserialfn);

/* argmax_merge_deserialfn(bytea, internal): the inverse of argmax_merge_serialfn */
Datum
argmax_merge_deserialfn(PG_FUNCTION_ARGS)
{
	ArgMaxMergeTrans *trans = palloc(sizeof(ArgMaxMergeTrans));

	trans->held = PG_GETARG_VARLENA_P(0);
	argmax_state_open(trans->held, &trans->hdr);
	PG_RETURN_POINTER(trans);
}

PG_FUNCTION_INFO_V1(argmax_merge_finalfn);

/* argmax_merge_finalfn(trans internal): the winning state, or NULL for no rows */
Datum
argmax_merge_finalfn(PG_FUNCTION_ARGS)
{
	ArgMaxMergeTrans *trans = PG_ARGISNULL(0) ? NULL : (ArgMaxMergeTrans *) PG_GETARG_POINTER(0);

	if (trans == NULL)
		PG_RETURN_NULL();
	PG_RETURN_POINTER(copy_state_shallow(CurrentMemoryContext, trans->held));
}
