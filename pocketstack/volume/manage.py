"""Manage and unmanage (Cinder's os-volume-manage, os-unmanage, manageable_volumes):
take a file already in the back end's volumes dir under the cloud's control, or let go of
a volume without deleting its data. The file back end names a file by ``source-name``
(its name in the volumes dir); a managed file is renamed ``volume-<new id>`` and its
size rounded up to whole GiB."""

from __future__ import annotations

import math
import os
from typing import Any

from sqlalchemy import select

from pocketstack.api import errors
from pocketstack.db import new_uuid, utcnow
from pocketstack.volume import common
from pocketstack.volume.drivers.base import GiB
from pocketstack.volume.models import Attachment, Snapshot, Transfer, Volume
from pocketstack.volume.types import Types
from pocketstack.volume.volumes import AZ, Volumes, check_metadata, volume_view

UNMANAGEABLE = ("available", "error", "error_restoring", "error_extending", "error_managing")


class Manage:
    def __init__(self, volumes: Volumes) -> None:
        self.volumes = volumes
        self.db = volumes.db
        self.driver = volumes.driver

    def _check_host(self, host: Any) -> Any:
        """The back end named by ``HOST@name`` or ``HOST@name#pool``."""
        if not isinstance(host, str) or not host:
            raise errors.BadRequest("Invalid input received: host must be given.")
        backend = self.driver.find(host)
        if backend is None:
            mine = ", ".join(b.location for b in self.driver.backends)
            raise errors.BadRequest(f"Invalid input received: No valid back end: host {host} "
                                    f"is not one of {mine}.")
        return backend

    def _known(self) -> dict[str, str]:
        """File name -> the id of the volume or snapshot that owns it."""
        with self.db.read() as s:
            vols = list(s.scalars(select(Volume.id)))
            snaps = list(s.scalars(select(Snapshot.id)))
        return {**{f"volume-{v}": v for v in vols}, **{f"snapshot-{x}": x for x in snaps}}

    def manageable(self, host: Any) -> list[dict[str, Any]]:
        files = self._check_host(host).driver.volumes_dir
        known = self._known()
        out = []
        for name in sorted(os.listdir(files)):
            path = os.path.join(files, name)
            if name.startswith(".") or name.endswith(".part") or not os.path.isfile(path):
                continue
            owner = known.get(name)
            out.append({"reference": {"source-name": name},
                        "size": max(1, math.ceil(os.path.getsize(path) / GiB)),
                        "safe_to_manage": owner is None,
                        "reason_not_safe": "already managed" if owner else None,
                        "cinder_id": owner, "extra_info": None})
        return out

    def manage(self, ctx: Any, body: dict[str, Any]) -> dict[str, Any]:
        backend = self._check_host(body.get("host"))
        driver = backend.driver
        ref = body.get("ref")
        if not isinstance(ref, dict) or not isinstance(ref.get("source-name"), str):
            raise errors.BadRequest("Invalid input received: ref must be a dict with the "
                                    "file's 'source-name' in the volumes directory.")
        common.check_strings(body, ("name", "volume_type", "availability_zone"))
        common.check_strings(body, ("description",), 0)
        name = ref["source-name"]
        path = os.path.join(driver.volumes_dir, name)
        if "/" in name or name.startswith(".") or not os.path.isfile(path):
            raise errors.BadRequest(f"Manage existing volume failed due to invalid back end "
                                    f"reference {ref}: no such file in the volumes directory.")
        if name in self._known():
            raise errors.BadRequest(f"Manage existing volume failed due to invalid back end "
                                    f"reference {ref}: it is already managed.")
        if (body.get("availability_zone") or AZ) != AZ:
            raise errors.BadRequest(f"Invalid input received: Availability zone "
                                    f"'{body['availability_zone']}' is invalid.")
        meta = check_metadata(body.get("metadata") or {})
        bootable = common.as_bool(body.get("bootable") or False, "bootable")
        size = max(1, math.ceil(os.path.getsize(path) / GiB))
        vid = new_uuid()
        with self.db.write() as s:
            vt = body.get("volume_type")
            vtype = Types.find(s, vt, ctx.project_id, True) if vt else \
                Types.default(s, ctx.project_id)
            self.volumes.quotas.check(s, ctx.project_id, volumes=1, gigabytes=size,
                                      type_name=vtype.name)
            os.replace(path, driver.volume_path(vid))
            driver.extend_volume(vid, size)  # whole GiB, as the size says
            now = utcnow()
            v = Volume(id=vid, project_id=ctx.project_id, user_id=ctx.user_id,
                       name=body.get("name"), description=body.get("description"), size=size,
                       status="available", attach_status="detached", availability_zone=AZ,
                       volume_type_id=vtype.id, bootable=bootable, multiattach=False,
                       host=backend.location, metadata_=meta, image_metadata={},
                       admin_metadata={}, created_at=now, updated_at=now, launched_at=now)
            s.add(v)
            s.flush()
            return volume_view(s, v, self.volumes.host)

    def unmanage(self, ctx: Any, volume_id: str) -> None:
        with self.db.write() as s:
            v = Volumes.find(s, volume_id, ctx.project_id, ctx.is_admin)
            if v.status not in UNMANAGEABLE or v.attach_status == "attached":
                raise common.invalid_volume(f"Volume {v.id} status must be available or "
                                            f"error to be unmanaged, but it is {v.status}.")
            if s.scalar(select(Snapshot.id).where(Snapshot.volume_id == v.id).limit(1)):
                raise common.invalid_volume(f"Volume {v.id} has snapshots: unmanage them "
                                            "first.")
            if v.group_id:
                raise common.invalid_volume(f"Volume {v.id} is in group {v.group_id}: remove "
                                            "it from the group first.")
            for model in (Attachment, Transfer):
                for row in s.scalars(select(model).where(model.volume_id == v.id)):
                    s.delete(row)
            s.delete(v)  # the file stays, manageable again as volume-<id>
