"""/v2/images/{id}/file, /stage and /import: image data, streamed both ways.

Uploads are read from the request stream in the event loop and handed over in 1 MiB
pieces to the writer's threads (file, md5 and sha512 at once, see store.Writer);
downloads are streamed from the file in 1 MiB reads, with single byte ranges (206/416)
and Glance's hex ``Content-MD5``.
"""

from __future__ import annotations

import os
import re
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect
from starlette.responses import Response, StreamingResponse

from pocketstack.api import errors
from pocketstack.api.request import Request
from pocketstack.api.routing import route
from pocketstack.image.data import ImageData
from pocketstack.image.store import CHUNK, Writer
from pocketstack.image.stores import Stores

_RANGE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$")


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(start, length) of a single ``Range: bytes=`` request; None for the whole file."""
    if not header:
        return None
    m = _RANGE.match(header)
    if not m or (not m.group(1) and not m.group(2)):
        return None  # malformed or multiple ranges: ignored, the whole file is sent
    first, last = m.group(1), m.group(2)
    if first:
        start = int(first)
        end = min(int(last), size - 1) if last else size - 1
        if start >= size or (last and int(last) < start):
            raise errors.RangeNotSatisfiable(
                "Requested range not satisfiable", headers={"Content-Range": f"bytes */{size}"})
    else:
        suffix = int(last)
        if suffix == 0 or size == 0:
            raise errors.RangeNotSatisfiable(
                "Requested range not satisfiable", headers={"Content-Range": f"bytes */{size}"})
        start, end = max(size - suffix, 0), size - 1
    return start, end - start + 1


async def _hand_over(writer: Writer, piece: bytes) -> None:
    """Queue a piece for the writer's threads: in the loop when there is room (no thread
    hop), else from a worker thread that waits for room without blocking the loop."""
    if writer.has_room():
        writer.write(piece)
    else:
        await run_in_threadpool(writer.write, piece)


class ImageFiles:
    def __init__(self, data: ImageData, store: Stores) -> None:
        self.data = data
        self.store = store

    async def _receive(self, req: Request, image_id: str, staging: bool) -> None:
        media = req.headers.get("content-type", "application/octet-stream")
        if media.split(";")[0].strip().lower() != "application/octet-stream":
            raise errors.UnsupportedMediaType(
                f"Content-Type {media} is not supported: send application/octet-stream.")
        declared = req.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > self.store.size_cap:
            raise errors.RequestEntityTooLarge(
                f"Image exceeds the storage quota: the image size cap is "
                f"{self.store.size_cap} bytes.")
        expected = int(declared) if declared and declared.isdigit() else None
        target = req.headers.get("x-image-meta-store")
        if target is not None and not staging:
            self.store.backend(target)  # 400 for an unknown store, before any state change
        disk_format = await run_in_threadpool(self.data.begin, req.ctx, image_id, staging)
        try:
            if staging:
                writer = await run_in_threadpool(self.store.stage_writer, image_id, expected)
            else:
                writer = await run_in_threadpool(self.store.writer, image_id, expected, target)
        except BaseException:
            await run_in_threadpool(self.data.fail, image_id, staging)
            raise
        try:
            pending: list[bytes] = []
            held = 0
            async for chunk in req.raw.stream():
                if not pending and len(chunk) >= CHUNK:  # big enough alone: no join copy
                    await _hand_over(writer, chunk)
                    continue
                pending.append(chunk)
                held += len(chunk)
                if held >= CHUNK:
                    await _hand_over(writer, b"".join(pending))
                    pending.clear()
                    held = 0
            if pending:
                await _hand_over(writer, b"".join(pending))
            stored = await run_in_threadpool(writer.commit, disk_format)
        except BaseException as exc:
            writer.abort()
            await run_in_threadpool(self.data.fail, image_id, staging)
            if isinstance(exc, ClientDisconnect):
                raise errors.BadRequest("The client disconnected before sending all the image "
                                        "data.") from None
            raise
        await run_in_threadpool(self.data.finish, image_id, None if staging else stored)

    @route("PUT", "/v2/images/{image_id}/file", status=204, stream=True)
    async def upload(self, req: Request, image_id: str) -> None:
        await self._receive(req, image_id, staging=False)

    @route("PUT", "/v2/images/{image_id}/stage", status=204, stream=True)
    async def stage(self, req: Request, image_id: str) -> None:
        await self._receive(req, image_id, staging=True)

    @route("POST", "/v2/images/{image_id}/import", status=202, policy="image:import_image")
    def import_image(self, req: Request, image_id: str) -> None:
        self.data.import_image(req.ctx, image_id, req.json())

    @route("GET", "/v2/images/{image_id}/file")
    async def download(self, req: Request, image_id: str) -> Any:
        found = await run_in_threadpool(self.data.download, req.ctx, image_id)
        if found is None:
            return Response(status_code=204)
        try:
            size = os.path.getsize(found.path)
        except OSError:
            return Response(status_code=204)
        wanted = byte_range(req.headers.get("range"), size)
        headers = {"Content-Type": "application/octet-stream", "Accept-Ranges": "bytes"}
        if wanted is None:
            start, length, status = 0, size, 200
            if found.checksum:
                headers["Content-MD5"] = found.checksum
        else:
            start, length = wanted
            status = 206
            headers["Content-Range"] = f"bytes {start}-{start + length - 1}/{size}"
        headers["Content-Length"] = str(length)
        if req.method == "HEAD":
            return Response(status_code=status, headers=headers)
        try:
            body = await run_in_threadpool(self.store.read, found.path, start, length)
        except FileNotFoundError:
            return Response(status_code=204)
        return StreamingResponse(body, status_code=status, headers=headers)
