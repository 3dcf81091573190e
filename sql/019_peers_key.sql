-- 019_peers_key: peers keyed by user first, one index instead of two.
--
-- Every reader looks peers up by user, or by user and torrent (the user's
-- peers list, "user_is_seeding", the seeding/leeching counts), and the
-- flush by the whole key: a primary key led by user_id serves them all,
-- and a new peer's row then costs one index insertion, not two.  Only
-- the (rare) hard delete of a torrent scans the table for its peers.
-- peers is UNLOGGED and small next to the other tables: rebuilt here.

ALTER TABLE peers DROP CONSTRAINT peers_pkey;
ALTER TABLE peers ADD PRIMARY KEY (user_id, torrent_id, peer_id);
DROP INDEX peers_user_id;
