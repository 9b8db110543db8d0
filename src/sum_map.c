/*
 * sum_map.c
 *		sum_map, ClickHouse's sumMap over uint64_map and decimal_map,
 *		sum_map_merge, which adds two stored sums, and sum_map_subtract,
 *		which takes one from another.
 *
 * Sums are exact: values are 128-bit integers of the map's units, and a
 * total outside the map's range is an error naming the key (ClickHouse
 * wraps UInt64 sums around silently).  A key whose total is zero is kept.
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/jsonb.h"

#include "map.h"

/* Adds one row's map to the state, creating it on the first map. */
static Datum
sum_map_accumulate(FunctionCallInfo fcinfo, MapType type)
{
	MemoryContext aggcontext;
	MapState   *state = PG_ARGISNULL(0) ? NULL : (MapState *) PG_GETARG_POINTER(0);
	Jsonb	   *map;
	MapReader	reader;
	MapPair		pair;

	if (!AggCheckCallContext(fcinfo, &aggcontext))
		elog(ERROR, "sum_map transition function called in non-aggregate context");

	if (PG_ARGISNULL(1))
	{
		if (state == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(state);
	}

	map = PG_GETARG_JSONB_P(1);
	map_reader_init(&reader, map, type);
	if (state == NULL)
		state = map_state_create(type, MAP_OP_SUM, aggcontext, reader.npairs);
	while (map_reader_next(&reader, &pair))
		map_state_add_number(state, pair.key, pair.keylen,
							 map_pair_number(type, &pair));
	PG_FREE_IF_COPY(map, 1);
	PG_RETURN_POINTER(state);
}

PG_FUNCTION_INFO_V1(sum_map_uint64_transfn);
Datum
sum_map_uint64_transfn(PG_FUNCTION_ARGS)
{
	return sum_map_accumulate(fcinfo, MAP_UINT64);
}

PG_FUNCTION_INFO_V1(sum_map_decimal_transfn);
Datum
sum_map_decimal_transfn(PG_FUNCTION_ARGS)
{
	return sum_map_accumulate(fcinfo, MAP_DECIMAL);
}

static void
push_sum(JsonbParseState **parse, MapType type, const MapPair *pair,
		 int128 sum)
{
	JsonbValue	key;
	JsonbValue	value;

	key.type = jbvString;
	key.val.string.val = (char *) pair->key;
	key.val.string.len = pair->keylen;
	pushJsonbValue(parse, WJB_KEY, &key);

	value.type = jbvNumeric;
	value.val.numeric = map_number_to_numeric(type, sum);
	pushJsonbValue(parse, WJB_VALUE, &value);
}

/*
 * The sum of two maps, or with SUBTRACT their difference a - b.  Both are
 * in jsonb key order, so they are walked side by side.  A NULL or empty
 * side gives back the other argument untouched (subtracting, a NULL or
 * empty b gives back a): an ON CONFLICT DO UPDATE that adds nothing then
 * stores the very same datum, and an already toasted value is not written
 * again.  A difference keeps every key of both sides, zero totals
 * included, and is an error where a total leaves the map's range (a
 * negative uint64_map total).
 */
static Datum
sum_map_combine_maps(FunctionCallInfo fcinfo, MapType type, bool subtract)
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

	if (PG_ARGISNULL(1))
	{
		if (PG_ARGISNULL(0))
			PG_RETURN_NULL();
		PG_RETURN_DATUM(PG_GETARG_DATUM(0));
	}
	if (PG_ARGISNULL(0) && !subtract)
		PG_RETURN_DATUM(PG_GETARG_DATUM(1));

	b = PG_GETARG_JSONB_P(1);
	map_reader_init(&rb, b, type);
	if (rb.npairs == 0)
		PG_RETURN_DATUM(PG_ARGISNULL(0) ? PG_GETARG_DATUM(1) : PG_GETARG_DATUM(0));
	a = PG_ARGISNULL(0) ? map_empty_jsonb() : PG_GETARG_JSONB_P(0);
	map_reader_init(&ra, a, type);
	if (ra.npairs == 0 && !subtract)
		PG_RETURN_DATUM(PG_GETARG_DATUM(1));

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

		if (cmp < 0)
			push_sum(&parse, type, &pa, map_pair_number(type, &pa));
		else if (cmp > 0)
			push_sum(&parse, type, &pb,
					 subtract ? map_add_numbers(type, 0, -map_pair_number(type, &pb), pb.key, pb.keylen)
					 : map_pair_number(type, &pb));
		else
			push_sum(&parse, type, &pa,
					 map_add_numbers(type, map_pair_number(type, &pa),
									 subtract ? -map_pair_number(type, &pb) : map_pair_number(type, &pb),
									 pa.key, pa.keylen));
		if (cmp <= 0)
			has_a = map_reader_next(&ra, &pa);
		if (cmp >= 0)
			has_b = map_reader_next(&rb, &pb);
	}
	PG_RETURN_JSONB_P(JsonbValueToJsonb(pushJsonbValue(&parse, WJB_END_OBJECT, NULL)));
}

PG_FUNCTION_INFO_V1(sum_map_merge_uint64);
Datum
sum_map_merge_uint64(PG_FUNCTION_ARGS)
{
	return sum_map_combine_maps(fcinfo, MAP_UINT64, false);
}

PG_FUNCTION_INFO_V1(sum_map_merge_decimal);
Datum
sum_map_merge_decimal(PG_FUNCTION_ARGS)
{
	return sum_map_combine_maps(fcinfo, MAP_DECIMAL, false);
}

/*
 * a - b per key: what a stored sum becomes when the rows summed into b
 * leave it (derived views in delta mode).
 */
PG_FUNCTION_INFO_V1(sum_map_subtract_uint64);
Datum
sum_map_subtract_uint64(PG_FUNCTION_ARGS)
{
	return sum_map_combine_maps(fcinfo, MAP_UINT64, true);
}

PG_FUNCTION_INFO_V1(sum_map_subtract_decimal);
Datum
sum_map_subtract_decimal(PG_FUNCTION_ARGS)
{
	return sum_map_combine_maps(fcinfo, MAP_DECIMAL, true);
}
