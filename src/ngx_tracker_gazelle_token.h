
/*
 * ngx_tracker: the token of a Gazelle client's Authorization header.
 *
 * Gazelle forks and their clients send "Bearer <t>" (RFC 6750),
 * "token <t>", or the bare token.  Self-contained (no pools, no nginx
 * core objects): the fuzz target links this file alone.
 */

#ifndef _NGX_TRACKER_GAZELLE_TOKEN_H_INCLUDED_
#define _NGX_TRACKER_GAZELLE_TOKEN_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


/*
 * The token in [p, end), inside the header value (no copy).  NGX_DECLINED:
 * none (empty, or another scheme such as "Basic ...").
 */
ngx_int_t ngx_tracker_gazelle_token(u_char *p, u_char *end,
    ngx_str_t *token);


#endif /* _NGX_TRACKER_GAZELLE_TOKEN_H_INCLUDED_ */
