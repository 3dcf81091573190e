
/*
 * ngx_tracker: site-wide JSON API endpoints: announcements, languages.
 */

#include "ngx_tracker_module.h"
#include "ngx_tracker_api.h"


const ngx_tracker_api_route_t  ngx_tracker_api_site_routes[] = {

    { .methods = NGX_HTTP_GET, .pattern = "announcements",
      .auth = NGX_TRACKER_API_AUTH_OPTIONAL,
      .sql = NGX_TRACKER_API_SQL("api_announcements") },

    { .methods = NGX_HTTP_GET, .pattern = "langs",
      .auth = NGX_TRACKER_API_AUTH_OPTIONAL,
      .sql = NGX_TRACKER_API_SQL("api_langs") },

    ngx_tracker_api_null_route
};
