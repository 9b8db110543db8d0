/*
 * null_am.c
 *		The trace_agg_null table access method: a table that stores nothing.
 *
 * This is ClickHouse's Null table engine for Postgres.  A row inserted into a
 * trace_agg_null table is not stored; it lives only long enough for an
 * AFTER ... FOR EACH STATEMENT INSERT trigger with REFERENCING NEW TABLE to
 * read it.  The executor copies each inserted row into such a trigger's
 * transition table itself, right after the access method has accepted the
 * row, so this access method only has to accept rows and forget them, and to
 * answer every read with "no rows".
 *
 * Forgetting rows by mistake would be silent data loss, so an insert that no
 * firing trigger reads is an error unless trace_agg.allow_discard is on.  For
 * the same reason ALTER TABLE ... SET ACCESS METHOD trace_agg_null is refused
 * on a table that holds rows, AFTER ROW INSERT triggers (which read the row
 * back after the insert) are refused, and so are indexes.
 *
 * The table has a real storage file, and the TOAST table heap would give it,
 * both always empty.  The file is created, truncated and copied the way heap
 * does it, so TRUNCATE, ALTER TABLE ... SET TABLESPACE, unlogged tables,
 * crash recovery and pg_upgrade need no special case.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/multixact.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/partition.h"
#include "catalog/pg_am.h"
#include "catalog/pg_class.h"
#include "catalog/pg_trigger.h"
#include "catalog/storage.h"
#include "catalog/storage_xlog.h"
#include "commands/trigger.h"
#include "commands/vacuum.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "storage/proc.h"
#include "storage/procarray.h"
#include "storage/smgr.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "compat.h"
#include "null_am.h"

/* trace_agg.allow_discard: accept inserts that nothing reads */
static bool allow_discard = false;

/*
 * The last insert that passed check_insert, identified by relation, local
 * transaction and command id.  Every row of a statement carries the same
 * command id, so the checks run once per statement rather than once per row;
 * a trigger or setting changed since then belongs to a later command.
 */
static Oid	accepted_relid = InvalidOid;
static LocalTransactionId accepted_lxid = InvalidLocalTransactionId;
static CommandId accepted_cid = InvalidCommandId;


/* ------------------------------------------------------------------------
 * Checks made before rows are accepted
 * ------------------------------------------------------------------------
 */

/*
 * Does the trigger fire under the current session_replication_role?  This
 * repeats the executor's own test (TriggerEnabled() in trigger.c, which is
 * not exported).
 */
static bool
trigger_fires_now(const Trigger *trigger)
{
	switch (trigger->tgenabled)
	{
		case TRIGGER_FIRES_ALWAYS:
			return true;
		case TRIGGER_FIRES_ON_ORIGIN:
			return SessionReplicationRole != SESSION_REPLICATION_ROLE_REPLICA;
		case TRIGGER_FIRES_ON_REPLICA:
			return SessionReplicationRole == SESSION_REPLICATION_ROLE_REPLICA;
		default:
			return false;
	}
}

/*
 * An AFTER ROW trigger is queued with the row's tid and gets the row by that
 * tid once the statement is done.  Rows of this table have no tid, so the
 * trigger would run without its row, which C trigger functions such as the
 * foreign key check do not expect; refuse the insert instead.
 */
static void
refuse_after_row_insert_triggers(Relation rel, const char *relname)
{
	TriggerDesc *trigdesc = rel->trigdesc;

	if (trigdesc == NULL || !trigdesc->trig_insert_after_row)
		return;

	for (int i = 0; i < trigdesc->numtriggers; i++)
	{
		Trigger    *trigger = &trigdesc->triggers[i];

		if (!TRIGGER_FOR_ROW(trigger->tgtype) ||
			!TRIGGER_FOR_AFTER(trigger->tgtype) ||
			!TRIGGER_FOR_INSERT(trigger->tgtype) ||
			!trigger_fires_now(trigger))
			continue;

		if (trigger->tgisinternal && OidIsValid(trigger->tgconstraint))
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("constraint \"%s\" cannot be checked for rows inserted into \"%s\"",
							get_constraint_name(trigger->tgconstraint), relname),
					 errdetail("Table \"%s\" uses access method trace_agg_null, which stores nothing, so the check cannot read the inserted row back.",
							   relname),
					 errhint("Drop the constraint and check the rows where the consuming trigger stores them.")));

		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("AFTER ROW trigger \"%s\" cannot fire for rows inserted into \"%s\"",
						trigger->tgname, relname),
				 errdetail("Table \"%s\" uses access method trace_agg_null, which stores nothing, so the trigger cannot read the inserted row back.",
						   relname),
				 errhint("Use a BEFORE ROW trigger, or an AFTER ... FOR EACH STATEMENT trigger with REFERENCING NEW TABLE.")));
	}
}

/*
 * Does a firing statement-level AFTER INSERT trigger read the inserted rows
 * through a transition table?
 */
static bool
inserted_rows_are_read(Relation rel)
{
	TriggerDesc *trigdesc = rel->trigdesc;

	if (trigdesc == NULL || !trigdesc->trig_insert_new_table)
		return false;

	for (int i = 0; i < trigdesc->numtriggers; i++)
	{
		Trigger    *trigger = &trigdesc->triggers[i];

		if (trigger->tgnewtable != NULL &&
			!TRIGGER_FOR_ROW(trigger->tgtype) &&
			TRIGGER_FOR_AFTER(trigger->tgtype) &&
			TRIGGER_FOR_INSERT(trigger->tgtype) &&
			trigger_fires_now(trigger))
			return true;
	}
	return false;
}

#define UNREAD_ROWS_HINT \
	"Create a consumer with trace_agg.create_materialized_view() or an AFTER INSERT ... FOR EACH STATEMENT trigger with REFERENCING NEW TABLE, or set trace_agg.allow_discard to discard the rows on purpose."

/*
 * Refuse the insert unless a trigger reads the rows.
 *
 * Rows routed to a partition through a partitioned table fire the statement
 * triggers of the table named in the INSERT, not the partition's own.  Which
 * table that was is not known here, so a partition's rows count as read only
 * if the partition and every one of its ancestors has a reading trigger.
 */
static void
refuse_unread_rows(Relation rel, const char *relname)
{
	ListCell   *lc;

	if (!inserted_rows_are_read(rel))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("rows inserted into \"%s\" would be discarded", relname),
				 errdetail("Table \"%s\" uses access method trace_agg_null, which stores nothing, and no enabled trigger with a transition table reads the inserted rows.",
						   relname),
				 errhint(UNREAD_ROWS_HINT)));

	if (!rel->rd_rel->relispartition)
		return;

	foreach(lc, get_partition_ancestors(RelationGetRelid(rel)))
	{
		/* the lock is kept to the end of the transaction, as usual */
		Relation	ancestor = table_open(lfirst_oid(lc), AccessShareLock);

		if (!inserted_rows_are_read(ancestor))
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("rows inserted into \"%s\" would be discarded", relname),
					 errdetail("Table \"%s\" uses access method trace_agg_null, which stores nothing, and rows routed to it through partitioned table \"%s\" fire only that table's triggers, none of which reads them through a transition table.",
							   relname, RelationGetRelationName(ancestor)),
					 errhint(UNREAD_ROWS_HINT)));
		table_close(ancestor, NoLock);
	}
}

/*
 * Make sure rows about to be inserted into rel are not lost unnoticed.
 *
 * A table rewrite (ALTER TABLE, VACUUM FULL, REFRESH MATERIALIZED VIEW)
 * fills a new, transient relation whose pg_class.relrewrite names the
 * original.  When the original has another access method, the rows come from
 * ALTER TABLE ... SET ACCESS METHOD trace_agg_null and would all be thrown
 * away: refuse.  (A trace_agg_null original has no rows to copy, except when
 * a materialized view is refreshed; that is an ordinary insert, reported
 * under the view's name.)
 */
static void
check_insert(Relation rel, CommandId cid)
{
	const char *relname = RelationGetRelationName(rel);
	Oid			origid = rel->rd_rel->relrewrite;

	if (RelationGetRelid(rel) == accepted_relid &&
		cid == accepted_cid && TA_CURRENT_LOCAL_XID(MyProc) == accepted_lxid)
		return;

	if (OidIsValid(origid))
	{
		HeapTuple	tuple;
		Form_pg_class orig;

		tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(origid));
		if (!HeapTupleIsValid(tuple))
			elog(ERROR, "cache lookup failed for relation %u", origid);
		orig = (Form_pg_class) GETSTRUCT(tuple);
		if (orig->relam != rel->rd_rel->relam)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("cannot change access method of table \"%s\" to trace_agg_null because it holds rows",
							NameStr(orig->relname)),
					 errdetail("Tables using access method trace_agg_null store no rows, so its rows would be lost."),
					 errhint("Remove the rows first, for example with TRUNCATE.")));
		relname = pstrdup(NameStr(orig->relname));
		ReleaseSysCache(tuple);
	}

	refuse_after_row_insert_triggers(rel, relname);

	if (!allow_discard)
		refuse_unread_rows(rel, relname);

	accepted_relid = RelationGetRelid(rel);
	accepted_lxid = TA_CURRENT_LOCAL_XID(MyProc);
	accepted_cid = cid;
}

/*
 * Index builds scan the table through this access method, which is the one
 * place where an index on it can be stopped.  (This and refuse_row_change
 * raise an error and do not return; they are not marked noreturn because
 * the way to say so differs between Postgres versions, so callers follow
 * them with pg_unreachable().)
 */
static void
refuse_index(Relation rel)
{
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("cannot create index on table \"%s\"",
					RelationGetRelationName(rel)),
			 errdetail("Tables using access method trace_agg_null store no rows."),
			 errhint("Primary keys, unique and exclusion constraints need an index as well; define them on the table the consuming trigger writes to.")));
}

/*
 * Scans never return a row, so nothing can ask to change one; if something
 * does anyway, fail cleanly rather than pretend the change happened.
 */
static void
refuse_row_change(Relation rel, const char *action)
{
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("cannot %s a row of table \"%s\"", action,
					RelationGetRelationName(rel)),
			 errdetail("Tables using access method trace_agg_null store no rows.")));
}


/* ------------------------------------------------------------------------
 * Slots and scans: every scan is empty
 * ------------------------------------------------------------------------
 */

/* Rows are never stored, so they need no format of their own. */
static const TupleTableSlotOps *
null_am_slot_callbacks(Relation rel)
{
	return &TTSOpsVirtual;
}

static TableScanDesc
null_am_scan_begin(Relation rel, Snapshot snapshot,
				   int nkeys, struct ScanKeyData *key,
				   ParallelTableScanDesc pscan, uint32 flags)
{
	TableScanDesc scan = palloc0(sizeof(TableScanDescData));

	scan->rs_rd = rel;
	scan->rs_snapshot = snapshot;
	scan->rs_nkeys = nkeys;
	scan->rs_key = key;
	scan->rs_flags = flags;
	scan->rs_parallel = pscan;
	return scan;
}

static void
null_am_scan_end(TableScanDesc scan)
{
	/* parallel workers and some callers hand the scan its own snapshot */
	if (scan->rs_flags & SO_TEMP_SNAPSHOT)
		UnregisterSnapshot(scan->rs_snapshot);
	pfree(scan);
}

static void
null_am_scan_rescan(TableScanDesc scan, struct ScanKeyData *key,
					bool set_params, bool allow_strat,
					bool allow_sync, bool allow_pagemode)
{
}

static bool
null_am_scan_getnextslot(TableScanDesc scan, ScanDirection direction,
						 TupleTableSlot *slot)
{
	ExecClearTuple(slot);
	return false;
}

static void
null_am_scan_set_tidrange(TableScanDesc scan, ItemPointer mintid,
						  ItemPointer maxtid)
{
}

static bool
null_am_scan_getnextslot_tidrange(TableScanDesc scan, ScanDirection direction,
								  TupleTableSlot *slot)
{
	ExecClearTuple(slot);
	return false;
}

static bool
null_am_scan_sample_next_block(TableScanDesc scan,
							   struct SampleScanState *scanstate)
{
	return false;
}

static bool
null_am_scan_sample_next_tuple(TableScanDesc scan,
							   struct SampleScanState *scanstate,
							   TupleTableSlot *slot)
{
	ExecClearTuple(slot);
	return false;
}


/* ------------------------------------------------------------------------
 * Fetching single rows: there are none
 * ------------------------------------------------------------------------
 */

/* No index can exist, but keep the index fetch protocol well-behaved. */
static IndexFetchTableData *
null_am_index_fetch_begin(Relation rel)
{
	IndexFetchTableData *scan = palloc0(sizeof(IndexFetchTableData));

	scan->rel = rel;
	return scan;
}

static void
null_am_index_fetch_reset(IndexFetchTableData *scan)
{
}

static void
null_am_index_fetch_end(IndexFetchTableData *scan)
{
	pfree(scan);
}

static bool
null_am_index_fetch_tuple(IndexFetchTableData *scan, ItemPointer tid,
						  Snapshot snapshot, TupleTableSlot *slot,
						  bool *call_again, bool *all_dead)
{
	*call_again = false;
	if (all_dead)
		*all_dead = false;
	ExecClearTuple(slot);
	return false;
}

static bool
null_am_tuple_fetch_row_version(Relation rel, ItemPointer tid,
								Snapshot snapshot, TupleTableSlot *slot)
{
	ExecClearTuple(slot);
	return false;
}

/* No tid names a row here, which makes tid scans return nothing. */
static bool
null_am_tuple_tid_valid(TableScanDesc scan, ItemPointer tid)
{
	return false;
}

/* A row that does not exist has no newer version: leave tid as it is. */
static void
null_am_tuple_get_latest_tid(TableScanDesc scan, ItemPointer tid)
{
}

static bool
null_am_tuple_satisfies_snapshot(Relation rel, TupleTableSlot *slot,
								 Snapshot snapshot)
{
	return false;
}

/* Without rows no index entry can point here; nothing conflicts. */
static TransactionId
null_am_index_delete_tuples(Relation rel, TM_IndexDeleteOp *delstate)
{
	return InvalidTransactionId;
}


/* ------------------------------------------------------------------------
 * Inserting: accept and forget
 * ------------------------------------------------------------------------
 */

/*
 * The executor reads the slot after the insert: RETURNING reads the table
 * oid and the tid, and transition capture copies the values.  There is no
 * place the row was stored at, so the tid is left invalid.
 */
static void
forget_row(Relation rel, TupleTableSlot *slot)
{
	slot->tts_tableOid = RelationGetRelid(rel);
	ItemPointerSetInvalid(&slot->tts_tid);
}

static void
null_am_tuple_insert(Relation rel, TupleTableSlot *slot, CommandId cid,
					 int options, struct BulkInsertStateData *bistate)
{
	check_insert(rel, cid);
	forget_row(rel, slot);
}

/*
 * Speculative insertion (INSERT ... ON CONFLICT) only happens with an
 * arbiter index, which this table cannot have; treat it as a plain insert.
 */
static void
null_am_tuple_insert_speculative(Relation rel, TupleTableSlot *slot,
								 CommandId cid, int options,
								 struct BulkInsertStateData *bistate,
								 uint32 specToken)
{
	check_insert(rel, cid);
	forget_row(rel, slot);
}

static void
null_am_tuple_complete_speculative(Relation rel, TupleTableSlot *slot,
								   uint32 specToken, bool succeeded)
{
}

static void
null_am_multi_insert(Relation rel, TupleTableSlot **slots, int nslots,
					 CommandId cid, int options,
					 struct BulkInsertStateData *bistate)
{
	if (nslots > 0)
		check_insert(rel, cid);
	for (int i = 0; i < nslots; i++)
		forget_row(rel, slots[i]);
}

static TM_Result
null_am_tuple_delete(Relation rel, ItemPointer tid, CommandId cid,
					 Snapshot snapshot, Snapshot crosscheck, bool wait,
					 TM_FailureData *tmfd, bool changingPart)
{
	refuse_row_change(rel, "delete");
	pg_unreachable();
}

static TM_Result
null_am_tuple_update(Relation rel, ItemPointer otid, TupleTableSlot *slot,
					 CommandId cid, Snapshot snapshot, Snapshot crosscheck,
					 bool wait, TM_FailureData *tmfd, LockTupleMode *lockmode,
#if PG_VERSION_NUM >= 160000
					 TU_UpdateIndexes *update_indexes)
#else
					 bool *update_indexes)
#endif
{
	refuse_row_change(rel, "update");
	pg_unreachable();
}

static TM_Result
null_am_tuple_lock(Relation rel, ItemPointer tid, Snapshot snapshot,
				   TupleTableSlot *slot, CommandId cid, LockTupleMode mode,
				   LockWaitPolicy wait_policy, uint8 flags,
				   TM_FailureData *tmfd)
{
	refuse_row_change(rel, "lock");
	pg_unreachable();
}


/* ------------------------------------------------------------------------
 * Storage: a real file that stays empty
 * ------------------------------------------------------------------------
 */

static void
null_am_relation_set_new_filelocator(Relation rel,
									 const RelFileLocator *newrlocator,
									 char persistence,
									 TransactionId *freezeXid,
									 MultiXactId *minmulti)
{
	SMgrRelation srel;

	/* no rows, so no transaction ids that will ever need freezing */
	*freezeXid = InvalidTransactionId;
	*minmulti = InvalidMultiXactId;

	srel = RelationCreateStorage(*newrlocator, persistence, true);

	/*
	 * An unlogged table needs an init fork to be reset from after a crash.
	 * As in heap, it is logged and synced at once so that recovery finds it.
	 */
	if (persistence == RELPERSISTENCE_UNLOGGED)
	{
		smgrcreate(srel, INIT_FORKNUM, false);
		log_smgrcreate(newrlocator, INIT_FORKNUM);
		smgrimmedsync(srel, INIT_FORKNUM);
	}

	smgrclose(srel);
}

static void
null_am_relation_nontransactional_truncate(Relation rel)
{
	RelationTruncate(rel, 0);
}

/*
 * Copy every existing fork to the new location (ALTER TABLE ... SET
 * TABLESPACE).  The files are empty, but copying them keeps the forks, and
 * their WAL records, exactly as heap would have them.  No page of this table
 * ever enters shared buffers, so there is nothing to flush first.
 */
static void
null_am_relation_copy_data(Relation rel, const RelFileLocator *newrlocator)
{
	char		persistence = rel->rd_rel->relpersistence;
	SMgrRelation dstrel;

	dstrel = RelationCreateStorage(*newrlocator, persistence, true);

	for (ForkNumber fork = MAIN_FORKNUM; fork <= MAX_FORKNUM; fork++)
	{
		if (!smgrexists(RelationGetSmgr(rel), fork))
			continue;
		if (fork != MAIN_FORKNUM)
		{
			smgrcreate(dstrel, fork, false);
			if (RelationIsPermanent(rel) ||
				(persistence == RELPERSISTENCE_UNLOGGED && fork == INIT_FORKNUM))
				log_smgrcreate(newrlocator, fork);
		}
		RelationCopyStorage(RelationGetSmgr(rel), dstrel, fork, persistence);
	}

	RelationDropStorage(rel);
	smgrclose(dstrel);
}

/* VACUUM FULL: there is nothing to copy into the rebuilt table. */
static void
null_am_relation_copy_for_cluster(Relation OldTable, Relation NewTable,
								  Relation OldIndex, bool use_sort,
								  TransactionId OldestXmin,
								  TransactionId *xid_cutoff,
								  MultiXactId *multi_cutoff,
								  double *num_tuples,
								  double *tups_vacuumed,
								  double *tups_recently_dead)
{
	/* like a new table, the rebuilt one needs no freezing horizon */
	*xid_cutoff = InvalidTransactionId;
	*multi_cutoff = InvalidMultiXactId;
	*num_tuples = 0;
	*tups_vacuumed = 0;
	*tups_recently_dead = 0;
}

/*
 * There is nothing to clean up.  But a table rewrite by ALTER TABLE gives
 * even this table a freezing horizon (relfrozenxid), and anti-wraparound
 * autovacuum keeps coming back until VACUUM advances it.  With no rows it
 * can advance to the oldest transaction still running.
 */
static void
null_am_relation_vacuum(Relation rel, struct VacuumParams *params,
						BufferAccessStrategy bstrategy)
{
	TransactionId frozenxid = InvalidTransactionId;
	MultiXactId minmulti = InvalidMultiXactId;
	bool		frozenxid_updated;
	bool		minmulti_updated;

	if (TransactionIdIsValid(rel->rd_rel->relfrozenxid))
		frozenxid = GetOldestNonRemovableTransactionId(rel);
	if (MultiXactIdIsValid(rel->rd_rel->relminmxid))
		minmulti = GetOldestMultiXactId();

	vac_update_relstats(rel, 0, 0, 0,
#if PG_VERSION_NUM >= 180000
						0,
#endif
						false, frozenxid, minmulti,
						&frozenxid_updated, &minmulti_updated, false);
}

#if PG_VERSION_NUM >= 170000
static bool
null_am_scan_analyze_next_block(TableScanDesc scan, ReadStream *stream)
{
	return false;
}
#else
static bool
null_am_scan_analyze_next_block(TableScanDesc scan, BlockNumber blockno,
								BufferAccessStrategy bstrategy)
{
	return false;
}
#endif

static bool
null_am_scan_analyze_next_tuple(TableScanDesc scan, TransactionId OldestXmin,
								double *liverows, double *deadrows,
								TupleTableSlot *slot)
{
	ExecClearTuple(slot);
	return false;
}

static double
null_am_index_build_range_scan(Relation table_rel, Relation index_rel,
							   struct IndexInfo *index_info,
							   bool allow_sync, bool anyvisible, bool progress,
							   BlockNumber start_blockno, BlockNumber numblocks,
							   IndexBuildCallback callback,
							   void *callback_state, TableScanDesc scan)
{
	refuse_index(table_rel);
	pg_unreachable();
}

static void
null_am_index_validate_scan(Relation table_rel, Relation index_rel,
							struct IndexInfo *index_info, Snapshot snapshot,
							struct ValidateIndexState *state)
{
	refuse_index(table_rel);
	pg_unreachable();
}

/* The real size of the (empty) files, so that disk usage is reported true. */
static uint64
null_am_relation_size(Relation rel, ForkNumber forkNumber)
{
	return table_block_relation_size(rel, forkNumber);
}

/*
 * Keep the TOAST table heap would have, although it stays empty: Postgres
 * only gives a rewritten table a TOAST table if it had one before, so
 * without it ALTER TABLE ... SET ACCESS METHOD heap would make a heap table
 * that cannot store long values.
 */
static bool
null_am_relation_needs_toast_table(Relation rel)
{
	return GetHeapamTableAmRoutine()->relation_needs_toast_table(rel);
}

static Oid
null_am_relation_toast_am(Relation rel)
{
	return HEAP_TABLE_AM_OID;
}

/*
 * Tell the planner the table is empty; for an empty heap file it would
 * assume ten pages, in case the table grew since it was last analyzed.
 */
static void
null_am_relation_estimate_size(Relation rel, int32 *attr_widths,
							   BlockNumber *pages, double *tuples,
							   double *allvisfrac)
{
	*pages = 0;
	*tuples = 0;
	*allvisfrac = 0;
}


/* ------------------------------------------------------------------------
 * The access method
 * ------------------------------------------------------------------------
 */

/*
 * Bitmap scans are left out: they need an index.  Parallel scans use the
 * generic block-based shared state, which over an empty file hands out no
 * blocks.
 */
static const TableAmRoutine null_am_methods = {
	.type = T_TableAmRoutine,

	.slot_callbacks = null_am_slot_callbacks,

	.scan_begin = null_am_scan_begin,
	.scan_end = null_am_scan_end,
	.scan_rescan = null_am_scan_rescan,
	.scan_getnextslot = null_am_scan_getnextslot,
	.scan_set_tidrange = null_am_scan_set_tidrange,
	.scan_getnextslot_tidrange = null_am_scan_getnextslot_tidrange,

	.parallelscan_estimate = table_block_parallelscan_estimate,
	.parallelscan_initialize = table_block_parallelscan_initialize,
	.parallelscan_reinitialize = table_block_parallelscan_reinitialize,

	.index_fetch_begin = null_am_index_fetch_begin,
	.index_fetch_reset = null_am_index_fetch_reset,
	.index_fetch_end = null_am_index_fetch_end,
	.index_fetch_tuple = null_am_index_fetch_tuple,

	.tuple_fetch_row_version = null_am_tuple_fetch_row_version,
	.tuple_tid_valid = null_am_tuple_tid_valid,
	.tuple_get_latest_tid = null_am_tuple_get_latest_tid,
	.tuple_satisfies_snapshot = null_am_tuple_satisfies_snapshot,
	.index_delete_tuples = null_am_index_delete_tuples,

	.tuple_insert = null_am_tuple_insert,
	.tuple_insert_speculative = null_am_tuple_insert_speculative,
	.tuple_complete_speculative = null_am_tuple_complete_speculative,
	.multi_insert = null_am_multi_insert,
	.tuple_delete = null_am_tuple_delete,
	.tuple_update = null_am_tuple_update,
	.tuple_lock = null_am_tuple_lock,

#if PG_VERSION_NUM >= 160000
	.relation_set_new_filelocator = null_am_relation_set_new_filelocator,
#else
	.relation_set_new_filenode = null_am_relation_set_new_filelocator,
#endif
	.relation_nontransactional_truncate = null_am_relation_nontransactional_truncate,
	.relation_copy_data = null_am_relation_copy_data,
	.relation_copy_for_cluster = null_am_relation_copy_for_cluster,
	.relation_vacuum = null_am_relation_vacuum,
	.scan_analyze_next_block = null_am_scan_analyze_next_block,
	.scan_analyze_next_tuple = null_am_scan_analyze_next_tuple,
	.index_build_range_scan = null_am_index_build_range_scan,
	.index_validate_scan = null_am_index_validate_scan,

	.relation_size = null_am_relation_size,
	.relation_needs_toast_table = null_am_relation_needs_toast_table,
	.relation_toast_am = null_am_relation_toast_am,

	.relation_estimate_size = null_am_relation_estimate_size,

	.scan_sample_next_block = null_am_scan_sample_next_block,
	.scan_sample_next_tuple = null_am_scan_sample_next_tuple,
};

PG_FUNCTION_INFO_V1(null_am_handler);

Datum
null_am_handler(PG_FUNCTION_ARGS)
{
	PG_RETURN_POINTER(&null_am_methods);
}

void
null_am_define_settings(void)
{
	DefineCustomBoolVariable("trace_agg.allow_discard",
							 "Lets rows be inserted into trace_agg_null tables that no trigger reads.",
							 "When off, such an insert is an error, so that rows are not lost by mistake.",
							 &allow_discard,
							 false,
							 PGC_USERSET, 0,
							 NULL, NULL, NULL);
}
