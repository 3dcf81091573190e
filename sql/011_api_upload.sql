-- 011_api_upload: uploads (src/ngx_tracker_api_upload.c).
--
--   POST /upload            api_upload
--   PUT  /upload/checks     api_upload_checks
--   PUT  /upload/mediainfo  api_upload_mediainfo
--
-- The module has checked the flat strings and booleans, and for POST
-- /upload decoded and parsed the .torrent: p_args->'torrent_meta' holds
-- its facts (info hashes, files, trackers; see
-- src/ngx_tracker_torrent_meta.h) and p_args->>'torrent' the base64 the
-- client sent.  What remains (numbers that may be null or numeric strings,
-- nested objects) is checked here against a small JSON schema, with
-- errors in the same Ajv shape as the module's.

-- Ajv-shaped checks --------------------------------------------------------

CREATE FUNCTION api_upload_error(p_path text, p_spath text, p_keyword text,
                                 p_params jsonb, p_message text)
RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    SELECT jsonb_build_object('instancePath', p_path, 'schemaPath', p_spath,
                              'keyword', p_keyword, 'params', p_params,
                              'message', p_message)
$$;

CREATE FUNCTION api_upload_invalid(e jsonb)
RETURNS TABLE (status int, content_type text, disposition text, body bytea)
LANGUAGE sql IMMUTABLE AS $$
    SELECT 400, NULL::text, NULL::text, convert_to(jsonb_build_object(
        'error', true,
        'message', 'Data provided was invalid: '
            || CASE WHEN e->>'instancePath' = '' THEN ''
                    ELSE '''' || substr(e->>'instancePath', 2) || ''' ' END
            || (e->>'message') || '.',
        'validate_errors', jsonb_build_array(e))::text, 'UTF8')
$$;

-- v has JSON type t as Ajv sees it (an integer is a number without a
-- fraction)
CREATE FUNCTION api_upload_is(v jsonb, t text) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE t
        WHEN 'integer' THEN jsonb_typeof(v) = 'number'
                            AND v::text::numeric = trunc(v::text::numeric)
        ELSE jsonb_typeof(v) = t END
$$;

-- Ajv's coerceTypes: "1" is an integer, "" a null, and so on; NULL when
-- v cannot become a t
CREATE FUNCTION api_upload_coerce(v jsonb, t text) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE t
        WHEN 'integer' THEN CASE
            WHEN jsonb_typeof(v) = 'string'
                 AND v #>> '{}' ~ '^-?[0-9]{1,15}$'
                THEN to_jsonb((v #>> '{}')::bigint)
            WHEN jsonb_typeof(v) = 'boolean'
                THEN to_jsonb(CASE WHEN v = 'true' THEN 1 ELSE 0 END)
            WHEN jsonb_typeof(v) = 'null' THEN '0'::jsonb END
        WHEN 'null' THEN CASE
            WHEN v IN ('""', '0', 'false') THEN 'null'::jsonb END
        WHEN 'string' THEN CASE
            WHEN jsonb_typeof(v) IN ('number', 'boolean')
                THEN to_jsonb(v::text)
            WHEN jsonb_typeof(v) = 'null' THEN '""'::jsonb END
        WHEN 'boolean' THEN CASE
            WHEN v IN ('"true"', '1') THEN 'true'::jsonb
            WHEN v IN ('"false"', '0', 'null') THEN 'false'::jsonb END
    END
$$;

-- The first error of v against schema s (Ajv's order: type, then the
-- keywords of that type; required before properties), and v coerced.
-- Schemas use: type (a name or an array), minimum, maximum, minLength,
-- maxLength, maxItems, items, required, and "properties" as an ARRAY of
-- [name, schema] pairs, so that properties are checked in order.
CREATE FUNCTION api_upload_check(v jsonb, s jsonb, p_path text,
                                 p_spath text, OUT err jsonb, OUT val jsonb)
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    types text[];
    t     text;
    c     jsonb;
    k     text;
    prop  jsonb;
    i     int;
    r     record;
BEGIN
    val := v;

    IF s ? 'type' THEN
        types := CASE jsonb_typeof(s->'type')
                 WHEN 'array' THEN ARRAY(SELECT jsonb_array_elements_text(
                                             s->'type'))
                 ELSE ARRAY[s->>'type'] END;
        c := NULL;

        FOREACH t IN ARRAY types LOOP
            IF api_upload_is(v, t) THEN
                c := v;
                EXIT;
            END IF;
        END LOOP;

        IF c IS NULL THEN
            FOREACH t IN ARRAY types LOOP
                c := api_upload_coerce(v, t);
                EXIT WHEN c IS NOT NULL;
            END LOOP;
        END IF;

        IF c IS NULL THEN
            err := api_upload_error(p_path, p_spath || '/type', 'type',
                       jsonb_build_object('type', s->'type'),
                       'must be ' || array_to_string(types, ','));
            RETURN;
        END IF;

        val := c;
    END IF;

    CASE jsonb_typeof(val)
    WHEN 'number' THEN
        IF s ? 'minimum' AND val::text::numeric < (s->>'minimum')::numeric
        THEN
            err := api_upload_error(p_path, p_spath || '/minimum', 'minimum',
                       jsonb_build_object('comparison', '>=',
                                          'limit', s->'minimum'),
                       'must be >= ' || (s->>'minimum'));
        ELSIF s ? 'maximum'
              AND val::text::numeric > (s->>'maximum')::numeric
        THEN
            err := api_upload_error(p_path, p_spath || '/maximum', 'maximum',
                       jsonb_build_object('comparison', '<=',
                                          'limit', s->'maximum'),
                       'must be <= ' || (s->>'maximum'));
        END IF;

    WHEN 'string' THEN
        IF s ? 'maxLength'
           AND length(val #>> '{}') > (s->>'maxLength')::int
        THEN
            err := api_upload_error(p_path, p_spath || '/maxLength',
                       'maxLength',
                       jsonb_build_object('limit', s->'maxLength'),
                       'must NOT have more than ' || (s->>'maxLength')
                       || ' characters');
        ELSIF s ? 'minLength'
              AND length(val #>> '{}') < (s->>'minLength')::int
        THEN
            err := api_upload_error(p_path, p_spath || '/minLength',
                       'minLength',
                       jsonb_build_object('limit', s->'minLength'),
                       'must NOT have fewer than ' || (s->>'minLength')
                       || ' characters');
        END IF;

    WHEN 'array' THEN
        IF s ? 'maxItems'
           AND jsonb_array_length(val) > (s->>'maxItems')::int
        THEN
            err := api_upload_error(p_path, p_spath || '/maxItems',
                       'maxItems',
                       jsonb_build_object('limit', s->'maxItems'),
                       'must NOT have more than ' || (s->>'maxItems')
                       || ' items');
            RETURN;
        END IF;

        IF s ? 'items' THEN
            FOR i IN 0 .. jsonb_array_length(val) - 1 LOOP
                r := api_upload_check(val->i, s->'items',
                                      p_path || '/' || i,
                                      p_spath || '/items');
                IF r.err IS NOT NULL THEN
                    err := r.err;
                    RETURN;
                END IF;
                -- rewritten only when coerced: jsonb_set copies the array
                IF r.val IS DISTINCT FROM val->i THEN
                    val := jsonb_set(val, ARRAY[i::text], r.val);
                END IF;
            END LOOP;
        END IF;

    WHEN 'object' THEN
        FOR k IN SELECT jsonb_array_elements_text(s->'required') LOOP
            IF NOT val ? k THEN
                err := api_upload_error(p_path, p_spath || '/required',
                           'required',
                           jsonb_build_object('missingProperty', k),
                           'must have required property ''' || k || '''');
                RETURN;
            END IF;
        END LOOP;

        FOR prop IN SELECT jsonb_array_elements(s->'properties') LOOP
            k := prop->>0;
            CONTINUE WHEN NOT val ? k;
            r := api_upload_check(val->k, prop->1, p_path || '/' || k,
                                  p_spath || '/properties/' || k);
            IF r.err IS NOT NULL THEN
                err := r.err;
                RETURN;
            END IF;
            IF r.val IS DISTINCT FROM val->k THEN
                val := jsonb_set(val, ARRAY[k], r.val);
            END IF;
        END LOOP;

    ELSE
        NULL;
    END CASE;
END
$$;

-- the schemas of what the module does not check itself
CREATE FUNCTION api_upload_schema(p_route text) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    WITH d AS (SELECT
        '{"type": ["integer", "null"], "minimum": 0, "maximum": 99}'::jsonb
            AS category_id,
        '{"type": "object", "required": ["id", "members"], "properties": [
            ["id", {"type": "string", "maxLength": 20}],
            ["tag", {"type": "string", "maxLength": 64}],
            ["members", {"type": "array", "maxItems": 50, "items": {
                "type": "object", "required": ["id", "role"],
                "properties": [
                    ["id", {"type": ["string", "null"], "maxLength": 20}],
                    ["role", {"type": "string", "maxLength": 64}],
                    ["display_name", {"type": "string", "maxLength": 32}]
                ]}}]]}'::jsonb AS primary_group)
    SELECT CASE p_route
    WHEN 'upload' THEN jsonb_build_object(
        'type', 'object',
        'required', '["category", "video_type", "video_codec", "level",
                      "secondary_groups"]'::jsonb,
        'properties', jsonb_build_array(
            '["category", {"type": "integer", "minimum": 1,
                           "maximum": 1}]'::jsonb,
            jsonb_build_array('video_type', d.category_id),
            jsonb_build_array('video_codec', d.category_id),
            '["level", {"type": "integer", "minimum": -1,
                        "maximum": 4}]'::jsonb,
            jsonb_build_array('primary_group', d.primary_group),
            '["secondary_groups", {"type": "array", "maxItems": 50,
                "items": {"type": "object", "required": ["id"],
                          "properties": [
                              ["id", {"type": "string", "maxLength": 20}],
                              ["role", {"type": ["string", "null"],
                                        "maxLength": 64}]]}}]'::jsonb))
    WHEN 'checks' THEN jsonb_build_object(
        'type', 'object',
        'required', '["files", "video_type", "video_codec",
                      "level"]'::jsonb,
        'properties', jsonb_build_array(
            '["files", {"type": "array", "maxItems": 10000,
                "items": {"type": "object", "required": ["path"],
                          "properties": [
                              ["path", {"type": "string",
                                        "maxLength": 4096}]]}}]'::jsonb,
            jsonb_build_array('video_type', d.category_id),
            jsonb_build_array('video_codec', d.category_id),
            '["level", {"type": ["integer", "null"], "minimum": -1,
                        "maximum": 4}]'::jsonb,
            jsonb_build_array('primary_group',
                jsonb_set(d.primary_group, '{required}', '["members"]')
                || jsonb_build_object('properties', jsonb_set(
                       d.primary_group->'properties', '{0,1,type}',
                       '["string", "null"]'))),
            '["announce_urls", {"type": "array", "maxItems": 1000,
                "items": {"type": "string", "maxLength": 4096}}]'::jsonb,
            '["raw_announce_urls", {"type": "array", "maxItems": 1000,
                "items": {"type": "array", "maxItems": 1000,
                          "items": {"type": "string",
                                    "maxLength": 4096}}}]'::jsonb))
    WHEN 'mediainfo' THEN
        '{"type": "object", "required": ["mediainfo"], "properties": [
            ["mediainfo", {"type": ["string", "object"],
                           "maxLength": 65536}]]}'::jsonb
    END
    FROM d
$$;

-- the body checked against a route's schema and coerced, or the 400 to
-- answer with
CREATE FUNCTION api_upload_body(p_args jsonb, p_route text,
                                OUT b jsonb, OUT refusal bytea)
LANGUAGE sql IMMUTABLE AS $$
    SELECT c.val, (SELECT i.body FROM api_upload_invalid(c.err) i
                   WHERE c.err IS NOT NULL)
    FROM api_upload_check(p_args->'body', api_upload_schema(p_route),
                          '', '#') c
$$;

-- Release names ------------------------------------------------------------

-- Sonarr's quality ids and names, which the reference's parsedData uses
CREATE FUNCTION api_upload_quality(p_source text, p_res int, p_version int)
RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    SELECT jsonb_build_object('id', i.id, 'name', q.name,
                              'source', p_source, 'resolution', p_res,
                              'version', p_version)
    FROM (SELECT CASE
        WHEN p_source = 'television' THEN CASE p_res
            WHEN 2160 THEN 16 WHEN 1080 THEN 9 WHEN 720 THEN 4 ELSE 1 END
        WHEN p_source = 'web' THEN CASE p_res
            WHEN 2160 THEN 18 WHEN 1080 THEN 3 WHEN 720 THEN 5 ELSE 8 END
        WHEN p_source = 'webRip' THEN CASE p_res
            WHEN 2160 THEN 17 WHEN 1080 THEN 15 WHEN 720 THEN 14 ELSE 12 END
        WHEN p_source = 'dvd' THEN 2
        WHEN p_source = 'bluray' THEN CASE p_res
            WHEN 2160 THEN 19 WHEN 1080 THEN 7 WHEN 720 THEN 6
            WHEN 576 THEN 22 ELSE 13 END
        WHEN p_source = 'blurayRaw' THEN CASE p_res
            WHEN 2160 THEN 21 ELSE 20 END
        ELSE 0 END AS id) i,
    LATERAL (SELECT CASE i.id
        WHEN 0 THEN 'Unknown' WHEN 1 THEN 'SDTV' WHEN 2 THEN 'DVD'
        WHEN 3 THEN 'WEBDL-1080p' WHEN 4 THEN 'HDTV-720p'
        WHEN 5 THEN 'WEBDL-720p' WHEN 6 THEN 'Bluray-720p'
        WHEN 7 THEN 'Bluray-1080p' WHEN 8 THEN 'WEBDL-480p'
        WHEN 9 THEN 'HDTV-1080p' WHEN 12 THEN 'WEBRip-480p'
        WHEN 13 THEN 'Bluray-480p' WHEN 14 THEN 'WEBRip-720p'
        WHEN 15 THEN 'WEBRip-1080p' WHEN 16 THEN 'HDTV-2160p'
        WHEN 17 THEN 'WEBRip-2160p' WHEN 18 THEN 'WEBDL-2160p'
        WHEN 19 THEN 'Bluray-2160p' WHEN 20 THEN 'Bluray-1080p Remux'
        WHEN 21 THEN 'Bluray-2160p Remux' WHEN 22 THEN 'Bluray-576p'
        END AS name) q
$$;

-- A release name taken apart:
--   {"group", "title", "tokens", "season", "from", "to", "absolute",
--    "version", "quality", "codec"}
-- group: "[Group] ..." or a scene "...-Group"; the title ends at the
-- episode marker (S01E02[-E03], " - 01[v2][ ~ 12]", S01 / Season 1,
-- "[01-12]") or else at the first bracket or year; tokens are the rest.
-- Markers are found unanchored (the leftmost one) and cut out by
-- position: a lazy "^(.*?)" prefix costs PostgreSQL's regex engine a
-- millisecond or more per pattern.
CREATE FUNCTION api_upload_parse_title(p_title text) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    s        text := btrim(regexp_replace(p_title, '\s+', ' ', 'g'));
    grp      text;
    m        text[];
    pat      text;
    pos      int;
    title    text;
    tokens   text := '';
    season   int;
    e_from   int;
    e_to     int;
    absolute boolean := false;
    version  int := 1;
    res      int;
    src      int;
    source   text;
    codec    int;
BEGIN
    m := regexp_match(s, '^\[([^\]]{1,64})\] ?(.*)$');
    IF m IS NOT NULL THEN
        grp := btrim(m[1]);
        s := m[2];
    ELSIF s ~ '[. ]' THEN
        grp := (regexp_match(s, '-([A-Za-z0-9]{2,32})(\.[a-z0-9]{2,4})?$'))[1];
    END IF;

    -- episode markers, the most specific first
    pat := '\m[Ss](\d{1,2})[Ee](\d{1,4})(?:[vV](\d))?(?:-?[Ee]?(\d{1,4}))?'
           '(?:[vV]\d)?\M';
    m := NULL;
    IF s ~ '[Ss][0-9]{1,2}[Ee][0-9]' THEN
        m := regexp_match(s, pat);
    END IF;
    IF m IS NOT NULL THEN
        season := m[1]::int; e_from := m[2]::int;
        version := coalesce(m[3]::int, 1); e_to := m[4]::int;
    ELSE
        pat := ' +- +(\d{1,4})(?:[vV](\d))?(?: ?[-~] ?(\d{1,4})(?:[vV]\d)?)?'
               '(?=[ \[\(.]|$)';
        IF s ~ ' - [0-9]' THEN
            m := regexp_match(s, pat);
        END IF;
        IF m IS NOT NULL THEN
            e_from := m[1]::int; version := coalesce(m[2]::int, 1);
            e_to := m[3]::int; absolute := true;
        END IF;
    END IF;

    IF m IS NULL AND s ~* '\m(s|season )[0-9]' THEN
        pat := '\m(?:[Ss](\d{1,2})|[Ss]eason (\d{1,2}))\M';
        m := regexp_match(s, pat);
        IF m IS NOT NULL THEN
            season := coalesce(m[1], m[2])::int;
        END IF;
    END IF;

    IF m IS NULL AND s ~ '[\[\(][0-9]' THEN
        pat := ' ?[\[\(](\d{1,4}) ?[-~] ?(\d{1,4})[\]\)]';
        m := regexp_match(s, pat);
        IF m IS NOT NULL THEN
            e_from := m[1]::int; e_to := m[2]::int; absolute := true;
        END IF;
    END IF;

    IF m IS NOT NULL THEN
        pos := regexp_instr(s, pat);
        title := left(s, pos - 1);
        tokens := substr(s, regexp_instr(s, pat, 1, 1, 1));
    END IF;

    IF coalesce(title, '') = '' THEN
        -- no marker, or one at the very start: the title ends at a bracket
        pos := regexp_instr(s, ' ?[\[\(]');
        IF pos > 1 THEN
            title := left(s, pos - 1);
            tokens := substr(s, pos);
        ELSIF title IS NULL THEN
            title := s;
        END IF;
    END IF;

    -- "Show.Name.2020" style: dots and underscores were spaces
    IF title !~ ' ' THEN
        title := translate(title, '._', '  ');
    END IF;

    title := btrim(regexp_replace(btrim(title, ' ._-'), '\((19|20)\d\d\)$',
                                  ''), ' ._-');

    IF e_to IS NOT NULL AND e_to < e_from THEN
        e_to := NULL;
    END IF;

    -- resolution, source and codec from the words (one split, no regex
    -- per token kind); "web-dl", "h.264", "blu-ray" are two words
    SELECT max(CASE WHEN k IN ('2160p', '2160i', '4k', 'uhd') THEN 2160
                    WHEN k IN ('1080p', '1080i', '720p', '720i', '576p',
                               '576i', '480p', '480i')
                    THEN left(k, -1)::int END),
           min(CASE WHEN k = 'remux' THEN 1
                    WHEN k IN ('bluray', 'bd', 'bdrip', 'bdmv') THEN 2
                    WHEN k = 'webrip' THEN 3
                    WHEN k IN ('web', 'webdl', 'amzn', 'nf', 'cr', 'dsnp',
                               'hidive', 'adn') THEN 4
                    WHEN k IN ('dvd', 'dvdrip', 'dvd5', 'dvd9') THEN 5
                    WHEN k IN ('hdtv', 'tv', 'tvrip', 'hdtvrip') THEN 6 END),
           (array_agg(CASE
                    WHEN k IN ('x264', 'h264', 'avc') THEN 1
                    WHEN k IN ('x265', 'h265', 'hevc') THEN 2
                    WHEN k = 'av1' THEN 3 WHEN k = 'vp9' THEN 4
                    WHEN k = 'mpeg2' THEN 5
                    WHEN k IN ('xvid', 'divx') THEN 6
                    WHEN k = 'vc1' THEN 8 END ORDER BY n)
                FILTER (WHERE k IN ('x264', 'h264', 'avc', 'x265', 'h265',
                                    'hevc', 'av1', 'vp9', 'mpeg2', 'xvid',
                                    'divx', 'vc1')))[1]
      INTO res, src, codec
      FROM (SELECT CASE WHEN w || nx IN ('webdl', 'webrip', 'bluray',
                                         'bdrip', 'bdmv', 'dvdrip', 'tvrip',
                                         'hdtvrip', 'h264', 'h265', 'mpeg2',
                                         'vc1')
                        THEN w || nx ELSE w END AS k, n
            FROM (SELECT w, coalesce(lead(w) OVER (ORDER BY n), '') AS nx, n
                  FROM unnest(regexp_split_to_array(lower(s), '[^a-z0-9]+'))
                       WITH ORDINALITY AS u(w, n)) z) tok;

    source := CASE src
        WHEN 1 THEN 'blurayRaw' WHEN 2 THEN 'bluray' WHEN 3 THEN 'webRip'
        WHEN 4 THEN 'web' WHEN 5 THEN 'dvd' WHEN 6 THEN 'television'
        ELSE CASE WHEN res IN (720, 1080, 2160) THEN 'television'
                  ELSE 'unknown' END END;

    RETURN jsonb_build_object(
        'group', grp, 'title', title, 'tokens', tokens,
        'season', season, 'from', e_from, 'to', e_to,
        'absolute', absolute, 'version', version, 'codec', codec,
        'quality', api_upload_quality(source, coalesce(res, 0), version));
END
$$;

-- the media a parsed title names: its own title or an alternate one
-- closest by trigram similarity, of the right kind (movie or series)
CREATE FUNCTION api_upload_media(p_title text, p_movie boolean)
RETURNS media
LANGUAGE sql STABLE
SET pg_trgm.similarity_threshold = 0.45
AS $$
    SELECT m FROM media m
    WHERE (m.title % p_title
           OR text_array_join(m.alternate_titles) % p_title)
      AND m.movie = p_movie
    ORDER BY lower(m.title) = lower(p_title) DESC,
             greatest(similarity(m.title, p_title),
                      similarity(text_array_join(m.alternate_titles),
                                 p_title)) DESC,
             m.id
    LIMIT 1
$$;

-- the media's episodes the parse names: a season (and episodes of it),
-- or absolute numbers (season 1's numbers when there are none)
CREATE FUNCTION api_upload_episodes(p_media text, p jsonb)
RETURNS SETOF episodes
LANGUAGE sql STABLE AS $$
    SELECT e.* FROM episodes e
    WHERE e.media_id = p_media
      AND ((p->>'season' IS NOT NULL
            AND e.season = (p->>'season')::int
            AND (p->>'from' IS NULL
                 OR e.episode BETWEEN (p->>'from')::int
                     AND coalesce((p->>'to')::int, (p->>'from')::int)))
        OR (p->>'season' IS NULL AND p->>'from' IS NOT NULL
            AND coalesce(e.absolute,
                         CASE WHEN e.season = 1 THEN e.episode END)
                BETWEEN (p->>'from')::int
                    AND coalesce((p->>'to')::int, (p->>'from')::int)))
    ORDER BY e.season, e.episode
$$;

-- Rules --------------------------------------------------------------------

-- "a, B,jp" -> "a,b,ja": codes through their aliases, blanks and repeats
-- dropped; unknown codes are returned in p_unknown
CREATE FUNCTION api_upload_langs(p text, OUT langs text, OUT unknown text)
LANGUAGE sql STABLE AS $$
    SELECT coalesce(string_agg(c.code, ',' ORDER BY c.n)
                        FILTER (WHERE c.known), ''),
           min(c.code) FILTER (WHERE NOT c.known)
    FROM (SELECT coalesce(a.code, x.l) AS code, min(x.n) AS n,
                 bool_or(a.code IS NOT NULL OR lg.code IS NOT NULL) AS known
          FROM unnest(string_to_array(lower(p), ',')) WITH ORDINALITY
                   AS x0(l0, n),
               LATERAL (SELECT btrim(x0.l0) AS l, x0.n) x
          LEFT JOIN lang_aliases a ON a.alias = x.l
          LEFT JOIN langs lg ON lg.code = x.l
          WHERE x.l <> ''
          GROUP BY 1) c
$$;

-- The reference's fails and warns for an upload or its checks.
-- p: level, fansub_langs, audio_langs; p_urls: every announce URL;
-- p_group_tag: the primary group's tag (NULL: none); p_release: the
-- release group of the title.
CREATE FUNCTION api_upload_rules(p jsonb, p_urls text[], p_group_tag text,
                                 p_release text,
                                 OUT fails jsonb, OUT warns jsonb)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    tracker text := site_setting('public_tracker_url');
    ours    text[];
    others  text[];
    bad     text;
BEGIN
    fails := '[]';
    warns := '[]';

    -- ours: the public URL and passkey URLs below it
    SELECT coalesce(array_agg(u) FILTER (WHERE tracker IS NOT NULL
                        AND (u = tracker OR u LIKE tracker || '/%')), '{}'),
           coalesce(array_agg(u) FILTER (WHERE tracker IS NULL
                        OR NOT (u = tracker OR u LIKE tracker || '/%')),
                    '{}')
      INTO ours, others
      FROM unnest(p_urls) u WHERE btrim(u) <> '';

    IF cardinality(others) = 0 THEN
        fails := fails || to_jsonb('Torrents must have at least one backup '
                                   'tracker.'::text);
    END IF;

    IF (p->>'level')::int = -1 AND coalesce(p->>'fansub_langs', '') <> ''
    THEN
        fails := fails || to_jsonb('You have set sub level to "no subs", '
                                   'but you have added fansub languages.'
                                   ::text);
    END IF;

    IF p_release IS NOT NULL
       AND (p_group_tag IS NULL OR lower(p_group_tag) <> lower(p_release))
    THEN
        fails := fails || to_jsonb('You need to set your Primary Group to '
                                   'the "Release Group" found in your '
                                   'title.'::text);
    END IF;

    FOREACH bad IN ARRAY ARRAY['audio_langs', 'sub_langs', 'fansub_langs']
    LOOP
        IF (api_upload_langs(p->>bad)).unknown IS NOT NULL THEN
            fails := fails || to_jsonb(format('Unknown language "%s".',
                (api_upload_langs(p->>bad)).unknown));
        END IF;
    END LOOP;

    IF cardinality(ours) = 0 THEN
        warns := warns || to_jsonb('You have not included our public '
            'tracker URL in your torrent. If you plan to upload this '
            'torrent to other sites, you should make sure you include it.'
            ::text);
    END IF;

    IF coalesce(btrim(p->>'audio_langs'), '') = '' THEN
        warns := warns || to_jsonb('You have not added any audio languages, '
            'please make sure to include them if you have any audio '
            'tracks.'::text);
    END IF;
END
$$;

-- "Can't upload torrent due to parsing failures." and friends
CREATE FUNCTION api_upload_refusal(p_message text, p_fails jsonb,
                                   p_warns jsonb)
RETURNS TABLE (status int, content_type text, disposition text, body bytea)
LANGUAGE sql IMMUTABLE AS $$
    SELECT 400, NULL::text, NULL::text,
           convert_to(jsonb_build_object('error', true,
                                         'message', p_message,
                                         'fails', p_fails,
                                         'warns', p_warns)::text, 'UTF8')
$$;

-- What a title names: parsedData and the episodes' ids
CREATE FUNCTION api_upload_parsed(p_title text, p_movie boolean,
                                  OUT parsed jsonb, OUT media_id text,
                                  OUT episode_ids bigint[],
                                  OUT release text)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    p  jsonb := api_upload_parse_title(p_title);
    md media;
BEGIN
    release := p->>'group';

    IF p->>'title' <> '' THEN
        md := api_upload_media(p->>'title', p_movie);
    END IF;

    media_id := md.id;

    SELECT coalesce(jsonb_agg(jsonb_build_object(
               'id', e.id, 'title', e.title, 'season', e.season,
               'episode', e.episode, 'absolute', e.absolute)
               ORDER BY e.season, e.episode), '[]'),
           coalesce(array_agg(e.id ORDER BY e.season, e.episode), '{}')
      INTO parsed, episode_ids
      FROM api_upload_episodes(md.id, p) e
     WHERE md.id IS NOT NULL AND NOT p_movie;

    parsed := jsonb_build_object(
        'media', jsonb_build_object('torrentTitle', p->>'title',
                                    'releaseTokens', p->>'tokens')
                 || CASE WHEN md.id IS NULL THEN '{}'::jsonb
                    ELSE jsonb_build_object('title', md.title,
                                            'genres', to_jsonb(md.genres),
                                            'id', md.id) END,
        'episodes', parsed,
        'quality', p->'quality',
        'releaseGroup', p->'group');
END
$$;

-- PUT /upload/checks --------------------------------------------------------

CREATE FUNCTION api_upload_checks(p_key text, p_args jsonb)
RETURNS TABLE (status int, content_type text, disposition text, body bytea)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    u      users := api_user(p_key);
    chk    record;
    b      jsonb;
    pd     record;
    rules  record;
    urls   text[];
    tag    text;
    t      torrents;
    gid    bigint;
    upg    jsonb;
BEGIN
    IF u.id IS NULL THEN
        RETURN QUERY SELECT * FROM api_unauthorized();
        RETURN;
    END IF;

    chk := api_upload_body(p_args, 'checks');
    IF chk.refusal IS NOT NULL THEN
        RETURN QUERY SELECT 400, NULL::text, NULL::text, chk.refusal;
        RETURN;
    END IF;

    b := chk.b;
    pd := api_upload_parsed(p_args->>'title', (p_args->>'movie')::boolean);

    SELECT coalesce(array_agg(x), '{}') INTO urls FROM (
        SELECT jsonb_array_elements_text(coalesce(b->'announce_urls', '[]'))
        UNION ALL
        SELECT jsonb_array_elements_text(tier)
        FROM jsonb_array_elements(coalesce(b->'raw_announce_urls', '[]'))
             tier) s(x);

    gid := api_id(b #>> '{primary_group,id}');
    tag := coalesce(b #>> '{primary_group,tag}',
                    (SELECT g.tag FROM groups g WHERE g.id = gid));

    rules := api_upload_rules(p_args || jsonb_build_object('level',
                                  b->'level'), urls, tag, pd.release);

    t.title := p_args->>'title';
    t.otl := (p_args->>'otl')::boolean;
    t.mtl := (p_args->>'mtl')::boolean;
    t.hardsub := (p_args->>'hardsub')::boolean;
    t.level := (b->>'level')::int;
    t.video_type := (b->>'video_type')::int;
    t.video_codec := (b->>'video_codec')::int;
    t.audio_lang := (api_upload_langs(p_args->>'audio_langs')).langs;
    t.sub_lang := (api_upload_langs(p_args->>'sub_langs')).langs;
    t.fsub_lang := (api_upload_langs(p_args->>'fansub_langs')).langs;

    -- torrents of this group with this media and the same episodes
    SELECT coalesce(jsonb_agg(jsonb_build_object('id', o.id::text,
                                                 'title', o.title)
                              ORDER BY o.id), '[]')
      INTO upg
      FROM torrents o
      JOIN torrent_groups tg ON tg.torrent_id = o.id AND tg.is_primary
                            AND tg.group_id = gid
     WHERE pd.media_id IS NOT NULL AND o.media_id = pd.media_id
       AND o.deleted IS NULL AND o.upgraded_id IS NULL
       AND coalesce((SELECT array_agg(te.episode_id ORDER BY te.episode_id)
                     FROM torrent_episodes te WHERE te.torrent_id = o.id),
                    '{}')
           = (SELECT coalesce(array_agg(x ORDER BY x), '{}')
              FROM unnest(pd.episode_ids) x);

    RETURN QUERY SELECT * FROM api_ok(jsonb_build_object(
        'warns', rules.warns,
        'fails', rules.fails,
        'parsedData', pd.parsed,
        'auto_title', api_auto_title(t),
        'upgraded_torrents', upg));
END
$$;

-- POST /upload --------------------------------------------------------------

CREATE FUNCTION api_upload(p_key text, p_args jsonb)
RETURNS TABLE (status int, content_type text, disposition text, body bytea)
LANGUAGE plpgsql AS $$
DECLARE
    u      users := api_user(p_key);
    meta   jsonb := p_args->'torrent_meta';
    chk    record;
    b      jsonb;
    pd     record;
    rules  record;
    urls   text[];
    pg     jsonb;
    gid    bigint;
    tag    text;
    ih     bytea;
    ih2    bytea;
    tid    bigint;
    mem    jsonb;
    n      int := 0;
    inv    bigint;
    usr    bigint;
    sg     jsonb;
    b64    text;
BEGIN
    IF u.id IS NULL THEN
        RETURN QUERY SELECT * FROM api_unauthorized();
        RETURN;
    END IF;

    IF u.permissions & 8 <> 0 THEN       -- no_upload
        RETURN QUERY SELECT * FROM api_error(403, 'Forbidden.');
        RETURN;
    END IF;

    chk := api_upload_body(p_args, 'upload');
    IF chk.refusal IS NOT NULL THEN
        RETURN QUERY SELECT 400, NULL::text, NULL::text, chk.refusal;
        RETURN;
    END IF;

    b := chk.b;
    pg := b->'primary_group';

    -- the groups: the caller is a member of the primary group; every
    -- group exists (one named twice, or primary and secondary, counts once)
    IF pg IS NOT NULL THEN
        gid := api_id(pg->>'id');
        SELECT g.tag INTO tag FROM groups g
        WHERE g.id = gid AND g.deleted IS NULL;

        IF tag IS NULL THEN
            RETURN QUERY SELECT * FROM api_error(404, 'Group not found.');
            RETURN;
        END IF;

        IF NOT EXISTS (SELECT 1 FROM group_members gm
                       WHERE gm.group_id = gid AND gm.user_id = u.id)
           AND u.permissions & 3 = 0
        THEN
            RETURN QUERY SELECT * FROM api_error(403, 'Forbidden.');
            RETURN;
        END IF;
    END IF;

    IF EXISTS (SELECT 1 FROM jsonb_array_elements(b->'secondary_groups') s
               LEFT JOIN groups g ON g.id = api_id(s->>'id')
                                 AND g.deleted IS NULL
               WHERE g.id IS NULL)
    THEN
        RETURN QUERY SELECT * FROM api_error(404, 'Group not found.');
        RETURN;
    END IF;

    pd := api_upload_parsed(p_args->>'title', (p_args->>'movie')::boolean);

    SELECT coalesce(array_agg(x), '{}') INTO urls FROM (
        SELECT meta->>'announce'
        UNION ALL
        SELECT jsonb_array_elements_text(tier)
        FROM jsonb_array_elements(meta->'announce_list') tier) s(x)
    WHERE x IS NOT NULL;

    rules := api_upload_rules(p_args || jsonb_build_object('level',
                                  b->'level'), urls, tag, pd.release);

    IF jsonb_array_length(rules.fails) > 0 THEN
        RETURN QUERY SELECT * FROM api_upload_refusal(
            'Can''t upload torrent due to parsing failures.',
            rules.fails, rules.warns);
        RETURN;
    END IF;

    IF jsonb_array_length(rules.warns) > 0
       AND NOT (p_args->>'ignore_warnings')::boolean
    THEN
        RETURN QUERY SELECT * FROM api_upload_refusal(
            'Can''t upload torrent due to parsing warnings.',
            rules.fails, rules.warns);
        RETURN;
    END IF;

    -- a v2-only torrent answers to its truncated SHA-256 (BEP 52)
    ih2 := decode(meta->>'info_hash_v2', 'hex');
    ih := CASE WHEN (meta->>'version')::int = 2
               THEN substring(ih2 FROM 1 FOR 20)
               ELSE decode(meta->>'info_hash', 'hex') END;

    IF EXISTS (SELECT 1 FROM torrents o
               WHERE o.info_hash = ih OR o.info_hash_v2_trunc = ih
                  OR (ih2 IS NOT NULL
                      AND (o.info_hash_v2 = ih2
                           OR o.info_hash = substring(ih2 FROM 1 FOR 20))))
    THEN
        RETURN QUERY SELECT * FROM api_error(409,
            'This torrent has already been uploaded.');
        RETURN;
    END IF;

    -- the module checked the alphabet; PostgreSQL wants the padding
    b64 := translate(p_args->>'torrent', E' \t\r\n=', '');
    b64 := rpad(b64, (length(b64) + 3) / 4 * 4, '=');

    BEGIN
        INSERT INTO torrents (info_hash, info_hash_v2, torrent_data, title,
            description, mediainfo, category, status, hidden, anonymous,
            level, otl, mtl, hardsub, video_codec, video_type, audio_lang,
            sub_lang, fsub_lang, filesize, files, media_id, uploader_id)
        VALUES (ih, ih2, decode(b64, 'base64'), p_args->>'title',
            p_args->>'description', nullif(p_args->>'mediainfo', ''),
            (b->>'category')::smallint,
            -- uploaders, moderators and admins need no approval
            CASE WHEN u.permissions & 7 <> 0 THEN 1 ELSE 0 END,
            (p_args->>'hidden')::boolean, (p_args->>'anonymous')::boolean,
            (b->>'level')::smallint, (p_args->>'otl')::boolean,
            (p_args->>'mtl')::boolean, (p_args->>'hardsub')::boolean,
            (b->>'video_codec')::smallint, (b->>'video_type')::smallint,
            (api_upload_langs(p_args->>'audio_langs')).langs,
            (api_upload_langs(p_args->>'sub_langs')).langs,
            (api_upload_langs(p_args->>'fansub_langs')).langs,
            (meta->>'total_size')::bigint, meta->'files', pd.media_id, u.id)
        RETURNING id INTO tid;
    EXCEPTION WHEN unique_violation THEN
        -- uploaded by someone else a moment ago
        RETURN QUERY SELECT * FROM api_error(409,
            'This torrent has already been uploaded.');
        RETURN;
    END;

    INSERT INTO torrent_episodes (torrent_id, episode_id)
    SELECT tid, x FROM unnest(pd.episode_ids) x;

    IF gid IS NOT NULL THEN
        INSERT INTO torrent_groups (torrent_id, group_id, is_primary)
        VALUES (tid, gid, true);

        -- members: users of the group, invites of the group, or new
        -- invites (id null) with a display name
        FOR mem IN SELECT jsonb_array_elements(pg->'members') LOOP
            n := n + 1;
            usr := NULL;
            inv := NULL;

            IF mem->>'id' IS NULL THEN
                IF coalesce(btrim(mem->>'display_name'), '') = '' THEN
                    RAISE EXCEPTION USING ERRCODE = 'P0001',
                        MESSAGE = 'A new member needs a display name.';
                END IF;

                INSERT INTO group_invites (group_id, author_id,
                                           display_name)
                VALUES (gid, u.id, btrim(mem->>'display_name'))
                RETURNING id INTO inv;
            ELSE
                SELECT gm.user_id INTO usr FROM group_members gm
                WHERE gm.group_id = gid AND gm.user_id = api_id(mem->>'id');

                SELECT gi.id INTO inv FROM group_invites gi
                WHERE usr IS NULL AND gi.group_id = gid AND NOT gi.used
                  AND gi.id = api_id(mem->>'id');

                IF usr IS NULL AND inv IS NULL THEN
                    RAISE EXCEPTION USING ERRCODE = 'P0001',
                        MESSAGE = 'Member not found.';
                END IF;
            END IF;

            INSERT INTO torrent_contributors (torrent_id, group_id, user_id,
                                              invite_id, role, weight)
            VALUES (tid, gid, usr, inv, mem->>'role', n);
        END LOOP;
    END IF;

    FOR sg IN SELECT jsonb_array_elements(b->'secondary_groups') LOOP
        INSERT INTO torrent_groups (torrent_id, group_id, is_primary, role)
        VALUES (tid, api_id(sg->>'id'), false, sg->>'role')
        ON CONFLICT DO NOTHING;
    END LOOP;

    RETURN QUERY SELECT * FROM api_ok(jsonb_build_object('id', tid::text));

EXCEPTION WHEN SQLSTATE 'P0001' THEN
    -- a member that cannot be credited: nothing of the upload is kept
    RETURN QUERY SELECT * FROM api_error(400, SQLERRM);
END
$$;

-- PUT /upload/mediainfo -----------------------------------------------------

-- a mediainfo language (name or code, "English", "ja", "en-US") as one
-- of our codes; NULL when unknown
CREATE FUNCTION api_upload_lang_code(p text) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT coalesce(
        (SELECT l.code FROM langs l WHERE l.code = lower(btrim(p))),
        (SELECT a.code FROM lang_aliases a WHERE a.alias = lower(btrim(p))),
        (SELECT l.code FROM langs l WHERE lower(l.name) = lower(btrim(p))),
        (SELECT l.code FROM langs l
         WHERE lower(l.name) = lower(btrim(split_part(p, '(', 1)))
         ORDER BY l.sort LIMIT 1),
        (SELECT l.code FROM langs l
         WHERE l.code = lower(split_part(btrim(p), '-', 1))))
$$;

-- The tracks of mediainfo output, text or JSON, as
-- [{"type": "Video"|"Audio"|"Text", "format", "language", "title"}]
CREATE FUNCTION api_upload_tracks(p jsonb) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT CASE jsonb_typeof(p)
    WHEN 'object' THEN (
        SELECT coalesce(jsonb_agg(jsonb_build_object(
                   'type', t->>'@type', 'format', t->>'Format',
                   'language', t->>'Language', 'title', t->>'Title')
                   ORDER BY n), '[]')
        FROM jsonb_array_elements(
                 CASE WHEN jsonb_typeof(coalesce(p #> '{media,track}',
                                                 p->'track')) = 'array'
                      THEN coalesce(p #> '{media,track}', p->'track')
                      ELSE '[]' END) WITH ORDINALITY AS x(t, n)
        WHERE jsonb_typeof(t) = 'object')
    ELSE (
        -- text: sections start with a line naming the kind of track
        -- ("Audio #2"), then "Key   : value" lines
        SELECT coalesce(jsonb_agg(jsonb_build_object(
                   'type', s.kind, 'format', s.kv->>'format',
                   'language', s.kv->>'language', 'title', s.kv->>'title')
                   ORDER BY s.sec), '[]')
        FROM (SELECT l.sec,
                     min(l.kind) AS kind,
                     jsonb_object_agg(lower(l.k), l.v)
                         FILTER (WHERE l.k IS NOT NULL) AS kv
              FROM (SELECT sum(CASE WHEN x.hdr IS NOT NULL THEN 1 ELSE 0 END)
                               OVER (ORDER BY x.n) AS sec,
                           x.hdr AS kind, x.k, x.v
                    FROM (SELECT n,
                                 (regexp_match(line,
                                      '^(General|Video|Audio|Text|Menu|'
                                      'Image|Other)( #\d+)?\s*$'))[1] AS hdr,
                                 btrim((regexp_match(line,
                                      '^([^:]*?)\s*:'))[1]) AS k,
                                 btrim((regexp_match(line,
                                      '^[^:]*:\s?(.*)$'))[1]) AS v
                          FROM regexp_split_to_table(
                                   replace(p #>> '{}', E'\r', ''), E'\n')
                                   WITH ORDINALITY AS r(line, n)) x) l
              GROUP BY l.sec) s
        WHERE s.kind IS NOT NULL)
    END
$$;

CREATE FUNCTION api_upload_mediainfo(p_key text, p_args jsonb)
RETURNS TABLE (status int, content_type text, disposition text, body bytea)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    chk     record;
    tracks  jsonb;
    codec   int;
    audio   text;
    subs    text;
    fansubs text;
BEGIN
    chk := api_upload_body(p_args, 'mediainfo');
    IF chk.refusal IS NOT NULL THEN
        RETURN QUERY SELECT 400, NULL::text, NULL::text, chk.refusal;
        RETURN;
    END IF;

    tracks := api_upload_tracks(chk.b->'mediainfo');

    SELECT api_search_codec(CASE
               WHEN t->>'format' ~* '^MPEG-4 Visual' THEN 'xvid'
               WHEN t->>'format' ~* '^MPEG Video' THEN 'mpeg2'
               ELSE t->>'format' END)
      INTO codec
      FROM jsonb_array_elements(tracks) t
     WHERE t->>'type' = 'Video'
     LIMIT 1;

    -- subtitles: a track whose title names a fansub (or a bracketed
    -- group) is a fansub, the others official subtitles
    SELECT string_agg(DISTINCT c, ',') FILTER (WHERE k = 'Audio'),
           string_agg(DISTINCT c, ',') FILTER (WHERE k = 'Text' AND NOT f),
           string_agg(DISTINCT c, ',') FILTER (WHERE k = 'Text' AND f)
      INTO audio, subs, fansubs
      FROM (SELECT t->>'type' AS k,
                   api_upload_lang_code(t->>'language') AS c,
                   coalesce(t->>'title' ~* '(fansub|\[[^\]]+\])', false)
                       AS f
            FROM jsonb_array_elements(tracks) t) x
     WHERE c IS NOT NULL;

    IF codec IS NULL AND audio IS NULL AND subs IS NULL AND fansubs IS NULL
    THEN
        RETURN QUERY SELECT * FROM api_error(400,
            'Failed to extract mediainfo text languages and codec.');
        RETURN;
    END IF;

    RETURN QUERY SELECT * FROM api_ok(jsonb_build_object(
        'video_codec', codec,
        'fansub_langs', coalesce(fansubs, ''),
        'sub_langs', coalesce(subs, ''),
        'audio_langs', coalesce(audio, '')));
END
$$;
