
/*
 * libFuzzer target: the token of a Gazelle client's Authorization header
 * on arbitrary bytes.
 *
 * Beyond "no crash" (ASan/UBSan): a token found lies inside the value, is
 * one non-empty word, and parses to itself (no scheme is taken twice).
 */

#include "ngx_tracker_gazelle_token.h"

#include <assert.h>
#include <stdlib.h>


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char     *p;
    size_t      i;
    ngx_str_t   token, again;

    /* a private copy, so reads past the end are caught by ASan */
    p = malloc(size ? size : 1);
    if (p == NULL) {
        return 0;
    }

    memcpy(p, data, size);

    if (ngx_tracker_gazelle_token(p, p + size, &token) == NGX_OK) {
        assert(token.len > 0);
        assert(token.data >= p && token.data + token.len <= p + size);

        for (i = 0; i < token.len; i++) {
            assert(token.data[i] != ' ');
        }

        assert(ngx_tracker_gazelle_token(token.data,
                                         token.data + token.len, &again)
               == NGX_OK);
        assert(again.data == token.data && again.len == token.len);
    }

    free(p);

    return 0;
}
