-- 017_tracker_flush: a cheaper flush (bench/flush.sh; README "Database").
--
-- * torrents.title_urlencoded was a stored generated column, and
--   PostgreSQL 15 computes every stored generated column again on every
--   UPDATE of the row: each flush's write of seeders/leechers ran the
--   percent-encoding of every active torrent's title.  It is now a plain
--   column that a trigger fills only when the title is written.
-- * The tracker now folds its batch before sending it (one row per (user,
--   torrent) with the sums, one row per peer with its last state) and
--   calls tracker_apply_flush(): the database only writes, once per row,
--   with no per-row grouping, sorting or windowing left to do.
-- * tracker_apply_batch() keeps its contract (one row per announce) for
--   scripts and tests: it folds the rows in SQL the same way and calls
--   tracker_apply_flush(), so both go through the same writes.

-- title_urlencoded: written with the title only ---------------------------

ALTER TABLE torrents ALTER COLUMN title_urlencoded DROP EXPRESSION;

CREATE FUNCTION torrents_title_urlencoded() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.title_urlencoded := api_search_urlencode(NEW.title);
    RETURN NEW;
END
$$;

CREATE TRIGGER torrents_title_urlencoded
    BEFORE INSERT OR UPDATE OF title, title_urlencoded ON torrents
    FOR EACH ROW EXECUTE FUNCTION torrents_title_urlencoded();

-- bigint sums in bigint (sum(bigint) is numeric, several times slower); an
-- overflow raises, as the casts back to bigint did
CREATE AGGREGATE tracker_sum(bigint) (
    SFUNC = int8pl,
    STYPE = bigint,
    INITCOND = '0'
);

-- tracker_apply_flush: apply one folded batch of the tracker's journal,
-- exactly once.  Returns the number of announces it holds (sum of p_rows
-- over the pairs applied), or -1 when p_batch was applied before.
--
-- Pairs, one row per (user, torrent): p_rows announces; up/down credited
-- (multipliers applied by the tracker), raw_* the client's own growth,
-- up_time/down_time seconds; p_first/p_last unix seconds of the first and
-- last announce; p_completed the time of the first completed event, 0 if
-- none (counted once per pair ever, through snatches); p_seeders/
-- p_leechers the swarm's counts at the pair's last announce and p_seq that
-- announce's position in the batch (the torrent takes the latest).
--
-- Peers, one row per peer that did not end with a stop: its last
-- address, port and left, p_at its last announce; p_peer_up/p_peer_down
-- the raw growth of its current session.  The first p_restarted of them
-- began their session in this batch (or are new to the tracker): their
-- row is written anew (first_seen = p_since).  The others add to their
-- row.  Peers whose last announce stopped are deleted (p_stop_*).
--
-- Rows of users or torrents deleted since the announce are skipped: a
-- batch that can never apply would block the tracker's journal.
CREATE FUNCTION tracker_apply_flush(
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
SET work_mem = '64MB'   -- hashes and sorts of 100k rows stay in memory
-- a batch's keys are all distinct: a memo of index lookups only costs
SET enable_memoize = off
-- planned with the arrays' real lengths, never from a small batch's plan
SET plan_cache_mode = force_custom_plan
AS $$
DECLARE
    n       int := coalesce(cardinality(p_user), 0);
    np      int := coalesce(cardinality(p_peer), 0);
    ns      int := coalesce(cardinality(p_stop_peer), 0);
    nr      int := coalesce(p_restarted, 0);
    applied int;
    updated int;
    hashjoin text;
    mergejoin text;
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
       OR coalesce(cardinality(p_peer_torrent), 0) <> np
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
            MESSAGE = 'tracker_apply_flush: arrays differ in length';
    END IF;

    -- the batch id claims the batch; a concurrent duplicate waits here for
    -- the first one's commit and then sees the conflict
    INSERT INTO tracker_batches (batch_id, rows) VALUES (p_batch, 0)
    ON CONFLICT (batch_id) DO NOTHING;
    IF NOT FOUND THEN
        RETURN -1;
    END IF;

    -- Totals: each table written by one part of the statement, as
    -- data-modifying CTEs require.  unnest() in the select list walks the
    -- arrays in lockstep (unnest(a, b, ...) in FROM copies them first).
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
    ok AS MATERIALIZED (
        SELECT p.* FROM pair p
        WHERE EXISTS (SELECT 1 FROM users u WHERE u.id = p.user_id)
          AND EXISTS (SELECT 1 FROM torrents t WHERE t.id = p.torrent_id)
    ),
    -- completed: once per (user, torrent) ever, decided by snatches
    new_snatch AS (
        INSERT INTO snatches AS s (user_id, torrent_id, completed_at)
        SELECT user_id, torrent_id, to_timestamp(completed)
        FROM ok WHERE completed > 0
        ON CONFLICT (user_id, torrent_id) DO NOTHING
        RETURNING s.user_id, s.torrent_id, s.completed_at
    ),
    ut AS (
        INSERT INTO user_torrents AS u
            (user_id, torrent_id, uploaded, downloaded, raw_uploaded,
             raw_downloaded, completed, up_time, down_time, created_at,
             updated_at, last_completed)
        SELECT p.user_id, p.torrent_id, coalesce(p.up, 0),
               coalesce(p.down, 0), coalesce(p.raw_up, 0),
               coalesce(p.raw_down, 0), (ns.user_id IS NOT NULL)::int,
               coalesce(p.up_time, 0), coalesce(p.down_time, 0),
               to_timestamp(p.first_at), to_timestamp(p.last_at),
               ns.completed_at
        FROM ok p
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
        FROM (SELECT user_id, tracker_sum(coalesce(up, 0)) AS up,
                     tracker_sum(coalesce(down, 0)) AS down
              FROM ok GROUP BY user_id) s
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
              FROM ok GROUP BY torrent_id) l
        LEFT JOIN (SELECT torrent_id, count(*) AS n
                   FROM new_snatch GROUP BY torrent_id) sn USING (torrent_id)
        WHERE t.id = l.torrent_id
          -- most torrents' counts are the same two seconds later: their
          -- (wide) rows are rewritten only to say they are alive, once a
          -- minute, well inside tracker_expire_stats()'s timeout
          AND (t.seeders IS DISTINCT FROM (l.seeders & 2147483647)::int
               OR t.leechers IS DISTINCT FROM (l.leechers & 2147483647)::int
               OR sn.n IS NOT NULL
               OR t.stats_updated_at IS NULL
               OR t.stats_updated_at
                  < to_timestamp(l.last_at) - interval '60 seconds')
    )
    SELECT coalesce(sum(rows), 0) INTO applied FROM ok;

    UPDATE tracker_batches SET rows = applied WHERE batch_id = p_batch;

    -- Peers: the stopped ones go, the others update their row, or (no row
    -- yet, or a concurrent flush's row) start one.
    IF ns > 0 THEN
        DELETE FROM peers p
        USING (SELECT unnest(p_stop_torrent) AS torrent_id,
                      unnest(p_stop_user) AS user_id,
                      unnest(p_stop_peer) AS peer_id) s
        WHERE p.torrent_id = s.torrent_id AND p.user_id = s.user_id
          AND p.peer_id = s.peer_id;
    END IF;

    -- Each peer row is found through the primary key: a hash or merge
    -- join would read all of peers (many more rows than a batch) on every
    -- flush.
    hashjoin := current_setting('enable_hashjoin');
    mergejoin := current_setting('enable_mergejoin');
    PERFORM set_config('enable_hashjoin', 'off', true);
    PERFORM set_config('enable_mergejoin', 'off', true);

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
    END IF;

    -- sessions that go on: a plain UPDATE (no insert attempt per row)
    IF np > nr THEN
        UPDATE peers p SET
            ip = nullif(x.ip, '')::inet,
            port = x.port,
            uploaded = p.uploaded + coalesce(x.up, 0),
            downloaded = p.downloaded + coalesce(x.down, 0),
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
                     unnest(p_at[nr + 1:]) AS at
              -- in key order: neighbouring lookups share index and heap
              -- pages (a third less time than the journal's order)
              ORDER BY 1, 2, 3) x
        WHERE p.torrent_id = x.torrent_id AND p.user_id = x.user_id
          AND p.peer_id = x.peer_id;
        GET DIAGNOSTICS updated = ROW_COUNT;

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
        END IF;
    END IF;

    PERFORM set_config('enable_hashjoin', hashjoin, true);
    PERFORM set_config('enable_mergejoin', mergejoin, true);

    RETURN applied;
END
$$;

-- tracker_apply_batch: the contract of 002/009 (row i of the arrays is one
-- announce's delta; p_peer 40-hex peer ids, p_event 0 none, 1 completed,
-- 2 started, 3 stopped; returns the rows applied, or -1 for a batch id seen
-- before).  Folds the rows the way the tracker does and applies them with
-- tracker_apply_flush().  Rows without a well-formed peer id are skipped,
-- NULL counters count as 0.
CREATE OR REPLACE FUNCTION tracker_apply_batch(
    p_batch bigint, p_user bigint[], p_torrent bigint[], p_peer text[],
    p_ip text[], p_port int[], p_up bigint[], p_down bigint[],
    p_raw_up bigint[], p_raw_down bigint[], p_up_time int[],
    p_down_time int[], p_left bigint[], p_event smallint[],
    p_seeders int[], p_leechers int[], p_at bigint[])
RETURNS int
LANGUAGE plpgsql
SET work_mem = '64MB'
AS $$
DECLARE
    n   int := coalesce(cardinality(p_user), 0);
    a   record;
    b   record;
BEGIN
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

    CREATE TEMP TABLE tracker_fold ON COMMIT DROP AS
    SELECT x.i, x.user_id, x.torrent_id, decode(x.peer, 'hex') AS peer_id,
           x.ip, x.port, coalesce(x.up, 0) AS up, coalesce(x.down, 0) AS down,
           coalesce(x.raw_up, 0) AS raw_up,
           coalesce(x.raw_down, 0) AS raw_down,
           coalesce(x.up_time, 0) AS up_time,
           coalesce(x.down_time, 0) AS down_time, coalesce(x.lft, 0) AS lft,
           coalesce(x.event, 0) AS event, coalesce(x.seeders, 0) AS seeders,
           coalesce(x.leechers, 0) AS leechers,
           coalesce(x.at, extract(epoch FROM now())::bigint) AS at
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
    -- ({40} in a regular expression costs ten times more than this)
    WHERE length(x.peer) = 40 AND x.peer ~ '^[0-9a-fA-F]+$';

    -- one row per (user, torrent)
    SELECT coalesce(array_agg(user_id), '{}') AS u,
           coalesce(array_agg(torrent_id), '{}') AS t,
           coalesce(array_agg(rows), '{}') AS r,
           coalesce(array_agg(up), '{}') AS up,
           coalesce(array_agg(down), '{}') AS down,
           coalesce(array_agg(raw_up), '{}') AS raw_up,
           coalesce(array_agg(raw_down), '{}') AS raw_down,
           coalesce(array_agg(up_time), '{}') AS up_time,
           coalesce(array_agg(down_time), '{}') AS down_time,
           coalesce(array_agg(first_at), '{}') AS first_at,
           coalesce(array_agg(last_at), '{}') AS last_at,
           coalesce(array_agg(completed), '{}') AS completed,
           coalesce(array_agg(seeders), '{}') AS seeders,
           coalesce(array_agg(leechers), '{}') AS leechers,
           coalesce(array_agg(seq), '{}') AS seq
    INTO a
    FROM (SELECT user_id, torrent_id, count(*)::int AS rows,
                 tracker_sum(up) AS up, tracker_sum(down) AS down,
                 tracker_sum(raw_up) AS raw_up,
                 tracker_sum(raw_down) AS raw_down,
                 sum(up_time) AS up_time, sum(down_time) AS down_time,
                 min(at) AS first_at, max(at) AS last_at,
                 coalesce(min(at) FILTER (WHERE event = 1), 0) AS completed,
                 (max(i::bigint << 32 | (seeders & 2147483647))
                  & 2147483647)::int AS seeders,
                 (max(i::bigint << 32 | (leechers & 2147483647))
                  & 2147483647)::int AS leechers,
                 max(i) AS seq
          FROM tracker_fold GROUP BY user_id, torrent_id) g;

    -- one row per peer: its last row decides (a stop deletes it); its
    -- session begins at its last started row or after its last stopped row;
    -- the ones whose session began in this batch come first
    SELECT coalesce(array_agg(torrent_id ORDER BY o)
               FILTER (WHERE NOT stopped), '{}')
               AS t,
           coalesce(array_agg(user_id ORDER BY o)
               FILTER (WHERE NOT stopped), '{}')
               AS u,
           coalesce(array_agg(peer_id ORDER BY o)
               FILTER (WHERE NOT stopped), '{}')
               AS peer,
           coalesce(array_agg(ip ORDER BY o)
               FILTER (WHERE NOT stopped), '{}') AS ip,
           coalesce(array_agg(port ORDER BY o)
               FILTER (WHERE NOT stopped), '{}')
               AS port,
           coalesce(array_agg(s_up ORDER BY o)
               FILTER (WHERE NOT stopped), '{}')
               AS up,
           coalesce(array_agg(s_down ORDER BY o)
               FILTER (WHERE NOT stopped), '{}')
               AS down,
           coalesce(array_agg(lft ORDER BY o)
               FILTER (WHERE NOT stopped), '{}') AS lft,
           coalesce(array_agg(s_first ORDER BY o)
               FILTER (WHERE NOT stopped), '{}')
               AS since,
           coalesce(array_agg(at ORDER BY o)
               FILTER (WHERE NOT stopped), '{}') AS at,
           count(*) FILTER (WHERE NOT stopped AND start_i > 0)::int
               AS restarted,
           coalesce(array_agg(torrent_id) FILTER (WHERE stopped), '{}')
               AS st,
           coalesce(array_agg(user_id) FILTER (WHERE stopped), '{}') AS su,
           coalesce(array_agg(peer_id) FILTER (WHERE stopped), '{}') AS sp
    INTO b
    FROM (SELECT w.*, w.event = 3 AS stopped,
                 tracker_sum(CASE WHEN i >= start_i THEN raw_up ELSE 0 END)
                     OVER k AS s_up,
                 tracker_sum(CASE WHEN i >= start_i THEN raw_down ELSE 0 END)
                     OVER k AS s_down,
                 min(CASE WHEN i >= start_i THEN at END) OVER k AS s_first,
                 row_number() OVER (k ORDER BY i DESC) AS rn,
                 row_number() OVER (ORDER BY start_i = 0, torrent_id, user_id,
                                             peer_id) AS o
          FROM (SELECT d.*,
                       coalesce(max(CASE d.event WHEN 2 THEN d.i
                                                 WHEN 3 THEN d.i + 1 END)
                                OVER k, 0) AS start_i
                FROM tracker_fold d
                WINDOW k AS (PARTITION BY torrent_id, user_id, peer_id)) w
          WINDOW k AS (PARTITION BY torrent_id, user_id, peer_id)) f
    WHERE rn = 1;

    DROP TABLE tracker_fold;

    RETURN tracker_apply_flush(p_batch, a.u, a.t, a.r, a.up, a.down,
        a.raw_up, a.raw_down, a.up_time, a.down_time, a.first_at,
        a.last_at, a.completed, a.seeders, a.leechers, a.seq,
        b.t, b.u, b.peer, b.ip, b.port, b.up, b.down, b.lft, b.since, b.at,
        b.restarted, b.st, b.su, b.sp);
END
$$;
