"""Changing images: JSON-patch updates, tags, (de)activation and deletion."""

from __future__ import annotations

import os
import re
from typing import Any

from pocketstack.api import errors
from pocketstack.api.context import RequestContext
from pocketstack.api.validation import validate
from pocketstack.db import utcnow
from pocketstack.image import schemas
from pocketstack.image.images import CORE, READ_ONLY, RESERVED, RESERVED_NS, ImageManager
from pocketstack.image.models import Image

PATCH_V21 = "application/openstack-images-v2.1-json-patch"
PATCH_V20 = "application/openstack-images-v2.0-json-patch"
OPS = ("add", "remove", "replace")


def _pointer(pointer: Any) -> str:
    if not isinstance(pointer, str) or not pointer.startswith("/"):
        raise errors.BadRequest(f'Pointer `{pointer}` does not start with "/".')
    if re.search(r"/\s*?/", pointer[1:]):
        raise errors.BadRequest(f'Pointer `{pointer}` contains adjacent "/".')
    if len(pointer) > 1 and pointer.endswith("/"):
        raise errors.BadRequest(f'Pointer `{pointer}` end with "/".')
    if re.search("~[^01]", pointer) or pointer.endswith("~"):
        raise errors.BadRequest(f'Pointer `{pointer}` contains "~" not part of a recognized '
                                'escape sequence.')
    parts = [p.replace("~1", "/").replace("~0", "~").strip()
             for p in pointer.lstrip("/").split("/")]
    if len(parts) != 1 or not parts[0]:
        raise errors.BadRequest(f"Invalid JSON pointer for this resource: '{pointer}'")
    return parts[0]


def parse_patch(content_type: str, body: Any) -> list[dict[str, Any]]:
    """Glance's two JSON-patch dialects into ``[{"op", "path", "value"}]``."""
    media = content_type.split(";")[0].strip().lower()
    if media not in (PATCH_V21, PATCH_V20):
        raise errors.UnsupportedMediaType(
            f"Unsupported Content-Type: {media or 'none'}. Use {PATCH_V21}.",
            headers={"Accept-Patch": f"{PATCH_V21}, {PATCH_V20}"})
    if not isinstance(body, list):
        raise errors.BadRequest("Request body must be a JSON array of operation objects.")
    changes = []
    for raw in body:
        if not isinstance(raw, dict):
            raise errors.BadRequest("Operations must be JSON objects.")
        if media == PATCH_V21:
            op = raw.get("op")
            if op is None:
                raise errors.BadRequest("Unable to find 'op' in JSON Schema change")
            if op not in OPS:
                raise errors.BadRequest(f"Invalid operation: `{op}`. It must be one of the "
                                        f"following: {', '.join(OPS)}.")
            if "path" not in raw:
                raise errors.BadRequest("Unable to find 'path' in JSON Schema change")
            path = raw["path"]
        else:
            found = [k for k in OPS if k in raw]
            if len(found) != 1:
                raise errors.BadRequest('Operation objects must contain exactly one member '
                                        'named "add", "remove", or "replace".')
            op, path = found[0], raw[found[0]]
        if isinstance(path, str) and (path == "/locations" or path.startswith("/locations/")):
            change = {"op": op, "path": "locations", "index": path[11:] or None}
            if op != "remove":
                if "value" not in raw:
                    raise errors.BadRequest(f'Operation "{op}" requires a member named '
                                            '"value".')
                change["value"] = raw["value"]
            changes.append(change)
            continue
        key = _pointer(path)
        change = {"op": op, "path": key}
        if op != "remove":
            if "value" not in raw:
                raise errors.BadRequest(f'Operation "{op}" requires a member named "value".')
            change["value"] = raw["value"]
        if key in READ_ONLY:
            raise errors.Forbidden(f"Attribute '{key}' is read-only.")
        if key in RESERVED or key.startswith(RESERVED_NS):
            raise errors.Forbidden(f"Attribute '{key}' is reserved.")
        if op != "remove":
            validate(schemas.IMAGE_VALIDATION, {key: change["value"]})
        changes.append(change)
    return changes


class ImageChanges:
    def __init__(self, images: ImageManager) -> None:
        self.images = images
        self.db = images.db

    def update(self, ctx: RequestContext, image_id: str, changes: list[dict[str, Any]]
               ) -> dict[str, Any]:
        with self.db.write() as session:
            image = self.images.owned(session, ctx, image_id, "modify_image")
            target = self.images.target(ctx, image)
            props = dict(image.properties or {})
            for change in changes:
                key, op = change["path"], change["op"]
                if key == "locations":
                    self._location_change(ctx, image, target, change)
                    continue
                if key == "visibility" and op != "remove":
                    if change["value"] == "public":
                        self.images.enforce(ctx, "publicize_image", target)
                    elif change["value"] == "community":
                        self.images.enforce(ctx, "communitize_image", target)
                if key == "owner" and not ctx.is_admin:
                    raise errors.Forbidden("Owner can't be updated by non admin.")
                if op == "remove":
                    if key in CORE:
                        raise errors.Forbidden(f"Property {key} may not be removed.")
                    if key not in props:
                        raise errors.Conflict(f"Property {key} does not exist.")
                    del props[key]
                elif key in CORE:
                    value = change["value"]
                    if key == "tags":
                        value = list(dict.fromkeys(value))
                        self.images._check_quota(len(value), "image_tag_quota", "tags")
                    if key in ("disk_format", "container_format") and \
                            image.status != "queued" and value != getattr(image, key):
                        raise errors.Forbidden(f"Attribute {key} can be only replaced for a "
                                               "queued image.")
                    setattr(image, key, value)
                elif op == "replace" and key not in props:
                    raise errors.Conflict(f"Property {key} does not exist.")
                else:
                    props[key] = change["value"]
            self.images._check_quota(len(props), "image_property_quota", "properties")
            image.properties = props
            image.updated_at = utcnow()
            return self.images.show(image)

    def _location_change(self, ctx: RequestContext, image: Image, target: dict[str, Any],
                         change: dict[str, Any]) -> None:
        """JSON-patch on /locations (Glance's rules; show_multiple_locations must be on)."""
        locations = self.images.locations
        assert locations is not None
        op, index = change["op"], change["index"]
        if op == "remove":
            self.images.enforce(ctx, "delete_image_location", target)
            store_id = locations.remove(image, index)
            if store_id:  # the store's copy goes with its location
                self.images.store.delete(image.id, store_id)
            return
        self.images.enforce(ctx, "set_image_location", target)
        if op == "add":
            locations.add(image, index, change["value"])
        elif index is not None:
            raise errors.BadRequest("Invalid JSON pointer for this resource: "
                                    f"'/locations/{index}'")
        else:
            locations.replace(image, change["value"])

    def add_tag(self, ctx: RequestContext, image_id: str, tag: str) -> None:
        if len(tag) > 255:
            raise errors.BadRequest("Provided object does not match schema 'image': tag is "
                                    "longer than 255 characters.")
        with self.db.write() as session:
            image = self.images.owned(session, ctx, image_id, "modify_image")
            tags = list(image.tags or [])
            if tag not in tags:
                tags.append(tag)
                self.images._check_quota(len(tags), "image_tag_quota", "tags")
                image.tags = tags
                image.updated_at = utcnow()

    def delete_tag(self, ctx: RequestContext, image_id: str, tag: str) -> None:
        with self.db.write() as session:
            image = self.images.owned(session, ctx, image_id, "modify_image")
            tags = list(image.tags or [])
            if tag not in tags:
                raise errors.NotFound(f"Tag {tag} not found.")
            tags.remove(tag)
            image.tags = tags
            image.updated_at = utcnow()

    def set_active(self, ctx: RequestContext, image_id: str, active: bool) -> None:
        action = "reactivate" if active else "deactivate"
        with self.db.write() as session:
            image = self.images.owned(session, ctx, image_id, action)
            wanted, other = ("active", "deactivated") if active else ("deactivated", "active")
            if image.status == wanted:
                return
            if image.status != other:
                verb = "reactivate" if active else "deactivate"
                raise errors.Conflict(f"Not allowed to {verb} image in status "
                                      f"'{image.status}'")
            image.status = wanted
            image.updated_at = utcnow()

    def delete(self, ctx: RequestContext, image_id: str) -> None:
        with self.db.write() as session:
            image = self.images.owned(session, ctx, image_id, "delete_image")
            if image.protected:
                raise errors.Forbidden(f"Image {image_id} is protected and cannot be deleted.")
            session.delete(image)
        self.images.store.delete(image_id)

    def usage(self, ctx: RequestContext) -> dict[str, Any]:
        from sqlalchemy import select

        with self.db.read() as session:
            mine = list(session.scalars(select(Image).where(Image.owner == ctx.project_id)))
        staged = 0
        for i in mine:
            if i.status == "uploading":
                try:
                    staged += os.path.getsize(self.images.store.staged_path(i.id))
                except OSError:
                    pass

        def entry(usage: int) -> dict[str, int]:
            return {"limit": -1, "usage": usage}

        return {"usage": {
            "image_size_total": entry(sum(i.size or 0 for i in mine)),
            "image_stage_total": entry(staged),
            "image_count_total": entry(len(mine)),
            "image_count_uploading": entry(sum(1 for i in mine
                                               if i.status in ("saving", "uploading",
                                                               "importing"))),
        }}
