"""FormPost: browsers upload files with an HTML form signed by a temp-URL key.

``POST /v1/AUTH_<project>/<container>[/<prefix>]`` with ``multipart/form-data``
holding redirect, max_file_size, max_file_count, expires and signature fields,
then the files; each file is stored as ``<prefix><filename>``.
"""

from __future__ import annotations

import email.parser
import email.policy
import hashlib
import os
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from starlette.responses import Response

from pocketstack.api import errors
from pocketstack.object import acl
from pocketstack.object.common import check_object_name, now_timestamp

if TYPE_CHECKING:
    from pocketstack.object.files import Files
    from pocketstack.object.store import Store

MAX_BODY = 256 * 1024 * 1024


def _fail(message: str, redirect: str) -> Response:
    if redirect:
        sep = "&" if "?" in redirect else "?"
        return Response(status_code=303, headers={
            "Location": f"{redirect}{sep}status=400&message={quote(message)}"})
    return Response(f"FormPost: {message}", status_code=400, media_type="text/plain")


def handle(store: "Store", files: "Files", path: str, content_type: str, body: bytes
           ) -> Response:
    parts = path.split("/", 4)
    if len(parts) < 4 or not parts[3]:
        raise errors.Unauthorized()
    account, container = parts[2], parts[3]
    prefix = parts[4] if len(parts) > 4 else ""
    msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body)
    if not msg.is_multipart():
        raise errors.BadRequest("FormPost: invalid multipart/form-data")
    fields: dict[str, str] = {}
    uploads: list[tuple[str, bytes, str]] = []
    for part in msg.iter_parts():
        name = part.get_param("name", header="content-disposition")
        filename = part.get_param("filename", header="content-disposition")
        payload = part.get_payload(decode=True) or b""
        if filename is not None:
            uploads.append((filename, payload, part.get_content_type()))
        elif name:
            fields[name] = payload.decode("utf-8", "replace").strip()
    redirect = fields.get("redirect", "")
    try:
        max_size, max_count = int(fields["max_file_size"]), int(fields["max_file_count"])
        expires = int(fields["expires"])
    except (KeyError, ValueError):
        return _fail("invalid or missing form fields", redirect)
    if expires < time.time():
        raise errors.Unauthorized("FormPost: Form Expired")
    c = store.container(account, container)
    keys = acl.tempurl_keys(store.account(account)["meta"], c.meta if c else {})
    signed = f"{path}\n{redirect}\n{max_size}\n{max_count}\n{expires}"
    if not acl.signature_valid(fields.get("signature", ""), signed, keys):
        raise errors.Unauthorized("FormPost: Invalid Signature")
    if c is None:
        raise errors.NotFound()
    if len(uploads) > max_count:
        return _fail("max_file_count exceeded", redirect)
    for filename, data, ctype in uploads:
        if not filename:
            continue
        if len(data) > max_size:
            return _fail("max_file_size exceeded", redirect)
        name = prefix + os.path.basename(filename)
        check_object_name(name)
        f, temp = files.temp()
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
        f.close()
        ts = now_timestamp()
        rel = files.place(temp, account, container, name, ts)
        values = {"name": name, "size": len(data), "timestamp": ts, "path": rel,
                  "etag": hashlib.md5(data, usedforsecurity=False).hexdigest(),
                  "content_type": ctype or "application/octet-stream", "meta": {},
                  "headers": {}, "slo": False, "delete_at": None}
        try:
            files.remove(store.put_object(account, container, values))
        except BaseException:
            files.remove(rel)
            raise
    if redirect:
        sep = "&" if "?" in redirect else "?"
        return Response(status_code=303,
                        headers={"Location": f"{redirect}{sep}status=201&message="})
    return Response("<html><h1>Created</h1><p>201 Created</p></html>", status_code=201,
                    media_type="text/html; charset=UTF-8")


def is_formpost(method: str, headers: Any) -> bool:
    """As Swift's formpost middleware (before auth): any multipart/form-data POST with a
    boundary, token or not."""
    ctype = headers.get("content-type", "").lower()
    return method == "POST" and ctype.startswith("multipart/form-data") and \
        "boundary=" in ctype
