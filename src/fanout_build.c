/*
 * fanout_build.c
 *		Turn the queries of a run of materialized views into the statement
 *		that merges an INSERT's rows into their targets.
 *
 * A materialized view is written as ClickHouse writes one: a single-table
 * SELECT ... GROUP BY whose outputs are named after the target's columns.
 * Each INSERT statement into the source runs that query over the statement's
 * rows (the transition table) and upserts the result into the target; a
 * column that already exists in the target is combined with the new partial
 * aggregate by the merge rule of its aggregate.  This file checks a query
 * and writes that upsert as SQL text with every name qualified, from OIDs
 * resolved at the time it runs (fanout_catalog.c asks for it), so that
 * executing it never depends on a search_path or on a name seen earlier.
 * A replacing view (fanout_replacing.c) selects rows instead of grouping
 * them, and its upsert replaces the stored row by the latest version.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/index.h"
#include "catalog/namespace.h"
#include "catalog/pg_aggregate.h"
#include "catalog/pg_index.h"
#include "catalog/pg_proc.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "parser/analyze.h"
#include "parser/parser.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/ruleutils.h"
#include "utils/syscache.h"

#include "compat.h"
#include "fanout.h"
#include "ttl.h"

/* How a column of the target absorbs a new partial aggregate. */
typedef struct MergeRule
{
	const char *schema;			/* aggregate's schema */
	const char *aggname;		/* aggregate's name */
	const char *template;		/* SQL with %1$s = stored, %2$s = new value */
	bool		distinct_ok;	/* whether DISTINCT keeps the rule valid */
} MergeRule;

static const MergeRule merge_rules[] = {
	{"pg_catalog", "min", "LEAST(%1$s, %2$s)", true},
	{"pg_catalog", "max", "GREATEST(%1$s, %2$s)", true},
	{"pg_catalog", "sum",
		"CASE WHEN %2$s IS NULL THEN %1$s WHEN %1$s IS NULL THEN %2$s "
	"ELSE %1$s OPERATOR(pg_catalog.+) %2$s END", false},
	/* a row another view of the target made has no count yet */
	{"pg_catalog", "count", "COALESCE(%1$s, 0) OPERATOR(pg_catalog.+) %2$s", false},
	{"pg_catalog", "bool_or",
		"CASE WHEN %2$s IS NULL THEN %1$s WHEN %1$s IS NULL THEN %2$s "
	"ELSE %1$s OR %2$s END", true},
	{"pg_catalog", "bool_and",
		"CASE WHEN %2$s IS NULL THEN %1$s WHEN %1$s IS NULL THEN %2$s "
	"ELSE %1$s AND %2$s END", true},
	{"pg_catalog", "every",
		"CASE WHEN %2$s IS NULL THEN %1$s WHEN %1$s IS NULL THEN %2$s "
	"ELSE %1$s AND %2$s END", true},
	{"trace_agg", "any_last", "COALESCE(%2$s, %1$s)", true},
	{"trace_agg", "argmax_state", "trace_agg.merge(%1$s, %2$s)", true},
	{"trace_agg", "argmax_merge", "trace_agg.merge(%1$s, %2$s)", true},
	{"trace_agg", "sum_map", "trace_agg.sum_map_merge(%1$s, %2$s)", false},
	{"trace_agg", "min_map", "trace_agg.min_map_merge(%1$s, %2$s)", true},
	{"trace_agg", "max_map", "trace_agg.max_map_merge(%1$s, %2$s)", true},
	{"trace_agg", "group_uniq_array", "trace_agg.group_uniq_merge(%1$s, %2$s)", true},
	{"trace_agg", "group_uniq_array_array", "trace_agg.group_uniq_merge(%1$s, %2$s)", true},
	{"trace_agg", "argmin_state", "trace_agg.merge(%1$s, %2$s)", true},
	{"trace_agg", "argmin_merge", "trace_agg.merge(%1$s, %2$s)", true},
	{"trace_agg", "argmax_last_state", "trace_agg.merge(%1$s, %2$s)", true},
	{"trace_agg", "last_set_state", "trace_agg.merge(%1$s, %2$s)", true},
	{"trace_agg", "tag_set_state", "trace_agg.lww_merge(%1$s, %2$s)", true},
	{"trace_agg", "metadata_state", "trace_agg.lww_merge(%1$s, %2$s)", true},
};

/* Aggregates whose result depends on the order of their input rows. */
static bool
aggregate_is_order_sensitive(const MergeRule *rule)
{
	return strcmp(rule->aggname, "any_last") == 0 ||
		strcmp(rule->aggname, "argmax_state") == 0 ||
		strcmp(rule->aggname, "argmax_merge") == 0 ||
		strcmp(rule->aggname, "argmin_state") == 0 ||
		strcmp(rule->aggname, "argmin_merge") == 0 ||
		strcmp(rule->aggname, "argmax_last_state") == 0 ||
		strcmp(rule->aggname, "last_set_state") == 0;
}

static const MergeRule *
lookup_merge_rule(Aggref *aggref, const char *viewname, const char *column)
{
	HeapTuple	tuple;
	Form_pg_proc proc;
	const char *schema;
	const char *name;
	int			i;

	tuple = SearchSysCache1(PROCOID, ObjectIdGetDatum(aggref->aggfnoid));
	if (!HeapTupleIsValid(tuple))
		elog(ERROR, "cache lookup failed for function %u", aggref->aggfnoid);
	proc = (Form_pg_proc) GETSTRUCT(tuple);
	schema = get_namespace_name(proc->pronamespace);
	name = pstrdup(NameStr(proc->proname));
	ReleaseSysCache(tuple);

	for (i = 0; i < lengthof(merge_rules); i++)
	{
		const MergeRule *rule = &merge_rules[i];

		if (strcmp(rule->schema, schema) != 0 || strcmp(rule->aggname, name) != 0)
			continue;
		if (aggref->aggdistinct != NIL && !rule->distinct_ok)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("aggregate %s(DISTINCT ...) of column \"%s\" in materialized view \"%s\" cannot be merged",
							name, column, viewname),
					 errdetail("Distinct values of one batch cannot be combined with those of earlier batches by adding them up.")));
		if (strncmp(name, "group_uniq_array", 16) == 0 && list_length(aggref->aggargtypes) > 1)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("aggregate %s(..., max_size) of column \"%s\" in materialized view \"%s\" cannot be merged",
							name, column, viewname),
					 errdetail("Which values a size-limited set keeps depends on the order of all rows, which merging batch results cannot reproduce.")));
		if (aggref->aggorder != NIL)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("aggregate %s(... ORDER BY ...) of column \"%s\" in materialized view \"%s\" is not supported",
							name, column, viewname),
					 errdetail("Rows are aggregated in the order they were inserted.")));
		return rule;
	}

	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("aggregate %s.%s of column \"%s\" in materialized view \"%s\" has no merge rule",
					schema, name, column, viewname),
			 errhint("Use one of min, max, sum, count, bool_or, bool_and, trace_agg.any_last, trace_agg.argmax_state, trace_agg.argmin_state, trace_agg.argmax_last_state, trace_agg.last_set_state, trace_agg.sum_map, trace_agg.min_map, trace_agg.max_map, trace_agg.group_uniq_array, trace_agg.group_uniq_array_array, trace_agg.tag_set_state or trace_agg.metadata_state.")));
	return NULL;				/* keep compiler quiet */
}

static void
refuse_query_feature(bool present, const char *what, const char *viewname, bool replacing)
{
	if (present)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("query of materialized view \"%s\" uses %s", viewname, what),
				 replacing ?
				 errdetail("A materialized view with a version column is a single-table SELECT of the source's rows, of which the target keeps the latest per key.") :
				 errdetail("A materialized view is a single-table SELECT whose outputs are grouping columns or aggregates, merged per key into the target.")));
}

/* Parse and analyze the view's query under the current search_path. */
static Query *
analyze_view_query(const char *query_text, const char *viewname, bool replacing)
{
	List	   *raw;
	RawStmt    *stmt;
	Query	   *query;

	raw = raw_parser(query_text, RAW_PARSE_DEFAULT);
	if (list_length(raw) != 1 || !IsA(((RawStmt *) linitial(raw))->stmt, SelectStmt))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("query of materialized view \"%s\" must be a single SELECT statement", viewname)));
	stmt = linitial_node(RawStmt, raw);
	query = parse_analyze_fixedparams(stmt, query_text, NULL, 0, NULL);

	refuse_query_feature(query->setOperations != NULL, "UNION, INTERSECT or EXCEPT", viewname, replacing);
	refuse_query_feature(query->cteList != NIL, "WITH", viewname, replacing);
	refuse_query_feature(query->hasSubLinks, "a subquery", viewname, replacing);
	refuse_query_feature(query->hasWindowFuncs, "a window function", viewname, replacing);
	refuse_query_feature(query->hasTargetSRFs, "a set-returning function", viewname, replacing);
	refuse_query_feature(query->havingQual != NULL, "HAVING", viewname, replacing);
	refuse_query_feature(query->distinctClause != NIL, "DISTINCT", viewname, replacing);
	refuse_query_feature(query->groupingSets != NIL, "GROUPING SETS", viewname, replacing);
	refuse_query_feature(query->sortClause != NIL, "ORDER BY", viewname, replacing);
	refuse_query_feature(query->limitCount != NULL || query->limitOffset != NULL,
						 "LIMIT or OFFSET", viewname, replacing);
	refuse_query_feature(query->rowMarks != NIL, "FOR UPDATE or FOR SHARE", viewname, replacing);
	if (replacing)
		fanout_refuse_replacing_features(query, viewname);
	else
		refuse_query_feature(query->groupClause == NIL, "no GROUP BY", viewname, false);

	/* From 18 on: drop the RTE_GROUP entry, which is no table read */
	ta_flatten_group_rte(query);

	if (list_length(query->rtable) != 1 ||
		list_length(query->jointree->fromlist) != 1 ||
		linitial_node(RangeTblEntry, query->rtable)->rtekind != RTE_RELATION)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("query of materialized view \"%s\" must read exactly one table", viewname),
				 errdetail("Joins, functions and subqueries in FROM are not supported.")));
	return query;
}

/*
 * The target's unique index or primary key whose columns are exactly the
 * grouping columns: ON CONFLICT needs it, and it is what makes a key one row.
 */
static void
check_conflict_index(Relation target, Bitmapset *keycols, const char *viewname)
{
	List	   *indexes = RelationGetIndexList(target);
	ListCell   *lc;

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
			return;
	}
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
			 errmsg("target table \"%s\" of materialized view \"%s\" has no unique index on its GROUP BY columns",
					RelationGetRelationName(target), viewname),
			 errhint("Add a primary key or a unique index on exactly the grouping columns of the view.")));
}

/*
 * A view's merge statement in pieces: the view's query over the transition
 * table, and what the upsert into the target needs.  Views of one source
 * that share their query share the first piece.
 */
typedef struct MergeParts
{
	const char *target;			/* the target, qualified */
	char	   *cols;			/* target columns written, in output order */
	char	   *row_cols;		/* the same, of the aggregated row "a" */
	char	   *keys;			/* its key columns */
	char	   *sets;			/* DO UPDATE SET list; empty: DO NOTHING */
	char	   *replace_if;		/* replacing view: when the new row replaces the
								 * stored one; NULL: an aggregating view */
	char	   *outputs;		/* the SELECT list of the view's query (of a
								 * replacing view, after its DISTINCT ON) */
	char	   *aggregate;		/* the rest: one row per key of the new rows,
								 * FROM ... GROUP BY, or of a replacing view
								 * FROM ... ORDER BY */
	const FanoutTtl *ttl;		/* the target's TTL, or NULL */
	TtlRules   *rules;			/* its per-key rules as they read now, or NULL */
	char	   *rule;			/* with rules: a key's rule, over the new rows */
	char	   *rule_column;	/* and its column in the aggregated rows */
} MergeParts;

/*
 * The first instant a row of the target with TTL is alive at, for the key
 * of the row ALIAS (the target's key columns, by name): rows whose TTL
 * column lies before it have expired, as trace_agg.ttl_cutoff() says.
 * Without per-key rules it is one sub-select, computed once per statement:
 * called per row, ttl_cutoff (a SQL function with its own search_path, so
 * never inlined) costs a function call with a GUC save and restore for
 * every row and key.  With rules it is the cutoff of the key's rule or of
 * the TTL, whichever is shorter, computed by ttl_cutoff's expression
 * written out; NULL when neither is set (the key never expires).  The rule
 * of an aggregated row ("a") was looked up once per key with the rows; a
 * stored row's is looked up through the rules' unique index.
 */
static char *
ttl_cutoff_of(const MergeParts *parts, const char *alias)
{
	const FanoutTtl *ttl = parts->ttl;
	const char *interval = ttl->interval ? quote_literal_cstr(ttl->interval) : "NULL";
	const char *rule;

	if (parts->rules == NULL)
		return psprintf("(SELECT trace_agg.ttl_cutoff(%s::pg_catalog.interval))", interval);
	rule = strcmp(alias, "a") == 0 ? psprintf("a.%s", parts->rule_column) :
		ttl_rule_lookup(parts->rules, alias, NIL);
	return ttl_cutoff_sql(psprintf("LEAST(%s::pg_catalog.interval, %s)", interval, rule));
}

/*
 * Condition that the row ALIAS has not expired: its TTL column is at or
 * after the cutoff of its key (a key without one is alive; a null TTL
 * column never is, with or without rules).
 */
static void
append_ttl_alive(StringInfo buf, const MergeParts *parts, const char *alias)
{
	appendStringInfo(buf, "%s.%s OPERATOR(pg_catalog.>=) ", alias, quote_identifier(parts->ttl->column));
	if (parts->rules)
		appendStringInfo(buf, "COALESCE(%s, '-infinity'::pg_catalog.timestamptz)",
						 ttl_cutoff_of(parts, alias));
	else
		appendStringInfoString(buf, ttl_cutoff_of(parts, alias));
}

/*
 * Condition that the row COLUMN_OF, of the key of row KEY_OF, has expired
 * (null, not true, when its key never expires).
 */
static void
append_ttl_expired(StringInfo buf, const MergeParts *parts, const char *column_of,
				   const char *key_of)
{
	appendStringInfo(buf, "%s.%s OPERATOR(pg_catalog.<) %s", column_of,
					 quote_identifier(parts->ttl->column), ttl_cutoff_of(parts, key_of));
}

/*
 * Leave out the rows of keys deleted by trace_agg.delete_keys() within the
 * tombstone window: a tombstone names a source and the leading values of
 * its views' keys (as text, in key order), so a row is dropped when any of
 * its key's prefixes is one.  Each prefix is an equality of its own, one
 * probe of the tombstones' primary key per row (or one hash of them per
 * batch): a single test of all prefixes (key IN (prefix, ...)) can only be
 * checked against every tombstone for every row, and a source with tens of
 * thousands of recent tombstones then took seconds per batch.  The row's
 * columns are qualified with the alias s, the name the caller gives the
 * rows, so that a key column named like a tombstone column still means the
 * row's.  Added only while the source has tombstones.
 */
static void
append_tombstone_filter(StringInfo buf, Query *query, List *dpcontext, Oid sourceid)
{
	StringInfoData prefix;
	ListCell   *lc;

	initStringInfo(&prefix);
	foreach(lc, fanout_key_clause(query))
	{
		SortGroupClause *sgc = lfirst_node(SortGroupClause, lc);
		TargetEntry *te = get_sortgroupclause_tle(sgc, query->targetList);

		appendStringInfo(&prefix, "%s(%s)::pg_catalog.text", prefix.len ? ", " : "",
						 deparse_expression((Node *) te->expr, dpcontext, true, false));
		appendStringInfo(buf, "%s NOT EXISTS (SELECT FROM trace_agg.tombstone AS z "
						 "WHERE z.source OPERATOR(pg_catalog.=) %u::pg_catalog.oid::pg_catalog.regclass "
						 "AND z.key OPERATOR(pg_catalog.=) ARRAY[%s] "
						 "AND z.deleted_at OPERATOR(pg_catalog.>) (SELECT pg_catalog.now() OPERATOR(pg_catalog.-) "
						 "pg_catalog.current_setting('trace_agg.tombstone_window')::pg_catalog.interval))",
						 foreach_current_index(lc) > 0 ? " AND" : "", sourceid, prefix.data);
	}
}

/*
 * The batch part of a replacing view: per key, the row of the greatest
 * version, the later arrival of equal ones (the position of a row in ROWS,
 * as any_last's order), after the view's WHERE and the tombstones.
 */
static void
build_replacing_parts(Query *query, const char *viewname, Relation target,
					  AttrNumber version, const char *rows,
					  List *dpcontext, Oid tombstones_of, MergeParts *parts)
{
	StringInfoData sql;
	char	   *order_by;
	char	   *keys = fanout_group_exprs(query, dpcontext);

	order_by = fanout_replacing_order(query, viewname, target, version, dpcontext,
									  &parts->replace_if);

	parts->outputs = psprintf("DISTINCT ON (%s) %s", keys, parts->outputs);
	initStringInfo(&sql);
	appendStringInfo(&sql, " FROM (SELECT *, pg_catalog.row_number() OVER () "
					 "AS trace_agg_input_order FROM %s) AS s", rows);
	if (query->jointree->quals)
		appendStringInfo(&sql, " WHERE %s",
						 deparse_expression(query->jointree->quals, dpcontext, false, false));
	if (OidIsValid(tombstones_of))
	{
		appendStringInfoString(&sql, query->jointree->quals ? " AND" : " WHERE");
		append_tombstone_filter(&sql, query, dpcontext, tombstones_of);
	}
	appendStringInfo(&sql, " ORDER BY %s, %s, s.trace_agg_input_order DESC", keys, order_by);
	parts->aggregate = sql.data;
}

/*
 * Checks a view's outputs against its target, for materialized and
 * derived views alike (KIND names which in messages).  Every grouping
 * expression must be an output, so that it is a key.  A view may write
 * only some of the target's columns (several views then share one target,
 * each writing its own), but never leave a NOT NULL column without a
 * default (PRODUCED: the columns it writes): its first insert would fail.
 */
void
fanout_check_outputs(Query *query, Relation target, Bitmapset *produced,
					 const char *kind, const char *viewname)
{
	ListCell   *lc;
	int			attno;

	foreach(lc, query->groupClause)
	{
		SortGroupClause *sgc = lfirst_node(SortGroupClause, lc);

		if (get_sortgroupclause_tle(sgc, query->targetList)->resjunk)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("GROUP BY expression of %s \"%s\" is not among its outputs", kind, viewname)));
	}
	for (attno = 1; attno <= RelationGetNumberOfAttributes(target); attno++)
	{
		Form_pg_attribute att = TupleDescAttr(RelationGetDescr(target), attno - 1);

		if (att->attisdropped || att->attgenerated || att->atthasdef ||
			!att->attnotnull || bms_is_member(attno, produced))
			continue;
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
				 errmsg("%s \"%s\" does not write column \"%s\" of target table \"%s\"",
						kind, viewname, NameStr(att->attname), RelationGetRelationName(target)),
				 errdetail("The column is NOT NULL and has no default."),
				 errhint("Produce the column in the query, give it a DEFAULT, or let it be null.")));
	}
}

/*
 * Check a view's query against its target and cut its merge statement into
 * parts.  Must run with search_path pinned to pg_catalog, so that deparsing
 * qualifies every other name.
 */
static void
build_merge_parts(Query *query, const char *viewname, Oid targetid, AttrNumber version,
				  const FanoutTtl *ttl, const char *rows, Oid tombstones_of,
				  MergeParts *parts)
{
	RangeTblEntry *rte = linitial_node(RangeTblEntry, query->rtable);
	Relation	target;
	List	   *dpcontext;
	StringInfoData cols,
				row_cols,
				select,
				keys,
				sets,
				aggregate;
	Bitmapset  *keycols = NULL;
	Bitmapset  *produced = NULL;
	bool		order_sensitive = false;
	bool		ttl_column_seen = false;
	ListCell   *lc;

	target = table_open(targetid, AccessShareLock);
	dpcontext = deparse_context_for("s", rte->relid);

	initStringInfo(&cols);
	initStringInfo(&row_cols);
	initStringInfo(&select);
	initStringInfo(&keys);
	initStringInfo(&sets);
	foreach(lc, query->targetList)
	{
		TargetEntry *te = lfirst_node(TargetEntry, lc);
		const char *col = quote_identifier(te->resname);
		AttrNumber	attnum = get_attnum(targetid, te->resname);

		if (attnum == InvalidAttrNumber)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("column \"%s\" of materialized view \"%s\" does not exist in target table \"%s\"",
							te->resname, viewname, RelationGetRelationName(target)),
					 errhint("Name every output of the query after a column of the target with AS.")));
		if (bms_is_member(attnum, produced))
			ereport(ERROR,
					(errcode(ERRCODE_DUPLICATE_COLUMN),
					 errmsg("materialized view \"%s\" writes column \"%s\" twice", viewname, te->resname)));
		produced = bms_add_member(produced, attnum);

		appendStringInfo(&cols, "%s%s", cols.len ? ", " : "", col);
		appendStringInfo(&row_cols, "%sa.%s", row_cols.len ? ", " : "", col);
		appendStringInfo(&select, "%s%s AS %s", select.len ? ", " : "",
						 deparse_expression((Node *) te->expr, dpcontext, false, false),
						 col);

		if (ttl && strcmp(te->resname, ttl->column) == 0)
			ttl_column_seen = true;

		if (te->ressortgroupref != 0)
		{
			if (!IsA(te->expr, Var))
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("grouping column \"%s\" of materialized view \"%s\" must be a plain column of the source",
								te->resname, viewname)));
			keycols = bms_add_member(keycols, attnum);
			appendStringInfo(&keys, "%s%s", keys.len ? ", " : "", col);
		}
		else if (version != 0)
			appendStringInfo(&sets, "%s%s = excluded.%s", sets.len ? ", " : "", col, col);
		else if (IsA(te->expr, Aggref))
		{
			const MergeRule *rule = lookup_merge_rule((Aggref *) te->expr, viewname, te->resname);
			char	   *stored = psprintf("t.%s", col);
			char	   *incoming = psprintf("excluded.%s", col);

			order_sensitive |= aggregate_is_order_sensitive(rule);
			appendStringInfo(&sets, "%s%s = ", sets.len ? ", " : "", col);
			appendStringInfo(&sets, rule->template, stored, incoming);
		}
		else
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("column \"%s\" of materialized view \"%s\" is neither a grouping column nor an aggregate",
							te->resname, viewname),
					 errhint("Wrap the expression in an aggregate such as trace_agg.any_last(...), or add it to GROUP BY.")));
	}

	fanout_check_outputs(query, target, produced, "materialized view", viewname);

	check_conflict_index(target, keycols, viewname);
	if (ttl && !ttl_column_seen)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
				 errmsg("materialized view \"%s\" does not write the TTL column \"%s\" of target table \"%s\"",
						viewname, ttl->column, RelationGetRelationName(target))));
	parts->rules = NULL;
	if (ttl && OidIsValid(ttl->per_key))
	{
		List	   *exprs = NIL;

		/* A key's rule must not change with what a merge changes in its row. */
		parts->rules = palloc(sizeof(TtlRules));
		ttl_resolve_rules(ttl->per_key, targetid, parts->rules);
		foreach(lc, parts->rules->match)
		{
			const char *col = lfirst(lc);
			char	   *expr = NULL;
			ListCell   *klc;

			foreach(klc, fanout_key_clause(query))
			{
				TargetEntry *te = get_sortgroupclause_tle(lfirst_node(SortGroupClause, klc),
														  query->targetList);

				/* Qualified: the rules table has a column of that name. */
				if (strcmp(quote_identifier(te->resname), col) == 0)
					expr = deparse_expression((Node *) te->expr, dpcontext, true, false);
			}
			if (expr == NULL)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
						 errmsg("materialized view \"%s\" does not group by column %s, which matches the per-key rules of the TTL of target table \"%s\"",
								viewname, col, RelationGetRelationName(target))));
			exprs = lappend(exprs, expr);
		}
		parts->rule = ttl_rule_lookup(parts->rules, NULL, exprs);
	}

	parts->target = fanout_qualified_name(targetid);
	parts->cols = cols.data;
	parts->row_cols = row_cols.data;
	parts->keys = keys.data;
	parts->sets = sets.data;
	parts->outputs = select.data;
	parts->replace_if = NULL;
	parts->ttl = ttl;
	if (version != 0)
	{
		build_replacing_parts(query, viewname, target, version, rows,
							  dpcontext, tombstones_of, parts);
		table_close(target, AccessShareLock);
		return;
	}

	/*
	 * The statement's rows are fed to the aggregates in insertion order, so
	 * that any_last and the argmax tie rule see what ClickHouse sees in a
	 * block: the sort below is on the keys and then the row's position, and
	 * a sort (unlike a plain GROUP BY) does not reorder equal keys at random.
	 */
	initStringInfo(&aggregate);
	appendStringInfoString(&aggregate, " FROM ");
	if (order_sensitive)
		appendStringInfo(&aggregate,
						 "(SELECT * FROM (SELECT *, pg_catalog.row_number() OVER () AS trace_agg_input_order "
						 "FROM %s) AS s", rows);
	else
		appendStringInfo(&aggregate, "%s AS s", rows);
	if (query->jointree->quals)
		appendStringInfo(&aggregate, " WHERE %s",
						 deparse_expression(query->jointree->quals, dpcontext, false, false));
	if (OidIsValid(tombstones_of))
	{
		appendStringInfoString(&aggregate, query->jointree->quals ? " AND" : " WHERE");
		append_tombstone_filter(&aggregate, query, dpcontext, tombstones_of);
	}

	/*
	 * The filters come before the sort: a join with the tombstones may
	 * return the rows in any order, and the sort by position restores it.
	 */
	if (order_sensitive)
		appendStringInfo(&aggregate, " ORDER BY %s, trace_agg_input_order) AS s",
						 fanout_group_exprs(query, dpcontext));
	appendStringInfo(&aggregate, " GROUP BY %s", fanout_group_exprs(query, dpcontext));
	parts->aggregate = aggregate.data;
	table_close(target, AccessShareLock);
}

/*
 * How an upsert learns whether its TTL's reference knows a key's start to
 * have expired: not at all (no reference), by looking the key up in the
 * reference table, or from the rows an earlier upsert of the same
 * statement merged into the reference and returned.
 */
typedef enum ReferenceCheck
{
	REFERENCE_NONE,
	REFERENCE_LOOKUP,
	REFERENCE_RETURNED
} ReferenceCheck;

/*
 * Append the upsert of the aggregated rows ROWS (a sub-select or the name
 * of a WITH query) into the target of PARTS.  With REFERENCE_RETURNED,
 * REFERENCE names the WITH query that returned every key merged into the
 * TTL's reference, with its TTL column as merged.  RETURNING, if not NULL,
 * is appended as the upsert's RETURNING list.
 */
static void
append_upsert(StringInfo sql, Query *query, const MergeParts *parts, const char *rows,
			  ReferenceCheck check, const char *reference, const char *returning)
{
	const FanoutTtl *ttl = parts->ttl;

	appendStringInfo(sql, "INSERT INTO %s AS t (%s) SELECT %s FROM %s AS a",
					 parts->target, parts->cols,
					 check == REFERENCE_RETURNED ? parts->row_cols : parts->cols, rows);
	if (check == REFERENCE_RETURNED)
	{
		appendStringInfo(sql, " JOIN %s AS r ON ", reference);
		fanout_append_key_match(sql, query, "r", "a");
	}
	if (ttl)
	{
		appendStringInfoString(sql, " WHERE ");
		append_ttl_alive(sql, parts, "a");

		/*
		 * A late event of a trace that began before the window must not
		 * create a partial row: decide on the start the reference table
		 * knows, merged with this batch, under the key's own cutoff.
		 */
		if (check == REFERENCE_RETURNED)
		{
			appendStringInfoString(sql, " AND (");
			append_ttl_expired(sql, parts, "r", "a");
			appendStringInfoString(sql, ") IS NOT TRUE");
		}
		else if (check == REFERENCE_LOOKUP)
		{
			char	   *ref = fanout_qualified_name(ttl->reference);

			appendStringInfo(sql, " AND NOT EXISTS (SELECT FROM %s AS r WHERE ", ref);
			fanout_append_key_match(sql, query, "r", "a");
			appendStringInfoString(sql, " AND ");
			append_ttl_expired(sql, parts, "r", "a");
			appendStringInfoChar(sql, ')');
		}
	}

	appendStringInfo(sql, " ORDER BY %s ON CONFLICT (%s) ", parts->keys, parts->keys);
	if (parts->sets[0] == '\0')
		appendStringInfoString(sql, "DO NOTHING");
	else
	{
		appendStringInfo(sql, "DO UPDATE SET %s", parts->sets);
		if (parts->replace_if)
			appendStringInfo(sql, " WHERE %s", parts->replace_if);
		else if (ttl)
		{
			appendStringInfoString(sql, " WHERE ");
			append_ttl_alive(sql, parts, "t");
		}
	}
	if (returning)
		appendStringInfo(sql, " RETURNING %s", returning);
}

/*
 * Build the statement of a run of views of one source that share their
 * query and their owner (fanout_catalog.c decides which; a run is often a
 * single view): it aggregates the rows of ROWS (the transition table, or
 * the source itself for a backfill) once, leaving out deleted keys when
 * TOMBSTONES says the source has some, and upserts the result into every
 * target, each from a WITH query.  This saves running the query again per target, which for the
 * traces setup means compressing every payload three times.
 *
 * The statement does what running the views' merge statements one after
 * the other does.  Its parts see the targets as they were before it, which
 * matters only to the TTL check of a view whose reference is the target of
 * an earlier view of the run (a view without a TTL of its own, or the run
 * would have ended).  When that view has something to update, its upsert
 * returns every key it was given with the TTL column as merged, and the
 * check reads them instead of looking each key up.  When it has nothing
 * to update (DO NOTHING), looking up the stored row is exact: a key stored
 * keeps its value, and a new one comes from this batch, which the check
 * has already found alive.
 *
 * The main query counts the first view's merged keys, so that its upsert
 * runs first; the executor then runs the WITH queries not yet run, last to
 * first.  Every session runs the upserts in the same order.  Must run with
 * search_path pinned to pg_catalog.
 */
char *
fanout_build_run_sql(const FanoutView *views, int nviews, const char *rows,
					 bool tombstones)
{
	MergeParts *parts = palloc(sizeof(MergeParts) * nviews);
	Query	  **queries = palloc(sizeof(Query *) * nviews);
	int		   *asks = palloc(sizeof(int) * nviews);
	StringInfoData *returning = palloc(sizeof(StringInfoData) * nviews);
	List	  **returned = palloc0(sizeof(List *) * nviews);	/* TTL columns in it */
	StringInfoData sql;
	int			i;
	int			j;

	for (i = 0; i < nviews; i++)
	{
		Oid			sourceid;

		queries[i] = fanout_analyze(views[i].query, views[i].name, &sourceid, views[i].version != 0);
		if (sourceid != views[i].sourceid)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
					 errmsg("materialized view \"%s\" no longer reads table \"%s\"",
							views[i].name, get_rel_name(views[i].sourceid)),
					 errdetail("Its query now reads \"%s\".", get_rel_name(sourceid)),
					 errhint("Drop the view and create it again.")));
		if (views[i].version != 0)
			fanout_set_replacing_key(queries[i], views[i].targetid, views[i].name);
		build_merge_parts(queries[i], views[i].name, views[i].targetid, views[i].version,
						  views[i].ttl, rows, tombstones ? views[i].sourceid : InvalidOid,
						  &parts[i]);
		initStringInfo(&returning[i]);
		appendStringInfoString(&returning[i], parts[i].keys);
	}

	/* Which earlier view of the run, if any, each TTL view's reference is. */
	for (i = 0; i < nviews; i++)
	{
		asks[i] = -1;
		for (j = 0; views[i].ttl && j < i; j++)
			if (views[j].targetid == views[i].ttl->reference)
				asks[i] = j;
		if (asks[i] >= 0 && parts[asks[i]].sets[0] != '\0' &&
			!list_member(returned[asks[i]], makeString(pstrdup(views[i].ttl->column))))
		{
			returned[asks[i]] = lappend(returned[asks[i]], makeString(pstrdup(views[i].ttl->column)));
			appendStringInfo(&returning[asks[i]], ", t.%s", quote_identifier(views[i].ttl->column));
		}
	}

	/*
	 * The aggregated rows carry the rule of their key for each rules table
	 * of the run's TTLs, looked up once per key and statement rather than
	 * once per key and check.
	 */
	initStringInfo(&sql);
	appendStringInfo(&sql, "WITH trace_agg_merged AS MATERIALIZED (SELECT %s", parts[0].outputs);
	for (i = 0; i < nviews; i++)
	{
		if (parts[i].rules == NULL)
			continue;
		for (j = 0; j < i; j++)
			if (parts[j].rules && parts[j].rules->relid == parts[i].rules->relid)
				break;
		if (j < i)
			parts[i].rule_column = parts[j].rule_column;
		else
		{
			parts[i].rule_column = psprintf("trace_agg_rule_%d", i);
			appendStringInfo(&sql, ", %s AS %s", parts[i].rule, parts[i].rule_column);
		}
	}
	appendStringInfo(&sql, "%s)", parts[0].aggregate);
	for (i = 0; i < nviews; i++)
	{
		ReferenceCheck check = REFERENCE_NONE;
		char	   *reference = NULL;

		if (views[i].ttl && OidIsValid(views[i].ttl->reference))
			check = REFERENCE_LOOKUP;
		if (asks[i] >= 0 && parts[asks[i]].sets[0] != '\0')
		{
			check = REFERENCE_RETURNED;
			reference = psprintf("trace_agg_merge_%d", asks[i]);
		}
		appendStringInfo(&sql, ", trace_agg_merge_%d AS (", i);
		append_upsert(&sql, queries[i], &parts[i], "trace_agg_merged", check, reference,
					  returning[i].data);
		appendStringInfoChar(&sql, ')');
	}
	appendStringInfoString(&sql, " SELECT pg_catalog.count(*) FROM trace_agg_merge_0");
	return sql.data;
}

/* The key expressions of the view, deparsed, comma-separated. */
char *
fanout_group_exprs(Query *query, List *dpcontext)
{
	StringInfoData buf;
	ListCell   *lc;

	initStringInfo(&buf);
	foreach(lc, fanout_key_clause(query))
	{
		SortGroupClause *sgc = lfirst_node(SortGroupClause, lc);
		TargetEntry *te = get_sortgroupclause_tle(sgc, query->targetList);

		appendStringInfo(&buf, "%s%s", buf.len ? ", " : "",
						 deparse_expression((Node *) te->expr, dpcontext, false, false));
	}
	return buf.data;
}

/*
 * The clause naming a view's key outputs, in key order: GROUP BY of an
 * aggregating view, DISTINCT ON of a replacing one (fanout_set_replacing_key).
 */
List *
fanout_key_clause(Query *query)
{
	return query->groupClause != NIL ? query->groupClause : query->distinctClause;
}

/* "l.k1 = r.k1 AND ..." over the view's key columns, by output name. */
void
fanout_append_key_match(StringInfo buf, Query *query, const char *left, const char *right)
{
	ListCell   *lc;
	bool		first = true;

	foreach(lc, fanout_key_clause(query))
	{
		SortGroupClause *sgc = lfirst_node(SortGroupClause, lc);
		TargetEntry *te = get_sortgroupclause_tle(sgc, query->targetList);
		const char *col = quote_identifier(te->resname);

		appendStringInfo(buf, "%s%s.%s OPERATOR(pg_catalog.=) %s.%s",
						 first ? "" : " AND ", left, col, right, col);
		first = false;
	}
}

/* Parse, analyze and check a view's query; returns it with the source. */
Query *
fanout_analyze(const char *query_text, const char *viewname, Oid *sourceid, bool replacing)
{
	Query	   *query = analyze_view_query(query_text, viewname, replacing);
	RangeTblEntry *rte = linitial_node(RangeTblEntry, query->rtable);

	if (rte->relkind != RELKIND_RELATION && rte->relkind != RELKIND_PARTITIONED_TABLE)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("source \"%s\" of materialized view \"%s\" is not a table",
						get_rel_name(rte->relid), viewname)));
	*sourceid = rte->relid;
	return query;
}

/*
 * A relation's name, qualified, for a statement built now.  A relation
 * that no longer exists (dropped since its OID was read) is an error, never
 * a null name.
 */
char *
fanout_qualified_name(Oid relid)
{
	char	   *name = get_rel_name(relid);
	char	   *schema = name ? get_namespace_name(get_rel_namespace(relid)) : NULL;

	if (name == NULL || schema == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u of a materialized view does not exist", relid),
				 errdetail("It was dropped while the view's statement was being built.")));
	return quote_qualified_identifier(schema, name);
}
