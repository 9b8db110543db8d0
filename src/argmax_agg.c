/*
 * argmax_agg.c
 *		The argmax(value, key) and argmax_state(value, key) aggregates.
 *
 * Both keep the same transition state: the greatest key seen so far and an
 * uncompressed copy of the value of its row, in the aggregate's memory
 * context.  The value is copied only when a row wins, and the previous copy
 * is freed then, so a group costs the size of its current winner however
 * many rows it sees.  argmax returns the value; argmax_state builds the
 * state type, compressing a text value once, at the end.
 *
 * The rules are ClickHouse's argMax: a row replaces the winner only with a
 * strictly greater key, so among equal keys the first row in input order
 * stays; a row whose value or key is NULL is skipped, so NULL never wins.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "utils/lsyscache.h"

#include "argmax.h"

typedef struct ArgMaxTrans
{
	ArgMaxValueType vtype;
	ArgMaxKeyKind kind;
	bool		has_value;
	int64		key;
	char	   *value;			/* winner's bytes: a boolean as one byte, a
								 * text or jsonb as its varlena body */
	uint32		len;
} ArgMaxTrans;

/* What an aggregate's argument types make of its states, per call site. */
typedef struct ArgMaxArgTypes
{
	ArgMaxValueType vtype;
	ArgMaxKeyKind kind;
} ArgMaxArgTypes;

/*
 * The value type and key kind of the aggregate being computed, from the
 * types of its arguments 1 and 2 (after the state), looked up once per call
 * site.  A domain over jsonb resolves to the jsonb family by the function's
 * signature, and reaches here as jsonb.
 */
static const ArgMaxArgTypes *
resolve_arg_types(FunctionCallInfo fcinfo)
{
	ArgMaxArgTypes *types = (ArgMaxArgTypes *) fcinfo->flinfo->fn_extra;

	if (types == NULL)
	{
		Oid			vtype = getBaseType(get_fn_expr_argtype(fcinfo->flinfo, 1));
		Oid			ktype = getBaseType(get_fn_expr_argtype(fcinfo->flinfo, 2));

		types = MemoryContextAlloc(fcinfo->flinfo->fn_mcxt, sizeof(ArgMaxArgTypes));
		switch (vtype)
		{
			case TEXTOID:
				types->vtype = ARGMAX_VALUE_TEXT;
				break;
			case BOOLOID:
				types->vtype = ARGMAX_VALUE_BOOL;
				break;
			case JSONBOID:
				types->vtype = ARGMAX_VALUE_JSONB;
				break;
			default:
				elog(ERROR, "argmax value of type %u is not supported", vtype);
		}
		types->kind = argmax_key_kind_of_type(ktype);
		fcinfo->flinfo->fn_extra = types;
	}
	return types;
}

static ArgMaxTrans *
trans_create(MemoryContext aggcxt, ArgMaxValueType vtype, ArgMaxKeyKind kind)
{
	ArgMaxTrans *state = MemoryContextAllocZero(aggcxt, sizeof(ArgMaxTrans));

	state->vtype = vtype;
	state->kind = kind;
	return state;
}

/* Make value (len bytes) under key the winner of state. */
static void
trans_set_winner(ArgMaxTrans *state, MemoryContext aggcxt, int64 key,
				 const char *value, uint32 len)
{
	if (state->value != NULL)
		pfree(state->value);
	state->value = MemoryContextAlloc(aggcxt, Max(len, 1));
	memcpy(state->value, value, len);
	state->len = len;
	state->key = key;
	state->has_value = true;
}

PG_FUNCTION_INFO_V1(argmax_transfn);

/* argmax_transfn(state internal, value "any", key "any") */
Datum
argmax_transfn(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt;
	ArgMaxTrans *state;
	int64		key;

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		elog(ERROR, "argmax_transfn called in non-aggregate context");

	if (PG_ARGISNULL(0))
	{
		const ArgMaxArgTypes *types = resolve_arg_types(fcinfo);

		state = trans_create(aggcxt, types->vtype, types->kind);
	}
	else
		state = (ArgMaxTrans *) PG_GETARG_POINTER(0);

	if (PG_ARGISNULL(1) || PG_ARGISNULL(2))
		PG_RETURN_POINTER(state);

	/* timestamptz, timestamp and bigint are all int64 datums */
	key = PG_GETARG_INT64(2);
	if (state->has_value && key <= state->key)
		PG_RETURN_POINTER(state);

	if (state->vtype == ARGMAX_VALUE_BOOL)
	{
		char		flag = PG_GETARG_BOOL(1) ? 1 : 0;

		trans_set_winner(state, aggcxt, key, &flag, 1);
	}
	else
	{
		struct varlena *value = PG_GETARG_VARLENA_PP(1);

		trans_set_winner(state, aggcxt, key, VARDATA_ANY(value),
						 VARSIZE_ANY_EXHDR(value));
		PG_FREE_IF_COPY(value, 1);
	}
	PG_RETURN_POINTER(state);
}

PG_FUNCTION_INFO_V1(argmax_combinefn);

/*
 * argmax_combinefn(state internal, other internal): fold a partial state
 * into another.  On equal keys the first, earlier state keeps its value.
 */
Datum
argmax_combinefn(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt;
	ArgMaxTrans *state = PG_ARGISNULL(0) ? NULL : (ArgMaxTrans *) PG_GETARG_POINTER(0);
	ArgMaxTrans *other = PG_ARGISNULL(1) ? NULL : (ArgMaxTrans *) PG_GETARG_POINTER(1);

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		elog(ERROR, "argmax_combinefn called in non-aggregate context");

	if (other == NULL)
	{
		if (state == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(state);
	}
	/* other lives in a short-lived context: copy what is kept */
	if (state == NULL)
		state = trans_create(aggcxt, other->vtype, other->kind);
	Assert(state->vtype == other->vtype && state->kind == other->kind);
	if (other->has_value && (!state->has_value || other->key > state->key))
		trans_set_winner(state, aggcxt, other->key, other->value, other->len);
	PG_RETURN_POINTER(state);
}

PG_FUNCTION_INFO_V1(argmax_serialfn);

/* argmax_serialfn(state internal): the state as an uncompressed state varlena */
Datum
argmax_serialfn(PG_FUNCTION_ARGS)
{
	ArgMaxTrans *state = (ArgMaxTrans *) PG_GETARG_POINTER(0);

	PG_RETURN_POINTER(argmax_state_from_value(state->vtype, state->kind,
											  state->has_value, state->key,
											  state->value, state->len, false));
}

PG_FUNCTION_INFO_V1(argmax_deserialfn);

/* argmax_deserialfn(bytea, internal): the inverse of argmax_serialfn */
Datum
argmax_deserialfn(PG_FUNCTION_ARGS)
{
	struct varlena *bytes = PG_GETARG_VARLENA_PP(0);
	ArgMaxHeader hdr;
	const char *payload = argmax_state_open(bytes, &hdr);
	ArgMaxTrans *state = palloc0(sizeof(ArgMaxTrans));

	state->vtype = hdr.vtype;
	state->kind = hdr.kind;
	if (hdr.flags & ARGMAX_HAS_VALUE)
	{
		state->has_value = true;
		state->key = hdr.key;
		state->len = hdr.rawlen;
		state->value = palloc(Max(hdr.rawlen, 1));
		argmax_value_extract(&hdr, payload, state->value);
	}
	PG_RETURN_POINTER(state);
}

PG_FUNCTION_INFO_V1(argmax_finalfn);

/*
 * argmax_finalfn(state internal): the winning value, of the aggregate's
 * value type, or NULL when no row counted.
 */
Datum
argmax_finalfn(PG_FUNCTION_ARGS)
{
	ArgMaxTrans *state = PG_ARGISNULL(0) ? NULL : (ArgMaxTrans *) PG_GETARG_POINTER(0);
	struct varlena *result;

	if (state == NULL || !state->has_value)
		PG_RETURN_NULL();
	if (state->vtype == ARGMAX_VALUE_BOOL)
		PG_RETURN_BOOL(state->value[0] != 0);

	/* a copy: the state may go on to take further rows, as in a window */
	result = (struct varlena *) palloc(VARHDRSZ + state->len);
	SET_VARSIZE(result, VARHDRSZ + state->len);
	memcpy(VARDATA(result), state->value, state->len);
	PG_RETURN_POINTER(result);
}

PG_FUNCTION_INFO_V1(argmax_state_finalfn);

/*
 * argmax_state_finalfn(state internal, value "any", key "any"): the state
 * type.  The extra arguments (always NULL) carry the aggregate's argument
 * types, so that input with no row still yields an empty state of the right
 * kind.
 */
Datum
argmax_state_finalfn(PG_FUNCTION_ARGS)
{
	ArgMaxTrans *state = PG_ARGISNULL(0) ? NULL : (ArgMaxTrans *) PG_GETARG_POINTER(0);
	const ArgMaxArgTypes *types;

	if (state != NULL)
		PG_RETURN_POINTER(argmax_state_from_value(state->vtype, state->kind,
												  state->has_value, state->key,
												  state->value, state->len, true));
	types = resolve_arg_types(fcinfo);
	PG_RETURN_POINTER(argmax_state_from_value(types->vtype, types->kind,
											  false, 0, NULL, 0, true));
}
