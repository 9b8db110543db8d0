/*
 * lww_map.c
 *		Last-writer-wins maps (lww_map): tags that can be removed and added
 *		again, metadata keys that keep their latest value and can be removed.
 *
 * A map is a jsonb object from an element (a tag, a metadata key) to its
 * latest operation:
 *		{"t": <event time, microseconds since 1970 UTC>, "v": <value>}	set
 *		{"t": <event time>}												added tag
 *		{"t": <event time>, "d": true}									removed
 * Per element the greatest operation wins, ordered by event time, then a
 * removal before anything else, then the value in jsonb order.  Merging is
 * taking that maximum element by element: commutative, associative and
 * idempotent, so a map is the same for any split of the events into batches
 * and any order of arrival.  Removed elements stay as tombstones, so that an
 * older operation arriving late cannot bring them back.
 *
 * While aggregating, a map is a sorted array of entries in the aggregate's
 * memory context (binary search, bytewise order, which is also the order
 * tags are returned in); it becomes jsonb only at the end.  An entry is
 * replaced in place, its old value freed, so a group costs the size of its
 * map however many events it sees.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "datatype/timestamp.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"

#include "compat.h"

typedef struct LwwEntry
{
	char	   *key;
	int64		t;
	bool		removed;
	Jsonb	   *value;			/* NULL for a tag or a removal */
} LwwEntry;

typedef struct LwwMap
{
	MemoryContext cxt;
	int			n;
	int			cap;
	LwwEntry   *e;
} LwwMap;

static LwwMap *
map_create(MemoryContext cxt)
{
	LwwMap	   *m = MemoryContextAllocZero(cxt, sizeof(LwwMap));

	m->cxt = cxt;
	return m;
}

/* Whether operation (t, removed, value) replaces entry cur. */
static bool
op_beats(int64 t, bool removed, Jsonb *value, const LwwEntry *cur)
{
	if (t != cur->t)
		return t > cur->t;
	if (removed != cur->removed)
		return removed;
	if (removed || value == NULL)
		return false;
	if (cur->value == NULL)
		return true;
	return compareJsonbContainers(&value->root, &cur->value->root) > 0;
}

/*
 * Apply one operation to the map; value (not yet copied) is ignored for a
 * removal.  Returns whether the map changed.
 */
static bool
map_apply(LwwMap *m, const char *key, int keylen, int64 t, bool removed, Jsonb *value)
{
	int			lo = 0;
	int			hi = m->n;
	LwwEntry   *e;

	while (lo < hi)
	{
		int			mid = (lo + hi) / 2;
		int			c = strncmp(m->e[mid].key, key, keylen);

		if (c == 0 && m->e[mid].key[keylen] != '\0')
			c = 1;
		if (c == 0)
		{
			e = &m->e[mid];
			if (!op_beats(t, removed, removed ? NULL : value, e))
				return false;
			if (e->value)
				pfree(e->value);
			e->t = t;
			e->removed = removed;
			e->value = (removed || value == NULL) ? NULL :
				(Jsonb *) MemoryContextAlloc(m->cxt, VARSIZE(value));
			if (e->value)
				memcpy(e->value, value, VARSIZE(value));
			return true;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (m->n == m->cap)
	{
		m->cap = m->cap ? m->cap * 2 : 8;
		m->e = m->e ? repalloc(m->e, m->cap * sizeof(LwwEntry)) :
			MemoryContextAlloc(m->cxt, m->cap * sizeof(LwwEntry));
	}
	memmove(&m->e[lo + 1], &m->e[lo], (m->n - lo) * sizeof(LwwEntry));
	m->n++;
	e = &m->e[lo];
	e->key = MemoryContextAlloc(m->cxt, keylen + 1);
	memcpy(e->key, key, keylen);
	e->key[keylen] = '\0';
	e->t = t;
	e->removed = removed;
	e->value = NULL;
	if (!removed && value != NULL)
	{
		e->value = MemoryContextAlloc(m->cxt, VARSIZE(value));
		memcpy(e->value, value, VARSIZE(value));
	}
	return true;
}

/* An event time as microseconds since 1970 UTC; infinite times refused. */
static int64
event_time(TimestampTz ts)
{
	if (TIMESTAMP_NOT_FINITE(ts))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("event time of a correction must be finite"),
				 errhint("Give every tag and metadata operation the time of its event.")));
	return ts + (int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * USECS_PER_DAY;
}

static bool
bad_map(bool strict, const char *detail)
{
	if (strict)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid trace_agg.lww_map"),
				 errdetail("%s", detail)));
	return false;
}

/*
 * Apply every operation of a stored map (jsonb) to m, or with m NULL only
 * check its shape.  With strict, a malformed map is an error; without, the
 * result is false.  *changed tells whether m changed.
 */
static bool
map_absorb(LwwMap *m, Jsonb *jb, bool strict, bool *changed)
{
	JsonbIterator *it;
	JsonbValue	k;
	JsonbValue	v;
	JsonbIteratorToken tok;

	if (changed)
		*changed = false;
	if (!JB_ROOT_IS_OBJECT(jb) || JB_ROOT_IS_SCALAR(jb))
		return bad_map(strict, "A map is a JSON object.");
	it = JsonbIteratorInit(&jb->root);
	tok = JsonbIteratorNext(&it, &k, true);
	while ((tok = JsonbIteratorNext(&it, &k, true)) == WJB_KEY)
	{
		JsonbValue *t;
		JsonbValue *d;
		JsonbValue *val;
		int			size;
		int64		tv;
		Jsonb	   *value = NULL;
		bool		c;

		tok = JsonbIteratorNext(&it, &v, true);
		if (v.type != jbvBinary || !JsonContainerIsObject(v.val.binary.data))
			return bad_map(strict, psprintf("The operation of \"%.*s\" is not a JSON object.",
											k.val.string.len, k.val.string.val));
		size = JsonContainerSize(v.val.binary.data);
		t = getKeyJsonValueFromContainer(v.val.binary.data, "t", 1, NULL);
		d = getKeyJsonValueFromContainer(v.val.binary.data, "d", 1, NULL);
		val = getKeyJsonValueFromContainer(v.val.binary.data, "v", 1, NULL);
		if (t == NULL || t->type != jbvNumeric ||
			(d != NULL && (d->type != jbvBool || !d->val.boolean || val != NULL)) ||
			size != 1 + (d != NULL) + (val != NULL))
			return bad_map(strict, psprintf("The operation of \"%.*s\" is not {\"t\": time}, {\"t\": time, \"v\": value} or {\"t\": time, \"d\": true}.",
											k.val.string.len, k.val.string.val));
		if (m == NULL)
			continue;			/* checking the shape only */
		tv = DatumGetInt64(DirectFunctionCall1(numeric_int8, NumericGetDatum(t->val.numeric)));
		if (val != NULL)
			value = JsonbValueToJsonb(val);
		c = map_apply(m, k.val.string.val, k.val.string.len, tv, d != NULL, value);
		if (changed && c)
			*changed = true;
	}
	return true;
}

/* Push a jsonb value as the value of the current key. */
static void
push_jsonb(JsonbParseState **ps, Jsonb *j)
{
	JsonbValue	jv;

	if (JB_ROOT_IS_SCALAR(j))
		JsonbExtractScalar(&j->root, &jv);
	else
	{
		jv.type = jbvBinary;
		jv.val.binary.data = &j->root;
		jv.val.binary.len = VARSIZE(j) - VARHDRSZ;
	}
	pushJsonbValue(ps, WJB_VALUE, &jv);
}

static void
push_key(JsonbParseState **ps, const char *key)
{
	JsonbValue	k;

	k.type = jbvString;
	k.val.string.val = (char *) key;
	k.val.string.len = strlen(key);
	pushJsonbValue(ps, WJB_KEY, &k);
}

/* The map as stored: every entry, tombstones included. */
static Jsonb *
map_to_jsonb(const LwwMap *m)
{
	JsonbParseState *ps = NULL;
	JsonbValue *res;
	int			i;

	pushJsonbValue(&ps, WJB_BEGIN_OBJECT, NULL);
	for (i = 0; m && i < m->n; i++)
	{
		JsonbValue	jv;

		push_key(&ps, m->e[i].key);
		pushJsonbValue(&ps, WJB_BEGIN_OBJECT, NULL);
		push_key(&ps, "t");
		jv.type = jbvNumeric;
		jv.val.numeric = int64_to_numeric(m->e[i].t);
		pushJsonbValue(&ps, WJB_VALUE, &jv);
		if (m->e[i].removed)
		{
			push_key(&ps, "d");
			jv.type = jbvBool;
			jv.val.boolean = true;
			pushJsonbValue(&ps, WJB_VALUE, &jv);
		}
		else if (m->e[i].value)
		{
			push_key(&ps, "v");
			push_jsonb(&ps, m->e[i].value);
		}
		pushJsonbValue(&ps, WJB_END_OBJECT, NULL);
	}
	res = pushJsonbValue(&ps, WJB_END_OBJECT, NULL);
	return JsonbValueToJsonb(res);
}

/* The live elements, sorted bytewise: the tags. */
static ArrayType *
map_live_keys(const LwwMap *m)
{
	Datum	   *d = palloc(sizeof(Datum) * Max(m ? m->n : 0, 1));
	int			n = 0;
	int			i;

	for (i = 0; m && i < m->n; i++)
		if (!m->e[i].removed)
			d[n++] = CStringGetTextDatum(m->e[i].key);
	return construct_array(d, n, TEXTOID, -1, false, TYPALIGN_INT);
}

/* The live keys with their values: the metadata. */
static Jsonb *
map_live_values(const LwwMap *m)
{
	JsonbParseState *ps = NULL;
	int			i;

	pushJsonbValue(&ps, WJB_BEGIN_OBJECT, NULL);
	for (i = 0; m && i < m->n; i++)
	{
		if (m->e[i].removed || m->e[i].value == NULL)
			continue;
		push_key(&ps, m->e[i].key);
		push_jsonb(&ps, m->e[i].value);
	}
	return JsonbValueToJsonb(pushJsonbValue(&ps, WJB_END_OBJECT, NULL));
}

static MemoryContext
agg_context(FunctionCallInfo fcinfo)
{
	MemoryContext aggcxt;

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("lww_map aggregate function called in non-aggregate context")));
	return aggcxt;
}

static void
apply_text_array(LwwMap *m, ArrayType *arr, int64 t, bool removed)
{
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	int			i;

	deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
	for (i = 0; i < n; i++)
	{
		text	   *s;

		if (nulls[i])
			continue;
		s = DatumGetTextPP(elems[i]);
		map_apply(m, VARDATA_ANY(s), VARSIZE_ANY_EXHDR(s), t, removed, NULL);
	}
}

/*
 * tag_set_state(added, removed, ts), tags(...): one event.  Removals come
 * after additions, so a tag both added and removed by one event is removed
 * (a removal wins ties anyway).  A NULL time skips the event.
 */
PG_FUNCTION_INFO_V1(lww_tags_transfn);
Datum
lww_tags_transfn(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt = agg_context(fcinfo);
	LwwMap	   *m = PG_ARGISNULL(0) ? map_create(aggcxt) : (LwwMap *) PG_GETARG_POINTER(0);
	int64		t;

	if (PG_ARGISNULL(3))
		PG_RETURN_POINTER(m);
	t = event_time(PG_GETARG_TIMESTAMPTZ(3));
	if (!PG_ARGISNULL(1))
		apply_text_array(m, PG_GETARG_ARRAYTYPE_P(1), t, false);
	if (!PG_ARGISNULL(2))
		apply_text_array(m, PG_GETARG_ARRAYTYPE_P(2), t, true);
	PG_RETURN_POINTER(m);
}

/*
 * metadata_state(set, removed, ts), metadata(...): one event setting the
 * keys of a jsonb object and removing others.
 */
PG_FUNCTION_INFO_V1(lww_metadata_transfn);
Datum
lww_metadata_transfn(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt = agg_context(fcinfo);
	LwwMap	   *m = PG_ARGISNULL(0) ? map_create(aggcxt) : (LwwMap *) PG_GETARG_POINTER(0);
	int64		t;

	if (PG_ARGISNULL(3))
		PG_RETURN_POINTER(m);
	t = event_time(PG_GETARG_TIMESTAMPTZ(3));
	if (!PG_ARGISNULL(1))
	{
		Jsonb	   *set = PG_GETARG_JSONB_P(1);
		JsonbIterator *it;
		JsonbValue	k;
		JsonbValue	v;
		JsonbIteratorToken tok;

		if (!JB_ROOT_IS_OBJECT(set) || JB_ROOT_IS_SCALAR(set))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("metadata to set must be a JSON object")));
		it = JsonbIteratorInit(&set->root);
		tok = JsonbIteratorNext(&it, &k, true);
		while ((tok = JsonbIteratorNext(&it, &k, true)) == WJB_KEY)
		{
			tok = JsonbIteratorNext(&it, &v, true);
			map_apply(m, k.val.string.val, k.val.string.len, t, false, JsonbValueToJsonb(&v));
		}
	}
	if (!PG_ARGISNULL(2))
		apply_text_array(m, PG_GETARG_ARRAYTYPE_P(2), t, true);
	PG_RETURN_POINTER(m);
}

PG_FUNCTION_INFO_V1(lww_combinefn);
Datum
lww_combinefn(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt = agg_context(fcinfo);
	LwwMap	   *a = PG_ARGISNULL(0) ? NULL : (LwwMap *) PG_GETARG_POINTER(0);
	LwwMap	   *b = PG_ARGISNULL(1) ? NULL : (LwwMap *) PG_GETARG_POINTER(1);
	int			i;

	if (b == NULL)
	{
		if (a == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(a);
	}
	if (a == NULL)
		a = map_create(aggcxt);
	for (i = 0; i < b->n; i++)
		map_apply(a, b->e[i].key, strlen(b->e[i].key), b->e[i].t, b->e[i].removed,
				  b->e[i].value);
	PG_RETURN_POINTER(a);
}

/* Serialize: the map as stored (jsonb bytes). */
PG_FUNCTION_INFO_V1(lww_serialfn);
Datum
lww_serialfn(PG_FUNCTION_ARGS)
{
	PG_RETURN_POINTER(map_to_jsonb((LwwMap *) PG_GETARG_POINTER(0)));
}

PG_FUNCTION_INFO_V1(lww_deserialfn);
Datum
lww_deserialfn(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt = agg_context(fcinfo);
	LwwMap	   *m = map_create(aggcxt);

	map_absorb(m, (Jsonb *) PG_DETOAST_DATUM(PG_GETARG_DATUM(0)), true, NULL);
	PG_RETURN_POINTER(m);
}

/* Final functions: the map, the live tags, the live metadata. */
PG_FUNCTION_INFO_V1(lww_state_finalfn);
Datum
lww_state_finalfn(PG_FUNCTION_ARGS)
{
	PG_RETURN_JSONB_P(map_to_jsonb(PG_ARGISNULL(0) ? NULL : (LwwMap *) PG_GETARG_POINTER(0)));
}

PG_FUNCTION_INFO_V1(lww_tags_finalfn);
Datum
lww_tags_finalfn(PG_FUNCTION_ARGS)
{
	PG_RETURN_ARRAYTYPE_P(map_live_keys(PG_ARGISNULL(0) ? NULL : (LwwMap *) PG_GETARG_POINTER(0)));
}

PG_FUNCTION_INFO_V1(lww_values_finalfn);
Datum
lww_values_finalfn(PG_FUNCTION_ARGS)
{
	PG_RETURN_JSONB_P(map_live_values(PG_ARGISNULL(0) ? NULL : (LwwMap *) PG_GETARG_POINTER(0)));
}

/*
 * lww_merge(a, b): per element the winning operation.  Returns a itself
 * when b changes nothing; NULL on one side gives the other.
 */
PG_FUNCTION_INFO_V1(lww_merge);
Datum
lww_merge(PG_FUNCTION_ARGS)
{
	LwwMap	   *m;
	bool		changed;

	if (PG_ARGISNULL(0))
	{
		if (PG_ARGISNULL(1))
			PG_RETURN_NULL();
		PG_RETURN_DATUM(PG_GETARG_DATUM(1));
	}
	if (PG_ARGISNULL(1))
		PG_RETURN_DATUM(PG_GETARG_DATUM(0));
	m = map_create(CurrentMemoryContext);
	map_absorb(m, PG_GETARG_JSONB_P(0), true, NULL);
	map_absorb(m, PG_GETARG_JSONB_P(1), true, &changed);
	if (!changed)
		PG_RETURN_DATUM(PG_GETARG_DATUM(0));
	PG_RETURN_JSONB_P(map_to_jsonb(m));
}

PG_FUNCTION_INFO_V1(lww_keys);
Datum
lww_keys(PG_FUNCTION_ARGS)
{
	LwwMap	   *m = map_create(CurrentMemoryContext);

	map_absorb(m, PG_GETARG_JSONB_P(0), true, NULL);
	PG_RETURN_ARRAYTYPE_P(map_live_keys(m));
}

PG_FUNCTION_INFO_V1(lww_values);
Datum
lww_values(PG_FUNCTION_ARGS)
{
	LwwMap	   *m = map_create(CurrentMemoryContext);

	map_absorb(m, PG_GETARG_JSONB_P(0), true, NULL);
	PG_RETURN_JSONB_P(map_live_values(m));
}

/* The domain's check: the shape of every operation, without reading it. */
PG_FUNCTION_INFO_V1(lww_map_is_valid);
Datum
lww_map_is_valid(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(map_absorb(NULL, PG_GETARG_JSONB_P(0), false, NULL));
}
