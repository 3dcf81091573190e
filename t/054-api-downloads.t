# JSON API downloads against a real nginx and PostgreSQL:
#   GET   /api/v1/torrents/<id>/download
#   GET   /api/v1/torrents/bulk/download?ids=...
#   PATCH /api/v1/torrents/bulk/download  {"ids":[...],"public":bool}
# The served .torrent has our announce URL (the caller's passkey URL, or
# the public one) as announce and first tier, the other trackers after it,
# and the stored info dictionary byte for byte (same SHA-1 info hash).
# ZIPs are checked with Python's zipfile.  Access rules, validation errors
# (query and JSON body), corrupt stored files and a database that is down.
#
# Plain TAP: nginx via t/TrackerNginx.pm, PostgreSQL via t/PgTest.pm.

use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use Test::More;
use Digest::SHA qw(sha1 sha1_hex sha256_hex);
use HTTP::Tiny;
use IPC::Run ();
use JSON::PP;
use PgTest;
use TrackerNginx;

my $db = PgTest::fresh_db();
my $ngx = TrackerNginx->new(name => 'api-dl', port_offset => 0);
my $down = TrackerNginx->new(name => 'api-dl-down', port_offset => 1);

END { local $?; $ngx->quit('TERM') if $ngx; $down->quit('TERM') if $down }

# fixtures go in as one script: one psql run, not one per row
my @sql;
sub q1 { push @sql, shift() . ';' }

# bencode -----------------------------------------------------------------

sub benc {
    my $v = shift;
    if (ref $v eq 'HASH') {
        return 'd' . join('', map { benc_str($_) . benc($v->{$_}) }
                              sort keys %$v) . 'e';
    }
    return 'l' . join('', map { benc($_) } @$v) . 'e' if ref $v eq 'ARRAY';
    return "i${$v}e" if ref $v eq 'SCALAR';
    return benc_str($v);
}

sub benc_str { my $s = shift; return length($s) . ":$s" }

# decodes one value at $$pos; top-level dictionaries also return the raw
# bytes of each value (the info hash is over the raw info bytes)
sub bdec {
    my ($s, $pos, $raw) = @_;
    my $c = substr($s, $$pos, 1);
    if ($c eq 'i') {
        substr($s, $$pos) =~ /^i(-?\d+)e/ or die "bad int at $$pos";
        $$pos += length($1) + 2;
        return $1 + 0;
    }
    if ($c =~ /\d/) {
        substr($s, $$pos) =~ /^(\d+):/ or die "bad string at $$pos";
        my $start = $$pos + length($1) + 1;
        $$pos = $start + $1;
        die "truncated string" if $$pos > length $s;
        return substr($s, $start, $1);
    }
    if ($c eq 'l') {
        $$pos++;
        my @l;
        push @l, bdec($s, $pos) while substr($s, $$pos, 1) ne 'e';
        $$pos++;
        return \@l;
    }
    if ($c eq 'd') {
        $$pos++;
        my (%d, @keys);
        while (substr($s, $$pos, 1) ne 'e') {
            my $k = bdec($s, $pos);
            my $vs = $$pos;
            $d{$k} = bdec($s, $pos);
            $raw->{$k} = substr($s, $vs, $$pos - $vs) if $raw;
            push @keys, $k;
        }
        $$pos++;
        $d{'.keys'} = \@keys;
        return \%d;
    }
    die "bad value '$c' at $$pos";
}

# the decoded file, its raw values and whether it parsed to the last byte
sub torrent {
    my $s = shift;
    my ($pos, %raw) = (0);
    my $d = eval { bdec($s, \$pos, \%raw) } or return;
    return unless $pos == length $s;
    return ($d, \%raw);
}

# fixtures ----------------------------------------------------------------

my $public = 'http://tracker.test/announce';
q1("INSERT INTO site_settings (key, value)
    VALUES ('public_tracker_url', '$public')
    ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value");

my %key = (alice => 'alice-api-key', bob => 'bob-api-key',
           mod => 'mod-api-key');
my %perm = (alice => 0, bob => 0, mod => 2);
my %tkey;

for my $u (sort keys %key) {
    my $tk = substr(sha1_hex("tk-$u"), 0, 32);
    $tkey{$u} = $tk;
    q1("INSERT INTO users (username, torrent_key, permissions)
        VALUES ('$u', '$tk', $perm{$u})");
    q1("INSERT INTO api_keys (user_id, key_hash)
        SELECT id, '" . sha256_hex($key{$u}) . "' FROM users
        WHERE username = '$u'");
}

my $n = 0;

sub info {
    my $name = shift;
    return { name => $name, length => \1234567, 'piece length' => \262144,
             pieces => sha1("p1-$name") . sha1("p2-$name"), private => \1,
             # keys a rewriter must not reorder or re-encode
             'x-extra' => { zeta => [\0, \-5, ''], alpha => "\x00\xff" } };
}

my (%tid, %ih);

# name => [title, status, deleted, hidden, uploader, the file's bytes]
sub add {
    my ($tag, %o) = @_;
    my $info = info($tag);
    my $file = $o{data} // benc({ info => $info, %{ $o{top} // {} } });
    my $ih = sha1(benc($info));
    $ih{$tag} = $ih;
    my $hex = unpack('H*', $file);
    my $title = $o{title} // "Torrent $tag";
    utf8::encode($title);
    $title =~ s/'/''/g;
    q1("INSERT INTO torrents (info_hash, torrent_data, title,
        status, deleted, hidden, uploader_id)
        SELECT '\\x" . unpack('H*', $ih) . "', "
        . (defined $o{data} && $o{data} eq '' ? 'NULL'
           : "decode('$hex', 'hex')")
        . ", '$title', " . ($o{status} // 1) . ", "
        . ($o{deleted} ? 'now()' : 'NULL') . ", "
        . ($o{hidden} ? 'true' : 'false') . ", id
        FROM users WHERE username = '" . ($o{uploader} // 'alice') . "'");
}

add('multi', top => {
    announce => $public,
    'announce-list' => [[$public], ['http://other.test/announce'],
                        ['udp://third.test:6969/announce',
                         "$public/0123456789abcdef0123456789abcdef"],
                        ["$public/ffffffffffffffffffffffffffffffff"]],
    comment => 'kept as is', 'created by' => 'test', 'url-list' => ['x'],
    'creation date' => \1700000000 });
add('foreign', top => { announce => 'http://foreign.test/announce' });
add('bare');
add('pending', status => 0);
add('rejected', status => 2, uploader => 'bob');
add('deleted', deleted => 1);
add('hidden', hidden => 1);
add('nodata', data => '');
add('corrupt', data => 'd4:infod4:name3:abce8:announce1:x');   # unsorted
add('truncated', data => 'd4:infod6:lengthi1e');
add('dup1', title => 'Same Title');
add('dup2', title => 'same title');
add('weird', title => qq{a/b\\c:"quoted" <\x{e9}t\x{e9}> \x{65e5}.}) ;

PgTest::psql($db, join "\n", @sql);

for my $row (PgTest::psql($db, "SELECT encode(info_hash, 'hex'), id
                               FROM torrents")) {
    my ($hex, $id) = split /\t/, $row;
    my ($tag) = grep { unpack('H*', $ih{$_}) eq $hex } keys %ih;
    $tid{$tag} = $id if $tag;
}

is(scalar(keys %tid), scalar(keys %ih), 'fixtures inserted');

# nginx ---------------------------------------------------------------------

my $conf = sub {
    my $conn = shift;
    return <<"EOF";
    tracker_database "$conn";
    server {
        listen 127.0.0.1:${\ $_[0]->port};
        client_body_buffer_size 16k;
        location /api/v1/ { tracker_api; }
    }
EOF
};

$ngx->start($conf->($db, $ngx)) or BAIL_OUT('nginx did not start');

my $http = HTTP::Tiny->new(timeout => 20);
my $base = 'http://127.0.0.1:' . $ngx->port . '/api/v1';

sub req {
    my ($method, $path, %o) = @_;
    my %h;
    $h{Cookie} = "ssid=$key{$o{as}}" if $o{as} && !$o{bearer};
    $h{Authorization} = "Bearer $key{$o{as}}" if $o{as} && $o{bearer};
    my $res = $http->request($method, ($o{base} // $base) . $path,
        { headers => \%h,
          defined $o{body} ? (content => $o{body}) : () });
    return $res;
}

sub json_of {
    my $res = shift;
    return eval { decode_json($res->{content}) } // {};
}

sub is_error {
    my ($res, $status, $message, $name) = @_;
    is($res->{status}, $status, "$name: status $status");
    is($res->{headers}{'content-type'}, 'application/json',
       "$name: JSON");
    is_deeply(json_of($res), { error => JSON::PP::true,
                               message => $message }, "$name: body");
}

sub tiers { my $d = shift; return $d->{'announce-list'} }

# GET /torrents/<id>/download -------------------------------------------------

{
    my $res = req(GET => "/torrents/$tid{multi}/download");
    is($res->{status}, 200, 'anonymous download: 200');
    is($res->{headers}{'content-type'}, 'application/x-bittorrent',
       'content type');
    is($res->{headers}{'content-disposition'},
       q{attachment; filename="Torrent multi.torrent"; }
       . q{filename*=UTF-8''Torrent%20multi.torrent},
       'attachment with the title as file name');
    my ($d, $raw) = torrent($res->{content});
    ok($d, 'a well-formed .torrent, nothing after it');
    is(sha1($raw->{info}), $ih{multi}, 'info hash unchanged');
    is($d->{announce}, $public, 'anonymous: the public announce URL');
    is_deeply(tiers($d), [[$public], ['http://other.test/announce'],
                          ['udp://third.test:6969/announce']],
              'our tier first, other trackers kept, our URLs not repeated');
    is_deeply($d->{'.keys'}, [sort @{ $d->{'.keys'} }], 'keys sorted');
    is($raw->{comment}, '10:kept as is', 'other keys kept');
    is($raw->{'creation date'}, 'i1700000000e', 'integers kept');
    is($raw->{'url-list'}, 'l1:xe', 'lists kept');
}

for my $how ([cookie => 0], [bearer => 1]) {
    my $res = req(GET => "/torrents/$tid{multi}/download", as => 'bob',
                  bearer => $how->[1]);
    my ($d, $raw) = torrent($res->{content});
    my $mine = "$public/$tkey{bob}";
    is($d && $d->{announce}, $mine,
       "key in a $how->[0]: announce with the user's torrent key");
    is_deeply($d && tiers($d)->[0], [$mine], "$how->[0]: first tier ours");
    is($d && sha1($raw->{info}), $ih{multi}, "$how->[0]: same info hash");
}

{
    my $res = req(GET => "/torrents/$tid{multi}/download?public=true",
                  as => 'bob');
    my ($d) = torrent($res->{content});
    is($d && $d->{announce}, $public, '?public=true: public announce URL');
    unlike($res->{content}, qr/$tkey{bob}/, '?public=true: no torrent key');

    $res = req(GET => "/torrents/$tid{multi}/download?public=false",
               as => 'bob');
    ($d) = torrent($res->{content});
    is($d && $d->{announce}, "$public/$tkey{bob}", '?public=false: private');

    $res = req(GET => "/torrents/$tid{foreign}/download", as => 'alice');
    ($d) = torrent($res->{content});
    is_deeply($d && tiers($d), [["$public/$tkey{alice}"],
                                ['http://foreign.test/announce']],
              'no announce-list: the stored announce becomes tier two');

    $res = req(GET => "/torrents/$tid{bare}/download");
    my $raw;
    ($d, $raw) = torrent($res->{content});
    is($d && $d->{announce}, $public, 'no announce at all: ours added');
    ok($d && !exists $d->{'announce-list'},
       'no other tracker: no announce-list');
    is($d && sha1($raw->{info}), $ih{bare}, 'bare: same info hash');
    is(length $res->{content}, $res->{headers}{'content-length'},
       'content length exact');

    $res = req(GET => "/torrents/$tid{hidden}/download");
    is($res->{status}, 200, 'hidden torrents can be downloaded');

    $res = req(GET => "/torrents/$tid{weird}/download");
    my $cd = $res->{headers}{'content-disposition'} // '';
    like($cd, qr/^attachment; filename="a_b_c__quoted_ __t__ _\.\.torrent"; /,
         'unsafe characters left out of the plain file name');
    like($cd, qr/filename\*=UTF-8''a_b_c__quoted_%20_%C3%A9t%C3%A9_%20%E6%97%A5\.\.torrent$/,
         'UTF-8 file name percent-encoded, path characters replaced');
}

# who may download what
for my $case (
    [pending  => undef,   404], [pending  => 'bob',   404],
    [pending  => 'alice', 200], [pending  => 'mod',   200],
    [rejected => 'alice', 404], [rejected => 'bob',   200],
    [deleted  => 'alice', 404], [deleted  => 'mod',   404],
    [nodata   => undef,   404])
{
    my ($tag, $as, $status) = @$case;
    my $res = req(GET => "/torrents/$tid{$tag}/download",
                  $as ? (as => $as) : ());
    is($res->{status}, $status,
       "$tag torrent as " . ($as // 'anonymous') . ": $status");
}

is_error(req(GET => '/torrents/123/download'), 404, 'Torrent not found.',
         'unknown id');
is_error(req(GET => '/torrents/abc/download'), 404, 'Torrent not found.',
         'id that is no number');

{
    my $res = req(GET => "/torrents/$tid{multi}/download?public=yes");
    is($res->{status}, 400, 'public=yes: 400');
    is_deeply(json_of($res), {
        error => JSON::PP::true,
        message => "Data provided was invalid: 'public' must be boolean.",
        validate_errors => [{
            instancePath => '/public',
            schemaPath => '#/properties/public/type',
            keyword => 'type', params => { type => 'boolean' },
            message => 'must be boolean' }] },
        'public=yes: validation error shape');
}

for my $tag (qw(corrupt truncated)) {
    is_error(req(GET => "/torrents/$tid{$tag}/download"), 500,
             'Internal Error', "$tag stored file");
}
like($ngx->error_log, qr/stored \.torrent "[^"]*" not served: dictionary keys not sorted/,
     'the corrupt file is logged with the reason');
is(req(GET => "/torrents/$tid{bare}/download")->{status}, 200,
   'the worker survived');

# bulk downloads ------------------------------------------------------------

# name => data of every entry, in order, via Python's zipfile (which also
# checks every CRC)
sub unzip {
    my $zip = shift;
    my ($out, $err) = ('', '');
    my $py = 'import sys, zipfile, io, json; '
           . 'z = zipfile.ZipFile(io.BytesIO(sys.stdin.buffer.read())); '
           . 'bad = z.testzip(); '
           . 'print(json.dumps({"bad": bad, "entries": [[i.filename, '
           . 'z.read(i).hex(), i.flag_bits, i.compress_type] '
           . 'for i in z.infolist()]}))';
    IPC::Run::run(['python3', '-c', $py], \$zip, \$out, \$err)
        or return { error => $err };
    return decode_json($out);
}

sub check_zip {
    my ($res, $name, $want, $announce) = @_;
    is($res->{status}, 200, "$name: 200");
    is($res->{headers}{'content-type'}, 'application/zip', "$name: ZIP");
    is($res->{headers}{'content-disposition'},
       q{attachment; filename="torrents.zip"; filename*=UTF-8''torrents.zip},
       "$name: attachment");
    my $z = unzip($res->{content});
    ok(!$z->{error} && !defined $z->{bad}, "$name: unpacks, CRCs right")
        or diag $z->{error};
    my @e = @{ $z->{entries} // [] };
    is_deeply([map { $_->[0] } @e], [map { $_->[1] } @$want],
              "$name: entries in the order asked, unique names");
    for my $i (0 .. $#e) {
        my ($d, $raw) = torrent(pack('H*', $e[$i][1]));
        my $tag = $want->[$i][0];
        ok($d && sha1($raw->{info}) eq $ih{$tag}
           && $d->{announce} eq $announce,
           "$name: $tag has its info hash and our announce");
    }
    ok(!grep({ $_->[3] != 0 || !($_->[2] & 0x800) } @e),
       "$name: stored entries with UTF-8 names");
}

{
    my @ids = map { $tid{$_} } qw(foreign multi dup1 pending dup2 multi);
    my $q = join ',', @ids, '999', 'nonsense';
    check_zip(req(GET => "/torrents/bulk/download?ids=$q"), 'GET anonymous',
              [[foreign => 'Torrent foreign.torrent'],
               [multi => 'Torrent multi.torrent'],
               [dup1 => 'Same Title.torrent'],
               [dup2 => 'same title (2).torrent']], $public);

    check_zip(req(GET => "/torrents/bulk/download?ids=$q", as => 'alice'),
              'GET as the uploader',
              [[foreign => 'Torrent foreign.torrent'],
               [multi => 'Torrent multi.torrent'],
               [dup1 => 'Same Title.torrent'],
               [pending => 'Torrent pending.torrent'],
               [dup2 => 'same title (2).torrent']],
              "$public/$tkey{alice}");

    check_zip(req(GET => "/torrents/bulk/download?ids=$q&public=true",
                  as => 'alice'), 'GET public=true',
              [[foreign => 'Torrent foreign.torrent'],
               [multi => 'Torrent multi.torrent'],
               [dup1 => 'Same Title.torrent'],
               [pending => 'Torrent pending.torrent'],
               [dup2 => 'same title (2).torrent']], $public);

    my $body = encode_json({ ids => ["$tid{bare}", 0 + $tid{multi},
                                     "$tid{corrupt}"], public => JSON::PP::false });
    check_zip(req(PATCH => '/torrents/bulk/download', as => 'bob',
                  body => $body),
              'PATCH (ids as strings and numbers; corrupt file left out)',
              [[bare => 'Torrent bare.torrent'],
               [multi => 'Torrent multi.torrent']], "$public/$tkey{bob}");

    check_zip(req(PATCH => '/torrents/bulk/download', as => 'bob',
                  body => encode_json({ ids => ["$tid{bare}"],
                                        public => JSON::PP::true,
                                        other => { nested => [[1]] } })),
              'PATCH public, unknown members ignored',
              [[bare => 'Torrent bare.torrent']], $public);
}

is_error(req(GET => "/torrents/bulk/download?ids=$tid{pending},$tid{deleted}"),
         400, 'No accessible torrents found.', 'GET: none accessible');
is_error(req(GET => '/torrents/bulk/download?ids='), 400,
         'No accessible torrents found.', 'GET: empty ids');
is_error(req(PATCH => '/torrents/bulk/download',
             body => '{"ids":[]}'), 400,
         'No accessible torrents found.', 'PATCH: empty ids');
is_error(req(GET => "/torrents/bulk/download?ids=$tid{corrupt}"), 500,
         'Internal Error', 'only a corrupt file');

sub invalid {
    my ($res, $name, $message, $err) = @_;
    is($res->{status}, 400, "$name: 400");
    is_deeply(json_of($res), { error => JSON::PP::true,
                               message => "Data provided was invalid: $message",
                               validate_errors => [$err] },
              "$name: validation error shape");
}

my $max = { instancePath => '/ids', schemaPath => '#/properties/ids/maxItems',
            keyword => 'maxItems', params => { limit => 500 },
            message => 'must NOT have more than 500 items' };
my $missing = { instancePath => '', schemaPath => '#/required',
                keyword => 'required', params => { missingProperty => 'ids' },
                message => "must have required property 'ids'" };

invalid(req(GET => '/torrents/bulk/download'), 'GET without ids',
        "must have required property 'ids'.", $missing);
invalid(req(GET => '/torrents/bulk/download?ids=' . join(',', 1 .. 501)),
        'GET 501 ids', "'ids' must NOT have more than 500 items.", $max);
is(req(GET => '/torrents/bulk/download?ids=' . join(',', 1 .. 500))
       ->{status}, 400, 'GET 500 ids: allowed (none accessible)');
invalid(req(PATCH => '/torrents/bulk/download',
            body => encode_json({ ids => [map { "$_" } 1 .. 501] })),
        'PATCH 501 ids', "'ids' must NOT have more than 500 items.", $max);
invalid(req(PATCH => '/torrents/bulk/download', body => '{"public":true}'),
        'PATCH without ids', "must have required property 'ids'.",
        $missing);
invalid(req(PATCH => '/torrents/bulk/download', body => '{"ids":"1,2"}'),
        'PATCH ids not an array', "'ids' must be array.",
        { instancePath => '/ids', schemaPath => '#/properties/ids/type',
          keyword => 'type', params => { type => 'array' },
          message => 'must be array' });
invalid(req(PATCH => '/torrents/bulk/download',
            body => '{"ids":["1",{"a":1}]}'),
        'PATCH an item that is an object', "'ids/1' must be string.",
        { instancePath => '/ids/1',
          schemaPath => '#/properties/ids/items/type',
          keyword => 'type', params => { type => 'string' },
          message => 'must be string' });
invalid(req(PATCH => '/torrents/bulk/download',
            body => '{"ids":["1"],"public":"true"}'),
        'PATCH public as a string', "'public' must be boolean.",
        { instancePath => '/public', schemaPath => '#/properties/public/type',
          keyword => 'type', params => { type => 'boolean' },
          message => 'must be boolean' });
invalid(req(PATCH => '/torrents/bulk/download', body => '["1"]'),
        'PATCH an array body', 'must be object.',
        { instancePath => '', schemaPath => '#/type', keyword => 'type',
          params => { type => 'object' }, message => 'must be object' });

for my $bad ('', '{"ids":', '{"ids":["1"]} x', "{\"ids\":[\"\xff\"]}",
             '{"ids":["1"],}', '[' x 100 . ']' x 100, '{"ids":["\u0000"]}')
{
    (my $show = substr($bad, 0, 20)) =~ s/[^ -~]/?/g;
    is_error(req(PATCH => '/torrents/bulk/download', body => $bad), 400,
             'Request body is not valid JSON.', "PATCH body '$show'");
}

is_error(req(PATCH => '/torrents/bulk/download',
             body => '{"ids":["' . ('1' x 20000) . '"]}'),
         413, 'Request body too large.',
         'PATCH body over client_body_buffer_size');
is_error(req(PATCH => "/torrents/$tid{multi}/download", body => '{}'), 405,
         'Method not allowed.', 'PATCH on a single download');

# JSON routes are unchanged by the file kinds and body reading
{
    my $res = req(GET => '/langs');
    is($res->{status}, 200, 'a JSON route still answers');
    is(json_of($res)->{error}, JSON::PP::false, 'a JSON route: its body');
}

# the database is down --------------------------------------------------------

my $gone = 'host=' . $ngx->prefix . ' port=1 dbname=none user=none';
$down->start($conf->($gone, $down)) or BAIL_OUT('nginx did not start');
is_error(req(GET => "/torrents/$tid{multi}/download",
             base => 'http://127.0.0.1:' . $down->port . '/api/v1'),
         503, 'Database unavailable.', 'database down: single');
is_error(req(PATCH => '/torrents/bulk/download', body => '{"ids":["1"]}',
             base => 'http://127.0.0.1:' . $down->port . '/api/v1'),
         503, 'Database unavailable.', 'database down: bulk');

unlike($ngx->error_log, qr/\[(alert|emerg|crit)\]|signal \d+/,
       'no crash, no alert in the error log');

done_testing();
