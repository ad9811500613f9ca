#!/usr/bin/env bash
# ftrack.action.discover published by a Python ftrack_api client and answered through the
# local server's hub by another Python ftrack_api process: the round trip's p50/p99, against
# a release build of `ftrack-connect server`.
#
#   ./scripts/bench-hub.sh [COUNT]
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-500}
target=${CARGO_TARGET_DIR:-target}
cargo build --release --quiet --locked -p ftrack-connect
python=$(./scripts/python-ref.sh)
bin=$target/release/ftrack-connect
work=$(mktemp -d)
trap 'kill $server $responder 2>/dev/null || true; rm -rf "$work"' EXIT
key=$("$bin" server user add bench --data "$work/data" | awk '{print $NF}')
"$bin" server --listen 127.0.0.1:0 --data "$work/data" -v warning >"$work/out" 2>"$work/log" &
server=$!
for _ in $(seq 50); do [ -s "$work/out" ] && break; sleep 0.1; done
export FTRACK_SERVER=$(awk '{print $3}' "$work/out") FTRACK_API_USER=bench FTRACK_API_KEY=$key
"$python" scripts/bench_hub_roundtrip.py responder >"$work/responder" 2>&1 &
responder=$!
for _ in $(seq 100); do grep -q ready "$work/responder" 2>/dev/null && break; sleep 0.1; done
"$python" scripts/bench_hub_roundtrip.py publisher "$count"
