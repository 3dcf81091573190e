
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


/*
 * A route's own step in C between the checks and the SQL (for what SQL
 * cannot do well: decoding and hashing uploaded files).  NGX_OK: *extra
 * holds members to add to the arguments ("name":value,... without braces;
 * may be empty); NGX_DECLINED: the request is refused with *status and
 * {"error":true,"message":*message}; NGX_ERROR: 500.
 */
typedef ngx_int_t (*ngx_tracker_api_prepare_pt)(ngx_http_request_t *r,
    ngx_tracker_json_body_t *body, ngx_str_t *extra, ngx_uint_t *status,
    const char **message);


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

    /*
     * With raw_body: the body may also be a JSON array (or any value), not
     * only an object; the SQL checks its shape.  The route declares no
     * parameters then.
     */
    unsigned                    body_any:1;

    /*
     * The parameters come from the query string whatever the method (the
     * reference puts some of a POST's there); a body is not read.
     */
    unsigned                    query:1;
    ngx_tracker_api_prepare_pt  prepare;      /* NULL: none */
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


/*
 * The same machinery for other surfaces (Torznab and RSS,
 * ngx_tracker_torznab.c): their own route tables, the key from a query
 * argument rather than Bearer/ssid, and errors in their clients' format
 * (error: 404, 405, 401, 413, 500 "Internal Error", 503 "Database
 * unavailable."; invalid: a parameter failed its check).
 */
typedef ngx_int_t (*ngx_tracker_api_error_pt)(ngx_http_request_t *r,
    ngx_uint_t status, const char *message);
typedef ngx_int_t (*ngx_tracker_api_invalid_pt)(ngx_http_request_t *r,
    ngx_tracker_api_invalid_t *invalid);

typedef struct {
    const ngx_tracker_api_route_t *const  *tables;   /* NULL-terminated */
    ngx_str_t                   key_arg;      /* empty: Bearer or ssid */
    ngx_tracker_api_error_pt    error;
    ngx_tracker_api_invalid_pt  invalid;
    /* NULL, or sees the result row before it is answered */
    void                      (*result)(ngx_http_request_t *r,
                                        PGresult *res);
} ngx_tracker_api_surface_t;

ngx_int_t ngx_tracker_api_serve(ngx_http_request_t *r,
    const ngx_tracker_api_surface_t *surface);

/* the route of path in tables; captures: up to 2 "*" segments */
const ngx_tracker_api_route_t *ngx_tracker_api_match(ngx_http_request_t *r,
    const ngx_tracker_api_route_t *const *tables, ngx_str_t *path,
    ngx_str_t *captures, ngx_uint_t *ncaptures, ngx_uint_t *wrong_method);


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
 * A front end with its own dispatch (ngx_tracker_gazelle.c) finds the key,
 * picks the route and builds its arguments its own way, then runs it here:
 * same key hashing, same pool, same (status, content_type, disposition,
 * body) answer; its surface renders the errors (tables, key_arg and invalid
 * are not used) and its result hook, when set, sees the result row first.
 */

/* hash: 65 bytes, the SHA-256 hex of key and a NUL, as api_keys stores */
ngx_int_t ngx_tracker_api_key_hash(ngx_str_t *key, u_char *hash);

/*
 * Runs route->sql with key_hash (NULL or "": no key) and args (a JSON
 * object, NUL-terminated, in r's pool); returns what a content handler
 * returns (NGX_DONE while the query runs).
 */
ngx_int_t ngx_tracker_api_call(ngx_http_request_t *r,
    const ngx_tracker_api_route_t *route, u_char *key_hash, ngx_str_t *args,
    const ngx_tracker_api_surface_t *surface);


#endif /* _NGX_TRACKER_API_H_INCLUDED_ */
