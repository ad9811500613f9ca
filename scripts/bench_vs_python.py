#!/usr/bin/env python3
"""Runs the workloads of scripts/bench-vs-python.sh on both sides and prints the comparison.

In-process workloads: the Rust figures come from the `bench_vs_python` example (microseconds
per published event), the Python ones from `python_reference.py` (ftrack-python-api's
EventHub), run in this interpreter's virtualenv.

`startup` is timed from outside: the whole process, from exec to the printed results of one
`ftrack.action.discover`, against 200 plugin folders (Rhai hooks for `ftrack-connect event
publish --standalone`, Python hooks for `python_reference.py startup`). Each side runs several
times; the median wall time is reported, and the largest peak resident set size (from the
`wait4` resource usage of that very child). Beside it, timed the same way: `ftrack-connect
--version` (the floor of any command) and `true` (this harness's own start and wait of a
process, counted in both sides' times).
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REFERENCE = os.path.join(HERE, "python_reference.py")


def figures(lines, side):
    """`NAME: <side> <number> us` lines -> {NAME: number}."""
    found = {}
    for line in lines.splitlines():
        name, _, rest = line.partition(": %s " % side)
        if rest:
            found[name] = float(rest.split()[0])
    return found


def python_workload(name):
    out = subprocess.run([sys.executable, REFERENCE, name], check=True,
                         capture_output=True, text=True).stdout
    return figures(out, "python")[name]


def run_measured(command, env):
    """Wall seconds and peak RSS (KiB) of one run of `command`; its stdout."""
    start = time.perf_counter()
    child = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    out = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        sys.exit("%s failed with status %d" % (command, child.returncode))
    rss_kib = usage.ru_maxrss / (1024 if sys.platform == "darwin" else 1)
    return wall, rss_kib, out


def startup(args, runs):
    rhai_env = dict(os.environ)
    for name in ("FTRACK_EVENT_PLUGIN_PATH", "FTRACK_APPLICATION_LAUNCHER_CONFIG_PATHS",
                 "XDG_DATA_HOME", "XDG_CONFIG_HOME"):
        rhai_env.pop(name, None)
    rhai_env.update(HOME=os.path.join(args.work, "home"),
                    FTRACK_CONNECT_PLUGIN_PATH=os.path.join(args.work, "rhai"),
                    FTRACK_API_USER="alice")
    rust_cmd = [args.host, "event", "publish", "ftrack.action.discover", "--standalone",
                "--data", '{"selection": []}']
    python_cmd = [sys.executable, REFERENCE, "startup", os.path.join(args.work, "python")]
    sides = {}
    for side, command, env in (("rust", rust_cmd, rhai_env), ("python", python_cmd, dict(os.environ))):
        walls, peak = [], 0
        for _ in range(runs):
            wall, rss, out = run_measured(command, env)
            walls.append(wall)
            peak = max(peak, rss)
        if side == "rust":
            items = sum(len(r["items"]) for r in json.loads(out) if isinstance(r, dict) and r.get("items"))
        else:
            items = int(out.split()[2])
        if items != 200:
            sys.exit("startup: %s answered with %d items, not 200" % (side, items))
        sides[side] = (statistics.median(walls) * 1e3, peak / 1024)
    return sides


def floor_of_exec(command, runs):
    """Median wall ms and largest peak MiB of `command`: a floor of the start-up."""
    walls, peak = [], 0
    for _ in range(runs):
        wall, rss, _ = run_measured(command, dict(os.environ))
        walls.append(wall)
        peak = max(peak, rss)
    return statistics.median(walls) * 1e3, peak / 1024


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--driver", required=True)
    parser.add_argument("--host", required=True)
    parser.add_argument("--native-library", required=True)
    parser.add_argument("--work", required=True)
    parser.add_argument("--startup-runs", type=int, default=10)
    args = parser.parse_args()

    rust = figures(subprocess.run(
        [args.driver, "--native-library", args.native_library,
         "--rhai-plugins", os.path.join(args.work, "rhai")],
        check=True, capture_output=True, text=True).stdout, "rust")
    python = {name: python_workload(name) for name in ("dispatch", "dispatch-10k", "discover-fanout")}
    python["dispatch-rhai"] = python["dispatch"]
    python["discover-fanout-native"] = python["discover-fanout"]
    # The workloads of the issue, then three reported for context against the same Python
    # figures: the hub's floor (a Rust handler inside the host), and the fan-outs with every
    # result converted to a serde_json::Value instead of handed on as the handler made it.
    python["dispatch-host"] = python["dispatch"]
    python["discover-fanout-as-json"] = python["discover-fanout"]
    python["discover-fanout-native-as-json"] = python["discover-fanout"]
    python["discover-fanout-host"] = python["discover-fanout"]
    for name in ("dispatch", "dispatch-rhai", "dispatch-10k", "discover-fanout", "discover-fanout-native",
                 "dispatch-host", "discover-fanout-host", "discover-fanout-as-json",
                 "discover-fanout-native-as-json"):
        # A fan-out's floor: the same handlers called directly, without the hub.
        floor = rust.get(name + "-floor")
        beside = "" if floor is None else " (floor %.2f us, the hub's fan-out %.2fx it" % (
            floor, rust[name] / floor)
        # The Rhai fan-out's other floor: the hooks' functions called by Rhai alone.
        rhai_alone = rust.get(name + "-rhai-floor")
        if rhai_alone is not None:
            beside += "; Rhai alone %.2f us, the host's fan-out %.2fx it" % (
                rhai_alone, rust[name] / rhai_alone)
        beside += "" if floor is None else ")"
        print("%s: rust %.2f us, python %.2f us, ratio %.1fx%s"
              % (name, rust[name], python[name], python[name] / rust[name], beside), flush=True)
    sides = startup(args, args.startup_runs)
    (rust_ms, rust_mib), (python_ms, python_mib) = sides["rust"], sides["python"]
    version_ms, version_mib = floor_of_exec([args.host, "--version"], args.startup_runs)
    # What this harness's own start and wait of a process cost, counted in both sides' times.
    harness_ms, _ = floor_of_exec([shutil.which("true") or "/bin/true"], args.startup_runs)
    print("startup: rust %.1f ms %.1f MiB peak, python %.1f ms %.1f MiB peak, ratio %.1fx (memory %.1fx)"
          " (floor: ftrack-connect --version %.1f ms %.1f MiB peak; the harness with `true` %.1f ms)"
          % (rust_ms, rust_mib, python_ms, python_mib, python_ms / rust_ms, python_mib / rust_mib,
             version_ms, version_mib, harness_ms))


if __name__ == "__main__":
    main()
