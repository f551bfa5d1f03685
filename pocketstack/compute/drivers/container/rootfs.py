"""The per-image rootfs cache (Nova's ``_base``): each image unpacked once, hash checked.

The image's bytes come through the compute image cache (``compute/imagecache.py``: by
file from the image store where it can, hash verified), then are unpacked with GNU tar
into ``_base/<image id>/rootfs``; a ``docker save`` archive (container_format ``docker``)
has its layers applied in order instead (:mod:`.dockerimage`), and what the image runs
(its Entrypoint/Cmd, Env, WorkingDir) is kept in ``_base/<image id>/runtime.json``. Instances layer an overlay on it, so boot copies
nothing. The cache's cleanup (off by default) removes an entry and its rootfs only when no
instance on any host uses the image.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tarfile
import json
import threading
from typing import TYPE_CHECKING, Any

from pocketstack.compute.drivers.base import BuildFailed
from pocketstack.compute.drivers.container import dockerimage
from pocketstack.compute.imagecache import ImageFetchError, image_cache

if TYPE_CHECKING:
    from pocketstack.cloud import Cloud

LOG = logging.getLogger(__name__)


class RootfsCache:
    def __init__(self, cloud: "Cloud", base_dir: str) -> None:
        self.cloud = cloud
        self.base = base_dir
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        os.makedirs(base_dir, exist_ok=True)

    def _lock(self, image_id: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(image_id, threading.Lock())

    def path(self, image_id: str) -> str:
        return os.path.join(self.base, image_id, "rootfs")

    def get(self, image_id: str | None) -> str:
        """The unpacked rootfs of the image (unpacked now if it is not cached)."""
        if not image_id:
            raise BuildFailed("the container driver boots from an image only (no image given)")
        if "/" in image_id or image_id.startswith("."):
            raise BuildFailed(f"invalid image id {image_id!r}")
        root = self.path(image_id)
        with self._lock(image_id):
            if os.path.exists(os.path.join(self.base, image_id, "ready")):
                return root
            self._unpack(image_id, root)
            return root

    def _image(self, image_id: str) -> Any:
        from pocketstack.image.models import Image

        with self.cloud.db.read() as s:
            row = s.get(Image, image_id)
            if row is None or row.status != "active":
                raise BuildFailed(f"image {image_id} is not active")
            s.expunge(row)
            return row

    def _unpack(self, image_id: str, root: str) -> None:
        image = self._image(image_id)
        if image.container_format not in ("bare", "docker", None) or \
                image.disk_format not in ("raw", None):
            raise BuildFailed(f"image {image_id} is {image.container_format}/"
                              f"{image.disk_format}: the container driver boots rootfs "
                              "tarballs (container_format bare, disk_format raw)")
        try:  # by file from the store where it can (hash verified), else the image API
            path = image_cache(self.cloud).fetch(image_id)
        except ImageFetchError as exc:
            raise BuildFailed(str(exc)) from None
        if not tarfile.is_tarfile(path):
            raise BuildFailed(f"image {image_id} is not a rootfs tarball"
                              + (" or docker save archive"
                                 if image.container_format == "docker" else ""))
        tmp = root + ".tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        os.makedirs(tmp)
        if image.container_format == "docker":
            try:
                run = dockerimage.unpack(path, tmp, root + ".archive")
            except dockerimage.DockerImageError as exc:
                shutil.rmtree(tmp, ignore_errors=True)
                raise BuildFailed(f"image {image_id}: {exc}") from None
        else:
            run = self.untar(image_id, path, tmp)
        with open(os.path.join(self.base, image_id, "runtime.json"), "w") as f:
            json.dump(run, f)
        shutil.rmtree(root, ignore_errors=True)
        os.replace(tmp, root)
        with open(os.path.join(self.base, image_id, "ready"), "w") as f:
            f.write(image.os_hash_value or image.checksum or "")
            f.write("\n")
        LOG.info("image %s unpacked into %s", image_id, root)

    @staticmethod
    def untar(image_id: str, path: str, tmp: str) -> dict[str, Any]:
        proc = subprocess.run(["tar", "--numeric-owner", "-xpf", path, "-C", tmp],
                              capture_output=True, text=True, timeout=600, check=False)
        if proc.returncode != 0:
            shutil.rmtree(tmp, ignore_errors=True)
            raise BuildFailed(f"image {image_id} could not be unpacked: {proc.stderr[-400:]}")
        if not os.path.lexists(os.path.join(tmp, "init")) and \
                not os.path.lexists(os.path.join(tmp, "sbin", "init")):
            shutil.rmtree(tmp, ignore_errors=True)
            raise BuildFailed(f"image {image_id} has no /init or /sbin/init to boot")
        return {"init": ["/init" if os.path.lexists(os.path.join(tmp, "init"))
                         else "/sbin/init"]}

    def runtime(self, image_id: str) -> dict[str, Any]:
        """What the image runs as PID 1: ``{"init": argv}`` (+ ``env``, ``workdir`` for
        docker images), for the instance's config.json."""
        try:
            with open(os.path.join(self.base, image_id, "runtime.json")) as f:
                run = json.load(f)
            if isinstance(run, dict) and run.get("init"):
                return {"init": run["init"], "env": run.get("env") or {},
                        "workdir": run.get("workdir") or "/", "network": run.get("network")}
        except (OSError, ValueError):
            pass
        return {"init": [self.init_path(image_id)], "env": {}, "workdir": "/",
                "network": None}

    def init_path(self, image_id: str) -> str:
        root = self.path(image_id)
        return "/init" if os.path.lexists(os.path.join(root, "init")) else "/sbin/init"
