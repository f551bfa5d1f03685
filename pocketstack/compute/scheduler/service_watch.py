"""Which commits change what the scheduler must read again: service rows (disabled, forced
down, deleted) and aggregates (hosts, metadata, zones)."""

from __future__ import annotations

from typing import Any, Callable

from sqlalchemy import event
from sqlalchemy.orm import Session, object_session

from pocketstack.compute.models import Aggregate, ComputeService

_KEY = "pocketstack_scheduler_services"  # session.info: a service row was written
_WATCHERS: list[Callable[[], None]] = []


def watch_service_writes(callback: Callable[[], None]) -> None:
    """Call ``callback`` after each commit in this process that wrote a service row or an
    aggregate through the ORM (all their writers do): the schedulers of this process mark
    their service view stale; a compute API worker tells the main process's. Once per
    callback."""
    if callback in _WATCHERS:
        return
    if not _WATCHERS:
        def written(_mapper: Any, _conn: Any, target: Any) -> None:
            s = object_session(target)
            if s is not None:
                s.info[_KEY] = True

        def committed(s: Session) -> None:
            if s.info.pop(_KEY, None):
                for watcher in list(_WATCHERS):
                    watcher()

        for model in (ComputeService, Aggregate):
            for name in ("after_insert", "after_update", "after_delete"):
                event.listen(model, name, written)
        event.listen(Session, "after_commit", committed)
        event.listen(Session, "after_rollback", lambda s: s.info.pop(_KEY, None))
    _WATCHERS.append(callback)
