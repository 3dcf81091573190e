
/*
 * ngx_tracker: a ZIP writer for bulk downloads.
 *
 * Entries are stored (no compression: .torrent files are mostly SHA-1
 * pieces, which do not compress), names are UTF-8 (general purpose bit
 * 11).  The caller knows every entry's size before writing, so the whole
 * archive goes into one buffer of the exact size: local header and data
 * per entry, then the central directory and the end record.  No ZIP64:
 * fewer than 65535 entries and 4 GB.
 */

#ifndef _NGX_TRACKER_ZIP_H_INCLUDED_
#define _NGX_TRACKER_ZIP_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


#define NGX_TRACKER_ZIP_MAX_ENTRIES  65535
#define NGX_TRACKER_ZIP_MAX_NAME     65535

/* local header + central directory record of one entry, with its data */
#define ngx_tracker_zip_entry_size(name_len, data_len)                        \
    (30 + 46 + 2 * (size_t) (name_len) + (size_t) (data_len))


typedef struct {
    u_char                     *name;
    uint16_t                    name_len;
    uint32_t                    crc;
    uint32_t                    size;
    uint32_t                    offset;
} ngx_tracker_zip_entry_t;


typedef struct {
    u_char                     *start;
    u_char                     *pos;
    u_char                     *end;
    u_char                     *data;       /* the open entry's data */
    ngx_tracker_zip_entry_t    *entries;
    ngx_uint_t                  nentries;
    ngx_uint_t                  nalloc;
    uint16_t                    dos_time;
    uint16_t                    dos_date;
} ngx_tracker_zip_t;


/*
 * size: the sum of ngx_tracker_zip_entry_size() of the n entries to come.
 * NGX_DECLINED: too large for a ZIP without ZIP64.
 */
ngx_int_t ngx_tracker_zip_init(ngx_tracker_zip_t *z, ngx_pool_t *pool,
    size_t size, ngx_uint_t n, time_t mtime);

/* writes the local header; returns where the entry's data goes */
u_char *ngx_tracker_zip_entry_start(ngx_tracker_zip_t *z, u_char *name,
    size_t len);

/* the data ends at end: its CRC-32 and size go into the header */
void ngx_tracker_zip_entry_end(ngx_tracker_zip_t *z, u_char *end);

/* writes the central directory and the end record: the whole archive */
void ngx_tracker_zip_finish(ngx_tracker_zip_t *z, ngx_str_t *out);


#endif /* _NGX_TRACKER_ZIP_H_INCLUDED_ */
