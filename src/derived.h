/*
 * derived.h
 *		Derived views: views over stored tables that change, kept exact by
 *		recomputing the keys each writing statement affects.
 */
#ifndef TRACE_AGG_DERIVED_H
#define TRACE_AGG_DERIVED_H

#include "nodes/parsenodes.h"
#include "executor/spi.h"
#include "utils/relcache.h"

/* The maintenance triggers on a source, one per event. */
#define DERIVED_TRIGGER_INSERT "trace_agg_derived_insert"
#define DERIVED_TRIGGER_UPDATE "trace_agg_derived_update"
#define DERIVED_TRIGGER_DELETE "trace_agg_derived_delete"
#define DERIVED_TRIGGER_TRUNCATE "trace_agg_derived_truncate"

/* Their transition tables. */
#define DERIVED_OLD_ROWS "trace_agg_old_rows"
#define DERIVED_NEW_ROWS "trace_agg_new_rows"

/*
 * The last field of the advisory lock tags maintenance takes, on a whole
 * target and on one key of it (objsubid in pg_locks): SQL's advisory lock
 * functions use 1 and 2 only, so no session can take these.
 */
#define DERIVED_LOCK_TARGET 29796
#define DERIVED_LOCK_KEY 29803

/*
 * The statements that maintain one derived view.  The keys a statement
 * touched are one array per key column, passed as $1 ... $nkeys; in delta
 * mode they are followed by the arrays of the aggregates' changes
 * ($nkeys + 1 ... $nparams: one numeric[] per count or sum, two jsonb[] per
 * sum_map, what new rows add and what old rows take away): row i of the
 * arrays is one key and the changes of its aggregates.
 */
typedef struct DerivedStatements
{
	bool		delta;			/* delta mode: no locks, no read of the source */
	int			nkeys;
	int			nparams;		/* nkeys, plus the changes in delta mode */
	Oid		   *key_array_types;	/* of $1 ... $nparams */
	char	   *collect_sql;	/* adds a firing's keys (and changes) to $1 ...; NULL without transition tables */
	char	   *lock_sql;		/* the hashes of the keys of $1 ..., in order: the locks to take; NULL in delta mode */
	char	   *keys_sql;		/* recomputes the keys of $1 ..., or applies their changes */
	char	   *cleanup_sql;	/* delta mode: deletes rows whose count fell to 0, nulls sums, subtracts from sum_maps */
	char	   *full_sql;		/* recomputes every key (creation, TRUNCATE) */
} DerivedStatements;

/* The modes of trace_agg.derived_view.mode. */
#define DERIVED_MODE_RECOMPUTE "recompute"
#define DERIVED_MODE_DELTA "delta"

/* A derived view of the firing source, as read from the catalog. */
typedef struct DerivedView
{
	Oid			viewid;
	Oid			targetid;
	Oid			ownerid;
	bool		delta;			/* its mode */
	bool		shared;			/* materialized views write its target too */
	char	   *name;			/* qualified, for messages */
} DerivedView;

/*
 * The prepared statements of one derived view for the firings of one
 * relation with one set of transition tables, in this backend (see the
 * header).  Everything but the plans lives in CONTEXT.
 */
typedef struct ViewStatements
{
	Oid			viewid;
	Oid			relid;			/* the firing relation */
	bool		has_old;
	bool		has_new;
	bool		stale;
	Oid			ownerid;		/* the catalog's facts they were built from */
	Oid			targetid;
	bool		delta;
	bool		shared;
	int			nparams;		/* and their parameters, as in DerivedStatements */
	Oid		   *key_array_types;
	List	   *relids;			/* relations whose change makes them stale */
	SPIPlanPtr	collect;
	SPIPlanPtr	lock;			/* NULL in delta mode */
	SPIPlanPtr	keys;
	SPIPlanPtr	cleanup;		/* NULL in recompute mode */
	MemoryContext context;
} ViewStatements;

/* derived_cache.c */
extern List *derived_cache_read_views(Oid sourceid);
extern ViewStatements *derived_cache_statements(const DerivedView *view, Oid relid, Oid sourceid,
												bool has_old, bool has_new);
extern void derived_cache_drop_stale(void);
extern void derived_cache_init(void);

/* derived_build.c */
extern void derived_build_statements(Oid viewid, Oid sourceid, Oid targetid, const char *viewname,
									 bool has_old, bool has_new, DerivedStatements *stmts,
									 const char *new_view, List *new_columns);

/* derived_delta.c */
extern void derived_delta_check_ttl(Oid targetid, const char *viewname);
extern void derived_build_delta(Query *query, Relation target, Oid sourceid, List *dpcontext,
								const char *viewname, const char *where, bool shared,
								bool has_old, bool has_new, DerivedStatements *stmts);

/* derived_view.c */
extern void derived_check_materialized_view(Oid sourceid, Oid targetid, const char *viewname,
											 List *columns);
extern void derived_check_source_access(Oid sourceid, Oid roleid, const char *viewname, bool creating);
extern void derived_ensure_triggers(Oid relid);
extern void derived_refresh_source(Oid sourceid);

/* derived_trigger.c */
extern void derived_init(void);

#endif							/* TRACE_AGG_DERIVED_H */
