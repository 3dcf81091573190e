
/*
 * libFuzzer target: JSON request bodies (src/ngx_tracker_json.c) on
 * arbitrary bytes.
 *
 * Beyond "no crash" (ASan/UBSan), it checks what the API's parameter
 * checks rely on: every recorded text lies within the scratch buffer;
 * booleans are "true" or "false"; a body accepted here is JSON for
 * yajl's tree parser too, and one it refuses is not (unless only nested
 * too deep or commented, which this parser refuses on purpose).
 */

#include "ngx_tracker_json.h"

#include <assert.h>
#include <stdlib.h>
#include <yajl/yajl_tree.h>


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char                    *p, *scratch, *z;
    char                       err[128];
    size_t                     ssize;
    ngx_int_t                  rc;
    ngx_uint_t                 i;
    yajl_val                   tree;
    ngx_tracker_json_body_t    b;
    ngx_tracker_json_field_t   fields[3];

    static const char *const  names[] = { "ids", "public", "limit" };

    p = malloc(size ? size : 1);
    ssize = NGX_TRACKER_JSON_SCRATCH(size);
    scratch = malloc(ssize);
    z = malloc(size + 1);

    if (p == NULL || scratch == NULL || z == NULL) {
        free(p);
        free(scratch);
        free(z);
        return 0;
    }

    memcpy(p, data, size);

    b.names = names;
    b.nnames = 3;
    b.fields = fields;
    b.scratch = scratch;

    rc = ngx_tracker_json_body(&b, p, size, NULL);
    assert(rc == NGX_OK || rc == NGX_DECLINED);

    if (rc == NGX_OK) {
        for (i = 0; i < 3; i++) {
            if (fields[i].type == NGX_TRACKER_JSON_ABSENT) {
                continue;
            }

            assert(fields[i].text.len == 0
                   || (fields[i].text.data >= scratch
                       && fields[i].text.data + fields[i].text.len
                          <= scratch + ssize));

            if (fields[i].type == NGX_TRACKER_JSON_BOOLEAN) {
                assert(fields[i].text.len == 4 || fields[i].text.len == 5);
            }

            if (fields[i].type != NGX_TRACKER_JSON_ARRAY) {
                assert(fields[i].nitems == 0 && fields[i].bad_item == -1);
            }

            assert(fields[i].bad_item < (ngx_int_t) fields[i].nitems);
        }

    } else {
        assert(b.error != NULL);
    }

    /* the tree parser reads a C string: compare only without NULs */
    if (memchr(p, '\0', size) == NULL) {
        memcpy(z, p, size);
        z[size] = '\0';

        tree = yajl_tree_parse((char *) z, err, sizeof(err));

        if (rc == NGX_OK) {
            assert(tree != NULL);

        } else if (strcmp(b.error, "nested too deep") != 0
                   && memchr(p, '/', size) == NULL)
        {
            /* yajl_tree_parse() allows comments, which bodies may not */
            assert(tree == NULL);
        }

        yajl_tree_free(tree);
    }

    free(z);
    free(scratch);
    free(p);

    return 0;
}
