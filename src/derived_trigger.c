/*
 * derived_trigger.c
 *		The statement triggers that keep derived views exact.
 *
 * Every statement writing a derived view's source fires
 * trace_agg.derived_maintain() after it: INSERT, UPDATE and DELETE with
 * their transition tables (an INSERT ... ON CONFLICT DO UPDATE fires the
 * UPDATE trigger and then the INSERT one), TRUNCATE without.  A firing
 * gathers, per derived view of the source, the keys of its old and new
 * rows.  When the statement's triggers have all fired (at the end of its
 * ExecutorFinish; at once for a statement run outside the executor, as a
 * top-level COPY or TRUNCATE), each derived view with keys gathered, in the
 * order the firings met them (views of one source in order of schema and
 * name):
 *
 *   1. locks the keys: one transaction-level lock per key of the target
 *      (on an advisory tag SQL cannot take), taken in the order of the
 *      keys' hashes, so that two transactions changing rows of the same
 *      key take turns, and two
 *      single-statement transactions cannot deadlock on these locks (the
 *      two firings of an upsert lock their keys together); past
 *      trace_agg.derived_max_key_locks keys, the whole target instead;
 *   2. then, in a new statement, whose snapshot (READ COMMITTED) sees every
 *      transaction that held those locks before as committed, recomputes
 *      the keys from the stored source, upserts their rows into the target
 *      and deletes the rows of keys the source no longer has.
 *
 * Whichever transaction recomputes a key last does so after every earlier
 * one committed, and sees its own changes: the target ends exact.
 *
 * A view in delta mode (derived_delta.c) gathers, with the keys, the
 * changes of their aggregates, and at the statement's end adds them to the
 * target's rows without any key lock (the upsert's row locks order writers
 * of one key, and additions commute), then, when the upsert says some rows
 * need it, deletes those whose count fell to 0 and finishes the others.
 *
 * A TRUNCATE recomputes every key at once (the target is emptied).  Step 2
 * writes the target, whose own derived views are maintained at the end of
 * that statement: a chain is maintained depth first, inside the statement
 * that wrote its first source.
 *
 * Under REPEATABLE READ or SERIALIZABLE a statement cannot see what
 * committed after the transaction's snapshot, so step 2 could not be exact:
 * writing a source there is refused.
 *
 * Each view runs as its owner inside a security-restricted operation, with
 * search_path pinned and every setting it changes rolled back, as the
 * fan-out does.
 *
 * The statements come from a cache of this backend (derived_cache.c),
 * freed only when no firing or maintenance of this backend runs.  The list
 * of a source's views is read from the catalog at every firing, so a view
 * created or dropped elsewhere is seen at once.  The trigger locks the
 * view, its target and its source before it looks at the cache, so that a
 * change committed before is seen and none can happen until the statement
 * ends.  Rights are checked at every firing.  A TRUNCATE, rare, builds its
 * statement anew.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/partition.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"

#include "derived.h"
#include "fanout.h"
#include "trace_agg.h"


/*
 * The keys gathered for one derived view, waiting for the end of the
 * statement whose firings touched them (the ExecutorFinish at DEPTH).  In
 * TopTransactionContext.
 */
typedef struct PendingKeys
{
	int			depth;
	DerivedView view;
	ViewStatements *vs;			/* kept until pending is empty */
	Datum	   *arrays;			/* one per parameter, or NULL before any key */
} PendingKeys;

static List *pending = NIL;
static int	finish_depth = 0;	/* ExecutorFinish calls running in this backend */
static int	running = 0;		/* firings and maintenances running in this backend */
static int	max_key_locks = 1000;	/* trace_agg.derived_max_key_locks */
static ExecutorFinish_hook_type prev_executor_finish = NULL;

/*
 * The arguments of P's statements: its arrays, or nulls before any key
 * was gathered (an empty set of keys).
 */
static Datum *
key_args(const PendingKeys *p, char **nulls)
{
	int			i;

	*nulls = palloc(Max(p->vs->nparams, 1));
	for (i = 0; i < p->vs->nparams; i++)
		(*nulls)[i] = p->arrays ? ' ' : 'n';
	return p->arrays ? p->arrays : palloc0(sizeof(Datum) * Max(p->vs->nparams, 1));
}

/*
 * Run PLAN, or else SQL without arguments, as VIEW's owner, in a
 * security-restricted operation.
 */
static void
run_as_owner(const DerivedView *view, SPIPlanPtr plan, const char *sql, Datum *args,
			 const char *nulls)
{
	Oid			save_userid;
	int			save_sec_context;
	int			rc;

	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(view->ownerid, save_sec_context |
						   SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION);
	rc = plan ? SPI_execute_plan(plan, args, nulls, false, 0) : SPI_execute(sql, false, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "statement of derived view \"%s\" failed: %s",
			 view->name, SPI_result_code_string(rc));
	SetUserIdAndSecContext(save_userid, save_sec_context);
}

/* Run PLAN with P's arrays as its arguments, as its view's owner. */
static void
run_pending(const PendingKeys *p, SPIPlanPtr plan)
{
	char	   *nulls;
	Datum	   *args = key_args(p, &nulls);

	run_as_owner(&p->view, plan, NULL, args, nulls);
}

/*
 * Take a transaction-level lock of MODE on key HASH of TARGETID, or with
 * WHOLE on the whole target.  The tags are advisory ones whose last field
 * (objsubid in pg_locks) SQL's advisory lock functions never use (they use
 * 1 and 2), so that no role can take them and stall a target's writers.
 */
static void
lock_key(Oid targetid, uint32 hash, bool whole, LOCKMODE mode)
{
	LOCKTAG		tag;

	SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, targetid, hash,
						 whole ? DERIVED_LOCK_TARGET : DERIVED_LOCK_KEY);
	(void) LockAcquire(&tag, mode, false, false);
}

/*
 * Lock and recompute the keys gathered for one view, then free the entry:
 * a transaction may run any number of statements.  Must run inside SPI.
 *
 * Every maintenance of a target first takes a lock on the whole target
 * (a tag of its own, which no key lock can be): shared, then one lock per
 * key, in the order of the key hashes the view's lock statement returns;
 * or, when the keys are more than trace_agg.derived_max_key_locks,
 * exclusive and no key lock, since every lock held takes room in the
 * server's lock table until commit.  Both are taken before any key lock,
 * so the order stays the same for all.
 */
static void
maintain(PendingKeys *p)
{
	int			nest = fanout_pin_search_path();
	int			i;

	if (p->arrays != NULL && p->vs->delta)
	{
		bool		isnull;

		run_pending(p, p->vs->keys);
		if (DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull)) > 0)
			run_pending(p, p->vs->cleanup);
	}
	else if (p->arrays != NULL)
	{
		int			nkeys = ArrayGetNItems(ARR_NDIM(DatumGetArrayTypeP(p->arrays[0])),
										   ARR_DIMS(DatumGetArrayTypeP(p->arrays[0])));

		if (nkeys > max_key_locks)
			lock_key(p->view.targetid, 0, true, ExclusiveLock);
		else
		{
			uint64		k;

			lock_key(p->view.targetid, 0, true, ShareLock);
			run_pending(p, p->vs->lock);
			for (k = 0; k < SPI_processed; k++)
			{
				bool		isnull;
				Datum		h = SPI_getbinval(SPI_tuptable->vals[k], SPI_tuptable->tupdesc, 1, &isnull);

				lock_key(p->view.targetid, (uint32) DatumGetInt32(h), false, ExclusiveLock);
			}
		}
		run_pending(p, p->vs->keys);
	}
	AtEOXact_GUC(false, nest);
	for (i = 0; p->arrays && i < p->vs->nparams; i++)
		pfree(DatumGetPointer(p->arrays[i]));
	if (p->arrays)
		pfree(p->arrays);
	pfree(p->view.name);
	pfree(p);
}

/*
 * Maintain the views whose keys the statement finishing at DEPTH gathered.
 * They leave the list first: an error ends the statement anyway.
 */
static void
maintain_pending(int depth)
{
	List	   *mine = NIL;
	List	   *rest = NIL;
	ListCell   *lc;
	MemoryContext oldcxt;

	if (pending == NIL)
		return;
	oldcxt = MemoryContextSwitchTo(TopTransactionContext);
	foreach(lc, pending)
	{
		PendingKeys *p = lfirst(lc);

		if (p->depth == depth)
			mine = lappend(mine, p);
		else
			rest = lappend(rest, p);
	}
	MemoryContextSwitchTo(oldcxt);
	list_free(pending);
	pending = rest;
	if (mine == NIL)
		return;
	SPI_connect();
	running++;
	PG_TRY();
	{
		foreach(lc, mine)
			maintain(lfirst(lc));
	}
	PG_FINALLY();
	{
		running--;
	}
	PG_END_TRY();
	SPI_finish();
	list_free(mine);
}

/*
 * Every AFTER trigger of a statement has fired when its ExecutorFinish
 * returns: the keys its firings gathered are maintained then, all of a
 * view's keys under one sorted set of locks.
 */
static void
derived_executor_finish(QueryDesc *queryDesc)
{
	int			depth = ++finish_depth;

	PG_TRY();
	{
		if (prev_executor_finish)
			prev_executor_finish(queryDesc);
		else
			standard_ExecutorFinish(queryDesc);
	}
	PG_FINALLY();
	{
		finish_depth--;
	}
	PG_END_TRY();
	maintain_pending(depth);
}

/* Keys gathered by an aborted statement or transaction are forgotten with it. */
static void
forget_pending(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT ||
		event == XACT_EVENT_COMMIT || event == XACT_EVENT_PARALLEL_COMMIT ||
		event == XACT_EVENT_PREPARE)
		pending = NIL;
}

static void
forget_pending_subxact(SubXactEvent event, SubTransactionId mySubid,
					   SubTransactionId parentSubid, void *arg)
{
	ListCell   *lc;

	if (event != SUBXACT_EVENT_ABORT_SUB)
		return;
	foreach(lc, pending)
		if (((PendingKeys *) lfirst(lc))->depth > finish_depth)
			pending = foreach_delete_current(pending, lc);
}

/*
 * Hooks and settings of derived views, from _PG_init: the executor hook
 * that maintains them at the end of each statement, and the invalidation
 * callbacks of their cached statements.
 */
void
derived_init(void)
{
	DefineCustomIntVariable("trace_agg.derived_max_key_locks",
							"Most keys of a derived view's target that a statement locks one by one.",
							"A statement touching more keys locks the whole target until it commits.",
							&max_key_locks, 1000, 0, INT_MAX,
							PGC_USERSET, 0, NULL, NULL, NULL);
	prev_executor_finish = ExecutorFinish_hook;
	ExecutorFinish_hook = derived_executor_finish;
	RegisterXactCallback(forget_pending, NULL);
	RegisterSubXactCallback(forget_pending_subxact, NULL);
	derived_cache_init();
}

/*
 * Only the triggers create_derived_view made may run: a trigger of another
 * name or with other transition tables could leave the statements reading
 * a relation of that name, say a temporary table.
 */
static void
check_trigger(TriggerData *trigdata, const char *name, bool old_rows, bool new_rows)
{
	Trigger    *trigger = trigdata->tg_trigger;

	if (strcmp(trigger->tgname, name) != 0 ||
		(trigger->tgoldtable != NULL) != old_rows ||
		(trigger->tgnewtable != NULL) != new_rows ||
		(old_rows && strcmp(trigger->tgoldtable, DERIVED_OLD_ROWS) != 0) ||
		(new_rows && strcmp(trigger->tgnewtable, DERIVED_NEW_ROWS) != 0))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("trace_agg.derived_maintain() may only run as the triggers trace_agg.create_derived_view() creates"),
				 errdetail("Trigger \"%s\" on table \"%s\" calls it.",
						   trigger->tgname, RelationGetRelationName(trigdata->tg_relation))));
}

/*
 * The entry gathering VIEW's keys for the statement finishing at DEPTH,
 * made with VS if there is none yet.  An entry made by an earlier firing
 * of the statement (the UPDATE firing of an upsert before its INSERT one)
 * keeps its statements: VS must take the same arguments.
 */
static PendingKeys *
pending_entry(int depth, const DerivedView *view, ViewStatements *vs)
{
	ListCell   *lc;
	PendingKeys *p;
	MemoryContext oldcxt;

	foreach(lc, pending)
	{
		p = lfirst(lc);
		if (p->depth != depth || p->view.viewid != view->viewid)
			continue;
		if (p->vs->nparams != vs->nparams ||
			memcmp(p->vs->key_array_types, vs->key_array_types, sizeof(Oid) * vs->nparams) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("derived view \"%s\" changed while a statement writing its source ran",
							view->name)));
		return p;
	}
	oldcxt = MemoryContextSwitchTo(TopTransactionContext);
	p = palloc0(sizeof(PendingKeys));
	p->depth = depth;
	p->view = *view;
	p->view.name = pstrdup(view->name);
	p->vs = vs;
	pending = lappend(pending, p);
	MemoryContextSwitchTo(oldcxt);
	return p;
}

/* Add the keys of this firing's transition tables to P's arrays. */
static void
gather_keys(PendingKeys *p, SPIPlanPtr collect)
{
	char	   *nulls;
	Datum	   *args = key_args(p, &nulls);
	MemoryContext oldcxt;
	bool		isnull;
	int			rc;
	int			i;

	rc = SPI_execute_plan(collect, args, nulls, true, 1);
	if (rc != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not gather the keys of derived view \"%s\": %s",
			 p->view.name, SPI_result_code_string(rc));
	/* no key at all (array_agg over no row): the arrays stay as they were */
	if (SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull), isnull)
		return;
	oldcxt = MemoryContextSwitchTo(TopTransactionContext);
	if (p->arrays == NULL)
		p->arrays = palloc0(sizeof(Datum) * p->vs->nparams);
	for (i = 0; i < p->vs->nparams; i++)
	{
		Datum		merged = datumCopy(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc,
													 i + 1, &isnull), false, -1);

		/* the new arrays hold the old ones' keys */
		if (p->arrays[i])
			pfree(DatumGetPointer(p->arrays[i]));
		p->arrays[i] = merged;
	}
	MemoryContextSwitchTo(oldcxt);
}

/*
 * For each derived view of SOURCEID, the firing table or one of its
 * ancestors: gather the keys of the firing's transition tables for the end
 * of the statement, or recompute every key for a TRUNCATE.  Returns the
 * entries to maintain at once (outside the executor).
 */
static List *
gather_source(TriggerData *trigdata, Oid sourceid, bool has_old, bool has_new, bool truncate)
{
	Oid			relid = RelationGetRelid(trigdata->tg_relation);
	List	   *views = derived_cache_read_views(sourceid);
	List	   *now = NIL;
	ListCell   *lc;

	foreach(lc, views)
	{
		DerivedView *view = lfirst(lc);
		ViewStatements *vs;
		PendingKeys *p;

		if (IsolationUsesXactSnapshot())
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("derived view \"%s\" of table \"%s\" needs READ COMMITTED",
							view->name, RelationGetRelationName(trigdata->tg_relation)),
					 errdetail("Keys are recomputed from the source as committed once they are locked, which a transaction snapshot cannot see."),
					 errhint("Write the table in a READ COMMITTED transaction.")));

		/*
		 * A view dropped by a transaction that committed since its
		 * definition was read is skipped; once locked, it stays until this
		 * transaction ends (DROP VIEW waits for it).  No rename of the
		 * target or of the source (an ancestor of the firing partition)
		 * either, from the look at the cache to the end of the statement.
		 */
		LockRelationOid(view->viewid, AccessShareLock);
		if (!SearchSysCacheExists1(RELOID, ObjectIdGetDatum(view->viewid)))
			continue;
		LockRelationOid(view->targetid, RowExclusiveLock);
		LockRelationOid(sourceid, AccessShareLock);

		/*
		 * Rights can change without touching the relations (a role loses a
		 * membership or BYPASSRLS): checked at every firing.
		 */
		derived_check_source_access(sourceid, view->ownerid, view->name, false);
		if (truncate)
		{
			DerivedStatements stmts;

			derived_build_statements(view->viewid, sourceid, view->targetid, view->name,
									 false, false, &stmts, NULL, NIL);
			run_as_owner(view, NULL, stmts.full_sql, NULL, NULL);
			continue;
		}
		vs = derived_cache_statements(view, relid, sourceid, has_old, has_new);
		p = pending_entry(finish_depth, view, vs);
		gather_keys(p, vs->collect);
		if (finish_depth == 0)
			now = lappend(now, p);
	}
	return now;
}

PG_FUNCTION_INFO_V1(trace_agg_derived_maintain);
Datum
trace_agg_derived_maintain(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	List	   *sources;
	bool		has_old;
	bool		has_new;
	bool		truncate;
	List	   *now = NIL;
	ListCell   *lc;
	int			nest;

	if (!CALLED_AS_TRIGGER(fcinfo) ||
		!TRIGGER_FIRED_AFTER(trigdata->tg_event) ||
		!TRIGGER_FIRED_FOR_STATEMENT(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("trace_agg.derived_maintain() must be an AFTER ... FOR EACH STATEMENT trigger")));
	truncate = TRIGGER_FIRED_BY_TRUNCATE(trigdata->tg_event);
	has_old = TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event) || TRIGGER_FIRED_BY_DELETE(trigdata->tg_event);
	has_new = TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event) || TRIGGER_FIRED_BY_INSERT(trigdata->tg_event);
	check_trigger(trigdata,
				  truncate ? DERIVED_TRIGGER_TRUNCATE :
				  TRIGGER_FIRED_BY_INSERT(trigdata->tg_event) ? DERIVED_TRIGGER_INSERT :
				  TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event) ? DERIVED_TRIGGER_UPDATE :
				  DERIVED_TRIGGER_DELETE,
				  has_old, has_new);
	if (!truncate &&
		(!has_old || tuplestore_tuple_count(trigdata->tg_oldtable) == 0) &&
		(!has_new || tuplestore_tuple_count(trigdata->tg_newtable) == 0))
		return PointerGetDatum(NULL);

	/*
	 * A statement naming a partition fires the partition's triggers only:
	 * the sources concerned are the table and its ancestors.
	 */
	sources = list_make1_oid(RelationGetRelid(trigdata->tg_relation));
	if (trigdata->tg_relation->rd_rel->relispartition)
		sources = list_concat(sources, get_partition_ancestors(RelationGetRelid(trigdata->tg_relation)));
	SPI_connect();
	if (SPI_register_trigger_data(trigdata) != SPI_OK_TD_REGISTER)
		elog(ERROR, "could not register the transition tables of a derived view trigger");
	nest = fanout_pin_search_path();
	fanout_check_catalog_version();
	if (running == 0 && pending == NIL)
		derived_cache_drop_stale();
	running++;
	PG_TRY();
	{
		foreach(lc, sources)
			now = list_concat(now, gather_source(trigdata, lfirst_oid(lc), has_old, has_new, truncate));
	}
	PG_FINALLY();
	{
		running--;
	}
	PG_END_TRY();
	AtEOXact_GUC(false, nest);

	/* Outside the executor (a top-level COPY): no statement end to wait for. */
	if (now != NIL)
		maintain_pending(0);
	SPI_finish();
	return PointerGetDatum(NULL);
}
