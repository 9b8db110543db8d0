/*
 * group_uniq.c
 *		ClickHouse's groupUniqArray and groupUniqArrayArray for text: the set
 *		of distinct non-NULL strings of a group, returned as a text[]; and
 *		group_uniq_merge, the union of two such stored results.
 *
 * Results are always sorted bytewise (memcmp, then length; never a
 * collation) and free of duplicates, so that equal sets give equal arrays.
 * ClickHouse leaves the order unspecified; this is a refinement of it.
 *
 * The transition state is a hash set of strings (simplehash, keyed on the
 * bytes), whose strings are copied once, when first seen, into an arena in
 * the aggregate memory context.  A group of a million rows with ten
 * distinct values therefore holds ten strings, not a million: memory is
 * proportional to the distinct content.  Sorting is left to the final
 * function, which runs once per group.
 *
 * With a size limit (ClickHouse's groupUniqArray(max_size)(x)), the set
 * keeps the first max_size distinct values met in input order and ignores
 * the rest, as ClickHouse does; the kept values are then returned sorted.
 */
#include "postgres.h"

#include "access/tupmacs.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/memutils.h"

/*
 * A set member is a text value.  The key of an entry points to a varlena:
 * while a value is looked up, the input value itself (one- or four-byte
 * header); once added, the member's own copy in the arena (four-byte
 * header).  An entry takes 16 bytes, so bucket arrays are powers of two in
 * size, as the aggregate context's allocator hands them out.
 */
typedef struct UniqEntry
{
	const struct varlena *key;
	uint32		hash;
	char		status;
} UniqEntry;

static inline uint32
uniq_text_hash(const struct varlena *value)
{
	return hash_bytes((const unsigned char *) VARDATA_ANY(value),
					  (int) VARSIZE_ANY_EXHDR(value));
}

/*
 * Equality of two text values.  Set members are mostly short tags and ids,
 * for which an inlined word-by-word comparison beats a call to memcmp.
 */
static inline bool
uniq_text_equal(const struct varlena *a, const struct varlena *b)
{
	Size		len = VARSIZE_ANY_EXHDR(a);
	const char *pa = VARDATA_ANY(a);
	const char *pb = VARDATA_ANY(b);

	if (len != VARSIZE_ANY_EXHDR(b))
		return false;
	while (len >= sizeof(uint64))
	{
		uint64		wa;
		uint64		wb;

		memcpy(&wa, pa, sizeof(uint64));
		memcpy(&wb, pb, sizeof(uint64));
		if (wa != wb)
			return false;
		pa += sizeof(uint64);
		pb += sizeof(uint64);
		len -= sizeof(uint64);
	}
	while (len > 0)
	{
		if (*pa++ != *pb++)
			return false;
		len--;
	}
	return true;
}

#define SH_PREFIX		uniqset
#define SH_ELEMENT_TYPE UniqEntry
#define SH_KEY_TYPE		const struct varlena *
#define SH_KEY			key
#define SH_HASH_KEY(tb, key) uniq_text_hash(key)
#define SH_EQUAL(tb, a, b) uniq_text_equal(a, b)
#define SH_STORE_HASH
#define SH_GET_HASH(tb, a) ((a)->hash)
#define SH_SCOPE		static inline
#define SH_DECLARE
#define SH_DEFINE
#include "lib/simplehash.h"

/*
 * Members are copied into arena blocks that double in size up to a cap, so
 * that a group of a few tags costs a few hundred bytes and a large one
 * wastes little.  A value too long to share a block gets its own chunk.
 */
#define UNIQ_ARENA_FIRST_BLOCK	128
#define UNIQ_ARENA_MAX_BLOCK	(64 * 1024)

/* A new set holds this many members before it first grows. */
#define UNIQ_INITIAL_MEMBERS	7

typedef struct UniqState
{
	uniqset_hash *set;
	MemoryContext context;		/* where the set and its members live */
	int32		max_size;		/* keep at most this many values; 0: no limit */
	char	   *arena_next;		/* free space in the current arena block */
	Size		arena_free;
	Size		arena_block_size;	/* size of the next block to allocate */
} UniqState;

/* Serialized state: int32 max_size, uint32 count, then count x (uint32 len, bytes). */
#define UNIQ_SERIAL_HEADER (sizeof(int32) + sizeof(uint32))

static UniqState *
uniq_state_create(MemoryContext context, int32 max_size, uint32 expected)
{
	UniqState  *state = MemoryContextAllocZero(context, sizeof(UniqState));

	state->set = uniqset_create(context, Max(expected, UNIQ_INITIAL_MEMBERS), NULL);
	state->context = context;
	state->max_size = max_size;
	state->arena_block_size = UNIQ_ARENA_FIRST_BLOCK;
	return state;
}

/* Copy a new member into the state's arena, as a text with a 4-byte header. */
static const struct varlena *
uniq_state_store(UniqState *state, const char *data, Size len)
{
	Size		size = VARHDRSZ + len;
	Size		aligned = INTALIGN(size);
	struct varlena *dest;

	if (aligned > state->arena_free)
	{
		if (aligned > state->arena_block_size / 4)
		{
			dest = MemoryContextAllocHuge(state->context, size);
			SET_VARSIZE(dest, size);
			memcpy(VARDATA(dest), data, len);
			return dest;
		}
		state->arena_next = MemoryContextAlloc(state->context,
											   state->arena_block_size);
		state->arena_free = state->arena_block_size;
		state->arena_block_size = Min(state->arena_block_size * 2,
									  UNIQ_ARENA_MAX_BLOCK);
	}
	dest = (struct varlena *) state->arena_next;
	SET_VARSIZE(dest, size);
	memcpy(VARDATA(dest), data, len);
	state->arena_next += aligned;
	state->arena_free -= aligned;
	return dest;
}

/* Add a text value unless it is a member already or the set is full. */
static inline void
uniq_state_add(UniqState *state, const struct varlena *value)
{
	UniqEntry  *entry;
	bool		found;

	if (state->max_size > 0 && state->set->members >= (uint32) state->max_size)
		return;
	entry = uniqset_insert(state->set, value, &found);
	if (!found)
		entry->key = uniq_state_store(state, VARDATA_ANY(value),
									  VARSIZE_ANY_EXHDR(value));
}

/*
 * Room for any array stored with a short (one-byte) varlena header, once
 * given back its four-byte header.
 */
typedef union ShortArrayBuffer
{
	ArrayType	array;
	int64		force_align;
	char		bytes[VARHDRSZ + VARATT_SHORT_MAX];
} ShortArrayBuffer;

/*
 * The text[] argument argno as a readable array.  A tuple stores an array
 * of a few short strings with a one-byte header, which must be widened
 * before the array can be read; PG_GETARG_ARRAYTYPE_P would palloc a copy
 * per row, so such arrays are widened into the caller's buffer instead.
 * Anything else (compressed, external, expanded) is detoasted as usual;
 * *copied says whether the result is a palloc'd copy to free.
 */
static ArrayType *
text_array_arg(FunctionCallInfo fcinfo, int argno, ShortArrayBuffer *buffer,
			   bool *copied)
{
	struct varlena *raw = (struct varlena *) PG_GETARG_POINTER(argno);
	struct varlena *flat;

	if (!VARATT_IS_EXTERNAL(raw) && VARATT_IS_SHORT(raw))
	{
		Size		data_len = VARSIZE_SHORT(raw) - VARHDRSZ_SHORT;

		SET_VARSIZE(&buffer->array, VARHDRSZ + data_len);
		memcpy(buffer->bytes + VARHDRSZ, VARDATA_SHORT(raw), data_len);
		*copied = false;
		return &buffer->array;
	}
	flat = PG_DETOAST_DATUM(PG_GETARG_DATUM(argno));
	*copied = flat != raw;
	return (ArrayType *) flat;
}

/*
 * Reading the elements of a text[] of any shape, in storage order, without
 * deconstructing it into Datum arrays first.  Multi-dimensional arrays are
 * read flat, as unnest() reads them: a set of strings has no dimensions.
 */
typedef struct TextArrayReader
{
	const char *ptr;
	const bits8 *bitmap;
	int			bitmask;
	int			remaining;
} TextArrayReader;

static inline void
text_array_reader_init(TextArrayReader *reader, ArrayType *array)
{
	reader->ptr = ARR_DATA_PTR(array);
	reader->bitmap = ARR_NULLBITMAP(array);
	reader->bitmask = 1;
	reader->remaining = ArrayGetNItems(ARR_NDIM(array), ARR_DIMS(array));
}

/*
 * Returns false when no element is left; otherwise sets *element to the
 * next element, or to NULL for a NULL element.
 */
static inline bool
text_array_reader_next(TextArrayReader *reader, const struct varlena **element)
{
	bool		isnull;

	if (reader->remaining <= 0)
		return false;
	reader->remaining--;

	isnull = reader->bitmap && (*reader->bitmap & reader->bitmask) == 0;
	if (isnull)
		*element = NULL;
	else
	{
		*element = (const struct varlena *) reader->ptr;
		reader->ptr = att_addlength_pointer(reader->ptr, -1, reader->ptr);
		reader->ptr = (const char *) att_align_nominal(reader->ptr, TYPALIGN_INT);
	}
	if (reader->bitmap)
	{
		reader->bitmask <<= 1;
		if (reader->bitmask == 0x100)
		{
			reader->bitmap++;
			reader->bitmask = 1;
		}
	}
	return true;
}

/* Bytes and length of a text value, for sorting and building arrays. */
typedef struct UniqString
{
	const char *data;
	uint32		len;
} UniqString;

static inline UniqString
uniq_string_of(const struct varlena *value)
{
	UniqString	str;

	str.data = VARDATA_ANY(value);
	str.len = VARSIZE_ANY_EXHDR(value);
	return str;
}

/* Bytewise order: memcmp over the common prefix, then the shorter first. */
static inline int
uniq_string_cmp(const UniqString *x, const UniqString *y)
{
	int			cmp = memcmp(x->data, y->data, Min(x->len, y->len));

	if (cmp != 0)
		return cmp;
	return (x->len > y->len) - (x->len < y->len);
}

/* uniq_sort(items, n): a qsort specialized for UniqString, comparator inlined */
#define ST_SORT			uniq_sort
#define ST_ELEMENT_TYPE UniqString
#define ST_COMPARE(a, b) uniq_string_cmp(a, b)
#define ST_CHECK_FOR_INTERRUPTS
#define ST_SCOPE		static
#define ST_DECLARE
#define ST_DEFINE
#include "lib/sort_template.h"

/* Sort strings bytewise and drop duplicates; returns the new count. */
static int
uniq_sort_dedup(UniqString *items, int n)
{
	int			kept = 0;

	if (n < 2)
		return n;
	uniq_sort(items, n);
	for (int i = 1; i < n; i++)
	{
		if (uniq_string_cmp(&items[kept], &items[i]) != 0)
			items[++kept] = items[i];
	}
	return kept + 1;
}

/* Build a one-dimensional text[] of the given strings, in the given order. */
static ArrayType *
build_text_array(const UniqString *items, int n)
{
	Size		data_bytes = 0;
	Size		total;
	ArrayType  *result;
	char	   *p;

	if (n == 0)
		return construct_empty_array(TEXTOID);

	for (int i = 0; i < n; i++)
	{
		data_bytes += INTALIGN(VARHDRSZ + (Size) items[i].len);
		if (data_bytes > MaxAllocSize)
			break;
	}
	total = ARR_OVERHEAD_NONULLS(1) + data_bytes;
	if ((Size) n > MaxArraySize || total > MaxAllocSize)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("set of %d distinct strings is too large for a text array", n),
				 errdetail("An array can take at most %zu elements and %zu bytes.",
						   (Size) MaxArraySize, (Size) MaxAllocSize)));

	/* zeroed, so that alignment padding is deterministic */
	result = palloc0(total);
	SET_VARSIZE(result, total);
	result->ndim = 1;
	result->dataoffset = 0;
	result->elemtype = TEXTOID;
	ARR_DIMS(result)[0] = n;
	ARR_LBOUND(result)[0] = 1;

	p = ARR_DATA_PTR(result);
	for (int i = 0; i < n; i++)
	{
		SET_VARSIZE(p, VARHDRSZ + items[i].len);
		memcpy(VARDATA(p), items[i].data, items[i].len);
		p += INTALIGN(VARHDRSZ + (Size) items[i].len);
	}
	return result;
}

/* The state handed to a transition or combine function, or NULL. */
static inline UniqState *
uniq_state_arg(FunctionCallInfo fcinfo, int argno)
{
	return PG_ARGISNULL(argno) ? NULL : (UniqState *) PG_GETARG_POINTER(argno);
}

static MemoryContext
uniq_agg_context(FunctionCallInfo fcinfo, const char *fname)
{
	MemoryContext aggcontext;

	if (!AggCheckCallContext(fcinfo, &aggcontext))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("%s called in non-aggregate context", fname),
				 errdetail("It is the transition function of an aggregate and works only inside one.")));
	return aggcontext;
}

/*
 * The max_size argument of the limited aggregates: positive, like
 * ClickHouse's parameter, and the same on every row of a group, since a
 * state can only honour one limit.
 */
static int32
uniq_max_size_arg(FunctionCallInfo fcinfo, int argno, UniqState *state,
				  const char *aggname)
{
	int32		max_size;

	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("max_size of %s must not be null", aggname)));
	max_size = PG_GETARG_INT32(argno);
	if (max_size <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_size of %s must be positive, not %d", aggname, max_size)));
	if (state != NULL && state->max_size != max_size)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_size of %s changed from %d to %d within a group",
						aggname, state->max_size, max_size),
				 errhint("Pass the same max_size on every row, typically a constant.")));
	return max_size;
}

/* Add one text value (argument argno) to the state, creating it if needed. */
static UniqState *
uniq_add_text_arg(FunctionCallInfo fcinfo, UniqState *state, int argno,
				  int32 max_size, const char *fname)
{
	MemoryContext aggcontext = uniq_agg_context(fcinfo, fname);
	text	   *value;

	if (state == NULL)
		state = uniq_state_create(aggcontext, max_size, 0);
	if (PG_ARGISNULL(argno))
		return state;

	value = PG_GETARG_TEXT_PP(argno);
	uniq_state_add(state, value);
	PG_FREE_IF_COPY(value, argno);
	return state;
}

/* Add the elements of one text[] (argument argno) to the state. */
static UniqState *
uniq_add_array_arg(FunctionCallInfo fcinfo, UniqState *state, int argno,
				   int32 max_size, const char *fname)
{
	MemoryContext aggcontext = uniq_agg_context(fcinfo, fname);
	ShortArrayBuffer buffer;
	ArrayType  *array;
	bool		copied;
	TextArrayReader reader;
	const struct varlena *element;

	if (state == NULL)
		state = uniq_state_create(aggcontext, max_size, 0);
	if (PG_ARGISNULL(argno))
		return state;

	array = text_array_arg(fcinfo, argno, &buffer, &copied);
	text_array_reader_init(&reader, array);
	while (text_array_reader_next(&reader, &element))
	{
		if (element != NULL)
			uniq_state_add(state, element);
	}
	if (copied)
		pfree(array);
	return state;
}

/*
 * group_uniq_array_transfn(state internal, value text) returns internal
 */
PG_FUNCTION_INFO_V1(group_uniq_array_transfn);

Datum
group_uniq_array_transfn(PG_FUNCTION_ARGS)
{
	UniqState  *state = uniq_state_arg(fcinfo, 0);

	state = uniq_add_text_arg(fcinfo, state, 1, 0, "group_uniq_array_transfn");
	PG_RETURN_POINTER(state);
}

/*
 * group_uniq_array_limited_transfn(state internal, value text,
 *									max_size integer) returns internal
 */
PG_FUNCTION_INFO_V1(group_uniq_array_limited_transfn);

Datum
group_uniq_array_limited_transfn(PG_FUNCTION_ARGS)
{
	UniqState  *state = uniq_state_arg(fcinfo, 0);
	int32		max_size = uniq_max_size_arg(fcinfo, 2, state, "group_uniq_array");

	state = uniq_add_text_arg(fcinfo, state, 1, max_size,
							  "group_uniq_array_limited_transfn");
	PG_RETURN_POINTER(state);
}

/*
 * group_uniq_array_array_transfn(state internal, value text[]) returns internal
 */
PG_FUNCTION_INFO_V1(group_uniq_array_array_transfn);

Datum
group_uniq_array_array_transfn(PG_FUNCTION_ARGS)
{
	UniqState  *state = uniq_state_arg(fcinfo, 0);

	state = uniq_add_array_arg(fcinfo, state, 1, 0,
							   "group_uniq_array_array_transfn");
	PG_RETURN_POINTER(state);
}

/*
 * group_uniq_array_array_limited_transfn(state internal, value text[],
 *										  max_size integer) returns internal
 */
PG_FUNCTION_INFO_V1(group_uniq_array_array_limited_transfn);

Datum
group_uniq_array_array_limited_transfn(PG_FUNCTION_ARGS)
{
	UniqState  *state = uniq_state_arg(fcinfo, 0);
	int32		max_size = uniq_max_size_arg(fcinfo, 2, state,
												 "group_uniq_array_array");

	state = uniq_add_array_arg(fcinfo, state, 1, max_size,
							   "group_uniq_array_array_limited_transfn");
	PG_RETURN_POINTER(state);
}

/*
 * group_uniq_combine(state internal, other internal) returns internal
 *
 * Adds the members of other to state.  With a limit, members of other are
 * added until the set is full; which of them make it is as unspecified as
 * in ClickHouse, where the merge walks the other set in hash order too.
 */
PG_FUNCTION_INFO_V1(group_uniq_combine);

Datum
group_uniq_combine(PG_FUNCTION_ARGS)
{
	UniqState  *state = uniq_state_arg(fcinfo, 0);
	UniqState  *other = uniq_state_arg(fcinfo, 1);
	MemoryContext aggcontext = uniq_agg_context(fcinfo, "group_uniq_combine");
	uniqset_iterator iter;
	UniqEntry  *entry;
	uint64		needed;

	if (other == NULL)
	{
		if (state == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(state);
	}

	/* other lives in short-lived memory: copy it into a state of our own */
	if (state == NULL)
		state = uniq_state_create(aggcontext, other->max_size,
								  other->set->members);
	else if (state->max_size != other->max_size)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot combine group_uniq_array states with max_size %d and %d",
						state->max_size, other->max_size)));

	/*
	 * Filling a small set from a big one in hash order would crowd the
	 * small one's buckets; grow it to its final size first (0.9 is
	 * simplehash's fill factor).
	 */
	needed = (uint64) state->set->members + other->set->members;
	if (state->max_size > 0)
		needed = Min(needed, (uint64) state->max_size);
	if (needed > state->set->grow_threshold)
		uniqset_grow(state->set, (uint64) ((double) needed / 0.9) + 1);

	uniqset_start_iterate(other->set, &iter);
	while ((entry = uniqset_iterate(other->set, &iter)) != NULL)
	{
		UniqEntry  *mine;
		bool		found;

		if (state->max_size > 0 &&
			state->set->members >= (uint32) state->max_size)
			break;
		mine = uniqset_insert_hash(state->set, entry->key, entry->hash, &found);
		if (!found)
			mine->key = uniq_state_store(state, VARDATA(entry->key),
										 VARSIZE(entry->key) - VARHDRSZ);
	}
	PG_RETURN_POINTER(state);
}

/*
 * group_uniq_serialize(state internal) returns bytea
 */
PG_FUNCTION_INFO_V1(group_uniq_serialize);

Datum
group_uniq_serialize(PG_FUNCTION_ARGS)
{
	UniqState  *state = (UniqState *) PG_GETARG_POINTER(0);
	uniqset_iterator iter;
	UniqEntry  *entry;
	Size		size = VARHDRSZ + UNIQ_SERIAL_HEADER;
	uint32		count = state->set->members;
	bytea	   *result;
	char	   *p;

	uniqset_start_iterate(state->set, &iter);
	while ((entry = uniqset_iterate(state->set, &iter)) != NULL)
		size += sizeof(uint32) + VARSIZE(entry->key) - VARHDRSZ;
	if (size > MaxAllocSize)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("group_uniq_array state of %u strings is too large to pass between processes",
						count),
				 errdetail("It needs %zu bytes; the limit is %zu.", size, (Size) MaxAllocSize),
				 errhint("Disable parallel aggregation for this query.")));

	result = palloc(size);
	SET_VARSIZE(result, size);
	p = VARDATA(result);
	memcpy(p, &state->max_size, sizeof(int32));
	p += sizeof(int32);
	memcpy(p, &count, sizeof(uint32));
	p += sizeof(uint32);

	uniqset_start_iterate(state->set, &iter);
	while ((entry = uniqset_iterate(state->set, &iter)) != NULL)
	{
		uint32		len = VARSIZE(entry->key) - VARHDRSZ;

		memcpy(p, &len, sizeof(uint32));
		p += sizeof(uint32);
		memcpy(p, VARDATA(entry->key), len);
		p += len;
	}
	PG_RETURN_BYTEA_P(result);
}

/*
 * group_uniq_deserialize(bytes bytea, dummy internal) returns internal
 *
 * The bytes may come from anywhere, so every length is checked against
 * what is left and every string against the database encoding.  The
 * state is built in the current, per-tuple memory: nodeAgg hands it
 * straight to the combine function, which copies what it keeps.
 */
PG_FUNCTION_INFO_V1(group_uniq_deserialize);

Datum
group_uniq_deserialize(PG_FUNCTION_ARGS)
{
	bytea	   *bytes = PG_GETARG_BYTEA_PP(0);
	const char *p = VARDATA_ANY(bytes);
	Size		left = VARSIZE_ANY_EXHDR(bytes);
	int32		max_size;
	uint32		count;
	UniqState  *state;

	if (left < UNIQ_SERIAL_HEADER)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid group_uniq_array state of %zu bytes", left),
				 errdetail("A state starts with a header of %zu bytes.",
						   (Size) UNIQ_SERIAL_HEADER)));
	memcpy(&max_size, p, sizeof(int32));
	p += sizeof(int32);
	memcpy(&count, p, sizeof(uint32));
	p += sizeof(uint32);
	left -= UNIQ_SERIAL_HEADER;

	if (max_size < 0 || (max_size > 0 && count > (uint32) max_size) ||
		count > left / sizeof(uint32))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid group_uniq_array state: %u strings with max_size %d in %zu bytes",
						count, max_size, left)));

	state = uniq_state_create(CurrentMemoryContext, max_size, count);
	for (uint32 i = 0; i < count; i++)
	{
		uint32		len;
		bool		found;

		if (left < sizeof(uint32))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
					 errmsg("invalid group_uniq_array state: string %u of %u is missing", i + 1, count)));
		memcpy(&len, p, sizeof(uint32));
		p += sizeof(uint32);
		left -= sizeof(uint32);
		if (len > left)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
					 errmsg("invalid group_uniq_array state: string %u of %u claims %u bytes but %zu are left",
							i + 1, count, len, left)));
		pg_verifymbstr(p, len, false);
		uniqset_insert(state->set, uniq_state_store(state, p, len), &found);
		p += len;
		left -= len;
		if (found)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
					 errmsg("invalid group_uniq_array state: string %u of %u is a duplicate", i + 1, count)));
	}
	if (left != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid group_uniq_array state: %zu bytes left after %u strings", left, count)));

	PG_RETURN_POINTER(state);
}

/*
 * group_uniq_finalfn(state internal) returns text[]
 *
 * The members, sorted bytewise.  No input at all gives an empty array, as
 * ClickHouse gives [].  The state is only read, so the aggregate also works
 * as a window function.
 */
PG_FUNCTION_INFO_V1(group_uniq_finalfn);

Datum
group_uniq_finalfn(PG_FUNCTION_ARGS)
{
	UniqState  *state = uniq_state_arg(fcinfo, 0);
	UniqString *items;
	uniqset_iterator iter;
	UniqEntry  *entry;
	int			n = 0;
	ArrayType  *result;

	if (state == NULL || state->set->members == 0)
		PG_RETURN_ARRAYTYPE_P(construct_empty_array(TEXTOID));
	if (state->set->members > MaxArraySize)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("set of %u distinct strings is too large for a text array",
						state->set->members)));

	items = palloc_extended(sizeof(UniqString) * state->set->members,
							MCXT_ALLOC_HUGE);
	uniqset_start_iterate(state->set, &iter);
	while ((entry = uniqset_iterate(state->set, &iter)) != NULL)
		items[n++] = uniq_string_of(entry->key);
	uniq_sort(items, n);

	result = build_text_array(items, n);
	pfree(items);
	PG_RETURN_ARRAYTYPE_P(result);
}

/*
 * The non-NULL elements of a text[], sorted and without duplicates, and
 * whether the array already was exactly that: one dimension starting at 1
 * (or empty), no NULLs, strictly increasing.  Such an array is what the
 * aggregates return, so a stored result can be returned as it is.
 */
static UniqString *
load_sorted_set(ArrayType *array, int *count, bool *canonical)
{
	int			nitems = ArrayGetNItems(ARR_NDIM(array), ARR_DIMS(array));
	UniqString *items = palloc_extended(sizeof(UniqString) * Max(nitems, 1),
										 MCXT_ALLOC_HUGE);
	TextArrayReader reader;
	const struct varlena *element;
	bool		sorted = true;
	int			n = 0;

	*canonical = ARR_NDIM(array) == 0 ||
		(ARR_NDIM(array) == 1 && ARR_LBOUND(array)[0] == 1);

	text_array_reader_init(&reader, array);
	while (text_array_reader_next(&reader, &element))
	{
		if (element == NULL)
		{
			*canonical = false;
			continue;
		}
		items[n] = uniq_string_of(element);
		if (n > 0 && sorted && uniq_string_cmp(&items[n - 1], &items[n]) >= 0)
			sorted = false;
		n++;
	}
	if (!sorted)
	{
		*canonical = false;
		n = uniq_sort_dedup(items, n);
	}
	*count = n;
	return items;
}

/*
 * group_uniq_merge(a text[], b text[]) returns text[]
 *
 * The union of two results of group_uniq_array(_array), sorted and without
 * duplicates, for merging a stored value with a new one (INSERT ... ON
 * CONFLICT DO UPDATE).  A NULL side yields the other; both NULL yield NULL.
 * Arrays written by hand (unsorted, duplicated, with NULLs, of several
 * dimensions) are accepted and normalized.
 *
 * When the union is exactly a (an already sorted and deduplicated array
 * holding every element of b), a itself is returned, as it came, still
 * toasted if it was: an update that adds nothing new then keeps the stored
 * TOAST value instead of writing a copy of it.  The same holds for b.
 */
PG_FUNCTION_INFO_V1(group_uniq_merge);

Datum
group_uniq_merge(PG_FUNCTION_ARGS)
{
	ShortArrayBuffer a_buffer;
	ShortArrayBuffer b_buffer;
	ArrayType  *a = NULL;
	ArrayType  *b = NULL;
	bool		a_copied = false;
	bool		b_copied = false;
	UniqString *a_items = NULL;
	UniqString *b_items = NULL;
	UniqString *merged;
	int			na = 0;
	int			nb = 0;
	int			n = 0;
	bool		a_canonical = false;
	bool		b_canonical = false;
	bool		a_has_all = true;	/* every element of b is in a */
	bool		b_has_all = true;	/* every element of a is in b */
	int			i = 0;
	int			j = 0;
	Datum		result;

	if (PG_ARGISNULL(0) && PG_ARGISNULL(1))
		PG_RETURN_NULL();

	if (!PG_ARGISNULL(0))
	{
		a = text_array_arg(fcinfo, 0, &a_buffer, &a_copied);
		a_items = load_sorted_set(a, &na, &a_canonical);
	}
	if (!PG_ARGISNULL(1))
	{
		b = text_array_arg(fcinfo, 1, &b_buffer, &b_copied);
		b_items = load_sorted_set(b, &nb, &b_canonical);
	}

	merged = palloc_extended(sizeof(UniqString) * Max(na + nb, 1),
							 MCXT_ALLOC_HUGE);
	while (i < na || j < nb)
	{
		int			cmp;

		if (i == na)
			cmp = 1;
		else if (j == nb)
			cmp = -1;
		else
			cmp = uniq_string_cmp(&a_items[i], &b_items[j]);

		if (cmp < 0)
		{
			merged[n++] = a_items[i++];
			b_has_all = false;
		}
		else if (cmp > 0)
		{
			merged[n++] = b_items[j++];
			a_has_all = false;
		}
		else
		{
			merged[n++] = a_items[i++];
			j++;
		}
	}

	if (a != NULL && a_canonical && a_has_all)
		result = PG_GETARG_DATUM(0);
	else if (b != NULL && b_canonical && b_has_all)
		result = PG_GETARG_DATUM(1);
	else
		result = PointerGetDatum(build_text_array(merged, n));

	pfree(merged);
	if (a_items != NULL)
		pfree(a_items);
	if (b_items != NULL)
		pfree(b_items);
	if (a_copied)
		pfree(a);
	if (b_copied)
		pfree(b);
	PG_RETURN_DATUM(result);
}
