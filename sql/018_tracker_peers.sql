-- 018_tracker_peers: the flush in two statements (bench/flush.sh; README
-- "Database").
--
-- The peers list (what /users/@me/peers shows) is not accounting: the
-- tracker now sends each peer's own counters as the client reported them
-- (its session's uploaded/downloaded), so writing a peer row is idempotent
-- and needs no batch id.  The flusher sends the totals
-- (tracker_flush_totals, exactly once by batch id) and the peers
-- (tracker_flush_peers) on two connections at once; a batch is done when
-- both succeeded, and a retry sends both again (the totals then answer -1).
-- It also writes a peer's row only when something a reader would notice
-- changed (a new session, a stop, completion, seeder/leecher) or once a
-- minute (tracker_private_zone peer_refresh=), instead of on every
-- announce of a busy peer.
--
-- user_torrents and snatches lose their foreign keys: a new pair's row cost
-- two lookups with row locks by the foreign key triggers (~75% of a batch
-- of new pairs); the flush now tests existence for its new rows in one
-- pass, and statement triggers delete the rows of deleted users and
-- torrents, as for peers.

-- tracker_apply_flush() keeps its contract (peers' counters are this
-- batch's growth, added to their rows): it calls both functions, the peers
-- in the adding mode, only when the totals were applied.

-- user_torrents and snatches without foreign keys ---------------------------

ALTER TABLE user_torrents DROP CONSTRAINT user_torrents_user_id_fkey,
                          DROP CONSTRAINT user_torrents_torrent_id_fkey;
ALTER TABLE snatches DROP CONSTRAINT snatches_user_id_fkey,
                     DROP CONSTRAINT snatches_torrent_id_fkey;

-- what ON DELETE CASCADE did, once per statement
CREATE FUNCTION tracker_stats_cascade() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'users' THEN
        DELETE FROM user_torrents x USING gone g WHERE x.user_id = g.id;
        DELETE FROM snatches x USING gone g WHERE x.user_id = g.id;
    ELSE
        DELETE FROM user_torrents x USING gone g WHERE x.torrent_id = g.id;
        DELETE FROM snatches x USING gone g WHERE x.torrent_id = g.id;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER tracker_stats_cascade AFTER DELETE ON users
    REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION tracker_stats_cascade();
CREATE TRIGGER tracker_stats_cascade AFTER DELETE ON torrents
    REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION tracker_stats_cascade();

-- tracker_flush_totals: the totals of one folded batch, exactly once.  The
-- arrays are those of tracker_apply_flush() (one row per (user, torrent)).
-- Returns the announces applied, or -1 when p_batch was applied before.
CREATE FUNCTION tracker_flush_totals(
    p_batch bigint,
    p_user bigint[], p_torrent bigint[], p_rows int[],
    p_up bigint[], p_down bigint[], p_raw_up bigint[], p_raw_down bigint[],
    p_up_time bigint[], p_down_time bigint[], p_first bigint[],
    p_last bigint[], p_completed bigint[], p_seeders int[],
    p_leechers int[], p_seq int[])
RETURNS int
LANGUAGE plpgsql
SET work_mem = '64MB'
SET enable_memoize = off
SET plan_cache_mode = force_custom_plan
AS $$
DECLARE
    n       int := coalesce(cardinality(p_user), 0);
    applied int;
BEGIN
    IF p_batch IS NULL THEN
        RAISE invalid_parameter_value USING MESSAGE = 'batch id is null';
    END IF;

    IF coalesce(cardinality(p_torrent), 0) <> n
       OR coalesce(cardinality(p_rows), 0) <> n
       OR coalesce(cardinality(p_up), 0) <> n
       OR coalesce(cardinality(p_down), 0) <> n
       OR coalesce(cardinality(p_raw_up), 0) <> n
       OR coalesce(cardinality(p_raw_down), 0) <> n
       OR coalesce(cardinality(p_up_time), 0) <> n
       OR coalesce(cardinality(p_down_time), 0) <> n
       OR coalesce(cardinality(p_first), 0) <> n
       OR coalesce(cardinality(p_last), 0) <> n
       OR coalesce(cardinality(p_completed), 0) <> n
       OR coalesce(cardinality(p_seeders), 0) <> n
       OR coalesce(cardinality(p_leechers), 0) <> n
       OR coalesce(cardinality(p_seq), 0) <> n
    THEN
        RAISE invalid_parameter_value USING
            MESSAGE = 'tracker_flush_totals: arrays differ in length';
    END IF;

    -- the batch id claims the batch; a concurrent duplicate waits here for
    -- the first one's commit and then sees the conflict
    INSERT INTO tracker_batches (batch_id, rows) VALUES (p_batch, 0)
    ON CONFLICT (batch_id) DO NOTHING;
    IF NOT FOUND THEN
        RETURN -1;
    END IF;

    -- Each table written by one part of the statement, as data-modifying
    -- CTEs require.  unnest() in the select list walks the arrays in
    -- lockstep (unnest(a, b, ...) in FROM copies them first).  Pairs of
    -- users or torrents deleted since the announce are not written: their
    -- rows are gone (no update) and only new rows are tested (no insert).
    WITH
    pair AS MATERIALIZED (
        SELECT unnest(p_user) AS user_id, unnest(p_torrent) AS torrent_id,
               unnest(p_rows) AS rows, unnest(p_up) AS up,
               unnest(p_down) AS down, unnest(p_raw_up) AS raw_up,
               unnest(p_raw_down) AS raw_down, unnest(p_up_time) AS up_time,
               unnest(p_down_time) AS down_time, unnest(p_first) AS first_at,
               unnest(p_last) AS last_at, unnest(p_completed) AS completed,
               unnest(p_seeders) AS seeders, unnest(p_leechers) AS leechers,
               unnest(p_seq) AS seq
    ),
    -- completed: once per (user, torrent) ever, decided by snatches
    new_snatch AS MATERIALIZED (
        INSERT INTO snatches AS s (user_id, torrent_id, completed_at)
        SELECT p.user_id, p.torrent_id, to_timestamp(p.completed)
        FROM pair p
        WHERE p.completed > 0
          AND EXISTS (SELECT 1 FROM users u WHERE u.id = p.user_id)
          AND EXISTS (SELECT 1 FROM torrents t WHERE t.id = p.torrent_id)
        ON CONFLICT (user_id, torrent_id) DO NOTHING
        RETURNING s.user_id, s.torrent_id, s.completed_at
    ),
    totals AS MATERIALIZED (
        SELECT p.*, ns.completed_at
        FROM pair p LEFT JOIN new_snatch ns USING (user_id, torrent_id)
    ),
    -- the pairs seen before: their rows, through the primary key
    old_pair AS (
        UPDATE user_torrents u SET
            uploaded = u.uploaded + coalesce(p.up, 0),
            downloaded = u.downloaded + coalesce(p.down, 0),
            raw_uploaded = u.raw_uploaded + coalesce(p.raw_up, 0),
            raw_downloaded = u.raw_downloaded + coalesce(p.raw_down, 0),
            up_time = u.up_time + coalesce(p.up_time, 0),
            down_time = u.down_time + coalesce(p.down_time, 0),
            completed = CASE WHEN p.completed_at IS NULL THEN u.completed
                             ELSE 1 END,
            last_completed = coalesce(p.completed_at, u.last_completed),
            updated_at = greatest(u.updated_at, to_timestamp(p.last_at))
        FROM totals p
        WHERE u.user_id = p.user_id AND u.torrent_id = p.torrent_id
        RETURNING u.user_id, u.torrent_id, p.rows
    ),
    -- the others: a row each, if user and torrent still exist (tested in
    -- one pass here, rather than by a foreign key's query per row)
    new_pair AS (
        INSERT INTO user_torrents AS u
            (user_id, torrent_id, uploaded, downloaded, raw_uploaded,
             raw_downloaded, completed, up_time, down_time, created_at,
             updated_at, last_completed)
        SELECT p.user_id, p.torrent_id, coalesce(p.up, 0),
               coalesce(p.down, 0), coalesce(p.raw_up, 0),
               coalesce(p.raw_down, 0), (p.completed_at IS NOT NULL)::int,
               coalesce(p.up_time, 0), coalesce(p.down_time, 0),
               to_timestamp(p.first_at), to_timestamp(p.last_at),
               p.completed_at
        FROM totals p
        WHERE NOT EXISTS (SELECT 1 FROM old_pair o
                          WHERE o.user_id = p.user_id
                            AND o.torrent_id = p.torrent_id)
          AND EXISTS (SELECT 1 FROM users u WHERE u.id = p.user_id)
          AND EXISTS (SELECT 1 FROM torrents t WHERE t.id = p.torrent_id)
        ORDER BY p.user_id, p.torrent_id
        -- (a row another writer added meanwhile)
        ON CONFLICT (user_id, torrent_id) DO UPDATE SET
            uploaded = u.uploaded + excluded.uploaded,
            downloaded = u.downloaded + excluded.downloaded,
            raw_uploaded = u.raw_uploaded + excluded.raw_uploaded,
            raw_downloaded = u.raw_downloaded + excluded.raw_downloaded,
            up_time = u.up_time + excluded.up_time,
            down_time = u.down_time + excluded.down_time,
            completed = greatest(u.completed, excluded.completed),
            last_completed = coalesce(excluded.last_completed,
                                      u.last_completed),
            updated_at = greatest(u.updated_at, excluded.updated_at)
        RETURNING u.user_id, u.torrent_id
    ),
    -- (rows of deleted users and torrents match nothing)
    us AS (
        UPDATE users SET uploaded = users.uploaded + s.up,
                         downloaded = users.downloaded + s.down
        FROM (SELECT user_id, tracker_sum(coalesce(up, 0)) AS up,
                     tracker_sum(coalesce(down, 0)) AS down
              FROM pair GROUP BY user_id) s
        WHERE users.id = s.user_id AND (s.up <> 0 OR s.down <> 0)
    ),
    -- the counts of each torrent's latest announce: its position in the
    -- high half, the count in the low half
    ts AS (
        UPDATE torrents t SET
            seeders = (l.seeders & 2147483647)::int,
            leechers = (l.leechers & 2147483647)::int,
            completed = t.completed + coalesce(sn.n, 0),
            stats_updated_at = to_timestamp(l.last_at)
        FROM (SELECT torrent_id,
                     max(seq::bigint << 32
                         | (coalesce(seeders, 0) & 2147483647)) AS seeders,
                     max(seq::bigint << 32
                         | (coalesce(leechers, 0) & 2147483647))
                         AS leechers,
                     max(last_at) AS last_at
              FROM pair GROUP BY torrent_id) l
        LEFT JOIN (SELECT torrent_id, count(*) AS n
                   FROM new_snatch GROUP BY torrent_id) sn USING (torrent_id)
        WHERE t.id = l.torrent_id
          -- A (wide) torrent row is rewritten for a completion at once;
          -- for changed counts when it was last written 10 s ago or more
          -- (a busy torrent's counts change on every flush, and its next
          -- announces bring the newer ones); for unchanged counts once a
          -- minute, only to say it is alive, well inside
          -- tracker_expire_stats()'s timeout.
          AND (sn.n IS NOT NULL
               OR t.stats_updated_at IS NULL
               OR t.stats_updated_at
                  < to_timestamp(l.last_at) - interval '60 seconds'
               OR ((t.seeders IS DISTINCT FROM
                        (l.seeders & 2147483647)::int
                    OR t.leechers IS DISTINCT FROM
                        (l.leechers & 2147483647)::int)
                   AND t.stats_updated_at
                       <= to_timestamp(l.last_at) - interval '10 seconds'))
    )
    SELECT coalesce((SELECT sum(rows) FROM old_pair), 0)
           + coalesce((SELECT sum(p.rows) FROM new_pair w
                       JOIN pair p USING (user_id, torrent_id)), 0)
    INTO applied;

    UPDATE tracker_batches SET rows = applied WHERE batch_id = p_batch;

    RETURN applied;
END
$$;

-- tracker_flush_peers: the peers of one folded batch (arrays as in
-- tracker_apply_flush()).  p_add false: p_peer_up/p_peer_down are the
-- counters the client reported last (idempotent: a retry writes the same
-- rows); true: they are the growth in this batch, added to rows whose
-- session goes on.  Rows of users or torrents deleted meanwhile are not
-- started.  Returns the rows written or deleted.
CREATE FUNCTION tracker_flush_peers(
    p_add boolean,
    p_peer_torrent bigint[], p_peer_user bigint[], p_peer bytea[],
    p_ip text[], p_port int[], p_peer_up bigint[], p_peer_down bigint[],
    p_left bigint[], p_since bigint[], p_at bigint[], p_restarted int,
    p_stop_torrent bigint[], p_stop_user bigint[], p_stop_peer bytea[])
RETURNS int
LANGUAGE plpgsql
SET work_mem = '64MB'
SET enable_memoize = off
SET plan_cache_mode = force_custom_plan
-- each peer row is found through the primary key: a hash or merge join
-- would read all of peers (many more rows than a batch) on every flush
SET enable_hashjoin = off
SET enable_mergejoin = off
AS $$
DECLARE
    np      int := coalesce(cardinality(p_peer), 0);
    ns      int := coalesce(cardinality(p_stop_peer), 0);
    nr      int := coalesce(p_restarted, 0);
    updated int;
    written int := 0;
BEGIN
    IF coalesce(cardinality(p_peer_torrent), 0) <> np
       OR coalesce(cardinality(p_peer_user), 0) <> np
       OR coalesce(cardinality(p_ip), 0) <> np
       OR coalesce(cardinality(p_port), 0) <> np
       OR coalesce(cardinality(p_peer_up), 0) <> np
       OR coalesce(cardinality(p_peer_down), 0) <> np
       OR coalesce(cardinality(p_left), 0) <> np
       OR coalesce(cardinality(p_since), 0) <> np
       OR coalesce(cardinality(p_at), 0) <> np
       OR coalesce(p_restarted, 0) NOT BETWEEN 0 AND np
       OR coalesce(cardinality(p_stop_torrent), 0) <> ns
       OR coalesce(cardinality(p_stop_user), 0) <> ns
    THEN
        RAISE invalid_parameter_value USING
            MESSAGE = 'tracker_flush_peers: arrays differ in length';
    END IF;

    -- (each part in key order, as the tracker sends it: neighbouring
    -- lookups share index and heap pages)
    -- Peers: the stopped ones go, the others update their row, or (no row
    -- yet, or a concurrent flush's row) start one.
    IF ns > 0 THEN
        DELETE FROM peers p
        USING (SELECT unnest(p_stop_torrent) AS torrent_id,
                      unnest(p_stop_user) AS user_id,
                      unnest(p_stop_peer) AS peer_id) s
        WHERE p.torrent_id = s.torrent_id AND p.user_id = s.user_id
          AND p.peer_id = s.peer_id;
        GET DIAGNOSTICS updated = ROW_COUNT;
        written := written + updated;
    END IF;

    -- sessions that began: the row is written anew
    IF nr > 0 THEN
        INSERT INTO peers AS p
            (torrent_id, user_id, peer_id, ip, port, uploaded, downloaded,
             "left", seeder, first_seen, last_seen)
        SELECT x.torrent_id, x.user_id, x.peer_id, nullif(x.ip, '')::inet,
               x.port, coalesce(x.up, 0), coalesce(x.down, 0),
               coalesce(x.lft, 0), coalesce(x.lft, 0) = 0,
               to_timestamp(x.since), to_timestamp(x.at)
        FROM (SELECT unnest(p_peer_torrent[1:nr]) AS torrent_id,
                     unnest(p_peer_user[1:nr]) AS user_id,
                     unnest(p_peer[1:nr]) AS peer_id,
                     unnest(p_ip[1:nr]) AS ip, unnest(p_port[1:nr]) AS port,
                     unnest(p_peer_up[1:nr]) AS up,
                     unnest(p_peer_down[1:nr]) AS down,
                     unnest(p_left[1:nr]) AS lft,
                     unnest(p_since[1:nr]) AS since,
                     unnest(p_at[1:nr]) AS at) x
        WHERE octet_length(x.peer_id) = 20
          AND EXISTS (SELECT 1 FROM users u WHERE u.id = x.user_id)
          AND EXISTS (SELECT 1 FROM torrents t WHERE t.id = x.torrent_id)
        ON CONFLICT (torrent_id, user_id, peer_id) DO UPDATE SET
            ip = excluded.ip,
            port = excluded.port,
            uploaded = excluded.uploaded,
            downloaded = excluded.downloaded,
            "left" = excluded."left",
            seeder = excluded.seeder,
            first_seen = excluded.first_seen,
            last_seen = excluded.last_seen;
        GET DIAGNOSTICS updated = ROW_COUNT;
        written := written + updated;
    END IF;

    -- sessions that go on: a plain UPDATE (no insert attempt per row)
    IF np > nr THEN
        UPDATE peers p SET
            ip = nullif(x.ip, '')::inet,
            port = x.port,
            uploaded = CASE WHEN p_add THEN p.uploaded ELSE 0 END
                       + coalesce(x.up, 0),
            downloaded = CASE WHEN p_add THEN p.downloaded ELSE 0 END
                         + coalesce(x.down, 0),
            "left" = coalesce(x.lft, 0),
            seeder = coalesce(x.lft, 0) = 0,
            last_seen = to_timestamp(x.at)
        FROM (SELECT unnest(p_peer_torrent[nr + 1:]) AS torrent_id,
                     unnest(p_peer_user[nr + 1:]) AS user_id,
                     unnest(p_peer[nr + 1:]) AS peer_id,
                     unnest(p_ip[nr + 1:]) AS ip,
                     unnest(p_port[nr + 1:]) AS port,
                     unnest(p_peer_up[nr + 1:]) AS up,
                     unnest(p_peer_down[nr + 1:]) AS down,
                     unnest(p_left[nr + 1:]) AS lft,
                     unnest(p_at[nr + 1:]) AS at) x
        WHERE p.torrent_id = x.torrent_id AND p.user_id = x.user_id
          AND p.peer_id = x.peer_id;
        GET DIAGNOSTICS updated = ROW_COUNT;
        written := written + updated;

        -- rows gone meanwhile (expired, or emptied by a crash: peers is
        -- unlogged) start again from this session's part we have
        IF updated < np - nr THEN
            INSERT INTO peers AS p
                (torrent_id, user_id, peer_id, ip, port, uploaded,
                 downloaded, "left", seeder, first_seen, last_seen)
            SELECT x.torrent_id, x.user_id, x.peer_id,
                   nullif(x.ip, '')::inet, x.port, coalesce(x.up, 0),
                   coalesce(x.down, 0), coalesce(x.lft, 0),
                   coalesce(x.lft, 0) = 0, to_timestamp(x.since),
                   to_timestamp(x.at)
            FROM (SELECT unnest(p_peer_torrent[nr + 1:]) AS torrent_id,
                         unnest(p_peer_user[nr + 1:]) AS user_id,
                         unnest(p_peer[nr + 1:]) AS peer_id,
                         unnest(p_ip[nr + 1:]) AS ip,
                         unnest(p_port[nr + 1:]) AS port,
                         unnest(p_peer_up[nr + 1:]) AS up,
                         unnest(p_peer_down[nr + 1:]) AS down,
                         unnest(p_left[nr + 1:]) AS lft,
                         unnest(p_since[nr + 1:]) AS since,
                         unnest(p_at[nr + 1:]) AS at) x
            -- (the rows that are there: ON CONFLICT finds them in the
            -- index; an anti-join may scan the table once per row)
            WHERE octet_length(x.peer_id) = 20
              AND EXISTS (SELECT 1 FROM users u WHERE u.id = x.user_id)
              AND EXISTS (SELECT 1 FROM torrents t
                          WHERE t.id = x.torrent_id)
            ON CONFLICT (torrent_id, user_id, peer_id) DO NOTHING;
            GET DIAGNOSTICS updated = ROW_COUNT;
            written := written + updated;
        END IF;
    END IF;

    RETURN written;
END
$$;

-- tracker_apply_flush: the contract of 017, on the two functions above
CREATE OR REPLACE FUNCTION tracker_apply_flush(
    p_batch bigint,
    p_user bigint[], p_torrent bigint[], p_rows int[],
    p_up bigint[], p_down bigint[], p_raw_up bigint[], p_raw_down bigint[],
    p_up_time bigint[], p_down_time bigint[], p_first bigint[],
    p_last bigint[], p_completed bigint[], p_seeders int[],
    p_leechers int[], p_seq int[],
    p_peer_torrent bigint[], p_peer_user bigint[], p_peer bytea[],
    p_ip text[], p_port int[], p_peer_up bigint[], p_peer_down bigint[],
    p_left bigint[], p_since bigint[], p_at bigint[], p_restarted int,
    p_stop_torrent bigint[], p_stop_user bigint[], p_stop_peer bytea[])
RETURNS int
LANGUAGE plpgsql
AS $$
DECLARE
    applied int;
BEGIN
    applied := tracker_flush_totals(p_batch, p_user, p_torrent, p_rows,
        p_up, p_down, p_raw_up, p_raw_down, p_up_time, p_down_time,
        p_first, p_last, p_completed, p_seeders, p_leechers, p_seq);

    -- growth must not be added twice
    IF applied >= 0 THEN
        PERFORM tracker_flush_peers(true, p_peer_torrent, p_peer_user,
            p_peer, p_ip, p_port, p_peer_up, p_peer_down, p_left, p_since,
            p_at, p_restarted, p_stop_torrent, p_stop_user, p_stop_peer);
    END IF;

    RETURN applied;
END
$$;
