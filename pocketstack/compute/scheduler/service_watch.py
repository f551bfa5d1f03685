"""Which commits change what the scheduler must read again: service rows (disabled, forced
down, deleted), aggregates (hosts, metadata, zones) and resource providers (traits)."""

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


_RP_KEY = "pocketstack_scheduler_providers"  # session.info: uuids of providers written
_RP_WATCHERS: list[Callable[[set[str]], None]] = []


def watch_provider_writes(callback: Callable[[set[str]], None]) -> None:
    """Call ``callback(uuids)`` after each commit in this process that changed resource
    providers through the ORM: Placement bumps a provider's generation with its traits
    (``resource provider trait set/delete``), so the scheduler reads those providers'
    traits again. Once per callback."""
    from pocketstack.placement.models import ResourceProvider

    if callback in _RP_WATCHERS:
        return
    if not _RP_WATCHERS:
        def written(_mapper: Any, _conn: Any, target: Any) -> None:
            s = object_session(target)
            if s is not None:
                s.info.setdefault(_RP_KEY, set()).add(target.uuid)

        def committed(s: Session) -> None:
            uuids = s.info.pop(_RP_KEY, None)
            if uuids:
                for watcher in list(_RP_WATCHERS):
                    watcher(uuids)

        event.listen(ResourceProvider, "after_update", written)
        event.listen(Session, "after_commit", committed)
        event.listen(Session, "after_rollback", lambda s: s.info.pop(_RP_KEY, None))
    _RP_WATCHERS.append(callback)
