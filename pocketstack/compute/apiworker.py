"""A compute API worker process (``osapi_compute_workers``; see :mod:`workers`).

Started by the main process with two inherited descriptors: the compute port's
listening socket and its end of the socket pair. It builds the same services over the
same database and configuration (not started: no heartbeats, periodic tasks or
dataplane here), with the main process's driver, scheduler and task pool reached
through the link, and serves the compute API with uvicorn until it is told to stop
or the main process goes away.

    python -m pocketstack.compute.apiworker LISTEN_FD LINK_FD
"""

from __future__ import annotations

import asyncio
import gc
import os
import socket
import sys

import uvicorn


def main(argv: list[str]) -> int:
    from pocketstack import log
    from pocketstack.cloud import Cloud
    from pocketstack.compute.remote import Channel, ForwardingBus, WorkerLink, registry
    from pocketstack.compute.scheduler.service_watch import watch_service_writes
    from pocketstack.services import service_classes

    listen_fd, link_fd = int(argv[0]), int(argv[1])
    channel = Channel(socket.socket(fileno=link_fd))
    setup = channel.recv()
    if setup is None or setup[0] != "setup":
        return 1
    _, conf, data_dir, bind, index = setup
    log.setup(data_dir, debug=conf.get("DEFAULT", "debug"))
    sys.setswitchinterval(0.001)  # as the main process (pocketstack.server.run)
    cloud = Cloud(conf, data_dir, bind)
    link = WorkerLink(channel, on_invalidate=lambda: cloud.identity.written_elsewhere(),
                      on_gone=lambda: os._exit(0))  # the main process is gone: so are we
    cloud.remote = link  # type: ignore[attr-defined]
    cloud.bus = ForwardingBus(link)  # type: ignore[assignment]
    cloud.services = [cls(cloud) for cls in service_classes()]
    channel.bind(registry(cloud))
    link.start()
    compute = cloud.service("compute")
    # a service disabled or an aggregate changed here: the main process's scheduler
    # reads them again before its next decision (a call: done before the answer)
    watch_service_writes(compute.scheduler.services_changed)
    sock = socket.socket(fileno=listen_fd)
    sock.setblocking(False)
    config = uvicorn.Config(compute, lifespan="off", access_log=False, log_config=None,
                            loop="uvloop", http="httptools", backlog=4096,
                            timeout_keep_alive=75, limit_concurrency=None,
                            server_header=False, date_header=True, proxy_headers=False)
    server = uvicorn.Server(config)

    async def serve() -> None:  # (uvicorn's own signal handling stops it on SIGTERM)
        serving = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started and not serving.done():
            await asyncio.sleep(0.005)
        if not serving.done():
            gc.freeze()  # the imports and the services: never walked again
            channel.send(("ready",))
        await serving

    import uvloop

    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    try:
        asyncio.run(serve())
    finally:
        cloud.db.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
