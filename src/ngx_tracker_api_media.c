
/*
 * ngx_tracker: JSON API endpoints about media and the site as a whole:
 * /media/<id>, /media/search, /stats (kept in the answer cache) and
 * /health.  The SQL functions are in sql/007_api_media.sql.
 */

#include "ngx_tracker_module.h"
#include "ngx_tracker_api.h"


/* how long /stats is served from tracker_api_cache_zone unless its ttl= */
#define NGX_TRACKER_API_STATS_TTL  60000


static const ngx_tracker_api_param_t  ngx_tracker_api_media_params[] = {
    { .name = "force", .type = NGX_TRACKER_API_BOOLEAN, .deflt = "false" },
    { .name = NULL }
};


static const ngx_tracker_api_param_t  ngx_tracker_api_media_search_params[] = {
    { .name = "query", .type = NGX_TRACKER_API_STRING, .required = 1 },
    { .name = "limit", .type = NGX_TRACKER_API_INTEGER, .has_min = 1,
      .min = 1, .has_max = 1, .max = 100, .deflt = "50" },
    { .name = "offset", .type = NGX_TRACKER_API_INTEGER, .has_min = 1,
      .min = 0, .deflt = "0" },
    { .name = NULL }
};


/* designated initialisers: fields other groups add stay zero here */
const ngx_tracker_api_route_t  ngx_tracker_api_media_routes[] = {

    { .methods = NGX_HTTP_GET, .pattern = "media/search",
      .auth = NGX_TRACKER_API_AUTH_OPTIONAL,
      .sql = NGX_TRACKER_API_SQL("api_media_search"),
      .params = ngx_tracker_api_media_search_params },

    { .methods = NGX_HTTP_GET, .pattern = "media/*",
      .auth = NGX_TRACKER_API_AUTH_OPTIONAL,
      .sql = NGX_TRACKER_API_SQL("api_media"),
      .params = ngx_tracker_api_media_params },

    { .methods = NGX_HTTP_GET, .pattern = "stats",
      .auth = NGX_TRACKER_API_AUTH_OPTIONAL,
      .sql = NGX_TRACKER_API_SQL("api_stats"),
      .cache_ttl = NGX_TRACKER_API_STATS_TTL,
      .cache_hit = "Cache hit, returning stats." },

    { .methods = NGX_HTTP_GET, .pattern = "health",
      .auth = NGX_TRACKER_API_AUTH_OPTIONAL,
      .sql = NGX_TRACKER_API_SQL("api_health") },

    ngx_tracker_api_null_route
};
