"""Bulk upload: ``PUT /v1/AUTH_<project>[/<container>[/<prefix>]]?extract-archive=tar``.

Each regular file of the (tar, tar.gz or tar.bz2) archive becomes an object; at the
account level the first path segment of a member names its container, which is created
when missing. The reply, like bulk delete's, is 200 with a summary (JSON or text).
"""

from __future__ import annotations

import hashlib
import io
import json
import mimetypes
import tarfile
from typing import TYPE_CHECKING, Any

from starlette.responses import Response

from pocketstack.api import errors
from pocketstack.object.common import check_container_name, check_object_name

if TYPE_CHECKING:
    from pocketstack.api.request import Request
    from pocketstack.object.api.upload import Upload

MODES = {"tar": "r:", "tar.gz": "r:gz", "tar.bz2": "r:bz2"}
MAX_CONTAINERS = 10000
MAX_FAILED = 1000


def _summary(req: "Request", created: int, failures: list[list[str]],
             status: str | None = None) -> Response:
    result = {"Number Files Created": created, "Response Body": "",
              "Response Status": status or ("400 Bad Request" if failures else "201 Created"),
              "Errors": failures}
    if "json" in req.headers.get("accept", ""):
        return Response(json.dumps(result), media_type="application/json")
    text = "".join(f"{k}: {v}\n" for k, v in result.items() if k != "Errors")
    text += "Errors:\n" + "".join(f"{p}, {s}\n" for p, s in failures)
    return Response(text, media_type="text/plain")


def extract_archive(upload: "Upload", req: "Request", account: str,
                    container: str | None = None, prefix: str = "") -> Response:
    upload.access(req, account).require_account(write=True)
    mode = MODES.get(req.query.get("extract-archive", "").lower())
    if mode is None:
        raise errors.BadRequest("Unsupported archive format")
    try:
        archive = tarfile.open(fileobj=io.BytesIO(req.body), mode=mode)
        members = archive.getmembers()
    except (tarfile.TarError, EOFError, OSError):
        return _summary(req, 0, [], "400 Bad Request")
    created, failures, containers = 0, [], set()
    for member in members:
        if not member.isfile():
            continue
        path = member.name
        while path.startswith("./"):
            path = path[2:]
        path = path.lstrip("/")
        if container is None:
            cname, _, name = path.partition("/")
        else:
            cname, name = container, prefix + path
        if not cname or not name:
            continue
        try:
            check_container_name(cname)
            check_object_name(name)
            if cname not in containers:
                if upload.store.container(account, cname) is None:
                    if len(containers) >= MAX_CONTAINERS:
                        raise errors.BadRequest("More than 10000 containers to create")
                    upload.store.put_container(account, cname, lambda c: None)
                containers.add(cname)
            upload.container_for(req, account, cname, True)
            data = archive.extractfile(member).read()  # type: ignore[union-attr]
            f, temp = upload.files.temp()
            f.write(data)
            values: dict[str, Any] = {
                "size": len(data), "slo": False, "meta": {}, "headers": {},
                "etag": hashlib.md5(data, usedforsecurity=False).hexdigest(),
                "content_type": mimetypes.guess_type(name)[0] or "application/octet-stream",
                "delete_at": None}
            upload._commit(f, temp, account, cname, name, values, req)
            created += 1
        except errors.ApiError as exc:
            failures.append([f"/{cname}/{name}", f"{exc.code} {exc.title}"])
            if len(failures) >= MAX_FAILED:
                break
    return _summary(req, created, failures)
