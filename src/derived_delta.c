/*
 * derived_delta.c
 *		Delta mode of derived views: each statement's change is added to the
 *		stored aggregates instead of recomputing its keys from the source.
 *
 * A recomputation reads every source row of every key a statement touched:
 * a trace of 150 observations updated one at a time reads 150 rows per
 * update.  Where every aggregate of the view is invertible, the change of a
 * key is known from the statement's own rows: the aggregates over its new
 * rows (the NEW transition table) minus those over its old rows (the OLD
 * one).  Delta mode adds that change to the target's row with INSERT ...
 * ON CONFLICT DO UPDATE, reading neither the source nor the key's other
 * rows, and needs no key lock: additions commute, and the row lock of the
 * upsert orders concurrent writers of one key, each adding its change to
 * the row as the previous one committed it.
 *
 * It is accepted only where the result is exactly what a recomputation
 * gives, so the view's query is checked at creation (and at every build,
 * as the target may have changed):
 *
 *   - every output besides the keys is count(*), count(x) or sum(x), FILTER
 *     allowed, nothing around it, no DISTINCT: the change of a sum over a
 *     set of rows is the sum over the rows added minus the sum over the rows
 *     taken away only for exact additions, so sums of smallint, integer,
 *     bigint and numeric only (a float sum depends on the order of its
 *     additions);
 *   - an unfiltered count(*): a key's row is deleted when it reaches 0, as a
 *     recomputation finds no row;
 *   - each sum(x) has a count(x) with the same FILTER beside it (or, when x
 *     is a NOT NULL column, a count(*) with the same FILTER): a sum over
 *     rows whose x are all null is null, not 0, which only the count tells;
 *   - the target's columns hold the values exactly: counts and sums of
 *     integers in bigint or numeric; sums of numeric only over values of a
 *     fixed scale (numeric(p, s)), into numeric of at least that scale: a
 *     recomputed sum shows the largest scale among the key's current rows,
 *     which a running total cannot know, and a rounded total plus a change
 *     is not the rounded sum;
 *   - no function that is not immutable in the WHERE clause or the
 *     aggregates: old rows are weighed as they are when they leave, and a
 *     recomputation would weigh them now;
 *   - the view is its target's only writer and the target has no TTL: a row
 *     deleted by another view's delete_keys or by a purge would make the
 *     next change apply to nothing, where a recomputation starts again from
 *     the source.
 */
#include "postgres.h"

#include "access/table.h"
#include "catalog/pg_aggregate.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/ruleutils.h"

#include "derived.h"
#include "fanout.h"
#include "trace_agg.h"

typedef enum DeltaKind
{
	DELTA_COUNT_STAR,
	DELTA_COUNT,
	DELTA_SUM
} DeltaKind;

/* One aggregate output of the view. */
typedef struct DeltaOutput
{
	DeltaKind	kind;
	Aggref	   *aggref;
	const char *col;			/* its target column, quoted */
	char	   *agg;			/* the aggregate as written, over "s" */
	const char *count_col;		/* DELTA_SUM: the count telling whether it is null */
} DeltaOutput;

/* Refuse delta mode for VIEWNAME, DETAIL saying why. */
static void
refuse(const char *viewname, const char *column, const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 column
			 ? errmsg("column \"%s\" of derived view \"%s\" cannot be maintained in delta mode", column, viewname)
			 : errmsg("derived view \"%s\" cannot be maintained in delta mode", viewname),
			 errdetail_internal("%s", detail),
			 errhint("Create the view with mode => 'recompute', which recomputes the keys a statement touches from the source.")));
}

/* The kind of aggregate AGG is, refusing any that delta mode cannot invert. */
static DeltaKind
classify(Aggref *agg, const char *column, const char *viewname)
{
	const char *name = get_func_name(agg->aggfnoid);
	bool		builtin = get_func_namespace(agg->aggfnoid) == PG_CATALOG_NAMESPACE;

	if (agg->aggdistinct != NIL)
		refuse(viewname, column,
			   psprintf("%s(DISTINCT ...) is not invertible: whether a row's value still counts depends on the key's other rows.", name));
	if (agg->aggkind != AGGKIND_NORMAL)
		refuse(viewname, column,
			   psprintf("Ordered-set aggregate %s is not invertible.", name));
	if (builtin && strcmp(name, "count") == 0)
		return agg->aggstar ? DELTA_COUNT_STAR : DELTA_COUNT;
	if (builtin && strcmp(name, "sum") == 0)
	{
		Oid			argtype = linitial_oid(agg->aggargtypes);

		if (argtype == FLOAT4OID || argtype == FLOAT8OID)
			refuse(viewname, column,
				   psprintf("sum over %s is not exactly invertible: a float sum depends on the order of its additions, so adding and taking away values drifts from the sum a recomputation gives.",
							format_type_be(argtype)));
		if (argtype != INT2OID && argtype != INT4OID && argtype != INT8OID && argtype != NUMERICOID)
			refuse(viewname, column,
				   psprintf("Delta mode sums smallint, integer, bigint and numeric values only, not %s.",
							format_type_be(argtype)));
		return DELTA_SUM;
	}
	refuse(viewname, column,
		   psprintf("Aggregate %s is not invertible: delta mode maintains count(*), count(x) and sum(x) only.", name));
	return DELTA_SUM;			/* not reached */
}

/* Whether EXPR is a NOT NULL column of the source SOURCE. */
static bool
not_null_column(Node *expr, Relation source)
{
	Var		   *var = (Var *) expr;

	return IsA(expr, Var) && var->varattno > 0 &&
		TupleDescAttr(RelationGetDescr(source), var->varattno - 1)->attnotnull;
}

/* The scale of a numeric typmod (11 bits, signed, as numeric.c packs it). */
static int
typmod_scale(int32 typmod)
{
	return (((typmod - VARHDRSZ) & 0x7ff) ^ 1024) - 1024;
}

/*
 * The target column of OUT must hold its values exactly: a count or a sum
 * of integers in bigint or numeric, a sum of numeric in numeric without a
 * precision.
 */
static void
check_column_type(Relation target, const DeltaOutput *out, const char *resname, const char *viewname)
{
	AttrNumber	attnum = get_attnum(RelationGetRelid(target), resname);
	Form_pg_attribute att = TupleDescAttr(RelationGetDescr(target), attnum - 1);
	bool		numeric_sum = out->kind == DELTA_SUM &&
		linitial_oid(out->aggref->aggargtypes) == NUMERICOID;

	if (numeric_sum)
	{
		Node	   *arg = (Node *) linitial_node(TargetEntry, out->aggref->args)->expr;
		int32		argtypmod = exprTypmod(arg);

		if (argtypmod < 0)
			refuse(viewname, resname,
				   "Its sum is over numeric values without a fixed scale: a recomputation shows the sum with the largest scale among the key's current rows, which a running total cannot know.  Sum a numeric(p, s) column, or cast the values to one.");
		if (att->atttypid == NUMERICOID &&
			(att->atttypmod < 0 || typmod_scale(att->atttypmod) >= typmod_scale(argtypmod)))
			return;
		refuse(viewname, resname,
			   psprintf("The column has type %s: a sum of %s values is kept exactly only in numeric of at least their scale, as a rounded total plus a change is not the rounded sum.",
						format_type_with_typemod(att->atttypid, att->atttypmod),
						format_type_with_typemod(NUMERICOID, argtypmod)));
	}
	if (att->atttypid == NUMERICOID || att->atttypid == INT8OID)
		return;
	refuse(viewname, resname,
		   psprintf("The column has type %s: delta mode keeps counts and sums of integers in bigint or numeric, whose additions of a statement's change are exact.",
					format_type_with_typemod(att->atttypid, att->atttypmod)));
}

/*
 * Check QUERY for delta mode and build its statements into STMTS, whose
 * key fields (nkeys, their array types) derived_build_statements filled.
 * WHERE is the view's WHERE clause deparsed over "s" followed by " AND ",
 * or empty; SHARED whether materialized views write the target too.
 */
void
derived_build_delta(Query *query, Relation target, Oid sourceid, List *dpcontext,
					const char *viewname, const char *where, bool shared,
					bool has_old, bool has_new, DerivedStatements *stmts)
{
	Oid			argtypes[1] = {OIDOID};
	Datum		args[1] = {ObjectIdGetDatum(RelationGetRelid(target))};
	Relation	source = table_open(sourceid, AccessShareLock);
	List	   *outputs = NIL;
	const char *count_star = NULL;
	StringInfoData keys,
				source_keys,
				group,
				not_null,
				changes,
				side,
				change_cols,
				nonzero,
				params,
				arrays,
				sums,
				insert_cols,
				sets,
				nulled_sets,
				nulled_if,
				sql;
	ListCell   *lc;
	int			n;

	if (shared)
		refuse(viewname, NULL,
			   psprintf("Materialized views write other columns of table \"%s\": a row they delete (delete_keys) would leave the next change nothing to apply to.",
						RelationGetRelationName(target)));
	trace_agg_catalog_execute("SELECT FROM trace_agg.ttl WHERE target OPERATOR(pg_catalog.=) $1",
							  1, argtypes, args, NULL, true);
	if (SPI_processed > 0)
		refuse(viewname, NULL,
			   psprintf("Table \"%s\" has a TTL: a row its purge deletes would leave the next change nothing to apply to.",
						RelationGetRelationName(target)));
	if (contain_mutable_functions(query->jointree->quals))
		refuse(viewname, NULL,
			   "Its WHERE clause calls a function that is not immutable: a row leaving the view would be weighed as it is when it leaves, not as it was when it came in.");

	initStringInfo(&keys);
	initStringInfo(&source_keys);
	initStringInfo(&group);
	initStringInfo(&not_null);
	foreach(lc, query->targetList)
	{
		TargetEntry *te = lfirst_node(TargetEntry, lc);
		const char *col = quote_identifier(te->resname);
		DeltaOutput *out;

		if (te->resjunk)
			continue;
		if (te->ressortgroupref != 0)
		{
			char	   *expr = deparse_expression((Node *) te->expr, dpcontext, true, false);

			appendStringInfo(&keys, "%s%s", keys.len ? ", " : "", col);
			appendStringInfo(&source_keys, "%s%s AS %s", source_keys.len ? ", " : "", expr, col);
			appendStringInfo(&group, "%s%s", group.len ? ", " : "", expr);
			appendStringInfo(&not_null, "%s%s IS NOT NULL", not_null.len ? " AND " : "", expr);
			continue;
		}
		if (!IsA(te->expr, Aggref))
			refuse(viewname, te->resname,
				   "Only a bare aggregate can be maintained by its changes, not an expression over aggregates or columns.");
		out = palloc0(sizeof(DeltaOutput));
		out->aggref = (Aggref *) te->expr;
		out->col = col;
		out->kind = classify(out->aggref, te->resname, viewname);
		if (contain_mutable_functions((Node *) te->expr))
			refuse(viewname, te->resname,
				   "The aggregate calls a function that is not immutable: a row leaving the view would be weighed as it is when it leaves, not as it was when it came in.");
		check_column_type(target, out, te->resname, viewname);
		out->agg = deparse_expression((Node *) te->expr, dpcontext, true, false);
		if (out->kind == DELTA_COUNT_STAR && out->aggref->aggfilter == NULL)
			count_star = col;
		outputs = lappend(outputs, out);
	}
	if (count_star == NULL)
		refuse(viewname, NULL,
			   "Delta mode needs an output count(*) without FILTER: a key's row is deleted when its count reaches 0, as a recomputation finds no row for it.");

	/* Each sum's count: the same argument and FILTER, or count(*) for a NOT NULL column. */
	foreach(lc, outputs)
	{
		DeltaOutput *sum = lfirst(lc);
		ListCell   *cc;

		if (sum->kind != DELTA_SUM)
			continue;
		foreach(cc, outputs)
		{
			DeltaOutput *count = lfirst(cc);

			if (!equal(count->aggref->aggfilter, sum->aggref->aggfilter))
				continue;
			if ((count->kind == DELTA_COUNT && equal(count->aggref->args, sum->aggref->args)) ||
				(count->kind == DELTA_COUNT_STAR &&
				 not_null_column((Node *) linitial_node(TargetEntry, sum->aggref->args)->expr, source)))
			{
				sum->count_col = count->col;
				break;
			}
		}
		if (sum->count_col == NULL)
		{
			char	   *arg = deparse_expression((Node *) linitial_node(TargetEntry, sum->aggref->args)->expr,
												 dpcontext, false, false);

			refuse(viewname, NULL,
				   psprintf("Output %s = %s needs an output count(%s)%s beside it: a sum over rows whose values are all null (or over no row) is null, and only that count tells when no value is left.",
							sum->col, sum->agg,
							not_null_column((Node *) linitial_node(TargetEntry, sum->aggref->args)->expr, source)
							? "*" : arg,
							sum->aggref->aggfilter ? " with the same FILTER" : ""));
		}
	}
	table_close(source, AccessShareLock);

	/*
	 * A firing's changes: per key, the aggregates over its new rows minus
	 * those over its old rows, as numeric (exact, whatever the aggregate's
	 * type), keys whose aggregates do not change left out; appended to the
	 * arrays of the statement's earlier firings ($1 ...).
	 */
	initStringInfo(&changes);
	initStringInfo(&change_cols);
	initStringInfo(&nonzero);
	initStringInfo(&params);
	initStringInfo(&arrays);
	initStringInfo(&sums);
	initStringInfo(&side);
	initStringInfo(&insert_cols);
	initStringInfo(&sets);
	initStringInfo(&nulled_sets);
	initStringInfo(&nulled_if);
	stmts->nparams = stmts->nkeys + list_length(outputs);
	stmts->key_array_types = repalloc(stmts->key_array_types, sizeof(Oid) * stmts->nparams);
	for (n = 0; n < stmts->nkeys; n++)
		appendStringInfo(&params, "%spg_catalog.unnest($%d)", n ? ", " : "", n + 1);
	foreach(lc, outputs)
	{
		DeltaOutput *out = lfirst(lc);
		int			i = foreach_current_index(lc) + 1;

		stmts->key_array_types[stmts->nkeys + i - 1] = NUMERICARRAYOID;
		appendStringInfo(&params, ", pg_catalog.unnest($%d)", stmts->nkeys + i);
		appendStringInfo(&side, ", %s::pg_catalog.numeric AS trace_agg_d%d", out->agg, i);
		appendStringInfo(&changes, ", %s%s%s AS trace_agg_d%d",
						 has_new ? psprintf("COALESCE(p.trace_agg_d%d, 0)", i) : "0",
						 has_old ? " OPERATOR(pg_catalog.-) " : "",
						 has_old ? psprintf("COALESCE(m.trace_agg_d%d, 0)", i) : "",
						 i);
		appendStringInfo(&change_cols, ", trace_agg_d%d", i);
		appendStringInfo(&nonzero, "%sc.trace_agg_d%d OPERATOR(pg_catalog.<>) 0", i > 1 ? " OR " : "", i);
		appendStringInfo(&arrays, ", pg_catalog.array_agg(k.trace_agg_d%d)", i);
		appendStringInfo(&sums, ", pg_catalog.sum(trace_agg_d%d) AS trace_agg_d%d", i, i);
		appendStringInfo(&insert_cols, ", %s", out->col);
		if (out->kind == DELTA_SUM)
		{
			appendStringInfo(&sets, "%s%s = CASE WHEN COALESCE(t.%s, 0) OPERATOR(pg_catalog.+) excluded.%s "
							 "OPERATOR(pg_catalog.=) 0 THEN NULL ELSE COALESCE(t.%s, 0) "
							 "OPERATOR(pg_catalog.+) excluded.%s END",
							 sets.len ? ", " : "", out->col, out->count_col, out->count_col, out->col, out->col);
			appendStringInfo(&nulled_sets, "%s%s = CASE WHEN t.%s OPERATOR(pg_catalog.=) 0 THEN NULL ELSE t.%s END",
							 nulled_sets.len ? ", " : "", out->col, out->count_col, out->col);
			appendStringInfo(&nulled_if, "%s(t.%s OPERATOR(pg_catalog.=) 0 AND t.%s IS NOT NULL)",
							 nulled_if.len ? " OR " : "", out->count_col, out->col);
		}
		else
			appendStringInfo(&sets, "%s%s = COALESCE(t.%s, 0) OPERATOR(pg_catalog.+) excluded.%s",
							 sets.len ? ", " : "", out->col, out->col, out->col);
	}

	if (has_old || has_new)
	{
		char	   *side_sql = psprintf("SELECT %s%s FROM %%s AS s WHERE %s%s GROUP BY %s",
										source_keys.data, side.data, where, not_null.data, group.data);

		initStringInfo(&sql);
		appendStringInfoString(&sql, "SELECT ");
		{
			ListCell   *kc;
			bool		first = true;

			foreach(kc, query->targetList)
			{
				TargetEntry *te = lfirst_node(TargetEntry, kc);

				if (te->resjunk || te->ressortgroupref == 0)
					continue;
				appendStringInfo(&sql, "%spg_catalog.array_agg(k.%s)", first ? "" : ", ",
								 quote_identifier(te->resname));
				first = false;
			}
		}
		appendStringInfo(&sql, "%s FROM (SELECT * FROM (SELECT %s%s FROM ", arrays.data, keys.data, changes.data);
		if (has_new)
			appendStringInfo(&sql, "(%s) AS p", psprintf(side_sql, DERIVED_NEW_ROWS));
		if (has_new && has_old)
			appendStringInfoString(&sql, " FULL JOIN ");
		if (has_old)
			appendStringInfo(&sql, "(%s) AS m", psprintf(side_sql, DERIVED_OLD_ROWS));
		if (has_new && has_old)
			appendStringInfo(&sql, " USING (%s)", keys.data);
		appendStringInfo(&sql, ") AS c WHERE %s UNION ALL SELECT * FROM ROWS FROM (%s) AS r(%s%s)) AS k",
						 nonzero.data, params.data, keys.data, change_cols.data);
		stmts->collect_sql = sql.data;
	}
	else
		stmts->collect_sql = NULL;

	/*
	 * The statement's changes, summed per key, are added to the target's
	 * rows in key order (so that concurrent statements lock shared rows in
	 * the same order); a key new to the target gets its change as its row.
	 * A sum whose count drops to 0 becomes null.
	 */
	initStringInfo(&sql);
	appendStringInfo(&sql, "WITH trace_agg_delta AS MATERIALIZED (SELECT %s%s FROM ROWS FROM (%s) AS r(%s%s) "
					 "GROUP BY %s), "
					 "trace_agg_upserted AS (INSERT INTO %s AS t (%s%s) SELECT %s%s FROM trace_agg_delta "
					 "ORDER BY %s ON CONFLICT (%s) DO UPDATE SET %s RETURNING 1) "
					 "SELECT (SELECT pg_catalog.count(*) FROM trace_agg_upserted), 0::pg_catalog.int8",
					 keys.data, sums.data, params.data, keys.data, change_cols.data, keys.data,
					 fanout_qualified_name(RelationGetRelid(target)), keys.data, insert_cols.data,
					 keys.data, change_cols.data, keys.data, keys.data, sets.data);
	stmts->keys_sql = sql.data;

	/*
	 * Then, in a statement that sees those rows: a key whose count(*)
	 * reached 0 has no row, and a sum whose count is 0 in a row the upsert
	 * inserted is null (its change was 0 there, with no value to sum).
	 */
	resetStringInfo(&params);
	for (n = 0; n < stmts->nkeys; n++)
		appendStringInfo(&params, "%spg_catalog.unnest($%d)", n ? ", " : "", n + 1);
	initStringInfo(&sql);
	{
		StringInfoData match;
		ListCell   *kc;

		initStringInfo(&match);
		foreach(kc, query->targetList)
		{
			TargetEntry *te = lfirst_node(TargetEntry, kc);
			const char *col;

			if (te->resjunk || te->ressortgroupref == 0)
				continue;
			col = quote_identifier(te->resname);
			appendStringInfo(&match, "%st.%s OPERATOR(pg_catalog.=) g.%s", match.len ? " AND " : "", col, col);
		}
		appendStringInfo(&sql, "WITH trace_agg_keys AS MATERIALIZED (SELECT DISTINCT * FROM ROWS FROM (%s) AS r(%s)), "
						 "trace_agg_deleted AS (DELETE FROM %s AS t USING trace_agg_keys AS g WHERE %s "
						 "AND t.%s OPERATOR(pg_catalog.=) 0 RETURNING 1)",
						 params.data, keys.data, fanout_qualified_name(RelationGetRelid(target)),
						 match.data, count_star);
		if (nulled_sets.len)
			appendStringInfo(&sql, ", trace_agg_nulled AS (UPDATE %s AS t SET %s FROM trace_agg_keys AS g "
							 "WHERE %s AND t.%s OPERATOR(pg_catalog.<>) 0 AND (%s) RETURNING 1) "
							 "SELECT (SELECT pg_catalog.count(*) FROM trace_agg_deleted), "
							 "(SELECT pg_catalog.count(*) FROM trace_agg_nulled)",
							 fanout_qualified_name(RelationGetRelid(target)), nulled_sets.data,
							 match.data, count_star, nulled_if.data);
		else
			appendStringInfoString(&sql, " SELECT (SELECT pg_catalog.count(*) FROM trace_agg_deleted), 0::pg_catalog.int8");
	}
	stmts->cleanup_sql = sql.data;
	stmts->lock_sql = NULL;
}
