-- 002_tracker: the functions and triggers the tracker (src/) relies on.
-- CONTRACT: names, arguments and NOTIFY payloads are used verbatim by the C
-- side.

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
CREATE FUNCTION tracker_apply_batch(
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
    ELSE
        TRUNCATE tracker_delta;
    END IF;

    -- unnest() in the select list walks the arrays in lockstep, ten times
    -- faster than unnest(a, b, ...) in FROM, which first copies every
    -- array into a tuplestore.  Rows of users or torrents that are gone
    -- are left out; ip '' is unknown.
    INSERT INTO tracker_delta
    SELECT x.i, x.user_id, x.torrent_id, decode(x.peer, 'hex'),
           nullif(x.ip, '')::inet, x.port, x.up, x.down, x.raw_up,
           x.raw_down, x.up_time, x.down_time, x.lft, x.event, x.seeders,
           x.leechers, x.at
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
    WHERE EXISTS (SELECT 1 FROM users u WHERE u.id = x.user_id)
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

-- tracker_expire_stats: torrents not written back for p_timeout_seconds
-- show no peers, and peers not seen for as long are removed.  Returns the
-- number of torrents and peers changed.
CREATE FUNCTION tracker_expire_stats(p_timeout_seconds int) RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
    cutoff  timestamptz := now() - make_interval(secs => p_timeout_seconds);
    t       int;
    p       int;
BEGIN
    UPDATE torrents SET seeders = 0, leechers = 0
    WHERE stats_updated_at < cutoff AND (seeders <> 0 OR leechers <> 0);
    GET DIAGNOSTICS t = ROW_COUNT;

    DELETE FROM peers WHERE last_seen < cutoff;
    GET DIAGNOSTICS p = ROW_COUNT;

    RETURN t + p;
END
$$;

-- Applied batch ids only guard against a retried flush; a week is plenty.
CREATE FUNCTION tracker_prune_batches(p_keep interval DEFAULT '7 days')
RETURNS int
LANGUAGE sql AS $$
    WITH d AS (DELETE FROM tracker_batches WHERE applied_at < now() - p_keep
               RETURNING 1)
    SELECT count(*)::int FROM d
$$;

-- NOTIFY (channel tracker) -------------------------------------------------
-- The tracker's shared-memory caches drop the entry a payload names:
--   u:<torrent_key>   a user's passkey entry (the OLD key, so a reset key
--                     stops working; on INSERT the new key, so a negative
--                     entry for it goes away)
--   t:<info hash hex> a torrent entry, for each hash it answers to
--   e:                the site event multipliers

CREATE FUNCTION tracker_notify_user() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM pg_notify('tracker', 'u:' || NEW.torrent_key);
    ELSE
        PERFORM pg_notify('tracker', 'u:' || OLD.torrent_key);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER tracker_notify_user_ins
    AFTER INSERT ON users
    FOR EACH ROW EXECUTE FUNCTION tracker_notify_user();

-- only real changes: the flush updates users' totals all the time
CREATE TRIGGER tracker_notify_user_upd
    AFTER UPDATE OF torrent_key, disabled, can_leech ON users
    FOR EACH ROW
    WHEN (OLD.torrent_key IS DISTINCT FROM NEW.torrent_key
          OR OLD.disabled IS DISTINCT FROM NEW.disabled
          OR OLD.can_leech IS DISTINCT FROM NEW.can_leech)
    EXECUTE FUNCTION tracker_notify_user();

CREATE TRIGGER tracker_notify_user_del
    AFTER DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION tracker_notify_user();

-- every hash a torrent answers to: info_hash and, for v2, the truncated v2
-- hash (the same bytes for a v2-only torrent)
CREATE FUNCTION tracker_notify_hashes(h bytea, v2_trunc bytea) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('tracker', 't:' || encode(h, 'hex'));
    IF v2_trunc IS NOT NULL AND v2_trunc <> h THEN
        PERFORM pg_notify('tracker', 't:' || encode(v2_trunc, 'hex'));
    END IF;
END
$$;

CREATE FUNCTION tracker_notify_torrent() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- on UPDATE both the old and the new hashes: a changed hash must stop
    -- answering under the old one (pg_notify drops repeats itself)
    IF TG_OP <> 'INSERT' THEN
        PERFORM tracker_notify_hashes(OLD.info_hash, OLD.info_hash_v2_trunc);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        PERFORM tracker_notify_hashes(NEW.info_hash, NEW.info_hash_v2_trunc);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER tracker_notify_torrent_ins
    AFTER INSERT ON torrents
    FOR EACH ROW EXECUTE FUNCTION tracker_notify_torrent();

-- the flush writes seeders/leechers/completed back: no notification
CREATE TRIGGER tracker_notify_torrent_upd
    AFTER UPDATE OF info_hash, info_hash_v2, status, deleted, dl_percent,
                    ul_percent ON torrents
    FOR EACH ROW
    WHEN (OLD.info_hash IS DISTINCT FROM NEW.info_hash
          OR OLD.info_hash_v2 IS DISTINCT FROM NEW.info_hash_v2
          OR OLD.status IS DISTINCT FROM NEW.status
          OR OLD.deleted IS DISTINCT FROM NEW.deleted
          OR OLD.dl_percent IS DISTINCT FROM NEW.dl_percent
          OR OLD.ul_percent IS DISTINCT FROM NEW.ul_percent)
    EXECUTE FUNCTION tracker_notify_torrent();

CREATE TRIGGER tracker_notify_torrent_del
    AFTER DELETE ON torrents
    FOR EACH ROW EXECUTE FUNCTION tracker_notify_torrent();

CREATE FUNCTION tracker_notify_event() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('tracker', 'e:');
    RETURN NULL;
END
$$;

CREATE TRIGGER tracker_notify_event
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON site_events
    FOR EACH STATEMENT EXECUTE FUNCTION tracker_notify_event();
