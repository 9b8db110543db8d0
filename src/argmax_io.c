/*
 * argmax_io.c
 *		Text and binary forms of the argmax state types.
 *
 * The text form is a JSON object, printed with its fields in this order:
 *
 *		{"key": "2025-07-01 10:00:00.123+00", "kind": "timestamptz", "value": "..."}
 *
 * "key" is a string for the timestamp kinds (ISO, and UTC for timestamptz;
 * see argmax_key.c) and a number for bigint.  "value" is a JSON string, a
 * boolean, or any JSON value, after the state type.  A state that saw no row
 * is just {"kind": "timestamptz"}: for argmax_jsonb a "value" of null is a
 * JSON null that won, not an empty state.  Input takes the fields in any
 * order and checks every one.
 *
 * The binary form (COPY BINARY, binary logical replication) is, in network
 * byte order,
 *
 *		uint8 vtype, uint8 kind, uint8 flags, uint8 version, int64 key, and
 *		with a value: uint32 rawlen, uint32 payload length, payload
 *
 * with the payload as stored (a text value may be a zstd frame), except that
 * a jsonb value travels in jsonb's own binary form.  As on disk (argmax.h),
 * flags always carries ARGMAX_VERSIONED and the version byte names the
 * layout, ARGMAX_LAYOUT_VERSION; what follows it may change with the
 * version.  trace_agg 0.1 sent layout 0, without ARGMAX_VERSIONED and the
 * version byte, and receive still takes it.  Receive checks every field,
 * checks a frame's header against rawlen before allocating anything from
 * it, decompresses the frame to check it, and verifies a text value's
 * encoding, so garbage never becomes a state.
 */
#include "postgres.h"

#include "libpq/pqformat.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/json.h"
#include "utils/jsonb.h"

#include "argmax.h"

pg_noreturn static void
report_bad_literal(ArgMaxValueType vtype, const char *str, const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
			 errmsg("malformed %s literal: \"%s\"", argmax_type_name(vtype), str),
			 errdetail_internal("%s", detail)));
}

/* The key of a literal from its "key" field, checked against kind. */
static int64
literal_key(ArgMaxValueType vtype, const char *str, ArgMaxKeyKind kind,
			const JsonbValue *field)
{
	int64		key;

	if (kind == ARGMAX_KEY_BIGINT)
	{
		char	   *digits;
		char	   *end;

		if (field->type != jbvNumeric)
			report_bad_literal(vtype, str, "The key of a bigint-ordered state is a JSON number.");
		digits = DatumGetCString(DirectFunctionCall1(numeric_out,
													 NumericGetDatum(field->val.numeric)));
		errno = 0;
		key = strtoi64(digits, &end, 10);
		if (errno != 0 || *end != '\0' || end == digits)
			report_bad_literal(vtype, str,
							   psprintf("The key %s is not an integer in the range of bigint.",
										digits));
		return key;
	}

	if (field->type != jbvString ||
		!argmax_key_parse_timestamp(field->val.string.val, field->val.string.len,
									kind == ARGMAX_KEY_TIMESTAMPTZ, &key))
		report_bad_literal(vtype, str,
						   kind == ARGMAX_KEY_TIMESTAMPTZ ?
						   "The key of a timestamptz-ordered state is a string like \"2025-07-01 10:00:00.123+00\", in UTC." :
						   "The key of a timestamp-ordered state is a string like \"2025-07-01 10:00:00.123\".");
	return key;
}

/* Parse the text form of a state of value type vtype. */
static struct varlena *
parse_literal(char *str, ArgMaxValueType vtype)
{
	Jsonb	   *doc;
	JsonbIterator *it;
	JsonbIteratorToken tok;
	JsonbValue	name;
	JsonbValue	field;
	JsonbValue	key_field = {0};
	JsonbValue	kind_field = {0};
	JsonbValue	value_field = {0};
	bool		have_key = false;
	bool		have_kind = false;
	bool		have_value = false;
	ArgMaxKeyKind kind;
	int64		key = 0;
	const char *value = NULL;
	uint32		len = 0;
	char		flag;
	Jsonb	   *jb;

	doc = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(str)));
	if (JB_ROOT_IS_SCALAR(doc) || !JB_ROOT_IS_OBJECT(doc))
		report_bad_literal(vtype, str, "The text form of a state is a JSON object.");

	it = JsonbIteratorInit(&doc->root);
	while ((tok = JsonbIteratorNext(&it, &name, true)) != WJB_DONE)
	{
		if (tok != WJB_KEY)
			continue;
		tok = JsonbIteratorNext(&it, &field, true);
		Assert(tok == WJB_VALUE);
		if (name.val.string.len == 3 && memcmp(name.val.string.val, "key", 3) == 0)
		{
			key_field = field;
			have_key = true;
		}
		else if (name.val.string.len == 4 && memcmp(name.val.string.val, "kind", 4) == 0)
		{
			kind_field = field;
			have_kind = true;
		}
		else if (name.val.string.len == 5 && memcmp(name.val.string.val, "value", 5) == 0)
		{
			value_field = field;
			have_value = true;
		}
		else
			report_bad_literal(vtype, str,
							   psprintf("Field \"%.*s\" is unknown; a state has \"key\", \"kind\" and \"value\".",
										name.val.string.len, name.val.string.val));
	}

	if (!have_kind || kind_field.type != jbvString ||
		!argmax_key_kind_from_name(kind_field.val.string.val,
								   kind_field.val.string.len, &kind))
		report_bad_literal(vtype, str,
						   "Field \"kind\" must be \"timestamptz\", \"timestamp\" or \"bigint\".");
	if (have_key != have_value)
		report_bad_literal(vtype, str,
						   "A state has both \"key\" and \"value\", or neither when it saw no row.");
	if (!have_key)
		return argmax_state_from_value(vtype, kind, false, 0, NULL, 0, true);

	key = literal_key(vtype, str, kind, &key_field);
	switch (vtype)
	{
		case ARGMAX_VALUE_TEXT:
			if (value_field.type != jbvString)
				report_bad_literal(vtype, str, "The value of an argmax_text state is a JSON string.");
			value = value_field.val.string.val;
			len = value_field.val.string.len;
			break;
		case ARGMAX_VALUE_BOOL:
			if (value_field.type != jbvBool)
				report_bad_literal(vtype, str, "The value of an argmax_bool state is true or false.");
			flag = value_field.val.boolean ? 1 : 0;
			value = &flag;
			len = 1;
			break;
		case ARGMAX_VALUE_JSONB:
			jb = JsonbValueToJsonb(&value_field);
			value = VARDATA(jb);
			len = VARSIZE(jb) - VARHDRSZ;
			break;
	}
	return argmax_state_from_value(vtype, kind, true, key, value, len, true);
}

PG_FUNCTION_INFO_V1(argmax_text_in);

Datum
argmax_text_in(PG_FUNCTION_ARGS)
{
	PG_RETURN_POINTER(parse_literal(PG_GETARG_CSTRING(0), ARGMAX_VALUE_TEXT));
}

PG_FUNCTION_INFO_V1(argmax_bool_in);

Datum
argmax_bool_in(PG_FUNCTION_ARGS)
{
	PG_RETURN_POINTER(parse_literal(PG_GETARG_CSTRING(0), ARGMAX_VALUE_BOOL));
}

PG_FUNCTION_INFO_V1(argmax_jsonb_in);

Datum
argmax_jsonb_in(PG_FUNCTION_ARGS)
{
	PG_RETURN_POINTER(parse_literal(PG_GETARG_CSTRING(0), ARGMAX_VALUE_JSONB));
}

/* Append the JSON form of the value of a state that holds one. */
static void
append_value(StringInfo buf, const ArgMaxHeader *hdr, const char *payload)
{
	char	   *text;
	Jsonb	   *jb;

	switch ((ArgMaxValueType) hdr->vtype)
	{
		case ARGMAX_VALUE_TEXT:
			text = palloc(hdr->rawlen + 1);
			argmax_value_extract(hdr, payload, text);
			text[hdr->rawlen] = '\0';
			escape_json(buf, text);
			pfree(text);
			break;
		case ARGMAX_VALUE_BOOL:
			appendStringInfoString(buf, argmax_value_as_bool(hdr, payload) ? "true" : "false");
			break;
		case ARGMAX_VALUE_JSONB:
			jb = (Jsonb *) argmax_value_as_varlena(hdr, payload);
			JsonbToCString(buf, &jb->root, VARSIZE(jb));
			pfree(jb);
			break;
	}
}

PG_FUNCTION_INFO_V1(argmax_out);

/* Output function of all three state types. */
Datum
argmax_out(PG_FUNCTION_ARGS)
{
	struct varlena *state = PG_DETOAST_DATUM_PACKED(PG_GETARG_DATUM(0));
	ArgMaxHeader hdr;
	const char *payload = argmax_state_open(state, &hdr);
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '{');
	if (hdr.flags & ARGMAX_HAS_VALUE)
	{
		bool		quote = hdr.kind != ARGMAX_KEY_BIGINT;

		appendStringInfoString(&buf, quote ? "\"key\": \"" : "\"key\": ");
		argmax_key_append(&buf, hdr.kind, hdr.key);
		appendStringInfoString(&buf, quote ? "\", " : ", ");
	}
	appendStringInfo(&buf, "\"kind\": \"%s\"", argmax_key_kind_name(hdr.kind));
	if (hdr.flags & ARGMAX_HAS_VALUE)
	{
		appendStringInfoString(&buf, ", \"value\": ");
		append_value(&buf, &hdr, payload);
	}
	appendStringInfoChar(&buf, '}');
	PG_RETURN_CSTRING(buf.data);
}

PG_FUNCTION_INFO_V1(argmax_send);

/* Send function of all three state types. */
Datum
argmax_send(PG_FUNCTION_ARGS)
{
	struct varlena *state = PG_DETOAST_DATUM_PACKED(PG_GETARG_DATUM(0));
	ArgMaxHeader hdr;
	const char *payload = argmax_state_open(state, &hdr);
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendbyte(&buf, hdr.vtype);
	pq_sendbyte(&buf, hdr.kind);
	pq_sendbyte(&buf, hdr.flags | ARGMAX_VERSIONED);
	pq_sendbyte(&buf, ARGMAX_LAYOUT_VERSION);
	pq_sendint64(&buf, hdr.key);
	if (hdr.flags & ARGMAX_HAS_VALUE)
	{
		if (hdr.vtype == ARGMAX_VALUE_JSONB)
		{
			Datum		jb = PointerGetDatum(argmax_value_as_varlena(&hdr, payload));
			bytea	   *wire = DatumGetByteaPP(DirectFunctionCall1(jsonb_send, jb));

			payload = VARDATA_ANY(wire);
			hdr.rawlen = hdr.payload_len = VARSIZE_ANY_EXHDR(wire);
		}
		else if (hdr.vtype == ARGMAX_VALUE_BOOL)
			argmax_value_as_bool(&hdr, payload);
		pq_sendint32(&buf, hdr.rawlen);
		pq_sendint32(&buf, hdr.payload_len);
		pq_sendbytes(&buf, payload, hdr.payload_len);
	}
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

pg_noreturn static void
report_bad_binary(ArgMaxValueType vtype, const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
			 errmsg("invalid binary %s state", argmax_type_name(vtype)),
			 errdetail_internal("%s", detail)));
}

/*
 * Check a received text value: a frame must declare the recorded length
 * (checked before that much is allocated) and decompress to it, and the
 * text must be valid in the database encoding.
 */
static void
check_received_text(const ArgMaxHeader *hdr, const char *payload)
{
	const char *text = payload;
	char	   *unpacked = NULL;

	if (hdr->flags & ARGMAX_COMPRESSED)
	{
		argmax_zstd_check_frame(payload, hdr->payload_len, hdr->rawlen,
								ERRCODE_INVALID_BINARY_REPRESENTATION);
		unpacked = palloc(hdr->rawlen);
		argmax_zstd_decompress(payload, hdr->payload_len, unpacked, hdr->rawlen);
		text = unpacked;
	}
	pg_verify_mbstr(GetDatabaseEncoding(), text, hdr->rawlen, false);
	if (unpacked)
		pfree(unpacked);
}

/* Parse the binary form of a state of value type vtype. */
static struct varlena *
receive_state(StringInfo buf, ArgMaxValueType vtype)
{
	ArgMaxHeader hdr;
	const char *payload = NULL;

	hdr.vtype = (uint8) pq_getmsgbyte(buf);
	hdr.kind = (uint8) pq_getmsgbyte(buf);
	hdr.flags = (uint8) pq_getmsgbyte(buf);
	if (hdr.flags & ARGMAX_VERSIONED)
	{
		uint8		version = (uint8) pq_getmsgbyte(buf);

		if (version != ARGMAX_LAYOUT_VERSION)
			report_bad_binary(vtype, psprintf("The layout version is %u; this version of trace_agg reads layout versions 0 and %d.",
											  version, ARGMAX_LAYOUT_VERSION));
		hdr.flags &= ~ARGMAX_VERSIONED;
	}
	/* whatever layout it came in, the state is built in the current one */
	hdr.version = ARGMAX_LAYOUT_VERSION;
	hdr.key = pq_getmsgint64(buf);
	hdr.rawlen = 0;
	hdr.payload_len = 0;
	if (hdr.vtype != vtype)
		report_bad_binary(vtype, psprintf("The value type byte is %u, not %d.",
										  hdr.vtype, (int) vtype));
	if (hdr.flags & ARGMAX_HAS_VALUE)
	{
		hdr.rawlen = pq_getmsgint(buf, 4);
		hdr.payload_len = pq_getmsgint(buf, 4);
		if (hdr.payload_len > (uint32) (buf->len - buf->cursor))
			report_bad_binary(vtype, psprintf("The payload length %u exceeds the %d bytes left.",
											  hdr.payload_len, buf->len - buf->cursor));
		payload = pq_getmsgbytes(buf, (int) hdr.payload_len);
	}
	pq_getmsgend(buf);

	if (vtype == ARGMAX_VALUE_JSONB && (hdr.flags & ARGMAX_HAS_VALUE))
	{
		StringInfoData wire;
		Jsonb	   *jb;

		if (hdr.rawlen != hdr.payload_len || (hdr.flags & ARGMAX_COMPRESSED))
			report_bad_binary(vtype, "A jsonb value travels uncompressed.");
		initStringInfo(&wire);
		appendBinaryStringInfo(&wire, payload, hdr.payload_len);
		jb = DatumGetJsonbP(DirectFunctionCall1(jsonb_recv, PointerGetDatum(&wire)));
		payload = VARDATA(jb);
		hdr.rawlen = hdr.payload_len = VARSIZE(jb) - VARHDRSZ;
	}

	argmax_header_check(&hdr, ERRCODE_INVALID_BINARY_REPRESENTATION);
	if (vtype == ARGMAX_VALUE_TEXT && (hdr.flags & ARGMAX_HAS_VALUE))
		check_received_text(&hdr, payload);
	if (vtype == ARGMAX_VALUE_BOOL && (hdr.flags & ARGMAX_HAS_VALUE) &&
		payload[0] != 0 && payload[0] != 1)
		report_bad_binary(vtype, psprintf("The value byte is %d, not 0 or 1.",
										  (int) (unsigned char) payload[0]));
	return argmax_state_assemble(&hdr, payload);
}

PG_FUNCTION_INFO_V1(argmax_text_recv);

Datum
argmax_text_recv(PG_FUNCTION_ARGS)
{
	PG_RETURN_POINTER(receive_state((StringInfo) PG_GETARG_POINTER(0),
									ARGMAX_VALUE_TEXT));
}

PG_FUNCTION_INFO_V1(argmax_bool_recv);

Datum
argmax_bool_recv(PG_FUNCTION_ARGS)
{
	PG_RETURN_POINTER(receive_state((StringInfo) PG_GETARG_POINTER(0),
									ARGMAX_VALUE_BOOL));
}

PG_FUNCTION_INFO_V1(argmax_jsonb_recv);

Datum
argmax_jsonb_recv(PG_FUNCTION_ARGS)
{
	PG_RETURN_POINTER(receive_state((StringInfo) PG_GETARG_POINTER(0),
									ARGMAX_VALUE_JSONB));
}
