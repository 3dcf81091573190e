
/*
 * ngx_tracker: JSON request bodies (yajl's event parser).
 *
 * A body is an object whose members of interest are named in advance
 * (the route's parameters).  For each one the parser records the JSON
 * type and the text of the value; arrays are kept as their items joined
 * with commas (items that are neither strings nor numbers are noted), so
 * the parameter checks of query strings apply unchanged.  Anything else
 * in the body is checked to be JSON and otherwise ignored.
 *
 * Self-contained (the allocator comes from the caller; no nginx core
 * objects), so the fuzz target links it alone.
 */

#ifndef _NGX_TRACKER_JSON_H_INCLUDED_
#define _NGX_TRACKER_JSON_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include <yajl/yajl_parse.h>


#define NGX_TRACKER_JSON_MAX_DEPTH  32


typedef enum {
    NGX_TRACKER_JSON_ABSENT = 0,
    NGX_TRACKER_JSON_NULL,
    NGX_TRACKER_JSON_BOOLEAN,
    NGX_TRACKER_JSON_NUMBER,
    NGX_TRACKER_JSON_STRING,
    NGX_TRACKER_JSON_ARRAY,
    NGX_TRACKER_JSON_OBJECT
} ngx_tracker_json_type_e;


typedef struct {
    ngx_tracker_json_type_e   type;
    ngx_str_t                 text;      /* array: items joined by ',' */
    ngx_uint_t                nitems;
    ngx_int_t                 bad_item;  /* not a string or number; -1 */
} ngx_tracker_json_field_t;


typedef struct {
    /* in */
    const char *const        *names;
    ngx_uint_t                nnames;
    ngx_tracker_json_field_t *fields;    /* nnames of them */
    u_char                   *scratch;   /* NGX_TRACKER_JSON_SCRATCH(len) */

    /* out */
    unsigned                  not_object:1;
    const char               *error;     /* NGX_DECLINED: why */

    /* parser state */
    u_char                   *pos;
    ngx_uint_t                depth;
    ngx_int_t                 member;    /* named member being read */
    ngx_int_t                 array;     /* named member, an array */
} ngx_tracker_json_body_t;


/* decoded text never outgrows the JSON; commas join items */
#define NGX_TRACKER_JSON_SCRATCH(len)  (2 * (len) + 1)


/*
 * NGX_OK: b->fields filled (b->not_object: the body is JSON but not an
 * object); NGX_DECLINED: not JSON (b->error); NGX_ERROR: no memory.
 * afs NULL: yajl's own allocator.
 */
ngx_int_t ngx_tracker_json_body(ngx_tracker_json_body_t *b, u_char *data,
    size_t len, yajl_alloc_funcs *afs);


#endif /* _NGX_TRACKER_JSON_H_INCLUDED_ */
