#!/usr/bin/perl
# UDP and HTTP serve one swarm: a peer announced over HTTP is handed to a
# UDP client and the other way round, with two workers.  BEP 41 URL data
# (nop, end, chunks joined, passkey in the path or the query).  A wildcard
# listen answers from the address the client sent to.

use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use Test::More;
use UdpTracker;
use TrackerTest ();

my $any;    # filled in below: the wildcard port

my $n = UdpTracker->start(
    workers => 2,
    stream_main => 'server { listen ' . (($ENV{TEST_NGINX_PORT} // 19300) + 3)
                   . ' udp; tracker_udp swarm; }',
);
$any = $n->{any_port};

sub http_announce {
    my (%a) = @_;
    my $q = TrackerTest::announce(%a);
    $q =~ s/^GET //;
    return TrackerTest::bdecode($n->http_get($q));
}

sub http_peers {
    my $d = shift;
    return TrackerTest::_compact($d->{peers}, Socket::AF_INET(), 4);
}

my $s = $n->socket;
my $cid = $n->connect($s);

# HTTP seeder, then a UDP leecher gets it
my $d = http_announce(torrent => 1, peer => 1, left => 0, port => 7001);
is($d->{complete}, 1, 'HTTP seeder announced');

my $r = $n->announce($s, $cid, info_hash => ih(1), peer => 2, port => 7002);
is_deeply([ @$r{qw(seeders leechers)} ], [1, 1], 'UDP sees the HTTP seeder');
is(peers_text($r->{peers}), '127.0.0.1:7001',
   'the HTTP peer is handed to the UDP client');

# UDP seeder, then an HTTP leecher gets it (and the UDP leecher)
$r = $n->announce($s, $cid, info_hash => ih(1), peer => 3, port => 7003,
                  left => 0);
$d = http_announce(torrent => 1, peer => 4, port => 7004);
is($d->{complete}, 2, 'HTTP counts the UDP seeder');
is($d->{incomplete}, 2, 'HTTP counts the UDP leecher');
is(http_peers($d), '127.0.0.1:7001 127.0.0.1:7002 127.0.0.1:7003',
   'UDP peers are handed to the HTTP client');

# scrape either way
my $sc = TrackerTest::bdecode($n->http_get(
    TrackerTest::scrape('/scrape', 1) =~ s/^GET //r));
is_deeply($sc->{files}{ ih(1) }, { complete => 2, downloaded => 0,
                                   incomplete => 2 }, 'HTTP scrape');
$r = $n->scrape($s, $cid, ih(1));
is_deeply($r->{scrape}, [ [2, 0, 2] ], 'UDP scrape');

# a UDP stop removes a peer that HTTP then no longer sees
$n->announce($s, $cid, info_hash => ih(1), peer => 3, port => 7003,
             event => 3);
$d = http_announce(torrent => 1, peer => 4, port => 7004);
is(http_peers($d), '127.0.0.1:7001 127.0.0.1:7002', 'UDP stopped seen by HTTP');

# --- BEP 41 URL data

sub url_opts { return join '', map { "\x02" . chr(length) . $_ } @_ }

for my $c (
    [ "\x00",                                 'end option only' ],
    [ "\x01\x01\x01" . url_opts('/announce') . "\x00", 'nop, URL data, end' ],
    [ url_opts('/announce/', 'Pk_1') . "\x00", 'passkey in the path, 2 chunks' ],
    [ url_opts('/Pk_1/announce'),              'passkey before the verb' ],
    [ url_opts('/announce?pass', 'key=Pk_1&x=1'), 'passkey in the query' ],
    [ "\x07\x03abc" . url_opts('/announce'),   'unknown option skipped' ],
    [ url_opts('/announce') . "\x00\x02\xff",  'bytes after end ignored' ],
) {
    $r = $n->announce($s, $cid, info_hash => ih(5), peer => 1,
                      options => $c->[0]);
    is($r && $r->{action}, 1, "BEP 41: $c->[1]: announced");
}

# chunks are joined before the passkey is read: "a" + "!b" is bad
$r = $n->announce($s, $cid, info_hash => ih(5), peer => 1,
                  options => url_opts('/announce/a', '!b'));
is($r->{error}, 'invalid passkey', 'BEP 41: chunks joined, then checked');

# --- replies come from the address the client sent to (wildcard listen)

my $s2 = $n->socket;
for my $dst ('127.0.0.1', '127.0.0.2') {
    $n->send_raw($s2, connect_req(), "$dst:$any");
    my ($raw, $from) = $n->recv_raw($s2);
    is($from, "$dst:$any", "wildcard listen: reply from $dst");
}

SKIP: {
    skip 'no IPv6 on this machine', 3 unless have_ipv6();

    # an IPv6 client and the same swarm
    my $s6 = $n->socket(v6 => 1);
    my $c6 = $n->connect($s6);
    $r = $n->announce($s6, $c6, info_hash => ih(1), peer => 9, port => 7009,
                      left => 0);
    is($r->{seeders}, 2, 'IPv6 UDP seeder joins the swarm');
    $d = http_announce(torrent => 1, peer => 4, port => 7004);
    is(TrackerTest::_compact($d->{peers6}, Socket::AF_INET6(), 16),
       '[::1]:7009', 'HTTP client gets the IPv6 UDP peer in peers6');
    is($d->{complete}, 2, 'HTTP counts it');
}

unlike($n->error_log, qr/\[(alert|crit|emerg)\]/, 'no alerts in error.log');
$n->stop;
done_testing();
