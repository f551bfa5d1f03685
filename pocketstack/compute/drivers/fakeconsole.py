"""The fake driver's remote consoles: what its simulated hypervisors would serve.

The driver's :class:`~pocketstack.compute.drivers.consoleserver.ConsoleServer` stands
for the console ports of every simulated host. A console proxy reaches an instance's console
the way Nova's proxies reach one behind an ``internal_access_path``: it sends
``CONNECT /serial/<uuid> HTTP/1.1`` (or ``/vnc/<uuid>``), gets ``200`` when the guest
exists and is running (``404`` otherwise), then talks to:

- the serial console: the guest's console log so far, then its login prompt; lines the
  guest logs later (reboots, crash dumps) follow live. ``root`` with the password set by
  changePassword opens a tiny shell (hostname, uname, echo, exit); any other login is
  refused as ``Login incorrect``. Typed characters are echoed as a tty does.
- VNC: an RFB 3.8 (or 3.3) server without authentication and a small framebuffer
  (``WIDTH`` x ``HEIGHT``), answering framebuffer update requests in Raw encoding in the
  pixel format the client asks for; key and pointer events are read and ignored.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from pocketstack.compute.drivers.fake import FakeDriver

WIDTH, HEIGHT = 320, 200
_BG, _BAR = (16, 24, 40), (200, 40, 40)  # a dark screen under a red title bar


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data


class _Serial:
    """One client on a guest's serial console: a login prompt and a line discipline."""

    def __init__(self, driver: "FakeDriver", uuid: str, sock: socket.socket) -> None:
        self.driver, self.uuid, self.sock = driver, uuid, sock
        self.name = driver.console_names.get(uuid) or uuid
        self.lock = threading.Lock()
        self.state, self.buf, self.user = "login", "", ""
        self._cr = False  # the last key was a carriage return (its \n is not a 2nd Enter)

    def out(self, text: str) -> None:
        with self.lock:
            self.sock.sendall(text.replace("\r\n", "\n").replace("\n", "\r\n").encode())

    def live(self, lines: list[str] | None) -> None:  # the guest logged something
        try:
            if lines is None:  # destroyed
                self.sock.shutdown(socket.SHUT_RDWR)
                return
            self.out("".join(f"\n{line}" for line in lines) + "\n" + self.prompt() + self.buf)
        except OSError:  # gone, or not reading: dropped
            try:
                self.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def prompt(self) -> str:
        return {"login": f"{self.name} login: ", "password": "Password: ",
                "shell": f"root@{self.name}:~# "}[self.state]

    def run(self) -> None:
        self.out(self.driver.get_console_output("", {"uuid": self.uuid}) + "\n"
                 + self.prompt())
        # a stuck client must not hold up the driver (live() runs in its threads)
        self.sock.settimeout(2)
        unwatch = self.driver.watch_console(self.uuid, self.live)
        try:
            while True:
                try:
                    data = self.sock.recv(4096)
                except socket.timeout:
                    continue
                if not data:
                    return
                for ch in data.decode("utf-8", "replace"):
                    if not self.key(ch):
                        return
        finally:
            unwatch()

    def key(self, ch: str) -> bool:
        echo = self.state != "password"
        if ch in "\r\n":
            if ch == "\n" and not self.buf and self._cr:
                self._cr = False  # the \n of a \r\n
                return True
            self._cr = ch == "\r"
            line, self.buf = self.buf, ""
            self.out("\n")
            return self.enter(line)
        self._cr = False
        if ch in "\x7f\x08":
            if self.buf:
                self.buf = self.buf[:-1]
                if echo:
                    self.out("\b \b")
        elif ch == "\x03":
            self.buf = ""
            self.out("^C\n" + self.prompt())
        elif ch == "\x04" and not self.buf and self.state == "shell":
            return self.enter("exit")
        elif ch >= " ":
            self.buf += ch
            if echo:
                self.out(ch)
        return True

    def enter(self, line: str) -> bool:
        if self.state == "login":
            if line.strip():
                self.user, self.state = line.strip(), "password"
        elif self.state == "password":
            password = self.driver.passwords.get(self.uuid)
            if self.user == "root" and password is not None and line == password:
                self.state = "shell"
                self.out(f"Last login: {time.strftime('%a %b %d %H:%M:%S UTC %Y', time.gmtime())}"
                         " on ttyS0\n")
            else:
                time.sleep(0.2)  # as login(1), a little
                self.state = "login"
                self.out("\nLogin incorrect\n")
        else:
            self.out(self.command(line.strip()))
        self.out(self.prompt())
        return True

    def command(self, cmd: str) -> str:
        word, _, rest = cmd.partition(" ")
        if not word:
            return ""
        if word in ("exit", "logout"):
            self.state = "login"
            return "logout\n\n"
        if word == "hostname":
            return self.name + "\n"
        if word == "uname":
            return (f"Linux {self.name} 6.1.0-fake #1 SMP x86_64 GNU/Linux\n" if "-a" in rest
                    else "Linux\n")
        if word == "echo":
            return rest + "\n"
        if word == "whoami":
            return "root\n"
        return f"-sh: {word}: not found\n"


class _PixelFormat:
    def __init__(self, data: bytes | None = None) -> None:
        if data is None:  # 32 bpp, depth 24, little-endian true colour
            data = struct.pack(">BBBBHHHBBB3x", 32, 24, 0, 1, 255, 255, 255, 16, 8, 0)
        self.raw = data
        (self.bpp, _depth, self.big, self.true, self.rmax, self.gmax, self.bmax,
         self.rshift, self.gshift, self.bshift) = struct.unpack(">BBBBHHHBBB3x", data)

    def pixel(self, rgb: tuple[int, int, int]) -> bytes:
        r, g, b = rgb
        value = ((r * self.rmax // 255) << self.rshift | (g * self.gmax // 255) << self.gshift
                 | (b * self.bmax // 255) << self.bshift) if self.true else 0
        size = max(1, self.bpp // 8)
        return (value & ((1 << (8 * size)) - 1)).to_bytes(size, "big" if self.big else
                                                          "little")


def _rfb(sock: socket.socket, name: str) -> None:
    sock.sendall(b"RFB 003.008\n")
    version = _recv_exact(sock, 12)
    if version.startswith(b"RFB 003.003"):
        sock.sendall(struct.pack(">I", 1))  # 3.3: the server picks "None"
    else:
        sock.sendall(bytes((1, 1)))  # one security type: None
        if _recv_exact(sock, 1) != b"\x01":
            reason = b"only security type None is offered"
            sock.sendall(struct.pack(">II", 1, len(reason)) + reason)
            return
        sock.sendall(struct.pack(">I", 0))  # SecurityResult: OK
    _recv_exact(sock, 1)  # ClientInit (shared flag)
    fmt = _PixelFormat()
    title = name.encode()
    sock.sendall(struct.pack(">HH", WIDTH, HEIGHT) + fmt.raw + struct.pack(">I", len(title))
                 + title)
    sent = False
    while True:
        kind = _recv_exact(sock, 1)[0]
        if kind == 0:  # SetPixelFormat
            fmt = _PixelFormat(_recv_exact(sock, 19)[3:])
        elif kind == 2:  # SetEncodings
            count = struct.unpack(">xH", _recv_exact(sock, 3))[0]
            _recv_exact(sock, 4 * count)
        elif kind == 3:  # FramebufferUpdateRequest
            incremental, x, y, w, h = struct.unpack(">BHHHH", _recv_exact(sock, 9))
            if incremental and sent:
                continue  # nothing changes on this screen: hold the request
            x, y = min(x, WIDTH), min(y, HEIGHT)
            w, h = min(w, WIDTH - x), min(h, HEIGHT - y)
            bg, bar = fmt.pixel(_BG), fmt.pixel(_BAR)
            rows = b"".join((bar if row < 16 else bg) * w for row in range(y, y + h))
            sock.sendall(struct.pack(">BxH", 0, 1) + struct.pack(">HHHHi", x, y, w, h, 0)
                         + rows)
            sent = True
        elif kind == 4:  # KeyEvent
            _recv_exact(sock, 7)
        elif kind == 5:  # PointerEvent
            _recv_exact(sock, 5)
        elif kind == 6:  # ClientCutText
            length = struct.unpack(">3xI", _recv_exact(sock, 7))[0]
            _recv_exact(sock, length)
        else:
            return  # unknown message: an RFB server can only drop the client


def opener(driver: "FakeDriver") -> Callable[[str, str], Any]:
    """The fake hypervisors' consoles for :class:`~.consoleserver.ConsoleServer`."""
    def open_console(kind: str, uuid: str) -> Callable[[socket.socket], None] | None:
        if not driver.console_running(uuid):
            return None
        name = driver.console_names.get(uuid) or uuid
        if kind == "serial":
            return lambda sock: _Serial(driver, uuid, sock).run()
        if kind == "vnc":
            return lambda sock: _rfb(sock, name)
        return None
    return open_console
