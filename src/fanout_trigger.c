/*
 * fanout_trigger.c
 *		The statement trigger that runs a source's materialized views.
 *
 * Every INSERT statement into a source fires trace_agg.fanout() once, after
 * the statement, with the statement's rows in the transition table
 * trace_agg_new_rows.  It runs the statements fanout_catalog.c generates
 * from the source's definitions, all in the statement's transaction: if one
 * fails, the INSERT fails and no target changes.
 *
 * Each run of views executes as the views' owner inside a security-
 * restricted operation, with search_path pinned, and every setting changed
 * while it runs is rolled back when it returns, as REFRESH MATERIALIZED
 * VIEW does: a function called by a view's query can neither act with the
 * inserting role's rights nor leave a setting behind in its session.  A
 * role that may only INSERT into the source still feeds targets it can
 * neither read nor write.
 *
 * The statements are prepared once per backend and source, and kept until
 * a relation they involve changes (a relcache invalidation of the source,
 * a view, a target, a TTL reference or per-key rules table, which creating
 * or dropping a view and changing a TTL send; a change of the rules' rows
 * needs none, as the statements read them) or any function, type or schema
 * changes.  The trigger locks the targets, references and rules tables
 * before it looks at the cache, so that a rename committed before it is
 * seen and none can happen while the statement runs: writes follow OIDs,
 * never a name read earlier.
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
#include "storage/lmgr.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/queryenvironment.h"
#include "utils/syscache.h"

#include "fanout.h"

/* The prepared statements of one source's views in this backend. */
typedef struct SourceStatements
{
	Oid			sourceid;
	bool		stale;
	List	   *relids;			/* relations whose change makes it stale */
	List	   *runs;			/* FanoutRun, each with its prepared plan */
	List	   *plans;			/* SPIPlanPtr per run */
	MemoryContext context;		/* everything above but the plans */
} SourceStatements;

static List *cached_sources = NIL;
static int	fanout_depth = 0;	/* fan-outs running in this backend */
static char *insert_token = NULL;
static int	insert_token_window = 86400;
static bool callbacks_registered = false;

/*
 * A relation involved in a source's statements changed.  The statements
 * are only marked here: an invalidation may arrive while one of them runs.
 */
static void
mark_relation_changed(Datum arg, Oid relid)
{
	ListCell   *lc;

	foreach(lc, cached_sources)
	{
		SourceStatements *ss = lfirst(lc);

		if (!OidIsValid(relid) || list_member_oid(ss->relids, relid))
			ss->stale = true;
	}
}

/*
 * A function, type, operator or schema changed: a statement names them as
 * they were called when it was built, so every statement is rebuilt.
 */
static void
mark_all_changed(Datum arg, int cacheid, uint32 hashvalue)
{
	mark_relation_changed(arg, InvalidOid);
}

/* Free stale statements, unless an outer fan-out of this backend runs them. */
static void
drop_stale_statements(void)
{
	ListCell   *lc;

	if (fanout_depth > 0)
		return;
	foreach(lc, cached_sources)
	{
		SourceStatements *ss = lfirst(lc);
		ListCell   *plc;

		if (!ss->stale)
			continue;
		foreach(plc, ss->plans)
			SPI_freeplan(lfirst(plc));
		MemoryContextDelete(ss->context);
		cached_sources = foreach_delete_current(cached_sources, lc);
	}
}

/*
 * Register the transition table's shape for preparing statements outside a
 * trigger (creating a view checks its statements this way).
 */
static void
register_new_rows(Oid sourceid)
{
	EphemeralNamedRelation enr = palloc0(sizeof(EphemeralNamedRelationData));

	enr->md.name = FANOUT_NEW_ROWS;
	enr->md.reliddesc = sourceid;
	enr->md.enrtype = ENR_NAMED_TUPLESTORE;
	if (SPI_register_relation(enr) != SPI_OK_REL_REGISTER)
		elog(ERROR, "could not register the transition table of table %u", sourceid);
}

/*
 * A copy of RUNS in the current memory context: SPI leaves the generator's
 * results in its own context, which ends with the trigger call.
 */
static List *
copy_runs(List *runs)
{
	List	   *copy = NIL;
	ListCell   *lc;
	int			i;

	foreach(lc, runs)
	{
		FanoutRun  *run = lfirst(lc);
		FanoutRun  *r = palloc(sizeof(FanoutRun));

		*r = *run;
		r->sql = pstrdup(run->sql);
		r->views = palloc(sizeof(FanoutView) * run->nviews);
		for (i = 0; i < run->nviews; i++)
		{
			FanoutView *v = &r->views[i];

			*v = run->views[i];
			v->name = pstrdup(v->name);
			v->query = pstrdup(v->query);
			if (v->ttl)
			{
				FanoutTtl  *ttl = palloc(sizeof(FanoutTtl));

				ttl->column = pstrdup(v->ttl->column);
				ttl->interval = v->ttl->interval ? pstrdup(v->ttl->interval) : NULL;
				ttl->reference = v->ttl->reference;
				ttl->per_key = v->ttl->per_key;
				v->ttl = ttl;
			}
		}
		copy = lappend(copy, r);
	}
	return copy;
}

/*
 * Generate and prepare the statements of SOURCEID's views, each prepared as
 * the owner of its run (the transition table must be registered).  Lives
 * in CacheMemoryContext until a relation involved changes.
 */
static SourceStatements *
build_statements(Oid sourceid, Oid only_view)
{
	MemoryContext context;
	MemoryContext oldcxt;
	SourceStatements *ss;
	Oid			save_userid;
	int			save_sec_context;
	ListCell   *lc;
	List	   *runs;
	List	   *relids;

	runs = fanout_source_runs(sourceid, only_view, NULL, &relids);
	context = AllocSetContextCreate(CacheMemoryContext, "trace_agg fan-out statements",
									ALLOCSET_SMALL_SIZES);
	oldcxt = MemoryContextSwitchTo(context);
	ss = palloc0(sizeof(SourceStatements));
	ss->sourceid = sourceid;
	ss->context = context;
	ss->runs = copy_runs(runs);
	ss->relids = list_copy(relids);
	MemoryContextSwitchTo(oldcxt);

	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	PG_TRY();
	{
		foreach(lc, ss->runs)
		{
			FanoutRun  *run = lfirst(lc);
			SPIPlanPtr	plan;

			SetUserIdAndSecContext(run->ownerid, save_sec_context |
								   SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION);
			plan = SPI_prepare(run->sql, 0, NULL);
			if (plan == NULL)
				elog(ERROR, "could not prepare the statement of materialized view \"%s\": %s",
					 run->views[0].name, SPI_result_code_string(SPI_result));
			SPI_keepplan(plan);
			SetUserIdAndSecContext(save_userid, save_sec_context);
			oldcxt = MemoryContextSwitchTo(context);
			ss->plans = lappend(ss->plans, plan);
			MemoryContextSwitchTo(oldcxt);
		}
	}
	PG_CATCH();
	{
		foreach(lc, ss->plans)
			SPI_freeplan(lfirst(lc));
		MemoryContextDelete(context);
		PG_RE_THROW();
	}
	PG_END_TRY();
	return ss;
}

/*
 * Lock the targets the statements write and the references and rules they
 * read, as the statements themselves will, so that no rename slips in
 * between.  The views are not locked: dropping one of several views of a
 * source waits for no insert.
 */
static void
lock_involved(const SourceStatements *ss)
{
	ListCell   *lc;
	int			i;

	foreach(lc, ss->runs)
	{
		FanoutRun  *run = lfirst(lc);

		for (i = 0; i < run->nviews; i++)
		{
			LockRelationOid(run->views[i].targetid, RowExclusiveLock);
			if (run->views[i].ttl && OidIsValid(run->views[i].ttl->reference))
				LockRelationOid(run->views[i].ttl->reference, AccessShareLock);
			if (run->views[i].ttl && OidIsValid(run->views[i].ttl->per_key))
				LockRelationOid(run->views[i].ttl->per_key, AccessShareLock);
		}
	}
}

/*
 * The current statements of SOURCEID's views.  Locking the relations of a
 * cached set processes the invalidations committed before, which may make
 * it stale; a new set involves relations of its own, locked in turn.
 */
static SourceStatements *
source_statements(Oid sourceid)
{
	ListCell   *lc;
	SourceStatements *ss = NULL;
	MemoryContext oldcxt;

	foreach(lc, cached_sources)
	{
		SourceStatements *cached = lfirst(lc);

		if (!cached->stale && cached->sourceid == sourceid)
			ss = cached;
	}
	if (ss)
	{
		lock_involved(ss);
		if (!ss->stale)
			return ss;
	}
	for (;;)
	{
		ss = build_statements(sourceid, InvalidOid);
		oldcxt = MemoryContextSwitchTo(CacheMemoryContext);
		cached_sources = lappend(cached_sources, ss);
		MemoryContextSwitchTo(oldcxt);
		lock_involved(ss);
		if (!ss->stale)
			return ss;
	}
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
 * Check that the statement of view VIEWID of SOURCEID can be generated and
 * prepared, as its owner, without keeping it: creating a view calls this
 * so that a mistake surfaces then, not at the next insert (other views of
 * the source, whoever owns them, are not its creator's concern).  Must run
 * inside SPI with search_path pinned.
 */
void
fanout_check_statements(Oid sourceid, Oid viewid)
{
	SourceStatements *ss;
	ListCell   *lc;

	register_new_rows(sourceid);
	ss = build_statements(sourceid, viewid);
	SPI_unregister_relation(FANOUT_NEW_ROWS);
	foreach(lc, ss->plans)
		SPI_freeplan(lfirst(lc));
	MemoryContextDelete(ss->context);
}

static void
register_callbacks(void)
{
	if (callbacks_registered)
		return;
	CacheRegisterRelcacheCallback(mark_relation_changed, (Datum) 0);
	CacheRegisterSyscacheCallback(PROCOID, mark_all_changed, (Datum) 0);
	CacheRegisterSyscacheCallback(TYPEOID, mark_all_changed, (Datum) 0);
	CacheRegisterSyscacheCallback(OPEROID, mark_all_changed, (Datum) 0);
	CacheRegisterSyscacheCallback(NAMESPACEOID, mark_all_changed, (Datum) 0);
	callbacks_registered = true;
}

PG_FUNCTION_INFO_V1(trace_agg_fanout);
Datum
trace_agg_fanout(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	Oid			sourceid;
	SourceStatements *ss;
	ListCell   *run_cell;
	ListCell   *plan_cell;
	bool		has_ttl = false;
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

	/*
	 * Only the trigger create_materialized_view made may run the views: a
	 * second trigger naming its transition table otherwise would leave the
	 * statements reading a relation of that name, say a temporary table
	 * full of forged rows.
	 */
	if (strcmp(trigdata->tg_trigger->tgname, FANOUT_TRIGGER_NAME) != 0 ||
		trigdata->tg_trigger->tgnewtable == NULL ||
		strcmp(trigdata->tg_trigger->tgnewtable, FANOUT_NEW_ROWS) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("trace_agg.fanout() may only run as trigger \"" FANOUT_TRIGGER_NAME "\" with REFERENCING NEW TABLE AS " FANOUT_NEW_ROWS),
				 errdetail("Trigger \"%s\" on table \"%s\" calls it.",
						   trigdata->tg_trigger->tgname, RelationGetRelationName(trigdata->tg_relation))));

	if (tuplestore_tuple_count(trigdata->tg_newtable) == 0)
		return PointerGetDatum(NULL);

	register_callbacks();
	sourceid = RelationGetRelid(trigdata->tg_relation);
	SPI_connect();
	if (SPI_register_trigger_data(trigdata) != SPI_OK_TD_REGISTER)
		elog(ERROR, "could not register the transition table of the fan-out trigger");

	/*
	 * Everything from here to AtEOXact_GUC(false) runs at a GUC nest level
	 * of its own, so that no setting changed by a view's functions (a
	 * search_path, an insert token) survives into the inserting session.
	 */
	nest = fanout_pin_search_path();

	if (insert_token[0] != '\0' && !claim_insert_token(sourceid))
	{
		ereport(NOTICE,
				(errmsg("batch with insert token \"%s\" was already applied to \"%s\", skipping",
						insert_token, RelationGetRelationName(trigdata->tg_relation))));
		AtEOXact_GUC(false, nest);
		SPI_finish();
		return PointerGetDatum(NULL);
	}
	has_ttl = insert_token[0] != '\0';

	drop_stale_statements();
	ss = source_statements(sourceid);
	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	fanout_depth++;
	PG_TRY();
	{
		forboth(run_cell, ss->runs, plan_cell, ss->plans)
		{
			FanoutRun  *run = lfirst(run_cell);
			int			i;

			/*
			 * Rights can change without touching the relations (a role
			 * loses a membership or BYPASSRLS), so each firing checks
			 * them again; it costs a few cache lookups.
			 */
			for (i = 0; i < run->nviews; i++)
			{
				fanout_check_source_access(sourceid, run->views[i].ownerid, run->views[i].name, false);
				has_ttl |= run->views[i].ttl != NULL;
			}
			SetUserIdAndSecContext(run->ownerid, save_sec_context |
								   SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION);
			/* a run's statement is a WITH query whose main part counts */
			if (SPI_execute_plan(lfirst(plan_cell), NULL, NULL, false, 0) != SPI_OK_SELECT)
				elog(ERROR, "statement of materialized view \"%s\" failed: %s",
					 run->views[0].name, SPI_result_code_string(SPI_result));
			SetUserIdAndSecContext(save_userid, save_sec_context);
		}
	}
	PG_FINALLY();
	{
		fanout_depth--;
	}
	PG_END_TRY();

	AtEOXact_GUC(false, nest);
	SPI_finish();

	if (has_ttl)
		ttl_worker_ensure_running();
	return PointerGetDatum(NULL);
}
