
/*
 * ngx_tracker: a journal batch folded into the parameters of
 * tracker_flush_totals() and tracker_flush_peers()
 * (sql/018_tracker_peers.sql).
 *
 * One row per (user, torrent) with the sums, one row per peer with its
 * last state, in PostgreSQL's binary array format: the database then only
 * writes, once per row, and parses no text.
 */

#ifndef _NGX_TRACKER_FLUSH_H_INCLUDED_
#define _NGX_TRACKER_FLUSH_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_tracker_cache.h"


#define NGX_TRACKER_FLUSH_PARAMS  30
#define NGX_TRACKER_FLUSH_TOTALS  16    /* the first 16 are the totals' */


typedef struct {
    const char                  *values[NGX_TRACKER_FLUSH_PARAMS];
    int                          lengths[NGX_TRACKER_FLUSH_PARAMS];
    int                          formats[NGX_TRACKER_FLUSH_PARAMS];
    ngx_uint_t                   pairs;
    ngx_uint_t                   peers;
} ngx_tracker_flush_params_t;


extern const char  *ngx_tracker_flush_totals_sql;
extern const char  *ngx_tracker_flush_peers_sql;

/*
 * Folds records [start, end) of the journal (a batch in flight: nobody
 * writes them meanwhile) into p; everything is allocated from pool.
 */
ngx_int_t ngx_tracker_flush_fold(ngx_pool_t *pool, ngx_tracker_journal_t *j,
    uint64_t start, uint64_t end, int64_t batch_id,
    ngx_tracker_flush_params_t *p);


#endif /* _NGX_TRACKER_FLUSH_H_INCLUDED_ */
