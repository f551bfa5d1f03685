"""Metadef logic over the database: who sees which namespace, and Glance's rules for
protected namespaces, duplicate names and resource types.

A namespace is visible to the admin, to its owner's project and, when public, to
everyone; an invisible namespace is a 404, as in Glance. Writes are the admin's (the
``image:*_metadef_*`` policies). The children (objects, properties, tags) of a protected
namespace cannot be deleted either.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select

from pocketstack.api import errors
from pocketstack.api.context import RequestContext
from pocketstack.db import new_id, utcnow
from pocketstack.image.images import isotime
from pocketstack.image.metadefs.models import (MetadefAssociation, MetadefNamespace,
                                               MetadefObject, MetadefProperty,
                                               MetadefResourceType, MetadefTag)

# The resource types Glance's shipped definitions use (glance-manage db_load_metadefs).
RESOURCE_TYPES = ("OS::Glance::Image", "OS::Cinder::Volume", "OS::Nova::Flavor",
                  "OS::Nova::Aggregate", "OS::Nova::Server", "OS::Nova::Instance",
                  "OS::Trove::Instance", "OS::Cinder::Snapshot", "OS::Cinder::VolumeType")
NAMESPACE_FIELDS = ("display_name", "description", "visibility", "protected", "owner")
KINDS = {"object": MetadefObject, "property": MetadefProperty, "tag": MetadefTag}


def _stamps(row: Any) -> dict[str, Any]:
    return {"created_at": isotime(row.created_at),
            "updated_at": isotime(row.updated_at or row.created_at)}


class MetadefManager:
    def __init__(self, db: Any) -> None:
        self.db = db

    def seed(self) -> None:
        with self.db.write() as session:
            known = set(session.scalars(select(MetadefResourceType.name)))
            for name in RESOURCE_TYPES:
                if name not in known:
                    session.add(MetadefResourceType(name=name, protected=True))

    # -- rendering ----------------------------------------------------------------
    @staticmethod
    def association_view(row: MetadefAssociation) -> dict[str, Any]:
        body = {"name": row.resource_type, **_stamps(row)}
        for key in ("prefix", "properties_target"):
            if getattr(row, key) is not None:
                body[key] = getattr(row, key)
        return body

    @staticmethod
    def view(kind: str, row: Any, ns: str) -> dict[str, Any]:
        if kind == "tag":
            return {"name": row.name, **_stamps(row)}
        if kind == "property":
            return {"name": row.name, **(row.schema or {})}
        body: dict[str, Any] = {"name": row.name}
        if row.description is not None:
            body["description"] = row.description
        if row.required:
            body["required"] = row.required
        body["properties"] = row.properties or {}
        body.update(_stamps(row), schema="/v2/schemas/metadefs/object",
                    self=f"/v2/metadefs/namespaces/{ns}/objects/{row.name}")
        return body

    def namespace_view(self, session: Any, row: MetadefNamespace,
                       full: bool = True) -> dict[str, Any]:
        body: dict[str, Any] = {"namespace": row.namespace}
        for key in NAMESPACE_FIELDS:
            if getattr(row, key) is not None:
                body[key] = getattr(row, key)
        body.update(_stamps(row), schema="/v2/schemas/metadefs/namespace",
                    self=f"/v2/metadefs/namespaces/{row.namespace}")
        assocs = [self.association_view(a) for a in session.scalars(
            select(MetadefAssociation).where(MetadefAssociation.namespace_id == row.id))]
        if assocs:
            body["resource_type_associations"] = assocs
        if full:
            for kind, key in (("property", "properties"), ("object", "objects"),
                              ("tag", "tags")):
                views = [self.view(kind, c, row.namespace) for c in self._children(
                    session, kind, row.id)]
                if views and kind == "property":
                    body[key] = {v.pop("name"): v for v in views}
                elif views:
                    body[key] = views
        return body

    # -- namespaces ---------------------------------------------------------------------
    @staticmethod
    def _visible(ctx: RequestContext, row: MetadefNamespace) -> bool:
        return ctx.is_admin or row.visibility == "public" or row.owner == ctx.project_id

    def namespace(self, session: Any, ctx: RequestContext, name: str) -> MetadefNamespace:
        row = session.scalar(select(MetadefNamespace).where(
            MetadefNamespace.namespace == name))
        if row is None or not self._visible(ctx, row):
            raise errors.NotFound(f"Metadata definition namespace={name} was not found.")
        return row

    def list_namespaces(self, ctx: RequestContext, query: Any) -> list[dict[str, Any]]:
        visibility = query.get("visibility")
        wanted = {t.strip() for t in (query.get("resource_types") or "").split(",")
                  if t.strip()}
        sort_key = query.get("sort_key") or "created_at"
        if sort_key not in ("created_at", "updated_at", "namespace", "display_name"):
            raise errors.BadRequest(f"Invalid sort key: {sort_key}. It is not supported.")
        sort_dir = query.get("sort_dir") or "desc"
        if sort_dir not in ("asc", "desc"):
            raise errors.BadRequest(f"Invalid sort direction: {sort_dir}")
        with self.db.read() as session:
            rows = [r for r in session.scalars(select(MetadefNamespace))
                    if self._visible(ctx, r)
                    and (not visibility or r.visibility == visibility)]
            rows.sort(key=lambda r: (getattr(r, sort_key) is not None,
                                     getattr(r, sort_key) or ""), reverse=sort_dir == "desc")
            views = [self.namespace_view(session, r, full=False) for r in rows]
        if wanted:
            views = [v for v in views if wanted & {a["name"] for a in
                                                   v.get("resource_type_associations", [])}]
        marker = query.get("marker")
        if marker:
            names = [v["namespace"] for v in views]
            if marker not in names:
                raise errors.NotFound(f"Metadata definition namespace={marker} was not found.")
            views = views[names.index(marker) + 1:]
        limit = query.get("limit")
        if limit is not None:
            if not str(limit).isdigit():
                raise errors.BadRequest("limit param must be an integer")
            views = views[:int(limit)]
        return views

    def create_namespace(self, ctx: RequestContext, body: dict[str, Any]) -> dict[str, Any]:
        with self.db.write() as session:
            name = body["namespace"]
            if session.scalar(select(MetadefNamespace.id).where(
                    MetadefNamespace.namespace == name)):
                raise errors.Conflict(f"A metadata definition namespace with name={name} "
                                      "already exists.")
            row = MetadefNamespace(id=new_id(), namespace=name,
                                   owner=body.get("owner") or ctx.project_id,
                                   visibility=body.get("visibility") or "private",
                                   protected=bool(body.get("protected", False)),
                                   display_name=body.get("display_name"),
                                   description=body.get("description"))
            session.add(row)
            session.flush()
            for assoc in body.get("resource_type_associations") or []:
                self._associate(session, row, assoc)
            for obj in body.get("objects") or []:
                self._add(session, "object", row, obj)
            for prop_name, prop in (body.get("properties") or {}).items():
                self._add(session, "property", row, {**prop, "name": prop_name})
            self._set_tags(session, row, body.get("tags") or [], append=False)
            session.flush()
            return self.namespace_view(session, row)

    def show_namespace(self, ctx: RequestContext, name: str) -> dict[str, Any]:
        with self.db.read() as session:
            return self.namespace_view(session, self.namespace(session, ctx, name))

    def update_namespace(self, ctx: RequestContext, name: str,
                         body: dict[str, Any]) -> dict[str, Any]:
        with self.db.write() as session:
            row = self.namespace(session, ctx, name)
            new = body["namespace"]
            if new != row.namespace and session.scalar(select(MetadefNamespace.id).where(
                    MetadefNamespace.namespace == new)):
                raise errors.Conflict(f"A metadata definition namespace with name={new} "
                                      "already exists.")
            row.namespace = new
            for key in ("display_name", "description", "visibility", "protected", "owner"):
                if key in body:
                    setattr(row, key, body[key])
            row.updated_at = utcnow()
            session.flush()
            return self.namespace_view(session, row)

    def delete_namespace(self, ctx: RequestContext, name: str) -> None:
        with self.db.write() as session:
            row = self.namespace(session, ctx, name)
            if row.protected:
                raise errors.Forbidden(f"Metadata definition namespace {name} is protected "
                                       "and cannot be deleted.")
            session.delete(row)

    # -- objects, properties, tags --------------------------------------------------------
    @staticmethod
    def _children(session: Any, kind: str, namespace_id: str) -> list[Any]:
        model = KINDS[kind]
        return list(session.scalars(select(model).where(model.namespace_id == namespace_id)
                                    .order_by(model.created_at, model.name)))

    @staticmethod
    def _find(session: Any, kind: str, ns: MetadefNamespace, name: str) -> Any:
        model = KINDS[kind]
        row = session.scalar(select(model).where(model.namespace_id == ns.id,
                                                 model.name == name))
        if row is None:
            what = {"object": "object", "property": "property", "tag": "tag"}[kind]
            raise errors.NotFound(f"Metadata definition {what} not found for namespace="
                                  f"{ns.namespace} and name={name}.")
        return row

    @staticmethod
    def _fill(kind: str, row: Any, body: dict[str, Any]) -> None:
        row.name = body["name"]
        if kind == "object":
            row.description = body.get("description")
            row.required = body.get("required") or []
            row.properties = body.get("properties") or {}
        elif kind == "property":
            row.schema = {k: v for k, v in body.items() if k != "name"}

    def _add(self, session: Any, kind: str, ns: MetadefNamespace, body: dict[str, Any]) -> Any:
        model = KINDS[kind]
        if session.scalar(select(model.id).where(model.namespace_id == ns.id,
                                                 model.name == body["name"])):
            raise errors.Conflict(f"A metadata definition {kind} with name={body['name']} "
                                  f"already exists in namespace={ns.namespace}.")
        row = model(id=new_id(), namespace_id=ns.id)
        self._fill(kind, row, body)
        session.add(row)
        return row

    def list_children(self, ctx: RequestContext, kind: str, name: str) -> list[dict[str, Any]]:
        with self.db.read() as session:
            ns = self.namespace(session, ctx, name)
            return [self.view(kind, c, ns.namespace)
                    for c in self._children(session, kind, ns.id)]

    def create_child(self, ctx: RequestContext, kind: str, name: str,
                     body: dict[str, Any]) -> dict[str, Any]:
        with self.db.write() as session:
            ns = self.namespace(session, ctx, name)
            row = self._add(session, kind, ns, body)
            session.flush()
            return self.view(kind, row, ns.namespace)

    def show_child(self, ctx: RequestContext, kind: str, name: str,
                   child: str) -> dict[str, Any]:
        with self.db.read() as session:
            ns = self.namespace(session, ctx, name)
            return self.view(kind, self._find(session, kind, ns, child), ns.namespace)

    def update_child(self, ctx: RequestContext, kind: str, name: str, child: str,
                     body: dict[str, Any]) -> dict[str, Any]:
        with self.db.write() as session:
            ns = self.namespace(session, ctx, name)
            row = self._find(session, kind, ns, child)
            model = KINDS[kind]
            if body["name"] != child and session.scalar(select(model.id).where(
                    model.namespace_id == ns.id, model.name == body["name"])):
                raise errors.Conflict(f"A metadata definition {kind} with name="
                                      f"{body['name']} already exists in namespace="
                                      f"{ns.namespace}.")
            self._fill(kind, row, body)
            row.updated_at = utcnow()
            session.flush()
            return self.view(kind, row, ns.namespace)

    def delete_child(self, ctx: RequestContext, kind: str, name: str,
                     child: str | None = None) -> None:
        """Delete one child, or every child of the kind when ``child`` is None."""
        with self.db.write() as session:
            ns = self.namespace(session, ctx, name)
            if ns.protected:
                raise errors.Forbidden(f"Metadata definition namespace {name} is protected: "
                                       f"its {kind} definitions cannot be deleted.")
            if child is None:
                model = KINDS[kind]
                session.execute(delete(model).where(model.namespace_id == ns.id))
            else:
                session.delete(self._find(session, kind, ns, child))

    def _set_tags(self, session: Any, ns: MetadefNamespace, tags: list[dict[str, Any]],
                  append: bool) -> list[Any]:
        names = [t["name"] for t in tags]
        if len(set(names)) != len(names):
            raise errors.Conflict("Duplicate tag names in the request.")
        if not append:
            session.execute(delete(MetadefTag).where(MetadefTag.namespace_id == ns.id))
            session.flush()
        return [self._add(session, "tag", ns, {"name": n}) for n in names]

    def create_tags(self, ctx: RequestContext, name: str, tags: list[dict[str, Any]],
                    append: bool) -> list[dict[str, Any]]:
        with self.db.write() as session:
            ns = self.namespace(session, ctx, name)
            rows = self._set_tags(session, ns, tags, append)
            session.flush()
            return [{"name": r.name} for r in rows]

    # -- resource types -------------------------------------------------------------------
    def resource_types(self) -> list[dict[str, Any]]:
        with self.db.read() as session:
            return [{"name": r.name, **_stamps(r)} for r in session.scalars(
                select(MetadefResourceType).order_by(MetadefResourceType.name))]

    def _associate(self, session: Any, ns: MetadefNamespace,
                   body: dict[str, Any]) -> MetadefAssociation:
        rt = body["name"]
        if session.get(MetadefResourceType, rt) is None:  # Glance creates unknown types
            session.add(MetadefResourceType(name=rt, protected=False))
            session.flush()
        if session.get(MetadefAssociation, (ns.id, rt)) is not None:
            raise errors.Conflict(f"The metadata definition resource-type association of "
                                  f"resource-type={rt} to namespace={ns.namespace}, already "
                                  "exists.")
        row = MetadefAssociation(namespace_id=ns.id, resource_type=rt,
                                 prefix=body.get("prefix"),
                                 properties_target=body.get("properties_target"))
        session.add(row)
        return row

    def associations(self, ctx: RequestContext, name: str) -> list[dict[str, Any]]:
        with self.db.read() as session:
            ns = self.namespace(session, ctx, name)
            return [self.association_view(a) for a in session.scalars(
                select(MetadefAssociation).where(MetadefAssociation.namespace_id == ns.id))]

    def associate(self, ctx: RequestContext, name: str, body: dict[str, Any]) -> dict[str, Any]:
        with self.db.write() as session:
            row = self._associate(session, self.namespace(session, ctx, name), body)
            session.flush()
            return self.association_view(row)

    def dissociate(self, ctx: RequestContext, name: str, rt: str) -> None:
        with self.db.write() as session:
            ns = self.namespace(session, ctx, name)
            row = session.get(MetadefAssociation, (ns.id, rt))
            if row is None:
                raise errors.NotFound(f"The metadata definition resource-type association of "
                                      f"resource-type={rt} to namespace={name}, was not "
                                      "found.")
            session.delete(row)
