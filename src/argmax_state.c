/*
 * argmax_state.c
 *		Building argmax states and reading them back, checked.
 *
 * The layouts are described in argmax.h: states are written in the current
 * one and read in any released one.  Every reader goes through
 * argmax_header_check, so that a damaged or forged state is reported as
 * corrupted data before any length in it is trusted.
 */
#include "postgres.h"

#include "access/detoast.h"
#include "utils/memutils.h"

#include "argmax.h"

const char *
argmax_type_name(ArgMaxValueType vtype)
{
	switch (vtype)
	{
		case ARGMAX_VALUE_TEXT:
			return "argmax_text";
		case ARGMAX_VALUE_BOOL:
			return "argmax_bool";
		case ARGMAX_VALUE_JSONB:
			return "argmax_jsonb";
	}
	return "argmax";
}

/*
 * Write the fixed part in the current layout, whatever layout hdr was read
 * from; the key is copied bytewise as it may be unaligned.
 */
static void
header_pack(const ArgMaxHeader *hdr, char *dst)
{
	memcpy(dst, &hdr->rawlen, sizeof(uint32));
	memcpy(dst + 4, &hdr->key, sizeof(int64));
	dst[12] = (char) hdr->vtype;
	dst[13] = (char) hdr->kind;
	dst[14] = (char) (hdr->flags | ARGMAX_VERSIONED);
	dst[15] = (char) ARGMAX_LAYOUT_VERSION;
}

/* Bytes of the fixed part in the layout hdr was read from. */
static Size
header_size(const ArgMaxHeader *hdr)
{
	return hdr->version == 0 ? ARGMAX_HEADER_SIZE_V0 : ARGMAX_HEADER_SIZE;
}

/*
 * Read the fixed part from src, in whichever layout it is; datalen counts
 * the bytes after the varlena header and is at least ARGMAX_HEADER_SIZE_V0.
 */
static void
header_unpack(const char *src, Size datalen, ArgMaxHeader *hdr)
{
	uint8		flags = (uint8) src[14];

	hdr->version = 0;
	if (flags & ARGMAX_VERSIONED)
	{
		if (datalen < ARGMAX_HEADER_SIZE)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("invalid argmax state of %zu data bytes", datalen),
					 errdetail("A state of a versioned layout has a fixed part of %d bytes.",
							   ARGMAX_HEADER_SIZE)));
		hdr->version = (uint8) src[15];
		if (hdr->version != ARGMAX_LAYOUT_VERSION)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("argmax state of unknown layout version %u", hdr->version),
					 errdetail("This version of trace_agg reads layout versions 0 and %d.",
							   ARGMAX_LAYOUT_VERSION),
					 errhint("A state of a later layout was written by a later version of trace_agg.")));
	}
	memcpy(&hdr->rawlen, src, sizeof(uint32));
	memcpy(&hdr->key, src + 4, sizeof(int64));
	hdr->vtype = (uint8) src[12];
	hdr->kind = (uint8) src[13];
	hdr->flags = flags & ~ARGMAX_VERSIONED;
	hdr->payload_len = (uint32) (datalen - header_size(hdr));
}

/*
 * A state in the current layout from its header and payload
 * (hdr->payload_len bytes), both already checked by the caller.
 */
struct varlena *
argmax_state_assemble(const ArgMaxHeader *hdr, const char *payload)
{
	Size		size = VARHDRSZ + ARGMAX_HEADER_SIZE + hdr->payload_len;
	struct varlena *state = (struct varlena *) palloc(size);

	SET_VARSIZE(state, size);
	header_pack(hdr, VARDATA(state));
	if (hdr->payload_len > 0)
		memcpy(VARDATA(state) + ARGMAX_HEADER_SIZE, payload, hdr->payload_len);
	return state;
}

/*
 * A state holding value (len bytes) under key, or an empty state when
 * has_value is false.  With compress, a text value long enough is stored as
 * a zstd frame if that is shorter than the text itself.
 */
struct varlena *
argmax_state_from_value(ArgMaxValueType vtype, ArgMaxKeyKind kind,
						bool has_value, int64 key,
						const char *value, uint32 len, bool compress)
{
	ArgMaxHeader hdr;
	struct varlena *state;
	char	   *payload;
	size_t		packed = 0;

	if (!has_value)
		len = 0;
	if (len > ARGMAX_MAX_VALUE_LEN)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("value of %u bytes is too long for an %s state",
						len, argmax_type_name(vtype))));

	hdr.key = has_value ? key : 0;
	hdr.rawlen = len;
	hdr.payload_len = len;
	hdr.vtype = vtype;
	hdr.kind = kind;
	hdr.flags = has_value ? ARGMAX_HAS_VALUE : 0;
	hdr.version = ARGMAX_LAYOUT_VERSION;

	/* room for the raw value; a frame is kept only if it needs less */
	state = (struct varlena *) palloc(VARHDRSZ + ARGMAX_HEADER_SIZE + len);
	payload = VARDATA(state) + ARGMAX_HEADER_SIZE;
	if (compress && vtype == ARGMAX_VALUE_TEXT && len >= ARGMAX_COMPRESS_MIN)
		packed = argmax_zstd_compress(value, len, payload, len - 1);
	if (packed > 0)
	{
		hdr.flags |= ARGMAX_COMPRESSED;
		hdr.payload_len = (uint32) packed;
	}
	else if (len > 0)
		memcpy(payload, value, len);

	SET_VARSIZE(state, VARHDRSZ + ARGMAX_HEADER_SIZE + hdr.payload_len);
	header_pack(&hdr, VARDATA(state));
	/* give back the room the raw value would have needed */
	if (packed > 0)
		state = repalloc(state, VARSIZE(state));
	return state;
}

/*
 * Report, with sqlerrcode, a header that does not describe a well-formed
 * state: a damaged stored state, or garbage offered to receive.  The payload
 * itself is checked where it is read.
 */
void
argmax_header_check(const ArgMaxHeader *hdr, int sqlerrcode)
{
	const char *name = argmax_type_name(hdr->vtype);

	if (hdr->vtype < ARGMAX_VALUE_TEXT || hdr->vtype > ARGMAX_VALUE_JSONB)
		ereport(ERROR,
				(errcode(sqlerrcode),
				 errmsg("invalid argmax state: unknown value type %u",
						hdr->vtype)));
	if (hdr->kind < ARGMAX_KEY_TIMESTAMPTZ || hdr->kind > ARGMAX_KEY_BIGINT)
		ereport(ERROR,
				(errcode(sqlerrcode),
				 errmsg("invalid %s state: unknown key kind %u",
						name, hdr->kind)));
	if ((hdr->flags & ~(ARGMAX_HAS_VALUE | ARGMAX_COMPRESSED)) != 0)
		ereport(ERROR,
				(errcode(sqlerrcode),
				 errmsg("invalid %s state: unknown flags 0x%02x",
						name, hdr->flags)));

	if (!(hdr->flags & ARGMAX_HAS_VALUE))
	{
		if (hdr->flags != 0 || hdr->key != 0 || hdr->rawlen != 0 ||
			hdr->payload_len != 0)
			ereport(ERROR,
					(errcode(sqlerrcode),
					 errmsg("invalid %s state: empty state carries data",
							name),
					 errdetail("An empty state has no flags, a zero key and no payload.")));
		return;
	}

	if (!argmax_key_is_valid(hdr->kind, hdr->key))
		ereport(ERROR,
				(errcode(sqlerrcode),
				 errmsg("invalid %s state: key " INT64_FORMAT " is out of range for %s",
						name, hdr->key, argmax_key_kind_name(hdr->kind))));

	if (hdr->flags & ARGMAX_COMPRESSED)
	{
		if (hdr->vtype != ARGMAX_VALUE_TEXT || hdr->payload_len == 0 ||
			hdr->payload_len >= hdr->rawlen ||
			hdr->rawlen > MaxAllocSize - VARHDRSZ - header_size(hdr))
			ereport(ERROR,
					(errcode(sqlerrcode),
					 errmsg("invalid %s state: compressed payload of %u bytes for a value of %u bytes",
							name, hdr->payload_len, hdr->rawlen),
					 errdetail("Only argmax_text compresses, and only when the frame is shorter than the value.")));
		return;
	}

	if (hdr->payload_len != hdr->rawlen)
		ereport(ERROR,
				(errcode(sqlerrcode),
				 errmsg("invalid %s state: payload of %u bytes for a value of %u bytes",
						name, hdr->payload_len, hdr->rawlen)));
	if ((hdr->vtype == ARGMAX_VALUE_BOOL && hdr->rawlen != 1) ||
		(hdr->vtype == ARGMAX_VALUE_JSONB && hdr->rawlen < sizeof(uint32)))
		ereport(ERROR,
				(errcode(sqlerrcode),
				 errmsg("invalid %s state: value of %u bytes is too short",
						name, hdr->rawlen)));
}

/* Report a state whose value type is not the one its SQL type promises. */
void
argmax_header_expect(const ArgMaxHeader *hdr, ArgMaxValueType vtype)
{
	if (hdr->vtype != vtype)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("invalid %s state: it holds an %s state",
						argmax_type_name(vtype), argmax_type_name(hdr->vtype))));
}

/* Report a varlena too short to hold the fixed part of any layout. */
static void
check_length(Size datalen)
{
	if (datalen < ARGMAX_HEADER_SIZE_V0 || datalen - ARGMAX_HEADER_SIZE_V0 > PG_UINT32_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("invalid argmax state of %zu data bytes", datalen),
				 errdetail("A state has a fixed part of at least %d bytes.",
						   ARGMAX_HEADER_SIZE_V0)));
}

/*
 * Unpack and check the fixed part of state, reading no more of it than
 * needed: a TOASTed state is fetched by a slice as long as the longest fixed
 * part, its payload left alone.
 */
void
argmax_header_fetch(Datum state, ArgMaxHeader *hdr)
{
	struct varlena *raw = (struct varlena *) DatumGetPointer(state);
	Size		datalen = toast_raw_datum_size(state) - VARHDRSZ;

	check_length(datalen);
	if (VARATT_IS_EXTERNAL(raw) || VARATT_IS_COMPRESSED(raw))
	{
		struct varlena *slice = PG_DETOAST_DATUM_SLICE(state, 0,
													   ARGMAX_HEADER_SIZE);

		header_unpack(VARDATA_ANY(slice), datalen, hdr);
		pfree(slice);
	}
	else
		header_unpack(VARDATA_ANY(raw), datalen, hdr);
	argmax_header_check(hdr, ERRCODE_DATA_CORRUPTED);
}

/*
 * Unpack and check the header of a state already in memory and not
 * compressed (a short header is fine); returns where its payload starts.
 * A zstd frame's own header is checked too, so that whoever allocates
 * rawlen bytes next knows the frame declares that many.
 */
const char *
argmax_state_open(struct varlena *state, ArgMaxHeader *hdr)
{
	Size		datalen = VARSIZE_ANY_EXHDR(state);
	const char *payload;

	Assert(!VARATT_IS_EXTENDED(state) || VARATT_IS_SHORT(state));
	check_length(datalen);
	header_unpack(VARDATA_ANY(state), datalen, hdr);
	argmax_header_check(hdr, ERRCODE_DATA_CORRUPTED);
	payload = VARDATA_ANY(state) + header_size(hdr);
	if (hdr->flags & ARGMAX_COMPRESSED)
		argmax_zstd_check_frame(payload, hdr->payload_len, hdr->rawlen,
								ERRCODE_DATA_CORRUPTED);
	return payload;
}

/* Write the hdr->rawlen bytes of the value into dst, decompressing it if needed. */
void
argmax_value_extract(const ArgMaxHeader *hdr, const char *payload, char *dst)
{
	if (hdr->flags & ARGMAX_COMPRESSED)
		argmax_zstd_decompress(payload, hdr->payload_len, dst, hdr->rawlen);
	else if (hdr->rawlen > 0)
		memcpy(dst, payload, hdr->rawlen);
}

/* The value of a text or jsonb state as a new datum of that type. */
struct varlena *
argmax_value_as_varlena(const ArgMaxHeader *hdr, const char *payload)
{
	struct varlena *result = (struct varlena *) palloc(VARHDRSZ + hdr->rawlen);

	SET_VARSIZE(result, VARHDRSZ + hdr->rawlen);
	argmax_value_extract(hdr, payload, VARDATA(result));
	return result;
}

/* The value of a boolean state, whose one byte must be 0 or 1. */
bool
argmax_value_as_bool(const ArgMaxHeader *hdr, const char *payload)
{
	if (payload[0] != 0 && payload[0] != 1)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("invalid argmax_bool state: value byte %d",
						(int) (unsigned char) payload[0]),
				 errdetail("A boolean value is stored as 0 or 1.")));
	return payload[0] == 1;
}

/* Report two states that cannot be merged: of other values or other keys. */
void
argmax_check_compatible(const ArgMaxHeader *first, const ArgMaxHeader *second)
{
	if (first->vtype != second->vtype)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("cannot merge an %s state with an %s state",
						argmax_type_name(first->vtype),
						argmax_type_name(second->vtype))));
	if (first->kind != second->kind)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("cannot merge %s states with different key kinds",
						argmax_type_name(first->vtype)),
				 errdetail("The first state is ordered by %s, the second by %s.",
						   argmax_key_kind_name(first->kind),
						   argmax_key_kind_name(second->kind))));
}

/*
 * Whether challenger replaces incumbent in a merge: only by holding a value
 * under a strictly greater key, so that on a tie the earlier state stays, as
 * in ClickHouse.
 */
bool
argmax_header_beats(const ArgMaxHeader *challenger, const ArgMaxHeader *incumbent)
{
	if (!(challenger->flags & ARGMAX_HAS_VALUE))
		return false;
	if (!(incumbent->flags & ARGMAX_HAS_VALUE))
		return true;
	return challenger->key > incumbent->key;
}
