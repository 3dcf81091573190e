-- 009_tracker_batch: tracker_apply_batch, second version (same signature
-- and contract as in 002_tracker).  Changes: a small ANALYZE sample of the
-- scratch table; rows without a well-formed peer id are skipped and NULL
-- counters count as 0, so that no batch can fail forever and block the
-- tracker's journal.

-- tracker_apply_batch: apply one flushed journal batch, exactly once.
--
-- Row i of the arrays is one announce's delta.  up/down are credited
-- (multipliers already applied by the tracker: nothing is multiplied here),
-- raw_up/raw_down are the client's own growth.  p_peer holds 40-hex peer
-- ids, p_at unix seconds, p_event 0 none, 1 completed, 2 started, 3 stopped.
-- Returns the number of rows applied, or -1 when p_batch was applied before
-- (a retried flush).  Rows of users or torrents deleted since the announce
-- are skipped rather than failing the batch forever.
--
-- Set-based: the arrays are unnested once (the row number keeps the
-- announce order for "last row wins"); nothing loops per row.
CREATE OR REPLACE FUNCTION tracker_apply_batch(
    p_batch bigint, p_user bigint[], p_torrent bigint[], p_peer text[],
    p_ip text[], p_port int[], p_up bigint[], p_down bigint[],
    p_raw_up bigint[], p_raw_down bigint[], p_up_time int[],
    p_down_time int[], p_left bigint[], p_event smallint[],
    p_seeders int[], p_leechers int[], p_at bigint[])
RETURNS int
LANGUAGE plpgsql
SET work_mem = '64MB'   -- sorts and hashes of 100k rows stay in memory
AS $$
DECLARE
    n       int := coalesce(cardinality(p_user), 0);
    applied int;
BEGIN
    IF p_batch IS NULL THEN
        RAISE invalid_parameter_value USING MESSAGE = 'batch id is null';
    END IF;

    IF coalesce(cardinality(p_torrent), 0) <> n
       OR coalesce(cardinality(p_peer), 0) <> n
       OR coalesce(cardinality(p_ip), 0) <> n
       OR coalesce(cardinality(p_port), 0) <> n
       OR coalesce(cardinality(p_up), 0) <> n
       OR coalesce(cardinality(p_down), 0) <> n
       OR coalesce(cardinality(p_raw_up), 0) <> n
       OR coalesce(cardinality(p_raw_down), 0) <> n
       OR coalesce(cardinality(p_up_time), 0) <> n
       OR coalesce(cardinality(p_down_time), 0) <> n
       OR coalesce(cardinality(p_left), 0) <> n
       OR coalesce(cardinality(p_event), 0) <> n
       OR coalesce(cardinality(p_seeders), 0) <> n
       OR coalesce(cardinality(p_leechers), 0) <> n
       OR coalesce(cardinality(p_at), 0) <> n
    THEN
        RAISE invalid_parameter_value USING
            MESSAGE = 'tracker_apply_batch: arrays differ in length';
    END IF;

    -- the batch id claims the batch; a concurrent duplicate waits here for
    -- the first one's commit and then sees the conflict
    INSERT INTO tracker_batches (batch_id, rows) VALUES (p_batch, 0)
    ON CONFLICT (batch_id) DO NOTHING;
    IF NOT FOUND THEN
        RETURN -1;
    END IF;

    IF n = 0 THEN
        RETURN 0;
    END IF;

    -- The arrays are unnested once into a session-local scratch table
    -- (emptied at commit, and here in case of two calls in one
    -- transaction) that one statement then reads.  Only this INSERT sees
    -- the arrays: in the big statement, a custom plan would carry all of
    -- them as constants, copied for every part of it.
    IF to_regclass('pg_temp.tracker_delta') IS NULL THEN
        CREATE TEMP TABLE tracker_delta (
            i int, user_id bigint, torrent_id bigint, peer_id bytea,
            ip inet, port int, up bigint, down bigint, raw_up bigint,
            raw_down bigint, up_time bigint, down_time bigint, lft bigint,
            event smallint, seeders int, leechers int, at bigint
        ) ON COMMIT DELETE ROWS;
        -- ANALYZE below: a small sample, of the grouping columns only
        ALTER TABLE tracker_delta
            ALTER i SET STATISTICS 0, ALTER peer_id SET STATISTICS 0,
            ALTER ip SET STATISTICS 0, ALTER port SET STATISTICS 0,
            ALTER up SET STATISTICS 0, ALTER down SET STATISTICS 0,
            ALTER raw_up SET STATISTICS 0, ALTER raw_down SET STATISTICS 0,
            ALTER up_time SET STATISTICS 0, ALTER down_time SET STATISTICS 0,
            ALTER lft SET STATISTICS 0, ALTER seeders SET STATISTICS 0,
            ALTER leechers SET STATISTICS 0, ALTER at SET STATISTICS 0,
            ALTER user_id SET STATISTICS 10,
            ALTER torrent_id SET STATISTICS 10,
            ALTER event SET STATISTICS 10;
    ELSE
        TRUNCATE tracker_delta;
    END IF;

    -- unnest() in the select list walks the arrays in lockstep, ten times
    -- faster than unnest(a, b, ...) in FROM, which first copies every
    -- array into a tuplestore.  Rows of users or torrents that are gone,
    -- and rows without a well-formed peer id, are left out (a batch that
    -- can never apply would block the tracker's journal); NULL counters
    -- count as 0, ip '' is unknown.
    INSERT INTO tracker_delta
    SELECT x.i, x.user_id, x.torrent_id, decode(x.peer, 'hex'),
           nullif(x.ip, '')::inet, x.port, coalesce(x.up, 0),
           coalesce(x.down, 0), coalesce(x.raw_up, 0),
           coalesce(x.raw_down, 0), coalesce(x.up_time, 0),
           coalesce(x.down_time, 0), coalesce(x.lft, 0),
           coalesce(x.event, 0), coalesce(x.seeders, 0),
           coalesce(x.leechers, 0),
           coalesce(x.at, extract(epoch FROM now())::bigint)
    FROM (SELECT generate_series(1, n) AS i,
                 unnest(p_user) AS user_id, unnest(p_torrent) AS torrent_id,
                 unnest(p_peer) AS peer, unnest(p_ip) AS ip,
                 unnest(p_port) AS port, unnest(p_up) AS up,
                 unnest(p_down) AS down, unnest(p_raw_up) AS raw_up,
                 unnest(p_raw_down) AS raw_down,
                 unnest(p_up_time) AS up_time,
                 unnest(p_down_time) AS down_time,
                 unnest(p_left) AS lft, unnest(p_event) AS event,
                 unnest(p_seeders) AS seeders,
                 unnest(p_leechers) AS leechers, unnest(p_at) AS at) x
    WHERE x.peer ~ '^[0-9a-fA-F]{40}$'
      AND EXISTS (SELECT 1 FROM users u WHERE u.id = x.user_id)
      AND EXISTS (SELECT 1 FROM torrents t WHERE t.id = x.torrent_id);
    GET DIAGNOSTICS applied = ROW_COUNT;

    UPDATE tracker_batches SET rows = applied WHERE batch_id = p_batch;
    IF applied = 0 THEN
        RETURN 0;
    END IF;

    -- statistics of this batch: the statement below is then planned for
    -- its size (a plan cached from a 10-row batch would nest loops over
    -- 100k rows)
    ANALYZE tracker_delta;

    -- Then one statement for the totals (each table written by one part,
    -- as data-modifying CTEs require), and two for peers.
    WITH
    d AS NOT MATERIALIZED (SELECT * FROM tracker_delta),
    -- completed: once per (user, torrent) ever, decided by snatches
    new_snatch AS (
        INSERT INTO snatches AS s (user_id, torrent_id, completed_at)
        SELECT user_id, torrent_id, to_timestamp(min(at))
        FROM d WHERE event = 1
        GROUP BY user_id, torrent_id
        ON CONFLICT (user_id, torrent_id) DO NOTHING
        RETURNING s.user_id, s.torrent_id, s.completed_at
    ),
    per_pair AS (
        -- sum(bigint) is numeric: back to bigint before anything else
        -- adds them up
        SELECT user_id, torrent_id,
               sum(up)::bigint AS up, sum(down)::bigint AS down,
               sum(raw_up)::bigint AS raw_up,
               sum(raw_down)::bigint AS raw_down,
               sum(up_time)::bigint AS up_time,
               sum(down_time)::bigint AS down_time,
               to_timestamp(min(at)) AS first_at,
               to_timestamp(max(at)) AS last_at
        FROM d
        GROUP BY user_id, torrent_id
    ),
    ut AS (
        INSERT INTO user_torrents AS u
            (user_id, torrent_id, uploaded, downloaded, raw_uploaded,
             raw_downloaded, completed, up_time, down_time, created_at,
             updated_at, last_completed)
        SELECT p.user_id, p.torrent_id, p.up, p.down, p.raw_up, p.raw_down,
               (ns.user_id IS NOT NULL)::int, p.up_time, p.down_time,
               p.first_at, p.last_at, ns.completed_at
        FROM per_pair p
        LEFT JOIN new_snatch ns USING (user_id, torrent_id)
        ORDER BY p.user_id, p.torrent_id
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
    ),
    us AS (
        UPDATE users SET uploaded = users.uploaded + s.up,
                         downloaded = users.downloaded + s.down
        FROM (SELECT user_id, sum(up)::bigint AS up,
                     sum(down)::bigint AS down
              FROM per_pair GROUP BY user_id) s
        WHERE users.id = s.user_id AND (s.up <> 0 OR s.down <> 0)
    ),
    last_t AS (
        SELECT DISTINCT ON (torrent_id) torrent_id, seeders, leechers, at
        FROM d
        ORDER BY torrent_id, i DESC
    ),
    snatched AS (
        SELECT torrent_id, count(*) AS n FROM new_snatch GROUP BY torrent_id
    )
    UPDATE torrents t SET
        seeders = l.seeders,
        leechers = l.leechers,
        completed = t.completed + coalesce(sn.n, 0),
        stats_updated_at = to_timestamp(l.at)
    FROM last_t l LEFT JOIN snatched sn USING (torrent_id)
    WHERE t.id = l.torrent_id;

    -- peers, one row per peer: its last announce decides (a stop deletes
    -- it).  A session begins at the peer's last started row or after its
    -- last stopped row; uploaded/downloaded are the session's running sums
    -- of raw deltas.  First the sessions that ended or restarted in this
    -- batch go, then every peer whose last row is not a stop adds its sums
    -- to its row (or, with no row left, starts one).
    DELETE FROM peers p
    USING (SELECT DISTINCT torrent_id, user_id, peer_id
           FROM tracker_delta WHERE event IN (2, 3)) k
    WHERE p.torrent_id = k.torrent_id AND p.user_id = k.user_id
      AND p.peer_id = k.peer_id;

    WITH w AS (
        SELECT d.*, row_number() OVER k AS rn,
               coalesce(max(CASE d.event WHEN 2 THEN d.i WHEN 3 THEN d.i + 1
                            END) OVER k_all, 0) AS start_i
        FROM tracker_delta d
        WINDOW k AS (PARTITION BY torrent_id, user_id, peer_id
                     ORDER BY i DESC),
               k_all AS (k ROWS BETWEEN UNBOUNDED PRECEDING
                                AND UNBOUNDED FOLLOWING)
    ),
    pk AS (
        SELECT w.*,
               (sum(CASE WHEN i >= start_i THEN raw_up ELSE 0 END)
                   OVER k_all)::bigint AS s_up,
               (sum(CASE WHEN i >= start_i THEN raw_down ELSE 0 END)
                   OVER k_all)::bigint AS s_down,
               min(CASE WHEN i >= start_i THEN at END) OVER k_all AS s_first
        FROM w
        WINDOW k_all AS (PARTITION BY torrent_id, user_id, peer_id
                         ORDER BY i DESC ROWS BETWEEN UNBOUNDED PRECEDING
                                              AND UNBOUNDED FOLLOWING)
    )
    INSERT INTO peers AS p
        (torrent_id, user_id, peer_id, ip, port, uploaded, downloaded,
         "left", seeder, first_seen, last_seen)
    SELECT torrent_id, user_id, peer_id, ip, port, s_up, s_down, lft,
           lft = 0, to_timestamp(s_first), to_timestamp(at)
    FROM pk
    WHERE rn = 1 AND event <> 3
    ORDER BY torrent_id, user_id, peer_id
    ON CONFLICT (torrent_id, user_id, peer_id) DO UPDATE SET
        ip = excluded.ip,
        port = excluded.port,
        uploaded = p.uploaded + excluded.uploaded,
        downloaded = p.downloaded + excluded.downloaded,
        "left" = excluded."left",
        seeder = excluded.seeder,
        last_seen = excluded.last_seen;

    RETURN applied;
END
$$;
