"""Helpers shared by the operator commands and the doctor checks."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from typing import TYPE_CHECKING, Any, Iterable, Sequence

if TYPE_CHECKING:
    from pocketstack.cloud import Cloud


class OpsError(Exception):
    """A refusal or failure an operator command reports (exit code 1, no traceback)."""


def running_state(data_dir: str) -> dict[str, Any] | None:
    """``state.json`` of the cloud running on ``data_dir``, or None when it is not running."""
    path = os.path.join(data_dir, "state.json")
    try:
        with open(path, encoding="utf-8") as f:
            state = json.load(f)
        os.kill(int(state["pid"]), 0)
    except (OSError, ValueError, KeyError):
        return None
    return state


def load_models() -> None:
    """Import every service (models and their options) without starting any of them."""
    from pocketstack.db import migrate
    from pocketstack.services import service_classes

    service_classes()
    migrate.import_models()


_RELATIVE = re.compile(r"^(\d+)([smhdw])$")


def parse_when(text: str, local: bool = False) -> dt.datetime:
    """A naive datetime (UTC, or local time for the logs) from ISO ``2026-01-31[T12:00[:00]]``
    or an age like ``90m``/``7d``."""
    m = _RELATIVE.match(text.strip())
    if m:
        unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
        now = dt.datetime.now() if local else utcnow()
        return now - dt.timedelta(**{unit[m.group(2)]: int(m.group(1))})
    try:
        when = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise OpsError(f"not a date: {text!r} (use YYYY-MM-DD[THH:MM[:SS]] or an age "
                       "like 30m, 12h, 7d)") from None
    if when.tzinfo is not None:
        when = when.astimezone(None if local else dt.timezone.utc).replace(tzinfo=None)
    return when


def utcnow() -> dt.datetime:
    from pocketstack.db import utcnow as db_now

    return db_now()


def iso(value: dt.datetime | None) -> str:
    return value.replace(microsecond=0).isoformat() if value else "-"


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    rows = [[("-" if v is None else str(v)) for v in r] for r in rows]
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)]
    line = "+" + "+".join("-" * (w + 2) for w in widths) + "+"
    out = [line, "| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths)) + " |", line]
    out += ["| " + " | ".join(v.ljust(w) for v, w in zip(r, widths)) + " |" for r in rows]
    out.append(line)
    return "\n".join(out)


def conf_int(cloud: "Cloud", section: str, name: str) -> int:
    return int(cloud.conf.get(section, name))
