"""``manage logs errors``: the errors and tracebacks of the logs, with their request ids."""

from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass, field
from typing import Iterator

LINE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)(?:\.\d+)? \d+ (\w+) (\S+) (.*)$")
REQ = re.compile(r"\b(req-[0-9a-f-]{36})\b")


@dataclass
class LogError:
    file: str
    when: dt.datetime
    level: str
    logger: str
    request_id: str | None
    message: str
    traceback: list[str] = field(default_factory=list)


def scan(log_dir: str, since: dt.datetime | None = None) -> Iterator[LogError]:
    """ERROR/CRITICAL records of ``pocketstack.log`` (every service's records are there;
    the per-service files repeat them) with the lines that follow them (tracebacks)."""
    path = os.path.join(log_dir, "pocketstack.log")
    files = [path] if os.path.exists(path) else \
        sorted(os.path.join(log_dir, n) for n in os.listdir(log_dir) if n.endswith(".log")
               and n != "notifications.log") if os.path.isdir(log_dir) else []
    for name in files:
        current: LogError | None = None
        with open(name, encoding="utf-8", errors="replace") as f:
            for raw in f:
                line = raw.rstrip("\n")
                m = LINE.match(line)
                if m is None:
                    if current is not None:
                        current.traceback.append(line)
                    continue
                if current is not None:
                    yield current
                    current = None
                when = dt.datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S")
                level = m.group(2)
                if level not in ("ERROR", "CRITICAL") or (since and when < since):
                    continue
                req = REQ.search(m.group(4))
                current = LogError(os.path.basename(name), when, level, m.group(3),
                                   req.group(1) if req else None, m.group(4))
        if current is not None:
            yield current
