"""The link between the main process and its compute API workers (``osapi_compute_workers``).

A worker serves the compute API over the shared database; what only the main process
can do, it asks there, as Nova's API asks the conductor and the computes over RPC:

- ``cast``: a task to run on the main process's compute task pool (``Tasks.submit``: a
  build, a delete, an action), fire and forget;
- ``call``: a method of the main process's driver or scheduler (console output, the
  host list, a resize's scheduling), waiting for the answer;
- ``notify``: a notification, for the main process's bus (the notification log, and
  the listeners that keep caches fresh);
- from the main process to the workers, ``invalidate``: the token cache is stale
  (a token was revoked, a role removed).

Frames are length-prefixed pickles over a private socket pair (both ends are this
program, never a network peer). The objects of the compute service (its tasks, driver,
scheduler, domain helpers, API resources), the other services and the cloud travel as
references (by name) and are resolved on the other side to that
process's own instance.
"""

from __future__ import annotations

import io
import itertools
import logging
import pickle
import socket
import struct
import threading
import types
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, Callable

from pocketstack.api.context import current

if TYPE_CHECKING:
    from pocketstack.cloud import Cloud

LOG = logging.getLogger(__name__)
_HEADER = struct.Struct("!I")
CALL_TIMEOUT = 300.0


def registry(cloud: "Cloud") -> dict[str, Any]:
    """The objects that travel by reference, by name: the same names in every process
    (each builds the same services the same way)."""
    named: dict[str, Any] = {"cloud": cloud}
    for svc in cloud.services:
        named[f"service:{svc.name}"] = svc
    compute = cloud.service("compute")
    if compute is not None:
        for attr, value in vars(compute).items():
            if type(value).__module__.startswith("pocketstack.") or isinstance(value, Remote):
                named.setdefault(f"compute.{attr}", value)
        resources: dict[int, Any] = {}
        for route in compute.router.routes:  # the API resources, in the order included
            owner = getattr(route.handler, "__self__", None)
            if owner is not None:
                resources.setdefault(id(owner), owner)
        for i, resource in enumerate(resources.values()):
            named[f"compute.resource.{i}"] = resource
    return named


def _mappingproxy(d: dict[Any, Any]) -> Any:
    return types.MappingProxyType(d)


_resolving = threading.local()  # .named: the registry of the channel unpickling here


def _ref(name: str) -> Any:
    """A reference made by :class:`_Pickler`, resolved to this process's own object."""
    try:
        return _resolving.named[name]
    except (AttributeError, KeyError):
        raise pickle.UnpicklingError(f"unknown reference {name!r}") from None


class _Pickler(pickle.Pickler):
    """Pickles the registry's objects (and :class:`Remote` stand-ins) as references by
    name. Through ``reducer_override``, which pickle does not call for plain values
    (strings, numbers, dicts, lists...): a ``persistent_id`` hook is called for every
    object and made a message three times as long to pickle."""

    def __init__(self, buf: io.BytesIO, ids: dict[int, str]) -> None:
        super().__init__(buf, protocol=pickle.HIGHEST_PROTOCOL)
        self._ids = ids

    def reducer_override(self, obj: Any) -> Any:
        kind = type(obj)
        if kind is types.MappingProxyType:  # read-only views (frozen specs)
            return _mappingproxy, (dict(obj),)
        if kind is Remote:
            return _ref, (obj._name,)
        name = self._ids.get(id(obj))
        if name is not None:
            return _ref, (name,)
        return NotImplemented


class Channel:
    """One end of the socket pair: framed pickles, the references resolved by name."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._send_lock = threading.Lock()
        self._named: dict[str, Any] = {}
        self._ids: dict[int, str] = {}

    def bind(self, named: dict[str, Any]) -> None:
        self._named = named
        self._ids = {id(obj): name for name, obj in named.items()}

    def dumps(self, obj: Any) -> bytes:
        buf = io.BytesIO()
        _Pickler(buf, self._ids).dump(obj)
        return buf.getvalue()

    def loads(self, data: bytes) -> Any:
        _resolving.named = self._named
        return pickle.loads(data)

    def send(self, message: tuple[Any, ...]) -> None:
        data = self.dumps(message)
        with self._send_lock:
            self.sock.sendall(_HEADER.pack(len(data)) + data)

    def recv(self) -> tuple[Any, ...] | None:
        """The next message; None when the other end is gone."""
        header = self._read(_HEADER.size)
        if header is None:
            return None
        data = self._read(_HEADER.unpack(header)[0])
        return None if data is None else self.loads(data)

    def _read(self, size: int) -> bytes | None:
        chunks, left = [], size
        while left:
            chunk = self.sock.recv(min(left, 1 << 20))
            if not chunk:
                return None
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)


class Remote:
    """A worker's stand-in for one of the main process's objects (``driver``,
    ``scheduler``): each method call is a ``call`` there. Sent back in a message it
    is a reference to that object again."""

    def __init__(self, link: "WorkerLink", name: str) -> None:
        self._link = link
        self._name = name

    def __getattr__(self, method: str) -> Callable[..., Any]:
        if method.startswith("__"):
            raise AttributeError(method)
        return _RemoteMethod(self, method)


class _RemoteMethod:
    def __init__(self, target: Remote, method: str) -> None:
        self.target = target
        self.method = method

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.target._link.call(self.target._name, self.method, args, kwargs)

    def __reduce__(self) -> Any:  # cast as a task: the main process's own bound method
        return getattr, (self.target, self.method)


class WorkerLink:
    """The worker's end: casts, calls (one thread waits for each answer) and the main
    process's messages, read by a thread of its own."""

    def __init__(self, channel: Channel, on_invalidate: Callable[[], None],
                 on_gone: Callable[[], None]) -> None:
        self.channel = channel
        self._on_invalidate = on_invalidate
        self._on_gone = on_gone
        self._ids = itertools.count(1)
        self._waiting: dict[int, Future[Any]] = {}
        self._lock = threading.Lock()

    def proxy(self, name: str) -> Remote:
        return Remote(self, name)

    def start(self) -> None:
        threading.Thread(target=self._read, name="compute-link", daemon=True).start()

    def cast(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """``Tasks.submit`` of a worker: the task runs in the main process."""
        self.channel.send(("cast", current.get(), fn, args, kwargs))

    def call(self, name: str, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]
             ) -> Any:
        call_id = next(self._ids)
        future: Future[Any] = Future()
        with self._lock:
            self._waiting[call_id] = future
        try:
            payload = self.channel.dumps((current.get(), name, method, args, kwargs))
            self.channel.send(("call", call_id, payload))
            return future.result(timeout=CALL_TIMEOUT)
        finally:
            with self._lock:
                self._waiting.pop(call_id, None)

    def notify(self, event_type: str, payload: dict[str, Any]) -> None:
        self.channel.send(("notify", event_type, payload))

    def _read(self) -> None:
        while True:
            try:
                message = self.channel.recv()
            except Exception:  # one bad frame (as the main process does): log, go on
                LOG.exception("unreadable message from the main process")
                continue
            if message is None:
                self._on_gone()
                return
            if message[0] == "reply":
                _, call_id, ok, value = message
                with self._lock:
                    future = self._waiting.get(call_id)
                if future is not None:
                    future.set_result(value) if ok else future.set_exception(value)
            elif message[0] == "invalidate":
                try:
                    self._on_invalidate()
                finally:
                    self.channel.send(("invalidated", message[1]))


class ForwardingBus:
    """A worker's bus: notifications go to the main process's bus (its listeners write
    the notification log and keep caches fresh); nothing is served here."""

    def __init__(self, link: WorkerLink) -> None:
        self._link = link

    def notify(self, event_type: str, payload: dict[str, Any]) -> None:
        try:
            self._link.notify(event_type, payload)
        except Exception:  # a lost notification must not fail the request
            LOG.exception("notification %s not forwarded", event_type)

    def listen(self, listener: Any) -> None:
        """Listeners belong to the main process."""

    def subscribe(self, topic: str, endpoint: object) -> None:
        raise RuntimeError("a compute API worker serves no bus topic")

    def cast(self, topic: str, method: str, **kwargs: Any) -> None:
        raise RuntimeError("a compute API worker casts its tasks through its link")

    def call(self, topic: str, method: str, timeout: float = 60.0, **kwargs: Any) -> Any:
        raise RuntimeError("a compute API worker calls the main process through its link")

    def drain(self) -> None:
        pass

    def close(self) -> None:
        pass
