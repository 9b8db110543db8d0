/*
 * derived_build.c
 *		Turn a derived view's query into the statements that keep its
 *		target exact.
 *
 * A derived view is a SELECT <keys>, <any expressions over any aggregates>
 * FROM <one stored table> [WHERE ...] GROUP BY <keys> whose outputs are
 * named after the target's columns and whose keys are the target's primary
 * key.  Unlike a materialized view it is not merged batch by batch: the
 * source is a table whose rows change (updated, deleted), so what a key's
 * row must be cannot be derived from the changed rows alone.  Instead each
 * statement that writes the source recomputes the keys it touched from the
 * stored source, which makes any aggregate exact (count(DISTINCT ...), avg,
 * percentiles, expressions over aggregates).
 *
 * The recomputation is the view's query with the affected keys added to its
 * WHERE clause as a semi-join, so that an index on the source's key columns
 * reads only the rows of those keys; selecting from the Postgres view with
 * the keys joined would aggregate the whole source first (Postgres pushes
 * constants into a grouped view, not a join).  Statements are SQL text with
 * every name qualified, built from the view's definition as it reads now
 * (the caller pins search_path to pg_catalog).
 *
 * In delta mode (derived_delta.c) the statements that maintain the keys
 * a statement touched apply its changes instead; the recomputation of
 * every key stays (creation, TRUNCATE, refresh).
 *
 * A shared target: materialized views may write other columns of the
 * target (trace-level events merged into the rows of traces derived from
 * their observations).  The view's upserts set only its own columns, as
 * the fan-out's set only theirs, and a key left without source rows keeps
 * its row, the view's columns set to what its query gives over no rows
 * (count 0, sum NULL): the row holds what the other views merged, which
 * the derived view cannot tell apart from nothing.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/pg_index.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/ruleutils.h"
#include "utils/syscache.h"
#include "utils/typcache.h"

#include "derived.h"
#include "fanout.h"
#include "trace_agg.h"

/*
 * The target's primary key or unique index whose columns are exactly the
 * view's keys: ON CONFLICT needs it, and it makes a key one row.  Its
 * columns must be NOT NULL, or a key could be stored twice.
 */
static void
check_key_index(Relation target, Bitmapset *keycols, const char *viewname)
{
	List	   *indexes = RelationGetIndexList(target);
	ListCell   *lc;
	int			attno;

	foreach(lc, indexes)
	{
		HeapTuple	tuple;
		Form_pg_index index;
		Bitmapset  *cols = NULL;
		bool		usable;
		int			i;

		tuple = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(lfirst_oid(lc)));
		if (!HeapTupleIsValid(tuple))
			elog(ERROR, "cache lookup failed for index %u", lfirst_oid(lc));
		index = (Form_pg_index) GETSTRUCT(tuple);
		usable = index->indisunique && index->indimmediate && index->indisvalid &&
			heap_attisnull(tuple, Anum_pg_index_indexprs, NULL) &&
			heap_attisnull(tuple, Anum_pg_index_indpred, NULL);
		for (i = 0; usable && i < index->indnkeyatts; i++)
			cols = bms_add_member(cols, index->indkey.values[i]);
		ReleaseSysCache(tuple);
		if (usable && bms_equal(cols, keycols))
		{
			attno = -1;
			while ((attno = bms_next_member(keycols, attno)) >= 0)
				if (!TupleDescAttr(RelationGetDescr(target), attno - 1)->attnotnull)
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
							 errmsg("key column \"%s\" of target table \"%s\" of derived view \"%s\" must be NOT NULL",
									NameStr(TupleDescAttr(RelationGetDescr(target), attno - 1)->attname),
									RelationGetRelationName(target), viewname),
							 errdetail("A unique index lets rows with a null key repeat, so a key could be stored twice.")));
			return;
		}
	}
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
			 errmsg("target table \"%s\" of derived view \"%s\" has no unique index on its GROUP BY columns",
					RelationGetRelationName(target), viewname),
			 errhint("Add a primary key or a unique index on exactly the grouping columns of the view.")));
}

/* "l.k1 OPERATOR(pg_catalog.=) r.k1 AND ..." over the target's key columns. */
static char *
key_match(List *keycols, const char *left, const char *right)
{
	StringInfoData buf;
	ListCell   *lc;

	initStringInfo(&buf);
	foreach(lc, keycols)
		appendStringInfo(&buf, "%s%s.%s OPERATOR(pg_catalog.=) %s.%s", buf.len ? " AND " : "",
						 left, (char *) lfirst(lc), right, (char *) lfirst(lc));
	return buf.data;
}

/*
 * The columns of TARGETID the materialized views writing it write, as
 * "column\tview" strings, plus NEW_COLUMNS of NEW_VIEW (a view being
 * created).  Empty: the derived view is the target's only writer.
 */
static List *
other_writers(Oid targetid, const char *new_view, List *new_columns)
{
	Oid			argtypes[1] = {OIDOID};
	Datum		args[1] = {ObjectIdGetDatum(targetid)};
	List	   *result = NIL;
	ListCell   *lc;
	uint64		i;

	trace_agg_catalog_execute("SELECT a.attname::pg_catalog.text, m.view::pg_catalog.text "
							  "FROM trace_agg.materialized_view m JOIN pg_catalog.pg_attribute a "
							  "ON a.attrelid OPERATOR(pg_catalog.=) m.view "
							  "WHERE m.target OPERATOR(pg_catalog.=) $1 AND a.attnum OPERATOR(pg_catalog.>) 0 "
							  "AND NOT a.attisdropped",
							  1, argtypes, args, NULL, true);
	for (i = 0; i < SPI_processed; i++)
		result = lappend(result, psprintf("%s\t%s",
										  SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1),
										  SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2)));
	foreach(lc, new_columns)
		result = lappend(result, psprintf("%s\t%s", (char *) lfirst(lc), quote_identifier(new_view)));
	return result;
}

/*
 * Refuse a column of TARGET written both by the derived view (PRODUCED,
 * less its key KEYATTNOS) and by one of WRITERS (from other_writers).
 */
static void
check_disjoint(Relation target, List *writers, Bitmapset *produced, Bitmapset *keyattnos,
			   const char *viewname)
{
	ListCell   *lc;

	foreach(lc, writers)
	{
		char	   *column = pstrdup((char *) lfirst(lc));
		char	   *view = strchr(column, '\t');
		AttrNumber	attnum;

		*view++ = '\0';
		attnum = get_attnum(RelationGetRelid(target), column);
		if (bms_is_member(attnum, produced) && !bms_is_member(attnum, keyattnos))
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("column \"%s\" of table \"%s\" is written by derived view \"%s\" and by materialized view %s",
							column, RelationGetRelationName(target), viewname, view),
					 errdetail("Views sharing a target must write disjoint columns besides its key: a recomputation would overwrite what the other view merged."),
					 errhint("Write the column with one of the views only.")));
	}
}

/* derived_build_statements, as the view's owner. */
static void
build_statements(Oid viewid, Oid sourceid, Oid targetid, const char *viewname,
				 bool has_old, bool has_new, DerivedStatements *stmts,
				 const char *new_view, List *new_columns)
{
	Oid			argtypes[1] = {OIDOID};
	Datum		args[1] = {ObjectIdGetDatum(viewid)};
	char	   *query_text;
	Query	   *query;
	Oid			query_source;
	Relation	target;
	List	   *dpcontext;
	StringInfoData select,
				cols,
				sets,
				source_keys,
				not_null,
				keys,
				keys_not_null,
				array_aggs,
				params,
				empty_cols,
				empty_select,
				sql;
	List	   *keycols = NIL;
	List	   *writers;
	Bitmapset  *keyattnos = NULL;
	Bitmapset  *produced = NULL;
	char	   *where;
	char	   *group;
	char	   *fresh_tail;
	char	   *upsert;
	char	   *affected;
	char	   *gone;
	ListCell   *lc;

	/* pg_get_viewdef reads the rule with the active snapshot: see the latest */
	PushActiveSnapshot(GetLatestSnapshot());
	trace_agg_catalog_execute("SELECT mode FROM trace_agg.derived_view WHERE view OPERATOR(pg_catalog.=) $1",
							  1, argtypes, args, NULL, true);
	stmts->delta = SPI_processed == 1 &&
		strcmp(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1), DERIVED_MODE_DELTA) == 0;
	SPI_execute_with_args("SELECT pg_catalog.pg_get_viewdef($1)", 1, argtypes, args, NULL, true, 1);
	PopActiveSnapshot();
	query_text = SPI_processed == 1 ? SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1) : NULL;
	if (query_text == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("derived view \"%s\" does not exist", viewname),
				 errdetail("It was dropped while its statements were being built.")));
	query = fanout_analyze(query_text, viewname, &query_source, false);
	if (query_source != sourceid)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
				 errmsg("derived view \"%s\" no longer reads table \"%s\"",
						viewname, get_rel_name(sourceid)),
				 errdetail("Its query now reads \"%s\".", get_rel_name(query_source)),
				 errhint("Drop the view and create it again.")));

	target = table_open(targetid, AccessShareLock);
	dpcontext = deparse_context_for("s", sourceid);
	initStringInfo(&select);
	initStringInfo(&cols);
	initStringInfo(&sets);
	initStringInfo(&source_keys);
	initStringInfo(&not_null);
	initStringInfo(&keys);
	initStringInfo(&keys_not_null);
	initStringInfo(&array_aggs);
	initStringInfo(&params);
	initStringInfo(&empty_cols);
	initStringInfo(&empty_select);
	writers = other_writers(targetid, new_view, new_columns);
	stmts->nkeys = 0;
	stmts->key_array_types = palloc(sizeof(Oid) * list_length(query->targetList));
	foreach(lc, query->targetList)
	{
		TargetEntry *te = lfirst_node(TargetEntry, lc);
		const char *col = quote_identifier(te->resname);
		AttrNumber	attnum = get_attnum(targetid, te->resname);
		char	   *expr = deparse_expression((Node *) te->expr, dpcontext, true, false);

		if (te->resjunk)
			continue;
		if (attnum == InvalidAttrNumber)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("column \"%s\" of derived view \"%s\" does not exist in target table \"%s\"",
							te->resname, viewname, RelationGetRelationName(target)),
					 errhint("Name every output of the query after a column of the target with AS.")));
		if (bms_is_member(attnum, produced))
			ereport(ERROR,
					(errcode(ERRCODE_DUPLICATE_COLUMN),
					 errmsg("derived view \"%s\" writes column \"%s\" twice", viewname, te->resname)));
		produced = bms_add_member(produced, attnum);
		appendStringInfo(&select, "%s%s AS %s", select.len ? ", " : "", expr, col);
		appendStringInfo(&cols, "%s%s", cols.len ? ", " : "", col);

		if (te->ressortgroupref != 0)
		{
			TypeCacheEntry *typentry;

			if (!IsA(te->expr, Var))
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("grouping column \"%s\" of derived view \"%s\" must be a plain column of the source",
								te->resname, viewname)));
			typentry = lookup_type_cache(exprType((Node *) te->expr), TYPECACHE_HASH_PROC);
			if (!OidIsValid(typentry->hash_proc))
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("grouping column \"%s\" of derived view \"%s\" has type %s, which has no hash function",
								te->resname, viewname, format_type_be(typentry->type_id)),
						 errdetail("Keys are locked by their hash while they are recomputed.")));
			stmts->key_array_types[stmts->nkeys] = get_array_type(exprType((Node *) te->expr));
			if (!OidIsValid(stmts->key_array_types[stmts->nkeys]))
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("grouping column \"%s\" of derived view \"%s\" has type %s, which has no array type",
								te->resname, viewname, format_type_be(exprType((Node *) te->expr))),
						 errdetail("The keys a statement touches are passed on as arrays.")));
			stmts->nkeys++;
			appendStringInfo(&params, "%spg_catalog.unnest($%d)", params.len ? ", " : "", stmts->nkeys);
			appendStringInfo(&array_aggs, "%spg_catalog.array_agg(k.%s)", array_aggs.len ? ", " : "", col);
			appendStringInfo(&keys_not_null, "%sk.%s IS NOT NULL", keys_not_null.len ? " AND " : "", col);
			keyattnos = bms_add_member(keyattnos, attnum);
			keycols = lappend(keycols, (char *) col);
			appendStringInfo(&source_keys, "%s%s AS %s", source_keys.len ? ", " : "", expr, col);
			appendStringInfo(&not_null, "%s%s IS NOT NULL", not_null.len ? " AND " : "", expr);
			appendStringInfo(&keys, "%s%s", keys.len ? ", " : "", col);
		}
		else
		{
			appendStringInfo(&sets, "%s%s = excluded.%s", sets.len ? ", " : "", col, col);

			/*
			 * Sharing the target, a key without rows keeps its row with
			 * this column as the query gives it over no rows, the query
			 * without GROUP BY over none: it may read the source's columns
			 * only inside aggregates.
			 */
			if (writers != NIL)
			{
				ListCell   *vc;

				foreach(vc, pull_var_clause((Node *) te->expr, PVC_INCLUDE_AGGREGATES |
											PVC_INCLUDE_WINDOWFUNCS | PVC_INCLUDE_PLACEHOLDERS))
					if (IsA(lfirst(vc), Var))
						ereport(ERROR,
								(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
								 errmsg("column \"%s\" of derived view \"%s\" reads the source outside an aggregate",
										te->resname, viewname),
								 errdetail("Table \"%s\" is written by other views too, so a key left without source rows keeps its row, with this column as the query gives it over no rows.",
										   RelationGetRelationName(target)),
								 errhint("Read the source's columns inside aggregates only.")));
				appendStringInfo(&empty_cols, "%s%s", empty_cols.len ? ", " : "", col);
				appendStringInfo(&empty_select, "%s%s", empty_select.len ? ", " : "", expr);
			}
		}
	}

	fanout_check_outputs(query, target, produced, "derived view", viewname);
	check_key_index(target, keyattnos, viewname);
	check_disjoint(target, writers, produced, keyattnos, viewname);

	where = query->jointree->quals
		? psprintf("(%s) AND ", deparse_expression(query->jointree->quals, dpcontext, true, false))
		: "";
	initStringInfo(&sql);
	foreach(lc, query->groupClause)
	{
		SortGroupClause *sgc = lfirst_node(SortGroupClause, lc);
		TargetEntry *te = get_sortgroupclause_tle(sgc, query->targetList);

		appendStringInfo(&sql, "%s%s", sql.len ? ", " : "",
						 deparse_expression((Node *) te->expr, dpcontext, true, false));
	}
	group = sql.data;

	/*
	 * The upsert writes keys in key order, so that sessions maintaining
	 * overlapping keys of one target lock its rows in the same order (they
	 * already hold the keys' locks, taken in hash order).
	 */
	upsert = psprintf("trace_agg_upserted AS (INSERT INTO %s AS t (%s) SELECT %s FROM trace_agg_fresh "
					  "ORDER BY %s ON CONFLICT (%s) %s%s RETURNING 1)",
					  fanout_qualified_name(targetid), cols.data, cols.data, keys.data, keys.data,
					  sets.len ? "DO UPDATE SET " : "DO NOTHING", sets.data);
	fresh_tail = psprintf(" GROUP BY %s)", group);

	/*
	 * The keys a firing touched, those of its old and new rows, are
	 * gathered into one array per key column, adding to the arrays $1 ...
	 * of the keys earlier firings of the same statement touched.  The lock
	 * and the recomputation read the keys from those arrays.
	 */
	if (has_old || has_new)
	{
		StringInfoData collect;

		initStringInfo(&collect);
		appendStringInfo(&collect, "SELECT %s FROM (", array_aggs.data);
		if (has_old)
			appendStringInfo(&collect, "SELECT %s FROM " DERIVED_OLD_ROWS " AS s UNION ", source_keys.data);
		if (has_new)
			appendStringInfo(&collect, "SELECT %s FROM " DERIVED_NEW_ROWS " AS s UNION ", source_keys.data);
		appendStringInfo(&collect, "SELECT * FROM ROWS FROM (%s)) AS k(%s) WHERE %s",
						 params.data, keys.data, keys_not_null.data);
		stmts->collect_sql = collect.data;
	}
	else
		stmts->collect_sql = NULL;
	affected = psprintf("SELECT * FROM ROWS FROM (%s) AS k(%s)", params.data, keys.data);

	stmts->lock_sql = psprintf("SELECT DISTINCT pg_catalog.hash_record(ROW(%s)) AS h FROM (%s) AS k "
							   "ORDER BY h", keys.data, affected);

	initStringInfo(&sql);
	appendStringInfo(&sql, "WITH trace_agg_keys AS MATERIALIZED (%s), ", affected);
	appendStringInfo(&sql, "trace_agg_fresh AS MATERIALIZED (SELECT %s FROM %s AS s WHERE %s"
					 "EXISTS (SELECT FROM trace_agg_keys AS k WHERE ",
					 select.data, fanout_qualified_name(sourceid), where);
	foreach(lc, query->groupClause)
	{
		SortGroupClause *sgc = lfirst_node(SortGroupClause, lc);
		TargetEntry *te = get_sortgroupclause_tle(sgc, query->targetList);

		appendStringInfo(&sql, "%s%s OPERATOR(pg_catalog.=) k.%s",
						 foreach_current_index(lc) ? " AND " : "",
						 deparse_expression((Node *) te->expr, dpcontext, true, false),
						 quote_identifier(te->resname));
	}
	appendStringInfo(&sql, ")%s, %s, ", fresh_tail, upsert);
	gone = psprintf("(SELECT %s FROM trace_agg_keys EXCEPT SELECT %s FROM trace_agg_fresh) AS g",
					keys.data, keys.data);
	if (writers == NIL)
		appendStringInfo(&sql, "trace_agg_deleted AS (DELETE FROM %s AS t USING %s "
						 "WHERE %s RETURNING 1) ",
						 fanout_qualified_name(targetid), gone, key_match(keycols, "t", "g"));
	else
		appendStringInfo(&sql, "trace_agg_deleted AS (UPDATE %s AS t SET (%s) = "
						 "(SELECT %s FROM %s AS s WHERE false) FROM %s WHERE %s RETURNING 1) ",
						 fanout_qualified_name(targetid), empty_cols.data, empty_select.data,
						 fanout_qualified_name(sourceid), gone, key_match(keycols, "t", "g"));
	appendStringInfoString(&sql, "SELECT (SELECT pg_catalog.count(*) FROM trace_agg_upserted), "
						   "(SELECT pg_catalog.count(*) FROM trace_agg_deleted)");
	stmts->keys_sql = sql.data;

	/* Every key: the source's rows with a non-null key, and nothing else. */
	initStringInfo(&sql);
	appendStringInfo(&sql, "WITH trace_agg_fresh AS MATERIALIZED (SELECT %s FROM %s AS s WHERE %s%s%s, %s, ",
					 select.data, fanout_qualified_name(sourceid), where, not_null.data,
					 fresh_tail, upsert);
	if (writers == NIL)
		appendStringInfo(&sql, "trace_agg_deleted AS (DELETE FROM %s AS t WHERE "
						 "NOT EXISTS (SELECT FROM trace_agg_fresh AS f WHERE %s) RETURNING 1) ",
						 fanout_qualified_name(targetid), key_match(keycols, "t", "f"));
	else
		appendStringInfo(&sql, "trace_agg_deleted AS (UPDATE %s AS t SET (%s) = "
						 "(SELECT %s FROM %s AS s WHERE false) WHERE "
						 "NOT EXISTS (SELECT FROM trace_agg_fresh AS f WHERE %s) RETURNING 1) ",
						 fanout_qualified_name(targetid), empty_cols.data, empty_select.data,
						 fanout_qualified_name(sourceid), key_match(keycols, "t", "f"));
	appendStringInfoString(&sql, "SELECT (SELECT pg_catalog.count(*) FROM trace_agg_upserted), "
						   "(SELECT pg_catalog.count(*) FROM trace_agg_deleted)");
	stmts->full_sql = sql.data;
	stmts->nparams = stmts->nkeys;
	stmts->cleanup_sql = NULL;

	/* Delta mode: the statements that apply a statement's changes instead. */
	if (stmts->delta)
		derived_build_delta(query, target, sourceid, dpcontext, viewname, where, writers != NIL,
							has_old, has_new, stmts);
	table_close(target, AccessShareLock);
}

/*
 * Build the statements of derived view VIEWID (named VIEWNAME in messages)
 * of SOURCEID into TARGETID.  HAS_OLD and HAS_NEW say which transition
 * tables the firing trigger has (both false: only the full recomputation is
 * wanted).  Checks the query against the target on the way: creating a view
 * calls this before anything runs, and so does creating a materialized view
 * NEW_VIEW writing NEW_COLUMNS of the target (else NULL and NIL).  Must run
 * inside SPI with search_path pinned to pg_catalog.
 *
 * The view's text is read and parsed as the view's owner, in a
 * security-restricted operation, as its statements run: the names it uses
 * are looked up with the owner's rights (USAGE on the schemas of its
 * functions and types), never with those of the role writing the source.
 */
void
derived_build_statements(Oid viewid, Oid sourceid, Oid targetid, const char *viewname,
						 bool has_old, bool has_new, DerivedStatements *stmts,
						 const char *new_view, List *new_columns)
{
	Oid			owner = fanout_relation_owner(viewid);
	Oid			save_userid;
	int			save_sec_context;

	if (!OidIsValid(owner))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("derived view \"%s\" does not exist", viewname),
				 errdetail("It was dropped while its statements were being built.")));
	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(owner, save_sec_context |
						   SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION);
	build_statements(viewid, sourceid, targetid, viewname, has_old, has_new, stmts,
					 new_view, new_columns);
	SetUserIdAndSecContext(save_userid, save_sec_context);
}
