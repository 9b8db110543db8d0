/*
 * fanout_view.c
 *		Creating materialized views and rebuilding their merge statements.
 *
 * A view is a row of trace_agg.materialized_view (dumped with the
 * extension's configuration) plus one statement trigger on its source that
 * runs every view of that source.  The stored query is the user's query as
 * Postgres deparses it with every name qualified, so that rebuilding the
 * merge statement later (when a TTL changes) means exactly what it meant
 * when the view was created, whatever the search_path is then.
 */
#include "postgres.h"

#include "catalog/pg_authid.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/queryenvironment.h"
#include "utils/ruleutils.h"

#include "fanout.h"

/* The TTL of a target, or NULL; lives until SPI_finish. */
static FanoutTtl *
lookup_ttl(Oid targetid)
{
	Oid			argtypes[1] = {OIDOID};
	Datum		args[1] = {ObjectIdGetDatum(targetid)};
	FanoutTtl  *ttl;
	bool		isnull;

	SPI_execute_with_args("SELECT ttl_column::pg_catalog.text, ttl::pg_catalog.text, reference::pg_catalog.oid "
						  "FROM trace_agg.ttl WHERE target OPERATOR(pg_catalog.=) $1",
						  1, argtypes, args, NULL, true, 1);
	if (SPI_processed == 0)
		return NULL;

	ttl = palloc0(sizeof(FanoutTtl));
	ttl->column = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	ttl->interval = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
	ttl->reference = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0],
													SPI_tuptable->tupdesc, 3, &isnull));
	if (isnull)
		ttl->reference = InvalidOid;
	return ttl;
}

/*
 * Prepare the merge statement against the source's shape, as the trigger
 * will, so that type mismatches and missing merge functions surface now.
 */
static void
check_merge_sql(Oid sourceid, const char *sql, const char *viewname)
{
	EphemeralNamedRelation enr = palloc0(sizeof(EphemeralNamedRelationData));

	enr->md.name = FANOUT_NEW_ROWS;
	enr->md.reliddesc = sourceid;
	enr->md.enrtype = ENR_NAMED_TUPLESTORE;
	if (SPI_register_relation(enr) != SPI_OK_REL_REGISTER)
		elog(ERROR, "could not register transition table for materialized view \"%s\"", viewname);
	if (SPI_prepare(sql, 0, NULL) == NULL)
		elog(ERROR, "could not prepare merge statement of materialized view \"%s\": %s",
			 viewname, SPI_result_code_string(SPI_result));
	SPI_unregister_relation(FANOUT_NEW_ROWS);
}

static char *
build_view(const char *name, Oid targetid, const char *query_text,
		   Oid *sourceid, char **normalized)
{
	Query	   *query = fanout_analyze(query_text, name, sourceid);
	char	   *sql;
	int			nest = fanout_pin_search_path();

	*normalized = pg_get_querydef(copyObject(query), false);
	sql = fanout_build_merge_sql(query, name, targetid, lookup_ttl(targetid));
	check_merge_sql(*sourceid, sql, name);
	AtEOXact_GUC(true, nest);
	return sql;
}

static void
ensure_trigger(Oid sourceid)
{
	Oid			argtypes[1] = {OIDOID};
	Datum		args[1] = {ObjectIdGetDatum(sourceid)};
	char	   *source = quote_qualified_identifier(get_namespace_name(get_rel_namespace(sourceid)),
													get_rel_name(sourceid));

	SPI_execute_with_args("SELECT FROM pg_catalog.pg_trigger WHERE tgrelid OPERATOR(pg_catalog.=) $1 "
						  "AND tgname OPERATOR(pg_catalog.=) '" FANOUT_TRIGGER_NAME "'",
						  1, argtypes, args, NULL, true, 1);
	if (SPI_processed > 0)
		return;
	if (SPI_execute(psprintf("CREATE TRIGGER " FANOUT_TRIGGER_NAME " AFTER INSERT ON %s "
							 "REFERENCING NEW TABLE AS " FANOUT_NEW_ROWS
							 " FOR EACH STATEMENT EXECUTE FUNCTION trace_agg.fanout()", source),
					false, 0) != SPI_OK_UTILITY)
		elog(ERROR, "could not create fan-out trigger on %s", source);
}

/*
 * Only the extension's functions write its catalog of views, which no other
 * role may change (a forged merge statement would run with its "owner's"
 * rights inside other roles' inserts); callers' rights are checked on the
 * tables and views they name before this runs.
 */
static int
catalog_write(const char *sql, int nargs, Oid *argtypes, Datum *args)
{
	Oid			save_userid;
	int			save_sec_context;
	int			rc;

	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(BOOTSTRAP_SUPERUSERID, save_sec_context | SECURITY_LOCAL_USERID_CHANGE);
	rc = SPI_execute_with_args(sql, nargs, argtypes, args, NULL, false, 0);
	SetUserIdAndSecContext(save_userid, save_sec_context);
	return rc;
}

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

static void
check_privilege(Oid relid, AclMode mode, const char *what, const char *viewname)
{
	if (pg_class_aclcheck(relid, GetUserId(), mode) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to create materialized view \"%s\"", viewname),
				 errdetail("The view runs with its creator's rights, who needs %s on table \"%s\".",
						   what, get_rel_name(relid))));
}

PG_FUNCTION_INFO_V1(trace_agg_create_materialized_view);
Datum
trace_agg_create_materialized_view(PG_FUNCTION_ARGS)
{
	char	   *name;
	Oid			targetid;
	char	   *query_text;
	Oid			sourceid;
	char	   *normalized;
	char	   *sql;
	Oid			argtypes[6] = {TEXTOID, OIDOID, OIDOID, TEXTOID, OIDOID, TEXTOID};
	Datum		args[6];
	int			nest;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("name, target and query of a materialized view must not be null")));
	name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	targetid = PG_GETARG_OID(1);
	query_text = text_to_cstring(PG_GETARG_TEXT_PP(2));
	if (name[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_NAME),
				 errmsg("materialized view name must not be empty")));

	SPI_connect();
	args[0] = CStringGetTextDatum(name);
	SPI_execute_with_args("SELECT FROM trace_agg.materialized_view WHERE view_name OPERATOR(pg_catalog.=) $1",
						  1, argtypes, args, NULL, true, 1);
	if (SPI_processed > 0)
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("materialized view \"%s\" already exists", name)));

	sql = build_view(name, targetid, query_text, &sourceid, &normalized);
	check_not_chained(sourceid, targetid, name);
	check_privilege(sourceid, ACL_SELECT, "SELECT", name);
	check_privilege(targetid, ACL_INSERT | ACL_UPDATE, "INSERT and UPDATE", name);

	nest = fanout_pin_search_path();
	args[1] = ObjectIdGetDatum(sourceid);
	args[2] = ObjectIdGetDatum(targetid);
	args[3] = CStringGetTextDatum(normalized);
	args[4] = ObjectIdGetDatum(GetUserId());
	args[5] = CStringGetTextDatum(sql);
	/* The trigger is created with the caller's rights (it needs the source's). */
	ensure_trigger(sourceid);
	catalog_write("INSERT INTO trace_agg.materialized_view "
				  "(view_name, source, target, query, owner, merge_sql) "
				  "VALUES ($1, $2, $3, $4, $5, $6)",
				  6, argtypes, args);
	AtEOXact_GUC(true, nest);
	SPI_finish();
	PG_RETURN_VOID();
}

/*
 * Rebuild the merge statements of every view writing into a target, after
 * its TTL changed.
 */
PG_FUNCTION_INFO_V1(trace_agg_rebuild_materialized_views);
Datum
trace_agg_rebuild_materialized_views(PG_FUNCTION_ARGS)
{
	Oid			targetid = PG_GETARG_OID(0);
	Oid			argtypes[2] = {OIDOID, TEXTOID};
	Datum		args[2];
	SPITupleTable *views;
	uint64		nviews;
	uint64		i;
	int			nest;

	SPI_connect();
	nest = fanout_pin_search_path();
	args[0] = ObjectIdGetDatum(targetid);
	SPI_execute_with_args("SELECT view_name, query FROM trace_agg.materialized_view "
						  "WHERE target OPERATOR(pg_catalog.=) $1 ORDER BY view_name",
						  1, argtypes, args, NULL, false, 0);
	views = SPI_tuptable;
	nviews = SPI_processed;
	for (i = 0; i < nviews; i++)
	{
		char	   *name = SPI_getvalue(views->vals[i], views->tupdesc, 1);
		char	   *query_text = SPI_getvalue(views->vals[i], views->tupdesc, 2);
		Oid			sourceid;
		char	   *normalized;
		char	   *sql = build_view(name, targetid, query_text, &sourceid, &normalized);

		argtypes[0] = TEXTOID;
		args[0] = CStringGetTextDatum(name);
		args[1] = CStringGetTextDatum(sql);
		catalog_write("UPDATE trace_agg.materialized_view SET merge_sql = $2 "
					  "WHERE view_name OPERATOR(pg_catalog.=) $1",
					  2, argtypes, args);
	}
	AtEOXact_GUC(true, nest);
	SPI_finish();
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(trace_agg_drop_materialized_view);
Datum
trace_agg_drop_materialized_view(PG_FUNCTION_ARGS)
{
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	bool		if_exists = PG_GETARG_BOOL(1);
	Oid			argtypes[1] = {TEXTOID};
	Datum		args[1] = {CStringGetTextDatum(name)};
	Oid			sourceid;
	Oid			owner;
	bool		isnull;
	int			nest;

	SPI_connect();
	nest = fanout_pin_search_path();
	catalog_write("SELECT source::pg_catalog.oid, owner::pg_catalog.oid FROM trace_agg.materialized_view "
				  "WHERE view_name OPERATOR(pg_catalog.=) $1 FOR UPDATE",
				  1, argtypes, args);
	if (SPI_processed == 0)
	{
		ereport(if_exists ? NOTICE : ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("materialized view \"%s\" does not exist%s", name,
						if_exists ? ", skipping" : "")));
		AtEOXact_GUC(true, nest);
		SPI_finish();
		PG_RETURN_VOID();
	}
	sourceid = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	owner = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	if (!has_privs_of_role(GetUserId(), owner))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("must be owner of materialized view \"%s\"", name)));

	catalog_write("DELETE FROM trace_agg.materialized_view WHERE view_name OPERATOR(pg_catalog.=) $1",
				  1, argtypes, args);

	/* The trigger goes with the source's last view; it is ours to drop. */
	argtypes[0] = OIDOID;
	args[0] = ObjectIdGetDatum(sourceid);
	SPI_execute_with_args("SELECT FROM trace_agg.materialized_view WHERE source OPERATOR(pg_catalog.=) $1",
						  1, argtypes, args, NULL, false, 1);
	if (SPI_processed == 0)
		catalog_write(psprintf("DROP TRIGGER " FANOUT_TRIGGER_NAME " ON %s",
							   quote_qualified_identifier(get_namespace_name(get_rel_namespace(sourceid)),
														  get_rel_name(sourceid))),
					  0, NULL, NULL);
	AtEOXact_GUC(true, nest);
	SPI_finish();
	PG_RETURN_VOID();
}
