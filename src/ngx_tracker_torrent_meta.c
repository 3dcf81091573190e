
/*
 * ngx_tracker: the facts of an uploaded .torrent (see
 * ngx_tracker_torrent_meta.h).
 *
 * Every walk below runs on a file the strict parser accepted, so reading
 * a value cannot run past the end; what is checked here is the meaning:
 * types, ranges and that the v1 and v2 views of a hybrid agree.  Walks
 * that write run the same code as the walk that counts, so the size is
 * exact.
 */

#include "ngx_tracker_torrent_meta.h"

#include <openssl/evp.h>


#define NGX_TRACKER_META_MAX_INT  ((int64_t) 0x7fffffffffffffffLL)


typedef struct {
    u_char                      *p;         /* NULL: only count */
    size_t                       size;
} ngx_tracker_meta_out_t;


typedef struct {
    ngx_tracker_torrent_file_t  *t;
    ngx_tracker_torrent_meta_t  *m;
    ngx_tracker_meta_out_t      *o;
    ngx_str_t                    comps[NGX_TRACKER_TORRENT_MAX_DEPTH];
    ngx_uint_t                   ncomps;
    ngx_uint_t                   single;    /* the path is the name alone */
    int64_t                      offset;
    int64_t                      total;
    ngx_uint_t                   nfiles;
} ngx_tracker_meta_walk_t;


static ngx_int_t ngx_tracker_meta_v1(ngx_tracker_meta_walk_t *w);
static ngx_int_t ngx_tracker_meta_v2(ngx_tracker_meta_walk_t *w,
    ngx_str_t *node, ngx_uint_t depth);
static ngx_int_t ngx_tracker_meta_file(ngx_tracker_meta_walk_t *w,
    ngx_str_t *length, ngx_uint_t pad);
static ngx_int_t ngx_tracker_meta_tiers(ngx_tracker_torrent_file_t *t,
    ngx_str_t *list, ngx_tracker_meta_out_t *o);
static void ngx_tracker_meta_find(ngx_tracker_torrent_file_t *t,
    ngx_str_t *dict, const char *const *keys, ngx_str_t *values);
static ngx_int_t ngx_tracker_meta_int(ngx_str_t *v, int64_t *n);
static ngx_uint_t ngx_tracker_meta_is_dict(ngx_str_t *v);
static ngx_uint_t ngx_tracker_meta_is_str(ngx_str_t *v);
static void ngx_tracker_meta_emit(ngx_tracker_meta_out_t *o,
    const u_char *data, size_t len);
static void ngx_tracker_meta_lit(ngx_tracker_meta_out_t *o, const char *s);
static void ngx_tracker_meta_num(ngx_tracker_meta_out_t *o, int64_t n);
static void ngx_tracker_meta_hex(ngx_tracker_meta_out_t *o,
    const u_char *data, size_t len);
static void ngx_tracker_meta_chars(ngx_tracker_meta_out_t *o,
    const u_char *s, size_t len);
static void ngx_tracker_meta_bstr(ngx_tracker_meta_out_t *o,
    ngx_tracker_torrent_file_t *t, ngx_str_t *v);
static size_t ngx_tracker_meta_utf8(const u_char *s, size_t len);


/* keys of the info dictionary, in the order of values[] below */
static const char *const  ngx_tracker_meta_info_keys[] = {
    "file tree", "files", "length", "meta version", "name", "piece length",
    "pieces", "private", NULL
};

enum {
    NGX_TRACKER_META_FILE_TREE = 0,
    NGX_TRACKER_META_FILES,
    NGX_TRACKER_META_LENGTH,
    NGX_TRACKER_META_VERSION,
    NGX_TRACKER_META_NAME,
    NGX_TRACKER_META_PIECE_LENGTH,
    NGX_TRACKER_META_PIECES,
    NGX_TRACKER_META_PRIVATE,
    NGX_TRACKER_META_NKEYS
};

static const char *const  ngx_tracker_meta_top_keys[] = {
    "announce", "announce-list", NULL
};


ngx_int_t
ngx_tracker_torrent_meta(ngx_tracker_torrent_meta_t *m,
    ngx_tracker_torrent_file_t *t)
{
    int64_t                  n, pieces, v1_total;
    ngx_str_t                v[NGX_TRACKER_META_NKEYS], top[2], s;
    ngx_uint_t               v1, v2;
    unsigned int             mdlen;
    ngx_tracker_meta_out_t   count;
    ngx_tracker_meta_walk_t  w;

    ngx_memzero(m, sizeof(ngx_tracker_torrent_meta_t));

    ngx_tracker_meta_find(t, &t->info, ngx_tracker_meta_info_keys, v);
    ngx_tracker_meta_find(t, &(ngx_str_t) { t->end - t->start, t->start },
                          ngx_tracker_meta_top_keys, top);

    if (!ngx_tracker_meta_is_str(&v[NGX_TRACKER_META_NAME])) {
        m->error = "no name";
        return NGX_DECLINED;
    }

    ngx_tracker_torrent_string(t, v[NGX_TRACKER_META_NAME].data, &m->name);

    if (m->name.len == 0) {
        m->error = "empty name";
        return NGX_DECLINED;
    }

    if (ngx_tracker_meta_int(&v[NGX_TRACKER_META_PIECE_LENGTH],
                             &m->piece_length)
        != NGX_OK
        || m->piece_length <= 0)
    {
        m->error = "no valid piece length";
        return NGX_DECLINED;
    }

    if (v[NGX_TRACKER_META_PRIVATE].data
        && ngx_tracker_meta_int(&v[NGX_TRACKER_META_PRIVATE], &n) == NGX_OK)
    {
        m->private = (n == 1);
    }

    /* v2 (BEP 52): "meta version" 2 and a "file tree" */
    v2 = 0;

    if (v[NGX_TRACKER_META_VERSION].data) {
        if (ngx_tracker_meta_int(&v[NGX_TRACKER_META_VERSION], &n) != NGX_OK
            || n != 2)
        {
            m->error = "unsupported meta version";
            return NGX_DECLINED;
        }

        if (!ngx_tracker_meta_is_dict(&v[NGX_TRACKER_META_FILE_TREE])) {
            m->error = "meta version 2 without a file tree";
            return NGX_DECLINED;
        }

        /* a power of two, at least 16 KiB */
        if (m->piece_length < 16384
            || (m->piece_length & (m->piece_length - 1)) != 0)
        {
            m->error = "v2 piece length is not a power of two >= 16 KiB";
            return NGX_DECLINED;
        }

        v2 = 1;

    } else if (v[NGX_TRACKER_META_FILE_TREE].data) {
        m->error = "file tree without meta version 2";
        return NGX_DECLINED;
    }

    /* v1: "pieces" and exactly one of "length" and "files" */
    v1 = (v[NGX_TRACKER_META_PIECES].data != NULL);

    if (v1) {
        if (!ngx_tracker_meta_is_str(&v[NGX_TRACKER_META_PIECES])) {
            m->error = "pieces is not a string";
            return NGX_DECLINED;
        }

        ngx_tracker_torrent_string(t, v[NGX_TRACKER_META_PIECES].data, &s);

        if (s.len % 20) {
            m->error = "pieces is not a list of SHA-1 hashes";
            return NGX_DECLINED;
        }

        pieces = s.len / 20;

        if ((v[NGX_TRACKER_META_LENGTH].data == NULL)
            == (v[NGX_TRACKER_META_FILES].data == NULL))
        {
            m->error = "a v1 torrent needs either length or files";
            return NGX_DECLINED;
        }

        m->length = v[NGX_TRACKER_META_LENGTH];
        m->files = v[NGX_TRACKER_META_FILES];

        if (m->files.data && m->files.data[0] != 'l') {
            m->error = "files is not a list";
            return NGX_DECLINED;
        }

    } else if (!v2) {
        m->error = "no pieces and no file tree";
        return NGX_DECLINED;

    } else {
        pieces = 0;
    }

    m->version = (v1 ? 1 : 0) | (v2 ? 2 : 0);
    m->file_tree = v2 ? v[NGX_TRACKER_META_FILE_TREE] : (ngx_str_t) {0, NULL};

    /* the files: checked and counted, nothing written */
    count.p = NULL;
    count.size = 0;

    ngx_memzero(&w, sizeof(ngx_tracker_meta_walk_t));
    w.t = t;
    w.m = m;
    w.o = &count;

    v1_total = 0;

    if (v1) {
        if (ngx_tracker_meta_v1(&w) != NGX_OK) {
            return NGX_DECLINED;
        }

        /* one hash per piece of the whole (padding included) */
        if (w.offset / m->piece_length + (w.offset % m->piece_length != 0)
            != pieces)
        {
            m->error = "the number of pieces does not match the size";
            return NGX_DECLINED;
        }

        v1_total = w.total;
        m->total = w.total;
        m->nfiles = w.nfiles;
    }

    if (v2) {
        ngx_memzero(&w, sizeof(ngx_tracker_meta_walk_t));
        w.t = t;
        w.m = m;
        w.o = &count;

        if (ngx_tracker_meta_v2(&w, &m->file_tree, 0) != NGX_OK) {
            return NGX_DECLINED;
        }

        if (w.nfiles == 0) {
            m->error = "empty file tree";
            return NGX_DECLINED;
        }

        if (v1 && (w.total != v1_total || w.nfiles != m->nfiles)) {
            m->error = "the v1 and v2 file lists differ";
            return NGX_DECLINED;
        }

        m->total = w.total;
        m->nfiles = w.nfiles;
    }

    if (m->nfiles == 0) {
        m->error = "no files";
        return NGX_DECLINED;
    }

    /* trackers: announce a string, announce-list tiers of strings */
    m->announce = top[0];
    m->announce_list = top[1];

    if (m->announce.data && !ngx_tracker_meta_is_str(&m->announce)) {
        m->error = "announce is not a string";
        return NGX_DECLINED;
    }

    if (m->announce_list.data
        && ngx_tracker_meta_tiers(t, &m->announce_list, NULL) != NGX_OK)
    {
        m->error = "announce-list is not a list of lists of URLs";
        return NGX_DECLINED;
    }

    if (!EVP_Digest(t->info.data, t->info.len, m->sha1, &mdlen, EVP_sha1(),
                    NULL))
    {
        return NGX_ERROR;
    }

    if (v2 && !EVP_Digest(t->info.data, t->info.len, m->sha256, &mdlen,
                          EVP_sha256(), NULL))
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


size_t
ngx_tracker_torrent_meta_json(u_char *p, ngx_tracker_torrent_meta_t *m,
    ngx_tracker_torrent_file_t *t)
{
    ngx_tracker_meta_out_t   o;
    ngx_tracker_meta_walk_t  w;

    o.p = p;
    o.size = 0;

    ngx_tracker_meta_lit(&o, "{\"version\":");
    ngx_tracker_meta_num(&o, m->version);

    ngx_tracker_meta_lit(&o, ",\"info_hash\":\"");
    ngx_tracker_meta_hex(&o, m->sha1, sizeof(m->sha1));

    if (m->version & 2) {
        ngx_tracker_meta_lit(&o, "\",\"info_hash_v2\":\"");
        ngx_tracker_meta_hex(&o, m->sha256, sizeof(m->sha256));
        ngx_tracker_meta_lit(&o, "\"");

    } else {
        ngx_tracker_meta_lit(&o, "\",\"info_hash_v2\":null");
    }

    ngx_tracker_meta_lit(&o, ",\"name\":\"");
    ngx_tracker_meta_chars(&o, m->name.data, m->name.len);
    ngx_tracker_meta_lit(&o, "\",\"piece_length\":");
    ngx_tracker_meta_num(&o, m->piece_length);
    ngx_tracker_meta_lit(&o, m->private ? ",\"private\":true"
                                        : ",\"private\":false");
    ngx_tracker_meta_lit(&o, ",\"total_size\":");
    ngx_tracker_meta_num(&o, m->total);
    ngx_tracker_meta_lit(&o, ",\"file_count\":");
    ngx_tracker_meta_num(&o, m->nfiles);

    ngx_tracker_meta_lit(&o, ",\"announce\":");

    if (m->announce.data) {
        ngx_tracker_meta_bstr(&o, t, &m->announce);

    } else {
        ngx_tracker_meta_lit(&o, "null");
    }

    ngx_tracker_meta_lit(&o, ",\"announce_list\":");

    if (m->announce_list.data) {
        (void) ngx_tracker_meta_tiers(t, &m->announce_list, &o);

    } else {
        ngx_tracker_meta_lit(&o, "[]");
    }

    ngx_tracker_meta_lit(&o, ",\"files\":[");

    ngx_memzero(&w, sizeof(ngx_tracker_meta_walk_t));
    w.t = t;
    w.m = m;
    w.o = &o;

    /* a hybrid's v1 list names the same files, in the same order */
    if (m->version & 1) {
        (void) ngx_tracker_meta_v1(&w);

    } else {
        (void) ngx_tracker_meta_v2(&w, &m->file_tree, 0);
    }

    ngx_tracker_meta_lit(&o, "]}");

    return o.size;
}


/* v1: one file ("length") or a list of {"length","path"[,"attr"]} */
static ngx_int_t
ngx_tracker_meta_v1(ngx_tracker_meta_walk_t *w)
{
    u_char                      *p, *q;
    ngx_str_t                    item, fv[3], comp;
    ngx_uint_t                   pad;
    ngx_tracker_torrent_file_t  *t;

    static const char *const  keys[] = { "attr", "length", "path", NULL };

    t = w->t;

    if (w->m->length.data) {
        w->single = 1;
        return ngx_tracker_meta_file(w, &w->m->length, 0);
    }

    for (p = w->m->files.data + 1; *p != 'e'; /* void */ ) {
        item.data = p;
        p = ngx_tracker_torrent_value(t, p, 1);
        item.len = p - item.data;

        if (!ngx_tracker_meta_is_dict(&item)) {
            w->m->error = "a file is not a dictionary";
            return NGX_DECLINED;
        }

        ngx_tracker_meta_find(t, &item, keys, fv);

        pad = 0;

        if (ngx_tracker_meta_is_str(&fv[0])) {
            ngx_tracker_torrent_string(t, fv[0].data, &comp);
            pad = (ngx_strlchr(comp.data, comp.data + comp.len, 'p')
                   != NULL);
        }

        if (fv[2].data == NULL || fv[2].data[0] != 'l'
            || fv[2].data[1] == 'e')
        {
            w->m->error = "a file without a path";
            return NGX_DECLINED;
        }

        w->ncomps = 0;

        for (q = fv[2].data + 1; *q != 'e'; /* void */ ) {
            if (*q < '0' || *q > '9') {
                w->m->error = "a path element is not a string";
                return NGX_DECLINED;
            }

            q = ngx_tracker_torrent_string(t, q, &comp);

            if (comp.len == 0) {
                w->m->error = "an empty path element";
                return NGX_DECLINED;
            }

            if (w->ncomps == NGX_TRACKER_TORRENT_MAX_DEPTH) {
                w->m->error = "a path too deep";
                return NGX_DECLINED;
            }

            w->comps[w->ncomps++] = comp;
        }

        if (ngx_tracker_meta_file(w, &fv[1], pad) != NGX_OK) {
            return NGX_DECLINED;
        }
    }

    return NGX_OK;
}


/*
 * v2: a dictionary of names; a file is a node whose only key is "" (its
 * value holds "length").  A tree of one file names that file alone.
 */
static ngx_int_t
ngx_tracker_meta_v2(ngx_tracker_meta_walk_t *w, ngx_str_t *node,
    ngx_uint_t depth)
{
    u_char                      *p;
    ngx_str_t                    key, value, fv[1];
    ngx_uint_t                   n;
    ngx_tracker_torrent_file_t  *t;

    static const char *const  keys[] = { "length", NULL };

    t = w->t;

    if (depth >= NGX_TRACKER_TORRENT_MAX_DEPTH) {
        w->m->error = "a path too deep";
        return NGX_DECLINED;
    }

    p = node->data + 1;

    if (*p == '0' && p[1] == ':') {
        /* "0:" sorts first: this node is a file */
        if (depth == 0) {
            w->m->error = "a file tree that is a file";
            return NGX_DECLINED;
        }

        p = ngx_tracker_torrent_entry(t, p, &key, &value);

        if (*p != 'e' || !ngx_tracker_meta_is_dict(&value)) {
            w->m->error = "a bad file entry in the file tree";
            return NGX_DECLINED;
        }

        ngx_tracker_meta_find(t, &value, keys, fv);

        return ngx_tracker_meta_file(w, &fv[0], 0);
    }

    if (depth == 0) {
        /* one top-level entry that is a file: a single-file torrent */
        n = 0;

        for (p = node->data + 1; *p != 'e'; n++) {
            p = ngx_tracker_torrent_entry(t, p, &key, &value);
        }

        w->single = (n == 1 && ngx_tracker_meta_is_dict(&value)
                     && value.data[1] == '0' && value.data[2] == ':');
    }

    for (p = node->data + 1; *p != 'e'; /* void */ ) {
        p = ngx_tracker_torrent_entry(t, p, &key, &value);

        if (!ngx_tracker_meta_is_dict(&value) || value.len == 2) {
            w->m->error = "a bad directory entry in the file tree";
            return NGX_DECLINED;
        }

        w->comps[depth] = key;
        w->ncomps = depth + 1;

        if (ngx_tracker_meta_v2(w, &value, depth + 1) != NGX_OK) {
            return NGX_DECLINED;
        }
    }

    return NGX_OK;
}


/* a file at w->comps: counted, and written when w->o writes */
static ngx_int_t
ngx_tracker_meta_file(ngx_tracker_meta_walk_t *w, ngx_str_t *length,
    ngx_uint_t pad)
{
    int64_t                  len;
    ngx_uint_t               i;
    ngx_tracker_meta_out_t  *o;

    if (ngx_tracker_meta_int(length, &len) != NGX_OK || len < 0) {
        w->m->error = "a file without a valid length";
        return NGX_DECLINED;
    }

    if (len > NGX_TRACKER_META_MAX_INT - w->offset) {
        w->m->error = "files too large";
        return NGX_DECLINED;
    }

    if (!pad) {
        o = w->o;

        if (w->nfiles) {
            ngx_tracker_meta_lit(o, ",");
        }

        ngx_tracker_meta_lit(o, "{\"path\":\"");

        if (!w->single || w->ncomps == 0) {
            ngx_tracker_meta_chars(o, w->m->name.data, w->m->name.len);
        }

        for (i = 0; i < w->ncomps; i++) {
            if (i || !w->single) {
                ngx_tracker_meta_lit(o, "/");
            }

            ngx_tracker_meta_chars(o, w->comps[i].data, w->comps[i].len);
        }

        ngx_tracker_meta_lit(o, "\",\"length\":");
        ngx_tracker_meta_num(o, len);
        ngx_tracker_meta_lit(o, ",\"offset\":");
        ngx_tracker_meta_num(o, w->offset);
        ngx_tracker_meta_lit(o, "}");

        w->total += len;
        w->nfiles++;
    }

    w->offset += len;

    return NGX_OK;
}


/* checks (o NULL) or writes announce-list as [["url",..],..] */
static ngx_int_t
ngx_tracker_meta_tiers(ngx_tracker_torrent_file_t *t, ngx_str_t *list,
    ngx_tracker_meta_out_t *o)
{
    u_char     *p, *q;
    ngx_str_t   url;
    ngx_uint_t  ntiers, nurls;

    if (list->data[0] != 'l') {
        return NGX_DECLINED;
    }

    if (o) {
        ngx_tracker_meta_lit(o, "[");
    }

    ntiers = 0;

    for (p = list->data + 1; *p != 'e'; /* void */ ) {
        if (*p != 'l') {
            return NGX_DECLINED;
        }

        if (o) {
            ngx_tracker_meta_lit(o, ntiers++ ? ",[" : "[");
        }

        nurls = 0;

        for (q = p + 1; *q != 'e'; /* void */ ) {
            if (*q < '0' || *q > '9') {
                return NGX_DECLINED;
            }

            url.data = q;
            q = ngx_tracker_torrent_value(t, q, 2);
            url.len = q - url.data;

            if (o) {
                if (nurls) {
                    ngx_tracker_meta_lit(o, ",");
                }

                ngx_tracker_meta_bstr(o, t, &url);
            }

            nurls++;
        }

        p = q + 1;

        if (o) {
            ngx_tracker_meta_lit(o, "]");
        }
    }

    if (o) {
        ngx_tracker_meta_lit(o, "]");
    }

    return NGX_OK;
}


/* the values of the keys named, data NULL for those absent */
static void
ngx_tracker_meta_find(ngx_tracker_torrent_file_t *t, ngx_str_t *dict,
    const char *const *keys, ngx_str_t *values)
{
    u_char      *p;
    ngx_str_t    key, value, k;
    ngx_uint_t   i;

    for (i = 0; keys[i]; i++) {
        values[i].data = NULL;
        values[i].len = 0;
    }

    for (p = dict->data + 1; *p != 'e'; /* void */ ) {
        p = ngx_tracker_torrent_entry(t, p, &key, &value);

        for (i = 0; keys[i]; i++) {
            k.data = (u_char *) keys[i];
            k.len = ngx_strlen(keys[i]);

            if (ngx_tracker_torrent_keycmp(&key, &k) == 0) {
                values[i] = value;
                break;
            }
        }
    }
}


/* a bencoded integer that fits an int64_t */
static ngx_int_t
ngx_tracker_meta_int(ngx_str_t *v, int64_t *n)
{
    u_char      *p;
    uint64_t     u, limit;
    ngx_uint_t   neg;

    if (v->data == NULL || v->data[0] != 'i') {
        return NGX_DECLINED;
    }

    p = v->data + 1;
    neg = (*p == '-');
    p += neg;
    limit = (uint64_t) NGX_TRACKER_META_MAX_INT + neg;

    for (u = 0; *p != 'e'; p++) {
        if (u > (limit - (*p - '0')) / 10) {
            return NGX_DECLINED;
        }

        u = u * 10 + (*p - '0');
    }

    *n = neg ? (int64_t) (0 - u) : (int64_t) u;

    return NGX_OK;
}


static ngx_uint_t
ngx_tracker_meta_is_dict(ngx_str_t *v)
{
    return v->data != NULL && v->data[0] == 'd';
}


static ngx_uint_t
ngx_tracker_meta_is_str(ngx_str_t *v)
{
    return v->data != NULL && v->data[0] >= '0' && v->data[0] <= '9';
}


static void
ngx_tracker_meta_emit(ngx_tracker_meta_out_t *o, const u_char *data,
    size_t len)
{
    if (o->p && len) {
        o->p = ngx_cpymem(o->p, data, len);
    }

    o->size += len;
}


static void
ngx_tracker_meta_lit(ngx_tracker_meta_out_t *o, const char *s)
{
    ngx_tracker_meta_emit(o, (const u_char *) s, ngx_strlen(s));
}


static void
ngx_tracker_meta_num(ngx_tracker_meta_out_t *o, int64_t n)
{
    u_char    tmp[NGX_INT64_LEN + 1], *d;
    uint64_t  u;

    d = tmp + sizeof(tmp);
    u = (n < 0) ? (uint64_t) 0 - (uint64_t) n : (uint64_t) n;

    do {
        *--d = (u_char) ('0' + u % 10);
        u /= 10;
    } while (u);

    if (n < 0) {
        *--d = '-';
    }

    ngx_tracker_meta_emit(o, d, tmp + sizeof(tmp) - d);
}


static void
ngx_tracker_meta_hex(ngx_tracker_meta_out_t *o, const u_char *data,
    size_t len)
{
    u_char  pair[2];

    static const u_char  hex[] = "0123456789abcdef";

    while (len--) {
        pair[0] = hex[*data >> 4];
        pair[1] = hex[*data++ & 0xf];
        ngx_tracker_meta_emit(o, pair, 2);
    }
}


/* a bencoded string as a JSON string */
static void
ngx_tracker_meta_bstr(ngx_tracker_meta_out_t *o,
    ngx_tracker_torrent_file_t *t, ngx_str_t *v)
{
    ngx_str_t  s;

    ngx_tracker_torrent_string(t, v->data, &s);

    ngx_tracker_meta_lit(o, "\"");
    ngx_tracker_meta_chars(o, s.data, s.len);
    ngx_tracker_meta_lit(o, "\"");
}


/* JSON string contents; bad UTF-8 and NUL become U+FFFD */
static void
ngx_tracker_meta_chars(ngx_tracker_meta_out_t *o, const u_char *s,
    size_t len)
{
    u_char         esc[6];
    size_t         n;
    const u_char  *end;

    static const u_char  hex[] = "0123456789abcdef";

    end = s + len;

    while (s < end) {
        if (*s >= 0x80) {
            n = ngx_tracker_meta_utf8(s, end - s);

            if (n == 0) {
                ngx_tracker_meta_lit(o, "\\ufffd");
                s++;

            } else {
                ngx_tracker_meta_emit(o, s, n);
                s += n;
            }

            continue;
        }

        if (*s == '\0') {
            ngx_tracker_meta_lit(o, "\\ufffd");

        } else if (*s == '"' || *s == '\\') {
            esc[0] = '\\';
            esc[1] = *s;
            ngx_tracker_meta_emit(o, esc, 2);

        } else if (*s < 0x20) {
            ngx_memcpy(esc, "\\u00", 4);
            esc[4] = hex[*s >> 4];
            esc[5] = hex[*s & 0xf];
            ngx_tracker_meta_emit(o, esc, 6);

        } else {
            ngx_tracker_meta_emit(o, s, 1);
        }

        s++;
    }
}


/* the length of a well-formed UTF-8 sequence at s, 0 if there is none */
static size_t
ngx_tracker_meta_utf8(const u_char *s, size_t len)
{
    u_char  lo, hi;
    size_t  n, i;

    lo = 0x80;
    hi = 0xbf;

    if (s[0] >= 0xc2 && s[0] <= 0xdf) {
        n = 2;

    } else if (s[0] >= 0xe0 && s[0] <= 0xef) {
        n = 3;
        /* no overlong forms, no surrogates */
        lo = (s[0] == 0xe0) ? 0xa0 : 0x80;
        hi = (s[0] == 0xed) ? 0x9f : 0xbf;

    } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        n = 4;
        /* nothing above U+10FFFF */
        lo = (s[0] == 0xf0) ? 0x90 : 0x80;
        hi = (s[0] == 0xf4) ? 0x8f : 0xbf;

    } else {
        return 0;
    }

    if (len < n || s[1] < lo || s[1] > hi) {
        return 0;
    }

    for (i = 2; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            return 0;
        }
    }

    return n;
}
