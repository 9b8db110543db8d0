/*
 * null_am.h
 *		The trace_agg_null table access method: setting up its settings.
 */
#ifndef NULL_AM_H
#define NULL_AM_H

/* defines trace_agg.allow_discard; called from _PG_init */
extern void null_am_define_settings(void);

#endif							/* NULL_AM_H */
