"""Telling Nova what happened to its ports, as Neutron's Nova notifier does.

When a port bound to a server (``device_owner`` ``compute:*``) becomes ACTIVE Nova
gets ``network-vif-plugged``, when it goes DOWN ``network-vif-unplugged``, when it is
deleted ``network-vif-deleted``, and when its addresses (fixed IPs, floating IPs)
change ``network-changed``; each event is tagged with the port id. Events are
collected in the write transaction and sent only once it commits, in order, from
one sender thread (Neutron batches them the same way), through Compute's
os-server-external-events code (in-process: ``cloud.service("compute")``).
"""

from __future__ import annotations

import logging
import queue
import threading
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from pocketstack.api.context import RequestContext

LOG = logging.getLogger(__name__)


def is_compute(port: dict[str, Any]) -> bool:
    return bool(port.get("device_id")) and str(port.get("device_owner", "")).startswith(
        "compute:")


def port_events(before: dict[str, Any] | None, after: dict[str, Any] | None
                ) -> list[dict[str, str]]:
    """The events a port's change means for Nova (views before/after; None = absent)."""
    out = []

    def ev(name: str, port: dict[str, Any]) -> None:
        out.append({"name": name, "server_uuid": port["device_id"], "tag": port["id"],
                    "status": "completed"})

    if before is not None and is_compute(before) and (
            after is None or after.get("device_id") != before["device_id"]):
        ev("network-vif-deleted", before)
    if after is None or not is_compute(after):
        return out
    moved = before is None or before.get("device_id") != after["device_id"]
    was = "DOWN" if moved or before is None else before.get("status")
    if after.get("status") == "ACTIVE" and was != "ACTIVE":
        ev("network-vif-plugged", after)
    elif after.get("status") != "ACTIVE" and was == "ACTIVE":
        ev("network-vif-unplugged", after)
    elif not moved and before is not None and before.get("fixed_ips") != after.get(
            "fixed_ips"):
        ev("network-changed", after)
    return out


class NovaNotifier:
    def __init__(self, cloud: Any) -> None:
        self.cloud = cloud
        self.queue: "queue.Queue[list[dict[str, str]]]" = queue.Queue()
        self.sent = 0
        threading.Thread(target=self._run, name="nova-notifier", daemon=True).start()

    def add(self, s: Session, events: list[dict[str, str]]) -> None:
        """Send ``events`` once the transaction of ``s`` commits (never if it rolls back)."""
        if not events:
            return
        pending = s.info.get("nova_events")
        if pending is None:
            pending = s.info["nova_events"] = []
            event.listen(s, "after_commit", self._committed)
            event.listen(s, "after_rollback", self._dropped)
        pending.extend(events)

    def _committed(self, s: Session) -> None:
        events = s.info.pop("nova_events", None)
        if events:
            self.queue.put(events)

    @staticmethod
    def _dropped(s: Session) -> None:
        s.info.pop("nova_events", None)

    def _run(self) -> None:
        while True:
            events = self.queue.get()
            while not self.queue.empty():  # one call for what accumulated meanwhile
                events = events + self.queue.get_nowait()
            try:
                self.deliver(events)
            except Exception as exc:  # Nova not there or the servers gone: as Neutron, log
                LOG.info("nova events %s not delivered: %s",
                         [(e["name"], e["tag"]) for e in events], exc)
            finally:
                self.sent += len(events)

    def deliver(self, events: list[dict[str, str]]) -> None:
        compute = self.cloud.service("compute")
        dispatcher = getattr(compute, "external_events", None)
        if dispatcher is None:
            return
        ctx = RequestContext(user_id="neutron", roles=["admin", "member", "reader", "service"],
                             system_scope="all")
        dispatcher.dispatch(ctx, events)
