#!/usr/bin/env bash
# Writes host/connect/startup-order.txt: the functions of `ftrack-connect` that run while it
# starts, in the order they first run, for the linker to place together at the start of the
# program's code (`host/connect/build.rs` hands the file to the linker when it accepts one).
#
#   sudo scripts/startup-order.sh [RUNS]
#
# Why: a 200-folder start runs about 1,450 functions scattered over 19 MB of code, and each
# page of code the first time it runs is a page fault, mapping its neighbours too; the kernel
# then unmaps all of them when the process ends. Placed together, the same functions take
# about 20 code faults instead of 118, and 10.6 MB of peak memory instead of 17.3
# (docs/benchmarks.md, "Start-up: fewer system calls a folder, ... the code laid out").
#
# How: the `startup` workload of bench-vs-python.sh (200 Rhai plugin folders) and a few short
# commands run RUNS times (default 30) each under `perf record --call-graph dwarf` on the
# shipped build (`release-lto`, as the README and bench-vs-python.sh build it); every function
# of the program seen in a sampled call stack is listed, by when it was first seen. Sampling
# misses short functions that run once: when `valgrind` is installed, each command also runs
# once under callgrind, which sees every function that runs, and those the samples missed
# follow, in their present order in the program.
#
# The names are mangled with their crate's hash, which changes with the crate's version,
# features, dependencies or build profile: regenerate after upgrading or adding dependencies.
# About 100 of them (copies of one generic function made in several crates, told apart after
# the whole-program optimisation) also carry a number (`...E.41884`) that moves with any
# change to the code: regenerate before measuring a start-up, or those functions are scattered
# again (about 30 more page faults of code a start). A name the linker no longer finds is
# skipped without a word.
# Needs `perf` (root) and python3; `valgrind` if installed.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-30}
target=${CARGO_TARGET_DIR:-target}
cargo build --quiet --profile release-lto --locked -p ftrack-connect --bin ftrack-connect
binary=$(realpath "$target/release-lto/ftrack-connect")

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/home" "$work/plugins"
scripts/make-rhai-plugins.sh "$work/plugins" 200
cat >"$work/run.sh" <<SH
#!/usr/bin/env bash
for i in \$(seq $runs); do
    "$binary" event publish ftrack.action.discover --standalone --data '{"selection": []}'
    "$binary" plugins
    "$binary" --version
    "$binary" --help
done >/dev/null 2>&1
SH
chmod +x "$work/run.sh"
env -u FTRACK_EVENT_PLUGIN_PATH -u XDG_DATA_HOME -u XDG_CONFIG_HOME \
    HOME="$work/home" FTRACK_CONNECT_PLUGIN_PATH="$work/plugins" FTRACK_API_USER=alice \
    perf record -q -F 25000 --call-graph dwarf,65528 -o "$work/perf.data" -- "$work/run.sh"
perf script -i "$work/perf.data" --no-demangle -F ip,sym,dso 2>/dev/null |
    python3 -c '
import sys
binary = "(%s)" % sys.argv[1]
seen, order, stack = set(), [], []

def take(stack):
    # A sample lists its stack from the running function out: callers ran first.
    for name in reversed(stack):
        if name not in seen:
            seen.add(name)
            order.append(name)

for line in sys.stdin:
    fields = line.split()
    if not fields:
        take(stack)
        stack = []
    elif len(fields) >= 3 and fields[-1] == binary and not fields[1].startswith("["):
        stack.append(fields[1])
take(stack)
sys.stdout.write("".join(name + "\n" for name in order))
' "$binary" >host/connect/startup-order.txt
if command -v valgrind >/dev/null; then
    for command in "event publish ftrack.action.discover --standalone --data {}" plugins \
        --version --help; do
        # shellcheck disable=SC2086 # the command's words
        env -u FTRACK_EVENT_PLUGIN_PATH -u XDG_DATA_HOME -u XDG_CONFIG_HOME \
            HOME="$work/home" FTRACK_CONNECT_PLUGIN_PATH="$work/plugins" FTRACK_API_USER=alice \
            valgrind --tool=callgrind --demangle=no --callgrind-out-file="$work/callgrind.%p" \
            "$binary" $command >/dev/null 2>&1 || true
    done
    # The functions of the program each callgrind output names, not yet listed, in the
    # program's present order (`nm -n`).
    python3 -c '
import glob, re, subprocess, sys
binary, listed_file, work = sys.argv[1:4]
listed = set(open(listed_file).read().split())
ran, objects, names = set(), {}, {}
for path in glob.glob(work + "/callgrind.*"):
    current = None
    for line in open(path, errors="replace"):
        found = re.match(r"^(c?ob|c?fn)=\((\d+)\)(?: (.*))?$", line.rstrip("\n"))
        if not found:
            continue
        kind, number, name = found.groups()
        table = objects if kind.endswith("ob") else names
        if name:
            table[number] = name
        if kind == "ob":
            current = objects.get(number)
        elif kind == "fn" and current == binary:
            ran.add(names.get(number))
    objects, names = {}, {}
nm = subprocess.run(["nm", "-n", binary], capture_output=True, text=True).stdout
for line in nm.splitlines():
    name = line.split()[-1]
    if name in ran and name not in listed:
        listed.add(name)
        print(name)
' "$binary" host/connect/startup-order.txt "$work" >>host/connect/startup-order.txt
fi
echo "host/connect/startup-order.txt: $(wc -l <host/connect/startup-order.txt) functions" >&2
