"""``os-volume_upload_image``: a volume's data becomes a new image of the image service.

The image is created (``queued``) through the image service's in-process manager with
the caller's credentials, so Glance's policies (``add_image``, ``publicize_image``...)
apply; the volume goes ``uploading`` and a worker thread streams its data (raw as it
is, qcow2 written by :mod:`pocketstack.volume.qcow2`, other formats with ``qemu-img``)
through the image service's ``write_data``, the one place that writes image data.
The volume is ``available`` (or back ``in-use``) again when the image is active; on a
failure the queued image is deleted, as Cinder does.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile
from typing import Any, Callable

from pocketstack.api import errors
from pocketstack.db import utcnow
from pocketstack.volume import common, qcow2
from pocketstack.volume.models import Volume, VolumeType
from pocketstack.volume.types import type_dict
from pocketstack.volume.volumes import Volumes

LOG = logging.getLogger(__name__)

DISK_FORMATS = ("raw", "qcow2", "vmdk", "vdi", "vhd", "vhdx", "ploop")
CONTAINER_FORMATS = ("bare", "ovf", "compressed")
VISIBILITIES = ("public", "private", "community", "shared")
# image metadata a volume carries from its own image that must not reach the new image
NOT_COPIED = ("image_id", "image_name", "checksum", "container_format", "disk_format",
              "min_disk", "min_ram", "size", "virtual_size", "status", "owner", "id",
              "visibility", "protected", "os_hash_algo", "os_hash_value", "os_hidden",
              "name", "tags", "direct_url", "locations", "created_at", "updated_at",
              "stores", "file", "self", "schema")
CHUNK = 1024 * 1024


def _produce(path: str, disk_format: str) -> Callable[[Callable[[bytes], None]], Any]:
    def raw(write: Callable[[bytes], None]) -> None:
        with open(path, "rb") as f:
            while chunk := f.read(CHUNK):
                write(chunk)

    def qcow(write: Callable[[bytes], None]) -> None:
        qcow2.convert_raw(path, write)

    def other(write: Callable[[bytes], None]) -> None:
        with tempfile.TemporaryDirectory(prefix="volume-upload-") as tmp:
            out = os.path.join(tmp, "image")
            subprocess.run(["qemu-img", "convert", "-f", "raw", "-O", disk_format, path, out],
                           check=True, capture_output=True)
            raw_out = _produce(out, "raw")
            raw_out(write)

    if disk_format == "raw":
        return raw
    if disk_format == "qcow2":
        return qcow
    return other


def _drop_image(image_svc: Any, ctx: Any, image_id: str) -> None:
    """Delete the queued image of an upload that did not happen (best effort)."""
    try:
        image_svc.changes.delete(ctx, image_id)
    except Exception:  # noqa: BLE001 - the image then stays queued, as an empty image
        LOG.warning("could not delete the image %s of a failed upload", image_id)


class Uploads:
    def __init__(self, volumes: Volumes) -> None:
        self.volumes = volumes
        self.db = volumes.db
        self.cloud = volumes.cloud

    def _check(self, args: dict[str, Any], with_visibility: bool) -> dict[str, Any]:
        name = args.get("image_name")
        if not isinstance(name, str) or not name.strip():
            raise errors.BadRequest("No image_name was specified in request.")
        if len(name) > 255:
            raise errors.BadRequest("Invalid input for field/attribute image_name.")
        disk_format = args.get("disk_format", "raw")
        if disk_format not in DISK_FORMATS:
            raise errors.BadRequest(f"Invalid disk-format '{disk_format}' specified. "
                                    f"Allowed disk-formats are {', '.join(DISK_FORMATS)}.")
        if disk_format not in ("raw", "qcow2") and shutil.which("qemu-img") is None:
            raise errors.BadRequest(f"Invalid disk-format '{disk_format}': converting to it "
                                    "needs qemu-img, which is not installed.")
        container = args.get("container_format", "bare")
        if container not in CONTAINER_FORMATS:
            raise errors.BadRequest(f"Invalid container-format '{container}' specified. "
                                    f"Allowed container-formats are "
                                    f"{', '.join(CONTAINER_FORMATS)}.")
        if container == "compressed":
            raise errors.BadRequest("Invalid container-format 'compressed': compressing "
                                    "uploaded volumes is not supported.")
        out = {"name": name, "disk_format": disk_format, "container_format": container}
        if with_visibility:
            visibility = args.get("visibility", "private")
            if visibility not in VISIBILITIES:
                raise errors.BadRequest(f"Invalid input for field/attribute visibility. "
                                        f"Value: {visibility}.")
            out["visibility"] = visibility
            out["protected"] = common.as_bool(args.get("protected", False), "protected")
        return out

    def upload(self, ctx: Any, volume_id: str, args: dict[str, Any], version_3_1: bool
               ) -> dict[str, Any]:
        image_svc = self.cloud.service("image")
        if image_svc is None:
            raise errors.BadRequest("Invalid input received: the image service is not "
                                    "available in this cloud.")
        force = common.as_bool(args.get("force", False), "force")
        wanted = self._check(args, version_3_1)
        with self.db.read() as s:
            v = Volumes.find(s, volume_id, ctx.project_id, ctx.is_admin)
            if v.status == "in-use" and not force:
                raise common.invalid_volume("Volume status is in-use.")
            if v.status not in ("available", "in-use"):
                raise common.invalid_volume(f"Volume {v.id} status must be available or "
                                            f"in-use, but current status is: {v.status}.")
            body = {k: str(val) for k, val in (v.image_metadata or {}).items()
                    if k not in NOT_COPIED and not k.startswith("os_glance")}
            for key in ("min_disk", "min_ram"):
                if str((v.image_metadata or {}).get(key, "")).isdigit():
                    body[key] = int(v.image_metadata[key])
        body.update(wanted)
        image = image_svc.images.create(ctx, body)  # Glance's own checks and policies
        with self.db.write() as s:
            v = Volumes.find(s, volume_id, ctx.project_id, ctx.is_admin)
            if v.status not in ("available", "in-use"):
                _drop_image(image_svc, ctx, image["id"])
                raise common.invalid_volume(f"Volume {v.id} status must be available or "
                                            f"in-use, but current status is: {v.status}.")
            v.previous_status, v.status = v.status, "uploading"
            v.updated_at = utcnow()
            vtype = s.get(VolumeType, v.volume_type_id) if v.volume_type_id else None
            answer = {"id": v.id, "updated_at": common.iso(v.updated_at),
                      "status": "uploading", "display_description": v.description,
                      "size": v.size,
                      "volume_type": type_dict(vtype, True) if vtype else None,
                      "image_id": image["id"], "container_format": image["container_format"],
                      "disk_format": image["disk_format"], "image_name": image["name"]}
            if version_3_1:
                answer["visibility"] = image["visibility"]
                answer["protected"] = image["protected"]
        path = self.volumes.driver.volume_path(volume_id)

        def run() -> None:
            try:
                image_svc.write_data(ctx, image_id, _produce(path, disk_format))
            except Exception:
                _drop_image(image_svc, ctx, image_id)  # (its own transaction)
                raise
            with self.db.write() as s:
                give_back(s)

        def give_back(s: Any, exc: BaseException | None = None) -> None:
            v = s.get(Volume, volume_id)
            if v is not None and v.status == "uploading":
                v.status, v.updated_at = v.previous_status or "available", utcnow()

        image_id, disk_format = image["id"], image["disk_format"]
        self.volumes.worker.submit(ctx, "VOLUME", volume_id, "copy_volume_to_image", run,
                                   give_back)
        return answer
