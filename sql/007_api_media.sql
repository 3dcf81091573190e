-- 007_api_media: /media/<id>, /media/search, /stats and /health.
--
-- Which torrents count: listed ones (approved, not deleted) that are not
-- hidden; a media page and the site's numbers are public.

-- /stats counts uploads of the last day and groups active in the last
-- month by upload time; uploaded_at is never rewritten by the tracker's
-- flush, so this index costs the flush's HOT updates nothing.
CREATE INDEX IF NOT EXISTS torrents_listed_uploaded_at ON torrents
    (uploaded_at) WHERE status = 1 AND deleted IS NULL;

-- the fields a media object has everywhere it appears
CREATE FUNCTION api_media_object(m media) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'title', m.title,
        'year', m.year,
        'genres', to_jsonb(m.genres),
        'overview', m.overview,
        'status', m.status,
        'banner_url', m.banner_url,
        'runtime', m.runtime,
        'tvdbId', m.tvdb_id,
        'tmdbId', m.tmdb_id,
        'imdbId', m.imdb_id,
        'alternate_titles', to_jsonb(m.alternate_titles))
$$;

-- "en,ja" -> {"en","ja"}; empty entries dropped
CREATE FUNCTION api_lang_list(p text) RETURNS text[]
LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(array_agg(DISTINCT l ORDER BY l), '{}')
    FROM unnest(string_to_array(p, ',')) AS u(x)
    CROSS JOIN LATERAL (SELECT btrim(u.x) AS l) b
    WHERE b.l <> ''
$$;

-- GET /media/<id>[?force=true]
CREATE FUNCTION api_media(p_key text, p_args jsonb)
RETURNS TABLE (status int, content_type text, disposition text, body bytea)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_id    text := p_args->>'id';
    v_media media;
    v_any   boolean;
BEGIN
    IF v_id ~ '^[sm][0-9]{1,18}$' THEN
        SELECT * INTO v_media FROM media WHERE id = v_id;
    END IF;

    IF v_media.id IS NULL THEN
        RETURN QUERY SELECT * FROM api_error(404, 'Media not found.');
        RETURN;
    END IF;

    SELECT EXISTS (SELECT 1 FROM torrents t
                   WHERE t.media_id = v_id AND t.status = 1
                     AND t.deleted IS NULL AND NOT t.hidden)
    INTO v_any;

    IF NOT v_any AND NOT coalesce((p_args->>'force')::boolean, false) THEN
        RETURN QUERY
            SELECT * FROM api_error(400, 'No torrents found for this media.');
        RETURN;
    END IF;

    RETURN QUERY
    WITH listed AS (
        SELECT t.id, t.level, t.video_type, t.mtl, t.sub_lang, t.fsub_lang
        FROM torrents t
        WHERE t.media_id = v_id AND t.status = 1 AND t.deleted IS NULL
          AND NOT t.hidden
    ),
    credited AS (
        SELECT tg.group_id, l.*
        FROM listed l
        JOIN torrent_groups tg ON tg.torrent_id = l.id
    ),
    -- per group and episode, the torrent with the highest sub level
    best AS (
        SELECT DISTINCT ON (c.group_id, te.episode_id)
               c.group_id, te.episode_id, c.level, c.video_type, c.mtl
        FROM credited c
        JOIN torrent_episodes te ON te.torrent_id = c.id
        ORDER BY c.group_id, te.episode_id, c.level DESC NULLS LAST,
                 c.id DESC
    ),
    per_group AS (
        SELECT c.group_id,
               max(c.level) AS max_level,
               api_lang_list(string_agg(c.fsub_lang, ',')) AS fsub,
               api_lang_list(string_agg(c.sub_lang, ',')) AS sub
        FROM credited c
        GROUP BY c.group_id
    ),
    groups_json AS (
        SELECT jsonb_agg(jsonb_build_object(
                   'id', g.id::text,
                   'name', g.name,
                   'display_name', g.display_name,
                   'tag', g.tag,
                   'display_tag', g.display_tag,
                   'tagline', g.tagline,
                   'pfp_hash', g.pfp_hash,
                   'episodes', coalesce((
                       SELECT jsonb_object_agg(b.episode_id::text,
                                  jsonb_build_object('level', b.level,
                                                     'video_type', b.video_type,
                                                     'mtl', b.mtl))
                       FROM best b WHERE b.group_id = g.id), '{}'::jsonb),
                   'max_level', pg.max_level,
                   'langs', jsonb_build_object('fsub', to_jsonb(pg.fsub),
                                               'sub', to_jsonb(pg.sub)))
                   ORDER BY pg.max_level DESC NULLS LAST, g.display_name,
                            g.id) AS j
        FROM per_group pg
        JOIN groups g ON g.id = pg.group_id
        WHERE g.deleted IS NULL
    ),
    episodes_json AS (
        SELECT jsonb_agg(jsonb_build_object(
                   'id', e.id,
                   'title', e.title,
                   'season', e.season,
                   'episode', e.episode,
                   'overview', e.overview,
                   'runtime', e.runtime,
                   'airDateUtc', to_char(e.air_date AT TIME ZONE 'UTC',
                                         'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
                   'tvdbId', e.tvdb_id)
                   ORDER BY e.season, e.episode) AS j
        FROM episodes e
        WHERE e.media_id = v_id
    )
    SELECT o.*
    FROM api_ok(api_media_object(v_media)
                || jsonb_build_object(
                       'notes', v_media.notes,
                       'episodes', coalesce((SELECT j FROM episodes_json),
                                            '[]'::jsonb),
                       'groups', coalesce((SELECT j FROM groups_json),
                                          '[]'::jsonb))) o;
END
$$;

-- GET /media/search?query=&limit=&offset=
--
-- Candidates come from the trigram indexes on the title and the joined
-- alternate titles: the query resembling a title as a whole (%) or a
-- part of it (<%, word similarity, so "clockwork" finds "The Clockwork
-- Garden").  "similarity" is the best whole-title similarity among the
-- title and each alternate title; results are ordered by it.
CREATE FUNCTION api_media_search(p_key text, p_args jsonb)
RETURNS TABLE (status int, content_type text, disposition text, body bytea)
LANGUAGE sql STABLE AS $$
    WITH q AS (
        SELECT p_args->>'query' AS q,
               (p_args->>'limit')::int AS lim,
               (p_args->>'offset')::int AS off
    ),
    numbered AS (
        SELECT m, s.similarity,
               row_number() OVER (ORDER BY s.similarity DESC, m.title, m.id)
                   AS n
        FROM q, media m
        CROSS JOIN LATERAL (
            SELECT greatest(similarity(m.title, q.q),
                            (SELECT max(similarity(a, q.q))
                             FROM unnest(m.alternate_titles) a))
                   AS similarity) s
        WHERE m.title % q.q OR q.q <% m.title
           OR text_array_join(m.alternate_titles) % q.q
           OR q.q <% text_array_join(m.alternate_titles)
    ),
    page AS (
        SELECT nb.* FROM numbered nb, q
        WHERE nb.n > q.off AND nb.n <= q.off + q.lim + 1
    )
    SELECT o.*
    FROM api_ok(jsonb_build_object(
        'more', (SELECT count(*) FROM page) > (SELECT lim FROM q),
        'results', coalesce((
            SELECT jsonb_agg(jsonb_build_object('id', (pg.m).id)
                             || api_media_object(pg.m)
                             || jsonb_build_object('similarity',
                                                   pg.similarity)
                             ORDER BY pg.n)
            FROM page pg, q
            WHERE pg.n <= q.off + q.lim), '[]'::jsonb))) o
$$;

-- GET /stats: the site's numbers.  Expensive counts by design: the module
-- keeps the rendered answer in shared memory (tracker_api_cache_zone) and
-- serves it with "Cache hit, returning stats." until it expires.
CREATE FUNCTION api_stats(p_key text, p_args jsonb)
RETURNS TABLE (status int, content_type text, disposition text, body bytea)
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN QUERY
    -- one pass over the listed torrents for "torrents" and "peers"
    WITH tt AS (
        SELECT count(*) AS total,
               count(*) FILTER (
                   WHERE t.uploaded_at > now() - interval '1 day') AS new_1d,
               coalesce(sum(t.completed), 0) AS downloads,
               coalesce(sum(t.seeders), 0) AS seeders,
               coalesce(sum(t.leechers), 0) AS leechers
        FROM torrents t
        WHERE t.status = 1 AND t.deleted IS NULL
    )
    SELECT o.* FROM tt, LATERAL api_ok(jsonb_build_object(
        'created_at', api_ms(now()),
        'top_media_1w', coalesce((
            SELECT jsonb_agg(jsonb_build_object(
                       'id', m.id, 'title', m.title,
                       'banner_url', m.banner_url, 'seeders', top.seeders)
                       ORDER BY top.seeders DESC, m.id)
            FROM (SELECT t.media_id, sum(t.seeders)::bigint AS seeders
                  FROM torrents t
                  WHERE t.status = 1 AND t.deleted IS NULL
                    AND NOT t.hidden AND t.media_id IS NOT NULL
                    AND t.uploaded_at > now() - interval '7 days'
                  GROUP BY t.media_id
                  HAVING sum(t.seeders) > 0
                  ORDER BY 2 DESC, 1
                  LIMIT 10) top
            JOIN media m ON m.id = top.media_id), '[]'::jsonb),
        'users', (
            SELECT jsonb_build_object(
                'total', (SELECT count(*) FROM users),
                'new_1w', (SELECT count(*) FROM users u
                           WHERE u.created_at > now() - interval '7 days'),
                'active_1m', (SELECT count(*) FROM users u
                              WHERE u.last_active_at
                                    > now() - interval '30 days'))),
        'groups', (
            SELECT jsonb_build_object(
                'total', (SELECT count(*) FROM groups g
                          WHERE g.deleted IS NULL),
                'new_1w', (SELECT count(*) FROM groups g
                           WHERE g.deleted IS NULL
                             AND g.created_at > now() - interval '7 days'),
                -- credited on a torrent uploaded in the last 30 days
                'active_1m', (SELECT count(DISTINCT tg.group_id)
                              FROM torrents t
                              JOIN torrent_groups tg ON tg.torrent_id = t.id
                              JOIN groups g ON g.id = tg.group_id
                              WHERE t.status = 1 AND t.deleted IS NULL
                                AND t.uploaded_at > now() - interval '30 days'
                                AND g.deleted IS NULL))),
        'torrents', jsonb_build_object(
            'total', tt.total, 'new_1d', tt.new_1d,
            'total_downloads', tt.downloads),
        'peers', jsonb_build_object(
            'seeders', tt.seeders, 'leechers', tt.leechers))) o;
EXCEPTION
    -- statement_timeout (tracker_database query_timeout=) fired
    WHEN query_canceled THEN
        RETURN QUERY
            SELECT * FROM api_error(500, 'Timed out whilst fetching stats.');
END
$$;

-- GET /health: liveness in the API's shape; reaching this function is the
-- database check (down: the module answers 503 "Database unavailable.")
CREATE FUNCTION api_health(p_key text, p_args jsonb)
RETURNS TABLE (status int, content_type text, disposition text, body bytea)
LANGUAGE sql STABLE AS $$
    SELECT * FROM api_ok(jsonb_build_object('database', 'ok',
                                            'time', api_ms(now())))
$$;
