
/*
 * ngx_tracker: the HTTP announce handler (BEP 3, 7, 23, 24).
 *
 * request -> parse the query in place -> client address -> one swarm call
 * under the shard lock -> one bencoded buffer -> send.
 */

#include "ngx_tracker_module.h"


/* "d2:ip<len>:<text>7:peer id20:<id>4:porti65535ee" */
#define NGX_HTTP_TRACKER_DICT_PEER_LEN                                        \
    (1 + NGX_TRACKER_BENCODE_KEY_LEN("ip")                                    \
     + NGX_TRACKER_BENCODE_STR_LEN(NGX_INET6_ADDRSTRLEN)                      \
     + NGX_TRACKER_BENCODE_KEY_LEN("peer id")                                 \
     + NGX_TRACKER_BENCODE_STR_LEN(NGX_TRACKER_HASH_LEN)                      \
     + NGX_TRACKER_BENCODE_KEY_LEN("port") + NGX_TRACKER_BENCODE_INT_LEN + 1)

/* everything of a reply but the peers */
#define NGX_HTTP_TRACKER_REPLY_LEN                                            \
    (2 + NGX_TRACKER_BENCODE_KEY_LEN("complete")                              \
     + NGX_TRACKER_BENCODE_KEY_LEN("downloaded")                              \
     + NGX_TRACKER_BENCODE_KEY_LEN("incomplete")                              \
     + NGX_TRACKER_BENCODE_KEY_LEN("interval")                                \
     + NGX_TRACKER_BENCODE_KEY_LEN("min interval")                            \
     + 5 * NGX_TRACKER_BENCODE_INT_LEN                                        \
     + NGX_TRACKER_BENCODE_KEY_LEN("external ip")                             \
     + NGX_TRACKER_BENCODE_STR_LEN(16)                                        \
     + NGX_TRACKER_BENCODE_KEY_LEN("peers") + NGX_SIZE_T_LEN + 3             \
     + NGX_TRACKER_BENCODE_KEY_LEN("peers6") + NGX_SIZE_T_LEN + 1)


static ngx_tracker_err_e ngx_http_tracker_client_addr(ngx_http_request_t *r,
    ngx_http_tracker_loc_conf_t *tlcf, ngx_tracker_announce_args_t *args,
    ngx_tracker_announce_t *a);
static u_char *ngx_http_tracker_dict_peers(u_char *p,
    ngx_tracker_announce_t *a);


static ngx_str_t  ngx_http_tracker_announce_verb = ngx_string("announce");


ngx_int_t
ngx_http_tracker_announce_handler(ngx_http_request_t *r)
{
    u_char                       *buf, *p;
    size_t                        size;
    ngx_int_t                     rc;
    ngx_uint_t                    numwant;
    ngx_str_t                     passkey;
    ngx_tracker_err_e             err;
    ngx_tracker_swarm_t          *sw;
    ngx_tracker_user_t            user;
    ngx_tracker_account_t         acct;
    ngx_tracker_announce_t        a;
    ngx_tracker_announce_args_t   args;
    ngx_tracker_torrent_info_t    torrent;
    ngx_http_tracker_loc_conf_t  *tlcf;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    tlcf = ngx_http_get_module_loc_conf(r, ngx_http_tracker_module);
    sw = tlcf->zone->data;

    err = ngx_tracker_parse_announce(r->args.data, r->args.data + r->args.len,
                                     &args);
    if (err != NGX_TRACKER_OK) {
        return ngx_http_tracker_failure(r, sw, err);
    }

    /* open mode checks a passkey for form only */
    ngx_str_null(&passkey);

    err = ngx_http_tracker_uri_passkey(r, &ngx_http_tracker_announce_verb,
                                       &passkey);
    if (err != NGX_TRACKER_OK) {
        return ngx_http_tracker_failure(r, sw, err);
    }

    a.info_hash = args.info_hash;

    if (tlcf->private) {
        if (passkey.len == 0) {
            passkey = args.passkey;
        }

        rc = ngx_http_tracker_private_resolve(r,
                                             ngx_http_tracker_announce_handler,
                                             &passkey, args.info_hash, &user,
                                             &torrent, &err);
        if (rc == NGX_AGAIN) {
            /* runs again from the top once the database has answered */
            return NGX_DONE;
        }

        if (rc != NGX_OK) {
            return ngx_http_tracker_failure(r, sw, err);
        }

        if (!user.can_leech && args.left > 0) {
            return ngx_http_tracker_failure(r, sw,
                                            NGX_TRACKER_ERR_LEECH_DENIED);
        }

        /* a hybrid's v1 and v2 announces share one swarm */
        a.info_hash = torrent.hash;
    }

    err = ngx_http_tracker_client_addr(r, tlcf, &args, &a);
    if (err != NGX_TRACKER_OK) {
        return ngx_http_tracker_failure(r, sw, err);
    }

    numwant = args.has_numwant ? ngx_min(args.numwant, tlcf->max_numwant)
                               : tlcf->numwant;

    if (args.event == NGX_TRACKER_EVENT_STOPPED) {
        numwant = 0;
    }

    a.peer_id = args.peer_id;
    a.port = htons((in_port_t) args.port);
    a.event = args.event;
    a.numwant = numwant;
    a.seeder = (args.left == 0);

    /*
     * One allocation: the swarm writes compact entries (and peer ids) into
     * scratch space, the reply is then written in front of it.  Either
     * family may fill all of numwant.
     */
    if (args.compact) {
        size = NGX_HTTP_TRACKER_REPLY_LEN
               + numwant * (NGX_TRACKER_COMPACT4 + NGX_TRACKER_COMPACT6);

    } else {
        size = NGX_HTTP_TRACKER_REPLY_LEN
               + numwant * NGX_HTTP_TRACKER_DICT_PEER_LEN;
    }

    size += numwant * (NGX_TRACKER_COMPACT4 + NGX_TRACKER_COMPACT6);

    if (!args.compact && !args.no_peer_id) {
        size += 2 * numwant * NGX_TRACKER_HASH_LEN;
    }

    buf = ngx_pnalloc(r->pool, size);
    if (buf == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    a.out[NGX_TRACKER_V4] = buf + size
                            - numwant * (NGX_TRACKER_COMPACT4
                                         + NGX_TRACKER_COMPACT6);
    a.out[NGX_TRACKER_V6] = a.out[NGX_TRACKER_V4]
                            + numwant * NGX_TRACKER_COMPACT4;
    a.ids[NGX_TRACKER_V4] = NULL;
    a.ids[NGX_TRACKER_V6] = NULL;

    if (!args.compact && !args.no_peer_id) {
        a.ids[NGX_TRACKER_V4] = a.out[NGX_TRACKER_V4]
                                - 2 * numwant * NGX_TRACKER_HASH_LEN;
        a.ids[NGX_TRACKER_V6] = a.ids[NGX_TRACKER_V4]
                                + numwant * NGX_TRACKER_HASH_LEN;
    }

    err = ngx_tracker_swarm_announce(sw, &a);
    if (err != NGX_TRACKER_OK) {
        return ngx_http_tracker_failure(r, sw, err);
    }

    (void) ngx_atomic_fetch_add(&sw->sh->announces, 1);

    if (tlcf->private) {
        acct.user_id = user.id;
        acct.torrent = &torrent;
        acct.peer_id = args.peer_id;
        acct.family = a.family;
        acct.addr = a.addr;
        acct.port = a.port;
        acct.uploaded = args.uploaded;
        acct.downloaded = args.downloaded;
        acct.left = args.left;
        acct.event = args.event;
        acct.seeders = a.complete;
        acct.leechers = a.incomplete;

        ngx_tracker_account(ngx_http_tracker_private_cache(r), &acct);
    }

    ngx_log_debug5(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "tracker announce: event:%ui seeder:%d peers:%ui+%ui "
                   "numwant:%ui", a.event, a.seeder, a.nout[0], a.nout[1],
                   numwant);

    /* keys in sorted order, as bencode requires */
    p = buf;
    *p++ = 'd';
    p = ngx_tracker_bencode_key_int(p, "complete", a.complete);
    p = ngx_tracker_bencode_key_int(p, "downloaded", a.downloaded);
    p = ngx_tracker_bencode_key(p, "external ip");
    p = ngx_tracker_bencode_str(p, a.addr,
                                a.family == NGX_TRACKER_V4 ? 4 : 16);
    p = ngx_tracker_bencode_key_int(p, "incomplete", a.incomplete);
    p = ngx_tracker_bencode_key_int(p, "interval", tlcf->interval);
    p = ngx_tracker_bencode_key_int(p, "min interval", tlcf->min_interval);
    p = ngx_tracker_bencode_key(p, "peers");

    if (args.compact) {
        /* the scratch area starts past the end of the longest reply */
        p = ngx_tracker_bencode_str(p, a.out[NGX_TRACKER_V4],
                                    a.nout[NGX_TRACKER_V4]
                                    * NGX_TRACKER_COMPACT4);

        if (a.nout[NGX_TRACKER_V6]) {
            p = ngx_tracker_bencode_key(p, "peers6");
            p = ngx_tracker_bencode_str(p, a.out[NGX_TRACKER_V6],
                                        a.nout[NGX_TRACKER_V6]
                                        * NGX_TRACKER_COMPACT6);
        }

    } else {
        p = ngx_http_tracker_dict_peers(p, &a);
    }

    *p++ = 'e';

    return ngx_http_tracker_send(r, buf, p - buf);
}


static ngx_tracker_err_e
ngx_http_tracker_client_addr(ngx_http_request_t *r,
    ngx_http_tracker_loc_conf_t *tlcf, ngx_tracker_announce_args_t *args,
    ngx_tracker_announce_t *a)
{
    u_char                text[NGX_TRACKER_IP_MAXLEN];
    size_t                len;
    in_addr_t             inaddr;
    struct sockaddr      *sa;
    struct sockaddr_in   *sin;
#if (NGX_HAVE_INET6)
    u_char               *p;
    struct sockaddr_in6  *sin6;
#endif

    if (tlcf->ip_param && args->ip.len) {

        if (ngx_tracker_unescape(text, sizeof(text), args->ip.data,
                                 args->ip.len, &len)
            != NGX_OK)
        {
            return NGX_TRACKER_ERR_IP;
        }

        inaddr = ngx_inet_addr(text, len);

        if (inaddr != INADDR_NONE) {
            a->family = NGX_TRACKER_V4;
            ngx_memcpy(a->addr, &inaddr, 4);
            return NGX_TRACKER_OK;
        }

#if (NGX_HAVE_INET6)
        if (ngx_inet6_addr(text, len, a->addr) == NGX_OK) {
            a->family = NGX_TRACKER_V6;
            goto mapped;
        }
#endif

        return NGX_TRACKER_ERR_IP;
    }

    /* $remote_addr: the realip module has already rewritten it */
    sa = r->connection->sockaddr;

    switch (sa->sa_family) {

#if (NGX_HAVE_INET6)
    case AF_INET6:
        sin6 = (struct sockaddr_in6 *) sa;
        a->family = NGX_TRACKER_V6;
        ngx_memcpy(a->addr, sin6->sin6_addr.s6_addr, 16);
        goto mapped;
#endif

    case AF_INET:
        sin = (struct sockaddr_in *) sa;
        a->family = NGX_TRACKER_V4;
        ngx_memcpy(a->addr, &sin->sin_addr.s_addr, 4);
        return NGX_TRACKER_OK;

    default:
        /* a unix socket without realip: no address to hand out */
        return NGX_TRACKER_ERR_IP;
    }

#if (NGX_HAVE_INET6)

mapped:

    /* ::ffff:a.b.c.d is an IPv4 peer */
    p = a->addr;

    if (IN6_IS_ADDR_V4MAPPED((struct in6_addr *) p)) {
        a->family = NGX_TRACKER_V4;
        ngx_memmove(p, p + 12, 4);
    }

    return NGX_TRACKER_OK;
#endif
}


/* BEP 3 non-compact peers: a list of dictionaries, both families */
static u_char *
ngx_http_tracker_dict_peers(u_char *p, ngx_tracker_announce_t *a)
{
    u_char      *e, *id, text[NGX_INET6_ADDRSTRLEN];
    size_t       len, alen;
    in_port_t    port;
    ngx_uint_t   f, i;

    *p++ = 'l';

    for (f = 0; f < 2; f++) {
        e = a->out[f];
        id = a->ids[f];
        alen = (f == NGX_TRACKER_V4) ? 4 : 16;

        for (i = 0; i < a->nout[f]; i++) {
            len = ngx_inet_ntop(f == NGX_TRACKER_V4 ? AF_INET : AF_INET6,
                                e, text, NGX_INET6_ADDRSTRLEN);
            ngx_memcpy(&port, e + alen, 2);

            *p++ = 'd';
            p = ngx_tracker_bencode_key(p, "ip");
            p = ngx_tracker_bencode_str(p, text, len);

            if (id) {
                p = ngx_tracker_bencode_key(p, "peer id");
                p = ngx_tracker_bencode_str(p, id, NGX_TRACKER_HASH_LEN);
                id += NGX_TRACKER_HASH_LEN;
            }

            p = ngx_tracker_bencode_key_int(p, "port", ntohs(port));
            *p++ = 'e';

            e += alen + 2;
        }
    }

    *p++ = 'e';

    return p;
}
