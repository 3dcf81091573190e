
/*
 * ngx_tracker: BEP 15 datagrams and BEP 41 options (see the header).
 */

#include "ngx_tracker_udp_parse.h"
#include "ngx_tracker_udp_sh.h"


static ngx_tracker_udp_drop_e ngx_tracker_udp_options(u_char *p,
    u_char *last, u_char *url_buf, ngx_str_t *url);


static ngx_str_t  ngx_tracker_udp_announce_verb = ngx_string("announce");

static const char  *ngx_tracker_udp_drop_names[] = {
    "ok", "short", "oversized", "protocol_id", "action", "options",
    "scrape_length"
};

static const char  *ngx_tracker_udp_counter_names[] = {
    "connects", "announces", "scrapes", "scraped_hashes", "errors",
    "bad_connection_ids", "expired_connection_ids", "send_failures",
    "lookups", "lookup_failures"
};


static ngx_inline uint32_t
ngx_tracker_udp_u32(u_char *p)
{
    return ((uint32_t) p[0] << 24) | ((uint32_t) p[1] << 16)
           | ((uint32_t) p[2] << 8) | p[3];
}


static ngx_inline uint64_t
ngx_tracker_udp_u64(u_char *p)
{
    return ((uint64_t) ngx_tracker_udp_u32(p) << 32)
           | ngx_tracker_udp_u32(p + 4);
}


ngx_tracker_udp_drop_e
ngx_tracker_udp_parse(u_char *p, size_t len, u_char *url_buf,
    ngx_tracker_udp_req_t *req)
{
    size_t  n;

    ngx_memzero(req, sizeof(ngx_tracker_udp_req_t));

    if (len < NGX_TRACKER_UDP_HEADER_LEN) {
        return NGX_TRACKER_UDP_DROP_SHORT;
    }

    if (len > NGX_TRACKER_UDP_MAX_DATAGRAM) {
        return NGX_TRACKER_UDP_DROP_OVERSIZED;
    }

    req->connection_id = p;
    req->action = ngx_tracker_udp_u32(p + 8);
    ngx_memcpy(&req->transaction_id, p + 12, 4);

    switch (req->action) {

    case NGX_TRACKER_UDP_CONNECT:
        if (ngx_tracker_udp_u64(p) != NGX_TRACKER_UDP_PROTOCOL_ID) {
            return NGX_TRACKER_UDP_DROP_PROTOCOL;
        }

        /* bytes past the 16 are padding some clients add: ignored */
        return NGX_TRACKER_UDP_OK;

    case NGX_TRACKER_UDP_ANNOUNCE:
        if (len < NGX_TRACKER_UDP_ANNOUNCE_LEN) {
            return NGX_TRACKER_UDP_DROP_SHORT;
        }

        req->info_hash = p + 16;
        req->peer_id = p + 36;
        req->downloaded = ngx_tracker_udp_u64(p + 56);
        req->left = ngx_tracker_udp_u64(p + 64);
        req->uploaded = ngx_tracker_udp_u64(p + 72);
        req->event = ngx_tracker_udp_u32(p + 80);
        /* p + 84: the IP address field, not trusted (the source is used) */
        req->key = ngx_tracker_udp_u32(p + 88);
        req->num_want = (int32_t) ngx_tracker_udp_u32(p + 92);
        ngx_memcpy(&req->port, p + 96, 2);

        return ngx_tracker_udp_options(p + NGX_TRACKER_UDP_ANNOUNCE_LEN,
                                       p + len, url_buf, &req->url);

    case NGX_TRACKER_UDP_SCRAPE:
        n = len - NGX_TRACKER_UDP_HEADER_LEN;

        if (n == 0 || n % NGX_TRACKER_HASH_LEN
            || n / NGX_TRACKER_HASH_LEN > NGX_TRACKER_UDP_MAX_HASHES)
        {
            return NGX_TRACKER_UDP_DROP_SCRAPE;
        }

        req->hashes = p + NGX_TRACKER_UDP_HEADER_LEN;
        req->nhashes = n / NGX_TRACKER_HASH_LEN;

        return NGX_TRACKER_UDP_OK;

    default:
        return NGX_TRACKER_UDP_DROP_ACTION;
    }
}


/*
 * BEP 41: 0 ends the options, 1 is one byte of padding, every other type
 * has a length byte; URL data (2) chunks are concatenated.  Options of
 * unknown types are skipped by their length.
 */
static ngx_tracker_udp_drop_e
ngx_tracker_udp_options(u_char *p, u_char *last, u_char *url_buf,
    ngx_str_t *url)
{
    size_t  n;
    u_char  type;

    url->data = url_buf;
    url->len = 0;

    while (p < last) {
        type = *p++;

        if (type == NGX_TRACKER_UDP_OPT_END) {
            break;
        }

        if (type == NGX_TRACKER_UDP_OPT_NOP) {
            continue;
        }

        if (p == last) {
            return NGX_TRACKER_UDP_DROP_OPTIONS;
        }

        n = *p++;

        if ((size_t) (last - p) < n) {
            return NGX_TRACKER_UDP_DROP_OPTIONS;
        }

        if (type == NGX_TRACKER_UDP_OPT_URL_DATA) {
            if (url->len + n > NGX_TRACKER_UDP_URL_MAX) {
                return NGX_TRACKER_UDP_DROP_OVERSIZED;
            }

            ngx_memcpy(url_buf + url->len, p, n);
            url->len += n;
        }

        p += n;
    }

    return NGX_TRACKER_UDP_OK;
}


ngx_tracker_err_e
ngx_tracker_udp_url_passkey(ngx_str_t *url, ngx_str_t *passkey)
{
    u_char             *q, *last;
    ngx_uint_t          n;
    ngx_tracker_err_e   err;

    passkey->len = 0;
    passkey->data = NULL;

    last = url->data + url->len;
    q = ngx_strlchr(url->data, last, '?');

    if (q == NULL) {
        q = last;
    }

    /* the same path rules as HTTP */
    err = ngx_tracker_path_passkey(url->data, q,
                                   &ngx_tracker_udp_announce_verb, passkey);
    if (err != NGX_TRACKER_OK) {
        return err;
    }

    if (q == last) {
        return NGX_TRACKER_OK;
    }

    /* ?passkey=: the scrape parser's count pass finds it and checks it */
    return ngx_tracker_parse_scrape(q + 1, last, NULL, 0, &n, passkey);
}


u_char *
ngx_tracker_udp_write_u32(u_char *p, uint32_t v)
{
    *p++ = (u_char) (v >> 24);
    *p++ = (u_char) (v >> 16);
    *p++ = (u_char) (v >> 8);
    *p++ = (u_char) v;

    return p;
}


u_char *
ngx_tracker_udp_write_header(u_char *p, uint32_t action,
    uint32_t transaction_id)
{
    p = ngx_tracker_udp_write_u32(p, action);

    return ngx_cpymem(p, &transaction_id, 4);
}


u_char *
ngx_tracker_udp_write_error(u_char *p, uint32_t transaction_id,
    const ngx_str_t *text)
{
    p = ngx_tracker_udp_write_header(p, NGX_TRACKER_UDP_ERROR,
                                     transaction_id);

    return ngx_cpymem(p, text->data, text->len);
}


const char *
ngx_tracker_udp_drop_name(ngx_tracker_udp_drop_e reason)
{
    if (reason >= NGX_TRACKER_UDP_DROP_LAST) {
        return "unknown";
    }

    return ngx_tracker_udp_drop_names[reason];
}


const char *
ngx_tracker_udp_counter_name(ngx_tracker_udp_counter_e c)
{
    if (c >= NGX_TRACKER_UDP_COUNTER_LAST) {
        return "unknown";
    }

    return ngx_tracker_udp_counter_names[c];
}
