-- bench/api_search.lua: wrk script for bench/api_search.sh.  Each thread
-- cycles through the paths in SEARCH_PATHS (separated by "|"), an "{id}"
-- in a path replaced by a random number in 1..ID_MAX; every answer must be
-- a 200 whose body matches CHECK (default: a results array), or it counts
-- as bad.

local paths = {}
local bad = 0
local n = 0
local id_max = tonumber(os.getenv("ID_MAX") or "1")
local check = os.getenv("CHECK") or '"results" *: *%['

function init(args)
    for p in string.gmatch(os.getenv("SEARCH_PATHS") or "", "[^|]+") do
        paths[#paths + 1] = p
    end
    math.randomseed(os.time() + #tostring({}))
end

function request()
    n = n + 1
    local p = string.gsub(paths[(n - 1) % #paths + 1], "{id}",
                          tostring(math.random(id_max)))
    return wrk.format("GET", p)
end

function response(status, headers, body)
    if status ~= 200 or not string.find(body, check) then
        bad = bad + 1
    end
end

local threads = {}

function setup(thread)
    threads[#threads + 1] = thread
end

function done(summary, latency, requests)
    local badn = 0
    for _, t in ipairs(threads) do
        badn = badn + (t:get("bad") or 0)
    end
    io.write(string.format("RESULT rps=%.0f p50_ms=%.2f p99_ms=%.2f "
                           .. "requests=%d bad=%d\n",
                           summary.requests / (summary.duration / 1e6),
                           latency:percentile(50) / 1000,
                           latency:percentile(99) / 1000,
                           summary.requests, badn))
end
