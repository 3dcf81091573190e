
/*
 * ngx_tracker: a small shared-memory cache of rendered JSON API answers
 * (tracker_api_cache_zone), for routes whose answer is the same for every
 * caller and expensive to compute (/stats).  Entries are kept for a short
 * time, shared by all workers, and evicted oldest first when the zone is
 * full.
 */

#ifndef _NGX_TRACKER_API_CACHE_H_INCLUDED_
#define _NGX_TRACKER_API_CACHE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


typedef struct ngx_tracker_api_cache_sh_s  ngx_tracker_api_cache_sh_t;

typedef struct {
    ngx_tracker_api_cache_sh_t  *sh;
    ngx_slab_pool_t             *shpool;
    ngx_shm_zone_t              *shm_zone;
    ngx_msec_t                   ttl;      /* 0: each route's own */
} ngx_tracker_api_cache_t;


/* tracker_api_cache_zone name:size [ttl=time]; (http) */
char *ngx_tracker_api_cache_zone(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/*
 * NGX_OK: a live entry for key, copied into the pool as *body;
 * NGX_DECLINED: none; NGX_ERROR: no memory.
 */
ngx_int_t ngx_tracker_api_cache_get(ngx_tracker_api_cache_t *cache,
    ngx_str_t *key, ngx_pool_t *pool, ngx_str_t *body);

/*
 * Keeps body (a JSON object) for ttl under key, with "message" set to
 * message (when not NULL) as the answer served from the cache says.
 */
void ngx_tracker_api_cache_put(ngx_tracker_api_cache_t *cache,
    ngx_str_t *key, ngx_msec_t ttl, ngx_str_t *body, const char *message,
    ngx_log_t *log);


#endif /* _NGX_TRACKER_API_CACHE_H_INCLUDED_ */
