/*
 * ttl_catalog.c
 *		Setting and removing the TTL of a target table.
 *
 * A TTL row (trace_agg.ttl) decides which rows the purge deletes, as the
 * target's owner, and which table every merge into the target reads for
 * the ghost-row check.  So no role writes that catalog directly: set_ttl()
 * and remove_ttl() check what the caller may do and then write as the
 * catalog's owner.  Setting a TTL needs ownership of the target and SELECT
 * on the reference; every table a row names is locked, checked and stored
 * by OID, so a row never names a relation that is not there.
 */
#include "postgres.h"

#include "catalog/pg_authid.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "trace_agg.h"
#include "ttl.h"

/* A table as Postgres prints a regclass (qualified unless on the path). */
static char *
table_text(Oid relid)
{
	return DatumGetCString(DirectFunctionCall1(regclassout, ObjectIdGetDatum(relid)));
}

/*
 * Lock a table a TTL names against being dropped until the transaction
 * ends, and check that it is a table; returns its owner.
 */
static Oid
lock_ttl_table(Oid relid, const char *role)
{
	HeapTuple	tuple;
	Form_pg_class form;
	Oid			owner;

	LockRelationOid(relid, AccessShareLock);
	tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	if (!HeapTupleIsValid(tuple))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("%s table with OID %u does not exist", role, relid)));
	form = (Form_pg_class) GETSTRUCT(tuple);
	if (form->relkind != RELKIND_RELATION && form->relkind != RELKIND_PARTITIONED_TABLE)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not a table", NameStr(form->relname)),
				 errdetail("The %s of a TTL must be a table.", role)));
	/* The worker cannot read another session's temporary table, and its end drops it unseen. */
	if (form->relpersistence == RELPERSISTENCE_TEMP)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is a temporary table", NameStr(form->relname)),
				 errdetail("The %s of a TTL must be a permanent or unlogged table.", role)));
	owner = form->relowner;
	ReleaseSysCache(tuple);
	return owner;
}

/* The caller must have the rights of the target's owner. */
static void
check_target_owner(Oid targetid, const char *action)
{
	Oid			owner = lock_ttl_table(targetid, "target");

	if (!has_privs_of_role(GetUserId(), owner))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("must be owner of table %s to %s its TTL", table_text(targetid), action)));
}

static void
check_ttl_column(Oid relid, const char *column, bool reference)
{
	AttrNumber	attnum = get_attnum(relid, column);
	Oid			type;

	if (attnum <= 0)
	{
		if (reference)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("reference table %s of the TTL has no column \"%s\"", table_text(relid), column)));
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" of table %s does not exist", column, table_text(relid))));
	}
	type = get_atttype(relid, attnum);
	if (type != TIMESTAMPTZOID)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("TTL column \"%s\" of table %s is of type %s, not timestamptz",
						column, table_text(relid), format_type_be(type))));
}

/* Regenerate the merge statements of the target's views for its new TTL. */
static void
rebuild_views(Oid targetid)
{
	Oid			argtypes[1] = {OIDOID};
	Datum		args[1] = {ObjectIdGetDatum(targetid)};

	trace_agg_catalog_execute("SELECT trace_agg.rebuild_materialized_views($1::pg_catalog.regclass)",
						1, argtypes, args, NULL, false);
}

PG_FUNCTION_INFO_V1(trace_agg_set_ttl);
Datum
trace_agg_set_ttl(PG_FUNCTION_ARGS)
{
	Oid			targetid;
	char	   *column;
	Interval   *ttl;
	Interval   *zero = palloc0(sizeof(Interval));
	Oid			referenceid = PG_ARGISNULL(3) ? InvalidOid : PG_GETARG_OID(3);
	Oid			argtypes[4] = {REGCLASSOID, NAMEOID, INTERVALOID, REGCLASSOID};
	Datum		args[4];
	char		nulls[4] = {' ', ' ', ' ', ' '};

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("target, TTL column and TTL must not be null")));
	targetid = PG_GETARG_OID(0);
	column = NameStr(*PG_GETARG_NAME(1));
	ttl = PG_GETARG_INTERVAL_P(2);

	check_target_owner(targetid, "set");
	check_ttl_column(targetid, column, false);
	if (DatumGetBool(DirectFunctionCall2(interval_le, IntervalPGetDatum(ttl), IntervalPGetDatum(zero))))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("TTL of table %s must be a positive interval, not %s", table_text(targetid),
						DatumGetCString(DirectFunctionCall1(interval_out, IntervalPGetDatum(ttl))))));
	if (OidIsValid(referenceid))
	{
		(void) lock_ttl_table(referenceid, "reference");
		check_ttl_column(referenceid, column, true);
		/* Every merge into the target reads it: the setter must be able to. */
		if (pg_class_aclcheck(referenceid, GetUserId(), ACL_SELECT) != ACLCHECK_OK)
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("permission denied for table %s", table_text(referenceid)),
					 errdetail("The reference of a TTL is read by every merge into the target: setting it needs SELECT on it.")));
	}

	args[0] = ObjectIdGetDatum(targetid);
	args[1] = PG_GETARG_DATUM(1);
	args[2] = IntervalPGetDatum(ttl);
	args[3] = ObjectIdGetDatum(referenceid);
	if (!OidIsValid(referenceid))
		nulls[3] = 'n';
	SPI_connect();
	trace_agg_catalog_execute("INSERT INTO trace_agg.ttl AS t (target, ttl_column, ttl, reference) "
						"VALUES ($1, $2, $3, $4) ON CONFLICT (target) DO UPDATE "
						"SET ttl_column = excluded.ttl_column, ttl = excluded.ttl, reference = excluded.reference",
						4, argtypes, args, nulls, false);
	rebuild_views(targetid);
	SPI_finish();
	ttl_worker_request_start();
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(trace_agg_remove_ttl);
Datum
trace_agg_remove_ttl(PG_FUNCTION_ARGS)
{
	Oid			targetid = PG_GETARG_OID(0);
	Oid			argtypes[1] = {REGCLASSOID};
	Datum		args[1] = {ObjectIdGetDatum(targetid)};

	check_target_owner(targetid, "remove");
	SPI_connect();
	trace_agg_catalog_execute("DELETE FROM trace_agg.ttl WHERE target OPERATOR(pg_catalog.=) $1",
						1, argtypes, args, NULL, false);
	rebuild_views(targetid);
	SPI_finish();
	PG_RETURN_VOID();
}
