-- 004_api_torrents: GET /torrents/<id> and GET /torrents/<id>/comments.
--
-- Also the site's settings (the public announce URL that magnets carry;
-- other groups read them too) and the trackers a stored .torrent names,
-- extracted once when it is written so that rendering a magnet never parses
-- bencode.

-- Site settings -------------------------------------------------------------

-- public_tracker_url: the open announce URL; a passkey URL is
--   public_tracker_url || '/' || torrent_key
-- (the /announce/<passkey> form the tracker accepts).
CREATE TABLE IF NOT EXISTS site_settings (
    key     text PRIMARY KEY,
    value   text NOT NULL
);

INSERT INTO site_settings (key, value) VALUES
    ('public_tracker_url', 'http://127.0.0.1:8080/announce'),
    ('site_name', 'ngx_tracker'),
    ('base_url', 'http://127.0.0.1:8080')
ON CONFLICT (key) DO NOTHING;

-- plpgsql: its plan is cached per session (a SQL function with a FROM is
-- planned again on each call from plpgsql)
CREATE FUNCTION site_setting(p_key text) RETURNS text
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN (SELECT value FROM site_settings WHERE key = p_key);
END
$$;

-- A torrent's own trackers ----------------------------------------------------

-- the announce URLs of a .torrent (announce, then announce-list in tier
-- order), deduplicated; written at insert/update time
ALTER TABLE torrents ADD COLUMN IF NOT EXISTS
    trackers text[] NOT NULL DEFAULT '{}';

-- bencoded string at 0-based offset p: its bytes and the offset after it.
-- Raises on anything malformed (the caller catches).
CREATE FUNCTION bencode_str(d bytea, p int, OUT val bytea, OUT next int)
LANGUAGE plpgsql IMMUTABLE STRICT AS $$
DECLARE
    len bigint := 0;
    c int;
BEGIN
    LOOP
        c := get_byte(d, p);
        EXIT WHEN c = 58;                                   -- ':'
        IF c < 48 OR c > 57 OR len > 100000000 THEN
            RAISE EXCEPTION 'bencode: bad string length at %', p;
        END IF;
        len := len * 10 + (c - 48);
        p := p + 1;
    END LOOP;
    IF p + 1 + len > octet_length(d) THEN
        RAISE EXCEPTION 'bencode: string past the end at %', p;
    END IF;
    val := substring(d FROM p + 2 FOR len::int);
    next := p + 1 + len::int;
END
$$;

-- offset after the bencoded value at offset p (nesting limited)
CREATE FUNCTION bencode_skip(d bytea, p int, depth int) RETURNS int
LANGUAGE plpgsql IMMUTABLE STRICT AS $$
DECLARE
    c int := get_byte(d, p);
BEGIN
    IF depth > 32 THEN
        RAISE EXCEPTION 'bencode: nested too deep';
    END IF;
    IF c = 105 THEN                                         -- 'i'
        -- 1-based position of 'e' among the next bytes
        c := position('\x65'::bytea IN substring(d FROM p + 1 FOR 32));
        IF c = 0 THEN
            RAISE EXCEPTION 'bencode: bad integer at %', p;
        END IF;
        RETURN p + c;
    ELSIF c = 108 OR c = 100 THEN                           -- 'l', 'd'
        p := p + 1;
        WHILE get_byte(d, p) <> 101 LOOP                    -- 'e'
            p := bencode_skip(d, p, depth + 1);
        END LOOP;
        RETURN p + 1;
    END IF;
    RETURN (bencode_str(d, p)).next;
END
$$;

-- announce + announce-list of a .torrent; '{}' when it does not parse.
-- Stops at "info" (the big part; announce keys come before it in a
-- conforming, sorted dictionary).  Keeps http(s)/udp/ws(s) URLs only.
CREATE FUNCTION torrent_trackers(d bytea) RETURNS text[]
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    p int := 1;
    k bytea;
    v bytea;
    urls text[] := '{}';
    u text;
BEGIN
    IF d IS NULL OR octet_length(d) < 2 OR get_byte(d, 0) <> 100 THEN
        RETURN '{}';
    END IF;
    WHILE get_byte(d, p) <> 101 LOOP
        SELECT val, next INTO k, p FROM bencode_str(d, p);
        IF k = 'info'::bytea THEN
            EXIT;
        ELSIF k = 'announce'::bytea AND get_byte(d, p) <> 108 THEN
            SELECT val, next INTO v, p FROM bencode_str(d, p);
            urls := urls || convert_from(v, 'UTF8');
        ELSIF k = 'announce-list'::bytea AND get_byte(d, p) = 108 THEN
            p := p + 1;
            WHILE get_byte(d, p) <> 101 LOOP                -- tiers
                IF get_byte(d, p) <> 108 THEN
                    RAISE EXCEPTION 'bencode: tier is not a list';
                END IF;
                p := p + 1;
                WHILE get_byte(d, p) <> 101 LOOP
                    SELECT val, next INTO v, p FROM bencode_str(d, p);
                    urls := urls || convert_from(v, 'UTF8');
                END LOOP;
                p := p + 1;
            END LOOP;
            p := p + 1;
        ELSE
            p := bencode_skip(d, p, 0);
        END IF;
    END LOOP;

    SELECT coalesce(array_agg(x.u ORDER BY x.first), '{}') INTO urls
    FROM (SELECT a.u, min(a.n) AS first
          FROM unnest(urls) WITH ORDINALITY AS a(u, n)
          WHERE a.u ~ '^(https?|udp|wss?)://[^/\s]+\S*$'
            AND length(a.u) <= 512
          GROUP BY a.u
          ORDER BY first
          LIMIT 32) x;
    RETURN urls;
EXCEPTION WHEN OTHERS THEN
    -- malformed bytes (or bad UTF-8) in an untrusted file: no trackers,
    -- never a failed write
    RETURN '{}';
END
$$;

CREATE FUNCTION torrents_trackers_fill() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.trackers := torrent_trackers(NEW.torrent_data);
    RETURN NEW;
END
$$;

CREATE TRIGGER torrents_trackers_fill
    BEFORE INSERT OR UPDATE OF torrent_data ON torrents
    FOR EACH ROW EXECUTE FUNCTION torrents_trackers_fill();

UPDATE torrents SET trackers = torrent_trackers(torrent_data)
WHERE torrent_data IS NOT NULL;

-- Rendering helpers -------------------------------------------------------

-- RFC 3986 percent-encoding of UTF-8 text (magnet parameters): all but
-- the unreserved characters.  Printable ASCII (URLs, most titles) goes
-- through a chain of replace() calls, written out below by a DO block (about
-- six times cheaper than a per-byte aggregate); anything else through the
-- hex of its bytes, two hex digits at a time.
CREATE FUNCTION api_urlencode_bytes(p text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT coalesce(string_agg(
               CASE WHEN h IN ('2d', '2e', '5f', '7e')
                         OR h BETWEEN '30' AND '39'
                         OR h BETWEEN '41' AND '5a'
                         OR h BETWEEN '61' AND '7a'
                    THEN chr(('x' || h)::bit(8)::int)
                    ELSE '%' || upper(h) END, ''), '')
    FROM (SELECT m[1] COLLATE "C" AS h
          FROM regexp_matches(encode(convert_to(p, 'UTF8'), 'hex'), '(..)',
                              'g') AS m) pairs
$$;

DO $do$
DECLARE
    e text := 'replace(p, ''%'', ''%25'')';
    c text;
BEGIN
    FOREACH c IN ARRAY regexp_split_to_array(
                           ' !"#$&''()*+,/:;<=>?@[\]^`{|}', '')
    LOOP
        e := format('replace(%s, %L, %L)', e, c,
                    '%' || upper(to_hex(ascii(c))));
    END LOOP;
    EXECUTE format($f$
        CREATE FUNCTION api_urlencode(p text) RETURNS text
        LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
            SELECT CASE WHEN p ~ '^[ -~]*$' THEN %s
                        ELSE api_urlencode_bytes(p) END
        $$ $f$, e);
END
$do$;

-- magnet: v1 (and v2) hash, title, the given announce URL first, then the
-- torrent's own trackers except any on our tracker's origin (a stored file
-- may carry its uploader's passkey URL).  One expression without
-- sub-selects, so that the planner inlines it: a SQL function it cannot
-- inline pays an executor start-up on every call.  The trackers travel as
-- one newline-joined string (newlines never occur in them): lines on our
-- origin are cut by one regexp, and after percent-encoding each newline
-- becomes the next "&tr=".
CREATE FUNCTION api_magnet(t torrents, p_announce text) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT 'magnet:?xt=urn:btih:' || encode(t.info_hash, 'hex')
        || CASE WHEN t.info_hash_v2 IS NOT NULL
                THEN '&xt=urn:btmh:1220' || encode(t.info_hash_v2, 'hex')
                ELSE '' END
        || '&dn=' || api_urlencode(t.title)
        || coalesce('&tr=' || api_urlencode(p_announce), '')
        || coalesce('&tr=' || nullif(replace(api_urlencode(rtrim(
               regexp_replace(array_to_string(t.trackers, E'\n'),
                   '^' || regexp_replace(
                       coalesce(substring(p_announce FROM '^[a-z]+://[^/?#]+'),
                                E'\n'),
                       '([^A-Za-z0-9])', '\\\1', 'g')
                   || '([/?#][^\n]*)?(\n|$)', '', 'gn'),
               E'\n')), '%0A', '&tr='), ''), '')
$$;

-- the stored auto title, or one made from the tags:
--   "<title> {Tags:OTL;MTL;HS;L<level>;V<type>;C<codec>;A-..;S-..;F-..;}"
CREATE FUNCTION api_auto_title(t torrents) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(t.auto_title, t.title || ' {Tags:'
        || CASE WHEN t.otl THEN 'OTL;' ELSE '' END
        || CASE WHEN t.mtl THEN 'MTL;' ELSE '' END
        || CASE WHEN t.hardsub THEN 'HS;' ELSE '' END
        || coalesce('L' || t.level || ';', '')
        || coalesce('V' || t.video_type || ';', '')
        || coalesce('C' || t.video_codec || ';', '')
        || coalesce('A-' || nullif(t.audio_lang, '') || ';', '')
        || coalesce('S-' || nullif(t.sub_lang, '') || ';', '')
        || coalesce('F-' || nullif(t.fsub_lang, '') || ';', '')
        || '}')
$$;

-- What the caller may do with a torrent: 'edit' (moderator or admin; the
-- uploader or a leader/admin of the primary group unless edits are
-- disabled), 'view' (everyone for approved torrents; pending or rejected
-- ones only to the uploader, the primary group's leaders/admins and
-- moderators), 'pending' (403) or 'none' (404).
CREATE FUNCTION api_torrent_access(t torrents, u users) RETURNS text
LANGUAGE plpgsql STABLE AS $$
DECLARE
    moderator boolean := u.id IS NOT NULL AND (u.permissions & 3) <> 0;
    owner     boolean := u.id IS NOT NULL AND (u.id = t.uploader_id
        OR EXISTS (SELECT 1 FROM torrent_groups tg
                   JOIN group_members gm ON gm.group_id = tg.group_id
                   WHERE tg.torrent_id = t.id AND tg.is_primary
                     AND gm.user_id = u.id AND (gm.leader OR gm.admin)));
BEGIN
    RETURN CASE
        WHEN t.id IS NULL THEN 'none'
        WHEN moderator OR (owner AND NOT t.disable_edits) THEN 'edit'
        WHEN owner OR t.status = 1 THEN 'view'
        WHEN t.status = 0 THEN 'pending'
        ELSE 'none' END;
END
$$;

-- the error answer for an access that shows nothing (no row otherwise)
CREATE FUNCTION api_torrent_refusal(p_access text)
RETURNS TABLE (status int, content_type text, disposition text, body bytea)
LANGUAGE sql IMMUTABLE AS $$
    SELECT * FROM api_error(404, 'Torrent not found.')
    WHERE p_access = 'none'
    UNION ALL
    SELECT * FROM api_error(403, 'Torrent is waiting for approval.')
    WHERE p_access = 'pending'
$$;

-- GET /torrents/<id> ----------------------------------------------------------

CREATE FUNCTION api_torrent(p_key text, p_args jsonb)
RETURNS TABLE (status int, content_type text, disposition text, body bytea)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    t       torrents;
    u       users := api_user(p_key);
    access  text;
    tracker text := site_setting('public_tracker_url');
    data    jsonb;
BEGIN
    SELECT * INTO t FROM torrents WHERE id = api_id(p_args->>'id');
    access := api_torrent_access(t, u);
    RETURN QUERY SELECT * FROM api_torrent_refusal(access);
    IF FOUND THEN
        RETURN;
    END IF;

    data := jsonb_build_object(
        'id', t.id::text,
        'uploaded_at', api_ms(t.uploaded_at),
        'title', t.title,
        'auto_title', api_auto_title(t),
        'description', t.description,
        'mediainfo', t.mediainfo,
        'category', t.category,
        'deleted', api_ms(t.deleted),
        'hidden', t.hidden,
        'otl', t.otl,
        'hardsub', t.hardsub,
        'level', t.level,
        'mtl', t.mtl,
        'filesize', t.filesize::text,
        'media_id', t.media_id,
        'media_episode_ids', coalesce((
            SELECT jsonb_agg(te.episode_id::text ORDER BY e.season, e.episode)
            FROM torrent_episodes te JOIN episodes e ON e.id = te.episode_id
            WHERE te.torrent_id = t.id), '[]'::jsonb),
        'audio_lang', t.audio_lang,
        'sub_lang', t.sub_lang,
        'fsub_lang', t.fsub_lang,
        'video_codec', t.video_codec,
        'video_type', t.video_type,
        'files', coalesce((
            SELECT jsonb_agg(jsonb_build_object(
                       'path', f->>'path',
                       'name', regexp_replace(f->>'path', '^.*/', ''),
                       'length', f->'length',
                       'offset', f->'offset') ORDER BY n)
            FROM jsonb_array_elements(t.files) WITH ORDINALITY AS x(f, n)),
            '[]'::jsonb),
        'magnet', api_magnet(t, tracker),
        'infohash', encode(t.info_hash, 'hex'),
        'anonymous', t.anonymous)
    || jsonb_build_object(
        'uploader', (
            SELECT jsonb_build_object(
                       'id', up.id::text,
                       'username', up.username,
                       'display_name', coalesce(up.display_name, up.username),
                       'pfp_hash', up.pfp_hash)
            FROM users up
            WHERE up.id = t.uploader_id AND NOT t.anonymous),
        'groups', coalesce((
            SELECT jsonb_agg(jsonb_build_object(
                       'id', g.id::text,
                       'name', g.name,
                       'display_name', g.display_name,
                       'pfp_hash', g.pfp_hash,
                       'tagline', g.tagline,
                       'members', coalesce((
                           SELECT jsonb_agg(jsonb_build_object(
                                      'id', coalesce(c.user_id,
                                                     c.invite_id)::text,
                                      'invite', c.invite_id IS NOT NULL,
                                      'username', cu.username,
                                      'display_name', coalesce(
                                          cu.display_name, cu.username,
                                          ci.display_name),
                                      'pfp_hash', cu.pfp_hash,
                                      'role', c.role,
                                      'weight', c.weight)
                                      ORDER BY c.weight, c.id)
                           FROM torrent_contributors c
                           LEFT JOIN users cu ON cu.id = c.user_id
                           LEFT JOIN group_invites ci ON ci.id = c.invite_id
                           WHERE c.torrent_id = t.id
                             AND c.group_id = g.id), '[]'::jsonb),
                       'uploading_group', tg.is_primary,
                       'role', tg.role)
                       ORDER BY tg.is_primary DESC, g.display_name, g.id)
            FROM torrent_groups tg JOIN groups g ON g.id = tg.group_id
            WHERE tg.torrent_id = t.id), '[]'::jsonb),
        'imported', t.imported,
        'seeders', t.seeders::text,
        'leechers', t.leechers::text,
        'completed', t.completed::text,
        'activity', t.activity::text,
        'torrent_health', t.torrent_health::text,
        'upgraded', t.upgraded_id::text,
        'animetosho', t.animetosho,
        'animetosho_fetch_time', api_ms(t.animetosho_fetch_time),
        'screenshots', coalesce((
            SELECT jsonb_agg(s.url ORDER BY s.n)
            FROM (SELECT 'https://storage.animetosho.org/sframes/'
                         || (f->>'screenshot_id') || '_' || st.ms || '.png'
                         AS url,
                         row_number() OVER (ORDER BY fn, st.n) AS n
                  FROM jsonb_array_elements(
                           CASE WHEN jsonb_typeof(t.animetosho) = 'array'
                                THEN t.animetosho ELSE '[]' END)
                           WITH ORDINALITY AS af(f, fn),
                       jsonb_array_elements_text(
                           CASE WHEN jsonb_typeof(f->'screenshot_timings')
                                     = 'array'
                                THEN f->'screenshot_timings' ELSE '[]' END)
                           WITH ORDINALITY AS st(ms, n)
                  WHERE f->>'screenshot_id' IS NOT NULL) s
            WHERE s.n <= 5), '[]'::jsonb),
        'waiting_approve', t.status = 0,
        'disable_comments', t.disable_comments,
        'lock_comments', t.lock_comments,
        'disable_edits', t.disable_edits,
        'nyaa_upload_time', api_ms(t.nyaa_upload_time));

    IF u.id IS NOT NULL THEN
        data := data || jsonb_build_object(
            'private_magnet',
                api_magnet(t, tracker || '/' || u.torrent_key),
            'can_edit', access = 'edit',
            'user_is_seeding', EXISTS (
                SELECT 1 FROM peers p
                WHERE p.torrent_id = t.id AND p.user_id = u.id AND p.seeder),
            'user_is_leeching', EXISTS (
                SELECT 1 FROM peers p
                WHERE p.torrent_id = t.id AND p.user_id = u.id
                  AND NOT p.seeder));
    END IF;

    RETURN QUERY SELECT * FROM api_ok(data);
END
$$;

-- GET /torrents/<id>/comments -------------------------------------------------

-- Threads: top-level comments (pinned first, then oldest first), each with
-- every reply below it, at any depth, in "children" (oldest first;
-- replying_to names the direct parent).  Deleted comments keep their place
-- and counts but lose author, text and edit time.
CREATE FUNCTION api_torrent_comments(p_key text, p_args jsonb)
RETURNS TABLE (status int, content_type text, disposition text, body bytea)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    t       torrents;
    u       users := api_user(p_key);
    access  text;
    data    jsonb;
BEGIN
    SELECT * INTO t FROM torrents WHERE id = api_id(p_args->>'id');
    access := api_torrent_access(t, u);
    RETURN QUERY SELECT * FROM api_torrent_refusal(access);
    IF FOUND THEN
        RETURN;
    END IF;
    IF t.disable_comments THEN
        RETURN QUERY SELECT * FROM api_ok('[]'::jsonb);
        RETURN;
    END IF;

    WITH RECURSIVE tree AS (
        SELECT c.id, c.id AS root
        FROM comments c
        WHERE c.torrent_id = t.id AND c.parent_id IS NULL
        UNION ALL
        SELECT c.id, tree.root
        FROM tree JOIN comments c ON c.parent_id = tree.id
        WHERE c.torrent_id = t.id
    ),
    rendered AS (
        SELECT c.id, tree.root, c.pinned,
               jsonb_build_object(
                   'id', c.id::text,
                   'deleted', c.deleted,
                   'user_id', CASE WHEN c.deleted OR c.user_id IS NULL
                                   THEN '0' ELSE c.user_id::text END,
                   'text', CASE WHEN c.deleted THEN '[deleted]'
                                ELSE c.text END,
                   'replying_to', c.parent_id::text,
                   'display_name', CASE WHEN c.deleted OR cu.id IS NULL
                                        THEN '[deleted]'
                                        ELSE coalesce(cu.display_name,
                                                      cu.username) END,
                   'pfp_hash', CASE WHEN c.deleted THEN NULL
                                    ELSE cu.pfp_hash END,
                   'positive', r.positive::text,
                   'negative', r.negative::text,
                   'pinned', c.pinned,
                   'user_rating', r.mine,
                   -- a number here, unlike other timestamps (as the
                   -- reference shows it)
                   'last_edit', CASE WHEN c.deleted THEN NULL
                                     ELSE epoch_ms(c.last_edit) END) AS j
        FROM tree
        JOIN comments c ON c.id = tree.id
        LEFT JOIN users cu ON cu.id = c.user_id
        CROSS JOIN LATERAL (
            SELECT count(*) FILTER (WHERE cr.positive) AS positive,
                   count(*) FILTER (WHERE NOT cr.positive) AS negative,
                   bool_or(cr.positive) FILTER (WHERE cr.user_id = u.id)
                       AS mine
            FROM comment_ratings cr WHERE cr.comment_id = c.id) r
    ),
    kids AS (
        SELECT root, jsonb_agg(j ORDER BY id) AS children
        FROM rendered WHERE id <> root
        GROUP BY root
    )
    SELECT coalesce(jsonb_agg(
               top.j || jsonb_build_object('children',
                                           coalesce(k.children, '[]'))
               ORDER BY top.pinned DESC, top.id), '[]')
    INTO data
    FROM rendered top LEFT JOIN kids k ON k.root = top.id
    WHERE top.id = top.root;

    RETURN QUERY SELECT * FROM api_ok(data);
END
$$;
