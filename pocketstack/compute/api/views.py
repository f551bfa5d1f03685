"""How servers and flavors look in responses, per microversion."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from pocketstack.compute import disk_config, states
from pocketstack.compute.models import Flavor, Instance
from pocketstack.compute.networks import addresses, security_groups

if TYPE_CHECKING:
    from pocketstack.api.request import Request
    from pocketstack.compute.service import ComputeService

P = "os_compute_api:"
_PROGRESS_STATUSES = ("ACTIVE", "BUILD", "REBUILD", "RESIZE", "VERIFY_RESIZE", "MIGRATING")


def iso(value: Any) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None and value.year >= 1000:  # the same text, cheaper
        return value.isoformat(timespec="seconds") + "Z"
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_us(value: Any) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None and value.year >= 1000:
        return value.isoformat(timespec="microseconds")
    return value.strftime("%Y-%m-%dT%H:%M:%S.%f")


def links(req: "Request", kind: str, ident: str) -> list[dict[str, str]]:
    return [{"rel": "self", "href": f"{req.base_url}/v2.1/{kind}/{ident}"},
            {"rel": "bookmark", "href": f"{req.base_url}/{kind}/{ident}"}]


def host_id(project_id: str, host: str | None) -> str:
    if not host:
        return ""
    return hashlib.sha224((project_id + host).encode()).hexdigest()


def flavor(req: "Request", f: Flavor, detail: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {"id": f.flavorid, "name": f.name,
                           "links": links(req, "flavors", f.flavorid)}
    if req.at_least("2.55"):
        out["description"] = f.description
    if not detail:
        return out
    out.update({"ram": f.memory_mb, "disk": f.root_gb, "vcpus": f.vcpus,
                "OS-FLV-EXT-DATA:ephemeral": f.ephemeral_gb,
                "OS-FLV-DISABLED:disabled": f.disabled,
                "swap": f.swap if (f.swap or req.at_least("2.75")) else "",
                "rxtx_factor": f.rxtx_factor, "os-flavor-access:is_public": f.is_public})
    if req.at_least("2.61") and req.authorized(f"{P}os-flavor-extra-specs:index",
                                               {"project_id": req.ctx.project_id}):
        out["extra_specs"] = dict(f.extra_specs or {})
    return out


def _server_flavor(req: "Request", inst: Instance) -> dict[str, Any]:
    fl = inst.flavor or {}
    if not req.at_least("2.47"):
        return {"id": inst.flavorid, "links": [{"rel": "bookmark",
                                                "href": f"{req.base_url}/flavors/"
                                                        f"{inst.flavorid}"}]}
    out = {"vcpus": fl.get("vcpus", inst.vcpus), "ram": fl.get("memory_mb", inst.memory_mb),
           "disk": fl.get("root_gb", inst.root_gb), "ephemeral": fl.get("ephemeral_gb", 0),
           "swap": fl.get("swap", 0), "original_name": fl.get("name", "")}
    if _authorized(req, f"{P}os-flavor-extra-specs:index", {"project_id": inst.project_id}):
        out["extra_specs"] = dict(fl.get("extra_specs") or {})
    return out


def _authorized(req: "Request", action: str, target: dict[str, Any]) -> bool:
    """``req.authorized`` answered once per (rule, owner) in a request: a list of 1,000
    servers of one project asks the policy engine a few times, not thousands."""
    memo = getattr(req, "_policy_memo", None)
    if memo is None:
        memo = req._policy_memo = {}  # type: ignore[attr-defined]
    key = (action, target.get("project_id"), target.get("user_id"))
    if key not in memo:
        memo[key] = req.authorized(action, target)
    return memo[key]


def server_brief(req: "Request", inst: Instance) -> dict[str, Any]:
    return {"id": inst.uuid, "name": inst.display_name, "links": links(req, "servers",
                                                                      inst.uuid)}


def server(svc: "ComputeService", req: "Request", inst: Instance, show: bool = False
           ) -> dict[str, Any]:
    target = {"project_id": inst.project_id, "user_id": inst.user_id}
    ports = getattr(req, "_ports", None)  # prefetched by a list: no query per server
    portless = ports is not None and ports.get(inst.uuid) == []  # nothing to look up
    image: Any = ""
    if inst.image_ref:
        image = {"id": inst.image_ref, "links": [{"rel": "bookmark", "href":
                                                  f"{req.base_url}/images/{inst.image_ref}"}]}
    out: dict[str, Any] = {
        "id": inst.uuid, "name": inst.display_name,
        "status": states.status(inst.vm_state, inst.task_state),
        "tenant_id": inst.project_id, "user_id": inst.user_id,
        "metadata": dict(inst.server_metadata or {}),
        "hostId": host_id(inst.project_id, inst.host), "image": image,
        "flavor": _server_flavor(req, inst),
        "created": iso(inst.created_at), "updated": iso(inst.updated_at or inst.created_at),
        "addresses": {} if portless else addresses(svc.cloud, inst, ports),
        "accessIPv4": inst.access_ip_v4 or "", "accessIPv6": _v6(inst.access_ip_v6),
        "links": links(req, "servers", inst.uuid), "OS-DCF:diskConfig": disk_config.value(inst),
        "OS-EXT-AZ:availability_zone": inst.availability_zone or "",
        "config_drive": inst.config_drive or "", "key_name": inst.key_name,
        "OS-SRV-USG:launched_at": iso_us(inst.launched_at),
        "OS-SRV-USG:terminated_at": iso_us(inst.terminated_at),
        "OS-EXT-STS:task_state": inst.task_state, "OS-EXT-STS:vm_state": inst.vm_state,
        "OS-EXT-STS:power_state": inst.power_state,
        "os-extended-volumes:volumes_attached": svc.volumes.attached(req, inst),
    }
    if _authorized(req, f"{P}os-extended-server-attributes", target):
        out.update({"OS-EXT-SRV-ATTR:host": inst.host,
                    "OS-EXT-SRV-ATTR:hypervisor_hostname": inst.node,
                    "OS-EXT-SRV-ATTR:instance_name": f"instance-{inst.id:08x}"})
        if req.at_least("2.3"):
            out.update({"OS-EXT-SRV-ATTR:reservation_id": inst.reservation_id,
                        "OS-EXT-SRV-ATTR:launch_index": inst.launch_index,
                        "OS-EXT-SRV-ATTR:hostname": inst.hostname,
                        "OS-EXT-SRV-ATTR:kernel_id": "", "OS-EXT-SRV-ATTR:ramdisk_id": "",
                        "OS-EXT-SRV-ATTR:root_device_name": "/dev/vda" if inst.host else None,
                        "OS-EXT-SRV-ATTR:user_data": inst.user_data})
    if req.at_least("2.96"):  # the zone asked for (None: the server may move anywhere)
        out["pinned_availability_zone"] = (inst.system_metadata or {}).get(
            "pinned_availability_zone")
    if req.at_least("2.90"):  # shown to every user from 2.90 on
        out["OS-EXT-SRV-ATTR:hostname"] = inst.hostname
    if out["status"] in _PROGRESS_STATUSES:  # Nova shows progress only in these
        out["progress"] = inst.progress or 0
    if isinstance(inst.networks, dict) and not portless:
        groups = security_groups(svc.cloud, inst, ports)
        if groups:  # Nova leaves the key out when the server has none
            out["security_groups"] = groups
    if req.at_least("2.9"):
        out["locked"] = bool(inst.locked)
    if req.at_least("2.16") and _authorized(req, f"{P}servers:show:host_status", target):
        out["host_status"] = _host_status(svc, req, inst)
    if req.at_least("2.19"):
        out["description"] = inst.description
    if req.at_least("2.26"):
        out["tags"] = list(inst.tags or [])
    if req.at_least("2.63"):
        out["trusted_image_certificates"] = None
    if req.at_least("2.73"):
        out["locked_reason"] = inst.locked_reason
    if show and req.at_least("2.71"):
        groups = getattr(req, "_server_groups", None)  # read with the instance by show
        out["server_groups"] = svc.groups.for_instance(inst.uuid) if groups is None else groups
    if inst.fault and inst.vm_state in (states.ERROR, states.DELETED):
        fault = {"code": inst.fault.get("code", 500), "message": inst.fault.get("message", ""),
                 "created": iso(_parse(inst.fault.get("created")))}
        if req.ctx.is_admin and inst.fault.get("details"):
            fault["details"] = inst.fault["details"]
        out["fault"] = fault
    return out


def _v6(value: str | None) -> str:
    import ipaddress

    try:
        return ipaddress.ip_address(value).compressed if value else ""
    except ValueError:
        return value or ""


def _parse(text: str | None) -> Any:
    import datetime as dt

    return dt.datetime.fromisoformat(text) if text else None


def _host_status(svc: "ComputeService", req: "Request", inst: Instance) -> str:
    if not inst.host:
        return ""
    services = getattr(req, "_compute_services", None)
    if services is None:  # once per request, not once per server of a list
        services = svc.hosts.compute_services()
        req._compute_services = services  # type: ignore[attr-defined]
    row = services.get(inst.host)
    if row is None:
        return "UNKNOWN"
    if row.forced_down:
        return "DOWN"
    if not svc.hosts.is_up(row):
        return "UNKNOWN"
    return "MAINTENANCE" if row.disabled else "UP"
