# Torznab (/api/torznab/api) against a real nginx and PostgreSQL, every
# answer read by xmllint and Python's ElementTree: caps, the item fields
# Sonarr/Prowlarr read (torznab:attr included), RSS mode and its order,
# the search types and aliases, ids, season/ep, categories, paging, the
# JSON API's filters, escaping, the error codes (HTTP 200, XML) and the
# rate limiter's 429.

use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use Test::More;
use Digest::MD5 qw(md5_hex);
use PgTest;
use TrackerNginx;
use FeedTest;

my $db = PgTest::fresh_db();
my $ngx = TrackerNginx->new(name => 'torznab', port_offset => 60);

END { local $?; $ngx->quit('TERM') if $ngx }

my $TZ = '{http://torznab.com/schemas/2015/feed}attr';
my $base = 'http://site.test';

PgTest::psql($db, <<"SQL");
INSERT INTO users (id, username, display_name, permissions, torrent_key,
                   disabled)
VALUES (101, 'up', 'Uploader', 0, repeat('a', 32), false),
       (102, 'gone', NULL, 0, repeat('b', 32), true),
       (103, 'other', 'Other', 0, repeat('c', 32), false);
INSERT INTO api_keys (user_id, key_hash)
SELECT u, encode(sha256(convert_to(k, 'UTF8')), 'hex')
FROM (VALUES (101, 'key-up'), (102, 'key-gone')) v(u, k);

INSERT INTO groups (id, name, display_name, tag, display_tag, tagline)
VALUES (201, 'alpha', 'Alpha', 'alpha', 'Alpha', '');

INSERT INTO media (id, title, tvdb_id, tmdb_id, imdb_id, banner_url) VALUES
    ('s1', 'Your Lie in April', 111, 222, 'tt0000333',
     'http://img.test/s1.jpg'),
    ('m2', 'Kiso', NULL, 444, 'tt0000555', NULL);
INSERT INTO episodes (id, media_id, season, episode, air_date) VALUES
    (11, 's1', 1, 1, '2014-10-09 15:00+00'),
    (12, 's1', 1, 2, '2014-10-16 15:00+00'),
    (13, 's1', 1, 3, '2014-10-23 15:00+00'),
    (10, 's1', 0, 1, NULL);

INSERT INTO torrents (id, info_hash, title, status, deleted, hidden,
    anonymous, level, video_codec, video_type, audio_lang, fsub_lang,
    filesize, files, media_id, uploader_id, uploaded_at, rss_at, seeders,
    leechers, completed, dl_percent, ul_percent)
SELECT v.id, decode(md5('t' || v.id) || '00000000', 'hex'), v.title,
       v.status, v.deleted, v.hidden, false, v.level, 2, 9, 'ja', 'en',
       v.size, v.files::jsonb, v.media, v.up,
       timestamptz '2025-01-01 00:00+00' + v.day * interval '1 day',
       timestamptz '2025-01-01 00:00+00' + v.rss * interval '1 day',
       v.se, v.le, v.co, v.dl, v.ul
FROM (VALUES
  (2001, 'Your Lie - 01 [1080p]', 1, NULL::timestamptz, false, 3, 1000,
   '[{"path":"a.mkv","length":600},{"path":"b.ass","length":400}]', 's1',
   101, 1, NULL::int, 5, 2, 9, 100, 100),
  (2002, 'Your Lie - 02 [1080p]', 1, NULL, false, 2, 2000, '[]', 's1', 101,
   2, NULL, 0, 0, 0, 0, 100),
  (2003, 'Your Lie - 03 [1080p]', 1, NULL, false, 3, 3000, '[]', 's1', 101,
   3, NULL, 1, 1, 1, 100, 200),
  (2004, 'Your Lie Special [1080p]', 1, NULL, false, 1, 4000, '[]', 's1',
   101, 4, NULL, 0, 0, 0, 50, 100),
  (2005, E'Kiso <b>&"Film"\\x01\\x1f</b> [BD]', 1, NULL, false, 4, 5000,
   '[]', 'm2', 101, 5, NULL, 0, 0, 0, 100, 100),
  (2006, 'Orphan release 07 [720p]', 1, NULL, false, NULL, 6000, '[]', NULL,
   101, 6, NULL, 0, 0, 0, 100, 100),
  (2007, 'Your Lie hidden', 1, NULL, true, 3, 1, '[]', 's1', 103, 7, NULL,
   0, 0, 0, 100, 100),
  (2008, 'Your Lie deleted', 1, now(), false, 3, 1, '[]', 's1', 101, 8,
   NULL, 0, 0, 0, 100, 100),
  (2009, 'Your Lie pending', 0, NULL, false, 3, 1, '[]', 's1', 101, 9,
   NULL, 0, 0, 0, 100, 100),
  -- the oldest upload, put back on top of the feed
  (2010, 'Your Lie - 01 [720p] refreshed', 1, NULL, false, 4, 7000, '[]',
   's1', 101, 0, 10, 0, 0, 0, 100, 100))
  AS v(id, title, status, deleted, hidden, level, size, files, media, up,
       day, rss, se, le, co, dl, ul);

-- more than a page of older ones, for the limits
INSERT INTO torrents (id, info_hash, title, filesize, uploaded_at)
SELECT 3000 + n, decode(md5('b' || n) || '00000000', 'hex'), 'Bulk ' || n,
       n, timestamptz '2024-01-01 00:00+00' + n * interval '1 minute'
FROM generate_series(1, 120) n;

INSERT INTO torrent_episodes VALUES
    (2001, 11), (2002, 12), (2003, 13), (2004, 10), (2010, 11);
INSERT INTO torrent_groups (torrent_id, group_id, is_primary) VALUES
    (2003, 201, true);
UPDATE site_settings SET value = 'http://tracker.test/announce'
WHERE key = 'public_tracker_url';
UPDATE site_settings SET value = '$base' WHERE key = 'base_url';
UPDATE site_settings SET value = 'Test <Site>' WHERE key = 'site_name';
SQL

ok($ngx->start(<<"EOF"), 'nginx starts') or BAIL_OUT($ngx->error_log);
    tracker_database "$db" pool=2;
    tracker_limit_zone lim:1m;
    server {
        listen 127.0.0.1:${\ $ngx->port};
        location /api/torznab/ { tracker_torznab; }
        location /limited/ {
            tracker_torznab;
            tracker_limit zone=lim bucket=torznab key=\$arg_apikey rate=1r/m;
            tracker_limit_answer torznab;
        }
    }
EOF

my $port = $ngx->port;

sub get {
    my ($path, $method) = @_;
    return FeedTest::request($port, $method // 'GET', $path);
}

# a Torznab error: HTTP 200, XML, <error code description/>
sub error_is {
    my ($path, $code, $desc, $name) = @_;
    my ($st, $h, $body) = get($path);
    is($st, 200, "$name: HTTP 200");
    like($h->{'content-type'} // '', qr/xml/, "$name: XML type");
    my $e = FeedTest::tree($body) // {};
    is_deeply([$e->{tag}, $e->{attr}], ['error',
              { code => $code, description => $desc }], "$name: $code");
}

# the items of a feed, each as {field => text, enclosure => {...},
# attrs => {name => [values]}, categories => [...]}
sub items {
    my ($path, $lint) = @_;
    my ($st, $h, $body) = get($path);
    is($st, 200, "$path: 200");
    is($h->{'content-type'}, 'application/rss+xml; charset=utf-8',
       "$path: RSS type");
    is(FeedTest::wellformed($body), '', "$path: xmllint: well-formed")
        if $lint;
    my $rss = FeedTest::tree($body) // {};
    is($rss->{tag}, 'rss', "$path: rss");
    is($rss->{attr}{version}, '2.0', "$path: RSS 2.0");
    my $ch = FeedTest::one($rss, 'channel');
    my @out;
    for my $it (FeedTest::all($ch, 'item')) {
        my %i = (attrs => {}, categories => []);
        for my $k (@{ $it->{kids} }) {
            if ($k->{tag} eq $TZ) {
                push @{ $i{attrs}{ $k->{attr}{name} } }, $k->{attr}{value};
            } elsif ($k->{tag} eq 'category') {
                push @{ $i{categories} }, $k->{text};
            } elsif ($k->{tag} eq 'enclosure') {
                $i{enclosure} = $k->{attr};
            } else {
                $i{ $k->{tag} } = $k->{text};
                $i{guid_attr} = $k->{attr} if $k->{tag} eq 'guid';
            }
        }
        push @out, \%i;
    }
    return @out;
}

sub ids { map { $_->{guid} =~ m{/torrents/(\d+)$} ? $1 : '?' } @_ }

my $k = 'apikey=key-up';

# --- caps -----------------------------------------------------------------

my ($st, $h, $body) = get('/api/torznab/api?t=caps');
is($st, 200, 'caps: 200 without a key');
like($h->{'content-type'}, qr{^application/xml}, 'caps: XML type');
is(FeedTest::wellformed($body), '', 'caps: well-formed');
my $caps = FeedTest::tree($body);
is($caps->{tag}, 'caps', 'caps root');
is(FeedTest::one($caps, 'server')->{attr}{title}, 'Test <Site>',
   'caps: server title (escaped, read back)');
is_deeply(FeedTest::one($caps, 'limits')->{attr},
          { default => 50, max => 100 }, 'caps: limits default and max');
my $s = FeedTest::one($caps, 'searching');
my %searching = map { $_->{tag} => $_->{attr} } @{ $s->{kids} };
for my $f (qw(search tv-search movie-search)) {
    is($searching{$f}{available}, 'yes', "caps: $f available");
}
is($searching{search}{supportedParams}, 'q', 'caps: search params');
is_deeply([sort split /,/, $searching{'tv-search'}{supportedParams}],
          [sort qw(q season ep tvdbid tmdbid imdbid)], 'caps: tv-search params');
is_deeply([sort split /,/, $searching{'movie-search'}{supportedParams}],
          [sort qw(q imdbid tmdbid)], 'caps: movie-search params');
is($searching{$_}{available}, 'no', "caps: $_ not available")
    for qw(audio-search book-search);
my %cats;
for my $c (FeedTest::all(FeedTest::one($caps, 'categories'), 'category')) {
    $cats{ $c->{attr}{id} } = $c->{attr}{name};
    $cats{ $_->{attr}{id} } = $_->{attr}{name}
        for FeedTest::all($c, 'subcat');
}
is_deeply(\%cats, { 5000 => 'TV', 5070 => 'Anime', 2000 => 'Movies' },
          'caps: categories 5000 > 5070, 2000');
($st, $h, $body) = get('/api/torznab/api?t=caps', 'HEAD');
is($st, 200, 'caps: HEAD 200');
is($body, '', 'caps: HEAD has no body');

# --- errors ---------------------------------------------------------------

error_is('/api/torznab/api', 200, 'Missing parameter', 'no t');
is(FeedTest::wellformed((get('/api/torznab/api?t=x'))[2]), '',
   'xmllint: an error is well-formed');
error_is('/api/torznab/api?t=', 200, 'Missing parameter', 'empty t');
error_is('/api/torznab/api?t=bogus', 202, 'No such function', 'unknown t');
error_is('/api/torznab/api?t=details&' . $k, 202, 'No such function',
         't=details');
error_is('/api/torznab/api?t=search', 200, 'Missing parameter', 'no key');
error_is('/api/torznab/api?t=search&apikey=wrong', 100,
         'Incorrect user credentials', 'wrong key');
error_is('/api/torznab/api?t=search&apikey=key-gone', 100,
         'Incorrect user credentials', 'disabled user');
for my $bad ('offset=-1', 'limit=x', 'cat=50a0', 'cat=5000,', 'season=s1',
             'ep=1x', 'ep=13/40&season=2024', 'imdbid=nm123', 'tvdbid=1.5',
             'tmdbid=abc', 'extended=2', 'levels=9', 'audio_lang=1',
             'group_id=x', 'hardsub=maybe', 'q=%ff%fe', 'q=a%00b', 'q=%ed%a0%80', 'q=%c0%af',
             'q=%zz', 'q=' . ('x' x 600))
{
    error_is("/api/torznab/api?t=search&$k&$bad", 201,
             'Incorrect parameter', "bad $bad");
}
error_is('/api/torznab/nothing?t=caps', 202, 'No such function',
         'unknown path');

# --- RSS mode: newest first by feed time ----------------------------------

my @rss = items("/api/torznab/api?t=search&$k&limit=8", 1);
is_deeply([ids(@rss)], [2010, 2006, 2005, 2004, 2003, 2002, 2001, 3120],
          'RSS mode: refreshed first, then by upload, newest first; '
          . 'hidden, deleted, pending left out');
my @dates = map { $_->{pubDate} } @rss;
like($_, qr/^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d \+0000$/,
     "pubDate $_ is RFC 822 with +0000") for @dates[0, 1, 7];
is($rss[0]{pubDate}, 'Sat, 11 Jan 2025 00:00:00 +0000',
   'a refreshed torrent is published again at its feed time');
is($rss[6]{pubDate}, 'Thu, 02 Jan 2025 00:00:00 +0000', 'pubDate of 2001');

my @same = items("/api/torznab/api?t=search&$k&limit=8&q=");
is_deeply(\@same, \@rss, 'q= is RSS mode too; URLs stable between requests');

for my $t (qw(tvsearch tv-search movie movie-search)) {
    my @r = items("/api/torznab/api?t=$t&$k&limit=8");
    is_deeply([ids(@r)], [ids(@rss)], "t=$t: the same RSS feed");
}

# --- every field of an item -----------------------------------------------

my ($i) = grep { $_->{guid} =~ m{/2001$} } @rss;
my ($auto) = PgTest::psql($db, 'SELECT api_search_auto_title(t) '
                               . 'FROM torrents t WHERE id = 2001');
my $hash = md5_hex('t2001') . '00000000';
my $magnet = "magnet:?xt=urn:btih:$hash&dn=Your%20Lie%20-%2001%20%5B1080p"
           . '%5D&tr=http%3A%2F%2Ftracker.test%2Fannounce%2F' . ('a' x 32);
is($i->{title}, $auto, 'title is the auto title');
like($i->{title}, qr/\{Tags:.*L3;/, 'auto title carries the tags');
is($i->{guid}, "$base/torrents/2001", 'guid');
is($i->{guid_attr}{isPermaLink}, 'true', 'guid is a permalink');
is($i->{comments}, "$base/torrents/2001", 'comments: the details page');
is($i->{link}, $magnet, 'link: the magnet with the caller\'s announce URL');
is($i->{size}, 1000, 'size element');
is_deeply($i->{enclosure}, { url => $magnet, length => 1000,
                             type => 'application/x-bittorrent' },
          'enclosure: magnet, length, application/x-bittorrent');
is_deeply($i->{categories}, [5070], 'category element');
is_deeply($i->{attrs}, {
    category => [5070], size => [1000], seeders => [5], leechers => [2],
    peers => [7], grabs => [9], files => [2], infohash => [$hash],
    magneturl => [$magnet], downloadvolumefactor => [1],
    uploadvolumefactor => [1], tvdbid => [111], imdb => ['0000333'],
    tmdbid => [222], coverurl => ['http://img.test/s1.jpg'],
}, 'torznab:attr: every one, once each');

my %by = map { (ids($_))[0] => $_ } @rss;
is($by{2002}{attrs}{downloadvolumefactor}[0], 0, 'freeleech: factor 0');
is($by{2003}{attrs}{uploadvolumefactor}[0], 2, 'double upload: factor 2');
is($by{2004}{attrs}{downloadvolumefactor}[0], '0.5', 'half: 0.5');
is_deeply($by{2005}{categories}, [2000], 'a movie is in 2000');
is_deeply($by{2005}{attrs}{tmdbid}, [444], 'movie tmdbid');
ok(!exists $by{2005}{attrs}{tvdbid}, 'no tvdbid attr when unknown');
ok(!exists $by{2006}{attrs}{imdb}, 'no media, no ids');
is_deeply($by{2006}{categories}, [5070], 'no media: anime');
ok(!exists $by{2002}{attrs}{files}, 'no file list, no files attr');
like($by{2005}{title}, qr/^Kiso <b>&"Film"<\/b> \[BD\] \{Tags:/,
     'markup escaped and read back; control characters removed');

# every category an item uses is in caps
my @big = items("/api/torznab/api?t=search&$k&limit=100", 1);
my %used = map { $_ => 1 } map { (@{ $_->{categories} },
                                  @{ $_->{attrs}{category} }) } @big;
ok(!grep({ !exists $cats{$_} } keys %used),
   'every category of an item is in caps: ' . join(',', sort keys %used));

# --- paging ---------------------------------------------------------------

is(scalar(@big), 100, 'limit=100: 100 items');
my @cap = items("/api/torznab/api?t=search&$k&limit=1000");
is(scalar(@cap), 100, 'limit above max is capped at max');
my @def = items("/api/torznab/api?t=search&$k");
is(scalar(@def), 50, 'no limit: default 50');
my @p2 = items("/api/torznab/api?t=search&$k&limit=3&offset=2");
is_deeply([ids(@p2)], [2005, 2004, 2003], 'offset');

# --- text searches --------------------------------------------------------

my @q = items("/api/torznab/api?t=search&$k&q=Your+Lie+02");
is_deeply([ids(@q)], [2002], 'anime style q=Title+02');
@q = items("/api/torznab/api?t=search&$k&q=orphan%2007");
is_deeply([ids(@q)], [2006], 'q=Title%2007');
@q = items("/api/torznab/api?t=search&$k&q=" . md5_hex('t2003') . '00000000');
is_deeply([ids(@q)], [2003], 'q=info hash');
@q = items("/api/torznab/api?t=search&$k&q=nothing+like+this");
is_deeply([ids(@q)], [], 'no match: an empty channel');

# --- ids, season, ep ------------------------------------------------------

my @t = items("/api/torznab/api?t=tvsearch&$k&tvdbid=111&limit=100");
is_deeply([ids(@t)], [2010, 2004, 2003, 2002, 2001], 'tvdbid');
@t = items("/api/torznab/api?t=tvsearch&$k&tvdbid=111&season=1&ep=1");
is_deeply([ids(@t)], [2010, 2001], 'tvdbid season ep');
@t = items("/api/torznab/api?t=tvsearch&$k&tvdbid=111&season=01&ep=02");
is_deeply([ids(@t)], [2002], 'season=01 ep=02 (leading zeros)');
@t = items("/api/torznab/api?t=tvsearch&$k&tvdbid=111&season=00");
is_deeply([ids(@t)], [2004], 'season=00: specials');
@t = items("/api/torznab/api?t=tvsearch&$k&tvdbid=111&season=1");
is_deeply([ids(@t)], [2010, 2003, 2002, 2001], 'season only');
@t = items("/api/torznab/api?t=tvsearch&$k&tvdbid=111&season=2014&ep=10/16");
is_deeply([ids(@t)], [2002], 'daily: season=year ep=MM/DD');
@t = items("/api/torznab/api?t=tvsearch&$k&q=your+lie&season=1&ep=3");
is_deeply([ids(@t)], [2003], 'q with season and ep');
@t = items("/api/torznab/api?t=tvsearch&$k&tvdbid=999");
is_deeply([ids(@t)], [], 'unknown tvdbid: empty');
@t = items("/api/torznab/api?t=tvsearch&$k&tmdbid=222&season=1&ep=3");
is_deeply([ids(@t)], [2003], 'tmdbid on tv-search');
for my $imdb (qw(tt0000555 0000555 555 TT0000555)) {
    my @m = items("/api/torznab/api?t=movie&$k&imdbid=$imdb");
    is_deeply([ids(@m)], [2005], "imdbid=$imdb");
}
@t = items("/api/torznab/api?t=movie-search&$k&tmdbid=444");
is_deeply([ids(@t)], [2005], 'movie tmdbid');
@t = items("/api/torznab/api?t=movie&$k&tmdbid=444&imdbid=tt0000333");
is_deeply([ids(@t)], [], 'ids of different media: nothing');
for my $p (qw(rid=5 tvmazeid=5 traktid=5 doubanid=5)) {
    @t = items("/api/torznab/api?t=tvsearch&$k&$p");
    is_deeply([ids(@t)], [], "unsupported id $p: empty, no error");
}
@t = items("/api/torznab/api?t=tvsearch&$k&tvdbid=&season=&ep=&limit=1");
is_deeply([ids(@t)], [2010], 'empty values are no values');

# --- categories -----------------------------------------------------------

@t = items("/api/torznab/api?t=search&$k&cat=2000");
is_deeply([ids(@t)], [2005], 'cat=2000: movies');
@t = items("/api/torznab/api?t=search&$k&cat=2040&q=kiso");
is_deeply([ids(@t)], [2005], 'cat=2040: the movie family');
@t = items("/api/torznab/api?t=search&$k&cat=5070&limit=3");
is_deeply([ids(@t)], [2010, 2006, 2004], 'cat=5070: no movies');
@t = items("/api/torznab/api?t=search&$k&cat=5030,5040&limit=3");
is_deeply([ids(@t)], [2010, 2006, 2004], 'cat=5030,5040: the TV family');
@t = items("/api/torznab/api?t=search&$k&cat=5070,2000&limit=3");
is_deeply([ids(@t)], [2010, 2006, 2005], 'both: everything');
@t = items("/api/torznab/api?t=search&$k&cat=8000");
is_deeply([ids(@t)], [], 'cat=8000: nothing');

# --- the JSON API's filters -----------------------------------------------

@t = items("/api/torznab/api?t=search&$k&levels=3");
is_deeply([ids(@t)], [2003, 2001], 'levels');
@t = items("/api/torznab/api?t=search&$k&group_id=201");
is_deeply([ids(@t)], [2003], 'group_id');
@t = items("/api/torznab/api?t=search&$k&media_id=m2");
is_deeply([ids(@t)], [2005], 'media_id');
@t = items("/api/torznab/api?t=search&$k&levels=4&q=kiso");
is_deeply([ids(@t)], [2005], 'filters with q');

# --- the rate limiter answers in Torznab's terms ----------------------------

my @l = items("/limited/api?t=search&$k&limit=1");
is(scalar(@l), 1, 'limited location: first request served');
error_is("/limited/api?t=search&$k&limit=1", 429, 'Request limit reached',
         'limited location: second request');

# --- the database goes away -----------------------------------------------

PgTest::stop_server();
error_is("/api/torznab/api?t=search&$k", 900, 'Database unavailable.',
         'database down');
PgTest::start_server();

unlike($ngx->error_log, qr/\[(alert|crit|emerg)\]/,
       'no alerts in the error log');

done_testing();
