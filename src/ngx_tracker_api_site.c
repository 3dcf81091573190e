
/*
 * ngx_tracker: site-wide JSON API endpoints: announcements, languages.
 */

#include "ngx_tracker_module.h"
#include "ngx_tracker_api.h"


const ngx_tracker_api_route_t  ngx_tracker_api_site_routes[] = {

    { NGX_HTTP_GET, "announcements", NGX_TRACKER_API_AUTH_OPTIONAL,
      NGX_TRACKER_API_SQL("api_announcements"), NULL, NGX_TRACKER_API_JSON },

    { NGX_HTTP_GET, "langs", NGX_TRACKER_API_AUTH_OPTIONAL,
      NGX_TRACKER_API_SQL("api_langs"), NULL, NGX_TRACKER_API_JSON },

    ngx_tracker_api_null_route
};
