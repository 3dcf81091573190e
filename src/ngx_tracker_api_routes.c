
/*
 * ngx_tracker: the JSON API's route tables, one per group of endpoints.
 * Each route names the SQL function that answers it (sql/NNN_api_GROUP.sql) and
 * declares its query parameters, which the handler checks before the
 * database sees them.
 */

#include "ngx_tracker_module.h"
#include "ngx_tracker_api.h"


extern const ngx_tracker_api_route_t  ngx_tracker_api_site_routes[];
extern const ngx_tracker_api_route_t  ngx_tracker_api_media_routes[];
extern const ngx_tracker_api_route_t  ngx_tracker_api_downloads_routes[];
extern const ngx_tracker_api_route_t  ngx_tracker_api_users_routes[];
extern const ngx_tracker_api_route_t  ngx_tracker_api_torrents_routes[];
extern const ngx_tracker_api_route_t  ngx_tracker_api_search_routes[];
extern const ngx_tracker_api_route_t  ngx_tracker_api_edit_routes[];
extern const ngx_tracker_api_route_t  ngx_tracker_api_groups_routes[];
extern const ngx_tracker_api_route_t  ngx_tracker_api_upload_routes[];


const ngx_tracker_api_route_t  *ngx_tracker_api_tables[] = {
    ngx_tracker_api_site_routes,
    ngx_tracker_api_media_routes,
    ngx_tracker_api_downloads_routes,
    ngx_tracker_api_users_routes,
    ngx_tracker_api_torrents_routes,
    ngx_tracker_api_search_routes,
    ngx_tracker_api_edit_routes,
    ngx_tracker_api_groups_routes,
    ngx_tracker_api_upload_routes,
    NULL
};
