"""The notification log keeps its file open and follows a rotation (moved or removed)."""

from __future__ import annotations

import json
import os
from typing import Any

from pocketstack.ops.notifications import NotificationLog


def _lines(path: str) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def test_lines_and_rotation(tmp_path: Any) -> None:
    log = NotificationLog(str(tmp_path))
    log("instance.create.end", {"uuid": "a"})
    log("instance.delete.end", {"uuid": "a"})
    assert [m["event_type"] for m in _lines(log.path)] == ["instance.create.end",
                                                          "instance.delete.end"]
    assert _lines(log.path)[0]["payload"]["nova_object.data"] == {"uuid": "a"}
    assert os.stat(log.path).st_mode & 0o777 == 0o600
    os.rename(log.path, log.path + ".1")  # logrotate
    log("volume.create.end", {"volume_id": "v"})
    assert [m["event_type"] for m in _lines(log.path)] == ["volume.create.end"]
    assert len(_lines(log.path + ".1")) == 2
    os.remove(log.path)
    log("volume.delete.end", {"volume_id": "v"})
    assert [m["event_type"] for m in _lines(log.path)] == ["volume.delete.end"]
