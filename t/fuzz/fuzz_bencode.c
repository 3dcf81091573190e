
/*
 * libFuzzer target: the bencode writer.
 *
 * The input is read as a program: each byte picks an operation (integer,
 * string, key/integer pair, failure reply) and the following bytes are its
 * operands.  The output is written into a buffer sized with the writer's
 * own *_LEN macros (ASan catches any overrun), then decoded by a strict
 * reader written here, which must give back exactly what was written.
 */

#include "ngx_tracker_bencode.h"

#include <assert.h>
#include <stdlib.h>


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


/* strict: no leading zeros, no "-0", length prefixes within the input */
static const u_char *
decode_int(const u_char *p, const u_char *end, int64_t *v)
{
    int       neg;
    uint64_t  u;

    if (p == end || *p++ != 'i') {
        return NULL;
    }

    neg = (p < end && *p == '-');
    p += neg;

    if (p == end || *p < '0' || *p > '9' || (*p == '0' && p + 1 < end
                                             && p[1] != 'e'))
    {
        return NULL;
    }

    if (neg && *p == '0') {
        return NULL;
    }

    for (u = 0; p < end && *p >= '0' && *p <= '9'; p++) {
        u = u * 10 + (*p - '0');
    }

    if (p == end || *p++ != 'e') {
        return NULL;
    }

    *v = neg ? (int64_t) (0 - u) : (int64_t) u;

    return p;
}


static const u_char *
decode_str(const u_char *p, const u_char *end, const u_char **s, size_t *len)
{
    size_t  n;

    if (p == end || *p < '0' || *p > '9' || (*p == '0' && p + 1 < end
                                             && p[1] != ':'))
    {
        return NULL;
    }

    for (n = 0; p < end && *p >= '0' && *p <= '9'; p++) {
        n = n * 10 + (*p - '0');
    }

    if (p == end || *p++ != ':' || (size_t) (end - p) < n) {
        return NULL;
    }

    *s = p;
    *len = n;

    return p + n;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char        *buf, *p;
    size_t         i, need, len, slen;
    int64_t        v, dv;
    ngx_str_t      text;
    const u_char  *q, *end, *s;

    /* first pass: the size the writer's macros promise */
    need = 0;

    for (i = 0; i < size; ) {
        switch (data[i++] % 4) {

        case 0:
        case 2:
            need += (data[i - 1] % 4 == 2) ? NGX_TRACKER_BENCODE_KEY_LEN("k")
                                           : 0;
            need += NGX_TRACKER_BENCODE_INT_LEN;
            i += 8;
            break;

        case 1:
            len = (i < size) ? data[i] : 0;
            i++;
            len = ngx_min(len, size - ngx_min(i, size));
            need += NGX_TRACKER_BENCODE_STR_LEN(len);
            i += len;
            break;

        default:
            len = (i < size) ? data[i] : 0;
            i++;
            len = ngx_min(len, size - ngx_min(i, size));
            text.len = len;
            need += ngx_tracker_bencode_failure_len(&text);
            i += len;
            break;
        }
    }

    buf = malloc(need ? need : 1);
    if (buf == NULL) {
        return 0;
    }

    /* second pass: write, then read back what was just written */
    p = buf;

    for (i = 0; i < size; ) {
        q = p;

        switch (data[i++] % 4) {

        case 0:
        case 2:
            v = 0;
            memcpy(&v, data + i, i < size ? ngx_min(8, size - i) : 0);
            i += 8;

            if (data[i - 9] % 4 == 2) {
                p = ngx_tracker_bencode_key_int(p, "k", v);
                assert(memcmp(q, "1:k", 3) == 0);
                q += 3;

            } else {
                p = ngx_tracker_bencode_int(p, v);
            }

            q = decode_int(q, p, &dv);
            assert(q == p && dv == v);
            break;

        case 1:
        default:
            len = (i < size) ? data[i] : 0;
            i++;
            len = ngx_min(len, size - ngx_min(i, size));

            if (data[i - 2] % 4 == 1) {
                p = ngx_tracker_bencode_str(p, data + i, len);
                q = decode_str(q, p, &s, &slen);
                assert(q == p && slen == len && memcmp(s, data + i, len) == 0);

            } else {
                text.data = (u_char *) data + i;
                text.len = len;
                p = ngx_tracker_bencode_failure(p, &text);
                assert(*q == 'd' && p[-1] == 'e');
                end = p - 1;
                q = decode_str(q + 1, end, &s, &slen);
                assert(q && slen == 14 && memcmp(s, "failure reason", 14) == 0);
                q = decode_str(q, end, &s, &slen);
                assert(q == end && slen == len);
            }

            i += len;
            break;
        }

        assert((size_t) (p - buf) <= need);
    }

    free(buf);

    return 0;
}
