
/*
 * ngx_tracker: rate limiting and abuse protection.
 *
 * A module of its own (ngx_http_tracker_limit_module) in the tracker's .so.
 * Its PREACCESS handler runs the location's tracker_limit rules against a
 * shared-memory zone and answers a refused request in the format its
 * client understands (JSON API, Torznab, bencoded announce, Gazelle).
 *
 * Algorithm: GCRA.  Each (bucket, key) keeps one theoretical arrival time
 * (TAT, microseconds); a request passes when TAT - now <= burst * T and
 * moves TAT to max(TAT, now) + T.  The wait of a refused request is
 * exactly TAT - now - burst * T, which is what clients are told.
 *
 * The zone holds the keys in 16 shards (a lock, a hash table and an LRU
 * list each: a full zone evicts a shard's least recently used keys), the
 * offence counters of client addresses (same tables, slot
 * NGX_TRACKER_LIMIT_OFFENCES), and one more table, under a lock of its own,
 * of banned addresses and ranges keyed by (family, prefix, masked address):
 * a lookup tries only the prefix lengths that are in use.
 */

#include "ngx_tracker_module.h"
#include "ngx_tracker_limit.h"

#include <ngx_md5.h>


#define NGX_TRACKER_LIMIT_BUCKETS     32
#define NGX_TRACKER_LIMIT_NAME_LEN    32
#define NGX_TRACKER_LIMIT_KEY_MAX     62     /* longer: MD5; a key fits 128 */
#define NGX_TRACKER_LIMIT_OFFENCES    0xff   /* slot of offence counters */
#define NGX_TRACKER_LIMIT_EVICT       16     /* keys freed per full zone */
#define NGX_TRACKER_LIMIT_SHARDS      16

#define NGX_TRACKER_ANSWER_AUTO       0
#define NGX_TRACKER_ANSWER_JSON       1
#define NGX_TRACKER_ANSWER_TORZNAB    2
#define NGX_TRACKER_ANSWER_BENCODE    3
#define NGX_TRACKER_ANSWER_GAZELLE    4

#define NGX_TRACKER_REFUSE_LIMIT      0      /* a bucket is empty */
#define NGX_TRACKER_REFUSE_BAN        1      /* a ban with an expiry */
#define NGX_TRACKER_REFUSE_FOREVER    2      /* a permanent ban */

#define NGX_TRACKER_GCRA_REQUEST      0      /* check, charge if it passes */
#define NGX_TRACKER_GCRA_PEEK         1      /* check only */
#define NGX_TRACKER_GCRA_CHARGE       2      /* charge, never refuse */


/*
 * One record type for limiter keys, offence counters and bans, kept in
 * chained hash tables (one per shard, one for bans): a lookup costs one
 * or two cache misses where a tree walk cost a dozen.  key[] is compared
 * whole:
 *     limiter key:  slot, hashed, the key's bytes (or their MD5)
 *     ban:          family (0 IPv4, 1 IPv6), prefix, address (16, masked)
 */
typedef struct ngx_tracker_limit_node_s  ngx_tracker_limit_node_t;

struct ngx_tracker_limit_node_s {
    ngx_tracker_limit_node_t     *next;        /* hash chain */
    ngx_queue_t                   queue;       /* LRU; a ban source's list */
    uint64_t                      time;        /* TAT or offence window
                                                  start (us); ban expiry
                                                  (ms, 0: never) */
    uint32_t                      hash;
    uint32_t                      count;       /* offences in the window */
    uint32_t                      used;        /* last LRU move (seconds) */
    u_char                        len;         /* of key[] */
    u_char                        source;      /* bans */
    u_char                        key[2 + NGX_TRACKER_LIMIT_KEY_MAX];
};

#define NGX_TRACKER_LIMIT_NODE_SIZE(len)                                      \
    (offsetof(ngx_tracker_limit_node_t, key) + (len))


typedef struct {
    ngx_tracker_limit_node_t    **buckets;
    ngx_uint_t                    mask;
} ngx_tracker_limit_table_t;


typedef struct {
    u_char                        name[NGX_TRACKER_LIMIT_NAME_LEN];
    size_t                        len;
    ngx_atomic_t                  keys;
    ngx_atomic_t                  rejected;
} ngx_tracker_limit_bucket_t;


/* keys are spread over shards by hash: one lock, table and LRU each */
typedef struct {
    ngx_shmtx_sh_t                lock;
    ngx_shmtx_t                   mutex;
    ngx_tracker_limit_table_t     table;
    ngx_queue_t                   lru;
    /*
     * requests let through, by bucket slot: counted under the shard's lock
     * instead of with an atomic on a line all workers write
     */
    ngx_uint_t                    passed[NGX_TRACKER_LIMIT_BUCKETS];
    /* keeps two shards' locks off one cache line */
    u_char                        pad[64];
} ngx_tracker_limit_shard_t;


typedef struct {
    ngx_tracker_limit_shard_t     shards[NGX_TRACKER_LIMIT_SHARDS];
    ngx_shmtx_sh_t                ban_lock;
    ngx_shmtx_t                   ban_mutex;
    ngx_tracker_limit_table_t     bans;
    ngx_queue_t                   ban_lists[NGX_TRACKER_BAN_SOURCES];
    ngx_atomic_t                  nbans[NGX_TRACKER_BAN_SOURCES];
    /* read without the lock: no bans, no lookup */
    ngx_atomic_t                  nbans_all;
    /* bans per family and prefix length: lookups skip unused lengths */
    uint32_t                      prefixes[2][129];
    ngx_atomic_t                  offenders;
    ngx_uint_t                    nbuckets;
    ngx_tracker_limit_bucket_t    buckets[NGX_TRACKER_LIMIT_BUCKETS];
    ngx_atomic_t                  evicted;
    ngx_atomic_t                  bans_issued;
    ngx_atomic_t                  banned;      /* requests refused by bans */
    ngx_atomic_t                  penalties;
    /* loads of a source's list: last success (unix time), count, failures */
    ngx_atomic_t                  loaded_at[NGX_TRACKER_BAN_SOURCES];
    ngx_atomic_t                  loads[NGX_TRACKER_BAN_SOURCES];
    ngx_atomic_t                  load_failures[NGX_TRACKER_BAN_SOURCES];
} ngx_tracker_limit_sh_t;


typedef struct {
    ngx_tracker_limit_sh_t       *sh;
    ngx_slab_pool_t              *shpool;
    ngx_shm_zone_t               *shm_zone;
    ngx_array_t                   buckets;     /* ngx_str_t, configured */
    u_char                        slots[NGX_TRACKER_LIMIT_BUCKETS];
    ngx_uint_t                    ban_after;   /* 0: no temporary bans */
    ngx_msec_t                    ban_window;
    ngx_msec_t                    ban_time;
    ngx_array_t                  *static_bans; /* ngx_tracker_ban_t */
} ngx_tracker_limit_zone_t;


typedef struct {
    ngx_shm_zone_t               *shm_zone;
    ngx_uint_t                    bucket;      /* index in zone->buckets */
    ngx_http_complex_value_t      key;
    uint64_t                      interval;    /* us between requests */
    ngx_uint_t                    burst;
    ngx_uint_t                    on_failure;
} ngx_tracker_limit_rule_t;


typedef struct {
    ngx_array_t                   zones;       /* ngx_shm_zone_t * */
    ngx_array_t                   bans;        /* ngx_tracker_ban_t */
} ngx_tracker_limit_main_conf_t;


typedef struct {
    ngx_array_t                  *rules;       /* ngx_tracker_limit_rule_t */
    ngx_uint_t                    answer;
} ngx_tracker_limit_loc_conf_t;


typedef struct {
    ngx_uint_t                    family;      /* 0, 1; 2: no address */
    u_char                        addr[16];
} ngx_tracker_limit_addr_t;


typedef struct {
    u_char                        key[2 + NGX_TRACKER_LIMIT_KEY_MAX];
    size_t                        len;
    uint32_t                      hash;
    ngx_tracker_limit_shard_t    *shard;
} ngx_tracker_limit_ref_t;


static ngx_int_t ngx_http_tracker_limit_handler(ngx_http_request_t *r);
static ngx_int_t ngx_tracker_limit_refuse(ngx_http_request_t *r,
    ngx_uint_t kind, uint64_t wait);
static void ngx_tracker_limit_client(ngx_http_request_t *r,
    ngx_tracker_limit_addr_t *a);
static ngx_int_t ngx_tracker_limit_key(ngx_http_request_t *r,
    ngx_tracker_limit_rule_t *rule, ngx_str_t *key, u_char *md5);
static void ngx_tracker_limit_ref(ngx_tracker_limit_zone_t *z,
    ngx_uint_t slot, ngx_str_t *key, ngx_uint_t hashed,
    ngx_tracker_limit_ref_t *ref);
static ngx_tracker_limit_node_t *ngx_tracker_limit_node(
    ngx_tracker_limit_zone_t *z, ngx_tracker_limit_ref_t *ref, uint64_t now,
    ngx_uint_t create);
static void ngx_tracker_limit_undo(ngx_http_request_t *r,
    ngx_tracker_limit_rule_t *rules, ngx_uint_t n, uint64_t now);
static uint64_t ngx_tracker_limit_gcra(ngx_tracker_limit_node_t *ln,
    ngx_tracker_limit_rule_t *rule, uint64_t now, ngx_uint_t mode);
static ngx_uint_t ngx_tracker_limit_offence(ngx_tracker_limit_zone_t *z,
    ngx_tracker_limit_addr_t *a, uint64_t now);
static uint64_t ngx_tracker_limit_banned(ngx_tracker_limit_zone_t *z,
    ngx_tracker_limit_addr_t *a, uint64_t now, ngx_uint_t *kind);
static ngx_int_t ngx_tracker_limit_ban_replace_zone(
    ngx_tracker_limit_zone_t *z, ngx_uint_t source, ngx_tracker_ban_t *bans,
    ngx_uint_t n, ngx_log_t *log);

static ngx_int_t ngx_tracker_limit_passkey_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_tracker_limit_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static void *ngx_tracker_limit_create_main_conf(ngx_conf_t *cf);
static void *ngx_tracker_limit_create_loc_conf(ngx_conf_t *cf);
static char *ngx_tracker_limit_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static char *ngx_tracker_limit_zone(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_tracker_limit(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_tracker_limit_ban(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_tracker_limit_preconfiguration(ngx_conf_t *cf);
static ngx_int_t ngx_tracker_limit_postconfiguration(ngx_conf_t *cf);


static ngx_conf_enum_t  ngx_tracker_limit_answers[] = {
    { ngx_string("auto"), NGX_TRACKER_ANSWER_AUTO },
    { ngx_string("json"), NGX_TRACKER_ANSWER_JSON },
    { ngx_string("torznab"), NGX_TRACKER_ANSWER_TORZNAB },
    { ngx_string("bencode"), NGX_TRACKER_ANSWER_BENCODE },
    { ngx_string("gazelle"), NGX_TRACKER_ANSWER_GAZELLE },
    { ngx_null_string, 0 }
};


static ngx_command_t  ngx_tracker_limit_commands[] = {

    { ngx_string("tracker_limit_zone"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_tracker_limit_zone,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("tracker_limit"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_2MORE,
      ngx_tracker_limit,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("tracker_limit_answer"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_tracker_limit_loc_conf_t, answer),
      &ngx_tracker_limit_answers },

    { ngx_string("tracker_ban"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_tracker_limit_ban,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_tracker_limit_module_ctx = {
    ngx_tracker_limit_preconfiguration,    /* preconfiguration */
    ngx_tracker_limit_postconfiguration,   /* postconfiguration */

    ngx_tracker_limit_create_main_conf,    /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_tracker_limit_create_loc_conf,     /* create location configuration */
    ngx_tracker_limit_merge_loc_conf       /* merge location configuration */
};


ngx_module_t  ngx_http_tracker_limit_module = {
    NGX_MODULE_V1,
    &ngx_tracker_limit_module_ctx,         /* module context */
    ngx_tracker_limit_commands,            /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    NULL,                                  /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    NULL,                                  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_str_t  ngx_tracker_limit_passkey_name =
    ngx_string("tracker_passkey");
static ngx_str_t  ngx_tracker_limit_verbs[] = {
    ngx_string("announce"),
    ngx_string("scrape")
};
static ngx_str_t  ngx_tracker_limit_source_names[] = {
    ngx_string("static"),
    ngx_string("db"),
    ngx_string("temporary")
};

/* marks a request the limiter has seen (internal redirects pass) */
static u_char  ngx_tracker_limit_seen;


static ngx_int_t
ngx_http_tracker_limit_handler(ngx_http_request_t *r)
{
    u_char                         md5[16];
    uint64_t                       now, wait;
    ngx_str_t                      key;
    ngx_int_t                      hashed;
    ngx_uint_t                     i, j, kind, slot, banned;
    ngx_time_t                    *tp;
    ngx_tracker_limit_ref_t        ref;
    ngx_tracker_limit_addr_t       a;
    ngx_tracker_limit_node_t      *ln;
    ngx_tracker_limit_rule_t      *rules, *rule;
    ngx_tracker_limit_zone_t      *z;
    ngx_tracker_limit_bucket_t    *b;
    ngx_tracker_limit_loc_conf_t  *llcf;

    if (ngx_http_get_module_ctx(r->main, ngx_http_tracker_limit_module)) {
        return NGX_DECLINED;
    }

    llcf = ngx_http_get_module_loc_conf(r, ngx_http_tracker_limit_module);

    if (llcf->rules == NULL) {
        return NGX_DECLINED;
    }

    ngx_http_set_ctx(r->main, &ngx_tracker_limit_seen,
                     ngx_http_tracker_limit_module);

    ngx_tracker_limit_client(r, &a);

    tp = ngx_timeofday();
    now = ((uint64_t) tp->sec * 1000 + tp->msec) * 1000;

    rules = llcf->rules->elts;

    for (i = 0; i < llcf->rules->nelts; i++) {
        rule = &rules[i];
        z = rule->shm_zone->data;

        /* a zone's bans are checked by its first rule */
        for (j = 0; j < i; j++) {
            if (rules[j].shm_zone == rule->shm_zone) {
                break;
            }
        }

        if (j == i && z->sh->nbans_all) {
            wait = ngx_tracker_limit_banned(z, &a, now, &kind);

            if (kind != NGX_TRACKER_REFUSE_LIMIT) {
                (void) ngx_atomic_fetch_add(&z->sh->banned, 1);
                ngx_tracker_limit_undo(r, rules, i, now);

                return ngx_tracker_limit_refuse(r, kind, wait);
            }
        }

        hashed = ngx_tracker_limit_key(r, rule, &key, md5);
        if (hashed == NGX_ERROR) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        if (key.len == 0) {
            /* no key (e.g. no passkey in this request): not limited */
            continue;
        }

        slot = z->slots[rule->bucket];
        b = &z->sh->buckets[slot];
        wait = 0;

        ngx_tracker_limit_ref(z, slot, &key, hashed, &ref);

        ngx_shmtx_lock(&ref.shard->mutex);

        ln = ngx_tracker_limit_node(z, &ref, now, 1);

        if (ln) {
            wait = ngx_tracker_limit_gcra(ln, rule, now,
                                          rule->on_failure
                                          ? NGX_TRACKER_GCRA_PEEK
                                          : NGX_TRACKER_GCRA_REQUEST);
        }

        if (wait == 0) {
            ref.shard->passed[slot]++;
        }

        ngx_shmtx_unlock(&ref.shard->mutex);

        if (wait == 0) {
            continue;
        }

        (void) ngx_atomic_fetch_add(&b->rejected, 1);

        kind = NGX_TRACKER_REFUSE_LIMIT;
        banned = ngx_tracker_limit_offence(z, &a, now);

        if (banned) {
            kind = NGX_TRACKER_REFUSE_BAN;
            wait = (uint64_t) z->ban_time * 1000;

            ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                          "tracker limit: client %V banned for %M ms "
                          "after %ui refused requests",
                          &r->connection->addr_text, z->ban_time,
                          z->ban_after);
        }

        /* a refused request consumes nothing: undo the earlier rules */
        ngx_tracker_limit_undo(r, rules, i, now);

        ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "tracker limit: bucket \"%*s\" refused, wait %uLus",
                       b->len, b->name, wait);

        return ngx_tracker_limit_refuse(r, kind, wait);
    }

    return NGX_DECLINED;
}


ngx_int_t
ngx_tracker_limit_penalize(ngx_http_request_t *r)
{
    u_char                         md5[16];
    uint64_t                       now;
    ngx_str_t                      key;
    ngx_int_t                      hashed;
    ngx_uint_t                     i, charged;
    ngx_time_t                    *tp;
    ngx_tracker_limit_ref_t        ref;
    ngx_tracker_limit_addr_t       a;
    ngx_tracker_limit_node_t      *ln;
    ngx_tracker_limit_rule_t      *rules, *rule;
    ngx_tracker_limit_zone_t      *z;
    ngx_tracker_limit_loc_conf_t  *llcf;

    llcf = ngx_http_get_module_loc_conf(r, ngx_http_tracker_limit_module);

    if (llcf == NULL || llcf->rules == NULL) {
        return NGX_DECLINED;
    }

    ngx_tracker_limit_client(r, &a);

    tp = ngx_timeofday();
    now = ((uint64_t) tp->sec * 1000 + tp->msec) * 1000;

    rules = llcf->rules->elts;
    charged = 0;

    for (i = 0; i < llcf->rules->nelts; i++) {
        rule = &rules[i];

        if (!rule->on_failure) {
            continue;
        }

        z = rule->shm_zone->data;

        hashed = ngx_tracker_limit_key(r, rule, &key, md5);
        if (hashed == NGX_ERROR) {
            return NGX_ERROR;
        }

        if (key.len == 0) {
            continue;
        }

        ngx_tracker_limit_ref(z, z->slots[rule->bucket], &key, hashed, &ref);

        ngx_shmtx_lock(&ref.shard->mutex);

        ln = ngx_tracker_limit_node(z, &ref, now, 1);
        if (ln) {
            (void) ngx_tracker_limit_gcra(ln, rule, now,
                                          NGX_TRACKER_GCRA_CHARGE);
        }

        ngx_shmtx_unlock(&ref.shard->mutex);

        (void) ngx_atomic_fetch_add(&z->sh->penalties, 1);
        charged = 1;
    }

    if (charged) {
        return NGX_OK;
    }

    /* no failure bucket here: the failure is an offence of the address */
    z = rules[0].shm_zone->data;

    (void) ngx_atomic_fetch_add(&z->sh->penalties, 1);

    if (ngx_tracker_limit_offence(z, &a, now)) {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "tracker limit: client %V banned for %M ms after %ui "
                      "failed requests", &r->connection->addr_text,
                      z->ban_time, z->ban_after);
    }

    return NGX_OK;
}


/*
 * Gives back what rules[0..n-1] charged for this request: its TAT moved
 * by exactly one interval, whatever other workers did since.
 */
static void
ngx_tracker_limit_undo(ngx_http_request_t *r, ngx_tracker_limit_rule_t *rules,
    ngx_uint_t n, uint64_t now)
{
    u_char                     md5[16];
    ngx_int_t                  hashed;
    ngx_str_t                  key;
    ngx_uint_t                 i, slot;
    ngx_tracker_limit_ref_t    ref;
    ngx_tracker_limit_zone_t  *z;
    ngx_tracker_limit_node_t  *ln;

    for (i = 0; i < n; i++) {

        if (rules[i].on_failure) {
            continue;
        }

        hashed = ngx_tracker_limit_key(r, &rules[i], &key, md5);
        if (hashed == NGX_ERROR || key.len == 0) {
            continue;
        }

        z = rules[i].shm_zone->data;
        slot = z->slots[rules[i].bucket];

        ngx_tracker_limit_ref(z, slot, &key, hashed, &ref);

        ngx_shmtx_lock(&ref.shard->mutex);

        ln = ngx_tracker_limit_node(z, &ref, now, 0);

        if (ln && ln->time >= rules[i].interval) {
            ln->time -= rules[i].interval;
        }

        ref.shard->passed[slot]--;

        ngx_shmtx_unlock(&ref.shard->mutex);
    }
}


/*
 * The refusal in the client's own terms.  wait is in microseconds; clients
 * get it rounded up (to 10 ms in retry_after, to seconds elsewhere) so that
 * waiting as told always succeeds.
 */
static ngx_int_t
ngx_tracker_limit_refuse(ngx_http_request_t *r, ngx_uint_t kind,
    uint64_t wait)
{
    u_char                        *body, *p, msg[96], *m;
    size_t                         len;
    uint64_t                       cs, secs;
    ngx_int_t                      rc;
    ngx_str_t                      type;
    ngx_uint_t                     answer, status;
    ngx_table_elt_t               *h;
    ngx_http_core_loc_conf_t      *clcf;
    ngx_tracker_limit_loc_conf_t  *llcf;

    llcf = ngx_http_get_module_loc_conf(r, ngx_http_tracker_limit_module);
    answer = llcf->answer;

    if (answer == NGX_TRACKER_ANSWER_AUTO) {
        clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

        answer = (clcf->handler == ngx_http_tracker_announce_handler
                  || clcf->handler == ngx_http_tracker_scrape_handler)
                 ? NGX_TRACKER_ANSWER_BENCODE : NGX_TRACKER_ANSWER_JSON;
    }

    cs = (wait + 9999) / 10000;
    secs = (wait + 999999) / 1000000;

    if (kind == NGX_TRACKER_REFUSE_FOREVER) {
        m = ngx_cpymem(msg, "Address banned.", 15);

    } else {
        m = ngx_sprintf(msg, "%s, try again in %uL seconds.",
                        kind == NGX_TRACKER_REFUSE_BAN
                        ? "Address banned" : "Rate limit exceeded", secs);
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    body = ngx_pnalloc(r->pool, 256);
    if (body == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    status = NGX_HTTP_OK;

    switch (answer) {

    case NGX_TRACKER_ANSWER_TORZNAB:
        p = ngx_sprintf(body, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                              "<error code=\"%s\" description=\"%s\"/>\n",
                        kind == NGX_TRACKER_REFUSE_FOREVER ? "101" : "429",
                        kind == NGX_TRACKER_REFUSE_FOREVER
                        ? "Account suspended" : "Request limit reached");
        ngx_str_set(&type, "application/xml");
        break;

    case NGX_TRACKER_ANSWER_BENCODE:
        /* never a 429: clients take that for a dead tracker */
        len = m - msg;
        p = ngx_sprintf(body, "d14:failure reason%uz:", len);
        p = ngx_cpymem(p, msg, len);

        if (kind != NGX_TRACKER_REFUSE_FOREVER) {
            p = ngx_sprintf(p, "12:min intervali%uLe", secs);
        }

        *p++ = 'e';
        ngx_str_set(&type, "text/plain");
        break;

    case NGX_TRACKER_ANSWER_GAZELLE:
        p = ngx_sprintf(body, "{\"status\":\"failure\",\"error\":\"%s\"}",
                        kind == NGX_TRACKER_REFUSE_LIMIT
                        ? "Rate limit exceeded" : "Address banned");
        ngx_str_set(&type, "application/json");
        break;

    default: /* NGX_TRACKER_ANSWER_JSON */

        if (kind == NGX_TRACKER_REFUSE_FOREVER) {
            status = NGX_HTTP_FORBIDDEN;
            p = ngx_sprintf(body, "{\"error\":true,\"message\":\"%*s\"}",
                            (size_t) (m - msg), msg);

        } else {
            status = NGX_HTTP_TOO_MANY_REQUESTS;
            p = ngx_sprintf(body, "{\"error\":true,\"message\":\"%*s\","
                                  "\"retry_after\":%uL.%02uL}",
                            (size_t) (m - msg), msg, cs / 100, cs % 100);
        }

        ngx_str_set(&type, "application/json");
        break;
    }

    if (kind != NGX_TRACKER_REFUSE_FOREVER) {
        h = ngx_list_push(&r->headers_out.headers);
        if (h == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        h->hash = 1;
        ngx_str_set(&h->key, "Retry-After");

        h->value.data = ngx_pnalloc(r->pool, NGX_INT64_LEN);
        if (h->value.data == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        h->value.len = ngx_sprintf(h->value.data, "%uL", secs)
                       - h->value.data;
    }

    /* a phase handler: finalize here, the phases must not go on */
    ngx_http_finalize_request(r, ngx_http_tracker_send_type(r, status, &type,
                                                          body, p - body));
    return NGX_DONE;
}


/* the address bans and offences apply to ($remote_addr after realip) */
static void
ngx_tracker_limit_client(ngx_http_request_t *r, ngx_tracker_limit_addr_t *a)
{
    struct sockaddr      *sa;
    struct sockaddr_in   *sin;
#if (NGX_HAVE_INET6)
    struct sockaddr_in6  *sin6;
#endif

    sa = r->connection->sockaddr;
    a->family = 2;

    switch (sa->sa_family) {

#if (NGX_HAVE_INET6)
    case AF_INET6:
        sin6 = (struct sockaddr_in6 *) sa;

        if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
            a->family = 0;
            ngx_memcpy(a->addr, &sin6->sin6_addr.s6_addr[12], 4);

        } else {
            a->family = 1;
            ngx_memcpy(a->addr, sin6->sin6_addr.s6_addr, 16);
        }

        break;
#endif

    case AF_INET:
        sin = (struct sockaddr_in *) sa;
        a->family = 0;
        ngx_memcpy(a->addr, &sin->sin_addr.s_addr, 4);
        break;

    default:
        /* a unix socket without realip: no address to ban */
        break;
    }
}


/* returns 1 when key holds an MD5 of a long key, 0 when raw, or error */
static ngx_int_t
ngx_tracker_limit_key(ngx_http_request_t *r, ngx_tracker_limit_rule_t *rule,
    ngx_str_t *key, u_char *md5)
{
    ngx_md5_t  ctx;

    if (ngx_http_complex_value(r, &rule->key, key) != NGX_OK) {
        return NGX_ERROR;
    }

    if (key->len <= NGX_TRACKER_LIMIT_KEY_MAX) {
        return 0;
    }

    /* memory per key stays bounded, whatever a header carries */
    ngx_md5_init(&ctx);
    ngx_md5_update(&ctx, key->data, key->len);
    ngx_md5_final(md5, &ctx);

    key->data = md5;
    key->len = 16;

    return 1;
}


static ngx_uint_t
ngx_tracker_limit_stale(ngx_tracker_limit_zone_t *z,
    ngx_tracker_limit_node_t *ln, uint64_t now)
{
    if (ln->key[0] == NGX_TRACKER_LIMIT_OFFENCES) {
        return ln->time + (uint64_t) z->ban_window * 1000 <= now;
    }

    /* a key whose TAT has passed behaves exactly as a new one */
    return ln->time <= now;
}


static ngx_tracker_limit_node_t *
ngx_tracker_limit_find(ngx_tracker_limit_table_t *t, uint32_t hash,
    u_char *key, size_t len)
{
    ngx_tracker_limit_node_t  *ln;

    for (ln = t->buckets[hash & t->mask]; ln; ln = ln->next) {
        if (ln->hash == hash && ln->len == len
            && ngx_memcmp(ln->key, key, len) == 0)
        {
            return ln;
        }
    }

    return NULL;
}


static void
ngx_tracker_limit_link(ngx_tracker_limit_table_t *t,
    ngx_tracker_limit_node_t *ln)
{
    ngx_tracker_limit_node_t  **p;

    p = &t->buckets[ln->hash & t->mask];
    ln->next = *p;
    *p = ln;
}


static void
ngx_tracker_limit_unlink(ngx_tracker_limit_table_t *t,
    ngx_tracker_limit_node_t *ln)
{
    ngx_tracker_limit_node_t  **p;

    for (p = &t->buckets[ln->hash & t->mask]; *p; p = &(*p)->next) {
        if (*p == ln) {
            *p = ln->next;
            return;
        }
    }
}


/* the record's key and shard, computed before any lock is taken */
static void
ngx_tracker_limit_ref(ngx_tracker_limit_zone_t *z, ngx_uint_t slot,
    ngx_str_t *key, ngx_uint_t hashed, ngx_tracker_limit_ref_t *ref)
{
    ref->key[0] = (u_char) slot;
    ref->key[1] = (u_char) hashed;
    ngx_memcpy(&ref->key[2], key->data, key->len);
    ref->len = 2 + key->len;

    ref->hash = ngx_murmur_hash2(ref->key, ref->len);
    /* top bits pick the shard, low bits the bucket */
    ref->shard = &z->sh->shards[(ref->hash >> 24) % NGX_TRACKER_LIMIT_SHARDS];

    /*
     * The bucket's head is most of a lookup's cost (a cache miss, as the
     * profile shows): start loading it now, so that the miss overlaps the
     * lock's.  The table's address and mask never change after the zone's
     * creation, so reading them without the lock is safe.
     */
    ngx_tracker_prefetch(
                &ref->shard->table.buckets[ref->hash & ref->shard->table.mask]);
}


static void
ngx_tracker_limit_node_free(ngx_tracker_limit_zone_t *z,
    ngx_tracker_limit_shard_t *shard, ngx_tracker_limit_node_t *ln)
{
    ngx_atomic_t  *count;

    ngx_queue_remove(&ln->queue);
    ngx_tracker_limit_unlink(&shard->table, ln);

    count = (ln->key[0] == NGX_TRACKER_LIMIT_OFFENCES)
            ? &z->sh->offenders : &z->sh->buckets[ln->key[0]].keys;

    (void) ngx_atomic_fetch_add(count, (ngx_atomic_int_t) -1);

    ngx_slab_free(z->shpool, ln);
}


/* frees up to n least recently used keys of a locked shard */
static ngx_uint_t
ngx_tracker_limit_evict(ngx_tracker_limit_zone_t *z,
    ngx_tracker_limit_shard_t *shard, ngx_uint_t n, uint64_t now)
{
    ngx_uint_t                 i;
    ngx_queue_t               *q;
    ngx_tracker_limit_node_t  *ln;

    for (i = 0; i < n && !ngx_queue_empty(&shard->lru); i++) {
        q = ngx_queue_last(&shard->lru);
        ln = ngx_queue_data(q, ngx_tracker_limit_node_t, queue);

        /* only keys that still had a say count as evicted */
        if (!ngx_tracker_limit_stale(z, ln, now)) {
            (void) ngx_atomic_fetch_add(&z->sh->evicted, 1);
        }

        ngx_tracker_limit_node_free(z, shard, ln);
    }

    return i;
}


static ngx_tracker_limit_node_t *
ngx_tracker_limit_init_node(ngx_tracker_limit_node_t *ln, size_t len)
{
    ln->len = (u_char) len;
    ln->source = 0;
    ln->count = 0;
    ln->used = 0;
    ln->time = 0;

    return ln;
}


/*
 * Memory for a key in a locked shard.  Keys whose state has run out stay
 * until the memory is needed (a returning client then finds its record
 * instead of allocating one); a full zone frees the shard's least recently
 * used keys.
 */
static ngx_tracker_limit_node_t *
ngx_tracker_limit_alloc(ngx_tracker_limit_zone_t *z,
    ngx_tracker_limit_shard_t *shard, size_t len, uint64_t now)
{
    ngx_tracker_limit_node_t  *node;

    for ( ;; ) {
        node = ngx_slab_alloc(z->shpool, NGX_TRACKER_LIMIT_NODE_SIZE(len));

        if (node) {
            return ngx_tracker_limit_init_node(node, len);
        }

        if (ngx_tracker_limit_evict(z, shard, NGX_TRACKER_LIMIT_EVICT, now)
            == 0)
        {
            return NULL;
        }
    }
}


/* memory for a ban, the ban lock held; may evict keys of any shard */
static ngx_tracker_limit_node_t *
ngx_tracker_limit_ban_alloc(ngx_tracker_limit_zone_t *z, uint64_t now)
{
    ngx_uint_t                  i;
    ngx_tracker_limit_node_t   *node;
    ngx_tracker_limit_shard_t  *shard;

    for (i = 0; ; i++) {
        node = ngx_slab_alloc(z->shpool, NGX_TRACKER_LIMIT_NODE_SIZE(18));

        if (node) {
            return ngx_tracker_limit_init_node(node, 18);
        }

        if (i == NGX_TRACKER_LIMIT_SHARDS * 4) {
            return NULL;
        }

        shard = &z->sh->shards[i % NGX_TRACKER_LIMIT_SHARDS];

        ngx_shmtx_lock(&shard->mutex);
        (void) ngx_tracker_limit_evict(z, shard, NGX_TRACKER_LIMIT_EVICT,
                                       now);
        ngx_shmtx_unlock(&shard->mutex);
    }
}


/* finds (or creates) the record of ref; its shard is locked */
static ngx_tracker_limit_node_t *
ngx_tracker_limit_node(ngx_tracker_limit_zone_t *z,
    ngx_tracker_limit_ref_t *ref, uint64_t now, ngx_uint_t create)
{
    ngx_atomic_t               *count;
    ngx_tracker_limit_node_t   *ln;
    ngx_tracker_limit_shard_t  *shard;

    shard = ref->shard;

    ln = ngx_tracker_limit_find(&shard->table, ref->hash, ref->key,
                                ref->len);

    if (ln) {
        /* once a second at most: a move touches two more records */
        if (ln->used != (uint32_t) (now / 1000000)) {
            ln->used = (uint32_t) (now / 1000000);
            ngx_queue_remove(&ln->queue);
            ngx_queue_insert_head(&shard->lru, &ln->queue);
        }

        return ln;
    }

    if (!create) {
        return NULL;
    }

    ln = ngx_tracker_limit_alloc(z, shard, ref->len, now);
    if (ln == NULL) {
        ngx_log_error(NGX_LOG_ALERT, ngx_cycle->log, 0,
                      "tracker limit zone \"%V\" cannot hold a key: "
                      "the request passes", &z->shm_zone->shm.name);
        return NULL;
    }

    ngx_memcpy(ln->key, ref->key, ref->len);
    ln->hash = ref->hash;
    ln->used = (uint32_t) (now / 1000000);

    ngx_tracker_limit_link(&shard->table, ln);
    ngx_queue_insert_head(&shard->lru, &ln->queue);

    count = (ref->key[0] == NGX_TRACKER_LIMIT_OFFENCES)
            ? &z->sh->offenders : &z->sh->buckets[ref->key[0]].keys;

    (void) ngx_atomic_fetch_add(count, 1);

    return ln;
}


/* GCRA; returns 0 when the request may pass, else the wait in us */
static uint64_t
ngx_tracker_limit_gcra(ngx_tracker_limit_node_t *ln,
    ngx_tracker_limit_rule_t *rule, uint64_t now, ngx_uint_t mode)
{
    uint64_t  tat, tolerance;

    tat = ngx_max(ln->time, now);
    tolerance = rule->burst * rule->interval;

    if (mode != NGX_TRACKER_GCRA_CHARGE && tat - now > tolerance) {
        return tat - now - tolerance;
    }

    if (mode != NGX_TRACKER_GCRA_PEEK) {
        ln->time = tat + rule->interval;
    }

    return 0;
}


/* a ban's key: family, prefix, the address masked to the prefix */
static void
ngx_tracker_limit_ban_key(u_char *k, ngx_uint_t family, ngx_uint_t prefix,
    u_char *addr)
{
    ngx_uint_t  i, bits;

    k[0] = (u_char) family;
    k[1] = (u_char) prefix;

    ngx_memzero(&k[2], 16);

    for (i = 0, bits = prefix; bits; i++) {
        if (bits >= 8) {
            k[2 + i] = addr[i];
            bits -= 8;

        } else {
            k[2 + i] = addr[i] & (u_char) (0xff << (8 - bits));
            bits = 0;
        }
    }
}


/* the ban lock is held by the callers of insert and delete */
static void
ngx_tracker_limit_ban_insert(ngx_tracker_limit_zone_t *z,
    ngx_tracker_limit_node_t *bn)
{
    bn->hash = ngx_murmur_hash2(bn->key, 18);

    ngx_tracker_limit_link(&z->sh->bans, bn);
    ngx_queue_insert_tail(&z->sh->ban_lists[bn->source], &bn->queue);

    z->sh->prefixes[bn->key[0]][bn->key[1]]++;
    z->sh->nbans[bn->source]++;
    z->sh->nbans_all++;
}


static void
ngx_tracker_limit_ban_delete(ngx_tracker_limit_zone_t *z,
    ngx_tracker_limit_node_t *bn)
{
    ngx_tracker_limit_unlink(&z->sh->bans, bn);
    ngx_queue_remove(&bn->queue);

    z->sh->prefixes[bn->key[0]][bn->key[1]]--;
    z->sh->nbans[bn->source]--;
    z->sh->nbans_all--;

    ngx_slab_free(z->shpool, bn);
}


/*
 * One refused request (or failed authentication) of the address; the
 * ban_after-th within ban_window bans it for ban_time.  Returns 1 when it
 * did.  Takes the locks it needs.
 */
static ngx_uint_t
ngx_tracker_limit_offence(ngx_tracker_limit_zone_t *z,
    ngx_tracker_limit_addr_t *a, uint64_t now)
{
    ngx_str_t                  key;
    ngx_uint_t                 ban;
    ngx_tracker_limit_ref_t    ref;
    ngx_tracker_limit_node_t  *ln, *bn;

    if (z->ban_after == 0 || a->family > 1) {
        return 0;
    }

    key.data = a->addr;
    key.len = a->family ? 16 : 4;

    ngx_tracker_limit_ref(z, NGX_TRACKER_LIMIT_OFFENCES, &key, 0, &ref);

    ban = 0;

    ngx_shmtx_lock(&ref.shard->mutex);

    ln = ngx_tracker_limit_node(z, &ref, now, 1);

    if (ln) {
        if (ln->count == 0 || ngx_tracker_limit_stale(z, ln, now)) {
            ln->time = now;
            ln->count = 0;
        }

        if (++ln->count >= z->ban_after) {
            ln->count = 0;
            ban = 1;
        }
    }

    ngx_shmtx_unlock(&ref.shard->mutex);

    if (!ban) {
        return 0;
    }

    ngx_shmtx_lock(&z->sh->ban_mutex);

    bn = ngx_tracker_limit_ban_alloc(z, now);

    if (bn) {
        ngx_tracker_limit_ban_key(bn->key, a->family, key.len * 8, a->addr);
        bn->source = NGX_TRACKER_BAN_TEMPORARY;
        bn->time = now / 1000 + z->ban_time;

        ngx_tracker_limit_ban_insert(z, bn);
    }

    ngx_shmtx_unlock(&z->sh->ban_mutex);

    if (bn == NULL) {
        return 0;
    }

    (void) ngx_atomic_fetch_add(&z->sh->bans_issued, 1);

    return 1;
}


/*
 * Whether a ban covers the address: NGX_TRACKER_REFUSE_LIMIT in *kind when
 * none does, else the kind of ban and the wait it imposes.  Only the
 * prefix lengths in use are tried, a permanent ban wins; expired ones met
 * on the way are dropped.
 */
static uint64_t
ngx_tracker_limit_banned(ngx_tracker_limit_zone_t *z,
    ngx_tracker_limit_addr_t *a, uint64_t now, ngx_uint_t *kind)
{
    u_char                     k[18];
    uint64_t                   ms, until;
    ngx_int_t                  prefix;
    ngx_uint_t                 i;
    ngx_queue_t               *q;
    ngx_tracker_limit_node_t  *bn;

    *kind = NGX_TRACKER_REFUSE_LIMIT;

    if (a->family > 1) {
        return 0;
    }

    ms = now / 1000;
    until = 0;

    ngx_shmtx_lock(&z->sh->ban_mutex);

    /* expired temporary bans leave from the front, two at a time */
    q = &z->sh->ban_lists[NGX_TRACKER_BAN_TEMPORARY];

    for (i = 0; i < 2 && !ngx_queue_empty(q); i++) {
        bn = ngx_queue_data(ngx_queue_head(q), ngx_tracker_limit_node_t,
                            queue);

        if (bn->time > ms) {
            break;
        }

        ngx_tracker_limit_ban_delete(z, bn);
    }

    for (prefix = a->family ? 128 : 32; prefix >= 0; prefix--) {

        if (z->sh->prefixes[a->family][prefix] == 0) {
            continue;
        }

        ngx_tracker_limit_ban_key(k, a->family, prefix, a->addr);

        bn = ngx_tracker_limit_find(&z->sh->bans, ngx_murmur_hash2(k, 18), k,
                                    18);
        if (bn == NULL) {
            continue;
        }

        if (bn->time && bn->time <= ms) {
            ngx_tracker_limit_ban_delete(z, bn);
            continue;
        }

        if (bn->time == 0) {
            *kind = NGX_TRACKER_REFUSE_FOREVER;
            break;
        }

        *kind = NGX_TRACKER_REFUSE_BAN;
        until = ngx_max(until, bn->time);
    }

    ngx_shmtx_unlock(&z->sh->ban_mutex);

    return (*kind == NGX_TRACKER_REFUSE_BAN) ? until * 1000 - now : 0;
}


/*
 * Replaces one source's bans in one zone: the new list is allocated in
 * full before the old one goes, so a full zone keeps the old list.
 */
static ngx_int_t
ngx_tracker_limit_ban_replace_zone(ngx_tracker_limit_zone_t *z,
    ngx_uint_t source, ngx_tracker_ban_t *bans, ngx_uint_t n, ngx_log_t *log)
{
    uint64_t                   now;
    ngx_uint_t                 i;
    ngx_queue_t                fresh, *q;
    ngx_time_t                *tp;
    ngx_tracker_limit_node_t  *bn;

    tp = ngx_timeofday();
    now = ((uint64_t) tp->sec * 1000 + tp->msec) * 1000;

    ngx_queue_init(&fresh);

    ngx_shmtx_lock(&z->sh->ban_mutex);

    for (i = 0; i < n; i++) {
        bn = ngx_tracker_limit_ban_alloc(z, now);
        if (bn == NULL) {
            goto failed;
        }

        ngx_tracker_limit_ban_key(bn->key, bans[i].family == AF_INET ? 0 : 1,
                                  bans[i].prefix, bans[i].addr);
        bn->source = (u_char) source;
        bn->time = (uint64_t) bans[i].expires * 1000;

        ngx_queue_insert_tail(&fresh, &bn->queue);
    }

    z->sh->loaded_at[source] = tp->sec;
    z->sh->loads[source]++;

    q = &z->sh->ban_lists[source];

    while (!ngx_queue_empty(q)) {
        ngx_tracker_limit_ban_delete(z, ngx_queue_data(ngx_queue_head(q),
                                                ngx_tracker_limit_node_t,
                                                queue));
    }

    while (!ngx_queue_empty(&fresh)) {
        q = ngx_queue_head(&fresh);
        ngx_queue_remove(q);
        ngx_tracker_limit_ban_insert(z, ngx_queue_data(q,
                                                ngx_tracker_limit_node_t,
                                                queue));
    }

    ngx_shmtx_unlock(&z->sh->ban_mutex);

    return NGX_OK;

failed:

    while (!ngx_queue_empty(&fresh)) {
        q = ngx_queue_head(&fresh);
        ngx_queue_remove(q);
        bn = ngx_queue_data(q, ngx_tracker_limit_node_t, queue);
        ngx_slab_free(z->shpool, bn);
    }

    z->sh->load_failures[source]++;

    ngx_shmtx_unlock(&z->sh->ban_mutex);

    ngx_log_error(NGX_LOG_ERR, log, 0,
                  "tracker limit zone \"%V\" is too small for %ui %V bans: "
                  "the previous list stays", &z->shm_zone->shm.name, n,
                  &ngx_tracker_limit_source_names[source]);

    return NGX_ERROR;
}


ngx_int_t
ngx_tracker_limit_ban_replace(ngx_cycle_t *cycle, ngx_uint_t source,
    ngx_tracker_ban_t *bans, ngx_uint_t n)
{
    ngx_int_t                       rc;
    ngx_uint_t                      i;
    ngx_shm_zone_t                **zones;
    ngx_tracker_limit_main_conf_t  *lmcf;

    if (source >= NGX_TRACKER_BAN_SOURCES) {
        return NGX_ERROR;
    }

    lmcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_tracker_limit_module);
    if (lmcf == NULL) {
        return NGX_DECLINED;
    }

    rc = NGX_OK;
    zones = lmcf->zones.elts;

    for (i = 0; i < lmcf->zones.nelts; i++) {
        if (ngx_tracker_limit_ban_replace_zone(zones[i]->data, source, bans,
                                               n, cycle->log)
            != NGX_OK)
        {
            rc = NGX_ERROR;
        }
    }

    return rc;
}


/* a load of the source's list failed: its last list stays, counted */
void
ngx_tracker_limit_ban_load_failed(ngx_cycle_t *cycle, ngx_uint_t source)
{
    ngx_uint_t                      i;
    ngx_shm_zone_t                **zones;
    ngx_tracker_limit_zone_t       *z;
    ngx_tracker_limit_main_conf_t  *lmcf;

    lmcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_tracker_limit_module);
    if (lmcf == NULL || source >= NGX_TRACKER_BAN_SOURCES) {
        return;
    }

    zones = lmcf->zones.elts;

    for (i = 0; i < lmcf->zones.nelts; i++) {
        z = zones[i]->data;
        (void) ngx_atomic_fetch_add(&z->sh->load_failures[source], 1);
    }
}


ngx_int_t
ngx_tracker_limit_parse_ban(u_char *text, size_t len, ngx_tracker_ban_t *ban)
{
    u_char      *m;
    ngx_str_t    s;
    ngx_int_t    rc;
    ngx_uint_t   i, bits;
    ngx_cidr_t   cidr;

    s.data = text;
    s.len = len;

    rc = ngx_ptocidr(&s, &cidr);
    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    ngx_memzero(ban, sizeof(ngx_tracker_ban_t));

    switch (cidr.family) {

#if (NGX_HAVE_INET6)
    case AF_INET6:
        m = cidr.u.in6.mask.s6_addr;
        ngx_memcpy(ban->addr, cidr.u.in6.addr.s6_addr, 16);
        len = 16;
        break;
#endif

    case AF_INET:
        m = (u_char *) &cidr.u.in.mask;
        ngx_memcpy(ban->addr, &cidr.u.in.addr, 4);
        len = 4;
        break;

    default:
        return NGX_ERROR;
    }

    bits = 0;

    for (i = 0; i < len * 8; i++) {
        if (m[i / 8] & (0x80 >> (i % 8))) {
            bits++;
        }
    }

    ban->family = cidr.family;
    ban->prefix = bits;

    /* ::ffff:a.b.c.d/n: clients with mapped addresses are seen as IPv4 */
    if (len == 16 && bits >= 96
        && IN6_IS_ADDR_V4MAPPED((struct in6_addr *) ban->addr))
    {
        ngx_memmove(ban->addr, ban->addr + 12, 4);
        ngx_memzero(ban->addr + 4, 12);
        ban->family = AF_INET;
        ban->prefix = bits - 96;
    }

    return rc == NGX_DONE ? NGX_DONE : NGX_OK;
}


static ngx_int_t
ngx_tracker_limit_passkey_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_str_t   passkey;
    ngx_uint_t  i;

    /* the same places the announce and scrape handlers look at */
    for (i = 0; i < 2; i++) {
        ngx_str_null(&passkey);

        if (ngx_http_tracker_uri_passkey(r, &ngx_tracker_limit_verbs[i],
                                         &passkey)
            == NGX_TRACKER_OK
            && passkey.len)
        {
            goto found;
        }
    }

    if (ngx_http_arg(r, (u_char *) "passkey", 7, &passkey) == NGX_OK
        && ngx_tracker_passkey_valid(passkey.data, passkey.len))
    {
        goto found;
    }

    v->not_found = 1;

    return NGX_OK;

found:

    v->data = passkey.data;
    v->len = passkey.len;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;

    return NGX_OK;
}


static size_t
ngx_tracker_limit_zone_status_size(ngx_shm_zone_t *shm_zone)
{
    ngx_tracker_limit_zone_t  *z = shm_zone->data;

    return 1024 + 8 * shm_zone->shm.name.len
           + z->sh->nbuckets * 3 * (160 + NGX_TRACKER_LIMIT_NAME_LEN
                                    + shm_zone->shm.name.len);
}


size_t
ngx_tracker_limit_status_size(ngx_http_request_t *r)
{
    size_t                          size;
    ngx_uint_t                      i;
    ngx_shm_zone_t                **zones;
    ngx_tracker_limit_main_conf_t  *lmcf;

    lmcf = ngx_http_get_module_main_conf(r, ngx_http_tracker_limit_module);

    /* HELP and TYPE lines, once */
    size = 4096;
    zones = lmcf->zones.elts;

    for (i = 0; i < lmcf->zones.nelts; i++) {
        size += ngx_tracker_limit_zone_status_size(zones[i]);
    }

    return size;
}


/* a snapshot: the shards' counts are read without their locks */
static ngx_atomic_uint_t
ngx_tracker_limit_passed(ngx_tracker_limit_sh_t *sh, ngx_uint_t slot)
{
    ngx_uint_t         i;
    ngx_atomic_uint_t  n;

    n = 0;

    for (i = 0; i < NGX_TRACKER_LIMIT_SHARDS; i++) {
        n += sh->shards[i].passed[slot];
    }

    return n;
}


/*
 * The status page's section: nothing when no limit zone is configured,
 * else ,"limits":[...] for JSON or the ngx_tracker_limit_* metrics.
 */
u_char *
ngx_tracker_limit_status(ngx_http_request_t *r, u_char *p, ngx_uint_t prom)
{
    ngx_str_t                      *name;
    ngx_uint_t                      i, j, m;
    ngx_shm_zone_t                **zones;
    ngx_tracker_limit_sh_t         *sh;
    ngx_tracker_limit_zone_t       *z;
    ngx_tracker_limit_bucket_t     *b;
    ngx_tracker_limit_main_conf_t  *lmcf;

    static const char  *bucket_metrics[][3] = {
        { "keys", "gauge", "Keys held, by bucket." },
        { "passed_total", "counter", "Requests a bucket let through." },
        { "rejected_total", "counter", "Requests a bucket refused." }
    };

    static const char  *zone_metrics[][3] = {
        { "offenders", "gauge", "Addresses with counted offences." },
        { "evicted_total", "counter", "Keys evicted from a full zone." },
        { "bans_issued_total", "counter", "Temporary bans issued." },
        { "banned_requests_total", "counter", "Requests refused by a ban." },
        { "penalties_total", "counter", "Failed authentications charged." },
        { "db_bans_loaded_timestamp_seconds", "gauge",
          "When the database's ban list was last loaded (0: never)." },
        { "db_bans_loads_total", "counter",
          "Loads of the database's ban list." },
        { "db_bans_load_failures_total", "counter",
          "Failed loads of the database's ban list (the last list stays)." }
    };

    lmcf = ngx_http_get_module_main_conf(r, ngx_http_tracker_limit_module);

    if (lmcf->zones.nelts == 0) {
        return p;
    }

    zones = lmcf->zones.elts;

    if (prom) {
        for (m = 0; m < 3; m++) {
            p = ngx_sprintf(p, "# HELP ngx_tracker_limit_%s %s\n"
                               "# TYPE ngx_tracker_limit_%s %s\n",
                            bucket_metrics[m][0], bucket_metrics[m][2],
                            bucket_metrics[m][0], bucket_metrics[m][1]);

            for (i = 0; i < lmcf->zones.nelts; i++) {
                z = zones[i]->data;
                name = &zones[i]->shm.name;

                for (j = 0; j < z->sh->nbuckets; j++) {
                    b = &z->sh->buckets[j];
                    p = ngx_sprintf(p, "ngx_tracker_limit_%s{zone=\"%V\","
                                       "bucket=\"%*s\"} %uA\n",
                                    bucket_metrics[m][0], name, b->len,
                                    b->name,
                                    m == 0 ? b->keys
                                    : (m == 1 ? ngx_tracker_limit_passed(z->sh,
                                                                         j)
                                              : b->rejected));
                }
            }
        }

        p = ngx_sprintf(p, "# HELP ngx_tracker_limit_bans Banned addresses "
                           "and ranges, by source.\n"
                           "# TYPE ngx_tracker_limit_bans gauge\n");

        for (i = 0; i < lmcf->zones.nelts; i++) {
            sh = ((ngx_tracker_limit_zone_t *) zones[i]->data)->sh;

            for (j = 0; j < NGX_TRACKER_BAN_SOURCES; j++) {
                p = ngx_sprintf(p, "ngx_tracker_limit_bans{zone=\"%V\","
                                   "source=\"%V\"} %uA\n",
                                &zones[i]->shm.name,
                                &ngx_tracker_limit_source_names[j],
                                sh->nbans[j]);
            }
        }

        for (m = 0; m < 8; m++) {
            p = ngx_sprintf(p, "# HELP ngx_tracker_limit_%s %s\n"
                               "# TYPE ngx_tracker_limit_%s %s\n",
                            zone_metrics[m][0], zone_metrics[m][2],
                            zone_metrics[m][0], zone_metrics[m][1]);

            for (i = 0; i < lmcf->zones.nelts; i++) {
                sh = ((ngx_tracker_limit_zone_t *) zones[i]->data)->sh;
                p = ngx_sprintf(p, "ngx_tracker_limit_%s{zone=\"%V\"} %uA\n",
                                zone_metrics[m][0], &zones[i]->shm.name,
                                m == 0 ? sh->offenders
                                : m == 1 ? sh->evicted
                                : m == 2 ? sh->bans_issued
                                : m == 3 ? sh->banned
                                : m == 4 ? sh->penalties
                                : m == 5 ? sh->loaded_at[NGX_TRACKER_BAN_DB]
                                : m == 6 ? sh->loads[NGX_TRACKER_BAN_DB]
                                : sh->load_failures[NGX_TRACKER_BAN_DB]);
            }
        }

        return p;
    }

    p = ngx_cpymem(p, ",\"limits\":[", 11);

    for (i = 0; i < lmcf->zones.nelts; i++) {
        z = zones[i]->data;
        sh = z->sh;

        p = ngx_sprintf(p, "%s{\"zone\":\"%V\",\"offenders\":%uA,"
                           "\"evicted\":%uA,\"bans\":{\"static\":%uA,"
                           "\"db\":%uA,\"temporary\":%uA},"
                           "\"bans_issued\":%uA,\"banned_requests\":%uA,"
                           "\"penalties\":%uA,\"buckets\":{",
                        i ? "," : "", &zones[i]->shm.name, sh->offenders,
                        sh->evicted, sh->nbans[NGX_TRACKER_BAN_STATIC],
                        sh->nbans[NGX_TRACKER_BAN_DB],
                        sh->nbans[NGX_TRACKER_BAN_TEMPORARY],
                        sh->bans_issued, sh->banned, sh->penalties);

        for (j = 0; j < sh->nbuckets; j++) {
            b = &sh->buckets[j];
            p = ngx_sprintf(p, "%s\"%*s\":{\"keys\":%uA,\"passed\":%uA,"
                               "\"rejected\":%uA}",
                            j ? "," : "", b->len, b->name, b->keys,
                            ngx_tracker_limit_passed(sh, j), b->rejected);
        }

        p = ngx_sprintf(p, "},\"db_bans\":{\"loaded_at\":%uA,\"loads\":%uA,"
                           "\"load_failures\":%uA}}",
                        sh->loaded_at[NGX_TRACKER_BAN_DB],
                        sh->loads[NGX_TRACKER_BAN_DB],
                        sh->load_failures[NGX_TRACKER_BAN_DB]);
    }

    *p++ = ']';

    return p;
}


/* a bucket array of the power of two at or below n (at least 16) */
static ngx_int_t
ngx_tracker_limit_table(ngx_slab_pool_t *shpool, ngx_tracker_limit_table_t *t,
    ngx_uint_t n)
{
    ngx_uint_t  size;

    for (size = 16; size * 2 <= n; size *= 2) { /* void */ }

    t->buckets = ngx_slab_calloc(shpool,
                                 size * sizeof(ngx_tracker_limit_node_t *));
    if (t->buckets == NULL) {
        return NGX_ERROR;
    }

    t->mask = size - 1;

    return NGX_OK;
}


static ngx_int_t
ngx_tracker_limit_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_tracker_limit_zone_t  *oz = data;

    size_t                      len;
    ngx_str_t                  *names;
    ngx_uint_t                  i, s, n;
    ngx_slab_pool_t            *shpool;
    ngx_tracker_ban_t          *bans;
    ngx_tracker_limit_sh_t     *sh;
    ngx_tracker_limit_zone_t   *z;
    ngx_tracker_limit_shard_t  *shard;
    ngx_tracker_limit_bucket_t *b;

    z = shm_zone->data;

    if (oz) {
        /* a reload: keep the keys, bans and counters */
        z->sh = oz->sh;
        z->shpool = oz->shpool;
        goto configure;
    }

    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;
    z->shpool = shpool;

    if (shm_zone->shm.exists) {
        z->sh = shpool->data;
        goto configure;
    }

    sh = ngx_slab_calloc(shpool, sizeof(ngx_tracker_limit_sh_t));
    if (sh == NULL) {
        return NGX_ERROR;
    }

    z->sh = sh;
    shpool->data = sh;

    /*
     * Chains of about four keys in a full zone: a smaller table stays in
     * the CPU's caches, and its miss is most of a lookup's cost.
     */
    n = shm_zone->shm.size / 512 / NGX_TRACKER_LIMIT_SHARDS;

    for (i = 0; i < NGX_TRACKER_LIMIT_SHARDS; i++) {
        shard = &sh->shards[i];

        if (ngx_shmtx_create(&shard->mutex, &shard->lock, NULL) != NGX_OK) {
            return NGX_ERROR;
        }

        if (ngx_tracker_limit_table(shpool, &shard->table, n) != NGX_OK) {
            return NGX_ERROR;
        }

        ngx_queue_init(&shard->lru);
    }

    if (ngx_shmtx_create(&sh->ban_mutex, &sh->ban_lock, NULL) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_tracker_limit_table(shpool, &sh->bans, n) != NGX_OK) {
        return NGX_ERROR;
    }

    for (i = 0; i < NGX_TRACKER_BAN_SOURCES; i++) {
        ngx_queue_init(&sh->ban_lists[i]);
    }

    len = sizeof(" in tracker limit zone \"\"") + shm_zone->shm.name.len;

    shpool->log_ctx = ngx_slab_alloc(shpool, len);
    if (shpool->log_ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(shpool->log_ctx, " in tracker limit zone \"%V\"%Z",
                &shm_zone->shm.name);

    /* a full zone evicts keys: no "no memory" alerts for it */
    shpool->log_nomem = 0;

configure:

    /* buckets keep their counters by name across reloads */
    names = z->buckets.elts;

    ngx_shmtx_lock(&z->shpool->mutex);

    for (i = 0; i < z->buckets.nelts; i++) {
        n = z->sh->nbuckets;

        for (s = 0; s < n; s++) {
            b = &z->sh->buckets[s];

            if (b->len == names[i].len
                && ngx_strncmp(b->name, names[i].data, b->len) == 0)
            {
                break;
            }
        }

        if (s == n) {
            if (n == NGX_TRACKER_LIMIT_BUCKETS) {
                ngx_shmtx_unlock(&z->shpool->mutex);
                ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0,
                              "tracker limit zone \"%V\" has had more than "
                              "%d buckets: restart nginx",
                              &shm_zone->shm.name, NGX_TRACKER_LIMIT_BUCKETS);
                return NGX_ERROR;
            }

            b = &z->sh->buckets[n];
            ngx_memcpy(b->name, names[i].data, names[i].len);
            b->len = names[i].len;
            z->sh->nbuckets++;
        }

        z->slots[i] = (u_char) s;
    }

    ngx_shmtx_unlock(&z->shpool->mutex);

    bans = z->static_bans->elts;

    return ngx_tracker_limit_ban_replace_zone(z, NGX_TRACKER_BAN_STATIC, bans,
                                              z->static_bans->nelts,
                                              shm_zone->shm.log);
}


static void *
ngx_tracker_limit_create_main_conf(ngx_conf_t *cf)
{
    ngx_tracker_limit_main_conf_t  *lmcf;

    lmcf = ngx_pcalloc(cf->pool, sizeof(ngx_tracker_limit_main_conf_t));
    if (lmcf == NULL) {
        return NULL;
    }

    if (ngx_array_init(&lmcf->zones, cf->pool, 1, sizeof(ngx_shm_zone_t *))
        != NGX_OK
        || ngx_array_init(&lmcf->bans, cf->pool, 4, sizeof(ngx_tracker_ban_t))
           != NGX_OK)
    {
        return NULL;
    }

    return lmcf;
}


static void *
ngx_tracker_limit_create_loc_conf(ngx_conf_t *cf)
{
    ngx_tracker_limit_loc_conf_t  *llcf;

    llcf = ngx_pcalloc(cf->pool, sizeof(ngx_tracker_limit_loc_conf_t));
    if (llcf == NULL) {
        return NULL;
    }

    /* set by ngx_pcalloc(): llcf->rules = NULL */

    llcf->answer = NGX_CONF_UNSET_UINT;

    return llcf;
}


static char *
ngx_tracker_limit_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_tracker_limit_loc_conf_t  *prev = parent;
    ngx_tracker_limit_loc_conf_t  *conf = child;

    if (conf->rules == NULL) {
        conf->rules = prev->rules;
    }

    ngx_conf_merge_uint_value(conf->answer, prev->answer,
                              NGX_TRACKER_ANSWER_AUTO);

    return NGX_CONF_OK;
}


/* tracker_limit_zone name:size [ban_after=n] [ban_window=t] [ban_time=t]; */
static char *
ngx_tracker_limit_zone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_tracker_limit_main_conf_t  *lmcf = conf;

    u_char                     *p;
    ssize_t                     size;
    ngx_str_t                  *value, name, s;
    ngx_int_t                   n;
    ngx_uint_t                  i;
    ngx_msec_t                  t;
    ngx_shm_zone_t             *shm_zone, **zp;
    ngx_tracker_limit_zone_t   *z;

    value = cf->args->elts;

    p = (u_char *) ngx_strchr(value[1].data, ':');
    if (p == NULL || p == value[1].data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid limit zone \"%V\", expected "
                           "\"name:size\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    name.data = value[1].data;
    name.len = p - value[1].data;

    s.data = p + 1;
    s.len = value[1].data + value[1].len - s.data;

    size = ngx_parse_size(&s);

    if (size == NGX_ERROR || size < (ssize_t) (8 * ngx_pagesize)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid limit zone size \"%V\", at least %uz",
                           &s, 8 * ngx_pagesize);
        return NGX_CONF_ERROR;
    }

    z = ngx_pcalloc(cf->pool, sizeof(ngx_tracker_limit_zone_t));
    if (z == NULL) {
        return NGX_CONF_ERROR;
    }

    if (ngx_array_init(&z->buckets, cf->pool, 4, sizeof(ngx_str_t))
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    z->ban_window = 60000;
    z->ban_time = 600000;
    z->static_bans = &lmcf->bans;

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "ban_after=", 10) == 0) {
            n = ngx_atoi(value[i].data + 10, value[i].len - 10);
            if (n == NGX_ERROR || n > 1000000) {
                goto invalid;
            }

            z->ban_after = n;
            continue;
        }

        if (ngx_strncmp(value[i].data, "ban_window=", 11) == 0
            || ngx_strncmp(value[i].data, "ban_time=", 9) == 0)
        {
            p = (u_char *) ngx_strchr(value[i].data, '=') + 1;
            s.data = p;
            s.len = value[i].data + value[i].len - p;

            t = ngx_parse_time(&s, 0);
            if (t == (ngx_msec_t) NGX_ERROR || t == 0) {
                goto invalid;
            }

            if (value[i].data[4] == 'w') {
                z->ban_window = t;

            } else {
                z->ban_time = t;
            }

            continue;
        }

        goto invalid;
    }

    shm_zone = ngx_shared_memory_add(cf, &name, size,
                                     &ngx_http_tracker_limit_module);
    if (shm_zone == NULL) {
        return NGX_CONF_ERROR;
    }

    if (shm_zone->data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "duplicate limit zone \"%V\"", &name);
        return NGX_CONF_ERROR;
    }

    z->shm_zone = shm_zone;
    shm_zone->init = ngx_tracker_limit_init_zone;
    shm_zone->data = z;

    zp = ngx_array_push(&lmcf->zones);
    if (zp == NULL) {
        return NGX_CONF_ERROR;
    }

    *zp = shm_zone;

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid parameter \"%V\"", &value[i]);
    return NGX_CONF_ERROR;
}


/*
 * tracker_limit zone=name bucket=name rate=<n>r/<time> [burst=n]
 *               [key=<complex value>] [on=request|failure];
 */
static char *
ngx_tracker_limit(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_tracker_limit_loc_conf_t  *llcf = conf;

    u_char                            *p;
    ngx_int_t                          n, burst;
    ngx_str_t                         *value, *names, s, bucket, key;
    ngx_uint_t                         i;
    ngx_msec_t                         period;
    ngx_shm_zone_t                    *shm_zone;
    ngx_tracker_limit_zone_t          *z;
    ngx_tracker_limit_rule_t          *rule;
    ngx_http_compile_complex_value_t   ccv;

    value = cf->args->elts;

    shm_zone = NULL;
    ngx_str_null(&bucket);
    ngx_str_set(&key, "$binary_remote_addr");
    period = 0;
    n = 0;
    burst = 0;

    if (llcf->rules == NULL) {
        llcf->rules = ngx_array_create(cf->pool, 2,
                                       sizeof(ngx_tracker_limit_rule_t));
        if (llcf->rules == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    rule = ngx_array_push(llcf->rules);
    if (rule == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(rule, sizeof(ngx_tracker_limit_rule_t));

    for (i = 1; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "zone=", 5) == 0) {
            s.data = value[i].data + 5;
            s.len = value[i].len - 5;

            shm_zone = ngx_shared_memory_add(cf, &s, 0,
                                             &ngx_http_tracker_limit_module);
            if (shm_zone == NULL) {
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "bucket=", 7) == 0) {
            bucket.data = value[i].data + 7;
            bucket.len = value[i].len - 7;

            if (bucket.len == 0 || bucket.len >= NGX_TRACKER_LIMIT_NAME_LEN) {
                goto invalid;
            }

            for (p = bucket.data; p < bucket.data + bucket.len; p++) {
                if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
                      || (*p >= '0' && *p <= '9') || *p == '_' || *p == '-'))
                {
                    goto invalid;
                }
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "key=", 4) == 0) {
            key.data = value[i].data + 4;
            key.len = value[i].len - 4;
            continue;
        }

        if (ngx_strncmp(value[i].data, "rate=", 5) == 0) {
            /* <n>r/<time>: 10r/s, 200r/m, 5r/5m, 1r/6s */
            s.data = value[i].data + 5;
            p = (u_char *) ngx_strstr(s.data, "r/");
            if (p == NULL) {
                goto invalid;
            }

            n = ngx_atoi(s.data, p - s.data);
            if (n <= 0) {
                goto invalid;
            }

            s.data = p + 2;
            s.len = value[i].data + value[i].len - s.data;

            if (s.len == 1) {
                /* "s", "m", "h": one of them */
                s.data = ngx_pnalloc(cf->pool, 2);
                if (s.data == NULL) {
                    return NGX_CONF_ERROR;
                }

                s.data[0] = '1';
                s.data[1] = p[2];
                s.len = 2;
            }

            period = ngx_parse_time(&s, 0);
            if (period == (ngx_msec_t) NGX_ERROR || period == 0) {
                goto invalid;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "burst=", 6) == 0) {
            burst = ngx_atoi(value[i].data + 6, value[i].len - 6);
            if (burst == NGX_ERROR) {
                goto invalid;
            }

            continue;
        }

        if (ngx_strcmp(value[i].data, "on=failure") == 0) {
            rule->on_failure = 1;
            continue;
        }

        if (ngx_strcmp(value[i].data, "on=request") == 0) {
            continue;
        }

        goto invalid;
    }

    if (shm_zone == NULL || bucket.len == 0 || period == 0) {
        return "needs zone=, bucket= and rate=";
    }

    z = shm_zone->data;

    if (z == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "unknown tracker_limit_zone \"%V\" (declare it "
                           "before its first use)", &shm_zone->shm.name);
        return NGX_CONF_ERROR;
    }

    rule->shm_zone = shm_zone;
    rule->burst = burst;
    rule->interval = (uint64_t) period * 1000 / n;

    if (rule->interval == 0) {
        return "has a rate above 1000000 requests per second";
    }

    names = z->buckets.elts;

    for (i = 0; i < z->buckets.nelts; i++) {
        if (names[i].len == bucket.len
            && ngx_strncmp(names[i].data, bucket.data, bucket.len) == 0)
        {
            break;
        }
    }

    if (i == z->buckets.nelts) {
        if (i == NGX_TRACKER_LIMIT_BUCKETS) {
            return "names more buckets in this zone than it can hold (32)";
        }

        names = ngx_array_push(&z->buckets);
        if (names == NULL) {
            return NGX_CONF_ERROR;
        }

        *names = bucket;
    }

    rule->bucket = i;

    ngx_memzero(&ccv, sizeof(ngx_http_compile_complex_value_t));

    ccv.cf = cf;
    ccv.value = &key;
    ccv.complex_value = &rule->key;

    if (ngx_http_compile_complex_value(&ccv) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid parameter \"%V\"", &value[i]);
    return NGX_CONF_ERROR;
}


/* tracker_ban 192.0.2.1 | 198.51.100.0/24 | 2001:db8::/32; */
static char *
ngx_tracker_limit_ban(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_tracker_limit_main_conf_t  *lmcf = conf;

    ngx_int_t           rc;
    ngx_str_t          *value;
    ngx_tracker_ban_t  *ban;

    value = cf->args->elts;

    ban = ngx_array_push(&lmcf->bans);
    if (ban == NULL) {
        return NGX_CONF_ERROR;
    }

    rc = ngx_tracker_limit_parse_ban(value[1].data, value[1].len, ban);

    if (rc == NGX_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid address or range \"%V\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    if (rc == NGX_DONE) {
        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "low address bits of %V are meaningless",
                           &value[1]);
    }

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_tracker_limit_preconfiguration(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var;

    var = ngx_http_add_variable(cf, &ngx_tracker_limit_passkey_name, 0);
    if (var == NULL) {
        return NGX_ERROR;
    }

    var->get_handler = ngx_tracker_limit_passkey_variable;

    return NGX_OK;
}


static ngx_int_t
ngx_tracker_limit_postconfiguration(ngx_conf_t *cf)
{
    ngx_http_handler_pt        *h;
    ngx_http_core_main_conf_t  *cmcf;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_PREACCESS_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_tracker_limit_handler;

    return NGX_OK;
}
