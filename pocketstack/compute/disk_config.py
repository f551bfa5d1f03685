"""OS-DCF:diskConfig: how the root disk is partitioned (AUTO: resized to the flavor's disk,
MANUAL: as the image has it). Kept in the instance's system_metadata (``disk_config``) and
set on create, update, rebuild and resize, as Nova's ``auto_disk_config``."""

from __future__ import annotations

from typing import Any

from pocketstack.api import errors

KEY = "OS-DCF:diskConfig"
VALUES = ("AUTO", "MANUAL")


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


def changes(inst: Any, wanted: str | None) -> dict[str, Any]:
    """The instance column changes recording ``wanted`` (nothing when None)."""
    if wanted is None:
        return {}
    from pocketstack.compute.transitions import sysmeta

    return {"system_metadata": sysmeta(inst, disk_config=wanted)}
