
/*
 * ngx_tracker: what the UDP tracker keeps in the swarm zone: the keys of
 * its connection ids (shared by all workers, rotated) and its counters,
 * which the HTTP status page shows.
 */

#ifndef _NGX_TRACKER_UDP_SH_H_INCLUDED_
#define _NGX_TRACKER_UDP_SH_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_tracker_udp_parse.h"


#define NGX_TRACKER_UDP_KEY_LEN  32


typedef enum {
    NGX_TRACKER_UDP_CONNECTS = 0,
    NGX_TRACKER_UDP_ANNOUNCES,
    NGX_TRACKER_UDP_SCRAPES,
    NGX_TRACKER_UDP_SCRAPED_HASHES,
    NGX_TRACKER_UDP_ERRORS,              /* error replies, all reasons */
    NGX_TRACKER_UDP_BAD_CONNECTION_IDS,
    NGX_TRACKER_UDP_EXPIRED_CONNECTION_IDS,
    NGX_TRACKER_UDP_SEND_FAILURES,
    NGX_TRACKER_UDP_LOOKUPS,             /* private: waited for the db */
    NGX_TRACKER_UDP_LOOKUP_FAILURES,     /* ... and got no answer */
    NGX_TRACKER_UDP_COUNTER_LAST
} ngx_tracker_udp_counter_e;


typedef struct {
    ngx_atomic_t              epoch;     /* 0: never set */
    u_char                    key[NGX_TRACKER_UDP_KEY_LEN];
} ngx_tracker_udp_key_t;


typedef struct {
    /* taken only to create the key of a new rotation period */
    ngx_atomic_t              lock;
    /* the keys of the current and the previous period, by epoch % 2 */
    ngx_tracker_udp_key_t     keys[2];
    ngx_atomic_t              counters[NGX_TRACKER_UDP_COUNTER_LAST];
    ngx_atomic_t              dropped[NGX_TRACKER_UDP_DROP_LAST];
} ngx_tracker_udp_sh_t;


const char *ngx_tracker_udp_counter_name(ngx_tracker_udp_counter_e c);


#endif /* _NGX_TRACKER_UDP_SH_H_INCLUDED_ */
