#!/usr/bin/perl
# UDP connection-id keys: ids stay good across a key rotation for their
# timeout; ids of a period whose key is gone are refused; a reload keeps
# the keys (they live in the zone); with
# tracker_udp_secret, another nginx (another node, or this one restarted)
# accepts the ids, and one with another secret does not.

use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use Test::More;
use UdpTracker;

# --- rotation every 2 s, ids valid 2 s: connect, wait 1 s, announce,
# several times, so that some ids cross a rotation

my $n = UdpTracker->start(
    workers => 2,
    stream_main => 'tracker_udp_key_rotation 2s; '
                   . 'tracker_udp_connection_id_timeout 2s;',
);
my $s = $n->socket;

for my $i (1 .. 4) {
    my $cid = $n->connect($s);
    select undef, undef, undef, 1;
    my $r = $n->announce($s, $cid, info_hash => ih(1), peer => $i);
    is($r && $r->{action}, 1, "id $i, 1 s old, across rotations: accepted");
}

# 5 s later its period (and the one after) has ended: the key is gone
my $old = $n->connect($s);
select undef, undef, undef, 5;
my $r = $n->announce($s, $old, info_hash => ih(1));
is($r && $r->{action}, 3, 'an id from two periods ago is refused');
like($r && $r->{error}, qr/^(invalid connection id|connection id expired)$/,
     'with a connection id error');
unlike($n->error_log, qr/\[(alert|crit|emerg)\]/, 'no alerts in error.log');
$n->stop;

# --- a shared secret: ids survive a restart (or work on another node)

my $secret = 'tracker_udp_secret 0123456789abcdef-node-secret;';

$n = UdpTracker->start(workers => 1, stream_main => $secret);
$s = $n->socket;
my $cid = $n->connect($s);
$n->stop;

$n = UdpTracker->start(workers => 1, stream_main => $secret);
$r = $n->announce($s, $cid, info_hash => ih(2));
is($r && $r->{action}, 1, 'same secret: another nginx accepts the id');
$n->stop;

$n = UdpTracker->start(workers => 1, stream_main =>
                       'tracker_udp_secret another-secret-0123456789;');
$r = $n->announce($s, $cid, info_hash => ih(2));
is($r && $r->{error}, 'invalid connection id',
   'another secret: the id is refused');
$n->stop;

# --- random keys live in the zone: a reload (new workers) keeps them

$n = UdpTracker->start(workers => 2);
$cid = $n->connect($s);
$r = $n->announce($s, $cid, info_hash => ih(3), left => 0);
is($r && $r->{action}, 1, 'before the reload: announced');
ok($n->reload, 'reload: new workers took over');
$r = $n->announce($s, $cid, info_hash => ih(3), peer => 2);
is($r && $r->{action}, 1, 'after the reload: the old id is accepted');
is($r && $r->{seeders}, 1, 'after the reload: the swarm is still there');
$n->stop;

# --- random keys (no secret): a restarted nginx has new keys

$n = UdpTracker->start(workers => 1);
$cid = $n->connect($s);
$n->stop;
$n = UdpTracker->start(workers => 1);
$r = $n->announce($s, $cid, info_hash => ih(2));
is($r && $r->{error}, 'invalid connection id',
   'random keys: a new nginx refuses the old id');
$n->stop;

done_testing();
