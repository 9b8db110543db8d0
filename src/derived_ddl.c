/*
 * derived_ddl.c
 *		Keeping derived views of partitioned tables exact through DDL on
 *		their partitions.
 *
 * A statement naming a partition fires the partition's statement triggers,
 * not its parent's, so every member of a partitioned source's tree carries
 * the maintenance triggers (derived_ensure_triggers).  DDL changes the
 * tree, and with it the source's rows, without any statement writing them:
 *
 *   - a partition created in the tree (CREATE TABLE ... PARTITION OF) gets
 *     the triggers; it holds no row yet;
 *   - a partition attached brings its rows, and one detached takes its rows
 *     away: the triggers are added to the attached tree (and dropped from
 *     the detached one), and every key of the source's derived views is
 *     recomputed, in the same transaction;
 *   - dropping a partition would take its rows without a word: refused,
 *     detach it first; so is DETACH ... CONCURRENTLY, which commits in two
 *     steps no recomputation could join;
 *   - attaching a table that is itself a derived view's source to another
 *     tree is refused: statements through the new parent would not fire its
 *     triggers.
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/partition.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_type.h"
#include "commands/event_trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"

#include "derived.h"
#include "fanout.h"
#include "trace_agg.h"

/*
 * The sources of derived views that RELID is, or is a partition of; with
 * SELF false, only its ancestors.
 */
static List *
sources_of(Oid relid, bool self)
{
	Oid			argtypes[1] = {OIDOID};
	Datum		args[1] = {ObjectIdGetDatum(relid)};
	List	   *sources = NIL;
	uint64		i;

	if (!OidIsValid(relid))
		return NIL;
	trace_agg_catalog_execute(self
							  ? "SELECT DISTINCT d.source::pg_catalog.oid FROM trace_agg.derived_view d "
							  "WHERE d.source IN (SELECT relid FROM pg_catalog.pg_partition_ancestors($1)) ORDER BY 1"
							  : "SELECT DISTINCT d.source::pg_catalog.oid FROM trace_agg.derived_view d "
							  "WHERE d.source IN (SELECT relid FROM pg_catalog.pg_partition_ancestors($1)) "
							  "AND d.source OPERATOR(pg_catalog.<>) $1 ORDER BY 1",
							  1, argtypes, args, NULL, true);
	for (i = 0; i < SPI_processed; i++)
	{
		bool		isnull;

		sources = lappend_oid(sources, DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i],
																	  SPI_tuptable->tupdesc, 1, &isnull)));
	}
	return sources;
}

/* Whether RELID or a member of its partition tree is a derived view's source. */
static bool
tree_holds_source(Oid relid)
{
	Oid			argtypes[1] = {OIDOID};
	Datum		args[1] = {ObjectIdGetDatum(relid)};

	trace_agg_catalog_execute("SELECT FROM trace_agg.derived_view d "
							  "WHERE d.source IN (SELECT relid FROM pg_catalog.pg_partition_tree($1) "
							  "UNION SELECT $1::pg_catalog.regclass)",
							  1, argtypes, args, NULL, true);
	return SPI_processed > 0;
}

/*
 * The relations a DDL statement names, resolved under the caller's
 * search_path as the statement itself resolves them; what follows runs
 * with search_path pinned.
 */
static void
refuse_drop(List *relids)
{
	ListCell   *lc;

	foreach(lc, relids)
	{
		Oid			relid = lfirst_oid(lc);
		List	   *sources;

		if (!OidIsValid(relid) || !get_rel_relispartition(relid))
			continue;
		sources = sources_of(relid, false);
		if (sources != NIL)
			ereport(ERROR,
					(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
					 errmsg("cannot drop partition \"%s\" of table \"%s\", the source of a derived view",
							get_rel_name(relid), get_rel_name(linitial_oid(sources))),
					 errdetail("Its rows would leave the source without the derived view seeing them go."),
					 errhint("Detach the partition first (ALTER TABLE ... DETACH PARTITION), then drop it.")));
	}
}

/* ddl_command_start: what would change a source unseen is refused. */
static void
before(Node *parsetree)
{
	if (IsA(parsetree, DropStmt) && ((DropStmt *) parsetree)->removeType == OBJECT_TABLE)
	{
		List	   *relids = NIL;
		ListCell   *lc;
		int			nest;

		foreach(lc, ((DropStmt *) parsetree)->objects)
			relids = lappend_oid(relids, RangeVarGetRelid(makeRangeVarFromNameList(lfirst(lc)), NoLock, true));
		nest = fanout_pin_search_path();
		refuse_drop(relids);
		AtEOXact_GUC(false, nest);
	}
	else if (IsA(parsetree, AlterTableStmt))
	{
		AlterTableStmt *stmt = (AlterTableStmt *) parsetree;
		Oid			parent = RangeVarGetRelid(stmt->relation, NoLock, true);
		ListCell   *lc;

		foreach(lc, stmt->cmds)
		{
			AlterTableCmd *cmd = lfirst_node(AlterTableCmd, lc);
			PartitionCmd *part;
			Oid			partition;
			int			nest;

			if (cmd->subtype != AT_AttachPartition && cmd->subtype != AT_DetachPartition)
				continue;
			part = (PartitionCmd *) cmd->def;
			partition = RangeVarGetRelid(part->name, NoLock, true);
			nest = fanout_pin_search_path();
			if (cmd->subtype == AT_DetachPartition && part->concurrent && sources_of(parent, true) != NIL)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("cannot detach partitions concurrently from table \"%s\", the source of a derived view",
								get_rel_name(parent)),
						 errhint("Detach without CONCURRENTLY: the derived views are recomputed in the same transaction.")));
			if (cmd->subtype == AT_AttachPartition && OidIsValid(partition) && tree_holds_source(partition))
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("cannot attach table \"%s\" as a partition: it is the source of a derived view",
								get_rel_name(partition)),
						 errdetail("Statements through the partitioned table would not fire its triggers.")));
			AtEOXact_GUC(false, nest);
		}
	}
}

/*
 * A detached partition keeps no trigger of the source it left (unless it
 * is a source itself).  Dropped as the extension's owner: the partition's
 * owner need not be the one detaching it, and only triggers this extension
 * made, on the tree this very command detached, are dropped.
 */
static void
drop_triggers(Oid relid)
{
	Oid			argtypes[1] = {OIDOID};
	Datum		args[1] = {ObjectIdGetDatum(relid)};
	SPITupleTable *triggers;
	uint64		n;
	uint64		i;
	Oid			save_userid;
	int			save_sec_context;

	if (tree_holds_source(relid))
		return;
	SPI_execute_with_args("SELECT g.tgname::pg_catalog.text, g.tgrelid::pg_catalog.oid FROM pg_catalog.pg_trigger g "
						  "WHERE g.tgrelid IN (SELECT relid FROM pg_catalog.pg_partition_tree($1) "
						  "UNION SELECT $1::pg_catalog.regclass) "
						  "AND g.tgname IN ('" DERIVED_TRIGGER_INSERT "', '" DERIVED_TRIGGER_UPDATE "', '"
						  DERIVED_TRIGGER_DELETE "', '" DERIVED_TRIGGER_TRUNCATE "')",
						  1, argtypes, args, NULL, true, 0);
	triggers = SPI_tuptable;
	n = SPI_processed;
	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(BOOTSTRAP_SUPERUSERID, save_sec_context | SECURITY_LOCAL_USERID_CHANGE);
	for (i = 0; i < n; i++)
	{
		bool		isnull;

		SPI_execute(psprintf("DROP TRIGGER %s ON %s",
							 quote_identifier(SPI_getvalue(triggers->vals[i], triggers->tupdesc, 1)),
							 fanout_qualified_name(DatumGetObjectId(SPI_getbinval(triggers->vals[i],
																				  triggers->tupdesc, 2, &isnull)))),
					false, 0);
	}
	SetUserIdAndSecContext(save_userid, save_sec_context);
}

/* ddl_command_end: new members get the triggers; attached and detached rows are counted. */
static void
after(Node *parsetree)
{
	if (IsA(parsetree, CreateStmt) && ((CreateStmt *) parsetree)->partbound != NULL)
	{
		Oid			relid = RangeVarGetRelid(((CreateStmt *) parsetree)->relation, NoLock, true);
		int			nest = fanout_pin_search_path();

		if (sources_of(relid, false) != NIL)
			derived_ensure_triggers(relid);
		AtEOXact_GUC(false, nest);
	}
	else if (IsA(parsetree, AlterTableStmt))
	{
		AlterTableStmt *stmt = (AlterTableStmt *) parsetree;
		Oid			parent = RangeVarGetRelid(stmt->relation, NoLock, true);
		List	   *attached = NIL;
		List	   *detached = NIL;
		bool		changed = false;
		bool		consistent = true;
		List	   *sources;
		ListCell   *lc;
		int			nest;

		foreach(lc, stmt->cmds)
		{
			AlterTableCmd *cmd = lfirst_node(AlterTableCmd, lc);

			if (cmd->subtype == AT_AttachPartition)
				attached = lappend_oid(attached,
									   RangeVarGetRelid(((PartitionCmd *) cmd->def)->name, NoLock, false));
			if (cmd->subtype == AT_DetachPartition)
				detached = lappend_oid(detached,
									   RangeVarGetRelid(((PartitionCmd *) cmd->def)->name, NoLock, false));
			changed |= cmd->subtype == AT_AttachPartition || cmd->subtype == AT_DetachPartition;
		}
		if (!changed)
			return;

		/*
		 * The names were resolved again above, after the command ran, under
		 * the search_path of now, which code the command ran may have
		 * changed (a function of the partition key, called when ATTACH
		 * checks the new partition's rows): they must name the tables the
		 * command changed, whose parent the caller owns, or another role's
		 * tables of the same names would have their views recomputed and
		 * their triggers dropped.
		 */
		foreach(lc, attached)
			consistent &= get_rel_relispartition(lfirst_oid(lc)) &&
				get_partition_parent(lfirst_oid(lc), true) == parent;
		foreach(lc, detached)
			consistent &= !get_rel_relispartition(lfirst_oid(lc));
		if (!consistent || !OidIsValid(parent) ||
			!has_privs_of_role(GetUserId(), fanout_relation_owner(parent)))
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("the tables named by ALTER TABLE ... %s PARTITION are no longer the ones it changed",
							attached != NIL ? "ATTACH" : "DETACH"),
					 errdetail("The search_path changed while the command ran."),
					 errhint("Qualify the table names, or keep the search_path unchanged by the command.")));
		nest = fanout_pin_search_path();
		sources = sources_of(parent, true);
		if (sources != NIL)
		{
			foreach(lc, attached)
				derived_ensure_triggers(lfirst_oid(lc));
			foreach(lc, sources)
				derived_refresh_source(lfirst_oid(lc));
			foreach(lc, detached)
				drop_triggers(lfirst_oid(lc));
		}
		AtEOXact_GUC(false, nest);
	}
}

PG_FUNCTION_INFO_V1(trace_agg_derived_guard_partitions);
Datum
trace_agg_derived_guard_partitions(PG_FUNCTION_ARGS)
{
	EventTriggerData *trigdata;

	if (!CALLED_AS_EVENT_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("trace_agg.guard_derived_partitions() must be called as an event trigger")));
	trigdata = (EventTriggerData *) fcinfo->context;
	SPI_connect();
	if (strcmp(trigdata->event, "ddl_command_start") == 0)
		before(trigdata->parsetree);
	else
		after(trigdata->parsetree);
	SPI_finish();
	PG_RETURN_NULL();
}
