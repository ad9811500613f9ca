#!/usr/bin/env bash
# Builds the host and runs it against the example plugins in scripts/example-plugins:
# lists them, asks them for actions, launches one, then starts the resident host, which serves
# the local ftrack server, and asks for actions through that server (Ctrl-C stops).
set -euo pipefail
cd "$(dirname "$0")/.."
# The development build: quicker to make than the optimised one, fast enough for a demo, and
# what `cargo test --workspace` builds anyway (it reuses all of it).
echo "== building ftrack-connect (a minute or two the first time)"
cargo build -p ftrack-connect
bin=${CARGO_TARGET_DIR:-target}/debug/ftrack-connect
export FTRACK_CONNECT_PLUGIN_PATH="$PWD/scripts/example-plugins"
echo "== plugins"
"$bin" plugins
echo "== actions (grouped as Connect shows them)"
"$bin" actions --selection Task:1
echo "== ftrack.action.discover"
"$bin" event publish ftrack.action.discover --data '{"selection": [{"entityId": "1", "entityType": "task"}]}'
echo "== ftrack.action.launch"
"$bin" event publish ftrack.action.launch --data '{"actionIdentifier": "example-hello"}'
echo "== ftrack.connect.plugin.debug-information"
"$bin" event publish ftrack.connect.plugin.debug-information
echo "== resident host: nobody signed in, so it serves the local ftrack server and links to it"
"$bin" run --watch --allow-multiple &
host=$!
trap 'kill $host 2>/dev/null || true' INT TERM EXIT
for _ in $(seq 150); do
    "$bin" status 2>/dev/null | grep -q "event hub: connected" && break
    sleep 0.1
done
"$bin" status
echo "== ftrack.action.discover through the server's event hub, as the ftrack web page asks it"
echo "   (this command -> server -> the host's hooks -> server -> this command)"
"$bin" event publish ftrack.action.discover --via-server \
    --data '{"selection": [{"entityId": "1", "entityType": "task"}]}'
echo "== the host reloads plugins as you edit them in scripts/example-plugins (Ctrl-C stops it)"
wait $host
