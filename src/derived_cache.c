/*
 * derived_cache.c
 *		The statements of derived views, built and prepared once per backend.
 *
 * Building a derived view's statements reads its definition and deparses
 * it, and planning them costs as much again: 0.4 to 0.7 ms per statement
 * and view, most of what a single-row write of a source paid.  So they are
 * built and prepared once per backend, view, firing relation (the shape of
 * its transition tables) and kind of firing (which transition tables it
 * has), and kept until they may no longer be what the view's definition
 * gives: a relcache invalidation of the view (CREATE OR REPLACE VIEW, a
 * rename, ALTER ... OWNER), its source, its target, the firing relation or
 * the extension's catalogs; a change of any function, type, operator,
 * schema or role (a statement names them as they were called, and resolves
 * names with its owner's rights when built); or a catalog row that no
 * longer matches (another owner, target or mode, or materialized views
 * starting or ceasing to share the target).  Invalidations only mark
 * statements stale, as one may arrive while they run; derived_trigger.c
 * frees them when nothing of this backend can still be using them.
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "derived.h"
#include "trace_agg.h"

static List *cached_views = NIL;	/* ViewStatements, in CacheMemoryContext */
static SPIPlanPtr views_plan = NULL;	/* derived_cache_read_views' statement */

/*
 * The derived views of SOURCEID in the order they run, as committed now
 * (a view created or dropped by a transaction that committed since the
 * statement began is seen), read as the catalog's owner.  Its statement is
 * prepared once per backend; it names everything in full.
 */
List *
derived_cache_read_views(Oid sourceid)
{
	Oid			argtypes[1] = {OIDOID};
	Datum		args[1] = {ObjectIdGetDatum(sourceid)};
	List	   *views = NIL;
	Oid			save_userid;
	int			save_sec_context;
	int			rc;
	uint64		i;

	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(BOOTSTRAP_SUPERUSERID, save_sec_context | SECURITY_LOCAL_USERID_CHANGE);
	if (views_plan == NULL)
	{
		SPIPlanPtr	plan = SPI_prepare("SELECT d.view::pg_catalog.oid, d.target::pg_catalog.oid, c.relowner, "
									   "d.mode OPERATOR(pg_catalog.=) '" DERIVED_MODE_DELTA "', "
									   "EXISTS (SELECT FROM trace_agg.materialized_view m "
									   "WHERE m.target OPERATOR(pg_catalog.=) d.target), "
									   "pg_catalog.quote_ident(n.nspname) OPERATOR(pg_catalog.||) '.' "
									   "OPERATOR(pg_catalog.||) pg_catalog.quote_ident(c.relname) "
									   "FROM trace_agg.derived_view d "
									   "JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) d.view "
									   "JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace "
									   "WHERE d.source OPERATOR(pg_catalog.=) $1 ORDER BY n.nspname, c.relname",
									   1, argtypes);

		if (plan == NULL)
			elog(ERROR, "could not prepare the reading of derived views: %s",
				 SPI_result_code_string(SPI_result));
		SPI_keepplan(plan);
		views_plan = plan;
	}
	PushActiveSnapshot(GetLatestSnapshot());
	rc = SPI_execute_plan(views_plan, args, NULL, true, 0);
	PopActiveSnapshot();
	SetUserIdAndSecContext(save_userid, save_sec_context);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "could not read the derived views of table %u: %s",
			 sourceid, SPI_result_code_string(rc));
	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	row = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		DerivedView *view = palloc(sizeof(DerivedView));
		bool		isnull;

		view->viewid = DatumGetObjectId(SPI_getbinval(row, desc, 1, &isnull));
		view->targetid = DatumGetObjectId(SPI_getbinval(row, desc, 2, &isnull));
		view->ownerid = DatumGetObjectId(SPI_getbinval(row, desc, 3, &isnull));
		view->delta = DatumGetBool(SPI_getbinval(row, desc, 4, &isnull));
		view->shared = DatumGetBool(SPI_getbinval(row, desc, 5, &isnull));
		view->name = SPI_getvalue(row, desc, 6);
		views = lappend(views, view);
	}
	return views;
}

/*
 * A relation the cached statements involve changed (InvalidOid: any).
 * The statements are only marked here: an invalidation may arrive while
 * one of them runs.
 */
static void
mark_relation_changed(Datum arg, Oid relid)
{
	ListCell   *lc;

	foreach(lc, cached_views)
	{
		ViewStatements *vs = lfirst(lc);

		if (!OidIsValid(relid) || list_member_oid(vs->relids, relid))
			vs->stale = true;
	}
}

/*
 * A function, type, operator, schema or role changed: a statement names
 * them as its owner could see them when it was built, so every statement
 * is built again.
 */
static void
mark_all_changed(Datum arg, int cacheid, uint32 hashvalue)
{
	mark_relation_changed(arg, InvalidOid);
}

/* Free the plans of VS and its memory. */
static void
free_view_statements(ViewStatements *vs)
{
	if (vs->collect)
		SPI_freeplan(vs->collect);
	if (vs->lock)
		SPI_freeplan(vs->lock);
	if (vs->keys)
		SPI_freeplan(vs->keys);
	if (vs->cleanup)
		SPI_freeplan(vs->cleanup);
	MemoryContextDelete(vs->context);
}

/*
 * Free stale statements.  The caller makes sure none may still run: no
 * firing or maintenance of this backend is under way (a chain: the target
 * of one view is the source of another), and no keys gathered with them
 * wait for their statement's end.
 */
void
derived_cache_drop_stale(void)
{
	ListCell   *lc;

	foreach(lc, cached_views)
	{
		ViewStatements *vs = lfirst(lc);

		if (!vs->stale)
			continue;
		cached_views = foreach_delete_current(cached_views, lc);
		free_view_statements(vs);
	}
}

/* SQL prepared and kept as the current user, or NULL for no SQL. */
static SPIPlanPtr
prepare_kept(const char *sql, const ViewStatements *vs, const char *viewname)
{
	SPIPlanPtr	plan;

	if (sql == NULL)
		return NULL;
	plan = SPI_prepare(sql, vs->nparams, vs->key_array_types);
	if (plan == NULL)
		elog(ERROR, "could not prepare a statement of derived view \"%s\": %s",
			 viewname, SPI_result_code_string(SPI_result));
	SPI_keepplan(plan);
	return plan;
}

/*
 * Build and prepare VIEW's statements for firings of RELID (SOURCEID or one
 * of its partitions) with the transition tables HAS_OLD and HAS_NEW, which
 * must be registered.  Prepared as the view's owner, in a
 * security-restricted operation, as they run.
 */
static ViewStatements *
build_view_statements(const DerivedView *view, Oid relid, Oid sourceid, bool has_old, bool has_new)
{
	DerivedStatements stmts;
	MemoryContext context;
	MemoryContext oldcxt;
	ViewStatements *vs;
	Oid			save_userid;
	int			save_sec_context;
	Oid			catalog = get_namespace_oid("trace_agg", false);

	derived_build_statements(view->viewid, sourceid, view->targetid, view->name,
							 has_old, has_new, &stmts, NULL, NIL);
	context = AllocSetContextCreate(CacheMemoryContext, "trace_agg derived view statements",
									ALLOCSET_SMALL_SIZES);
	oldcxt = MemoryContextSwitchTo(context);
	vs = palloc0(sizeof(ViewStatements));
	vs->viewid = view->viewid;
	vs->relid = relid;
	vs->has_old = has_old;
	vs->has_new = has_new;
	vs->ownerid = view->ownerid;
	vs->targetid = view->targetid;
	vs->delta = stmts.delta;
	vs->shared = view->shared;
	vs->nparams = stmts.nparams;
	vs->key_array_types = palloc(sizeof(Oid) * Max(stmts.nparams, 1));
	memcpy(vs->key_array_types, stmts.key_array_types, sizeof(Oid) * stmts.nparams);
	vs->relids = list_make4_oid(view->viewid, sourceid, view->targetid, relid);
	vs->relids = lappend_oid(vs->relids, get_relname_relid("derived_view", catalog));
	vs->relids = lappend_oid(vs->relids, get_relname_relid("materialized_view", catalog));
	vs->context = context;
	MemoryContextSwitchTo(oldcxt);

	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	PG_TRY();
	{
		SetUserIdAndSecContext(view->ownerid, save_sec_context |
							   SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION);
		vs->collect = prepare_kept(stmts.collect_sql, vs, view->name);
		vs->lock = prepare_kept(stmts.lock_sql, vs, view->name);
		vs->keys = prepare_kept(stmts.keys_sql, vs, view->name);
		vs->cleanup = prepare_kept(stmts.cleanup_sql, vs, view->name);
		SetUserIdAndSecContext(save_userid, save_sec_context);
	}
	PG_CATCH();
	{
		free_view_statements(vs);
		PG_RE_THROW();
	}
	PG_END_TRY();
	return vs;
}

/*
 * The current statements of VIEW for firings of RELID with the transition
 * tables HAS_OLD and HAS_NEW.  The caller has locked the view, its source
 * and its target, which processed the invalidations committed before; a
 * set that building made stale (a function replaced meanwhile) is built
 * again.
 */
ViewStatements *
derived_cache_statements(const DerivedView *view, Oid relid, Oid sourceid, bool has_old, bool has_new)
{
	ListCell   *lc;
	ViewStatements *vs;
	MemoryContext oldcxt;

	foreach(lc, cached_views)
	{
		vs = lfirst(lc);
		if (vs->stale || vs->viewid != view->viewid || vs->relid != relid ||
			vs->has_old != has_old || vs->has_new != has_new)
			continue;
		if (vs->ownerid == view->ownerid && vs->targetid == view->targetid &&
			vs->delta == view->delta && vs->shared == view->shared)
			return vs;
		vs->stale = true;
	}
	for (;;)
	{
		vs = build_view_statements(view, relid, sourceid, has_old, has_new);
		oldcxt = MemoryContextSwitchTo(CacheMemoryContext);
		cached_views = lappend(cached_views, vs);
		MemoryContextSwitchTo(oldcxt);
		if (!vs->stale)
			return vs;
	}
}

/* Register the invalidation callbacks, from _PG_init. */
void
derived_cache_init(void)
{
	CacheRegisterRelcacheCallback(mark_relation_changed, (Datum) 0);
	CacheRegisterSyscacheCallback(PROCOID, mark_all_changed, (Datum) 0);
	CacheRegisterSyscacheCallback(TYPEOID, mark_all_changed, (Datum) 0);
	CacheRegisterSyscacheCallback(OPEROID, mark_all_changed, (Datum) 0);
	CacheRegisterSyscacheCallback(NAMESPACEOID, mark_all_changed, (Datum) 0);
	CacheRegisterSyscacheCallback(AUTHOID, mark_all_changed, (Datum) 0);
	CacheRegisterSyscacheCallback(AUTHMEMMEMROLE, mark_all_changed, (Datum) 0);
}
