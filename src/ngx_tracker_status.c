
/*
 * ngx_tracker: the status location, JSON by default and Prometheus text
 * with ?format=prometheus.  Counters are read without locks: a snapshot.
 */

#include "ngx_tracker_module.h"
#include "ngx_tracker_limit.h"


#define NGX_HTTP_TRACKER_STATUS_LINE  128

/* one gauge or counter (by its name) with HELP and TYPE lines; uses p, zone */
#define ngx_http_tracker_prom(name, help, v)                                  \
    p = ngx_sprintf(p, "# HELP ngx_tracker_" name " " help "\n"               \
                       "# TYPE ngx_tracker_" name " %s\n"                     \
                       "ngx_tracker_" name "{zone=\"%V\"} %uA\n",             \
                    ngx_strstr(name, "_total") ? "counter" : "gauge",         \
                    zone, (ngx_atomic_uint_t) (v))


static u_char *ngx_http_tracker_status_private(ngx_http_request_t *r,
    u_char *p, ngx_uint_t prom);


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

    size = (64 + NGX_TRACKER_ERR_LAST + NGX_TRACKER_UDP_COUNTER_LAST
            + NGX_TRACKER_UDP_DROP_LAST)
           * (NGX_HTTP_TRACKER_STATUS_LINE + zone->len)
           + ngx_tracker_limit_status_size(r);

    buf = ngx_pnalloc(r->pool, size);
    if (buf == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = buf;

    if (prom) {


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

        p = ngx_sprintf(p, "# HELP ngx_tracker_udp_total "
                           "UDP tracker requests and replies by kind.\n"
                           "# TYPE ngx_tracker_udp_total counter\n");

        for (i = 0; i < NGX_TRACKER_UDP_COUNTER_LAST; i++) {
            p = ngx_sprintf(p, "ngx_tracker_udp_total"
                               "{zone=\"%V\",kind=\"%s\"} %uA\n",
                            zone, ngx_tracker_udp_counter_name(i),
                            sh->udp.counters[i]);
        }

        p = ngx_sprintf(p, "# HELP ngx_tracker_udp_dropped_total "
                           "UDP datagrams dropped without a reply.\n"
                           "# TYPE ngx_tracker_udp_dropped_total counter\n");

        for (i = 1; i < NGX_TRACKER_UDP_DROP_LAST; i++) {
            p = ngx_sprintf(p, "ngx_tracker_udp_dropped_total"
                               "{zone=\"%V\",reason=\"%s\"} %uA\n",
                            zone, ngx_tracker_udp_drop_name(i),
                            sh->udp.dropped[i]);
        }

        p = ngx_http_tracker_status_private(r, p, 1);
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

        p = ngx_sprintf(p, "},\"udp\":{");

        for (i = 0; i < NGX_TRACKER_UDP_COUNTER_LAST; i++) {
            p = ngx_sprintf(p, "\"%s\":%uA,",
                            ngx_tracker_udp_counter_name(i),
                            sh->udp.counters[i]);
        }

        p = ngx_sprintf(p, "\"dropped\":{");

        for (i = 1; i < NGX_TRACKER_UDP_DROP_LAST; i++) {
            p = ngx_sprintf(p, "%s\"%s\":%uA", i == 1 ? "" : ",",
                            ngx_tracker_udp_drop_name(i),
                            sh->udp.dropped[i]);
        }

        p = ngx_sprintf(p, "}}");
        p = ngx_http_tracker_status_private(r, p, 0);
        p = ngx_tracker_limit_status(r, p, 0);
        p = ngx_sprintf(p, "}\n");
    }

    return ngx_http_tracker_send_type(r, NGX_HTTP_OK,
                                      prom ? &ngx_http_tracker_prom_type
                                           : &ngx_http_tracker_json_type,
                                      buf, p - buf);
}


/* the private tracker: cache, journal and this worker's database pool */
static u_char *
ngx_http_tracker_status_private(ngx_http_request_t *r, u_char *p,
    ngx_uint_t prom)
{
    ngx_str_t                     *zone, err;
    ngx_tracker_pg_t              *pg;
    ngx_tracker_cache_sh_t        *sh;
    ngx_tracker_journal_t         *j;
    ngx_http_tracker_main_conf_t  *tmcf;

    tmcf = ngx_http_get_module_main_conf(r, ngx_http_tracker_module);

    if (tmcf->cache == NULL || tmcf->pg == NULL) {
        return p;
    }

    sh = tmcf->cache->sh;
    j = &sh->journal;
    pg = tmcf->pg;
    zone = &tmcf->cache->shm_zone->shm.name;

    /* the last error is libpq's text: keep it JSON-safe */
    err.len = ngx_min(pg->last_error.len, 120);
    err.data = ngx_pnalloc(r->pool, err.len * 6);
    if (err.data == NULL) {
        ngx_str_set(&err, "");

    } else {
        err.len = (u_char *) ngx_escape_json(err.data, pg->last_error.data,
                                             err.len)
                  - err.data;
    }

    if (prom) {


        ngx_http_tracker_prom("cache_users", "Cached passkeys.",
                              sh->entries[NGX_TRACKER_ENTRY_USER]);
        ngx_http_tracker_prom("cache_torrents", "Cached info hashes.",
                              sh->entries[NGX_TRACKER_ENTRY_TORRENT]);
        ngx_http_tracker_prom("peer_states", "Peers with accounting state.",
                              sh->entries[NGX_TRACKER_ENTRY_PEER]);
        ngx_http_tracker_prom("cache_hits_total", "Cache hits.", sh->hits);
        ngx_http_tracker_prom("cache_misses_total", "Lookups sent to the "
                              "database.", sh->misses);
        ngx_http_tracker_prom("cache_negative_hits_total", "Unknown "
                              "passkeys or hashes answered from the cache.",
                              sh->negative_hits);
        ngx_http_tracker_prom("cache_evictions_total", "Entries evicted "
                              "from a full zone.", sh->evictions);
        ngx_http_tracker_prom("journal_capacity", "Journal records.",
                              j->capacity);
        ngx_http_tracker_prom("journal_pending", "Deltas not yet in the "
                              "database.", j->tail - j->head);
        ngx_http_tracker_prom("journal_dropped_total", "Deltas dropped on a "
                              "full journal.", j->dropped);
        ngx_http_tracker_prom("journal_flushed_total", "Deltas written to "
                              "the database.", j->flushed);
        ngx_http_tracker_prom("journal_flush_failures_total", "Failed "
                              "flushes (kept and retried).",
                              j->flush_failures);
        ngx_http_tracker_prom("db_failures_total", "Failed database "
                              "queries in this worker.", pg->failures);

        return p;
    }

    return ngx_sprintf(p, ",\"private\":{\"zone\":\"%V\","
                       "\"cache\":{\"users\":%ui,\"torrents\":%ui,"
                       "\"peer_states\":%ui,\"hits\":%uA,\"misses\":%uA,"
                       "\"negative_hits\":%uA,\"stale_hits\":%uA,"
                       "\"evictions\":%uA,\"invalidations\":%uA,"
                       "\"resyncs\":%uA,\"dl_percent\":%i,"
                       "\"ul_percent\":%i},"
                       "\"journal\":{\"capacity\":%uL,\"pending\":%uL,"
                       "\"appended\":%uA,\"merged\":%uA,\"dropped\":%uA,"
                       "\"flushed\":%uA,"
                       "\"batches\":%uA,\"replayed\":%uA,"
                       "\"flush_failures\":%uA,\"last_flush_ms\":%uA},"
                       "\"database\":{\"worker_pid\":%P,"
                       "\"connections\":%ui,\"waiting\":%ui,"
                       "\"queries\":%ui,\"failures\":%ui,"
                       "\"connects\":%ui,\"down\":%s,"
                       "\"last_error\":\"%V\"}}",
                       zone, sh->entries[NGX_TRACKER_ENTRY_USER],
                       sh->entries[NGX_TRACKER_ENTRY_TORRENT],
                       sh->entries[NGX_TRACKER_ENTRY_PEER], sh->hits,
                       sh->misses, sh->negative_hits, sh->stale_hits,
                       sh->evictions, sh->invalidations, sh->resyncs,
                       sh->dl_percent, sh->ul_percent,
                       j->capacity, j->tail - j->head, j->appended,
                       j->merged, j->dropped, j->flushed, j->batches, j->replayed,
                       j->flush_failures, j->last_flush_ms,
                       ngx_pid, pg->nconns, pg->nwaiting, pg->queries,
                       pg->failures, pg->connects,
                       ngx_tracker_pg_is_down(pg) ? "true" : "false", &err);
}
