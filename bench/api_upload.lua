-- wrk script for bench/api_upload.sh: WHAT=upload posts a new small v1
-- .torrent each time (a distinct name per thread and request, so no 409),
-- WHAT=checks and WHAT=mediainfo put the same body again and again.

local what = os.getenv("WHAT") or "checks"
local key = os.getenv("KEY") or ""
local b64chars =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

local function b64(s)
    return ((s:gsub(".", function(c)
        local r, b = "", c:byte()
        for i = 8, 1, -1 do r = r .. (b % 2 ^ i - b % 2 ^ (i - 1) > 0
                                      and "1" or "0") end
        return r
    end) .. "0000"):gsub("%d%d%d?%d?%d?%d?", function(x)
        if #x < 6 then return "" end
        local c = 0
        for i = 1, 6 do c = c + (x:sub(i, i) == "1" and 2 ^ (6 - i) or 0) end
        return b64chars:sub(c + 1, c + 1)
    end) .. ({ "", "==", "=" })[#s % 3 + 1])
end

local function bstr(s) return #s .. ":" .. s end

local n = 0

-- no [Group]: no primary group needed
local title = "Media Title - 01 [WEB 1080p x265]"
local common = '"title":"' .. title .. '","movie":false,"mtl":false,'
    .. '"otl":false,"hardsub":false,"audio_langs":"ja","sub_langs":"",'
    .. '"fansub_langs":"en","video_type":null,"video_codec":2,'
local mediainfo = "General\\nFormat : Matroska\\n\\nVideo\\nFormat : HEVC\\n"
    .. "\\nAudio\\nFormat : FLAC\\nLanguage : Japanese\\n\\nText\\n"
    .. "Format : ASS\\nLanguage : English\\n"

-- a distinct prefix per thread (each has its own Lua state)
-- (seeded from the clock: a second run must not repeat the first's)
math.randomseed(os.time())

function setup(thread)
    thread:set("id", os.time() .. "-" .. math.random(1, 1e9))
end

request = function()
    local headers = { ["Content-Type"] = "application/json" }
    if key ~= "" then headers["Authorization"] = "Bearer " .. key end

    if what == "mediainfo" then
        return wrk.format("PUT", "/api/v1/upload/mediainfo", headers,
                          '{"mediainfo":"' .. mediainfo .. '"}')
    end

    if what == "checks" then
        return wrk.format("PUT", "/api/v1/upload/checks", headers,
            "{" .. common .. '"level":3,"files":[{"path":"a.mkv"}],'
            .. '"announce_urls":["udp://backup.test:6969/announce"]}')
    end

    n = n + 1
    local name = "bench-" .. id .. "-" .. n .. ".mkv"
    local info = "d" .. bstr("length") .. "i40000e" .. bstr("name")
        .. bstr(name) .. bstr("piece length") .. "i16384e"
        .. bstr("pieces") .. bstr(string.rep("x", 60)) .. "e"
    local torrent = "d" .. bstr("announce")
        .. bstr("udp://backup.test:6969/announce") .. bstr("info") .. info
        .. "e"
    return wrk.format("POST", "/api/v1/upload", headers,
        "{" .. common .. '"torrent":"' .. b64(torrent) .. '","category":1,'
        .. '"level":3,"anonymous":false,"hidden":false,'
        .. '"secondary_groups":[],"description":"","ignore_warnings":true}')
end
