"""Remote consoles end to end: the URL from the real ``openstack`` CLI, then a websocket
client on the serial (6083) and noVNC (6080) proxies, the tokens in the database
(os-console-auth-tokens), refused tokens, and the tokens going with their server."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import struct
import urllib.parse
from typing import Any

import pytest
import requests
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from compute_helpers import api, boot, name, wait


class Console:
    """A websocket to a console proxy, read as a byte stream."""

    def __init__(self, url: str, **kwargs: Any) -> None:
        self._opened = connect(url, subprotocols=["binary"], open_timeout=30, **kwargs)
        self.ws: ClientConnection = self._opened.__enter__()
        self.buf = b""

    def read_until(self, marker: bytes, timeout: float = 30) -> bytes:
        while marker not in self.buf:
            data = self.ws.recv(timeout=timeout)
            self.buf += data.encode() if isinstance(data, str) else data
        head, _, self.buf = self.buf.partition(marker)
        return head + marker

    def read(self, n: int, timeout: float = 30) -> bytes:
        while len(self.buf) < n:
            data = self.ws.recv(timeout=timeout)
            self.buf += data.encode() if isinstance(data, str) else data
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def send(self, data: bytes | str) -> None:
        self.ws.send(data.encode() if isinstance(data, str) else data)

    def close(self) -> None:
        self._opened.__exit__(None, None, None)


def _refused(url: str, **kwargs: Any) -> None:
    """The proxy accepts the websocket, then closes it without a byte of console."""
    with connect(url, subprotocols=["binary"], open_timeout=30, **kwargs) as ws:
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=30)


def _token(url: str) -> str:
    query = urllib.parse.parse_qs(urllib.parse.urlparse(url).query)
    if "path" in query:  # noVNC's form: ?path=%3Ftoken%3D...
        query = urllib.parse.parse_qs(urllib.parse.urlparse(query["path"][0]).query)
    return query["token"][0]


def _expire(cloud: Any, token: str) -> None:
    with sqlite3.connect(os.path.join(cloud.data_dir, "pocketstack.db")) as db:
        db.execute("UPDATE consoles_auth_token SET expires = 0 WHERE token_hash = ?",
                   (hashlib.sha256(token.encode()).hexdigest(),))


@pytest.fixture(scope="module")
def server(cloud: Any) -> Any:
    sid = boot(cloud, name("console"))
    wait(cloud, sid, "ACTIVE")
    yield sid
    api(cloud, "DELETE", f"/servers/{sid}")


def test_serial_console_through_the_proxy(cloud: Any, server: str) -> None:
    out = cloud.cli("console", "url", "show", "--serial", "-f", "json", server)
    assert out["type"] == "serial"
    url = out["url"]
    assert url.startswith(f"ws://{cloud.addr}:6083/?token=")
    console = Console(url)
    try:
        booted = console.read_until(b"login: ").decode()
        assert "Linux version 6.1.0-fake" in booted  # the guest's console log first
        console.send("root\r")
        assert b"root" in console.read_until(b"Password: ")  # echoed, as a tty does
        console.send("wrong\r")
        assert b"Login incorrect" in console.read_until(b"login: ")
        # the password set through the API opens the guest's shell
        cloud.cli("server", "set", "--password", "s3cret-pw", server)
        console.send("root\rs3cret-pw\r")
        console.read_until(b"~# ")
        console.send("hostname\r")
        assert console.read_until(b"~# ").decode().split("\r\n")[1].startswith("console-")
        console.send("exit\r")
        console.read_until(b"login: ")
        # what the guest logs later appears on the open console
        r = api(cloud, "POST", f"/servers/{server}/action", json={"reboot": {"type": "SOFT"}})
        assert r.status_code == 202, r.text
        assert b"Restarting system" in console.read_until(b"Restarting system")
        console.read_until(b"login: ")
        wait(cloud, server, "ACTIVE")
    finally:
        console.close()
    token = _token(url)
    r = api(cloud, "GET", f"/os-console-auth-tokens/{token}", version="2.31")
    assert r.status_code == 200, r.text
    info = r.json()["console"]
    assert info["instance_uuid"] == server and info["port"] > 0
    assert info["internal_access_path"] == f"/serial/{server}"
    # the token stays valid for its TTL: a second client gets the console too
    again = Console(url)
    assert b"login: " in again.read_until(b"login: ")
    again.close()


def test_bad_expired_and_foreign_tokens_are_refused(cloud: Any, server: str) -> None:
    url = cloud.cli("console", "url", "show", "--serial", "-f", "json", server)["url"]
    _refused(url.replace("token=", "token=bad"))
    _refused(f"ws://{cloud.addr}:6083/")  # no token at all
    vnc = cloud.cli("console", "url", "show", "--novnc", "-f", "json", server)["url"]
    _refused(f"ws://{cloud.addr}:6083/?token={_token(vnc)}")  # a VNC token on serial
    _refused(url, origin="http://elsewhere.example.com")  # a page of another site
    _expire(cloud, _token(url))
    _refused(url)
    r = api(cloud, "GET", f"/os-console-auth-tokens/{_token(url)}", version="2.31")
    assert r.status_code == 404


def test_novnc_proxy_speaks_rfb(cloud: Any, server: str) -> None:
    out = cloud.cli("console", "url", "show", "-f", "json", server)
    assert out["type"] == "novnc"
    parts = urllib.parse.urlparse(out["url"])
    assert (parts.netloc, parts.path) == (f"{cloud.addr}:6080", "/vnc_auto.html")
    page = requests.get(out["url"], timeout=30)  # noVNC's page (or why it is missing)
    assert page.status_code == 200 if os.path.isdir("/usr/share/novnc") else 404
    assert "</html>" in page.text
    token = _token(out["url"])
    # as Tempest's NoVNCValidateMixin: GET /?token=..., RFB 3.8, security None
    rfb = Console(f"ws://{cloud.addr}:6080/?token={token}")
    try:
        version = rfb.read(12)
        assert version == b"RFB 003.008\n"
        rfb.send(version)
        count = rfb.read(1)[0]
        assert 1 in rfb.read(count)
        rfb.send(b"\x01")
        assert rfb.read(4) == b"\x00\x00\x00\x00"
        rfb.send(b"\x01")  # ClientInit: shared
        width, height = struct.unpack(">HH", rfb.read(4))
        bpp = rfb.read(16)[0]
        title = rfb.read(struct.unpack(">I", rfb.read(4))[0]).decode()
        assert width > 0 and height > 0 and bpp == 32 and title.startswith("console-")
        rfb.send(struct.pack(">BBHHHH", 3, 0, 0, 0, 4, 2))  # update 4x2 at 0,0
        kind, rects = struct.unpack(">BxH", rfb.read(4))
        x, y, w, h, enc = struct.unpack(">HHHHi", rfb.read(12))
        assert (kind, rects, x, y, w, h, enc) == (0, 1, 0, 0, 4, 2, 0)
        assert len(rfb.read(4 * 2 * 4)) == 32  # raw pixels
    finally:
        rfb.close()
    _refused(f"ws://{cloud.addr}:6080/?token=bad{token}")
    # no XVP VNC proxy (gone from Nova too): 400 Invalid console type
    r = api(cloud, "POST", f"/servers/{server}/action", version="2.1",
            json={"os-getVNCConsole": {"type": "xvpvnc"}})
    assert r.status_code == 400 and "Invalid console type" in r.text


def test_tokens_go_with_their_server(cloud: Any) -> None:
    sid = boot(cloud, name("console-gone"))
    wait(cloud, sid, "ACTIVE")
    url = cloud.cli("console", "url", "show", "--serial", "-f", "json", sid)["url"]
    console = Console(url)
    console.read_until(b"login: ")
    assert api(cloud, "DELETE", f"/servers/{sid}").status_code == 204
    with pytest.raises(ConnectionClosed):  # the guest is gone: so is its console
        console.read_until(b"never")
    wait(cloud, sid, "DELETED")
    r = api(cloud, "GET", f"/os-console-auth-tokens/{_token(url)}", version="2.31")
    assert r.status_code == 404
    _refused(url)


def test_novnc_pages_come_from_the_novnc_package_dir(tmp_path: Any) -> None:
    from pocketstack.consoles.proxy import NoVNCProxyService

    (tmp_path / "app").mkdir()
    (tmp_path / "vnc.html").write_text("<html><script src='app/ui.js'></script>noVNC</html>")
    (tmp_path / "app" / "ui.js").write_text("// ui")
    os.symlink("vnc.html", tmp_path / "vnc_auto.html")  # as Debian's package links it
    (tmp_path.parent / "secret.txt").write_text("no")

    class Conf:
        web = str(tmp_path)

        def get(self, section: str, option: str) -> Any:
            return self.web

    cloud = type("Cloud", (), {"conf": Conf(), "db": None})()
    proxy = NoVNCProxyService(cloud)  # type: ignore[arg-type]

    def page(path: str, method: str = "GET") -> Any:
        return proxy.page({"path": path, "method": method})

    assert page("/vnc_auto.html").path == str(tmp_path / "vnc_auto.html")
    assert page("/app/ui.js").path == str(tmp_path / "app" / "ui.js")
    assert page("/").path == str(tmp_path / "vnc_auto.html")
    assert page("/../secret.txt").status_code == 404
    assert page("/%2e%2e/secret.txt").status_code == 404
    assert page("/app").status_code == 404
    assert page("/vnc.html", "POST").status_code == 405
    Conf.web = str(tmp_path / "missing")
    missing = page("/vnc_auto.html")
    assert missing.status_code == 404 and b"novnc" in missing.body


def test_hypervisor_consoles_listen_on_loopback_only() -> None:
    from pocketstack.compute.drivers.consoleserver import local_address

    assert local_address("127.3.4.5") == "127.3.4.5"
    assert local_address("::1") == "::1"
    for public in ("0.0.0.0", "192.0.2.7", "::", "cloud.example.com"):
        assert local_address(public) == "127.0.0.1"  # no token is asked there
