#!/usr/bin/env python3
"""Python clique 1.6.1's side of scripts/bench-sequences.sh: sequence detection on 100,000 paths.

Run with an interpreter that has clique 1.6.1 (scripts/python-ref.sh's).

  bench_sequences.py generate OUT [COUNT]              # COUNT (100000) paths, one a line
  bench_sequences.py time PATHS ROUNDS [DIGITS_PATHS]  # times clique.assemble, in process

`time` runs two workloads ROUNDS times each and prints one line each:

  WORKLOAD MEDIAN_MS ms (rounds MS...) checksum COLLECTIONS/INDEXES/REMAINDER/CRC32

- `frames-dropzone`: `clique.assemble(paths, patterns=[clique.PATTERNS['frames']],
  assume_padded_when_ambiguous=True)`, the call Connect 25.11's drop zone makes, on every path;
- `digits-default`: `clique.assemble(paths)` (every number in every path) on the first
  DIGITS_PATHS paths (all of them if not given). clique is quadratic here (it compares every
  padded collection with every unpadded one, and each number of each path is a collection):
  on these paths 1,000 take about 2 s, 10,000 about 220 s, so 100,000 would take hours.

Only the call is timed (no interpreter start-up, no reading of the file, no checksum; the
result is freed outside the timing). The checksum is the number of collections, the total of
their indexes, the remainder's length and the CRC-32 of every collection as `str()` writes it
followed by the remainder, one a line (UTF-8); connect-sequence's `examples/time_assemble.rs`
prints the same.
"""
import random
import statistics
import sys
import time
import zlib

import clique

SEED = 20261205
COUNT = 100_000

SHOWS = ["ALPHA", "brk", "Northwind", "proj_2026", "LDN-0457"]
ROOTS = ["/mnt/projects", "/Volumes/jobs", "//fileserver/vfx", "D:/Projects", "/home/artist/work"]
LAYERS = ["beauty", "diffuse", "specular", "crypto_object", "depth", "AO", "fg_char", "bg",
          "matte", "slapcomp", "denoise", "motionvector"]
IMAGE_EXTENSIONS = ["exr", "exr", "exr", "dpx", "png", "jpg", "tif", "tar.gz", "bgeo.sc", "vdb"]
WORK_EXTENSIONS = ["nk", "hip", "ma", "mb", "blend", "psd", "aep", "usd"]
TASKS = ["comp", "lighting", "fx", "anim", "layout", "roto", "paint", "lookdev"]
SINGLES = ["notes.txt", "reference.mov", "README", "plate_ref.jpg", "edit.edl", "grade.cdl",
           "lut.cube", "brief.pdf", "thumbnail.png", "turntable.mp4", "Thumbs.db", ".DS_Store",
           "shot_info.json", "camera.abc", "client notes (final).docx"]
ODD = ["render.0001", "0001.exr", "1234", "v2", "file.v001.0010.exr", "Ünïcode_çafé.0007.exr",
       "frame.١٢٣.exr", "name with spaces.0042.exr", "x" * 120 + ".0001.exr",
       "id_123456789012345678901234567890123456789012345.txt", "image.-0001.exr",
       "UPPER.0001.EXR", "upper.0002.exr", "a.1.b.2.c.3", "trailing.0001.exr.bak"]


def folder(rng):
    show = rng.choice(SHOWS)
    seq = "sq%03d" % (rng.randrange(1, 40) * 10)
    shot = "%s_%04d" % (seq, rng.randrange(1, 200) * 10)
    return "%s/%s/sequences/%s/%s" % (rng.choice(ROOTS), show, seq, shot), shot


def render_sequence(rng):
    """A render or plate: 1 to 400 frames, padded or not, some frames missing."""
    base, shot = folder(rng)
    layer = rng.choice(LAYERS)
    version = rng.randrange(1, 40)
    padding = rng.choice([4, 4, 4, 4, 3, 5, 6, 8, 0])
    length = rng.choice([1, 2, 3, 10, 24, 48, 100, 120, 240, 400])
    first = rng.choice([1, 1001, 0, 101, 86400, 9995])
    extension = rng.choice(IMAGE_EXTENSIONS)
    separator = rng.choice([".", ".", ".", "_"])
    name = "%s/render/%s/v%03d/%s_%s_v%03d" % (base, layer, version, shot, layer, version)
    frames = range(first, first + length)
    if length > 3 and rng.random() < 0.3:  # holes: dropped frames, a failed chunk
        frames = [f for f in frames if rng.random() > 0.05]
        gap = rng.randrange(first, first + length)
        frames = [f for f in frames if not gap <= f < gap + 5]
    written = "%%0%dd" % padding if padding else "%d"
    return [name + separator + (written % f) + "." + extension for f in frames]


def versions(rng):
    """A work file saved again and again: shot010_comp_v003.nk, some with a comment."""
    base, shot = folder(rng)
    task = rng.choice(TASKS)
    extension = rng.choice(WORK_EXTENSIONS)
    count = rng.choice([1, 2, 5, 12, 30, 80])
    user = rng.choice(["", "_jdoe", "_mk"])
    items = []
    for version in range(1, count + 1):
        if rng.random() < 0.15:
            continue
        items.append("%s/work/%s/%s_%s_v%03d%s.%s" % (base, task, shot, task, version, user,
                                                     extension))
        if rng.random() < 0.05:  # an autosave beside it
            items.append("%s/work/%s/%s_%s_v%03d%s.%s.autosave" % (
                base, task, shot, task, version, user, extension))
    return items


def singles(rng):
    base, shot = folder(rng)
    return ["%s/%s" % (base, rng.choice(SINGLES))
            for _ in range(rng.randrange(1, 6))]


def odd(rng):
    base, _ = folder(rng)
    return ["%s/misc/%s" % (base, rng.choice(ODD))]


def generate(count):
    """`count` paths: about two thirds render frames, the rest versions, single files, odd
    names; groups in random order, a fifth of them listed in random order."""
    rng = random.Random(SEED)
    makers = [render_sequence] * 5 + [versions] * 3 + [singles] * 3 + [odd]
    paths = []
    seen = set()
    while len(paths) < count:
        group = [p for p in rng.choice(makers)(rng) if p not in seen]
        seen.update(group)
        if rng.random() < 0.2:
            rng.shuffle(group)
        paths.extend(group)
    return paths[:count]


def checksum(collections, remainder):
    text = "\n".join([str(c) for c in collections] + list(remainder))
    indexes = sum(len(c.indexes) for c in collections)
    return "%d/%d/%d/%08x" % (len(collections), indexes, len(remainder),
                              zlib.crc32(text.encode("utf-8")))


def time_workloads(paths, rounds, digits_paths):
    for name, kwargs, items in [
        ("frames-dropzone",
         dict(patterns=[clique.PATTERNS["frames"]], assume_padded_when_ambiguous=True), paths),
        ("digits-default", dict(), paths[:digits_paths]),
    ]:
        times = []
        sums = None
        for _ in range(rounds):  # no warm-up: compiling the pattern is microseconds
            start = time.perf_counter()
            result = clique.assemble(items, **kwargs)
            times.append((time.perf_counter() - start) * 1000.0)
            if sums is None:
                sums = checksum(*result)
            elif checksum(*result) != sums:
                raise SystemExit("%s: clique answered differently between rounds" % name)
            del result
        print("%s %.3f ms (rounds %s) checksum %s" % (
            name, statistics.median(times), " ".join("%.1f" % t for t in times), sums),
            flush=True)


def main(argv):
    if len(argv) >= 2 and argv[0] == "generate":
        count = int(argv[2]) if len(argv) > 2 else COUNT
        with open(argv[1], "w", encoding="utf-8", newline="\n") as out:
            for path in generate(count):
                out.write(path + "\n")
    elif len(argv) in (3, 4) and argv[0] == "time":
        with open(argv[1], encoding="utf-8", newline="") as f:
            paths = f.read().split("\n")
        if paths and paths[-1] == "":
            paths.pop()
        digits_paths = int(argv[3]) if len(argv) > 3 else len(paths)
        time_workloads(paths, int(argv[2]), digits_paths)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
