"""Looking up a server's image: the one seam between compute and the Image service.

Until the Image service exists any image id string is accepted and recorded as given.
Once it does, it is expected to offer ``image_for_compute(ctx, image_id) -> dict | None``
(id, min_ram, min_disk, status, ...); swap this function's body when that lands.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pocketstack.api import errors

if TYPE_CHECKING:
    from pocketstack.api.context import RequestContext
    from pocketstack.cloud import Cloud


def lookup_image(cloud: "Cloud", ctx: "RequestContext", image_ref: str) -> dict[str, Any]:
    image_id = image_ref.rstrip("/").rsplit("/", 1)[-1] if "/" in image_ref else image_ref
    service = cloud.service("image")
    helper = getattr(service, "image_for_compute", None) if service is not None else None
    if helper is None:
        return {"id": image_id}
    image = helper(ctx, image_id)
    if image is None:
        raise errors.BadRequest(f"Image {image_id} could not be found.")
    if image.get("status", "active") != "active":
        raise errors.BadRequest(f"Image {image_id} is not active.")
    return image
