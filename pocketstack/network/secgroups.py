"""Security groups and their rules; each project's ``default`` group made on first use."""

from __future__ import annotations

import ipaddress
from typing import Any

from sqlalchemy import String, cast, select
from sqlalchemy.orm import Session

from pocketstack.api import errors
from pocketstack.api.context import RequestContext
from pocketstack.network.common import (Kind, as_bool, bad_request, check_keys, check_string,
                                        conflict, invalid_input, not_found, standard)
from pocketstack.network.models import (DefaultSecurityGroup, Port, RBACPolicy,
                                        SecurityGroup, SecurityGroupRule)

PROTOCOLS = {"ah": 51, "dccp": 33, "egp": 8, "esp": 50, "gre": 47, "hopopt": 0, "icmp": 1,
             "igmp": 2, "ipip": 4, "ipv6-encap": 41, "ipv6-frag": 44, "ipv6-icmp": 58,
             "icmpv6": 58, "ipv6-nonxt": 59, "ipv6-opts": 60, "ipv6-route": 43, "ospf": 89,
             "pgm": 113, "rsvp": 46, "sctp": 132, "tcp": 6, "udp": 17, "udplite": 136,
             "vrrp": 112}
_PORTED = (6, 17, 33, 132, 136)
_RULE_KEYS = {"security_group_id", "direction", "ethertype", "protocol", "port_range_min",
              "port_range_max", "remote_ip_prefix", "remote_group_id",
              "remote_address_group_id", "description", "project_id", "tenant_id"}


def proto_number(protocol: str | None) -> int | None:
    if protocol in (None, "", "any"):
        return None
    if protocol in PROTOCOLS:
        return PROTOCOLS[protocol]
    return int(protocol)



def _port_value(value: Any) -> int | None:
    """neutron-lib's port converter: an integer (or integer string) from 0 to 65535."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise invalid_input(f"Invalid value for port {value}")
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise invalid_input(f"Invalid value for port {value}") from None
    if isinstance(value, float) and number != value or not 0 <= number <= 65535:
        raise invalid_input(f"Invalid value for port {value}")
    return number

class SecurityGroups(Kind):
    model = SecurityGroup
    member = "security_group"
    collection = "security_groups"

    def visible(self, s: Session, row: Any, ctx: RequestContext) -> bool:
        from pocketstack.network.networks import rbac_targets

        return ctx.is_admin or row.project_id == ctx.project_id or \
            bool(row.attrs.get("shared")) or \
            bool(rbac_targets(s, row.id, "access_as_shared") & {"*", ctx.project_id})

    def view(self, s: Session, row: SecurityGroup, ctx: RequestContext) -> dict[str, Any]:
        out = standard(row)
        rules = s.scalars(select(SecurityGroupRule).where(
            SecurityGroupRule.security_group_id == row.id))
        from pocketstack.network.networks import rbac_targets

        out.update({"stateful": row.attrs.get("stateful", True),
                    "shared": bool(row.attrs.get("shared")) or "*" in rbac_targets(
                        s, row.id, "access_as_shared"),
                    "security_group_rules": [self.net.sgrules.view(s, r, ctx) for r in rules]})
        return out

    def list(self, ctx: RequestContext, query: Any) -> Any:
        if ctx.project_id:
            with self.db.read() as s:
                exists = s.get(DefaultSecurityGroup, ctx.project_id) is not None
            if not exists:
                with self.db.write() as s:
                    self.ensure_default(s, ctx.project_id)
        return super().list(ctx, query)

    def _rule(self, s: Session, sg: SecurityGroup, direction: str, ethertype: str,
              remote_group: str | None = None) -> None:
        rule = self.net.sgrules.new_row(sg.project_id, {}, security_group_id=sg.id)
        rule.attrs = {"direction": direction, "ethertype": ethertype, "protocol": None,
                      "port_range_min": None, "port_range_max": None,
                      "remote_ip_prefix": None, "remote_group_id": remote_group}
        s.add(rule)

    def create_in(self, s: Session, project: str, body: dict[str, Any],
                  default: bool = False) -> SecurityGroup:
        row = self.new_row(project, body)
        row.attrs = {"stateful": as_bool(body.get("stateful", True), "stateful")}
        s.add(row)
        s.flush()
        for ethertype in ("IPv4", "IPv6"):
            self._rule(s, row, "egress", ethertype)
            if default:
                self._rule(s, row, "ingress", ethertype, remote_group=row.id)
        s.flush()
        return row

    def ensure_default(self, s: Session, project_id: str) -> str:
        existing = s.get(DefaultSecurityGroup, project_id)
        if existing is not None:
            return existing.security_group_id
        sg = self.create_in(s, project_id, {"name": "default",
                                            "description": "Default security group"},
                            default=True)
        s.add(DefaultSecurityGroup(project_id=project_id, security_group_id=sg.id))
        s.flush()
        return sg.id

    def create(self, ctx: RequestContext, body: dict[str, Any]) -> dict[str, Any]:
        check_keys(body, "security_group", {"name", "description", "stateful", "project_id",
                                            "tenant_id", "tags"})
        check_string(body, "name")
        check_string(body, "description", 255)
        if body.get("name") == "default":
            raise conflict("Default security group already exists.",
                           "SecurityGroupDefaultAlreadyExists")
        project = self.owner(ctx, body)
        with self.db.write() as s:
            self.ensure_default(s, project)
            self.net.quotas.check(s, project, "security_group")
            row = self.create_in(s, project, body)
            return self.view(s, row, ctx)

    def update(self, ctx: RequestContext, id_: str, body: dict[str, Any],
               if_match: str | None = None) -> dict[str, Any]:
        check_keys(body, "security_group", {"name", "description", "stateful"},
                   readonly=("id", "project_id", "tenant_id", "security_group_rules"))
        with self.db.write() as s:
            row = self.load(s, id_, ctx, write=True)
            self.check_revision(row, if_match)
            default = s.get(DefaultSecurityGroup, row.project_id)
            if default and default.security_group_id == row.id and \
                    body.get("name") not in (None, "default"):
                raise conflict("Updating default security group not allowed.",
                               "SecurityGroupCannotUpdateDefault")
            if body.get("name") == "default" and not (default and
                                                      default.security_group_id == row.id):
                raise conflict("Default security group already exists.",
                               "SecurityGroupDefaultAlreadyExists")
            for key in ("name", "description"):
                if key in body:
                    check_string(body, key)
                    setattr(row, key, body[key] or "")
            if "stateful" in body:
                row.attrs = {**row.attrs, "stateful": as_bool(body["stateful"], "stateful")}
            self.touch(row)
            return self.view(s, row, ctx)

    def delete(self, ctx: RequestContext, id_: str) -> None:
        with self.db.write() as s:
            row = self.load(s, id_, ctx, write=True, action="delete")
            default = s.get(DefaultSecurityGroup, row.project_id)
            if default and default.security_group_id == row.id and not ctx.is_admin:
                raise conflict("Removing default security group not allowed.",
                               "SecurityGroupCannotRemoveDefault")
            for port in s.scalars(select(Port).where(Port.project_id == row.project_id)):
                if row.id in port.attrs.get("security_groups", []):
                    raise conflict(f"Security Group {id_} in use.", "SecurityGroupInUse")
            if default and default.security_group_id == row.id:
                s.delete(default)
            for rule in s.scalars(select(SecurityGroupRule).where(
                    SecurityGroupRule.security_group_id == id_)):
                s.delete(rule)
            # rules of other groups naming this one as their remote group go with it
            for rule in s.scalars(select(SecurityGroupRule).where(
                    cast(SecurityGroupRule.attrs, String).contains(id_))):
                if (rule.attrs or {}).get("remote_group_id") == id_:
                    s.delete(rule)
            for pol in s.scalars(select(RBACPolicy).where(RBACPolicy.object_id == id_)):
                s.delete(pol)
            s.flush()
            s.delete(row)


class SecurityGroupRules(Kind):
    model = SecurityGroupRule
    member = "security_group_rule"
    collection = "security_group_rules"

    def visible(self, s: Session, row: Any, ctx: RequestContext) -> bool:
        if ctx.is_admin or row.project_id == ctx.project_id:
            return True
        sg = s.get(SecurityGroup, row.security_group_id)
        return sg is not None and self.net.secgroups.visible(s, sg, ctx)

    def view(self, s: Session, row: SecurityGroupRule, ctx: RequestContext) -> dict[str, Any]:
        out = standard(row)
        out.pop("name")
        out.pop("tags")
        a = row.attrs
        prefix = a.get("remote_ip_prefix")
        default = s.get(DefaultSecurityGroup, row.project_id)
        out.update({"security_group_id": row.security_group_id,
                    "direction": a["direction"], "ethertype": a["ethertype"],
                    "protocol": a.get("protocol"), "port_range_min": a.get("port_range_min"),
                    "port_range_max": a.get("port_range_max"), "remote_ip_prefix": prefix,
                    "remote_group_id": a.get("remote_group_id"),
                    "remote_address_group_id": None,
                    "normalized_cidr": str(ipaddress.ip_network(prefix, strict=False))
                    if prefix else None,
                    "belongs_to_default_sg": bool(default and default.security_group_id ==
                                                  row.security_group_id)})
        return out

    def _normalise(self, s: Session, ctx: RequestContext, body: dict[str, Any]
                   ) -> dict[str, Any]:
        direction = body.get("direction")
        if direction not in ("ingress", "egress"):
            raise invalid_input(f"'{direction}' is not in ['ingress', 'egress']")
        ethertype = body.get("ethertype") or "IPv4"
        if ethertype not in ("IPv4", "IPv6"):
            raise bad_request(f"Security group rule for ethertype '{ethertype}' not supported. "
                              "Allowed values are ['IPv4', 'IPv6'].",
                              "SecurityGroupRuleInvalidEtherType")
        protocol = body.get("protocol")
        if protocol is not None:
            protocol = str(protocol).lower()
            try:
                number = proto_number(protocol)
            except ValueError:
                raise bad_request(f"Security group rule protocol {protocol} not supported. "
                                  "Only protocol values [...] and integer representations "
                                  "[0 to 255] are supported.",
                                  "SecurityGroupRuleInvalidProtocol") from None
            if number is not None and not 0 <= number <= 255:
                raise bad_request(f"Security group rule protocol {protocol} not supported.",
                                  "SecurityGroupRuleInvalidProtocol")
            if protocol == "any":
                protocol = None
        pmin = _port_value(body.get("port_range_min"))
        pmax = _port_value(body.get("port_range_max"))
        number = proto_number(protocol)
        if (pmin is not None or pmax is not None) and number is None:
            raise bad_request("Must also specify protocol if port range is given.",
                              "SecurityGroupProtocolRequiredWithPorts")
        if number in _PORTED:
            if pmin == 0 or pmax == 0:
                raise bad_request("Invalid value for port 0.", "SecurityGroupInvalidPortValue")
            if (pmin is not None or pmax is not None) and (
                    pmin is None or pmax is None or pmin > pmax):
                raise bad_request("For TCP/UDP protocols, port_range_min must be <= "
                                  "port_range_max", "SecurityGroupInvalidPortRange")
        elif number in (1, 58):
            for name, attr, value in (("type", "port-range-min", pmin),
                                      ("code", "port-range-max", pmax)):
                if value is not None and not 0 <= value <= 255:
                    raise bad_request(f"Invalid value for ICMP {name} ({attr}) {value}. "
                                      "It must be 0 to 255.", "SecurityGroupInvalidIcmpValue")
            if pmax is not None and pmin is None:
                raise bad_request("ICMP code (port-range-max) is provided but ICMP type "
                                  "(port-range-min) is missing.",
                                  "SecurityGroupMissingIcmpType")
        elif pmin is not None or pmax is not None:
            raise bad_request(f"Invalid protocol {protocol} for port range, only supported "
                              "for TCP, UDP, UDPLITE, SCTP and DCCP.",
                              "SecurityGroupInvalidProtocolForPort")
        prefix, group = body.get("remote_ip_prefix"), body.get("remote_group_id")
        if prefix and group:
            raise bad_request("Only remote_ip_prefix or remote_group_id may be provided.",
                              "SecurityGroupRemoteGroupAndRemoteIpPrefix")
        if prefix:
            try:
                net = ipaddress.ip_network(str(prefix), strict=False)
            except ValueError:
                raise invalid_input(f"'{prefix}' is not a valid IP subnet") from None
            if f"IPv{net.version}" != ethertype:
                raise bad_request(f"Conflicting value ethertype {ethertype} for CIDR {prefix}",
                                  "SecurityGroupRuleParameterConflict")
            prefix = str(prefix)  # kept as given; duplicates compare the network
        if group:
            sg = s.get(SecurityGroup, group)
            if sg is None or not self.net.secgroups.visible(s, sg, ctx):
                raise not_found("security_group", group)
        return {"direction": direction, "ethertype": ethertype, "protocol": protocol,
                "port_range_min": pmin, "port_range_max": pmax, "remote_ip_prefix": prefix,
                "remote_group_id": group}

    @staticmethod
    def _signature(a: dict[str, Any]) -> tuple[Any, ...]:
        prefix = a.get("remote_ip_prefix")
        if prefix:
            prefix = str(ipaddress.ip_network(prefix, strict=False))
        if prefix in ("0.0.0.0/0", "::/0"):
            prefix = None
        return (a["direction"], a["ethertype"], proto_number(a.get("protocol")),
                a.get("port_range_min"), a.get("port_range_max"), prefix,
                a.get("remote_group_id"))

    def create(self, ctx: RequestContext, body: dict[str, Any]) -> dict[str, Any]:
        check_keys(body, "security_group_rule", _RULE_KEYS)
        if not body.get("security_group_id"):
            raise bad_request("Failed to parse request. Required attribute "
                              "'security_group_id' not specified", "HTTPBadRequest")
        check_string(body, "description", 255)
        with self.db.write() as s:
            sg = s.get(SecurityGroup, body["security_group_id"])
            if sg is None or not self.net.secgroups.visible(s, sg, ctx):
                raise not_found("security_group", body["security_group_id"])
            if not self.net.secgroups.writable(s, sg, ctx):
                raise errors.Forbidden("(rule:create_security_group_rule) is disallowed by "
                                       "policy", error_type="PolicyNotAuthorized")
            attrs = self._normalise(s, ctx, body)
            sig = self._signature(attrs)
            for other in s.scalars(select(SecurityGroupRule).where(
                    SecurityGroupRule.security_group_id == sg.id)):
                if self._signature(other.attrs) == sig:
                    raise conflict(f"Security group rule already exists. Rule id is "
                                   f"{other.id}.", "SecurityGroupRuleExists")
            self.net.quotas.check(s, sg.project_id, "security_group_rule")
            row = self.new_row(sg.project_id, body, security_group_id=sg.id)
            row.attrs = attrs
            s.add(row)
            self.touch(sg)
            s.flush()
            return self.view(s, row, ctx)

    def update(self, ctx: RequestContext, id_: str, body: dict[str, Any],
               if_match: str | None = None) -> dict[str, Any]:
        check_keys(body, "security_group_rule", {"description"})
        with self.db.write() as s:
            row = self.load(s, id_, ctx, write=True)
            row.description = body.get("description") or ""
            self.touch(row)
            return self.view(s, row, ctx)

    def delete(self, ctx: RequestContext, id_: str) -> None:
        with self.db.write() as s:
            row = self.load(s, id_, ctx, write=True, action="delete")
            sg = s.get(SecurityGroup, row.security_group_id)
            if sg is not None:
                self.touch(sg)
            s.delete(row)
