"""Object writes: streaming PUT, SLO manifests, server-side copy (COPY, X-Copy-From)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import mimetypes
import os
from typing import IO, Any, AsyncIterator, Iterator
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from pocketstack.api import errors
from pocketstack.api.request import Request
from pocketstack.api.routing import route
from pocketstack.object import large
from pocketstack.object.api.objects import Objects, delete_at
from pocketstack.object.common import (MAX_FILE_SIZE, STORED_OBJECT_HEADERS, LengthRequired,
                                       Unprocessable, check_object_name, http_date,
                                       merge_meta, meta_get, meta_headers, meta_updates,
                                       now_timestamp, split_path, truthy)
from pocketstack.object.models import Container, Object


def quota_check(extra_bytes: int, account: dict[str, Any] | None = None) -> Any:
    """A check for Store.put_object: container and account quotas → 413."""
    def check(c: Container, old: Object | None) -> None:
        quota_bytes = meta_get(c.meta, "Quota-Bytes")
        quota_count = meta_get(c.meta, "Quota-Count")
        freed = old.headers.get("_stored", old.size) if old is not None else 0
        if account:
            sysmeta = account.get("sysmeta") or {}
            for quota in (meta_get(account["meta"], "Quota-Bytes"),
                          sysmeta.get("quota-bytes")):
                if quota is not None and quota.isdigit() and \
                        account["bytes"] - freed + extra_bytes > int(quota):
                    raise errors.RequestEntityTooLarge("Upload exceeds quota.")
            count = sysmeta.get("quota-count")
            if count is not None and old is None and account["objects"] + 1 > int(count):
                raise errors.RequestEntityTooLarge("Upload exceeds quota.")
        if quota_bytes is not None and \
                c.bytes_used - freed + extra_bytes > int(quota_bytes):
            raise errors.RequestEntityTooLarge("Upload exceeds quota.")
        if quota_count is not None and old is None and c.object_count + 1 > int(quota_count):
            raise errors.RequestEntityTooLarge("Upload exceeds quota.")
    return check


def no_overwrite(inner: Any) -> Any:
    def check(c: Container, old: Object | None) -> None:
        if old is not None:
            raise errors.PreconditionFailed()
        inner(c, old)
    return check


class BodySink:
    """Receives a request body into a file, hashing and writing in a worker thread.

    The event loop only gathers chunks; each batch of ``BATCH`` bytes is hashed and
    written by a worker while the next one arrives (MD5 and write release the GIL),
    with at most one batch in flight, so memory stays bounded.
    """

    BATCH = 1024 * 1024

    def __init__(self, f: IO[bytes]) -> None:
        self.f = f
        self.md5 = hashlib.md5(usedforsecurity=False)

    def _write(self, data: bytes) -> None:
        self.md5.update(data)
        self.f.write(data)

    async def receive(self, stream: AsyncIterator[bytes]) -> int:
        size, buffered = 0, 0
        parts: list[bytes] = []
        pending: asyncio.Future[None] | None = None
        try:
            async for chunk in stream:
                if not chunk:
                    continue
                size += len(chunk)
                if size > MAX_FILE_SIZE:
                    raise errors.RequestEntityTooLarge()
                parts.append(chunk)
                buffered += len(chunk)
                if buffered >= self.BATCH:
                    data = b"".join(parts)
                    parts, buffered = [], 0
                    if pending is not None:
                        await pending
                    pending = asyncio.ensure_future(run_in_threadpool(self._write, data))
            if pending is not None:
                await pending
                pending = None
            if parts:
                data = b"".join(parts)
                if len(data) >= 65536:
                    await run_in_threadpool(self._write, data)
                else:
                    self._write(data)
        finally:
            if pending is not None:  # let the worker finish before the file is closed
                await asyncio.gather(pending, return_exceptions=True)
        return size


class Upload(Objects):
    def _values(self, req: Request, name: str, base: Object | None = None
                ) -> dict[str, Any]:
        """Content type, stored headers, metadata and expiry of the new object."""
        h = req.headers
        fresh = base is None or truthy(h.get("x-fresh-metadata"))
        sets, removes = meta_updates(h, "object", keep_empty=True)
        meta = merge_meta({} if fresh else dict(base.meta), sets, removes)  # type: ignore
        stored = {} if base is None else {k: v for k, v in base.headers.items()
                                          if not k.startswith("_") and
                                          k not in ("X-Static-Large-Object",
                                                    "X-Object-Manifest")}
        for header in STORED_OBJECT_HEADERS[:5]:
            if header in h:
                stored[header.title()] = h[header]
        if "x-object-manifest" in h:
            container, _, prefix = h["x-object-manifest"].lstrip("/").partition("/")
            if not container or not container.strip():
                raise errors.BadRequest("X-Object-Manifest must be in the format "
                                        "container/prefix")
            stored["X-Object-Manifest"] = h["x-object-manifest"]
        ctype = (h.get("content-type") or "").strip()
        if not ctype or truthy(h.get("x-detect-content-type")):
            ctype = (base.content_type if base is not None and not ctype else None) or \
                mimetypes.guess_type(name)[0] or "application/octet-stream"
        expiry = delete_at(h)
        return {"content_type": ctype, "headers": stored, "meta": meta,
                "delete_at": None if expiry is False else expiry}

    def _commit(self, f: IO[bytes], temp: str, account: str, container: str, name: str,
                values: dict[str, Any], req: Request, c: Container | None = None,
                no_account_quota: bool = False) -> dict[str, str]:
        """fsync + rename the temp file, then publish the index row."""
        try:
            f.flush()
            os.fsync(f.fileno())
            f.close()
            ts = now_timestamp()
            path = self.files.place(temp, account, container, name, ts)
        except BaseException:
            f.close()
            self.files.discard(temp)
            raise
        try:
            if c is None:
                c = self.store.container(account, container)
            if c is not None and req.headers.get("if-none-match", "").strip() != "*":
                self.versioning.before_write(account, c, name)
        except BaseException:
            self.files.remove(path)
            raise
        check = quota_check(values.get("stored_bytes", values["size"]),
                            None if no_account_quota else self.store.account_quota(account))
        if req.headers.get("if-none-match", "").strip() == "*":
            check = no_overwrite(check)
        try:
            replaced = self.store.put_object(account, container, {
                **values, "name": name, "timestamp": ts, "path": path}, check)
        except BaseException:
            self.files.remove(path)
            raise
        self.files.remove(replaced)
        etag = f'"{values["etag"]}"' if values.get("slo") else values["etag"]
        return {"Etag": etag, "Last-Modified": http_date(float(ts)), "X-Timestamp": ts}

    @route("PUT", "/v1/{account}/{container}/{obj:path}", auth=False, stream=True)
    async def put(self, req: Request, account: str, container: str, obj: str) -> Response:
        check_object_name(obj)
        h = req.headers
        if "x-copy-from" in h:
            src_container, src_obj = split_path(h["x-copy-from"])
            src_account = h.get("x-copy-from-account", account)
            return await run_in_threadpool(self.copy, req, src_account, src_container,
                                           src_obj, account, container, obj)
        _, c = await run_in_threadpool(self.container_for, req, account, container, True,
                                       False, obj)
        values = await run_in_threadpool(self._values, req, obj)
        chunked = "chunked" in h.get("transfer-encoding", "").lower()
        length = h.get("content-length")
        if length is None and not chunked:
            raise LengthRequired()
        try:
            expected = int(length) if length is not None and not chunked else None
        except ValueError:
            raise errors.BadRequest("Invalid Content-Length") from None
        if expected is not None and expected < 0:
            raise errors.BadRequest("Invalid Content-Length")
        if req.query.get("multipart-manifest") == "put":
            chunks: list[bytes] = []
            received = 0
            async for chunk in req.raw.stream():
                received += len(chunk)
                if received > large.MAX_MANIFEST:
                    raise errors.RequestEntityTooLarge("Manifest File > 8388608 bytes")
                chunks.append(chunk)
            body = b"".join(chunks)
            return await run_in_threadpool(self._put_manifest, req, account, container, obj,
                                           values, body)
        if expected is not None and expected > MAX_FILE_SIZE:
            raise errors.RequestEntityTooLarge()
        acct: Any = False  # not looked up
        if expected is not None:
            acct = await run_in_threadpool(self.store.account_quota, account)
            quota_check(expected, acct)(c, None)
        f, temp = self.files.temp()
        sink = BodySink(f)
        try:
            size = await sink.receive(req.raw.stream())
            if expected is not None and size != expected:
                raise errors.BadRequest("Client disconnected before sending the whole body")
            etag = sink.md5.hexdigest()
            want = h.get("etag", "").strip().strip('"').lower()
            if want and want != etag:
                raise Unprocessable()
        except BaseException:
            f.close()
            self.files.discard(temp)
            raise
        values.update(size=size, etag=etag, slo=False)
        headers = await run_in_threadpool(self._commit, f, temp, account, container, obj,
                                          values, req, c, acct is None)
        return Response(status_code=201, headers=headers, media_type="text/html; "
                        "charset=UTF-8")

    def _put_manifest(self, req: Request, account: str, container: str, obj: str,
                      values: dict[str, Any], body: bytes) -> Response:
        manifest, total, etag = large.build_manifest(self.store, account, body)
        want = req.headers.get("etag", "").strip().strip('"').lower()
        if want and want != etag:
            raise Unprocessable()
        data = json.dumps(manifest).encode()
        f, temp = self.files.temp()
        f.write(data)
        values.update(size=total, stored_bytes=len(data), etag=etag, slo=True)
        values["headers"]["X-Static-Large-Object"] = "True"
        headers = self._commit(f, temp, account, container, obj, values, req)
        return Response(status_code=201, headers=headers, media_type="text/html; "
                        "charset=UTF-8")

    # -- server-side copy ----------------------------------------------------------
    @route("COPY", "/v1/{account}/{container}/{obj:path}", auth=False)
    def copy_method(self, req: Request, account: str, container: str, obj: str) -> Response:
        dest = req.headers.get("destination")
        if not dest:
            raise errors.PreconditionFailed("You must provide a Destination header")
        dest_container, dest_obj = split_path(dest)
        dest_account = req.headers.get("destination-account", account)
        return self.copy(req, account, container, obj, dest_account, dest_container,
                         dest_obj)

    def copy(self, req: Request, src_account: str, src_container: str, src_obj: str,
             account: str, container: str, obj: str) -> Response:
        check_object_name(obj)
        _, _, src = self.load(req, src_account, src_container, src_obj)
        self.container_for(req, account, container, write=True)
        values = self._values(req, obj, base=src)
        f, temp = self.files.temp()
        try:
            if src.slo and req.query.get("multipart-manifest") == "get":
                f.write(self.files.read_all(src.path))
                values.update(size=src.size, stored_bytes=src.headers.get("_stored",
                                                                          src.size),
                              etag=src.etag, slo=True)
                values["headers"]["X-Static-Large-Object"] = "True"
            else:
                pieces, size, _ = self.pieces(src_account, src)
                if size > MAX_FILE_SIZE:
                    raise errors.RequestEntityTooLarge()
                md5 = hashlib.md5(usedforsecurity=False)
                for chunk in self._chunks(pieces):
                    md5.update(chunk)
                    f.write(chunk)
                values.update(size=size, etag=md5.hexdigest(), slo=False)
        except BaseException:
            f.close()
            self.files.discard(temp)
            raise
        headers = self._commit(f, temp, account, container, obj, values, req)
        headers.update(meta_headers(values["meta"], "object"))
        headers.update({"X-Copied-From": quote(f"{src_container}/{src_obj}"),
                        "X-Copied-From-Account": quote(src_account),
                        "X-Copied-From-Last-Modified": http_date(float(src.timestamp))})
        return Response(status_code=201, headers=headers, media_type="text/html; "
                        "charset=UTF-8")

    def _chunks(self, pieces: list[large.Piece]) -> Iterator[bytes]:
        return self.stream(pieces)
