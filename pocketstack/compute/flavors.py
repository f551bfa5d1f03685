"""Flavors: sizes of servers, their extra specs and (for private ones) project access."""

from __future__ import annotations

import uuid as uuidlib
from typing import Any

from sqlalchemy import delete, or_, select

from pocketstack.api import errors
from pocketstack.compute.models import Flavor, FlavorAccess
from pocketstack.db import Database, utcnow
from pocketstack.db.raw import Memo, invalidates

DEFAULT_FLAVORS = [  # name, id, ram MB, vcpus, disk GB
    ("m1.nano", "42", 64, 1, 1), ("m1.micro", "84", 128, 1, 1), ("m1.tiny", "1", 512, 1, 1),
    ("m1.small", "2", 2048, 1, 20), ("m1.medium", "3", 4096, 2, 40),
    ("m1.large", "4", 8192, 4, 80), ("m1.xlarge", "5", 16384, 8, 160),
]


def snapshot(f: Flavor) -> dict[str, Any]:
    """What an instance keeps of its flavor (servers show it even after the flavor goes)."""
    return {"flavorid": f.flavorid, "name": f.name, "memory_mb": f.memory_mb, "vcpus": f.vcpus,
            "root_gb": f.root_gb, "ephemeral_gb": f.ephemeral_gb, "swap": f.swap,
            "extra_specs": dict(f.extra_specs or {})}


class Flavors:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.memo = Memo()  # flavorid -> (Flavor | None, its access list): for server create

    @invalidates
    def seed(self) -> None:
        with self.db.write() as s:
            have = {f.flavorid for f in s.scalars(select(Flavor))}
            names = {f.name for f in s.scalars(select(Flavor))}
            if have:
                return  # seeded once; an operator may have deleted some since
            for name, fid, ram, vcpus, disk in DEFAULT_FLAVORS:
                if fid not in have and name not in names:
                    s.add(Flavor(flavorid=fid, name=name, memory_mb=ram, vcpus=vcpus,
                                 root_gb=disk, extra_specs={}))

    def list(self, project_id: str | None, is_admin: bool, is_public: bool | None,
             min_ram: int | None = None, min_disk: int | None = None) -> list[Flavor]:
        with self.db.read() as s:
            q = select(Flavor).where(Flavor.disabled.is_(False))
            if is_public is not None and (is_admin or is_public is False):
                q = q.where(Flavor.is_public.is_(is_public))
            if not is_admin:
                access = select(FlavorAccess.flavorid).where(
                    FlavorAccess.project_id == (project_id or ""))
                if is_public is False:
                    q = q.where(Flavor.flavorid.in_(access))
                else:
                    q = q.where(or_(Flavor.is_public.is_(True), Flavor.flavorid.in_(access)))
            if min_ram is not None:
                q = q.where(Flavor.memory_mb >= min_ram)
            if min_disk is not None:
                q = q.where(Flavor.root_gb >= min_disk)
            return list(s.scalars(q))

    def get(self, flavorid: str, project_id: str | None = None, is_admin: bool = True
            ) -> Flavor:
        with self.db.read() as s:
            f = s.scalar(select(Flavor).where(Flavor.flavorid == flavorid))
            if f is not None and not f.is_public and not is_admin:
                ok = s.get(FlavorAccess, (flavorid, project_id or ""))
                f = f if ok else None
        if f is None:
            raise errors.NotFound(f"Flavor {flavorid} could not be found.")
        return f

    def get_cached(self, flavorid: str, project_id: str | None, is_admin: bool) -> Flavor:
        """:meth:`get` from memory (kept until a flavor write): the flavor of every server
        create. The Flavor is shared: read it, never change it."""
        def read() -> tuple[Flavor | None, frozenset[str]]:
            with self.db.read() as s:
                f = s.scalar(select(Flavor).where(Flavor.flavorid == flavorid))
                access = frozenset() if f is None or f.is_public else frozenset(s.scalars(
                    select(FlavorAccess.project_id).where(FlavorAccess.flavorid == flavorid)))
            return f, access

        f, access = self.memo.get(flavorid, read)
        if f is None or (not f.is_public and not is_admin and (project_id or "") not in access):
            raise errors.NotFound(f"Flavor {flavorid} could not be found.")
        return f

    @invalidates
    def create(self, body: dict[str, Any]) -> Flavor:
        fid = body.get("id")
        fid = str(fid) if fid not in (None, "") else str(uuidlib.uuid4())
        with self.db.write() as s:
            if s.scalar(select(Flavor.id).where(Flavor.name == body["name"])):
                raise errors.Conflict(f"Flavor with name {body['name']} already exists.")
            if s.scalar(select(Flavor.id).where(Flavor.flavorid == fid)):
                raise errors.Conflict(f"Flavor with ID {fid} already exists.")
            f = Flavor(flavorid=fid, name=body["name"], memory_mb=int(body["ram"]),
                       vcpus=int(body["vcpus"]), root_gb=int(body["disk"]),
                       ephemeral_gb=int(body.get("OS-FLV-EXT-DATA:ephemeral") or 0),
                       swap=int(body.get("swap") or 0),
                       rxtx_factor=float(body.get("rxtx_factor") or 1.0),
                       is_public=_boolean(body.get("os-flavor-access:is_public", True)),
                       description=body.get("description"), extra_specs={})
            s.add(f)
            return f

    @invalidates
    def update_description(self, flavorid: str, description: str | None) -> Flavor:
        with self.db.write() as s:
            f = s.scalar(select(Flavor).where(Flavor.flavorid == flavorid))
            if f is None:
                raise errors.NotFound(f"Flavor {flavorid} could not be found.")
            f.description, f.updated_at = description, utcnow()
            return f

    @invalidates
    def delete(self, flavorid: str) -> None:
        with self.db.write() as s:
            f = s.scalar(select(Flavor).where(Flavor.flavorid == flavorid))
            if f is None:
                raise errors.NotFound(f"Flavor {flavorid} could not be found.")
            s.execute(delete(FlavorAccess).where(FlavorAccess.flavorid == flavorid))
            s.delete(f)

    # -- extra specs ----------------------------------------------------------
    @invalidates
    def set_extra_specs(self, flavorid: str, specs: dict[str, str]) -> dict[str, str]:
        with self.db.write() as s:
            f = s.scalar(select(Flavor).where(Flavor.flavorid == flavorid))
            if f is None:
                raise errors.NotFound(f"Flavor {flavorid} could not be found.")
            f.extra_specs = {**(f.extra_specs or {}), **specs}
            return dict(f.extra_specs)

    @invalidates
    def delete_extra_spec(self, flavorid: str, key: str) -> None:
        with self.db.write() as s:
            f = s.scalar(select(Flavor).where(Flavor.flavorid == flavorid))
            if f is None:
                raise errors.NotFound(f"Flavor {flavorid} could not be found.")
            specs = dict(f.extra_specs or {})
            if key not in specs:
                raise errors.NotFound(f"Flavor {flavorid} has no extra specs with key {key}.")
            del specs[key]
            f.extra_specs = specs

    # -- access ---------------------------------------------------------------
    def access(self, flavorid: str) -> list[str]:
        f = self.get(flavorid)
        if f.is_public:
            raise errors.NotFound("Access list not available for public flavors.")
        with self.db.read() as s:
            return list(s.scalars(select(FlavorAccess.project_id)
                                  .where(FlavorAccess.flavorid == flavorid)))

    @invalidates
    def add_access(self, flavorid: str, project_id: str) -> list[str]:
        f = self.get(flavorid)
        if f.is_public:
            raise errors.Conflict("Can not add access to a public flavor.")
        with self.db.write() as s:
            if s.get(FlavorAccess, (flavorid, project_id)):
                raise errors.Conflict(f"Flavor access already exists for flavor {flavorid} "
                                      f"and project {project_id} combination.")
            s.add(FlavorAccess(flavorid=flavorid, project_id=project_id))
        return self.access(flavorid)

    @invalidates
    def remove_access(self, flavorid: str, project_id: str) -> list[str]:
        self.get(flavorid)
        with self.db.write() as s:
            row = s.get(FlavorAccess, (flavorid, project_id))
            if row is None:
                raise errors.NotFound(f"Flavor access not found for {flavorid} / "
                                      f"{project_id} combination.")
            s.delete(row)
        return self.access(flavorid)


def _boolean(value: object) -> bool:
    """Nova's boolean parameters also accept "True"/"yes"/"1"/"on" (and their negatives)."""
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "on", "yes")
    return bool(value)
