"""Image data: uploads (direct and staged), downloads and interoperable import.

Upload bookkeeping is split in three steps so that the HTTP layer can stream the
body in between: :meth:`ImageData.begin` (queued -> saving, or -> uploading when
staging), :meth:`ImageData.finish` (-> active, or stays uploading when staged)
and :meth:`ImageData.fail` (back to queued; the partial file is removed by the
writer).
"""

from __future__ import annotations

import logging
import threading
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

from pocketstack.api import errors
from pocketstack.api.context import RequestContext
from pocketstack.db import utcnow
from pocketstack.image.images import ImageManager
from pocketstack.image.models import Image
from pocketstack.image.store import CHUNK, Stored, Writer
from pocketstack.image.tasks import TaskManager

LOG = logging.getLogger(__name__)


@dataclass
class Download:
    path: str
    size: int
    checksum: str | None


class ImageData:
    def __init__(self, images: ImageManager, tasks: TaskManager) -> None:
        self.images = images
        self.tasks = tasks
        self.db = images.db
        self.store = images.store

    # -- uploads ----------------------------------------------------------------
    def begin(self, ctx: RequestContext, image_id: str, staging: bool = False) -> str | None:
        """Claim the image for an upload; returns its disk format."""
        with self.db.write() as session:
            image = self.images.owned(session, ctx, image_id, "upload_image")
            if image.status != "queued":
                if staging:
                    raise errors.Conflict(f"Image {image_id} is not in queued status; "
                                          "data can only be staged to a queued image.")
                raise errors.Conflict(f"Image status transition from {image.status} to "
                                      "saving is not allowed")
            if not staging and (not image.disk_format or not image.container_format):
                raise errors.BadRequest("Properties disk_format, container_format must be "
                                        "set prior to saving data.")
            image.status = "uploading" if staging else "saving"
            image.updated_at = utcnow()
            return image.disk_format

    def finish(self, image_id: str, stored: Stored | None) -> None:
        """Record a finished direct upload (``stored``) or a finished staging (None)."""
        with self.db.write() as session:
            image = session.get(Image, image_id)
            if stored is None:
                if image is None:
                    self.store.delete(image_id)
                return
            if image is None or image.status != "saving":
                # deleted (or otherwise changed) while the bytes were arriving
                LOG.info("image %s went away during its upload; dropping the data", image_id)
                if image is None:
                    self.store.delete(image_id)
                return
            self._activate(image, stored)

    @staticmethod
    def _activate(image: Image, stored: Stored) -> None:
        image.size = stored.size
        image.virtual_size = stored.virtual_size
        image.checksum = stored.checksum
        image.os_hash_algo = stored.os_hash_algo
        image.os_hash_value = stored.os_hash_value
        image.status = "active"
        image.updated_at = utcnow()

    def fail(self, image_id: str, staging: bool = False) -> None:
        with self.db.write() as session:
            image = session.get(Image, image_id)
            if image is not None and image.status == ("uploading" if staging else "saving"):
                image.status = "queued"
                image.updated_at = utcnow()
        if staging:
            self.store.delete(image_id)

    def recover(self) -> int:
        """At start-up: uploads and imports a stop interrupted go back to where they began."""
        from sqlalchemy import select

        count = 0
        with self.db.write() as session:
            for image in session.scalars(select(Image).where(
                    Image.status.in_(("saving", "importing")))):
                staged = _exists(self.store.staged_path(image.id))
                image.status = "uploading" if image.status == "importing" and staged \
                    else "queued"
                image.updated_at = utcnow()
                count += 1
        return count

    # -- downloads --------------------------------------------------------------
    def download(self, ctx: RequestContext, image_id: str) -> Download | None:
        """What to send for GET /file; None when the image has no data (204)."""
        with self.db.read() as session:
            image, member = self.images.load(session, ctx, image_id)
            self.images.enforce(ctx, "download_image", self.images.target(ctx, image, member))
            if image.status == "deactivated" and not ctx.is_admin:
                raise errors.Forbidden("The requested image has been deactivated. Image data "
                                       "download is forbidden.")
            if image.status not in ("active", "deactivated"):
                return None
            if self.store.exists(image_id):
                return Download(self.store.path(image_id), image.size or 0, image.checksum)
            elsewhere = self.images.locations.data_path(image) if self.images.locations \
                else None  # a file:// location added through the API
            return Download(elsewhere, image.size or 0, image.checksum) if elsewhere else None

    # -- import -----------------------------------------------------------------
    def import_image(self, ctx: RequestContext, image_id: str, body: Any) -> None:
        if not isinstance(body, dict):
            raise errors.BadRequest("Body expected in request.")
        method = body.get("method")
        if not isinstance(method, dict):
            raise errors.BadRequest("Import request requires a 'method' field.")
        name = method.get("name")
        if not name:
            raise errors.BadRequest("Import request requires a 'name' field.")
        if name not in self.images.conf.get("image", "enabled_import_methods"):
            raise errors.BadRequest(f"Unknown import method name '{name}'.")
        for key in ("all_stores_must_succeed", "all_stores"):
            if key in body and not isinstance(body[key], bool):
                raise errors.BadRequest(f"'{key}' must be boolean value only")
        if body.get("all_stores"):
            targets = list(self.store.backends)
        else:
            targets = self.store.check_ids(body.get("stores") or []) or [self.store.default]
        task_input = {"image_id": image_id, "import_req": body, "backend": targets}
        with self.db.write() as session:
            image = self.images.owned(session, ctx, image_id, "modify_image")
            if name == "glance-direct":
                if image.status != "uploading" or \
                        not _exists(self.store.staged_path(image_id)):
                    raise errors.Conflict("Image needs to be staged before 'glance-direct' "
                                          "method can be used")
            elif name == "web-download":
                if image.status != "queued":
                    raise errors.Conflict(f"Image {image_id} is not in queued status.")
                if not isinstance(method.get("uri"), str) or not method["uri"]:
                    raise errors.BadRequest("URI for web-download does not pass filtering: "
                                            "a 'uri' is required.")
            else:  # copy-image
                self.images.enforce(ctx, "copy_image", self.images.target(ctx, image))
                if image.status != "active":
                    raise errors.Conflict("Images with status active can only be copied.")
                held = self.store.holding(image_id)
                missing = [s for s in targets if s not in held]
                if not missing and not body.get("all_stores"):
                    raise errors.Conflict(f"Image {image_id} is already present in every "
                                          f"requested store ({', '.join(targets)}).")
                # all_stores skips the stores that hold the image already; when none is
                # left the (empty) copy is finished at once.
                image.properties = {**(image.properties or {}),
                                    "os_glance_importing_to_stores": ",".join(missing),
                                    "os_glance_failed_import": ""}
                image.updated_at = utcnow()
                task_id = self.tasks.add(session, ctx, "api_image_import", task_input,
                                         image_id,
                                         status="processing" if missing else "success").id
            if name != "copy-image":
                image.status = "importing"
                image.properties = {**(image.properties or {}),
                                    "os_glance_importing_to_stores": ",".join(targets)}
                image.updated_at = utcnow()
                task_id = self.tasks.add(session, ctx, "api_image_import", task_input,
                                         image_id).id
            disk_format = image.disk_format
        if name == "copy-image":
            if missing:
                threading.Thread(target=self._copy_image, daemon=True,
                                 name=f"image-copy-{image_id}",
                                 args=(image_id, missing, task_id,
                                       body.get("all_stores_must_succeed", True))).start()
            return
        worker = self._glance_direct if name == "glance-direct" else self._web_download
        args = (image_id, disk_format, task_id, targets) if name == "glance-direct" else \
            (image_id, disk_format, task_id, targets, method["uri"])
        threading.Thread(target=worker, args=args, daemon=True,
                         name=f"image-import-{image_id}").start()

    def _glance_direct(self, image_id: str, disk_format: str | None, task_id: str,
                       targets: list[str]) -> None:
        self.tasks.update(task_id, "processing")
        try:
            stored = self.store.promote_staged(image_id, disk_format, targets[0])
            for store_id in targets[1:]:
                self.store.copy(image_id, store_id)
        except Exception as exc:
            LOG.exception("import of image %s failed", image_id)
            self._import_failed(image_id, task_id, f"Import failed: {exc}", targets)
            return
        self._imported(image_id, stored, task_id)

    def _web_download(self, image_id: str, disk_format: str | None, task_id: str,
                      targets: list[str], uri: str) -> None:
        self.tasks.update(task_id, "processing")
        writer = self.store.writer(image_id, store_id=targets[0])
        try:
            fetch_into(uri, writer)
            stored = writer.commit(disk_format)
            for store_id in targets[1:]:
                self.store.copy(image_id, store_id)
        except Exception as exc:
            writer.abort()
            LOG.warning("web-download import of image %s from %s failed: %s", image_id, uri,
                        exc)
            self._import_failed(image_id, task_id, f"Failed to download {uri}: {exc}",
                                targets)
            return
        self._imported(image_id, stored, task_id)

    def _copy_image(self, image_id: str, targets: list[str], task_id: str,
                    must_succeed: bool) -> None:
        """copy-image: a real copy into each store; the properties follow each one."""
        failed = []
        for store_id in targets:
            try:
                self.store.copy(image_id, store_id)
            except Exception as exc:  # recorded in os_glance_failed_import
                LOG.warning("copy of image %s into store %s failed: %s", image_id, store_id,
                            exc)
                failed.append(store_id)
            with self.db.write() as session:
                image = session.get(Image, image_id)
                if image is None:
                    break
                props = dict(image.properties or {})
                left = [s for s in props.get("os_glance_importing_to_stores", "").split(",")
                        if s and s != store_id]
                props["os_glance_importing_to_stores"] = ",".join(left)
                props["os_glance_failed_import"] = ",".join(failed)
                image.properties = props
                image.updated_at = utcnow()
        if failed and must_succeed:
            self.tasks.update(task_id, "failure", message="Copying to store(s) "
                              f"{', '.join(failed)} failed.")
        else:
            self.tasks.update(task_id, "success", message="")

    def _imported(self, image_id: str, stored: Stored, task_id: str) -> None:
        with self.db.write() as session:
            image = session.get(Image, image_id)
            if image is None or image.status != "importing":
                LOG.info("image %s went away during its import; dropping the data", image_id)
                if image is None:
                    self.store.delete(image_id)
                ok = False
            else:
                self._activate(image, stored)
                image.properties = {**{k: v for k, v in (image.properties or {}).items()
                                       if k != "os_glance_failed_import"},
                                    "os_glance_importing_to_stores": ""}
                ok = True
        if ok:
            self.tasks.update(task_id, "success", message="")
        else:
            self.tasks.update(task_id, "failure", message="The image was deleted during "
                              "its import.")

    def _import_failed(self, image_id: str, task_id: str | None = None,
                       message: str = "", targets: list[str] | None = None) -> None:
        with self.db.write() as session:
            image = session.get(Image, image_id)
            if image is not None:
                image.status = "queued"
                image.properties = {**(image.properties or {}),
                                    "os_glance_failed_import": ",".join(
                                        targets or [self.store.default]),
                                    "os_glance_importing_to_stores": ""}
                image.updated_at = utcnow()
        self.store.delete(image_id)
        if task_id is not None:  # after the image: a task's end means the image settled
            self.tasks.update(task_id, "failure", message=message)

    # -- the legacy tasks API's "import" ----------------------------------------------
    def run_task_import(self, ctx: RequestContext, task_id: str, task_input: dict) -> None:
        """Make an image from ``image_properties`` and the data at ``import_from``."""
        threading.Thread(target=self._task_import, args=(ctx, task_id, task_input),
                         daemon=True, name=f"image-task-{task_id}").start()

    def _task_import(self, ctx: RequestContext, task_id: str, task_input: dict) -> None:
        self.tasks.update(task_id, "processing")
        uri = task_input["import_from"]
        image_id = None
        try:
            image = self.images.create(ctx, dict(task_input["image_properties"]))
            image_id = image["id"]
            disk_format = self.begin(ctx, image_id)
            writer = self.store.writer(image_id)
            try:
                fetch_into(uri, writer)
                stored = writer.commit(disk_format)
            except BaseException:
                writer.abort()
                raise
            self.finish(image_id, stored)
        except Exception as exc:
            LOG.warning("task %s (import from %s) failed: %s", task_id, uri, exc)
            if image_id is not None:
                with self.db.write() as session:
                    row = session.get(Image, image_id)
                    if row is not None:
                        session.delete(row)
                self.store.delete(image_id)
            message = getattr(exc, "message", None) or str(exc)
            self.tasks.update(task_id, "failure", message=f"Import from {uri} failed: "
                              f"{message}")
            return
        self.tasks.update(task_id, "success", result={"image_id": image_id},
                          image_id=image_id)


def fetch_into(uri: str, writer: Writer, timeout: float = 60) -> None:
    """Stream an http(s) URI into a store writer (web-download and task imports)."""
    if urllib.parse.urlsplit(uri).scheme not in ("http", "https"):
        raise ValueError(f"the URI scheme of {uri!r} is not allowed (http, https)")
    request = urllib.request.Request(uri, headers={"User-Agent": "pocketstack-image"})
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
        while chunk := response.read(CHUNK):
            writer.write(chunk)


def _exists(path: str) -> bool:
    import os

    return os.path.exists(path)
