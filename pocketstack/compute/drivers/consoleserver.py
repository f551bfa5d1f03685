"""A hypervisor's console endpoint, as the console proxies reach it.

One TCP server on the cloud's address when it is a loopback one, else on 127.0.0.1 (the
consoles need no token here: only the proxies, in this process, may reach them), port
``[DEFAULT] hypervisor_console_port`` (5900 as a hypervisor's first VNC display; any
free port when that one is taken), stands for the console ports of the driver's
instances. The proxy names the console with Nova's
``internal_access_path`` handshake: ``CONNECT /<kind>/<uuid> HTTP/1.1`` and a blank line;
the answer is ``200`` and the console's bytes when the driver opens it, ``404`` when not.
Listening from start-up on a fixed port keeps console tokens good across a restart.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import socketserver
import struct
import threading
from typing import Callable

from pocketstack.config import Opt, register

LOG = logging.getLogger(__name__)
register(Opt("DEFAULT", "hypervisor_console_port", int, 5900,
             "Port on the cloud's address where the fake and container drivers serve the "
             "instances' consoles to the console proxies (0: any free port)."))

# (kind, uuid) -> the session to run on the connected socket, or None: no such console
Opener = Callable[[str, str], "Callable[[socket.socket], None] | None"]


def local_address(bind: str) -> str:
    """``bind`` when it is a loopback address, else 127.0.0.1."""
    try:
        return bind if ipaddress.ip_address(bind).is_loopback else "127.0.0.1"
    except ValueError:  # a host name
        return "127.0.0.1"


class _TCPServer(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


def read_connect(sock: socket.socket) -> tuple[str, str] | None:
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(1024)
        if not chunk or len(head) > 8192:
            return None
        head += chunk
    parts = head.split(b"\r\n", 1)[0].decode("latin-1").split()
    if len(parts) != 3 or parts[0] != "CONNECT":
        return None
    kind, _, uuid = parts[1].strip("/").partition("/")
    return kind, uuid


class ConsoleServer:
    def __init__(self, opener: Opener, port: int = 0, name: str = "consoles") -> None:
        self.opener, self.name = opener, name
        self.bind, self.port = "127.0.0.1", port
        self._server: _TCPServer | None = None
        self._lock = threading.Lock()

    def address(self) -> tuple[str, int]:
        """Where the consoles are served (listening from the first call on)."""
        with self._lock:
            if self._server is None:
                handler = self._handler()
                try:
                    server = _TCPServer((self.bind, self.port), handler)
                except OSError as exc:
                    LOG.warning("%s: %s:%s: %s; using any free port", self.name, self.bind,
                                self.port, exc)
                    server = _TCPServer((self.bind, 0), handler)
                threading.Thread(target=server.serve_forever, name=self.name,
                                 daemon=True).start()
                self._server = server
            host, port = self._server.server_address[:2]
            return str(host), int(port)

    def close(self) -> None:
        with self._lock:
            if self._server is not None:
                self._server.shutdown()
                self._server.server_close()
                self._server = None

    def _handler(self) -> type[socketserver.BaseRequestHandler]:
        opener = self.opener

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                sock: socket.socket = self.request
                try:
                    asked = read_connect(sock)
                    session = opener(*asked) if asked else None
                    if session is None:
                        sock.sendall(b"HTTP/1.1 404 Not Found\r\n\r\n")
                        return
                    sock.sendall(b"HTTP/1.1 200 OK\r\n\r\n")
                    session(sock)
                except (OSError, ConnectionError, ValueError, struct.error):
                    pass

        return Handler
