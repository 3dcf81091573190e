
/*
 * ngx_tracker: JSON request bodies of the API (PATCH and the like): the
 * bytes ngx_http_read_client_request_body() collected, parsed with yajl
 * into the route's parameters (ngx_tracker_json.c), yajl's memory taken
 * from the request pool.
 *
 * Bodies are kept in memory: one larger than client_body_buffer_size is
 * refused (413) rather than read back from a temporary file.
 */

#include "ngx_tracker_module.h"
#include "ngx_tracker_api.h"


static void *ngx_tracker_api_body_malloc(void *ctx, size_t size);
static void *ngx_tracker_api_body_realloc(void *ctx, void *ptr,
    size_t size);
static void ngx_tracker_api_body_free(void *ctx, void *ptr);


ngx_int_t
ngx_tracker_api_body(ngx_http_request_t *r,
    const ngx_tracker_api_param_t *params, ngx_tracker_json_body_t *body,
    ngx_str_t *raw)
{
    u_char                         *data, *p;
    size_t                          len;
    ngx_int_t                       rc;
    ngx_uint_t                      n, i;
    ngx_buf_t                      *b;
    ngx_chain_t                    *cl;
    yajl_alloc_funcs                afs;
    const char                    **names;
    ngx_http_request_body_t        *rb;
    const ngx_tracker_api_param_t  *pa;

    rb = r->request_body;
    data = NULL;
    len = 0;

    if (rb && rb->temp_file) {
        return NGX_HTTP_REQUEST_ENTITY_TOO_LARGE;
    }

    for (cl = rb ? rb->bufs : NULL; cl; cl = cl->next) {
        b = cl->buf;

        if (b->in_file) {
            return NGX_HTTP_REQUEST_ENTITY_TOO_LARGE;
        }

        if (data == NULL && ngx_buf_size(b)) {
            data = b->pos;
        }

        len += ngx_buf_size(b);
    }

    if (rb && rb->bufs && rb->bufs->next) {
        /* in pieces: one copy */
        data = ngx_pnalloc(r->pool, len);
        if (data == NULL) {
            return NGX_ERROR;
        }

        p = data;

        for (cl = rb->bufs; cl; cl = cl->next) {
            p = ngx_cpymem(p, cl->buf->pos, ngx_buf_size(cl->buf));
        }
    }

    for (n = 0, pa = params; pa && pa->name; pa++) {
        n++;
    }

    names = ngx_palloc(r->pool, (n + 1) * sizeof(char *));
    body->fields = ngx_palloc(r->pool,
                              (n + 1) * sizeof(ngx_tracker_json_field_t));
    body->scratch = ngx_pnalloc(r->pool, NGX_TRACKER_JSON_SCRATCH(len));

    if (names == NULL || body->fields == NULL || body->scratch == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < n; i++) {
        names[i] = params[i].name;
    }

    body->names = names;
    body->nnames = n;

    afs.malloc = ngx_tracker_api_body_malloc;
    afs.realloc = ngx_tracker_api_body_realloc;
    afs.free = ngx_tracker_api_body_free;
    afs.ctx = r->pool;

    raw->data = data;
    raw->len = len;

    if (data && ngx_strnstr(data, "\\u0000", len)) {
        /* valid JSON, but no PostgreSQL text or jsonb can hold it */
        body->error = "\\u0000 in a string";
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "tracker api: request body: %s", body->error);
        return NGX_DECLINED;
    }

    rc = ngx_tracker_json_body(body, data ? data : (u_char *) "", len, &afs);

    if (rc == NGX_DECLINED) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "tracker api: request body: %s", body->error);
    }

    return rc;
}


/* yajl's allocations from the pool; each remembers its size for realloc */

static void *
ngx_tracker_api_body_malloc(void *ctx, size_t size)
{
    size_t  *p;

    p = ngx_palloc(ctx, sizeof(size_t) + size);
    if (p == NULL) {
        return NULL;
    }

    *p = size;

    return p + 1;
}


static void *
ngx_tracker_api_body_realloc(void *ctx, void *ptr, size_t size)
{
    void    *n;
    size_t   old;

    n = ngx_tracker_api_body_malloc(ctx, size);

    if (n == NULL || ptr == NULL) {
        return n;
    }

    old = ((size_t *) ptr)[-1];
    ngx_memcpy(n, ptr, ngx_min(old, size));
    ngx_tracker_api_body_free(ctx, ptr);

    return n;
}


static void
ngx_tracker_api_body_free(void *ctx, void *ptr)
{
    if (ptr) {
        /* large blocks go back at once, small ones with the pool */
        (void) ngx_pfree(ctx, (size_t *) ptr - 1);
    }
}
