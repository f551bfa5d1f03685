"""The container instances' serial consoles, as the serial proxy reaches them.

The shim serves each running instance's console (its init's terminal) on
``INSTANCE_DIR/console.sock``; the driver's
:class:`~pocketstack.compute.drivers.consoleserver.ConsoleServer` answers the proxy's
``CONNECT /serial/<uuid>`` by connecting to that socket and copying bytes both ways.
"""

from __future__ import annotations

import os
import selectors
import socket
from typing import Callable

from pocketstack.compute.drivers.container.shim import unix_path


def splice(a: socket.socket, b: socket.socket) -> None:
    """Copy bytes between two sockets until either side closes."""
    sel = selectors.DefaultSelector()
    sel.register(a, selectors.EVENT_READ, b)
    sel.register(b, selectors.EVENT_READ, a)
    try:
        while True:
            for key, _ in sel.select():
                data = key.fileobj.recv(65536)  # type: ignore[union-attr]
                if not data:
                    return
                key.data.sendall(data)
    except OSError:
        return
    finally:
        sel.close()
        b.close()


def opener(instance_dir: Callable[[str], str]
           ) -> Callable[[str, str], Callable[[socket.socket], None] | None]:
    def open_console(kind: str, uuid: str) -> Callable[[socket.socket], None] | None:
        if kind != "serial":
            return None
        try:
            path = os.path.join(instance_dir(uuid), "console.sock")
        except Exception:  # not an instance uuid
            return None
        guest = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        short, dir_fd = unix_path(path)
        try:
            guest.connect(short)
        except OSError:  # not running
            guest.close()
            return None
        finally:
            if dir_fd is not None:
                os.close(dir_fd)
        return lambda sock: splice(sock, guest)
    return open_console
