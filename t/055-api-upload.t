# JSON API uploads against a real nginx and PostgreSQL:
#   POST /api/v1/upload              a base64 .torrent and its metadata
#   PUT  /api/v1/upload/checks       parsedData, fails, warns, auto_title
#   PUT  /api/v1/upload/mediainfo    codec and languages from mediainfo
# Torrents come from libtorrent (v1, v2-only, hybrid; python3-libtorrent)
# and from bencode written here (single/multi file, hostile ones).  The
# stored info hash is checked against SHA-1 (SHA-256 for v2) of the info
# dictionary computed here, and against libtorrent's own reading of the
# file GET /torrents/<id>/download serves.
#
# Plain TAP: nginx via t/TrackerNginx.pm, PostgreSQL via t/PgTest.pm.

use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use Test::More;
use Digest::SHA qw(sha1 sha1_hex sha256 sha256_hex);
use File::Temp qw(tempdir);
use HTTP::Tiny;
use JSON::PP;
use MIME::Base64 qw(encode_base64);
use PgTest;
use TrackerNginx;

my $py = '/usr/bin/python3';
my $have_lt = system($py, '-c', 'import libtorrent') == 0;

my $db = PgTest::fresh_db();
my $ngx = TrackerNginx->new(name => 'api-upload', port_offset => 0);
my $down = TrackerNginx->new(name => 'api-upload-down', port_offset => 1);

END { local $?; $ngx->quit('TERM') if $ngx; $down->quit('TERM') if $down }

# bencode --------------------------------------------------------------------

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

# the raw bytes of the top-level "info" value (keys are sorted, so this
# finds the real one)
sub info_bytes {
    my $s = shift;
    my $pos = 1;
    while (substr($s, $pos, 1) ne 'e') {
        substr($s, $pos) =~ /^(\d+):/ or die 'bad key';
        my $k = substr($s, $pos + length($1) + 1, $1);
        $pos += length($1) + 1 + $1;
        my $start = $pos;
        skip_value($s, \$pos);
        return substr($s, $start, $pos - $start) if $k eq 'info';
    }
    return;
}

sub skip_value {
    my ($s, $pos) = @_;
    my $c = substr($s, $$pos, 1);
    if ($c eq 'i') { substr($s, $$pos) =~ /^(i-?\d+e)/; $$pos += length $1 }
    elsif ($c =~ /\d/) {
        substr($s, $$pos) =~ /^(\d+):/;
        $$pos += length($1) + 1 + $1;
    } else {
        $$pos++;
        skip_value($s, $pos) while substr($s, $$pos, 1) ne 'e';
        $$pos++;
    }
}

my $public = 'http://tracker.test/announce';
my $backup = 'udp://backup.test:6969/announce';

sub v1_torrent {
    my (%o) = @_;
    my $name = $o{name} // 'file.mkv';
    my $plen = 16384;
    my $info = { name => $name, 'piece length' => \$plen };
    my $total = 0;
    if ($o{files}) {
        $info->{files} = [ map { { path => $_->[0], length => \$_->[1] } }
                           @{ $o{files} } ];
        $total += $_->[1] for @{ $o{files} };
    } else {
        $total = $o{length} // 40000;
        $info->{length} = \$total;
    }
    my $n = int(($total + $plen - 1) / $plen);
    $info->{pieces} = join '', map { sha1("$name-$_") } 1 .. $n;
    $info->{private} = \1 if $o{private};
    my $top = { info => $info };
    $top->{announce} = $o{announce} if defined $o{announce};
    $top->{'announce-list'} = $o{tiers} if $o{tiers};
    return benc($top);
}

# libtorrent's create_torrent: "v1", "v2" or "hybrid"
my $tmp = tempdir(CLEANUP => 1);

sub lt_torrent {
    my ($kind, $tag, @trackers) = @_;
    my $dir = "$tmp/$kind-$tag";
    mkdir $dir;
    mkdir "$dir/Show $tag";
    for my $f (['a.mkv', 70000], ['sub/b.ass', 1234]) {
        my $path = "$dir/Show $tag/$f->[0]";
        mkdir "$dir/Show $tag/sub";
        open my $fh, '>', $path or die $!;
        print $fh substr(("$tag$f->[0]" x 20000), 0, $f->[1]);
        close $fh;
    }
    my $flags = { v1 => 'lt.create_torrent.v1_only',
                  v2 => 'lt.create_torrent.v2_only',
                  hybrid => '0' }->{$kind};
    my $trk = join ',', map { "'$_'" } @trackers;
    my $out = "$dir.torrent";
    my $script = <<"EOF";
import libtorrent as lt, sys
fs = lt.file_storage()
lt.add_files(fs, '$dir/Show $tag')
ct = lt.create_torrent(fs, 32768, flags=$flags)
for i, t in enumerate([$trk]):
    ct.add_tracker(t, i)
ct.set_creator('ngx_tracker test')
lt.set_piece_hashes(ct, '$dir')
open('$out', 'wb').write(lt.bencode(ct.generate()))
EOF
    system($py, '-c', $script) == 0 or die "libtorrent failed";
    open my $in, '<:raw', $out or die $!;
    local $/;
    return scalar <$in>;
}

# what libtorrent reads in a file: "v1hex v2hex name nfiles"
sub lt_read {
    my $data = shift;
    my $file = "$tmp/read.torrent";
    open my $fh, '>:raw', $file or die $!;
    print $fh $data;
    close $fh;
    my $out = `$py -c "
import libtorrent as lt
ti = lt.torrent_info('$file')
h = ti.info_hashes()
print(str(h.v1) if h.has_v1() else '-', str(h.v2) if h.has_v2() else '-')
"`;
    chomp $out;
    return $out;
}

# fixtures ----------------------------------------------------------------

my @sql;
sub q1 { push @sql, shift() . ';' }

q1("INSERT INTO site_settings (key, value)
    VALUES ('public_tracker_url', '$public')
    ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value");
q1("INSERT INTO langs (code, name, flag) VALUES
    ('ja', 'Japanese', ''), ('en', 'English', ''), ('es-es', 'Spanish', '')");
q1("INSERT INTO lang_aliases (alias, code)
    VALUES ('jp', 'ja'), ('es', 'es-es')");

my %key = (alice => 'alice-key', up => 'uploader-key', banned => 'ban-key',
           bob => 'bob-key');
my %perm = (alice => 0, up => 4, banned => 8, bob => 0);

for my $u (sort keys %key) {
    q1("INSERT INTO users (username, torrent_key, permissions)
        VALUES ('$u', '" . substr(sha1_hex("tk-$u"), 0, 32) . "', $perm{$u})");
    q1("INSERT INTO api_keys (user_id, key_hash)
        SELECT id, '" . sha256_hex($key{$u}) . "' FROM users
        WHERE username = '$u'");
}

q1("INSERT INTO groups (name, display_name, tag, display_tag)
    VALUES ('examplegroup', 'Example Group', 'ExampleGroup', 'ExampleGroup'),
           ('other', 'Other', 'Other', 'Other')");
q1("INSERT INTO group_members (group_id, user_id, leader)
    SELECT g.id, u.id, true FROM groups g, users u
    WHERE g.name = 'examplegroup' AND u.username IN ('alice', 'up')");
q1("INSERT INTO media (id, title, genres, alternate_titles)
    VALUES ('s100', 'Media Title', '{Action,Comedy}', '{Mediya Taitoru}'),
           ('s200', 'Something Else Entirely', '{}', '{}'),
           ('m300', 'Media Title', '{Drama}', '{}')");
q1("INSERT INTO episodes (id, media_id, season, episode, absolute, title)
    SELECT 1000 + n, 's100', 1, n, n, 'Episode ' || n
    FROM generate_series(1, 12) n");

PgTest::psql($db, join "\n", @sql);

my ($gid) = PgTest::psql($db, "SELECT id FROM groups
                               WHERE name = 'examplegroup'");
my ($other_gid) = PgTest::psql($db, "SELECT id FROM groups
                                     WHERE name = 'other'");
my %uid = map { split /\t/ } PgTest::psql($db,
    "SELECT username, id FROM users");

# nginx ---------------------------------------------------------------------

$ngx->start(<<"EOF") or BAIL_OUT('nginx did not start');
    tracker_database "$db";
    server {
        listen 127.0.0.1:${\ $ngx->port};
        client_body_buffer_size 256k;
        location /api/v1/ { tracker_api; }
    }
EOF

my $http = HTTP::Tiny->new(timeout => 30);
my $base = 'http://127.0.0.1:' . $ngx->port . '/api/v1';
my $json = JSON::PP->new->canonical;

sub req {
    my ($method, $path, %o) = @_;
    my %h;
    $h{Authorization} = "Bearer $key{$o{as}}" if $o{as};
    $h{'Content-Type'} = 'application/json';
    my $body = ref $o{body} ? $json->encode($o{body}) : $o{body};
    return $http->request($method, ($o{base} // $base) . $path,
        { headers => \%h, defined $body ? (content => $body) : () });
}

sub json_of { my $r = shift; return eval { decode_json($r->{content}) } }

# a valid upload body with the torrent and any changes
sub upload_body {
    my ($torrent, %o) = @_;
    return {
        torrent => encode_base64($torrent, ''),
        title => '[ExampleGroup] Media Title - 01 [WEB 1080p x265]',
        movie => JSON::PP::false, category => '1', video_type => 7,
        video_codec => 2, level => '3', mtl => JSON::PP::false,
        anonymous => JSON::PP::false, hidden => JSON::PP::false,
        otl => JSON::PP::false, hardsub => JSON::PP::false,
        primary_group => { id => "$gid", members => [
            { id => "$uid{alice}", role => 'Typesetting',
              display_name => '' } ] },
        secondary_groups => [], audio_langs => 'jp', sub_langs => '',
        fansub_langs => 'en', description => 'desc', %o };
}

# a member left out of the body
sub without { my ($b, $k) = @_; delete $b->{$k}; return $b }

sub upload {
    my ($t, %o) = @_;
    my $as = delete $o{as} // 'alice';
    my $at = delete $o{base};
    return req(POST => '/upload', as => $as, base => $at,
               body => upload_body($t, %o));
}

my $warn_tracker = 'You have not included our public tracker URL in your '
    . 'torrent. If you plan to upload this torrent to other sites, you '
    . 'should make sure you include it.';
my $warn_audio = 'You have not added any audio languages, please make sure '
    . 'to include them if you have any audio tracks.';
my $fail_backup = 'Torrents must have at least one backup tracker.';
my $fail_nosubs = 'You have set sub level to "no subs", but you have added '
    . 'fansub languages.';
my $fail_group = 'You need to set your Primary Group to the "Release Group" '
    . 'found in your title.';

# POST /upload: a v1 torrent made here ---------------------------------------

my $t1 = v1_torrent(name => 'one.mkv', announce => $public,
                    tiers => [[$public], [$backup]]);
my $t1_ih = sha1_hex(info_bytes($t1));
my $t1_id;

{
    my $r = upload($t1);
    is($r->{status}, 200, 'v1 upload: 200') or diag $r->{content};
    my $j = json_of($r);
    ok($j && !$j->{error} && $j->{data}{id} =~ /^\d+$/,
       'v1 upload: data.id is a string of digits');
    $t1_id = $j->{data}{id};
    ok(!ref $t1_id && $r->{content} =~ /"id":\s*"\d+"/,
       'the id is a string');

    my ($row) = PgTest::psql($db, "SELECT encode(info_hash, 'hex'),
        info_hash_v2 IS NULL, filesize, jsonb_array_length(files),
        media_id, audio_lang, fsub_lang, status, level, category,
        video_type, video_codec, uploader_id
        FROM torrents WHERE id = $t1_id");
    is($row, join("\t", $t1_ih, 't', 40000, 1, 's100', 'ja', 'en', 0, 3,
                  1, 7, 2, $uid{alice}),
       'stored: SHA-1 of the info dictionary, size, media, languages, '
       . 'numbers from numeric strings, pending approval');

    my ($eps) = PgTest::psql($db, "SELECT string_agg(episode_id::text, ',')
        FROM torrent_episodes WHERE torrent_id = $t1_id");
    is($eps, '1001', 'episode 1 credited');
    my ($grp) = PgTest::psql($db, "SELECT g.group_id || ' ' || g.is_primary
        || ' ' || c.user_id || ' ' || c.role FROM torrent_groups g
        JOIN torrent_contributors c ON c.torrent_id = g.torrent_id
        WHERE g.torrent_id = $t1_id");
    is($grp, "$gid true $uid{alice} Typesetting",
       'primary group and member credited');

    $r = req(GET => "/torrents/$t1_id", as => 'alice');
    $j = json_of($r);
    is($j && $j->{data}{infohash}, $t1_ih, 'GET /torrents/<id>: same hash');
    is_deeply($j && $j->{data}{files},
              [{ path => 'one.mkv', name => 'one.mkv', length => 40000,
                 offset => 0 }], 'GET /torrents/<id>: the file');

    $r = req(GET => "/torrents/$t1_id/download", as => 'alice');
    is($r->{status}, 200, 'download: 200');
    is(sha1_hex(info_bytes($r->{content}) // ''), $t1_ih,
       'download: the same info dictionary');

    $r = upload($t1);
    is($r->{status}, 409, 'the same torrent again: 409');
    is_deeply(json_of($r), { error => JSON::PP::true,
        message => 'This torrent has already been uploaded.' },
        'duplicate: message');
}

# multi-file v1, uploader (approved at once), non-UTF-8 path -----------------

{
    my $t = v1_torrent(name => 'Batch', announce => $backup,
                       files => [[['a', 'x.mkv'], 20000],
                                 [["b\xff.mkv"], 30000]]);
    my $r = upload($t, as => 'up', ignore_warnings => JSON::PP::true,
                   title => '[ExampleGroup] Media Title - 01 ~ 03 [BD]',
                   primary_group => { id => "$gid", members => [
                       { id => undef, role => 'Encode',
                         display_name => 'Newbie' }] },
                   secondary_groups => [{ id => "$other_gid",
                                          role => 'Raws' },
                                        { id => "$gid", role => 'again' }]);
    is($r->{status}, 200, 'multi-file upload, warnings ignored: 200')
        or diag $r->{content};
    my $id = json_of($r)->{data}{id};
    my ($row) = PgTest::psql($db, "SELECT status, filesize, files::text
        FROM torrents WHERE id = $id");
    utf8::decode($row);
    is($row, "1\t50000\t"
       . '[{"path": "Batch/a/x.mkv", "length": 20000, "offset": 0}, '
       . qq|{"path": "Batch/b\x{fffd}.mkv", "length": 30000, |
       . '"offset": 20000}]',
       'uploader: approved; files with paths and offsets; bad UTF-8 '
       . 'replaced');
    my ($n) = PgTest::psql($db, "SELECT count(*) FROM torrent_episodes
                                 WHERE torrent_id = $id");
    is($n, 3, 'batch 01 ~ 03: three episodes');
    my ($inv) = PgTest::psql($db, "SELECT i.display_name FROM
        torrent_contributors c JOIN group_invites i ON i.id = c.invite_id
        WHERE c.torrent_id = $id");
    is($inv, 'Newbie', 'a new member becomes an orphan invite');
    my ($sec) = PgTest::psql($db, "SELECT role FROM torrent_groups
        WHERE torrent_id = $id AND NOT is_primary");
    is($sec, 'Raws', 'secondary group with its role; the primary group '
       . 'named again as secondary counts once');
}

# libtorrent's torrents: v1, v2-only, hybrid --------------------------------

SKIP: {
    skip 'python3-libtorrent not installed', 18 unless $have_lt;

    for my $kind (qw(v1 v2 hybrid)) {
        my $t = lt_torrent($kind, "lt$kind", $public, $backup);
        my $info = info_bytes($t);
        my ($want1, $want2) = (sha1_hex($info), sha256_hex($info));
        my $r = upload($t, title => "[ExampleGroup] Media Title - 0"
                                    . { v1 => 4, v2 => 5, hybrid => 6 }->{$kind}
                                    . " [$kind]");
        is($r->{status}, 200, "libtorrent $kind: 200") or diag $r->{content};
        my $id = json_of($r)->{data}{id} // 0;

        my ($row) = PgTest::psql($db, "SELECT encode(info_hash, 'hex'),
            coalesce(encode(info_hash_v2, 'hex'), '-'), filesize,
            jsonb_array_length(files), files->0->>'path'
            FROM torrents WHERE id = $id");
        my $ih = $kind eq 'v2' ? substr($want2, 0, 40) : $want1;
        my $ih2 = $kind eq 'v1' ? '-' : $want2;
        is($row, "$ih\t$ih2\t71234\t2\tShow lt$kind/a.mkv",
           "$kind: info hashes over the info bytes, files, size");

        $r = req(GET => "/torrents/$id/download", as => 'alice');
        is($r->{status}, 200, "$kind: downloaded");
        my $lt = lt_read($r->{content});
        is($lt, ($kind eq 'v2' ? '-' : $want1) . ' '
                . ($kind eq 'v1' ? '-' : $want2),
           "$kind: libtorrent reads the download with the same hashes");

        $r = req(GET => "/torrents/$id", as => 'alice');
        is(json_of($r)->{data}{infohash}, $ih, "$kind: GET shows the hash");

        $r = upload($t);
        is($r->{status}, 409, "$kind: duplicate 409");
    }
}

# fails and warns ------------------------------------------------------------

sub refusal {
    my ($r, $kind, $fails, $warns, $name) = @_;
    is($r->{status}, 400, "$name: 400");
    is_deeply(json_of($r), { error => JSON::PP::true,
        message => "Can't upload torrent due to parsing $kind.",
        fails => $fails, warns => $warns }, "$name: fails and warns");
}

{
    my $only_ours = v1_torrent(name => 'o.mkv', announce => $public);
    refusal(upload($only_ours), 'failures', [$fail_backup], [],
            'only our tracker');

    my $passkey = v1_torrent(name => 'p.mkv',
        tiers => [["$public/0123456789abcdef0123456789abcdef"]]);
    refusal(upload($passkey), 'failures', [$fail_backup], [],
            'a passkey URL of ours is no backup');

    my $none = v1_torrent(name => 'n.mkv');
    refusal(upload($none, audio_langs => ''), 'failures', [$fail_backup],
            [$warn_tracker, $warn_audio], 'no trackers at all, no audio');

    my $foreign = v1_torrent(name => 'f.mkv', announce => $backup);
    refusal(upload($foreign), 'warnings', [], [$warn_tracker],
            'no public tracker: a warning');
    refusal(upload($foreign, level => -1, ignore_warnings => JSON::PP::true),
            'failures', [$fail_nosubs], [$warn_tracker],
            'no subs with fansub languages: failure despite ignore_warnings');
    refusal(req(POST => '/upload', as => 'alice', body => without(
                upload_body($foreign, ignore_warnings => JSON::PP::true),
                'primary_group')),
            'failures', [$fail_group], [$warn_tracker],
            'release group in the title, no primary group');
    refusal(upload($foreign, audio_langs => 'jp,xx',
                   ignore_warnings => JSON::PP::true),
            'failures', ['Unknown language "xx".'], [$warn_tracker],
            'unknown language');

    my ($n) = PgTest::psql($db, "SELECT count(*) FROM torrents
        WHERE encode(info_hash, 'hex') = '" . sha1_hex(info_bytes($foreign))
        . "'");
    is($n, 0, 'refused uploads store nothing');
}

# auth and permissions ------------------------------------------------------

{
    my $t = v1_torrent(name => 'auth.mkv', announce => $backup,
                       tiers => [[$public], [$backup]]);
    my $r = req(POST => '/upload', body => upload_body($t));
    is($r->{status}, 401, 'no key: 401');
    $r = upload($t, as => 'banned');
    is($r->{status}, 403, 'no_upload permission: 403');
    $r = upload($t, as => 'bob');
    is($r->{status}, 403, 'not a member of the primary group: 403');
    $r = upload($t, primary_group => { id => '999', members => [] });
    is_deeply([$r->{status}, json_of($r)],
              [404, { error => JSON::PP::true,
                      message => 'Group not found.' }], 'unknown group: 404');
    $r = upload($t, primary_group => { id => "$gid", members => [
                    { id => "$uid{bob}", role => 'x' }] });
    is_deeply([$r->{status}, json_of($r)],
              [400, { error => JSON::PP::true,
                      message => 'Member not found.' }],
              'a member who is not in the group: 400');
    my ($n) = PgTest::psql($db, "SELECT count(*) FROM torrents
        WHERE title LIKE '%' AND encode(info_hash, 'hex') = '"
        . sha1_hex(info_bytes($t)) . "'");
    is($n, 0, 'a refused member leaves no torrent behind');
}

# validation -----------------------------------------------------------------

sub invalid {
    my ($r, $path, $keyword, $params, $message, $name) = @_;
    my $j = json_of($r) // {};
    is($r->{status}, 400, "$name: 400");
    my $field = $path eq '' ? '' : "'" . substr($path, 1) . "' ";
    is($j->{message}, "Data provided was invalid: $field$message.",
       "$name: message");
    my $e = $j->{validate_errors} && $j->{validate_errors}[0];
    is_deeply([$e->{instancePath}, $e->{keyword}, $e->{params},
               $e->{message}], [$path, $keyword, $params, $message],
              "$name: validate_errors") or diag $r->{content};
}

{
    my $t = v1_torrent(name => 'val.mkv', announce => $backup);
    my $b = upload_body($t);
    delete $b->{torrent};
    invalid(req(POST => '/upload', as => 'alice', body => $b), '',
            'required', { missingProperty => 'torrent' },
            "must have required property 'torrent'", 'missing torrent');
    invalid(upload($t, title => 'x' x 513), '/title', 'maxLength',
            { limit => 512 }, 'must NOT have more than 512 characters',
            'title too long');
    invalid(upload($t, movie => 'no'), '/movie', 'type',
            { type => 'boolean' }, 'must be boolean', 'movie not boolean');
    invalid(upload($t, category => 2), '/category', 'maximum',
            { comparison => '<=', limit => 1 }, 'must be <= 1',
            'category 2');
    invalid(upload($t, level => 5), '/level', 'maximum',
            { comparison => '<=', limit => 4 }, 'must be <= 4', 'level 5');
    invalid(upload($t, level => 'x'), '/level', 'type',
            { type => 'integer' }, 'must be integer', 'level not a number');
    invalid(upload($t, video_type => 'x'), '/video_type', 'type',
            { type => ['integer', 'null'] }, 'must be integer,null',
            'video_type neither number nor null');
    $b = upload_body($t);
    delete $b->{secondary_groups};
    invalid(req(POST => '/upload', as => 'alice', body => $b), '',
            'required', { missingProperty => 'secondary_groups' },
            "must have required property 'secondary_groups'",
            'missing secondary_groups');
    invalid(upload($t, secondary_groups => [map { { id => "$_" } } 1 .. 51]),
            '/secondary_groups', 'maxItems', { limit => 50 },
            'must NOT have more than 50 items', '51 secondary groups');
    invalid(upload($t, primary_group => { id => "$gid", members => [
                       { id => undef, role => 'r',
                         display_name => 'n' x 33 }] }),
            '/primary_group/members/0/display_name', 'maxLength',
            { limit => 32 }, 'must NOT have more than 32 characters',
            'display name too long');
    invalid(upload($t, audio_langs => 'a' x 257), '/audio_langs',
            'maxLength', { limit => 256 },
            'must NOT have more than 256 characters', 'audio_langs too long');
}

# malformed torrents ---------------------------------------------------------

{
    my $good = v1_torrent(name => 'm.mkv', announce => $backup);
    my $info = info_bytes($good);
    my %bad = (
        'not base64' => ['!!!!', 'not base64'],
        'base64 then junk' => [encode_base64($good, '') . '*junk',
                               'not base64'],
        'not a dictionary' => ['li1ee', 'not a dictionary'],
        'data after the end' => [$good . 'x', 'data after the dictionary'],
        'unsorted keys' => ['d4:infod4:name1:a12:piece lengthi16384e'
                            . '6:lengthi1e6:pieces20:' . ('x' x 20) . 'ee',
                            'dictionary keys not sorted or not unique'],
        'leading zero' => ["d4:info" . ($info =~ s/i40000e/i040000e/r) . 'e',
                           'non-canonical integer'],
        'minus zero' => ['d1:ai-0e4:info' . $info . 'e',
                         'non-canonical integer'],
        'deep nesting' => ['d1:a' . ('l' x 100) . ('e' x 100) . '4:info'
                           . $info . 'e', 'nested too deep'],
        'huge length' => ['d4:info9999999999:xe', 'string too long'],
        'truncated' => [substr($good, 0, -5), 'truncated string'],
        'no info' => ['d8:announce1:xe', 'no info dictionary'],
        'no name' => ['d4:infod6:lengthi1e12:piece lengthi16384e6:pieces20:'
                      . ('x' x 20) . 'ee', 'no name'],
        'pieces do not match' => ['d4:infod6:lengthi99999e4:name1:a'
                                  . '12:piece lengthi16384e6:pieces20:'
                                  . ('x' x 20) . 'ee',
                                  'the number of pieces does not match the '
                                  . 'size'],
        'length and files' => ['d4:infod5:filesle6:lengthi1e4:name1:a'
                               . '12:piece lengthi16384e6:pieces20:'
                               . ('x' x 20) . 'ee',
                               'a v1 torrent needs either length or files'],
        'meta version 3' => ['d4:infod12:meta versioni3e4:name1:a'
                             . '12:piece lengthi16384eee',
                             'unsupported meta version'],
        'negative length' => ['d4:infod6:lengthi-1e4:name1:a'
                              . '12:piece lengthi16384e6:pieces0:ee',
                              'a file without a valid length'],
        'huge integer' => ['d4:infod6:lengthi99999999999999999999e4:name1:a'
                           . '12:piece lengthi16384e6:pieces0:ee',
                           'a file without a valid length'],
    );
    for my $name (sort keys %bad) {
        my ($data, $why) = @{ $bad{$name} };
        my $b64 = $name =~ /base64/ ? $data : encode_base64($data, '');
        my $r = req(POST => '/upload', as => 'alice',
                    body => { %{ upload_body('') }, torrent => $b64 });
        is_deeply([$r->{status}, json_of($r)],
                  [400, { error => JSON::PP::true,
                          message => "Invalid torrent file: $why." }],
                  "malformed: $name") or diag $r->{content};
    }

    my $wrapped = encode_base64($good);     # 76-column lines, padding
    my $r = req(POST => '/upload', as => 'alice',
                body => { %{ upload_body($good) }, torrent => $wrapped,
                          ignore_warnings => JSON::PP::true,
                          title => '[ExampleGroup] Media Title - 07' });
    is($r->{status}, 200, 'line-wrapped base64 is accepted')
        or diag $r->{content};

    my $big = 'x' x (300 * 1024);
    $r = req(POST => '/upload', as => 'alice',
             body => { %{ upload_body($good) }, torrent => $big });
    is($r->{status}, 413, 'a body over client_body_buffer_size: 413');

    $r = req(POST => '/upload', as => 'alice', body => '{"torrent":');
    is($r->{status}, 400, 'not JSON: 400');
}

# PUT /upload/checks ---------------------------------------------------------

{
    my $body = {
        title => '[ExampleGroup] Media Title - 02v2 [WEB 1080p x265]',
        movie => JSON::PP::false, video_type => undef, video_codec => undef,
        files => [{ path => 'x.mkv' }], level => '', mtl => JSON::PP::false,
        otl => JSON::PP::true, hardsub => JSON::PP::false, audio_langs => '',
        sub_langs => '', fansub_langs => 'en',
        announce_urls => [$backup], raw_announce_urls => [[$backup]] };

    my $r = req(PUT => '/upload/checks', body => $body);
    is($r->{status}, 401, 'checks without a key: 401');

    $r = req(PUT => '/upload/checks', as => 'alice', body => $body);
    is($r->{status}, 200, 'checks: 200') or diag $r->{content};
    my $d = (json_of($r) // {})->{data};
    is_deeply($d->{fails}, [$fail_group], 'checks: group failure');
    is_deeply($d->{warns}, [$warn_tracker, $warn_audio], 'checks: warnings');
    is_deeply($d->{parsedData}, {
        media => { torrentTitle => 'Media Title',
                   releaseTokens => ' [WEB 1080p x265]',
                   title => 'Media Title', genres => ['Action', 'Comedy'],
                   id => 's100' },
        episodes => [{ id => 1002, title => 'Episode 2', season => 1,
                       episode => 2, absolute => 2 }],
        quality => { id => 3, name => 'WEBDL-1080p', source => 'web',
                     resolution => 1080, version => 2 },
        releaseGroup => 'ExampleGroup' }, 'checks: parsedData');
    is($d->{auto_title}, '[ExampleGroup] Media Title - 02v2 [WEB 1080p x265]'
       . ' {Tags:OTL;F-en;}', 'checks: auto_title with tags');
    is_deeply($d->{upgraded_torrents}, [], 'checks: nothing to upgrade');

    $r = req(PUT => '/upload/checks', as => 'alice', body => { %$body,
        title => '[ExampleGroup] Media Title - 01 [BD 1080p]',
        primary_group => { id => "$gid", tag => 'ExampleGroup',
                           members => [] },
        announce_urls => [$public, $backup], audio_langs => 'ja',
        level => 2 });
    $d = (json_of($r) // {})->{data};
    is_deeply([$d->{fails}, $d->{warns}], [[], []],
              'checks: nothing to say');
    is_deeply($d->{upgraded_torrents},
              [{ id => $t1_id, title => '[ExampleGroup] Media Title - 01 '
                 . '[WEB 1080p x265]' }],
              'checks: the earlier release of episode 1 would be upgraded');

    $r = req(PUT => '/upload/checks', as => 'alice', body => { %$body,
        title => 'Something.Else.Entirely.S01E03.720p.HDTV.x264-GRP',
        fansub_langs => '' });
    $d = (json_of($r) // {})->{data};
    is_deeply([$d->{parsedData}{media}{id}, $d->{parsedData}{releaseGroup},
               $d->{parsedData}{quality}{name}, $d->{parsedData}{episodes}],
              ['s200', 'GRP', 'HDTV-720p', []],
              'checks: scene name; media without episodes');

    $r = req(PUT => '/upload/checks', as => 'alice', body => { %$body,
        title => '[ExampleGroup] Media Title (2020) [BD 1080p]',
        movie => JSON::PP::true });
    $d = (json_of($r) // {})->{data};
    is($d->{parsedData}{media}{id}, 'm300', 'checks: a movie matches movies');

    $r = req(PUT => '/upload/checks', as => 'alice',
             body => { %$body, level => 9 });
    is($r->{status}, 400, 'checks: level 9 is a 400');
    $r = req(PUT => '/upload/checks', as => 'alice',
             body => { %$body, raw_announce_urls => [['x', 5, []]] });
    is(json_of($r)->{validate_errors}[0]{instancePath},
       '/raw_announce_urls/0/2', 'checks: nested array items are checked');
}

# the title parser on random names: never an error, always a title and a
# quality (it is SQL, so no libFuzzer target; this is its sweep)
{
    my ($row) = PgTest::psql($db, q{
        WITH toks AS (SELECT ARRAY['[', ']', '(', ')', ' - ', ' ', 'S01',
                 'E02', 'e', '01', '7', 'v2', '~', '-', '.', '_', '1080p',
                 '720i', '4K', 'WEB', 'WEB-DL', 'BD', 'x265', 'HEVC',
                 'Remux', 'Media', 'Title', 'Season ', '9999', '(2020)',
                 E'\u00e9', E'\u65e5', '\\', '%', '''', '"', '?', '*',
                 '+', '{', '}', '|', '^', '$'] AS t),
        names AS (SELECT i, (SELECT string_agg(
                     -- g in the argument: the aggregate is this level's
                     CASE WHEN g < 0 THEN '' WHEN random() < 0.1
                          THEN chr(32 + (random() * 1000)::int)
                          ELSE t[1 + (random() * (cardinality(t) - 1))::int]
                     END, '')
                   FROM generate_series(0, (random() * 16)::int + i % 2)
                   g) AS name
                  FROM toks, generate_series(1, 3000) i),
        parsed AS (SELECT name, api_upload_parse_title(name) AS p,
                          (api_upload_parsed(name, i % 3 = 0)).parsed AS d
                   FROM names WHERE name IS NOT NULL)
        SELECT count(*),
               count(*) FILTER (WHERE jsonb_typeof(p->'title') = 'string'
                   AND jsonb_typeof(p->'quality'->'id') = 'number'
                   AND jsonb_typeof(d->'episodes') = 'array'
                   AND d->'media' ? 'torrentTitle')
        FROM parsed});
    my ($n, $good) = split /\t/, $row // '';
    ok($n && $n > 2500 && $good == $n,
       "title parser: $good of $n random names parsed into the shape");
}

# PUT /upload/mediainfo ------------------------------------------------------

{
    my $text = <<'EOF';
General
Complete name                            : example.mkv
Format                                   : Matroska

Video
ID                                       : 1
Format                                   : HEVC
Format/Info                              : High Efficiency Video Coding

Audio
ID                                       : 2
Format                                   : FLAC
Language                                 : Japanese

Text #1
ID                                       : 3
Format                                   : ASS
Title                                    : English Subtitles
Language                                 : English

Text #2
ID                                       : 4
Format                                   : ASS
Title                                    : [FanGroup] Fansub
Language                                 : es
EOF
    my $r = req(PUT => '/upload/mediainfo', body => { mediainfo => $text });
    is($r->{status}, 200, 'mediainfo text: 200 (no key needed)')
        or diag $r->{content};
    is_deeply(json_of($r), { error => JSON::PP::false, data => {
        video_codec => 2, audio_langs => 'ja', sub_langs => 'en',
        fansub_langs => 'es-es' } }, 'mediainfo text: codec and languages');

    my $media = { track => [
        { '@type' => 'General', Format => 'Matroska' },
        { '@type' => 'Video', Format => 'AVC' },
        { '@type' => 'Audio', Format => 'AAC', Language => 'ja' },
        { '@type' => 'Audio', Format => 'AAC', Language => 'en' },
        { '@type' => 'Text', Format => 'UTF-8', Language => 'en' } ] };
    for my $how ([whole => { creatingLibrary => {}, media => $media }],
                 [media => $media]) {
        $r = req(PUT => '/upload/mediainfo', as => 'alice',
                 body => { mediainfo => $how->[1] });
        is_deeply(json_of($r), { error => JSON::PP::false, data => {
            video_codec => 1, audio_langs => 'en,ja', sub_langs => 'en',
            fansub_langs => '' } }, "mediainfo JSON ($how->[0])");
    }

    $r = req(PUT => '/upload/mediainfo', body => { mediainfo => 'nothing' });
    is_deeply([$r->{status}, json_of($r)], [400, { error => JSON::PP::true,
        message => 'Failed to extract mediainfo text languages and codec.' }],
        'mediainfo with nothing in it: 400');
    invalid(req(PUT => '/upload/mediainfo', body => { mediainfo => [] }),
            '/mediainfo', 'type', { type => ['string', 'object'] },
            'must be string,object', 'mediainfo an array');
    invalid(req(PUT => '/upload/mediainfo', body => {}), '', 'required',
            { missingProperty => 'mediainfo' },
            "must have required property 'mediainfo'", 'mediainfo missing');
}

# a database that is down ---------------------------------------------------

{
    $down->start(<<"EOF") or BAIL_OUT('nginx (db down) did not start');
    tracker_database "host=127.0.0.1 port=1 dbname=none connect_timeout=2";
    server {
        listen 127.0.0.1:${\ $down->port};
        client_body_buffer_size 64k;
        location /api/v1/ { tracker_api; }
    }
EOF
    my $t = v1_torrent(name => 'down.mkv', announce => $backup);
    my $at = 'http://127.0.0.1:' . $down->port . '/api/v1';
    my $r = upload($t, base => $at);
    is_deeply([$r->{status}, json_of($r)], [503, { error => JSON::PP::true,
        message => 'Database unavailable.' }], 'database down: 503');
    $r = upload($t, base => $at, torrent => 'AAAA');
    is($r->{status}, 400, 'database down: a bad torrent is still a 400');
}

done_testing();
