-- 016_bans: the address ban list the tracker enforces (src/ngx_tracker_bans.c
-- loads it into every tracker_limit_zone).
-- CONTRACT: the table, its columns and the NOTIFY payload "b:" are used
-- verbatim by the C code.
--
-- One row bans one address or one range, IPv4 or IPv6.  cidr rather than
-- inet: host bits beyond the prefix are refused, so a row means exactly the
-- range it shows ('192.0.2.7' is stored as 192.0.2.7/32).  expires_at NULL:
-- permanent; a ban past its expires_at no longer applies (the tracker
-- drops it at that moment, and leaves it out of the next load).  Rows stay
-- until deleted, as a record of past bans.

CREATE TABLE bans (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    address     cidr NOT NULL,
    reason      text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz,
    CONSTRAINT bans_address_unique UNIQUE (address),
    CONSTRAINT bans_expiry CHECK (expires_at IS NULL OR expires_at > created_at)
);

COMMENT ON TABLE bans IS
    'Banned addresses and ranges (cidr; expires_at NULL = permanent); '
    'changes reach the tracker at once through NOTIFY tracker ''b:''.';

-- the tracker's load: bans in force now
CREATE INDEX bans_expires_at ON bans (expires_at);

-- One notification per statement, whatever the number of rows: the tracker
-- reloads the whole list on "b:", so a bulk import costs one reload.
CREATE FUNCTION tracker_notify_bans() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('tracker', 'b:');
    RETURN NULL;
END
$$;

CREATE TRIGGER tracker_notify_bans
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON bans
    FOR EACH STATEMENT EXECUTE FUNCTION tracker_notify_bans();
