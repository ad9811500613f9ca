"""The hub's doors and its operator's view: the handshake by query parameters, and what
GET /status shows. Steps of hub_acceptance.py (run through it: `hub_acceptance.py handshake`,
`hub_acceptance.py status`), kept here so that script stays readable."""

import json
import time

import requests

from hub_kit import (HUB_ROOT, KEY, SERVER, USER, Pump, Raw, ack_args, barrier,
                     capture_client_log, check, check_client_log_clean, event_packet,
                     is_event, publish, raw_event, session, short, subscribe_packet,
                     subscriber, wait_until)


def handshake():
    capture_client_log()
    root = HUB_ROOT + "/socket.io/1/"
    wrong = requests.get(root, params={"api_user": USER, "api_key": "0" * 64}, timeout=10)
    check(wrong.status_code == 401, "a handshake with a wrong api_key is refused",
          "%s %r" % (wrong.status_code, wrong.text[:200]))
    nobody = requests.get(root, params={"api_user": "nobody", "api_key": KEY}, timeout=10)
    check(nobody.status_code == 401, "a handshake naming another user is refused",
          nobody.status_code)
    bare = requests.get(root, timeout=10)
    check(bare.status_code == 401, "a handshake without credentials is refused",
          bare.status_code)
    headers = requests.get(root, headers={"ftrack-user": USER, "ftrack-api-key": "0" * 64},
                           timeout=10)
    check(headers.status_code == 401, "a wrong key in the headers is refused too",
          headers.status_code)

    a = session("A")
    pump = Pump(a, "A")
    raw = Raw("by query", by_query=True)
    raw.start_reading()
    raw.expect(lambda p: p == "1::", 10, "the server's 1::")
    raw.send(subscribe_packet(1, subscriber(), "topic=acceptance.query"))
    ack = raw.expect(lambda p: p.startswith("6:::1+"), 10, "the ack of its subscribe")
    check(ack_args(ack) == [{"success": True}], "the query-authenticated connection subscribed",
          ack)
    sent = publish(a, "acceptance.query", {"n": 1})
    packet = raw.expect(lambda p: is_event(p, sent["id"]), 10, "A's event on that connection")
    event = json.loads(packet.split(":", 3)[3])["args"][0]
    check(dict(event["data"]) == {"n": 1}, "it receives what is published", short(event))
    raw.send(event_packet(raw_event("acceptance.from-raw", {"n": 2}), ack=2))
    ack = raw.expect(lambda p: p.startswith("6:::2+"), 10, "the ack of its publish")
    check(ack_args(ack) == [{"success": True}], "and its publishes are acknowledged", ack)
    raw.close()
    pump.stop()
    check_client_log_clean("during the handshakes")


def hub_status():
    answer = requests.get(SERVER + "/status", params={"api_user": USER, "api_key": KEY},
                          timeout=10)
    if answer.status_code != 200:
        raise AssertionError("GET /status answered %s: %r" % (answer.status_code, answer.text[:300]))
    return answer.json()["hub"]


def status():
    capture_client_log()
    a, b = session("A"), session("B")
    pumps = [Pump(a, "A"), Pump(b, "B")]
    got = []
    b.event_hub.subscribe("topic=acceptance.status", lambda e: got.append(e["data"]["n"]),
                          subscriber=subscriber())
    barrier(a, b, "B")
    wait_until(lambda: not b.event_hub._packet_callbacks and not a.event_hub._packet_callbacks,
               10, "the server to acknowledge the sessions' packets")

    # Subscribers: a raw connection with three of its own.
    before = hub_status()
    raw = Raw("subscribed")
    raw.start_reading()
    raw.expect(lambda p: p == "1::", 10, "the server's 1::")
    for n, topic in enumerate(("one", "two", "three"), 1):
        raw.send(subscribe_packet(n, subscriber(), "topic=acceptance.status." + topic))
        raw.expect(lambda p, n=n: p.startswith("6:::%d+" % n), 10, "the ack of subscribe %d" % n)
    after = hub_status()
    newest = max(after["queues"], key=lambda q: q["connection"])
    check(after["connections"] == before["connections"] + 1, "one more connection",
          (before["connections"], after["connections"]))
    check(newest["subscribers"] == 3, "the new connection shows its 3 subscribers", newest)
    check(after["subscribers"] == before["subscribers"] + 3,
          "the hub's subscriber count grew by 3",
          (before["subscribers"], after["subscribers"]))
    raw.close()

    # Events routed: 20 published, 20 counted.
    before = hub_status()
    for n in range(20):
        publish(a, "acceptance.status", {"n": n})
    wait_until(lambda: len(got) >= 20, 15, "B to receive the 20 events", lambda: got)
    after = hub_status()
    check(after["events_routed"] - before["events_routed"] == 20,
          "events_routed counted the 20 events",
          (before["events_routed"], after["events_routed"]))
    rate = after["events_per_second_since_start"]
    check(0 < rate <= after["events_routed"]
          and abs(rate - after["events_routed"] / max(after["uptime_seconds"], 1)) <= rate * 0.5 + 1,
          "events_per_second_since_start is the count over the uptime",
          (rate, after["events_routed"], after["uptime_seconds"]))

    # A queue: a connection that subscribes, then stops reading, while big events arrive
    # (sent by a raw connection: the client's own websocket masks each byte in Python).
    slow = Raw("not reading")
    slow.expect(lambda p: p == "1::", 10, "the server's 1::")
    slow.send(subscribe_packet(1, subscriber(), "topic=acceptance.status.big"))
    slow.expect(lambda p: p.startswith("6:::1+"), 10, "the ack of its subscribe")
    slow_id = max(q["connection"] for q in hub_status()["queues"])
    sender = Raw("big events")
    sender.start_reading()
    sender.expect(lambda p: p == "1::", 10, "the server's 1::")
    pad = "z" * (256 << 10)
    sent, queued, deadline = 0, 0, time.time() + 60
    while queued == 0 and time.time() < deadline:
        for _ in range(8):
            sender.send(event_packet(raw_event("acceptance.status.big", {"pad": pad})))
            sent += 1
        time.sleep(0.2)
        queues = hub_status()["queues"]
        found = [q for q in queues if q["connection"] == slow_id]
        if not found:
            raise AssertionError("the non-reading connection %d was dropped before its queue "
                                 "was seen: %s" % (slow_id, short(queues)))
        queued = found[0]["queued"]
    check(queued > 0,
          "the non-reading connection's queue shows what waits for it: %d packets after %d "
          "events of 256 KiB" % (queued, sent),
          "nothing queued after %d events" % sent)
    check(all(q["queued"] <= 4096 for q in hub_status()["queues"]),
          "no queue is over its bound")
    slow.close()
    sender.close()
    for pump in pumps:
        pump.stop()
    check_client_log_clean("while the status was read")
