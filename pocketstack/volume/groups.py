"""Generic volume groups (Cinder 3.11-3.20): group types with group specs, groups of
volumes of given volume types, group snapshots (a snapshot of each member at once, each
a reflink on a copy-on-write volumes dir) and groups made from a group or a group
snapshot. Group work is synchronous (the file back end answers at once); members made
from a source follow the volume rules (a clone without reflink is asynchronous)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pocketstack.api import errors
from pocketstack.db import new_uuid, utcnow
from pocketstack.volume import common
from pocketstack.volume.models import Group, GroupSnapshot, GroupType, Snapshot, Volume
from pocketstack.volume.types import Types
from pocketstack.volume.volumes import AZ, DELETABLE, Volumes

GROUP_STATUSES = ("creating", "available", "deleting", "error", "error_deleting",
                  "updating", "in-use")
GROUP_SNAPSHOT_STATUSES = ("creating", "available", "deleting", "error", "error_deleting")


# -- group types -----------------------------------------------------------------------
def group_type_view(t: GroupType) -> dict[str, Any]:
    return {"id": t.id, "name": t.name, "description": t.description,
            "is_public": t.is_public, "group_specs": dict(t.group_specs or {})}


def _specs(value: Any) -> dict[str, str]:
    if not isinstance(value, dict) or not all(
            isinstance(k, str) and k and len(k) <= 255 and isinstance(v, str) and len(v) <= 255
            for k, v in value.items()):
        raise errors.BadRequest("Invalid input received: group_specs must be a dict of "
                                "strings of at most 255 characters.")
    return dict(value)


def _is_public(value: Any) -> bool:
    return common.as_bool(value, "is_public")


class GroupTypes:
    def __init__(self, db: Any) -> None:
        self.db = db

    @staticmethod
    def find(s: Session, ident: str, admin: bool = True) -> GroupType:
        t = s.get(GroupType, ident) or s.scalar(select(GroupType).where(GroupType.name == ident))
        if t is None or not (admin or t.is_public):
            raise errors.NotFound(f"Group type with name or id {ident} could not be found.")
        return t

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        name = body.get("name")
        if not isinstance(name, str) or not name.strip() or len(name) > 255:
            raise errors.BadRequest("Invalid input received: group type name must be a "
                                    "non-empty string of at most 255 characters.")
        common.check_strings(body, ("description",), 0)
        with self.db.write() as s:
            if s.scalar(select(GroupType.id).where(GroupType.name == name)):
                raise errors.Conflict(f"Group Type {name} already exists.")
            t = GroupType(id=new_uuid(), name=name, description=body.get("description"),
                          is_public=_is_public(body.get("is_public", True)),
                          group_specs=_specs(body.get("group_specs") or {}))
            s.add(t)
            s.flush()
            return group_type_view(t)

    def list(self, admin: bool, is_public: Any) -> list[dict[str, Any]]:
        if is_public is None:
            want: bool | None = True  # Cinder shows public types unless asked otherwise
        elif str(is_public).lower() == "none":
            want = None
        else:
            want = _is_public(is_public)
        if not admin:
            want = True
        with self.db.read() as s:
            rows = list(s.scalars(select(GroupType)))
            return [group_type_view(t) for t in rows if want is None or t.is_public == want]

    def get(self, ident: str, admin: bool) -> dict[str, Any]:
        with self.db.read() as s:
            return group_type_view(self.find(s, ident, admin))

    def update(self, ident: str, body: dict[str, Any]) -> dict[str, Any]:
        common.check_strings(body, ("name",))
        common.check_strings(body, ("description",), 0)
        if not any(k in body for k in ("name", "description", "is_public")):
            raise errors.BadRequest("Invalid input received: Specify group type name, "
                                    "description or a combination thereof.")
        with self.db.write() as s:
            t = self.find(s, ident)
            if body.get("name"):
                if s.scalar(select(GroupType.id).where(GroupType.name == body["name"],
                                                       GroupType.id != t.id)):
                    raise errors.Conflict(f"Group Type {body['name']} already exists.")
                t.name = body["name"]
            if "description" in body:
                t.description = body["description"]
            if "is_public" in body:
                t.is_public = _is_public(body["is_public"])
            s.flush()
            return group_type_view(t)

    def delete(self, ident: str) -> None:
        with self.db.write() as s:
            t = self.find(s, ident)
            if s.scalar(select(Group.id).where(Group.group_type_id == t.id).limit(1)):
                raise errors.BadRequest("Target group type is still in use.")
            s.delete(t)

    def specs(self, ident: str) -> dict[str, str]:
        with self.db.read() as s:
            return dict(self.find(s, ident).group_specs or {})

    def set_specs(self, ident: str, specs: Any) -> dict[str, str]:
        specs = _specs(specs)
        with self.db.write() as s:
            t = self.find(s, ident)
            t.group_specs = {**(t.group_specs or {}), **specs}
        return specs

    def delete_spec(self, ident: str, key: str) -> None:
        with self.db.write() as s:
            t = self.find(s, ident)
            specs = dict(t.group_specs or {})
            if key not in specs:
                raise errors.NotFound(f"Group Type {ident} has no specs with key {key}.")
            del specs[key]
            t.group_specs = specs


# -- groups --------------------------------------------------------------------------------
def group_view(s: Session, g: Group) -> dict[str, Any]:
    vols = list(s.scalars(select(Volume.id).where(Volume.group_id == g.id)))
    return {"id": g.id, "name": g.name, "description": g.description, "status": g.status,
            "availability_zone": g.availability_zone, "created_at": common.iso(g.created_at),
            "group_type": g.group_type_id, "volume_types": list(g.volume_type_ids or []),
            "group_snapshot_id": g.group_snapshot_id, "source_group_id": g.source_group_id,
            "volumes": vols, "replication_status": "disabled", "project_id": g.project_id}


def check_member(s: Session, ctx: Any, group_id: str, volume_type_id: str | None,
                 creating: bool = False) -> Group:
    """The group a volume joins; 400/404 unless it can take a volume of that type."""
    g = s.get(Group, group_id)
    if g is None or not (ctx.is_admin or g.project_id == ctx.project_id):
        raise errors.NotFound(f"Group {group_id} could not be found.")
    if g.status not in (("available", "creating") if creating else ("available",)):
        raise errors.BadRequest(f"Invalid group: Group {group_id} status must be available, "
                                f"but current status is: {g.status}.")
    if volume_type_id not in (g.volume_type_ids or []):
        raise errors.BadRequest(f"Invalid input received: Volume type {volume_type_id} is "
                                f"not supported by group {group_id}.")
    return g


def _id_list(value: Any, key: str) -> list[str]:
    if value is None or value == "":
        return []
    if not isinstance(value, str):
        raise errors.BadRequest(f"Invalid input for field/attribute {key}: a comma-separated "
                                "string of volume ids.")
    return [x.strip() for x in value.split(",") if x.strip()]


class Groups:
    def __init__(self, volumes: Volumes, snapshots: Any) -> None:
        self.volumes = volumes
        self.snapshots = snapshots
        self.db = volumes.db
        self.driver = volumes.driver

    def find(self, s: Session, ctx: Any, group_id: str) -> Group:
        g = s.get(Group, group_id)
        if g is None or not (ctx.is_admin or g.project_id == ctx.project_id):
            raise errors.NotFound(f"Group {group_id} could not be found.")
        return g

    def _new(self, s: Session, ctx: Any, body: dict[str, Any], type_id: str,
             volume_types: list[str], status: str, **source: Any) -> Group:
        if not ctx.project_id:
            raise errors.BadRequest("Creating a group needs a project-scoped token.")
        az = body.get("availability_zone") or AZ
        if az != AZ:
            raise errors.BadRequest(f"Invalid input received: Availability zone '{az}' is "
                                    "invalid.")
        now = utcnow()
        g = Group(id=new_uuid(), project_id=ctx.project_id, user_id=ctx.user_id,
                  name=body.get("name"), description=body.get("description"), status=status,
                  availability_zone=az, group_type_id=type_id, volume_type_ids=volume_types,
                  created_at=now, updated_at=now, **source)
        s.add(g)
        return g

    def create(self, ctx: Any, body: dict[str, Any]) -> dict[str, Any]:
        common.check_strings(body, ("name", "group_type", "availability_zone"))
        common.check_strings(body, ("description",), 0)
        if not body.get("group_type"):
            raise errors.BadRequest("Missing required element 'group_type' in request body.")
        types = body.get("volume_types")
        if not isinstance(types, list) or not types or not all(isinstance(t, str)
                                                               for t in types):
            raise errors.BadRequest("Invalid input received: volume_types must be a "
                                    "non-empty list of volume type names or ids.")
        with self.db.write() as s:
            gtype = GroupTypes.find(s, body["group_type"], ctx.is_admin)
            type_ids = [Types.find(s, t, ctx.project_id, ctx.is_admin).id for t in types]
            g = self._new(s, ctx, body, gtype.id, type_ids, "available")
            s.flush()
            return group_view(s, g)

    def get(self, ctx: Any, group_id: str) -> dict[str, Any]:
        with self.db.read() as s:
            return group_view(s, self.find(s, ctx, group_id))

    def list(self, ctx: Any, all_projects: bool) -> list[dict[str, Any]]:
        with self.db.read() as s:
            q = select(Group)
            if not all_projects:
                q = q.where(Group.project_id == ctx.project_id)
            return [group_view(s, g) for g in s.scalars(q)]

    def update(self, ctx: Any, group_id: str, body: dict[str, Any]) -> None:
        common.check_strings(body, ("name",))
        common.check_strings(body, ("description",), 0)
        add = _id_list(body.get("add_volumes"), "add_volumes")
        remove = _id_list(body.get("remove_volumes"), "remove_volumes")
        if not any(k in body for k in ("name", "description")) and not add and not remove:
            raise errors.BadRequest("Invalid input received: Name, description, add_volumes, "
                                    "and remove_volumes can not be all empty in the request "
                                    "body.")
        with self.db.write() as s:
            g = self.find(s, ctx, group_id)
            if (add or remove) and g.status != "available":
                raise errors.BadRequest(f"Invalid group: Group {group_id} status must be "
                                        f"available, but current status is: {g.status}.")
            for vid in add:
                v = Volumes.find(s, vid, ctx.project_id, ctx.is_admin)
                if v.group_id and v.group_id != g.id:
                    raise errors.BadRequest(f"Invalid volume: Volume {vid} is already in a "
                                            "group.")
                if v.status not in ("available", "in-use"):
                    raise errors.BadRequest(f"Invalid volume: Volume {vid} must be available "
                                            f"or in-use to be added, but it is {v.status}.")
                check_member(s, ctx, g.id, v.volume_type_id)
                v.group_id = g.id
            for vid in remove:
                v = Volumes.find(s, vid, ctx.project_id, ctx.is_admin)
                if v.group_id != g.id:
                    raise errors.BadRequest(f"Invalid volume: Volume {vid} is not in group "
                                            f"{group_id}.")
                v.group_id = None
            for key in ("name", "description"):
                if key in body:
                    setattr(g, key, body[key])
            g.updated_at = utcnow()

    def delete(self, ctx: Any, group_id: str, delete_volumes: bool) -> None:
        with self.db.write() as s:
            g = self.find(s, ctx, group_id)
            vols = list(s.scalars(select(Volume).where(Volume.group_id == g.id)))
            if vols and not delete_volumes:
                raise errors.BadRequest(f"Invalid group: Group {group_id} still contains "
                                        "volumes. The delete-volumes flag is required to "
                                        "delete it.")
            if s.scalar(select(GroupSnapshot.id).where(GroupSnapshot.group_id == g.id)):
                raise errors.BadRequest(f"Invalid group: Group {group_id} has group "
                                        "snapshots: delete them first.")
            if g.status not in ("available", "error", "error_deleting"):
                raise errors.BadRequest(f"Invalid group: Group status must be available or "
                                        f"error, but current status is: {g.status}.")
            for v in vols:
                if v.status not in DELETABLE or v.attach_status == "attached":
                    raise errors.BadRequest(f"Invalid volume: Volume {v.id} in group "
                                            f"{group_id} is {v.status}: it cannot be deleted.")
            g.status = "deleting"
            ids = [v.id for v in vols]
        for vid in ids:
            self.volumes.delete(ctx, vid, cascade=True)
        with self.db.write() as s:
            g = s.get(Group, group_id)
            if g is not None:
                s.delete(g)

    def reset_status(self, ctx: Any, group_id: str, status: Any) -> None:
        if status not in GROUP_STATUSES:
            raise errors.BadRequest(f"Invalid input received: Group status {status} is not "
                                    "valid.")
        with self.db.write() as s:
            g = self.find(s, ctx, group_id)
            g.status, g.updated_at = status, utcnow()

    def create_from_source(self, ctx: Any, body: dict[str, Any]) -> dict[str, Any]:
        common.check_strings(body, ("name", "group_snapshot_id", "source_group_id"))
        common.check_strings(body, ("description",), 0)
        gsid, srcid = body.get("group_snapshot_id"), body.get("source_group_id")
        if bool(gsid) == bool(srcid):
            raise errors.BadRequest("Invalid input received: Either 'group_snapshot_id' or "
                                    "'source_group_id' must be provided to create group "
                                    "from source.")
        with self.db.write() as s:
            if gsid:
                gs = find_group_snapshot(s, ctx, gsid)
                if gs.status != "available":
                    raise errors.BadRequest(f"Invalid group snapshot: Group snapshot {gsid} "
                                            f"status must be available.")
                src = s.get(Group, gs.group_id)
                members = [{"snapshot_id": x.id, "size": x.size,
                            "volume_type": s.get(Volume, x.volume_id).volume_type_id}
                           for x in s.scalars(select(Snapshot).where(
                               Snapshot.group_snapshot_id == gsid))]
            else:
                src = self.find(s, ctx, srcid)
                if src.status != "available":
                    raise errors.BadRequest(f"Invalid group: Source group {srcid} status "
                                            "must be available.")
                members = [{"source_volid": v.id, "size": v.size,
                            "volume_type": v.volume_type_id}
                           for v in s.scalars(select(Volume).where(Volume.group_id == srcid))]
            g = self._new(s, ctx, body, src.group_type_id, list(src.volume_type_ids or []),
                          "creating", group_snapshot_id=gsid or None,
                          source_group_id=srcid or None)
            gid = g.id
        status = "error"
        try:
            for m in members:
                self.volumes.create(ctx, {**m, "group_id": gid})
            status = "available"
        finally:
            with self.db.write() as s:
                s.get(Group, gid).status = status
        return self.get(ctx, gid)


# -- group snapshots -----------------------------------------------------------------------
def group_snapshot_view(x: GroupSnapshot) -> dict[str, Any]:
    return {"id": x.id, "name": x.name, "description": x.description, "status": x.status,
            "group_id": x.group_id, "group_type_id": x.group_type_id,
            "created_at": common.iso(x.created_at), "project_id": x.project_id}


def find_group_snapshot(s: Session, ctx: Any, ident: str) -> GroupSnapshot:
    x = s.get(GroupSnapshot, ident)
    if x is None or not (ctx.is_admin or x.project_id == ctx.project_id):
        raise errors.NotFound(f"GroupSnapshot {ident} could not be found.")
    return x


class GroupSnapshots:
    def __init__(self, groups: Groups) -> None:
        self.groups = groups
        self.db = groups.db

    def create(self, ctx: Any, body: dict[str, Any]) -> dict[str, Any]:
        common.check_strings(body, ("name", "group_id"))
        common.check_strings(body, ("description",), 0)
        if not body.get("group_id"):
            raise errors.BadRequest("Missing required element 'group_id' in request body.")
        with self.db.write() as s:
            g = self.groups.find(s, ctx, body["group_id"])
            if g.status != "available":
                raise errors.BadRequest(f"Invalid group: Group {g.id} status must be "
                                        f"available, but current status is: {g.status}.")
            vids = list(s.scalars(select(Volume.id).where(Volume.group_id == g.id)))
            now = utcnow()
            x = GroupSnapshot(id=new_uuid(), project_id=g.project_id, user_id=ctx.user_id,
                              group_id=g.id, group_type_id=g.group_type_id,
                              name=body.get("name"), description=body.get("description"),
                              status="creating", created_at=now, updated_at=now)
            s.add(x)
            gsid = x.id
        status = "available"
        for vid in vids:
            snap = self.groups.snapshots.create(ctx, {
                "volume_id": vid, "name": f"group-snapshot-{gsid}"}, True)
            with self.db.write() as s:
                s.get(Snapshot, snap["id"]).group_snapshot_id = gsid
            if snap["status"] != "available":
                status = "error"
        with self.db.write() as s:
            x = s.get(GroupSnapshot, gsid)
            x.status = status
            s.flush()
            return group_snapshot_view(x)

    def get(self, ctx: Any, ident: str) -> dict[str, Any]:
        with self.db.read() as s:
            return group_snapshot_view(find_group_snapshot(s, ctx, ident))

    def list(self, ctx: Any, all_projects: bool) -> list[dict[str, Any]]:
        with self.db.read() as s:
            q = select(GroupSnapshot)
            if not all_projects:
                q = q.where(GroupSnapshot.project_id == ctx.project_id)
            return [group_snapshot_view(x) for x in s.scalars(q)]

    def delete(self, ctx: Any, ident: str) -> None:
        with self.db.write() as s:
            x = find_group_snapshot(s, ctx, ident)
            if x.status not in ("available", "error", "error_deleting"):
                raise errors.BadRequest(f"Invalid group snapshot: Group snapshot status must "
                                        f"be available or error, and no Group can be "
                                        f"currently using it as source for its creation: "
                                        f"{x.status}.")
            x.status = "deleting"
            sids = list(s.scalars(select(Snapshot.id).where(
                Snapshot.group_snapshot_id == ident)))
        for sid in sids:
            self.groups.driver.delete_snapshot(sid)
        with self.db.write() as s:
            for sid in sids:
                row = s.get(Snapshot, sid)
                if row is not None:
                    s.delete(row)
            s.delete(s.get(GroupSnapshot, ident))

    def reset_status(self, ctx: Any, ident: str, status: Any) -> None:
        if status not in GROUP_SNAPSHOT_STATUSES:
            raise errors.BadRequest(f"Invalid input received: Group snapshot status {status} "
                                    "is not valid.")
        with self.db.write() as s:
            x = find_group_snapshot(s, ctx, ident)
            x.status, x.updated_at = status, utcnow()
