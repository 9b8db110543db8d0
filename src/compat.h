/*
 * compat.h
 *		What differs between the PostgreSQL majors trace_agg builds against
 *		(15 to 18), in one place.
 *
 * Each difference is bridged here in the newest major's terms, so that the
 * code reads like code for the newest major and older majors get a shim.
 * Only differences that cannot be bridged this way (a table AM callback
 * whose signature changed) are left as #if in the file concerned.
 * Include after postgres.h.
 */
#ifndef TRACE_AGG_COMPAT_H
#define TRACE_AGG_COMPAT_H

/* 16 moved the varlena macros (VARDATA, SET_VARSIZE, ...) to varatt.h. */
#if PG_VERSION_NUM >= 160000
#include "varatt.h"
#endif

/*
 * 18 replaced pg_attribute_noreturn(), written after a declarator, by
 * pg_noreturn, written before the declaration.  The attribute goes in
 * front of a declaration just as well.
 */
#if PG_VERSION_NUM < 180000
#define pg_noreturn pg_attribute_noreturn()
#endif

/* 16 renamed RelFileNode to RelFileLocator. */
#if PG_VERSION_NUM < 160000
#include "storage/relfilenode.h"
typedef RelFileNode RelFileLocator;
#endif

/* 17 moved the backend's local transaction id into PGPROC.vxid. */
#if PG_VERSION_NUM >= 170000
#define TA_CURRENT_LOCAL_XID(proc)	((proc)->vxid.lxid)
#else
#define TA_CURRENT_LOCAL_XID(proc)	((proc)->lxid)
#endif

/*
 * 18 gives a grouped query an extra range-table entry of kind RTE_GROUP
 * (query->hasGroupRTE), appended last, and the grouped columns of its
 * target list point at that entry rather than at the table.
 * ta_flatten_group_rte() turns such a query back into what 15 to 17 make
 * of it: target-list columns that point at the table again
 * (flatten_group_exprs()) and no RTE_GROUP entry.  That is enough for a
 * query whose target list and WHERE clause are all that is deparsed (a
 * HAVING or ORDER BY clause would need flattening too); it is not for
 * handing to the planner.
 */
#if PG_VERSION_NUM >= 180000
#include "optimizer/optimizer.h"

static inline void
ta_flatten_group_rte(Query *query)
{
	if (!query->hasGroupRTE)
		return;
	query->targetList = (List *) flatten_group_exprs(NULL, query,
													 (Node *) query->targetList);
	if (llast_node(RangeTblEntry, query->rtable)->rtekind == RTE_GROUP)
	{
		query->rtable = list_delete_last(query->rtable);
		query->hasGroupRTE = false;
	}
}
#else
#define ta_flatten_group_rte(query)	((void) (query))
#endif

/*
 * Before 16 a view's rule starts with two placeholder range-table entries
 * for the view itself (OLD and NEW).  Deparsing the rule's query would
 * open, so lock, the view through them: ta_drop_view_rule_placeholders()
 * leaves them out, as 16 and later never have them.
 */
#if PG_VERSION_NUM < 160000
#include "parser/parsetree.h"
#include "rewrite/rewriteManip.h"

static inline void
ta_drop_view_rule_placeholders(Query *query, Oid viewid)
{
	if (list_length(query->rtable) >= 3 &&
		rt_fetch(1, query->rtable)->relid == viewid &&
		rt_fetch(2, query->rtable)->relid == viewid)
	{
		OffsetVarNodes((Node *) query, -2, 0);
		query->rtable = list_delete_first(list_delete_first(query->rtable));
	}
}
#else
#define ta_drop_view_rule_placeholders(query, viewid)	((void) (query), (void) (viewid))
#endif

#endif							/* TRACE_AGG_COMPAT_H */
