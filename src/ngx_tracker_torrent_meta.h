
/*
 * ngx_tracker: what an uploaded .torrent says about itself.
 *
 * On a file ngx_tracker_torrent_parse() accepted (strict bencode), checks
 * the BEP 3 / BEP 52 structure (v1 "pieces" with "length" or "files", v2
 * "meta version" 2 with "file tree", both for a hybrid), computes the info
 * hashes over the exact bytes of the info dictionary (SHA-1, and SHA-256
 * for v2), and writes the facts as one JSON object for the SQL side:
 *
 *   {"version":1|2|3,"info_hash":"<40 hex>","info_hash_v2":"<64 hex>"|null,
 *    "name":..,"piece_length":n,"private":bool,"total_size":n,
 *    "file_count":n,"announce":..|null,"announce_list":[[..],..],
 *    "files":[{"path":..,"length":n,"offset":n},..]}
 *
 * version 3 is a hybrid.  Text that is not UTF-8 (or a NUL) is written as
 * U+FFFD: PostgreSQL's jsonb takes neither.  Padding files (attr "p") are
 * left out of "files" and of the total, but count in the offsets.
 *
 * Self-contained (no pools): the fuzz target links it with
 * ngx_tracker_torrent_file.c alone.
 */

#ifndef _NGX_TRACKER_TORRENT_META_H_INCLUDED_
#define _NGX_TRACKER_TORRENT_META_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_tracker_torrent_file.h"


typedef struct {
    ngx_uint_t         version;     /* 1 v1, 2 v2 only, 3 hybrid */
    u_char             sha1[20];
    u_char             sha256[32];
    ngx_str_t          name;
    int64_t            piece_length;
    int64_t            total;
    ngx_uint_t         nfiles;
    ngx_uint_t         private;

    /* bencoded values, data NULL when absent */
    ngx_str_t          announce;
    ngx_str_t          announce_list;
    ngx_str_t          files;       /* v1 "files" */
    ngx_str_t          file_tree;   /* v2 "file tree" */
    ngx_str_t          length;      /* v1 single file */

    const char        *error;       /* NGX_DECLINED: why */
} ngx_tracker_torrent_meta_t;


/*
 * t must have parsed.  NGX_OK: m filled; NGX_DECLINED: not a usable
 * torrent (m->error); NGX_ERROR: the digest failed.
 */
ngx_int_t ngx_tracker_torrent_meta(ngx_tracker_torrent_meta_t *m,
    ngx_tracker_torrent_file_t *t);

/*
 * The JSON object above.  p NULL: returns the size it needs; otherwise
 * writes it and returns its size.
 */
size_t ngx_tracker_torrent_meta_json(u_char *p,
    ngx_tracker_torrent_meta_t *m, ngx_tracker_torrent_file_t *t);


#endif /* _NGX_TRACKER_TORRENT_META_H_INCLUDED_ */
