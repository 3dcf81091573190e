-- bench/api_search_data.sql: a site of 100k torrents, 10k media (12
-- episodes each), 1k groups and 5k users for the search benchmark
-- (psql -v ON_ERROR_STOP=1 -f; replaces the data of an earlier run).
-- Values come from hashes of the row number, so every run builds the same
-- site; set-based throughout.

BEGIN;
SET LOCAL client_min_messages = warning;

TRUNCATE torrent_contributors, torrent_groups, torrent_episodes, comments,
         peers, snatches, user_torrents, torrents, episodes, media,
         group_links, group_members, group_invites, groups, api_keys, users
         CASCADE;

-- a stable pseudo-random number in [0, n) for row i and a salt
CREATE FUNCTION pg_temp.r(i int, salt int, n int) RETURNS int
LANGUAGE sql IMMUTABLE AS $$
    SELECT (abs(hashint4(i * 7919 + salt)) % n)
$$;

CREATE TEMP TABLE w (n int, word text);
INSERT INTO w
SELECT row_number() OVER () - 1, x FROM unnest(string_to_array(
    'star light harbor clock garden lantern river moon sun sky sea wind '
    'fire snow rain cloud forest mountain city tower castle dragon sword '
    'witch knight maiden prince queen king girl boy school club summer '
    'winter spring autumn night dawn dusk dream memory promise journey '
    'story legend song melody heart soul spirit shadow mirror glass crystal '
    'flower petal cherry blossom bird cat fox wolf bear rabbit angel demon '
    'ghost machine robot space galaxy planet comet orbit signal radio train '
    'station bridge road gate door window garden kitchen cafe bakery shop '
    'market festival holiday letter diary secret mystery detective case '
    'game player hero villain guild quest dungeon world academy', ' ')) x;

SELECT count(*) AS nw FROM w \gset

INSERT INTO users (id, username, display_name)
SELECT i, 'user' || i, 'User ' || i FROM generate_series(1, 5000) i;

INSERT INTO groups (id, name, display_name, tag, display_tag, tagline)
SELECT i, 'group' || i, 'Group ' || i, 'grp' || i, 'Grp' || i, 'tagline'
FROM generate_series(1, 1000) i;

INSERT INTO group_members (group_id, user_id)
SELECT 1 + pg_temp.r(i, 1, 1000), i FROM generate_series(1, 5000) i;

-- every tenth group has a child
INSERT INTO group_links (parent_id, child_id, initiator_id, parent_approved,
                         child_approved)
SELECT i, i + 1, i, true, true FROM generate_series(1, 990, 10) i;

INSERT INTO media (id, title, year, genres, status, runtime,
                   alternate_titles)
SELECT 's' || i,
       initcap(a.word || ' ' || b.word || ' ' || c.word),
       1990 + pg_temp.r(i, 5, 35), '{Animation,Anime}', 'ended', 24,
       ARRAY[initcap(c.word || ' no ' || a.word)]
FROM generate_series(1, 10000) i
JOIN w a ON a.n = pg_temp.r(i, 2, :nw)
JOIN w b ON b.n = pg_temp.r(i, 3, :nw)
JOIN w c ON c.n = pg_temp.r(i, 4, :nw);

INSERT INTO episodes (id, media_id, season, episode, title)
SELECT (m - 1) * 12 + e, 's' || m, 1, e, 'Episode ' || e
FROM generate_series(1, 10000) m, generate_series(1, 12) e;

-- torrent i: media i % 10000, episode 1 + i / 10000 % 12
INSERT INTO torrents (id, info_hash, title, level, video_codec, video_type,
                      audio_lang, fsub_lang, filesize, media_id,
                      uploader_id, uploaded_at, seeders, leechers,
                      completed, comment_count, hidden, anonymous, mtl,
                      hardsub, otl)
SELECT i, digest('bench-search-' || i, 'sha1'),
       format('[Grp%s] %s - %s [%s 1080p %s]', 1 + pg_temp.r(i, 6, 1000),
              m.title, lpad((1 + i / 10000 % 12)::text, 2, '0'),
              (ARRAY['WEB', 'BD', 'TV'])[1 + pg_temp.r(i, 7, 3)],
              (ARRAY['x264', 'x265', 'HEVC', 'AV1'])[1 + pg_temp.r(i, 8, 4)]),
       pg_temp.r(i, 9, 6) - 1, 1 + pg_temp.r(i, 10, 3),
       (ARRAY[3, 9, 13])[1 + pg_temp.r(i, 11, 3)], 'ja',
       (ARRAY['en', 'en', 'es-es', 'pt-br'])[1 + pg_temp.r(i, 12, 4)],
       100000000 + pg_temp.r(i, 13, 1000000000)::bigint * 8,
       m.id, 1 + pg_temp.r(i, 14, 5000),
       now() - (100000 - i) * interval '10 minutes',
       pg_temp.r(i, 15, 500), pg_temp.r(i, 16, 50), pg_temp.r(i, 17, 5000),
       pg_temp.r(i, 18, 20), pg_temp.r(i, 19, 100) = 0,
       pg_temp.r(i, 20, 50) = 0, pg_temp.r(i, 21, 30) = 0,
       pg_temp.r(i, 22, 40) = 0, pg_temp.r(i, 23, 3) = 0
FROM generate_series(1, 100000) i
JOIN media m ON m.id = 's' || (1 + i % 10000);

INSERT INTO torrent_episodes (torrent_id, episode_id)
SELECT i, (i % 10000) * 12 + 1 + i / 10000 % 12
FROM generate_series(1, 100000) i;

INSERT INTO torrent_groups (torrent_id, group_id, is_primary)
SELECT i, 1 + pg_temp.r(i, 6, 1000), true FROM generate_series(1, 100000) i
UNION ALL
SELECT i, 1 + (pg_temp.r(i, 6, 1000) + 1) % 1000, false
FROM generate_series(1, 100000, 5) i;

COMMIT;

ANALYZE;
