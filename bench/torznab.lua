-- bench/torznab.lua: wrk script for bench/torznab.sh.  Every answer must
-- be a 200 whose body contains BENCH_EXPECT (a JSON results array, an RSS
-- <item>, an Atom <entry>), or it counts as bad.  BENCH_AUTH: sent as
-- "Authorization: Bearer" (the JSON API's key).

local expect = os.getenv("BENCH_EXPECT") or ""
local bad = 0

function init(args)
    local key = os.getenv("BENCH_AUTH") or ""
    if key ~= "" then
        wrk.headers["Authorization"] = "Bearer " .. key
    end
end

function response(status, headers, body)
    if status ~= 200 or not string.find(body, expect, 1, true) then
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
