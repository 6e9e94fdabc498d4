"""Nodes, publishers and subscribers over the native module."""

import asyncio
import json
import logging
import signal
import threading
import time

from . import _message, _native


class Publisher:
    """Sends messages of one class on one topic."""

    def __init__(self, native, cls):
        self._native = native
        self._cls = cls

    def publish(self, msg):
        """Sends `msg` (an instance of the topic's class); returns its sequence number."""
        if not isinstance(msg, self._cls):
            raise TypeError(f"expected a {self._cls.__name__}, got {type(msg).__name__}")
        return self._native.publish(msg)

    async def publish_async(self, msg):
        """`publish` for asyncio: the sending runs on a worker thread (no GIL held)."""
        return await asyncio.get_running_loop().run_in_executor(None, self.publish, msg)

    def wait_for_subscribers(self, count=1, timeout=5.0):
        """Waits until `count` subscribers receive this topic; whether they do."""
        return self._native.wait_for_subscribers(count, timeout)


class Subscriber:
    """Receives messages of one topic: `recv()`, or iterate."""

    def __init__(self, native, cls):
        self._native = native
        self._cls = cls

    def recv(self, timeout=None):
        """The next message, or None when `timeout` seconds pass or the node stops."""
        return self._native.recv(timeout)

    def __iter__(self):
        while True:
            msg = self.recv()
            if msg is None:
                return
            yield msg

    async def recv_async(self, timeout=None):
        """`recv` for asyncio: the wait runs on a worker thread (no GIL held)."""
        return await asyncio.get_running_loop().run_in_executor(None, self.recv, timeout)

    def __aiter__(self):
        return self

    async def __anext__(self):
        msg = await self.recv_async()
        if msg is None:
            raise StopAsyncIteration
        return msg


class Client:
    """Calls one service: `client(request, timeout=1.0)` returns the response."""

    def __init__(self, native, resp):
        self._native = native
        self._resp = resp

    def __call__(self, request, timeout=1.0):
        text = self._native.call_json(json.dumps(_message.to_json(request)), timeout)
        return _message.from_json(self._resp, json.loads(text))

    async def call_async(self, request, timeout=1.0):
        """A call for asyncio: it waits on a worker thread (no GIL held)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, self, request, timeout)


class _LogHandler(logging.Handler):
    """Python's log records into the node's log: stderr, `pinion logs`, `/pinion/log`."""

    LEVELS = ((logging.ERROR, "error"), (logging.WARNING, "warn"), (logging.INFO, "info"),
              (logging.DEBUG, "debug"))

    def emit(self, record):
        level = next((name for n, name in self.LEVELS if record.levelno >= n), "trace")
        try:
            _native.log(level, record.name, self.format(record))
        except Exception:  # a log record must never stop the node
            self.handleError(record)


def _capture_logging():
    root = logging.getLogger()
    if not any(isinstance(h, _LogHandler) for h in root.handlers):
        root.addHandler(_LogHandler())
        if root.level == logging.WARNING:  # Python's default: let info through, as RUST_LOG does
            root.setLevel(logging.INFO)


class ParamWatch:
    """A watched parameter: `current()`, and `changed(timeout)` for the next change."""

    def __init__(self, native):
        self._native = native

    def current(self, default=None):
        text = self._native.current_json()
        return default if text is None else json.loads(text)

    def changed(self, timeout=None):
        """Waits for the next change: `(True, value)` (value None: deleted), or
        `(False, None)` when `timeout` seconds pass."""
        came, text = self._native.changed_json(3600.0 if timeout is None else timeout)
        return came, (None if text is None else json.loads(text))


class Node:
    """A Pinion node, registered at the master (`PINION_MASTER`), like a Rust node.
    Python's `logging` reaches the node's log (`pinion logs`, `/pinion/log`)."""

    def __init__(self, name):
        _capture_logging()
        self._native = _native.Node(name)
        self._threads = []
        # SIGTERM (a launcher stopping the node) asks the node to stop, unless the
        # program handles SIGTERM itself.
        try:
            if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
                signal.signal(signal.SIGTERM, lambda *_: self._native.shutdown("terminated"))
        except ValueError:
            pass  # not the main thread: the process's owner handles signals

    @property
    def name(self):
        return self._native.name

    @property
    def logger(self):
        """A logger named after the node."""
        return logging.getLogger(self.name)

    def advertise(self, topic, cls, reliable=False):
        """A publisher of `cls` messages on `topic`. Best effort by default (a subscriber
        that falls behind misses messages); `reliable=True`: `publish` waits for room at
        every reliable subscriber that keeps up."""
        type_name, description = cls.__pinion_type__
        classes = _message.classes(cls)
        return Publisher(
            self._native.advertise(topic, type_name, description, classes, reliable), cls)

    def subscribe(self, topic, cls=None, callback=None, queue=1000, reliable=False):
        """A subscriber of `topic`; with `callback`, each message is handed to it on a
        thread of the node until the node stops. Without `cls`, the topic's type comes
        from the master and messages arrive as dicts. `reliable=True`: a full queue holds
        reliable publishers back instead of dropping."""
        if cls is None:
            sub = Subscriber(self._native.subscribe_any(topic, queue, reliable), None)
        else:
            type_name, description = cls.__pinion_type__
            classes = _message.classes(cls)
            sub = Subscriber(
                self._native.subscribe(topic, type_name, description, queue, classes, reliable),
                cls)
        if callback is not None:
            thread = threading.Thread(target=self._deliver, args=(sub, callback), daemon=True)
            thread.start()
            self._threads.append(thread)
        return sub

    def _deliver(self, sub, callback):
        while self._native.is_ok():
            msg = sub.recv(timeout=0.2)
            if msg is not None:
                callback(msg)

    def serve(self, name, req, resp, handler):
        """Serves `name`: `handler(request)` returns the response (a `resp`); what it
        raises is the caller's error. Keep the returned object: dropping it withdraws
        the service."""

        def call(text):
            response = handler(_message.from_json(req, json.loads(text)))
            if not isinstance(response, resp):
                raise TypeError(f"the handler of {name} returned a {type(response).__name__}, "
                                f"not a {resp.__name__}")
            return json.dumps(_message.to_json(response))

        return self._native.serve(name, *req.__pinion_type__, *resp.__pinion_type__, call)

    def client(self, name, req, resp):
        """A client of service `name`: `client(request, timeout=1.0)`."""
        return Client(self._native.client(name, *req.__pinion_type__, *resp.__pinion_type__),
                      resp)

    def param(self, key, default=None):
        """Parameter `key` (the node's own, or global with a leading `/`), or `default`."""
        text = self._native.param_json(key)
        return default if text is None else json.loads(text)

    def watch_param(self, key):
        """Watches parameter `key`: `current()` and `changed(timeout)`."""
        return ParamWatch(self._native.watch_param(key))

    def set_param(self, key, value):
        """Sets parameter `key` (the node's own, or global with a leading `/`)."""
        self._native.set_param_json(key, json.dumps(value))

    def is_ok(self):
        return self._native.is_ok()

    def rate(self, hz):
        """Ticks `hz` times a second while the node runs: `for n in node.rate(10): ...`
        (late ticks are not made up)."""
        period = 1.0 / hz
        next_tick = time.monotonic()
        n = 0
        while self.is_ok():
            yield n
            n += 1
            next_tick = max(next_tick + period, time.monotonic())
            if not self.sleep(next_tick - time.monotonic()):
                return

    def sleep(self, seconds):
        """Sleeps `seconds`, or less if the node is asked to stop; whether it still runs."""
        return not self._native.wait(seconds)

    def spin(self):
        """Runs until Ctrl-C, SIGTERM or a shutdown request; then closes the node."""
        try:
            self._native.wait(None)
        except KeyboardInterrupt:
            pass
        finally:
            self.close()

    def close(self):
        self._native.shutdown("closed")
        self._native.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
