"""What every object-store resource shares: the store, the files, and access checks."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from pocketstack.api import errors
from pocketstack.object import acl
from pocketstack.object.common import http_date, meta_headers
from pocketstack.object.versioning import Versioning

if TYPE_CHECKING:
    from pocketstack.api.request import Request
    from pocketstack.object.files import Files
    from pocketstack.object.models import Container
    from pocketstack.object.store import Store


class Resource:
    def __init__(self, store: "Store", files: "Files") -> None:
        self.store = store
        self.files = files
        self.versioning = Versioning(store, files)

    def access(self, req: "Request", account: str) -> acl.Access:
        return acl.Access(req, account)

    def container_for(self, req: "Request", account: str, container: str, write: bool,
                      listing: bool = False, obj: str | None = None
                      ) -> tuple[acl.Access, "Container"]:
        """The container, once the caller may read (or write) in it; 404 otherwise."""
        access = self.access(req, account)
        c = self.store.container(account, container)
        # as Swift's tempurl middleware (before auth): a request that carries a signature
        # and an expiry is judged by them alone, token or not
        if obj is not None and "temp_url_sig" in req.query and \
                "temp_url_expires" in req.query:
            acct = self.store.account(account)
            keys = acl.tempurl_keys(acct["meta"], c.meta if c else {})
            if acl.tempurl_valid(req.query, req.method, req.raw.url.path, keys):
                access.tempurl = True
            else:
                raise errors.Unauthorized(
                    "<html><h1>Unauthorized</h1><p>This server could not verify that you "
                    "are authorized to access the document you requested.</p></html>")
        if c is None:
            if not (access.tempurl or access.reader):
                access._deny()
            raise errors.NotFound()
        access.require_container(c, write, listing)
        return access, c

    @staticmethod
    def container_headers(c: "Container", owner: bool) -> dict[str, str]:
        h = {"X-Container-Object-Count": str(c.object_count),
             "X-Container-Bytes-Used": str(c.bytes_used),
             "X-Timestamp": c.timestamp, "X-Storage-Policy": "Policy-0",
             "Last-Modified": http_date(c.updated_at.timestamp()),
             "Accept-Ranges": "bytes",
             **meta_headers({k: v for k, v in c.meta.items()
                             if owner or not k.lower().startswith("temp-url-key")},
                            "container")}
        if owner:
            for key, header in (("read", "X-Container-Read"), ("write", "X-Container-Write"),
                                ("versions", "X-Versions-Location"),
                                ("history", "X-History-Location")):
                if c.sysmeta.get(key):
                    h[header] = c.sysmeta[key]
        return h

    @staticmethod
    def account_headers(info: dict[str, Any]) -> dict[str, str]:
        return {"X-Account-Container-Count": str(info["containers"]),
                "X-Account-Object-Count": str(info["objects"]),
                "X-Account-Bytes-Used": str(info["bytes"]),
                "X-Account-Storage-Policy-Policy-0-Container-Count": str(info["containers"]),
                "X-Account-Storage-Policy-Policy-0-Object-Count": str(info["objects"]),
                "X-Account-Storage-Policy-Policy-0-Bytes-Used": str(info["bytes"]),
                "X-Timestamp": f"{info['created']:016.5f}",
                "Accept-Ranges": "bytes",
                **meta_headers(info["meta"], "account")}


def ts_header() -> dict[str, str]:
    return {"X-Timestamp": f"{time.time():016.5f}"}
