
/*
 * ngx_tracker: bencode writer (BEP 3).
 *
 * Self-contained on purpose: the fuzz target links this file alone and
 * checks every output with a strict decoder.
 */

#include "ngx_tracker_bencode.h"


/* writes the decimal digits of v, no sign, returns the new end */
static u_char *
ngx_tracker_bencode_digits(u_char *p, uint64_t v)
{
    u_char   tmp[NGX_INT64_LEN], *t;
    size_t   n;

    t = tmp + sizeof(tmp);

    do {
        *--t = (u_char) ('0' + v % 10);
        v /= 10;
    } while (v);

    n = tmp + sizeof(tmp) - t;
    ngx_memcpy(p, t, n);

    return p + n;
}


u_char *
ngx_tracker_bencode_int(u_char *p, int64_t v)
{
    uint64_t  u;

    *p++ = 'i';

    if (v < 0) {
        *p++ = '-';
        /* two's complement: also right for INT64_MIN */
        u = (uint64_t) 0 - (uint64_t) v;

    } else {
        u = (uint64_t) v;
    }

    p = ngx_tracker_bencode_digits(p, u);
    *p++ = 'e';

    return p;
}


u_char *
ngx_tracker_bencode_str(u_char *p, const u_char *s, size_t len)
{
    p = ngx_tracker_bencode_digits(p, len);
    *p++ = ':';

    if (len) {
        ngx_memcpy(p, s, len);
    }

    return p + len;
}


size_t
ngx_tracker_bencode_failure_len(const ngx_str_t *text)
{
    return 1 + NGX_TRACKER_BENCODE_KEY_LEN("failure reason")
           + NGX_TRACKER_BENCODE_STR_LEN(text->len) + 1;
}


u_char *
ngx_tracker_bencode_failure(u_char *p, const ngx_str_t *text)
{
    *p++ = 'd';
    p = ngx_tracker_bencode_key(p, "failure reason");
    p = ngx_tracker_bencode_str(p, text->data, text->len);
    *p++ = 'e';

    return p;
}
