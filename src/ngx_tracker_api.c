
/*
 * ngx_tracker: the JSON API's handler: route, key, parameters, one SQL
 * function call, the response it renders (see ngx_tracker_api.h).
 */

#include "ngx_tracker_module.h"
#include "ngx_tracker_api.h"

#include <openssl/evp.h>


#define NGX_TRACKER_API_MAX_SEGMENTS  8
#define NGX_TRACKER_API_MAX_KEY       256

/* the route's parameters come from the request body */
#define ngx_http_tracker_api_reads_body(r, rt)                                \
    (((r)->method & NGX_TRACKER_API_BODY_METHODS) && !(rt)->query)


typedef struct {
    ngx_tracker_pg_query_t          q;
    ngx_http_request_t             *r;
    const ngx_tracker_api_route_t  *route;
    ngx_str_t                       captures[2];
    ngx_uint_t                      ncaptures;
    const char                     *values[2];
    int                             lengths[2];
    int                             formats[2];
    u_char                          key_hash[2 * 32 + 1];
    ngx_str_t                       cache_key;  /* set: keep the answer */
    const ngx_tracker_api_surface_t  *surface;
} ngx_http_tracker_api_ctx_t;


static ngx_int_t ngx_http_tracker_api_run(ngx_http_request_t *r,
    ngx_http_tracker_api_ctx_t *ctx);
static ngx_int_t ngx_http_tracker_api_query(ngx_http_request_t *r,
    ngx_http_tracker_api_ctx_t *ctx, ngx_str_t *args);
static void ngx_http_tracker_api_body_read(ngx_http_request_t *r);
static ngx_int_t ngx_http_tracker_api_key(ngx_http_request_t *r,
    const ngx_str_t *arg, u_char *hash);
static void ngx_http_tracker_api_done(ngx_tracker_pg_query_t *q);
static ngx_int_t ngx_http_tracker_api_error(ngx_http_request_t *r,
    ngx_uint_t status, const char *message);
static ngx_int_t ngx_http_tracker_api_invalid(ngx_http_request_t *r,
    ngx_tracker_api_invalid_t *invalid);
static ngx_int_t ngx_http_tracker_api_allow(ngx_http_request_t *r,
    ngx_uint_t methods);
static ngx_int_t ngx_http_tracker_api_cached(ngx_http_request_t *r,
    ngx_http_tracker_api_ctx_t *ctx, ngx_str_t *args);


static ngx_str_t  ngx_http_tracker_api_cookie = ngx_string("cookie_ssid");


static const ngx_tracker_api_surface_t  ngx_http_tracker_api_json = {
    .tables = ngx_tracker_api_tables,
    .key_arg = ngx_null_string,
    .error = ngx_http_tracker_api_error,
    .invalid = ngx_http_tracker_api_invalid
};


ngx_int_t
ngx_http_tracker_api_handler(ngx_http_request_t *r)
{
    return ngx_tracker_api_serve(r, &ngx_http_tracker_api_json);
}


/*
 * The JSON API, or another surface on the same machinery (Torznab, RSS:
 * src/ngx_tracker_torznab.c) with its own routes, key and error answers.
 */
ngx_int_t
ngx_tracker_api_serve(ngx_http_request_t *r,
    const ngx_tracker_api_surface_t *surface)
{
    ngx_int_t                       rc;
    ngx_str_t                       path, captures[2];
    ngx_uint_t                      ncaptures, wrong_method;
    ngx_http_core_loc_conf_t       *clcf;
    ngx_http_tracker_api_ctx_t     *ctx;
    const ngx_tracker_api_route_t  *route;

    /* the path below the location: /api/v1/torrents/1 -> torrents/1 */
    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);
    path = r->uri;

    if (!clcf->regex && path.len >= clcf->name.len) {
        path.data += clcf->name.len;
        path.len -= clcf->name.len;
    }

    route = ngx_tracker_api_match(r, surface->tables, &path, captures,
                                  &ncaptures, &wrong_method);

    if (route == NULL || !ngx_http_tracker_api_reads_body(r, route)) {
        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }
    }

    if (route == NULL) {
        if (wrong_method) {
            if (ngx_http_tracker_api_allow(r, wrong_method) != NGX_OK) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            return surface->error(r, NGX_HTTP_NOT_ALLOWED,
                                  "Method not allowed.");
        }

        return surface->error(r, NGX_HTTP_NOT_FOUND, "Not found.");
    }

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_tracker_api_ctx_t));
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->r = r;
    ctx->surface = surface;
    ctx->route = route;
    ctx->ncaptures = ncaptures;
    ngx_memcpy(ctx->captures, captures, sizeof(captures));

    if (!ngx_http_tracker_api_reads_body(r, route)) {
        return ngx_http_tracker_api_run(r, ctx);
    }

    /* larger bodies would go to a temporary file: refused, not read */
    if (r->headers_in.content_length_n
        > (off_t) clcf->client_body_buffer_size)
    {
        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }

        return surface->error(r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                              "Request body too large.");
    }

    ngx_http_set_ctx(r, ctx, ngx_http_tracker_module);

    rc = ngx_http_read_client_request_body(r, ngx_http_tracker_api_body_read);
    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}


static void
ngx_http_tracker_api_body_read(ngx_http_request_t *r)
{
    ngx_http_tracker_api_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_tracker_module);

    /* as the core does with a handler's return code */
    ngx_http_finalize_request(r, ngx_http_tracker_api_run(r, ctx));
}


/* key, arguments, checks, then the route's SQL */
static ngx_int_t
ngx_http_tracker_api_run(ngx_http_request_t *r,
    ngx_http_tracker_api_ctx_t *ctx)
{
    u_char                         *p;
    size_t                          size;
    ngx_int_t                       rc;
    ngx_str_t                       args, raw, extra;
    ngx_uint_t                      i, status;
    const char                     *message;
    ngx_tracker_json_body_t         body, *bodyp;
    ngx_tracker_api_invalid_t       invalid;
    const ngx_tracker_api_route_t  *route;

    static const char  *capture_names[] = { "id", "id2" };

    route = ctx->route;
    bodyp = NULL;
    ngx_str_null(&raw);

    if (ngx_http_tracker_api_reads_body(r, route)) {
        rc = ngx_tracker_api_body(r, route->params, &body, &raw);

        if (rc == NGX_DECLINED) {
            return ctx->surface->error(r, NGX_HTTP_BAD_REQUEST,
                                       "Request body is not valid JSON.");
        }

        if (rc == NGX_HTTP_REQUEST_ENTITY_TOO_LARGE) {
            return ctx->surface->error(r, rc, "Request body too large.");
        }

        if (rc != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        bodyp = &body;

        if (route->body_any && body.not_object) {
            /* an array, say: the SQL checks it, there are no parameters */
            bodyp = NULL;

        } else if (!route->raw_body || body.not_object) {
            ngx_str_null(&raw);
        }
    }

    rc = ngx_http_tracker_api_key(r, &ctx->surface->key_arg, ctx->key_hash);
    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rc == NGX_DECLINED && route->auth == NGX_TRACKER_API_AUTH_REQUIRED) {
        /* no key at all: no need to ask the database */
        return ctx->surface->error(r, NGX_HTTP_UNAUTHORIZED,
                                   "Unauthorized.");
    }

    /* the arguments object: path captures first, then the query */
    size = 2 + ngx_tracker_api_args_size(r, route->params, bodyp)
           + sizeof(",\"body\":") + raw.len;

    for (i = 0; i < ctx->ncaptures; i++) {
        size += 16 + 6 * ctx->captures[i].len;
    }

    args.data = ngx_pnalloc(r->pool, size + 1);
    if (args.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = args.data;
    *p++ = '{';

    for (i = 0; i < ctx->ncaptures; i++) {
        p = ngx_sprintf(p, "%s\"%s\":\"", i ? "," : "", capture_names[i]);
        p = (u_char *) ngx_escape_json(p, ctx->captures[i].data,
                                       ctx->captures[i].len);
        *p++ = '"';
    }

    args.len = p - args.data;

    rc = ngx_tracker_api_validate(r, route->params, bodyp, &args, &invalid);

    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rc == NGX_DECLINED) {
        return ctx->surface->invalid(r, &invalid);
    }

    if (route->prepare) {
        ngx_str_null(&extra);
        status = NGX_HTTP_BAD_REQUEST;
        message = "Bad request.";

        rc = route->prepare(r, bodyp, &extra, &status, &message);

        if (rc == NGX_DECLINED) {
            return ctx->surface->error(r, status, message);
        }

        if (rc != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        if (extra.len) {
            /* room for what was sized above, the extra and a comma */
            p = ngx_pnalloc(r->pool, size + extra.len + 2);
            if (p == NULL) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            ngx_memcpy(p, args.data, args.len);
            args.data = p;
            p += args.len;

            if (args.len > 1) {
                *p++ = ',';
            }

            p = ngx_cpymem(p, extra.data, extra.len);
            args.len = p - args.data;
        }
    }

    if (raw.len) {
        /* yajl accepted it as JSON: jsonb will too */
        p = args.data + args.len;
        p = ngx_sprintf(p, "%s\"body\":", args.len > 1 ? "," : "");
        p = ngx_cpymem(p, raw.data, raw.len);
        args.len = p - args.data;
    }

    args.data[args.len++] = '}';
    args.data[args.len] = '\0';

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "tracker api: \"%V\" args:%V", &r->uri, &args);

    if (route->cache_ttl) {
        rc = ngx_http_tracker_api_cached(r, ctx, &args);
        if (rc != NGX_DECLINED) {
            return rc;
        }
    }

    return ngx_http_tracker_api_query(r, ctx, &args);
}


/* the route's statement on the pool; the answer comes in _done() */
static ngx_int_t
ngx_http_tracker_api_query(ngx_http_request_t *r,
    ngx_http_tracker_api_ctx_t *ctx, ngx_str_t *args)
{
    ngx_tracker_pg_stmt_t          *st;
    ngx_http_tracker_main_conf_t   *tmcf;
    const ngx_tracker_api_route_t  *route;

    route = ctx->route;

    ctx->values[0] = ctx->key_hash[0] ? (const char *) ctx->key_hash : NULL;
    ctx->values[1] = (const char *) args->data;

    st = &ctx->q.stmts[0];
    st->name = route->sql;
    st->sql = route->sql;
    st->nparams = 2;
    st->values = ctx->values;
    st->binary_result = 1;

    ctx->q.nstmts = 1;
    ctx->q.handler = ngx_http_tracker_api_done;
    ctx->q.data = ctx;

    tmcf = ngx_http_get_module_main_conf(r, ngx_http_tracker_module);

    if (ngx_tracker_pg_detach_on_cleanup(r->pool, &ctx->q) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_tracker_pg_run(tmcf->pg, &ctx->q) != NGX_OK) {
        return ctx->surface->error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                   "Database unavailable.");
    }

    r->main->count++;

    return NGX_DONE;
}


ngx_int_t
ngx_tracker_api_call(ngx_http_request_t *r,
    const ngx_tracker_api_route_t *route, u_char *key_hash, ngx_str_t *args,
    const ngx_tracker_api_surface_t *surface)
{
    ngx_http_tracker_api_ctx_t  *ctx;

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_tracker_api_ctx_t));
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->r = r;
    ctx->route = route;
    ctx->surface = surface;

    if (key_hash) {
        ngx_cpystrn(ctx->key_hash, key_hash, sizeof(ctx->key_hash));
    }

    return ngx_http_tracker_api_query(r, ctx, args);
}


static ngx_int_t
ngx_http_tracker_api_allow(ngx_http_request_t *r, ngx_uint_t methods)
{
    u_char           *p;
    ngx_uint_t        i;
    ngx_table_elt_t  *h;

    static struct {
        ngx_uint_t    method;
        const char   *name;
    } names[] = {
        { NGX_HTTP_GET, "GET, HEAD" }, { NGX_HTTP_POST, "POST" },
        { NGX_HTTP_PUT, "PUT" }, { NGX_HTTP_PATCH, "PATCH" },
        { NGX_HTTP_DELETE, "DELETE" }
    };

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    p = ngx_pnalloc(r->pool, 64);
    if (p == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "Allow");
    h->value.data = p;

    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (methods & names[i].method) {
            p = ngx_sprintf(p, "%s%s", p == h->value.data ? "" : ", ",
                            names[i].name);
        }
    }

    h->value.len = p - h->value.data;

    return NGX_OK;
}


static ngx_uint_t
ngx_http_tracker_api_capture_valid(ngx_str_t *s)
{
    u_char  *p;

    if (s->len > 64) {
        return 0;
    }

    for (p = s->data; p < s->data + s->len; p++) {
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z')
              || (*p >= 'A' && *p <= 'Z') || *p == '@' || *p == '_'
              || *p == '-' || *p == '.'))
        {
            return 0;
        }
    }

    return 1;
}


const ngx_tracker_api_route_t *
ngx_tracker_api_match(ngx_http_request_t *r,
    const ngx_tracker_api_route_t *const *tables, ngx_str_t *path,
    ngx_str_t *captures, ngx_uint_t *ncaptures, ngx_uint_t *wrong_method)
{
    u_char                         *p, *end, *s;
    size_t                          len;
    ngx_uint_t                      n, i, method, found;
    ngx_str_t                       seg[NGX_TRACKER_API_MAX_SEGMENTS];
    const char                     *pat, *pe;
    ngx_uint_t                      nbest;
    ngx_str_t                       best_captures[2];
    const ngx_tracker_api_route_t  *rt, *best;
    const ngx_tracker_api_route_t  *const *table;

    *wrong_method = 0;
    best = NULL;
    nbest = 0;

    /* the path's segments, empty ones skipped */
    n = 0;
    p = path->data;
    end = path->data + path->len;

    while (p < end) {
        while (p < end && *p == '/') {
            p++;
        }

        if (p == end) {
            break;
        }

        if (n == NGX_TRACKER_API_MAX_SEGMENTS) {
            return NULL;
        }

        s = p;

        while (p < end && *p != '/') {
            p++;
        }

        seg[n].data = s;
        seg[n].len = p - s;
        n++;
    }

    method = (r->method == NGX_HTTP_HEAD) ? NGX_HTTP_GET : r->method;

    for (table = tables; *table; table++) {
        for (rt = *table; rt->pattern; rt++) {
            pat = rt->pattern;
            found = 0;
            *ncaptures = 0;

            for (i = 0; i < n; i++) {
                if (*pat == '\0') {
                    break;
                }

                pe = ngx_strchr(pat, '/');
                len = pe ? (size_t) (pe - pat) : ngx_strlen(pat);

                if (len == 1 && pat[0] == '*') {
                    /* ids, "@me", names: nothing that needs escaping */
                    if (*ncaptures == 2
                        || !ngx_http_tracker_api_capture_valid(&seg[i]))
                    {
                        break;
                    }

                    captures[(*ncaptures)++] = seg[i];

                } else if (len != seg[i].len
                           || ngx_strncmp(pat, seg[i].data, len) != 0)
                {
                    break;
                }

                pat += len;

                if (*pat == '/') {
                    pat++;
                }
            }

            found = (i == n && *pat == '\0');

            if (!found) {
                continue;
            }

            if (!(rt->methods & method)) {
                /* the methods this path does take, for "Allow" */
                *wrong_method |= rt->methods;
                continue;
            }

            /* a literal segment beats a wildcard, whatever the order */
            if (*ncaptures == 0) {
                return rt;
            }

            if (best == NULL || *ncaptures < nbest) {
                best = rt;
                nbest = *ncaptures;
                ngx_memcpy(best_captures, captures, 2 * sizeof(ngx_str_t));
            }
        }
    }

    if (best) {
        *ncaptures = nbest;
        ngx_memcpy(captures, best_captures, 2 * sizeof(ngx_str_t));
        *wrong_method = 0;
    }

    return best;
}


/*
 * The API key from the ssid cookie or "Authorization: Bearer" (or from the
 * query argument arg, for a surface that takes it there); only its SHA-256
 * travels to the database (keys are stored hashed).
 */
static ngx_int_t
ngx_http_tracker_api_key(ngx_http_request_t *r, const ngx_str_t *arg,
    u_char *hash)
{
    ngx_str_t                   key, raw;
    ngx_uint_t                  h;
    ngx_table_elt_t            *auth;
    ngx_http_variable_value_t  *vv;

    hash[0] = '\0';
    ngx_str_null(&key);

    if (arg->len) {
        /* that argument only: such a surface takes no cookie */
        if (ngx_http_arg(r, arg->data, arg->len, &raw) == NGX_OK
            && raw.len)
        {
            key.data = ngx_pnalloc(r->pool, raw.len);
            if (key.data == NULL) {
                return NGX_ERROR;
            }

            if (ngx_tracker_unescape(key.data, raw.len, raw.data, raw.len,
                                     &key.len)
                != NGX_OK)
            {
                key.len = 0;
            }
        }

    } else {
        auth = r->headers_in.authorization;

        if (auth && auth->value.len > 7
            && ngx_strncasecmp(auth->value.data, (u_char *) "Bearer ", 7)
               == 0)
        {
            key.data = auth->value.data + 7;
            key.len = auth->value.len - 7;
        }

        if (key.len == 0) {
            h = ngx_hash_key(ngx_http_tracker_api_cookie.data,
                             ngx_http_tracker_api_cookie.len);
            vv = ngx_http_get_variable(r, &ngx_http_tracker_api_cookie, h);

            if (vv && !vv->not_found && vv->len) {
                key.data = vv->data;
                key.len = vv->len;
            }
        }
    }

    while (key.len && key.data[key.len - 1] == ' ') {
        key.len--;
    }

    if (key.len == 0) {
        return NGX_DECLINED;
    }

    return ngx_tracker_api_key_hash(&key, hash);
}


ngx_int_t
ngx_tracker_api_key_hash(ngx_str_t *key, u_char *hash)
{
    u_char        md[EVP_MAX_MD_SIZE];
    size_t        len;
    unsigned int  mdlen;

    /* no key is that long: hash it anyway, it matches nothing */
    len = ngx_min(key->len, NGX_TRACKER_API_MAX_KEY);

    if (!EVP_Digest(key->data, len, md, &mdlen, EVP_sha256(), NULL)) {
        return NGX_ERROR;
    }

    *ngx_hex_dump(hash, md, mdlen) = '\0';

    return NGX_OK;
}


static void
ngx_http_tracker_api_done(ngx_tracker_pg_query_t *q)
{
    u_char                      *body;
    size_t                       len;
    uint32_t                     status;
    ngx_int_t                    rc;
    ngx_str_t                    type, file;
    PGresult                    *res;
    ngx_connection_t            *c;
    ngx_table_elt_t             *h;
    ngx_http_request_t          *r;
    ngx_http_tracker_api_ctx_t  *ctx = q->data;

    ngx_http_tracker_main_conf_t  *tmcf;

    r = ctx->r;
    c = r->connection;
    res = q->res[0];

    if (q->rc == NGX_DECLINED) {
        rc = ctx->surface->error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                 "Database unavailable.");
        goto done;
    }

    ngx_str_null(&file);

    if (q->rc == NGX_OK && ctx->route->kind != NGX_TRACKER_API_JSON
        && PQnfields(res) == 7 && PQntuples(res) >= 1
        && !PQgetisnull(res, 0, 0) && PQgetlength(res, 0, 0) == 4
        && ngx_memcmp(PQgetvalue(res, 0, 0), "\0\0\0\310", 4) == 0)
    {
        /* 200: the rows are files (an error is one JSON row, as usual) */
        rc = ngx_tracker_api_files(r, res, ctx->route->kind, &file);

        if (rc != NGX_OK) {
            rc = (rc == NGX_ERROR) ? NGX_HTTP_INTERNAL_SERVER_ERROR
                 : ctx->surface->error(r, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                       "Internal Error");
            goto done;
        }

    } else if (q->rc != NGX_OK || PQntuples(res) != 1 || PQnfields(res) < 4
               || PQgetisnull(res, 0, 0) || PQgetlength(res, 0, 0) != 4)
    {
        ngx_log_error(NGX_LOG_ERR, c->log, 0, "tracker api: %V",
                      q->rc != NGX_OK ? &q->error
                                      : &(ngx_str_t) ngx_string("bad row"));
        rc = ctx->surface->error(r, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                 "Internal Error");
        goto done;
    }

    if (ctx->surface->result) {
        ctx->surface->result(r, res);
    }

    ngx_memcpy(&status, PQgetvalue(res, 0, 0), 4);
    status = ntohl(status);

    if (status < 200 || status > 599) {
        status = NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (PQgetisnull(res, 0, 1)) {
        ngx_str_set(&type, "application/json");

    } else {
        type.len = PQgetlength(res, 0, 1);
        type.data = ngx_pnalloc(r->pool, type.len);
        if (type.data == NULL) {
            rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
            goto done;
        }

        ngx_memcpy(type.data, PQgetvalue(res, 0, 1), type.len);
    }

    if (!PQgetisnull(res, 0, 2)) {
        h = ngx_list_push(&r->headers_out.headers);
        if (h == NULL) {
            rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
            goto done;
        }

        h->hash = 1;
        ngx_str_set(&h->key, "Content-Disposition");
        h->value.len = PQgetlength(res, 0, 2);
        h->value.data = ngx_pnalloc(r->pool, h->value.len);
        if (h->value.data == NULL) {
            rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
            goto done;
        }

        ngx_memcpy(h->value.data, PQgetvalue(res, 0, 2), h->value.len);
    }

    if (file.data) {
        rc = ngx_http_tracker_send_type(r, status, &type, file.data,
                                        file.len);
        goto done;
    }

    /* the result is cleared after this call: the body is copied */
    len = PQgetlength(res, 0, 3);
    body = ngx_pnalloc(r->pool, len + 1);
    if (body == NULL) {
        rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
        goto done;
    }

    ngx_memcpy(body, PQgetvalue(res, 0, 3), len);

    if (status == NGX_HTTP_OK && ctx->cache_key.len
        && PQgetisnull(res, 0, 1))
    {
        tmcf = ngx_http_get_module_main_conf(r, ngx_http_tracker_module);
        ngx_tracker_api_cache_put(tmcf->api_cache, &ctx->cache_key,
                                  tmcf->api_cache->ttl
                                  ? tmcf->api_cache->ttl
                                  : ctx->route->cache_ttl,
                                  &(ngx_str_t) { len, body },
                                  ctx->route->cache_hit, c->log);
    }

    rc = ngx_http_tracker_send_type(r, status, &type, body, len);

done:

    ngx_http_finalize_request(r, rc);
    ngx_http_run_posted_requests(c);
}


static ngx_int_t
ngx_http_tracker_api_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *message)
{
    u_char  *body, *p;
    size_t   len;

    len = ngx_strlen(message);

    body = ngx_pnalloc(r->pool, 32 + 6 * len);
    if (body == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_cpymem(body, "{\"error\":true,\"message\":\"", 25);
    p = (u_char *) ngx_escape_json(p, (u_char *) message, len);
    p = ngx_cpymem(p, "\"}", 2);

    return ngx_http_tracker_send_json(r, status, body, p - body);
}


static ngx_int_t
ngx_http_tracker_api_invalid(ngx_http_request_t *r,
    ngx_tracker_api_invalid_t *invalid)
{
    u_char  *body, *p;

    body = ngx_pnalloc(r->pool, 64 + 6 * invalid->message.len
                                + invalid->errors.len);
    if (body == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_cpymem(body, "{\"error\":true,\"message\":\"", 25);
    p = (u_char *) ngx_escape_json(p, invalid->message.data,
                                   invalid->message.len);
    p = ngx_cpymem(p, "\",\"validate_errors\":", 20);
    p = ngx_cpymem(p, invalid->errors.data, invalid->errors.len);
    *p++ = '}';

    return ngx_http_tracker_send_json(r, NGX_HTTP_BAD_REQUEST, body,
                                      p - body);
}


/*
 * Routes with a cache_ttl: the answer kept in tracker_api_cache_zone, if
 * any (NGX_DECLINED: none, ctx->cache_key set so the database's answer is
 * kept).  The key is the route and its arguments, never the caller: such
 * routes answer everyone alike.
 */
static ngx_int_t
ngx_http_tracker_api_cached(ngx_http_request_t *r,
    ngx_http_tracker_api_ctx_t *ctx, ngx_str_t *args)
{
    u_char                        *p;
    size_t                         len;
    ngx_int_t                      rc;
    ngx_str_t                      body;
    ngx_http_tracker_main_conf_t  *tmcf;

    tmcf = ngx_http_get_module_main_conf(r, ngx_http_tracker_module);

    if (tmcf->api_cache == NULL) {
        return NGX_DECLINED;
    }

    len = ngx_strlen(ctx->route->pattern);

    p = ngx_pnalloc(r->pool, len + 1 + args->len);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->cache_key.data = p;
    p = ngx_cpymem(p, ctx->route->pattern, len);
    *p++ = ' ';
    p = ngx_cpymem(p, args->data, args->len);
    ctx->cache_key.len = p - ctx->cache_key.data;

    rc = ngx_tracker_api_cache_get(tmcf->api_cache, &ctx->cache_key, r->pool,
                                   &body);

    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rc == NGX_DECLINED) {
        return NGX_DECLINED;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "tracker api: \"%s\" from the cache",
                   ctx->route->pattern);

    return ngx_http_tracker_send_json(r, NGX_HTTP_OK, body.data, body.len);
}
