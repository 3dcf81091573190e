#!/usr/bin/perl
# End to end over udp:// with a real BitTorrent client: two libtorrent
# sessions (t/e2e/libtorrent_swarm.py, DHT/LSD/PEX off) find each other only
# through the UDP tracker and swap a file.  The announce URL carries a
# passkey in its path, which libtorrent sends as BEP 41 URL data.  Then the
# swarm is read back over UDP scrape and the status counters.

use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use Test::More;
use File::Compare qw(compare);
use File::Path qw(make_path);
use IO::Select;
use IPC::Open2 qw(open2);
use JSON::PP;
use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep time);
use UdpTracker;

my $python = '/usr/bin/python3';
my $script = "$FindBin::Bin/e2e/libtorrent_swarm.py";

if (system($python, '-c', 'import libtorrent') != 0) {
    plan skip_all => "$python cannot import libtorrent "
                     . '(Debian package python3-libtorrent; make deps)';
}

my $n = UdpTracker->start(workers => 2);
my $udp = "udp://127.0.0.1:$n->{udp_port}/announce/e2ePasskey";
my $work = "$n->{root}/work";
make_path($work);

# clients listen well above the tracker's ports
my ($seed_port, $leech_port) = ($n->{http_port} + 10, $n->{http_port} + 11);

my $pid = open2(my $from, my $to, $python, $script, '--tracker', $udp,
                '--workdir', $work, '--flavour', 'v1',
                '--seed-port', $seed_port, '--leech-port', $leech_port,
                '--timeout', 40, '--hold');

my $r;
if (IO::Select->new($from)->can_read(50)) {
    my $line = <$from>;
    $r = eval { decode_json($line // '') };
}

ok($r, 'the clients report their results') or BAIL_OUT('no client result');
ok($r->{completed} && !defined $r->{error},
   'the leecher completed and its data hash-checks') or diag explain $r;
is(compare($r->{payload}, $r->{download}), 0,
   'the downloaded file equals the original');

my ($started) = grep { $_->{event} eq 'started' }
                @{ $r->{leecher}{announces} };
ok($started && $started->{peers} >= 1,
   "the leecher's first UDP announce returned the seeder");
is_deeply([ @{ $r->{seeder}{errors} }, @{ $r->{leecher}{errors} } ], [],
          'libtorrent reported no tracker errors');

# both are seeders now, still in the swarm: ask over UDP ourselves
my $s = $n->socket;
my $cid = $n->connect($s);
my $ih = pack 'H*', $r->{info_hash_v1};
my $sc = $n->scrape($s, $cid, $ih);
is($sc->{scrape}[0][0], 2, 'UDP scrape: 2 seeders');
is($sc->{scrape}[0][2], 0, 'UDP scrape: 0 leechers');
cmp_ok($sc->{scrape}[0][1], '>=', 1, 'UDP scrape: completed >= 1');

my @lt = map { @{ $r->{$_}{scrapes} } } qw(seeder leecher);
ok(@lt && !grep({ $_->{complete} != 2 } @lt),
   'libtorrent scraped complete=2 over UDP (' . scalar(@lt) . ' replies)');

# leaving.  (libtorrent sends no "stopped" over UDP when a session is
# deleted here: no such datagram reaches nginx, nothing is dropped or
# refused either, see below; the HTTP e2e test covers "stopped".)
close $to;
my $deadline = time + 30;
my $rc = -1;
while (time < $deadline) {
    if (waitpid($pid, WNOHANG) == $pid) { $rc = $? >> 8; last }
    sleep 0.05;
}
is($rc, 0, 'the clients exit with status 0');

cmp_ok($n->udp_counter('connects'), '>=', 2, 'connects counted');
cmp_ok($n->udp_counter('announces'), '>=', 3,
       'announces counted: started (2), completed');
is($n->udp_counter('errors'), 0, 'no error replies');
like($n->status, qr/"dropped":\{"short":0,"oversized":0,"protocol_id":0,"action":0,"options":0,"scrape_length":0\}/,
     'no datagram of libtorrent was dropped');
unlike($n->error_log, qr/\[(alert|crit|emerg)\]/, 'no alerts in error.log');

$n->stop;
done_testing();
