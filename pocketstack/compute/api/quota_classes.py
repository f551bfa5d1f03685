"""/os-quota-class-sets/{id}: quota classes. As in Nova only the ``default`` class is
used (it overrides the configured defaults of every project); other classes are kept
and shown but apply to nobody."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pocketstack.api import errors
from pocketstack.api.request import Request
from pocketstack.api.routing import route
from pocketstack.compute.quotas import INJECTED, LEGACY
from pocketstack.policy import RuleDefault, register_defaults

if TYPE_CHECKING:
    from pocketstack.compute.service import ComputeService

P = "os_compute_api:os-quota-class-sets:"
register_defaults([RuleDefault(P + "show", "rule:admin_required"),
                   RuleDefault(P + "update", "rule:admin_required")])
_BASE = ("instances", "cores", "ram", "metadata_items", "key_pairs")
_OLD_NETWORK = ("floating_ips", "fixed_ips", "security_groups", "security_group_rules")


def _keys(req: Request) -> tuple[str, ...]:
    """The resources a quota class shows: 2.50 swaps the network ones for server
    groups, 2.57 drops the injected files."""
    if not req.at_least("2.50"):
        return _BASE + INJECTED + _OLD_NETWORK
    if not req.at_least("2.57"):
        return _BASE + INJECTED + ("server_groups", "server_group_members")
    return _BASE + ("server_groups", "server_group_members")


class QuotaClassSets:
    def __init__(self, svc: "ComputeService") -> None:
        self.quotas = svc.quotas

    def _view(self, req: Request, name: str) -> dict[str, Any]:
        values = {**LEGACY, **self.quotas.class_limits(name)}
        return {k: values[k] for k in _keys(req)}

    @route("GET", "/v2.1/os-quota-class-sets/{class_name}", policy=P + "show")
    def show(self, req: Request, class_name: str) -> dict[str, Any]:
        return {"quota_class_set": {"id": class_name, **self._view(req, class_name)}}

    @route("PUT", "/v2.1/os-quota-class-sets/{class_name}", policy=P + "update")
    def update(self, req: Request, class_name: str) -> dict[str, Any]:
        body = req.json()
        values = body.get("quota_class_set") if isinstance(body, dict) else None
        if not isinstance(values, dict) or len(body) != 1:
            raise errors.BadRequest("Invalid input for field/attribute quota_class_set. "
                                    "'quota_class_set' is a required property")
        if len(class_name) > 255:
            raise errors.BadRequest("quota_class name must be at most 255 characters")
        allowed = set(_keys(req)) | ({"networks"} if not req.at_least("2.50") else set())
        clean = {}
        for k, v in values.items():
            if k not in allowed:
                raise errors.BadRequest("Invalid input for field/attribute quota_class_set. "
                                        f"Additional properties are not allowed ({k!r} was "
                                        "unexpected)")
            if isinstance(v, str) and v.lstrip("-").isdigit():
                v = int(v)
            if isinstance(v, bool) or not isinstance(v, int) or v < -1:
                raise errors.BadRequest(f"Invalid input for field/attribute {k}. Value: "
                                        f"{v}. must be an integer >= -1")
            clean[k] = v
        self.quotas.update_class(class_name, clean)
        return {"quota_class_set": self._view(req, class_name)}
