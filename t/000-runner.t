# Self-test of the test scaffold (real Test::Nginx::Socket or the t/lib
# stand-in).  Needs only a stock nginx; the stream block also needs the
# stream module (TEST_NGINX_LOAD_MODULES=.../ngx_stream_module.so when it is
# dynamic).  Passes with and without TEST_NGINX_USE_HUP=1.

use Test::Nginx::Socket 'no_plan';

$ENV{TEST_NGINX_HTML_DIR}   ||= html_dir();
$ENV{TEST_NGINX_STREAM_PORT} ||= server_port() + 1;

# "--- stream_*" sections belong to Test::Nginx::Socket::Lua::Stream in the
# real distribution; the t/lib runner has them built in.
sub have_stream {
    return 0 if !$Test::Nginx::Util::Local;
    return 1 if ($ENV{TEST_NGINX_LOAD_MODULES} // '') =~ /ngx_stream_module/;
    my $bin = $ENV{TEST_NGINX_BINARY} || 'nginx';
    return `$bin -V 2>&1` =~ /--with-stream(?:\s|$)/;
}

# Per-block process layout via a custom section (portable: preprocessors
# run right before each block is set up, in both implementations).
my ($default_master, $default_workers) = (master_process_enabled(), workers());
add_block_preprocessor(sub {
    my $block = shift;
    if (defined $block->two_workers) {
        master_on();
        workers(2);
    } else {
        master_process_enabled($default_master eq 'on');
        workers($default_workers);
    }
});

no_shuffle();
run_tests();

__DATA__

=== TEST 1: return 200 with a body
--- config
    location = /hello {
        return 200 "hello\n";
    }
--- request
GET /hello
--- response_body
hello
--- no_error_log
[error]



=== TEST 2: 404 for a missing file, error logged
--- config
--- request
GET /nope.html
--- error_code: 404
--- response_body_like: 404 Not Found
--- error_log eval
[qr/open\(\) ".*nope\.html" failed/, "No such file or directory"]



=== TEST 3: response headers, present and absent
--- config
    location = /h {
        add_header X-Foo "bar baz";
        return 200 "ok";
    }
--- request
GET /h
--- response_headers
X-Foo: bar baz
Content-Length: 2
! X-Bar
--- raw_response_headers_like: ^HTTP/1\.1 200 OK\r\n
--- response_body chomp
ok



=== TEST 4: several requests on one server, array expectations
--- config
    location = /a { return 200 "A"; }
    location = /b { return 201 "B"; }
--- request eval
["GET /a", "GET /b", "GET /missing"]
--- error_code eval
[200, 201, 404]
--- response_body_like eval
["^A\$", "^B\$", "404 Not Found"]



=== TEST 5: raw HTTP/1.0 request, body filter
--- config
    location = /raw { return 200 "raw:$server_protocol"; }
--- raw_request eval
"GET /raw HTTP/1.0\r\nHost: localhost\r\n\r\n"
--- response_body_filters
lc
--- response_body: raw:http/1.0



=== TEST 6: POST body split into two packets, more_headers
--- config
    location = /post {
        return 200 "len=$content_length foo=$http_x_foo";
    }
--- more_headers
X-Foo: 42
--- request eval
[["POST /post\nhel", {value => "lo", delay_before => 0.05}]]
--- response_body: len=5 foo=42



=== TEST 7: pipelined requests
--- config
    location = /p1 { return 200 "one"; }
    location = /p2 { return 200 "two"; }
--- pipelined_requests eval
["GET /p1", "GET /p2"]
--- response_body eval
["one", "two"]



=== TEST 8: chunked response is decoded
--- config
    location = /chunked {
        sub_filter_types *;
        sub_filter 'a' 'b';
        sub_filter_once off;
        return 200 "aaa";
    }
--- request
GET /chunked
--- response_headers
Transfer-Encoding: chunked
--- response_body: bbb



=== TEST 9: binary-safe bodies (user_files)
--- config
--- user_files eval
[["bin/peers.dat" => "d5:peers6:\x7f\x00\x00\x01\x1a\xe1e"]]
--- request
GET /bin/peers.dat
--- response_headers
Content-Length: 17
--- response_body eval
"d5:peers6:\x7f\x00\x00\x01\x1a\xe1e"



=== TEST 10: master and two workers
--- two_workers
--- config
    location = /w { return 200 "w"; }
--- request
GET /w
--- response_body: w
--- grep_error_log eval
qr/start worker process(?= \d)/
--- grep_error_log_out
start worker process
start worker process



=== TEST 11: a shared memory zone is shared by both workers
--- two_workers
--- http_config
    limit_req_zone $binary_remote_addr zone=one:1m rate=1r/m;
--- config
    location = /lim {
        limit_req zone=one;
        empty_gif;
    }
--- request eval
["GET /lim", "GET /lim", "GET /lim"]
--- error_code eval
[200, 503, 503]



=== TEST 12: no --- config: same nginx, zone state kept
--- request
GET /lim
--- error_code: 503



=== TEST 13: same zone after restart (fresh) or HUP reload (kept)
--- http_config
    limit_req_zone $binary_remote_addr zone=one:1m rate=1r/m;
--- config
    location = /lim {
        limit_req zone=one;
        empty_gif;
    }
--- request
GET /lim
--- error_code eval
$Test::Nginx::Util::UseHup ? 503 : 200



=== TEST 14: --- init runs after start-up, before the request
--- config
--- init
open my $fh, '>', "$Test::Nginx::Util::HtmlDir/init.txt" or die $!;
print $fh "from init\n";
close $fh;
--- request
GET /init.txt
--- response_body
from init
--- wait: 0.05



=== TEST 15: client timeout tolerated with --- abort
--- config
--- raw_request eval
"GET / HTTP/1.1\r\nHost: localhost\r\n"
--- timeout: 0.3
--- abort
--- ignore_response
--- no_error_log
[alert]



=== TEST 16: skip_nginx skips the block's tests
--- config
--- skip_nginx: 2: > 0.0.1
--- request
GET /
--- response_body: this would fail



=== TEST 17: SKIP meta section
--- SKIP
--- config
--- request
GET /
--- error_code: 999



=== TEST 18: shutdown_error_log is checked once nginx has stopped
--- config
--- request
GET /
--- response_body_like: It works!
--- shutdown_error_log
shutting down



=== TEST 19: must_die
--- config
    location = /t { return; }
--- must_die
--- error_log
[emerg]
invalid number of arguments in "return" directive



=== TEST 20: stream server behind an http proxy
--- skip_eval: 2: !main::have_stream()
--- stream_server_config
    return "HTTP/1.0 200 OK\r\nContent-Length: 6\r\n\r\nstream";
--- config
    location = /s {
        proxy_pass http://127.0.0.1:$TEST_NGINX_STREAM_PORT;
    }
--- request
GET /s
--- response_body: stream
