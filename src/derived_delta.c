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
 *   - every output besides the keys is count(*), count(x), sum(x) or
 *     trace_agg.sum_map(m), FILTER allowed, nothing around it, no DISTINCT:
 *     the change of a sum over a set of rows is the sum over the rows added
 *     minus the sum over the rows taken away only for exact additions, so
 *     sums of smallint, integer, bigint and numeric only (a float sum
 *     depends on the order of its additions); sum_map's are exact;
 *   - a sum_map keeps a key whose total is 0 as long as a row carries it
 *     (README: keys whose total is 0 are kept), which its total alone
 *     cannot tell: when the rows a statement took away leave a key at 0
 *     and none of its new rows carries it, the key's other rows are looked
 *     for in the source (its only read there, an index scan of the key's
 *     rows);
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
 *   - the view is its target's only writer and the target has no TTL
 *     (checked at creation; set_ttl refuses one later): a row deleted by
 *     another view's delete_keys or by a purge would make the next change
 *     apply to nothing, where a recomputation starts again from the
 *     source.
 */
#include "postgres.h"

#include "access/table.h"
#include "catalog/namespace.h"
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
	DELTA_SUM,
	DELTA_SUM_MAP
} DeltaKind;

/* One aggregate output of the view. */
typedef struct DeltaOutput
{
	DeltaKind	kind;
	Aggref	   *aggref;
	const char *col;			/* its target column, quoted */
	char	   *agg;			/* the aggregate as written, over "s" */
	const char *count_col;		/* DELTA_SUM: the count telling whether it is null */
	char	   *arg;			/* its argument over "s"; NULL for count(*) */
	char	   *filter;			/* its FILTER over "s", or NULL */
	char	   *map_type;		/* DELTA_SUM_MAP: the map's type, qualified */
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
	if (get_func_namespace(agg->aggfnoid) == get_namespace_oid("trace_agg", true) &&
		strcmp(name, "sum_map") == 0)
		return DELTA_SUM_MAP;
	refuse(viewname, column,
		   psprintf("Aggregate %s is not invertible: delta mode maintains count(*), count(x), sum(x) and trace_agg.sum_map(m) only.", name));
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

	if (out->kind == DELTA_SUM_MAP)
	{
		if (att->atttypid == out->aggref->aggtype)
			return;
		refuse(viewname, resname,
			   psprintf("The column has type %s: a sum_map's changes are added with sum_map_merge and sum_map_subtract of its own type, %s.",
						format_type_with_typemod(att->atttypid, att->atttypmod),
						format_type_be(out->aggref->aggtype)));
	}
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
 * A view in delta mode cannot write a table with a TTL (set_ttl refuses to
 * set one on its target later).  Checked at creation, inside SPI.
 */
void
derived_delta_check_ttl(Oid targetid, const char *viewname)
{
	Oid			argtypes[1] = {OIDOID};
	Datum		args[1] = {ObjectIdGetDatum(targetid)};

	trace_agg_catalog_execute("SELECT FROM trace_agg.ttl WHERE target OPERATOR(pg_catalog.=) $1",
							  1, argtypes, args, NULL, true);
	if (SPI_processed > 0)
		refuse(viewname, NULL,
			   psprintf("Table \"%s\" has a TTL: a row its purge deletes would leave the next change nothing to apply to.",
						get_rel_name(targetid)));
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
	Relation	source = table_open(sourceid, AccessShareLock);
	List	   *outputs = NIL;
	const char *count_star = NULL;
	StringInfoData keys,
				source_keys,
				group,
				not_null,
				key_arrays,
				changes,
				change_cols,
				nonzero,
				params,
				arrays,
				sums,
				insert_cols,
				insert_values,
				sets,
				fixed_sets,
				fixed_if,
				fixed_sums,
				minus_if,
				match,
				source_match,
				sql;
	char	   *delta;
	ListCell   *lc;
	int			n;

	if (shared)
		refuse(viewname, NULL,
			   psprintf("Materialized views write other columns of table \"%s\": a row they delete (delete_keys) would leave the next change nothing to apply to.",
						RelationGetRelationName(target)));
	if (contain_mutable_functions(query->jointree->quals))
		refuse(viewname, NULL,
			   "Its WHERE clause calls a function that is not immutable: a row leaving the view would be weighed as it is when it leaves, not as it was when it came in.");

	initStringInfo(&keys);
	initStringInfo(&source_keys);
	initStringInfo(&group);
	initStringInfo(&not_null);
	initStringInfo(&key_arrays);
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
		out->arg = out->kind == DELTA_COUNT_STAR ? NULL
			: deparse_expression((Node *) linitial_node(TargetEntry, out->aggref->args)->expr,
								 dpcontext, true, false);
		out->filter = out->aggref->aggfilter
			? deparse_expression((Node *) out->aggref->aggfilter, dpcontext, true, false) : NULL;
		if (out->kind == DELTA_SUM_MAP)
			out->map_type = format_type_be_qualified(out->aggref->aggtype);
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
	 * A firing's changes: per key, the aggregates over its new rows and
	 * over its old rows.  A count or sum gives one change, new minus old, as
	 * numeric (exact, whatever the aggregate's type); a sum_map gives two
	 * maps, what its new rows add and what its old rows take away (a
	 * uint64_map cannot hold a negative change).  Keys whose aggregates do
	 * not change are left out; the rest are appended to the arrays of the
	 * statement's earlier firings ($1 ...), one per key column and change.
	 */
	initStringInfo(&changes);
	initStringInfo(&change_cols);
	initStringInfo(&nonzero);
	initStringInfo(&params);
	initStringInfo(&arrays);
	initStringInfo(&sums);
	initStringInfo(&insert_cols);
	initStringInfo(&insert_values);
	initStringInfo(&sets);
	initStringInfo(&fixed_sets);
	initStringInfo(&fixed_if);
	initStringInfo(&fixed_sums);
	initStringInfo(&minus_if);
	initStringInfo(&match);
	initStringInfo(&source_match);
	foreach(lc, query->targetList)
	{
		TargetEntry *te = lfirst_node(TargetEntry, lc);
		const char *col = quote_identifier(te->resname);

		if (te->resjunk || te->ressortgroupref == 0)
			continue;
		appendStringInfo(&key_arrays, "%spg_catalog.array_agg(k.%s)", key_arrays.len ? ", " : "", col);
		appendStringInfo(&match, "%st.%s OPERATOR(pg_catalog.=) g.%s", match.len ? " AND " : "", col, col);
		appendStringInfo(&source_match, "%s OPERATOR(pg_catalog.=) t.%s AND ",
						 deparse_expression((Node *) te->expr, dpcontext, true, false), col);
	}
	stmts->nparams = stmts->nkeys;
	foreach(lc, outputs)
		stmts->nparams += ((DeltaOutput *) lfirst(lc))->kind == DELTA_SUM_MAP ? 2 : 1;
	stmts->key_array_types = repalloc(stmts->key_array_types, sizeof(Oid) * stmts->nparams);
	for (n = 0; n < stmts->nkeys; n++)
		appendStringInfo(&params, "%spg_catalog.unnest($%d)", n ? ", " : "", n + 1);
	n = stmts->nkeys;
	foreach(lc, outputs)
	{
		DeltaOutput *out = lfirst(lc);
		int			i = foreach_current_index(lc) + 1;

		appendStringInfo(&insert_cols, ", %s", out->col);
		if (out->kind == DELTA_SUM_MAP)
		{
			stmts->key_array_types[n++] = JSONBARRAYOID;
			stmts->key_array_types[n++] = JSONBARRAYOID;
			appendStringInfo(&params, ", pg_catalog.unnest($%d), pg_catalog.unnest($%d)", n - 1, n);
			appendStringInfo(&changes, ", trace_agg.sum_map(%s) FILTER (WHERE s.trace_agg_sign OPERATOR(pg_catalog.>) 0%s%s%s)::pg_catalog.jsonb AS trace_agg_p%d"
							 ", trace_agg.sum_map(%s) FILTER (WHERE s.trace_agg_sign OPERATOR(pg_catalog.<) 0%s%s%s)::pg_catalog.jsonb AS trace_agg_m%d",
							 out->arg, out->filter ? " AND (" : "", out->filter ? out->filter : "", out->filter ? ")" : "", i,
							 out->arg, out->filter ? " AND (" : "", out->filter ? out->filter : "", out->filter ? ")" : "", i);
			appendStringInfo(&change_cols, ", trace_agg_p%d, trace_agg_m%d", i, i);
			appendStringInfo(&nonzero, "%sc.trace_agg_p%d IS DISTINCT FROM c.trace_agg_m%d",
							 nonzero.len ? " OR " : "", i, i);
			appendStringInfo(&arrays, ", pg_catalog.array_agg(k.trace_agg_p%d), pg_catalog.array_agg(k.trace_agg_m%d)",
							 i, i);
			appendStringInfo(&sums, ", trace_agg.sum_map(trace_agg_p%d::%s)::pg_catalog.jsonb AS trace_agg_p%d, "
							 "trace_agg.sum_map(trace_agg_m%d::%s)::pg_catalog.jsonb AS trace_agg_m%d",
							 i, out->map_type, i, i, out->map_type, i);
			appendStringInfo(&insert_values, ", trace_agg_p%d::%s", i, out->map_type);
			appendStringInfo(&sets, "%s%s = trace_agg.sum_map_merge(t.%s, excluded.%s)",
							 sets.len ? ", " : "", out->col, out->col, out->col);

			/*
			 * What the old rows took away, subtracted; a key they carried
			 * whose total falls to 0 and that no new row carries is kept
			 * only if another row of the key still carries it, as a
			 * recomputation would (a key's total is 0 when no row carries
			 * it, so only those keys are looked for).
			 */
			appendStringInfo(&fixed_sets, "%s%s = CASE WHEN g.trace_agg_m%d OPERATOR(pg_catalog.=) '{}' THEN t.%s "
							 "ELSE (SELECT COALESCE(pg_catalog.jsonb_object_agg(e.key, e.value), '{}') "
							 "FROM pg_catalog.jsonb_each(trace_agg.sum_map_subtract(t.%s, g.trace_agg_m%d::%s)) AS e "
							 "WHERE e.value OPERATOR(pg_catalog.<>) '0' "
							 "OR NOT g.trace_agg_m%d OPERATOR(pg_catalog.?) e.key "
							 "OR g.trace_agg_p%d OPERATOR(pg_catalog.?) e.key "
							 "OR EXISTS (SELECT FROM %s AS s WHERE %s%s%s(%s)::pg_catalog.jsonb OPERATOR(pg_catalog.?) e.key))::%s END",
							 fixed_sets.len ? ", " : "", out->col, i, out->col, out->col, i, out->map_type,
							 i, i, fanout_qualified_name(sourceid), source_match.data, where,
							 out->filter ? psprintf("(%s) AND ", out->filter) : "",
							 out->arg, out->map_type);
			appendStringInfo(&fixed_if, "%sg.trace_agg_m%d OPERATOR(pg_catalog.<>) '{}'",
							 fixed_if.len ? " OR " : "", i);
			appendStringInfo(&minus_if, "%sg.trace_agg_m%d OPERATOR(pg_catalog.<>) '{}'",
							 minus_if.len ? " OR " : "", i);
			continue;
		}
		stmts->key_array_types[n++] = NUMERICARRAYOID;
		appendStringInfo(&params, ", pg_catalog.unnest($%d)", n);
		{
			StringInfoData cond;

			/* the rows the aggregate counts: its FILTER, and for count(x) a non-null x */
			initStringInfo(&cond);
			if (out->kind == DELTA_COUNT)
				appendStringInfo(&cond, "pg_catalog.num_nonnulls(%s) OPERATOR(pg_catalog.=) 1", out->arg);
			if (out->filter)
				appendStringInfo(&cond, "%s(%s)", cond.len ? " AND " : "", out->filter);
			appendStringInfo(&changes, ", COALESCE(pg_catalog.sum(%s)%s%s%s, 0)::pg_catalog.numeric AS trace_agg_d%d",
							 out->kind == DELTA_SUM
							 ? psprintf("(%s)::pg_catalog.numeric OPERATOR(pg_catalog.*) s.trace_agg_sign", out->arg)
							 : "s.trace_agg_sign",
							 cond.len ? " FILTER (WHERE " : "", cond.data, cond.len ? ")" : "", i);
		}
		appendStringInfo(&change_cols, ", trace_agg_d%d", i);
		appendStringInfo(&nonzero, "%sc.trace_agg_d%d OPERATOR(pg_catalog.<>) 0", nonzero.len ? " OR " : "", i);
		appendStringInfo(&arrays, ", pg_catalog.array_agg(k.trace_agg_d%d)", i);
		appendStringInfo(&sums, ", pg_catalog.sum(trace_agg_d%d) AS trace_agg_d%d", i, i);
		appendStringInfo(&insert_values, ", trace_agg_d%d", i);
		if (out->kind == DELTA_SUM)
		{
			appendStringInfo(&sets, "%s%s = CASE WHEN COALESCE(t.%s, 0) OPERATOR(pg_catalog.+) excluded.%s "
							 "OPERATOR(pg_catalog.=) 0 THEN NULL ELSE COALESCE(t.%s, 0) "
							 "OPERATOR(pg_catalog.+) excluded.%s END",
							 sets.len ? ", " : "", out->col, out->count_col, out->count_col, out->col, out->col);
			appendStringInfo(&fixed_sets, "%s%s = CASE WHEN t.%s OPERATOR(pg_catalog.=) 0 THEN NULL ELSE t.%s END",
							 fixed_sets.len ? ", " : "", out->col, out->count_col, out->col);
			appendStringInfo(&fixed_if, "%s(t.%s OPERATOR(pg_catalog.=) 0 AND t.%s IS NOT NULL)",
							 fixed_if.len ? " OR " : "", out->count_col, out->col);
			appendStringInfo(&fixed_sums, "%s(t.%s OPERATOR(pg_catalog.=) 0 AND t.%s IS NOT NULL)",
							 fixed_sums.len ? " OR " : "", out->count_col, out->col);
		}
		else
			appendStringInfo(&sets, "%s%s = COALESCE(t.%s, 0) OPERATOR(pg_catalog.+) excluded.%s",
							 sets.len ? ", " : "", out->col, out->col, out->col);
	}

	if (has_old || has_new)
	{
		/*
		 * One pass over the firing's rows, each with its sign: +1 for a new
		 * row, -1 for an old one.
		 */
		initStringInfo(&sql);
		appendStringInfo(&sql, "SELECT %s%s FROM (SELECT * FROM (SELECT %s%s FROM (",
						 key_arrays.data, arrays.data, source_keys.data, changes.data);
		if (has_new)
			appendStringInfoString(&sql, "SELECT s.*, 1 AS trace_agg_sign FROM " DERIVED_NEW_ROWS " AS s");
		if (has_new && has_old)
			appendStringInfoString(&sql, " UNION ALL ");
		if (has_old)
			appendStringInfoString(&sql, "SELECT s.*, -1 AS trace_agg_sign FROM " DERIVED_OLD_ROWS " AS s");
		appendStringInfo(&sql, ") AS s WHERE %s%s GROUP BY %s) AS c WHERE %s "
						 "UNION ALL SELECT * FROM ROWS FROM (%s) AS r(%s%s)) AS k",
						 where, not_null.data, group.data, nonzero.data, params.data, keys.data, change_cols.data);
		stmts->collect_sql = sql.data;
	}
	else
		stmts->collect_sql = NULL;

	/* The statement's changes, summed per key: both statements below read them. */
	delta = psprintf("WITH trace_agg_delta AS MATERIALIZED (SELECT %s%s FROM ROWS FROM (%s) AS r(%s%s) "
					 "GROUP BY %s)",
					 keys.data, sums.data, params.data, keys.data, change_cols.data, keys.data);

	/*
	 * They are added to the target's rows in key order (so that concurrent
	 * statements lock shared rows in the same order); a key new to the
	 * target gets its change as its row.  A sum whose count drops to 0
	 * becomes null; a sum_map gets what the new rows add.  The statement
	 * returns how many rows the next one has work on (a count at 0, a sum
	 * to make null, a sum_map to subtract from): usually none.
	 */
	stmts->keys_sql = psprintf("%s, trace_agg_upserted AS (INSERT INTO %s AS t (%s%s) SELECT %s%s FROM trace_agg_delta "
							   "ORDER BY %s ON CONFLICT (%s) DO UPDATE SET %s "
							   "RETURNING t.%s OPERATOR(pg_catalog.=) 0%s%s AS trace_agg_cleanup) "
							   "SELECT (SELECT pg_catalog.count(*) FROM trace_agg_upserted), "
							   "(SELECT pg_catalog.count(*) FROM trace_agg_upserted WHERE trace_agg_cleanup)%s",
							   delta, fanout_qualified_name(RelationGetRelid(target)), keys.data, insert_cols.data,
							   keys.data, insert_values.data, keys.data, keys.data, sets.data,
							   count_star, fixed_sums.len ? " OR " : "", fixed_sums.data,
							   minus_if.len
							   ? psprintf(" OPERATOR(pg_catalog.+) (SELECT pg_catalog.count(*) FROM trace_agg_delta AS g WHERE %s)",
										  minus_if.data)
							   : "");

	/*
	 * Then, in a statement that sees those rows: a key whose count(*)
	 * reached 0 has no row; a sum whose count is 0 in a row the upsert
	 * inserted is null (its change was 0 there, with no value to sum); a
	 * sum_map loses what the old rows took away.
	 */
	initStringInfo(&sql);
	appendStringInfo(&sql, "%s, trace_agg_deleted AS (DELETE FROM %s AS t USING trace_agg_delta AS g WHERE %s "
					 "AND t.%s OPERATOR(pg_catalog.=) 0 RETURNING 1)",
					 delta, fanout_qualified_name(RelationGetRelid(target)), match.data, count_star);
	if (fixed_sets.len)
		appendStringInfo(&sql, ", trace_agg_fixed AS (UPDATE %s AS t SET %s FROM trace_agg_delta AS g "
						 "WHERE %s AND t.%s OPERATOR(pg_catalog.<>) 0 AND (%s) RETURNING 1) "
						 "SELECT (SELECT pg_catalog.count(*) FROM trace_agg_deleted), "
						 "(SELECT pg_catalog.count(*) FROM trace_agg_fixed)",
						 fanout_qualified_name(RelationGetRelid(target)),
						 fixed_sets.data,
						 match.data, count_star, fixed_if.data);
	else
		appendStringInfoString(&sql, " SELECT (SELECT pg_catalog.count(*) FROM trace_agg_deleted), 0::pg_catalog.int8");
	stmts->cleanup_sql = sql.data;
	stmts->lock_sql = NULL;
}
