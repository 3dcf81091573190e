
/*
 * libFuzzer target: the UDP tracker's datagram parser (BEP 15 + BEP 41)
 * and the passkey rule of its URL data, on arbitrary bytes.
 *
 * Beyond "no crash" (ASan/UBSan), it checks what the handler relies on: an
 * accepted datagram is a connect, announce or scrape of a valid length;
 * the URL data fits its buffer; a scrape has 1..74 whole hashes inside the
 * datagram; an extracted passkey is well formed and lies inside the URL.
 */

#include "ngx_tracker_udp_parse.h"

#include <assert.h>
#include <stdlib.h>


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char                  *p, url[NGX_TRACKER_UDP_URL_MAX], out[64];
    ngx_str_t                passkey, text;
    ngx_tracker_err_e        err;
    ngx_tracker_udp_req_t    req;
    ngx_tracker_udp_drop_e   drop;

    /* a private copy, so reads past the end are caught by ASan */
    p = malloc(size ? size : 1);
    if (p == NULL) {
        return 0;
    }

    memcpy(p, data, size);

    drop = ngx_tracker_udp_parse(p, size, url, &req);
    assert(drop < NGX_TRACKER_UDP_DROP_LAST);
    assert(ngx_tracker_udp_drop_name(drop)[0] != '\0');

    if (drop == NGX_TRACKER_UDP_OK) {
        assert(size >= NGX_TRACKER_UDP_HEADER_LEN
               && size <= NGX_TRACKER_UDP_MAX_DATAGRAM);
        assert(req.connection_id == p);

        switch (req.action) {

        case NGX_TRACKER_UDP_CONNECT:
            break;

        case NGX_TRACKER_UDP_ANNOUNCE:
            assert(size >= NGX_TRACKER_UDP_ANNOUNCE_LEN);
            assert(req.info_hash == p + 16 && req.peer_id == p + 36);
            assert(req.url.data == url
                   && req.url.len <= NGX_TRACKER_UDP_URL_MAX);
            assert(req.url.len <= size - NGX_TRACKER_UDP_ANNOUNCE_LEN);

            err = ngx_tracker_udp_url_passkey(&req.url, &passkey);
            assert(err == NGX_TRACKER_OK || err == NGX_TRACKER_ERR_PASSKEY);

            if (err == NGX_TRACKER_OK && passkey.len) {
                assert(passkey.data >= url
                       && passkey.data + passkey.len <= url + req.url.len);
                assert(ngx_tracker_passkey_valid(passkey.data, passkey.len));
            }

            break;

        case NGX_TRACKER_UDP_SCRAPE:
            assert(req.nhashes >= 1
                   && req.nhashes <= NGX_TRACKER_UDP_MAX_HASHES);
            assert(req.hashes + req.nhashes * NGX_TRACKER_HASH_LEN
                   == p + size);
            break;

        default:
            assert(0);
        }

        text.data = p;
        text.len = size < 32 ? size : 32;
        assert(ngx_tracker_udp_write_error(out, req.transaction_id, &text)
               == out + 8 + text.len);
    }

    free(p);

    return 0;
}
