/*
 * fanout_catalog.c
 *		The definitions of a source's materialized views, read by OID and
 *		turned into the statements that run.
 *
 * The catalog holds definitions only: trace_agg.materialized_view names a
 * Postgres view (which keeps the query as Postgres keeps any view: as an
 * analysed rule, so renames of tables, columns, schemas and functions
 * follow it), the source and the target, all by OID, and trace_agg.ttl the
 * targets' retention.  This file is the one place that turns them into SQL:
 * the views' queries are deparsed as they read today, grouped into runs, and
 * each run becomes one statement.  The fan-out trigger caches the result per
 * backend and asks again after any change to a relation involved, so no
 * generated text is ever stored and nothing resolves a name captured
 * earlier.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_class.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_rewrite.h"
#include "commands/extension.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "nodes/nodes.h"
#include "rewrite/rewriteSupport.h"
#include "storage/lmgr.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/ruleutils.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "compat.h"
#include "fanout.h"
#include "trace_agg.h"

/* Columns of the definitions query. */
#define DEF_VIEW		1
#define DEF_TARGET		2
#define DEF_OWNER		3
#define DEF_NAME		4
#define DEF_TTL_COLUMN	5
#define DEF_TTL			6
#define DEF_REFERENCE	7
#define DEF_VERSION		8
#define DEF_PER_KEY		9

static SPIPlanPtr definitions_plan = NULL;
static bool catalog_version_checked = false;

/*
 * The library reads the catalog the way its own version's script made it.
 * After a package upgrade and before ALTER EXTENSION trace_agg UPDATE, the
 * catalog is older: refuse with a message saying what to do (the statement
 * rolls back, so nothing is lost), rather than fail on a missing column.
 * Once a backend has seen the right version it does not ask again (there is
 * no downgrade).  Must run inside SPI.
 */
void
fanout_check_catalog_version(void)
{
	char	   *installed;

	if (catalog_version_checked)
		return;
	SPI_execute("SELECT extversion FROM pg_catalog.pg_extension "
				"WHERE extname OPERATOR(pg_catalog.=) 'trace_agg'", true, 1);
	installed = SPI_processed == 1 ? SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1) : NULL;
	if (installed == NULL || strcmp(installed, TRACE_AGG_VERSION) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("trace_agg's library is version %s but its SQL objects in this database are version %s",
						TRACE_AGG_VERSION, installed ? installed : "(none)"),
				 errhint("Run ALTER EXTENSION trace_agg UPDATE in this database.")));
	catalog_version_checked = true;
}

/*
 * Whether ROLEID may have a view read SOURCEID's rows, with Postgres' own
 * rules: CREATE TRIGGER needs the TRIGGER privilege (checked at creation,
 * as Postgres does), reading the rows needs SELECT, and, since a transition
 * table shows every row, a source under row-level security may only be
 * read by a role that bypasses it: its owner (unless it forces RLS on
 * itself) or a role with BYPASSRLS.  At run time a failure is an error
 * naming the view, so that the source's owner knows which view to drop.
 */
void
fanout_check_source_access(Oid sourceid, Oid roleid, const char *viewname, bool creating)
{
	HeapTuple	tuple;
	Form_pg_class rel;
	bool		rls_bypassed;
	const char *missing = NULL;

	if (creating && pg_class_aclcheck(sourceid, roleid, ACL_TRIGGER) != ACLCHECK_OK)
		missing = "TRIGGER";
	else if (pg_class_aclcheck(sourceid, roleid, ACL_SELECT) != ACLCHECK_OK)
		missing = "SELECT";
	if (missing)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for materialized view \"%s\" to read table \"%s\"",
						viewname, get_rel_name(sourceid)),
				 errdetail("A materialized view's owner needs the %s privilege on its source, as for CREATE TRIGGER with a transition table.",
						   missing),
				 creating ? 0 : errhint("The owner of the source can drop the view with trace_agg.drop_materialized_view().")));

	tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(sourceid));
	if (!HeapTupleIsValid(tuple))
		elog(ERROR, "cache lookup failed for relation %u", sourceid);
	rel = (Form_pg_class) GETSTRUCT(tuple);
	rls_bypassed = !rel->relrowsecurity ||
		superuser_arg(roleid) ||
		has_bypassrls_privilege(roleid) ||
		(!rel->relforcerowsecurity && has_privs_of_role(roleid, rel->relowner));
	ReleaseSysCache(tuple);
	if (!rls_bypassed)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("materialized view \"%s\" cannot read table \"%s\": row-level security is enabled on it",
						viewname, get_rel_name(sourceid)),
				 errdetail("A view receives every inserted row, including rows the policies hide; only the table's owner or a role with BYPASSRLS may own one."),
				 creating ? 0 : errhint("The owner of the source can drop the view with trace_agg.drop_materialized_view().")));
}

/*
 * The definitions of the views of SOURCEID, in the order they run: views of
 * targets without a TTL first (a TTL target's ghost-row check must see its
 * reference merged), then by schema and name.  Read with the active
 * snapshot, which fanout_source_runs makes a fresh one, and as the
 * catalog's owner, as row-level security on trace_agg.ttl
 * would hide other owners' TTLs.  Must run inside SPI with search_path
 * pinned.
 */
static List *
read_definitions(Oid sourceid)
{
	Datum		args[1] = {ObjectIdGetDatum(sourceid)};
	Oid			save_userid;
	int			save_sec_context;
	List	   *views = NIL;
	uint64		i;

	if (definitions_plan == NULL)
	{
		Oid			argtypes[1] = {OIDOID};
		SPIPlanPtr	plan;

		plan = SPI_prepare("SELECT m.view::pg_catalog.oid, m.target::pg_catalog.oid, c.relowner, "
						   "pg_catalog.quote_ident(n.nspname) OPERATOR(pg_catalog.||) '.' "
						   "OPERATOR(pg_catalog.||) pg_catalog.quote_ident(c.relname), "
						   "t.ttl_column::pg_catalog.text, t.ttl::pg_catalog.text, t.reference::pg_catalog.oid, "
						   "m.version_attnum, t.per_key::pg_catalog.oid "
						   "FROM trace_agg.materialized_view m "
						   "JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) m.view "
						   "JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace "
						   "LEFT JOIN trace_agg.ttl t ON t.target OPERATOR(pg_catalog.=) m.target "
						   "WHERE m.source OPERATOR(pg_catalog.=) $1 "
						   "ORDER BY t.target IS NOT NULL, n.nspname, c.relname",
						   1, argtypes);
		if (plan == NULL)
			elog(ERROR, "could not prepare materialized view lookup: %s",
				 SPI_result_code_string(SPI_result));
		SPI_keepplan(plan);
		definitions_plan = plan;
	}

	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(BOOTSTRAP_SUPERUSERID, save_sec_context | SECURITY_LOCAL_USERID_CHANGE);
	SPI_execute_plan(definitions_plan, args, NULL, true, 0);
	SetUserIdAndSecContext(save_userid, save_sec_context);

	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	row = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		FanoutView *view = palloc0(sizeof(FanoutView));
		bool		isnull;

		view->viewid = DatumGetObjectId(SPI_getbinval(row, desc, DEF_VIEW, &isnull));
		view->sourceid = sourceid;
		view->targetid = DatumGetObjectId(SPI_getbinval(row, desc, DEF_TARGET, &isnull));
		view->ownerid = DatumGetObjectId(SPI_getbinval(row, desc, DEF_OWNER, &isnull));
		view->name = SPI_getvalue(row, desc, DEF_NAME);
		view->version = DatumGetInt16(SPI_getbinval(row, desc, DEF_VERSION, &isnull));
		if (isnull)
			view->version = 0;
		if (SPI_getvalue(row, desc, DEF_TTL_COLUMN) != NULL)
		{
			FanoutTtl  *ttl = palloc(sizeof(FanoutTtl));

			ttl->column = SPI_getvalue(row, desc, DEF_TTL_COLUMN);
			ttl->interval = SPI_getvalue(row, desc, DEF_TTL);
			ttl->reference = DatumGetObjectId(SPI_getbinval(row, desc, DEF_REFERENCE, &isnull));
			if (isnull)
				ttl->reference = InvalidOid;
			ttl->per_key = DatumGetObjectId(SPI_getbinval(row, desc, DEF_PER_KEY, &isnull));
			if (isnull)
				ttl->per_key = InvalidOid;
			view->ttl = ttl;
		}
		views = lappend(views, view);
	}
	return views;
}

/*
 * The query of view VIEWID as it reads now, or NULL if the view is gone (a
 * drop committed since the definitions were read).  Read from its rule
 * rather than with pg_get_viewdef, which locks the view: an insert must
 * not wait for, nor make wait, a DROP VIEW of one of several views.  The
 * output columns take the view's column names, which ALTER VIEW ... RENAME
 * COLUMN changes without touching the rule.
 */
static char *
view_query_text(Oid viewid)
{
	HeapTuple	tuple;
	Datum		action;
	bool		isnull;
	Query	   *query;
	ListCell   *lc;

	tuple = SearchSysCache2(RULERELNAME, ObjectIdGetDatum(viewid),
							CStringGetDatum(ViewSelectRuleName));
	if (!HeapTupleIsValid(tuple))
		return NULL;
	action = SysCacheGetAttr(RULERELNAME, tuple, Anum_pg_rewrite_ev_action, &isnull);
	query = isnull ? NULL : linitial_node(Query, (List *) stringToNode(TextDatumGetCString(action)));
	ReleaseSysCache(tuple);
	if (query == NULL)
		return NULL;
	ta_drop_view_rule_placeholders(query, viewid);
	foreach(lc, query->targetList)
	{
		TargetEntry *te = lfirst_node(TargetEntry, lc);

		if (te->resjunk)
			continue;
		te->resname = get_attname(viewid, te->resno, true);
		if (te->resname == NULL)
			return NULL;
	}
	return pg_get_querydef(query, false);
}

/*
 * Run one statement on the extension's catalog as its owner, whatever the
 * caller may do there (no other role writes it: a forged row would make
 * other roles' inserts or purges act on tables of the forger's choosing);
 * callers check the caller's rights first.  search_path is pinned while it
 * runs, whatever the caller did: a statement parsed as the catalog's owner
 * under the caller's search_path could resolve an unqualified operator or
 * function to one the caller made.  Shared by the fan-out and TTL files.
 */
int
trace_agg_catalog_execute(const char *sql, int nargs, Oid *argtypes, Datum *args,
						  const char *nulls, bool read_only)
{
	Oid			save_userid;
	int			save_sec_context;
	int			nest;
	int			rc;

	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	nest = fanout_pin_search_path();
	SetUserIdAndSecContext(BOOTSTRAP_SUPERUSERID, save_sec_context | SECURITY_LOCAL_USERID_CHANGE);
	rc = SPI_execute_with_args(sql, nargs, argtypes, args, nulls, read_only, 0);
	SetUserIdAndSecContext(save_userid, save_sec_context);
	AtEOXact_GUC(false, nest);
	if (rc < 0)
		elog(ERROR, "could not run \"%s\": %s", sql, SPI_result_code_string(rc));
	return rc;
}

/*
 * One creation of a view, of either kind, at a time until commit, so that
 * each one's checks (one writer per target, no cycle, no materialized view
 * over a derived target) see every view created before it.  The lock is on
 * the extension's own pg_extension entry, which no DROP of another object
 * takes (the drop event triggers only read the catalogs, unless the drop
 * concerns a view), so an open transaction that created a view holds back
 * other creations only.  The checks then read the catalogs under the
 * snapshot pushed here, taken once the lock is held (under READ COMMITTED
 * it sees the creations that held it before); the caller pops it.
 */
void
trace_agg_lock_view_creation(void)
{
	LockDatabaseObject(ExtensionRelationId, get_extension_oid("trace_agg", false), 0, ExclusiveLock);
	PushActiveSnapshot(GetTransactionSnapshot());
}

/* The owner of a relation; InvalidOid if it is gone. */
Oid
fanout_relation_owner(Oid relid)
{
	HeapTuple	tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	Oid			owner;

	if (!HeapTupleIsValid(tuple))
		return InvalidOid;
	owner = ((Form_pg_class) GETSTRUCT(tuple))->relowner;
	ReleaseSysCache(tuple);
	return owner;
}

static void
check_reference_access(const FanoutView *view, Oid relid)
{
	if (pg_class_aclcheck(relid, fanout_relation_owner(view->targetid),
						  ACL_SELECT) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("the TTL of table \"%s\" refers to table %s, which its owner may not read",
						get_rel_name(view->targetid), fanout_qualified_name(relid)),
				 errhint("Set the TTL again without that table, or grant SELECT on it.")));
}

/*
 * Whether SOURCEID has tombstones (trace_agg.delete_keys), read as the
 * catalog's owner; deleting keys invalidates the source's statements, so
 * they get the filter from the first tombstone on.
 */
static bool
has_tombstones(Oid sourceid)
{
	Oid			argtypes[1] = {OIDOID};
	Datum		args[1] = {ObjectIdGetDatum(sourceid)};

	trace_agg_catalog_execute("SELECT FROM trace_agg.tombstone WHERE source OPERATOR(pg_catalog.=) $1 LIMIT 1",
							  1, argtypes, args, NULL, true);
	return SPI_processed > 0;
}

/*
 * Whether VIEW may join the run RUN[0 .. n-1]: same query and owner, a
 * target not yet in the run, and no TTL asking about the target of a view
 * of the run that has a TTL of its own.  A run is merged by one statement
 * whose parts do not see each other's changes (fanout_build_run_sql): such
 * a view may leave a key as stored, which the statement could not tell.
 * A replacing view runs alone: which rows of a batch it keeps depends on
 * its target's primary key, which its query does not show.
 */
static bool
joins_run(const FanoutView *run, int n, const FanoutView *view)
{
	int			i;

	if (view->ownerid != run[0].ownerid || strcmp(view->query, run[0].query) != 0 ||
		view->version != 0 || run[0].version != 0)
		return false;
	for (i = 0; i < n; i++)
	{
		if (run[i].targetid == view->targetid)
			return false;
		if (view->ttl && run[i].ttl && run[i].targetid == view->ttl->reference)
			return false;
	}
	return true;
}

/*
 * The runs of SOURCEID's views with their statements, in the order they
 * run (or, with ONLY_VIEW, the statement of that view alone), reading the
 * relation named ROWS (NULL: the transition table); *RELIDS gets
 * every relation they involve (views, targets, TTL references and per-key
 * rules), whose changes make the statements stale.  Every view's owner is
 * checked to still be allowed to read the source, and a TTL's reference and
 * rules to be readable by the target's owner (who chose them: what they hold
 * decides which rows the target gets).  Must run
 * inside SPI with search_path pinned to pg_catalog, so that the deparsed
 * queries and the statements qualify every name.
 */
List *
fanout_source_runs(Oid sourceid, Oid only_view, const char *rows, List **relids)
{
	List	   *views;
	List	   *runs = NIL;
	bool		tombstones;
	FanoutView *all;
	ListCell   *lc;
	int			n = 0;
	int			first;
	Oid			save_userid;
	int			save_sec_context;

	/*
	 * Definitions and view queries are read as committed now, not as the
	 * inserting statement's snapshot saw them: a view dropped or created by
	 * a transaction that committed since is seen at once, and its rule and
	 * catalog row are always seen together.
	 */
	fanout_check_catalog_version();
	PushActiveSnapshot(GetLatestSnapshot());
	views = read_definitions(sourceid);
	tombstones = has_tombstones(sourceid);
	all = palloc0(sizeof(FanoutView) * Max(list_length(views), 1));
	*relids = list_make1_oid(sourceid);
	foreach(lc, views)
	{
		FanoutView *view = lfirst(lc);

		if (OidIsValid(only_view) && view->viewid != only_view)
			continue;
		view->query = view_query_text(view->viewid);
		if (view->query == NULL)
			continue;
		fanout_check_source_access(sourceid, view->ownerid, view->name, false);
		if (view->ttl && OidIsValid(view->ttl->reference))
			check_reference_access(view, view->ttl->reference);
		if (view->ttl && OidIsValid(view->ttl->per_key))
			check_reference_access(view, view->ttl->per_key);
		all[n++] = *view;
		*relids = lappend_oid(*relids, view->viewid);
		*relids = list_append_unique_oid(*relids, view->targetid);
		if (view->ttl && OidIsValid(view->ttl->reference))
			*relids = list_append_unique_oid(*relids, view->ttl->reference);
		if (view->ttl && OidIsValid(view->ttl->per_key))
			*relids = list_append_unique_oid(*relids, view->ttl->per_key);
	}
	PopActiveSnapshot();

	for (first = 0; first < n;)
	{
		FanoutRun  *run = palloc0(sizeof(FanoutRun));
		int			end = first + 1;

		while (end < n && joins_run(&all[first], end - first, &all[end]))
			end++;
		run->ownerid = all[first].ownerid;
		run->nviews = end - first;
		run->views = &all[first];
		/*
		 * Parsed as the run's owner, as it runs: the names of its query are
		 * looked up with the owner's rights, not the inserting role's.
		 */
		GetUserIdAndSecContext(&save_userid, &save_sec_context);
		SetUserIdAndSecContext(run->ownerid, save_sec_context |
							   SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION);
		run->sql = fanout_build_run_sql(run->views, run->nviews, rows ? rows : FANOUT_NEW_ROWS,
										tombstones);
		SetUserIdAndSecContext(save_userid, save_sec_context);
		runs = lappend(runs, run);
		first = end;
	}
	return runs;
}
