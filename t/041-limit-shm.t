# The limit zone is shared: two workers spend one budget, and keys, bans
# and counters survive a configuration reload (HUP: new workers, same
# zone), while the static ban list follows the new configuration.
#
# The file runs in HUP mode: nginx is started once and every later block
# is a reload, as `nginx -s reload` does.

use FindBin;
use lib $FindBin::Bin;
use TrackerTest;
use Test::Nginx::Socket 'no_plan';

use_hup();
master_on();
workers(2);
no_shuffle();
run_tests();

__DATA__

=== TEST 1: two workers, one budget: burst=9 lets exactly 10 of 14 connections through
--- http_config
    tracker_swarm_zone swarm:1m;
    tracker_limit_zone lim:1m ban_after=100;
--- config
    set_real_ip_from 127.0.0.1;
    real_ip_header X-Real-IP;
    location /r {
        tracker_limit zone=lim bucket=reads key=$arg_u rate=1r/m burst=9;
        try_files /ok.txt =404;
    }
    location = /status { tracker_status swarm; }
--- user_files
>>> ok.txt
ok
--- request eval
[ (map { "GET /r?u=a" } 1 .. 14), "GET /status" ]
--- more_headers eval
[ (map { "X-Real-IP: 192.0.2.1" } 1 .. 14), "" ]
--- error_code eval
[ (map { 200 } 1 .. 10), (map { 429 } 1 .. 4), 200 ]
--- response_body_like eval
[ (map { qr/^ok$/ } 1 .. 10), (map { qr/^\{"error":true,"message":"Rate limit exceeded, try again in \d+ seconds\.","retry_after":\d+\.\d\d\}\z/ } 1 .. 4),
qr/"buckets":\{"reads":\{"keys":1,"passed":10,"rejected":4\}\}/ ]
--- no_error_log
[alert]
[crit]



=== TEST 2: after a reload (new workers) the key still waits, the counters and the offence count stay
--- http_config
    tracker_swarm_zone swarm:1m;
    tracker_limit_zone lim:1m ban_after=100;
    tracker_ban 198.51.100.0/24;
--- config
    set_real_ip_from 127.0.0.1;
    real_ip_header X-Real-IP;
    location /r {
        tracker_limit zone=lim bucket=reads key=$arg_u rate=1r/m burst=9;
        tracker_limit zone=lim bucket=writes key=$arg_u rate=1r/m;
        try_files /ok.txt =404;
    }
    location = /status { tracker_status swarm; }
--- user_files
>>> ok.txt
ok
--- request eval
[ "GET /r?u=a", "GET /r?u=b", "GET /r?u=c", "GET /status" ]
--- more_headers eval
[ "X-Real-IP: 192.0.2.1", "X-Real-IP: 192.0.2.1", "X-Real-IP: 198.51.100.9", "" ]
--- error_code eval
[ 429, 200, 403, 200 ]
--- response_body_like eval
[
qr/"retry_after":/, qr/^ok$/, qr/^\{"error":true,"message":"Address banned\."\}\z/,
qr/"offenders":1,"evicted":0,"bans":\{"static":1,"db":0,"temporary":0\},"bans_issued":0,"banned_requests":1,"penalties":0,"buckets":\{"reads":\{"keys":2,"passed":11,"rejected":5\},"writes":\{"keys":1,"passed":1,"rejected":0\}\}/,
]
--- no_error_log
[alert]
[crit]



=== TEST 3: a reload without the tracker_ban line lifts that ban; temporary bans stay
--- http_config
    tracker_swarm_zone swarm:1m;
    tracker_limit_zone lim:1m ban_after=1 ban_time=1h;
--- config
    set_real_ip_from 127.0.0.1;
    real_ip_header X-Real-IP;
    location /r {
        tracker_limit zone=lim bucket=reads key=$arg_u rate=1r/m burst=9;
        try_files /ok.txt =404;
    }
    location = /status { tracker_status swarm; }
--- user_files
>>> ok.txt
ok
--- request eval
[ "GET /r?u=c", "GET /r?u=a", "GET /r?u=z", "GET /status" ]
--- more_headers eval
[ "X-Real-IP: 198.51.100.9", "X-Real-IP: 192.0.2.1", "X-Real-IP: 192.0.2.1", "" ]
--- error_code eval
[ 200, 429, 429, 200 ]
--- response_body_like eval
[
qr/^ok$/,
qr/^\{"error":true,"message":"Address banned, try again in 3600 seconds\.","retry_after":3600\.00\}\z/,
qr/^\{"error":true,"message":"Address banned, try again in \d+ seconds\.","retry_after":\d+\.\d\d\}\z/,
qr/"bans":\{"static":0,"db":0,"temporary":1\},"bans_issued":1,"banned_requests":2,/,
]
--- no_error_log
[alert]
[crit]
