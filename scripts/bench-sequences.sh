#!/usr/bin/env bash
# Sequence detection: connect-sequence's `assemble` against Python clique 1.6.1's, same run,
# in process on both sides (no interpreter or process start-up in the figures), on 100,000
# generated paths (render sequences, versioned work files, single files, odd names). Prints
# one line per workload:
#   frames-dropzone: clique <ms> ms, connect-sequence <ms> ms, <ratio> x
#   digits-default: clique <ms> ms, connect-sequence <ms> ms, <ratio> x (first N paths)
# and connect-sequence alone on `digits-default` over every path (clique is quadratic there:
# hours). The workloads and the checksum are described in scripts/bench_sequences.py; see
# docs/benchmarks.md, "Sequence detection against clique".
#
#   ./scripts/bench-sequences.sh [RUNS] [ROUNDS] [DIGITS_PATHS]
#
# RUNS runs of each side, interleaved (3); ROUNDS calls of each workload per run, of which
# each run reports the median (5); DIGITS_PATHS paths for `digits-default` (2000). The
# figures are the medians of the runs' medians. Fails if the two sides' results differ
# (collections, indexes, remainder, CRC-32 of the formatted result).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
runs=${1:-3}
rounds=${2:-5}
digits_paths=${3:-2000}
target=${CARGO_TARGET_DIR:-$root/target}
case "$target" in /*) ;; *) target=$root/$target ;; esac

echo "building (release)..." >&2
cargo build --quiet --release --locked -p connect-sequence --example time_assemble
python=$(./scripts/python-ref.sh)
"$python" -c 'import clique, sys; sys.exit(clique.__version__ != "1.6.1")' ||
    { echo "clique is not 1.6.1 in $python" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$python" scripts/bench_sequences.py generate "$work/paths.txt"
echo "$(wc -l <"$work/paths.txt") paths; $runs runs of $rounds rounds a side" >&2

for run in $(seq 1 "$runs"); do
    echo "run $run: clique..." >&2
    "$python" scripts/bench_sequences.py time "$work/paths.txt" "$rounds" "$digits_paths" \
        >>"$work/clique.txt"
    echo "run $run: connect-sequence..." >&2
    "$target/release/examples/time_assemble" "$work/paths.txt" "$rounds" "$digits_paths" \
        >>"$work/connect.txt"
done

# Lines: WORKLOAD MS ms (rounds ...) checksum SUM
median() { # the median of the runs' figures for workload $1 in file $2
    awk -v w="$1" '$1 == w { print $2 }' "$2" | sort -g |
        awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
checksums() { # the distinct checksums of workload $1 in the files that follow
    local name=$1
    shift
    awk -v w="$name" '$1 == w { print $NF }' "$@" | sort -u
}

status=0
for workload in frames-dropzone digits-default; do
    sums=$(checksums "$workload" "$work/clique.txt" "$work/connect.txt")
    if [ "$(printf '%s\n' "$sums" | wc -l)" -ne 1 ] || [ -z "$sums" ]; then
        echo "MISMATCH in $workload: clique and connect-sequence disagree" >&2
        echo "  clique:           $(checksums "$workload" "$work/clique.txt" | tr '\n' ' ')" >&2
        echo "  connect-sequence: $(checksums "$workload" "$work/connect.txt" | tr '\n' ' ')" >&2
        echo "  (collections/indexes/remainder/crc32)" >&2
        status=1
        continue
    fi
    clique=$(median "$workload" "$work/clique.txt")
    connect=$(median "$workload" "$work/connect.txt")
    note=""
    [ "$workload" = digits-default ] && note=" (first $digits_paths paths)"
    awk -v w="$workload" -v c="$clique" -v r="$connect" -v n="$note" -v s="$sums" \
        'BEGIN { printf "%s: clique %.1f ms, connect-sequence %.2f ms, %.1f x%s [checksum %s]\n", w, c, r, c / r, n, s }'
done
if grep -q '^digits-default-all ' "$work/connect.txt"; then
    all=$(median digits-default-all "$work/connect.txt")
    awk -v r="$all" -v n="$(wc -l <"$work/paths.txt")" \
        'BEGIN { printf "digits-default on all %d paths: connect-sequence %.1f ms (clique: not run, quadratic)\n", n, r }'
fi
exit "$status"
