"""Objects: GET (Range, conditions, large objects), HEAD, POST metadata, DELETE."""

from __future__ import annotations

import json
import os
import time
import uuid
from typing import Any, Iterator
from urllib.parse import quote

from starlette.responses import Response, StreamingResponse

from pocketstack.api import errors
from pocketstack.api.request import Request
from pocketstack.api.routing import route
from pocketstack.object import large
from pocketstack.object.api import staticweb
from pocketstack.object.api.base import Resource
from pocketstack.object.common import (STORED_OBJECT_HEADERS, http_date, merge_meta,
                                       meta_headers, meta_updates, parse_http_date)
from pocketstack.object.models import Container, Object


def delete_at(headers: Any) -> float | None | bool:
    """X-Delete-At / X-Delete-After → epoch seconds; False when neither is given."""
    if "x-delete-after" in headers:
        try:
            after = int(headers["x-delete-after"])
        except ValueError:
            raise errors.BadRequest("Non-integer X-Delete-After") from None
        if after < 0:
            raise errors.BadRequest("X-Delete-After in past")
        return time.time() + after
    if "x-delete-at" in headers:
        try:
            at = int(float(headers["x-delete-at"]))
        except ValueError:
            raise errors.BadRequest("Non-integer X-Delete-At") from None
        if at < time.time():
            raise errors.BadRequest("X-Delete-At in past")
        return float(at)
    return False


def object_headers(obj: Object, size: int, etag: str) -> dict[str, str]:
    ts = float(obj.timestamp)
    h = {"Content-Type": obj.content_type, "Content-Length": str(size), "Etag": etag,
         "Last-Modified": http_date(ts), "X-Timestamp": obj.timestamp,
         "Accept-Ranges": "bytes", **meta_headers(obj.meta, "object")}
    for k, v in obj.headers.items():
        if not k.startswith("_"):
            h[k] = v
    if obj.delete_at is not None:
        h["X-Delete-At"] = str(int(obj.delete_at))
    return h


def _etag_matches(header: str, etag: str) -> bool:
    tags = [t.strip().strip('"') for t in header.split(",")]
    return "*" in tags or etag.strip('"') in tags


def check_conditions(req: Request, etag: str, ts: float, headers: dict[str, str]) -> None:
    h = req.headers
    lm = float(int(ts) + (1 if ts % 1 else 0))
    if "if-match" in h and not _etag_matches(h["if-match"], etag):
        raise errors.PreconditionFailed(headers=headers)
    if "if-none-match" in h and _etag_matches(h["if-none-match"], etag):
        raise NotModified(headers)
    since = parse_http_date(h.get("if-unmodified-since"))
    if since is not None and lm > since:
        raise errors.PreconditionFailed(headers=headers)
    since = parse_http_date(h.get("if-modified-since"))
    if since is not None and "if-none-match" not in h and lm <= since:
        raise NotModified(headers)


class NotModified(Exception):
    def __init__(self, headers: dict[str, str]) -> None:
        self.headers = {k: v for k, v in headers.items() if k != "Content-Length"}


def parse_ranges(value: str | None, size: int) -> list[tuple[int, int]] | None:
    """``bytes=a-b,c-,-n`` → [(start, length)]; None to ignore; [] when unsatisfiable."""
    if not value or not value.strip().lower().startswith("bytes="):
        return None
    out = []
    for spec in value.strip()[6:].split(","):
        a, sep, b = spec.strip().partition("-")
        if not sep or (not a and not b):
            return None
        try:
            if not a:
                n = int(b)
                if n == 0:
                    continue
                start, end = max(size - n, 0), size - 1
            else:
                start = int(a)
                end = int(b) if b else size - 1
                if b and end < start:
                    return None
        except ValueError:
            return None
        if start >= size:
            continue
        end = min(end, size - 1)
        out.append((start, end - start + 1))
    return out


class Objects(Resource):
    def pieces(self, account: str, obj: Object) -> tuple[list[large.Piece], int, str]:
        if obj.slo:
            return large.slo_pieces(self.store, self.files, account, obj), obj.size, \
                f'"{obj.etag}"'
        manifest = obj.headers.get("X-Object-Manifest")
        if manifest:
            pieces, etag = large.dlo_pieces(self.store, account, manifest)
            return pieces, sum(p[2] for p in pieces), f'"{etag}"'
        return [(obj.path, 0, obj.size)], obj.size, obj.etag

    def stream(self, pieces: list[large.Piece]) -> Iterator[bytes]:
        # open every data file now: an overwrite or delete during the download then
        # removes only the name, and the download still gets the whole version it started
        if len(pieces) > 32:  # large objects: do not hold hundreds of descriptors
            return (chunk for path, off, length in pieces
                    for chunk in self.files.read(path, off, length))
        try:
            handles = [(self.files.open(path), off, length) for path, off, length in pieces]
        except FileNotFoundError:
            raise errors.NotFound() from None

        def chunks() -> Iterator[bytes]:
            try:
                for i, (f, off, length) in enumerate(handles):
                    handles[i] = (None, 0, 0)  # type: ignore[assignment]
                    yield from self.files.read(f, off, length)
            finally:
                for f, _, _ in handles:
                    if f is not None:
                        f.close()

        return chunks()

    def load(self, req: Request, account: str, container: str, obj: str, write: bool = False
             ) -> tuple[Any, Container, Object]:
        access, c = self.container_for(req, account, container, write=write, obj=obj)
        o = self.store.get_object(c, obj)
        if o is None:
            raise errors.NotFound()
        return access, c, o

    @route("GET", "/v1/{account}/{container}/{obj:path}", auth=False)
    def get(self, req: Request, account: str, container: str, obj: str) -> Response:
        access, c = self.container_for(req, account, container, write=False, obj=obj)
        if not access.tempurl and staticweb.web_mode(req, c):
            return staticweb.serve(self, req, account, c, obj)
        return self.get_object(req, account, c, obj, access)

    def get_object(self, req: Request, account: str, c: Container, obj: str,
                   access: Any = None) -> Response:
        o = self.store.get_object(c, obj)
        if o is None:
            raise errors.NotFound()
        if o.slo and req.query.get("multipart-manifest") == "get":
            body = json.dumps(large.manifest_listing(self.files, o,
                                                     req.query.get("format") == "raw"))
            headers = object_headers(o, len(body), o.etag)
            headers.pop("X-Static-Large-Object", None)
            headers.pop("Content-Length")
            headers["X-Static-Large-Object"] = "True"
            headers["Content-Type"] = "application/json; charset=utf-8"
            return Response(body if req.method == "GET" else b"", headers=headers)
        pieces, size, etag = self.pieces(account, o)
        headers = object_headers(o, size, etag)
        tempurl = access is not None and access.tempurl
        if tempurl:
            headers = {k: v for k, v in headers.items()
                       if not k.startswith("X-Object-Meta-") or
                       k.startswith("X-Object-Meta-Public-")}
        if tempurl and req.method == "GET":
            name = req.query.get("filename") or os.path.basename(obj)
            if "inline" in req.query and not req.query.get("filename"):
                headers["Content-Disposition"] = "inline"
            else:
                kind = "inline" if "inline" in req.query else "attachment"
                headers["Content-Disposition"] = f'{kind}; filename="{name}"; ' \
                    f"filename*=UTF-8''{quote(name)}"
        try:
            check_conditions(req, etag, float(o.timestamp), headers)
        except NotModified as nm:
            return Response(status_code=304, headers=nm.headers)
        if req.method == "HEAD":
            return Response(status_code=200, headers=headers)
        ranges = parse_ranges(req.headers.get("range"), size)
        if ranges is None:
            return StreamingResponse(self.stream(pieces), headers=headers,
                                     media_type=o.content_type)
        if not ranges:
            raise errors.RangeNotSatisfiable(headers={"Content-Range": f"bytes */{size}"})
        if len(ranges) == 1:
            start, length = ranges[0]
            headers["Content-Range"] = f"bytes {start}-{start + length - 1}/{size}"
            headers["Content-Length"] = str(length)
            return StreamingResponse(self.stream(large.slice_pieces(pieces, start, length)),
                                     status_code=206, headers=headers)
        boundary = uuid.uuid4().hex
        parts: list[tuple[bytes, Iterator[bytes]]] = []
        total = 0
        for start, length in ranges:
            head = (f"--{boundary}\r\nContent-Type: {o.content_type}\r\n"
                    f"Content-Range: bytes {start}-{start + length - 1}/{size}\r\n\r\n"
                    ).encode()
            parts.append((head, self.stream(large.slice_pieces(pieces, start, length))))
            total += len(head) + length + 2
        tail = f"--{boundary}--".encode()
        total += len(tail)

        def body() -> Iterator[bytes]:
            for head, sub in parts:
                yield head
                yield from sub
                yield b"\r\n"
            yield tail

        headers["Content-Length"] = str(total)
        headers["Content-Type"] = f"multipart/byteranges;boundary={boundary}"
        return StreamingResponse(body(), status_code=206, headers=headers)

    @route("POST", "/v1/{account}/{container}/{obj:path}", auth=False)
    def post(self, req: Request, account: str, container: str, obj: str) -> Response:
        _, c, o = self.load(req, account, container, obj, write=True)
        sets, removes = meta_updates(req.headers, "object", keep_empty=True)
        meta = merge_meta({}, sets, [])
        expiry = delete_at(req.headers)

        def apply(row: Object) -> None:
            row.meta = meta
            headers = {k: v for k, v in row.headers.items()
                       if k.startswith("_") or k in ("X-Static-Large-Object",
                                                     "X-Object-Manifest")}
            for name in STORED_OBJECT_HEADERS[:5]:
                if name in req.headers:
                    headers[name.title()] = req.headers[name]
            if "x-object-manifest" in req.headers:
                headers["X-Object-Manifest"] = req.headers["x-object-manifest"]
            row.headers = headers
            if req.headers.get("content-type"):
                row.content_type = req.headers["content-type"]
            if expiry is not False:
                row.delete_at = expiry
            elif "x-remove-delete-at" in req.headers:
                row.delete_at = None

        self.store.update_object(c, obj, apply)
        body = "<html><h1>Accepted</h1><p>The request is accepted for processing.</p></html>"
        return Response(body, status_code=202, media_type="text/html; charset=UTF-8")

    @route("DELETE", "/v1/{account}/{container}/{obj:path}", auth=False)
    def delete(self, req: Request, account: str, container: str, obj: str) -> Response:
        _, c, o = self.load(req, account, container, obj, write=True)
        if o.slo and req.query.get("multipart-manifest") == "delete":
            manifest = json.loads(self.files.read_all(o.path))
            deleted, missing, errs = 0, 0, []
            for item in manifest:
                seg_container, seg_name = large._segment_path(item["name"])
                try:
                    self.container_for(req, account, seg_container, write=True)
                    self.files.remove(self.store.delete_object(account, seg_container,
                                                               seg_name))
                    deleted += 1
                except errors.NotFound:
                    missing += 1
                except errors.ApiError as exc:
                    errs.append([item["name"], f"{exc.code} {exc.title}"])
            self.files.remove(self.store.delete_object(account, container, obj))
            result = {"Number Deleted": deleted + 1, "Number Not Found": missing,
                      "Response Status": "200 OK" if not errs else "400 Bad Request",
                      "Response Body": "", "Errors": errs}
            if "json" in req.headers.get("accept", ""):
                return Response(json.dumps(result), media_type="application/json")
            return Response("".join(f"{k}: {v}\n" for k, v in result.items()),
                            media_type="text/plain")
        if not self.versioning.delete(account, c, obj):
            self.files.remove(self.store.delete_object(account, container, obj))
        return Response(status_code=204, media_type="text/html; charset=UTF-8")
