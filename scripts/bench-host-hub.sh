#!/usr/bin/env bash
# ftrack.action.discover published by a Python ftrack_api client through the local server's
# hub and answered, one responder at a time, by: a trivial raw Socket.IO client (the floor),
# (a) a Python ftrack_api process with one handler, (b) `ftrack-connect run` with one Rhai hook,
# (c) `ftrack-connect run` with one native hook (the benchmarks' fixture, one handler answering
# with one item, as (a) and (b) do), (d) the same with the native example selection-actions
# (which reads the selection). Prints the round trip
# (publish to last reply) and the responder's share as the server times it (`GET /status`,
# reply_micros); then the start-up of a host with 200 plugins until it answers a remote
# discover, ftrack-connect against a Python ftrack_api host. Release builds; also builds a
# std-only Rust trivial responder with rustc. See docs/benchmarks.md, "Answering the server's
# events".
#
#   ./scripts/bench-host-hub.sh [COUNT] [ROUNDS] [STARTUP_RUNS]
#
# COUNT discovers per responder and round (300), ROUNDS rounds of every responder (3),
# STARTUP_RUNS starts of each 200-plugin host (5).
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-300}
rounds=${2:-3}
runs=${3:-5}
target=${CARGO_TARGET_DIR:-target}
cargo build --release --quiet --locked -p ftrack-connect -p selection-actions -p fixture-bench
python=$(./scripts/python-ref.sh)
bin=$(pwd)/$target/release/ftrack-connect
case "$(uname -s)" in
    Darwin) suffix=dylib ;;
    *) suffix=so ;;
esac
library=$target/release/libselection_actions.$suffix
bench_library=$target/release/libfixture_bench.$suffix
# The fixture's one handler on ftrack.action.discover.
export FIXTURE_BENCH_FANOUT=1
work=$(mktemp -d)
server=
trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT

# Plugin folders: one Rhai hook; the native example alone; 200 Rhai and 200 Python ones
# answering discover with one item each (the Python ones are python_reference.py's).
mkdir -p "$work/one-rhai/bench/hook" "$work/one-native/bench/hook" \
    "$work/example-native/selection-actions/hook"
cat >"$work/one-rhai/bench/hook/bench.rhai" <<'RHAI'
fn register(session) {
    session.event_hub.subscribe("topic=ftrack.action.discover", |e| #{items: [#{label: "Bench", actionIdentifier: "bench"}]});
}
RHAI
cp "$bench_library" "$work/one-native/bench/hook/"
cp "$library" "$work/example-native/selection-actions/hook/"
scripts/make-rhai-plugins.sh "$work/rhai-200" 200
"$python" scripts/python_reference.py make-plugins "$work/python-200" 200

# One server; a user for the publisher and for each responder.
echo "{" >"$work/keys.json"
sep=
for user in publisher floor native-floor python rhai native example start-rhai start-python; do
    key=$("$bin" server user add "$user" --data "$work/data" | awk '{print $NF}')
    printf '%s"%s": "%s"\n' "$sep" "$user" "$key" >>"$work/keys.json"
    sep=,
done
echo "}" >>"$work/keys.json"
"$bin" server --listen 127.0.0.1:0 --data "$work/data" -v warning >"$work/out" 2>"$work/log" &
server=$!
for _ in $(seq 50); do [ -s "$work/out" ] && break; sleep 0.1; done
url=$(awk '{print $3}' "$work/out")

"$python" scripts/bench_host_hub.py bench --server "$url" --keys "$work/keys.json" \
    --count "$count" --rounds "$rounds" --runs "$runs" --host "$bin" --work "$work"
