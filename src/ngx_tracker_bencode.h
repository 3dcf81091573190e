
/*
 * ngx_tracker: bencode writer.
 *
 * Replies are built in one buffer whose size the caller computes first
 * with the *_LEN macros, so writing never checks bounds twice and never
 * reallocates.
 */

#ifndef _NGX_TRACKER_BENCODE_H_INCLUDED_
#define _NGX_TRACKER_BENCODE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


/* "i" + "-9223372036854775808" + "e" */
#define NGX_TRACKER_BENCODE_INT_LEN   (NGX_INT64_LEN + 2)

/* "<len>:" prefix of a string */
#define NGX_TRACKER_BENCODE_STR_LEN(len)  (NGX_SIZE_T_LEN + 1 + (len))

/* a dictionary key given as a literal: "<len>:<key>" */
#define NGX_TRACKER_BENCODE_KEY_LEN(lit)                                      \
    (NGX_SIZE_T_LEN + 1 + sizeof(lit) - 1)


u_char *ngx_tracker_bencode_int(u_char *p, int64_t v);
u_char *ngx_tracker_bencode_str(u_char *p, const u_char *s, size_t len);

#define ngx_tracker_bencode_key(p, lit)                                       \
    ngx_tracker_bencode_str(p, (const u_char *) lit, sizeof(lit) - 1)

/* "<key><int>" in one call, the common case of a tracker reply */
#define ngx_tracker_bencode_key_int(p, lit, v)                                \
    ngx_tracker_bencode_int(ngx_tracker_bencode_key(p, lit), v)

/* d14:failure reason<len>:<text>e */
size_t ngx_tracker_bencode_failure_len(const ngx_str_t *text);
u_char *ngx_tracker_bencode_failure(u_char *p, const ngx_str_t *text);


#endif /* _NGX_TRACKER_BENCODE_H_INCLUDED_ */
