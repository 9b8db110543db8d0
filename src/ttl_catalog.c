/*
 * ttl_catalog.c
 *		Setting and removing the TTL of a target table.
 *
 * A TTL row (trace_agg.ttl) decides which rows the purge deletes, as the
 * target's owner, and which table every merge into the target reads for
 * the ghost-row check.  So no role writes that catalog directly: set_ttl()
 * and remove_ttl() check what the caller may do and then write as the
 * catalog's owner.  Setting a TTL needs ownership of the target and SELECT
 * on the reference and on the per-key rules; every table a row names is
 * locked, checked and stored by OID, so a row never names a relation that
 * is not there.
 *
 * Per-key rules (a project's retention) are a user's table read when the
 * statements run, never copied: changing a rule takes effect at the next
 * insert and purge.  Which of its columns match a key and which holds the
 * interval is decided from its definition whenever a statement is built
 * (ttl_resolve_rules), so renaming the table or its interval column keeps
 * it working, and a change that breaks it is an error naming it.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_class.h"
#include "catalog/pg_index.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "fanout.h"
#include "trace_agg.h"
#include "ttl.h"

/* A table as Postgres prints a regclass (qualified unless on the path). */
static char *
table_text(Oid relid)
{
	return DatumGetCString(DirectFunctionCall1(regclassout, ObjectIdGetDatum(relid)));
}

/*
 * Lock a table a TTL names against being dropped until the transaction
 * ends, and check that it is a table; returns its owner.
 */
static Oid
lock_ttl_table(Oid relid, const char *role)
{
	HeapTuple	tuple;
	Form_pg_class form;
	Oid			owner;

	LockRelationOid(relid, AccessShareLock);
	tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	if (!HeapTupleIsValid(tuple))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("%s table with OID %u does not exist", role, relid)));
	form = (Form_pg_class) GETSTRUCT(tuple);
	if (form->relkind != RELKIND_RELATION && form->relkind != RELKIND_PARTITIONED_TABLE)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not a table", NameStr(form->relname)),
				 errdetail("The %s of a TTL must be a table.", role)));
	/* The worker cannot read another session's temporary table, and its end drops it unseen. */
	if (form->relpersistence == RELPERSISTENCE_TEMP)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is a temporary table", NameStr(form->relname)),
				 errdetail("The %s of a TTL must be a permanent or unlogged table.", role)));
	owner = form->relowner;
	ReleaseSysCache(tuple);
	return owner;
}

/* The caller must have the rights of the target's owner. */
static void
check_target_owner(Oid targetid, const char *action)
{
	Oid			owner = lock_ttl_table(targetid, "target");

	if (!has_privs_of_role(GetUserId(), owner))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("must be owner of table %s to %s its TTL", table_text(targetid), action)));
}

static void
check_ttl_column(Oid relid, const char *column, bool reference)
{
	AttrNumber	attnum = get_attnum(relid, column);
	Oid			type;

	if (attnum <= 0)
	{
		if (reference)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("reference table %s of the TTL has no column \"%s\"", table_text(relid), column)));
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" of table %s does not exist", column, table_text(relid))));
	}
	type = get_atttype(relid, attnum);
	if (type != TIMESTAMPTZOID)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("TTL column \"%s\" of table %s is of type %s, not timestamptz",
						column, table_text(relid), format_type_be(type))));
}

/*
 * The key columns of a relation's primary key (with PRIMARY), or of one of
 * its unique indexes on plain columns that all lie in COLUMNS (without):
 * the first found, as a set of attribute numbers; NULL if none.
 */
static Bitmapset *
unique_columns(Relation rel, bool primary, Bitmapset *columns)
{
	List	   *indexes = RelationGetIndexList(rel);
	ListCell   *lc;

	foreach(lc, indexes)
	{
		HeapTuple	tuple = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(lfirst_oid(lc)));
		Form_pg_index index;
		Bitmapset  *found = NULL;
		bool		fits;
		int			i;

		if (!HeapTupleIsValid(tuple))
			continue;
		index = (Form_pg_index) GETSTRUCT(tuple);
		fits = index->indisunique && index->indisvalid &&
			(primary ? index->indisprimary :
			 heap_attisnull(tuple, Anum_pg_index_indpred, NULL) &&
			 heap_attisnull(tuple, Anum_pg_index_indexprs, NULL));
		for (i = 0; fits && i < index->indnkeyatts; i++)
		{
			AttrNumber	attnum = index->indkey.values[i];

			fits = attnum > 0 && (primary || bms_is_member(attnum, columns));
			found = bms_add_member(found, attnum);
		}
		ReleaseSysCache(tuple);
		if (fits)
			return found;
	}
	return NULL;
}

/*
 * Check a table of per-key rules against a TTL's target and say how to read
 * it: its columns named like columns of the target's primary key (of the
 * same type) match a row's key, a unique index on some of them gives a key
 * at most one rule, and its one other interval column is the rule.  It must
 * be a plain table without row-level security: its policies would be code
 * of its owner's choosing, run by whoever reads the rules (the target's
 * owner when purging), and would hide rules from some readers.  Locks the
 * table until the transaction ends.
 */
void
ttl_resolve_rules(Oid rulesid, Oid targetid, TtlRules *rules)
{
	Relation	target;
	Relation	rel;
	TupleDesc	desc;
	Bitmapset  *pkey;
	Bitmapset  *matched = NULL;
	const char *interval_column = NULL;
	int			i;

	(void) lock_ttl_table(rulesid, "per-key rules");
	rules->relid = rulesid;
	rules->name = table_text(rulesid);
	rules->qualified = quote_qualified_identifier(get_namespace_name(get_rel_namespace(rulesid)),
												  get_rel_name(rulesid));
	rules->match = NIL;
	target = table_open(targetid, AccessShareLock);
	rel = table_open(rulesid, AccessShareLock);
	if (rel->rd_rel->relrowsecurity)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("table %s of per-key rules has row-level security enabled", rules->name),
				 errdetail("Its policies would run as whoever reads the rules, the owner of table %s among them, and decide which rules they see.",
						   table_text(targetid))));
	pkey = unique_columns(target, true, NULL);
	if (pkey == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
				 errmsg("table %s has no primary key to match per-key rules with", table_text(targetid))));

	desc = RelationGetDescr(rel);
	for (i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		AttrNumber	target_attnum;

		if (att->attisdropped)
			continue;
		target_attnum = get_attnum(targetid, NameStr(att->attname));
		if (bms_is_member(target_attnum, pkey))
		{
			Oid			target_type = get_atttype(targetid, target_attnum);

			if (att->atttypid != target_type)
				ereport(ERROR,
						(errcode(ERRCODE_DATATYPE_MISMATCH),
						 errmsg("column \"%s\" of table %s of per-key rules is of type %s, not %s as in table %s",
								NameStr(att->attname), rules->name, format_type_be(att->atttypid),
								format_type_be(target_type), table_text(targetid))));
			matched = bms_add_member(matched, att->attnum);
			rules->match = lappend(rules->match, pstrdup(quote_identifier(NameStr(att->attname))));
		}
		else if (att->atttypid == INTERVALOID)
		{
			if (interval_column)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
						 errmsg("table %s of per-key rules has more than one interval column: \"%s\" and \"%s\"",
								rules->name, interval_column, NameStr(att->attname)),
						 errdetail("A rule is the one interval column that does not match a key column of table %s.",
								   table_text(targetid))));
			interval_column = pstrdup(NameStr(att->attname));
		}
	}
	if (rules->match == NIL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
				 errmsg("table %s of per-key rules has no column named like a primary key column of table %s",
						rules->name, table_text(targetid)),
				 errdetail("A rule applies to the rows whose key columns equal the rule's columns of the same names.")));
	if (interval_column == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
				 errmsg("table %s of per-key rules has no interval column", rules->name),
				 errdetail("A rule is the one interval column that does not match a key column of table %s.",
						   table_text(targetid))));
	if (unique_columns(rel, false, matched) == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
				 errmsg("table %s of per-key rules has no unique index on its key columns", rules->name),
				 errhint("Add a primary key or a unique index on the columns it shares with the key of table %s, so that a key has at most one rule.",
						 table_text(targetid))));
	rules->interval_column = quote_identifier(interval_column);
	table_close(rel, NoLock);
	table_close(target, NoLock);
}

/*
 * The rule of a key as a scalar sub-select: the interval of the rules
 * table's row for the key, or NULL without one (a unique index makes it one
 * row at most).  The key is the row ALIAS's columns named like the matched
 * ones, or with EXPRS, those expressions, in the order of rules->match.
 */
char *
ttl_rule_lookup(const TtlRules *rules, const char *alias, List *exprs)
{
	StringInfoData buf;
	ListCell   *lc;

	initStringInfo(&buf);
	appendStringInfo(&buf, "(SELECT x.%s FROM %s AS x WHERE ", rules->interval_column,
					 rules->qualified);
	foreach(lc, rules->match)
	{
		const char *col = lfirst(lc);
		int			i = foreach_current_index(lc);

		appendStringInfo(&buf, "%sx.%s OPERATOR(pg_catalog.=) ", i ? " AND " : "", col);
		if (exprs)
			appendStringInfoString(&buf, (char *) list_nth(exprs, i));
		else
			appendStringInfo(&buf, "%s.%s", alias, col);
	}
	appendStringInfoChar(&buf, ')');
	return buf.data;
}

/*
 * trace_agg.ttl_cutoff(INTERVAL_SQL) written out, for statements that need
 * a cutoff per key: the function, whose search_path is pinned, is never
 * inlined, and a call costs about 1.5 us against 0.1 us for the
 * expression.  The same definition as sql/ext/650_ttl.sql's, which
 * sql/ttl_per_key.sql holds it to at the boundaries.
 */
char *
ttl_cutoff_sql(const char *interval_sql)
{
	return psprintf("pg_catalog.timezone('UTC', pg_catalog.date_trunc('day', "
					"pg_catalog.timezone('UTC', pg_catalog.now()) OPERATOR(pg_catalog.-) %s) "
					"OPERATOR(pg_catalog.+) '1 day'::pg_catalog.interval)", interval_sql);
}

/* Regenerate the merge statements of the target's views for its new TTL. */
static void
rebuild_views(Oid targetid)
{
	Oid			argtypes[1] = {OIDOID};
	Datum		args[1] = {ObjectIdGetDatum(targetid)};

	trace_agg_catalog_execute("SELECT trace_agg.rebuild_materialized_views($1::pg_catalog.regclass)",
						1, argtypes, args, NULL, false);
}

/*
 * ROLE must be able to read the per-key rules: the merges into the target
 * read them as the setter's views do, the purge as the target's owner.
 */
static void
check_rules_select(Oid relid, Oid role)
{
	if (pg_class_aclcheck(relid, role, ACL_SELECT) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for table %s", table_text(relid)),
				 role == GetUserId() ?
				 errdetail("The per-key rules of a TTL are read by the merges into the target and by its purge: setting them needs SELECT on them.") :
				 errdetail("The per-key rules of a TTL are read by the purge of the target as its owner, role \"%s\", who needs SELECT on them.",
						   GetUserNameFromId(role, false))));
}

/*
 * set_ttl(target, ttl_column, ttl, reference, per_key).  The 0.1 script
 * declares it without per_key, and calls with four arguments read it as
 * null.
 */
PG_FUNCTION_INFO_V1(trace_agg_set_ttl);
Datum
trace_agg_set_ttl(PG_FUNCTION_ARGS)
{
	Oid			targetid;
	char	   *column;
	Interval   *ttl = NULL;
	Interval   *zero = palloc0(sizeof(Interval));
	Oid			referenceid = PG_ARGISNULL(3) ? InvalidOid : PG_GETARG_OID(3);
	Oid			rulesid = PG_NARGS() < 5 || PG_ARGISNULL(4) ? InvalidOid : PG_GETARG_OID(4);
	Oid			argtypes[5] = {REGCLASSOID, NAMEOID, INTERVALOID, REGCLASSOID, REGCLASSOID};
	Datum		args[5];
	char		nulls[5] = {' ', ' ', ' ', ' ', ' '};

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || (PG_ARGISNULL(2) && !OidIsValid(rulesid)))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("target, TTL column and TTL must not be null"),
				 errhint("The TTL may be null with per-key rules: keys without a rule are then kept.")));
	targetid = PG_GETARG_OID(0);
	column = NameStr(*PG_GETARG_NAME(1));
	if (!PG_ARGISNULL(2))
		ttl = PG_GETARG_INTERVAL_P(2);

	check_target_owner(targetid, "set");
	check_ttl_column(targetid, column, false);
	if (ttl && DatumGetBool(DirectFunctionCall2(interval_le, IntervalPGetDatum(ttl), IntervalPGetDatum(zero))))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("TTL of table %s must be a positive interval, not %s", table_text(targetid),
						DatumGetCString(DirectFunctionCall1(interval_out, IntervalPGetDatum(ttl))))));
	if (OidIsValid(referenceid))
	{
		(void) lock_ttl_table(referenceid, "reference");
		check_ttl_column(referenceid, column, true);
		/* Every merge into the target reads it: the setter must be able to. */
		if (pg_class_aclcheck(referenceid, GetUserId(), ACL_SELECT) != ACLCHECK_OK)
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("permission denied for table %s", table_text(referenceid)),
					 errdetail("The reference of a TTL is read by every merge into the target: setting it needs SELECT on it.")));
	}
	if (OidIsValid(rulesid))
	{
		TtlRules	rules;

		ttl_resolve_rules(rulesid, targetid, &rules);
		/* The merges read it, and so does the purge, as the target's owner. */
		check_rules_select(rulesid, GetUserId());
		check_rules_select(rulesid, fanout_relation_owner(targetid));
	}

	args[0] = ObjectIdGetDatum(targetid);
	args[1] = PG_GETARG_DATUM(1);
	args[2] = ttl ? IntervalPGetDatum(ttl) : (Datum) 0;
	args[3] = ObjectIdGetDatum(referenceid);
	args[4] = ObjectIdGetDatum(rulesid);
	if (ttl == NULL)
		nulls[2] = 'n';
	if (!OidIsValid(referenceid))
		nulls[3] = 'n';
	if (!OidIsValid(rulesid))
		nulls[4] = 'n';
	SPI_connect();

	/*
	 * A derived view in delta mode adds changes to its target's rows: a row
	 * the purge deleted would leave its next change nothing to apply to.
	 */
	trace_agg_catalog_execute("SELECT view::pg_catalog.text FROM trace_agg.derived_view "
							  "WHERE target OPERATOR(pg_catalog.=) $1 AND mode OPERATOR(pg_catalog.=) 'delta'",
							  1, argtypes, args, NULL, true);
	if (SPI_processed > 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot set a TTL on table %s, the target of derived view %s in delta mode",
						table_text(targetid), SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1)),
				 errdetail("The view adds each statement's changes to the target's rows: a row the purge deleted would leave the next change nothing to apply to."),
				 errhint("Create the view with mode => 'recompute', which recomputes keys from the source.")));
	trace_agg_catalog_execute("INSERT INTO trace_agg.ttl AS t (target, ttl_column, ttl, reference, per_key) "
						"VALUES ($1, $2, $3, $4, $5) ON CONFLICT (target) DO UPDATE "
						"SET ttl_column = excluded.ttl_column, ttl = excluded.ttl, reference = excluded.reference, "
						"per_key = excluded.per_key",
						5, argtypes, args, nulls, false);
	rebuild_views(targetid);
	SPI_finish();
	ttl_worker_request_start();
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(trace_agg_remove_ttl);
Datum
trace_agg_remove_ttl(PG_FUNCTION_ARGS)
{
	Oid			targetid = PG_GETARG_OID(0);
	Oid			argtypes[1] = {REGCLASSOID};
	Datum		args[1] = {ObjectIdGetDatum(targetid)};

	check_target_owner(targetid, "remove");
	SPI_connect();
	trace_agg_catalog_execute("DELETE FROM trace_agg.ttl WHERE target OPERATOR(pg_catalog.=) $1",
						1, argtypes, args, NULL, false);
	rebuild_views(targetid);
	SPI_finish();
	PG_RETURN_VOID();
}
