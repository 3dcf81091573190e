# The status location: JSON by default, Prometheus text on request.

use FindBin;
use lib $FindBin::Bin;
use TrackerTest;
use Test::Nginx::Socket 'no_plan';

no_shuffle();
run_tests();

__DATA__

=== TEST 1: JSON counts torrents, seeders, leechers, families, traffic and failures
--- http_config
    tracker_swarm_zone swarm:1m peer_timeout=10m;
--- config
    set_real_ip_from 127.0.0.1;
    real_ip_header X-Real-IP;
    location /announce { tracker_announce swarm; }
    location /scrape { tracker_scrape swarm; }
    location = /status { tracker_status swarm; }
--- request eval
[
::announce(torrent => 1, peer => 1, left => 0),
::announce(torrent => 1, peer => 2),
::announce(torrent => 2, peer => 3),
::announce(torrent => 2, peer => 4, left => 0),
"GET /announce?port=1",
::scrape('/scrape', 1, 2),
"GET /status",
]
--- more_headers eval
["X-Real-IP: 192.0.2.1", "X-Real-IP: 192.0.2.2", "X-Real-IP: 2001:db8::3", "X-Real-IP: 192.0.2.4", "", "", ""]
--- response_body_like eval
[
qr/^d8:/, qr/^d8:/, qr/^d8:/, qr/^d8:/, qr/^d14:failure/, qr/^d5:files/,
qr/^\{"zone":"swarm","torrents":2,"seeders":2,"leechers":2,"peers":4,"peers_ipv4":3,"peers_ipv6":1,"zone_bytes":1048576,"zone_used_bytes":\d+,"zone_free_bytes":\d+,"bytes_per_peer":\d+,"peer_record_bytes":\{"ipv4":32,"ipv6":44\},"peer_timeout":600,"announces":4,"scrapes":1,"scraped_hashes":2,"expired_peers":0,"failures":\{"info_hash_missing":1,"info_hash_invalid":0,.*"zone_full":0,"passkey_missing":0,.*"database_unavailable":0\}\}\n\z/,
]
--- response_headers eval
["", "", "", "", "", "", "Content-Type: application/json"]



=== TEST 2: the JSON is valid and its byte counts add up
--- http_config
    tracker_swarm_zone swarm:1m;
--- config
    location /announce { tracker_announce swarm; }
    location = /status { tracker_status swarm; }
--- request eval
[ (map { ::announce(torrent => $_, peer => 1) } 1 .. 20), "GET /status" ]
--- response_body_filters eval
sub {
    my $b = shift;
    return "" unless $b =~ /^\{/;
    require JSON::PP;
    my $j = JSON::PP::decode_json($b);
    return CORE::join ' ',
        $j->{zone_used_bytes} + $j->{zone_free_bytes} <= $j->{zone_bytes} ? "sizes-ok" : "sizes-bad",
        $j->{zone_used_bytes} > 0 ? "used" : "unused",
        $j->{bytes_per_peer} == int($j->{zone_used_bytes} / $j->{peers}) ? "per-peer-ok" : "per-peer-bad",
        scalar(keys %{ $j->{failures} }) . " reasons";
}
--- response_body eval
[ (map { "" } 1 .. 20), "sizes-ok used per-peer-ok 28 reasons" ]



=== TEST 3: Prometheus text format with ?format=prometheus
--- http_config
    tracker_swarm_zone swarm:1m;
--- config
    location /announce { tracker_announce swarm; }
    location = /status { tracker_status swarm; }
--- request eval
[ ::announce(peer => 1), ::announce(peer => 2, left => 0), "GET /announce", "GET /status?format=prometheus" ]
--- response_body_like eval
[
qr/^d8:/, qr/^d8:/, qr/^d14:failure/,
qr/# TYPE ngx_tracker_torrents gauge\nngx_tracker_torrents\{zone="swarm"\} 1\n.*ngx_tracker_seeders\{zone="swarm"\} 1\n.*ngx_tracker_leechers\{zone="swarm"\} 1\n.*# TYPE ngx_tracker_announces_total counter\nngx_tracker_announces_total\{zone="swarm"\} 2\n.*ngx_tracker_failures_total\{zone="swarm",reason="info_hash_missing"\} 1\n.*ngx_tracker_failures_total\{zone="swarm",reason="zone_full"\} 0\n.*reason="database_unavailable"\} 0\n\z/s,
]
--- response_headers eval
["", "", "", "Content-Type: text/plain; version=0.0.4"]



=== TEST 4: nginx's own access control protects the status location
--- http_config
    tracker_swarm_zone swarm:1m;
--- config
    location = /status { tracker_status swarm; deny all; }
--- request
GET /status
--- error_code: 403
