"""Nova's security-group proxy of the Networking service: ``/os-security-groups`` and
``/os-security-group-rules`` (deprecated, served up to microversion 2.35 as Nova does).

Nova's rule format is ingress-only: ``ip_protocol``, ``from_port``/``to_port`` (ICMP
type/code), ``ip_range.cidr`` or a source ``group``; it maps onto one Neutron rule. Errors
come back in Nova's format (Neutron's 409s become the 400s Nova answers).
"""

from __future__ import annotations

import ipaddress
import uuid as uuidlib
from typing import TYPE_CHECKING, Any

from pocketstack.api import errors
from pocketstack.api.request import Reply, Request
from pocketstack.api.routing import route
from pocketstack.api.validation import obj, validate, wrapped
from pocketstack.compute.api.common import network_api, offset_page
from pocketstack.compute.networks import _query
from pocketstack.policy import RuleDefault, register_defaults

if TYPE_CHECKING:
    from pocketstack.compute.service import ComputeService

P = "os_compute_api:os-security-groups:"
register_defaults([RuleDefault(P + name, "rule:project_member_or_admin")
                   for name in ("get", "show", "create", "update", "delete", "rule:create",
                                "rule:delete")])
MAX = "2.35"
_GROUP = wrapped("security_group", obj({"name": {"type": "string", "maxLength": 255},
                                        "description": {"type": "string", "maxLength": 255}},
                                       ["name", "description"]))
_RULE = wrapped("security_group_rule", obj({
    "parent_group_id": {"type": ["string", "integer"]},
    "ip_protocol": {"type": ["string", "null"]},
    "from_port": {"type": ["string", "integer", "null"]},
    "to_port": {"type": ["string", "integer", "null"]},
    "cidr": {"type": ["string", "null"]},
    "group_id": {"type": ["string", "integer", "null"]}}, ["parent_group_id"]))


def nova_rule(rule: dict[str, Any], group_id: str, names: dict[str, dict[str, str]]
              ) -> dict[str, Any] | None:
    """A Neutron rule in Nova's format (None for egress rules, which Nova does not show)."""
    if rule.get("direction") != "ingress":
        return None
    proto = rule.get("protocol")
    low, high = rule.get("port_range_min"), rule.get("port_range_max")
    if proto == "icmp":
        low, high = (-1 if low is None else low), (-1 if high is None else high)
    out = {"id": rule["id"], "parent_group_id": group_id, "ip_protocol": proto,
           "from_port": low, "to_port": high, "ip_range": {}, "group": {}}
    if rule.get("remote_group_id"):
        out["group"] = names.get(rule["remote_group_id"], {})
    else:
        out["ip_range"] = {"cidr": rule.get("remote_ip_prefix") or
                           ("0.0.0.0/0" if rule.get("ethertype") != "IPv6" else "::/0")}
    return out


def nova_group(group: dict[str, Any], names: dict[str, dict[str, str]]) -> dict[str, Any]:
    rules = [r for r in (nova_rule(x, group["id"], names)
                         for x in group.get("security_group_rules") or []) if r]
    return {"id": group["id"], "name": group["name"], "description": group["description"],
            "tenant_id": group.get("project_id") or group.get("tenant_id") or "",
            "rules": rules}


def _uuid(value: Any, what: str) -> str:
    try:
        return str(uuidlib.UUID(str(value)))
    except ValueError:
        raise errors.BadRequest(f"Security group id should be uuid: {what} {value!r} is "
                                "not one") from None


def _refused(exc: errors.Conflict, what: str) -> errors.ApiError:
    """Neutron's 409s as Nova reports them: over quota is a 403, the rest a 400."""
    if exc.error_type == "OverQuota":
        return errors.OverQuota(f"Quota exceeded, too many {what}.")
    return errors.BadRequest(exc.message)


def _port(value: Any, name: str) -> int | None:
    if value in (None, ""):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise errors.BadRequest(f"Invalid input for field/attribute {name}: {value!r} is "
                                "not an integer") from None


class SecurityGroupProxy:
    def __init__(self, svc: "ComputeService") -> None:
        self.svc = svc

    def _net(self) -> Any:
        return network_api(self.svc.cloud)

    def _names(self, ctx: Any) -> dict[str, dict[str, str]]:
        groups, _ = self._net().secgroups.list(ctx, _query())
        return {g["id"]: {"name": g["name"], "tenant_id": g.get("project_id") or ""}
                for g in groups}

    def _get(self, req: Request, group_id: str) -> dict[str, Any]:
        gid = _uuid(group_id, "id")
        try:
            return self._net().secgroups.get(req.ctx, gid)
        except errors.NotFound:
            raise errors.NotFound(f"Security group {group_id} not found.") from None

    @staticmethod
    def _nonblank(body: dict[str, Any]) -> None:
        if not body["name"].strip():
            raise errors.BadRequest("Security group name cannot be empty.")

    # -- groups -----------------------------------------------------------------
    @route("GET", "/v2.1/os-security-groups", max_version=MAX, policy=P + "get")
    def index(self, req: Request) -> dict[str, Any]:
        all_tenants = req.ctx.is_admin and req.query.get("all_tenants") not in (None, "0",
                                                                                 "false")
        groups, _ = self._net().secgroups.list(req.ctx, _query())
        if not all_tenants:
            groups = [g for g in groups if g.get("project_id") == req.ctx.project_id]
        names = {g["id"]: {"name": g["name"], "tenant_id": g.get("project_id") or ""}
                 for g in groups}
        out = [nova_group(g, names) for g in sorted(groups, key=lambda g: g["name"])]
        return {"security_groups": offset_page(req, out)}

    @route("DELETE", "/v2.1/os-security-groups", max_version=MAX)
    def delete_nothing(self, req: Request) -> None:
        raise errors.NotFound("A security group id is needed.")

    @route("GET", "/v2.1/os-security-groups/{group_id}", max_version=MAX, policy=P + "show")
    def show(self, req: Request, group_id: str) -> dict[str, Any]:
        return {"security_group": nova_group(self._get(req, group_id), self._names(req.ctx))}

    @route("POST", "/v2.1/os-security-groups", max_version=MAX, policy=P + "create")
    def create(self, req: Request) -> dict[str, Any]:
        body = validate(_GROUP, req.json())["security_group"]
        self._nonblank(body)
        try:
            group = self._net().secgroups.create(req.ctx, {"name": body["name"],
                                                           "description": body["description"]})
        except errors.Conflict as exc:
            raise _refused(exc, "security groups") from None
        return {"security_group": nova_group(group, {})}

    @route("PUT", "/v2.1/os-security-groups/{group_id}", max_version=MAX, policy=P + "update")
    def update(self, req: Request, group_id: str) -> dict[str, Any]:
        body = validate(_GROUP, req.json())["security_group"]
        self._nonblank(body)
        self._get(req, group_id)
        try:
            group = self._net().secgroups.update(req.ctx, _uuid(group_id, "id"), body)
        except errors.Conflict as exc:
            raise _refused(exc, "security groups") from None
        return {"security_group": nova_group(group, self._names(req.ctx))}

    @route("DELETE", "/v2.1/os-security-groups/{group_id}", status=202, max_version=MAX,
           policy=P + "delete")
    def delete(self, req: Request, group_id: str) -> Reply:
        group = self._get(req, group_id)
        if group["name"] == "default":
            raise errors.BadRequest("Removing default security group not allowed.")
        try:
            self._net().secgroups.delete(req.ctx, group["id"])
        except errors.Conflict as exc:
            raise _refused(exc, "security groups") from None
        return Reply(None, 202)

    # -- rules ------------------------------------------------------------------
    @route("POST", "/v2.1/os-security-group-rules", max_version=MAX,
           policy=P + "rule:create")
    def create_rule(self, req: Request) -> dict[str, Any]:
        body = validate(_RULE, req.json())["security_group_rule"]
        parent = self._get(req, str(body["parent_group_id"]))
        neutron = self._neutron_rule(req, parent["id"], body)
        try:
            rule = self._net().sgrules.create(req.ctx, neutron)
        except errors.Conflict as exc:  # a duplicate: Nova says 400
            raise _refused(exc, "security group rules") from None
        out = nova_rule(rule, parent["id"], self._names(req.ctx))
        assert out is not None  # ingress
        return {"security_group_rule": out}

    def _neutron_rule(self, req: Request, parent: str, body: dict[str, Any]
                      ) -> dict[str, Any]:
        proto = body.get("ip_protocol")
        proto = str(proto).lower() if proto not in (None, "") else None
        low, high = _port(body.get("from_port"), "from_port"), _port(body.get("to_port"),
                                                                       "to_port")
        if proto is not None and proto not in ("tcp", "udp", "icmp"):
            raise errors.BadRequest(f"Invalid IP protocol {body.get('ip_protocol')}.")
        if proto in ("tcp", "udp"):
            if low is None or high is None or not (1 <= low <= 65535) or \
                    not (1 <= high <= 65535) or low > high:
                raise errors.BadRequest(f"Invalid port range {low}:{high}. Valid TCP ports "
                                        "should be between 1-65535")
        elif proto == "icmp":
            if low is None or high is None or not (-1 <= low <= 255) or \
                    not (-1 <= high <= 255):
                raise errors.BadRequest(f"Invalid port range {low}:{high}. For ICMP, the "
                                        "type:code must be valid")
            low, high = (None if low == -1 else low), (None if high == -1 else high)
            if low is None and high is not None:
                raise errors.BadRequest("ICMP code given without an ICMP type")
        elif low is not None or high is not None:
            raise errors.BadRequest("Invalid IP protocol None for a port range.")
        rule: dict[str, Any] = {"security_group_id": parent, "direction": "ingress",
                                "protocol": proto, "port_range_min": low,
                                "port_range_max": high, "ethertype": "IPv4"}
        if body.get("group_id") not in (None, ""):
            rule["remote_group_id"] = self._get(req, str(body["group_id"]))["id"]
        else:
            cidr = str(body.get("cidr") or "0.0.0.0/0")
            try:
                net = ipaddress.ip_network(cidr, strict=False)
            except ValueError:
                raise errors.BadRequest(f"Invalid cidr {cidr}.") from None
            rule["remote_ip_prefix"] = cidr  # as given, host bits included (as Nova shows it)
            rule["ethertype"] = "IPv6" if net.version == 6 else "IPv4"
        return rule

    @route("DELETE", "/v2.1/os-security-group-rules/{rule_id}", status=202, max_version=MAX,
           policy=P + "rule:delete")
    def delete_rule(self, req: Request, rule_id: str) -> Reply:
        rid = _uuid(rule_id, "rule id")
        try:
            self._net().sgrules.delete(req.ctx, rid)
        except errors.NotFound:
            raise errors.NotFound(f"Security group rule {rule_id} not found.") from None
        return Reply(None, 202)
