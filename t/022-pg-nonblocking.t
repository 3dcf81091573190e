# The database never blocks a worker: with worker_processes 1, announces
# keep being answered while requests wait on `SELECT pg_sleep(2)`; the
# health location answers 503 in the API's error shape while the database
# is down and 200 again once it is back, without restarting nginx.

use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use Test::More;
use IO::Select;
use Time::HiRes qw(time sleep);
use TrackerTest ();
use PgTest;
use TrackerNginx;

my $db = PgTest::fresh_db();
my $ngx = TrackerNginx->new(name => 'pg-nonblocking', workers => 1,
                            port_offset => 8);

END { local $?; $ngx->quit("TERM") if $ngx }

my $http = <<"EOF";
    tracker_swarm_zone swarm:4m;
    tracker_database "$db" pool=4 retry=200ms;
    server {
        listen 127.0.0.1:${\ $ngx->port};
        location /announce { tracker_announce swarm; }
        location /health { tracker_health; }
        location /slow { tracker_health "SELECT pg_sleep(2)"; }
    }
EOF

ok($ngx->start($http), 'nginx starts with one worker')
    or BAIL_OUT("no nginx: " . $ngx->error_log);

my ($status, $body) = $ngx->get('/health');
is($status, 200, 'health: 200');
like($body, qr/^\{"error":false,"data":\{"database":"ok","latency_ms":\d+\}\}$/,
     'health: JSON');

sub open_announce {
    my $n = shift;
    my $url = TrackerTest::announce(torrent => 1, peer => $n) =~ s/^GET //r;
    my ($s, $b) = $ngx->get($url);
    return $s == 200 && $b =~ /^d8:complete/;
}

# five slow requests: four on the pool's connections, one queued
my @slow = map { $ngx->send_only('/slow') } 1 .. 5;
is(scalar(grep { defined } @slow), 5, 'five pg_sleep(2) requests sent');
sleep 0.2;

my $t0 = time;
my $answered = grep { open_announce($_) } 1 .. 50;
my $took = time - $t0;
is($answered, 50, '50 announces answered while the statements sleep');
diag(sprintf "50 announces took %.1f ms in all", $took * 1000);

my @ready = IO::Select->new(@slow)->can_read(0);
is(scalar(@ready), 0,
   '... and every slow request was still waiting meanwhile');

my $ok = 0;
for my $s (@slow) {
    local $/;
    my $res = <$s> // '';
    $ok++ if $res =~ m{^HTTP/1\.\d 200} && $res =~ /"database":"ok"/;
}
is($ok, 5, 'the slow requests all completed');

# the database goes away
PgTest::stop_server();

($status, $body) = $ngx->get('/health');
is($status, 503, 'database down: 503');
is($body, qq({"error":true,"message":"Database unavailable."}\n),
   'database down: the API error shape');
ok(open_announce(60), 'open announces do not care');

PgTest::start_server();

for (1 .. 100) {
    ($status, $body) = $ngx->get('/health');
    last if $status == 200;
    sleep 0.05;
}
is($status, 200, 'database back: 200 again, nginx not restarted');

unlike($ngx->error_log, qr/\[(alert|crit|emerg)\]/, 'no alerts');

done_testing();
