"""Shelving (Nova's shelve / shelveOffload / unshelve).

shelve: the server is powered off and, when it boots from an image, snapshotted into a
``<name>-shelved`` image (system_metadata ``shelved_at``, ``shelved_image_id``,
``shelved_host``); it is then SHELVED and keeps its host and claim. With
``shelved_offload_time`` 0 (Nova's default) it is offloaded at once; a positive value
leaves it for the periodic task (compute.periodic), -1 never offloads automatically.
offload: the guest is destroyed, the allocation freed in Placement, host/node cleared:
SHELVED_OFFLOADED. unshelve: a SHELVED server is powered on where it is; an offloaded
one is scheduled again (2.77: optionally into another availability zone), spawned from
its shelved image, and the shelved image is deleted.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from pocketstack.api import errors
from pocketstack.api.context import RequestContext
from pocketstack.compute import instance_rows as rows, states
from pocketstack.compute.images import image_service
from pocketstack.compute.models import Instance
from pocketstack.compute.resize import image_props_of
from pocketstack.compute.scheduler.host_state import RequestSpec
from pocketstack.compute.scheduler.manager import NoValidHost, disk_gb
from pocketstack.compute.scheduler.pci import held_requests
from pocketstack.compute.transitions import begin, load, precheck, run, sysmeta
from pocketstack.db import utcnow

if TYPE_CHECKING:
    from pocketstack.compute.service import ComputeService

LOG = logging.getLogger(__name__)
SHELVE_FROM = (states.ACTIVE, states.STOPPED, states.PAUSED, states.SUSPENDED)
UNSHELVE_FROM = (states.SHELVED, states.SHELVED_OFFLOADED)
UNPIN = object()  # unshelve's "availability_zone": null (2.91)


def pinned_zone(inst: Any) -> str | None:
    """The zone the server is pinned to (Nova's request spec availability_zone): the one
    asked for at create, changed by an unshelve with a zone (2.77/2.91)."""
    return (getattr(inst, "system_metadata", None) or {}).get("pinned_availability_zone")


class Shelving:
    def __init__(self, svc: "ComputeService") -> None:
        self.svc = svc
        svc.tasks.delete_hooks.append(self._forget_image)

    # -- API side (state checks, 409s) ----------------------------------------------
    def shelve(self, ctx: RequestContext, inst: Instance) -> None:
        svc = self.svc
        volume_backed = svc.volumes.volume_backed(inst)
        image = None
        if not volume_backed:
            from pocketstack.compute.snapshots import Snapshots

            snaps = Snapshots(svc)
            precheck(svc, ctx, inst, "shelve", SHELVE_FROM)
            image = snaps._images().images.create(ctx, snaps.image_body(
                ctx, inst, f"{inst.display_name}-shelved", {}))
        try:
            begin(svc, ctx, inst, "shelve", SHELVE_FROM,
                  states.SHELVING_OFFLOADING if volume_backed else states.SHELVING)
        except errors.ApiError:
            if image is not None:
                self._delete_image(ctx, image["id"])
            raise
        if volume_backed:  # as Nova: nothing to snapshot, straight to offloaded
            svc.tasks.submit(self._offload, inst.uuid, ctx.request_id, True)
        else:
            svc.tasks.submit(self._shelve, ctx, inst.uuid, image["id"], ctx.request_id)

    def offload(self, ctx: RequestContext, inst: Instance) -> None:
        begin(self.svc, ctx, inst, "shelveOffload", [states.SHELVED],
              states.SHELVING_OFFLOADING)
        self.svc.tasks.submit(self._offload, inst.uuid, ctx.request_id, False)

    def unshelve(self, ctx: RequestContext, inst: Instance, az: Any = None,
                 host: str | None = None) -> None:
        """``az``: None (not given), a zone, or ``UNPIN`` (2.91: null, unpin the server);
        ``host``: a compute host to unshelve to (2.91, admin)."""
        svc = self.svc
        if (az is not None or host) and inst.vm_state != states.SHELVED_OFFLOADED:
            raise errors.Conflict(f'Specifying an availability zone or a host when '
                                  f'unshelving server "{inst.uuid}" with status '
                                  f'"{states.status(inst.vm_state, inst.task_state)}" is '
                                  'not supported. The server status must be '
                                  'SHELVED_OFFLOADED.')
        zones = {sv.host: sv.zone for sv in svc.hosts.services("nova-compute")}
        if az not in (None, UNPIN) and az not in set(zones.values()):
            raise errors.BadRequest("The requested availability zone is not available")
        pinned = pinned_zone(inst)
        expected = pinned if az is None else (None if az is UNPIN else az)
        if host:
            if host not in zones:
                raise errors.BadRequest(f"Compute host {host} could not be found.")
            if expected is not None and zones[host] != expected:
                raise errors.Conflict(f'Host "{host}" is not in the availability zone '
                                      f'"{expected}".')
        begin(svc, ctx, inst, "unshelve", UNSHELVE_FROM, states.UNSHELVING)
        if az is not None:  # the request spec's zone changes (pinned, moved or unpinned)
            svc.tasks._update(inst.uuid, system_metadata=sysmeta(
                load(svc, inst.uuid), pinned_availability_zone=expected))
        svc.tasks.submit(self._unshelve, inst.uuid, expected, ctx.request_id, host)

    # -- compute side -------------------------------------------------------------
    def _shelve(self, ctx: RequestContext, uuid: str, image_id: str, request_id: str) -> None:
        svc = self.svc
        from pocketstack.compute.tasks import driver_view

        def work(inst: Instance) -> dict[str, Any]:
            view = driver_view(inst)
            if inst.power_state != states.SHUTDOWN:
                svc.driver.power_off(inst.host, view)
            svc.tasks._update(uuid, task_state=states.SHELVING_IMAGE_UPLOADING,
                              power_state=states.SHUTDOWN)
            images = image_service(svc.cloud)

            def produce(write: Any) -> None:
                if svc.driver.snapshot(inst.host, view, write):
                    return
                path = images.data_path(inst.image_ref)  # no disk of its own: the base's
                if path is not None:
                    with open(path, "rb") as f:
                        while chunk := f.read(1 << 20):
                            write(chunk)

            images.write_data(ctx, image_id, produce)
            return {"vm_state": states.SHELVED, "power_state": states.SHUTDOWN,
                    "system_metadata": sysmeta(inst, shelved_at=utcnow().isoformat(),
                                               shelved_image_id=image_id,
                                               shelved_host=inst.host)}

        def failed(inst: Instance, exc: Exception) -> dict[str, Any]:
            self._delete_image(ctx, image_id)
            return {}

        if run(svc, uuid, request_id, "compute_shelve_instance", work, failed) and \
                svc.cloud.conf.get("DEFAULT", "shelved_offload_time") == 0:
            if svc.tasks._update(uuid, task_state=states.SHELVING_OFFLOADING) is not None:
                self._offload(uuid, request_id, False)

    def _offload(self, uuid: str, request_id: str, power_off: bool) -> None:
        svc = self.svc
        from pocketstack.compute.tasks import driver_view

        def work(inst: Instance) -> dict[str, Any]:
            if inst.host:
                svc.driver.destroy(inst.host, driver_view(inst))
                svc.scheduler.release(inst.host, uuid)  # frees the Placement allocation
            meta = sysmeta(inst, shelved_at=(inst.system_metadata or {}).get("shelved_at")
                           or utcnow().isoformat())
            return {"vm_state": states.SHELVED_OFFLOADED, "power_state": states.SHUTDOWN,
                    "host": None, "node": None, "system_metadata": meta}

        run(svc, uuid, request_id, "compute_shelve_offload_instance", work,
            lambda inst, exc: {"vm_state": inst.vm_state})

    def _unshelve(self, uuid: str, az: str | None, request_id: str,
                  to_host: str | None = None) -> None:
        svc = self.svc
        from pocketstack.compute.tasks import driver_view

        def work(inst: Instance) -> dict[str, Any]:
            meta = inst.system_metadata or {}
            image_id = meta.get("shelved_image_id")
            if inst.vm_state == states.SHELVED:
                svc.driver.power_on(inst.host, driver_view(inst))
                host, node, zone = inst.host, inst.node, inst.availability_zone
            else:
                spec = RequestSpec(
                    instance_uuid=uuid, project_id=inst.project_id, vcpus=inst.vcpus,
                    memory_mb=inst.memory_mb,
                    disk_gb=disk_gb(inst.root_gb, inst.ephemeral_gb,
                                    int((inst.flavor or {}).get("swap") or 0)),
                    availability_zone=az, force_host=to_host,
                    hints=dict(inst.scheduler_hints or {}),
                    extra_specs=dict((inst.flavor or {}).get("extra_specs") or {}),
                    image_props=image_props_of(svc.cloud, inst),
                    pci_requests=held_requests(svc.cloud.conf,
                                               (inst.flavor or {}).get("extra_specs") or {}))
                chosen = svc.scheduler.select_destination(spec)
                host, node, zone = chosen.host, chosen.nodename, chosen.availability_zone
                view = driver_view(inst)
                if image_id:
                    view["image_ref"] = image_id
                try:
                    svc.driver.spawn(host, view)
                except Exception:
                    svc.scheduler.release(host, uuid)
                    raise
                if svc.tasks.networks is not None:
                    svc.tasks.networks.rebind(uuid, host)
            if image_id:
                self._delete_image(RequestContext.admin(), image_id)
            return {"vm_state": states.ACTIVE, "power_state": states.RUNNING, "host": host,
                    "node": node, "availability_zone": zone,
                    "system_metadata": sysmeta(inst, shelved_at=None, shelved_image_id=None,
                                               shelved_host=None)}

        def failed(inst: Instance, exc: Exception) -> dict[str, Any]:
            message = str(exc) if isinstance(exc, NoValidHost) else f"{exc}"
            return {"vm_state": inst.vm_state, "fault": {
                "code": 500, "message": message or type(exc).__name__,
                "created": utcnow().isoformat(), "details": ""}}

        run(svc, uuid, request_id, "compute_unshelve_instance", work, failed)

    # -- periodic and cleanup --------------------------------------------------------
    def offload_due(self) -> None:
        """Offload the servers shelved for longer than ``shelved_offload_time``."""
        import datetime as dt

        from sqlalchemy import select

        wait = self.svc.cloud.conf.get("DEFAULT", "shelved_offload_time")
        if wait <= 0:
            return
        now = utcnow()
        with self.svc.cloud.db.write() as s:
            due = []
            for row in s.scalars(select(Instance).where(
                    Instance.deleted.is_(False), Instance.vm_state == states.SHELVED,
                    Instance.task_state.is_(None))):
                at = (row.system_metadata or {}).get("shelved_at")
                if at and dt.datetime.fromisoformat(at) + dt.timedelta(seconds=wait) <= now:
                    row.task_state = states.SHELVING_OFFLOADING
                    due.append(row.uuid)
        for uuid in due:
            self._offload(uuid, "", False)

    def _forget_image(self, uuid: str) -> None:
        system = rows.column(self.svc.cloud.db, uuid, "system_metadata")  # one column
        image_id = (system or {}).get("shelved_image_id")
        if image_id:
            self._delete_image(RequestContext.admin(), image_id)

    def _delete_image(self, ctx: RequestContext, image_id: str) -> None:
        images = image_service(self.svc.cloud)
        if images is None:
            return
        try:
            images.changes.delete(ctx, image_id)
        except errors.ApiError as exc:
            LOG.warning("could not delete shelved image %s: %s", image_id, exc)
