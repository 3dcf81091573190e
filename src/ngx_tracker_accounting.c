
/*
 * ngx_tracker: accounting deltas, the shared-memory journal and its flusher.
 *
 * The journal is a ring of fixed-size records.  Announces append at the
 * tail under the private zone's lock.  A flusher (any worker; the first to
 * claim the journal) cuts [head, batch_end) into a batch with an id, folds
 * it and sends its totals and its peers as two statements at once, and
 * only when both succeeded moves the head past it.  A failed or timed-out
 * batch keeps its id and range, so the retry either applies the totals or
 * finds the id already recorded (the peers are idempotent): no loss, no
 * double count.  The ring never overwrites an unflushed record: when full,
 * new deltas are dropped and counted on the status page.
 */

#include "ngx_tracker_accounting.h"


#define NGX_TRACKER_STATS_EVERY      60000

/*
 * The flusher wakes at least this often, to notice a graceful shutdown (and
 * flush at once) or a journal filling up faster than the flush interval.
 */
#define NGX_TRACKER_FLUSH_TICK       250

typedef struct {
    ngx_tracker_cache_t         *cache;
    ngx_tracker_pg_t            *pg;
    ngx_msec_t                   interval;
    ngx_msec_t                   tick;
    ngx_msec_t                   last;
    ngx_uint_t                   batch;

    ngx_event_t                  timer;
    ngx_tracker_pg_query_t       query;         /* the totals */
    ngx_tracker_pg_query_t       peers_query;
    ngx_uint_t                   pending;       /* queries out */
    ngx_int_t                    applied;       /* the totals' answer */
    ngx_uint_t                   failed;
    u_char                      *error_end;
    u_char                       error[256];    /* outlives the result */
    ngx_pool_t                  *pool;
    int64_t                      batch_id;
    uint64_t                     batch_end;
    ngx_msec_t                   started;
    ngx_tracker_flush_params_t   params;

    ngx_event_t                  stats_timer;
    ngx_tracker_pg_query_t       stats_query;
    const char                  *stats_values[1];
    u_char                       timeout_text[NGX_INT_T_LEN + 1];

    unsigned                     busy:1;
    unsigned                     stats_busy:1;
} ngx_tracker_flusher_t;


static void ngx_tracker_account_update(void *data,
    ngx_tracker_peer_state_t *prev, ngx_tracker_peer_state_t *cur);
static uint32_t ngx_tracker_journal_put(ngx_tracker_journal_t *j,
    ngx_tracker_delta_t *d, uint32_t jpos);
static void ngx_tracker_flush_timer(ngx_event_t *ev);
static ngx_int_t ngx_tracker_flush(ngx_tracker_flusher_t *f);
static ngx_int_t ngx_tracker_flush_build(ngx_tracker_flusher_t *f,
    uint64_t start, uint64_t end);
static void ngx_tracker_flush_done(ngx_tracker_pg_query_t *q);
static void ngx_tracker_stats_timer(ngx_event_t *ev);
static void ngx_tracker_stats_done(ngx_tracker_pg_query_t *q);


typedef struct {
    ngx_tracker_cache_t        *cache;
    ngx_tracker_account_t      *a;
    time_t                      now;
} ngx_tracker_account_ctx_t;


void
ngx_tracker_account(ngx_tracker_cache_t *cache, ngx_tracker_account_t *a)
{
    u_char                     key[NGX_TRACKER_PEER_KEY_LEN];
    ngx_tracker_account_ctx_t  ctx;
    ngx_tracker_peer_state_t   cur;

    ctx.cache = cache;
    ctx.a = a;
    ctx.now = ngx_time();

    ngx_memcpy(key, &a->torrent->id, 8);
    ngx_memcpy(key + 8, &a->user_id, 8);
    ngx_memcpy(key + 16, a->peer_id, NGX_TRACKER_HASH_LEN);

    cur.uploaded = a->uploaded;
    cur.downloaded = a->downloaded;
    cur.seen = (uint32_t) ctx.now;
    cur.jpos = 0;
    cur.written = 0;
    cur.seeder = (a->left == 0);
    cur.completed = (a->event == NGX_TRACKER_EVENT_COMPLETED);

    if (ngx_tracker_cache_peer(cache, key, &cur,
                               a->event == NGX_TRACKER_EVENT_STOPPED,
                               ngx_tracker_account_update, &ctx)
        != NGX_OK)
    {
        /* no room even after eviction: this announce earns nothing */
        (void) ngx_atomic_fetch_add(&cache->sh->journal.dropped, 1);
    }
}


/* the position of the record a peer's jpos (its low 32 bits + 1) names */
static ngx_inline uint64_t
ngx_tracker_journal_pos(ngx_tracker_journal_t *j, uint32_t jpos)
{
    uint64_t  pos;

    pos = (j->tail & ~(uint64_t) 0xffffffff) | (jpos - 1);

    if (pos >= j->tail && pos >= ((uint64_t) 1 << 32)) {
        pos -= (uint64_t) 1 << 32;
    }

    return pos;
}


/* under the zone lock: the delta since prev, into the journal */
static void
ngx_tracker_account_update(void *data, ngx_tracker_peer_state_t *prev,
    ngx_tracker_peer_state_t *cur)
{
    ngx_tracker_account_ctx_t  *ctx = data;

    time_t                  elapsed;
    uint64_t                up, down;
    ngx_int_t               dl_percent, ul_percent;
    ngx_uint_t              rebase;
    ngx_tracker_delta_t     d;
    ngx_tracker_journal_t  *j;
    ngx_tracker_account_t  *a;

    a = ctx->a;

    /* the record this announce may add to: on its way meanwhile */
    if (prev->jpos) {
        j = &ctx->cache->sh->journal;
        ngx_tracker_prefetch(
            &j->records[ngx_tracker_journal_pos(j, prev->jpos) % j->capacity]);
    }

    /* a restarted client starts its counters again: rebase, no credit */
    rebase = prev->seen == 0
             || a->event == NGX_TRACKER_EVENT_STARTED
             || a->uploaded < prev->uploaded
             || a->downloaded < prev->downloaded;

    ngx_memzero(&d, sizeof(ngx_tracker_delta_t));

    if (!rebase) {
        up = a->uploaded - prev->uploaded;
        down = a->downloaded - prev->downloaded;


        d.raw_uploaded = up;
        d.raw_downloaded = down;

        /* the time since the last announce, in the role it had then */
        elapsed = ctx->now - (time_t) prev->seen;

        if (elapsed < 0) {
            elapsed = 0;
        }

        if (elapsed > ctx->cache->peer_timeout) {
            elapsed = ctx->cache->peer_timeout;
        }

        d.time = (uint32_t) elapsed;
    }

    d.seeding = prev->seeder;

    dl_percent = a->torrent->dl_percent * ctx->cache->sh->dl_percent / 100;
    ul_percent = a->torrent->ul_percent * ctx->cache->sh->ul_percent / 100;
    d.dl_percent = (uint32_t) ngx_max(dl_percent, 0);
    d.ul_percent = (uint32_t) ngx_max(ul_percent, 0);

    d.user_id = a->user_id;
    d.torrent_id = a->torrent->id;
    d.left = a->left;
    d.at = (uint32_t) ctx->now;
    d.seeders = (uint32_t) a->seeders;
    d.leechers = (uint32_t) a->leechers;
    ngx_memcpy(d.peer_id, a->peer_id, NGX_TRACKER_HASH_LEN);
    ngx_memcpy(d.addr, a->addr, a->family ? 16 : 4);
    d.family = a->family ? 1 : 0;
    d.port = ntohs(a->port);

    /* its session in the database's peers starts here, as on a start */
    d.fresh = (prev->seen == 0);

    /* the database's event codes: 1 completed (first time), 2, 3 */
    if (a->event == NGX_TRACKER_EVENT_COMPLETED && !prev->completed) {
        d.event = 1;

    } else if (a->event == NGX_TRACKER_EVENT_STARTED) {
        d.event = 2;

    } else if (a->event == NGX_TRACKER_EVENT_STOPPED) {
        d.event = 3;
    }

    /*
     * Its row in the database's peers list is written when a reader would
     * see a difference (a new session, an event, a restarted client, a
     * leecher turned seeder) or when it is peer_refresh old: a busy peer
     * costs the database one row a minute, not one per flush.
     */
    d.client_up = a->uploaded;
    d.client_down = a->downloaded;

    if (rebase || d.event || a->event == NGX_TRACKER_EVENT_COMPLETED
        || prev->seeder != (a->left == 0)
        || ctx->now - (time_t) prev->written
           >= ctx->cache->peer_refresh)
    {
        d.write_peer = 1;
        cur->written = (uint32_t) ctx->now;

    } else {
        cur->written = prev->written;
    }

    cur->jpos = ngx_tracker_journal_put(&ctx->cache->sh->journal, &d,
                                        prev->jpos);
}


/*
 * Runs under the private zone's lock, which the announce holds for the
 * peer's state anyway: one lock per announce, and the flusher takes the
 * same one to cut and to release a batch.
 *
 * A peer that announces again before its last record was flushed adds to
 * that record instead of taking a new one (unless the record is already in
 * a batch, or either announce started or stopped a session): the database
 * then writes each busy peer once per flush, and the totals are the same.
 * Returns the record's position + 1 (low 32 bits), 0 when dropped.
 */
static uint32_t
ngx_tracker_journal_put(ngx_tracker_journal_t *j, ngx_tracker_delta_t *d,
    uint32_t jpos)
{
    uint64_t              pos, floor;
    ngx_tracker_delta_t  *r;

    if (jpos && (d->event == 0 || d->event == 1)) {
        pos = ngx_tracker_journal_pos(j, jpos);

        /* records of a batch in flight are not touched */
        floor = j->batch_id ? j->batch_end : j->head;
        r = &j->records[pos % j->capacity];

        /* same role and multipliers: a record has one of each */
        if (pos >= floor && pos < j->tail
            && (r->event == 0 || r->event == 1)
            && r->seeding == d->seeding
            && r->ul_percent == d->ul_percent
            && r->dl_percent == d->dl_percent
            && r->user_id == d->user_id && r->torrent_id == d->torrent_id
            && ngx_memcmp(r->peer_id, d->peer_id, NGX_TRACKER_HASH_LEN) == 0)
        {
            r->raw_uploaded += d->raw_uploaded;
            r->raw_downloaded += d->raw_downloaded;
            r->time += d->time;
            r->write_peer |= d->write_peer;
            r->client_up = d->client_up;
            r->client_down = d->client_down;
            r->left = d->left;
            r->at = d->at;
            r->seeders = d->seeders;
            r->leechers = d->leechers;
            ngx_memcpy(r->addr, d->addr, 16);
            r->family = d->family;
            r->port = d->port;

            if (d->event == 1) {
                r->event = 1;
            }

            (void) ngx_atomic_fetch_add(&j->merged, 1);
            return jpos;
        }
    }

    if (j->tail - j->head >= j->capacity) {
        (void) ngx_atomic_fetch_add(&j->dropped, 1);
        return 0;
    }

    pos = j->tail++;
    j->records[pos % j->capacity] = *d;

    (void) ngx_atomic_fetch_add(&j->appended, 1);

    return (uint32_t) (pos + 1);
}


ngx_int_t
ngx_tracker_accounting_init_worker(ngx_cycle_t *cycle,
    ngx_tracker_cache_t *cache, ngx_tracker_pg_t *pg, ngx_msec_t interval,
    ngx_uint_t batch)
{
    ngx_tracker_flusher_t  *f;

    f = ngx_pcalloc(cycle->pool, sizeof(ngx_tracker_flusher_t));
    if (f == NULL) {
        return NGX_ERROR;
    }

    f->cache = cache;
    f->pg = pg;
    f->interval = interval;
    f->tick = ngx_min(interval, NGX_TRACKER_FLUSH_TICK);
    f->last = ngx_current_msec;
    f->batch = batch;

    f->timer.handler = ngx_tracker_flush_timer;
    f->timer.data = f;
    f->timer.log = cycle->log;

    /*
     * Not cancelable: on a graceful shutdown the worker stays until its
     * last flush attempt, so nothing in the journal is left behind.
     */
    f->timer.cancelable = 0;
    ngx_add_timer(&f->timer, f->tick);

    if (ngx_worker == 0) {
        f->stats_timer.handler = ngx_tracker_stats_timer;
        f->stats_timer.data = f;
        f->stats_timer.log = cycle->log;
        f->stats_timer.cancelable = 1;
        ngx_add_timer(&f->stats_timer, NGX_TRACKER_STATS_EVERY);
    }

    return NGX_OK;
}


static void
ngx_tracker_flush_timer(ngx_event_t *ev)
{
    ngx_int_t               rc;
    ngx_tracker_flusher_t  *f = ev->data;
    ngx_tracker_journal_t  *j;

    j = &f->cache->sh->journal;
    rc = NGX_OK;

    if (!f->busy
        && (ngx_current_msec - f->last >= f->interval
            || j->tail - j->head >= j->capacity / 2
            || ngx_exiting || ngx_quit || ngx_terminate))
    {
        f->last = ngx_current_msec;
        rc = ngx_tracker_flush(f);
    }

    if (ngx_exiting || ngx_quit || ngx_terminate) {
        /* keep going while there is something to write and a database */
        if (ngx_terminate || rc != NGX_OK
            || (!f->busy && j->tail == j->head))
        {
            return;
        }
    }

    ngx_add_timer(ev, f->tick);
}


/* NGX_OK: a batch is in flight or there is nothing to do */
static ngx_int_t
ngx_tracker_flush(ngx_tracker_flusher_t *f)
{
    time_t                  now;
    int64_t                 id;
    uint64_t                start, end;
    ngx_int_t               rc;
    ngx_tracker_journal_t  *j;

    j = &f->cache->sh->journal;
    now = ngx_time();

    ngx_shmtx_lock(&f->cache->shpool->mutex);

    /* another worker's batch is in flight (a dead one's is taken over) */
    if (j->flushing
        && j->flushing + (time_t) (f->pg->query_timeout / 1000) + 5 > now)
    {
        ngx_shmtx_unlock(&f->cache->shpool->mutex);
        return NGX_OK;
    }

    if (j->batch_id == 0) {
        if (j->tail == j->head) {
            ngx_shmtx_unlock(&f->cache->shpool->mutex);
            return NGX_OK;
        }

        id = ((int64_t) now * 1000 + (int64_t) (ngx_current_msec % 1000))
             << 8;
        j->batch_id = ngx_max(id, j->last_batch_id + 1);
        j->last_batch_id = j->batch_id;
        j->batch_end = ngx_min(j->tail, j->head + f->batch);
    }

    j->flushing = now;

    start = j->head;
    end = j->batch_end;
    f->batch_id = j->batch_id;
    f->batch_end = end;

    ngx_shmtx_unlock(&f->cache->shpool->mutex);

    rc = ngx_tracker_flush_build(f, start, end);

    /*
     * The totals and the peers go on two connections at once (when the
     * pool has two idle); the batch is done when both succeeded.
     */
    f->pending = 0;
    f->applied = 0;
    f->failed = 0;

    if (rc == NGX_OK) {
        rc = ngx_tracker_pg_run(f->pg, &f->query);

        if (rc == NGX_OK) {
            f->pending++;

            if (ngx_tracker_pg_run(f->pg, &f->peers_query) == NGX_OK) {
                f->pending++;

            } else {
                /* the batch fails as a whole; the totals' query runs on */
                f->failed = 1;
                f->error_end = ngx_cpymem(f->error, "peers not sent",
                                          sizeof("peers not sent") - 1);
            }
        }
    }

    if (rc != NGX_OK) {
        if (f->pool) {
            ngx_destroy_pool(f->pool);
            f->pool = NULL;
        }

        ngx_shmtx_lock(&f->cache->shpool->mutex);

        if (j->batch_id == f->batch_id) {
            j->flushing = 0;
        }

        ngx_shmtx_unlock(&f->cache->shpool->mutex);

        (void) ngx_atomic_fetch_add(&j->flush_failures, 1);
        return NGX_ERROR;
    }

    f->busy = 1;
    f->started = ngx_current_msec;

    ngx_log_debug3(NGX_LOG_DEBUG_EVENT, f->timer.log, 0,
                   "tracker flush: batch %L, records %uL..%uL",
                   f->batch_id, start, end);

    return NGX_OK;
}


/* the batch, folded, as the parameters of tracker_apply_flush() */
static ngx_int_t
ngx_tracker_flush_build(ngx_tracker_flusher_t *f, uint64_t start,
    uint64_t end)
{
    ngx_tracker_pg_stmt_t  *st;

    f->pool = ngx_create_pool(NGX_DEFAULT_POOL_SIZE, f->timer.log);
    if (f->pool == NULL) {
        return NGX_ERROR;
    }

    if (ngx_tracker_flush_fold(f->pool, &f->cache->sh->journal, start, end,
                               f->batch_id, &f->params)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_memzero(&f->query, sizeof(ngx_tracker_pg_query_t));

    st = &f->query.stmts[0];
    st->name = "tracker_flush_totals";
    st->sql = ngx_tracker_flush_totals_sql;
    st->nparams = NGX_TRACKER_FLUSH_TOTALS;
    st->values = f->params.values;
    st->lengths = f->params.lengths;
    st->formats = f->params.formats;

    f->query.nstmts = 1;
    f->query.handler = ngx_tracker_flush_done;
    f->query.data = f;

    ngx_memzero(&f->peers_query, sizeof(ngx_tracker_pg_query_t));

    st = &f->peers_query.stmts[0];
    st->name = "tracker_flush_peers";
    st->sql = ngx_tracker_flush_peers_sql;
    st->nparams = NGX_TRACKER_FLUSH_PARAMS - NGX_TRACKER_FLUSH_TOTALS;
    st->values = f->params.values + NGX_TRACKER_FLUSH_TOTALS;
    st->lengths = f->params.lengths + NGX_TRACKER_FLUSH_TOTALS;
    st->formats = f->params.formats + NGX_TRACKER_FLUSH_TOTALS;

    f->peers_query.nstmts = 1;
    f->peers_query.handler = ngx_tracker_flush_done;
    f->peers_query.data = f;

    ngx_log_debug3(NGX_LOG_DEBUG_EVENT, f->timer.log, 0,
                   "tracker flush: %uL records folded into %ui pairs, "
                   "%ui peers", end - start, f->params.pairs,
                   f->params.peers);

    return NGX_OK;
}


static void
ngx_tracker_flush_done(ngx_tracker_pg_query_t *q)
{
    ngx_tracker_flusher_t  *f = q->data;
    ngx_tracker_journal_t  *j;

    j = &f->cache->sh->journal;

    if (q->rc != NGX_OK) {
        f->failed = 1;
        f->error_end = ngx_snprintf(f->error, sizeof(f->error), "%V",
                                    &q->error);

    } else if (q == &f->query) {
        /* the count, or -1 (NGX_ERROR) for a batch applied before */
        f->applied = ngx_atoi((u_char *) PQgetvalue(q->res[0], 0, 0),
                              PQgetlength(q->res[0], 0, 0));
    }

    if (--f->pending) {
        /* the other query is still out */
        return;
    }

    f->busy = 0;

    if (f->pool) {
        ngx_destroy_pool(f->pool);
        f->pool = NULL;
    }

    ngx_shmtx_lock(&f->cache->shpool->mutex);

    /* unless another worker took the batch over and finished it */
    if (j->batch_id == f->batch_id) {
        j->flushing = 0;

        if (!f->failed) {
            j->head = f->batch_end;
            j->batch_id = 0;
        }
    }

    ngx_shmtx_unlock(&f->cache->shpool->mutex);

    if (f->failed) {
        (void) ngx_atomic_fetch_add(&j->flush_failures, 1);
        ngx_log_error(NGX_LOG_WARN, f->timer.log, 0,
                      "tracker flush of batch %L failed, kept for a "
                      "retry: %*s", f->batch_id,
                      (size_t) (f->error_end - f->error),
                      f->error);
        return;
    }

    if (f->applied < 0) {
        /* a retry of a batch whose commit we never heard about */
        (void) ngx_atomic_fetch_add(&j->replayed, 1);

    } else {
        (void) ngx_atomic_fetch_add(&j->flushed, f->applied);
    }

    (void) ngx_atomic_fetch_add(&j->batches, 1);
    j->last_flush_ms = ngx_current_msec - f->started;

    /*
     * A full batch waiting: go again at once.  Otherwise the next flush
     * comes at the interval, and meanwhile a busy peer's announces add up
     * in its one record instead of each costing the database a row.
     */
    if (j->tail - j->head >= f->batch && !ngx_terminate) {
        if (f->timer.timer_set) {
            ngx_del_timer(&f->timer);
        }

        f->last = ngx_current_msec - f->interval;
        ngx_add_timer(&f->timer, 1);
    }
}


/* swarms that went quiet: zero their counts and last-seen peers in the db */
static void
ngx_tracker_stats_timer(ngx_event_t *ev)
{
    u_char                 *p;
    ngx_tracker_flusher_t  *f = ev->data;
    ngx_tracker_pg_stmt_t  *st;

    if (ngx_exiting || ngx_quit || ngx_terminate) {
        return;
    }

    ngx_add_timer(ev, NGX_TRACKER_STATS_EVERY);

    if (f->stats_busy) {
        return;
    }

    p = ngx_sprintf(f->timeout_text, "%T", f->cache->peer_timeout);
    *p = '\0';
    f->stats_values[0] = (const char *) f->timeout_text;

    ngx_memzero(&f->stats_query, sizeof(ngx_tracker_pg_query_t));

    st = &f->stats_query.stmts[0];
    st->name = "tracker_expire_stats";
    st->sql = "SELECT tracker_expire_stats($1::int)";
    st->nparams = 1;
    st->values = f->stats_values;

    f->stats_query.nstmts = 1;
    f->stats_query.handler = ngx_tracker_stats_done;
    f->stats_query.data = f;

    if (ngx_tracker_pg_run(f->pg, &f->stats_query) == NGX_OK) {
        f->stats_busy = 1;
    }
}


static void
ngx_tracker_stats_done(ngx_tracker_pg_query_t *q)
{
    ngx_tracker_flusher_t  *f = q->data;

    f->stats_busy = 0;
}
