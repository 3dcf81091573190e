
/*
 * ngx_tracker: .torrent rewriting (see ngx_tracker_torrent_file.h).
 *
 * The parser is strict (BEP 3 canonical form) because the output keeps
 * the input's order and bytes: anything we cannot prove well-formed is
 * refused rather than passed on.  Recursion is bounded by
 * NGX_TRACKER_TORRENT_MAX_DEPTH.
 */

#include "ngx_tracker_torrent_file.h"


typedef struct {
    u_char            *p;           /* NULL: only count */
    size_t             size;
} ngx_tracker_torrent_out_t;


static ngx_uint_t ngx_tracker_torrent_tiers(ngx_tracker_torrent_out_t *o,
    ngx_tracker_torrent_file_t *t, ngx_str_t *stored_announce,
    ngx_str_t *stored_list, ngx_str_t *announce, ngx_str_t *tracker);
static void ngx_tracker_torrent_emit(ngx_tracker_torrent_out_t *o,
    const u_char *data, size_t len);
static void ngx_tracker_torrent_emit_str(ngx_tracker_torrent_out_t *o,
    const u_char *data, size_t len);
static void ngx_tracker_torrent_build(ngx_tracker_torrent_out_t *o,
    ngx_tracker_torrent_file_t *t, ngx_str_t *announce, ngx_str_t *tracker);


static ngx_str_t  ngx_tracker_torrent_announce = ngx_string("announce");
static ngx_str_t  ngx_tracker_torrent_list = ngx_string("announce-list");
static ngx_str_t  ngx_tracker_torrent_info = ngx_string("info");


ngx_int_t
ngx_tracker_torrent_parse(ngx_tracker_torrent_file_t *t, u_char *data,
    size_t len)
{
    u_char     *p, *end;
    ngx_str_t   key, value;

    t->start = data;
    t->end = data + len;
    t->info.data = NULL;
    t->info.len = 0;
    t->error = NULL;

    if (len > NGX_TRACKER_TORRENT_MAX_SIZE) {
        t->error = "too large";
        return NGX_DECLINED;
    }

    if (len < 2 || data[0] != 'd') {
        t->error = "not a dictionary";
        return NGX_DECLINED;
    }

    end = ngx_tracker_torrent_value(t, data, 0);
    if (end == NULL) {
        return NGX_DECLINED;
    }

    if (end != t->end) {
        t->error = "data after the dictionary";
        return NGX_DECLINED;
    }

    /* the walk above checked everything: find "info" */
    p = data + 1;

    while (*p != 'e') {
        p = ngx_tracker_torrent_entry(t, p, &key, &value);

        if (ngx_tracker_torrent_keycmp(&key, &ngx_tracker_torrent_info) == 0)
        {
            if (value.data[0] != 'd') {
                t->error = "info is not a dictionary";
                return NGX_DECLINED;
            }

            t->info = value;
        }
    }

    if (t->info.data == NULL) {
        t->error = "no info dictionary";
        return NGX_DECLINED;
    }

    return NGX_OK;
}


size_t
ngx_tracker_torrent_rewrite_size(ngx_tracker_torrent_file_t *t,
    ngx_str_t *announce, ngx_str_t *tracker)
{
    ngx_tracker_torrent_out_t  o;

    o.p = NULL;
    o.size = 0;

    ngx_tracker_torrent_build(&o, t, announce, tracker);

    return o.size;
}


u_char *
ngx_tracker_torrent_rewrite(u_char *p, ngx_tracker_torrent_file_t *t,
    ngx_str_t *announce, ngx_str_t *tracker)
{
    ngx_tracker_torrent_out_t  o;

    o.p = p;
    o.size = 0;

    ngx_tracker_torrent_build(&o, t, announce, tracker);

    return o.p;
}


/* one code path for counting and writing: the size is always exact */
static void
ngx_tracker_torrent_build(ngx_tracker_torrent_out_t *o,
    ngx_tracker_torrent_file_t *t, ngx_str_t *announce, ngx_str_t *tracker)
{
    u_char      *p, *entry;
    ngx_str_t    key, value, stored_announce, stored_list;
    ngx_uint_t   put_announce, put_list;

    ngx_str_null(&stored_announce);
    ngx_str_null(&stored_list);

    for (p = t->start + 1; *p != 'e'; /* void */ ) {
        p = ngx_tracker_torrent_entry(t, p, &key, &value);

        if (ngx_tracker_torrent_keycmp(&key, &ngx_tracker_torrent_announce)
            == 0)
        {
            stored_announce = value;

        } else if (ngx_tracker_torrent_keycmp(&key, &ngx_tracker_torrent_list)
                   == 0)
        {
            stored_list = value;
        }
    }

    put_announce = 1;
    put_list = ngx_tracker_torrent_tiers(NULL, t, &stored_announce,
                                         &stored_list, announce, tracker)
               > 0;

    ngx_tracker_torrent_emit(o, (u_char *) "d", 1);

    for (p = t->start + 1; *p != 'e'; /* void */ ) {
        entry = p;
        p = ngx_tracker_torrent_entry(t, p, &key, &value);

        /* ours go where sorted order puts them */
        if (put_announce
            && ngx_tracker_torrent_keycmp(&key, &ngx_tracker_torrent_announce)
               >= 0)
        {
            ngx_tracker_torrent_emit_str(o, ngx_tracker_torrent_announce.data,
                                         ngx_tracker_torrent_announce.len);
            ngx_tracker_torrent_emit_str(o, announce->data, announce->len);
            put_announce = 0;
        }

        if (put_list
            && ngx_tracker_torrent_keycmp(&key, &ngx_tracker_torrent_list)
               >= 0)
        {
            ngx_tracker_torrent_tiers(o, t, &stored_announce, &stored_list,
                                      announce, tracker);
            put_list = 0;
        }

        if (ngx_tracker_torrent_keycmp(&key, &ngx_tracker_torrent_announce)
            == 0
            || ngx_tracker_torrent_keycmp(&key, &ngx_tracker_torrent_list)
               == 0)
        {
            continue;
        }

        ngx_tracker_torrent_emit(o, entry, p - entry);
    }

    if (put_announce) {
        ngx_tracker_torrent_emit_str(o, ngx_tracker_torrent_announce.data,
                                     ngx_tracker_torrent_announce.len);
        ngx_tracker_torrent_emit_str(o, announce->data, announce->len);
    }

    if (put_list) {
        ngx_tracker_torrent_tiers(o, t, &stored_announce, &stored_list,
                                  announce, tracker);
    }

    ngx_tracker_torrent_emit(o, (u_char *) "e", 1);
}


static ngx_uint_t
ngx_tracker_torrent_drop(ngx_str_t *url, ngx_str_t *announce,
    ngx_str_t *tracker)
{
    if (url->len == announce->len
        && ngx_memcmp(url->data, announce->data, url->len) == 0)
    {
        return 1;
    }

    /* the public URL, or it with someone's passkey after it */
    if (tracker->len && url->len >= tracker->len
        && ngx_memcmp(url->data, tracker->data, tracker->len) == 0
        && (url->len == tracker->len || url->data[tracker->len] == '/'))
    {
        return 1;
    }

    return 0;
}


/*
 * "13:announce-list" l l <ours> e <kept tiers> e, or with o NULL, only
 * the number of kept tiers.  Values of the wrong type are left out.
 */
static ngx_uint_t
ngx_tracker_torrent_tiers(ngx_tracker_torrent_out_t *o,
    ngx_tracker_torrent_file_t *t, ngx_str_t *stored_announce,
    ngx_str_t *stored_list, ngx_str_t *announce, ngx_str_t *tracker)
{
    u_char      *p, *q, *tier;
    ngx_str_t    url;
    ngx_uint_t   ntiers, nurls;

    if (o) {
        ngx_tracker_torrent_emit_str(o, ngx_tracker_torrent_list.data,
                                     ngx_tracker_torrent_list.len);
        ngx_tracker_torrent_emit(o, (u_char *) "ll", 2);
        ngx_tracker_torrent_emit_str(o, announce->data, announce->len);
        ngx_tracker_torrent_emit(o, (u_char *) "e", 1);
    }

    ntiers = 0;

    if (stored_list->data && stored_list->data[0] == 'l') {

        for (p = stored_list->data + 1; *p != 'e'; /* void */ ) {
            tier = p;
            p = ngx_tracker_torrent_value(t, p, 1);

            if (*tier != 'l') {
                continue;
            }

            nurls = 0;

            for (q = tier + 1; *q != 'e'; /* void */ ) {
                if (*q < '0' || *q > '9') {
                    q = ngx_tracker_torrent_value(t, q, 2);
                    continue;
                }

                q = ngx_tracker_torrent_string(t, q, &url);

                if (ngx_tracker_torrent_drop(&url, announce, tracker)) {
                    continue;
                }

                if (o) {
                    if (nurls == 0) {
                        ngx_tracker_torrent_emit(o, (u_char *) "l", 1);
                    }

                    ngx_tracker_torrent_emit_str(o, url.data, url.len);
                }

                nurls++;
            }

            if (nurls) {
                ntiers++;

                if (o) {
                    ngx_tracker_torrent_emit(o, (u_char *) "e", 1);
                }
            }
        }

    } else if (stored_announce->data
               && stored_announce->data[0] >= '0'
               && stored_announce->data[0] <= '9')
    {
        /* no list: the stored announce becomes the second tier */
        ngx_tracker_torrent_string(t, stored_announce->data, &url);

        if (!ngx_tracker_torrent_drop(&url, announce, tracker)) {
            ntiers = 1;

            if (o) {
                ngx_tracker_torrent_emit(o, (u_char *) "l", 1);
                ngx_tracker_torrent_emit_str(o, url.data, url.len);
                ngx_tracker_torrent_emit(o, (u_char *) "e", 1);
            }
        }
    }

    if (o) {
        ngx_tracker_torrent_emit(o, (u_char *) "e", 1);
    }

    return ntiers;
}


/* a key and its value's bytes; p is at a key of a checked dictionary */
u_char *
ngx_tracker_torrent_entry(ngx_tracker_torrent_file_t *t, u_char *p,
    ngx_str_t *key, ngx_str_t *value)
{
    p = ngx_tracker_torrent_string(t, p, key);

    value->data = p;
    p = ngx_tracker_torrent_value(t, p, 1);
    value->len = p - value->data;

    return p;
}


/* "<len>:<bytes>", canonical length, within the file; NULL if not */
u_char *
ngx_tracker_torrent_string(ngx_tracker_torrent_file_t *t, u_char *p,
    ngx_str_t *s)
{
    u_char  *start;
    size_t   len;

    start = p;
    len = 0;

    while (p < t->end && *p >= '0' && *p <= '9') {
        if (p - start == 9) {
            t->error = "string too long";
            return NULL;
        }

        len = len * 10 + (*p++ - '0');
    }

    if (p == start || p == t->end || *p != ':') {
        t->error = "bad string length";
        return NULL;
    }

    if (*start == '0' && p - start > 1) {
        t->error = "leading zero in a string length";
        return NULL;
    }

    p++;

    if ((size_t) (t->end - p) < len) {
        t->error = "truncated string";
        return NULL;
    }

    s->data = p;
    s->len = len;

    return p + len;
}


u_char *
ngx_tracker_torrent_value(ngx_tracker_torrent_file_t *t, u_char *p,
    ngx_uint_t depth)
{
    u_char     *start;
    ngx_str_t   key, prev;
    ngx_uint_t  first;

    if (p >= t->end) {
        t->error = "truncated";
        return NULL;
    }

    if (depth >= NGX_TRACKER_TORRENT_MAX_DEPTH) {
        t->error = "nested too deep";
        return NULL;
    }

    switch (*p) {

    case 'i':
        p++;

        if (p < t->end && *p == '-') {
            p++;
        }

        start = p;

        while (p < t->end && *p >= '0' && *p <= '9') {
            p++;
        }

        if (p == start || p == t->end || *p != 'e' || p - start > 20) {
            t->error = "bad integer";
            return NULL;
        }

        /* canonical: no leading zero, no "-0" */
        if (*start == '0' && (p - start > 1 || start[-1] == '-')) {
            t->error = "non-canonical integer";
            return NULL;
        }

        return p + 1;

    case 'l':
        p++;

        while (p < t->end && *p != 'e') {
            p = ngx_tracker_torrent_value(t, p, depth + 1);
            if (p == NULL) {
                return NULL;
            }
        }

        if (p == t->end) {
            t->error = "unterminated list";
            return NULL;
        }

        return p + 1;

    case 'd':
        p++;
        first = 1;
        prev.data = NULL;
        prev.len = 0;

        while (p < t->end && *p != 'e') {
            p = ngx_tracker_torrent_string(t, p, &key);
            if (p == NULL) {
                return NULL;
            }

            if (!first && ngx_tracker_torrent_keycmp(&prev, &key) >= 0) {
                t->error = "dictionary keys not sorted or not unique";
                return NULL;
            }

            first = 0;
            prev = key;

            p = ngx_tracker_torrent_value(t, p, depth + 1);
            if (p == NULL) {
                return NULL;
            }
        }

        if (p == t->end) {
            t->error = "unterminated dictionary";
            return NULL;
        }

        return p + 1;

    default:
        if (*p >= '0' && *p <= '9') {
            return ngx_tracker_torrent_string(t, p, &key);
        }

        t->error = "bad value";
        return NULL;
    }
}


/* raw byte order, a prefix first: the order BEP 3 asks keys to be in */
ngx_int_t
ngx_tracker_torrent_keycmp(ngx_str_t *a, ngx_str_t *b)
{
    int  rc;

    rc = ngx_memcmp(a->data, b->data, ngx_min(a->len, b->len));

    if (rc != 0) {
        return rc;
    }

    return (a->len > b->len) - (a->len < b->len);
}


static void
ngx_tracker_torrent_emit(ngx_tracker_torrent_out_t *o, const u_char *data,
    size_t len)
{
    if (o->p && len) {
        o->p = ngx_cpymem(o->p, data, len);
    }

    o->size += len;
}


static void
ngx_tracker_torrent_emit_str(ngx_tracker_torrent_out_t *o,
    const u_char *data, size_t len)
{
    u_char   digits[NGX_SIZE_T_LEN + 1], *d;
    size_t   n;

    d = digits + sizeof(digits);
    *--d = ':';
    n = len;

    do {
        *--d = (u_char) ('0' + n % 10);
        n /= 10;
    } while (n);

    ngx_tracker_torrent_emit(o, d, digits + sizeof(digits) - d);
    ngx_tracker_torrent_emit(o, data, len);
}
