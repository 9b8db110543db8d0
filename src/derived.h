/*
 * derived.h
 *		Derived views: views over stored tables that change, kept exact by
 *		recomputing the keys each writing statement affects.
 */
#ifndef TRACE_AGG_DERIVED_H
#define TRACE_AGG_DERIVED_H

#include "nodes/parsenodes.h"
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
