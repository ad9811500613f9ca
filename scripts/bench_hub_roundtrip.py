"""Round trip of ftrack.action.discover through the local server's event hub, with ftrack's
real Python client on both ends (run by scripts/bench-hub.sh).

    python bench_hub_roundtrip.py responder      # answers discover, until killed
    python bench_hub_roundtrip.py publisher N    # publishes N discovers, prints p50/p99
"""

import os
import sys
import threading
import time

import ftrack_api
import ftrack_api.event.base


def session():
    s = ftrack_api.Session(
        server_url=os.environ["FTRACK_SERVER"],
        api_user=os.environ["FTRACK_API_USER"],
        api_key=os.environ["FTRACK_API_KEY"],
        auto_connect_event_hub=True,
        schema_cache_path=False,
        plugin_paths=[],
    )
    deadline = time.time() + 30
    while not s.event_hub.connected and time.time() < deadline:
        time.sleep(0.05)
    return s


def responder():
    s = session()
    s.event_hub.subscribe(
        "topic=ftrack.action.discover",
        lambda event: {"items": [{"label": "Bench", "actionIdentifier": "bench"}]},
    )
    print("ready", flush=True)
    s.event_hub.wait()


def publisher(count):
    s = session()
    times, done = [], threading.Event()
    started = {}

    def on_reply(event):
        times.append(time.perf_counter() - started[event["in_reply_to_event"]])
        if len(times) == count:
            done.set()

    pump = threading.Thread(target=s.event_hub.wait, daemon=True)
    pump.start()
    time.sleep(1.0)  # the responder's subscription is live
    for _ in range(count):
        event = ftrack_api.event.base.Event("ftrack.action.discover", data={"selection": []})
        started[event["id"]] = time.perf_counter()
        s.event_hub.publish(event, on_reply=on_reply)
        # One at a time: a round trip each, as a user clicking would make them.
        deadline = time.time() + 10
        while len(times) < len(started) and time.time() < deadline:
            time.sleep(0.0005)
    times.sort()
    pick = lambda q: times[min(len(times) - 1, int(q * len(times)))] * 1e3
    print("discover round trip through the hub, Python to Python: n=%d p50 %.2f ms p99 %.2f ms"
          % (len(times), pick(0.5), pick(0.99)))


if __name__ == "__main__":
    if sys.argv[1] == "responder":
        responder()
    else:
        publisher(int(sys.argv[2]))
