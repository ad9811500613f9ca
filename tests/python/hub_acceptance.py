"""The local server's event hub, driven by the real, unmodified ftrack_api client.

Run by the Rust tests with the reference virtualenv's python (scripts/python-ref.sh),
against a running `ftrack-connect server`:

    FTRACK_SERVER=... FTRACK_API_USER=... FTRACK_API_KEY=... \
        [FTRACK_OTHER_USER=... FTRACK_OTHER_KEY=...] python hub_acceptance.py STEP [ARGS]

Steps (the protocol is ftrack-server-protocol.md, section 3):
    exchange        an event and its reply between two sessions; a targeted event
                    (target='applicationId=b2') reaches only the subscriber it names, and the
                    server filters it (the other connection never receives it)
    order           200 events published in a row arrive once each and in order
    routing         subscriptions on data.kind and on source.user.username: what matches
                    arrives, once per connection (the publisher's own included), and nothing
                    else (needs FTRACK_OTHER_*)
    handshake       the handshake by api_user/api_key query parameters (as the JavaScript
                    client sends them) opens a working connection; a wrong key is refused
    status          GET /status counts subscribers and routed events, and shows the queue
                    of a connection that stopped reading
    idle [SECONDS]  a subscribed session idles (default 70 s, longer than the client's 60 s
                    socket timeout), then still receives and answers, without reconnecting
    duplicates      the client's duplicate ftrack.meta.subscribe at connect are accepted:
                    the client logs no "Server failed to subscribe" and events come once
    robustness      raw Socket.IO connections: malformed packets (the connection stays), a
                    connection that stops reading (dropped; a normal session pair never
                    stalls meanwhile), a 20 MiB message (the others keep working)

Each step prints what it checked (`ok: ...`) and exits 0, or fails with a traceback that
says what was expected and what was seen. Every wait is bounded: a broken server fails a
step, it never hangs it (a watchdog ends a step that overruns anyway, with every thread's
stack).

Events are handled as EventHub.wait() handles them (the hub's queue, then hub._handle), in
one thread per session, which also records what the server delivered to that connection:
that is how the steps see the server's own filtering, which the client would otherwise
hide behind its local filtering. The client itself is not changed.
"""

import faulthandler
import json
import logging
import os
import queue
import socket
import sys
import threading
import time
import traceback
import urllib.parse
import uuid

import requests
import websocket

import ftrack_api
import ftrack_api.event.base


from hub_kit import *  # noqa: F401,F403 (the steps' shared helpers)
import hub_kit
from hub_access import handshake, status

def exchange():
    capture_client_log()
    a, b, b2 = session("A"), session("B"), session("B2")
    pumps = [Pump(a, "A"), Pump(b, "B"), Pump(b2, "B2")]
    pump_a, pump_b, pump_b2 = pumps

    b_calls, b2_calls = [], []

    def on_b(event):
        b_calls.append(event["data"])
        return {"answer": "b", "echo": event["data"].get("question")}

    def on_b2(event):
        b2_calls.append(event["data"])
        return {"answer": "b2", "echo": event["data"].get("question")}

    b.event_hub.subscribe("topic=acceptance.ping", on_b, subscriber=subscriber(applicationId="b"))
    barrier(a, b, "B")

    replies = Replies()
    ping = publish(a, "acceptance.ping", {"question": "first"}, on_reply=replies)
    wait_until(lambda: replies.to(ping["id"]), 15, "B's reply to A's event",
               lambda: "B handled %s; A's replies %s" % (b_calls, short(replies.items)))
    time.sleep(1)
    got = replies.to(ping["id"])
    check(len(got) == 1, "exactly one reply to A's event", short(got))
    check(dict(got[0]["data"]) == {"answer": "b", "echo": "first"},
          "the reply carries B's answer", short(got[0]["data"]))
    check(got[0]["source"].get("applicationId") == "b",
          "the reply's source is B's subscriber", short(got[0]["source"]))
    check(len(b_calls) == 1, "B's handler ran once", b_calls)

    # Targets: B2 subscribes to the same topic, with applicationId=b2.
    b2.event_hub.subscribe("topic=acceptance.ping", on_b2,
                           subscriber=subscriber(applicationId="b2"))
    barrier(a, b2, "B2")

    both = publish(a, "acceptance.ping", {"question": "both"}, on_reply=replies)
    wait_until(lambda: len(replies.to(both["id"])) >= 2, 15,
               "replies from B and B2 to an event without target",
               lambda: short(replies.to(both["id"])))
    answers = sorted(e["data"]["answer"] for e in replies.to(both["id"]))
    check(answers == ["b", "b2"], "an event without target reaches both, one reply each", answers)

    targeted = publish(a, "acceptance.ping", {"question": "targeted"}, target="applicationId=b2",
                       on_reply=replies)
    nobody = publish(a, "acceptance.ping", {"question": "nobody"}, target="applicationId=b3",
                     on_reply=replies)
    wait_until(lambda: replies.to(targeted["id"]), 15, "B2's reply to the targeted event",
               lambda: "B2 handled %s, B handled %s" % (b2_calls, b_calls))
    time.sleep(1.5)
    got = replies.to(targeted["id"])
    check(len(got) == 1 and got[0]["data"]["answer"] == "b2",
          "the event targeted at applicationId=b2 is answered by B2 only", short(got))
    check(got[0]["source"].get("applicationId") == "b2",
          "its reply's source is B2's subscriber", short(got[0]["source"]))
    check([d["question"] for d in b2_calls].count("targeted") == 1,
          "B2's handler ran once for it", b2_calls)
    check([d["question"] for d in b_calls].count("targeted") == 0,
          "B's handler did not run for it", b_calls)
    seen_by_b = pump_b.received("acceptance.ping", lambda e: e["id"] == targeted["id"])
    check(not seen_by_b, "the server filtered by target: B's connection never received it",
          short(seen_by_b))
    seen_by_b2 = pump_b2.received("acceptance.ping", lambda e: e["id"] == targeted["id"])
    check(len(seen_by_b2) == 1, "B2's connection received it once", short(seen_by_b2))
    check(dict(seen_by_b2[0]["data"]) == {"question": "targeted"}
          and seen_by_b2[0]["target"] == "applicationId=b2"
          and seen_by_b2[0]["source"].get("id") == a.event_hub.id,
          "it arrived as published (data, target, source.id)", short(dict(seen_by_b2[0])))
    check(not replies.to(nobody["id"])
          and not pump_b.received("acceptance.ping", lambda e: e["id"] == nobody["id"])
          and not pump_b2.received("acceptance.ping", lambda e: e["id"] == nobody["id"]),
          "an event whose target matches no subscriber goes nowhere")

    for pump in pumps:
        pump.stop()
    check_client_log_clean("during the exchange")


def order(count=200):
    capture_client_log()
    a, b = session("A"), session("B")
    pumps = [Pump(a, "A"), Pump(b, "B")]
    received = []
    b.event_hub.subscribe("topic=acceptance.seq", lambda e: received.append(e["data"]["n"]),
                          subscriber=subscriber())
    barrier(a, b, "B")

    started = time.time()
    for n in range(count):
        publish(a, "acceptance.seq", {"n": n})
    published = time.time() - started
    wait_until(lambda: len(received) >= count, 30, "B to receive %d events" % count,
               lambda: "%d received, the last ones %s" % (len(received), received[-10:]))
    took = time.time() - started
    time.sleep(1)
    check(len(received) == count, "B received each of the %d events once" % count,
          "%d received" % len(received))
    out_of_order = [(i, n) for i, n in enumerate(received) if i != n]
    check(received == list(range(count)), "in order 0..%d" % (count - 1),
          "first misplaced (position, n): %s" % out_of_order[:10])
    note("%d events published in %.2f s, all received after %.2f s" % (count, published, took))
    # Every publish asked for an acknowledgement; the client pops its callback on the ack.
    wait_until(lambda: not a.event_hub._packet_callbacks, 10,
               "the server to acknowledge all of A's packets",
               lambda: "%d unacknowledged" % len(a.event_hub._packet_callbacks))
    check(True, "the server acknowledged every publish")
    for pump in pumps:
        pump.stop()
    check_client_log_clean("while publishing in a row")


def routing():
    if not (OTHER_USER and OTHER_KEY):
        raise AssertionError("the routing step needs FTRACK_OTHER_USER and FTRACK_OTHER_KEY")
    check(OTHER_USER != USER, "FTRACK_OTHER_USER is another user than FTRACK_API_USER")
    capture_client_log()
    a, other = session("A"), session("O (%s)" % OTHER_USER, OTHER_USER, OTHER_KEY)
    r1, r2, r3 = session("R1"), session("R2"), session("R3")
    pumps = {name: Pump(s, name) for name, s in
             [("A", a), ("O", other), ("R1", r1), ("R2", r2), ("R3", r3)]}
    calls = {"A": [], "R1": [], "R2": [], "R3 kind": [], "R3 user": []}

    def recorder(name):
        return lambda event: calls[name].append(event["data"]["label"])

    by_kind = "topic=acceptance.route and data.kind=wanted"
    by_user = "topic=acceptance.route and source.user.username=%s" % USER
    by_user_quoted = 'topic=acceptance.route and source.user.username="%s"' % USER
    r1.event_hub.subscribe(by_kind, recorder("R1"), subscriber=subscriber())
    r2.event_hub.subscribe(by_user, recorder("R2"), subscriber=subscriber())
    r3.event_hub.subscribe(by_kind, recorder("R3 kind"), subscriber=subscriber())
    r3.event_hub.subscribe(by_user_quoted, recorder("R3 user"), subscriber=subscriber())
    for name, s in [("R1", r1), ("R2", r2), ("R3", r3)]:
        barrier(a, s, name)
    # The publisher subscribes too: its own events come back to it, once.
    a.event_hub.subscribe(by_kind, recorder("A"), subscriber=subscriber())
    barrier(r1, a, "A")

    for who, s in [("A", a), ("O", other)]:
        for kind in ("wanted", "other"):
            publish(s, "acceptance.route", {"kind": kind, "label": "%s-%s" % (who, kind)})

    expected = {
        "A": ["A-wanted", "O-wanted"],
        "R1": ["A-wanted", "O-wanted"],
        "R2": ["A-other", "A-wanted"],
        "R3": ["A-other", "A-wanted", "O-wanted"],
    }

    def labels(name):
        return sorted(e["data"]["label"] for e in pumps[name].received("acceptance.route"))

    def seen():
        return {name: labels(name) for name in expected}

    wait_until(lambda: all(len(labels(n)) >= len(want) for n, want in expected.items()), 15,
               "the matching events to arrive", seen)
    time.sleep(1.5)
    check(labels("R1") == expected["R1"],
          "data.kind=wanted: both users' wanted events arrive, kind=other does not",
          labels("R1"))
    check(labels("R2") == expected["R2"],
          "source.user.username=%s: A's events arrive, %s's do not" % (USER, OTHER_USER),
          labels("R2"))
    check(labels("R3") == expected["R3"],
          "two subscribers on one connection: each matching event arrives once",
          labels("R3"))
    check(labels("A") == expected["A"],
          "the publisher's own connection received its own matching event once (and O's)",
          labels("A"))
    check(sorted(calls["R1"]) == expected["R1"] and sorted(calls["R2"]) == expected["R2"]
          and sorted(calls["A"]) == expected["A"],
          "the handlers ran for those events", calls)
    check(sorted(calls["R3 kind"]) == ["A-wanted", "O-wanted"]
          and sorted(calls["R3 user"]) == ["A-other", "A-wanted"],
          "the client fanned R3's events out to its two handlers", calls)
    from_other = pumps["R1"].received("acceptance.route",
                                      lambda e: e["data"]["label"].startswith("O-"))
    check(all(e["source"]["user"]["username"] == OTHER_USER for e in from_other),
          "the other user's events say source.user.username=%s" % OTHER_USER,
          short([dict(e["source"]) for e in from_other]))
    for pump in pumps.values():
        pump.stop()
    check_client_log_clean("while routing")


def idle(seconds):
    capture_client_log(debug_hub=True)
    i = session("I (idle)")
    hub = i.event_hub
    connected_events = []
    # The hub turns each `1::` into a local ftrack.meta.connected event (hub.py 979-983); it
    # waits in the hub's queue until handled, so subscribing before the pump counts the first.
    hub.subscribe("topic=ftrack.meta.connected", lambda e: connected_events.append(time.time()),
                  subscriber=subscriber())
    calls = []

    def on_idle(event):
        calls.append(event["data"])
        return {"awake": True, "echo": event["data"].get("n")}

    hub.subscribe("topic=acceptance.idle", on_idle, subscriber=subscriber())
    pump_i = Pump(i, "I")
    websocket_before = hub._connection
    wait_until(lambda: not hub._packet_callbacks, 10,
               "the server to acknowledge the idle session's subscriptions",
               lambda: "%d unacknowledged" % len(hub._packet_callbacks))
    wait_until(lambda: connected_events, 10, "the server's 1:: (ftrack.meta.connected)")

    note("idling %d s (the client's socket times out after 60 s of silence)" % seconds)
    idle_from = time.time()
    time.sleep(seconds)
    idle_to = time.time()

    reconnects = CLIENT_LOG.debug_lines(idle_from, idle_to, "Disconnected")
    check(not reconnects, "the idle session was not disconnected while idle",
          short(reconnects))
    check(hub.connected and hub._connection is websocket_before,
          "the idle session kept its websocket (no reconnect)",
          "connected=%s, same websocket=%s" % (hub.connected, hub._connection is websocket_before))
    check(len(connected_events) == 1, "it saw the server's 1:: once (no new connection)",
          "%d times" % len(connected_events))
    beats = [t for t, _ in CLIENT_LOG.debug_lines(idle_from, idle_to, "Received packet: 2::")]
    gaps = [b - a for a, b in zip([idle_from] + beats, beats + [idle_to])]
    # The server beats every 5 s; the JavaScript client gives up after 15 s without one.
    check(max(gaps) <= 10,
          "the server sent heartbeats while it idled, at most 10 s apart",
          "%d heartbeats, largest gap %.1f s" % (len(beats), max(gaps)))
    note("%d heartbeats in %d s" % (len(beats), seconds))

    # Another session, only now: it publishes, the idle one answers.
    p = session("P")
    pump_p = Pump(p, "P")
    back = []
    p.event_hub.subscribe("topic=acceptance.idle.back",
                          lambda e: back.append(e["data"]) or {"hello": "from P"},
                          subscriber=subscriber())
    barrier(i, p, "P")
    replies = Replies()
    event = publish(p, "acceptance.idle", {"n": 1}, on_reply=replies)
    wait_until(lambda: replies.to(event["id"]), 15, "the idle session's reply",
               lambda: "the idle session handled %s" % calls)
    got = replies.to(event["id"])
    check(len(calls) == 1 and dict(got[0]["data"]) == {"awake": True, "echo": 1},
          "after idling, the session received an event and its reply arrived",
          "handled %s, replies %s" % (calls, short(got)))
    answer = Replies()
    event = publish(i, "acceptance.idle.back", {"n": 2}, on_reply=answer)
    wait_until(lambda: answer.to(event["id"]), 15, "P's reply to the idle session")
    check(dict(answer.to(event["id"])[0]["data"]) == {"hello": "from P"},
          "after idling, the session's own publish got its reply")
    check(hub._connection is websocket_before and len(connected_events) == 1,
          "still the same websocket after the exchange")
    pump_i.stop()
    pump_p.stop()
    check_client_log_clean("while idling")


def duplicates():
    capture_client_log()
    # Deterministic: a subscriber registered while the hub is initialised but not connected
    # is queued, then connect() notifies all subscribers and flushes the queue, so the
    # server gets ftrack.meta.subscribe twice for it (hub.py 244-268). This is what a
    # Session(auto_connect_event_hub=True) does when a plugin subscribes at construction.
    d = new_session(connect=False)
    dub_calls = []
    dub = d.event_hub
    dub.init_connection()
    dub_id = dub.subscribe("topic=acceptance.dup",
                           lambda e: dub_calls.append(e["data"]) or {"dup": "answer"},
                           subscriber=subscriber())
    queued = dub._event_send_queue.qsize()
    check(queued == 1, "the subscription waits in the client's queue before connecting",
          "%d queued" % queued)
    connector = threading.Thread(target=dub.connect, daemon=True)
    connector.start()
    connector.join(CONNECT_TIMEOUT)
    check(not connector.is_alive() and dub.connected,
          "the hub connected (sending the subscriber twice)")

    # The racy way: a subscription made right after the session is built, while its hub
    # may still be connecting.
    r = new_session()
    racy_calls = []
    r.event_hub.subscribe("topic=acceptance.dup",
                          lambda e: racy_calls.append(e["data"]) or {"racy": "answer"},
                          subscriber=subscriber())
    wait_connected(r, "R")
    p = session("P")
    pumps = [Pump(d, "D"), Pump(r, "R"), Pump(p, "P")]
    pump_d = pumps[0]
    barrier(p, d, "D")
    barrier(p, r, "R")
    for s, label in [(d, "D"), (r, "R")]:
        wait_until(lambda: not s.event_hub._packet_callbacks, 10,
                   "the server to acknowledge each subscribe of %s" % label,
                   lambda: "%d unacknowledged" % len(s.event_hub._packet_callbacks))
    check_client_log_clean("while connecting with duplicate subscribes "
                           "(no 'Server failed to subscribe')")

    replies = Replies()
    event = publish(p, "acceptance.dup", {"n": 1}, on_reply=replies)
    wait_until(lambda: len(replies.to(event["id"])) >= 2, 15, "the two replies",
               lambda: "D handled %s, R handled %s, replies %s"
               % (dub_calls, racy_calls, short(replies.to(event["id"]))))
    time.sleep(1.5)
    answers = sorted(list(e["data"].keys())[0] for e in replies.to(event["id"]))
    check(answers == ["dup", "racy"], "one reply from each session, not one per subscribe",
          answers)
    check(len(dub_calls) == 1 and len(racy_calls) == 1, "each handler ran once",
          "D %s, R %s" % (dub_calls, racy_calls))
    delivered = pump_d.received("acceptance.dup")
    check(len(delivered) == 1, "the twice-subscribed connection received the event once",
          "%d times" % len(delivered))

    # The duplicate is one subscriber: one unsubscribe removes it.
    dub.unsubscribe(dub_id)
    wait_until(lambda: not dub._packet_callbacks, 10, "the server to acknowledge the unsubscribe")
    event = publish(p, "acceptance.dup", {"n": 2}, on_reply=replies)
    wait_until(lambda: replies.to(event["id"]), 15, "R's reply to the second event")
    time.sleep(1.5)
    check(len(pump_d.received("acceptance.dup")) == 1 and len(dub_calls) == 1,
          "after one unsubscribe the connection no longer receives the topic",
          "D's connection received %d" % len(pump_d.received("acceptance.dup")))

    # The same, raw: two identical subscribes are both acknowledged with success.
    raw = Raw("raw duplicate")
    raw.start_reading()
    raw.expect(lambda p_: p_ == "1::", 10, "the server's 1::")
    sub = subscriber()
    raw.send(subscribe_packet(1, sub, "topic=acceptance.dup"))
    raw.send(subscribe_packet(2, sub, "topic=acceptance.dup"))
    for n in (1, 2):
        ack = raw.expect(lambda p_: p_.startswith("6:::%d+" % n), 10, "the ack of subscribe %d" % n)
        check(ack_args(ack) == [{"success": True}],
              "raw: subscribe #%d of the same subscriber acknowledged with success" % n, ack)
    event = publish(p, "acceptance.dup", {"n": 3}, on_reply=replies)
    raw.expect(lambda p_: is_event(p_, event["id"]), 10, "the event on the raw connection")
    time.sleep(1)
    extra = [p_ for p_ in raw.seen() if is_event(p_, event["id"])]
    check(len(extra) == 1, "raw: the event arrived once", "%d times" % len(extra))
    raw.close()

    for pump in pumps:
        pump.stop()
    close_sessions()
    time.sleep(0.5)
    check_client_log_clean("during connect, the exchange and close")


# Raw Socket.IO connections -----------------------------------------------------------------


def robustness():
    capture_client_log()
    a, b = session("A"), session("B")
    pumps = [Pump(a, "A"), Pump(b, "B")]

    # (a) Malformed packets: the connection stays and its next subscribe is acknowledged.
    raw1 = Raw("malformed")
    raw1.start_reading()
    raw1.expect(lambda p: p == "1::", 10, "the server's 1::")
    malformed = [
        "garbage",
        "",
        "5:::{not json",
        "9::",
        '5:::{"name":"ftrack.event"}',
        '5:2+::{"name":"ftrack.event"}',
        '5:3+::{"name":"ftrack.event","args":[]}',
        '5:4+::{"name":"ftrack.event","args":["not an event"]}',
        '5:5+::{"name":"not.ftrack","args":[{}]}',
        '5:x+::{"name":"ftrack.event","args":[]}',
        "6:::abc",
        "5:6+::" + json.dumps({"name": "ftrack.event", "args": [raw_event(
            "ftrack.meta.subscribe", {"subscriber": {"id": "raw-bad"},
                                      "subscription": "topic=(("})]}),
        "5:7+::" + json.dumps({"name": "ftrack.event", "args": [raw_event(
            "ftrack.meta.subscribe", {"subscription": "topic=acceptance.raw"})]}),
    ]
    for packet in malformed:
        raw1.send(packet)
    raw1.send(b"\x00\xff\x00binary", opcode=0x2)
    raw_subscriber = subscriber(id="raw-" + uuid.uuid4().hex)
    raw1.send(subscribe_packet(1, raw_subscriber, "topic=acceptance.raw"))
    ack = raw1.expect(lambda p: p.startswith("6:::1+"), 10, "the ack 6:::1+[...] of the subscribe")
    check(ack_args(ack) == [{"success": True}],
          "malformed packets skipped: the next subscribe is acknowledged 6:::1+[{success: true}]",
          ack)
    check(raw1.closed is None and raw1.ws.connected,
          "the connection that sent malformed packets is still open", raw1.closed)
    sent = publish(a, "acceptance.raw", {"n": 1})
    packet = raw1.expect(lambda p: is_event(p, sent["id"]), 10, "A's event on the raw connection")
    check(packet.startswith('5:::{"name":"ftrack.event","args":[')
          and python_client_accepts(packet) is None,
          "it receives a routed event as 5:::{name: ftrack.event, args: [event]}", packet[:300])
    event = json.loads(packet.split(":", 3)[3])["args"][0]
    check(dict(event["data"]) == {"n": 1} and event["topic"] == "acceptance.raw",
          "the routed event is the one published", short(event))
    check_packets_readable(raw1)

    # (b) A connection that subscribes to a busy topic, then stops reading.
    raw2 = Raw("non-reading")
    raw2.expect(lambda p: p == "1::", 10, "the server's 1::")
    raw2.send(subscribe_packet(1, subscriber(id="slow-" + uuid.uuid4().hex),
                               "topic=acceptance.busy"))
    ack = raw2.expect(lambda p: p.startswith("6:::1+"), 10, "the ack of its subscribe")
    check(ack_args(ack) == [{"success": True}], "the non-reading connection subscribed", ack)
    # From here raw2 is never read again.

    flooder = Raw("flooder")
    flooder.start_reading()
    flooder.expect(lambda p: p == "1::", 10, "the server's 1::")
    # Events without ack id (as the JavaScript client sends them) that only raw2 wants. The
    # flooder sends until `flood["upto"]` events, so the phases below control it.
    flood = {"sent": 0, "bytes": 0, "error": None, "upto": 2500, "paced": False,
             "stop": threading.Event()}
    pad = "x" * 8192

    def run_flood():
        deadline = time.time() + 200
        try:
            while not flood["stop"].is_set() and time.time() < deadline:
                if flood["sent"] >= flood["upto"]:
                    time.sleep(0.01)
                    continue
                packet = event_packet(raw_event("acceptance.busy", {"kind": "flood", "pad": pad}))
                flooder.send(packet)
                flood["sent"] += 1
                flood["bytes"] += len(packet)
                if flood["paced"] and flood["sent"] % 100 == 0:
                    time.sleep(0.05)   # some 2000 events (16 MiB) a second at most
        except Exception as error:  # noqa: BLE001
            flood["error"] = repr(error)

    def flood_state():
        return "%d events (%.1f MiB)" % (flood["sent"], flood["bytes"] / 2**20)

    flood_thread = threading.Thread(target=run_flood, name="flood", daemon=True)
    flood_thread.start()

    pings = []

    def on_ping(event):
        pings.append(event["data"]["n"])
        return {"n": event["data"]["n"]}

    b.event_hub.subscribe("topic=acceptance.busy and data.kind=ping", on_ping,
                          subscriber=subscriber())
    barrier(a, b, "B")
    # Phase 1: some 20 MiB for raw2, far more than the kernel buffers for it, so that the
    # server's writes to it are stuck (a server that writes as it routes would stall here).
    try:
        wait_until(lambda: flood["sent"] >= flood["upto"] or flood["error"], 30,
                   "the flooder to send %d events" % flood["upto"])
    except AssertionError:
        note("the flood is slow: only %s sent in 30 s" % flood_state())
    note("flood: %s sent towards the non-reading connection" % flood_state())

    # Phase 2: the session pair, on the same topic (raw2 subscribes to it as well).
    count = 300
    replies = Replies()
    started = time.time()
    events = [publish(a, "acceptance.busy", {"kind": "ping", "n": n}, on_reply=replies)
              for n in range(count)]
    wait_until(lambda: replies.count() >= count, 60,
               "all %d replies while a subscriber of the topic does not read" % count,
               lambda: "%d replies, B handled %d" % (replies.count(), len(pings)))
    took = time.time() - started
    answered = sorted(e["data"]["n"] for _, e in replies.items)
    check(answered == list(range(count)),
          "the session pair never stalled: %d events and their replies in %.1f s" % (count, took),
          answered[:20])
    times = sorted(t for t, _ in replies.items)
    gaps = [later - earlier for earlier, later in zip([started] + times, times)]
    note("largest wait between two replies: %.2f s; flood so far %d events (%.1f MiB)"
         % (max(gaps), flood["sent"], flood["bytes"] / 2**20))
    check(all(replies.to(e["id"]) for e in events), "each event got its own reply")

    # Phase 3: the non-reading connection must be dropped: the server stops reading it and
    # closes it. The flood goes on meanwhile (paced, up to 40000 events in all, some 320 MiB)
    # so that a bounded queue fills. Seen from here: writing to it first blocks (the server
    # no longer reads it) or fails at once (the server closed it); after a block, a write
    # fails once the server closes the socket (it resets: what was written was never read).
    flood["paced"] = True
    flood["upto"] = 40000
    probe_sent = 0
    filler = "3:::" + "p" * (1 << 20)   # a Socket.IO message packet: harmless to the server
    raw2.ws.settimeout(3)
    blocked = closed = None
    deadline = time.time() + 45
    while blocked is None and closed is None and time.time() < deadline:
        try:
            raw2.send(filler)
            probe_sent += len(filler)
        except socket.timeout:
            blocked = time.time()
        except OSError as error:
            closed = "a write failed: %s" % (error or type(error).__name__)
        else:
            time.sleep(0.05)
    flood["stop"].set()
    flood_thread.join(30)
    note("flood stopped after %s%s" % (
        flood_state(), ", the flooder's send failed: %s" % flood["error"] if flood["error"] else ""))
    check(blocked or closed, "the server dropped the non-reading connection",
          "after %s routed to it and %.0f MiB written to it in 45 s, the server still reads "
          "it" % (flood_state(), probe_sent / 2**20))
    if blocked:
        note("the server stopped reading it (a write blocked after %.0f MiB)"
             % (probe_sent / 2**20))
        raw2.ws.settimeout(1)
        while closed is None and time.time() < blocked + 30:
            try:
                raw2.send("2:::")
            except socket.timeout:
                continue
            except OSError as error:
                closed = "%.1f s after it stopped reading it (a write failed: %s)" % (
                    time.time() - blocked, error or type(error).__name__)
            else:
                time.sleep(0.2)
    check(closed, "the server closed the non-reading connection%s" % (
        ": " + closed if closed else ""),
          "the server stopped reading it but still held it open 30 s later (its socket and "
          "queued packets stay for as long as the client neither reads nor closes)")
    check(flood["error"] is None, "the flooding connection (which reads) was not dropped",
          flood["error"])

    # (c) An oversized message on a third connection.
    raw3 = Raw("oversized", timeout=30)
    raw3.expect(lambda p: p == "1::", 10, "the server's 1::")
    big = event_packet(raw_event("acceptance.big", {"pad": "y" * (20 << 20)}), ack=1)
    send_error = None
    try:
        raw3.send(big)
    except Exception as error:  # noqa: BLE001
        send_error = repr(error)
    answer = None
    raw3.ws.settimeout(2)
    deadline = time.time() + 10
    while raw3.closed is None and answer is None and time.time() < deadline:
        try:
            packet = raw3.recv()
        except websocket.WebSocketTimeoutException:
            continue
        if packet is not None and packet.startswith("6:::1+"):
            answer = packet
    if raw3.closed or send_error:
        check(True, "the 20 MiB message: the server closed that connection (%s)"
              % (send_error or raw3.closed))
    else:
        check(answer is None or python_client_accepts(answer) is None,
              "the 20 MiB message was read and answered %s; the connection is open"
              % (answer[:100] if answer else "nothing"))

    # The others keep working.
    check(raw1.closed is None and raw1.reader.is_alive(),
          "the malformed-packet connection is still open", raw1.closed)
    sent = publish(a, "acceptance.raw", {"n": 2})
    raw1.expect(lambda p: is_event(p, sent["id"]), 15, "A's second event on that connection")
    check(True, "it still receives events")
    check_packets_readable(raw1)
    check_packets_readable(flooder)
    replies = Replies()
    started = time.time()
    events = [publish(a, "acceptance.busy", {"kind": "ping", "n": 1000 + n}, on_reply=replies)
              for n in range(50)]
    wait_until(lambda: all(replies.to(e["id"]) for e in events), 20,
               "50 more replies after the oversized message",
               lambda: "%d replies" % replies.count())
    check(True, "the session pair still exchanges: 50 events and replies in %.1f s"
          % (time.time() - started))
    fresh = Raw("after")
    fresh.expect(lambda p: p == "1::", 10, "the server's 1::")
    check(True, "a new connection is accepted")

    for raw in (raw1, raw2, raw3, flooder, fresh):
        raw.close()
    for pump in pumps:
        pump.stop()
    check_client_log_clean("in the session pair")


STEPS = {
    # name: (function of args, watchdog seconds)
    "exchange": (lambda args: exchange(), 120),
    "order": (lambda args: order(), 120),
    "routing": (lambda args: routing(), 120),
    "idle": (lambda args: idle(float(args[0]) if args else 70), None),
    "duplicates": (lambda args: duplicates(), 120),
    "robustness": (lambda args: robustness(), 360),
    "handshake": (lambda args: handshake(), 120),
    "status": (lambda args: status(), 120),
}


if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in STEPS:
        sys.exit("usage: hub_acceptance.py %s [ARGS]" % "|".join(STEPS))
    step, args = sys.argv[1], sys.argv[2:]
    function, limit = STEPS[step]
    if limit is None:
        limit = (float(args[0]) if args else 70) + 120
    # Last resort against a hang: every thread's stack, then exit 1.
    faulthandler.dump_traceback_later(limit, exit=True)
    try:
        function(args)
        close_sessions()
    except BaseException:  # noqa: BLE001 - report anything, then leave without atexit hooks
        traceback.print_exc()
        sys.stdout.flush()
        sys.stderr.flush()
        # The sessions' atexit close could block on a broken server: skip it.
        os._exit(1)
    print("done: %s in %.1f s" % (step, time.time() - STARTED), flush=True)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
