"""The serial console of a container instance: the init's terminal, through the serial
proxy, opened with the URL the real ``openstack`` CLI gets (root only: skips elsewhere)."""

from __future__ import annotations

import uuid
from typing import Any

from websockets.sync.client import connect


def _until(ws: Any, marker: bytes, seen: bytes = b"") -> bytes:
    while marker not in seen:
        seen += ws.recv(timeout=30)
    return seen


def test_serial_console_is_the_guests_terminal(ccloud: Any) -> None:
    server = ccloud.boot(f"console-{uuid.uuid4().hex[:6]}")
    sid = server["id"]
    ccloud.wait_console(sid, "up: httpd on port 80")
    out = ccloud.cli("console", "url", "show", "--serial", "-f", "json", sid,
                     cloud="pocketstack")
    with connect(out["url"], subprotocols=["binary"], open_timeout=30) as ws:
        ws.send(b"\r")
        _until(ws, b"# ")  # the guest's shell prompt
        ws.send(b"echo pid-of-init=$(cat /proc/1/stat | cut -d' ' -f1) $((6 * 7))\r")
        assert b"pid-of-init=1 42" in _until(ws, b"pid-of-init=1 42")
        ws.send(b"echo host=$(hostname)\r")
        assert f"host={server['name']}".encode() in _until(ws, b"host=" + server["name"].encode())
    # what was typed and answered is on the console log too, as on a serial line
    assert "pid-of-init=1 42" in ccloud.console(sid)
    # no display on a container: the noVNC console is not implemented (501)
    proc = ccloud.cli("console", "url", "show", "--novnc", sid, cloud="pocketstack",
                      check=False)
    assert proc.returncode != 0
    ccloud.delete_and_check(server)
