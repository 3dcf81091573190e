-- bench/api_users.sql: data for bench/api_users.sh (and EXPLAIN checks of
-- sql/006_api_users.sql): 10k users, 1k groups of 10 members (every other
-- one with an approved child), 10k media with 12 episodes, 100k torrents
-- (one primary group each, credited to the group's leader), 100k
-- notifications, 100k live peers, an open invite per group (ids from
-- 300001).  User 100001 (API key "perf") leads group 200001.
INSERT INTO users (id, username, display_name)
SELECT 100000 + i, 'user' || i, 'User ' || i FROM generate_series(1, 10000) i;

INSERT INTO api_keys (user_id, key_hash)
VALUES (100001, encode(sha256('perf'::bytea), 'hex'));

INSERT INTO groups (id, name, display_name, tag, display_tag, created_at)
SELECT 200000 + i, 'group' || i, 'Group ' || md5(i::text), 'tag' || i,
       'Tag' || i, now() - i * interval '1 hour'
FROM generate_series(1, 1000) i;

INSERT INTO group_members (group_id, user_id, leader, admin)
SELECT 200000 + g, 100000 + ((g - 1 + k * 997) % 10000) + 1, k = 0, k < 2
FROM generate_series(1, 1000) g, generate_series(0, 9) k
ON CONFLICT DO NOTHING;

-- one open invite per group, made by its leader
INSERT INTO group_invites (id, group_id, author_id, display_name)
SELECT 300000 + g, 200000 + g, 100000 + (g - 1) % 10000 + 1, 'Invite ' || g
FROM generate_series(1, 1000) g;

INSERT INTO group_links (parent_id, child_id, initiator_id, parent_approved,
                         child_approved)
SELECT 200000 + i, 200000 + i + 1, 200000 + i, true, true
FROM generate_series(1, 999, 2) i;

INSERT INTO media (id, title)
SELECT 's' || i, 'Media ' || i FROM generate_series(1, 10000) i;

INSERT INTO episodes (media_id, season, episode, absolute, title)
SELECT 's' || m, 1, e, e, 'Ep ' || e
FROM generate_series(1, 10000) m, generate_series(1, 12) e;

INSERT INTO torrents (id, info_hash, title, media_id, uploader_id, seeders,
                      leechers, completed, filesize)
SELECT 1000000 + i, decode(lpad(to_hex(1000000 + i), 40, '0'), 'hex'),
       'Torrent ' || i, 's' || (i % 10000 + 1), 100000 + (i % 10000) + 1,
       i % 50, i % 7, i % 300, i * 1000
FROM generate_series(1, 100000) i;

INSERT INTO torrent_episodes (torrent_id, episode_id)
SELECT t.id, e.id
FROM torrents t
JOIN episodes e ON e.media_id = t.media_id AND e.episode = t.id % 12 + 1;

INSERT INTO torrent_groups (torrent_id, group_id, is_primary)
SELECT 1000000 + i, 200000 + (i % 1000) + 1, true
FROM generate_series(1, 100000) i;

INSERT INTO torrent_contributors (torrent_id, group_id, user_id)
SELECT tg.torrent_id, tg.group_id, gm.user_id
FROM torrent_groups tg
JOIN group_members gm ON gm.group_id = tg.group_id AND gm.leader;

INSERT INTO notifications (user_id, data)
SELECT 100000 + (i % 10000) + 1, 'note ' || i
FROM generate_series(1, 100000) i;

INSERT INTO peers (torrent_id, user_id, peer_id, ip, port, seeder)
SELECT 1000000 + (i * 37 % 100000) + 1, 100000 + (i % 10000) + 1,
       convert_to(lpad(i::text, 20, '-'), 'UTF8'), '10.0.0.1', 6881,
       i % 3 > 0
FROM generate_series(1, 100000) i
ON CONFLICT DO NOTHING;

VACUUM ANALYZE;
