-- 014_torznab: Torznab for Sonarr / Radarr / Prowlarr / Jackett, and the
-- public RSS (Atom) feeds for feed readers.
--
--   GET /api/torznab/api?t=...           api_torznab  (tracker_torznab)
--   GET /api/rss/latest                  api_rss      (tracker_rss)
--   GET /api/rss/category/<slug>         api_rss
--
-- Both take one page of ids from the JSON API's search (api_search_ids,
-- below: the same filters, sorts and indexes) and write XML as text.
-- Every text that comes from the database goes through torznab_text():
-- characters XML 1.0 does not allow are dropped, markup is escaped.

-- When a torrent was put back on top of the feeds (a new subtitle level,
-- say); NULL: its upload.  The feeds and the search's "rss" sort are by
-- coalesce(rss_at, uploaded_at), newest first.
ALTER TABLE torrents ADD COLUMN IF NOT EXISTS rss_at timestamptz;

CREATE INDEX IF NOT EXISTS torrents_listed_rss ON torrents
    ((coalesce(rss_at, uploaded_at)), id)
    WHERE status = 1 AND deleted IS NULL;

-- Newznab categories.  items: the category an item is given, by whether
-- its media is a movie; the others are there for caps and for cat=.
-- The RSS feeds of /api/rss/category/<slug> use the slugs.
-- The JSON search (005) split in two, so that Torznab and the feeds use
-- the same search: api_search_ids() picks the page of ids, and
-- api_torrents_search() renders the JSON API's answer from it (its output
-- is unchanged; sort_by=rss now follows rss_at).
DROP FUNCTION api_torrents_search(text, jsonb);

-- The search itself: the caller, the hints, the filters and one page of
-- ids (more: a next page exists).  api_torrents_search below renders its
-- JSON from it; Torznab and the RSS feeds (below) render theirs from the
-- same page.  invalid: {parameter, pattern} of a list or
-- id of the wrong form, nothing else set.
-- Arguments no route declares, so only SQL callers (Torznab) pass them:
--   media_ids  array: torrents of any of these media
--   movie      boolean: of a movie (media "m...") / of anything else
--   episode    {"season", "episode", "air_date"} (each optional): the
--              torrent has such an episode
CREATE FUNCTION api_search_ids(p_key text, p_args jsonb,
    OUT invalid text[], OUT me users, OUT ids bigint[], OUT more boolean,
    OUT hash_id bigint, OUT search_args jsonb, OUT search_query text,
    OUT summary text[], OUT dbg text[])
LANGUAGE plpgsql STABLE
-- many searches at once: a worker process per sort is no gain
SET max_parallel_workers_per_gather = 0
AS $$
DECLARE
    a           jsonb := p_args;
    is_mod      boolean;
    q           text := btrim(coalesce(p_args->>'query', ''));
    lim         int := coalesce((p_args->>'limit')::int, 50);
    off         bigint := coalesce((p_args->>'offset')::bigint, 0);
    sort        text := coalesce(p_args->>'sort_by', 'best');
    chk         record;
    f           record;
    conds       text[] := ARRAY['t.status = 1', 't.deleted IS NULL'];
    visible     text;
    words       text[] := '{}';
    w           text;
    lw          text;
    codec       int;
    codecs      int[] := '{}';
    se          text[];
    season_eps  bigint[];
    eps         bigint[];
    gids        bigint[];
    uid         bigint;
    media_ids   text[];
    text_cond   text;
    pats        text[];
    sort_sql    text;
    sort_desc   text;
    hinted      boolean := false;
BEGIN
    summary := '{}';
    dbg := '{}';

    -- the lists and ids are strings to the schema; their form is checked
    -- here, in the order of the parameter table; an empty value is no
    -- filter at all
    FOR chk IN
        SELECT v.name, v.pattern FROM (VALUES
            (1, 'media_id', '^[sm][0-9]{1,18}$'),
            (2, 'episode_ids', '^[0-9]{1,18}(,[0-9]{1,18})*$'),
            (3, 'levels', '^(-1|[0-4])(,(-1|[0-4]))*$'),
            (4, 'video_codec', '^[0-9]{1,2}(,[0-9]{1,2})*$'),
            (5, 'video_type', '^[0-9]{1,2}(,[0-9]{1,2})*$'),
            (6, 'audio_lang', '^[a-z]{2,3}(-[a-z0-9]{2,4})?'
                              '(,[a-z]{2,3}(-[a-z0-9]{2,4})?)*$'),
            (7, 'fansub_lang', '^[a-z]{2,3}(-[a-z0-9]{2,4})?'
                               '(,[a-z]{2,3}(-[a-z0-9]{2,4})?)*$'),
            (8, 'sub_lang', '^[a-z]{2,3}(-[a-z0-9]{2,4})?'
                            '(,[a-z]{2,3}(-[a-z0-9]{2,4})?)*$'),
            (9, 'group_id', '^[0-9]{1,18}$'),
            (10, 'uploader_id', '^[0-9]{1,18}$'),
            (11, 'before', '^[0-9]{1,15}$'),
            (12, 'after', '^[0-9]{1,15}$')) AS v(n, name, pattern)
        ORDER BY v.n
    LOOP
        IF a->>chk.name = '' THEN
            a := a - chk.name;
        ELSIF lower(a->>chk.name) !~ chk.pattern THEN
            invalid := ARRAY[chk.name, chk.pattern];
            RETURN;
        ELSIF a ? chk.name THEN
            -- S12, JA: ids and codes are lower case
            a := a || jsonb_build_object(chk.name, lower(a->>chk.name));
        END IF;
    END LOOP;

    SELECT * INTO me FROM api_user(p_key);
    is_mod := me.id IS NOT NULL AND (me.permissions & 3) <> 0;

    -- hidden torrents: listed to moderators, their uploader and the
    -- members of their groups
    IF is_mod THEN
        visible := 'true';
        dbg := dbg || 'showing hidden torrents'::text;
    ELSIF me.id IS NOT NULL THEN
        visible := format('(NOT t.hidden OR t.uploader_id = %s OR t.id IN ('
                          'SELECT tg.torrent_id FROM torrent_groups tg '
                          'JOIN group_members gm ON gm.group_id = tg.group_id'
                          ' WHERE gm.user_id = %s))', me.id, me.id);
        dbg := dbg || 'hiding hidden torrents'::text;
    ELSE
        visible := 'NOT t.hidden';
        dbg := dbg || 'hiding hidden torrents'::text;
    END IF;

    conds := conds || visible;

    -- hint: an info hash (v1, or a hybrid's v2 in full or truncated)
    IF q ~* '^([0-9a-f]{40}|[0-9a-f]{64})$' THEN
        EXECUTE format('SELECT t.id FROM torrents t WHERE %s AND %s',
                       array_to_string(conds, ' AND '),
                       CASE WHEN length(q) = 40
                            THEN format('(t.info_hash = %1$L::bytea OR '
                                        't.info_hash_v2_trunc = %1$L::bytea)',
                                        decode(lower(q), 'hex'))
                            ELSE format('t.info_hash_v2 = %L::bytea',
                                        decode(lower(q), 'hex')) END)
        INTO hash_id;

        IF hash_id IS NOT NULL THEN
            hinted := true;
            summary := summary || ('info hash: ' || lower(q));
            dbg := dbg || ('found infohash match ' || hash_id);
        END IF;
    END IF;

    IF hash_id IS NULL THEN
        -- hints among the words: codec names, sNN / sNNeNN with a media
        FOREACH w IN ARRAY regexp_split_to_array(q, '\s+') LOOP
            CONTINUE WHEN w = '';
            lw := lower(w);
            codec := api_search_codec(lw);

            IF codec IS NOT NULL AND NOT a ? 'video_codec' THEN
                IF NOT codec = ANY (codecs) THEN
                    codecs := codecs || codec;
                    summary := summary || ('video codec: '
                                           || api_search_codec_name(codec));
                    dbg := dbg || format('hint: "%s" is video codec %s',
                                         w, codec);
                END IF;
                CONTINUE;
            END IF;

            se := regexp_match(lw, '^s([0-9]{1,3})(?:e([0-9]{1,4}))?$');

            IF se IS NOT NULL AND a ? 'media_id' THEN
                SELECT coalesce(array_agg(e.id ORDER BY e.id), '{}')
                INTO eps
                FROM episodes e
                WHERE e.media_id = a->>'media_id'
                  AND e.season = se[1]::int
                  AND (se[2] IS NULL OR e.episode = se[2]::int);

                season_eps := coalesce(season_eps, '{}') || eps;
                summary := summary || (CASE WHEN se[2] IS NULL
                    THEN format('season %s', se[1]::int)
                    ELSE format('season %s episode %s', se[1]::int,
                                se[2]::int) END);
                dbg := dbg || format('hint: "%s" adds %s episodes', w,
                                     cardinality(eps));
                CONTINUE;
            END IF;

            words := words || w;
        END LOOP;

        IF cardinality(codecs) > 0 THEN
            hinted := true;
            a := a || jsonb_build_object('video_codec',
                                         array_to_string(codecs, ','));
        END IF;

        IF season_eps IS NOT NULL THEN
            hinted := true;
            -- a season is any of its episodes, on top of those asked for
            IF a ? 'episode_ids' THEN
                season_eps := season_eps
                    || string_to_array(a->>'episode_ids', ',')::bigint[];
            END IF;

            a := a || jsonb_build_object('episode_match_any', true);

            IF cardinality(season_eps) > 0 THEN
                a := a || jsonb_build_object('episode_ids',
                    (SELECT string_agg(DISTINCT x::text, ',')
                     FROM unnest(season_eps) x));
            ELSE
                conds := conds || 'false'::text;
            END IF;
        END IF;
    END IF;

    IF NOT hinted THEN
        dbg := 'no hints found'::text || dbg;
    END IF;

    q := array_to_string(words[1:16], ' ');
    a := CASE WHEN q = '' THEN a - 'query'
              ELSE a || jsonb_build_object('query', q) END;

    IF hash_id IS NOT NULL THEN
        ids := ARRAY[hash_id];
        more := false;

    ELSE
        -- every word in the title; or the words all in a media's title or
        -- alternate titles, which lists that media's torrents too
        IF q <> '' THEN
            -- LIKE patterns: the words with their wildcards made literal
            pats := ARRAY(
                SELECT '%' || replace(replace(replace(x, '\', '\\'),
                                              '%', '\%'), '_', '\_') || '%'
                FROM unnest(words[1:16]) x);

            -- each side on its own trigram index
            EXECUTE format('SELECT array_agg(m.id) FROM media m '
                           'WHERE (%s) OR (%s)',
                           api_search_ilike('m.title', pats),
                           api_search_ilike(
                               'text_array_join(m.alternate_titles)', pats))
            INTO media_ids;

            text_cond := api_search_ilike('t.title', pats);

            IF media_ids IS NOT NULL THEN
                dbg := dbg || format('query matches %s media titles',
                                     cardinality(media_ids));
                text_cond := format('((%s) OR t.media_id = ANY (%L::text[]))',
                                    text_cond, media_ids);
            END IF;

            conds := conds || text_cond;
        END IF;

        IF (a->>'category')::numeric <> 0 THEN
            conds := conds || format('t.category = %s',
                                     (a->>'category')::numeric);
        END IF;

        IF a ? 'media_id' THEN
            conds := conds || format('t.media_id = %L', a->>'media_id');
        END IF;

        -- the SQL callers' filters (see above)
        IF a ? 'media_ids' THEN
            conds := conds || format('t.media_id = ANY (%L::text[])',
                ARRAY(SELECT jsonb_array_elements_text(a->'media_ids')));
        END IF;

        IF a ? 'movie' THEN
            conds := conds || CASE WHEN (a->>'movie')::boolean
                THEN 't.media_id LIKE ''m%'''
                ELSE '(t.media_id IS NULL OR t.media_id NOT LIKE ''m%'')'
                END;
        END IF;

        IF a ? 'episode' THEN
            conds := conds || format(
                't.id IN (SELECT te.torrent_id FROM torrent_episodes te '
                'JOIN episodes e ON e.id = te.episode_id WHERE %s)',
                concat_ws(' AND ', 'true',
                    CASE WHEN a ? 'media_ids' THEN format(
                        'e.media_id = ANY (%L::text[])', ARRAY(SELECT
                        jsonb_array_elements_text(a->'media_ids'))) END,
                    CASE WHEN a->'episode' ? 'season' THEN format(
                        'e.season = %s',
                        (a->'episode'->>'season')::int) END,
                    CASE WHEN a->'episode' ? 'episode' THEN format(
                        'e.episode = %s',
                        (a->'episode'->>'episode')::int) END,
                    CASE WHEN a->'episode' ? 'air_date' THEN format(
                        '(e.air_date AT TIME ZONE ''UTC'')::date = %L',
                        (a->'episode'->>'air_date')::date) END));
        END IF;

        IF a ? 'episode_ids' THEN
            eps := ARRAY(SELECT DISTINCT x FROM unnest(string_to_array(
                             a->>'episode_ids', ',')::bigint[]) x);
            conds := conds || format(
                't.id IN (SELECT te.torrent_id FROM torrent_episodes te '
                'WHERE te.episode_id = ANY (%L::bigint[]) '
                'GROUP BY te.torrent_id HAVING count(*) >= %s)',
                eps, CASE WHEN (a->>'episode_match_any')::boolean THEN 1
                          ELSE cardinality(eps) END);
        END IF;

        -- column filters: lists of ids, of languages (any in common),
        -- and flags
        FOR f IN
            SELECT v.param, v.col, v.kind FROM (VALUES
                (1, 'levels', 'level', 'int'),
                (2, 'video_codec', 'video_codec', 'int'),
                (3, 'video_type', 'video_type', 'int'),
                (4, 'audio_lang', 'audio_lang', 'lang'),
                (5, 'fansub_lang', 'fsub_lang', 'lang'),
                (6, 'sub_lang', 'sub_lang', 'lang'),
                (7, 'hardsub', 'hardsub', 'bool'),
                (8, 'otl', 'otl', 'bool'),
                (9, 'mtl', 'mtl', 'bool')) AS v(n, param, col, kind)
            ORDER BY v.n
        LOOP
            CONTINUE WHEN NOT a ? f.param;

            IF f.kind = 'int' THEN
                conds := conds || format('t.%I = ANY (%L::int[])', f.col,
                    string_to_array(a->>f.param, ',')::int[]);
            ELSIF f.kind = 'lang' THEN
                conds := conds || format(
                    'string_to_array(t.%I, '','') && %L::text[]', f.col,
                    api_search_langs(a->>f.param));
            ELSE
                conds := conds || format('t.%I = %L::boolean', f.col,
                                         (a->>f.param)::boolean);
            END IF;
        END LOOP;

        IF a ? 'group_id' THEN
            -- the group, its children and/or parents (approved links)
            SELECT array_agg(DISTINCT g) INTO gids FROM (
                SELECT (a->>'group_id')::bigint AS g
                UNION ALL
                SELECT l.child_id FROM group_links l
                WHERE (a->>'group_childs')::boolean AND l.active
                  AND l.parent_id = (a->>'group_id')::bigint
                UNION ALL
                SELECT l.parent_id FROM group_links l
                WHERE (a->>'group_parents')::boolean AND l.active
                  AND l.child_id = (a->>'group_id')::bigint) s;

            IF (a->>'group_primary')::boolean
               OR (a->>'group_secondary')::boolean
            THEN
                conds := conds || format(
                    't.id IN (SELECT tg.torrent_id FROM torrent_groups tg '
                    'WHERE tg.group_id = ANY (%L::bigint[])%s)', gids,
                    CASE WHEN NOT (a->>'group_secondary')::boolean
                         THEN ' AND tg.is_primary'
                         WHEN NOT (a->>'group_primary')::boolean
                         THEN ' AND NOT tg.is_primary'
                         ELSE '' END);
            ELSE
                conds := conds || 'false'::text;
            END IF;

            dbg := dbg || format('filtering by %s groups', cardinality(gids));
        END IF;

        IF a ? 'uploader_id' THEN
            uid := (a->>'uploader_id')::bigint;
            -- anonymous uploads stay anonymous to everyone else
            conds := conds || coalesce('(' || nullif(concat_ws(' OR ',
                CASE WHEN (a->>'uploader_uploads')::boolean THEN
                    format('(t.uploader_id = %s%s)', uid,
                           CASE WHEN is_mod OR uid = me.id THEN ''
                                ELSE ' AND NOT t.anonymous' END) END,
                CASE WHEN (a->>'uploader_contributions')::boolean THEN
                    format('t.id IN (SELECT tc.torrent_id FROM '
                           'torrent_contributors tc WHERE tc.user_id = %s)',
                           uid) END), '') || ')', 'false');
        END IF;

        IF a ? 'before' THEN
            conds := conds || format('t.uploaded_at < %L::timestamptz',
                to_timestamp((a->>'before')::bigint / 1000.0));
        END IF;

        IF a ? 'after' THEN
            conds := conds || format('t.uploaded_at > %L::timestamptz',
                to_timestamp((a->>'after')::bigint / 1000.0));
        END IF;

        -- ties: newest first on descending sorts, oldest first ascending
        SELECT s.o, s.d INTO sort_sql, sort_desc FROM (VALUES
            ('best', 'coalesce(t.level, -2) DESC, t.id DESC', 'level desc'),
            ('latest', 't.id DESC', 'upload time desc'),
            ('oldest', 't.id ASC', 'upload time asc'),
            -- rss_at (above): put back on top of the feed
            ('rss', 'coalesce(t.rss_at, t.uploaded_at) DESC, t.id DESC',
             'rss time desc'),
            ('seeders', 't.seeders DESC, t.id DESC', 'seeders desc'),
            ('seeders_asc', 't.seeders ASC, t.id ASC', 'seeders asc'),
            ('leechers', 't.leechers DESC, t.id DESC', 'leechers desc'),
            ('leechers_asc', 't.leechers ASC, t.id ASC', 'leechers asc'),
            ('downloads', 't.completed DESC, t.id DESC', 'downloads desc'),
            ('downloads_asc', 't.completed ASC, t.id ASC', 'downloads asc'),
            ('comments', 't.comment_count DESC, t.id DESC', 'comments desc'),
            ('comments_asc', 't.comment_count ASC, t.id ASC',
             'comments asc'),
            ('filesize', 't.filesize DESC, t.id DESC', 'filesize desc'),
            ('filesize_asc', 't.filesize ASC, t.id ASC', 'filesize asc'))
            AS s(k, o, d)
        WHERE s.k = sort;

        dbg := dbg || format('sorting by %s (%s)', sort, sort_desc);

        EXECUTE format('SELECT ARRAY(SELECT t.id FROM torrents t WHERE %s '
                       'ORDER BY %s LIMIT %s OFFSET %s)',
                       array_to_string(conds, ' AND '), sort_sql, lim + 1,
                       off)
        INTO ids;

        more := cardinality(ids) > lim;
        ids := ids[1:lim];
    END IF;

    search_args := a;
    search_query := q;
END
$$;

CREATE FUNCTION api_torrents_search(p_key text, p_args jsonb)
RETURNS TABLE (status int, content_type text, disposition text, body bytea)
LANGUAGE plpgsql STABLE
-- media suggestions: a title close to the query, not any sharing a word
SET pg_trgm.similarity_threshold = 0.45
AS $$
DECLARE
    page        record;
    me          users;
    a           jsonb;
    q           text;
    ids         bigint[];
    more        boolean;
    hash_id     bigint;
    summary     text[];
    dbg         text[];
    tracker_enc text;
    private_enc text;
    results     text;
    echo        json;
    n_rel       bigint;
    n_groups    bigint;
    n_users     bigint;
    media_j     text;
    rec_j       text;
    sim_j       text;
BEGIN
    SELECT * INTO page FROM api_search_ids(p_key, p_args);

    IF page.invalid IS NOT NULL THEN
        RETURN QUERY SELECT * FROM api_search_invalid(page.invalid[1],
                                                      page.invalid[2]);
        RETURN;
    END IF;

    me := page.me;
    a := page.search_args;
    q := page.search_query;
    ids := page.ids;
    more := page.more;
    hash_id := page.hash_id;
    summary := page.summary;
    dbg := page.dbg;

    -- the announce URLs of sql/008 (site_settings.public_tracker_url, and
    -- the caller's own)
    tracker_enc := api_search_urlencode(api_announce_url(me, true));
    private_enc := api_search_urlencode(api_announce_url(me, false));

    SELECT '[' || coalesce(string_agg(r.obj, ', ' ORDER BY r.ord), '')
           || ']',
           coalesce(sum(r.n_rel), 0),
           count(DISTINCT r.uploader_id)
    INTO results, n_rel, n_users
    FROM (
        SELECT x.ord, gr.n_rel, u.id AS uploader_id,
            -- two objects' text joined, with the caller's own announce URL
            -- between them for a caller only
            left(json_build_object(
                'id', t.id::text,
                'uploaded_at', api_ms(t.uploaded_at),
                'title', t.title,
                'infohash', encode(t.info_hash, 'hex'),
                'magnet', api_search_magnet(t.info_hash, t.info_hash_v2,
                    t.title_urlencoded, tracker_enc))::text, -1)
            || CASE WHEN me.id IS NOT NULL THEN
                   ', "private_magnet" : ' || to_json(api_search_magnet(
                       t.info_hash, t.info_hash_v2, t.title_urlencoded,
                       private_enc))
               ELSE '' END
            || ', ' || substr(json_build_object(
                'media_id', t.media_id,
                'description', t.description,
                'filesize', t.filesize::text,
                'category', t.category,
                'level', t.level,
                'otl', t.otl,
                'hardsub', t.hardsub,
                'mtl', t.mtl,
                'comment_count', t.comment_count::text,
                'deleted', api_ms(t.deleted),
                'hidden', t.hidden,
                'waiting_approve', t.status = 0,
                'auto_title', api_search_auto_title(t),
                'audio_lang', t.audio_lang,
                'sub_lang', t.sub_lang,
                'fsub_lang', t.fsub_lang,
                'video_codec', t.video_codec,
                'video_type', t.video_type,
                'anonymous', t.anonymous,
                'upgraded', t.upgraded_id::text,
                'uploader', CASE WHEN u.id IS NOT NULL THEN
                    json_build_object(
                        'id', u.id::text,
                        'display_name', coalesce(u.display_name, u.username),
                        'username', u.username,
                        'pfp_hash', u.pfp_hash) END,
                'seeders', t.seeders::text,
                'leechers', t.leechers::text,
                'completed', t.completed::text,
                'groups', coalesce(gr.groups, '[]'::json),
                'imported', t.imported,
                'user_is_seeding', CASE WHEN me.id IS NOT NULL THEN
                    EXISTS (SELECT 1 FROM peers p
                            WHERE p.torrent_id = t.id AND p.user_id = me.id
                              AND p.seeder) END,
                'user_is_leeching', CASE WHEN me.id IS NOT NULL THEN
                    EXISTS (SELECT 1 FROM peers p
                            WHERE p.torrent_id = t.id AND p.user_id = me.id
                              AND NOT p.seeder) END,
                'user_download_count', CASE WHEN me.id IS NOT NULL THEN
                    (SELECT count(*) FROM snatches s
                     WHERE s.torrent_id = t.id AND s.user_id = me.id) END,
                'has_mediainfo', coalesce(t.mediainfo, '') <> '',
                'nyaa_upload_time', api_ms(t.nyaa_upload_time))::text,
                2) AS obj
        FROM unnest(ids) WITH ORDINALITY AS x(id, ord)
        JOIN torrents t ON t.id = x.id
        LEFT JOIN users u ON u.id = t.uploader_id AND NOT t.anonymous
        LEFT JOIN LATERAL (
            SELECT count(*) AS n_rel,
                   json_agg(json_build_object(
                       'id', g.id::text,
                       'display_name', g.display_name,
                       'name', g.name,
                       'anonymous', g.anonymous,
                       'tagline', g.tagline,
                       'pfp_hash', g.pfp_hash,
                       'uploading_group', tg.is_primary)
                       ORDER BY tg.is_primary DESC, g.id) AS groups
            FROM torrent_groups tg
            JOIN groups g ON g.id = tg.group_id AND g.deleted IS NULL
            WHERE tg.torrent_id = t.id) gr ON true
    ) r;

    SELECT count(DISTINCT tg.group_id) INTO n_groups
    FROM torrent_groups tg
    JOIN groups g ON g.id = tg.group_id AND g.deleted IS NULL
    WHERE tg.torrent_id = ANY (ids);

    dbg := dbg || format('found %s torrents', cardinality(ids))
               || format('found %s group relations', n_rel)
               || format('found %s groups', n_groups)
               || format('found %s users', n_users);

    IF a ? 'media_id' THEN
        SELECT api_search_media(m, 'episodes',
                   coalesce((SELECT json_agg(json_build_object(
                                 'id', e.id, 'title', e.title,
                                 'season', e.season, 'episode', e.episode,
                                 'overview', e.overview,
                                 'runtime', e.runtime,
                                 'airDateUtc', to_char(e.air_date
                                     AT TIME ZONE 'UTC',
                                     'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
                                 'tvdbId', e.tvdb_id)
                                 ORDER BY e.season, e.episode)
                             FROM episodes e WHERE e.media_id = m.id),
                            '[]'::json))
        INTO media_j
        FROM media m WHERE m.id = a->>'media_id';
    END IF;

    -- media suggestions, for searches by words
    IF q <> '' THEN
        IF NOT a ? 'media_id' AND cardinality(ids) > 0 THEN
            SELECT api_search_media(m) INTO rec_j
            FROM (SELECT t.media_id, count(*) AS n
                  FROM torrents t WHERE t.id = ANY (ids)
                  GROUP BY t.media_id
                  ORDER BY n DESC, t.media_id LIMIT 1) top
            JOIN media m ON m.id = top.media_id
            WHERE top.n >= 0.7 * cardinality(ids);
        END IF;

        IF rec_j IS NULL THEN
            SELECT '[' || string_agg(api_search_media(s.m, 'similarity',
                                                      to_json(s.sim)),
                                     ', ' ORDER BY s.sim DESC, (s.m).id)
                   || ']'
            INTO sim_j
            FROM (SELECT m, greatest(similarity(m.title, q),
                      similarity(text_array_join(m.alternate_titles), q))
                      AS sim
                  FROM media m
                  WHERE (m.title % q
                         OR text_array_join(m.alternate_titles) % q)
                    AND EXISTS (SELECT 1 FROM torrents t
                                WHERE t.media_id = m.id AND t.status = 1
                                  AND t.deleted IS NULL)
                  ORDER BY sim DESC, m.id LIMIT 5) s;
        END IF;
    END IF;

    -- the parameters used, in the order of the parameter table
    SELECT json_object_agg(k.k, a->k.k ORDER BY k.n) INTO echo
    FROM unnest(ARRAY['query', 'limit', 'offset', 'sort_by', 'category',
                      'media_id', 'episode_ids', 'episode_match_any',
                      'levels', 'video_codec', 'video_type', 'audio_lang',
                      'fansub_lang', 'sub_lang', 'hardsub', 'otl', 'mtl',
                      'group_id', 'group_primary', 'group_secondary',
                      'group_childs', 'group_parents', 'uploader_id',
                      'uploader_uploads', 'uploader_contributions',
                      'before', 'after']) WITH ORDINALITY AS k(k, n)
    WHERE a ? k.k;

    -- api_ok's envelope, written as text in the reference's key order
    RETURN QUERY SELECT 200, NULL::text, NULL::text, convert_to(
        '{"error" : false, "data" : {"results" : ' || results
        || ', "infohash_match" : ' || coalesce(to_json(hash_id::text)::text,
                                               'null')
        || ', "recommended_media" : ' || coalesce(rec_j, 'null')
        || ', "media" : ' || coalesce(media_j, 'null')
        || ', "similar_media" : ' || coalesce(sim_j, 'null')
        || ', "debug" : ' || json_build_object('summary', to_json(summary),
                                               'debug', to_json(dbg))
        || ', "more" : ' || to_json(more)
        || ', "search" : ' || coalesce(echo::text, '{}') || '}}', 'UTF8');
END
$$;

CREATE TABLE IF NOT EXISTS torznab_categories (
    id          int PRIMARY KEY,
    parent      int REFERENCES torznab_categories,
    name        text NOT NULL,
    slug        text NOT NULL UNIQUE,
    movie       boolean NOT NULL,
    items       boolean NOT NULL DEFAULT false
);

INSERT INTO torznab_categories (id, parent, name, slug, movie, items)
VALUES (5000, NULL, 'TV', 'tv', false, false),
       (5070, 5000, 'Anime', 'anime', false, true),
       (2000, NULL, 'Movies', 'movies', true, true)
ON CONFLICT (id) DO NOTHING;

-- the page sizes of t=search (caps' <limits default max>)
CREATE FUNCTION torznab_limit(p_max boolean) RETURNS int
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN p_max THEN 100 ELSE 50 END
$$;

-- Text for XML content or a double-quoted attribute: the control
-- characters XML 1.0 forbids (and U+FFFE, U+FFFF) dropped, markup escaped.
-- translate() and replace() are single C passes: cheap per field.
CREATE FUNCTION torznab_text(p text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT replace(replace(replace(replace(translate(p,
        E'\x01\x02\x03\x04\x05\x06\x07\x08\x0b\x0c\x0e\x0f\x10\x11\x12'
        || E'\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f'
        || E'\uFFFE\uFFFF', ''),
        '&', '&amp;'), '<', '&lt;'), '>', '&gt;'), '"', '&quot;')
$$;

-- RFC 822 (RSS 2.0's pubDate) with a numeric zone; to_char's names are
-- English whatever lc_time says (only TM-prefixed ones are localized)
CREATE FUNCTION torznab_date(p timestamptz) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT to_char(p AT TIME ZONE 'UTC', 'Dy, DD Mon YYYY HH24:MI:SS')
           || ' +0000'
$$;

-- RFC 3339 (Atom)
CREATE FUNCTION torznab_date3339(p timestamptz) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT to_char(p AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
$$;

-- Newznab's error answer: HTTP 200, an XML body clients read
CREATE FUNCTION torznab_error(p_code int, p_description text)
RETURNS TABLE (status int, content_type text, disposition text, body bytea)
LANGUAGE sql IMMUTABLE AS $$
    SELECT 200, 'application/xml; charset=utf-8', NULL::text,
           convert_to('<?xml version="1.0" encoding="UTF-8"?>' || E'\n'
                      || '<error code="' || p_code || '" description="'
                      || torznab_text(p_description) || '"/>' || E'\n',
                      'UTF8')
$$;

-- t=caps
CREATE FUNCTION torznab_caps()
RETURNS TABLE (status int, content_type text, disposition text, body bytea)
LANGUAGE sql STABLE AS $$
    SELECT 200, 'application/xml; charset=utf-8', NULL::text, convert_to(
        '<?xml version="1.0" encoding="UTF-8"?>' || E'\n<caps>\n'
        || '  <server version="1.0" title="'
        || torznab_text(coalesce(site_setting('site_name'), 'ngx_tracker'))
        || '" url="'
        || torznab_text(coalesce(site_setting('base_url'), '') || '/')
        || '"/>' || E'\n'
        || '  <limits default="' || torznab_limit(false) || '" max="'
        || torznab_limit(true) || '"/>' || E'\n'
        || '  <registration available="no" open="no"/>' || E'\n'
        || '  <searching>' || E'\n'
        || '    <search available="yes" supportedParams="q"/>' || E'\n'
        || '    <tv-search available="yes" '
        || 'supportedParams="q,season,ep,tvdbid,tmdbid,imdbid"/>' || E'\n'
        || '    <movie-search available="yes" '
        || 'supportedParams="q,imdbid,tmdbid"/>' || E'\n'
        || '    <audio-search available="no" supportedParams="q"/>' || E'\n'
        || '    <book-search available="no" supportedParams="q"/>' || E'\n'
        || '  </searching>' || E'\n'
        || '  <categories>' || E'\n'
        || (SELECT string_agg('    <category id="' || c.id || '" name="'
                              || torznab_text(c.name) || '"'
                              || coalesce('>' || E'\n' || (
                                     SELECT string_agg(
                                         '      <subcat id="' || s.id
                                         || '" name="'
                                         || torznab_text(s.name) || '"/>'
                                         || E'\n', '' ORDER BY s.id)
                                     FROM torznab_categories s
                                     WHERE s.parent = c.id)
                                     || '    </category>', '/>')
                              || E'\n', '' ORDER BY c.id DESC)
            FROM torznab_categories c WHERE c.parent IS NULL)
        || '  </categories>' || E'\n</caps>\n', 'UTF8')
$$;

-- The <item>s of a page of torrents, in its order.  tracker_enc: the
-- announce URL (percent-encoded) the magnets carry.  plpgsql: its plan is
-- kept per session (a SQL function with a FROM is planned on every call).
-- Magnets are percent-encoded but for their '&'; the base URL is escaped
-- once.
CREATE FUNCTION torznab_items(p_ids bigint[], p_tracker_enc text,
                              p_base text)
RETURNS text
LANGUAGE plpgsql STABLE AS $$
DECLARE
    base        text := torznab_text(p_base) || '/torrents/';
    cat_series  int;
    cat_movie   int;
BEGIN
    SELECT min(c.id) FILTER (WHERE NOT c.movie),
           min(c.id) FILTER (WHERE c.movie)
    INTO cat_series, cat_movie
    FROM torznab_categories c WHERE c.items;

    RETURN (SELECT coalesce(string_agg(
        '<item>'
        || '<title>' || torznab_text(api_search_auto_title(t)) || '</title>'
        || '<guid isPermaLink="true">' || base || t.id || '</guid>'
        || '<link>' || i.magnet || '</link>'
        || '<comments>' || base || t.id || '</comments>'
        || '<pubDate>' || torznab_date(coalesce(t.rss_at, t.uploaded_at))
        || '</pubDate>'
        || '<size>' || t.filesize || '</size>'
        || '<enclosure url="' || i.magnet || '" length="' || t.filesize
        || '" type="application/x-bittorrent"/>'
        || '<category>' || i.cat || '</category>'
        || '<torznab:attr name="category" value="' || i.cat || '"/>'
        || '<torznab:attr name="size" value="' || t.filesize || '"/>'
        || '<torznab:attr name="seeders" value="' || t.seeders || '"/>'
        || '<torznab:attr name="leechers" value="' || t.leechers || '"/>'
        || '<torznab:attr name="peers" value="' || t.seeders + t.leechers
        || '"/>'
        || '<torznab:attr name="grabs" value="' || t.completed || '"/>'
        || coalesce('<torznab:attr name="files" value="'
                    || nullif(jsonb_array_length(t.files), 0) || '"/>', '')
        || '<torznab:attr name="infohash" value="'
        || encode(t.info_hash, 'hex') || '"/>'
        || '<torznab:attr name="magneturl" value="' || i.magnet || '"/>'
        || '<torznab:attr name="downloadvolumefactor" value="'
        || trim_scale(t.dl_percent / 100.0) || '"/>'
        || '<torznab:attr name="uploadvolumefactor" value="'
        || trim_scale(t.ul_percent / 100.0) || '"/>'
        || coalesce('<torznab:attr name="tvdbid" value="' || m.tvdb_id
                    || '"/>', '')
        || coalesce('<torznab:attr name="imdb" value="'
                    || substring(m.imdb_id FROM '^tt([0-9]+)$') || '"/>', '')
        || coalesce('<torznab:attr name="tmdbid" value="' || m.tmdb_id
                    || '"/>', '')
        || coalesce('<torznab:attr name="coverurl" value="'
                    || torznab_text(m.banner_url) || '"/>', '')
        || '</item>' || E'\n', '' ORDER BY x.ord), '')
    FROM unnest(p_ids) WITH ORDINALITY AS x(id, ord)
    JOIN torrents t ON t.id = x.id
    LEFT JOIN media m ON m.id = t.media_id
    CROSS JOIN LATERAL (
        SELECT replace(api_search_magnet(t.info_hash, t.info_hash_v2,
                   t.title_urlencoded, p_tracker_enc), '&', '&amp;')
                   AS magnet,
               CASE WHEN t.media_id LIKE 'm%' THEN cat_movie
                    ELSE cat_series END AS cat) i);
END
$$;

-- the search's own arguments, with the defaults its route would add
CREATE FUNCTION torznab_search_args(p_query text, p_limit int,
                                    p_offset bigint)
RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    SELECT jsonb_build_object(
        'query', p_query, 'limit', p_limit, 'offset', p_offset,
        'sort_by', 'rss', 'category', 0, 'episode_match_any', false,
        'group_primary', true, 'group_secondary', false,
        'group_childs', true, 'group_parents', false,
        'uploader_uploads', true, 'uploader_contributions', false)
$$;

CREATE FUNCTION api_torznab(p_key text, p_args jsonb)
RETURNS TABLE (status int, content_type text, disposition text, body bytea)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    a           jsonb;
    fn          text := lower(coalesce(p_args->>'t', ''));
    me          users;
    lim         int;
    off         bigint;
    s           jsonb;
    kinds       boolean[];
    media_ids   text[];
    season      int;
    ep          jsonb := '{}';
    md          text[];
    page        record;
    ids         bigint[];
    chk         record;
    empty       boolean := false;
    base        text := coalesce(site_setting('base_url'), '');
BEGIN
    -- an empty value is no value (clients send "season=" and the like)
    SELECT coalesce(jsonb_object_agg(k, v), '{}') INTO a
    FROM jsonb_each(p_args) AS e(k, v) WHERE v <> '""';

    IF fn = '' THEN
        RETURN QUERY SELECT * FROM torznab_error(200, 'Missing parameter');
        RETURN;
    END IF;

    IF fn = 'caps' THEN
        RETURN QUERY SELECT * FROM torznab_caps();
        RETURN;
    END IF;

    IF fn NOT IN ('search', 'tvsearch', 'tv-search', 'movie',
                  'movie-search')
    THEN
        RETURN QUERY SELECT * FROM torznab_error(202, 'No such function');
        RETURN;
    END IF;

    -- without apikey= clients read "Missing parameter" as "needs a key"
    IF p_key IS NULL THEN
        RETURN QUERY SELECT * FROM torznab_error(200, 'Missing parameter');
        RETURN;
    END IF;

    SELECT * INTO me FROM api_user(p_key);

    IF me.id IS NULL THEN
        RETURN QUERY SELECT * FROM torznab_error(100,
                                                 'Incorrect user credentials');
        RETURN;
    END IF;

    -- the forms of Torznab's own parameters (the search checks its
    -- filters itself)
    FOR chk IN
        SELECT v.name, v.pattern FROM (VALUES
            ('offset', '^[0-9]{1,9}$'),
            ('limit', '^[0-9]{1,9}$'),
            ('cat', '^[0-9]{1,9}(,[0-9]{1,9})*$'),
            ('extended', '^(0|1|true|false)$'),
            ('tvdbid', '^[0-9]{1,9}$'),
            ('tmdbid', '^[0-9]{1,9}$'),
            ('imdbid', '^(tt)?[0-9]{1,9}$'),
            ('season', '^[0-9]{1,4}$'),
            ('ep', '^([0-9]{1,4}|[0-9]{1,2}/[0-9]{1,2})$'),
            ('hardsub', '^(0|1|true|false)$'),
            ('otl', '^(0|1|true|false)$'),
            ('mtl', '^(0|1|true|false)$')) AS v(name, pattern)
    LOOP
        IF lower(a->>chk.name) !~ chk.pattern THEN
            RETURN QUERY SELECT * FROM torznab_error(201,
                                                     'Incorrect parameter');
            RETURN;
        END IF;
    END LOOP;

    lim := least(coalesce(nullif((a->>'limit')::int, 0),
                          torznab_limit(false)),
                 torznab_limit(true));
    off := coalesce((a->>'offset')::bigint, 0);

    -- ids no item carries
    IF a ?| ARRAY['rid', 'tvmazeid', 'traktid', 'doubanid'] THEN
        empty := true;
    END IF;

    -- cat: each asked category stands for its whole family (5030 TV/SD
    -- is TV, as Sonarr asks by default): the kinds of item those hold
    IF a ? 'cat' THEN
        SELECT array_agg(DISTINCT c.movie) INTO kinds
        FROM unnest(string_to_array(a->>'cat', ',')::int[]) AS r(id)
        JOIN torznab_categories c ON c.id / 1000 = r.id / 1000;

        IF kinds IS NULL THEN
            empty := true;
        END IF;
    END IF;

    -- the media the ids name, all of them at once
    IF a ?| ARRAY['tvdbid', 'tmdbid', 'imdbid'] THEN
        SELECT coalesce(array_agg(m.id), '{}') INTO media_ids
        FROM media m
        WHERE (NOT a ? 'tvdbid' OR m.tvdb_id = (a->>'tvdbid')::int)
          AND (NOT a ? 'tmdbid' OR m.tmdb_id = (a->>'tmdbid')::int)
          AND (NOT a ? 'imdbid'
               OR ltrim(substring(m.imdb_id FROM '^tt([0-9]+)$'), '0')
                  = ltrim(substring(lower(a->>'imdbid') FROM '[0-9]+'),
                          '0'));

        IF cardinality(media_ids) = 0 THEN
            empty := true;
        END IF;
    END IF;

    -- season (00: specials) and ep: a number, or MM/DD of a daily show
    -- whose "season" is the year
    season := (a->>'season')::int;
    md := regexp_match(a->>'ep', '^([0-9]{1,2})/([0-9]{1,2})$');

    IF md IS NOT NULL THEN
        BEGIN
            ep := jsonb_build_object('air_date',
                      make_date(coalesce(season, 0), md[1]::int,
                                md[2]::int));
        EXCEPTION WHEN datetime_field_overflow OR invalid_parameter_value
        THEN
            RETURN QUERY SELECT * FROM torznab_error(201,
                                                     'Incorrect parameter');
            RETURN;
        END;
    ELSE
        IF season IS NOT NULL THEN
            ep := ep || jsonb_build_object('season', season);
        END IF;

        IF a ? 'ep' THEN
            ep := ep || jsonb_build_object('episode', (a->>'ep')::int);
        END IF;
    END IF;

    s := torznab_search_args(btrim(coalesce(a->>'q', '')), lim, off)
         -- the JSON API's filters, as they are
         || (SELECT coalesce(jsonb_object_agg(k, a->k), '{}')
             FROM unnest(ARRAY['media_id', 'levels', 'video_codec',
                               'video_type', 'audio_lang', 'fansub_lang',
                               'sub_lang', 'group_id', 'uploader_id',
                               'before', 'after']) AS k
             WHERE a ? k)
         || (SELECT coalesce(jsonb_object_agg(k,
                        lower(a->>k) IN ('1', 'true')), '{}')
             FROM unnest(ARRAY['hardsub', 'otl', 'mtl']) AS k
             WHERE a ? k);

    IF cardinality(kinds) = 1 THEN
        s := s || jsonb_build_object('movie', kinds[1]);
    END IF;

    IF media_ids IS NOT NULL THEN
        s := s || jsonb_build_object('media_ids', to_jsonb(media_ids));
    END IF;

    IF ep <> '{}' THEN
        s := s || jsonb_build_object('episode', ep);
    END IF;

    IF NOT empty THEN
        SELECT * INTO page FROM api_search_ids(p_key, s);

        IF page.invalid IS NOT NULL THEN
            RETURN QUERY SELECT * FROM torznab_error(201,
                                                     'Incorrect parameter');
            RETURN;
        END IF;

        ids := page.ids;
    END IF;

    RETURN QUERY SELECT 200, 'application/rss+xml; charset=utf-8',
        NULL::text, convert_to(
        '<?xml version="1.0" encoding="UTF-8"?>' || E'\n'
        || '<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom" '
        || 'xmlns:torznab="http://torznab.com/schemas/2015/feed">' || E'\n'
        || '<channel>' || E'\n'
        || '<atom:link href="' || torznab_text(base || '/api/torznab/api')
        || '" rel="self" type="application/rss+xml"/>' || E'\n'
        || '<title>'
        || torznab_text(coalesce(site_setting('site_name'), 'ngx_tracker'))
        || '</title>' || E'\n'
        || '<description>Torznab feed</description>' || E'\n'
        || '<link>' || torznab_text(base || '/') || '</link>' || E'\n'
        || '<language>en-us</language>' || E'\n'
        -- the caller's own announce URL: a private tracker knows them by
        -- it, and it is the same on every request
        || CASE WHEN coalesce(cardinality(ids), 0) = 0 THEN ''
                ELSE torznab_items(ids,
                         api_search_urlencode(api_announce_url(me, false)),
                         base) END
        || '</channel>' || E'\n</rss>\n', 'UTF8');
END
$$;

-- The public feeds: the newest torrents (by feed time), all or of one
-- category (p_args->>'id': its slug), as Atom with public magnets.
CREATE FUNCTION api_rss(p_key text, p_args jsonb)
RETURNS TABLE (status int, content_type text, disposition text, body bytea)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    cat         torznab_categories;
    s           jsonb;
    page        record;
    base        text := coalesce(site_setting('base_url'), '');
    site        text := coalesce(site_setting('site_name'), 'ngx_tracker');
    self        text;
    tracker_enc text := api_search_urlencode(api_announce_url(NULL, true));
    entries     text;
    updated     timestamptz;
BEGIN
    s := torznab_search_args('', coalesce((p_args->>'limit')::int, 50), 0);
    self := base || '/api/rss/latest';

    IF p_args ? 'id' THEN
        SELECT * INTO cat FROM torznab_categories c
        WHERE c.slug = lower(p_args->>'id');

        IF cat.id IS NULL THEN
            RETURN QUERY SELECT 404, 'text/plain; charset=utf-8', NULL::text,
                                convert_to('Category not found.', 'UTF8');
            RETURN;
        END IF;

        s := s || jsonb_build_object('movie', cat.movie);
        self := base || '/api/rss/category/' || cat.slug;
    END IF;

    -- anonymous: what everyone sees, public magnets
    SELECT * INTO page FROM api_search_ids(NULL, s);

    SELECT string_agg(
        '<entry>'
        || '<id>' || torznab_text(base || '/torrents/' || t.id) || '</id>'
        || '<title>' || torznab_text(t.title) || '</title>'
        || '<updated>' || torznab_date3339(coalesce(t.rss_at, t.uploaded_at))
        || '</updated>'
        || '<published>' || torznab_date3339(t.uploaded_at)
        || '</published>'
        || '<author><name>'
        || torznab_text(coalesce(u.display_name, u.username, 'Anonymous'))
        || '</name></author>'
        || '<link rel="alternate" type="text/html" href="'
        || torznab_text(base || '/torrents/' || t.id) || '"/>'
        || '<link rel="enclosure" type="application/x-bittorrent" length="'
        || t.filesize || '" href="'
        || replace(api_search_magnet(t.info_hash, t.info_hash_v2,
               t.title_urlencoded, tracker_enc), '&', '&amp;')
        || '"/>'
        || '<category term="' || c.slug || '" label="'
        || torznab_text(c.name) || '"/>'
        || '<summary type="text">'
        || torznab_text(pg_size_pretty(t.filesize) || ', ' || t.seeders
                        || ' seeders, ' || t.leechers || ' leechers')
        || '</summary>'
        || '</entry>' || E'\n', '' ORDER BY x.ord),
        max(coalesce(t.rss_at, t.uploaded_at))
    INTO entries, updated
    FROM unnest(page.ids) WITH ORDINALITY AS x(id, ord)
    JOIN torrents t ON t.id = x.id
    LEFT JOIN users u ON u.id = t.uploader_id AND NOT t.anonymous
    JOIN torznab_categories c
        ON c.items AND c.movie = coalesce(t.media_id LIKE 'm%', false);

    RETURN QUERY SELECT 200, 'application/atom+xml; charset=utf-8',
        NULL::text, convert_to(
        '<?xml version="1.0" encoding="UTF-8"?>' || E'\n'
        || '<feed xmlns="http://www.w3.org/2005/Atom">' || E'\n'
        || '<id>' || torznab_text(self) || '</id>' || E'\n'
        || '<title>' || torznab_text(site || ': '
                                     || coalesce(cat.name, 'latest'))
        || '</title>' || E'\n'
        || '<updated>'
        || torznab_date3339(coalesce(updated, 'epoch'::timestamptz))
        || '</updated>' || E'\n'
        || '<link rel="self" type="application/atom+xml" href="'
        || torznab_text(self) || '"/>' || E'\n'
        || '<link rel="alternate" type="text/html" href="'
        || torznab_text(base || '/') || '"/>' || E'\n'
        || '<generator>ngx_tracker</generator>' || E'\n'
        || coalesce(entries, '')
        || '</feed>' || E'\n', 'UTF8');
END
$$;
