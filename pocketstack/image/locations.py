"""``direct_url`` and ``locations``: where an image's data lives, for clients that can read
the store themselves (Nova's file download path).

Shown only when ``show_image_direct_url`` / ``show_multiple_locations`` are on (both off by
default, as in Glance: the URL reveals the store's layout). Each location of the file
store carries the metadata of ``filesystem_store_metadata_file``: a JSON object with an
``id`` and a ``mountpoint`` (or a list of them, the one whose mountpoint holds the file
is used), which a compute host matches against its own mount of the same filesystem.
"""

from __future__ import annotations

import json
import logging
import os
import urllib.parse
from typing import Any

from pocketstack.api import errors
from pocketstack.db import utcnow
from pocketstack.image.models import Image

SCHEMES = ("file", "http", "https")  # Glance's default stores: file and http

LOG = logging.getLogger(__name__)


def load_metadata(path: str) -> list[dict[str, Any]]:
    """The file store's metadata entries; a bad file is logged and ignored (no metadata)."""
    if not path:
        return []
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError) as exc:
        LOG.error("filesystem_store_metadata_file %s cannot be read: %s", path, exc)
        return []
    entries = data if isinstance(data, list) else [data]
    good = [e for e in entries if isinstance(e, dict) and isinstance(e.get("id"), str)
            and isinstance(e.get("mountpoint"), str)]
    if len(good) != len(entries):
        LOG.error("filesystem_store_metadata_file %s: every entry needs a string 'id' and "
                  "'mountpoint'; the others are ignored", path)
    return good


class Locations:
    def __init__(self, stores: Any, conf: Any) -> None:
        self.stores = stores
        self.direct_url = bool(conf.get("image", "show_image_direct_url"))
        self.multiple = bool(conf.get("image", "show_multiple_locations"))
        self.metadata = load_metadata(conf.get("image", "filesystem_store_metadata_file"))

    def _metadata(self, path: str) -> dict[str, Any]:
        real = os.path.realpath(path)
        for entry in self.metadata:
            mount = os.path.realpath(entry["mountpoint"])
            if real == mount or real.startswith(mount.rstrip("/") + "/"):
                return dict(entry)
        return {}

    def of(self, image: Image) -> list[dict[str, Any]]:
        """[{url, metadata}] of every store holding the image's data, then the locations
        added through the API (in the order they were added)."""
        data = image.location_data or {}
        found = []
        if image.status in ("active", "deactivated"):
            for store_id, path in self.stores.paths(image.id):
                metadata = self._metadata(path)
                if self.stores.multi:
                    metadata["store"] = store_id
                url = "file://" + path
                metadata.update(data.get("metadata", {}).get(url, {}))
                found.append({"url": url, "metadata": metadata, "store": store_id})
        found += [dict(loc) for loc in data.get("external", [])]
        return found

    @staticmethod
    def public(locations: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{"url": loc["url"], "metadata": loc["metadata"]} for loc in locations]

    # -- changes through JSON-patch (show_multiple_locations) ----------------------------
    @staticmethod
    def checked(value: Any) -> dict[str, Any]:
        """A location {url, metadata} from a request, or 400."""
        if not isinstance(value, dict) or not isinstance(value.get("url"), str) or \
                not isinstance(value.get("metadata", {}), dict) or \
                set(value) - {"url", "metadata", "validation_data"}:
            raise errors.BadRequest("Invalid location: a location is an object with a "
                                    "string 'url' and an object 'metadata'.")
        url = value["url"]
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in SCHEMES or not (parts.netloc or parts.path):
            raise errors.BadRequest(f"Invalid location: {url} (the stores accept "
                                    f"{', '.join(s + '://' for s in SCHEMES)} URLs)")
        if parts.scheme == "file" and not os.path.isfile(parts.path):
            raise errors.BadRequest(f"Invalid location: {url}: no such file")
        return {"url": url, "metadata": dict(value.get("metadata") or {})}

    def _visible(self, verb: str) -> None:
        if not self.multiple:
            raise errors.Forbidden(f"It's not allowed to {verb} locations if locations are "
                                   "invisible.")

    @staticmethod
    def _save(image: Image, external: list[dict[str, Any]], metadata: dict[str, Any]
              ) -> None:
        image.location_data = {"external": [{"url": loc["url"], "metadata": loc["metadata"]}
                                            for loc in external], "metadata": metadata}
        image.updated_at = utcnow()

    @staticmethod
    def _activate(image: Image, loc: dict[str, Any]) -> None:
        """A queued image whose first location is added becomes active without hashing."""
        parts = urllib.parse.urlsplit(loc["url"])
        if parts.scheme == "file":
            image.size = os.path.getsize(parts.path)
            image.virtual_size = image.size if image.disk_format in ("raw", "iso") else None
        image.status = "active"

    def add(self, image: Image, position: str | None, value: Any) -> None:
        self._visible("add")
        if image.status not in ("queued", "active"):
            raise errors.Conflict(f"It's not allowed to add locations if image status is "
                                  f"{image.status}.")
        loc = self.checked(value)
        current = self.of(image)
        if loc["url"] in [c["url"] for c in current]:
            raise errors.BadRequest(f"The location {loc['url']} already exists")
        external = [c for c in current if "store" not in c]
        stored = len(current) - len(external)
        if position in (None, "-"):
            external.append(loc)
        else:
            if not position.isdigit() or int(position) > len(current):
                raise errors.BadRequest(f"Invalid position for adding a location: {position}")
            external.insert(max(int(position) - stored, 0), loc)
        self._save(image, external, (image.location_data or {}).get("metadata", {}))
        if image.status == "queued":
            self._activate(image, loc)

    def remove(self, image: Image, position: str | None) -> str | None:
        """Drop a location; returns the store whose copy must be deleted, if any."""
        self._visible("remove")
        current = self.of(image)
        if position is None or not position.isdigit() or int(position) >= len(current):
            raise errors.BadRequest(f"Invalid position for removing a location: {position}")
        if image.status == "active" and len(current) == 1:
            raise errors.Forbidden("Cannot remove last location in the image.")
        gone = current.pop(int(position))
        self._save(image, [c for c in current if "store" not in c],
                   (image.location_data or {}).get("metadata", {}))
        if not current:
            image.status = "queued"
            image.size = image.virtual_size = image.checksum = None
            image.os_hash_algo = image.os_hash_value = None
        return gone.get("store")

    def replace(self, image: Image, value: Any) -> None:
        """Only the metadata of the existing locations may change (or a queued image
        without locations gets its first ones)."""
        self._visible("replace")
        if not isinstance(value, list):
            raise errors.BadRequest("Invalid locations: a list of locations is expected.")
        current = self.of(image)
        if not current and image.status == "queued":
            for loc in value:
                self.add(image, "-", loc)
            return
        wanted = [v for v in value if isinstance(v, dict) and isinstance(v.get("url"), str)
                  and isinstance(v.get("metadata") or {}, dict)]
        if len(wanted) != len(value) or [w["url"] for w in wanted] != \
                [c["url"] for c in current]:
            raise errors.BadRequest("Invalid locations: only the metadata of the image's "
                                    "locations can be replaced, not the locations.")
        metadata = dict((image.location_data or {}).get("metadata", {}))
        external = []
        for old, new in zip(current, wanted):
            if "store" in old:
                metadata[old["url"]] = dict(new.get("metadata") or {})
            else:
                external.append({"url": new["url"], "metadata": dict(new.get("metadata")
                                                                      or {})})
        self._save(image, external, metadata)

    def data_path(self, image: Image) -> str | None:
        """A readable file:// location added through the API (for downloads)."""
        for loc in (image.location_data or {}).get("external", []):
            parts = urllib.parse.urlsplit(loc["url"])
            if parts.scheme == "file" and os.path.isfile(parts.path):
                return parts.path
        return None

    def add_to(self, body: dict[str, Any], image: Image) -> None:
        if not (self.direct_url or self.multiple):
            return
        locations = self.of(image)
        if self.direct_url and locations:
            body["direct_url"] = locations[0]["url"]
        if self.multiple:
            body["locations"] = self.public(locations)
