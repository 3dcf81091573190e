package TrackerTest;

# Helpers for the tracker's Test::Nginx suites: build announce and scrape
# URLs with binary parameters, and turn bencoded replies into canonical,
# readable text (peers sorted), so a test can compare whole replies even
# though peer order is random.  Used from `eval` sections as ::name(...).

use strict;
use warnings;
use Digest::SHA qw(sha1);
use Socket qw(inet_ntop AF_INET AF_INET6);

use Exporter 'import';
our @EXPORT = qw(ih ih_hex peer_id pct announce scrape bdecode bdump);

# percent-encode every byte but RFC 3986 unreserved ones, as clients do
sub pct {
    my $s = shift;
    $s =~ s/([^A-Za-z0-9\-._~])/sprintf('%%%02X', ord $1)/ge;
    return $s;
}

sub ih_raw  { return sha1("torrent-" . shift) }
sub ih      { return pct(ih_raw(shift)) }
sub ih_hex  { return unpack('H*', ih_raw(shift)) }
sub peer_id { my $n = shift; return pct(sprintf('-TT0001-%012d', $n)) }

# announce(torrent => 1, peer => 2, port => 6881, left => 0, event => ...,
#          path => '/announce', extra => 'compact=0')
sub announce {
    my %a = (torrent => 1, peer => 1, left => 100, path => '/announce', @_);
    my $port = $a{port} // 6880 + $a{peer};
    my $q = 'info_hash=' . ih($a{torrent}) . '&peer_id=' . peer_id($a{peer})
          . "&port=$port&uploaded=0&downloaded=0&left=$a{left}";
    $q .= "&event=$a{event}" if defined $a{event};
    $q .= "&$a{extra}" if defined $a{extra};
    return "GET $a{path}?$q";
}

sub scrape {
    my ($path, @torrents) = @_;
    return "GET $path?" . join('&', map { 'info_hash=' . ih($_) } @torrents);
}

# strict bencode: no leading zeros, sorted unique dict keys, nothing after
sub bdecode {
    my $s = shift;
    my $pos = 0;
    my $v = _bdec(\$s, \$pos);
    die "trailing bytes after bencoded value\n" if $pos != length $s;
    return $v;
}

sub _bdec {
    my ($s, $pos) = @_;
    my $c = substr($$s, $$pos, 1);

    if ($c eq 'i') {
        substr($$s, $$pos) =~ /^i(0|-?[1-9][0-9]*)e/ or die "bad integer\n";
        $$pos += length($1) + 2;
        return $1 + 0;
    }
    if ($c =~ /[0-9]/) {
        substr($$s, $$pos) =~ /^(0|[1-9][0-9]*):/ or die "bad string length\n";
        my $len = $1;
        $$pos += length($len) + 1;
        die "string past the end\n" if $$pos + $len > length $$s;
        my $str = substr($$s, $$pos, $len);
        $$pos += $len;
        return $str;
    }
    if ($c eq 'l') {
        $$pos++;
        my @l;
        push @l, _bdec($s, $pos) while substr($$s, $$pos, 1) ne 'e';
        $$pos++;
        return \@l;
    }
    if ($c eq 'd') {
        $$pos++;
        my (%d, $prev);
        while (substr($$s, $$pos, 1) ne 'e') {
            die "unterminated dictionary\n" if $$pos >= length $$s;
            my $k = _bdec($s, $pos);
            die "dictionary key is not a string\n" if ref $k;
            die "dictionary keys not sorted\n" if defined $prev && $prev ge $k;
            $prev = $k;
            $d{$k} = _bdec($s, $pos);
        }
        $$pos++;
        return \%d;
    }
    die "unexpected byte '$c' at $$pos\n";
}

sub _compact {
    my ($bin, $family, $alen) = @_;
    my @p;
    for (my $i = 0; $i + $alen + 2 <= length $bin; $i += $alen + 2) {
        my $ip = inet_ntop($family, substr($bin, $i, $alen));
        my $port = unpack('n', substr($bin, $i + $alen, 2));
        push @p, $family == AF_INET6 ? "[$ip]:$port" : "$ip:$port";
    }
    die "compact peers not a multiple of " . ($alen + 2) . "\n"
        if length($bin) % ($alen + 2);
    return join(' ', sort @p);
}

# bdump: one "key: value" line per key, sorted; peers rendered as text
sub bdump {
    my $body = shift;
    my $d = eval { bdecode($body) };
    return "NOT BENCODE: $@" if $@;
    return _dump($d, '');
}

sub _dump {
    my ($d, $indent) = @_;
    my $out = '';
    for my $k (sort keys %$d) {
        my $v = $d->{$k};
        if ($k eq 'peers' && !ref $v) {
            $v = _compact($v, AF_INET, 4);
        } elsif ($k eq 'peers6') {
            $v = _compact($v, AF_INET6, 16);
        } elsif ($k eq 'external ip') {
            $v = inet_ntop(length $v == 4 ? AF_INET : AF_INET6, $v);
        } elsif ($k eq 'peers') {
            $v = join(' ', sort map {
                     ($_->{ip} =~ /:/ ? "[$_->{ip}]" : $_->{ip}) . ":$_->{port}"
                     . (exists $_->{'peer id'} ? "=$_->{'peer id'}" : '')
                 } @$v);
        } elsif ($k eq 'files') {
            $out .= "${indent}files:\n";
            for my $h (sort keys %$v) {
                my $f = $v->{$h};
                $out .= "$indent  " . unpack('H*', $h) . ': '
                      . join(' ', map { "$_=$f->{$_}" } sort keys %$f) . "\n";
            }
            next;
        }
        $v = '-' if $v eq '';
        $out .= "$indent$k: $v\n";
    }
    return $out;
}

1;
