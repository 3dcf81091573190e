# Gazelle's ajax.php (location = /ajax.php { tracker_gazelle; }) against a
# real nginx and PostgreSQL: the envelope, every action's shape and JSON
# types (ints where Gazelle has ints), the token forms, failures (HTTP 200,
# 401 with tracker_gazelle_strict), unknown and unimplemented actions, the
# .torrent download with the caller's passkey, the Gazelle rate-limit
# bucket keyed by $tracker_gazelle_key with an exempt class, and a
# database that is down.
#
# Plain TAP: nginx via t/TrackerNginx.pm, PostgreSQL via t/PgTest.pm.

use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use Test::More;
use B ();
use Digest::SHA qw(sha1 sha1_hex sha256_hex);
use HTTP::Tiny;
use JSON::PP;
use PgTest;
use TrackerNginx;

my $db = PgTest::fresh_db();
my $ngx = TrackerNginx->new(name => 'gazelle', port_offset => 0);
my $down = TrackerNginx->new(name => 'gazelle-down', port_offset => 1);

END { local $?; $ngx->quit('TERM') if $ngx; $down->quit('TERM') if $down }

my @sql;
sub q1 { push @sql, shift() . ';' }

# fixtures ------------------------------------------------------------------

my $public = 'http://tracker.test/announce';
q1("INSERT INTO site_settings (key, value) VALUES
    ('public_tracker_url', '$public'), ('site_name', 'Gazelle Test')
    ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value");

# name => [permissions, uploaded, downloaded]
my %user = (alice => [0, 3000, 1000], don => [32, 0, 0],
            mod => [2, 10, 0], carol => [0, 0, 500]);
my (%key, %tkey);

for my $u (sort keys %user) {
    $key{$u} = "$u-gazelle-token";
    $tkey{$u} = substr(sha1_hex("tk-$u"), 0, 32);
    q1("INSERT INTO users (username, torrent_key, permissions, uploaded,
        downloaded, description)
        VALUES ('$u', '$tkey{$u}', $user{$u}[0], $user{$u}[1],
                $user{$u}[2], 'I am $u')");
    q1("INSERT INTO api_keys (user_id, key_hash)
        SELECT id, '" . sha256_hex($key{$u}) . "' FROM users
        WHERE username = '$u'");
}

q1("INSERT INTO media (id, title, year, genres, overview, banner_url)
    VALUES ('s7', 'Harbor Show', 2024, '{Drama,Anime}', 'Ships.',
            'http://img.test/s7.jpg')");

sub benc_str { my $s = shift; return length($s) . ":$s" }

my (%ih, %tid);

# tag => options: media, status, deleted, hidden, dl, ul, files, codec, ...
sub add {
    my ($tag, %o) = @_;
    my $info = 'd6:lengthi' . ($o{size} // 1000) . 'e4:name'
               . benc_str($tag) . '12:piece lengthi16384e6:pieces20:'
               . sha1("p-$tag") . 'e';
    my $file = 'd8:announce' . benc_str('http://old.test/announce')
               . "4:info${info}e";
    $ih{$tag} = sha1($info);
    my $size = $o{size} // 1000;
    my $files = $o{files}
                // qq{[{"path":"$tag.mkv","length":$size,"offset":0}]};
    q1("INSERT INTO torrents (info_hash, torrent_data, title, description,
        status, deleted, hidden, media_id, uploader_id, filesize, files,
        dl_percent, ul_percent, video_codec, seeders, leechers, completed,
        uploaded_at, anonymous)
        SELECT '\\x" . unpack('H*', $ih{$tag}) . "',
               decode('" . unpack('H*', $file) . "', 'hex'),
               'Release $tag', 'About $tag', " . ($o{status} // 1) . ", "
        . ($o{deleted} ? 'now()' : 'NULL') . ", "
        . ($o{hidden} ? 'true' : 'false') . ", "
        . ($o{media} ? "'$o{media}'" : 'NULL') . ", id, "
        . ($o{size} // 1000) . ", '$files', " . ($o{dl} // 100) . ", "
        . ($o{ul} // 100) . ", " . ($o{codec} // 'NULL') . ", "
        . ($o{seeders} // 0) . ", " . ($o{leechers} // 0) . ", "
        . ($o{completed} // 0) . ", now() - interval '"
        . ($o{age} // '2 days') . "', " . ($o{anonymous} ? 'true' : 'false')
        . " FROM users WHERE username = '" . ($o{uploader} // 'alice')
        . "'");
}

add('ep1', media => 's7', codec => 2, size => 5000, seeders => 5,
    leechers => 1, completed => 7, age => '3 days');
add('ep2', media => 's7', codec => 2, size => 9000, seeders => 2,
    leechers => 4, completed => 1, dl => 0, age => '1 hour');
add('lone', size => 300, seeders => 9, completed => 2, dl => 0, ul => 0,
    uploader => 'mod', anonymous => 1, age => '5 days',
    files => '[{"path":"Lone/a.mkv","length":200,"offset":0},'
           . '{"path":"Lone/sub/b.srt","length":100,"offset":200}]');
add('hid', media => 's7', hidden => 1, uploader => 'mod');
add('pend', media => 's7', status => 0, uploader => 'mod');
add('gone', media => 's7', deleted => 1);

q1("INSERT INTO snatches (user_id, torrent_id)
    SELECT u.id, t.id FROM users u, torrents t
    WHERE u.username = 'alice' AND t.title = 'Release ep1'");
q1("INSERT INTO comments (torrent_id, user_id, text)
    SELECT t.id, u.id, 'nice' FROM users u, torrents t
    WHERE u.username = 'alice' AND t.title = 'Release ep1'");
q1("INSERT INTO notifications (user_id, data, seen, created_at)
    SELECT id, n.data, n.seen, now() - n.age FROM users,
    (VALUES ('Old news.', true, interval '2 days'),
            ('Fresh news.', false, interval '1 hour')) AS n(data, seen, age)
    WHERE username = 'alice'");
q1("INSERT INTO announcements (start_time, end_time, message, link)
    VALUES (now() - interval '1 day', now() + interval '1 day',
            'Site is up.', 'http://site.test/news'),
           (now() + interval '1 day', now() + interval '2 days',
            'Not yet.', '')");

PgTest::psql($db, join "\n", @sql);

for my $row (PgTest::psql($db, "SELECT encode(info_hash, 'hex'), id
                               FROM torrents")) {
    my ($hex, $id) = split /\t/, $row;
    my ($tag) = grep { unpack('H*', $ih{$_}) eq $hex } keys %ih;
    $tid{$tag} = $id if $tag;
}

my %uid = map { split /\t/ } PgTest::psql($db,
    'SELECT username, id FROM users');
my $gid = PgTest::psql($db, "SELECT gazelle_id FROM media WHERE id = 's7'");

is(scalar(keys %tid), scalar(keys %ih), 'fixtures inserted');

# nginx ---------------------------------------------------------------------

my $conf = sub {
    my ($conn, $n) = @_;
    return <<"EOF";
    tracker_database "$conn";
    tracker_limit_zone lim:1m;
    server {
        listen 127.0.0.1:${\ $n->port};
        location = /ajax.php { tracker_gazelle; }
        location = /strict/ajax.php {
            tracker_gazelle;
            tracker_gazelle_strict on;
        }
        location = /limited/ajax.php {
            tracker_gazelle;
            tracker_gazelle_exempt donor;
            tracker_limit zone=lim bucket=gazelle key=\$tracker_gazelle_key
                          rate=1r/6s;
            tracker_limit_answer gazelle;
        }
    }
EOF
};

$ngx->start($conf->($db, $ngx)) or BAIL_OUT('nginx did not start');

my $http = HTTP::Tiny->new(timeout => 20);
my $base = 'http://127.0.0.1:' . $ngx->port;

# req('action=index', as => 'alice', auth => 'bearer'|'token'|'bare')
sub req {
    my ($query, %o) = @_;
    my %h;
    if ($o{as}) {
        my $k = $key{$o{as}} // $o{as};
        my $form = $o{auth} // 'bearer';
        $h{Authorization} = $form eq 'bearer' ? "Bearer $k"
                          : $form eq 'token' ? "token $k" : $k;
    }
    $h{Authorization} = $o{header} if defined $o{header};
    return $http->request('GET',
        ($o{base} // $base) . ($o{path} // '/ajax.php') . "?$query",
        { headers => \%h });
}

sub json_of {
    my $res = shift;
    return eval { decode_json($res->{content}) } // {};
}

# a JSON number (not a string that looks like one)
sub is_num {
    my $v = shift;
    return 0 if !defined $v || ref $v;
    my $f = B::svref_2object(\$v)->FLAGS;
    return ($f & (B::SVp_IOK | B::SVp_NOK)) && !($f & B::SVp_POK) ? 1 : 0;
}

sub is_str {
    my $v = shift;
    return 0 if !defined $v || ref $v;
    return B::svref_2object(\$v)->FLAGS & B::SVp_POK ? 1 : 0;
}

sub is_bool { return JSON::PP::is_bool(shift) ? 1 : 0 }

# checks an object's keys exactly and each value's type:
# n number, s string, b boolean, a array, o object, z null
sub shape {
    my ($obj, $spec, $name) = @_;
    is_deeply([sort keys %$obj], [sort keys %$spec], "$name: keys");
    for my $k (sort keys %$spec) {
        my ($t, $v) = ($spec->{$k}, $obj->{$k});
        my $ok = $t eq 'n' ? is_num($v)
               : $t eq 's' ? is_str($v)
               : $t eq 'b' ? is_bool($v)
               : $t eq 'a' ? ref $v eq 'ARRAY'
               : $t eq 'o' ? ref $v eq 'HASH'
               : $t eq 'z' ? !defined $v
               : $t eq 'nz' ? (!defined $v || is_num($v)) : 0;
        ok($ok, "$name: $k is " . ($t eq 'nz' ? 'number or null' : $t));
    }
}

# the success envelope; returns the response
sub success {
    my ($res, $name) = @_;
    is($res->{status}, 200, "$name: 200");
    is($res->{headers}{'content-type'}, 'application/json; charset=utf-8',
       "$name: content type");
    my $j = json_of($res);
    is_deeply([sort keys %$j], [qw(info response status)],
              "$name: envelope keys");
    is($j->{status}, 'success', "$name: success");
    is_deeply($j->{info}, { source => 'Gazelle Test', version => 1 },
              "$name: info");
    ok(is_num($j->{info}{version}), "$name: version is a number");
    return $j->{response};
}

sub failure {
    my ($res, $error, $name, $status) = @_;
    is($res->{status}, $status // 200, "$name: status " . ($status // 200));
    is($res->{headers}{'content-type'}, 'application/json; charset=utf-8',
       "$name: content type");
    is_deeply(json_of($res), { status => 'failure', error => $error },
              "$name: failure \"$error\"");
}

# auth ----------------------------------------------------------------------

for my $form (qw(bearer token bare)) {
    my $r = success(req('action=index', as => 'alice', auth => $form),
                    "index, $form token");
    is($r->{username}, 'alice', "$form: the token's user");
}

success(req('action=index', header => 'bEaReR   alice-gazelle-token  '),
        'scheme in any case, spaces around the token');
failure(req('action=index'), 'bad credentials', 'no token');
failure(req('action=index', as => 'nobody'), 'bad credentials',
        'unknown token');
failure(req('action=index', header => 'Basic YWxpY2U6cHc='),
        'bad credentials', 'another scheme');
failure(req('action=index', header => 'Bearer '), 'bad credentials',
        'empty token');
failure(req('action=index', path => '/strict/ajax.php'), 'bad credentials',
        'strict: no token', 401);
failure(req('action=index', as => 'nobody', path => '/strict/ajax.php'),
        'bad credentials', 'strict: unknown token', 401);
success(req('action=index', as => 'alice', path => '/strict/ajax.php'),
        'strict: a good token');

# actions -------------------------------------------------------------------

failure(req('action=nonsense', as => 'alice'), 'bad action',
        'unknown action');
failure(req('', as => 'alice'), 'bad action', 'no action');
for my $a (qw(similar_artists better torrent_info checkprivate
              votefavorite artist requests)) {
    failure(req("action=$a", as => 'alice'), 'action not implemented',
            "documented but not implemented: $a");
}
failure(req('action=browse&searchstr=' . ('x' x 600), as => 'alice'),
        'bad parameters', 'a parameter longer than allowed');

# index
{
    my $r = success(req('action=index', as => 'alice'), 'index');
    shape($r, { username => 's', id => 'n', authkey => 's', passkey => 's',
                notifications => 'o', userstats => 'o' }, 'index');
    is($r->{id}, $uid{alice}, 'index: id');
    is($r->{passkey}, $tkey{alice}, 'index: passkey is the torrent key');
    shape($r->{notifications}, { messages => 'n', notifications => 'n',
        newAnnouncement => 'b', newBlog => 'b', newSubscriptions => 'b' },
        'index notifications');
    is($r->{notifications}{notifications}, 1, 'index: one unread');
    ok($r->{notifications}{newAnnouncement}, 'index: a new announcement');
    shape($r->{userstats}, { uploaded => 'n', downloaded => 'n',
        ratio => 'n', requiredratio => 'n', class => 's' },
        'index userstats');
    is_deeply([@{ $r->{userstats} }{qw(uploaded downloaded ratio class)}],
              [3000, 1000, 3, 'User'], 'index: userstats values');

    $r = success(req('action=index', as => 'don'), 'index, no traffic');
    is($r->{userstats}{ratio}, 0, 'no traffic: ratio 0');
    is($r->{userstats}{class}, 'Donor', 'the donor class');
    $r = success(req('action=index', as => 'mod'), 'index, no download');
    is($r->{userstats}{ratio}, -1, 'nothing downloaded: ratio -1');
}

# user
{
    my $r = success(req("action=user&id=$uid{alice}", as => 'carol'),
                    'user');
    shape($r, { username => 's', avatar => 's', isFriend => 'b',
                profileText => 's', stats => 'o', ranks => 'o',
                personal => 'o', community => 'o' }, 'user');
    is($r->{profileText}, 'I am alice', 'user: profile text');
    shape($r->{stats}, { joinedDate => 's', lastAccess => 's',
        uploaded => 'n', downloaded => 'n', ratio => 'n',
        requiredRatio => 'n' }, 'user stats');
    like($r->{stats}{joinedDate}, qr/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/,
         'user: Gazelle time format');
    is($r->{stats}{ratio}, 3, 'user: ratio');
    shape($r->{ranks}, { uploaded => 'n', downloaded => 'n',
        uploads => 'z', requests => 'z', bounty => 'z', posts => 'z',
        artists => 'z', overall => 'n' }, 'user ranks');
    # uploaded: 3000 beats 10, 0, 0 of 4 users
    is($r->{ranks}{uploaded}, 75, 'user: upload rank is a percentile');
    is($r->{ranks}{downloaded}, 75, 'user: download rank (1000 > 500, 0, 0)');
    is($r->{ranks}{overall}, 75, 'user: overall rank, their mean');
    my $c = success(req("action=user&id=$uid{carol}", as => 'alice'),
                    'user, ranks of another');
    is_deeply([@{ $c->{ranks} }{qw(uploaded downloaded overall)}],
              [0, 50, 25], 'user: ranks of a user with less');
    shape($r->{personal}, { class => 's', paranoia => 'n',
        paranoiaText => 's', donor => 'b', warned => 'b', enabled => 'b',
        passkey => 's' }, 'user personal');
    is($r->{personal}{passkey}, '', "user: nobody else's passkey");
    shape($r->{community}, { posts => 'n', torrentComments => 'n',
        collagesStarted => 'z', collagesContrib => 'z',
        requestsFilled => 'z', requestsVoted => 'z', perfectFlacs => 'z',
        uploaded => 'n', groups => 'n', seeding => 'n', leeching => 'n',
        snatched => 'n', invited => 'z' }, 'user community');
    is_deeply([@{ $r->{community} }{qw(torrentComments uploaded groups
                                        snatched)}],
              [1, 2, 1, 1], 'user: community counts');

    $r = success(req("action=user&id=$uid{alice}", as => 'alice'),
                 'user, self');
    is($r->{personal}{passkey}, $tkey{alice}, 'user: own passkey');
    $r = success(req("action=user&id=$uid{mod}", as => 'alice'),
                 'user, anonymous uploads');
    is($r->{community}{uploaded}, 0,
       "user: others don't count anonymous uploads");
    $r = success(req("action=user&id=$uid{mod}", as => 'mod'),
                 'user, own anonymous uploads');
    is($r->{community}{uploaded}, 1, 'user: own anonymous uploads count');

    failure(req('action=user', as => 'alice'), 'bad id parameter',
            'user without id');
    failure(req('action=user&id=abc', as => 'alice'), 'bad id parameter',
            'user, id not a number');
    failure(req('action=user&id=12345', as => 'alice'), 'no such user',
            'user not found');
}

# usersearch
{
    my $r = success(req('action=usersearch&search=ALICE', as => 'carol'),
                    'usersearch');
    shape($r, { currentPage => 'n', pages => 'n', results => 'a' },
          'usersearch');
    is(scalar @{ $r->{results} }, 1, 'usersearch: exact name, any case');
    shape($r->{results}[0], { userId => 'n', username => 's', donor => 'b',
        warned => 'b', enabled => 'b', class => 's' }, 'usersearch result');
    is($r->{results}[0]{userId}, $uid{alice}, 'usersearch: the id');
    $r = success(req('action=usersearch&search=ali', as => 'carol'),
                 'usersearch, a part of a name');
    is_deeply([$r->{pages}, $r->{results}], [0, []],
              'usersearch: no partial matches');
    failure(req('action=usersearch&search=', as => 'carol'),
            'no search terms', 'usersearch without terms');
}

# browse
my %torrent_shape = (torrentId => 'n', editionId => 'n', artists => 'a',
    remastered => 'b', remasterYear => 'n', remasterCatalogueNumber => 's',
    remasterTitle => 's', media => 's', encoding => 's', format => 's',
    hasLog => 'b', logScore => 'n', hasCue => 'b', scene => 'b',
    vanityHouse => 'b', fileCount => 'n', time => 's', size => 'n',
    snatches => 'n', seeders => 'n', leechers => 'n', isFreeleech => 'b',
    isNeutralLeech => 'b', isPersonalFreeleech => 'b', canUseToken => 'b',
    hasSnatched => 'b');
{
    my $r = success(req('action=browse&searchstr=release', as => 'alice'),
                    'browse');
    shape($r, { currentPage => 'n', pages => 'n', results => 'a' },
          'browse');
    is_deeply([$r->{currentPage}, $r->{pages}], [1, 1], 'browse: one page');
    # "time" is the id (upload order): lone, then ep2 and ep1 (grouped)
    is(scalar @{ $r->{results} }, 2, 'browse: a media group and a lone one');
    my ($l, $g) = @{ $r->{results} };
    shape($g, { groupId => 'n', groupName => 's', artist => 's',
        cover => 's', tags => 'a', bookmarked => 'b', vanityHouse => 'b',
        groupYear => 'n', releaseType => 's', groupTime => 's',
        maxSize => 'n', totalSnatched => 'n', totalSeeders => 'n',
        totalLeechers => 'n', torrents => 'a' }, 'browse group');
    is_deeply([@$g{qw(groupId groupName groupYear maxSize totalSeeders
                      totalLeechers totalSnatched)}],
              [$gid, 'Harbor Show', 2024, 9000, 7, 5, 8],
              'browse: the group and its totals');
    is_deeply($g->{tags}, ['Drama', 'Anime'], 'browse: genres as tags');
    is_deeply([map { $_->{torrentId} } @{ $g->{torrents} }],
              [$tid{ep2}, $tid{ep1}],
              'browse: listed torrents of the page, in order');
    shape($g->{torrents}[0], \%torrent_shape, 'browse torrent');
    is_deeply([map { @$_{qw(isFreeleech hasSnatched format)} }
               @{ $g->{torrents} }],
              [JSON::PP::true, JSON::PP::false, 'H265',
               JSON::PP::false, JSON::PP::true, 'H265'],
              'browse: freeleech, snatched, codec as format');
    shape($l, { groupId => 'n', groupName => 's', torrentId => 'n',
        tags => 'a', category => 's', fileCount => 'n', groupTime => 's',
        size => 'n', snatches => 'n', seeders => 'n', leechers => 'n',
        isFreeleech => 'b', isNeutralLeech => 'b',
        isPersonalFreeleech => 'b', canUseToken => 'b', hasSnatched => 'b'},
        'browse, a torrent without a media');
    is_deeply([@$l{qw(groupId torrentId fileCount size isNeutralLeech)}],
              [$tid{lone}, $tid{lone}, 2, 300, JSON::PP::true],
              'browse: a torrent alone is its own group');

    $r = success(req('action=browse&searchstr=release&order_by=size'
                     . '&order_way=asc', as => 'alice'), 'browse by size');
    is_deeply([map { $_->{groupId} } @{ $r->{results} }],
              [$tid{lone}, $gid], 'browse: order_by size asc');
    is_deeply([map { $_->{torrentId} } @{ $r->{results}[1]{torrents} }],
              [$tid{ep1}, $tid{ep2}], 'browse: torrents in the order too');

    $r = success(req('action=browse&searchstr=release&freetorrent=2',
                     as => 'alice'), 'browse neutral leech');
    is_deeply([map { $_->{groupId} } @{ $r->{results} }], [$tid{lone}],
              'browse: freetorrent=2');
    $r = success(req('action=browse&searchstr=release&page=2',
                     as => 'alice'), 'browse page 2');
    is_deeply([$r->{currentPage}, $r->{pages}, $r->{results}], [2, 0, []],
              'browse: past the last page');
    $r = success(req('action=browse&searchstr=nothing+like+this',
                     as => 'alice'), 'browse, nothing found');
    is_deeply($r->{results}, [], 'browse: no results');
    $r = success(req('action=browse&searchstr=' . unpack('H*', $ih{ep1}),
                     as => 'alice'), 'browse by info hash');
    is_deeply([map { $_->{torrentId} } @{ $r->{results}[0]{torrents} }],
              [$tid{ep1}], "browse: the search's info hash hint");
}

# torrent
my %group_shape = (wikiBody => 's', wikiImage => 's', id => 'n',
    name => 's', year => 'n', recordLabel => 's', catalogueNumber => 's',
    releaseType => 'n', categoryId => 'n', categoryName => 's', time => 's',
    vanityHouse => 'b', isBookmarked => 'b', musicInfo => 'z', tags => 'a');
my %detail_shape = (id => 'n', infoHash => 's', media => 's',
    format => 's', encoding => 's', remastered => 'b', remasterYear => 'n',
    remasterTitle => 's', remasterRecordLabel => 's',
    remasterCatalogueNumber => 's', scene => 'b', hasLog => 'b',
    hasCue => 'b', logScore => 'n', fileCount => 'n', size => 'n',
    seeders => 'n', leechers => 'n', snatched => 'n', freeTorrent => 'b',
    reported => 'b', time => 's', description => 's', fileList => 's',
    filePath => 's', userId => 'n', username => 's');
{
    my $r = success(req("action=torrent&id=$tid{ep1}", as => 'carol'),
                    'torrent by id');
    shape($r, { group => 'o', torrent => 'o' }, 'torrent');
    shape($r->{group}, \%group_shape, 'torrent group');
    shape($r->{torrent}, \%detail_shape, 'torrent torrent');
    is_deeply([@{ $r->{group} }{qw(id name year wikiBody wikiImage
                                    categoryName)}],
              [$gid, 'Harbor Show', 2024, 'Ships.', 'http://img.test/s7.jpg',
               'TV'], 'torrent: its media is the group');
    my $t = $r->{torrent};
    is_deeply([@$t{qw(id infoHash size seeders leechers snatched
                       fileList filePath username userId description)}],
              [$tid{ep1}, uc unpack('H*', $ih{ep1}), 5000, 5, 1, 7,
               'ep1.mkv{{{5000}}}', '', 'alice', $uid{alice}, 'About ep1'],
              'torrent: values, fileList in name{{{size}}} form');

    for my $h (uc(unpack('H*', $ih{ep1})), unpack('H*', $ih{ep1})) {
        $r = success(req("action=torrent&hash=$h", as => 'carol'),
                     'torrent by hash');
        is($r->{torrent}{id}, $tid{ep1}, 'torrent by hash: '
           . ($h =~ /[A-F]/ ? 'upper' : 'lower') . ' case');
    }

    $r = success(req("action=torrent&id=$tid{lone}", as => 'carol'),
                 'torrent, multi-file, anonymous');
    is_deeply([@{ $r->{torrent} }{qw(fileList filePath fileCount userId
                                      username freeTorrent)}],
              ['a.mkv{{{200}}}|||sub/b.srt{{{100}}}', 'Lone', 2, 0, '',
               JSON::PP::true],
              'torrent: names below filePath; anonymous uploader hidden');
    is_deeply([@{ $r->{group} }{qw(id name categoryName)}],
              [$tid{lone}, 'Release lone', 'Other'],
              'torrent without a media: its own group');

    success(req("action=torrent&id=$tid{hid}", as => 'carol'),
            'torrent: hidden ones by id');
    failure(req("action=torrent&id=$tid{pend}", as => 'carol'),
            'bad id parameter', 'torrent waiting for approval');
    success(req("action=torrent&id=$tid{pend}", as => 'mod'),
            'torrent waiting for approval, to its uploader');
    failure(req("action=torrent&id=$tid{gone}", as => 'carol'),
            'bad id parameter', 'deleted torrent');
    failure(req('action=torrent&id=1', as => 'carol'), 'bad id parameter',
            'no such torrent');
    failure(req('action=torrent', as => 'carol'), 'bad id parameter',
            'torrent without id');
    failure(req('action=torrent&hash=xyz', as => 'carol'),
            'bad hash parameter', 'torrent, malformed hash');
    failure(req('action=torrent&hash=' . ('0' x 40), as => 'carol'),
            'bad hash parameter', 'torrent, unknown hash');
    failure(req("action=torrent&id=$tid{ep1}&hash=" . ('0' x 40),
                as => 'carol'), 'bad parameters', 'torrent, id and hash');
}

# torrentgroup
{
    my $r = success(req("action=torrentgroup&id=$gid", as => 'carol'),
                    'torrentgroup by id');
    shape($r, { group => 'o', torrents => 'a' }, 'torrentgroup');
    shape($r->{group}, \%group_shape, 'torrentgroup group');
    is_deeply([map { $_->{id} } @{ $r->{torrents} }],
              [sort { $a <=> $b } $tid{ep1}, $tid{ep2}],
              'torrentgroup: the visible torrents (not hidden, pending, '
              . 'deleted)');
    shape($r->{torrents}[0], \%detail_shape, 'torrentgroup torrent');

    $r = success(req("action=torrentgroup&id=$gid", as => 'mod'),
                 'torrentgroup, to a moderator');
    is(scalar @{ $r->{torrents} }, 4,
       'torrentgroup: moderators see hidden and pending ones');

    $r = success(req('action=torrentgroup&hash='
                     . unpack('H*', $ih{ep2}), as => 'carol'),
                 'torrentgroup by hash');
    is($r->{group}{id}, $gid, "torrentgroup by hash: the torrent's group");
    $r = success(req("action=torrentgroup&id=$tid{lone}", as => 'carol'),
                 'torrentgroup of a torrent without a media');
    is_deeply([$r->{group}{id}, map { $_->{id} } @{ $r->{torrents} }],
              [$tid{lone}, $tid{lone}], 'torrentgroup: a group of one');
    failure(req('action=torrentgroup&id=999999', as => 'carol'),
            'bad id parameter', 'torrentgroup not found');
    failure(req('action=torrentgroup', as => 'carol'), 'bad id parameter',
            'torrentgroup without id');
}

# top10
{
    my $r = success(req('action=top10', as => 'carol'), 'top10');
    is(ref $r, 'ARRAY', 'top10: a list of lists');
    is_deeply([map { $_->{tag} } @$r],
              [qw(day week overall snatched data seeded)],
              'top10: every list by default');
    shape($r->[0], { caption => 's', tag => 's', limit => 'n',
                     results => 'a' }, 'top10 list');
    is($r->[0]{limit}, 10, 'top10: limit 10 by default');
    # day: seeded and uploaded in the past day: ep2
    is_deeply([map { $_->{torrentId} } @{ $r->[0]{results} }], [$tid{ep2}],
              'top10 day');
    is_deeply([map { $_->{torrentId} } @{ $r->[3]{results} }],
              [$tid{ep1}, $tid{lone}, $tid{ep2}], 'top10 snatched');
    shape($r->[3]{results}[0], { torrentId => 'n', groupId => 'n',
        artist => 's', groupName => 's', groupCategory => 'n',
        groupYear => 'n', remasterTitle => 's', format => 's',
        encoding => 's', hasLog => 'b', hasCue => 'b', media => 's',
        scene => 'b', year => 'n', tags => 'a', snatched => 'n',
        seeders => 'n', leechers => 'n', data => 'n', size => 'n' },
        'top10 result');
    is($r->[3]{results}[0]{data}, 5000 * 7 + 5000 * 1 / 2,
       'top10: data transferred');

    $r = success(req('action=top10&type=torrents&details=seeded&limit=100',
                     as => 'carol'), 'top10 seeded');
    is_deeply([map { $_->{tag} } @$r], ['seeded'], 'top10: one list');
    is($r->[0]{limit}, 100, 'top10: limit 100');
    is_deeply([map { $_->{torrentId} } @{ $r->[0]{results} }],
              [$tid{lone}, $tid{ep1}, $tid{ep2}], 'top10 seeded order');
    $r = success(req('action=top10&details=week&limit=7', as => 'carol'),
                 'top10, another limit');
    is($r->[0]{limit}, 10, 'top10: limits other than 10/100/250 are 10');
    failure(req('action=top10&details=month', as => 'carol'),
            'bad details parameter', 'top10, unknown details');
    failure(req('action=top10&type=users', as => 'carol'),
            'bad type parameter', 'top10, other types');
}

# notifications, announcements
{
    my $r = success(req('action=notifications', as => 'alice'),
                    'notifications');
    shape($r, { currentPages => 'n', pages => 'n', numNew => 'n',
                results => 'a' }, 'notifications');
    is_deeply([@$r{qw(currentPages pages numNew)}], [1, 1, 1],
              'notifications: page, pages, unread');
    is_deeply([map { [$_->{groupName}, $_->{unread}] } @{ $r->{results} }],
              [['Fresh news.', JSON::PP::true],
               ['Old news.', JSON::PP::false]],
              'notifications: newest first');
    ok(is_num($r->{results}[0]{torrentId}), 'notifications: ints');

    $r = success(req('action=announcements', as => 'alice'),
                 'announcements');
    shape($r, { announcements => 'a', blogPosts => 'a' }, 'announcements');
    is(scalar @{ $r->{announcements} }, 1, 'announcements: started ones');
    shape($r->{announcements}[0], { newsId => 'n', title => 's',
        bbBody => 's', body => 's', newsTime => 's' }, 'announcement');
    is($r->{announcements}[0]{bbBody}, "Site is up.\nhttp://site.test/news",
       'announcements: message and link');
}

# download
{
    my $res = req("action=download&id=$tid{ep1}", as => 'carol');
    is($res->{status}, 200, 'download: 200');
    is($res->{headers}{'content-type'}, 'application/x-bittorrent',
       'download: a .torrent');
    like($res->{content}, qr/^d8:announce\d+:\Q$public\E\/$tkey{carol}/,
         "download: the caller's passkey URL");
    my $info = substr($res->{content}, index($res->{content}, '4:info') + 6);
    chop $info;
    is(sha1($info), $ih{ep1}, 'download: the info dictionary unchanged');

    $res = req('action=download&id=1', as => 'carol');
    is($res->{status}, 404, 'download, no such torrent: 404');
    is_deeply(json_of($res), { status => 'failure',
                               error => 'bad id parameter' },
              'download: a failure in JSON');
    failure(req("action=download&id=$tid{ep1}"), 'bad credentials',
            'download without a token');
}

# rate limit ----------------------------------------------------------------

{
    my $p = '/limited/ajax.php';
    success(req('action=index', as => 'alice', path => $p),
            'limited: the first request');
    my $res = req('action=index', as => 'alice', auth => 'token',
                  path => $p);
    is($res->{status}, 200, 'limited: refused with 200');
    is($res->{headers}{'retry-after'}, 6, 'limited: Retry-After');
    is_deeply(json_of($res), { status => 'failure',
                               error => 'Rate limit exceeded' },
              'limited: the Gazelle answer, whatever the token form');
    success(req('action=index', as => 'carol', path => $p),
            'limited: per token');

    # the first answer tells the worker the donor is exempt
    for my $n (1 .. 3) {
        success(req('action=index', as => 'don', path => $p),
                "limited: the exempt class, request $n");
    }
}

# the database is down ------------------------------------------------------

{
    my $gone = 'host=' . $ngx->prefix . ' port=1 dbname=none user=none';
    $down->start($conf->($gone, $down)) or BAIL_OUT('nginx did not start');
    my $res = req('action=index', as => 'alice',
                  base => 'http://127.0.0.1:' . $down->port);
    is($res->{status}, 503, 'database down: 503');
    is_deeply(json_of($res), { status => 'failure',
                               error => 'Database unavailable.' },
              'database down: a Gazelle failure');
}

done_testing();
