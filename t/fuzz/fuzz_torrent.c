
/*
 * libFuzzer target: the .torrent rewriter (src/ngx_tracker_torrent_file.c)
 * on arbitrary bytes.
 *
 * Beyond "no crash" (ASan/UBSan), it checks what downloads rely on: the
 * size pass and the write pass agree; the output parses again; its info
 * dictionary is the input's, byte for byte (same info hash); rewriting
 * the output again changes nothing.
 */

#include "ngx_tracker_torrent_file.h"

#include <assert.h>
#include <stdlib.h>


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


static void
rewrite(ngx_tracker_torrent_file_t *t, ngx_str_t *announce,
    ngx_str_t *tracker, u_char **out, size_t *len)
{
    u_char  *end;

    *len = ngx_tracker_torrent_rewrite_size(t, announce, tracker);
    *out = malloc(*len ? *len : 1);
    assert(*out != NULL);

    end = ngx_tracker_torrent_rewrite(*out, t, announce, tracker);
    assert((size_t) (end - *out) == *len);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char                      *p, *out, *out2;
    size_t                       len, len2;
    ngx_str_t                    announce, tracker;
    ngx_tracker_torrent_file_t   t, t2, t3;

    static ngx_str_t  urls[] = {
        ngx_string("http://t.test/announce/0123456789abcdef0123456789abcdef"),
        ngx_string("http://t.test/announce"),
        ngx_string("")
    };

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

    assert(t.info.data > p && t.info.data + t.info.len < p + size);
    assert(t.info.data[0] == 'd' && t.info.data[t.info.len - 1] == 'e');

    /* the passkey URL, or the public one; the tracker is always ours */
    announce = urls[size % 2];
    tracker = urls[1];

    rewrite(&t, &announce, &tracker, &out, &len);

    assert(ngx_tracker_torrent_parse(&t2, out, len) == NGX_OK);
    assert(t2.info.len == t.info.len);
    assert(memcmp(t2.info.data, t.info.data, t.info.len) == 0);

    rewrite(&t2, &announce, &tracker, &out2, &len2);
    assert(len2 == len && memcmp(out, out2, len) == 0);

    /* no tracker of ours known: only the exact URL is taken out */
    tracker = urls[2];
    free(out2);
    rewrite(&t, &announce, &tracker, &out2, &len2);
    assert(ngx_tracker_torrent_parse(&t3, out2, len2) == NGX_OK);
    assert(t3.info.len == t.info.len);

    free(out2);
    free(out);
    free(p);

    return 0;
}
