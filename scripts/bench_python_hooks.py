#!/usr/bin/env python3
"""Runs the workloads of scripts/bench-python-hooks.sh on both sides and prints the comparison.

Run with an interpreter that has ftrack_api (scripts/python-ref.sh's); the host runs its
Python hooks with the same interpreter (`FTRACK_CONNECT_PYTHON`).

  bench_python_hooks.py bench --host BIN --work DIR [--count N] [--rounds R] [--runs S]
  bench_python_hooks.py plain-dispatch N      # N synchronous publishes on a plain EventHub
  bench_python_hooks.py plain-startup DIR     # ftrack_api.plugin.discover DIR/*/hook, publish

Dispatch (`dispatch-from-host`, `publish-from-python`): the timing is taken inside one
process around a loop of synchronous publishes, so process start-up is not in it; each round
is its own `ftrack-connect event publish ... --standalone` (or plain Python process), and the
median of the rounds is reported.

Start-up (`startup-200`): the whole process, from exec to the printed results of one
`bench.python` answered by 200 Python hooks in 200 plugin folders; the median wall time of
the runs, and the largest peak resident set size. The host leaves its bridge to end on its
own when it exits, so this process makes itself the bridge's reaper
(PR_SET_CHILD_SUBREAPER) and adds the bridge's peak (its `wait4` resource usage) to the
host's.
"""
import argparse
import ctypes
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.abspath(__file__)
ANSWER = {"items": [{"label": "x"}]}

# The handler under test, the same on both sides; `drive` publishes to it from Python.
DISPATCH_HOOK = """import time
from ftrack_api.event.base import Event


def answer(event):
    return {'items': [{'label': 'x'}]}


def register(session, **kw):
    hub = session.event_hub
    hub.subscribe('topic=bench.python', answer)

    def drive(event):
        count = int(event['data']['count'])
        for _ in range(50):
            hub.publish(Event('bench.python'), synchronous=True)
        start = time.perf_counter()
        for _ in range(count):
            results = hub.publish(Event('bench.python'), synchronous=True)
        micros = (time.perf_counter() - start) / count * 1e6
        if results != [answer(event)]:
            raise RuntimeError('unexpected results: %r' % (results,))
        return {'micros': micros}

    hub.subscribe('topic=bench.from-python', drive)
"""

# The host's hub calling a handler N times: a Rhai loop of synchronous publishes, timed with
# Rhai's own clock; `data.topic` names the handler (the Python one, or the Rhai one below).
DRIVER_HOOK = """fn register(session) {
    let hub = session.event_hub;
    session.event_hub.subscribe("topic=bench.from-host", |event| {
        let topic = event.data.topic;
        let count = event.data.count;
        for i in 0..50 {
            hub.publish(#{ topic: topic }, true);
        }
        let results = [];
        let start = timestamp();
        for i in 0..count {
            results = hub.publish(#{ topic: topic }, true);
        }
        let micros = start.elapsed * 1000000.0 / count;
        if results.len() != 1 || results[0].items[0].label != "x" {
            throw `unexpected results: ${results}`;
        }
        #{ micros: micros }
    });
    session.event_hub.subscribe("topic=bench.rhai", |event| #{ items: [#{ label: "x" }] });
}
"""

STARTUP_HOOK = """def answer(event):
    return {'items': [{'label': 'Hook %(i)d'}]}


def register(session, **kw):
    session.event_hub.subscribe('topic=bench.python', answer)
"""


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


# The plain side: ftrack_api alone --------------------------------------------------------


def plain_hub():
    from ftrack_api.event.hub import EventHub

    return EventHub("http://localhost", "u", "k")


def plain_dispatch(count):
    from ftrack_api.event.base import Event

    hub = plain_hub()
    answer = lambda event: {"items": [{"label": "x"}]}
    hub.subscribe("topic=bench.python", answer)
    for _ in range(50):
        hub.publish(Event("bench.python"), synchronous=True)
    start = time.perf_counter()
    for _ in range(count):
        results = hub.publish(Event("bench.python"), synchronous=True)
    micros = (time.perf_counter() - start) / count * 1e6
    if results != [ANSWER]:
        sys.exit("unexpected results: %r" % (results,))
    print(json.dumps({"micros": micros}))


def plain_startup(root):
    import ftrack_api.plugin
    from ftrack_api.event.base import Event

    class Session(object):
        event_hub = plain_hub()

    session = Session()
    paths = [os.path.join(root, name, "hook") for name in sorted(os.listdir(root))]
    ftrack_api.plugin.discover(paths, [session], {})
    results = session.event_hub.publish(Event("bench.python"), synchronous=True)
    print(json.dumps(results))


# Measuring -------------------------------------------------------------------------------


def become_subreaper():
    """Orphans of what this process starts (the bridge, once its host has exited) become
    this process's children, so their resource usage can be read."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(36, 1, 0, 0, 0) == 0  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        return False


def reap_orphans(timeout=20.0):
    """Waits for the children left over (the bridge of a host that exited): their peak RSS
    (KiB) added up."""
    total, deadline = 0, time.monotonic() + timeout
    while True:
        try:
            pid, _, usage = os.wait4(-1, os.WNOHANG)
        except ChildProcessError:
            return total
        if pid:
            total += usage.ru_maxrss
        elif time.monotonic() > deadline:
            sys.exit("a process the host started did not end within %.0f s" % timeout)
        else:
            time.sleep(0.002)


class Sandbox(object):
    """The environment of every run: a private HOME (with XDG folders inside) each time."""

    def __init__(self, work):
        self.work = work
        self.runs = 0
        base = {k: v for k, v in os.environ.items()
                if not k.startswith(("FTRACK_", "XDG_"))}
        base.update(FTRACK_CONNECT_PYTHON=sys.executable, FTRACK_API_USER="bench",
                    FTRACK_CONNECT_PYTHON_TIME_LIMIT="120")
        self.base = base

    def env(self, plugin_path=None):
        self.runs += 1
        home = os.path.join(self.work, "homes", str(self.runs))
        env = dict(self.base, HOME=home, XDG_DATA_HOME=os.path.join(home, ".local", "share"),
                   XDG_CONFIG_HOME=os.path.join(home, ".config"),
                   XDG_CACHE_HOME=os.path.join(home, ".cache"))
        for name in ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME"):
            os.makedirs(env[name])
        if plugin_path:
            env["FTRACK_CONNECT_PLUGIN_PATH"] = plugin_path
        return env


def run_measured(command, env, errors):
    """One run of `command`: wall seconds, its peak RSS (KiB), the peak RSS of what it left
    running (KiB), its stdout."""
    with open(errors, "wb") as stderr:
        start = time.perf_counter()
        child = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=stderr)
        out = child.stdout.read()
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
    left = reap_orphans()
    if child.returncode != 0:
        with open(errors, errors="replace") as f:
            sys.exit("%s failed with status %d:\n%s" % (" ".join(command), child.returncode,
                                                         f.read()[-4000:]))
    return wall, usage.ru_maxrss, left, out


def one_result(out, command):
    results = json.loads(out)
    if len(results) != 1 or not isinstance(results[0], dict) or "micros" not in results[0]:
        sys.exit("%s answered %s" % (" ".join(command), out.decode(errors="replace")[:2000]))
    return results[0]["micros"]


def bench(args):
    subreaper = become_subreaper()
    sandbox = Sandbox(args.work)
    errors = os.path.join(args.work, "stderr")

    # Dispatch: the Python handler and the Rhai driver, each in a plugin folder of its own.
    plugins = os.path.join(args.work, "dispatch")
    write(os.path.join(plugins, "python-bench", "hook", "bench_python.py"), DISPATCH_HOOK)
    write(os.path.join(plugins, "rhai-driver", "hook", "driver.rhai"), DRIVER_HOOK)

    def host(topic, data):
        command = [args.host, "event", "publish", topic, "--standalone",
                   "--data", json.dumps(data)]
        return one_result(run_measured(command, sandbox.env(plugins), errors)[3], command)

    def plain():
        command = [sys.executable, HERE, "plain-dispatch", str(args.count * 10)]
        return one_result(b"[" + run_measured(command, sandbox.env(), errors)[3] + b"]", command)

    figures = {"from-host": [], "from-host-rhai": [], "from-python": [], "plain": []}
    for _ in range(args.rounds):  # interleaved, so that a busy moment hits every side
        figures["from-host"].append(
            host("bench.from-host", {"topic": "bench.python", "count": args.count}))
        figures["from-host-rhai"].append(
            host("bench.from-host", {"topic": "bench.rhai", "count": args.count}))
        figures["from-python"].append(host("bench.from-python", {"count": args.count}))
        figures["plain"].append(plain())
    median = {name: statistics.median(values) for name, values in figures.items()}
    spread = {name: "%.1f to %.1f" % (min(values), max(values)) for name, values in figures.items()}
    print("dispatch-from-host: bridge %.2f us, plain ftrack_api %.2f us, bridge adds %.2f us"
          " (rounds: bridge %s, plain %s; the same Rhai loop to a Rhai handler: %.2f us)"
          % (median["from-host"], median["plain"], median["from-host"] - median["plain"],
             spread["from-host"], spread["plain"], median["from-host-rhai"]), flush=True)
    print("publish-from-python: bridge %.2f us, plain ftrack_api %.2f us, bridge adds %.2f us"
          " (rounds: bridge %s)"
          % (median["from-python"], median["plain"], median["from-python"] - median["plain"],
             spread["from-python"]), flush=True)

    # Start-up: the same 200 hook files, in 200 plugin folders.
    root = os.path.join(args.work, "startup-200")
    for i in range(1, 201):
        write(os.path.join(root, "plugin_%03d" % i, "hook", "hook.py"), STARTUP_HOOK % {"i": i})
    sides = {
        "host": [args.host, "event", "publish", "bench.python", "--standalone"],
        "plain": [sys.executable, HERE, "plain-startup", root],
    }
    walls = {side: [] for side in sides}
    peaks = {side: (0, 0) for side in sides}
    for _ in range(args.runs):
        for side, command in sides.items():
            env = sandbox.env(root if side == "host" else None)
            wall, rss, left, out = run_measured(command, env, errors)
            items = sum(len(r.get("items", [])) for r in json.loads(out) if isinstance(r, dict))
            if items != 200:
                sys.exit("startup-200: %s answered with %d items, not 200" % (side, items))
            walls[side].append(wall)
            if rss + left > sum(peaks[side]):
                peaks[side] = (rss, left)
    host_ms, plain_ms = (statistics.median(walls[s]) * 1e3 for s in ("host", "plain"))
    (host_rss, bridge_rss), (plain_rss, _) = peaks["host"], peaks["plain"]
    host_mib, plain_mib = (host_rss + bridge_rss) / 1024, plain_rss / 1024
    split = ("host %.1f + bridge %.1f" % (host_rss / 1024, bridge_rss / 1024) if subreaper
             else "host only: the bridge's is unknown without PR_SET_CHILD_SUBREAPER")
    print("startup-200: ftrack-connect %.1f ms %.1f MiB peak (%s), ftrack_api %.1f ms %.1f MiB"
          " peak, ftrack-connect/ftrack_api %.2fx (memory %.2fx)"
          % (host_ms, host_mib, split, plain_ms, plain_mib, host_ms / plain_ms,
             host_mib / plain_mib), flush=True)
    shutil.rmtree(os.path.join(args.work, "homes"), ignore_errors=True)


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "plain-dispatch":
        return plain_dispatch(int(sys.argv[2]))
    if len(sys.argv) == 3 and sys.argv[1] == "plain-startup":
        return plain_startup(sys.argv[2])
    parser = argparse.ArgumentParser(usage=__doc__)
    parser.add_argument("command", choices=["bench"])
    parser.add_argument("--host", required=True)
    parser.add_argument("--work", required=True)
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--runs", type=int, default=5)
    bench(parser.parse_args())


if __name__ == "__main__":
    main()
