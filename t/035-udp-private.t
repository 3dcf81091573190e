#!/usr/bin/perl
# The UDP tracker in private mode (tracker_udp_private on) against a real
# PostgreSQL: the passkey from BEP 41 URL data (path or query) must name an
# enabled user and the info hash an approved torrent, with the HTTP
# tracker's failure texts; users and torrents not yet cached are looked up
# without blocking (the datagram waits, the reply follows); accounting goes
# to the same journal as HTTP, so the same traffic gives the same totals
# over either protocol, and a peer that alternates between them is counted
# once.  Both ways datagrams arrive are covered: batched reads (the
# default) and one stream session per datagram (tracker_udp_batch 0).

use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use Test::More;
use Digest::SHA qw(sha1 sha256);
use Time::HiRes qw(sleep);
use JSON::PP ();
use PgTest;
use UdpTracker;
use TrackerTest ();

my $db = PgTest::fresh_db();

sub q1 { my @r = PgTest::psql($db, shift); return $r[0] }

# name => [disabled, can_leech]
my %users = (
    alice => [0, 1], bob => [1, 1], carol => [0, 0], dave => [0, 1],
    erin => [0, 1], frank => [0, 1], gina => [0, 1], hank => [0, 1],
);
my %key = map { $_ => substr(unpack('H*', sha1("key-$_")), 0, 32) }
          keys %users;

for my $u (sort keys %users) {
    my ($dis, $leech) = @{ $users{$u} };
    q1("INSERT INTO users (username, torrent_key, disabled, can_leech)
        VALUES ('$u', '$key{$u}', " . ($dis ? 'true' : 'false') . ", "
        . ($leech ? 'true' : 'false') . ")");
}
my %uid = map { $_ => q1("SELECT id FROM users WHERE username = '$_'") }
          keys %users;

sub pih { sha1("udp-private-" . shift) }
my $v2 = sha256("udp-hybrid-v2");

# name => [status, dl_percent, ul_percent, v2 hash]
my %t = (
    t1      => [1, 100, 100],
    t2      => [1, 100, 100],
    mixed   => [1, 100, 100],
    free    => [1, 0, 100],
    pending => [0, 100, 100],
    hybrid  => [1, 100, 100, $v2],
    session => [1, 100, 100],
);
my %tid = %{ PgTest::add_torrents($db, \&pih, %t) };

my $port = $ENV{TEST_NGINX_PORT} // 19300;
my $session_port = $port + 3;

my $n = UdpTracker->start(
    workers => 2,
    zone => qq{tracker_swarm_zone swarm:8m;
        tracker_database "$db" pool=2 retry=200ms;
        tracker_private_zone priv:8m flush=200ms ttl=60s negative_ttl=60s;},
    http => q{location ~ ^/[^/]+/announce$ { tracker_announce swarm;
                                             tracker_private on; }},
    stream => 'tracker_udp_private on;',
    stream_main => "server { listen 127.0.0.1:$session_port udp;
                             tracker_udp swarm; tracker_udp_private on;
                             tracker_udp_batch 0; }",
);

# BEP 41 URL data, in chunks of at most 255 bytes
sub url_opt {
    my $url = shift;
    my $o = '';
    while (length $url) {
        my $c = substr($url, 0, 255, '');
        $o .= pack('CC', 2, length $c) . $c;
    }
    return $o . "\0";
}

my $s = $n->socket;
my $cid = $n->connect($s);
ok($cid, 'connection id');

# one UDP announce; returns the reply hash
sub udp {
    my %a = (user => 'alice', torrent => 't1', peer => 1, up => 0,
             down => 0, left => 100, event => 0, @_);
    my $url = $a{url} // "/announce/$key{$a{user}}";
    return $n->announce($a{sock} // $s, $a{cid} // $cid,
                        info_hash => $a{hash} // pih($a{torrent}),
                        peer_id => sprintf('-PU0001-%012d', $a{peer}),
                        port => 7000 + $a{peer},
                        uploaded => $a{up}, downloaded => $a{down},
                        left => $a{left}, event => $a{event},
                        options => defined $a{url} && $a{url} eq ''
                                   ? '' : url_opt($url),
                        dest => $a{dest});
}

sub udp_error {
    my $r = udp(@_) or return 'no reply';
    return $r->{action} == 3 ? $r->{error} : 'none';
}

my %http_event = (0 => undef, 1 => 'completed', 2 => 'started',
                  3 => 'stopped');

sub http {
    my %a = (user => 'alice', torrent => 't1', peer => 1, up => 0,
             down => 0, left => 100, event => 0, @_);
    my $q = 'info_hash=' . TrackerTest::pct(pih($a{torrent}))
          . '&peer_id=' . TrackerTest::pct(sprintf '-PU0001-%012d', $a{peer})
          . '&port=' . (7000 + $a{peer})
          . "&uploaded=$a{up}&downloaded=$a{down}&left=$a{left}";
    $q .= "&event=$http_event{$a{event}}" if $http_event{$a{event}};
    my $d = TrackerTest::bdecode(
        $n->http_get("/$key{$a{user}}/announce?$q"));
    return $d->{'failure reason'} // 'none';
}

sub status { return eval { JSON::PP::decode_json($n->status) } // {} }

# waits (bounded) until every delta is in the database
sub drained {
    for (1 .. 200) {
        my $j = status()->{private}{journal};
        return 1 if $j && $j->{pending} == 0;
        sleep 0.05;
    }
    return 0;
}

sub totals {
    my ($u, $t) = @_;
    return q1("SELECT uploaded, downloaded, raw_uploaded, raw_downloaded,
               completed FROM user_torrents
               WHERE user_id = $uid{$u} AND torrent_id = $tid{$t}")
           // 'none';
}

# --- refusals, with the HTTP tracker's texts ---

is(udp_error(url => ''), 'missing passkey: use the announce URL from your '
   . 'torrent file', 'no URL data: passkey missing');
is(udp_error(url => '/announce'), 'missing passkey: use the announce URL '
   . 'from your torrent file', 'URL data without a passkey');
is(udp_error(url => '/announce/' . ('e' x 32)), 'passkey not found',
   'unknown passkey (looked up)');
is(udp_error(url => '/announce/' . ('e' x 32)), 'passkey not found',
   '... again (negative cache)');
is(udp_error(url => '/announce?passkey=' . ('f' x 32)), 'passkey not found',
   'unknown passkey in the query');
is(udp_error(user => 'bob'), 'account disabled', 'disabled account');
is(udp_error(hash => pih('nope')), 'unregistered torrent',
   'unknown info hash');
is(udp_error(torrent => 'pending'), 'unregistered torrent',
   'torrent not approved');
is(udp_error(user => 'carol', left => 5),
   'downloading is not allowed for this account', 'leeching denied');
is(udp_error(user => 'carol', left => 0), 'none', '... seeding allowed');
is(udp_error(url => '/announce/bad!key'), 'invalid passkey',
   'malformed passkey');

# --- accepted: passkey in the path and in the query ---

my $r = udp(user => 'alice', torrent => 't1', peer => 11, left => 0,
            event => 2);
is($r && $r->{action}, 1, 'passkey in the path: announce reply');
is($r && $r->{seeders}, 2, '... with this seeder (and carol) counted');

$r = udp(user => 'alice', torrent => 't1', peer => 12, left => 50,
         url => "/announce?passkey=$key{alice}");
is($r && $r->{action}, 1, 'passkey in the query: announce reply');
is($r && $r->{leechers}, 1, '... a leecher');
is(peers_text($r->{peers}), '127.0.0.1:7001 127.0.0.1:7011',
   '... gets the swarm\'s seeders');

$r = udp(user => 'alice', hash => substr($v2, 0, 20), peer => 13, left => 0);
is($r && $r->{action}, 1, 'hybrid: the truncated v2 hash is accepted');
my $sc = $n->scrape($s, $cid, pih('hybrid'), substr($v2, 0, 20));
is_deeply($sc && $sc->{scrape}, [[1, 0, 0], [1, 0, 0]],
          '... one swarm under both hashes (scrape)');

ok($n->udp_counter('lookups') >= 3, 'cache misses waited for the database');
is($n->udp_counter('lookup_failures'), 0, '... and all got an answer');

# --- the same traffic over HTTP and over UDP: the same totals ---
# frank over HTTP and erin over UDP, both uncached at first: start, grow,
# restart (rebase without credit), grow, complete, grow as a seeder, stop.

my @script = (
    { up => 0,    down => 0,    left => 1000, event => 2 },
    { up => 100,  down => 200,  left => 800 },
    { up => 40,   down => 10,   left => 800,  event => 2 },
    { up => 140,  down => 510,  left => 300 },
    { up => 200,  down => 810,  left => 0,    event => 1 },
    { up => 900,  down => 810,  left => 0 },
    { up => 1000, down => 810,  left => 0,    event => 3 },
);

for my $step (@script) {
    is(http(user => 'frank', torrent => 't2', peer => 21, %$step), 'none',
       "HTTP step up=$step->{up}");
    my $u = udp(user => 'erin', torrent => 't2', peer => 22, %$step);
    is($u && $u->{action}, 1, "UDP step up=$step->{up}");
}

# freeleech: downloads are not credited, whichever protocol
for my $step (@script[0 .. 3]) {
    http(user => 'frank', torrent => 'free', peer => 23, %$step);
    udp(user => 'erin', torrent => 'free', peer => 24, %$step);
}

ok(drained(), 'journal flushed');
is(totals('erin', 't2'), "1060\t1000\t1060\t1000\t1",
   'UDP totals: growth only, restart rebased, completed once');
is(totals('erin', 't2'), totals('frank', 't2'),
   '... identical to the HTTP totals of the same traffic');
is(totals('erin', 'free'), "200\t0\t200\t700\t0",
   'freeleech over UDP: download not credited');
is(totals('erin', 'free'), totals('frank', 'free'),
   '... as over HTTP');
is(q1("SELECT count(*) FROM peers WHERE user_id = $uid{erin}"),
   q1("SELECT count(*) FROM peers WHERE user_id = $uid{frank}"),
   'as many peer rows for both');

# --- one peer alternating between HTTP and UDP is counted once ---

my @mixed = (
    [http => { up => 0,    down => 0,   left => 500, event => 2 }],
    [udp  => { up => 1000, down => 100, left => 400 }],
    [http => { up => 2500, down => 300, left => 200 }],
    [udp  => { up => 4000, down => 500, left => 0, event => 1 }],
    [udp  => { up => 4000, down => 500, left => 0 }],
    [http => { up => 4700, down => 500, left => 0 }],
);
for my $m (@mixed) {
    my ($proto, $step) = @$m;
    if ($proto eq 'http') {
        is(http(user => 'gina', torrent => 'mixed', peer => 31, %$step),
           'none', "mixed: HTTP up=$step->{up}");
    } else {
        my $u = udp(user => 'gina', torrent => 'mixed', peer => 31, %$step);
        is($u && $u->{action}, 1, "mixed: UDP up=$step->{up}");
    }
}
ok(drained(), 'journal flushed');
is(totals('gina', 'mixed'), "4700\t500\t4700\t500\t1",
   'mixed HTTP/UDP peer: every byte counted once, completed once');

# --- one stream session per datagram (tracker_udp_batch 0) ---

my $dest = "127.0.0.1:$session_port";
my $s2 = $n->socket(dest => $dest);
my $cid2 = $n->connect($s2);
ok($cid2, 'session server: connection id');

is(udp_error(sock => $s2, cid => $cid2, url => '/announce/' . ('9' x 32)),
   'passkey not found', 'session server: unknown passkey (looked up)');
$r = udp(sock => $s2, cid => $cid2, user => 'dave', torrent => 'session',
         peer => 41, event => 2, left => 10);
is($r && $r->{action}, 1, 'session server: uncached user answered');
$r = udp(sock => $s2, cid => $cid2, user => 'dave', torrent => 'session',
         peer => 41, up => 77, down => 5, left => 5);
is($r && $r->{action}, 1, '... and again');
ok(drained(), 'journal flushed');
is(totals('dave', 'session'), "77\t5\t77\t5\t0",
   'session server: accounted once');

like($n->error_log, qr/^(?!.*\[(alert|crit|emerg)\])/s,
     'no alerts in the error log');

# --- the database goes away: the cache keeps serving, misses are refused ---

PgTest::stop_server();
is(udp_error(user => 'hank', torrent => 't1', peer => 51),
   'tracker database unavailable, retry later',
   'database down: an uncached passkey is refused for now');
ok($n->udp_counter('lookup_failures') >= 1, '... counted');
$r = udp(user => 'alice', torrent => 't1', peer => 11, left => 0);
is($r && $r->{action}, 1, '... a cached one is still served');
PgTest::start_server();

my $back;
for (1 .. 100) {
    $back = udp_error(user => 'hank', torrent => 't1', peer => 51);
    last if $back eq 'none';
    sleep 0.1;
}
is($back, 'none', 'database back: the passkey is looked up again');

$n->stop;
done_testing();
