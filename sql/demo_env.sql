-- The demo's ids for build/run/demo.env (make run), one NAME=value line
-- each, so that the README's curl lines run as they are.
SELECT name || '=' || value
  FROM (VALUES
    (1, 'DEMO_PASSKEY',
     (SELECT torrent_key FROM users WHERE username = 'demo')),
    (2, 'DEMO_TORRENT_ID',
     (SELECT torrent_id::text FROM comments
       GROUP BY torrent_id ORDER BY count(*) DESC, torrent_id LIMIT 1)),
    (3, 'DEMO_TORRENT_ID2',
     (SELECT max(id)::text FROM torrents WHERE status = 1)),
    (4, 'DEMO_MEDIA_ID',
     (SELECT media_id FROM torrents WHERE media_id IS NOT NULL
       GROUP BY media_id ORDER BY count(*) DESC, media_id LIMIT 1)),
    (5, 'DEMO_GROUP_ID',
     (SELECT group_id::text FROM group_members
       GROUP BY group_id ORDER BY count(*) DESC, group_id LIMIT 1)),
    (6, 'DEMO_INVITE_ID',
     (SELECT id::text FROM group_invites WHERE NOT used ORDER BY id LIMIT 1)),
    (7, 'DEMO_INVITE_KEY',
     (SELECT invite_key FROM group_invites WHERE NOT used
       ORDER BY id LIMIT 1))) AS v (n, name, value)
 WHERE value IS NOT NULL
 ORDER BY n;
