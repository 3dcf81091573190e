
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
 * A datagram is answered by ngx_stream_tracker_udp_answer(): parse ->
 * check the connection id -> (private mode: passkey and torrent from the
 * cache) -> one swarm call -> one reply, written into the caller's buffer.
 * There is no per-client state.  The datagrams reach it in one of two ways:
 *
 *   - batched (tracker_udp_batch N, the default): the module takes the
 *     listening socket's read event over and reads and answers datagrams
 *     in batches without creating sessions (ngx_tracker_udp_io.h says why);
 *   - as nginx stream sessions (tracker_udp_batch 0): one session per
 *     datagram, answered on the session's connection, so the stream
 *     module's other phases (access, limit_conn, access_log) apply.
 *
 * Private mode (tracker_udp_private on) follows the HTTP announce's rules
 * with the HTTP module's cache, database pool and accounting journal.  A
 * cache miss must not block and must not hold a session: the datagram is
 * copied into a waiter (a per-worker free list, bounded), the lookup runs
 * on the HTTP module's per-worker PostgreSQL pool (the same worker
 * process), and when the answer is in the cache the datagram is answered
 * again from the top and the reply sent from the listening socket.  The
 * waiter owns copies of everything it needs and is never freed, so the
 * callback is safe whatever happened to the session (or the batch) that
 * saw the datagram; a closed socket (reload, shutdown) just drops the
 * reply, which UDP clients retry anyway.  (Answering a miss with an error
 * reply, "try again", would be simpler but clients show error replies as
 * tracker failures and come back only after their retry interval.)
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
#include "ngx_tracker_udp_io.h"
#include "ngx_tracker_private.h"
#include "ngx_tracker_accounting.h"


/* replies stay within an unfragmented datagram (IPv6 minimum MTU) */
#define NGX_STREAM_TRACKER_UDP_MAX_PEERS4  200
#define NGX_STREAM_TRACKER_UDP_MAX_PEERS6  67
/* 1220 and 1226 bytes: room for the larger */
#define NGX_STREAM_TRACKER_UDP_REPLY_MAX                                     \
    (NGX_TRACKER_UDP_ANNOUNCE_REPLY                                           \
     + ngx_max(NGX_STREAM_TRACKER_UDP_MAX_PEERS4 * NGX_TRACKER_COMPACT4,      \
               NGX_STREAM_TRACKER_UDP_MAX_PEERS6 * NGX_TRACKER_COMPACT6))

/* the answer is not written yet: a database lookup will send it */
#define NGX_STREAM_TRACKER_UDP_PARKED  ((size_t) -1)

/* datagrams a worker keeps waiting for the database at most */
#define NGX_STREAM_TRACKER_UDP_MAX_WAITERS  1024

/* batches read per read event before other events get their turn */
#define NGX_STREAM_TRACKER_UDP_ROUNDS  16


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
    ngx_flag_t                      private;
    ngx_uint_t                      batch;        /* 0: nginx sessions */
    ngx_tracker_cache_t            *cache;        /* private mode */
    /* this worker's HMAC contexts (each worker has its own copy) */
    ngx_tracker_udp_keys_t          keys;
    ngx_tracker_udp_connid_conf_t   connid;
} ngx_stream_tracker_udp_srv_conf_t;


/* one datagram being answered */
typedef struct {
    ngx_stream_tracker_udp_srv_conf_t  *tscf;
    ngx_tracker_swarm_t                *sw;
    ngx_listening_t                    *ls;
    ngx_log_t                          *log;
    u_char                             *data;
    size_t                              len;
    ngx_tracker_udp_peer_t              peer;
    /* the database was asked for this datagram: a miss now is a failure */
    unsigned                            fetched:1;
} ngx_stream_tracker_udp_dgram_t;


/* a datagram waiting for a database lookup: copies of all it needs */
typedef struct {
    ngx_queue_t                         queue;    /* the free list */
    ngx_stream_tracker_udp_srv_conf_t  *tscf;
    ngx_listening_t                    *ls;
    ngx_sockaddr_t                      sockaddr;
    ngx_sockaddr_t                      local_sockaddr;
    socklen_t                           socklen;
    socklen_t                           local_socklen;
    size_t                              len;
    u_char                              data[NGX_TRACKER_UDP_MAX_DATAGRAM];
} ngx_stream_tracker_udp_waiter_t;


/* this worker's */
static ngx_tracker_udp_batch_t  *ngx_stream_tracker_udp_batch;
static ngx_queue_t               ngx_stream_tracker_udp_free;
static ngx_uint_t                ngx_stream_tracker_udp_nwaiters;


static void ngx_stream_tracker_udp_handler(ngx_stream_session_t *s);
static void ngx_stream_tracker_udp_read(ngx_event_t *ev);
static size_t ngx_stream_tracker_udp_answer(ngx_stream_tracker_udp_dgram_t *dg,
    u_char *out);
static size_t ngx_stream_tracker_udp_connect(
    ngx_stream_tracker_udp_dgram_t *dg, ngx_tracker_udp_req_t *req,
    u_char *out);
static size_t ngx_stream_tracker_udp_announce(
    ngx_stream_tracker_udp_dgram_t *dg, ngx_tracker_udp_req_t *req,
    u_char *out);
static size_t ngx_stream_tracker_udp_scrape(ngx_stream_tracker_udp_dgram_t *dg,
    ngx_tracker_udp_req_t *req, u_char *out);
static ngx_int_t ngx_stream_tracker_udp_private_check(
    ngx_stream_tracker_udp_dgram_t *dg, ngx_tracker_udp_req_t *req,
    ngx_str_t *passkey, ngx_tracker_user_t *user,
    ngx_tracker_torrent_info_t *torrent, ngx_tracker_err_e *err);
static void ngx_stream_tracker_udp_private_account(
    ngx_stream_tracker_udp_dgram_t *dg, ngx_tracker_udp_req_t *req,
    ngx_tracker_announce_t *a, ngx_tracker_user_t *user,
    ngx_tracker_torrent_info_t *torrent);
static ngx_int_t ngx_stream_tracker_udp_park(
    ngx_stream_tracker_udp_dgram_t *dg, ngx_str_t *passkey,
    u_char *info_hash);
static void ngx_stream_tracker_udp_resume(void *data, ngx_int_t rc);
static size_t ngx_stream_tracker_udp_check_connid(
    ngx_stream_tracker_udp_dgram_t *dg, ngx_tracker_udp_req_t *req,
    u_char *out);
static size_t ngx_stream_tracker_udp_error(ngx_tracker_swarm_t *sw,
    ngx_tracker_udp_req_t *req, const ngx_str_t *text, u_char *out);
static ngx_uint_t ngx_stream_tracker_udp_family(struct sockaddr *sa,
    u_char *addr);
static ngx_stream_tracker_udp_srv_conf_t *ngx_stream_tracker_udp_listening(
    ngx_listening_t *ls);

static void *ngx_stream_tracker_udp_create_main_conf(ngx_conf_t *cf);
static char *ngx_stream_tracker_udp_init_main_conf(ngx_conf_t *cf,
    void *conf);
static void *ngx_stream_tracker_udp_create_srv_conf(ngx_conf_t *cf);
static char *ngx_stream_tracker_udp_merge_srv_conf(ngx_conf_t *cf,
    void *parent, void *child);
static char *ngx_stream_tracker_udp(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_stream_tracker_udp_init_module(ngx_cycle_t *cycle);
static ngx_int_t ngx_stream_tracker_udp_init_process(ngx_cycle_t *cycle);


extern ngx_module_t  ngx_http_tracker_module;


#define ngx_stream_tracker_udp_count(sw, c)                                   \
    (void) ngx_atomic_fetch_add(&(sw)->sh->udp.counters[c], 1)


static ngx_conf_num_bounds_t  ngx_stream_tracker_udp_numwant_bounds = {
    ngx_conf_check_num_bounds, 0, NGX_STREAM_TRACKER_UDP_MAX_PEERS4
};

static ngx_conf_num_bounds_t  ngx_stream_tracker_udp_batch_bounds = {
    ngx_conf_check_num_bounds, 0, 1024
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

    { ngx_string("tracker_udp_private"),
      NGX_STREAM_MAIN_CONF|NGX_STREAM_SRV_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_STREAM_SRV_CONF_OFFSET,
      offsetof(ngx_stream_tracker_udp_srv_conf_t, private),
      NULL },

    { ngx_string("tracker_udp_batch"),
      NGX_STREAM_MAIN_CONF|NGX_STREAM_SRV_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_STREAM_SRV_CONF_OFFSET,
      offsetof(ngx_stream_tracker_udp_srv_conf_t, batch),
      &ngx_stream_tracker_udp_batch_bounds },

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
    ngx_stream_tracker_udp_init_module,    /* init module */
    ngx_stream_tracker_udp_init_process,   /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    NULL,                                  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


/* nginx's way: this datagram is a session (tracker_udp_batch 0) */
static void
ngx_stream_tracker_udp_handler(ngx_stream_session_t *s)
{
    u_char                              out[NGX_STREAM_TRACKER_UDP_REPLY_MAX];
    size_t                              len;
    ngx_buf_t                          *b;
    ngx_connection_t                   *c;
    ngx_stream_tracker_udp_dgram_t      dg;
    ngx_stream_tracker_udp_srv_conf_t  *tscf;

    c = s->connection;
    c->log->action = "serving a UDP tracker request";

    tscf = ngx_stream_get_module_srv_conf(s, ngx_stream_tracker_module);
    b = c->buffer;

    if (c->type != SOCK_DGRAM || b == NULL) {
        ngx_log_error(NGX_LOG_ERR, c->log, 0,
                      "tracker_udp needs a \"listen ... udp\" socket");
        ngx_stream_finalize_session(s, NGX_STREAM_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_memzero(&dg, sizeof(ngx_stream_tracker_udp_dgram_t));

    dg.tscf = tscf;
    dg.sw = tscf->zone->data;
    dg.ls = c->listening;
    dg.log = c->log;
    dg.data = b->pos;
    dg.len = b->last - b->pos;
    dg.peer.sockaddr = c->sockaddr;
    dg.peer.socklen = c->socklen;
    dg.peer.local_sockaddr = c->local_sockaddr;
    dg.peer.local_socklen = c->local_socklen;

    len = ngx_stream_tracker_udp_answer(&dg, out);

    /* a parked datagram is answered later from the listening socket */
    if (len != 0 && len != NGX_STREAM_TRACKER_UDP_PARKED
        && ngx_tracker_udp_send_one(dg.ls, &dg.peer, out, len) != NGX_OK)
    {
        ngx_stream_tracker_udp_count(dg.sw, NGX_TRACKER_UDP_SEND_FAILURES);
    }

    ngx_stream_finalize_session(s, NGX_STREAM_OK);
}


/* the batched way: the listening socket's read event, no sessions */
static void
ngx_stream_tracker_udp_read(ngx_event_t *ev)
{
    u_char                             *out;
    size_t                              len;
    ngx_int_t                           n, i;
    ngx_uint_t                          round, failed;
    ngx_connection_t                   *lc;
    ngx_tracker_udp_batch_t            *b;
    ngx_stream_tracker_udp_dgram_t      dg;
    ngx_stream_tracker_udp_srv_conf_t  *tscf;

    if (ev->timedout) {
        /* as ngx_event_recvmsg(): an accept mutex disabled the event */
        if (ngx_enable_accept_events((ngx_cycle_t *) ngx_cycle) != NGX_OK) {
            return;
        }

        ev->timedout = 0;
    }

    lc = ev->data;
    tscf = lc->data;
    b = ngx_stream_tracker_udp_batch;
    ev->ready = 0;

    ngx_memzero(&dg, sizeof(ngx_stream_tracker_udp_dgram_t));

    dg.tscf = tscf;
    dg.sw = tscf->zone->data;
    dg.ls = lc->listening;
    dg.log = ev->log;

    /* level-triggered: whatever is left after the last round wakes us */
    for (round = 0; round < NGX_STREAM_TRACKER_UDP_ROUNDS; round++) {

        n = ngx_tracker_udp_batch_recv(b, dg.ls, tscf->batch);

        if (n <= 0) {
            return;
        }

        for (i = 0; i < n; i++) {
            dg.data = ngx_tracker_udp_batch_datagram(b, i, &dg.len, &dg.peer,
                                                     &out);

            len = ngx_stream_tracker_udp_answer(&dg, out);

            if (len != 0 && len != NGX_STREAM_TRACKER_UDP_PARKED) {
                ngx_tracker_udp_batch_reply(b, i, len);
            }
        }

        failed = ngx_tracker_udp_batch_send(b, dg.ls);

        if (failed) {
            (void) ngx_atomic_fetch_add(
                   &dg.sw->sh->udp.counters[NGX_TRACKER_UDP_SEND_FAILURES],
                   failed);
        }

        if ((ngx_uint_t) n < tscf->batch) {
            return;
        }
    }
}


/*
 * The reply's length in out; 0: no reply (dropped);
 * NGX_STREAM_TRACKER_UDP_PARKED: the reply will be sent later.
 */
static size_t
ngx_stream_tracker_udp_answer(ngx_stream_tracker_udp_dgram_t *dg, u_char *out)
{
    u_char                  url[NGX_TRACKER_UDP_URL_MAX];
    size_t                  len;
    ngx_tracker_udp_req_t   req;
    ngx_tracker_udp_drop_e  drop;

    drop = ngx_tracker_udp_parse(dg->data, dg->len, url, &req);

    if (drop != NGX_TRACKER_UDP_OK) {
        ngx_log_debug2(NGX_LOG_DEBUG_STREAM, dg->log, 0,
                       "tracker udp: dropped %uz bytes: %s", dg->len,
                       ngx_tracker_udp_drop_name(drop));

        (void) ngx_atomic_fetch_add(&dg->sw->sh->udp.dropped[drop], 1);
        return 0;
    }

    if (req.action == NGX_TRACKER_UDP_CONNECT) {
        return ngx_stream_tracker_udp_connect(dg, &req, out);
    }

    len = ngx_stream_tracker_udp_check_connid(dg, &req, out);

    if (len) {
        return len;
    }

    if (req.action == NGX_TRACKER_UDP_ANNOUNCE) {
        return ngx_stream_tracker_udp_announce(dg, &req, out);
    }

    return ngx_stream_tracker_udp_scrape(dg, &req, out);
}


static size_t
ngx_stream_tracker_udp_connect(ngx_stream_tracker_udp_dgram_t *dg,
    ngx_tracker_udp_req_t *req, u_char *out)
{
    u_char  *p;

    p = ngx_tracker_udp_write_header(out, NGX_TRACKER_UDP_CONNECT,
                                     req->transaction_id);

    if (ngx_tracker_udp_connid_make(&dg->tscf->connid, dg->peer.sockaddr,
                                    ngx_time(), p)
        != NGX_OK)
    {
        ngx_log_error(NGX_LOG_ALERT, dg->log, 0,
                      "tracker udp: no connection id key");
        return ngx_stream_tracker_udp_error(dg->sw, req,
                                            &ngx_stream_tracker_udp_internal,
                                            out);
    }

    ngx_stream_tracker_udp_count(dg->sw, NGX_TRACKER_UDP_CONNECTS);

    return NGX_TRACKER_UDP_CONNECT_REPLY;
}


/* 0 when the id is good, else the length of the error reply in out */
static size_t
ngx_stream_tracker_udp_check_connid(ngx_stream_tracker_udp_dgram_t *dg,
    ngx_tracker_udp_req_t *req, u_char *out)
{
    ngx_int_t             rc;
    ngx_tracker_swarm_t  *sw;

    sw = dg->sw;

    rc = ngx_tracker_udp_connid_check(&dg->tscf->connid, dg->peer.sockaddr,
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
        ngx_log_error(NGX_LOG_ALERT, dg->log, 0,
                      "tracker udp: no connection id key");
        return ngx_stream_tracker_udp_error(sw, req,
                                            &ngx_stream_tracker_udp_internal,
                                            out);
    }
}


static size_t
ngx_stream_tracker_udp_announce(ngx_stream_tracker_udp_dgram_t *dg,
    ngx_tracker_udp_req_t *req, u_char *out)
{
    u_char                              *p;
    ngx_int_t                            rc;
    ngx_str_t                            passkey;
    ngx_uint_t                           numwant, cap;
    ngx_tracker_err_e                    err;
    ngx_tracker_swarm_t                 *sw;
    ngx_tracker_user_t                   user;
    ngx_tracker_announce_t               a;
    ngx_tracker_torrent_info_t           torrent;
    ngx_stream_tracker_udp_srv_conf_t   *tscf;

    static ngx_uint_t  events[] = {
        NGX_TRACKER_EVENT_NONE, NGX_TRACKER_EVENT_COMPLETED,
        NGX_TRACKER_EVENT_STARTED, NGX_TRACKER_EVENT_STOPPED
    };

    tscf = dg->tscf;
    sw = dg->sw;

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

    /* open mode checks a passkey for form only */
    err = ngx_tracker_udp_url_passkey(&req->url, &passkey);

    if (err != NGX_TRACKER_OK) {
        return ngx_stream_tracker_udp_error(sw, req, ngx_tracker_err_text(err),
                                            out);
    }

    a.info_hash = req->info_hash;

    if (tscf->private) {
        rc = ngx_stream_tracker_udp_private_check(dg, req, &passkey, &user,
                                                  &torrent, &err);
        if (rc == NGX_AGAIN) {
            return NGX_STREAM_TRACKER_UDP_PARKED;
        }

        if (rc == NGX_OK && !user.can_leech && req->left > 0) {
            err = NGX_TRACKER_ERR_LEECH_DENIED;
            rc = NGX_DECLINED;
        }

        if (rc != NGX_OK) {
            return ngx_stream_tracker_udp_error(sw, req,
                                                ngx_tracker_err_text(err),
                                                out);
        }

        /* a hybrid's v1 and v2 announces share one swarm */
        a.info_hash = torrent.hash;
    }

    a.family = ngx_stream_tracker_udp_family(dg->peer.sockaddr, a.addr);

    cap = (a.family == NGX_TRACKER_V4) ? NGX_STREAM_TRACKER_UDP_MAX_PEERS4
                                       : NGX_STREAM_TRACKER_UDP_MAX_PEERS6;

    numwant = (req->num_want < 0) ? tscf->numwant
                                  : ngx_min((ngx_uint_t) req->num_want,
                                            tscf->max_numwant);
    numwant = ngx_min(numwant, cap);

    if (req->event == NGX_TRACKER_UDP_EVENT_STOPPED) {
        numwant = 0;
    }

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

    if (tscf->private) {
        ngx_stream_tracker_udp_private_account(dg, req, &a, &user, &torrent);
    }

    ngx_log_debug4(NGX_LOG_DEBUG_STREAM, dg->log, 0,
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
 * Private mode: the passkey (BEP 41 URL data) must name an enabled user and
 * the info hash a registered, approved torrent, as over HTTP.  The answer
 * comes from the shared cache; what the cache does not know is looked up
 * (the datagram is parked: NGX_AGAIN), and a lookup that came back without
 * an answer is the database being unavailable.  A user that is refused is
 * refused at once: a flood of bad passkeys never waits on torrents.
 */
static ngx_int_t
ngx_stream_tracker_udp_private_check(ngx_stream_tracker_udp_dgram_t *dg,
    ngx_tracker_udp_req_t *req, ngx_str_t *passkey, ngx_tracker_user_t *user,
    ngx_tracker_torrent_info_t *torrent, ngx_tracker_err_e *err)
{
    ngx_uint_t            found, stale, user_state, torrent_state;
    ngx_tracker_cache_t  *cache;

    cache = dg->tscf->cache;

    if (passkey->len == 0) {
        *err = NGX_TRACKER_ERR_PASSKEY_MISSING;
        return NGX_DECLINED;
    }

    user_state = NGX_TRACKER_PRIVATE_UNKNOWN;
    torrent_state = NGX_TRACKER_PRIVATE_UNKNOWN;

    if (ngx_tracker_cache_user(cache, passkey, user, &found, &stale)
        == NGX_OK)
    {
        user_state = found ? NGX_TRACKER_PRIVATE_FOUND
                           : NGX_TRACKER_PRIVATE_MISSING;

        /* served as is; refreshed in the background */
        if (stale) {
            (void) ngx_tracker_private_fetch(cache, passkey, NULL, NULL, NULL);
        }

        *err = ngx_tracker_private_verdict(user_state, user, 0, NULL);

        if (*err != NGX_TRACKER_OK) {
            return NGX_DECLINED;
        }
    }

    if (ngx_tracker_cache_torrent(cache, req->info_hash, torrent, &found,
                                  &stale)
        == NGX_OK)
    {
        torrent_state = found ? NGX_TRACKER_PRIVATE_FOUND
                              : NGX_TRACKER_PRIVATE_MISSING;

        if (stale) {
            (void) ngx_tracker_private_fetch(cache, NULL, req->info_hash,
                                             NULL, NULL);
        }
    }

    if ((user_state == NGX_TRACKER_PRIVATE_UNKNOWN
         || torrent_state == NGX_TRACKER_PRIVATE_UNKNOWN)
        && !dg->fetched)
    {
        switch (ngx_stream_tracker_udp_park(dg,
                        user_state == NGX_TRACKER_PRIVATE_UNKNOWN
                        ? passkey : NULL,
                        torrent_state == NGX_TRACKER_PRIVATE_UNKNOWN
                        ? req->info_hash : NULL))
        {
        case NGX_OK:
            return NGX_AGAIN;

        default:
            /* too many waiting, or no database: as a failed lookup */
            break;
        }
    }

    *err = ngx_tracker_private_verdict(user_state, user, torrent_state,
                                       torrent);

    return (*err == NGX_TRACKER_OK) ? NGX_OK : NGX_DECLINED;
}


/* the same delta as an HTTP announce: one journal for both */
static void
ngx_stream_tracker_udp_private_account(ngx_stream_tracker_udp_dgram_t *dg,
    ngx_tracker_udp_req_t *req, ngx_tracker_announce_t *a,
    ngx_tracker_user_t *user, ngx_tracker_torrent_info_t *torrent)
{
    ngx_tracker_account_t  acct;

    acct.user_id = user->id;
    acct.torrent = torrent;
    acct.peer_id = req->peer_id;
    acct.family = a->family;
    acct.addr = a->addr;
    acct.port = a->port;
    acct.uploaded = req->uploaded;
    acct.downloaded = req->downloaded;
    acct.left = req->left;
    acct.event = a->event;
    acct.seeders = a->complete;
    acct.leechers = a->incomplete;

    ngx_tracker_account(dg->tscf->cache, &acct);
}


/* copies the datagram into a waiter and starts the lookup */
static ngx_int_t
ngx_stream_tracker_udp_park(ngx_stream_tracker_udp_dgram_t *dg,
    ngx_str_t *passkey, u_char *info_hash)
{
    ngx_queue_t                      *q;
    ngx_stream_tracker_udp_waiter_t  *w;

    if (!ngx_queue_empty(&ngx_stream_tracker_udp_free)) {
        q = ngx_queue_head(&ngx_stream_tracker_udp_free);
        ngx_queue_remove(q);
        w = ngx_queue_data(q, ngx_stream_tracker_udp_waiter_t, queue);

    } else if (ngx_stream_tracker_udp_nwaiters
               < NGX_STREAM_TRACKER_UDP_MAX_WAITERS)
    {
        /* from the cycle's pool: kept for reuse, never freed */
        w = ngx_palloc(ngx_cycle->pool,
                       sizeof(ngx_stream_tracker_udp_waiter_t));
        if (w == NULL) {
            return NGX_ERROR;
        }

        ngx_stream_tracker_udp_nwaiters++;

    } else {
        ngx_stream_tracker_udp_count(dg->sw, NGX_TRACKER_UDP_LOOKUP_FAILURES);
        return NGX_DECLINED;
    }

    w->tscf = dg->tscf;
    w->ls = dg->ls;
    w->len = ngx_min(dg->len, sizeof(w->data));
    ngx_memcpy(w->data, dg->data, w->len);

    w->socklen = ngx_min(dg->peer.socklen, (socklen_t) sizeof(ngx_sockaddr_t));
    ngx_memcpy(&w->sockaddr, dg->peer.sockaddr, w->socklen);

    w->local_socklen = 0;

    if (dg->peer.local_sockaddr) {
        w->local_socklen = ngx_min(dg->peer.local_socklen,
                                   (socklen_t) sizeof(ngx_sockaddr_t));
        ngx_memcpy(&w->local_sockaddr, dg->peer.local_sockaddr,
                   w->local_socklen);
    }

    if (ngx_tracker_private_fetch(dg->tscf->cache, passkey, info_hash,
                                  ngx_stream_tracker_udp_resume, w)
        != NGX_OK)
    {
        ngx_queue_insert_head(&ngx_stream_tracker_udp_free, &w->queue);
        ngx_stream_tracker_udp_count(dg->sw, NGX_TRACKER_UDP_LOOKUP_FAILURES);
        return NGX_ERROR;
    }

    ngx_stream_tracker_udp_count(dg->sw, NGX_TRACKER_UDP_LOOKUPS);

    return NGX_OK;
}


/* the lookup is done: the datagram is answered again, from the cache */
static void
ngx_stream_tracker_udp_resume(void *data, ngx_int_t rc)
{
    ngx_stream_tracker_udp_waiter_t  *w = data;

    u_char                          out[NGX_STREAM_TRACKER_UDP_REPLY_MAX];
    size_t                          len;
    ngx_stream_tracker_udp_dgram_t  dg;

    ngx_memzero(&dg, sizeof(ngx_stream_tracker_udp_dgram_t));

    dg.tscf = w->tscf;
    dg.sw = w->tscf->zone->data;
    dg.ls = w->ls;
    dg.log = ngx_cycle->log;
    dg.data = w->data;
    dg.len = w->len;
    dg.peer.sockaddr = &w->sockaddr.sockaddr;
    dg.peer.socklen = w->socklen;
    dg.peer.local_sockaddr = w->local_socklen ? &w->local_sockaddr.sockaddr
                                              : NULL;
    dg.peer.local_socklen = w->local_socklen;
    dg.fetched = 1;

    ngx_log_debug1(NGX_LOG_DEBUG_STREAM, dg.log, 0,
                   "tracker udp: lookup done: %i", rc);

    if (rc != NGX_OK) {
        ngx_stream_tracker_udp_count(dg.sw, NGX_TRACKER_UDP_LOOKUP_FAILURES);
    }

    len = ngx_stream_tracker_udp_answer(&dg, out);

    if (len != 0 && len != NGX_STREAM_TRACKER_UDP_PARKED
        && ngx_tracker_udp_send_one(dg.ls, &dg.peer, out, len) != NGX_OK)
    {
        ngx_stream_tracker_udp_count(dg.sw, NGX_TRACKER_UDP_SEND_FAILURES);
    }

    ngx_queue_insert_head(&ngx_stream_tracker_udp_free, &w->queue);
}


static size_t
ngx_stream_tracker_udp_scrape(ngx_stream_tracker_udp_dgram_t *dg,
    ngx_tracker_udp_req_t *req, u_char *out)
{
    u_char                      *p;
    ngx_uint_t                   i, found, stale;
    ngx_tracker_swarm_t         *sw;
    ngx_tracker_scrape_entry_t   e;
    ngx_tracker_torrent_info_t   t;

    sw = dg->sw;

    p = ngx_tracker_udp_write_header(out, NGX_TRACKER_UDP_SCRAPE,
                                     req->transaction_id);

    for (i = 0; i < req->nhashes; i++) {
        ngx_memcpy(e.info_hash, req->hashes + i * NGX_TRACKER_HASH_LEN,
                   NGX_TRACKER_HASH_LEN);

        /*
         * A BEP 15 scrape carries no passkey (BEP 41 options follow
         * announces only): counts are served, a hybrid's v2 hash by the
         * swarm of its v1 hash when the cache knows it.
         */
        if (dg->tscf->private
            && ngx_tracker_cache_torrent(dg->tscf->cache, e.info_hash, &t,
                                         &found, &stale)
               == NGX_OK
            && found)
        {
            ngx_memcpy(e.info_hash, t.hash, NGX_TRACKER_HASH_LEN);
        }

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
 * The tracker_udp server behind a listening socket, when the module may
 * take its datagrams over: one server on it (no per-address dispatch to
 * redo) and batching on.
 */
static ngx_stream_tracker_udp_srv_conf_t *
ngx_stream_tracker_udp_listening(ngx_listening_t *ls)
{
    ngx_stream_port_t                  *port;
    ngx_stream_conf_ctx_t              *ctx;
    ngx_stream_core_srv_conf_t         *cscf;
    ngx_stream_tracker_udp_srv_conf_t  *tscf;

    if (ls->type != SOCK_DGRAM || ls->connection == NULL
        || ls->handler != ngx_stream_init_connection)
    {
        return NULL;
    }

    port = ls->servers;

    if (port == NULL || port->naddrs != 1) {
        return NULL;
    }

    switch (ls->sockaddr->sa_family) {

#if (NGX_HAVE_INET6)
    case AF_INET6:
        ctx = ((ngx_stream_in6_addr_t *) port->addrs)[0].conf.ctx;
        break;
#endif

    case AF_INET:
        ctx = ((ngx_stream_in_addr_t *) port->addrs)[0].conf.ctx;
        break;

    default:
        return NULL;
    }

    cscf = ctx->srv_conf[ngx_stream_core_module.ctx_index];

    if (cscf->handler != ngx_stream_tracker_udp_handler) {
        return NULL;
    }

    tscf = ctx->srv_conf[ngx_stream_tracker_module.ctx_index];

    return tscf->batch ? tscf : NULL;
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
     *     tscf->cache = NULL;
     *     tscf->keys = { 0 };
     *     tscf->connid = { 0 };
     */

    tscf->interval = NGX_CONF_UNSET;
    tscf->numwant = NGX_CONF_UNSET_UINT;
    tscf->max_numwant = NGX_CONF_UNSET_UINT;
    tscf->private = NGX_CONF_UNSET;
    tscf->batch = NGX_CONF_UNSET_UINT;

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
    ngx_conf_merge_value(conf->private, prev->private, 0);
    ngx_conf_merge_uint_value(conf->batch, prev->batch, 32);

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
    ngx_uint_t                           i, batch;
    ngx_listening_t                     *ls;
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
    batch = 0;

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

        batch = ngx_max(batch, tscf->batch);
    }

    ngx_queue_init(&ngx_stream_tracker_udp_free);
    ngx_stream_tracker_udp_nwaiters = 0;

    if (batch == 0) {
        return NGX_OK;
    }

    /* one set of buffers: a worker answers one batch at a time */
    ngx_stream_tracker_udp_batch = ngx_tracker_udp_batch_create(cycle->pool,
                                                                batch);
    if (ngx_stream_tracker_udp_batch == NULL) {
        return NGX_ERROR;
    }

    /*
     * nginx has set up this worker's listening connections (the event
     * module's init_process runs first); the read events of our sockets
     * are ours from now on.  A listening connection's data is unused by
     * nginx: it keeps the server's configuration.
     */
    ls = cycle->listening.elts;

    for (i = 0; i < cycle->listening.nelts; i++) {
        tscf = ngx_stream_tracker_udp_listening(&ls[i]);

        if (tscf == NULL) {
            continue;
        }

        ls[i].connection->data = tscf;
        ls[i].connection->read->handler = ngx_stream_tracker_udp_read;

        ngx_log_debug1(NGX_LOG_DEBUG_STREAM, cycle->log, 0,
                       "tracker udp: batched reads on %V", &ls[i].addr_text);
    }

    return NGX_OK;
}


/* private mode needs the HTTP module's database and cache */
static ngx_int_t
ngx_stream_tracker_udp_init_module(ngx_cycle_t *cycle)
{
    ngx_uint_t                           i;
    ngx_tracker_cache_t                 *cache;
    ngx_stream_core_main_conf_t         *cmcf;
    ngx_stream_core_srv_conf_t         **cscfp;
    ngx_stream_tracker_udp_srv_conf_t   *tscf;

    if (ngx_stream_cycle_get_module_main_conf(cycle, ngx_stream_tracker_module)
        == NULL)
    {
        return NGX_OK;
    }

    cache = ngx_tracker_private_shared(cycle);

    cmcf = ngx_stream_cycle_get_module_main_conf(cycle,
                                                 ngx_stream_core_module);
    cscfp = cmcf->servers.elts;

    for (i = 0; i < cmcf->servers.nelts; i++) {
        tscf = cscfp[i]->ctx->srv_conf[ngx_stream_tracker_module.ctx_index];

        if (tscf->zone == NULL || !tscf->private) {
            continue;
        }

        if (cache == NULL) {
            ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                          "\"tracker_udp_private\" needs "
                          "\"tracker_database\" and \"tracker_private_zone\" "
                          "in the http block");
            return NGX_ERROR;
        }

        tscf->cache = cache;
    }

    return NGX_OK;
}
