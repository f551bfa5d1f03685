"""Compute periodic tasks (Nova's manager periodic tasks, in one small thread):
reclaiming soft-deleted servers (spacing ``reclaim_instance_interval``), offloading
shelved servers (spacing ``shelved_poll_interval``), the instance usage audit
(``instance_usage_audit``, every 60 s) and the hosts' traits reported again
(``update_resources_interval``, every 60 s by default; negative: never). Nothing else runs
while these features are off (their defaults)."""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from pocketstack.compute.service import ComputeService

LOG = logging.getLogger(__name__)


class Periodic:
    def __init__(self, svc: "ComputeService") -> None:
        conf = svc.cloud.conf
        self.jobs: list[tuple[Callable[[], None], Callable[[], float]]] = [
            (svc.soft_deletes.reclaim,
             lambda: conf.get("DEFAULT", "reclaim_instance_interval")),
            (svc.shelving.offload_due,
             lambda: conf.get("DEFAULT", "shelved_poll_interval")
             if conf.get("DEFAULT", "shelved_offload_time") > 0 else 0),
            (svc.usage_audit.periodic, svc.usage_audit.spacing),
            (svc.scheduler.report_all_traits,  # (0: Nova's default periodic spacing)
             lambda: {0: 60}.get(conf.get("DEFAULT", "update_resources_interval"),
                                 max(0, conf.get("DEFAULT", "update_resources_interval")))),
        ]
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if not any(spacing() > 0 for _, spacing in self.jobs):
            return
        self._thread = threading.Thread(target=self._loop, name="compute-periodic",
                                        daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        last = {i: time.monotonic() for i in range(len(self.jobs))}
        while not self._stop.wait(0.5):
            for i, (job, spacing) in enumerate(self.jobs):
                every = spacing()
                if every > 0 and time.monotonic() - last[i] >= every:
                    last[i] = time.monotonic()
                    try:
                        job()
                    except Exception:
                        LOG.exception("periodic task %s failed", job.__name__)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
