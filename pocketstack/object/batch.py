"""Group commit: concurrent index writes share one write transaction.

SQLite has one writer at a time; with many small PUTs in flight, each paying for its own
BEGIN/COMMIT and its own turn at the write lock, the writer becomes the bottleneck. Here
the writes that queue up while a transaction runs are applied together in the next one.

There is no writer thread: the first caller to find the writer idle becomes the leader,
applies the whole queue in one transaction, wakes the callers whose jobs it applied and
hands leadership to the oldest caller still waiting (if any), then returns its own result.

A job is ``fn(session) -> result``. It must raise its (API) errors before it writes
anything, so that a refused job leaves nothing to undo in the shared transaction. Should
a statement fail anyway, the batch is rolled back and every job re-run alone.
"""

from __future__ import annotations

import threading
from typing import Any, Callable

from pocketstack.api import errors
from pocketstack.db import Database

MAX_BATCH = 256


class _Job:
    __slots__ = ("fn", "wake", "done", "result", "error")

    def __init__(self, fn: Callable[[Any], Any]) -> None:
        self.fn = fn
        self.wake = threading.Event()
        self.done = False
        self.result: Any = None
        self.error: BaseException | None = None

    def outcome(self) -> Any:
        if self.error is not None:
            raise self.error
        return self.result


class GroupWriter:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._lock = threading.Lock()
        self._queue: list[_Job] = []
        self._busy = False

    def run(self, fn: Callable[[Any], Any]) -> Any:
        job = _Job(fn)
        with self._lock:
            self._queue.append(job)
            lead = not self._busy
            self._busy = True
        if not lead:
            job.wake.wait()
            if job.done:
                return job.outcome()
            # promoted: this caller leads the next batch (its job is in it)
        with self._lock:
            batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
        try:
            self._apply(batch)
        finally:
            with self._lock:
                if self._queue:
                    self._queue[0].wake.set()
                else:
                    self._busy = False
            for other in batch:
                other.done = True
                if other is not job:
                    other.wake.set()
        return job.outcome()

    def _apply(self, batch: list[_Job]) -> None:
        try:
            with self.db.write() as s:
                for job in batch:
                    try:
                        job.result = job.fn(s)
                    except errors.ApiError as exc:
                        job.error = exc
            return
        except BaseException as exc:  # nothing of the batch was committed
            if len(batch) == 1:
                batch[0].result, batch[0].error = None, exc
                return
        for job in batch:
            job.result, job.error = None, None
            try:
                with self.db.write() as s:
                    job.result = job.fn(s)
            except BaseException as exc:
                job.error = exc
