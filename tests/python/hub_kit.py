"""What the hub acceptance steps (hub_acceptance.py) share: sessions of the real client
pumped in threads that record what the server delivered, bounded waits, the client's log,
and raw Socket.IO 0.9 connections for the robustness step."""

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


SERVER = os.environ["FTRACK_SERVER"]
USER = os.environ["FTRACK_API_USER"]
KEY = os.environ["FTRACK_API_KEY"]
OTHER_USER = os.environ.get("FTRACK_OTHER_USER")
OTHER_KEY = os.environ.get("FTRACK_OTHER_KEY")

_url = urllib.parse.urlparse(SERVER)
# The client uses only scheme, host and port of the server URL for the hub (hub.py 117-148).
HUB_ROOT = "%s://%s" % (_url.scheme, _url.netloc)
WS_ROOT = "%s://%s" % ("wss" if _url.scheme == "https" else "ws", _url.netloc)

CONNECT_TIMEOUT = 30
# The keys an event may have for the Python client to accept it (hub.py 1011-1029).
EVENT_KEYS = {"topic", "id", "data", "sent", "source", "target", "inReplyToEvent"}

STARTED = time.time()


def check(condition, what, seen=None):
    """`ok: what`, or fail saying what was expected and what was seen."""
    if not condition:
        if seen is None:
            raise AssertionError("expected: %s" % what)
        raise AssertionError("expected: %s\n    seen: %s" % (what, seen))
    print("ok:", what, flush=True)


def note(text):
    print("   ", text, flush=True)


def wait_until(predicate, timeout, what, seen=lambda: None):
    """Polls `predicate` until it holds; fails after `timeout` seconds naming `what`."""
    deadline = time.time() + timeout
    while True:
        if predicate():
            return
        if time.time() > deadline:
            raise AssertionError(
                "timed out after %.0f s waiting for %s\n    seen: %s" % (timeout, what, seen())
            )
        time.sleep(0.05)


def short(value, limit=300):
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "...(%d chars)" % len(text)


# The client's own log ----------------------------------------------------------------------

class ClientLog(logging.Handler):
    """What the ftrack_api loggers said: warnings and errors, and (when asked) the hub's
    debug lines about packets, with their times."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.problems = []
        self.lines = []
        self.keep_debug = False
        self.guard = threading.Lock()

    def emit(self, record):
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a log line must never break the step
            message = str(record.msg)
        with self.guard:
            if record.levelno >= logging.WARNING:
                text = "%s %s: %s" % (record.levelname, record.name, message)
                if record.exc_info:
                    text += "\n" + "".join(traceback.format_exception(*record.exc_info))
                self.problems.append(text)
                print("client log:", text, file=sys.stderr, flush=True)
            elif self.keep_debug:
                self.lines.append((time.time(), record.name, message))

    def debug_lines(self, since, until, prefix):
        with self.guard:
            return [(t, m) for t, _, m in self.lines if since <= t <= until and m.startswith(prefix)]


CLIENT_LOG = ClientLog()


def capture_client_log(debug_hub=False):
    logger = logging.getLogger("ftrack_api")
    logger.addHandler(CLIENT_LOG)
    logger.setLevel(logging.WARNING)
    if debug_hub:
        # Only the hub's own logger: it says "Received packet: ..." and "Disconnected
        # unexpectedly" (hub.py 985-1002), which is how reconnects and heartbeats are seen.
        CLIENT_LOG.keep_debug = True
        logging.getLogger("ftrack_api.event.hub.EventHub").setLevel(logging.DEBUG)


def check_client_log_clean(when):
    check(not CLIENT_LOG.problems, "the client logged no warning or error %s" % when,
          "\n      ".join(CLIENT_LOG.problems))


# Sessions ----------------------------------------------------------------------------------

SESSIONS = []


def new_session(user=USER, key=KEY, connect=True):
    s = ftrack_api.Session(
        server_url=SERVER,
        api_user=user,
        api_key=key,
        auto_connect_event_hub=connect,
        schema_cache_path=False,
        plugin_paths=[],
    )
    SESSIONS.append(s)
    return s


def wait_connected(s, label):
    """Waits (bounded) for the background connect of `s` to finish, and for it to be up."""
    thread = s._auto_connect_event_hub_thread
    if thread is not None:
        thread.join(CONNECT_TIMEOUT)
        if thread.is_alive():
            raise AssertionError(
                "the event hub of session %s did not finish connecting within %d s "
                "(handshake GET %s/socket.io/1/ or the websocket hangs)"
                % (label, CONNECT_TIMEOUT, HUB_ROOT))
    wait_until(lambda: s.event_hub.connected, 5,
               "session %s's event hub to be connected (its connect failed: see the "
               "exception above, or GET %s/socket.io/1/)" % (label, HUB_ROOT))


def session(label, user=USER, key=KEY):
    s = new_session(user, key)
    wait_connected(s, label)
    return s


def close_sessions():
    """Closes every session, each bounded (a session's close unsubscribes and joins its
    threads; a broken server must not hang the end of a step)."""
    for s in SESSIONS:
        closer = threading.Thread(target=s.close, daemon=True)
        closer.start()
        closer.join(15)
    SESSIONS.clear()


class Pump:
    """Handles the events of a session's hub as `EventHub.wait()` does (its queue, then
    `_handle`), in a thread, and records each event the server delivered."""

    def __init__(self, s, label):
        self.session = s
        self.hub = s.event_hub
        self.label = label
        self.delivered = []
        self.guard = threading.Lock()
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, name="pump-" + label, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.done.is_set():
            try:
                event = self.hub._event_queue.get(timeout=0.1)
            except queue.Empty:
                continue
            with self.guard:
                self.delivered.append(event)
            self.hub._handle(event)

    def received(self, topic, where=lambda e: True):
        with self.guard:
            return [e for e in self.delivered if e["topic"] == topic and where(e)]

    def stop(self):
        self.done.set()
        self.thread.join(5)


def subscriber(**metadata):
    metadata.setdefault("id", uuid.uuid4().hex)
    return metadata


def barrier(publisher, receiver, label, timeout=20):
    """Makes sure the server has the subscriptions `receiver` made so far.

    The receiver adds one more subscriber; the publisher publishes to it, again every half
    second, until a reply comes back. A connection's packets are handled in order, so once
    the last subscription routes, the earlier ones do too. (It also covers the publisher's
    own `ftrack.meta.reply` subscriber, which its connect sends in the background.)
    """
    token = uuid.uuid4().hex
    receiver.event_hub.subscribe(
        "topic=acceptance.barrier and data.token=%s" % token,
        lambda event: {"token": token},
        subscriber=subscriber(),
    )
    answered = threading.Event()
    deadline = time.time() + timeout
    tries = 0
    while not answered.is_set():
        if time.time() > deadline:
            raise AssertionError(
                "no reply from %s within %d s (%d tries): its subscriptions never became "
                "routable, or replies do not reach the publisher" % (label, timeout, tries))
        tries += 1
        publisher.event_hub.publish(
            ftrack_api.event.base.Event("acceptance.barrier", data={"token": token}),
            on_reply=lambda event: answered.set(),
        )
        answered.wait(0.5)


class Replies:
    """Collects the replies to published events."""

    def __init__(self):
        self.items = []
        self.guard = threading.Lock()

    def __call__(self, event):
        with self.guard:
            self.items.append((time.time(), event))

    def to(self, event_id):
        with self.guard:
            return [e for _, e in self.items if e["in_reply_to_event"] == event_id]

    def count(self):
        with self.guard:
            return len(self.items)


def publish(s, topic, data=None, target="", on_reply=None):
    event = ftrack_api.event.base.Event(topic, data=data or {}, target=target)
    s.event_hub.publish(event, on_reply=on_reply)
    return event


# Steps -------------------------------------------------------------------------------------


def ws_frame(payload, opcode=0x1):
    """A masked client frame. The mask key is zero, so the payload needs no XOR (the
    websocket package masks in pure Python, far too slow for tens of MiB)."""
    if isinstance(payload, str):
        payload = payload.encode("utf-8")
    n = len(payload)
    if n < 126:
        header = bytes((0x80 | opcode, 0x80 | n))
    elif n < 1 << 16:
        header = bytes((0x80 | opcode, 0x80 | 126)) + n.to_bytes(2, "big")
    else:
        header = bytes((0x80 | opcode, 0x80 | 127)) + n.to_bytes(8, "big")
    return header + b"\0\0\0\0" + payload


def event_packet(event, ack=None):
    return "5:%s::%s" % ("%d+" % ack if ack is not None else "",
                         json.dumps({"name": "ftrack.event", "args": [event]}))


def raw_event(topic, data, **fields):
    event = {"id": uuid.uuid4().hex, "topic": topic, "data": data, "sent": None,
             "source": {"id": "raw", "user": {"username": USER}}, "target": "",
             "inReplyToEvent": None}
    event.update(fields)
    return event


def subscribe_packet(ack, metadata, subscription):
    return event_packet(raw_event("ftrack.meta.subscribe",
                                  {"subscriber": metadata, "subscription": subscription}), ack)


def ack_args(packet):
    head, _, args = packet.partition("+")
    return json.loads(args) if args else None


def is_event(packet, event_id=None, topic=None):
    if not packet.startswith("5:"):
        return False
    try:
        event = json.loads(packet.split(":", 3)[3])["args"][0]
    except (ValueError, LookupError, TypeError):
        return False
    return ((event_id is None or event.get("id") == event_id)
            and (topic is None or event.get("topic") == topic))


def python_client_accepts(packet):
    """Why the Python client's reader would choke on `packet` (hub.py 927-1046), or None."""
    parts = packet.split(":", 3)
    if len(parts) == 2:
        return "two fields"
    code = parts[0]
    if code not in "01234567" or len(code) != 1:
        return "packet type %r (KeyError in the client's reader)" % code
    if code == "6":
        if len(parts) < 4:
            return "an ack without data"
        number, plus, args = parts[3].partition("+")
        if not number.isdigit():
            return "an ack whose id is not a number"
        try:
            decoded = json.loads(args) if plus else []
        except ValueError:
            return "an ack whose arguments are not JSON"
        if len(decoded) != 1 or not isinstance(decoded[0], dict):
            return "an ack without exactly one dict argument"
    if code == "5":
        if parts[1]:
            return "an event with an ack id (the JavaScript client cannot read it)"
        try:
            payload = json.loads(parts[3])
        except (ValueError, IndexError):
            return "an event whose data is not JSON"
        args = payload.get("args")
        if payload.get("name") != "ftrack.event" or not isinstance(args, list) or len(args) != 1:
            return "an event that is not ftrack.event with one argument"
        extra = set(args[0]) - EVENT_KEYS
        if extra:
            return "an event with keys the client refuses: %s" % sorted(extra)
    return None


class Raw:
    """A Socket.IO 0.9 connection by hand: the handshake, then the websocket."""

    def __init__(self, label, timeout=10, by_query=False):
        """`by_query`: credentials as api_user/api_key query parameters (the JavaScript
        client's way), else as the ftrack-user/ftrack-api-key headers (the Python client's)."""
        self.label = label
        if by_query:
            answer = requests.get(HUB_ROOT + "/socket.io/1/",
                                  params={"api_user": USER, "api_key": KEY}, timeout=10)
        else:
            answer = requests.get(HUB_ROOT + "/socket.io/1/",
                                  headers={"ftrack-user": USER, "ftrack-api-key": KEY},
                                  timeout=10)
        check(answer.status_code == 200 and len(answer.text.split(":")) >= 4
              and "websocket" in answer.text.split(":")[3].split(","),
              "%s: handshake answered sid:heartbeat:close:transports with websocket" % label,
              "%s %r" % (answer.status_code, answer.text[:200]))
        sid = answer.text.split(":")[0]
        self.ws = websocket.create_connection("%s/socket.io/1/websocket/%s" % (WS_ROOT, sid),
                                              timeout=timeout, enable_multithread=True)
        self.packets = queue.Queue()
        self.log = []
        self.closed = None
        self.reader = None
        self.done = threading.Event()

    def send(self, text, opcode=0x1):
        with self.ws.lock:
            self.ws.sock.sendall(ws_frame(text, opcode))

    def recv(self):
        """One packet, or None once the server closed the connection (raises on timeout)."""
        try:
            packet = self.ws.recv()
        except websocket.WebSocketTimeoutException:
            raise
        except (websocket.WebSocketConnectionClosedException, OSError) as error:
            self.closed = self.closed or "closed: %s" % (error or type(error).__name__)
            return None
        if packet == "" and not self.ws.connected:
            self.closed = self.closed or "closed by the server (close frame)"
            return None
        return packet

    def start_reading(self):
        """Reads in a thread: answers heartbeats, queues the other packets."""
        def run():
            while not self.done.is_set():
                try:
                    packet = self.recv()
                except websocket.WebSocketTimeoutException:
                    continue
                except Exception as error:  # noqa: BLE001
                    self.closed = self.closed or "reader failed: %r" % error
                    packet = None
                if packet is None:
                    self.packets.put(None)
                    return
                self.log.append(packet)
                if packet.startswith("2:"):
                    try:
                        self.send("2:::")
                    except OSError:
                        pass
                    continue
                self.packets.put(packet)

        self.reader = threading.Thread(target=run, name="raw-" + self.label, daemon=True)
        self.reader.start()

    def expect(self, predicate, timeout, what):
        deadline = time.time() + timeout
        skipped = []
        while True:
            left = deadline - time.time()
            if left <= 0:
                raise AssertionError("%s: timed out after %.0f s waiting for %s\n    seen: %s"
                                     % (self.label, timeout, what, short(skipped, 600)))
            if self.reader is None:
                try:
                    self.ws.settimeout(left)
                    packet = self.recv()
                except websocket.WebSocketTimeoutException:
                    continue
                if packet is not None:
                    self.log.append(packet)
            else:
                try:
                    packet = self.packets.get(timeout=left)
                except queue.Empty:
                    continue
            if packet is None:
                raise AssertionError("%s: the server closed the connection (%s) while "
                                     "waiting for %s\n    seen: %s"
                                     % (self.label, self.closed, what, short(skipped, 600)))
            if predicate(packet):
                return packet
            skipped.append(packet)

    def seen(self):
        return list(self.log)

    def close(self):
        self.done.set()
        try:
            self.ws.close(timeout=1)
        except Exception:  # noqa: BLE001
            pass
        if self.reader is not None:
            self.reader.join(3)


def check_packets_readable(raw):
    bad = [(p[:120], why) for p, why in ((p, python_client_accepts(p)) for p in raw.seen()) if why]
    check(not bad, "%s: every packet the server sent is one the Python client can read"
          % raw.label, short(bad, 800))


def pump(s, until, what, timeout=30):
    """Dispatches `s`'s events until `until()` holds; fails after `timeout` s naming `what`."""
    deadline = time.time() + timeout
    while not until() and time.time() < deadline:
        s.event_hub.wait(0.05)
    check(until(), what)


def pipeline_host(s, wanted=lambda host: True, what="a pipeline host replies"):
    """The first pipeline host `wanted` takes, of those answering ftrack.pipeline.host.discover
    (published as the framework's clients publish it, data {})."""
    import ftrack_api.event.base
    replies = []
    s.event_hub.publish(ftrack_api.event.base.Event(topic="ftrack.pipeline.host.discover", data={}),
                        on_reply=lambda reply: replies.append(reply["data"]))
    hosts = lambda: [r for r in replies if isinstance(r, dict) and "host_id" in r and wanted(r)]
    pump(s, hosts, what)
    return hosts()[0]
