-- 001_init: the tracker's and the JSON API's schema.
--
-- Applied once, inside one transaction, by sql/migrate.sh (which records it
-- in schema_migrations).  No BEGIN/COMMIT here.  Names marked CONTRACT are
-- used verbatim by the C side (src/): change them only together with it.

CREATE EXTENSION IF NOT EXISTS pg_trgm;     -- title similarity search
CREATE EXTENSION IF NOT EXISTS pgcrypto;    -- gen_random_bytes() for keys

-- IDs ---------------------------------------------------------------------

-- CONTRACT: snowflake(kind) = ms since 2024-01-01 << 22 | kind << 18 | seq.
-- Time-ordered, so "latest" sorts are sorts by id.  18 sequence bits allow
-- 262144 ids per millisecond before the cycle could repeat one.
CREATE SEQUENCE snowflake_seq MINVALUE 0 MAXVALUE 262143 START 0 CYCLE;

CREATE FUNCTION snowflake(kind int) RETURNS bigint
LANGUAGE sql VOLATILE PARALLEL UNSAFE AS $$
    SELECT ((floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint
             - 1704067200000) << 22)
           | ((kind & 15)::bigint << 18)
           | nextval('snowflake_seq')
$$;

-- kinds (4 bits): which table an id came from, readable with
-- (id >> 18) & 15 when debugging.
COMMENT ON FUNCTION snowflake(int) IS
    'kinds: 1 user, 2 api key, 3 torrent, 4 group, 5 invite, 6 comment, '
    '7 notification, 8 site event, 9 announcement';

CREATE FUNCTION random_key() RETURNS text
LANGUAGE sql VOLATILE AS $$ SELECT encode(gen_random_bytes(16), 'hex') $$;

-- ms since the epoch: the API renders timestamps this way
CREATE FUNCTION epoch_ms(t timestamptz) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT (extract(epoch FROM t) * 1000)::bigint
$$;

-- Users -------------------------------------------------------------------

-- Bits of users.permissions (documentation for the API code and operators).
CREATE TABLE permission_bits (
    bit         int PRIMARY KEY CHECK (bit BETWEEN 0 AND 62),
    name        text NOT NULL UNIQUE,
    description text NOT NULL
);

INSERT INTO permission_bits VALUES
    (0, 'admin',     'everything, including permissions of others'),
    (1, 'moderator', 'edit, hide, delete and approve any torrent; comments'),
    (2, 'uploader',  'uploads are approved without review'),
    (3, 'no_upload', 'may not upload'),
    (4, 'no_comment', 'may not comment or rate');

CREATE TABLE users (
    id              bigint PRIMARY KEY DEFAULT snowflake(1),
    username        text NOT NULL UNIQUE,     -- format: users_check_keys
    display_name    text CHECK (length(display_name) <= 32),
    password_hash   text,
    pfp_hash        text,
    description     text NOT NULL DEFAULT '',
    torrent_key     text NOT NULL UNIQUE DEFAULT random_key(),
    disabled        boolean NOT NULL DEFAULT false,
    can_leech       boolean NOT NULL DEFAULT true,
    permissions     bigint NOT NULL DEFAULT 0,
    -- credited totals (multipliers applied by the tracker before the flush)
    uploaded        bigint NOT NULL DEFAULT 0,
    downloaded      bigint NOT NULL DEFAULT 0,
    has_mfa         boolean NOT NULL DEFAULT false,
    recovery_key_downloaded boolean NOT NULL DEFAULT false,
    created_at      timestamptz NOT NULL DEFAULT now(),
    last_active_at  timestamptz
) WITH (fillfactor = 50);

-- HOT: each flush rewrites the totals of every active user (and the
-- stats of users' torrents, peers, torrents) in one statement.  An update
-- stays on its page, touching no index, only if the page has room for the
-- new versions of all its rows updated at once; half-full pages give that
-- room, and the next flush's page pruning frees the old versions.  Without
-- it, every flush inserts into every index of these tables.

-- The formats of username and torrent_key are checked by a trigger that
-- runs only when they are written: a CHECK constraint would run its regular
-- expressions again on every flush that updates the totals.
CREATE FUNCTION users_check_keys() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.username !~ '^[A-Za-z0-9_.-]{1,32}$' THEN
        RAISE check_violation USING
            MESSAGE = 'username must be 1-32 of A-Z a-z 0-9 _ . -',
            CONSTRAINT = 'users_username_check';
    END IF;
    IF NEW.torrent_key !~ '^[0-9a-f]{32}$' THEN
        RAISE check_violation USING
            MESSAGE = 'torrent_key must be 32 lowercase hex digits',
            CONSTRAINT = 'users_torrent_key_check';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER users_check_keys
    BEFORE INSERT OR UPDATE OF username, torrent_key ON users
    FOR EACH ROW EXECUTE FUNCTION users_check_keys();

-- one account per name regardless of case (no look-alike impersonation)
CREATE UNIQUE INDEX users_username_lower ON users (lower(username));
CREATE INDEX users_created_at ON users (created_at);
CREATE INDEX users_last_active_at ON users (last_active_at);

CREATE TABLE user_nyaa_accounts (
    user_id     bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    username    text NOT NULL CHECK (length(username) BETWEEN 1 AND 64),
    public      boolean NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, username)
);

-- CONTRACT: API keys are stored as sha256 hex of the key; the key itself is
-- shown once, when it is made.
CREATE TABLE api_keys (
    id          bigint PRIMARY KEY DEFAULT snowflake(2),
    user_id     bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    key_hash    text NOT NULL UNIQUE CHECK (key_hash ~ '^[0-9a-f]{64}$'),
    name        text NOT NULL DEFAULT '',
    scopes      text[] NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz,
    revoked     boolean NOT NULL DEFAULT false,
    last_used_at timestamptz
);

CREATE INDEX api_keys_user_id ON api_keys (user_id);

-- Groups ------------------------------------------------------------------

CREATE TABLE groups (
    id          bigint PRIMARY KEY DEFAULT snowflake(4),
    name        text NOT NULL CHECK (name ~ '^[a-z0-9_.-]{1,64}$'),
    display_name text NOT NULL CHECK (length(display_name) BETWEEN 1 AND 64),
    tag         text NOT NULL CHECK (length(tag) BETWEEN 1 AND 64),
    display_tag text NOT NULL,
    pfp_hash    text,
    tagline     text NOT NULL DEFAULT '',
    description text NOT NULL DEFAULT '',
    anonymous   smallint NOT NULL DEFAULT 0,
    created_at  timestamptz NOT NULL DEFAULT now(),
    deleted     timestamptz
);

CREATE UNIQUE INDEX groups_name ON groups (name);
CREATE UNIQUE INDEX groups_tag_lower ON groups (lower(tag));
CREATE INDEX groups_created_at ON groups (created_at);
CREATE INDEX groups_search ON groups
    USING gin ((display_name || ' ' || display_tag) gin_trgm_ops);

CREATE TABLE group_members (
    group_id    bigint NOT NULL REFERENCES groups ON DELETE CASCADE,
    user_id     bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    leader      boolean NOT NULL DEFAULT false,
    admin       boolean NOT NULL DEFAULT false,
    regular     boolean NOT NULL DEFAULT true,
    joined_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (group_id, user_id)
);

CREATE INDEX group_members_user_id ON group_members (user_id);

-- An invite is a member slot without an account yet: for a named user
-- (recipient_id), or an "orphan" that only has a display name (made on
-- upload, or left behind by a non-destructive member removal).  Accepting
-- it turns it into a group_members row and moves its torrent credits.
CREATE TABLE group_invites (
    id          bigint PRIMARY KEY DEFAULT snowflake(5),
    group_id    bigint NOT NULL REFERENCES groups ON DELETE CASCADE,
    author_id   bigint REFERENCES users ON DELETE SET NULL,
    recipient_id bigint REFERENCES users ON DELETE SET NULL,
    display_name text NOT NULL CHECK (length(display_name) BETWEEN 1 AND 32),
    invite_key  text NOT NULL DEFAULT random_key(),
    admin       boolean NOT NULL DEFAULT false,
    regular     boolean NOT NULL DEFAULT true,
    used        boolean NOT NULL DEFAULT false,
    used_by     bigint REFERENCES users ON DELETE SET NULL,
    used_at     timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX group_invites_group_id ON group_invites (group_id);
CREATE INDEX group_invites_recipient_id ON group_invites (recipient_id)
    WHERE recipient_id IS NOT NULL;
-- display names are unique among a group's open invites
CREATE UNIQUE INDEX group_invites_open_name ON group_invites
    (group_id, lower(display_name)) WHERE NOT used;

-- Parent/child relation between groups; active once both leaders approved.
CREATE TABLE group_links (
    parent_id   bigint NOT NULL REFERENCES groups ON DELETE CASCADE,
    child_id    bigint NOT NULL REFERENCES groups ON DELETE CASCADE,
    initiator_id bigint NOT NULL REFERENCES groups ON DELETE CASCADE,
    parent_approved boolean NOT NULL DEFAULT false,
    child_approved  boolean NOT NULL DEFAULT false,
    active      boolean GENERATED ALWAYS AS
                (parent_approved AND child_approved) STORED,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (parent_id, child_id),
    CHECK (parent_id <> child_id),
    CHECK (initiator_id IN (parent_id, child_id))
);

CREATE INDEX group_links_child_id ON group_links (child_id);

-- Media -------------------------------------------------------------------

CREATE FUNCTION text_array_join(a text[]) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(array_to_string(a, ' '), '')
$$;

-- ids are 's<n>' (series) or 'm<n>' (movies), as the API shows them
CREATE TABLE media (
    id          text PRIMARY KEY CHECK (id ~ '^[sm][0-9]{1,18}$'),
    movie       boolean GENERATED ALWAYS AS (left(id, 1) = 'm') STORED,
    title       text NOT NULL,
    year        int,
    genres      text[] NOT NULL DEFAULT '{}',
    overview    text,
    status      text,
    banner_url  text,
    runtime     int,
    tvdb_id     int,
    tmdb_id     int,
    imdb_id     text,
    alternate_titles text[] NOT NULL DEFAULT '{}',
    notes       text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX media_title_trgm ON media USING gin (title gin_trgm_ops);
CREATE INDEX media_alt_titles_trgm ON media
    USING gin (text_array_join(alternate_titles) gin_trgm_ops);
CREATE INDEX media_tvdb_id ON media (tvdb_id) WHERE tvdb_id IS NOT NULL;

CREATE TABLE episodes (
    id          bigint PRIMARY KEY GENERATED BY DEFAULT AS IDENTITY,
    media_id    text NOT NULL REFERENCES media ON DELETE CASCADE,
    season      int NOT NULL,
    episode     int NOT NULL,
    absolute    int,
    title       text,
    overview    text,
    runtime     int,
    air_date    timestamptz,
    tvdb_id     int,
    UNIQUE (media_id, season, episode)
);

-- Torrents ----------------------------------------------------------------

-- CONTRACT: info_hash is the v1 hash, or for a v2-only torrent the
-- truncated v2 hash; the tracker looks up
--   WHERE info_hash = $1 OR info_hash_v2_trunc = $1
-- so a hybrid answers to both of its hashes as one torrent.
CREATE TABLE torrents (
    id          bigint PRIMARY KEY DEFAULT snowflake(3),
    info_hash   bytea NOT NULL UNIQUE CHECK (octet_length(info_hash) = 20),
    info_hash_v2 bytea UNIQUE CHECK (octet_length(info_hash_v2) = 32),
    info_hash_v2_trunc bytea GENERATED ALWAYS AS
                (substring(info_hash_v2 FROM 1 FOR 20)) STORED,
    torrent_data bytea,
    title       text NOT NULL CHECK (length(title) BETWEEN 1 AND 512),
    auto_title  text,
    -- no length CHECKs on the long texts: every flush that writes the
    -- stats back would detoast them to re-check (the API validates them)
    description text,
    mediainfo   text,
    category    smallint NOT NULL DEFAULT 1,
    -- 0 pending approval, 1 approved, 2 rejected
    status      smallint NOT NULL DEFAULT 1 CHECK (status IN (0, 1, 2)),
    deleted     timestamptz,
    deletion_reason text CHECK (length(deletion_reason) <= 256),
    hidden      boolean NOT NULL DEFAULT false,
    anonymous   boolean NOT NULL DEFAULT false,
    level       smallint CHECK (level BETWEEN -1 AND 4),
    otl         boolean NOT NULL DEFAULT false,
    mtl         boolean NOT NULL DEFAULT false,
    hardsub     boolean NOT NULL DEFAULT false,
    video_codec smallint,
    video_type  smallint,
    audio_lang  text NOT NULL DEFAULT '',
    sub_lang    text NOT NULL DEFAULT '',
    fsub_lang   text NOT NULL DEFAULT '',
    filesize    bigint NOT NULL DEFAULT 0 CHECK (filesize >= 0),
    -- [{"path": ..., "length": ..., "offset": ...}] in torrent order
    files       jsonb NOT NULL DEFAULT '[]',
    media_id    text REFERENCES media ON DELETE SET NULL,
    uploader_id bigint REFERENCES users ON DELETE SET NULL,
    uploaded_at timestamptz NOT NULL DEFAULT now(),
    upgraded_id bigint REFERENCES torrents ON DELETE SET NULL,
    imported    bigint,                 -- Nyaa id when imported
    nyaa_upload_time timestamptz,
    disable_comments boolean NOT NULL DEFAULT false,
    lock_comments    boolean NOT NULL DEFAULT false,
    disable_edits    boolean NOT NULL DEFAULT false,
    animetosho  jsonb,                  -- array, or a status string
    animetosho_fetch_time timestamptz,
    -- per-torrent multipliers in percent: 0 = freeleech, 200 = double up
    dl_percent  smallint NOT NULL DEFAULT 100 CHECK (dl_percent >= 0),
    ul_percent  smallint NOT NULL DEFAULT 100 CHECK (ul_percent >= 0),
    -- written back by the tracker
    seeders     int NOT NULL DEFAULT 0,
    leechers    int NOT NULL DEFAULT 0,
    completed   int NOT NULL DEFAULT 0,
    stats_updated_at timestamptz,
    activity    bigint NOT NULL DEFAULT 0,   -- est. bytes/s of the swarm
    torrent_health smallint NOT NULL DEFAULT 0,
    comment_count int NOT NULL DEFAULT 0,    -- kept by a trigger on comments
    CHECK (info_hash_v2 IS NOT NULL
           OR info_hash_v2_trunc IS NULL)
) WITH (fillfactor = 50);   -- HOT, see users

CREATE UNIQUE INDEX torrents_info_hash_v2_trunc ON torrents
    (info_hash_v2_trunc);
CREATE INDEX torrents_title_trgm ON torrents USING gin (title gin_trgm_ops);

-- Sorts of /torrents/search over listed torrents (hidden ones are listed
-- to their group, so hidden stays a filter rather than part of the
-- predicate).  id is time-ordered: latest/oldest/rss sort by id.
-- Deliberately no index on seeders, leechers, completed or
-- stats_updated_at: the tracker rewrites those for every active torrent on
-- each flush, and with none of them indexed those updates are HOT (no index
-- entries, GIN included); the search sorts by them with a top-N sort.
CREATE INDEX torrents_listed_id ON torrents (id)
    WHERE status = 1 AND deleted IS NULL;
CREATE INDEX torrents_listed_level ON torrents (level, id)
    WHERE status = 1 AND deleted IS NULL;
CREATE INDEX torrents_listed_comments ON torrents (comment_count, id)
    WHERE status = 1 AND deleted IS NULL;
CREATE INDEX torrents_listed_filesize ON torrents (filesize, id)
    WHERE status = 1 AND deleted IS NULL;
CREATE INDEX torrents_media_id ON torrents (media_id, id)
    WHERE media_id IS NOT NULL;
CREATE INDEX torrents_uploader_id ON torrents (uploader_id, id);
CREATE INDEX torrents_pending ON torrents (id) WHERE status = 0;
CREATE INDEX torrents_upgraded_id ON torrents (upgraded_id)
    WHERE upgraded_id IS NOT NULL;

-- A hash must name one torrent whichever column it is found in: a v1 hash
-- equal to another torrent's truncated v2 hash would make the tracker's
-- lookup ambiguous.
CREATE FUNCTION torrents_hash_unique() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    -- generated columns are not computed yet in a BEFORE trigger
    trunc bytea := substring(NEW.info_hash_v2 FROM 1 FOR 20);
BEGIN
    IF EXISTS (SELECT 1 FROM torrents t
               WHERE t.info_hash_v2_trunc = NEW.info_hash AND t.id <> NEW.id)
       OR (trunc IS NOT NULL
           AND EXISTS (SELECT 1 FROM torrents t
                       WHERE t.info_hash = trunc AND t.id <> NEW.id))
    THEN
        RAISE unique_violation USING
            MESSAGE = 'info hash already registered',
            CONSTRAINT = 'torrents_hash_unique';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER torrents_hash_unique
    BEFORE INSERT OR UPDATE OF info_hash, info_hash_v2 ON torrents
    FOR EACH ROW EXECUTE FUNCTION torrents_hash_unique();

CREATE TABLE torrent_episodes (
    torrent_id  bigint NOT NULL REFERENCES torrents ON DELETE CASCADE,
    episode_id  bigint NOT NULL REFERENCES episodes ON DELETE CASCADE,
    PRIMARY KEY (torrent_id, episode_id)
);

CREATE INDEX torrent_episodes_episode_id ON torrent_episodes (episode_id);

-- Groups credited on a torrent: one primary (the uploading group) and any
-- number of secondary groups with a role.
CREATE TABLE torrent_groups (
    torrent_id  bigint NOT NULL REFERENCES torrents ON DELETE CASCADE,
    group_id    bigint NOT NULL REFERENCES groups ON DELETE CASCADE,
    is_primary  boolean NOT NULL DEFAULT false,
    role        text CHECK (length(role) <= 64),
    PRIMARY KEY (torrent_id, group_id)
);

CREATE UNIQUE INDEX torrent_groups_one_primary ON torrent_groups (torrent_id)
    WHERE is_primary;
CREATE INDEX torrent_groups_group_id ON torrent_groups (group_id, torrent_id);

-- Who did what on a torrent for a group: a member (user_id) or an invite
-- slot (invite_id), so credits survive until the invite is accepted.
CREATE TABLE torrent_contributors (
    id          bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY,
    torrent_id  bigint NOT NULL REFERENCES torrents ON DELETE CASCADE,
    group_id    bigint NOT NULL REFERENCES groups ON DELETE CASCADE,
    user_id     bigint REFERENCES users ON DELETE CASCADE,
    invite_id   bigint REFERENCES group_invites ON DELETE CASCADE,
    role        text NOT NULL DEFAULT '' CHECK (length(role) <= 64),
    weight      int NOT NULL DEFAULT 0,
    CHECK ((user_id IS NULL) <> (invite_id IS NULL))
);

CREATE INDEX torrent_contributors_torrent ON torrent_contributors
    (torrent_id, group_id, weight);
CREATE INDEX torrent_contributors_user ON torrent_contributors (user_id)
    WHERE user_id IS NOT NULL;
CREATE INDEX torrent_contributors_invite ON torrent_contributors (invite_id)
    WHERE invite_id IS NOT NULL;

-- Comments ----------------------------------------------------------------

CREATE TABLE comments (
    id          bigint PRIMARY KEY DEFAULT snowflake(6),
    torrent_id  bigint NOT NULL REFERENCES torrents ON DELETE CASCADE,
    user_id     bigint REFERENCES users ON DELETE SET NULL,
    parent_id   bigint REFERENCES comments ON DELETE CASCADE,
    text        text NOT NULL CHECK (length(text) BETWEEN 1 AND 8192),
    pinned      boolean NOT NULL DEFAULT false,
    deleted     boolean NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL DEFAULT now(),
    last_edit   timestamptz
);

CREATE INDEX comments_torrent_id ON comments (torrent_id, id);
CREATE INDEX comments_parent_id ON comments (parent_id)
    WHERE parent_id IS NOT NULL;
CREATE INDEX comments_user_id ON comments (user_id);

CREATE TABLE comment_ratings (
    comment_id  bigint NOT NULL REFERENCES comments ON DELETE CASCADE,
    user_id     bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    positive    boolean NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (comment_id, user_id)
);

-- torrents.comment_count backs the comments sort without a count per row
CREATE FUNCTION comments_count() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' AND NOT NEW.deleted THEN
        UPDATE torrents SET comment_count = comment_count + 1
        WHERE id = NEW.torrent_id;
    ELSIF TG_OP = 'DELETE' AND NOT OLD.deleted THEN
        UPDATE torrents SET comment_count = comment_count - 1
        WHERE id = OLD.torrent_id;
    ELSIF TG_OP = 'UPDATE' AND OLD.deleted <> NEW.deleted THEN
        UPDATE torrents
        SET comment_count = comment_count + CASE WHEN NEW.deleted
                                                 THEN -1 ELSE 1 END
        WHERE id = NEW.torrent_id;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER comments_count
    AFTER INSERT OR DELETE OR UPDATE OF deleted ON comments
    FOR EACH ROW EXECUTE FUNCTION comments_count();

-- Site --------------------------------------------------------------------

CREATE TABLE notifications (
    id          bigint PRIMARY KEY DEFAULT snowflake(7),
    user_id     bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    data        text NOT NULL,
    seen        boolean NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX notifications_user_id ON notifications (user_id, id DESC);

CREATE TABLE announcements (
    id          bigint PRIMARY KEY DEFAULT snowflake(9),
    start_time  timestamptz NOT NULL DEFAULT now(),
    end_time    timestamptz NOT NULL,
    message     text NOT NULL,
    link        text NOT NULL DEFAULT '',
    new_tab     boolean NOT NULL DEFAULT false,
    color       text NOT NULL DEFAULT 'info' CHECK (color IN
                ('info', 'success', 'warning', 'error', 'primary', 'grey')),
    dismissible boolean NOT NULL DEFAULT true,
    CHECK (end_time > start_time)
);

CREATE INDEX announcements_time ON announcements (end_time, start_time);

CREATE TABLE langs (
    code        text PRIMARY KEY CHECK (code ~ '^[a-z]{2,3}(-[a-z0-9]{2,4})?$'),
    name        text NOT NULL,
    flag        text NOT NULL,
    sort        int NOT NULL DEFAULT 0
);

-- other spellings clients send, mapped to a code in langs
CREATE TABLE lang_aliases (
    alias       text PRIMARY KEY,
    code        text NOT NULL REFERENCES langs ON DELETE CASCADE
);

-- CONTRACT: site-wide multipliers; the tracker takes the lowest download
-- and the highest upload percentage of the events running now.
CREATE TABLE site_events (
    id          bigint PRIMARY KEY DEFAULT snowflake(8),
    name        text NOT NULL,
    dl_percent  smallint NOT NULL DEFAULT 100 CHECK (dl_percent >= 0),
    ul_percent  smallint NOT NULL DEFAULT 100 CHECK (ul_percent >= 0),
    starts_at   timestamptz NOT NULL,
    ends_at     timestamptz NOT NULL,
    CHECK (ends_at > starts_at)
);

CREATE INDEX site_events_time ON site_events (ends_at, starts_at);

-- Tracker accounting (CONTRACT) -------------------------------------------

CREATE TABLE user_torrents (
    user_id     bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    torrent_id  bigint NOT NULL REFERENCES torrents ON DELETE CASCADE,
    uploaded    bigint NOT NULL DEFAULT 0,      -- credited
    downloaded  bigint NOT NULL DEFAULT 0,      -- credited
    raw_uploaded   bigint NOT NULL DEFAULT 0,
    raw_downloaded bigint NOT NULL DEFAULT 0,
    completed   int NOT NULL DEFAULT 0 CHECK (completed IN (0, 1)),
    up_time     bigint NOT NULL DEFAULT 0,      -- seconds seeding
    down_time   bigint NOT NULL DEFAULT 0,      -- seconds leeching
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    last_completed timestamptz,
    PRIMARY KEY (user_id, torrent_id)
) WITH (fillfactor = 50);   -- HOT, see users

CREATE INDEX user_torrents_torrent_id ON user_torrents (torrent_id);

-- Peers as last seen, for /users/@me/peers.  UNLOGGED: the live swarm is
-- in the tracker's shared memory; after a database crash this table starts
-- empty and refills within one announce interval, and the flush writes no
-- WAL for it.  No foreign keys: per-row RI checks would double the cost of
-- the flush (which only writes rows of existing users and torrents);
-- statement triggers on users and torrents delete a deleted one's peers.
CREATE UNLOGGED TABLE peers (
    torrent_id  bigint NOT NULL,
    user_id     bigint NOT NULL,
    peer_id     bytea NOT NULL CHECK (octet_length(peer_id) = 20),
    ip          inet,
    port        int CHECK (port BETWEEN 0 AND 65535),
    uploaded    bigint NOT NULL DEFAULT 0,      -- raw, this session
    downloaded  bigint NOT NULL DEFAULT 0,      -- raw, this session
    "left"      bigint NOT NULL DEFAULT 0,
    seeder      boolean NOT NULL DEFAULT false,
    agent       text,
    first_seen  timestamptz NOT NULL DEFAULT now(),
    last_seen   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (torrent_id, user_id, peer_id)
) WITH (fillfactor = 50);   -- HOT, see users

CREATE INDEX peers_user_id ON peers (user_id);

CREATE FUNCTION peers_cascade() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'users' THEN
        DELETE FROM peers p USING gone g WHERE p.user_id = g.id;
    ELSE
        DELETE FROM peers p USING gone g WHERE p.torrent_id = g.id;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER peers_cascade AFTER DELETE ON users
    REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION peers_cascade();
CREATE TRIGGER peers_cascade AFTER DELETE ON torrents
    REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION peers_cascade();

CREATE TABLE snatches (
    user_id     bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    torrent_id  bigint NOT NULL REFERENCES torrents ON DELETE CASCADE,
    completed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, torrent_id)
);

CREATE INDEX snatches_torrent_id ON snatches (torrent_id);

CREATE TABLE tracker_batches (
    batch_id    bigint PRIMARY KEY,
    applied_at  timestamptz NOT NULL DEFAULT now(),
    rows        int NOT NULL
);

CREATE INDEX tracker_batches_applied_at ON tracker_batches (applied_at);
