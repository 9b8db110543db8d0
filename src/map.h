/*
 * map.h
 *		Declarations shared by the files that implement ClickHouse-style
 *		Map columns (domains over jsonb) and their aggregates.
 *
 * A map is a jsonb object.  Its values are read in place, straight out of the
 * jsonb container, with a MapReader: no iterator allocations and no text
 * conversion, since the domain checks and the aggregates look at every
 * ingested row.  Numeric values are kept as 128-bit integers counting units
 * of the map's scale (1 for uint64_map, 10^-12 for decimal_map), which makes
 * sums exact and cheap.
 */
#ifndef TRACE_AGG_MAP_H
#define TRACE_AGG_MAP_H

#include "fmgr.h"
#include "utils/jsonb.h"

#include "compat.h"

#ifndef HAVE_INT128
#error "trace_agg maps need a 128-bit integer type"
#endif

/* The three map domains. */
typedef enum MapType
{
	MAP_UINT64,					/* trace_agg.uint64_map: Map(String, UInt64) */
	MAP_DECIMAL,				/* trace_agg.decimal_map: Map(String,
								 * Decimal(38, 12)) */
	MAP_TEXT					/* trace_agg.text_map: Map(String, String) */
} MapType;

#define MAP_TYPE_LAST MAP_TEXT

/* Number of fractional decimal digits a decimal_map sum keeps. */
#define MAP_DECIMAL_SCALE 12

/* What an aggregate does with the values of one key. */
typedef enum MapOp
{
	MAP_OP_SUM,
	MAP_OP_MIN,
	MAP_OP_MAX
} MapOp;

#define MAP_OP_LAST MAP_OP_MAX

/* One key/value pair of a map, pointing into the jsonb: nothing is copied. */
typedef struct MapPair
{
	const char *key;
	uint32		keylen;
	JEntry		entry;			/* the value's JEntry, which holds its kind */
	const char *value;			/* the string's bytes, or the int-aligned
								 * numeric or container */
	uint32		valuelen;		/* bytes, padding before the value included */
} MapPair;

/* Walks the pairs of a map in jsonb key order. */
typedef struct MapReader
{
	const JsonbContainer *container;
	const char *data;			/* start of the container's variable part */
	uint32		npairs;
	uint32		next;			/* index of the next pair */
	uint32		keyoff;			/* offset of the next key in data */
	uint32		valueoff;		/* offset of the next value in data */
} MapReader;

/* map_values.c */
extern const char *map_type_name(MapType type);
extern void map_reader_init(MapReader *reader, const Jsonb *map, MapType type);
extern int128 map_pair_number(MapType type, const MapPair *pair);
extern void map_pair_check_text(const MapPair *pair);
extern bool map_number_in_range(MapType type, int128 value);
extern int128 map_add_numbers(MapType type, int128 a, int128 b,
							  const char *key, uint32 keylen);
extern Numeric map_number_to_numeric(MapType type, int128 value);
extern Jsonb *map_empty_jsonb(void);

/*
 * Steps to the next pair; returns false after the last one.  Keys come
 * first in the container, then the values in the same order, each run
 * storing lengths with an absolute offset every JB_OFFSET_STRIDE entries.
 */
static inline bool
map_reader_next(MapReader *reader, MapPair *pair)
{
	const JEntry *children = reader->container->children;
	uint32		start;

	if (reader->next >= reader->npairs)
		return false;

	start = reader->keyoff;
	JBE_ADVANCE_OFFSET(reader->keyoff, children[reader->next]);
	pair->key = reader->data + start;
	pair->keylen = reader->keyoff - start;

	start = reader->valueoff;
	pair->entry = children[reader->npairs + reader->next];
	JBE_ADVANCE_OFFSET(reader->valueoff, pair->entry);
	/* numerics and containers are padded to int alignment, strings not */
	pair->value = reader->data +
		(JBE_ISSTRING(pair->entry) ? start : INTALIGN(start));
	pair->valuelen = reader->valueoff - start;

	reader->next++;
	return true;
}

/*
 * jsonb's own key order: shorter keys first, then bytewise.  Both maps being
 * merged are stored in this order, so merges walk them side by side.
 */
static inline int
map_key_cmp(const char *a, uint32 alen, const char *b, uint32 blen)
{
	if (alen != blen)
		return alen < blen ? -1 : 1;
	return memcmp(a, b, alen);
}

/* Bytewise text order, never collation: memcmp, then the shorter first. */
static inline int
map_text_cmp(const char *a, uint32 alen, const char *b, uint32 blen)
{
	int			cmp = memcmp(a, b, Min(alen, blen));

	if (cmp != 0)
		return cmp;
	return alen < blen ? -1 : (alen > blen ? 1 : 0);
}

/* map_state.c: the transition state of every map aggregate */
typedef struct MapState MapState;

extern MapState *map_state_create(MapType type, MapOp op,
								  MemoryContext context, uint32 nkeys);
extern MapType map_state_type(const MapState *state);
extern MapOp map_state_op(const MapState *state);
extern void map_state_add_number(MapState *state, const char *key,
								 uint32 keylen, int128 value);
extern void map_state_offer_text(MapState *state, const char *key,
								 uint32 keylen, const char *value,
								 uint32 valuelen);
extern void map_state_absorb(MapState *into, MapState *from);
extern Jsonb *map_state_to_jsonb(MapState *state);
extern bytea *map_state_serialize(MapState *state);
extern MapState *map_state_deserialize(const char *data, int len,
									   MemoryContext context);

#endif							/* TRACE_AGG_MAP_H */
