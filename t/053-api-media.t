# The media group of the JSON API against a real nginx and PostgreSQL:
# /media/<id> (?force=true), /media/search, /stats with its answer cache in
# shared memory (tracker_api_cache_zone), and /health.  Shapes are compared
# whole, with every scalar's JSON type (string, number, boolean, null).

use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use Test::More;
use PgTest;
use TrackerNginx;
use JSON::PP ();
use HTTP::Tiny;
use B ();
use IPC::Run ();
use Time::HiRes qw(sleep);

my $db = PgTest::fresh_db();
my $key = 'media-test-key-0123456789';

# Fixtures: two users (one with an API key), three groups (one deleted),
# media s501 with three episodes and torrents by two groups, s502 whose only
# torrent is deleted, m601 without torrents.
PgTest::psql($db, <<"SQL");
INSERT INTO users (id, username, created_at, last_active_at) VALUES
    (11, 'newbie', now() - interval '1 day', now() - interval '1 hour'),
    (12, 'oldie', now() - interval '60 days', NULL);
INSERT INTO api_keys (user_id, key_hash)
    VALUES (11, encode(sha256('$key'), 'hex'));
INSERT INTO groups (id, name, display_name, tag, display_tag, tagline,
                    created_at, deleted) VALUES
    (21, 'ferry-subs', 'Ferry Subs', 'ferry', 'FERRY', 'We sub ferries',
     now() - interval '2 days', NULL),
    (22, 'comet-enc', 'Comet Encodes', 'comet', 'Comet', '',
     now() - interval '30 days', NULL),
    (23, 'gone', 'Gone Group', 'gone', 'Gone', '', now(), now());
INSERT INTO media (id, title, year, genres, overview, status, banner_url,
                   runtime, tvdb_id, tmdb_id, imdb_id, alternate_titles,
                   notes) VALUES
    ('s501', 'Moonlit Ferry', 2025, '{Anime,Drama}', 'Boats at night.',
     'continuing', 'https://example.org/b.jpg', 24, 7001, 8001, 'tt7001',
     '{"Tsukiyo no Watashi","Moonlight Ferry"}', 'note'),
    ('s502', 'Quiet Orchard', 2020, '{}', NULL, 'ended', NULL, NULL, NULL,
     NULL, NULL, '{}', NULL),
    ('m601', 'Paper Comet', 2019, '{Anime}', 'A movie.', 'released', NULL,
     95, NULL, 9001, NULL, '{"Kami no Suisei"}', NULL);
INSERT INTO episodes (id, media_id, season, episode, title, overview,
                      runtime, air_date, tvdb_id) VALUES
    (901, 's501', 1, 2, 'Second', NULL, 24, '2025-01-08 15:30+00', NULL),
    (900, 's501', 1, 1, 'First', 'It starts.', 24, '2025-01-01 15:30+00',
     5551),
    (902, 's501', 0, 1, 'Special', NULL, NULL, NULL, NULL);
INSERT INTO torrents (id, info_hash, title, status, deleted, level, mtl,
                      video_type, sub_lang, fsub_lang, media_id, uploader_id,
                      uploaded_at, seeders, leechers, completed) VALUES
    (31, decode(repeat('01', 20), 'hex'), 'Moonlit Ferry 01', 1, NULL, 2,
     false, 9, 'es,en', 'en', 's501', 11, now() - interval '2 days', 10, 1,
     5),
    (32, decode(repeat('02', 20), 'hex'), 'Moonlit Ferry 01-02', 1, NULL, 3,
     true, 3, '', 'fr', 's501', 11, now() - interval '2 hours', 3, 2, 7),
    (33, decode(repeat('03', 20), 'hex'), 'Moonlit Ferry 03 (pending)', 0,
     NULL, 4, false, 9, '', 'de', 's501', 12, now(), 100, 100, 100),
    (34, decode(repeat('04', 20), 'hex'), 'Quiet Orchard 01', 1, now(), 1,
     false, 9, '', 'en', 's502', 12, now(), 50, 50, 50);
INSERT INTO torrent_episodes (torrent_id, episode_id) VALUES
    (31, 900), (32, 900), (32, 901), (33, 902);
INSERT INTO torrent_groups (torrent_id, group_id, is_primary, role) VALUES
    (31, 21, true, NULL), (31, 22, false, 'Encode'), (32, 21, true, NULL),
    (32, 23, false, 'QC'), (33, 22, true, NULL), (34, 22, true, NULL);
SQL

my $ngx = TrackerNginx->new(name => 'api-media', workers => 2);
my $down = TrackerNginx->new(name => 'api-media-down', port_offset => 1);

END {
    local $?;
    $ngx->quit('TERM') if $ngx;
    $down->quit('TERM') if $down;
}

sub http_conf {
    my %o = @_;
    my $cache = $o{cache} // 'tracker_api_cache_zone api_cache:1m;';
    my $port = $o{port} // $ngx->port;
    my $conn = $o{db} // $db;
    return <<"EOF";
    tracker_database "$conn" pool=2 retry=200ms;
    $cache
    server {
        listen 127.0.0.1:$port;
        location /api/v1/ { tracker_api; }
    }
EOF
}

ok($ngx->start(http_conf()), 'nginx starts with the api cache zone')
    or BAIL_OUT('no nginx: ' . $ngx->error_log);

my $ua = HTTP::Tiny->new(timeout => 10);

# (status, raw body, decoded body)
sub api {
    my ($path, %o) = @_;
    my $n = $o{ngx} // $ngx;
    my %h;
    $h{Authorization} = "Bearer $o{key}" if $o{key};
    my $res = $ua->get('http://127.0.0.1:' . $n->port . "/api/v1$path",
                       { headers => \%h });
    my $json = eval { JSON::PP->new->decode($res->{content}) };
    return ($res->{status}, $res->{content}, $json,
            $res->{headers}{'content-type'} // '');
}

# Every scalar tagged with its JSON type, so is_deeply also compares
# types: "s:text", "n:12", true/false, undef.
sub typed {
    my $v = shift;
    return undef unless defined $v;
    if (ref $v eq 'HASH') {
        return { map { $_ => typed($v->{$_}) } keys %$v };
    }
    if (ref $v eq 'ARRAY') {
        return [ map { typed($_) } @$v ];
    }
    if (JSON::PP::is_bool($v)) {
        return $v ? 'true' : 'false';
    }
    my $flags = B::svref_2object(\$v)->FLAGS;
    return ($flags & B::SVp_POK) ? "s:$v" : "n:$v";
}

sub S { "s:$_[0]" }
sub N { "n:$_[0]" }

sub invalid {
    my ($message, $error) = @_;
    return { error => 'true', message => S($message),
             validate_errors => [ $error ] };
}

sub err {
    return { error => 'true', message => S($_[0]) };
}

# --- GET /media/<id> ---------------------------------------------------------

my %episode_first = (
    id => N(900), title => S('First'), season => N(1), episode => N(1),
    overview => S('It starts.'), runtime => N(24),
    airDateUtc => S('2025-01-01T15:30:00Z'), tvdbId => N(5551),
);

my $s501 = {
    title => S('Moonlit Ferry'), year => N(2025),
    genres => [ S('Anime'), S('Drama') ], overview => S('Boats at night.'),
    status => S('continuing'), banner_url => S('https://example.org/b.jpg'),
    runtime => N(24), tvdbId => N(7001), tmdbId => N(8001),
    imdbId => S('tt7001'),
    alternate_titles => [ S('Tsukiyo no Watashi'), S('Moonlight Ferry') ],
    notes => S('note'),
    # season 0 first, then by episode; the pending torrent's episode is
    # listed (episodes are the media's), but credits no group
    episodes => [
        { id => N(902), title => S('Special'), season => N(0),
          episode => N(1), overview => undef, runtime => undef,
          airDateUtc => undef, tvdbId => undef },
        \%episode_first,
        { id => N(901), title => S('Second'), season => N(1),
          episode => N(2), overview => undef, runtime => N(24),
          airDateUtc => S('2025-01-08T15:30:00Z'), tvdbId => undef },
    ],
    groups => [
        # highest level first; the deleted group and the pending torrent's
        # credit are left out
        { id => S(21), name => S('ferry-subs'), display_name => S('Ferry Subs'),
          tag => S('ferry'), display_tag => S('FERRY'),
          tagline => S('We sub ferries'), pfp_hash => undef,
          episodes => {
              900 => { level => N(3), video_type => N(3), mtl => 'true' },
              901 => { level => N(3), video_type => N(3), mtl => 'true' },
          },
          max_level => N(3),
          langs => { fsub => [ S('en'), S('fr') ], sub => [ S('en'), S('es') ] },
        },
        { id => S(22), name => S('comet-enc'),
          display_name => S('Comet Encodes'), tag => S('comet'),
          display_tag => S('Comet'), tagline => S(''), pfp_hash => undef,
          episodes => {
              900 => { level => N(2), video_type => N(9), mtl => 'false' },
          },
          max_level => N(2),
          langs => { fsub => [ S('en') ], sub => [ S('en'), S('es') ] },
        },
    ],
};

my ($status, $raw, $json, $type) = api('/media/s501');
is($status, 200, '/media/s501: 200');
like($type, qr{^application/json}, '... JSON');
is_deeply(typed($json), { error => 'false', data => $s501 },
          '... the whole media object, with JSON types')
    or diag($raw);

($status, undef, $json) = api('/media/s501', key => $key);
is($status, 200, '/media/s501 with a key: 200');
is_deeply(typed($json), { error => 'false', data => $s501 },
          '... the same object (no caller-specific fields)');

($status, undef, $json) = api('/media/s501', key => 'not-a-key');
is($status, 200, '/media/s501 with an unknown key: 200 (auth optional)');

($status, $raw, $json) = api('/media/s502');
is($status, 400, '/media/s502 (only a deleted torrent): 400');
is_deeply(typed($json), err('No torrents found for this media.'),
          '... "No torrents found for this media."');

($status, $raw, $json) = api('/media/m601');
is($status, 400, '/media/m601 (no torrents): 400');

($status, $raw, $json) = api('/media/m601?force=true');
is($status, 200, '/media/m601?force=true: 200');
is_deeply(typed($json), { error => 'false', data => {
    title => S('Paper Comet'), year => N(2019), genres => [ S('Anime') ],
    overview => S('A movie.'), status => S('released'), banner_url => undef,
    runtime => N(95), tvdbId => undef, tmdbId => N(9001), imdbId => undef,
    alternate_titles => [ S('Kami no Suisei') ], notes => undef,
    episodes => [], groups => [] } },
    '... the media with empty episodes and groups') or diag($raw);

($status) = api('/media/m601?force=false');
is($status, 400, '/media/m601?force=false: 400');

for my $id (qw(s999 x501 s1x 1234)) {
    ($status, $raw, $json) = api("/media/$id?force=true");
    is($status, 404, "/media/$id: 404");
    is_deeply(typed($json), err('Media not found.'), '... "Media not found."');
}

($status, $raw, $json) = api('/media/s501?force=yes');
is($status, 400, '?force=yes: 400');
is_deeply(typed($json), invalid("Data provided was invalid: 'force' must be "
                                . 'boolean.',
    { instancePath => S('/force'), schemaPath => S('#/properties/force/type'),
      keyword => S('type'), params => { type => S('boolean') },
      message => S('must be boolean') }),
    '... the type error shape') or diag($raw);

# --- GET /media/search -------------------------------------------------------

sub search_result {
    my ($r) = @_;
    my %copy = %$r;
    my $sim = delete $copy{similarity};
    return (\%copy, $sim);
}

my %s501_search = (
    id => S('s501'), title => S('Moonlit Ferry'), year => N(2025),
    genres => [ S('Anime'), S('Drama') ], overview => S('Boats at night.'),
    status => S('continuing'), banner_url => S('https://example.org/b.jpg'),
    runtime => N(24), tvdbId => N(7001), tmdbId => N(8001),
    imdbId => S('tt7001'),
    alternate_titles => [ S('Tsukiyo no Watashi'), S('Moonlight Ferry') ],
);

($status, $raw, $json) = api('/media/search?query=moonlit%20ferry');
is($status, 200, '/media/search?query=moonlit ferry: 200');
my $t = typed($json);
is($t->{error}, 'false', '... error false');
is($t->{data}{more}, 'false', '... more: false');
is(scalar @{ $t->{data}{results} }, 1, '... one result') or diag($raw);
my ($obj, $sim) = search_result($t->{data}{results}[0] // {});
is_deeply($obj, \%s501_search, '... the media object with its id');
is($sim, 'n:1', '... similarity is a number: 1 for the exact title');

# a word of the title finds it; media without torrents are found too
($status, $raw, $json) = api('/media/search?query=comet');
$t = typed($json);
is($status, 200, '/media/search?query=comet: 200');
is_deeply([ map { $_->{id} } @{ $t->{data}{results} } ], [ S('m601') ],
          '... finds the movie by a word of its title') or diag($raw);
like($t->{data}{results}[0]{similarity} // '', qr/^n:0\.\d+$/,
     '... similarity a number between 0 and 1');

# alternate titles count; "Moonlight Ferry" is s501's alternate title
($status, $raw, $json) = api('/media/search?query=moonlight%20ferry');
$t = typed($json);
is($t->{data}{results}[0]{id}, S('s501'), 'an alternate title finds it')
    or diag($raw);
is($t->{data}{results}[0]{similarity}, 'n:1', '... similarity 1');

# paging: "Moonlit Ferry" vs a second media with a close title
PgTest::psql($db, "INSERT INTO media (id, title) "
                  . "VALUES ('s503', 'Moonlit Ferry Returns')");
($status, $raw, $json) = api('/media/search?query=moonlit%20ferry&limit=1');
$t = typed($json);
is($status, 200, 'limit=1: 200');
is_deeply([ map { $_->{id} } @{ $t->{data}{results} } ], [ S('s501') ],
          '... the most similar first') or diag($raw);
is($t->{data}{more}, 'true', '... more: true');

($status, $raw, $json) =
    api('/media/search?query=moonlit%20ferry&limit=1&offset=1');
$t = typed($json);
is_deeply([ map { $_->{id} } @{ $t->{data}{results} } ], [ S('s503') ],
          'offset=1: the next one') or diag($raw);
is($t->{data}{more}, 'false', '... more: false');

($status, $raw, $json) = api('/media/search?query=zzzzqqqq');
is($status, 200, 'nothing similar: 200');
is_deeply(typed($json), { error => 'false',
                          data => { more => 'false', results => [] } },
          '... empty results');

($status, $raw, $json) = api('/media/search?query=%22%27%5C%00');
ok($status == 200 || $status == 400,
   'quotes, backslash and NUL in the query: no error 500');

my @bad = (
    [ '', invalid("Data provided was invalid: must have required property "
                  . "'query'.",
        { instancePath => S(''), schemaPath => S('#/required'),
          keyword => S('required'), params => { missingProperty => S('query') },
          message => S("must have required property 'query'") }) ],
    [ '?query=a&limit=0', invalid("Data provided was invalid: 'limit' must be "
                                  . '>= 1.',
        { instancePath => S('/limit'),
          schemaPath => S('#/properties/limit/minimum'),
          keyword => S('minimum'),
          params => { comparison => S('>='), limit => N(1) },
          message => S('must be >= 1') }) ],
    [ '?query=a&limit=101', invalid("Data provided was invalid: 'limit' must "
                                    . 'be <= 100.',
        { instancePath => S('/limit'),
          schemaPath => S('#/properties/limit/maximum'),
          keyword => S('maximum'),
          params => { comparison => S('<='), limit => N(100) },
          message => S('must be <= 100') }) ],
    [ '?query=a&offset=-1', invalid("Data provided was invalid: 'offset' must "
                                    . 'be >= 0.',
        { instancePath => S('/offset'),
          schemaPath => S('#/properties/offset/minimum'),
          keyword => S('minimum'),
          params => { comparison => S('>='), limit => N(0) },
          message => S('must be >= 0') }) ],
    [ '?query=a&offset=x', invalid("Data provided was invalid: 'offset' must "
                                   . 'be integer.',
        { instancePath => S('/offset'),
          schemaPath => S('#/properties/offset/type'),
          keyword => S('type'), params => { type => S('integer') },
          message => S('must be integer') }) ],
);

for my $b (@bad) {
    ($status, $raw, $json) = api("/media/search$b->[0]");
    is($status, 400, "/media/search$b->[0]: 400");
    is_deeply(typed($json), $b->[1], '... the validation error shape')
        or diag($raw);
}

# --- GET /stats and its cache ------------------------------------------------

my $stats_data = {
    top_media_1w => [
        { id => S('s501'), title => S('Moonlit Ferry'),
          banner_url => S('https://example.org/b.jpg'), seeders => N(13) },
    ],
    users => { total => N(2), new_1w => N(1), active_1m => N(1) },
    groups => { total => N(2), new_1w => N(1), active_1m => N(2) },
    torrents => { total => N(2), new_1d => N(1), total_downloads => N(12) },
    peers => { seeders => N(13), leechers => N(3) },
};

sub stats_check {
    my ($label, $message, %o) = @_;
    my ($st, $rw, $js) = api('/stats', %o);
    is($st, 200, "$label: 200");
    my $ty = typed($js) // {};
    my $created = delete $ty->{data}{created_at} // '';
    like($created, qr/^s:\d{13}$/, "$label: created_at, ms as a string");
    my %want = (error => 'false', data => $o{want} // $stats_data);
    $want{message} = S($message) if defined $message;
    is_deeply($ty, \%want, "$label: the numbers, "
                           . ($message ? "with \"$message\"" : 'no message'))
        or diag($rw);
    return $created;
}

my $first = stats_check('/stats, first', undef);

# the database changes; the cached answer is what every worker serves
PgTest::psql($db, "INSERT INTO users (id, username) VALUES (13, 'late')");

my @hits = map { stats_check("/stats, again ($_)",
                             'Cache hit, returning stats.') } 1 .. 6;
is_deeply([ grep { $_ ne $first } @hits ], [],
          'cache hits keep the first computation\'s created_at');

stats_check('/stats with a key', 'Cache hit, returning stats.', key => $key);

# a short ttl= on the zone replaces the routes' 60 s; a new zone name
# starts empty (a reload keeps a zone's entries)
ok($ngx->reload(http_conf(cache => 'tracker_api_cache_zone api_short:1m '
                                   . 'ttl=300ms;')),
   'reload with ttl=300ms');

my $want3 = { %$stats_data,
              users => { total => N(3), new_1w => N(2), active_1m => N(1) } };

my $c1 = stats_check('/stats after the reload', undef, want => $want3);
stats_check('/stats right after', 'Cache hit, returning stats.',
            want => $want3);
sleep 0.5;
PgTest::psql($db, "INSERT INTO users (id, username) VALUES (14, 'later')");
my $want4 = { %$stats_data,
              users => { total => N(4), new_1w => N(3), active_1m => N(1) } };
my $c2 = stats_check('/stats once the ttl passed', undef, want => $want4);
cmp_ok($c2, 'gt', $c1, '... computed again (a later created_at)');

# without a cache zone every request computes the stats
ok($ngx->reload(http_conf(cache => '')), 'reload without a cache zone');
stats_check("/stats, no zone ($_)", undef, want => $want4) for 1 .. 2;

# --- GET /health -------------------------------------------------------------

($status, $raw, $json) = api('/health');
is($status, 200, '/health: 200');
$t = typed($json);
like(delete $t->{data}{time} // '', qr/^s:\d{13}$/,
     '... time, ms as a string');
is_deeply($t, { error => 'false', data => { database => S('ok') } },
          '... {"database":"ok"}') or diag($raw);

($status) = api('/health', key => $key);
is($status, 200, '/health with a key: 200');

# --- the database unreachable -----------------------------------------------

ok($down->start(http_conf(port => $down->port,
                          db => 'host=/nonexistent-media-socket-dir '
                                . 'port=1 dbname=x user=x')),
   'an nginx whose database is unreachable starts');

for my $path ('/health', '/stats', '/stats', '/media/s501',
              '/media/search?query=x')
{
    ($status, $raw, $json) = api($path, ngx => $down);
    is($status, 503, "database down: $path 503");
    is_deeply(typed($json), err('Database unavailable.'),
              '... "Database unavailable."') or diag($raw);
}

# --- /stats past statement_timeout ------------------------------------------

# a session holds a lock the stats need; the function's statement times
# out and it answers the reference's timeout error instead of failing
my ($in, $out, $errout) = ("BEGIN;\nLOCK TABLE users IN ACCESS EXCLUSIVE "
                           . "MODE;\nSELECT 'locked';\n", '', '');
my $holder = IPC::Run::start(['psql', '-X', '-q', '-A', '-t', '-d', $db],
                             \$in, \$out, \$errout);
for (1 .. 400) {
    $holder->pump_nb;
    last if $out =~ /locked/;
    sleep 0.025;
}
like($out, qr/locked/, 'a session holds an exclusive lock on users');

my $row = PgTest::psql($db, "SET statement_timeout = '300ms'; "
    . "SELECT status, convert_from(body, 'UTF8') FROM api_stats(NULL, '{}')");
my ($tstatus, $tbody) = split /\t/, $row, 2;
is($tstatus, 500, 'stats past statement_timeout: 500');
is_deeply(typed(JSON::PP->new->decode($tbody)),
          err('Timed out whilst fetching stats.'),
          '... "Timed out whilst fetching stats."');

$in .= "ROLLBACK;\n\\q\n";
$holder->finish;

done_testing();
