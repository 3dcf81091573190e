#!/usr/bin/perl
# Batched datagrams (tracker_udp_batch, the default): bursts from many
# client sockets, with malformed datagrams (no reply) in between, so one
# recvmmsg() holds datagrams of several clients and not every datagram has
# a reply.  Every reply must reach the socket that asked, carry its
# transaction id, and on a wildcard listen come from the address that
# socket sent to.  The same burst against a tracker_udp_batch 0 server
# gives the same answers.

use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use Test::More;
use UdpTracker;

my $port = $ENV{TEST_NGINX_PORT} // 19300;
my $any = $port + 3;

my $n = UdpTracker->start(
    workers => 1,
    stream => 'tracker_udp_batch 4;',
    stream_main => "server { listen $any udp; tracker_udp swarm; }",
);

sub burst {
    my ($name, @dests) = @_;
    my (@socks, %want);

    # 12 sockets, 10 connects each, every third followed by a runt
    for my $k (0 .. 11) {
        my $dest = $dests[$k % @dests];
        push @socks, [ $n->socket(dest => $dest), $dest ];
    }
    for my $i (1 .. 10) {
        for my $k (0 .. $#socks) {
            my ($s) = @{ $socks[$k] };
            my $tid = ($k << 16) | $i;
            $n->send_raw($s, connect_req($tid));
            $n->send_raw($s, 'runt') if $i % 3 == 0;
            $want{$k}{$tid} = 1;
        }
    }

    my ($ok, $from_ok, $count) = (1, 1, 0);
    for my $k (0 .. $#socks) {
        my ($s, $dest) = @{ $socks[$k] };
        my %got;
        for (1 .. 10) {
            my ($r, $from) = $n->recv_raw($s, 5);
            last unless defined $r;
            my $h = parse_reply($r);
            $ok = 0 unless $h->{action} == 0 && $want{$k}{ $h->{tid} };
            $from_ok = 0 unless $from eq $dest;
            $got{ $h->{tid} } = 1;
            $count++;
        }
        $ok = 0 unless keys %got == 10;
        $ok = 0 if defined $n->recv_raw($s, 0.1);
    }
    is($count, 120, "$name: one reply per well-formed datagram");
    ok($ok, "$name: each reply to its own socket, with its transaction id");
    ok($from_ok, "$name: each reply from the address that socket sent to");
}

my $drops = $n->udp_counter('dropped.short') // 0;

burst('specific listen', "127.0.0.1:$n->{udp_port}");
burst('wildcard listen', "127.0.0.1:$any", "127.0.0.2:$any",
      "127.0.0.3:$any");

is($n->udp_counter('dropped.short') - $drops, 2 * 12 * 3,
   'the runts are dropped and counted');
$n->stop;

# the same through one stream session per datagram
$n = UdpTracker->start(
    workers => 1,
    stream => 'tracker_udp_batch 0;',
    stream_main => "server { listen $any udp; tracker_udp swarm;
                             tracker_udp_batch 0; }",
);
burst('sessions, specific listen', "127.0.0.1:$n->{udp_port}");
burst('sessions, wildcard listen', "127.0.0.1:$any", "127.0.0.2:$any");
$n->stop;

done_testing();
