"""Image v2 (Glance) on port 9292."""

from __future__ import annotations

import contextvars
import html
import json
import os
from typing import IO, TYPE_CHECKING, Any, Callable

from starlette.responses import Response

from pocketstack.api import errors
from pocketstack.api.service import Service
from pocketstack.image import config  # noqa: F401  (registers the options)
from pocketstack.image import policies  # noqa: F401  (registers the default rules)
from pocketstack.image import seed
from pocketstack.image.api.data import ImageFiles
from pocketstack.image.api.images import Images
from pocketstack.image.api.info import Info
from pocketstack.image.api.members import Members
from pocketstack.image.api.tasks import Tasks
from pocketstack.image.api.versions import Schemas, Versions
from pocketstack.image.changes import ImageChanges
from pocketstack.image.data import ImageData
from pocketstack.image.images import ImageManager
from pocketstack.image.members import MemberManager
from pocketstack.image.api.locations import ImageLocations
from pocketstack.image.location_import import LocationImport
from pocketstack.image.metadefs.api import (Children, MetadefSchemas, Namespaces,
                                            ResourceTypes)
from pocketstack.image.metadefs.manager import MetadefManager
from pocketstack.image.locations import Locations
from pocketstack.image.stores import Stores
from pocketstack.image.tasks import TaskManager

if TYPE_CHECKING:
    from pocketstack.cloud import Cloud

# The Accept header of the request being served: Glance's (webob's) error bodies are
# JSON for JSON clients and plain text otherwise.
_accept: contextvars.ContextVar[str] = contextvars.ContextVar("image_accept", default="")


class ImageService(Service):
    name = "image"
    catalog_type = "image"
    catalog_name = "glance"
    description = "Image Service (Glance API v2)"
    port = 9292
    version_path = ""
    request_id_headers = ("x-openstack-request-id",)

    def __init__(self, cloud: "Cloud") -> None:
        super().__init__(cloud)
        conf = cloud.conf
        self.store = Stores(conf, cloud.data_dir)
        self.images = ImageManager(cloud.db, self.store, cloud.policy, conf)
        self.images.locations = Locations(self.store, conf)
        self.changes = ImageChanges(self.images)
        self.tasks = TaskManager(cloud.db)
        self.data = ImageData(self.images, self.tasks)
        self.members = MemberManager(self.images)
        self.metadefs = MetadefManager(cloud.db)
        for resource in (Versions(), Schemas(), Images(self.images, self.changes, conf),
                         ImageFiles(self.data, self.store), Members(self.members),
                         Info(self.changes, self.store, conf),
                         Tasks(self.tasks, self.images, self.data), MetadefSchemas(),
                         Namespaces(self.metadefs), Children(self.metadefs),
                         ResourceTypes(self.metadefs),
                         ImageLocations(LocationImport(self.images, self.tasks))):
            self.router.include(resource)

    def start(self) -> None:
        self.metadefs.seed()
        seed.seed_image(self)  # the busybox test image, when this machine has busybox
        recovered = self.data.recover()
        if recovered:
            self.log.info("%d interrupted image upload(s) set back to queued", recovered)

    # -- in-process API ---------------------------------------------------------
    def data_path(self, image_id: str) -> str | None:
        path = self.store.path(image_id)
        return path if os.path.exists(path) else None

    def write_data(self, ctx: Any, image_id: str,
                   produce: Callable[[Callable[[bytes], None]], Any]) -> None:
        """Upload into a queued image as ``PUT /v2/images/{id}/file`` does, for other services.

        ``produce(write)`` calls ``write(bytes)`` with the data in order: claim (queued ->
        saving), write and hash into the store, then record the result (-> active); on an
        error the image goes back to queued and the partial file is dropped.
        """
        disk_format = self.data.begin(ctx, image_id)
        try:
            writer = self.store.writer(image_id)
        except BaseException:
            self.data.fail(image_id)
            raise
        try:
            produce(writer.write)
            stored = writer.commit(disk_format)
        except BaseException:
            writer.abort()
            self.data.fail(image_id)
            raise
        self.data.finish(image_id, stored)

    def open_data(self, image_id: str) -> IO[bytes]:
        path = self.data_path(image_id)
        if path is None:
            raise errors.NotFound(f"Image {image_id} has no data.")
        return open(path, "rb")

    async def _dispatch(self, raw: Any, ctx: Any) -> Any:
        # Glance's router matches paths exactly: a trailing slash (GET /v2/images/, i.e. an
        # empty image id) is not the collection but an unknown resource.
        path = raw.url.path
        if len(path) > 4 and path.startswith("/v2/") and path.endswith("/"):
            raise errors.NotFound("The resource could not be found.")
        return await super()._dispatch(raw, ctx)

    # -- Glance's error format --------------------------------------------------
    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        accept = ""
        for name, value in scope.get("headers") or ():
            if name == b"accept":
                accept = value.decode("latin-1")
        token = _accept.set(accept)
        try:
            await super().__call__(scope, receive, send)
        finally:
            _accept.reset(token)

    def render_error(self, exc: errors.ApiError) -> Response:
        """webob's error bodies, as Glance sends them: HTML, JSON or plain text by Accept."""
        status = f"{exc.code} {exc.title}"
        kind = _error_media(_accept.get())
        if kind == "json":
            body = json.dumps({"message": f"{exc.message}<br /><br />\n\n\n", "code": status,
                               "title": exc.title})
            return Response(body, status_code=exc.code, headers=exc.headers,
                            media_type="application/json")
        if kind == "html":
            page = (f"<html>\n <head>\n  <title>{status}</title>\n </head>\n <body>\n  "
                    f"<h1>{status}</h1>\n  {html.escape(exc.message)}<br /><br />\n\n\n\n"
                    " </body>\n</html>")
            return Response(page, status_code=exc.code, headers=exc.headers,
                            media_type="text/html")
        text = f"{status}\n\n{exc.message}\n\n   "
        return Response(text, status_code=exc.code, headers=exc.headers,
                        media_type="text/plain")


def _error_media(accept: str) -> str:
    """text/html or application/json, whichever Accept prefers (HTML on ties); else plain."""
    best = {"html": (-1, 0.0), "json": (-1, 0.0)}  # (specificity, q) of the best match
    for part in accept.split(","):
        media, *params = [p.strip() for p in part.split(";")]
        q = 1.0
        for param in params:
            if param.startswith("q="):
                try:
                    q = float(param[2:])
                except ValueError:
                    q = 0.0
        for kind, full in (("html", "text/html"), ("json", "application/json")):
            major = full.split("/")[0]
            spec = 2 if media == full else 1 if media == f"{major}/*" else \
                0 if media == "*/*" else -1
            if spec > best[kind][0]:
                best[kind] = (spec, q)
    html_q, json_q = best["html"][1], best["json"][1]
    if html_q <= 0 and json_q <= 0:
        return "plain"
    return "html" if html_q >= json_q else "json"
