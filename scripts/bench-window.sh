#!/usr/bin/env bash
# The Connect window's first paint of Actions with a selected task, from a warm host, measured
# in the browser: a release `run` host with its embedded server, a show made with the real
# ftrack_api, the task picked once (so it is the recent context), then ROUNDS fresh headless
# Chromium loads of a sign-in link; each prints the page's own `performance.now()` at the
# moment the task's actions were on screen (body[data-actions-paint], set by actions.js).
#
#   ./scripts/bench-window.sh [ROUNDS]     (default 10; needs chromium and python3)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-10}
python=$(./scripts/python-ref.sh)
cargo build --release -q -p ftrack-connect
bin=$PWD/${CARGO_TARGET_DIR:-target}/release/ftrack-connect
sandbox=$(mktemp -d)
export HOME=$sandbox/home XDG_DATA_HOME=$sandbox/data FTRACK_API_USER=alice
export FTRACK_CONNECT_PLUGIN_PATH=$PWD/scripts/example-plugins
unset FTRACK_SERVER FTRACK_API_KEY
mkdir -p "$HOME/.cache"
"$bin" run --silent --allow-multiple 2>/dev/null &
host=$!
trap 'kill $host 2>/dev/null; wait $host 2>/dev/null; rm -rf "$sandbox"' EXIT
for _ in $(seq 100); do "$bin" status >/dev/null 2>&1 && break; sleep 0.1; done
server=$("$bin" status --json | "$python" -c 'import json,sys; print(json.load(sys.stdin)["server"]["url"])')
task=$("$python" - "$server" "$(cat "$XDG_DATA_HOME/ftrack-connect/server/host-key")" <<'PY'
import sys, ftrack_api
s = ftrack_api.Session(server_url=sys.argv[1], api_user="alice", api_key=sys.argv[2],
                       auto_connect_event_hub=False, plugin_paths=[])
p = s.create("Project", {"name": "bench", "project_schema": s.query("ProjectSchema").first()})
shot = s.create("Shot", {"name": "sh010", "parent": s.create("Sequence", {"name": "sq", "parent": p})})
task = s.create("Task", {"name": "comp", "parent": shot})
s.commit()
print(task["id"])
PY
)
# Pick the task once, as an artist would: it becomes the recent context the window opens on.
link=$("$bin" open --print)
base=${link%/signin/*}
cookie=$(curl -s -D - -o /dev/null "$link" | tr -d '\r' | sed -n 's/^set-cookie: \([^;]*\).*/\1/ip')
curl -sf -o /dev/null -H "Cookie: $cookie" -H "Origin: $base" -H 'Content-Type: application/json' \
    -d "{\"id\": \"$task\"}" "$base/api/recent"
# One browser through chromedriver (WebDriver over HTTP): each round opens a fresh link and
# reads the time the page recorded.
driver_port=$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
chromedriver --port="$driver_port" >/dev/null 2>&1 &
driver=$!
trap 'kill $host $driver 2>/dev/null; wait $host 2>/dev/null; rm -rf "$sandbox"' EXIT
"$python" - "$driver_port" "$bin" "$rounds" <<'PY'
import json, subprocess, sys, time, urllib.request

port, binary, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
def link():
    return subprocess.run([binary, "open", "--print"], check=True, capture_output=True,
                          text=True).stdout.strip()
def call(method, path, body=None):
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method,
                                     data=None if body is None else json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    return json.load(urllib.request.urlopen(request))["value"]
for _ in range(100):
    try:
        call("GET", "/status"); break
    except OSError:
        time.sleep(0.1)
args = ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"]
session = call("POST", "/session", {"capabilities": {"alwaysMatch": {
    "goog:chromeOptions": {"args": args}}}})["sessionId"]
times = []
try:
    for _ in range(rounds):
        call("POST", f"/session/{session}/url", {"url": link()})
        for _ in range(200):
            paint = call("POST", f"/session/{session}/execute/sync",
                         {"script": "return document.body.dataset.actionsPaint || null", "args": []})
            if paint:
                break
            time.sleep(0.05)
        else:
            sys.exit("the page never showed the task's actions")
        times.append(int(paint))
finally:
    call("DELETE", f"/session/{session}")
times.sort()
print(f"Actions with the recent task painted after (ms, {len(times)} loads, fresh sign-in link each): "
      f"min {times[0]}, median {times[len(times) // 2]}, max {times[-1]}")
PY
