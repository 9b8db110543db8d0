/*
 * ttl.h
 *		Retention (TTL) of target tables: declarations shared by the TTL
 *		catalog functions, the purge, the background worker and the
 *		statements of the fan-out that skip expired keys.
 */
#ifndef TRACE_AGG_TTL_H
#define TRACE_AGG_TTL_H

#include "nodes/pg_list.h"

/*
 * A TTL's per-key rules table as it reads now: its name for messages and
 * qualified for statements, the columns matching a key of the target (named
 * like target columns of its primary key, quoted) and its interval column
 * (quoted).
 */
typedef struct TtlRules
{
	Oid			relid;
	const char *name;
	const char *qualified;
	List	   *match;
	const char *interval_column;
} TtlRules;

/* ttl_catalog.c */
extern void ttl_resolve_rules(Oid rulesid, Oid targetid, TtlRules *rules);
extern char *ttl_rule_lookup(const TtlRules *rules, const char *alias, List *exprs);
extern char *ttl_cutoff_sql(const char *interval_sql);

/* ttl_purge.c */
extern bool ttl_lock_target(Oid targetid, bool nowait, Oid *owner);
extern int64 ttl_purge_batch(Oid targetid, Oid owner, int batch_size);
extern int64 ttl_purge_insert_tokens(void);

/* ttl_worker.c */
extern void ttl_worker_request_start(void);

#endif							/* TRACE_AGG_TTL_H */
