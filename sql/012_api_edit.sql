-- 012_api_edit: the JSON API's write side for torrents, users, comments.
--
--   PATCH  /torrents/<id>                        api_edit_torrent
--   PATCH  /torrents/bulk/edit                   api_edit_torrents_bulk
--   PATCH  /torrents/bulk/edit/perms             api_edit_torrents_perms
--   PATCH  /users/<id|@me>                       api_edit_user
--   PUT    /users/<id|@me>/notifications/read    api_edit_notifications_read
--   POST   /torrents/<id>/comments               api_edit_comment_post
--   PATCH  /torrents/<id>/comments/<cid>         api_edit_comment_edit
--   DELETE /torrents/<id>/comments/<cid>         api_edit_comment_delete
--   PUT    /torrents/<id>/comments/<cid>/rating  api_edit_comment_rate
--
-- Each call is one statement, so one transaction.  A function returns an
-- error row only before it has written anything (checks first, writes
-- last); anything unexpected raises and the whole statement rolls back.
-- The module checks the flat, typed members (strings, booleans, id lists);
-- nullable and nested members come in p_args->'body' and are checked here
-- into the same Ajv-shaped errors.

-- Profile pictures, by the SHA-1 of their bytes (users.pfp_hash)
CREATE TABLE IF NOT EXISTS pfps (
    hash         text PRIMARY KEY CHECK (hash ~ '^[0-9a-f]{40}$'),
    content_type text NOT NULL,
    data         bytea NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);

-- Answers -------------------------------------------------------------------

-- {"error":false} plus members (the reference's edits carry no "data")
CREATE FUNCTION api_edit_ok(p_extra jsonb DEFAULT '{}')
RETURNS TABLE (status int, content_type text, disposition text, body bytea)
LANGUAGE sql IMMUTABLE AS $$
    SELECT 200, NULL::text, NULL::text,
           convert_to((jsonb_build_object('error', false) || p_extra)::text,
                      'UTF8')
$$;

-- {"error":true,"message":...} plus members
CREATE FUNCTION api_edit_fail(p_status int, p_message text, p_extra jsonb)
RETURNS TABLE (status int, content_type text, disposition text, body bytea)
LANGUAGE sql IMMUTABLE AS $$
    SELECT p_status, NULL::text, NULL::text,
           convert_to((jsonb_build_object('error', true,
                                          'message', p_message)
                       || p_extra)::text, 'UTF8')
$$;

-- One Ajv error object
CREATE FUNCTION api_edit_err(p_path text, p_schema text, p_keyword text,
                             p_params jsonb, p_message text)
RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    SELECT jsonb_build_object('instancePath', p_path,
                              'schemaPath', p_schema,
                              'keyword', p_keyword,
                              'params', p_params,
                              'message', p_message)
$$;

CREATE FUNCTION api_edit_type_err(p_path text, p_schema text, p_type text)
RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    SELECT api_edit_err(p_path, p_schema || '/type', 'type',
                        jsonb_build_object('type', p_type),
                        'must be ' || p_type)
$$;

-- the 400 for an Ajv error, its message as the module words it
CREATE FUNCTION api_edit_invalid(e jsonb)
RETURNS TABLE (status int, content_type text, disposition text, body bytea)
LANGUAGE sql IMMUTABLE AS $$
    SELECT * FROM api_edit_fail(400, 'Data provided was invalid: '
        || CASE WHEN e->>'instancePath' = '' THEN ''
                ELSE '''' || substr(e->>'instancePath', 2) || ''' ' END
        || (e->>'message') || '.',
        jsonb_build_object('validate_errors', jsonb_build_array(e)))
$$;

-- Value checks (NULL: fine, else the Ajv error) ----------------------------

-- an integer or null, within [lo, hi]; p_ids also takes a string of digits
-- (ids are strings everywhere else in the API)
CREATE FUNCTION api_edit_check_int(v jsonb, p_path text, p_schema text,
                                   lo numeric, hi numeric, p_ids boolean)
RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        WHEN v IS NULL OR jsonb_typeof(v) = 'null' THEN NULL
        WHEN p_ids AND jsonb_typeof(v) = 'string'
             AND v #>> '{}' ~ '^[0-9]{1,18}$' THEN NULL
        WHEN jsonb_typeof(v) <> 'number' OR v::text::numeric % 1 <> 0 THEN
            api_edit_type_err(p_path, p_schema,
                              CASE WHEN p_ids THEN 'number,null'
                                   ELSE 'integer,null' END)
        WHEN v::text::numeric < lo THEN
            api_edit_err(p_path, p_schema || '/minimum', 'minimum',
                         jsonb_build_object('comparison', '>=', 'limit', lo),
                         'must be >= ' || lo)
        WHEN v::text::numeric > hi THEN
            api_edit_err(p_path, p_schema || '/maximum', 'maximum',
                         jsonb_build_object('comparison', '<=', 'limit', hi),
                         'must be <= ' || hi)
        END
$$;

-- a required id: a string of digits or a number
CREATE FUNCTION api_edit_check_id(v jsonb, p_path text, p_schema text)
RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN jsonb_typeof(v) = 'null'
                THEN api_edit_type_err(p_path, p_schema, 'string')
                ELSE api_edit_check_int(v, p_path, p_schema, 0,
                                        999999999999999999, true) END
$$;

-- a string (or, p_null, null) of at most p_max characters
CREATE FUNCTION api_edit_check_str(v jsonb, p_path text, p_schema text,
                                   p_min int, p_max int, p_null boolean)
RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        WHEN v IS NULL OR (p_null AND jsonb_typeof(v) = 'null') THEN NULL
        WHEN jsonb_typeof(v) <> 'string' THEN
            api_edit_type_err(p_path, p_schema,
                              CASE WHEN p_null THEN 'string,null'
                                   ELSE 'string' END)
        WHEN length(v #>> '{}') < p_min THEN
            api_edit_err(p_path, p_schema || '/minLength', 'minLength',
                         jsonb_build_object('limit', p_min),
                         'must NOT have fewer than ' || p_min || ' characters')
        WHEN length(v #>> '{}') > p_max THEN
            api_edit_err(p_path, p_schema || '/maxLength', 'maxLength',
                         jsonb_build_object('limit', p_max),
                         'must NOT have more than ' || p_max || ' characters')
        END
$$;

-- an array of at most p_max items
CREATE FUNCTION api_edit_check_array(v jsonb, p_path text, p_schema text,
                                     p_max int)
RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        WHEN v IS NULL THEN NULL
        WHEN jsonb_typeof(v) <> 'array' THEN
            api_edit_type_err(p_path, p_schema, 'array')
        WHEN jsonb_array_length(v) > p_max THEN
            api_edit_err(p_path, p_schema || '/maxItems', 'maxItems',
                         jsonb_build_object('limit', p_max),
                         'must NOT have more than ' || p_max || ' items')
        END
$$;

-- the first error among the items of an array (checked already) of
-- objects: a required member missing, or p_check's error for a member
CREATE FUNCTION api_edit_check_objects(v jsonb, p_path text, p_schema text,
                                       p_required text[])
RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        WHEN jsonb_typeof(x.o) <> 'object' THEN
            api_edit_type_err(p_path || '/' || (x.n - 1),
                              p_schema || '/items', 'object')
        ELSE (SELECT api_edit_err(p_path || '/' || (x.n - 1),
                                  p_schema || '/items/required', 'required',
                                  jsonb_build_object('missingProperty', r),
                                  'must have required property ''' || r
                                  || '''')
              FROM unnest(p_required) r WHERE NOT x.o ? r LIMIT 1) END
    FROM jsonb_array_elements(v) WITH ORDINALITY x(o, n)
    WHERE jsonb_typeof(x.o) <> 'object'
       OR NOT x.o ?& p_required
    ORDER BY x.n
    LIMIT 1
$$;

-- Torrents: checks ----------------------------------------------------------

-- The torrent members the module does not type (nullable or nested), in
-- the reference's order; bulk: the find/replace title list, and the
-- primary group is one the module cannot check either.
CREATE FUNCTION api_edit_check_torrent(a jsonb, p_bulk boolean)
RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    b   jsonb := coalesce(a->'body', '{}');
    e   jsonb;
    m   jsonb;
    n   int;
    known text[] := ARRAY['title', 'upgraded', 'description', 'mediainfo',
        'video_type', 'video_codec', 'audio_lang', 'sub_lang', 'fsub_lang',
        'anonymous', 'hidden', 'hardsub', 'otl', 'mtl', 'primary_group',
        'secondary_groups', 'media_episodes', 'deleted', 'deletion_reason'];
BEGIN
    IF p_bulk THEN
        known := array_remove(array_remove(known, 'mediainfo'),
                              'media_episodes');
        IF jsonb_array_length(a->'ids') < 1 THEN
            RETURN api_edit_err('/ids', '#/properties/ids/minItems',
                                'minItems', '{"limit":1}',
                                'must NOT have fewer than 1 items');
        END IF;
    END IF;

    -- "at least one is required"
    IF NOT b ?| known THEN
        RETURN api_edit_err('', '#/anyOf', 'anyOf', '{}',
                            'must match a schema in anyOf');
    END IF;

    IF p_bulk THEN
        e := coalesce(
            api_edit_check_array(b->'title', '/title', '#/properties/title',
                                 5),
            api_edit_check_objects(b->'title', '/title',
                                   '#/properties/title',
                                   ARRAY['find', 'replace']));
        IF e IS NOT NULL THEN
            RETURN e;
        END IF;
        FOR m, n IN SELECT * FROM jsonb_array_elements(b->'title')
                                  WITH ORDINALITY
        LOOP
            e := coalesce(
                api_edit_check_str(m->'find', '/title/' || (n - 1) || '/find',
                    '#/properties/title/items/properties/find', 1, 256,
                    false),
                api_edit_check_str(m->'replace',
                    '/title/' || (n - 1) || '/replace',
                    '#/properties/title/items/properties/replace', 0, 256,
                    false));
            IF e IS NOT NULL THEN
                RETURN e;
            END IF;
        END LOOP;
    END IF;

    e := coalesce(
        api_edit_check_int(b->'upgraded', '/upgraded',
                           '#/properties/upgraded', 0, 999999999999999999,
                           true),
        api_edit_check_int(b->'video_type', '/video_type',
                           '#/properties/video_type', 0, 32767, false),
        api_edit_check_int(b->'video_codec', '/video_codec',
                           '#/properties/video_codec', 0, 32767, false));
    IF e IS NOT NULL THEN
        RETURN e;
    END IF;

    m := b->'primary_group';
    IF m IS NOT NULL AND jsonb_typeof(m) <> 'null' THEN
        IF jsonb_typeof(m) <> 'object' THEN
            RETURN api_edit_type_err('/primary_group',
                                     '#/properties/primary_group',
                                     'object,null');
        END IF;
        IF NOT m ? 'id' THEN
            RETURN api_edit_err('/primary_group',
                '#/properties/primary_group/required', 'required',
                '{"missingProperty":"id"}',
                'must have required property ''id''');
        END IF;
        e := coalesce(
            api_edit_check_id(m->'id', '/primary_group/id',
                '#/properties/primary_group/properties/id'),
            api_edit_check_array(coalesce(m->'members', '[]'),
                '/primary_group/members',
                '#/properties/primary_group/properties/members', 50),
            api_edit_check_objects(m->'members', '/primary_group/members',
                '#/properties/primary_group/properties/members', '{}'));
        IF e IS NOT NULL THEN
            RETURN e;
        END IF;
        FOR m, n IN SELECT * FROM jsonb_array_elements(m->'members')
                                  WITH ORDINALITY
        LOOP
            e := coalesce(
                api_edit_check_int(m->'id',
                    '/primary_group/members/' || (n - 1) || '/id',
                    '#/properties/primary_group/properties/members/items'
                    || '/properties/id', 0, 999999999999999999, true),
                api_edit_check_str(m->'display_name',
                    '/primary_group/members/' || (n - 1) || '/display_name',
                    '#/properties/primary_group/properties/members/items'
                    || '/properties/display_name', 0, 32, true),
                api_edit_check_str(m->'role',
                    '/primary_group/members/' || (n - 1) || '/role',
                    '#/properties/primary_group/properties/members/items'
                    || '/properties/role', 0, 64, true));
            IF e IS NOT NULL THEN
                RETURN e;
            END IF;
        END LOOP;
    END IF;

    e := coalesce(
        api_edit_check_array(b->'secondary_groups', '/secondary_groups',
                             '#/properties/secondary_groups', 50),
        api_edit_check_objects(b->'secondary_groups', '/secondary_groups',
                               '#/properties/secondary_groups',
                               ARRAY['id']));
    IF e IS NOT NULL THEN
        RETURN e;
    END IF;
    FOR m, n IN SELECT * FROM jsonb_array_elements(b->'secondary_groups')
                              WITH ORDINALITY
    LOOP
        e := coalesce(
            api_edit_check_id(m->'id',
                '/secondary_groups/' || (n - 1) || '/id',
                '#/properties/secondary_groups/items/properties/id'),
            api_edit_check_str(m->'role',
                '/secondary_groups/' || (n - 1) || '/role',
                '#/properties/secondary_groups/items/properties/role',
                0, 64, true));
        IF e IS NOT NULL THEN
            RETURN e;
        END IF;
    END LOOP;

    IF NOT p_bulk THEN
        e := api_edit_check_array(b->'media_episodes', '/media_episodes',
                                  '#/properties/media_episodes', 1000);
        IF e IS NOT NULL THEN
            RETURN e;
        END IF;
        SELECT api_edit_type_err('/media_episodes/' || (x.n - 1),
                                 '#/properties/media_episodes/items',
                                 'integer')
        INTO e
        FROM jsonb_array_elements(b->'media_episodes') WITH ORDINALITY x(v, n)
        WHERE jsonb_typeof(x.v) <> 'number' OR x.v::text::numeric % 1 <> 0
           OR x.v::text::numeric NOT BETWEEN 0 AND 999999999999999999
        ORDER BY x.n LIMIT 1;
    END IF;

    RETURN e;
END
$$;

-- "jp, EN" -> codes "ja,en" (aliases resolved, repeats dropped, order
-- kept) and the first token that is no known language
CREATE FUNCTION api_edit_langs(p text, OUT codes text, OUT unknown text)
LANGUAGE sql STABLE AS $$
    SELECT coalesce(string_agg(c.code, ',' ORDER BY c.first), ''),
           (SELECT t.tok
            FROM unnest(string_to_array(p, ',')) WITH ORDINALITY x(raw, n),
                 LATERAL (SELECT lower(btrim(x.raw)) AS tok) t
            WHERE t.tok <> ''
              AND NOT EXISTS (SELECT 1 FROM langs l WHERE l.code = t.tok)
              AND NOT EXISTS (SELECT 1 FROM lang_aliases a
                              WHERE a.alias = t.tok)
            ORDER BY x.n LIMIT 1)
    FROM (SELECT coalesce(l.code, a.code) AS code, min(x.n) AS first
          FROM unnest(string_to_array(p, ',')) WITH ORDINALITY x(raw, n)
          CROSS JOIN LATERAL (SELECT lower(btrim(x.raw)) AS tok) t
          LEFT JOIN langs l ON l.code = t.tok
          LEFT JOIN lang_aliases a ON a.alias = t.tok
          WHERE coalesce(l.code, a.code) IS NOT NULL
          GROUP BY 1) c
$$;

-- a title after the find/replace pairs, in order
CREATE FUNCTION api_edit_replace(p_title text, p_ops jsonb) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    WITH RECURSIVE r(n, t) AS (
        SELECT 0::bigint, p_title
        UNION ALL
        SELECT r.n + 1, replace(r.t, o.v->>'find', o.v->>'replace')
        FROM r
        JOIN jsonb_array_elements(coalesce(p_ops, '[]')) WITH ORDINALITY
             o(v, n) ON o.n = r.n + 1
    )
    SELECT t FROM r ORDER BY n DESC LIMIT 1
$$;

-- Moderators and admins (bits 0 and 1 of users.permissions)
CREATE FUNCTION api_edit_is_mod(u users) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(u.permissions & 3 <> 0, false)
$$;

-- The ids of p_ids the caller may not edit (unknown ones included), in
-- request order; an id that is not a number is named as sent.
CREATE FUNCTION api_edit_forbidden(me users, p_ids jsonb) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT coalesce(jsonb_agg(x.raw ORDER BY x.n), '[]')
    FROM jsonb_array_elements_text(p_ids) WITH ORDINALITY x(raw, n)
    LEFT JOIN torrents t ON t.id = api_id(x.raw)
    WHERE t.id IS NULL OR api_torrent_access(t, me) <> 'edit'
$$;

-- Torrents: the edit itself ---------------------------------------------------

-- Applies an edit (checked by api_edit_check_torrent, permissions by the
-- caller) to the torrents p_ids.  First every semantic check, for every
-- torrent: when any fails nothing is written and the failures come back
-- (fails: messages, bad: torrent ids as strings).  Then the writes.
CREATE FUNCTION api_edit_apply(me users, p_ids bigint[], a jsonb,
                               OUT fails jsonb, OUT bad jsonb)
LANGUAGE plpgsql AS $$
DECLARE
    b        jsonb := coalesce(a->'body', '{}');
    f        text[] := '{}';
    bad_ids  bigint[] := '{}';
    v_audio  text;
    v_sub    text;
    v_fsub   text;
    v_up     bigint;
    pg       jsonb := b->'primary_group';
    pg_id    bigint;
    overlap  bigint[];
    v_eps    bigint[];
    v_media  text[];
    v_title  text := a->>'title';
    v_ops    jsonb := CASE WHEN jsonb_typeof(b->'title') = 'array'
                           THEN b->'title' END;
    retitle  boolean;
BEGIN
    retitle := v_title IS NOT NULL OR v_ops IS NOT NULL
        OR b ?| ARRAY['video_type', 'video_codec', 'audio_lang', 'sub_lang',
                      'fsub_lang', 'hardsub', 'otl', 'mtl'];

    SELECT max(l.codes) FILTER (WHERE k.n = 1),
           max(l.codes) FILTER (WHERE k.n = 2),
           max(l.codes) FILTER (WHERE k.n = 3),
           f || coalesce(array_agg(format('Unknown %s language "%s".',
                                          k.what, l.unknown) ORDER BY k.n)
                             FILTER (WHERE l.unknown IS NOT NULL), '{}')
    INTO v_audio, v_sub, v_fsub, f
    FROM (VALUES (1, 'audio_lang', 'audio'), (2, 'sub_lang', 'subtitle'),
                 (3, 'fsub_lang', 'fansub')) k(n, name, what)
    CROSS JOIN LATERAL api_edit_langs(a->>k.name) l
    WHERE a ? k.name;

    IF jsonb_typeof(b->'upgraded') IN ('number', 'string') THEN
        v_up := api_id(b->>'upgraded');
        IF NOT EXISTS (SELECT 1 FROM torrents WHERE id = v_up) THEN
            f := f || 'The upgrading torrent does not exist.'::text;
        ELSIF v_up = ANY (p_ids) THEN
            f := f || 'A torrent cannot be upgraded by itself.'::text;
            bad_ids := bad_ids || v_up;
        END IF;
    END IF;

    IF jsonb_typeof(b->'media_episodes') = 'array' THEN
        SELECT array_agg(DISTINCT (v #>> '{}')::numeric::bigint)
        INTO v_eps FROM jsonb_array_elements(b->'media_episodes') v;
        SELECT array_agg(DISTINCT e.media_id) INTO v_media
        FROM episodes e WHERE e.id = ANY (v_eps);
        IF (SELECT count(*) FROM episodes e WHERE e.id = ANY (v_eps))
           <> coalesce(cardinality(v_eps), 0)
        THEN
            f := f || 'One or more episodes do not exist.'::text;
        ELSIF cardinality(v_media) > 1 THEN
            f := f || 'All episodes must belong to the same media.'::text;
        END IF;
    END IF;

    IF jsonb_typeof(pg) = 'object' THEN
        pg_id := api_id(pg->>'id');
        IF NOT EXISTS (SELECT 1 FROM groups g
                       WHERE g.id = pg_id AND g.deleted IS NULL) THEN
            f := f || 'The primary group does not exist.'::text;
        ELSIF NOT api_edit_is_mod(me)
              AND NOT EXISTS (SELECT 1 FROM group_members gm
                              WHERE gm.group_id = pg_id
                                AND gm.user_id = me.id) THEN
            f := f || 'You are not a member of the primary group.'::text;
        ELSE
            -- named members: the group's members or its open invites
            f := f || ARRAY(
                SELECT format('%s is not a member of the primary group.',
                              coalesce(nullif(m->>'display_name', ''),
                                       m->>'id'))
                FROM jsonb_array_elements(coalesce(pg->'members', '[]'))
                     WITH ORDINALITY x(m, n)
                WHERE jsonb_typeof(m->'id') IN ('string', 'number')
                  AND NOT EXISTS (SELECT 1 FROM group_members gm
                                  WHERE gm.group_id = pg_id
                                    AND gm.user_id = api_id(m->>'id'))
                  AND NOT EXISTS (SELECT 1 FROM group_invites gi
                                  WHERE gi.group_id = pg_id
                                    AND gi.id = api_id(m->>'id')
                                    AND NOT gi.used)
                ORDER BY n);
            IF EXISTS (SELECT 1
                       FROM jsonb_array_elements(
                                coalesce(pg->'members', '[]')) m
                       WHERE coalesce(jsonb_typeof(m->'id'), 'null') = 'null'
                         AND coalesce(btrim(m->>'display_name'), '') = '')
            THEN
                f := f || 'New members need a display name.'::text;
            END IF;
        END IF;
    END IF;

    IF jsonb_typeof(b->'secondary_groups') = 'array' THEN
        IF EXISTS (SELECT 1
                   FROM jsonb_array_elements(b->'secondary_groups') s
                   LEFT JOIN groups g ON g.id = api_id(s->>'id')
                                     AND g.deleted IS NULL
                   WHERE g.id IS NULL) THEN
            f := f || 'A secondary group does not exist.'::text;
        END IF;
        IF (SELECT count(*) <> count(DISTINCT s->>'id')
            FROM jsonb_array_elements(b->'secondary_groups') s) THEN
            f := f || 'A secondary group is listed twice.'::text;
        END IF;
        -- with the primary group the edit sets, or each torrent's own
        overlap := ARRAY(
            SELECT t.id FROM unnest(p_ids) t(id)
            WHERE EXISTS (
                SELECT 1 FROM jsonb_array_elements(b->'secondary_groups') s
                WHERE api_id(s->>'id') = CASE
                    WHEN b ? 'primary_group' THEN pg_id
                    ELSE (SELECT tg.group_id FROM torrent_groups tg
                          WHERE tg.torrent_id = t.id AND tg.is_primary)
                    END));
        IF cardinality(overlap) > 0 THEN
            f := f || 'The primary group cannot also be a secondary group.'
                      ::text;
            bad_ids := bad_ids || overlap;
        END IF;
    END IF;

    -- per torrent, with the values the edit would leave
    WITH n AS (
        SELECT t.id, t.level,
               CASE WHEN v_title IS NOT NULL THEN v_title
                    WHEN v_ops IS NOT NULL
                    THEN api_edit_replace(t.title, v_ops)
                    ELSE t.title END AS title,
               coalesce(v_fsub, t.fsub_lang) AS fsub
        FROM torrents t WHERE t.id = ANY (p_ids)
    )
    SELECT f || ARRAY(
               SELECT DISTINCT msg FROM (
                   SELECT 'You have set sub level to "no subs", but you '
                          'have added fansub languages.' AS msg
                   FROM n WHERE n.level = -1 AND n.fsub <> ''
                   UNION ALL
                   SELECT 'The title must be 1 to 512 characters long.'
                   FROM n WHERE length(n.title) NOT BETWEEN 1 AND 512) m),
           bad_ids || ARRAY(
               SELECT n.id FROM n
               WHERE (n.level = -1 AND n.fsub <> '')
                  OR length(n.title) NOT BETWEEN 1 AND 512)
    INTO f, bad_ids FROM (SELECT 1) one;

    IF cardinality(f) > 0 THEN
        fails := to_jsonb(f);
        bad := coalesce((SELECT jsonb_agg(DISTINCT i::text)
                         FROM unnest(bad_ids) i), '[]');
        RETURN;
    END IF;

    -- the writes ------------------------------------------------------------

    UPDATE torrents t SET
        title = CASE WHEN v_title IS NOT NULL THEN v_title
                     WHEN v_ops IS NOT NULL
                     THEN api_edit_replace(t.title, v_ops)
                     ELSE t.title END,
        auto_title = CASE WHEN retitle THEN NULL ELSE t.auto_title END,
        upgraded_id = CASE WHEN b ? 'upgraded' THEN v_up
                           ELSE t.upgraded_id END,
        description = CASE WHEN a ? 'description' THEN a->>'description'
                           ELSE t.description END,
        mediainfo = CASE WHEN a ? 'mediainfo' THEN a->>'mediainfo'
                         ELSE t.mediainfo END,
        video_type = CASE WHEN b ? 'video_type'
                          THEN (b->>'video_type')::numeric::smallint
                          ELSE t.video_type END,
        video_codec = CASE WHEN b ? 'video_codec'
                           THEN (b->>'video_codec')::numeric::smallint
                           ELSE t.video_codec END,
        audio_lang = coalesce(v_audio, t.audio_lang),
        sub_lang = coalesce(v_sub, t.sub_lang),
        fsub_lang = coalesce(v_fsub, t.fsub_lang),
        anonymous = coalesce((a->>'anonymous')::boolean, t.anonymous),
        hidden = coalesce((a->>'hidden')::boolean, t.hidden),
        hardsub = coalesce((a->>'hardsub')::boolean, t.hardsub),
        otl = coalesce((a->>'otl')::boolean, t.otl),
        mtl = coalesce((a->>'mtl')::boolean, t.mtl),
        deleted = CASE WHEN (a->>'deleted')::boolean
                       THEN coalesce(t.deleted, now())
                       WHEN a ? 'deleted' THEN NULL
                       ELSE t.deleted END,
        deletion_reason = CASE WHEN a ? 'deletion_reason'
                               THEN a->>'deletion_reason'
                               ELSE t.deletion_reason END,
        media_id = CASE WHEN cardinality(v_media) = 1 THEN v_media[1]
                        ELSE t.media_id END
    WHERE t.id = ANY (p_ids);

    IF v_eps IS NOT NULL OR jsonb_typeof(b->'media_episodes') = 'array' THEN
        DELETE FROM torrent_episodes WHERE torrent_id = ANY (p_ids);
        INSERT INTO torrent_episodes (torrent_id, episode_id)
        SELECT t, e FROM unnest(p_ids) t, unnest(v_eps) e;
    END IF;

    IF b ? 'primary_group' THEN
        -- the old primary group's credits go with it
        DELETE FROM torrent_contributors c USING torrent_groups tg
        WHERE tg.torrent_id = ANY (p_ids) AND tg.is_primary
          AND c.torrent_id = tg.torrent_id AND c.group_id = tg.group_id;
        DELETE FROM torrent_groups
        WHERE torrent_id = ANY (p_ids) AND (is_primary OR group_id = pg_id);
    END IF;

    IF pg_id IS NOT NULL THEN
        -- new members become invites of the group (one per name)
        INSERT INTO group_invites (group_id, author_id, display_name)
        SELECT DISTINCT ON (lower(btrim(m->>'display_name')))
               pg_id, me.id, btrim(m->>'display_name')
        FROM jsonb_array_elements(coalesce(pg->'members', '[]')) m
        WHERE coalesce(jsonb_typeof(m->'id'), 'null') = 'null'
        ON CONFLICT (group_id, lower(display_name)) WHERE NOT used
        DO NOTHING;

        INSERT INTO torrent_groups (torrent_id, group_id, is_primary)
        SELECT t, pg_id, true FROM unnest(p_ids) t;

        INSERT INTO torrent_contributors (torrent_id, group_id, user_id,
                                          invite_id, role, weight)
        SELECT t, pg_id, w.user_id, w.invite_id,
               coalesce(x.m->>'role', ''), (x.n - 1)::int
        FROM unnest(p_ids) t,
             jsonb_array_elements(coalesce(pg->'members', '[]'))
                 WITH ORDINALITY x(m, n)
        CROSS JOIN LATERAL (
            SELECT gm.user_id, NULL::bigint AS invite_id
            FROM group_members gm
            WHERE gm.group_id = pg_id AND gm.user_id = api_id(x.m->>'id')
            UNION ALL
            SELECT NULL, gi.id FROM group_invites gi
            WHERE gi.group_id = pg_id AND NOT gi.used
              AND (gi.id = api_id(x.m->>'id')
                   OR (coalesce(jsonb_typeof(x.m->'id'), 'null') = 'null'
                       AND lower(gi.display_name)
                           = lower(btrim(x.m->>'display_name'))))
            LIMIT 1) w;
    END IF;

    IF jsonb_typeof(b->'secondary_groups') = 'array' THEN
        DELETE FROM torrent_contributors c USING torrent_groups tg
        WHERE tg.torrent_id = ANY (p_ids) AND NOT tg.is_primary
          AND c.torrent_id = tg.torrent_id AND c.group_id = tg.group_id;
        DELETE FROM torrent_groups
        WHERE torrent_id = ANY (p_ids) AND NOT is_primary;
        INSERT INTO torrent_groups (torrent_id, group_id, is_primary, role)
        SELECT t, api_id(s->>'id'), false, s->>'role'
        FROM unnest(p_ids) t, jsonb_array_elements(b->'secondary_groups') s;
    END IF;

    fails := NULL;
    bad := NULL;
END
$$;

-- the 400 of failed semantic checks
CREATE FUNCTION api_edit_parse_fail(p_fails jsonb, p_bad jsonb)
RETURNS TABLE (status int, content_type text, disposition text, body bytea)
LANGUAGE sql IMMUTABLE AS $$
    SELECT * FROM api_edit_fail(400,
        'Can''t edit torrent due to parsing failures.',
        jsonb_build_object('fails', p_fails, 'warns', '[]'::jsonb)
        || CASE WHEN p_bad IS NULL THEN '{}'
                ELSE jsonb_build_object('bad_torrents', p_bad) END)
$$;

-- PATCH /torrents/<id> -------------------------------------------------------

CREATE FUNCTION api_edit_torrent(p_key text, p_args jsonb)
RETURNS TABLE (status int, content_type text, disposition text, body bytea)
LANGUAGE plpgsql AS $$
DECLARE
    me      users := api_user(p_key);
    t       torrents;
    e       jsonb;
    r       record;
BEGIN
    IF me.id IS NULL THEN
        RETURN QUERY SELECT * FROM api_unauthorized();
        RETURN;
    END IF;
    e := api_edit_check_torrent(p_args, false);
    IF e IS NOT NULL THEN
        RETURN QUERY SELECT * FROM api_edit_invalid(e);
        RETURN;
    END IF;

    -- the row is locked: concurrent edits of one torrent apply in turn
    SELECT * INTO t FROM torrents WHERE id = api_id(p_args->>'id')
    FOR UPDATE;
    IF t.id IS NULL THEN
        RETURN QUERY SELECT * FROM api_error(404, 'Torrent not found.');
        RETURN;
    END IF;
    IF api_torrent_access(t, me) <> 'edit' THEN
        RETURN QUERY SELECT * FROM api_error(403, 'Forbidden.');
        RETURN;
    END IF;

    SELECT * INTO r FROM api_edit_apply(me, ARRAY[t.id], p_args);
    IF r.fails IS NOT NULL THEN
        RETURN QUERY SELECT * FROM api_edit_parse_fail(r.fails, NULL);
        RETURN;
    END IF;
    RETURN QUERY SELECT * FROM api_edit_ok();
END
$$;

-- PATCH /torrents/bulk/edit and /torrents/bulk/edit/perms ---------------------

CREATE FUNCTION api_edit_torrents_bulk(p_key text, p_args jsonb)
RETURNS TABLE (status int, content_type text, disposition text, body bytea)
LANGUAGE plpgsql AS $$
DECLARE
    me      users := api_user(p_key);
    e       jsonb;
    bad     jsonb;
    ids     bigint[];
    r       record;
BEGIN
    IF me.id IS NULL THEN
        RETURN QUERY SELECT * FROM api_unauthorized();
        RETURN;
    END IF;
    e := api_edit_check_torrent(p_args, true);
    IF e IS NOT NULL THEN
        RETURN QUERY SELECT * FROM api_edit_invalid(e);
        RETURN;
    END IF;
    -- the reference: primary groups are set in bulk by admins only
    IF p_args->'body' ? 'primary_group'
       AND NOT api_users_is_admin(me) THEN
        RETURN QUERY SELECT * FROM api_error(403, 'Forbidden.');
        RETURN;
    END IF;

    SELECT array_agg(DISTINCT t.id ORDER BY t.id) INTO ids
    FROM torrents t
    WHERE t.id IN (SELECT api_id(x)
                   FROM jsonb_array_elements_text(p_args->'ids') x);
    PERFORM 1 FROM torrents WHERE id = ANY (ids) ORDER BY id FOR UPDATE;

    bad := api_edit_forbidden(me, p_args->'ids');
    IF jsonb_array_length(bad) > 0 THEN
        RETURN QUERY SELECT * FROM api_edit_fail(400,
            'You do not have permission to edit one or more torrents.',
            jsonb_build_object('bad_torrents', bad));
        RETURN;
    END IF;

    SELECT * INTO r FROM api_edit_apply(me, ids, p_args);
    IF r.fails IS NOT NULL THEN
        RETURN QUERY SELECT * FROM api_edit_parse_fail(r.fails, r.bad);
        RETURN;
    END IF;
    RETURN QUERY SELECT * FROM api_edit_ok();
END
$$;

CREATE FUNCTION api_edit_torrents_perms(p_key text, p_args jsonb)
RETURNS TABLE (status int, content_type text, disposition text, body bytea)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    me      users := api_user(p_key);
    bad     jsonb;
BEGIN
    IF me.id IS NULL THEN
        RETURN QUERY SELECT * FROM api_unauthorized();
        RETURN;
    END IF;
    IF jsonb_array_length(p_args->'ids') < 1 THEN
        RETURN QUERY SELECT * FROM api_edit_invalid(api_edit_err(
            '/ids', '#/properties/ids/minItems', 'minItems', '{"limit":1}',
            'must NOT have fewer than 1 items'));
        RETURN;
    END IF;
    bad := api_edit_forbidden(me, p_args->'ids');
    IF jsonb_array_length(bad) > 0 THEN
        RETURN QUERY SELECT * FROM api_edit_fail(400,
            'You do not have permission to edit one or more torrents.',
            jsonb_build_object('bad_torrents', bad));
        RETURN;
    END IF;
    RETURN QUERY SELECT * FROM api_edit_ok();
END
$$;

-- PATCH /users/<id|@me> -------------------------------------------------------

-- A profile picture from base64 (a data: URL prefix is allowed): the bytes
-- and their type, or the message of why not.  4.5 MB at most.
CREATE FUNCTION api_edit_pfp(p text, OUT data bytea, OUT mime text,
                             OUT message text)
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    p := regexp_replace(p, '^data:image/[a-z0-9.+-]+;base64,', '');
    BEGIN
        data := decode(p, 'base64');
    EXCEPTION WHEN OTHERS THEN
        message := 'Profile picture is not valid base64.';
        RETURN;
    END;
    IF octet_length(data) > 4718592 THEN
        message := 'Profile picture is too large (max 4.5 MB).';
    ELSIF substring(data FROM 1 FOR 8) = '\x89504e470d0a1a0a'::bytea THEN
        mime := 'image/png';
    ELSIF substring(data FROM 1 FOR 3) = '\xffd8ff'::bytea THEN
        mime := 'image/jpeg';
    ELSIF substring(data FROM 1 FOR 4) = '\x47494638'::bytea THEN
        mime := 'image/gif';
    ELSIF substring(data FROM 1 FOR 4) = '\x52494646'::bytea
          AND substring(data FROM 9 FOR 4) = '\x57454250'::bytea THEN
        mime := 'image/webp';
    ELSE
        message := 'Profile picture must be a PNG, JPEG, GIF or WebP image.';
    END IF;
    IF message IS NOT NULL THEN
        data := NULL;
    END IF;
END
$$;

CREATE FUNCTION api_edit_user(p_key text, p_args jsonb)
RETURNS TABLE (status int, content_type text, disposition text, body bytea)
LANGUAGE plpgsql AS $$
DECLARE
    me      users := api_user(p_key);
    who     record;
    b       jsonb := coalesce(p_args->'body', '{}');
    pic     bytea;
    mime    text;
    why     text;
    e       jsonb;
    nyaa    text;
    extra   jsonb := '{}';
    newkey  text;
BEGIN
    SELECT * INTO who FROM api_users_access(me, p_args, true);
    IF who.status IS NOT NULL THEN
        RETURN QUERY SELECT * FROM api_error(who.status, who.message);
        RETURN;
    END IF;

    IF NOT b ?| ARRAY['description', 'pfp', 'reset_torrent_key',
                      'remove_nyaa_account', 'nyaa_account_public',
                      'nyaa_account_private', 'revoke_api_keys'] THEN
        RETURN QUERY SELECT * FROM api_edit_invalid(api_edit_err(
            '', '#/anyOf', 'anyOf', '{}', 'must match a schema in anyOf'));
        RETURN;
    END IF;

    -- base64 of 4.5 MB, and room for a data: URL prefix
    e := api_edit_check_str(b->'pfp', '/pfp', '#/properties/pfp', 1,
                            6291456 + 64, false);
    IF e IS NOT NULL THEN
        RETURN QUERY SELECT * FROM api_edit_invalid(e);
        RETURN;
    END IF;
    IF b->>'pfp' NOT IN ('reset', 'keep') THEN
        SELECT p.data, p.mime, p.message INTO pic, mime, why
        FROM api_edit_pfp(b->>'pfp') p;
        IF why IS NOT NULL THEN
            RETURN QUERY SELECT * FROM api_error(400, why);
            RETURN;
        END IF;
    END IF;

    FOREACH nyaa IN ARRAY ARRAY['remove_nyaa_account', 'nyaa_account_public',
                                'nyaa_account_private']
    LOOP
        IF p_args ? nyaa AND NOT EXISTS (
               SELECT 1 FROM user_nyaa_accounts n
               WHERE n.user_id = who.target
                 AND lower(n.username) = lower(p_args->>nyaa)) THEN
            RETURN QUERY SELECT * FROM api_error(404,
                                                 'Nyaa account not found.');
            RETURN;
        END IF;
    END LOOP;

    -- the writes
    IF p_args ? 'description' THEN
        UPDATE users SET description = p_args->>'description'
        WHERE id = who.target;
    END IF;

    IF b->>'pfp' = 'reset' THEN
        UPDATE users SET pfp_hash = NULL WHERE id = who.target;
    ELSIF pic IS NOT NULL THEN
        INSERT INTO pfps (hash, content_type, data)
        VALUES (encode(digest(pic, 'sha1'), 'hex'), mime, pic)
        ON CONFLICT (hash) DO NOTHING;
        UPDATE users SET pfp_hash = encode(digest(pic, 'sha1'), 'hex')
        WHERE id = who.target;
    END IF;

    IF p_args ? 'nyaa_account_public' THEN
        UPDATE user_nyaa_accounts SET public = true
        WHERE user_id = who.target
          AND lower(username) = lower(p_args->>'nyaa_account_public');
    END IF;
    IF p_args ? 'nyaa_account_private' THEN
        UPDATE user_nyaa_accounts SET public = false
        WHERE user_id = who.target
          AND lower(username) = lower(p_args->>'nyaa_account_private');
    END IF;
    IF p_args ? 'remove_nyaa_account' THEN
        DELETE FROM user_nyaa_accounts
        WHERE user_id = who.target
          AND lower(username) = lower(p_args->>'remove_nyaa_account');
    END IF;

    -- the trigger tracker_notify_user (002) tells the tracker, at commit,
    -- to forget the old passkey
    IF (p_args->>'reset_torrent_key')::boolean THEN
        UPDATE users SET torrent_key = random_key() WHERE id = who.target
        RETURNING torrent_key INTO newkey;
        extra := jsonb_build_object('new_torrent_key', newkey);
    END IF;

    IF (p_args->>'revoke_api_keys')::boolean THEN
        UPDATE api_keys SET revoked = true
        WHERE user_id = who.target AND NOT revoked;
    END IF;

    RETURN QUERY SELECT * FROM api_edit_ok(extra);
END
$$;

-- PUT /users/<id|@me>/notifications/read --------------------------------------

CREATE FUNCTION api_edit_notifications_read(p_key text, p_args jsonb)
RETURNS TABLE (status int, content_type text, disposition text, body bytea)
LANGUAGE plpgsql AS $$
DECLARE
    me      users := api_user(p_key);
    who     record;
    ids     jsonb := p_args->'body'->'ids';
    e       jsonb;
BEGIN
    SELECT * INTO who FROM api_users_access(me, p_args, true);
    IF who.status IS NOT NULL THEN
        RETURN QUERY SELECT * FROM api_error(who.status, who.message);
        RETURN;
    END IF;

    e := CASE
        WHEN ids IS NULL THEN
            api_edit_err('', '#/required', 'required',
                         '{"missingProperty":"ids"}',
                         'must have required property ''ids''')
        WHEN jsonb_typeof(ids) = 'string' AND ids #>> '{}' <> 'all' THEN
            api_edit_err('/ids', '#/properties/ids/enum', 'enum',
                         '{"allowedValues":["all"]}',
                         'must be equal to one of the allowed values')
        WHEN jsonb_typeof(ids) = 'string' THEN NULL
        ELSE coalesce(
            api_edit_check_array(ids, '/ids', '#/properties/ids', 1000),
            (SELECT api_edit_type_err('/ids/' || (x.n - 1),
                                      '#/properties/ids/items', 'string')
             FROM jsonb_array_elements(ids) WITH ORDINALITY x(v, n)
             WHERE jsonb_typeof(x.v) NOT IN ('string', 'number')
             ORDER BY x.n LIMIT 1))
        END;
    IF e IS NOT NULL THEN
        RETURN QUERY SELECT * FROM api_edit_invalid(e);
        RETURN;
    END IF;

    UPDATE notifications n SET seen = true
    WHERE n.user_id = who.target AND NOT n.seen
      AND (jsonb_typeof(ids) = 'string'
           OR n.id IN (SELECT api_id(x)
                       FROM jsonb_array_elements_text(ids) x));

    -- the list as GET .../notifications shows it, after the change
    RETURN QUERY SELECT * FROM api_users_notifications(p_key, p_args);
END
$$;

-- Comments --------------------------------------------------------------------

-- "<...>" tags in notifications end at the first '>'
CREATE FUNCTION api_edit_tag_text(p text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT replace(replace(p, '>', ''), '<', '')
$$;

-- Who may act on t's comments (and on the comment c, with p_comment): the
-- refusal, or no row.  p_write: posting, editing, rating (not deleting)
-- also needs the right to comment and comments open.
CREATE FUNCTION api_edit_comment_refusal(me users, t torrents, c comments,
                                         p_write boolean, p_comment boolean)
RETURNS TABLE (status int, content_type text, disposition text, body bytea)
LANGUAGE sql STABLE AS $$
    SELECT r.status, r.content_type, r.disposition, r.body FROM (
        SELECT 1 AS n, * FROM api_unauthorized() WHERE me.id IS NULL
        UNION ALL
        SELECT 2, * FROM api_torrent_refusal(api_torrent_access(t, me))
        UNION ALL
        -- bit 4: no_comment
        SELECT 3, * FROM api_error(403, 'Forbidden.')
        WHERE p_write AND me.permissions & 16 <> 0
        UNION ALL
        SELECT 4, * FROM api_error(403, 'Comments are locked on this torrent.')
        WHERE p_write AND (t.disable_comments OR t.lock_comments)
          AND NOT api_edit_is_mod(me)
        UNION ALL
        SELECT 5, * FROM api_error(404, 'Comment not found.')
        WHERE p_comment AND c.id IS NULL
    ) r ORDER BY r.n LIMIT 1
$$;

-- the comment p_args names (id2) on the torrent it names (id), live
CREATE FUNCTION api_edit_comment_find(p_args jsonb) RETURNS comments
LANGUAGE sql STABLE AS $$
    SELECT c.* FROM comments c
    WHERE c.id = api_id(p_args->>'id2')
      AND c.torrent_id = api_id(p_args->>'id') AND NOT c.deleted
$$;

-- POST /torrents/<id>/comments {text, replying_to?}
CREATE FUNCTION api_edit_comment_post(p_key text, p_args jsonb)
RETURNS TABLE (status int, content_type text, disposition text, body bytea)
LANGUAGE plpgsql AS $$
DECLARE
    me      users := api_user(p_key);
    t       torrents;
    parent  comments;
    e       jsonb;
    cid     bigint;
    who     text;
BEGIN
    SELECT * INTO t FROM torrents WHERE id = api_id(p_args->>'id');
    RETURN QUERY SELECT * FROM api_edit_comment_refusal(me, t, NULL, true,
                                                        false);
    IF FOUND THEN
        RETURN;
    END IF;
    e := api_edit_check_int(p_args->'body'->'replying_to', '/replying_to',
                            '#/properties/replying_to', 0,
                            999999999999999999, true);
    IF e IS NOT NULL THEN
        RETURN QUERY SELECT * FROM api_edit_invalid(e);
        RETURN;
    END IF;

    IF jsonb_typeof(p_args->'body'->'replying_to') IN ('string', 'number')
    THEN
        SELECT * INTO parent FROM comments c
        WHERE c.id = api_id(p_args->'body'->>'replying_to')
          AND c.torrent_id = t.id AND NOT c.deleted;
        IF parent.id IS NULL THEN
            RETURN QUERY SELECT * FROM api_error(404, 'Comment not found.');
            RETURN;
        END IF;
    END IF;

    INSERT INTO comments (torrent_id, user_id, parent_id, text)
    VALUES (t.id, me.id, parent.id, p_args->>'text')
    RETURNING id INTO cid;

    -- tell the one replied to, or else the uploader (not oneself)
    who := format('<u:%s:%s>', me.id,
                  api_edit_tag_text(coalesce(me.display_name, me.username)));
    INSERT INTO notifications (user_id, data)
    SELECT coalesce(parent.user_id, t.uploader_id),
           CASE WHEN parent.id IS NOT NULL
                THEN who || ' replied to your comment on '
                ELSE who || ' commented on your torrent ' END
           || format('<tc:%s:%s:%s>', t.id, cid, api_edit_tag_text(t.title))
    WHERE coalesce(parent.user_id, t.uploader_id) IS NOT NULL
      AND coalesce(parent.user_id, t.uploader_id) <> me.id;

    RETURN QUERY SELECT * FROM api_ok(jsonb_build_object('id', cid::text));
END
$$;

-- PATCH /torrents/<id>/comments/<cid> {text?, pinned?}: the text is the
-- author's; pinning is for who may edit the torrent
CREATE FUNCTION api_edit_comment_edit(p_key text, p_args jsonb)
RETURNS TABLE (status int, content_type text, disposition text, body bytea)
LANGUAGE plpgsql AS $$
DECLARE
    me      users := api_user(p_key);
    t       torrents;
    c       comments := api_edit_comment_find(p_args);
BEGIN
    IF NOT p_args ?| ARRAY['text', 'pinned'] THEN
        RETURN QUERY SELECT * FROM api_edit_invalid(api_edit_err(
            '', '#/anyOf', 'anyOf', '{}', 'must match a schema in anyOf'));
        RETURN;
    END IF;
    SELECT * INTO t FROM torrents WHERE id = api_id(p_args->>'id');
    RETURN QUERY SELECT * FROM api_edit_comment_refusal(me, t, c, true, true);
    IF FOUND THEN
        RETURN;
    END IF;
    IF (p_args ? 'text' AND c.user_id IS DISTINCT FROM me.id)
       OR (p_args ? 'pinned' AND api_torrent_access(t, me) <> 'edit') THEN
        RETURN QUERY SELECT * FROM api_error(403, 'Forbidden.');
        RETURN;
    END IF;

    UPDATE comments SET
        text = coalesce(p_args->>'text', text),
        last_edit = CASE WHEN p_args ? 'text' THEN now() ELSE last_edit END,
        pinned = coalesce((p_args->>'pinned')::boolean, pinned)
    WHERE id = c.id;

    RETURN QUERY SELECT * FROM api_edit_ok();
END
$$;

-- DELETE /torrents/<id>/comments/<cid>: the author, who may edit the
-- torrent, or a moderator.  The row stays (replies hang on it); reads mask
-- it.
CREATE FUNCTION api_edit_comment_delete(p_key text, p_args jsonb)
RETURNS TABLE (status int, content_type text, disposition text, body bytea)
LANGUAGE plpgsql AS $$
DECLARE
    me      users := api_user(p_key);
    t       torrents;
    c       comments := api_edit_comment_find(p_args);
BEGIN
    SELECT * INTO t FROM torrents WHERE id = api_id(p_args->>'id');
    RETURN QUERY SELECT * FROM api_edit_comment_refusal(me, t, c, false,
                                                        true);
    IF FOUND THEN
        RETURN;
    END IF;
    IF c.user_id IS DISTINCT FROM me.id
       AND api_torrent_access(t, me) <> 'edit' THEN
        RETURN QUERY SELECT * FROM api_error(403, 'Forbidden.');
        RETURN;
    END IF;

    UPDATE comments SET deleted = true, pinned = false WHERE id = c.id;

    RETURN QUERY SELECT * FROM api_edit_ok();
END
$$;

-- PUT /torrents/<id>/comments/<cid>/rating {rating: 1 | -1 | 0}: 0 takes
-- the rating back.  The answer carries the counts as the read side shows
-- them.
CREATE FUNCTION api_edit_comment_rate(p_key text, p_args jsonb)
RETURNS TABLE (status int, content_type text, disposition text, body bytea)
LANGUAGE plpgsql AS $$
DECLARE
    me      users := api_user(p_key);
    t       torrents;
    c       comments := api_edit_comment_find(p_args);
    rating  int := (p_args->>'rating')::int;
BEGIN
    SELECT * INTO t FROM torrents WHERE id = api_id(p_args->>'id');
    RETURN QUERY SELECT * FROM api_edit_comment_refusal(me, t, c, true, true);
    IF FOUND THEN
        RETURN;
    END IF;
    IF c.user_id = me.id THEN
        RETURN QUERY SELECT * FROM api_error(403,
                                   'You cannot rate your own comment.');
        RETURN;
    END IF;

    IF rating = 0 THEN
        DELETE FROM comment_ratings
        WHERE comment_id = c.id AND user_id = me.id;
    ELSE
        INSERT INTO comment_ratings (comment_id, user_id, positive)
        VALUES (c.id, me.id, rating > 0)
        ON CONFLICT (comment_id, user_id)
        DO UPDATE SET positive = EXCLUDED.positive, created_at = now();
    END IF;

    RETURN QUERY SELECT * FROM api_ok((
        SELECT jsonb_build_object(
                   'id', c.id::text,
                   'positive', (count(*) FILTER (WHERE cr.positive))::text,
                   'negative', (count(*) FILTER (WHERE NOT cr.positive))::text,
                   'user_rating', CASE WHEN rating = 0 THEN NULL
                                       ELSE rating > 0 END)
        FROM comment_ratings cr WHERE cr.comment_id = c.id));
END
$$;
