/*
 * fanout_ddl.c
 *		Keeping materialized views in step with DDL on their targets.
 *
 * A view's query is a Postgres view, which follows renames of what it
 * reads by itself.  What it writes is matched by name: each output column
 * names a column of the target.  So renaming a target column renames the
 * output columns of the views that write it, in the same transaction, and
 * dropping one is refused while a view writes it (with CASCADE, the views
 * go too), as Postgres treats a view that reads a dropped column.  Both
 * are done before the ALTER TABLE runs (ddl_command_start), when the old
 * name is still the column's; if the command then fails, they roll back
 * with it.  A TTL matches columns by name across its tables (its column
 * in the target and the reference, the target's key columns in the
 * reference and the per-key rules table), so renaming one of those is
 * refused: every insert into the sources of the target's views would fail
 * on the old name.
 */
#include "postgres.h"

#include "catalog/namespace.h"
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

#include "fanout.h"
#include "trace_agg.h"

/* The views (materialized or derived) writing column COLUMN of TARGETID. */
static SPITupleTable *
views_writing(Oid targetid, const char *column)
{
	Oid			argtypes[2] = {OIDOID, TEXTOID};
	Datum		args[2] = {ObjectIdGetDatum(targetid), CStringGetTextDatum(column)};

	SPI_execute_with_args("SELECT m.view::pg_catalog.oid FROM (SELECT view, target FROM trace_agg.materialized_view "
						  "UNION ALL SELECT view, target FROM trace_agg.derived_view) m "
						  "JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) m.view "
						  "WHERE m.target OPERATOR(pg_catalog.=) $1 AND NOT a.attisdropped "
						  "AND a.attname OPERATOR(pg_catalog.=) $2::pg_catalog.name "
						  "ORDER BY 1",
						  2, argtypes, args, NULL, true, 0);
	return SPI_tuptable;
}

/*
 * Run a DDL statement on views as the extension's owner: the views may
 * belong to other roles than the one altering the target, whose right to
 * alter it Postgres checks (and if it may not, everything rolls back).
 */
static void
alter_views_as_owner(const char *sql)
{
	Oid			save_userid;
	int			save_sec_context;

	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(BOOTSTRAP_SUPERUSERID, save_sec_context | SECURITY_LOCAL_USERID_CHANGE);
	SPI_execute(sql, false, 0);
	SetUserIdAndSecContext(save_userid, save_sec_context);
}

static void
follow_column_rename(Oid targetid, const char *oldname, const char *newname)
{
	SPITupleTable *views = views_writing(targetid, oldname);
	uint64		n = SPI_processed;
	uint64		i;

	for (i = 0; i < n; i++)
	{
		bool		isnull;
		Oid			viewid = DatumGetObjectId(SPI_getbinval(views->vals[i], views->tupdesc, 1, &isnull));

		alter_views_as_owner(psprintf("ALTER VIEW %s RENAME COLUMN %s TO %s",
									  fanout_qualified_name(viewid),
									  quote_identifier(oldname), quote_identifier(newname)));
	}
}

static void
guard_column_drop(Oid targetid, const char *column, DropBehavior behavior)
{
	SPITupleTable *views = views_writing(targetid, column);
	uint64		n = SPI_processed;
	uint64		i;

	for (i = 0; i < n; i++)
	{
		bool		isnull;
		Oid			viewid = DatumGetObjectId(SPI_getbinval(views->vals[i], views->tupdesc, 1, &isnull));

		if (behavior != DROP_CASCADE)
			ereport(ERROR,
					(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
					 errmsg("cannot drop column %s of table %s because materialized view %s writes it",
							quote_identifier(column), get_rel_name(targetid), fanout_qualified_name(viewid)),
					 errhint("Drop the materialized view first, or use DROP ... CASCADE to drop it too.")));
		ereport(NOTICE,
				(errmsg("drop cascades to materialized view %s", fanout_qualified_name(viewid))));
		alter_views_as_owner(psprintf("DROP VIEW %s", fanout_qualified_name(viewid)));
	}
}

/*
 * Refuse to rename COLUMN of RELID while a TTL matches it by name: its TTL
 * column, in the target and the reference, and the target's key columns,
 * which the TTL looks up by the same names in the reference and in the
 * per-key rules table.  Every insert into the sources of the target's views
 * (and the purge) would fail on the old name.  Read as the catalog's owner:
 * the TTL may belong to another role's target, which the row-level policy
 * hides.
 */
static void
guard_ttl_column_rename(Oid relid, const char *column)
{
	Oid			argtypes[2] = {OIDOID, TEXTOID};
	Datum		args[2] = {ObjectIdGetDatum(relid), CStringGetTextDatum(column)};
	bool		isnull;

	trace_agg_catalog_execute("SELECT x.target::pg_catalog.text, x.ttl_column OPERATOR(pg_catalog.=) $2::pg_catalog.name "
							  "FROM trace_agg.ttl x "
							  "WHERE ((x.target OPERATOR(pg_catalog.=) $1 OR x.reference OPERATOR(pg_catalog.=) $1) "
							  "       AND x.ttl_column OPERATOR(pg_catalog.=) $2::pg_catalog.name) "
							  "   OR (($1 OPERATOR(pg_catalog.=) ANY (ARRAY[x.reference, x.per_key]::pg_catalog.oid[]) "
							  "        OR ($1 OPERATOR(pg_catalog.=) x.target "
							  "            AND EXISTS (SELECT FROM pg_catalog.pg_attribute b "
							  "                        WHERE b.attrelid OPERATOR(pg_catalog.=) ANY (ARRAY[x.reference, x.per_key]::pg_catalog.oid[]) "
							  "                          AND b.attnum OPERATOR(pg_catalog.>) 0 "
							  "                          AND NOT b.attisdropped AND b.attname OPERATOR(pg_catalog.=) $2::pg_catalog.name))) "
							  "       AND EXISTS (SELECT FROM pg_catalog.pg_index i "
							  "                   JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) i.indrelid "
							  "                    AND a.attnum OPERATOR(pg_catalog.=) ANY (i.indkey::pg_catalog.int2[]) "
							  "                   WHERE i.indrelid OPERATOR(pg_catalog.=) x.target AND i.indisunique "
							  "                     AND a.attname OPERATOR(pg_catalog.=) $2::pg_catalog.name)) "
							  "ORDER BY 2 DESC, 1 LIMIT 1",
							  2, argtypes, args, NULL, true);
	if (SPI_processed > 0)
		ereport(ERROR,
				(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
				 errmsg("cannot rename column \"%s\" of table \"%s\" because the TTL of table %s matches it by name",
						column, get_rel_name(relid),
						SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1)),
				 DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull))
				 ? errdetail("It is the TTL's column, which the target and its reference both have.")
				 : errdetail("It is a key column of the TTL's target, which the TTL looks up by name in its reference or rules table."),
				 errhint("Remove the TTL with trace_agg.remove_ttl(), rename the column in each of its tables, then set the TTL again.")));
}

/*
 * The relation RV names, if the caller has its owner's rights; InvalidOid
 * otherwise.  This trigger runs at ddl_command_start, before Postgres has
 * checked any right or taken any lock: acting for a caller who does not own
 * the table would rename or drop other roles' views as the extension's
 * owner (and queue for their locks), undone only if Postgres' own check
 * later fails, which a concurrent change of what the name resolves to (a
 * table of the caller's created earlier in its search_path) avoids.
 */
static Oid
owned_relation(RangeVar *rv)
{
	Oid			relid = RangeVarGetRelid(rv, NoLock, true);

	if (!OidIsValid(relid) || !has_privs_of_role(GetUserId(), fanout_relation_owner(relid)))
		return InvalidOid;
	return relid;
}

PG_FUNCTION_INFO_V1(trace_agg_guard_alter);
Datum
trace_agg_guard_alter(PG_FUNCTION_ARGS)
{
	Node	   *parsetree;
	int			nest;

	if (!CALLED_AS_EVENT_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("trace_agg.guard_alter() must be called as an event trigger")));
	parsetree = ((EventTriggerData *) fcinfo->context)->parsetree;

	if (IsA(parsetree, RenameStmt))
	{
		RenameStmt *stmt = (RenameStmt *) parsetree;
		Oid			relid;

		if (stmt->renameType != OBJECT_COLUMN || stmt->relation == NULL)
			PG_RETURN_NULL();
		relid = owned_relation(stmt->relation);
		if (!OidIsValid(relid))
			PG_RETURN_NULL();
		SPI_connect();
		nest = fanout_pin_search_path();
		guard_ttl_column_rename(relid, stmt->subname);
		follow_column_rename(relid, stmt->subname, stmt->newname);
		AtEOXact_GUC(false, nest);
		SPI_finish();
	}
	else if (IsA(parsetree, AlterTableStmt))
	{
		AlterTableStmt *stmt = (AlterTableStmt *) parsetree;
		ListCell   *lc;
		Oid			relid;

		relid = owned_relation(stmt->relation);
		if (!OidIsValid(relid))
			PG_RETURN_NULL();
		SPI_connect();
		nest = fanout_pin_search_path();
		foreach(lc, stmt->cmds)
		{
			AlterTableCmd *cmd = lfirst_node(AlterTableCmd, lc);

			if (cmd->subtype == AT_DropColumn)
				guard_column_drop(relid, cmd->name, cmd->behavior);
		}
		AtEOXact_GUC(false, nest);
		SPI_finish();
	}
	PG_RETURN_NULL();
}
