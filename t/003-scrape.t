# Scrape (BEP 48): repeated info_hash, sorted files dict, full scrape switch.

use FindBin;
use lib $FindBin::Bin;
use TrackerTest;
use Test::Nginx::Socket 'no_plan';

# the three torrents' hex hashes in sorted order, for readable expectations
our %hex = map { $_ => ::ih_hex($_) } 1 .. 4;

no_shuffle();
run_tests();

__DATA__

=== TEST 1: one torrent: complete, incomplete, downloaded
--- http_config
    tracker_swarm_zone swarm:1m;
--- config
    location /announce { tracker_announce swarm; }
    location /scrape { tracker_scrape swarm; }
--- request eval
[
::announce(torrent => 1, peer => 1),
::announce(torrent => 1, peer => 2, left => 0, event => 'completed'),
::announce(torrent => 1, peer => 3, left => 0),
::scrape('/scrape', 1),
]
--- response_body_filters eval
sub { my $b = shift; $b =~ /^d5:files/ ? ::bdump($b) : "" }
--- response_body eval
["", "", "", "files:\n  $::hex{1}: complete=2 downloaded=1 incomplete=1\n"]



=== TEST 2: several hashes: sorted, duplicates once, unknown ones as zeros
--- http_config
    tracker_swarm_zone swarm:1m;
--- config
    location /announce { tracker_announce swarm; }
    location /scrape { tracker_scrape swarm; }
--- request eval
[
::announce(torrent => 1, peer => 1),
::announce(torrent => 2, peer => 1, left => 0),
::scrape('/scrape', 3, 2, 1, 2),
]
--- response_body_filters eval
sub { my $b = shift; $b =~ /^d5:files/ ? ::bdump($b) : "" }
--- response_body eval
["", "", CORE::join('', "files:\n", map { "  $_\n" } sort
    "$::hex{1}: complete=0 downloaded=0 incomplete=1",
    "$::hex{2}: complete=1 downloaded=0 incomplete=0",
    "$::hex{3}: complete=0 downloaded=0 incomplete=0")]



=== TEST 3: the raw reply is strict bencode with keys in byte order
--- http_config
    tracker_swarm_zone swarm:1m;
--- config
    location /scrape { tracker_scrape swarm; }
--- request eval
::scrape('/scrape', 4, 3, 2, 1)
--- response_body_filters eval
sub { my $d = eval { ::bdecode(shift) }; $@ ? "bad: $@" : CORE::join(' ', map { unpack 'H*', $_ } keys %{ $d->{files} }) =~ tr/ // + 1 . " files" }
--- response_body: 4 files



=== TEST 4: full scrape is off by default: a failure naming info_hash
--- http_config
    tracker_swarm_zone swarm:1m;
--- config
    location /scrape { tracker_scrape swarm; }
--- request
GET /scrape
--- response_body: d14:failure reason55:full scrape is disabled on this tracker: send info_hashe



=== TEST 5: full scrape when enabled lists every torrent in order
--- http_config
    tracker_swarm_zone swarm:1m;
--- config
    location /announce { tracker_announce swarm; }
    location /scrape { tracker_scrape swarm; tracker_full_scrape on; }
--- request eval
[
(map { ::announce(torrent => $_, peer => 1, left => $_ % 2) } 1 .. 4),
"GET /scrape",
]
--- response_body_filters eval
sub { my $b = shift; $b =~ /^d5:files/ ? ::bdump($b) : "" }
--- response_body eval
["", "", "", "", CORE::join('', "files:\n", map { "  $_\n" } sort
    "$::hex{1}: complete=0 downloaded=0 incomplete=1",
    "$::hex{2}: complete=1 downloaded=0 incomplete=0",
    "$::hex{3}: complete=0 downloaded=0 incomplete=1",
    "$::hex{4}: complete=1 downloaded=0 incomplete=0")]



=== TEST 6: full scrape of an empty zone
--- http_config
    tracker_swarm_zone swarm:1m;
--- config
    location /scrape { tracker_scrape swarm; tracker_full_scrape on; }
--- request
GET /scrape
--- response_body: d5:filesdee



=== TEST 7: passkey forms on scrape; a bad info_hash or passkey is a failure
--- http_config
    tracker_swarm_zone swarm:1m;
--- config
    location /scrape { tracker_scrape swarm; }
    location ~ ^/[A-Za-z0-9_-]+/scrape$ { tracker_scrape swarm; }
--- request eval
[
::scrape('/scrape/abcdef0123', 1),
::scrape('/abcdef0123/scrape', 1),
::scrape('/scrape', 1) . '&passkey=abcdef0123',
"GET /scrape?info_hash=tooshort",
::scrape('/scrape', 1) . '&info_hash=%GG',
::scrape('/scrape', 1) . '&passkey=no%20spaces',
]
--- response_body_like eval
[
qr/^d5:filesd20:/,
qr/^d5:filesd20:/,
qr/^d5:filesd20:/,
qr/^d14:failure reason52:invalid info_hash: must be 20 bytes, percent-encodede$/,
qr/^d14:failure reason52:invalid info_hash: must be 20 bytes, percent-encodede$/,
qr/^d14:failure reason15:invalid passkeye$/,
]
