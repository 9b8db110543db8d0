/*
 * derived.h
 *		Derived views: views over stored tables that change, kept exact by
 *		recomputing the keys each writing statement affects.
 */
#ifndef TRACE_AGG_DERIVED_H
#define TRACE_AGG_DERIVED_H

/* The maintenance triggers on a source, one per event. */
#define DERIVED_TRIGGER_INSERT "trace_agg_derived_insert"
#define DERIVED_TRIGGER_UPDATE "trace_agg_derived_update"
#define DERIVED_TRIGGER_DELETE "trace_agg_derived_delete"
#define DERIVED_TRIGGER_TRUNCATE "trace_agg_derived_truncate"

/* Their transition tables. */
#define DERIVED_OLD_ROWS "trace_agg_old_rows"
#define DERIVED_NEW_ROWS "trace_agg_new_rows"

/* The statements that maintain one derived view. */
typedef struct DerivedStatements
{
	char	   *lock_sql;		/* locks the affected keys, in order */
	char	   *keys_sql;		/* recomputes the affected keys */
	char	   *full_sql;		/* recomputes every key (creation, TRUNCATE) */
} DerivedStatements;

/* derived_build.c */
extern void derived_build_statements(Oid viewid, Oid sourceid, Oid targetid, const char *viewname,
									 bool has_old, bool has_new, DerivedStatements *stmts);

/* derived_view.c */
extern void derived_check_materialized_view(Oid sourceid, Oid targetid, const char *viewname);
extern void derived_check_source_access(Oid sourceid, Oid roleid, const char *viewname, bool creating);

#endif							/* TRACE_AGG_DERIVED_H */
