package UdpTracker;

# Helpers for the UDP tracker suites (t/030-udp*.t): start a real nginx
# with an http {} and a stream {} block on one swarm zone, and speak BEP 15
# to it with real datagrams.  The Test::Nginx runner only speaks HTTP, so
# these files are plain TAP scripts.
#
#   my $n = UdpTracker->start(stream => '...', http => '...', workers => 1);
#   my $s = $n->socket;                       # IPv4 client socket
#   my $cid = $n->connect($s);                # BEP 15 connect, returns the id
#   my $r = $n->announce($s, $cid, info_hash => ih(1), peer => 1, ...);
#   $n->stop;
#
# Ports: TEST_NGINX_PORT (HTTP) and the next few (UDP).

use strict;
use warnings;
use Carp qw(croak);
use Cwd qw(abs_path);
use File::Basename qw(dirname);
use File::Path qw(make_path remove_tree);
use HTTP::Tiny;
use IO::Select;
use IO::Socket::IP;
use POSIX qw(WNOHANG);
use Socket qw(AF_INET AF_INET6 inet_ntop inet_pton pack_sockaddr_in
              pack_sockaddr_in6 unpack_sockaddr_in unpack_sockaddr_in6
              sockaddr_family);
use Digest::SHA qw(sha1);

use Exporter 'import';
our @EXPORT = qw(ih ih_hex peer_id pct have_ipv6 connect_req announce_req
                 scrape_req parse_reply peers_text);

our $PROTOCOL_ID = (0x417 << 32) | 0x27101980;

my $top = $ENV{TRACKER_TOP} // abs_path(dirname(__FILE__) . '/..');

sub ih      { return sha1("torrent-" . shift) }
sub ih_hex  { return unpack('H*', ih(shift)) }
sub peer_id { return sprintf('-TT0001-%012d', shift) }

sub pct {
    my $s = shift;
    $s =~ s/([^A-Za-z0-9\-._~])/sprintf('%%%02X', ord $1)/ge;
    return $s;
}

sub have_ipv6 {
    my $s = IO::Socket::IP->new(LocalHost => '::1', Proto => 'udp');
    return defined $s;
}

# --- nginx -------------------------------------------------------------

sub start {
    my ($class, %o) = @_;
    my $port = $ENV{TEST_NGINX_PORT} // 19300;
    my $root = ($ENV{TEST_NGINX_SERVROOT} // "$top/t/servroot") . "-udp";
    my $self = bless {
        http_port => $port,
        udp_port  => $port + 1,
        udp6_port => $port + 2,
        any_port  => $port + 3,
        root      => $root,
        %o,
    }, $class;

    remove_tree($root);
    make_path("$root/logs", "$root/tmp", "$root/conf");

    my $mods = $ENV{TRACKER_MODULES} // join ' ',
        '/usr/lib/nginx/modules/ndk_http_module.so',
        '/usr/lib/nginx/modules/ngx_stream_module.so',
        "$top/build/modules/ngx_http_tracker_module.so",
        "$top/build/modules/ngx_stream_tracker_module.so";
    my $load = join '', map { "load_module $_;\n" } split ' ', $mods;

    my $workers = $o{workers} // 1;
    my $v6 = have_ipv6()
        ? "listen [::1]:$self->{udp6_port} udp;" : '';
    my $stream_main = $o{stream_main} // '';
    my $stream = $o{stream} // '';
    my $http = $o{http} // '';
    my $zone = $o{zone} // 'tracker_swarm_zone swarm:4m;';

    open my $f, '>', "$root/conf/nginx.conf" or croak "$root: $!";
    print $f <<"EOF";
$load
worker_processes $workers;
master_process on;
daemon off;
pid logs/nginx.pid;
error_log logs/error.log info;

events {
    worker_connections 1024;
    multi_accept on;
}

http {
    access_log off;
    client_body_temp_path tmp/body;
    proxy_temp_path tmp/proxy;
    fastcgi_temp_path tmp/fastcgi;
    uwsgi_temp_path tmp/uwsgi;
    scgi_temp_path tmp/scgi;

    $zone

    server {
        listen 127.0.0.1:$self->{http_port};

        location /announce { tracker_announce swarm; }
        location /scrape { tracker_scrape swarm; }
        location /status { tracker_status swarm; }
        $http
    }
}

stream {
    $stream_main

    server {
        listen 127.0.0.1:$self->{udp_port} udp;
        $v6
        tracker_udp swarm;
        $stream
    }
}
EOF
    close $f;

    my $pid = fork();
    croak "fork: $!" unless defined $pid;
    if ($pid == 0) {
        open STDERR, '>', "$root/logs/stderr.log";
        exec '/usr/sbin/nginx', '-p', "$root/", '-c', 'conf/nginx.conf';
        exit 127;
    }
    $self->{pid} = $pid;

    # ready when the HTTP port answers (the stream sockets open first)
    for (1 .. 100) {
        if (waitpid($pid, WNOHANG) == $pid) {
            delete $self->{pid};
            my $err = `cat $root/logs/stderr.log $root/logs/error.log 2>/dev/null`;
            croak "nginx did not start:\n$err";
        }
        my $r = HTTP::Tiny->new(timeout => 1)
            ->get("http://127.0.0.1:$self->{http_port}/status");
        return $self if $r->{status} == 200;
        select undef, undef, undef, 0.05;
    }
    $self->stop;
    croak "nginx did not answer on port $self->{http_port}";
}

sub stop {
    my $self = shift;
    return unless $self->{pid};
    kill 'QUIT', $self->{pid};
    for (1 .. 100) {
        if (waitpid($self->{pid}, WNOHANG) != 0) {
            delete $self->{pid};
            return;
        }
        select undef, undef, undef, 0.05;
    }
    kill 'KILL', $self->{pid};
    waitpid($self->{pid}, 0);
    delete $self->{pid};
}

sub DESTROY { $_[0]->stop }

sub _workers {
    my $self = shift;
    my @w;
    for my $d (glob '/proc/[0-9]*') {
        open my $f, '<', "$d/stat" or next;
        my @st = split ' ', scalar <$f>;
        push @w, $st[0] if $st[3] == $self->{pid};
    }
    return @w;
}

# nginx -s reload: HUP, then wait until all the old workers are gone
sub reload {
    my $self = shift;
    my %old = map { $_ => 1 } $self->_workers;
    kill 'HUP', $self->{pid};
    for (1 .. 200) {
        my @w = $self->_workers;
        return 1 if @w && !grep { $old{$_} } @w;
        select undef, undef, undef, 0.05;
    }
    return 0;
}

sub error_log {
    my $self = shift;
    local $/;
    open my $f, '<', "$self->{root}/logs/error.log" or return '';
    return <$f>;
}

sub http_get {
    my ($self, $path) = @_;
    my $r = HTTP::Tiny->new(timeout => 5)
        ->get("http://127.0.0.1:$self->{http_port}$path");
    return $r->{content};
}

sub status {
    my $self = shift;
    return $self->http_get('/status');
}

# one counter of the status page's "udp" object (dropped.<reason> too)
sub udp_counter {
    my ($self, $name) = @_;
    my $s = $self->status;
    if ($name =~ /^dropped\.(\w+)$/) {
        return $s =~ /"dropped":\{[^}]*"$1":(\d+)/ ? $1 : undef;
    }
    return $s =~ /"udp":\{[^}]*"$name":(\d+)/ ? $1 : undef;
}

# --- datagrams ---------------------------------------------------------

sub socket {
    my ($self, %o) = @_;
    my $v6 = $o{v6};
    my $s = IO::Socket::IP->new(
        LocalHost => $o{local} // ($v6 ? '::1' : '127.0.0.1'),
        Proto     => 'udp',
    ) or croak "udp socket: $@";
    ${*$s}{udp_dest} = $o{dest} // ($v6 ? "[::1]:$self->{udp6_port}"
                                      : "127.0.0.1:$self->{udp_port}");
    return $s;
}

sub _sockaddr {
    my $dest = shift;
    if (my ($a, $p) = $dest =~ /^\[(.+)\]:(\d+)$/) {
        return pack_sockaddr_in6($p, inet_pton(AF_INET6, $a));
    }
    my ($a, $p) = $dest =~ /^(.+):(\d+)$/ or croak "bad destination $dest";
    return pack_sockaddr_in($p, inet_pton(AF_INET, $a));
}

sub send_raw {
    my ($self, $s, $data, $dest) = @_;
    defined $s->send($data, 0, _sockaddr($dest // ${*$s}{udp_dest}))
        or croak "send: $!";
}

# the next datagram, or undef after $timeout seconds; in list context also
# the sender as "addr:port"
sub recv_raw {
    my ($self, $s, $timeout) = @_;
    my $sel = IO::Select->new($s);
    return unless $sel->can_read($timeout // 5);
    my $from = $s->recv(my $buf, 65535, 0);
    return $buf unless wantarray;
    my ($port, $addr);
    if (sockaddr_family($from) == AF_INET6) {
        ($port, $addr) = unpack_sockaddr_in6($from);
        $addr = '[' . inet_ntop(AF_INET6, $addr) . ']';
    } else {
        ($port, $addr) = unpack_sockaddr_in($from);
        $addr = inet_ntop(AF_INET, $addr);
    }
    return ($buf, "$addr:$port");
}

# sends, waits for the reply with the same transaction id
sub exchange {
    my ($self, $s, $data, $dest) = @_;
    my $tid = substr($data, 12, 4);
    $self->send_raw($s, $data, $dest);
    for (1 .. 10) {
        my $r = $self->recv_raw($s) // return undef;
        return parse_reply($r) if substr($r, 4, 4) eq $tid;
    }
    return undef;
}

my $tid_seq = int(rand(1 << 30));
sub _tid { return ++$tid_seq & 0xffffffff }

sub connect_req {
    my $tid = shift // _tid();
    return pack('Q>NN', $PROTOCOL_ID, 0, $tid);
}

# announce_req(cid => ..., info_hash => 20 bytes, peer => n, left => n,
#              event => 0..3, numwant => n, port => n, options => bytes)
sub announce_req {
    my %a = (left => 100, event => 0, numwant => -1, downloaded => 0,
             uploaded => 0, key => 0, ip => 0, peer => 1, @_);
    my $port = $a{port} // 6880 + $a{peer};
    return pack('a8NN a20 a20 Q>Q>Q> N N N l> n',
                $a{cid}, 1, $a{tid} // _tid(), $a{info_hash},
                $a{peer_id} // peer_id($a{peer}),
                $a{downloaded}, $a{left}, $a{uploaded}, $a{event}, $a{ip},
                $a{key}, $a{numwant}, $port)
           . ($a{options} // '');
}

sub scrape_req {
    my ($cid, @hashes) = @_;
    return pack('a8NN', $cid, 2, _tid()) . join('', @hashes);
}

# a reply as a hash: action, tid, and the fields of that action
sub parse_reply {
    my $r = shift;
    return { action => 'short', raw => $r } if length $r < 8;
    my ($action, $tid) = unpack('NN', $r);
    my %h = (action => $action, tid => $tid, len => length $r);
    if ($action == 0) {
        $h{cid} = substr($r, 8, 8);
    } elsif ($action == 1) {
        @h{qw(interval leechers seeders)} = unpack('x8 NNN', $r);
        $h{peers} = substr($r, 20);
    } elsif ($action == 2) {
        my @e;
        for (my $i = 8; $i + 12 <= length $r; $i += 12) {
            push @e, [ unpack('NNN', substr($r, $i, 12)) ];
        }
        $h{scrape} = \@e;
    } elsif ($action == 3) {
        $h{error} = substr($r, 8);
    }
    return \%h;
}

# compact peers as sorted "addr:port" text (18-byte entries when $v6)
sub peers_text {
    my ($bin, $v6) = @_;
    my ($alen, $fam) = $v6 ? (16, AF_INET6) : (4, AF_INET);
    my @p;
    for (my $i = 0; $i + $alen + 2 <= length $bin; $i += $alen + 2) {
        my $ip = inet_ntop($fam, substr($bin, $i, $alen));
        my $port = unpack('n', substr($bin, $i + $alen, 2));
        push @p, $v6 ? "[$ip]:$port" : "$ip:$port";
    }
    return join(' ', sort @p);
}

sub connect {
    my ($self, $s, $dest) = @_;
    my $r = $self->exchange($s, connect_req(), $dest) or return undef;
    return $r->{action} == 0 ? $r->{cid} : undef;
}

sub announce {
    my ($self, $s, $cid, %a) = @_;
    return $self->exchange($s, announce_req(cid => $cid, %a), $a{dest});
}

sub scrape {
    my ($self, $s, $cid, @hashes) = @_;
    return $self->exchange($s, scrape_req($cid, @hashes));
}

1;
