/*
 * ttl_purge.c
 *		Deleting the expired rows of a TTL target, as the target's owner.
 *
 * The delete fires the target's triggers and evaluates its policies, which
 * are its owner's code: it runs as that owner inside a security-restricted
 * operation, with search_path pinned and every setting it changes rolled
 * back, as REFRESH MATERIALIZED VIEW and autovacuum run an owner's code,
 * whoever asked for the purge (the worker, a superuser, the owner).  Like
 * VACUUM, a role may purge only the tables whose owner's rights it has.
 * Rows are deleted in batches, skipping rows an ingesting transaction
 * holds, so that a purge never makes ingestion wait.
 */
#include "postgres.h"

#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

#include "fanout.h"
#include "trace_agg.h"
#include "ttl.h"

/* Rows purge_expired() deletes per statement. */
#define PURGE_BATCH_SIZE 5000

/* May the caller purge this table (has it the rights of its owner)? */
static bool
caller_may_purge(Oid relid)
{
	Oid			owner = fanout_relation_owner(relid);

	return OidIsValid(owner) && has_privs_of_role(GetUserId(), owner);
}

/*
 * Lock a target for deleting from it and return its owner; false if it is
 * gone, or (with nowait) if another transaction holds a lock that a delete
 * would wait for, such as a running ALTER TABLE: the worker then purges the
 * other targets and comes back next round rather than queue behind it.
 */
bool
ttl_lock_target(Oid targetid, bool nowait, Oid *owner)
{
	if (nowait)
	{
		if (!ConditionalLockRelationOid(targetid, RowExclusiveLock))
			return false;
	}
	else
		LockRelationOid(targetid, RowExclusiveLock);
	*owner = fanout_relation_owner(targetid);
	if (!OidIsValid(*owner))
	{
		UnlockRelationOid(targetid, RowExclusiveLock);
		return false;
	}
	return true;
}

/*
 * Delete up to batch_size expired rows of a locked target, as its owner;
 * returns how many, or -1 when the target has no TTL.
 *
 * With per-key rules, a row's cutoff is that of its key's rule or of the
 * TTL, whichever is shorter (none: it never expires).  The cutoff of every
 * rule is computed once per batch (the sub-select is kept from being
 * flattened, so that ttl_cutoff runs per rule rather than per row) and
 * joined to the target's rows by key; rows whose key has no rule take the
 * TTL's cutoff.
 */
int64
ttl_purge_batch(Oid targetid, Oid owner, int batch_size)
{
	Oid			argtypes[3] = {OIDOID, INT4OID, INTERVALOID};
	Datum		args[3];
	char		nulls[3] = {' ', ' ', ' '};
	bool		isnull;
	char	   *column;
	AttrNumber	attnum;
	char	   *target;
	char	   *sql;
	Oid			rulesid;
	Oid			save_userid;
	int			save_sec_context;
	int			nest;
	int64		deleted;

	SPI_connect();
	args[0] = ObjectIdGetDatum(targetid);
	trace_agg_catalog_execute("SELECT ttl_column::pg_catalog.text, trace_agg.ttl_cutoff(ttl), ttl, "
							  "per_key::pg_catalog.oid "
							  "FROM trace_agg.ttl WHERE target OPERATOR(pg_catalog.=) $1",
							  1, argtypes, args, NULL, true);
	if (SPI_processed == 0)
	{
		SPI_finish();
		return -1;
	}
	column = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	args[0] = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);
	if (isnull)
		nulls[0] = 'n';
	args[1] = Int32GetDatum(batch_size);
	args[2] = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull);
	if (isnull)
		nulls[2] = 'n';
	rulesid = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 4, &isnull));
	if (isnull)
		rulesid = InvalidOid;
	argtypes[0] = TIMESTAMPTZOID;

	/* The column is looked up now, in the table the TTL names by OID. */
	attnum = get_attnum(targetid, column);
	if (attnum <= 0 || get_atttype(targetid, attnum) != TIMESTAMPTZOID)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("table \"%s\" has no timestamptz column \"%s\" to expire its rows by",
						get_rel_name(targetid), column),
				 errhint("Set its TTL again with trace_agg.set_ttl().")));
	column = pstrdup(quote_identifier(column));
	target = quote_qualified_identifier(get_namespace_name(get_rel_namespace(targetid)),
										get_rel_name(targetid));

	/*
	 * The outer test repeats the expiry, so that in a partitioned target a
	 * row of another partition at the same ctid is never taken for one that
	 * expired.
	 */
	if (OidIsValid(rulesid))
	{
		TtlRules	rules;
		StringInfoData match;
		StringInfoData keys;
		ListCell   *lc;

		ttl_resolve_rules(rulesid, targetid, &rules);
		initStringInfo(&match);
		initStringInfo(&keys);
		foreach(lc, rules.match)
		{
			appendStringInfo(&match, "%sx.%s OPERATOR(pg_catalog.=) t.%s",
							 match.len ? " AND " : "", (char *) lfirst(lc), (char *) lfirst(lc));
			appendStringInfo(&keys, "x.%s, ", (char *) lfirst(lc));
		}
		sql = psprintf("DELETE FROM %1$s AS d WHERE d.ctid OPERATOR(pg_catalog.=) ANY (ARRAY("
					   "SELECT t.ctid FROM %1$s AS t LEFT JOIN (SELECT %3$s"
					   "trace_agg.ttl_cutoff(LEAST($3, x.%4$s)) AS cutoff FROM %5$s AS x OFFSET 0) AS x "
					   "ON %6$s WHERE t.%2$s OPERATOR(pg_catalog.<) COALESCE(x.cutoff, $1) "
					   "LIMIT $2 FOR UPDATE OF t SKIP LOCKED)) "
					   "AND d.%2$s OPERATOR(pg_catalog.<) trace_agg.ttl_cutoff(LEAST($3, %7$s))",
					   target, column, keys.data, rules.interval_column, rules.qualified, match.data,
					   ttl_rule_lookup(&rules, "d", NIL));
	}
	else
		sql = psprintf("DELETE FROM %1$s WHERE ctid OPERATOR(pg_catalog.=) ANY (ARRAY("
					   "SELECT ctid FROM %1$s WHERE %2$s OPERATOR(pg_catalog.<) $1 "
					   "LIMIT $2 FOR UPDATE SKIP LOCKED)) AND %2$s OPERATOR(pg_catalog.<) $1",
					   target, column);

	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(owner, save_sec_context | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	nest = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	if (SPI_execute_with_args(sql, 3, argtypes, args, nulls, false, 0) != SPI_OK_DELETE)
		elog(ERROR, "could not purge table \"%s\"", get_rel_name(targetid));
	deleted = (int64) SPI_processed;
	AtEOXact_GUC(false, nest);
	SetUserIdAndSecContext(save_userid, save_sec_context);

	SPI_finish();
	return deleted;
}

/* Forget expired insert tokens and tombstones, as the catalog's owner; returns how many are left. */
int64
ttl_purge_insert_tokens(void)
{
	bool		isnull;
	int64		left;

	SPI_connect();
	trace_agg_catalog_execute("SELECT trace_agg.purge_insert_tokens()", 0, NULL, NULL, NULL, false);
	left = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	SPI_finish();
	return left;
}

PG_FUNCTION_INFO_V1(trace_agg_purge_expired_batch);
Datum
trace_agg_purge_expired_batch(PG_FUNCTION_ARGS)
{
	Oid			targetid = PG_GETARG_OID(0);
	int32		batch_size = PG_GETARG_INT32(1);
	Oid			owner;
	int64		deleted;

	if (!OidIsValid(fanout_relation_owner(targetid)))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", targetid)));
	if (!caller_may_purge(targetid) || !ttl_lock_target(targetid, false, &owner) ||
		!has_privs_of_role(GetUserId(), owner))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("must be owner of table %s to purge it", get_rel_name(targetid))));
	deleted = ttl_purge_batch(targetid, owner, batch_size);
	PG_RETURN_INT64(Max(deleted, 0));
}

/*
 * Purge every TTL target the caller may purge (all of them for a
 * superuser), in statements of PURGE_BATCH_SIZE rows, and forget expired
 * insert tokens.  Tables of other owners are skipped without being locked,
 * so that calling this never makes their owners wait.
 */
PG_FUNCTION_INFO_V1(trace_agg_purge_expired);
Datum
trace_agg_purge_expired(PG_FUNCTION_ARGS)
{
	MemoryContext cxt = CurrentMemoryContext;
	List	   *targets = NIL;
	ListCell   *lc;
	int64		total = 0;
	uint64		i;

	(void) ttl_purge_insert_tokens();

	SPI_connect();
	trace_agg_catalog_execute("SELECT target::pg_catalog.oid FROM trace_agg.ttl ORDER BY target",
						0, NULL, NULL, NULL, true);
	for (i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		Oid			targetid = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i],
															  SPI_tuptable->tupdesc, 1, &isnull));
		MemoryContext spicxt = MemoryContextSwitchTo(cxt);

		targets = lappend_oid(targets, targetid);
		MemoryContextSwitchTo(spicxt);
	}
	SPI_finish();

	foreach(lc, targets)
	{
		Oid			targetid = lfirst_oid(lc);
		Oid			owner;
		int64		deleted;

		if (!caller_may_purge(targetid) || !ttl_lock_target(targetid, false, &owner) ||
			!has_privs_of_role(GetUserId(), owner))
			continue;
		do
		{
			deleted = ttl_purge_batch(targetid, owner, PURGE_BATCH_SIZE);
			total += Max(deleted, 0);
		} while (deleted >= PURGE_BATCH_SIZE);
	}
	PG_RETURN_INT64(total);
}
