#!/usr/bin/env bash
# Writes COUNT Rhai plugin folders into DIR (`plugin_1` ... `plugin_COUNT`), each with one hook
# answering `ftrack.action.discover` with one item, as `python_reference.py make-plugins`
# writes the Python ones: the 200-folder workload of bench-vs-python.sh, bench-host-hub.sh and
# startup-order.sh (which lays the code out for the start-up this workload measures).
#
#   scripts/make-rhai-plugins.sh DIR COUNT
set -euo pipefail
dir=${1:?usage: make-rhai-plugins.sh DIR COUNT}
count=${2:?usage: make-rhai-plugins.sh DIR COUNT}
for i in $(seq 1 "$count"); do
    mkdir -p "$dir/plugin_$i/hook"
    cat >"$dir/plugin_$i/hook/hook.rhai" <<RHAI
fn discover(event) {
    #{ items: [#{ label: "App $i", actionIdentifier: "app-$i", variant: "1.$i" }] }
}
fn register(session) {
    session.event_hub.subscribe("topic=ftrack.action.discover", Fn("discover"));
}
RHAI
done
