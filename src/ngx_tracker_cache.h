
/*
 * ngx_tracker: the private tracker's shared-memory zone.
 *
 * One red-black tree holds three kinds of entries, all with an LRU link so a
 * full zone evicts the least recently used:
 *
 *   user     passkey -> user id, disabled, may leech       (from PostgreSQL)
 *   torrent  info hash (v1, or truncated v2) -> torrent id, the v1 hash the
 *            swarm is keyed by, approved, multipliers       (from PostgreSQL)
 *   peer     (torrent id, user id, peer id) -> the counters and time of the
 *            peer's last announce, for accounting           (tracker state)
 *
 * User and torrent entries may be negative ("no such passkey"), so floods of
 * bad keys never reach the database.  Entries past their TTL are still
 * served while a refresh is under way, and while the database is down.
 */

#ifndef _NGX_TRACKER_CACHE_H_INCLUDED_
#define _NGX_TRACKER_CACHE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_tracker_args.h"


/* a hint to load a shared-memory line early (any zone's lookups use it) */
#if (defined __GNUC__ || defined __clang__)
#define ngx_tracker_prefetch(p)  __builtin_prefetch(p)
#else
#define ngx_tracker_prefetch(p)
#endif


#define NGX_TRACKER_ENTRY_USER     1
#define NGX_TRACKER_ENTRY_TORRENT  2
#define NGX_TRACKER_ENTRY_PEER     3

#define NGX_TRACKER_PEER_KEY_LEN   (8 + 8 + NGX_TRACKER_HASH_LEN)


typedef struct {
    int64_t                      id;
    unsigned                     disabled:1;
    unsigned                     can_leech:1;
} ngx_tracker_user_t;


typedef struct {
    int64_t                      id;
    u_char                       hash[NGX_TRACKER_HASH_LEN];  /* swarm key */
    int16_t                      dl_percent;
    int16_t                      ul_percent;
    unsigned                     approved:1;
} ngx_tracker_torrent_info_t;


typedef struct {
    uint64_t                     uploaded;
    uint64_t                     downloaded;
    uint32_t                     seen;          /* unix time; 0: never */
    uint32_t                     jpos;          /* its journal record + 1 */
    uint32_t                     written;       /* its peers row, last */
    unsigned                     seeder:1;
    unsigned                     completed:1;
} ngx_tracker_peer_state_t;

/* what the zone stores of it; the two flags go in the entry's header */
typedef struct {
    uint64_t                     uploaded;
    uint64_t                     downloaded;
    uint32_t                     seen;
    uint32_t                     jpos;
} ngx_tracker_peer_value_t;

/*
 * Runs under the zone lock with the peer's previous state (prev->seen 0:
 * first sight) and its new one, whose jpos it sets.
 */
typedef void (*ngx_tracker_peer_update_pt)(void *data,
    ngx_tracker_peer_state_t *prev, ngx_tracker_peer_state_t *now);


/*
 * An entry is this header, then its value (the kind's struct), then its
 * key, all in one slab chunk: a peer state (24-byte value, 36-byte key)
 * fits the 128-byte slot, as do users and torrents.
 */
typedef struct ngx_tracker_entry_s  ngx_tracker_entry_t;

struct ngx_tracker_entry_s {
    ngx_tracker_entry_t         *next;          /* in its hash bucket */
    ngx_queue_t                  lru;
    uint32_t                     hash;
    uint32_t                     expires;
    u_char                       kind;
    u_char                       flags;
    u_char                       keylen;
    /*
     * Users and torrents: the low byte of the time of a refresh.  Peers:
     * seconds from when their row was last written to "seen" (under
     * peer_refresh, so a byte holds it).
     */
    u_char                       refreshed;
    u_char                       touched;       /* low byte of the time */
    u_char                       data[1];
};

#define NGX_TRACKER_ENTRY_FOUND       0x01    /* 0: a negative entry */
#define NGX_TRACKER_ENTRY_REFRESHING  0x02
#define NGX_TRACKER_ENTRY_SEEDER      0x04    /* peer states */
#define NGX_TRACKER_ENTRY_COMPLETED   0x08


/*
 * One accounting delta: one announce of one peer, or several merged (under
 * the same multipliers and in the same role).  120 bytes: the journal's
 * size in a zone is documented per record.
 */
typedef struct {
    int64_t                      user_id;
    int64_t                      torrent_id;
    uint64_t                     raw_uploaded;    /* growth, as reported */
    uint64_t                     raw_downloaded;
    uint64_t                     left;
    uint64_t                     client_up;       /* as the client said */
    uint64_t                     client_down;
    uint32_t                     ul_percent;      /* credit: raw * % / 100 */
    uint32_t                     dl_percent;
    uint32_t                     time;            /* seconds in its role */
    uint32_t                     at;
    uint32_t                     seeders;
    uint32_t                     leechers;
    u_char                       peer_id[NGX_TRACKER_HASH_LEN];
    u_char                       addr[16];
    uint16_t                     port;            /* host order */
    u_char                       family:1;
    u_char                       event:2;
    u_char                       seeding:1;       /* time is seed time */
    u_char                       fresh:1;         /* peer new to the cache */
    u_char                       write_peer:1;    /* its row is due */
} ngx_tracker_delta_t;


/* under the zone's lock (ngx_tracker_cache_t's shpool mutex) */
typedef struct {
    ngx_tracker_delta_t         *records;
    uint64_t                     capacity;
    uint64_t                     head;       /* oldest not yet in the db */
    uint64_t                     tail;       /* next free slot */

    /* the batch being written: retried as is until it lands */
    int64_t                      last_batch_id;
    int64_t                      batch_id;
    uint64_t                     batch_end;
    time_t                       flushing;   /* since when; 0: nobody */

    ngx_atomic_t                 appended;
    ngx_atomic_t                 merged;     /* into a pending record */
    ngx_atomic_t                 dropped;
    ngx_atomic_t                 flushed;
    ngx_atomic_t                 batches;
    ngx_atomic_t                 replayed;   /* batches the db had already */
    ngx_atomic_t                 flush_failures;
    ngx_atomic_t                 last_flush_ms;
} ngx_tracker_journal_t;


typedef struct {
    /*
     * A hash table, about one bucket per entry the zone can hold: a
     * lookup touches a bucket and a chain of one or two entries (a tree
     * of a million peers cost twenty cache misses per lookup).
     */
    ngx_tracker_entry_t        **buckets;
    ngx_uint_t                   mask;
    ngx_queue_t                  lru;

    /* site-wide events (freeleech, double upload), refreshed together */
    ngx_int_t                    dl_percent;
    ngx_int_t                    ul_percent;

    ngx_uint_t                   entries[4];
    ngx_atomic_t                 hits;
    ngx_atomic_t                 misses;
    ngx_atomic_t                 negative_hits;
    ngx_atomic_t                 stale_hits;
    ngx_atomic_t                 evictions;
    ngx_atomic_t                 invalidations;
    ngx_atomic_t                 resyncs;

    ngx_tracker_journal_t        journal;
} ngx_tracker_cache_sh_t;


typedef struct {
    ngx_tracker_cache_sh_t      *sh;
    ngx_slab_pool_t             *shpool;
    ngx_shm_zone_t              *shm_zone;
    ngx_uint_t                   journal_size;
    time_t                       ttl;
    time_t                       negative_ttl;
    time_t                       peer_timeout;
    time_t                       peer_refresh;  /* peers rows, at most */
} ngx_tracker_cache_t;


ngx_int_t ngx_tracker_cache_init_zone(ngx_shm_zone_t *shm_zone, void *data);

/*
 * Lookups copy the entry out under the lock.  NGX_OK: found (positive or
 * negative, see *found); NGX_DECLINED: not cached.  *stale is set when the
 * entry is past its TTL and the caller should refresh it (only one caller
 * per entry is told so at a time).
 */
ngx_int_t ngx_tracker_cache_user(ngx_tracker_cache_t *cache, ngx_str_t *key,
    ngx_tracker_user_t *user, ngx_uint_t *found, ngx_uint_t *stale);
ngx_int_t ngx_tracker_cache_torrent(ngx_tracker_cache_t *cache, u_char *hash,
    ngx_tracker_torrent_info_t *t, ngx_uint_t *found, ngx_uint_t *stale);

/* stores an answer from the database (user/t NULL: a negative entry) */
void ngx_tracker_cache_put_user(ngx_tracker_cache_t *cache, ngx_str_t *key,
    ngx_tracker_user_t *user);
void ngx_tracker_cache_put_torrent(ngx_tracker_cache_t *cache, u_char *hash,
    ngx_tracker_torrent_info_t *t);

void ngx_tracker_cache_invalidate(ngx_tracker_cache_t *cache,
    ngx_uint_t kind, u_char *key, size_t len);
/* drops every user and torrent entry (peer states stay) */
void ngx_tracker_cache_flush(ngx_tracker_cache_t *cache);

/*
 * The peer-state step of accounting, under the zone lock: finds or creates
 * the peer's state, calls update with the previous and the new one, and
 * stores the new one (stopped: removes it).
 */
ngx_int_t ngx_tracker_cache_peer(ngx_tracker_cache_t *cache, u_char *key,
    ngx_tracker_peer_state_t *now, ngx_uint_t stopped,
    ngx_tracker_peer_update_pt update, void *data);

/* expires old peer states; bounded work per call */
void ngx_tracker_cache_sweep(ngx_tracker_cache_t *cache, ngx_uint_t max);


#endif /* _NGX_TRACKER_CACHE_H_INCLUDED_ */
