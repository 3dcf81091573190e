-- 003_api_common: what every JSON API function shares.
--
-- The nginx module calls one function per endpoint:
--
--     api_<name>(p_key text, p_args jsonb)
--         RETURNS TABLE (status int, content_type text, disposition text,
--                        body bytea)
--
-- p_key is the SHA-256 hex of the caller's API key (NULL when none was
-- sent); p_args holds the path captures ("id", "id2") and the query
-- parameters, already checked and typed by the module (integers as
-- numbers, booleans as booleans, the rest as strings; defaults filled in).
-- content_type NULL means application/json.

-- the caller, when the key is valid and the user enabled
CREATE FUNCTION api_user(p_key text) RETURNS users
LANGUAGE sql STABLE AS $$
    SELECT u.* FROM api_keys k JOIN users u ON u.id = k.user_id
    WHERE p_key IS NOT NULL AND k.key_hash = p_key AND NOT k.revoked
      AND (k.expires_at IS NULL OR k.expires_at > now())
      AND NOT u.disabled
$$;

-- {"error":false,"data":...} (and "message" when given)
CREATE FUNCTION api_ok(p_data jsonb, p_message text DEFAULT NULL)
RETURNS TABLE (status int, content_type text, disposition text, body bytea)
LANGUAGE sql IMMUTABLE AS $$
    SELECT 200, NULL::text, NULL::text,
           convert_to(CASE WHEN p_message IS NULL
               THEN jsonb_build_object('error', false, 'data', p_data)::text
               ELSE jsonb_build_object('error', false, 'data', p_data,
                                       'message', p_message)::text END,
                      'UTF8')
$$;

-- {"error":true,"message":...} with its status
CREATE FUNCTION api_error(p_status int, p_message text)
RETURNS TABLE (status int, content_type text, disposition text, body bytea)
LANGUAGE sql IMMUTABLE AS $$
    SELECT p_status, NULL::text, NULL::text,
           convert_to(jsonb_build_object('error', true,
                                         'message', p_message)::text, 'UTF8')
$$;

CREATE FUNCTION api_unauthorized()
RETURNS TABLE (status int, content_type text, disposition text, body bytea)
LANGUAGE sql IMMUTABLE AS $$
    SELECT * FROM api_error(401, 'Unauthorized.')
$$;

-- ids and millisecond timestamps are strings in the reference's JSON
CREATE FUNCTION api_ms(t timestamptz) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN t IS NULL THEN NULL ELSE epoch_ms(t)::text END
$$;

-- "123" -> 123, anything else -> NULL (ids arrive as path text)
CREATE FUNCTION api_id(p text) RETURNS bigint
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN p ~ '^[0-9]{1,18}$' THEN p::bigint END
$$;

CREATE FUNCTION api_announcements(p_key text, p_args jsonb)
RETURNS TABLE (status int, content_type text, disposition text, body bytea)
LANGUAGE sql STABLE AS $$
    SELECT * FROM api_ok(coalesce((
        SELECT jsonb_agg(jsonb_build_object(
                   'start_time', api_ms(a.start_time),
                   'end_time', api_ms(a.end_time),
                   'message', a.message,
                   'link', a.link,
                   'new_tab', a.new_tab,
                   'color', a.color,
                   'dismissible', a.dismissible)
                   ORDER BY a.start_time DESC)
        FROM announcements a
        WHERE now() BETWEEN a.start_time AND a.end_time
    ), '[]'::jsonb))
$$;

CREATE FUNCTION api_langs(p_key text, p_args jsonb)
RETURNS TABLE (status int, content_type text, disposition text, body bytea)
LANGUAGE sql STABLE AS $$
    SELECT * FROM api_ok(jsonb_build_object(
        'langs', coalesce((
            SELECT jsonb_object_agg(l.code, jsonb_build_object(
                       'code', l.code, 'name', l.name, 'flag', l.flag))
            FROM langs l), '{}'::jsonb),
        'convert', coalesce((
            SELECT jsonb_object_agg(a.alias, a.code) FROM lang_aliases a),
            '{}'::jsonb)))
$$;
