
/*
 * ngx_tracker: directives, configuration and swarm zones of the HTTP
 * module, plus the per-worker timer that expires peers of quiet torrents.
 */

#include "ngx_tracker_module.h"
#include "ngx_tracker_torznab.h"


#define NGX_HTTP_TRACKER_SWEEP_MS  1000


static void *ngx_http_tracker_create_main_conf(ngx_conf_t *cf);
static void *ngx_http_tracker_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_tracker_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static char *ngx_http_tracker_swarm_zone(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_tracker_handler_slot(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_tracker_database(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_tracker_health(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_tracker_api(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_tracker_private_zone(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static ngx_int_t ngx_http_tracker_init_process(ngx_cycle_t *cycle);
static void ngx_http_tracker_exit_process(ngx_cycle_t *cycle);
static void ngx_http_tracker_sweep_handler(ngx_event_t *ev);


static ngx_conf_num_bounds_t  ngx_http_tracker_numwant_bounds = {
    ngx_conf_check_num_bounds, 0, 10000
};


static ngx_command_t  ngx_http_tracker_commands[] = {

    { ngx_string("tracker_swarm_zone"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE12,
      ngx_http_tracker_swarm_zone,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("tracker_announce"),
      NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_tracker_handler_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      (void *) ngx_http_tracker_announce_handler },

    { ngx_string("tracker_scrape"),
      NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_tracker_handler_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      (void *) ngx_http_tracker_scrape_handler },

    { ngx_string("tracker_status"),
      NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_tracker_handler_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      (void *) ngx_http_tracker_status_handler },

    { ngx_string("tracker_interval"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_tracker_loc_conf_t, interval),
      NULL },

    { ngx_string("tracker_min_interval"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_tracker_loc_conf_t, min_interval),
      NULL },

    { ngx_string("tracker_numwant"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_tracker_loc_conf_t, numwant),
      &ngx_http_tracker_numwant_bounds },

    { ngx_string("tracker_max_numwant"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_tracker_loc_conf_t, max_numwant),
      &ngx_http_tracker_numwant_bounds },

    { ngx_string("tracker_full_scrape"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_tracker_loc_conf_t, full_scrape),
      NULL },

    { ngx_string("tracker_ip_param"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_tracker_loc_conf_t, ip_param),
      NULL },

    { ngx_string("tracker_database"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_tracker_database,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("tracker_private_zone"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_tracker_private_zone,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    /* the JSON API's answer cache (ngx_tracker_api_cache.c) */
    { ngx_string("tracker_api_cache_zone"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE12,
      ngx_tracker_api_cache_zone,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("tracker_health"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS|NGX_CONF_TAKE1,
      ngx_http_tracker_health,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("tracker_api"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_tracker_api,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    /* Torznab and the public RSS feeds (ngx_tracker_torznab.c) */
    { ngx_string("tracker_torznab"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_tracker_torznab,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("tracker_rss"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_tracker_torznab,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("tracker_private"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_tracker_loc_conf_t, private),
      NULL },

    { ngx_string("set_tracker_hex"),
      NGX_HTTP_SRV_CONF|NGX_HTTP_SIF_CONF|NGX_HTTP_LOC_CONF|NGX_HTTP_LIF_CONF
          |NGX_CONF_TAKE2,
      ngx_http_tracker_set_hex,
      0,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_tracker_module_ctx = {
    NULL,                                  /* preconfiguration */
    NULL,                                  /* postconfiguration */

    ngx_http_tracker_create_main_conf,     /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_tracker_create_loc_conf,      /* create location configuration */
    ngx_http_tracker_merge_loc_conf        /* merge location configuration */
};


ngx_module_t  ngx_http_tracker_module = {
    NGX_MODULE_V1,
    &ngx_http_tracker_module_ctx,          /* module context */
    ngx_http_tracker_commands,             /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_http_tracker_init_process,         /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_tracker_exit_process,         /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static void *
ngx_http_tracker_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_tracker_main_conf_t  *tmcf;

    tmcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_tracker_main_conf_t));
    if (tmcf == NULL) {
        return NULL;
    }

    if (ngx_array_init(&tmcf->zones, cf->pool, 2, sizeof(ngx_shm_zone_t *))
        != NGX_OK)
    {
        return NULL;
    }

    return tmcf;
}


static void *
ngx_http_tracker_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_tracker_loc_conf_t  *tlcf;

    tlcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_tracker_loc_conf_t));
    if (tlcf == NULL) {
        return NULL;
    }

    /* set by ngx_pcalloc(): tlcf->zone = NULL */

    tlcf->interval = NGX_CONF_UNSET;
    tlcf->min_interval = NGX_CONF_UNSET;
    tlcf->numwant = NGX_CONF_UNSET_UINT;
    tlcf->max_numwant = NGX_CONF_UNSET_UINT;
    tlcf->full_scrape = NGX_CONF_UNSET;
    tlcf->ip_param = NGX_CONF_UNSET;
    tlcf->private = NGX_CONF_UNSET;

    return tlcf;
}


static char *
ngx_http_tracker_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_tracker_loc_conf_t  *prev = parent;
    ngx_http_tracker_loc_conf_t  *conf = child;

    ngx_http_tracker_main_conf_t  *tmcf;

    if (conf->zone == NULL) {
        conf->zone = prev->zone;
    }

    ngx_conf_merge_sec_value(conf->interval, prev->interval, 1800);
    ngx_conf_merge_sec_value(conf->min_interval, prev->min_interval, 900);
    ngx_conf_merge_uint_value(conf->numwant, prev->numwant, 50);
    ngx_conf_merge_uint_value(conf->max_numwant, prev->max_numwant, 200);
    ngx_conf_merge_value(conf->full_scrape, prev->full_scrape, 0);
    ngx_conf_merge_value(conf->ip_param, prev->ip_param, 0);
    ngx_conf_merge_value(conf->private, prev->private, 0);

    tmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_tracker_module);

    if ((conf->health_sql.len || conf->api) && tmcf->pg == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"tracker_health\" and \"tracker_api\" need "
                           "\"tracker_database\"");
        return NGX_CONF_ERROR;
    }

    if (conf->private && (tmcf->cache == NULL || tmcf->pg == NULL)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"tracker_private\" needs \"tracker_database\" "
                           "and \"tracker_private_zone\"");
        return NGX_CONF_ERROR;
    }

    if (conf->interval == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"tracker_interval\" must be at least 1s");
        return NGX_CONF_ERROR;
    }

    if (conf->min_interval > conf->interval) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"tracker_min_interval\" must not exceed "
                           "\"tracker_interval\"");
        return NGX_CONF_ERROR;
    }

    if (conf->numwant > conf->max_numwant) {
        conf->numwant = conf->max_numwant;
    }

    return NGX_CONF_OK;
}


/*
 * The "name:size" argument of the zone directives; the size must be at
 * least min bytes.
 */
char *
ngx_http_tracker_zone_arg(ngx_conf_t *cf, ngx_str_t *arg, const char *what,
    ssize_t min, ngx_str_t *name, ssize_t *size)
{
    u_char     *p;
    ngx_str_t   s;

    p = (u_char *) ngx_strchr(arg->data, ':');
    if (p == NULL || p == arg->data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid %s zone \"%V\", expected \"name:size\"",
                           what, arg);
        return NGX_CONF_ERROR;
    }

    name->data = arg->data;
    name->len = p - arg->data;

    s.data = p + 1;
    s.len = arg->data + arg->len - s.data;

    *size = ngx_parse_size(&s);

    if (*size == NGX_ERROR || *size < min) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid %s zone size \"%V\", at least %uzk",
                           what, &s, (size_t) min / 1024);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* tracker_swarm_zone name:size [peer_timeout=time]; */
static char *
ngx_http_tracker_swarm_zone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_tracker_main_conf_t  *tmcf = conf;

    time_t                timeout;
    ssize_t               size;
    ngx_str_t            *value, name, s;
    ngx_shm_zone_t       *shm_zone, **zp;
    ngx_tracker_swarm_t  *sw;

    value = cf->args->elts;

    /* room for the shard table and a useful number of peers */
    if (ngx_http_tracker_zone_arg(cf, &value[1], "swarm", 256 * 1024, &name,
                                  &size)
        != NGX_CONF_OK)
    {
        return NGX_CONF_ERROR;
    }

    timeout = 2700;

    if (cf->args->nelts == 3) {
        if (ngx_strncmp(value[2].data, "peer_timeout=", 13) != 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\"", &value[2]);
            return NGX_CONF_ERROR;
        }

        s.data = value[2].data + 13;
        s.len = value[2].len - 13;

        timeout = ngx_parse_time(&s, 1);
        if (timeout == (time_t) NGX_ERROR || timeout < 1) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid peer_timeout \"%V\"", &value[2]);
            return NGX_CONF_ERROR;
        }
    }

    sw = ngx_pcalloc(cf->pool, sizeof(ngx_tracker_swarm_t));
    if (sw == NULL) {
        return NGX_CONF_ERROR;
    }

    sw->peer_timeout = timeout;

    shm_zone = ngx_shared_memory_add(cf, &name, size,
                                     &ngx_http_tracker_module);
    if (shm_zone == NULL) {
        return NGX_CONF_ERROR;
    }

    if (shm_zone->data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "duplicate swarm zone \"%V\"", &name);
        return NGX_CONF_ERROR;
    }

    sw->shm_zone = shm_zone;
    shm_zone->init = ngx_tracker_swarm_init_zone;
    shm_zone->data = sw;

    zp = ngx_array_push(&tmcf->zones);
    if (zp == NULL) {
        return NGX_CONF_ERROR;
    }

    *zp = shm_zone;

    return NGX_CONF_OK;
}


/* tracker_announce|tracker_scrape|tracker_status zone; */
static char *
ngx_http_tracker_handler_slot(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_tracker_loc_conf_t  *tlcf = conf;

    ngx_str_t                 *value;
    ngx_shm_zone_t            *shm_zone;
    ngx_http_core_loc_conf_t  *clcf;

    value = cf->args->elts;

    /* size 0: refers to a zone that tracker_swarm_zone defines */
    shm_zone = ngx_shared_memory_add(cf, &value[1], 0,
                                     &ngx_http_tracker_module);
    if (shm_zone == NULL) {
        return NGX_CONF_ERROR;
    }

    if (tlcf->zone && tlcf->zone != shm_zone) {
        return "uses a different swarm zone than another tracker "
               "directive in this location";
    }

    tlcf->zone = shm_zone;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (clcf->handler) {
        return "is duplicate: this location already has a content handler";
    }

    clcf->handler = (ngx_http_handler_pt) cmd->post;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_tracker_init_process(ngx_cycle_t *cycle)
{
    ngx_uint_t                     i;
    ngx_event_t                   *ev;
    ngx_shm_zone_t               **zones;
    ngx_tracker_swarm_t           *sw;
    ngx_http_tracker_main_conf_t  *tmcf;

    if (ngx_process != NGX_PROCESS_WORKER
        && ngx_process != NGX_PROCESS_SINGLE)
    {
        return NGX_OK;
    }

    tmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_tracker_module);
    if (tmcf == NULL) {
        return NGX_OK;
    }

    zones = tmcf->zones.elts;

    if (tmcf->pg) {
        ngx_tracker_pg_init_worker(tmcf->pg, cycle->log);
    }

    if (tmcf->cache && tmcf->pg) {
        /* peer states live as long as the longest-lived swarm's peers */
        for (i = 0; i < tmcf->zones.nelts; i++) {
            sw = zones[i]->data;
            tmcf->cache->peer_timeout = ngx_max(tmcf->cache->peer_timeout,
                                                sw->peer_timeout);
        }

        /* a peers row is rewritten well before the database expires it */
        tmcf->cache->peer_refresh = ngx_min(tmcf->cache->peer_refresh,
                                            tmcf->cache->peer_timeout / 2);

        if (ngx_tracker_accounting_init_worker(cycle, tmcf->cache, tmcf->pg,
                                               tmcf->flush, tmcf->batch)
            != NGX_OK
            || ngx_http_tracker_private_init_worker(cycle, tmcf) != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    for (i = 0; i < tmcf->zones.nelts; i++) {
        ev = ngx_pcalloc(cycle->pool, sizeof(ngx_event_t));
        if (ev == NULL) {
            return NGX_ERROR;
        }

        ev->handler = ngx_http_tracker_sweep_handler;
        ev->data = zones[i]->data;
        ev->log = cycle->log;
        /* never keeps a worker alive during graceful shutdown */
        ev->cancelable = 1;

        ngx_add_timer(ev, NGX_HTTP_TRACKER_SWEEP_MS);
    }

    return NGX_OK;
}


static void
ngx_http_tracker_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_tracker_main_conf_t  *tmcf;

    tmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_tracker_module);

    if (tmcf && tmcf->pg) {
        ngx_tracker_pg_shutdown(tmcf->pg);
    }
}


static void
ngx_http_tracker_sweep_handler(ngx_event_t *ev)
{
    ngx_tracker_swarm_t  *sw = ev->data;

    ngx_tracker_swarm_sweep(sw);

    if (!ngx_exiting && !ngx_terminate && !ngx_quit) {
        ngx_add_timer(ev, NGX_HTTP_TRACKER_SWEEP_MS);
    }
}


/* tracker_database "conninfo" [pool=N] [queue=N] [connect_timeout=T] ...; */
static char *
ngx_http_tracker_database(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_tracker_main_conf_t  *tmcf = conf;

    if (tmcf->pg) {
        return "is duplicate";
    }

    tmcf->pg = ngx_tracker_pg_create(cf);
    if (tmcf->pg == NULL) {
        return NGX_CONF_ERROR;
    }

    return ngx_tracker_pg_conf(cf, tmcf->pg,
                               (ngx_str_t *) cf->args->elts + 1,
                               cf->args->nelts - 1);
}


/* a tag of its own, so no swarm directive can name this zone */
static ngx_uint_t  ngx_http_tracker_private_tag;


/*
 * tracker_private_zone name:size [journal=N] [ttl=T] [negative_ttl=T]
 *     [flush=T] [batch=N] [peer_refresh=T];
 */
static char *
ngx_http_tracker_private_zone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_tracker_main_conf_t  *tmcf = conf;

    ssize_t               size;
    ngx_int_t             n;
    ngx_str_t            *value, name, s;
    ngx_uint_t            i;
    ngx_shm_zone_t       *shm_zone;
    ngx_tracker_cache_t  *cache;

    if (tmcf->cache) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_http_tracker_zone_arg(cf, &value[1], "private", 1024 * 1024,
                                  &name, &size)
        != NGX_CONF_OK)
    {
        return NGX_CONF_ERROR;
    }

    cache = ngx_pcalloc(cf->pool, sizeof(ngx_tracker_cache_t));
    if (cache == NULL) {
        return NGX_CONF_ERROR;
    }

    cache->journal_size = 65536;
    /*
     * Changes arrive by NOTIFY (and a lost listener drops everything): the
     * TTL is a safety net, and each refresh is a query.
     */
    cache->ttl = 600;
    cache->negative_ttl = 30;
    cache->peer_refresh = 60;
    tmcf->flush = 2000;
    tmcf->batch = 50000;

    for (i = 2; i < cf->args->nelts; i++) {
        s = value[i];

        if (ngx_strncmp(s.data, "journal=", 8) == 0) {
            n = ngx_atoi(s.data + 8, s.len - 8);
            if (n < 16) {
                goto invalid;
            }

            cache->journal_size = n;

        } else if (ngx_strncmp(s.data, "batch=", 6) == 0) {
            n = ngx_atoi(s.data + 6, s.len - 6);
            if (n < 1) {
                goto invalid;
            }

            tmcf->batch = n;

        } else if (ngx_strncmp(s.data, "ttl=", 4) == 0) {
            s.data += 4;
            s.len -= 4;
            cache->ttl = ngx_parse_time(&s, 1);
            if (cache->ttl == (time_t) NGX_ERROR || cache->ttl < 1) {
                goto invalid;
            }

        } else if (ngx_strncmp(s.data, "negative_ttl=", 13) == 0) {
            s.data += 13;
            s.len -= 13;
            cache->negative_ttl = ngx_parse_time(&s, 1);
            if (cache->negative_ttl == (time_t) NGX_ERROR
                || cache->negative_ttl < 1)
            {
                goto invalid;
            }

        } else if (ngx_strncmp(s.data, "flush=", 6) == 0) {
            s.data += 6;
            s.len -= 6;
            n = ngx_parse_time(&s, 0);
            if (n == NGX_ERROR || n < 10) {
                goto invalid;
            }

            tmcf->flush = n;

        } else if (ngx_strncmp(s.data, "peer_refresh=", 13) == 0) {
            s.data += 13;
            s.len -= 13;

            /* the time since a row was written is kept in one byte */
            cache->peer_refresh = ngx_parse_time(&s, 1);
            if (cache->peer_refresh == (time_t) NGX_ERROR
                || cache->peer_refresh > 255)
            {
                goto invalid;
            }

        } else {
            goto invalid;
        }
    }

    if ((size_t) size < cache->journal_size * sizeof(ngx_tracker_delta_t)
                        + 512 * 1024)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "private zone \"%V\" is too small for a journal "
                           "of %ui records (%uz bytes each)", &name,
                           cache->journal_size, sizeof(ngx_tracker_delta_t));
        return NGX_CONF_ERROR;
    }

    shm_zone = ngx_shared_memory_add(cf, &name, size,
                                     &ngx_http_tracker_private_tag);
    if (shm_zone == NULL) {
        return NGX_CONF_ERROR;
    }

    if (shm_zone->data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "duplicate zone \"%V\"", &name);
        return NGX_CONF_ERROR;
    }

    cache->shm_zone = shm_zone;
    shm_zone->init = ngx_tracker_cache_init_zone;
    shm_zone->data = cache;
    tmcf->cache = cache;

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "invalid parameter \"%V\"",
                       &value[i]);

    return NGX_CONF_ERROR;
}


/* tracker_health ["statement"]; the JSON API's liveness check */
static char *
ngx_http_tracker_health(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_tracker_loc_conf_t  *tlcf = conf;

    u_char                    *p;
    ngx_str_t                 *value, sql;
    ngx_http_core_loc_conf_t  *clcf;

    value = cf->args->elts;

    if (cf->args->nelts == 2) {
        sql = value[1];

    } else {
        ngx_str_set(&sql, "SELECT 1");
    }

    /* libpq wants a NUL-terminated statement */
    p = ngx_pnalloc(cf->pool, sql.len + 1);
    if (p == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memcpy(p, sql.data, sql.len);
    p[sql.len] = '\0';

    tlcf->health_sql.data = p;
    tlcf->health_sql.len = sql.len;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (clcf->handler) {
        return "is duplicate: this location already has a content handler";
    }

    clcf->handler = ngx_http_tracker_health_handler;

    return NGX_CONF_OK;
}


/* tracker_api; the JSON API below this location (e.g. /api/v1/) */
static char *
ngx_http_tracker_api(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_tracker_loc_conf_t  *tlcf = conf;

    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (clcf->handler) {
        return "is duplicate: this location already has a content handler";
    }

    clcf->handler = ngx_http_tracker_api_handler;
    tlcf->api = 1;

    return NGX_CONF_OK;
}
