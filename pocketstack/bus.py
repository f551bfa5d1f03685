"""The message and task layer: in-process now, RabbitMQ (kombu) later, same callers.

Services talk to their workers the way OpenStack's do over oslo.messaging: a
``cast`` (fire and forget) or a ``call`` (wait for the answer) of a method on a
topic (``compute``, or ``compute.<host>`` to reach one host's agent), and
``notify`` for versioned notifications. :class:`LocalBus` runs the endpoint's
method on a worker thread of this process, keeping the request id of the caller
in the logs; a networked bus will implement the same four methods.
"""

from __future__ import annotations

import contextvars
import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable, Protocol

LOG = logging.getLogger(__name__)

Listener = Callable[[str, dict[str, Any]], None]


class Bus(Protocol):
    def subscribe(self, topic: str, endpoint: object) -> None: ...

    def cast(self, topic: str, method: str, **kwargs: Any) -> None: ...

    def call(self, topic: str, method: str, timeout: float = 60.0, **kwargs: Any) -> Any: ...

    def notify(self, event_type: str, payload: dict[str, Any]) -> None: ...


class NoSuchTopic(LookupError):
    pass


class LocalBus:
    def __init__(self, workers: int = 16) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="bus")
        self._endpoints: dict[str, object] = {}
        self._listeners: list[Listener] = []
        self._lock = threading.Lock()
        self._pending: set[Future[Any]] = set()

    def subscribe(self, topic: str, endpoint: object) -> None:
        with self._lock:
            self._endpoints[topic] = endpoint

    def unsubscribe(self, topic: str) -> None:
        with self._lock:
            self._endpoints.pop(topic, None)

    def listen(self, listener: Listener) -> None:
        """Receive every notification (the notification log, metrics, tests)."""
        self._listeners.append(listener)

    def _method(self, topic: str, method: str) -> Callable[..., Any]:
        endpoint = self._endpoints.get(topic)
        if endpoint is None:
            raise NoSuchTopic(f"nothing listens on topic {topic!r}")
        fn = getattr(endpoint, method, None)
        if fn is None or method.startswith("_"):
            raise NoSuchTopic(f"topic {topic!r} has no method {method!r}")
        return fn

    def _submit(self, fn: Callable[..., Any], kwargs: dict[str, Any]) -> Future[Any]:
        ctx = contextvars.copy_context()  # the caller's request id follows the work
        future = self._pool.submit(ctx.run, fn, **kwargs)
        with self._lock:
            self._pending.add(future)
        future.add_done_callback(self._done)
        return future

    def _done(self, future: Future[Any]) -> None:
        with self._lock:
            self._pending.discard(future)
        exc = future.exception()
        if exc is not None:
            LOG.error("background task failed: %r", exc, exc_info=exc)

    def cast(self, topic: str, method: str, **kwargs: Any) -> None:
        self._submit(self._method(topic, method), kwargs)

    def call(self, topic: str, method: str, timeout: float = 60.0, **kwargs: Any) -> Any:
        return self._submit(self._method(topic, method), kwargs).result(timeout=timeout)

    def notify(self, event_type: str, payload: dict[str, Any]) -> None:
        for listener in list(self._listeners):
            try:
                listener(event_type, payload)
            except Exception:  # a broken listener must not break the notifier
                LOG.exception("notification listener failed for %s", event_type)

    def pending(self) -> int:
        with self._lock:
            return len(self._pending)

    def drain(self, timeout: float = 30.0) -> None:
        """Wait for the work in flight (used on shutdown)."""
        with self._lock:
            pending = list(self._pending)
        for future in pending:
            try:
                future.result(timeout=timeout)
            except Exception:  # already logged by _done
                pass

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=False)
