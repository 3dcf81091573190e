# t/FeedTest.pm - helpers for the Torznab and RSS suites (t/060, t/061):
# raw HTTP requests that keep the headers, and XML read by real parsers:
# xmllint (libxml2) for well-formedness, Python's xml.etree for the tree.
#
#   my ($status, $headers, $body) = FeedTest::request($port, 'GET', $path);
#   ok(FeedTest::wellformed($body));
#   my $root = FeedTest::tree($body);      # {tag, attr, text, kids}
#   my @items = FeedTest::all($channel, 'item');
#   FeedTest::one($item, 'title')->{text};
#
# Namespaced names come as "{uri}local", as ElementTree writes them.
package FeedTest;

use strict;
use warnings;
use IO::Socket::INET;
use IPC::Run ();
use JSON::PP ();

sub request {
    my ($port, $method, $path) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port",
                                  Timeout => 10) or return (0, {}, '');
    print $s "$method $path HTTP/1.0\r\nHost: localhost\r\n\r\n";
    local $/;
    my $res = <$s> // '';
    my ($head, $body) = split /\r\n\r\n/, $res, 2;
    my ($status) = ($head // '') =~ m{^HTTP/1\.\d (\d+)};
    my %h;
    for (split /\r\n/, $head // '') {
        $h{lc $1} = $2 if /^([^:]+):\s*(.*)$/;
    }
    return ($status // 0, \%h, $body // '');
}

# xmllint's verdict: '' when well-formed, its complaint otherwise
sub wellformed {
    my ($xml) = @_;
    my ($out, $err) = ('', '');
    IPC::Run::run([qw(xmllint --noout -)], \$xml, \$out, \$err);
    return $? == 0 ? '' : ($err || 'xmllint failed');
}

# One Python process parses every document of the suite (starting one per
# document costs seconds on a loaded machine): "<length>\n<bytes>" in, one
# JSON line out.  Expat rejects what is not well-formed XML (stray control
# characters included), so a tree is also a verdict.
my $py = <<'PY';
import json, sys
import xml.etree.ElementTree as ET
def node(e):
    return {"tag": e.tag, "attr": dict(e.attrib), "text": e.text or "",
            "kids": [node(k) for k in e]}
inp = sys.stdin.buffer
while True:
    line = inp.readline()
    if not line:
        break
    doc = inp.read(int(line))
    try:
        out = {"tree": node(ET.fromstring(doc))}
    except ET.ParseError as e:
        out = {"error": str(e)}
    sys.stdout.write(json.dumps(out) + "\n")
    sys.stdout.flush()
PY

my ($h, $in, $out);

# the tree of a document; undef (and a diagnostic) when it is not XML
sub tree {
    my ($xml) = @_;
    $h //= IPC::Run::start(['python3', '-c', $py], \$in, \$out);
    $out = '';
    $in = length($xml) . "\n" . $xml;
    $h->pump until $out =~ /\n\z/;
    my $r = JSON::PP->new->utf8->decode($out);
    Test::More::diag("not XML: $r->{error}") if $r->{error};
    return $r->{tree};
}

END { if ($h) { $in = undef; $h->finish } }

sub all {
    my ($node, $tag) = @_;
    return grep { $_->{tag} eq $tag } @{ $node->{kids} };
}

sub one {
    my ($node, $tag) = @_;
    my @n = all($node, $tag);
    return @n == 1 ? $n[0] : undef;
}

1;
