"""What every Neutron resource shares: errors, visibility, list queries, revisions, tags.

:class:`Kind` is the base of each resource manager: subclasses set ``model``,
``member``/``collection`` names and implement ``view`` (row -> Neutron dict),
``create``, ``update`` and ``delete``; listing with Neutron's query conventions
(``fields``, attribute filters, ``tags*``, ``sort_key``/``sort_dir``,
``limit``/``marker``), ``If-Match: revision_number=N`` and the tags
sub-resource are implemented here once.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import TYPE_CHECKING, Any
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from pocketstack.api import errors
from pocketstack.api.context import RequestContext
from pocketstack.db import Database, new_uuid, utcnow

if TYPE_CHECKING:
    from pocketstack.network.manager import Networking

_ERROR_NAMES = {"network": "NetworkNotFound", "subnet": "SubnetNotFound",
                "port": "PortNotFound", "router": "RouterNotFound",
                "floatingip": "FloatingIPNotFound", "security_group": "SecurityGroupNotFound",
                "security_group_rule": "SecurityGroupRuleNotFound",
                "subnetpool": "SubnetPoolNotFound", "rbac_policy": "RbacPolicyNotFound"}


def not_found(member: str, id_: str) -> errors.NotFound:
    label = {"floatingip": "Floating IP", "subnetpool": "Subnet pool",
             "rbac_policy": "RBAC policy"}.get(member, member.replace("_", " ").capitalize())
    return errors.NotFound(f"{label} {id_} could not be found.",
                           error_type=_ERROR_NAMES.get(member, "NotFound"))


def bad_request(message: str, error_type: str = "BadRequest") -> errors.BadRequest:
    return errors.BadRequest(message, error_type=error_type)


def invalid_input(message: str) -> errors.BadRequest:
    return errors.BadRequest(f"Invalid input for operation: {message}.",
                             error_type="InvalidInput")


def conflict(message: str, error_type: str) -> errors.Conflict:
    return errors.Conflict(message, error_type=error_type)


def timestamp(value: dt.datetime | None) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


def standard(row: Any) -> dict[str, Any]:
    """The standard attributes of a row, as Neutron renders them."""
    return {"id": row.id, "name": row.name, "description": row.description or "",
            "project_id": row.project_id, "tenant_id": row.project_id,
            "tags": list(row.tags or []), "created_at": timestamp(row.created_at),
            "updated_at": timestamp(row.updated_at), "revision_number": row.revision_number}


def as_bool(value: Any, field: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
        return value.lower() in ("true", "1")
    raise invalid_input(f"'{value}' is not a valid boolean value for {field}")


# Attribute types shared by every resource (Neutron's attribute map, condensed).
_STR = {"name", "description", "device_id", "device_owner", "network_id", "subnet_id",
        "security_group_id", "object_type", "object_id", "action", "target_tenant",
        "target_project", "cidr", "mac_address", "direction", "ethertype",
        "floating_network_id", "floating_ip_address", "fixed_ip_address", "binding:host_id",
        "binding:vnic_type", "project_id", "tenant_id", "dns_name", "dns_domain",
        "gateway_ip", "remote_ip_prefix", "remote_group_id", "ipv6_ra_mode",
        "ipv6_address_mode", "subnetpool_id", "qos_policy_id", "port_id",
        "address_scope_id", "provider:network_type", "provider:physical_network",
        "remote_address_group_id", "segment_id", "flavor_id", "numa_affinity_policy"}
_NULLABLE = {"name", "description", "gateway_ip", "remote_ip_prefix", "remote_group_id",
             "ipv6_ra_mode", "ipv6_address_mode", "subnetpool_id", "qos_policy_id", "port_id",
             "address_scope_id", "provider:physical_network", "remote_address_group_id",
             "segment_id", "flavor_id", "numa_affinity_policy", "fixed_ip_address",
             "binding:host_id", "dns_name", "dns_domain", "provider:network_type",
             "project_id", "tenant_id", "floating_ip_address", "subnet_id"}
_STR_LISTS = {"tags", "prefixes", "dns_nameservers", "security_groups",
              "availability_zone_hints", "service_types"}
_DICT_LISTS = {"allocation_pools", "host_routes", "fixed_ips", "allowed_address_pairs",
               "extra_dhcp_opts", "routes"}
_DICTS = {"external_gateway_info", "binding:profile"}
_INTS = {"mtu", "ip_version", "prefixlen", "default_prefixlen", "min_prefixlen",
         "max_prefixlen", "port_range_min", "port_range_max", "default_quota",
         "provider:segmentation_id"}


def check_types(body: dict[str, Any]) -> None:
    """Reject values of the wrong JSON type with 400 (and convert integer strings)."""
    for key, value in list(body.items()):
        if value is None and (key in _NULLABLE or key in _INTS or key in _DICTS or
                              key in _DICT_LISTS or key in _STR_LISTS - {"tags"}):
            continue
        if key in _STR and not isinstance(value, str):
            raise invalid_input(f"'{value}' is not a valid string for {key}")
        if key in _STR_LISTS and (not isinstance(value, list) or
                                  any(not isinstance(v, str) for v in value)):
            raise invalid_input(f"'{value}' is not a list of strings for {key}")
        if key in _DICT_LISTS and (not isinstance(value, list) or
                                   any(not isinstance(v, dict) for v in value)):
            raise invalid_input(f"'{value}' is not a list of objects for {key}")
        if key in _DICTS and not isinstance(value, dict):
            raise invalid_input(f"'{value}' is not a dictionary for {key}")
        if key in _INTS:
            if isinstance(value, str) and value.strip().lstrip("-").isdigit():
                value = body[key] = int(value)
            if isinstance(value, bool) or not isinstance(value, int):
                raise invalid_input(f"'{value}' is not an integer for {key}")
    for key in ("fixed_ips", "allocation_pools", "host_routes", "allowed_address_pairs",
                "routes"):
        for item in body.get(key) or []:
            for k, v in item.items():
                if v is not None and not isinstance(v, str):
                    raise invalid_input(f"'{v}' is not a valid string for {key} {k}")


def check_keys(body: Any, member: str, allowed: Iterable[str],
               readonly: Iterable[str] = ()) -> dict[str, Any]:
    """Neutron rejects unknown attributes, read-only ones and wrong types with 400."""
    if not isinstance(body, dict):
        raise bad_request(f"Body of {member} must be an object.", "HTTPBadRequest")
    allowed = set(allowed)
    for key in body:
        if key in readonly:
            raise bad_request(f"Cannot update read-only attribute {key}", "HTTPBadRequest")
        if key not in allowed:
            raise bad_request(f"Unrecognized attribute(s) '{key}'", "HTTPBadRequest")
    check_types(body)
    return body


def check_string(body: dict[str, Any], key: str, maxlen: int = 255) -> None:
    value = body.get(key)
    if value is not None and (not isinstance(value, str) or len(value) > maxlen):
        raise invalid_input(f"'{value}' is not a valid string for {key} (max {maxlen})")


# Attributes a list may be filtered on: every attribute the resources render (a filter on
# an attribute another kind has is ignored, as before); anything else is a 400, as Neutron
# does with the ``filter-validation`` extension.
_FILTERABLE = _STR | _NULLABLE | _STR_LISTS | _DICT_LISTS | _DICTS | _INTS | {
    "id", "status", "admin_state_up", "shared", "router:external", "port_security_enabled",
    "revision_number", "created_at", "updated_at", "enable_dhcp", "is_default", "distributed",
    "ha", "external_gateway_info", "binding:vif_type", "binding:vif_details",
    "ip_allocation", "dns_assignment", "propagate_uplink_status", "protocol",
    "availability_zones", "l2_adjacency", "ipv4_address_scope", "ipv6_address_scope",
    "router_id", "port_details", "port_forwardings", "stateful", "belongs_to_default_sg",
    "security_group_rules", "subnets", "normalized_cidr", "dns_publish_fixed_ip",
    "enable_ndp_proxy", "enable_snat", "qos_network_policy_id", "ip_address",
    "shared", "vlan_transparent", "subnet_ids", "network_id", "prefixes"}


def check_filters(query: "Query") -> None:
    bad = sorted(k for k in query.filters if k not in _FILTERABLE)
    if bad:
        raise bad_request(f"[{', '.join(bad)}] is invalid attribute for filtering",
                          "HTTPBadRequest")


_CONTROL = {"fields", "sort_key", "sort_dir", "limit", "marker", "page_reverse", "tags",
            "tags-any", "not-tags", "not-tags-any"}


def _matches(value: Any, wanted: list[str]) -> bool:
    if isinstance(value, bool):
        return any(w.lower() in (("true", "1") if value else ("false", "0")) for w in wanted)
    if isinstance(value, list):
        return any(_matches(v, wanted) for v in value)
    if value is None:
        return any(w in ("", "None", "null") for w in wanted)
    return str(value) in wanted


class Query:
    """Neutron's list conventions, parsed from the query string."""

    def __init__(self, params: Any) -> None:
        self.fields = [f for v in params.getlist("fields") for f in v.split(",") if f]
        self.filters: dict[str, list[str]] = {}
        for key in params.keys():
            if key not in _CONTROL:
                self.filters[key] = params.getlist(key)
        self.tags = {k: [t for v in params.getlist(k) for t in v.split(",") if t]
                     for k in ("tags", "tags-any", "not-tags", "not-tags-any") if k in params}
        self.sort_keys = params.getlist("sort_key")
        self.sort_dirs = params.getlist("sort_dir")
        for d in self.sort_dirs:
            if d not in ("asc", "desc"):
                raise bad_request(f"Invalid input for operation: sort_dir {d} is not "
                                  "asc or desc.", "HTTPBadRequest")
        if self.sort_dirs and len(self.sort_dirs) != len(self.sort_keys):
            raise bad_request("The number of sort_keys and sort_dirs must be same",
                              "HTTPBadRequest")
        limit = params.get("limit")
        try:
            self.limit = int(limit) if limit not in (None, "") else 0
        except ValueError:
            raise bad_request(f"Limit must be an integer 0 or greater and not '{limit}'",
                              "HTTPBadRequest") from None
        if self.limit < 0:
            raise bad_request(f"Limit must be an integer 0 or greater and not '{limit}'",
                              "HTTPBadRequest")
        self.marker = params.get("marker")
        self.page_reverse = params.get("page_reverse", "").lower() == "true"

    @staticmethod
    def empty() -> "Query":
        from starlette.datastructures import QueryParams

        return Query(QueryParams(""))

    def keep(self, item: dict[str, Any]) -> bool:
        for key, wanted in self.filters.items():
            if key == "fixed_ips":
                continue  # structured: the resource's own keep() reads it
            if key in item and not _matches(item[key], wanted):
                return False
        if self.tags:
            tags = set(item.get("tags") or [])
            if "tags" in self.tags and not set(self.tags["tags"]) <= tags:
                return False
            if "tags-any" in self.tags and not set(self.tags["tags-any"]) & tags:
                return False
            if "not-tags" in self.tags and set(self.tags["not-tags"]) <= tags:
                return False
            if "not-tags-any" in self.tags and set(self.tags["not-tags-any"]) & tags:
                return False
        return True

    def select(self, item: dict[str, Any]) -> dict[str, Any]:
        if not self.fields:
            return item
        return {k: v for k, v in item.items() if k in self.fields}

    def page(self, items: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], bool]:
        """Sorted, from the marker on, at most ``limit``; and whether more follow."""
        keys = [(k, d) for k, d in zip(self.sort_keys, self.sort_dirs or
                                       ["asc"] * len(self.sort_keys))]
        for k, _ in keys:
            if items and k not in items[0]:
                raise bad_request(f"{k} is an invalid attribute for sort_keys",
                                  "HTTPBadRequest")
        items = sorted(items, key=lambda i: i["id"])
        for k, d in reversed(keys):
            items.sort(key=lambda i: (i.get(k) is not None, str(i.get(k)) if not isinstance(
                i.get(k), (int, float)) or isinstance(i.get(k), bool) else i.get(k)),
                       reverse=(d == "desc"))
        if self.page_reverse:
            items.reverse()
        if self.marker:
            ids = [i["id"] for i in items]
            if self.marker in ids:
                items = items[ids.index(self.marker) + 1:]
        more = bool(self.limit) and len(items) > self.limit
        if self.limit:
            items = items[:self.limit]
        if self.page_reverse:
            items.reverse()
        return items, more


class Kind:
    """Base of a resource manager (networks, subnets, ports, ...)."""

    model: Any = None
    member = ""
    collection = ""
    shared_visible = False  # visible to every project (not only the owner)

    def __init__(self, net: "Networking") -> None:
        self.net = net
        self.db: Database = net.db

    # -- hooks ----------------------------------------------------------------
    def view(self, s: Session, row: Any, ctx: RequestContext) -> dict[str, Any]:
        raise NotImplementedError

    def visible(self, s: Session, row: Any, ctx: RequestContext) -> bool:
        return ctx.is_admin or row.project_id == ctx.project_id

    def writable(self, s: Session, row: Any, ctx: RequestContext) -> bool:
        return ctx.is_admin or row.project_id == ctx.project_id

    # -- helpers --------------------------------------------------------------
    def load(self, s: Session, id_: str, ctx: RequestContext | None = None,
             write: bool = False, action: str = "update") -> Any:
        row = s.get(self.model, id_)
        if row is None or (ctx is not None and not self.visible(s, row, ctx)):
            raise not_found(self.member, id_)
        if write and ctx is not None and not self.writable(s, row, ctx):
            raise errors.Forbidden(f"(rule:{action}_{self.member}) is disallowed by policy",
                                   error_type="PolicyNotAuthorized")
        return row

    def owner(self, ctx: RequestContext, body: dict[str, Any]) -> str:
        """The project a new resource belongs to (another one only for admins)."""
        project = body.pop("project_id", None) or body.pop("tenant_id", None)
        body.pop("tenant_id", None)
        if project and project != ctx.project_id and not ctx.is_admin:
            raise errors.Forbidden(f"(rule:create_{self.member}) is disallowed by policy",
                                   error_type="PolicyNotAuthorized")
        project = project or ctx.project_id
        if not project:
            raise bad_request("A project_id is required (the token has no project scope).")
        return project

    def new_row(self, project_id: str, body: dict[str, Any], **columns: Any) -> Any:
        now = utcnow()
        row = self.model(id=new_uuid(), project_id=project_id, name=body.get("name") or "",
                         description=body.get("description") or "", revision_number=0,
                         created_at=now, updated_at=now, tags=[], attrs={}, **columns)
        return row

    @staticmethod
    def touch(row: Any) -> None:
        row.revision_number = (row.revision_number or 0) + 1
        row.updated_at = utcnow()

    @staticmethod
    def check_revision(row: Any, if_match: str | None) -> None:
        if not if_match:
            return
        for part in if_match.split(","):
            m = re.match(r"\s*revision_number=(\d+)\s*$", part)
            if m and int(m.group(1)) != row.revision_number:
                raise errors.PreconditionFailed(
                    f"Constrained to {m.group(1)}, but current revision is "
                    f"{row.revision_number}", error_type="RevisionNumberConstraintFailed")

    # -- generic read paths ---------------------------------------------------
    def rows(self, s: Session, ctx: RequestContext, query: Query) -> list[Any]:
        stmt = select(self.model)
        for column in ("id", "network_id", "device_id", "project_id", "security_group_id"):
            wanted = query.filters.get(column)
            if column == "project_id" and not wanted:
                wanted = query.filters.get("tenant_id")
            if wanted and hasattr(self.model, column):
                stmt = stmt.where(getattr(self.model, column).in_(wanted))
        return list(s.scalars(stmt))

    def list(self, ctx: RequestContext, query: Query) -> tuple[list[dict[str, Any]], bool]:
        """Visible items matching the query, sorted and paged (``fields`` not applied yet)."""
        check_filters(query)
        with self.db.read() as s:
            items = [self.view(s, r, ctx) for r in self.rows(s, ctx, query)
                     if self.visible(s, r, ctx)]
        items = [i for i in items if query.keep(i) and self.keep(i, query)]
        return query.page(items)

    def keep(self, item: dict[str, Any], query: Query) -> bool:
        """Resource-specific filters (ports' ``fixed_ips``)."""
        return True

    def get(self, ctx: RequestContext, id_: str) -> dict[str, Any]:
        with self.db.read() as s:
            return self.view(s, self.load(s, id_, ctx), ctx)

    # -- tags -----------------------------------------------------------------
    def set_tags(self, ctx: RequestContext, id_: str, tags: list[str] | None,
                 add: str | None = None, remove: str | None = None) -> list[str]:
        with self.db.write() as s:
            row = self.load(s, id_, ctx, write=True)
            current = list(row.tags or [])
            if tags is not None:
                current = list(dict.fromkeys(tags))
            if add is not None and add not in current:
                current.append(add)
            if remove is not None:
                if remove not in current:
                    raise errors.NotFound(f"Tag {remove} could not be found for "
                                          f"{self.member} {id_}.", error_type="TagNotFound")
                current.remove(remove)
            row.tags = current
            self.touch(row)
            return current
