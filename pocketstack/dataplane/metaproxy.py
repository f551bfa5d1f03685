"""The per-network metadata proxy (Neutron's ns-metadata-proxy), run as its own process.

``python -m pocketstack.dataplane.metaproxy --netns NS --network-id ID --upstream
http://HOST:8775 --pidfile PATH [--listen 169.254.169.254:80]``

The listening socket is created inside the network's namespace; the process then
returns to the host's namespace, so the upstream connection reaches the metadata
service on the host while instances reach the proxy on 169.254.169.254. Each request
gets ``X-Forwarded-For`` (the instance's address as seen on the bridge) and
``X-Neutron-Network-ID``; those headers sent by an instance are dropped first.
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import ctypes.util
import logging
import os
import signal
import socket
import sys
from urllib.parse import urlsplit

LOG = logging.getLogger("pocketstack.metaproxy")
CLONE_NEWNET = 0x40000000
_STRIP = (b"x-forwarded-for", b"x-neutron-network-id", b"x-neutron-router-id",
          b"x-instance-id", b"x-instance-id-signature", b"x-tenant-id", b"connection",
          b"proxy-connection", b"keep-alive")
MAX_HEAD = 64 * 1024


def _setns(path: str) -> None:
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    fd = os.open(path, os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setns {path}: {os.strerror(err)}")
    finally:
        os.close(fd)


def listen_in(netns_path: str, host: str, port: int) -> socket.socket:
    """A listening socket created in another network namespace."""
    home = os.open("/proc/self/ns/net", os.O_RDONLY)
    try:
        _setns(netns_path)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    finally:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.setns(home, CLONE_NEWNET)
        os.close(home)
    sock.setblocking(False)
    return sock


def rewrite_head(head: bytes, client_ip: str, network_id: str, upstream_host: str) -> bytes:
    """The request head with the proxy's headers (and Connection: close)."""
    lines = head.split(b"\r\n")
    out = [lines[0]]
    for line in lines[1:]:
        if not line:
            continue
        name = line.split(b":", 1)[0].strip().lower()
        if name in _STRIP or name == b"host":
            continue
        out.append(line)
    out += [b"Host: " + upstream_host.encode(), b"X-Forwarded-For: " + client_ip.encode(),
            b"X-Neutron-Network-ID: " + network_id.encode(), b"Connection: close"]
    return b"\r\n".join(out) + b"\r\n\r\n"


class Proxy:
    def __init__(self, network_id: str, upstream: str) -> None:
        parts = urlsplit(upstream)
        self.network_id = network_id
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 8775
        self.host_header = f"{self.host}:{self.port}"

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        client_ip = (writer.get_extra_info("peername") or ("?",))[0]
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
            if len(head) > MAX_HEAD:
                raise ValueError("request head too large")
            up_r, up_w = await asyncio.wait_for(
                asyncio.open_connection(self.host, self.port), 10)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, asyncio.TimeoutError,
                ValueError):
            writer.close()
            return
        except OSError as exc:
            LOG.warning("metadata upstream %s:%s unreachable: %s", self.host, self.port, exc)
            writer.write(b"HTTP/1.0 502 Bad Gateway\r\nContent-Type: text/plain\r\n"
                         b"Content-Length: 36\r\nConnection: close\r\n\r\n"
                         b"The metadata service is unreachable.")
            await writer.drain()
            writer.close()
            return
        up_w.write(rewrite_head(head, client_ip, self.network_id, self.host_header))

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, asyncio.CancelledError):
                pass
            finally:
                try:
                    if dst.can_write_eof():
                        dst.write_eof()
                except (OSError, RuntimeError):
                    pass

        await asyncio.gather(pipe(reader, up_w), pipe(up_r, writer), return_exceptions=True)
        for w in (up_w, writer):
            w.close()


async def serve(sock: socket.socket, proxy: Proxy) -> None:
    server = await asyncio.start_server(proxy.handle, sock=sock)
    loop = asyncio.get_running_loop()
    stop = loop.create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, lambda: stop.done() or stop.set_result(None))
    async with server:
        await stop


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="pocketstack-metadata-proxy")
    p.add_argument("--netns", required=True)
    p.add_argument("--network-id", required=True)
    p.add_argument("--upstream", required=True)
    p.add_argument("--listen", default="169.254.169.254:80")
    p.add_argument("--pidfile", required=True)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    host, _, port = args.listen.rpartition(":")
    netns = args.netns if args.netns.startswith("/") else f"/var/run/netns/{args.netns}"
    sock = listen_in(netns, host, int(port))
    # the process itself lives in the host's namespace: the manager knows the proxy serves
    # this namespace (and not an older one of the same name) by the inode recorded here
    with open(args.pidfile + ".netns", "w") as f:
        f.write(str(os.stat(netns).st_ino))
    with open(args.pidfile + ".tmp", "w") as f:
        f.write(str(os.getpid()))
    os.replace(args.pidfile + ".tmp", args.pidfile)
    LOG.info("metadata proxy for network %s on %s (in %s) -> %s", args.network_id,
             args.listen, args.netns, args.upstream)
    asyncio.run(serve(sock, Proxy(args.network_id, args.upstream)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
