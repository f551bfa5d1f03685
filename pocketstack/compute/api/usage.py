"""/os-simple-tenant-usage: server hours per project over a period."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from pocketstack.api import errors
from pocketstack.api.request import Request
from pocketstack.api.routing import route
from pocketstack.compute import states
from pocketstack.compute.api.common import bool_param, int_param
from pocketstack.compute.models import Instance
from pocketstack.db import utcnow

if TYPE_CHECKING:
    from pocketstack.compute.service import ComputeService

P = "os_compute_api:os-simple-tenant-usage:"


def _when(text: str | None, default: dt.datetime, name: str) -> dt.datetime:
    if not text:
        return default
    try:
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise errors.BadRequest(f"Invalid {name} time {text}. The format should be "
                                "%Y-%m-%dT%H:%M:%S.%f") from None
    return value.astimezone(dt.timezone.utc).replace(tzinfo=None) if value.tzinfo else value


class Usage:
    def __init__(self, svc: "ComputeService") -> None:
        self.db = svc.cloud.db

    def _period(self, req: Request) -> tuple[dt.datetime, dt.datetime]:
        now = utcnow()
        end = _when(req.query.get("end"), now, "end")
        start = _when(req.query.get("start"), end - dt.timedelta(days=1), "start")
        if start > end:
            raise errors.BadRequest("Invalid start time. The start time cannot occur after "
                                    "the end time.")
        return start, end

    def _usages(self, project_id: str | None, start: dt.datetime, end: dt.datetime,
                detailed: bool) -> list[dict[str, Any]]:
        with self.db.read() as s:
            q = select(Instance).order_by(Instance.project_id, Instance.id)
            if project_id is not None:
                q = q.where(Instance.project_id == project_id)
            rows = list(s.scalars(q))
        now = utcnow()
        out: dict[str, dict[str, Any]] = {}
        for inst in rows:
            began = inst.launched_at or inst.created_at
            ended = inst.terminated_at
            if began > end or (ended is not None and ended < start):
                continue
            lo, hi = max(began, start), min(ended or now, end)
            hours = max(0.0, (hi - lo).total_seconds() / 3600)
            fl = inst.flavor or {}
            local_gb = inst.root_gb + inst.ephemeral_gb
            u = out.setdefault(inst.project_id, {
                "tenant_id": inst.project_id, "total_hours": 0.0, "total_local_gb_usage": 0.0,
                "total_memory_mb_usage": 0.0, "total_vcpus_usage": 0.0,
                "start": start.isoformat(), "stop": end.isoformat(), "server_usages": []})
            u["total_hours"] += hours
            u["total_local_gb_usage"] += local_gb * hours
            u["total_memory_mb_usage"] += inst.memory_mb * hours
            u["total_vcpus_usage"] += inst.vcpus * hours
            if detailed:
                state = states.DELETED if inst.deleted else inst.vm_state
                u["server_usages"].append({
                    "instance_id": inst.uuid, "name": inst.display_name,
                    "tenant_id": inst.project_id, "flavor": fl.get("name", ""),
                    "hours": hours, "local_gb": local_gb, "memory_mb": inst.memory_mb,
                    "vcpus": inst.vcpus, "state": state,
                    "started_at": began.isoformat(),
                    "ended_at": ended.isoformat() if ended else None,
                    "uptime": int(((ended or now) - began).total_seconds())})
        result = list(out.values())
        if not detailed:
            for u in result:
                u.pop("server_usages")
        return result

    @route("GET", "/v2.1/os-simple-tenant-usage", policy=f"{P}list")
    def index(self, req: Request) -> dict[str, Any]:
        if req.raw.url.path.endswith("/"):  # Nova: an empty tenant id is no tenant
            raise errors.NotFound("The resource could not be found.")
        start, end = self._period(req)
        usages = self._usages(None, start, end, bool(bool_param(req.query.get("detailed"))))
        if req.at_least("2.40"):
            limit = int_param(req, "limit")
            marker = req.query.get("marker")
            if marker is not None:
                idx = next((i for i, u in enumerate(usages) if u["tenant_id"] == marker),
                           None)
                if idx is None:
                    raise errors.BadRequest(f"Marker {marker} could not be found.")
                usages = usages[idx + 1:]
            if limit is not None:
                usages = usages[:limit]
        return {"tenant_usages": usages}

    @route("GET", "/v2.1/os-simple-tenant-usage/{project_id}")
    def show(self, req: Request, project_id: str) -> dict[str, Any]:
        req.enforce(f"{P}show", {"project_id": project_id})
        start, end = self._period(req)
        usages = self._usages(project_id, start, end, True)
        return {"tenant_usage": usages[0] if usages else {}}
