"""Legacy object versioning: ``X-Versions-Location`` (stack) and ``X-History-Location``.

Before an object is overwritten (or, in history mode, deleted) its current version
is archived in the versions container as ``<3-hex-digit name length><name>/<timestamp>``.
Archives share the data file through a hard link, so nothing is copied.
In stack mode a DELETE restores the newest archived version instead.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from pocketstack.api import errors
from pocketstack.object.common import now_timestamp

if TYPE_CHECKING:
    from pocketstack.object.files import Files
    from pocketstack.object.models import Container, Object
    from pocketstack.object.store import Store


def archive_prefix(name: str) -> str:
    return f"{len(name.encode()):03x}{name}/"


class Versioning:
    def __init__(self, store: "Store", files: "Files") -> None:
        self.store = store
        self.files = files

    @staticmethod
    def location(c: "Container") -> tuple[str | None, str | None]:
        if c.sysmeta.get("history"):
            return c.sysmeta["history"], "history"
        if c.sysmeta.get("versions"):
            return c.sysmeta["versions"], "stack"
        return None, None

    def _archive_container(self, account: str, name: str) -> "Container":
        archive = self.store.container(account, name)
        if archive is None:
            raise errors.PreconditionFailed(f"Versions container {name!r} does not exist")
        return archive

    def _clone(self, account: str, src: "Object", container: str, name: str) -> None:
        """Put a row for ``src``'s content at container/name, sharing its data file."""
        f, temp = self.files.temp()
        f.close()
        os.unlink(temp)
        os.link(self.files.full(src.path), temp)
        ts = now_timestamp()
        path = self.files.place(temp, account, container, name, ts)
        values = {"name": name, "size": src.size, "etag": src.etag,
                  "content_type": src.content_type, "timestamp": src.timestamp,
                  "path": path, "meta": dict(src.meta),
                  "headers": {k: v for k, v in src.headers.items() if k != "_stored"},
                  "slo": src.slo, "delete_at": src.delete_at,
                  "stored_bytes": src.headers.get("_stored", src.size)}
        try:
            self.files.remove(self.store.put_object(account, container, values))
        except BaseException:
            self.files.remove(path)
            raise

    def before_write(self, account: str, c: "Container", name: str) -> None:
        """Archive the current version of container/name, if versioning is on."""
        location, _ = self.location(c)
        if location is None:
            return
        current = self.store.get_object(c, name)
        if current is None:
            return
        self._archive_container(account, location)
        self._clone(account, current, location, archive_prefix(name) + current.timestamp)

    def delete(self, account: str, c: "Container", name: str) -> bool:
        """Versioned DELETE; False when the caller should simply delete the object."""
        location, mode = self.location(c)
        if location is None:
            return False
        if mode == "history":
            self.before_write(account, c, name)
            return False
        archive = self._archive_container(account, location)
        params = {"prefix": archive_prefix(name), "delimiter": None, "marker": "",
                  "end_marker": "", "limit": 1, "reverse": True}
        newest = self.store.list_objects(archive, params)
        if not newest:
            return False
        prev = newest[0]
        self._clone(account, prev, c.name, name)
        self.files.remove(self.store.delete_object(account, location, prev.name))
        return True
