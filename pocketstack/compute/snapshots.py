"""Server snapshots and backups (createImage / createBackup) into the Image service.

The new image is created at once in ``queued`` with Nova's properties
(``image_type=snapshot|backup``, ``instance_uuid``, ``base_image_ref``, ``user_id``,
the base image's min_ram/min_disk/formats and inherited properties, plus the
request's metadata); the copy of the data runs as a compute task: for the fake
driver the snapshot's bytes are the base image's (``copy_image_data``, through the
Image service's ``write_data``), then the image is ``active``.
Backups are rotated: the oldest backups of that server and type beyond
``rotation`` are deleted.

A volume-backed server's snapshot is Nova's: each of its volumes snapshotted in Block
Storage (forced: they are in use), and an image of no data (size 0, active) whose
``block_device_mapping`` property (JSON, ``bdm_v2``) maps those snapshots, with the
``root_device_name``; a server booted from that image gets volumes made from the
snapshots (:meth:`pocketstack.compute.volumes.ServerVolumes.plan_image`).
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any, Callable

from pocketstack.api import errors
from pocketstack.api.context import RequestContext
from pocketstack.compute import states
from pocketstack.compute.images import image_service

if TYPE_CHECKING:
    from pocketstack.compute.service import ComputeService

LOG = logging.getLogger(__name__)
SNAPSHOT_TASK = "image_snapshot"
ALLOWED = (states.ACTIVE, states.STOPPED, states.PAUSED, states.SUSPENDED)
# base image properties a snapshot does not inherit (Nova's non_inheritable_image_properties)
_NOT_INHERITED = {"cache_in_nova", "bittorrent", "img_signature", "img_signature_hash_method",
                  "img_signature_certificate_uuid", "img_signature_key_type", "image_type",
                  "instance_uuid", "base_image_ref", "user_id", "owner_user_name",
                  "owner_project_name", "backup_type", "image_location", "image_state"}
_CORE = {"id", "name", "status", "visibility", "protected", "os_hidden", "owner", "size",
         "virtual_size", "checksum", "os_hash_algo", "os_hash_value", "created_at",
         "updated_at", "self", "file", "schema", "tags", "disk_format", "container_format",
         "min_ram", "min_disk", "direct_url", "locations", "stores"}


def copy_image_data(image_svc: Any, ctx: RequestContext, base_id: str | None,
                    new_id: str, disk: Callable[[Any], bool] | None = None) -> None:
    """Write the snapshot's bytes and activate it: the driver's disk through ``disk(write)``
    when it has one (it returns True), else the base image's (the fake driver)."""
    path = image_svc.data_path(base_id) if base_id else None

    def produce(write: Any) -> None:
        if disk is not None and disk(write):
            return
        if path is not None:
            with open(path, "rb") as f:
                while chunk := f.read(1 << 20):
                    write(chunk)

    image_svc.write_data(ctx, new_id, produce)


class Snapshots:
    def __init__(self, svc: "ComputeService") -> None:
        self.svc = svc
        self.cloud = svc.cloud

    def _images(self) -> Any:
        image_svc = image_service(self.cloud)
        if image_svc is None:
            raise errors.BadRequest("There is no Image service in this cloud to store the "
                                    "image in.")
        return image_svc

    def create(self, ctx: RequestContext, inst: Any, name: str, metadata: dict[str, Any],
               extra: dict[str, Any] | None = None, action: str = "createImage",
               rotation: int | None = None) -> dict[str, Any]:
        """Check the server, create the queued image, start the copy; returns the image."""
        from pocketstack.compute.transitions import precheck

        image_svc = self._images()
        precheck(self.svc, ctx, inst, action, ALLOWED)
        volumes = [b for b in self.svc.volumes.attachments(inst.uuid) if b.volume_id]
        if any(b.boot_index == 0 for b in volumes):
            if action == "createBackup":  # as Nova
                raise errors.BadRequest("Backup is not supported for volume-backed "
                                        "instances.")
            return self._volume_backed(ctx, inst, name, metadata, extra, action, volumes)
        image = image_svc.images.create(ctx, self.image_body(ctx, inst, name, metadata, extra))
        with self.cloud.db.write() as s:
            from sqlalchemy import select

            from pocketstack.compute.models import Instance, InstanceAction
            from pocketstack.db import utcnow

            row = s.scalar(select(Instance).where(Instance.uuid == inst.uuid))
            busy = row is None or row.deleted or row.task_state is not None
            if not busy:
                row.task_state, row.updated_at = SNAPSHOT_TASK, utcnow()
                s.add(InstanceAction(instance_uuid=inst.uuid, action=action,
                                     request_id=ctx.request_id, user_id=ctx.user_id,
                                     project_id=ctx.project_id, start_time=utcnow(),
                                     events=[]))
        if busy:  # another task overtook this one: drop the queued image
            image_svc.changes.delete(ctx, image["id"])
            raise errors.Conflict(f"Cannot '{action}' instance {inst.uuid} while it is busy")
        self.svc.tasks.submit(self._run, ctx, inst.uuid, inst.image_ref, image["id"],
                              extra.get("backup_type") if extra else None, rotation)
        return image

    def image_body(self, ctx: RequestContext, inst: Any, name: str,
                   metadata: dict[str, Any], extra: dict[str, Any] | None = None
                   ) -> dict[str, Any]:
        """The new image's fields: Nova's properties plus the base image's inherited ones."""
        image_svc = self._images()
        base: dict[str, Any] = {}
        # a volume-backed server's image is its root volume's (as Nova's image metadata)
        base_ref = inst.image_ref or self._root_volume_image(inst.uuid)
        if base_ref:
            try:
                base = image_svc.images.get(RequestContext.admin(), base_ref)
            except errors.NotFound:
                base = {}
        props = {k: str(v) for k, v in base.items() if k not in _CORE and
                 k not in _NOT_INHERITED and not k.startswith("os_glance")}
        props.update({"image_type": "snapshot", "instance_uuid": inst.uuid,
                      "base_image_ref": inst.image_ref or "", "user_id": ctx.user_id or "",
                      **(extra or {})})
        props.update({k: str(v) for k, v in (metadata or {}).items()})  # as Nova: last
        body = {"name": name, "disk_format": base.get("disk_format") or "qcow2",
                "container_format": base.get("container_format") or "bare",
                "min_ram": int(base.get("min_ram") or 0),
                "min_disk": max(int(base.get("min_disk") or 0), int(inst.root_gb or 0)),
                "visibility": "private", **props}
        return body

    def _volume_backed(self, ctx: RequestContext, inst: Any, name: str,
                       metadata: dict[str, Any], extra: dict[str, Any] | None, action: str,
                       volumes: list[Any]) -> dict[str, Any]:
        """Nova's snapshot of a volume-backed server (see the module's docstring)."""
        from pocketstack.compute.models import InstanceAction
        from pocketstack.db import utcnow

        body = self.image_body(ctx, inst, name, metadata, extra)
        for key in ("block_device_mapping", "bdm_v2", "root_device_name"):
            body.pop(key, None)  # (inherited from the image of a server booted this way)
        # no data: Glance's v2 wants formats to activate it (Nova sets bare and a default)
        body.update(container_format="bare", disk_format="raw", root_device_name="/dev/vda")
        vol, mapping, made = self.svc.volumes.volume, [], []
        try:
            for bdm in volumes:
                source = self.svc.volumes._get_volume(ctx, bdm.volume_id)
                snap = vol.snapshots.create(ctx, {
                    "volume_id": bdm.volume_id, "name": f"snapshot for {name}",
                    "description": source.get("description")}, in_use_ok=True)
                made.append(snap["id"])
                if snap.get("status") != "available":
                    raise errors.ApiError(f"snapshot {snap['id']} of volume {bdm.volume_id} "
                                          f"is {snap.get('status')}")
                mapping.append({
                    "source_type": "snapshot", "destination_type": "volume",
                    "snapshot_id": snap["id"], "volume_id": None, "image_id": None,
                    "volume_size": bdm.volume_size or source.get("size"),
                    "boot_index": bdm.boot_index, "device_name": bdm.device_name,
                    "delete_on_termination": bool(bdm.delete_on_termination),
                    "tag": bdm.tag, "disk_bus": None, "device_type": "disk",
                    "guest_format": None, "volume_type": None, "no_device": None})
        except Exception:
            for sid in made:  # as Nova: the snapshots made so far are deleted
                try:
                    vol.snapshots.delete(RequestContext.admin(), sid)
                except Exception:  # noqa: BLE001
                    LOG.warning("snapshot %s of %s left after a failed createImage", sid,
                                inst.uuid)
            raise
        body.update(block_device_mapping=json.dumps(mapping), bdm_v2="True")
        image_svc = self._images()
        image = image_svc.images.create(ctx, body)
        image_svc.write_data(ctx, image["id"], lambda write: None)  # size 0, active
        with self.cloud.db.write() as s:
            s.add(InstanceAction(instance_uuid=inst.uuid, action=action,
                                 request_id=ctx.request_id, user_id=ctx.user_id,
                                 project_id=ctx.project_id, start_time=utcnow(), events=[]))
        return image_svc.images.get(ctx, image["id"])

    def _root_volume_image(self, uuid: str) -> str:
        root = next((b for b in self.svc.volumes.attachments(uuid) if b.boot_index == 0), None)
        if root is None or root.image_id:
            return root.image_id if root is not None else ""
        try:
            vol = self.svc.volumes.volume.get_volume(RequestContext.admin(), root.volume_id)
        except Exception:  # noqa: BLE001  (no Block Storage, volume gone: no base image)
            return ""
        return str((vol.get("volume_image_metadata") or {}).get("image_id") or "")

    def _run(self, ctx: RequestContext, uuid: str, base_id: str | None, image_id: str,
             backup_type: str | None, rotation: int | None) -> None:
        image_svc = self._images()
        try:
            copy_image_data(image_svc, ctx, base_id, image_id, self._disk(uuid))
        except Exception:
            LOG.exception("snapshot %s of %s failed", image_id, uuid)
        finally:
            self.svc.tasks._update(uuid, task_state=None)
        if backup_type is not None and rotation is not None:
            self.rotate(ctx, uuid, backup_type, rotation)

    def _disk(self, uuid: str) -> Callable[[Any], bool]:
        """``driver.snapshot`` of the server's disk as it is now (see copy_image_data)."""
        from sqlalchemy import select

        from pocketstack.compute.models import Instance
        from pocketstack.compute.tasks import driver_view

        def disk(write: Any) -> bool:
            with self.cloud.db.read() as s:
                inst = s.scalar(select(Instance).where(Instance.uuid == uuid))
            if inst is None or not inst.host:
                return False
            return bool(self.svc.driver.snapshot(inst.host, driver_view(inst), write))
        return disk

    def rotate(self, ctx: RequestContext, uuid: str, backup_type: str, rotation: int) -> None:
        image_svc = self._images()
        params = [("instance_uuid", uuid), ("image_type", "backup"),
                  ("backup_type", backup_type), ("sort_key", "created_at"),
                  ("sort_dir", "desc"), ("limit", "1000")]
        listed = image_svc.images.list(ctx, params)
        images = listed[0] if isinstance(listed, tuple) else listed
        for old in images[rotation:]:
            try:
                image_svc.changes.delete(ctx, old["id"])
            except errors.ApiError as exc:
                LOG.warning("backup rotation could not delete %s: %s", old["id"], exc)
