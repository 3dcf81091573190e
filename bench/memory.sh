#!/usr/bin/env bash
# bench/memory.sh - memory per peer: announce N distinct peers over T
# torrents into a fresh swarm zone and read the zone's own accounting.
#
#   bench/memory.sh [peers=1000000] [torrents=10000] [zone=256m]
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
n=${1:-1000000} t=${2:-10000} zone=${3:-256m}
port=${BENCH_PORT:-18182}
prefix=$top/build/bench-memory

command -v wrk >/dev/null || { echo "wrk not installed (apt-get install wrk)" >&2; exit 1; }
make -s -C "$top" all >/dev/null
"$top/bench/nginx.sh" start "$prefix" "$port" "$zone"
trap '"$top/bench/nginx.sh" stop "$prefix"' EXIT

secs=$(( n / 20000 + 10 ))
wrk -t2 -c64 -d"${secs}s" -s "$top/bench/peers.lua" \
    "http://127.0.0.1:$port/announce" -- "$n" "$t" 2 | grep -E 'Requests/sec|requests in'
status=$(curl -fs "http://127.0.0.1:$port/status")
python3 - "$status" "$n" <<'PY'
import json, sys
s = json.loads(sys.argv[1]); want = int(sys.argv[2])
peers = s["peers"]
print(f"peers={peers} (wanted {want}) torrents={s['torrents']} "
      f"zone_used_bytes={s['zone_used_bytes']} bytes_per_peer={s['bytes_per_peer']} "
      f"record_bytes_ipv4={s['peer_record_bytes']['ipv4']} zone_full={s['failures']['zone_full']}")
# wrk spends the first request() of a thread on a probe: that peer is never sent
sys.exit(0 if want - 2 <= peers <= want else 1)
PY
