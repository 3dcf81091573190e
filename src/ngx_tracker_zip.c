
/*
 * ngx_tracker: ZIP writer (see ngx_tracker_zip.h; PKWARE APPNOTE 6.3,
 * sections 4.3.7, 4.3.12 and 4.3.16).
 */

#include "ngx_tracker_zip.h"


#define NGX_TRACKER_ZIP_LOCAL_LEN    30
#define NGX_TRACKER_ZIP_CENTRAL_LEN  46
#define NGX_TRACKER_ZIP_END_LEN      22

/* version 2.0: the oldest that knows stored entries and directories */
#define NGX_TRACKER_ZIP_VERSION      20
/* "made by" Unix, so that the mode in the external attributes is used */
#define NGX_TRACKER_ZIP_MADE_BY      (3 << 8 | NGX_TRACKER_ZIP_VERSION)
#define NGX_TRACKER_ZIP_UTF8         0x0800
/* a regular file, rw-r--r-- */
#define NGX_TRACKER_ZIP_MODE         ((uint32_t) 0100644 << 16)


static u_char *
ngx_tracker_zip_le16(u_char *p, uint16_t v)
{
    *p++ = (u_char) v;
    *p++ = (u_char) (v >> 8);

    return p;
}


static u_char *
ngx_tracker_zip_le32(u_char *p, uint32_t v)
{
    *p++ = (u_char) v;
    *p++ = (u_char) (v >> 8);
    *p++ = (u_char) (v >> 16);
    *p++ = (u_char) (v >> 24);

    return p;
}


ngx_int_t
ngx_tracker_zip_init(ngx_tracker_zip_t *z, ngx_pool_t *pool, size_t size,
    ngx_uint_t n, time_t mtime)
{
    ngx_tm_t  tm;

    if (n > NGX_TRACKER_ZIP_MAX_ENTRIES
        || size > 0xffffffff - NGX_TRACKER_ZIP_END_LEN)
    {
        return NGX_DECLINED;
    }

    size += NGX_TRACKER_ZIP_END_LEN;

    z->start = ngx_pnalloc(pool, size);
    if (z->start == NULL) {
        return NGX_ERROR;
    }

    z->entries = ngx_palloc(pool, (n ? n : 1)
                                  * sizeof(ngx_tracker_zip_entry_t));
    if (z->entries == NULL) {
        return NGX_ERROR;
    }

    z->pos = z->start;
    z->end = z->start + size;
    z->data = NULL;
    z->nentries = 0;
    z->nalloc = n;

    /* MS-DOS date and time, which start in 1980 and count 2 s steps */
    ngx_gmtime(mtime, &tm);

    if (tm.ngx_tm_year < 1980) {
        tm.ngx_tm_year = 1980;
        tm.ngx_tm_mon = 1;
        tm.ngx_tm_mday = 1;
    }

    z->dos_date = (uint16_t) (((tm.ngx_tm_year - 1980) << 9)
                              | (tm.ngx_tm_mon << 5) | tm.ngx_tm_mday);
    z->dos_time = (uint16_t) ((tm.ngx_tm_hour << 11) | (tm.ngx_tm_min << 5)
                              | (tm.ngx_tm_sec / 2));

    return NGX_OK;
}


u_char *
ngx_tracker_zip_entry_start(ngx_tracker_zip_t *z, u_char *name, size_t len)
{
    u_char                   *p;
    ngx_tracker_zip_entry_t  *e;

    e = &z->entries[z->nentries];
    e->name_len = (uint16_t) len;
    e->offset = (uint32_t) (z->pos - z->start);

    p = ngx_tracker_zip_le32(z->pos, 0x04034b50);
    p = ngx_tracker_zip_le16(p, NGX_TRACKER_ZIP_VERSION);
    p = ngx_tracker_zip_le16(p, NGX_TRACKER_ZIP_UTF8);
    p = ngx_tracker_zip_le16(p, 0);                 /* stored */
    p = ngx_tracker_zip_le16(p, z->dos_time);
    p = ngx_tracker_zip_le16(p, z->dos_date);
    p += 12;                                         /* crc, sizes: later */
    p = ngx_tracker_zip_le16(p, (uint16_t) len);
    p = ngx_tracker_zip_le16(p, 0);                 /* no extra field */

    /* the central directory names it from here */
    e->name = p;
    p = ngx_cpymem(p, name, len);

    z->data = p;

    return p;
}


void
ngx_tracker_zip_entry_end(ngx_tracker_zip_t *z, u_char *end)
{
    u_char                   *p;
    ngx_tracker_zip_entry_t  *e;

    e = &z->entries[z->nentries++];
    e->size = (uint32_t) (end - z->data);
    e->crc = ngx_crc32_long(z->data, end - z->data);

    p = z->start + e->offset + 14;
    p = ngx_tracker_zip_le32(p, e->crc);
    p = ngx_tracker_zip_le32(p, e->size);
    (void) ngx_tracker_zip_le32(p, e->size);

    z->pos = end;
    z->data = NULL;
}


void
ngx_tracker_zip_finish(ngx_tracker_zip_t *z, ngx_str_t *out)
{
    u_char                   *p, *central;
    uint32_t                  size;
    ngx_uint_t                i;
    ngx_tracker_zip_entry_t  *e;

    central = z->pos;
    p = central;

    for (i = 0; i < z->nentries; i++) {
        e = &z->entries[i];

        p = ngx_tracker_zip_le32(p, 0x02014b50);
        p = ngx_tracker_zip_le16(p, NGX_TRACKER_ZIP_MADE_BY);
        p = ngx_tracker_zip_le16(p, NGX_TRACKER_ZIP_VERSION);
        p = ngx_tracker_zip_le16(p, NGX_TRACKER_ZIP_UTF8);
        p = ngx_tracker_zip_le16(p, 0);
        p = ngx_tracker_zip_le16(p, z->dos_time);
        p = ngx_tracker_zip_le16(p, z->dos_date);
        p = ngx_tracker_zip_le32(p, e->crc);
        p = ngx_tracker_zip_le32(p, e->size);
        p = ngx_tracker_zip_le32(p, e->size);
        p = ngx_tracker_zip_le16(p, e->name_len);
        p = ngx_tracker_zip_le16(p, 0);             /* extra */
        p = ngx_tracker_zip_le16(p, 0);             /* comment */
        p = ngx_tracker_zip_le16(p, 0);             /* disk */
        p = ngx_tracker_zip_le16(p, 0);             /* internal attributes */
        p = ngx_tracker_zip_le32(p, NGX_TRACKER_ZIP_MODE);
        p = ngx_tracker_zip_le32(p, e->offset);
        p = ngx_cpymem(p, e->name, e->name_len);
    }

    size = (uint32_t) (p - central);

    p = ngx_tracker_zip_le32(p, 0x06054b50);
    p = ngx_tracker_zip_le16(p, 0);
    p = ngx_tracker_zip_le16(p, 0);
    p = ngx_tracker_zip_le16(p, (uint16_t) z->nentries);
    p = ngx_tracker_zip_le16(p, (uint16_t) z->nentries);
    p = ngx_tracker_zip_le32(p, size);
    p = ngx_tracker_zip_le32(p, (uint32_t) (central - z->start));
    p = ngx_tracker_zip_le16(p, 0);                 /* no comment */

    out->data = z->start;
    out->len = p - z->start;
}
