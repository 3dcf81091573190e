# JSON API, write side: PATCH /torrents/<id>, PATCH /torrents/bulk/edit,
# PATCH /torrents/bulk/edit/perms, PATCH /users/<id|@me>, PUT
# /users/<id|@me>/notifications/read and the comment endpoints, against a
# real nginx and a real PostgreSQL.  Each permission rule, each validation
# shape, and that a refused or failing edit changes nothing (rows compared
# before and after).  A reset passkey stops working in the private tracker
# through NOTIFY while the cache TTL is far away.

use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use Test::More;
use PgTest;
use TrackerNginx;
use TrackerTest ();
use HTTP::Tiny;
use JSON::PP ();
use MIME::Base64 qw(encode_base64);
use Digest::SHA qw(sha1 sha1_hex);
use Time::HiRes qw(sleep);
use B ();

my $T = JSON::PP::true;
my $F = JSON::PP::false;

my $db = PgTest::fresh_db();

sub q1 { my @r = PgTest::psql($db, shift); return $r[0] }
sub qall { return join "\n", PgTest::psql($db, shift) }

my $ih5010 = sha1('edit-5010');

PgTest::psql($db, <<"SQL");
INSERT INTO langs (code, name, flag) VALUES
    ('ja', 'Japanese', ''), ('en', 'English', ''), ('de', 'German', '');
INSERT INTO lang_aliases (alias, code) VALUES ('jp', 'ja');

INSERT INTO users (id, username, display_name, torrent_key, permissions)
VALUES (1001, 'upl', 'Uploader', repeat('a', 32), 0),
       (1002, 'lead', 'Leader', repeat('b', 32), 0),
       (1003, 'memb', 'Member', repeat('c', 32), 0),
       (1004, 'mod', 'Mod', repeat('d', 32), 2),
       (1005, 'admin', 'Admin', repeat('e', 32), 1),
       (1006, 'other', 'Other', repeat('f', 32), 0),
       (1007, 'mute', 'Mute', repeat('1', 32), 16);

INSERT INTO api_keys (user_id, key_hash)
SELECT u, encode(sha256(convert_to(k, 'UTF8')), 'hex')
FROM (VALUES (1001, 'key-upl'), (1002, 'key-lead'), (1003, 'key-memb'),
             (1004, 'key-mod'), (1005, 'key-admin'), (1006, 'key-other'),
             (1007, 'key-mute'), (1001, 'key-upl2')) v(u, k);

INSERT INTO user_nyaa_accounts (user_id, username, public)
VALUES (1001, 'NyaaPub', true), (1001, 'NyaaPriv', false);

INSERT INTO groups (id, name, display_name, tag, display_tag)
VALUES (2001, 'subs', 'Subs', 'subs', 'Subs'),
       (2002, 'enc', 'Enc', 'enc', 'Enc'),
       (2003, 'sec', 'Sec', 'sec', 'Sec');
INSERT INTO group_members (group_id, user_id, leader, admin, regular)
VALUES (2001, 1002, true, true, true), (2001, 1003, false, false, true),
       (2001, 1001, false, false, true), (2002, 1006, true, true, true);
INSERT INTO group_invites (id, group_id, author_id, display_name)
VALUES (3001, 2001, 1002, 'Ghost');

INSERT INTO media (id, title) VALUES ('s1', 'Show One'), ('s2', 'Show Two');
INSERT INTO episodes (id, media_id, season, episode)
VALUES (11, 's1', 1, 1), (12, 's1', 1, 2), (21, 's2', 1, 1);

INSERT INTO torrents (id, info_hash, title, uploader_id, level, fsub_lang,
                      status, disable_edits, media_id)
VALUES
    (5001, digest('edit-5001', 'sha1'), 'T1 x264 [ja]', 1001,
     3, 'en', 1, false, 's1'),
    (5002, digest('edit-5002', 'sha1'), 'T2 x264', 1001,
     -1, '', 1, false, NULL),
    (5003, digest('edit-5003', 'sha1'), 'T3 x264', 1006,
     1, '', 1, false, NULL),
    (5004, digest('edit-5004', 'sha1'), 'T4 locked', 1001,
     1, '', 1, true, NULL),
    (5005, digest('edit-5005', 'sha1'), 'T5 pending', 1006,
     1, '', 0, false, NULL),
    (5010, digest('edit-5010', 'sha1'), 'T10 tracker', 1006,
     1, '', 1, false, NULL);
INSERT INTO torrent_groups (torrent_id, group_id, is_primary)
VALUES (5001, 2001, true);
INSERT INTO torrent_contributors (torrent_id, group_id, user_id, role)
VALUES (5001, 2001, 1002, 'Timing');
INSERT INTO torrent_episodes (torrent_id, episode_id) VALUES (5001, 11);
SQL

my $ngx = TrackerNginx->new(name => 'api-edit', port_offset => 11);
my $down = TrackerNginx->new(name => 'api-edit-down', port_offset => 12);
END {
    local $?;
    $ngx->quit('TERM') if $ngx && $ngx->pid;
    $down->quit('TERM') if $down && $down->pid;
}

# a passkey is trusted for 10 minutes: only NOTIFY can make it stop sooner
ok($ngx->start(<<"EOF"), 'nginx starts') or BAIL_OUT($ngx->error_log);
    tracker_database "$db" pool=2 retry=200ms;
    tracker_swarm_zone swarm:8m;
    tracker_private_zone priv:8m flush=200ms ttl=600s negative_ttl=600s;
    server {
        listen 127.0.0.1:${\ $ngx->port};
        location /api/v1/ {
            client_body_buffer_size 8m;
            client_max_body_size 8m;
            tracker_api;
        }
        location ~ ^/[^/]+/announce\$ { tracker_announce swarm;
                                        tracker_private on; }
    }
EOF

my $ua = HTTP::Tiny->new(timeout => 20);
my $json = JSON::PP->new->canonical;

# ($status, $decoded); $body: a structure (sent as JSON) or raw bytes
sub api {
    my ($method, $path, $key, $body, $nginx) = @_;
    my %h;
    $h{Cookie} = "ssid=$key" if defined $key;
    my %o = (headers => \%h);
    if (defined $body) {
        $h{'Content-Type'} = 'application/json';
        $o{content} = ref $body ? $json->encode($body) : $body;
    }
    my $res = $ua->request($method, 'http://127.0.0.1:'
                           . ($nginx // $ngx)->port . "/api/v1$path", \%o);
    my $j = eval { $json->decode($res->{content}) };
    return ($res->{status}, $j);
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
        or diag($json->pretty->encode($got // {}));
}

# a request answered with exactly this status and body
sub answers {
    my ($method, $path, $key, $body, $status, $want, $name) = @_;
    my ($s, $j) = api($method, $path, $key, $body);
    is($s, $status, "$name: $status");
    same($j, $want, "$name: body");
    return $j;
}

sub err { return { error => $T, message => shift } }

# one Ajv error
sub ajv {
    my ($path, $schema, $keyword, $params, $msg) = @_;
    my $name = $path eq '' ? '' : "'" . substr($path, 1) . "' ";
    return { error => $T,
             message => "Data provided was invalid: $name$msg.",
             validate_errors => [ { instancePath => $path,
                                    schemaPath => $schema,
                                    keyword => $keyword, params => $params,
                                    message => $msg } ] };
}

my $anyof = ajv('', '#/anyOf', 'anyOf', {}, 'must match a schema in anyOf');

# every column that an edit may touch, and the torrent's groups
sub snap {
    my $ids = join ',', @_;
    return qall("SELECT t.id, t.title, t.auto_title, t.description,
                        t.mediainfo, t.video_type, t.video_codec,
                        t.audio_lang, t.sub_lang, t.fsub_lang, t.anonymous,
                        t.hidden, t.hardsub, t.otl, t.mtl, t.deleted,
                        t.deletion_reason, t.upgraded_id, t.media_id,
                        (SELECT string_agg(tg.group_id || ':' || tg.is_primary
                                           || ':' || coalesce(tg.role, ''),
                                           ',' ORDER BY tg.group_id)
                         FROM torrent_groups tg WHERE tg.torrent_id = t.id),
                        (SELECT string_agg(coalesce(c.user_id, c.invite_id)
                                           || ':' || c.role, ','
                                           ORDER BY c.weight)
                         FROM torrent_contributors c
                         WHERE c.torrent_id = t.id),
                        (SELECT string_agg(e.episode_id::text, ','
                                           ORDER BY e.episode_id)
                         FROM torrent_episodes e WHERE e.torrent_id = t.id)
                 FROM torrents t WHERE t.id IN ($ids) ORDER BY t.id")
        . "\n" . q1("SELECT count(*) FROM group_invites");
}

# ===================== PATCH /torrents/<id> ================================

my $before = snap(5001, 5002, 5003, 5004);

answers('PATCH', '/torrents/5001', undef, { hidden => $T }, 401,
        err('Unauthorized.'), 'no key');
answers('PATCH', '/torrents/5001', 'key-nope', { hidden => $T }, 401,
        err('Unauthorized.'), 'unknown key');
answers('PATCH', '/torrents/5001', 'key-upl', {}, 400, $anyof,
        'nothing to change');
answers('PATCH', '/torrents/5001', 'key-upl', { unknown => 1 }, 400, $anyof,
        'only unknown members');
answers('PATCH', '/torrents/5001', 'key-upl', '{"hidden":', 400,
        err('Request body is not valid JSON.'), 'not JSON');
answers('PATCH', '/torrents/5001', 'key-upl', [1], 400,
        ajv('', '#/type', 'type', { type => 'object' }, 'must be object'),
        'not an object');
answers('PATCH', '/torrents/5001', 'key-upl', { title => 'x' x 513 }, 400,
        ajv('/title', '#/properties/title/maxLength', 'maxLength',
            { limit => 512 }, 'must NOT have more than 512 characters'),
        'title too long');
answers('PATCH', '/torrents/5001', 'key-upl', { title => '' }, 400,
        ajv('/title', '#/properties/title/minLength', 'minLength',
            { limit => 1 }, 'must NOT have fewer than 1 characters'),
        'empty title');
answers('PATCH', '/torrents/5001', 'key-upl',
        { description => 'd' x 8193 }, 400,
        ajv('/description', '#/properties/description/maxLength',
            'maxLength', { limit => 8192 },
            'must NOT have more than 8192 characters'),
        'description too long');
answers('PATCH', '/torrents/5001', 'key-upl',
        { mediainfo => 'm' x 65537 }, 400,
        ajv('/mediainfo', '#/properties/mediainfo/maxLength',
            'maxLength', { limit => 65536 },
            'must NOT have more than 65536 characters'),
        'mediainfo too long');
answers('PATCH', '/torrents/5001', 'key-upl',
        { deletion_reason => 'r' x 257 }, 400,
        ajv('/deletion_reason', '#/properties/deletion_reason/maxLength',
            'maxLength', { limit => 256 },
            'must NOT have more than 256 characters'),
        'deletion reason too long');
answers('PATCH', '/torrents/5001', 'key-upl', { hidden => 'yes' }, 400,
        ajv('/hidden', '#/properties/hidden/type', 'type',
            { type => 'boolean' }, 'must be boolean'), 'hidden: not boolean');
answers('PATCH', '/torrents/5001', 'key-upl', { video_type => '9' }, 400,
        ajv('/video_type', '#/properties/video_type/type', 'type',
            { type => 'integer,null' }, 'must be integer,null'),
        'video_type: a string');
answers('PATCH', '/torrents/5001', 'key-upl', { video_codec => 1.5 }, 400,
        ajv('/video_codec', '#/properties/video_codec/type', 'type',
            { type => 'integer,null' }, 'must be integer,null'),
        'video_codec: not an integer');
answers('PATCH', '/torrents/5001', 'key-upl', { video_codec => -1 }, 400,
        ajv('/video_codec', '#/properties/video_codec/minimum', 'minimum',
            { comparison => '>=', limit => 0 }, 'must be >= 0'),
        'video_codec: below minimum');
answers('PATCH', '/torrents/5001', 'key-upl', { upgraded => $T }, 400,
        ajv('/upgraded', '#/properties/upgraded/type', 'type',
            { type => 'number,null' }, 'must be number,null'),
        'upgraded: boolean');
answers('PATCH', '/torrents/5001', 'key-upl', { primary_group => [] }, 400,
        ajv('/primary_group', '#/properties/primary_group/type', 'type',
            { type => 'object,null' }, 'must be object,null'),
        'primary_group: an array');
answers('PATCH', '/torrents/5001', 'key-upl', { primary_group => {} }, 400,
        ajv('/primary_group', '#/properties/primary_group/required',
            'required', { missingProperty => 'id' },
            "must have required property 'id'"),
        'primary_group without id');
answers('PATCH', '/torrents/5001', 'key-upl',
        { primary_group => { id => '2001',
                             members => [ map { { id => undef,
                                 display_name => "n$_", role => '' } }
                                          1 .. 51 ] } }, 400,
        ajv('/primary_group/members',
            '#/properties/primary_group/properties/members/maxItems',
            'maxItems', { limit => 50 }, 'must NOT have more than 50 items'),
        'primary_group: 51 members');
answers('PATCH', '/torrents/5001', 'key-upl',
        { primary_group => { id => '2001',
                             members => [ { id => undef,
                                            display_name => 'x' x 33 } ] } },
        400,
        ajv('/primary_group/members/0/display_name',
            '#/properties/primary_group/properties/members/items/properties'
            . '/display_name/maxLength', 'maxLength', { limit => 32 },
            'must NOT have more than 32 characters'),
        'member display name too long');
answers('PATCH', '/torrents/5001', 'key-upl',
        { secondary_groups => [ { role => 'x' } ] }, 400,
        ajv('/secondary_groups/0', '#/properties/secondary_groups/items/'
            . 'required', 'required', { missingProperty => 'id' },
            "must have required property 'id'"),
        'secondary group without id');
answers('PATCH', '/torrents/5001', 'key-upl',
        { secondary_groups => [ { id => '2003', role => 'r' x 65 } ] }, 400,
        ajv('/secondary_groups/0/role', '#/properties/secondary_groups/items/'
            . 'properties/role/maxLength', 'maxLength', { limit => 64 },
            'must NOT have more than 64 characters'),
        'secondary group role too long');
answers('PATCH', '/torrents/5001', 'key-upl',
        { media_episodes => [ 11, 'a' ] }, 400,
        ajv('/media_episodes/1', '#/properties/media_episodes/items/type',
            'type', { type => 'integer' }, 'must be integer'),
        'media_episodes: a string item');
answers('PATCH', '/torrents/5001', 'key-upl', { media_episodes => 11 }, 400,
        ajv('/media_episodes', '#/properties/media_episodes/type',
            'type', { type => 'array' }, 'must be array'),
        'media_episodes: not an array');

# permissions
answers('PATCH', '/torrents/9999', 'key-upl', { hidden => $T }, 404,
        err('Torrent not found.'), 'unknown torrent');
answers('PATCH', '/torrents/abc', 'key-upl', { hidden => $T }, 404,
        err('Torrent not found.'), 'torrent id not a number');
answers('PATCH', '/torrents/5001', 'key-other', { hidden => $T }, 403,
        err('Forbidden.'), 'a stranger');
answers('PATCH', '/torrents/5001', 'key-memb', { hidden => $T }, 403,
        err('Forbidden.'), 'a plain member of the primary group');
answers('PATCH', '/torrents/5003', 'key-upl', { hidden => $T }, 403,
        err('Forbidden.'), "someone else's torrent");
answers('PATCH', '/torrents/5004', 'key-upl', { hidden => $T }, 403,
        err('Forbidden.'), 'edits disabled: the uploader');
answers('PATCH', '/torrents/5005', 'key-upl', { hidden => $T }, 403,
        err('Forbidden.'), "someone else's pending torrent");

# semantic failures
my $nosubs = 'You have set sub level to "no subs", but you have added '
           . 'fansub languages.';
sub parse_fail {
    my ($fails, $bad) = @_;
    my $r = { error => $T, warns => [], fails => $fails,
              message => "Can't edit torrent due to parsing failures." };
    $r->{bad_torrents} = $bad if $bad;
    return $r;
}
answers('PATCH', '/torrents/5002', 'key-upl', { fsub_lang => 'en' }, 400,
        parse_fail([$nosubs]), 'no subs but fansub languages');
answers('PATCH', '/torrents/5001', 'key-upl',
        { audio_lang => 'ja,xx', description => 'changed' }, 400,
        parse_fail(['Unknown audio language "xx".']), 'unknown language');
answers('PATCH', '/torrents/5001', 'key-upl', { upgraded => 5001 }, 400,
        parse_fail(['A torrent cannot be upgraded by itself.']),
        'upgraded by itself');
answers('PATCH', '/torrents/5001', 'key-upl', { upgraded => '777' }, 400,
        parse_fail(['The upgrading torrent does not exist.']),
        'upgraded by an unknown torrent');
answers('PATCH', '/torrents/5001', 'key-upl',
        { media_episodes => [ 11, 21 ] }, 400,
        parse_fail(['All episodes must belong to the same media.']),
        'episodes of two media');
answers('PATCH', '/torrents/5001', 'key-upl',
        { media_episodes => [ 11, 99 ] }, 400,
        parse_fail(['One or more episodes do not exist.']),
        'unknown episode');
answers('PATCH', '/torrents/5001', 'key-upl',
        { primary_group => { id => '2002', members => [] } }, 400,
        parse_fail(['You are not a member of the primary group.']),
        'a group one is not in');
answers('PATCH', '/torrents/5001', 'key-upl',
        { primary_group => { id => '2001',
                             members => [ { id => '1006', role => 'x' } ] } },
        400, parse_fail(['1006 is not a member of the primary group.']),
        'crediting a non-member');
answers('PATCH', '/torrents/5001', 'key-upl',
        { secondary_groups => [ { id => '2001', role => undef } ] }, 400,
        parse_fail(['The primary group cannot also be a secondary group.']),
        'primary group as secondary');
answers('PATCH', '/torrents/5001', 'key-upl',
        { secondary_groups => [ { id => '2003' }, { id => 2003 } ] }, 400,
        parse_fail(['A secondary group is listed twice.']),
        'secondary group twice');

is(snap(5001, 5002, 5003, 5004), $before,
   'refused and failing edits changed nothing');

# every field, by the uploader
answers('PATCH', '/torrents/5001', 'key-upl', {
    title => 'T1 edited', upgraded => '5003', description => 'New desc',
    mediainfo => 'General', video_type => 9, video_codec => 1,
    audio_lang => 'jp, EN', sub_lang => 'en', fsub_lang => 'en,de',
    anonymous => $F, hidden => $T, hardsub => $T, otl => $T, mtl => $F,
    primary_group => { id => '2001', members => [
        { id => '1002', display_name => '', role => 'Typesetting',
          pfp_hash => undef },
        { id => '3001', role => 'Editing' },
        { id => undef, display_name => 'Newbie', role => 'QC' } ] },
    secondary_groups => [ { id => '2003', role => 'Encode' } ],
    media_episodes => [ 12, 11 ], deleted => $F, deletion_reason => '',
}, 200, { error => $F }, 'full edit by the uploader');

my $newbie = q1("SELECT id FROM group_invites WHERE display_name = 'Newbie'
                 AND group_id = 2001 AND NOT used AND author_id = 1001");
ok($newbie, 'a new member became an open invite of the group');

my ($st, $j) = api('GET', '/torrents/5001', 'key-upl');
is($st, 200, 'read back');
my $d = $j->{data};
same({ map { $_ => $d->{$_} } qw(title description mediainfo video_type
         video_codec audio_lang sub_lang fsub_lang anonymous hidden hardsub
         otl mtl upgraded media_id media_episode_ids deleted) },
     { title => 'T1 edited', description => 'New desc',
       mediainfo => 'General', video_type => 9, video_codec => 1,
       audio_lang => 'ja,en', sub_lang => 'en', fsub_lang => 'en,de',
       anonymous => $F, hidden => $T, hardsub => $T, otl => $T, mtl => $F,
       upgraded => '5003', media_id => 's1',
       media_episode_ids => [ '11', '12' ], deleted => undef },
     'the read side shows every field (languages normalised)');
is($d->{auto_title}, 'T1 edited {Tags:OTL;HS;L3;V9;C1;A-ja,en;S-en;'
   . 'F-en,de;}', 'auto title follows the new tags');
same([ map { { id => $_->{id}, uploading_group => $_->{uploading_group},
               role => $_->{role},
               members => [ map { [ $_->{id}, $_->{invite},
                                    $_->{display_name}, $_->{role} ] }
                            @{ $_->{members} } ] } } @{ $d->{groups} } ],
     [ { id => '2001', uploading_group => $T, role => undef,
         members => [ [ '1002', $F, 'Leader', 'Typesetting' ],
                      [ '3001', $T, 'Ghost', 'Editing' ],
                      [ "$newbie", $T, 'Newbie', 'QC' ] ] },
       { id => '2003', uploading_group => $F, role => 'Encode',
         members => [] } ],
     'groups and credits as sent');

# the group's leader, a moderator and an admin may edit too
answers('PATCH', '/torrents/5001', 'key-lead', { hidden => $F }, 200,
        { error => $F }, 'leader of the primary group');
answers('PATCH', '/torrents/5003', 'key-mod', { description => 'mod' }, 200,
        { error => $F }, 'moderator');
answers('PATCH', '/torrents/5004', 'key-mod', { description => 'mod' }, 200,
        { error => $F }, 'moderator, edits disabled');
answers('PATCH', '/torrents/5003', 'key-admin',
        { upgraded => undef, video_type => undef }, 200, { error => $F },
        'admin, nulls');
is(q1("SELECT description || '|' || coalesce(video_type::text, 'null')
       FROM torrents WHERE id = 5003"), 'mod|null', 'edits stored');

answers('PATCH', '/torrents/5001', 'key-upl',
        { primary_group => undef, secondary_groups => [],
          media_episodes => [], deleted => $T, deletion_reason => 'dupe' },
        200, { error => $F }, 'groups and episodes removed, deleted');
is(q1("SELECT (SELECT count(*) FROM torrent_groups WHERE torrent_id = 5001)
          || ':' || (SELECT count(*) FROM torrent_contributors
                     WHERE torrent_id = 5001)
          || ':' || (SELECT count(*) FROM torrent_episodes
                     WHERE torrent_id = 5001)
          || ':' || (deleted IS NOT NULL) || ':' || deletion_reason
       FROM torrents WHERE id = 5001"), '0:0:0:true:dupe',
   'no groups, credits or episodes left; deleted with a reason');
answers('PATCH', '/torrents/5001', 'key-upl', { deleted => $F }, 200,
        { error => $F }, 'restored');

# ===================== bulk ================================================

answers('PATCH', '/torrents/bulk/edit', undef, { ids => ['5001'] }, 401,
        err('Unauthorized.'), 'bulk: no key');
answers('PATCH', '/torrents/bulk/edit', 'key-upl', { hidden => $T }, 400,
        ajv('', '#/required', 'required', { missingProperty => 'ids' },
            "must have required property 'ids'"), 'bulk: ids missing');
answers('PATCH', '/torrents/bulk/edit', 'key-upl',
        { ids => [], hidden => $T }, 400,
        ajv('/ids', '#/properties/ids/minItems', 'minItems', { limit => 1 },
            'must NOT have fewer than 1 items'), 'bulk: no ids');
answers('PATCH', '/torrents/bulk/edit', 'key-upl',
        { ids => [ 1 .. 251 ], hidden => $T }, 400,
        ajv('/ids', '#/properties/ids/maxItems', 'maxItems', { limit => 250 },
            'must NOT have more than 250 items'), 'bulk: 251 ids');
answers('PATCH', '/torrents/bulk/edit', 'key-upl', { ids => ['5001'] }, 400,
        $anyof, 'bulk: nothing to change');
answers('PATCH', '/torrents/bulk/edit', 'key-upl',
        { ids => ['5001'], title => [ map { { find => 'a', replace => 'b' } }
                                      1 .. 6 ] }, 400,
        ajv('/title', '#/properties/title/maxItems', 'maxItems',
            { limit => 5 }, 'must NOT have more than 5 items'),
        'bulk: 6 replacements');
answers('PATCH', '/torrents/bulk/edit', 'key-upl',
        { ids => ['5001'], title => [ { find => 'a' } ] }, 400,
        ajv('/title/0', '#/properties/title/items/required', 'required',
            { missingProperty => 'replace' },
            "must have required property 'replace'"),
        'bulk: replacement without replace');
answers('PATCH', '/torrents/bulk/edit', 'key-upl',
        { ids => ['5001'], title => [ { find => '', replace => 'x' } ] }, 400,
        ajv('/title/0/find', '#/properties/title/items/properties/find/'
            . 'minLength', 'minLength', { limit => 1 },
            'must NOT have fewer than 1 characters'),
        'bulk: empty find');
answers('PATCH', '/torrents/bulk/edit', 'key-upl',
        { ids => ['5001'], title => [ { find => 'x', replace => 'y' x 257 } ] },
        400,
        ajv('/title/0/replace', '#/properties/title/items/properties/'
            . 'replace/maxLength', 'maxLength', { limit => 256 },
            'must NOT have more than 256 characters'),
        'bulk: replace too long');
answers('PATCH', '/torrents/bulk/edit', 'key-upl',
        { ids => ['5001'], primary_group => undef }, 403, err('Forbidden.'),
        'bulk: primary group is for admins');

my $perm_fail = 'You do not have permission to edit one or more torrents.';
answers('PATCH', '/torrents/bulk/edit/perms', undef, { ids => ['5001'] }, 401,
        err('Unauthorized.'), 'perms: no key');
answers('PATCH', '/torrents/bulk/edit/perms', 'key-upl', { ids => [] }, 400,
        ajv('/ids', '#/properties/ids/minItems', 'minItems', { limit => 1 },
            'must NOT have fewer than 1 items'), 'perms: no ids');
answers('PATCH', '/torrents/bulk/edit/perms', 'key-upl',
        { ids => [ '5001', 5002 ] }, 200, { error => $F },
        'perms: own torrents');
answers('PATCH', '/torrents/bulk/edit/perms', 'key-upl',
        { ids => [ '5001', '5003', '5004', '424242', 'zz' ] }, 400,
        { error => $T, message => $perm_fail,
          bad_torrents => [ '5003', '5004', '424242', 'zz' ] },
        'perms: the ones that may not be edited');
answers('PATCH', '/torrents/bulk/edit/perms', 'key-mod',
        { ids => [ '5001', '5003', '5004' ] }, 200, { error => $F },
        'perms: a moderator may edit them all');

$before = snap(5001, 5002, 5003);
answers('PATCH', '/torrents/bulk/edit', 'key-upl',
        { ids => [ '5001', '5003' ], hidden => $T }, 400,
        { error => $T, message => $perm_fail, bad_torrents => ['5003'] },
        'bulk: one torrent not editable');
answers('PATCH', '/torrents/bulk/edit', 'key-upl',
        { ids => [ '5001', '5002' ], hidden => $T, fsub_lang => 'de',
          title => [ { find => 'x264', replace => 'x265' } ] }, 400,
        parse_fail([$nosubs], ['5002']),
        'bulk: one torrent fails a check');
answers('PATCH', '/torrents/bulk/edit', 'key-upl',
        { ids => [ '5001', '5002' ],
          title => [ { find => 'T', replace => 'T' x 256 },
                     { find => 'T', replace => 'TT' } ] }, 400,
        parse_fail(['The title must be 1 to 512 characters long.'],
                   [ '5001', '5002' ]),
        'bulk: titles would grow too long');
answers('PATCH', '/torrents/bulk/edit', 'key-upl',
        { ids => [ '5001', '5002' ], upgraded => 5002 }, 400,
        parse_fail(['A torrent cannot be upgraded by itself.'], ['5002']),
        'bulk: upgraded by one of them');
is(snap(5001, 5002, 5003), $before,
   'failing bulk edits left every row unchanged');

q1("UPDATE torrents SET title = 'T1 x264 x264' WHERE id = 5001");
answers('PATCH', '/torrents/bulk/edit', 'key-upl',
        { ids => [ '5001', 5002 ], anonymous => $T, sub_lang => 'ja',
          title => [ { find => 'x264', replace => 'x265' },
                     { find => 'T', replace => 'Title ' } ],
          secondary_groups => [ { id => '2003', role => 'Encode' } ] },
        200, { error => $F }, 'bulk edit');
is(qall("SELECT id || '|' || title || '|' || anonymous || '|' || sub_lang
         || '|' || (SELECT string_agg(group_id || ':' || role, ',')
                    FROM torrent_groups WHERE torrent_id = t.id)
         FROM torrents t WHERE id IN (5001, 5002) ORDER BY id"),
   "5001|Title 1 x265 x265|true|ja|2003:Encode\n"
   . "5002|Title 2 x265|true|ja|2003:Encode",
   'bulk: replacements in order, every torrent');

answers('PATCH', '/torrents/bulk/edit', 'key-admin',
        { ids => [ '5002', '5003' ],
          primary_group => { id => '2002', members => [] } }, 200,
        { error => $F }, 'bulk: admin sets a primary group');
is(qall("SELECT torrent_id || ':' || group_id FROM torrent_groups
         WHERE is_primary AND torrent_id IN (5002, 5003)
         ORDER BY torrent_id"), "5002:2002\n5003:2002",
   'bulk: primary group set on both');

# ===================== users ===============================================

answers('PATCH', '/users/@me', undef, { description => 'x' }, 401,
        err('Unauthorized.'), 'user: no key');
answers('PATCH', '/users/1002', 'key-upl', { description => 'x' }, 403,
        err('Forbidden.'), "user: someone else's account");
answers('PATCH', '/users/99999', 'key-upl', { description => 'x' }, 404,
        err('Invalid user ID.'), 'user: unknown id');
answers('PATCH', '/users/@me', 'key-upl', {}, 400, $anyof,
        'user: nothing to change');
answers('PATCH', '/users/@me', 'key-upl', { description => 'd' x 8193 }, 400,
        ajv('/description', '#/properties/description/maxLength',
            'maxLength', { limit => 8192 },
            'must NOT have more than 8192 characters'),
        'user: description too long');
answers('PATCH', '/users/@me', 'key-upl', { reset_torrent_key => 'yes' },
        400, ajv('/reset_torrent_key', '#/properties/reset_torrent_key/type',
                 'type', { type => 'boolean' }, 'must be boolean'),
        'user: reset_torrent_key not boolean');
answers('PATCH', '/users/@me', 'key-upl', { pfp => 5 }, 400,
        ajv('/pfp', '#/properties/pfp/type', 'type', { type => 'string' },
            'must be string'), 'user: pfp not a string');
answers('PATCH', '/users/@me', 'key-upl', { pfp => '' }, 400,
        ajv('/pfp', '#/properties/pfp/minLength', 'minLength',
            { limit => 1 }, 'must NOT have fewer than 1 characters'),
        'user: empty pfp');

my $ubefore = qall("SELECT description, pfp_hash, torrent_key FROM users
                    WHERE id = 1001") . qall("SELECT username, public FROM
                    user_nyaa_accounts WHERE user_id = 1001 ORDER BY 1");
answers('PATCH', '/users/@me', 'key-upl',
        { description => 'kept?', pfp => '!!notbase64' }, 400,
        err('Profile picture is not valid base64.'), 'pfp: bad base64');
answers('PATCH', '/users/@me', 'key-upl',
        { description => 'kept?', pfp => encode_base64('hello', '') }, 400,
        err('Profile picture must be a PNG, JPEG, GIF or WebP image.'),
        'pfp: not an image');
my $png = "\x89PNG\r\n\x1a\n" . "\0" x 32;
answers('PATCH', '/users/@me', 'key-upl',
        { pfp => encode_base64($png . "\0" x (4718592 - length($png) + 1),
                               '') },
        400, err('Profile picture is too large (max 4.5 MB).'),
        'pfp: one byte over 4.5 MB');
answers('PATCH', '/users/@me', 'key-upl',
        { description => 'kept?', remove_nyaa_account => 'Nobody',
          reset_torrent_key => $T, revoke_api_keys => $T }, 404,
        err('Nyaa account not found.'), 'nyaa: unknown account');
is(qall("SELECT description, pfp_hash, torrent_key FROM users
         WHERE id = 1001") . qall("SELECT username, public FROM
         user_nyaa_accounts WHERE user_id = 1001 ORDER BY 1"), $ubefore,
   'refused user edits changed nothing');
($st) = api('GET', '/users/@me', 'key-upl');
is($st, 200, 'keys not revoked by a refused edit');

answers('PATCH', '/users/@me', 'key-upl',
        { description => 'Hello', pfp => encode_base64($png, ''),
          nyaa_account_public => 'nyaapriv',
          nyaa_account_private => 'NyaaPub' }, 200, { error => $F },
        'user: description, picture, Nyaa visibility');
($st, $j) = api('GET', '/users/@me', 'key-upl');
same({ description => $j->{data}{description},
       pfp_hash => $j->{data}{pfp_hash}, nyaa => $j->{data}{nyaa} },
     { description => 'Hello', pfp_hash => sha1_hex($png),
       nyaa => [ { username => 'NyaaPriv', public => $T },
                 { username => 'NyaaPub', public => $F } ] },
     'user: the profile shows the changes');
is(q1("SELECT content_type || ':' || octet_length(data) FROM pfps
       WHERE hash = '" . sha1_hex($png) . "'"), 'image/png:' . length $png,
   'pfp stored by its hash');
answers('PATCH', '/users/@me', 'key-upl', { pfp => 'keep' }, 200,
        { error => $F }, 'pfp: keep');
is(q1("SELECT pfp_hash FROM users WHERE id = 1001"), sha1_hex($png),
   'pfp kept');
answers('PATCH', '/users/1001', 'key-admin',
        { pfp => 'reset', remove_nyaa_account => 'NyaaPub' }, 200,
        { error => $F }, 'admin: reset pfp, remove a Nyaa link');
is(q1("SELECT coalesce(pfp_hash, 'null') || ':' || (SELECT string_agg(
       username, ',') FROM user_nyaa_accounts WHERE user_id = 1001)
       FROM users WHERE id = 1001"), 'null:NyaaPriv', 'pfp reset, link gone');

# --- a reset passkey stops working in the tracker at once ---

sub announce {
    my ($key, $peer) = @_;
    my $q = 'info_hash=' . TrackerTest::pct($ih5010)
          . '&peer_id=' . TrackerTest::pct(sprintf '-ED0001-%012d', $peer)
          . "&port=" . (7000 + $peer) . '&uploaded=0&downloaded=0&left=0';
    my ($s, $body) = $ngx->get("/$key/announce?$q");
    my $r = eval { TrackerTest::bdecode($body) } // {};
    return "status $s" if $s != 200;
    return $r->{'failure reason'} // 'ok';
}

my $old = 'a' x 32;
is(announce($old, 1), 'ok', 'the passkey works (and is cached)');
is(announce($old, 1), 'ok', '... again, from the cache');

($st, $j) = api('PATCH', '/users/@me', 'key-upl', { reset_torrent_key => $T });
is($st, 200, 'reset_torrent_key: 200');
my $new = $j->{new_torrent_key} // '';
like($new, qr/^[0-9a-f]{32}$/, 'new_torrent_key: 32 hex digits');
isnt($new, $old, 'a different key');
same($j, { error => $F, new_torrent_key => $new },
     'reset_torrent_key: the answer');
is(q1("SELECT torrent_key FROM users WHERE id = 1001"), $new, 'stored');

# NOTIFY arrives asynchronously: wait for it (bounded), never for the TTL
my $f;
for (1 .. 100) {
    $f = announce($old, 1);
    last if $f ne 'ok';
    sleep 0.05;
}
is($f, 'passkey not found', 'the old passkey is refused (NOTIFY)');
is(announce($new, 2), 'ok', 'the new passkey works');

# --- revoking API keys ---

answers('PATCH', '/users/@me', 'key-upl2', { revoke_api_keys => $T }, 200,
        { error => $F }, 'revoke_api_keys');
answers('GET', '/users/@me', 'key-upl', undef, 401, err('Unauthorized.'),
        'a revoked key is refused');
answers('GET', '/users/@me', 'key-upl2', undef, 401, err('Unauthorized.'),
        'the key used to revoke is revoked too');
is(q1("SELECT count(*) FROM api_keys WHERE user_id = 1001 AND NOT revoked"),
   0, 'no live key left');
PgTest::psql($db, "INSERT INTO api_keys (user_id, key_hash) VALUES (1001,
    encode(sha256(convert_to('key-upl3', 'UTF8')), 'hex'))");

# ===================== notifications =======================================

PgTest::psql($db, <<'SQL');
INSERT INTO notifications (id, user_id, data, seen, created_at) VALUES
    (8001, 1001, 'one', false, now() - interval '3 minutes'),
    (8002, 1001, 'two', false, now() - interval '2 minutes'),
    (8003, 1001, 'three', false, now() - interval '1 minute'),
    (8004, 1006, 'theirs', false, now());
SQL

answers('PUT', '/users/@me/notifications/read', undef, { ids => 'all' }, 401,
        err('Unauthorized.'), 'read: no key');
answers('PUT', '/users/1006/notifications/read', 'key-upl3', { ids => 'all' },
        403, err('Forbidden.'), "read: someone else's");
answers('PUT', '/users/@me/notifications/read', 'key-upl3', {}, 400,
        ajv('', '#/required', 'required', { missingProperty => 'ids' },
            "must have required property 'ids'"), 'read: ids missing');
answers('PUT', '/users/@me/notifications/read', 'key-upl3', { ids => 'some' },
        400, ajv('/ids', '#/properties/ids/enum', 'enum',
                 { allowedValues => ['all'] },
                 'must be equal to one of the allowed values'),
        'read: a string other than "all"');
answers('PUT', '/users/@me/notifications/read', 'key-upl3',
        { ids => [ '8001', {} ] }, 400,
        ajv('/ids/1', '#/properties/ids/items/type', 'type',
            { type => 'string' }, 'must be string'), 'read: an object id');
answers('PUT', '/users/@me/notifications/read', 'key-upl3', { ids => 5 }, 400,
        ajv('/ids', '#/properties/ids/type', 'type', { type => 'array' },
            'must be array'), 'read: a number');
answers('PUT', '/users/@me/notifications/read', 'key-upl3',
        { ids => [ '8001', 8002, '8004' ] }, 200,
        { error => $F, data => [
            { id => '8003', data => 'three', seen => $F },
            { id => '8002', data => 'two', seen => $T },
            { id => '8001', data => 'one', seen => $T } ] },
        'read: by ids, the updated list');
answers('PUT', '/users/@me/notifications/read', 'key-upl3', { ids => 'all' },
        200, { error => $F, data => [
            { id => '8003', data => 'three', seen => $T },
            { id => '8002', data => 'two', seen => $T },
            { id => '8001', data => 'one', seen => $T } ] }, 'read: all');
is(q1("SELECT seen FROM notifications WHERE id = 8004"), 'f',
   "another user's notification untouched");

# ===================== comments ============================================

my $c5003 = '/torrents/5003/comments';
answers('POST', $c5003, undef, { text => 'hi' }, 401, err('Unauthorized.'),
        'comment: no key');
answers('POST', $c5003, 'key-other', {}, 400,
        ajv('', '#/required', 'required', { missingProperty => 'text' },
            "must have required property 'text'"), 'comment: no text');
answers('POST', $c5003, 'key-other', { text => '' }, 400,
        ajv('/text', '#/properties/text/minLength', 'minLength',
            { limit => 1 }, 'must NOT have fewer than 1 characters'),
        'comment: empty');
answers('POST', $c5003, 'key-other', { text => 'c' x 8193 }, 400,
        ajv('/text', '#/properties/text/maxLength', 'maxLength',
            { limit => 8192 }, 'must NOT have more than 8192 characters'),
        'comment: too long');
answers('POST', '/torrents/9999/comments', 'key-other', { text => 'hi' },
        404, err('Torrent not found.'), 'comment: unknown torrent');
answers('POST', '/torrents/5005/comments', 'key-upl3', { text => 'hi' },
        403, err('Torrent is waiting for approval.'),
        'comment: pending torrent');
answers('POST', $c5003, 'key-mute', { text => 'hi' }, 403, err('Forbidden.'),
        'comment: no_comment permission');
answers('POST', $c5003, 'key-other', { text => 'hi', replying_to => $T },
        400, ajv('/replying_to', '#/properties/replying_to/type', 'type',
                 { type => 'number,null' }, 'must be number,null'),
        'comment: replying_to boolean');
answers('POST', $c5003, 'key-other', { text => 'hi', replying_to => '777' },
        404, err('Comment not found.'), 'comment: reply to nothing');

($st, $j) = api('POST', $c5003, 'key-upl3', { text => 'first!',
                                              replying_to => undef });
is($st, 200, 'comment posted');
my $c1 = $j->{data}{id} // '';
same($j, { error => $F, data => { id => $c1 } }, 'comment: the new id');
like($c1, qr/^\d+$/, 'comment id: digits');

($st, $j) = api('POST', $c5003, 'key-lead', { text => '@Uploader reply',
                                              replying_to => $c1 });
is($st, 200, 'reply posted');
my $c2 = $j->{data}{id};

is(qall("SELECT user_id || ':' || data FROM notifications
         WHERE data LIKE '%<tc:%' ORDER BY id"),
   "1006:<u:1001:Uploader> commented on your torrent <tc:5003:$c1:T3 x264>\n"
   . "1001:<u:1002:Leader> replied to your comment on "
   . "<tc:5003:$c2:T3 x264>",
   'the uploader and the one replied to are notified');

answers('PATCH', "$c5003/$c1", 'key-upl3', {}, 400, $anyof,
        'comment edit: nothing to change');
answers('PATCH', "$c5003/$c1", 'key-lead', { text => 'mine now' }, 403,
        err('Forbidden.'), "comment edit: someone else's text");
answers('PATCH', "$c5003/$c1", 'key-upl3', { pinned => $T }, 403,
        err('Forbidden.'), 'pin: not an editor of the torrent');
answers('PATCH', "$c5003/777", 'key-upl3', { text => 'x' }, 404,
        err('Comment not found.'), 'comment edit: unknown comment');
answers('PATCH', "/torrents/5001/comments/$c1", 'key-upl3', { text => 'x' },
        404, err('Comment not found.'), 'comment edit: wrong torrent');
answers('PATCH', "$c5003/$c1", 'key-upl3', { text => 'first! (edited)' },
        200, { error => $F }, 'comment edit: the author');
answers('PATCH', "$c5003/$c2", 'key-other', { pinned => $T }, 200,
        { error => $F }, 'pin: the uploader of the torrent');

# ratings
answers('PUT', "$c5003/$c1/rating", 'key-upl3', { rating => 1 }, 403,
        err('You cannot rate your own comment.'), 'rate: own comment');
answers('PUT', "$c5003/$c1/rating", 'key-lead', { rating => 2 }, 400,
        ajv('/rating', '#/properties/rating/maximum', 'maximum',
            { comparison => '<=', limit => 1 }, 'must be <= 1'),
        'rate: 2');
answers('PUT', "$c5003/$c1/rating", 'key-lead', {}, 400,
        ajv('', '#/required', 'required', { missingProperty => 'rating' },
            "must have required property 'rating'"), 'rate: missing');
answers('PUT', "$c5003/$c1/rating", 'key-lead', { rating => 1 }, 200,
        { error => $F, data => { id => $c1, positive => '1',
                                 negative => '0', user_rating => $T } },
        'rate: like');
answers('PUT', "$c5003/$c1/rating", 'key-other', { rating => -1 }, 200,
        { error => $F, data => { id => $c1, positive => '1',
                                 negative => '1', user_rating => $F } },
        'rate: dislike');
answers('PUT', "$c5003/$c1/rating", 'key-lead', { rating => -1 }, 200,
        { error => $F, data => { id => $c1, positive => '0',
                                 negative => '2', user_rating => $F } },
        'rate: changed to dislike');
answers('PUT', "$c5003/$c1/rating", 'key-other', { rating => 0 }, 200,
        { error => $F, data => { id => $c1, positive => '0',
                                 negative => '1', user_rating => undef } },
        'rate: taken back');

($st, $j) = api('GET', $c5003, 'key-lead');
my ($top) = @{ $j->{data} };
same({ map { $_ => $top->{$_} } qw(id text user_id replying_to positive
         negative user_rating pinned deleted) },
     { id => $c1, text => 'first! (edited)', user_id => '1001',
       replying_to => undef, positive => '0', negative => '1',
       user_rating => $F, pinned => $F, deleted => $F },
     'the read side shows the edit and the ratings');
ok($top->{last_edit} && $top->{last_edit} =~ /^\d+$/, 'last_edit set');
same([ map { [ $_->{id}, $_->{replying_to}, $_->{pinned} ] }
       @{ $top->{children} } ], [ [ $c2, $c1, $T ] ],
     'the reply sits under the comment, pinned');

# deleting
answers('DELETE', "$c5003/$c1", 'key-memb', undef, 403, err('Forbidden.'),
        "delete: someone else's comment");
answers('DELETE', "$c5003/$c1", undef, undef, 401, err('Unauthorized.'),
        'delete: no key');
answers('DELETE', "$c5003/$c1", 'key-upl3', undef, 200, { error => $F },
        'delete: the author');
answers('DELETE', "$c5003/$c1", 'key-upl3', undef, 404,
        err('Comment not found.'), 'delete: already deleted');
answers('PUT', "$c5003/$c1/rating", 'key-lead', { rating => 1 }, 404,
        err('Comment not found.'), 'rate: a deleted comment');
answers('DELETE', "$c5003/$c2", 'key-mod', undef, 200, { error => $F },
        'delete: a moderator');
($st, $j) = api('GET', $c5003);
($top) = @{ $j->{data} };
same({ map { $_ => $top->{$_} } qw(id deleted user_id text display_name
         pfp_hash last_edit) },
     { id => $c1, deleted => $T, user_id => '0', text => '[deleted]',
       display_name => '[deleted]', pfp_hash => undef, last_edit => undef },
     'a deleted comment is masked on read');
is(scalar @{ $top->{children} }, 1, 'its reply keeps its place');

q1("UPDATE torrents SET lock_comments = true WHERE id = 5003");
answers('POST', $c5003, 'key-lead', { text => 'hi' }, 403,
        err('Comments are locked on this torrent.'), 'comment: locked');
($st) = api('POST', $c5003, 'key-mod', { text => 'mod note' });
is($st, 200, 'comment: a moderator may still write');

# ===================== methods, the database down ==========================

($st) = api('DELETE', '/torrents/5001', 'key-upl3');
is($st, 405, 'DELETE /torrents/<id>: 405');

ok($down->start(<<"EOF"), 'nginx with an unreachable database starts');
    tracker_database "host=/nonexistent port=1 dbname=x user=x";
    server {
        listen 127.0.0.1:${\ $down->port};
        location /api/v1/ { tracker_api; }
    }
EOF
($st, $j) = api('PATCH', '/torrents/5001', 'key-upl3', { hidden => $T },
                $down);
is($st, 503, 'database down: 503');
same($j, err('Database unavailable.'), 'database down: message');

done_testing();
