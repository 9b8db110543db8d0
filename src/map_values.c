/*
 * map_values.c
 *		Reading map values out of jsonb, and reporting the ones that do not
 *		belong in a map.
 *
 * A uint64_map or decimal_map value is a jsonb numeric.  It is converted to
 * a 128-bit integer of units of the map's scale by reading the numeric's
 * base-10000 digits directly: this is the hot path of every domain check
 * and every aggregated row, and going through numeric_out and a text parser
 * would cost an allocation and a conversion per value.  The layout read here
 * is numeric's on-disk format, which pg_upgrade requires to stay unchanged.
 *
 * Every error names the key and the offending value, so that a rejected row
 * can be found in the data.
 */
#include "postgres.h"

#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

#include "map.h"

/*
 * Numeric's on-disk layout (src/backend/utils/adt/numeric.c): a uint16
 * header whose two high bits tell the format; the short format packs sign,
 * display scale and a 7-bit weight into it, the long format follows it with
 * an int16 weight.  Then come the digits, int16 each, base 10000, most
 * significant first, with leading and trailing zero digits stripped.  The
 * value is the sum of digit[i] * 10000^(weight - i).
 */
#define NUM_BASE				10000
#define NUM_FORMAT_MASK			0xC000
#define NUM_FORMAT_NEG			0x4000
#define NUM_FORMAT_SHORT		0x8000
#define NUM_FORMAT_SPECIAL		0xC000
#define NUM_SHORT_SIGN			0x2000
#define NUM_SHORT_WEIGHT_SIGN	0x0040
#define NUM_SHORT_WEIGHT_MASK	0x003F

/* Largest value of each numeric map, in units of its scale. */
#define UINT64_MAP_MAX		((int128) PG_UINT64_MAX)
/* 10^38 - 1: Decimal(38, 12) holds less than 10^26, i.e. 10^38 units */
#define DECIMAL_MAP_MAX		((int128) 10000000000000000000U * 10000000000000000000U - 1)

/* Longest key or value quoted in an error message, in bytes. */
#define MAP_ERROR_CLIP		64

/* Outcome of reading a numeric into units of a map's scale. */
typedef enum NumberStatus
{
	NUMBER_OK,
	NUMBER_NOT_FINITE,
	NUMBER_NOT_INTEGER,
	NUMBER_OUT_OF_RANGE
} NumberStatus;

const char *
map_type_name(MapType type)
{
	switch (type)
	{
		case MAP_UINT64:
			return "trace_agg.uint64_map";
		case MAP_DECIMAL:
			return "trace_agg.decimal_map";
		case MAP_TEXT:
			return "trace_agg.text_map";
	}
	return "trace_agg map";
}

static int128
map_type_max(MapType type)
{
	return type == MAP_UINT64 ? UINT64_MAP_MAX : DECIMAL_MAP_MAX;
}

static int128
map_type_min(MapType type)
{
	return type == MAP_UINT64 ? 0 : -DECIMAL_MAP_MAX;
}

/* The sentence that says what values a map accepts. */
static const char *
map_type_values_rule(MapType type)
{
	switch (type)
	{
		case MAP_UINT64:
			return "Values of trace_agg.uint64_map are integers from 0 to 18446744073709551615 (ClickHouse UInt64).";
		case MAP_DECIMAL:
			return "Values of trace_agg.decimal_map are numbers whose absolute value is less than 10^26, rounded to 12 decimal places (ClickHouse Decimal(38, 12)).";
		case MAP_TEXT:
			return "Values of trace_agg.text_map are JSON strings.";
	}
	return "";
}

/* Bytes as a JSON string literal, cut short if long, for a message. */
static char *
quote_for_message(const char *bytes, uint32 len)
{
	StringInfoData buf;
	int			cut = pg_mbcliplen(bytes, len, MAP_ERROR_CLIP);

	initStringInfo(&buf);
	escape_json(&buf, pnstrdup(bytes, cut));
	if ((uint32) cut < len)
		appendStringInfoString(&buf, "...");
	return buf.data;
}

/* The value as JSON text, cut short if long, for a message. */
static char *
value_for_message(const MapPair *pair)
{
	char	   *text;
	int			len;

	if (JBE_ISSTRING(pair->entry))
		return quote_for_message(pair->value, pair->valuelen);
	if (JBE_ISNUMERIC(pair->entry))
		text = DatumGetCString(DirectFunctionCall1(numeric_out,
												   PointerGetDatum(pair->value)));
	else if (JBE_ISCONTAINER(pair->entry))
		text = JsonbToCString(NULL, (JsonbContainer *) pair->value,
							  pair->valuelen);
	else if (JBE_ISNULL(pair->entry))
		return pstrdup("null");
	else
		return pstrdup(JBE_ISBOOL_TRUE(pair->entry) ? "true" : "false");

	len = strlen(text);
	if (len > MAP_ERROR_CLIP)
	{
		len = pg_mbcliplen(text, len, MAP_ERROR_CLIP);
		text = psprintf("%s...", pnstrdup(text, len));
	}
	return text;
}

pg_noreturn static void report_wrong_kind(MapType type, const MapPair *pair);

/* Rejects a value of the wrong JSON kind for its map. */
static void
report_wrong_kind(MapType type, const MapPair *pair)
{
	if (JBE_ISNULL(pair->entry))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for key %s in %s: null",
						quote_for_message(pair->key, pair->keylen), map_type_name(type)),
				 errdetail("Map values cannot be null, as in ClickHouse."),
				 errhint("Leave the key out of the map instead.")));
	if (JBE_ISCONTAINER(pair->entry))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for key %s in %s: %s",
						quote_for_message(pair->key, pair->keylen), map_type_name(type),
						value_for_message(pair)),
				 errdetail("Map values cannot be nested objects or arrays. %s",
						   map_type_values_rule(type))));
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid value for key %s in %s: %s",
					quote_for_message(pair->key, pair->keylen), map_type_name(type),
					value_for_message(pair)),
			 errdetail("%s", map_type_values_rule(type)),
			 type == MAP_TEXT ?
			 errhint("Write the value as a JSON string, in double quotes.") :
			 JBE_ISSTRING(pair->entry) ?
			 errhint("Write the number without quotes.") : 0));
}

/*
 * Sets up a reader on a map, rejecting anything but a JSON object.  A scalar
 * jsonb is stored as a one-element array flagged as scalar.
 */
void
map_reader_init(MapReader *reader, const Jsonb *map, MapType type)
{
	const JsonbContainer *root = &map->root;

	if (!JsonContainerIsObject(root))
	{
		const char *kind = "an array";

		if (JsonContainerIsScalar(root))
		{
			JEntry		entry = root->children[0];

			if (JBE_ISSTRING(entry))
				kind = "a string";
			else if (JBE_ISNUMERIC(entry))
				kind = "a number";
			else if (JBE_ISNULL(entry))
				kind = "null";
			else
				kind = "a boolean";
		}
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be a JSON object, not %s",
						map_type_name(type), kind),
				 errdetail("A map is written as a JSON object of keys and values, like {\"key\": %s}.",
						   type == MAP_TEXT ? "\"value\"" : "1")));
	}

	reader->container = root;
	reader->npairs = JsonContainerSize(root);
	reader->data = (const char *) &root->children[reader->npairs * 2];
	reader->next = 0;
	reader->keyoff = 0;
	reader->valueoff = reader->npairs > 0 ? getJsonbOffset(root, reader->npairs) : 0;
}

/*
 * Converts a finite numeric to units of 10^-(4 * scale_digits), into
 * *result.  Digits below the unit must be zero, or with round set are
 * rounded half away from zero.  The magnitude is checked against max before
 * every step, so nothing can overflow whatever weight the numeric has.
 */
static NumberStatus
numeric_to_units(Numeric num, int scale_digits, bool round, int128 max,
				 int128 *result)
{
	const char *p = VARDATA_ANY(num);
	Size		len = VARSIZE_ANY_EXHDR(num);
	uint16		header;
	bool		negative;
	int			weight;
	int			ndigits;
	int			units_digit;
	int			i;
	int128		mag = 0;

	if (len < sizeof(uint16))
		return NUMBER_NOT_FINITE;
	memcpy(&header, p, sizeof(uint16));
	if ((header & NUM_FORMAT_MASK) == NUM_FORMAT_SPECIAL)
		return NUMBER_NOT_FINITE;
	if ((header & NUM_FORMAT_MASK) == NUM_FORMAT_SHORT)
	{
		negative = (header & NUM_SHORT_SIGN) != 0;
		weight = header & NUM_SHORT_WEIGHT_MASK;
		if (header & NUM_SHORT_WEIGHT_SIGN)
			weight |= ~NUM_SHORT_WEIGHT_MASK;
		p += sizeof(uint16);
		len -= sizeof(uint16);
	}
	else
	{
		int16		w;

		if (len < sizeof(uint16) + sizeof(int16))
			return NUMBER_NOT_FINITE;
		negative = (header & NUM_FORMAT_MASK) == NUM_FORMAT_NEG;
		memcpy(&w, p + sizeof(uint16), sizeof(int16));
		weight = w;
		p += sizeof(uint16) + sizeof(int16);
		len -= sizeof(uint16) + sizeof(int16);
	}
	ndigits = len / sizeof(int16);

	/*
	 * Digit i stands for 10000^(weight - i), so in units it stands for
	 * 10000^(weight + scale_digits - i): digits 0..units_digit are whole
	 * units, the rest are fractions of a unit.
	 */
	units_digit = weight + scale_digits;
	for (i = 0; i <= units_digit; i++)
	{
		int16		digit = 0;

		if (i < ndigits)
			memcpy(&digit, p + i * sizeof(int16), sizeof(int16));
		else if (mag == 0)
			break;				/* zero times any power of 10000 */
		if (mag > max / NUM_BASE)
			return NUMBER_OUT_OF_RANGE;
		mag = mag * NUM_BASE + digit;
		if (mag > max)
			return NUMBER_OUT_OF_RANGE;
	}

	/* Fractions of a unit: digits from index units_digit + 1 on. */
	for (i = Max(units_digit + 1, 0); i < ndigits; i++)
	{
		int16		digit;

		memcpy(&digit, p + i * sizeof(int16), sizeof(int16));
		if (digit == 0)
			continue;
		if (!round)
			return NUMBER_NOT_INTEGER;

		/*
		 * Only the first fraction digit decides: half a unit or more rounds
		 * the magnitude up, whatever follows.  A first fraction digit that
		 * is an implicit leading zero (weight below the unit) rounds down.
		 */
		if (i == units_digit + 1 && digit >= NUM_BASE / 2)
		{
			mag++;
			if (mag > max)
				return NUMBER_OUT_OF_RANGE;
		}
		break;
	}

	*result = negative ? -mag : mag;
	return NUMBER_OK;
}

/*
 * The value of a numeric map's pair in units of the map's scale; raises an
 * error naming the key for anything that is not a number the map can hold.
 */
int128
map_pair_number(MapType type, const MapPair *pair)
{
	NumberStatus status;
	int128		result;
	Numeric		num;

	if (!JBE_ISNUMERIC(pair->entry))
		report_wrong_kind(type, pair);

	num = (Numeric) pair->value;
	if (type == MAP_UINT64)
		status = numeric_to_units(num, 0, false, UINT64_MAP_MAX, &result);
	else
		status = numeric_to_units(num, MAP_DECIMAL_SCALE / 4, true,
								  DECIMAL_MAP_MAX, &result);

	if (status == NUMBER_OK && result < map_type_min(type))
		status = NUMBER_OUT_OF_RANGE;
	if (status != NUMBER_OK)
		ereport(ERROR,
				(errcode(status == NUMBER_OUT_OF_RANGE ?
						 ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE :
						 ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for key %s in %s: %s",
						quote_for_message(pair->key, pair->keylen), map_type_name(type),
						value_for_message(pair)),
				 errdetail("%s", map_type_values_rule(type))));
	return result;
}

/* Raises an error naming the key unless a text_map pair holds a string. */
void
map_pair_check_text(const MapPair *pair)
{
	if (!JBE_ISSTRING(pair->entry))
		report_wrong_kind(MAP_TEXT, pair);
}

bool
map_number_in_range(MapType type, int128 value)
{
	return value >= map_type_min(type) && value <= map_type_max(type);
}

/*
 * a + b, for a running sum; an error naming the key if the total leaves the
 * map's range.  Both operands are in range, so comparing against the bound
 * less one operand cannot overflow.
 */
int128
map_add_numbers(MapType type, int128 a, int128 b, const char *key,
				uint32 keylen)
{
	if (b > 0 ? a > map_type_max(type) - b : a < map_type_min(type) - b)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("sum for key %s is out of range for %s",
						quote_for_message(key, keylen), map_type_name(type)),
				 errdetail("%s", map_type_values_rule(type)),
				 type == MAP_UINT64 ?
				 errhint("ClickHouse's sumMap would wrap around; trace_agg refuses instead of returning a wrong total.") : 0));
	return a + b;
}

/*
 * A numeric holding value units of the map's scale, without trailing
 * fractional zeros (as ClickHouse prints a Decimal).  Built through
 * numeric_in, so that the result is a canonical numeric.
 */
Numeric
map_number_to_numeric(MapType type, int128 value)
{
	int			scale = type == MAP_DECIMAL ? MAP_DECIMAL_SCALE : 0;
	uint128		mag = value < 0 ? -(uint128) value : (uint128) value;
	char		digits[48];		/* least significant first */
	char		text[64];
	char	   *p = text;
	int			ndigits = 0;
	int			lowest = 0;
	int			i;

	do
	{
		digits[ndigits++] = '0' + (int) (mag % 10);
		mag /= 10;
	} while (mag > 0);
	while (ndigits <= scale)
		digits[ndigits++] = '0';

	if (value < 0)
		*p++ = '-';
	for (i = ndigits - 1; i >= scale; i--)
		*p++ = digits[i];
	while (lowest < scale && digits[lowest] == '0')
		lowest++;
	if (lowest < scale)
	{
		*p++ = '.';
		for (i = scale - 1; i >= lowest; i--)
			*p++ = digits[i];
	}
	*p = '\0';

	return DatumGetNumeric(DirectFunctionCall3(numeric_in,
											   CStringGetDatum(text),
											   ObjectIdGetDatum(InvalidOid),
											   Int32GetDatum(-1)));
}

/* '{}', the result of aggregating no rows. */
Jsonb *
map_empty_jsonb(void)
{
	JsonbParseState *parse = NULL;

	pushJsonbValue(&parse, WJB_BEGIN_OBJECT, NULL);
	return JsonbValueToJsonb(pushJsonbValue(&parse, WJB_END_OBJECT, NULL));
}
