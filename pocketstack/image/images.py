"""Images: creation, visibility, listing, JSON-patch updates, tags, actions, deletion.

Domain logic over the database; the HTTP layer (``pocketstack.image.api``) is thin.
Who sees what follows Glance: admins see every image; others see their own
project's images, public and community images, and shared images their project
is a member of. An image one may not see is "not found", never "forbidden".
"""

from __future__ import annotations

import datetime as dt
import re
from typing import TYPE_CHECKING, Any, Callable

from sqlalchemy import select

from pocketstack.api import errors
from pocketstack.api.context import RequestContext
from pocketstack.api.validation import validate
from pocketstack.db import Database, new_uuid, utcnow
from pocketstack.image import schemas
from pocketstack.image.models import Image, Member

if TYPE_CHECKING:
    from pocketstack.image.locations import Locations
    from pocketstack.image.stores import Stores
    from pocketstack.policy import Enforcer

CORE = ("name", "disk_format", "container_format", "visibility", "protected", "os_hidden",
        "min_ram", "min_disk", "owner", "tags")
READ_ONLY = ("created_at", "updated_at", "status", "checksum", "size", "virtual_size",
             "direct_url", "self", "file", "schema", "id", "os_hash_algo", "os_hash_value")
DISALLOWED = ("direct_url", "self", "file", "schema", "stores")
RESERVED = ("location", "deleted", "deleted_at")
RESERVED_NS = "os_glance"
SORT_KEYS = ("name", "status", "container_format", "disk_format", "size", "id", "created_at",
             "updated_at")
UUID_RE = re.compile(schemas.UUID_PATTERN)


def isotime(value: dt.datetime | None) -> str | None:
    return None if value is None else value.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: str) -> dt.datetime:
    text = value.strip().replace("Z", "+00:00")
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        raise errors.BadRequest(f"Invalid time format for {value}.") from None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return parsed


def view(image: Image) -> dict[str, Any]:
    """Glance's representation of an image (custom properties at the top level)."""
    body: dict[str, Any] = {k: ("" if v is None else v) for k, v in
                            (image.properties or {}).items()}
    for key in ("name", "disk_format", "container_format", "visibility", "size",
                "virtual_size", "status", "checksum", "protected", "min_ram", "min_disk",
                "owner", "os_hidden", "os_hash_algo", "os_hash_value"):
        body[key] = getattr(image, key)
    body.update(id=image.id, created_at=isotime(image.created_at),
                updated_at=isotime(image.updated_at), tags=list(image.tags or []),
                self=f"/v2/images/{image.id}", file=f"/v2/images/{image.id}/file",
                schema="/v2/schemas/image")
    return body


_OPS = {"eq": lambda a, b: a == b, "neq": lambda a, b: a != b, "gt": lambda a, b: a > b,
        "gte": lambda a, b: a >= b, "lt": lambda a, b: a < b, "lte": lambda a, b: a <= b}


def _time_filter(value: str) -> Callable[[dt.datetime], bool]:
    op, sep, rest = value.partition(":")
    if not sep or op not in _OPS:
        op, rest = "eq", value
    when = parse_time(rest)
    return lambda t: t is not None and _OPS[op](t.replace(microsecond=0), when)


def _bool(name: str, value: str) -> bool:
    v = value.strip().lower()
    if v in ("true", "1", "yes", "on"):
        return True
    if v in ("false", "0", "no", "off"):
        return False
    raise errors.BadRequest(f"Invalid value for {name}: '{value}'. Must be a boolean.")


class ImageManager:
    def __init__(self, db: Database, store: "Stores", policy: "Enforcer", conf: Any) -> None:
        self.db = db
        self.store = store
        self.policy = policy
        self.conf = conf
        self.locations: "Locations | None" = None

    def show(self, image: Image) -> dict[str, Any]:
        """``view`` plus what the stores say: ``stores`` (Glance's multi-store view, as
        /v2/info/stores is served), and ``direct_url``/``locations`` when shown."""
        body = view(image)
        if image.status in ("active", "deactivated") and image.size is not None:
            held = self.store.holding(image.id)
            if held:
                body["stores"] = ",".join(held)
        if self.locations is not None:
            self.locations.add_to(body, image)
        return body

    # -- access ---------------------------------------------------------------
    def target(self, ctx: RequestContext, image: Image, member: Member | None = None
               ) -> dict[str, Any]:
        return {"project_id": image.owner or "", "owner": image.owner or "",
                "visibility": image.visibility,
                "member_id": member.member_id if member is not None else "",
                "image_id": image.id}

    def enforce(self, ctx: RequestContext, action: str, target: dict[str, Any]) -> None:
        self.policy.enforce(f"image:{action}", target, ctx.credentials())

    def authorized(self, ctx: RequestContext, action: str, target: dict[str, Any]) -> bool:
        return self.policy.authorize(f"image:{action}", target, ctx.credentials())

    @staticmethod
    def visible(ctx: RequestContext, image: Image, member: Member | None) -> bool:
        if ctx.is_admin:
            return True
        if image.owner and image.owner == ctx.project_id:
            return True
        if image.visibility in ("public", "community"):
            return True
        return image.visibility == "shared" and member is not None

    def _member(self, session: Any, image_id: str, project_id: str | None) -> Member | None:
        if not project_id:
            return None
        return session.get(Member, (image_id, project_id))

    def load(self, session: Any, ctx: RequestContext, image_id: str
             ) -> tuple[Image, Member | None]:
        """The image if the caller may see it (404 otherwise), and the caller's membership."""
        image = session.get(Image, image_id) if UUID_RE.match(image_id or "") else None
        member = self._member(session, image_id, ctx.project_id) if image else None
        if image is None or not self.visible(ctx, image, member):
            raise errors.NotFound(f"No image found with ID {image_id}")
        return image, member

    def owned(self, session: Any, ctx: RequestContext, image_id: str, action: str
              ) -> Image:
        """The image, for a change only its owner (or an admin) may make."""
        image, member = self.load(session, ctx, image_id)
        self.enforce(ctx, action, self.target(ctx, image, member))
        if not ctx.is_admin and image.owner != ctx.project_id:
            raise errors.Forbidden(f"You are not permitted to modify image {image_id}.")
        return image

    # -- in-process API ---------------------------------------------------------
    def get(self, ctx: RequestContext, image_id: str) -> dict[str, Any]:
        """The image's Glance view, as the caller may see it (policy ``get_image``)."""
        with self.db.read() as session:
            image, member = self.load(session, ctx, image_id)
            self.enforce(ctx, "get_image", self.target(ctx, image, member))
            return self.show(image)

    # -- create -----------------------------------------------------------------
    def create(self, ctx: RequestContext, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise errors.BadRequest("Body expected in request.")
        for key in DISALLOWED:
            if key in body:
                raise errors.Forbidden(f"Attribute '{key}' is read-only.")
        validate(schemas.IMAGE_VALIDATION, body)
        for key in body:
            if key in READ_ONLY and key != "id":
                raise errors.Forbidden(f"Attribute '{key}' is read-only.")
            if key in RESERVED or key.startswith(RESERVED_NS):
                raise errors.Forbidden(f"Attribute '{key}' is reserved.")
        owner = body.get("owner") or ctx.project_id
        visibility = body.get("visibility", "shared")
        target = {"project_id": ctx.project_id or "", "owner": owner or "",
                  "visibility": visibility, "member_id": ""}
        self.enforce(ctx, "add_image", target)
        if visibility == "public":
            self.enforce(ctx, "publicize_image", target)
        elif visibility == "community":
            self.enforce(ctx, "communitize_image", target)
        properties = {k: v for k, v in body.items() if k not in CORE and k != "id"}
        self._check_quota(len(properties), "image_property_quota", "properties")
        tags = list(dict.fromkeys(body.get("tags") or []))
        self._check_quota(len(tags), "image_tag_quota", "tags")
        now = utcnow()
        image = Image(id=body.get("id") or new_uuid(), name=body.get("name"), status="queued",
                      visibility=visibility, protected=body.get("protected", False),
                      os_hidden=body.get("os_hidden", False), owner=owner,
                      disk_format=body.get("disk_format"),
                      container_format=body.get("container_format"),
                      min_ram=body.get("min_ram", 0), min_disk=body.get("min_disk", 0),
                      properties=properties, tags=tags, created_at=now, updated_at=now)
        with self.db.write() as session:
            if session.get(Image, image.id) is not None:
                raise errors.Conflict(f"Image with identifier {image.id} already exists!")
            session.add(image)
        return self.show(image)

    def _check_quota(self, count: int, option: str, what: str) -> None:
        limit = self.conf.get("image", option)
        if 0 <= limit < count:
            raise errors.RequestEntityTooLarge(
                f"Maximum number of {what} exceeded: attempted {count}, maximum {limit}.")

    # -- list -----------------------------------------------------------------
    def list(self, ctx: RequestContext, params: list[tuple[str, str]]) -> tuple[
            list[dict[str, Any]], str | None]:
        """Filtered, sorted, paginated images; the second item is the next marker."""
        args: dict[str, list[str]] = {}
        for key, value in params:
            args.setdefault(key, []).append(value)

        def one(key: str) -> str | None:
            return args.pop(key)[-1] if key in args else None

        limit_text, marker = one("limit"), one("marker")
        member_status = one("member_status") or "accepted"
        if member_status not in ("pending", "accepted", "rejected", "all"):
            raise errors.BadRequest(f"Invalid status: {member_status}")
        limit = self.conf.get("image", "limit_param_default")
        if limit_text is not None:
            try:
                limit = int(limit_text)
            except ValueError:
                raise errors.BadRequest("limit param must be an integer") from None
            if limit < 0:
                raise errors.BadRequest("limit param must be positive")
        limit = min(limit, self.conf.get("image", "api_limit_max"))
        keys, dirs = self._sorting(args)
        visibility = one("visibility")
        if visibility and visibility not in ("community", "public", "private", "shared", "all"):
            raise errors.BadRequest(f"Invalid visibility value: {visibility}")
        if "changes-since" in args:
            raise errors.BadRequest('The "changes-since" filter is no longer available on v2.')
        checks = self._filters(args)

        with self.db.read() as session:
            images = list(session.scalars(select(Image)))
            mine: dict[str, str] = {}
            if ctx.project_id:
                mine = {m.image_id: m.status for m in session.scalars(
                    select(Member).where(Member.member_id == ctx.project_id))}
        selected = [i for i in images
                    if self._listed(ctx, i, mine, visibility, member_status)
                    and all(check(i) for check in checks)]
        ordered = self._sort(selected, keys, dirs)
        if marker is not None:
            anchor = next((i for i in images if i.id == marker), None)
            if anchor is None or not self.visible(ctx, anchor, None if anchor.id not in mine
                                                  else Member(member_id=ctx.project_id)):
                raise errors.BadRequest(f"Marker {marker} could not be found.")
            if anchor not in ordered:
                ordered = self._sort([*ordered, anchor], keys, dirs)
            ordered = ordered[ordered.index(anchor) + 1:]
        page = ordered[:limit]
        next_marker = page[-1].id if page and len(page) == limit else None
        return [self.show(i) for i in page], next_marker

    @staticmethod
    def _sorting(args: dict[str, list[str]]) -> tuple[list[str], list[str]]:
        keys: list[str] = []
        dirs: list[str] = []

        def check(key: str, direction: str) -> None:
            if key not in SORT_KEYS:
                raise errors.BadRequest(f"Invalid sort key: {key}. It must be one of the "
                                        f"following: {', '.join(SORT_KEYS)}.")
            if direction not in ("asc", "desc"):
                raise errors.BadRequest(f"Invalid sort direction: {direction}")

        if "sort" in args:
            if "sort_key" in args or "sort_dir" in args:
                raise errors.BadRequest("Old and new sorting syntax cannot be combined")
            for item in args.pop("sort")[-1].strip().split(","):
                key, _, direction = item.partition(":")
                key, direction = key.strip(), (direction.strip() or "desc")
                check(key, direction)
                keys.append(key)
                dirs.append(direction)
        else:
            keys = [k.strip() for k in args.pop("sort_key", [])]
            dirs = [d.strip() for d in args.pop("sort_dir", [])]
            for k in keys:
                check(k, "asc")
            for d in dirs:
                check("id", d)
            if len(dirs) > 1 and len(dirs) != len(keys):
                raise errors.BadRequest("Number of sort dirs does not match the number of "
                                        "sort keys")
        keys = keys or ["created_at"]
        dirs = dirs or ["desc"]
        if len(dirs) == 1:
            dirs = dirs * len(keys)
        return keys, dirs

    @staticmethod
    def _sort(images: list[Image], keys: list[str], dirs: list[str]) -> list[Image]:
        out = sorted(images, key=lambda i: i.id, reverse=dirs[0] == "desc")
        for key, direction in reversed(list(zip(keys, dirs))):
            out.sort(key=lambda i: (getattr(i, key) is not None, getattr(i, key) or 0)
                     if key in ("size",) else (getattr(i, key) is not None,
                                               getattr(i, key) or ""),
                     reverse=direction == "desc")
        return out

    @staticmethod
    def _listed(ctx: RequestContext, image: Image, mine: dict[str, str],
                visibility: str | None, member_status: str) -> bool:
        own = bool(image.owner) and image.owner == ctx.project_id
        if visibility not in (None, "all") and image.visibility != visibility:
            return False
        if visibility is None and image.visibility == "community" and not own:
            return False  # community images are listed only when asked for (or owned)
        if ctx.is_admin or own or image.visibility in ("public", "community"):
            return True
        if image.visibility == "shared" and image.id in mine:
            return member_status == "all" or mine[image.id] == member_status
        return False

    def _filters(self, args: dict[str, list[str]]) -> list[Callable[[Image], bool]]:
        checks: list[Callable[[Image], bool]] = []
        tags = args.pop("tag", [])
        if tags:
            checks.append(lambda i: all(t in (i.tags or []) for t in tags))
        for key in ("size_min", "size_max"):
            if key in args:
                try:
                    bound = int(args.pop(key)[-1])
                except ValueError:
                    raise errors.BadRequest(f"Invalid value for {key}: must be an integer."
                                            ) from None
                if key == "size_min":
                    checks.append(lambda i, b=bound: i.size is not None and i.size >= b)
                else:
                    checks.append(lambda i, b=bound: i.size is not None and i.size <= b)
        hidden = args.pop("os_hidden", None)
        if hidden is not None:
            want = _bool("os_hidden", hidden[-1])
            checks.append(lambda i: bool(i.os_hidden) == want)
        else:
            checks.append(lambda i: not i.os_hidden)
        if "protected" in args:
            want_p = _bool("protected", args.pop("protected")[-1])
            checks.append(lambda i: bool(i.protected) == want_p)
        for key in ("created_at", "updated_at"):
            for value in args.pop(key, []):
                test = _time_filter(value)
                checks.append(lambda i, k=key, t=test: t(getattr(i, k)))
        for key, values in args.items():
            for value in values:
                checks.append(self._match(key, value))
        return checks

    @staticmethod
    def _match(key: str, value: str) -> Callable[[Image], bool]:
        wanted = {value}
        if value.startswith("in:"):
            wanted = {v.strip().strip('"') for v in value[3:].split(",")}
        elif value.startswith("eq:"):
            wanted = {value[3:]}
        columns = ("id", "name", "status", "owner", "container_format", "disk_format",
                   "min_ram", "min_disk", "checksum", "os_hash_algo", "os_hash_value", "size",
                   "virtual_size")
        if key in columns:
            return lambda i: str(getattr(i, key)) in wanted if getattr(i, key) is not None \
                else False
        return lambda i: str((i.properties or {}).get(key)) in wanted \
            if key in (i.properties or {}) else False
