/*
 * ttl_worker.c
 *		The background worker that removes expired rows of TTL targets.
 *
 * ClickHouse drops expired rows during merges; here a worker per database
 * deletes them in small batches, each in its own transaction, skipping rows
 * an ingesting transaction holds, so that it never makes ingestion wait for
 * long.  No shared_preload_libraries entry and no outside scheduler are
 * needed: the worker is started on demand (by trace_agg.set_ttl(), by the
 * fan-out when it writes a TTL target or records an insert token, and by
 * trace_agg.delete_keys(), whose tombstones it forgets after their window).
 *
 * One worker process does one round: it sleeps trace_agg.ttl_naptime
 * before it connects to its database, purges every target (each as its
 * owner, see ttl_purge.c) and forgets expired insert tokens and tombstones,
 * starts its successor if a TTL, a token or a tombstone is left (at once if
 * expired rows are left after a round as long as the naptime), and exits.
 * So it is connected only while it works: DROP DATABASE, which waits a few
 * seconds for other sessions to leave, never finds it in the way (and a
 * round in progress stops between two batches when it sees a DROP DATABASE
 * waiting), and a worker is never restarted against a database that is
 * gone.  A failing target is reported once per round and skipped; the
 * worker itself never exits with an error it could be restarted for.  A
 * batch that runs longer than trace_agg.ttl_batch_timeout (a target owner's
 * trigger waiting on a lock, say) ends the round process: whatever the
 * trigger catches, the round is over; its successor is started as usual,
 * starts after that target and purges it last, so that one owner's code
 * cannot stop the purge of the others.
 *
 * At most one worker per database holds a session lock whose tag no SQL
 * function can take (an advisory tag with a field the SQL advisory lock
 * functions never set), from its start to its exit; a second one started
 * meanwhile exits at once.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_database.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timeout.h"
#include "utils/timestamp.h"

#include "fanout.h"
#include "ttl.h"

#define TTL_WORKER_TYPE "trace_agg ttl"

/*
 * The worker's lock: an advisory tag (database, "ttl", 0) whose last field
 * is neither 1 nor 2, the only values pg_advisory_lock() and its kin use,
 * so no session can take it from SQL.  pg_locks shows it as an advisory
 * lock with objsubid 29812.
 */
#define TTL_WORKER_LOCK_KEY 0x74746c	/* "ttl" */
#define TTL_WORKER_LOCK_FIELD4 0x7474

static int	ttl_naptime = 60;
static int	ttl_batch_size = 5000;
static int	ttl_batch_timeout = 300;
static bool ttl_worker_enabled = true;
static bool start_requested = false;
static BackgroundWorkerHandle *started_handle = NULL;

/* What a worker passes on to its successor, in bgw_extra. */
typedef struct WorkerArgs
{
	int			naptime;		/* seconds to sleep before connecting */
	Oid			purge_last;		/* target whose batch overran, or 0 */
} WorkerArgs;

/* The round in progress (in the worker only). */
static LOCKTAG round_lock;
static TimeoutId batch_timeout_id;
static Oid	batch_target = InvalidOid;
static char batch_target_name[2 * NAMEDATALEN + 8];
static volatile sig_atomic_t batch_overran = false;

PGDLLEXPORT void trace_agg_ttl_worker_main(Datum main_arg);

void
ttl_worker_define_settings(void)
{
	DefineCustomIntVariable("trace_agg.ttl_naptime",
							"Seconds between two rounds of the TTL worker.",
							NULL, &ttl_naptime, 60, 1, 86400,
							PGC_SUSET, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomIntVariable("trace_agg.ttl_batch_size",
							"Rows the TTL worker deletes per transaction.",
							NULL, &ttl_batch_size, 5000, 1, 1000000,
							PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("trace_agg.ttl_batch_timeout",
							"Longest time one batch of the TTL worker may take; a longer one ends the round.",
							"0 means no limit.",
							&ttl_batch_timeout, 300, 0, 86400,
							PGC_SUSET, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomBoolVariable("trace_agg.ttl_worker",
							 "Whether the TTL worker purges (off pauses it, e.g. for one database with ALTER DATABASE).",
							 NULL, &ttl_worker_enabled, true,
							 PGC_SUSET, 0, NULL, NULL, NULL);
}

static void
worker_lock_tag(LOCKTAG *tag, Oid dboid)
{
	SET_LOCKTAG_ADVISORY(*tag, dboid, TTL_WORKER_LOCK_KEY, 0, TTL_WORKER_LOCK_FIELD4);
}

/* Session locks of a process that never connected are not released for it. */
static void
release_worker_lock(int code, Datum arg)
{
	LockReleaseAll(USER_LOCKMETHOD, true);
}

/*
 * Is someone waiting to drop (or rename, or move) this database?  Those
 * hold its lock in a mode that conflicts with every other, and give other
 * sessions a few seconds to leave.
 */
static bool
database_wanted(void)
{
	LOCKTAG		tag;

	SET_LOCKTAG_OBJECT(tag, InvalidOid, DatabaseRelationId, MyDatabaseId, 0);
	if (LockAcquire(&tag, AccessShareLock, true, true) == LOCKACQUIRE_NOT_AVAIL)
		return true;
	LockRelease(&tag, AccessShareLock, true);
	return false;
}

/*
 * Run one step of a round in its own transaction.  An error is reported as
 * a warning naming what failed, and the round goes on with the next step.
 */
typedef int64 (*RoundStep) (Oid targetid, char **what);

static MemoryContext step_context = NULL;

static int64
run_step(RoundStep step, Oid targetid)
{
	MemoryContext cxt = CurrentMemoryContext;
	char	   *what = NULL;
	int64		result = -1;

	if (step_context == NULL)
		step_context = AllocSetContextCreate(TopMemoryContext, "trace_agg TTL worker step",
											 ALLOCSET_SMALL_SIZES);
	MemoryContextReset(step_context);
	PG_TRY();
	{
		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		PushActiveSnapshot(GetTransactionSnapshot());
		result = step(targetid, &what);
		PopActiveSnapshot();
		CommitTransactionCommand();
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		HOLD_INTERRUPTS();
		disable_timeout(batch_timeout_id, false);
		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		AbortOutOfAnyTransaction();
		RESUME_INTERRUPTS();
		ereport(WARNING,
				(errcode(edata->sqlerrcode),
				 errmsg("trace_agg TTL worker could not %s: %s",
						what ? what : psprintf("purge table with OID %u", targetid), edata->message),
				 edata->detail ? errdetail_internal("%s", edata->detail) : 0,
				 errhint("The worker tries again next round; the other targets are purged meanwhile.")));
		FreeErrorData(edata);
		result = -1;
	}
	PG_END_TRY();
	pgstat_report_activity(STATE_IDLE, NULL);
	return result;
}

/* A round step: one batch of one target; -1 when skipped. */
static int64
purge_step(Oid targetid, char **what)
{
	Oid			owner;
	char	   *name = get_rel_name(targetid);
	int64		deleted;

	if (name == NULL)
		return -1;
	snprintf(batch_target_name, sizeof(batch_target_name), "%s",
			 quote_qualified_identifier(get_namespace_name(get_rel_namespace(targetid)), name));
	*what = MemoryContextStrdup(step_context, psprintf("purge table %s", batch_target_name));
	pgstat_report_activity(STATE_RUNNING, *what);
	if (!ttl_lock_target(targetid, true, &owner))
		return -1;
	batch_target = targetid;
	if (ttl_batch_timeout > 0)
		enable_timeout_after(batch_timeout_id, ttl_batch_timeout * 1000);
	deleted = ttl_purge_batch(targetid, owner, ttl_batch_size);
	disable_timeout(batch_timeout_id, false);
	return deleted;
}

/*
 * A round step: forget expired insert tokens and tombstones; returns how
 * many of either are left.
 */
static int64
tokens_step(Oid unused, char **what)
{
	*what = "forget expired insert tokens and tombstones";
	pgstat_report_activity(STATE_RUNNING, *what);
	return ttl_purge_insert_tokens();
}

/*
 * A round step: list the TTL targets into round_targets.  Returns -1 when
 * the extension is gone, else whether insert tokens or tombstones are
 * recorded (0 or 1).
 */
static List *round_targets;

static int64
list_step(Oid unused, char **what)
{
	uint64		i;
	int64		tokens;

	*what = "read the TTL catalog";
	SPI_connect();
	SPI_execute("SELECT FROM pg_catalog.pg_extension WHERE extname OPERATOR(pg_catalog.=) 'trace_agg'", true, 1);
	if (SPI_processed == 0)
	{
		SPI_finish();
		return -1;
	}
	SPI_execute("SELECT target::pg_catalog.oid FROM trace_agg.ttl ORDER BY target", true, 0);
	for (i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

		round_targets = lappend_oid(round_targets,
									DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i],
																   SPI_tuptable->tupdesc, 1, &isnull)));
		MemoryContextSwitchTo(old);
	}
	SPI_execute("SELECT FROM trace_agg.insert_token UNION ALL SELECT FROM trace_agg.tombstone", true, 1);
	tokens = SPI_processed;
	SPI_finish();
	return tokens;
}

/*
 * Start the round after the target whose batch overran in the previous
 * round, and purge that one last: then each round gets past it, and two
 * such targets cannot take turns at the front of every round.
 */
static void
start_after(Oid targetid)
{
	List	   *after = NIL;
	List	   *before = NIL;
	ListCell   *lc;
	MemoryContext old;

	if (!OidIsValid(targetid) || !list_member_oid(round_targets, targetid))
		return;
	old = MemoryContextSwitchTo(TopMemoryContext);
	foreach(lc, round_targets)
	{
		Oid			t = lfirst_oid(lc);

		if (t > targetid)
			after = lappend_oid(after, t);
		else if (t < targetid)
			before = lappend_oid(before, t);
	}
	round_targets = lappend_oid(list_concat(after, before), targetid);
	MemoryContextSwitchTo(old);
}

/* How a round ends: what its successor should do. */
typedef enum RoundEnd
{
	ROUND_DONE,					/* nothing left to look after: no successor */
	ROUND_AGAIN,				/* a successor after the naptime */
	ROUND_GO_ON					/* expired rows are left: a successor at once */
} RoundEnd;

/*
 * One round.  Targets take turns, one batch each per pass, and a target
 * whose batch was not full is done for the round: so a target that
 * refills itself (its trigger inserting expired rows) cannot hold the
 * others up.  After a pass that ends later than the naptime the round
 * stops, and a successor goes on at once: rounds stay short, and settings
 * and a waiting DROP DATABASE are looked at again.
 */
static RoundEnd
purge_round(Oid purge_last)
{
	TimestampTz start = GetCurrentTimestamp();
	int64		tokens = run_step(list_step, InvalidOid);
	int			ntargets;
	bool	   *done;
	bool		full;

	if (tokens < 0)
		return ROUND_DONE;
	start_after(purge_last);
	if (!ttl_worker_enabled)
		return round_targets != NIL || tokens > 0 ? ROUND_AGAIN : ROUND_DONE;
	if (tokens > 0)
		tokens = run_step(tokens_step, InvalidOid);
	ntargets = list_length(round_targets);
	done = palloc0(sizeof(bool) * Max(ntargets, 1));
	do
	{
		int			i;

		full = false;
		for (i = 0; i < ntargets; i++)
		{
			if (done[i])
				continue;
			CHECK_FOR_INTERRUPTS();
			if (database_wanted())
				return ROUND_DONE;
			done[i] = run_step(purge_step, list_nth_oid(round_targets, i)) < ttl_batch_size;
			full |= !done[i];
		}
	} while (full && !TimestampDifferenceExceeds(start, GetCurrentTimestamp(), ttl_naptime * 1000));
	if (full)
		return ROUND_GO_ON;
	return round_targets != NIL || tokens != 0 ? ROUND_AGAIN : ROUND_DONE;
}

/* Sleep before connecting, reloading the configuration when asked. */
static void
nap(int seconds)
{
	TimestampTz wake = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), seconds * 1000L);

	for (;;)
	{
		long		ms = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), wake);

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		if (ms <= 0)
			return;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 ms, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

static BackgroundWorkerHandle *
start_worker(Oid dboid, int naptime, Oid purge_last)
{
	BackgroundWorker worker;
	BackgroundWorkerHandle *handle;
	MemoryContext old;
	WorkerArgs	args = {naptime, purge_last};

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "trace_agg");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "trace_agg_ttl_worker_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, TTL_WORKER_TYPE " for database %u", dboid);
	snprintf(worker.bgw_type, BGW_MAXLEN, TTL_WORKER_TYPE);
	worker.bgw_main_arg = ObjectIdGetDatum(dboid);
	StaticAssertStmt(sizeof(WorkerArgs) <= BGW_EXTRALEN, "worker arguments do not fit in bgw_extra");
	memcpy(worker.bgw_extra, &args, sizeof(args));

	old = MemoryContextSwitchTo(TopMemoryContext);
	if (!RegisterDynamicBackgroundWorker(&worker, &handle))
	{
		ereport(WARNING,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("could not start the trace_agg TTL worker"),
				 errhint("Raise max_worker_processes, or run trace_agg.purge_expired() by hand.")));
		handle = NULL;
	}
	MemoryContextSwitchTo(old);
	return handle;
}

/*
 * A batch overran trace_agg.ttl_batch_timeout: end the process as
 * pg_terminate_backend() would (no code of the target's owner can catch
 * that); end_overrun_round() then starts the successor.
 */
static void
batch_timeout_handler(void)
{
	batch_overran = true;
	ProcDiePending = true;
	InterruptPending = true;
	SetLatch(MyLatch);
}

static void
end_overrun_round(int code, Datum arg)
{
	if (!batch_overran)
		return;
	ereport(WARNING,
			(errcode(ERRCODE_QUERY_CANCELED),
			 errmsg("trace_agg TTL worker ended its round: a batch of table %s ran longer than trace_agg.ttl_batch_timeout (%d s)",
					batch_target_name, ttl_batch_timeout),
			 errhint("The next round starts after that table and purges it last.")));
	LockRelease(&round_lock, ExclusiveLock, true);
	(void) start_worker(MyDatabaseId, ttl_naptime, batch_target);
}

/*
 * The worker's main.  Its argument is its database; bgw_extra holds the
 * naptime its starter saw (so that ALTER DATABASE ... SET
 * trace_agg.ttl_naptime applies from the second round on) and the target to
 * purge last.
 */
void
trace_agg_ttl_worker_main(Datum main_arg)
{
	Oid			dboid = DatumGetObjectId(main_arg);
	WorkerArgs	args;
	RoundEnd	end;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	memcpy(&args, MyBgworkerEntry->bgw_extra, sizeof(args));

	before_shmem_exit(release_worker_lock, (Datum) 0);
	worker_lock_tag(&round_lock, dboid);
	if (LockAcquire(&round_lock, ExclusiveLock, true, true) == LOCKACQUIRE_NOT_AVAIL)
		proc_exit(0);			/* another worker looks after this database */

	nap(args.naptime);
	BackgroundWorkerInitializeConnectionByOid(dboid, InvalidOid, 0);
	pgstat_report_appname(TTL_WORKER_TYPE);
	batch_timeout_id = RegisterTimeout(USER_TIMEOUT, batch_timeout_handler);
	before_shmem_exit(end_overrun_round, (Datum) 0);
	end = purge_round(args.purge_last);

	/* Let the successor take the lock, then start it. */
	LockRelease(&round_lock, ExclusiveLock, true);
	if (end != ROUND_DONE)
		(void) start_worker(dboid, end == ROUND_GO_ON ? 0 : ttl_naptime, InvalidOid);
	proc_exit(0);
}

/*
 * Does this database's worker run (or is one about to)?  The lock is tried
 * and released at once; a worker this backend started that has not taken
 * it yet counts too, so that repeated calls register one worker.
 */
static bool
worker_is_running(void)
{
	LOCKTAG		tag;
	pid_t		pid;

	if (started_handle != NULL)
	{
		BgwHandleStatus status = GetBackgroundWorkerPid(started_handle, &pid);

		if (status == BGWH_NOT_YET_STARTED || status == BGWH_STARTED)
			return true;
		pfree(started_handle);
		started_handle = NULL;
	}
	worker_lock_tag(&tag, MyDatabaseId);
	if (LockAcquire(&tag, ExclusiveLock, true, true) == LOCKACQUIRE_NOT_AVAIL)
		return true;
	LockRelease(&tag, ExclusiveLock, true);
	return false;
}

/*
 * The worker is registered when the transaction that asked for it is about
 * to commit (a transaction that rolls back starts none); it sleeps its
 * naptime before it looks, so it sees what the transaction wrote.
 */
static void
start_worker_before_commit(XactEvent event, void *arg)
{
	if (!start_requested)
		return;
	if (event == XACT_EVENT_PRE_COMMIT)
	{
		start_requested = false;
		if (!worker_is_running())
			started_handle = start_worker(MyDatabaseId, ttl_naptime, InvalidOid);
	}
	else if (event == XACT_EVENT_ABORT)
		start_requested = false;
}

void
ttl_worker_request_start(void)
{
	static bool callback_registered = false;

	if (!callback_registered)
	{
		RegisterXactCallback(start_worker_before_commit, NULL);
		callback_registered = true;
	}
	start_requested = true;
}

/*
 * Start this database's TTL worker unless it runs.  Looked at no more than
 * once a minute per backend, since the fan-out calls it on every statement
 * that writes a TTL target.
 */
void
ttl_worker_ensure_running(void)
{
	static TimestampTz last_check = 0;
	TimestampTz now = GetCurrentTimestamp();

	if (!TimestampDifferenceExceeds(last_check, now, 60 * 1000))
		return;
	last_check = now;
	if (!worker_is_running())
		ttl_worker_request_start();
}

PG_FUNCTION_INFO_V1(trace_agg_start_ttl_worker);
Datum
trace_agg_start_ttl_worker(PG_FUNCTION_ARGS)
{
	bool		running = worker_is_running();

	if (!running)
		ttl_worker_request_start();
	PG_RETURN_BOOL(!running);
}
