
/*
 * ngx_tracker: set_tracker_hex $var <value>, built on ngx_devel_kit's
 * ndk_set_var_value.  It percent-decodes a value such as $arg_info_hash
 * and writes it as lowercase hex, so log_format can show which torrent an
 * announce was for.  A value that does not decode gives an empty string.
 */

#define NDK 1
#define NDK_SET_VAR 1
#include <ndk.h>

#include "ngx_tracker_module.h"


/* decoded values longer than this are not identifiers: left empty */
#define NGX_HTTP_TRACKER_HEX_MAX  64


static ngx_int_t ngx_http_tracker_hex_value(ngx_http_request_t *r,
    ngx_str_t *res, ngx_http_variable_value_t *v);


char *
ngx_http_tracker_set_hex(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_str_t       *value;
    ndk_set_var_t    filter;

    value = cf->args->elts;

    filter.type = NDK_SET_VAR_VALUE;
    filter.func = (void *) ngx_http_tracker_hex_value;
    filter.size = 1;
    filter.data = NULL;

    return ndk_set_var_value_core(cf, &value[1], &value[2], &filter);
}


static ngx_int_t
ngx_http_tracker_hex_value(ngx_http_request_t *r, ngx_str_t *res,
    ngx_http_variable_value_t *v)
{
    u_char  raw[NGX_HTTP_TRACKER_HEX_MAX];
    size_t  n;

    if (v->len == 0
        || ngx_tracker_unescape(raw, sizeof(raw), v->data, v->len, &n)
           != NGX_OK)
    {
        res->data = NULL;
        res->len = 0;
        return NGX_OK;
    }

    res->data = ngx_pnalloc(r->pool, 2 * n);
    if (res->data == NULL) {
        return NGX_ERROR;
    }

    res->len = ngx_hex_dump(res->data, raw, n) - res->data;

    return NGX_OK;
}
