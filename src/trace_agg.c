/*
 * trace_agg.c
 *		Module entry point: the library's magic block and its settings.
 *
 * Each concept (a state type, an aggregate family, the null access method,
 * the fan-out) lives in its own file; this one only registers what the
 * whole library shares.
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/guc.h"

#include "derived.h"
#include "fanout.h"
#include "null_am.h"
#include "trace_agg.h"

PG_MODULE_MAGIC;

/*
 * Level 2, not the reference's ZSTD(3): each value is its own small frame,
 * where level 2 compresses 14 to 37% faster than 3 for payloads no more
 * than 2% larger (test/bench/zstd_levels; the README's deviations).
 */
int			trace_agg_zstd_level = 2;

void		_PG_init(void);

void
_PG_init(void)
{
	DefineCustomIntVariable("trace_agg.zstd_level",
							"zstd compression level for large payloads kept in argmax_text states.",
							"Levels 1 to 19; higher compresses better and costs more CPU.",
							&trace_agg_zstd_level,
							2, 1, 19,
							PGC_USERSET, 0,
							NULL, NULL, NULL);

	fanout_define_settings();
	derived_init();
	fanout_define_delete_settings();
	ttl_worker_define_settings();
	null_am_define_settings();

	MarkGUCPrefixReserved("trace_agg");
}
