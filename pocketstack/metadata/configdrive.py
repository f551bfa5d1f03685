"""Config drive: the metadata on an ISO 9660 image labelled ``config-2`` (pycdlib).

Same content as the metadata API: ``openstack/<version>/`` (meta_data.json,
network_data.json, vendor_data.json, vendor_data2.json, user_data) and
``ec2/<version>/`` (meta-data.json, user-data) for ``latest`` and every dated version,
with Rock Ridge and Joliet names (cloud-init reads either). Written to
``DATA_DIR/instances/<uuid>/disk.config``, where the real drivers attach it from.

Built on request: compute calls ``cloud.service("metadata").config_drive(uuid)`` during
the build, once the ports exist and before ``driver.spawn`` (for ``config_drive: true`` or
``[DEFAULT] force_config_drive``), and hands the path to the driver as
``instance["config_drive_path"]``.
"""

from __future__ import annotations

import io
import json
import logging
import os
from typing import TYPE_CHECKING, Any

import pycdlib

from pocketstack.metadata.documents import EC2_VERSIONS, OPENSTACK_VERSIONS, Documents

if TYPE_CHECKING:
    from pocketstack.metadata.service import MetadataService

LOG = logging.getLogger(__name__)
LABEL = "config-2"


def files(docs: Documents) -> dict[str, bytes]:
    """Path on the drive -> content."""
    out: dict[str, bytes] = {}
    for version in [*OPENSTACK_VERSIONS, "latest"]:
        for name, doc in docs.openstack(version).items():
            out[f"openstack/{version}/{name}"] = json.dumps(doc).encode()
        if docs.user_data is not None:
            out[f"openstack/{version}/user_data"] = docs.user_data
    for version in [*EC2_VERSIONS[-1:], "latest"]:
        tree = {k: v for k, v in docs.ec2(version).items()}
        out[f"ec2/{version}/meta-data.json"] = json.dumps(tree).encode()
        if docs.user_data is not None:
            out[f"ec2/{version}/user-data"] = docs.user_data
    return out


def _iso_name(name: str, used: set[str]) -> str:
    base = "".join(c if c.isalnum() else "_" for c in name.upper())[:30] or "F"
    candidate, n = base, 0
    while candidate in used:
        n += 1
        candidate = f"{base[:26]}_{n}"
    used.add(candidate)
    return candidate


def build_iso(content: dict[str, bytes]) -> bytes:
    iso = pycdlib.PyCdlib()
    iso.new(interchange_level=4, joliet=3, rock_ridge="1.09", vol_ident=LABEL,
            sys_ident="LINUX", app_ident_str="pocketstack")
    dirs: dict[str, str] = {"": ""}  # real path -> ISO path
    used: dict[str, set[str]] = {}
    for path in sorted(content):
        parts = path.split("/")
        for i in range(1, len(parts)):
            real = "/".join(parts[:i])
            if real in dirs:
                continue
            parent = "/".join(parts[:i - 1])
            iso_dir = dirs[parent] + "/" + _iso_name(parts[i - 1], used.setdefault(parent, set()))
            iso.add_directory(iso_dir, rr_name=parts[i - 1], joliet_path="/" + real)
            dirs[real] = iso_dir
        parent = "/".join(parts[:-1])
        iso_file = dirs[parent] + "/" + _iso_name(parts[-1], used.setdefault(parent, set()))
        data = content[path]
        iso.add_fp(io.BytesIO(data), len(data), iso_file + ";1", rr_name=parts[-1],
                   joliet_path="/" + path)
    out = io.BytesIO()
    iso.write_fp(out)
    iso.close()
    return out.getvalue()


def write(data_dir: str, uuid: str, image: bytes) -> str:
    folder = os.path.join(data_dir, "instances", uuid)
    os.makedirs(folder, mode=0o700, exist_ok=True)
    path = os.path.join(folder, "disk.config")
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(image)
    os.replace(tmp, path)
    return path


def remove(data_dir: str, uuid: str) -> None:
    """Delete ``uuid``'s config drive (and its folder once empty: drivers share it)."""
    folder = os.path.join(data_dir, "instances", uuid)
    try:
        os.remove(os.path.join(folder, "disk.config"))
        os.rmdir(folder)
    except OSError:
        pass


def build_for(svc: "MetadataService", uuid: str) -> str | None:
    """Build and write ``uuid``'s config drive; its path, or None for an unknown instance."""
    docs = svc._build([uuid]).get(uuid)
    if docs is None:
        return None
    path = write(svc.cloud.data_dir, uuid, build_iso(files(docs)))
    LOG.info("config drive of %s written to %s", uuid, path)
    return path


def read_iso(path: str) -> dict[str, Any]:
    """The files of a config drive by their Rock Ridge path (tests, `doctor`)."""
    iso = pycdlib.PyCdlib()
    iso.open(path)
    out: dict[str, Any] = {"label": iso.pvd.volume_identifier.decode().strip(), "files": {}}
    for dirname, _, names in iso.walk(rr_path="/"):
        for name in names:
            rr = f"{dirname.rstrip('/')}/{name}"
            buf = io.BytesIO()
            iso.get_file_from_iso_fp(buf, rr_path=rr)
            out["files"][rr.lstrip("/")] = buf.getvalue()
    iso.close()
    return out
