"""OS-DCF:diskConfig: how the root disk is partitioned (AUTO: resized to the flavor's disk,
MANUAL: as the image has it). Kept in the instance's system_metadata (``disk_config``) and
set on create, update, rebuild and resize, as Nova's ``auto_disk_config``. An image's
``auto_disk_config`` property gives the default on create and rebuild (``disabled``
forbids AUTO), and shows as the image's OS-DCF:diskConfig in Nova's /images proxy."""

from __future__ import annotations

from typing import Any

from pocketstack.api import errors

KEY = "OS-DCF:diskConfig"
VALUES = ("AUTO", "MANUAL")
IMAGE_KEY = "auto_disk_config"
_TRUE = ("1", "t", "true", "on", "y", "yes")


def _to_api(raw: Any) -> str:
    """An image's auto_disk_config property as AUTO/MANUAL (oslo's bool_from_string)."""
    return "AUTO" if str(raw).strip().lower() in _TRUE else "MANUAL"


def image_view(out: dict[str, Any], metadata: dict[str, Any]) -> None:
    """Add OS-DCF:diskConfig to a /images view when the image has auto_disk_config."""
    if IMAGE_KEY in metadata:
        out[KEY] = _to_api(metadata[IMAGE_KEY])


def _refuse(raw: Any, wanted: str | None, image_id: Any) -> None:
    if wanted == "AUTO" and raw is not None and str(raw).strip().lower() == "disabled":
        raise errors.BadRequest(f"Requested image {image_id} has automatic disk resize "
                                "disabled.")


def sysmeta(image: dict[str, Any], wanted: str | None) -> dict[str, Any] | None:
    """A new server's system_metadata for its diskConfig and its image's property (kept
    for the check of a later resize, as Nova keeps the image's properties)."""
    out: dict[str, Any] = {"disk_config": wanted} if wanted else {}
    if image.get(IMAGE_KEY) is not None:
        out["image_auto_disk_config"] = str(image[IMAGE_KEY])
    return out or None


def check_resize(inst: Any, wanted: str | None) -> None:
    """400 for a resize asking AUTO of a server whose image says disabled."""
    _refuse((inst.system_metadata or {}).get("image_auto_disk_config"), wanted,
            inst.image_ref)


def with_image(image: dict[str, Any], wanted: str | None) -> str | None:
    """The diskConfig of a server built from ``image``: ``wanted`` if given (400 for AUTO
    when the image has auto_disk_config=disabled), else the image's (None: MANUAL)."""
    raw = image.get(IMAGE_KEY)
    if raw is None:
        return wanted
    _refuse(raw, wanted, image.get("id"))
    if wanted is None and _to_api(raw) == "AUTO":
        return "AUTO"
    return wanted


def value(inst: Any) -> str:
    """The server's OS-DCF:diskConfig (MANUAL unless AUTO was asked for)."""
    return (inst.system_metadata or {}).get("disk_config") or "MANUAL"


def requested(args: Any, action: str | None = None) -> str | None:
    """The diskConfig asked for in a request body (None when absent); 400 when invalid."""
    if not isinstance(args, dict) or KEY not in args:
        return None
    wanted = args[KEY]
    if wanted not in VALUES:
        where = f"{action}/{KEY}" if action else KEY
        raise errors.BadRequest(f"Invalid input for field/attribute {where}. Value: "
                                f"{wanted}. '{wanted}' is not one of ['AUTO', 'MANUAL']")
    return wanted


def changes(inst: Any, wanted: str | None, image: dict[str, Any] | None = None
            ) -> dict[str, Any]:
    """The instance column changes recording ``wanted`` (nothing when None) and, on a
    rebuild, the new ``image``'s auto_disk_config."""
    from pocketstack.compute.transitions import sysmeta as set_sysmeta

    values: dict[str, Any] = {}
    if wanted is not None:
        values["disk_config"] = wanted
    if image is not None:
        raw = image.get(IMAGE_KEY)
        values["image_auto_disk_config"] = None if raw is None else str(raw)
    return {"system_metadata": set_sysmeta(inst, **values)} if values else {}
