# Rate limits (tracker_limit): exact waits, burst, keys, each client's
# answer format, bans (static ranges, temporary bans of repeated
# offenders), failed authentications, the status section, eviction.
#
# Waits are exact because pipelined requests are read in one pass of the
# event loop: nginx's clock does not move between them, so GCRA's wait is
# exactly the emission interval, never "about" it.

use FindBin;
use lib $FindBin::Bin;
use TrackerTest;
use Test::Nginx::Socket 'no_plan';

no_shuffle();
run_tests();

__DATA__

=== TEST 1: JSON: burst=1 lets two through; the third waits exactly T = 10s/3, rounded up
--- http_config
    tracker_limit_zone lim:1m;
--- config
    location /api/v1/ {
        tracker_limit zone=lim bucket=reads rate=3r/10s burst=1;
        try_files /ok.txt =404;
    }
--- user_files
>>> ok.txt
ok
--- pipelined_requests eval
["GET /api/v1/a", "GET /api/v1/b", "GET /api/v1/c", "GET /api/v1/d"]
--- error_code eval
[200, 200, 429, 429]
--- response_headers eval
["Retry-After:", "Retry-After:", "Retry-After: 4\nContent-Type: application/json", "Retry-After: 4"]
--- response_body eval
[
"ok\n", "ok\n",
'{"error":true,"message":"Rate limit exceeded, try again in 4 seconds.","retry_after":3.34}',
'{"error":true,"message":"Rate limit exceeded, try again in 4 seconds.","retry_after":3.34}',
]



=== TEST 2: burst=3 at 1r/s: four pass at once, then exactly one second; refusals do not consume
--- http_config
    tracker_limit_zone lim:1m;
--- config
    location /r {
        tracker_limit zone=lim bucket=reads rate=1r/s burst=3;
        try_files /ok.txt =404;
    }
--- user_files
>>> ok.txt
ok
--- pipelined_requests eval
[ map { "GET /r" } 1 .. 7 ]
--- error_code eval
[200, 200, 200, 200, 429, 429, 429]
--- response_body_like eval
[ (map { qr/^ok$/ } 1 .. 4), (map { qr/"retry_after":1\.00\}$/ } 1 .. 3) ]



=== TEST 3: keys are independent; an empty key is not limited; two rules apply in turn
--- http_config
    tracker_limit_zone lim:1m;
--- config
    location /r {
        tracker_limit zone=lim bucket=user key=$arg_u rate=1r/m;
        tracker_limit zone=lim bucket=addr rate=1r/m burst=4;
        try_files /ok.txt =404;
    }
--- user_files
>>> ok.txt
ok
--- pipelined_requests eval
["GET /r?u=a", "GET /r?u=a", "GET /r?u=b", "GET /r", "GET /r", "GET /r", "GET /r"]
--- error_code eval
[200, 429, 200, 200, 200, 200, 429]
--- response_body_like eval
[
qr/^ok$/, qr/"retry_after":60\.00\}$/, qr/^ok$/, qr/^ok$/, qr/^ok$/,
qr/^ok$/, qr/"retry_after":60\.00\}$/,
]



=== TEST 3b: a request one rule refuses consumes nothing in the rules before it
--- http_config
    tracker_swarm_zone swarm:1m;
    tracker_limit_zone lim:1m;
--- config
    location /r {
        tracker_limit zone=lim bucket=addr rate=1r/m burst=1;
        tracker_limit zone=lim bucket=user key=$arg_u rate=1r/m;
        try_files /ok.txt =404;
    }
    location = /status { tracker_status swarm; }
--- user_files
>>> ok.txt
ok
--- pipelined_requests eval
["GET /r?u=a", "GET /r?u=a", "GET /r?u=b", "GET /r?u=c", "GET /status"]
--- error_code eval
[200, 429, 200, 429, 200]
--- response_body_like eval
[
qr/^ok$/, qr/"retry_after":60\.00\}$/, qr/^ok$/, qr/"retry_after":60\.00\}$/,
qr/"buckets":\{"addr":\{"keys":1,"passed":2,"rejected":1\},"user":\{"keys":2,"passed":2,"rejected":1\}\}/,
]



=== TEST 4: announce: HTTP 200 with a bencoded failure and min interval, per passkey ($tracker_passkey)
--- http_config
    tracker_swarm_zone swarm:1m;
    tracker_limit_zone lim:1m;
--- config
    location /announce {
        tracker_announce swarm;
        tracker_limit zone=lim bucket=announce key=$tracker_passkey rate=1r/m;
    }
    location ~ ^/[A-Za-z0-9_-]+/announce$ {
        tracker_announce swarm;
        tracker_limit zone=lim bucket=announce key=$tracker_passkey rate=1r/m;
    }
--- pipelined_requests eval
[
::announce(path => '/announce/pk1', peer => 1),
::announce(path => '/pk1/announce', peer => 2),
::announce(extra => 'passkey=pk1', peer => 3),
::announce(path => '/announce/pk2', peer => 4),
::announce(peer => 5),
::announce(peer => 6),
]
--- error_code eval
[200, 200, 200, 200, 200, 200]
--- response_body_like eval
[
qr/^d8:complete/,
qr/^d14:failure reason45:Rate limit exceeded, try again in 60 seconds\.12:min intervali60ee\z/,
qr/^d14:failure reason45:Rate limit exceeded, try again in 60 seconds\.12:min intervali60ee\z/,
qr/^d8:complete/, qr/^d8:complete/, qr/^d8:complete/,
]
--- response_headers eval
["", "Content-Type: text/plain\nRetry-After: 60", "", "", "", ""]



=== TEST 5: Torznab: HTTP 200, XML error 429 "Request limit reached"
--- http_config
    tracker_limit_zone lim:1m;
--- config
    location /api/torznab/ {
        tracker_limit zone=lim bucket=torznab key=$arg_apikey rate=1r/m;
        tracker_limit_answer torznab;
        try_files /ok.txt =404;
    }
--- user_files
>>> ok.txt
ok
--- pipelined_requests eval
["GET /api/torznab/api?t=caps&apikey=k1", "GET /api/torznab/api?t=search&apikey=k1"]
--- error_code eval
[200, 200]
--- response_headers eval
["", "Content-Type: application/xml\nRetry-After: 60"]
--- response_body eval
["ok\n", qq{<?xml version="1.0" encoding="UTF-8"?>\n<error code="429" description="Request limit reached"/>\n}]



=== TEST 6: Gazelle: one request per 6 s per user, {"status":"failure","error":"Rate limit exceeded"}
--- http_config
    tracker_limit_zone lim:1m;
--- config
    location = /ajax.php {
        tracker_limit zone=lim bucket=gazelle key=$http_authorization rate=1r/6s;
        tracker_limit_answer gazelle;
        try_files /ok.txt =404;
    }
--- user_files
>>> ok.txt
ok
--- pipelined_requests eval
["GET /ajax.php?action=index", "GET /ajax.php?action=index", "GET /ajax.php?action=index"]
--- more_headers eval
["Authorization: token alice", "Authorization: token alice", "Authorization: token bob"]
--- error_code eval
[200, 200, 200]
--- response_headers eval
["", "Content-Type: application/json\nRetry-After: 6", ""]
--- response_body eval
["ok\n", '{"status":"failure","error":"Rate limit exceeded"}', "ok\n"]



=== TEST 7: tracker_ban: IPv4 and IPv6 ranges and addresses (realip sets the client address); JSON 403
--- http_config
    tracker_limit_zone lim:1m;
    tracker_ban 192.0.2.0/24;
    tracker_ban 2001:db8::/32;
    tracker_ban 198.51.100.7;
    tracker_ban ::ffff:203.0.113.0/120;
--- config
    set_real_ip_from 127.0.0.1;
    real_ip_header X-Real-IP;
    location /r {
        tracker_limit zone=lim bucket=reads key=$arg_u rate=1r/m;
        try_files /ok.txt =404;
    }
--- user_files
>>> ok.txt
ok
--- pipelined_requests eval
[ map { "GET /r" } 1 .. 9 ]
--- more_headers eval
[ map { "X-Real-IP: $_" } qw(192.0.2.77 192.0.3.1 2001:db8::5 2001:db9::1 198.51.100.7 198.51.100.8 203.0.113.9 ::ffff:192.0.2.1 10.0.0.1) ]
--- error_code eval
[403, 200, 403, 200, 403, 200, 403, 403, 200]
--- response_body eval
[
'{"error":true,"message":"Address banned."}', "ok\n",
'{"error":true,"message":"Address banned."}', "ok\n",
'{"error":true,"message":"Address banned."}', "ok\n",
'{"error":true,"message":"Address banned."}',
'{"error":true,"message":"Address banned."}', "ok\n",
]



=== TEST 8: a permanent ban in each format: bencoded failure (no min interval), Torznab 101, Gazelle
--- http_config
    tracker_swarm_zone swarm:1m;
    tracker_limit_zone lim:1m;
    tracker_ban 127.0.0.0/8;
--- config
    location /announce {
        tracker_announce swarm;
        tracker_limit zone=lim bucket=announce rate=10r/s;
    }
    location /torznab {
        tracker_limit zone=lim bucket=torznab rate=10r/s;
        tracker_limit_answer torznab;
        try_files /ok.txt =404;
    }
    location /ajax.php {
        tracker_limit zone=lim bucket=gazelle rate=10r/s;
        tracker_limit_answer gazelle;
        try_files /ok.txt =404;
    }
--- pipelined_requests eval
[ ::announce(), "GET /torznab", "GET /ajax.php" ]
--- error_code eval
[200, 200, 200]
--- response_body eval
[
"d14:failure reason15:Address banned.e",
qq{<?xml version="1.0" encoding="UTF-8"?>\n<error code="101" description="Account suspended"/>\n},
'{"status":"failure","error":"Address banned"}',
]



=== TEST 9: repeated offenders are banned for ban_time, in every bucket of the zone; the status counts it
--- http_config
    tracker_swarm_zone swarm:1m;
    tracker_limit_zone lim:1m ban_after=2 ban_window=1m ban_time=2m;
--- config
    location /r {
        tracker_limit zone=lim bucket=reads key=$arg_u rate=1r/m;
        try_files /ok.txt =404;
    }
    location = /status { tracker_status swarm; }
--- user_files
>>> ok.txt
ok
--- pipelined_requests eval
["GET /r?u=a", "GET /r?u=a", "GET /r?u=a", "GET /r?u=b", "GET /status"]
--- error_code eval
[200, 429, 429, 429, 200]
--- response_body_like eval
[
qr/^ok$/,
qr/^\{"error":true,"message":"Rate limit exceeded, try again in 60 seconds\.","retry_after":60\.00\}\z/,
qr/^\{"error":true,"message":"Address banned, try again in 120 seconds\.","retry_after":120\.00\}\z/,
qr/^\{"error":true,"message":"Address banned, try again in 120 seconds\.","retry_after":120\.00\}\z/,
qr/,"limits":\[\{"zone":"lim","offenders":1,"evicted":0,"bans":\{"static":0,"db":0,"temporary":1\},"bans_issued":1,"banned_requests":1,"penalties":0,"buckets":\{"reads":\{"keys":1,"passed":1,"rejected":2\}\},"db_bans":\{"loaded_at":0,"loads":0,"load_failures":0\}\}\]\}\n\z/,
]



=== TEST 9b: an IPv6 offender is banned by its address; others are not; rules are inherited from the server level
--- http_config
    tracker_swarm_zone swarm:1m;
    tracker_limit_zone lim:1m ban_after=1 ban_time=30s;
--- config
    set_real_ip_from 127.0.0.1;
    real_ip_header X-Real-IP;
    tracker_limit zone=lim bucket=server rate=1r/m;
    location /inherits {
        try_files /ok.txt =404;
    }
    location /own {
        tracker_limit zone=lim bucket=own key=$arg_u rate=1r/m;
        try_files /ok.txt =404;
    }
--- user_files
>>> ok.txt
ok
--- pipelined_requests eval
["GET /inherits", "GET /inherits", "GET /own?u=a", "GET /own?u=b", "GET /inherits"]
--- more_headers eval
["X-Real-IP: 2001:db8::1", "X-Real-IP: 2001:db8::1", "X-Real-IP: 2001:db8::1", "X-Real-IP: 2001:db8::2", "X-Real-IP: 2001:db8::2"]
--- error_code eval
[200, 429, 429, 200, 200]
--- response_body_like eval
[
qr/^ok$/,
qr/^\{"error":true,"message":"Address banned, try again in 30 seconds\.","retry_after":30\.00\}\z/,
qr/^\{"error":true,"message":"Address banned, try again in 30 seconds\.","retry_after":30\.00\}\z/,
qr/^ok$/, qr/^ok$/,
]



=== TEST 10: bad passkeys charge the on=failure bucket of the address; then even good requests wait
--- http_config
    tracker_swarm_zone swarm:1m;
    tracker_limit_zone lim:1m;
--- config
    location /announce {
        tracker_announce swarm;
        tracker_limit zone=lim bucket=auth rate=1r/m burst=1 on=failure;
    }
    location = /status { tracker_status swarm; }
--- pipelined_requests eval
[
::announce(peer => 1),
::announce(path => '/announce/bad!key', peer => 2),
::announce(path => '/announce/bad!key', peer => 3),
::announce(peer => 4),
"GET /status",
]
--- response_body_like eval
[
qr/^d8:complete/,
qr/^d14:failure reason\d+:invalid passkeye\z/,
qr/^d14:failure reason\d+:invalid passkeye\z/,
qr/^d14:failure reason45:Rate limit exceeded, try again in 60 seconds\.12:min intervali60ee\z/,
qr/"passkey_invalid":2,.*"penalties":2,"buckets":\{"auth":\{"keys":1,"passed":3,"rejected":1\}\}/,
]



=== TEST 11: without a failure bucket, failed authentications are offences that lead to a ban
--- http_config
    tracker_swarm_zone swarm:1m;
    tracker_limit_zone lim:1m ban_after=3 ban_time=90s;
--- config
    location /announce {
        tracker_announce swarm;
        tracker_limit zone=lim bucket=announce key=$tracker_passkey rate=10r/s;
    }
    location = /status { tracker_status swarm; }
--- pipelined_requests eval
[ (map { ::announce(path => '/announce/bad!key', peer => $_) } 1 .. 3), ::announce(peer => 4), "GET /status" ]
--- response_body_like eval
[
(map { qr/^d14:failure reason\d+:invalid passkeye\z/ } 1 .. 3),
qr/^d14:failure reason40:Address banned, try again in 90 seconds\.12:min intervali90ee\z/,
qr/"bans":\{"static":0,"db":0,"temporary":1\},"bans_issued":1,"banned_requests":1,"penalties":3,/,
]



=== TEST 12: Prometheus text: limit metrics by zone and bucket
--- http_config
    tracker_swarm_zone swarm:1m;
    tracker_limit_zone lim:1m;
    tracker_ban 192.0.2.0/24;
--- config
    location /r {
        tracker_limit zone=lim bucket=reads rate=1r/m;
        try_files /ok.txt =404;
    }
    location = /status { tracker_status swarm; }
--- user_files
>>> ok.txt
ok
--- pipelined_requests eval
["GET /r", "GET /r", "GET /status?format=prometheus"]
--- error_code eval
[200, 429, 200]
--- response_body_like eval
[
qr/^ok$/, qr/^\{/,
qr/ngx_tracker_failures_total\{zone="swarm",reason="zone_full"\} 0\n.*# HELP ngx_tracker_limit_keys Keys held, by bucket.\n# TYPE ngx_tracker_limit_keys gauge\nngx_tracker_limit_keys\{zone="lim",bucket="reads"\} 1\n.*ngx_tracker_limit_passed_total\{zone="lim",bucket="reads"\} 1\n.*# TYPE ngx_tracker_limit_rejected_total counter\nngx_tracker_limit_rejected_total\{zone="lim",bucket="reads"\} 1\n.*ngx_tracker_limit_bans\{zone="lim",source="static"\} 1\n.*ngx_tracker_limit_evicted_total\{zone="lim"\} 0\n/s,
]



=== TEST 13: a full zone evicts least recently used keys (per shard): old keys start afresh, the newest keeps its state, new keys fit
--- http_config
    tracker_swarm_zone swarm:1m;
    tracker_limit_zone lim:32k;
--- config
    location /r {
        tracker_limit zone=lim bucket=reads key=$arg_k rate=1r/m;
        try_files /ok.txt =404;
    }
    location = /status { tracker_status swarm; }
--- user_files
>>> ok.txt
ok
--- request eval
[ (map { "GET /r?k=key$_" } 1 .. 400), "GET /r?k=key400", "GET /r?k=new", (map { "GET /r?k=key$_" } 1 .. 20), "GET /status" ]
--- response_body_filters eval
sub {
    my $b = shift;
    return $b =~ /^ok/ ? "ok" : "refused" unless $b =~ /"keys":(\d+)/;
    my $keys = $1;
    my ($evicted) = $b =~ /"evicted":(\d+)/;
    my ($passed) = $b =~ /"passed":(\d+)/;
    # 400 first visits and "new" passed; the rest is old keys let through
    return join ', ', ($keys < 400 ? "fewer keys" : "all keys"),
        ($evicted > 0 ? "evicted" : "none evicted"),
        ($passed - 401 >= 15 ? "most of the 20 oldest afresh" : "old keys kept: " . (20 - $passed + 401));
}
--- response_body_like eval
[ (map { qr/^ok$/ } 1 .. 400), qr/^refused$/, qr/^ok$/, (map { qr/^(ok|refused)$/ } 1 .. 20), qr/^fewer keys, evicted, most of the 20 oldest afresh$/ ]
--- error_code_like eval
[ (map { '^200$' } 1 .. 400), '^429$', '^200$', (map { '^(200|429)$' } 1 .. 20), '^200$' ]
--- timeout: 20



=== TEST 14: configuration errors: a bad rate
--- http_config
    tracker_limit_zone lim:1m;
--- config
    location /r { tracker_limit zone=lim bucket=x rate=10r/q; }
--- must_die
--- error_log
[emerg]
invalid parameter "rate=10r/q"



=== TEST 15: configuration errors: a zone used before it is declared
--- config
    location /r { tracker_limit zone=nowhere bucket=x rate=10r/s; }
--- must_die
--- error_log
[emerg]
unknown tracker_limit_zone "nowhere"



=== TEST 16: configuration errors: a bad ban range
--- http_config
    tracker_limit_zone lim:1m;
    tracker_ban 192.0.2.0/33;
--- config
    location /r { tracker_limit zone=lim bucket=x rate=10r/s; }
--- must_die
--- error_log
[emerg]
invalid address or range "192.0.2.0/33"



=== TEST 17: configuration errors: zone=, bucket= and rate= are required
--- http_config
    tracker_limit_zone lim:1m;
--- config
    location /r { tracker_limit zone=lim rate=10r/s; }
--- must_die
--- error_log
[emerg]
needs zone=, bucket= and rate=
