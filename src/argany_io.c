/*
 * argany_io.c
 *		Text and binary forms of the generic argmax/argmin states.
 *
 * Both forms name the key and value types by their qualified names, never
 * by OID, so that pg_dump and COPY carry a state into another database,
 * where the same types have other OIDs.  The text form is a JSON object:
 *
 *	{"rule": "argmax_last", "key_type": "timestamp with time zone",
 *	 "value_type": "numeric", "key": "2025-07-01 10:00:00+00", "value": "1.5"}
 *
 * with the key and value in their types' text forms ("key" and "value" left
 * out for a state that saw no row, "value" null for a cleared value).  The
 * binary form is the layout version, the flags, the two type names, then
 * the key and the value in their types' binary forms, each after its length.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "lib/stringinfo.h"
#include "libpq/pqformat.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"

#include "argany.h"

static char *
type_name(Oid typid)
{
	return format_type_extended(typid, -1, FORMAT_TYPE_FORCE_QUALIFY);
}

static Oid
type_from_name(const char *name)
{
	Oid			typid = getBaseType(DatumGetObjectId(DirectFunctionCall1(regtypein,
																		 CStringGetDatum(name))));

	argany_check_storable(typid);
	return typid;
}

static const char *
state_type_name(bool is_min)
{
	return is_min ? "trace_agg.argmin_any" : "trace_agg.argmax_any";
}

static void
report_bad_literal(bool is_min, const char *str, const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
			 errmsg("invalid input syntax for type %s: \"%s\"", state_type_name(is_min), str),
			 errdetail("%s", detail)));
}

static uint8
rule_from_name(bool is_min, const char *str, const char *name)
{
	if (is_min)
	{
		if (strcmp(name, "argmin") == 0)
			return ARGANY_MIN;
		report_bad_literal(is_min, str, "The rule of an argmin_any state is \"argmin\".");
	}
	if (strcmp(name, "argmax") == 0)
		return 0;
	if (strcmp(name, "argmax_last") == 0)
		return ARGANY_TIES_LAST;
	if (strcmp(name, "last_set") == 0)
		return ARGANY_TIES_LAST | ARGANY_NULLS;
	report_bad_literal(is_min, str,
					   "The rule of an argmax_any state is \"argmax\", \"argmax_last\" or \"last_set\".");
	return 0;					/* keep compiler quiet */
}

/* A string field of the object, NULL if absent; *is_null for JSON null. */
static char *
json_field(Jsonb *doc, const char *field, bool *is_null, bool is_min, const char *str)
{
	JsonbValue *v = getKeyJsonValueFromContainer(&doc->root, field, strlen(field), NULL);

	*is_null = false;
	if (v == NULL)
		return NULL;
	if (v->type == jbvNull)
	{
		*is_null = true;
		return NULL;
	}
	if (v->type != jbvString)
		report_bad_literal(is_min, str,
						   psprintf("Field \"%s\" must be a string.", field));
	return pnstrdup(v->val.string.val, v->val.string.len);
}

static Datum
state_in(const char *str, bool is_min)
{
	Jsonb	   *doc = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(str)));
	bool		is_null;
	char	   *rule_s;
	char	   *key_type_s;
	char	   *value_type_s;
	char	   *key_s;
	char	   *value_s;
	bool		value_is_null;
	uint8		flags;
	Oid			keytype;
	Oid			valtype;
	ArgAnyType kt;
	ArgAnyType vt;
	Datum		key = (Datum) 0;
	Datum		value = (Datum) 0;
	Oid			func;
	Oid			ioparam;

	if (!JB_ROOT_IS_OBJECT(doc) || JB_ROOT_IS_SCALAR(doc))
		report_bad_literal(is_min, str, "The text form of a state is a JSON object.");
	if (JB_ROOT_COUNT(doc) > 5)
		report_bad_literal(is_min, str,
						   "A state has the fields \"rule\", \"key_type\", \"value_type\", \"key\" and \"value\", no others.");
	rule_s = json_field(doc, "rule", &is_null, is_min, str);
	key_type_s = json_field(doc, "key_type", &is_null, is_min, str);
	value_type_s = json_field(doc, "value_type", &is_null, is_min, str);
	if (rule_s == NULL || key_type_s == NULL || value_type_s == NULL)
		report_bad_literal(is_min, str,
						   "A state names its \"rule\", \"key_type\" and \"value_type\".");
	key_s = json_field(doc, "key", &is_null, is_min, str);
	if (is_null)
		report_bad_literal(is_min, str, "The key of a state is never null.");
	value_s = json_field(doc, "value", &value_is_null, is_min, str);
	flags = rule_from_name(is_min, str, rule_s);
	keytype = type_from_name(key_type_s);
	valtype = type_from_name(value_type_s);
	argany_type_init(&kt, keytype, true, CurrentMemoryContext);
	argany_type_init(&vt, valtype, false, CurrentMemoryContext);

	if (key_s == NULL)
	{
		if (value_s != NULL || value_is_null)
			report_bad_literal(is_min, str, "A state without a key has no value.");
	}
	else
	{
		if (value_s == NULL && !value_is_null)
			report_bad_literal(is_min, str, "A state with a key has a value.");
		if (value_is_null && !(flags & ARGANY_NULLS))
			report_bad_literal(is_min, str, "Only a last_set state has a null value.");
		flags |= ARGANY_HAS_ROW;
		getTypeInputInfo(keytype, &func, &ioparam);
		key = argany_flatten(&kt, OidInputFunctionCall(func, key_s, ioparam, -1));
		if (!value_is_null)
		{
			getTypeInputInfo(valtype, &func, &ioparam);
			value = argany_flatten(&vt, OidInputFunctionCall(func, value_s, ioparam, -1));
		}
	}
	return PointerGetDatum(argany_build(flags, keytype, valtype, &kt, key, &vt,
										value, value_is_null));
}

PG_FUNCTION_INFO_V1(argmax_any_in);
Datum
argmax_any_in(PG_FUNCTION_ARGS)
{
	return state_in(PG_GETARG_CSTRING(0), false);
}

PG_FUNCTION_INFO_V1(argmin_any_in);
Datum
argmin_any_in(PG_FUNCTION_ARGS)
{
	return state_in(PG_GETARG_CSTRING(0), true);
}

static void
append_json_field(StringInfo buf, const char *name, const char *value)
{
	appendStringInfo(buf, ", \"%s\": ", name);
	if (value == NULL)
		appendStringInfoString(buf, "null");
	else
		escape_json(buf, value);
}

PG_FUNCTION_INFO_V1(argany_out);
Datum
argany_out(PG_FUNCTION_ARGS)
{
	ArgAnyFixed *s = (ArgAnyFixed *) PG_DETOAST_DATUM(PG_GETARG_DATUM(0));
	ArgAnyTypes *t;
	StringInfoData buf;
	Oid			func;
	bool		isvarlena;

	argany_check_whole(s);
	t = argany_cached_types(fcinfo->flinfo, s->keytype, s->valtype);
	initStringInfo(&buf);
	appendStringInfoString(&buf, "{\"rule\": ");
	escape_json(&buf, argany_rule_name(s->flags));
	append_json_field(&buf, "key_type", type_name(s->keytype));
	append_json_field(&buf, "value_type", type_name(s->valtype));
	if (s->flags & ARGANY_HAS_ROW)
	{
		getTypeOutputInfo(s->keytype, &func, &isvarlena);
		append_json_field(&buf, "key",
						  OidOutputFunctionCall(func, argany_fetch(&t->key, ARGANY_KEY_PTR(s))));
		if (s->flags & ARGANY_VALUE_NULL)
			append_json_field(&buf, "value", NULL);
		else
		{
			getTypeOutputInfo(s->valtype, &func, &isvarlena);
			append_json_field(&buf, "value",
							  OidOutputFunctionCall(func, argany_fetch(&t->val, ARGANY_VAL_PTR(s))));
		}
	}
	appendStringInfoChar(&buf, '}');
	PG_RETURN_CSTRING(buf.data);
}

static void
send_datum(StringInfo buf, Oid typid, Datum d)
{
	Oid			func;
	bool		isvarlena;
	bytea	   *b;

	getTypeBinaryOutputInfo(typid, &func, &isvarlena);
	b = OidSendFunctionCall(func, d);
	pq_sendint32(buf, VARSIZE(b) - VARHDRSZ);
	pq_sendbytes(buf, VARDATA(b), VARSIZE(b) - VARHDRSZ);
}

PG_FUNCTION_INFO_V1(argany_send);
Datum
argany_send(PG_FUNCTION_ARGS)
{
	ArgAnyFixed *s = (ArgAnyFixed *) PG_DETOAST_DATUM(PG_GETARG_DATUM(0));
	ArgAnyTypes *t;
	StringInfoData buf;

	argany_check_whole(s);
	t = argany_cached_types(fcinfo->flinfo, s->keytype, s->valtype);
	pq_begintypsend(&buf);
	pq_sendbyte(&buf, ARGANY_LAYOUT_VERSION);
	pq_sendbyte(&buf, s->flags);
	pq_sendstring(&buf, type_name(s->keytype));
	pq_sendstring(&buf, type_name(s->valtype));
	if (s->flags & ARGANY_HAS_ROW)
	{
		send_datum(&buf, s->keytype, argany_fetch(&t->key, ARGANY_KEY_PTR(s)));
		if (!(s->flags & ARGANY_VALUE_NULL))
			send_datum(&buf, s->valtype, argany_fetch(&t->val, ARGANY_VAL_PTR(s)));
	}
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

static Datum
recv_datum(StringInfo msg, Oid typid, const ArgAnyType *t)
{
	int			len = pq_getmsgint(msg, 4);
	StringInfoData b;
	Oid			func;
	Oid			ioparam;
	Datum		d;

	if (len < 0 || len > msg->len - msg->cursor)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("insufficient data left in message")));
	initStringInfo(&b);
	appendBinaryStringInfo(&b, pq_getmsgbytes(msg, len), len);
	getTypeBinaryInputInfo(typid, &func, &ioparam);
	d = OidReceiveFunctionCall(func, &b, ioparam, -1);
	if (b.cursor != b.len)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("incorrect binary data format in argmax or argmin state")));
	return argany_flatten(t, d);
}

static Datum
state_recv(StringInfo msg, bool is_min)
{
	uint8		version = (uint8) pq_getmsgbyte(msg);
	uint8		flags = (uint8) pq_getmsgbyte(msg);
	Oid			keytype;
	Oid			valtype;
	ArgAnyType kt;
	ArgAnyType vt;
	Datum		key = (Datum) 0;
	Datum		value = (Datum) 0;
	bool		value_null = (flags & ARGANY_VALUE_NULL) != 0;

	if (version != ARGANY_LAYOUT_VERSION)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("argmax or argmin state has layout version %u, which this trace_agg does not know",
						version)));
	if ((flags & ~ARGANY_KNOWN_FLAGS) != 0 || argany_rule_name(flags) == NULL ||
		((flags & ARGANY_MIN) != 0) != is_min ||
		(value_null && !((flags & ARGANY_NULLS) && (flags & ARGANY_HAS_ROW))))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid flags 0x%02x in binary %s state", flags, state_type_name(is_min))));
	keytype = type_from_name(pq_getmsgstring(msg));
	valtype = type_from_name(pq_getmsgstring(msg));
	argany_type_init(&kt, keytype, true, CurrentMemoryContext);
	argany_type_init(&vt, valtype, false, CurrentMemoryContext);
	if (flags & ARGANY_HAS_ROW)
	{
		key = recv_datum(msg, keytype, &kt);
		if (!value_null)
			value = recv_datum(msg, valtype, &vt);
	}
	pq_getmsgend(msg);
	return PointerGetDatum(argany_build(flags & ~ARGANY_VALUE_NULL, keytype, valtype,
										&kt, key, &vt, value, value_null));
}

PG_FUNCTION_INFO_V1(argmax_any_recv);
Datum
argmax_any_recv(PG_FUNCTION_ARGS)
{
	return state_recv((StringInfo) PG_GETARG_POINTER(0), false);
}

PG_FUNCTION_INFO_V1(argmin_any_recv);
Datum
argmin_any_recv(PG_FUNCTION_ARGS)
{
	return state_recv((StringInfo) PG_GETARG_POINTER(0), true);
}
