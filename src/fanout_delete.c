/*
 * fanout_delete.c
 *		Deleting keys from every target a source feeds, for good.
 *
 * ClickHouse's aggregating tables cannot forget a key: a DELETE is a slow
 * mutation, and a late event of the deleted key brings it back as a partial
 * row.  trace_agg.delete_keys() deletes the keys from every target of a
 * source in one transaction and records a tombstone, which the source's
 * statements read (fanout_build.c) to drop later events of those keys for
 * trace_agg.tombstone_window.  A tombstone is the leading values of the
 * views' keys: a trace (project, id), or a whole project (project).
 *
 * Deleting needs the rights of the source's owner, since the tombstone
 * changes what every view of the source receives, and DELETE on every
 * target, since their rows go (a target may belong to another role, who
 * put a view on the source).  Each target's rows are deleted as the
 * target's owner, in a security-restricted operation, as the TTL purge
 * does: a target's triggers then run with its owner's rights, not the
 * caller's, and its row-level policies hide none of the key's rows.  The
 * source is locked against inserts until the transaction ends, so that no
 * event of a deleted key slips in between the deletion and the tombstone
 * becoming visible.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "optimizer/optimizer.h"
#include "utils/datum.h"
#include "storage/lmgr.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

#include "fanout.h"
#include "trace_agg.h"

static int	tombstone_window = 30 * 86400;

void
fanout_define_delete_settings(void)
{
	DefineCustomIntVariable("trace_agg.tombstone_window",
							"How long events of a key deleted by trace_agg.delete_keys() are dropped.",
							NULL, &tombstone_window, 30 * 86400, 1, INT_MAX,
							PGC_SUSET, GUC_UNIT_S, NULL, NULL, NULL);
}

/* The key columns of a view: target column names and source attnums. */
typedef struct ViewKey
{
	int			nkeys;
	char	  **columns;		/* target columns, in key order */
	AttrNumber *source_attnos;
} ViewKey;

static ViewKey
view_key(const FanoutView *view)
{
	Oid			sourceid;
	Query	   *query = fanout_analyze(view->query, view->name, &sourceid, view->version != 0);
	ViewKey		key;
	ListCell   *lc;

	if (view->version != 0)
		fanout_set_replacing_key(query, view->targetid, view->name);
	key.nkeys = 0;
	key.columns = palloc(sizeof(char *) * list_length(fanout_key_clause(query)));
	key.source_attnos = palloc(sizeof(AttrNumber) * list_length(fanout_key_clause(query)));
	foreach(lc, fanout_key_clause(query))
	{
		TargetEntry *te = get_sortgroupclause_tle(lfirst_node(SortGroupClause, lc), query->targetList);

		key.columns[key.nkeys] = te->resname;
		key.source_attnos[key.nkeys] = castNode(Var, te->expr)->varattno;
		key.nkeys++;
	}
	return key;
}

/*
 * Delete the rows of VIEW's target whose leading NVALUES key columns equal
 * VALUES (and, with TIME_COLUMN, whose TIME_COLUMN is before BEFORE), as the
 * target's owner; returns the number deleted.  With KEYS, the full key of
 * every deleted row (text[]) is appended to it.
 */
static uint64
delete_from_target(const FanoutView *view, const ViewKey *key, Datum *values, int nvalues,
				   const char *time_column, Datum before, List **keys)
{
	StringInfoData sql;
	StringInfoData full;
	Oid		   *argtypes = palloc(sizeof(Oid) * (nvalues + 1));
	Datum	   *args = palloc(sizeof(Datum) * (nvalues + 1));
	Oid			owner;
	Oid			save_userid;
	int			save_sec_context;
	uint64		deleted;
	uint64		i;
	int			k;

	initStringInfo(&sql);
	initStringInfo(&full);
	appendStringInfo(&sql, "DELETE FROM %s AS t WHERE ", fanout_qualified_name(view->targetid));
	for (k = 0; k < nvalues; k++)
	{
		Oid			typid;
		int32		typmod;
		Oid			collid;

		get_atttypetypmodcoll(view->targetid, get_attnum(view->targetid, key->columns[k]),
							  &typid, &typmod, &collid);
		appendStringInfo(&sql, "%st.%s OPERATOR(pg_catalog.=) $%d::%s", k ? " AND " : "",
						 quote_identifier(key->columns[k]), k + 1,
						 format_type_with_typemod(typid, typmod));
		argtypes[k] = TEXTOID;
		args[k] = values[k];
	}
	if (time_column)
	{
		appendStringInfo(&sql, " AND t.%s OPERATOR(pg_catalog.<) $%d",
						 quote_identifier(time_column), nvalues + 1);
		argtypes[nvalues] = TIMESTAMPTZOID;
		args[nvalues] = before;
	}
	for (k = 0; k < key->nkeys; k++)
		appendStringInfo(&full, "%st.%s::pg_catalog.text", k ? ", " : "", quote_identifier(key->columns[k]));
	appendStringInfo(&sql, " RETURNING ARRAY[%s]", full.data);

	owner = fanout_relation_owner(view->targetid);
	if (!OidIsValid(owner))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("target of materialized view \"%s\" was dropped", view->name)));
	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(owner, save_sec_context |
						   SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION);
	if (SPI_execute_with_args(sql.data, nvalues + (time_column ? 1 : 0), argtypes, args,
							  NULL, false, 0) != SPI_OK_DELETE_RETURNING)
		elog(ERROR, "could not delete from target of materialized view \"%s\"", view->name);
	SetUserIdAndSecContext(save_userid, save_sec_context);
	deleted = SPI_processed;
	for (i = 0; keys && i < deleted; i++)
	{
		bool		isnull;

		*keys = lappend(*keys, DatumGetPointer(datumCopy(SPI_getbinval(SPI_tuptable->vals[i],
																	   SPI_tuptable->tupdesc, 1, &isnull),
														 false, -1)));
	}
	return deleted;
}

static void
record_tombstone(Oid sourceid, Datum key)
{
	Oid			argtypes[2] = {OIDOID, TEXTARRAYOID};
	Datum		args[2] = {ObjectIdGetDatum(sourceid), key};

	trace_agg_catalog_execute("INSERT INTO trace_agg.tombstone AS z (source, key, deleted_at) "
							  "VALUES ($1, $2, pg_catalog.now()) ON CONFLICT (source, key) "
							  "DO UPDATE SET deleted_at = excluded.deleted_at",
							  2, argtypes, args, NULL, false);
}

/*
 * delete_keys(source, key_prefix [, before, time_column]): delete the keys
 * whose leading values are KEY_PREFIX from every target of SOURCE, and drop
 * their later events for trace_agg.tombstone_window.  With BEFORE, only the
 * rows whose TIME_COLUMN (a column of every target) is before it go, and
 * the tombstones name each deleted key rather than the prefix, so that
 * newer keys under the prefix keep being fed.  Returns the number of target
 * rows deleted.
 */
PG_FUNCTION_INFO_V1(trace_agg_delete_keys);
Datum
trace_agg_delete_keys(PG_FUNCTION_ARGS)
{
	Oid			sourceid;
	ArrayType  *prefix;
	Datum	   *values;
	bool	   *nulls;
	int			nvalues;
	char	   *time_column = NULL;
	Datum		before = (Datum) 0;
	List	   *relids;
	List	   *runs;
	List	   *keys = NIL;
	List	   *done = NIL;
	ViewKey		first_key = {0};
	bool		have_first = false;
	uint64		deleted = 0;
	ListCell   *lc;
	int			nest;
	int			i;
	int			k;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("source and key prefix of trace_agg.delete_keys() must not be null")));
	sourceid = PG_GETARG_OID(0);
	prefix = PG_GETARG_ARRAYTYPE_P(1);
	if (!PG_ARGISNULL(2))
	{
		if (PG_ARGISNULL(3))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("a time column is needed to delete keys before a time")));
		before = PG_GETARG_DATUM(2);
		time_column = pstrdup(NameStr(*PG_GETARG_NAME(3)));
	}
	deconstruct_array(prefix, TEXTOID, -1, false, TYPALIGN_INT, &values, &nulls, &nvalues);
	if (ARR_NDIM(prefix) > 1 || nvalues == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("key prefix must be a one-dimensional array of at least one value")));
	for (i = 0; i < nvalues; i++)
		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("value %d of the key prefix is null", i + 1)));
	if (!has_privs_of_role(GetUserId(), fanout_relation_owner(sourceid)))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("must be owner of table %s to delete keys from the targets it feeds",
						get_rel_name(sourceid))));

	/* no event may come between the deletion and its tombstone */
	LockRelationOid(sourceid, ShareRowExclusiveLock);

	SPI_connect();
	nest = fanout_pin_search_path();
	runs = fanout_source_runs(sourceid, InvalidOid, NULL, &relids);
	foreach(lc, runs)
	{
		FanoutRun  *run = lfirst(lc);

		for (i = 0; i < run->nviews; i++)
		{
			const FanoutView *view = &run->views[i];
			ViewKey		key = view_key(view);

			if (key.nkeys < nvalues)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("key prefix has %d values but materialized view \"%s\" has a key of %d columns",
								nvalues, view->name, key.nkeys)));
			if (!have_first)
			{
				first_key = key;
				have_first = true;
			}
			for (k = 0; k < (time_column ? first_key.nkeys : nvalues); k++)
				if (k >= key.nkeys || key.source_attnos[k] != first_key.source_attnos[k] ||
					(time_column && key.nkeys != first_key.nkeys))
					ereport(ERROR,
							(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
							 errmsg("materialized views of table %s do not share their leading key columns",
									get_rel_name(sourceid)),
							 errdetail("A tombstone names the leading key values of every view of the source.")));
			if (list_member_oid(done, view->targetid))
				continue;
			if (pg_class_aclcheck(view->targetid, GetUserId(), ACL_DELETE) != ACLCHECK_OK)
				ereport(ERROR,
						(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
						 errmsg("permission denied to delete keys from table %s, the target of materialized view \"%s\"",
								fanout_qualified_name(view->targetid), view->name),
						 errdetail("Deleting keys of a source deletes their rows from every target it feeds."),
						 errhint("The target's owner can grant DELETE on it, or drop the view.")));
			done = lappend_oid(done, view->targetid);
			deleted += delete_from_target(view, &key, values, nvalues, time_column, before,
										  time_column ? &keys : NULL);
		}
	}

	if (time_column == NULL)
		record_tombstone(sourceid, PointerGetDatum(prefix));
	foreach(lc, keys)
		record_tombstone(sourceid, PointerGetDatum(lfirst(lc)));
	CacheInvalidateRelcacheByRelid(sourceid);

	AtEOXact_GUC(false, nest);
	SPI_finish();
	/* the worker forgets the tombstones once their window has passed */
	ttl_worker_ensure_running();
	PG_RETURN_INT64((int64) deleted);
}
