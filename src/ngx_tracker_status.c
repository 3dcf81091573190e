
/*
 * ngx_tracker: the status location, JSON by default and Prometheus text
 * with ?format=prometheus.  Counters are read without locks: a snapshot.
 */

#include "ngx_tracker_module.h"
#include "ngx_tracker_limit.h"


#define NGX_HTTP_TRACKER_STATUS_LINE  128


static ngx_str_t  ngx_http_tracker_json_type = ngx_string("application/json");
static ngx_str_t  ngx_http_tracker_prom_type =
    ngx_string("text/plain; version=0.0.4");


ngx_int_t
ngx_http_tracker_status_handler(ngx_http_request_t *r)
{
    u_char                       *buf, *p;
    size_t                        size, per_peer;
    ngx_int_t                     rc, prom;
    ngx_str_t                     fmt, *zone;
    ngx_uint_t                    i, seeders, leechers, peers;
    ngx_buf_t                    *b;
    ngx_chain_t                   out;
    ngx_tracker_sh_t             *sh;
    ngx_tracker_swarm_t          *sw;
    ngx_tracker_swarm_stats_t     st;
    ngx_http_tracker_loc_conf_t  *tlcf;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    tlcf = ngx_http_get_module_loc_conf(r, ngx_http_tracker_module);
    sw = tlcf->zone->data;
    sh = sw->sh;
    zone = &tlcf->zone->shm.name;

    prom = (ngx_http_arg(r, (u_char *) "format", 6, &fmt) == NGX_OK
            && fmt.len == 10 && ngx_strncmp(fmt.data, "prometheus", 10) == 0);

    ngx_tracker_swarm_stats(sw, &st);

    seeders = st.peers[NGX_TRACKER_SEEDERS(NGX_TRACKER_V4)]
              + st.peers[NGX_TRACKER_SEEDERS(NGX_TRACKER_V6)];
    leechers = st.peers[NGX_TRACKER_LEECHERS(NGX_TRACKER_V4)]
               + st.peers[NGX_TRACKER_LEECHERS(NGX_TRACKER_V6)];
    peers = seeders + leechers;

    /* everything the zone holds, shard table and torrents included */
    per_peer = peers ? st.used / peers : 0;

    size = (24 + NGX_TRACKER_ERR_LAST) * (NGX_HTTP_TRACKER_STATUS_LINE
                                          + zone->len)
           + ngx_tracker_limit_status_size(r);

    buf = ngx_pnalloc(r->pool, size);
    if (buf == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = buf;

    if (prom) {

#define ngx_http_tracker_prom(name, help, v)                                  \
        p = ngx_sprintf(p, "# HELP ngx_tracker_" name " " help "\n"           \
                           "# TYPE ngx_tracker_" name " %s\n"                 \
                           "ngx_tracker_" name "{zone=\"%V\"} %uA\n",         \
                        ngx_strstr(name, "_total") ? "counter" : "gauge",     \
                        zone, (ngx_atomic_uint_t) (v))

        ngx_http_tracker_prom("torrents", "Torrents in the swarm zone.",
                              st.torrents);
        ngx_http_tracker_prom("seeders", "Seeding peers.", seeders);
        ngx_http_tracker_prom("leechers", "Leeching peers.", leechers);
        ngx_http_tracker_prom("peers_ipv6", "Peers with an IPv6 address.",
                              st.peers[2] + st.peers[3]);
        ngx_http_tracker_prom("zone_bytes", "Size of the swarm zone.",
                              st.zone_size);
        ngx_http_tracker_prom("zone_used_bytes", "Bytes of the zone in use.",
                              st.used);
        ngx_http_tracker_prom("zone_free_bytes", "Free bytes of the zone.",
                              st.free);
        ngx_http_tracker_prom("bytes_per_peer",
                              "Zone bytes in use divided by peers.",
                              per_peer);
        ngx_http_tracker_prom("announces_total", "Announces answered.",
                              sh->announces);
        ngx_http_tracker_prom("scrapes_total", "Scrapes answered.",
                              sh->scrapes);
        ngx_http_tracker_prom("scraped_hashes_total",
                              "Info hashes answered in scrapes.",
                              sh->scraped_hashes);
        ngx_http_tracker_prom("expired_peers_total",
                              "Peers dropped after the peer timeout.",
                              sh->expired);

        p = ngx_sprintf(p, "# HELP ngx_tracker_failures_total "
                           "Requests answered with a failure reason.\n"
                           "# TYPE ngx_tracker_failures_total counter\n");

        for (i = 1; i < NGX_TRACKER_ERR_LAST; i++) {
            p = ngx_sprintf(p, "ngx_tracker_failures_total"
                               "{zone=\"%V\",reason=\"%s\"} %uA\n",
                            zone, ngx_tracker_err_name(i), sh->failures[i]);
        }

#undef ngx_http_tracker_prom

        p = ngx_tracker_limit_status(r, p, 1);

    } else {
        p = ngx_sprintf(p, "{\"zone\":\"%V\",\"torrents\":%ui,"
                           "\"seeders\":%ui,\"leechers\":%ui,\"peers\":%ui,"
                           "\"peers_ipv4\":%ui,\"peers_ipv6\":%ui,",
                        zone, st.torrents, seeders, leechers, peers,
                        st.peers[0] + st.peers[1], st.peers[2] + st.peers[3]);

        p = ngx_sprintf(p, "\"zone_bytes\":%uz,\"zone_used_bytes\":%uz,"
                           "\"zone_free_bytes\":%uz,\"bytes_per_peer\":%uz,"
                           "\"peer_record_bytes\":{\"ipv4\":%d,\"ipv6\":%d},"
                           "\"peer_timeout\":%T,",
                        st.zone_size, st.used, st.free, per_peer,
                        NGX_TRACKER_PEER4_SIZE, NGX_TRACKER_PEER6_SIZE,
                        sh->peer_timeout);

        p = ngx_sprintf(p, "\"announces\":%uA,\"scrapes\":%uA,"
                           "\"scraped_hashes\":%uA,\"expired_peers\":%uA,"
                           "\"failures\":{",
                        sh->announces, sh->scrapes, sh->scraped_hashes,
                        sh->expired);

        for (i = 1; i < NGX_TRACKER_ERR_LAST; i++) {
            p = ngx_sprintf(p, "%s\"%s\":%uA", i == 1 ? "" : ",",
                            ngx_tracker_err_name(i), sh->failures[i]);
        }

        *p++ = '}';
        p = ngx_tracker_limit_status(r, p, 0);
        p = ngx_sprintf(p, "}\n");
    }

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = p - buf;
    r->headers_out.content_type = prom ? ngx_http_tracker_prom_type
                                       : ngx_http_tracker_json_type;
    r->headers_out.content_type_len = r->headers_out.content_type.len;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->pos = buf;
    b->last = p;
    b->memory = 1;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}
