# JSON API, groups write side: links between groups, members, invites
# (POST/DELETE /groups/<id>/links/<id2>, POST /groups/<id>/members,
# PATCH/DELETE /groups/<id>/members/<id2>, PATCH /invites/<id>,
# POST /invites/<id>/accept/<key>), against a real nginx and a real
# PostgreSQL.  Every change is checked where clients see it: the read
# side's GET /groups/<id>, /invites/<id>, /users/<id>/groups and
# notifications; refused requests are checked to have changed nothing.

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
use IPC::Run ();
use POSIX ();

my $T = JSON::PP::true;
my $F = JSON::PP::false;

my $db = PgTest::fresh_db();

PgTest::psql($db, <<'SQL');
INSERT INTO users (id, username, display_name, permissions) VALUES
    (1001, 'lead', 'Lead', 0),      -- leads 2001 (first)
    (1002, 'adm', 'Adm', 0),        -- admin of 2001
    (1003, 'mem', 'Mem', 0),        -- member of 2001
    (1004, 'out', 'Out', 0),        -- in no group
    (1005, 'root', 'Root', 1),      -- site admin
    (1006, 'lead2', 'Lead2', 0),    -- leads 2002 alone
    (1007, 'co', NULL, 0),          -- leads 2001 too (joined later)
    (1008, 'twin', 'Twin', 0);      -- leads 2003 and 2004

INSERT INTO api_keys (user_id, key_hash)
SELECT id, encode(sha256(convert_to('key-' || username, 'UTF8')), 'hex')
FROM users;

INSERT INTO groups (id, name, display_name, tag, display_tag, deleted)
VALUES (2001, 'subs', 'Example Subs', 'exsubs', 'ExSubs', NULL),
       (2002, 'enc', 'Encoders', 'enc', 'Enc', NULL),
       (2003, 'aa', 'Group <A>', 'aa', 'AA', NULL),
       (2004, 'bb', 'Group B', 'bb', 'BB', NULL),
       (2005, 'gone', 'Gone', 'gone', 'Gone', now());

INSERT INTO group_members (group_id, user_id, leader, admin, regular,
                           joined_at)
VALUES (2001, 1001, true, true, true, '2025-01-01'),
       (2001, 1002, false, true, true, '2025-01-02'),
       (2001, 1003, false, false, true, '2025-01-03'),
       (2001, 1007, true, false, true, '2025-01-04'),
       (2002, 1006, true, false, true, '2025-01-05'),
       (2003, 1008, true, false, true, '2025-01-06'),
       (2004, 1008, true, false, true, '2025-01-07'),
       (2005, 1001, true, false, true, '2025-01-08');

-- an orphan invite holding a credit, and one of a deleted group
INSERT INTO group_invites (id, group_id, author_id, display_name, invite_key,
                           created_at)
VALUES (3001, 2001, 1001, 'Ghost', repeat('a', 32), '2025-02-01'),
       (3002, 2005, 1001, 'Lost', repeat('b', 32), '2025-02-02');

INSERT INTO torrents (id, info_hash, title, uploader_id)
SELECT id, decode(lpad(to_hex(id), 40, '0'), 'hex'), 'T' || id, up
FROM (VALUES (4001, 1003), (4002, 1003), (4003, 1003), (4004, 1002))
    AS v(id, up);

-- 4001..4003 by mem: two for 2001 (one as a secondary group), one for 2002
INSERT INTO torrent_groups (torrent_id, group_id, is_primary) VALUES
    (4001, 2001, true), (4002, 2002, true), (4003, 2002, true),
    (4003, 2001, false), (4004, 2001, true);

INSERT INTO torrent_contributors (torrent_id, group_id, user_id, invite_id)
VALUES (4001, 2001, 1003, NULL), (4003, 2001, 1003, NULL),
       (4002, 2002, 1003, NULL), (4004, 2001, 1002, NULL),
       (4001, 2001, NULL, 3001);
SQL

$ENV{TEST_NGINX_PG} = $db;

my $ngx = TrackerNginx->new(name => 'api-groups', workers => 1);
END { local $?; $ngx->quit('TERM') if $ngx && $ngx->pid }

ok($ngx->start(<<"EOF"), 'nginx starts') or BAIL_OUT($ngx->error_log);
    tracker_database "$db" pool=2 retry=200ms;
    server {
        listen 127.0.0.1:${\ $ngx->port};
        location /api/v1/ { tracker_api; }
    }
EOF

my $ua = HTTP::Tiny->new(timeout => 10);
my $json = JSON::PP->new->canonical;

# ($status, $decoded, $raw): $who is a user name (key "key-<name>"), a
# literal "ssid=..." key or undef; $body a Perl structure or a raw string
sub api {
    my ($method, $path, $who, $body) = @_;
    my %o = (headers => {});
    $o{headers}{Cookie} = $who =~ /^ssid=/ ? $who : "ssid=key-$who"
        if defined $who;
    if (defined $body) {
        $o{content} = ref $body ? $json->encode($body) : $body;
        $o{headers}{'Content-Type'} = 'application/json';
    }
    my $res = $ua->request($method,
                           'http://127.0.0.1:' . $ngx->port . "/api/v1$path",
                           \%o);
    return ($res->{status}, eval { $json->decode($res->{content}) },
            $res->{content});
}

# JSON values tagged with their types, so strings and numbers differ
sub typed {
    my $v = shift;
    return 'null' unless defined $v;
    return { map { ($_ => typed($v->{$_})) } keys %$v } if ref $v eq 'HASH';
    return [ map { typed($_) } @$v ] if ref $v eq 'ARRAY';
    return 'bool:' . ($v ? 1 : 0) if JSON::PP::is_bool($v);
    my $f = B::svref_2object(\$v)->FLAGS;
    return ($f & (B::SVf_IOK | B::SVf_NOK)) && !($f & B::SVf_POK)
        ? "num:$v" : "str:$v";
}

sub same {
    my ($got, $want, $name) = @_;
    is_deeply(typed($got), typed($want), $name)
        or diag($json->pretty->encode($got // {}));
}

# a request that must get exactly {"error":false}
sub done {
    my ($method, $path, $who, $body, $name) = @_;
    my ($s, undef, $raw) = api($method, $path, $who, $body);
    is($s, 200, "$name: 200");
    same(eval { $json->decode($raw) }, { error => $F }, "$name: body");
}

# an error answer: status and {"error":true,"message":...}
sub fails {
    my ($method, $path, $who, $body, $status, $message, $name) = @_;
    my ($s, $b) = api($method, $path, $who, $body);
    is($s, $status, "$name: $status");
    same($b, { error => $T, message => $message }, "$name: message");
}

# a 400 with one or more Ajv-shaped errors
sub invalid {
    my ($method, $path, $who, $body, $message, $errors, $name) = @_;
    my ($s, $b) = api($method, $path, $who, $body);
    is($s, 400, "$name: 400");
    same($b, { error => $T, message => "Data provided was invalid: $message",
               validate_errors => $errors }, "$name: errors");
}

sub ajv {
    my ($path, $schema, $keyword, $params, $message) = @_;
    return { instancePath => $path, schemaPath => $schema,
             keyword => $keyword, params => $params, message => $message };
}

sub group {
    my ($id, $who) = @_;
    return (api('GET', "/groups/$id", $who))[1]{data};
}

sub member_ids {
    return join ' ', map { ($_->{invite} ? 'i:' : 'u:') . $_->{display_name} }
                     @{ group(@_)->{members} };
}

# notifications of a user, newest first
sub notes {
    my $who = shift;
    return [ map { $_->{data} }
             @{ (api('GET', '/users/@me/notifications', $who))[1]{data} } ];
}

sub db_row { return scalar PgTest::psql($db, shift) }

# a snapshot of every table these endpoints write
sub state {
    return db_row(q{
        SELECT concat_ws(' | ',
            (SELECT string_agg(concat_ws(',', group_id, user_id, leader,
                                         admin, regular), ';'
                               ORDER BY group_id, user_id)
             FROM group_members),
            (SELECT string_agg(concat_ws(',', id, group_id, recipient_id,
                                         display_name, admin, regular, used),
                               ';' ORDER BY id) FROM group_invites),
            (SELECT string_agg(concat_ws(',', parent_id, child_id,
                                         initiator_id, parent_approved,
                                         child_approved), ';'
                               ORDER BY parent_id, child_id)
             FROM group_links),
            (SELECT string_agg(concat_ws(',', torrent_id, group_id, user_id,
                                         invite_id), ';' ORDER BY id)
             FROM torrent_contributors),
            (SELECT string_agg(concat_ws(',', id, uploader_id), ';'
                               ORDER BY id) FROM torrents),
            (SELECT count(*) FROM notifications))});
}

# --- without a (valid) key ------------------------------------------------

for my $r (['POST', '/groups/2001/links/2002?parent=2001'],
           ['DELETE', '/groups/2001/links/2002'],
           ['POST', '/groups/2001/members', [{ id => undef,
                                               display_name => 'X' }]],
           ['PATCH', '/groups/2001/members/1003', { regular => $F }],
           ['DELETE', '/groups/2001/members/1003'],
           ['PATCH', '/invites/3001', { user_id => '1004' }],
           ['POST', '/invites/3001/accept/' . ('a' x 32)])
{
    my ($m, $p, $body) = @$r;
    fails($m, $p, undef, $body, 401, 'Unauthorized.', "$m $p without a key");
    fails($m, $p, 'ssid=nope', $body, 401, 'Unauthorized.',
          "$m $p with an unknown key");
}

# --- methods ----------------------------------------------------------------

for my $r (['PUT', '/groups/2001/members/1003', 'PATCH, DELETE'],
           ['GET', '/groups/2001/links/2002', 'POST, DELETE'],
           ['DELETE', '/invites/3001', 'GET, HEAD, PATCH'],
           ['GET', '/invites/3001/accept/' . ('a' x 32), 'POST'])
{
    my ($m, $p, $allow) = @$r;
    my $res = $ua->request($m, 'http://127.0.0.1:' . $ngx->port
                               . "/api/v1$p");
    is($res->{status}, 405, "$m $p: 405");
    is($res->{headers}{allow}, $allow, "$m $p: Allow: $allow");
}

# --- links ------------------------------------------------------------------

my $before = state();

invalid('POST', '/groups/2001/links/2002', 'lead', undef,
        "must have required property 'parent'.",
        [ ajv('', '#/required', 'required', { missingProperty => 'parent' },
              "must have required property 'parent'") ],
        'link without ?parent');
invalid('POST', '/groups/2001/links/2002', 'lead', { parent => '2001' },
        "must have required property 'parent'.",
        [ ajv('', '#/required', 'required', { missingProperty => 'parent' },
              "must have required property 'parent'") ],
        'link with parent in a body (a query parameter, the body unread)');
fails('POST', '/groups/2001/links/2002?parent=2001', 'mem', undef, 403,
      'Forbidden.', 'link asked by a plain member');
fails('POST', '/groups/2001/links/2002?parent=2001', 'adm', undef, 403,
      'Forbidden.', 'link asked by a group admin (leaders only)');
fails('POST', '/groups/2001/links/2002?parent=2003', 'lead', undef, 400,
      'The parent must be one of the two groups.', 'parent of neither');
fails('POST', '/groups/2001/links/2999?parent=2001', 'lead', undef, 404,
      'Group not found.', 'link to an unknown group');
fails('POST', '/groups/2001/links/2005?parent=2001', 'lead', undef, 404,
      'Group not found.', 'link to a deleted group');
fails('POST', '/groups/2001/links/2001?parent=2001', 'lead', undef, 400,
      'A group cannot be linked to itself.', 'link to itself');
fails('DELETE', '/groups/2001/links/2002', 'lead', undef, 404,
      'Link not found.', 'delete a link that is not there');
is(state(), $before, 'refused link requests changed nothing');

done('POST', '/groups/2001/links/2002?parent=2001', 'lead', undef,
     'lead of 2001 asks for 2002 as child');

my %brief = (
    2001 => { id => '2001', name => 'subs', display_name => 'Example Subs',
              tag => 'exsubs', display_tag => 'ExSubs', pfp_hash => undef,
              tagline => '', anonymous => 0 },
    2002 => { id => '2002', name => 'enc', display_name => 'Encoders',
              tag => 'enc', display_tag => 'Enc', pfp_hash => undef,
              tagline => '', anonymous => 0 },
    2003 => { id => '2003', name => 'aa', display_name => 'Group <A>',
              tag => 'aa', display_tag => 'AA', pfp_hash => undef,
              tagline => '', anonymous => 0 },
);
sub rel { my ($id, %o) = @_; return { %{ $brief{$id} }, %o } }

same(group(2001, 'lead')->{relations},
     { parents => [], children => [ rel(2002, active => $F,
                                         initiator => $F) ] },
     'pending link: shown to the asking leader, not active');
same(group(2002, 'lead2')->{relations},
     { parents => [ rel(2001, active => $F, initiator => $T) ],
       children => [] },
     'pending link: shown to the other leader, 2001 initiated it');
same(group(2002)->{relations}, { parents => [], children => [] },
     'pending link: not shown to anybody else');
same(notes('lead2'),
     [ '<g:2001:Example Subs> asked to link with <g:2002:Encoders> as its '
       . 'child. Approve or decline it on <ge:2002:Encoders>.' ],
     'the other group\'s leader is told, with a link to approve it');
same(notes('lead'), [], 'the asking leader is not told');

fails('POST', '/groups/2001/links/2002?parent=2001', 'co', undef, 400,
      'Link is waiting for other group to approve.',
      'asked again by the same side (another leader)');
fails('POST', '/groups/2002/links/2001?parent=2002', 'lead2', undef, 400,
      'The other group asked for this link with the other parent.',
      'the other side answers with the other parent');

done('POST', '/groups/2002/links/2001?parent=2001', 'lead2', undef,
     'the other side approves');
same(group(2002)->{relations},
     { parents => [ rel(2001, active => $T, initiator => $T) ],
       children => [] }, 'approved link: shown to everyone, active');
same(notes('lead'),
     [ '<g:2002:Encoders> approved the link with <g:2001:Example Subs>.' ],
     'the asking group\'s leaders are told of the approval');
same(notes('co'), notes('lead'), '... every leader of it');
fails('POST', '/groups/2001/links/2002?parent=2001', 'lead', undef, 400,
      'The groups are already linked.', 'link again');

# a site admin's link is approved at once; a cycle is refused
done('POST', '/groups/2002/links/2003?parent=2002', 'root', undef,
     'site admin links 2002 -> 2003');
same(group(2003)->{relations}{parents},
     [ rel(2002, active => $T, initiator => $T) ],
     'site admin\'s link is active at once');
$before = state();
fails('POST', '/groups/2003/links/2001?parent=2003', 'root', undef, 400,
      'The link would make a cycle.', '2003 -> 2001 closes a cycle');
is(state(), $before, 'refused cycle changed nothing');

# one leader of both groups: approved at once, nobody told
done('POST', '/groups/2004/links/2003?parent=2004', 'twin', undef,
     'leader of both groups links them');
same(group(2004)->{relations}{children},
     [ rel(2003, active => $T, initiator => $F) ],
     'leader of both: the link is active at once');
same(notes('twin'), [], 'leader of both: not told');

fails('DELETE', '/groups/2001/links/2002', 'mem', undef, 403,
      'Unauthorized.', 'delete a link as a plain member (reference: 403 '
      . 'Unauthorized.)');
fails('DELETE', '/groups/2001/links/2002', 'adm', undef, 403,
      'Unauthorized.', 'delete a link as a group admin (leaders only)');
done('DELETE', '/groups/2002/links/2001', 'lead2', undef,
     'the child\'s leader deletes the link');
same(group(2001)->{relations}, { parents => [], children => [] },
     'deleted link: gone');
is(notes('lead')->[0],
   '<g:2002:Encoders> removed the link with <g:2001:Example Subs>.',
   'the other group\'s leaders are told');

done('POST', '/groups/2001/links/2004?parent=2004', 'lead', undef,
     'lead asks 2004 to be the parent');
done('DELETE', '/groups/2004/links/2001', 'root', undef,
     'a site admin deletes a link');
same(group(2001, 'lead')->{relations}, { parents => [], children => [] },
     'deleted by the site admin: gone');
is(notes('lead')->[0],
   '<g:2004:Group B> removed the link with <g:2001:Example Subs>.',
   'the leaders of the group on the other side are told');

# names with '>' would end a notification tag early
done('POST', '/groups/2003/links/2001?parent=2001', 'twin', undef,
     'twin asks 2001 to be the parent of 2003');
is(notes('lead')->[0], '<g:2003:Group (A)> asked to link with '
   . '<g:2001:Example Subs> as its parent. Approve or decline it on '
   . '<ge:2001:Example Subs>.', 'a name\'s < > are not taken for a tag');
done('DELETE', '/groups/2001/links/2003', 'lead', undef,
     'a leader declines a waiting link by deleting it');

# --- adding members (invites) --------------------------------------------

$before = state();
fails('POST', '/groups/2001/members', 'mem', [{ id => '1004',
      display_name => undef }], 403, 'Forbidden.', 'invite by a plain member');
fails('POST', '/groups/2999/members', 'lead', [{ id => '1004',
      display_name => undef }], 404, 'Group not found.', 'invite to nowhere');
fails('POST', '/groups/2001/members', 'lead', '[{"id": "1004",',
      400, 'Request body is not valid JSON.', 'invite, broken JSON');

my $must_array = [ ajv('', '#/type', 'type', { type => 'array' },
                       'must be array') ];
invalid('POST', '/groups/2001/members', 'lead', { id => '1004' },
        'must be array.', $must_array, 'invite body is an object');
invalid('POST', '/groups/2001/members', 'lead', '"1004"',
        'must be array.', $must_array, 'invite body is a string');
invalid('POST', '/groups/2001/members', 'lead', [],
        'must NOT have fewer than 1 items.',
        [ ajv('', '#/minItems', 'minItems', { limit => 1 },
              'must NOT have fewer than 1 items') ], 'no invites');
invalid('POST', '/groups/2001/members', 'lead',
        [ map { { id => undef, display_name => "N$_" } } 1 .. 51 ],
        'must NOT have more than 50 items.',
        [ ajv('', '#/maxItems', 'maxItems', { limit => 50 },
              'must NOT have more than 50 items') ], '51 invites');
invalid('POST', '/groups/2001/members', 'lead', [ { id => undef,
        display_name => 'A' }, 7 ], "'1' must be object.",
        [ ajv('/1', '#/items/type', 'type', { type => 'object' },
              'must be object') ], 'an invite that is not an object');
invalid('POST', '/groups/2001/members', 'lead', [ { id => undef } ],
        "'0' must have required property 'display_name'.",
        [ ajv('/0', '#/items/required', 'required',
              { missingProperty => 'display_name' },
              "must have required property 'display_name'") ],
        'invite without display_name');
invalid('POST', '/groups/2001/members', 'lead', [ { id => 1004,
        display_name => undef } ], "'0/id' must be string,null.",
        [ ajv('/0/id', '#/items/properties/id/type', 'type',
              { type => [ 'string', 'null' ] }, 'must be string,null') ],
        'invite id as a number');
invalid('POST', '/groups/2001/members', 'lead', [ { id => undef,
        display_name => 'x' x 33 } ],
        "'0/display_name' must NOT have more than 32 characters.",
        [ ajv('/0/display_name', '#/items/properties/display_name/maxLength',
              'maxLength', { limit => 32 },
              'must NOT have more than 32 characters') ],
        'invite display name too long');

fails('POST', '/groups/2001/members', 'lead', [ { id => undef,
      display_name => 'Fresh' }, { id => '1999', display_name => undef } ],
      404, 'Invalid user ID.', 'unknown user (after a good invite)');
fails('POST', '/groups/2001/members', 'lead', [ { id => undef,
      display_name => 'Fresh' }, { id => '1003', display_name => undef } ],
      400, 'User ("Mem") is already in this group.', 'invite a member');
fails('POST', '/groups/2001/members', 'lead', [ { id => undef,
      display_name => 'Fresh' }, { id => undef, display_name => ' ' } ],
      400, 'An invite without a user needs a display name.',
      'orphan invite without a name');
fails('POST', '/groups/2001/members', 'lead', [ { id => undef,
      display_name => 'ghost' } ], 400,
      'Display name ("ghost") already taken.', 'name of an open invite');
fails('POST', '/groups/2001/members', 'lead', [ { id => undef,
      display_name => 'MEM' } ], 400,
      'Display name ("MEM") already taken.', 'name of a member');
fails('POST', '/groups/2001/members', 'lead', [ { id => undef,
      display_name => 'Twice' }, { id => undef, display_name => 'twice' } ],
      400, 'Display name ("twice") already taken.', 'one name twice');
is(state(), $before, 'refused invites changed nothing (all or nothing)');

my ($s, $b) = api('POST', '/groups/2001/members', 'adm',
                  [ { id => '1004', display_name => 'ignored' },
                    { id => undef, display_name => ' Orphan One ' } ]);
is($s, 200, 'group admin invites a user and an orphan: 200');
is(scalar @{ $b->{data} }, 2, '... two invites made');
like($_->{id}, qr/^[0-9]+$/, '... invite id is a string of digits')
    for @{ $b->{data} };
like($_->{invite_key}, qr/^[0-9a-f]{32}$/, '... invite key: 32 hex digits')
    for @{ $b->{data} };
same([ map { typed($_) } @{ $b->{data} } ],
     [ map { { id => "str:$_->{id}", invite_key => "str:$_->{invite_key}" } }
       @{ $b->{data} } ], '... {id, invite_key}, both strings');
my ($inv_out, $inv_orphan) = @{ $b->{data} };

same(notes('out'), [ "<u:1002:Adm> invited you to <g:2001:Example Subs>. "
                     . "<i:$inv_out->{id}:$inv_out->{invite_key}>" ],
     'the invited user is told, with the accept link');

my @members = @{ group(2001, 'lead')->{members} };
my ($m_out) = grep { $_->{id} eq $inv_out->{id} } @members;
same($m_out, { id => $inv_out->{id}, username => undef, invite => $T,
               display_name => 'Out', pfp_hash => undef, leader => $F,
               admin => $F, regular => $T,
               invite_key => $inv_out->{invite_key},
               invite_has_recipient => $T, torrent_count => 0 },
     'GET group (leader): the user\'s invite, named as the user is');
my ($m_orphan) = grep { $_->{id} eq $inv_orphan->{id} } @members;
is($m_orphan->{display_name}, 'Orphan One', 'orphan invite: name trimmed');
is($m_orphan->{invite_has_recipient}, $F, 'orphan invite: no recipient');
($m_orphan) = grep { $_->{id} eq $inv_orphan->{id} }
              @{ group(2001)->{members} };
ok($m_orphan && !exists $m_orphan->{invite_key},
   'GET group (anonymous): the invite without its key');

fails('POST', '/groups/2001/members', 'lead', [ { id => '1004',
      display_name => undef } ], 400,
      'User ("Out") already has an invite to this group.', 'invited twice');

# --- changing members -------------------------------------------------------

$before = state();
fails('PATCH', '/groups/2001/members/1003', 'mem', { regular => $F }, 403,
      'Forbidden.', 'a plain member edits');
fails('PATCH', '/groups/2001/members/1003', 'out', { regular => $F }, 403,
      'Forbidden.', 'an outsider edits');
fails('PATCH', '/groups/2001/members/1003', 'adm', { admin => $T }, 403,
      'Forbidden.', 'group admin makes an admin');
fails('PATCH', '/groups/2001/members/1001', 'adm', { regular => $F }, 403,
      'Forbidden.', 'group admin edits a leader');
fails('PATCH', '/groups/2001/members/1003', 'lead', { display_name => 'M' },
      400, 'Display name can only be changed on invites.',
      'display name of a member');
fails('PATCH', '/groups/2001/members/1999', 'lead', { regular => $F }, 404,
      'Member not found.', 'unknown member');
fails('PATCH', '/groups/2999/members/1003', 'lead', { regular => $F }, 404,
      'Group not found.', 'unknown group');
fails('PATCH', "/groups/2001/members/$inv_orphan->{id}", 'lead',
      { display_name => 'Ghost' }, 400,
      'Display name ("Ghost") already taken.', 'rename to a taken name');
fails('PATCH', "/groups/2001/members/$inv_orphan->{id}", 'lead',
      { display_name => '  ' }, 400, 'Display name cannot be blank.',
      'rename to blanks');
invalid('PATCH', '/groups/2001/members/1003', 'lead', { other => 1 },
        "must have required property 'admin'.",
        [ (map { ajv('', "#/anyOf/$_->[0]/required", 'required',
                     { missingProperty => $_->[1] },
                     "must have required property '$_->[1]'") }
           [0, 'admin'], [1, 'regular'], [2, 'display_name']),
          ajv('', '#/anyOf', 'anyOf', {}, 'must match a schema in anyOf') ],
        'none of admin, regular, display_name');
invalid('PATCH', '/groups/2001/members/1003', 'lead', { admin => 'yes' },
        "'admin' must be boolean.",
        [ ajv('/admin', '#/properties/admin/type', 'type',
              { type => 'boolean' }, 'must be boolean') ],
        'admin not a boolean');
is(state(), $before, 'refused edits changed nothing');

done('PATCH', '/groups/2001/members/1003', 'adm', { regular => $F },
     'group admin makes a member irregular');
done('PATCH', '/groups/2001/members/1003', 'lead', { admin => $T },
     'leader makes a member an admin');
done('PATCH', "/groups/2001/members/$inv_orphan->{id}", 'adm',
     { display_name => 'Orphan Two', regular => $F },
     'group admin renames an orphan invite');
my %by_id = map { $_->{id} => $_ } @{ group(2001, 'lead')->{members} };
is_deeply([ @{ $by_id{1003} }{qw(admin regular)} ], [ $T, $F ],
          'GET group: the member is an irregular admin now');
is_deeply([ @{ $by_id{ $inv_orphan->{id} } }{qw(display_name regular)} ],
          [ 'Orphan Two', $F ], 'GET group: the invite renamed, irregular');
done('PATCH', '/groups/2001/members/1003', 'lead', { admin => $F },
     'leader takes admin back');

# --- assigning orphan invites ----------------------------------------------

$before = state();
fails('PATCH', '/invites/3001', 'mem', { user_id => '1006' }, 403,
      'Only group leaders and admins can edit invites.',
      'assign by a plain member');
fails('PATCH', '/invites/3999', 'lead', { user_id => '1006' }, 404,
      'Invite not found.', 'assign an unknown invite');
fails('PATCH', '/invites/3002', 'lead', { user_id => '1006' }, 404,
      'Invite not found.', 'assign an invite of a deleted group');
fails('PATCH', "/invites/$inv_out->{id}", 'lead', { user_id => '1006' },
      400, 'Invite already has a recipient.', 'assign a user\'s invite');
fails('PATCH', '/invites/3001', 'lead', { user_id => '1003' }, 400,
      'User ("Mem") is already in this group.', 'assign to a member');
fails('PATCH', '/invites/3001', 'lead', { user_id => '1004' }, 400,
      'User ("Out") already has an invite to this group.',
      'assign to a user already invited');
fails('PATCH', '/invites/3001', 'lead', { user_id => 'x' }, 404,
      'Invalid user ID.', 'assign to no user');
invalid('PATCH', '/invites/3001', 'lead', {},
        "must have required property 'user_id'.",
        [ ajv('', '#/required', 'required', { missingProperty => 'user_id' },
              "must have required property 'user_id'") ],
        'assign without user_id');
is(state(), $before, 'refused assignments changed nothing');

PgTest::psql($db, q{UPDATE group_invites SET admin = true
                    WHERE display_name = 'Orphan Two'});
fails('PATCH', "/groups/2001/members/$inv_orphan->{id}", 'adm',
      { regular => $T }, 403, 'Forbidden.',
      'group admin edits an admin invite');
PgTest::psql($db, q{UPDATE group_invites SET admin = false
                    WHERE display_name = 'Orphan Two'});

done('PATCH', '/invites/3001', 'adm', { user_id => '1006' },
     'group admin gives Ghost\'s invite to lead2');
is(notes('lead2')->[0], '<u:1002:Adm> invited you to <g:2001:Example Subs>. '
   . '<i:3001:' . ('a' x 32) . '>', 'the user is told');
($s, $b) = api('GET', '/invites/3001?key=' . ('a' x 32));
is($b->{data}{recipient}{id}, '1006', 'GET invite: the recipient');

# --- accepting --------------------------------------------------------------

$before = state();
fails('POST', '/invites/3001/accept/' . ('0' x 32), 'lead2', undef, 400,
      'Invalid invite key.', 'accept with a wrong key');
fails('POST', '/invites/3001/accept/' . ('a' x 32), 'out', undef, 403,
      'This invite is for another user.', 'accept someone else\'s invite');
fails('POST', '/invites/3999/accept/' . ('a' x 32), 'out', undef, 404,
      'Invite not found.', 'accept an unknown invite');
fails('POST', '/invites/3002/accept/' . ('b' x 32), 'out', undef, 404,
      'Invite not found.', 'accept an invite of a deleted group');
fails('POST', "/invites/$inv_orphan->{id}/accept/$inv_orphan->{invite_key}",
      'mem', undef, 400, 'You are already in this group.',
      'a member accepts an orphan invite');
is(state(), $before, 'refused accepts changed nothing');

done('POST', '/invites/3001/accept/' . ('a' x 32), 'lead2', undef,
     'lead2 accepts the Ghost invite');
fails('POST', '/invites/3001/accept/' . ('a' x 32), 'lead2', undef, 400,
      'Invite has already been used.', 'accept twice');
%by_id = map { $_->{id} => $_ } @{ group(2001)->{members} };
ok(!$by_id{3001}, 'GET group: the invite is gone from the list');
same($by_id{1006}, { id => '1006', username => 'lead2', invite => $F,
                     display_name => 'Lead2', pfp_hash => undef,
                     leader => $F, admin => $F, regular => $T,
                     torrent_count => 1 },
     'GET group: lead2 a member, with Ghost\'s torrent credit');
is((api('GET', '/invites/3001'))[1]{data}{used}, $T, 'GET invite: used');
is_deeply([ map { $_->{id} } @{ (api('GET', '/users/1006/groups'))[1]{data} } ],
          [ '2002', '2001' ], 'GET user groups: both groups');

done('POST', "/invites/$inv_orphan->{id}/accept/$inv_orphan->{invite_key}",
     'out', undef, 'anyone with the key takes an orphan invite');
is_deeply([ @{ { map { $_->{id} => $_ } @{ group(2001)->{members} } }
              ->{1004} }{qw(admin regular)} ], [ $F, $F ],
          'the new member has the invite\'s flags');
is(db_row("SELECT count(*) FROM group_invites WHERE id = $inv_out->{id}"),
   1, 'out\'s own invite is still there');
done('DELETE', "/groups/2001/members/$inv_out->{id}?destructive=true",
     'out', undef, 'the recipient declines an invite of their own');

# --- removing members -------------------------------------------------------

($s, $b) = api('POST', '/groups/2001/members', 'lead',
               [ { id => undef, display_name => 'Temp' } ]);
my $temp = $b->{data}[0]{id};
PgTest::psql($db, "INSERT INTO torrent_contributors (torrent_id, group_id, "
                  . "invite_id) VALUES (4004, 2001, $temp)");

$before = state();
fails('DELETE', "/groups/2001/members/$temp", 'lead', undef, 400,
      'Cannot soft delete an invite. Use ?destructive=true to delete an '
      . 'invite.', 'soft delete of an invite');
fails('DELETE', "/groups/2001/members/$temp?destructive=true", 'mem', undef,
      403, 'Forbidden.', 'a plain member deletes an invite');
fails('DELETE', '/groups/2001/members/1001', 'adm', undef, 403,
      'Forbidden.', 'group admin removes a leader');
fails('DELETE', '/groups/2001/members/1006', 'mem', undef, 403,
      'Forbidden.', 'a plain member removes another');
fails('DELETE', '/groups/2002/members/1006', 'lead2', undef, 400,
      'The last leader of a group cannot be removed.', 'the last leader');
fails('DELETE', '/groups/2002/members/1006', 'root', undef, 400,
      'The last leader of a group cannot be removed.',
      'the last leader, by a site admin');
fails('DELETE', '/groups/2001/members/1999', 'lead', undef, 404,
      'Member not found.', 'remove an unknown member');
invalid('DELETE', '/groups/2001/members/1003?destructive=yes', 'lead', undef,
        "'destructive' must be boolean.",
        [ ajv('/destructive', '#/properties/destructive/type', 'type',
              { type => 'boolean' }, 'must be boolean') ],
        'destructive not a boolean');
is(state(), $before, 'refused removals changed nothing');

done('DELETE', "/groups/2001/members/$temp?destructive=true", 'adm', undef,
     'group admin deletes an invite');
is(db_row("SELECT count(*) FROM torrent_contributors WHERE invite_id = $temp"),
   0, 'the invite\'s credits are gone with it');

# soft removal: an invite "Deleted Member" takes the credits; uploads for
# the group go to the longest-serving leader
done('DELETE', '/groups/2001/members/1003', 'adm', undef,
     'group admin removes a member (not destructive)');
%by_id = map { $_->{display_name} => $_ } @{ group(2001, 'lead')->{members} };
ok(!grep({ $_->{id} eq '1003' } values %by_id), 'the member is gone');
my $dm = $by_id{'Deleted Member'};
same([ @$dm{qw(invite leader admin regular torrent_count
               invite_has_recipient)} ], [ $T, $F, $F, $F, 2, $F ],
     'a "Deleted Member" invite in its place, with the member\'s 2 credits');
is(db_row(q{SELECT string_agg(id || ':' || uploader_id, ' ' ORDER BY id)
            FROM torrents}),
   '4001:1001 4002:1003 4003:1003 4004:1002',
   'the upload for 2001 went to its first leader; the others stay');
is(db_row(qq{SELECT string_agg(concat_ws(':', torrent_id, group_id,
                                      user_id), ' ' ORDER BY id)
            FROM torrent_contributors
            WHERE user_id = 1003 OR invite_id = $dm->{id}}),
   '4001:2001 4003:2001 4002:2002:1003',
   'credits for 2001 moved to the invite, those for 2002 stay');
same((api('GET', "/invites/$dm->{id}"))[1]{data}{torrent_count}, '2',
     'GET invite: the deleted member\'s invite has the credits');
same((api('GET', '/users/1003/groups'))[1]{data}, [],
     'GET user groups: none left');

# a second one gets the next free name
done('DELETE', '/groups/2001/members/1006', 'lead2', undef,
     'a member leaves (removes themselves)');
ok(grep({ $_->{display_name} eq 'Deleted Member 2' }
        @{ group(2001)->{members} }), 'the next one: "Deleted Member 2"');

# destructive: no invite, credits gone, uploads to the leader
done('DELETE', '/groups/2001/members/1002?destructive=true', 'co', undef,
     'a leader removes the admin (destructive)');
is(member_ids(2001),
   'u:Lead u:co u:Out i:Deleted Member i:Deleted Member 2',
   'GET group: the admin gone without an invite');
is(db_row('SELECT count(*) FROM torrent_contributors WHERE user_id = 1002'),
   0, 'destructive: the admin\'s credits are gone');
is(db_row('SELECT uploader_id FROM torrents WHERE id = 4004'), '1001',
   'destructive: the upload went to the first leader');

# a leader may go while another stays
done('DELETE', '/groups/2001/members/1001', 'co', undef,
     'one leader removes the other');
is(group(2001, 'co')->{can_leave}, $F, 'the last leader cannot leave now');
is(db_row('SELECT uploader_id FROM torrents WHERE id = 4004'), '1007',
   'the removed leader\'s upload went to the leader who stays');

# --- two leaders leave at once ------------------------------------------------

# Each change locks its group first, so the second removal waits for the
# first to commit and then finds itself the last leader.  The first one is
# held open in a psql session; the second (over HTTP, in a child) is let
# go only once PostgreSQL shows it waiting for the lock.
PgTest::psql($db, q{INSERT INTO group_members (group_id, user_id, leader)
                    VALUES (2004, 1004, true)});
my ($in, $out, $err) = ('', '', '');
my $first = IPC::Run::start(['psql', '-X', '-q', '-A', '-t', '-v',
                             'ON_ERROR_STOP=1', '-d', $db],
                            \$in, \$out, \$err);
$in .= q{BEGIN;
SELECT status FROM api_groups_members_delete(
    encode(sha256(convert_to('key-twin', 'UTF8')), 'hex'),
    '{"id": "2004", "id2": "1008"}');
};
$first->pump until $out =~ /^200$/m;

pipe(my $rd, my $wr) or die "pipe: $!";
my $child = fork // die "fork: $!";
if (!$child) {
    close $rd;
    my ($st, $bd) = api('DELETE', '/groups/2004/members/1004', 'out');
    print $wr "$st $bd->{message}\n";
    close $wr;
    POSIX::_exit(0);
}
close $wr;

my $waiting = 0;
for (1 .. 2000) {
    $waiting = db_row(q{SELECT count(*) FROM pg_stat_activity
                        WHERE datname = current_database()
                          AND wait_event_type = 'Lock'});
    last if $waiting;
    select(undef, undef, undef, 0.01);
}
is($waiting, 1, 'the second removal waits for the first');
$in .= "COMMIT;\n";
$first->finish;
my $second = <$rd>;
waitpid($child, 0);
is($second, "400 The last leader of a group cannot be removed.\n",
   'then finds itself the last leader: refused');
is(db_row('SELECT string_agg(user_id::text, \',\') FROM group_members '
          . 'WHERE group_id = 2004 AND leader'), '1004',
   'one leader is left');

# --- the database goes away -------------------------------------------------

PgTest::stop_server();
fails('DELETE', '/groups/2001/members/1007', 'co', undef, 503,
      'Database unavailable.', 'database down');
PgTest::start_server();

unlike($ngx->error_log, qr/\[(alert|crit|emerg)\]/, 'no alerts');

done_testing();
