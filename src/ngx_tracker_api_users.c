
/*
 * ngx_tracker: JSON API endpoints about people and groups: users (profile,
 * groups, notifications, peers, exact-name search), groups (one, search)
 * and group invites.  Answered by sql/006_api_users.sql.
 */

#include "ngx_tracker_module.h"
#include "ngx_tracker_api.h"


static const char *const  ngx_tracker_api_groups_sorts[] = {
    "created", "uploads", "members", "downloads", "name", NULL
};

static const char *const  ngx_tracker_api_orders[] = {
    "asc", "desc", NULL
};


/* usernames are at most 32 characters: anything longer matches nothing */
static const ngx_tracker_api_param_t  ngx_tracker_api_users_search_params[] = {
    { "query", NGX_TRACKER_API_STRING, 1, 0, 1, 0, 64, NULL, NULL },
    { NULL, 0, 0, 0, 0, 0, 0, NULL, NULL }
};

static const ngx_tracker_api_param_t  ngx_tracker_api_groups_search_params[] = {
    { "query", NGX_TRACKER_API_STRING, 0, 0, 1, 0, 128, NULL, NULL },
    { "limit", NGX_TRACKER_API_INTEGER, 0, 1, 1, 1, 100, "50", NULL },
    { "offset", NGX_TRACKER_API_INTEGER, 0, 1, 0, 0, 0, "0", NULL },
    { "sort", NGX_TRACKER_API_ENUM, 0, 0, 0, 0, 0, "created",
      ngx_tracker_api_groups_sorts },
    { "order", NGX_TRACKER_API_ENUM, 0, 0, 0, 0, 0, "desc",
      ngx_tracker_api_orders },
    { NULL, 0, 0, 0, 0, 0, 0, NULL, NULL }
};

/* invite keys are 32 hex digits */
static const ngx_tracker_api_param_t  ngx_tracker_api_invite_params[] = {
    { "key", NGX_TRACKER_API_STRING, 0, 0, 1, 0, 64, NULL, NULL },
    { NULL, 0, 0, 0, 0, 0, 0, NULL, NULL }
};


const ngx_tracker_api_route_t  ngx_tracker_api_users_routes[] = {

    /* "search" is literal, so it wins over the user id wildcard */
    { .methods = NGX_HTTP_GET, .pattern = "users/search",
      .auth = NGX_TRACKER_API_AUTH_REQUIRED,
      .sql = NGX_TRACKER_API_SQL("api_users_search"),
      .params = ngx_tracker_api_users_search_params },

    /* "@me" without a key is refused by the function (401) */
    { .methods = NGX_HTTP_GET, .pattern = "users/*",
      .auth = NGX_TRACKER_API_AUTH_OPTIONAL,
      .sql = NGX_TRACKER_API_SQL("api_users_get") },

    { .methods = NGX_HTTP_GET, .pattern = "users/*/groups",
      .auth = NGX_TRACKER_API_AUTH_OPTIONAL,
      .sql = NGX_TRACKER_API_SQL("api_users_groups") },

    { .methods = NGX_HTTP_GET, .pattern = "users/*/notifications",
      .auth = NGX_TRACKER_API_AUTH_REQUIRED,
      .sql = NGX_TRACKER_API_SQL("api_users_notifications") },

    { .methods = NGX_HTTP_GET, .pattern = "users/*/peers",
      .auth = NGX_TRACKER_API_AUTH_REQUIRED,
      .sql = NGX_TRACKER_API_SQL("api_users_peers") },

    { .methods = NGX_HTTP_GET, .pattern = "groups/search",
      .auth = NGX_TRACKER_API_AUTH_OPTIONAL,
      .sql = NGX_TRACKER_API_SQL("api_groups_search"),
      .params = ngx_tracker_api_groups_search_params },

    { .methods = NGX_HTTP_GET, .pattern = "groups/*",
      .auth = NGX_TRACKER_API_AUTH_OPTIONAL,
      .sql = NGX_TRACKER_API_SQL("api_groups_get") },

    { .methods = NGX_HTTP_GET, .pattern = "invites/*",
      .auth = NGX_TRACKER_API_AUTH_OPTIONAL,
      .sql = NGX_TRACKER_API_SQL("api_invites_get"),
      .params = ngx_tracker_api_invite_params },

    ngx_tracker_api_null_route
};
