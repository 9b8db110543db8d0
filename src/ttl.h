/*
 * ttl.h
 *		Retention (TTL) of target tables: declarations shared by the TTL
 *		catalog functions, the purge and the background worker.
 */
#ifndef TRACE_AGG_TTL_H
#define TRACE_AGG_TTL_H

/* ttl_catalog.c */

/* ttl_purge.c */
extern bool ttl_lock_target(Oid targetid, bool nowait, Oid *owner);
extern int64 ttl_purge_batch(Oid targetid, Oid owner, int batch_size);
extern int64 ttl_purge_insert_tokens(void);

/* ttl_worker.c */
extern void ttl_worker_request_start(void);

#endif							/* TRACE_AGG_TTL_H */
