
/*
 * ngx_tracker: UDP tracker datagrams (BEP 15) and their URL data options
 * (BEP 41), parsed and written without calling into nginx at run time, so
 * that the fuzz target can link this file alone (with ngx_tracker_args.c).
 *
 * A datagram that does not parse is dropped without a reply: the reason is
 * only counted.  A datagram that parses may still be refused (bad
 * connection id, bad passkey...): that gets an error reply (action 3).
 */

#ifndef _NGX_TRACKER_UDP_PARSE_H_INCLUDED_
#define _NGX_TRACKER_UDP_PARSE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_tracker_args.h"


#define NGX_TRACKER_UDP_PROTOCOL_ID    0x41727101980ULL

#define NGX_TRACKER_UDP_CONNECT        0
#define NGX_TRACKER_UDP_ANNOUNCE       1
#define NGX_TRACKER_UDP_SCRAPE         2
#define NGX_TRACKER_UDP_ERROR          3

#define NGX_TRACKER_UDP_HEADER_LEN     16
#define NGX_TRACKER_UDP_ANNOUNCE_LEN   98
#define NGX_TRACKER_UDP_MAX_HASHES     74

/* the longest datagram taken: a scrape of 74 hashes */
#define NGX_TRACKER_UDP_MAX_DATAGRAM                                          \
    (NGX_TRACKER_UDP_HEADER_LEN                                               \
     + NGX_TRACKER_UDP_MAX_HASHES * NGX_TRACKER_HASH_LEN)
/* URL data chunks joined; BEP 41 puts no limit, this is generous */
#define NGX_TRACKER_UDP_URL_MAX        1024

/* BEP 41 option types */
#define NGX_TRACKER_UDP_OPT_END        0
#define NGX_TRACKER_UDP_OPT_NOP        1
#define NGX_TRACKER_UDP_OPT_URL_DATA   2

/* BEP 15 events */
#define NGX_TRACKER_UDP_EVENT_NONE       0
#define NGX_TRACKER_UDP_EVENT_COMPLETED  1
#define NGX_TRACKER_UDP_EVENT_STARTED    2
#define NGX_TRACKER_UDP_EVENT_STOPPED    3

/* reply sizes: header, and one scrape entry */
#define NGX_TRACKER_UDP_CONNECT_REPLY  16
#define NGX_TRACKER_UDP_ANNOUNCE_REPLY 20
#define NGX_TRACKER_UDP_SCRAPE_ENTRY   12


/* why a datagram was dropped; names in ngx_tracker_udp_drop_name() */
typedef enum {
    NGX_TRACKER_UDP_OK = 0,
    NGX_TRACKER_UDP_DROP_SHORT,        /* shorter than its action needs */
    NGX_TRACKER_UDP_DROP_OVERSIZED,    /* longer than any valid request */
    NGX_TRACKER_UDP_DROP_PROTOCOL,     /* connect without the protocol id */
    NGX_TRACKER_UDP_DROP_ACTION,       /* unknown action, or an error */
    NGX_TRACKER_UDP_DROP_OPTIONS,      /* BEP 41 option past the end */
    NGX_TRACKER_UDP_DROP_SCRAPE,       /* not whole hashes, none, too many */
    NGX_TRACKER_UDP_DROP_LAST
} ngx_tracker_udp_drop_e;


typedef struct {
    uint32_t          action;
    uint32_t          transaction_id;     /* as sent: echoed back raw */
    u_char           *connection_id;      /* 8 bytes */

    /* announce */
    u_char           *info_hash;
    u_char           *peer_id;
    uint64_t          downloaded;
    uint64_t          left;
    uint64_t          uploaded;
    uint32_t          event;              /* BEP 15 numbering */
    uint32_t          key;
    int32_t           num_want;           /* -1: the default */
    in_port_t         port;               /* network byte order */
    ngx_str_t         url;                /* BEP 41 URL data, joined */

    /* scrape */
    u_char           *hashes;
    ngx_uint_t        nhashes;
} ngx_tracker_udp_req_t;


/*
 * Parses one datagram.  url_buf (NGX_TRACKER_UDP_URL_MAX bytes) receives
 * the joined URL data of an announce; req points into p and url_buf.
 */
ngx_tracker_udp_drop_e ngx_tracker_udp_parse(u_char *p, size_t len,
    u_char *url_buf, ngx_tracker_udp_req_t *req);

/*
 * The passkey of BEP 41 URL data: "/announce/<pk>", "/<pk>/announce" or
 * "?passkey=<pk>".  NGX_TRACKER_ERR_PASSKEY when one is there but is
 * malformed; passkey->len is 0 when there is none.
 */
ngx_tracker_err_e ngx_tracker_udp_url_passkey(ngx_str_t *url,
    ngx_str_t *passkey);

/* reply writers: return the end of what they wrote */
u_char *ngx_tracker_udp_write_header(u_char *p, uint32_t action,
    uint32_t transaction_id);
u_char *ngx_tracker_udp_write_u32(u_char *p, uint32_t v);
u_char *ngx_tracker_udp_write_error(u_char *p, uint32_t transaction_id,
    const ngx_str_t *text);

const char *ngx_tracker_udp_drop_name(ngx_tracker_udp_drop_e reason);


#endif /* _NGX_TRACKER_UDP_PARSE_H_INCLUDED_ */
