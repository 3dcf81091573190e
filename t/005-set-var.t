# set_tracker_hex (built on ngx_devel_kit's ndk_set_var_value): binary
# query arguments as hex, for log_format and headers.

use FindBin;
use lib $FindBin::Bin;
use TrackerTest;
use Test::Nginx::Socket 'no_plan';

our $HEX = ::ih_hex(1);

no_shuffle();
run_tests();

__DATA__

=== TEST 1: the info_hash of an announce as 40 hex digits in a header
--- http_config
    tracker_swarm_zone swarm:1m;
--- config
    location /announce {
        set_tracker_hex $ih $arg_info_hash;
        add_header X-Info-Hash $ih;
        tracker_announce swarm;
    }
--- request eval
::announce(torrent => 1, peer => 1)
--- response_headers eval
"X-Info-Hash: $::HEX"



=== TEST 2: lowercase and uppercase escapes, and '+' for a space byte
--- config
    location /t {
        set_tracker_hex $h $arg_v;
        return 200 "[$h]";
    }
--- request eval
[ "GET /t?v=%aB%Cd+%20z", "GET /t?v=", "GET /t?v=%zz", "GET /t" ]
--- response_body eval
[ "[abcd20207a]", "[]", "[]", "[]" ]



=== TEST 3: in log_format, one line per announce
--- http_config
    tracker_swarm_zone swarm:1m;
    log_format th 'ih=$ih';
--- config
    location /announce {
        set_tracker_hex $ih $arg_info_hash;
        access_log logs/tracker.log th;
        tracker_announce swarm;
    }
    location = /log {
        alias logs/tracker.log;
        default_type text/plain;
    }
--- request eval
[ ::announce(torrent => 1, peer => 1), ::announce(torrent => 2, peer => 1), "GET /log" ]
--- response_body_like eval
[ qr/^d8:/, qr/^d8:/, qr/^ih=$::HEX\nih=${\ ::ih_hex(2)}\n\z/ ]
