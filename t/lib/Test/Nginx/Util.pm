package Test::Nginx::Util;

# Server management half of a small, self-written stand-in for openresty's
# Test::Nginx (lib/Test/Nginx/Util.pm).  It is only used on machines where
# the real module is not installed (prove -I t/lib); the test files are
# written so that they run unchanged under either implementation.  Behaviour
# (config layout, environment variables, restart/HUP logic, error log
# bookkeeping, test names and counts) follows the real module; the code is
# our own.

use strict;
use warnings;

our $VERSION = '0.29';    # API level of the real module we emulate
our $Local   = 1;         # lets a test tell this runner from the real one

use Exporter 'import';
use Carp qw(croak);
use Cwd ();
use File::Find ();
use File::Path qw(make_path remove_tree);
use File::Spec ();
use IO::Socket::INET ();
use List::Util qw(shuffle);
use POSIX qw(WNOHANG);
use Scalar::Util qw(looks_like_number);
use Test::More ();
use Test::LongString ();
use Time::HiRes qw(sleep time);

our @EXPORT = qw(
    env_to_nginx is_str check_accum_error_log is_running
    $NoLongString no_long_string $ServerAddr server_addr $ServerName
    server_name parse_time verbose sleep_time bail_out add_cleanup_handler
    access_log_data error_log_data setup_server_root write_config_file
    get_canon_version get_nginx_version trim show_all_chars parse_headers
    run_tests run_test get_pid_from_pidfile $ServerPortForClient $ServerPort
    $NginxVersion $PidFile $ServRoot $ConfFile $RunTestHelper
    $CheckErrorLog $CheckShutdownErrorLog $FilterHttpConfig $NoNginxManager
    $RepeatEach $CheckLeak $Benchmark add_block_preprocessor timeout
    worker_connections workers master_on master_off config_preamble
    repeat_each master_process_enabled log_level no_shuffle
    no_root_location html_dir server_root server_port server_port_for_client
    no_nginx_manager use_hup
);

our @EXPORT_OK = qw(
    $ErrLogFile $AccLogFile $HtmlDir $LogDir $ConfDir $UseHup $Timeout
    $StreamPort $TestNginxSleep fmt_str
);

# ---------------------------------------------------------------------------
# Settings (same environment variables and defaults as the real module)
# ---------------------------------------------------------------------------

our $Verbose              = $ENV{TEST_NGINX_VERBOSE};
our $NginxBinary          = $ENV{TEST_NGINX_BINARY} || 'nginx';
our $Workers              = 1;
our $WorkerConnections    = 64;
our $LogLevel             = $ENV{TEST_NGINX_LOG_LEVEL} || 'debug';
our $MasterProcessEnabled = $ENV{TEST_NGINX_MASTER_PROCESS} || 'off';
our $DaemonEnabled        = 'on';
our $ServerAddr           = '127.0.0.1';
our $ServerName           = 'localhost';
our $ServerPort           = $ENV{TEST_NGINX_SERVER_PORT}
                            || $ENV{TEST_NGINX_PORT} || 1984;
our $ServerPortForClient  = $ENV{TEST_NGINX_CLIENT_PORT} || $ServerPort;
our $StreamPort;          # fixed in run_tests(), after server_port() calls
our $NoRootLocation       = 0;
our $TestNginxSleep       = $ENV{TEST_NGINX_SLEEP} || 0.015;
our $ForceRestartOnTest   = defined $ENV{TEST_NGINX_FORCE_RESTART_ON_TEST}
                            ? $ENV{TEST_NGINX_FORCE_RESTART_ON_TEST} : 1;
our $UseHup               = $ENV{TEST_NGINX_USE_HUP};
our $NoShuffle            = $ENV{TEST_NGINX_NO_SHUFFLE} || 0;
our $NoNginxManager       = $ENV{TEST_NGINX_NO_NGINX_MANAGER} || 0;
our $RepeatEach           = 1;
our $Timeout              = $ENV{TEST_NGINX_TIMEOUT} || 3;
our $LoadModules          = $ENV{TEST_NGINX_LOAD_MODULES};
our $CheckAccumErrLog     = $ENV{TEST_NGINX_CHECK_ACCUM_ERR_LOG};
our $ReusePort            = $ENV{TEST_NGINX_REUSE_PORT};
our $EventType            = $ENV{TEST_NGINX_EVENT_TYPE};
our $PostponeOutput       = $ENV{TEST_NGINX_POSTPONE_OUTPUT};
our $WorkerUser           = $ENV{TEST_NGINX_WORKER_USER};
our $Randomize            = $ENV{TEST_NGINX_RANDOMIZE};
our $NoLongString;

# Modes of the real module that need tools we do not emulate (valgrind,
# systemtap, ab/weighttp, curl for HTTP/2+3).  They are accepted and ignored
# so that a shared CI environment does not break us.
our $CheckLeak = 0;
our $Benchmark = 0;
our $UseStap;
for my $v (qw(CHECK_LEAK BENCHMARK USE_VALGRIND USE_STAP USE_HTTP2
              USE_HTTP3 USE_RR))
{
    if ($ENV{"TEST_NGINX_$v"}) {
        warn "WARNING: TEST_NGINX_$v is not supported by the t/lib "
             . "Test::Nginx runner and is ignored\n";
    }
}

if (defined $WorkerUser && $WorkerUser !~ /^\w+(?:\s+\w+)?$/) {
    die "Bad value in the env TEST_NGINX_WORKER_USER: $WorkerUser\n";
}

our $ConfigPreamble = '';
our $FilterHttpConfig;
our @BlockPreprocessors;
our @CleanupHandlers;
our @EnvToNginx;

# Hooks filled in by Test::Nginx::Socket.
our ($RunTestHelper, $CheckErrorLog, $CheckShutdownErrorLog);

our ($NginxVersion, $NginxRawVersion, $OpenSSLVersion);
our ($PrevConfig, $PrevBlock, $ConfigVersion);
our $ErrLogFilePos = 0;
our $FirstTime     = 1;
our $InSubprocess;
our $TotalConnectFailures = 0;

sub gen_rand_port ($$);

if ($Randomize) {
    $ServerPort = gen_rand_port(1000, {})
        or die "Cannot find an available listening port number\n";
    $ServerPortForClient = $ServerPort;
}

our $ServRoot = $Randomize
    ? File::Spec->rel2abs("t/servroot_$ServerPort")
    : File::Spec->rel2abs($ENV{TEST_NGINX_SERVROOT} || 't/servroot');

our $LogDir     = File::Spec->catfile($ServRoot, 'logs');
our $ErrLogFile = File::Spec->catfile($LogDir, 'error.log');
our $AccLogFile = File::Spec->catfile($LogDir, 'access.log');
our $HtmlDir    = File::Spec->catfile($ServRoot, 'html');
our $ConfDir    = File::Spec->catfile($ServRoot, 'conf');
our $ConfFile   = File::Spec->catfile($ConfDir, 'nginx.conf');
our $PidFile    = File::Spec->catfile($LogDir, 'nginx.pid');

# The real module exports TEST_NGINX_SERVER_ROOT only; the other two are a
# convenience here (TEST_NGINX_SERVROOT made absolute).  Portable tests should still do
#   $ENV{TEST_NGINX_HTML_DIR} ||= html_dir();
$ENV{TEST_NGINX_SERVER_ROOT} = $ServRoot;
$ENV{TEST_NGINX_SERVROOT}    = $ServRoot;
$ENV{TEST_NGINX_HTML_DIR}  //= $HtmlDir;

# Make Ctrl-C and kill(1) go through END so nginx is not left behind.
for my $sig ([INT => 2], [TERM => 15], [HUP => 1]) {
    my ($sig_name, $num) = @$sig;
    $SIG{$sig_name} //= sub { exit(128 + $num) };
}

# ---------------------------------------------------------------------------
# Small exported setters/getters
# ---------------------------------------------------------------------------

sub no_long_string ()       { $NoLongString = 1 }
sub no_shuffle ()           { $NoShuffle = 1 }
sub no_nginx_manager ()     { $NoNginxManager = 1 }
sub no_root_location ()     { $NoRootLocation = 1 }
sub use_hup ()              { $UseHup = 1 }
sub check_accum_error_log () { $CheckAccumErrLog = 1 }
sub master_on ()            { $MasterProcessEnabled = 'on' }
sub master_off ()           { $MasterProcessEnabled = 'off' }
sub config_preamble ($)     { $ConfigPreamble = shift }
sub html_dir ()             { $HtmlDir }
sub server_root ()          { $ServRoot }
sub sleep_time ()           { $TestNginxSleep }
sub verbose ()              { $Verbose }

sub _getset {
    my ($ref, @args) = @_;
    $$ref = $args[0] if @args;
    return $$ref;
}

sub timeout (@)                { _getset(\$Timeout, @_) }
sub workers (@)                { _getset(\$Workers, @_) }
sub worker_connections (@)     { _getset(\$WorkerConnections, @_) }
sub log_level (@)              { _getset(\$LogLevel, @_) }
sub server_addr (@)            { _getset(\$ServerAddr, @_) }
sub server_name (@)            { _getset(\$ServerName, @_) }
sub server_port (@)            { _getset(\$ServerPort, @_) }
sub server_port_for_client (@) { _getset(\$ServerPortForClient, @_) }
sub repeat_each (@)            { _getset(\$RepeatEach, @_) }

sub master_process_enabled (@) {
    $MasterProcessEnabled = $_[0] ? 'on' : 'off' if @_;
    return $MasterProcessEnabled;
}

sub env_to_nginx (@) {
    croak "env_to_nginx: no arguments specified" if !@_;
    for my $v (@_) {
        croak "env_to_nginx: bad argument value: $v\n"
            if $v !~ /^[A-Za-z_]/ || $v =~ /\n/;
        push @EnvToNginx, $v;
    }
}

# The real module runs the most recently added preprocessor first.
sub add_block_preprocessor (&) { unshift @BlockPreprocessors, shift }
sub add_cleanup_handler ($)    { unshift @CleanupHandlers, shift }

sub parse_time ($) {
    my $tm = shift;
    return $tm if !defined $tm;
    if ($tm =~ s/([^_a-zA-Z])ms$/$1/) {
        $tm /= 1000;
    } else {
        $tm =~ s/([^_a-zA-Z])s$/$1/;
    }
    return $tm;
}

sub is_str (@) {
    my ($got, $expected, $desc) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    if (ref $expected && ref $expected eq 'Regexp') {
        return Test::More::like($got, $expected, $desc);
    }
    if ($NoLongString) {
        return Test::More::is($got, $expected, $desc);
    }
    return Test::LongString::is_string($got, $expected, $desc);
}

sub trim ($) {
    my $s = shift;
    return undef if !defined $s;
    $s =~ s/^\s+|\s+$//g;
    $s =~ s/\n/ /gs;
    $s =~ s/\s{2,}/ /gs;
    return $s;
}

sub show_all_chars ($) {
    my $s = shift;
    $s =~ s/\n/\\n/gs;
    $s =~ s/\r/\\r/gs;
    $s =~ s/\t/\\t/gs;
    return $s;
}

sub fmt_str ($) {
    my $s = shift;
    chomp $s;
    $s =~ s/"/\\"/g;
    $s =~ s/\r/\\r/g;
    $s =~ s/\n/\\n/g;
    return $s;
}

# "Name: value" lines -> ordered list of [name, value]; "! Name" means the
# header must be absent (value undef).
sub parse_headers ($) {
    my $s = shift // '';
    my @headers;
    for my $line (split /\n/, $s) {
        $line =~ s/^\s+|\s+$//g;
        next if $line eq '';
        if ($line =~ s/^!\s*//) {
            push @headers, [$line, undef];
        } else {
            my ($key, $val) = split /\s*:\s*/, $line, 2;
            push @headers, [$key, $val // ''];
        }
    }
    return \@headers;
}

sub bail_out (@) {
    cleanup();
    Test::More::BAIL_OUT(join '', @_);
}

# ---------------------------------------------------------------------------
# Processes
# ---------------------------------------------------------------------------

# kill(0) alone is not enough: when nobody reaps an exited daemon (PID 1 in
# some containers does not), it would look alive forever as a zombie.
sub is_running ($) {
    my $pid = shift;
    return 0 if !$pid || !kill(0, $pid);
    if (open my $in, '<', "/proc/$pid/stat") {
        my $stat = <$in> // '';
        close $in;
        return 0 if $stat =~ /^\d+ \(.*\) [ZX]/s;
    }
    return 1;
}

sub wait_gone ($$) {
    my ($pid, $secs) = @_;
    my $deadline = time + $secs;
    while (is_running($pid)) {
        waitpid($pid, WNOHANG);
        return 0 if time > $deadline;
        sleep 0.02;
    }
    return 1;
}

# Graceful QUIT first (so --- shutdown_error_log sees a normal shutdown),
# then TERM, then KILL of the whole process group (the daemonised master is
# a session leader, its workers share its group).
sub kill_process ($$$) {
    my ($pid, $wait, $name) = @_;
    return if !is_running($pid);

    kill 'QUIT', $pid;
    return if wait_gone($pid, $wait ? $Timeout : 0.5);

    warn "$name - nginx (pid $pid) did not quit in time, sending TERM\n";
    kill 'TERM', $pid;
    return if wait_gone($pid, 1);

    warn "$name - killing nginx (pid $pid) with force\n";
    my $pgrp = getpgrp($pid);
    kill 'KILL', (defined $pgrp && $pgrp == $pid) ? -$pid : $pid;
    wait_gone($pid, 2);
    unlink $PidFile if -f $PidFile;
}

sub get_pid_from_pidfile ($) {
    my ($name) = @_;
    open my $in, '<', $PidFile
        or bail_out("$name - Failed to open the pid file $PidFile for reading: $!");
    my $pid = do { local $/; <$in> } // '';
    close $in;
    $pid =~ s/\s+//g;
    return $pid;
}

sub running_nginx_pid () {
    return undef if !-f $PidFile;
    my $pid = get_pid_from_pidfile('');
    return $pid if $pid =~ /^\d+$/ && is_running($pid);
    unlink $PidFile;
    return undef;
}

sub cleanup () {
    $_->() for @CleanupHandlers;
}

sub can_run ($) {
    my $cmd = shift;
    if ($cmd =~ m{/}) {
        return -f $cmd && -x _ ? $cmd : undef;
    }
    for my $dir (split /:/, $ENV{PATH} // '') {
        next if $dir eq '';
        my $abs = File::Spec->catfile($dir, $cmd);
        return $abs if -f $abs && -x _;
    }
    return undef;
}

sub get_canon_version (@) {
    sprintf "%d.%03d%03d", $_[0], $_[1], $_[2];
}

sub get_nginx_version () {
    my ($bin) = split ' ', $NginxBinary;
    if (!can_run($bin)) {
        bail_out("Cannot find the nginx executable \"$NginxBinary\" "
                 . "(set TEST_NGINX_BINARY)");
    }
    my $out = `$NginxBinary -V 2>&1`;
    if (!defined $out || $? != 0) {
        bail_out("Failed to get the version of $NginxBinary: " . ($out // ''));
    }
    if ($out =~ m{built with OpenSSL (\d+)\.(\d+)\.(\d+)([a-z])?}s) {
        $OpenSSLVersion = get_canon_version($1, $2, $3)
            . (defined $4 ? sprintf('%03d', ord($4) - ord('a')) : '');
    }
    if ($out =~ m{\w+/(\d+)\.(\d+)\.(\d+)}s) {
        $NginxRawVersion = "$1.$2.$3";
        return get_canon_version($1, $2, $3);
    }
    bail_out("Failed to parse the output of \"nginx -V\": $out\n");
}

sub gen_rand_str ($) {
    my $len = shift;
    my @chars = ('A' .. 'Z', 'a' .. 'z', '0' .. '9');
    return join '', map { $chars[rand @chars] } 1 .. $len;
}

sub gen_rand_port ($$) {
    my ($tries, $used) = @_;
    for (1 .. $tries) {
        my $port = int(rand 63550) + 1985;
        next if $used->{$port};
        my $sock = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
                                         LocalPort => $port, Proto => 'tcp',
                                         Listen => 1, ReuseAddr => 1);
        if ($sock) {
            close $sock;
            return $port;
        }
    }
    return undef;
}

# Looks for a listening socket in /proc rather than connecting, so that no
# extra "client closed connection" lines end up in error.log.
sub port_listening ($) {
    my $port = shift;
    my $hex = sprintf ':%04X', $port;
    my $seen_proc;
    for my $file ('/proc/net/tcp', '/proc/net/tcp6') {
        open my $in, '<', $file or next;
        $seen_proc = 1;
        while (<$in>) {
            my @f = split;
            return 1 if @f > 3 && $f[1] =~ /\Q$hex\E$/ && $f[3] eq '0A';
        }
    }
    return !$seen_proc;    # cannot tell without /proc: assume it is up
}

# Minimal blocking HTTP/1.0 GET, used to poll the config version after HUP.
sub simple_http_get ($$) {
    my ($host, $path) = @_;
    my $sock = IO::Socket::INET->new(PeerAddr => $ServerAddr,
                                     PeerPort => $ServerPortForClient,
                                     Proto => 'tcp', Timeout => 1)
        or return undef;
    print $sock "GET $path HTTP/1.0\r\nHost: $host\r\n\r\n";
    my $resp = do { local $/; <$sock> };
    close $sock;
    return undef if !defined $resp || $resp !~ m{\AHTTP/\S+ 200 .*?\r\n\r\n(.*)\z}s;
    return $1;
}

# ---------------------------------------------------------------------------
# Logs
# ---------------------------------------------------------------------------

# Only the part of error.log written since the last call is returned (unless
# check_accum_error_log() is on), exactly like the real module.
sub error_log_data () {
    # nginx may still log in the log phase after closing the connection
    sleep $TestNginxSleep * 3;
    open my $in, '<:raw', $ErrLogFile or return undef;
    if (!$CheckAccumErrLog && $ErrLogFilePos > 0) {
        seek $in, $ErrLogFilePos, 0;
    }
    my @lines = <$in>;
    $ErrLogFilePos = tell($in) if !$CheckAccumErrLog;
    close $in;
    return \@lines;
}

sub access_log_data () {
    sleep $TestNginxSleep * 3;
    open my $in, '<:raw', $AccLogFile or return [];
    my @lines = <$in>;
    close $in;
    return \@lines;
}

sub check_prev_block_shutdown_error_log () {
    my $block = $PrevBlock;
    return if !defined $block || !defined $block->shutdown_error_log;
    my $dry_run = ($UseHup || $ENV{TEST_NGINX_NO_CLEAN})
        ? 'no nginx shutdown in this mode' : undef;
    $CheckShutdownErrorLog->($block, $dry_run);
}

sub check_if_missing_directives () {
    open my $in, '<', $ErrLogFile or return 0;
    while (<$in>) {
        return $1 if /\[emerg\] .*?unknown directive "([^"]+)"/;
    }
    return 0;
}

# Last $n non-debug lines of error.log, for start-up failure messages.
sub tail_error_log ($) {
    my $n = shift;
    open my $in, '<', $ErrLogFile or return '';
    my @lines = grep { !/ \[debug\] / } <$in>;
    close $in;
    return join '', @lines[($#lines - $n + 1 < 0 ? 0 : $#lines - $n + 1) .. $#lines];
}

# ---------------------------------------------------------------------------
# Server root and nginx.conf
# ---------------------------------------------------------------------------

sub setup_server_root ($) {
    my $first_time = shift;

    if (-d $ServRoot) {
        # Only remove what we create ourselves, so that a mistaken
        # TEST_NGINX_SERVROOT cannot wipe real data (rmdir fails instead).
        remove_tree($ConfDir, glob("$ServRoot/*_cache"), glob("$ServRoot/*_temp"));

        if ($UseHup) {
            # nginx keeps running: drop old files, keep its pid file/sockets.
            File::Find::find({ bydepth => 1, no_chdir => 1, wanted => sub {
                return if -d $_;
                return if !$first_time && /(?:\bnginx\.pid|\.sock|\.crt|\.key)$/;
                unlink $_ or warn "Failed to remove $_: $!\n";
            } }, $ServRoot);
        } else {
            remove_tree($HtmlDir, $LogDir);
            rmdir $ServRoot
                or bail_out("Can't remove $ServRoot (not empty?): $!");
        }
    }

    for my $dir ($ServRoot, $LogDir, $HtmlDir, $ConfDir) {
        next if -d $dir;
        make_path($dir) or bail_out("Failed to do mkdir $dir: $!");
    }

    my $index = "$HtmlDir/index.html";
    open my $out, '>', $index or bail_out("Can't open $index for writing: $!");
    print $out '<html><head><title>It works!</title></head>'
               . '<body>It works!</body></html>';
    close $out;
}

sub expand_env_in_text ($$$) {
    my ($text, $name, $rand_ports) = @_;
    return undef if !defined $text;

    my %used = ($ServerPort => 1, map { $_ => 1 } values %$rand_ports);
    $text =~ s{\$(TEST_NGINX_[_A-Z0-9]+)}{
        my $var = $1;
        if ($var =~ /^TEST_NGINX_RAND_PORT_\d+$/) {
            $rand_ports->{$var} //= do {
                my $p = gen_rand_port(1000, \%used)
                    // bail_out("$name - Cannot find an available port for $var");
                $used{$p} = 1;
                $p;
            };
        } else {
            defined $ENV{$var}
                or bail_out("$name - No environment $var defined.\n");
            $ENV{$var};
        }
    }ge;
    return $text;
}

sub write_user_files ($$) {
    my ($block, $rand_ports) = @_;
    my $name  = $block->name;
    my $files = $block->user_files;
    return if !$files;

    if (!ref $files) {
        # ">>> name [touch-date]" lines start a file, the rest is its body
        my @list;
        for my $line (split /^/, $files) {
            if ($line =~ /^>>> (\S+)(?:\s+(.+))?/) {
                push @list, [$1, undef, $2];
            } elsif (@list) {
                $list[-1][1] .= $line;
            }
        }
        $files = \@list;
    } elsif (ref $files ne 'ARRAY') {
        bail_out("$name - wrong value type for --- user_files: ", ref $files);
    }

    for my $file (@$files) {
        my ($fname, $body, $date) = @$file;
        my $path = $fname =~ m{^/} ? $fname : "$HtmlDir/$fname";
        if ($path =~ m{(.*)/} && !-d $1) {
            make_path($1) or bail_out("$name - Cannot create directory $1");
        }
        $body = expand_env_in_text($body // '', $name, $rand_ports);
        open my $out, '>:raw', $path
            or bail_out("$name - Cannot open $path for writing: $!");
        print $out $body;
        close $out;
        if ($date) {
            system('touch', '-t', $date, $path) == 0
                or bail_out("$name - failed to touch -t '$date' $path");
        }
    }
}

# Mirrors Test::Nginx::Socket::Lua::Stream's layout: one stream server on
# TEST_NGINX_STREAM_PORT (default server port + 1), optional 2nd/3rd servers
# on the following ports.
sub stream_main_config ($) {
    my $block = shift;
    my $stream_config = $block->stream_config;
    my @servers = map { $block->$_ }
                  qw(stream_server_config stream_server_config2
                     stream_server_config3);
    return '' if !defined $stream_config && !grep { defined } @servers;

    my $conf = "stream {\n" . ($stream_config // '') . "\n";
    for my $i (0 .. 2) {
        next if $i > 0 && !defined $servers[$i];
        my $port = $StreamPort + $i;
        $conf .= "    server {\n        listen $port;\n\n"
                 . ($servers[$i] // '') . "\n    }\n";
    }
    return $conf . "}\n";
}

sub write_config_file ($$$) {
    my ($block, $config, $rand_ports) = @_;
    my $name = $block->name;

    master_on() if $UseHup;    # reloading is unreliable without a master

    my $http_config = expand_env_in_text($block->http_config, $name, $rand_ports) // '';
    $http_config = $FilterHttpConfig->($http_config) if $FilterHttpConfig;

    # load_module must precede any block it provides (e.g. stream {}), so
    # unlike the real module we put these lines at the very top.
    my $modules = join '', map { "load_module $_;\n" }
                           grep { length } split /\s+/, $LoadModules // '';

    my $main_config = ($block->main_config // '') . stream_main_config($block);
    $main_config = expand_env_in_text($main_config, $name, $rand_ports);
    my $post_main_config =
        expand_env_in_text($block->post_main_config, $name, $rand_ports) // '';

    my $err_log_file = $block->error_log_file || $ErrLogFile;
    my $server_name  = $block->server_name // $ServerName;
    $server_name =~ s/\\/\\\\/g;
    $server_name =~ s/'/\\'/g;

    my $listen_opts = $ReusePort ? ' reuseport' : '';

    # Keep nginx's compiled-in temp dirs (often /var/lib/nginx) out of the
    # way unless the test sets them itself (a duplicate would be fatal).
    my $temp_paths = '';
    for my $t (qw(client_body proxy fastcgi uwsgi scgi)) {
        next if $http_config =~ /\b${t}_temp_path\b/;
        $temp_paths .= "    ${t}_temp_path $ServRoot/${t}_temp;\n";
    }

    my $env = join '', map { my $v = /\s/ ? "'$_'" : $_; "env $v;\n" } @EnvToNginx;

    my $extra_http = '';
    if (defined $PostponeOutput && $http_config !~ /\bpostpone_output\b/) {
        bail_out("Bad TEST_NGINX_POSTPONE_OUTPUT value: $PostponeOutput")
            if $PostponeOutput !~ /^\d+$/;
        $extra_http .= "    postpone_output $PostponeOutput;\n";
    }

    my $root_location = $NoRootLocation ? '' : <<"_EOC_";
        location / {
            root $HtmlDir;
            index index.html index.htm;
        }
_EOC_

    # With HUP reloads a second virtual server reports which configuration
    # generation is live, so we know when the new workers have taken over.
    my $version_server = !$UseHup ? '' : <<"_EOC_";
    server {
        listen          $ServerPort;
        server_name     'Test-Nginx';

        location = /ver {
            return 200 '$ConfigVersion';
        }
    }
_EOC_

    my $events = "    accept_mutex off;\n"
                 . "    worker_connections  $WorkerConnections;\n"
                 . ($EventType ? "    use $EventType;\n" : '');

    my $user = defined $WorkerUser ? "user $WorkerUser;\n"
             : $> == 0            ? "user root;\n"
             :                      '';

    open my $out, '>', $ConfFile
        or bail_out("Can't open $ConfFile for writing: $!");
    print $out <<"_EOC_";
${modules}worker_processes  $Workers;
daemon $DaemonEnabled;
master_process $MasterProcessEnabled;
error_log $err_log_file $LogLevel;
pid       $PidFile;
env LD_PRELOAD;
env LD_LIBRARY_PATH;
env ASAN_OPTIONS;
$env
$main_config

http {
    access_log $AccLogFile;

    default_type text/plain;
    keepalive_timeout  68;

$temp_paths
$http_config

    server {
        listen          $ServerPort$listen_opts;
        server_name     '$server_name';

        client_max_body_size 30M;

        # Begin preamble config...
$ConfigPreamble
        # End preamble config...

        # Begin test case config...
$config
        # End test case config.

$root_location    }

$version_server$extra_http}

$post_main_config

events {
$events}

$user
_EOC_
    close $out;
}

# ---------------------------------------------------------------------------
# Starting, reloading, stopping
# ---------------------------------------------------------------------------

sub nginx_command () {
    my @cmd = (split(' ', $NginxBinary), '-p', "$ServRoot/", '-c', $ConfFile);
    # -e (1.19.5+) sends start-up errors to our error.log instead of the
    # binary's compiled-in path (stderr on Debian), as a default build does.
    push @cmd, '-e', $ErrLogFile if ($NginxVersion // 0) >= 1.019005;
    return @cmd;
}

# Returns the wait status of the nginx command (0: daemon started).
sub exec_nginx ($) {
    my $quiet = shift;
    my @cmd = nginx_command();
    warn "starting: @cmd\n" if $Verbose;
    my $pid = fork;
    bail_out("fork() failed: $!") if !defined $pid;
    if ($pid == 0) {
        $InSubprocess = 1;
        open STDOUT, '>', '/dev/null';
        open STDERR, '>', '/dev/null' if $quiet;
        { no warnings 'exec'; exec { $cmd[0] } @cmd; }
        POSIX::_exit(127);
    }
    waitpid($pid, 0);
    return $?;
}

sub wait_for_nginx ($) {
    my $name = shift;
    my $deadline = time + ($Timeout > 5 ? $Timeout : 5);
    until (running_nginx_pid()) {
        if (time > $deadline) {
            Test::More::diag("tail of $ErrLogFile:\n" . tail_error_log(10));
            bail_out("$name - nginx did not write its pid file $PidFile");
        }
        sleep 0.01;
    }
    until (port_listening($ServerPort)) {
        if (time > $deadline) {
            bail_out("$name - nginx is not listening on port $ServerPort");
        }
        sleep 0.01;
    }
}

sub start_nginx ($) {
    my $name = shift;
    my $deadline = time + 5;
    while (1) {
        my $status = exec_nginx(0);
        if ($status == 0) {
            wait_for_nginx($name);
            return 0;
        }
        if ($ENV{TEST_NGINX_IGNORE_MISSING_DIRECTIVES}
            and my $directive = check_if_missing_directives())
        {
            return "the lack of directive $directive";
        }
        # A port still held by a previous nginx is worth waiting for;
        # anything else (bad config, missing module) will not fix itself.
        my $log = tail_error_log(10);
        if ($log =~ /Address already in use/ && time < $deadline) {
            sleep 0.2;
            next;
        }
        Test::More::diag("tail of $ErrLogFile:\n$log");
        my $hint = $log =~ /Address already in use/
            ? " (port $ServerPort busy? set TEST_NGINX_PORT)" : '';
        bail_out("$name - Cannot start nginx using command "
                 . "\"@{[nginx_command()]}\" (status $status)$hint");
    }
}

sub wait_config_version ($$) {
    my ($name, $block) = @_;
    if (defined $block->reload_fails) {
        sleep 0.3;
        return;
    }
    # Several answers in a row from the new generation: by then the new
    # workers serve the port and the old ones are shutting down.
    my ($ok, $deadline) = (0, time + 10);
    while (time < $deadline) {
        my $ver = simple_http_get('Test-Nginx', '/ver');
        if (defined $ver && $ver eq $ConfigVersion) {
            return if ++$ok >= 10;
            next;
        }
        $ok = 0;
        sleep $TestNginxSleep;
    }
    Test::More->builder->no_ending(1);
    Test::More::fail("$name - failed to reload configuration after HUP");
}

sub reload_nginx ($$) {
    my ($pid, $block) = @_;
    # USR1 reopens the log files we just deleted, HUP loads the new config
    # (shared memory zones with the same name and size are kept).
    kill('USR1', $pid) or return 0;
    sleep $TestNginxSleep;
    kill('HUP', $pid) or return 0;
    sleep $TestNginxSleep * 3;
    wait_config_version($block->name, $block);
    return 1;
}

# ---------------------------------------------------------------------------
# Driver
# ---------------------------------------------------------------------------

sub run_tests () {
    $NginxVersion = get_nginx_version();
    $StreamPort = $ENV{TEST_NGINX_STREAM_PORT} // ($ServerPort + 1);
    $ENV{TEST_NGINX_SERVER_PORT} //= $ServerPort;
    $ENV{TEST_NGINX_STREAM_PORT} //= $StreamPort;

    my @blocks = Test::Base::blocks();
    @blocks = shuffle @blocks if !$NoShuffle;

    for my $block (@blocks) {
        $_->($block) for @BlockPreprocessors;
        run_test($block);
        $PrevBlock = $block;
    }

    cleanup();
}

# Evaluates --- skip_eval / skip_nginx / skip_nginx2 / skip_openssl
# ("N: <op> x.y.z [: reason]"): (number of tests, skip?, reason).
sub skip_info ($) {
    my $block = shift;
    my $name = $block->name;
    my ($n, $skip, $reason);

    my $cmp = sub {
        my ($have, $op, $want) = @_;
        return undef if !defined $have;
        return $op eq '<'  ? $have <  $want
             : $op eq '<=' ? $have <= $want
             : $op eq '>'  ? $have >  $want
             :               $have >= $want;
    };

    if (defined(my $spec = $block->skip_eval)) {
        if ($spec =~ /^\s*(\d+)\s*:\s*(.*)/s) {
            ($n, $reason) = ($1, 'skip_eval');
            my $code = $2;
            $skip = eval $code;
            bail_out("$name - skip_eval - failed to eval \"$code\": $@") if $@;
        }
    }

    if (defined(my $spec = $block->skip_nginx)) {
        $spec =~ /^\s*(\d+)\s*:\s*([<>]=?)\s*(\d+)\.(\d+)\.(\d+)(?:\s*:\s*(.*))?\s*$/
            or bail_out("$name - Invalid --- skip_nginx spec: $spec");
        $n = $1;
        $reason = $6 || "nginx version $2 $3.$4.$5";
        my $r = $cmp->($NginxVersion, $2, get_canon_version($3, $4, $5));
        $skip = 1 if $r || (!defined $r && $2 =~ /^</);
    } elsif (defined(my $spec2 = $block->skip_nginx2)) {
        $spec2 =~ /^\s*(\d+)\s*:\s*([<>]=?)\s*(\d+)\.(\d+)\.(\d+)\s*(or|and)\s*
                   ([<>]=?)\s*(\d+)\.(\d+)\.(\d+)(?:\s*:\s*(.*))?\s*$/x
            or bail_out("$name - Invalid --- skip_nginx2 spec: $spec2");
        $n = $1;
        $reason = $11 || 'nginx version';
        my $a = $cmp->($NginxVersion, $2, get_canon_version($3, $4, $5));
        my $b = $cmp->($NginxVersion, $7, get_canon_version($8, $9, $10));
        $skip = 1 if !defined $NginxVersion
                     || ($6 eq 'or' ? ($a || $b) : ($a && $b));
    }

    if (defined(my $spec = $block->skip_openssl)) {
        $spec =~ /^\s*(\d+)\s*:\s*([<>]=?)\s*(\d+)\.(\d+)\.(\d+)([a-z])?(?:\s*:\s*(.*))?\s*$/
            or bail_out("$name - Invalid --- skip_openssl spec: $spec");
        $n = $1;
        $reason = $7 || (defined $OpenSSLVersion
                         ? "OpenSSL version $2 $3.$4.$5" . ($6 // '')
                         : 'Not built with OpenSSL');
        my $want = get_canon_version($3, $4, $5)
                   . (defined $6 ? sprintf('%03d', ord($6) - ord('a')) : '');
        $skip = 1 if !defined $OpenSSLVersion
                     || $cmp->($OpenSSLVersion, $2, $want);
    }

    return ($n, $skip, $reason // 'various reasons');
}

sub run_test ($) {
    my $block = shift;
    return if defined $block->SKIP;

    my $name = $block->name;
    my $first_time = $FirstTime;
    $FirstTime = 0;

    my $rand_ports = {};

    local $LogLevel = $block->log_level || $LogLevel;
    local $UseHup = $UseHup;

    my $must_die = $block->must_die;
    undef $UseHup if defined $must_die;

    # A block with stream sections but no --- config still gets a server
    # (Test::Nginx::Socket::Lua::Stream always generates one).
    my $config = $block->config;
    if (!defined $config
        && grep { defined $block->$_ } qw(stream_config stream_server_config))
    {
        $config = '';
    }
    $config = expand_env_in_text($config, $name, $rand_ports);

    # Same rules as the real module: a block without --- config reuses the
    # running nginx untouched; otherwise restart (or HUP) for every block
    # unless TEST_NGINX_FORCE_RESTART_ON_TEST=0 and the config is unchanged.
    my ($should_restart, $should_reconfig) = (0, 0);
    if (!defined $config) {
        if (!$NoNginxManager && !defined $PrevConfig) {
            bail_out("$name - No '--- config' section specified and could "
                     . "not get previous one. Use TEST_NGINX_NO_NGINX_MANAGER ?");
        }
    } elsif ($NoNginxManager) {
        Test::More::diag("NO_NGINX_MANAGER activated: config for $name ignored");
    } else {
        $should_reconfig = !defined $PrevConfig || $config ne $PrevConfig;
        $should_restart  = $should_reconfig || $ForceRestartOnTest;
    }

    my ($tests_to_skip, $should_skip, $skip_reason) = skip_info($block);

    my ($should_todo, $todo_reason);
    if (defined(my $todo = $block->todo)) {
        $todo =~ /^\s*(\d+)\s*:\s*(.*)/s
            or bail_out("$name - Invalid --- todo spec: $todo");
        ($should_todo, $tests_to_skip, $todo_reason) = (1, $1, $2);
    }

    my $dry_run = 0;
    my $started = 0;

    if (!$NoNginxManager && !$should_skip && $should_restart) {
        $ConfigVersion = gen_rand_str(10) if $UseHup;
        $PrevConfig = $config if $should_reconfig;

        my $pid = running_nginx_pid();

        if ($pid && $UseHup && !$first_time) {
            setup_server_root(0);
            write_user_files($block, $rand_ports);
            write_config_file($block, $config, $rand_ports);
            if (reload_nginx($pid, $block)) {
                check_prev_block_shutdown_error_log();
                $started = 1;
            }
        }

        if (!$started) {
            kill_process($pid, 1, $name) if $pid;
            check_prev_block_shutdown_error_log();

            setup_server_root($first_time);
            write_user_files($block, $rand_ports);
            write_config_file($block, $config, $rand_ports);

            $ErrLogFilePos = 0;

            if (defined $must_die) {
                run_must_die($block, $must_die);
                return;
            }

            $dry_run = start_nginx($name);
        }
    }

    if (defined(my $init = $block->init)) {
        eval $init;
        bail_out("$name - init failed: $@") if $@;
    }

    $ErrLogFilePos = 0;
    for my $i (1 .. $RepeatEach) {
        write_user_files($block, $rand_ports) if $i > 1;

        if ($should_skip && defined $tests_to_skip) {
            SKIP: {
                Test::More::skip("$name - $skip_reason", $tests_to_skip);
            }
        } elsif ($should_todo) {
            TODO: {
                Test::More::todo_skip("$name - $todo_reason", $tests_to_skip);
            }
        } else {
            $RunTestHelper->($block, $dry_run, $i - 1);
        }
    }

    if (my $total_errlog = $ENV{TEST_NGINX_ERROR_LOG}) {
        if (-s $ErrLogFile && open my $out, '>>', $total_errlog) {
            open my $in, '<:raw', $ErrLogFile;
            print $out "\n=== $0 $name\n", <$in>;
            close $in;
            close $out;
        }
    }
}

# --- must_die: nginx has to refuse to start; only the exit status and the
# error log are checked, once per repeat_each iteration.
sub run_must_die ($$) {
    my ($block, $must_die) = @_;
    my $name = $block->name;

    for my $i (0 .. $RepeatEach - 1) {
        my $status = exec_nginx(1);
        my $exit_code = $status >> 8;

        if ($status == -1 || $exit_code == 127) {
            Test::More::fail("$name - failed to execute the nginx command line");
        } elsif ($status & 128) {
            Test::More::fail("$name - nginx core dumped");
        } elsif (looks_like_number($must_die)) {
            Test::More::is($must_die, $exit_code,
                           "$name - die with the expected exit code");
        } else {
            Test::More::isnt($status, 0, "$name - die as expected");
        }

        $CheckErrorLog->($block, undef, 0, $i, 0);

        if ($status == 0) {
            warn "WARNING: $name - nginx must die but it does not; killing it\n";
            my $deadline = time + 1;
            sleep $TestNginxSleep until -f $PidFile || time > $deadline;
            my $pid = running_nginx_pid();
            kill_process($pid, 1, $name) if $pid;
        }
    }
}

END {
    return if $InSubprocess;
    local $?;    # keep Test::Builder's exit status intact

    cleanup();

    if (!$ENV{TEST_NGINX_NO_CLEAN} && defined $PidFile) {
        my $pid = running_nginx_pid();
        kill_process($pid, 1, 'END') if $pid;
    }

    check_prev_block_shutdown_error_log() if $CheckShutdownErrorLog;

    if ($Randomize && defined $ServRoot && $ServRoot =~ m{/t/servroot_\d+$}) {
        remove_tree($ServRoot);
    }
}

1;
