"""Looking up a server's image: the seam between compute and the Image service.

``lookup_image`` reads the image through the Image service's in-process API with the
caller's context (so visibility is Glance's); a missing or invisible image and an
image that is not ``active`` are 400s worded as Nova words them. Without an Image
service any image id is accepted and recorded as given.
"""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from pocketstack.api import errors
from pocketstack.image.images import UUID_RE

if TYPE_CHECKING:
    from pocketstack.api.context import RequestContext
    from pocketstack.cloud import Cloud


def image_service(cloud: "Cloud") -> Any:
    service = cloud.service("image")
    return service if service is not None and hasattr(service, "images") else None


def _image_id(image_ref: str) -> str:
    """The id of an ``imageRef``: a bare id or the last segment of an image URL."""
    return image_ref.rstrip("/").rsplit("/", 1)[-1] if "/" in image_ref else image_ref


def lookup_image(cloud: "Cloud", ctx: "RequestContext", image_ref: str) -> dict[str, Any]:
    image_id = _image_id(image_ref)
    service = image_service(cloud)
    if service is None:
        return {"id": image_id}
    try:
        image = service.images.get(ctx, image_id)
    except (errors.NotFound, errors.Forbidden):
        raise errors.BadRequest(f"Image {image_id} could not be found.") from None
    if image.get("status") != "active":
        raise errors.BadRequest(f"Image {image_id} is not active.")
    return image


def boot_image(cloud: "Cloud", ctx: "RequestContext", image_ref: str) -> dict[str, Any]:
    """:func:`lookup_image` for a server create: the same checks and errors, but only what
    a boot needs: ``id``, ``status``, ``min_ram``, ``min_disk``, the formats and the extra
    properties (top-level keys, as in Glance's view: hw_*, img_*, auto_disk_config...)."""
    image_id = _image_id(image_ref)
    service = image_service(cloud)
    if service is None:
        return {"id": image_id}
    images = service.images
    if not (image_id and UUID_RE.match(image_id)):
        raise errors.BadRequest(f"Image {image_id} could not be found.")
    # what a boot needs of the image (the Image service's own get costs ~1 ms of ORM work),
    # visibility and policy decided by the Image service's own rules, as its get does
    with cloud.db.raw_read() as tx:
        row = tx.one(_IMAGE, {"id": image_id, "project": ctx.project_id or ""})
    image = member = None
    if row is not None:
        image = SimpleNamespace(id=row[0], status=row[1], visibility=row[2], owner=row[3])
        member = SimpleNamespace(member_id=row[6]) if row[6] is not None and \
            ctx.project_id else None
    try:
        if image is None or not images.visible(ctx, image, member):
            raise errors.NotFound(f"No image found with ID {image_id}")
        images.enforce(ctx, "get_image", images.target(ctx, image, member))
    except (errors.NotFound, errors.Forbidden):
        raise errors.BadRequest(f"Image {image_id} could not be found.") from None
    if image.status != "active":
        raise errors.BadRequest(f"Image {image_id} is not active.")
    return {**json.loads(row[7] or "{}"), "id": image.id, "status": image.status,
            "min_ram": row[4] or 0, "min_disk": row[5] or 0, "disk_format": row[8],
            "container_format": row[9]}


_IMAGE = ("SELECT i.id, i.status, i.visibility, i.owner, i.min_ram, i.min_disk, m.member_id, "
          "i.properties, i.disk_format, i.container_format "
          "FROM image_image i LEFT JOIN image_member m ON m.image_id = i.id AND "
          "m.member_id = :project WHERE i.id = :id")
