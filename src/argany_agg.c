/*
 * argany_agg.c
 *		The generic argmax, argmin, argmax_last and last_set aggregates and
 *		their state forms, over a value of any type and a key of any type
 *		with a default btree ordering.
 *
 * The transition state keeps the winning key and value, copied into the
 * aggregate's memory context when a row wins and freed when another row
 * replaces it, so a group costs the size of its current winner.  The rule
 * (which key wins, who wins ties, whether a NULL value counts) is fixed by
 * the transition function the aggregate names and travels in the state, so
 * that combine, serialize and merge apply the same one.
 *
 *	argmax		greatest key; first row wins ties; NULL value or key skipped
 *	argmin		least key; otherwise as argmax
 *	argmax_last	greatest key; the later row wins ties (ReplacingMergeTree)
 *	last_set	as argmax_last, but a NULL value is a value (a field cleared
 *				on purpose) while a NULL key means the row does not set it
 */
#include "postgres.h"

#include "utils/datum.h"
#include "utils/lsyscache.h"

#include "argany.h"

typedef struct ArgAnyTrans
{
	uint8		flags;			/* rule flags, ARGANY_HAS_ROW, ARGANY_VALUE_NULL */
	Oid			keytype;
	Oid			valtype;
	Datum		key;
	Datum		value;
} ArgAnyTrans;

static MemoryContext
agg_context(FunctionCallInfo fcinfo, const char *what)
{
	MemoryContext aggcxt;

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("%s called in non-aggregate context", what)));
	return aggcxt;
}

static Oid
arg_base_type(FunctionCallInfo fcinfo, int argno)
{
	Oid			typid = get_fn_expr_argtype(fcinfo->flinfo, argno);

	if (!OidIsValid(typid))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("could not determine the argument types of an argmax or argmin aggregate")));
	return getBaseType(typid);
}

static void
trans_free(ArgAnyTrans *trans, ArgAnyTypes *t)
{
	if (!(trans->flags & ARGANY_HAS_ROW))
		return;
	if (!t->key.typbyval)
		pfree(DatumGetPointer(trans->key));
	if (!(trans->flags & ARGANY_VALUE_NULL) && !t->val.typbyval)
		pfree(DatumGetPointer(trans->value));
}

/* Make key and value (flattened or not) the winner, copied into aggcxt. */
static void
trans_set(ArgAnyTrans *trans, ArgAnyTypes *t, MemoryContext aggcxt,
		  Datum key, Datum value, bool value_null)
{
	Datum		k = argany_flatten(&t->key, key);
	Datum		v = value_null ? (Datum) 0 : argany_flatten(&t->val, value);
	MemoryContext old;

	trans_free(trans, t);
	old = MemoryContextSwitchTo(aggcxt);
	trans->key = datumCopy(k, t->key.typbyval, t->key.typlen);
	trans->value = value_null ? (Datum) 0 : datumCopy(v, t->val.typbyval, t->val.typlen);
	MemoryContextSwitchTo(old);
	trans->flags = (trans->flags & ARGANY_RULE_FLAGS) | ARGANY_HAS_ROW |
		(value_null ? ARGANY_VALUE_NULL : 0);
}

static Datum
trans_common(FunctionCallInfo fcinfo, uint8 rule)
{
	MemoryContext aggcxt = agg_context(fcinfo, "argmax transition function");
	ArgAnyTrans *trans = PG_ARGISNULL(0) ? NULL : (ArgAnyTrans *) PG_GETARG_POINTER(0);
	bool		value_null = PG_ARGISNULL(1);
	ArgAnyTypes *t;

	if (trans == NULL)
	{
		trans = MemoryContextAllocZero(aggcxt, sizeof(ArgAnyTrans));
		trans->flags = rule;
		trans->valtype = arg_base_type(fcinfo, 1);
		trans->keytype = arg_base_type(fcinfo, 2);
	}
	if (PG_ARGISNULL(2) || (value_null && !(rule & ARGANY_NULLS)))
		PG_RETURN_POINTER(trans);
	t = argany_cached_types(fcinfo->flinfo, trans->keytype, trans->valtype);
	if (!(trans->flags & ARGANY_HAS_ROW) ||
		argany_beats(&t->key, rule, PG_GETARG_DATUM(2), trans->key))
		trans_set(trans, t, aggcxt, PG_GETARG_DATUM(2),
				  value_null ? (Datum) 0 : PG_GETARG_DATUM(1), value_null);
	PG_RETURN_POINTER(trans);
}

PG_FUNCTION_INFO_V1(argany_max_transfn);
Datum
argany_max_transfn(PG_FUNCTION_ARGS)
{
	return trans_common(fcinfo, 0);
}

PG_FUNCTION_INFO_V1(argany_min_transfn);
Datum
argany_min_transfn(PG_FUNCTION_ARGS)
{
	return trans_common(fcinfo, ARGANY_MIN);
}

PG_FUNCTION_INFO_V1(argany_max_last_transfn);
Datum
argany_max_last_transfn(PG_FUNCTION_ARGS)
{
	return trans_common(fcinfo, ARGANY_TIES_LAST);
}

PG_FUNCTION_INFO_V1(argany_last_set_transfn);
Datum
argany_last_set_transfn(PG_FUNCTION_ARGS)
{
	return trans_common(fcinfo, ARGANY_TIES_LAST | ARGANY_NULLS);
}

/* Combine: the rows of a, then those of b. */
PG_FUNCTION_INFO_V1(argany_combinefn);
Datum
argany_combinefn(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt = agg_context(fcinfo, "argmax combine function");
	ArgAnyTrans *a = PG_ARGISNULL(0) ? NULL : (ArgAnyTrans *) PG_GETARG_POINTER(0);
	ArgAnyTrans *b = PG_ARGISNULL(1) ? NULL : (ArgAnyTrans *) PG_GETARG_POINTER(1);
	ArgAnyTypes *t;

	if (b == NULL)
	{
		if (a == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(a);
	}
	if (a == NULL)
	{
		a = MemoryContextAllocZero(aggcxt, sizeof(ArgAnyTrans));
		a->flags = b->flags & ARGANY_RULE_FLAGS;
		a->keytype = b->keytype;
		a->valtype = b->valtype;
	}
	if (!(b->flags & ARGANY_HAS_ROW))
		PG_RETURN_POINTER(a);
	t = argany_cached_types(fcinfo->flinfo, b->keytype, b->valtype);
	if (!(a->flags & ARGANY_HAS_ROW) ||
		argany_beats(&t->key, a->flags, b->key, a->key))
		trans_set(a, t, aggcxt, b->key, b->value, (b->flags & ARGANY_VALUE_NULL) != 0);
	PG_RETURN_POINTER(a);
}

static ArgAnyFixed *
trans_to_state(FunctionCallInfo fcinfo, ArgAnyTrans *trans)
{
	ArgAnyTypes *t = argany_cached_types(fcinfo->flinfo, trans->keytype, trans->valtype);

	return argany_build(trans->flags & ~ARGANY_VALUE_NULL, trans->keytype,
						trans->valtype, &t->key, trans->key,
						&t->val, trans->value,
						(trans->flags & ARGANY_VALUE_NULL) != 0);
}

/* Serialize: the partial state in the stored layout. */
PG_FUNCTION_INFO_V1(argany_serialfn);
Datum
argany_serialfn(PG_FUNCTION_ARGS)
{
	agg_context(fcinfo, "argmax serialize function");
	PG_RETURN_POINTER(trans_to_state(fcinfo, (ArgAnyTrans *) PG_GETARG_POINTER(0)));
}

PG_FUNCTION_INFO_V1(argany_deserialfn);
Datum
argany_deserialfn(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt = agg_context(fcinfo, "argmax deserialize function");
	ArgAnyFixed *s = (ArgAnyFixed *) PG_DETOAST_DATUM(PG_GETARG_DATUM(0));
	ArgAnyTrans *trans;
	ArgAnyTypes *t;

	argany_check_whole(s);
	trans = MemoryContextAllocZero(aggcxt, sizeof(ArgAnyTrans));
	trans->flags = s->flags & ARGANY_RULE_FLAGS;
	trans->keytype = s->keytype;
	trans->valtype = s->valtype;
	if (s->flags & ARGANY_HAS_ROW)
	{
		bool		value_null = (s->flags & ARGANY_VALUE_NULL) != 0;

		t = argany_cached_types(fcinfo->flinfo, s->keytype, s->valtype);
		trans_set(trans, t, aggcxt, argany_fetch(&t->key, ARGANY_KEY_PTR(s)),
				  value_null ? (Datum) 0 : argany_fetch(&t->val, ARGANY_VAL_PTR(s)),
				  value_null);
	}
	PG_RETURN_POINTER(trans);
}

/* argmax(v, key) and the like: the winning value, a copy. */
PG_FUNCTION_INFO_V1(argany_finalfn);
Datum
argany_finalfn(PG_FUNCTION_ARGS)
{
	ArgAnyTrans *trans = PG_ARGISNULL(0) ? NULL : (ArgAnyTrans *) PG_GETARG_POINTER(0);
	ArgAnyTypes *t;

	if (trans == NULL || !(trans->flags & ARGANY_HAS_ROW) ||
		(trans->flags & ARGANY_VALUE_NULL))
		PG_RETURN_NULL();
	t = argany_cached_types(fcinfo->flinfo, trans->keytype, trans->valtype);
	PG_RETURN_DATUM(datumCopy(trans->value, t->val.typbyval, t->val.typlen));
}

/*
 * argmax_state(v, key) and the like: the state to store.  No row at all
 * still gives an empty state of the argument types and the rule.
 */
static Datum
state_final_common(FunctionCallInfo fcinfo, uint8 rule)
{
	ArgAnyTrans *trans = PG_ARGISNULL(0) ? NULL : (ArgAnyTrans *) PG_GETARG_POINTER(0);
	ArgAnyTrans empty;

	if (trans == NULL)
	{
		memset(&empty, 0, sizeof(empty));
		empty.flags = rule;
		empty.valtype = arg_base_type(fcinfo, 1);
		empty.keytype = arg_base_type(fcinfo, 2);
		trans = &empty;
	}
	argany_check_storable(trans->keytype);
	argany_check_storable(trans->valtype);
	PG_RETURN_POINTER(trans_to_state(fcinfo, trans));
}

PG_FUNCTION_INFO_V1(argany_max_state_finalfn);
Datum
argany_max_state_finalfn(PG_FUNCTION_ARGS)
{
	return state_final_common(fcinfo, 0);
}

PG_FUNCTION_INFO_V1(argany_min_state_finalfn);
Datum
argany_min_state_finalfn(PG_FUNCTION_ARGS)
{
	return state_final_common(fcinfo, ARGANY_MIN);
}

PG_FUNCTION_INFO_V1(argany_max_last_state_finalfn);
Datum
argany_max_last_state_finalfn(PG_FUNCTION_ARGS)
{
	return state_final_common(fcinfo, ARGANY_TIES_LAST);
}

PG_FUNCTION_INFO_V1(argany_last_set_state_finalfn);
Datum
argany_last_set_state_finalfn(PG_FUNCTION_ARGS)
{
	return state_final_common(fcinfo, ARGANY_TIES_LAST | ARGANY_NULLS);
}
