"""The vm_state/task_state checks shared by the server actions (Nova's
check_instance_state) and the asynchronous step that calls the driver after them."""

from __future__ import annotations

import logging
import traceback
from typing import TYPE_CHECKING, Any, Callable, Iterable

from sqlalchemy import select

from pocketstack.api import errors
from pocketstack.api.context import RequestContext
from pocketstack.compute.models import Instance, InstanceAction
from pocketstack.db import utcnow

if TYPE_CHECKING:
    from pocketstack.compute.service import ComputeService

LOG = logging.getLogger(__name__)


def precheck(svc: "ComputeService", ctx: RequestContext, inst: Instance, action: str,
             allowed: Iterable[str]) -> None:
    """The lock and state checks alone (409), before work that must precede ``begin``."""
    svc.servers.check_lock(ctx, inst)
    if inst.vm_state not in allowed:
        raise svc.servers.invalid_state(inst, action, "vm_state")
    if inst.task_state is not None:
        raise svc.servers.invalid_state(inst, action, "task_state")


def begin(svc: "ComputeService", ctx: RequestContext, inst: Instance, action: str,
          allowed: Iterable[str] | None, task: str | None,
          tasks_ok: Iterable[str | None] = (None,), check_lock: bool = True,
          changes: dict[str, Any] | None = None, record: bool = True) -> Instance:
    """Check the lock and the state (409 as Nova), set ``task`` and record the instance
    action, in one write; returns the updated row. ``allowed`` None = any vm_state."""
    if check_lock:
        svc.servers.check_lock(ctx, inst)
    with svc.cloud.db.write() as s:
        row = s.scalar(select(Instance).where(Instance.uuid == inst.uuid))
        if row is None or row.deleted:
            raise errors.NotFound(f"Instance {inst.uuid} could not be found.")
        if allowed is not None and row.vm_state not in allowed:
            raise svc.servers.invalid_state(row, action, "vm_state")
        if row.task_state not in tuple(tasks_ok):
            raise svc.servers.invalid_state(row, action, "task_state")
        if task is not None:
            row.task_state = task
        for k, v in (changes or {}).items():
            setattr(row, k, v)
        row.updated_at = utcnow()
        if record:
            s.add(InstanceAction(instance_uuid=row.uuid, action=action,
                                 request_id=ctx.request_id, user_id=ctx.user_id,
                                 project_id=ctx.project_id, start_time=utcnow(), events=[]))
        return row


def load(svc: "ComputeService", uuid: str) -> Instance | None:
    with svc.cloud.db.read() as s:
        inst = s.scalar(select(Instance).where(Instance.uuid == uuid))
    return None if inst is None or inst.deleted else inst


def run(svc: "ComputeService", uuid: str, request_id: str, event: str,
        work: Callable[[Instance], dict[str, Any] | None],
        on_error: Callable[[Instance, Exception], dict[str, Any]] | None = None) -> bool:
    """Run ``work(instance)`` (driver calls) as a compute task; its result is the fields
    to set (task_state is cleared). On failure ``on_error`` gives the fields to set
    (default: task_state None, a fault) and the action's event is an Error."""
    started = utcnow()
    inst = load(svc, uuid)
    if inst is None:
        return False
    try:
        fields = work(inst) or {}
    except Exception as exc:  # a driver failure: recorded, never a stuck task
        LOG.warning("%s of %s failed: %s", event, uuid, exc)
        fields = on_error(inst, exc) if on_error else {}
        fields.setdefault("task_state", None)
        fields.setdefault("fault", {"code": 500, "message": f"{type(exc).__name__}: {exc}",
                                    "created": utcnow().isoformat(), "details": ""})
        svc.tasks._update(uuid, **fields)
        svc.tasks._event(uuid, request_id, event, inst.host, "Error", started,
                         tb=traceback.format_exc())
        return False
    fields.setdefault("task_state", None)
    svc.tasks._update(uuid, **fields)
    svc.tasks._event(uuid, request_id, event, fields.get("host", inst.host), "Success",
                     started)
    return True


def sysmeta(inst: Instance, **changes: Any) -> dict[str, Any]:
    """The instance's system_metadata with ``changes`` (None values removed)."""
    out = dict(inst.system_metadata or {})
    for k, v in changes.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = v
    return out
