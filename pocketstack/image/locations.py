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
from typing import Any

from pocketstack.image.models import Image

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
        """[{url, metadata}] of every store holding the image's data."""
        if image.status not in ("active", "deactivated"):
            return []
        found = []
        for store_id, path in self.stores.paths(image.id):
            metadata = self._metadata(path)
            if self.stores.multi:
                metadata["store"] = store_id
            found.append({"url": "file://" + path, "metadata": metadata})
        return found

    def add_to(self, body: dict[str, Any], image: Image) -> None:
        if not (self.direct_url or self.multiple):
            return
        locations = self.of(image)
        if self.direct_url and locations:
            body["direct_url"] = locations[0]["url"]
        if self.multiple:
            body["locations"] = locations
