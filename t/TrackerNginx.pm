# t/TrackerNginx.pm - an nginx of its own for plain TAP tests that need more
# than one request/response block: start, reload, graceful quit, requests.
#
#   my $ngx = TrackerNginx->new(name => 'private', workers => 2);
#   $ngx->start($http_block_body) or BAIL_OUT(...);
#   my ($status, $body) = $ngx->get('/announce?...');
#   $ngx->reload($new_body); $ngx->quit;
#
# The binary and modules come from TEST_NGINX_BINARY and
# TEST_NGINX_LOAD_MODULES (the Makefile's test target sets both), the port
# from TEST_NGINX_PORT (+ an offset per test file).
package TrackerNginx;

use strict;
use warnings;
use File::Path qw(make_path remove_tree);
use IO::Socket::INET;
use IO::Socket::IP;
use POSIX ();
use Time::HiRes qw(sleep time);

sub new {
    my ($class, %o) = @_;
    my $top = $ENV{TRACKER_TOP} || '.';
    my $self = bless {
        binary  => $ENV{TEST_NGINX_BINARY} || 'nginx',
        modules => $ENV{TEST_NGINX_LOAD_MODULES}
            // "/usr/lib/nginx/modules/ndk_http_module.so "
             . "$top/build/modules/ngx_http_tracker_module.so",
        port    => ($ENV{TEST_NGINX_PORT} || 1984) + ($o{port_offset} || 0),
        workers => $o{workers} || 1,
        prefix  => "$top/t/servroot-$o{name}",
        %o,
    }, $class;
    return $self;
}

sub port   { $_[0]{port} }
sub prefix { $_[0]{prefix} }

sub write_conf {
    my ($self, $http) = @_;
    my $p = $self->{prefix};
    make_path("$p/conf", "$p/logs", "$p/html");
    my $load = join '', map { "load_module $_;\n" }
                        split ' ', $self->{modules};
    open my $fh, '>', "$p/conf/nginx.conf" or die "$p: $!";
    print $fh <<"EOF";
$load
worker_processes $self->{workers};
error_log logs/error.log info;
pid logs/nginx.pid;
events { worker_connections 1024; }
http {
    access_log off;
$http
}
EOF
    close $fh;
}

sub pid {
    my $self = shift;
    open my $in, '<', "$self->{prefix}/logs/nginx.pid" or return;
    my $pid = <$in>;
    return unless defined $pid && $pid =~ /^(\d+)/;
    return kill(0, $1) ? $1 : undef;
}

sub start {
    my ($self, $http) = @_;
    $self->kill_stale;
    remove_tree($self->{prefix});
    $self->write_conf($http);
    system($self->{binary}, '-p', "$self->{prefix}/", '-c',
           "$self->{prefix}/conf/nginx.conf") == 0 or return 0;
    return $self->wait_port;
}

sub wait_port {
    my $self = shift;
    for (1 .. 200) {
        my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$self->{port}",
                                      Timeout => 1);
        return 1 if $s;
        sleep 0.025;
    }
    return 0;
}

# a new configuration and new workers; the old ones finish gracefully
sub reload {
    my ($self, $http) = @_;
    $self->write_conf($http) if defined $http;
    my $before = $self->worker_pids;
    system($self->{binary}, '-p', "$self->{prefix}/", '-c',
           "$self->{prefix}/conf/nginx.conf", '-s', 'reload') == 0 or return 0;
    # done when none of the old workers is left
    for (1 .. 400) {
        my %now = map { $_ => 1 } @{ $self->worker_pids };
        return 1 if !grep { $now{$_} } @$before
                    and scalar(keys %now) >= $self->{workers};
        sleep 0.025;
    }
    return 0;
}

sub worker_pids {
    my $self = shift;
    my $master = $self->pid or return [];
    my @pids;
    for my $stat (glob '/proc/[0-9]*/stat') {
        open my $in, '<', $stat or next;
        my $line = <$in> // next;
        # pid (comm) state ppid
        push @pids, $1 if $line =~ /^(\d+) \(.*?\) \S+ (\d+)/ && $2 == $master;
    }
    return \@pids;
}

# graceful quit: workers finish (and flush) before the master exits
sub quit {
    my ($self, $signal) = @_;
    my $pid = $self->pid or return 1;
    kill $signal || 'QUIT', $pid;
    for (1 .. 800) {
        return 1 unless kill 0, $pid;
        waitpid($pid, POSIX::WNOHANG());
        sleep 0.025;
    }
    kill 'KILL', $pid;
    return 0;
}

sub kill_stale { my $self = shift; $self->quit('TERM') if $self->pid }

# get($path, peer => '::1', headers => { 'X-Real-IP' => '192.0.2.1' })
sub get {
    my ($self, $path, %o) = @_;
    my $s = IO::Socket::IP->new(PeerHost => $o{peer} // '127.0.0.1',
                                PeerPort => $self->{port}, Timeout => 10)
        or return (0, "connect: $!");
    my $h = join '', map { "$_: $o{headers}{$_}\r\n" }
                     sort keys %{ $o{headers} // {} };
    print $s "GET $path HTTP/1.0\r\nHost: localhost\r\n$h\r\n";
    local $/;
    my $res = <$s> // '';
    my ($head, $body) = split /\r\n\r\n/, $res, 2;
    my ($status) = ($head // '') =~ m{^HTTP/1\.\d (\d+)};
    return ($status // 0, $body // '');
}

# sends a request and returns the socket, to read the answer later
sub send_only {
    my ($self, $path) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$self->{port}",
                                  Timeout => 10) or return;
    print $s "GET $path HTTP/1.0\r\nHost: localhost\r\n\r\n";
    return $s;
}

sub error_log {
    my $self = shift;
    open my $in, '<', "$self->{prefix}/logs/error.log" or return '';
    local $/;
    return <$in>;
}

sub DESTROY { }

1;
