-- sql/demo.sql: demo data for `make run` (psql -v ON_ERROR_STOP=1 -f).
-- Loads once: a second run finds the demo user and changes nothing.
--
-- Fixed values scripts may print (see build/run/demo.env):
--   demo user   API key  86ca0245fa5dd60dc56398dfd6a5e0b21153937851a03421e4f93e02b887b236
--               passkey  59fa2bfebacdb4cce1ee224f1899ed5c
--   admin user  API key  eeb2b79ed348545a60b8fd21f1f4e2bb8e27207a861681fbea69b11c3fc7aa60
--               passkey  ba4d15e765c47eec84d33785b63acf14
-- API keys are stored as sha256 hex of the key, as the API looks them up.
-- Torrents are real .torrent files (bencoded, private) whose info hash is
-- the SHA-1 (and for the hybrid also the SHA-256) of their info dictionary.
-- Demo accounting is applied through tracker_apply_batch() with negative
-- batch ids, which the tracker's flusher never uses.

SELECT EXISTS (SELECT 1 FROM users WHERE username = 'demo') AS demo_loaded
\gset
\if :demo_loaded
\echo demo data already loaded
\quit
\endif

BEGIN;

-- bencode helpers, gone at the end of the session
CREATE FUNCTION pg_temp.bstr(b bytea) RETURNS bytea
LANGUAGE sql IMMUTABLE AS $$
    SELECT convert_to(octet_length(b)::text || ':', 'UTF8') || b
$$;
CREATE FUNCTION pg_temp.bstr(t text) RETURNS bytea
LANGUAGE sql IMMUTABLE AS $$ SELECT pg_temp.bstr(convert_to(t, 'UTF8')) $$;
CREATE FUNCTION pg_temp.bint(i bigint) RETURNS bytea
LANGUAGE sql IMMUTABLE AS $$ SELECT convert_to('i' || i || 'e', 'UTF8') $$;

-- concatenated hashes of made-up pieces (algo sha1 or sha256)
CREATE FUNCTION pg_temp.pieces(name text, len bigint, plen bigint,
                               algo text)
RETURNS bytea
LANGUAGE sql IMMUTABLE AS $$
    SELECT string_agg(digest(name || ':' || algo || ':' || g, algo), ''::bytea
                      ORDER BY g)
    FROM generate_series(1, ((len + plen - 1) / plen)::int) g
$$;

-- the info dictionary of a single-file private torrent; hybrid adds the
-- v2 keys (meta version 2, file tree with the file's pieces root)
CREATE FUNCTION pg_temp.info(name text, len bigint, hybrid boolean)
RETURNS bytea
LANGUAGE sql IMMUTABLE AS $$
    SELECT convert_to('d', 'UTF8')
        || CASE WHEN hybrid THEN
               pg_temp.bstr('file tree') || convert_to('d', 'UTF8')
               || pg_temp.bstr(name) || convert_to('d', 'UTF8')
               || pg_temp.bstr('') || convert_to('d', 'UTF8')
               || pg_temp.bstr('length') || pg_temp.bint(len)
               || pg_temp.bstr('pieces root')
               || pg_temp.bstr(sha256(pg_temp.pieces(name, len, 16777216,
                                                     'sha256')))
               || convert_to('eee', 'UTF8')
           ELSE ''::bytea END
        || pg_temp.bstr('length') || pg_temp.bint(len)
        || CASE WHEN hybrid THEN pg_temp.bstr('meta version') || pg_temp.bint(2)
           ELSE ''::bytea END
        || pg_temp.bstr('name') || pg_temp.bstr(name)
        || pg_temp.bstr('piece length') || pg_temp.bint(16777216)
        || pg_temp.bstr('pieces')
        || pg_temp.bstr(pg_temp.pieces(name, len, 16777216, 'sha1'))
        || pg_temp.bstr('private') || pg_temp.bint(1)
        || convert_to('e', 'UTF8')
$$;

CREATE FUNCTION pg_temp.torrent(name text, len bigint, hybrid boolean)
RETURNS bytea
LANGUAGE sql IMMUTABLE AS $$
    SELECT convert_to('d', 'UTF8')
        || pg_temp.bstr('announce')
        || pg_temp.bstr('http://127.0.0.1:8080/announce')
        || pg_temp.bstr('created by') || pg_temp.bstr('ngx_tracker demo')
        || pg_temp.bstr('creation date') || pg_temp.bint(1764547200)
        || pg_temp.bstr('info') || pg_temp.info(name, len, hybrid)
        || CASE WHEN hybrid THEN
               pg_temp.bstr('piece layers') || convert_to('d', 'UTF8')
               || pg_temp.bstr(sha256(pg_temp.pieces(name, len, 16777216,
                                                     'sha256')))
               || pg_temp.bstr(pg_temp.pieces(name, len, 16777216, 'sha256'))
               || convert_to('e', 'UTF8')
           ELSE ''::bytea END
        || convert_to('e', 'UTF8')
$$;

-- languages ------------------------------------------------------------------

INSERT INTO langs (code, name, flag, sort) VALUES
    ('ja', 'Japanese', 'https://flagcdn.com/40x30/jp.png', 1),
    ('en', 'English', 'https://flagcdn.com/40x30/gb.png', 2),
    ('enm', 'English (Weeb)', '/assets/img/flags/enm.png', 3),
    ('es-419', 'Spanish (Latin America)', 'https://flagcdn.com/40x30/mx.png', 4),
    ('es-es', 'Spanish (Spain)', 'https://flagcdn.com/40x30/es.png', 5),
    ('pt-br', 'Portuguese (Brazil)', 'https://flagcdn.com/40x30/br.png', 6),
    ('pt-pt', 'Portuguese (Portugal)', 'https://flagcdn.com/40x30/pt.png', 7),
    ('fr-fr', 'French', 'https://flagcdn.com/40x30/fr.png', 8),
    ('de', 'German', 'https://flagcdn.com/40x30/de.png', 9),
    ('it', 'Italian', 'https://flagcdn.com/40x30/it.png', 10),
    ('fil', 'Filipino', 'https://flagcdn.com/40x30/ph.png', 11),
    ('no', 'Norwegian', 'https://flagcdn.com/40x30/no.png', 12),
    ('zh', 'Chinese', 'https://flagcdn.com/40x30/cn.png', 13),
    ('ko', 'Korean', 'https://flagcdn.com/40x30/kr.png', 14);

INSERT INTO lang_aliases (alias, code) VALUES
    ('jp', 'ja'), ('eng', 'en'), ('en-jp', 'enm'), ('spa-419', 'es-419'),
    ('es', 'es-es'), ('pt', 'pt-pt'), ('fr', 'fr-fr'), ('tg', 'fil'),
    ('nb', 'no'), ('nn', 'no');

-- users -------------------------------------------------------------------

INSERT INTO users (username, display_name, description, torrent_key,
                   permissions, created_at)
VALUES
    ('admin', 'Admin', 'Runs this demo site.',
     'ba4d15e765c47eec84d33785b63acf14', 3, now() - interval '90 days'),
    ('demo', 'Demo', 'The demo account: its API key and passkey are in '
     'build/run/demo.env.', '59fa2bfebacdb4cce1ee224f1899ed5c', 4,
     now() - interval '60 days'),
    ('alice', 'Alice', 'Typesetter.', DEFAULT, 0, now() - interval '30 days'),
    ('carol', 'Carol', '', DEFAULT, 0, now() - interval '3 days');

INSERT INTO users (username, display_name, description, disabled, created_at)
VALUES ('bob', 'Bob', 'Disabled for the demo.', true,
        now() - interval '20 days');

UPDATE users SET can_leech = false WHERE username = 'carol';

INSERT INTO api_keys (user_id, key_hash, name, scopes)
SELECT id, encode(sha256(convert_to(k, 'UTF8')), 'hex'), 'demo', '{all}'
FROM users JOIN (VALUES
    ('demo', '86ca0245fa5dd60dc56398dfd6a5e0b21153937851a03421e4f93e02b887b236'),
    ('admin', 'eeb2b79ed348545a60b8fd21f1f4e2bb8e27207a861681fbea69b11c3fc7aa60'))
    AS v(username, k) USING (username);

INSERT INTO user_nyaa_accounts (user_id, username, public)
SELECT id, 'DemoOnNyaa', true FROM users WHERE username = 'demo';

-- groups ------------------------------------------------------------------

INSERT INTO groups (name, display_name, tag, display_tag, tagline,
                    description, created_at)
VALUES
    ('nekomimi-subs', 'Nekomimi Subs', 'nekosubs', 'NekoSubs',
     'Fansubs with too many signs typeset',
     'We sub slice-of-life shows, slowly and carefully.',
     now() - interval '50 days'),
    ('aurora-encodes', 'Aurora Encodes', 'aurora', 'Aurora',
     'Small encodes, big dreams', 'Encodes for NekoSubs releases.',
     now() - interval '40 days');

INSERT INTO group_members (group_id, user_id, leader, admin, regular)
SELECT g.id, u.id, m.leader, m.admin, m.regular
FROM (VALUES
    ('nekomimi-subs', 'demo', true, true, true),
    ('nekomimi-subs', 'alice', false, false, true),
    ('aurora-encodes', 'admin', true, true, true),
    ('aurora-encodes', 'demo', false, true, true))
    AS m(grp, username, leader, admin, regular)
JOIN groups g ON g.name = m.grp
JOIN users u ON u.username = m.username;

-- Aurora is NekoSubs' child group; NekoSubs asked, both approved
INSERT INTO group_links (parent_id, child_id, initiator_id, parent_approved,
                         child_approved)
SELECT p.id, c.id, p.id, true, true
FROM groups p, groups c
WHERE p.name = 'nekomimi-subs' AND c.name = 'aurora-encodes';

-- an orphan invite (credited on torrents, no account yet) and an invite
-- waiting for carol
INSERT INTO group_invites (group_id, author_id, recipient_id, display_name)
SELECT g.id, a.id, r.id, v.display_name
FROM (VALUES ('OldTimer', NULL), ('Carol', 'carol')) AS v(display_name, rcpt)
JOIN groups g ON g.name = 'nekomimi-subs'
JOIN users a ON a.username = 'demo'
LEFT JOIN users r ON r.username = v.rcpt;

-- media -------------------------------------------------------------------

INSERT INTO media (id, title, year, genres, overview, status, banner_url,
                   runtime, tvdb_id, tmdb_id, imdb_id, alternate_titles)
VALUES
    ('s1001', 'Starlight Harbor', 2025,
     '{Animation,Anime,Drama,Slice of Life}',
     'A lighthouse keeper''s apprentice logs every ship that passes a '
     'harbor where the stars come down to the water.', 'continuing',
     NULL, 24, 900101, 800101, 'tt9000101',
     '{"Hoshimori no Minato","Starlight Port"}'),
    ('s1002', 'The Clockwork Garden', 2024,
     '{Animation,Anime,Fantasy,Mystery}',
     'Two siblings inherit a greenhouse whose plants keep time.', 'ended',
     NULL, 24, 900102, 800102, 'tt9000102', '{"Haguruma no Niwa"}'),
    ('m2001', 'Lanterns Over Kiso', 2023, '{Animation,Anime,Romance}',
     'One summer night on the old Nakasendo road.', 'released', NULL, 104,
     NULL, 800201, 'tt9000201', '{"Kiso no Tomoshibi"}');

INSERT INTO episodes (media_id, season, episode, absolute, title, runtime,
                      air_date)
SELECT 's1001', 1, e, e, 'Starlight Harbor episode ' || e, 24,
       timestamptz '2025-10-02 15:30+00' + (e - 1) * interval '7 days'
FROM generate_series(1, 12) e
UNION ALL
SELECT 's1002', 1, e, e, 'The Clockwork Garden episode ' || e, 24,
       timestamptz '2024-04-05 14:00+00' + (e - 1) * interval '7 days'
FROM generate_series(1, 6) e
UNION ALL
SELECT 'm2001', 0, 1, NULL, 'Lanterns Over Kiso', 104,
       timestamptz '2023-07-21 00:00+00';

-- torrents ------------------------------------------------------------------

CREATE TEMP TABLE demo_t (
    n int, title text, fname text, len bigint, hybrid boolean,
    media text, eps int[], grp text, uploader text, status smallint,
    dl smallint, ul smallint, level smallint, codec smallint,
    vtype smallint, audio text, fsub text
) ON COMMIT DROP;

INSERT INTO demo_t
SELECT e,
       format('[NekoSubs] Starlight Harbor - %s [WEB 1080p x265][FLAC 2.0]',
              lpad(e::text, 2, '0')),
       format('[NekoSubs] Starlight Harbor - %s [WEB 1080p x265][FLAC 2.0].mkv',
              lpad(e::text, 2, '0')),
       1400000000 + e * 7340033, false, 's1001', ARRAY[e], 'nekomimi-subs',
       'demo', 1, 100, 100, 3, 2, 9, 'ja', 'en'
FROM generate_series(1, 12) e;

INSERT INTO demo_t
SELECT 12 + e,
       format('[Aurora] The Clockwork Garden - %s (BD 1080p HEVC Opus)',
              lpad(e::text, 2, '0')),
       format('[Aurora] The Clockwork Garden - %s (BD 1080p HEVC Opus).mkv',
              lpad(e::text, 2, '0')),
       900000000 + e * 3145739, false, 's1002', ARRAY[e], 'aurora-encodes',
       'admin', 1, 100, 100, 2, 2, 3, 'ja', 'en'
FROM generate_series(1, 6) e;

INSERT INTO demo_t VALUES
    -- hybrid (v1 + v2 hashes)
    (19, '[Aurora] Lanterns Over Kiso (BD 1080p HEVC FLAC) [Hybrid]',
     '[Aurora] Lanterns Over Kiso (BD 1080p HEVC FLAC).mkv', 6200000000,
     true, 'm2001', '{1}', 'aurora-encodes', 'admin', 1, 100, 100, 2, 2, 3,
     'ja', 'en'),
    -- freeleech
    (20, '[NekoSubs] Starlight Harbor - 01-06 Batch [WEB 1080p x265][FLAC 2.0]',
     'Starlight Harbor 01-06 Batch.mkv', 8500000000, false, 's1001',
     '{1,2,3,4,5,6}', 'nekomimi-subs', 'demo', 1, 0, 100, 3, 2, 9, 'ja',
     'en'),
    -- double upload
    (21, 'Lanterns Over Kiso (2023) [WEB 720p AVC AAC]',
     'Lanterns Over Kiso (2023) [WEB 720p AVC AAC].mp4', 1900000000, false,
     'm2001', '{1}', NULL, 'alice', 1, 100, 200, -1, 1, 9, 'ja', ''),
    -- waiting for approval
    (22, '[NekoSubs] Starlight Harbor - 07 [WEB 1080p x265][FLAC 2.0] (v2)',
     '[NekoSubs] Starlight Harbor - 07v2 [WEB 1080p x265][FLAC 2.0].mkv',
     1452000000, false, 's1001', '{7}', 'nekomimi-subs', 'alice', 0, 100,
     100, 3, 2, 9, 'ja', 'en');

INSERT INTO torrents (info_hash, info_hash_v2, torrent_data, title,
                      description, status, level, video_codec, video_type,
                      audio_lang, fsub_lang, filesize, files, media_id,
                      uploader_id, uploaded_at, dl_percent, ul_percent)
SELECT digest(pg_temp.info(t.fname, t.len, t.hybrid), 'sha1'),
       CASE WHEN t.hybrid THEN sha256(pg_temp.info(t.fname, t.len, true)) END,
       pg_temp.torrent(t.fname, t.len, t.hybrid),
       t.title,
       CASE WHEN t.n % 4 = 1 THEN 'Thanks to everyone who helped with '
            'this release.' END,
       t.status, t.level, t.codec, t.vtype, t.audio, t.fsub, t.len,
       jsonb_build_array(jsonb_build_object('path', t.fname,
                                            'length', t.len, 'offset', 0)),
       t.media, u.id, now() - (30 - t.n) * interval '1 day', t.dl, t.ul
FROM demo_t t JOIN users u ON u.username = t.uploader
ORDER BY t.n;

INSERT INTO torrent_episodes (torrent_id, episode_id)
SELECT tr.id, ep.id
FROM demo_t t
JOIN torrents tr ON tr.title = t.title
JOIN episodes ep ON ep.media_id = t.media
    AND ep.episode = ANY (t.eps)
    AND ep.season = CASE WHEN t.media LIKE 'm%' THEN 0 ELSE 1 END;

INSERT INTO torrent_groups (torrent_id, group_id, is_primary, role)
SELECT tr.id, g.id, true, NULL
FROM demo_t t
JOIN torrents tr ON tr.title = t.title
JOIN groups g ON g.name = t.grp;

-- Aurora encoded NekoSubs' episodes 1-3 too
INSERT INTO torrent_groups (torrent_id, group_id, is_primary, role)
SELECT tr.id, g.id, false, 'Encode'
FROM demo_t t
JOIN torrents tr ON tr.title = t.title
JOIN groups g ON g.name = 'aurora-encodes'
WHERE t.n <= 3;

INSERT INTO torrent_contributors (torrent_id, group_id, user_id, invite_id,
                                  role, weight)
SELECT tr.id, g.id, u.id, NULL, c.role, c.weight
FROM demo_t t
JOIN torrents tr ON tr.title = t.title
JOIN groups g ON g.name = 'nekomimi-subs' AND g.name = t.grp
CROSS JOIN (VALUES ('demo', 'Translation', 1), ('alice', 'Typesetting', 2))
    AS c(username, role, weight)
JOIN users u ON u.username = c.username
UNION ALL
SELECT tr.id, g.id, NULL, i.id, 'Timing', 3
FROM demo_t t
JOIN torrents tr ON tr.title = t.title
JOIN groups g ON g.name = 'nekomimi-subs' AND g.name = t.grp
JOIN group_invites i ON i.group_id = g.id AND i.display_name = 'OldTimer';

UPDATE torrents SET upgraded_id = (SELECT id FROM torrents
                                   WHERE title LIKE '%Starlight Harbor - 07 %(v2)')
WHERE title = '[NekoSubs] Starlight Harbor - 07 [WEB 1080p x265][FLAC 2.0]';

-- comments --------------------------------------------------------------------

WITH t AS (SELECT id FROM torrents
           WHERE title LIKE '[NekoSubs] Starlight Harbor - 01 %'),
top AS (
    INSERT INTO comments (torrent_id, user_id, text, created_at)
    SELECT t.id, u.id, 'The signs in the harbor scene are gorgeous.',
           now() - interval '20 days'
    FROM t, users u WHERE u.username = 'alice'
    RETURNING id, torrent_id
),
replies AS (
    INSERT INTO comments (torrent_id, user_id, parent_id, text, created_at,
                          last_edit, deleted)
    SELECT top.torrent_id, u.id, top.id, r.text, now() - r.age,
           CASE WHEN r.edited THEN now() - r.age + interval '5 minutes' END,
           r.deleted
    FROM top
    CROSS JOIN (VALUES
        ('demo', '@Alice thanks, that one took a whole weekend.',
         interval '19 days', true, false),
        ('carol', 'first!!', interval '18 days', false, true))
        AS r(username, text, age, edited, deleted)
    JOIN users u ON u.username = r.username
    RETURNING id
)
INSERT INTO comment_ratings (comment_id, user_id, positive)
SELECT top.id, u.id, u.username <> 'bob'
FROM top, users u WHERE u.username IN ('demo', 'admin', 'bob');

INSERT INTO comments (torrent_id, user_id, text, pinned)
SELECT id, (SELECT id FROM users WHERE username = 'admin'),
       'Hybrid release: works with v1 and v2 clients.', true
FROM torrents WHERE info_hash_v2 IS NOT NULL;

-- site ----------------------------------------------------------------------

INSERT INTO notifications (user_id, data, seen, created_at)
SELECT u.id, n.data, n.seen, now() - n.age
FROM (VALUES
    ('demo', 'Welcome to the site.', true, interval '60 days'),
    ('demo', 'Your torrent was approved.', false, interval '2 days'))
    AS n(username, data, seen, age)
JOIN users u USING (username);

INSERT INTO notifications (user_id, data)
SELECT i.recipient_id,
       format('<u:%s:%s> invited you to <g:%s:%s>. <i:%s:%s>',
              a.id, a.display_name, g.id, g.display_name, i.id, i.invite_key)
FROM group_invites i
JOIN users a ON a.id = i.author_id
JOIN groups g ON g.id = i.group_id
WHERE i.recipient_id IS NOT NULL;

INSERT INTO announcements (start_time, end_time, message, link, color)
VALUES (now() - interval '1 day', now() + interval '365 days',
        'Welcome to the ngx_tracker demo. Everything here is made up.', '',
        'grey');

-- next month's freeleech (not running now, so totals stay plain)
INSERT INTO site_events (name, dl_percent, ul_percent, starts_at, ends_at)
VALUES ('Winter freeleech', 0, 100,
        date_trunc('month', now()) + interval '1 month',
        date_trunc('month', now()) + interval '1 month 7 days');

-- tracker state: demo seeds three torrents and leeches one; alice snatched
-- episode 1 (one announce each, applied as the tracker would)
WITH r AS (
    SELECT u.id AS user_id, t.id AS torrent_id, v.*
    FROM (VALUES
        ('demo', 1, 'seed', 5368709120, 0, 0::smallint),
        ('demo', 2, 'seed', 2147483648, 0, 0),
        ('demo', 19, 'seed', 1073741824, 0, 0),
        ('demo', 14, 'leech', 0, 471859200, 2),
        ('alice', 1, 'seed', 104857600, 1407340033, 1))
        AS v(username, n, kind, up, down, event)
    JOIN users u USING (username)
    JOIN demo_t d USING (n)
    JOIN torrents t ON t.title = d.title
)
SELECT tracker_apply_batch(
    -1,
    array_agg(user_id), array_agg(torrent_id),
    array_agg(md5(username || n) || '00000000'),
    array_agg('192.0.2.' || (10 + n)), array_agg(51413 + n),
    array_agg(up::bigint), array_agg(down::bigint),
    array_agg(up::bigint), array_agg(down::bigint),
    array_agg(CASE WHEN kind = 'seed' THEN 7200 ELSE 0 END),
    array_agg(CASE WHEN kind = 'seed' THEN 0 ELSE 1800 END),
    array_agg(CASE WHEN kind = 'seed' THEN 0 ELSE 524288000 END::bigint),
    array_agg(event::smallint), array_agg(3), array_agg(1),
    array_agg(extract(epoch FROM now())::bigint))
FROM r \gset demo_

COMMIT;

\echo demo data loaded

-- Torznab / RSS (sql/014_torznab.sql): NekoSubs' episode 3 got better
-- subtitles and was put back on top of the feeds an hour ago (rss_at).
-- Runs with the rest, on the first load only.
UPDATE torrents SET rss_at = now() - interval '1 hour'
WHERE title = '[NekoSubs] Starlight Harbor - 03 [WEB 1080p x265][FLAC 2.0]';
