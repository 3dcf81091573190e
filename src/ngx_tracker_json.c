
/*
 * ngx_tracker: JSON request bodies (see ngx_tracker_json.h).
 */

#include "ngx_tracker_json.h"


static int ngx_tracker_json_null(void *ctx);
static int ngx_tracker_json_boolean(void *ctx, int v);
static int ngx_tracker_json_number(void *ctx, const char *s, size_t len);
static int ngx_tracker_json_string(void *ctx, const unsigned char *s,
    size_t len);
static int ngx_tracker_json_start_map(void *ctx);
static int ngx_tracker_json_map_key(void *ctx, const unsigned char *s,
    size_t len);
static int ngx_tracker_json_end(void *ctx);
static int ngx_tracker_json_start_array(void *ctx);


static yajl_callbacks  ngx_tracker_json_callbacks = {
    ngx_tracker_json_null,
    ngx_tracker_json_boolean,
    NULL,                               /* integers and doubles come as */
    NULL,                               /* text to the number callback */
    ngx_tracker_json_number,
    ngx_tracker_json_string,
    ngx_tracker_json_start_map,
    ngx_tracker_json_map_key,
    ngx_tracker_json_end,
    ngx_tracker_json_start_array,
    ngx_tracker_json_end
};


ngx_int_t
ngx_tracker_json_body(ngx_tracker_json_body_t *b, u_char *data, size_t len,
    yajl_alloc_funcs *afs)
{
    ngx_uint_t     i;
    yajl_status    st;
    yajl_handle    h;

    for (i = 0; i < b->nnames; i++) {
        b->fields[i].type = NGX_TRACKER_JSON_ABSENT;
        b->fields[i].text.len = 0;
        b->fields[i].text.data = NULL;
        b->fields[i].nitems = 0;
        b->fields[i].bad_item = -1;
    }

    b->not_object = 0;
    b->error = NULL;
    b->pos = b->scratch;
    b->depth = 0;
    b->member = -1;
    b->array = -1;

    h = yajl_alloc(&ngx_tracker_json_callbacks, afs, b);
    if (h == NULL) {
        return NGX_ERROR;
    }

    st = yajl_parse(h, data, len);

    if (st == yajl_status_ok) {
        st = yajl_complete_parse(h);
    }

    yajl_free(h);

    if (st != yajl_status_ok) {
        if (b->error == NULL) {
            b->error = "not valid JSON";
        }

        return NGX_DECLINED;
    }

    if (b->depth != 0) {
        /* yajl does not stop short of the end, but to be sure */
        b->error = "truncated";
        return NGX_DECLINED;
    }

    return NGX_OK;
}


/*
 * A value begins: a top-level one must be an object; a member we look for
 * records its type (and text); an item of a member array is counted.
 */
static void
ngx_tracker_json_value(ngx_tracker_json_body_t *b,
    ngx_tracker_json_type_e type, const u_char *s, size_t len)
{
    ngx_tracker_json_field_t  *f;

    if (b->depth == 0) {
        if (type != NGX_TRACKER_JSON_OBJECT) {
            b->not_object = 1;
        }

        return;
    }

    if (b->depth == 1) {
        if (b->not_object || b->member < 0) {
            return;
        }

        /* a repeated member: the last one counts, as with JSON.parse */
        f = &b->fields[b->member];
        f->type = type;
        f->nitems = 0;
        f->bad_item = -1;
        f->text.data = b->pos;
        f->text.len = 0;

        if (type == NGX_TRACKER_JSON_ARRAY) {
            b->array = b->member;
        }

        if (s) {
            b->pos = ngx_cpymem(b->pos, s, len);
            f->text.len = len;
        }

        return;
    }

    if (b->depth != 2 || b->array < 0) {
        return;
    }

    f = &b->fields[b->array];

    if (type == NGX_TRACKER_JSON_STRING || type == NGX_TRACKER_JSON_NUMBER) {
        if (f->nitems) {
            *b->pos++ = ',';
        }

        b->pos = ngx_cpymem(b->pos, s, len);
        f->text.len = b->pos - f->text.data;

    } else if (f->bad_item < 0) {
        f->bad_item = f->nitems;
    }

    f->nitems++;
}


static int
ngx_tracker_json_null(void *ctx)
{
    ngx_tracker_json_value(ctx, NGX_TRACKER_JSON_NULL, NULL, 0);
    return 1;
}


static int
ngx_tracker_json_boolean(void *ctx, int v)
{
    ngx_tracker_json_value(ctx, NGX_TRACKER_JSON_BOOLEAN,
                           (u_char *) (v ? "true" : "false"), v ? 4 : 5);
    return 1;
}


static int
ngx_tracker_json_number(void *ctx, const char *s, size_t len)
{
    ngx_tracker_json_value(ctx, NGX_TRACKER_JSON_NUMBER, (u_char *) s, len);
    return 1;
}


static int
ngx_tracker_json_string(void *ctx, const unsigned char *s, size_t len)
{
    ngx_tracker_json_value(ctx, NGX_TRACKER_JSON_STRING, s, len);
    return 1;
}


static int
ngx_tracker_json_open(ngx_tracker_json_body_t *b,
    ngx_tracker_json_type_e type)
{
    if (b->depth == NGX_TRACKER_JSON_MAX_DEPTH) {
        b->error = "nested too deep";
        return 0;
    }

    ngx_tracker_json_value(b, type, NULL, 0);
    b->depth++;

    /* members of nested objects are not ours */
    b->member = -1;

    return 1;
}


static int
ngx_tracker_json_start_map(void *ctx)
{
    return ngx_tracker_json_open(ctx, NGX_TRACKER_JSON_OBJECT);
}


static int
ngx_tracker_json_start_array(void *ctx)
{
    return ngx_tracker_json_open(ctx, NGX_TRACKER_JSON_ARRAY);
}


static int
ngx_tracker_json_end(void *ctx)
{
    ngx_tracker_json_body_t  *b = ctx;

    b->depth--;

    if (b->depth <= 1) {
        b->array = -1;
    }

    b->member = -1;

    return 1;
}


static int
ngx_tracker_json_map_key(void *ctx, const unsigned char *s, size_t len)
{
    ngx_uint_t                i;
    ngx_tracker_json_body_t  *b = ctx;

    b->member = -1;

    if (b->depth != 1) {
        return 1;
    }

    for (i = 0; i < b->nnames; i++) {
        if (ngx_strlen(b->names[i]) == len
            && ngx_strncmp(b->names[i], s, len) == 0)
        {
            b->member = i;
            break;
        }
    }

    return 1;
}
