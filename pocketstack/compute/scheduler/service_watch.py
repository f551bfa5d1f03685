"""Which commits change what the scheduler must read again: service rows (disabled, forced
down, deleted), aggregates (hosts, metadata, zones) and resource providers (traits)."""

from __future__ import annotations

from typing import Any, Callable

from sqlalchemy import event
from sqlalchemy.orm import Session, object_session

from pocketstack.compute.models import Aggregate, ComputeService

_KEY = "pocketstack_scheduler_services"  # session.info: a service row was written
_WATCHERS: list[Callable[[], None]] = []
_RP_KEY = "pocketstack_scheduler_providers"  # session.info: uuids of providers written
_RP_WATCHERS: list[Callable[[set[str]], None]] = []


def _listen(models: tuple[Any, ...], key: str, events: tuple[str, ...],
            value: Callable[[Any], Any], notify: Callable[[set[Any]], None]) -> None:
    """After each commit that wrote one of ``models`` through the ORM, ``notify`` with the
    ``value`` of each row written."""
    def written(_mapper: Any, _conn: Any, target: Any) -> None:
        s = object_session(target)
        if s is not None:
            s.info.setdefault(key, set()).add(value(target))

    def committed(s: Session) -> None:
        found = s.info.pop(key, None)
        if found:
            notify(found)

    for model in models:
        for name in events:
            event.listen(model, name, written)
    event.listen(Session, "after_commit", committed)
    event.listen(Session, "after_rollback", lambda s: s.info.pop(key, None))


def watch_service_writes(callback: Callable[[], None]) -> None:
    """Call ``callback`` after each commit in this process that wrote a service row or an
    aggregate through the ORM (all their writers do): the schedulers of this process mark
    their service view stale; a compute API worker tells the main process's. Once per
    callback."""
    if callback in _WATCHERS:
        return
    if not _WATCHERS:
        _listen((ComputeService, Aggregate), _KEY,
                ("after_insert", "after_update", "after_delete"), lambda _row: True,
                lambda _found: [watcher() for watcher in list(_WATCHERS)])
    _WATCHERS.append(callback)


def watch_provider_writes(callback: Callable[[set[str]], None]) -> None:
    """Call ``callback(uuids)`` after each commit in this process that changed resource
    providers through the ORM: Placement bumps a provider's generation with its traits
    (``resource provider trait set/delete``), so the scheduler reads those providers'
    traits again. Once per callback."""
    from pocketstack.placement.models import ResourceProvider

    if callback in _RP_WATCHERS:
        return
    if not _RP_WATCHERS:
        _listen((ResourceProvider,), _RP_KEY, ("after_update",), lambda rp: rp.uuid,
                lambda uuids: [watcher(uuids) for watcher in list(_RP_WATCHERS)])
    _RP_WATCHERS.append(callback)
