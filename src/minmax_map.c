/*
 * minmax_map.c
 *		min_map and max_map, ClickHouse's minMap and maxMap over text_map,
 *		and min_map_merge / max_map_merge, which merge two stored results.
 *
 * Strings compare bytewise (memcmp, then the shorter first), never by
 * collation, as ClickHouse compares String; '' is the smallest value.  No
 * key is ever dropped.
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/jsonb.h"

#include "map.h"

/* Offers one row's map to the state, creating it on the first map. */
static Datum
text_map_accumulate(FunctionCallInfo fcinfo, MapOp op)
{
	MemoryContext aggcontext;
	MapState   *state = PG_ARGISNULL(0) ? NULL : (MapState *) PG_GETARG_POINTER(0);
	Jsonb	   *map;
	MapReader	reader;
	MapPair		pair;

	if (!AggCheckCallContext(fcinfo, &aggcontext))
		elog(ERROR, "min_map/max_map transition function called in non-aggregate context");

	if (PG_ARGISNULL(1))
	{
		if (state == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(state);
	}

	map = PG_GETARG_JSONB_P(1);
	map_reader_init(&reader, map, MAP_TEXT);
	if (state == NULL)
		state = map_state_create(MAP_TEXT, op, aggcontext, reader.npairs);
	while (map_reader_next(&reader, &pair))
	{
		map_pair_check_text(&pair);
		map_state_offer_text(state, pair.key, pair.keylen,
							 pair.value, pair.valuelen);
	}
	PG_FREE_IF_COPY(map, 1);
	PG_RETURN_POINTER(state);
}

PG_FUNCTION_INFO_V1(min_map_transfn);
Datum
min_map_transfn(PG_FUNCTION_ARGS)
{
	return text_map_accumulate(fcinfo, MAP_OP_MIN);
}

PG_FUNCTION_INFO_V1(max_map_transfn);
Datum
max_map_transfn(PG_FUNCTION_ARGS)
{
	return text_map_accumulate(fcinfo, MAP_OP_MAX);
}

/* Whether candidate beats current: smaller for min, larger for max. */
static bool
text_wins(MapOp op, const MapPair *candidate, const MapPair *current)
{
	int			cmp = map_text_cmp(candidate->value, candidate->valuelen,
								   current->value, current->valuelen);

	return op == MAP_OP_MIN ? cmp < 0 : cmp > 0;
}

/*
 * Whether merging b into a changes a: b has a key a lacks, or a value that
 * beats a's.  Every value of b is checked on the way.
 */
static bool
text_map_merge_changes(MapOp op, const Jsonb *a, const Jsonb *b)
{
	MapReader	ra;
	MapReader	rb;
	MapPair		pa;
	MapPair		pb;
	bool		has_a;

	map_reader_init(&ra, a, MAP_TEXT);
	map_reader_init(&rb, b, MAP_TEXT);
	has_a = map_reader_next(&ra, &pa);
	while (map_reader_next(&rb, &pb))
	{
		map_pair_check_text(&pb);
		while (has_a && map_key_cmp(pa.key, pa.keylen, pb.key, pb.keylen) < 0)
			has_a = map_reader_next(&ra, &pa);
		if (!has_a || map_key_cmp(pa.key, pa.keylen, pb.key, pb.keylen) != 0)
			return true;
		map_pair_check_text(&pa);
		if (text_wins(op, &pb, &pa))
			return true;
	}
	return false;
}

static void
push_text(JsonbParseState **parse, const MapPair *pair)
{
	JsonbValue	key;
	JsonbValue	value;

	key.type = jbvString;
	key.val.string.val = (char *) pair->key;
	key.val.string.len = pair->keylen;
	pushJsonbValue(parse, WJB_KEY, &key);

	value.type = jbvString;
	value.val.string.val = (char *) pair->value;
	value.val.string.len = pair->valuelen;
	pushJsonbValue(parse, WJB_VALUE, &value);
}

/*
 * The per-key minimum (maximum) of two maps, walked side by side in jsonb
 * key order.  When b changes nothing (NULL, empty, or every key of b loses
 * or ties), a is returned untouched, so that an ON CONFLICT DO UPDATE
 * stores the very same datum.
 */
static Datum
text_map_merge(FunctionCallInfo fcinfo, MapOp op)
{
	Jsonb	   *a;
	Jsonb	   *b;
	MapReader	ra;
	MapReader	rb;
	MapPair		pa;
	MapPair		pb;
	bool		has_a;
	bool		has_b;
	JsonbParseState *parse = NULL;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
	{
		if (PG_ARGISNULL(0) && PG_ARGISNULL(1))
			PG_RETURN_NULL();
		PG_RETURN_DATUM(PG_GETARG_DATUM(PG_ARGISNULL(0) ? 1 : 0));
	}

	b = PG_GETARG_JSONB_P(1);
	map_reader_init(&rb, b, MAP_TEXT);
	if (rb.npairs == 0)
		PG_RETURN_DATUM(PG_GETARG_DATUM(0));
	a = PG_GETARG_JSONB_P(0);
	if (!text_map_merge_changes(op, a, b))
		PG_RETURN_DATUM(PG_GETARG_DATUM(0));

	map_reader_init(&ra, a, MAP_TEXT);
	pushJsonbValue(&parse, WJB_BEGIN_OBJECT, NULL);
	has_a = map_reader_next(&ra, &pa);
	has_b = map_reader_next(&rb, &pb);
	while (has_a || has_b)
	{
		int			cmp;

		if (!has_b)
			cmp = -1;
		else if (!has_a)
			cmp = 1;
		else
			cmp = map_key_cmp(pa.key, pa.keylen, pb.key, pb.keylen);

		if (has_a && cmp <= 0)
			map_pair_check_text(&pa);
		if (has_b && cmp >= 0)
			map_pair_check_text(&pb);

		if (cmp < 0 || (cmp == 0 && !text_wins(op, &pb, &pa)))
			push_text(&parse, &pa);
		else
			push_text(&parse, &pb);
		if (cmp <= 0)
			has_a = map_reader_next(&ra, &pa);
		if (cmp >= 0)
			has_b = map_reader_next(&rb, &pb);
	}
	PG_RETURN_JSONB_P(JsonbValueToJsonb(pushJsonbValue(&parse, WJB_END_OBJECT, NULL)));
}

PG_FUNCTION_INFO_V1(min_map_merge);
Datum
min_map_merge(PG_FUNCTION_ARGS)
{
	return text_map_merge(fcinfo, MAP_OP_MIN);
}

PG_FUNCTION_INFO_V1(max_map_merge);
Datum
max_map_merge(PG_FUNCTION_ARGS)
{
	return text_map_merge(fcinfo, MAP_OP_MAX);
}
