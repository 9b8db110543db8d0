/*
 * fanout_replacing.c
 *		Replacing views: materialized views that keep the latest row per key.
 *
 * Replacing views.  A view created with a version column keeps, per primary
 * key of its target, the whole row of the greatest version, as ClickHouse's
 * ReplacingMergeTree(version) does, in plain columns.  Of a batch it keeps
 * per key the row of the greatest version, the later arrival of equal
 * versions; the upsert then replaces every column the view writes when the
 * stored version is at most the new one, so that of equal versions the
 * later batch wins too.  A NULL version is less than every other, and of
 * NULL versions the later arrival wins: the whole order is that of ORDER BY
 * version DESC NULLS LAST, arrival DESC.
 *
 * This file finds such a view's key and version; fanout_build.c writes
 * its statement with the other views'.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "catalog/pg_am.h"
#include "catalog/pg_index.h"
#include "catalog/pg_operator.h"
#include "commands/defrem.h"
#include "nodes/nodeFuncs.h"
#include "parser/parse_clause.h"
#include "parser/parse_oper.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/ruleutils.h"
#include "utils/syscache.h"

#include "fanout.h"

/*
 * A replacing view (one with a version column) keeps, per key of its
 * target, the whole latest row its query selects: a plain SELECT of the
 * source, nothing to aggregate and nothing to merge but the row itself.
 */
void
fanout_refuse_replacing_features(Query *query, const char *viewname)
{
	const char *what = NULL;

	if (query->groupClause != NIL)
		what = "GROUP BY";
	else if (query->hasAggs)
		what = "an aggregate";
	if (what)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("query of materialized view \"%s\" uses %s", viewname, what),
				 errdetail("A materialized view with a version column keeps the latest row per key of its target: its query selects the source's rows, without aggregates or GROUP BY."),
				 errhint("Drop the version argument to aggregate instead.")));
}

/*
 * Make the target's primary key the key of replacing view QUERY: the
 * outputs writing its columns, in its order, become the query's DISTINCT
 * ON clause (which is what the view keeps of a batch), where the code
 * shared with aggregating views finds a key (fanout_key_clause).  A key
 * output must be a plain column of the source, as a grouping column must:
 * deletions match tombstones against the source's key columns.
 */
void
fanout_set_replacing_key(Query *query, Oid targetid, const char *viewname)
{
	Relation	target = table_open(targetid, AccessShareLock);
	List	   *indexes = RelationGetIndexList(target);
	int2vector *pkey = NULL;
	int			nkeys = 0;
	ListCell   *lc;
	int			i;

	foreach(lc, indexes)
	{
		HeapTuple	tuple = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(lfirst_oid(lc)));
		Form_pg_index index;

		if (!HeapTupleIsValid(tuple))
			elog(ERROR, "cache lookup failed for index %u", lfirst_oid(lc));
		index = (Form_pg_index) GETSTRUCT(tuple);
		if (index->indisprimary && index->indimmediate)
		{
			nkeys = index->indnkeyatts;
			pkey = buildint2vector(index->indkey.values, nkeys);
		}
		ReleaseSysCache(tuple);
	}
	if (pkey == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
				 errmsg("target table \"%s\" of materialized view \"%s\" has no primary key",
						RelationGetRelationName(target), viewname),
				 errdetail("A materialized view with a version column keeps one row per primary key of its target."),
				 errhint("Add a primary key to the target (not deferrable).")));

	query->distinctClause = NIL;
	for (i = 0; i < nkeys; i++)
	{
		char	   *column = get_attname(targetid, pkey->values[i], false);
		TargetEntry *te = NULL;
		SortGroupClause *sgc;

		foreach(lc, query->targetList)
		{
			TargetEntry *candidate = lfirst_node(TargetEntry, lc);

			if (!candidate->resjunk && strcmp(candidate->resname, column) == 0)
				te = candidate;
		}
		if (te == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
					 errmsg("materialized view \"%s\" does not write column \"%s\" of the primary key of target table \"%s\"",
							viewname, column, RelationGetRelationName(target)),
					 errhint("Select every primary key column of the target from the source.")));
		if (!IsA(te->expr, Var))
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("key column \"%s\" of materialized view \"%s\" must be a plain column of the source",
							te->resname, viewname)));
		sgc = makeNode(SortGroupClause);
		get_sort_group_operators(exprType((Node *) te->expr), false, true, false,
								 &sgc->sortop, &sgc->eqop, NULL, &sgc->hashable);
		sgc->tleSortGroupRef = assignSortGroupRef(te, query->targetList);
		query->distinctClause = lappend(query->distinctClause, sgc);
	}
	table_close(target, AccessShareLock);
}

/*
 * The version parts of replacing view QUERY writing TARGET: in REPLACE_IF
 * when a new row replaces the stored one, and as the result the batch's
 * order of versions, greatest first.  The version is compared by its type's default btree ordering
 * (collatable types bytewise, as everything in trace_agg), in the batch
 * and against the stored row alike, so the output must have the target
 * column's very type.
 */
char *
fanout_replacing_order(Query *query, const char *viewname, Relation target,
					   AttrNumber version, List *dpcontext, char **replace_if)
{
	TargetEntry *te = NULL;
	Form_pg_attribute att;
	Oid			opclass;
	Oid			leop;
	HeapTuple	tuple;
	Form_pg_operator op;
	char	   *opname;
	const char *collate;
	const char *col;
	ListCell   *lc;

	foreach(lc, query->targetList)
	{
		TargetEntry *candidate = lfirst_node(TargetEntry, lc);

		if (!candidate->resjunk && candidate->resno == version)
			te = candidate;
	}
	if (te == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
				 errmsg("materialized view \"%s\" no longer writes its version column", viewname),
				 errhint("Drop the view and create it again.")));
	if (te->ressortgroupref != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
				 errmsg("version column \"%s\" of materialized view \"%s\" is part of the primary key of target table \"%s\"",
						te->resname, viewname, RelationGetRelationName(target)),
				 errdetail("Each version of a key would be a row of its own.")));
	att = TupleDescAttr(RelationGetDescr(target),
						get_attnum(RelationGetRelid(target), te->resname) - 1);
	if (exprType((Node *) te->expr) != att->atttypid)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("version column \"%s\" of materialized view \"%s\" is of type %s but the query gives %s",
						te->resname, viewname, format_type_be(att->atttypid),
						format_type_be(exprType((Node *) te->expr))),
				 errdetail("Versions are compared in the batch and against the stored row by one ordering."),
				 errhint("Cast the version to %s in the query.", format_type_be(att->atttypid))));
	opclass = GetDefaultOpClass(att->atttypid, BTREE_AM_OID);
	leop = OidIsValid(opclass) ?
		get_opfamily_member(get_opclass_family(opclass), get_opclass_input_type(opclass),
							get_opclass_input_type(opclass), BTLessEqualStrategyNumber) :
		InvalidOid;
	if (!OidIsValid(leop))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FUNCTION),
				 errmsg("version column \"%s\" of materialized view \"%s\" is of type %s, which has no default ordering",
						te->resname, viewname, format_type_be(att->atttypid)),
				 errhint("Use a version of a type with a default btree operator class, such as a timestamp or an integer.")));

	tuple = SearchSysCache1(OPEROID, ObjectIdGetDatum(leop));
	if (!HeapTupleIsValid(tuple))
		elog(ERROR, "cache lookup failed for operator %u", leop);
	op = (Form_pg_operator) GETSTRUCT(tuple);
	opname = psprintf("%s.%s", quote_identifier(get_namespace_name(op->oprnamespace)),
					  NameStr(op->oprname));
	ReleaseSysCache(tuple);

	collate = type_is_collatable(att->atttypid) ? " COLLATE pg_catalog.\"C\"" : "";
	col = quote_identifier(te->resname);
	*replace_if = psprintf("t.%s IS NULL OR t.%s%s OPERATOR(%s) excluded.%s%s",
						   col, col, collate, opname, col, collate);
	return psprintf("(%s)%s DESC NULLS LAST",
					deparse_expression((Node *) te->expr, dpcontext, false, false), collate);
}
