
/*
 * ngx_tracker: the JSON API's routes.  Each one names the SQL function that
 * answers it (sql/0*_api*.sql) and declares its query parameters, which the
 * handler checks before the database sees them.
 */

#include "ngx_tracker_module.h"
#include "ngx_tracker_api.h"


#define NGX_TRACKER_API_SQL(fn)                                               \
    "SELECT status, content_type, disposition, body FROM " fn "($1, $2)"


const ngx_tracker_api_route_t  ngx_tracker_api_routes[] = {

    { NGX_HTTP_GET, "announcements", NGX_TRACKER_API_AUTH_OPTIONAL,
      NGX_TRACKER_API_SQL("api_announcements"), NULL },

    { NGX_HTTP_GET, "langs", NGX_TRACKER_API_AUTH_OPTIONAL,
      NGX_TRACKER_API_SQL("api_langs"), NULL },

    { 0, NULL, 0, NULL, NULL }
};
