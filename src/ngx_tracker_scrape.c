
/*
 * ngx_tracker: the HTTP scrape handler (BEP 48).
 *
 * Requested hashes are sorted and deduplicated so the "files" dictionary
 * has its keys in bencode order; a full scrape walks the shards in order,
 * which is already info-hash order (see ngx_tracker_swarm.h).
 */

#include "ngx_tracker_module.h"


/* "20:<hash>d8:completei..e10:downloadedi..e10:incompletei..ee" */
#define NGX_HTTP_TRACKER_FILE_LEN                                             \
    (NGX_TRACKER_BENCODE_STR_LEN(NGX_TRACKER_HASH_LEN) + 2                    \
     + NGX_TRACKER_BENCODE_KEY_LEN("complete")                                \
     + NGX_TRACKER_BENCODE_KEY_LEN("downloaded")                              \
     + NGX_TRACKER_BENCODE_KEY_LEN("incomplete")                              \
     + 3 * NGX_TRACKER_BENCODE_INT_LEN)

/* "d5:filesd" ... "ee" */
#define NGX_HTTP_TRACKER_FILES_LEN                                            \
    (2 + NGX_TRACKER_BENCODE_KEY_LEN("files") + 2)


static ngx_int_t ngx_http_tracker_full_scrape(ngx_http_request_t *r,
    ngx_tracker_swarm_t *sw);
static u_char *ngx_http_tracker_scrape_file(u_char *p,
    ngx_tracker_scrape_entry_t *e);
static int ngx_libc_cdecl ngx_http_tracker_hash_cmp(const void *one,
    const void *two);


static ngx_str_t  ngx_http_tracker_scrape_verb = ngx_string("scrape");


ngx_int_t
ngx_http_tracker_scrape_handler(ngx_http_request_t *r)
{
    u_char                       *hashes, *buf, *p;
    ngx_int_t                     rc;
    ngx_uint_t                    i, n, k;
    ngx_str_t                     passkey;
    ngx_tracker_err_e             err;
    ngx_tracker_swarm_t          *sw;
    ngx_tracker_user_t            user;
    ngx_tracker_scrape_entry_t    e;
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

    ngx_str_null(&passkey);

    err = ngx_http_tracker_uri_passkey(r, &ngx_http_tracker_scrape_verb,
                                       &passkey);
    if (err != NGX_TRACKER_OK) {
        return ngx_http_tracker_failure(r, sw, err);
    }

    /* first pass counts, so the hash array is sized exactly */
    err = ngx_tracker_parse_scrape(r->args.data, r->args.data + r->args.len,
                                   NULL, 0, &n, &passkey);
    if (err != NGX_TRACKER_OK) {
        return ngx_http_tracker_failure(r, sw, err);
    }

    if (tlcf->private) {
        rc = ngx_http_tracker_private_resolve(r,
                                              ngx_http_tracker_scrape_handler,
                                              &passkey, NULL, &user, NULL,
                                              &err);
        if (rc == NGX_AGAIN) {
            return NGX_DONE;
        }

        if (rc != NGX_OK) {
            return ngx_http_tracker_failure(r, sw, err);
        }
    }

    if (n == 0) {
        if (!tlcf->full_scrape) {
            return ngx_http_tracker_failure(r, sw,
                                            NGX_TRACKER_ERR_FULL_SCRAPE);
        }

        return ngx_http_tracker_full_scrape(r, sw);
    }

    hashes = ngx_pnalloc(r->pool, n * NGX_TRACKER_HASH_LEN);
    if (hashes == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    err = ngx_tracker_parse_scrape(r->args.data, r->args.data + r->args.len,
                                   hashes, n, &n, NULL);
    if (err != NGX_TRACKER_OK) {
        return ngx_http_tracker_failure(r, sw, err);
    }

    ngx_qsort(hashes, n, NGX_TRACKER_HASH_LEN, ngx_http_tracker_hash_cmp);

    buf = ngx_pnalloc(r->pool,
                      NGX_HTTP_TRACKER_FILES_LEN
                      + n * NGX_HTTP_TRACKER_FILE_LEN);
    if (buf == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = buf;
    *p++ = 'd';
    p = ngx_tracker_bencode_key(p, "files");
    *p++ = 'd';

    for (i = 0, k = 0; i < n; i++) {
        if (i && ngx_memcmp(hashes + i * NGX_TRACKER_HASH_LEN,
                            hashes + (i - 1) * NGX_TRACKER_HASH_LEN,
                            NGX_TRACKER_HASH_LEN) == 0)
        {
            continue;
        }

        ngx_memcpy(e.info_hash, hashes + i * NGX_TRACKER_HASH_LEN,
                   NGX_TRACKER_HASH_LEN);

        if (tlcf->private) {
            /* a hybrid's v2 hash reports the swarm kept under its v1 hash */
            ngx_http_tracker_private_swarm_hash(r, e.info_hash);
        }

        ngx_tracker_swarm_scrape(sw, &e);

        ngx_memcpy(e.info_hash, hashes + i * NGX_TRACKER_HASH_LEN,
                   NGX_TRACKER_HASH_LEN);
        p = ngx_http_tracker_scrape_file(p, &e);
        k++;
    }

    *p++ = 'e';
    *p++ = 'e';

    (void) ngx_atomic_fetch_add(&sw->sh->scrapes, 1);
    (void) ngx_atomic_fetch_add(&sw->sh->scraped_hashes, k);

    return ngx_http_tracker_send(r, buf, p - buf);
}


static ngx_int_t
ngx_http_tracker_full_scrape(ngx_http_request_t *r, ngx_tracker_swarm_t *sw)
{
    u_char                      *buf, *p;
    size_t                       size;
    ngx_uint_t                   i, k, n[NGX_TRACKER_SHARDS], total;
    ngx_tracker_scrape_entry_t  *entries[NGX_TRACKER_SHARDS];

    /* each shard is copied under its own lock, then written unlocked */
    total = 0;

    for (i = 0; i < NGX_TRACKER_SHARDS; i++) {
        if (ngx_tracker_swarm_scrape_shard(sw, i, r->pool, &entries[i], &n[i])
            != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        total += n[i];
    }

    size = NGX_HTTP_TRACKER_FILES_LEN + total * NGX_HTTP_TRACKER_FILE_LEN;

    buf = ngx_pnalloc(r->pool, size);
    if (buf == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = buf;
    *p++ = 'd';
    p = ngx_tracker_bencode_key(p, "files");
    *p++ = 'd';

    for (i = 0; i < NGX_TRACKER_SHARDS; i++) {
        for (k = 0; k < n[i]; k++) {
            p = ngx_http_tracker_scrape_file(p, &entries[i][k]);
        }
    }

    *p++ = 'e';
    *p++ = 'e';

    (void) ngx_atomic_fetch_add(&sw->sh->scrapes, 1);
    (void) ngx_atomic_fetch_add(&sw->sh->scraped_hashes, total);

    return ngx_http_tracker_send(r, buf, p - buf);
}


static u_char *
ngx_http_tracker_scrape_file(u_char *p, ngx_tracker_scrape_entry_t *e)
{
    p = ngx_tracker_bencode_str(p, e->info_hash, NGX_TRACKER_HASH_LEN);
    *p++ = 'd';
    p = ngx_tracker_bencode_key_int(p, "complete", e->complete);
    p = ngx_tracker_bencode_key_int(p, "downloaded", e->downloaded);
    p = ngx_tracker_bencode_key_int(p, "incomplete", e->incomplete);
    *p++ = 'e';

    return p;
}


static int ngx_libc_cdecl
ngx_http_tracker_hash_cmp(const void *one, const void *two)
{
    return ngx_memcmp(one, two, NGX_TRACKER_HASH_LEN);
}
