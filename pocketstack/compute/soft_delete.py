"""Soft delete (Nova's deferred delete: ``reclaim_instance_interval``).

With ``reclaim_instance_interval`` > 0 deleting a server that has been launched (and is
on a host: a shelved-offloaded one is deleted at once, as Nova's local delete) powers
it off and leaves it SOFT_DELETED (hidden from lists unless asked for by status); the
``restore`` action powers it on again (ACTIVE), ``forceDelete`` deletes it at once, and
the periodic reclaim (compute.periodic) deletes those soft-deleted for longer than the
interval. 0 (Nova's default) deletes at once.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from pocketstack.api.context import RequestContext
from pocketstack.compute import states
from pocketstack.compute.models import Instance
from pocketstack.compute.transitions import begin, run, sysmeta
from pocketstack.db import utcnow

if TYPE_CHECKING:
    from pocketstack.compute.service import ComputeService


class SoftDeletes:
    def __init__(self, svc: "ComputeService") -> None:
        self.svc = svc

    def interval(self) -> int:
        return int(self.svc.cloud.conf.get("DEFAULT", "reclaim_instance_interval"))

    def delete(self, ctx: RequestContext, inst: Instance) -> None:
        """DELETE /servers/{id}: soft when reclaiming is on and the server has launched."""
        if self.interval() <= 0 or inst.launched_at is None or not inst.host or \
                inst.task_state == states.DELETING:  # unlaunched/offloaded: Nova's local delete
            self.svc.servers.delete(ctx, inst)
            return
        begin(self.svc, ctx, inst, "delete", None, states.SOFT_DELETING)
        self.svc.tasks.submit(self._soft_delete, inst.uuid, ctx.request_id)

    def restore(self, ctx: RequestContext, inst: Instance) -> None:
        begin(self.svc, ctx, inst, "restore", [states.SOFT_DELETED], states.RESTORING)
        self.svc.tasks.submit(self._restore, inst.uuid, ctx.request_id)

    def force_delete(self, ctx: RequestContext, inst: Instance) -> None:
        self.svc.servers.delete(ctx, inst)  # any vm_state, lock checked (Nova's force_delete)

    def _soft_delete(self, uuid: str, request_id: str) -> None:
        svc = self.svc
        from pocketstack.compute.tasks import driver_view

        def work(inst: Instance) -> dict[str, Any]:
            if inst.host and inst.power_state != states.SHUTDOWN:
                svc.driver.power_off(inst.host, driver_view(inst))
            return {"vm_state": states.SOFT_DELETED, "power_state": states.SHUTDOWN,
                    "system_metadata": sysmeta(inst, soft_deleted_at=utcnow().isoformat())}

        run(svc, uuid, request_id, "compute_soft_delete_instance", work)

    def _restore(self, uuid: str, request_id: str) -> None:
        svc = self.svc
        from pocketstack.compute.tasks import driver_view

        def work(inst: Instance) -> dict[str, Any]:
            if inst.host:
                svc.driver.power_on(inst.host, driver_view(inst))
            return {"vm_state": states.ACTIVE, "power_state": states.RUNNING,
                    "system_metadata": sysmeta(inst, soft_deleted_at=None)}

        run(svc, uuid, request_id, "compute_restore_instance", work)

    def reclaim(self) -> None:
        """Delete the servers soft-deleted for longer than the interval (periodic)."""
        interval = self.interval()
        if interval <= 0:
            return
        limit = utcnow() - dt.timedelta(seconds=interval)
        due = []
        with self.svc.cloud.db.write() as s:
            for row in s.scalars(select(Instance).where(
                    Instance.deleted.is_(False), Instance.vm_state == states.SOFT_DELETED,
                    Instance.task_state.is_(None))):
                at = (row.system_metadata or {}).get("soft_deleted_at")
                when = dt.datetime.fromisoformat(at) if at else row.updated_at
                if when is None or when <= limit:
                    row.task_state, row.updated_at = states.DELETING, utcnow()
                    due.append(row.uuid)
        for uuid in due:
            self.svc.tasks.delete(uuid, "")
