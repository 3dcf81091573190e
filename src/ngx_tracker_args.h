
/*
 * ngx_tracker: announce and scrape query-string parsing.
 *
 * The parser works on the raw query string (r->args) without copies and
 * without calling into nginx at run time, so the fuzz target can link it
 * alone.  Every error names the parameter at fault.
 */

#ifndef _NGX_TRACKER_ARGS_H_INCLUDED_
#define _NGX_TRACKER_ARGS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


#define NGX_TRACKER_HASH_LEN      20
#define NGX_TRACKER_IP_MAXLEN     64     /* decoded ip= text */
#define NGX_TRACKER_TOKEN_MAXLEN  128    /* key, trackerid, passkey */


/* failure reasons; the table of messages is in ngx_tracker_args.c */
typedef enum {
    NGX_TRACKER_OK = 0,
    NGX_TRACKER_ERR_INFO_HASH_MISSING,
    NGX_TRACKER_ERR_INFO_HASH,
    NGX_TRACKER_ERR_PEER_ID_MISSING,
    NGX_TRACKER_ERR_PEER_ID,
    NGX_TRACKER_ERR_PORT_MISSING,
    NGX_TRACKER_ERR_PORT,
    NGX_TRACKER_ERR_UPLOADED_MISSING,
    NGX_TRACKER_ERR_UPLOADED,
    NGX_TRACKER_ERR_DOWNLOADED_MISSING,
    NGX_TRACKER_ERR_DOWNLOADED,
    NGX_TRACKER_ERR_LEFT_MISSING,
    NGX_TRACKER_ERR_LEFT,
    NGX_TRACKER_ERR_EVENT,
    NGX_TRACKER_ERR_NUMWANT,
    NGX_TRACKER_ERR_COMPACT,
    NGX_TRACKER_ERR_NO_PEER_ID,
    NGX_TRACKER_ERR_KEY,
    NGX_TRACKER_ERR_TRACKERID,
    NGX_TRACKER_ERR_IP,
    NGX_TRACKER_ERR_PASSKEY,
    NGX_TRACKER_ERR_FULL_SCRAPE,
    NGX_TRACKER_ERR_ZONE_FULL,
    NGX_TRACKER_ERR_PASSKEY_MISSING,
    NGX_TRACKER_ERR_PASSKEY_UNKNOWN,
    NGX_TRACKER_ERR_ACCOUNT_DISABLED,
    NGX_TRACKER_ERR_UNREGISTERED,
    NGX_TRACKER_ERR_LEECH_DENIED,
    NGX_TRACKER_ERR_DB_UNAVAILABLE,
    NGX_TRACKER_ERR_LAST
} ngx_tracker_err_e;


typedef enum {
    NGX_TRACKER_EVENT_NONE = 0,
    NGX_TRACKER_EVENT_STARTED,
    NGX_TRACKER_EVENT_COMPLETED,
    NGX_TRACKER_EVENT_STOPPED
} ngx_tracker_event_e;


typedef struct {
    u_char        info_hash[NGX_TRACKER_HASH_LEN];
    u_char        peer_id[NGX_TRACKER_HASH_LEN];
    uint64_t      uploaded;
    uint64_t      downloaded;
    uint64_t      left;
    ngx_uint_t    port;
    ngx_uint_t    numwant;          /* valid when has_numwant */
    ngx_uint_t    event;            /* ngx_tracker_event_e */

    ngx_str_t     key;              /* raw, still percent-encoded */
    ngx_str_t     trackerid;
    ngx_str_t     passkey;
    ngx_str_t     ip;               /* raw: only read if ip= is trusted */

    unsigned      has_info_hash:1;
    unsigned      has_peer_id:1;
    unsigned      has_port:1;
    unsigned      has_uploaded:1;
    unsigned      has_downloaded:1;
    unsigned      has_left:1;
    unsigned      has_numwant:1;
    unsigned      compact:1;        /* defaults to 1 */
    unsigned      no_peer_id:1;
} ngx_tracker_announce_args_t;


ngx_tracker_err_e ngx_tracker_parse_announce(u_char *p, u_char *last,
    ngx_tracker_announce_args_t *a);

/*
 * Scrape: counts the info_hash parameters first (so the caller can size
 * its array), then decodes them.  hashes may be NULL to only count.
 */
ngx_tracker_err_e ngx_tracker_parse_scrape(u_char *p, u_char *last,
    u_char *hashes, ngx_uint_t max, ngx_uint_t *n, ngx_str_t *passkey);

/*
 * The passkey of /<verb>/<passkey> or /<passkey>/<verb> (last two path
 * segments of start..last); passkey is left alone when there is none.
 */
ngx_tracker_err_e ngx_tracker_path_passkey(u_char *start, u_char *last,
    ngx_str_t *verb, ngx_str_t *passkey);

/* A passkey is 1..128 of [A-Za-z0-9_-]. */
ngx_int_t ngx_tracker_passkey_valid(u_char *p, size_t len);

/* Decodes %xx (either case) and '+'; NGX_ERROR on a bad escape. */
ngx_int_t ngx_tracker_unescape(u_char *dst, size_t dst_size, u_char *src,
    size_t len, size_t *out_len);

/* hex digits (either case) to bytes; NGX_ERROR on a bad digit */
ngx_int_t ngx_tracker_hex_decode(u_char *dst, u_char *src, size_t len);

const ngx_str_t *ngx_tracker_err_text(ngx_tracker_err_e err);
const char *ngx_tracker_err_name(ngx_tracker_err_e err);


#endif /* _NGX_TRACKER_ARGS_H_INCLUDED_ */
