
/*
 * ngx_tracker: UDP connection ids (BEP 15), stateless and unguessable.
 *
 *     id = issue time (16 low bits of the second, big endian)
 *          | first 6 bytes of HMAC-SHA256(key, address | issue time)
 *
 * The address, not the port: libtorrent keeps one connection id per
 * tracker for the whole process and uses it from every socket it has (and
 * a NAT may change the port); spoofing is about the address.
 * The issue time in the id lets one HMAC check an id and tell a forged id
 * from an expired one.  The key belongs to the rotation period of the issue
 * time; the zone keeps the keys of the current and the previous period,
 * created with RAND_bytes by whichever worker first needs them, or derives
 * them from a configured secret (so several nodes accept each other's ids).
 */

#ifndef _NGX_TRACKER_UDP_CONNID_H_INCLUDED_
#define _NGX_TRACKER_UDP_CONNID_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_tracker_udp_sh.h"


#define NGX_TRACKER_UDP_CONNID_LEN      8
#define NGX_TRACKER_UDP_CONNID_TTL      120     /* seconds, BEP 15 */

#define NGX_TRACKER_UDP_CONNID_EXPIRED  1


/* a worker's keyed HMAC contexts, one per period slot */
typedef struct {
    uint64_t                  epoch[2];
    void                     *ctx[2];    /* EVP_MAC_CTX */
} ngx_tracker_udp_keys_t;


typedef struct {
    ngx_tracker_udp_sh_t     *sh;
    ngx_tracker_udp_keys_t   *keys;
    time_t                    rotation;  /* at least ttl */
    time_t                    ttl;
    ngx_str_t                 secret;    /* empty: random keys */
} ngx_tracker_udp_connid_conf_t;


/* per worker; registers a cleanup on pool that frees the contexts */
ngx_int_t ngx_tracker_udp_keys_init(ngx_tracker_udp_keys_t *keys,
    ngx_pool_t *pool, ngx_log_t *log);

ngx_int_t ngx_tracker_udp_connid_make(ngx_tracker_udp_connid_conf_t *cc,
    struct sockaddr *sa, time_t now, u_char *id);

/* NGX_OK, NGX_TRACKER_UDP_CONNID_EXPIRED, NGX_DECLINED (forged), NGX_ERROR */
ngx_int_t ngx_tracker_udp_connid_check(ngx_tracker_udp_connid_conf_t *cc,
    struct sockaddr *sa, time_t now, u_char *id);


#endif /* _NGX_TRACKER_UDP_CONNID_H_INCLUDED_ */
