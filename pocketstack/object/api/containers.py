"""Containers: ``/v1/AUTH_<project_id>/<container>``."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from pocketstack.api import errors
from pocketstack.api.request import Request
from pocketstack.api.routing import route
from pocketstack.object import acl
from pocketstack.object.api import staticweb
from pocketstack.object.api.base import Resource, ts_header
from pocketstack.object.api.extract import extract_archive
from pocketstack.object.common import (HTML, TEXT, check_container_name, iso, listing_format,
                                       listing_params, merge_meta, meta_updates,
                                       render_listing)
from pocketstack.object.models import Container

_SYSMETA = {"x-container-read": "read", "x-container-write": "write",
            "x-versions-location": "versions", "x-history-location": "history"}


_HEADER = {"versions": "X-Versions-Location", "history": "X-History-Location"}


def _sysmeta_updates(headers: Any) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for header, key in _SYSMETA.items():
        if header in headers:
            out[key] = headers[header].strip() or None
        if f"x-remove-{header[2:]}" in headers:
            out[key] = None
    for key in ("read", "write"):
        if out.get(key):
            acl.check_acl_syntax(out[key] or "", write=key == "write")
    if out.get("versions") and out.get("history"):
        raise errors.BadRequest("Only one of X-Versions-Location or X-History-Location "
                                "may be specified")
    for key in ("versions", "history"):
        if out.get(key):
            check_container_name(out[key] or "")
            if "/" in (out[key] or ""):
                raise errors.PreconditionFailed(
                    f"{_HEADER[key]} header must be of the form <container name>")
            other = "history" if key == "versions" else "versions"
            out.setdefault(other, None)
    return out


def _check_quota(meta: dict[str, str]) -> None:
    for k, v in meta.items():
        if k.lower() in ("quota-bytes", "quota-count"):
            try:
                int(v)
            except ValueError:
                raise errors.BadRequest("Invalid count/bytes quota.") from None


class Containers(Resource):
    objects: Any = None  # the object resource, for static web pages
    def _apply(self, req: Request, c: Container) -> None:
        sets, removes = meta_updates(req.headers, "container")
        _check_quota(sets)
        sysmeta = _sysmeta_updates(req.headers)
        meta = merge_meta(c.meta or {}, sets, removes)
        new_sys = dict(c.sysmeta or {})
        for k, v in sysmeta.items():
            if v is None:
                new_sys.pop(k, None)
            else:
                new_sys[k] = v
        c.meta, c.sysmeta = meta, new_sys

    @route("PUT", "/v1/{account}/{container}", auth=False)
    def put(self, req: Request, account: str, container: str) -> Response:
        if "extract-archive" in req.query and self.objects is not None:
            return extract_archive(self.objects, req, account, container)
        self.access(req, account).require_account(write=True)
        check_container_name(container)
        created = self.store.put_container(account, container, lambda c: self._apply(req, c))
        return Response(status_code=201 if created else 202, headers=ts_header(),
                        media_type="text/html; charset=UTF-8")

    @route("POST", "/v1/{account}/{container}", auth=False)
    def post(self, req: Request, account: str, container: str) -> Response:
        self.access(req, account).require_account(write=True)
        self.store.update_container(account, container, lambda c: self._apply(req, c))
        return Response(status_code=204, media_type=HTML)

    @route("DELETE", "/v1/{account}/{container}", auth=False)
    def delete(self, req: Request, account: str, container: str) -> Response:
        self.access(req, account).require_account(write=True)
        self.store.delete_container(account, container)
        return Response(status_code=204, media_type=HTML)

    @route("GET", "/v1/{account}/{container}", auth=False)
    def get(self, req: Request, account: str, container: str) -> Response:
        c = self.store.container(account, container)
        if c is not None and self.objects is not None and staticweb.web_mode(req, c):
            self.container_for(req, account, container, write=False)
            return staticweb.serve(self.objects, req, account, c, "")
        access, c = self.container_for(req, account, container, write=False, listing=True)
        headers = self.container_headers(c, owner=access.operator)
        if req.method == "HEAD":
            return Response(status_code=204, headers=headers, media_type=TEXT)
        params = listing_params(req.query)
        fmt = listing_format(req.query, req.headers)
        rows = self.store.list_objects(c, params, light=True)
        items = []
        for r in rows:
            if isinstance(r, dict):
                items.append(r)
                continue
            items.append({"name": r.name, "hash": r.etag.strip('"'), "bytes": r.size,
                          "content_type": r.content_type,
                          "last_modified": iso(float(r.timestamp))})
            if r.slo:
                items[-1]["slo_etag"] = f'"{r.etag}"'
        return render_listing(fmt, "container", container, items, headers)
