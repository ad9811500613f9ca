#!/usr/bin/env bash
# The acceptance workload (tests/python/server_acceptance.py workflow: sessions, a project
# tree, 520 tasks, queries, paging, updates, deletes, an upload and a download) run by ftrack's
# real Python client against a release build of `ftrack-connect server`, ROUNDS times: the
# client's wall time per round, and the server's own handling time per request (p50, p99 and
# the slowest actions) from the `micros=` of its log.
#
#   ./scripts/bench-server.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
target=${CARGO_TARGET_DIR:-target}
cargo build --release --quiet --locked -p ftrack-connect
python=$(./scripts/python-ref.sh)
bin=$target/release/ftrack-connect
work=$(mktemp -d)
trap 'kill "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
key=$("$bin" server user add bench --data "$work/data" | awk '{print $NF}')
"$bin" server --listen 127.0.0.1:0 --data "$work/data" >"$work/out" 2>"$work/log" &
server=$!
for _ in $(seq 50); do [ -s "$work/out" ] && break; sleep 0.1; done
url=$(awk '{print $3}' "$work/out")
for round in $(seq "$rounds"); do
    mkdir -p "$work/cache"
    start=$(date +%s.%N)
    FTRACK_SERVER=$url FTRACK_API_USER=bench FTRACK_API_KEY=$key \
        "$python" tests/python/server_acceptance.py workflow "$work/cache" >/dev/null
    end=$(date +%s.%N)
    echo "round $round: client wall time $(echo "$end - $start" | bc) s"
    # The next round makes its project anew.
    "$python" - "$url" "$key" <<'PY'
import sys, ftrack_api
s = ftrack_api.Session(server_url=sys.argv[1], api_user="bench", api_key=sys.argv[2],
                       auto_connect_event_hub=False, schema_cache_path=False, plugin_paths=[])
for p in s.query('Project where name is "acceptance"').all():
    s.delete(p)
s.commit()
PY
done
python3 - "$work/log" <<'PY'
import re, sys, collections
times, by_action = [], collections.defaultdict(list)
for line in open(sys.argv[1]):
    m = re.search(r"api (\S+) .*micros=(\d+)", line)
    if m:
        times.append(int(m.group(2)))
        by_action[m.group(1)].append(int(m.group(2)))
times.sort()
pick = lambda q: times[min(len(times) - 1, int(q * len(times)))]
print(f"server: {len(times)} requests, p50 {pick(0.5)} us, p99 {pick(0.99)} us, total {sum(times)/1e6:.2f} s")
for action, t in sorted(by_action.items(), key=lambda kv: -sum(kv[1]))[:6]:
    t.sort()
    print(f"  {action[:60]:60} n={len(t):4} p50={t[len(t)//2]:6} us  total={sum(t)/1e3:8.1f} ms")
PY
