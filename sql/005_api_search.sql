-- 005_api_search: GET /torrents/search.
--
-- api_torrents_search(p_key, p_args) reads the query's "hints" (codec
-- words, an info hash, sNN / sNNeNN with a media_id), builds one statement
-- from the filters that are actually set (EXECUTE, so each combination gets
-- its own plan over the partial indexes of 001 and the ones below), takes
-- one page of ids plus one row to know whether there is more, and renders
-- that page with a single set-based query.

-- "best" is level descending with unknown levels last; (level, id) read
-- backwards would put them first
CREATE INDEX IF NOT EXISTS torrents_listed_best ON torrents
    ((coalesce(level, -2)), id) WHERE status = 1 AND deleted IS NULL;

-- before/after
CREATE INDEX IF NOT EXISTS torrents_listed_uploaded_at ON torrents
    (uploaded_at) WHERE status = 1 AND deleted IS NULL;

-- RFC 3986 percent-encoding of everything but the unreserved characters.
-- Titles are nearly always printable ASCII: those take a chain of
-- replace() calls (each one pass in C); anything else goes character by
-- character.
CREATE FUNCTION api_search_urlencode(p text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN p ~ '^[ -~]*$' THEN
        replace(replace(replace(replace(replace(replace(replace(replace(
        replace(replace(replace(replace(replace(replace(replace(replace(
        replace(replace(replace(replace(replace(replace(replace(replace(
        replace(replace(replace(replace(replace(
        p, '%', '%25'), ' ', '%20'), '!', '%21'), '"', '%22'), '#', '%23'),
        '$', '%24'), '&', '%26'), '''', '%27'), '(', '%28'), ')', '%29'),
        '*', '%2A'), '+', '%2B'), ',', '%2C'), '/', '%2F'), ':', '%3A'),
        ';', '%3B'), '<', '%3C'), '=', '%3D'), '>', '%3E'), '?', '%3F'),
        '@', '%40'), '[', '%5B'), '\', '%5C'), ']', '%5D'), '^', '%5E'),
        '`', '%60'), '{', '%7B'), '|', '%7C'), '}', '%7D')
    ELSE (
        SELECT coalesce(string_agg(
                   CASE WHEN c ~ '^[A-Za-z0-9._~-]$' THEN c
                        ELSE upper(regexp_replace(
                                 encode(convert_to(c, 'UTF8'), 'hex'),
                                 '(..)', '%\1', 'g')) END,
                   '' ORDER BY i), '')
        FROM regexp_split_to_table(p, '') WITH ORDINALITY AS s(c, i))
    END
$$;

-- The magnet's dn, encoded once when the title is written rather than for
-- every result of every search (a fifth of a page's rendering otherwise).
-- Not indexed: the tracker's updates of the row stay HOT.
ALTER TABLE torrents ADD COLUMN IF NOT EXISTS title_urlencoded text
    GENERATED ALWAYS AS (api_search_urlencode(title)) STORED;

-- a magnet: v1 hash, v2 multihash for hybrids, name and one tracker (both
-- already percent-encoded)
CREATE FUNCTION api_search_magnet(p_hash bytea, p_hash_v2 bytea,
                                  p_title_enc text, p_tracker_enc text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT 'magnet:?xt=urn:btih:' || encode(p_hash, 'hex')
        || CASE WHEN p_hash_v2 IS NOT NULL
                THEN '&xt=urn:btmh:1220' || encode(p_hash_v2, 'hex')
                ELSE '' END
        || '&dn=' || p_title_enc
        || coalesce('&tr=' || p_tracker_enc, '')   -- no tracker configured
$$;

-- the title with the tags automation software filters on (MTL, OTL, HS,
-- L level, V video type, C codec, A-/F-/S- languages), when none is stored
CREATE FUNCTION api_search_auto_title(t torrents) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$   -- STABLE as concat(): inlined
    SELECT coalesce(t.auto_title,
        t.title || ' {Tags:'
        || concat(CASE WHEN t.mtl THEN 'MTL;' END,
                  CASE WHEN t.otl THEN 'OTL;' END,
                  CASE WHEN t.hardsub THEN 'HS;' END,
                  'L' || t.level || ';',
                  'V' || t.video_type || ';',
                  'C' || t.video_codec || ';',
                  'A-' || nullif(t.audio_lang, '') || ';',
                  'F-' || nullif(t.fsub_lang, '') || ';',
                  'S-' || nullif(t.sub_lang, '') || ';')
        || '}')
$$;

-- A media object as the search's media fields show it, in the reference's
-- key order, with one more key (similarity, episodes) when given.  The
-- search writes its answer as JSON text: json keeps the order jsonb loses.
CREATE FUNCTION api_search_media(m media, p_key text DEFAULT NULL,
                                 p_value json DEFAULT NULL)
RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT left(json_build_object(
        'id', m.id, 'title', m.title, 'year', m.year,
        'genres', to_json(m.genres), 'overview', m.overview,
        'status', m.status, 'banner_url', m.banner_url,
        'runtime', m.runtime, 'tvdbId', m.tvdb_id, 'tmdbId', m.tmdb_id,
        'imdbId', m.imdb_id,
        'alternate_titles', to_json(m.alternate_titles))::text, -1)
        || CASE WHEN p_key IS NOT NULL
                THEN ', ' || to_json(p_key) || ' : ' || p_value::text
                ELSE '' END
        || '}'
$$;

-- a list parameter of the wrong form, as the schema's pattern keyword
-- would report it
CREATE FUNCTION api_search_invalid(p_name text, p_pattern text)
RETURNS TABLE (status int, content_type text, disposition text, body bytea)
LANGUAGE sql IMMUTABLE AS $$
    SELECT 400, NULL::text, NULL::text, convert_to(jsonb_build_object(
        'error', true,
        'message', format('Data provided was invalid: ''%s'' must match '
                          'pattern "%s".', p_name, p_pattern),
        'validate_errors', jsonb_build_array(jsonb_build_object(
            'instancePath', '/' || p_name,
            'schemaPath', '#/properties/' || p_name || '/pattern',
            'keyword', 'pattern',
            'params', jsonb_build_object('pattern', p_pattern),
            'message', format('must match pattern "%s"', p_pattern))))::text,
        'UTF8')
$$;

-- codec words of a query: the ids of the video codec table, and its names
CREATE FUNCTION api_search_codec(p_word text) RETURNS int
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE regexp_replace(lower(p_word), '[^a-z0-9]', '', 'g')
        WHEN 'avc' THEN 1 WHEN 'h264' THEN 1 WHEN 'x264' THEN 1
        WHEN 'hevc' THEN 2 WHEN 'h265' THEN 2 WHEN 'x265' THEN 2
        WHEN 'av1' THEN 3
        WHEN 'vp9' THEN 4
        WHEN 'mpeg2' THEN 5
        WHEN 'xvid' THEN 6 WHEN 'divx' THEN 6
        WHEN 'wmv' THEN 7
        WHEN 'vc1' THEN 8
    END
$$;

CREATE FUNCTION api_search_codec_name(p_codec int) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT (ARRAY['H264', 'H265', 'AV1', 'VP9', 'MPEG-2', 'MPEG-4', 'WMV',
                  'VC1'])[p_codec]
$$;

-- "a,b" -> {a,b}, language codes through their aliases
CREATE FUNCTION api_search_langs(p text) RETURNS text[]
LANGUAGE sql STABLE AS $$
    SELECT array_agg(DISTINCT coalesce(a.code, l))
    FROM unnest(string_to_array(lower(p), ',')) l
    LEFT JOIN lang_aliases a ON a.alias = l
$$;

-- "col ILIKE p1 AND col ILIKE p2 ...", for EXECUTE
CREATE FUNCTION api_search_ilike(p_col text, p_pats text[]) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT string_agg(format('%s ILIKE %L', p_col, x), ' AND ')
    FROM unnest(p_pats) x
$$;

-- The search itself: the caller, the hints, the filters and one page of
-- ids (more: a next page exists).  api_torrents_search below renders its
-- JSON from it; Torznab and the RSS feeds (sql/014_torznab.sql) render
-- theirs from the same page.  invalid: {parameter, pattern} of a list or
-- id of the wrong form, nothing else set.
-- Arguments no route declares, so only SQL callers (014) pass them:
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
            -- rss_at (sql/014_torznab.sql): put back on top of the feed
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
