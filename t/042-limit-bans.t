# The database's ban list (table bans, tracker_ban_refresh) against a real
# nginx and a real PostgreSQL: a row inserted bans the address at once
# (NOTIFY) in every surface's own answer format; CIDR ranges, IPv6,
# expiry, deletion; the refresh timer alone (no NOTIFY) picks changes up;
# the database going down keeps the list; a reload keeps it too; static
# bans and temporary bans work alongside; the private tracker's listener
# carries the notifications when there is one.
#
# Plain TAP: nginx (2 workers) is started and reloaded by the test itself
# (t/TrackerNginx.pm).  Other addresses than 127.0.0.1 come through realip
# (X-Real-IP from 127.0.0.1).  Changes are waited for with bounded polls.

use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use Test::More;
use Time::HiRes qw(sleep);
use IO::Socket::IP;
use JSON::PP ();
use TrackerTest ();
use PgTest;
use TrackerNginx;

my $db = PgTest::fresh_db();
my $ngx = TrackerNginx->new(name => 'bans', workers => 2, port_offset => 9);
my $port = $ngx->port;

END { local $?; $ngx->quit('TERM') if $ngx }

sub sql { return scalar PgTest::psql($db, shift) }

my $v6 = IO::Socket::IP->new(LocalHost => '::1', LocalPort => 0,
                             Listen => 1) ? 1 : 0;

sub http_conf {
    my (%o) = (refresh => '1h', extra => '', @_);
    my $listen6 = $v6 ? "listen [::1]:$port;" : '';
    my $limit = 'tracker_limit zone=lim bucket=reads rate=100r/s burst=1000;';
    return <<"EOF";
    tracker_swarm_zone swarm:1m;
    tracker_database "$db" pool=2 retry=200ms;
    tracker_limit_zone lim:1m ban_after=2 ban_time=1h;
    tracker_ban 203.0.113.0/24;
    tracker_ban_refresh $o{refresh};
    $o{extra}
    server {
        listen 127.0.0.1:$port;
        $listen6
        set_real_ip_from 127.0.0.1;
        real_ip_header X-Real-IP;
        location /announce { tracker_announce swarm; $limit }
        location /api/ { $limit tracker_limit_answer json;
                         try_files /ok.txt =404; }
        location /torznab { $limit tracker_limit_answer torznab;
                            try_files /ok.txt =404; }
        location /gazelle { $limit tracker_limit_answer gazelle;
                            try_files /ok.txt =404; }
        location /strict { tracker_limit zone=lim bucket=strict rate=1r/m;
                           try_files /ok.txt =404; }
        location /status { tracker_status swarm; }
    }
EOF
}

# (status, body) of GET $path, from $from (X-Real-IP) or 127.0.0.1, or
# over ::1 when $from is 'v6'
sub get {
    my ($path, $from) = @_;
    return $ngx->get($path, peer => '::1') if defined $from && $from eq 'v6';
    return $ngx->get($path, headers => { 'X-Real-IP' => $from })
        if defined $from;
    return $ngx->get($path);
}

my $announce = TrackerTest::announce(torrent => 1, peer => 1) =~ s/^GET //r;

# the four surfaces' answers to one client
sub answers {
    my $from = shift;
    return {
        api     => join(' ', get('/api/x', $from)),
        announce => join(' ', get($announce, $from)),
        torznab => join(' ', get('/torznab?t=caps', $from)),
        gazelle => join(' ', get('/gazelle?action=index', $from)),
    };
}

my %permanent = (
    api      => '403 {"error":true,"message":"Address banned."}',
    announce => '200 d14:failure reason15:Address banned.e',
    torznab  => qq{200 <?xml version="1.0" encoding="UTF-8"?>\n}
                . qq{<error code="101" description="Account suspended"/>\n},
    gazelle  => '200 {"status":"failure","error":"Address banned"}',
);

sub banned_everywhere {
    my ($from, $what) = @_;
    is_deeply(answers($from), \%permanent, "$what: every surface refuses "
              . "in its own format");
}

sub status {
    my ($s, $body) = get('/status');
    my $st = eval { JSON::PP::decode_json($body) } // {};
    return $st->{limits}[0] // {};
}

# polls (at most ~10 s) until $cond returns true; returns its last value
sub wait_for {
    my $cond = shift;
    my $v;
    for (1 .. 200) {
        $v = $cond->();
        return $v if $v;
        sleep 0.05;
    }
    return $v;
}

sub code { my ($s) = get(@_); return $s }

ok($ngx->start(http_conf()), 'nginx starts with tracker_ban_refresh 1h')
    or BAIL_OUT('no nginx: ' . $ngx->error_log);

open my $fh, '>', $ngx->prefix . '/html/ok.txt' or die $!;
print $fh "ok\n";
close $fh;

ok(wait_for(sub { status()->{db_bans}{loads} }), 'the list is loaded at '
   . 'start (an empty table)');
is(code('/api/x'), 200, 'not banned yet');
is(status()->{bans}{db}, 0, 'no database bans');

# --- a row bans at once: the notification, not the hourly timer ---

sql(q{INSERT INTO bans (address, reason) VALUES ('127.0.0.1', 'test')});
is(wait_for(sub { code('/api/x') == 403 ? 403 : 0 }), 403,
   'an inserted ban applies at once (NOTIFY)');
banned_everywhere(undef, '127.0.0.1');
my $st = status();
is($st->{bans}{db}, 1, 'status: one database ban');
ok($st->{db_bans}{loaded_at} >= time - 60 && $st->{db_bans}{loaded_at}
   <= time + 1, 'status: the last load\'s time');
is(code('/status'), 200, 'a location without limits is not concerned');
is(code('/api/x', '192.0.2.1'), 200, 'other addresses pass');

# --- ranges, IPv6, static bans alongside ---

sql(q{INSERT INTO bans (address, reason) VALUES ('192.0.2.0/24', 'range'),
      ('2001:db8::/32', 'v6 range')});
is(wait_for(sub { code('/api/x', '192.0.2.77') == 403 ? 403 : 0 }), 403,
   'a CIDR range bans the addresses in it');
is(code('/api/x', '192.0.3.1'), 200, '... and no others');
is(code('/api/x', '2001:db8:7::5'), 403, 'an IPv6 range');
is(code('/api/x', '2001:db9::5'), 200, '... and no others');
is(code('/api/x', '203.0.113.9'), 403, 'the static tracker_ban still bans');
is(status()->{bans}{static}, 1, 'status: one static ban');
is(status()->{bans}{db}, 3, 'status: three database bans');

SKIP: {
    skip 'no ::1 on this machine', 3 unless $v6;
    is(code('/api/x', 'v6'), 200, '::1 passes');
    sql(q{INSERT INTO bans (address) VALUES ('::1')});
    is(wait_for(sub { code('/api/x', 'v6') == 403 ? 403 : 0 }), 403,
       'a ban of ::1 applies to requests over IPv6');
    banned_everywhere('v6', '::1');
}

# --- deleting a row lifts the ban ---

sql(q{DELETE FROM bans WHERE address = '192.0.2.0/24'});
is(wait_for(sub { code('/api/x', '192.0.2.77') == 200 ? 200 : 0 }), 200,
   'a deleted ban is lifted at once');
is(code('/api/x'), 403, '... the others stay');

# --- expiry: a ban with an end says how long, and ends by itself ---
# (the end is kept to the second, rounded up: 3 s are up to 4)

sql(q{UPDATE bans SET expires_at = now() + interval '3 seconds'
      WHERE address = '127.0.0.1'});
my $a = wait_for(sub {
    my $r = answers();
    return $r->{api} =~ /^429 / ? $r : undef;
});
like($a->{api}, qr/^429 \{"error":true,"message":"Address banned, try again in [1-4] seconds\.","retry_after":[0-4]\.\d\d\}\z/,
     'JSON: a ban with an expiry answers 429 with the time left');
like($a->{announce}, qr/^200 d14:failure reason39:Address banned, try again in [1-4] seconds\.12:min intervali[1-4]ee\z/,
     'announce: failure reason and min interval');
like($a->{torznab}, qr{<error code="429" description="Request limit reached"/>},
     'Torznab: request limit reached');
is($a->{gazelle}, '200 {"status":"failure","error":"Address banned"}',
   'Gazelle');
is(wait_for(sub { code('/api/x') == 200 ? 200 : 0 }), 200,
   'the ban ends at its expiry, without a reload of the list');
is(status()->{bans}{db}, $v6 ? 2 : 1, 'and leaves the zone');

# a row already expired is not loaded at all
my $loads = status()->{db_bans}{loads};
sql(q{INSERT INTO bans (address, created_at, expires_at) VALUES
      ('192.0.2.5', now() - interval '2 hours', now() - interval '1 hour')});
ok(wait_for(sub { status()->{db_bans}{loads} > $loads }), 'reloaded');
is(code('/api/x', '192.0.2.5'), 200, 'an expired row bans nothing');
is(status()->{bans}{db}, $v6 ? 2 : 1, '... and is not in the zone');

# --- temporary bans of repeated offenders survive database loads ---

is(join(' ', map { code('/strict', '198.51.100.5') } 1 .. 3),
   '200 429 429', 'two refusals of one address ...');
like(join(' ', get('/api/x', '198.51.100.5')),
     qr/^429 .*Address banned, try again in 3600 seconds/,
     '... ban it for ban_time');
sql(q{INSERT INTO bans (address) VALUES ('192.0.2.6')});
is(wait_for(sub { code('/api/x', '192.0.2.6') == 403 ? 403 : 0 }), 403,
   'a database load');
is(code('/api/x', '198.51.100.5'), 429, 'the temporary ban stays');
is(status()->{bans}{temporary}, 1, 'status: one temporary ban');

# --- the timer alone: a change without a notification ---

sql(q{UPDATE bans SET expires_at = NULL WHERE address = '127.0.0.1'});
is(wait_for(sub { code('/api/x') == 403 ? 403 : 0 }), 403,
   '127.0.0.1 banned again');

ok($ngx->reload(http_conf(refresh => '300ms')),
   'reload with tracker_ban_refresh 300ms');
banned_everywhere(undef, 'after the reload');
is(code('/api/x', '203.0.113.9'), 403, 'the static ban after the reload');

# session_replication_role = replica: no triggers fire, so no NOTIFY
sql(q{SET session_replication_role = replica;
      INSERT INTO bans (address) VALUES ('192.0.2.128/25')});
is(wait_for(sub { code('/api/x', '192.0.2.200') == 403 ? 403 : 0 }), 403,
   'a change without a notification arrives with the next refresh');

# --- the database goes down: the last list stays ---

PgTest::stop_server();

my $failures = status()->{db_bans}{load_failures};
ok(wait_for(sub { status()->{db_bans}{load_failures} > $failures }),
   'loads fail while the database is down');
banned_everywhere(undef, 'database down');
is(code('/api/x', '192.0.2.200'), 403, 'the range too');
is(code('/api/x', '192.0.2.1'), 200, 'others pass');

ok($ngx->reload(http_conf(refresh => '300ms') . ' '),
   'reload while the database is down');
banned_everywhere(undef, 'database down, after the reload');

PgTest::start_server();

$loads = status()->{db_bans}{loads};
ok(wait_for(sub { status()->{db_bans}{loads} > $loads }),
   'loads succeed again once the database is back');
is(code('/api/x'), 403, 'still banned');

# --- with a private tracker, its listener carries "b:" ---

$loads = status()->{db_bans}{loads};
ok($ngx->reload(http_conf(extra => 'tracker_private_zone priv:8m;')),
   'reload with a private tracker zone, refresh 1h');
ok(wait_for(sub { status()->{db_bans}{loads} > $loads }),
   'the new worker loads the list');
sql(q{DELETE FROM bans WHERE address = '127.0.0.1'});
is(wait_for(sub { code('/api/x') == 200 ? 200 : 0 }), 200,
   'a deletion reaches it at once through the private listener');
is(code('/api/x', '192.0.2.200'), 403, 'the other rows still ban');

# --- configuration errors ---

my $bad = TrackerNginx->new(name => 'bans-bad', port_offset => 10);

sub conf_test { # (ok, nginx -t output) of an http block
    $bad->write_conf(shift);
    my $p = $bad->prefix;
    my $out = `$bad->{binary} -t -p $p/ -c $p/conf/nginx.conf 2>&1`;
    return ($? == 0, $out);
}

my ($ok, $out) = conf_test("tracker_ban_refresh 30s;\n");
ok(!$ok, 'tracker_ban_refresh without tracker_database is refused');
like($out, qr/"tracker_ban_refresh" needs "tracker_database"/,
     '... with a clear message');
($ok, $out) = conf_test("tracker_ban_refresh 0;\n");
ok(!$ok && $out =~ /invalid interval/, 'a zero interval is refused');
($ok, $out) = conf_test("tracker_ban_refresh off;\n");
ok($ok, 'off needs nothing') or diag $out;

unlike($ngx->error_log, qr/\[(alert|crit|emerg)\]/,
       'no alerts in the error log');
like($ngx->error_log, qr/tracker bans: cannot load the ban list .*the last one loaded stays in force/,
     'the outage was logged');

done_testing();
