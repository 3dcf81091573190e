
/*
 * ngx_tracker: exact accounting for the private tracker.
 *
 * An announce turns into one delta: the growth of the peer's counters since
 * its previous announce (a restarted client rebases without credit), scaled
 * by the torrent's and the site's multipliers, plus seed or leech time and a
 * first completion.  Deltas go to a bounded journal in shared memory; a
 * flusher hands them to PostgreSQL in batches with ids, so a batch that is
 * retried after a failure is applied once.
 */

#ifndef _NGX_TRACKER_ACCOUNTING_H_INCLUDED_
#define _NGX_TRACKER_ACCOUNTING_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_tracker_cache.h"
#include "ngx_tracker_pg.h"
#include "ngx_tracker_flush.h"


typedef struct {
    int64_t                      user_id;
    ngx_tracker_torrent_info_t  *torrent;
    u_char                      *peer_id;
    ngx_uint_t                   family;
    u_char                      *addr;
    in_port_t                    port;          /* network order */
    uint64_t                     uploaded;
    uint64_t                     downloaded;
    uint64_t                     left;
    ngx_uint_t                   event;         /* ngx_tracker_event_e */
    ngx_uint_t                   seeders;
    ngx_uint_t                   leechers;
} ngx_tracker_account_t;


/* never waits: a full journal drops the delta and counts it */
void ngx_tracker_account(ngx_tracker_cache_t *cache,
    ngx_tracker_account_t *a);

/* starts this worker's flusher (and, in worker 0, the stats expiry) */
ngx_int_t ngx_tracker_accounting_init_worker(ngx_cycle_t *cycle,
    ngx_tracker_cache_t *cache, ngx_tracker_pg_t *pg, ngx_msec_t interval,
    ngx_uint_t batch);


#endif /* _NGX_TRACKER_ACCOUNTING_H_INCLUDED_ */
