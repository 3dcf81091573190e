
/*
 * ngx_tracker: the token of a Gazelle client's Authorization header (see
 * ngx_tracker_gazelle_token.h).
 */

#include "ngx_tracker_gazelle_token.h"


/* a scheme word and one space, any case */
static ngx_uint_t
ngx_tracker_gazelle_scheme(u_char *p, u_char *end, const char *scheme)
{
    size_t  i, len;

    len = ngx_strlen(scheme);

    if ((size_t) (end - p) <= len || p[len] != ' ') {
        return 0;
    }

    for (i = 0; i < len; i++) {
        if (ngx_tolower(p[i]) != (u_char) scheme[i]) {
            return 0;
        }
    }

    return len + 1;
}


ngx_int_t
ngx_tracker_gazelle_token(u_char *p, u_char *end, ngx_str_t *token)
{
    u_char      *s;
    ngx_uint_t   n;

    while (p < end && *p == ' ') {
        p++;
    }

    while (end > p && end[-1] == ' ') {
        end--;
    }

    n = ngx_tracker_gazelle_scheme(p, end, "bearer");

    if (n == 0) {
        n = ngx_tracker_gazelle_scheme(p, end, "token");
    }

    p += n;

    while (p < end && *p == ' ') {
        p++;
    }

    if (p == end) {
        return NGX_DECLINED;
    }

    /* one word: anything with a space in it is another scheme */
    for (s = p; s < end; s++) {
        if (*s == ' ') {
            return NGX_DECLINED;
        }
    }

    token->data = p;
    token->len = end - p;

    return NGX_OK;
}
