"""Several file stores behind one object (Glance's multi-store, ``enabled_backends``).

Without ``enabled_backends`` there is one store, ``file``, in ``filesystem_store_datadir``
(DATA_DIR/images), exactly as before. With ``enabled_backends = fast:file, cheap:file``
each backend is a directory (``[fast] filesystem_store_datadir``; the default backend
keeps the single store's directory, the others default to DATA_DIR/images-ID), uploads go
to ``default_backend`` (or the ``X-Image-Meta-Store`` header's), and which stores hold an
image is read from the filesystem: the image's file in that store's directory. Staging
(glance-direct) uses the default store's staging directory.
"""

from __future__ import annotations

import logging
import os
import shutil
import uuid
from typing import Any, Iterator

from pocketstack.api import errors
from pocketstack.image.store import FileStore, Stored, Writer, check_algorithm

LOG = logging.getLogger(__name__)


def _backend_option(conf: Any, section: str, name: str) -> str:
    try:  # per-backend sections are not registered options
        return conf.get(section, name) or ""
    except KeyError:
        return ""


class Stores:
    def __init__(self, conf: Any, data_dir: str) -> None:
        size_cap = conf.get("image", "image_size_cap")
        algo = check_algorithm(conf.get("DEFAULT", "hashing_algorithm"))
        root = conf.get("image", "filesystem_store_datadir") or \
            os.path.join(data_dir, "images")
        enabled = [b.strip() for b in conf.get("image", "enabled_backends") if b.strip()]
        self.multi = bool(enabled)
        self.backends: dict[str, FileStore] = {}
        if not enabled:
            self.backends["file"] = FileStore(root, size_cap, algo)
            self.default = "file"
            return
        self.default = conf.get("image", "default_backend") or ""
        for spec in enabled:
            store_id, _, kind = spec.partition(":")
            store_id = store_id.strip()
            if kind.strip() not in ("file", ""):
                raise SystemExit(f"pocketstack: enabled_backends: {spec!r} is not a file "
                                 "store (the only kind this image service has)")
            if not self.default:
                self.default = store_id
            path = _backend_option(conf, store_id, "filesystem_store_datadir") or \
                (root if store_id == self.default else
                 os.path.join(data_dir, f"images-{store_id}"))
            store = FileStore(path, size_cap, algo)
            store.store_id = store_id
            store.description = _backend_option(conf, store_id, "store_description") or \
                f"Filesystem store {store_id}"
            self.backends[store_id] = store
        if self.default not in self.backends:
            raise SystemExit(f"pocketstack: default_backend {self.default!r} is not one of "
                             f"enabled_backends ({', '.join(self.backends)})")

    # -- the default store's face (what the single-store code uses) --------------------
    @property
    def main(self) -> FileStore:
        return self.backends[self.default]

    @property
    def store_id(self) -> str:
        return self.default

    @property
    def size_cap(self) -> int:
        return self.main.size_cap

    read = staticmethod(FileStore.read)

    def backend(self, store_id: str | None) -> FileStore:
        if not store_id:
            return self.main
        store = self.backends.get(store_id)
        if store is None:
            raise errors.BadRequest(f"Store for identifier {store_id} not found")
        return store

    def check_ids(self, store_ids: Any) -> list[str]:
        if not isinstance(store_ids, list) or not all(isinstance(s, str) for s in store_ids):
            raise errors.BadRequest("'stores' must be a list of store identifiers.")
        for store_id in store_ids:
            self.backend(store_id)
        return store_ids

    # -- where an image is ----------------------------------------------------------
    def paths(self, image_id: str) -> list[tuple[str, str]]:
        """(store id, file) of every store holding the image, the default first."""
        order = [self.default] + [s for s in self.backends if s != self.default]
        return [(s, self.backends[s].path(image_id)) for s in order
                if self.backends[s].exists(image_id)]

    def holding(self, image_id: str) -> list[str]:
        return [store_id for store_id, _ in self.paths(image_id)]

    def path(self, image_id: str) -> str:
        found = self.paths(image_id)
        return found[0][1] if found else self.main.path(image_id)

    def exists(self, image_id: str) -> bool:
        return bool(self.paths(image_id))

    # -- writing ----------------------------------------------------------------------
    def writer(self, image_id: str, expected: int | None = None,
               store_id: str | None = None) -> Writer:
        return self.backend(store_id).writer(image_id, expected)

    def stage_writer(self, image_id: str, expected: int | None = None) -> Writer:
        return self.main.stage_writer(image_id, expected)

    def staged_path(self, image_id: str) -> str:
        return self.main.staged_path(image_id)

    def staged_bytes(self) -> int:
        return self.main.staged_bytes()

    def promote_staged(self, image_id: str, disk_format: str | None,
                       store_id: str | None = None) -> Stored:
        stored = self.main.promote_staged(image_id, disk_format)
        if store_id and store_id != self.default:
            self.copy(image_id, store_id)
            self.main.delete(image_id)
        return stored

    def copy(self, image_id: str, store_id: str) -> None:
        """A real copy of the image's file into another store (renamed into place whole)."""
        target = self.backend(store_id)
        if target.exists(image_id):
            return
        src = self.path(image_id)
        tmp = os.path.join(target.root, f".tmp-{uuid.uuid4().hex}")
        try:
            shutil.copyfile(src, tmp)
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())
            os.replace(tmp, target.path(image_id))
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        LOG.info("image %s copied into store %s", image_id, store_id)

    def delete(self, image_id: str, store_id: str | None = None) -> None:
        for sid, store in self.backends.items():
            if store_id is None or sid == store_id:
                store.delete(image_id)

    def describe(self) -> Iterator[tuple[str, FileStore, bool]]:
        for store_id, store in self.backends.items():
            yield store_id, store, store_id == self.default
