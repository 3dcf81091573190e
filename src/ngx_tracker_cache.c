
/*
 * ngx_tracker: the private tracker's shared-memory cache (see the header).
 *
 * All entries sit in one tree under the slab pool's mutex; each operation
 * is a lookup plus a few stores, so the lock is held for microseconds.
 */

#include "ngx_tracker_cache.h"


/* the value's size per kind, rounded so that keys stay aligned */
static const size_t  ngx_tracker_entry_vsize[4] = {
    0,
    ngx_align(sizeof(ngx_tracker_user_t), 8),
    ngx_align(sizeof(ngx_tracker_torrent_info_t), 8),
    ngx_align(sizeof(ngx_tracker_peer_value_t), 8)
};

#define ngx_tracker_entry_key(e)                                              \
    ((e)->data + ngx_tracker_entry_vsize[(e)->kind])


static ngx_tracker_entry_t *ngx_tracker_cache_find(ngx_tracker_cache_t *cache,
    ngx_uint_t kind, u_char *key, size_t len, uint32_t hash);
static ngx_tracker_entry_t *ngx_tracker_cache_alloc(
    ngx_tracker_cache_t *cache, ngx_uint_t kind, u_char *key, size_t len);
static void ngx_tracker_cache_delete(ngx_tracker_cache_t *cache,
    ngx_tracker_entry_t *e);
static ngx_int_t ngx_tracker_cache_lookup(ngx_tracker_cache_t *cache,
    ngx_uint_t kind, u_char *key, size_t len, void *value, ngx_uint_t *found,
    ngx_uint_t *stale);
static void ngx_tracker_cache_put(ngx_tracker_cache_t *cache,
    ngx_uint_t kind, u_char *key, size_t len, void *value);


static uint32_t
ngx_tracker_cache_hash(ngx_uint_t kind, u_char *key, size_t len)
{
    return ngx_murmur_hash2(key, len) ^ (uint32_t) (kind * 0x9e3779b9);
}


/*
 * Moves an entry to the LRU's head at most once a second: the move writes
 * to both neighbours (two more cache misses), and a hot torrent or user
 * is looked up thousands of times a second.
 */
static ngx_inline void
ngx_tracker_cache_touch(ngx_tracker_cache_t *cache, ngx_tracker_entry_t *e,
    time_t now)
{
    if (e->touched != (u_char) now) {
        e->touched = (u_char) now;
        ngx_queue_remove(&e->lru);
        ngx_queue_insert_head(&cache->sh->lru, &e->lru);
    }
}


ngx_int_t
ngx_tracker_cache_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_tracker_cache_t  *ocache = data;

    size_t                 len, n, buckets;
    ngx_tracker_cache_t   *cache;
    ngx_tracker_journal_t *j;

    cache = shm_zone->data;

    if (ocache) {
        /* a reload: the caches, peer states and journal carry over */
        cache->sh = ocache->sh;
        cache->shpool = ocache->shpool;

        if (cache->journal_size != cache->sh->journal.capacity) {
            ngx_log_error(NGX_LOG_NOTICE, shm_zone->shm.log, 0,
                          "tracker private zone \"%V\": journal size stays "
                          "%uL until a restart", &shm_zone->shm.name,
                          cache->sh->journal.capacity);
        }

        return NGX_OK;
    }

    cache->shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        cache->sh = cache->shpool->data;
        return NGX_OK;
    }

    cache->sh = ngx_slab_calloc(cache->shpool, sizeof(ngx_tracker_cache_sh_t));
    if (cache->sh == NULL) {
        return NGX_ERROR;
    }

    cache->shpool->data = cache->sh;

    ngx_queue_init(&cache->sh->lru);

    cache->sh->dl_percent = 100;
    cache->sh->ul_percent = 100;

    j = &cache->sh->journal;

    j->capacity = cache->journal_size;
    j->records = ngx_slab_alloc(cache->shpool,
                                j->capacity * sizeof(ngx_tracker_delta_t));
    if (j->records == NULL) {
        ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0,
                      "tracker private zone \"%V\" is too small for a "
                      "journal of %uL records", &shm_zone->shm.name,
                      j->capacity);
        return NGX_ERROR;
    }

    /* a bucket per 128 bytes the journal leaves, rounded down to 2^n */
    n = (shm_zone->shm.size
         - j->capacity * sizeof(ngx_tracker_delta_t)) / 128;

    for (buckets = 1024; buckets * 2 <= n; buckets *= 2) { /* void */ }

    cache->sh->buckets = ngx_slab_calloc(cache->shpool,
                                         buckets * sizeof(void *));
    if (cache->sh->buckets == NULL) {
        return NGX_ERROR;
    }

    cache->sh->mask = buckets - 1;

    len = sizeof(" in tracker private zone \"\"") + shm_zone->shm.name.len;

    cache->shpool->log_ctx = ngx_slab_alloc(cache->shpool, len);
    if (cache->shpool->log_ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(cache->shpool->log_ctx, " in tracker private zone \"%V\"%Z",
                &shm_zone->shm.name);

    /* eviction handles a full zone; the slab need not complain */
    cache->shpool->log_nomem = 0;

    return NGX_OK;
}


static ngx_tracker_entry_t *
ngx_tracker_cache_find(ngx_tracker_cache_t *cache, ngx_uint_t kind,
    u_char *key, size_t len, uint32_t hash)
{
    ngx_tracker_entry_t  *e;

    for (e = cache->sh->buckets[hash & cache->sh->mask]; e; e = e->next) {
        if (e->hash == hash && e->kind == kind && e->keylen == len
            && ngx_memcmp(key, ngx_tracker_entry_key(e), len) == 0)
        {
            return e;
        }
    }

    return NULL;
}


/* allocates a new entry, evicting the least recently used when full */
static ngx_tracker_entry_t *
ngx_tracker_cache_alloc(ngx_tracker_cache_t *cache, ngx_uint_t kind,
    u_char *key, size_t len)
{
    size_t                 size;
    ngx_uint_t             i;
    ngx_queue_t           *q;
    ngx_tracker_entry_t   *e, **bucket;

    size = offsetof(ngx_tracker_entry_t, data) + ngx_tracker_entry_vsize[kind]
           + len;

    for (i = 0; i < 16; i++) {
        e = ngx_slab_alloc_locked(cache->shpool, size);
        if (e) {
            ngx_memzero(e, size - len);
            e->kind = (u_char) kind;
            e->keylen = (u_char) len;
            ngx_memcpy(ngx_tracker_entry_key(e), key, len);
            e->hash = ngx_tracker_cache_hash(kind, key, len);
            e->touched = (u_char) ngx_time();

            bucket = &cache->sh->buckets[e->hash & cache->sh->mask];
            e->next = *bucket;
            *bucket = e;
            ngx_queue_insert_head(&cache->sh->lru, &e->lru);
            cache->sh->entries[kind]++;

            return e;
        }

        if (ngx_queue_empty(&cache->sh->lru)) {
            return NULL;
        }

        q = ngx_queue_last(&cache->sh->lru);
        ngx_tracker_cache_delete(cache,
                                 ngx_queue_data(q, ngx_tracker_entry_t, lru));
        (void) ngx_atomic_fetch_add(&cache->sh->evictions, 1);
    }

    return NULL;
}


static void
ngx_tracker_cache_delete(ngx_tracker_cache_t *cache, ngx_tracker_entry_t *e)
{
    ngx_tracker_entry_t  **p;

    for (p = &cache->sh->buckets[e->hash & cache->sh->mask];
         *p != e;
         p = &(*p)->next)
    { /* void */ }

    *p = e->next;

    ngx_queue_remove(&e->lru);
    cache->sh->entries[e->kind]--;
    ngx_slab_free_locked(cache->shpool, e);
}


static ngx_int_t
ngx_tracker_cache_lookup(ngx_tracker_cache_t *cache, ngx_uint_t kind,
    u_char *key, size_t len, void *value, ngx_uint_t *found,
    ngx_uint_t *stale)
{
    time_t                now;
    uint32_t              hash;
    ngx_uint_t            expired;
    ngx_tracker_entry_t  *e;

    now = ngx_time();
    *stale = 0;

    /* the bucket's line is on its way while the lock is taken */
    hash = ngx_tracker_cache_hash(kind, key, len);
    ngx_tracker_prefetch(&cache->sh->buckets[hash & cache->sh->mask]);

    ngx_shmtx_lock(&cache->shpool->mutex);

    e = ngx_tracker_cache_find(cache, kind, key, len, hash);

    if (e == NULL) {
        ngx_shmtx_unlock(&cache->shpool->mutex);
        (void) ngx_atomic_fetch_add(&cache->sh->misses, 1);
        return NGX_DECLINED;
    }

    ngx_tracker_cache_touch(cache, e, now);

    expired = ((time_t) e->expires <= now);

    /* one refresher at a time; a refresh that never came back is retried */
    if (expired
        && (!(e->flags & NGX_TRACKER_ENTRY_REFRESHING)
            || (u_char) (now - e->refreshed) >= 10))
    {
        e->flags |= NGX_TRACKER_ENTRY_REFRESHING;
        e->refreshed = (u_char) now;
        *stale = 1;
    }

    *found = e->flags & NGX_TRACKER_ENTRY_FOUND;
    ngx_memcpy(value, e->data, ngx_tracker_entry_vsize[kind]);

    ngx_shmtx_unlock(&cache->shpool->mutex);

    if (!*found) {
        (void) ngx_atomic_fetch_add(&cache->sh->negative_hits, 1);

    } else if (expired) {
        (void) ngx_atomic_fetch_add(&cache->sh->stale_hits, 1);

    } else {
        (void) ngx_atomic_fetch_add(&cache->sh->hits, 1);
    }

    return NGX_OK;
}


/* value NULL: a negative entry */
static void
ngx_tracker_cache_put(ngx_tracker_cache_t *cache, ngx_uint_t kind,
    u_char *key, size_t len, void *value)
{
    ngx_tracker_entry_t  *e;

    ngx_shmtx_lock(&cache->shpool->mutex);

    e = ngx_tracker_cache_find(cache, kind, key, len,
                               ngx_tracker_cache_hash(kind, key, len));

    if (e == NULL) {
        e = ngx_tracker_cache_alloc(cache, kind, key, len);
    }

    if (e) {
        e->flags = value ? NGX_TRACKER_ENTRY_FOUND : 0;
        /*
         * Positive entries end within the last quarter of ttl: the
         * torrents a warm-up loaded together then come due over minutes,
         * not as one burst of refreshes.
         */
        e->expires = (uint32_t) (ngx_time()
                                 + (value ? cache->ttl
                                            - (time_t) ngx_random()
                                              % (cache->ttl / 4 + 1)
                                          : cache->negative_ttl));
        if (value) {
            ngx_memcpy(e->data, value, ngx_tracker_entry_vsize[kind]);
        }
    }

    ngx_shmtx_unlock(&cache->shpool->mutex);
}


ngx_int_t
ngx_tracker_cache_user(ngx_tracker_cache_t *cache, ngx_str_t *key,
    ngx_tracker_user_t *user, ngx_uint_t *found, ngx_uint_t *stale)
{
    u_char  value[ngx_align(sizeof(ngx_tracker_user_t), 8)];

    if (key->len > 255) {
        *found = 0;
        *stale = 0;
        return NGX_OK;
    }

    if (ngx_tracker_cache_lookup(cache, NGX_TRACKER_ENTRY_USER, key->data,
                                 key->len, value, found, stale)
        != NGX_OK)
    {
        return NGX_DECLINED;
    }

    ngx_memcpy(user, value, sizeof(ngx_tracker_user_t));

    return NGX_OK;
}


ngx_int_t
ngx_tracker_cache_torrent(ngx_tracker_cache_t *cache, u_char *hash,
    ngx_tracker_torrent_info_t *t, ngx_uint_t *found, ngx_uint_t *stale)
{
    u_char  value[ngx_align(sizeof(ngx_tracker_torrent_info_t), 8)];

    if (ngx_tracker_cache_lookup(cache, NGX_TRACKER_ENTRY_TORRENT, hash,
                                 NGX_TRACKER_HASH_LEN, value, found, stale)
        != NGX_OK)
    {
        return NGX_DECLINED;
    }

    ngx_memcpy(t, value, sizeof(ngx_tracker_torrent_info_t));

    return NGX_OK;
}


void
ngx_tracker_cache_put_user(ngx_tracker_cache_t *cache, ngx_str_t *key,
    ngx_tracker_user_t *user)
{
    u_char  value[ngx_align(sizeof(ngx_tracker_user_t), 8)];

    if (key->len > 255) {
        return;
    }

    if (user) {
        ngx_memzero(value, sizeof(value));
        ngx_memcpy(value, user, sizeof(ngx_tracker_user_t));
    }

    ngx_tracker_cache_put(cache, NGX_TRACKER_ENTRY_USER, key->data, key->len,
                          user ? value : NULL);
}


void
ngx_tracker_cache_put_torrent(ngx_tracker_cache_t *cache, u_char *hash,
    ngx_tracker_torrent_info_t *t)
{
    u_char  value[ngx_align(sizeof(ngx_tracker_torrent_info_t), 8)];

    if (t) {
        ngx_memzero(value, sizeof(value));
        ngx_memcpy(value, t, sizeof(ngx_tracker_torrent_info_t));
    }

    ngx_tracker_cache_put(cache, NGX_TRACKER_ENTRY_TORRENT, hash,
                          NGX_TRACKER_HASH_LEN, t ? value : NULL);
}


void
ngx_tracker_cache_invalidate(ngx_tracker_cache_t *cache, ngx_uint_t kind,
    u_char *key, size_t len)
{
    ngx_tracker_entry_t  *e;

    if (len > 255) {
        return;
    }

    ngx_shmtx_lock(&cache->shpool->mutex);

    e = ngx_tracker_cache_find(cache, kind, key, len,
                               ngx_tracker_cache_hash(kind, key, len));
    if (e) {
        ngx_tracker_cache_delete(cache, e);
    }

    ngx_shmtx_unlock(&cache->shpool->mutex);

    (void) ngx_atomic_fetch_add(&cache->sh->invalidations, 1);
}


void
ngx_tracker_cache_flush(ngx_tracker_cache_t *cache)
{
    ngx_queue_t          *q, *next;
    ngx_tracker_entry_t  *e;

    ngx_shmtx_lock(&cache->shpool->mutex);

    for (q = ngx_queue_head(&cache->sh->lru);
         q != ngx_queue_sentinel(&cache->sh->lru);
         q = next)
    {
        next = ngx_queue_next(q);
        e = ngx_queue_data(q, ngx_tracker_entry_t, lru);

        if (e->kind != NGX_TRACKER_ENTRY_PEER) {
            ngx_tracker_cache_delete(cache, e);
        }
    }

    ngx_shmtx_unlock(&cache->shpool->mutex);

    (void) ngx_atomic_fetch_add(&cache->sh->resyncs, 1);
}


ngx_int_t
ngx_tracker_cache_peer(ngx_tracker_cache_t *cache, u_char *key,
    ngx_tracker_peer_state_t *now, ngx_uint_t stopped,
    ngx_tracker_peer_update_pt update, void *data)
{
    uint32_t                    hash;
    ngx_tracker_entry_t        *e;
    ngx_tracker_peer_value_t    v;
    ngx_tracker_peer_state_t    prev;

    ngx_memzero(&prev, sizeof(ngx_tracker_peer_state_t));

    hash = ngx_tracker_cache_hash(NGX_TRACKER_ENTRY_PEER, key,
                                  NGX_TRACKER_PEER_KEY_LEN);
    ngx_tracker_prefetch(&cache->sh->buckets[hash & cache->sh->mask]);

    ngx_shmtx_lock(&cache->shpool->mutex);

    e = ngx_tracker_cache_find(cache, NGX_TRACKER_ENTRY_PEER, key,
                               NGX_TRACKER_PEER_KEY_LEN, hash);

    if (e) {
        ngx_memcpy(&v, e->data, sizeof(ngx_tracker_peer_value_t));
        prev.uploaded = v.uploaded;
        prev.downloaded = v.downloaded;
        prev.seen = v.seen;
        prev.jpos = v.jpos;
        prev.written = v.seen - e->refreshed;
        prev.seeder = (e->flags & NGX_TRACKER_ENTRY_SEEDER) ? 1 : 0;
        prev.completed = (e->flags & NGX_TRACKER_ENTRY_COMPLETED) ? 1 : 0;

        ngx_tracker_cache_touch(cache, e, now->seen);

    } else if (!stopped) {
        e = ngx_tracker_cache_alloc(cache, NGX_TRACKER_ENTRY_PEER, key,
                                    NGX_TRACKER_PEER_KEY_LEN);
        if (e == NULL) {
            ngx_shmtx_unlock(&cache->shpool->mutex);
            return NGX_ERROR;
        }
    }

    update(data, &prev, now);

    if (e && stopped) {
        ngx_tracker_cache_delete(cache, e);

    } else if (e) {
        v.uploaded = now->uploaded;
        v.downloaded = now->downloaded;
        v.seen = now->seen;
        v.jpos = now->jpos;
        ngx_memcpy(e->data, &v, sizeof(ngx_tracker_peer_value_t));

        e->refreshed = (u_char) ngx_min(now->seen - now->written, 255);

        /* a peer completes once; the flag outlives later announces */
        e->flags = NGX_TRACKER_ENTRY_FOUND
                   | (now->seeder ? NGX_TRACKER_ENTRY_SEEDER : 0)
                   | ((now->completed || prev.completed)
                      ? NGX_TRACKER_ENTRY_COMPLETED : 0);
        e->expires = now->seen + (uint32_t) cache->peer_timeout;
    }

    ngx_shmtx_unlock(&cache->shpool->mutex);

    return NGX_OK;
}


void
ngx_tracker_cache_sweep(ngx_tracker_cache_t *cache, ngx_uint_t max)
{
    time_t                now;
    ngx_uint_t            n;
    ngx_queue_t          *q, *prev;
    ngx_tracker_entry_t  *e;

    now = ngx_time();

    ngx_shmtx_lock(&cache->shpool->mutex);

    /* the LRU's tail holds the longest untouched entries */
    for (q = ngx_queue_last(&cache->sh->lru), n = 0;
         q != ngx_queue_sentinel(&cache->sh->lru) && n < max;
         q = prev, n++)
    {
        prev = ngx_queue_prev(q);
        e = ngx_queue_data(q, ngx_tracker_entry_t, lru);

        if (e->kind != NGX_TRACKER_ENTRY_PEER) {
            continue;
        }

        if ((time_t) e->expires > now) {
            break;
        }

        ngx_tracker_cache_delete(cache, e);
    }

    ngx_shmtx_unlock(&cache->shpool->mutex);
}
