
/*
 * ngx_tracker: announce and scrape query-string parsing (BEP 3, 7, 23, 48).
 */

#include "ngx_tracker_args.h"


static ngx_int_t ngx_tracker_parse_uint(u_char *p, size_t len,
    uint64_t max, uint64_t *out);
static ngx_int_t ngx_tracker_decode_hash(u_char *dst, u_char *p, size_t len);


static const ngx_str_t  ngx_tracker_err_texts[] = {
    ngx_string("ok"),
    ngx_string("missing info_hash"),
    ngx_string("invalid info_hash: must be 20 bytes, percent-encoded"),
    ngx_string("missing peer_id"),
    ngx_string("invalid peer_id: must be 20 bytes, percent-encoded"),
    ngx_string("missing port"),
    ngx_string("invalid port: must be 1..65535"),
    ngx_string("missing uploaded"),
    ngx_string("invalid uploaded: must be a non-negative integer"),
    ngx_string("missing downloaded"),
    ngx_string("invalid downloaded: must be a non-negative integer"),
    ngx_string("missing left"),
    ngx_string("invalid left: must be a non-negative integer"),
    ngx_string("invalid event: must be started, completed, stopped"
               " or empty"),
    ngx_string("invalid numwant: must be a non-negative integer"),
    ngx_string("invalid compact: must be 0 or 1"),
    ngx_string("invalid no_peer_id: must be 0 or 1"),
    ngx_string("invalid key: too long"),
    ngx_string("invalid trackerid: too long"),
    ngx_string("invalid ip: not an IPv4 or IPv6 address"),
    ngx_string("invalid passkey"),
    ngx_string("full scrape is disabled on this tracker: send info_hash"),
    ngx_string("tracker is out of memory for new peers, retry later"),
    ngx_string("missing passkey: use the announce URL from your torrent "
               "file"),
    ngx_string("passkey not found"),
    ngx_string("account disabled"),
    ngx_string("unregistered torrent"),
    ngx_string("downloading is not allowed for this account"),
    ngx_string("tracker database unavailable, retry later"),
};


/* short names for counters (status page, Prometheus labels) */
static const char  *ngx_tracker_err_names[] = {
    "ok",
    "info_hash_missing", "info_hash_invalid",
    "peer_id_missing", "peer_id_invalid",
    "port_missing", "port_invalid",
    "uploaded_missing", "uploaded_invalid",
    "downloaded_missing", "downloaded_invalid",
    "left_missing", "left_invalid",
    "event_invalid", "numwant_invalid", "compact_invalid",
    "no_peer_id_invalid", "key_invalid", "trackerid_invalid",
    "ip_invalid", "passkey_invalid", "full_scrape_disabled",
    "zone_full", "passkey_missing", "passkey_unknown",
    "account_disabled", "unregistered_torrent", "leech_denied",
    "database_unavailable",
};


const ngx_str_t *
ngx_tracker_err_text(ngx_tracker_err_e err)
{
    if ((ngx_uint_t) err >= NGX_TRACKER_ERR_LAST) {
        err = NGX_TRACKER_OK;
    }

    return &ngx_tracker_err_texts[err];
}


const char *
ngx_tracker_err_name(ngx_tracker_err_e err)
{
    if ((ngx_uint_t) err >= NGX_TRACKER_ERR_LAST) {
        err = NGX_TRACKER_OK;
    }

    return ngx_tracker_err_names[err];
}


static ngx_inline ngx_int_t
ngx_tracker_hexval(u_char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }

    c |= 0x20;

    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }

    return -1;
}


ngx_int_t
ngx_tracker_unescape(u_char *dst, size_t dst_size, u_char *src, size_t len,
    size_t *out_len)
{
    u_char     *end, *d;
    ngx_int_t   hi, lo;

    end = src + len;
    d = dst;

    while (src < end) {

        if ((size_t) (d - dst) == dst_size) {
            return NGX_ERROR;
        }

        if (*src == '%') {
            if (end - src < 3) {
                return NGX_ERROR;
            }

            hi = ngx_tracker_hexval(src[1]);
            lo = ngx_tracker_hexval(src[2]);

            if (hi < 0 || lo < 0) {
                return NGX_ERROR;
            }

            *d++ = (u_char) (hi << 4 | lo);
            src += 3;
            continue;
        }

        /* form encoding: opentracker and most trackers read '+' as 0x20 */
        *d++ = (*src == '+') ? ' ' : *src;
        src++;
    }

    *out_len = d - dst;

    return NGX_OK;
}


static ngx_int_t
ngx_tracker_decode_hash(u_char *dst, u_char *p, size_t len)
{
    size_t  n;

    /* 20 raw bytes need at least 20 and at most 60 encoded bytes */
    if (len < NGX_TRACKER_HASH_LEN || len > 3 * NGX_TRACKER_HASH_LEN) {
        return NGX_ERROR;
    }

    if (ngx_tracker_unescape(dst, NGX_TRACKER_HASH_LEN, p, len, &n)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    return (n == NGX_TRACKER_HASH_LEN) ? NGX_OK : NGX_ERROR;
}


static ngx_int_t
ngx_tracker_parse_uint(u_char *p, size_t len, uint64_t max, uint64_t *out)
{
    uint64_t  v;

    if (len == 0 || len > 20) {
        return NGX_ERROR;
    }

    v = 0;

    while (len--) {
        if (*p < '0' || *p > '9') {
            return NGX_ERROR;
        }

        if (v > (max - (*p - '0')) / 10) {
            return NGX_ERROR;
        }

        v = v * 10 + (*p++ - '0');
    }

    *out = v;

    return NGX_OK;
}


static ngx_int_t
ngx_tracker_parse_flag(u_char *p, size_t len, unsigned *flag)
{
    if (len != 1 || (*p != '0' && *p != '1')) {
        return NGX_ERROR;
    }

    *flag = (*p == '1');

    return NGX_OK;
}


ngx_int_t
ngx_tracker_passkey_valid(u_char *p, size_t len)
{
    if (len == 0 || len > NGX_TRACKER_TOKEN_MAXLEN) {
        return 0;
    }

    while (len--) {
        if (!((*p >= '0' && *p <= '9') || ((*p | 0x20) >= 'a'
               && (*p | 0x20) <= 'z') || *p == '_' || *p == '-'))
        {
            return 0;
        }

        p++;
    }

    return 1;
}


ngx_tracker_err_e
ngx_tracker_path_passkey(u_char *start, u_char *last, ngx_str_t *verb,
    ngx_str_t *passkey)
{
    u_char     *p, *end, *seg, *prev;
    size_t      seg_len, prev_len;

    /*
     * /announce/<passkey> and /<passkey>/announce (also under a prefix):
     * look only at the last two path segments.
     */
    end = last;

    while (end > start && end[-1] == '/') {
        end--;
    }

    for (p = end; p > start && p[-1] != '/'; p--) { /* void */ }

    seg = p;
    seg_len = end - p;

    if (p == start) {
        return NGX_TRACKER_OK;
    }

    end = p - 1;

    for (p = end; p > start && p[-1] != '/'; p--) { /* void */ }

    prev = p;
    prev_len = end - p;

    if (seg_len == verb->len && ngx_memcmp(seg, verb->data, verb->len) == 0) {
        if (prev_len == 0) {
            return NGX_TRACKER_OK;
        }

        passkey->data = prev;
        passkey->len = prev_len;

    } else if (prev_len == verb->len
               && ngx_memcmp(prev, verb->data, verb->len) == 0)
    {
        passkey->data = seg;
        passkey->len = seg_len;

    } else {
        return NGX_TRACKER_OK;
    }

    if (!ngx_tracker_passkey_valid(passkey->data, passkey->len)) {
        return NGX_TRACKER_ERR_PASSKEY;
    }

    return NGX_TRACKER_OK;
}


#define ngx_tracker_key_is(k, klen, lit)                                      \
    ((klen) == sizeof(lit) - 1 && ngx_memcmp(k, lit, sizeof(lit) - 1) == 0)


ngx_tracker_err_e
ngx_tracker_parse_announce(u_char *p, u_char *last,
    ngx_tracker_announce_args_t *a)
{
    u_char      *k, *v, *amp;
    size_t       klen, vlen;
    uint64_t     n;
    unsigned     flag;

    ngx_memzero(a, sizeof(ngx_tracker_announce_args_t));
    a->compact = 1;

    while (p < last) {

        amp = ngx_strlchr(p, last, '&');
        if (amp == NULL) {
            amp = last;
        }

        k = p;
        v = ngx_strlchr(p, amp, '=');

        if (v == NULL) {
            klen = amp - k;
            v = amp;
            vlen = 0;

        } else {
            klen = v - k;
            v++;
            vlen = amp - v;
        }

        p = amp + 1;

        switch (klen) {

        case 2:
            if (ngx_tracker_key_is(k, klen, "ip")) {
                a->ip.data = v;
                a->ip.len = vlen;
            }

            break;

        case 3:
            if (ngx_tracker_key_is(k, klen, "key")) {
                if (vlen > NGX_TRACKER_TOKEN_MAXLEN) {
                    return NGX_TRACKER_ERR_KEY;
                }

                a->key.data = v;
                a->key.len = vlen;
            }

            break;

        case 4:
            if (ngx_tracker_key_is(k, klen, "port")) {
                if (ngx_tracker_parse_uint(v, vlen, 65535, &n) != NGX_OK
                    || n == 0)
                {
                    return NGX_TRACKER_ERR_PORT;
                }

                a->port = (ngx_uint_t) n;
                a->has_port = 1;

            } else if (ngx_tracker_key_is(k, klen, "left")) {
                if (ngx_tracker_parse_uint(v, vlen, INT64_MAX, &a->left)
                    != NGX_OK)
                {
                    return NGX_TRACKER_ERR_LEFT;
                }

                a->has_left = 1;
            }

            break;

        case 5:
            if (ngx_tracker_key_is(k, klen, "event")) {
                if (vlen == 0 || (vlen == 6 && ngx_memcmp(v, "paused", 6) == 0))
                {
                    /* BEP 21 "paused" is a regular announce for us */
                    a->event = NGX_TRACKER_EVENT_NONE;

                } else if (vlen == 7 && ngx_memcmp(v, "started", 7) == 0) {
                    a->event = NGX_TRACKER_EVENT_STARTED;

                } else if (vlen == 7 && ngx_memcmp(v, "stopped", 7) == 0) {
                    a->event = NGX_TRACKER_EVENT_STOPPED;

                } else if (vlen == 9 && ngx_memcmp(v, "completed", 9) == 0) {
                    a->event = NGX_TRACKER_EVENT_COMPLETED;

                } else {
                    return NGX_TRACKER_ERR_EVENT;
                }
            }

            break;

        case 7:
            if (ngx_tracker_key_is(k, klen, "peer_id")) {
                if (a->has_peer_id
                    || ngx_tracker_decode_hash(a->peer_id, v, vlen) != NGX_OK)
                {
                    return NGX_TRACKER_ERR_PEER_ID;
                }

                a->has_peer_id = 1;

            } else if (ngx_tracker_key_is(k, klen, "numwant")) {
                if (ngx_tracker_parse_uint(v, vlen, UINT64_MAX, &n) != NGX_OK)
                {
                    return NGX_TRACKER_ERR_NUMWANT;
                }

                /* the handler clamps to tracker_max_numwant */
                a->numwant = (n > NGX_MAX_INT32_VALUE) ? NGX_MAX_INT32_VALUE
                                                       : (ngx_uint_t) n;
                a->has_numwant = 1;

            } else if (ngx_tracker_key_is(k, klen, "compact")) {
                if (ngx_tracker_parse_flag(v, vlen, &flag) != NGX_OK) {
                    return NGX_TRACKER_ERR_COMPACT;
                }

                a->compact = flag;

            } else if (ngx_tracker_key_is(k, klen, "passkey")) {
                if (!ngx_tracker_passkey_valid(v, vlen)) {
                    return NGX_TRACKER_ERR_PASSKEY;
                }

                a->passkey.data = v;
                a->passkey.len = vlen;
            }

            break;

        case 8:
            if (ngx_tracker_key_is(k, klen, "uploaded")) {
                if (ngx_tracker_parse_uint(v, vlen, INT64_MAX, &a->uploaded)
                    != NGX_OK)
                {
                    return NGX_TRACKER_ERR_UPLOADED;
                }

                a->has_uploaded = 1;
            }

            break;

        case 9:
            if (ngx_tracker_key_is(k, klen, "info_hash")) {
                if (a->has_info_hash
                    || ngx_tracker_decode_hash(a->info_hash, v, vlen)
                       != NGX_OK)
                {
                    return NGX_TRACKER_ERR_INFO_HASH;
                }

                a->has_info_hash = 1;

            } else if (ngx_tracker_key_is(k, klen, "trackerid")) {
                if (vlen > NGX_TRACKER_TOKEN_MAXLEN) {
                    return NGX_TRACKER_ERR_TRACKERID;
                }

                a->trackerid.data = v;
                a->trackerid.len = vlen;
            }

            break;

        case 10:
            if (ngx_tracker_key_is(k, klen, "downloaded")) {
                if (ngx_tracker_parse_uint(v, vlen, INT64_MAX, &a->downloaded)
                    != NGX_OK)
                {
                    return NGX_TRACKER_ERR_DOWNLOADED;
                }

                a->has_downloaded = 1;

            } else if (ngx_tracker_key_is(k, klen, "no_peer_id")) {
                if (ngx_tracker_parse_flag(v, vlen, &flag) != NGX_OK) {
                    return NGX_TRACKER_ERR_NO_PEER_ID;
                }

                a->no_peer_id = flag;
            }

            break;
        }
    }

    /* the order of these checks is the order clients fix them in */
    if (!a->has_info_hash) {
        return NGX_TRACKER_ERR_INFO_HASH_MISSING;
    }

    if (!a->has_peer_id) {
        return NGX_TRACKER_ERR_PEER_ID_MISSING;
    }

    if (!a->has_port) {
        return NGX_TRACKER_ERR_PORT_MISSING;
    }

    if (!a->has_uploaded) {
        return NGX_TRACKER_ERR_UPLOADED_MISSING;
    }

    if (!a->has_downloaded) {
        return NGX_TRACKER_ERR_DOWNLOADED_MISSING;
    }

    if (!a->has_left) {
        return NGX_TRACKER_ERR_LEFT_MISSING;
    }

    return NGX_TRACKER_OK;
}


ngx_tracker_err_e
ngx_tracker_parse_scrape(u_char *p, u_char *last, u_char *hashes,
    ngx_uint_t max, ngx_uint_t *n, ngx_str_t *passkey)
{
    u_char  *k, *v, *amp;
    size_t   klen, vlen;

    *n = 0;

    while (p < last) {

        amp = ngx_strlchr(p, last, '&');
        if (amp == NULL) {
            amp = last;
        }

        k = p;
        v = ngx_strlchr(p, amp, '=');

        if (v == NULL) {
            klen = amp - k;
            v = amp;
            vlen = 0;

        } else {
            klen = v - k;
            v++;
            vlen = amp - v;
        }

        p = amp + 1;

        if (ngx_tracker_key_is(k, klen, "info_hash")) {

            if (hashes == NULL) {
                (*n)++;
                continue;
            }

            if (*n == max
                || ngx_tracker_decode_hash(hashes + *n * NGX_TRACKER_HASH_LEN,
                                           v, vlen)
                   != NGX_OK)
            {
                return NGX_TRACKER_ERR_INFO_HASH;
            }

            (*n)++;

        } else if (ngx_tracker_key_is(k, klen, "passkey") && passkey) {
            if (!ngx_tracker_passkey_valid(v, vlen)) {
                return NGX_TRACKER_ERR_PASSKEY;
            }

            passkey->data = v;
            passkey->len = vlen;
        }
    }

    return NGX_TRACKER_OK;
}


ngx_int_t
ngx_tracker_hex_decode(u_char *dst, u_char *src, size_t len)
{
    ngx_int_t  hi, lo;

    if (len % 2) {
        return NGX_ERROR;
    }

    for ( /* void */ ; len; len -= 2) {
        hi = ngx_tracker_hexval(*src++);
        lo = ngx_tracker_hexval(*src++);

        if (hi < 0 || lo < 0) {
            return NGX_ERROR;
        }

        *dst++ = (u_char) (hi << 4 | lo);
    }

    return NGX_OK;
}
