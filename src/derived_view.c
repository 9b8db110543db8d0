/*
 * derived_view.c
 *		Creating and dropping derived views, the rules that keep them exact
 *		next to materialized views, and showing the statements they run.
 *
 * A derived view is, like a materialized view, a Postgres view holding its
 * query (its name, schema, owner, and the renames of what it reads) plus a
 * row of trace_agg.derived_view naming it, its source and its target by
 * OID, and statement triggers on the source (derived_trigger.c).  Its
 * source is a stored table whose rows change, and every statement writing
 * it recomputes the keys it touched.  It is the only derived view writing
 * its target; materialized views may write the target's other columns
 * (derived_build.c).  Rows of keys the source no longer has are deleted,
 * or, when materialized views share the target, keep what those merged.
 *
 * Chains: a derived view's source may be the target of a materialized view
 * or of another derived view (their upserts and deletes fire its triggers),
 * but a materialized view never reads a derived target (it would see only
 * inserts, never the updates and deletes of a recomputation), and no chain
 * may loop.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_authid.h"
#include "commands/defrem.h"
#include "catalog/pg_class.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_trigger.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/ruleutils.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/varlena.h"

#include "derived.h"
#include "fanout.h"
#include "trace_agg.h"

/* Whether a derived view (or, with MATERIALIZED, a materialized view) writes RELID. */
static char *
writer_of(Oid relid, bool materialized)
{
	Oid			argtypes[1] = {OIDOID};
	Datum		args[1] = {ObjectIdGetDatum(relid)};

	trace_agg_catalog_execute(materialized
							  ? "SELECT view::pg_catalog.text FROM trace_agg.materialized_view WHERE target OPERATOR(pg_catalog.=) $1"
							  : "SELECT view::pg_catalog.text FROM trace_agg.derived_view WHERE target OPERATOR(pg_catalog.=) $1",
							  1, argtypes, args, NULL, true);
	return SPI_processed > 0 ? SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1) : NULL;
}

/*
 * What create_materialized_view must refuse besides its own rules: reading
 * a derived target (the fan-out trigger sees only inserted rows, while a
 * recomputation updates and deletes), and writing a derived target's
 * columns that its derived view writes (COLUMNS, the view's outputs: they
 * must be disjoint besides the key, and the derived view must be able to
 * share its target; derived_build_statements checks both).  Must run
 * inside SPI with search_path pinned.
 */
void
derived_check_materialized_view(Oid sourceid, Oid targetid, const char *viewname, List *columns)
{
	Oid			argtypes[1] = {OIDOID};
	Datum		args[1] = {ObjectIdGetDatum(targetid)};
	char	   *writer;

	if ((writer = writer_of(sourceid, false)) != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("materialized view \"%s\" cannot read table \"%s\", the target of derived view %s",
						viewname, get_rel_name(sourceid), writer),
				 errdetail("A materialized view receives only inserted rows, and a derived view also updates and deletes its target's rows."),
				 errhint("Read the table with a derived view instead.")));
	trace_agg_catalog_execute("SELECT view, source, view::pg_catalog.text FROM trace_agg.derived_view "
							  "WHERE target OPERATOR(pg_catalog.=) $1",
							  1, argtypes, args, NULL, true);
	if (SPI_processed > 0)
	{
		bool		isnull;
		Oid			viewid = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		Oid			dsource = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
		char	   *dname = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3);
		DerivedStatements stmts;

		derived_build_statements(viewid, dsource, targetid, dname, false, false, &stmts,
								 viewname, columns);
	}
}

/* Whether RELID is a trace_agg_null table. */
static bool
stores_nothing(Oid relid)
{
	HeapTuple	tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	Oid			am;

	if (!HeapTupleIsValid(tuple))
		elog(ERROR, "cache lookup failed for relation %u", relid);
	am = ((Form_pg_class) GETSTRUCT(tuple))->relam;
	ReleaseSysCache(tuple);
	/* a partitioned table has no access method */
	return OidIsValid(am) && strcmp(get_am_name(am), "trace_agg_null") == 0;
}

/*
 * A derived view reads a stored table of its own and writes a table no
 * other derived view writes, and its chain does not loop back to its source.
 */
static void
check_tables(Oid sourceid, Oid targetid, const char *viewname)
{
	Oid			argtypes[2] = {OIDOID, OIDOID};
	Datum		args[2] = {ObjectIdGetDatum(sourceid), ObjectIdGetDatum(targetid)};
	char	   *writer;

	trace_agg_catalog_execute("SELECT t.relid::pg_catalog.text FROM pg_catalog.pg_partition_tree($1) t "
							  "JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) t.relid "
							  "LEFT JOIN pg_catalog.pg_am a ON a.oid OPERATOR(pg_catalog.=) c.relam "
							  "WHERE c.relkind OPERATOR(pg_catalog.<>) ALL ('{r,p}') "
							  "OR a.amname OPERATOR(pg_catalog.=) 'trace_agg_null' LIMIT 1",
							  1, argtypes, args, NULL, true);
	if ((get_rel_relkind(sourceid) != RELKIND_RELATION &&
		 get_rel_relkind(sourceid) != RELKIND_PARTITIONED_TABLE) ||
		stores_nothing(sourceid) || SPI_processed > 0)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("source \"%s\" of derived view \"%s\" is not a stored table",
						get_rel_name(sourceid), viewname),
				 errdetail("A derived view recomputes keys from the rows its source stores: a table or a partitioned table whose partitions are tables; a trace_agg_null table stores nothing."),
				 errhint("Use trace_agg.create_materialized_view() for a trace_agg_null source.")));
	if (get_rel_relkind(targetid) != RELKIND_RELATION)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("target \"%s\" of derived view \"%s\" is not a table",
						get_rel_name(targetid), viewname)));
	if (get_rel_persistence(sourceid) == RELPERSISTENCE_TEMP ||
		get_rel_persistence(targetid) == RELPERSISTENCE_TEMP)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("derived view \"%s\" cannot read or write a temporary table", viewname)));
	if (get_rel_relispartition(sourceid))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("source \"%s\" of derived view \"%s\" is a partition", get_rel_name(sourceid), viewname),
				 errhint("Use the partitioned table as the source.")));
	if (get_rel_relkind(sourceid) == RELKIND_RELATION && has_subclass(sourceid))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("source \"%s\" of derived view \"%s\" has inheritance children",
						get_rel_name(sourceid), viewname),
				 errdetail("Statements on a child do not fire the source's statement triggers.")));
	if (sourceid == targetid)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
				 errmsg("derived view \"%s\" cannot read and write the same table", viewname)));
	if ((writer = writer_of(targetid, false)) != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("derived view \"%s\" cannot write table \"%s\", which derived view %s writes",
						viewname, get_rel_name(targetid), writer),
				 errdetail("A table has at most one derived view writing it; materialized views may write its other columns.")));
	trace_agg_catalog_execute("SELECT view::pg_catalog.text FROM trace_agg.materialized_view "
							  "WHERE source OPERATOR(pg_catalog.=) $2", 2, argtypes, args, NULL, true);
	if (SPI_processed > 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("derived view \"%s\" cannot write table \"%s\", the source of materialized view %s",
						viewname, get_rel_name(targetid),
						SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1)),
				 errdetail("A materialized view receives only inserted rows, and a derived view also updates and deletes its target's rows.")));

	/* Edges of both kinds, from source to target: none may lead back. */
	trace_agg_catalog_execute("WITH RECURSIVE edge AS ("
							  "SELECT source, target FROM trace_agg.materialized_view "
							  "UNION ALL SELECT source, target FROM trace_agg.derived_view), "
							  "reach(rel) AS (SELECT $2::pg_catalog.regclass UNION "
							  "SELECT e.target FROM edge e JOIN reach r ON e.source OPERATOR(pg_catalog.=) r.rel) "
							  "SELECT FROM reach WHERE rel OPERATOR(pg_catalog.=) $1",
							  2, argtypes, args, NULL, true);
	if (SPI_processed > 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
				 errmsg("derived view \"%s\" would make a cycle: table \"%s\" already feeds table \"%s\"",
						viewname, get_rel_name(targetid), get_rel_name(sourceid)),
				 errdetail("A chain of views must not loop back to a table it reads.")));
}

/*
 * Whether ROLEID may own a derived view reading SOURCEID: CREATE TRIGGER
 * needs TRIGGER (checked at creation), recomputing needs SELECT, and since
 * a recomputation reads every row of the keys it touches and writes their
 * aggregates where other roles may read them, a source under row-level
 * security only a role that bypasses it: the source's owner (unless it
 * forces row-level security on itself) or a role with BYPASSRLS.  At run
 * time a failure is an error naming the view, so that the source's owner
 * knows which view to drop.
 */
void
derived_check_source_access(Oid sourceid, Oid roleid, const char *viewname, bool creating)
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
				 errmsg("permission denied for derived view \"%s\" to read table \"%s\"",
						viewname, get_rel_name(sourceid)),
				 errdetail("A derived view's owner needs the %s privilege on its source.", missing),
				 creating ? 0 : errhint("The owner of the source can drop the view with trace_agg.drop_derived_view().")));

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
				 errmsg("derived view \"%s\" cannot read table \"%s\": row-level security is enabled on it",
						viewname, get_rel_name(sourceid)),
				 errdetail("A derived view aggregates every row of the keys it recomputes, including rows the policies hide; only the table's owner or a role with BYPASSRLS may own one."),
				 creating ? 0 : errhint("The owner of the source can drop the view with trace_agg.drop_derived_view().")));
}

/*
 * The triggers that maintain the derived views of RELID, made once, on it
 * and, for a partitioned table, on every member of its tree: a statement
 * naming a partition fires the partition's statement triggers, not its
 * parent's.  Also called for a partition created in, or attached to, a
 * source's tree (derived_ddl.c).
 */
void
derived_ensure_triggers(Oid relid)
{
	/* Each trigger: its name, event, tgtype (AFTER ... FOR EACH STATEMENT), transition tables */
	static const struct
	{
		const char *name;
		const char *event;
		int16		tgtype;
		const char *oldrows;
		const char *newrows;
	}			triggers[] = {
		{DERIVED_TRIGGER_INSERT, "INSERT", TRIGGER_TYPE_INSERT, NULL, DERIVED_NEW_ROWS},
		{DERIVED_TRIGGER_UPDATE, "UPDATE", TRIGGER_TYPE_UPDATE, DERIVED_OLD_ROWS, DERIVED_NEW_ROWS},
		{DERIVED_TRIGGER_DELETE, "DELETE", TRIGGER_TYPE_DELETE, DERIVED_OLD_ROWS, NULL},
		{DERIVED_TRIGGER_TRUNCATE, "TRUNCATE", TRIGGER_TYPE_TRUNCATE, NULL, NULL},
	};
	Oid			argtypes[5] = {OIDOID, TEXTOID, INT2OID, TEXTOID, TEXTOID};
	Datum		args[5];
	char		nulls[5];
	List	   *members = NIL;
	ListCell   *lc;
	uint64		i;
	int			e;

	args[0] = ObjectIdGetDatum(relid);
	SPI_execute_with_args("SELECT relid::pg_catalog.oid FROM pg_catalog.pg_partition_tree($1) "
						  "WHERE relid IS NOT NULL UNION SELECT $1 ORDER BY 1",
						  1, argtypes, args, NULL, true, 0);
	for (i = 0; i < SPI_processed; i++)
	{
		bool		isnull;

		members = lappend_oid(members, DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i],
																	  SPI_tuptable->tupdesc, 1, &isnull)));
	}
	foreach(lc, members)
	{
		for (e = 0; e < lengthof(triggers); e++)
		{
			StringInfoData referencing;
			bool		isnull;

			args[0] = ObjectIdGetDatum(lfirst_oid(lc));
			args[1] = CStringGetTextDatum(triggers[e].name);
			args[2] = Int16GetDatum(triggers[e].tgtype);
			args[3] = triggers[e].oldrows ? CStringGetTextDatum(triggers[e].oldrows) : (Datum) 0;
			args[4] = triggers[e].newrows ? CStringGetTextDatum(triggers[e].newrows) : (Datum) 0;
			memset(nulls, ' ', sizeof(nulls));
			nulls[3] = triggers[e].oldrows ? ' ' : 'n';
			nulls[4] = triggers[e].newrows ? ' ' : 'n';

			/*
			 * A trigger of that name made by someone else (a role with
			 * TRIGGER on the source can make one) is not taken for ours: the
			 * views would silently miss the statements it does not pass on.
			 */
			SPI_execute_with_args("SELECT g.tgfoid OPERATOR(pg_catalog.=) 'trace_agg.derived_maintain()'::pg_catalog.regprocedure "
								  "AND g.tgtype OPERATOR(pg_catalog.=) $3 AND g.tgqual IS NULL "
								  "AND g.tgoldtable IS NOT DISTINCT FROM $4::pg_catalog.name "
								  "AND g.tgnewtable IS NOT DISTINCT FROM $5::pg_catalog.name "
								  "FROM pg_catalog.pg_trigger g WHERE g.tgrelid OPERATOR(pg_catalog.=) $1 "
								  "AND g.tgname OPERATOR(pg_catalog.=) $2::pg_catalog.name",
								  5, argtypes, args, nulls, true, 1);
			if (SPI_processed > 0)
			{
				if (!DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)))
					ereport(ERROR,
							(errcode(ERRCODE_DUPLICATE_OBJECT),
							 errmsg("table %s has a trigger named \"%s\" that trace_agg did not make",
									fanout_qualified_name(lfirst_oid(lc)), triggers[e].name),
							 errdetail("Derived views would rely on it to see the table's changes."),
							 errhint("The table's owner can drop that trigger.")));
				continue;
			}
			initStringInfo(&referencing);
			if (triggers[e].oldrows || triggers[e].newrows)
				appendStringInfoString(&referencing, "REFERENCING");
			if (triggers[e].oldrows)
				appendStringInfo(&referencing, " OLD TABLE AS %s", triggers[e].oldrows);
			if (triggers[e].newrows)
				appendStringInfo(&referencing, " NEW TABLE AS %s", triggers[e].newrows);
			if (SPI_execute(psprintf("CREATE TRIGGER %s AFTER %s ON %s %s FOR EACH STATEMENT "
									 "EXECUTE FUNCTION trace_agg.derived_maintain()",
									 triggers[e].name, triggers[e].event,
									 fanout_qualified_name(lfirst_oid(lc)), referencing.data),
							false, 0) != SPI_OK_UTILITY)
				elog(ERROR, "could not create derived view trigger on table %u", lfirst_oid(lc));
		}
	}
}

/* Run SQL as ROLEID in a security-restricted operation, as maintenance does. */
static void
execute_as(Oid roleid, const char *sql, const char *viewname)
{
	Oid			save_userid;
	int			save_sec_context;

	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(roleid, save_sec_context |
						   SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION);
	if (SPI_execute(sql, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "statement of derived view \"%s\" failed: %s",
			 viewname, SPI_result_code_string(SPI_result));
	SetUserIdAndSecContext(save_userid, save_sec_context);
}

/* What the creator of derived view VIEWNAME needs on its source and target. */
static void
check_rights(Oid sourceid, Oid targetid, const char *viewname)
{
	derived_check_source_access(sourceid, GetUserId(), viewname, true);
	if (pg_class_aclcheck(targetid, GetUserId(), ACL_SELECT) != ACLCHECK_OK ||
		pg_class_aclcheck(targetid, GetUserId(), ACL_INSERT) != ACLCHECK_OK ||
		pg_class_aclcheck(targetid, GetUserId(), ACL_UPDATE) != ACLCHECK_OK ||
		pg_class_aclcheck(targetid, GetUserId(), ACL_DELETE) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to create derived view \"%s\"", viewname),
				 errdetail("The view runs with its owner's rights, who needs SELECT, INSERT, UPDATE and DELETE on table \"%s\".",
						   get_rel_name(targetid))));
}

PG_FUNCTION_INFO_V1(trace_agg_create_derived_view);
Datum
trace_agg_create_derived_view(PG_FUNCTION_ARGS)
{
	char	   *name;
	Oid			targetid;
	char	   *query_text;
	RangeVar   *rv;
	Query	   *query;
	Oid			sourceid;
	Oid			viewid;
	char	   *mode;
	Oid			argtypes[4] = {OIDOID, OIDOID, OIDOID, TEXTOID};
	Datum		args[4];
	DerivedStatements stmts;
	int			nest;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2) || PG_ARGISNULL(3))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("name, target, query and mode of a derived view must not be null")));
	name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	targetid = PG_GETARG_OID(1);
	query_text = text_to_cstring(PG_GETARG_TEXT_PP(2));
	mode = text_to_cstring(PG_GETARG_TEXT_PP(3));
	if (name[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_NAME),
				 errmsg("derived view name must not be empty")));
	if (strcmp(mode, DERIVED_MODE_RECOMPUTE) != 0 && strcmp(mode, DERIVED_MODE_DELTA) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid mode \"%s\" of derived view \"%s\"", mode, name),
				 errhint("The mode is 'recompute' (the default) or 'delta'.")));
	if (IsolationUsesXactSnapshot())
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("derived view \"%s\" needs READ COMMITTED", name),
				 errdetail("Its target is computed from the source as committed once the source is locked; a transaction snapshot taken earlier would miss rows.")));
	rv = fanout_view_range_var(PG_GETARG_TEXT_PP(0), targetid);

	SPI_connect();
	fanout_check_catalog_version();
	/* The query means what it means under the caller's search_path. */
	query = fanout_analyze(query_text, name, &sourceid, false);
	nest = fanout_pin_search_path();

	/*
	 * The rights first, so that a role without them never queues for the
	 * locks below behind, or ahead of, the owner's writers; again once they
	 * are held, as they may have changed meanwhile.
	 */
	check_rights(sourceid, targetid, name);

	/*
	 * Writers of the source wait until this commits (as for CREATE
	 * TRIGGER), so that the target computed below misses no row and no
	 * statement that commits later escapes the triggers.  The target too:
	 * nothing else may write it from now on.
	 */
	LockRelationOid(sourceid, ShareRowExclusiveLock);
	LockRelationOid(targetid, ShareRowExclusiveLock);
	trace_agg_lock_view_creation();
	check_tables(sourceid, targetid, name);
	check_rights(sourceid, targetid, name);

	if (isAnyTempNamespace(LookupCreationNamespace(rv->schemaname)))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("derived view \"%s\" cannot be temporary", name)));
	if (OidIsValid(get_relname_relid(rv->relname, LookupCreationNamespace(rv->schemaname))))
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_TABLE),
				 errmsg("relation \"%s\" already exists", quote_qualified_identifier(rv->schemaname, rv->relname)),
				 errdetail("A derived view's name is the name of a view in its schema.")));
	if (SPI_execute(psprintf("CREATE VIEW %s AS %s",
							 quote_qualified_identifier(rv->schemaname, rv->relname),
							 pg_get_querydef(copyObject(query), false)),
					false, 0) != SPI_OK_UTILITY)
		elog(ERROR, "could not create view of derived view \"%s\"", name);
	CommandCounterIncrement();
	viewid = RangeVarGetRelid(rv, NoLock, false);

	args[0] = ObjectIdGetDatum(viewid);
	args[1] = ObjectIdGetDatum(sourceid);
	args[2] = ObjectIdGetDatum(targetid);
	args[3] = CStringGetTextDatum(mode);
	trace_agg_catalog_execute("INSERT INTO trace_agg.derived_view (view, source, target, mode) VALUES ($1, $2, $3, $4)",
							  4, argtypes, args, NULL, false);
	derived_ensure_triggers(sourceid);
	CommandCounterIncrement();

	/* Every key the source holds now; rows already in the target are made to match. */
	derived_build_statements(viewid, sourceid, targetid, name, true, true, &stmts, NULL, NIL);
	if (stmts.delta)
		derived_delta_check_ttl(targetid, name);
	execute_as(GetUserId(), stmts.full_sql, name);

	PopActiveSnapshot();
	AtEOXact_GUC(false, nest);
	SPI_finish();
	PG_RETURN_VOID();
}

/*
 * Drop a derived view, as drop_materialized_view does (fanout_drop_view):
 * the target keeps its rows, and the source's last derived view takes its
 * triggers with it.
 */
PG_FUNCTION_INFO_V1(trace_agg_drop_derived_view);
Datum
trace_agg_drop_derived_view(PG_FUNCTION_ARGS)
{
	fanout_drop_view(PG_GETARG_TEXT_PP(0), PG_GETARG_BOOL(1), true);
	PG_RETURN_VOID();
}

/*
 * Recompute every key of one derived view as its owner; the caller has
 * locked the source against writers.  Must run inside SPI with search_path
 * pinned.
 */
static void
refresh_view(Oid viewid, Oid sourceid, Oid targetid, Oid owner, const char *name)
{
	DerivedStatements stmts;

	LockRelationOid(targetid, RowExclusiveLock);
	derived_check_source_access(sourceid, owner, name, false);
	derived_build_statements(viewid, sourceid, targetid, name, false, false, &stmts, NULL, NIL);
	execute_as(owner, stmts.full_sql, name);
}

/*
 * Recompute every key of every derived view of SOURCEID, whose rows changed
 * without a statement writing them: a partition was attached to or
 * detached from it (derived_ddl.c).  Writers are locked out first, as for
 * refresh_derived_view.  Must run inside SPI with search_path pinned.
 */
void
derived_refresh_source(Oid sourceid)
{
	Oid			argtypes[1] = {OIDOID};
	Datum		args[1] = {ObjectIdGetDatum(sourceid)};
	SPITupleTable *views;
	uint64		nviews;
	uint64		i;

	if (IsolationUsesXactSnapshot())
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("table \"%s\" is the source of a derived view, which needs READ COMMITTED",
						get_rel_name(sourceid)),
				 errdetail("Its rows change, and its derived views are recomputed from it as committed once it is locked.")));
	LockRelationOid(sourceid, ShareRowExclusiveLock);
	trace_agg_catalog_execute("SELECT d.view::pg_catalog.oid, d.target::pg_catalog.oid, c.relowner, "
							  "d.view::pg_catalog.text FROM trace_agg.derived_view d "
							  "JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) d.view "
							  "JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace "
							  "WHERE d.source OPERATOR(pg_catalog.=) $1 ORDER BY n.nspname, c.relname",
							  1, argtypes, args, NULL, true);
	views = SPI_tuptable;
	nviews = SPI_processed;
	for (i = 0; i < nviews; i++)
	{
		bool		isnull;

		refresh_view(DatumGetObjectId(SPI_getbinval(views->vals[i], views->tupdesc, 1, &isnull)), sourceid,
					 DatumGetObjectId(SPI_getbinval(views->vals[i], views->tupdesc, 2, &isnull)),
					 DatumGetObjectId(SPI_getbinval(views->vals[i], views->tupdesc, 3, &isnull)),
					 SPI_getvalue(views->vals[i], views->tupdesc, 4));
	}
}

/*
 * Recompute every key of a derived view now, for a source whose rows
 * changed without firing its triggers: under session_replication_role =
 * replica (as logical replication applies changes), or with its triggers
 * disabled.  The view's owner or the source's owner may refresh it, as
 * only its owner may refresh a materialized view in Postgres; its target's
 * owner, who may drop it, may not: the refresh writes the target as the
 * view's owner, so that its triggers on the target would run with the view
 * owner's rights whenever it chose.  As at creation, the source is locked
 * against writers first, so that the recomputation, in a new statement,
 * sees every write committed before it and none happens while it runs.
 */
PG_FUNCTION_INFO_V1(trace_agg_refresh_derived_view);
Datum
trace_agg_refresh_derived_view(PG_FUNCTION_ARGS)
{
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	RangeVar   *rv = fanout_view_range_var(PG_GETARG_TEXT_PP(0), InvalidOid);
	Oid			viewid;
	Oid			argtypes[1] = {OIDOID};
	Datum		args[1];
	Oid			owner;
	Oid			sourceid;
	Oid			targetid;
	bool		isnull;
	int			nest;

	if (rv->schemaname)
		viewid = get_relname_relid(rv->relname, get_namespace_oid(rv->schemaname, true));
	else
		viewid = RangeVarGetRelid(rv, NoLock, true);
	args[0] = ObjectIdGetDatum(viewid);
	if (IsolationUsesXactSnapshot())
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("derived view \"%s\" needs READ COMMITTED", name),
				 errdetail("Its target is computed from the source as committed once the source is locked; a transaction snapshot taken earlier would miss rows.")));

	SPI_connect();
	fanout_check_catalog_version();
	nest = fanout_pin_search_path();
	SPI_execute_with_args("SELECT source::pg_catalog.oid, target::pg_catalog.oid FROM trace_agg.derived_view "
						  "WHERE view OPERATOR(pg_catalog.=) $1",
						  1, argtypes, args, NULL, true, 1);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(OidIsValid(viewid) ? ERRCODE_WRONG_OBJECT_TYPE : ERRCODE_UNDEFINED_OBJECT),
				 OidIsValid(viewid)
				 ? errmsg("\"%s\" is not a derived view of trace_agg", name)
				 : errmsg("derived view \"%s\" does not exist", name)));
	sourceid = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	targetid = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	owner = fanout_relation_owner(viewid);
	if (!has_privs_of_role(GetUserId(), owner) &&
		!has_privs_of_role(GetUserId(), fanout_relation_owner(sourceid)))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("must be owner of derived view \"%s\" or of its source to refresh it", name)));

	LockRelationOid(sourceid, ShareRowExclusiveLock);
	refresh_view(viewid, sourceid, targetid, owner, name);

	AtEOXact_GUC(false, nest);
	SPI_finish();
	PG_RETURN_VOID();
}

/*
 * The statements that maintain the derived views of SOURCE, in the order
 * they run, each as its view's owner: the hashes of the keys a statement
 * touched (maintenance locks them in C, in that order) and their
 * recomputation, the keys passed as one array per key column ($1 ...,
 * of the types in key_types), and the recomputation of every key (creation,
 * TRUNCATE).  For a view in delta mode, no lock statement: the statement
 * gathering a firing's changes (delta_statement, over the transition
 * tables), the one adding them (statement: key_types lists the keys'
 * arrays, then one numeric[] per count or sum and two jsonb[] per sum_map)
 * and the one deleting the rows whose count fell to 0, making sums null and
 * subtracting from sum_maps (cleanup_statement).  To read them, or EXPLAIN
 * them after PREPARE.
 */
PG_FUNCTION_INFO_V1(trace_agg_derived_view_statements);
Datum
trace_agg_derived_view_statements(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Oid			sourceid = PG_GETARG_OID(0);
	MemoryContext callcxt = CurrentMemoryContext;
	Oid			argtypes[1] = {OIDOID};
	Datum		args[1] = {ObjectIdGetDatum(sourceid)};
	SPITupleTable *views;
	uint64		nviews;
	uint64		i;
	int			nest;

	InitMaterializedSRF(fcinfo, 0);
	SPI_connect();
	nest = fanout_pin_search_path();
	trace_agg_catalog_execute("SELECT d.view::pg_catalog.oid, d.target::pg_catalog.oid, c.relowner, "
							  "d.view::pg_catalog.text FROM trace_agg.derived_view d "
							  "JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) d.view "
							  "JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace "
							  "WHERE d.source OPERATOR(pg_catalog.=) $1 ORDER BY n.nspname, c.relname",
							  1, argtypes, args, NULL, true);
	views = SPI_tuptable;
	nviews = SPI_processed;

	/*
	 * Building the statements locks the source, the views and the targets
	 * until commit: only a role that may read the source, or owns one of
	 * its derived views, may see them.  Checked before anything is opened.
	 */
	if (pg_class_aclcheck(sourceid, GetUserId(), ACL_SELECT) != ACLCHECK_OK)
	{
		bool		owns_one = false;

		for (i = 0; i < nviews && !owns_one; i++)
		{
			bool		isnull;

			owns_one = has_privs_of_role(GetUserId(),
										 DatumGetObjectId(SPI_getbinval(views->vals[i], views->tupdesc, 3, &isnull)));
		}
		if (!owns_one)
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("permission denied for table %s", get_rel_name(sourceid)),
					 errdetail("The statements of a table's derived views are shown to roles with SELECT on it and to the owners of its derived views.")));
	}
	for (i = 0; i < nviews; i++)
	{
		bool		isnull;
		Oid			viewid = DatumGetObjectId(SPI_getbinval(views->vals[i], views->tupdesc, 1, &isnull));
		Oid			targetid = DatumGetObjectId(SPI_getbinval(views->vals[i], views->tupdesc, 2, &isnull));
		Oid			owner = DatumGetObjectId(SPI_getbinval(views->vals[i], views->tupdesc, 3, &isnull));
		DerivedStatements stmts;
		Datum		values[9];
		bool		nulls[9] = {false, false, false, false, false, false, false, false, false};
		Datum	   *types;
		MemoryContext oldcxt;
		int			k;

		derived_build_statements(viewid, sourceid, targetid,
								 SPI_getvalue(views->vals[i], views->tupdesc, 4), true, true, &stmts,
								 NULL, NIL);
		oldcxt = MemoryContextSwitchTo(callcxt);
		types = palloc(sizeof(Datum) * Max(stmts.nparams, 1));
		for (k = 0; k < stmts.nparams; k++)
			types[k] = ObjectIdGetDatum(stmts.key_array_types[k]);
		values[0] = ObjectIdGetDatum(viewid);
		values[1] = ObjectIdGetDatum(owner);
		values[2] = PointerGetDatum(construct_array(types, stmts.nparams, REGTYPEOID,
													sizeof(Oid), true, TYPALIGN_INT));
		nulls[3] = stmts.lock_sql == NULL;
		values[3] = nulls[3] ? (Datum) 0 : CStringGetTextDatum(stmts.lock_sql);
		values[4] = CStringGetTextDatum(stmts.keys_sql);
		values[5] = CStringGetTextDatum(stmts.full_sql);
		values[6] = CStringGetTextDatum(stmts.delta ? DERIVED_MODE_DELTA : DERIVED_MODE_RECOMPUTE);
		nulls[7] = !stmts.delta;
		values[7] = stmts.delta ? CStringGetTextDatum(stmts.collect_sql) : (Datum) 0;
		nulls[8] = !stmts.delta;
		values[8] = stmts.delta ? CStringGetTextDatum(stmts.cleanup_sql) : (Datum) 0;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		MemoryContextSwitchTo(oldcxt);
	}
	AtEOXact_GUC(false, nest);
	SPI_finish();
	return (Datum) 0;
}
