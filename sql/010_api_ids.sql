-- 010_api_ids: ids of up to 19 digits (every positive bigint), so snowflake
-- ids keep working after they outgrow 18 digits.  Anything else, including
-- a 19-digit number above the bigint range, is not an id (NULL).
CREATE OR REPLACE FUNCTION api_id(p text) RETURNS bigint
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN p ~ '^[0-9]{1,18}$'
                     OR (p ~ '^[0-9]{19}$' AND p <= '9223372036854775807')
                THEN p::bigint END
$$;
