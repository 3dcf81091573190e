#!/usr/bin/perl
# End to end with a real BitTorrent client: two libtorrent sessions on
# loopback, DHT/LSD/PEX/UPnP/NAT-PMP off, find each other only through our
# tracker and swap a random file (t/e2e/libtorrent_swarm.py).  While both
# are still in the swarm we scrape it; after they stop we scrape again and
# read the status counters.  Once with a v1 torrent, once with a v1+v2
# hybrid, which libtorrent announces under two hashes (the v1 SHA-1 and the
# v2 SHA-256 truncated to 20 bytes): in open mode both swarms answer.
#
# Plain Test::More: it starts its own nginx (TEST_NGINX_BINARY with
# TEST_NGINX_LOAD_MODULES, as `make test` sets them) under t/servroot-e2e on
# 127.0.0.1:TEST_NGINX_PORT; the two clients listen on the next ports up.

use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use Test::More;
use Cwd qw(abs_path);
use File::Compare qw(compare);
use File::Path qw(make_path remove_tree);
use HTTP::Tiny;
use IO::Select;
use IPC::Open2 qw(open2);
use JSON::PP;
use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep time);
use TrackerTest qw(pct bdecode);

my $python = '/usr/bin/python3';
my $top    = abs_path("$FindBin::Bin/..");
my $script = "$top/t/e2e/libtorrent_swarm.py";

if (system($python, '-c', 'import libtorrent') != 0) {
    plan skip_all => "$python cannot import libtorrent "
                     . '(Debian package python3-libtorrent; make deps)';
}

my $nginx   = $ENV{TEST_NGINX_BINARY} || 'nginx';
my @modules = grep { length } split /\s+/, ($ENV{TEST_NGINX_LOAD_MODULES}
    // "/usr/lib/nginx/modules/ndk_http_module.so "
       . "$top/build/modules/ngx_http_tracker_module.so");
my $port    = $ENV{TEST_NGINX_PORT} || 1984;
my $prefix  = "$top/t/servroot-e2e";
my $base    = "http://127.0.0.1:$port";
my $http    = HTTP::Tiny->new(timeout => 10, proxy => undef,
                              http_proxy => undef);

my ($nginx_pid, $client_pid);

# Ctrl-C, kill(1) and a vanished prove (SIGPIPE) go through END too.
$SIG{$_} = sub { exit 1 } for qw(INT TERM HUP PIPE);

# Whatever happened: stop the client and nginx, remove the prefix.
END {
    my $rc = $?;
    if ($client_pid) {
        kill 'TERM', $client_pid;
        waitpid($client_pid, 0);
    }
    stop_nginx();
    if (!Test::More->builder->is_passing && -f "$prefix/logs/error.log") {
        diag("tail of the error log:\n" . `tail -n 20 $prefix/logs/error.log`);
    }
    remove_tree($prefix);
    $? = $rc;
}

sub stop_nginx {
    return unless $nginx_pid;
    # QUIT lets the workers finish; TERM and KILL if it takes too long.
    for my $sig (qw(QUIT TERM KILL)) {
        kill $sig, $nginx_pid;
        my $deadline = time + 5;
        while (time < $deadline) {
            if (waitpid($nginx_pid, WNOHANG) == $nginx_pid) {
                undef $nginx_pid;
                return;
            }
            sleep 0.05;
        }
    }
}

# An nginx of a run that was killed outright (no END) would hold the port.
sub stop_stale_nginx {
    open my $in, '<', "$prefix/logs/nginx.pid" or return;
    my ($pid) = <$in> =~ /^(\d+)/;
    return unless $pid;
    open my $cmd, '<', "/proc/$pid/cmdline" or return;
    return unless index(<$cmd> // '', $prefix) >= 0;
    kill 'QUIT', $pid;
    my $deadline = time + 5;
    sleep 0.05 while kill(0, $pid) && time < $deadline;
}

sub start_nginx {
    stop_stale_nginx();
    remove_tree($prefix);
    make_path("$prefix/logs", "$prefix/tmp", "$prefix/conf");

    my $load = join '', map { "load_module $_;\n" } @modules;
    my $user = $> == 0 ? "user root;\n" : '';
    open my $conf, '>', "$prefix/conf/nginx.conf" or die "$prefix: $!";
    print $conf <<"EOC";
${load}${user}worker_processes 2;
daemon off;
master_process on;
pid logs/nginx.pid;
error_log logs/error.log info;

events {
    worker_connections 256;
}

http {
    access_log logs/access.log;
    client_body_temp_path tmp/body;
    proxy_temp_path tmp/proxy;
    fastcgi_temp_path tmp/fastcgi;
    uwsgi_temp_path tmp/uwsgi;
    scgi_temp_path tmp/scgi;

    tracker_swarm_zone swarm:1m;

    server {
        listen 127.0.0.1:$port;

        location /announce { tracker_announce swarm; }
        location /scrape { tracker_scrape swarm; }

        location = /tracker_status {
            tracker_status swarm;
            allow 127.0.0.1;
            deny all;
        }
    }
}
EOC
    close $conf;

    my @cmd = ($nginx, '-p', "$prefix/", '-c', "$prefix/conf/nginx.conf",
               '-e', "$prefix/logs/error.log");
    $nginx_pid = fork // die "fork: $!";
    if ($nginx_pid == 0) {
        open STDOUT, '>', '/dev/null';
        exec @cmd or POSIX::_exit(127);
    }

    # ready when the status location answers (or nginx has exited)
    my $deadline = time + 10;
    while (time < $deadline) {
        if (waitpid($nginx_pid, WNOHANG) == $nginx_pid) {
            undef $nginx_pid;
            last;
        }
        return 1 if $http->get("$base/tracker_status")->{success};
        sleep 0.05;
    }
    return 0;
}

sub status {
    my $r = $http->get("$base/tracker_status");
    return $r->{success} ? decode_json($r->{content}) : undef;
}

# scrape(hex, ...): { hex => { complete, incomplete, downloaded } }
sub scrape {
    my @hex = @_;
    my $q = join '&', map { 'info_hash=' . pct(pack 'H*', $_) } @hex;
    my $r = $http->get("$base/scrape?$q");
    die "scrape: HTTP $r->{status}\n" unless $r->{success};
    my $d = bdecode($r->{content});
    die "scrape: $d->{'failure reason'}\n" if exists $d->{'failure reason'};
    return { map { unpack('H*', $_) => $d->{files}{$_} }
             keys %{ $d->{files} } };
}

sub failures_total {
    my $s = shift;
    my $n = 0;
    $n += $_ for values %{ $s->{failures} };
    return $n;
}

# Runs the clients; returns their JSON once the transfer is over, with both
# still in the swarm.  finish_client() then lets them stop.
my ($to_client, $from_client);

sub run_client {
    my ($flavour, $seed_port, $leech_port) = @_;
    my $work = "$prefix/work-$flavour";
    make_path($work);

    $client_pid = open2($from_client, $to_client, $python, $script,
        '--tracker', "$base/announce", '--workdir', $work,
        '--flavour', $flavour, '--seed-port', $seed_port,
        '--leech-port', $leech_port, '--timeout', 40, '--hold');

    # the script bounds its own waits; this only guards against a hang
    my $sel = IO::Select->new($from_client);
    return undef unless $sel->can_read(50);
    my $line = <$from_client>;
    return undef unless defined $line;
    return eval { decode_json($line) };
}

sub finish_client {
    close $to_client;
    my $deadline = time + 30;
    while (time < $deadline) {
        if (waitpid($client_pid, WNOHANG) == $client_pid) {
            undef $client_pid;
            return $? >> 8;
        }
        sleep 0.05;
    }
    return -1;
}

ok(start_nginx(), "nginx starts with the tracker module on port $port")
    or BAIL_OUT("no nginx: " . `tail -n 5 $prefix/logs/error.log`);

my $next_port = $port + 1;

for my $flavour (qw(v1 hybrid)) {
    my $before = status();
    my ($seed_port, $leech_port) = ($next_port++, $next_port++);
    my $r = run_client($flavour, $seed_port, $leech_port);

    ok($r, "$flavour: the clients report their results")
        or do { finish_client(); next };
    ok($r->{completed} && !defined $r->{error},
       "$flavour: the leecher completed and its data hash-checks")
        or diag explain $r;

    is(compare($r->{payload}, $r->{download}), 0,
       "$flavour: the downloaded file equals the original");
    is(-s $r->{download}, $r->{size}, "$flavour: $r->{size} bytes");
    is($r->{verified_pieces}, $r->{pieces},
       "$flavour: all $r->{pieces} pieces match the torrent's hashes");

    # the tracker is the only source of peers: the seeder must have come
    # from the leecher's announce reply
    my ($started) = grep { $_->{event} eq 'started' }
                    @{ $r->{leecher}{announces} };
    ok($started && $started->{peers} >= 1,
       "$flavour: the leecher's first announce returned the seeder");
    cmp_ok($r->{seeder}{uploaded}, '>=', $r->{size},
           "$flavour: the seeder uploaded the whole payload");
    cmp_ok($r->{leecher}{downloaded}, '>=', $r->{size},
           "$flavour: the leecher downloaded it from the seeder");
    is_deeply([ @{ $r->{seeder}{errors} }, @{ $r->{leecher}{errors} } ],
              [], "$flavour: libtorrent reported no errors");

    my @hashes = ($r->{info_hash_v1});
    push @hashes, $r->{info_hash_v2_truncated} if $flavour eq 'hybrid';
    is_deeply($r->{announced_versions},
              $flavour eq 'hybrid' ? [qw(v1 v2)] : ['v1'],
              "$flavour: libtorrent announces " . scalar(@hashes)
              . " hash(es)");

    # both peers are seeders now and still in the swarm
    my $live = eval { scrape(@hashes) };
    is($@, '', "$flavour: scrape while both peers are in the swarm");
    for my $h (@hashes) {
        my $f = $live->{$h} // {};
        is_deeply([ $f->{complete}, $f->{incomplete} ], [2, 0],
                  "$flavour: scrape $h: complete=2 incomplete=0");
        cmp_ok($f->{downloaded} // 0, '>=', 1,
               "$flavour: scrape $h: downloaded>=1");
    }
    is(scalar(keys %{ $live // {} }), scalar @hashes,
       "$flavour: one scrape entry per hash");

    # libtorrent's own reading of our scrape replies says the same
    my @lt = map { @{ $r->{$_}{scrapes} } } qw(seeder leecher);
    ok(@lt && !grep({ $_->{complete} != 2 } @lt),
       "$flavour: libtorrent scraped complete=2 (" . scalar(@lt)
       . " replies)");

    # leaving: each session announces "stopped" before it exits
    is(finish_client(), 0, "$flavour: the clients exit with status 0");
    my $gone = eval { scrape(@hashes) };
    for my $h (@hashes) {
        my $f = $gone->{$h} // {};
        is_deeply([ $f->{complete}, $f->{incomplete},
                    ($f->{downloaded} // 0) >= 1 ? 'kept' : 'lost' ],
                  [0, 0, 'kept'],
                  "$flavour: after stopped, $h has no peers, downloads kept");
    }

    my $after = status();
    ok($before && $after, "$flavour: the status location answers");
    cmp_ok($after->{announces} - $before->{announces}, '>=', 2 * @hashes,
           "$flavour: status counted the clients' announces");
    is(failures_total($after), 0, "$flavour: status counts no failures")
        or diag explain $after->{failures};
}

stop_nginx();
ok(!$nginx_pid, 'nginx stops');
my @bad = grep { /\[(alert|crit|emerg)\]/ } do {
    open my $log, '<', "$prefix/logs/error.log" or die "error.log: $!";
    <$log>;
};
is_deeply(\@bad, [], 'no alert, crit or emerg in the error log');

done_testing();
