
/*
 * ngx_tracker: JSON API uploads, answered by sql/011_api_upload.sql:
 *
 *   POST /upload             a base64 .torrent and its metadata
 *   PUT  /upload/checks      what an upload would be parsed as
 *   PUT  /upload/mediainfo   codec and languages from mediainfo output
 *
 * The .torrent is decoded and parsed here, strictly
 * (ngx_tracker_torrent_file.c, ngx_tracker_torrent_meta.c), and its facts
 * (info hashes over the exact info bytes, files, trackers) go to the SQL
 * function as the argument "torrent_meta"; a file that does not parse is
 * a 400 before the database is asked.  Values that are "number or null"
 * or nested objects are checked by the SQL (the body is passed whole).
 */

#include "ngx_tracker_module.h"
#include "ngx_tracker_api.h"
#include "ngx_tracker_torrent_meta.h"


static ngx_int_t ngx_tracker_api_upload_prepare(ngx_http_request_t *r,
    ngx_tracker_json_body_t *body, ngx_str_t *extra, ngx_uint_t *status,
    const char **message);
static ngx_int_t ngx_tracker_api_upload_base64(ngx_http_request_t *r,
    ngx_str_t *src, ngx_str_t *dst);
static const char *ngx_tracker_api_upload_refuse(ngx_http_request_t *r,
    const char *why);


static const ngx_tracker_api_param_t  ngx_tracker_api_upload_params[] = {
    { "torrent", NGX_TRACKER_API_STRING, 1, 0, 0, 0, 0, NULL, NULL },
    { "title", NGX_TRACKER_API_STRING, 1, 1, 1, 1, 512, NULL, NULL },
    { "movie", NGX_TRACKER_API_BOOLEAN, 1, 0, 0, 0, 0, NULL, NULL },
    { "mtl", NGX_TRACKER_API_BOOLEAN, 1, 0, 0, 0, 0, NULL, NULL },
    { "anonymous", NGX_TRACKER_API_BOOLEAN, 1, 0, 0, 0, 0, NULL, NULL },
    { "hidden", NGX_TRACKER_API_BOOLEAN, 1, 0, 0, 0, 0, NULL, NULL },
    { "otl", NGX_TRACKER_API_BOOLEAN, 1, 0, 0, 0, 0, NULL, NULL },
    { "hardsub", NGX_TRACKER_API_BOOLEAN, 1, 0, 0, 0, 0, NULL, NULL },
    { "audio_langs", NGX_TRACKER_API_STRING, 1, 0, 1, 0, 256, NULL, NULL },
    { "sub_langs", NGX_TRACKER_API_STRING, 1, 0, 1, 0, 256, NULL, NULL },
    { "fansub_langs", NGX_TRACKER_API_STRING, 1, 0, 1, 0, 256, NULL, NULL },
    { "description", NGX_TRACKER_API_STRING, 1, 0, 1, 0, 8192, NULL, NULL },
    { "mediainfo", NGX_TRACKER_API_STRING, 0, 0, 1, 0, 65536, NULL, NULL },
    { "ignore_warnings", NGX_TRACKER_API_BOOLEAN, 0, 0, 0, 0, 0, "false",
      NULL },
    { NULL, 0, 0, 0, 0, 0, 0, NULL, NULL }
};

static const ngx_tracker_api_param_t  ngx_tracker_api_checks_params[] = {
    { "title", NGX_TRACKER_API_STRING, 1, 0, 1, 0, 512, NULL, NULL },
    { "movie", NGX_TRACKER_API_BOOLEAN, 1, 0, 0, 0, 0, NULL, NULL },
    { "mtl", NGX_TRACKER_API_BOOLEAN, 1, 0, 0, 0, 0, NULL, NULL },
    { "otl", NGX_TRACKER_API_BOOLEAN, 1, 0, 0, 0, 0, NULL, NULL },
    { "hardsub", NGX_TRACKER_API_BOOLEAN, 1, 0, 0, 0, 0, NULL, NULL },
    { "audio_langs", NGX_TRACKER_API_STRING, 1, 0, 1, 0, 256, NULL, NULL },
    { "sub_langs", NGX_TRACKER_API_STRING, 1, 0, 1, 0, 256, NULL, NULL },
    { "fansub_langs", NGX_TRACKER_API_STRING, 1, 0, 1, 0, 256, NULL, NULL },
    { NULL, 0, 0, 0, 0, 0, 0, NULL, NULL }
};


const ngx_tracker_api_route_t  ngx_tracker_api_upload_routes[] = {

    { .methods = NGX_HTTP_POST, .pattern = "upload",
      .auth = NGX_TRACKER_API_AUTH_REQUIRED,
      .sql = NGX_TRACKER_API_SQL("api_upload"),
      .params = ngx_tracker_api_upload_params, .raw_body = 1,
      .prepare = ngx_tracker_api_upload_prepare },

    { .methods = NGX_HTTP_PUT, .pattern = "upload/checks",
      .auth = NGX_TRACKER_API_AUTH_REQUIRED,
      .sql = NGX_TRACKER_API_SQL("api_upload_checks"),
      .params = ngx_tracker_api_checks_params, .raw_body = 1 },

    { .methods = NGX_HTTP_PUT, .pattern = "upload/mediainfo",
      .auth = NGX_TRACKER_API_AUTH_OPTIONAL,
      .sql = NGX_TRACKER_API_SQL("api_upload_mediainfo"),
      .raw_body = 1 },

    ngx_tracker_api_null_route
};


/* the "torrent" member: decoded, parsed, described as "torrent_meta" */
static ngx_int_t
ngx_tracker_api_upload_prepare(ngx_http_request_t *r,
    ngx_tracker_json_body_t *body, ngx_str_t *extra, ngx_uint_t *status,
    const char **message)
{
    u_char                      *p;
    size_t                       n;
    ngx_int_t                    rc;
    ngx_str_t                    data;
    ngx_uint_t                   i;
    ngx_tracker_json_field_t    *f;
    ngx_tracker_torrent_meta_t   m;
    ngx_tracker_torrent_file_t   t;

    static const char  member[] = "\"torrent_meta\":";

    f = NULL;

    for (i = 0; body && i < body->nnames; i++) {
        if (ngx_strcmp(body->names[i], "torrent") == 0) {
            f = &body->fields[i];
            break;
        }
    }

    /* the parameter checks made it a required string */
    if (f == NULL || f->type != NGX_TRACKER_JSON_STRING) {
        return NGX_ERROR;
    }

    *status = NGX_HTTP_BAD_REQUEST;

    rc = ngx_tracker_api_upload_base64(r, &f->text, &data);

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (rc == NGX_DECLINED || data.len == 0) {
        *message = ngx_tracker_api_upload_refuse(r, "not base64");
        return *message ? NGX_DECLINED : NGX_ERROR;
    }

    if (ngx_tracker_torrent_parse(&t, data.data, data.len) != NGX_OK) {
        *message = ngx_tracker_api_upload_refuse(r, t.error);
        return *message ? NGX_DECLINED : NGX_ERROR;
    }

    rc = ngx_tracker_torrent_meta(&m, &t);

    if (rc == NGX_DECLINED) {
        *message = ngx_tracker_api_upload_refuse(r, m.error);
        return *message ? NGX_DECLINED : NGX_ERROR;
    }

    if (rc != NGX_OK) {
        return NGX_ERROR;
    }

    n = ngx_tracker_torrent_meta_json(NULL, &m, &t);

    p = ngx_pnalloc(r->pool, sizeof(member) - 1 + n);
    if (p == NULL) {
        return NGX_ERROR;
    }

    extra->data = p;
    p = ngx_cpymem(p, member, sizeof(member) - 1);
    p += ngx_tracker_torrent_meta_json(p, &m, &t);
    extra->len = p - extra->data;

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "tracker api: upload of %uz bytes, version %ui, "
                   "%ui files", data.len, m.version, m.nfiles);

    return NGX_OK;
}


/*
 * Base64 as clients send it: line breaks and blanks are ignored, the
 * padding may be left out.  Anything else outside the alphabet, or
 * after the padding, is not base64 (ngx_decode_base64() alone stops at
 * the first such byte and keeps what came before).
 */
static ngx_int_t
ngx_tracker_api_upload_base64(ngx_http_request_t *r, ngx_str_t *src,
    ngx_str_t *dst)
{
    u_char      *s, *end, *q, c;
    ngx_str_t    clean;
    ngx_uint_t   pad;

    clean.data = ngx_pnalloc(r->pool, src->len + 1);
    if (clean.data == NULL) {
        return NGX_ERROR;
    }

    q = clean.data;
    pad = 0;
    end = src->data + src->len;

    for (s = src->data; s < end; s++) {
        c = *s;

        if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
            continue;
        }

        if (c == '=') {
            pad++;
            continue;
        }

        if (pad
            || !((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
                 || (c >= '0' && c <= '9') || c == '+' || c == '/'))
        {
            return NGX_DECLINED;
        }

        *q++ = c;
    }

    clean.len = q - clean.data;

    if (pad > 2 || clean.len % 4 == 1
        || (pad && (clean.len + pad) % 4 != 0))
    {
        return NGX_DECLINED;
    }

    dst->data = ngx_pnalloc(r->pool, ngx_base64_decoded_length(clean.len)
                                     + 1);
    if (dst->data == NULL) {
        return NGX_ERROR;
    }

    return ngx_decode_base64(dst, &clean) == NGX_OK ? NGX_OK : NGX_DECLINED;
}


static const char *
ngx_tracker_api_upload_refuse(ngx_http_request_t *r, const char *why)
{
    u_char  *p;
    size_t   len;

    len = sizeof("Invalid torrent file: .") + ngx_strlen(why);

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NULL;
    }

    ngx_sprintf(p, "Invalid torrent file: %s.%Z", why);

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "tracker api: upload refused: %s", why);

    return (const char *) p;
}
