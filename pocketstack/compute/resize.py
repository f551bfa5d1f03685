"""Resizing a server to another flavor: resize, then confirmResize or revertResize.

The scheduling happens in the API call (no valid host: 400, as Nova); the move runs
asynchronously and ends in VERIFY_RESIZE (vm_state ``resized``). Until the resize is
confirmed the source host keeps its claim, so that a revert always fits.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from pocketstack.api import errors
from pocketstack.api.context import RequestContext
from pocketstack.compute import states
from pocketstack.compute.flavors import snapshot
from pocketstack.compute.models import Instance, InstanceAction
from pocketstack.compute.scheduler.host_state import RequestSpec
from pocketstack.compute.scheduler.manager import NoValidHost, disk_gb
from pocketstack.db import utcnow

if TYPE_CHECKING:
    from pocketstack.compute.service import ComputeService


class Resizes:
    def __init__(self, svc: "ComputeService") -> None:
        self.svc = svc
        self.db = svc.cloud.db

    def _action(self, s: Any, ctx: RequestContext, uuid: str, action: str) -> None:
        s.add(InstanceAction(instance_uuid=uuid, action=action, request_id=ctx.request_id,
                             user_id=ctx.user_id, project_id=ctx.project_id,
                             start_time=utcnow(), events=[]))

    def resize(self, ctx: RequestContext, inst: Instance, flavor_ref: str) -> None:
        svc = self.svc
        svc.servers.check_lock(ctx, inst)
        flavor_ref = str(flavor_ref).rstrip("/").rsplit("/", 1)[-1]
        try:
            flavor = svc.flavors.get(flavor_ref, inst.project_id, ctx.is_admin)
        except errors.NotFound:
            raise errors.BadRequest(f"Flavor {flavor_ref} could not be found.") from None
        if flavor.flavorid == inst.flavorid:
            raise errors.BadRequest("When resizing, instances must change flavor!")
        with self.db.write() as s:
            row = s.scalar(select(Instance).where(Instance.uuid == inst.uuid))
            if row is None or row.deleted:
                raise errors.NotFound(f"Instance {inst.uuid} could not be found.")
            if row.vm_state not in (states.ACTIVE, states.STOPPED):
                raise svc.servers.invalid_state(row, "resize", "vm_state")
            if row.task_state is not None:
                raise svc.servers.invalid_state(row, "resize", "task_state")
            svc.quotas.check_delta(s, row.project_id, flavor.vcpus - row.vcpus,
                                   flavor.memory_mb - row.memory_mb)
            row.task_state, row.updated_at = states.RESIZE_PREP, utcnow()
            self._action(s, ctx, row.uuid, "resize")
            source = {"host": row.host, "node": row.node, "vm_state": row.vm_state,
                      "power_state": row.power_state, "flavor": dict(row.flavor or {})}
        same_host = svc.cloud.conf.get("DEFAULT", "allow_resize_to_same_host")
        spec = RequestSpec(instance_uuid=inst.uuid, project_id=inst.project_id,
                           vcpus=flavor.vcpus, memory_mb=flavor.memory_mb,
                           disk_gb=disk_gb(flavor.root_gb, flavor.ephemeral_gb, flavor.swap),
                           availability_zone=inst.availability_zone,
                           hints=dict(inst.scheduler_hints or {}),
                           ignore_hosts=set() if same_host else {inst.host or ""})
        if same_host:  # the claim is keyed by server: free the old one to re-claim
            svc.scheduler.release(inst.host, inst.uuid)
        try:
            target = svc.scheduler.select_destination(spec)
        except NoValidHost as exc:
            if same_host:
                svc.scheduler.load()
            svc.tasks._update(inst.uuid, task_state=None)
            raise errors.BadRequest(str(exc)) from None
        svc.tasks._update(inst.uuid, resize_from=source, task_state=states.RESIZE_MIGRATING)
        svc.tasks.submit(self._finish, inst.uuid, snapshot(flavor), target.host,
                         target.nodename, ctx.request_id)

    def _finish(self, uuid: str, flavor: dict[str, Any], host: str, node: str,
                request_id: str) -> None:
        svc = self.svc
        started = utcnow()
        with self.db.read() as s:
            inst = s.scalar(select(Instance).where(Instance.uuid == uuid))
        if inst is None or inst.deleted:
            svc.scheduler.release(host, uuid)
            return
        view = {**svc.tasks.spawn_view(inst),
                "vcpus": flavor["vcpus"], "memory_mb": flavor["memory_mb"]}  # new limits
        svc.driver.spawn(host, view)
        if svc.tasks.networks is not None:
            svc.tasks.networks.rebind(uuid, host)
        if inst.host and inst.host != host:
            svc.driver.power_off(inst.host, view)
        source = inst.resize_from or {}
        power = states.RUNNING if source.get("vm_state") == states.ACTIVE else states.SHUTDOWN
        if power == states.SHUTDOWN:
            svc.driver.power_off(host, view)
        svc.tasks._update(uuid, flavor=flavor, flavorid=flavor["flavorid"],
                          vcpus=flavor["vcpus"], memory_mb=flavor["memory_mb"],
                          root_gb=flavor["root_gb"], ephemeral_gb=flavor["ephemeral_gb"],
                          host=host, node=node, vm_state=states.RESIZED, task_state=None,
                          power_state=power)
        svc.tasks._event(uuid, request_id, "compute_finish_resize", host, "Success", started)

    def _resized(self, s: Any, inst: Instance, action: str) -> Instance:
        """The instance's row, locked in this write, which must be waiting in RESIZED."""
        row = s.scalar(select(Instance).where(Instance.uuid == inst.uuid))
        if row is None or row.deleted:
            raise errors.NotFound(f"Instance {inst.uuid} could not be found.")
        if row.vm_state != states.RESIZED:
            raise self.svc.servers.invalid_state(row, action, "vm_state")
        return row

    def confirm(self, ctx: RequestContext, inst: Instance) -> None:
        svc = self.svc
        svc.servers.check_lock(ctx, inst)
        with self.db.write() as s:
            row = self._resized(s, inst, "confirmResize")
            source = dict(row.resize_from or {})
            row.vm_state = source.get("vm_state", states.ACTIVE)
            row.resize_from, row.updated_at = None, utcnow()
            self._action(s, ctx, row.uuid, "confirmResize")
            new_host = row.host
        if source.get("host") and source["host"] != new_host:
            svc.driver.destroy(source["host"], {"uuid": inst.uuid})
            svc.scheduler.release(source["host"], inst.uuid)

    def revert(self, ctx: RequestContext, inst: Instance) -> None:
        svc = self.svc
        svc.servers.check_lock(ctx, inst)
        with self.db.write() as s:
            row = self._resized(s, inst, "revertResize")
            row.task_state, row.updated_at = states.RESIZE_REVERTING, utcnow()
            self._action(s, ctx, row.uuid, "revertResize")
        svc.tasks.submit(self._revert, inst.uuid, ctx.request_id)

    def _revert(self, uuid: str, request_id: str) -> None:
        svc = self.svc
        started = utcnow()
        with self.db.read() as s:
            inst = s.scalar(select(Instance).where(Instance.uuid == uuid))
        if inst is None or inst.deleted:
            return
        source = dict(inst.resize_from or {})
        flavor = source.get("flavor") or {}
        if inst.host and inst.host != source.get("host"):
            svc.driver.destroy(inst.host, {"uuid": uuid})
            svc.scheduler.release(inst.host, uuid)
        svc.tasks._update(uuid, flavor=flavor, flavorid=flavor.get("flavorid", inst.flavorid),
                          vcpus=flavor.get("vcpus", inst.vcpus),
                          memory_mb=flavor.get("memory_mb", inst.memory_mb),
                          root_gb=flavor.get("root_gb", inst.root_gb),
                          ephemeral_gb=flavor.get("ephemeral_gb", inst.ephemeral_gb),
                          host=source.get("host"), node=source.get("node"),
                          vm_state=source.get("vm_state", states.ACTIVE), task_state=None,
                          power_state=source.get("power_state", states.RUNNING),
                          resize_from=None)
        if inst.host and inst.host == source.get("host"):  # same host: the old limits again
            from pocketstack.compute.tasks import driver_view

            view = {**driver_view(inst), "vcpus": flavor.get("vcpus", inst.vcpus),
                    "memory_mb": flavor.get("memory_mb", inst.memory_mb)}
            svc.driver.spawn(inst.host, view)
            if source.get("power_state") == states.SHUTDOWN:
                svc.driver.power_off(inst.host, view)
        if svc.tasks.networks is not None:
            svc.tasks.networks.rebind(uuid, source.get("host"))
        svc.tasks._event(uuid, request_id, "compute_finish_revert_resize", source.get("host"),
                         "Success", started)
