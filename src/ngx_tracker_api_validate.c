
/*
 * ngx_tracker: query parameter validation for the JSON API, with errors in
 * the reference's shape (Ajv's: instancePath, schemaPath, keyword, params,
 * message), stopping at the first error as Ajv does by default.
 */

#include "ngx_tracker_module.h"
#include "ngx_tracker_api.h"


#define NGX_TRACKER_API_MAX_VALUE  4096


static ngx_int_t ngx_tracker_api_check(const ngx_tracker_api_param_t *p,
    u_char *v, size_t len, int64_t *n);
static ngx_int_t ngx_tracker_api_body_type(const ngx_tracker_api_param_t *p,
    ngx_tracker_json_field_t *f);
static u_char *ngx_tracker_api_list(u_char *p, u_char *v, size_t len);
static void ngx_tracker_api_error(ngx_pool_t *pool,
    const ngx_tracker_api_param_t *p, ngx_int_t kind, ngx_int_t item,
    ngx_tracker_api_invalid_t *invalid);
static u_char *ngx_tracker_api_json_str(u_char *p, u_char *s, size_t len);


/* what went wrong, for the error's keyword */
#define NGX_TRACKER_API_BAD_REQUIRED   1
#define NGX_TRACKER_API_BAD_TYPE       2
#define NGX_TRACKER_API_BAD_MINIMUM    3
#define NGX_TRACKER_API_BAD_MAXIMUM    4
#define NGX_TRACKER_API_BAD_ENUM       5
#define NGX_TRACKER_API_BAD_MINLENGTH  6
#define NGX_TRACKER_API_BAD_MAXLENGTH  7
#define NGX_TRACKER_API_BAD_MAXITEMS   8
#define NGX_TRACKER_API_BAD_ITEM_TYPE  9
#define NGX_TRACKER_API_BAD_OBJECT     10


static const char  *ngx_tracker_api_type_names[] = {
    "string", "integer", "number", "boolean", "string", "array"
};


ngx_int_t
ngx_tracker_api_validate(ngx_http_request_t *r,
    const ngx_tracker_api_param_t *params, ngx_tracker_json_body_t *body,
    ngx_str_t *args, ngx_tracker_api_invalid_t *invalid)
{
    u_char                         *p, *v;
    size_t                          len, n;
    int64_t                         num;
    ngx_int_t                       rc, found;
    ngx_str_t                       raw;
    ngx_tracker_json_field_t       *f;
    const ngx_tracker_api_param_t  *pa;

    p = args->data + args->len;

    if (body && body->not_object) {
        ngx_tracker_api_error(r->pool, NULL, NGX_TRACKER_API_BAD_OBJECT, 0,
                              invalid);
        return NGX_DECLINED;
    }

    for (pa = params; pa && pa->name; pa++) {
        n = ngx_strlen(pa->name);

        if (body) {
            /* JSON types are not coerced: a boolean must be true/false */
            f = &body->fields[pa - params];
            found = (f->type != NGX_TRACKER_JSON_ABSENT);

            if (found) {
                rc = ngx_tracker_api_body_type(pa, f);

                if (rc != NGX_OK) {
                    ngx_tracker_api_error(r->pool, pa, rc, f->bad_item,
                                          invalid);
                    return NGX_DECLINED;
                }

                raw = f->text;
            }

        } else {
            found = (ngx_http_arg(r, (u_char *) pa->name, n, &raw) == NGX_OK);
        }

        if (!found) {
            if (pa->required) {
                ngx_tracker_api_error(r->pool, pa,
                                      NGX_TRACKER_API_BAD_REQUIRED, 0,
                                      invalid);
                return NGX_DECLINED;
            }

            if (pa->deflt == NULL) {
                continue;
            }

            raw.data = (u_char *) pa->deflt;
            raw.len = ngx_strlen(pa->deflt);
            v = raw.data;
            len = raw.len;

        } else if (body) {
            /* already decoded by the JSON parser */
            v = raw.data;
            len = raw.len;

        } else {
            /*
             * a list is counted whole (the URL's own limit bounds it);
             * other values beyond the cap fail their checks anyway
             */
            if (pa->type != NGX_TRACKER_API_LIST
                && raw.len > NGX_TRACKER_API_MAX_VALUE)
            {
                raw.len = NGX_TRACKER_API_MAX_VALUE + 1;
            }

            v = ngx_pnalloc(r->pool, raw.len + 1);
            if (v == NULL) {
                return NGX_ERROR;
            }

            if (ngx_tracker_unescape(v, raw.len + 1, raw.data, raw.len, &len)
                != NGX_OK)
            {
                /* an undecodable value is not a string of the right kind */
                ngx_tracker_api_error(r->pool, pa, NGX_TRACKER_API_BAD_TYPE,
                                      0, invalid);
                return NGX_DECLINED;
            }
        }

        num = 0;
        rc = ngx_tracker_api_check(pa, v, len, &num);

        if (rc != NGX_OK) {
            ngx_tracker_api_error(r->pool, pa, rc, 0, invalid);
            return NGX_DECLINED;
        }

        /* ,"name":value  (the caller sized args for every parameter) */
        if (args->len > 1) {
            *p++ = ',';
        }

        p = ngx_tracker_api_json_str(p, (u_char *) pa->name, n);
        *p++ = ':';

        switch (pa->type) {

        case NGX_TRACKER_API_INTEGER:
            p = ngx_sprintf(p, "%L", num);
            break;

        case NGX_TRACKER_API_NUMBER:
        case NGX_TRACKER_API_BOOLEAN:
            p = ngx_cpymem(p, v, len);
            break;

        case NGX_TRACKER_API_LIST:
            p = ngx_tracker_api_list(p, v, len);
            break;

        default:
            p = ngx_tracker_api_json_str(p, v, len);
        }

        args->len = p - args->data;
    }

    return NGX_OK;
}


/* the JSON text an argument needs at most: name, value, quotes, comma */
size_t
ngx_tracker_api_args_size(ngx_http_request_t *r,
    const ngx_tracker_api_param_t *params, ngx_tracker_json_body_t *body)
{
    size_t                          size;
    ngx_uint_t                      i;
    const ngx_tracker_api_param_t  *pa;

    /*
     * values come from the query or the body (escaping grows them 6x at
     * most, and a list item gains quotes and a comma)
     */
    size = 6 * r->args.len;

    for (pa = params, i = 0; pa && pa->name; pa++, i++) {
        if (body) {
            size += 6 * body->fields[i].text.len
                    + 3 * body->fields[i].nitems;
        }

        size += ngx_strlen(pa->name) + 32
                + (pa->deflt ? 6 * ngx_strlen(pa->deflt) : 0);
    }

    return size;
}


/* PostgreSQL's json accepts neither bad UTF-8 nor a NUL character */
static ngx_int_t
ngx_tracker_api_utf8_valid(u_char *p, size_t len)
{
    u_char  *end;

    end = p + len;

    while (p < end) {
        if (*p == '\0') {
            return NGX_ERROR;
        }

        if (*p < 0x80) {
            p++;
            continue;
        }

        if (ngx_utf8_decode(&p, end - p) > 0x10ffff) {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_tracker_api_check(const ngx_tracker_api_param_t *p, u_char *v,
    size_t len, int64_t *n)
{
    u_char              *q, *end;
    uint64_t             u;
    ngx_uint_t           neg, digits, dot;
    const char *const   *e;

    end = v + len;

    switch (p->type) {

    case NGX_TRACKER_API_INTEGER:
        q = v;
        neg = 0;

        if (q < end && *q == '-') {
            neg = 1;
            q++;
        }

        if (q == end || end - q > 18) {
            return NGX_TRACKER_API_BAD_TYPE;
        }

        for (u = 0; q < end; q++) {
            if (*q < '0' || *q > '9') {
                return NGX_TRACKER_API_BAD_TYPE;
            }

            u = u * 10 + (*q - '0');
        }

        *n = neg ? -(int64_t) u : (int64_t) u;

        if (p->has_min && *n < p->min) {
            return NGX_TRACKER_API_BAD_MINIMUM;
        }

        if (p->has_max && *n > p->max) {
            return NGX_TRACKER_API_BAD_MAXIMUM;
        }

        return NGX_OK;

    case NGX_TRACKER_API_NUMBER:
        q = v;
        digits = 0;
        dot = 0;

        if (q < end && *q == '-') {
            q++;
        }

        for ( /* void */ ; q < end; q++) {
            if (*q >= '0' && *q <= '9') {
                digits++;

            } else if (*q == '.' && !dot && digits) {
                dot = 1;

            } else {
                return NGX_TRACKER_API_BAD_TYPE;
            }
        }

        if (digits == 0 || v[len - 1] == '.' || len > 32) {
            return NGX_TRACKER_API_BAD_TYPE;
        }

        return NGX_OK;

    case NGX_TRACKER_API_BOOLEAN:
        if ((len == 4 && ngx_strncmp(v, "true", 4) == 0)
            || (len == 5 && ngx_strncmp(v, "false", 5) == 0))
        {
            return NGX_OK;
        }

        return NGX_TRACKER_API_BAD_TYPE;

    case NGX_TRACKER_API_ENUM:
        for (e = p->values; *e; e++) {
            if (ngx_strlen(*e) == len && ngx_strncmp(*e, v, len) == 0) {
                return NGX_OK;
            }
        }

        return NGX_TRACKER_API_BAD_ENUM;

    case NGX_TRACKER_API_LIST:
        /* items: what is between commas, blanks around them ignored */
        if (ngx_tracker_api_utf8_valid(v, len) != NGX_OK) {
            return NGX_TRACKER_API_BAD_TYPE;
        }

        if (p->has_max) {
            u = 0;

            for (q = v; q < end; /* void */ ) {
                while (q < end && *q == ' ') {
                    q++;
                }

                if (q < end && *q != ',') {
                    u++;
                }

                while (q < end && *q != ',') {
                    q++;
                }

                if (q < end) {
                    q++;
                }
            }

            if (u > (uint64_t) p->max) {
                return NGX_TRACKER_API_BAD_MAXITEMS;
            }
        }

        return NGX_OK;

    default:
        if (ngx_tracker_api_utf8_valid(v, len) != NGX_OK) {
            return NGX_TRACKER_API_BAD_TYPE;
        }

        len = ngx_utf8_length(v, len);

        if (p->has_min && (int64_t) len < p->min) {
            return NGX_TRACKER_API_BAD_MINLENGTH;
        }

        if (p->has_max && (int64_t) len > p->max) {
            return NGX_TRACKER_API_BAD_MAXLENGTH;
        }

        return NGX_OK;
    }
}


/* a JSON body's value has the type the parameter wants */
static ngx_int_t
ngx_tracker_api_body_type(const ngx_tracker_api_param_t *p,
    ngx_tracker_json_field_t *f)
{
    ngx_tracker_json_type_e  want;

    switch (p->type) {

    case NGX_TRACKER_API_INTEGER:
    case NGX_TRACKER_API_NUMBER:
        want = NGX_TRACKER_JSON_NUMBER;
        break;

    case NGX_TRACKER_API_BOOLEAN:
        want = NGX_TRACKER_JSON_BOOLEAN;
        break;

    case NGX_TRACKER_API_LIST:
        if (f->type == NGX_TRACKER_JSON_ARRAY && f->bad_item >= 0) {
            return NGX_TRACKER_API_BAD_ITEM_TYPE;
        }

        want = NGX_TRACKER_JSON_ARRAY;
        break;

    default:
        want = NGX_TRACKER_JSON_STRING;
    }

    return (f->type == want) ? NGX_OK : NGX_TRACKER_API_BAD_TYPE;
}


/* ["item",...] from "item,item": blanks around items, empty items dropped */
static u_char *
ngx_tracker_api_list(u_char *p, u_char *v, size_t len)
{
    u_char      *end, *s, *e;
    ngx_uint_t   n;

    end = v + len;
    n = 0;
    *p++ = '[';

    while (v < end) {
        while (v < end && *v == ' ') {
            v++;
        }

        s = v;

        while (v < end && *v != ',') {
            v++;
        }

        e = v;

        while (e > s && e[-1] == ' ') {
            e--;
        }

        if (v < end) {
            v++;
        }

        if (e == s) {
            continue;
        }

        if (n++) {
            *p++ = ',';
        }

        p = ngx_tracker_api_json_str(p, s, e - s);
    }

    *p++ = ']';

    return p;
}


static void
ngx_tracker_api_error(ngx_pool_t *pool, const ngx_tracker_api_param_t *p,
    ngx_int_t kind, ngx_int_t item, ngx_tracker_api_invalid_t *invalid)
{
    u_char             *m, *e, *q, what[128];
    size_t              size;
    const char         *name;
    const char *const  *v;

    name = p ? p->name : "";
    size = 1024;

    for (v = p ? p->values : NULL; v && *v; v++) {
        size += 6 * ngx_strlen(*v) + 3;
    }

    m = ngx_pnalloc(pool, 256);
    e = ngx_pnalloc(pool, size);

    if (m == NULL || e == NULL) {
        ngx_str_set(&invalid->message, "Data provided was invalid.");
        ngx_str_set(&invalid->errors, "[]");
        return;
    }

    invalid->message.data = m;
    invalid->errors.data = e;

    if (kind == NGX_TRACKER_API_BAD_OBJECT) {
        /* the body itself: no property named */
        ngx_str_set(&invalid->message,
                    "Data provided was invalid: must be object.");
        invalid->errors.len = ngx_sprintf(e, "[{\"instancePath\":\"\","
                                   "\"schemaPath\":\"#/type\","
                                   "\"keyword\":\"type\",\"params\":"
                                   "{\"type\":\"object\"},"
                                   "\"message\":\"must be object\"}]")
                              - e;
        return;
    }

    if (kind == NGX_TRACKER_API_BAD_ITEM_TYPE) {
        /* ids are strings (integers are let through as well) */
        invalid->message.len = ngx_snprintf(m, 256, "Data provided was "
                                   "invalid: '%s/%i' must be string.",
                                   name, item) - m;
        invalid->errors.len = ngx_sprintf(e, "[{\"instancePath\":"
                                   "\"/%s/%i\",\"schemaPath\":"
                                   "\"#/properties/%s/items/type\","
                                   "\"keyword\":\"type\",\"params\":"
                                   "{\"type\":\"string\"},"
                                   "\"message\":\"must be string\"}]",
                                   name, item, name) - e;
        return;
    }

    if (kind == NGX_TRACKER_API_BAD_REQUIRED) {
        invalid->message.len = ngx_snprintf(m, 256, "Data provided was "
                                   "invalid: must have required property "
                                   "'%s'.", name) - m;
        invalid->errors.len = ngx_snprintf(e, size, "[{\"instancePath\":\"\","
                                   "\"schemaPath\":\"#/required\","
                                   "\"keyword\":\"required\",\"params\":"
                                   "{\"missingProperty\":\"%s\"},"
                                   "\"message\":\"must have required "
                                   "property '%s'\"}]", name, name) - e;
        return;
    }

    /* the message text, the keyword and its params */
    switch (kind) {

    case NGX_TRACKER_API_BAD_MINIMUM:
        ngx_sprintf(what, "must be >= %L%Z", p->min);
        q = ngx_sprintf(e, "[{\"instancePath\":\"/%s\",\"schemaPath\":"
                        "\"#/properties/%s/minimum\",\"keyword\":\"minimum\","
                        "\"params\":{\"comparison\":\">=\",\"limit\":%L},",
                        name, name, p->min);
        break;

    case NGX_TRACKER_API_BAD_MAXIMUM:
        ngx_sprintf(what, "must be <= %L%Z", p->max);
        q = ngx_sprintf(e, "[{\"instancePath\":\"/%s\",\"schemaPath\":"
                        "\"#/properties/%s/maximum\",\"keyword\":\"maximum\","
                        "\"params\":{\"comparison\":\"<=\",\"limit\":%L},",
                        name, name, p->max);
        break;

    case NGX_TRACKER_API_BAD_MINLENGTH:
        ngx_sprintf(what, "must NOT have fewer than %L characters%Z", p->min);
        q = ngx_sprintf(e, "[{\"instancePath\":\"/%s\",\"schemaPath\":"
                        "\"#/properties/%s/minLength\",\"keyword\":"
                        "\"minLength\",\"params\":{\"limit\":%L},",
                        name, name, p->min);
        break;

    case NGX_TRACKER_API_BAD_MAXLENGTH:
        ngx_sprintf(what, "must NOT have more than %L characters%Z", p->max);
        q = ngx_sprintf(e, "[{\"instancePath\":\"/%s\",\"schemaPath\":"
                        "\"#/properties/%s/maxLength\",\"keyword\":"
                        "\"maxLength\",\"params\":{\"limit\":%L},",
                        name, name, p->max);
        break;

    case NGX_TRACKER_API_BAD_MAXITEMS:
        ngx_sprintf(what, "must NOT have more than %L items%Z", p->max);
        q = ngx_sprintf(e, "[{\"instancePath\":\"/%s\",\"schemaPath\":"
                        "\"#/properties/%s/maxItems\",\"keyword\":"
                        "\"maxItems\",\"params\":{\"limit\":%L},",
                        name, name, p->max);
        break;

    case NGX_TRACKER_API_BAD_ENUM:
        ngx_sprintf(what, "must be equal to one of the allowed values%Z");
        q = ngx_sprintf(e, "[{\"instancePath\":\"/%s\",\"schemaPath\":"
                        "\"#/properties/%s/enum\",\"keyword\":\"enum\","
                        "\"params\":{\"allowedValues\":[", name, name);

        for (v = p->values; *v; v++) {
            if (v != p->values) {
                *q++ = ',';
            }

            q = ngx_tracker_api_json_str(q, (u_char *) *v, ngx_strlen(*v));
        }

        q = ngx_sprintf(q, "]},");
        break;

    default: /* type */
        ngx_sprintf(what, "must be %s%Z", ngx_tracker_api_type_names[p->type]);
        q = ngx_sprintf(e, "[{\"instancePath\":\"/%s\",\"schemaPath\":"
                        "\"#/properties/%s/type\",\"keyword\":\"type\","
                        "\"params\":{\"type\":\"%s\"},", name, name,
                        ngx_tracker_api_type_names[p->type]);
        break;
    }

    q = ngx_sprintf(q, "\"message\":\"%s\"}]", what);
    invalid->errors.len = q - e;

    invalid->message.len = ngx_snprintf(m, 256, "Data provided was invalid: "
                                        "'%s' %s.", name, what) - m;
}


static u_char *
ngx_tracker_api_json_str(u_char *p, u_char *s, size_t len)
{
    *p++ = '"';
    p = (u_char *) ngx_escape_json(p, s, len);
    *p++ = '"';

    return p;
}
