
/*
 * ngx_tracker: what the announce and scrape handlers share: the passkey in
 * the path, sending one bencoded buffer, and bencoded failures.
 */

#include "ngx_tracker_module.h"
#include "ngx_tracker_limit.h"


ngx_tracker_err_e
ngx_http_tracker_uri_passkey(ngx_http_request_t *r, ngx_str_t *verb,
    ngx_str_t *passkey)
{
    return ngx_tracker_path_passkey(r->uri.data, r->uri.data + r->uri.len,
                                    verb, passkey);
}


ngx_int_t
ngx_http_tracker_send(ngx_http_request_t *r, u_char *body, size_t len)
{
    static ngx_str_t  type = ngx_string("text/plain");

    return ngx_http_tracker_send_type(r, NGX_HTTP_OK, &type, body, len);
}


ngx_int_t
ngx_http_tracker_send_json(ngx_http_request_t *r, ngx_uint_t status,
    u_char *body, size_t len)
{
    static ngx_str_t  type = ngx_string("application/json");

    return ngx_http_tracker_send_type(r, status, &type, body, len);
}


ngx_int_t
ngx_http_tracker_send_type(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t *type, u_char *body, size_t len)
{
    ngx_int_t     rc;
    ngx_buf_t    *b;
    ngx_chain_t   out;

    r->headers_out.status = status;
    r->headers_out.content_length_n = len;
    r->headers_out.content_type = *type;
    r->headers_out.content_type_len = type->len;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->pos = body;
    b->last = body + len;
    b->memory = 1;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


ngx_int_t
ngx_http_tracker_failure(ngx_http_request_t *r, ngx_tracker_swarm_t *sw,
    ngx_tracker_err_e err)
{
    u_char           *body, *last;
    const ngx_str_t  *text;

    (void) ngx_atomic_fetch_add(&sw->sh->failures[err], 1);

    /* bad passkey floods count against the address (tracker_limit) */
    if (err == NGX_TRACKER_ERR_PASSKEY
        || err == NGX_TRACKER_ERR_PASSKEY_UNKNOWN)
    {
        (void) ngx_tracker_limit_penalize(r);
    }

    text = ngx_tracker_err_text(err);

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "tracker failure: %s", ngx_tracker_err_name(err));

    body = ngx_pnalloc(r->pool, ngx_tracker_bencode_failure_len(text));
    if (body == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    last = ngx_tracker_bencode_failure(body, text);

    return ngx_http_tracker_send(r, body, last - body);
}
