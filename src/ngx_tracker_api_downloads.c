
/*
 * ngx_tracker: .torrent downloads: one file (GET /torrents/<id>/download)
 * or a ZIP of up to 500 (GET and PATCH /torrents/bulk/download).
 *
 * The SQL (sql/008_api_downloads.sql) decides who may have which torrent
 * and with which announce URL; here the stored files get that URL put in
 * (ngx_tracker_torrent_file.c, the info dictionary untouched) and, for
 * bulk downloads, are packed into one ZIP buffer (ngx_tracker_zip.c).
 */

#include "ngx_tracker_module.h"
#include "ngx_tracker_api.h"
#include "ngx_tracker_torrent_file.h"
#include "ngx_tracker_zip.h"


/* the columns of NGX_TRACKER_API_SQL_FILES */
#define NGX_TRACKER_API_COL_BODY      3
#define NGX_TRACKER_API_COL_ANNOUNCE  4
#define NGX_TRACKER_API_COL_TRACKER   5
#define NGX_TRACKER_API_COL_NAME      6

#define NGX_TRACKER_API_BULK_MAX      500


typedef struct {
    ngx_tracker_torrent_file_t    t;
    ngx_str_t                announce;      /* empty: served as stored */
    ngx_str_t                tracker;
    ngx_str_t                name;
    size_t                   size;
} ngx_tracker_api_file_t;


static const ngx_tracker_api_param_t  ngx_tracker_api_download_params[] = {
    { "public", NGX_TRACKER_API_BOOLEAN, 0, 0, 0, 0, 0, "false", NULL },
    { NULL, 0, 0, 0, 0, 0, 0, NULL, NULL }
};


static const ngx_tracker_api_param_t  ngx_tracker_api_bulk_params[] = {
    { "ids", NGX_TRACKER_API_LIST, 1, 0, 1, 0, NGX_TRACKER_API_BULK_MAX,
      NULL, NULL },
    { "public", NGX_TRACKER_API_BOOLEAN, 0, 0, 0, 0, 0, "false", NULL },
    { NULL, 0, 0, 0, 0, 0, 0, NULL, NULL }
};


const ngx_tracker_api_route_t  ngx_tracker_api_downloads_routes[] = {

    { .methods = NGX_HTTP_GET, .pattern = "torrents/*/download",
      .auth = NGX_TRACKER_API_AUTH_OPTIONAL,
      .sql = NGX_TRACKER_API_SQL_FILES("api_torrent_download"),
      .params = ngx_tracker_api_download_params,
      .kind = NGX_TRACKER_API_TORRENT },

    /* PATCH: the ids in a JSON body, for lists too long for a URL */
    { .methods = NGX_HTTP_GET|NGX_HTTP_PATCH,
      .pattern = "torrents/bulk/download",
      .auth = NGX_TRACKER_API_AUTH_OPTIONAL,
      .sql = NGX_TRACKER_API_SQL_FILES("api_torrents_bulk_download"),
      .params = ngx_tracker_api_bulk_params,
      .kind = NGX_TRACKER_API_ZIP },

    ngx_tracker_api_null_route
};


static void
ngx_tracker_api_column(PGresult *res, int row, int col, ngx_str_t *s)
{
    if (PQgetisnull(res, row, col)) {
        ngx_str_null(s);
        return;
    }

    s->data = (u_char *) PQgetvalue(res, row, col);
    s->len = PQgetlength(res, row, col);
}


/* checks a row's .torrent and sizes its output; NGX_DECLINED: corrupt */
static ngx_int_t
ngx_tracker_api_file(ngx_http_request_t *r, PGresult *res, int row,
    ngx_tracker_api_file_t *f)
{
    ngx_str_t  data;

    ngx_tracker_api_column(res, row, NGX_TRACKER_API_COL_BODY, &data);
    ngx_tracker_api_column(res, row, NGX_TRACKER_API_COL_ANNOUNCE,
                           &f->announce);
    ngx_tracker_api_column(res, row, NGX_TRACKER_API_COL_TRACKER,
                           &f->tracker);
    ngx_tracker_api_column(res, row, NGX_TRACKER_API_COL_NAME, &f->name);

    /* the result is read in place: it lives until the answer is built */
    if (ngx_tracker_torrent_parse(&f->t, data.data, data.len) != NGX_OK) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "tracker api: stored .torrent \"%V\" not served: %s",
                      &f->name, f->t.error);
        return NGX_DECLINED;
    }

    f->size = f->announce.len
              ? ngx_tracker_torrent_rewrite_size(&f->t, &f->announce,
                                                 &f->tracker)
              : data.len;

    return NGX_OK;
}


static u_char *
ngx_tracker_api_file_write(u_char *p, ngx_tracker_api_file_t *f)
{
    if (f->announce.len == 0) {
        return ngx_cpymem(p, f->t.start, f->t.end - f->t.start);
    }

    return ngx_tracker_torrent_rewrite(p, &f->t, &f->announce, &f->tracker);
}


ngx_int_t
ngx_tracker_api_files(ngx_http_request_t *r, PGresult *res, ngx_uint_t kind,
    ngx_str_t *out)
{
    u_char                  *p;
    size_t                   size;
    ngx_int_t                rc;
    ngx_uint_t               i, n, nfiles;
    ngx_tracker_zip_t        zip;
    ngx_tracker_api_file_t  *files, *f;

    n = PQntuples(res);

    if (kind == NGX_TRACKER_API_TORRENT) {
        n = 1;
    }

    if (n > NGX_TRACKER_API_BULK_MAX) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "tracker api: %ui files, more than a ZIP takes", n);
        return NGX_DECLINED;
    }

    files = ngx_palloc(r->pool, n * sizeof(ngx_tracker_api_file_t));
    if (files == NULL) {
        return NGX_ERROR;
    }

    /* corrupt files are left out of a ZIP (and logged) */
    size = 0;
    nfiles = 0;

    for (i = 0; i < n; i++) {
        f = &files[nfiles];

        if (ngx_tracker_api_file(r, res, i, f) != NGX_OK) {
            continue;
        }

        if (f->name.len > NGX_TRACKER_ZIP_MAX_NAME) {
            f->name.len = NGX_TRACKER_ZIP_MAX_NAME;
        }

        size += ngx_tracker_zip_entry_size(f->name.len, f->size);
        nfiles++;
    }

    if (nfiles == 0) {
        return NGX_DECLINED;
    }

    if (kind == NGX_TRACKER_API_TORRENT) {
        out->data = ngx_pnalloc(r->pool, files[0].size);
        if (out->data == NULL) {
            return NGX_ERROR;
        }

        out->len = ngx_tracker_api_file_write(out->data, &files[0])
                   - out->data;

        return NGX_OK;
    }

    rc = ngx_tracker_zip_init(&zip, r->pool, size, nfiles, ngx_time());

    if (rc == NGX_DECLINED) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "tracker api: %uz bytes, too large for a ZIP", size);
    }

    if (rc != NGX_OK) {
        return rc;
    }

    for (i = 0; i < nfiles; i++) {
        f = &files[i];
        p = ngx_tracker_zip_entry_start(&zip, f->name.data, f->name.len);
        ngx_tracker_zip_entry_end(&zip, ngx_tracker_api_file_write(p, f));
    }

    ngx_tracker_zip_finish(&zip, out);

    return NGX_OK;
}
