# The public feeds for feed readers (/api/rss/latest, /api/rss/category/
# <slug>) against a real nginx and PostgreSQL, read as Atom by xmllint and
# Python's ElementTree: feed and entry fields, newest first by feed time,
# categories, public magnets, what anonymous visitors may not see, limit,
# HEAD, errors.

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
my $ngx = TrackerNginx->new(name => 'rss', port_offset => 61);

END { local $?; $ngx->quit('TERM') if $ngx }

my $A = '{http://www.w3.org/2005/Atom}';
my $base = 'http://site.test';

PgTest::psql($db, <<"SQL");
INSERT INTO users (id, username, display_name, torrent_key)
VALUES (101, 'up', 'Uploader', repeat('a', 32));
INSERT INTO api_keys (user_id, key_hash)
VALUES (101, encode(sha256(convert_to('key-up', 'UTF8')), 'hex'));
INSERT INTO media (id, title) VALUES ('s1', 'Series'), ('m2', 'Film');
INSERT INTO torrents (id, info_hash, title, status, deleted, hidden,
    anonymous, filesize, media_id, uploader_id, uploaded_at, rss_at,
    seeders, leechers)
SELECT v.id, decode(md5('t' || v.id) || '00000000', 'hex'), v.title,
       v.status, v.deleted, v.hidden, v.anon, v.size, v.media, 101,
       timestamptz '2025-01-01 00:00+00' + v.day * interval '1 day',
       timestamptz '2025-01-01 00:00+00' + v.rss * interval '1 day',
       v.se, v.le
FROM (VALUES
  (1, 'Series - 01', 1, NULL::timestamptz, false, false, 1048576, 's1', 1,
   NULL::int, 3, 1),
  (2, E'Series - 02 <i>&\\x02</i>', 1, NULL, false, true, 2048, 's1', 2,
   NULL, 0, 0),
  (3, 'Film', 1, NULL, false, false, 4096, 'm2', 3, NULL, 0, 0),
  (4, 'Hidden', 1, NULL, true, false, 1, 's1', 4, NULL, 0, 0),
  (5, 'Deleted', 1, now(), false, false, 1, 's1', 5, NULL, 0, 0),
  (6, 'Pending', 0, NULL, false, false, 1, 's1', 6, NULL, 0, 0),
  (7, 'Refreshed', 1, NULL, false, false, 1, NULL, 0, 9, 0, 0))
  AS v(id, title, status, deleted, hidden, anon, size, media, day, rss,
       se, le);
UPDATE site_settings SET value = 'http://tracker.test/announce'
WHERE key = 'public_tracker_url';
UPDATE site_settings SET value = '$base' WHERE key = 'base_url';
UPDATE site_settings SET value = 'Site & Co' WHERE key = 'site_name';
SQL

ok($ngx->start(<<"EOF"), 'nginx starts') or BAIL_OUT($ngx->error_log);
    tracker_database "$db" pool=2;
    server {
        listen 127.0.0.1:${\ $ngx->port};
        location /api/rss/ { tracker_rss; }
    }
EOF

my $port = $ngx->port;

sub text { my $n = FeedTest::one(@_); $n ? $n->{text} : undef }

# the feed and its entries, as hashes
sub feed {
    my ($path, $lint) = @_;
    my ($st, $h, $body) = FeedTest::request($port, 'GET', $path);
    is($st, 200, "$path: 200");
    is($h->{'content-type'}, 'application/atom+xml; charset=utf-8',
       "$path: Atom type");
    is(FeedTest::wellformed($body), '', "$path: xmllint: well-formed")
        if $lint;
    my $f = FeedTest::tree($body) // { kids => [] };
    is($f->{tag}, "${A}feed", "$path: an Atom feed");
    my @e;
    for my $en (FeedTest::all($f, "${A}entry")) {
        my %e = map { $_ => text($en, "$A$_") }
                qw(id title updated published summary);
        $e{author} = text(FeedTest::one($en, "${A}author"), "${A}name");
        $e{links} = { map { $_->{attr}{rel} => $_->{attr} }
                      FeedTest::all($en, "${A}link") };
        $e{category} = FeedTest::one($en, "${A}category")->{attr};
        push @e, \%e;
    }
    return ($f, @e);
}

sub ids { map { $_->{id} =~ m{/torrents/(\d+)$} ? $1 : '?' } @_ }

my ($f, @e) = feed('/api/rss/latest', 1);
is(text($f, "${A}id"), "$base/api/rss/latest", 'feed id');
is(text($f, "${A}title"), 'Site & Co: latest', 'feed title, escaped');
is(text($f, "${A}updated"), '2025-01-10T00:00:00Z',
   'feed updated: its newest entry');
my %fl = map { $_->{attr}{rel} => $_->{attr}{href} }
         FeedTest::all($f, "${A}link");
is_deeply(\%fl, { self => "$base/api/rss/latest", alternate => "$base/" },
          'feed links');
is_deeply([ids(@e)], [7, 3, 2, 1],
          'newest first by feed time (refreshed on top); hidden, deleted '
          . 'and pending left out');

my ($one) = grep { $_->{id} =~ m{/1$} } @e;
my $hash = md5_hex('t1') . '00000000';
is_deeply($one, {
    id => "$base/torrents/1",
    title => 'Series - 01',
    updated => '2025-01-02T00:00:00Z',
    published => '2025-01-02T00:00:00Z',
    summary => '1024 kB, 3 seeders, 1 leechers',
    author => 'Uploader',
    links => {
        alternate => { rel => 'alternate', type => 'text/html',
                       href => "$base/torrents/1" },
        enclosure => { rel => 'enclosure',
                       type => 'application/x-bittorrent', length => 1048576,
                       href => "magnet:?xt=urn:btih:$hash&dn=Series%20-%2001"
                               . '&tr=http%3A%2F%2Ftracker.test%2Fannounce' },
    },
    category => { term => 'anime', label => 'Anime' },
}, 'every field of an entry; the public magnet (no passkey)');

my ($two) = grep { $_->{id} =~ m{/2$} } @e;
is($two->{title}, 'Series - 02 <i>&</i>', 'markup escaped, control '
   . 'characters removed');
is($two->{author}, 'Anonymous', 'anonymous uploads stay anonymous');
my ($r) = grep { $_->{id} =~ m{/7$} } @e;
is($r->{updated}, '2025-01-10T00:00:00Z', 'refreshed: updated is the feed time');
is($r->{published}, '2025-01-01T00:00:00Z', 'refreshed: published stays');
my ($film) = grep { $_->{id} =~ m{/3$} } @e;
is_deeply($film->{category}, { term => 'movies', label => 'Movies' },
          'a movie is in movies');

# a key changes nothing: the feed is public
my ($st, $h, $body) = FeedTest::request($port, 'GET',
                                        '/api/rss/latest?apikey=key-up');
my ($st2, $h2, $body2) = FeedTest::request($port, 'GET', '/api/rss/latest');
is($body, $body2, 'the same feed with or without a key; stable URLs');

# categories
(undef, @e) = feed('/api/rss/category/movies');
is_deeply([ids(@e)], [3], 'category movies');
(undef, @e) = feed('/api/rss/category/anime');
is_deeply([ids(@e)], [7, 2, 1], 'category anime');
($f, @e) = feed('/api/rss/category/TV', 1);
is_deeply([ids(@e)], [7, 2, 1], 'category tv (any case)');
is(text($f, "${A}id"), "$base/api/rss/category/tv", 'category feed id');
is(text($f, "${A}title"), 'Site & Co: TV', 'category feed title');

# limit
(undef, @e) = feed('/api/rss/latest?limit=2');
is_deeply([ids(@e)], [7, 3], 'limit=2');

for my $bad ('limit=0', 'limit=101', 'limit=x') {
    ($st, $h, $body) = FeedTest::request($port, 'GET',
                                         "/api/rss/latest?$bad");
    is($st, 400, "$bad: 400");
    like($h->{'content-type'}, qr{^text/plain}, "$bad: text");
    like($body, qr/limit/, "$bad: names the parameter");
}

($st, $h, $body) = FeedTest::request($port, 'GET', '/api/rss/category/nope');
is_deeply([$st, $body], [404, 'Category not found.'], 'unknown category');
($st, $h, $body) = FeedTest::request($port, 'GET', '/api/rss/nothing');
is($st, 404, 'unknown feed');
($st, $h, $body) = FeedTest::request($port, 'POST', '/api/rss/latest');
is($st, 405, 'POST: 405');
($st, $h, $body) = FeedTest::request($port, 'HEAD', '/api/rss/latest');
is_deeply([$st, $h->{'content-type'}, $body],
          [200, 'application/atom+xml; charset=utf-8', ''], 'HEAD');

# nothing at all yet: still a valid feed
PgTest::psql($db, 'UPDATE torrents SET deleted = now()');
($f, @e) = feed('/api/rss/latest', 1);
is(scalar(@e), 0, 'no torrents: no entries');
is(text($f, "${A}updated"), '1970-01-01T00:00:00Z',
   'no torrents: updated is still a date');

PgTest::stop_server();
($st, $h, $body) = FeedTest::request($port, 'GET', '/api/rss/latest');
is_deeply([$st, $body], [503, 'Database unavailable.'], 'database down: 503');
PgTest::start_server();

unlike($ngx->error_log, qr/\[(alert|crit|emerg)\]/,
       'no alerts in the error log');

done_testing();
