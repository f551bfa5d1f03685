"""Cold moves: resize to another flavor and cold migration (Nova's ``migrate``), one path.

Both are a migration record (type ``resize`` or ``migration``) and the same flow: the
server's claim on its source host is handed to the migration record (Nova's
migration-based allocations: the migration's uuid is the Placement consumer holding the
source), the scheduler claims the destination for the server, the driver moves it, and
the server waits in VERIFY_RESIZE (vm_state ``resized``). confirmResize frees the
source (the migration's allocations); revertResize frees the destination and hands the
source claim back to the server. Scheduling happens in the API call (no valid host:
400, as Nova); the move itself runs asynchronously.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from pocketstack.api import errors
from pocketstack.api.context import RequestContext
from pocketstack.compute import numa, states
from pocketstack.compute.flavors import snapshot
from pocketstack.compute.images import lookup_image
from pocketstack.compute.models import Instance, InstanceAction
from pocketstack.compute.scheduler.filters.image_properties import image_props
from pocketstack.compute.scheduler.host_state import RequestSpec
from pocketstack.compute.scheduler.manager import NoValidHost, disk_gb
from pocketstack.compute.scheduler.pci import held_requests, requests_for
from pocketstack.db import utcnow

if TYPE_CHECKING:
    from pocketstack.compute.service import ComputeService

LOG = logging.getLogger(__name__)


def image_props_of(cloud: Any, inst: Instance) -> dict[str, Any]:
    """The scheduler's share of the server's image, so that a move keeps its rules (its
    ``trait:`` properties...) as Nova's request spec does; none for a server booted from a
    volume or whose image is gone."""
    if not inst.image_ref:
        return {}
    try:
        return image_props(lookup_image(cloud, RequestContext.admin(), inst.image_ref))
    except errors.ApiError:
        return {}


def spec_for(inst: Instance, flavor: dict[str, Any], ignore: set[str],
             force_host: str | None = None, conf: Any = None, cloud: Any = None
             ) -> RequestSpec:
    """The RequestSpec moving ``inst`` with ``flavor`` (a flavor snapshot); with ``conf``,
    its PCI requests too (none for an alias the config no longer defines); with ``cloud``,
    its image's properties."""
    extra_specs = dict(flavor.get("extra_specs") or {})
    pci_requests = held_requests(conf, extra_specs) if conf else []
    return RequestSpec(instance_uuid=inst.uuid, project_id=inst.project_id,
                       vcpus=int(flavor["vcpus"]), memory_mb=int(flavor["memory_mb"]),
                       disk_gb=disk_gb(int(flavor.get("root_gb") or 0),
                                       int(flavor.get("ephemeral_gb") or 0),
                                       int(flavor.get("swap") or 0)),
                       availability_zone=inst.availability_zone,
                       hints=dict(inst.scheduler_hints or {}), ignore_hosts=ignore,
                       force_host=force_host, numa=numa.for_resize(flavor, inst),
                       extra_specs=extra_specs, pci_requests=pci_requests,
                       image_props=image_props_of(cloud, inst) if cloud is not None else {})


class Resizes:
    def __init__(self, svc: "ComputeService") -> None:
        self.svc = svc
        self.db = svc.cloud.db

    def _action(self, s: Any, ctx: RequestContext, uuid: str, action: str) -> None:
        s.add(InstanceAction(instance_uuid=uuid, action=action, request_id=ctx.request_id,
                             user_id=ctx.user_id, project_id=ctx.project_id,
                             start_time=utcnow(), events=[]))

    def resize(self, ctx: RequestContext, inst: Instance, flavor_ref: str) -> None:
        flavor_ref = str(flavor_ref).rstrip("/").rsplit("/", 1)[-1]
        try:
            flavor = self.svc.flavors.get(flavor_ref, inst.project_id, ctx.is_admin)
        except errors.NotFound:
            raise errors.BadRequest(f"Flavor {flavor_ref} could not be found.") from None
        if flavor.flavorid == inst.flavorid:
            raise errors.BadRequest("When resizing, instances must change flavor!")
        requests_for(self.svc.cloud.conf, flavor.extra_specs or {})  # 400: unknown alias
        wanted = snapshot(flavor)
        numa.for_resize(wanted, inst)  # 400 for NUMA specs Nova rejects, before any change
        self._start(ctx, inst, "resize", wanted, None)

    def migrate(self, ctx: RequestContext, inst: Instance, host: str | None) -> None:
        """Cold migration: the same flavor, to another host (``host`` from 2.56)."""
        if host is not None:
            if host not in self.svc.driver.hosts():
                raise errors.BadRequest(f"Compute host {host} could not be found.")
            if host == inst.host:
                raise errors.BadRequest("The target host can't be the same one.")
        self._start(ctx, inst, "migration", dict(inst.flavor or {}), host)

    def _start(self, ctx: RequestContext, inst: Instance, kind: str, flavor: dict[str, Any],
               host: str | None) -> None:
        svc = self.svc
        svc.servers.check_lock(ctx, inst)
        name = "resize" if kind == "resize" else "migrate"
        with self.db.write() as s:
            row = s.scalar(select(Instance).where(Instance.uuid == inst.uuid))
            if row is None or row.deleted:
                raise errors.NotFound(f"Instance {inst.uuid} could not be found.")
            if row.vm_state not in (states.ACTIVE, states.STOPPED):
                raise svc.servers.invalid_state(row, name, "vm_state")
            if row.task_state is not None:
                raise svc.servers.invalid_state(row, name, "task_state")
            if kind == "resize":
                svc.quotas.check_delta(s, row.project_id, flavor["vcpus"] - row.vcpus,
                                       flavor["memory_mb"] - row.memory_mb)
            row.task_state, row.updated_at = states.RESIZE_PREP, utcnow()
            self._action(s, ctx, row.uuid, name)
            mig = svc.migrations.create(s, row, kind, "pre-migrating", dest=host,
                                        new_flavorid=flavor.get("flavorid"))
            source = {"host": row.host, "node": row.node, "vm_state": row.vm_state,
                      "power_state": row.power_state, "flavor": dict(row.flavor or {}),
                      "migration_uuid": mig.uuid}
        same_host = kind == "resize" and svc.cloud.conf.get("DEFAULT",
                                                            "allow_resize_to_same_host")
        spec = spec_for(inst, flavor, set() if same_host else {inst.host or ""}, host,
                        svc.cloud.conf, svc.cloud)
        svc.scheduler.transfer(inst.host, inst.uuid, mig.uuid)
        try:
            target = svc.scheduler.select_destination(spec)
        except NoValidHost as exc:
            svc.scheduler.transfer(inst.host, mig.uuid, inst.uuid, migration=False)
            svc.tasks._update(inst.uuid, task_state=None)
            svc.migrations.update(mig.uuid, status="error")
            raise errors.BadRequest(str(exc)) from None
        svc.tasks._update(inst.uuid, resize_from=source, task_state=states.RESIZE_MIGRATING)
        svc.migrations.update(mig.uuid, status="migrating", dest_compute=target.host,
                              dest_node=target.nodename, dest_host=target.host)
        svc.tasks.submit(self._finish, inst.uuid, flavor, target.host, target.nodename,
                         ctx.request_id, mig.uuid)

    def _finish(self, uuid: str, flavor: dict[str, Any], host: str, node: str,
                request_id: str, mig_uuid: str) -> None:
        svc = self.svc
        started = utcnow()
        with self.db.read() as s:
            inst = s.scalar(select(Instance).where(Instance.uuid == uuid))
        if inst is None or inst.deleted:
            svc.scheduler.release(host, uuid)
            svc.migrations.update(mig_uuid, status="error")
            return
        view = {**svc.tasks.spawn_view(inst),
                "vcpus": flavor["vcpus"], "memory_mb": flavor["memory_mb"],  # new limits
                "root_gb": flavor.get("root_gb"), "ephemeral_gb": flavor.get("ephemeral_gb")}
        source = inst.resize_from or {}
        try:
            self._move(inst.host, host, view)
        except Exception as exc:  # injected failures: back on the source, as before
            LOG.warning("cold move of %s to %s failed: %s", uuid, host, exc)
            svc.scheduler.release(host, uuid)
            svc.scheduler.transfer(inst.host, mig_uuid, uuid, migration=False)
            svc.migrations.update(mig_uuid, status="error")
            svc.tasks._update(uuid, task_state=None, resize_from=None)
            svc.tasks._event(uuid, request_id, "compute_prep_resize", host, "Error", started,
                             tb=str(exc))
            return
        svc.migrations.update(mig_uuid, status="post-migrating")
        if svc.tasks.networks is not None:
            svc.tasks.networks.rebind(uuid, host)
        power = states.RUNNING if source.get("vm_state") == states.ACTIVE else states.SHUTDOWN
        if power == states.SHUTDOWN:
            svc.driver.power_off(host, view)
        svc.tasks._update(uuid, flavor=flavor, flavorid=flavor["flavorid"],
                          vcpus=flavor["vcpus"], memory_mb=flavor["memory_mb"],
                          root_gb=flavor["root_gb"], ephemeral_gb=flavor["ephemeral_gb"],
                          host=host, node=node, vm_state=states.RESIZED, task_state=None,
                          power_state=power)
        svc.migrations.update(mig_uuid, status="finished")
        svc.tasks._event(uuid, request_id, "compute_finish_resize", host, "Success", started)

    def _move(self, source: str | None, dest: str, view: dict[str, Any]) -> None:
        """The driver's cold migration; a driver without one re-spawns on the destination
        and powers the source copy off (kept until confirmed)."""
        driver = self.svc.driver
        if source and source != dest:
            try:
                driver.migrate(source, dest, view, False)
                return
            except NotImplementedError:
                pass
        driver.spawn(dest, view)
        if source and source != dest:
            driver.power_off(source, view)

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
        mig = source.get("migration_uuid")
        if mig:
            svc.migrations.update(mig, status="confirming")
        if source.get("host") and source["host"] != new_host:
            svc.driver.destroy(source["host"], {"uuid": inst.uuid})
        svc.scheduler.release(source.get("host"), mig or inst.uuid)
        if mig:
            svc.migrations.update(mig, status="confirmed")

    def revert(self, ctx: RequestContext, inst: Instance) -> None:
        svc = self.svc
        svc.servers.check_lock(ctx, inst)
        with self.db.write() as s:
            row = self._resized(s, inst, "revertResize")
            row.task_state, row.updated_at = states.RESIZE_REVERTING, utcnow()
            self._action(s, ctx, row.uuid, "revertResize")
            mig = (row.resize_from or {}).get("migration_uuid")
        if mig:
            svc.migrations.update(mig, status="reverting")
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
        mig = source.get("migration_uuid")
        if inst.host and inst.host != source.get("host"):
            svc.driver.destroy(inst.host, {"uuid": uuid})
        svc.scheduler.release(inst.host, uuid)
        if mig:
            svc.scheduler.transfer(source.get("host"), mig, uuid, migration=False)
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
        if mig:
            svc.migrations.update(mig, status="reverted")
        svc.tasks._event(uuid, request_id, "compute_finish_revert_resize", source.get("host"),
                         "Success", started)
