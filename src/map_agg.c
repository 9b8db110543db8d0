/*
 * map_agg.c
 *		The support functions every map aggregate shares: combine, serialize,
 *		deserialize and final.
 *
 * sum_map, min_map and max_map differ only in their transition functions;
 * the state records the map type and the operation, so the rest of the
 * aggregate machinery is written once.
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/jsonb.h"

#include "map.h"

/*
 * Merges two partial states (from parallel workers) into the first, which
 * must live in the aggregate context: a missing first state is created
 * there, since the second may sit in a shorter-lived context.
 */
PG_FUNCTION_INFO_V1(map_agg_combine);
Datum
map_agg_combine(PG_FUNCTION_ARGS)
{
	MemoryContext aggcontext;
	MapState   *into = PG_ARGISNULL(0) ? NULL : (MapState *) PG_GETARG_POINTER(0);
	MapState   *from = PG_ARGISNULL(1) ? NULL : (MapState *) PG_GETARG_POINTER(1);

	if (!AggCheckCallContext(fcinfo, &aggcontext))
		elog(ERROR, "map_agg_combine called in non-aggregate context");

	if (from == NULL)
	{
		if (into == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(into);
	}
	if (into == NULL)
		into = map_state_create(map_state_type(from), map_state_op(from),
								aggcontext, 0);
	map_state_absorb(into, from);
	PG_RETURN_POINTER(into);
}

PG_FUNCTION_INFO_V1(map_agg_serialize);
Datum
map_agg_serialize(PG_FUNCTION_ARGS)
{
	if (!AggCheckCallContext(fcinfo, NULL))
		elog(ERROR, "map_agg_serialize called in non-aggregate context");

	PG_RETURN_BYTEA_P(map_state_serialize((MapState *) PG_GETARG_POINTER(0)));
}

PG_FUNCTION_INFO_V1(map_agg_deserialize);
Datum
map_agg_deserialize(PG_FUNCTION_ARGS)
{
	bytea	   *bytes;

	if (!AggCheckCallContext(fcinfo, NULL))
		elog(ERROR, "map_agg_deserialize called in non-aggregate context");

	bytes = PG_GETARG_BYTEA_PP(0);
	PG_RETURN_POINTER(map_state_deserialize(VARDATA_ANY(bytes),
											VARSIZE_ANY_EXHDR(bytes),
											CurrentMemoryContext));
}

/* The aggregated map; '{}' when no row had a map, as in ClickHouse. */
PG_FUNCTION_INFO_V1(map_agg_final);
Datum
map_agg_final(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(0))
		PG_RETURN_JSONB_P(map_empty_jsonb());
	PG_RETURN_JSONB_P(map_state_to_jsonb((MapState *) PG_GETARG_POINTER(0)));
}
