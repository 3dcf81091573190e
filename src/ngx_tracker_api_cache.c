
/*
 * ngx_tracker: the JSON API's answer cache (see ngx_tracker_api_cache.h).
 *
 * One slab zone: a red-black tree of entries by key (CRC-32, then the key
 * bytes) and a queue in insertion order for eviction.  Expiry times are
 * wall-clock milliseconds so that every worker reads them the same way.
 */

#include "ngx_tracker_module.h"
#include "ngx_tracker_api_cache.h"


#define NGX_TRACKER_API_CACHE_EXPIRE  4


struct ngx_tracker_api_cache_sh_s {
    ngx_rbtree_t                 rbtree;
    ngx_rbtree_node_t            sentinel;
    ngx_queue_t                  queue;      /* newest first */
};


typedef struct {
    ngx_str_node_t               sn;         /* key: points into data */
    ngx_queue_t                  queue;
    uint64_t                     expires;
    size_t                       len;        /* body, after the key */
    u_char                       data[1];
} ngx_tracker_api_cache_node_t;


static ngx_int_t ngx_tracker_api_cache_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static void ngx_tracker_api_cache_free(ngx_tracker_api_cache_t *cache,
    ngx_tracker_api_cache_node_t *cn);
static uint64_t ngx_tracker_api_cache_now(void);


/* a tag of its own, so no other directive can name this zone */
static ngx_uint_t  ngx_tracker_api_cache_tag;


char *
ngx_tracker_api_cache_zone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_tracker_main_conf_t  *tmcf = conf;

    ssize_t                   size;
    ngx_int_t                 ms;
    ngx_str_t                *value, name, s;
    ngx_uint_t                i;
    ngx_shm_zone_t           *shm_zone;
    ngx_tracker_api_cache_t  *cache;

    if (tmcf->api_cache) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_http_tracker_zone_arg(cf, &value[1], "api cache", 64 * 1024,
                                  &name, &size)
        != NGX_CONF_OK)
    {
        return NGX_CONF_ERROR;
    }

    cache = ngx_pcalloc(cf->pool, sizeof(ngx_tracker_api_cache_t));
    if (cache == NULL) {
        return NGX_CONF_ERROR;
    }

    /* cache->ttl = 0: each route's cache_ttl */

    for (i = 2; i < cf->args->nelts; i++) {
        s = value[i];

        if (ngx_strncmp(s.data, "ttl=", 4) != 0) {
            goto invalid;
        }

        s.data += 4;
        s.len -= 4;

        ms = ngx_parse_time(&s, 0);
        if (ms == NGX_ERROR || ms < 1) {
            goto invalid;
        }

        cache->ttl = (ngx_msec_t) ms;
    }

    shm_zone = ngx_shared_memory_add(cf, &name, size,
                                     &ngx_tracker_api_cache_tag);
    if (shm_zone == NULL) {
        return NGX_CONF_ERROR;
    }

    if (shm_zone->data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "duplicate zone \"%V\"", &name);
        return NGX_CONF_ERROR;
    }

    cache->shm_zone = shm_zone;
    shm_zone->init = ngx_tracker_api_cache_init_zone;
    shm_zone->data = cache;
    tmcf->api_cache = cache;

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "invalid parameter \"%V\"",
                       &value[i]);

    return NGX_CONF_ERROR;
}


static ngx_int_t
ngx_tracker_api_cache_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_tracker_api_cache_t  *ocache = data;

    size_t                    len;
    ngx_tracker_api_cache_t  *cache;

    cache = shm_zone->data;

    if (ocache) {
        /* reload: the answers kept so far stay valid until they expire */
        cache->sh = ocache->sh;
        cache->shpool = ocache->shpool;
        return NGX_OK;
    }

    cache->shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        cache->sh = cache->shpool->data;
        return NGX_OK;
    }

    cache->sh = ngx_slab_alloc(cache->shpool,
                               sizeof(ngx_tracker_api_cache_sh_t));
    if (cache->sh == NULL) {
        return NGX_ERROR;
    }

    cache->shpool->data = cache->sh;

    ngx_rbtree_init(&cache->sh->rbtree, &cache->sh->sentinel,
                    ngx_str_rbtree_insert_value);
    ngx_queue_init(&cache->sh->queue);

    len = sizeof(" in tracker api cache zone \"\"") + shm_zone->shm.name.len;

    cache->shpool->log_ctx = ngx_slab_alloc(cache->shpool, len);
    if (cache->shpool->log_ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(cache->shpool->log_ctx, " in tracker api cache zone \"%V\"%Z",
                &shm_zone->shm.name);

    /* a full zone evicts old answers: running out is no error */
    cache->shpool->log_nomem = 0;

    return NGX_OK;
}


ngx_int_t
ngx_tracker_api_cache_get(ngx_tracker_api_cache_t *cache, ngx_str_t *key,
    ngx_pool_t *pool, ngx_str_t *body)
{
    uint32_t                       hash;
    ngx_int_t                      rc;
    ngx_tracker_api_cache_node_t  *cn;

    hash = ngx_crc32_long(key->data, key->len);
    rc = NGX_DECLINED;

    ngx_shmtx_lock(&cache->shpool->mutex);

    cn = (ngx_tracker_api_cache_node_t *)
             ngx_str_rbtree_lookup(&cache->sh->rbtree, key, hash);

    if (cn && cn->expires > ngx_tracker_api_cache_now()) {
        body->data = ngx_pnalloc(pool, cn->len);

        if (body->data == NULL) {
            rc = NGX_ERROR;

        } else {
            body->len = cn->len;
            ngx_memcpy(body->data, cn->data + key->len, cn->len);
            rc = NGX_OK;
        }
    }

    ngx_shmtx_unlock(&cache->shpool->mutex);

    return rc;
}


void
ngx_tracker_api_cache_put(ngx_tracker_api_cache_t *cache, ngx_str_t *key,
    ngx_msec_t ttl, ngx_str_t *body, const char *message, ngx_log_t *log)
{
    u_char                        *p, *end;
    size_t                         len, mlen;
    uint32_t                       hash;
    uint64_t                       now;
    ngx_uint_t                     n;
    ngx_queue_t                   *q;
    ngx_tracker_api_cache_node_t  *cn;

    /* the object's closing brace: "message" goes in front of it */
    end = body->data + body->len;

    while (end > body->data && end[-1] != '}') {
        end--;
    }

    if (end == body->data) {
        return;
    }

    end--;

    len = end - body->data;

    if (message) {
        mlen = ngx_strlen(message);
        len += sizeof(",\"message\":\"\"") - 1 + mlen
               + ngx_escape_json(NULL, (u_char *) message, mlen);

    } else {
        mlen = 0;
    }

    len++;

    now = ngx_tracker_api_cache_now();
    hash = ngx_crc32_long(key->data, key->len);

    ngx_shmtx_lock(&cache->shpool->mutex);

    cn = (ngx_tracker_api_cache_node_t *)
             ngx_str_rbtree_lookup(&cache->sh->rbtree, key, hash);
    if (cn) {
        ngx_tracker_api_cache_free(cache, cn);
    }

    /* a few expired ones from the old end, so dead answers do not pile up */
    for (n = 0; n < NGX_TRACKER_API_CACHE_EXPIRE; n++) {
        if (ngx_queue_empty(&cache->sh->queue)) {
            break;
        }

        q = ngx_queue_last(&cache->sh->queue);
        cn = ngx_queue_data(q, ngx_tracker_api_cache_node_t, queue);

        if (cn->expires > now) {
            break;
        }

        ngx_tracker_api_cache_free(cache, cn);
    }

    for ( ;; ) {
        cn = ngx_slab_alloc_locked(cache->shpool,
                                   offsetof(ngx_tracker_api_cache_node_t, data)
                                   + key->len + len);
        if (cn) {
            break;
        }

        if (ngx_queue_empty(&cache->sh->queue)) {
            ngx_shmtx_unlock(&cache->shpool->mutex);
            ngx_log_error(NGX_LOG_WARN, log, 0,
                          "tracker api cache: an answer of %uz bytes does "
                          "not fit in the zone", len);
            return;
        }

        q = ngx_queue_last(&cache->sh->queue);
        ngx_tracker_api_cache_free(cache,
                  ngx_queue_data(q, ngx_tracker_api_cache_node_t, queue));
    }

    p = ngx_cpymem(cn->data, key->data, key->len);
    p = ngx_cpymem(p, body->data, end - body->data);

    if (message) {
        p = ngx_cpymem(p, ",\"message\":\"", sizeof(",\"message\":\"") - 1);
        p = (u_char *) ngx_escape_json(p, (u_char *) message, mlen);
        *p++ = '"';
    }

    *p = '}';

    cn->sn.str.data = cn->data;
    cn->sn.str.len = key->len;
    cn->sn.node.key = hash;
    cn->expires = now + ttl;
    cn->len = len;

    ngx_rbtree_insert(&cache->sh->rbtree, &cn->sn.node);
    ngx_queue_insert_head(&cache->sh->queue, &cn->queue);

    ngx_shmtx_unlock(&cache->shpool->mutex);

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, log, 0,
                   "tracker api cache: kept %uz bytes for %Mms", len, ttl);
}


/* called with the zone locked */
static void
ngx_tracker_api_cache_free(ngx_tracker_api_cache_t *cache,
    ngx_tracker_api_cache_node_t *cn)
{
    ngx_rbtree_delete(&cache->sh->rbtree, &cn->sn.node);
    ngx_queue_remove(&cn->queue);
    ngx_slab_free_locked(cache->shpool, cn);
}


static uint64_t
ngx_tracker_api_cache_now(void)
{
    ngx_time_t  *tp;

    tp = ngx_timeofday();

    return (uint64_t) tp->sec * 1000 + tp->msec;
}
