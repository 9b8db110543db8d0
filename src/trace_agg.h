/*
 * trace_agg.h
 *		Declarations shared between the files of the trace_agg library.
 */
#ifndef TRACE_AGG_H
#define TRACE_AGG_H

/* settings, defined in trace_agg.c */
extern int	trace_agg_zstd_level;

#endif							/* TRACE_AGG_H */
