
/*
 * libFuzzer target: an uploaded .torrent as POST /upload reads it, the
 * strict parser (src/ngx_tracker_torrent_file.c) and then the metadata
 * extractor (src/ngx_tracker_torrent_meta.c), on arbitrary bytes.
 *
 * Beyond "no crash" (ASan/UBSan) it checks what the SQL side relies on:
 * a refusal always says why; the size pass and the write pass agree; the
 * JSON is well-formed UTF-8 without NUL (a cheap structural check: the
 * brackets and quotes balance); the info hash is SHA-1 of the info bytes.
 * Inputs are mostly not torrents; the seeds (libtorrent's v1, v2 and
 * hybrid files) get the mutations past the parser.
 */

#include "ngx_tracker_torrent_meta.h"

#include <assert.h>
#include <stdlib.h>
#include <openssl/evp.h>


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


/* well-formed UTF-8 (what jsonb insists on), checked independently */
static void
check_utf8(const u_char *p, size_t len)
{
    size_t    i, n, k;
    uint32_t  c;

    for (i = 0; i < len; i += n) {
        if (p[i] < 0x80) {
            n = 1;
            continue;
        }

        n = (p[i] >= 0xf0) ? 4 : (p[i] >= 0xe0) ? 3 : 2;
        assert(p[i] >= 0xc2 && p[i] <= 0xf4 && i + n <= len);
        c = p[i] & (0x7f >> n);

        for (k = 1; k < n; k++) {
            assert((p[i + k] & 0xc0) == 0x80);
            c = (c << 6) | (p[i + k] & 0x3f);
        }

        /* shortest form, no surrogates, nothing above U+10FFFF */
        assert(c >= (n == 2 ? 0x80 : n == 3 ? 0x800 : 0x10000));
        assert(c <= 0x10ffff && (c < 0xd800 || c > 0xdfff));
    }
}


/* balanced brackets outside strings, strings closed, no raw controls */
static void
check_json(const u_char *p, size_t len)
{
    int          depth;
    size_t       i;
    ngx_uint_t   in_str;

    depth = 0;
    in_str = 0;

    for (i = 0; i < len; i++) {
        assert(p[i] != '\0');

        if (in_str) {
            assert(p[i] >= 0x20);

            if (p[i] == '\\') {
                i++;
                assert(i < len);

            } else if (p[i] == '"') {
                in_str = 0;
            }

            continue;
        }

        switch (p[i]) {
        case '"':
            in_str = 1;
            break;
        case '{':
        case '[':
            depth++;
            break;
        case '}':
        case ']':
            assert(--depth >= 0);
            break;
        }
    }

    assert(!in_str && depth == 0);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char                      *p, *out, md[EVP_MAX_MD_SIZE];
    size_t                       len, written;
    unsigned int                 mdlen;
    ngx_int_t                    rc;
    ngx_tracker_torrent_meta_t   m;
    ngx_tracker_torrent_file_t   t;

    /* a private copy, so reads past the end are caught by ASan */
    p = malloc(size ? size : 1);
    if (p == NULL) {
        return 0;
    }

    memcpy(p, data, size);

    if (ngx_tracker_torrent_parse(&t, p, size) != NGX_OK) {
        assert(t.error != NULL);
        free(p);
        return 0;
    }

    rc = ngx_tracker_torrent_meta(&m, &t);

    if (rc != NGX_OK) {
        assert(rc == NGX_DECLINED && m.error != NULL);
        free(p);
        return 0;
    }

    assert(m.version >= 1 && m.version <= 3 && m.nfiles > 0);
    assert(m.total >= 0 && m.piece_length > 0);

    assert(EVP_Digest(t.info.data, t.info.len, md, &mdlen, EVP_sha1(),
                      NULL));
    assert(memcmp(md, m.sha1, 20) == 0);

    len = ngx_tracker_torrent_meta_json(NULL, &m, &t);
    out = malloc(len + 1);
    assert(out != NULL);

    written = ngx_tracker_torrent_meta_json(out, &m, &t);
    assert(written == len);

    check_json(out, len);
    check_utf8(out, len);

    free(out);
    free(p);

    return 0;
}
