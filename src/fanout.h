/*
 * fanout.h
 *		The materialized-view fan-out: the definitions of a source's views,
 *		the statements generated from them, and the trigger that runs them.
 */
#ifndef TRACE_AGG_FANOUT_H
#define TRACE_AGG_FANOUT_H

#include "lib/stringinfo.h"
#include "nodes/parsenodes.h"
#include "utils/relcache.h"

/* Name of the transition table the fan-out trigger declares. */
#define FANOUT_NEW_ROWS "trace_agg_new_rows"
#define FANOUT_TRIGGER_NAME "trace_agg_fanout"

/* Retention of a target, from trace_agg.ttl. */
typedef struct FanoutTtl
{
	const char *column;			/* timestamptz column that ages a row */
	const char *interval;		/* TTL, as interval text; NULL: rules only */
	Oid			reference;		/* table knowing a key's real start, or 0 */
	Oid			per_key;		/* table of per-key rules (ttl.h), or 0 */
} FanoutTtl;

/*
 * A materialized view as the generator reads it: the Postgres view that
 * holds its query (and its name, schema and owner), its source and its
 * target, all by OID.
 */
typedef struct FanoutView
{
	Oid			viewid;
	Oid			sourceid;
	Oid			targetid;
	Oid			ownerid;		/* the view's owner: the merge runs as it */
	const char *name;			/* qualified, for messages */
	const char *query;			/* the view's query, deparsed now */
	const FanoutTtl *ttl;		/* the target's TTL, or NULL */
	AttrNumber	version;		/* a replacing view: the view's column holding
								 * the version; 0: an aggregating view */
} FanoutView;

/*
 * Views of one source that run as one statement: consecutive aggregating
 * views with the same query and owner.  A replacing view runs alone.
 */
typedef struct FanoutRun
{
	Oid			ownerid;
	int			nviews;
	FanoutView *views;
	char	   *sql;			/* the statement that runs */
} FanoutRun;

/* fanout_build.c */
extern Query *fanout_analyze(const char *query_text, const char *viewname, Oid *sourceid,
							 bool replacing);
extern List *fanout_key_clause(Query *query);
extern char *fanout_build_run_sql(const FanoutView *views, int nviews, const char *rows,
								  bool tombstones);
extern char *fanout_group_exprs(Query *query, List *dpcontext);
extern void fanout_check_outputs(Query *query, Relation target, Bitmapset *produced,
								 const char *kind, const char *viewname);
extern void fanout_append_key_match(StringInfo buf, Query *query,
									const char *left, const char *right);
extern char *fanout_qualified_name(Oid relid);

/* fanout_replacing.c */
extern void fanout_refuse_replacing_features(Query *query, const char *viewname);
extern void fanout_set_replacing_key(Query *query, Oid targetid, const char *viewname);
extern char *fanout_replacing_order(Query *query, const char *viewname, Relation target,
									AttrNumber version, List *dpcontext, char **replace_if);

/* fanout_view.c */
extern RangeVar *fanout_view_range_var(text *name, Oid targetid);
extern void fanout_drop_view(text *name_arg, bool if_exists, bool derived);

/* fanout_catalog.c */
extern void fanout_check_catalog_version(void);
extern Oid	fanout_relation_owner(Oid relid);
extern List *fanout_source_runs(Oid sourceid, Oid only_view, const char *rows, List **relids);
extern void fanout_check_source_access(Oid sourceid, Oid roleid, const char *viewname,
									   bool creating);

/* fanout_delete.c */
extern void fanout_define_delete_settings(void);

/* fanout_trigger.c */
extern int	fanout_pin_search_path(void);
extern void fanout_check_statements(Oid sourceid, Oid viewid);
extern void fanout_define_settings(void);

/* ttl_worker.c */
extern void ttl_worker_ensure_running(void);
extern void ttl_worker_define_settings(void);

#endif							/* TRACE_AGG_FANOUT_H */
