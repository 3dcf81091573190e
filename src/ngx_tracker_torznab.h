
/*
 * ngx_tracker: Torznab and RSS feeds (ngx_tracker_torznab.c), on the JSON
 * API's machinery.
 */

#ifndef _NGX_TRACKER_TORZNAB_H_INCLUDED_
#define _NGX_TRACKER_TORZNAB_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


ngx_int_t ngx_http_tracker_torznab_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_tracker_rss_handler(ngx_http_request_t *r);

/* the tracker_torznab and tracker_rss directives */
char *ngx_http_tracker_torznab(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);


#endif /* _NGX_TRACKER_TORZNAB_H_INCLUDED_ */
