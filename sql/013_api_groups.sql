-- 013_api_groups: JSON API endpoints that change groups.
--
--   POST   /groups/<id>/links/<id2>?parent=    api_groups_links_post
--   DELETE /groups/<id>/links/<id2>            api_groups_links_delete
--   POST   /groups/<id>/members                api_groups_members_post
--   PATCH  /groups/<id>/members/<user|invite>  api_groups_members_patch
--   DELETE /groups/<id>/members/<user|invite>  api_groups_members_delete
--   PATCH  /invites/<id>                       api_invites_patch
--   POST   /invites/<id>/accept/<key>          api_invites_accept
--
-- Conventions of 003_api_common; the read side is 006_api_users.  Each
-- endpoint is one function call, so one transaction.  Its work is done by
-- a function api_groups_<name>_do(me, args) that returns the answer's data
-- (NULL: just {"error":false}) or raises through api_groups_fail(); the
-- error is caught in api_groups_run(), which rolls back everything the
-- call had written: a refused request changes nothing, whatever step
-- refused it.
--
-- Changes to a group's members, invites and links first lock the group's
-- row (FOR NO KEY UPDATE: foreign-key checks of inserts elsewhere, which
-- take KEY SHARE, are not held up), so concurrent changes of one group run
-- one after the other and their checks (last leader, names taken, a link
-- asked for twice) stay true until they commit.

-- Errors ------------------------------------------------------------------

-- Ends the call with this status and message; p_extra is merged into the
-- answer (validate_errors).  SQLSTATE U0<status>: a class of our own, so
-- api_groups_run tells these from real errors.
CREATE FUNCTION api_groups_fail(p_status int, p_message text,
                                p_extra jsonb DEFAULT NULL) RETURNS void
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    RAISE EXCEPTION USING ERRCODE = 'U0' || p_status::text,
                          MESSAGE = p_message,
                          DETAIL = coalesce(p_extra::text, '');
END
$$;

-- One Ajv error object (what the module produces for flat parameters).
CREATE FUNCTION api_groups_ajv(p_path text, p_schema text, p_keyword text,
                               p_params jsonb, p_message text) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    SELECT jsonb_build_object('instancePath', p_path,
                              'schemaPath', p_schema,
                              'keyword', p_keyword,
                              'params', p_params,
                              'message', p_message)
$$;

-- A 400 for schema errors; the message names the first one's path as the
-- module does ("'0/id' must be ...", no path for the body itself).
CREATE FUNCTION api_groups_invalid(p_errors jsonb) RETURNS void
LANGUAGE sql VOLATILE AS $$
    SELECT api_groups_fail(400,
        'Data provided was invalid: '
        || CASE WHEN p_errors->0->>'instancePath' = '' THEN ''
                ELSE format('''%s'' ',
                            substr(p_errors->0->>'instancePath', 2)) END
        || (p_errors->0->>'message') || '.',
        jsonb_build_object('validate_errors', p_errors))
$$;

-- The caller (401 without a valid key), the route's work, the answer.
CREATE FUNCTION api_groups_run(p_fn text, p_key text, p_args jsonb)
RETURNS TABLE (status int, content_type text, disposition text, body bytea)
LANGUAGE plpgsql AS $$
DECLARE
    me      users := api_user(p_key);
    data    jsonb;
    extra   text;
BEGIN
    IF me.id IS NULL THEN
        RETURN QUERY SELECT * FROM api_unauthorized();
        RETURN;
    END IF;

    -- p_fn is one of the fixed names below, never input
    EXECUTE format('SELECT %I($1, $2)', p_fn) INTO data USING me, p_args;

    RETURN QUERY SELECT 200, NULL::text, NULL::text,
        convert_to(CASE WHEN data IS NULL THEN '{"error": false}'
                        ELSE jsonb_build_object('error', false,
                                                'data', data)::text END,
                   'UTF8');
EXCEPTION WHEN OTHERS THEN
    IF SQLSTATE NOT LIKE 'U0%' THEN
        RAISE;
    END IF;

    GET STACKED DIAGNOSTICS extra = PG_EXCEPTION_DETAIL;

    RETURN QUERY SELECT right(SQLSTATE, 3)::int, NULL::text, NULL::text,
        convert_to((jsonb_build_object('error', true, 'message', SQLERRM)
                    || coalesce(nullif(extra, '')::jsonb, '{}'))::text,
                   'UTF8');
END
$$;

-- Helpers -----------------------------------------------------------------

-- The group a path names (not deleted), locked; NULL row if none.
CREATE FUNCTION api_groups_lock(p_id bigint) RETURNS groups
LANGUAGE sql AS $$
    SELECT * FROM groups
    WHERE id = p_id AND deleted IS NULL
    FOR NO KEY UPDATE
$$;

-- What the caller may do in a group: lead (leaders and site admins) and
-- manage (those and the group's admins).
CREATE FUNCTION api_groups_rights(p_group bigint, me users,
                                  OUT lead boolean, OUT manage boolean)
LANGUAGE sql STABLE AS $$
    SELECT a OR coalesce(m.leader, false),
           a OR coalesce(m.leader OR m.admin, false)
    FROM (SELECT api_users_is_admin(me) AS a) s
    LEFT JOIN group_members m ON m.group_id = p_group AND m.user_id = me.id
$$;

-- A notification tag (see the reference's notification tags); a '>' in a
-- name would end the tag early.
CREATE FUNCTION api_groups_tag(p_kind text, p_id bigint, p_name text)
RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT format('<%s:%s:%s>', p_kind, p_id, translate(p_name, '<>', '()'))
$$;

CREATE FUNCTION api_groups_user_name(u users) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(u.display_name, u.username)
$$;

-- Tells the leaders of a group, except the one who acted.
CREATE FUNCTION api_groups_notify_leaders(p_group bigint, p_except bigint,
                                          p_text text) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO notifications (user_id, data)
    SELECT m.user_id, p_text FROM group_members m
    WHERE m.group_id = p_group AND m.leader
      AND m.user_id IS DISTINCT FROM p_except
$$;

-- Tells an invite's recipient, with the link that accepts it.
CREATE FUNCTION api_groups_notify_invite(i group_invites, me users,
                                         g groups) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO notifications (user_id, data)
    SELECT i.recipient_id,
           format('%s invited you to %s. <i:%s:%s>',
                  api_groups_tag('u', me.id, api_groups_user_name(me)),
                  api_groups_tag('g', g.id, g.display_name),
                  i.id, i.invite_key)
    WHERE i.recipient_id IS NOT NULL
$$;

-- A name shown in a group's member list is taken when an open invite
-- (other than p_invite) or a member goes by it, whatever the case.
CREATE FUNCTION api_groups_name_taken(p_group bigint, p_name text,
                                      p_invite bigint) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT EXISTS (SELECT 1 FROM group_invites i
                   WHERE i.group_id = p_group AND NOT i.used
                     AND lower(i.display_name) = lower(p_name)
                     AND i.id IS DISTINCT FROM p_invite)
        OR EXISTS (SELECT 1 FROM group_members m
                   JOIN users u ON u.id = m.user_id
                   WHERE m.group_id = p_group
                     AND lower(api_groups_user_name(u)) = lower(p_name))
$$;

CREATE FUNCTION api_groups_name_free(p_group bigint, p_name text,
                                     p_invite bigint) RETURNS void
LANGUAGE sql AS $$
    SELECT api_groups_fail(400, format('Display name ("%s") already taken.',
                                       p_name))
    WHERE api_groups_name_taken(p_group, p_name, p_invite)
$$;

-- Checks that a user may be invited to a group; returns the user.
CREATE FUNCTION api_groups_invitable(p_group bigint, p_user text)
RETURNS users
LANGUAGE plpgsql AS $$
DECLARE
    u       users;
BEGIN
    SELECT * INTO u FROM users WHERE id = api_id(p_user);

    IF NOT FOUND THEN
        PERFORM api_groups_fail(404, 'Invalid user ID.');
    END IF;

    IF EXISTS (SELECT 1 FROM group_members m
               WHERE m.group_id = p_group AND m.user_id = u.id)
    THEN
        PERFORM api_groups_fail(400, format(
            'User ("%s") is already in this group.',
            api_groups_user_name(u)));
    END IF;

    IF EXISTS (SELECT 1 FROM group_invites i
               WHERE i.group_id = p_group AND i.recipient_id = u.id
                 AND NOT i.used)
    THEN
        PERFORM api_groups_fail(400, format(
            'User ("%s") already has an invite to this group.',
            api_groups_user_name(u)));
    END IF;

    RETURN u;
END
$$;

-- Links -------------------------------------------------------------------

-- The two groups of a link path, both locked (in id order, so that two
-- calls about one pair cannot deadlock); 404 unless both exist.
CREATE FUNCTION api_groups_pair(p_args jsonb, OUT g1 groups, OUT g2 groups)
LANGUAGE plpgsql AS $$
DECLARE
    a       bigint := api_id(p_args->>'id');
    b       bigint := api_id(p_args->>'id2');
BEGIN
    PERFORM 1 FROM groups
    WHERE id IN (a, b) AND deleted IS NULL
    ORDER BY id
    FOR NO KEY UPDATE;

    SELECT * INTO g1 FROM groups WHERE id = a AND deleted IS NULL;
    SELECT * INTO g2 FROM groups WHERE id = b AND deleted IS NULL;

    IF g1.id IS NULL OR g2.id IS NULL THEN
        PERFORM api_groups_fail(404, 'Group not found.');
    END IF;
END
$$;

-- The caller leads the first group.  Whoever leads both (or a site admin)
-- makes an approved link; otherwise it waits for the other group's
-- leaders, who are told.  Asked from the other side, it approves the link
-- that side asked for.
CREATE FUNCTION api_groups_links_post_do(me users, p_args jsonb)
RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    p       record := api_groups_pair(p_args);
    g1      groups := p.g1;
    g2      groups := p.g2;
    par     bigint := api_id(p_args->>'parent');
    chi     bigint;
    l       group_links;
    mutual  boolean;
BEGIN
    IF g1.id = g2.id THEN
        PERFORM api_groups_fail(400, 'A group cannot be linked to itself.');
    END IF;

    IF NOT (api_groups_rights(g1.id, me)).lead THEN
        PERFORM api_groups_fail(403, 'Forbidden.');
    END IF;

    IF par IS NULL OR par NOT IN (g1.id, g2.id) THEN
        PERFORM api_groups_fail(400,
                                'The parent must be one of the two groups.');
    END IF;

    chi := CASE WHEN par = g1.id THEN g2.id ELSE g1.id END;

    SELECT * INTO l FROM group_links
    WHERE (parent_id = g1.id AND child_id = g2.id)
       OR (parent_id = g2.id AND child_id = g1.id);

    IF FOUND THEN
        IF l.active THEN
            PERFORM api_groups_fail(400, 'The groups are already linked.');
        END IF;

        IF (l.parent_id = g1.id AND l.parent_approved)
           OR (l.child_id = g1.id AND l.child_approved)
        THEN
            PERFORM api_groups_fail(400,
                'Link is waiting for other group to approve.');
        END IF;

        IF l.parent_id <> par THEN
            PERFORM api_groups_fail(400, 'The other group asked for this '
                                         'link with the other parent.');
        END IF;

        UPDATE group_links SET parent_approved = true, child_approved = true
        WHERE parent_id = l.parent_id AND child_id = l.child_id;

        PERFORM api_groups_notify_leaders(g2.id, me.id, format(
            '%s approved the link with %s.',
            api_groups_tag('g', g1.id, g1.display_name),
            api_groups_tag('g', g2.id, g2.display_name)));

        RETURN NULL;
    END IF;

    -- no cycles: the child may not already be above the parent.  One
    -- probe of group_links_child_id per group climbed (OFFSET 0 keeps the
    -- planner from a hash join that reads all links at every level).
    IF EXISTS (WITH RECURSIVE up(id) AS (
                   SELECT par
                   UNION
                   SELECT k.parent_id FROM up CROSS JOIN LATERAL (
                       SELECT parent_id FROM group_links
                       WHERE child_id = up.id OFFSET 0) k)
               SELECT 1 FROM up WHERE id = chi)
    THEN
        PERFORM api_groups_fail(400, 'The link would make a cycle.');
    END IF;

    mutual := (api_groups_rights(g2.id, me)).lead;

    INSERT INTO group_links (parent_id, child_id, initiator_id,
                             parent_approved, child_approved)
    VALUES (par, chi, g1.id, par = g1.id OR mutual, chi = g1.id OR mutual);

    IF NOT mutual THEN
        PERFORM api_groups_notify_leaders(g2.id, me.id, format(
            '%s asked to link with %s as its %s. Approve or decline it on %s.',
            api_groups_tag('g', g1.id, g1.display_name),
            api_groups_tag('g', g2.id, g2.display_name),
            CASE WHEN par = g1.id THEN 'child' ELSE 'parent' END,
            api_groups_tag('ge', g2.id, g2.display_name)));
    END IF;

    RETURN NULL;
END
$$;

-- Either group's leader removes a link, approved or waiting (which
-- declines or withdraws the request); the other side's leaders are told.
CREATE FUNCTION api_groups_links_delete_do(me users, p_args jsonb)
RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    p       record := api_groups_pair(p_args);
    g1      groups := p.g1;
    g2      groups := p.g2;
BEGIN
    IF NOT (api_groups_rights(g1.id, me)).lead THEN
        -- the reference's message for this 403
        PERFORM api_groups_fail(403, 'Unauthorized.');
    END IF;

    DELETE FROM group_links
    WHERE (parent_id = g1.id AND child_id = g2.id)
       OR (parent_id = g2.id AND child_id = g1.id);

    IF NOT FOUND THEN
        PERFORM api_groups_fail(404, 'Link not found.');
    END IF;

    PERFORM api_groups_notify_leaders(g2.id, me.id, format(
        '%s removed the link with %s.',
        api_groups_tag('g', g1.id, g1.display_name),
        api_groups_tag('g', g2.id, g2.display_name)));

    RETURN NULL;
END
$$;

-- Members -----------------------------------------------------------------

-- The body of POST /groups/<id>/members as its schema would check it:
-- an array of 1 to 50 objects, each with id and display_name, both
-- string or null, a display name at most 32 characters.
CREATE FUNCTION api_groups_check_invites(p_body jsonb) RETURNS void
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    e       jsonb;
    i       int;
    k       text;
    path    text;
BEGIN
    IF jsonb_typeof(p_body) IS DISTINCT FROM 'array' THEN
        PERFORM api_groups_invalid(jsonb_build_array(api_groups_ajv(
            '', '#/type', 'type', '{"type": "array"}', 'must be array')));
    END IF;

    IF jsonb_array_length(p_body) < 1 THEN
        PERFORM api_groups_invalid(jsonb_build_array(api_groups_ajv(
            '', '#/minItems', 'minItems', '{"limit": 1}',
            'must NOT have fewer than 1 items')));
    END IF;

    IF jsonb_array_length(p_body) > 50 THEN
        PERFORM api_groups_invalid(jsonb_build_array(api_groups_ajv(
            '', '#/maxItems', 'maxItems', '{"limit": 50}',
            'must NOT have more than 50 items')));
    END IF;

    FOR e, i IN SELECT x, n - 1 FROM jsonb_array_elements(p_body)
                WITH ORDINALITY AS a(x, n)
    LOOP
        path := '/' || i;

        IF jsonb_typeof(e) <> 'object' THEN
            PERFORM api_groups_invalid(jsonb_build_array(api_groups_ajv(
                path, '#/items/type', 'type', '{"type": "object"}',
                'must be object')));
        END IF;

        FOREACH k IN ARRAY ARRAY['id', 'display_name'] LOOP
            IF NOT e ? k THEN
                PERFORM api_groups_invalid(jsonb_build_array(api_groups_ajv(
                    path, '#/items/required', 'required',
                    jsonb_build_object('missingProperty', k),
                    format('must have required property ''%s''', k))));
            END IF;
        END LOOP;

        FOREACH k IN ARRAY ARRAY['id', 'display_name'] LOOP
            IF jsonb_typeof(e->k) NOT IN ('string', 'null') THEN
                PERFORM api_groups_invalid(jsonb_build_array(api_groups_ajv(
                    path || '/' || k,
                    format('#/items/properties/%s/type', k), 'type',
                    '{"type": ["string", "null"]}',
                    'must be string,null')));
            END IF;
        END LOOP;

        IF length(e->>'display_name') > 32 THEN
            PERFORM api_groups_invalid(jsonb_build_array(api_groups_ajv(
                path || '/display_name',
                '#/items/properties/display_name/maxLength', 'maxLength',
                '{"limit": 32}', 'must NOT have more than 32 characters')));
        END IF;
    END LOOP;
END
$$;

-- Invites, in the order asked: for a user (named as the user is, and told)
-- or, without an id, an orphan invite with the display name given.
CREATE FUNCTION api_groups_members_post_do(me users, p_args jsonb)
RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    g       groups := api_groups_lock(api_id(p_args->>'id'));
    e       jsonb;
    u       users;
    name    text;
    i       group_invites;
    made    jsonb := '[]';
BEGIN
    IF g.id IS NULL THEN
        PERFORM api_groups_fail(404, 'Group not found.');
    END IF;

    IF NOT (api_groups_rights(g.id, me)).manage THEN
        PERFORM api_groups_fail(403, 'Forbidden.');
    END IF;

    PERFORM api_groups_check_invites(p_args->'body');

    FOR e IN SELECT x FROM jsonb_array_elements(p_args->'body') AS a(x) LOOP
        u := NULL;

        IF jsonb_typeof(e->'id') = 'string' THEN
            u := api_groups_invitable(g.id, e->>'id');
            name := api_groups_user_name(u);
        ELSE
            name := btrim(e->>'display_name');

            IF coalesce(name, '') = '' THEN
                PERFORM api_groups_fail(400, 'An invite without a user '
                                             'needs a display name.');
            END IF;
        END IF;

        PERFORM api_groups_name_free(g.id, name, NULL);

        INSERT INTO group_invites (group_id, author_id, recipient_id,
                                   display_name)
        VALUES (g.id, me.id, u.id, name)
        RETURNING * INTO i;

        PERFORM api_groups_notify_invite(i, me, g);

        made := made || jsonb_build_object('id', i.id::text,
                                           'invite_key', i.invite_key);
    END LOOP;

    RETURN made;
END
$$;

-- Leaders change anything; the group's admins change the regular flag
-- (and an invite's name) of those who are neither leaders nor admins.
-- A display name is an invite's only.
CREATE FUNCTION api_groups_members_patch_do(me users, p_args jsonb)
RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    g       groups := api_groups_lock(api_id(p_args->>'id'));
    who     bigint := api_id(p_args->>'id2');
    r       record;
    m       group_members;
    i       group_invites;
    name    text := btrim(p_args->>'display_name');
BEGIN
    IF g.id IS NULL THEN
        PERFORM api_groups_fail(404, 'Group not found.');
    END IF;

    r := api_groups_rights(g.id, me);

    IF NOT r.manage THEN
        PERFORM api_groups_fail(403, 'Forbidden.');
    END IF;

    -- the schema's anyOf: at least one of the three
    IF NOT p_args ?| ARRAY['admin', 'regular', 'display_name'] THEN
        PERFORM api_groups_invalid((
            SELECT jsonb_agg(api_groups_ajv('', format('#/anyOf/%s/required',
                                                       n - 1),
                       'required', jsonb_build_object('missingProperty', k),
                       format('must have required property ''%s''', k))
                       ORDER BY n)
            FROM unnest(ARRAY['admin', 'regular', 'display_name'])
                 WITH ORDINALITY AS a(k, n))
            || jsonb_build_array(api_groups_ajv('', '#/anyOf', 'anyOf', '{}',
                                         'must match a schema in anyOf')));
    END IF;

    SELECT * INTO m FROM group_members
    WHERE group_id = g.id AND user_id = who;

    IF FOUND THEN
        IF NOT r.lead AND (m.leader OR m.admin OR p_args ? 'admin') THEN
            PERFORM api_groups_fail(403, 'Forbidden.');
        END IF;

        IF p_args ? 'display_name' THEN
            PERFORM api_groups_fail(400, 'Display name can only be '
                                         'changed on invites.');
        END IF;

        UPDATE group_members
        SET admin = coalesce((p_args->>'admin')::boolean, admin),
            regular = coalesce((p_args->>'regular')::boolean, regular)
        WHERE group_id = g.id AND user_id = who;

        RETURN NULL;
    END IF;

    SELECT * INTO i FROM group_invites
    WHERE id = who AND group_id = g.id AND NOT used;

    IF NOT FOUND THEN
        PERFORM api_groups_fail(404, 'Member not found.');
    END IF;

    IF NOT r.lead AND (i.admin OR p_args ? 'admin') THEN
        PERFORM api_groups_fail(403, 'Forbidden.');
    END IF;

    IF name = '' THEN
        PERFORM api_groups_fail(400, 'Display name cannot be blank.');
    END IF;

    IF name IS NOT NULL THEN
        PERFORM api_groups_name_free(g.id, name, i.id);
    END IF;

    UPDATE group_invites
    SET admin = coalesce((p_args->>'admin')::boolean, admin),
        regular = coalesce((p_args->>'regular')::boolean, regular),
        display_name = coalesce(name, display_name)
    WHERE id = i.id;

    RETURN NULL;
END
$$;

-- "Deleted Member", or "Deleted Member 2", ...: the first name free.
CREATE FUNCTION api_groups_deleted_name(p_group bigint) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT nm FROM generate_series(1, 1000) AS n
    CROSS JOIN LATERAL (
        SELECT 'Deleted Member' || CASE WHEN n > 1 THEN ' ' || n ELSE ''
                                   END AS nm) s
    WHERE NOT api_groups_name_taken(p_group, nm, NULL)
    ORDER BY n
    LIMIT 1
$$;

-- Removes a member (the reference's table of ?destructive) or deletes an
-- invite (destructive only).  Leaders remove anyone, group admins those
-- who are neither leaders nor admins; members leave by removing
-- themselves, an invite's recipient may decline it.  The last leader
-- stays.  The member's uploads for the group (as its primary group) go to
-- the longest-serving leader who stays.
CREATE FUNCTION api_groups_members_delete_do(me users, p_args jsonb)
RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    g       groups := api_groups_lock(api_id(p_args->>'id'));
    who     bigint := api_id(p_args->>'id2');
    wipe    boolean := coalesce((p_args->>'destructive')::boolean, false);
    r       record;
    m       group_members;
    i       group_invites;
    heir    bigint;
BEGIN
    IF g.id IS NULL THEN
        PERFORM api_groups_fail(404, 'Group not found.');
    END IF;

    r := api_groups_rights(g.id, me);

    SELECT * INTO m FROM group_members
    WHERE group_id = g.id AND user_id = who;

    IF NOT FOUND THEN
        SELECT * INTO i FROM group_invites
        WHERE id = who AND group_id = g.id AND NOT used;

        IF NOT FOUND THEN
            PERFORM api_groups_fail(404, 'Member not found.');
        END IF;

        IF NOT (r.lead OR (r.manage AND NOT i.admin)
                OR i.recipient_id IS NOT DISTINCT FROM me.id)
        THEN
            PERFORM api_groups_fail(403, 'Forbidden.');
        END IF;

        IF NOT wipe THEN
            PERFORM api_groups_fail(400, 'Cannot soft delete an invite. Use '
                                         '?destructive=true to delete an '
                                         'invite.');
        END IF;

        -- its torrent credits go with it (ON DELETE CASCADE)
        DELETE FROM group_invites WHERE id = i.id;

        RETURN NULL;
    END IF;

    IF NOT (r.lead OR (r.manage AND NOT m.leader AND NOT m.admin)
            OR who = me.id)
    THEN
        PERFORM api_groups_fail(403, 'Forbidden.');
    END IF;

    SELECT user_id INTO heir FROM group_members
    WHERE group_id = g.id AND leader AND user_id <> who
    ORDER BY joined_at, user_id
    LIMIT 1;

    IF m.leader AND heir IS NULL THEN
        PERFORM api_groups_fail(400, 'The last leader of a group cannot be '
                                     'removed.');
    END IF;

    DELETE FROM group_members WHERE group_id = g.id AND user_id = who;

    UPDATE torrents t SET uploader_id = heir
    FROM torrent_groups tg
    WHERE tg.torrent_id = t.id AND tg.group_id = g.id AND tg.is_primary
      AND t.uploader_id = who AND heir IS NOT NULL;

    IF wipe THEN
        DELETE FROM torrent_contributors
        WHERE group_id = g.id AND user_id = who;
    ELSE
        INSERT INTO group_invites (group_id, author_id, display_name,
                                   regular)
        VALUES (g.id, me.id, api_groups_deleted_name(g.id), m.regular)
        RETURNING * INTO i;

        UPDATE torrent_contributors SET user_id = NULL, invite_id = i.id
        WHERE group_id = g.id AND user_id = who;
    END IF;

    RETURN NULL;
END
$$;

-- Invites -----------------------------------------------------------------

-- An open invite of a group that exists, with its group locked; 404
-- otherwise.  The invite is read again under the lock: what it says then
-- holds until the call ends.
CREATE FUNCTION api_groups_open_invite(p_id text, OUT i group_invites,
                                       OUT g groups)
LANGUAGE plpgsql AS $$
BEGIN
    SELECT * INTO i FROM group_invites WHERE id = api_id(p_id);
    g := api_groups_lock(i.group_id);
    SELECT * INTO i FROM group_invites WHERE id = i.id;

    IF g.id IS NULL OR i.id IS NULL THEN
        PERFORM api_groups_fail(404, 'Invite not found.');
    END IF;
END
$$;

-- Gives an orphan invite to a user, who is told.
CREATE FUNCTION api_invites_patch_do(me users, p_args jsonb)
RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    o       record := api_groups_open_invite(p_args->>'id');
    i       group_invites := o.i;
    u       users;
BEGIN
    IF i.used THEN
        PERFORM api_groups_fail(404, 'Invite not found.');
    END IF;

    IF NOT (api_groups_rights(i.group_id, me)).manage THEN
        PERFORM api_groups_fail(403, 'Only group leaders and admins can '
                                     'edit invites.');
    END IF;

    IF i.recipient_id IS NOT NULL THEN
        PERFORM api_groups_fail(400, 'Invite already has a recipient.');
    END IF;

    u := api_groups_invitable(i.group_id, p_args->>'user_id');

    UPDATE group_invites SET recipient_id = u.id WHERE id = i.id
    RETURNING * INTO i;

    PERFORM api_groups_notify_invite(i, me, o.g);

    RETURN NULL;
END
$$;

-- Anyone holding the key takes an orphan invite; one with a recipient is
-- that user's.  The invite's torrent credits become the new member's.
CREATE FUNCTION api_invites_accept_do(me users, p_args jsonb)
RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    o       record := api_groups_open_invite(p_args->>'id');
    i       group_invites := o.i;
BEGIN
    IF i.invite_key IS DISTINCT FROM p_args->>'id2' THEN
        PERFORM api_groups_fail(400, 'Invalid invite key.');
    END IF;

    IF i.used THEN
        PERFORM api_groups_fail(400, 'Invite has already been used.');
    END IF;

    IF i.recipient_id <> me.id THEN
        PERFORM api_groups_fail(403, 'This invite is for another user.');
    END IF;

    IF EXISTS (SELECT 1 FROM group_members
               WHERE group_id = i.group_id AND user_id = me.id)
    THEN
        PERFORM api_groups_fail(400, 'You are already in this group.');
    END IF;

    INSERT INTO group_members (group_id, user_id, admin, regular)
    VALUES (i.group_id, me.id, i.admin, i.regular);

    UPDATE group_invites SET used = true, used_by = me.id, used_at = now()
    WHERE id = i.id;

    UPDATE torrent_contributors SET invite_id = NULL, user_id = me.id
    WHERE invite_id = i.id;

    RETURN NULL;
END
$$;

-- The endpoints -----------------------------------------------------------

-- api_<name>(p_key, p_args) for each route, all alike: the caller, then
-- api_<name>_do inside api_groups_run.
DO $do$
DECLARE
    fn      text;
BEGIN
    FOREACH fn IN ARRAY ARRAY['api_groups_links_post',
                              'api_groups_links_delete',
                              'api_groups_members_post',
                              'api_groups_members_patch',
                              'api_groups_members_delete',
                              'api_invites_patch',
                              'api_invites_accept']
    LOOP
        EXECUTE format($f$
            CREATE FUNCTION %I(p_key text, p_args jsonb)
            RETURNS TABLE (status int, content_type text, disposition text,
                           body bytea)
            LANGUAGE sql AS $b$
                SELECT * FROM api_groups_run(%L, p_key, p_args)
            $b$$f$, fn, fn || '_do');
    END LOOP;
END
$do$;
