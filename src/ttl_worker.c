/*
 * ttl_worker.c
 *		The background worker that removes expired rows of TTL targets.
 *
 * ClickHouse drops expired rows during merges; here one worker per database
 * deletes them in small batches, each in its own transaction, skipping rows
 * an ingesting transaction holds, so that it never makes ingestion wait for
 * long.  No shared_preload_libraries entry and no outside scheduler are
 * needed: the worker is started on demand (by trace_agg.set_ttl() and by the
 * fan-out when it writes a TTL target or records an insert token) and exits
 * when the database has no TTL and no insert token left, or the extension is
 * dropped.  Each round also forgets insert tokens past their window.  A session-level advisory lock keeps
 * it to one worker per database.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "fanout.h"

#define TTL_WORKER_TYPE "trace_agg ttl"
#define TTL_WORKER_LOCK_KEY 0x74746c	/* advisory lock key: "ttl" */

static int	ttl_naptime = 60;
static int	ttl_batch_size = 5000;
static bool start_requested = false;

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
}

/* Run one SQL statement in its own transaction; returns its first column. */
static int64
run_in_transaction(const char *sql, bool *found)
{
	int64		result = 0;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, sql);
	SPI_execute(sql, false, 0);
	*found = SPI_processed > 0;
	if (*found)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

		if (!isnull)
			result = DatumGetInt64(d);
	}
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_activity(STATE_IDLE, NULL);
	return result;
}

/*
 * One round: purge each TTL target in batches.  Returns false when there is
 * nothing left to look after (no extension, or no TTL).
 */
static bool
purge_round(void)
{
	bool		found;
	int64		ntargets;
	int64		ntokens;
	int64		i;

	run_in_transaction("SELECT 1::int8 FROM pg_catalog.pg_extension WHERE extname = 'trace_agg'", &found);
	if (!found)
		return false;
	ntokens = run_in_transaction("SELECT trace_agg.purge_insert_tokens()", &found);
	ntargets = run_in_transaction("SELECT count(*) FROM trace_agg.ttl", &found);
	for (i = 0; i < ntargets; i++)
	{
		char	   *sql = psprintf("SELECT trace_agg.purge_expired_batch(target, %d) "
								   "FROM trace_agg.ttl ORDER BY target OFFSET " INT64_FORMAT " LIMIT 1",
								   ttl_batch_size, i);

		while (run_in_transaction(sql, &found) >= ttl_batch_size)
			CHECK_FOR_INTERRUPTS();
	}
	return ntargets > 0 || ntokens > 0;
}

void
trace_agg_ttl_worker_main(Datum main_arg)
{
	bool		found;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(DatumGetObjectId(main_arg), InvalidOid, 0);
	pgstat_report_appname(TTL_WORKER_TYPE);

	if (!run_in_transaction(psprintf("SELECT 1::int8 WHERE pg_catalog.pg_try_advisory_lock(%d)",
									 TTL_WORKER_LOCK_KEY), &found) || !found)
		proc_exit(0);			/* another worker looks after this database */

	for (;;)
	{
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		if (!purge_round())
			proc_exit(0);
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 ttl_naptime * 1000L, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

static void
start_worker(void)
{
	BackgroundWorker worker;
	BackgroundWorkerHandle *handle;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = 60;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "trace_agg");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "trace_agg_ttl_worker_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, TTL_WORKER_TYPE " for database %u", MyDatabaseId);
	snprintf(worker.bgw_type, BGW_MAXLEN, TTL_WORKER_TYPE);
	worker.bgw_main_arg = ObjectIdGetDatum(MyDatabaseId);

	if (!RegisterDynamicBackgroundWorker(&worker, &handle))
		ereport(WARNING,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("could not start the trace_agg TTL worker"),
				 errhint("Raise max_worker_processes, or run trace_agg.purge_expired() by hand.")));
}

/*
 * The worker is started when the transaction that asked for it commits: a
 * worker started earlier could look before the new TTL is visible, find
 * nothing to do and exit.
 */
static void
start_worker_at_commit(XactEvent event, void *arg)
{
	if (!start_requested)
		return;
	if (event == XACT_EVENT_COMMIT)
	{
		start_requested = false;
		start_worker();
	}
	else if (event == XACT_EVENT_ABORT)
		start_requested = false;
}

static void
request_worker_start(void)
{
	static bool callback_registered = false;

	if (!callback_registered)
	{
		RegisterXactCallback(start_worker_at_commit, NULL);
		callback_registered = true;
	}
	start_requested = true;
}

static bool
worker_is_running(void)
{
	Oid			argtypes[1] = {OIDOID};
	Datum		args[1] = {ObjectIdGetDatum(MyDatabaseId)};
	bool		running;

	SPI_connect();
	SPI_execute_with_args("SELECT FROM pg_catalog.pg_stat_activity "
						  "WHERE backend_type OPERATOR(pg_catalog.=) '" TTL_WORKER_TYPE "' "
						  "AND datid OPERATOR(pg_catalog.=) $1",
						  1, argtypes, args, NULL, true, 1);
	running = SPI_processed > 0;
	SPI_finish();
	return running;
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
		request_worker_start();
}

PG_FUNCTION_INFO_V1(trace_agg_start_ttl_worker);
Datum
trace_agg_start_ttl_worker(PG_FUNCTION_ARGS)
{
	bool		running = worker_is_running();

	if (!running)
		request_worker_start();
	PG_RETURN_BOOL(!running);
}
