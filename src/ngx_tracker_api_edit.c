
/*
 * ngx_tracker: JSON API edits: torrents (one, bulk, bulk permission
 * check), users (profile, passkey, API keys, Nyaa links), notifications
 * read, and comments (post, edit, delete, rate).  Answered by
 * sql/012_api_edit.sql.
 *
 * The flat members are typed here; members that may be null or nested
 * (upgraded, video_type, groups, episodes, the bulk title find/replace
 * list, pfp, notification ids, replying_to) reach the SQL in the raw body,
 * which checks them into the same Ajv shapes.
 */

#include "ngx_tracker_module.h"
#include "ngx_tracker_api.h"


/* the reference: at most 250 torrents per bulk edit or permission check */
#define NGX_TRACKER_API_EDIT_BULK_MAX  250


/* the members a single and a bulk edit share */
#define NGX_TRACKER_API_EDIT_COMMON_PARAMS                                    \
    { "description", NGX_TRACKER_API_STRING, 0, 0, 1, 0, 8192, NULL, NULL },  \
    { "audio_lang", NGX_TRACKER_API_STRING, 0, 0, 1, 0, 256, NULL, NULL },    \
    { "sub_lang", NGX_TRACKER_API_STRING, 0, 0, 1, 0, 256, NULL, NULL },      \
    { "fsub_lang", NGX_TRACKER_API_STRING, 0, 0, 1, 0, 256, NULL, NULL },     \
    { "anonymous", NGX_TRACKER_API_BOOLEAN, 0, 0, 0, 0, 0, NULL, NULL },      \
    { "hidden", NGX_TRACKER_API_BOOLEAN, 0, 0, 0, 0, 0, NULL, NULL },         \
    { "hardsub", NGX_TRACKER_API_BOOLEAN, 0, 0, 0, 0, 0, NULL, NULL },        \
    { "otl", NGX_TRACKER_API_BOOLEAN, 0, 0, 0, 0, 0, NULL, NULL },            \
    { "mtl", NGX_TRACKER_API_BOOLEAN, 0, 0, 0, 0, 0, NULL, NULL },            \
    { "deleted", NGX_TRACKER_API_BOOLEAN, 0, 0, 0, 0, 0, NULL, NULL },        \
    { "deletion_reason", NGX_TRACKER_API_STRING, 0, 0, 1, 0, 256, NULL,       \
      NULL }


static const ngx_tracker_api_param_t  ngx_tracker_api_edit_torrent_params[] = {
    { "title", NGX_TRACKER_API_STRING, 0, 1, 1, 1, 512, NULL, NULL },
    { "mediainfo", NGX_TRACKER_API_STRING, 0, 0, 1, 0, 65536, NULL, NULL },
    NGX_TRACKER_API_EDIT_COMMON_PARAMS,
    { NULL, 0, 0, 0, 0, 0, 0, NULL, NULL }
};

/* the title is a find/replace list here (checked by the SQL) */
static const ngx_tracker_api_param_t  ngx_tracker_api_edit_bulk_params[] = {
    { "ids", NGX_TRACKER_API_LIST, 1, 0, 1, 0,
      NGX_TRACKER_API_EDIT_BULK_MAX, NULL, NULL },
    NGX_TRACKER_API_EDIT_COMMON_PARAMS,
    { NULL, 0, 0, 0, 0, 0, 0, NULL, NULL }
};

static const ngx_tracker_api_param_t  ngx_tracker_api_edit_perms_params[] = {
    { "ids", NGX_TRACKER_API_LIST, 1, 0, 1, 0,
      NGX_TRACKER_API_EDIT_BULK_MAX, NULL, NULL },
    { NULL, 0, 0, 0, 0, 0, 0, NULL, NULL }
};

/* Nyaa usernames are at most 64 characters (user_nyaa_accounts) */
static const ngx_tracker_api_param_t  ngx_tracker_api_edit_user_params[] = {
    { "description", NGX_TRACKER_API_STRING, 0, 0, 1, 0, 8192, NULL, NULL },
    { "reset_torrent_key", NGX_TRACKER_API_BOOLEAN, 0, 0, 0, 0, 0, NULL,
      NULL },
    { "remove_nyaa_account", NGX_TRACKER_API_STRING, 0, 1, 1, 1, 64, NULL,
      NULL },
    { "nyaa_account_public", NGX_TRACKER_API_STRING, 0, 1, 1, 1, 64, NULL,
      NULL },
    { "nyaa_account_private", NGX_TRACKER_API_STRING, 0, 1, 1, 1, 64, NULL,
      NULL },
    { "revoke_api_keys", NGX_TRACKER_API_BOOLEAN, 0, 0, 0, 0, 0, NULL, NULL },
    { NULL, 0, 0, 0, 0, 0, 0, NULL, NULL }
};

static const ngx_tracker_api_param_t  ngx_tracker_api_edit_post_params[] = {
    { "text", NGX_TRACKER_API_STRING, 1, 1, 1, 1, 8192, NULL, NULL },
    { NULL, 0, 0, 0, 0, 0, 0, NULL, NULL }
};

static const ngx_tracker_api_param_t  ngx_tracker_api_edit_comment_params[] = {
    { "text", NGX_TRACKER_API_STRING, 0, 1, 1, 1, 8192, NULL, NULL },
    { "pinned", NGX_TRACKER_API_BOOLEAN, 0, 0, 0, 0, 0, NULL, NULL },
    { NULL, 0, 0, 0, 0, 0, 0, NULL, NULL }
};

/* 1 like, -1 dislike, 0 no rating */
static const ngx_tracker_api_param_t  ngx_tracker_api_edit_rate_params[] = {
    { "rating", NGX_TRACKER_API_INTEGER, 1, 1, 1, -1, 1, NULL, NULL },
    { NULL, 0, 0, 0, 0, 0, 0, NULL, NULL }
};


const ngx_tracker_api_route_t  ngx_tracker_api_edit_routes[] = {

    /* "bulk" is literal, so it wins over the torrent id wildcard */
    { .methods = NGX_HTTP_PATCH, .pattern = "torrents/bulk/edit",
      .auth = NGX_TRACKER_API_AUTH_REQUIRED,
      .sql = NGX_TRACKER_API_SQL("api_edit_torrents_bulk"),
      .params = ngx_tracker_api_edit_bulk_params, .raw_body = 1 },

    { .methods = NGX_HTTP_PATCH, .pattern = "torrents/bulk/edit/perms",
      .auth = NGX_TRACKER_API_AUTH_REQUIRED,
      .sql = NGX_TRACKER_API_SQL("api_edit_torrents_perms"),
      .params = ngx_tracker_api_edit_perms_params },

    { .methods = NGX_HTTP_PATCH, .pattern = "torrents/*",
      .auth = NGX_TRACKER_API_AUTH_REQUIRED,
      .sql = NGX_TRACKER_API_SQL("api_edit_torrent"),
      .params = ngx_tracker_api_edit_torrent_params, .raw_body = 1 },

    { .methods = NGX_HTTP_PATCH, .pattern = "users/*",
      .auth = NGX_TRACKER_API_AUTH_REQUIRED,
      .sql = NGX_TRACKER_API_SQL("api_edit_user"),
      .params = ngx_tracker_api_edit_user_params, .raw_body = 1 },

    { .methods = NGX_HTTP_PUT, .pattern = "users/*/notifications/read",
      .auth = NGX_TRACKER_API_AUTH_REQUIRED,
      .sql = NGX_TRACKER_API_SQL("api_edit_notifications_read"),
      .raw_body = 1 },

    { .methods = NGX_HTTP_POST, .pattern = "torrents/*/comments",
      .auth = NGX_TRACKER_API_AUTH_REQUIRED,
      .sql = NGX_TRACKER_API_SQL("api_edit_comment_post"),
      .params = ngx_tracker_api_edit_post_params, .raw_body = 1 },

    { .methods = NGX_HTTP_PATCH, .pattern = "torrents/*/comments/*",
      .auth = NGX_TRACKER_API_AUTH_REQUIRED,
      .sql = NGX_TRACKER_API_SQL("api_edit_comment_edit"),
      .params = ngx_tracker_api_edit_comment_params },

    { .methods = NGX_HTTP_DELETE, .pattern = "torrents/*/comments/*",
      .auth = NGX_TRACKER_API_AUTH_REQUIRED,
      .sql = NGX_TRACKER_API_SQL("api_edit_comment_delete") },

    { .methods = NGX_HTTP_PUT, .pattern = "torrents/*/comments/*/rating",
      .auth = NGX_TRACKER_API_AUTH_REQUIRED,
      .sql = NGX_TRACKER_API_SQL("api_edit_comment_rate"),
      .params = ngx_tracker_api_edit_rate_params },

    ngx_tracker_api_null_route
};
