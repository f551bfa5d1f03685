"""Servers' volumes: boot from volume (block_device_mapping_v2) and os-volume_attachments.

Volumes live in the Block Storage service, reached in-process (``cloud.service("volume")``,
see :mod:`pocketstack.volume`): a mapping reserves a Cinder attachment for the server and
completes it with a connector, so the volume shows ``in-use`` with the server in its
attachments. Attach and detach are done within the API call (the fake hypervisor has
nothing to wait for); deleting a server detaches its volumes and deletes those marked
``delete_on_termination``.
"""

from __future__ import annotations

import json
import logging
import string
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, select

from pocketstack.api import errors
from pocketstack.api.context import RequestContext
from pocketstack.compute import states
from pocketstack.compute.images import lookup_image
from pocketstack.compute.models import BlockDeviceMapping, Instance
from pocketstack.db import new_uuid

if TYPE_CHECKING:
    from pocketstack.compute.models import Flavor
    from pocketstack.compute.service import ComputeService

LOG = logging.getLogger(__name__)
ATTACH_STATES = (states.ACTIVE, states.PAUSED, states.STOPPED, states.RESIZED,
                 states.SUSPENDED, "shelved", "shelved_offloaded")
SOURCES = ("image", "volume", "snapshot", "blank")
_TRUE = ("1", "true", "t", "yes", "y", "on")


def _bdm_error(reason: str) -> errors.BadRequest:
    return errors.BadRequest(f"Block Device Mapping is Invalid: {reason}")


def _as_bool(value: Any, name: str) -> bool:
    if isinstance(value, bool) or value is None:
        return bool(value)
    if isinstance(value, str) and value.lower() in (*_TRUE, "0", "false", "f", "no", "n",
                                                    "off"):
        return value.lower() in _TRUE
    raise errors.BadRequest(f"Invalid input for field/attribute {name}. Value: {value}.")


def _as_int(value: Any, name: str, minimum: int | None = None) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise errors.BadRequest(f"Invalid input for field/attribute {name}. Value: {value}.")
    try:
        out = int(value)
    except (TypeError, ValueError):
        raise errors.BadRequest(f"Invalid input for field/attribute {name}. Value: "
                                f"{value}.") from None
    if minimum is not None and out < minimum:
        raise errors.BadRequest(f"Invalid input for field/attribute {name}. Value: {value}.")
    return out


def device_names(used: set[str]) -> str:
    for letter in string.ascii_lowercase[1:]:
        name = f"/dev/vd{letter}"
        if name not in used:
            return name
    raise errors.BadRequest("No free disk device names for prefix 'vd'")


@dataclass
class Plan:
    mappings: list[dict[str, Any]] = field(default_factory=list)  # destination volume only

    @property
    def boot_volume(self) -> bool:
        return any(m["boot_index"] == 0 for m in self.mappings)


class ServerVolumes:
    def __init__(self, svc: "ComputeService") -> None:
        self.svc = svc
        self.cloud = svc.cloud
        self.db = svc.cloud.db

    @property
    def volume(self) -> Any:
        vol = self.cloud.service("volume")
        if vol is None:
            raise errors.BadRequest("There is no Block Storage service in this cloud.")
        return vol

    def _get_volume(self, ctx: RequestContext, volume_id: str) -> dict[str, Any]:
        try:
            return self.volume.get_volume(ctx, volume_id)
        except errors.NotFound:
            raise errors.NotFound(f"Volume {volume_id} could not be found.") from None

    # -- boot ---------------------------------------------------------------------
    def plan(self, ctx: RequestContext, body: dict[str, Any], count: int = 1) -> Plan:
        """Validate block_device_mapping_v2 (and the legacy block_device_mapping)."""
        raw = body.get("block_device_mapping_v2")
        legacy = body.get("block_device_mapping")
        if raw is not None and legacy is not None:
            raise errors.BadRequest("Using different block_device_mapping syntaxes is not "
                                    "allowed in the same request.")
        if legacy is not None:
            raw = [self._from_legacy(m) for m in (legacy if isinstance(legacy, list) else [0])]
        if raw is None:
            return Plan()
        if not isinstance(raw, list):
            raise errors.BadRequest("Invalid input for field/attribute block_device_mapping_v2.")
        plan = Plan()
        boot_seen = False
        for m in raw:
            if not isinstance(m, dict):
                raise errors.BadRequest("Invalid input for field/attribute "
                                        "block_device_mapping_v2.")
            source = m.get("source_type") or ("volume" if m.get("volume_id") else "blank")
            if source not in SOURCES:
                raise _bdm_error(f"Invalid source_type field: {source}.")
            dest = m.get("destination_type") or ("volume" if source in ("volume", "snapshot")
                                                 else "local")
            if dest not in ("local", "volume"):
                raise _bdm_error(f"Invalid destination_type field: {dest}.")
            boot = _as_int(m.get("boot_index"), "boot_index")
            if boot is not None and boot < 0:
                boot = None
            if boot == 0:
                if boot_seen:
                    raise _bdm_error("Boot sequence for the instance and image/block device "
                                     "mapping combination is not valid.")
                boot_seen = True
            size = _as_int(m.get("volume_size"), "volume_size", 0)
            uuid = m.get("uuid") or m.get(f"{source}_id")
            if source != "blank" and not uuid:
                raise _bdm_error(f"Missing uuid for a mapping of source_type {source}.")
            if source == "volume" and dest == "local":
                raise _bdm_error("Mapping image/volume/snapshot to local is not supported.")
            if dest == "local":
                continue  # the image root disk, swap and ephemeral disks: the flavor's
            if source == "image":
                lookup_image(self.cloud, ctx, str(uuid))
                if not size:
                    raise _bdm_error("Images with destination_type 'volume' need to have a "
                                     "non-zero size specified")
            if source == "blank" and not size:
                raise _bdm_error("Blank volumes need a volume_size.")
            if source == "volume":
                if count > 1:
                    raise errors.BadRequest("Cannot attach one or more volumes to multiple "
                                            "instances")
                try:
                    vol = self.volume.get_volume(ctx, str(uuid))
                except errors.NotFound:
                    raise _bdm_error(f"failed to get volume {uuid}.") from None
                if vol.get("status") != "available" and not vol.get("multiattach"):
                    raise errors.BadRequest(f"Invalid volume: volume '{uuid}' status must be "
                                            f"'available'. Currently in '{vol.get('status')}'")
                if boot == 0 and str(vol.get("bootable")).lower() != "true":
                    raise _bdm_error(f"Block Device {uuid} is not bootable.")
            device = m.get("device_name")
            plan.mappings.append({
                "source_type": source, "uuid": str(uuid) if uuid else None,
                "boot_index": boot, "volume_size": size, "tag": m.get("tag"),
                "device_name": str(device) if device else None,
                "volume_type": m.get("volume_type"),
                "delete_on_termination": _as_bool(m.get("delete_on_termination"),
                                                  "delete_on_termination")})
        return plan

    def plan_image(self, ctx: RequestContext, plan: Plan, image: dict[str, Any],
                   count: int = 1) -> Plan:
        """The image's own block device mappings (a volume-backed server's snapshot: its
        ``block_device_mapping`` property, bdm_v2) merged into the request's, as Nova does:
        a request mapping replaces the image's of the same device, a request boot
        mapping the image's."""
        raw = image.get("block_device_mapping")
        if not raw:
            return plan
        try:
            mappings = json.loads(raw) if isinstance(raw, str) else raw
        except ValueError:
            mappings = None
        if not isinstance(mappings, list):
            raise errors.BadRequest(f"Image {image.get('id')} has an invalid "
                                    "block_device_mapping property.")
        v2 = str(image.get("bdm_v2", "")).lower() in _TRUE
        mappings = [m if v2 else self._from_legacy(m) for m in mappings
                    if isinstance(m, dict) and not m.get("no_device")]
        own = self.plan(ctx, {"block_device_mapping_v2": mappings}, count)
        devices = {m["device_name"] for m in plan.mappings if m["device_name"]}
        kept = [m for m in own.mappings if not (m["device_name"] in devices or
                                                (plan.boot_volume and m["boot_index"] == 0))]
        return Plan(mappings=kept + plan.mappings)

    @staticmethod
    def _from_legacy(m: Any) -> dict[str, Any]:
        if not isinstance(m, dict):
            raise errors.BadRequest("Invalid input for field/attribute block_device_mapping.")
        out = {"device_name": m.get("device_name"),
               "delete_on_termination": m.get("delete_on_termination"),
               "volume_size": m.get("volume_size"), "destination_type": "volume"}
        if m.get("snapshot_id"):
            out.update(source_type="snapshot", uuid=m["snapshot_id"])
        elif m.get("volume_id"):
            out.update(source_type="volume", uuid=m["volume_id"])
        else:
            raise _bdm_error("Missing volume_id or snapshot_id in block_device_mapping.")
        if str(m.get("device_name") or "").rsplit("/", 1)[-1] in ("vda", "sda", "xvda"):
            out["boot_index"] = 0
        return out

    def setup(self, ctx: RequestContext, instances: list[Instance], plan: Plan) -> None:
        """Create / reserve / attach the planned volumes of each new server."""
        if not plan.mappings:
            return
        vol = self.volume
        for inst in instances:
            used: set[str] = set() if plan.boot_volume else {"/dev/vda"}
            for m in sorted(plan.mappings, key=lambda m: (m["boot_index"] is None,
                                                          m["boot_index"] or 0)):
                volume_id = m["uuid"]
                if m["source_type"] != "volume":
                    spec: dict[str, Any] = {"size": m["volume_size"] or None, "name": ""}
                    if m["source_type"] == "image":
                        spec["imageRef"] = m["uuid"]
                    elif m["source_type"] == "snapshot":
                        spec["snapshot_id"] = m["uuid"]
                    if m["volume_type"]:
                        spec["volume_type"] = m["volume_type"]
                    volume_id = vol.volumes.create(ctx, spec)["id"]
                device = "/dev/vda" if m["boot_index"] == 0 else \
                    (m["device_name"] if m["device_name"] and m["device_name"] not in used
                     else device_names(used))
                used.add(device)
                self._attach(ctx, inst, volume_id, device, m["source_type"],
                             m["boot_index"], m["delete_on_termination"], m["tag"],
                             image_id=m["uuid"] if m["source_type"] == "image" else None,
                             snapshot_id=m["uuid"] if m["source_type"] == "snapshot" else None,
                             size=m["volume_size"])

    def _attach(self, ctx: RequestContext, inst: Instance, volume_id: str, device: str,
                source: str, boot_index: int | None, delete_on_termination: bool,
                tag: str | None, **extra: Any) -> BlockDeviceMapping:
        vol = self.volume
        attachment = vol.reserve(ctx, volume_id, inst.uuid)
        try:
            info = vol.attach(ctx, attachment, {"host": inst.host or "pocketstack",
                                                "instance": inst.uuid, "platform": "x86_64",
                                                "os_type": "linux", "multipath": False},
                              mountpoint=device)
            self._driver("attach_volume", inst, info, device)
        except Exception:
            vol.detach(ctx, attachment)
            raise
        with self.db.write() as s:
            row = BlockDeviceMapping(
                uuid=new_uuid(), instance_uuid=inst.uuid, source_type=source,
                destination_type="volume", device_name=device, boot_index=boot_index,
                volume_id=volume_id, snapshot_id=extra.get("snapshot_id"),
                image_id=extra.get("image_id"), volume_size=extra.get("size"),
                attachment_id=attachment, delete_on_termination=delete_on_termination,
                tag=tag)
            s.add(row)
        return row

    # -- os-volume_attachments -----------------------------------------------------
    def attachments(self, uuid: str) -> list[BlockDeviceMapping]:
        with self.db.read() as s:
            return list(s.scalars(select(BlockDeviceMapping)
                                  .where(BlockDeviceMapping.instance_uuid == uuid,
                                         BlockDeviceMapping.destination_type == "volume")
                                  .order_by(BlockDeviceMapping.id)))

    def volume_backed(self, inst: Any) -> bool:
        """Nova's is_volume_backed_instance: no image, or a root (boot) volume (a server
        booted from a volume-backed server's snapshot has both)."""
        return not inst.image_ref or any(r.boot_index == 0 and r.volume_id
                                         for r in self.attachments(inst.uuid))

    def find(self, uuid: str, volume_id: str) -> BlockDeviceMapping:
        for row in self.attachments(uuid):
            if row.volume_id == volume_id:
                return row
        raise errors.NotFound(f"volume_id not found: {volume_id}")

    def set_delete_on_termination(self, uuid: str, volume_id: str, value: bool
                                  ) -> None:
        """PUT .../os-volume_attachments/{volume_id} at 2.85: the one mutable field."""
        with self.db.write() as s:
            row = s.scalar(select(BlockDeviceMapping).where(
                BlockDeviceMapping.instance_uuid == uuid,
                BlockDeviceMapping.volume_id == volume_id,
                BlockDeviceMapping.destination_type == "volume"))
            if row is None:
                raise errors.NotFound(f"volume_id not found: {volume_id}")
            row.delete_on_termination = value

    def _check_state(self, ctx: RequestContext, inst: Instance, action: str) -> None:
        self.svc.servers.check_lock(ctx, inst)
        if inst.vm_state not in ATTACH_STATES:
            raise self.svc.servers.invalid_state(inst, action, "vm_state")
        if inst.task_state is not None:
            raise self.svc.servers.invalid_state(inst, action, "task_state")

    def attach(self, ctx: RequestContext, inst: Instance, volume_id: str,
               device: str | None, tag: str | None, delete_on_termination: bool
               ) -> BlockDeviceMapping:
        self._check_state(ctx, inst, "attach_volume")
        current = self.attachments(inst.uuid)
        if any(r.volume_id == volume_id for r in current):
            raise errors.BadRequest(f"Invalid volume: volume {volume_id} already attached")
        vol = self._get_volume(ctx, volume_id)
        if vol.get("status") != "available" and not (vol.get("multiattach") and
                                                     vol.get("status") == "in-use"):
            raise errors.BadRequest(f"Invalid volume: volume '{volume_id}' status must be "
                                    f"'available'. Currently in '{vol.get('status')}'")
        used = {r.device_name for r in current if r.device_name}
        if not any(r.boot_index == 0 for r in current):
            used.add("/dev/vda")
        if device:
            if not device.startswith("/dev/") or len(device) < 6:
                raise errors.BadRequest(f"The supplied device path ({device}) is invalid.")
            if device in used:
                raise errors.BadRequest(f"The supplied device path ({device}) is in use.")
        else:
            device = device_names(used)
        return self._attach(ctx, inst, volume_id, device, "volume", None,
                            delete_on_termination, tag)

    def detach(self, ctx: RequestContext, inst: Instance, volume_id: str) -> None:
        row = self.find(inst.uuid, volume_id)
        self._check_state(ctx, inst, "detach_volume")
        if row.boot_index == 0:
            raise errors.BadRequest("Cannot detach a root device volume")
        self._detach(ctx, row)

    def _driver(self, method: str, inst: Instance | None, info: dict[str, Any],
                device: str | None) -> None:
        """The hypervisor's part of attach/detach (the volume inside the instance)."""
        if inst is None or not inst.host or inst.vm_state == states.BUILDING:
            return  # not spawned yet: nothing runs to plug the volume into
        from pocketstack.compute.tasks import driver_view

        try:
            getattr(self.svc.driver, method)(inst.host, driver_view(inst), info or {},
                                             device or "")
        except NotImplementedError as exc:
            LOG.info("%s of %s: %s", method, inst.uuid, exc)
        except Exception as exc:
            LOG.exception("%s of %s failed", method, inst.uuid)
            raise errors.Conflict(f"{method} failed on the host: {exc}") from exc

    def _detach(self, ctx: RequestContext, row: BlockDeviceMapping) -> None:
        if row.volume_id:
            with self.db.read() as s:
                inst = s.scalar(select(Instance).where(Instance.uuid == row.instance_uuid))
            try:
                info = self.volume.connection_info(ctx, row.volume_id)
            except Exception:  # the volume is going: the driver finds it by id
                info = {"data": {"volume_id": row.volume_id}}
            self._driver("detach_volume", inst, info, row.device_name)
        if row.attachment_id:
            try:
                self.volume.detach(ctx, row.attachment_id)
            except errors.NotFound:
                pass
        with self.db.write() as s:
            s.execute(delete(BlockDeviceMapping).where(BlockDeviceMapping.id == row.id))

    def cleanup(self, uuid: str) -> None:
        """A server is being deleted: detach its volumes, delete the marked ones."""
        if self.cloud.service("volume") is None:
            return
        with self.db.raw_read() as tx:  # most servers have none: no ORM query for them
            if tx.one("SELECT 1 FROM compute_block_device_mapping WHERE instance_uuid = :uuid "
                      "AND destination_type = 'volume' LIMIT 1", {"uuid": uuid}) is None:
                return
        rows = self.attachments(uuid)
        if not rows:
            return
        ctx = RequestContext.admin()
        for row in rows:
            try:
                self._detach(ctx, row)
                if row.delete_on_termination and row.volume_id:
                    self.volume.volumes.delete(ctx, row.volume_id)
            except errors.ApiError as exc:
                LOG.warning("volume %s of deleted server %s: %s", row.volume_id, uuid, exc)

    # -- views ----------------------------------------------------------------------
    def attached(self, req: Any, inst: Instance) -> list[dict[str, Any]]:
        """``os-extended-volumes:volumes_attached`` (one query per request)."""
        cache = getattr(req, "_volumes_attached", None)
        if cache is None or (inst.uuid not in cache and not cache.get("*")):
            one = not req.path.endswith("/detail")  # a list: every server at once
            cache = cache or {"*": not one}
            q = select(BlockDeviceMapping.instance_uuid, BlockDeviceMapping.volume_id,
                       BlockDeviceMapping.delete_on_termination) \
                .where(BlockDeviceMapping.destination_type == "volume") \
                .order_by(BlockDeviceMapping.id)
            if one:
                q = q.where(BlockDeviceMapping.instance_uuid == inst.uuid)
                cache[inst.uuid] = []
            with self.db.read() as s:
                for uuid, vid, dot in s.execute(q):
                    cache.setdefault(uuid, []).append((vid, dot))
            req._volumes_attached = cache
        if req.at_least("2.3"):
            return [{"id": v, "delete_on_termination": bool(d)}
                    for v, d in cache.get(inst.uuid, [])]
        return [{"id": v} for v, _ in cache.get(inst.uuid, [])]
