# Bad input: HTTP 200 with a bencoded "failure reason" naming the parameter,
# and nothing written to the swarm.

use FindBin;
use lib $FindBin::Bin;
use TrackerTest;
use Test::Nginx::Socket 'no_plan';

our $IH = ::ih(1);
our $PID = ::peer_id(1);
our $OK = "info_hash=$IH&peer_id=$PID&port=6881&uploaded=0&downloaded=0&left=1";

# every malformed or missing parameter, and the reason a client shows
our @cases = (
    [''                                             => 'missing info_hash'],
    ["peer_id=$PID&port=1&uploaded=0&downloaded=0&left=0" => 'missing info_hash'],
    ["info_hash=%41&$OK"                            => 'invalid info_hash: must be 20 bytes, percent-encoded'],
    ["info_hash=$IH%00&peer_id=$PID"                => 'invalid info_hash: must be 20 bytes, percent-encoded'],
    ["info_hash=%zz%01%02%03%04%05%06%07%08%09%0a%0b%0c%0d%0e%0f%10%11%12%13" => 'invalid info_hash: must be 20 bytes, percent-encoded'],
    ["info_hash=%0"                                 => 'invalid info_hash: must be 20 bytes, percent-encoded'],
    ["$OK&info_hash=$IH"                            => 'invalid info_hash: must be 20 bytes, percent-encoded'],
    ["info_hash=$IH"                                => 'missing peer_id'],
    ["info_hash=$IH&peer_id=short"                  => 'invalid peer_id: must be 20 bytes, percent-encoded'],
    ["info_hash=$IH&peer_id=$PID"                   => 'missing port'],
    ["info_hash=$IH&peer_id=$PID&port=0"            => 'invalid port: must be 1..65535'],
    ["info_hash=$IH&peer_id=$PID&port=65536"        => 'invalid port: must be 1..65535'],
    ["info_hash=$IH&peer_id=$PID&port=-1"           => 'invalid port: must be 1..65535'],
    ["info_hash=$IH&peer_id=$PID&port=80x"          => 'invalid port: must be 1..65535'],
    ["info_hash=$IH&peer_id=$PID&port=1"            => 'missing uploaded'],
    ["info_hash=$IH&peer_id=$PID&port=1&uploaded=-5" => 'invalid uploaded: must be a non-negative integer'],
    ["info_hash=$IH&peer_id=$PID&port=1&uploaded=99999999999999999999" => 'invalid uploaded: must be a non-negative integer'],
    ["info_hash=$IH&peer_id=$PID&port=1&uploaded=0" => 'missing downloaded'],
    ["info_hash=$IH&peer_id=$PID&port=1&uploaded=0&downloaded=1.5" => 'invalid downloaded: must be a non-negative integer'],
    ["info_hash=$IH&peer_id=$PID&port=1&uploaded=0&downloaded=0" => 'missing left'],
    ["info_hash=$IH&peer_id=$PID&port=1&uploaded=0&downloaded=0&left=" => 'invalid left: must be a non-negative integer'],
    ["$OK&event=finished"                           => 'invalid event: must be started, completed, stopped or empty'],
    ["$OK&numwant=-1"                               => 'invalid numwant: must be a non-negative integer'],
    ["$OK&compact=2"                                => 'invalid compact: must be 0 or 1'],
    ["$OK&no_peer_id=yes"                           => 'invalid no_peer_id: must be 0 or 1'],
    ["$OK&key=" . ('k' x 129)                       => 'invalid key: too long'],
    ["$OK&trackerid=" . ('t' x 129)                 => 'invalid trackerid: too long'],
    ["$OK&passkey=bad%20key"                        => 'invalid passkey'],
    ["$OK&passkey="                                 => 'invalid passkey'],
    ["$OK&ip=%zz"                                   => 'invalid ip: not an IPv4 or IPv6 address'],
    ["$OK&ip=example.com"                           => 'invalid ip: not an IPv4 or IPv6 address'],
);

no_shuffle();
run_tests();

__DATA__

=== TEST 1: each bad or missing parameter gets its failure reason, HTTP 200
--- http_config
    tracker_swarm_zone swarm:1m;
--- config
    location /announce { tracker_announce swarm; tracker_ip_param on; }
--- request eval
[ map { "GET /announce?$_->[0]" } @::cases ]
--- response_body eval
[ map { my $r = $_->[1]; "d14:failure reason" . length($r) . ":${r}e" } @::cases ]
--- error_code eval
[ map { 200 } @::cases ]
--- response_headers eval
[ map { "Content-Type: text/plain" } @::cases ]
--- no_error_log
[error]
[alert]



=== TEST 2: a failed announce changes nothing; the swarm and counters say so
--- http_config
    tracker_swarm_zone swarm:1m;
--- config
    location /announce { tracker_announce swarm; }
    location /scrape { tracker_scrape swarm; }
    location /status { tracker_status swarm; }
--- request eval
[
"GET /announce?$::OK&event=bogus",
"GET /announce?$::OK&port=0",
"GET /announce?$::OK&compact=x",
::scrape('/scrape', 1),
"GET /status",
]
--- response_body_like eval
[
qr/^d14:failure reason/,
qr/^d14:failure reason/,
qr/^d14:failure reason/,
qr/^d5:filesd20:.{20}d8:completei0e10:downloadedi0e10:incompletei0eeee$/s,
qr/"torrents":0,.*"peers":0,.*"announces":0,.*"port_invalid":1,.*"event_invalid":1,.*"compact_invalid":1,/,
]



=== TEST 3: a malformed passkey in the path is refused, a good one accepted
--- http_config
    tracker_swarm_zone swarm:1m;
--- config
    location /announce { tracker_announce swarm; }
    location ~ /announce$ { tracker_announce swarm; }
--- request eval
[
"GET /announce/bad.key?$::OK",
"GET /bad.key/announce?$::OK",
"GET /announce/" . ('a' x 129) . "?$::OK",
"GET /announce/good_key-1?$::OK",
]
--- response_body_like eval
[
qr/^d14:failure reason15:invalid passkeye$/,
qr/^d14:failure reason15:invalid passkeye$/,
qr/^d14:failure reason15:invalid passkeye$/,
qr/^d8:complete/,
]



=== TEST 4: a full zone answers a failure reason, counts it, and keeps serving
--- http_config
    tracker_swarm_zone swarm:256k;
--- config
    location /announce { tracker_announce swarm; }
    location /status { tracker_status swarm; }
--- request eval
[
::announce(torrent => 0, peer => 1),
(map { ::announce(torrent => $_, peer => 1) } 1 .. 1000),
::announce(torrent => 0, peer => 2),
"GET /status",
]
--- response_body_filters eval
sub {
    my $b = shift;
    return "ok" if $b =~ /^d8:complete/;
    return "full" if $b =~ /^d14:failure reason\d+:tracker is out of memory/;
    return "counted" if $b =~ /"zone_full":[1-9]/;
    return $b;
}
--- response_body_like eval
[
qr/^ok$/,
(map { qr/^(ok|full)$/ } 1 .. 1000),
qr/^ok$/,
qr/^counted$/,
]
--- no_error_log
[alert]
[crit]
