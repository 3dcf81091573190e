
/*
 * ngx_tracker: PostgreSQL from inside the event loop.
 *
 * A per-worker pool of libpq connections, each driven by nginx events:
 * PQconnectStart/PQconnectPoll to connect, pipeline mode for everything
 * after that.  A query is one or more statements sent in one pipeline
 * (named statements are prepared on first use on each connection, in the
 * same round trip), and the caller is called back once with all results.
 *
 * Results live only for the duration of the callback: the pool clears them
 * afterwards, so callers copy what they keep.  A query whose owner goes
 * away (request pool destroyed) is detached: its connection drains the
 * results and returns to the pool.
 */

#ifndef _NGX_TRACKER_PG_H_INCLUDED_
#define _NGX_TRACKER_PG_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>
#include <libpq-fe.h>


#define NGX_TRACKER_PG_MAX_STMTS     4
#define NGX_TRACKER_PG_MAX_PREPARED  32


typedef struct ngx_tracker_pg_s        ngx_tracker_pg_t;
typedef struct ngx_tracker_pg_conn_s   ngx_tracker_pg_conn_t;
typedef struct ngx_tracker_pg_query_s  ngx_tracker_pg_query_t;

typedef void (*ngx_tracker_pg_handler_pt)(ngx_tracker_pg_query_t *q);


typedef struct {
    /*
     * Prepared once per connection when set: any string that lives as long
     * as the configuration (its address identifies the statement); NULL:
     * sent unnamed every time.
     */
    const char                  *name;
    const char                  *sql;
    int                          nparams;
    const char                 **values;
    int                         *lengths;       /* NULL: text params */
    int                         *formats;
    int                          binary_result;
} ngx_tracker_pg_stmt_t;


struct ngx_tracker_pg_query_s {
    ngx_tracker_pg_stmt_t        stmts[NGX_TRACKER_PG_MAX_STMTS];
    ngx_uint_t                   nstmts;

    ngx_tracker_pg_handler_pt    handler;
    void                        *data;

    /*
     * NGX_OK: every statement ran (res[] holds their results);
     * NGX_ERROR: a statement failed (error says why; res[] up to it);
     * NGX_DECLINED: the database is unreachable or the query timed out.
     */
    ngx_int_t                    rc;
    PGresult                    *res[NGX_TRACKER_PG_MAX_STMTS];
    ngx_str_t                    error;

    /* private */
    ngx_queue_t                  queue;
    ngx_tracker_pg_t            *pg;
    ngx_tracker_pg_conn_t       *conn;
    PGresult                    *err_res;     /* holds error's bytes */
    unsigned                     queued:1;
};


struct ngx_tracker_pg_s {
    ngx_str_t                    conninfo;
    ngx_uint_t                   size;          /* connections per worker */
    ngx_uint_t                   max_waiting;
    ngx_msec_t                   connect_timeout;
    ngx_msec_t                   query_timeout;
    ngx_msec_t                   idle_timeout;
    ngx_msec_t                   retry;         /* after a failed connect */

    /* per worker */
    ngx_log_t                   *log;
    ngx_queue_t                  idle;
    ngx_queue_t                  free;        /* spare connection structs */
    ngx_queue_t                  open;        /* every live connection */
    ngx_queue_t                  waiting;
    ngx_uint_t                   nconns;
    ngx_uint_t                   nwaiting;
    ngx_msec_t                   down_until;
    ngx_str_t                    last_error;
    ngx_uint_t                   shutdown;
    u_char                       last_error_buf[128];

    /* counters (this worker) */
    ngx_uint_t                   queries;
    ngx_uint_t                   failures;
    ngx_uint_t                   connects;
};


ngx_tracker_pg_t *ngx_tracker_pg_create(ngx_conf_t *cf);
char *ngx_tracker_pg_conf(ngx_conf_t *cf, ngx_tracker_pg_t *pg,
    ngx_str_t *args, ngx_uint_t nargs);
void ngx_tracker_pg_init_worker(ngx_tracker_pg_t *pg, ngx_log_t *log);

/*
 * Runs q on a pooled connection (or queues it) and returns NGX_OK: then
 * q->handler is called exactly once, later, never from inside this call.
 * NGX_DECLINED: the database is known to be down or the queue is full;
 * NGX_ERROR: bad arguments.  The handler is not called in either case.
 */
ngx_int_t ngx_tracker_pg_run(ngx_tracker_pg_t *pg, ngx_tracker_pg_query_t *q);

/* forgets q: its handler is not called and its results are dropped */
void ngx_tracker_pg_detach(ngx_tracker_pg_query_t *q);

/* a pool cleanup that detaches q when its owner's pool goes away */
ngx_int_t ngx_tracker_pg_detach_on_cleanup(ngx_pool_t *pool,
    ngx_tracker_pg_query_t *q);

/* closes every connection: a worker must not exit with sockets open */
void ngx_tracker_pg_shutdown(ngx_tracker_pg_t *pg);

/* whether a connect recently failed (callers may skip the database) */
ngx_int_t ngx_tracker_pg_is_down(ngx_tracker_pg_t *pg);


/*
 * One dedicated connection outside the pool that LISTENs on a channel and
 * hands every notification's payload to a handler; it reconnects by itself
 * and reports each (re)connect, since notifications sent while it was away
 * are lost and the caller must resynchronise.
 */

typedef void (*ngx_tracker_pg_notify_pt)(void *data, ngx_str_t *payload);
typedef void (*ngx_tracker_pg_resync_pt)(void *data);

ngx_int_t ngx_tracker_pg_listen(ngx_tracker_pg_t *pg, const char *listen_sql,
    ngx_tracker_pg_notify_pt notify, ngx_tracker_pg_resync_pt resync,
    void *data);


#endif /* _NGX_TRACKER_PG_H_INCLUDED_ */
