
/*
 * ngx_tracker: JSON API endpoints that change groups: links between
 * groups, members and invites.  Answered by sql/013_api_groups.sql; each
 * request is one function call, so one transaction.
 */

#include "ngx_tracker_module.h"
#include "ngx_tracker_api.h"


/* ids are at most 19 digits; the function checks the rest */
static const ngx_tracker_api_param_t  ngx_tracker_api_groups_link_params[] = {
    { "parent", NGX_TRACKER_API_STRING, 1, 0, 1, 0, 32, NULL, NULL },
    { NULL, 0, 0, 0, 0, 0, 0, NULL, NULL }
};

/* invite display names are 1 to 32 characters (group_invites) */
static const ngx_tracker_api_param_t  ngx_tracker_api_groups_member_params[] = {
    { "admin", NGX_TRACKER_API_BOOLEAN, 0, 0, 0, 0, 0, NULL, NULL },
    { "regular", NGX_TRACKER_API_BOOLEAN, 0, 0, 0, 0, 0, NULL, NULL },
    { "display_name", NGX_TRACKER_API_STRING, 0, 1, 1, 1, 32, NULL, NULL },
    { NULL, 0, 0, 0, 0, 0, 0, NULL, NULL }
};

static const ngx_tracker_api_param_t  ngx_tracker_api_groups_remove_params[] = {
    { "destructive", NGX_TRACKER_API_BOOLEAN, 0, 0, 0, 0, 0, "false", NULL },
    { NULL, 0, 0, 0, 0, 0, 0, NULL, NULL }
};

/* the user an orphan invite is given to ("id" is the invite's, in the path) */
static const ngx_tracker_api_param_t  ngx_tracker_api_groups_assign_params[] = {
    { "user_id", NGX_TRACKER_API_STRING, 1, 0, 1, 0, 32, NULL, NULL },
    { NULL, 0, 0, 0, 0, 0, 0, NULL, NULL }
};


const ngx_tracker_api_route_t  ngx_tracker_api_groups_routes[] = {

    /* "parent" is a query parameter of a POST in the reference */
    { .methods = NGX_HTTP_POST, .pattern = "groups/*/links/*",
      .auth = NGX_TRACKER_API_AUTH_REQUIRED,
      .sql = NGX_TRACKER_API_SQL("api_groups_links_post"),
      .params = ngx_tracker_api_groups_link_params, .query = 1 },

    { .methods = NGX_HTTP_DELETE, .pattern = "groups/*/links/*",
      .auth = NGX_TRACKER_API_AUTH_REQUIRED,
      .sql = NGX_TRACKER_API_SQL("api_groups_links_delete") },

    /* the body is an array of {id, display_name}: checked by the SQL */
    { .methods = NGX_HTTP_POST, .pattern = "groups/*/members",
      .auth = NGX_TRACKER_API_AUTH_REQUIRED,
      .sql = NGX_TRACKER_API_SQL("api_groups_members_post"),
      .raw_body = 1, .body_any = 1 },

    { .methods = NGX_HTTP_PATCH, .pattern = "groups/*/members/*",
      .auth = NGX_TRACKER_API_AUTH_REQUIRED,
      .sql = NGX_TRACKER_API_SQL("api_groups_members_patch"),
      .params = ngx_tracker_api_groups_member_params },

    { .methods = NGX_HTTP_DELETE, .pattern = "groups/*/members/*",
      .auth = NGX_TRACKER_API_AUTH_REQUIRED,
      .sql = NGX_TRACKER_API_SQL("api_groups_members_delete"),
      .params = ngx_tracker_api_groups_remove_params },

    { .methods = NGX_HTTP_PATCH, .pattern = "invites/*",
      .auth = NGX_TRACKER_API_AUTH_REQUIRED,
      .sql = NGX_TRACKER_API_SQL("api_invites_patch"),
      .params = ngx_tracker_api_groups_assign_params },

    /* no body: clients POST nothing (an empty body is not JSON) */
    { .methods = NGX_HTTP_POST, .pattern = "invites/*/accept/*",
      .auth = NGX_TRACKER_API_AUTH_REQUIRED,
      .sql = NGX_TRACKER_API_SQL("api_invites_accept"), .query = 1 },

    ngx_tracker_api_null_route
};
