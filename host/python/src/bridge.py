# The Python side of ftrack-connect's Python hooks, shipped inside the host's binary.
#
# The host starts it with `python3 -c <launcher.py> <this file> <config JSON>` (the launcher
# checks the version first, in Python any version can read) and speaks to it over its
# standard input and output, in the frames of the host's `connect-pipe` crate: one JSON
# object per line, `{"Call": {"conv": N, "call": ...}}` or `{"Done": {"conv": N, "answer":
# ...}}`. A conversation is a call stack split over the two processes: the thread that makes
# a call waits for its answer, and serves on that same thread every call the other side
# makes meanwhile (a handler publishing synchronously, whose dispatch in the host calls
# another Python handler). The host opens even conversations, this side odd ones.
#
# What it does: imports `ftrack_api`, makes one session that every hook's `register` gets
# (as Connect does), imports each hook file the host names and calls its `register` as
# `ftrack_api.plugin.discover` does, and gives the session an event hub whose subscriptions
# and publishes are the host's: the host's hub orders Python, Rhai and native handlers
# together and calls the Python ones here.
#
# The protocol owns the process's original standard output. What hooks print, what they log
# and what Python writes to standard error reaches the host as JSON log lines on standard
# error, tagged with the plugin whose code was running.

import sys

CONFIG = {}


def _fail_greeting(error):
    """Says why the bridge cannot run, as the greeting, and ends."""
    import json
    import os

    line = json.dumps({"Done": {"conv": 0, "answer": {"Failed": {"error": error}}}})
    os.write(1, (line + "\n").encode("utf-8"))
    sys.exit(0)


import collections
import importlib.machinery
import importlib.util
import inspect
import io
import json
import logging
import os
import queue
import threading
import time
import traceback

CONFIG = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
# The name this source runs under (see launcher.py): its frames are left out of tracebacks.
BRIDGE_FILE = "<ftrack-connect bridge>"
VERSION = "{0}.{1}.{2}".format(*sys.version_info[:3])
PYTHON = "{0} ({1})".format(sys.executable or "python", VERSION)

try:
    import ftrack_api
    import ftrack_api.cache
    import ftrack_api.operation
    import ftrack_api.event.base
    import ftrack_api.event.hub
    import ftrack_api.exception
except Exception as error:  # ImportError, or a broken install
    _fail_greeting(
        "{0} cannot import ftrack_api ({1}: {2}); install it for that interpreter: "
        "{3} -m pip install ftrack-python-api (or set FTRACK_CONNECT_PYTHON to a Python "
        "that has it)".format(
            PYTHON, type(error).__name__, error, sys.executable or "python3"
        )
    )

# The protocol's own copies of standard input and output: what hooks and the programs they
# start read from fd 0 is /dev/null, what they write to fd 1 goes to standard error.
_PROTOCOL_IN = os.fdopen(os.dup(0), "rb")
_PROTOCOL = os.fdopen(os.dup(1), "wb", buffering=0)
_DEVNULL = os.open(os.devnull, os.O_RDONLY)
os.dup2(_DEVNULL, 0)
os.close(_DEVNULL)
os.dup2(2, 1)
sys.stdin = open(os.devnull)
_STDERR = os.fdopen(os.dup(2), "wb", buffering=0)
_STDERR_LOCK = threading.Lock()
_FORKED = []


def _after_fork_in_child():
    # A hook's forked child (multiprocessing) must not speak for the bridge, nor keep its
    # pipes open after it ends.
    _FORKED.append(True)
    for stream in (_PROTOCOL_IN, _PROTOCOL):
        try:
            stream.close()
        except Exception:
            pass


os.register_at_fork(after_in_child=_after_fork_in_child)

# Which hook's code this thread runs (set while importing, registering and handling).
_CONTEXT = threading.local()
# Hook number -> Hook, and the module name of each hook -> its number.
HOOKS = {}
MODULES = {}
# Handler number -> (callback, hook number, local Subscriber object).
HANDLERS = {}
_NEXT_HANDLER = [1]
_REGISTRY_LOCK = threading.RLock()
# Set once the host has the greeting: nothing is sent to it before.
_GREETED = threading.Event()


class HostGone(Exception):
    """The host closed the pipe: nothing more can be asked of it."""


def emit_log(level, message, plugin=None):
    """Writes one log line for the host: JSON with the plugin, the level and the text."""
    if plugin is None:
        plugin = current_plugin()
    line = json.dumps({"plugin": plugin, "level": level, "message": message})
    with _STDERR_LOCK:
        try:
            _STDERR.write((line + "\n").encode("utf-8", "replace"))
        except OSError:
            pass


def current_plugin():
    hook = getattr(_CONTEXT, "hook", None)
    if hook is not None and hook in HOOKS:
        return HOOKS[hook].plugin
    return None


class HookOutput(io.TextIOBase):
    """`sys.stdout`/`sys.stderr` for hooks: each line they write becomes a log line."""

    def __init__(self, level):
        self._level = level
        self._pending = threading.local()

    def writable(self):
        return True

    def write(self, text):
        text = str(text)
        pending = getattr(self._pending, "text", "") + text
        *lines, rest = pending.split("\n")
        self._pending.text = rest
        for line in lines:
            emit_log(self._level, line)
        return len(text)

    def flush(self):
        rest = getattr(self._pending, "text", "")
        if rest:
            self._pending.text = ""
            emit_log(self._level, rest)


class HostLogHandler(logging.Handler):
    """Every log record (hooks', ftrack_api's) as a log line for the host."""

    def emit(self, record):
        try:
            message = record.getMessage()
            if record.exc_info:
                message += "\n" + "".join(traceback.format_exception(*record.exc_info))
            plugin = current_plugin()
            if plugin is None:
                hook = MODULES.get(record.name.split(".")[0])
                plugin = HOOKS[hook].plugin if hook in HOOKS else None
            emit_log(record.levelname.lower(), message, plugin)
        except Exception:
            pass


sys.stdout = HookOutput("info")
sys.stderr = HookOutput("warning")
logging.basicConfig(level=getattr(logging, CONFIG.get("log_level", "INFO"), logging.INFO), handlers=[HostLogHandler()])


def hook_traceback(error):
    """The traceback of `error` without the bridge's own frames: the hook's files and lines."""
    frames = [
        frame
        for frame in traceback.extract_tb(error.__traceback__)
        if frame.filename != BRIDGE_FILE and not frame.filename.startswith("<frozen")
    ]
    lines = traceback.format_list(frames)
    summary = "".join(traceback.format_exception_only(type(error), error)).strip()
    where = ""
    if frames:
        last = frames[-1]
        where = " ({0}, line {1}, in {2})".format(last.filename, last.lineno, last.name)
    text = summary + where
    if lines:
        text += "\nTraceback (most recent call last):\n" + "".join(lines).rstrip()
    return text


# The link: conversations over the pipe ------------------------------------------------

_WAITING = {}  # conversation -> queue of ("call", call) / ("done", answer) / ("closed", None)
_WAITING_LOCK = threading.Lock()
_WRITE_LOCK = threading.Lock()
_NEXT_CONV = [1]
_OPENED = queue.Queue()  # conversations the host opened: (conv, call, arrivals)


def send(frame):
    if _FORKED:
        raise HostGone()
    line = json.dumps(frame, separators=(",", ":"), allow_nan=False).encode("utf-8") + b"\n"
    with _WRITE_LOCK:
        _PROTOCOL.write(line)


def call_host(call):
    """Makes `call` to the host and returns its answer, serving the host's nested calls on
    this thread meanwhile."""
    stack = getattr(_CONTEXT, "conversations", None)
    if stack is None:
        stack = _CONTEXT.conversations = []
    if stack:
        conv, arrivals = stack[-1]
        opened = False
    else:
        arrivals = queue.Queue()
        with _WAITING_LOCK:
            conv = _NEXT_CONV[0]
            _NEXT_CONV[0] += 2
            _WAITING[conv] = arrivals
        stack.append((conv, arrivals))
        opened = True
    try:
        send({"Call": {"conv": conv, "call": call}})
        return wait_answer(conv, arrivals)
    finally:
        if opened:
            stack.pop()
            with _WAITING_LOCK:
                _WAITING.pop(conv, None)


def wait_answer(conv, arrivals):
    while True:
        kind, body = arrivals.get()
        if kind == "done":
            if isinstance(body, dict) and "Failed" in body:
                raise RuntimeError(body["Failed"]["error"])
            return body
        if kind == "closed":
            raise HostGone()
        send({"Done": {"conv": conv, "answer": serve_safely(body)}})


def serve_opened():
    """Serves, one at a time, the conversations the host opens: the host gives this bridge
    one at a time, so hooks see one handler run at a time, as under ftrack's event hub."""
    while True:
        conv, call, arrivals = _OPENED.get()
        stack = _CONTEXT.conversations = [(conv, arrivals)]
        try:
            answer = serve_safely(call)
            send({"Done": {"conv": conv, "answer": answer}})
        finally:
            stack.pop()
            with _WAITING_LOCK:
                _WAITING.pop(conv, None)


def route():
    """Reads the host's frames and hands each to the thread waiting in its conversation,
    or opens a conversation. The host closing the pipe ends the bridge."""
    while True:
        line = _PROTOCOL_IN.readline()
        if not line:
            break
        try:
            frame = json.loads(line)
        except ValueError as error:
            emit_log("error", "Python bridge: unreadable frame from the host: {0}".format(error), "python")
            break
        if "Call" in frame:
            conv, call = frame["Call"]["conv"], frame["Call"]["call"]
            with _WAITING_LOCK:
                arrivals = _WAITING.get(conv)
                if arrivals is None and conv % 2 == 0:
                    arrivals = queue.Queue()
                    _WAITING[conv] = arrivals
                    _OPENED.put((conv, call, arrivals))
                    continue
            if arrivals is not None:
                arrivals.put(("call", call))
        elif "Done" in frame:
            conv = frame["Done"]["conv"]
            with _WAITING_LOCK:
                arrivals = _WAITING.get(conv)
            if arrivals is not None:
                arrivals.put(("done", frame["Done"]["answer"]))
    with _WAITING_LOCK:
        for arrivals in _WAITING.values():
            arrivals.put(("closed", None))
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
    os._exit(0)


# Events ---------------------------------------------------------------------------------


def to_event(wire):
    """The host's wire form as the `ftrack_api` event a handler gets."""
    return ftrack_api.event.base.Event(
        topic=wire.get("topic"),
        id=wire.get("id"),
        data=wire.get("data"),
        sent=wire.get("sent"),
        source=wire.get("source"),
        target=wire.get("target", ""),
        in_reply_to_event=wire.get("inReplyToEvent"),
    )


def json_default(value):
    # The session travels in `ftrack.api.session.*` events' data inside Python only.
    if isinstance(value, ftrack_api.Session):
        return None
    raise TypeError("{0!r} is not JSON (events cross to the host as JSON)".format(value))


def dumps(value):
    # No NaN or Infinity: they are not JSON, and the host would refuse the frame.
    return json.dumps(value, separators=(",", ":"), default=json_default, allow_nan=False)


def to_wire(event):
    """An `ftrack_api` event (or a plain mapping) in the host's wire form."""
    wire = {}
    for key, value in event.items():
        if key == "in_reply_to_event":
            if value is not None:
                wire["inReplyToEvent"] = value
        elif key == "sent":
            if value is not None:
                wire["sent"] = value
        else:
            wire[key] = value
    return json.loads(dumps(wire))


# The session and its event hub ------------------------------------------------------------


class BridgeHub(ftrack_api.event.hub.EventHub):
    """The session's event hub: its subscriptions and publishes are the host hub's."""

    def __init__(self, server_url, api_user, api_key):
        super(BridgeHub, self).__init__(server_url or "http://localhost", api_user, api_key)

    @property
    def connected(self):
        return True

    def connect(self):
        pass

    def init_connection(self):
        pass

    def disconnect(self, unsubscribe=True, reconnect=False):
        pass

    def wait(self, duration=None):
        time.sleep(duration if duration is not None else 3600 * 24 * 365)

    def subscribe(self, subscription, callback, subscriber=None, priority=100):
        if not _GREETED.is_set():
            # The session's own subscriptions, made while it starts (ftrack_api's storage
            # scenario): they stay in Python, as its start-up events do.
            return self._add_subscriber(subscription, callback, subscriber, priority).metadata["id"]
        hook = getattr(_CONTEXT, "hook", None)
        if hook is None:
            hook = MODULES.get(getattr(callback, "__module__", None))
        if hook is None or hook not in HOOKS:
            raise RuntimeError(
                "subscribe from outside any hook's code: the host cannot tell which plugin "
                "{0!r} belongs to".format(subscription)
            )
        priority = int(priority)
        if not -(2**63) <= priority < 2**63:
            raise ValueError("priority {0} is out of range".format(priority))
        with _REGISTRY_LOCK:
            local = self._add_subscriber(subscription, callback, subscriber, priority)
            number = _NEXT_HANDLER[0]
            _NEXT_HANDLER[0] += 1
            HANDLERS[number] = (callback, hook, local)
        try:
            call_host(
                {
                    "Subscribe": {
                        "hook": hook,
                        "expression": str(subscription),
                        "priority": int(priority),
                        "handler": number,
                        "subscriber": json.loads(dumps(local.metadata)),
                    }
                }
            )
        except Exception:
            with _REGISTRY_LOCK:
                HANDLERS.pop(number, None)
                self._subscribers.remove(local)
            raise
        HOOKS[hook].handlers.add(number)
        return local.metadata["id"]

    def unsubscribe(self, subscriber_identifier):
        subscriber = self.get_subscriber_by_identifier(subscriber_identifier)
        if subscriber is None:
            raise ftrack_api.exception.NotFoundError(
                "Cannot unsubscribe missing subscriber with identifier {0}".format(
                    subscriber_identifier
                )
            )
        with _REGISTRY_LOCK:
            self._subscribers.remove(subscriber)
            for number, (_, hook, local) in list(HANDLERS.items()):
                if local is subscriber:
                    del HANDLERS[number]
                    if hook in HOOKS:
                        HOOKS[hook].handlers.discard(number)
        call_host({"Unsubscribe": {"id": subscriber_identifier}})

    def _publish(self, event, synchronous=False, callback=None, on_reply=None):
        if not _GREETED.is_set():
            # The session's own start-up events, for its own subscriptions.
            results = self._handle(event, synchronous=True)
            return results if synchronous else None
        reply_handler = None
        if on_reply is not None and not synchronous:
            hook = getattr(_CONTEXT, "hook", None)
            with _REGISTRY_LOCK:
                reply_handler = _NEXT_HANDLER[0]
                _NEXT_HANDLER[0] += 1
                HANDLERS[reply_handler] = (on_reply, hook, None)
        answer = call_host(
            {
                "Publish": {
                    "event": to_wire(event),
                    "synchronous": bool(synchronous),
                    "reply_handler": reply_handler,
                    "hook": getattr(_CONTEXT, "hook", None),
                }
            }
        )
        if not synchronous:
            return None
        published = answer["Published"]
        data = published["data"]
        if isinstance(event.get("data"), dict) and isinstance(data, dict):
            session = event["data"].get("session")
            event["data"].clear()
            event["data"].update(data)
            if session is not None:
                event["data"]["session"] = session
        else:
            event["data"] = data
        return published["results"]


class BridgedSession(ftrack_api.Session):
    """A real session with the host's sign-in whose event hub is the host's."""

    def _discover_plugins(self, plugin_arguments=None):
        # Called by `Session.__init__` once its hub exists: ours replaces it before any
        # event is published. Hooks are registered later, one by one, as the host asks.
        self._event_hub = BridgeHub(self._server_url, self._api_user, self._api_key)


class _NoServerTypes(dict):
    """An offline session's entity types: none, and each asked for says why."""

    def __init__(self, why):
        super(_NoServerTypes, self).__init__()
        self.why = why

    def __missing__(self, key):
        raise ftrack_api.exception.ServerError(
            "no entity type {0!r}: this hook's session has no ftrack server ({1})".format(
                key, self.why
            )
        )


class OfflineSession(ftrack_api.Session):
    """The session hooks get when the host has no server: an `ftrack_api.Session` all the
    same (hooks check `isinstance`), with the host's event hub and user; what needs a server
    says so."""

    def __init__(self, api_user, why):
        self._closed = False
        self._server_url = ""
        self._api_user = api_user
        self._api_key = None
        self._why = why
        self._event_hub = BridgeHub("", api_user, None)
        self.logger = logging.getLogger("ftrack_api.session.Session")
        self._thread_lock = threading.RLock()
        self._auto_populate = collections.defaultdict(lambda: True)
        self.recorded_operations = ftrack_api.operation.Operations()
        self._record_operations = collections.defaultdict(lambda: True)
        self.cache = ftrack_api.cache.LayeredCache([ftrack_api.cache.MemoryCache()])
        self.cache_key_maker = ftrack_api.cache.StringKeyMaker()
        self._auto_connect_event_hub_thread = None
        self.schemas = []
        self.types = _NoServerTypes(why)
        self._server_information = {}
        self._plugin_paths = []

    def call(self, data):
        raise ftrack_api.exception.ServerError(
            "this hook's session has no ftrack server: {0}".format(self._why)
        )

    def close(self):
        self._closed = True


def make_session():
    """The session every hook gets, and a note when it is not the one asked for."""
    user = CONFIG.get("api_user") or "unknown"
    if not CONFIG.get("online"):
        return OfflineSession(user, "the host runs without one"), None
    if not os.environ.get("FTRACK_API_SCHEMA_CACHE_PATH"):
        # ftrack_api caches the server's schemas there, and logs an error when the folder
        # does not exist yet (a fresh account).
        try:
            try:
                from platformdirs import user_cache_dir  # ftrack_api 3
            except ImportError:
                from appdirs import user_cache_dir  # ftrack_api 2
            os.makedirs(user_cache_dir(), exist_ok=True)
        except Exception:
            pass
    try:
        session = BridgedSession(
            server_url=os.environ.get("FTRACK_SERVER"),
            api_user=os.environ.get("FTRACK_API_USER"),
            api_key=os.environ.get("FTRACK_API_KEY"),
            auto_connect_event_hub=False,
            plugin_paths=[],
        )
        return session, None
    except Exception as error:
        why = "cannot open an ftrack_api session on {0}: {1}: {2}".format(
            os.environ.get("FTRACK_SERVER"), type(error).__name__, error
        )
        return OfflineSession(user, why), why


# Hooks ----------------------------------------------------------------------------------


class Hook(object):
    def __init__(self, number, path, plugin):
        self.number = number
        self.path = path
        self.plugin = plugin
        self.module = None
        self.handlers = set()


class InHook(object):
    """Marks this thread as running `hook`'s code for the duration of a `with`."""

    def __init__(self, hook):
        self.hook = hook

    def __enter__(self):
        self.previous = getattr(_CONTEXT, "hook", None)
        _CONTEXT.hook = self.hook

    def __exit__(self, *exc):
        _CONTEXT.hook = self.previous


def import_hook(number, path, plugin, library_dirs, fresh):
    """Imports a hook file as ftrack's plugin loader does (a module of a unique name, not
    in `sys.modules`); the plugin's `resource/` and `dependencies/` are importable. `fresh`:
    the first hook of a new load of its plugin, which imports those modules anew (a changed
    module is part of a changed plugin)."""
    folders = tuple(os.path.join(folder, "") for folder in library_dirs)
    if fresh and folders:
        for name, module in list(sys.modules.items()):
            if str(getattr(module, "__file__", None) or "").startswith(folders):
                del sys.modules[name]
    for folder in reversed(library_dirs):
        if folder not in sys.path:
            sys.path.insert(0, folder)
    hook = Hook(number, path, plugin)
    name = "ftrack_connect_hook_{0}".format(number)
    HOOKS[number] = hook
    MODULES[name] = number
    try:
        with InHook(number):
            loader = importlib.machinery.SourceFileLoader(name, path)
            spec = importlib.util.spec_from_file_location(name, path, loader=loader)
            module = importlib.util.module_from_spec(spec)
            loader.exec_module(module)
    except BaseException as error:
        forget(number)
        if isinstance(error, SystemExit):
            return {"Failed": {"error": "{0} called sys.exit({1}) when imported".format(path, error.code)}}
        return {"Failed": {"error": "{0}: {1}".format(path, hook_traceback(error))}}
    if not callable(getattr(module, "register", None)):
        forget(number)
        return "NotAHook"
    hook.module = module
    return "Imported"


def register_hook(number):
    """Calls the hook's `register` with the session, passing only the arguments its
    signature accepts, as `ftrack_api.plugin.discover` does."""
    hook = HOOKS.get(number)
    if hook is None or hook.module is None:
        return {"Failed": {"error": "no imported hook number {0}".format(number)}}
    register = hook.module.register
    positional, keywords = [SESSION], {}
    try:
        specification = inspect.getfullargspec(register)
        if not specification.varargs and len(positional) > len(specification.args):
            positional, keywords = positional[len(specification.args):], {}
    except TypeError:
        pass
    try:
        with InHook(number):
            register(*positional, **keywords)
    except BaseException as error:
        if isinstance(error, SystemExit):
            return {"Failed": {"error": "{0}: register called sys.exit({1})".format(hook.path, error.code)}}
        return {"Failed": {"error": "{0}: register failed: {1}".format(hook.path, hook_traceback(error))}}
    return "Registered"


def forget(number):
    """Drops a hook: its handlers and module (the host removed its subscriptions)."""
    with _REGISTRY_LOCK:
        hook = HOOKS.pop(number, None)
        for name, owner in list(MODULES.items()):
            if owner == number:
                del MODULES[name]
        for handler in list(HANDLERS):
            if HANDLERS[handler][1] == number:
                local = HANDLERS.pop(handler)[2]
                if local is not None and local in SESSION.event_hub._subscribers:
                    SESSION.event_hub._subscribers.remove(local)
    return "Forgotten"


def handle(number, wire):
    """Runs handler `number` on the event: its result, the event's new data if it changed
    it, and whether it stopped the event."""
    found = HANDLERS.get(number)
    if found is None:
        return {"Failed": {"error": "no handler number {0}".format(number)}}
    callback, hook, _ = found
    before = dumps(wire.get("data"))
    event = to_event(wire)
    session_topic = str(wire.get("topic", "")).startswith("ftrack.api.session.")
    if session_topic and isinstance(event["data"], dict):
        event["data"]["session"] = SESSION
    try:
        with InHook(hook):
            result = callback(event)
    except BaseException as error:
        if isinstance(error, SystemExit):
            return {"Failed": {"error": "the handler called sys.exit({0})".format(error.code)}}
        return {"Failed": {"error": hook_traceback(error)}}
    data = event["data"]
    if session_topic and isinstance(data, dict) and data.get("session") is SESSION:
        data = dict(data)
        del data["session"]
    try:
        after = dumps(data)
        result = json.loads(dumps(result))
    except (TypeError, ValueError) as error:
        return {"Failed": {"error": "the handler's result or event data is not JSON: {0}".format(error)}}
    return {
        "Handled": {
            "result": result,
            "data": json.loads(after) if after != before else None,
            "stop": event.is_stopped(),
        }
    }


def serve(call):
    (kind, body), = call.items()
    if kind == "Handle":
        return handle(body["handler"], body["event"])
    if kind == "Import":
        return import_hook(
            body["hook"], body["path"], body["plugin"], body["library_dirs"], body["fresh"]
        )
    if kind == "Register":
        return register_hook(body["hook"])
    if kind == "Forget":
        return forget(body["hook"])
    if kind == "Release":
        HANDLERS.pop(body["handler"], None)
        return "Released"
    return {"Failed": {"error": "the Python bridge cannot serve {0}".format(kind)}}


def serve_safely(call):
    try:
        return serve(call)
    except HostGone:
        raise
    except BaseException as error:
        return {"Failed": {"error": "the Python bridge failed: {0}".format(hook_traceback(error))}}


SESSION, NOTE = make_session()
threading.Thread(target=route, name="host-frames", daemon=True).start()
send(
    {
        "Done": {
            "conv": 0,
            "answer": {
                "Ready": {
                    "python": PYTHON,
                    "ftrack_api": getattr(ftrack_api, "__version__", "unknown"),
                    "note": NOTE,
                }
            },
        }
    }
)
_GREETED.set()
serve_opened()
