"""ftrack.action.discover published by a Python ftrack_api client through the local server's
hub and answered by different responders, one at a time; and the start-up of a host with 200
plugins until it answers. Run by scripts/bench-host-hub.sh, which builds, starts the server
and makes the users; see docs/benchmarks.md ("Answering the server's events").

    python bench_host_hub.py bench --server URL --keys FILE --host BIN --work DIR
        [--count N] [--rounds R] [--runs S] [--skip-startup]
    python bench_host_hub.py floor                  # the trivial responder (raw Socket.IO)
    python bench_host_hub.py native-floor OUT       # builds the std-only Rust one (rustc)
    python bench_host_hub.py python-responder       # ftrack_api, one handler
    python bench_host_hub.py python-host DIR        # ftrack_api host: DIR's plugin folders

The responders take FTRACK_SERVER, FTRACK_API_USER and FTRACK_API_KEY from the environment.
"""

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid

ITEMS = {"items": [{"label": "Bench", "actionIdentifier": "bench"}]}
# selection-actions answers discover only when something is selected.
SELECTION = [{"entityId": "1", "entityType": "Task"}]


def session(plugin_paths=()):
    import ftrack_api

    s = ftrack_api.Session(
        server_url=os.environ["FTRACK_SERVER"],
        api_user=os.environ["FTRACK_API_USER"],
        api_key=os.environ["FTRACK_API_KEY"],
        auto_connect_event_hub=True,
        schema_cache_path=False,
        plugin_paths=list(plugin_paths),
    )
    return s


def wait_connected(s):
    deadline = time.time() + 30
    while not s.event_hub.connected and time.time() < deadline:
        time.sleep(0.01)


# --- responders -------------------------------------------------------------------------------


def floor():
    """Answers every discover at once: the handshake, the websocket, heartbeats, one
    subscription, and a reply written as soon as the event is read. No hub, no handlers."""
    import websocket

    server = os.environ["FTRACK_SERVER"].rstrip("/")
    user, key = os.environ["FTRACK_API_USER"], os.environ["FTRACK_API_KEY"]
    request = urllib.request.Request(
        server + "/socket.io/1/", headers={"ftrack-user": user, "ftrack-api-key": key})
    sid = urllib.request.urlopen(request).read().decode().split(":")[0]
    ws = websocket.create_connection(
        server.replace("http", "ws", 1) + "/socket.io/1/websocket/" + sid,
        sockopt=((socket.IPPROTO_TCP, socket.TCP_NODELAY, 1),))
    me = {"id": uuid.uuid4().hex, "user": {"username": user}}

    def emit(event):
        ws.send('5:::' + json.dumps({"name": "ftrack.event", "args": [event]}))

    while True:
        message = ws.recv()
        if message.startswith("1::"):
            emit({"topic": "ftrack.meta.subscribe", "id": uuid.uuid4().hex, "source": me,
                  "target": "", "sent": None,
                  "data": {"subscriber": {"id": uuid.uuid4().hex},
                           "subscription": "topic=ftrack.action.discover"}})
        elif message.startswith("2:"):
            ws.send("2::")
        elif message.startswith("5:"):
            event = json.loads(message.split(":", 3)[3])["args"][0]
            if event.get("topic") != "ftrack.action.discover":
                continue
            emit({"topic": "ftrack.meta.reply", "id": uuid.uuid4().hex, "source": me,
                  "target": "id=%s" % event["source"]["id"], "inReplyToEvent": event["id"],
                  "data": ITEMS, "sent": None})


# The same trivial responder without an interpreter: std-only Rust, built with `rustc -O`
# (no crate, no async runtime), one thread that reads a frame and writes the reply. Fields
# are found in the event's text: the server writes the event's own keys first (`id`), and
# `source.id` is the first "id" after "source".
NATIVE_FLOOR = r"""
use std::io::{BufReader, Read, Write};
use std::net::TcpStream;

fn field<'a>(text: &'a str, after: &str) -> Option<&'a str> {
    let at = text.find(after)? + after.len();
    let rest = &text[at..];
    let start = rest.find("\"id\":\"")? + 6;
    let end = rest[start..].find('"')? + start;
    Some(&rest[start..end])
}

fn frame(text: &str) -> Vec<u8> {
    let mut out = vec![0x81u8];
    let len = text.len();
    if len < 126 {
        out.push(0x80 | len as u8);
    } else if len < 65536 {
        out.push(0x80 | 126);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(0x80 | 127);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
    out.extend_from_slice(&[0; 4]); // a zero mask: the payload goes as it is
    out.extend_from_slice(text.as_bytes());
    out
}

fn main() {
    let var = |name: &str| std::env::var(name).expect(name);
    let (server, user, key) = (var("FTRACK_SERVER"), var("FTRACK_API_USER"), var("FTRACK_API_KEY"));
    let address = server.trim_start_matches("http://").trim_end_matches('/').to_string();
    let mut http = TcpStream::connect(&address).unwrap();
    write!(http, "GET /socket.io/1/ HTTP/1.1\r\nHost: x\r\nftrack-user: {user}\r\n\
        ftrack-api-key: {key}\r\nConnection: close\r\n\r\n").unwrap();
    let mut answer = String::new();
    http.read_to_string(&mut answer).unwrap();
    let sid = answer.split("\r\n\r\n").nth(1).unwrap().split(':').next().unwrap().to_string();
    let mut socket = TcpStream::connect(&address).unwrap();
    socket.set_nodelay(true).unwrap();
    write!(socket, "GET /socket.io/1/websocket/{sid} HTTP/1.1\r\nHost: x\r\n\
        Upgrade: websocket\r\nConnection: Upgrade\r\n\
        Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n").unwrap();
    let mut reader = BufReader::new(socket.try_clone().unwrap());
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8];
        reader.read_exact(&mut byte).unwrap();
        head.push(byte[0]);
    }
    let source = format!("{{\"id\":\"native-floor\",\"user\":{{\"username\":\"{user}\"}}}}");
    let mut sent = 0u64;
    let mut payload = Vec::new();
    loop {
        let mut header = [0u8; 2];
        if reader.read_exact(&mut header).is_err() {
            return;
        }
        let len = match header[1] & 0x7f {
            126 => { let mut b = [0u8; 2]; reader.read_exact(&mut b).unwrap(); u16::from_be_bytes(b) as usize }
            127 => { let mut b = [0u8; 8]; reader.read_exact(&mut b).unwrap(); u64::from_be_bytes(b) as usize }
            len => len as usize,
        };
        payload.resize(len, 0);
        reader.read_exact(&mut payload).unwrap();
        match header[0] & 0x0f {
            8 => return,
            1 => {}
            _ => continue,
        }
        let text = std::str::from_utf8(&payload).unwrap();
        let reply = if text.starts_with("1::") {
            format!("5:::{{\"name\":\"ftrack.event\",\"args\":[{{\"topic\":\"ftrack.meta.subscribe\",\
                \"id\":\"native-floor-subscribe\",\"source\":{source},\"target\":\"\",\"data\":{{\
                \"subscriber\":{{\"id\":\"native-floor-{user}\"}},\
                \"subscription\":\"topic=ftrack.action.discover\"}}}}]}}")
        } else if text.starts_with("2:") {
            "2::".to_string()
        } else if text.starts_with("5:") && text.contains("\"topic\":\"ftrack.action.discover\"") {
            let (Some(event), Some(to)) = (field(text, "\"args\":[{"), field(text, "\"source\":{")) else {
                continue;
            };
            sent += 1;
            format!("5:::{{\"name\":\"ftrack.event\",\"args\":[{{\"topic\":\"ftrack.meta.reply\",\
                \"id\":\"native-floor-{sent}\",\"source\":{source},\"target\":\"id={to}\",\
                \"inReplyToEvent\":\"{event}\",\"data\":{{\"items\":[{{\"label\":\"Bench\",\
                \"actionIdentifier\":\"bench\"}}]}},\"sent\":null}}]}}")
        } else {
            continue;
        };
        socket.write_all(&frame(&reply)).unwrap();
    }
}
"""


def build_native_floor(out):
    source = out + ".rs"
    with open(source, "w") as f:
        f.write(NATIVE_FLOOR)
    subprocess.check_call(["rustc", "-O", "--edition", "2021", "-o", out, source])


def python_responder():
    s = session()
    wait_connected(s)
    s.event_hub.subscribe("topic=ftrack.action.discover", lambda event: ITEMS)
    s.event_hub.wait()


def python_host(root):
    """What ftrack's Python Connect does with its plugin folders: a session that loads every
    plugin's hook folder and connects its event hub, then dispatches what comes."""
    hooks = [os.path.join(root, d, "hook") for d in sorted(os.listdir(root))]
    s = session(hooks)
    wait_connected(s)
    s.event_hub.wait()


# --- the publisher ----------------------------------------------------------------------------


class Publisher:
    """One ftrack_api session publishing discovers and timing their replies."""

    def __init__(self):
        self.session = session()
        wait_connected(self.session)
        self.lock = threading.Condition()
        self.started = {}  # event id -> perf_counter at publish
        self.replies = {}  # event id -> [(perf_counter, username)]
        threading.Thread(target=self.session.event_hub.wait, daemon=True).start()

    def on_reply(self, event):
        now = time.perf_counter()
        user = (event.get("source") or {}).get("user", {}).get("username")
        with self.lock:
            self.replies.setdefault(event["in_reply_to_event"], []).append((now, user))
            self.lock.notify_all()

    def publish(self):
        import ftrack_api.event.base

        event = ftrack_api.event.base.Event(
            "ftrack.action.discover", data={"selection": SELECTION})
        with self.lock:
            self.started[event["id"]] = time.perf_counter()
        self.session.event_hub.publish(event, on_reply=self.on_reply)
        return event["id"]

    def answered(self, event_id, user):
        """Times of the replies from `user` to `event_id`, so far."""
        with self.lock:
            return [t for t, u in self.replies.get(event_id, []) if u == user]

    def wait_replies(self, event_id, user, count, timeout):
        deadline = time.perf_counter() + timeout
        with self.lock:
            while True:
                times = [t for t, u in self.replies.get(event_id, []) if u == user]
                left = deadline - time.perf_counter()
                if len(times) >= count or left <= 0:
                    return times
                self.lock.wait(left)

    def first_answer(self, user, every, limit):
        """Publishes a discover every `every` s until `user` answers one; when the first
        answer arrived (perf_counter), or None after `limit` s."""
        deadline = time.perf_counter() + limit
        sent = []
        while time.perf_counter() < deadline:
            sent.append(self.publish())
            pause_until = time.perf_counter() + every
            with self.lock:
                while True:
                    answers = [t for e in sent for t, u in self.replies.get(e, []) if u == user]
                    if answers:
                        return min(answers)
                    left = pause_until - time.perf_counter()
                    if left <= 0:
                        break
                    self.lock.wait(left)
        return None


def pick(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def hub_status(server, user, key):
    url = "%s/status?api_user=%s&api_key=%s" % (server.rstrip("/"), user, key)
    return json.loads(urllib.request.urlopen(url).read())["hub"]


def connections_of(server, auth, user):
    return [q for q in hub_status(server, *auth)["queues"] if q["user"] == user]


def round_trips(publisher, user, count, log):
    """COUNT discovers one at a time; each one's time to the last of the replies `user`
    gives (as many as it gave the first of them)."""
    if publisher.first_answer(user, 0.1, 60) is None:
        sys.exit("%s never answered a discover" % user)
    time.sleep(0.5)  # late replies to the warm-up events
    first = publisher.publish()
    time.sleep(1.0)  # every reply to the first measured event, to count them
    replies = publisher.answered(first, user)
    per_event = len(replies)
    log("%s: %d replies per discover" % (user, per_event))
    times, missing = [max(replies) - publisher.started[first]], 0
    for _ in range(count - 1):
        event = publisher.publish()
        got = publisher.wait_replies(event, user, per_event, 5.0)
        if len(got) < per_event:
            missing += 1
            continue
        times.append(max(got) - publisher.started[event])
    return times, per_event, missing


def stop(child):
    if child.poll() is None:
        child.send_signal(signal.SIGTERM)
        try:
            child.wait(10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def wait_gone(server, auth, user):
    """Until the server no longer has a connection of `user` (its subscriptions gone)."""
    deadline = time.time() + 10
    while connections_of(server, auth, user):
        if time.time() > deadline:
            sys.exit("%s is still connected 10 s after its process ended" % user)
        time.sleep(0.05)


def host_env(base, work, user, key, plugin_path):
    env = dict(base)
    for name in ("FTRACK_EVENT_PLUGIN_PATH", "FTRACK_APPLICATION_LAUNCHER_CONFIG_PATHS",
                 "XDG_CONFIG_HOME"):
        env.pop(name, None)
    home = os.path.join(work, "home-%s-%s" % (user, uuid.uuid4().hex[:8]))
    os.makedirs(home)
    env.update(HOME=home, XDG_DATA_HOME=os.path.join(home, ".local", "share"),
               FTRACK_API_USER=user, FTRACK_API_KEY=key)
    if plugin_path is not None:
        env["FTRACK_CONNECT_PLUGIN_PATH"] = plugin_path
    return env


def measure(publisher, args, auth, env, keys, responder, log):
    """One round of one responder: started, COUNT discovers, its share from the server,
    stopped."""
    user, label, command, plugins = responder
    child = subprocess.Popen(command, env=host_env(env, args.work, user, keys[user], plugins),
                             stdout=subprocess.DEVNULL,
                             stderr=open(os.path.join(args.work, user + ".log"), "a"))
    try:
        times, per_event, missing = round_trips(publisher, user, args.count, log)
        time.sleep(0.2)
        connections = connections_of(args.server, auth, user)
    finally:
        stop(child)
    wait_gone(args.server, auth, user)
    share = max((c["reply_micros"] for c in connections), key=lambda r: r["count"])
    if share["count"] != len(times) + missing:
        log("%s: the server timed %d events, the publisher %d" % (
            user, share["count"], len(times) + missing))
    log("%s: round trip p50 %.0f us, share p50 %s us" % (
        label, pick(times, 0.5) * 1e6, share["p50"]))
    return {"replies": per_event, "missing": missing, "n": len(times),
            "rt50": pick(times, 0.5) * 1e6, "rt99": pick(times, 0.99) * 1e6,
            "share50": share["p50"], "share99": share["p99"], "timed": share["count"]}


def startup_run(publisher, args, auth, env, keys, starter, log):
    """One start of a host with 200 plugins: ms from its start to the first reply."""
    user, label, command, plugins = starter
    child_env = host_env(env, args.work, user, keys[user], plugins)
    started = time.perf_counter()
    child = subprocess.Popen(command, env=child_env, stdout=subprocess.DEVNULL,
                             stderr=open(os.path.join(args.work, user + ".log"), "a"))
    try:
        answered = publisher.first_answer(user, 0.02, 60)
    finally:
        stop(child)
    wait_gone(args.server, auth, user)
    # The replies still on their way (200 per event answered) drain before the next start.
    time.sleep(1.0)
    if answered is None:
        sys.exit("%s: no answer within 60 s" % label)
    log("%s: %.1f ms" % (label, (answered - started) * 1e3))
    return (answered - started) * 1e3


def bench(args):
    log = lambda text: print(text, file=sys.stderr, flush=True)
    keys = json.load(open(args.keys))
    auth = ("publisher", keys["publisher"])
    env = dict(os.environ, FTRACK_SERVER=args.server)
    os.environ.update(FTRACK_SERVER=args.server, FTRACK_API_USER="publisher",
                      FTRACK_API_KEY=keys["publisher"])
    publisher = Publisher()
    me = [sys.executable, os.path.abspath(__file__)]
    host = [args.host, "run", "--allow-multiple", "-v", "warning"]
    native_floor = os.path.join(args.work, "native-floor")
    build_native_floor(native_floor)
    responders = [
        ("floor", "trivial responder, Python", me + ["floor"], None),
        ("native-floor", "trivial responder, Rust", [native_floor], None),
        ("python", "(a) Python ftrack_api, 1 handler", me + ["python-responder"], None),
        ("rhai", "(b) ftrack-connect, 1 Rhai hook", host, os.path.join(args.work, "one-rhai")),
        ("native", "(c) ftrack-connect, 1 native hook", host,
         os.path.join(args.work, "one-native")),
        ("example", "(d) ftrack-connect, selection-actions (native, reads the selection)", host,
         os.path.join(args.work, "example-native")),
    ]
    # Rounds: every responder once per round, so that the machine's drift touches them all.
    rounds = []
    for number in range(args.rounds):
        log("round %d of %d: %d discovers per responder" % (number + 1, args.rounds, args.count))
        rounds.append([measure(publisher, args, auth, env, keys, r, log) for r in responders])
    starters = [
        ("start-rhai", "ftrack-connect, 200 Rhai plugins", host,
         os.path.join(args.work, "rhai-200")),
        ("start-python", "Python ftrack_api host, 200 Python plugins",
         me + ["python-host", os.path.join(args.work, "python-200")], None),
    ]
    startup = {label: [] for _, label, _, _ in starters}
    for _ in range(args.runs if not args.skip_startup else 0):
        for starter in starters:
            startup[starter[1]].append(
                startup_run(publisher, args, auth, env, keys, starter, log))
    report([label for _, label, _, _ in responders], rounds, startup, args)


def median(values):
    return pick(values, 0.5) if len(values) % 2 else sum(sorted(values)[
        len(values) // 2 - 1:len(values) // 2 + 1]) / 2


def report(labels, rounds, startup, args):
    print()
    print("discover through the hub: %d rounds of %d per responder; microseconds, median over "
          "the rounds of each round's p50 / p99" % (len(rounds), args.count))
    print()
    print("| responder | replies per event | round trip p50 / p99 | share p50 / p99 "
          "| share above the Python floor p50 / p99 | share above the Rust floor p50 / p99 |")
    print("|---|---|---|---|---|---|")
    above = {}
    for i, label in enumerate(labels):
        row = lambda key: median([r[i][key] for r in rounds])
        cells = []
        for f in (0, 1):  # above each floor, within each round
            p50 = median([r[i]["share50"] - r[f]["share50"] for r in rounds])
            p99 = median([r[i]["share99"] - r[f]["share99"] for r in rounds])
            above[(i, f)] = p50
            cells.append("%d / %d" % (p50, p99))
        print("| %s | %d | %.0f / %.0f | %d / %d | %s |" % (
            label, rounds[0][i]["replies"], row("rt50"), row("rt99"), row("share50"),
            row("share99"), " | ".join(cells)))
    missing = sum(r[i]["missing"] for r in rounds for i in range(len(labels)))
    if missing:
        print("(%d events missed a reply within 5 s)" % missing)
    print()
    for f, floor in ((0, "Python floor"), (1, "Rust floor")):
        python = above[(2, f)]
        for i in range(3, len(labels)):
            ours = above[(i, f)]
            if ours <= 0:
                print("%s: %d us, below the %s: no ratio (that floor is not one for it)" % (
                    labels[i], ours, floor))
                continue
            ratio = python / ours
            print("%s: above the %s %d us, Python's %d us: %.1fx smaller (goal 10x: %s)" % (
                labels[i], floor, ours, python, ratio, "met" if ratio >= 10 else "not met"))
    if any(startup.values()):
        print()
        print("start to first answered remote discover, 200 plugins: median of %d runs (ms)"
              % args.runs)
        for label, runs in startup.items():
            print("%s: %.1f ms (runs: %s)" % (
                label, median(runs), ", ".join("%.1f" % r for r in runs)))
    print()
    print(json.dumps({"labels": labels, "rounds": rounds, "startup": startup}))


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    what = sys.argv[1]
    if what == "floor":
        floor()
    elif what == "native-floor":
        build_native_floor(sys.argv[2])
    elif what == "python-responder":
        python_responder()
    elif what == "python-host":
        python_host(sys.argv[2])
    elif what == "bench":
        parser = argparse.ArgumentParser()
        for name in ("--server", "--keys", "--host", "--work"):
            parser.add_argument(name, required=True)
        parser.add_argument("--count", type=int, default=300)
        parser.add_argument("--runs", type=int, default=5)
        parser.add_argument("--rounds", type=int, default=3)
        parser.add_argument("--skip-startup", action="store_true")
        bench(parser.parse_args(sys.argv[2:]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
