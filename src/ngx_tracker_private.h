
/*
 * ngx_tracker: the private tracker's rules, for callers outside the HTTP
 * module (the UDP tracker in the stream module): no HTTP types here.
 *
 * The HTTP module owns the cache zone and the per-worker PostgreSQL pool
 * (both in its main configuration); the stream module runs in the same
 * worker processes, so it reaches both through the cycle.
 */

#ifndef _NGX_TRACKER_PRIVATE_H_INCLUDED_
#define _NGX_TRACKER_PRIVATE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_tracker_args.h"
#include "ngx_tracker_cache.h"


/* what is known of a passkey or an info hash */
#define NGX_TRACKER_PRIVATE_UNKNOWN  0      /* not cached */
#define NGX_TRACKER_PRIVATE_FOUND    1
#define NGX_TRACKER_PRIVATE_MISSING  2      /* a negative entry */


/* rc: NGX_OK when the answer is in the cache, NGX_ERROR when it is not */
typedef void (*ngx_tracker_private_done_pt)(void *data, ngx_int_t rc);


/* the cache of tracker_private_zone when tracker_database is set too */
ngx_tracker_cache_t *ngx_tracker_private_shared(ngx_cycle_t *cycle);

/*
 * The refusal, if any, for a user (and a torrent; t NULL: none asked):
 * the same reasons, in the same order, as the HTTP announce.  An UNKNOWN
 * state is the database being unavailable.
 */
ngx_tracker_err_e ngx_tracker_private_verdict(ngx_uint_t user_state,
    ngx_tracker_user_t *user, ngx_uint_t torrent_state,
    ngx_tracker_torrent_info_t *t);

/*
 * Looks a passkey and/or an info hash up in PostgreSQL and stores the
 * answer in the cache, without waiting.  NGX_OK: done (if not NULL) is
 * called exactly once, later; the lookup owns its memory, so the caller
 * may go away meanwhile only if done and data stay valid.  NGX_ERROR:
 * nothing was started and done is never called.
 */
ngx_int_t ngx_tracker_private_fetch(ngx_tracker_cache_t *cache,
    ngx_str_t *passkey, u_char *info_hash, ngx_tracker_private_done_pt done,
    void *data);


#endif /* _NGX_TRACKER_PRIVATE_H_INCLUDED_ */
