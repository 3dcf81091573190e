# Private tracker against a real PostgreSQL: passkeys and torrents from the
# database, failure reasons, exact accounting (rebase on restart, freeleech,
# double upload, site events, completed once, seed and leech time),
# hybrid torrents, change notifications, negative caching, the database
# going away and coming back (no loss, no double count), reload and
# graceful quit with deltas still in the journal.
#
# Plain TAP: one nginx (2 workers) is started, reloaded and stopped by the
# test itself (t/TrackerNginx.pm); PostgreSQL is the suite's throwaway
# cluster (t/PgTest.pm), with a fresh database for this file.

use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use Test::More;
use IPC::Run ();
use Digest::SHA qw(sha1 sha256);
use Time::HiRes qw(sleep time);
use TrackerTest ();
use PgTest;
use TrackerNginx;

my $db = PgTest::fresh_db();
my $ngx = TrackerNginx->new(name => 'private', workers => 2, port_offset => 7);

END { local $?; $ngx->quit("TERM") if $ngx }

sub q1 { my @r = PgTest::psql($db, shift); return $r[0] }

my %key = (
    alice => 'a' x 32, bob => 'b' x 32, carol => 'c' x 32, dave => 'd' x 32,
);

for my $u (sort keys %key) {
    q1("INSERT INTO users (username, torrent_key, disabled, can_leech)
        VALUES ('$u', '$key{$u}', " . ($u eq 'bob' ? 'true' : 'false')
        . ", " . ($u eq 'carol' ? 'false' : 'true') . ")");
}

my %uid = map { $_ => q1("SELECT id FROM users WHERE username = '$_'") }
          keys %key;

sub ih { sha1("private-" . shift) }
my $v2 = sha256("hybrid-v2");

# name => [status, dl_percent, ul_percent, v2 hash]
my %t = (
    t1      => [1, 100, 100],
    pending => [0, 100, 100],
    free    => [1, 0, 100],
    double  => [1, 100, 200],
    hybrid  => [1, 100, 100, $v2],
    second  => [1, 100, 100],
);

my %tid = %{ PgTest::add_torrents($db, \&ih, %t) };

my $http = <<"EOF";
    tracker_swarm_zone swarm:8m;
    tracker_database "$db" pool=2 retry=200ms;
    tracker_private_zone priv:8m flush=200ms ttl=60s negative_ttl=60s
                         peer_refresh=0;
    server {
        listen 127.0.0.1:${\ $ngx->port};
        location /announce { tracker_announce swarm; tracker_private on; }
        location ~ ^/[^/]+/announce\$ { tracker_announce swarm;
                                        tracker_private on; }
        location ~ ^/[^/]+/scrape\$ { tracker_scrape swarm;
                                      tracker_private on; }
        location /open/announce { tracker_announce swarm; }
        location /status { tracker_status swarm; }
    }
EOF

ok($ngx->start($http), 'nginx starts in private mode')
    or BAIL_OUT("no nginx: " . $ngx->error_log);

sub announce {
    my %a = (user => 'alice', torrent => 't1', peer => 1, up => 0, down => 0,
             left => 100, @_);
    my $hash = $a{hash} // ih($a{torrent});
    my $path = $a{path} // "/$key{$a{user}}/announce";
    my $q = 'info_hash=' . TrackerTest::pct($hash)
          . '&peer_id=' . TrackerTest::pct(sprintf '-PT0001-%012d', $a{peer})
          . "&port=" . (7000 + $a{peer})
          . "&uploaded=$a{up}&downloaded=$a{down}&left=$a{left}";
    $q .= "&event=$a{event}" if $a{event};
    $q .= "&$a{extra}" if $a{extra};
    my ($status, $body) = $ngx->get("$path?$q");
    return TrackerTest::bdecode($body) // { 'failure reason' => "bad: $body" };
}

sub failure { my $r = announce(@_); return $r->{'failure reason'} // 'none' }

sub status {
    my ($s, $body) = $ngx->get('/status');
    return eval { JSON::PP::decode_json($body) } // {};
}
use JSON::PP ();

# waits (bounded) until the journal is empty, i.e. all deltas are in the db
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
    my $row = q1("SELECT uploaded, downloaded, raw_uploaded, raw_downloaded,
                  completed FROM user_torrents
                  WHERE user_id = $uid{$u} AND torrent_id = $tid{$t}");
    return $row // 'none';
}

# --- refusals, each with the reason a client shows ---

is(failure(path => '/announce'), 'missing passkey: use the announce URL '
   . 'from your torrent file', 'no passkey');
is(failure(path => '/' . ('e' x 32) . '/announce'), 'passkey not found',
   'unknown passkey');
is(failure(user => 'bob'), 'account disabled', 'disabled account');
is(failure(hash => ih('nope')), 'unregistered torrent', 'unknown info hash');
is(failure(torrent => 'pending'), 'unregistered torrent',
   'torrent not approved yet');
is(failure(user => 'carol', left => 5),
   'downloading is not allowed for this account', 'leeching denied');
is(failure(user => 'carol', left => 0), 'none', '... seeding allowed');
is(failure(path => '/announce', extra => "passkey=$key{alice}", peer => 9,
           left => 0), 'none', 'a passkey in the query string is accepted');

# a flood of one bad passkey reaches the database once
my $misses = status()->{private}{cache}{misses};
failure(path => '/' . ('f' x 32) . '/announce') for 1 .. 20;
my $c = status()->{private}{cache};
ok($c->{misses} - $misses <= 2, 'bad passkey flood: at most one lookup per '
   . 'worker (' . ($c->{misses} - $misses) . ')');
ok($c->{negative_hits} >= 18, 'the rest answered from the negative cache');

# --- accounting: a scripted client with a restart ---

my @script = (
    [0,   0,    1000, 'started'],      # rebase
    [100, 200,  800],                  # +100 / +200
    [300, 500,  500],                  # +200 / +300
    [0,   0,    500,  'started'],      # client restarted: rebase, no credit
    [50,  60,   440],                  # +50 / +60
    [150, 1000, 0,    'completed'],    # +100 / +940, completed
    [150, 1000, 0,    'completed'],    # again: nothing, completed once
    [200, 1000, 0,    'stopped'],      # +50
);

for my $s (@script) {
    my $r = announce(up => $s->[0], down => $s->[1], left => $s->[2],
                     event => $s->[3]);
    ok(!$r->{'failure reason'}, "announce up=$s->[0] down=$s->[1] "
       . ($s->[3] // '')) or diag explain $r;
}

# freeleech (downloads free), double upload
announce(torrent => 'free', peer => 2, event => 'started');
announce(torrent => 'free', peer => 2, up => 100, down => 1000);
announce(torrent => 'double', peer => 3, event => 'started');
announce(torrent => 'double', peer => 3, up => 100, down => 10);

ok(drained(), 'journal drained into the database');

is(totals('alice', 't1'), "500\t1500\t500\t1500\t1",
   'exact totals after a restart, completed once');
is(totals('alice', 'free'), "100\t0\t100\t1000\t0",
   'freeleech: download not counted, raw kept');
is(totals('alice', 'double'), "200\t10\t100\t10\t0", 'double upload');
is(q1("SELECT count(*) FROM snatches WHERE user_id = $uid{alice}"), 1,
   'one snatch');
is(q1("SELECT completed FROM torrents WHERE id = $tid{t1}"), 1,
   'torrent completed count');
is(q1("SELECT uploaded || ' ' || downloaded FROM users
       WHERE id = $uid{alice}"), "800 1510", 'user totals');
is(q1("SELECT count(*) FROM peers WHERE torrent_id = $tid{t1}
       AND user_id = $uid{alice} AND peer_id = '\\x" . unpack('H*', '-PT0001-000000000001') . "'"), 0,
   'a stopped peer leaves the last-seen peers');
is(q1("SELECT string_agg(t.title, ' ' ORDER BY t.title) FROM peers p
       JOIN torrents t ON t.id = p.torrent_id WHERE user_id = $uid{alice}"),
   'double free t1', 'the others are there');

# --- a site-wide event reaches the tracker through NOTIFY ---

q1("INSERT INTO site_events (name, dl_percent, ul_percent, starts_at,
    ends_at) VALUES ('half', 50, 100, now() - interval '1 hour',
    now() + interval '1 hour')");

my $pct;
for (1 .. 100) {
    $pct = status()->{private}{cache}{dl_percent};
    last if $pct == 50;
    sleep 0.05;
}
is($pct, 50, 'site event (50% download) picked up');

announce(torrent => 'second', peer => 4, event => 'started');
announce(torrent => 'second', peer => 4, down => 1000, up => 10);
ok(drained(), 'drained');
is(totals('alice', 'second'), "10\t500\t10\t1000\t0", 'event multiplier');
q1("DELETE FROM site_events");

# --- hybrid: v1 and truncated v2 announces are one torrent ---

my $trunc = substr($v2, 0, 20);
announce(torrent => 'hybrid', peer => 5, event => 'started');
announce(hash => $trunc, peer => 5, event => 'started');
announce(torrent => 'hybrid', peer => 5, up => 100);
announce(hash => $trunc, peer => 5, up => 100);
my $r = announce(hash => $trunc, user => 'dave', peer => 6, left => 0);
is($r->{complete} + $r->{incomplete}, 2,
   'the v2 announce sees the v1 swarm (one swarm)');
ok(drained(), 'drained');
is(totals('alice', 'hybrid'), "100\t0\t100\t0\t0",
   'hybrid announced under both hashes: counted once');

my ($s, $body) = $ngx->get("/$key{alice}/scrape?info_hash="
                           . TrackerTest::pct($trunc));
my $sc = TrackerTest::bdecode($body);
is($sc->{files}{$trunc}{complete} + $sc->{files}{$trunc}{incomplete}, 2,
   'scrape by the v2 hash reports the shared swarm');

# --- changes in the database reach the cache within seconds ---

q1("UPDATE users SET disabled = true WHERE id = $uid{dave}");
my $f;
for (1 .. 100) {
    $f = failure(user => 'dave', peer => 6, left => 0);
    last if $f eq 'account disabled';
    sleep 0.05;
}
is($f, 'account disabled', 'disabling a user takes effect (NOTIFY)');

q1("UPDATE torrents SET deleted = now() WHERE id = $tid{second}");
for (1 .. 100) {
    $f = failure(torrent => 'second', peer => 4);
    last if $f eq 'unregistered torrent';
    sleep 0.05;
}
is($f, 'unregistered torrent', 'a deleted torrent is refused');

my $old = $key{carol};
q1("UPDATE users SET torrent_key = '" . ('9' x 32) . "' WHERE id = $uid{carol}");
for (1 .. 100) {
    $f = failure(user => 'carol', left => 0);
    last if $f eq 'passkey not found';
    sleep 0.05;
}
is($f, 'passkey not found', 'a reset passkey stops working at once');
$key{carol} = '9' x 32;
is(failure(user => 'carol', left => 0), 'none', '... and the new one works');

# --- the database goes away: cached users keep announcing, deltas wait ---

announce(torrent => 't1', peer => 7, event => 'started');
ok(drained(), 'drained before the outage');

PgTest::stop_server();

announce(torrent => 't1', peer => 7, up => 1000, down => 0);
announce(torrent => 't1', peer => 7, up => 3000, down => 0);
is(failure(torrent => 't1', peer => 7, up => 3000), 'none',
   'announces are served from the cache while the database is down');
is(failure(path => '/' . ('7' x 32) . '/announce'),
   'tracker database unavailable, retry later',
   'an uncached passkey gets a clear failure');

my $st;
for (1 .. 100) {
    $st = status()->{private};
    last if $st->{journal}{flush_failures} > 0;
    sleep 0.05;
}
ok($st->{journal}{flush_failures} > 0, 'flush failed and is kept');
ok($st->{journal}{pending} >= 1, "deltas wait in the journal "
   . "($st->{journal}{pending})");

PgTest::start_server();

ok(drained(), 'after the restart the journal drains (reconnected)');
is(totals('alice', 't1'), "3500\t1500\t3500\t1500\t1",
   'no loss, no double count across the outage');
is(failure(path => '/' . ('7' x 32) . '/announce'), 'passkey not found',
   'lookups work again without restarting nginx');

# --- a flush whose connection is killed mid-batch is applied once ---

# alice's row is locked, so the flush waits inside its transaction; its
# backend is then killed, the lock released: the retry applies the batch
my $locker = IPC::Run::start(
    ['psql', '-X', '-q', '-d', $db, '-c',
     "BEGIN; SELECT 1 FROM users WHERE id = $uid{alice} FOR UPDATE;
      SELECT pg_sleep(6); COMMIT;"], \undef, \my $lock_out, \my $lock_err);
for (1 .. 250) {
    last if q1("SELECT count(*) FROM pg_stat_activity
                WHERE wait_event = 'PgSleep'
                  AND datname = current_database()") > 0;
    sleep 0.02;
}
my $fails = status()->{private}{journal}{flush_failures};
announce(torrent => 't1', peer => 7, up => 4000);
my $killed = 0;
for (1 .. 150) {
    $killed = q1("SELECT count(pg_terminate_backend(pid))
                  FROM pg_stat_activity
                  WHERE query LIKE '%tracker_flush_totals%'
                    AND wait_event_type = 'Lock'
                    AND datname = current_database()");
    last if $killed;
    sleep 0.02;
}
is($killed, 1, 'the flush waiting on the lock was killed mid-batch')
    or diag(join "\n", $lock_err // '', PgTest::psql($db,
        "SELECT pid, state, wait_event_type, wait_event, left(query, 60)
         FROM pg_stat_activity WHERE datname = current_database()"));
$locker->finish;
ok(drained(), 'the batch was retried and applied');
is(totals('alice', 't1'), "4500\t1500\t4500\t1500\t1",
   'killed mid-batch: no loss, no double count');
ok(status()->{private}{journal}{flush_failures} > $fails,
   'the failed attempt is counted');

# --- sessions inside one batch (the tracker folds a batch per peer) ---

# flush=1h: the announces below wait in the journal, and the reload's
# exiting workers write them as one batch
ok($ngx->reload($http =~ s/flush=200ms/flush=1h/r), 'reload with flush=1h');
announce(torrent => 't1', peer => 8, event => 'started');
announce(torrent => 't1', peer => 8, up => 100);
announce(torrent => 't1', peer => 8, up => 150, event => 'stopped');
announce(torrent => 't1', peer => 8, event => 'started');
announce(torrent => 't1', peer => 8, up => 40, left => 0);
announce(torrent => 't1', peer => 9, event => 'started');
announce(torrent => 't1', peer => 9, up => 10, event => 'stopped');
announce(torrent => 'double', peer => 3, up => 300, down => 10);
ok(status()->{private}{journal}{pending} >= 8, 'all of it in the journal');
ok($ngx->reload($http), 'reload with flush=200ms');
ok(drained(), 'drained');
is(totals('alice', 't1'), "4700\t1500\t4700\t1500\t1",
   'every announce counted once (+150, +40, +10)');
is(totals('alice', 'double'), "600\t10\t300\t10\t0",
   'another torrent in the same batch');
my $peer = sub {
    my $hex = unpack('H*', sprintf '-PT0001-%012d', shift);
    return q1("SELECT uploaded || ' ' || seeder FROM peers
               WHERE user_id = $uid{alice} AND torrent_id = $tid{t1}
                 AND peer_id = '\\x$hex'") // 'none';
};
is($peer->(8), '40 true', 'a peer restarted in the batch: its new session');
is($peer->(9), 'none', 'a peer started and stopped in the batch: gone');

# peers is unlogged (emptied by a database crash): rows come back
q1("DELETE FROM peers WHERE user_id = $uid{alice}");
announce(torrent => 't1', peer => 8, up => 60, left => 0);
ok(drained(), 'drained');
is($peer->(8), '60 true', 'a peer row gone meanwhile is written again '
   . '(with the counters the client reported)');
is(totals('alice', 't1'), "4720\t1500\t4720\t1500\t1", 'totals go on');

# peer_refresh: a busy peer's row is written when something changes, else
# once per peer_refresh; the totals are written every flush regardless
ok($ngx->reload($http =~ s/peer_refresh=0/peer_refresh=60s/r),
   'reload with peer_refresh=60s');
announce(torrent => 't1', peer => 5, event => 'started', up => 0);
ok(drained(), 'drained');
is($peer->(5), '0 false', 'a new session: its row at once');
announce(torrent => 't1', peer => 5, up => 100);
announce(torrent => 't1', peer => 5, up => 130);
ok(drained(), 'drained');
is($peer->(5), '0 false', 'nothing a reader would notice: the row waits');
is(totals('alice', 't1'), "4850\t1500\t4850\t1500\t1",
   'while the totals have the growth (+130)');
announce(torrent => 't1', peer => 5, up => 150, left => 0);
ok(drained(), 'drained');
is($peer->(5), '150 true', 'a leecher turned seeder: written');
announce(torrent => 't1', peer => 5, up => 170, left => 0,
         event => 'stopped');
ok(drained(), 'drained');
is($peer->(5), 'none', 'a stop: deleted');
is(totals('alice', 't1'), "4890\t1500\t4890\t1500\t1", 'totals: +40');
ok($ngx->reload($http), 'reload with peer_refresh=0');

# --- reload and graceful quit with deltas in the journal ---

announce(torrent => 't1', peer => 7, up => 4500);
ok($ngx->reload($http =~ s/flush=200ms/flush=200ms /r), 'reload');
announce(torrent => 't1', peer => 7, up => 5000);
ok(drained(), 'drained after the reload');
is(totals('alice', 't1'), "5890\t1500\t5890\t1500\t1",
   'the peer state and the journal survived the reload');

# a long flush interval: only the graceful quit's final flush writes
ok($ngx->reload($http =~ s/flush=200ms/flush=1h/r), 'reload with flush=1h');
announce(torrent => 't1', peer => 7, up => 6000);
announce(torrent => 't1', peer => 7, up => 7000);
my $j = status()->{private}{journal};
is($j->{pending}, 1, 'one record pending: the second announce added to it');
ok($j->{merged} >= 1, 'merged counted');
ok($ngx->quit, 'graceful quit');
is(totals('alice', 't1'), "7890\t1500\t7890\t1500\t1",
   'the final flush on quit wrote them');

unlike($ngx->error_log, qr/\[(alert|crit|emerg)\]/,
       'no alerts in the error log');

$ngx = undef;
done_testing();
