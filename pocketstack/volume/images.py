"""Volumes from images: the image service's in-process API (``images.get`` and
``data_path``) gives the image and its file; raw (and iso) data is copied sparsely into
the volume, uncompressed qcow2 is read by :mod:`pocketstack.volume.qcow2`, and other disk
formats (and compressed qcow2) are converted with ``qemu-img`` when it is installed."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
from typing import Any

from pocketstack.api import errors
from pocketstack.volume import qcow2
from pocketstack.volume.drivers.base import GiB

VERBATIM = ("raw", "iso")
IMAGE_META_KEYS = ("image_id", "image_name", "checksum", "container_format", "disk_format",
                   "min_disk", "min_ram", "size")


def lookup(cloud: Any, ctx: Any, image_ref: str) -> dict[str, Any]:
    """The image as the caller may see it; 400 as Cinder answers when it cannot be used."""
    image_svc = cloud.service("image")
    if image_svc is None:
        raise errors.BadRequest(f"Invalid image identifier or unable to access requested "
                                f"image: the image service is not available ({image_ref}).")
    try:
        image = image_svc.images.get(ctx, image_ref)
    except errors.ApiError:
        raise errors.BadRequest(f"Invalid image identifier or unable to access requested "
                                f"image: {image_ref}.") from None
    if image.get("status") != "active":
        raise errors.BadRequest(f"Invalid image: Image {image_ref} is not active.")
    fmt = image.get("disk_format") or "raw"
    if fmt not in VERBATIM + ("qcow2",) and shutil.which("qemu-img") is None:
        raise errors.BadRequest(f"Invalid image: Image {image_ref} has disk format {fmt}, "
                                "which needs qemu-img to convert; it is not installed.")
    if image_svc.data_path(image["id"]) is None and not snapshot_of(image):
        raise errors.BadRequest(f"Invalid image: Image {image_ref} has no data.")
    return image


def snapshot_of(image: dict[str, Any]) -> str | None:
    """The volume snapshot a Nova snapshot image of a volume-backed server maps (no data,
    its root in ``block_device_mapping``): Cinder 3.46 makes the volume from it."""
    raw = image.get("block_device_mapping")
    if not raw or int(image.get("size") or 0):
        return None
    try:
        mappings = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        return None
    snaps = [m for m in mappings if isinstance(m, dict) and m.get("snapshot_id")] \
        if isinstance(mappings, list) else []
    root = next((m for m in snaps if str(m.get("boot_index")) == "0"), snaps[0] if snaps
                else None)
    return str(root["snapshot_id"]) if root else None


def min_size_gb(image: dict[str, Any]) -> int:
    size = max(int(image.get("virtual_size") or 0), int(image.get("size") or 0))
    return max(1, math.ceil(size / GiB), int(image.get("min_disk") or 0))


def image_metadata(image: dict[str, Any]) -> dict[str, str]:
    meta = {"image_id": image["id"], "image_name": image.get("name") or "",
            "checksum": image.get("checksum") or "",
            "container_format": image.get("container_format") or "",
            "disk_format": image.get("disk_format") or "",
            "min_disk": str(image.get("min_disk") or 0),
            "min_ram": str(image.get("min_ram") or 0), "size": str(image.get("size") or 0)}
    skip = {"name", "disk_format", "container_format", "visibility", "size", "virtual_size",
            "status", "checksum", "protected", "min_ram", "min_disk", "owner", "os_hidden",
            "os_hash_algo", "os_hash_value", "id", "created_at", "updated_at", "tags", "self",
            "file", "schema", "locations", "direct_url"}
    for key, value in image.items():
        if key not in skip and isinstance(value, (str, int, float, bool)):
            meta[key] = str(value)
    return meta


def copy_into(cloud: Any, image: dict[str, Any], volume_path: str) -> None:
    """Write the image's data into the (already created, sized) volume file."""
    src = cloud.service("image").data_path(image["id"])
    if src is None:
        raise OSError(f"image {image['id']} has no data")
    fmt = image.get("disk_format") or "raw"
    if fmt in VERBATIM:
        with open(src, "rb") as fin, open(volume_path, "r+b") as fout:
            offset = 0
            while True:
                chunk = fin.read(4 * 1024 * 1024)
                if not chunk:
                    break
                if chunk.count(0) != len(chunk):  # keep holes for zero chunks
                    fout.seek(offset)
                    fout.write(chunk)
                offset += len(chunk)
        return
    if fmt == "qcow2":
        try:
            with open(volume_path, "r+b") as fout:
                qcow2.to_raw(src, fout.fileno())
            return
        except ValueError:  # compressed, backing file...: qemu-img can, when installed
            if shutil.which("qemu-img") is None:
                raise
    subprocess.run(["qemu-img", "convert", "-f", fmt, "-O", "raw", "-n", src, volume_path],
                   check=True, capture_output=True)
