/*
 * argmax_finalize.c
 *		finalize(state): the value an argmax state holds, as ClickHouse's
 *		finalizeAggregation gives it.
 *
 * One function per state type, since each returns its own SQL type; each
 * checks that the state really holds that type before building the value.
 * A state that saw no row finalizes to NULL.
 */
#include "postgres.h"

#include "argmax.h"

/*
 * Open state, which must hold values of vtype; returns its payload, or NULL
 * when it holds no value.
 */
static const char *
open_for_value(Datum state, ArgMaxValueType vtype, ArgMaxHeader *hdr)
{
	struct varlena *raw = PG_DETOAST_DATUM_PACKED(state);
	const char *payload = argmax_state_open(raw, hdr);

	argmax_header_expect(hdr, vtype);
	return (hdr->flags & ARGMAX_HAS_VALUE) ? payload : NULL;
}

PG_FUNCTION_INFO_V1(argmax_text_finalize);

Datum
argmax_text_finalize(PG_FUNCTION_ARGS)
{
	ArgMaxHeader hdr;
	const char *payload = open_for_value(PG_GETARG_DATUM(0), ARGMAX_VALUE_TEXT, &hdr);

	if (payload == NULL)
		PG_RETURN_NULL();
	PG_RETURN_POINTER(argmax_value_as_varlena(&hdr, payload));
}

PG_FUNCTION_INFO_V1(argmax_bool_finalize);

Datum
argmax_bool_finalize(PG_FUNCTION_ARGS)
{
	ArgMaxHeader hdr;
	const char *payload = open_for_value(PG_GETARG_DATUM(0), ARGMAX_VALUE_BOOL, &hdr);

	if (payload == NULL)
		PG_RETURN_NULL();
	PG_RETURN_BOOL(argmax_value_as_bool(&hdr, payload));
}

PG_FUNCTION_INFO_V1(argmax_jsonb_finalize);

Datum
argmax_jsonb_finalize(PG_FUNCTION_ARGS)
{
	ArgMaxHeader hdr;
	const char *payload = open_for_value(PG_GETARG_DATUM(0), ARGMAX_VALUE_JSONB, &hdr);

	if (payload == NULL)
		PG_RETURN_NULL();
	PG_RETURN_POINTER(argmax_value_as_varlena(&hdr, payload));
}
