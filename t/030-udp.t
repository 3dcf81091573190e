#!/usr/bin/perl
# UDP tracker (BEP 15): connect, announce over IPv4 and IPv6, scrape of
# several hashes, numwant caps, stopped/completed, counters.  Real
# datagrams to a real nginx (t/UdpTracker.pm).

use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use Test::More;
use UdpTracker;

my $n = UdpTracker->start(
    stream => 'tracker_udp_interval 10m; tracker_udp_numwant 20;',
);
my $s = $n->socket;

# --- connect

my $req = connect_req(0x01020304);
$n->send_raw($s, $req);
my $raw = $n->recv_raw($s);
is(length $raw, 16, 'connect reply is 16 bytes');
my $r = parse_reply($raw);
is($r->{action}, 0, 'connect reply: action 0');
is($r->{tid}, 0x01020304, 'connect reply: transaction id echoed');

my $cid = $r->{cid};
my $cid2 = $n->connect($s);
ok(defined $cid2, 'a second connect works');

# --- announce

$r = $n->announce($s, $cid, info_hash => ih(1), peer => 1, left => 0);
is($r->{action}, 1, 'announce reply: action 1');
is($r->{interval}, 600, 'interval from tracker_udp_interval');
is_deeply([ @$r{qw(seeders leechers)} ], [1, 0], 'the first seeder is alone');
is($r->{peers}, '', 'a lone seeder gets no peers');

$r = $n->announce($s, $cid2, info_hash => ih(1), peer => 2, left => 5);
is_deeply([ @$r{qw(seeders leechers)} ], [1, 1], 'either connection id works');
is(peers_text($r->{peers}), '127.0.0.1:6881', 'a leecher gets the seeder');
is($r->{len}, 26, 'one 6-byte peer after the 20-byte header');

$r = $n->announce($s, $cid, info_hash => ih(1), peer => 3, left => 5,
                  numwant => 0);
is($r->{peers}, '', 'numwant 0: no peers');

$r = $n->announce($s, $cid, info_hash => ih(1), peer => 4, left => 0);
is(peers_text($r->{peers}), '127.0.0.1:6882 127.0.0.1:6883',
   'a seeder gets the leechers only');

# completed counts a download; stopped removes the peer
$r = $n->announce($s, $cid, info_hash => ih(1), peer => 2, left => 0,
                  event => 1);
is_deeply([ @$r{qw(seeders leechers)} ], [3, 1], 'completed: now a seeder');
$r = $n->announce($s, $cid, info_hash => ih(1), peer => 3, event => 3);
is_deeply([ @$r{qw(seeders leechers)} ], [3, 0], 'stopped: peer removed');
is($r->{peers}, '', 'stopped: no peers sent');

# --- scrape

$r = $n->scrape($s, $cid, ih(1), ih(99), ih(1));
is($r->{action}, 2, 'scrape reply: action 2');
is_deeply($r->{scrape}, [ [3, 1, 0], [0, 0, 0], [3, 1, 0] ],
          'scrape: seeders, completed, leechers per hash, in order');

$r = $n->scrape($s, $cid, map { ih($_) } 1 .. 74);
is(scalar @{ $r->{scrape} }, 74, 'scrape of 74 hashes');
is($r->{len}, 8 + 74 * 12, 'scrape reply length');

# --- numwant: default, then capped so the reply is never fragmented

for my $p (1 .. 230) {
    $n->send_raw($s, announce_req(cid => $cid, info_hash => ih(2),
                                  peer => 100 + $p, left => 0,
                                  numwant => 0));
    $n->recv_raw($s);
}
$r = $n->announce($s, $cid, info_hash => ih(2), peer => 1);
is(length($r->{peers}) / 6, 20, 'numwant -1: tracker_udp_numwant peers');
$r = $n->announce($s, $cid, info_hash => ih(2), peer => 1, numwant => 1000);
is(length($r->{peers}) / 6, 200, 'numwant 1000: capped at 200 IPv4 peers');
is($r->{len}, 1220, 'the largest IPv4 reply is 1220 bytes');
is($r->{seeders}, 230, '230 seeders');

# --- IPv6

SKIP: {
    skip 'no IPv6 on this machine', 8 unless have_ipv6();

    my $s6 = $n->socket(v6 => 1);
    my $c6 = $n->connect($s6);
    ok(defined $c6, 'connect over IPv6');

    $r = $n->announce($s6, $c6, info_hash => ih(3), peer => 1, left => 0);
    is_deeply([ @$r{qw(seeders leechers)} ], [1, 0], 'IPv6 seeder');
    $r = $n->announce($s6, $c6, info_hash => ih(3), peer => 2);
    is(peers_text($r->{peers}, 1), '[::1]:6881', 'IPv6 peers are 18 bytes');
    is($r->{len}, 38, 'one 18-byte peer');

    # an IPv4 leecher of the same torrent gets no IPv6 peers (and v.v.)
    $r = $n->announce($s, $cid, info_hash => ih(3), peer => 3);
    is_deeply([ @$r{qw(seeders leechers)} ], [1, 2], 'counts include both');
    is($r->{peers}, '', 'IPv4 reply carries no IPv6 peers');

    for my $p (1 .. 80) {
        $n->send_raw($s6, announce_req(cid => $c6, info_hash => ih(4),
                                       peer => $p, left => 0, numwant => 0));
        $n->recv_raw($s6);
    }
    $r = $n->announce($s6, $c6, info_hash => ih(4), peer => 100,
                      numwant => 500);
    is(length($r->{peers}) / 18, 67, 'IPv6 numwant capped at 67 peers');
    is($r->{len}, 20 + 67 * 18, 'the largest IPv6 reply is 1226 bytes');
}

# --- counters

my $st = $n->status;
like($st, qr/"udp":\{"connects":\d+,"announces":\d+,"scrapes":2,/,
     'status page: UDP counters');
cmp_ok($n->udp_counter('announces'), '>=', 240, 'announces counted');
is($n->udp_counter('errors'), 0, 'no error replies');
unlike($n->error_log, qr/\[(alert|crit|emerg)\]/, 'no alerts in error.log');

$n->stop;
done_testing();
