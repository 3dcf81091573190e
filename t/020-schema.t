#!/usr/bin/perl
# The schema against a real PostgreSQL (no nginx): migrations apply once
# and atomically, the demo data loads (once) and holds real torrents, and
# the functions and triggers the tracker's C side relies on behave exactly
# as the contract in sql/002_tracker.sql says.  The last test flushes 100k
# deltas and reports the time (no assertion on it: bench/flush.sh measures).

use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use PgTest;
use Test::More;
use Cwd qw(abs_path);
use Digest::SHA qw(sha1_hex sha256_hex);
use File::Temp qw(tempdir);
use IPC::Run ();

my $top = abs_path("$FindBin::Bin/..");

sub q1 { return scalar PgTest::psql(@_) }

sub run_cmd {
    my @cmd = @_;
    my ($out, $err) = ('', '');
    my $ok = IPC::Run::run(\@cmd, \undef, \$out, \$err);
    return ($ok, $out . $err);
}

sub schema_dump {
    my ($ok, $out) = run_cmd('pg_dump', '-s', '-x', '-O', '-d', shift);
    die "pg_dump: $out" unless $ok;
    $out =~ s/^--.*\n//mg;   # comments carry the database name
    $out =~ s/^\\(un)?restrict .*\n//mg;   # a random key per dump
    return $out;
}

# --- migrations -------------------------------------------------------------

subtest 'migrations apply once, atomically' => sub {
    my $empty = PgTest::fresh_db('template0');
    my ($ok, $out) = run_cmd("$top/sql/migrate.sh", $empty);
    ok($ok, 'migrate.sh on an empty database') or diag $out;
    like($out, qr/^applied 001_init$/m, '001_init applied');
    like($out, qr/^applied 002_tracker$/m, '002_tracker applied');

    my $before = schema_dump($empty);
    my $rows = q1($empty, 'SELECT version, applied_at FROM schema_migrations '
                          . 'ORDER BY 1');
    ($ok, $out) = run_cmd("$top/sql/migrate.sh", $empty);
    ok($ok, 'migrate.sh again');
    like($out, qr/^migrations: up to date/m, 'nothing pending');
    unlike($out, qr/applied \d/, 'nothing applied');
    is(schema_dump($empty), $before, 'schema unchanged by the second run');
    is(q1($empty, 'SELECT version, applied_at FROM schema_migrations '
                  . 'ORDER BY 1'), $rows, 'schema_migrations unchanged');

    my $fresh = PgTest::fresh_db();
    is(schema_dump($fresh), $before,
       'the test template has exactly the migrated schema');

    # PG* environment instead of a conninfo argument
    my %pg = map { /^(\w+)=(.*)$/ } split / /, $empty;
    local @ENV{qw(PGHOST PGPORT PGDATABASE PGUSER)} =
        @pg{qw(host port dbname user)};
    ($ok, $out) = run_cmd("$top/sql/migrate.sh");
    like($out, qr/up to date/, 'conninfo from PG* variables');

    # a failing migration leaves no trace and is not recorded
    my $dir = tempdir(CLEANUP => 1);
    system('cp', glob("$top/sql/*.sql"), "$top/sql/migrate.sh", $dir) == 0
        or die "cp failed";
    open my $fh, '>', "$dir/003_broken.sql" or die $!;
    print $fh "CREATE TABLE half_done (id int);\nSELECT 1/0;\n";
    close $fh;
    ($ok, $out) = run_cmd("$dir/migrate.sh", $empty);
    ok(!$ok, 'a failing migration fails migrate.sh');
    like($out, qr/003_broken failed, nothing of it applied/, 'says which');
    is(q1($empty, "SELECT to_regclass('half_done') IS NULL, "
                  . "count(*) FROM schema_migrations "
                  . "WHERE version = '003_broken'"), "t\t0",
       'its table rolled back, its version not recorded');
};

# --- demo data --------------------------------------------------------------

# the exact bytes of the info dictionary inside a .torrent
sub info_bytes {
    my $d = shift;
    my $pos = index($d, '4:infod');
    return undef if $pos < 0;
    my $start = $pos + 6;
    my $p = $start;
    my $skip;
    $skip = sub {
        my $c = substr($d, $p, 1);
        if ($c eq 'i') { $p = index($d, 'e', $p) + 1; return }
        if ($c =~ /\d/) {
            my $colon = index($d, ':', $p);
            $p = $colon + 1 + substr($d, $p, $colon - $p);
            return;
        }
        $p++;
        $skip->() while substr($d, $p, 1) ne 'e';
        $p++;
    };
    $skip->();
    return substr($d, $start, $p - $start);
}

subtest 'demo data' => sub {
    my $db = PgTest::fresh_db();
    my ($ok, $out) = run_cmd('psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1',
                             '-d', $db, '-f', "$top/sql/demo.sql");
    ok($ok, 'demo.sql loads') or diag $out;
    like($out, qr/demo data loaded/, 'says so');

    my $counts = 'SELECT (SELECT count(*) FROM users), '
        . '(SELECT count(*) FROM torrents), (SELECT count(*) FROM comments), '
        . '(SELECT count(*) FROM peers), (SELECT count(*) FROM groups)';
    my $before = q1($db, $counts);
    ($ok, $out) = run_cmd('psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1',
                          '-d', $db, '-f', "$top/sql/demo.sql");
    like($out, qr/already loaded/, 'a second load is refused');
    is(q1($db, $counts), $before, 'and changes nothing');

    is(q1($db, "SELECT u.username, u.torrent_key FROM api_keys k "
               . "JOIN users u ON u.id = k.user_id WHERE k.key_hash = '"
               . sha256_hex('86ca0245fa5dd60dc56398dfd6a5e0b21153937851a0'
                            . '3421e4f93e02b887b236') . "'"),
       "demo\t59fa2bfebacdb4cce1ee224f1899ed5c",
       'demo API key stored as sha256 hex, fixed passkey');
    is(q1($db, "SELECT permissions & 1 FROM users WHERE username = 'admin'"),
       1, 'an admin');
    is(q1($db, "SELECT count(*) FROM users WHERE disabled"), 1,
       'one disabled user');
    cmp_ok(q1($db, 'SELECT count(*) FROM torrents WHERE status = 1 '
                   . 'AND deleted IS NULL'), '>=', 20, '20+ approved');
    is(q1($db, 'SELECT count(*) FROM torrents WHERE status = 0'), 1,
       'one pending');
    is(q1($db, 'SELECT count(*) FROM torrents WHERE dl_percent = 0'), 1,
       'one freeleech');

    my @t = PgTest::psql($db, "SELECT encode(info_hash, 'hex'), "
        . "coalesce(encode(info_hash_v2, 'hex'), ''), "
        . "encode(torrent_data, 'hex') FROM torrents ORDER BY id");
    my ($good, $v2) = (0, 0);
    for (@t) {
        my ($h1, $h2, $data) = split /\t/;
        my $info = info_bytes(pack 'H*', $data);
        next unless defined $info;
        $good++ if sha1_hex($info) eq $h1
                   && ($h2 eq '' || sha256_hex($info) eq $h2);
        $v2++ if $h2 ne '';
    }
    is($good, scalar @t, 'every info_hash is the SHA-1 of the info dict');
    is($v2, 1, 'one hybrid, its v2 hash the SHA-256 of the info dict');
    is(q1($db, "SELECT count(*) FROM peers p JOIN users u ON u.id = "
               . "p.user_id WHERE u.username = 'demo'"), 4,
       'demo user has peers (applied through tracker_apply_batch)');
};

# --- the tracker contract ---------------------------------------------------

my $db = PgTest::fresh_db();
PgTest::psql($db, <<'SQL');
INSERT INTO users (id, username, torrent_key) VALUES
    (1, 'u1', '11111111111111111111111111111111'),
    (2, 'u2', '22222222222222222222222222222222');
INSERT INTO torrents (id, info_hash, title, dl_percent, ul_percent) VALUES
    (10, decode(repeat('aa', 20), 'hex'), 'plain', 100, 100),
    (11, decode(repeat('bb', 20), 'hex'), 'freeleech', 0, 200);
INSERT INTO torrents (id, info_hash, info_hash_v2, title) VALUES
    (12, decode(repeat('cc', 20), 'hex'), decode(repeat('dd', 32), 'hex'),
     'hybrid');
INSERT INTO site_events (name, dl_percent, ul_percent, starts_at, ends_at)
VALUES ('running freeleech', 0, 200, now() - interval '1 hour',
        now() + interval '1 hour');
SQL

my $T = time - 1200;    # announces in the last hour
my @cols = qw(user torrent peer ip port up down raw_up raw_down up_time
              down_time left event seeders leechers at);
my %type = (user => 'bigint', torrent => 'bigint', peer => 'text',
            ip => 'text', port => 'int', up => 'bigint', down => 'bigint',
            raw_up => 'bigint', raw_down => 'bigint', up_time => 'int',
            down_time => 'int', left => 'bigint', event => 'smallint',
            seeders => 'int', leechers => 'int', at => 'bigint');

# apply(batch_id, {user => .., ...}, ...): unspecified fields take defaults,
# undef ones are NULL; peer_hex gives the peer id's text as it is
sub batch_sql {
    my ($batch, @rows) = @_;
    my @arrays;
    for my $c (@cols) {
        my @v = map {
            my %r = (user => 1, torrent => 10, peer => 'a', ip => '10.0.0.1',
                     port => 6881, up => 0, down => 0, up_time => 0,
                     down_time => 0, left => 0, event => 0, seeders => 1,
                     leechers => 0, at => $T, %$_);
            $r{raw_up} //= $r{up};
            $r{raw_down} //= $r{down};
            $c ne 'peer' ? $r{$c}
                : $r{peer_hex} // unpack('H*', pack 'a20', $r{peer});
        } @rows;
        my $q = $type{$c} eq 'text' ? "'" : '';
        push @arrays, "ARRAY[" . join(',', map { defined $_ ? "$q$_$q"
                                                            : 'NULL' } @v)
            . "]::$type{$c}\[]";
    }
    return "SELECT tracker_apply_batch($batch, " . join(', ', @arrays) . ')';
}

sub apply { return q1($db, batch_sql(@_)) }

sub state {
    return q1($db, <<'SQL');
SELECT 'u', id, uploaded, downloaded FROM users
UNION ALL SELECT 'ut', user_id * 100 + torrent_id, uploaded, downloaded
    FROM user_torrents
UNION ALL SELECT 'ut_raw', user_id * 100 + torrent_id, raw_uploaded,
    raw_downloaded FROM user_torrents
UNION ALL SELECT 'ut_time', user_id * 100 + torrent_id, up_time, down_time
    FROM user_torrents
UNION ALL SELECT 'ut_done', user_id * 100 + torrent_id, completed,
    extract(epoch FROM last_completed)::bigint FROM user_torrents
UNION ALL SELECT 't', id, seeders * 1000 + leechers, completed FROM torrents
UNION ALL SELECT 'p:' || encode(peer_id, 'escape'), user_id * 100 + torrent_id,
    uploaded, downloaded FROM peers
UNION ALL SELECT 's', user_id * 100 + torrent_id, 0, 0 FROM snatches
UNION ALL SELECT 'b', batch_id, rows, 0 FROM tracker_batches
ORDER BY 1, 2
SQL
}

sub peer_row {
    my ($user, $torrent, $peer) = @_;
    my $hex = unpack('H*', pack 'a20', $peer);
    return q1($db, "SELECT host(ip), port, uploaded, downloaded, \"left\", "
        . "seeder, extract(epoch FROM first_seen)::bigint, "
        . "extract(epoch FROM last_seen)::bigint FROM peers "
        . "WHERE user_id = $user AND torrent_id = $torrent "
        . "AND peer_id = decode('$hex', 'hex')");
}

subtest 'tracker_apply_batch: sums, once per batch id' => sub {
    is(apply(100, { up => 1000, down => 500, up_time => 60, event => 2,
                    left => 0, seeders => 1, at => $T }), 1, 'one row');
    is(q1($db, 'SELECT uploaded, downloaded FROM users WHERE id = 1'),
       "1000\t500", 'user totals');
    is(q1($db, 'SELECT uploaded, downloaded, raw_uploaded, raw_downloaded, '
               . 'up_time, down_time, completed, '
               . 'extract(epoch FROM created_at)::bigint, '
               . 'extract(epoch FROM updated_at)::bigint '
               . 'FROM user_torrents WHERE user_id = 1 AND torrent_id = 10'),
       "1000\t500\t1000\t500\t60\t0\t0\t$T\t$T", 'user_torrents row');
    is(peer_row(1, 10, 'a'), "10.0.0.1\t6881\t1000\t500\t0\tt\t$T\t$T",
       'peer row (raw counters, seeder since left = 0)');
    is(q1($db, 'SELECT seeders, leechers, completed, '
               . 'extract(epoch FROM stats_updated_at)::bigint '
               . 'FROM torrents WHERE id = 10'), "1\t0\t0\t$T",
       'torrent stats written back');

    my $before = state();
    is(apply(100, { up => 1000, down => 500 }), -1,
       'the same batch id again: -1');
    is(state(), $before, 'and nothing changed');

    is(apply(101, { up => 10, at => $T + 10 }, { up => 20, at => $T + 20 },
             { user => 2, up => 5, peer => 'b', at => $T + 5 }), 3,
       'three rows');
    is(q1($db, 'SELECT uploaded FROM users ORDER BY id'), "1030\n5",
       'users summed per user');
    is(q1($db, 'SELECT uploaded, extract(epoch FROM updated_at)::bigint '
               . 'FROM user_torrents WHERE user_id = 1 AND torrent_id = 10'),
       "1030\t" . ($T + 20), 'user_torrents summed, updated_at = last');
};

subtest 'multipliers are not applied in SQL' => sub {
    # torrent 11 is freeleech + double upload and a site event runs: the
    # tracker sends credited values, the database takes them as they are
    my $u = q1($db, 'SELECT uploaded, downloaded FROM users WHERE id = 2');
    my ($up, $down) = split /\t/, $u;
    is(apply(110, { user => 2, torrent => 11, peer => 'f', up => 700,
                    down => 300, raw_up => 350, raw_down => 900 }), 1,
       'applied');
    is(q1($db, 'SELECT uploaded - ' . $up . ', downloaded - ' . $down
               . ' FROM users WHERE id = 2'), "700\t300",
       'user credited exactly what was sent');
    is(q1($db, 'SELECT uploaded, downloaded, raw_uploaded, raw_downloaded '
               . 'FROM user_torrents WHERE user_id = 2 AND torrent_id = 11'),
       "700\t300\t350\t900", 'credited and raw kept apart');
};

subtest 'completed: once per user and torrent' => sub {
    is(apply(120, { event => 1, at => $T + 100 },
             { event => 1, at => $T + 101 }), 2,
       'two completed rows for one user in one batch');
    is(q1($db, 'SELECT completed FROM torrents WHERE id = 10'), 1,
       'torrent completed + 1');
    is(q1($db, 'SELECT completed, extract(epoch FROM last_completed)::bigint'
               . ' FROM user_torrents WHERE user_id = 1 AND torrent_id = 10'),
       "1\t" . ($T + 100), 'user_torrents completed, last_completed');
    is(apply(121, { event => 1, at => $T + 200 }), 1,
       'the same user completes again later');
    is(q1($db, 'SELECT completed FROM torrents WHERE id = 10'), 1,
       'not counted again');
    is(q1($db, 'SELECT extract(epoch FROM last_completed)::bigint FROM '
               . 'user_torrents WHERE user_id = 1 AND torrent_id = 10'),
       $T + 100, 'last_completed unchanged');
    is(apply(122, { user => 2, peer => 'b', event => 1 }), 1,
       'another user completes');
    is(q1($db, 'SELECT completed FROM torrents WHERE id = 10'), 2,
       'counted for them');
    is(q1($db, 'SELECT count(*) FROM snatches WHERE torrent_id = 10'), 2,
       'one snatch each');
};

subtest 'peers: upsert, running sums, last row wins, stopped deletes' => sub {
    my ($s) = split /\t/, peer_row(1, 10, 'a');
    apply(130, { raw_up => 200, up => 400, raw_down => 0, left => 0,
                 ip => '10.0.0.9', port => 7000, at => $T + 300 });
    is(peer_row(1, 10, 'a'), "10.0.0.9\t7000\t1230\t500\t0\tt\t$T\t"
       . ($T + 300), 'raw delta added to the session, address updated');

    apply(131, { event => 3, at => $T + 400 });
    is(peer_row(1, 10, 'a'), '', 'stopped: row deleted');

    apply(132, { peer => 'c', event => 2, left => 100, raw_up => 1,
                 at => $T + 500 },
          { peer => 'c', left => 0, port => 7001, raw_up => 2,
            at => $T + 510 });
    is(peer_row(1, 10, 'c'), "10.0.0.1\t7001\t3\t0\t0\tt\t" . ($T + 500)
       . "\t" . ($T + 510), 'two rows of one peer: last wins, deltas sum');

    apply(133, { peer => 'c', event => 3, raw_up => 50, at => $T + 600 },
          { peer => 'c', event => 2, raw_up => 5, left => 7,
            at => $T + 610 });
    is(peer_row(1, 10, 'c'), "10.0.0.1\t6881\t5\t0\t7\tf\t" . ($T + 610)
       . "\t" . ($T + 610), 'stopped then started: a new session');

    apply(134, { peer => 'd', at => $T + 700 },
          { peer => 'd', event => 3, at => $T + 710 });
    is(peer_row(1, 10, 'd'), '', 'started and stopped within a batch: gone');
};

subtest 'torrent stats: last row per torrent' => sub {
    apply(140, { seeders => 5, leechers => 3, at => $T + 800 },
          { torrent => 11, seeders => 9, leechers => 9, at => $T + 801 },
          { seeders => 7, leechers => 2, at => $T + 802 });
    is(q1($db, 'SELECT seeders, leechers, '
               . 'extract(epoch FROM stats_updated_at)::bigint '
               . 'FROM torrents WHERE id IN (10, 11) ORDER BY id'),
       "7\t2\t" . ($T + 802) . "\n9\t9\t" . ($T + 801), 'last row wins');
    apply(141, { seeders => 4, leechers => 2, at => $T + 805 });
    is(q1($db, 'SELECT seeders FROM torrents WHERE id = 10'), 7,
       'changed counts within 10 s of the last write wait');
    apply(142, { seeders => 4, leechers => 2, at => $T + 812 });
    is(q1($db, 'SELECT seeders, extract(epoch FROM stats_updated_at)::bigint '
               . 'FROM torrents WHERE id = 10'), "4\t" . ($T + 812),
       'and are written by a later batch');
};

subtest 'bad batches' => sub {
    my $before = state();
    my $sql = batch_sql(150, {}, {});
    $sql =~ s/ARRAY\[6881,6881\]/ARRAY[6881]/ or die 'no port array';
    eval { PgTest::psql($db, $sql) };
    like($@, qr/arrays differ in length/, 'arrays of different lengths');
    is(state(), $before, 'nothing changed, batch id not taken');
    is(apply(150, {}), 1, 'the batch id is still free');

    is(apply(151, { user => 999 }, { torrent => 999 }, { up => 1 }), 1,
       'rows of unknown users/torrents skipped, the rest applied');
    is(q1($db, 'SELECT rows FROM tracker_batches WHERE batch_id = 151'), 1,
       'rows recorded');
    my $up = q1($db, 'SELECT uploaded FROM users WHERE id = 1');
    is(apply(153, {}, { peer_hex => 'not-hex', up => 7 }), 1,
       'a malformed peer id: that row skipped');
    is(apply(154, { peer => 'n', up => undef, down => undef,
                    event => undef }), 1, 'NULL counters count as 0');
    is(q1($db, 'SELECT uploaded FROM users WHERE id = 1'), $up,
       'neither credited anything');
    is(q1($db, 'SELECT tracker_apply_batch(152, ' . join(', ',
               map { "'{}'::$type{$_}\[]" } @cols) . ')'), 0,
       'an empty batch');
    is(q1($db, 'SELECT tracker_apply_batch(152, ' . join(', ',
               map { "'{}'::$type{$_}\[]" } @cols) . ')'), -1,
       'is recorded too');
};

subtest 'tracker_expire_stats' => sub {
    PgTest::psql($db, "UPDATE torrents SET stats_updated_at = now() - "
        . "interval '2 hours' WHERE id = 10; UPDATE peers SET last_seen = "
        . "now() - interval '2 hours' WHERE user_id = 1");
    my $peers = q1($db, 'SELECT count(*) FROM peers WHERE user_id = 1');
    is(q1($db, 'SELECT tracker_expire_stats(3600)'), 1 + $peers,
       'one torrent and the stale peers');
    is(q1($db, 'SELECT seeders, leechers FROM torrents WHERE id = 10'),
       "0\t0", 'counts zeroed');
    is(q1($db, 'SELECT count(*) FROM peers WHERE user_id = 1'), 0,
       'stale peers deleted');
    is(q1($db, 'SELECT seeders FROM torrents WHERE id = 11'), 9,
       'a fresh torrent kept');
    is(q1($db, 'SELECT tracker_expire_stats(3600)'), 0, 'nothing left');
};

subtest 'lookups, hashes, snowflakes' => sub {
    my $tq = 'SELECT id, encode(info_hash, \'hex\'), status, deleted IS NOT '
        . 'NULL, dl_percent, ul_percent FROM torrents WHERE info_hash = %s '
        . 'OR info_hash_v2_trunc = %s';
    my $h1 = "decode('" . ('cc' x 20) . "', 'hex')";
    my $h2 = "decode('" . ('dd' x 20) . "', 'hex')";
    is(q1($db, sprintf $tq, $h1, $h1), "12\t" . ('cc' x 20) . "\t1\tf\t100\t100",
       'hybrid by its v1 hash');
    is(q1($db, sprintf $tq, $h2, $h2), "12\t" . ('cc' x 20) . "\t1\tf\t100\t100",
       'the same row by its truncated v2 hash');
    my $plan = q1($db, "SET enable_seqscan = off; EXPLAIN "
                       . sprintf($tq, $h1, $h1));
    like($plan, qr/torrents_info_hash_key/, 'v1 lookup uses its index');
    like($plan, qr/torrents_info_hash_v2_trunc/, 'v2 lookup uses its index');
    like(q1($db, "SET enable_seqscan = off; EXPLAIN SELECT id, disabled, "
                 . "can_leech FROM users WHERE torrent_key = '"
                 . ('1' x 32) . "'"), qr/users_torrent_key_key/,
         'passkey lookup uses its index');
    is(q1($db, 'SELECT coalesce(min(dl_percent), 100), '
               . 'coalesce(max(ul_percent), 100) FROM site_events '
               . 'WHERE now() BETWEEN starts_at AND ends_at'), "0\t200",
       'site event multipliers');

    eval { PgTest::psql($db, "INSERT INTO torrents (info_hash, title) "
                             . "VALUES ($h2, 'clash')") };
    like($@, qr/info hash already registered/,
         'a v1 hash equal to a hybrid\'s v2 hash is refused');
    eval { PgTest::psql($db, "INSERT INTO torrents (info_hash, title) "
                             . "VALUES (decode('00', 'hex'), 'short')") };
    like($@, qr/torrents_info_hash_check/, 'info hashes are 20 bytes');
    eval { PgTest::psql($db, "INSERT INTO users (username, torrent_key) "
                             . "VALUES ('x', 'NOT-HEX')") };
    like($@, qr/torrent_key must be 32 lowercase hex/,
         'passkeys are 32 lowercase hex');
    eval { PgTest::psql($db, "INSERT INTO users (username) "
                             . "VALUES ('no spaces please')") };
    like($@, qr/username must be/, 'usernames are checked');
    like(q1($db, "INSERT INTO users (username) VALUES ('fresh') "
                 . "RETURNING torrent_key"), qr/^[0-9a-f]{32}$/,
         'passkeys are generated');

    my @ids = PgTest::psql($db, 'SELECT snowflake(3) FROM '
                                . 'generate_series(1, 1000)');
    is(scalar(grep { (($_ >> 18) & 15) == 3 } @ids), 1000, 'kind bits');
    my %seen;
    @seen{@ids} = ();
    is(scalar keys %seen, 1000, 'unique');
    my $ms = ($ids[0] >> 22) + 1704067200000;
    cmp_ok(abs($ms / 1000 - time), '<', 600, 'ms timestamp since 2024-01-01');
    like(q1($db, "INSERT INTO torrents (info_hash, title) VALUES "
                 . "(decode(repeat('ee', 20), 'hex'), 'new') RETURNING "
                 . "(id >> 18) & 15"), qr/^3$/, 'torrent ids default to it');
};

# --- NOTIFY -----------------------------------------------------------------

sub notified {
    my $sql = shift;
    my ($out, $err) = ('', '');
    IPC::Run::run(['psql', '-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1',
                   '-d', $db, '-f', '-'], \"LISTEN tracker;\n$sql;\n",
                  \$out, \$err) or die "psql: $err";
    return join ' ', $out =~ /notification "tracker" with payload "([^"]*)"/g;
}

subtest 'NOTIFY tracker' => sub {
    my $k1 = '1' x 32;
    my $new = 'ab' x 16;
    is(notified("UPDATE users SET disabled = true WHERE id = 1"), "u:$k1",
       'user disabled: u:<key>');
    is(notified("UPDATE users SET can_leech = false WHERE id = 1"), "u:$k1",
       'can_leech');
    is(notified("UPDATE users SET torrent_key = '$new' WHERE id = 1"),
       "u:$k1", 'passkey reset: the OLD key');
    is(notified("UPDATE users SET uploaded = uploaded + 1, "
                . "disabled = disabled WHERE id = 1"), '',
       'totals or unchanged flags: nothing');
    is(notified(batch_sql(160, { user => 1 })), '',
       'a flush: nothing');
    is(notified("INSERT INTO users (username, torrent_key) VALUES "
                . "('n1', '" . ('9' x 32) . "')"), 'u:' . ('9' x 32),
       'new user: its key (drops a negative entry)');
    is(notified("DELETE FROM users WHERE username = 'n1'"),
       'u:' . ('9' x 32), 'deleted user');

    my ($a, $c, $d) = ('aa' x 20, 'cc' x 20, 'dd' x 20);
    is(notified("UPDATE torrents SET status = 2 WHERE id = 10"), "t:$a",
       'torrent status: t:<info hash>');
    is(notified("UPDATE torrents SET deleted = now() WHERE id = 12"),
       "t:$c t:$d", 'hybrid: both hashes');
    is(notified("UPDATE torrents SET dl_percent = 0, ul_percent = 200 "
                . "WHERE id = 10"), "t:$a", 'multipliers');
    is(notified("UPDATE torrents SET seeders = 99, completed = 5, "
                . "title = 'x' WHERE id = 10"), '', 'stats, title: nothing');
    my $e = 'ef' x 20;
    my $f = 'f0' x 32;
    is(notified("INSERT INTO torrents (info_hash, info_hash_v2, title) "
                . "VALUES (decode('$e', 'hex'), decode('$f', 'hex'), 'n')"),
       "t:$e t:" . ('f0' x 20), 'insert: every hash');
    is(notified("UPDATE torrents SET info_hash = decode('" . ('12' x 20)
                . "', 'hex') WHERE id = 10"), "t:$a t:" . ('12' x 20),
       'changed hash: old and new');
    is(notified("DELETE FROM torrents WHERE id = 11"), 't:' . ('bb' x 20),
       'deleted torrent');
    is(notified("INSERT INTO site_events (name, starts_at, ends_at) VALUES "
                . "('e', now(), now() + interval '1 day')"), 'e:',
       'site event inserted: e:');
    is(notified("UPDATE site_events SET ul_percent = 300"), 'e:', 'updated');
    is(notified("DELETE FROM site_events"), 'e:', 'deleted');
    is(q1($db, "SELECT count(*) FROM peers WHERE torrent_id = 11"), 0,
       'a deleted torrent\'s peers are gone');

    # user_torrents and snatches have no foreign keys (018): statement
    # triggers delete a deleted user's rows, the flush skips its pairs
    my $nid = q1($db, "INSERT INTO users (username) VALUES ('n2') "
                      . 'RETURNING id');
    is(apply(9160, { user => $nid, torrent => 10, up => 5, event => 1,
                    peer => 'n' }), 1, 'a pair of a new user');
    is(q1($db, "SELECT count(*) FROM user_torrents WHERE user_id = $nid")
       . q1($db, "SELECT count(*) FROM snatches WHERE user_id = $nid"), '11',
       'its row and snatch');
    q1($db, "DELETE FROM users WHERE id = $nid");
    is(q1($db, "SELECT count(*) FROM user_torrents WHERE user_id = $nid")
       . q1($db, "SELECT count(*) FROM snatches WHERE user_id = $nid"), '00',
       'deleted with the user');
    is(apply(9161, { user => $nid, torrent => 10, up => 5, event => 1,
                    peer => 'n' }, { user => 1, torrent => 10, up => 1 }), 1,
       'a later batch skips the deleted user\'s pair');
    is(q1($db, "SELECT count(*) FROM user_torrents WHERE user_id = $nid")
       . q1($db, "SELECT count(*) FROM snatches WHERE user_id = $nid"), '00',
       'and writes nothing for it');
};

# --- a server restart -------------------------------------------------------

subtest 'server restart (PgTest::stop_server / start_server)' => sub {
    my $before = state();
    PgTest::stop_server();
    eval { PgTest::psql($db, 'SELECT 1') };
    like($@, qr/psql failed/, 'server down: queries fail');
    PgTest::start_server();
    is(state(), $before, 'after a clean restart everything is there, '
       . 'peers (unlogged) included');
    is(apply(170, { user => 1, torrent => 12, peer => 'r' }), 1,
       'batches apply again');
};

# --- 100k deltas ------------------------------------------------------------

subtest 'flush of 100k deltas' => sub {
    my $big = PgTest::fresh_db();
    PgTest::psql($big, <<'SQL');
INSERT INTO users (id, username) SELECT g, 'user' || g
FROM generate_series(1, 20000) g;
INSERT INTO torrents (id, info_hash, title)
SELECT g, substring(sha256(int8send(g)) FROM 1 FOR 20), 'torrent ' || g
FROM generate_series(1, 20000) g;
VACUUM ANALYZE;
SQL
    my $gen = sub {
        my ($env, @args) = @_;
        my ($out, $err) = ('', '');
        local @ENV{keys %$env} = values %$env;
        IPC::Run::run(['perl', "$top/bench/flush-gen.pl", @args], \undef,
                      \$out, \$err) or die $err;
        return $out;
    };
    # one row per announce (tracker_apply_batch, folded in SQL), then
    # folded batches as the tracker sends them (tracker_apply_flush) for
    # other peers of the same users and torrents
    my %fold = (FLUSH_GEN_FOLD => 1);
    for my $pass (['new peers', {}, 1, 0, 1764000000],
                  ['the same peers again', {}, 2, 0, 1764001800],
                  ['folded, new peers', { %fold, FLUSH_GEN_NEW => 1 }, 3,
                   1000000, 1764000000],
                  ['folded, the same peers again', \%fold, 4, 1000000,
                   1764001800]) {
        my ($name, $env, @args) = @$pass;
        my $sql = "\\timing on\n" . $gen->($env, $args[0], 100000,
                                           $args[1], 20000, 20000, $args[2]);
        my $out = PgTest::psql($big, $sql);
        my ($rows) = $out =~ /^(-?\d+)$/m;
        my ($ms) = $out =~ /^Time: ([\d.]+) ms/m;
        is($rows, 100000, "100k rows applied ($name)");
        diag(sprintf '100k deltas (%s): %.0f ms', $name, $ms // -1);
        next unless $args[0] == 4;
        ($rows) = PgTest::psql($big, $sql) =~ /^(-?\d+)$/m;
        is($rows, -1, 'a folded batch again: -1');
    }
    is(q1($big, 'SELECT count(*), sum(uploaded) FROM peers'),
       "200000\t" . q1($big, 'SELECT sum(raw_uploaded) FROM user_torrents'),
       'every peer stored, sums agree');
    is(q1($big, 'SELECT sum(uploaded) FROM users'),
       q1($big, 'SELECT sum(uploaded) FROM user_torrents'),
       'user totals agree with user_torrents');
};

done_testing();
