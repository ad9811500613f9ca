#!/usr/bin/env bash
# A publish of a 2,000-frame sequence to a disk location on the same file system, against
# `cp -r` of the same files, same run: cold (page cache dropped before each command; needs
# root) and warm (order alternated each round); throughput, the ratio publish/cp, and the
# publisher's peak RSS. See scripts/bench_publish.py and docs/benchmarks.md.
#
#   ./scripts/bench-publish.sh [--frames 2000] [--frame-size BYTES] [--rounds 3] [--work DIR]
#
# Frames are 1 MB each (2 GB), or 512 KiB (1 GB) when the file system of the work folder
# (default: $TMPDIR, else /tmp) has less than 10 GB free. Everything it makes is removed.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${CARGO_TARGET_DIR:-target}
cargo build --release --quiet --locked -p ftrack-connect
python=$(./scripts/python-ref.sh)
exec "$python" scripts/bench_publish.py "$target/release/ftrack-connect" --python "$python" "$@"
