
/*
 * ngx_tracker: a journal batch folded for tracker_flush_totals() and
 * tracker_flush_peers() (sql/018_tracker_peers.sql).
 *
 * Folding here costs a hash lookup per record; in the database it cost a
 * grouping, a sort and a window over every record, and the text arrays
 * cost more to parse than to apply.  The rules are those of
 * tracker_apply_batch() (sql/017_tracker_flush.sql), which folds in SQL.
 */

#include "ngx_tracker_flush.h"


/* PostgreSQL's type oids of the array elements (pg_type.dat) */
#define NGX_TRACKER_OID_BYTEA   17
#define NGX_TRACKER_OID_INT8    20
#define NGX_TRACKER_OID_INT4    23
#define NGX_TRACKER_OID_TEXT    25

/*
 * The parameters, in tracker_apply_flush()'s order: those of
 * tracker_flush_totals(), then those of tracker_flush_peers().
 */
enum {
    NGX_TRACKER_P_BATCH = 0,
    NGX_TRACKER_P_USER,
    NGX_TRACKER_P_TORRENT,
    NGX_TRACKER_P_ROWS,
    NGX_TRACKER_P_UP,
    NGX_TRACKER_P_DOWN,
    NGX_TRACKER_P_RAW_UP,
    NGX_TRACKER_P_RAW_DOWN,
    NGX_TRACKER_P_UP_TIME,
    NGX_TRACKER_P_DOWN_TIME,
    NGX_TRACKER_P_FIRST,
    NGX_TRACKER_P_LAST,
    NGX_TRACKER_P_COMPLETED,
    NGX_TRACKER_P_SEEDERS,
    NGX_TRACKER_P_LEECHERS,
    NGX_TRACKER_P_SEQ,
    NGX_TRACKER_P_PEER_TORRENT,
    NGX_TRACKER_P_PEER_USER,
    NGX_TRACKER_P_PEER,
    NGX_TRACKER_P_IP,
    NGX_TRACKER_P_PORT,
    NGX_TRACKER_P_PEER_UP,
    NGX_TRACKER_P_PEER_DOWN,
    NGX_TRACKER_P_LEFT,
    NGX_TRACKER_P_SINCE,
    NGX_TRACKER_P_AT,
    NGX_TRACKER_P_RESTARTED,
    NGX_TRACKER_P_STOP_TORRENT,
    NGX_TRACKER_P_STOP_USER,
    NGX_TRACKER_P_STOP_PEER
};


const char  *ngx_tracker_flush_totals_sql =
    "SELECT tracker_flush_totals($1::bigint, $2::bigint[], $3::bigint[], "
    "$4::int[], $5::bigint[], $6::bigint[], $7::bigint[], $8::bigint[], "
    "$9::bigint[], $10::bigint[], $11::bigint[], $12::bigint[], "
    "$13::bigint[], $14::int[], $15::int[], $16::int[])";

/* the client's own counters: idempotent, so no batch id */
const char  *ngx_tracker_flush_peers_sql =
    "SELECT tracker_flush_peers(false, $1::bigint[], $2::bigint[], "
    "$3::bytea[], $4::text[], $5::int[], $6::bigint[], $7::bigint[], "
    "$8::bigint[], $9::bigint[], $10::bigint[], $11::int, $12::bigint[], "
    "$13::bigint[], $14::bytea[])";


typedef struct {
    int64_t                      user_id;
    int64_t                      torrent_id;
    uint64_t                     up;
    uint64_t                     down;
    uint64_t                     raw_up;
    uint64_t                     raw_down;
    uint64_t                     up_time;
    uint64_t                     down_time;
    uint32_t                     first;
    uint32_t                     last;
    uint32_t                     completed;
    uint32_t                     seeders;
    uint32_t                     leechers;
    uint32_t                     seq;
    uint32_t                     rows;
} ngx_tracker_fold_pair_t;


typedef struct {
    ngx_tracker_delta_t         *last;      /* address, counters, left, at */
    uint32_t                     since;
    unsigned                     restarted:1;
    unsigned                     stopped:1;
    unsigned                     write:1;
} ngx_tracker_fold_peer_t;


/* the credit of a growth under a multiplier */
static uint64_t
ngx_tracker_scale(uint64_t bytes, uint32_t percent)
{
    if (percent == 0) {
        return 0;
    }

    if (bytes <= (uint64_t) -1 / percent) {
        return bytes * percent / 100;
    }

    /* counters no client reaches: no overflow, saturated at worst */
    bytes /= 100;

    return (bytes <= (uint64_t) -1 / percent) ? bytes * percent
                                               : (uint64_t) -1;
}


static u_char *
ngx_tracker_put32(u_char *p, uint32_t v)
{
    *p++ = (u_char) (v >> 24);
    *p++ = (u_char) (v >> 16);
    *p++ = (u_char) (v >> 8);
    *p++ = (u_char) v;

    return p;
}


static u_char *
ngx_tracker_put_int8(u_char *p, uint64_t v)
{
    /* counters a client made up beyond bigint are cut, not wrapped */
    if (v > (uint64_t) INT64_MAX) {
        v = (uint64_t) INT64_MAX;
    }

    p = ngx_tracker_put32(p, 8);
    p = ngx_tracker_put32(p, (uint32_t) (v >> 32));

    return ngx_tracker_put32(p, (uint32_t) v);
}


static u_char *
ngx_tracker_put_int4(u_char *p, uint32_t v)
{
    if (v > (uint32_t) INT32_MAX) {
        v = (uint32_t) INT32_MAX;
    }

    p = ngx_tracker_put32(p, 4);

    return ngx_tracker_put32(p, v);
}


static u_char *
ngx_tracker_put_bytes(u_char *p, u_char *data, size_t len)
{
    p = ngx_tracker_put32(p, (uint32_t) len);

    return ngx_cpymem(p, data, len);
}


/*
 * A one-dimensional array of n elements of at most elem bytes each: the
 * header is written, *pos is where the elements go.
 */
static ngx_int_t
ngx_tracker_array(ngx_pool_t *pool, ngx_tracker_flush_params_t *p,
    u_char **pos, ngx_uint_t col, uint32_t oid, ngx_uint_t n, size_t elem)
{
    u_char  *b;

    b = ngx_pnalloc(pool, 20 + n * (4 + elem));
    if (b == NULL) {
        return NGX_ERROR;
    }

    p->values[col] = (const char *) b;
    p->formats[col] = 1;

    b = ngx_tracker_put32(b, n ? 1 : 0);        /* dimensions */
    b = ngx_tracker_put32(b, 0);                /* no NULLs */
    b = ngx_tracker_put32(b, oid);

    if (n) {
        b = ngx_tracker_put32(b, (uint32_t) n);
        b = ngx_tracker_put32(b, 1);            /* lower bound */
    }

    pos[col] = b;

    return NGX_OK;
}


static ngx_tracker_fold_pair_t *
ngx_tracker_fold_pair(ngx_tracker_fold_pair_t *pairs, ngx_uint_t *npairs,
    uint32_t *slots, ngx_uint_t mask, ngx_tracker_delta_t *d)
{
    u_char                    key[16];
    uint32_t                  k;
    ngx_uint_t                h;
    ngx_tracker_fold_pair_t  *q;

    ngx_memcpy(key, &d->user_id, 8);
    ngx_memcpy(key + 8, &d->torrent_id, 8);

    for (h = ngx_murmur_hash2(key, 16) & mask; (k = slots[h]); h++, h &= mask)
    {
        q = &pairs[k - 1];

        if (q->user_id == d->user_id && q->torrent_id == d->torrent_id) {
            return q;
        }
    }

    q = &pairs[(*npairs)++];
    slots[h] = (uint32_t) *npairs;

    ngx_memzero(q, sizeof(ngx_tracker_fold_pair_t));
    q->user_id = d->user_id;
    q->torrent_id = d->torrent_id;
    q->first = d->at;
    q->last = d->at;

    return q;
}


static ngx_tracker_fold_peer_t *
ngx_tracker_fold_peer(ngx_tracker_fold_peer_t *peers, ngx_uint_t *npeers,
    uint32_t *slots, ngx_uint_t mask, ngx_tracker_delta_t *d)
{
    u_char                    key[16 + NGX_TRACKER_HASH_LEN];
    uint32_t                  k;
    ngx_uint_t                h;
    ngx_tracker_delta_t      *l;
    ngx_tracker_fold_peer_t  *pe;

    ngx_memcpy(key, &d->torrent_id, 8);
    ngx_memcpy(key + 8, &d->user_id, 8);
    ngx_memcpy(key + 16, d->peer_id, NGX_TRACKER_HASH_LEN);

    for (h = ngx_murmur_hash2(key, sizeof(key)) & mask;
         (k = slots[h]);
         h++, h &= mask)
    {
        pe = &peers[k - 1];
        l = pe->last;

        if (l->torrent_id == d->torrent_id && l->user_id == d->user_id
            && ngx_memcmp(l->peer_id, d->peer_id, NGX_TRACKER_HASH_LEN) == 0)
        {
            return pe;
        }
    }

    pe = &peers[(*npeers)++];
    slots[h] = (uint32_t) *npeers;

    ngx_memzero(pe, sizeof(ngx_tracker_fold_peer_t));
    pe->last = d;
    pe->since = d->at;

    return pe;
}


/* sessions begun first; then by the primary key of peers (019) */
static int
ngx_tracker_fold_peer_cmp(const void *one, const void *two)
{
    ngx_tracker_delta_t      *a, *b;
    ngx_tracker_fold_peer_t  *x, *y;

    x = *(ngx_tracker_fold_peer_t **) one;
    y = *(ngx_tracker_fold_peer_t **) two;

    if (x->restarted != y->restarted) {
        return x->restarted ? -1 : 1;
    }

    a = x->last;
    b = y->last;

    if (a->user_id != b->user_id) {
        return a->user_id < b->user_id ? -1 : 1;
    }

    if (a->torrent_id != b->torrent_id) {
        return a->torrent_id < b->torrent_id ? -1 : 1;
    }

    /* bytea compares as unsigned bytes, as memcmp does */
    return ngx_memcmp(a->peer_id, b->peer_id, NGX_TRACKER_HASH_LEN);
}


ngx_int_t
ngx_tracker_flush_fold(ngx_pool_t *pool, ngx_tracker_journal_t *j,
    uint64_t start, uint64_t end, int64_t batch_id,
    ngx_tracker_flush_params_t *p)
{
    u_char                   *pos[NGX_TRACKER_FLUSH_PARAMS], *b;
    size_t                    len;
    uint32_t                 *pslots, *eslots;
    uint64_t                  i;
    ngx_uint_t                n, size, npairs, npeers, nstop, nlive, nnew, k;
    ngx_tracker_delta_t      *d, *l;
    ngx_tracker_fold_pair_t  *pairs, *q;
    ngx_tracker_fold_peer_t  *peers, *pe, **live;

    n = (ngx_uint_t) (end - start);

    for (size = 16; size < 2 * n; size <<= 1) { /* void */ }

    pairs = ngx_palloc(pool, n * sizeof(ngx_tracker_fold_pair_t));
    peers = ngx_palloc(pool, n * sizeof(ngx_tracker_fold_peer_t));
    pslots = ngx_pcalloc(pool, size * sizeof(uint32_t));
    eslots = ngx_pcalloc(pool, size * sizeof(uint32_t));

    if (pairs == NULL || peers == NULL || pslots == NULL || eslots == NULL) {
        return NGX_ERROR;
    }

    npairs = 0;
    npeers = 0;

    for (i = start; i < end; i++) {
        d = &j->records[i % j->capacity];

        q = ngx_tracker_fold_pair(pairs, &npairs, pslots, size - 1, d);

        q->rows++;
        q->up += ngx_tracker_scale(d->raw_uploaded, d->ul_percent);
        q->down += ngx_tracker_scale(d->raw_downloaded, d->dl_percent);
        q->raw_up += d->raw_uploaded;
        q->raw_down += d->raw_downloaded;
        if (d->seeding) {
            q->up_time += d->time;

        } else {
            q->down_time += d->time;
        }
        q->first = ngx_min(q->first, d->at);
        q->last = ngx_max(q->last, d->at);

        if (d->event == 1 && (q->completed == 0 || d->at < q->completed)) {
            q->completed = d->at;
        }

        /* the torrent takes the counts of its latest announce */
        q->seeders = d->seeders;
        q->leechers = d->leechers;
        q->seq = (uint32_t) (i - start + 1);

        /*
         * A session begins with a started event, after a stop, or when
         * the tracker first sees the peer; its row then starts again.
         */
        pe = ngx_tracker_fold_peer(peers, &npeers, eslots, size - 1, d);

        if (d->event == 3) {
            pe->stopped = 1;

        } else if (d->event == 2 || d->fresh || pe->stopped) {
            pe->stopped = 0;
            pe->restarted = 1;
            pe->since = d->at;
        }

        pe->write |= d->write_peer;
        pe->last = d;
    }

    /* the rows to write, sessions begun first, each part in key order */

    live = ngx_palloc(pool, (npeers + 1) * sizeof(ngx_tracker_fold_peer_t *));
    if (live == NULL) {
        return NGX_ERROR;
    }

    nstop = 0;
    nnew = 0;
    nlive = 0;

    for (k = 0; k < npeers; k++) {
        pe = &peers[k];

        if (pe->stopped) {
            nstop++;

        } else if (pe->write || pe->restarted) {
            live[nlive++] = pe;
            nnew += pe->restarted;
        }
    }

    ngx_qsort(live, nlive, sizeof(ngx_tracker_fold_peer_t *),
              ngx_tracker_fold_peer_cmp);

    /* the scalars */

    b = ngx_pnalloc(pool, 8 + 4);
    if (b == NULL) {
        return NGX_ERROR;
    }

    p->values[NGX_TRACKER_P_BATCH] = (const char *) b;
    p->lengths[NGX_TRACKER_P_BATCH] = 8;
    p->formats[NGX_TRACKER_P_BATCH] = 1;
    b = ngx_tracker_put32(b, (uint32_t) ((uint64_t) batch_id >> 32));
    b = ngx_tracker_put32(b, (uint32_t) batch_id);

    p->values[NGX_TRACKER_P_RESTARTED] = (const char *) b;
    p->lengths[NGX_TRACKER_P_RESTARTED] = 4;
    p->formats[NGX_TRACKER_P_RESTARTED] = 1;
    (void) ngx_tracker_put32(b, (uint32_t) nnew);

    /* one row per (user, torrent) */

    for (k = NGX_TRACKER_P_USER; k <= NGX_TRACKER_P_SEQ; k++) {
        if (ngx_tracker_array(pool, p, pos, k,
                              (k == NGX_TRACKER_P_ROWS
                               || k >= NGX_TRACKER_P_SEEDERS)
                              ? NGX_TRACKER_OID_INT4 : NGX_TRACKER_OID_INT8,
                              npairs, 8)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    for (k = 0; k < npairs; k++) {
        q = &pairs[k];

#define put8(col, v)  pos[col] = ngx_tracker_put_int8(pos[col], v)
#define put4(col, v)  pos[col] = ngx_tracker_put_int4(pos[col], v)

        put8(NGX_TRACKER_P_USER, (uint64_t) q->user_id);
        put8(NGX_TRACKER_P_TORRENT, (uint64_t) q->torrent_id);
        put4(NGX_TRACKER_P_ROWS, q->rows);
        put8(NGX_TRACKER_P_UP, q->up);
        put8(NGX_TRACKER_P_DOWN, q->down);
        put8(NGX_TRACKER_P_RAW_UP, q->raw_up);
        put8(NGX_TRACKER_P_RAW_DOWN, q->raw_down);
        put8(NGX_TRACKER_P_UP_TIME, q->up_time);
        put8(NGX_TRACKER_P_DOWN_TIME, q->down_time);
        put8(NGX_TRACKER_P_FIRST, q->first);
        put8(NGX_TRACKER_P_LAST, q->last);
        put8(NGX_TRACKER_P_COMPLETED, q->completed);
        put4(NGX_TRACKER_P_SEEDERS, q->seeders);
        put4(NGX_TRACKER_P_LEECHERS, q->leechers);
        put4(NGX_TRACKER_P_SEQ, q->seq);
    }

    /* the peers rows due (sessions begun first), then the stopped */

    for (k = NGX_TRACKER_P_PEER_TORRENT; k <= NGX_TRACKER_P_AT; k++) {
        if (ngx_tracker_array(pool, p, pos, k,
                              k == NGX_TRACKER_P_PEER ? NGX_TRACKER_OID_BYTEA
                              : k == NGX_TRACKER_P_IP ? NGX_TRACKER_OID_TEXT
                              : k == NGX_TRACKER_P_PORT ? NGX_TRACKER_OID_INT4
                              : NGX_TRACKER_OID_INT8,
                              nlive,
                              k == NGX_TRACKER_P_PEER ? NGX_TRACKER_HASH_LEN
                              : k == NGX_TRACKER_P_IP ? NGX_INET6_ADDRSTRLEN
                              : 8)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    for (k = NGX_TRACKER_P_STOP_TORRENT; k <= NGX_TRACKER_P_STOP_PEER; k++) {
        if (ngx_tracker_array(pool, p, pos, k,
                              k == NGX_TRACKER_P_STOP_PEER
                              ? NGX_TRACKER_OID_BYTEA : NGX_TRACKER_OID_INT8,
                              nstop, NGX_TRACKER_HASH_LEN)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    for (k = 0; k < npeers; k++) {
        pe = &peers[k];
        l = pe->last;

        if (pe->stopped) {
            put8(NGX_TRACKER_P_STOP_TORRENT, (uint64_t) l->torrent_id);
            put8(NGX_TRACKER_P_STOP_USER, (uint64_t) l->user_id);
            pos[NGX_TRACKER_P_STOP_PEER] =
                ngx_tracker_put_bytes(pos[NGX_TRACKER_P_STOP_PEER],
                                      l->peer_id, NGX_TRACKER_HASH_LEN);
        }
    }

    for (k = 0; k < nlive; k++) {
        pe = live[k];
        l = pe->last;

        put8(NGX_TRACKER_P_PEER_TORRENT, (uint64_t) l->torrent_id);
        put8(NGX_TRACKER_P_PEER_USER, (uint64_t) l->user_id);
        pos[NGX_TRACKER_P_PEER] =
            ngx_tracker_put_bytes(pos[NGX_TRACKER_P_PEER], l->peer_id,
                                  NGX_TRACKER_HASH_LEN);

        /* the text goes before its length, known once it is written */
        b = pos[NGX_TRACKER_P_IP];
        len = ngx_inet_ntop(l->family ? AF_INET6 : AF_INET, l->addr,
                            b + 4, NGX_INET6_ADDRSTRLEN);
        (void) ngx_tracker_put32(b, (uint32_t) len);
        pos[NGX_TRACKER_P_IP] = b + 4 + len;

        put4(NGX_TRACKER_P_PORT, l->port);
        put8(NGX_TRACKER_P_PEER_UP, l->client_up);
        put8(NGX_TRACKER_P_PEER_DOWN, l->client_down);
        put8(NGX_TRACKER_P_LEFT, l->left);
        put8(NGX_TRACKER_P_SINCE, pe->since);
        put8(NGX_TRACKER_P_AT, l->at);
    }

#undef put8
#undef put4

    for (k = 0; k < NGX_TRACKER_FLUSH_PARAMS; k++) {
        if (k != NGX_TRACKER_P_BATCH && k != NGX_TRACKER_P_RESTARTED) {
            p->lengths[k] = (int) (pos[k] - (u_char *) p->values[k]);
        }
    }

    p->pairs = npairs;
    p->peers = npeers;

    return NGX_OK;
}
