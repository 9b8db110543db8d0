/*
 * derived_trigger.c
 *		The statement triggers that keep derived views exact.
 *
 * Every statement writing a derived view's source fires
 * trace_agg.derived_maintain() after it: INSERT, UPDATE and DELETE with
 * their transition tables (an INSERT ... ON CONFLICT DO UPDATE fires the
 * UPDATE trigger and then the INSERT one), TRUNCATE without.  For each
 * derived view of the source, in order of schema and name, it
 *
 *   1. locks the keys the statement touched (those of its old and new
 *      rows): one transaction-level advisory lock per key of the target,
 *      taken in the order of the keys' hashes, so that two transactions
 *      changing rows of the same key take turns, and two single-statement
 *      transactions cannot deadlock on these locks;
 *   2. then, in a new statement, whose snapshot (READ COMMITTED) sees every
 *      transaction that held those locks before as committed, recomputes
 *      the keys from the stored source, upserts their rows into the target
 *      and deletes the rows of keys the source no longer has.
 *
 * Whichever transaction recomputes a key last does so after every earlier
 * one committed, and sees its own changes: the target ends exact.  A
 * TRUNCATE recomputes every key (the target is emptied).  The writes into
 * the target fire its own triggers at the end of step 2, so a chain of
 * derived views is maintained depth first, within the statement.
 *
 * Under REPEATABLE READ or SERIALIZABLE a statement cannot see what
 * committed after the transaction's snapshot, so step 2 could not be exact:
 * writing a source there is refused.
 *
 * Each view runs as its owner inside a security-restricted operation, with
 * search_path pinned and every setting it changes rolled back, as the
 * fan-out does.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/snapmgr.h"

#include "derived.h"
#include "fanout.h"
#include "trace_agg.h"

/* A derived view of the firing source, as read from the catalog. */
typedef struct DerivedView
{
	Oid			viewid;
	Oid			targetid;
	Oid			ownerid;
	char	   *name;			/* qualified, for messages */
} DerivedView;

/*
 * The derived views of SOURCEID in the order they run, as committed now
 * (a view created or dropped by a transaction that committed since the
 * statement began is seen), read as the catalog's owner.
 */
static List *
read_views(Oid sourceid)
{
	Oid			argtypes[1] = {OIDOID};
	Datum		args[1] = {ObjectIdGetDatum(sourceid)};
	List	   *views = NIL;
	uint64		i;

	PushActiveSnapshot(GetLatestSnapshot());
	trace_agg_catalog_execute("SELECT d.view::pg_catalog.oid, d.target::pg_catalog.oid, c.relowner, "
							  "pg_catalog.quote_ident(n.nspname) OPERATOR(pg_catalog.||) '.' "
							  "OPERATOR(pg_catalog.||) pg_catalog.quote_ident(c.relname) "
							  "FROM trace_agg.derived_view d "
							  "JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) d.view "
							  "JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace "
							  "WHERE d.source OPERATOR(pg_catalog.=) $1 ORDER BY n.nspname, c.relname",
							  1, argtypes, args, NULL, true);
	PopActiveSnapshot();
	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	row = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		DerivedView *view = palloc(sizeof(DerivedView));
		bool		isnull;

		view->viewid = DatumGetObjectId(SPI_getbinval(row, desc, 1, &isnull));
		view->targetid = DatumGetObjectId(SPI_getbinval(row, desc, 2, &isnull));
		view->ownerid = DatumGetObjectId(SPI_getbinval(row, desc, 3, &isnull));
		view->name = SPI_getvalue(row, desc, 4);
		views = lappend(views, view);
	}
	return views;
}

/* Run SQL as the view's owner, in a security-restricted operation. */
static void
run_as_owner(const DerivedView *view, const char *sql)
{
	Oid			save_userid;
	int			save_sec_context;

	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(view->ownerid, save_sec_context |
						   SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION);
	if (SPI_execute(sql, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "statement of derived view \"%s\" failed: %s",
			 view->name, SPI_result_code_string(SPI_result));
	SetUserIdAndSecContext(save_userid, save_sec_context);
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

PG_FUNCTION_INFO_V1(trace_agg_derived_maintain);
Datum
trace_agg_derived_maintain(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	Oid			sourceid;
	bool		has_old;
	bool		has_new;
	bool		truncate;
	List	   *views;
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

	sourceid = RelationGetRelid(trigdata->tg_relation);
	SPI_connect();
	if (SPI_register_trigger_data(trigdata) != SPI_OK_TD_REGISTER)
		elog(ERROR, "could not register the transition tables of a derived view trigger");
	nest = fanout_pin_search_path();
	fanout_check_catalog_version();
	views = read_views(sourceid);
	foreach(lc, views)
	{
		DerivedView *view = lfirst(lc);
		DerivedStatements stmts;

		if (IsolationUsesXactSnapshot())
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("derived view \"%s\" of table \"%s\" needs READ COMMITTED",
							view->name, RelationGetRelationName(trigdata->tg_relation)),
					 errdetail("Keys are recomputed from the source as committed once they are locked, which a transaction snapshot cannot see."),
					 errhint("Write the table in a READ COMMITTED transaction.")));

		/* No rename of the target between building the statements and running them. */
		LockRelationOid(view->targetid, RowExclusiveLock);

		/*
		 * Rights can change without touching the relations (a role loses a
		 * membership or BYPASSRLS): checked at every firing.
		 */
		derived_check_source_access(sourceid, view->ownerid, view->name, false);
		derived_build_statements(view->viewid, sourceid, view->targetid, view->name,
								 has_old, has_new, &stmts);
		if (truncate)
			run_as_owner(view, stmts.full_sql);
		else
		{
			run_as_owner(view, stmts.lock_sql);
			run_as_owner(view, stmts.keys_sql);
		}
	}
	AtEOXact_GUC(false, nest);
	SPI_finish();
	return PointerGetDatum(NULL);
}
