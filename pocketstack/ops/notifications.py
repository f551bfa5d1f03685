"""Versioned notifications (Nova/Cinder style) written to ``logs/notifications.log``.

A service emits ``emit(cloud, "instance.create.end", payload)``; the envelope is the
oslo.messaging one (``event_type``, ``payload``, ``publisher_id``, ``timestamp``,
``message_id``, ``priority``) and the payload a versioned object
(``nova_object.name``/``namespace``/``version``/``data``). The bus delivers every
notification to its listeners (:meth:`LocalBus.listen`); :class:`NotificationLog`
is the one that writes the file (a networked bus would also publish them).

Until compute and volume call :func:`emit` themselves, :func:`watch_models` emits
``instance.create.end``/``instance.delete.end`` and ``volume.create.end``/
``volume.delete.end`` from one database hook: the committed state changes of
their rows (nothing in compute's or volume's code is touched). Compute should
later call ``emit(cloud, "instance.create.end", instance_payload(inst))`` where the
build finishes, and then drop the hook.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
import uuid
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

if TYPE_CHECKING:
    from pocketstack.cloud import Cloud

LOG = logging.getLogger(__name__)
FILE = "notifications.log"
#: payload object names and versions by the event type's first word
OBJECTS = {"instance": ("InstanceActionPayload", "nova", "1.8"),
           "volume": ("VolumePayload", "cinder", "1.0")}


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.datetime) else value


def versioned(event_type: str, data: dict[str, Any]) -> dict[str, Any]:
    name, ns, version = OBJECTS.get(event_type.split(".")[0],
                                    ("Payload", "pocketstack", "1.0"))
    return {f"{ns}_object.name": name, f"{ns}_object.namespace": ns,
            f"{ns}_object.version": version,
            f"{ns}_object.data": {k: _iso(v) for k, v in data.items()}}


def envelope(event_type: str, payload: dict[str, Any], publisher_id: str | None = None,
             priority: str = "INFO") -> dict[str, Any]:
    service = {"instance": "nova-compute", "volume": "cinder-volume"}.get(
        event_type.split(".")[0], "pocketstack")
    return {"event_type": event_type, "payload": payload,
            "publisher_id": publisher_id or f"{service}:{socket.gethostname()}",
            "timestamp": dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
            .isoformat(sep=" "),
            "message_id": str(uuid.uuid4()), "priority": priority}


def emit(cloud: "Cloud", event_type: str, payload: dict[str, Any],
         publisher_id: str | None = None, priority: str = "INFO") -> None:
    """Send a notification; ``payload`` is wrapped as a versioned object unless it is one."""
    if not any(k.endswith("_object.data") for k in payload):
        payload = versioned(event_type, payload)
    cloud.bus.notify(event_type, envelope(event_type, payload, publisher_id, priority))


class NotificationLog:
    """Bus listener writing one JSON envelope per line. The file stays open (one write
    per line) and is opened again when it was moved or removed (log rotation), as
    logging's WatchedFileHandler does."""

    def __init__(self, data_dir: str) -> None:
        self.path = os.path.join(data_dir, "logs", FILE)
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        self._lock = threading.Lock()
        self._fd = -1
        self._ino: tuple[int, int] | None = None

    def __call__(self, event_type: str, message: dict[str, Any]) -> None:
        if "event_type" not in message:  # a bare payload from bus.notify
            message = envelope(event_type, versioned(event_type, message))
        line = orjson.dumps(message, default=str, option=orjson.OPT_SORT_KEYS |
                            orjson.OPT_APPEND_NEWLINE | orjson.OPT_NON_STR_KEYS)
        with self._lock:
            try:
                st = os.stat(self.path)
                same = (st.st_dev, st.st_ino) == self._ino
            except FileNotFoundError:
                same = False
            if not same:
                if self._fd >= 0:
                    os.close(self._fd)
                self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
                st = os.fstat(self._fd)
                self._ino = (st.st_dev, st.st_ino)
            os.write(self._fd, line)


# -- the interim hook on compute's and volume's rows ---------------------------------
def instance_payload(inst: Any) -> dict[str, Any]:
    return {"uuid": inst.uuid, "display_name": inst.display_name, "host": inst.host,
            "node": inst.node, "state": inst.vm_state, "task_state": inst.task_state,
            "power_state": inst.power_state, "tenant_id": inst.project_id,
            "user_id": inst.user_id, "flavor": {"flavorid": inst.flavorid,
                                                "vcpus": inst.vcpus,
                                                "memory_mb": inst.memory_mb},
            "image_uuid": inst.image_ref, "availability_zone": inst.availability_zone,
            "created_at": inst.created_at, "launched_at": inst.launched_at,
            "terminated_at": inst.terminated_at}


def volume_payload(v: Any) -> dict[str, Any]:
    return {"volume_id": v.id, "display_name": v.name, "size": v.size, "status": v.status,
            "tenant_id": v.project_id, "user_id": v.user_id, "host": v.host,
            "availability_zone": v.availability_zone, "volume_type": v.volume_type_id,
            "created_at": v.created_at}


def _changed_to(obj: Any, attr: str) -> tuple[bool, Any]:
    hist = inspect(obj).attrs[attr].history
    if not hist.has_changes():
        return False, None
    return True, (hist.deleted[0] if hist.deleted else None)


SESSION_KEY = "pocketstack_notifications"


def queue(session: Session, event_type: str, payload: dict[str, Any]) -> None:
    """Send ``event_type`` once ``session`` commits (nothing on rollback): for writes that
    bypass the ORM's unit of work (a plain UPDATE), which the flush hook below cannot see."""
    session.info.setdefault(SESSION_KEY, []).append((event_type, payload))


def watch_models(cloud: "Cloud") -> None:
    from pocketstack.compute.models import Instance
    from pocketstack.volume.models import Volume

    key = SESSION_KEY

    def after_flush(session: Session, _ctx: Any) -> None:
        out = session.info.setdefault(key, [])
        new = set(session.new)
        for obj in list(session.dirty) + list(new):
            if isinstance(obj, Instance):
                changed, before = _changed_to(obj, "vm_state")
                if changed and obj.vm_state == "active" and (before == "building" or obj in new):
                    out.append(("instance.create.end", instance_payload(obj)))
                changed, before = _changed_to(obj, "deleted")
                if changed and obj.deleted and not before:
                    out.append(("instance.delete.end", instance_payload(obj)))
            elif isinstance(obj, Volume):
                changed, before = _changed_to(obj, "status")
                if changed and obj.status == "available" and (before == "creating" or obj in new):
                    out.append(("volume.create.end", volume_payload(obj)))
        for obj in session.deleted:
            if isinstance(obj, Volume):
                out.append(("volume.delete.end", volume_payload(obj)))

    def after_commit(session: Session) -> None:
        for event_type, payload in session.info.pop(key, []):
            try:
                emit(cloud, event_type, payload)
            except Exception:  # notifications must never break the work that made them
                LOG.exception("could not emit %s", event_type)

    def after_rollback(session: Session) -> None:
        session.info.pop(key, None)

    event.listen(Session, "after_flush", after_flush)
    event.listen(Session, "after_commit", after_commit)
    event.listen(Session, "after_rollback", after_rollback)
