"""Networks and RBAC policies (sharing a network with other projects)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pocketstack.api import errors
from pocketstack.api.context import RequestContext
from pocketstack.network.common import (Kind, as_bool, bad_request, check_keys, check_string,
                                        conflict, invalid_input, not_found, standard)
from pocketstack.network.models import (FloatingIP, Network, Port, RBACPolicy, SecurityGroup,
                                        Subnet, SubnetPool)

AUTO_DELETE_OWNERS = ("network:dhcp", "network:distributed", "network:agent_gateway")

_CREATE = {"name", "description", "admin_state_up", "shared", "router:external", "mtu",
           "port_security_enabled", "project_id", "tenant_id", "availability_zone_hints",
           "provider:network_type", "provider:physical_network", "provider:segmentation_id",
           "is_default", "dns_domain", "qos_policy_id", "tags"}
_UPDATE = _CREATE - {"project_id", "tenant_id", "availability_zone_hints"}
_ADMIN_ONLY = ("router:external", "shared", "provider:network_type",
               "provider:physical_network", "provider:segmentation_id", "is_default")


def rbac_targets(s: Session, object_id: str, action: str) -> set[str]:
    return set(s.scalars(select(RBACPolicy.target_tenant).where(
        RBACPolicy.object_id == object_id, RBACPolicy.action == action)))


class Networks(Kind):
    model = Network
    member = "network"
    collection = "networks"

    def is_shared(self, s: Session, row: Network, ctx: RequestContext) -> bool:
        return bool(row.attrs.get("shared")) or bool(
            rbac_targets(s, row.id, "access_as_shared") & {"*", ctx.project_id})

    def is_external(self, s: Session, row: Network) -> bool:
        return bool(row.attrs.get("router:external"))

    def visible(self, s: Session, row: Any, ctx: RequestContext) -> bool:
        return ctx.is_admin or row.project_id == ctx.project_id or \
            bool(row.attrs.get("shared")) or bool(row.attrs.get("router:external")) or \
            bool(rbac_targets(s, row.id, "access_as_shared") & {"*", ctx.project_id}) or \
            bool(rbac_targets(s, row.id, "access_as_external") & {"*", ctx.project_id})

    def view(self, s: Session, row: Network, ctx: RequestContext) -> dict[str, Any]:
        a = row.attrs
        subnets = sorted(s.scalars(select(Subnet.id).where(Subnet.network_id == row.id)))
        out = standard(row)
        out.update({
            "admin_state_up": a.get("admin_state_up", True), "status": "ACTIVE",
            "subnets": subnets, "shared": bool(a.get("shared")) or "*" in rbac_targets(
                s, row.id, "access_as_shared"),
            "router:external": bool(a.get("router:external")), "mtu": a.get("mtu", 1500),
            "port_security_enabled": a.get("port_security_enabled", True),
            "availability_zone_hints": a.get("availability_zone_hints", []),
            "availability_zones": ["nova"], "ipv4_address_scope": None,
            "ipv6_address_scope": None, "is_default": a.get("is_default", False),
            "l2_adjacency": True, "dns_domain": a.get("dns_domain", ""),
            "qos_policy_id": a.get("qos_policy_id"),
        })
        if ctx.is_admin:
            out.update({"provider:network_type": a.get("provider:network_type", "vxlan"),
                        "provider:physical_network": a.get("provider:physical_network"),
                        "provider:segmentation_id": a.get("provider:segmentation_id")})
        return out

    def _apply(self, ctx: RequestContext, row: Network, body: dict[str, Any]) -> None:
        for key in _ADMIN_ONLY:
            if key in body and not ctx.is_admin and body[key] not in (False, None) and \
                    body[key] != row.attrs.get(key):
                raise errors.Forbidden(f"(rule:create_network:{key}) is disallowed by policy",
                                       error_type="PolicyNotAuthorized")
        check_string(body, "name")
        check_string(body, "description", 1024)
        attrs = dict(row.attrs)
        for key in ("admin_state_up", "shared", "router:external", "port_security_enabled",
                    "is_default"):
            if key in body:
                attrs[key] = as_bool(body[key], key)
        if "mtu" in body:
            mtu = body["mtu"]
            if isinstance(mtu, str) and mtu.strip().isdigit():
                mtu = int(mtu)
            if isinstance(mtu, bool) or not isinstance(mtu, int) or not 68 <= mtu <= 65535:
                raise invalid_input(f"'{mtu}' is not a valid MTU (68..65535)")
            attrs["mtu"] = mtu
        if "availability_zone_hints" in body:
            hints = body["availability_zone_hints"]
            if not isinstance(hints, list) or any(h != "nova" for h in hints):
                raise bad_request(f"AvailabilityZone {hints} could not be found.",
                                  "AvailabilityZoneNotFound")
            attrs["availability_zone_hints"] = hints
        for key in ("provider:network_type", "provider:physical_network",
                    "provider:segmentation_id", "dns_domain", "qos_policy_id"):
            if key in body:
                attrs[key] = body[key]
        if "name" in body:
            row.name = body["name"] or ""
        if "description" in body:
            row.description = body["description"] or ""
        row.attrs = attrs

    def create(self, ctx: RequestContext, body: dict[str, Any]) -> dict[str, Any]:
        check_keys(body, "network", _CREATE)
        project = self.owner(ctx, body)
        tags = body.pop("tags", None)
        with self.db.write() as s:
            self.net.quotas.check(s, project, "network")
            row = self.new_row(project, body)
            row.attrs = {"mtu": self.net.mtu, "port_security_enabled": True,
                         "admin_state_up": True, "shared": False, "router:external": False,
                         "provider:network_type": "vxlan",
                         "provider:segmentation_id": self.net.next_segment(s)}
            self._apply(ctx, row, body)
            if tags:
                row.tags = list(dict.fromkeys(tags))
            s.add(row)
            s.flush()
            return self.view(s, row, ctx)

    def update(self, ctx: RequestContext, id_: str, body: dict[str, Any],
               if_match: str | None = None) -> dict[str, Any]:
        check_keys(body, "network", _UPDATE, readonly=("id", "status", "subnets",
                                                        "project_id", "tenant_id"))
        with self.db.write() as s:
            row = self.load(s, id_, ctx, write=True)
            self.check_revision(row, if_match)
            if body.get("shared") is False and row.attrs.get("shared"):
                self._check_unshare(s, row)
            self._apply(ctx, row, body)
            self.touch(row)
            s.flush()
            return self.view(s, row, ctx)

    def _check_unshare(self, s: Session, row: Network) -> None:
        other = s.scalar(select(Port.id).where(Port.network_id == row.id,
                                               Port.project_id != row.project_id,
                                               Port.project_id != ""))
        if other:
            raise conflict(f"Unable to reconfigure sharing settings for network {row.id}. "
                           "Multiple tenants are using it.", "InvalidSharedSetting")

    def delete(self, ctx: RequestContext, id_: str) -> None:
        with self.db.write() as s:
            row = self.load(s, id_, ctx, write=True, action="delete")
            fips = list(s.scalars(select(FloatingIP).where(
                FloatingIP.floating_network_id == id_)))
            if all(f.port_id is None for f in fips):  # unassociated floating IPs go with it
                for fip in fips:
                    s.delete(fip)
                fips = []
            ports = list(s.scalars(select(Port).where(Port.network_id == id_)))
            if fips or any(p.device_owner not in AUTO_DELETE_OWNERS + ("network:floatingip",)
                           for p in ports):
                raise conflict(f"Unable to complete operation on network {id_}. There are one "
                               "or more ports still in use on the network.", "NetworkInUse")
            for p in ports:
                s.delete(p)
            s.flush()
            for sub in s.scalars(select(Subnet).where(Subnet.network_id == id_)):
                s.delete(sub)
            for pol in s.scalars(select(RBACPolicy).where(RBACPolicy.object_id == id_)):
                s.delete(pol)
            s.flush()
            s.delete(row)


_RBAC_TYPES = {"network": Network, "security_group": SecurityGroup, "subnetpool": SubnetPool}
_RBAC_ACTIONS = {"network": ("access_as_shared", "access_as_external"),
                 "security_group": ("access_as_shared",), "subnetpool": ("access_as_shared",)}


class RBACPolicies(Kind):
    model = RBACPolicy
    member = "rbac_policy"
    collection = "rbac_policies"

    def visible(self, s: Session, row: Any, ctx: RequestContext) -> bool:
        return ctx.is_admin or row.project_id == ctx.project_id or \
            row.target_tenant == ctx.project_id

    def view(self, s: Session, row: RBACPolicy, ctx: RequestContext) -> dict[str, Any]:
        return {"id": row.id, "object_type": row.object_type, "object_id": row.object_id,
                "action": row.action, "target_tenant": row.target_tenant,
                "target_project": row.target_tenant, "project_id": row.project_id,
                "tenant_id": row.project_id}

    def create(self, ctx: RequestContext, body: dict[str, Any]) -> dict[str, Any]:
        check_keys(body, "rbac_policy", {"object_type", "object_id", "action",
                                         "target_tenant", "target_project", "project_id",
                                         "tenant_id"})
        for key in ("object_type", "object_id", "action"):
            if not body.get(key):
                raise bad_request(f"Failed to parse request. Required attribute '{key}' not "
                                  "specified", "HTTPBadRequest")
        target = body.get("target_tenant") or body.get("target_project")
        if not target:
            raise bad_request("Failed to parse request. Required attribute 'target_tenant' "
                              "not specified", "HTTPBadRequest")
        otype, action = body["object_type"], body["action"]
        if otype not in _RBAC_TYPES:
            raise invalid_input(f"'{otype}' is not in {sorted(_RBAC_TYPES)}")
        if action not in _RBAC_ACTIONS[otype]:
            raise invalid_input(f"Action '{action}' for object type '{otype}' is not valid")
        project = self.owner(ctx, {k: body.get(k) for k in ("project_id", "tenant_id")})
        with self.db.write() as s:
            obj = s.get(_RBAC_TYPES[otype], body["object_id"])
            if obj is None or not (ctx.is_admin or obj.project_id == ctx.project_id):
                raise not_found(otype, body["object_id"])
            if s.scalar(select(RBACPolicy.id).where(
                    RBACPolicy.object_id == obj.id, RBACPolicy.action == action,
                    RBACPolicy.target_tenant == target)):
                raise conflict("The RBAC policy already exists.", "DuplicateRbacPolicy")
            row = self.new_row(project, {}, object_type=otype, object_id=obj.id,
                               action=action, target_tenant=target)
            s.add(row)
            s.flush()
            return self.view(s, row, ctx)

    def update(self, ctx: RequestContext, id_: str, body: dict[str, Any],
               if_match: str | None = None) -> dict[str, Any]:
        check_keys(body, "rbac_policy", {"target_tenant", "target_project"})
        with self.db.write() as s:
            row = self.load(s, id_, ctx, write=True)
            row.target_tenant = body.get("target_tenant") or body.get("target_project") or \
                row.target_tenant
            self.touch(row)
            return self.view(s, row, ctx)

    def delete(self, ctx: RequestContext, id_: str) -> None:
        with self.db.write() as s:
            row = self.load(s, id_, ctx, write=True, action="delete")
            if row.action == "access_as_shared" and row.object_type == "network":
                owner = s.get(Network, row.object_id)
                users = s.scalar(select(Port.id).where(
                    Port.network_id == row.object_id,
                    Port.project_id.notin_(["", owner.project_id if owner else ""]),
                    *( [Port.project_id == row.target_tenant]
                       if row.target_tenant != "*" else [])))
                if users:
                    raise conflict(f"RBAC policy on object {row.object_id} cannot be removed "
                                   "because other objects depend on it.", "RbacPolicyInUse")
            s.delete(row)
