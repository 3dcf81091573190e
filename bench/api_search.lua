-- bench/api_search.lua: wrk script for bench/api_search.sh.  Each thread
-- cycles through the search paths in SEARCH_PATHS (separated by "|");
-- every answer must be a 200 with a results array, or it counts as bad.

local paths = {}
local bad = 0
local n = 0

function init(args)
    for p in string.gmatch(os.getenv("SEARCH_PATHS") or "", "[^|]+") do
        paths[#paths + 1] = p
    end
end

function request()
    n = n + 1
    return wrk.format("GET", paths[(n - 1) % #paths + 1])
end

function response(status, headers, body)
    if status ~= 200 or not string.find(body, '"results" *: *%[') then
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
