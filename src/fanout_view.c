/*
 * fanout_view.c
 *		Creating and dropping materialized views, and showing the statements
 *		they run.
 *
 * A materialized view is a Postgres view plus a row of
 * trace_agg.materialized_view naming it, its source and its target by OID,
 * and one statement trigger on the source that runs every view of it.  The
 * Postgres view holds the query the way Postgres holds any view's: as an
 * analysed rule, followed through renames of tables, columns, schemas and
 * functions, and protected by dependencies (dropping a column or table it
 * reads needs CASCADE, which drops the view).  It also gives the
 * materialized view a name in a schema, an owner that DROP ROLE, REASSIGN
 * OWNED and DROP OWNED know about, and a place in pg_dump.  Selecting from
 * it aggregates the whole source, which for a stored source is the
 * recomputation every merged target row must equal.
 *
 * The catalog is the extension's: only these functions and the drop event
 * trigger write it, as its owner, after checking the caller's rights by
 * Postgres' rules (see fanout_check_source_access).
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/dependency.h"
#include "catalog/namespace.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_class.h"
#include "catalog/pg_trigger.h"
#include "catalog/pg_type.h"
#include "access/xact.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/ruleutils.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/varlena.h"

#include "derived.h"
#include "fanout.h"
#include "trace_agg.h"

/*
 * The fan-out trigger sees only the rows an INSERT adds, not the rows an
 * upsert updates, so a target cannot be the source of another view: the
 * second view would silently miss every merged update.
 */
static void
check_not_chained(Oid sourceid, Oid targetid, const char *viewname)
{
	Oid			argtypes[2] = {OIDOID, OIDOID};
	Datum		args[2] = {ObjectIdGetDatum(sourceid), ObjectIdGetDatum(targetid)};

	SPI_execute_with_args("SELECT FROM trace_agg.materialized_view "
						  "WHERE target OPERATOR(pg_catalog.=) $1 OR source OPERATOR(pg_catalog.=) $2",
						  2, argtypes, args, NULL, true, 1);
	if (SPI_processed > 0 || sourceid == targetid)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("materialized view \"%s\" would chain \"%s\" and \"%s\"",
						viewname, get_rel_name(sourceid), get_rel_name(targetid)),
				 errdetail("A table cannot be both the target of a materialized view and the source of one: merged updates would not reach the second view."),
				 errhint("Read every view from the raw source instead.")));
}

/*
 * Two views with the same source, target and query would merge every row
 * twice (a summing target would count double): refuse the second.
 */
static void
check_not_duplicate(Oid viewid, Oid sourceid, Oid targetid, const char *viewname)
{
	Oid			argtypes[3] = {OIDOID, OIDOID, OIDOID};
	Datum		args[3] = {ObjectIdGetDatum(viewid), ObjectIdGetDatum(sourceid), ObjectIdGetDatum(targetid)};

	/* pg_get_viewdef reads rules with the active snapshot: see the new one */
	PushActiveSnapshot(GetLatestSnapshot());
	SPI_execute_with_args("SELECT m.view::pg_catalog.text FROM trace_agg.materialized_view m "
						  "WHERE m.source OPERATOR(pg_catalog.=) $2 AND m.target OPERATOR(pg_catalog.=) $3 "
						  "AND pg_catalog.pg_get_viewdef(m.view) OPERATOR(pg_catalog.=) pg_catalog.pg_get_viewdef($1)",
						  3, argtypes, args, NULL, true, 1);
	PopActiveSnapshot();
	if (SPI_processed > 0)
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("materialized view \"%s\" would merge the same rows as materialized view %s",
						viewname, SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1)),
				 errdetail("Both read the same source with the same query into the same target, so every row would be merged twice.")));
}

static void
ensure_trigger(Oid sourceid)
{
	Oid			argtypes[2] = {OIDOID, INT2OID};
	Datum		args[2] = {ObjectIdGetDatum(sourceid), Int16GetDatum(TRIGGER_TYPE_INSERT)};

	/*
	 * A trigger of that name made by someone else (a role with TRIGGER on
	 * the source can make one) is not taken for ours: views relying on it
	 * would receive nothing, or what its function chooses.  Ours is AFTER
	 * INSERT FOR EACH STATEMENT, with no WHEN and the transition table the
	 * fan-out reads.
	 */
	SPI_execute_with_args("SELECT g.tgfoid OPERATOR(pg_catalog.=) 'trace_agg.fanout()'::pg_catalog.regprocedure "
						  "AND g.tgtype OPERATOR(pg_catalog.=) $2 AND g.tgqual IS NULL AND g.tgoldtable IS NULL "
						  "AND g.tgnewtable OPERATOR(pg_catalog.=) '" FANOUT_NEW_ROWS "' "
						  "FROM pg_catalog.pg_trigger g WHERE g.tgrelid OPERATOR(pg_catalog.=) $1 "
						  "AND g.tgname OPERATOR(pg_catalog.=) '" FANOUT_TRIGGER_NAME "'",
						  2, argtypes, args, NULL, true, 1);
	if (SPI_processed > 0)
	{
		bool		isnull;

		if (!DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)))
			ereport(ERROR,
					(errcode(ERRCODE_DUPLICATE_OBJECT),
					 errmsg("table %s has a trigger named \"" FANOUT_TRIGGER_NAME "\" that trace_agg did not make",
							fanout_qualified_name(sourceid)),
					 errdetail("Materialized views would rely on it to receive the table's rows."),
					 errhint("The table's owner can drop that trigger.")));
		return;
	}
	if (SPI_execute(psprintf("CREATE TRIGGER " FANOUT_TRIGGER_NAME " AFTER INSERT ON %s "
							 "REFERENCING NEW TABLE AS " FANOUT_NEW_ROWS
							 " FOR EACH STATEMENT EXECUTE FUNCTION trace_agg.fanout()",
							 fanout_qualified_name(sourceid)),
					false, 0) != SPI_OK_UTILITY)
		elog(ERROR, "could not create fan-out trigger on table %u", sourceid);
}

/*
 * Sources and targets that would silently lose rows or outlive a view's
 * definition are refused: a temporary table goes at the end of its session
 * without a drop the views could see; rows inserted directly into a
 * partition or an inheritance child fire no trigger of the parent (insert
 * through a partitioned table instead, which is accepted).
 */
static void
check_source_kind(Oid sourceid, Oid targetid, const char *viewname)
{
	if (get_rel_persistence(sourceid) == RELPERSISTENCE_TEMP ||
		get_rel_persistence(targetid) == RELPERSISTENCE_TEMP)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("materialized view \"%s\" cannot read or write a temporary table", viewname)));
	if (get_rel_relispartition(sourceid))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("source \"%s\" of materialized view \"%s\" is a partition", get_rel_name(sourceid), viewname),
				 errdetail("Rows inserted through the partitioned table do not fire the partition's statement triggers."),
				 errhint("Use the partitioned table as the source.")));
	if (get_rel_relkind(sourceid) == RELKIND_RELATION && has_subclass(sourceid))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("source \"%s\" of materialized view \"%s\" has inheritance children", get_rel_name(sourceid), viewname),
				 errdetail("Rows inserted into a child do not fire the parent's statement triggers.")));
}

/* A view name as given, possibly qualified; unqualified: the target's schema. */
RangeVar *
fanout_view_range_var(text *name, Oid targetid)
{
	RangeVar   *rv = makeRangeVarFromNameList(textToQualifiedNameList(name));

	if (rv->schemaname == NULL && OidIsValid(targetid))
		rv->schemaname = get_namespace_name(get_rel_namespace(targetid));
	return rv;
}

/*
 * Aggregate the rows the source already holds into the new view's target,
 * as its owner in a security-restricted operation, through the statement
 * the view runs for a batch, reading the source instead of the transition
 * table.  The caller holds a lock on the source that keeps inserts out
 * until it commits, and a snapshot taken after it: every row committed
 * before is merged once here, every later one by the trigger.  Rows are
 * fed in the order a scan of the source returns them, which stands for
 * the arrival order (any_last and argMax ties).
 */
static void
backfill_view(Oid sourceid, Oid viewid)
{
	List	   *relids;
	List	   *runs = fanout_source_runs(sourceid, viewid, fanout_qualified_name(sourceid), &relids);
	FanoutRun  *run = linitial(runs);
	Oid			save_userid;
	int			save_sec_context;

	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(run->ownerid, save_sec_context |
						   SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION);
	if (SPI_execute(run->sql, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "backfill of materialized view \"%s\" failed: %s",
			 run->views[0].name, SPI_result_code_string(SPI_result));
	SetUserIdAndSecContext(save_userid, save_sec_context);
}

/*
 * The output of QUERY that writes VERSION, the version column of a
 * replacing view: its number, which is the number of the view's column
 * (the catalog keeps it, as renames change the name and pg_dump keeps the
 * order of a view's columns, not the numbers of a table's).  The rest of
 * the view is checked with its statement (fanout_build.c).
 */
static AttrNumber
replacing_version_column(Query *query, Oid targetid, const char *version, const char *viewname)
{
	ListCell   *lc;
	AttrNumber	attnum = get_attnum(targetid, version);

	if (attnum == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("version column \"%s\" of materialized view \"%s\" does not exist in target table \"%s\"",
						version, viewname, get_rel_name(targetid))));
	/* A system column is no column the view can write. */
	if (attnum < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
				 errmsg("version column \"%s\" of materialized view \"%s\" is a system column",
						version, viewname),
				 errhint("Name a column of target table \"%s\" that the view writes.", get_rel_name(targetid))));
	foreach(lc, query->targetList)
	{
		TargetEntry *te = lfirst_node(TargetEntry, lc);

		if (!te->resjunk && strcmp(te->resname, version) == 0)
			return te->resno;
	}
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
			 errmsg("materialized view \"%s\" does not write its version column \"%s\"", viewname, version),
			 errhint("Select the version from the source under the column's name, as in s.last_updated_at AS last_updated_at.")));
	return 0;					/* keep compiler quiet */
}

/*
 * What the creator of materialized view VIEWNAME needs on its source and
 * target.  Checked before any lock is taken, so that a role without them
 * never queues behind, or ahead of, the owner's writers; and again once the
 * locks are held, as they may have changed meanwhile.
 */
static void
check_rights(Oid sourceid, Oid targetid, const char *viewname)
{
	fanout_check_source_access(sourceid, GetUserId(), viewname, true);
	if (pg_class_aclcheck(targetid, GetUserId(), ACL_INSERT) != ACLCHECK_OK ||
		pg_class_aclcheck(targetid, GetUserId(), ACL_UPDATE) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to create materialized view \"%s\"", viewname),
				 errdetail("The view runs with its owner's rights, who needs INSERT and UPDATE on table \"%s\".",
						   get_rel_name(targetid))));
}

PG_FUNCTION_INFO_V1(trace_agg_create_materialized_view);
Datum
trace_agg_create_materialized_view(PG_FUNCTION_ARGS)
{
	char	   *name;
	Oid			targetid;
	char	   *query_text;
	bool		backfill;
	RangeVar   *rv;
	Query	   *query;
	Oid			sourceid;
	Oid			viewid;
	char	   *normalized;
	char	   *version = NULL;
	AttrNumber	version_attnum = 0;
	Oid			argtypes[4] = {OIDOID, OIDOID, OIDOID, INT2OID};
	Datum		args[4];
	char		nulls[4] = {' ', ' ', ' ', 'n'};
	int			nest;
	List	   *columns = NIL;
	ListCell   *lc;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("name, target and query of a materialized view must not be null")));
	name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	targetid = PG_GETARG_OID(1);
	query_text = text_to_cstring(PG_GETARG_TEXT_PP(2));
	/* 0.1's SQL declares three arguments; 0.2 adds backfill */
	backfill = PG_NARGS() > 3 && !PG_ARGISNULL(3) && PG_GETARG_BOOL(3);
	/* and, later in 0.2, the version column of a replacing view */
	if (PG_NARGS() > 4 && !PG_ARGISNULL(4))
		version = pstrdup(NameStr(*PG_GETARG_NAME(4)));
	if (backfill && IsolationUsesXactSnapshot())
		ereport(ERROR,
				(errcode(ERRCODE_ACTIVE_SQL_TRANSACTION),
				 errmsg("backfill of materialized view \"%s\" needs READ COMMITTED", name),
				 errdetail("The backfill must see every row committed before it locks the source; a transaction snapshot taken earlier would miss some.")));
	if (name[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_NAME),
				 errmsg("materialized view name must not be empty")));
	rv = fanout_view_range_var(PG_GETARG_TEXT_PP(0), targetid);

	SPI_connect();
	fanout_check_catalog_version();
	/* The query means what it means under the caller's search_path. */
	query = fanout_analyze(query_text, name, &sourceid, version != NULL);
	nest = fanout_pin_search_path();
	if (version)
		version_attnum = replacing_version_column(query, targetid, version, name);

	check_rights(sourceid, targetid, name);

	/*
	 * For a backfill, no insert may run from before the backfill's snapshot
	 * to the commit: it would be merged by neither.  This lock waits for the
	 * inserting transactions and keeps new ones out (as CREATE TRIGGER's).
	 */
	if (backfill)
		LockRelationOid(sourceid, ShareRowExclusiveLock);
	normalized = pg_get_querydef(copyObject(query), false);

	trace_agg_lock_view_creation();
	check_source_kind(sourceid, targetid, name);
	check_rights(sourceid, targetid, name);
	check_not_chained(sourceid, targetid, name);
	foreach(lc, query->targetList)
		if (!lfirst_node(TargetEntry, lc)->resjunk)
			columns = lappend(columns, lfirst_node(TargetEntry, lc)->resname);
	derived_check_materialized_view(sourceid, targetid, name, columns);

	/* CREATE on the schema and a free name, as for any view. */
	if (isAnyTempNamespace(LookupCreationNamespace(rv->schemaname)))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("materialized view \"%s\" cannot be temporary", name),
				 errdetail("A temporary view would go at the end of the session without being forgotten.")));
	if (OidIsValid(get_relname_relid(rv->relname, LookupCreationNamespace(rv->schemaname))))
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_TABLE),
				 errmsg("relation \"%s\" already exists", quote_qualified_identifier(rv->schemaname, rv->relname)),
				 errdetail("A materialized view's name is the name of a view in its schema.")));
	if (SPI_execute(psprintf("CREATE VIEW %s AS %s",
							 quote_qualified_identifier(rv->schemaname, rv->relname), normalized),
					false, 0) != SPI_OK_UTILITY)
		elog(ERROR, "could not create view of materialized view \"%s\"", name);
	CommandCounterIncrement();
	viewid = RangeVarGetRelid(rv, NoLock, false);
	check_not_duplicate(viewid, sourceid, targetid, name);

	args[0] = ObjectIdGetDatum(viewid);
	args[1] = ObjectIdGetDatum(sourceid);
	args[2] = ObjectIdGetDatum(targetid);
	args[3] = Int16GetDatum(version_attnum);
	if (version_attnum != 0)
		nulls[3] = ' ';
	trace_agg_catalog_execute("INSERT INTO trace_agg.materialized_view (view, source, target, version_attnum) "
							  "VALUES ($1, $2, $3, $4)",
							  4, argtypes, args, nulls, false);
	ensure_trigger(sourceid);
	CacheInvalidateRelcacheByRelid(sourceid);
	CommandCounterIncrement();
	fanout_check_statements(sourceid, viewid);
	if (backfill)
		backfill_view(sourceid, viewid);

	PopActiveSnapshot();
	AtEOXact_GUC(false, nest);
	SPI_finish();
	PG_RETURN_VOID();
}

/*
 * The catalog's row trigger: a view depends on its target, so that dropping
 * the target needs CASCADE, which drops the view, as dropping its source
 * does.  A trigger rather than a call in create_materialized_view, so that
 * the rows pg_restore copies back record it too.
 */
PG_FUNCTION_INFO_V1(trace_agg_record_view_dependency);
Datum
trace_agg_record_view_dependency(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	TupleDesc	desc;
	ObjectAddress view_address;
	ObjectAddress target_address;
	bool		isnull;

	if (!CALLED_AS_TRIGGER(fcinfo) ||
		!TRIGGER_FIRED_AFTER(trigdata->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(trigdata->tg_event) ||
		!TRIGGER_FIRED_BY_INSERT(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("trace_agg.record_view_dependency() must be an AFTER INSERT FOR EACH ROW trigger")));
	desc = RelationGetDescr(trigdata->tg_relation);
	ObjectAddressSet(view_address, RelationRelationId,
					 DatumGetObjectId(heap_getattr(trigdata->tg_trigtuple, SPI_fnumber(desc, "view"),
												   desc, &isnull)));
	ObjectAddressSet(target_address, RelationRelationId,
					 DatumGetObjectId(heap_getattr(trigdata->tg_trigtuple, SPI_fnumber(desc, "target"),
												   desc, &isnull)));
	recordDependencyOn(&view_address, &target_address, DEPENDENCY_NORMAL);
	return PointerGetDatum(NULL);
}

/*
 * Forget the statements involving a table, so that they are generated
 * again at the next insert: set_ttl and remove_ttl call it after changing a
 * target's TTL.  Internal; it only sends an invalidation.
 */
PG_FUNCTION_INFO_V1(trace_agg_rebuild_materialized_views);
Datum
trace_agg_rebuild_materialized_views(PG_FUNCTION_ARGS)
{
	CacheInvalidateRelcacheByRelid(PG_GETARG_OID(0));
	PG_RETURN_VOID();
}

/*
 * Drop a materialized view (DERIVED: a derived view): its owner may, and so
 * may the owners of its source and of its target, as DROP TABLE ... CASCADE
 * would drop it too: a view someone else put on your table must never keep
 * you from writing it or using it as you please.  The Postgres view is
 * dropped as its owner; the drop event triggers (trace_agg.guard_drop,
 * trace_agg.guard_drop_derived) forget the definition and, with the
 * source's last view, its triggers, whichever way the view goes.
 */
void
fanout_drop_view(text *name_arg, bool if_exists, bool derived)
{
	const char *kind = derived ? "derived" : "materialized";
	char	   *name = text_to_cstring(name_arg);
	RangeVar   *rv = fanout_view_range_var(name_arg, InvalidOid);
	Oid			viewid;
	Oid			argtypes[1] = {OIDOID};
	Datum		args[1];
	Oid			owner;
	Oid			sourceid;
	Oid			targetid;
	const char *behavior = "";
	bool		isnull;
	Oid			save_userid;
	int			save_sec_context;
	int			nest;

	/*
	 * A qualified name is looked up without the right to use its schema:
	 * the owner of a source must be able to name a view someone else put on
	 * it in a schema of theirs (pg_class shows it to everyone anyway).
	 */
	if (rv->schemaname)
		viewid = get_relname_relid(rv->relname, get_namespace_oid(rv->schemaname, true));
	else
		viewid = RangeVarGetRelid(rv, NoLock, true);
	args[0] = ObjectIdGetDatum(viewid);

	SPI_connect();
	fanout_check_catalog_version();
	nest = fanout_pin_search_path();
	SPI_execute_with_args(psprintf("SELECT source::pg_catalog.oid, target::pg_catalog.oid FROM trace_agg.%s "
								   "WHERE view OPERATOR(pg_catalog.=) $1",
								   derived ? "derived_view" : "materialized_view"),
						  1, argtypes, args, NULL, true, 1);
	if (SPI_processed == 0)
	{
		if (OidIsValid(viewid))
			ereport(ERROR,
					(errcode(ERRCODE_WRONG_OBJECT_TYPE),
					 errmsg("\"%s\" is not a %s view of trace_agg", name, kind)));
		ereport(if_exists ? NOTICE : ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("%s view \"%s\" does not exist%s", kind, name,
						if_exists ? ", skipping" : "")));
		AtEOXact_GUC(false, nest);
		SPI_finish();
		return;
	}
	sourceid = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	targetid = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	owner = fanout_relation_owner(viewid);
	if (!has_privs_of_role(GetUserId(), owner))
	{
		if (!has_privs_of_role(GetUserId(), fanout_relation_owner(sourceid)) &&
			!has_privs_of_role(GetUserId(), fanout_relation_owner(targetid)))
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("must be owner of %s view \"%s\", of its source or of its target", kind, name)));
		/* what the view's owner built on it goes too, as with DROP TABLE ... CASCADE */
		behavior = " CASCADE";
	}

	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(owner, save_sec_context | SECURITY_LOCAL_USERID_CHANGE);
	SPI_execute(psprintf("DROP VIEW %s%s", fanout_qualified_name(viewid), behavior), false, 0);
	SetUserIdAndSecContext(save_userid, save_sec_context);

	AtEOXact_GUC(false, nest);
	SPI_finish();
}

PG_FUNCTION_INFO_V1(trace_agg_drop_materialized_view);
Datum
trace_agg_drop_materialized_view(PG_FUNCTION_ARGS)
{
	fanout_drop_view(PG_GETARG_TEXT_PP(0), PG_GETARG_BOOL(1), false);
	PG_RETURN_VOID();
}

/*
 * The statements a source's views run, in the order they run: what an
 * INSERT into the source executes, over the transition table
 * trace_agg_new_rows, as each run's owner.  To read it, EXPLAIN it, or
 * check what a change of a view or a TTL does.
 */
PG_FUNCTION_INFO_V1(trace_agg_materialized_view_statements);
Datum
trace_agg_materialized_view_statements(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Oid			sourceid = PG_GETARG_OID(0);
	MemoryContext callcxt = CurrentMemoryContext;
	List	   *relids;
	List	   *runs;
	ListCell   *lc;
	int			nest;

	InitMaterializedSRF(fcinfo, 0);
	SPI_connect();
	nest = fanout_pin_search_path();

	/*
	 * Building the statements locks the source's views until commit: only
	 * a role that may read the source, or owns one of its views, may see
	 * them.  Checked before anything is opened.
	 */
	if (pg_class_aclcheck(sourceid, GetUserId(), ACL_SELECT) != ACLCHECK_OK)
	{
		Oid			argtypes[1] = {OIDOID};
		Datum		args[1] = {ObjectIdGetDatum(sourceid)};
		bool		owns_one = false;
		uint64		i;

		trace_agg_catalog_execute("SELECT c.relowner FROM trace_agg.materialized_view m "
								  "JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) m.view "
								  "WHERE m.source OPERATOR(pg_catalog.=) $1",
								  1, argtypes, args, NULL, true);
		for (i = 0; i < SPI_processed && !owns_one; i++)
		{
			bool		isnull;

			owns_one = has_privs_of_role(GetUserId(),
										 DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i],
																		SPI_tuptable->tupdesc, 1, &isnull)));
		}
		if (!owns_one)
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("permission denied for table %s", get_rel_name(sourceid)),
					 errdetail("The statements of a table's materialized views are shown to roles with SELECT on it and to the owners of its views.")));
	}
	runs = fanout_source_runs(sourceid, InvalidOid, NULL, &relids);
	foreach(lc, runs)
	{
		FanoutRun  *run = lfirst(lc);
		Datum	   *views = palloc(sizeof(Datum) * run->nviews);
		Datum		values[3];
		bool		nulls[3] = {false, false, false};
		MemoryContext oldcxt;
		int			i;

		for (i = 0; i < run->nviews; i++)
			views[i] = ObjectIdGetDatum(run->views[i].viewid);
		oldcxt = MemoryContextSwitchTo(callcxt);
		values[0] = PointerGetDatum(construct_array(views, run->nviews, REGCLASSOID,
													sizeof(Oid), true, TYPALIGN_INT));
		values[1] = ObjectIdGetDatum(run->ownerid);
		values[2] = CStringGetTextDatum(run->sql);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		MemoryContextSwitchTo(oldcxt);
	}
	AtEOXact_GUC(false, nest);
	SPI_finish();
	return (Datum) 0;
}
