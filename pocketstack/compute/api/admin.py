"""/os-services, /os-hypervisors and /os-availability-zone."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pocketstack.api import errors
from pocketstack.api.request import Request
from pocketstack.api.routing import route
from pocketstack.api.validation import validate
from pocketstack.compute.api import schemas, views
from pocketstack.compute.api.common import bool_param, int_param, next_link

if TYPE_CHECKING:
    from pocketstack.compute.service import ComputeService

P = "os_compute_api:"
_UPTIME = " 00:00:00 up 1 day,  1 user,  load average: 0.00, 0.00, 0.00"


class Services:
    def __init__(self, svc: "ComputeService") -> None:
        self.hosts = svc.hosts

    def view(self, req: Request, row: Any) -> dict[str, Any]:
        out = {"id": row.uuid if req.at_least("2.53") else row.id, "binary": row.binary,
               "host": row.host, "zone": row.zone,
               "status": "disabled" if row.disabled else "enabled",
               "state": "up" if self.hosts.is_up(row) else "down",
               "updated_at": views.iso_us(row.last_seen_up or row.updated_at),
               "disabled_reason": row.disabled_reason}
        if req.at_least("2.11"):
            out["forced_down"] = bool(row.forced_down)
        return out

    @route("GET", "/v2.1/os-services", policy=f"{P}os-services:list")
    def index(self, req: Request) -> dict[str, Any]:
        rows = self.hosts.services(req.query.get("binary"), req.query.get("host"))
        return {"services": [self.view(req, r) for r in rows]}

    @route("PUT", "/v2.1/os-services/{service_id}", min_version="2.53",
           policy=f"{P}os-services:update")
    def update(self, req: Request, service_id: str) -> dict[str, Any]:
        body = validate(schemas.service_update, req.json())
        if not body:
            raise errors.BadRequest("No updates were requested. Fields 'status' or "
                                    "'forced_down' should be specified.")
        row = self.hosts.get_service(service_id, use_uuid=True)
        if row.binary != "nova-compute":
            raise errors.BadRequest(f"Updating a {row.binary} service is not supported. Only "
                                    "nova-compute services can be updated.")
        changes: dict[str, Any] = {}
        if "status" in body:
            changes["disabled"] = body["status"] == "disabled"
            changes["disabled_reason"] = body.get("disabled_reason") if changes["disabled"] \
                else None
        elif "disabled_reason" in body:
            raise errors.BadRequest("Specifying 'disabled_reason' with status 'enabled' or "
                                    "without status is invalid.")
        if "forced_down" in body:
            changes["forced_down"] = body["forced_down"]
        return {"service": self.view(req, self.hosts.update_service(row.uuid, changes))}

    def _legacy(self, req: Request, action: str) -> dict[str, Any]:
        body = req.json()
        if not isinstance(body, dict):
            raise errors.BadRequest("Invalid input for field 'body': must be an object")
        host, binary = body.get("host"), body.get("binary")
        rows = [r for r in self.hosts.services(binary, host)] if host and binary else []
        if not rows:
            raise errors.NotFound(f"Service {binary} on host {host} could not be found.")
        changes: dict[str, Any] = {}
        if action == "enable":
            changes = {"disabled": False, "disabled_reason": None}
        elif action in ("disable", "disable-log-reason"):
            changes = {"disabled": True, "disabled_reason": body.get("disabled_reason")}
        elif action == "force-down":
            changes = {"forced_down": bool(body.get("forced_down"))}
        row = self.hosts.update_service(rows[0].uuid, changes)
        out = {"host": row.host, "binary": row.binary}
        if action == "force-down":
            out["forced_down"] = row.forced_down
        else:
            out["status"] = "disabled" if row.disabled else "enabled"
            if action == "disable-log-reason":
                out["disabled_reason"] = row.disabled_reason
        return {"service": out}

    @route("PUT", "/v2.1/os-services/{action}", max_version="2.52",
           policy=f"{P}os-services:update")
    def legacy_update(self, req: Request, action: str) -> dict[str, Any]:
        if action not in ("enable", "disable", "disable-log-reason", "force-down") or (
                action == "force-down" and not req.at_least("2.11")):
            raise errors.NotFound("Unknown action")
        return self._legacy(req, action)

    @route("DELETE", "/v2.1/os-services/{service_id}", status=204,
           policy=f"{P}os-services:delete")
    def delete(self, req: Request, service_id: str) -> None:
        row = self.hosts.get_service(service_id, use_uuid=req.at_least("2.53"))
        self.hosts.delete_service(row)


class Hypervisors:
    def __init__(self, svc: "ComputeService") -> None:
        self.svc = svc
        self.hosts = svc.hosts

    def view(self, req: Request, node: Any, detail: bool, usage: dict[str, Any],
             services: dict[str, Any]) -> dict[str, Any]:
        svc = services.get(node.host)
        up = svc is not None and self.hosts.is_up(svc)
        out: dict[str, Any] = {"id": node.uuid if req.at_least("2.53") else node.id,
                               "hypervisor_hostname": node.hypervisor_hostname,
                               "state": "up" if up else "down",
                               "status": "disabled" if svc is None or svc.disabled
                               else "enabled"}
        if not detail:
            return out
        u = usage.get(node.host, {"vcpus": 0, "memory_mb": 0, "local_gb": 0,
                                  "running_vms": 0})
        out.update({"hypervisor_type": node.hypervisor_type,
                    "hypervisor_version": node.hypervisor_version, "host_ip": node.host_ip,
                    "service": {"host": node.host,
                                "id": (svc.uuid if req.at_least("2.53") else svc.id)
                                if svc else None,
                                "disabled_reason": svc.disabled_reason if svc else None}})
        if req.at_least("2.88"):  # no resource figures (Placement has them); uptime here
            out["uptime"] = _UPTIME
        elif req.at_least("2.28"):
            out["cpu_info"] = dict(node.cpu_info or {})
        else:
            import json

            out["cpu_info"] = json.dumps(node.cpu_info or {})
        if not req.at_least("2.88"):
            out.update({"vcpus": node.vcpus, "memory_mb": node.memory_mb,
                        "local_gb": node.local_gb, "vcpus_used": u["vcpus"],
                        "memory_mb_used": u["memory_mb"], "local_gb_used": u["local_gb"],
                        "free_ram_mb": node.memory_mb - u["memory_mb"],
                        "free_disk_gb": node.local_gb - u["local_gb"],
                        "current_workload": 0, "running_vms": u["running_vms"],
                        "disk_available_least": node.local_gb - u["local_gb"]})
        return out

    def _list(self, req: Request, detail: bool) -> dict[str, Any]:
        nodes = self.hosts.nodes()
        pattern = req.query.get("hypervisor_hostname_pattern") if req.at_least("2.53") else None
        if pattern:
            nodes = [n for n in nodes if pattern in n.hypervisor_hostname]
            if not nodes:
                raise errors.NotFound(f"No hypervisor matching '{pattern}' could be found.")
        limit = None
        if req.at_least("2.33"):
            marker, limit = req.query.get("marker"), int_param(req, "limit")
            if marker is not None:
                key = (lambda n: n.uuid) if req.at_least("2.53") else (lambda n: str(n.id))
                idx = next((i for i, n in enumerate(nodes) if key(n) == marker), None)
                if idx is None:
                    raise errors.BadRequest(f"marker [{marker}] not found")
                nodes = nodes[idx + 1:]
            if limit is not None:
                nodes = nodes[:limit]
        usage = self.hosts.usage()
        services = self.hosts.compute_services()
        with_servers = req.at_least("2.53") and bool_param(req.query.get("with_servers"))
        items = []
        for n in nodes:
            item = self.view(req, n, detail, usage, services)
            if with_servers:
                item["servers"] = self._servers(n.host)
            items.append(item)
        out: dict[str, Any] = {"hypervisors": items}
        if nodes and limit is not None:
            last = nodes[-1].uuid if req.at_least("2.53") else str(nodes[-1].id)
            nxt = next_link(req, "os-hypervisors/detail" if detail else "os-hypervisors",
                            nodes, limit, last)
            if nxt:
                out["hypervisors_links"] = nxt
        return out

    def _servers(self, host: str) -> list[dict[str, str]]:
        rows = self.svc.servers.list(None, {"host": host}, None, None)
        return [{"uuid": r.uuid, "name": f"instance-{r.id:08x}"} for r in rows]

    @route("GET", "/v2.1/os-hypervisors", policy=f"{P}os-hypervisors:list")
    def index(self, req: Request) -> dict[str, Any]:
        return self._list(req, False)

    @route("GET", "/v2.1/os-hypervisors/detail", policy=f"{P}os-hypervisors:list-detail")
    def detail(self, req: Request) -> dict[str, Any]:
        return self._list(req, True)

    @route("GET", "/v2.1/os-hypervisors/statistics", max_version="2.87",
           policy=f"{P}os-hypervisors:statistics")
    def statistics(self, req: Request) -> dict[str, Any]:
        usage = self.hosts.usage()
        services = self.hosts.compute_services()
        nodes = [self.view(req, n, True, usage, services) for n in self.hosts.nodes()]
        keys = ("vcpus", "memory_mb", "local_gb", "vcpus_used", "memory_mb_used",
                "local_gb_used", "free_ram_mb", "free_disk_gb", "current_workload",
                "running_vms", "disk_available_least")
        stats = {k: sum(n[k] for n in nodes) for k in keys}
        stats["count"] = len(nodes)
        return {"hypervisor_statistics": stats}

    @route("GET", "/v2.1/os-hypervisors/statistics", min_version="2.88")
    def statistics_gone(self, req: Request) -> None:
        raise errors.NotFound("The statistics of hypervisors are gone from microversion "
                              "2.88 on (Placement has the resource figures).")

    def _node(self, req: Request, hypervisor_id: str) -> Any:
        for n in self.hosts.nodes():
            if (req.at_least("2.53") and n.uuid == hypervisor_id) or (
                    not req.at_least("2.53") and str(n.id) == hypervisor_id):
                return n
        if req.at_least("2.53"):
            import uuid as uuidlib

            try:
                uuidlib.UUID(hypervisor_id)
            except ValueError:
                raise errors.BadRequest(f"Invalid uuid {hypervisor_id}") from None
        raise errors.NotFound(f"Hypervisor with ID {hypervisor_id} could not be found.")

    @route("GET", "/v2.1/os-hypervisors/{hypervisor_id}", policy=f"{P}os-hypervisors:show")
    def show(self, req: Request, hypervisor_id: str) -> dict[str, Any]:
        node = self._node(req, hypervisor_id)
        out = self.view(req, node, True, self.hosts.usage(), self.hosts.compute_services())
        if req.at_least("2.53") and bool_param(req.query.get("with_servers")):
            out["servers"] = self._servers(node.host)
        return {"hypervisor": out}

    @route("GET", "/v2.1/os-hypervisors/{hypervisor_id}/uptime", max_version="2.87",
           policy=f"{P}os-hypervisors:uptime")
    def uptime(self, req: Request, hypervisor_id: str) -> dict[str, Any]:
        node = self._node(req, hypervisor_id)
        out = self.view(req, node, False, {}, self.hosts.compute_services())
        out["uptime"] = _UPTIME
        return {"hypervisor": out}


class AvailabilityZones:
    def __init__(self, svc: "ComputeService") -> None:
        self.hosts = svc.hosts
        self.internal = svc.cloud.conf.get("DEFAULT", "internal_service_availability_zone")

    @route("GET", "/v2.1/os-availability-zone", policy=f"{P}os-availability-zone:list")
    def index(self, req: Request) -> dict[str, Any]:
        zones: dict[str, bool] = {}
        for row in self.hosts.services("nova-compute"):
            if row.zone == self.internal:
                continue
            ok = not row.disabled and self.hosts.is_up(row)
            zones[row.zone] = zones.get(row.zone, False) or ok
        return {"availabilityZoneInfo": [{"zoneName": z, "zoneState": {"available": ok},
                                          "hosts": None} for z, ok in sorted(zones.items())]}

    @route("GET", "/v2.1/os-availability-zone/detail",
           policy=f"{P}os-availability-zone:detail")
    def detail(self, req: Request) -> dict[str, Any]:
        zones: dict[str, dict[str, Any]] = {}
        for row in self.hosts.services():
            up = self.hosts.is_up(row)
            zone = zones.setdefault(row.zone, {"available": False, "hosts": {}})
            zone["available"] = zone["available"] or (up and not row.disabled)
            zone["hosts"].setdefault(row.host, {})[row.binary] = {
                "available": up, "active": not row.disabled,
                "updated_at": views.iso_us(row.last_seen_up)}
        return {"availabilityZoneInfo": [{"zoneName": z, "zoneState": {
            "available": info["available"]}, "hosts": info["hosts"]}
            for z, info in sorted(zones.items())]}
