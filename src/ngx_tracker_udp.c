
/*
 * ngx_tracker: the UDP tracker (BEP 15, BEP 41), a stream module serving
 * the HTTP module's swarm zones:
 *
 *     stream {
 *         server {
 *             listen 6969 udp;
 *             tracker_udp swarm;
 *         }
 *     }
 *
 * Every datagram is a session of its own: parse -> check the connection
 * id -> one swarm call -> one reply datagram, sent on the session's
 * connection (so from the address the client sent to) -> finalize.  There
 * is no per-client state.
 *
 * The swarm functions live in ngx_http_tracker_module.so, which nginx loads
 * with RTLD_GLOBAL before this module (load_module order), so both modules
 * run one copy of the swarm code and only the HTTP module initialises the
 * zone.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_stream.h>

#include "ngx_tracker_swarm.h"
#include "ngx_tracker_udp_parse.h"
#include "ngx_tracker_udp_connid.h"


/* replies stay within an unfragmented datagram (IPv6 minimum MTU) */
#define NGX_STREAM_TRACKER_UDP_MAX_PEERS4  200
#define NGX_STREAM_TRACKER_UDP_MAX_PEERS6  67
/* 1220 and 1226 bytes: room for the larger */
#define NGX_STREAM_TRACKER_UDP_REPLY_MAX                                     \
    (NGX_TRACKER_UDP_ANNOUNCE_REPLY                                           \
     + ngx_max(NGX_STREAM_TRACKER_UDP_MAX_PEERS4 * NGX_TRACKER_COMPACT4,      \
               NGX_STREAM_TRACKER_UDP_MAX_PEERS6 * NGX_TRACKER_COMPACT6))


typedef struct {
    time_t                          rotation;
    time_t                          ttl;
    ngx_str_t                       secret;
} ngx_stream_tracker_udp_main_conf_t;


typedef struct {
    ngx_shm_zone_t                 *zone;
    time_t                          interval;
    ngx_uint_t                      numwant;
    ngx_uint_t                      max_numwant;
    /* this worker's HMAC contexts (each worker has its own copy) */
    ngx_tracker_udp_keys_t          keys;
    ngx_tracker_udp_connid_conf_t   connid;
} ngx_stream_tracker_udp_srv_conf_t;


static void ngx_stream_tracker_udp_handler(ngx_stream_session_t *s);
static size_t ngx_stream_tracker_udp_connect(ngx_stream_session_t *s,
    ngx_stream_tracker_udp_srv_conf_t *tscf, ngx_tracker_udp_req_t *req,
    u_char *out);
static size_t ngx_stream_tracker_udp_announce(ngx_stream_session_t *s,
    ngx_stream_tracker_udp_srv_conf_t *tscf, ngx_tracker_udp_req_t *req,
    u_char *out);
static size_t ngx_stream_tracker_udp_scrape(ngx_stream_session_t *s,
    ngx_stream_tracker_udp_srv_conf_t *tscf, ngx_tracker_udp_req_t *req,
    u_char *out);
static ngx_tracker_err_e ngx_stream_tracker_udp_private_check(
    ngx_stream_session_t *s, ngx_tracker_swarm_t *sw,
    ngx_tracker_udp_req_t *req, ngx_str_t *passkey);
static size_t ngx_stream_tracker_udp_check_connid(ngx_stream_session_t *s,
    ngx_stream_tracker_udp_srv_conf_t *tscf, ngx_tracker_udp_req_t *req,
    u_char *out);
static size_t ngx_stream_tracker_udp_error(ngx_tracker_swarm_t *sw,
    ngx_tracker_udp_req_t *req, const ngx_str_t *text, u_char *out);
static ngx_uint_t ngx_stream_tracker_udp_family(struct sockaddr *sa,
    u_char *addr);
static void ngx_stream_tracker_udp_send(ngx_stream_session_t *s,
    ngx_tracker_swarm_t *sw, u_char *buf, size_t len);

static void *ngx_stream_tracker_udp_create_main_conf(ngx_conf_t *cf);
static char *ngx_stream_tracker_udp_init_main_conf(ngx_conf_t *cf,
    void *conf);
static void *ngx_stream_tracker_udp_create_srv_conf(ngx_conf_t *cf);
static char *ngx_stream_tracker_udp_merge_srv_conf(ngx_conf_t *cf,
    void *parent, void *child);
static char *ngx_stream_tracker_udp(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_stream_tracker_udp_init_process(ngx_cycle_t *cycle);


extern ngx_module_t  ngx_http_tracker_module;


#define ngx_stream_tracker_udp_count(sw, c)                                   \
    (void) ngx_atomic_fetch_add(&(sw)->sh->udp.counters[c], 1)


static ngx_conf_num_bounds_t  ngx_stream_tracker_udp_numwant_bounds = {
    ngx_conf_check_num_bounds, 0, NGX_STREAM_TRACKER_UDP_MAX_PEERS4
};


static ngx_str_t  ngx_stream_tracker_udp_bad_connid =
    ngx_string("invalid connection id");
static ngx_str_t  ngx_stream_tracker_udp_expired_connid =
    ngx_string("connection id expired");
static ngx_str_t  ngx_stream_tracker_udp_bad_event =
    ngx_string("invalid event: must be 0 (none), 1 (completed), "
               "2 (started) or 3 (stopped)");
static ngx_str_t  ngx_stream_tracker_udp_internal =
    ngx_string("internal error");


static ngx_command_t  ngx_stream_tracker_udp_commands[] = {

    { ngx_string("tracker_udp"),
      NGX_STREAM_SRV_CONF|NGX_CONF_TAKE1,
      ngx_stream_tracker_udp,
      NGX_STREAM_SRV_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("tracker_udp_interval"),
      NGX_STREAM_MAIN_CONF|NGX_STREAM_SRV_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_STREAM_SRV_CONF_OFFSET,
      offsetof(ngx_stream_tracker_udp_srv_conf_t, interval),
      NULL },

    { ngx_string("tracker_udp_numwant"),
      NGX_STREAM_MAIN_CONF|NGX_STREAM_SRV_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_STREAM_SRV_CONF_OFFSET,
      offsetof(ngx_stream_tracker_udp_srv_conf_t, numwant),
      &ngx_stream_tracker_udp_numwant_bounds },

    { ngx_string("tracker_udp_max_numwant"),
      NGX_STREAM_MAIN_CONF|NGX_STREAM_SRV_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_STREAM_SRV_CONF_OFFSET,
      offsetof(ngx_stream_tracker_udp_srv_conf_t, max_numwant),
      &ngx_stream_tracker_udp_numwant_bounds },

    { ngx_string("tracker_udp_key_rotation"),
      NGX_STREAM_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_STREAM_MAIN_CONF_OFFSET,
      offsetof(ngx_stream_tracker_udp_main_conf_t, rotation),
      NULL },

    { ngx_string("tracker_udp_connection_id_timeout"),
      NGX_STREAM_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_STREAM_MAIN_CONF_OFFSET,
      offsetof(ngx_stream_tracker_udp_main_conf_t, ttl),
      NULL },

    { ngx_string("tracker_udp_secret"),
      NGX_STREAM_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_STREAM_MAIN_CONF_OFFSET,
      offsetof(ngx_stream_tracker_udp_main_conf_t, secret),
      NULL },

      ngx_null_command
};


static ngx_stream_module_t  ngx_stream_tracker_udp_module_ctx = {
    NULL,                                      /* preconfiguration */
    NULL,                                      /* postconfiguration */

    ngx_stream_tracker_udp_create_main_conf,   /* create main configuration */
    ngx_stream_tracker_udp_init_main_conf,     /* init main configuration */

    ngx_stream_tracker_udp_create_srv_conf,    /* create server configuration */
    ngx_stream_tracker_udp_merge_srv_conf      /* merge server configuration */
};


ngx_module_t  ngx_stream_tracker_module = {
    NGX_MODULE_V1,
    &ngx_stream_tracker_udp_module_ctx,    /* module context */
    ngx_stream_tracker_udp_commands,       /* module directives */
    NGX_STREAM_MODULE,                     /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_stream_tracker_udp_init_process,   /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    NULL,                                  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static void
ngx_stream_tracker_udp_handler(ngx_stream_session_t *s)
{
    u_char                              out[NGX_STREAM_TRACKER_UDP_REPLY_MAX];
    u_char                              url[NGX_TRACKER_UDP_URL_MAX];
    size_t                              len;
    ngx_buf_t                          *b;
    ngx_connection_t                   *c;
    ngx_tracker_swarm_t                *sw;
    ngx_tracker_udp_req_t               req;
    ngx_tracker_udp_drop_e              drop;
    ngx_stream_tracker_udp_srv_conf_t  *tscf;

    c = s->connection;
    c->log->action = "serving a UDP tracker request";

    tscf = ngx_stream_get_module_srv_conf(s, ngx_stream_tracker_module);
    sw = tscf->zone->data;
    b = c->buffer;

    if (c->type != SOCK_DGRAM || b == NULL) {
        ngx_log_error(NGX_LOG_ERR, c->log, 0,
                      "tracker_udp needs a \"listen ... udp\" socket");
        ngx_stream_finalize_session(s, NGX_STREAM_INTERNAL_SERVER_ERROR);
        return;
    }

    drop = ngx_tracker_udp_parse(b->pos, b->last - b->pos, url, &req);

    if (drop != NGX_TRACKER_UDP_OK) {
        ngx_log_debug2(NGX_LOG_DEBUG_STREAM, c->log, 0,
                       "tracker udp: dropped %uz bytes: %s",
                       (size_t) (b->last - b->pos),
                       ngx_tracker_udp_drop_name(drop));

        (void) ngx_atomic_fetch_add(&sw->sh->udp.dropped[drop], 1);
        ngx_stream_finalize_session(s, NGX_STREAM_OK);
        return;
    }

    switch (req.action) {

    case NGX_TRACKER_UDP_CONNECT:
        len = ngx_stream_tracker_udp_connect(s, tscf, &req, out);
        break;

    case NGX_TRACKER_UDP_ANNOUNCE:
        len = ngx_stream_tracker_udp_check_connid(s, tscf, &req, out);

        if (len == 0) {
            len = ngx_stream_tracker_udp_announce(s, tscf, &req, out);
        }

        break;

    default: /* NGX_TRACKER_UDP_SCRAPE */
        len = ngx_stream_tracker_udp_check_connid(s, tscf, &req, out);

        if (len == 0) {
            len = ngx_stream_tracker_udp_scrape(s, tscf, &req, out);
        }

        break;
    }

    ngx_stream_tracker_udp_send(s, sw, out, len);

    ngx_stream_finalize_session(s, NGX_STREAM_OK);
}


static size_t
ngx_stream_tracker_udp_connect(ngx_stream_session_t *s,
    ngx_stream_tracker_udp_srv_conf_t *tscf, ngx_tracker_udp_req_t *req,
    u_char *out)
{
    u_char               *p;
    ngx_tracker_swarm_t  *sw;

    sw = tscf->zone->data;

    p = ngx_tracker_udp_write_header(out, NGX_TRACKER_UDP_CONNECT,
                                     req->transaction_id);

    if (ngx_tracker_udp_connid_make(&tscf->connid, s->connection->sockaddr,
                                    ngx_time(), p)
        != NGX_OK)
    {
        ngx_log_error(NGX_LOG_ALERT, s->connection->log, 0,
                      "tracker udp: no connection id key");
        return ngx_stream_tracker_udp_error(sw, req,
                                            &ngx_stream_tracker_udp_internal,
                                            out);
    }

    ngx_stream_tracker_udp_count(sw, NGX_TRACKER_UDP_CONNECTS);

    return NGX_TRACKER_UDP_CONNECT_REPLY;
}


/* 0 when the id is good, else the length of the error reply in out */
static size_t
ngx_stream_tracker_udp_check_connid(ngx_stream_session_t *s,
    ngx_stream_tracker_udp_srv_conf_t *tscf, ngx_tracker_udp_req_t *req,
    u_char *out)
{
    ngx_int_t             rc;
    ngx_tracker_swarm_t  *sw;

    sw = tscf->zone->data;

    rc = ngx_tracker_udp_connid_check(&tscf->connid, s->connection->sockaddr,
                                      ngx_time(), req->connection_id);

    switch (rc) {

    case NGX_OK:
        return 0;

    case NGX_TRACKER_UDP_CONNID_EXPIRED:
        ngx_stream_tracker_udp_count(sw,
                                     NGX_TRACKER_UDP_EXPIRED_CONNECTION_IDS);
        return ngx_stream_tracker_udp_error(sw, req,
                                        &ngx_stream_tracker_udp_expired_connid,
                                        out);

    case NGX_DECLINED:
        ngx_stream_tracker_udp_count(sw, NGX_TRACKER_UDP_BAD_CONNECTION_IDS);
        return ngx_stream_tracker_udp_error(sw, req,
                                            &ngx_stream_tracker_udp_bad_connid,
                                            out);

    default:
        ngx_log_error(NGX_LOG_ALERT, s->connection->log, 0,
                      "tracker udp: no connection id key");
        return ngx_stream_tracker_udp_error(sw, req,
                                            &ngx_stream_tracker_udp_internal,
                                            out);
    }
}


static size_t
ngx_stream_tracker_udp_announce(ngx_stream_session_t *s,
    ngx_stream_tracker_udp_srv_conf_t *tscf, ngx_tracker_udp_req_t *req,
    u_char *out)
{
    u_char                  *p;
    ngx_str_t                passkey;
    ngx_uint_t               numwant, cap;
    ngx_tracker_err_e        err;
    ngx_tracker_swarm_t     *sw;
    ngx_tracker_announce_t   a;

    static ngx_uint_t  events[] = {
        NGX_TRACKER_EVENT_NONE, NGX_TRACKER_EVENT_COMPLETED,
        NGX_TRACKER_EVENT_STARTED, NGX_TRACKER_EVENT_STOPPED
    };

    sw = tscf->zone->data;

    if (req->event > NGX_TRACKER_UDP_EVENT_STOPPED) {
        return ngx_stream_tracker_udp_error(sw, req,
                                            &ngx_stream_tracker_udp_bad_event,
                                            out);
    }

    if (req->port == 0) {
        return ngx_stream_tracker_udp_error(sw, req,
                                    ngx_tracker_err_text(NGX_TRACKER_ERR_PORT),
                                    out);
    }

    err = ngx_tracker_udp_url_passkey(&req->url, &passkey);

    if (err == NGX_TRACKER_OK) {
        err = ngx_stream_tracker_udp_private_check(s, sw, req, &passkey);
    }

    if (err != NGX_TRACKER_OK) {
        return ngx_stream_tracker_udp_error(sw, req, ngx_tracker_err_text(err),
                                            out);
    }

    a.family = ngx_stream_tracker_udp_family(s->connection->sockaddr,
                                             a.addr);

    cap = (a.family == NGX_TRACKER_V4) ? NGX_STREAM_TRACKER_UDP_MAX_PEERS4
                                       : NGX_STREAM_TRACKER_UDP_MAX_PEERS6;

    numwant = (req->num_want < 0) ? tscf->numwant
                                  : ngx_min((ngx_uint_t) req->num_want,
                                            tscf->max_numwant);
    numwant = ngx_min(numwant, cap);

    if (req->event == NGX_TRACKER_UDP_EVENT_STOPPED) {
        numwant = 0;
    }

    a.info_hash = req->info_hash;
    a.peer_id = req->peer_id;
    a.port = req->port;
    a.event = events[req->event];
    a.numwant = numwant;
    a.seeder = (req->left == 0);

    /* peers go straight into the reply; the other family is left out */
    a.out[a.family] = out + NGX_TRACKER_UDP_ANNOUNCE_REPLY;
    a.out[!a.family] = NULL;
    a.ids[0] = NULL;
    a.ids[1] = NULL;

    err = ngx_tracker_swarm_announce(sw, &a);
    if (err != NGX_TRACKER_OK) {
        return ngx_stream_tracker_udp_error(sw, req, ngx_tracker_err_text(err),
                                            out);
    }

    ngx_stream_tracker_udp_count(sw, NGX_TRACKER_UDP_ANNOUNCES);

    ngx_log_debug4(NGX_LOG_DEBUG_STREAM, s->connection->log, 0,
                   "tracker udp announce: event:%ui seeder:%d peers:%ui "
                   "numwant:%ui", a.event, a.seeder, a.nout[a.family],
                   numwant);

    p = ngx_tracker_udp_write_header(out, NGX_TRACKER_UDP_ANNOUNCE,
                                     req->transaction_id);
    p = ngx_tracker_udp_write_u32(p, (uint32_t) tscf->interval);
    p = ngx_tracker_udp_write_u32(p, (uint32_t) a.incomplete);
    (void) ngx_tracker_udp_write_u32(p, (uint32_t) a.complete);

    return NGX_TRACKER_UDP_ANNOUNCE_REPLY
           + a.nout[a.family] * (a.family == NGX_TRACKER_V4
                                 ? NGX_TRACKER_COMPACT4
                                 : NGX_TRACKER_COMPACT6);
}


/*
 * Private mode plugs in here: passkey -> user, torrent registration and
 * accounting (req->uploaded, req->downloaded, req->left, req->event), with
 * the same rules as the HTTP announce.  Open mode takes any torrent; a
 * passkey, if there is one, has already been checked for form.
 */
static ngx_tracker_err_e
ngx_stream_tracker_udp_private_check(ngx_stream_session_t *s,
    ngx_tracker_swarm_t *sw, ngx_tracker_udp_req_t *req, ngx_str_t *passkey)
{
    ngx_log_debug2(NGX_LOG_DEBUG_STREAM, s->connection->log, 0,
                   "tracker udp: passkey \"%V\" left:%uL", passkey,
                   req->left);

    return NGX_TRACKER_OK;
}


static size_t
ngx_stream_tracker_udp_scrape(ngx_stream_session_t *s,
    ngx_stream_tracker_udp_srv_conf_t *tscf, ngx_tracker_udp_req_t *req,
    u_char *out)
{
    u_char                      *p;
    ngx_uint_t                   i;
    ngx_tracker_swarm_t         *sw;
    ngx_tracker_scrape_entry_t   e;

    sw = tscf->zone->data;

    p = ngx_tracker_udp_write_header(out, NGX_TRACKER_UDP_SCRAPE,
                                     req->transaction_id);

    for (i = 0; i < req->nhashes; i++) {
        ngx_memcpy(e.info_hash, req->hashes + i * NGX_TRACKER_HASH_LEN,
                   NGX_TRACKER_HASH_LEN);

        ngx_tracker_swarm_scrape(sw, &e);

        p = ngx_tracker_udp_write_u32(p, e.complete);
        p = ngx_tracker_udp_write_u32(p, e.downloaded);
        p = ngx_tracker_udp_write_u32(p, e.incomplete);
    }

    ngx_stream_tracker_udp_count(sw, NGX_TRACKER_UDP_SCRAPES);
    (void) ngx_atomic_fetch_add(
                  &sw->sh->udp.counters[NGX_TRACKER_UDP_SCRAPED_HASHES],
                  req->nhashes);

    return p - out;
}


static size_t
ngx_stream_tracker_udp_error(ngx_tracker_swarm_t *sw,
    ngx_tracker_udp_req_t *req, const ngx_str_t *text, u_char *out)
{
    ngx_stream_tracker_udp_count(sw, NGX_TRACKER_UDP_ERRORS);

    return ngx_tracker_udp_write_error(out, req->transaction_id, text) - out;
}


/* the client's address; ::ffff:a.b.c.d (a dual-stack socket) is IPv4 */
static ngx_uint_t
ngx_stream_tracker_udp_family(struct sockaddr *sa, u_char *addr)
{
    struct sockaddr_in   *sin;
#if (NGX_HAVE_INET6)
    struct sockaddr_in6  *sin6;

    if (sa->sa_family == AF_INET6) {
        sin6 = (struct sockaddr_in6 *) sa;

        if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
            ngx_memcpy(addr, &sin6->sin6_addr.s6_addr[12], 4);
            return NGX_TRACKER_V4;
        }

        ngx_memcpy(addr, sin6->sin6_addr.s6_addr, 16);
        return NGX_TRACKER_V6;
    }
#endif

    sin = (struct sockaddr_in *) sa;
    ngx_memcpy(addr, &sin->sin_addr.s_addr, 4);

    return NGX_TRACKER_V4;
}


/*
 * A socket bound to one address replies from it with a plain sendto();
 * for a wildcard listen, send_chain is sendmsg() with the local address
 * the datagram came to, so the reply comes from there.
 */
static void
ngx_stream_tracker_udp_send(ngx_stream_session_t *s, ngx_tracker_swarm_t *sw,
    u_char *buf, size_t len)
{
    ngx_buf_t          b;
    ngx_chain_t        out, *rc;
    ngx_connection_t  *c;

    c = s->connection;

    if (!c->listening->wildcard) {
        if (c->send(c, buf, len) != (ssize_t) len) {
            ngx_stream_tracker_udp_count(sw, NGX_TRACKER_UDP_SEND_FAILURES);
        }

        return;
    }

    ngx_memzero(&b, sizeof(ngx_buf_t));

    b.start = buf;
    b.pos = buf;
    b.last = buf + len;
    b.end = buf + len;
    b.memory = 1;
    b.last_buf = 1;

    out.buf = &b;
    out.next = NULL;

    rc = c->send_chain(c, &out, 0);

    if (rc != NULL) {
        /* a full socket buffer or an error: UDP has no retry, count it */
        ngx_stream_tracker_udp_count(sw, NGX_TRACKER_UDP_SEND_FAILURES);
    }
}


static void *
ngx_stream_tracker_udp_create_main_conf(ngx_conf_t *cf)
{
    ngx_stream_tracker_udp_main_conf_t  *tmcf;

    tmcf = ngx_pcalloc(cf->pool, sizeof(ngx_stream_tracker_udp_main_conf_t));
    if (tmcf == NULL) {
        return NULL;
    }

    /* set by ngx_pcalloc(): tmcf->secret = { 0, NULL } */

    tmcf->rotation = NGX_CONF_UNSET;
    tmcf->ttl = NGX_CONF_UNSET;

    return tmcf;
}


static char *
ngx_stream_tracker_udp_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_stream_tracker_udp_main_conf_t  *tmcf = conf;

    ngx_conf_init_value(tmcf->ttl, NGX_TRACKER_UDP_CONNID_TTL);
    ngx_conf_init_value(tmcf->rotation, 900);

    if (tmcf->ttl < 1 || tmcf->ttl > 3600) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"tracker_udp_connection_id_timeout\" must be "
                           "between 1s and 1h");
        return NGX_CONF_ERROR;
    }

    /* an id is checked with the key of its period or of the one before */
    if (tmcf->rotation < tmcf->ttl) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"tracker_udp_key_rotation\" must be at least "
                           "\"tracker_udp_connection_id_timeout\" (%T)",
                           tmcf->ttl);
        return NGX_CONF_ERROR;
    }

    if (tmcf->secret.len && tmcf->secret.len < 16) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"tracker_udp_secret\" must be at least "
                           "16 characters");
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static void *
ngx_stream_tracker_udp_create_srv_conf(ngx_conf_t *cf)
{
    ngx_stream_tracker_udp_srv_conf_t  *tscf;

    tscf = ngx_pcalloc(cf->pool, sizeof(ngx_stream_tracker_udp_srv_conf_t));
    if (tscf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     tscf->zone = NULL;
     *     tscf->keys = { 0 };
     *     tscf->connid = { 0 };
     */

    tscf->interval = NGX_CONF_UNSET;
    tscf->numwant = NGX_CONF_UNSET_UINT;
    tscf->max_numwant = NGX_CONF_UNSET_UINT;

    return tscf;
}


static char *
ngx_stream_tracker_udp_merge_srv_conf(ngx_conf_t *cf, void *parent,
    void *child)
{
    ngx_stream_tracker_udp_srv_conf_t  *prev = parent;
    ngx_stream_tracker_udp_srv_conf_t  *conf = child;

    ngx_conf_merge_sec_value(conf->interval, prev->interval, 1800);
    ngx_conf_merge_uint_value(conf->numwant, prev->numwant, 50);
    ngx_conf_merge_uint_value(conf->max_numwant, prev->max_numwant,
                              NGX_STREAM_TRACKER_UDP_MAX_PEERS4);

    if (conf->interval == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"tracker_udp_interval\" must be at least 1s");
        return NGX_CONF_ERROR;
    }

    if (conf->numwant > conf->max_numwant) {
        conf->numwant = conf->max_numwant;
    }

    return NGX_CONF_OK;
}


/* tracker_udp zone; */
static char *
ngx_stream_tracker_udp(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_stream_tracker_udp_srv_conf_t  *tscf = conf;

    ngx_str_t                   *value;
    ngx_stream_core_srv_conf_t  *cscf;

    if (tscf->zone) {
        return "is duplicate";
    }

    value = cf->args->elts;

    /*
     * Size 0 and the HTTP module's tag: the zone that tracker_swarm_zone
     * defines (and initialises), whichever block comes first.
     */
    tscf->zone = ngx_shared_memory_add(cf, &value[1], 0,
                                       &ngx_http_tracker_module);
    if (tscf->zone == NULL) {
        return NGX_CONF_ERROR;
    }

    cscf = ngx_stream_conf_get_module_srv_conf(cf, ngx_stream_core_module);

    if (cscf->handler) {
        return "is duplicate: this server already has a content handler";
    }

    cscf->handler = ngx_stream_tracker_udp_handler;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_stream_tracker_udp_init_process(ngx_cycle_t *cycle)
{
    ngx_uint_t                           i;
    ngx_tracker_swarm_t                 *sw;
    ngx_stream_core_main_conf_t         *cmcf;
    ngx_stream_core_srv_conf_t         **cscfp;
    ngx_stream_tracker_udp_srv_conf_t   *tscf;
    ngx_stream_tracker_udp_main_conf_t  *tmcf;

    if (ngx_process != NGX_PROCESS_WORKER
        && ngx_process != NGX_PROCESS_SINGLE)
    {
        return NGX_OK;
    }

    tmcf = ngx_stream_cycle_get_module_main_conf(cycle,
                                                 ngx_stream_tracker_module);
    if (tmcf == NULL) {
        return NGX_OK;
    }

    cmcf = ngx_stream_cycle_get_module_main_conf(cycle,
                                                 ngx_stream_core_module);
    cscfp = cmcf->servers.elts;

    for (i = 0; i < cmcf->servers.nelts; i++) {
        tscf = cscfp[i]->ctx->srv_conf[ngx_stream_tracker_module.ctx_index];

        if (tscf->zone == NULL) {
            continue;
        }

        sw = tscf->zone->data;

        if (sw == NULL) {
            ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                          "tracker_udp: swarm zone \"%V\" is not defined "
                          "by tracker_swarm_zone", &tscf->zone->shm.name);
            return NGX_ERROR;
        }

        tscf->connid.sh = &sw->sh->udp;
        tscf->connid.keys = &tscf->keys;
        tscf->connid.rotation = tmcf->rotation;
        tscf->connid.ttl = tmcf->ttl;
        tscf->connid.secret = tmcf->secret;

        if (ngx_tracker_udp_keys_init(&tscf->keys, cycle->pool, cycle->log)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}
