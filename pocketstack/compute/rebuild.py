"""Rebuild (Nova's ``rebuild`` server action): a server boots again from an image.

The image is checked as on create (exists, visible, active, fits the flavor); the
server shows ``REBUILD`` (task_state ``rebuilding``) while the driver re-spawns it,
then returns to ACTIVE (a stopped server stays SHUTOFF, as in Nova). Ports, host and
flavor stay as they are.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from pocketstack.api import errors
from pocketstack.api.context import RequestContext
from pocketstack.compute import disk_config, numa, states
from pocketstack.compute.images import lookup_image
from pocketstack.compute.scheduler.filters.image_properties import image_props
from pocketstack.compute.scheduler.host_state import RequestSpec
from pocketstack.compute.scheduler.manager import NoValidHost
from pocketstack.db import utcnow

if TYPE_CHECKING:
    from pocketstack.compute.service import ComputeService

LOG = logging.getLogger(__name__)
REBUILDING = "rebuilding"
ALLOWED = (states.ACTIVE, states.STOPPED, states.ERROR)


def rebuild(svc: "ComputeService", ctx: RequestContext, inst: Any, args: dict[str, Any],
            reimage: bool = False) -> Any:
    """``reimage`` (2.93): a volume-backed server's root volume is rewritten from the new
    image (before, such a server may only be rebuilt from the image it has)."""
    from pocketstack.compute.transitions import precheck

    servers = svc.servers
    precheck(svc, ctx, inst, "rebuild", ALLOWED)
    image = lookup_image(svc.cloud, ctx, str(args["imageRef"]))
    if inst.memory_mb < int(image.get("min_ram") or 0):
        raise errors.BadRequest("Flavor's memory is too small for requested image.")
    if inst.root_gb and inst.root_gb < int(image.get("min_disk") or 0):
        raise errors.BadRequest("Flavor's disk is too small for requested image.")
    if inst.image_ref and image["id"] != inst.image_ref:
        _check_numa_unchanged(inst, image)
    changes: dict[str, Any] = {"image_ref": image["id"], "task_state": REBUILDING}
    root = None
    if svc.volumes.volume_backed(inst):  # volume-backed: its image is its root volume's
        root = next((b for b in svc.volumes.attachments(inst.uuid) if b.boot_index == 0),
                    None)
        if not reimage and (root is None or root.image_id != image["id"]):
            raise errors.BadRequest("Unable to rebuild with a different image for a "
                                    "volume-backed server.")
        changes["image_ref"] = ""
        if not reimage:
            root = None
    if "metadata" in args:
        svc.quotas.check_metadata(inst.project_id, args["metadata"] or {})
        changes["server_metadata"] = dict(args["metadata"] or {})
    for key, column in (("name", "display_name"), ("description", "description"),
                        ("accessIPv4", "access_ip_v4"), ("accessIPv6", "access_ip_v6"),
                        ("user_data", "user_data"), ("hostname", "hostname")):
        if key in args:
            changes[column] = args[key] or (None if key != "name" else args[key])
    changes.update(disk_config.changes(inst, disk_config.with_image(
        image, disk_config.requested(args, "rebuild")), image))
    previous = inst.vm_state
    refused = image["id"] != inst.image_ref and not svc.scheduler.rebuild_passes(
        inst.host, RequestSpec(instance_uuid=inst.uuid, project_id=inst.project_id, vcpus=0,
                               memory_mb=0, disk_gb=0, image_props=image_props(image),
                               extra_specs=(inst.flavor or {}).get("extra_specs") or {}))
    old_image = inst.image_ref
    updated = servers.update(ctx, inst.uuid, changes)
    servers.record_action(ctx, inst.uuid, "rebuild")
    svc.tasks.submit(_finish, svc, inst.uuid, inst.host, previous,
                     (root.volume_id, root.attachment_id, image["id"]) if root else None,
                     old_image if refused else None)
    return updated


def _check_numa_unchanged(inst: Any, image: dict[str, Any]) -> None:
    """A rebuild keeps the server's resources: a new image whose NUMA properties (nodes,
    CPU pinning and thread policies, page size, PCI NUMA affinity) would give the guest
    another topology is refused, as Nova does since bug 1763766 (a move would be needed
    to place it)."""
    specs = (inst.flavor or {}).get("extra_specs") or {}
    built = ((inst.numa_topology or {}).get("request") or {}).get("image") or {}
    before = numa.request(specs, built, inst.vcpus, inst.memory_mb)
    after = numa.request(specs, image, inst.vcpus, inst.memory_mb)
    if {k: v for k, v in (before or {}).items() if k != "image"} != \
            {k: v for k, v in (after or {}).items() if k != "image"}:
        raise errors.BadRequest("An instance's NUMA topology cannot be changed as part of a "
                                "rebuild. The image provided is invalid for this instance.")


def _reimage(svc: "ComputeService", uuid: str, host: str | None,
             volume_id: str, attachment_id: str, image_id: str) -> None:
    """Rewrite the root volume from the image, as Nova 2.93 does with Cinder: a new
    (reserved) attachment holds the volume while Cinder re-images it, then attaches it."""
    from sqlalchemy import select

    from pocketstack.compute.models import BlockDeviceMapping

    ctx, vol = RequestContext.admin(), svc.volumes.volume
    vol.detach(ctx, attachment_id)
    new = vol.reserve(ctx, volume_id, uuid)
    vol.actions.reimage(ctx, volume_id, image_id, True)
    if vol.get_volume(ctx, volume_id)["status"] != "reserved":
        raise RuntimeError(f"re-imaging volume {volume_id} failed")
    vol.attach(ctx, new, {"host": host or "pocketstack", "instance": uuid}, "/dev/vda")
    with svc.cloud.db.write() as s:
        row = s.scalar(select(BlockDeviceMapping).where(
            BlockDeviceMapping.instance_uuid == uuid, BlockDeviceMapping.volume_id == volume_id))
        if row is not None:
            row.attachment_id, row.image_id = new, image_id


def _finish(svc: "ComputeService", uuid: str, host: str | None, previous: str,
            reimage: tuple[str, str, str] | None = None, refused_keep: str | None = None
            ) -> None:
    if refused_keep is not None:  # the new image's properties do not fit the host: Nova
        # puts the server in ERROR with NoValidHost and rolls back its image
        svc.tasks._update(uuid, vm_state=states.ERROR, task_state=None, image_ref=refused_keep,
                          fault={"code": 500, "message": str(NoValidHost()),
                                 "created": utcnow().isoformat(), "details": ""})
        return
    inst = svc.servers.update(RequestContext.admin(), uuid, {})
    view = svc.tasks.spawn_view(inst)  # (a new config drive: the instance changed)
    try:
        if reimage is not None:
            _reimage(svc, uuid, host, *reimage)
        if host:
            rebuild_in_place = getattr(svc.driver, "rebuild", None)
            if rebuild_in_place is not None:  # keeps the volumes attached (as Nova)
                rebuild_in_place(host, view)
            else:
                svc.driver.destroy(host, view)
                svc.driver.spawn(host, view)
            if previous == states.STOPPED:
                svc.driver.power_off(host, view)
    except Exception as exc:  # the fake driver's injected failures
        LOG.warning("rebuild of %s failed: %s", uuid, exc)
        svc.tasks._update(uuid, vm_state=states.ERROR, task_state=None)
        return
    stopped = previous == states.STOPPED
    svc.tasks._update(uuid, vm_state=states.STOPPED if stopped else states.ACTIVE,
                      task_state=None,
                      power_state=states.SHUTDOWN if stopped else states.RUNNING)
