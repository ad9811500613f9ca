#!/usr/bin/env bash
# Where the time of one start-up goes, in real time: the `startup` workload of
# bench-vs-python.sh (`event publish ftrack.action.discover --standalone` against a folder of
# plugin folders), timed at the entry of the functions that begin each phase with uprobes, and
# at the command thread's exit and the process's end with scheduler events.
#
#   sudo scripts/startup-phases.sh PLUGIN_FOLDERS [RUNS [BINARY...]]
#
# BINARY defaults to the build bench-vs-python.sh measures (`target/release-lto`). With several, their runs alternate (one of each in
# turn), so that a machine growing busier or calmer moves them alike: compare binaries that
# way, not across sittings. Prints, for each binary and phase, the median over RUNS (default
# 20) of its milliseconds:
#   exec..main        the dynamic loader and Rust's runtime, up to `cli::main`
#   main..logging     parsing the command line
#   logging..host     the log, the command thread, the command's settings
#   host..discover    the hub and the loaders
#   discover..builtin discovering the plugin folders (on every core)
#   builtin..plugins  the built-in plugins (the default hook, the launcher)
#   plugins..publish  preparing and registering every plugin
#   publish..exit     publishing the event and printing the replies
#   exit..end         from the command thread's end to the process's (teardown)
# Needs `perf` with uprobes and tracepoints (root), and the binaries' symbols (a release build
# keeps them). Unlike a wall-time median, the phases move only with the work of each: the
# way to see a change of a fraction of a millisecond on a noisy machine.
set -euo pipefail
cd "$(dirname "$0")/.."
plugins=$(realpath "${1:?usage: startup-phases.sh PLUGIN_FOLDERS [RUNS [BINARY...]]}")
runs=${2:-20}
shift $(($# < 2 ? $# : 2))
binaries=()
for binary in "${@:-${CARGO_TARGET_DIR:-target}/release-lto/ftrack-connect}"; do
    binaries+=("$(realpath "$binary")")
done
work=$(mktemp -d)
remove_probes() {
    for index in "${!binaries[@]}"; do
        perf probe -q -d "startup_phases$index:*" >/dev/null 2>&1 || true
    done
}
trap 'remove_probes; rm -rf "$work"' EXIT
mkdir -p "$work/home"
remove_probes

for index in "${!binaries[@]}"; do
    binary=${binaries[$index]}
    probe() {
        local symbol
        symbol=$(nm "$binary" | grep -E "$2" | head -1 | awk '{print $3}' || true)
        # A function inlined everywhere (as LTO may leave `logging::init`) has no symbol: its
        # phase merges into the one before.
        [ -n "$symbol" ] || { echo "$binary: no symbol matching $2; phase $1 not timed" >&2; return 0; }
        perf probe -q -f -x "$binary" --add "startup_phases$index:$1=$symbol" >/dev/null
    }
    probe main '14ftrack_connect3cli4main17h'
    probe logging '14ftrack_connect7logging4init17h'
    probe host '4host4Host11load_linked17h'
    probe discover '15connect_plugins9discovery8discover17h'
    probe builtin '14PluginRegistry12load_builtin17h'
    probe plugins '14PluginRegistry11load_plugin17h'
    probe publish '6Target15publish_as_text17h'
done

for run in $(seq "$runs"); do
    for index in "${!binaries[@]}"; do
        env -u FTRACK_EVENT_PLUGIN_PATH -u XDG_DATA_HOME -u XDG_CONFIG_HOME \
            HOME="$work/home" FTRACK_CONNECT_PLUGIN_PATH="$plugins" FTRACK_API_USER=alice \
            perf record -q -a -o "$work/perf.data" -e "startup_phases$index:*" \
            -e sched:sched_process_exec -e sched:sched_process_exit -e sched:sched_switch \
            -- "${binaries[$index]}" event publish ftrack.action.discover --standalone \
            --data '{"selection": []}' >/dev/null 2>&1
        perf script -i "$work/perf.data" -F comm,tid,time,event,trace 2>/dev/null \
            >"$work/run.$index.$run.txt"
    done
done

python3 - "$work" "${binaries[@]}" <<'PY'
import glob, os, statistics, sys

work, binaries = sys.argv[1], sys.argv[2:]
points = ["exec", "main", "logging", "host", "discover", "builtin", "plugins", "publish", "exit", "end"]
for index, binary in enumerate(binaries):
    name = os.path.basename(binary)[:15]
    spans = {}
    runs = []
    for path in glob.glob(os.path.join(work, "run.%d.*.txt" % index)):
        first = {}
        for line in open(path):
            fields = line.split()
            if len(fields) < 4:
                continue
            time, event = float(fields[2].rstrip(":")), fields[3].rstrip(":")
            if event == "sched:sched_process_exec" and "filename=" + binary in line:
                first.setdefault("exec", time)
            if "exec" not in first:
                continue
            if event.startswith("startup_phases"):
                first.setdefault(event.split(":")[1].split("_")[0], time)
            elif event == "sched:sched_process_exit" and "comm=command " in line:
                first.setdefault("exit", time)
            elif event == "sched:sched_switch" and "prev_comm=%s " % name in line \
                    and "prev_state=Z" in line:
                first.setdefault("end", time)
        runs.append(first)
    # The points every run of this binary reached (a binary may lack a probe's function).
    order = [point for point in points if runs and all(point in first for first in runs)]
    for first in runs if {"exec", "end"} <= set(order) else []:
        for a, b in zip(order, order[1:]):
            spans.setdefault("%s..%s" % (a, b), []).append((first[b] - first[a]) * 1e3)
        spans.setdefault("total", []).append((first["end"] - first["exec"]) * 1e3)
    print(binary)
    if not spans:
        print("  no complete run was recorded (is perf allowed to trace?)")
    for span, values in spans.items():
        print("  %-18s %6.2f ms (median of %d; min %.2f)"
              % (span, statistics.median(values), len(values), min(values)))
PY
