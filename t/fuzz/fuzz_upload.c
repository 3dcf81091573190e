
/*
 * libFuzzer target: an uploaded .torrent as POST /upload reads it, the
 * strict parser (src/ngx_tracker_torrent_file.c) and then the metadata
 * extractor (src/ngx_tracker_torrent_meta.c), on arbitrary bytes.
 *
 * Beyond "no crash" (ASan/UBSan) it checks what the SQL side relies on:
 * a refusal always says why; the size pass and the write pass agree; the
 * JSON is well-formed UTF-8 without NUL (a cheap structural check: the
 * brackets and quotes balance); the info hash is SHA-1 of the info bytes.
 */

#include "ngx_tracker_torrent_meta.h"

#include <assert.h>
#include <stdlib.h>
#include <openssl/evp.h>


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


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

    free(out);
    free(p);

    return 0;
}
