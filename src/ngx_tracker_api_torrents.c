
/*
 * ngx_tracker: JSON API endpoints of one torrent: its page and its
 * comments (sql/004_api_torrents.sql).
 */

#include "ngx_tracker_module.h"
#include "ngx_tracker_api.h"


const ngx_tracker_api_route_t  ngx_tracker_api_torrents_routes[] = {

    { .methods = NGX_HTTP_GET, .pattern = "torrents/*",
      .auth = NGX_TRACKER_API_AUTH_OPTIONAL,
      .sql = NGX_TRACKER_API_SQL("api_torrent") },

    { .methods = NGX_HTTP_GET, .pattern = "torrents/*/comments",
      .auth = NGX_TRACKER_API_AUTH_OPTIONAL,
      .sql = NGX_TRACKER_API_SQL("api_torrent_comments") },

    ngx_tracker_api_null_route
};
