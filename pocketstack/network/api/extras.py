"""Version discovery, extensions, router interfaces, quotas, agents, availability zones,
network IP availability."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from pocketstack.api import errors
from pocketstack.api.request import Request
from pocketstack.api.routing import route
from pocketstack.network import ipam
from pocketstack.network.api.resources import PATHS
from pocketstack.network.common import not_found
from pocketstack.network.manager import Networking
from pocketstack.network.models import IPAllocation, Network, Subnet

_UPDATED = "2013-01-01T00:00:00-00:00"
EXTENSIONS = [
    ("agent", "agent", "The agent management extension."),
    ("allowed-address-pairs", "Allowed Address Pairs", "Provides allowed address pairs"),
    ("auto-allocated-topology", "Auto Allocated Topology Services",
     "Auto Allocated Topology Services."),
    ("availability_zone", "Availability Zone", "The availability zone extension."),
    ("binding", "Port Binding", "Expose port bindings of a virtual port to external "
     "application"),
    ("default-subnetpools", "Default Subnetpools", "Provides ability to mark and use a "
     "subnetpool as the default."),
    ("dhcp_agent_scheduler", "DHCP Agent Scheduler", "Schedule networks among dhcp agents"),
    ("external-net", "Neutron external network", "Adds external network attribute to network "
     "resource."),
    ("ext-gw-mode", "Neutron L3 Configurable external gateway mode", "Extension of the router "
     "abstraction for specifying whether SNAT should occur on the external gateway"),
    ("extra_dhcp_opt", "Neutron Extra DHCP options", "Extra options configuration for DHCP."),
    ("extraroute", "Neutron Extra Route", "Extra routes configuration for L3 router"),
    ("extraroute-atomic", "Atomically add/remove extra routes", "Edit extra routes of a "
     "router on server side by atomically adding/removing extra routes"),
    ("filter-validation", "Filter parameters validation", "Provides validation on filter "
     "parameters."),
    ("fip-port-details", "Floating IP Port Details Extension", "Add port_details attribute to "
     "Floating IP resource"),
    ("l3_agent_scheduler", "L3 Agent Scheduler", "Schedule routers among l3 agents"),
    ("net-mtu", "Network MTU", "Provides MTU attribute for a network resource."),
    ("net-mtu-writable", "Network MTU (writable)", "Provides a writable MTU attribute for a "
     "network resource."),
    ("network-ip-availability", "Network IP Availability", "Provides IP availability data for "
     "each network and subnet."),
    ("pagination", "Pagination support", "Extension that indicates that pagination is "
     "enabled."),
    ("port-security", "Port Security", "Provides port security"),
    ("project-id", "project_id field enabled", "Extension that indicates that project_id field "
     "is enabled."),
    ("provider", "Provider Network", "Expose mapping of virtual networks to physical "
     "networks"),
    ("quotas", "Quota management support", "Expose functions for quotas management per "
     "tenant"),
    ("quota-check-limit", "Quota engine limit check", "Support for checking the resource "
     "usage before applying a new quota limit"),
    ("quota_details", "Quota details management support", "Expose functions for quotas usage "
     "statistics per project"),
    ("rbac-policies", "RBAC Policies", "Allows creation and modification of policies that "
     "control tenant access to resources."),
    ("revision-if-match", "If-Match constraints based on revision_number", "Extension "
     "indicating that If-Match based on revision_number is supported."),
    ("router", "Neutron L3 Router", "Router abstraction for basic L3 forwarding between L2 "
     "Neutron networks and access to external networks via a NAT gateway."),
    ("security-group", "security-group", "The security groups extension."),
    ("sorting", "Sorting support", "Extension that indicates that sorting is enabled."),
    ("standard-attr-description", "standard-attr-description", "Extension to add descriptions "
     "to standard attributes"),
    ("standard-attr-revisions", "Resource revision numbers", "This extension will display the "
     "revision number of neutron resources."),
    ("tag", "Tag support", "Enables to set tag on resources."),
    ("tag-ext", "Tag support for resources: subnet, subnetpool, port, router", "Extends tag "
     "support to more L2 and L3 resources."),
    ("ip-substring-filtering", "IP address substring filtering", "Provides IP address "
     "substring filtering when listing ports"),
    ("standard-attr-tag", "Tag support for resources with standard attribute", "Enables to set "
     "tag on resources with standard attribute."),
    ("standard-attr-timestamp", "Resource timestamps", "Adds created_at and updated_at fields "
     "to all Neutron resources that have Neutron standard attributes."),
    ("subnet-external-network", "Subnet External Network", "Informs if the subnet is "
     "associated to an external network."),
    ("subnet_allocation", "Subnet Allocation", "Enables allocation of subnets from a subnet "
     "pool"),
    ("stateful-security-group", "Stateful security group", "Indicates if the security group "
     "is stateful or not"),
]


class Discovery:
    @route("GET", "/", auth=False)
    def versions(self, req: Request) -> dict[str, Any]:
        return {"versions": [{"id": "v2.0", "status": "CURRENT", "links": [
            {"href": req.base_url + "/v2.0/", "rel": "self"}]}]}

    @route("GET", "/v2.0", auth=False)
    def resources(self, req: Request) -> dict[str, Any]:
        out = []
        for coll, path in PATHS.items():
            member = {"rbac_policies": "rbac_policy", "security_groups": "security_group",
                      "security_group_rules": "security_group_rule"}.get(coll, coll[:-1])
            out.append({"name": member, "collection": coll, "links": [
                {"href": f"{req.base_url}/v2.0/{path}", "rel": "self"}]})
        return {"resources": out}

    @route("GET", "/v2.0/extensions")
    def extensions(self, req: Request) -> dict[str, Any]:
        return {"extensions": [self._ext(e) for e in EXTENSIONS]}

    @route("GET", "/v2.0/extensions/{alias}")
    def extension(self, req: Request, alias: str) -> dict[str, Any]:
        for e in EXTENSIONS:
            if e[0] == alias:
                return {"extension": self._ext(e)}
        raise errors.NotFound(f"Extension with alias {alias} does not exist",
                              error_type="HTTPNotFound")

    @staticmethod
    def _ext(e: tuple[str, str, str]) -> dict[str, Any]:
        return {"alias": e[0], "name": e[1], "description": e[2], "updated": _UPDATED,
                "links": []}

    @route("GET", "/v2.0/availability_zones")
    def zones(self, req: Request) -> dict[str, Any]:
        zones = [{"name": "nova", "resource": r, "state": "available"}
                 for r in ("network", "router")]
        for key in ("name", "resource", "state"):
            wanted = req.query.getlist(key)
            if wanted:
                zones = [z for z in zones if z[key] in wanted]
        return {"availability_zones": zones}


class RouterInterfaces:
    def __init__(self, net: Networking) -> None:
        self.net = net

    @route("PUT", "/v2.0/routers/{router_id}/add_router_interface", policy="network:write")
    def add(self, req: Request, router_id: str) -> dict[str, Any]:
        return self.net.routers.add_interface(req.ctx, router_id, req.json())

    @route("PUT", "/v2.0/routers/{router_id}/remove_router_interface", policy="network:write")
    def remove(self, req: Request, router_id: str) -> dict[str, Any]:
        return self.net.routers.remove_interface(req.ctx, router_id, req.json())
    @route("PUT", "/v2.0/routers/{router_id}/add_extraroutes", policy="network:write")
    def add_routes(self, req: Request, router_id: str) -> dict[str, Any]:
        return {"router": self.net.routers.edit_routes(req.ctx, router_id, req.json(), True)}

    @route("PUT", "/v2.0/routers/{router_id}/remove_extraroutes", policy="network:write")
    def remove_routes(self, req: Request, router_id: str) -> dict[str, Any]:
        return {"router": self.net.routers.edit_routes(req.ctx, router_id, req.json(), False)}


class Quotas:
    def __init__(self, net: Networking) -> None:
        self.quotas = net.quotas

    def _check(self, req: Request, project_id: str) -> None:
        if not (req.ctx.is_admin or req.ctx.project_id == project_id):
            raise errors.Forbidden("(rule:get_quota) is disallowed by policy",
                                   error_type="PolicyNotAuthorized")

    @route("GET", "/v2.0/quotas", policy="network:admin")
    def list(self, req: Request) -> dict[str, Any]:
        return {"quotas": self.quotas.projects()}

    @route("GET", "/v2.0/quotas/tenant")
    @route("GET", "/v2.0/quotas/project")
    def mine(self, req: Request) -> dict[str, Any]:
        return {"tenant": {"tenant_id": req.ctx.project_id, "project_id": req.ctx.project_id}}

    @route("GET", "/v2.0/quotas/{project_id}")
    def get(self, req: Request, project_id: str) -> dict[str, Any]:
        self._check(req, project_id)
        return {"quota": self.quotas.get(project_id)}

    @route("GET", "/v2.0/quotas/{project_id}/default")
    def default(self, req: Request, project_id: str) -> dict[str, Any]:
        self._check(req, project_id)
        return {"quota": self.quotas.defaults()}

    @route("GET", "/v2.0/quotas/{project_id}/details")
    def details(self, req: Request, project_id: str) -> dict[str, Any]:
        self._check(req, project_id)
        return {"quota": self.quotas.details(project_id)}

    @route("PUT", "/v2.0/quotas/{project_id}", policy="network:admin")
    def update(self, req: Request, project_id: str) -> dict[str, Any]:
        body = req.json()
        if not isinstance(body, dict) or not isinstance(body.get("quota"), dict):
            raise errors.BadRequest("Resource body required: {'quota': {...}}",
                                    error_type="HTTPBadRequest")
        return {"quota": self.quotas.update(project_id, body["quota"])}

    @route("DELETE", "/v2.0/quotas/{project_id}", status=204, policy="network:admin")
    def reset(self, req: Request, project_id: str) -> None:
        self.quotas.reset(project_id)


class IPAvailability:
    def __init__(self, net: Networking) -> None:
        self.net = net

    def _one(self, s: Any, network: Network) -> dict[str, Any]:
        subnets = []
        for sub in s.scalars(select(Subnet).where(Subnet.network_id == network.id)):
            used = len(list(s.scalars(select(IPAllocation.ip_address).where(
                IPAllocation.subnet_id == sub.id))))
            subnets.append({"subnet_id": sub.id, "subnet_name": sub.name, "cidr": sub.cidr,
                            "ip_version": sub.ip_version, "used_ips": used,
                            "total_ips": ipam.pool_size(sub.attrs.get("allocation_pools", []))})
        return {"network_id": network.id, "network_name": network.name,
                "project_id": network.project_id, "tenant_id": network.project_id,
                "subnet_ip_availability": subnets,
                "used_ips": sum(x["used_ips"] for x in subnets),
                "total_ips": sum(x["total_ips"] for x in subnets)}

    @route("GET", "/v2.0/network-ip-availabilities", policy="network:admin")
    def list(self, req: Request) -> dict[str, Any]:
        with self.net.db.read() as s:
            out = [self._one(s, n) for n in s.scalars(select(Network))]
        for key in ("network_id", "network_name", "project_id", "tenant_id"):
            wanted = req.query.getlist(key)
            if wanted:
                out = [o for o in out if o[key] in wanted]
        if req.query.getlist("ip_version"):
            versions = {int(v) for v in req.query.getlist("ip_version") if v.isdigit()}
            out = [o for o in out if any(x["ip_version"] in versions
                                         for x in o["subnet_ip_availability"])]
        return {"network_ip_availabilities": out}

    @route("GET", "/v2.0/network-ip-availabilities/{network_id}", policy="network:admin")
    def get(self, req: Request, network_id: str) -> dict[str, Any]:
        with self.net.db.read() as s:
            network = s.get(Network, network_id)
            if network is None:
                raise not_found("network", network_id)
            return {"network_ip_availability": self._one(s, network)}


class AutoAllocatedTopology:
    """``/v2.0/auto-allocated-topology/{project_id}``: show (made on first ask;
    ``fields=dry-run`` only checks the requirements) and delete."""

    def __init__(self, net: Networking) -> None:
        self.topology = net.auto_topology

    @staticmethod
    def _check(req: Request, project_id: str, action: str) -> None:
        if not (req.ctx.is_admin or req.ctx.project_id == project_id):
            raise errors.Forbidden(f"(rule:{action}_auto_allocated_topology) is disallowed "
                                   "by policy", error_type="PolicyNotAuthorized")

    @route("GET", "/v2.0/auto-allocated-topology/{project_id}")
    def get(self, req: Request, project_id: str) -> dict[str, Any]:
        self._check(req, project_id, "get")
        dry_run = "dry-run" in req.query.getlist("fields")
        return {"auto_allocated_topology": self.topology.get(project_id, dry_run=dry_run)}

    @route("DELETE", "/v2.0/auto-allocated-topology/{project_id}", status=204)
    def delete(self, req: Request, project_id: str) -> None:
        self._check(req, project_id, "delete")
        self.topology.delete(project_id)
