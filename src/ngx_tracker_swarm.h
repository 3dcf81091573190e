
/*
 * ngx_tracker: swarms in a shared-memory zone.
 *
 * The zone holds 64 shards, each with its own lock and red-black tree of
 * torrents.  A shard is picked by the top six bits of the info hash and a
 * tree is keyed by its first four bytes, so an in-order walk of all shards
 * visits torrents sorted by info hash (bencode wants sorted scrape keys).
 * The slab allocator's own mutex is only taken when a peer list grows or
 * a torrent is created, never for a plain re-announce.
 *
 * A torrent keeps four peer lists: IPv4 seeders, IPv4 leechers, IPv6
 * seeders, IPv6 leechers.  Each list is an array of fixed-size records
 * sorted by peer id (binary search, no per-peer pointers):
 *
 *     peer id (20) | address (4 or 16) | port (2, network order) | 2 spare
 *     | last seen (4)                            = 32 bytes (v4), 44 (v6)
 *
 * The address and port are adjacent, so a compact reply is one memcpy per
 * peer.
 */

#ifndef _NGX_TRACKER_SWARM_H_INCLUDED_
#define _NGX_TRACKER_SWARM_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_tracker_args.h"
#include "ngx_tracker_udp_sh.h"


#define NGX_TRACKER_SHARDS_BITS   6
#define NGX_TRACKER_SHARDS        (1 << NGX_TRACKER_SHARDS_BITS)

#define NGX_TRACKER_V4            0
#define NGX_TRACKER_V6            1

#define NGX_TRACKER_PEER4_SIZE    32
#define NGX_TRACKER_PEER6_SIZE    44

/* compact reply entry: address + port */
#define NGX_TRACKER_COMPACT4      6
#define NGX_TRACKER_COMPACT6      18


typedef struct {
    u_char                   *elts;
    uint32_t                  nelts;
    uint32_t                  nalloc;
} ngx_tracker_plist_t;


typedef struct {
    ngx_rbtree_node_t         node;
    u_char                    info_hash[NGX_TRACKER_HASH_LEN];
    uint32_t                  downloaded;
    uint32_t                  purged;      /* last expiry pass */
    uint32_t                  active;      /* last time it had a peer */
    /* indexed by NGX_TRACKER_LEECHERS(family), NGX_TRACKER_SEEDERS(family) */
    ngx_tracker_plist_t       peers[4];
} ngx_tracker_torrent_t;


#define NGX_TRACKER_LEECHERS(family)  ((family) * 2)
#define NGX_TRACKER_SEEDERS(family)   ((family) * 2 + 1)

#define ngx_tracker_seeders(t)                                                \
    ((t)->peers[NGX_TRACKER_SEEDERS(NGX_TRACKER_V4)].nelts                    \
     + (t)->peers[NGX_TRACKER_SEEDERS(NGX_TRACKER_V6)].nelts)
#define ngx_tracker_leechers(t)                                               \
    ((t)->peers[NGX_TRACKER_LEECHERS(NGX_TRACKER_V4)].nelts                   \
     + (t)->peers[NGX_TRACKER_LEECHERS(NGX_TRACKER_V6)].nelts)


typedef struct {
    ngx_shmtx_sh_t            lock;
    ngx_shmtx_t               mutex;
    ngx_rbtree_t              rbtree;
    ngx_rbtree_node_t         sentinel;
    ngx_uint_t                torrents;
    ngx_uint_t                peers[4];
    /* keeps two shards' locks off one cache line */
    u_char                    pad[64];
} ngx_tracker_shard_t;


typedef struct {
    ngx_tracker_shard_t       shards[NGX_TRACKER_SHARDS];
    time_t                    peer_timeout;   /* rewritten on each load */
    ngx_atomic_t              sweep_cursor;
    ngx_atomic_t              announces;
    ngx_atomic_t              scrapes;
    ngx_atomic_t              scraped_hashes;
    ngx_atomic_t              expired;
    ngx_atomic_t              failures[NGX_TRACKER_ERR_LAST];
    ngx_tracker_udp_sh_t      udp;
} ngx_tracker_sh_t;


typedef struct {
    ngx_tracker_sh_t         *sh;
    ngx_slab_pool_t          *shpool;
    ngx_shm_zone_t           *shm_zone;
    time_t                    peer_timeout;
} ngx_tracker_swarm_t;


typedef struct {
    /* in */
    u_char                   *info_hash;
    u_char                   *peer_id;
    ngx_uint_t                family;
    u_char                    addr[16];
    in_port_t                 port;            /* network byte order */
    ngx_uint_t                event;
    ngx_uint_t                numwant;
    unsigned                  seeder:1;

    /*
     * out: compact entries per family, peer ids when ids[] is set; a NULL
     * out[] leaves that family out (a UDP reply carries one family)
     */
    u_char                   *out[2];
    u_char                   *ids[2];
    ngx_uint_t                nout[2];
    ngx_uint_t                complete;
    ngx_uint_t                incomplete;
    ngx_uint_t                downloaded;
} ngx_tracker_announce_t;


typedef struct {
    u_char                    info_hash[NGX_TRACKER_HASH_LEN];
    uint32_t                  complete;
    uint32_t                  incomplete;
    uint32_t                  downloaded;
} ngx_tracker_scrape_entry_t;


typedef struct {
    ngx_uint_t                torrents;
    ngx_uint_t                peers[4];
    size_t                    zone_size;
    size_t                    used;
    size_t                    free;
} ngx_tracker_swarm_stats_t;


ngx_int_t ngx_tracker_swarm_init_zone(ngx_shm_zone_t *shm_zone, void *data);

ngx_tracker_err_e ngx_tracker_swarm_announce(ngx_tracker_swarm_t *sw,
    ngx_tracker_announce_t *a);

void ngx_tracker_swarm_scrape(ngx_tracker_swarm_t *sw,
    ngx_tracker_scrape_entry_t *e);

/* copies one shard's torrents, sorted by info hash, into a pool array */
ngx_int_t ngx_tracker_swarm_scrape_shard(ngx_tracker_swarm_t *sw,
    ngx_uint_t shard, ngx_pool_t *pool, ngx_tracker_scrape_entry_t **entries,
    ngx_uint_t *n);

/* one incremental expiry pass over the next shard (called from a timer) */
void ngx_tracker_swarm_sweep(ngx_tracker_swarm_t *sw);

void ngx_tracker_swarm_stats(ngx_tracker_swarm_t *sw,
    ngx_tracker_swarm_stats_t *st);


#endif /* _NGX_TRACKER_SWARM_H_INCLUDED_ */
