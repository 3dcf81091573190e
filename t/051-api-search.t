# GET /api/v1/torrents/search against a real nginx and PostgreSQL: the
# result shape and its JSON types, fields only a caller gets, who sees
# hidden and anonymous uploads, every sort, every filter, the hints (codec
# words, info hashes, sNN with a media), media suggestions, paging, the
# search echo and debug lines, the validation errors, and the answer while
# the database is down.

use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use Test::More;
use IO::Socket::INET;
use JSON::PP ();
use B ();
use Digest::MD5 qw(md5_hex);
use Digest::SHA qw(sha256_hex);
use PgTest;
use TrackerNginx;

my $db = PgTest::fresh_db();
my $ngx = TrackerNginx->new(name => 'api-search', port_offset => 1);

END { local $?; $ngx->quit('TERM') if $ngx }

my %key = map { $_ => "key-$_" } qw(up mod member other);
my $t0 = 1735689600000;                 # 2025-01-01, ms
my $day = 86400000;

sub v1 { md5_hex("t$_[0]") . '00000000' }

# users 101 uploader, 102 moderator, 103 member of group 201, 104 other
PgTest::psql($db, <<"SQL");
INSERT INTO users (id, username, display_name, permissions, torrent_key)
VALUES (101, 'up', 'Uploader', 0, repeat('a', 32)),
       (102, 'mod', 'Moderator', 2, repeat('b', 32)),
       (103, 'member', NULL, 0, repeat('c', 32)),
       (104, 'other', 'Other', 0, repeat('d', 32));
INSERT INTO api_keys (user_id, key_hash)
SELECT u, encode(sha256(convert_to(k, 'UTF8')), 'hex')
FROM (VALUES (101, '$key{up}'), (102, '$key{mod}'),
             (103, '$key{member}'), (104, '$key{other}')) v(u, k);

INSERT INTO groups (id, name, display_name, tag, display_tag, tagline)
VALUES (201, 'alpha', 'Alpha Subs', 'alpha', 'Alpha', 'We sub'),
       (202, 'beta', 'Beta Encodes', 'beta', 'Beta', ''),
       (203, 'gamma', 'Gamma', 'gamma', 'Gamma', '');
INSERT INTO group_members (group_id, user_id) VALUES (201, 103);
-- beta is alpha's child, gamma alpha's parent; a pending link is no link
INSERT INTO group_links (parent_id, child_id, initiator_id,
                         parent_approved, child_approved)
VALUES (201, 202, 201, true, true), (203, 201, 203, true, true),
       (202, 203, 202, true, false);

INSERT INTO langs (code, name, flag) VALUES ('ja', 'Japanese', ''),
    ('en', 'English', ''), ('es-es', 'Spanish (Spain)', '');
INSERT INTO lang_aliases (alias, code) VALUES ('jp', 'ja'), ('es', 'es-es');

INSERT INTO media (id, title, alternate_titles) VALUES
    ('s1', 'Your Lie in April', '{"Shigatsu wa Kimi no Uso"}'),
    ('s2', 'Starlight Harbor', '{}'),
    ('m3', 'Lanterns Over Kiso', '{}');
INSERT INTO episodes (id, media_id, season, episode, title, air_date) VALUES
    (11, 's1', 1, 1, 'One', '2014-10-09 15:00+00'),
    (12, 's1', 1, 2, 'Two', '2014-10-16 15:00+00'),
    (13, 's1', 1, 3, 'Three', '2014-10-23 15:00+00'),
    (21, 's1', 2, 1, 'Again', NULL);

INSERT INTO torrents (id, info_hash, info_hash_v2, title, status, deleted,
    hidden, anonymous, level, video_codec, video_type, audio_lang,
    fsub_lang, sub_lang, mtl, otl, hardsub, filesize, media_id,
    uploader_id, uploaded_at, seeders, leechers, completed, comment_count,
    category, imported, nyaa_upload_time, mediainfo)
SELECT v.id, decode(md5('t' || v.id) || '00000000', 'hex'),
       CASE WHEN v.id = 1005 THEN sha256('v2') END,
       v.title, v.status, v.deleted, v.hidden, v.anon, v.level, v.codec,
       v.vtype, v.audio, v.fsub, v.sub, v.mtl, v.otl, v.hs, v.size,
       v.media, v.up, timestamptz '2025-01-01 00:00+00'
                      + (v.id - 1000) * interval '1 day',
       v.se, v.le, v.co, v.cc, 1,
       CASE WHEN v.id = 1008 THEN 4242 END,
       CASE WHEN v.id = 1008 THEN timestamptz '2020-01-01 00:00+00' END,
       CASE WHEN v.id = 1001 THEN 'General' END
FROM (VALUES
  (1001, '[Alpha] Shigatsu wa Kimi no Uso - 01 [1080p HEVC]', 1,
   NULL::timestamptz,
   false, false, 3, 2, 9, 'ja', 'en', '', false, false, false, 3000,
   's1', 101, 10, 1, 50, 2),
  (1002, '[Alpha] Shigatsu wa Kimi no Uso - 02 [1080p AVC]', 1, NULL,
   false, false, 2, 1, 9, 'ja', 'en', '', false, false, false, 1000,
   's1', 101, 5, 3, 70, 0),
  (1003, '[Alpha] Shigatsu wa Kimi no Uso - 03 [1080p HEVC]', 1, NULL,
   true, false, 4, 2, 9, 'ja', 'en', '', false, false, false, 2000,
   's1', 101, 0, 0, 0, 0),
  (1004, '[Beta] Shigatsu wa Kimi no Uso S2 - 01 [BD HEVC]', 1, NULL,
   false, true, 1, 2, 13, 'ja', 'en', '', false, false, false, 5000,
   's1', 104, 7, 0, 10, 5),
  (1005, 'Starlight Harbor Batch [AV1]', 1, NULL,
   false, false, -1, 3, 8, 'ja', 'en,es-es', '', true, false, true, 4000,
   's2', 104, 1, 9, 1, 1),
  (1006, 'Shigatsu pending', 0, NULL,
   false, false, 3, 2, 9, 'ja', 'en', '', false, false, false, 100,
   's1', 101, 0, 0, 0, 0),
  (1007, 'Shigatsu deleted', 1, now(),
   false, false, 3, 2, 9, 'ja', 'en', '', false, false, false, 100,
   's1', 101, 0, 0, 0, 0),
  (1008, 'Starlight Harbor fan edit 01', 1, NULL,
   false, false, NULL, NULL, NULL, '', '', 'en', false, true, false, 6000,
   NULL, 101, 3, 4, 20, 0))
  AS v(id, title, status, deleted, hidden, anon, level, codec, vtype,
       audio, fsub, sub, mtl, otl, hs, size, media, up, se, le, co, cc);

INSERT INTO torrent_episodes VALUES
    (1001, 11), (1002, 12), (1003, 13), (1004, 21), (1006, 11);
INSERT INTO torrent_groups (torrent_id, group_id, is_primary, role) VALUES
    (1001, 201, true, NULL), (1002, 201, true, NULL),
    (1002, 202, false, 'Encode'), (1003, 201, true, NULL),
    (1004, 202, true, NULL), (1005, 203, true, NULL);
INSERT INTO torrent_contributors (torrent_id, group_id, user_id, role)
VALUES (1005, 203, 103, 'Timing');
INSERT INTO peers (torrent_id, user_id, peer_id, seeder) VALUES
    (1001, 101, decode(repeat('01', 20), 'hex'), true),
    (1002, 101, decode(repeat('02', 20), 'hex'), false);
INSERT INTO snatches (user_id, torrent_id) VALUES (101, 1001);
UPDATE site_settings SET value = 'http://tracker.test/announce'
WHERE key = 'public_tracker_url';
SQL

$ENV{TEST_NGINX_PG} = $db;

ok($ngx->start(<<"EOF"), 'nginx starts') or BAIL_OUT($ngx->error_log);
    tracker_database "$db" pool=2;
    server {
        listen 127.0.0.1:${\ $ngx->port};
        location /api/v1/ { tracker_api; }
    }
EOF

# the JSON type of every value, taken before Perl's own use of a value
# changes its flags
sub types {
    my $v = shift;
    return 'null' unless defined $v;
    return { map { $_ => types($v->{$_}) } keys %$v } if ref $v eq 'HASH';
    return [ map { types($_) } @$v ] if ref $v eq 'ARRAY';
    return 'boolean' if JSON::PP::is_bool($v);
    my $f = B::svref_2object(\$v)->FLAGS;
    return $f & B::SVp_POK ? 'string' : 'number';
}

# (status, decoded body, types of the body) of GET /api/v1/<path>
sub api {
    my ($path, $hdr) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1:' . $ngx->port,
                                  Timeout => 10) or die "connect: $!";
    print $s "GET /api/v1/$path HTTP/1.0\r\nHost: localhost\r\n"
        . ($hdr // '') . "\r\n";
    local $/;
    my $res = <$s> // '';
    my ($head, $body) = split /\r\n\r\n/, $res, 2;
    my ($status) = ($head // '') =~ m{^HTTP/1\.\d (\d+)};
    my $json = eval { JSON::PP->new->decode($body) };
    diag("not JSON: $body") unless $json;
    return ($status // 0, $json, types($json));
}

sub as { "Cookie: ssid=$key{$_[0]}\r\n" }

sub ids { [ map { $_->{id} } @{ $_[0]{data}{results} } ] }

sub search_ids {
    my ($args, $who) = @_;
    my ($st, $j) = api("torrents/search?$args", $who ? as($who) : undef);
    return [ "status $st" ] unless $st == 200;
    return ids($j);
}

my %defaults = (limit => 50, offset => 0, sort_by => 'best', category => 0,
    episode_match_any => JSON::PP::false, group_primary => JSON::PP::true,
    group_secondary => JSON::PP::false, group_childs => JSON::PP::true,
    group_parents => JSON::PP::false, uploader_uploads => JSON::PP::true,
    uploader_contributions => JSON::PP::false);

my %result_types = (
    id => 'string', uploaded_at => 'string', title => 'string',
    infohash => 'string', magnet => 'string', media_id => 'string',
    description => 'null', filesize => 'string', category => 'number',
    level => 'number', otl => 'boolean', hardsub => 'boolean',
    mtl => 'boolean', comment_count => 'string', deleted => 'null',
    hidden => 'boolean', waiting_approve => 'boolean',
    auto_title => 'string', audio_lang => 'string', sub_lang => 'string',
    fsub_lang => 'string', video_codec => 'number', video_type => 'number',
    anonymous => 'boolean', upgraded => 'null',
    uploader => { id => 'string', display_name => 'string',
                  username => 'string', pfp_hash => 'null' },
    seeders => 'string', leechers => 'string', completed => 'string',
    groups => [ { id => 'string', display_name => 'string',
                  name => 'string', anonymous => 'number',
                  tagline => 'string', pfp_hash => 'null',
                  uploading_group => 'boolean' } ],
    imported => 'null', user_is_seeding => 'null',
    user_is_leeching => 'null', user_download_count => 'null',
    has_mediainfo => 'boolean', nyaa_upload_time => 'null');

# --- anonymous, defaults ---------------------------------------------------

my ($st, $j, $ty) = api('torrents/search');
is($st, 200, 'defaults: 200');
is_deeply([ sort keys %{ $j->{data} } ],
          [ sort qw(results infohash_match recommended_media media
                    similar_media debug more search) ],
          'data has every key of the reference');
is($ty->{error}, 'boolean', 'error is a boolean');
is_deeply(ids($j), [ 1001, 1002, 1004, 1005, 1008 ],
          'best: level descending, unknown last; no hidden, pending or '
          . 'deleted torrents');
is_deeply($ty->{data}{results}[0], \%result_types,
          'a result: every key, each of the reference\'s JSON type');
is($ty->{data}{more}, 'boolean', 'more is a boolean');
ok(!$j->{data}{more}, '... false: everything fitted');
is_deeply($j->{data}{search}, \%defaults, 'search echoes the defaults');
is_deeply($ty->{data}{search},
          { map { $_ => /^(limit|offset|category)$/ ? 'number'
                      : $_ eq 'sort_by' ? 'string' : 'boolean' }
                keys %defaults },
          '... with their types');
is($j->{data}{$_}, undef, "$_ is null")
    for qw(infohash_match recommended_media media similar_media);
is_deeply($j->{data}{debug}{summary}, [], 'debug: no summary');
is_deeply([ @{ $j->{data}{debug}{debug} } ],
          [ 'no hints found', 'hiding hidden torrents',
            'sorting by best (level desc)', 'found 5 torrents',
            'found 5 group relations', 'found 3 groups', 'found 2 users' ],
          'debug lines');

my %r = map { $_->{id} => $_ } @{ $j->{data}{results} };
my $r1 = $r{1001};
is($r1->{infohash}, v1(1001), 'infohash: hex of the v1 hash');
is($r1->{magnet}, 'magnet:?xt=urn:btih:' . v1(1001) . '&dn=%5BAlpha%5D%20'
   . 'Shigatsu%20wa%20Kimi%20no%20Uso%20-%2001%20%5B1080p%20HEVC%5D'
   . '&tr=http%3A%2F%2Ftracker.test%2Fannounce',
   'magnet: hash, encoded name, the public tracker');
like($r{1005}{magnet}, qr/&xt=urn:btmh:1220\Q${\ sha256_hex('v2')}\E&/,
     'a hybrid\'s magnet carries its v2 hash too');
ok(!exists $r1->{private_magnet}, 'no private_magnet without a key');
is($r1->{uploaded_at}, $t0 + $day, 'uploaded_at in ms');
is($r1->{auto_title}, $r1->{title} . ' {Tags:L3;V9;C2;A-ja;F-en;}',
   'auto_title with its tags');
is($r{1005}{auto_title}, 'Starlight Harbor Batch [AV1] '
   . '{Tags:MTL;HS;L-1;V8;C3;A-ja;F-en,es-es;}', '... flags and lists');
is_deeply([ @$r1{qw(filesize seeders leechers completed comment_count)} ],
          [ 3000, 10, 1, 50, 2 ], 'counters');
ok($r1->{has_mediainfo} && !$r{1002}{has_mediainfo}, 'has_mediainfo');
is_deeply($r1->{uploader}, { id => 101, display_name => 'Uploader',
          username => 'up', pfp_hash => undef }, 'uploader');
is($r{1004}{uploader}, undef, 'anonymous upload: uploader null');
is_deeply([ map { [ $_->{id}, $_->{uploading_group} ? 1 : 0 ] }
            @{ $r{1002}{groups} } ], [ [ 201, 1 ], [ 202, 0 ] ],
          'groups: the uploading group first, then secondary ones');
is_deeply([ @{ $r{1008} }{qw(imported nyaa_upload_time)} ],
          [ 4242, '1577836800000' ], 'imported and nyaa_upload_time');
is($ty->{data}{results}[4]{imported}, 'number', 'imported is a number');
is($ty->{data}{results}[4]{nyaa_upload_time}, 'string',
   'nyaa_upload_time is a string');
is($r{1008}{level}, undef, 'unknown level: null');

# --- a caller ---------------------------------------------------------------

($st, $j, $ty) = api('torrents/search', as('up'));
is($st, 200, 'with a key: 200');
is_deeply(ids($j), [ 1003, 1001, 1002, 1004, 1005, 1008 ],
          'the uploader sees their hidden torrent');
%r = map { $_->{id} => $_ } @{ $j->{data}{results} };
is($r{1001}{private_magnet}, 'magnet:?xt=urn:btih:' . v1(1001)
   . '&dn=%5BAlpha%5D%20Shigatsu%20wa%20Kimi%20no%20Uso%20-%2001%20%5B1080p'
   . '%20HEVC%5D&tr=http%3A%2F%2Ftracker.test%2Fannounce%2F' . 'a' x 32,
   'private_magnet: the caller\'s own announce URL');
is($ty->{data}{results}[1]{$_}, 'boolean', "$_ is a boolean for a caller")
    for qw(user_is_seeding user_is_leeching);
is($ty->{data}{results}[1]{user_download_count}, 'number',
   'user_download_count is a number for a caller');
is_deeply([ map { [ $r{$_}{user_is_seeding} ? 1 : 0,
                    $r{$_}{user_is_leeching} ? 1 : 0,
                    $r{$_}{user_download_count} ] } 1001, 1002, 1005 ],
          [ [ 1, 0, 1 ], [ 0, 1, 0 ], [ 0, 0, 0 ] ],
          'seeding, leeching, downloads of the caller');

($st, $j) = api('torrents/search', "Authorization: Bearer $key{up}\r\n");
ok(exists $j->{data}{results}[0]{private_magnet}, 'Bearer works too');

($st, $j) = api('torrents/search', "Cookie: ssid=nope\r\n");
is($st, 200, 'a bad key on this auth-optional route: still 200');
ok(!exists $j->{data}{results}[0]{private_magnet}, '... as anonymous');

is_deeply(search_ids('', 'member'), [ 1003, 1001, 1002, 1004, 1005, 1008 ],
          'a member of the group sees its hidden torrent');
is_deeply(search_ids('', 'other'), [ 1001, 1002, 1004, 1005, 1008 ],
          'others do not');
($st, $j) = api('torrents/search', as('mod'));
is_deeply(ids($j), [ 1003, 1001, 1002, 1004, 1005, 1008 ],
          'a moderator sees it');
is($j->{data}{debug}{debug}[1], 'showing hidden torrents',
   '... and the debug lines say so');

# --- sorts ------------------------------------------------------------------

my %sorts = (
    latest => [ 1008, 1005, 1004, 1002, 1001 ],
    rss => [ 1008, 1005, 1004, 1002, 1001 ],
    oldest => [ 1001, 1002, 1004, 1005, 1008 ],
    seeders => [ 1001, 1004, 1002, 1008, 1005 ],
    seeders_asc => [ 1005, 1008, 1002, 1004, 1001 ],
    leechers => [ 1005, 1008, 1002, 1001, 1004 ],
    leechers_asc => [ 1004, 1001, 1002, 1008, 1005 ],
    downloads => [ 1002, 1001, 1008, 1004, 1005 ],
    downloads_asc => [ 1005, 1004, 1008, 1001, 1002 ],
    comments => [ 1004, 1001, 1005, 1008, 1002 ],
    comments_asc => [ 1002, 1008, 1005, 1001, 1004 ],
    filesize => [ 1008, 1004, 1005, 1001, 1002 ],
    filesize_asc => [ 1002, 1001, 1005, 1004, 1008 ]);

for my $s (sort keys %sorts) {
    is_deeply(search_ids("sort_by=$s"), $sorts{$s}, "sort_by=$s");
}

# --- paging -----------------------------------------------------------------

($st, $j) = api('torrents/search?limit=2&sort_by=oldest');
is_deeply([ ids($j), $j->{data}{more} ? 1 : 0 ], [ [ 1001, 1002 ], 1 ],
          'limit 2: two results, more');
($st, $j) = api('torrents/search?limit=2&offset=4&sort_by=oldest');
is_deeply([ ids($j), $j->{data}{more} ? 1 : 0 ], [ [ 1008 ], 0 ],
          'offset 4: the last one, no more');
is_deeply([ @{ $j->{data}{search} }{qw(limit offset sort_by)} ],
          [ 2, 4, 'oldest' ], 'search echoes limit, offset, sort_by');
is_deeply(search_ids('offset=100'), [], 'offset past the end: nothing');

# --- filters ----------------------------------------------------------------

my @filters = (
    [ 'levels=3,4', [ 1001 ] ],
    [ 'levels=-1', [ 1005 ] ],
    [ 'video_codec=2', [ 1001, 1004 ] ],
    [ 'video_codec=1,3', [ 1002, 1005 ] ],
    [ 'video_type=13,8', [ 1004, 1005 ] ],
    [ 'audio_lang=jp', [ 1001, 1002, 1004, 1005 ] ],
    [ 'fansub_lang=es-es,de', [ 1005 ] ],
    [ 'sub_lang=en', [ 1008 ] ],
    [ 'hardsub=true', [ 1005 ] ],
    [ 'otl=true', [ 1008 ] ],
    [ 'mtl=true', [ 1005 ] ],
    [ 'mtl=false&hardsub=false&otl=false', [ 1001, 1002, 1004 ] ],
    [ 'category=1', [ 1001, 1002, 1004, 1005, 1008 ] ],
    [ 'category=2', [] ],
    [ 'media_id=s2', [ 1005 ] ],
    [ 'media_id=S2&fansub_lang=ES-ES', [ 1005 ] ],
    [ 'media_id=s9', [] ],
    [ 'episode_ids=11', [ 1001 ] ],
    [ 'episode_ids=11,12', [] ],
    [ 'episode_ids=11,12&episode_match_any=true', [ 1001, 1002 ] ],
    [ 'group_id=201', [ 1001, 1002, 1004 ] ],
    [ 'group_id=201&group_childs=false', [ 1001, 1002 ] ],
    [ 'group_id=201&group_parents=true', [ 1001, 1002, 1004, 1005 ] ],
    [ 'group_id=202&group_primary=false&group_secondary=true', [ 1002 ] ],
    [ 'group_id=202&group_childs=false&group_secondary=true',
      [ 1002, 1004 ] ],
    [ 'group_id=202&group_primary=false', [] ],
    [ 'group_id=203&group_childs=false', [ 1005 ] ],
    [ 'group_id=999', [] ],
    [ 'uploader_id=101', [ 1001, 1002, 1008 ] ],
    [ 'uploader_id=104', [ 1005 ] ],
    [ 'uploader_id=103&uploader_uploads=false'
      . '&uploader_contributions=true', [ 1005 ] ],
    [ 'uploader_id=101&uploader_uploads=false', [] ],
    [ 'after=' . ($t0 + 4 * $day), [ 1005, 1008 ] ],
    [ 'before=' . ($t0 + 4 * $day), [ 1001, 1002 ] ],
    [ 'after=' . ($t0 + $day) . '&before=' . ($t0 + 5 * $day), [ 1002, 1004 ] ],
    [ 'levels=&video_codec=&group_id=', [ 1001, 1002, 1004, 1005, 1008 ] ],
);

for my $f (@filters) {
    is_deeply(search_ids("sort_by=oldest&$f->[0]"), $f->[1], $f->[0]);
}

is_deeply(search_ids('uploader_id=104', 'other'), [ 1004, 1005 ],
          'an uploader finds their own anonymous uploads');
is_deeply(search_ids('uploader_id=104', 'mod'), [ 1004, 1005 ],
          '... and so does a moderator');

($st, $j) = api('torrents/search?levels=&media_id=s2');
ok(!exists $j->{data}{search}{levels}, 'an empty filter is not echoed');
is($j->{data}{search}{media_id}, 's2', 'a filter is');

# --- the media filter's media -----------------------------------------------

($st, $j, $ty) = api('torrents/search?media_id=s1');
is($j->{data}{media}{id}, 's1', 'media: the filter\'s media');
is_deeply([ sort keys %{ $j->{data}{media} } ],
          [ sort qw(id title year genres overview status banner_url runtime
                    tvdbId tmdbId imdbId alternate_titles episodes) ],
          '... with the media keys and its episodes');
is_deeply($j->{data}{media}{episodes}[0],
          { id => 11, title => 'One', season => 1, episode => 1,
            overview => undef, runtime => undef,
            airDateUtc => '2014-10-09T15:00:00Z', tvdbId => undef },
          '... episodes as the media endpoint shows them');
is($ty->{data}{media}{episodes}[0]{id}, 'number', 'episode ids are numbers');
is($j->{data}{recommended_media}, undef,
   'no recommendation when the media is the filter');

# --- hints ------------------------------------------------------------------

($st, $j) = api('torrents/search?query=HEVC&sort_by=oldest');
is_deeply(ids($j), [ 1001, 1004 ], 'HEVC: becomes the codec filter');
is($j->{data}{search}{video_codec}, '2', '... echoed as video_codec');
ok(!exists $j->{data}{search}{query}, '... the word is used up');
is_deeply($j->{data}{debug}{summary}, [ 'video codec: H265' ],
          '... and summarised');
is($j->{data}{debug}{debug}[0], 'hiding hidden torrents',
   '... no "no hints found"');

is_deeply(search_ids('query=shigatsu%20x265%20h.264&sort_by=oldest'),
          [ 1001, 1002, 1004 ], 'two codec words: either codec');
is_deeply(search_ids('query=hevc&video_codec=1'), [],
          'an explicit codec filter wins: the word stays a word');
is_deeply(search_ids('query=hevc&video_codec=&sort_by=oldest'),
          [ 1001, 1004 ], 'an empty codec filter is none: the hint applies');

($st, $j) = api('torrents/search?query=' . uc v1(1002));
is_deeply([ ids($j), $j->{data}{infohash_match} ], [ [ 1002 ], '1002' ],
          'an info hash (any case): that torrent, infohash_match');
is_deeply($j->{data}{debug}{summary}, [ 'info hash: ' . v1(1002) ],
          '... summarised');
($st, $j) = api('torrents/search?query=' . sha256_hex('v2'));
is($j->{data}{infohash_match}, '1005', 'a v2 hash of a hybrid');
($st, $j) = api('torrents/search?query=' . substr(sha256_hex('v2'), 0, 40));
is($j->{data}{infohash_match}, '1005', '... truncated to 40 digits');
($st, $j) = api('torrents/search?query=' . v1(1003));
is_deeply([ ids($j), $j->{data}{infohash_match} ], [ [], undef ],
          'a hidden torrent\'s hash: no match for others');
($st, $j) = api('torrents/search?query=' . v1(1003), as('up'));
is($j->{data}{infohash_match}, '1003', '... a match for its uploader');
($st, $j) = api('torrents/search?query=' . 'f' x 40);
is_deeply([ ids($j), $j->{data}{infohash_match} ], [ [], undef ],
          'an unknown hash: nothing');

($st, $j) = api('torrents/search?media_id=s1&query=s01&sort_by=oldest');
is_deeply(ids($j), [ 1001, 1002 ], 's01 with a media: season 1');
is_deeply([ @{ $j->{data}{search} }{qw(episode_ids episode_match_any)} ],
          [ '11,12,13', JSON::PP::true ], '... echoed as its episodes');
is_deeply($j->{data}{debug}{summary}, [ 'season 1' ], '... summarised');
is_deeply(search_ids('media_id=s1&query=S02'), [ 1004 ], 'S02: season 2');
is_deeply(search_ids('media_id=s1&query=s01e02'), [ 1002 ],
          's01e02: one episode');
is_deeply(search_ids('media_id=s1&query=s05'), [],
          'a season without episodes: nothing');
is_deeply(search_ids('query=s01'), [], 'without a media: just a word');

# --- text, recommended and similar media ------------------------------------

($st, $j) = api('torrents/search?query=kimi%20no&sort_by=oldest');
is_deeply(ids($j), [ 1001, 1002, 1004 ], 'words: all in the title');
is($j->{data}{recommended_media}{id}, 's1',
   'every result is one media: recommended_media');
is($j->{data}{similar_media}, undef, '... and no similar_media');
is_deeply([ sort keys %{ $j->{data}{recommended_media} } ],
          [ sort qw(id title year genres overview status banner_url runtime
                    tvdbId tmdbId imdbId alternate_titles) ],
          '... with the media keys');
is($j->{data}{search}{query}, 'kimi no', 'the query is echoed');

is_deeply(search_ids('query=your%20lie%20in%20april&sort_by=oldest'),
          [ 1001, 1002, 1004 ],
          'a media title finds its torrents whatever their names');
is_deeply(search_ids('query=SHIGATSU%25&sort_by=oldest'), [],
          'LIKE wildcards are plain characters');
is_deeply(search_ids('query=kimi_no'), [], '... _ too');
is_deeply(search_ids('query=uso%5C'), [], '... and a backslash');

($st, $j, $ty) = api('torrents/search?query=starlight%20harbor');
is_deeply([ sort @{ ids($j) } ], [ 1005, 1008 ],
          'starlight harbor: two torrents');
is($j->{data}{recommended_media}, undef,
   'only half of them are one media: no recommendation');
is_deeply([ map { $_->{id} } @{ $j->{data}{similar_media} } ], [ 's2' ],
          'similar_media: the media with that title');
is($ty->{data}{similar_media}[0]{similarity}, 'number',
   '... with its similarity, a number');
ok($j->{data}{similar_media}[0]{similarity} > 0.9, '... close to 1');

($st, $j) = api('torrents/search?query=lanterns');
is_deeply([ ids($j), $j->{data}{similar_media} ], [ [], undef ],
          'a media without torrents is never suggested');

# --- validation -------------------------------------------------------------

# the reference's shape of a schema error: $what is Ajv's message
sub invalid {
    my ($args, $param, $keyword, $params, $what) = @_;
    my ($st, $j) = api("torrents/search?$args");
    is($st, 400, "$args: 400");
    is_deeply($j, { error => JSON::PP::true,
                    message => "Data provided was invalid: '$param' $what.",
                    validate_errors => [ {
                        instancePath => "/$param",
                        schemaPath => "#/properties/$param/$keyword",
                        keyword => $keyword, params => $params,
                        message => $what } ] }, "$args: the error");
}

invalid('limit=0', 'limit', 'minimum', { comparison => '>=', limit => 1 },
        'must be >= 1');
invalid('limit=101', 'limit', 'maximum',
        { comparison => '<=', limit => 100 }, 'must be <= 100');
invalid('offset=-1', 'offset', 'minimum',
        { comparison => '>=', limit => 0 }, 'must be >= 0');
invalid("offset=$_", 'offset', 'type', { type => 'integer' },
        'must be integer') for qw(abc 1.5);
invalid('category=x', 'category', 'type', { type => 'number' },
        'must be number');
invalid('hardsub=yes', 'hardsub', 'type', { type => 'boolean' },
        'must be boolean');
invalid('sort_by=size', 'sort_by', 'enum', { allowedValues => [ qw(best
        latest oldest rss seeders seeders_asc leechers leechers_asc
        downloads downloads_asc comments comments_asc filesize
        filesize_asc) ] }, 'must be equal to one of the allowed values');

my $lp = '^(-1|[0-4])(,(-1|[0-4]))*$';
invalid('levels=5', 'levels', 'pattern', { pattern => $lp },
        "must match pattern \"$lp\"");
my $ip = '^[0-9]{1,18}$';
invalid('group_id=1x', 'group_id', 'pattern', { pattern => $ip },
        "must match pattern \"$ip\"");

for my $bad ('media_id=x1', 'episode_ids=1,,2', 'video_codec=a',
             'video_type=1;2', 'audio_lang=ja,', 'uploader_id=-1',
             'before=soon', 'after=1e9', "sub_lang=en'--")
{
    ($st, $j) = api("torrents/search?$bad");
    my ($name) = $bad =~ /^(\w+)/;
    is_deeply([ $st, $j->{validate_errors}[0]{keyword},
                $j->{validate_errors}[0]{instancePath} ],
              [ 400, 'pattern', "/$name" ], "$bad: a pattern error");
}

($st, $j) = api('torrents/search?query=' . 'x' x 513);
is_deeply([ $st, $j->{validate_errors}[0]{keyword} ], [ 400, 'maxLength' ],
          'a query longer than any title: maxLength');

($st, $j) = api('torrents/search?query=%27%3B%20DROP%20TABLE%20torrents%3B--');
is_deeply([ $st, ids($j) ], [ 200, [] ], 'SQL in the query is just text');
is(PgTest::psql($db, 'SELECT count(*) FROM torrents'), 8,
   '... and changes nothing');

# --- wrong method -----------------------------------------------------------

{
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1:' . $ngx->port,
                                  Timeout => 10) or die "connect: $!";
    print $s "POST /api/v1/torrents/search HTTP/1.0\r\nHost: localhost\r\n"
        . "Content-Length: 0\r\n\r\n";
    local $/;
    my $res = <$s> // '';
    like($res, qr{^HTTP/1\.\d 405 .*\r\n\r\n\{"error":true,}s,
         'POST: 405 in the API\'s error shape');
}

# --- names that need percent-encoding in magnets ----------------------------

PgTest::psql($db, q{INSERT INTO torrents (id, info_hash, title) VALUES
    (1010, decode(md5('t1010') || '00000000', 'hex'),
     U&'Caf\00e9 & "Bar" 100% #1?+/'),
    (1011, decode(md5('t1011') || '00000000', 'hex'), 'a~b_c.d-e')});
($st, $j) = api('torrents/search?query=' . v1(1010));
like($j->{data}{results}[0]{magnet},
     qr/&dn=Caf%C3%A9%20%26%20%22Bar%22%20100%25%20%231%3F%2B%2F&tr=/,
     'a non-ASCII name: UTF-8 bytes, reserved characters encoded');
($st, $j) = api('torrents/search?query=' . v1(1011));
like($j->{data}{results}[0]{magnet}, qr/&dn=a~b_c\.d-e&tr=/,
     'unreserved characters stay as they are');

# --- the database goes away -------------------------------------------------

PgTest::stop_server();
($st, $j) = api('torrents/search');
is_deeply([ $st, $j ], [ 503, { error => JSON::PP::true,
          message => 'Database unavailable.' } ], 'database down: 503');
PgTest::start_server();

done_testing();
