"""The per-instance cache of rendered documents and the caller lookup tables.

Everything the hot path needs lives in plain dicts read from the event loop:
``docs[uuid]`` (a :class:`Documents` with its expiry) and ``nets[network_id]``
(fixed IP -> instance uuid). Misses are loaded in batches in a worker thread by
:class:`Batcher`: concurrent requests for the same key share one load, and keys
missed in the same loop iteration are loaded with one query. An expired entry is
still served while its refresh runs (stale-while-revalidate), so that expiries of
many instances at once never show up as latency.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Generic, TypeVar

LOG = logging.getLogger(__name__)
K = TypeVar("K")
V = TypeVar("V")


class Entry(Generic[V]):
    __slots__ = ("value", "expires", "loaded")

    def __init__(self, value: V, expires: float, loaded: float) -> None:
        self.value = value
        self.expires = expires
        self.loaded = loaded


class Batcher(Generic[K, V]):
    """Loads keys in batches with ``load(keys) -> {key: value}`` run in a worker thread."""

    def __init__(self, load: Callable[[list[K]], dict[K, V]], max_batch: int = 200,
                 name: str = "metadata-load") -> None:
        self.load = load
        # one thread of its own: loads never starve the event loop of the GIL (many
        # CPU-bound threads would) and never queue behind other services' work
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self.max_batch = max_batch
        self._waiting: dict[K, asyncio.Future[V]] = {}
        self._queued: list[K] = []
        self._scheduled = False

    def busy(self, key: K) -> bool:
        return key in self._waiting

    def get(self, key: K) -> "asyncio.Future[V]":
        fut = self._waiting.get(key)
        if fut is not None:
            return fut
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        fut.add_done_callback(_retrieve)
        self._waiting[key] = fut
        self._queued.append(key)
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._flush)
        return fut

    def _flush(self) -> None:
        self._scheduled = False
        keys, self._queued = self._queued, []
        for i in range(0, len(keys), self.max_batch):
            asyncio.ensure_future(self._run(keys[i:i + self.max_batch]))

    async def _run(self, keys: list[K]) -> None:
        try:
            loop = asyncio.get_running_loop()
            result = await loop.run_in_executor(self.executor, self.load, keys)
        except Exception as exc:
            LOG.exception("metadata load failed")
            for key in keys:
                fut = self._waiting.pop(key, None)
                if fut is not None and not fut.done():
                    fut.set_exception(exc)
            return
        for key in keys:
            fut = self._waiting.pop(key, None)
            if fut is not None and not fut.done():
                fut.set_result(result.get(key))  # type: ignore[arg-type]


def _retrieve(fut: "asyncio.Future[Any]") -> None:
    if not fut.cancelled():
        fut.exception()  # a refresh nobody waits for must not warn "never retrieved"
