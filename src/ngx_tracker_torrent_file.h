
/*
 * ngx_tracker: .torrent files as served to users.
 *
 * A stored .torrent gets our announce URL (the user's passkey URL or the
 * public one) as "announce" and as the first tier of "announce-list"; the
 * other trackers stay as later tiers.  Every other top-level value, and
 * above all "info", is copied byte for byte, so the info hash is the
 * stored one.
 *
 * Self-contained (no pools, no nginx core objects): the caller sizes and
 * owns the output, and the fuzz target links this file alone.
 */

#ifndef _NGX_TRACKER_TORRENT_FILE_H_INCLUDED_
#define _NGX_TRACKER_TORRENT_FILE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


/* nesting deeper than this is no .torrent anyone made */
#define NGX_TRACKER_TORRENT_MAX_DEPTH  64
#define NGX_TRACKER_TORRENT_MAX_SIZE   (64 * 1024 * 1024)


typedef struct {
    u_char            *start;       /* the stored file */
    u_char            *end;
    ngx_str_t          info;        /* the info value's bytes, "d...e" */
    const char        *error;       /* why it did not parse */
} ngx_tracker_torrent_file_t;


/*
 * Strict check of the whole file (one top-level dictionary with an "info"
 * dictionary, sorted unique keys everywhere, canonical integers and
 * lengths, nothing after it).  NGX_DECLINED with t->error set otherwise.
 */
ngx_int_t ngx_tracker_torrent_parse(ngx_tracker_torrent_file_t *t,
    u_char *data, size_t len);

/*
 * Writes the file with "announce" set to announce; announce-list becomes
 * [[announce], kept tiers...] where the kept tiers are the stored ones
 * (or the stored "announce" when there is no list) without announce,
 * tracker itself and tracker's "/..." URLs (other passkeys of ours).
 * With p NULL nothing is written: returns the size the output needs.
 * Otherwise returns the end of the output.  t must have parsed.
 */
size_t ngx_tracker_torrent_rewrite_size(ngx_tracker_torrent_file_t *t,
    ngx_str_t *announce, ngx_str_t *tracker);
u_char *ngx_tracker_torrent_rewrite(u_char *p, ngx_tracker_torrent_file_t *t,
    ngx_str_t *announce, ngx_str_t *tracker);


/*
 * The walker, for readers of a parsed file (ngx_tracker_torrent_meta.c):
 * each returns the end of what it read, or NULL with t->error set.  On a
 * file that parsed, none of them can fail.
 */
u_char *ngx_tracker_torrent_value(ngx_tracker_torrent_file_t *t, u_char *p,
    ngx_uint_t depth);
u_char *ngx_tracker_torrent_string(ngx_tracker_torrent_file_t *t, u_char *p,
    ngx_str_t *s);
/* a key and its value's bytes; p is at a key of a checked dictionary */
u_char *ngx_tracker_torrent_entry(ngx_tracker_torrent_file_t *t, u_char *p,
    ngx_str_t *key, ngx_str_t *value);
/* raw byte order, the order of BEP 3 keys */
ngx_int_t ngx_tracker_torrent_keycmp(ngx_str_t *a, ngx_str_t *b);


#endif /* _NGX_TRACKER_TORRENT_FILE_H_INCLUDED_ */
