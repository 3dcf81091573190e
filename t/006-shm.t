# The swarm zone is shared: two workers see one swarm, peers survive a
# configuration reload (HUP: new worker processes, same zone), and peers
# expire after peer_timeout.
#
# The file runs in HUP mode: nginx is started once and every later block is
# a reload, as `nginx -s reload` does.

use FindBin;
use lib $FindBin::Bin;
use TrackerTest;
use Test::Nginx::Socket 'no_plan';

use_hup();
master_on();
workers(2);
no_shuffle();
run_tests();

__DATA__

=== TEST 1: two workers, one swarm: 30 peers announced over 30 connections
--- http_config
    tracker_swarm_zone swarm:4m;
--- config
    location /announce { tracker_announce swarm; tracker_numwant 100; }
    location /scrape { tracker_scrape swarm; }
    location /pid { return 200 $pid; }
--- request eval
[ (map { ::announce(torrent => 1, peer => $_) } 1 .. 30), ::scrape('/scrape', 1) ]
--- response_body_filters eval
sub { my $b = shift; $b =~ /^d5:files/ ? ::bdump($b) : ($b =~ /^d8:complete/ ? "ok" : $b) }
--- response_body eval
[ (map { "ok" } 1 .. 30), "files:\n  ${\ ::ih_hex(1)}: complete=0 downloaded=0 incomplete=30\n" ]
--- no_error_log
[alert]
[crit]



=== TEST 2: after a reload (new workers) the peers are still there
--- http_config
    tracker_swarm_zone swarm:4m;
--- config
    location /announce { tracker_announce swarm; tracker_numwant 100; }
    location /scrape { tracker_scrape swarm; }
--- request eval
[ ::scrape('/scrape', 1), ::announce(torrent => 1, peer => 31, left => 0) ]
--- response_body_filters eval
sub { my $d = ::bdump(shift); $d =~ s/^(external ip|interval|min interval): .*\n//mg; $d =~ s/^peers: (.*)$/"peers: " . scalar(split \/ \/, $1)/me; $d }
--- response_body eval
[
"files:\n  ${\ ::ih_hex(1)}: complete=0 downloaded=0 incomplete=30\n",
"complete: 1\ndownloaded: 0\nincomplete: 30\npeers: 30\n",
]
--- no_error_log
[alert]
[crit]



=== TEST 3: the reload changed the configuration, the zone kept its data and took the new timeout
--- http_config
    tracker_swarm_zone swarm:4m peer_timeout=1h;
--- config
    location /scrape { tracker_scrape swarm; }
    location /status { tracker_status swarm; }
--- request eval
[ ::scrape('/scrape', 1), "GET /status" ]
--- response_body_like eval
[ qr/d8:completei1e10:downloadedi0e10:incompletei30e/, qr/"torrents":1,"seeders":1,"leechers":30,.*"peer_timeout":3600,/ ]



=== TEST 4: peers expire after peer_timeout and are counted as expired
--- http_config
    tracker_swarm_zone expiry:1m peer_timeout=1s;
    # a deterministic pause inside nginx: the second /pause waits 2.5 s
    limit_req_zone $server_name zone=pause:1m rate=24r/m;
--- config
    location /announce { tracker_announce expiry; }
    location /scrape { tracker_scrape expiry; }
    location /status { tracker_status expiry; }
    location /pause { limit_req zone=pause burst=5; try_files /.none =204; }
--- request eval
[
::announce(torrent => 7, peer => 1, left => 0),
::announce(torrent => 7, peer => 2),
"GET /pause",
"GET /pause",
::scrape('/scrape', 7),
::announce(torrent => 7, peer => 3),
"GET /status",
]
--- response_body_filters eval
sub { my $b = shift; $b =~ /^d/ ? ::bdump($b) : $b =~ /"expired_peers":(\d+)/ ? "expired $1" : $b }
--- response_body_like eval
[
qr/^complete: 1\n/,
qr/^complete: 1\ndownloaded: 0\nexternal ip: 127.0.0.1\nincomplete: 1\n.*peers: 127.0.0.1:6881\n/s,
qr/^$/,
qr/^$/,
qr/^files:\n  \w+: complete=0 downloaded=0 incomplete=0\n$/,
qr/^complete: 0\n.*incomplete: 1\n.*peers: -\n/s,
qr/^expired 2$/,
]
--- error_code eval
[200, 200, 204, 204, 200, 200, 200]
--- timeout: 10
