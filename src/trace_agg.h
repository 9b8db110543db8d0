/*
 * trace_agg.h
 *		Declarations shared between the files of the trace_agg library.
 */
#ifndef TRACE_AGG_H
#define TRACE_AGG_H

/* settings, defined in trace_agg.c */
extern int	trace_agg_zstd_level;

/* fanout_catalog.c */
extern int	trace_agg_catalog_execute(const char *sql, int nargs, Oid *argtypes, Datum *args,
									  const char *nulls, bool read_only);
extern void trace_agg_lock_view_creation(void);

#endif							/* TRACE_AGG_H */
