
/*
 * libFuzzer target: the announce and scrape query parsers, and the passkey
 * and percent-decoding helpers, on arbitrary bytes.
 *
 * Beyond "no crash" (ASan/UBSan), it checks what a handler relies on: a
 * successful announce parse has every required parameter and a port in
 * range; the scrape count pass and decode pass agree.
 */

#include "ngx_tracker_args.h"

#include <assert.h>
#include <stdlib.h>


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char                       *p, *hashes, out[256];
    size_t                        n;
    ngx_str_t                     passkey;
    ngx_uint_t                    count, count2;
    ngx_tracker_err_e             err;
    ngx_tracker_announce_args_t   a;

    /* a private copy, so reads past the end are caught by ASan */
    p = malloc(size ? size : 1);
    if (p == NULL) {
        return 0;
    }

    memcpy(p, data, size);

    err = ngx_tracker_parse_announce(p, p + size, &a);
    assert(err < NGX_TRACKER_ERR_LAST);
    assert(ngx_tracker_err_text(err)->len > 0);

    if (err == NGX_TRACKER_OK) {
        assert(a.has_info_hash && a.has_peer_id && a.has_port);
        assert(a.has_uploaded && a.has_downloaded && a.has_left);
        assert(a.port >= 1 && a.port <= 65535);
        assert(a.key.len <= NGX_TRACKER_TOKEN_MAXLEN);
        assert(a.left <= INT64_MAX && a.uploaded <= INT64_MAX);
    }

    ngx_str_null(&passkey);
    err = ngx_tracker_parse_scrape(p, p + size, NULL, 0, &count, &passkey);

    if (err == NGX_TRACKER_OK && count > 0) {
        hashes = malloc(count * NGX_TRACKER_HASH_LEN);
        if (hashes) {
            err = ngx_tracker_parse_scrape(p, p + size, hashes, count,
                                           &count2, NULL);
            assert(err != NGX_TRACKER_OK || count2 == count);
            free(hashes);
        }
    }

    if (ngx_tracker_unescape(out, sizeof(out), p, size, &n) == NGX_OK) {
        assert(n <= sizeof(out) && n <= size);
    }

    (void) ngx_tracker_passkey_valid(p, size);

    free(p);

    return 0;
}
