"""``pocketstack up``: serve every service on its port, in one process and one event loop."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import os
import signal
import socket
import sys
import time
import urllib.error
import urllib.request
from typing import Any, Iterator

import uvicorn
import yaml

from pocketstack.cloud import Cloud

LOG = logging.getLogger(__name__)
STATE_FILE = "state.json"


class PortMux:
    """One ASGI app that hands each request to the service owning the port it came in on."""

    def __init__(self, apps: dict[int, Any]) -> None:
        self.apps = apps

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        server = scope.get("server") or ("", 0)
        app = self.apps.get(server[1])
        if app is None:  # e.g. behind a port-forward: fall back on the Host header
            host = dict(scope.get("headers") or {}).get(b"host", b"").decode()
            port = int(host.rsplit(":", 1)[1]) if ":" in host else 80
            app = self.apps.get(port)
        if app is None:
            return
        await app(scope, receive, send)


class _Server(uvicorn.Server):
    """uvicorn's server without its own signal handling (``run`` handles signals)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _bind(address: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in address else socket.AF_INET,
                         socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((address, port))
    except OSError as exc:
        sock.close()
        raise SystemExit(f"pocketstack: cannot listen on {address}:{port}: {exc.strerror}. "
                         "Is another cloud running there? Use --bind 127.0.0.N to run "
                         "several side by side.") from None
    sock.listen(4096)
    sock.setblocking(False)
    return sock


def probe(url: str, timeout: float = 2.0) -> tuple[bool, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status == 200, f"{resp.status}"
    except urllib.error.HTTPError as exc:
        return False, f"{exc.code}"
    except (OSError, urllib.error.URLError) as exc:
        return False, str(getattr(exc, "reason", exc))


def status_rows(host: str, services: list[dict[str, Any]]) -> list[tuple[str, str, str, bool]]:
    rows = []
    for svc in services:
        ok, detail = probe(f"http://{host}:{svc['port']}/healthcheck")
        rows.append((svc["name"], f"http://{host}:{svc['port']}", "up" if ok else
                     f"down ({detail})", ok))
    return rows


def format_table(rows: list[tuple[str, str, str, bool]]) -> str:
    header = ("service", "endpoint", "status")
    widths = [max(len(header[i]), *(len(r[i]) for r in rows)) for i in range(3)]
    line = "+" + "+".join("-" * (w + 2) for w in widths) + "+"
    out = [line, "| " + " | ".join(h.ljust(w) for h, w in zip(header, widths)) + " |", line]
    for r in rows:
        out.append("| " + " | ".join(str(r[i]).ljust(widths[i]) for i in range(3)) + " |")
    out.append(line)
    return "\n".join(out)


def _write_private(path: str, text: str) -> None:
    tmp = path + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def write_client_files(cloud: Cloud) -> None:
    clouds = cloud.clouds()
    _write_private(os.path.join(cloud.data_dir, "clouds.yaml"),
                   yaml.safe_dump(clouds, default_flow_style=False, sort_keys=False))
    for filename, name in (("openrc", "pocketstack"), ("openrc-admin", "pocketstack-admin")):
        auth = clouds["clouds"][name]["auth"]
        lines = [f"# pocketstack: source this file to use the {name} cloud",
                 f"export OS_AUTH_URL={auth['auth_url']}",
                 f"export OS_USERNAME={auth['username']}",
                 f"export OS_PASSWORD='{auth['password']}'",
                 f"export OS_PROJECT_NAME={auth['project_name']}",
                 "export OS_USER_DOMAIN_ID=default",
                 "export OS_PROJECT_DOMAIN_ID=default",
                 f"export OS_REGION_NAME={cloud.region}",
                 "export OS_IDENTITY_API_VERSION=3",
                 "export OS_INTERFACE=public"]
        _write_private(os.path.join(cloud.data_dir, filename), "\n".join(lines) + "\n")


def _status_dump(cloud: Cloud) -> None:
    from pocketstack.ops import status

    try:
        status.dump(cloud)
    except Exception:  # a failed report must not take the cloud down
        LOG.exception("status report failed")


def run(cloud: Cloud, started_at: float) -> int:
    from pocketstack import ops

    cloud.prepare()
    ops.install(cloud)  # notification log, gauges
    # Hand the interpreter lock over after 1 ms instead of 5: SQLite gives it up at every
    # statement, and a thread in the middle of a write transaction (holding the database's
    # lock) then waits up to one interval per runnable thread to get it back. At 1 ms the
    # boot-and-delete benchmark ran 17/s instead of 10/s (8 threads), 23 vs ~20/s (4).
    sys.setswitchinterval(0.001)
    sockets, apps, described = [], {}, []
    own = []  # services with their own HTTP server on their socket (metadata)
    for svc in cloud.services:
        (own if hasattr(svc, "serve_socket") else sockets).append(_bind(cloud.bind, svc.port))
        apps[svc.port] = svc
        described.append({"name": svc.name, "port": svc.port, "type": svc.catalog_type})
    config = uvicorn.Config(PortMux(apps), lifespan="off", access_log=False, log_config=None,
                            loop="uvloop" if sys.platform != "win32" else "asyncio",
                            http="httptools", backlog=4096, timeout_keep_alive=75,
                            limit_concurrency=None, server_header=False, date_header=True)
    server = _Server(config)

    async def main() -> None:
        loop = asyncio.get_running_loop()

        def stop(signum: int) -> None:
            LOG.info("signal %s received: stopping", signum)
            server.should_exit = True

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop, sig)
        # the Guru Meditation-style report, written off the event loop
        loop.add_signal_handler(signal.SIGUSR2, loop.run_in_executor, None, _status_dump, cloud)
        for svc in cloud.services:
            if hasattr(svc, "serve_socket"):
                await svc.serve_socket(own.pop(0))
        serving = asyncio.create_task(server.serve(sockets=sockets))
        while not server.started and not serving.done():
            await asyncio.sleep(0.005)
        if serving.done():
            await serving
            return
        rows = await asyncio.to_thread(status_rows, cloud.bind, described)
        write_client_files(cloud)
        state = {"pid": os.getpid(), "bind": cloud.bind, "services": described,
                 "identity_url": cloud.identity_url}
        _write_private(os.path.join(cloud.data_dir, STATE_FILE), json.dumps(state))
        print(format_table(rows), flush=True)
        down = [r[0] for r in rows if not r[3]]
        if down:
            print(f"pocketstack: not ready, down: {', '.join(down)}", flush=True)
        else:
            print(f"pocketstack ready in {time.monotonic() - started_at:.2f}s: "
                  f"export OS_CLIENT_CONFIG_FILE={os.path.join(cloud.data_dir, 'clouds.yaml')}"
                  f" and use --os-cloud pocketstack or pocketstack-admin", flush=True)
        gc.freeze()  # what start-up made (modules, routes, host states) is never walked again
        await serving

    try:
        if sys.platform != "win32":  # the loop the uvicorn config asks for (it is ours here)
            import uvloop

            asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
        asyncio.run(main())
    finally:
        cloud.stop()
        with contextlib.suppress(FileNotFoundError):
            os.remove(os.path.join(cloud.data_dir, STATE_FILE))
    print("pocketstack stopped", flush=True)
    return 0
