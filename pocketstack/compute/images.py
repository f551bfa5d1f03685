"""Looking up a server's image: the seam between compute and the Image service.

``lookup_image`` reads the image through the Image service's in-process API with the
caller's context (so visibility is Glance's); a missing or invisible image and an
image that is not ``active`` are 400s worded as Nova words them. Without an Image
service any image id is accepted and recorded as given.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pocketstack.api import errors

if TYPE_CHECKING:
    from pocketstack.api.context import RequestContext
    from pocketstack.cloud import Cloud


def image_service(cloud: "Cloud") -> Any:
    service = cloud.service("image")
    return service if service is not None and hasattr(service, "images") else None


def lookup_image(cloud: "Cloud", ctx: "RequestContext", image_ref: str) -> dict[str, Any]:
    image_id = image_ref.rstrip("/").rsplit("/", 1)[-1] if "/" in image_ref else image_ref
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
