"""Long volume work off the request thread, as Cinder's volume manager does it.

A request checks and commits the transient status (``creating``, ``backing-up``,
``restoring-backup``, ``uploading``, ``extending``, ``downloading``) and answers at once;
the job runs in a small thread pool and commits the final status. When a job fails its
``fail`` callback sets the error statuses and a user message (``/messages``, 3.3+) says
why. A crash leaves the transient status committed: :func:`settle` (run by the service's
start, as Cinder's ``init_host``) moves those rows to the state Cinder leaves them in.

Cheap work (a blank sparse file, a reflink clone) stays synchronous: the answer is the
final state, which every client accepts.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable

from sqlalchemy import func, select, update

from pocketstack.db import new_uuid, utcnow
from pocketstack.volume.models import Backup, Message, Snapshot, Volume

LOG = logging.getLogger(__name__)
MESSAGE_TTL = dt.timedelta(days=30)  # Cinder's message_ttl default (2592000 s)

# Cinder-style event ids: VOLUME_<resource>_<action>_<detail>
ACTIONS = {"create": ("001", "schedule allocate volume"),
           "copy_volume_to_image": ("003", "copy volume to image"),
           "copy_image_to_volume": ("005", "copy image to volume"),
           "extend": ("007", "extend volume"),
           "create_from_source": ("008", "create volume from backend storage"),
           "backup_create": ("013", "create backup"),
           "backup_restore": ("015", "restore backup")}
DETAILS = {"unknown": ("001", "An unknown error occurred."),
           "interrupted": ("002", "The service restarted while the work was under way."),
           "image": ("005", "The image could not be read or converted."),
           "space": ("004", "The back end has not enough space."),
           "no_backend": ("003", "Could not find any available weighted backend.")}


def detail_of(exc: BaseException | None) -> str:
    if exc is None:
        return "interrupted"
    if type(exc).__name__ == "NoValidBackend":  # the scheduler's (drivers/backends.py)
        return "no_backend"
    if isinstance(exc, OSError) and getattr(exc, "errno", None) == 28:
        return "space"
    return "unknown"


def message(project_id: str, resource_type: str, resource_id: str, action: str,
            detail: str, request_id: str | None = None) -> Message:
    code, text = ACTIONS[action]
    dcode, dtext = DETAILS[detail]
    now = utcnow()
    return Message(id=new_uuid(), project_id=project_id, request_id=request_id,
                   resource_type=resource_type, resource_uuid=resource_id,
                   event_id=f"VOLUME_{resource_type}_{code}_{dcode}", message_level="ERROR",
                   user_message=f"{text}: {dtext}", created_at=now,
                   expires_at=now + MESSAGE_TTL)


class Worker:
    """A thread pool for volume jobs. ``gate`` (set by default) lets tests hold jobs to
    observe the transient statuses."""

    def __init__(self, db: Any, threads: int = 2) -> None:
        self.db = db
        self.gate = threading.Event()
        self.gate.set()
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="volume-worker")
        self._lock = threading.Lock()
        self._pending: set[Future[Any]] = set()

    def submit(self, ctx: Any, resource_type: str, resource_id: str, action: str,
               run: Callable[[], None], fail: Callable[[Any, BaseException], None],
               detail: Callable[[BaseException], str] = detail_of) -> Future[Any]:
        """Run ``run()``; on an exception, ``fail(session, exc)`` in a write transaction
        with a user message for the caller's project."""
        fut = self._pool.submit(self._gated, ctx, resource_type, resource_id, action, run,
                                fail, detail)
        with self._lock:
            self._pending.add(fut)
        fut.add_done_callback(self._done)
        return fut

    def _gated(self, *args: Any) -> None:
        self.gate.wait()
        self.run_now(*args)

    def run_now(self, ctx: Any, resource_type: str, resource_id: str, action: str,
                run: Callable[[], None], fail: Callable[[Any, BaseException], None],
                detail: Callable[[BaseException], str] = detail_of) -> bool:
        """The job in the caller's thread (cheap work); False when it failed."""
        project_id, request_id = ctx.project_id or "", getattr(ctx, "request_id", None)
        try:
            run()
        except Exception as exc:
            LOG.exception("%s of %s %s failed", action, resource_type.lower(),
                          resource_id)
            try:
                with self.db.write() as s:
                    fail(s, exc)
                    s.add(message(project_id, resource_type, resource_id, action,
                                  detail(exc), request_id))
            except Exception:
                LOG.exception("recording the failure of %s failed", resource_id)
            return False
        return True

    def _done(self, fut: Future[Any]) -> None:
        with self._lock:
            self._pending.discard(fut)

    def drain(self, timeout: float | None = None) -> None:
        """Wait for the jobs submitted so far (tests; a graceful stop)."""
        with self._lock:
            pending = list(self._pending)
        for fut in pending:
            fut.result(timeout)

    def stop(self) -> None:
        self.gate.set()
        self._pool.shutdown(wait=True)


def settle(db: Any) -> None:
    """After a restart, no job is running: leave transient rows as Cinder's init_host does
    (work that cannot resume ends in error, with a user message; copies out of a volume
    give the volume back)."""
    with db.write() as s:
        stuck = s.execute(select(Volume.id, Volume.project_id, Volume.status).where(
            Volume.status.in_(("creating", "downloading", "extending", "restoring-backup"))
        )).all()
        actions = {"creating": "create", "downloading": "copy_image_to_volume",
                   "extending": "extend", "restoring-backup": "backup_restore"}
        for vid, project_id, status in stuck:
            s.add(message(project_id, "VOLUME", vid, actions[status], "interrupted"))
        for status, final in (("creating", "error"), ("downloading", "error"),
                              ("extending", "error_extending"), ("deleting", "error_deleting"),
                              ("restoring-backup", "error_restoring"),
                              ("reverting", "error")):
            s.execute(update(Volume).where(Volume.status == status).values(status=final))
        for status in ("backing-up", "uploading"):
            s.execute(update(Volume).where(Volume.status == status).values(
                status=func.coalesce(Volume.previous_status, "available")))
        failed = s.execute(select(Backup.id, Backup.project_id).where(
            Backup.status == "creating")).all()
        for bid, project_id in failed:
            s.add(message(project_id, "VOLUME_BACKUP", bid, "backup_create", "interrupted"))
        s.execute(update(Backup).where(Backup.status.in_(("creating", "deleting")))
                  .values(status="error", fail_reason="interrupted by a restart"))
        s.execute(update(Backup).where(Backup.status == "restoring")
                  .values(status="available"))
        s.execute(update(Snapshot).where(Snapshot.status.in_(("creating", "deleting")))
                  .values(status="error"))
