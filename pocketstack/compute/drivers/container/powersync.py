"""At start: the database is told what the instances of this host are really doing.

Instances outlive pocketstack; while it was down one may have stopped (its init
exited, the host killed it) or been started by hand. As Nova's ``_sync_power_states``,
each idle instance of this host whose hypervisor state differs from the database gets
its ``power_state`` (and the ``vm_state`` that follows) updated and an instance action
(``stop``/``start``/``pause``/``unpause``) with a ``compute_sync_power_state`` event,
so that ``openstack server event list`` shows why the server changed.
"""

from __future__ import annotations

import logging
from typing import Any, Callable

from sqlalchemy import select

from pocketstack.compute import states

LOG = logging.getLogger(__name__)
FROZEN = (states.PAUSED_POWER, states.SUSPENDED_POWER)


def _change(vm_state: str, power: int, found: int) -> tuple[str, str] | None:
    """(new vm_state, action name) for an instance found in ``found``; None: no change."""
    if found == states.SHUTDOWN and vm_state in (states.ACTIVE, states.PAUSED,
                                                 states.SUSPENDED, states.RESIZED):
        return states.STOPPED, "stop"
    if found == states.RUNNING and vm_state in (states.STOPPED, states.PAUSED,
                                                states.SUSPENDED):
        return states.ACTIVE, "start" if vm_state == states.STOPPED else "unpause"
    if found == states.PAUSED_POWER and vm_state == states.ACTIVE:
        return states.PAUSED, "pause"
    return None


def sync_power_states(cloud: Any, host: str, power_of: Callable[[str], int]) -> list[str]:
    """Update the instances of ``host`` that differ; returns their uuids."""
    from pocketstack.compute.models import Instance, InstanceAction
    from pocketstack.db import new_uuid, utcnow

    changed = []
    with cloud.db.write() as s:
        rows = list(s.scalars(select(Instance).where(Instance.host == host,
                                                     Instance.deleted == False,  # noqa: E712
                                                     Instance.task_state.is_(None))))
        for row in rows:
            found = power_of(row.uuid)
            if found == states.NOSTATE:
                continue  # not made by this driver (or already gone): nothing to compare
            if found == states.PAUSED_POWER and row.power_state in FROZEN:
                continue  # paused and suspended are both a frozen cgroup here
            change = _change(row.vm_state, row.power_state, found)
            if found == row.power_state and change is None:
                continue
            now = utcnow()
            before = (row.vm_state, row.power_state)
            row.power_state, row.updated_at = found, now
            if change is not None:
                row.vm_state = change[0]
                s.add(InstanceAction(
                    instance_uuid=row.uuid, action=change[1],
                    request_id="req-" + new_uuid(), user_id=None,
                    project_id=row.project_id, start_time=now, finish_time=now,
                    updated_at=now, message=None,
                    events=[{"event": "compute_sync_power_state", "start_time": now.isoformat(),
                             "finish_time": now.isoformat(), "result": "Success",
                             "traceback": None, "host": host}]))
            LOG.warning("instance %s: database said %s/power %s, the host has power %s: "
                        "now %s", row.uuid, before[0], before[1], found, row.vm_state)
            changed.append(row.uuid)
    return changed
