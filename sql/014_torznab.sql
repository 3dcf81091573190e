-- 014_torznab: Torznab for Sonarr / Radarr / Prowlarr / Jackett, and the
-- public RSS (Atom) feeds for feed readers.
--
--   GET /api/torznab/api?t=...           api_torznab  (tracker_torznab)
--   GET /api/rss/latest                  api_rss      (tracker_rss)
--   GET /api/rss/category/<slug>         api_rss
--
-- Both take one page of ids from the JSON API's search (api_search_ids of
-- sql/005: the same filters, sorts and indexes) and write XML as text.
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
