
/*
 * ngx_tracker: the health location (the JSON API's /health): runs one
 * statement on the database pool and answers 200 when it succeeds, 503 with
 * the API's error shape when the database is unavailable.  The request
 * waits on events; the worker goes on serving everything else.
 */

#include "ngx_tracker_module.h"


typedef struct {
    ngx_tracker_pg_query_t   q;
    ngx_http_request_t      *r;
    ngx_msec_t               started;
} ngx_http_tracker_health_ctx_t;


static void ngx_http_tracker_health_done(ngx_tracker_pg_query_t *q);


static ngx_str_t  ngx_http_tracker_health_unavailable =
    ngx_string("{\"error\":true,\"message\":\"Database unavailable.\"}\n");


ngx_int_t
ngx_http_tracker_health_handler(ngx_http_request_t *r)
{
    ngx_int_t                       rc;
    ngx_tracker_pg_stmt_t          *st;
    ngx_http_tracker_loc_conf_t    *tlcf;
    ngx_http_tracker_main_conf_t   *tmcf;
    ngx_http_tracker_health_ctx_t  *ctx;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    tmcf = ngx_http_get_module_main_conf(r, ngx_http_tracker_module);
    tlcf = ngx_http_get_module_loc_conf(r, ngx_http_tracker_module);

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_tracker_health_ctx_t));
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->r = r;
    ctx->started = ngx_current_msec;

    st = &ctx->q.stmts[0];
    st->name = (const char *) tlcf->health_sql.data;
    st->sql = (const char *) tlcf->health_sql.data;

    ctx->q.nstmts = 1;
    ctx->q.handler = ngx_http_tracker_health_done;
    ctx->q.data = ctx;

    if (ngx_tracker_pg_detach_on_cleanup(r->pool, &ctx->q) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_tracker_pg_run(tmcf->pg, &ctx->q) != NGX_OK) {
        return ngx_http_tracker_send_json(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                    ngx_http_tracker_health_unavailable.data,
                                    ngx_http_tracker_health_unavailable.len);
    }

    r->main->count++;

    return NGX_DONE;
}


static void
ngx_http_tracker_health_done(ngx_tracker_pg_query_t *q)
{
    u_char                         *body, *p;
    ngx_int_t                       rc;
    ngx_connection_t               *c;
    ngx_http_request_t             *r;
    ngx_http_tracker_health_ctx_t  *ctx = q->data;

    r = ctx->r;
    c = r->connection;

    if (q->rc != NGX_OK) {
        rc = ngx_http_tracker_send_json(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                    ngx_http_tracker_health_unavailable.data,
                                    ngx_http_tracker_health_unavailable.len);
        goto done;
    }

    body = ngx_pnalloc(r->pool, 64 + NGX_INT_T_LEN);
    if (body == NULL) {
        rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
        goto done;
    }

    p = ngx_sprintf(body, "{\"error\":false,\"data\":{\"database\":\"ok\","
                          "\"latency_ms\":%M}}\n",
                    ngx_current_msec - ctx->started);

    rc = ngx_http_tracker_send_json(r, NGX_HTTP_OK, body, p - body);

done:

    ngx_http_finalize_request(r, rc);
    ngx_http_run_posted_requests(c);
}

