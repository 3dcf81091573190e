
/*
 * ngx_tracker: the database's ban list in the limit zones.
 *
 * A module of its own (ngx_http_tracker_bans_module) in the tracker's .so.
 * Worker 0 loads the bans in force from the table bans (sql/016_bans.sql)
 * every tracker_ban_refresh interval, and at once when the table changes
 * (NOTIFY tracker "b:"), and swaps them in as the "db" ban list of every
 * tracker_limit_zone.  The list lives in shared memory: every worker sees
 * it, a reload keeps it, and a load that fails (database down) changes
 * nothing, so the last list loaded stays in force.  Static tracker_ban
 * lines and temporary bans are other lists and are not touched.
 *
 * The notifications come over the private tracker's LISTEN connection
 * when there is one (ngx_tracker_private.c hands "b:" over); without a
 * private tracker this module LISTENs itself.
 */

#include "ngx_tracker_module.h"
#include "ngx_tracker_limit.h"
#include "ngx_tracker_bans.h"


typedef struct {
    ngx_msec_t                   refresh;      /* 0: off */
} ngx_tracker_bans_main_conf_t;


typedef struct {
    ngx_tracker_pg_t            *pg;
    ngx_msec_t                   refresh;
    ngx_event_t                  timer;
    ngx_tracker_pg_query_t       query;
    unsigned                     busy:1;
    unsigned                     again:1;      /* changed during a load */
    unsigned                     failing:1;
} ngx_tracker_bans_worker_t;


static void ngx_tracker_bans_timer(ngx_event_t *ev);
static void ngx_tracker_bans_loaded(ngx_tracker_pg_query_t *q);
static void ngx_tracker_bans_failed(ngx_tracker_bans_worker_t *w,
    ngx_str_t *why);
static void ngx_tracker_bans_notify(void *data, ngx_str_t *payload);
static void ngx_tracker_bans_resync(void *data);
static void *ngx_tracker_bans_create_main_conf(ngx_conf_t *cf);
static char *ngx_tracker_bans_init_main_conf(ngx_conf_t *cf, void *conf);
static char *ngx_tracker_bans_refresh(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_tracker_bans_init_process(ngx_cycle_t *cycle);


/*
 * The bans in force; the expiry rounded up to a second (the limiter keeps
 * seconds), so that a ban never ends early.
 */
static const char  ngx_tracker_bans_sql[] =
    "SELECT address, ceil(extract(epoch FROM expires_at))::bigint "
    "FROM bans WHERE expires_at IS NULL OR expires_at > now()";


static ngx_command_t  ngx_tracker_bans_commands[] = {

    { ngx_string("tracker_ban_refresh"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_tracker_bans_refresh,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_tracker_bans_module_ctx = {
    NULL,                                  /* preconfiguration */
    NULL,                                  /* postconfiguration */

    ngx_tracker_bans_create_main_conf,     /* create main configuration */
    ngx_tracker_bans_init_main_conf,       /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    NULL,                                  /* create location configuration */
    NULL                                   /* merge location configuration */
};


ngx_module_t  ngx_http_tracker_bans_module = {
    NGX_MODULE_V1,
    &ngx_tracker_bans_module_ctx,          /* module context */
    ngx_tracker_bans_commands,             /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_tracker_bans_init_process,         /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    NULL,                                  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


/* the loader of this process (worker 0), NULL elsewhere */
static ngx_tracker_bans_worker_t  *ngx_tracker_bans_worker;


static ngx_int_t
ngx_tracker_bans_init_process(ngx_cycle_t *cycle)
{
    ngx_tracker_bans_worker_t     *w;
    ngx_tracker_bans_main_conf_t  *bmcf;
    ngx_http_tracker_main_conf_t  *tmcf;

    ngx_tracker_bans_worker = NULL;

    if ((ngx_process != NGX_PROCESS_WORKER
         && ngx_process != NGX_PROCESS_SINGLE)
        || ngx_worker != 0)
    {
        return NGX_OK;
    }

    bmcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_tracker_bans_module);
    if (bmcf == NULL || bmcf->refresh == 0) {
        return NGX_OK;
    }

    tmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_tracker_module);

    w = ngx_pcalloc(cycle->pool, sizeof(ngx_tracker_bans_worker_t));
    if (w == NULL) {
        return NGX_ERROR;
    }

    w->pg = tmcf->pg;
    w->refresh = bmcf->refresh;

    w->timer.handler = ngx_tracker_bans_timer;
    w->timer.data = w;
    w->timer.log = cycle->log;
    w->timer.cancelable = 1;
    ngx_add_timer(&w->timer, 1);

    ngx_tracker_bans_worker = w;

    if (tmcf->cache) {
        /* the private tracker listens on this worker and hands "b:" over */
        return NGX_OK;
    }

    return ngx_tracker_pg_listen(tmcf->pg, "LISTEN tracker",
                                 ngx_tracker_bans_notify,
                                 ngx_tracker_bans_resync, w);
}


void
ngx_tracker_bans_changed(void)
{
    ngx_tracker_bans_worker_t  *w = ngx_tracker_bans_worker;

    if (w == NULL) {
        return;
    }

    if (w->busy) {
        /* the load in flight may have read the table before the change */
        w->again = 1;
        return;
    }

    if (w->timer.timer_set) {
        ngx_del_timer(&w->timer);
    }

    ngx_add_timer(&w->timer, 1);
}


static void
ngx_tracker_bans_notify(void *data, ngx_str_t *payload)
{
    if (payload->len >= 2 && payload->data[0] == 'b'
        && payload->data[1] == ':')
    {
        ngx_tracker_bans_changed();
    }
}


static void
ngx_tracker_bans_resync(void *data)
{
    ngx_tracker_bans_changed();
}


static void
ngx_tracker_bans_timer(ngx_event_t *ev)
{
    ngx_tracker_bans_worker_t  *w = ev->data;

    ngx_str_t               why;
    ngx_tracker_pg_stmt_t  *st;

    if (ngx_exiting || ngx_quit || ngx_terminate) {
        return;
    }

    ngx_add_timer(ev, w->refresh);

    if (w->busy) {
        return;
    }

    ngx_memzero(&w->query, sizeof(ngx_tracker_pg_query_t));

    st = &w->query.stmts[0];
    st->name = ngx_tracker_bans_sql;
    st->sql = ngx_tracker_bans_sql;

    w->query.nstmts = 1;
    w->query.handler = ngx_tracker_bans_loaded;
    w->query.data = w;

    if (ngx_tracker_pg_run(w->pg, &w->query) == NGX_OK) {
        w->busy = 1;
        return;
    }

    ngx_str_set(&why, "database unavailable");
    ngx_tracker_bans_failed(w, &why);
}


static void
ngx_tracker_bans_loaded(ngx_tracker_pg_query_t *q)
{
    ngx_tracker_bans_worker_t  *w = q->data;

    u_char             *v;
    off_t               t;
    size_t              len;
    ngx_int_t           i, n, m;
    ngx_str_t           why;
    PGresult           *res;
    ngx_pool_t         *pool;
    ngx_tracker_ban_t  *bans;

    w->busy = 0;

    if (ngx_exiting || ngx_quit || ngx_terminate) {
        /* a worker on its way out leaves the list to its successor */
        return;
    }

    if (q->rc != NGX_OK) {
        ngx_str_set(&why, "database unavailable");
        ngx_tracker_bans_failed(w, q->error.len ? &q->error : &why);
        goto again;
    }

    res = q->res[0];
    n = PQntuples(res);

    /* a long list is one large block of the pool */
    pool = ngx_create_pool(1024, ngx_cycle->log);
    if (pool == NULL) {
        goto again;
    }

    bans = ngx_palloc(pool, ngx_max(n, 1) * sizeof(ngx_tracker_ban_t));
    if (bans == NULL) {
        ngx_destroy_pool(pool);
        goto again;
    }

    m = 0;

    for (i = 0; i < n; i++) {
        v = (u_char *) PQgetvalue(res, i, 0);
        len = PQgetlength(res, i, 0);

        /* cidr text ("192.0.2.0/24"): the column's type rules out others */
        if (ngx_tracker_limit_parse_ban(v, len, &bans[m]) == NGX_ERROR) {
            ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                          "tracker bans: \"%*s\" is not an address or "
                          "range, skipped", len, v);
            continue;
        }

        if (!PQgetisnull(res, i, 1)) {
            t = ngx_atoof((u_char *) PQgetvalue(res, i, 1),
                          PQgetlength(res, i, 1));
            if (t <= 0) {
                /* never permanent by mistake: a past expiry is no ban */
                continue;
            }

            bans[m].expires = (time_t) t;
        }

        m++;
    }

    if (ngx_tracker_limit_ban_replace((ngx_cycle_t *) ngx_cycle,
                                      NGX_TRACKER_BAN_DB, bans, m)
        == NGX_OK)
    {
        if (w->failing) {
            ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                          "tracker bans: loaded %i bans from the database "
                          "again", m);
            w->failing = 0;
        }

        ngx_log_debug1(NGX_LOG_DEBUG_EVENT, ngx_cycle->log, 0,
                       "tracker bans: loaded %i", m);
    }

    ngx_destroy_pool(pool);

again:

    if (w->again) {
        w->again = 0;
        ngx_tracker_bans_changed();
    }
}


/* the last list stays; said once per outage, counted every time */
static void
ngx_tracker_bans_failed(ngx_tracker_bans_worker_t *w, ngx_str_t *why)
{
    ngx_tracker_limit_ban_load_failed((ngx_cycle_t *) ngx_cycle,
                                      NGX_TRACKER_BAN_DB);

    if (!w->failing) {
        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                      "tracker bans: cannot load the ban list (%V): the "
                      "last one loaded stays in force", why);
        w->failing = 1;
    }
}


static void *
ngx_tracker_bans_create_main_conf(ngx_conf_t *cf)
{
    ngx_tracker_bans_main_conf_t  *bmcf;

    bmcf = ngx_pcalloc(cf->pool, sizeof(ngx_tracker_bans_main_conf_t));
    if (bmcf == NULL) {
        return NULL;
    }

    bmcf->refresh = NGX_CONF_UNSET_MSEC;

    return bmcf;
}


static char *
ngx_tracker_bans_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_tracker_bans_main_conf_t  *bmcf = conf;

    ngx_http_tracker_main_conf_t  *tmcf;

    ngx_conf_init_msec_value(bmcf->refresh, 0);

    if (bmcf->refresh == 0) {
        return NGX_CONF_OK;
    }

    tmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_tracker_module);

    if (tmcf->pg == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"tracker_ban_refresh\" needs "
                           "\"tracker_database\"");
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* tracker_ban_refresh off | <time>; */
static char *
ngx_tracker_bans_refresh(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_tracker_bans_main_conf_t  *bmcf = conf;

    ngx_str_t  *value;

    if (bmcf->refresh != NGX_CONF_UNSET_MSEC) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "off") == 0) {
        bmcf->refresh = 0;
        return NGX_CONF_OK;
    }

    bmcf->refresh = ngx_parse_time(&value[1], 0);

    if (bmcf->refresh == (ngx_msec_t) NGX_ERROR || bmcf->refresh == 0) {
        return "has an invalid interval";
    }

    return NGX_CONF_OK;
}
