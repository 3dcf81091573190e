
/*
 * ngx_tracker: the JSON API (/api/v1).
 *
 * A route is data: a method, a path pattern, whether a key is required, the
 * query parameters with their types and limits, and the SQL function that
 * answers it.  The handler matches the route, checks the parameters (errors
 * in the reference's Ajv shape), hashes the API key, and runs
 *
 *     SELECT status, content_type, disposition, body
 *       FROM api_<name>($1 key hash, $2 arguments as jsonb)
 *
 * in one round trip.  The function resolves the key, reads, and renders the
 * whole response body with PostgreSQL's JSON functions (ids and counters as
 * strings where the reference has strings), so the worker neither blocks
 * nor marshals rows one by one.
 */

#ifndef _NGX_TRACKER_API_H_INCLUDED_
#define _NGX_TRACKER_API_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <libpq-fe.h>

#include "ngx_tracker_json.h"


typedef enum {
    NGX_TRACKER_API_STRING = 0,
    NGX_TRACKER_API_INTEGER,
    NGX_TRACKER_API_NUMBER,
    NGX_TRACKER_API_BOOLEAN,
    NGX_TRACKER_API_ENUM,
    /* comma-separated in a query, an array in a JSON body; max: items */
    NGX_TRACKER_API_LIST
} ngx_tracker_api_type_e;


typedef struct {
    const char                 *name;
    ngx_tracker_api_type_e      type;
    unsigned                    required:1;
    unsigned                    has_min:1;
    unsigned                    has_max:1;
    int64_t                     min;          /* integer value, or length */
    int64_t                     max;
    const char                 *deflt;        /* sent when absent */
    const char *const          *values;       /* ENUM, NULL-terminated */
} ngx_tracker_api_param_t;


#define NGX_TRACKER_API_AUTH_OPTIONAL  0
#define NGX_TRACKER_API_AUTH_REQUIRED  1


/*
 * What the route's SQL returns.  JSON: one row (status, content_type,
 * disposition, body).  TORRENT and ZIP (ngx_tracker_api_downloads.c): the
 * same four columns and announce, tracker, name; when status is 200, TORRENT
 * is one stored .torrent served with announce put in, ZIP one row per
 * .torrent, served as a ZIP archive of them.
 */
#define NGX_TRACKER_API_JSON     0
#define NGX_TRACKER_API_TORRENT  1
#define NGX_TRACKER_API_ZIP      2


typedef struct {
    ngx_uint_t                  methods;      /* NGX_HTTP_GET|... */
    /* segments; "*" matches one segment, given to SQL as "id", "id2" */
    const char                 *pattern;
    ngx_uint_t                  auth;
    const char                 *sql;          /* the whole statement */
    const ngx_tracker_api_param_t  *params;   /* NULL-name terminated */
    ngx_uint_t                  kind;         /* NGX_TRACKER_API_JSON... */

    /*
     * Answer cache (tracker_api_cache_zone): > 0 keeps a 200 answer that
     * is the same for every caller this long; served from the cache it
     * carries "message": cache_hit.
     */
    ngx_msec_t                  cache_ttl;
    const char                 *cache_hit;

    /*
     * The whole JSON body, verbatim, as the member "body" of the
     * arguments: for nested values (objects, arrays of objects) that the
     * SQL checks itself.  Flat parameters are still checked here first.
     */
    unsigned                    raw_body:1;
} ngx_tracker_api_route_t;


/*
 * One table per group of endpoints (ngx_tracker_api_<group>.c), each ended
 * by a NULL pattern; ngx_tracker_api_routes.c lists the tables.  Routes use
 * designated initialisers: a positional one that leaves out fields added
 * later fails -Wmissing-field-initializers.
 */
extern const ngx_tracker_api_route_t  *ngx_tracker_api_tables[];

#define NGX_TRACKER_API_SQL(fn)                                               \
    "SELECT status, content_type, disposition, body FROM " fn "($1, $2)"

#define NGX_TRACKER_API_SQL_FILES(fn)                                         \
    "SELECT status, content_type, disposition, body, announce, tracker, "    \
    "name FROM " fn "($1, $2)"

#define ngx_tracker_api_null_route  { .pattern = NULL }


/* validation (ngx_tracker_api_validate.c) */

typedef struct {
    ngx_str_t                   message;      /* the top-level message */
    ngx_str_t                   errors;       /* the validate_errors array */
} ngx_tracker_api_invalid_t;

/*
 * Checks r's query (or, with body, the members of a JSON body) against
 * the route's parameters and appends them, typed, to the JSON object being
 * built in *args.  NGX_DECLINED: *invalid describes the first error.
 */
ngx_int_t ngx_tracker_api_validate(ngx_http_request_t *r,
    const ngx_tracker_api_param_t *params, ngx_tracker_json_body_t *body,
    ngx_str_t *args, ngx_tracker_api_invalid_t *invalid);

size_t ngx_tracker_api_args_size(ngx_http_request_t *r,
    const ngx_tracker_api_param_t *params, ngx_tracker_json_body_t *body);

ngx_int_t ngx_http_tracker_api_handler(ngx_http_request_t *r);


/* request bodies (ngx_tracker_api_body.c) */

#define NGX_TRACKER_API_BODY_METHODS                                          \
    (NGX_HTTP_POST|NGX_HTTP_PUT|NGX_HTTP_PATCH)

/*
 * The body read by ngx_http_read_client_request_body(), parsed for the
 * route's parameters.  NGX_DECLINED: not JSON; NGX_HTTP_...: an error
 * status (too large for the body buffer).
 */
ngx_int_t ngx_tracker_api_body(ngx_http_request_t *r,
    const ngx_tracker_api_param_t *params, ngx_tracker_json_body_t *body,
    ngx_str_t *raw);


/*
 * files (ngx_tracker_api_downloads.c): the body of a TORRENT or ZIP answer
 * from the rows.  NGX_DECLINED: no stored .torrent could be served.
 */
ngx_int_t ngx_tracker_api_files(ngx_http_request_t *r, PGresult *res,
    ngx_uint_t kind, ngx_str_t *out);


/*
 * Other front ends on this machinery (ngx_tracker_gazelle.c): they find
 * the key, pick the SQL function and build its arguments their own way,
 * then call it here like a route: same key hashing, same pool, same
 * (status, content_type, disposition, body) answer.  Their errors
 * (database down, failed statement) are rendered by front->error; a
 * front->result, when set, sees the result row before it is answered.
 */
typedef struct {
    ngx_int_t                 (*error)(ngx_http_request_t *r,
                                       ngx_uint_t status,
                                       const char *message);
    void                      (*result)(ngx_http_request_t *r,
                                        PGresult *res);
} ngx_tracker_api_front_t;

/* hash: 65 bytes, the SHA-256 hex of key and a NUL, as api_keys stores */
ngx_int_t ngx_tracker_api_key_hash(ngx_str_t *key, u_char *hash);

/*
 * Runs route->sql with key_hash (NULL or "": no key) and args (a JSON
 * object, NUL-terminated, in r's pool); returns what a content handler
 * returns (NGX_DONE while the query runs).
 */
ngx_int_t ngx_tracker_api_call(ngx_http_request_t *r,
    const ngx_tracker_api_route_t *route, u_char *key_hash, ngx_str_t *args,
    const ngx_tracker_api_front_t *front);


#endif /* _NGX_TRACKER_API_H_INCLUDED_ */
