"""``[DEFAULT] osapi_compute_workers`` = N >= 1: N processes serve the compute API port.

Nova runs its API in worker processes beside the conductor, the scheduler and the
computes; here the main process keeps those (the task pool, the scheduler's host
states, the driver, the periodic tasks, every other service) and N worker processes
(:mod:`pocketstack.compute.apiworker`) accept on the compute port's socket, each with
its own interpreter, so the API's requests no longer share one interpreter lock with
the builds and deletes. Each worker answers from the shared database and reaches the
main process through a socket pair (:mod:`pocketstack.compute.remote`): its tasks are
cast to the main process's pool, driver and scheduler methods are called there, its
notifications go to the main process's bus; the main process tells the workers when
the token cache must be dropped. Writes of all processes queue on the database's
write lock (a file lock on SQLite). A worker that dies is started again; workers exit
with the main process.

Not shared between the processes: the request metrics (``/metrics`` on the compute
port shows the worker that answered).
"""

from __future__ import annotations

import logging
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from pocketstack.api.context import current
from pocketstack.compute.remote import Channel, registry
from pocketstack.supervisor import Supervisor

if TYPE_CHECKING:
    from pocketstack.compute.service import ComputeService

LOG = logging.getLogger(__name__)
READY_TIMEOUT = 120.0
ACK_TIMEOUT = 5.0


class _Worker:
    def __init__(self, index: int, proc: "subprocess.Popen[bytes]", channel: Channel) -> None:
        self.index = index
        self.proc = proc
        self.channel = channel
        self.ready = threading.Event()


class ApiWorkers:
    def __init__(self, svc: "ComputeService", count: int) -> None:
        self.svc = svc
        self.cloud = svc.cloud
        self.count = count
        self.sock: socket.socket | None = None
        self.supervisor = Supervisor("compute API worker", self._spawn, self._wait_ready,
                                     on_exit=lambda worker: worker.channel.sock.close())
        self.calls = ThreadPoolExecutor(max_workers=4, thread_name_prefix="compute-call")
        self.named: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._seq = 0
        self._acks: dict[tuple[int, int], threading.Event] = {}

    @property
    def workers(self) -> list[_Worker]:
        return self.supervisor.workers

    async def start(self, sock: socket.socket) -> None:
        self.sock = sock
        self.named = registry(self.cloud)
        self.cloud.identity.tokens.invalidation_listeners.append(self._invalidate)
        await self.supervisor.start(self.count)

    def _spawn(self, index: int) -> _Worker:
        assert self.sock is not None
        ours, theirs = socket.socketpair()
        listen_fd, link_fd = self.sock.fileno(), theirs.fileno()
        proc = subprocess.Popen(
            [sys.executable, "-m", "pocketstack.compute.apiworker", str(listen_fd),
             str(link_fd)], pass_fds=(listen_fd, link_fd), stdin=subprocess.DEVNULL,
            start_new_session=True)
        theirs.close()
        channel = Channel(ours)
        channel.bind(self.named)
        worker = _Worker(index, proc, channel)
        channel.send(("setup", self.cloud.conf, self.cloud.data_dir, self.cloud.bind, index))
        threading.Thread(target=self._serve, args=(worker,), daemon=True,
                         name=f"compute-worker-{index}").start()
        return worker

    @staticmethod
    def _wait_ready(worker: _Worker) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        while not worker.ready.wait(0.2):
            if worker.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"compute API worker {worker.proc.pid} did not start "
                                   f"(exit status {worker.proc.returncode}; see the logs)")

    # -- what the workers ask ---------------------------------------------------------
    def _serve(self, worker: _Worker) -> None:
        channel = worker.channel
        while True:
            try:
                message = channel.recv()
            except Exception:  # one bad frame (an object that cannot travel): log, go on
                LOG.exception("unreadable message from compute API worker %s",
                              worker.proc.pid)
                continue
            if message is None:
                return
            kind = message[0]
            if kind == "cast":
                _, ctx, fn, args, kwargs = message
                token = current.set(ctx)
                try:
                    self.svc.tasks.submit(fn, *args, **kwargs)
                finally:
                    current.reset(token)
            elif kind == "call":
                self.calls.submit(self._call, channel, message[1], message[2])
            elif kind == "notify":
                self.cloud.bus.notify(message[1], message[2])
            elif kind == "invalidated":
                done = self._acks.get((worker.index, message[1]))
                if done is not None:
                    done.set()
            elif kind == "ready":
                worker.ready.set()

    def _call(self, channel: Channel, call_id: int, payload: bytes) -> None:
        token, name, method = None, "?", "?"
        try:  # (unpickled here: a call that cannot be read is answered, not left waiting)
            ctx, name, method, args, kwargs = channel.loads(payload)
            token = current.set(ctx)
            value, ok = getattr(self.named[name], method)(*args, **kwargs), True
        except Exception as exc:  # the caller's thread raises it
            value, ok = exc, False
        finally:
            if token is not None:
                current.reset(token)
        try:
            channel.send(("reply", call_id, ok, value))
        except Exception as exc:  # e.g. an answer that cannot be pickled
            LOG.exception("%s.%s: answer not sent", name, method)
            try:
                channel.send(("reply", call_id, False, RuntimeError(str(exc))))
            except OSError:
                pass

    def _invalidate(self) -> None:
        """Identity data changed: every worker forgets its tokens before the identity
        write answers (the client's next request, to any worker, sees the change)."""
        workers = self.workers
        with self._lock:
            seq = self._seq = self._seq + 1
        waiting = []
        for worker in workers:
            done = threading.Event()
            self._acks[(worker.index, seq)] = done
            try:
                worker.channel.send(("invalidate", seq))
                waiting.append((worker, done))
            except OSError:  # gone: it is started again with an empty cache
                self._acks.pop((worker.index, seq), None)
        for worker, done in waiting:
            if not done.wait(ACK_TIMEOUT):
                LOG.warning("compute API worker %s did not confirm the token cache "
                            "invalidation", worker.proc.pid)
            self._acks.pop((worker.index, seq), None)

    # -- life -------------------------------------------------------------------------
    def stop(self) -> None:
        self.supervisor.stop()
        self.calls.shutdown(wait=False, cancel_futures=True)
        if self.sock is not None:
            self.sock.close()
