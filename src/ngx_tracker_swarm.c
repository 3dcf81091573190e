
/*
 * ngx_tracker: swarms in a shared-memory zone (see ngx_tracker_swarm.h).
 */

#include "ngx_tracker_swarm.h"


#define ngx_tracker_rsize(family)                                             \
    ((family) == NGX_TRACKER_V4 ? NGX_TRACKER_PEER4_SIZE                      \
                                : NGX_TRACKER_PEER6_SIZE)

#define ngx_tracker_alen(family)  ((family) == NGX_TRACKER_V4 ? 4 : 16)

/* offsets inside a peer record */
#define NGX_TRACKER_REC_ADDR      NGX_TRACKER_HASH_LEN
#define ngx_tracker_rec_seen(rec, family)                                     \
    ((uint32_t *) ((rec) + ngx_tracker_rsize(family) - 4))


static void ngx_tracker_rbtree_insert(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel);
static ngx_tracker_torrent_t *ngx_tracker_torrent_find(
    ngx_tracker_shard_t *shard, u_char *hash);
static void ngx_tracker_torrent_purge(ngx_tracker_swarm_t *sw,
    ngx_tracker_shard_t *shard, ngx_tracker_torrent_t *t, uint32_t now);
static void ngx_tracker_torrent_free(ngx_tracker_swarm_t *sw,
    ngx_tracker_shard_t *shard, ngx_tracker_torrent_t *t);
static ngx_int_t ngx_tracker_plist_find(ngx_tracker_plist_t *l,
    size_t rsize, u_char *id, ngx_uint_t *pos);
static u_char *ngx_tracker_plist_insert(ngx_tracker_swarm_t *sw,
    ngx_tracker_plist_t *l, size_t rsize, ngx_uint_t pos);
static void ngx_tracker_plist_remove(ngx_tracker_plist_t *l, size_t rsize,
    ngx_uint_t pos);
static ngx_int_t ngx_tracker_plist_resize(ngx_tracker_swarm_t *sw,
    ngx_tracker_plist_t *l, size_t rsize, ngx_uint_t n);
static void ngx_tracker_select(ngx_tracker_torrent_t *t,
    ngx_tracker_announce_t *a);


static ngx_inline ngx_tracker_shard_t *
ngx_tracker_shard(ngx_tracker_swarm_t *sw, u_char *hash)
{
    return &sw->sh->shards[hash[0] >> (8 - NGX_TRACKER_SHARDS_BITS)];
}


static ngx_inline ngx_rbtree_key_t
ngx_tracker_hash_key(u_char *hash)
{
    return ((ngx_rbtree_key_t) hash[0] << 24) | (hash[1] << 16)
           | (hash[2] << 8) | hash[3];
}


ngx_int_t
ngx_tracker_swarm_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_tracker_swarm_t  *osw = data;

    ngx_uint_t            i;
    ngx_tracker_sh_t     *sh;
    ngx_tracker_shard_t  *shard;
    ngx_tracker_swarm_t  *sw;

    sw = shm_zone->data;

    if (osw) {
        /* reload: keep every peer, take the new configuration */
        sw->sh = osw->sh;
        sw->shpool = osw->shpool;
        sw->sh->peer_timeout = sw->peer_timeout;
        return NGX_OK;
    }

    sw->shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        sw->sh = sw->shpool->data;
        return NGX_OK;
    }

    sh = ngx_slab_calloc(sw->shpool, sizeof(ngx_tracker_sh_t));
    if (sh == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < NGX_TRACKER_SHARDS; i++) {
        shard = &sh->shards[i];

        if (ngx_shmtx_create(&shard->mutex, &shard->lock, NULL) != NGX_OK) {
            return NGX_ERROR;
        }

        ngx_rbtree_init(&shard->rbtree, &shard->sentinel,
                        ngx_tracker_rbtree_insert);
    }

    sh->peer_timeout = sw->peer_timeout;

    sw->sh = sh;
    sw->shpool->data = sh;

    /* a full zone is an expected state, answered and counted, not logged */
    sw->shpool->log_nomem = 0;

    return NGX_OK;
}


static void
ngx_tracker_rbtree_insert(ngx_rbtree_node_t *temp, ngx_rbtree_node_t *node,
    ngx_rbtree_node_t *sentinel)
{
    ngx_rbtree_node_t     **p;
    ngx_tracker_torrent_t  *t, *tt;

    for ( ;; ) {

        if (node->key != temp->key) {
            p = (node->key < temp->key) ? &temp->left : &temp->right;

        } else {
            t = (ngx_tracker_torrent_t *) node;
            tt = (ngx_tracker_torrent_t *) temp;

            p = (ngx_memcmp(t->info_hash, tt->info_hash, NGX_TRACKER_HASH_LEN)
                 < 0) ? &temp->left : &temp->right;
        }

        if (*p == sentinel) {
            break;
        }

        temp = *p;
    }

    *p = node;
    node->parent = temp;
    node->left = sentinel;
    node->right = sentinel;
    ngx_rbt_red(node);
}


static ngx_tracker_torrent_t *
ngx_tracker_torrent_find(ngx_tracker_shard_t *shard, u_char *hash)
{
    ngx_int_t               rc;
    ngx_rbtree_key_t        key;
    ngx_rbtree_node_t      *node, *sentinel;
    ngx_tracker_torrent_t  *t;

    key = ngx_tracker_hash_key(hash);
    node = shard->rbtree.root;
    sentinel = shard->rbtree.sentinel;

    while (node != sentinel) {

        if (key != node->key) {
            node = (key < node->key) ? node->left : node->right;
            continue;
        }

        t = (ngx_tracker_torrent_t *) node;
        rc = ngx_memcmp(hash, t->info_hash, NGX_TRACKER_HASH_LEN);

        if (rc == 0) {
            return t;
        }

        node = (rc < 0) ? node->left : node->right;
    }

    return NULL;
}


/* binary search by peer id; *pos is the match or the insertion point */
static ngx_int_t
ngx_tracker_plist_find(ngx_tracker_plist_t *l, size_t rsize, u_char *id,
    ngx_uint_t *pos)
{
    ngx_int_t   rc;
    ngx_uint_t  lo, hi, mid;

    lo = 0;
    hi = l->nelts;

    while (lo < hi) {
        mid = lo + (hi - lo) / 2;
        rc = ngx_memcmp(id, l->elts + mid * rsize, NGX_TRACKER_HASH_LEN);

        if (rc == 0) {
            *pos = mid;
            return 1;
        }

        if (rc < 0) {
            hi = mid;

        } else {
            lo = mid + 1;
        }
    }

    *pos = lo;

    return 0;
}


static ngx_int_t
ngx_tracker_plist_resize(ngx_tracker_swarm_t *sw, ngx_tracker_plist_t *l,
    size_t rsize, ngx_uint_t n)
{
    u_char  *elts;

    if (n && n > NGX_MAX_UINT32_VALUE / rsize) {
        return NGX_ERROR;
    }

    ngx_shmtx_lock(&sw->shpool->mutex);

    elts = (n == 0) ? NULL : ngx_slab_alloc_locked(sw->shpool, n * rsize);

    if (n && elts == NULL) {
        ngx_shmtx_unlock(&sw->shpool->mutex);
        return NGX_ERROR;
    }

    if (l->elts) {
        if (elts) {
            ngx_memcpy(elts, l->elts, l->nelts * rsize);
        }

        ngx_slab_free_locked(sw->shpool, l->elts);
    }

    ngx_shmtx_unlock(&sw->shpool->mutex);

    l->elts = elts;
    l->nalloc = (uint32_t) n;

    return NGX_OK;
}


static u_char *
ngx_tracker_plist_insert(ngx_tracker_swarm_t *sw, ngx_tracker_plist_t *l,
    size_t rsize, ngx_uint_t pos)
{
    u_char  *rec;

    if (l->nelts == l->nalloc) {
        if (ngx_tracker_plist_resize(sw, l, rsize,
                                     l->nalloc ? 2 * l->nalloc : 2)
            != NGX_OK)
        {
            return NULL;
        }
    }

    rec = l->elts + pos * rsize;
    ngx_memmove(rec + rsize, rec, (l->nelts - pos) * rsize);
    l->nelts++;

    return rec;
}


static void
ngx_tracker_plist_remove(ngx_tracker_plist_t *l, size_t rsize, ngx_uint_t pos)
{
    u_char  *rec;

    rec = l->elts + pos * rsize;
    ngx_memmove(rec, rec + rsize, (l->nelts - pos - 1) * rsize);
    l->nelts--;
}


/* drops expired peers and gives back memory of lists that shrank */
static void
ngx_tracker_torrent_purge(ngx_tracker_swarm_t *sw, ngx_tracker_shard_t *shard,
    ngx_tracker_torrent_t *t, uint32_t now)
{
    u_char               *r, *w, *end;
    size_t                rsize;
    uint32_t              deadline;
    ngx_uint_t            i, family, n, dropped;
    ngx_tracker_plist_t  *l;

    t->purged = now;
    deadline = now - (uint32_t) sw->sh->peer_timeout;
    dropped = 0;

    for (i = 0; i < 4; i++) {
        l = &t->peers[i];

        family = i >> 1;
        rsize = ngx_tracker_rsize(family);

        if (l->nelts == 0) {
            if (l->elts) {
                (void) ngx_tracker_plist_resize(sw, l, rsize, 0);
            }

            continue;
        }
        end = l->elts + l->nelts * rsize;

        for (r = l->elts, w = l->elts; r < end; r += rsize) {
            if ((int32_t) (*ngx_tracker_rec_seen(r, family) - deadline) < 0) {
                continue;
            }

            if (w != r) {
                ngx_memcpy(w, r, rsize);
            }

            w += rsize;
        }

        n = (w - l->elts) / rsize;

        if (n != l->nelts) {
            dropped += l->nelts - n;
            shard->peers[i] -= l->nelts - n;
            l->nelts = (uint32_t) n;
        }

        /* halve a list that is three quarters empty; a failure is harmless */
        if (n == 0) {
            (void) ngx_tracker_plist_resize(sw, l, rsize, 0);

        } else if (l->nalloc >= 8 && n <= l->nalloc / 4) {
            (void) ngx_tracker_plist_resize(sw, l, rsize, l->nalloc / 2);
        }
    }

    if (dropped) {
        (void) ngx_atomic_fetch_add(&sw->sh->expired, dropped);
    }
}


static void
ngx_tracker_torrent_free(ngx_tracker_swarm_t *sw, ngx_tracker_shard_t *shard,
    ngx_tracker_torrent_t *t)
{
    ngx_uint_t  i;

    ngx_rbtree_delete(&shard->rbtree, &t->node);
    shard->torrents--;

    ngx_shmtx_lock(&sw->shpool->mutex);

    for (i = 0; i < 4; i++) {
        shard->peers[i] -= t->peers[i].nelts;

        if (t->peers[i].elts) {
            ngx_slab_free_locked(sw->shpool, t->peers[i].elts);
        }
    }

    ngx_slab_free_locked(sw->shpool, t);

    ngx_shmtx_unlock(&sw->shpool->mutex);
}


ngx_tracker_err_e
ngx_tracker_swarm_announce(ngx_tracker_swarm_t *sw, ngx_tracker_announce_t *a)
{
    u_char                 *rec;
    size_t                  rsize, alen;
    uint32_t                now;
    ngx_int_t               found;
    ngx_uint_t              pos, from, to, created;
    ngx_tracker_shard_t    *shard;
    ngx_tracker_plist_t    *l;
    ngx_tracker_torrent_t  *t;
    ngx_tracker_err_e       rc;

    now = (uint32_t) ngx_time();
    rsize = ngx_tracker_rsize(a->family);
    alen = ngx_tracker_alen(a->family);
    shard = ngx_tracker_shard(sw, a->info_hash);

    a->nout[0] = 0;
    a->nout[1] = 0;
    a->complete = 0;
    a->incomplete = 0;
    a->downloaded = 0;

    rc = NGX_TRACKER_OK;
    created = 0;

    ngx_shmtx_lock(&shard->mutex);

    t = ngx_tracker_torrent_find(shard, a->info_hash);

    if (t == NULL) {

        if (a->event == NGX_TRACKER_EVENT_STOPPED) {
            goto done;
        }

        ngx_shmtx_lock(&sw->shpool->mutex);
        t = ngx_slab_calloc_locked(sw->shpool, sizeof(ngx_tracker_torrent_t));
        ngx_shmtx_unlock(&sw->shpool->mutex);

        if (t == NULL) {
            rc = NGX_TRACKER_ERR_ZONE_FULL;
            goto done;
        }

        ngx_memcpy(t->info_hash, a->info_hash, NGX_TRACKER_HASH_LEN);
        t->node.key = ngx_tracker_hash_key(a->info_hash);
        t->purged = now;
        ngx_rbtree_insert(&shard->rbtree, &t->node);
        shard->torrents++;
        created = 1;

    } else if (t->purged != now) {
        ngx_tracker_torrent_purge(sw, shard, t, now);
    }

    /* where is the peer now, and where does it belong */
    from = NGX_TRACKER_SEEDERS(a->family);
    l = &t->peers[from];
    found = ngx_tracker_plist_find(l, rsize, a->peer_id, &pos);

    if (!found) {
        from = NGX_TRACKER_LEECHERS(a->family);
        l = &t->peers[from];
        found = ngx_tracker_plist_find(l, rsize, a->peer_id, &pos);
    }

    to = a->seeder ? NGX_TRACKER_SEEDERS(a->family)
                   : NGX_TRACKER_LEECHERS(a->family);

    if (a->event == NGX_TRACKER_EVENT_STOPPED) {

        /* only the peer's own address may remove it */
        if (found
            && ngx_memcmp(l->elts + pos * rsize + NGX_TRACKER_REC_ADDR,
                          a->addr, alen) == 0)
        {
            ngx_tracker_plist_remove(l, rsize, pos);
            shard->peers[from]--;
        }

        goto counts;
    }

    if (found && from != to) {
        /* insert first, so that a full zone leaves the peer where it was */
        l = &t->peers[to];
        (void) ngx_tracker_plist_find(l, rsize, a->peer_id, &pos);
        rec = ngx_tracker_plist_insert(sw, l, rsize, pos);

        if (rec == NULL) {
            rc = NGX_TRACKER_ERR_ZONE_FULL;
            goto counts;
        }

        (void) ngx_tracker_plist_find(&t->peers[from], rsize, a->peer_id,
                                      &pos);
        ngx_tracker_plist_remove(&t->peers[from], rsize, pos);
        shard->peers[from]--;
        shard->peers[to]++;

    } else if (found) {
        rec = l->elts + pos * rsize;

    } else {
        l = &t->peers[to];
        (void) ngx_tracker_plist_find(l, rsize, a->peer_id, &pos);
        rec = ngx_tracker_plist_insert(sw, l, rsize, pos);

        if (rec == NULL) {
            rc = NGX_TRACKER_ERR_ZONE_FULL;
            goto counts;
        }

        shard->peers[to]++;
    }

    /* a download counts once: when a peer that was not seeding completes */
    if (a->event == NGX_TRACKER_EVENT_COMPLETED
        && !(found && from == NGX_TRACKER_SEEDERS(a->family)))
    {
        t->downloaded++;
    }

    ngx_memcpy(rec, a->peer_id, NGX_TRACKER_HASH_LEN);
    ngx_memcpy(rec + NGX_TRACKER_REC_ADDR, a->addr, alen);
    ngx_memcpy(rec + NGX_TRACKER_REC_ADDR + alen, &a->port, 2);
    rec[NGX_TRACKER_REC_ADDR + alen + 2] = 0;
    rec[NGX_TRACKER_REC_ADDR + alen + 3] = 0;
    *ngx_tracker_rec_seen(rec, a->family) = now;
    t->active = now;

    if (a->numwant) {
        ngx_tracker_select(t, a);
    }

counts:

    if (rc != NGX_TRACKER_OK && created) {
        ngx_tracker_torrent_free(sw, shard, t);
        goto done;
    }

    a->complete = ngx_tracker_seeders(t);
    a->incomplete = ngx_tracker_leechers(t);
    a->downloaded = t->downloaded;

done:

    ngx_shmtx_unlock(&shard->mutex);

    return rc;
}


/*
 * Picks up to numwant peers, the requester's address family first.  Within
 * a family the candidate lists (leechers only for a seeder, seeders then
 * leechers for a leecher) are walked as one array from a random offset, so
 * every peer has the same chance and the walk stays sequential in memory.
 */
static void
ngx_tracker_select(ngx_tracker_torrent_t *t, ngx_tracker_announce_t *a)
{
    u_char               *rec, *out, *ids;
    size_t                rsize, clen;
    ngx_uint_t            f, k, family, total, start, idx, want, got;
    ngx_tracker_plist_t  *lists[2];

    want = a->numwant;

    for (k = 0; k < 2 && want; k++) {

        family = (k == 0) ? a->family : !a->family;

        if (a->out[family] == NULL) {
            continue;
        }
        rsize = ngx_tracker_rsize(family);
        clen = ngx_tracker_alen(family) + 2;

        /* a seeder is sent leechers only */
        lists[0] = &t->peers[NGX_TRACKER_LEECHERS(family)];
        lists[1] = &t->peers[NGX_TRACKER_SEEDERS(family)];

        total = lists[0]->nelts + (a->seeder ? 0 : lists[1]->nelts);

        if (total == 0) {
            continue;
        }

        out = a->out[family];
        ids = a->ids[family];
        start = (ngx_uint_t) ngx_random() % total;
        got = 0;

        for (f = 0; f < total && got < want; f++) {
            idx = (start + f) % total;

            if (idx < lists[0]->nelts) {
                rec = lists[0]->elts + idx * rsize;

            } else {
                rec = lists[1]->elts + (idx - lists[0]->nelts) * rsize;
            }

            if (family == a->family
                && ngx_memcmp(rec, a->peer_id, NGX_TRACKER_HASH_LEN) == 0)
            {
                continue;
            }

            ngx_memcpy(out, rec + NGX_TRACKER_REC_ADDR, clen);
            out += clen;

            if (ids) {
                ngx_memcpy(ids, rec, NGX_TRACKER_HASH_LEN);
                ids += NGX_TRACKER_HASH_LEN;
            }

            got++;
        }

        a->nout[family] = got;
        want -= got;
    }
}


void
ngx_tracker_swarm_scrape(ngx_tracker_swarm_t *sw, ngx_tracker_scrape_entry_t *e)
{
    ngx_tracker_shard_t    *shard;
    ngx_tracker_torrent_t  *t;

    shard = ngx_tracker_shard(sw, e->info_hash);

    e->complete = 0;
    e->incomplete = 0;
    e->downloaded = 0;

    ngx_shmtx_lock(&shard->mutex);

    t = ngx_tracker_torrent_find(shard, e->info_hash);

    if (t) {
        if (t->purged != (uint32_t) ngx_time()) {
            ngx_tracker_torrent_purge(sw, shard, t, (uint32_t) ngx_time());
        }

        e->complete = ngx_tracker_seeders(t);
        e->incomplete = ngx_tracker_leechers(t);
        e->downloaded = t->downloaded;
    }

    ngx_shmtx_unlock(&shard->mutex);
}


ngx_int_t
ngx_tracker_swarm_scrape_shard(ngx_tracker_swarm_t *sw, ngx_uint_t i,
    ngx_pool_t *pool, ngx_tracker_scrape_entry_t **entries, ngx_uint_t *n)
{
    ngx_uint_t                   k;
    ngx_rbtree_node_t           *node;
    ngx_tracker_shard_t         *shard;
    ngx_tracker_torrent_t       *t;
    ngx_tracker_scrape_entry_t  *e;

    shard = &sw->sh->shards[i];
    *n = 0;
    *entries = NULL;

    ngx_shmtx_lock(&shard->mutex);

    if (shard->torrents == 0) {
        ngx_shmtx_unlock(&shard->mutex);
        return NGX_OK;
    }

    /* a pool allocation under a shard lock: no I/O, and bounded */
    e = ngx_pnalloc(pool, shard->torrents * sizeof(ngx_tracker_scrape_entry_t));
    if (e == NULL) {
        ngx_shmtx_unlock(&shard->mutex);
        return NGX_ERROR;
    }

    k = 0;

    for (node = ngx_rbtree_min(shard->rbtree.root, shard->rbtree.sentinel);
         node;
         node = ngx_rbtree_next(&shard->rbtree, node))
    {
        t = (ngx_tracker_torrent_t *) node;

        ngx_memcpy(e[k].info_hash, t->info_hash, NGX_TRACKER_HASH_LEN);
        e[k].complete = ngx_tracker_seeders(t);
        e[k].incomplete = ngx_tracker_leechers(t);
        e[k].downloaded = t->downloaded;
        k++;
    }

    ngx_shmtx_unlock(&shard->mutex);

    *entries = e;
    *n = k;

    return NGX_OK;
}


void
ngx_tracker_swarm_sweep(ngx_tracker_swarm_t *sw)
{
    uint32_t                now;
    ngx_uint_t              i, k;
    ngx_rbtree_node_t      *node, *next;
    ngx_tracker_shard_t    *shard;
    ngx_tracker_torrent_t  *t;

    now = (uint32_t) ngx_time();
    i = ngx_atomic_fetch_add(&sw->sh->sweep_cursor, 1) % NGX_TRACKER_SHARDS;
    shard = &sw->sh->shards[i];

    ngx_shmtx_lock(&shard->mutex);

    if (shard->torrents == 0) {
        ngx_shmtx_unlock(&shard->mutex);
        return;
    }

    node = ngx_rbtree_min(shard->rbtree.root, shard->rbtree.sentinel);

    while (node) {
        next = ngx_rbtree_next(&shard->rbtree, node);
        t = (ngx_tracker_torrent_t *) node;

        if (t->purged != now) {
            ngx_tracker_torrent_purge(sw, shard, t, now);
        }

        for (k = 0; k < 4; k++) {
            if (t->peers[k].nelts) {
                break;
            }
        }

        /*
         * An empty torrent stays one more timeout so that its download
         * count outlives a short quiet spell.
         */
        if (k == 4
            && (int32_t) (now - t->active) > (int32_t) sw->sh->peer_timeout)
        {
            ngx_tracker_torrent_free(sw, shard, t);
        }

        node = next;
    }

    ngx_shmtx_unlock(&shard->mutex);
}


void
ngx_tracker_swarm_stats(ngx_tracker_swarm_t *sw, ngx_tracker_swarm_stats_t *st)
{
    ngx_uint_t            i, k;
    ngx_slab_pool_t      *shpool;
    ngx_tracker_shard_t  *shard;

    ngx_memzero(st, sizeof(ngx_tracker_swarm_stats_t));

    /* word-sized reads without the locks: a snapshot, not a transaction */
    for (i = 0; i < NGX_TRACKER_SHARDS; i++) {
        shard = &sw->sh->shards[i];
        st->torrents += shard->torrents;

        for (k = 0; k < 4; k++) {
            st->peers[k] += shard->peers[k];
        }
    }

    shpool = sw->shpool;

    st->zone_size = sw->shm_zone->shm.size;
    st->free = shpool->pfree << ngx_pagesize_shift;
    st->used = (shpool->end - shpool->start) - st->free;
}
