-- 006_api_users: JSON API endpoints about people and groups.
--
--   GET /users/<id|@me>                 api_users_get
--   GET /users/<id|@me>/groups          api_users_groups
--   GET /users/<id|@me>/notifications   api_users_notifications
--   GET /users/<id|@me>/peers           api_users_peers
--   GET /users/search?query=            api_users_search
--   GET /groups/<id>                    api_groups_get
--   GET /groups/search                  api_groups_search
--   GET /invites/<id>?key=              api_invites_get
--
-- Conventions of 003_api_common.  "Listed" torrents are the ones anybody
-- may see: approved, not deleted, not hidden.  Keys the reference marks
-- "only present if ..." are left out for other callers; keys it shows as
-- null for them (has_mfa, can_download_recovery) are null.

-- Helpers -----------------------------------------------------------------

-- Bit 0 of users.permissions (see permission_bits).
CREATE FUNCTION api_users_is_admin(u users) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(u.permissions & 1 <> 0, false)
$$;

-- The user a /users/<id|@me>/... path names: the caller for "@me".
CREATE FUNCTION api_users_target(p_args jsonb, p_me bigint) RETURNS bigint
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN p_args->>'id' = '@me' THEN p_me
                ELSE api_id(p_args->>'id') END
$$;

CREATE FUNCTION api_users_listed(t torrents) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
    SELECT t.status = 1 AND t.deleted IS NULL AND NOT t.hidden
$$;

-- A group as the reference shows it everywhere (invite, user, search).
CREATE FUNCTION api_users_group_json(g groups) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    SELECT jsonb_build_object(
        'id', g.id::text,
        'name', g.name,
        'display_name', g.display_name,
        'tag', g.tag,
        'display_tag', g.display_tag,
        'pfp_hash', g.pfp_hash,
        'tagline', g.tagline,
        'description', g.description,
        'anonymous', g.anonymous)
$$;

-- users.display_name may be unset; clients expect a string to show
CREATE FUNCTION api_users_brief(u users) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN u.id IS NOT NULL THEN jsonb_build_object(
        'id', u.id::text,
        'username', u.username,
        'display_name', coalesce(u.display_name, u.username),
        'pfp_hash', u.pfp_hash) END
$$;

-- Peer ids are 20 raw bytes: printable ASCII stays, the rest (and '%') is
-- percent-encoded as in the announce URL, so the text is always valid JSON.
CREATE FUNCTION api_users_peer_id(p bytea) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT string_agg(CASE WHEN b BETWEEN 32 AND 126 AND b <> 37
                           THEN chr(b)
                           ELSE '%' || upper(lpad(to_hex(b), 2, '0')) END,
                      '' ORDER BY i)
    FROM (SELECT i, get_byte(p, i) AS b
          FROM generate_series(0, length(p) - 1) AS i) s
$$;

-- A group's members, then its open invites (member slots without an
-- account).  p_detail adds each one's credited torrent count; p_manage
-- (the caller leads or administers the group) adds the invite keys.
CREATE FUNCTION api_users_members(p_group bigint, p_detail boolean,
                                  p_manage boolean) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT coalesce(jsonb_agg(m.j ORDER BY m.k1, m.k2, m.k3), '[]')
    FROM (
        SELECT 0 AS k1, (NOT gm.leader)::int * 2 + (NOT gm.admin)::int AS k2,
               gm.joined_at AS k3,
               jsonb_build_object(
                   'id', u.id::text,
                   'username', u.username,
                   'invite', false,
                   'display_name', coalesce(u.display_name, u.username),
                   'pfp_hash', u.pfp_hash,
                   'leader', gm.leader,
                   'admin', gm.admin,
                   'regular', gm.regular)
               || CASE WHEN p_manage THEN jsonb_build_object(
                          'invite_key', NULL,
                          'invite_has_recipient', NULL)
                       ELSE '{}' END
               || CASE WHEN p_detail THEN jsonb_build_object(
                          'torrent_count', (
                              SELECT count(DISTINCT c.torrent_id)
                              FROM torrent_contributors c
                              JOIN torrents t ON t.id = c.torrent_id
                              WHERE c.user_id = u.id
                                AND c.group_id = p_group
                                AND api_users_listed(t)))
                       ELSE '{}' END AS j
        FROM group_members gm JOIN users u ON u.id = gm.user_id
        WHERE gm.group_id = p_group
        UNION ALL
        SELECT 1, 0, i.created_at,
               jsonb_build_object(
                   'id', i.id::text,
                   'username', NULL,
                   'invite', true,
                   'display_name', i.display_name,
                   'pfp_hash', NULL,
                   'leader', false,
                   'admin', i.admin,
                   'regular', i.regular)
               || CASE WHEN p_manage THEN jsonb_build_object(
                          'invite_key', i.invite_key,
                          'invite_has_recipient', i.recipient_id IS NOT NULL)
                       ELSE '{}' END
               || CASE WHEN p_detail THEN jsonb_build_object(
                          'torrent_count', (
                              SELECT count(DISTINCT c.torrent_id)
                              FROM torrent_contributors c
                              JOIN torrents t ON t.id = c.torrent_id
                              WHERE c.invite_id = i.id
                                AND api_users_listed(t)))
                       ELSE '{}' END
        FROM group_invites i
        WHERE i.group_id = p_group AND NOT i.used
    ) m
$$;

-- Users -------------------------------------------------------------------

-- Who /users/<id|@me>/... names, and whether the caller may see it:
-- "@me" needs a valid key (401), an unknown id is 404, and with p_private
-- only the user themselves or a site admin may look (403).  status NULL:
-- go ahead with target.
CREATE FUNCTION api_users_access(me users, p_args jsonb, p_private boolean,
                                 OUT target bigint,
                                 OUT status int, OUT message text)
LANGUAGE sql STABLE AS $$
    SELECT u.id, e.status, e.message
    FROM (SELECT 1) one
    LEFT JOIN users u ON u.id = api_users_target(p_args, me.id)
    LEFT JOIN LATERAL (
        SELECT * FROM (VALUES (401, 'Unauthorized.')) v(status, message)
        WHERE me.id IS NULL AND (p_private OR p_args->>'id' = '@me')
        UNION ALL
        SELECT * FROM (VALUES (404, 'Invalid user ID.')) v(status, message)
        WHERE u.id IS NULL
        UNION ALL
        SELECT * FROM (VALUES (403, 'Forbidden.')) v(status, message)
        WHERE p_private AND u.id <> me.id AND NOT api_users_is_admin(me)
        LIMIT 1
    ) e ON true
$$;

-- The error the access check decided on, else the data (computed only
-- then: a CASE evaluates its subquery only when its branch is taken).
CREATE FUNCTION api_users_reply(p_status int, p_message text, p_data jsonb)
RETURNS TABLE (status int, content_type text, disposition text, body bytea)
LANGUAGE sql IMMUTABLE AS $$
    SELECT * FROM api_error(p_status, p_message) WHERE p_status IS NOT NULL
    UNION ALL
    SELECT * FROM api_ok(p_data) WHERE p_status IS NULL
$$;

-- A profile as u is seen by me (NULL: anonymous).
CREATE FUNCTION api_users_profile(u users, me users) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
            'id', u.id::text,
            'username', u.username,
            'display_name', coalesce(u.display_name, u.username),
            'pfp_hash', u.pfp_hash,
            'description', u.description,
            -- anonymous uploads count only on the uploader's own profile
            'torrent_count', (
                SELECT count(*) FROM torrents t
                WHERE t.uploader_id = u.id AND api_users_listed(t)
                  AND (s.self OR NOT t.anonymous)),
            'contribution_count', (
                SELECT count(DISTINCT c.torrent_id)
                FROM torrent_contributors c
                JOIN torrents t ON t.id = c.torrent_id
                WHERE c.user_id = u.id AND api_users_listed(t)),
            'groups', (
                SELECT coalesce(jsonb_agg(api_users_group_json(g)
                           || jsonb_build_object('admin', gm.admin,
                                                 'leader', gm.leader,
                                                 'regular', gm.regular)
                           ORDER BY gm.joined_at, g.id), '[]')
                FROM group_members gm JOIN groups g ON g.id = gm.group_id
                WHERE gm.user_id = u.id AND g.deleted IS NULL),
            'upload', u.uploaded::text,
            'download', u.downloaded::text,
            'seeding', (SELECT count(DISTINCT p.torrent_id) FROM peers p
                        WHERE p.user_id = u.id AND p.seeder)::text,
            'leeching', (SELECT count(DISTINCT p.torrent_id) FROM peers p
                         WHERE p.user_id = u.id AND NOT p.seeder)::text,
            'disabled', u.disabled,
            'nyaa', (
                SELECT coalesce(jsonb_agg(jsonb_build_object(
                           'username', n.username, 'public', n.public)
                           ORDER BY n.created_at, n.username), '[]')
                FROM user_nyaa_accounts n
                WHERE n.user_id = u.id AND (n.public OR s.self)),
            'can_edit', s.self OR api_users_is_admin(me),
            'has_mfa', CASE WHEN s.self THEN u.has_mfa END,
            'can_download_recovery',
                CASE WHEN s.self THEN NOT u.recovery_key_downloaded END)
        || CASE WHEN s.self THEN jsonb_build_object(
                   'permissions', u.permissions,
                   'torrent_key', u.torrent_key)
                ELSE '{}' END
    FROM (SELECT coalesce(me.id = u.id, false) AS self) s
$$;

CREATE FUNCTION api_users_get(p_key text, p_args jsonb)
RETURNS TABLE (status int, content_type text, disposition text, body bytea)
LANGUAGE sql STABLE AS $$
    SELECT r.*
    FROM api_user(p_key) me,
    api_users_access(me, p_args, false) who,
    LATERAL api_users_reply(who.status, who.message,
        CASE WHEN who.status IS NULL THEN (
            SELECT api_users_profile(u, me) FROM users u
            WHERE u.id = who.target) END) r
$$;

CREATE FUNCTION api_users_groups(p_key text, p_args jsonb)
RETURNS TABLE (status int, content_type text, disposition text, body bytea)
LANGUAGE sql STABLE AS $$
    SELECT r.*
    FROM api_user(p_key) me,
    api_users_access(me, p_args, false) who,
    LATERAL api_users_reply(who.status, who.message,
        CASE WHEN who.status IS NULL THEN (
            SELECT coalesce(jsonb_agg(api_users_group_json(g)
                       || jsonb_build_object(
                              'admin', gm.admin,
                              'leader', gm.leader,
                              'regular', gm.regular,
                              'members', api_users_members(g.id, false,
                                                           false),
                              'upload_count', (
                                  SELECT count(*) FROM torrent_groups tg
                                  JOIN torrents t ON t.id = tg.torrent_id
                                  WHERE tg.group_id = g.id AND tg.is_primary
                                    AND api_users_listed(t)))
                       ORDER BY gm.joined_at, g.id), '[]')
            FROM group_members gm JOIN groups g ON g.id = gm.group_id
            WHERE gm.user_id = who.target AND g.deleted IS NULL) END) r
$$;

-- The newest 100 (the reference has no paging parameters); newest by
-- creation time, which imported or back-dated rows need (ids are
-- time-ordered only for rows made live).
CREATE FUNCTION api_users_notifications(p_key text, p_args jsonb)
RETURNS TABLE (status int, content_type text, disposition text, body bytea)
LANGUAGE sql STABLE AS $$
    SELECT r.*
    FROM api_user(p_key) me,
    api_users_access(me, p_args, true) who,
    LATERAL api_users_reply(who.status, who.message,
        CASE WHEN who.status IS NULL THEN (
            SELECT coalesce(jsonb_agg(jsonb_build_object(
                       'id', n.id::text, 'data', n.data, 'seen', n.seen)
                       ORDER BY n.created_at DESC, n.id DESC), '[]')
            FROM (SELECT * FROM notifications
                  WHERE user_id = who.target
                  ORDER BY created_at DESC, id DESC LIMIT 100) n) END) r
$$;

-- Torrents the user has live peers on (the tracker's flush keeps the
-- peers table), with the user's totals for each.  The speeds are the
-- session's averages: bytes moved since first_seen over the time since.
CREATE FUNCTION api_users_peers(p_key text, p_args jsonb)
RETURNS TABLE (status int, content_type text, disposition text, body bytea)
LANGUAGE sql STABLE AS $$
    SELECT r.*
    FROM api_user(p_key) me,
    api_users_access(me, p_args, true) who,
    LATERAL api_users_reply(who.status, who.message,
        CASE WHEN who.status IS NULL THEN (
            SELECT coalesce(jsonb_agg(jsonb_build_object(
                       'torrent_id', t.id::text,
                       'upload', coalesce(ut.uploaded, 0)::text,
                       'download', coalesce(ut.downloaded, 0)::text,
                       'completed', coalesce(ut.completed, 0)::text,
                       'down_time', coalesce(ut.down_time, 0)::text,
                       'up_time', coalesce(ut.up_time, 0)::text,
                       'created_at', coalesce(api_ms(ut.created_at),
                                              api_ms(pp.first_seen)),
                       'updated_at', coalesce(api_ms(ut.updated_at),
                                              api_ms(pp.last_seen)),
                       'last_completed', coalesce(api_ms(ut.last_completed),
                                                  '0'),
                       'torrent_title', t.title,
                       'torrent_infohash', encode(t.info_hash, 'hex'),
                       'torrent_filesize', t.filesize::text,
                       'peers', pp.peers)
                       ORDER BY pp.last_seen DESC, t.id), '[]')
            FROM (
                SELECT p.torrent_id, min(p.first_seen) AS first_seen,
                       max(p.last_seen) AS last_seen,
                       jsonb_agg(jsonb_build_object(
                           'torrent_id', p.torrent_id::text,
                           'peer_id', api_users_peer_id(p.peer_id),
                           'upload', p.uploaded::text,
                           'download', p.downloaded::text,
                           'left', p."left"::text,
                           'first_seen', api_ms(p.first_seen),
                           'last_seen', api_ms(p.last_seen),
                           'user_agent', p.agent,
                           'est_upload_speed', p.uploaded / s.secs,
                           'est_download_speed', p.downloaded / s.secs,
                           'ip', host(p.ip),
                           'port', p.port)
                           ORDER BY p.last_seen DESC, p.peer_id) AS peers
                FROM peers p
                CROSS JOIN LATERAL (
                    SELECT greatest(1, floor(extract(epoch FROM
                               p.last_seen - p.first_seen)))::bigint AS secs) s
                WHERE p.user_id = who.target
                GROUP BY p.torrent_id
            ) pp
            JOIN torrents t ON t.id = pp.torrent_id
            LEFT JOIN user_torrents ut
                ON ut.user_id = who.target AND ut.torrent_id = t.id) END) r
$$;

-- Exact match only, so nobody can list accounts.  Case does not matter:
-- usernames are unique regardless of case (users_username_lower).
CREATE FUNCTION api_users_search(p_key text, p_args jsonb)
RETURNS TABLE (status int, content_type text, disposition text, body bytea)
LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF api_user(p_key) IS NULL THEN
        RETURN QUERY SELECT * FROM api_unauthorized();
        RETURN;
    END IF;

    RETURN QUERY SELECT * FROM api_ok(jsonb_build_object(
        'more', false,
        'results', (
            SELECT coalesce(jsonb_agg(api_users_brief(u)), '[]')
            FROM users u
            WHERE lower(u.username) = lower(p_args->>'query'))));
END
$$;

-- Groups ------------------------------------------------------------------

CREATE FUNCTION api_groups_get(p_key text, p_args jsonb)
RETURNS TABLE (status int, content_type text, disposition text, body bytea)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    me      users := api_user(p_key);
    g       groups;
    mine    group_members;
    leader  boolean;
    manage  boolean;
    leaders bigint;
BEGIN
    SELECT * INTO g FROM groups
    WHERE id = api_id(p_args->>'id') AND deleted IS NULL;

    IF NOT FOUND THEN
        RETURN QUERY SELECT * FROM api_error(404, 'Group not found.');
        RETURN;
    END IF;

    SELECT * INTO mine FROM group_members
    WHERE group_id = g.id AND user_id = me.id;

    leader := coalesce(mine.leader, false);
    manage := leader OR coalesce(mine.admin, false) OR api_users_is_admin(me);

    SELECT count(*) INTO leaders FROM group_members
    WHERE group_id = g.id AND group_members.leader;

    RETURN QUERY
    WITH gs AS (
        -- the group and the children it has an approved link with
        SELECT g.id
        UNION
        SELECT l.child_id FROM group_links l
        JOIN groups c ON c.id = l.child_id AND c.deleted IS NULL
        WHERE l.parent_id = g.id AND l.active
    ),
    tt AS (
        SELECT DISTINCT t.id, t.media_id
        FROM torrent_groups tg JOIN torrents t ON t.id = tg.torrent_id
        WHERE tg.group_id IN (SELECT id FROM gs)
          AND t.media_id IS NOT NULL AND api_users_listed(t)
    ),
    per_media AS (
        SELECT tt.media_id, max(tt.id) AS latest,
               jsonb_agg(tt.id::text ORDER BY tt.id DESC) AS torrents
        FROM tt GROUP BY tt.media_id
    ),
    eps AS (
        SELECT DISTINCT tt.media_id, e.id, e.season, e.episode, e.absolute,
                        e.tvdb_id, e.title
        FROM tt
        JOIN torrent_episodes te ON te.torrent_id = tt.id
        JOIN episodes e ON e.id = te.episode_id
    ),
    media_json AS (
        SELECT jsonb_agg(jsonb_build_object(
                   'episodes', coalesce((
                       SELECT jsonb_agg(e.id::text
                                        ORDER BY e.season, e.episode)
                       FROM eps e WHERE e.media_id = pm.media_id), '[]'),
                   'torrents', pm.torrents,
                   'groups', (
                       SELECT jsonb_agg(DISTINCT tg.group_id::text)
                       FROM tt JOIN torrent_groups tg
                           ON tg.torrent_id = tt.id
                       WHERE tt.media_id = pm.media_id
                         AND tg.group_id IN (SELECT id FROM gs)),
                   'media', jsonb_build_object(
                       'id', m.id,
                       'title', m.title,
                       'banner_url', m.banner_url,
                       'episodes', coalesce((
                           SELECT jsonb_agg(jsonb_build_object(
                                      'id', e.id,
                                      'season', e.season,
                                      'episode', e.episode,
                                      'absolute', e.absolute,
                                      'tvdbId', e.tvdb_id,
                                      'title', e.title)
                                      ORDER BY e.season, e.episode)
                           FROM eps e WHERE e.media_id = pm.media_id),
                           '[]')))
                   ORDER BY pm.latest DESC) AS j
        FROM per_media pm
        -- one primary-key probe per media (a hash join reads them all)
        CROSS JOIN LATERAL (SELECT * FROM media WHERE id = pm.media_id) m
    ),
    -- every torrent credited to the group itself, listed or not
    own AS (
        SELECT tg.is_primary, t.hidden, api_users_listed(t) AS listed,
               t.seeders, t.leechers, t.completed
        FROM torrent_groups tg JOIN torrents t ON t.id = tg.torrent_id
        WHERE tg.group_id = g.id AND t.deleted IS NULL AND t.status = 1
    ),
    stats AS (
        SELECT count(*) FILTER (WHERE listed AND is_primary) AS uploads,
               count(*) FILTER (WHERE hidden AND is_primary) AS hidden,
               count(*) FILTER (WHERE listed AND NOT is_primary) AS tags,
               coalesce(sum(seeders) FILTER (WHERE listed), 0) AS seeders,
               coalesce(sum(leechers) FILTER (WHERE listed), 0) AS leechers,
               coalesce(sum(completed) FILTER (WHERE listed), 0) AS downloads
        FROM own
    ),
    -- links waiting for approval are shown to those who can approve them
    rel AS (
        SELECT l.child_id = g.id AS is_parent, o.id AS other_id,
               jsonb_build_object(
                   'id', o.id::text,
                   'name', o.name,
                   'display_name', o.display_name,
                   'tag', o.tag,
                   'display_tag', o.display_tag,
                   'pfp_hash', o.pfp_hash,
                   'tagline', o.tagline,
                   'anonymous', o.anonymous,
                   'active', l.active,
                   'initiator', l.initiator_id = o.id) AS j
        FROM (SELECT *, child_id AS other FROM group_links
              WHERE parent_id = g.id
              UNION ALL
              SELECT *, parent_id FROM group_links
              WHERE child_id = g.id) l
        JOIN groups o ON o.id = l.other
        WHERE o.deleted IS NULL AND (l.active OR manage)
    )
    SELECT a.* FROM stats s, api_ok(
        api_users_group_json(g)
        || jsonb_build_object(
            'members', api_users_members(g.id, true, manage),
            'relations', jsonb_build_object(
                'parents', (SELECT coalesce(jsonb_agg(j ORDER BY other_id),
                                            '[]')
                            FROM rel WHERE is_parent),
                'children', (SELECT coalesce(jsonb_agg(j ORDER BY other_id),
                                             '[]')
                             FROM rel WHERE NOT is_parent)),
            'media', (SELECT coalesce(j, '[]') FROM media_json),
            'can_edit', manage,
            'can_leave', mine.user_id IS NOT NULL
                         AND NOT (leader AND leaders <= 1),
            'stats', jsonb_build_object(
                'uploads', s.uploads,
                'tags', s.tags,
                'seeders', s.seeders::text,
                'leechers', s.leechers::text,
                'downloads', s.downloads::text)
                || CASE WHEN leader THEN jsonb_build_object(
                           'hidden_uploads', s.hidden)
                        ELSE '{}' END)
        || CASE WHEN leader THEN jsonb_build_object('can_delete', true)
                ELSE '{}' END) a;
END
$$;

-- Name search over the trigram index groups_search (display name and
-- display tag), paged.  Sorted by a column, only the page's groups are
-- counted (nested loops over indexes); sorted by a count, every group
-- needs its counts, which one hash aggregate over the credits computes.
CREATE FUNCTION api_groups_search(p_key text, p_args jsonb)
RETURNS TABLE (status int, content_type text, disposition text, body bytea)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    -- blank is no filter (a space would match the joining space)
    q       text := nullif(btrim(p_args->>'query'), '');
    lim     int := coalesce((p_args->>'limit')::int, 50);
    off     int := coalesce((p_args->>'offset')::int, 0);
    ord     text := CASE p_args->>'order' WHEN 'asc' THEN 'ASC'
                    ELSE 'DESC' END;
    key     text := CASE p_args->>'sort'
                        WHEN 'uploads' THEN 'c.torrent_count'
                        WHEN 'members' THEN 'c.member_count'
                        WHEN 'downloads' THEN 'c.download_count'
                        WHEN 'name' THEN 'g.name'
                        ELSE 'g.created_at' END;
    counts  text;
    page    jsonb;
BEGIN
    IF key LIKE 'c.%' THEN
        counts := $c$
            LEFT JOIN (
                SELECT tg.group_id, count(*) AS n, sum(t.completed) AS dl
                FROM torrent_groups tg JOIN torrents t ON t.id = tg.torrent_id
                WHERE api_users_listed(t)
                GROUP BY tg.group_id) tc ON tc.group_id = g.id
            LEFT JOIN (
                SELECT m.group_id, count(*) AS n FROM group_members m
                GROUP BY m.group_id) mc ON mc.group_id = g.id
            CROSS JOIN LATERAL (
                SELECT coalesce(mc.n, 0) AS member_count,
                       coalesce(tc.n, 0) AS torrent_count,
                       coalesce(tc.dl, 0) AS download_count) c$c$;
    ELSE
        counts := $c$
            CROSS JOIN LATERAL (
                SELECT (SELECT count(*) FROM group_members m
                        WHERE m.group_id = g.id) AS member_count,
                       count(*) AS torrent_count,
                       coalesce(sum(t.completed), 0) AS download_count
                FROM torrent_groups tg JOIN torrents t ON t.id = tg.torrent_id
                WHERE tg.group_id = g.id AND api_users_listed(t)) c$c$;
    END IF;

    -- the sort key and the counts are fixed texts above, never input
    EXECUTE format($q$
        SELECT coalesce(jsonb_agg(r.j ORDER BY r.k %2$s, r.id %2$s), '[]')
        FROM (
            SELECT %1$s AS k, g.id,
                   api_users_group_json(g) || jsonb_build_object(
                       'member_count', c.member_count::text,
                       'torrent_count', c.torrent_count::text,
                       'download_count', c.download_count::text) AS j
            FROM groups g %3$s
            WHERE g.deleted IS NULL
              AND ($1 IS NULL
                   OR (g.display_name || ' ' || g.display_tag) ILIKE $1)
            ORDER BY %1$s %2$s, g.id %2$s
            LIMIT $2 OFFSET $3
        ) r$q$, key, ord, counts)
    INTO page
    USING '%' || replace(replace(replace(q, '\', '\\'), '%', '\%'), '_', '\_')
              || '%',
          lim + 1, off;

    RETURN QUERY SELECT * FROM api_ok(jsonb_build_object(
        'results', (SELECT coalesce(jsonb_agg(e), '[]')
                    FROM jsonb_array_elements(page)
                         WITH ORDINALITY AS x(e, i)
                    WHERE i <= lim),
        'more', jsonb_array_length(page) > lim));
END
$$;

-- Invites -----------------------------------------------------------------

CREATE FUNCTION api_invites_get(p_key text, p_args jsonb)
RETURNS TABLE (status int, content_type text, disposition text, body bytea)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    i       group_invites;
    g       groups;
BEGIN
    SELECT * INTO i FROM group_invites WHERE id = api_id(p_args->>'id');

    IF FOUND THEN
        SELECT * INTO g FROM groups WHERE id = i.group_id AND deleted IS NULL;
    END IF;

    IF g.id IS NULL THEN
        RETURN QUERY SELECT * FROM api_error(404, 'Invite not found.');
        RETURN;
    END IF;

    RETURN QUERY SELECT * FROM api_ok(jsonb_build_object(
        'id', i.id::text,
        'display_name', i.display_name,
        'author', (SELECT api_users_brief(a) FROM users a
                   WHERE a.id = i.author_id),
        'used', i.used,
        -- who it is for, only to someone holding the invite's key
        'recipient', CASE WHEN p_args->>'key' = i.invite_key THEN (
                         SELECT api_users_brief(r) FROM users r
                         WHERE r.id = i.recipient_id) END,
        'group', api_users_group_json(g),
        'torrent_count', (
            SELECT count(DISTINCT c.torrent_id)
            FROM torrent_contributors c JOIN torrents t ON t.id = c.torrent_id
            WHERE c.invite_id = i.id AND api_users_listed(t))::text));
END
$$;
