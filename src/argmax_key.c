/*
 * argmax_key.c
 *		Ordering keys of argmax states: their kinds and their text form.
 *
 * A state keeps its key as an int64 beside a kind byte telling how to read
 * it: microseconds since 2000-01-01 00:00 UTC for timestamptz, the same
 * count of a wall-clock time for timestamp, or a plain bigint.  The text
 * form of a timestamp is always ISO and UTC ("2025-07-01 10:00:00.123+00"),
 * written and read here without DateStyle or TimeZone, so that a state
 * prints and reads back the same in every session.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/timestamp.h"

#include "argmax.h"

/* The key kind of an aggregate's key argument type. */
ArgMaxKeyKind
argmax_key_kind_of_type(Oid typid)
{
	switch (typid)
	{
		case TIMESTAMPTZOID:
			return ARGMAX_KEY_TIMESTAMPTZ;
		case TIMESTAMPOID:
			return ARGMAX_KEY_TIMESTAMP;
		case INT8OID:
			return ARGMAX_KEY_BIGINT;
	}
	elog(ERROR, "argmax key of type %u is not supported", typid);
	pg_unreachable();
}

const char *
argmax_key_kind_name(ArgMaxKeyKind kind)
{
	switch (kind)
	{
		case ARGMAX_KEY_TIMESTAMPTZ:
			return "timestamptz";
		case ARGMAX_KEY_TIMESTAMP:
			return "timestamp";
		case ARGMAX_KEY_BIGINT:
			return "bigint";
	}
	return "unknown";
}

bool
argmax_key_kind_from_name(const char *name, int len, ArgMaxKeyKind *kind)
{
	ArgMaxKeyKind k;

	for (k = ARGMAX_KEY_TIMESTAMPTZ; k <= ARGMAX_KEY_BIGINT; k++)
	{
		const char *candidate = argmax_key_kind_name(k);

		if (strlen(candidate) == len && memcmp(candidate, name, len) == 0)
		{
			*kind = k;
			return true;
		}
	}
	return false;
}

/* Whether key is a value of its kind: a timestamp in range, or infinity. */
bool
argmax_key_is_valid(ArgMaxKeyKind kind, int64 key)
{
	if (kind == ARGMAX_KEY_BIGINT)
		return true;
	return TIMESTAMP_NOT_FINITE(key) || IS_VALID_TIMESTAMP(key);
}

/* Append the text form of key, without quotes. */
void
argmax_key_append(StringInfo buf, ArgMaxKeyKind kind, int64 key)
{
	char		str[MAXDATELEN + 1];
	struct pg_tm tm;
	fsec_t		fsec;

	if (kind == ARGMAX_KEY_BIGINT)
	{
		appendStringInfo(buf, INT64_FORMAT, key);
		return;
	}
	if (TIMESTAMP_NOT_FINITE(key))
		EncodeSpecialTimestamp(key, str);
	else if (timestamp2tm(key, NULL, &tm, &fsec, NULL, NULL) == 0)
	{
		/* UTC has no daylight time; a negative flag would hide the zone */
		tm.tm_isdst = 0;
		EncodeDateTime(&tm, fsec, kind == ARGMAX_KEY_TIMESTAMPTZ, 0, NULL,
					   USE_ISO_DATES, str);
	}
	else
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("argmax key " INT64_FORMAT " is out of range for %s",
						key, argmax_key_kind_name(kind))));
	appendStringInfoString(buf, str);
}

/*
 * Read up to maxdigits decimal digits at *p into *value and advance *p;
 * false when there are fewer than mindigits.
 */
static bool
read_digits(const char **p, const char *end, int mindigits, int maxdigits,
			int *value)
{
	int			n = 0;

	*value = 0;
	while (*p < end && n < maxdigits && isdigit((unsigned char) **p))
	{
		*value = *value * 10 + (**p - '0');
		(*p)++;
		n++;
	}
	return n >= mindigits;
}

/* Consume the literal text at *p if it is there. */
static bool
read_literal(const char **p, const char *end, const char *text)
{
	size_t		len = strlen(text);

	if (end - *p < (ptrdiff_t) len || memcmp(*p, text, len) != 0)
		return false;
	*p += len;
	return true;
}

/*
 * Parse the form argmax_key_append writes: "infinity", "-infinity", or
 * "YYYY-MM-DD HH:MM:SS[.ffffff]", followed by "+00" when utc, then " BC"
 * for years before 1 AD.  Nothing else is accepted, so the result never
 * depends on session settings.  Returns false on any other text or a
 * timestamp out of range.
 */
bool
argmax_key_parse_timestamp(const char *str, int len, bool utc, int64 *key)
{
	const char *p = str;
	const char *end = str + len;
	struct pg_tm tm;
	fsec_t		fsec = 0;
	Timestamp	ts;
	int			year;

	if (read_literal(&p, end, "infinity") && p == end)
	{
		TIMESTAMP_NOEND(*key);
		return true;
	}
	p = str;
	if (read_literal(&p, end, "-infinity") && p == end)
	{
		TIMESTAMP_NOBEGIN(*key);
		return true;
	}

	p = str;
	memset(&tm, 0, sizeof(tm));
	if (!read_digits(&p, end, 4, 6, &year) || !read_literal(&p, end, "-") ||
		!read_digits(&p, end, 2, 2, &tm.tm_mon) || !read_literal(&p, end, "-") ||
		!read_digits(&p, end, 2, 2, &tm.tm_mday) || !read_literal(&p, end, " ") ||
		!read_digits(&p, end, 2, 2, &tm.tm_hour) || !read_literal(&p, end, ":") ||
		!read_digits(&p, end, 2, 2, &tm.tm_min) || !read_literal(&p, end, ":") ||
		!read_digits(&p, end, 2, 2, &tm.tm_sec))
		return false;
	if (read_literal(&p, end, "."))
	{
		const char *start = p;

		if (!read_digits(&p, end, 1, 6, &fsec))
			return false;
		for (int scale = p - start; scale < 6; scale++)
			fsec *= 10;
	}
	if (utc && !read_literal(&p, end, "+00"))
		return false;
	if (year == 0)
		return false;
	tm.tm_year = read_literal(&p, end, " BC") ? 1 - year : year;
	if (p != end)
		return false;

	if (tm.tm_mon < 1 || tm.tm_mon > MONTHS_PER_YEAR ||
		tm.tm_mday < 1 ||
		tm.tm_mday > day_tab[isleap(tm.tm_year)][tm.tm_mon - 1] ||
		tm.tm_hour >= HOURS_PER_DAY || tm.tm_min >= MINS_PER_HOUR ||
		tm.tm_sec >= SECS_PER_MINUTE)
		return false;
	if (tm2timestamp(&tm, fsec, NULL, &ts) != 0 || !IS_VALID_TIMESTAMP(ts))
		return false;
	*key = ts;
	return true;
}

PG_FUNCTION_INFO_V1(argmax_key);

/*
 * argmax_key(state) returns the key of the winning row in the text form of
 * the state's key kind, or NULL for a state that saw no row.  Only the
 * fixed part of the state is read.
 */
Datum
argmax_key(PG_FUNCTION_ARGS)
{
	ArgMaxHeader hdr;
	StringInfoData buf;

	argmax_header_fetch(PG_GETARG_DATUM(0), &hdr);
	if (!(hdr.flags & ARGMAX_HAS_VALUE))
		PG_RETURN_NULL();
	initStringInfo(&buf);
	argmax_key_append(&buf, hdr.kind, hdr.key);
	PG_RETURN_TEXT_P(cstring_to_text_with_len(buf.data, buf.len));
}
