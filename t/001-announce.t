# HTTP announce (BEP 3, 7, 23, 24): replies, peer selection, events.
# Replies are decoded by TrackerTest::bdump (strict bencode, peers sorted).

use FindBin;
use lib $FindBin::Bin;
use TrackerTest;
use Test::Nginx::Socket 'no_plan';

no_shuffle();
run_tests();

__DATA__

=== TEST 1: the first peer of a torrent: counts itself, gets no peers
--- http_config
    tracker_swarm_zone swarm:1m;
--- config
    location /announce { tracker_announce swarm; }
--- request eval
::announce(torrent => 1, peer => 1, event => 'started')
--- response_body_filters eval
\&::bdump
--- response_body
complete: 0
downloaded: 0
external ip: 127.0.0.1
incomplete: 1
interval: 1800
min interval: 900
peers: -
--- response_headers
Content-Type: text/plain
--- error_code: 200
--- no_error_log
[error]



=== TEST 2: leechers get seeders and leechers; seeders get leechers only; never yourself
--- http_config
    tracker_swarm_zone swarm:1m;
--- config
    location /announce { tracker_announce swarm; }
--- request eval
[
::announce(peer => 1, event => 'started'),
::announce(peer => 2, left => 0, event => 'started'),
::announce(peer => 3, left => 0, event => 'started'),
::announce(peer => 4),
::announce(peer => 2, left => 0),
::announce(peer => 4),
]
--- response_body_filters eval
\&::bdump
--- response_body eval
[
"complete: 0\ndownloaded: 0\nexternal ip: 127.0.0.1\nincomplete: 1\ninterval: 1800\nmin interval: 900\npeers: -\n",
"complete: 1\ndownloaded: 0\nexternal ip: 127.0.0.1\nincomplete: 1\ninterval: 1800\nmin interval: 900\npeers: 127.0.0.1:6881\n",
"complete: 2\ndownloaded: 0\nexternal ip: 127.0.0.1\nincomplete: 1\ninterval: 1800\nmin interval: 900\npeers: 127.0.0.1:6881\n",
"complete: 2\ndownloaded: 0\nexternal ip: 127.0.0.1\nincomplete: 2\ninterval: 1800\nmin interval: 900\npeers: 127.0.0.1:6881 127.0.0.1:6882 127.0.0.1:6883\n",
"complete: 2\ndownloaded: 0\nexternal ip: 127.0.0.1\nincomplete: 2\ninterval: 1800\nmin interval: 900\npeers: 127.0.0.1:6881 127.0.0.1:6884\n",
"complete: 2\ndownloaded: 0\nexternal ip: 127.0.0.1\nincomplete: 2\ninterval: 1800\nmin interval: 900\npeers: 127.0.0.1:6881 127.0.0.1:6882 127.0.0.1:6883\n",
]



=== TEST 3: torrents are separate swarms
--- http_config
    tracker_swarm_zone swarm:1m;
--- config
    location /announce { tracker_announce swarm; }
--- request eval
[
::announce(torrent => 1, peer => 1),
::announce(torrent => 2, peer => 2),
::announce(torrent => 1, peer => 3),
]
--- response_body_filters eval
sub { my $d = ::bdump(shift); my ($i) = $d =~ /^(incomplete: \d+)$/m; my ($p) = $d =~ /^peers: (.*)$/m; "$i $p" }
--- response_body eval
["incomplete: 1 -", "incomplete: 1 -", "incomplete: 2 127.0.0.1:6881"]



=== TEST 4: interval, min interval and numwant follow the directives
--- http_config
    tracker_swarm_zone swarm:1m;
--- config
    location /announce {
        tracker_announce swarm;
        tracker_interval 10m;
        tracker_min_interval 1m;
        tracker_numwant 2;
        tracker_max_numwant 3;
    }
--- request eval
[
(map { ::announce(peer => $_, left => 0) } 1..5),
::announce(peer => 6),
::announce(peer => 6, extra => 'numwant=1'),
::announce(peer => 6, extra => 'numwant=100'),
::announce(peer => 6, extra => 'numwant=0'),
]
--- response_body_filters eval
sub { my $d = ::bdump(shift); my ($i) = $d =~ /^interval: (\d+)/m; my ($m) = $d =~ /^min interval: (\d+)/m; my ($p) = $d =~ /^peers: (.*)$/m; "$i $m " . ($p eq '-' ? 0 : scalar(split / /, $p)) }
--- response_body eval
["600 60 0", "600 60 0", "600 60 0", "600 60 0", "600 60 0", "600 60 2", "600 60 1", "600 60 3", "600 60 0"]



=== TEST 5: compact=0 gives dictionary peers with peer ids; no_peer_id=1 drops them
--- http_config
    tracker_swarm_zone swarm:1m;
--- config
    location /announce { tracker_announce swarm; }
--- request eval
[
::announce(peer => 1, left => 0),
::announce(peer => 2, extra => 'compact=0'),
::announce(peer => 2, extra => 'compact=0&no_peer_id=1'),
::announce(peer => 2, extra => 'compact=1&no_peer_id=1'),
]
--- response_body_filters eval
sub { (::bdump(shift) =~ /^peers: (.*)$/m)[0] }
--- response_body eval
["-", "127.0.0.1:6881=-TT0001-000000000001", "127.0.0.1:6881", "127.0.0.1:6881"]



=== TEST 6: event=stopped removes the peer and returns no peers
--- http_config
    tracker_swarm_zone swarm:1m;
--- config
    location /announce { tracker_announce swarm; }
--- request eval
[
::announce(peer => 1, left => 0),
::announce(peer => 2),
::announce(peer => 2, event => 'stopped'),
::announce(peer => 3),
::announce(peer => 1, left => 0, event => 'stopped'),
::announce(peer => 1, left => 0, event => 'stopped'),
]
--- response_body_filters eval
sub { my $d = ::bdump(shift); CORE::join ' ', map { ($d =~ /^$_: (.*)$/m)[0] } qw(complete incomplete peers) }
--- response_body eval
["1 0 -", "1 1 127.0.0.1:6881", "1 0 -", "1 1 127.0.0.1:6881", "0 1 -", "0 1 -"]



=== TEST 7: event=completed counts a download once per peer
--- http_config
    tracker_swarm_zone swarm:1m;
--- config
    location /announce { tracker_announce swarm; }
--- request eval
[
::announce(peer => 1, event => 'started'),
::announce(peer => 1, left => 0, event => 'completed'),
::announce(peer => 1, left => 0, event => 'completed'),
::announce(peer => 1, left => 0),
::announce(peer => 2, left => 0, event => 'completed'),
::announce(peer => 3, left => 0),
::announce(peer => 3, left => 0, event => 'completed'),
]
--- response_body_filters eval
sub { my $d = ::bdump(shift); CORE::join ' ', map { ($d =~ /^$_: (.*)$/m)[0] } qw(complete incomplete downloaded) }
--- response_body eval
["0 1 0", "1 0 1", "1 0 1", "1 0 1", "2 0 2", "3 0 2", "3 0 2"]



=== TEST 8: a leecher that reaches left=0 without an event becomes a seeder, not a download
--- http_config
    tracker_swarm_zone swarm:1m;
--- config
    location /announce { tracker_announce swarm; }
--- request eval
[
::announce(peer => 1, left => 5),
::announce(peer => 1, left => 0),
::announce(peer => 1, left => 7),
]
--- response_body_filters eval
sub { my $d = ::bdump(shift); CORE::join ' ', map { ($d =~ /^$_: (.*)$/m)[0] } qw(complete incomplete downloaded) }
--- response_body eval
["0 1 0", "1 0 0", "0 1 0"]



=== TEST 9: passkey in /announce/<key>, /<key>/announce and ?passkey= is accepted in open mode
--- http_config
    tracker_swarm_zone swarm:1m;
--- config
    location /announce { tracker_announce swarm; }
    location ~ ^/[A-Za-z0-9_-]+/announce$ { tracker_announce swarm; }
--- request eval
[
::announce(peer => 1, path => '/announce/0123456789abcdefABCDEF_-xyz'),
::announce(peer => 2, path => '/0123456789abcdef/announce'),
::announce(peer => 3, extra => 'passkey=0123456789abcdef'),
::announce(peer => 4, path => '/announce/'),
]
--- response_body_filters eval
sub { my $d = ::bdump(shift); ($d =~ /^incomplete: (.*)$/m)[0] }
--- response_body eval
["1", "2", "3", "4"]



=== TEST 10: IPv6 clients (through realip) get peers6 and a 16-byte external ip
--- http_config
    tracker_swarm_zone swarm:1m;
--- config
    set_real_ip_from 127.0.0.1;
    real_ip_header X-Real-IP;
    location /announce { tracker_announce swarm; }
--- request eval
[
::announce(peer => 1, left => 0),
::announce(peer => 2, left => 0),
::announce(peer => 3),
::announce(peer => 4),
]
--- more_headers eval
[
"X-Real-IP: 2001:db8::1",
"X-Real-IP: 192.0.2.7",
"X-Real-IP: 2001:db8::3",
"X-Real-IP: ::ffff:192.0.2.4",
]
--- response_body_filters eval
\&::bdump
--- response_body eval
[
"complete: 1\ndownloaded: 0\nexternal ip: 2001:db8::1\nincomplete: 0\ninterval: 1800\nmin interval: 900\npeers: -\n",
"complete: 2\ndownloaded: 0\nexternal ip: 192.0.2.7\nincomplete: 0\ninterval: 1800\nmin interval: 900\npeers: -\n",
"complete: 2\ndownloaded: 0\nexternal ip: 2001:db8::3\nincomplete: 1\ninterval: 1800\nmin interval: 900\npeers: 192.0.2.7:6882\npeers6: [2001:db8::1]:6881\n",
"complete: 2\ndownloaded: 0\nexternal ip: 192.0.2.4\nincomplete: 2\ninterval: 1800\nmin interval: 900\npeers: 192.0.2.7:6882\npeers6: [2001:db8::1]:6881 [2001:db8::3]:6883\n",
]



=== TEST 11: compact=0 lists IPv6 peers as text addresses
--- http_config
    tracker_swarm_zone swarm:1m;
--- config
    set_real_ip_from 127.0.0.1;
    real_ip_header X-Real-IP;
    location /announce { tracker_announce swarm; }
--- request eval
[
::announce(peer => 1, left => 0),
::announce(peer => 2, extra => 'compact=0&no_peer_id=1'),
]
--- more_headers eval
["X-Real-IP: 2001:db8::1", "X-Real-IP: 192.0.2.2"]
--- response_body_filters eval
sub { (::bdump(shift) =~ /^peers: (.*)$/m)[0] }
--- response_body eval
["-", "[2001:db8::1]:6881"]



=== TEST 12: ip= is ignored unless tracker_ip_param is on
--- http_config
    tracker_swarm_zone swarm:1m;
--- config
    location /announce { tracker_announce swarm; }
    location /trusting/announce { tracker_announce swarm; tracker_ip_param on; }
--- request eval
[
::announce(peer => 1, left => 0, extra => 'ip=192.0.2.1'),
::announce(peer => 2, left => 0, path => '/trusting/announce', extra => 'ip=192.0.2.2'),
::announce(peer => 3, left => 0, path => '/trusting/announce', extra => 'ip=2001%3Adb8%3A%3A3'),
::announce(peer => 4, extra => 'ip=not-an-address'),
::announce(peer => 5, path => '/trusting/announce', extra => 'ip=not-an-address'),
]
--- response_body_filters eval
\&::bdump
--- response_body eval
[
"complete: 1\ndownloaded: 0\nexternal ip: 127.0.0.1\nincomplete: 0\ninterval: 1800\nmin interval: 900\npeers: -\n",
"complete: 2\ndownloaded: 0\nexternal ip: 192.0.2.2\nincomplete: 0\ninterval: 1800\nmin interval: 900\npeers: -\n",
"complete: 3\ndownloaded: 0\nexternal ip: 2001:db8::3\nincomplete: 0\ninterval: 1800\nmin interval: 900\npeers: -\n",
"complete: 3\ndownloaded: 0\nexternal ip: 127.0.0.1\nincomplete: 1\ninterval: 1800\nmin interval: 900\npeers: 127.0.0.1:6881 192.0.2.2:6882\npeers6: [2001:db8::3]:6883\n",
"failure reason: invalid ip: not an IPv4 or IPv6 address\n",
]



=== TEST 13: %xx escapes in either case name the same torrent; '+' is a space byte
--- http_config
    tracker_swarm_zone swarm:1m;
--- config
    location /announce { tracker_announce swarm; }
--- request eval
[
"GET /announce?info_hash=%aa%bb%cc%dd%ee%ff%00%11%22%33%44%55%66%77%88%99%0a%0b%0c%20&peer_id=AAAAAAAAAAAAAAAAAAAA&port=1&uploaded=0&downloaded=0&left=1",
"GET /announce?info_hash=%AA%BB%CC%DD%EE%FF%00%11%22%33%44%55%66%77%88%99%0A%0B%0C+&peer_id=BBBBBBBBBBBBBBBBBBBB&port=2&uploaded=0&downloaded=0&left=1",
]
--- response_body_filters eval
sub { (::bdump(shift) =~ /^incomplete: (.*)$/m)[0] }
--- response_body eval
["1", "2"]



=== TEST 14: BEP 21 event=paused and unknown parameters are accepted; key and trackerid too
--- http_config
    tracker_swarm_zone swarm:1m;
--- config
    location /announce { tracker_announce swarm; }
--- request eval
::announce(peer => 1, event => 'paused', extra => 'key=1a2b3c&trackerid=xyz&supportcrypto=1&corrupt=0&redundant=0')
--- response_body_filters eval
sub { (::bdump(shift) =~ /^incomplete: (.*)$/m)[0] }
--- response_body: 1



=== TEST 15: HEAD gets the headers only; POST is refused
--- http_config
    tracker_swarm_zone swarm:1m;
--- config
    location /announce { tracker_announce swarm; }
--- request eval
[
"HEAD /announce?info_hash=AAAAAAAAAAAAAAAAAAAA&peer_id=AAAAAAAAAAAAAAAAAAAA&port=1&uploaded=0&downloaded=0&left=1",
"POST /announce?info_hash=AAAAAAAAAAAAAAAAAAAA\nx=1",
]
--- error_code eval
[200, 405]
--- response_body_like eval
[qr/^$/, qr/405 Not Allowed/]
