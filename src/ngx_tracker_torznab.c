
/*
 * ngx_tracker: Torznab (/api/torznab/api?t=...) for Sonarr, Radarr,
 * Prowlarr and Jackett, and the public RSS feeds (/api/rss/latest,
 * /api/rss/category/<slug>) for feed readers.
 *
 * Both run on the JSON API's machinery (ngx_tracker_api_serve: route
 * tables, parameter checks building the jsonb arguments, one non-blocking
 * SQL call whose function renders the whole body).  What is Torznab's own
 * is here: the key in "apikey=", and every error as
 * <error code=".." description=".."/> with HTTP 200 in an XML type, the
 * only error form these clients read.  The SQL (sql/014_torznab.sql) runs
 * the JSON API's search (api_search_ids) and writes the XML.
 */

#include "ngx_tracker_module.h"
#include "ngx_tracker_api.h"
#include "ngx_tracker_torznab.h"


static ngx_int_t ngx_tracker_torznab_error(ngx_http_request_t *r,
    ngx_uint_t status, const char *message);
static ngx_int_t ngx_tracker_torznab_invalid(ngx_http_request_t *r,
    ngx_tracker_api_invalid_t *invalid);
static ngx_int_t ngx_tracker_torznab_answer(ngx_http_request_t *r,
    const char *code, const char *description);
static ngx_int_t ngx_tracker_torznab_args_valid(ngx_http_request_t *r);
static ngx_int_t ngx_tracker_rss_error(ngx_http_request_t *r,
    ngx_uint_t status, const char *message);
static ngx_int_t ngx_tracker_rss_invalid(ngx_http_request_t *r,
    ngx_tracker_api_invalid_t *invalid);


/*
 * Everything is a string to the module: clients send empty values
 * ("season=") that mean "not given", and each bad value must become error
 * 201, which api_torznab decides.  The lengths only bound the work.
 */
#define STR(n, len)                                                          \
    { .name = n, .type = NGX_TRACKER_API_STRING, .has_max = 1, .max = len }

static const ngx_tracker_api_param_t  ngx_tracker_torznab_params[] = {
    STR("t", 32),
    STR("q", 512),
    STR("cat", 256),
    STR("offset", 20),
    STR("limit", 20),
    STR("extended", 8),
    STR("tvdbid", 20),
    STR("tmdbid", 20),
    STR("imdbid", 24),
    STR("season", 8),
    STR("ep", 16),
    /* ids no item carries: asked for, they find nothing */
    STR("rid", 20),
    STR("tvmazeid", 20),
    STR("traktid", 20),
    STR("doubanid", 20),
    /* the JSON API's search filters, same names and forms */
    STR("media_id", 20),
    STR("levels", 64),
    STR("video_codec", 128),
    STR("video_type", 128),
    STR("audio_lang", 256),
    STR("fansub_lang", 256),
    STR("sub_lang", 256),
    STR("hardsub", 8),
    STR("otl", 8),
    STR("mtl", 8),
    STR("group_id", 20),
    STR("uploader_id", 20),
    STR("before", 20),
    STR("after", 20),
    { .name = NULL }
};

static const ngx_tracker_api_param_t  ngx_tracker_rss_params[] = {
    { .name = "limit", .type = NGX_TRACKER_API_INTEGER, .has_min = 1,
      .min = 1, .has_max = 1, .max = 100, .deflt = "50" },
    { .name = NULL }
};

#undef STR


static const ngx_tracker_api_route_t  ngx_tracker_torznab_routes[] = {

    /* t=caps needs no key: api_torznab asks for one where it matters */
    { .methods = NGX_HTTP_GET, .pattern = "api",
      .auth = NGX_TRACKER_API_AUTH_OPTIONAL,
      .sql = NGX_TRACKER_API_SQL("api_torznab"),
      .params = ngx_tracker_torznab_params },

    ngx_tracker_api_null_route
};

static const ngx_tracker_api_route_t  ngx_tracker_rss_routes[] = {

    { .methods = NGX_HTTP_GET, .pattern = "latest",
      .auth = NGX_TRACKER_API_AUTH_OPTIONAL,
      .sql = NGX_TRACKER_API_SQL("api_rss"),
      .params = ngx_tracker_rss_params },

    { .methods = NGX_HTTP_GET, .pattern = "category/*",
      .auth = NGX_TRACKER_API_AUTH_OPTIONAL,
      .sql = NGX_TRACKER_API_SQL("api_rss"),
      .params = ngx_tracker_rss_params },

    ngx_tracker_api_null_route
};


static const ngx_tracker_api_route_t  *ngx_tracker_torznab_tables[] = {
    ngx_tracker_torznab_routes, NULL
};

static const ngx_tracker_api_route_t  *ngx_tracker_rss_tables[] = {
    ngx_tracker_rss_routes, NULL
};


static const ngx_tracker_api_surface_t  ngx_tracker_torznab_surface = {
    .tables = ngx_tracker_torznab_tables,
    .key_arg = ngx_string("apikey"),
    .error = ngx_tracker_torznab_error,
    .invalid = ngx_tracker_torznab_invalid
};

/* public feeds: any key sent is ignored by api_rss */
static const ngx_tracker_api_surface_t  ngx_tracker_rss_surface = {
    .tables = ngx_tracker_rss_tables,
    .key_arg = ngx_null_string,
    .error = ngx_tracker_rss_error,
    .invalid = ngx_tracker_rss_invalid
};


ngx_int_t
ngx_http_tracker_torznab_handler(ngx_http_request_t *r)
{
    ngx_int_t  rc;

    rc = ngx_tracker_torznab_args_valid(r);

    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rc == NGX_DECLINED) {
        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }

        return ngx_tracker_torznab_answer(r, "201", "Incorrect parameter");
    }

    return ngx_tracker_api_serve(r, &ngx_tracker_torznab_surface);
}


ngx_int_t
ngx_http_tracker_rss_handler(ngx_http_request_t *r)
{
    return ngx_tracker_api_serve(r, &ngx_tracker_rss_surface);
}


/*
 * The query must decode to UTF-8 without NUL: anything else would fail in
 * the database as jsonb, a 500 where the client needs error 201.
 */
static ngx_int_t
ngx_tracker_torznab_args_valid(ngx_http_request_t *r)
{
    u_char    *buf, *p, *end;
    size_t     len;
    uint32_t   u;

    if (r->args.len == 0) {
        return NGX_OK;
    }

    buf = ngx_pnalloc(r->pool, r->args.len);
    if (buf == NULL) {
        return NGX_ERROR;
    }

    if (ngx_tracker_unescape(buf, r->args.len, r->args.data, r->args.len,
                             &len)
        != NGX_OK)
    {
        return NGX_DECLINED;
    }

    p = buf;
    end = buf + len;

    while (p < end) {
        if (*p == '\0') {
            return NGX_DECLINED;
        }

        if (*p < 0x80) {
            p++;
            continue;
        }

        u = ngx_utf8_decode(&p, end - p);

        /* surrogates are no characters: PostgreSQL refuses them too */
        if (u > 0x10ffff || (u >= 0xd800 && u <= 0xdfff)) {
            return NGX_DECLINED;
        }
    }

    return NGX_OK;
}


/* the machinery's own refusals, as Torznab codes */
static ngx_int_t
ngx_tracker_torznab_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *message)
{
    switch (status) {

    case NGX_HTTP_NOT_FOUND:
    case NGX_HTTP_NOT_ALLOWED:
        return ngx_tracker_torznab_answer(r, "202", "No such function");

    case NGX_HTTP_UNAUTHORIZED:
        return ngx_tracker_torznab_answer(r, "100",
                                          "Incorrect user credentials");

    case NGX_HTTP_INTERNAL_SERVER_ERROR:
    case NGX_HTTP_SERVICE_UNAVAILABLE:
        /* Newznab's "unknown error", with what went wrong */
        return ngx_tracker_torznab_answer(r, "900", message);

    default:
        return ngx_tracker_torznab_answer(r, "201", "Incorrect parameter");
    }
}


static ngx_int_t
ngx_tracker_torznab_invalid(ngx_http_request_t *r,
    ngx_tracker_api_invalid_t *invalid)
{
    return ngx_tracker_torznab_answer(r, "201", "Incorrect parameter");
}


static ngx_int_t
ngx_tracker_torznab_answer(ngx_http_request_t *r, const char *code,
    const char *description)
{
    u_char     *body, *p;
    size_t      len;
    ngx_str_t   type = ngx_string("application/xml; charset=utf-8");

    len = ngx_strlen(description);

    /* descriptions are ours: no markup in them to escape */
    body = ngx_pnalloc(r->pool, 96 + len);
    if (body == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_sprintf(body, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                          "<error code=\"%s\" description=\"%*s\"/>\n",
                    code, len, description);

    return ngx_http_tracker_send_type(r, NGX_HTTP_OK, &type, body,
                                      p - body);
}


static ngx_int_t
ngx_tracker_rss_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *message)
{
    size_t     len;
    ngx_str_t  type = ngx_string("text/plain; charset=utf-8");

    len = ngx_strlen(message);

    return ngx_http_tracker_send_type(r, status, &type, (u_char *) message,
                                      len);
}


static ngx_int_t
ngx_tracker_rss_invalid(ngx_http_request_t *r,
    ngx_tracker_api_invalid_t *invalid)
{
    ngx_str_t  type = ngx_string("text/plain; charset=utf-8");

    return ngx_http_tracker_send_type(r, NGX_HTTP_BAD_REQUEST, &type,
                                      invalid->message.data,
                                      invalid->message.len);
}


/* tracker_torznab; and tracker_rss; in the location of their prefix */
char *
ngx_http_tracker_torznab(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_tracker_loc_conf_t  *tlcf = conf;

    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (clcf->handler) {
        return "is duplicate: this location already has a content handler";
    }

    clcf->handler = (cmd->name.len == sizeof("tracker_rss") - 1)
                    ? ngx_http_tracker_rss_handler
                    : ngx_http_tracker_torznab_handler;

    /* the database is required as for tracker_api */
    tlcf->api = 1;

    return NGX_CONF_OK;
}
