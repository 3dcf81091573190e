
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


#define S  NGX_TRACKER_API_STRING
#define B  NGX_TRACKER_API_BOOLEAN

static const ngx_tracker_api_param_t  ngx_tracker_api_search_params[] = {
    /* name, type, required, has_min, has_max, min, max, default, enum */
    { "query", S, 0, 0, 1, 0, 512, NULL, NULL },
    { "limit", NGX_TRACKER_API_INTEGER, 0, 1, 1, 1, 100, "50", NULL },
    { "offset", NGX_TRACKER_API_INTEGER, 0, 1, 0, 0, 0, "0", NULL },
    { "sort_by", NGX_TRACKER_API_ENUM, 0, 0, 0, 0, 0, "best",
      ngx_tracker_api_search_sorts },
    { "category", NGX_TRACKER_API_NUMBER, 0, 0, 0, 0, 0, "0", NULL },
    { "media_id", S, 0, 0, 1, 0, 20, NULL, NULL },
    { "episode_ids", S, 0, 0, 1, 0, 2048, NULL, NULL },
    { "episode_match_any", B, 0, 0, 0, 0, 0, "false", NULL },
    { "levels", S, 0, 0, 1, 0, 64, NULL, NULL },
    { "video_codec", S, 0, 0, 1, 0, 128, NULL, NULL },
    { "video_type", S, 0, 0, 1, 0, 128, NULL, NULL },
    { "audio_lang", S, 0, 0, 1, 0, 256, NULL, NULL },
    { "fansub_lang", S, 0, 0, 1, 0, 256, NULL, NULL },
    { "sub_lang", S, 0, 0, 1, 0, 256, NULL, NULL },
    { "hardsub", B, 0, 0, 0, 0, 0, NULL, NULL },
    { "otl", B, 0, 0, 0, 0, 0, NULL, NULL },
    { "mtl", B, 0, 0, 0, 0, 0, NULL, NULL },
    { "group_id", S, 0, 0, 1, 0, 20, NULL, NULL },
    { "group_primary", B, 0, 0, 0, 0, 0, "true", NULL },
    { "group_secondary", B, 0, 0, 0, 0, 0, "false", NULL },
    { "group_childs", B, 0, 0, 0, 0, 0, "true", NULL },
    { "group_parents", B, 0, 0, 0, 0, 0, "false", NULL },
    { "uploader_id", S, 0, 0, 1, 0, 20, NULL, NULL },
    { "uploader_uploads", B, 0, 0, 0, 0, 0, "true", NULL },
    { "uploader_contributions", B, 0, 0, 0, 0, 0, "false", NULL },
    { "before", S, 0, 0, 1, 0, 20, NULL, NULL },
    { "after", S, 0, 0, 1, 0, 20, NULL, NULL },
    { NULL, 0, 0, 0, 0, 0, 0, NULL, NULL }
};

#undef S
#undef B


const ngx_tracker_api_route_t  ngx_tracker_api_search_routes[] = {

    /* a literal segment: beats the torrents group's "torrents/ *" */
    { NGX_HTTP_GET, "torrents/search", NGX_TRACKER_API_AUTH_OPTIONAL,
      NGX_TRACKER_API_SQL("api_torrents_search"),
      ngx_tracker_api_search_params },

    ngx_tracker_api_null_route
};
