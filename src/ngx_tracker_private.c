
/*
 * ngx_tracker: the private tracker's link between requests, the cache and
 * PostgreSQL.
 *
 * An announce resolves its passkey and info hash from the shared-memory
 * cache.  Only a miss goes to the database: both lookups ride one pipeline,
 * the request waits on events (the worker does not), and the handler runs
 * again from the top when the answer is in the cache.  Entries past their
 * TTL are served at once and refreshed in the background; when the database
 * is down they keep being served.
 *
 * Worker 0 also LISTENs for the database's change notifications (channel
 * "tracker") and drops the entries they name, so a disabled user, a deleted
 * torrent or a reset passkey takes effect within a round trip, and keeps the
 * site-wide multipliers (freeleech events) fresh.
 */

#include "ngx_tracker_module.h"
#include "ngx_tracker_private.h"
#include "ngx_tracker_bans.h"


#define NGX_HTTP_TRACKER_EVENTS_EVERY  10000
#define NGX_HTTP_TRACKER_SWEEP_EVERY   1000

#define NGX_HTTP_TRACKER_UNKNOWN  NGX_TRACKER_PRIVATE_UNKNOWN
#define NGX_HTTP_TRACKER_FOUND    NGX_TRACKER_PRIVATE_FOUND
#define NGX_HTTP_TRACKER_MISSING  NGX_TRACKER_PRIVATE_MISSING


typedef struct {
    ngx_tracker_pg_query_t       q;
    ngx_http_request_t          *r;
    ngx_http_handler_pt          resume;
    ngx_tracker_cache_t         *cache;
    ngx_pool_t                  *own_pool;        /* a background refresh */
    ngx_tracker_private_done_pt  done;            /* ... and its caller */
    void                        *done_data;

    const char                  *user_values[1];
    const char                  *torrent_values[1];
    int                          torrent_lengths[1];
    int                          torrent_formats[1];
    ngx_int_t                    user_stmt;       /* -1: not asked */
    ngx_int_t                    torrent_stmt;

    u_char                      *passkey;         /* NUL-terminated */
    size_t                       passkey_len;
    u_char                       info_hash[NGX_TRACKER_HASH_LEN];

    ngx_uint_t                   user_state;
    ngx_uint_t                   torrent_state;
    ngx_tracker_user_t           user;
    ngx_tracker_torrent_info_t   torrent;
    unsigned                     db_failed:1;
    unsigned                     background:1;
} ngx_http_tracker_private_ctx_t;


typedef struct {
    ngx_tracker_cache_t         *cache;
    ngx_tracker_pg_t            *pg;
    ngx_event_t                  events_timer;
    ngx_event_t                  sweep_timer;
    ngx_tracker_pg_query_t       events_query;
    unsigned                     events_busy:1;
} ngx_http_tracker_private_worker_t;


static ngx_int_t ngx_http_tracker_private_lookup(
    ngx_http_tracker_private_ctx_t *ctx, ngx_uint_t want_user,
    ngx_uint_t want_torrent);
static void ngx_http_tracker_private_done(ngx_tracker_pg_query_t *q);
static void ngx_http_tracker_private_store(ngx_http_tracker_private_ctx_t *ctx,
    ngx_tracker_pg_query_t *q);
static void ngx_http_tracker_notify(void *data, ngx_str_t *payload);
static void ngx_http_tracker_resync(void *data);
static void ngx_http_tracker_events_timer(ngx_event_t *ev);
static void ngx_http_tracker_events_done(ngx_tracker_pg_query_t *q);
static void ngx_http_tracker_cache_sweep_timer(ngx_event_t *ev);


static const char  ngx_http_tracker_user_sql[] =
    "SELECT id, disabled, can_leech FROM users WHERE torrent_key = $1";

/* a hybrid torrent is found by its v1 hash or its truncated v2 hash */
static const char  ngx_http_tracker_torrent_sql[] =
    "SELECT id, info_hash, status = 1 AND deleted IS NULL, dl_percent, "
    "ul_percent FROM torrents "
    "WHERE info_hash = $1 OR info_hash_v2_trunc = $1 LIMIT 1";

static const char  ngx_http_tracker_events_sql[] =
    "SELECT coalesce(min(dl_percent), 100), coalesce(max(ul_percent), 100) "
    "FROM site_events WHERE now() BETWEEN starts_at AND ends_at";


/*
 * NGX_OK: *user (and *torrent, when info_hash is given) are this request's;
 * NGX_AGAIN: a lookup is in flight and the handler runs again later (return
 * NGX_DONE); NGX_DECLINED: *err says why the request is refused.
 */
ngx_int_t
ngx_http_tracker_private_resolve(ngx_http_request_t *r,
    ngx_http_handler_pt resume, ngx_str_t *passkey, u_char *info_hash,
    ngx_tracker_user_t *user, ngx_tracker_torrent_info_t *torrent,
    ngx_tracker_err_e *err)
{
    ngx_int_t                        rc;
    ngx_uint_t                       found, stale, want_user, want_torrent;
    ngx_tracker_cache_t             *cache;
    ngx_http_tracker_main_conf_t    *tmcf;
    ngx_http_tracker_private_ctx_t  *ctx;

    tmcf = ngx_http_get_module_main_conf(r, ngx_http_tracker_module);
    cache = tmcf->cache;

    if (passkey->len == 0) {
        *err = NGX_TRACKER_ERR_PASSKEY_MISSING;
        return NGX_DECLINED;
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_tracker_module);

    if (ctx == NULL) {
        ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_tracker_private_ctx_t));
        if (ctx == NULL) {
            *err = NGX_TRACKER_ERR_DB_UNAVAILABLE;
            return NGX_DECLINED;
        }

        ctx->r = r;
        ctx->resume = resume;
        ctx->cache = cache;
        ngx_http_set_ctx(r, ctx, ngx_http_tracker_module);
    }

    want_user = 0;
    want_torrent = 0;

    if (ctx->user_state == NGX_HTTP_TRACKER_UNKNOWN) {
        rc = ngx_tracker_cache_user(cache, passkey, &ctx->user, &found,
                                    &stale);
        if (rc == NGX_OK) {
            ctx->user_state = found ? NGX_HTTP_TRACKER_FOUND
                                    : NGX_HTTP_TRACKER_MISSING;
            if (stale) {
                (void) ngx_tracker_private_fetch(cache, passkey, NULL, NULL,
                                                 NULL);
            }

        } else {
            want_user = 1;
        }
    }

    if (info_hash && ctx->torrent_state == NGX_HTTP_TRACKER_UNKNOWN) {
        rc = ngx_tracker_cache_torrent(cache, info_hash, &ctx->torrent,
                                       &found, &stale);
        if (rc == NGX_OK) {
            ctx->torrent_state = found ? NGX_HTTP_TRACKER_FOUND
                                       : NGX_HTTP_TRACKER_MISSING;
            if (stale) {
                (void) ngx_tracker_private_fetch(cache, NULL, info_hash,
                                                 NULL, NULL);
            }

        } else {
            want_torrent = 1;
        }
    }

    if ((want_user || want_torrent) && !ctx->db_failed) {
        ctx->passkey = passkey->data;
        ctx->passkey_len = passkey->len;

        if (info_hash) {
            ngx_memcpy(ctx->info_hash, info_hash, NGX_TRACKER_HASH_LEN);
        }

        rc = ngx_http_tracker_private_lookup(ctx, want_user, want_torrent);

        if (rc == NGX_OK) {
            r->main->count++;
            return NGX_AGAIN;
        }

        ctx->db_failed = 1;
    }

    *err = ngx_tracker_private_verdict(ctx->user_state, &ctx->user,
                                       ctx->torrent_state,
                                       info_hash ? &ctx->torrent : NULL);
    if (*err != NGX_TRACKER_OK) {
        return NGX_DECLINED;
    }

    *user = ctx->user;

    if (info_hash) {
        *torrent = ctx->torrent;
    }

    return NGX_OK;
}


ngx_tracker_err_e
ngx_tracker_private_verdict(ngx_uint_t user_state, ngx_tracker_user_t *user,
    ngx_uint_t torrent_state, ngx_tracker_torrent_info_t *t)
{
    /* the user first: a bad passkey says nothing about the torrent */
    switch (user_state) {

    case NGX_HTTP_TRACKER_FOUND:
        if (user->disabled) {
            return NGX_TRACKER_ERR_ACCOUNT_DISABLED;
        }

        break;

    case NGX_HTTP_TRACKER_MISSING:
        return NGX_TRACKER_ERR_PASSKEY_UNKNOWN;

    default:
        return NGX_TRACKER_ERR_DB_UNAVAILABLE;
    }

    if (t == NULL) {
        return NGX_TRACKER_OK;
    }

    switch (torrent_state) {

    case NGX_HTTP_TRACKER_FOUND:
        return t->approved ? NGX_TRACKER_OK : NGX_TRACKER_ERR_UNREGISTERED;

    case NGX_HTTP_TRACKER_MISSING:
        return NGX_TRACKER_ERR_UNREGISTERED;

    default:
        return NGX_TRACKER_ERR_DB_UNAVAILABLE;
    }
}


static ngx_int_t
ngx_http_tracker_private_lookup(ngx_http_tracker_private_ctx_t *ctx,
    ngx_uint_t want_user, ngx_uint_t want_torrent)
{
    u_char                        *p;
    ngx_pool_t                    *pool;
    ngx_tracker_pg_stmt_t         *st;
    ngx_tracker_pg_query_t        *q;
    ngx_http_tracker_main_conf_t  *tmcf;

    q = &ctx->q;
    pool = ctx->background ? NULL : ctx->r->pool;

    ngx_memzero(q, sizeof(ngx_tracker_pg_query_t));

    ctx->user_stmt = -1;
    ctx->torrent_stmt = -1;

    if (want_user) {
        if (pool) {
            /* libpq reads text parameters up to a NUL */
            p = ngx_pnalloc(pool, ctx->passkey_len + 1);
            if (p == NULL) {
                return NGX_ERROR;
            }

            ngx_memcpy(p, ctx->passkey, ctx->passkey_len);
            p[ctx->passkey_len] = '\0';
            ctx->passkey = p;
        }

        ctx->user_values[0] = (const char *) ctx->passkey;

        ctx->user_stmt = q->nstmts;
        st = &q->stmts[q->nstmts++];
        st->name = ngx_http_tracker_user_sql;
        st->sql = ngx_http_tracker_user_sql;
        st->nparams = 1;
        st->values = ctx->user_values;
    }

    if (want_torrent) {
        ctx->torrent_values[0] = (const char *) ctx->info_hash;
        ctx->torrent_lengths[0] = NGX_TRACKER_HASH_LEN;
        ctx->torrent_formats[0] = 1;             /* binary bytea */

        ctx->torrent_stmt = q->nstmts;
        st = &q->stmts[q->nstmts++];
        st->name = ngx_http_tracker_torrent_sql;
        st->sql = ngx_http_tracker_torrent_sql;
        st->nparams = 1;
        st->values = ctx->torrent_values;
        st->lengths = ctx->torrent_lengths;
        st->formats = ctx->torrent_formats;
        st->binary_result = 0;
    }

    q->handler = ngx_http_tracker_private_done;
    q->data = ctx;

    tmcf = ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                               ngx_http_tracker_module);

    if (pool && ngx_tracker_pg_detach_on_cleanup(pool, q) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_tracker_pg_run(tmcf->pg, q);
}


static void
ngx_http_tracker_private_done(ngx_tracker_pg_query_t *q)
{
    ngx_int_t                        rc;
    ngx_connection_t                *c;
    ngx_http_request_t              *r;
    ngx_http_tracker_private_ctx_t  *ctx = q->data;

    if (q->rc == NGX_OK) {
        ngx_http_tracker_private_store(ctx, q);

    } else {
        ctx->db_failed = 1;
    }

    if (ctx->background) {
        /* a refresh that failed leaves the stale entry to be served */
        if (ctx->done) {
            ctx->done(ctx->done_data, ctx->db_failed ? NGX_ERROR : NGX_OK);
        }

        ngx_destroy_pool(ctx->own_pool);
        return;
    }

    r = ctx->r;
    c = r->connection;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, c->log, 0,
                   "tracker private lookup done: rc:%i user:%ui",
                   q->rc, ctx->user_state);

    rc = ctx->resume(r);

    ngx_http_finalize_request(r, rc);
    ngx_http_run_posted_requests(c);
}


static ngx_int_t
ngx_http_tracker_pg_bool(PGresult *res, int row, int col)
{
    return PQgetvalue(res, row, col)[0] == 't';
}


static int64_t
ngx_http_tracker_pg_int(PGresult *res, int row, int col)
{
    off_t  n;

    n = ngx_atoof((u_char *) PQgetvalue(res, row, col),
                  PQgetlength(res, row, col));

    return (n == NGX_ERROR) ? 0 : (int64_t) n;
}


static void
ngx_http_tracker_private_store(ngx_http_tracker_private_ctx_t *ctx,
    ngx_tracker_pg_query_t *q)
{
    u_char      *v;
    size_t       len;
    ngx_str_t    key;
    PGresult    *res;

    if (ctx->user_stmt >= 0) {
        res = q->res[ctx->user_stmt];
        key.data = ctx->passkey;
        key.len = ctx->passkey_len;

        if (PQntuples(res) == 1) {
            ctx->user.id = ngx_http_tracker_pg_int(res, 0, 0);
            ctx->user.disabled = ngx_http_tracker_pg_bool(res, 0, 1);
            ctx->user.can_leech = ngx_http_tracker_pg_bool(res, 0, 2);
            ctx->user_state = NGX_HTTP_TRACKER_FOUND;
            ngx_tracker_cache_put_user(ctx->cache, &key, &ctx->user);

        } else {
            ctx->user_state = NGX_HTTP_TRACKER_MISSING;
            ngx_tracker_cache_put_user(ctx->cache, &key, NULL);
        }
    }

    if (ctx->torrent_stmt >= 0) {
        res = q->res[ctx->torrent_stmt];

        if (PQntuples(res) == 1) {
            ctx->torrent.id = ngx_http_tracker_pg_int(res, 0, 0);

            /* bytea in text form: \x + 40 hex digits */
            v = (u_char *) PQgetvalue(res, 0, 1);
            len = PQgetlength(res, 0, 1);

            if (len != 2 + 2 * NGX_TRACKER_HASH_LEN
                || ngx_tracker_hex_decode(ctx->torrent.hash, v + 2,
                                          2 * NGX_TRACKER_HASH_LEN)
                   != NGX_OK)
            {
                ngx_memcpy(ctx->torrent.hash, ctx->info_hash,
                           NGX_TRACKER_HASH_LEN);
            }

            ctx->torrent.approved = ngx_http_tracker_pg_bool(res, 0, 2);
            ctx->torrent.dl_percent =
                                (int16_t) ngx_http_tracker_pg_int(res, 0, 3);
            ctx->torrent.ul_percent =
                                (int16_t) ngx_http_tracker_pg_int(res, 0, 4);
            ctx->torrent_state = NGX_HTTP_TRACKER_FOUND;
            ngx_tracker_cache_put_torrent(ctx->cache, ctx->info_hash,
                                          &ctx->torrent);

        } else {
            ctx->torrent_state = NGX_HTTP_TRACKER_MISSING;
            ngx_tracker_cache_put_torrent(ctx->cache, ctx->info_hash, NULL);
        }
    }
}


/*
 * A refresh, or a UDP announce's miss: a small pool of its own, so the
 * lookup never points into a request or a datagram that may be gone.
 */
ngx_int_t
ngx_tracker_private_fetch(ngx_tracker_cache_t *cache, ngx_str_t *passkey,
    u_char *info_hash, ngx_tracker_private_done_pt done, void *data)
{
    u_char                          *p;
    ngx_pool_t                      *pool;
    ngx_http_tracker_private_ctx_t  *ctx;

    pool = ngx_create_pool(512, ngx_cycle->log);
    if (pool == NULL) {
        return NGX_ERROR;
    }

    ctx = ngx_pcalloc(pool, sizeof(ngx_http_tracker_private_ctx_t));
    if (ctx == NULL) {
        goto failed;
    }

    ctx->background = 1;
    ctx->cache = cache;
    ctx->own_pool = pool;
    ctx->done = done;
    ctx->done_data = data;

    if (passkey) {
        p = ngx_pnalloc(pool, passkey->len + 1);
        if (p == NULL) {
            goto failed;
        }

        ngx_memcpy(p, passkey->data, passkey->len);
        p[passkey->len] = '\0';
        ctx->passkey = p;
        ctx->passkey_len = passkey->len;
    }

    if (info_hash) {
        ngx_memcpy(ctx->info_hash, info_hash, NGX_TRACKER_HASH_LEN);
    }

    if (ngx_http_tracker_private_lookup(ctx, passkey != NULL,
                                        info_hash != NULL)
        == NGX_OK)
    {
        return NGX_OK;
    }

failed:

    ngx_destroy_pool(pool);

    return NGX_ERROR;
}


ngx_int_t
ngx_http_tracker_private_init_worker(ngx_cycle_t *cycle,
    ngx_http_tracker_main_conf_t *tmcf)
{
    ngx_http_tracker_private_worker_t  *w;

    if (ngx_worker != 0) {
        return NGX_OK;
    }

    w = ngx_pcalloc(cycle->pool, sizeof(ngx_http_tracker_private_worker_t));
    if (w == NULL) {
        return NGX_ERROR;
    }

    w->cache = tmcf->cache;
    w->pg = tmcf->pg;

    w->events_timer.handler = ngx_http_tracker_events_timer;
    w->events_timer.data = w;
    w->events_timer.log = cycle->log;
    w->events_timer.cancelable = 1;
    ngx_add_timer(&w->events_timer, 1);

    w->sweep_timer.handler = ngx_http_tracker_cache_sweep_timer;
    w->sweep_timer.data = w;
    w->sweep_timer.log = cycle->log;
    w->sweep_timer.cancelable = 1;
    ngx_add_timer(&w->sweep_timer, NGX_HTTP_TRACKER_SWEEP_EVERY);

    return ngx_tracker_pg_listen(tmcf->pg, "LISTEN tracker",
                                 ngx_http_tracker_notify,
                                 ngx_http_tracker_resync, w);
}


/*
 * "u:<passkey>", "t:<hex info hash>", "e:" (site events changed), "b:" (the
 * ban list changed: ngx_tracker_bans.c reloads it)
 */
static void
ngx_http_tracker_notify(void *data, ngx_str_t *payload)
{
    ngx_http_tracker_private_worker_t  *w = data;

    u_char  hash[NGX_TRACKER_HASH_LEN];

    ngx_log_debug1(NGX_LOG_DEBUG_EVENT, ngx_cycle->log, 0,
                   "tracker notify: \"%V\"", payload);

    if (payload->len < 2 || payload->data[1] != ':') {
        return;
    }

    switch (payload->data[0]) {

    case 'u':
        ngx_tracker_cache_invalidate(w->cache, NGX_TRACKER_ENTRY_USER,
                                     payload->data + 2, payload->len - 2);
        break;

    case 't':
        if (payload->len == 2 + 2 * NGX_TRACKER_HASH_LEN
            && ngx_tracker_hex_decode(hash, payload->data + 2,
                                      2 * NGX_TRACKER_HASH_LEN)
               == NGX_OK)
        {
            ngx_tracker_cache_invalidate(w->cache, NGX_TRACKER_ENTRY_TORRENT,
                                         hash, NGX_TRACKER_HASH_LEN);
        }

        break;

    case 'e':
        if (w->events_timer.timer_set) {
            ngx_del_timer(&w->events_timer);
        }

        ngx_add_timer(&w->events_timer, 1);
        break;

    case 'b':
        ngx_tracker_bans_changed();
        break;
    }
}


/* the listener (re)connected: whatever changed meanwhile is unknown */
static void
ngx_http_tracker_resync(void *data)
{
    ngx_http_tracker_private_worker_t  *w = data;

    ngx_tracker_cache_flush(w->cache);
    ngx_tracker_bans_changed();

    if (w->events_timer.timer_set) {
        ngx_del_timer(&w->events_timer);
    }

    ngx_add_timer(&w->events_timer, 1);
}


static void
ngx_http_tracker_events_timer(ngx_event_t *ev)
{
    ngx_http_tracker_private_worker_t  *w = ev->data;

    ngx_tracker_pg_stmt_t  *st;

    if (ngx_exiting || ngx_quit || ngx_terminate) {
        return;
    }

    ngx_add_timer(ev, NGX_HTTP_TRACKER_EVENTS_EVERY);

    if (w->events_busy) {
        return;
    }

    ngx_memzero(&w->events_query, sizeof(ngx_tracker_pg_query_t));

    st = &w->events_query.stmts[0];
    st->name = ngx_http_tracker_events_sql;
    st->sql = ngx_http_tracker_events_sql;

    w->events_query.nstmts = 1;
    w->events_query.handler = ngx_http_tracker_events_done;
    w->events_query.data = w;

    if (ngx_tracker_pg_run(w->pg, &w->events_query) == NGX_OK) {
        w->events_busy = 1;
    }
}


static void
ngx_http_tracker_events_done(ngx_tracker_pg_query_t *q)
{
    ngx_http_tracker_private_worker_t  *w = q->data;

    PGresult  *res;

    w->events_busy = 0;

    if (q->rc != NGX_OK) {
        return;
    }

    res = q->res[0];

    if (PQntuples(res) != 1) {
        return;
    }

    w->cache->sh->dl_percent = ngx_http_tracker_pg_int(res, 0, 0);
    w->cache->sh->ul_percent = ngx_http_tracker_pg_int(res, 0, 1);
}


static void
ngx_http_tracker_cache_sweep_timer(ngx_event_t *ev)
{
    ngx_http_tracker_private_worker_t  *w = ev->data;

    ngx_tracker_cache_sweep(w->cache, 1000);

    if (!ngx_exiting && !ngx_quit && !ngx_terminate) {
        ngx_add_timer(ev, NGX_HTTP_TRACKER_SWEEP_EVERY);
    }
}


ngx_tracker_cache_t *
ngx_tracker_private_shared(ngx_cycle_t *cycle)
{
    ngx_http_tracker_main_conf_t  *tmcf;

    tmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_tracker_module);

    if (tmcf == NULL || tmcf->pg == NULL) {
        return NULL;
    }

    return tmcf->cache;
}


ngx_tracker_cache_t *
ngx_http_tracker_private_cache(ngx_http_request_t *r)
{
    ngx_http_tracker_main_conf_t  *tmcf;

    tmcf = ngx_http_get_module_main_conf(r, ngx_http_tracker_module);

    return tmcf->cache;
}


/* replaces a cached torrent's hash by the one its swarm is kept under */
void
ngx_http_tracker_private_swarm_hash(ngx_http_request_t *r, u_char *hash)
{
    ngx_uint_t                   found, stale;
    ngx_tracker_torrent_info_t   t;

    if (ngx_tracker_cache_torrent(ngx_http_tracker_private_cache(r), hash,
                                  &t, &found, &stale)
        == NGX_OK
        && found)
    {
        ngx_memcpy(hash, t.hash, NGX_TRACKER_HASH_LEN);
    }
}
