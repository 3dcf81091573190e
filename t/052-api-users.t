# JSON API, users group: /users/<id|@me> (+ /groups, /notifications,
# /peers), /users/search, /groups/<id>, /groups/search, /invites/<id>,
# against a real nginx and a real PostgreSQL with fixtures of known values.
# Whole bodies are compared with JSON types made explicit (a string "1"
# and a number 1 differ), so every key, its type and its presence with and
# without a key are checked.

use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use Test::More;
use PgTest;
use TrackerNginx;
use HTTP::Tiny;
use JSON::PP ();
use B ();

my $T = JSON::PP::true;
my $F = JSON::PP::false;

my $db = PgTest::fresh_db();

# keys are stored as SHA-256 hex of the key
PgTest::psql($db, <<'SQL');
INSERT INTO users (id, username, display_name, pfp_hash, description,
                   torrent_key, permissions, uploaded, downloaded, has_mfa,
                   recovery_key_downloaded, disabled)
VALUES
    (1001, 'neko', 'Neko', 'abc123', 'Neko''s page.',
     'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', 4, 50043, 1945, true, false, false),
    (1002, 'mika', 'Mika', NULL, '', 'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb', 0,
     0, 0, false, false, false),
    (1003, 'root', 'Root', NULL, '', 'cccccccccccccccccccccccccccccccc', 1,
     0, 0, false, true, false),
    (1004, 'nodisp', NULL, NULL, 'gone', 'dddddddddddddddddddddddddddddddd',
     0, 7, 8, false, false, true);

INSERT INTO api_keys (user_id, key_hash, revoked)
SELECT u, encode(sha256(convert_to(k, 'UTF8')), 'hex'), r
FROM (VALUES (1001, 'key-neko', false), (1002, 'key-mika', false),
             (1003, 'key-root', false), (1002, 'key-old', true)) v(u, k, r);

INSERT INTO user_nyaa_accounts (user_id, username, public, created_at)
VALUES (1001, 'NekoPub', true, '2025-01-01'),
       (1001, 'NekoPriv', false, '2025-01-02');

INSERT INTO groups (id, name, display_name, tag, display_tag, tagline,
                    description, created_at, deleted)
VALUES
    (2001, 'subs', 'Example Subs', 'exsubs', 'ExSubs', 'We sub.',
     'Subs group.', now() - interval '30 days', NULL),
    (2002, 'enc', 'Encoders', 'enc', 'Enc', 'We encode.', '',
     now() - interval '20 days', NULL),
    (2003, 'parent', 'Parent Group', 'par', 'Par', '', '',
     now() - interval '10 days', NULL),
    (2004, 'gone', 'Gone', 'gone', 'Gone', '', '',
     now() - interval '5 days', now());

INSERT INTO group_members (group_id, user_id, leader, admin, regular,
                           joined_at)
VALUES (2001, 1001, true, true, true, '2025-02-01'),
       (2001, 1002, false, false, true, '2025-02-02'),
       (2002, 1003, true, true, true, '2025-02-03'),
       (2002, 1001, false, true, false, '2025-02-04'),
       (2004, 1001, true, true, true, '2025-02-05');

-- 2002 is 2001's child (approved); 2003 asked to be 2001's parent
INSERT INTO group_links (parent_id, child_id, initiator_id, parent_approved,
                         child_approved)
VALUES (2001, 2002, 2001, true, true),
       (2003, 2001, 2003, true, false);

INSERT INTO group_invites (id, group_id, author_id, recipient_id,
                           display_name, invite_key, used, created_at)
VALUES
    (3001, 2001, 1001, 1003, 'Rooty', repeat('b', 32), false, '2025-03-01'),
    (3002, 2001, 1001, NULL, 'Ghost', repeat('c', 32), false, '2025-03-02'),
    (3003, 2001, 1001, 1002, 'Mika', repeat('e', 32), true, '2025-03-03'),
    (3004, 2004, 1001, NULL, 'Lost', repeat('f', 32), false, '2025-03-04');

INSERT INTO media (id, title, banner_url) VALUES
    ('s1', 'Show One', 'https://img.example/b.jpg');
INSERT INTO episodes (id, media_id, season, episode, absolute, tvdb_id,
                      title)
VALUES (11, 's1', 1, 1, 1, 555, 'Ep 1'), (12, 's1', 1, 2, 2, NULL, 'Ep 2');

INSERT INTO torrents (id, info_hash, title, filesize, media_id, uploader_id,
                      hidden, anonymous, deleted, seeders, leechers,
                      completed)
SELECT id, decode(lpad(to_hex(id), 40, '0'), 'hex'), title, size, m, up,
       hid, anon, del, s, l, c
FROM (VALUES
    (4001, 'Show One - 01', 1000, 's1', 1001, false, false, NULL::timestamptz,
     5, 1, 10),
    (4002, 'Show One - 02', 2000, 's1', 1003, false, false, NULL, 2, 0, 3),
    (4003, 'Hidden one', 3000, NULL, 1001, true, false, NULL, 0, 0, 0),
    (4004, 'Anonymous one', 4000, NULL, 1001, false, true, NULL, 1, 0, 2),
    (4005, 'Joint one', 5000, NULL, 1003, false, false, NULL, 3, 2, 4),
    (4006, 'Deleted one', 6000, NULL, 1001, false, false, now(), 9, 9, 9))
    AS v(id, title, size, m, up, hid, anon, del, s, l, c);

INSERT INTO torrent_episodes VALUES (4001, 11), (4002, 12);

INSERT INTO torrent_groups (torrent_id, group_id, is_primary) VALUES
    (4001, 2001, true), (4002, 2002, true), (4003, 2001, true),
    (4004, 2001, true), (4005, 2002, true), (4005, 2001, false),
    (4006, 2001, true);

INSERT INTO torrent_contributors (torrent_id, group_id, user_id, invite_id)
VALUES (4001, 2001, 1001, NULL), (4003, 2001, 1001, NULL),
       (4004, 2001, 1002, NULL), (4001, 2001, NULL, 3002);

INSERT INTO notifications (id, user_id, data, seen, created_at) VALUES
    (5001, 1001, 'Welcome.', true, now() - interval '3 days'),
    (5002, 1001, '<g:2001:Example Subs> says hi', false,
     now() - interval '2 days'),
    (5003, 1001, 'Newest.', false, now() - interval '1 day'),
    (5004, 1002, 'For mika.', false, now());

INSERT INTO peers (torrent_id, user_id, peer_id, ip, port, uploaded,
                   downloaded, "left", seeder, agent, first_seen, last_seen)
VALUES
    (4001, 1001, convert_to('-qB4650-abcdefghijkl', 'UTF8'), '198.51.100.7',
     6881, 1000, 0, 0, true, 'qBittorrent/4.6.5',
     '2026-01-01 00:00:00+00', '2026-01-01 00:01:40+00'),
    (4001, 1001, decode('2d5452333030302d00257e20ff41424344454647', 'hex'),
     '2001:db8::1', 51413, 0, 0, 0, true, NULL,
     '2026-01-01 00:01:00+00', '2026-01-01 00:01:00+00'),
    (4002, 1001, convert_to('-qB4650-zzzzzzzzzzzz', 'UTF8'), '198.51.100.7',
     6881, 0, 500, 300, false, NULL,
     '2026-01-01 00:00:00+00', '2026-01-01 00:00:50+00'),
    (4001, 1002, convert_to('-qB4650-mmmmmmmmmmmm', 'UTF8'), '192.0.2.1',
     1, 0, 0, 0, true, NULL, now(), now());

INSERT INTO user_torrents (user_id, torrent_id, uploaded, downloaded,
                           completed, up_time, down_time, created_at,
                           updated_at, last_completed)
VALUES (1001, 4001, 48492, 0, 1, 74859, 10, '2025-12-31 00:00:00+00',
        '2026-01-01 00:01:40+00', '2025-12-31 01:00:00+00');
SQL

$ENV{TEST_NGINX_PG} = $db;

my $ngx = TrackerNginx->new(name => 'api-users', workers => 1);
END { local $?; $ngx->quit('TERM') if $ngx && $ngx->pid }

ok($ngx->start(<<"EOF"), 'nginx starts') or BAIL_OUT($ngx->error_log);
    tracker_database "$db" pool=2 retry=200ms;
    server {
        listen 127.0.0.1:${\ $ngx->port};
        location /api/v1/ { tracker_api; }
    }
EOF

my $ua = HTTP::Tiny->new(timeout => 10);
my $json = JSON::PP->new;

# ($status, $decoded body, $response); $key goes in the ssid cookie, or
# as a Bearer token when it starts with "Bearer "
sub api {
    my ($path, $key, $method) = @_;
    my %h;
    if (defined $key) {
        if ($key =~ /^Bearer /) { $h{Authorization} = $key }
        else { $h{Cookie} = "ssid=$key" }
    }
    my $res = $ua->request($method // 'GET',
                           'http://127.0.0.1:' . $ngx->port . "/api/v1$path",
                           { headers => \%h });
    my $body = eval { $json->decode($res->{content}) };
    return ($res->{status}, $body, $res);
}

# JSON values with their types: "str:1", "num:1", "bool:true", "null"
sub typed {
    my $v = shift;
    return 'null' unless defined $v;
    return { map { $_ => typed($v->{$_}) } keys %$v } if ref $v eq 'HASH';
    return [ map { typed($_) } @$v ] if ref $v eq 'ARRAY';
    return $v ? 'bool:true' : 'bool:false' if JSON::PP::is_bool($v);
    my $f = B::svref_2object(\$v)->FLAGS;
    return (($f & (B::SVf_IOK | B::SVf_NOK)) && !($f & B::SVf_POK))
        ? "num:$v" : "str:$v";
}

sub same {
    my ($got, $want, $name) = @_;
    is_deeply(typed($got), typed($want), $name)
        or diag(JSON::PP->new->canonical->pretty->encode($got // {}));
}

sub fails {
    my ($path, $key, $status, $message, $name) = @_;
    my ($s, $b) = api($path, $key);
    is($s, $status, "$name: $status");
    same($b, { error => $T, message => $message }, "$name: body");
}

my %group = (
    2001 => { id => '2001', name => 'subs', display_name => 'Example Subs',
              tag => 'exsubs', display_tag => 'ExSubs', pfp_hash => undef,
              tagline => 'We sub.', description => 'Subs group.',
              anonymous => 0 },
    2002 => { id => '2002', name => 'enc', display_name => 'Encoders',
              tag => 'enc', display_tag => 'Enc', pfp_hash => undef,
              tagline => 'We encode.', description => '', anonymous => 0 },
    2003 => { id => '2003', name => 'parent', display_name => 'Parent Group',
              tag => 'par', display_tag => 'Par', pfp_hash => undef,
              tagline => '', description => '', anonymous => 0 },
);

sub with { my ($h, %more) = @_; return { %$h, %more } }
sub without { my ($h, @k) = @_; my %c = %$h; delete @c{@k}; return \%c }

# --- GET /users/<id|@me> ---------------------------------------------------

my $neko_public = {
    id => '1001', username => 'neko', display_name => 'Neko',
    pfp_hash => 'abc123', description => "Neko's page.",
    torrent_count => 1, contribution_count => 1,
    groups => [
        with($group{2001}, admin => $T, leader => $T, regular => $T),
        with($group{2002}, admin => $T, leader => $F, regular => $F),
    ],
    upload => '50043', download => '1945', seeding => '1', leeching => '1',
    disabled => $F,
    nyaa => [ { username => 'NekoPub', public => $T } ],
    can_edit => $F, has_mfa => undef, can_download_recovery => undef,
};

my ($s, $b, $res) = api('/users/1001');
is($s, 200, 'user, anonymous: 200');
like($res->{headers}{'content-type'}, qr{^application/json},
     'user: application/json');
same($b, { error => $F, data => $neko_public },
     'user, anonymous: public fields only, no permissions/torrent_key');

my $neko_self = with($neko_public,
    permissions => 4, torrent_key => 'a' x 32, torrent_count => 2,
    can_edit => $T, has_mfa => $T, can_download_recovery => $T,
    nyaa => [ { username => 'NekoPub', public => $T },
              { username => 'NekoPriv', public => $F } ]);

($s, $b) = api('/users/@me', 'key-neko');
is($s, 200, 'user @me: 200');
same($b, { error => $F, data => $neko_self },
     'user @me: own fields (permissions, torrent_key, mfa, private nyaa, '
     . 'anonymous uploads counted)');

($s, $b) = api('/users/1001', 'Bearer key-neko');
same($b, { error => $F, data => $neko_self },
     'user by id with a Bearer key: the same as @me');

($s, $b) = api('/users/1001', 'key-mika');
same($b, { error => $F, data => $neko_public },
     'user seen by another user: public fields');

($s, $b) = api('/users/1001', 'key-root');
same($b, { error => $F, data => with($neko_public, can_edit => $T) },
     'user seen by a site admin: can_edit, still no private fields');

($s, $b) = api('/users/1004');
same($b, { error => $F, data => {
        id => '1004', username => 'nodisp', display_name => 'nodisp',
        pfp_hash => undef, description => 'gone', torrent_count => 0,
        contribution_count => 0, groups => [], upload => '7',
        download => '8', seeding => '0', leeching => '0', disabled => $T,
        nyaa => [], can_edit => $F, has_mfa => undef,
        can_download_recovery => undef } },
     'disabled user without a display name: the username stands in');

fails('/users/@me', undef, 401, 'Unauthorized.', '@me without a key');
fails('/users/@me', 'key-old', 401, 'Unauthorized.', '@me, revoked key');
fails('/users/@me', 'no-such-key', 401, 'Unauthorized.', '@me, bad key');
fails('/users/999', undef, 404, 'Invalid user ID.', 'unknown user');
fails('/users/nobody', undef, 404, 'Invalid user ID.', 'non-numeric id');
fails('/users/99999999999999999999', undef, 404, 'Invalid user ID.',
      'id out of range');

($s, $b, $res) = api('/users/1001', undef, 'POST');
is($s, 405, 'POST /users/1001: 405');
fails('/users/1001/nothing', undef, 404, 'Not found.', 'unknown sub-path');

# --- GET /users/<id|@me>/groups ------------------------------------------

my %members = (
    2001 => [
        { id => '1001', invite => $F, username => 'neko',
          display_name => 'Neko', pfp_hash => 'abc123', leader => $T,
          admin => $T, regular => $T },
        { id => '1002', invite => $F, username => 'mika',
          display_name => 'Mika', pfp_hash => undef, leader => $F,
          admin => $F, regular => $T },
        { id => '3001', invite => $T, username => undef,
          display_name => 'Rooty', pfp_hash => undef, leader => $F,
          admin => $F, regular => $T },
        { id => '3002', invite => $T, username => undef,
          display_name => 'Ghost', pfp_hash => undef, leader => $F,
          admin => $F, regular => $T },
    ],
    2002 => [
        { id => '1003', invite => $F, username => 'root',
          display_name => 'Root', pfp_hash => undef, leader => $T,
          admin => $T, regular => $T },
        { id => '1001', invite => $F, username => 'neko',
          display_name => 'Neko', pfp_hash => 'abc123', leader => $F,
          admin => $T, regular => $F },
    ],
);

my $neko_groups = [
    with($group{2001}, admin => $T, leader => $T, regular => $T,
         members => $members{2001}, upload_count => 2),
    with($group{2002}, admin => $T, leader => $F, regular => $F,
         members => $members{2002}, upload_count => 2),
];

($s, $b) = api('/users/1001/groups');
is($s, 200, 'user groups: 200');
same($b, { error => $F, data => $neko_groups },
     'user groups: memberships, members and open invites, upload counts');

($s, $b) = api('/users/@me/groups', 'key-neko');
same($b, { error => $F, data => $neko_groups }, 'user groups via @me');

($s, $b) = api('/users/1003/groups');
same($b, { error => $F, data => [
        with($group{2002}, admin => $T, leader => $T, regular => $T,
             members => $members{2002}, upload_count => 2) ] },
     'another user\'s groups');

($s, $b) = api('/users/1004/groups');
same($b, { error => $F, data => [] }, 'no groups: []');

fails('/users/@me/groups', undef, 401, 'Unauthorized.',
      'groups of @me without a key');
fails('/users/999/groups', undef, 404, 'Invalid user ID.',
      'groups of an unknown user');

# --- GET /users/<id|@me>/notifications -----------------------------------

my $neko_notes = [
    { id => '5003', data => 'Newest.', seen => $F },
    { id => '5002', data => '<g:2001:Example Subs> says hi', seen => $F },
    { id => '5001', data => 'Welcome.', seen => $T },
];

($s, $b) = api('/users/@me/notifications', 'key-neko');
is($s, 200, 'notifications: 200');
same($b, { error => $F, data => $neko_notes },
     'notifications: newest first, ids as strings');

($s, $b) = api('/users/1001/notifications', 'key-root');
same($b, { error => $F, data => $neko_notes },
     'a site admin reads anybody\'s notifications');

($s, $b) = api('/users/1004/notifications', 'key-root');
same($b, { error => $F, data => [] }, 'no notifications: []');

fails('/users/1001/notifications', undef, 401, 'Unauthorized.',
      'notifications without a key');
fails('/users/@me/notifications', 'key-old', 401, 'Unauthorized.',
      'notifications with a revoked key');
fails('/users/1001/notifications', 'key-mika', 403, 'Forbidden.',
      'someone else\'s notifications');
fails('/users/999/notifications', 'key-neko', 404, 'Invalid user ID.',
      'notifications of an unknown user');

# --- GET /users/<id|@me>/peers -------------------------------------------

my $neko_peers = [
    {
        torrent_id => '4001', upload => '48492', download => '0',
        completed => '1', down_time => '10', up_time => '74859',
        created_at => '1767139200000', updated_at => '1767225700000',
        last_completed => '1767142800000', torrent_title => 'Show One - 01',
        torrent_infohash => sprintf('%040x', 4001),
        torrent_filesize => '1000',
        peers => [
            { torrent_id => '4001', peer_id => '-qB4650-abcdefghijkl',
              upload => '1000', download => '0', left => '0',
              first_seen => '1767225600000', last_seen => '1767225700000',
              user_agent => 'qBittorrent/4.6.5', est_upload_speed => 10,
              est_download_speed => 0, ip => '198.51.100.7', port => 6881 },
            { torrent_id => '4001',
              peer_id => '-TR3000-%00%25~ %FFABCDEFG',
              upload => '0', download => '0', left => '0',
              first_seen => '1767225660000', last_seen => '1767225660000',
              user_agent => undef, est_upload_speed => 0,
              est_download_speed => 0, ip => '2001:db8::1', port => 51413 },
        ],
    },
    {
        # no totals row yet: zeros, and the peers' own times
        torrent_id => '4002', upload => '0', download => '0',
        completed => '0', down_time => '0', up_time => '0',
        created_at => '1767225600000', updated_at => '1767225650000',
        last_completed => '0', torrent_title => 'Show One - 02',
        torrent_infohash => sprintf('%040x', 4002),
        torrent_filesize => '2000',
        peers => [
            { torrent_id => '4002', peer_id => '-qB4650-zzzzzzzzzzzz',
              upload => '0', download => '500', left => '300',
              first_seen => '1767225600000', last_seen => '1767225650000',
              user_agent => undef, est_upload_speed => 0,
              est_download_speed => 10, ip => '198.51.100.7',
              port => 6881 },
        ],
    },
];

($s, $b) = api('/users/@me/peers', 'key-neko');
is($s, 200, 'peers: 200');
same($b, { error => $F, data => $neko_peers },
     'peers: per torrent with totals, peer ids escaped, speeds');

($s, $b) = api('/users/1001/peers', 'key-root');
same($b, { error => $F, data => $neko_peers }, 'a site admin reads peers');

($s, $b) = api('/users/1003/peers', 'key-root');
same($b, { error => $F, data => [] }, 'no peers: []');

fails('/users/@me/peers', undef, 401, 'Unauthorized.', 'peers without a key');
fails('/users/1001/peers', 'key-mika', 403, 'Forbidden.',
      'someone else\'s peers');

# --- GET /users/search -----------------------------------------------------

my $mika_brief = { id => '1002', username => 'mika', display_name => 'Mika',
                   pfp_hash => undef };

($s, $b) = api('/users/search?query=mika', 'key-neko');
is($s, 200, 'user search: 200');
same($b, { error => $F, data => { more => $F, results => [ $mika_brief ] } },
     'user search: the exact name');

($s, $b) = api('/users/search?query=MIKA', 'key-neko');
same($b, { error => $F, data => { more => $F, results => [ $mika_brief ] } },
     'user search: case does not matter (names are unique regardless)');

($s, $b) = api('/users/search?query=mik', 'key-neko');
same($b, { error => $F, data => { more => $F, results => [] } },
     'user search: a prefix finds nothing');

($s, $b) = api('/users/search?query=m%25', 'key-neko');
same($b, { error => $F, data => { more => $F, results => [] } },
     'user search: no wildcards');

fails('/users/search?query=mika', undef, 401, 'Unauthorized.',
      'user search without a key');
fails('/users/search?query=mika', 'key-old', 401, 'Unauthorized.',
      'user search with a revoked key');

($s, $b) = api('/users/search', 'key-neko');
is($s, 400, 'user search without query: 400');
same($b, {
    error => $T,
    message => "Data provided was invalid: must have required property "
             . "'query'.",
    validate_errors => [ {
        instancePath => '', schemaPath => '#/required',
        keyword => 'required', params => { missingProperty => 'query' },
        message => "must have required property 'query'" } ] },
    'user search without query: the required error');

($s, $b) = api('/users/search?query=' . ('x' x 65), 'key-neko');
is($s, 400, 'user search, query too long: 400');
same($b, {
    error => $T,
    message => "Data provided was invalid: 'query' must NOT have more than "
             . "64 characters.",
    validate_errors => [ {
        instancePath => '/query', schemaPath => '#/properties/query/maxLength',
        keyword => 'maxLength', params => { limit => 64 },
        message => 'must NOT have more than 64 characters' } ] },
    'user search, query too long: the maxLength error');

($s, $b) = api('/users/search?query=%FF', 'key-neko');
is($s, 400, 'user search, invalid UTF-8: 400');
is($b->{validate_errors}[0]{keyword}, 'type', '... a type error');

# --- GET /groups/<id> -------------------------------------------------------

my $media = [ {
    episodes => [ '11', '12' ],
    torrents => [ '4002', '4001' ],
    groups => [ '2001', '2002' ],
    media => {
        id => 's1', title => 'Show One',
        banner_url => 'https://img.example/b.jpg',
        episodes => [
            { id => 11, season => 1, episode => 1, absolute => 1,
              tvdbId => 555, title => 'Ep 1' },
            { id => 12, season => 1, episode => 2, absolute => 2,
              tvdbId => undef, title => 'Ep 2' },
        ],
    },
} ];

my @counts = (1, 1, 0, 1);      # neko, mika, Rooty, Ghost in group 2001
my $i = 0;
my $g2001_members = [ map { with($_, torrent_count => $counts[$i++]) }
                          @{ $members{2001} } ];

my $rel_child = without(with($group{2002}, active => $T, initiator => $F),
                        'description');
my $rel_parent = without(with($group{2003}, active => $F, initiator => $T),
                         'description');

my $g2001_public = with($group{2001},
    members => $g2001_members,
    relations => { parents => [], children => [ $rel_child ] },
    media => $media,
    can_edit => $F, can_leave => $F,
    stats => { uploads => 2, tags => 1, seeders => '9', leechers => '3',
               downloads => '16' });

($s, $b) = api('/groups/2001');
is($s, 200, 'group: 200');
same($b, { error => $F, data => $g2001_public },
     'group, anonymous: members with counts, approved links, media, stats');

my @keys = ([undef, undef], [undef, undef], ['b' x 32, $T], ['c' x 32, $F]);
$i = 0;
my $g2001_leader = with($g2001_public,
    members => [ map { my $k = $keys[$i++];
                       with($_, invite_key => $k->[0],
                            invite_has_recipient => $k->[1]) }
                     @$g2001_members ],
    relations => { parents => [ $rel_parent ], children => [ $rel_child ] },
    can_edit => $T, can_delete => $T,
    stats => with($g2001_public->{stats}, hidden_uploads => 1));

($s, $b) = api('/groups/2001', 'key-neko');
same($b, { error => $F, data => $g2001_leader },
     'group seen by its only leader: invite keys, pending link, '
     . 'can_delete, hidden_uploads, cannot leave');

($s, $b) = api('/groups/2001', 'key-mika');
same($b, { error => $F, data => with($g2001_public, can_leave => $T) },
     'group seen by a plain member: can leave, nothing more');

($s, $b) = api('/groups/2002', 'key-neko');
is($b->{data}{can_edit}, $T, 'a group admin can edit');
ok(!exists $b->{data}{can_delete}, '... but is no leader: no can_delete');
ok(!exists $b->{data}{stats}{hidden_uploads}, '... nor hidden_uploads');
is($b->{data}{members}[0]{invite_key}, undef,
   '... and sees the invite_key field');
ok(exists $b->{data}{members}[0]{invite_key}, '... (present, null)');
same($b->{data}{relations}, { parents => [ without(with($group{2001},
         active => $T, initiator => $T), 'description') ], children => [] },
     'child group: its parent, which initiated the link');

fails('/groups/2004', undef, 404, 'Group not found.', 'deleted group');
fails('/groups/9', undef, 404, 'Group not found.', 'unknown group');
fails('/groups/x', undef, 404, 'Group not found.', 'non-numeric group id');

# --- GET /groups/search -----------------------------------------------------

my %found = (
    2001 => with($group{2001}, member_count => '2', torrent_count => '3',
                 download_count => '16'),
    2002 => with($group{2002}, member_count => '2', torrent_count => '2',
                 download_count => '7'),
    2003 => with($group{2003}, member_count => '0', torrent_count => '0',
                 download_count => '0'),
);

sub search_is {
    my ($query, $ids, $more, $name) = @_;
    my ($st, $bd) = api("/groups/search$query");
    is($st, 200, "group search $name: 200");
    same($bd, { error => $F, data => { results => [ @found{@$ids} ],
                                       more => $more ? $T : $F } },
         "group search $name");
}

search_is('', [2003, 2002, 2001], 0, 'defaults (newest first)');
search_is('?order=asc', [2001, 2002, 2003], 0, 'oldest first');
search_is('?sort=name&order=asc', [2002, 2003, 2001], 0, 'by name');
search_is('?sort=uploads', [2001, 2002, 2003], 0, 'by uploads');
search_is('?sort=downloads&order=asc', [2003, 2002, 2001], 0,
          'by downloads, ascending');
search_is('?sort=members&order=asc', [2003, 2001, 2002], 0,
          'by members (ties by id)');
search_is('?limit=2', [2003, 2002], 1, 'first page: more');
search_is('?limit=2&offset=2', [2001], 0, 'last page: no more');
search_is('?query=exsub', [2001], 0, 'by display tag');
search_is('?query=ENCODERS', [2002], 0, 'by display name, any case');
search_is('?query=%25', [], 0, 'a % is a character, not a wildcard');
search_is('?query=gone', [], 0, 'deleted groups are not found');
search_is('?query=%20%20', [2003, 2002, 2001], 0, 'a blank query is none');
search_is('?query=%20exsubs%20', [2001], 0, 'surrounding blanks ignored');
search_is('?offset=5', [], 0, 'past the end: empty, no more');

sub invalid_is {
    my ($query, $name, $message, $err) = @_;
    my ($st, $bd) = api("/groups/search$query");
    is($st, 400, "group search $name: 400");
    same($bd, { error => $T, message => "Data provided was invalid: $message",
                validate_errors => [ $err ] }, "group search $name: error");
}

invalid_is('?limit=101', 'limit over 100', "'limit' must be <= 100.",
    { instancePath => '/limit', schemaPath => '#/properties/limit/maximum',
      keyword => 'maximum', params => { comparison => '<=', limit => 100 },
      message => 'must be <= 100' });
invalid_is('?limit=0', 'limit 0', "'limit' must be >= 1.",
    { instancePath => '/limit', schemaPath => '#/properties/limit/minimum',
      keyword => 'minimum', params => { comparison => '>=', limit => 1 },
      message => 'must be >= 1' });
invalid_is('?offset=-1', 'negative offset', "'offset' must be >= 0.",
    { instancePath => '/offset', schemaPath => '#/properties/offset/minimum',
      keyword => 'minimum', params => { comparison => '>=', limit => 0 },
      message => 'must be >= 0' });
invalid_is('?offset=abc', 'offset not integer', "'offset' must be integer.",
    { instancePath => '/offset', schemaPath => '#/properties/offset/type',
      keyword => 'type', params => { type => 'integer' },
      message => 'must be integer' });
invalid_is('?sort=size', 'unknown sort',
    "'sort' must be equal to one of the allowed values.",
    { instancePath => '/sort', schemaPath => '#/properties/sort/enum',
      keyword => 'enum',
      params => { allowedValues => [qw(created uploads members downloads
                                       name)] },
      message => 'must be equal to one of the allowed values' });
invalid_is('?order=up', 'unknown order',
    "'order' must be equal to one of the allowed values.",
    { instancePath => '/order', schemaPath => '#/properties/order/enum',
      keyword => 'enum', params => { allowedValues => [qw(asc desc)] },
      message => 'must be equal to one of the allowed values' });
invalid_is('?query=' . ('q' x 129), 'query too long',
    "'query' must NOT have more than 128 characters.",
    { instancePath => '/query', schemaPath => '#/properties/query/maxLength',
      keyword => 'maxLength', params => { limit => 128 },
      message => 'must NOT have more than 128 characters' });

# --- GET /invites/<id> -----------------------------------------------------

my $neko_brief = { id => '1001', username => 'neko', display_name => 'Neko',
                   pfp_hash => 'abc123' };
my $invite = {
    id => '3001', display_name => 'Rooty', author => $neko_brief,
    used => $F, recipient => undef, group => $group{2001},
    torrent_count => '0',
};

($s, $b) = api('/invites/3001');
is($s, 200, 'invite: 200');
same($b, { error => $F, data => $invite },
     'invite without a key: no recipient');

($s, $b) = api('/invites/3001?key=' . ('c' x 32));
same($b, { error => $F, data => $invite },
     'invite with another invite\'s key: no recipient');

($s, $b) = api('/invites/3001?key=' . ('b' x 32));
same($b, { error => $F, data => with($invite, recipient => {
        id => '1003', username => 'root', display_name => 'Root',
        pfp_hash => undef }) },
     'invite with its key: the recipient');

($s, $b) = api('/invites/3002?key=' . ('c' x 32));
same($b, { error => $F, data => with($invite, id => '3002',
        display_name => 'Ghost', torrent_count => '1') },
     'orphan invite with its key: recipient null, credited torrents');

($s, $b) = api('/invites/3003');
is($b->{data}{used}, $T, 'a used invite says so');

fails('/invites/3004', undef, 404, 'Invite not found.',
      'invite of a deleted group');
fails('/invites/9', undef, 404, 'Invite not found.', 'unknown invite');

($s, $b) = api('/invites/3001?key=' . ('k' x 65));
is($s, 400, 'invite key too long: 400');
is($b->{validate_errors}[0]{keyword}, 'maxLength', '... maxLength error');

# --- the database goes away -------------------------------------------------

PgTest::stop_server();
fails('/users/1001', undef, 503, 'Database unavailable.', 'database down');
fails('/users/@me/peers', undef, 401, 'Unauthorized.',
      'database down, no key on an auth-only route: still 401');
PgTest::start_server();

unlike($ngx->error_log, qr/\[(alert|crit|emerg)\]/, 'no alerts');

done_testing();
