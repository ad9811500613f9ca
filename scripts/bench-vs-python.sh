#!/usr/bin/env bash
# Side-by-side benchmarks against ftrack's own Python event hub (PyPI ftrack-python-api 3.1.0),
# same workloads, same run. Prints one line per workload:
#   NAME: rust <figure>, python <figure>, ratio <python/rust>x
# Needs a Rust toolchain and python3 with venv; the virtualenv is made once in
# target/bench-venv. Takes a few minutes (most of it the Python side and the first build).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
target=${CARGO_TARGET_DIR:-$root/target}
venv=$target/bench-venv

if ! "$venv/bin/python" -c 'import ftrack_api' >/dev/null 2>&1; then
    echo "setting up $venv with ftrack-python-api==3.1.0..." >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet ftrack-python-api==3.1.0
fi

# The host as shipped (the `release-lto` profile: a few minutes to link), the native plugin as
# a plugin author's `cargo build --release` makes it. The host is built on its own, as the
# README builds it: built with the example, it would take the features the example's
# dev-dependencies turn on, and be another program than the one shipped (with other symbol
# names than `host/connect/startup-order.txt` lists).
echo "building (release-lto; the links take a few minutes)..." >&2
cargo build --quiet --profile release-lto --locked -p ftrack-connect --bin ftrack-connect
cargo build --quiet --profile release-lto --locked -p ftrack-connect --example bench_vs_python
cargo build --quiet --release --locked -p fixture-bench

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/rhai" "$work/python" "$work/home"
# 200 Rhai plugin folders answering ftrack.action.discover as the Python ones do.
scripts/make-rhai-plugins.sh "$work/rhai" 200
"$venv/bin/python" scripts/python_reference.py make-plugins "$work/python" 200

library=$target/release/$(
    case "$(uname -s)" in
        Darwin) echo libfixture_bench.dylib ;;
        MINGW* | MSYS* | CYGWIN*) echo fixture_bench.dll ;;
        *) echo libfixture_bench.so ;;
    esac
)
# Not `exec`: the trap removes the work folder (400 plugin folders) when Python is done.
"$venv/bin/python" scripts/bench_vs_python.py \
    --driver "$target/release-lto/examples/bench_vs_python" \
    --host "$target/release-lto/ftrack-connect" \
    --native-library "$library" \
    --work "$work"
