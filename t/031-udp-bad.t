#!/usr/bin/perl
# UDP tracker: bad input.  Malformed, truncated and oversized datagrams get
# no reply and are counted by reason; requests that parse but are refused
# (forged, foreign or expired connection ids, bad event, port 0, bad
# passkey) get an error reply (action 3); none of them reaches the swarm.
#
# One worker: datagrams from one socket are handled in order, so when the
# reply to a connect sent after a malformed datagram is the first thing
# that comes back, the malformed one got no reply.

use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use Test::More;
use UdpTracker;

my $n = UdpTracker->start(workers => 1);
my $s = $n->socket;
my $cid = $n->connect($s);
ok(defined $cid, 'connect');

my $good = announce_req(cid => $cid, info_hash => ih(1));

my @bad = (
    [ short => 'x' x 15, '15 bytes' ],
    [ short => substr($good, 0, 97), 'announce of 97 bytes' ],
    [ oversized => connect_req() . ("\0" x 1500), 'connect of 1516 bytes' ],
    [ oversized => scrape_req($cid, map { ih($_) } 1 .. 75),
      'scrape of 75 hashes' ],
    [ protocol_id => pack('Q>NN', 0x1234, 0, 7), 'connect, wrong protocol id' ],
    [ action => pack('a8NN', $cid, 3, 7), 'action 3 (error) from a client' ],
    [ action => pack('a8NN', $cid, 9, 7) . ih(1), 'unknown action 9' ],
    [ options => $good . "\x02\x20/announce", 'URL data past the end' ],
    [ options => $good . "\x01\x01\x07", 'option without its length byte' ],
    [ scrape_length => scrape_req($cid), 'scrape without hashes' ],
    [ scrape_length => scrape_req($cid, ih(1)) . 'abc',
      'scrape with a partial hash' ],
);

my %expect;
for my $b (@bad) {
    my ($reason, $data, $what) = @$b;
    $n->send_raw($s, $data);
    my $sentinel = connect_req();
    $n->send_raw($s, $sentinel);
    my $r = parse_reply($n->recv_raw($s) // '');
    ok($r->{action} eq '0' && $r->{tid} == unpack('x12 N', $sentinel),
       "$what: dropped without a reply");
    $expect{$reason}++;
}

for my $reason (sort keys %expect) {
    is($n->udp_counter("dropped.$reason"), $expect{$reason},
       "$expect{$reason} counted as dropped.$reason");
}

like($n->status, qr/"torrents":0,/, 'nothing reached the swarm');

# --- parsed but refused: error replies

sub refused {
    my ($r, $text, $what) = @_;
    is($r && $r->{action}, 3, "$what: error reply");
    is($r && $r->{error}, $text, "$what: \"$text\"");
}

my $forged = $cid ^ "\0\0\0\0\0\0\0\1";
refused($n->announce($s, $forged, info_hash => ih(1)),
        'invalid connection id', 'forged connection id (announce)');
refused($n->scrape($s, $forged, ih(1)),
        'invalid connection id', 'forged connection id (scrape)');
refused($n->announce($s, "\0" x 8, info_hash => ih(1)),
        'invalid connection id', 'zero connection id');

# the id is bound to the client's address (not its port: libtorrent uses
# one id from all its sockets)
my $other = $n->socket(local => '127.0.0.2');
refused($n->announce($other, $cid, info_hash => ih(1)),
        'invalid connection id', 'connection id of another address');
my $r = $n->announce($n->socket, $cid, info_hash => ih(1), event => 3);
is($r->{action}, 1, 'the same address from another port is accepted');

refused($n->announce($s, $cid, info_hash => ih(1), event => 4),
        'invalid event: must be 0 (none), 1 (completed), 2 (started) or 3 '
        . '(stopped)', 'event 4');
refused($n->announce($s, $cid, info_hash => ih(1), port => 0),
        'invalid port: must be 1..65535', 'port 0');
refused($n->announce($s, $cid, info_hash => ih(1),
                     options => "\x02\x0e/announce/a!b\x00"),
        'invalid passkey', 'malformed passkey in URL data');
refused($n->announce($s, $cid, info_hash => ih(1),
                     options => "\x02\x0a?passkey=\x00"),
        'invalid passkey', 'empty ?passkey=');

like($n->status, qr/"torrents":0,/, 'still nothing in the swarm');
is($n->udp_counter('bad_connection_ids'), 4, '4 bad connection ids counted');
is($n->udp_counter('errors'), 8, '8 error replies counted');

# the same socket still works
$r = $n->announce($s, $cid, info_hash => ih(1));
is($r->{action}, 1, 'a good announce afterwards is answered');
unlike($n->error_log, qr/\[(alert|crit|emerg)\]/, 'no alerts in error.log');
$n->stop;

# --- expiry: ids live tracker_udp_connection_id_timeout (here 1 s)

$n = UdpTracker->start(
    workers => 1,
    stream_main => 'tracker_udp_connection_id_timeout 1s;',
);
$s = $n->socket;
$cid = $n->connect($s);
$r = $n->announce($s, $cid, info_hash => ih(1));
is($r->{action}, 1, 'a fresh id is accepted');

# wait until the id is more than 1 s old (ids count whole seconds)
select undef, undef, undef, 2.5;

refused($n->announce($s, $cid, info_hash => ih(1)),
        'connection id expired', 'an id older than its timeout');
is($n->udp_counter('expired_connection_ids'), 1, 'expired id counted');
ok(defined $n->connect($s), 'a new connect works');
$n->stop;

# --- configuration errors

for my $c (
    [ 'tracker_udp_key_rotation 1m;', 'must be at least' ],
    [ 'tracker_udp_secret short;', 'at least 16 characters' ],
    [ 'tracker_udp_connection_id_timeout 0;', 'between 1s and 1h' ],
    [ 'tracker_udp_private on;', 'needs "tracker_database"' ],
    [ 'tracker_udp_batch 2000;', 'must be between 0 and 1024' ],
) {
    my $ok = eval { UdpTracker->start(workers => 1, stream_main => $c->[0]) };
    like($@, qr/\Q$c->[1]\E/, "refused: $c->[0]");
    $ok->stop if $ok;
}

done_testing();
