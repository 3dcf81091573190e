
/*
 * ngx_tracker: GET /torrents/search, the torrent search of the JSON API.
 *
 * Every query parameter of the reference is declared here so that the
 * module answers type and range errors itself; the lists (levels, codecs,
 * languages, episode ids) and the ids are strings to the schema, and
 * api_torrents_search (sql/005_api_search.sql) checks their form.
 */

#include "ngx_tracker_module.h"
#include "ngx_tracker_api.h"


static const char  *ngx_tracker_api_search_sorts[] = {
    "best", "latest", "oldest", "rss", "seeders", "seeders_asc",
    "leechers", "leechers_asc", "downloads", "downloads_asc", "comments",
    "comments_asc", "filesize", "filesize_asc", NULL
};


/*
 * The reference gives strings no length limit: these only bound the work,
 * no valid value comes near them.
 */
#define STR(n, len)                                                          \
    { .name = n, .type = NGX_TRACKER_API_STRING, .has_max = 1, .max = len }
#define BOOL(n, d)                                                           \
    { .name = n, .type = NGX_TRACKER_API_BOOLEAN, .deflt = d }

static const ngx_tracker_api_param_t  ngx_tracker_api_search_params[] = {
    STR("query", 512),
    { .name = "limit", .type = NGX_TRACKER_API_INTEGER, .has_min = 1,
      .min = 1, .has_max = 1, .max = 100, .deflt = "50" },
    { .name = "offset", .type = NGX_TRACKER_API_INTEGER, .has_min = 1,
      .min = 0, .deflt = "0" },
    { .name = "sort_by", .type = NGX_TRACKER_API_ENUM, .deflt = "best",
      .values = ngx_tracker_api_search_sorts },
    { .name = "category", .type = NGX_TRACKER_API_NUMBER, .deflt = "0" },
    STR("media_id", 20),
    STR("episode_ids", 2048),
    BOOL("episode_match_any", "false"),
    STR("levels", 64),
    STR("video_codec", 128),
    STR("video_type", 128),
    STR("audio_lang", 256),
    STR("fansub_lang", 256),
    STR("sub_lang", 256),
    BOOL("hardsub", NULL),
    BOOL("otl", NULL),
    BOOL("mtl", NULL),
    STR("group_id", 20),
    BOOL("group_primary", "true"),
    BOOL("group_secondary", "false"),
    BOOL("group_childs", "true"),
    BOOL("group_parents", "false"),
    STR("uploader_id", 20),
    BOOL("uploader_uploads", "true"),
    BOOL("uploader_contributions", "false"),
    STR("before", 20),
    STR("after", 20),
    { .name = NULL }
};

#undef STR
#undef BOOL


const ngx_tracker_api_route_t  ngx_tracker_api_search_routes[] = {

    /* a literal segment: beats the torrents group's "torrents/ *" */
    { .methods = NGX_HTTP_GET, .pattern = "torrents/search",
      .auth = NGX_TRACKER_API_AUTH_OPTIONAL,
      .sql = NGX_TRACKER_API_SQL("api_torrents_search"),
      .params = ngx_tracker_api_search_params },

    ngx_tracker_api_null_route
};
