/*
 * fanout.h
 *		The materialized-view fan-out: building merge statements and running
 *		them from the source's statement trigger.
 */
#ifndef TRACE_AGG_FANOUT_H
#define TRACE_AGG_FANOUT_H

#include "lib/stringinfo.h"
#include "nodes/parsenodes.h"

/* Name of the transition table the fan-out trigger declares. */
#define FANOUT_NEW_ROWS "trace_agg_new_rows"
#define FANOUT_TRIGGER_NAME "trace_agg_fanout"

/* Retention of a target, from trace_agg.ttl. */
typedef struct FanoutTtl
{
	const char *column;			/* timestamptz column that ages a row */
	const char *interval;		/* TTL, as interval text */
	Oid			reference;		/* table knowing a key's real start, or 0 */
} FanoutTtl;

/* A materialized view, as the trigger reads it from the catalog. */
typedef struct FanoutView
{
	const char *name;
	const char *query;			/* the stored, qualified query */
	Oid			targetid;
	const FanoutTtl *ttl;		/* the target's TTL, or NULL */
} FanoutView;

/* fanout_build.c */
extern Query *fanout_analyze(const char *query_text, const char *viewname, Oid *sourceid);
extern char *fanout_build_merge_sql(Query *query, const char *viewname, Oid targetid,
									const FanoutTtl *ttl);
extern char *fanout_build_run_sql(const FanoutView *views, int nviews);
extern char *fanout_group_exprs(Query *query, List *dpcontext);
extern void fanout_append_key_match(StringInfo buf, Query *query,
									const char *left, const char *right);

/* fanout_trigger.c */
extern int	fanout_pin_search_path(void);
extern void fanout_define_settings(void);

/* ttl_worker.c */
extern void ttl_worker_ensure_running(void);
extern void ttl_worker_define_settings(void);

#endif							/* TRACE_AGG_FANOUT_H */
