/*
 * argany.h
 *		The generic argmax/argmin state types (argmax_any, argmin_any): their
 *		varlena layout and the routines the argany files share.
 *
 * argmax_text, argmax_bool and argmax_jsonb hold a value of one type under a
 * key of three kinds.  These hold a value of any type under a key of any
 * type with a default btree ordering, so the state names both types.  On
 * disk and in memory a state is one varlena, in layout version 1:
 *
 *		varlena header	4 bytes (1 when stored short)
 *		uint8  version	ARGANY_LAYOUT_VERSION
 *		uint8  flags	ARGANY_* below
 *		uint16 unused	0
 *		Oid    keytype	type of the key
 *		Oid    valtype	type of the value
 *		uint32 keylen	bytes of the key datum
 *		uint32 vallen	bytes of the value datum
 *		key				at offset ARGANY_FIXED_SIZE (a multiple of MAXALIGN)
 *		value			at the next MAXALIGN boundary after the key
 *
 * A key or value is the datum as Postgres itself stores it in a column: the
 * bytes of a fixed-length type, a varlena flattened and uncompressed.  Like
 * Postgres' own arrays and composite values, a state names its types by OID
 * on disk: OIDs are kept by pg_upgrade, and neither pg_dump nor COPY ever
 * sees them, since the text and binary forms name the types by their
 * qualified names instead.  A state whose type was dropped since is refused
 * with an error naming the OID.
 *
 * The key comes first, so that merge() can fetch the fixed part and the key
 * of a large stored state with slice detoasts and compare keys without
 * reading the value.  The types are STORAGE = external: a value is never
 * compressed, so reading it is a copy, not a decompression.
 */
#ifndef ARGANY_H
#define ARGANY_H

#include "fmgr.h"

#include "compat.h"

#define ARGANY_LAYOUT_VERSION	1

/* a row was seen: key (and value, unless ARGANY_VALUE_NULL) present */
#define ARGANY_HAS_ROW		0x01
/* the winning row's value is NULL (only with ARGANY_NULLS) */
#define ARGANY_VALUE_NULL	0x02
/* argmin: the least key wins */
#define ARGANY_MIN			0x04
/* on equal keys the later row (or the second state) wins */
#define ARGANY_TIES_LAST	0x08
/* a NULL value is a value (an explicit clear); a NULL key skips the row */
#define ARGANY_NULLS		0x10
#define ARGANY_KNOWN_FLAGS	0x1F
/* the flags that are the aggregate's rule, which merged states must share */
#define ARGANY_RULE_FLAGS	(ARGANY_MIN | ARGANY_TIES_LAST | ARGANY_NULLS)

typedef struct ArgAnyFixed
{
	int32		vl_len_;
	uint8		version;
	uint8		flags;
	uint16		unused;
	Oid			keytype;
	Oid			valtype;
	uint32		keylen;
	uint32		vallen;
} ArgAnyFixed;

#define ARGANY_FIXED_SIZE	MAXALIGN(sizeof(ArgAnyFixed))
#define ARGANY_KEY_PTR(s)	((char *) (s) + ARGANY_FIXED_SIZE)
#define ARGANY_VAL_OFFSET(s) \
	(ARGANY_FIXED_SIZE + MAXALIGN(((const ArgAnyFixed *) (s))->keylen))
#define ARGANY_VAL_PTR(s)	((char *) (s) + ARGANY_VAL_OFFSET(s))

/* How to read, write and compare one type, looked up once per call site. */
typedef struct ArgAnyType
{
	Oid			typid;
	int16		typlen;
	bool		typbyval;
	char		typalign;
	Oid			collation;		/* "C" for a collatable key, else invalid */
	FmgrInfo	cmp;			/* default btree comparison (keys only) */
	bool		has_cmp;
} ArgAnyType;

/* The key and value types of a state. */
typedef struct ArgAnyTypes
{
	ArgAnyType	key;
	ArgAnyType	val;
} ArgAnyTypes;

/* argany_state.c */
extern void argany_type_init(ArgAnyType *t, Oid typid, bool is_key,
							 MemoryContext mcxt);
extern void argany_check_storable(Oid typid);
extern ArgAnyTypes *argany_cached_types(FmgrInfo *flinfo, Oid keytype,
										Oid valtype);
extern void argany_check_state(const ArgAnyFixed *s, Size size);
extern void argany_check_whole(const ArgAnyFixed *s);
extern Datum argany_fetch(const ArgAnyType *t, const char *ptr);
extern Size argany_datum_size(const ArgAnyType *t, Datum d);
extern ArgAnyFixed *argany_build(uint8 flags, Oid keytype, Oid valtype,
								 const ArgAnyType *kt, Datum key,
								 const ArgAnyType *vt, Datum value,
								 bool value_null);
extern Datum argany_flatten(const ArgAnyType *t, Datum d);
extern bool argany_beats(const ArgAnyType *kt, uint8 flags, Datum challenger,
						 Datum incumbent);
extern void argany_check_same_rule(const ArgAnyFixed *a, const ArgAnyFixed *b);
extern const char *argany_rule_name(uint8 flags);

#endif							/* ARGANY_H */
