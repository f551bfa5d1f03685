"""Volume types (extra specs, private-type access) and QoS specs."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pocketstack.api import errors
from pocketstack.db import new_uuid, utcnow
from pocketstack.volume import common
from pocketstack.volume.models import DefaultType, QosSpecs, TypeAccess, Volume, VolumeType

DEFAULT_TYPE = "__DEFAULT__"


# the extra specs Cinder shows to non-admins (the others describe the back end)
USER_VISIBLE_SPECS = ("multiattach", "RESKEY:availability_zones", "replication_enabled")


def type_dict(t: VolumeType, admin: bool = True) -> dict[str, Any]:
    specs = dict(t.extra_specs or {})
    if not admin:
        specs = {k: v for k, v in specs.items() if k in USER_VISIBLE_SPECS}
    out = {"id": t.id, "name": t.name, "description": t.description,
           "is_public": t.is_public, "os-volume-type-access:is_public": t.is_public,
           "extra_specs": specs}
    if admin:
        out["qos_specs_id"] = t.qos_specs_id
    return out


def qos_dict(q: QosSpecs) -> dict[str, Any]:
    return {"id": q.id, "name": q.name, "consumer": q.consumer, "specs": dict(q.specs or {})}


class Types:
    def __init__(self, db: Any) -> None:
        self.db = db

    def ensure_default(self) -> None:
        with self.db.write() as s:
            self.default(s)

    # -- lookups (inside a session) -------------------------------------------------
    @staticmethod
    def find(s: Session, ident: str, project_id: str | None = None,
             admin: bool = True) -> VolumeType:
        t = s.get(VolumeType, ident) or s.scalar(select(VolumeType).where(
            VolumeType.name == ident))
        if t is None or not (admin or t.is_public or s.get(TypeAccess, (t.id, project_id))):
            raise common.not_found("volume_type", ident)
        return t

    @staticmethod
    def default(s: Session, project_id: str | None = None) -> VolumeType:
        if project_id:
            d = s.get(DefaultType, project_id)
            if d is not None and s.get(VolumeType, d.volume_type_id) is not None:
                return s.get(VolumeType, d.volume_type_id)
        t = s.scalar(select(VolumeType).where(VolumeType.name == DEFAULT_TYPE))
        if t is None:
            t = VolumeType(id=new_uuid(), name=DEFAULT_TYPE, description="Default Volume Type",
                           is_public=True, extra_specs={})
            s.add(t)
            s.flush()
        return t

    # -- types --------------------------------------------------------------------
    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        common.check_strings(body, ("name",))
        common.check_strings(body, ("description",), 0)
        name = (body.get("name") or "").strip()
        if not name or len(name) > 255:
            raise errors.BadRequest("Volume type name can not be empty.")
        specs = body.get("extra_specs") or {}
        self._check_specs(specs)
        is_public = common.as_bool(body.get("os-volume-type-access:is_public",
                                            body.get("is_public", True)), "is_public")
        with self.db.write() as s:
            if s.scalar(select(VolumeType).where(VolumeType.name == name)) is not None:
                raise errors.Conflict(f"Volume Type {name} already exists.")
            t = VolumeType(id=new_uuid(), name=name, description=body.get("description"),
                           is_public=is_public, extra_specs={k: str(v) for k, v in specs.items()})
            s.add(t)
            s.flush()
            return type_dict(t)

    @staticmethod
    def _check_specs(specs: Any) -> None:
        if not isinstance(specs, dict):
            raise errors.BadRequest("Invalid input received: extra_specs must be a dict")
        for k, v in specs.items():
            if not isinstance(k, str) or not k or len(k) > 255:
                raise errors.BadRequest(f"Invalid input received: key {k!r} is invalid")
            if not isinstance(v, (str, int, float, bool)) or len(str(v)) > 255:
                raise errors.BadRequest(f"Invalid input received: value of {k} is invalid")

    def list(self, project_id: str, admin: bool, is_public: str | None = None
             ) -> list[dict[str, Any]]:
        with self.db.read() as s:
            q = select(VolumeType).order_by(VolumeType.name)
            types = list(s.scalars(q))
            access = {a.volume_type_id for a in s.scalars(
                select(TypeAccess).where(TypeAccess.project_id == project_id))}
        if is_public is not None and is_public.lower() != "none" and admin:
            want = common.as_bool(is_public, "is_public")
            types = [t for t in types if t.is_public == want]
        elif not admin:
            types = [t for t in types if t.is_public or t.id in access]
        return [type_dict(t, admin) for t in types]

    def get(self, ident: str, project_id: str, admin: bool) -> dict[str, Any]:
        if ident == "default":
            with self.db.read() as s:
                return type_dict(self.default(s, project_id), admin)
        with self.db.read() as s:
            return type_dict(self.find(s, ident, project_id, admin), admin)

    def update(self, type_id: str, body: dict[str, Any]) -> dict[str, Any]:
        common.check_strings(body, ("name",))
        common.check_strings(body, ("description",), 0)
        with self.db.write() as s:
            t = self.find(s, type_id)
            if "name" in body and body["name"] is not None:
                name = str(body["name"]).strip()
                if not name:
                    raise errors.BadRequest("Volume type name can not be empty.")
                if t.name == DEFAULT_TYPE and name != DEFAULT_TYPE:
                    raise errors.BadRequest("The default volume type can not be renamed.")
                other = s.scalar(select(VolumeType).where(VolumeType.name == name))
                if other is not None and other.id != t.id:
                    raise errors.Conflict(f"Volume Type {name} already exists.")
                t.name = name
            if "description" in body:
                t.description = body["description"]
            if "is_public" in body and body["is_public"] is not None:
                t.is_public = common.as_bool(body["is_public"], "is_public")
            t.updated_at = utcnow()
            s.flush()
            return type_dict(t)

    def delete(self, type_id: str) -> None:
        with self.db.write() as s:
            t = self.find(s, type_id)
            if t.name == DEFAULT_TYPE:
                raise errors.BadRequest("Default volume type can not be deleted.")
            if s.scalar(select(DefaultType.project_id).where(
                    DefaultType.volume_type_id == t.id).limit(1)):
                raise errors.BadRequest(f"Volume type {t.id} is the default volume type of a "
                                        "project and can not be deleted.")
            if s.scalar(select(Volume.id).where(Volume.volume_type_id == t.id).limit(1)):
                raise errors.BadRequest(f"Target volume type is still in use. Volume Type "
                                        f"{t.id} deletion is not allowed with volumes present "
                                        "with the type.")
            for a in s.scalars(select(TypeAccess).where(TypeAccess.volume_type_id == t.id)):
                s.delete(a)
            s.delete(t)

    # -- extra specs --------------------------------------------------------------------
    def specs(self, type_id: str) -> dict[str, str]:
        with self.db.read() as s:
            return dict(self.find(s, type_id).extra_specs or {})

    def set_specs(self, type_id: str, specs: dict[str, Any]) -> dict[str, str]:
        self._check_specs(specs)
        with self.db.write() as s:
            t = self.find(s, type_id)
            t.extra_specs = {**(t.extra_specs or {}), **{k: str(v) for k, v in specs.items()}}
            t.updated_at = utcnow()
            return {k: str(v) for k, v in specs.items()}

    def delete_spec(self, type_id: str, key: str) -> None:
        with self.db.write() as s:
            t = self.find(s, type_id)
            specs = dict(t.extra_specs or {})
            if key not in specs:
                raise errors.NotFound(f"Volume Type {type_id} has no extra specs with key {key}.")
            del specs[key]
            t.extra_specs = specs

    # -- access --------------------------------------------------------------------------
    def access_list(self, type_id: str) -> list[dict[str, str]]:
        with self.db.read() as s:
            t = self.find(s, type_id)
            if t.is_public:
                raise errors.NotFound("Access list not available for public volume types.")
            return [{"volume_type_id": a.volume_type_id, "project_id": a.project_id}
                    for a in s.scalars(select(TypeAccess).where(
                        TypeAccess.volume_type_id == t.id))]

    def add_access(self, type_id: str, project: str) -> None:
        with self.db.write() as s:
            t = self.find(s, type_id)
            if t.is_public:
                raise errors.BadRequest("Invalid volume type: Type access modification is not "
                                        "applicable to public volume type.")
            if s.get(TypeAccess, (t.id, project)) is not None:
                raise errors.Conflict(f"Volume type access for {t.id} / {project} combination "
                                      "already exists.")
            s.add(TypeAccess(volume_type_id=t.id, project_id=project))

    def remove_access(self, type_id: str, project: str) -> None:
        with self.db.write() as s:
            t = self.find(s, type_id)
            a = s.get(TypeAccess, (t.id, project))
            if a is None:
                raise errors.NotFound(f"Volume type access not found for {t.id} / {project} "
                                      "combination.")
            s.delete(a)

    # -- per-project default types (3.62) ------------------------------------------------
    def set_default(self, project_id: str, type_ident: Any) -> dict[str, str]:
        if not type_ident or not isinstance(type_ident, str):
            raise errors.BadRequest("Invalid input for field/attribute volume_type.")
        with self.db.write() as s:
            t = self.find(s, type_ident)
            d = s.get(DefaultType, project_id)
            if d is None:
                s.add(DefaultType(project_id=project_id, volume_type_id=t.id))
            else:
                d.volume_type_id = t.id
            return {"project_id": project_id, "volume_type_id": t.id}

    def get_default(self, project_id: str) -> dict[str, str]:
        with self.db.read() as s:
            d = s.get(DefaultType, project_id)
            if d is None:
                raise errors.NotFound(f"Default type for project {project_id} could not be "
                                      "found.")
            return {"project_id": d.project_id, "volume_type_id": d.volume_type_id}

    def list_defaults(self) -> list[dict[str, str]]:
        with self.db.read() as s:
            return [{"project_id": d.project_id, "volume_type_id": d.volume_type_id}
                    for d in s.scalars(select(DefaultType))]

    def unset_default(self, project_id: str) -> None:
        with self.db.write() as s:
            d = s.get(DefaultType, project_id)
            if d is not None:
                s.delete(d)

    # -- QoS -------------------------------------------------------------------------------
    def qos_find(self, s: Session, qos_id: str) -> QosSpecs:
        q = s.get(QosSpecs, qos_id)
        if q is None:
            raise common.not_found("qos_specs", qos_id)
        return q

    def qos_create(self, body: dict[str, Any]) -> dict[str, Any]:
        common.check_strings(body, ("name", "consumer"))
        body = dict(body)
        name = str(body.pop("name", "") or "").strip()
        if not name:
            raise errors.BadRequest("Please specify a name for QoS specs.")
        consumer = body.pop("consumer", "back-end")
        if consumer not in ("front-end", "back-end", "both"):
            raise errors.BadRequest("Invalid input received: Valid consumer of QoS specs are: "
                                    "['front-end', 'back-end', 'both']")
        self._check_specs(body)
        with self.db.write() as s:
            if s.scalar(select(QosSpecs).where(QosSpecs.name == name)) is not None:
                raise errors.Conflict(f"QoS Specs {name} already exists.")
            q = QosSpecs(id=new_uuid(), name=name, consumer=consumer,
                         specs={k: str(v) for k, v in body.items()})
            s.add(q)
            s.flush()
            return qos_dict(q)

    def qos_list(self) -> list[dict[str, Any]]:
        with self.db.read() as s:
            return [qos_dict(q) for q in s.scalars(select(QosSpecs).order_by(QosSpecs.name))]

    def qos_get(self, qos_id: str) -> dict[str, Any]:
        with self.db.read() as s:
            return qos_dict(self.qos_find(s, qos_id))

    def qos_set(self, qos_id: str, specs: dict[str, Any]) -> dict[str, str]:
        specs = dict(specs)
        consumer = specs.pop("consumer", None)
        self._check_specs(specs)
        with self.db.write() as s:
            q = self.qos_find(s, qos_id)
            if consumer is not None:
                if consumer not in ("front-end", "back-end", "both"):
                    raise errors.BadRequest("Invalid input received: Valid consumer of QoS "
                                            "specs are: ['front-end', 'back-end', 'both']")
                q.consumer = consumer
            q.specs = {**(q.specs or {}), **{k: str(v) for k, v in specs.items()}}
        out = {k: str(v) for k, v in specs.items()}
        if consumer is not None:
            out["consumer"] = consumer
        return out

    def qos_delete_keys(self, qos_id: str, keys: list[str]) -> None:
        with self.db.write() as s:
            q = self.qos_find(s, qos_id)
            specs = dict(q.specs or {})
            for k in keys:
                if k not in specs:
                    raise errors.NotFound(f"QoS spec {qos_id} has no key {k}.")
                del specs[k]
            q.specs = specs

    def qos_delete(self, qos_id: str, force: bool) -> None:
        with self.db.write() as s:
            q = self.qos_find(s, qos_id)
            users = list(s.scalars(select(VolumeType).where(VolumeType.qos_specs_id == q.id)))
            if users and not force:
                raise errors.BadRequest(f"QoS Specs {qos_id} is still associated with entities.")
            for t in users:
                t.qos_specs_id = None
            s.delete(q)

    def qos_associations(self, qos_id: str) -> list[dict[str, str]]:
        with self.db.read() as s:
            q = self.qos_find(s, qos_id)
            return [{"association_type": "volume_type", "name": t.name, "id": t.id}
                    for t in s.scalars(select(VolumeType).where(
                        VolumeType.qos_specs_id == q.id))]

    def qos_associate(self, qos_id: str, type_id: str | None) -> None:
        if not type_id:
            raise errors.BadRequest("Volume Type id must not be None.")
        with self.db.write() as s:
            q = self.qos_find(s, qos_id)
            t = self.find(s, type_id)
            if t.qos_specs_id and t.qos_specs_id != q.id:
                raise errors.BadRequest(f"Type {t.id} is already associated with another qos "
                                        f"specs: {t.qos_specs_id}")
            t.qos_specs_id = q.id

    def qos_disassociate(self, qos_id: str, type_id: str | None, all_: bool = False) -> None:
        with self.db.write() as s:
            q = self.qos_find(s, qos_id)
            if all_:
                for t in s.scalars(select(VolumeType).where(VolumeType.qos_specs_id == q.id)):
                    t.qos_specs_id = None
                return
            if not type_id:
                raise errors.BadRequest("Volume Type id must not be None.")
            t = self.find(s, type_id)
            if t.qos_specs_id == q.id:
                t.qos_specs_id = None


__all__ = ["Types", "type_dict", "qos_dict", "DEFAULT_TYPE"]
