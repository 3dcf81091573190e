-- 008_api_downloads: .torrent downloads, one or a ZIP of many.
--
--   GET   /torrents/<id>/download   api_torrent_download
--   GET   /torrents/bulk/download   api_torrents_bulk_download (?ids=1,2)
--   PATCH /torrents/bulk/download   the same, {"ids":[...],"public":b}
--
-- These functions return the files, not JSON (route kinds TORRENT and ZIP
-- in src/ngx_tracker_api.h): on success each row carries a stored
-- .torrent (body), the announce URL the module puts in (announce), our
-- public announce URL (tracker: it and the passkey URLs below it are taken
-- out of the other tiers) and, for a ZIP, the file's name in the archive.
-- On failure one row with a JSON error body, as every API function.

-- CONTRACT (shared with the torrents helper's migration): site-wide
-- settings; public_tracker_url is the announce URL of the open tracker,
-- a user's private one is public_tracker_url || '/' || torrent_key.
CREATE TABLE IF NOT EXISTS site_settings (
    key text PRIMARY KEY,
    value text NOT NULL
);

INSERT INTO site_settings (key, value)
VALUES ('public_tracker_url', 'http://127.0.0.1:8080/announce')
ON CONFLICT (key) DO NOTHING;

-- Who may download a torrent: anyone when it is approved and not deleted
-- (hidden ones too: hidden only keeps them out of listings); its uploader
-- and moderators (bits 0 admin, 1 moderator) also while it waits for
-- approval or was rejected.  Deleted torrents are gone for everyone.
CREATE FUNCTION api_torrent_downloadable(t torrents, u users)
RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT t.deleted IS NULL AND t.torrent_data IS NOT NULL
       AND (t.status = 1
            OR (u.id IS NOT NULL
                AND (t.uploader_id = u.id OR u.permissions & 3 <> 0)))
$$;

-- The announce URL to put in: the caller's passkey URL, or the public one
-- for anonymous callers and ?public=true.  NULL (no public_tracker_url
-- setting): files are served as stored.
CREATE FUNCTION api_announce_url(u users, p_public boolean)
RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN u.id IS NULL OR p_public THEN s.value
                ELSE s.value || '/' || u.torrent_key END
    FROM (SELECT (SELECT value FROM site_settings
                  WHERE key = 'public_tracker_url') AS value) s
$$;

-- A file name without path separators, control characters or characters
-- that Windows refuses; never empty, never hidden (leading dots).
CREATE FUNCTION api_file_name(p_title text)
RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(nullif(left(ltrim(btrim(regexp_replace(p_title,
               '[\x01-\x1f\x7f/\\:*?"<>|]', '_', 'g')), '. '), 180), ''),
           'torrent')
$$;

-- Content-Disposition: a plain ASCII filename for old clients and the real
-- one as RFC 8187 UTF-8 (filename*).
CREATE FUNCTION api_attachment(p_name text)
RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT 'attachment; filename="'
           || regexp_replace(p_name, '[^A-Za-z0-9 ._()\[\]{}+,&=!#@~-]', '_',
                             'g')
           || '"; filename*=UTF-8''''' || (
               SELECT string_agg(CASE
                          WHEN b BETWEEN 48 AND 57 OR b BETWEEN 65 AND 90
                               OR b BETWEEN 97 AND 122 OR b IN (45, 46, 95, 126)
                          THEN chr(b)
                          ELSE '%' || upper(lpad(to_hex(b), 2, '0')) END,
                          '' ORDER BY i)
               FROM (SELECT i, get_byte(convert_to(p_name, 'UTF8'), i) AS b
                     FROM generate_series(0,
                         octet_length(convert_to(p_name, 'UTF8')) - 1) i) x)
$$;

-- api_error's row in the shape of the file functions' rows
CREATE FUNCTION api_file_error(p_status int, p_message text)
RETURNS TABLE (status int, content_type text, disposition text, body bytea,
               announce text, tracker text, name text)
LANGUAGE sql IMMUTABLE AS $$
    SELECT e.*, NULL::text, NULL::text, NULL::text
    FROM api_error(p_status, p_message) e
$$;

CREATE FUNCTION api_torrent_download(p_key text, p_args jsonb)
RETURNS TABLE (status int, content_type text, disposition text, body bytea,
               announce text, tracker text, name text)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    u users;
BEGIN
    u := api_user(p_key);

    RETURN QUERY
    SELECT 200, 'application/x-bittorrent',
           api_attachment(api_file_name(t.title) || '.torrent'),
           t.torrent_data,
           api_announce_url(u, (p_args->>'public')::boolean),
           (SELECT s.value FROM site_settings s
            WHERE s.key = 'public_tracker_url'),
           NULL::text
    FROM torrents t
    WHERE t.id = api_id(p_args->>'id')
      AND api_torrent_downloadable(t, u);

    IF NOT FOUND THEN
        RETURN QUERY SELECT * FROM api_file_error(404, 'Torrent not found.');
    END IF;
END
$$;

-- The ZIP's entries in the order the ids were given (the first occurrence
-- of a repeated id), inaccessible ones left out silently; names made unique
-- with " (2)", " (3)"...  The module refuses more than 500 ids before this.
CREATE FUNCTION api_torrents_bulk_download(p_key text, p_args jsonb)
RETURNS TABLE (status int, content_type text, disposition text, body bytea,
               announce text, tracker text, name text)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    u users;
    v_announce text;
    v_tracker text;
    v_disposition text := api_attachment('torrents.zip');
BEGIN
    u := api_user(p_key);
    v_announce := api_announce_url(u, (p_args->>'public')::boolean);
    v_tracker := (SELECT s.value FROM site_settings s
                  WHERE s.key = 'public_tracker_url');

    RETURN QUERY
    WITH req AS (
        SELECT DISTINCT ON (api_id(x.v)) api_id(x.v) AS id, x.n
        FROM jsonb_array_elements_text(p_args->'ids') WITH ORDINALITY x(v, n)
        WHERE api_id(x.v) IS NOT NULL
        ORDER BY api_id(x.v), x.n
    ), files AS (
        SELECT r.n, t.torrent_data, api_file_name(t.title) AS base
        FROM req r
        JOIN torrents t ON t.id = r.id
        WHERE api_torrent_downloadable(t, u)
    ), named AS (
        SELECT f.n, f.torrent_data, f.base,
               row_number() OVER (PARTITION BY lower(f.base) ORDER BY f.n)
                   AS dup
        FROM files f
    )
    SELECT 200, 'application/zip', v_disposition,
           d.torrent_data, v_announce, v_tracker,
           d.base || CASE WHEN d.dup > 1 THEN ' (' || d.dup || ')' ELSE '' END
                  || '.torrent'
    FROM named d
    ORDER BY d.n;

    IF NOT FOUND THEN
        RETURN QUERY
        SELECT * FROM api_file_error(400, 'No accessible torrents found.');
    END IF;
END
$$;
