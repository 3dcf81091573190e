
/*
 * ngx_tracker: Gazelle's ajax.php (location = /ajax.php { tracker_gazelle; })
 * for the tools written for Gazelle sites.
 *
 * A module of its own in the tracker's .so (ngx_http_tracker_gazelle_module)
 * with Gazelle's concerns only: the token in any of the forms Gazelle
 * clients send it, ?action= dispatch, Gazelle's failure envelope.  The rest
 * is the JSON API's machinery (ngx_tracker_api_call): the same hashed API
 * keys, the same non-blocking pool, one SQL function per action
 * (sql/015_gazelle.sql, gazelle_<action>) that renders the whole answer,
 * built on the JSON API's own SQL (search, users, downloads).
 *
 * Rate limiting is the limiter's (tracker_limit ... key=$tracker_gazelle_key):
 * the variable is the token's SHA-256, so "Bearer t", "token t" and "t" are
 * one key and the limit zone never holds a token.  Users of the exempt
 * class (tracker_gazelle_exempt) get an empty key, which is not limited:
 * the SQL says who is exempt and each worker remembers it for a minute.
 */

#include "ngx_tracker_module.h"
#include "ngx_tracker_api.h"
#include "ngx_tracker_limit.h"
#include "ngx_tracker_gazelle_token.h"


#define NGX_TRACKER_GAZELLE_HASH_LEN      64
#define NGX_TRACKER_GAZELLE_EXEMPT_SLOTS  256       /* a power of two */
#define NGX_TRACKER_GAZELLE_EXEMPT_TTL    60        /* seconds */
#define NGX_TRACKER_GAZELLE_COL_EXEMPT    4


typedef struct {
    ngx_flag_t                      enable;
    ngx_flag_t                      strict;
    ngx_str_t                       exempt;      /* a permission's name */
} ngx_http_tracker_gazelle_loc_conf_t;


typedef struct {
    u_char                          key_hash[NGX_TRACKER_GAZELLE_HASH_LEN
                                             + 1];
} ngx_http_tracker_gazelle_ctx_t;


/* tokens the database said are exempt, per worker */
typedef struct {
    u_char                          hash[NGX_TRACKER_GAZELLE_HASH_LEN];
    time_t                          expires;
} ngx_tracker_gazelle_exempt_t;


static ngx_int_t ngx_http_tracker_gazelle_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_tracker_gazelle_token(ngx_http_request_t *r,
    ngx_str_t *token);
static ngx_int_t ngx_http_tracker_gazelle_failure(ngx_http_request_t *r,
    ngx_uint_t status, const char *message);
static void ngx_http_tracker_gazelle_result(ngx_http_request_t *r,
    PGresult *res);
static ngx_tracker_gazelle_exempt_t *ngx_http_tracker_gazelle_exempt_slot(
    u_char *hash);
static ngx_int_t ngx_http_tracker_gazelle_key_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_tracker_gazelle_preconfiguration(ngx_conf_t *cf);
static void *ngx_http_tracker_gazelle_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_tracker_gazelle_merge_loc_conf(ngx_conf_t *cf,
    void *parent, void *child);
static char *ngx_http_tracker_gazelle(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);


/*
 * The actions: each a route of the JSON API's kind whose pattern is the
 * action's name.  Parameters are strings: the SQL reads them as Gazelle's
 * PHP does ("12abc" is 12), the module only bounds their length.
 */

#define ngx_tracker_gazelle_param(name)                                       \
    { name, NGX_TRACKER_API_STRING, 0, 0, 1, 0, 256, NULL, NULL }

#define ngx_tracker_gazelle_params_end                                        \
    { NULL, 0, 0, 0, 0, 0, 0, NULL, NULL }

static const ngx_tracker_api_param_t  ngx_tracker_gazelle_no_params[] = {
    ngx_tracker_gazelle_params_end
};

static const ngx_tracker_api_param_t  ngx_tracker_gazelle_id_params[] = {
    ngx_tracker_gazelle_param("id"),
    ngx_tracker_gazelle_params_end
};

static const ngx_tracker_api_param_t  ngx_tracker_gazelle_hash_params[] = {
    ngx_tracker_gazelle_param("id"),
    ngx_tracker_gazelle_param("hash"),
    ngx_tracker_gazelle_params_end
};

static const ngx_tracker_api_param_t  ngx_tracker_gazelle_page_params[] = {
    ngx_tracker_gazelle_param("page"),
    ngx_tracker_gazelle_params_end
};

static const ngx_tracker_api_param_t  ngx_tracker_gazelle_users_params[] = {
    ngx_tracker_gazelle_param("search"),
    ngx_tracker_gazelle_param("page"),
    ngx_tracker_gazelle_params_end
};

static const ngx_tracker_api_param_t  ngx_tracker_gazelle_browse_params[] = {
    { "searchstr", NGX_TRACKER_API_STRING, 0, 0, 1, 0, 512, NULL, NULL },
    { "groupname", NGX_TRACKER_API_STRING, 0, 0, 1, 0, 512, NULL, NULL },
    ngx_tracker_gazelle_param("page"),
    ngx_tracker_gazelle_param("order_by"),
    ngx_tracker_gazelle_param("order_way"),
    ngx_tracker_gazelle_param("freetorrent"),
    ngx_tracker_gazelle_params_end
};

static const ngx_tracker_api_param_t  ngx_tracker_gazelle_top10_params[] = {
    ngx_tracker_gazelle_param("type"),
    ngx_tracker_gazelle_param("limit"),
    ngx_tracker_gazelle_param("details"),
    ngx_tracker_gazelle_params_end
};


/*
 * Only pattern (the action), sql, params and kind are read here: every
 * action takes any method and needs a token, which the handler checks.
 */
#define ngx_tracker_gazelle_action(name, fn, p)                               \
    { .pattern = name,                                                        \
      .sql = "SELECT status, content_type, disposition, body, exempt "       \
             "FROM " fn "($1, $2)",                                           \
      .params = p, .kind = NGX_TRACKER_API_JSON }

static const ngx_tracker_api_route_t  ngx_tracker_gazelle_actions[] = {

    ngx_tracker_gazelle_action("index", "gazelle_index",
                               ngx_tracker_gazelle_no_params),
    ngx_tracker_gazelle_action("user", "gazelle_user",
                               ngx_tracker_gazelle_id_params),
    ngx_tracker_gazelle_action("usersearch", "gazelle_usersearch",
                               ngx_tracker_gazelle_users_params),
    ngx_tracker_gazelle_action("browse", "gazelle_browse",
                               ngx_tracker_gazelle_browse_params),
    ngx_tracker_gazelle_action("torrent", "gazelle_torrent",
                               ngx_tracker_gazelle_hash_params),
    ngx_tracker_gazelle_action("torrentgroup", "gazelle_torrentgroup",
                               ngx_tracker_gazelle_hash_params),
    ngx_tracker_gazelle_action("top10", "gazelle_top10",
                               ngx_tracker_gazelle_top10_params),
    ngx_tracker_gazelle_action("notifications", "gazelle_notifications",
                               ngx_tracker_gazelle_page_params),
    ngx_tracker_gazelle_action("announcements", "gazelle_announcements",
                               ngx_tracker_gazelle_no_params),

    /* the .torrent itself: the JSON API's TORRENT answer */
    { .pattern = "download",
      .sql = NGX_TRACKER_API_SQL_FILES("gazelle_download"),
      .params = ngx_tracker_gazelle_id_params,
      .kind = NGX_TRACKER_API_TORRENT },

    ngx_tracker_api_null_route
};


/* actions of Gazelle's ajax.php this site has nothing to answer with */
static const char  *ngx_tracker_gazelle_unimplemented[] = {
    "similar_artists", "better", "torrent_info", "checkprivate",
    "votefavorite", "artist", "preview", "get_friends", "news_ajax",
    "send_recommendation", "requests", "request", "inbox", "bookmarks",
    "subscriptions", "forum", "collage", "wiki", "upload", "add_tag",
    "userhistory", "user_recents", "tcomments", "stats", "loadavg",
    "community_stats", "raw_bbcode", "riplog", "logchecker", "add_log",
    "torrent_remove_cover_art", "torrentgroupalbumart", "requestfill",
    "send_report", "takevote", "password_validate", "upload_section",
    "giveback_report", "grab_report", "pushbullet_devices",
    "get_user_notifications", "clear_user_notification",
    NULL
};


/* the JSON API's machinery with Gazelle's failures; it dispatches itself */
static const ngx_tracker_api_surface_t  ngx_tracker_gazelle_surface = {
    .error = ngx_http_tracker_gazelle_failure,
    .result = ngx_http_tracker_gazelle_result
};


static ngx_tracker_gazelle_exempt_t
    ngx_tracker_gazelle_exempt[NGX_TRACKER_GAZELLE_EXEMPT_SLOTS];


static ngx_command_t  ngx_http_tracker_gazelle_commands[] = {

    { ngx_string("tracker_gazelle"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_tracker_gazelle,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    /* a missing or unknown token: HTTP 401 instead of Gazelle's 200 */
    { ngx_string("tracker_gazelle_strict"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_tracker_gazelle_loc_conf_t, strict),
      NULL },

    /* users with this permission (permission_bits.name) are not limited */
    { ngx_string("tracker_gazelle_exempt"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_tracker_gazelle_loc_conf_t, exempt),
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_tracker_gazelle_module_ctx = {
    ngx_http_tracker_gazelle_preconfiguration,  /* preconfiguration */
    NULL,                                       /* postconfiguration */
    NULL,                                       /* create main */
    NULL,                                       /* init main */
    NULL,                                       /* create server */
    NULL,                                       /* merge server */
    ngx_http_tracker_gazelle_create_loc_conf,   /* create location */
    ngx_http_tracker_gazelle_merge_loc_conf     /* merge location */
};


ngx_module_t  ngx_http_tracker_gazelle_module = {
    NGX_MODULE_V1,
    &ngx_http_tracker_gazelle_module_ctx,
    ngx_http_tracker_gazelle_commands,
    NGX_HTTP_MODULE,
    NULL, NULL, NULL, NULL, NULL, NULL, NULL,
    NGX_MODULE_V1_PADDING
};


static ngx_str_t  ngx_http_tracker_gazelle_key_name =
    ngx_string("tracker_gazelle_key");


static ngx_int_t
ngx_http_tracker_gazelle_handler(ngx_http_request_t *r)
{
    u_char                               *p;
    size_t                                size;
    ngx_int_t                             rc;
    ngx_str_t                             token, action, args;
    ngx_uint_t                            status;
    ngx_tracker_api_invalid_t             invalid;
    ngx_http_tracker_gazelle_ctx_t       *ctx;
    const ngx_tracker_api_route_t        *route;
    ngx_http_tracker_gazelle_loc_conf_t  *glcf;

    const char   *message, **name;

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    glcf = ngx_http_get_module_loc_conf(r, ngx_http_tracker_gazelle_module);

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_tracker_gazelle_ctx_t));
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_set_ctx(r, ctx, ngx_http_tracker_gazelle_module);

    /* no token: no need to ask the database (Gazelle logs in first) */
    if (ngx_http_tracker_gazelle_token(r, &token) != NGX_OK) {
        status = glcf->strict ? NGX_HTTP_UNAUTHORIZED : NGX_HTTP_OK;
        return ngx_http_tracker_gazelle_failure(r, status, "bad credentials");
    }

    if (ngx_tracker_api_key_hash(&token, ctx->key_hash) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_arg(r, (u_char *) "action", 6, &action) != NGX_OK) {
        ngx_str_null(&action);
    }

    for (route = ngx_tracker_gazelle_actions; route->pattern; route++) {
        if (action.len == ngx_strlen(route->pattern)
            && ngx_strncmp(action.data, route->pattern, action.len) == 0)
        {
            break;
        }
    }

    if (route->pattern == NULL) {
        message = "bad action";

        for (name = ngx_tracker_gazelle_unimplemented; *name; name++) {
            if (action.len == ngx_strlen(*name)
                && ngx_strncmp(action.data, *name, action.len) == 0)
            {
                message = "action not implemented";
                break;
            }
        }

        return ngx_http_tracker_gazelle_failure(r, NGX_HTTP_OK, message);
    }

    /* {<parameters>,"strict":b,"exempt":"<permission>"} */
    size = 2 + ngx_tracker_api_args_size(r, route->params, NULL)
           + sizeof(",\"strict\":false,\"exempt\":\"\"")
           + 6 * glcf->exempt.len;

    args.data = ngx_pnalloc(r->pool, size + 1);
    if (args.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    args.data[0] = '{';
    args.len = 1;

    rc = ngx_tracker_api_validate(r, route->params, NULL, &args, &invalid);

    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rc == NGX_DECLINED) {
        /* only lengths are checked here: a parameter too long */
        return ngx_http_tracker_gazelle_failure(r, NGX_HTTP_OK,
                                                "bad parameters");
    }

    p = args.data + args.len;
    p = ngx_sprintf(p, "%s\"strict\":%s", args.len > 1 ? "," : "",
                    glcf->strict ? "true" : "false");

    if (glcf->exempt.len) {
        p = ngx_cpymem(p, ",\"exempt\":\"", 11);
        p = (u_char *) ngx_escape_json(p, glcf->exempt.data,
                                       glcf->exempt.len);
        *p++ = '"';
    }

    *p++ = '}';
    *p = '\0';
    args.len = p - args.data;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "tracker gazelle: \"%s\" args:%V", route->pattern, &args);

    return ngx_tracker_api_call(r, route, ctx->key_hash, &args,
                                &ngx_tracker_gazelle_surface);
}


static ngx_int_t
ngx_http_tracker_gazelle_token(ngx_http_request_t *r, ngx_str_t *token)
{
    ngx_table_elt_t  *auth;

    auth = r->headers_in.authorization;

    if (auth == NULL) {
        return NGX_DECLINED;
    }

    return ngx_tracker_gazelle_token(auth->value.data,
                                     auth->value.data + auth->value.len,
                                     token);
}


/* {"status":"failure","error":...}, HTTP 200 as Gazelle answers it */
static ngx_int_t
ngx_http_tracker_gazelle_failure(ngx_http_request_t *r, ngx_uint_t status,
    const char *message)
{
    u_char  *body, *p;
    size_t   len;

    static ngx_str_t  type = ngx_string("application/json; charset=utf-8");

    len = ngx_strlen(message);

    body = ngx_pnalloc(r->pool, 64 + 6 * len);
    if (body == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_cpymem(body, "{\"status\":\"failure\",\"error\":\"", 29);
    p = (u_char *) ngx_escape_json(p, (u_char *) message, len);
    p = ngx_cpymem(p, "\"}", 2);

    return ngx_http_tracker_send_type(r, status, &type, body, p - body);
}


/*
 * The answer's "exempt" column: true, the token's user is in the exempt
 * class (remembered for $tracker_gazelle_key); NULL, the token named
 * nobody (a failed authentication for the limiter).
 */
static void
ngx_http_tracker_gazelle_result(ngx_http_request_t *r, PGresult *res)
{
    ngx_tracker_gazelle_exempt_t    *e;
    ngx_http_tracker_gazelle_ctx_t  *ctx;

    /* the JSON actions' rows only (a .torrent's row has 7 columns) */
    if (PQnfields(res) != NGX_TRACKER_GAZELLE_COL_EXEMPT + 1) {
        return;
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_tracker_gazelle_module);

    if (ctx == NULL || ctx->key_hash[0] == '\0') {
        return;
    }

    if (PQgetisnull(res, 0, NGX_TRACKER_GAZELLE_COL_EXEMPT)) {
        (void) ngx_tracker_limit_penalize(r);
        return;
    }

    /* binary boolean: one byte */
    if (PQgetlength(res, 0, NGX_TRACKER_GAZELLE_COL_EXEMPT) != 1
        || *PQgetvalue(res, 0, NGX_TRACKER_GAZELLE_COL_EXEMPT) == 0)
    {
        return;
    }

    e = ngx_http_tracker_gazelle_exempt_slot(ctx->key_hash);
    ngx_memcpy(e->hash, ctx->key_hash, NGX_TRACKER_GAZELLE_HASH_LEN);
    e->expires = ngx_time() + NGX_TRACKER_GAZELLE_EXEMPT_TTL;
}


static ngx_tracker_gazelle_exempt_t *
ngx_http_tracker_gazelle_exempt_slot(u_char *hash)
{
    ngx_int_t  n;

    /* the hash is uniform: its first byte picks the slot */
    n = ngx_hextoi(hash, 2);

    return &ngx_tracker_gazelle_exempt[n & (NGX_TRACKER_GAZELLE_EXEMPT_SLOTS
                                            - 1)];
}


/*
 * $tracker_gazelle_key: the SHA-256 hex of the request's token; empty
 * without a token, or for a token of the exempt class.
 */
static ngx_int_t
ngx_http_tracker_gazelle_key_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    u_char                        *hash;
    ngx_str_t                      token;
    ngx_tracker_gazelle_exempt_t  *e;

    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
    v->len = 0;
    v->data = (u_char *) "";

    if (ngx_http_tracker_gazelle_token(r, &token) != NGX_OK) {
        return NGX_OK;
    }

    hash = ngx_pnalloc(r->pool, NGX_TRACKER_GAZELLE_HASH_LEN + 1);
    if (hash == NULL) {
        return NGX_ERROR;
    }

    if (ngx_tracker_api_key_hash(&token, hash) != NGX_OK) {
        return NGX_ERROR;
    }

    e = ngx_http_tracker_gazelle_exempt_slot(hash);

    if (e->expires >= ngx_time()
        && ngx_memcmp(e->hash, hash, NGX_TRACKER_GAZELLE_HASH_LEN) == 0)
    {
        return NGX_OK;
    }

    v->data = hash;
    v->len = NGX_TRACKER_GAZELLE_HASH_LEN;

    return NGX_OK;
}


static ngx_int_t
ngx_http_tracker_gazelle_preconfiguration(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var;

    var = ngx_http_add_variable(cf, &ngx_http_tracker_gazelle_key_name, 0);
    if (var == NULL) {
        return NGX_ERROR;
    }

    var->get_handler = ngx_http_tracker_gazelle_key_variable;

    return NGX_OK;
}


static void *
ngx_http_tracker_gazelle_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_tracker_gazelle_loc_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_tracker_gazelle_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    /* conf->exempt: { 0, NULL } */
    conf->enable = NGX_CONF_UNSET;
    conf->strict = NGX_CONF_UNSET;

    return conf;
}


static char *
ngx_http_tracker_gazelle_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child)
{
    ngx_http_tracker_gazelle_loc_conf_t  *prev = parent;
    ngx_http_tracker_gazelle_loc_conf_t  *conf = child;

    ngx_http_tracker_main_conf_t  *tmcf;

    ngx_conf_merge_value(conf->enable, prev->enable, 0);
    ngx_conf_merge_value(conf->strict, prev->strict, 0);
    ngx_conf_merge_str_value(conf->exempt, prev->exempt, "");

    tmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_tracker_module);

    if (conf->enable && tmcf->pg == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"tracker_gazelle\" needs \"tracker_database\"");
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* tracker_gazelle; Gazelle's ajax.php in this location */
static char *
ngx_http_tracker_gazelle(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_tracker_gazelle_loc_conf_t  *glcf = conf;

    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (clcf->handler) {
        return "is duplicate: this location already has a content handler";
    }

    clcf->handler = ngx_http_tracker_gazelle_handler;
    glcf->enable = 1;

    return NGX_CONF_OK;
}
