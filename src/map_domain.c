/*
 * map_domain.c
 *		The CHECK functions of the map domains uint64_map, decimal_map and
 *		text_map.
 *
 * Each returns true or raises an error that names the offending key and
 * value, which tells the user far more than a bare domain violation.  They
 * run for every ingested row, so they read the jsonb container in place.
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/jsonb.h"

#include "map.h"

/* Checks that every value of a numeric map converts to the map's scale. */
static void
check_numeric_map(Jsonb *map, MapType type)
{
	MapReader	reader;
	MapPair		pair;

	map_reader_init(&reader, map, type);
	while (map_reader_next(&reader, &pair))
		(void) map_pair_number(type, &pair);
}

PG_FUNCTION_INFO_V1(check_uint64_map);
Datum
check_uint64_map(PG_FUNCTION_ARGS)
{
	check_numeric_map(PG_GETARG_JSONB_P(0), MAP_UINT64);
	PG_RETURN_BOOL(true);
}

PG_FUNCTION_INFO_V1(check_decimal_map);
Datum
check_decimal_map(PG_FUNCTION_ARGS)
{
	check_numeric_map(PG_GETARG_JSONB_P(0), MAP_DECIMAL);
	PG_RETURN_BOOL(true);
}

/*
 * Only the kinds of the values matter, and those are in the JEntries, so
 * the values themselves are not even located unless one is wrong.
 */
PG_FUNCTION_INFO_V1(check_text_map);
Datum
check_text_map(PG_FUNCTION_ARGS)
{
	Jsonb	   *map = PG_GETARG_JSONB_P(0);
	MapReader	reader;
	MapPair		pair;
	uint32		i;
	uint32		k;

	map_reader_init(&reader, map, MAP_TEXT);
	for (i = 0; i < reader.npairs; i++)
	{
		if (!JBE_ISSTRING(reader.container->children[reader.npairs + i]))
		{
			/* read up to the bad pair, for the error message */
			for (k = 0; k <= i; k++)
				map_reader_next(&reader, &pair);
			map_pair_check_text(&pair);
		}
	}
	PG_RETURN_BOOL(true);
}
