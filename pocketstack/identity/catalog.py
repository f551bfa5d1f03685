"""Regions, services and endpoints: the service catalog."""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import select

from pocketstack.api import errors
from pocketstack.db import Database, new_id
from pocketstack.identity.common import conflict, not_found, split_extra
from pocketstack.identity.models import CatalogService, Endpoint, Region

INTERFACES = ("public", "internal", "admin")


def region_dict(r: Region) -> dict[str, Any]:
    return {**(r.extra or {}), "id": r.id, "description": r.description or "",
            "parent_region_id": r.parent_region_id}


def service_dict(s: CatalogService) -> dict[str, Any]:
    out = {**(s.extra or {}), "id": s.id, "type": s.type, "enabled": s.enabled}
    if s.name is not None:
        out["name"] = s.name
    if s.description is not None:
        out["description"] = s.description
    return out


def endpoint_dict(e: Endpoint) -> dict[str, Any]:
    return {**(e.extra or {}), "id": e.id, "service_id": e.service_id, "interface": e.interface,
            "url": e.url, "region_id": e.region_id, "region": e.region_id,
            "enabled": e.enabled}


class Catalog:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._lock = threading.Lock()
        self._cached: list[dict[str, Any]] | None = None

    def _changed(self) -> None:
        with self._lock:
            self._cached = None

    # -- regions --------------------------------------------------------------
    def create_region(self, body: dict[str, Any]) -> dict[str, Any]:
        core, extra = split_extra(body, {"description", "parent_region_id"})
        rid = body.get("id") or new_id()
        with self.db.write() as s:
            if s.get(Region, rid) is not None:
                raise conflict("region", "id", rid)
            parent = core.get("parent_region_id")
            if parent and s.get(Region, parent) is None:
                raise errors.NotFound(f"Could not find region: {parent}.")
            r = Region(id=rid, description=core.get("description") or "",
                       parent_region_id=parent, extra=extra)
            s.add(r)
            s.flush()
            return region_dict(r)

    def get_region(self, region_id: str) -> dict[str, Any]:
        with self.db.read() as s:
            r = s.get(Region, region_id)
            if r is None:
                raise not_found("region", region_id)
            return region_dict(r)

    def list_regions(self, filters: dict[str, Any]) -> list[dict[str, Any]]:
        q = select(Region).order_by(Region.id)
        if "parent_region_id" in filters:
            q = q.where(Region.parent_region_id == filters["parent_region_id"])
        with self.db.read() as s:
            return [region_dict(r) for r in s.scalars(q)]

    def update_region(self, region_id: str, body: dict[str, Any]) -> dict[str, Any]:
        core, extra = split_extra(body, {"description", "parent_region_id"})
        with self.db.write() as s:
            r = s.get(Region, region_id)
            if r is None:
                raise not_found("region", region_id)
            if "parent_region_id" in core:
                parent = core["parent_region_id"]
                probe = parent
                while probe:
                    if probe == region_id:
                        raise errors.BadRequest("Circular reference in region hierarchy.")
                    pr = s.get(Region, probe)
                    if pr is None:
                        raise errors.NotFound(f"Could not find region: {probe}.")
                    probe = pr.parent_region_id
                r.parent_region_id = parent
            if "description" in core:
                r.description = core["description"] or ""
            if extra:
                r.extra = {**(r.extra or {}), **extra}
            s.flush()
            result = region_dict(r)
        self._changed()
        return result

    def delete_region(self, region_id: str) -> None:
        with self.db.write() as s:
            r = s.get(Region, region_id)
            if r is None:
                raise not_found("region", region_id)
            if s.scalar(select(Region.id).where(Region.parent_region_id == region_id)):
                raise errors.Forbidden("Unable to delete region %s because it or its child "
                                       "regions have associated endpoints." % region_id)
            if s.scalar(select(Endpoint.id).where(Endpoint.region_id == region_id)):
                raise errors.Forbidden("Unable to delete region %s because it or its child "
                                       "regions have associated endpoints." % region_id)
            s.delete(r)
        self._changed()

    # -- services -------------------------------------------------------------
    def create_service(self, body: dict[str, Any]) -> dict[str, Any]:
        core, extra = split_extra(body, {"type", "name", "description", "enabled"})
        with self.db.write() as s:
            svc = CatalogService(id=new_id(), type=core["type"], name=core.get("name"),
                                 description=core.get("description"),
                                 enabled=core.get("enabled", True), extra=extra)
            s.add(svc)
            s.flush()
            result = service_dict(svc)
        self._changed()
        return result

    def get_service(self, service_id: str) -> dict[str, Any]:
        with self.db.read() as s:
            svc = s.get(CatalogService, service_id)
            if svc is None:
                raise not_found("service", service_id)
            return service_dict(svc)

    def list_services(self, filters: dict[str, Any]) -> list[dict[str, Any]]:
        q = select(CatalogService).order_by(CatalogService.type)
        for field in ("type", "name"):
            if field in filters:
                q = q.where(getattr(CatalogService, field) == filters[field])
        with self.db.read() as s:
            return [service_dict(x) for x in s.scalars(q)]

    def update_service(self, service_id: str, body: dict[str, Any]) -> dict[str, Any]:
        core, extra = split_extra(body, {"type", "name", "description", "enabled"})
        with self.db.write() as s:
            svc = s.get(CatalogService, service_id)
            if svc is None:
                raise not_found("service", service_id)
            for k, v in core.items():
                setattr(svc, k, v)
            if extra:
                svc.extra = {**(svc.extra or {}), **extra}
            s.flush()
            result = service_dict(svc)
        self._changed()
        return result

    def delete_service(self, service_id: str) -> None:
        with self.db.write() as s:
            svc = s.get(CatalogService, service_id)
            if svc is None:
                raise not_found("service", service_id)
            for e in s.scalars(select(Endpoint).where(Endpoint.service_id == service_id)):
                s.delete(e)
            s.delete(svc)
        self._changed()

    # -- endpoints ------------------------------------------------------------
    @staticmethod
    def _legacy_region(s: Any, core: dict[str, Any]) -> None:
        """As Keystone: an endpoint given the legacy ``region`` (and no ``region_id``)
        creates that region if it does not exist yet."""
        legacy = core.get("region")
        if core.get("region_id") is None and legacy and s.get(Region, legacy) is None:
            s.add(Region(id=legacy, description="", extra={}))
            s.flush()

    def create_endpoint(self, body: dict[str, Any]) -> dict[str, Any]:
        core, extra = split_extra(body, {"service_id", "interface", "url", "region_id",
                                         "region", "enabled"})
        if core["interface"] not in INTERFACES:
            raise errors.BadRequest(f"Invalid interface {core['interface']!r}: must be one of "
                                    f"{', '.join(INTERFACES)}.")
        region_id = core.get("region_id") or core.get("region")
        with self.db.write() as s:
            if s.get(CatalogService, core["service_id"]) is None:
                raise errors.BadRequest(f"Could not find service: {core['service_id']}.")
            self._legacy_region(s, core)
            if region_id and s.get(Region, region_id) is None:
                raise errors.BadRequest(f"Could not find region: {region_id}.")
            e = Endpoint(id=new_id(), service_id=core["service_id"], interface=core["interface"],
                         url=core["url"], region_id=region_id,
                         enabled=core.get("enabled", True), extra=extra)
            s.add(e)
            s.flush()
            result = endpoint_dict(e)
        self._changed()
        return result

    def get_endpoint(self, endpoint_id: str) -> dict[str, Any]:
        with self.db.read() as s:
            e = s.get(Endpoint, endpoint_id)
            if e is None:
                raise not_found("endpoint", endpoint_id)
            return endpoint_dict(e)

    def list_endpoints(self, filters: dict[str, Any]) -> list[dict[str, Any]]:
        q = select(Endpoint)
        for field in ("service_id", "interface", "region_id"):
            if field in filters:
                q = q.where(getattr(Endpoint, field) == filters[field])
        with self.db.read() as s:
            return [endpoint_dict(e) for e in s.scalars(q)]

    def update_endpoint(self, endpoint_id: str, body: dict[str, Any]) -> dict[str, Any]:
        core, extra = split_extra(body, {"service_id", "interface", "url", "region_id",
                                         "region", "enabled"})
        with self.db.write() as s:
            e = s.get(Endpoint, endpoint_id)
            if e is None:
                raise not_found("endpoint", endpoint_id)
            if "interface" in core and core["interface"] not in INTERFACES:
                raise errors.BadRequest(f"Invalid interface {core['interface']!r}.")
            self._legacy_region(s, core)
            if "region" in core and "region_id" not in core:
                core["region_id"] = core.pop("region")
            core.pop("region", None)
            if core.get("region_id") and s.get(Region, core["region_id"]) is None:
                raise errors.BadRequest(f"Could not find region: {core['region_id']}.")
            if "service_id" in core and s.get(CatalogService, core["service_id"]) is None:
                raise errors.BadRequest(f"Could not find service: {core['service_id']}.")
            for k, v in core.items():
                setattr(e, k, v)
            if extra:
                e.extra = {**(e.extra or {}), **extra}
            s.flush()
            result = endpoint_dict(e)
        self._changed()
        return result

    def delete_endpoint(self, endpoint_id: str) -> None:
        with self.db.write() as s:
            e = s.get(Endpoint, endpoint_id)
            if e is None:
                raise not_found("endpoint", endpoint_id)
            s.delete(e)
        self._changed()

    # -- the catalog in tokens ------------------------------------------------
    def token_catalog(self) -> list[dict[str, Any]]:
        cached = self._cached
        if cached is not None:
            return cached
        with self.db.read() as s:
            services = s.scalars(select(CatalogService).where(
                CatalogService.enabled.is_(True))).all()
            endpoints = s.scalars(select(Endpoint).where(Endpoint.enabled.is_(True))).all()
        by_service: dict[str, list[dict[str, Any]]] = {}
        for e in endpoints:
            by_service.setdefault(e.service_id, []).append(
                {"id": e.id, "interface": e.interface, "region": e.region_id,
                 "region_id": e.region_id, "url": e.url})
        catalog = [{"id": svc.id, "type": svc.type, "name": svc.name or "",
                    "endpoints": by_service.get(svc.id, [])} for svc in services]
        with self._lock:
            self._cached = catalog
        return catalog

    def ensure(self, *, type: str, name: str, description: str, region: str,
               urls: dict[str, str]) -> None:
        """Register (or re-point) one of pocketstack's own services; used at start-up."""
        with self.db.write() as s:
            if s.get(Region, region) is None:
                s.add(Region(id=region, description="", extra={}))
                s.flush()
            svc = s.scalar(select(CatalogService).where(CatalogService.type == type,
                                                        CatalogService.name == name))
            if svc is None:
                svc = CatalogService(id=new_id(), type=type, name=name, description=description,
                                     enabled=True, extra={})
                s.add(svc)
                s.flush()
            existing = {e.interface: e for e in s.scalars(
                select(Endpoint).where(Endpoint.service_id == svc.id,
                                       Endpoint.region_id == region))}
            for interface, url in urls.items():
                e = existing.get(interface)
                if e is None:
                    s.add(Endpoint(id=new_id(), service_id=svc.id, interface=interface, url=url,
                                   region_id=region, enabled=True, extra={}))
                elif e.url != url:
                    e.url = url
        self._changed()
