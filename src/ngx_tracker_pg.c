
/*
 * ngx_tracker: a non-blocking libpq connection pool driven by nginx events.
 *
 * Every connection is in pipeline mode: a query's statements, the prepares
 * they need on this connection and (once per connection) the statement
 * timeout go out together, followed by one sync; results are read back as
 * the socket becomes readable, with no blocking libpq call anywhere.
 *
 * libpq owns the socket: the nginx connection wrapping it is only an event
 * holder, removed from the event loop and freed before PQfinish closes the
 * descriptor.
 */

#include "ngx_tracker_pg.h"


#define NGX_TRACKER_PG_CONNECTING   0
#define NGX_TRACKER_PG_IDLE         1
#define NGX_TRACKER_PG_BUSY         2
#define NGX_TRACKER_PG_LISTENING    3

/* what a pipelined command was, so its results go to the right place */
#define NGX_TRACKER_PG_CMD_SETUP    0x40
#define NGX_TRACKER_PG_CMD_PREPARE  0x80
#define NGX_TRACKER_PG_CMD_INDEX    0x3f

#define NGX_TRACKER_PG_MAX_CMDS     (2 * NGX_TRACKER_PG_MAX_STMTS + 1)


struct ngx_tracker_pg_conn_s {
    ngx_queue_t                  queue;       /* pg->idle or pg->free */
    ngx_queue_t                  open;        /* pg->open while live */
    ngx_tracker_pg_t            *pg;
    PGconn                      *conn;
    ngx_connection_t            *c;
    ngx_uint_t                   state;
    ngx_tracker_pg_query_t      *query;

    u_char                       cmds[NGX_TRACKER_PG_MAX_CMDS];
    ngx_uint_t                   ncmds;
    ngx_uint_t                   cmd;          /* the one being read */

    const char                  *prepared[NGX_TRACKER_PG_MAX_PREPARED];
    ngx_uint_t                   nprepared;
    const char                  *pending_prepare[NGX_TRACKER_PG_MAX_CMDS];

    /* the LISTEN connection */
    const char                  *channel;
    ngx_tracker_pg_notify_pt     notify;
    ngx_tracker_pg_resync_pt     resync;
    void                        *data;
    ngx_event_t                  retry;

    unsigned                     setup_done:1;
    unsigned                     in_idle:1;
    unsigned                     listen:1;
    unsigned                     listening:1;
};


static ngx_int_t ngx_tracker_pg_connect(ngx_tracker_pg_t *pg,
    ngx_tracker_pg_conn_t *pc);
static ngx_tracker_pg_conn_t *ngx_tracker_pg_alloc(ngx_tracker_pg_t *pg);
static ngx_int_t ngx_tracker_pg_watch(ngx_tracker_pg_conn_t *pc);
static ngx_int_t ngx_tracker_pg_want_write(ngx_tracker_pg_conn_t *pc,
    ngx_uint_t want);
static void ngx_tracker_pg_event_handler(ngx_event_t *ev);
static void ngx_tracker_pg_connect_poll(ngx_tracker_pg_conn_t *pc);
static void ngx_tracker_pg_connected(ngx_tracker_pg_conn_t *pc);
static ngx_int_t ngx_tracker_pg_send(ngx_tracker_pg_conn_t *pc);
static ngx_int_t ngx_tracker_pg_flush(ngx_tracker_pg_conn_t *pc);
static void ngx_tracker_pg_read(ngx_tracker_pg_conn_t *pc);
static void ngx_tracker_pg_result(ngx_tracker_pg_conn_t *pc, PGresult *res);
static void ngx_tracker_pg_done(ngx_tracker_pg_conn_t *pc);
static void ngx_tracker_pg_release(ngx_tracker_pg_conn_t *pc);
static void ngx_tracker_pg_fail(ngx_tracker_pg_conn_t *pc, const char *why);
static void ngx_tracker_pg_close(ngx_tracker_pg_conn_t *pc);
static void ngx_tracker_pg_finish_query(ngx_tracker_pg_query_t *q,
    ngx_int_t rc, const char *why);
static void ngx_tracker_pg_fail_waiting(ngx_tracker_pg_t *pg);
static void ngx_tracker_pg_detach_cleanup(void *data);
static void ngx_tracker_pg_clear(ngx_tracker_pg_query_t *q);
static void ngx_tracker_pg_listen_read(ngx_tracker_pg_conn_t *pc);
static void ngx_tracker_pg_listen_retry(ngx_event_t *ev);
static void ngx_tracker_pg_set_error(ngx_tracker_pg_t *pg, const char *why);


ngx_tracker_pg_t *
ngx_tracker_pg_create(ngx_conf_t *cf)
{
    ngx_tracker_pg_t  *pg;

    pg = ngx_pcalloc(cf->pool, sizeof(ngx_tracker_pg_t));
    if (pg == NULL) {
        return NULL;
    }

    pg->size = 4;
    pg->max_waiting = 1024;
    pg->connect_timeout = 5000;
    pg->query_timeout = 30000;
    pg->idle_timeout = 60000;
    pg->retry = 1000;

    return pg;
}


/*
 * A host name in the conninfo would make PQconnectStart resolve it with
 * blocking getaddrinfo() inside a worker: only unix-socket directories and
 * numeric addresses (hostaddr=, or a numeric host=) are accepted.
 */
static ngx_int_t
ngx_tracker_pg_check_conninfo(ngx_conf_t *cf, ngx_tracker_pg_t *pg)
{
    char                *err;
    ngx_int_t            rc;
    ngx_str_t            host;
    ngx_addr_t           addr;
    PQconninfoOption    *opts, *o;
    u_char              *h, *comma;
    size_t               len;
    ngx_uint_t           has_hostaddr;

    err = NULL;
    opts = PQconninfoParse((const char *) pg->conninfo.data, &err);

    if (opts == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid database conninfo: %s",
                           err ? err : "out of memory");
        if (err) {
            PQfreemem(err);
        }

        return NGX_ERROR;
    }

    rc = NGX_OK;
    has_hostaddr = 0;
    ngx_str_null(&host);

    for (o = opts; o->keyword; o++) {
        if (o->val == NULL || o->val[0] == '\0') {
            continue;
        }

        if (ngx_strcmp(o->keyword, "hostaddr") == 0) {
            has_hostaddr = 1;

        } else if (ngx_strcmp(o->keyword, "host") == 0) {
            host.data = (u_char *) o->val;
            host.len = ngx_strlen(o->val);
        }
    }

    if (host.len && !has_hostaddr) {
        for (h = host.data; h < host.data + host.len; h = comma + 1) {
            comma = ngx_strlchr(h, host.data + host.len, ',');
            if (comma == NULL) {
                comma = host.data + host.len;
            }

            len = comma - h;

            if (len && h[0] != '/' && h[0] != '@'
                && ngx_parse_addr(cf->pool, &addr, h, len) != NGX_OK)
            {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "database host \"%*s\" is a name: use "
                                   "a numeric address (hostaddr=) or a "
                                   "unix socket directory, since resolving "
                                   "a name would block a worker", len, h);
                rc = NGX_ERROR;
                break;
            }
        }
    }

    PQconninfoFree(opts);

    return rc;
}


/* tracker_database "conninfo" [pool=N] [queue=N] [connect_timeout=T]
 *     [query_timeout=T] [idle_timeout=T] [retry=T]; */
char *
ngx_tracker_pg_conf(ngx_conf_t *cf, ngx_tracker_pg_t *pg, ngx_str_t *args,
    ngx_uint_t nargs)
{
    u_char      *p;
    ngx_int_t    n;
    ngx_str_t    s;
    ngx_uint_t   i;
    ngx_msec_t  *ms;

    /* libpq wants a NUL-terminated string */
    pg->conninfo.len = args[0].len;
    pg->conninfo.data = ngx_pnalloc(cf->pool, args[0].len + 1);
    if (pg->conninfo.data == NULL) {
        return NGX_CONF_ERROR;
    }

    p = ngx_cpymem(pg->conninfo.data, args[0].data, args[0].len);
    *p = '\0';

    if (ngx_tracker_pg_check_conninfo(cf, pg) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    for (i = 1; i < nargs; i++) {
        s = args[i];
        ms = NULL;

        if (ngx_strncmp(s.data, "pool=", 5) == 0) {
            n = ngx_atoi(s.data + 5, s.len - 5);
            if (n <= 0 || n > 1000) {
                goto invalid;
            }

            pg->size = n;
            continue;
        }

        if (ngx_strncmp(s.data, "queue=", 6) == 0) {
            n = ngx_atoi(s.data + 6, s.len - 6);
            if (n < 0) {
                goto invalid;
            }

            pg->max_waiting = n;
            continue;
        }

        if (ngx_strncmp(s.data, "connect_timeout=", 16) == 0) {
            ms = &pg->connect_timeout;
            s.data += 16;
            s.len -= 16;

        } else if (ngx_strncmp(s.data, "query_timeout=", 14) == 0) {
            ms = &pg->query_timeout;
            s.data += 14;
            s.len -= 14;

        } else if (ngx_strncmp(s.data, "idle_timeout=", 13) == 0) {
            ms = &pg->idle_timeout;
            s.data += 13;
            s.len -= 13;

        } else if (ngx_strncmp(s.data, "retry=", 6) == 0) {
            ms = &pg->retry;
            s.data += 6;
            s.len -= 6;

        } else {
            goto invalid;
        }

        n = ngx_parse_time(&s, 0);
        if (n == NGX_ERROR || n == 0) {
            goto invalid;
        }

        *ms = n;
    }

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "invalid parameter \"%V\"",
                       &args[i]);

    return NGX_CONF_ERROR;
}


void
ngx_tracker_pg_init_worker(ngx_tracker_pg_t *pg, ngx_log_t *log)
{
    pg->log = log;
    ngx_queue_init(&pg->idle);
    ngx_queue_init(&pg->free);
    ngx_queue_init(&pg->open);
    pg->shutdown = 0;
    ngx_queue_init(&pg->waiting);
    pg->nconns = 0;
    pg->nwaiting = 0;
    pg->down_until = 0;
    ngx_str_set(&pg->last_error, "");
}


void
ngx_tracker_pg_shutdown(ngx_tracker_pg_t *pg)
{
    ngx_queue_t            *q;
    ngx_tracker_pg_conn_t  *pc;

    pg->shutdown = 1;

    while (!ngx_queue_empty(&pg->open)) {
        q = ngx_queue_head(&pg->open);
        pc = ngx_queue_data(q, ngx_tracker_pg_conn_t, open);

        if (pc->listen && pc->retry.timer_set) {
            ngx_del_timer(&pc->retry);
        }

        /* the process is going: nobody is left to hear about queries */
        if (pc->query) {
            pc->query->conn = NULL;
            pc->query = NULL;
        }

        ngx_tracker_pg_close(pc);
    }
}


ngx_int_t
ngx_tracker_pg_is_down(ngx_tracker_pg_t *pg)
{
    return pg->down_until && ngx_current_msec < pg->down_until;
}


ngx_int_t
ngx_tracker_pg_run(ngx_tracker_pg_t *pg, ngx_tracker_pg_query_t *q)
{
    ngx_queue_t            *qu;
    ngx_tracker_pg_conn_t  *pc;

    if (q->nstmts == 0 || q->nstmts > NGX_TRACKER_PG_MAX_STMTS
        || q->handler == NULL)
    {
        return NGX_ERROR;
    }

    q->rc = NGX_OK;
    ngx_memzero(q->res, sizeof(q->res));
    ngx_str_null(&q->error);
    q->err_res = NULL;
    q->pg = pg;
    q->conn = NULL;
    q->queued = 0;

    pg->queries++;

    while (!ngx_queue_empty(&pg->idle)) {
        qu = ngx_queue_head(&pg->idle);
        ngx_queue_remove(qu);
        pc = ngx_queue_data(qu, ngx_tracker_pg_conn_t, queue);
        pc->in_idle = 0;

        if (pc->c->read->timer_set) {
            ngx_del_timer(pc->c->read);
        }

        pc->query = q;
        q->conn = pc;

        if (ngx_tracker_pg_send(pc) == NGX_OK) {
            return NGX_OK;
        }

        /* a dead keepalive connection: try the next one */
        pc->query = NULL;
        q->conn = NULL;
        ngx_tracker_pg_set_error(pg, PQerrorMessage(pc->conn));
        ngx_tracker_pg_close(pc);
    }

    if (ngx_tracker_pg_is_down(pg) || pg->nwaiting >= pg->max_waiting) {
        pg->failures++;
        return NGX_DECLINED;
    }

    if (pg->nconns < pg->size && ngx_tracker_pg_connect(pg, NULL) != NGX_OK
        && pg->nconns == 0)
    {
        pg->failures++;
        return NGX_DECLINED;
    }

    ngx_queue_insert_tail(&pg->waiting, &q->queue);
    q->queued = 1;
    pg->nwaiting++;

    return NGX_OK;
}


void
ngx_tracker_pg_detach(ngx_tracker_pg_query_t *q)
{
    if (q->queued) {
        ngx_queue_remove(&q->queue);
        q->pg->nwaiting--;
        q->queued = 0;
        return;
    }

    if (q->conn) {
        /* the connection reads the results to the sync and drops them */
        q->conn->query = NULL;
        q->conn = NULL;
    }
}


ngx_int_t
ngx_tracker_pg_detach_on_cleanup(ngx_pool_t *pool, ngx_tracker_pg_query_t *q)
{
    ngx_pool_cleanup_t  *cln;

    cln = ngx_pool_cleanup_add(pool, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    cln->handler = ngx_tracker_pg_detach_cleanup;
    cln->data = q;

    return NGX_OK;
}


static void
ngx_tracker_pg_detach_cleanup(void *data)
{
    ngx_tracker_pg_detach(data);
}


/* connection structs come from the cycle pool and are reused: at most
 * pool-size of them per worker ever exist */
static ngx_tracker_pg_conn_t *
ngx_tracker_pg_alloc(ngx_tracker_pg_t *pg)
{
    ngx_queue_t            *qu;
    ngx_tracker_pg_conn_t  *pc;

    if (!ngx_queue_empty(&pg->free)) {
        qu = ngx_queue_head(&pg->free);
        ngx_queue_remove(qu);
        pc = ngx_queue_data(qu, ngx_tracker_pg_conn_t, queue);
        ngx_memzero(pc, sizeof(ngx_tracker_pg_conn_t));

    } else {
        pc = ngx_pcalloc(ngx_cycle->pool, sizeof(ngx_tracker_pg_conn_t));
        if (pc == NULL) {
            return NULL;
        }
    }

    pc->pg = pg;

    return pc;
}


/*
 * Starts a connection; the first PQconnectPoll runs when the socket turns
 * writable, as libpq's documentation prescribes, so no handler is ever
 * called from here.
 */
static ngx_int_t
ngx_tracker_pg_connect(ngx_tracker_pg_t *pg, ngx_tracker_pg_conn_t *pc)
{
    ngx_uint_t  pooled;

    pooled = (pc == NULL);

    if (pooled) {
        pc = ngx_tracker_pg_alloc(pg);
        if (pc == NULL) {
            return NGX_ERROR;
        }
    }

    pc->conn = PQconnectStart((const char *) pg->conninfo.data);

    if (pc->conn == NULL || PQstatus(pc->conn) == CONNECTION_BAD) {
        ngx_tracker_pg_set_error(pg, pc->conn ? PQerrorMessage(pc->conn)
                                              : "out of memory");
        ngx_log_error(NGX_LOG_ERR, pg->log, 0,
                      "tracker database: cannot connect: %V",
                      &pg->last_error);

        goto failed;
    }

    pc->state = NGX_TRACKER_PG_CONNECTING;
    pc->setup_done = 0;
    pc->listening = 0;
    pc->nprepared = 0;

    if (ngx_tracker_pg_watch(pc) != NGX_OK
        || ngx_tracker_pg_want_write(pc, 1) != NGX_OK)
    {
        ngx_tracker_pg_set_error(pg, "cannot watch the socket");
        goto failed;
    }

    if (pooled) {
        pg->nconns++;
    }

    ngx_queue_insert_tail(&pg->open, &pc->open);
    pg->connects++;

    ngx_add_timer(pc->c->read, pg->connect_timeout);

    return NGX_OK;

failed:

    if (pc->c) {
        if (pc->c->read->active) {
            ngx_del_event(pc->c->read, NGX_READ_EVENT, 0);
        }

        pc->c->fd = (ngx_socket_t) -1;
        ngx_free_connection(pc->c);
        pc->c = NULL;
    }

    if (pc->conn) {
        PQfinish(pc->conn);
        pc->conn = NULL;
    }

    if (pooled) {
        ngx_queue_insert_head(&pg->free, &pc->queue);
    }

    pg->down_until = ngx_current_msec + pg->retry;

    return NGX_ERROR;
}


/* (re)wraps libpq's current socket in an nginx connection */
static ngx_int_t
ngx_tracker_pg_watch(ngx_tracker_pg_conn_t *pc)
{
    int                fd;
    ngx_msec_t         timer;
    ngx_connection_t  *c;

    fd = PQsocket(pc->conn);

    if (pc->c && pc->c->fd == fd) {
        return NGX_OK;
    }

    timer = 0;

    if (pc->c) {
        c = pc->c;

        if (c->read->timer_set) {
            timer = c->read->timer.key - ngx_current_msec;
            ngx_del_timer(c->read);
        }

        /* libpq has closed the old socket: the kernel dropped it already */
        if (c->read->active) {
            ngx_del_event(c->read, NGX_READ_EVENT, NGX_CLOSE_EVENT);
        }

        if (c->write->active) {
            ngx_del_event(c->write, NGX_WRITE_EVENT, NGX_CLOSE_EVENT);
        }

        /* libpq closes the descriptor; nginx must not think it is open */
        c->fd = (ngx_socket_t) -1;
        ngx_free_connection(c);
        pc->c = NULL;
    }

    if (fd == -1) {
        return NGX_ERROR;
    }

    c = ngx_get_connection(fd, pc->pg->log);
    if (c == NULL) {
        return NGX_ERROR;
    }

    c->data = pc;
    c->read->handler = ngx_tracker_pg_event_handler;
    c->write->handler = ngx_tracker_pg_event_handler;
    c->read->log = pc->pg->log;
    c->write->log = pc->pg->log;
    pc->c = c;

    /* level-triggered: libpq may leave bytes buffered in the kernel */
    if (ngx_add_event(c->read, NGX_READ_EVENT, NGX_LEVEL_EVENT) != NGX_OK) {
        return NGX_ERROR;
    }

    if (timer) {
        ngx_add_timer(c->read, timer);
    }

    return NGX_OK;
}


static ngx_int_t
ngx_tracker_pg_want_write(ngx_tracker_pg_conn_t *pc, ngx_uint_t want)
{
    ngx_event_t  *wev;

    wev = pc->c->write;

    if (want && !wev->active) {
        return ngx_add_event(wev, NGX_WRITE_EVENT, NGX_LEVEL_EVENT);
    }

    if (!want && wev->active) {
        return ngx_del_event(wev, NGX_WRITE_EVENT, 0);
    }

    return NGX_OK;
}


static void
ngx_tracker_pg_event_handler(ngx_event_t *ev)
{
    ngx_connection_t       *c = ev->data;
    ngx_tracker_pg_conn_t  *pc = c->data;

    if (ev->timedout) {
        ev->timedout = 0;

        switch (pc->state) {

        case NGX_TRACKER_PG_CONNECTING:
            ngx_tracker_pg_fail(pc, "connect timed out");
            return;

        case NGX_TRACKER_PG_BUSY:
            ngx_tracker_pg_fail(pc, "query timed out");
            return;

        default:
            /* idle too long: the pool shrinks */
            ngx_tracker_pg_close(pc);
            return;
        }
    }

    switch (pc->state) {

    case NGX_TRACKER_PG_CONNECTING:
        ngx_tracker_pg_connect_poll(pc);
        return;

    case NGX_TRACKER_PG_LISTENING:
        ngx_tracker_pg_listen_read(pc);
        return;

    case NGX_TRACKER_PG_IDLE:
        /* an idle connection that turns readable was closed by the server */
        if (!PQconsumeInput(pc->conn) || PQstatus(pc->conn) == CONNECTION_BAD)
        {
            ngx_tracker_pg_set_error(pc->pg, PQerrorMessage(pc->conn));
            ngx_tracker_pg_close(pc);
        }

        return;

    default: /* BUSY */
        if (ev->write) {
            if (ngx_tracker_pg_flush(pc) != NGX_OK) {
                ngx_tracker_pg_fail(pc, PQerrorMessage(pc->conn));
            }

            return;
        }

        ngx_tracker_pg_read(pc);
        return;
    }
}


static void
ngx_tracker_pg_connect_poll(ngx_tracker_pg_conn_t *pc)
{
    PostgresPollingStatusType  st;

    st = PQconnectPoll(pc->conn);

    /* the socket may change on every poll */
    if (st != PGRES_POLLING_FAILED && ngx_tracker_pg_watch(pc) != NGX_OK) {
        ngx_tracker_pg_fail(pc, "cannot watch the socket");
        return;
    }

    switch (st) {

    case PGRES_POLLING_READING:
        if (ngx_tracker_pg_want_write(pc, 0) != NGX_OK) {
            ngx_tracker_pg_fail(pc, "event error");
        }

        return;

    case PGRES_POLLING_WRITING:
        if (ngx_tracker_pg_want_write(pc, 1) != NGX_OK) {
            ngx_tracker_pg_fail(pc, "event error");
        }

        return;

    case PGRES_POLLING_OK:
        ngx_tracker_pg_connected(pc);
        return;

    default:
        ngx_tracker_pg_fail(pc, PQerrorMessage(pc->conn));
        return;
    }
}


static void
ngx_tracker_pg_connected(ngx_tracker_pg_conn_t *pc)
{
    ngx_tracker_pg_t  *pg = pc->pg;

    if (pc->c->read->timer_set) {
        ngx_del_timer(pc->c->read);
    }

    if (ngx_tracker_pg_want_write(pc, 0) != NGX_OK
        || PQsetnonblocking(pc->conn, 1) != 0)
    {
        ngx_tracker_pg_fail(pc, "cannot switch to non-blocking mode");
        return;
    }

    pg->down_until = 0;

    ngx_log_debug1(NGX_LOG_DEBUG_EVENT, pg->log, 0,
                   "tracker database: connected, fd:%d", pc->c->fd);

    if (pc->listen) {
        /* a plain (non-pipelined) LISTEN; results are read as they come */
        if (!PQsendQuery(pc->conn, pc->channel)) {
            ngx_tracker_pg_fail(pc, PQerrorMessage(pc->conn));
            return;
        }

        pc->state = NGX_TRACKER_PG_LISTENING;

        if (ngx_tracker_pg_flush(pc) != NGX_OK) {
            ngx_tracker_pg_fail(pc, PQerrorMessage(pc->conn));
        }

        return;
    }

    if (!PQenterPipelineMode(pc->conn)) {
        ngx_tracker_pg_fail(pc, PQerrorMessage(pc->conn));
        return;
    }

    ngx_tracker_pg_release(pc);
}


static ngx_uint_t
ngx_tracker_pg_is_prepared(ngx_tracker_pg_conn_t *pc, const char *name)
{
    ngx_uint_t  i;

    for (i = 0; i < pc->nprepared; i++) {
        if (pc->prepared[i] == name) {
            return 1;
        }
    }

    return 0;
}


static ngx_int_t
ngx_tracker_pg_send(ngx_tracker_pg_conn_t *pc)
{
    u_char                  *p;
    ngx_uint_t               i;
    const char              *values[1];
    ngx_tracker_pg_stmt_t   *st;
    ngx_tracker_pg_query_t  *q;
    u_char                   timeout[NGX_INT_T_LEN + 3];
    u_char                   name[NGX_PTR_SIZE * 2 + 3];

    q = pc->query;
    pc->ncmds = 0;
    pc->cmd = 0;

    if (!pc->setup_done) {
        /* the server gives up on a statement when we do */
        p = ngx_sprintf(timeout, "%Mms", pc->pg->query_timeout);
        *p = '\0';
        values[0] = (const char *) timeout;

        if (!PQsendQueryParams(pc->conn,
                               "SELECT set_config('statement_timeout', $1, "
                               "false)", 1, NULL, values, NULL, NULL, 0))
        {
            return NGX_ERROR;
        }

        pc->cmds[pc->ncmds++] = NGX_TRACKER_PG_CMD_SETUP;
    }

    for (i = 0; i < q->nstmts; i++) {
        st = &q->stmts[i];

        if (st->name == NULL) {
            if (!PQsendQueryParams(pc->conn, st->sql, st->nparams, NULL,
                                   st->values, st->lengths, st->formats,
                                   st->binary_result))
            {
                return NGX_ERROR;
            }

            pc->cmds[pc->ncmds++] = (u_char) i;
            continue;
        }

        /*
         * The server-side name comes from the static string's address:
         * unique in this worker, and short (identifiers are cut at 63).
         */
        p = ngx_sprintf(name, "t%xi", (ngx_uint_t) (uintptr_t) st->name);
        *p = '\0';

        if (!ngx_tracker_pg_is_prepared(pc, st->name)) {
            if (!PQsendPrepare(pc->conn, (const char *) name, st->sql,
                               st->nparams, NULL))
            {
                return NGX_ERROR;
            }

            pc->pending_prepare[pc->ncmds] = st->name;
            pc->cmds[pc->ncmds++] = NGX_TRACKER_PG_CMD_PREPARE;

            /* optimistic: a failed prepare takes the name out again */
            if (pc->nprepared < NGX_TRACKER_PG_MAX_PREPARED) {
                pc->prepared[pc->nprepared++] = st->name;
            }
        }

        if (!PQsendQueryPrepared(pc->conn, (const char *) name, st->nparams,
                                 st->values, st->lengths, st->formats,
                                 st->binary_result))
        {
            return NGX_ERROR;
        }

        pc->cmds[pc->ncmds++] = (u_char) i;
    }

    if (!PQpipelineSync(pc->conn)) {
        return NGX_ERROR;
    }

    pc->state = NGX_TRACKER_PG_BUSY;

    /* a query in flight does: its owner is waiting for it */
    pc->c->read->cancelable = 0;
    ngx_add_timer(pc->c->read, pc->pg->query_timeout);

    return ngx_tracker_pg_flush(pc);
}


static ngx_int_t
ngx_tracker_pg_flush(ngx_tracker_pg_conn_t *pc)
{
    int  rc;

    rc = PQflush(pc->conn);

    if (rc == -1) {
        return NGX_ERROR;
    }

    /* 1: the kernel buffer is full; wait until the socket is writable */
    return ngx_tracker_pg_want_write(pc, rc == 1);
}


static void
ngx_tracker_pg_read(ngx_tracker_pg_conn_t *pc)
{
    PGresult  *res;

    if (!PQconsumeInput(pc->conn)) {
        ngx_tracker_pg_fail(pc, PQerrorMessage(pc->conn));
        return;
    }

    for ( ;; ) {
        if (PQisBusy(pc->conn)) {
            /* sending may have stalled while the server was answering */
            if (ngx_tracker_pg_flush(pc) != NGX_OK) {
                ngx_tracker_pg_fail(pc, PQerrorMessage(pc->conn));
            }

            return;
        }

        res = PQgetResult(pc->conn);

        if (res == NULL) {
            /* the end of one command's results */
            pc->cmd++;
            continue;
        }

        if (PQresultStatus(res) == PGRES_PIPELINE_SYNC) {
            PQclear(res);
            ngx_tracker_pg_done(pc);
            return;
        }

        if (pc->cmd >= pc->ncmds) {
            PQclear(res);
            ngx_tracker_pg_fail(pc, "unexpected result");
            return;
        }

        ngx_tracker_pg_result(pc, res);
    }
}


static void
ngx_tracker_pg_result(ngx_tracker_pg_conn_t *pc, PGresult *res)
{
    char                    *msg;
    u_char                   cmd;
    ngx_uint_t               i, ok;
    ExecStatusType           st;
    ngx_tracker_pg_query_t  *q;

    q = pc->query;
    cmd = pc->cmds[pc->cmd];
    st = PQresultStatus(res);
    ok = (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK);

    if (cmd & NGX_TRACKER_PG_CMD_SETUP) {
        pc->setup_done = ok;
        PQclear(res);
        return;
    }

    if (cmd & NGX_TRACKER_PG_CMD_PREPARE) {
        if (!ok) {
            for (i = 0; i < pc->nprepared; i++) {
                if (pc->prepared[i] == pc->pending_prepare[pc->cmd]) {
                    pc->prepared[i] = pc->prepared[--pc->nprepared];
                    break;
                }
            }

            if (q && q->rc == NGX_OK && st == PGRES_FATAL_ERROR) {
                /* keep the result: the message points into it */
                q->rc = NGX_ERROR;
                msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
                q->error.data = (u_char *) (msg ? msg : "prepare failed");
                q->error.len = ngx_strlen(q->error.data);
                q->err_res = res;

                ngx_log_error(NGX_LOG_ERR, pc->pg->log, 0,
                              "tracker database: %V", &q->error);
                return;
            }
        }

        PQclear(res);
        return;
    }

    i = cmd & NGX_TRACKER_PG_CMD_INDEX;

    if (q == NULL || q->res[i] != NULL) {
        PQclear(res);
        return;
    }

    q->res[i] = res;

    if (!ok && q->rc == NGX_OK) {
        q->rc = NGX_ERROR;

        if (st == PGRES_PIPELINE_ABORTED) {
            ngx_str_set(&q->error, "statement not run: pipeline aborted");

        } else {
            msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
            q->error.data = (u_char *) (msg ? msg : "statement failed");
            q->error.len = ngx_strlen(q->error.data);
        }

        ngx_log_error(NGX_LOG_ERR, pc->pg->log, 0,
                      "tracker database: %V", &q->error);
    }
}


static void
ngx_tracker_pg_done(ngx_tracker_pg_conn_t *pc)
{
    ngx_tracker_pg_query_t  *q;

    if (pc->c->read->timer_set) {
        ngx_del_timer(pc->c->read);
    }

    q = pc->query;
    pc->query = NULL;

    /* the connection serves the next query before this one's handler runs */
    ngx_tracker_pg_release(pc);

    if (q == NULL) {
        return;
    }

    q->conn = NULL;

    if (q->rc != NGX_OK) {
        pc->pg->failures++;
    }

    q->handler(q);

    ngx_tracker_pg_clear(q);
}


static void
ngx_tracker_pg_clear(ngx_tracker_pg_query_t *q)
{
    ngx_uint_t  i;

    for (i = 0; i < NGX_TRACKER_PG_MAX_STMTS; i++) {
        if (q->res[i]) {
            PQclear(q->res[i]);
            q->res[i] = NULL;
        }
    }

    if (q->err_res) {
        PQclear(q->err_res);
        q->err_res = NULL;
    }
}


/* an idle connection takes the oldest waiting query, or waits itself */
static void
ngx_tracker_pg_release(ngx_tracker_pg_conn_t *pc)
{
    ngx_queue_t             *qu;
    ngx_tracker_pg_t        *pg = pc->pg;
    ngx_tracker_pg_query_t  *q;

    pc->state = NGX_TRACKER_PG_IDLE;

    while (!ngx_queue_empty(&pg->waiting)) {
        qu = ngx_queue_head(&pg->waiting);
        ngx_queue_remove(qu);
        pg->nwaiting--;

        q = ngx_queue_data(qu, ngx_tracker_pg_query_t, queue);
        q->queued = 0;
        q->conn = pc;
        pc->query = q;

        if (ngx_tracker_pg_send(pc) == NGX_OK) {
            return;
        }

        /* put it back first: fail() fails the waiting queries too */
        ngx_queue_insert_head(&pg->waiting, qu);
        q->queued = 1;
        q->conn = NULL;
        pc->query = NULL;
        pg->nwaiting++;

        ngx_tracker_pg_fail(pc, PQerrorMessage(pc->conn));
        return;
    }

    ngx_queue_insert_head(&pg->idle, &pc->queue);
    pc->in_idle = 1;

    /* an idle connection never holds up a graceful shutdown */
    pc->c->read->cancelable = 1;
    ngx_add_timer(pc->c->read, pg->idle_timeout);
}


/* a connection broke: its query fails, and so do the waiting ones if no
 * other connection is left to serve them */
static void
ngx_tracker_pg_fail(ngx_tracker_pg_conn_t *pc, const char *why)
{
    ngx_tracker_pg_t        *pg = pc->pg;
    ngx_tracker_pg_query_t  *q;

    ngx_tracker_pg_set_error(pg, why);

    ngx_log_error(NGX_LOG_ERR, pg->log, 0, "tracker database: %V",
                  &pg->last_error);

    q = pc->query;
    pc->query = NULL;

    if (pc->state == NGX_TRACKER_PG_CONNECTING) {
        pg->down_until = ngx_current_msec + pg->retry;
    }

    /* why may point into the PGconn that close() frees: not passed on */
    ngx_tracker_pg_close(pc);

    if (q) {
        ngx_tracker_pg_finish_query(q, NGX_DECLINED, "database unavailable");
    }

    if (pg->nconns == 0) {
        ngx_tracker_pg_fail_waiting(pg);
    }
}


static void
ngx_tracker_pg_close(ngx_tracker_pg_conn_t *pc)
{
    ngx_uint_t         flags;
    ngx_connection_t  *c;
    ngx_tracker_pg_t  *pg = pc->pg;

    c = pc->c;

    if (pc->in_idle) {
        ngx_queue_remove(&pc->queue);
        pc->in_idle = 0;
    }

    if (c) {
        if (c->read->timer_set) {
            ngx_del_timer(c->read);
        }

        if (c->read->posted) {
            ngx_delete_posted_event(c->read);
        }

        if (c->write->posted) {
            ngx_delete_posted_event(c->write);
        }

        /* after a lost connection libpq has closed the socket already */
        flags = (pc->conn && PQsocket(pc->conn) == c->fd) ? 0
                                                           : NGX_CLOSE_EVENT;

        if (c->read->active) {
            ngx_del_event(c->read, NGX_READ_EVENT, flags);
        }

        if (c->write->active) {
            ngx_del_event(c->write, NGX_WRITE_EVENT, flags);
        }

        /* libpq closes the descriptor; nginx must not think it is open */
        c->fd = (ngx_socket_t) -1;
        ngx_free_connection(c);
        pc->c = NULL;
    }

    if (pc->conn) {
        PQfinish(pc->conn);
        pc->conn = NULL;
        ngx_queue_remove(&pc->open);
    }

    if (pc->query) {
        /* the owner hears about it; a detached query has no owner */
        pc->query->conn = NULL;
        ngx_tracker_pg_finish_query(pc->query, NGX_DECLINED,
                                    "connection closed");
        pc->query = NULL;
    }

    if (pc->listen) {
        pc->state = NGX_TRACKER_PG_CONNECTING;

        if (!pg->shutdown && !ngx_exiting && !ngx_quit && !ngx_terminate) {
            ngx_add_timer(&pc->retry, pg->retry);
        }

        return;
    }

    pg->nconns--;
    ngx_queue_insert_head(&pg->free, &pc->queue);
}


static void
ngx_tracker_pg_finish_query(ngx_tracker_pg_query_t *q, ngx_int_t rc,
    const char *why)
{
    q->conn = NULL;
    q->rc = rc;
    q->error.data = (u_char *) why;
    q->error.len = ngx_strlen(why);

    q->handler(q);

    ngx_tracker_pg_clear(q);
}


static void
ngx_tracker_pg_fail_waiting(ngx_tracker_pg_t *pg)
{
    ngx_queue_t             *qu;
    ngx_tracker_pg_query_t  *q;

    while (!ngx_queue_empty(&pg->waiting)) {
        qu = ngx_queue_head(&pg->waiting);
        ngx_queue_remove(qu);
        pg->nwaiting--;

        q = ngx_queue_data(qu, ngx_tracker_pg_query_t, queue);
        q->queued = 0;
        pg->failures++;

        ngx_tracker_pg_finish_query(q, NGX_DECLINED,
                                    "database unavailable");
    }
}


static void
ngx_tracker_pg_set_error(ngx_tracker_pg_t *pg, const char *why)
{
    size_t  len;

    len = ngx_min(ngx_strlen(why), sizeof(pg->last_error_buf));

    /* libpq's messages end with a newline */
    while (len && (why[len - 1] == '\n' || why[len - 1] == ' ')) {
        len--;
    }

    ngx_memcpy(pg->last_error_buf, why, len);
    pg->last_error.data = pg->last_error_buf;
    pg->last_error.len = len;
}


ngx_int_t
ngx_tracker_pg_listen(ngx_tracker_pg_t *pg, const char *listen_sql,
    ngx_tracker_pg_notify_pt notify, ngx_tracker_pg_resync_pt resync,
    void *data)
{
    ngx_tracker_pg_conn_t  *pc;

    pc = ngx_pcalloc(ngx_cycle->pool, sizeof(ngx_tracker_pg_conn_t));
    if (pc == NULL) {
        return NGX_ERROR;
    }

    pc->pg = pg;
    pc->listen = 1;
    pc->channel = listen_sql;
    pc->notify = notify;
    pc->resync = resync;
    pc->data = data;

    pc->retry.handler = ngx_tracker_pg_listen_retry;
    pc->retry.data = pc;
    pc->retry.log = pg->log;
    /* a lost listener must not hold up a graceful shutdown */
    pc->retry.cancelable = 1;

    if (ngx_tracker_pg_connect(pg, pc) != NGX_OK) {
        ngx_add_timer(&pc->retry, pg->retry);
    }

    return NGX_OK;
}


static void
ngx_tracker_pg_listen_retry(ngx_event_t *ev)
{
    ngx_tracker_pg_conn_t  *pc = ev->data;

    if (ngx_exiting || ngx_quit || ngx_terminate) {
        return;
    }

    if (ngx_tracker_pg_connect(pc->pg, pc) != NGX_OK) {
        ngx_add_timer(&pc->retry, pc->pg->retry);
    }
}


static void
ngx_tracker_pg_listen_read(ngx_tracker_pg_conn_t *pc)
{
    ngx_str_t   payload;
    PGnotify   *n;
    PGresult   *res;

    if (ngx_tracker_pg_flush(pc) != NGX_OK || !PQconsumeInput(pc->conn)) {
        ngx_tracker_pg_set_error(pc->pg, PQerrorMessage(pc->conn));
        ngx_log_error(NGX_LOG_ERR, pc->pg->log, 0,
                      "tracker database: listener: %V",
                      &pc->pg->last_error);
        ngx_tracker_pg_close(pc);
        return;
    }

    /* the LISTEN's own result */
    while (!pc->listening && !PQisBusy(pc->conn)) {
        res = PQgetResult(pc->conn);
        if (res == NULL) {
            /* notifications sent while we were away are lost: start over */
            pc->listening = 1;
            pc->resync(pc->data);
            break;
        }

        if (PQresultStatus(res) != PGRES_COMMAND_OK) {
            ngx_tracker_pg_set_error(pc->pg, PQresultErrorMessage(res));
            PQclear(res);
            ngx_tracker_pg_close(pc);
            return;
        }

        PQclear(res);
    }

    while ((n = PQnotifies(pc->conn)) != NULL) {
        payload.data = (u_char *) n->extra;
        payload.len = ngx_strlen(n->extra);

        pc->notify(pc->data, &payload);

        PQfreemem(n);
    }
}
