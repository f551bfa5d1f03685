"""Worker processes of one kind (the compute API's, the metadata service's): started
together, each started again when it dies, stopped with the main process.

The caller says how to start the worker of a given index (:meth:`Supervisor.start`'s
``spawn``) and how to wait until one serves (``wait_ready``, run on a thread: it
blocks); what a worker is beyond its process (a socket pair, a reader thread) stays
the caller's, told by ``on_exit`` when the process is gone.
"""

from __future__ import annotations

import asyncio
import logging
import subprocess
import threading
from typing import Any, Callable, Generic, Protocol, TypeVar

LOG = logging.getLogger(__name__)
WATCH_INTERVAL = 1.0
STOP_TIMEOUT = 5.0


class HasProcess(Protocol):
    proc: "subprocess.Popen[bytes]"


W = TypeVar("W", bound=HasProcess)


class Supervisor(Generic[W]):
    def __init__(self, what: str, spawn: Callable[[int], W],
                 wait_ready: Callable[[W], None],
                 on_exit: Callable[[W], None] | None = None) -> None:
        self.what = what  # "compute API worker": for the log lines
        self.spawn = spawn
        self.wait_ready = wait_ready
        self.on_exit = on_exit
        self.members: list[tuple[int, W]] = []  # (index, worker), changed under _lock
        self._lock = threading.Lock()
        self.stopping = False
        self._monitor: Any = None  # the watch's task (kept: the loop holds tasks weakly)

    @property
    def workers(self) -> list[W]:
        """The workers now (a copy: any thread may ask)."""
        with self._lock:
            return [w for _, w in self.members]

    async def start(self, count: int) -> None:
        """Start ``count`` workers and wait until each serves (RuntimeError otherwise);
        then watch them."""
        started = [self._start(i) for i in range(count)]
        await asyncio.gather(*(asyncio.to_thread(self.wait_ready, w) for w in started))
        self._monitor = asyncio.ensure_future(self._watch())
        LOG.info("%d %s processes (pids %s)", count, self.what,
                 ", ".join(str(w.proc.pid) for w in started))

    def _start(self, index: int) -> W:
        worker = self.spawn(index)
        with self._lock:
            self.members.append((index, worker))
        return worker

    async def _watch(self) -> None:
        while not self.stopping:
            await asyncio.sleep(WATCH_INTERVAL)
            for index, worker in list(self.members):
                if worker.proc.poll() is None or self.stopping:
                    continue
                LOG.warning("%s %s exited (%s): starting another", self.what,
                            worker.proc.pid, worker.proc.returncode)
                with self._lock:
                    self.members.remove((index, worker))
                if self.on_exit is not None:
                    self.on_exit(worker)
                try:
                    await asyncio.to_thread(self.wait_ready, self._start(index))
                except Exception:
                    LOG.exception("a %s failed to start", self.what)

    def stop(self) -> None:
        """Terminate every worker (killed after a few seconds) and wait for them."""
        self.stopping = True  # (the watch ends at its next look)
        workers = self.workers
        for worker in workers:
            if worker.proc.poll() is None:
                worker.proc.terminate()
        for worker in workers:
            try:
                worker.proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                worker.proc.kill()
                worker.proc.wait()
            if self.on_exit is not None:
                self.on_exit(worker)
