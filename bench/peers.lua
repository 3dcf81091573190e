-- peers.lua: wrk script that announces N distinct peers (event=started)
-- spread evenly over T torrents, then only polls /status.
--
--   wrk -t2 -c64 -d60s -s peers.lua URL -- N T
--
-- Peer ids are "-BM0001-" plus a 12-digit counter, so every announce adds a
-- peer; info hashes are random bytes (fixed seed), spread over all shards.

local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
  thread:set("nthreads", 0)
end

local N, T, i, step, hashes, base

local function pct(s)
  return (s:gsub(".", function(c) return string.format("%%%02X", c:byte()) end))
end

function init(args)
  N = tonumber(args[1] or "1000000")
  T = tonumber(args[2] or "10000")
  step = tonumber(args[3] or "2")
  math.randomseed(42)
  hashes = {}
  for t = 1, T do
    local b = {}
    for k = 1, 20 do b[k] = string.char(math.random(0, 255)) end
    hashes[t] = pct(table.concat(b))
  end
  i = tid - 1
  base = wrk.path
end

function request()
  if i >= N then
    return wrk.format("GET", "/status")
  end
  local p = i
  i = i + step
  local left = (p % 10 < 3) and 0 or 1048576
  local path = string.format(
    "%s?info_hash=%s&peer_id=-BM0001-%012d&port=%d&uploaded=0&downloaded=0"
    .. "&left=%d&event=started&compact=1&numwant=0",
    base, hashes[(p % T) + 1], p, 1024 + p % 60000, left)
  return wrk.format("GET", path)
end
