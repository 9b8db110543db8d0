/*
 * argmax.h
 *		The argmax state types (argmax_text, argmax_bool, argmax_jsonb):
 *		their varlena layout and the routines the argmax files share.
 *
 * A state is what ClickHouse calls an argMax aggregate state: the value of
 * the row with the greatest key seen so far, together with that key.  On
 * disk and in memory it is one varlena, in layout version 1 (written since
 * trace_agg 0.2):
 *
 *		varlena header	4 bytes (1 when stored short)
 *		uint32 rawlen	length of the value before compression
 *		int64  key		ordering key of the winning row
 *		uint8  vtype	ArgMaxValueType: what the value is
 *		uint8  kind		ArgMaxKeyKind: what the key is
 *		uint8  flags	ARGMAX_HAS_VALUE, ARGMAX_COMPRESSED, and always
 *						ARGMAX_VERSIONED
 *		uint8  version	ARGMAX_LAYOUT_VERSION
 *		payload			the value: a string's bytes (a zstd frame when
 *						compressed), one byte 0 or 1 for a boolean, or a
 *						jsonb datum's body
 *
 * Numbers are in the machine's byte order.  trace_agg 0.1 wrote layout 0,
 * the same without the version byte and without ARGMAX_VERSIONED; such
 * states stay on disk and are read as they are, forever (merge hands them on
 * unchanged, so a table may mix both layouts).  0.1 refused any flag it did
 * not know, so ARGMAX_VERSIONED in the byte at offset 14 tells the layouts
 * apart, and from version 1 on the byte at offset 15 names the layout: a
 * later version may arrange every other byte anew (a key of any type, for
 * instance), as long as those two bytes stay where they are.  A reader
 * refuses a version it does not know rather than guess.
 *
 * The fixed part comes first so that merging two states can fetch just
 * that much with a slice detoast and leave a large payload on disk.  A state
 * that saw no row has neither value flag, and a zero key and rawlen.
 */
#ifndef ARGMAX_H
#define ARGMAX_H

#include "fmgr.h"
#include "lib/stringinfo.h"

#include "compat.h"

typedef enum ArgMaxValueType
{
	ARGMAX_VALUE_TEXT = 1,
	ARGMAX_VALUE_BOOL = 2,
	ARGMAX_VALUE_JSONB = 3
} ArgMaxValueType;

typedef enum ArgMaxKeyKind
{
	ARGMAX_KEY_TIMESTAMPTZ = 1,
	ARGMAX_KEY_TIMESTAMP = 2,
	ARGMAX_KEY_BIGINT = 3
} ArgMaxKeyKind;

#define ARGMAX_HAS_VALUE	0x01
#define ARGMAX_COMPRESSED	0x02
/* a layout version byte follows the flags; never set in layout 0 */
#define ARGMAX_VERSIONED	0x80

/* the layout this code writes, on disk and in the binary form */
#define ARGMAX_LAYOUT_VERSION	1

/* bytes of the fixed part after the varlena header, in layout 1 and 0 */
#define ARGMAX_HEADER_SIZE	16
#define ARGMAX_HEADER_SIZE_V0	15

/* text values shorter than this are kept raw: zstd would hardly gain */
#define ARGMAX_COMPRESS_MIN 128

/* longest value a state can hold, so that the state fits one allocation */
#define ARGMAX_MAX_VALUE_LEN (MaxAllocSize - VARHDRSZ - ARGMAX_HEADER_SIZE)

/* The fixed part of a state, unpacked. */
typedef struct ArgMaxHeader
{
	int64		key;
	uint32		rawlen;			/* value length before compression */
	uint32		payload_len;	/* bytes stored after the fixed part */
	uint8		vtype;
	uint8		kind;
	uint8		flags;			/* ARGMAX_HAS_VALUE, ARGMAX_COMPRESSED */
	uint8		version;		/* layout read: 0 (0.1) or 1 */
} ArgMaxHeader;

/* argmax_state.c */
extern const char *argmax_type_name(ArgMaxValueType vtype);
extern struct varlena *argmax_state_from_value(ArgMaxValueType vtype,
											   ArgMaxKeyKind kind,
											   bool has_value, int64 key,
											   const char *value, uint32 len,
											   bool compress);
extern struct varlena *argmax_state_assemble(const ArgMaxHeader *hdr,
											 const char *payload);
extern void argmax_header_fetch(Datum state, ArgMaxHeader *hdr);
extern const char *argmax_state_open(struct varlena *state, ArgMaxHeader *hdr);
extern void argmax_header_check(const ArgMaxHeader *hdr, int sqlerrcode);
extern void argmax_header_expect(const ArgMaxHeader *hdr, ArgMaxValueType vtype);
extern void argmax_value_extract(const ArgMaxHeader *hdr, const char *payload,
								 char *dst);
extern struct varlena *argmax_value_as_varlena(const ArgMaxHeader *hdr,
											   const char *payload);
extern bool argmax_value_as_bool(const ArgMaxHeader *hdr, const char *payload);
extern void argmax_check_compatible(const ArgMaxHeader *first,
									const ArgMaxHeader *second);
extern bool argmax_header_beats(const ArgMaxHeader *challenger,
								const ArgMaxHeader *incumbent);

/* argmax_zstd.c */
extern size_t argmax_zstd_compress(const char *src, size_t srclen,
								   char *dst, size_t dstcap);
extern void argmax_zstd_check_frame(const char *src, size_t srclen,
									size_t rawlen, int sqlerrcode);
extern void argmax_zstd_decompress(const char *src, size_t srclen,
								   char *dst, size_t rawlen);

/* argmax_key.c */
extern ArgMaxKeyKind argmax_key_kind_of_type(Oid typid);
extern const char *argmax_key_kind_name(ArgMaxKeyKind kind);
extern bool argmax_key_kind_from_name(const char *name, int len,
									  ArgMaxKeyKind *kind);
extern bool argmax_key_is_valid(ArgMaxKeyKind kind, int64 key);
extern void argmax_key_append(StringInfo buf, ArgMaxKeyKind kind, int64 key);
extern bool argmax_key_parse_timestamp(const char *str, int len, bool utc,
									   int64 *key);

#endif							/* ARGMAX_H */
