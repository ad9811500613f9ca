#!/usr/bin/env bash
# A long fuzz round over every parser that reads outside input: subscription expressions
# (connect-core), launcher configs (connect-launcher), the local endpoint's frames
# (ftrack-connect), the frames an isolated native plugin's process sends (connect-isolate),
# the local server's query language and Socket.IO packets (connect-server), and the Socket.IO
# packets the hub client reads from a server (connect-hub-client). CI runs the same
# properties in `cargo test --workspace` with their default case counts (proptest's 256, or
# each property's own, from 32 to 1,000, in the launcher and query modules); this runs CASES
# per property (default 20000), in release mode.
#
#   ./scripts/fuzz.sh [CASES]
#
# A failure prints the smallest input proptest found and saves it under the crate's
# proptest-regressions/ folder, so the next `cargo test` tries it first.
set -euo pipefail
cd "$(dirname "$0")/.."
cases=${1:-20000}
export PROPTEST_CASES=$cases
start=$(date +%s)
failed=0
run() {
    local what=$1 out
    shift
    echo "== $what ($cases cases per property)" >&2
    if out=$(cargo test --quiet --release --locked "$@" 2>&1); then
        grep -E '^test result' <<<"$out" >&2 || true
    else
        echo "$out" >&2
        failed=1
    fi
}
run "subscription expressions" -p connect-core --test expressions props::
run "launcher configs" -p connect-launcher fuzz::
run "endpoint frames" -p ftrack-connect --lib endpoint::server::tests::any_frame
run "isolated plugins' frames" -p connect-isolate fuzz::
run "server query language" -p connect-server query::fuzz::
run "server hub packets" -p connect-server hub::packet::tests::fuzz::
run "hub client packets" -p connect-hub-client --lib packet::tests::fuzz::
echo "== done in $(( $(date +%s) - start )) s" >&2
exit $failed
