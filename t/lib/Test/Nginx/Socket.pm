package Test::Nginx::Socket;

# Client/checking half of our stand-in for openresty's Test::Nginx::Socket
# (see Test/Nginx/Util.pm for the server half and the rationale).  Like the
# real module it is a Test::Base subclass, so test files keep the same
# data-section format, filters (eval, chomp, ...) and meta sections (ONLY,
# SKIP, LAST).
#
# Note: "use Test::Base -Base" source-filters this file (Spiffy): a named
# sub without a prototype would get "my $self = shift;" injected, so every
# named sub below has an explicit prototype.

use Test::Base -Base;

our $VERSION = '0.29';

use Encode ();
use Digest::MD5 ();
use Digest::SHA ();
use HTTP::Response ();
use IO::Select ();
use IO::Socket::INET ();
use POSIX qw(EAGAIN EWOULDBLOCK EINTR);
use Time::HiRes qw(sleep time);

use Test::Nginx::Util qw(:DEFAULT fmt_str);

our @EXPORT = qw(
    env_to_nginx is_str plan run_tests run_test repeat_each config_preamble
    worker_connections master_process_enabled no_long_string workers
    master_on master_off log_level no_shuffle no_root_location use_hup
    server_name server_addr server_root html_dir server_port
    server_port_for_client timeout no_nginx_manager check_accum_error_log
    add_block_preprocessor bail_out add_cleanup_handler
    add_response_body_check
);

$RunTestHelper         = \&run_test_helper;
$CheckErrorLog         = \&check_error_log;
$CheckShutdownErrorLog = \&check_shutdown_error_log;

our @ResponseBodyChecks;

sub add_response_body_check ($) { push @ResponseBodyChecks, shift }
sub set_http_config_filter ($)  { $FilterHttpConfig = shift }

# ---------------------------------------------------------------------------
# Building requests
# ---------------------------------------------------------------------------

# "--- more_headers" text -> ("Key: val\r\n"..., is_chunked)
sub parse_more_headers ($) {
    my $in = shift // '';
    my ($out, $is_chunked) = ('', 0);
    for my $line (split /\n+/, $in) {
        next if $line =~ /^\s*#/ || $line !~ /\S/;
        my ($key, $val) = split /:\s*/, $line, 2;
        $val //= '';
        $is_chunked = 1 if lc $key eq 'transfer-encoding' && $val eq 'chunked';
        $out .= "$key: $val\r\n";
    }
    return ($out, $is_chunked);
}

# Turns "METHOD [url [version]]\n[body]" (possibly split into packets) into
# a full HTTP request: default url "/", default HTTP/1.1, Host and
# Connection headers unless given, and Content-Length for a body (which is
# then trimmed) unless chunked or given explicitly.  Packet boundaries are
# kept at the equivalent positions so split-packet tests still work.
sub build_request ($$$$$) {
    my ($name, $more_headers, $is_chunked, $conn, $packets) = @_;

    my @parts = map { ref $_ ? $_->{value} // '' : $_ // '' } @$packets;
    my $orig = join '', @parts;

    my $nl = index $orig, "\n";
    my $first = $nl >= 0 ? substr($orig, 0, $nl + 1) : $orig;
    my $body  = $nl >= 0 ? substr($orig, $nl + 1) : '';

    bail_out("$name - Request line should be non-empty") if $first !~ /\S/;
    $first =~ /^\s*(\S+)(?:[ \t]+(\S+))?(?:[ \t]+(\S+))?\s*$/
        or bail_out("$name - Request line is not valid. Should be "
                    . "'meth [url [version]]' but got \"$first\".");
    my ($meth, $url, $ver) = ($1, $2 // '/', $3 // 'HTTP/1.1');

    my ($len_header, $lead_trim) = ('', 0);
    if (!$is_chunked && $body ne ''
        && $more_headers !~ /(?:^|\n)Content-Length\s*:/i)
    {
        $lead_trim = $body =~ /^(\s+)/ ? length $1 : 0;
        $body =~ s/^\s+|\s+$//gs;
        $len_header = "Content-Length: " . length($body) . "\r\n";
    }

    my $headers = '';
    $headers .= "Host: $ServerName\r\n"
        if $more_headers !~ /(?:^|\n)Host\s*:/i;
    $headers .= "Connection: $conn\r\n"
        if $more_headers !~ /(?:^|\n)Connection/i;
    $headers .= "$more_headers$len_header\r\n";

    my $line = "$meth $url $ver";
    my $head = "$line\r\n$headers";
    my $full = $head . $body;

    return [{ value => $full }] if @$packets <= 1;

    # map each original split offset onto the rewritten request
    my (@cuts, $pos);
    $pos = 0;
    for my $i (0 .. $#parts - 1) {
        $pos += length $parts[$i];
        my $new;
        if ($pos < length $first) {
            $new = $pos < length $line ? $pos : length $line;
        } else {
            my $off = $pos - length($first) - $lead_trim;
            $off = 0 if $off < 0;
            $off = length $body if $off > length $body;
            $new = length($head) + $off;
        }
        push @cuts, $new;
    }

    my @out;
    my $prev = 0;
    for my $i (0 .. $#parts) {
        my $end = $i < $#parts ? $cuts[$i] : length $full;
        $end = $prev if $end < $prev;
        my %pkt = ref $packets->[$i] ? %{ $packets->[$i] } : ();
        $pkt{value} = substr $full, $prev, $end - $prev;
        push @out, \%pkt;
        $prev = $end;
    }
    return \@out;
}

sub headers_for ($$$) {
    my ($name, $more_headers, $i) = @_;
    if (ref $more_headers eq 'ARRAY') {
        my $hdr = $more_headers->[$i];
        bail_out("$name - --- more_headers lacks data for request $i")
            if !defined $hdr;
        return parse_more_headers($hdr);
    }
    return parse_more_headers($more_headers);
}

# Returns a list of requests; each request is a list of packets
# ({ value => bytes, delay_before => secs }).
sub get_req_from_block ($) {
    my $block = shift;
    my $name = $block->name;

    if (defined(my $raw = $block->raw_request)) {
        return [[ map { { value => $_ } } @$raw ]] if ref $raw eq 'ARRAY';
        return [[ { value => $raw } ]];
    }

    my $more_headers = $block->more_headers // '';

    if (defined(my $reqs = $block->pipelined_requests)) {
        bail_out("$name - invalid entries in --- pipelined_requests")
            if ref $reqs ne 'ARRAY';
        my $all = '';
        for my $i (0 .. $#$reqs) {
            my ($hdr, $chunked) = headers_for($name, $more_headers, $i);
            my $conn = $i == $#$reqs ? 'close' : 'keep-alive';
            $all .= build_request($name, $hdr, $chunked, $conn,
                                  [$reqs->[$i]])->[0]{value};
        }
        return [[ { value => $all } ]];
    }

    my $request;
    if (defined $block->request_eval) {
        $request = eval $block->request_eval;
        warn $@ if $@;
    } else {
        $request = $block->request;
        if (defined $request && !ref $request) {
            # leading comment lines and blank space are allowed
            1 while $request =~ s/^\s*#[^\n]*\n|^\s+//s;
        }
    }

    bail_out("$name - no --- request, --- raw_request or "
             . "--- pipelined_requests section") if !defined $request;

    my @reqs;
    my @list = ref $request eq 'ARRAY' ? @$request : ($request);
    bail_out("$name - invalid --- request: MUST be string or array of requests")
        if ref $request && ref $request ne 'ARRAY';

    for my $i (0 .. $#list) {
        my $one = $list[$i];
        my ($hdr, $chunked) = headers_for($name, $more_headers, $i);
        if (!ref $one) {
            push @reqs, build_request($name, $hdr, $chunked, 'close', [$one]);
        } elsif (ref $one eq 'ARRAY') {
            for my $pkt (@$one) {
                bail_out("$name - Invalid syntax. $pkt should be a string "
                         . "or hash with value.")
                    if ref $pkt && ref $pkt ne 'HASH';
            }
            push @reqs, build_request($name, $hdr, $chunked, 'close', $one);
        } else {
            bail_out("$name - Invalid syntax. $one should be a string or "
                     . "an array of packets.");
        }
    }
    return \@reqs;
}

# ---------------------------------------------------------------------------
# Talking to nginx
# ---------------------------------------------------------------------------

sub connect_server ($$) {
    my ($name, $timeout) = @_;
    my $addr = $ServerAddr;
    my $err;
    for my $try (1 .. 20) {
        my $sock = IO::Socket::INET->new(PeerAddr => $addr,
                                         PeerPort => $ServerPortForClient,
                                         Proto => 'tcp', Timeout => $timeout);
        return $sock if $sock;
        $err = $!;
        sleep(0.02 * $try);
    }
    Test::More->builder->no_ending(1);
    Test::More::fail("$name - Can't connect to $addr:$ServerPortForClient: "
                     . "$err (aborted)");
    bail_out("too many connection failures")
        if ++$Test::Nginx::Util::TotalConnectFailures >= 3;
    return undef;
}

# Writes all packets (honouring delays), then reads until EOF.  The timeout
# applies between two I/O events, as in the real module.  Returns the raw
# response bytes (possibly partial) and whether this was a HEAD request.
sub send_request ($$$$) {
    my ($req, $middle_delay, $timeout, $block) = @_;
    my $name = $block->name;

    my @pkts = @$req;
    my $head_req = (join('', map { $_->{value} } @pkts) =~ /^\s*HEAD\s+/) ? 1 : 0;

    my $sock = connect_server($name, $timeout) or return (undef, $head_req);
    $sock->blocking(0);
    local $SIG{PIPE} = 'IGNORE';

    my $resp = '';
    my $cur = shift @pkts;
    my ($buf, $off) = ($cur->{value}, 0);
    my $writing = 1;
    my $sel = IO::Select->new($sock);

    while (1) {
        my ($r, $w) = IO::Select->select($sel, $writing ? $sel : undef,
                                         undef, $timeout);
        if (!$r && !$w) {
            next if $! == EINTR;
            # timed out
            if (!defined $block->abort) {
                Test::More->builder->no_ending(1);
                Test::More::fail("ERROR: client socket timed out - $name");
            }
            last;
        }

        if ($w && @$w) {
            my $n = syswrite $sock, $buf, length($buf) - $off, $off;
            if (!defined $n) {
                if ($! != EAGAIN && $! != EWOULDBLOCK) {
                    warn "$name - write failed: $!\n" if $Test::Nginx::Util::Verbose;
                    $writing = 0;    # still read whatever nginx answered
                }
            } else {
                $off += $n;
                while ($writing && $off >= length $buf) {
                    $cur = shift @pkts;
                    if (!$cur) {
                        $writing = 0;
                        my $how = $block->shutdown;
                        if (defined $how) {
                            shutdown($sock, $how =~ /^\s*$/ ? 1 : $how);
                        }
                        last;
                    }
                    my $delay = $cur->{delay_before} // $middle_delay;
                    sleep $delay if $delay;
                    ($buf, $off) = ($cur->{value}, 0);
                }
            }
        }

        if ($r && @$r) {
            my $n = sysread $sock, my $chunk, 65536;
            if (!defined $n) {
                next if $! == EAGAIN || $! == EWOULDBLOCK || $! == EINTR;
                warn "WARNING: $name - HTTP response read failure: $!\n"
                    if $resp eq '';
                last;
            }
            last if $n == 0;
            $resp .= $chunk;
        }
    }

    close $sock;
    return ($resp, $head_req);
}

# Splits one response off the front of $raw (binary safe): returns the
# HTTP::Response (body de-chunked), the raw header text and the bytes left
# over (next pipelined response).
sub parse_response ($$$) {
    my ($name, $raw, $head_req) = @_;

    my ($raw_headers, $rest) = ('', $raw);
    if ($raw =~ /\A(.*?\r\n)\r\n/s) {
        $raw_headers = $1;
    }

    my $res = HTTP::Response->new;
    my ($hdr_text, $content);
    if ($raw =~ /\A(.*?)\r?\n\r?\n/s) {
        ($hdr_text, $content) = ($1, substr($raw, $+[0]));
    } else {
        ($hdr_text, $content) = ($raw, '');
    }

    my @lines = split /\r?\n/, $hdr_text;
    if (@lines && $lines[0] =~ m{^HTTP/\d+(?:\.\d+)?\s+(\d+)\s*(.*)$}) {
        shift @lines;
        $res->code($1);
        $res->message($2);
        my $last;
        for my $l (@lines) {
            if ($l =~ /^[ \t]+(.*)/ && defined $last) {
                my @v = $res->header($last);
                $v[-1] .= " $1";
                $res->header($last => \@v);
            } elsif ($l =~ /^([^:\s]+)\s*:\s*(.*)$/) {
                $res->push_header($1 => $2);
                $last = $1;
            }
        }
    } else {
        # no status line (HTTP/0.9 style): everything is body, no code
        $content = $raw;
    }

    my $code = $res->code;
    if ($code && ($code == 304 || $code == 101)) {
        $res->content($content);
        return ($res, $raw_headers, undef);
    }

    my $left;
    my $te  = $res->header('Transfer-Encoding');
    my $len = $res->header('Content-Length');

    if (defined $te && lc $te eq 'chunked') {
        my $decoded = '';
        my $pos = 0;
        while (1) {
            pos($content) = $pos;
            if ($content =~ /\G[ \t]*([0-9A-Fa-f]+)[^\r\n]*\r\n/gc) {
                my $size = hex $1;
                $pos = pos $content;
                if ($size == 0) {
                    # optional trailers, then the final CRLF
                    if ($content =~ /\G(?:[^\r\n]+\r\n)*\r\n/gc) {
                        $pos = pos $content;
                    } else {
                        Test::More->builder->no_ending(1);
                        Test::More::fail("$name - no last chunk found");
                        return;
                    }
                    $left = substr $content, $pos if $pos < length $content;
                    last;
                }
                if (length($content) - $pos < $size + 2
                    || substr($content, $pos + $size, 2) ne "\r\n")
                {
                    Test::More->builder->no_ending(1);
                    Test::More::fail("$name - invalid chunked data received");
                    return;
                }
                $decoded .= substr $content, $pos, $size;
                $pos += $size + 2;
            } else {
                Test::More->builder->no_ending(1);
                my $rest = substr $content, $pos;
                Test::More::fail($rest eq ''
                    ? "$name - no last chunk found - $content"
                    : "$name - invalid chunked body received: $rest");
                return;
            }
        }
        $res->content($decoded);

    } elsif (defined $len && $len =~ /^\s*(\d+)\s*$/) {
        $len = $1;
        if (length $content > $len) {
            $left = substr $content, $len;
            $content = substr $content, 0, $len;
        } elsif (length $content < $len && !$head_req) {
            warn "WARNING: $name - response body truncated: $len expected, "
                 . "but got " . length($content) . "\n";
        }
        $res->content($content);

    } else {
        $res->content($content);
    }

    return ($res, $raw_headers, $left);
}

# ---------------------------------------------------------------------------
# Checks (names and counts follow the real module)
# ---------------------------------------------------------------------------

sub get_indexed_value ($$$$) {
    my ($name, $value, $req_idx, $need_array) = @_;
    if ($need_array) {
        return $value->[$req_idx] if ref $value eq 'ARRAY';
        bail_out("$name - You asked for many requests, the expected results "
                 . "should be arrays as well.");
    }
    return ref $value eq 'ARRAY' ? $value->[0] : $value;
}

sub check_error_code ($$$$$) {
    my ($block, $res, $dry_run, $req_idx, $need_array) = @_;
    my $name = $block->name;
    my $code = ($res && $res->code) || '';
    SKIP: {
        Test::More::skip("$name - tests skipped due to $dry_run", 1) if $dry_run;
        if (defined $block->error_code_like) {
            my $pat = get_indexed_value($name, $block->error_code_like,
                                        $req_idx, $need_array);
            Test::More::like($code, qr/$pat/sm, "$name - status code ok");
        } elsif (defined $block->error_code) {
            Test::More::is($code, get_indexed_value($name, $block->error_code,
                                                    $req_idx, $need_array),
                           "$name - status code ok");
        } else {
            Test::More::is($code, 200, "$name - status code ok");
        }
    }
}

sub check_raw_response_headers ($$$$$) {
    my ($block, $raw_headers, $dry_run, $req_idx, $need_array) = @_;
    my $name = $block->name;
    for my $kind (qw(like unlike)) {
        my $section = "raw_response_headers_$kind";
        my $spec = $block->$section;
        next if !defined $spec;
        SKIP: {
            Test::More::skip("$name - $section - tests skipped due to $dry_run", 1)
                if $dry_run;
            my $pat = get_indexed_value($name, $spec, $req_idx, $need_array);
            no strict 'refs';
            &{"Test::More::$kind"}($raw_headers, qr/$pat/s,
                                   "$name - raw resp headers $kind");
        }
    }
}

sub check_response_headers ($$$$$$) {
    my ($block, $res, $raw_headers, $dry_run, $req_idx, $need_array) = @_;
    my $name = $block->name;

    if (defined $block->response_headers) {
        my $headers = parse_headers(get_indexed_value(
            $name, $block->response_headers, $req_idx, $need_array));
        for my $h (@$headers) {
            my ($key, $val) = @$h;
            SKIP: {
                Test::More::skip("$name - response_headers - tests skipped "
                                 . "due to $dry_run", 1) if $dry_run;
                if (!defined $val) {
                    # "! Name": the header must not be there at all
                    Test::More::unlike($raw_headers, qr/^\s*\Q$key\E\s*:/ms,
                        "$name - header $key not present in the raw headers");
                } else {
                    $val =~ s/\$ServerPort\b/$ServerPort/g;
                    $val =~ s/\$ServerPortForClient\b/$ServerPortForClient/g;
                    my $actual = $res ? $res->header($key) : undef;
                    Test::More::is($actual // '', $val, "$name - header $key ok");
                }
            }
        }
    } elsif (defined $block->response_headers_like) {
        my $headers = parse_headers(get_indexed_value(
            $name, $block->response_headers_like, $req_idx, $need_array));
        for my $h (@$headers) {
            my ($key, $val) = @$h;
            my $actual = $res ? $res->header($key) : undef;
            SKIP: {
                Test::More::skip("$name - response_headers_like - tests "
                                 . "skipped due to $dry_run", 1) if $dry_run;
                Test::More::like($actual // '', qr/^$val$/,
                                 "$name - header $key like ok");
            }
        }
    }
}

sub run_filter_helper ($$$) {
    my ($block, $filter, $content) = @_;
    my $name = $block->name;
    return $filter->($content) if ref $filter eq 'CODE';
    bail_out("$name - --- response_body_filters only takes subroutine "
             . "references and names") if ref $filter;
    my %builtin = (
        md5_hex  => \&Digest::MD5::md5_hex,
        sha1_hex => \&Digest::SHA::sha1_hex,
        uc => sub { uc $_[0] }, lc => sub { lc $_[0] },
        ucfirst => sub { ucfirst $_[0] }, lcfirst => sub { lcfirst $_[0] },
        length => sub { length $_[0] },
    );
    my $f = $builtin{$filter}
        or bail_out("$name - unknown filter, \"$filter\", specified in the "
                    . "--- response_body_filters section");
    return $f->($content);
}

sub transform_response_body ($$$) {
    my ($block, $res, $req_idx) = @_;
    return if !defined $res || !defined $res->content;
    my $filters = $block->response_body_filters;
    return if !defined $filters;

    my $name = $block->name;
    if (!ref $filters) {
        $filters =~ s/^\s+|\s+$//gs;
        $filters = [split /\s+/, $filters];
    } elsif (ref $filters ne 'ARRAY') {
        $filters = [$filters];
    }
    if (ref $filters->[0] eq 'ARRAY') {
        # one filter list per request
        $filters = $filters->[$req_idx];
        bail_out("$name - the --- response_body_filters two-dimensional "
                 . "array does not match request $req_idx") if !defined $filters;
    }
    my $content = $res->content;
    $content = run_filter_helper($block, $_, $content) for @$filters;
    $res->content($content);
}

sub check_response_body ($$$$$$) {
    my ($block, $res, $dry_run, $req_idx, $repeated_req_idx, $need_array) = @_;
    my $name = $block->name;
    my $content = $res ? $res->content : undef;

    if (defined $block->response_body || defined $block->response_body_eval) {
        my $expected;
        if (defined $block->response_body_eval) {
            $expected = eval get_indexed_value($name, $block->response_body_eval,
                                               $req_idx, $need_array);
            warn $@ if $@;
        } else {
            $expected = get_indexed_value($name, $block->response_body,
                                          $req_idx, $need_array);
        }
        if ($block->charset && defined $expected) {
            Encode::from_to($expected, 'UTF-8', $block->charset);
        }
        if (defined $expected && !ref $expected) {
            $expected =~ s/\$ServerPort\b/$ServerPort/g;
            $expected =~ s/\$ServerPortForClient\b/$ServerPortForClient/g;
        }
        my $suffix = "(repeated req $repeated_req_idx, req $req_idx)";
        SKIP: {
            Test::More::skip("$name - response_body - tests skipped due to "
                             . "$dry_run", 1) if $dry_run;
            if (ref $expected) {
                Test::More::like($content, $expected,
                                 "$name - response_body - like $suffix");
            } else {
                is_str($content, $expected,
                       "$name - response_body - response is expected $suffix");
            }
        }

    } elsif (defined $block->response_body_like
             || defined $block->response_body_unlike)
    {
        my $type = defined $block->response_body_like ? 'like' : 'unlike';
        my $section = "response_body_$type";
        my $pat = get_indexed_value($name, $block->$section, $req_idx,
                                    $need_array);
        $pat =~ s/\$ServerPort\b/$ServerPort/g;
        $pat =~ s/\$ServerPortForClient\b/$ServerPortForClient/g;
        my $summary = trim($content) // '';
        $summary =~ s/([^\x20-\x7e])/sprintf '\\x%02x', ord $1/ge;
        $summary = substr($summary, 0, 80) . '...' if length $summary > 80;
        SKIP: {
            Test::More::skip("$name - $section - tests skipped due to "
                             . "$dry_run", 1) if $dry_run;
            no strict 'refs';
            &{"Test::More::$type"}($content, qr/$pat/s,
                "$name - $section - response is expected ($summary)");
        }
    }

    for my $check (@ResponseBodyChecks) {
        $check->($block, $content, $req_idx, $repeated_req_idx, $dry_run);
    }
}

sub pattern_list ($) {
    my $pats = shift;
    if (!ref $pats) {
        chomp $pats;
        return [split /\n+/, $pats];
    }
    return [$pats] if ref $pats eq 'Regexp';
    return [@$pats];
}

sub line_matches ($$) {
    my ($line, $pat) = @_;
    return ref $pat ? $line =~ /$pat/ : index($line, $pat) >= 0;
}

sub value_contains ($$) {
    my ($val, $needle) = @_;
    return 0 if !defined $val;
    return scalar grep { (!ref $_ || ref $_ eq 'Regexp') && index("$_", $needle) >= 0 }
                       ref $val eq 'ARRAY' ? @$val : ($val);
}

# --- error_log / --- access_log: one pass per pattern found, one fail per
# pattern missing.  --- no_error_log / --- no_access_log: one fail per
# matching line, one pass per pattern never seen.
sub check_log_patterns ($$$$$$) {
    my ($block, $which, $lines, $dry_run, $repeated_req_idx, $file) = @_;
    my $name = $block->name;

    if (defined(my $spec = $block->$which)) {
        my $pats = pattern_list($spec);
        for my $line (@$lines) {
            for my $pat (@$pats) {
                next if !defined $pat || !line_matches($line, $pat);
                SKIP: {
                    Test::More::skip("$name - $which - tests skipped due to "
                                     . "$dry_run", 1) if $dry_run;
                    Test::More::pass("$name - pattern \"$pat\" matches a line "
                                     . "in $file (req $repeated_req_idx)");
                }
                undef $pat;
            }
        }
        for my $pat (grep { defined } @$pats) {
            SKIP: {
                Test::More::skip("$name - $which - tests skipped due to "
                                 . "$dry_run", 1) if $dry_run;
                Test::More::fail("$name - pattern \"$pat\" should match a line "
                                 . "in $file (req $repeated_req_idx)");
            }
        }
    }

    my $neg = "no_$which";
    if (defined(my $spec = $block->$neg)) {
        my $pats = pattern_list($spec);
        my %found;
        for my $i (0 .. $#$lines) {
            my $line = $lines->[$i];
            for my $pat (@$pats) {
                next if !defined $pat || !line_matches($line, $pat);
                Test::More->builder->no_ending(1) if $found{$pat}++;
                SKIP: {
                    Test::More::skip("$name - $neg - tests skipped due to "
                                     . "$dry_run", 1) if $dry_run;
                    my $end = $i + 9 < $#$lines ? $i + 9 : $#$lines;
                    Test::More::fail("$name - pattern \"" . fmt_str($pat)
                        . "\" should not match any line in $file but matches "
                        . "line \"" . fmt_str($line) . "\" (req $repeated_req_idx)\n"
                        . join '', @$lines[$i + 1 .. $end]);
                }
            }
        }
        for my $pat (grep { defined && !$found{$_} } @$pats) {
            SKIP: {
                Test::More::skip("$name - $neg - tests skipped due to "
                                 . "$dry_run", 1) if $dry_run;
                Test::More::pass("$name - pattern \"" . fmt_str($pat)
                    . "\" does not match a line in $file (req $repeated_req_idx)");
            }
        }
    }
}

sub check_error_log ($$$$$) {
    my ($block, $res, $dry_run, $repeated_req_idx, $need_array) = @_;
    my $name = $block->name;
    my $lines;

    my $grep_pat = $block->grep_error_log;
    if (defined $grep_pat) {
        $grep_pat = $grep_pat->[$repeated_req_idx] if ref $grep_pat eq 'ARRAY';
    } elsif (defined $block->grep_error_log_out) {
        bail_out("$name - No --- grep_error_log defined but "
                 . "--- grep_error_log_out is defined");
    }

    if (defined $grep_pat) {
        my $expected = $block->grep_error_log_out;
        bail_out("$name - No --- grep_error_log_out defined but "
                 . "--- grep_error_log is defined") if !defined $expected;
        $expected = $expected->[$repeated_req_idx] if ref $expected eq 'ARRAY';

        SKIP: {
            Test::More::skip("$name - error_log - tests skipped due to "
                             . "$dry_run", 1) if $dry_run;
            $lines //= error_log_data() // [];
            my $matched = '';
            for my $line (@$lines) {
                my $m;
                if (ref $grep_pat) {
                    $m = $& if $line =~ /$grep_pat/;
                } elsif (index($line, $grep_pat) >= 0) {
                    $m = $grep_pat;
                }
                $matched .= "$m\n" if defined $m && $m !~ /\n/;
            }
            is_str($matched, $expected,
                   "$name - grep_error_log_out (req $repeated_req_idx)");
        }
    }

    if (defined $block->error_log || defined $block->no_error_log) {
        $lines //= error_log_data() // [];
        check_log_patterns($block, 'error_log', $lines, $dry_run,
                           $repeated_req_idx, 'error.log');
    }

    return if $dry_run;

    # Loud but non-failing hints, like the real module.
    my @mentioned = ($block->error_log, $block->no_error_log);
    for my $level (qw(alert crit emerg)) {
        next if grep { value_contains($_, "[$level") } @mentioned;
        $lines //= error_log_data() // [];
        for my $line (@$lines) {
            warn "WARNING: $name - " . fmt_str($line) . "\n"
                if $line =~ /\[$level\]/;
        }
    }

    for my $line (@{ $lines // [] }) {
        if ($line =~ /\bAssertion .*?failed\b/) {
            Test::More->builder->no_ending(1);
            chomp(my $l = $line);
            Test::More::fail("$name - $l");
        }
    }
}

sub check_access_log ($$$) {
    my ($block, $dry_run, $repeated_req_idx) = @_;
    return if !defined $block->access_log && !defined $block->no_access_log;
    check_log_patterns($block, 'access_log', access_log_data(), $dry_run,
                       $repeated_req_idx, 'access.log');
}

sub check_shutdown_error_log ($$) {
    my ($block, $dry_run) = @_;
    my $name = $block->name;
    my $lines = error_log_data() // [];

    if (defined $block->no_shutdown_error_log) {
        my $pats = pattern_list($block->no_shutdown_error_log);
        my %found;
        for my $line (@$lines) {
            for my $pat (grep { defined } @$pats) {
                next if !line_matches($line, $pat);
                Test::More->builder->no_ending(1) if $found{$pat}++;
                SKIP: {
                    Test::More::skip("$name - no_shutdown_error_log - tests "
                                     . "skipped due to $dry_run", 1) if $dry_run;
                    Test::More::fail("$name - pattern \"" . fmt_str($pat)
                        . "\" should not match any line in error.log but "
                        . "matches line \"" . fmt_str($line) . "\"");
                }
            }
        }
        for my $pat (grep { defined && !$found{$_} } @$pats) {
            SKIP: {
                Test::More::skip("$name - no_shutdown_error_log - tests "
                                 . "skipped due to $dry_run", 1) if $dry_run;
                Test::More::pass("$name - pattern \"" . fmt_str($pat)
                                 . "\" does not match a line in error.log");
            }
        }
    }

    my $pats = pattern_list($block->shutdown_error_log);
    for my $line (@$lines) {
        for my $pat (@$pats) {
            next if !defined $pat || !line_matches($line, $pat);
            SKIP: {
                Test::More::skip("$name - shutdown_error_log - tests skipped "
                                 . "due to $dry_run", 1) if $dry_run;
                Test::More::pass("$name - pattern \"$pat\" matches a line in "
                                 . "error.log");
            }
            undef $pat;
        }
    }
    for my $pat (grep { defined } @$pats) {
        SKIP: {
            Test::More::skip("$name - shutdown_error_log - tests skipped due "
                             . "to $dry_run", 1) if $dry_run;
            Test::More::fail("$name - pattern \"$pat\" should match a line in "
                             . "error.log");
        }
    }
}

# ---------------------------------------------------------------------------
# One repetition of one block: send every request, check every response,
# then the logs (after each request of a multi-request block, too).
# ---------------------------------------------------------------------------

sub run_test_helper ($$$) {
    my ($block, $dry_run, $repeated_req_idx) = @_;
    my $name = $block->name;

    my $reqs = get_req_from_block($block);
    bail_out("$name - request empty") if !@$reqs;

    my $timeout = parse_time($block->timeout) // timeout();
    my $pipelined = $block->pipelined_requests;

    my ($res, $need_array);
    my $req_idx = 0;

    for my $r (0 .. $#$reqs) {
        my ($raw, $head_req) = $dry_run
            ? ("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", 0)
            : send_request($reqs->[$r], $block->raw_request_middle_delay,
                           $timeout, $block);
        $raw //= '';

        # pipelined: several responses arrive on the one connection
        my $n = $pipelined ? scalar @$pipelined : 0;
        $need_array = $pipelined ? 1 : @$reqs > 1;

        while (1) {
            my ($raw_headers, $left) = ('', undef);
            if (!defined $block->ignore_response) {
                if (defined $block->http09) {
                    $res = HTTP::Response->new(200, 'OK', [], $raw);
                } else {
                    ($res, $raw_headers, $left) =
                        parse_response($name, $raw, $head_req);
                    $raw_headers //= '';
                }
            }

            if (!$n) {
                if (defined $left && length $left) {
                    (my $l = $left) =~ s/([\0-\037\200-\377])/sprintf('\x{%02x}', ord $1)/eg;
                    warn "WARNING: $name - unexpected extra bytes after last "
                         . "chunk in response: \"$l\"\n";
                }
            } else {
                $raw = $left // '';
                $n--;
            }

            if (!defined $block->ignore_response) {
                check_error_code($block, $res, $dry_run, $req_idx, $need_array);
                check_raw_response_headers($block, $raw_headers, $dry_run,
                                           $req_idx, $need_array);
                check_response_headers($block, $res, $raw_headers, $dry_run,
                                       $req_idx, $need_array);
                transform_response_body($block, $res, $req_idx);
                check_response_body($block, $res, $dry_run, $req_idx,
                                    $repeated_req_idx, $need_array);
            }

            if ($n || $r < $#$reqs) {
                sleep $block->wait if $block->wait;
                check_error_log($block, $res, $dry_run, $repeated_req_idx,
                                $need_array);
                check_access_log($block, $dry_run, $repeated_req_idx)
                    if !defined $block->ignore_response;
            }

            $req_idx++;
            last if !$n;
        }
    }

    sleep $block->wait if $block->wait;

    check_error_log($block, $res, $dry_run, $repeated_req_idx, $need_array);
    check_access_log($block, $dry_run, $repeated_req_idx)
        if !defined $block->ignore_response;
}

1;
__END__

=head1 NAME

Test::Nginx::Socket - minimal local stand-in for openresty's Test::Nginx::Socket

=head1 SYNOPSIS

    prove -I t/lib t/

See F<t/000-runner.t> for the supported sections; the semantics follow the
documentation of the real module (L<https://metacpan.org/pod/Test::Nginx::Socket>).

=cut
