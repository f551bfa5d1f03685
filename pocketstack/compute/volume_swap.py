"""Swap the volume of a server's attachment: PUT /servers/{id}/os-volume_attachments/{old}
with another ``volumeId`` (policy ``os_compute_api:os-volumes-attachments:swap``).

As Nova since its fix of bug 2112187: swapping is the callback of a Block Storage volume
migration, so the old volume must be migrating (``migration_status`` set; our Block
Storage has no migration yet, an admin sets it with ``os-reset_status``), else 409. Then
Nova's flow: the new volume must exist (400), be detached (400), be as large (400); the
old volume goes ``detaching``, the swap is refused for a multiattach volume with more
than one read/write attachment (400); a new attachment of the new volume is made for the
server, the driver moves the guest's disk from the old volume to the new one on the same
device (the fake driver: nothing to copy; the container driver detaches and attaches:
the data is not copied), and Cinder's ``os-migrate_volume_completion`` for a swap is
done by its equivalent: the old volume is detached (``available``, migration
``success``) and the block device mapping names the new volume and its attachment. The
work is done within the call (the fake hypervisor has nothing to wait for).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from pocketstack.api import errors
from pocketstack.api.context import RequestContext
from pocketstack.compute import states
from pocketstack.compute.models import BlockDeviceMapping, Instance

if TYPE_CHECKING:
    from pocketstack.compute.volumes import ServerVolumes

LOG = logging.getLogger(__name__)
SWAP_STATES = (states.ACTIVE, states.PAUSED, states.RESIZED)


def _invalid(reason: str) -> errors.BadRequest:
    return errors.BadRequest(f"Invalid volume: {reason}")


def swap(volumes: "ServerVolumes", ctx: RequestContext, inst: Instance, old_id: str,
         new_id: str) -> BlockDeviceMapping:
    """Swap ``old_id`` for ``new_id`` on ``inst``; returns the updated mapping."""
    vol = volumes.volume
    admin = RequestContext.admin()  # the policy passed: compute acts as Cinder's peer
    try:
        old = vol.get_volume(admin, old_id)
    except errors.NotFound:
        raise errors.NotFound(f"Volume {old_id} could not be found.") from None
    if not old.get("migration_status"):
        raise errors.Conflict(f"volume {old_id} is not migrating; this API should only be "
                              "called by Cinder")
    try:
        new = vol.get_volume(admin, new_id)
    except errors.NotFound:
        raise errors.BadRequest(f"Volume {new_id} could not be found.") from None
    volumes.svc.servers.check_lock(ctx, inst)
    if inst.vm_state not in SWAP_STATES:
        raise volumes.svc.servers.invalid_state(inst, "swap_volume", "vm_state")
    if inst.task_state is not None:
        raise volumes.svc.servers.invalid_state(inst, "swap_volume", "task_state")
    if not any(a.get("server_id") == inst.uuid for a in old.get("attachments") or []):
        raise _invalid("Old volume is attached to a different instance.")
    if new.get("attach_status") == "attached" or new.get("attachments"):
        raise _invalid("New volume must be detached in order to swap.")
    if int(new.get("size") or 0) < int(old.get("size") or 0):
        raise _invalid("New volume must be the same size or larger.")
    try:
        vol.actions.begin_detaching(admin, old_id)
    except errors.BadRequest as exc:
        raise _invalid(exc.message) from None
    try:
        if _read_write(vol, admin, old) > 1:
            raise errors.BadRequest("Swapping multi-attach volumes with more than one "
                                    "read/write attachment is not supported.")
        row = next((r for r in volumes.attachments(inst.uuid) if r.volume_id == old_id),
                   None)
        if row is None:
            raise errors.NotFound(f"No volume Block Device Mapping with id {old_id}.")
        new_attachment = vol.reserve(admin, new_id, inst.uuid)
    except Exception:
        vol.actions.roll_detaching(admin, old_id)
        raise
    volumes.svc.servers.record_action(ctx, inst.uuid, "swap_volume")
    try:
        _move(volumes, admin, inst, row, new_attachment)
    except Exception:
        vol.actions.roll_detaching(admin, old_id)
        raise
    return _complete(volumes, admin, row, old_id, new_id, new_attachment, new)


def _read_write(vol: Any, ctx: RequestContext, old: dict[str, Any]) -> int:
    """Read/write attachments of the old volume (each counts when its mode is unknown)."""
    found = old.get("attachments") or []
    if len(found) <= 1:
        return len(found)
    count = 0
    for a in found:
        try:
            mode = vol.actions.attachment_get(ctx, a.get("attachment_id"))
            mode = (mode.get("attachment") or mode).get("attach_mode", "rw")
        except errors.ApiError:
            mode = "rw"
        count += mode == "rw"
    return count


def _move(volumes: "ServerVolumes", ctx: RequestContext, inst: Instance,
          row: BlockDeviceMapping, new_attachment: str) -> None:
    """The hypervisor's part: the guest's device leaves the old volume for the new one."""
    vol = volumes.volume
    connector = {"host": inst.host or "pocketstack", "instance": inst.uuid,
                 "platform": "x86_64", "os_type": "linux", "multipath": False}
    try:
        old_info = vol.connection_info(ctx, row.volume_id)
    except errors.ApiError:
        old_info = {"data": {"volume_id": row.volume_id}}
    try:
        info = vol.attach(ctx, new_attachment, connector, mountpoint=row.device_name)
        volumes._driver("detach_volume", inst, old_info, row.device_name)
    except Exception:
        vol.detach(ctx, new_attachment)
        raise
    try:
        volumes._driver("attach_volume", inst, info, row.device_name)
    except Exception:  # back to the old volume
        LOG.warning("swap of %s on %s failed: the old volume is attached back",
                    row.volume_id, inst.uuid)
        vol.detach(ctx, new_attachment)
        volumes._driver("attach_volume", inst, old_info, row.device_name)
        raise


def _complete(volumes: "ServerVolumes", ctx: RequestContext, row: BlockDeviceMapping,
              old_id: str, new_id: str, new_attachment: str, new: dict[str, Any]
              ) -> BlockDeviceMapping:
    """Cinder's os-migrate_volume_completion for a swap, and the mapping's new volume."""
    vol = volumes.volume
    if row.attachment_id:
        try:
            vol.detach(ctx, row.attachment_id)
        except errors.NotFound:
            pass
    try:
        vol.actions.reset_status(ctx, old_id, {"migration_status": "success"})
    except errors.ApiError as exc:
        LOG.warning("volume %s: migration status not set: %s", old_id, exc)
    with volumes.db.write() as s:
        bdm = s.scalar(select(BlockDeviceMapping).where(BlockDeviceMapping.id == row.id))
        if bdm is None:
            raise errors.NotFound(f"No volume Block Device Mapping with id {old_id}.")
        bdm.volume_id, bdm.attachment_id = new_id, new_attachment
        bdm.volume_size = int(new.get("size") or 0) or bdm.volume_size
        s.flush()
        s.expunge(bdm)
    return bdm
