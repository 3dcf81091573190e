
/*
 * ngx_tracker: rate limits, temporary bans and the address ban list, kept
 * in shared-memory zones of their own (ngx_http_tracker_limit_module).
 *
 * What other parts of the tracker call:
 *
 *   ngx_tracker_limit_penalize(r)      a request failed authentication (bad
 *                                      passkey, bad API key): charge the
 *                                      location's on=failure buckets, or
 *                                      count an offence for the address
 *   ngx_tracker_limit_ban_replace()    replace the whole ban list of one
 *                                      source (e.g. the PostgreSQL table) in
 *                                      every limit zone, atomically
 *   ngx_tracker_limit_ban_load_failed()
 *                                      a load of one source's list failed
 *                                      (its last list stays): counted
 *   ngx_tracker_limit_parse_ban()      text ("192.0.2.0/24", "2001:db8::1")
 *                                      into a ban entry
 *   ngx_tracker_limit_status_size()    the status page section
 *   ngx_tracker_limit_status()
 */

#ifndef _NGX_TRACKER_LIMIT_H_INCLUDED_
#define _NGX_TRACKER_LIMIT_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


/* where a ban came from; each source's list is replaced as a whole */
#define NGX_TRACKER_BAN_STATIC     0       /* tracker_ban directives */
#define NGX_TRACKER_BAN_DB         1       /* the database's ban table */
#define NGX_TRACKER_BAN_TEMPORARY  2       /* repeated offenders */
#define NGX_TRACKER_BAN_SOURCES    3


typedef struct {
    ngx_uint_t        family;              /* AF_INET or AF_INET6 */
    ngx_uint_t        prefix;              /* 0..32 or 0..128 */
    u_char            addr[16];            /* network order, masked */
    time_t            expires;             /* unix time; 0: permanent */
} ngx_tracker_ban_t;


extern ngx_module_t  ngx_http_tracker_limit_module;


ngx_int_t ngx_tracker_limit_penalize(ngx_http_request_t *r);

ngx_int_t ngx_tracker_limit_ban_replace(ngx_cycle_t *cycle,
    ngx_uint_t source, ngx_tracker_ban_t *bans, ngx_uint_t n);

void ngx_tracker_limit_ban_load_failed(ngx_cycle_t *cycle,
    ngx_uint_t source);

ngx_int_t ngx_tracker_limit_parse_ban(u_char *text, size_t len,
    ngx_tracker_ban_t *ban);

size_t ngx_tracker_limit_status_size(ngx_http_request_t *r);
u_char *ngx_tracker_limit_status(ngx_http_request_t *r, u_char *p,
    ngx_uint_t prom);


#endif /* _NGX_TRACKER_LIMIT_H_INCLUDED_ */
