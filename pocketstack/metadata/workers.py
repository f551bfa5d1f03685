"""``[DEFAULT] metadata_workers`` = N >= 1: N processes serve the metadata port.

The main process keeps the source of truth (the documents, the caller tables, the
database) and serves its workers on a private Unix socket (in a fresh 0700 directory
under /tmp: socket paths are short); each worker (:mod:`pocketstack.metadata.worker`) binds the port with
``SO_REUSEPORT`` and answers its callers from a cache of its own. The port's first
socket (bound by ``pocketstack up``) is closed once every worker listens, so no
connection is refused meanwhile. A worker that dies is started again; workers exit with
the main process.
"""

from __future__ import annotations

import logging
import marshal
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from typing import TYPE_CHECKING

from pocketstack.metadata.fastserver import FastServer
from pocketstack.supervisor import Supervisor

if TYPE_CHECKING:
    from pocketstack.metadata.service import MetadataService

LOG = logging.getLogger(__name__)


def bundle(svc: "MetadataService", headers: list[tuple[bytes, bytes]], uuid: str
           ) -> bytes:
    """Every rendered page of ``uuid``'s documents, their version and for how long they
    stay fresh (the worker's cache fill; marshal, read only by our own worker processes).
    A worker that has this version already (``x-pocketstack-version``) gets no pages:
    a refresh of unchanged documents costs a few lookups."""
    now = time.monotonic()
    entry = svc.docs.get(uuid)
    fresh = (entry.expires - now) if entry is not None else 0.0
    h = dict(headers)
    known = svc.callers.known.get((h.get(b"x-forwarded-for", b""),
                                   h.get(b"x-neutron-network-id", b"")))
    if known is not None:
        fresh = min(fresh, known[1] - now)
    if entry is None:
        return marshal.dumps((fresh, b"", {}))
    version = b"%d:%d" % (entry.value.serial, len(entry.value.wire))
    if h.get(b"x-pocketstack-version") == version:
        svc.stats["bundles_unchanged"] += 1
        return marshal.dumps((fresh, version, None))
    svc.stats["bundles"] += 1
    return marshal.dumps((fresh, version, {path: wire[:3] for path, wire in
                                           entry.value.wire.items()}))


class _Worker:
    def __init__(self, proc: "subprocess.Popen[bytes]") -> None:
        self.proc = proc


class Workers:
    def __init__(self, svc: "MetadataService", count: int) -> None:
        self.svc = svc
        self.count = count
        self.folder = tempfile.mkdtemp(prefix="pocketstack-md-")  # mode 0700
        self.path = os.path.join(self.folder, "main.sock")
        self.supervisor = Supervisor("metadata worker", self._spawn, self._ready)
        self.internal: FastServer | None = None
        self.address: tuple[str, int] = ("", 0)

    async def start(self, sock: socket.socket) -> None:
        self.address = sock.getsockname()[:2]
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)  # workers join it
        self.internal = FastServer(self.svc, internal=True)
        await self.internal.serve_unix(self.path)
        await self.supervisor.start(self.count)
        sock.close()  # every worker listens: the port's first socket can go

    def _spawn(self, index: int) -> _Worker:
        host, port = self.address
        return _Worker(subprocess.Popen(
            [sys.executable, "-m", "pocketstack.metadata.worker", host, str(port), self.path,
             str(self.svc.ttl)], stdout=subprocess.PIPE, stdin=subprocess.DEVNULL,
            start_new_session=True))

    @staticmethod
    def _ready(worker: _Worker) -> None:
        assert worker.proc.stdout is not None
        line = worker.proc.stdout.readline()
        if line.strip() != b"ready":
            raise RuntimeError(f"metadata worker {worker.proc.pid} did not start")

    def stop(self) -> None:
        self.supervisor.stop()
        if self.internal is not None:
            self.internal.close()
        shutil.rmtree(self.folder, ignore_errors=True)
