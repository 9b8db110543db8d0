/*
 * argany_state.c
 *		The layout of the generic argmax/argmin states (argmax_any,
 *		argmin_any) and the scalar functions on them: merge, finalize, the
 *		winning key.
 *
 * argany.h describes the layout.  merge(t, n) is what a materialized view's
 * upsert runs for every key of every batch, so it reads only the fixed part
 * and the key of each state (with slice detoasts when the state is stored
 * out of line) and returns the winning argument itself, never a copy: a
 * stored state that stays is left as it is, TOAST data and all.
 */
#include "postgres.h"

#include "access/detoast.h"
#include "access/tupmacs.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"
#include "utils/typcache.h"

#include "argany.h"

/*
 * Look up how to store and compare a type.  A key needs the comparison
 * function of its type's default btree operator class; text-like keys
 * compare bytewise (collation "C"), as every trace_agg comparison does.
 */
void
argany_type_init(ArgAnyType *t, Oid typid, bool is_key, MemoryContext mcxt)
{
	if (!SearchSysCacheExists1(TYPEOID, ObjectIdGetDatum(typid)))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("type with OID %u of an argmax or argmin state does not exist", typid),
				 errdetail("The type was dropped after the state was stored.")));
	t->typid = typid;
	get_typlenbyvalalign(typid, &t->typlen, &t->typbyval, &t->typalign);
	t->collation = type_is_collatable(typid) ? C_COLLATION_OID : InvalidOid;
	t->has_cmp = false;
	if (is_key)
	{
		TypeCacheEntry *tce = lookup_type_cache(typid, TYPECACHE_CMP_PROC);

		if (!OidIsValid(tce->cmp_proc))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_FUNCTION),
					 errmsg("could not identify a comparison function for type %s",
							format_type_be(typid)),
					 errhint("The key of argmax and argmin must have a default btree operator class.")));
		fmgr_info_cxt(tce->cmp_proc, &t->cmp, mcxt);
		t->has_cmp = true;
	}
}

/*
 * A stored state must name its types for good: an anonymous record (a row
 * built without a type, whose description lives in one session only) or
 * another pseudo-type cannot be stored.
 */
void
argany_check_storable(Oid typid)
{
	if (get_typtype(typid) == TYPTYPE_PSEUDO)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("an argmax or argmin state cannot hold a value or key of type %s",
						format_type_be(typid)),
				 errhint("Cast a row to a named composite type, e.g. ROW(a, b)::my_type.")));
}

/* The key and value types of a call site, looked up once per pair. */
ArgAnyTypes *
argany_cached_types(FmgrInfo *flinfo, Oid keytype, Oid valtype)
{
	ArgAnyTypes *c = (ArgAnyTypes *) flinfo->fn_extra;

	if (c == NULL || c->key.typid != keytype || c->val.typid != valtype)
	{
		if (c == NULL)
			c = MemoryContextAllocZero(flinfo->fn_mcxt, sizeof(ArgAnyTypes));
		argany_type_init(&c->key, keytype, true, flinfo->fn_mcxt);
		argany_type_init(&c->val, valtype, false, flinfo->fn_mcxt);
		flinfo->fn_extra = c;
	}
	return c;
}

static void
report_damaged(const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("argmax or argmin state is damaged"),
			 errdetail_internal("%s", detail)));
}

/*
 * Check the fixed part of a state of size bytes (its varlena size, or the
 * size of a slice holding at least the fixed part and the key).
 */
void
argany_check_state(const ArgAnyFixed *s, Size size)
{
	if (size < ARGANY_FIXED_SIZE)
		report_damaged("The state is shorter than its fixed part.");
	if (s->version != ARGANY_LAYOUT_VERSION)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("argmax or argmin state has layout version %u, which this trace_agg does not know",
						s->version),
				 errhint("The state was written by a later version of trace_agg.")));
	if ((s->flags & ~ARGANY_KNOWN_FLAGS) != 0)
		report_damaged(psprintf("Unknown flags 0x%02x.", s->flags));
	if (!(s->flags & ARGANY_HAS_ROW) && (s->keylen != 0 || s->vallen != 0 ||
										 (s->flags & ARGANY_VALUE_NULL)))
		report_damaged("A state without a row holds a key or a value.");
	if ((s->flags & ARGANY_VALUE_NULL) && (!(s->flags & ARGANY_NULLS) || s->vallen != 0))
		report_damaged("A NULL value where the rule has none.");
	if ((s->flags & ARGANY_HAS_ROW) && s->keylen == 0)
		report_damaged("A state with a row has an empty key.");
	if (s->keylen > size - ARGANY_FIXED_SIZE)
		report_damaged("The key runs past the end of the state.");
}

/* Check a whole, detoasted state: its fixed part and its size. */
void
argany_check_whole(const ArgAnyFixed *s)
{
	Size		size = VARSIZE(s);

	argany_check_state(s, size);
	if ((s->flags & ARGANY_HAS_ROW) &&
		(uint64) ARGANY_VAL_OFFSET(s) + s->vallen != size)
		report_damaged("The state's size does not match its key and value.");
	if ((s->flags & ARGANY_HAS_ROW) && !(s->flags & ARGANY_VALUE_NULL) && s->vallen == 0)
		report_damaged("A state with a value has an empty value.");
}

/* A datum of type t stored at ptr (aligned, in a detoasted state). */
Datum
argany_fetch(const ArgAnyType *t, const char *ptr)
{
	return fetch_att(ptr, t->typbyval, t->typlen);
}

/* A datum ready to be stored: varlenas detoasted, expanded ones flattened. */
Datum
argany_flatten(const ArgAnyType *t, Datum d)
{
	if (t->typlen == -1)
		return PointerGetDatum(PG_DETOAST_DATUM(d));
	return d;
}

/* Bytes a flattened datum takes in a state. */
Size
argany_datum_size(const ArgAnyType *t, Datum d)
{
	if (t->typlen > 0)
		return t->typlen;
	if (t->typlen == -1)
		return VARSIZE(DatumGetPointer(d));
	return strlen(DatumGetCString(d)) + 1;
}

static void
store_datum(const ArgAnyType *t, Datum d, char *dst, Size len)
{
	if (t->typbyval)
		store_att_byval(dst, d, t->typlen);
	else
		memcpy(dst, DatumGetPointer(d), len);
}

/*
 * Build a state.  Without ARGANY_HAS_ROW in flags it is empty and key and
 * value are ignored; key and value must be flattened (argany_flatten).
 */
ArgAnyFixed *
argany_build(uint8 flags, Oid keytype, Oid valtype,
			 const ArgAnyType *kt, Datum key,
			 const ArgAnyType *vt, Datum value, bool value_null)
{
	Size		keylen = 0;
	Size		vallen = 0;
	Size		total;
	ArgAnyFixed *s;

	if (flags & ARGANY_HAS_ROW)
	{
		keylen = argany_datum_size(kt, key);
		if (value_null)
			flags |= ARGANY_VALUE_NULL;
		else
			vallen = argany_datum_size(vt, value);
	}
	total = ARGANY_FIXED_SIZE + MAXALIGN(keylen) + vallen;
	if (total > MaxAllocSize)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("argmax or argmin state would take %zu bytes, more than the %zu a value may take",
						total, (Size) MaxAllocSize)));
	s = palloc0(total);
	SET_VARSIZE(s, total);
	s->version = ARGANY_LAYOUT_VERSION;
	s->flags = flags;
	s->keytype = keytype;
	s->valtype = valtype;
	s->keylen = keylen;
	s->vallen = vallen;
	if (flags & ARGANY_HAS_ROW)
	{
		store_datum(kt, key, ARGANY_KEY_PTR(s), keylen);
		if (!value_null)
			store_datum(vt, value, ARGANY_VAL_PTR(s), vallen);
	}
	return s;
}

/*
 * Whether a row with key challenger replaces the one with key incumbent,
 * under the rule in flags: a strictly greater key (least for argmin), or an
 * equal one when the later row wins ties.
 */
bool
argany_beats(const ArgAnyType *kt, uint8 flags, Datum challenger, Datum incumbent)
{
	int32		c = DatumGetInt32(FunctionCall2Coll((FmgrInfo *) &kt->cmp,
													kt->collation,
													challenger, incumbent));

	if (c == 0)
		return (flags & ARGANY_TIES_LAST) != 0;
	return (flags & ARGANY_MIN) ? c < 0 : c > 0;
}

const char *
argany_rule_name(uint8 flags)
{
	switch (flags & ARGANY_RULE_FLAGS)
	{
		case 0:
			return "argmax";
		case ARGANY_MIN:
			return "argmin";
		case ARGANY_TIES_LAST:
			return "argmax_last";
		case ARGANY_TIES_LAST | ARGANY_NULLS:
			return "last_set";
	}
	return NULL;
}

/* Two states merge only if built by the same aggregate over the same types. */
void
argany_check_same_rule(const ArgAnyFixed *a, const ArgAnyFixed *b)
{
	if ((a->flags & ARGANY_RULE_FLAGS) != (b->flags & ARGANY_RULE_FLAGS))
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("cannot merge states of different aggregates: %s and %s",
						argany_rule_name(a->flags), argany_rule_name(b->flags)),
				 errdetail("States merge only with states of the same aggregate.")));
	if (a->keytype != b->keytype || a->valtype != b->valtype)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("cannot merge a state of (%s, %s) with a state of (%s, %s)",
						format_type_be(a->valtype), format_type_be(a->keytype),
						format_type_be(b->valtype), format_type_be(b->keytype)),
				 errdetail("States merge only with states of the same value and key types.")));
}

/*
 * The fixed part and the key of a state, reading no more of an out-of-line
 * state than that.
 */
static ArgAnyFixed *
fetch_head(Datum d)
{
	struct varlena *v = (struct varlena *) DatumGetPointer(d);
	ArgAnyFixed *head;

	if (VARATT_IS_EXTERNAL_ONDISK(v))
	{
		Size		size = toast_raw_datum_size(d);

		head = (ArgAnyFixed *) detoast_attr_slice(v, 0, ARGANY_FIXED_SIZE - VARHDRSZ);
		if (VARSIZE(head) < ARGANY_FIXED_SIZE)
			report_damaged("The state is shorter than its fixed part.");
		argany_check_state(head, size);
		if (head->keylen > 0)
			head = (ArgAnyFixed *) detoast_attr_slice(v, 0,
													  ARGANY_FIXED_SIZE - VARHDRSZ + head->keylen);
		if (VARSIZE(head) < ARGANY_FIXED_SIZE + head->keylen)
			report_damaged("The key runs past the end of the state.");
		return head;
	}
	head = (ArgAnyFixed *) PG_DETOAST_DATUM(d);
	argany_check_whole(head);
	return head;
}

/* A whole state, detoasted and checked. */
static ArgAnyFixed *
fetch_whole(Datum d)
{
	ArgAnyFixed *s = (ArgAnyFixed *) PG_DETOAST_DATUM(d);

	argany_check_whole(s);
	return s;
}

/*
 * merge(a, b): the state of a's rows followed by b's.  NULL on one side
 * gives the other.  Returns one of its arguments as it came.
 */
PG_FUNCTION_INFO_V1(argany_merge_states);
Datum
argany_merge_states(PG_FUNCTION_ARGS)
{
	ArgAnyFixed *a;
	ArgAnyFixed *b;
	ArgAnyTypes *t;

	if (PG_ARGISNULL(0))
	{
		if (PG_ARGISNULL(1))
			PG_RETURN_NULL();
		PG_RETURN_DATUM(PG_GETARG_DATUM(1));
	}
	if (PG_ARGISNULL(1))
		PG_RETURN_DATUM(PG_GETARG_DATUM(0));
	a = fetch_head(PG_GETARG_DATUM(0));
	b = fetch_head(PG_GETARG_DATUM(1));
	argany_check_same_rule(a, b);
	if (!(b->flags & ARGANY_HAS_ROW))
		PG_RETURN_DATUM(PG_GETARG_DATUM(0));
	if (!(a->flags & ARGANY_HAS_ROW))
		PG_RETURN_DATUM(PG_GETARG_DATUM(1));
	t = argany_cached_types(fcinfo->flinfo, a->keytype, a->valtype);
	if (argany_beats(&t->key, a->flags,
					 argany_fetch(&t->key, ARGANY_KEY_PTR(b)),
					 argany_fetch(&t->key, ARGANY_KEY_PTR(a))))
		PG_RETURN_DATUM(PG_GETARG_DATUM(1));
	PG_RETURN_DATUM(PG_GETARG_DATUM(0));
}

/*
 * finalize(state, NULL::type): the winning value, as the type named by the
 * second argument, which must be the state's value type.  NULL for a state
 * that saw no row, or whose winning row cleared the value.
 */
PG_FUNCTION_INFO_V1(argany_finalize);
Datum
argany_finalize(PG_FUNCTION_ARGS)
{
	ArgAnyFixed *s;
	Oid			want = getBaseType(get_fn_expr_argtype(fcinfo->flinfo, 1));
	ArgAnyTypes *t;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	s = fetch_whole(PG_GETARG_DATUM(0));
	if (s->valtype != want)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("state holds a value of type %s, not %s",
						format_type_be(s->valtype), format_type_be(want)),
				 errhint("Pass NULL cast to the state's value type as the second argument.")));
	if (!(s->flags & ARGANY_HAS_ROW) || (s->flags & ARGANY_VALUE_NULL))
		PG_RETURN_NULL();
	t = argany_cached_types(fcinfo->flinfo, s->keytype, s->valtype);
	PG_RETURN_DATUM(datumCopy(argany_fetch(&t->val, ARGANY_VAL_PTR(s)),
							  t->val.typbyval, t->val.typlen));
}

/* argmax_key(state): the winning key in its type's text form, or NULL. */
PG_FUNCTION_INFO_V1(argany_key_text);
Datum
argany_key_text(PG_FUNCTION_ARGS)
{
	ArgAnyFixed *s = fetch_head(PG_GETARG_DATUM(0));
	ArgAnyTypes *t;
	Oid			outfn;
	bool		isvarlena;

	if (!(s->flags & ARGANY_HAS_ROW))
		PG_RETURN_NULL();
	t = argany_cached_types(fcinfo->flinfo, s->keytype, s->valtype);
	getTypeOutputInfo(s->keytype, &outfn, &isvarlena);
	PG_RETURN_TEXT_P(cstring_to_text(OidOutputFunctionCall(outfn,
														   argany_fetch(&t->key, ARGANY_KEY_PTR(s)))));
}
