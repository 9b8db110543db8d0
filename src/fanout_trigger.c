/*
 * fanout_trigger.c
 *		The statement trigger that runs a source's materialized views.
 *
 * Every INSERT statement into a source fires trace_agg.fanout() once, after
 * the statement, with the statement's rows in the transition table
 * trace_agg_new_rows.  It runs the merge statement of each view of the
 * source, all in the statement's transaction: if one fails, the INSERT fails
 * and no target changes.  Views of targets without a TTL run first, so that
 * a TTL target's ghost-row check sees the reference table already merged.
 * Consecutive views with the same query and owner (the traces setup's three)
 * run as one statement that aggregates the rows once for all their targets.
 *
 * Each view runs with its owner's rights, like a view in Postgres: a role
 * that may only INSERT into the source still feeds targets it can neither
 * read nor write, and search_path is pinned while the statements run.
 * Merge statements are prepared once per backend and kept.
 *
 * A batch may carry a token (trace_agg.insert_token), in the spirit of
 * ClickHouse's insert_deduplication_token: a retried batch whose first
 * attempt had in fact committed is skipped as a whole, so sums are not
 * counted twice.
 */
#include "postgres.h"

#include "catalog/pg_authid.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/memutils.h"

#include "fanout.h"

/* A merge statement prepared in this backend. */
typedef struct CachedMerge
{
	Oid			sourceid;		/* relcache changes of it make the plan stale */
	bool		stale;
	char	   *key;			/* merge_sql of the views it runs */
	SPIPlanPtr	plan;
} CachedMerge;

static List *cached_merges = NIL;
static int	fanout_depth = 0;	/* fan-outs running in this backend */
static char *insert_token = NULL;
static int	insert_token_window = 86400;
static SPIPlanPtr views_of_source_plan = NULL;
static bool callback_registered = false;

/* Columns of the views_of_source() result. */
#define VIEW_MERGE_SQL	1
#define VIEW_OWNER		2
#define VIEW_HAS_TTL	3
#define VIEW_NAME		4
#define VIEW_QUERY		5
#define VIEW_TARGET		6
#define VIEW_TTL_COLUMN 7
#define VIEW_TTL		8
#define VIEW_REFERENCE	9

/*
 * The transition table takes its row shape from the source when a statement
 * is prepared, so a change to the source (ADD COLUMN, say) makes the plans
 * that read it stale.  They are only marked here: an invalidation may arrive
 * while one of them runs.
 */
static void
mark_merges_stale(Datum arg, Oid relid)
{
	ListCell   *lc;

	foreach(lc, cached_merges)
	{
		CachedMerge *cm = lfirst(lc);

		if (!OidIsValid(relid) || cm->sourceid == relid)
			cm->stale = true;
	}
}

/* Free stale plans, unless an outer fan-out of this backend may run them. */
static void
drop_stale_merges(void)
{
	ListCell   *lc;

	if (fanout_depth > 0)
		return;
	foreach(lc, cached_merges)
	{
		CachedMerge *cm = lfirst(lc);

		if (!cm->stale)
			continue;
		SPI_freeplan(cm->plan);
		pfree(cm->key);
		pfree(cm);
		cached_merges = foreach_delete_current(cached_merges, lc);
	}
}

static SPIPlanPtr
find_merge_plan(Oid sourceid, const char *key)
{
	ListCell   *lc;

	foreach(lc, cached_merges)
	{
		CachedMerge *cm = lfirst(lc);

		if (!cm->stale && cm->sourceid == sourceid && strcmp(cm->key, key) == 0)
			return cm->plan;
	}
	return NULL;
}

static SPIPlanPtr
keep_merge_plan(Oid sourceid, const char *key, const char *sql)
{
	CachedMerge *cm;
	SPIPlanPtr	plan;
	MemoryContext oldcxt;

	plan = SPI_prepare(sql, 0, NULL);
	if (plan == NULL)
		elog(ERROR, "could not prepare merge statement: %s", SPI_result_code_string(SPI_result));
	SPI_keepplan(plan);

	oldcxt = MemoryContextSwitchTo(CacheMemoryContext);
	cm = palloc(sizeof(CachedMerge));
	cm->sourceid = sourceid;
	cm->stale = false;
	cm->key = pstrdup(key);
	cm->plan = plan;
	cached_merges = lappend(cached_merges, cm);
	MemoryContextSwitchTo(oldcxt);
	return plan;
}

/*
 * Pin search_path for what follows; returns the GUC nest level to pass to
 * AtEOXact_GUC.  Errors unwind it with the transaction.
 */
int
fanout_pin_search_path(void)
{
	int			nest = NewGUCNestLevel();

	set_config_option("search_path", "pg_catalog, pg_temp",
					  PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	return nest;
}

void
fanout_define_settings(void)
{
	DefineCustomStringVariable("trace_agg.insert_token",
							   "Identifies an INSERT batch: a batch whose token was already applied to the same source is skipped.",
							   "Set a new token for every INSERT statement, and the same one when retrying it.",
							   &insert_token, "", PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("trace_agg.insert_token_window",
							"How long an applied insert token keeps a retried batch from being applied again.",
							NULL, &insert_token_window, 86400, 1, INT_MAX,
							PGC_SUSET, GUC_UNIT_S, NULL, NULL, NULL);
}

/*
 * Record that this statement's token is applied to the source; false if it
 * already was, within the window.  A concurrent retry with the same token
 * waits on the primary key until the first attempt commits or aborts, so
 * exactly one of them is applied.  The table is the extension's and ingest
 * roles cannot write it, hence the switch of user.
 */
static bool
claim_insert_token(Oid sourceid)
{
	Oid			argtypes[3] = {OIDOID, TEXTOID, INT4OID};
	Datum		args[3];
	Oid			save_userid;
	int			save_sec_context;

	args[0] = ObjectIdGetDatum(sourceid);
	args[1] = CStringGetTextDatum(insert_token);
	args[2] = Int32GetDatum(insert_token_window);
	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(BOOTSTRAP_SUPERUSERID, save_sec_context | SECURITY_LOCAL_USERID_CHANGE);
	SPI_execute_with_args("INSERT INTO trace_agg.insert_token AS t (source, token, applied_at) "
						  "VALUES ($1, $2, pg_catalog.now()) ON CONFLICT (source, token) "
						  "DO UPDATE SET applied_at = excluded.applied_at "
						  "WHERE t.applied_at OPERATOR(pg_catalog.<=) "
						  "(pg_catalog.now() OPERATOR(pg_catalog.-) pg_catalog.make_interval(secs => $3))",
						  3, argtypes, args, NULL, false, 0);
	SetUserIdAndSecContext(save_userid, save_sec_context);
	return SPI_processed == 1;
}

/*
 * The views of a source with what running them needs, in the order they
 * run.  Read as the extension's owner: trace_agg.ttl shows an ordinary role
 * only the TTLs of tables it owns, and an ingest role must still merge
 * with every target's TTL.
 */
static SPITupleTable *
views_of_source(Oid sourceid, uint64 *nviews)
{
	Datum		args[1] = {ObjectIdGetDatum(sourceid)};
	Oid			save_userid;
	int			save_sec_context;

	if (views_of_source_plan == NULL)
	{
		Oid			argtypes[1] = {OIDOID};
		SPIPlanPtr	plan;

		plan = SPI_prepare("SELECT v.merge_sql, v.owner::pg_catalog.oid, t.target IS NOT NULL, "
						   "v.view_name, v.query, v.target::pg_catalog.oid, "
						   "t.ttl_column::pg_catalog.text, t.ttl::pg_catalog.text, t.reference::pg_catalog.oid "
						   "FROM trace_agg.materialized_view v "
						   "LEFT JOIN trace_agg.ttl t ON t.target OPERATOR(pg_catalog.=) v.target "
						   "WHERE v.source OPERATOR(pg_catalog.=) $1 ORDER BY 3, v.view_name",
						   1, argtypes);
		if (plan == NULL)
			elog(ERROR, "could not prepare materialized view lookup: %s",
				 SPI_result_code_string(SPI_result));
		SPI_keepplan(plan);
		views_of_source_plan = plan;
	}
	/*
	 * Read as the extension's catalog owner: row-level security on
	 * trace_agg.ttl shows a role only the TTLs of its own tables, and an
	 * ingest role must still run the TTL views last.
	 */
	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(BOOTSTRAP_SUPERUSERID, save_sec_context | SECURITY_LOCAL_USERID_CHANGE);
	SPI_execute_plan(views_of_source_plan, args, NULL, true, 0);
	SetUserIdAndSecContext(save_userid, save_sec_context);
	*nviews = SPI_processed;
	return SPI_tuptable;
}

static Oid
view_oid(SPITupleTable *views, uint64 row, int column)
{
	bool		isnull;
	Datum		value = SPI_getbinval(views->vals[row], views->tupdesc, column, &isnull);

	return isnull ? InvalidOid : DatumGetObjectId(value);
}

/*
 * End (exclusive) of the run of views starting at FIRST: the views that
 * follow it with the same query and owner and a target not yet in the run.
 * A run is merged by one statement (fanout_build_run_sql), whose parts do
 * not see each other's changes; a view whose TTL asks the target of a view
 * of the run that has a TTL of its own therefore starts a new run, as that
 * view may leave a key as stored, which the statement could not tell.
 */
static uint64
run_end(SPITupleTable *views, uint64 nviews, uint64 first)
{
	char	   *query = SPI_getvalue(views->vals[first], views->tupdesc, VIEW_QUERY);
	Oid			owner = view_oid(views, first, VIEW_OWNER);
	uint64		end;

	for (end = first + 1; end < nviews; end++)
	{
		Oid			target = view_oid(views, end, VIEW_TARGET);
		Oid			reference = view_oid(views, end, VIEW_REFERENCE);
		uint64		i;

		if (view_oid(views, end, VIEW_OWNER) != owner ||
			strcmp(SPI_getvalue(views->vals[end], views->tupdesc, VIEW_QUERY), query) != 0)
			break;
		for (i = first; i < end; i++)
		{
			bool		isnull;

			if (view_oid(views, i, VIEW_TARGET) == target)
				return end;
			if (view_oid(views, i, VIEW_TARGET) == reference &&
				DatumGetBool(SPI_getbinval(views->vals[i], views->tupdesc, VIEW_HAS_TTL, &isnull)))
				return end;
		}
	}
	return end;
}

/*
 * The prepared merge statement of the views first .. end - 1, made on first
 * use: a view's own stored statement, or the one statement of a run.  A run
 * is known by its views' stored statements, which change whenever a view or
 * a TTL does.  Called as the views' owner.
 */
static SPIPlanPtr
run_merge_plan(Oid sourceid, SPITupleTable *views, uint64 first, uint64 end)
{
	StringInfoData key;
	FanoutView *run;
	SPIPlanPtr	plan;
	uint64		i;

	if (end - first == 1)
	{
		char	   *sql = SPI_getvalue(views->vals[first], views->tupdesc, VIEW_MERGE_SQL);

		plan = find_merge_plan(sourceid, sql);
		return plan ? plan : keep_merge_plan(sourceid, sql, sql);
	}

	initStringInfo(&key);
	for (i = first; i < end; i++)
		appendStringInfo(&key, "%s;\n", SPI_getvalue(views->vals[i], views->tupdesc, VIEW_MERGE_SQL));
	plan = find_merge_plan(sourceid, key.data);
	if (plan)
		return plan;

	run = palloc0(sizeof(FanoutView) * (end - first));
	for (i = first; i < end; i++)
	{
		FanoutView *view = &run[i - first];

		view->name = SPI_getvalue(views->vals[i], views->tupdesc, VIEW_NAME);
		view->query = SPI_getvalue(views->vals[i], views->tupdesc, VIEW_QUERY);
		view->targetid = view_oid(views, i, VIEW_TARGET);
		if (SPI_getvalue(views->vals[i], views->tupdesc, VIEW_TTL_COLUMN) != NULL)
		{
			FanoutTtl  *ttl = palloc(sizeof(FanoutTtl));

			ttl->column = SPI_getvalue(views->vals[i], views->tupdesc, VIEW_TTL_COLUMN);
			ttl->interval = SPI_getvalue(views->vals[i], views->tupdesc, VIEW_TTL);
			ttl->reference = view_oid(views, i, VIEW_REFERENCE);
			view->ttl = ttl;
		}
	}
	return keep_merge_plan(sourceid, key.data, fanout_build_run_sql(run, end - first));
}

PG_FUNCTION_INFO_V1(trace_agg_fanout);
Datum
trace_agg_fanout(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	Oid			sourceid;
	SPITupleTable *views;
	uint64		nviews;
	uint64		first;
	uint64		end;
	uint64		i;
	volatile bool has_ttl = false;
	Oid			save_userid;
	int			save_sec_context;
	int			nest;

	if (!CALLED_AS_TRIGGER(fcinfo) ||
		!TRIGGER_FIRED_AFTER(trigdata->tg_event) ||
		!TRIGGER_FIRED_FOR_STATEMENT(trigdata->tg_event) ||
		!TRIGGER_FIRED_BY_INSERT(trigdata->tg_event) ||
		trigdata->tg_newtable == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("trace_agg.fanout() must be an AFTER INSERT FOR EACH STATEMENT trigger with REFERENCING NEW TABLE AS " FANOUT_NEW_ROWS)));

	if (tuplestore_tuple_count(trigdata->tg_newtable) == 0)
		return PointerGetDatum(NULL);

	if (!callback_registered)
	{
		CacheRegisterRelcacheCallback(mark_merges_stale, (Datum) 0);
		callback_registered = true;
	}

	sourceid = RelationGetRelid(trigdata->tg_relation);
	SPI_connect();
	if (SPI_register_trigger_data(trigdata) != SPI_OK_TD_REGISTER)
		elog(ERROR, "could not register the transition table of the fan-out trigger");
	nest = fanout_pin_search_path();

	if (insert_token[0] != '\0' && !claim_insert_token(sourceid))
	{
		ereport(NOTICE,
				(errmsg("batch with insert token \"%s\" was already applied to \"%s\", skipping",
						insert_token, RelationGetRelationName(trigdata->tg_relation))));
		AtEOXact_GUC(true, nest);
		SPI_finish();
		return PointerGetDatum(NULL);
	}

	drop_stale_merges();
	views = views_of_source(sourceid, &nviews);
	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	fanout_depth++;
	PG_TRY();
	{
		for (first = 0; first < nviews; first = end)
		{
			SPIPlanPtr	plan;
			bool		isnull;

			end = run_end(views, nviews, first);
			for (i = first; i < end; i++)
				has_ttl |= DatumGetBool(SPI_getbinval(views->vals[i], views->tupdesc, VIEW_HAS_TTL, &isnull));
			SetUserIdAndSecContext(view_oid(views, first, VIEW_OWNER), save_sec_context |
								   SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION);
			plan = run_merge_plan(sourceid, views, first, end);
			/* a run's statement is a WITH query whose main part counts */
			if (SPI_execute_plan(plan, NULL, NULL, false, 0) !=
				(end - first == 1 ? SPI_OK_INSERT : SPI_OK_SELECT))
				elog(ERROR, "merge statement of a materialized view failed: %s",
					 SPI_result_code_string(SPI_result));
			SetUserIdAndSecContext(save_userid, save_sec_context);
		}
	}
	PG_FINALLY();
	{
		fanout_depth--;
	}
	PG_END_TRY();

	AtEOXact_GUC(true, nest);
	SPI_finish();

	if (has_ttl || insert_token[0] != '\0')
		ttl_worker_ensure_running();
	return PointerGetDatum(NULL);
}
