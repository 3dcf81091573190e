
/*
 * ngx_tracker: the HTTP module's configuration, shared by its handlers.
 */

#ifndef _NGX_TRACKER_MODULE_H_INCLUDED_
#define _NGX_TRACKER_MODULE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_tracker_args.h"
#include "ngx_tracker_bencode.h"
#include "ngx_tracker_swarm.h"


typedef struct {
    ngx_array_t       zones;           /* of ngx_shm_zone_t * */
} ngx_http_tracker_main_conf_t;


typedef struct {
    ngx_shm_zone_t   *zone;            /* swarm zone this location serves */
    time_t            interval;
    time_t            min_interval;
    ngx_uint_t        numwant;
    ngx_uint_t        max_numwant;
    ngx_flag_t        full_scrape;
    ngx_flag_t        ip_param;
} ngx_http_tracker_loc_conf_t;


extern ngx_module_t  ngx_http_tracker_module;


ngx_int_t ngx_http_tracker_announce_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_tracker_scrape_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_tracker_status_handler(ngx_http_request_t *r);

char *ngx_http_tracker_set_hex(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/* helpers shared by the announce and scrape handlers */
ngx_tracker_err_e ngx_http_tracker_uri_passkey(ngx_http_request_t *r,
    ngx_str_t *verb, ngx_str_t *passkey);
ngx_int_t ngx_http_tracker_send(ngx_http_request_t *r, u_char *body,
    size_t len);
ngx_int_t ngx_http_tracker_send_as(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t *type, u_char *body, size_t len);
ngx_int_t ngx_http_tracker_failure(ngx_http_request_t *r,
    ngx_tracker_swarm_t *sw, ngx_tracker_err_e err);


#endif /* _NGX_TRACKER_MODULE_H_INCLUDED_ */
