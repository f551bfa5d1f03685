"""The compute-side image cache (Nova's ``_base``): how image bytes reach a compute host.

``ImageCache.fetch(image_id)`` gives the path of a verified copy of the image's data in
``DATA_DIR/instances/_base/<sha1 of the image id>`` (Nova's naming), with a ``.info`` file
beside it (image id, hash, how it came). When the image store is a filesystem this host
can see (Glance's ``file`` store; Nova's ``file://`` download path), the bytes come by
file: a hard link when store and cache share a filesystem (the store never rewrites a
file, it renames new ones into place, so sharing the inode is safe), else a reflink, else
a plain copy; otherwise they are streamed through the Image service's data API. Either
way the copy's hash is checked against the image's ``os_hash_value`` (or ``checksum``)
before the entry is used, and the path taken is logged ("Successfully transferred using
file (hardlink)").

Cleanup (``[image_cache] remove_unused_base_images``) is off by default. When enabled, an
entry is removed only when no instance that is not deleted, on any host, refers to its
image, and it is older than ``remove_unused_original_minimum_age_seconds``: the Ops
Guide's "disappearing images" came from a cache manager that counted only its own host's
instances on a ``_base`` shared by several hosts.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import logging
import os
import shutil
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterator

from pocketstack.config import Opt, register

if TYPE_CHECKING:
    from pocketstack.cloud import Cloud

LOG = logging.getLogger(__name__)
CHUNK = 1 << 20
FICLONE = 0x40049409  # linux/fs.h: _IOW(0x94, 9, int)

register(
    Opt("image_cache", "subdirectory_name", str, "_base",
        "Where cached images are stored, under the instances directory (DATA_DIR/instances)."),
    Opt("image_cache", "manager_interval", int, -1,
        "Seconds between runs of the image cache manager (Nova's "
        "image_cache_manager_interval); -1 (the default here) disables it."),
    Opt("image_cache", "remove_unused_base_images", bool, False,
        "Remove cached images no instance on any host uses (off by default here)."),
    Opt("image_cache", "remove_unused_original_minimum_age_seconds", int, 86400,
        "Unused cached images younger than this are kept."),
)


class ImageFetchError(Exception):
    """The image's bytes could not be brought to this host (or their hash was wrong)."""


@dataclass
class Entry:
    image_id: str
    path: str
    info: dict[str, Any]


def _sha1(text: str) -> str:
    return hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()


def _reflink(src: str, dst: str) -> bool:
    with open(src, "rb") as fin, open(dst, "wb") as fout:
        try:
            fcntl.ioctl(fout.fileno(), FICLONE, fin.fileno())
            return True
        except OSError:
            return False


class ImageCache:
    def __init__(self, cloud: "Cloud", base: str | None = None) -> None:
        self.cloud = cloud
        self.base = base or os.path.join(cloud.data_dir, "instances", cloud.conf.get(
            "image_cache", "subdirectory_name"))
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self._stop = threading.Event()

    # -- where things are ---------------------------------------------------------------
    def path(self, image_id: str) -> str:
        return os.path.join(self.base, _sha1(image_id))

    def _lock(self, image_id: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(image_id, threading.Lock())

    def _image(self, image_id: str) -> Any:
        from pocketstack.image.models import Image

        with self.cloud.db.read() as s:
            row = s.get(Image, image_id)
            if row is not None:
                s.expunge(row)
            return row

    def store_path(self, image_id: str) -> str | None:
        """The image's file in the Image service's file store, if this host can see it."""
        service = self.cloud.service("image")
        if service is not None and hasattr(service, "data_path"):
            return service.data_path(image_id)
        from pocketstack.image import config  # noqa: F401  (the store's options)

        root = self.cloud.conf.get("image", "filesystem_store_datadir") or \
            os.path.join(self.cloud.data_dir, "images")
        path = os.path.join(root, image_id)
        return path if os.path.exists(path) else None

    # -- fetching ---------------------------------------------------------------------
    def fetch(self, image_id: str) -> str:
        """The path of a verified cached copy of the image's data (fetched now if needed)."""
        if not image_id or "/" in image_id or image_id.startswith("."):
            raise ImageFetchError(f"invalid image id {image_id!r}")
        dest = self.path(image_id)
        with self._lock(image_id):
            if os.path.exists(dest + ".info") and os.path.exists(dest):
                os.utime(dest + ".info")  # last use, for the minimum age of cleanup
                return dest
            image = self._image(image_id)
            if image is None or image.status not in ("active", "deactivated"):
                raise ImageFetchError(f"image {image_id} is not active")
            os.makedirs(self.base, mode=0o700, exist_ok=True)
            tmp = f"{dest}.part-{os.getpid()}-{threading.get_ident()}"
            try:
                how = self._transfer(image_id, tmp)
                algo, digest = self._verify(image, tmp)
                os.replace(tmp, dest)
            finally:
                if os.path.exists(tmp):
                    os.unlink(tmp)
            info = {"image_id": image_id, "hash_algo": algo, "hash": digest,
                    "transferred_using": how, "fetched_at": time.time()}
            with open(dest + ".info.tmp", "w") as f:
                json.dump(info, f)
            os.replace(dest + ".info.tmp", dest + ".info")
            LOG.info("image %s: Successfully transferred using %s into %s, %s verified",
                     image_id, how, dest, algo)
            return dest

    def _transfer(self, image_id: str, tmp: str) -> str:
        src = self.store_path(image_id)
        if src is not None:
            try:
                os.link(src, tmp)
                return "file (hardlink)"
            except OSError as exc:
                if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP):
                    raise
            if _reflink(src, tmp):
                return "file (reflink)"
            shutil.copyfile(src, tmp)
            return "file (copy)"
        service = self.cloud.service("image")
        if service is None or not hasattr(service, "store"):
            raise ImageFetchError(f"image {image_id} has no data this host can reach")
        with open(tmp, "wb") as f:
            for chunk in self._stream(service, image_id):
                f.write(chunk)
        return "the image API (stream)"

    @staticmethod
    def _stream(service: Any, image_id: str) -> Iterator[bytes]:
        try:
            return service.store.read(service.store.path(image_id))
        except FileNotFoundError:
            raise ImageFetchError(f"image {image_id} has no data in the store") from None

    @staticmethod
    def _verify(image: Any, path: str) -> tuple[str, str]:
        if image.os_hash_value:
            algo, expected = image.os_hash_algo or "sha512", image.os_hash_value
            digest = hashlib.new(algo)
        elif image.checksum:
            algo, expected = "md5", image.checksum
            digest = hashlib.md5(usedforsecurity=False)
        else:
            raise ImageFetchError(f"image {image.id} has no checksum to verify its data by")
        with open(path, "rb") as f:
            while chunk := f.read(CHUNK):
                digest.update(chunk)
        if digest.hexdigest() != expected:
            raise ImageFetchError(f"image {image.id}: {algo} mismatch, the data that came is "
                                  "corrupt")
        return algo, expected

    # -- what is cached and who uses it --------------------------------------------------
    def entries(self) -> list[Entry]:
        found = []
        try:
            names = os.listdir(self.base)
        except FileNotFoundError:
            return []
        for name in sorted(names):
            if not name.endswith(".info"):
                continue
            path = os.path.join(self.base, name[:-5])
            try:
                with open(os.path.join(self.base, name)) as f:
                    info = json.load(f)
            except (OSError, ValueError):
                continue
            found.append(Entry(info.get("image_id", ""), path, info))
        return found

    def users(self) -> dict[str, list[tuple[str, str | None]]]:
        """image id -> [(instance uuid, host)] of every instance not deleted, on any host."""
        from sqlalchemy import select

        from pocketstack.compute.models import Instance

        users: dict[str, list[tuple[str, str | None]]] = {}
        with self.cloud.db.read() as s:
            for uuid, image_ref, host in s.execute(
                    select(Instance.uuid, Instance.image_ref, Instance.host)
                    .where(Instance.deleted.is_(False))):
                if image_ref:
                    users.setdefault(image_ref, []).append((uuid, host))
        return users

    def cleanup_enabled(self) -> bool:
        return bool(self.cloud.conf.get("image_cache", "remove_unused_base_images")) and \
            self.cloud.conf.get("image_cache", "manager_interval") >= 0

    def cleanup(self, now: float | None = None) -> list[str]:
        """Remove unused entries older than the minimum age; returns the image ids removed.
        Does nothing unless ``remove_unused_base_images`` is on."""
        if not self.cloud.conf.get("image_cache", "remove_unused_base_images"):
            return []
        now = time.time() if now is None else now
        min_age = self.cloud.conf.get("image_cache",
                                      "remove_unused_original_minimum_age_seconds")
        removed = []
        for entry in self.entries():
            with self._lock(entry.image_id):
                if entry.image_id in self.users():  # read under the lock, every host
                    continue
                try:
                    last_used = os.path.getmtime(entry.path + ".info")
                except OSError:
                    continue
                if now - last_used < min_age:
                    continue
                for path in (entry.path, entry.path + ".info"):
                    try:
                        os.unlink(path)
                    except FileNotFoundError:
                        pass
                shutil.rmtree(os.path.join(self.base, entry.image_id), ignore_errors=True)
                removed.append(entry.image_id)
                LOG.info("image cache: removed unused base image %s", entry.image_id)
        return removed

    def start_manager(self) -> None:
        """Run ``cleanup`` every ``manager_interval`` seconds when cleanup is enabled."""
        interval = self.cloud.conf.get("image_cache", "manager_interval")
        if not self.cleanup_enabled():
            return
        interval = interval or 2400  # 0: Nova's default interval

        def loop() -> None:
            while not self._stop.wait(interval):
                try:
                    self.cleanup()
                except Exception:  # a failed run is retried at the next interval
                    LOG.exception("image cache manager run failed")

        threading.Thread(target=loop, name="image-cache-manager", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()


_CACHES: dict[int, ImageCache] = {}
_CACHES_GUARD = threading.Lock()


def image_cache(cloud: "Cloud") -> ImageCache:
    """The cloud's one image cache (one lock per image for every driver and host)."""
    with _CACHES_GUARD:
        cache = _CACHES.get(id(cloud))
        if cache is None or cache.cloud is not cloud:
            cache = _CACHES[id(cloud)] = ImageCache(cloud)
        return cache
