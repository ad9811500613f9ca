#!/usr/bin/env python3
"""Publishing a frame sequence to a disk location against `cp -r` of the same files.

Run by scripts/bench-publish.sh (which builds the binary and makes the reference
virtualenv); run this file with that virtualenv's python:

    bench_publish.py BIN [--frames 2000] [--frame-size BYTES] [--rounds 3] [--work DIR]

Makes FRAMES files `render.0001.exr`... of FRAME-SIZE random bytes each (default 1 MB, or
512 KiB, about 1 GB in all, when the file system has less than 10 GB free), starts a local
`ftrack-connect server`, makes the project `bench/sq/sh010/comp` with the reference
`ftrack_api` (tests/python/publish_readback.py setup), and declares a disk location
`studio.disk` with a Rhai plugin whose prefix is on the same file system as the frames.

Then, for `cold` (`sync` and `echo 3 > /proc/sys/vm/drop_caches` before each timed command,
as root) and `warm` (the frames read once beforehand; `sync` before each timed command), it
runs ROUNDS rounds, alternating which goes first:

- `cp -r FRAMES DEST`
- `ftrack-connect publish --context-path bench/sq/sh010/comp --asset plate --location
  studio.disk --json FRAMES...` (a new version each time, copied to PREFIX/.../plate/v00N)

Wall time is measured around the child process (perf_counter), peak RSS from its `wait4`
resource usage. Each round's outputs are deleted after it is timed. The publish's time is
the whole process: start, plugins, sign-in, the server round trips, the copy, the journal.

Also measured: a publish of one 10-byte file (the fixed cost) and, for memory, a publish of
one file the size of the whole sequence (peak RSS should not grow with the bytes copied).
Prints one line per scenario; every file and the server it made are removed at the end.
"""
import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
READBACK = os.path.join(HERE, "..", "tests", "python", "publish_readback.py")
PROJECT = "bench"
CONTEXT = PROJECT + "/sq/sh010/comp"
ASSET = "plate"


def free_bytes(path):
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def run_rusage(argv, env=None, capture=False):
    """Runs argv; (seconds, peak RSS in bytes, stdout). Wall time and rusage from wait4."""
    out_r = None
    if capture:
        out_r, out_w = os.pipe()
    err_file = tempfile.TemporaryFile()
    start = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        try:
            os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
            if capture:
                os.dup2(out_w, 1)
                os.close(out_r)
            else:
                os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
            os.dup2(err_file.fileno(), 2)
            os.execvpe(argv[0], argv, env if env is not None else os.environ)
        finally:
            os._exit(127)
    text = b""
    if capture:
        os.close(out_w)
        with os.fdopen(out_r, "rb") as reader:
            text = reader.read()
    _, status, usage = os.wait4(pid, 0)
    elapsed = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        err_file.seek(0)
        sys.exit("%s failed (%s): %s" % (
            " ".join(argv[:3]), code, err_file.read().decode(errors="replace")[-3000:]))
    err_file.close()
    return elapsed, usage.ru_maxrss * 1024, text.decode()


def drop_caches():
    os.sync()
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("3\n")


def read_all(folder):
    for name in os.listdir(folder):
        with open(os.path.join(folder, name), "rb") as f:
            while f.read(1 << 20):
                pass


class Bench:
    def __init__(self, args):
        self.bin = os.path.abspath(args.bin)
        self.python = args.python
        self.work = args.work
        self.frames_dir = os.path.join(self.work, "frames")
        self.prefix = os.path.join(self.work, "studio-disk")
        self.home = os.path.join(self.work, "home")
        self.plugins = os.path.join(self.work, "plugins")
        self.data = os.path.join(self.work, "server")
        self.server = None
        self.log = None
        self.env = None
        self.frame_paths = []

    # -- setup ------------------------------------------------------------------------------

    def base_env(self):
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("FTRACK_") and k != "RUST_LOG"}
        env.update(HOME=self.home, XDG_DATA_HOME=os.path.join(self.home, ".local", "share"),
                   FTRACK_CONNECT_PLUGIN_PATH=self.plugins)
        return env

    def make_frames(self, count, size):
        os.makedirs(self.frames_dir)
        block = os.urandom(size + 4096)
        for frame in range(1, count + 1):
            path = os.path.join(self.frames_dir, "render.%04d.exr" % frame)
            # Random bytes, a different slice per frame: no two files alike, nothing sparse.
            offset = (frame * 64) % 4096
            with open(path, "wb") as f:
                f.write(block[offset:offset + size])
            self.frame_paths.append(path)

    def start_server(self):
        os.makedirs(self.home)
        os.makedirs(os.path.join(self.home, ".cache"))  # ftrack_api's schema cache
        env = self.base_env()
        added = subprocess.run([self.bin, "server", "user", "add", "alice", "--data", self.data],
                               env=env, check=True, capture_output=True, text=True)
        key = added.stdout.split()[-1]
        self.log = open(os.path.join(self.work, "server.log"), "wb")
        self.server = subprocess.Popen(
            [self.bin, "server", "--listen", "127.0.0.1:0", "--data", self.data],
            env=env, stdout=subprocess.PIPE, stderr=self.log, stdin=subprocess.DEVNULL)
        first = self.server.stdout.readline().decode()
        if not first.startswith("listening on "):
            sys.exit("the server did not start: %r" % first)
        url = first[len("listening on "):].strip()
        env.update(FTRACK_SERVER=url, FTRACK_API_USER="alice", FTRACK_API_KEY=key)
        self.env = env
        subprocess.run([self.python, READBACK, "setup", PROJECT], env=env, check=True,
                       stdout=subprocess.DEVNULL)
        hook = os.path.join(self.plugins, "studio-location", "hook")
        os.makedirs(hook)
        os.makedirs(self.prefix)
        with open(os.path.join(hook, "location.rhai"), "w") as f:
            f.write('fn register(session) {\n'
                    '    session.event_hub.subscribe('
                    '"topic=ftrack.api.session.configure-location",\n'
                    '        |event| #{ location: #{ name: "studio.disk", prefix: %s, '
                    'priority: 10 } });\n}\n' % json.dumps(self.prefix))

    def stop(self):
        if self.server is not None and self.server.poll() is None:
            self.server.terminate()
            try:
                self.server.wait(10)
            except subprocess.TimeoutExpired:
                self.server.kill()
                self.server.wait()
        if self.log is not None:
            self.log.close()

    # -- the two commands -------------------------------------------------------------------

    def cp(self, round_):
        dest = os.path.join(self.work, "cp-%d" % round_)
        seconds, rss, _ = run_rusage(["cp", "-r", self.frames_dir, dest])
        copied = len(os.listdir(dest))
        if copied != len(self.frame_paths):
            sys.exit("cp copied %d files of %d" % (copied, len(self.frame_paths)))
        shutil.rmtree(dest)
        return seconds, rss

    def publish(self, paths, asset=ASSET):
        argv = [self.bin, "publish", "--context-path", CONTEXT, "--asset", asset,
                "--location", "studio.disk", "--json"] + paths
        seconds, rss, out = run_rusage(argv, env=self.env, capture=True)
        result = json.loads(out)
        if result["location"] != "studio.disk":
            sys.exit("published to %s, not studio.disk" % result["location"])
        folder = os.path.join(self.prefix, PROJECT, "sq", "sh010", asset.lower(),
                              "v%03d" % result["version"])
        copied = sorted(os.listdir(folder))
        if len(copied) != len(paths) or any(name.endswith(".part") for name in copied):
            sys.exit("the publish left %d files in %s, expected %d" % (
                len(copied), folder, len(paths)))
        shutil.rmtree(folder)
        return seconds, rss

    # -- scenarios ----------------------------------------------------------------------------

    def scenario(self, name, rounds, cold):
        total = sum(os.path.getsize(p) for p in self.frame_paths)
        cp_times, pub_times, pub_rss = [], [], []
        for round_ in range(rounds):
            order = ("cp", "publish") if round_ % 2 == 0 else ("publish", "cp")
            for which in order:
                if cold:
                    drop_caches()
                else:
                    os.sync()
                    read_all(self.frames_dir)
                if which == "cp":
                    seconds, _ = self.cp(round_)
                    cp_times.append(seconds)
                else:
                    seconds, rss = self.publish(self.frame_paths)
                    pub_times.append(seconds)
                    pub_rss.append(rss)
                print("  %s round %d %-7s %6.2f s" % (name, round_ + 1, which, seconds),
                      file=sys.stderr, flush=True)
        cp_rate = total / statistics.median(cp_times) / 1e6
        pub_rate = total / statistics.median(pub_times) / 1e6
        print("%s: cp %.0f MB/s, publish %.0f MB/s (%.0f%%), publish peak RSS %.1f MB  "
              "[median of %d; cp %s s; publish %s s]" % (
                  name, cp_rate, pub_rate, 100 * pub_rate / cp_rate, max(pub_rss) / 1e6,
                  rounds, " ".join("%.2f" % t for t in cp_times),
                  " ".join("%.2f" % t for t in pub_times)), flush=True)

    def fixed_cost(self, runs=5):
        tiny = os.path.join(self.work, "tiny", "note.txt")
        os.makedirs(os.path.dirname(tiny))
        with open(tiny, "wb") as f:
            f.write(b"0123456789")
        times, rss = [], []
        for _ in range(runs):
            seconds, peak = self.publish([tiny], asset="tiny")
            times.append(seconds)
            rss.append(peak)
        shutil.rmtree(os.path.dirname(tiny))
        print("fixed cost: publish of one 10-byte file %.0f ms (median of %d), peak RSS %.1f MB"
              % (1000 * statistics.median(times), runs, max(rss) / 1e6), flush=True)

    def one_big_file(self, size):
        """The sequence's frames replaced by one file of their total size: memory flat?"""
        shutil.rmtree(self.frames_dir)
        big = os.path.join(self.work, "big", "plate.mov")
        os.makedirs(os.path.dirname(big))
        chunk = os.urandom(1 << 20)
        with open(big, "wb") as f:
            left = size
            while left > 0:
                f.write(chunk[:min(left, len(chunk))])
                left -= len(chunk)
        os.sync()
        seconds, rss = self.publish([big], asset="big")
        shutil.rmtree(os.path.dirname(big))
        print("one file of %.0f MB: publish %.0f MB/s warm, peak RSS %.1f MB" % (
            size / 1e6, size / seconds / 1e6, rss / 1e6), flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("bin")
    parser.add_argument("--python", default=sys.executable,
                        help="the reference virtualenv's python (ftrack_api), for the setup")
    parser.add_argument("--frames", type=int, default=2000)
    parser.add_argument("--frame-size", type=int, default=0,
                        help="bytes per frame (default: 1 MB, or 512 KiB under 10 GB free)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--work", default=None, help="a folder to work in (default: a new "
                        "temporary folder); the copies go there, on its file system")
    parser.add_argument("--no-cold", action="store_true")
    args = parser.parse_args()

    parent = args.work or tempfile.gettempdir()
    free = free_bytes(parent)
    if not args.frame_size:
        args.frame_size = 1 << 20 if free >= 10e9 else 1 << 19
        if args.frame_size < 1 << 20:
            print("note: %.1f GB free under %s (under 10 GB): frames of 512 KiB, about 1 GB "
                  "in all, instead of 1 MiB (2 GB)" % (free / 1e9, parent), flush=True)
    total = args.frames * args.frame_size
    # The frames, one copy of them, and one big file of their size at the end.
    if free < 2.2 * total:
        sys.exit("%.1f GB free under %s: not enough for %.1f GB of frames and a copy" % (
            free / 1e9, parent, total / 1e9))
    args.work = tempfile.mkdtemp(prefix="bench-publish-", dir=parent)

    cold = not args.no_cold
    if cold and os.geteuid() != 0:
        print("note: not root, cannot drop the page cache: cold runs not possible", flush=True)
        cold = False

    bench = Bench(args)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        print("%d frames of %d bytes (%.2f GB), %d rounds, in %s" % (
            args.frames, args.frame_size, total / 1e9, args.rounds, args.work), flush=True)
        bench.make_frames(args.frames, args.frame_size)
        bench.start_server()
        bench.fixed_cost()
        if cold:
            try:
                drop_caches()
            except OSError as e:
                print("note: cannot drop the page cache (%s): cold runs not possible" % e)
                cold = False
        if cold:
            bench.scenario("cold", args.rounds, cold=True)
        bench.scenario("warm", args.rounds, cold=False)
        bench.one_big_file(total)
    finally:
        bench.stop()
        shutil.rmtree(args.work, ignore_errors=True)


if __name__ == "__main__":
    main()
