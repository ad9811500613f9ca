#!/usr/bin/env bash
# Studios' Python hooks run by the host's Python bridge, against the same hooks under ftrack's
# own Python event hub (PyPI ftrack-python-api 3.1.0), same run. Prints one line per workload:
#   dispatch-from-host: bridge <us>, plain ftrack_api <us>, bridge adds <us> (...)
#   publish-from-python: bridge <us>, plain ftrack_api <us>, bridge adds <us>
#   startup-200: ftrack-connect <ms> <MiB> peak (...), ftrack_api <ms> <MiB> peak, ratio ...
# Builds ftrack-connect in release mode; the interpreter is the virtualenv of
# scripts/python-ref.sh (made once in target/python-ref). Linux (the bridge's peak memory is
# read through PR_SET_CHILD_SUBREAPER). See docs/benchmarks.md, "Python hooks through the
# bridge".
#
#   ./scripts/bench-python-hooks.sh [COUNT] [ROUNDS] [STARTUP_RUNS]
#
# COUNT dispatches per round on the bridge's side (2000; ten times as many on the plain
# side), ROUNDS rounds of each dispatch workload (5), STARTUP_RUNS starts of each side with
# 200 Python hook folders (5).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
count=${1:-2000}
rounds=${2:-5}
runs=${3:-5}
target=${CARGO_TARGET_DIR:-$root/target}
case "$target" in /*) ;; *) target=$root/$target ;; esac

echo "building (release)..." >&2
cargo build --quiet --release --locked -p ftrack-connect --bin ftrack-connect
python=$(./scripts/python-ref.sh)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$python" scripts/bench_python_hooks.py bench --host "$target/release/ftrack-connect" \
    --work "$work" --count "$count" --rounds "$rounds" --runs "$runs"
