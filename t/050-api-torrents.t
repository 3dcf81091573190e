# JSON API, torrents group: GET /api/v1/torrents/<id> and
# GET /api/v1/torrents/<id>/comments against a real nginx and PostgreSQL.
#
# Shapes are compared whole (decoded with JSON::PP), JSON types checked
# explicitly (ids, counters and ms timestamps are strings, flags booleans,
# codes numbers); fields that only an authenticated caller gets; who may see
# pending and rejected torrents; magnets with our public or passkey tracker
# and the torrent's own trackers; threaded comments with deleted ones
# masked; the trackers of malformed .torrent files; the database down.
#
# Plain TAP: one nginx (t/TrackerNginx.pm), a fresh database (t/PgTest.pm).

use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use Test::More;
use B ();
use Digest::SHA qw(sha1_hex sha256_hex);
use IO::Socket::INET;
use JSON::PP ();
use PgTest;
use TrackerNginx;

my $db = PgTest::fresh_db();
my $ngx = TrackerNginx->new(name => 'api-torrents', port_offset => 2);
my $down = TrackerNginx->new(name => 'api-torrents-down', port_offset => 3);

END {
    local $?;
    $ngx->quit('TERM') if $ngx;
    $down->quit('TERM') if $down;
}

sub q1 { my @r = PgTest::psql($db, shift); return $r[0] }

# --- bencode, for the stored .torrent files ---

sub benc {
    my $v = shift;
    if (ref $v eq 'HASH') {
        return 'd' . join('', map { benc($_) . benc($v->{$_}) }
                                  sort keys %$v) . 'e';
    }
    return 'l' . join('', map { benc($_) } @$v) . 'e' if ref $v eq 'ARRAY';
    return "i${$v}e" if ref $v eq 'SCALAR';
    return length($v) . ":$v";
}

sub hexlit { return "'\\x" . unpack('H*', shift) . "'" }

# --- fixtures: explicit ids (above 2^53, so that a number would lose
# them), all written in one psql session ---

my @sql;
my $next = 9007199254740993;
sub id { return $next++ }

my $pub = 'http://tracker.test:8080/announce';
push @sql, "UPDATE site_settings SET value = '$pub'
            WHERE key = 'public_tracker_url'";

my %key = map { $_ => sha1_hex("api-key-$_") } qw(up lead mod other seeder);
my %pk = map { $_ => substr(sha1_hex("passkey-$_"), 0, 32) } keys %key;
my %uid;
for my $u (sort keys %key) {
    $uid{$u} = id();
    push @sql, "INSERT INTO users (id, username, display_name, torrent_key,
                permissions, pfp_hash)
                VALUES ($uid{$u}, '$u', "
               . ($u eq 'other' ? 'NULL' : "'\u$u'") . ", '$pk{$u}', "
               . ($u eq 'mod' ? 2 : 0) . ", "
               . ($u eq 'lead' ? "'" . ('ab' x 20) . "'" : 'NULL') . ")",
               "INSERT INTO api_keys (user_id, key_hash)
                VALUES ($uid{$u}, '" . sha256_hex($key{$u}) . "')";
}

my ($gid, $gid2, $inv) = (id(), id(), id());
push @sql, "INSERT INTO groups (id, name, display_name, tag, display_tag,
            tagline, pfp_hash)
            VALUES ($gid, 'team', 'The Team', 'team', 'Team',
                    'We do things', NULL),
                   ($gid2, 'helpers', 'Helpers', 'help', 'Help', '', 'cd')",
           "INSERT INTO group_members (group_id, user_id, leader, admin)
            VALUES ($gid, $uid{lead}, true, true),
                   ($gid, $uid{up}, false, false)",
           "INSERT INTO group_invites (id, group_id, display_name)
            VALUES ($inv, $gid, 'Ghost')",
           "INSERT INTO media (id, title) VALUES ('s77', 'Show')";
my @ep = (id(), id(), id());
push @sql, "INSERT INTO episodes (id, media_id, season, episode)
            VALUES ($ep[0], 's77', 1, 1), ($ep[1], 's77', 1, 2),
                   ($ep[2], 's77', 1, 3)";

my %info = map { $_ => benc({ name => $_, length => \1000,
                              'piece length' => \16384,
                              pieces => 'x' x 20 }) }
           qw(main pending rejected anon hybrid closed ctrl);
my %data = map { $_ => 'd8:announce' . benc("$pub/$pk{up}")
                       . '13:announce-list'
                       . benc([["$pub/$pk{up}"],
                               ['udp://open.example:1337/announce',
                                'http://other.example/announce?x=1&y',
                                'http://tracker.test:80801/announce'],
                               ['udp://open.example:1337/announce']])
                       . "4:info$info{$_}e" } keys %info;

# INSERT INTO $table from a column => SQL literal hash
sub insert {
    my ($table, %col) = @_;
    my @k = sort keys %col;
    push @sql, "INSERT INTO $table (" . join(', ', @k) . ") VALUES ("
               . join(', ', @col{@k}) . ")";
    return $col{id};
}

my %tid;
sub torrent {
    my ($name, %c) = @_;
    $tid{$name} = insert('torrents', id => id(),
        info_hash => hexlit(pack 'H*', sha1_hex($info{$name})),
        torrent_data => hexlit($data{$name}),
        title => "'Title of $name'", uploader_id => $uid{up}, %c);
}

torrent('main',
        title => q{'Show - 01 [1080p] & "more"/é'},
        description => "'Release notes'", mediainfo => "'General'",
        level => 3, otl => 'true', video_codec => 2, video_type => 9,
        audio_lang => "'ja'", sub_lang => "'en'", fsub_lang => "'en,es'",
        filesize => 3000,
        files => q{'[{"path":"dir/a.mkv","length":1000,"offset":0},
                    {"path":"b.txt","length":2000,"offset":1000}]'},
        media_id => "'s77'", uploaded_at => "'2025-01-02 03:04:05.678+00'",
        seeders => 5, leechers => 2, completed => 41, activity => 5557,
        torrent_health => 100, imported => 99,
        nyaa_upload_time => "'2019-11-16 04:15:23+00'",
        animetosho => q{'[{"file_id":1,"screenshot_id":"0000abcd",
                          "screenshot_timings":[1,2,3]},
                         {"file_id":2,"screenshot_id":"0000abce",
                          "screenshot_timings":[4,5,6]}]'},
        animetosho_fetch_time => "'2025-01-03 00:00:00+00'");
torrent('pending', status => 0);
torrent('rejected', status => 2);
torrent('anon', anonymous => 'true', disable_edits => 'true',
        deleted => "'2025-02-01 00:00:00+00'", hidden => 'true');
torrent('hybrid', info_hash_v2 => hexlit(pack 'H*', sha256_hex('v2')),
        upgraded_id => $tid{main});
torrent('closed', disable_comments => 'true');
# every control character, quotes, backslashes, and characters beyond
# the BMP in stored text: the JSON stays valid and decodes to the same
torrent('ctrl', title => q{E'c\\x01\\x02\\x1f t\\tn\\nr\\r b\\\\ q" s/ }
                         . q{d\\x7f \\u2028 \\U0001F600 é'},
        description => q{E'\\x1b[31m</script>'});

push @sql, "INSERT INTO torrent_episodes VALUES ($tid{main}, $ep[1]),
            ($tid{main}, $ep[0])",
    "INSERT INTO torrent_groups (torrent_id, group_id, is_primary, role)
     VALUES ($tid{main}, $gid, true, NULL),
            ($tid{main}, $gid2, false, 'Encode'),
            ($tid{pending}, $gid, true, NULL)",
    "INSERT INTO torrent_contributors (torrent_id, group_id, user_id,
     invite_id, role, weight)
     VALUES ($tid{main}, $gid, $uid{up}, NULL, 'Typesetting', 2),
            ($tid{main}, $gid, NULL, $inv, 'Timing', 3),
            ($tid{main}, $gid, $uid{lead}, NULL, 'Translation', 1)",
    "INSERT INTO peers (torrent_id, user_id, peer_id, seeder)
     VALUES ($tid{main}, $uid{seeder}, '\\x" . ('11' x 20) . "', true),
            ($tid{main}, $uid{other}, '\\x" . ('22' x 20) . "', false)";

# comments: c1 (with a reply r1, a reply to the reply r2, a deleted reply
# r3), c2 pinned and later, c3 deleted top-level
sub comment {
    my ($user, $text, %c) = @_;
    return insert('comments', id => id(), torrent_id => $tid{main},
                  user_id => $uid{$user}, text => "'$text'", %c);
}

my $c1 = comment('other', 'first comment');
my $r1 = comment('up', 'a reply', parent_id => $c1,
                 last_edit => "'2025-11-25 00:47:48.355+00'");
my $r2 = comment('lead', 'a reply to the reply', parent_id => $r1);
my $r3 = comment('seeder', 'regrettable', parent_id => $c1,
                 deleted => 'true', last_edit => 'now()');
my $c2 = comment('mod', 'pinned notice', pinned => 'true');
my $c3 = comment('lead', 'gone', deleted => 'true');
comment('up', 'not shown', torrent_id => $tid{closed});
push @sql, "INSERT INTO comment_ratings (comment_id, user_id, positive)
            VALUES ($c1, $uid{up}, true), ($c1, $uid{lead}, true),
                   ($c1, $uid{mod}, false), ($r1, $uid{other}, false)";

PgTest::psql($db, join(";\n", @sql) . ";\n");

# --- nginx ---

$ENV{TEST_NGINX_PG} = $db;
ok($ngx->start(<<"EOF"), 'nginx starts') or BAIL_OUT($ngx->error_log);
    tracker_database "$db";
    server {
        listen 127.0.0.1:${\ $ngx->port};
        location /api/v1/ { tracker_api; }
    }
EOF

# GET (or another method) with optional headers: (status, decoded body)
sub api {
    my ($path, %o) = @_;
    my $inst = $o{nginx} // $ngx;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1:' . $inst->port,
                                  Timeout => 10) or die "connect: $!";
    my $h = '';
    $h .= "Cookie: ssid=$o{cookie}\r\n" if $o{cookie};
    $h .= "Authorization: Bearer $o{bearer}\r\n" if $o{bearer};
    print $s ($o{method} // 'GET') . " /api/v1/$path HTTP/1.0\r\n"
             . "Host: localhost\r\n$h\r\n";
    local $/;
    my $res = <$s> // '';
    my ($head, $body) = split /\r\n\r\n/, $res, 2;
    my ($status) = ($head // '') =~ m{^HTTP/1\.\d (\d+)};
    my $json = eval { JSON::PP->new->decode($body // '') };
    return ($status // 0, $json, $body, $head);
}

sub as { my $u = shift; return (cookie => $key{$u}, @_) }

# JSON type of a decoded value: null, boolean, number, string, array, object
sub jtype {
    my $v = shift;
    return 'null' unless defined $v;
    return 'boolean' if JSON::PP::is_bool($v);
    return ref $v eq 'ARRAY' ? 'array' : 'object' if ref $v;
    my $f = B::svref_2object(\$v)->FLAGS;
    return ($f & B::SVp_POK) ? 'string' : 'number';
}

sub types_ok {
    my ($obj, $want, $name) = @_;
    my %got = map { $_ => jtype($obj->{$_}) } keys %$obj;
    is_deeply(\%got, $want, "$name: keys and JSON types");
}

my $T = JSON::PP::true;
my $F = JSON::PP::false;

sub magnet {
    my ($ih, $dn, @tr) = @_;
    my $enc = sub {
        my $s = shift;      # bytes: the test file and bodies are UTF-8
        $s =~ s/([^A-Za-z0-9\-._~])/sprintf '%%%02X', ord $1/ge;
        return $s;
    };
    return "magnet:?xt=urn:btih:$ih&dn=" . $enc->($dn)
           . join('', map { '&tr=' . $enc->($_) } @tr);
}

# (the last one only looks like our origin)
my @foreign = ('udp://open.example:1337/announce',
               'http://other.example/announce?x=1&y',
               'http://tracker.test:80801/announce');
my $ih_main = sha1_hex($info{main});

# --- GET /torrents/<id>, anonymous ---

my ($st, $j) = api("torrents/$tid{main}");
is($st, 200, 'torrent: 200');
is($j->{error}, $F, 'torrent: error false');
my $d = $j->{data};

my %base_types = (
    id => 'string', uploaded_at => 'string', title => 'string',
    auto_title => 'string', description => 'string', mediainfo => 'string',
    category => 'number', deleted => 'null', hidden => 'boolean',
    otl => 'boolean', hardsub => 'boolean', level => 'number',
    mtl => 'boolean', filesize => 'string', media_id => 'string',
    media_episode_ids => 'array', audio_lang => 'string',
    sub_lang => 'string', fsub_lang => 'string', video_codec => 'number',
    video_type => 'number', files => 'array', magnet => 'string',
    infohash => 'string', anonymous => 'boolean', uploader => 'object',
    groups => 'array', imported => 'number', seeders => 'string',
    leechers => 'string', completed => 'string', activity => 'string',
    torrent_health => 'string', upgraded => 'null', animetosho => 'array',
    animetosho_fetch_time => 'string', screenshots => 'array',
    waiting_approve => 'boolean', disable_comments => 'boolean',
    lock_comments => 'boolean', disable_edits => 'boolean',
    nyaa_upload_time => 'string',
);
types_ok($d, \%base_types, 'torrent anonymous');

my $title = 'Show - 01 [1080p] & "more"/é';
is_deeply($d, {
    id => $tid{main}, uploaded_at => '1735787045678', title => $title,
    auto_title => "$title {Tags:OTL;L3;V9;C2;A-ja;S-en;F-en,es;}",
    description => 'Release notes', mediainfo => 'General', category => 1,
    deleted => undef, hidden => $F, otl => $T, hardsub => $F, level => 3,
    mtl => $F, filesize => '3000', media_id => 's77',
    media_episode_ids => [$ep[0], $ep[1]],
    audio_lang => 'ja', sub_lang => 'en', fsub_lang => 'en,es',
    video_codec => 2, video_type => 9,
    files => [
        { path => 'dir/a.mkv', name => 'a.mkv', length => 1000,
          offset => 0 },
        { path => 'b.txt', name => 'b.txt', length => 2000,
          offset => 1000 },
    ],
    magnet => magnet($ih_main, $title, $pub, @foreign),
    infohash => $ih_main, anonymous => $F,
    uploader => { id => $uid{up}, username => 'up', display_name => 'Up',
                  pfp_hash => undef },
    groups => [
        { id => $gid, name => 'team', display_name => 'The Team',
          pfp_hash => undef, tagline => 'We do things',
          uploading_group => $T, role => undef,
          members => [
              { id => $uid{lead}, invite => $F, username => 'lead',
                display_name => 'Lead', pfp_hash => 'ab' x 20,
                role => 'Translation', weight => 1 },
              { id => $uid{up}, invite => $F, username => 'up',
                display_name => 'Up', pfp_hash => undef,
                role => 'Typesetting', weight => 2 },
              { id => $inv, invite => $T, username => undef,
                display_name => 'Ghost', pfp_hash => undef,
                role => 'Timing', weight => 3 },
          ] },
        { id => $gid2, name => 'helpers', display_name => 'Helpers',
          pfp_hash => 'cd', tagline => '', uploading_group => $F,
          role => 'Encode', members => [] },
    ],
    imported => 99, seeders => '5', leechers => '2', completed => '41',
    activity => '5557', torrent_health => '100', upgraded => undef,
    animetosho => [
        { file_id => 1, screenshot_id => '0000abcd',
          screenshot_timings => [1, 2, 3] },
        { file_id => 2, screenshot_id => '0000abce',
          screenshot_timings => [4, 5, 6] },
    ],
    animetosho_fetch_time => '1735862400000',
    screenshots => [
        map({ "https://storage.animetosho.org/sframes/0000abcd_$_.png" }
            1 .. 3),
        map({ "https://storage.animetosho.org/sframes/0000abce_$_.png" }
            4 .. 5),
    ],
    waiting_approve => $F, disable_comments => $F, lock_comments => $F,
    disable_edits => $F, nyaa_upload_time => '1573877723000',
}, 'torrent anonymous: whole body');

types_ok($d->{uploader}, { id => 'string', username => 'string',
                           display_name => 'string', pfp_hash => 'null' },
         'uploader');
types_ok($d->{groups}[0]{members}[0],
         { id => 'string', invite => 'boolean', username => 'string',
           display_name => 'string', pfp_hash => 'string', role => 'string',
           weight => 'number' }, 'group member');
types_ok($d->{files}[0], { path => 'string', name => 'string',
                           length => 'number', offset => 'number' }, 'file');
is(jtype($d->{media_episode_ids}[0]), 'string', 'episode ids are strings');

# --- authenticated: the caller's fields ---

my %auth_types = (%base_types, private_magnet => 'string',
                  can_edit => 'boolean', user_is_seeding => 'boolean',
                  user_is_leeching => 'boolean');

($st, $j) = api("torrents/$tid{main}", as('seeder'));
is($st, 200, 'torrent as a seeder: 200');
types_ok($j->{data}, \%auth_types, 'torrent authenticated');
is($j->{data}{private_magnet},
   magnet($ih_main, $title, "$pub/$pk{seeder}", @foreign),
   'private magnet: the caller\'s passkey URL, then the torrent\'s own '
   . 'trackers (none on our host)');
is_deeply([@{ $j->{data} }{qw(can_edit user_is_seeding user_is_leeching)}],
          [$F, $T, $F], 'seeder: cannot edit, seeding');
my %same = %{ $j->{data} };
delete @same{qw(private_magnet can_edit user_is_seeding user_is_leeching)};
is_deeply(\%same, $d, 'the other fields are those of the anonymous view');

($st, $j) = api("torrents/$tid{main}", bearer => $key{other});
is_deeply([@{ $j->{data} }{qw(can_edit user_is_seeding user_is_leeching)}],
          [$F, $F, $T], 'Bearer key: leeching, cannot edit');

for my $u (qw(up lead mod)) {
    ($st, $j) = api("torrents/$tid{main}", as($u));
    is($j->{data}{can_edit}, $T, "$u can edit");
}

($st, $j) = api("torrents/$tid{main}", cookie => 'not-a-key');
is($st, 200, 'bad key on an auth-optional route: 200');
types_ok($j->{data}, \%base_types, 'bad key: anonymous view');

# --- visibility ---

($st, $j) = api("torrents/$tid{pending}");
is($st, 403, 'pending, anonymous: 403');
is_deeply($j, { error => $T, message => 'Torrent is waiting for approval.' },
          'pending: the reference\'s message');
($st) = api("torrents/$tid{pending}", as('other'));
is($st, 403, 'pending, another user: 403');
for my $u (qw(up lead mod)) {
    ($st, $j) = api("torrents/$tid{pending}", as($u));
    is($st, 200, "pending, $u: 200");
    is($j->{data}{waiting_approve}, $T, "pending, $u: waiting_approve");
}

my $nf = { error => $T, message => 'Torrent not found.' };
($st, $j) = api("torrents/$tid{rejected}");
is($st, 404, 'rejected, anonymous: 404');
is_deeply($j, $nf, 'rejected: not found');
($st) = api("torrents/$tid{rejected}", as('up'));
is($st, 200, 'rejected, uploader: 200');

for my $id ('1', 'abc', '99999999999999999999', '-5', '1.0') {
    ($st, $j) = api("torrents/$id");
    is($st, 404, "torrent '$id': 404");
    is_deeply($j, $nf, "torrent '$id': message");
}

# --- anonymous, deleted, hidden, edits disabled ---

($st, $j) = api("torrents/$tid{anon}");
is($st, 200, 'deleted hidden torrent: still shown by id');
is($j->{data}{uploader}, undef, 'anonymous upload: uploader null');
is($j->{data}{deleted}, '1738368000000', 'deleted: ms timestamp string');
is($j->{data}{hidden}, $T, 'hidden');
is_deeply([@{ $j->{data} }{qw(groups files media_episode_ids screenshots)}],
          [[], [], [], []], 'empty lists');
is($j->{data}{auto_title}, 'Title of anon {Tags:}', 'no tags');
($st, $j) = api("torrents/$tid{anon}", as('up'));
is($j->{data}{uploader}, undef, 'anonymous upload: null for its uploader too');
is($j->{data}{can_edit}, $F, 'edits disabled: the uploader cannot edit');
($st, $j) = api("torrents/$tid{anon}", as('mod'));
is($j->{data}{can_edit}, $T, 'edits disabled: a moderator can');

# --- hybrid: both hashes; upgraded ---

($st, $j) = api("torrents/$tid{hybrid}", as('up'));
my $ih_h = sha1_hex($info{hybrid});
my $v2 = sha256_hex('v2');
my $dn = 'Title of hybrid';
(my $m = magnet($ih_h, $dn, $pub, @foreign))
    =~ s/&dn=/&xt=urn:btmh:1220$v2&dn=/;
is($j->{data}{magnet}, $m, 'hybrid magnet: btih and btmh');
is($j->{data}{infohash}, $ih_h, 'infohash: the v1 hash');
is($j->{data}{upgraded}, $tid{main}, 'upgraded: the new torrent\'s id');

# --- trackers of stored .torrent files ---

is(q1("SELECT array_to_string(trackers, ' ') FROM torrents
       WHERE id = $tid{main}"),
   "$pub/$pk{up} @foreign",
   'trackers: announce then announce-list, deduplicated');
my @bad = ("d8:announce", "d8:announce99:x", "li1ee", "d8:announcei1e",
           "d13:announce-listl5:abcdee4:infod", "d1:ai1x");
my @got = PgTest::psql($db, join '', map {
    "INSERT INTO torrents (info_hash, title, torrent_data) VALUES ("
    . hexlit(pack 'H*', sha1_hex("bad$_")) . ", 'bad', " . hexlit($_)
    . ") RETURNING cardinality(trackers);\n" } @bad);
is_deeply(\@got, [(0) x @bad],
          'malformed .torrent files: stored, without trackers');
is(q1("SELECT array_to_string(torrent_trackers(" . hexlit(
          'd1:ai5e8:announce' . benc('udp://a.example:1/x') . '4:infod'
          . '8:announce' . benc('http://late.example/') . 'ee') . "), ' ')"),
   'udp://a.example:1/x', 'keys before announce skipped; nothing after info');
# every truncation of a real file, and random byte mutations of it
# (fixed seed): the walk over untrusted bytes never raises, never loops
{
    srand(4242);
    my $good = $data{main};
    my @inputs = map { substr($good, 0, $_) } 0 .. length($good) - 1;
    for (1 .. 300) {
        my $m = $good;
        for (1 .. 1 + int rand 4) {
            substr($m, int rand length $m, 1) = chr int rand 256;
        }
        push @inputs, $m;
    }
    my $n = q1("SELECT count(torrent_trackers(d)) FROM (VALUES "
               . join(', ', map { '(' . hexlit($_) . '::bytea)' } @inputs)
               . ") v(d)");
    is($n, scalar @inputs, 'truncated and mutated files: an array for each '
       . '(' . scalar(@inputs) . ' inputs)');
}
is(q1("SELECT api_urlencode_bytes('A-z_0.9~ é%/') || ' '
       || api_urlencode('A-z_0.9~ é%/') || ' ' || api_urlencode('~%25 +')"),
   'A-z_0.9~%20%C3%A9%25%2F A-z_0.9~%20%C3%A9%25%2F ~%2525%20%2B',
   'percent-encoding: both paths agree, only unreserved characters kept');
is(q1("SELECT cardinality(torrent_trackers(" . hexlit(
          'd8:announce' . benc("ftp://x.example/") . 'e') . "))"), 0,
   'only tracker URL schemes kept');

# --- comments ---

($st, $j) = api("torrents/$tid{main}/comments", as('up'));
is($st, 200, 'comments: 200');
my %ctypes = (id => 'string', deleted => 'boolean', user_id => 'string',
              text => 'string', replying_to => 'null',
              display_name => 'string', pfp_hash => 'null',
              positive => 'string', negative => 'string',
              pinned => 'boolean', user_rating => 'null',
              last_edit => 'null', children => 'array');
types_ok($j->{data}[1], { %ctypes, user_rating => 'boolean' },
         'top-level comment');
my %rtypes = (%ctypes, replying_to => 'string', last_edit => 'number');
delete $rtypes{children};
types_ok($j->{data}[1]{children}[0], \%rtypes,
         'reply (last_edit is a number, as the reference shows)');

my %del = (deleted => $T, user_id => '0', text => '[deleted]',
           display_name => '[deleted]', pfp_hash => undef,
           last_edit => undef);
is_deeply($j->{data}, [
    { id => $c2, deleted => $F, user_id => $uid{mod}, text => 'pinned notice',
      replying_to => undef, display_name => 'Mod', pfp_hash => undef,
      positive => '0', negative => '0', pinned => $T, user_rating => undef,
      last_edit => undef, children => [] },
    { id => $c1, deleted => $F, user_id => $uid{other},
      text => 'first comment', replying_to => undef, display_name => 'other',
      pfp_hash => undef, positive => '2', negative => '1', pinned => $F,
      user_rating => $T, last_edit => undef,
      children => [
          { id => $r1, deleted => $F, user_id => $uid{up}, text => 'a reply',
            replying_to => $c1, display_name => 'Up', pfp_hash => undef,
            positive => '0', negative => '1', pinned => $F,
            user_rating => undef, last_edit => 1764031668355 },
          { id => $r2, deleted => $F, user_id => $uid{lead},
            text => 'a reply to the reply', replying_to => $r1,
            display_name => 'Lead', pfp_hash => 'ab' x 20, positive => '0',
            negative => '0', pinned => $F, user_rating => undef,
            last_edit => undef },
          { id => $r3, replying_to => $c1, positive => '0',
            negative => '0', pinned => $F, user_rating => undef, %del },
      ] },
    { id => $c3, replying_to => undef, positive => '0', negative => '0',
      pinned => $F, user_rating => undef, children => [], %del },
], 'comments: threads, pinned first, replies at any depth flattened, '
   . 'deleted masked, counts, the caller\'s rating');

($st, $j) = api("torrents/$tid{main}/comments");
is($j->{data}[1]{user_rating}, undef, 'anonymous: user_rating null');
($st, $j) = api("torrents/$tid{main}/comments", as('mod'));
is($j->{data}[1]{user_rating}, $F, 'a dislike: user_rating false');
is($j->{data}[1]{children}[0]{user_rating}, undef, 'not rated: null');

($st, $j) = api("torrents/$tid{closed}/comments");
is($st, 200, 'comments disabled: 200');
is_deeply($j, { error => $F, data => [] }, 'comments disabled: none');
($st, $j) = api("torrents/$tid{anon}/comments");
is_deeply($j, { error => $F, data => [] }, 'no comments: empty list');

($st, $j) = api("torrents/$tid{pending}/comments");
is($st, 403, 'comments of a pending torrent: 403');
($st, $j) = api("torrents/$tid{pending}/comments", as('up'));
is($st, 200, 'comments of a pending torrent, uploader: 200');
for my $id ('1', 'x', $tid{rejected}) {
    ($st, $j) = api("torrents/$id/comments");
    is($st, 404, "comments of '$id': 404");
    is_deeply($j, $nf, "comments of '$id': message");
}

# --- text with control characters ---

{
    my ($st, $j, $raw) = api("torrents/$tid{ctrl}");
    is($st, 200, 'control characters in a title: 200');
    unlike($raw, qr/[\x00-\x1f]/, 'no raw control byte in the JSON');
    is($j->{data}{title},
       "c\x01\x02\x1f t\tn\nr\r b\\ q\" s/ d\x7f "
       . "\xe2\x80\xa8 \xf0\x9f\x98\x80 \xc3\xa9",   # UTF-8 bytes
       'title decodes to the stored text');
    is($j->{data}{description}, "\x1b[31m</script>",
       'description decodes to the stored text');
}

# --- methods, the database down ---

($st, $j, undef, my $head) = api("torrents/$tid{main}", method => 'DELETE');
is($st, 405, 'DELETE: 405');
# PATCH: the edit endpoint (t/056)
like($head, qr/^Allow: GET, HEAD, PATCH\r?$/mi,
     '405 names the allowed methods');

ok($down->start(<<"EOF"), 'nginx with an unreachable database starts');
    tracker_database "host=/nonexistent port=1 dbname=x user=x";
    server {
        listen 127.0.0.1:${\ $down->port};
        location /api/v1/ { tracker_api; }
    }
EOF
($st, $j) = api("torrents/$tid{main}", nginx => $down);
is($st, 503, 'database down: 503');
is_deeply($j, { error => $T, message => 'Database unavailable.' },
          'database down: message');
($st) = api("torrents/$tid{main}/comments", nginx => $down);
is($st, 503, 'database down, comments: 503');

done_testing();
