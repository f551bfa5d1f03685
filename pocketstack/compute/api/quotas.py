"""/limits and /os-quota-sets."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pocketstack.api import errors
from pocketstack.api.request import Request
from pocketstack.api.routing import route
from pocketstack.api.validation import validate
from pocketstack.compute.api import schemas
from pocketstack.compute.quotas import LEGACY

if TYPE_CHECKING:
    from pocketstack.compute.service import ComputeService

P = "os_compute_api:"


class Limits:
    def __init__(self, svc: "ComputeService") -> None:
        self.quotas = svc.quotas

    @route("GET", "/v2.1/limits", policy=f"{P}limits")
    def index(self, req: Request) -> dict[str, Any]:
        project_id = req.ctx.project_id or ""
        other = req.query.get("tenant_id")
        if other and other != project_id:
            req.enforce(f"{P}limits:other_project", {"project_id": other})
            project_id = other
        lim = self.quotas.limits(project_id)
        used = self.quotas.usage(project_id, req.ctx.user_id)
        absolute: dict[str, Any] = {
            "maxTotalInstances": lim["instances"], "maxTotalCores": lim["cores"],
            "maxTotalRAMSize": lim["ram"], "maxServerMeta": lim["metadata_items"],
            "maxTotalKeypairs": lim["key_pairs"], "maxServerGroups": lim["server_groups"],
            "maxServerGroupMembers": lim["server_group_members"],
            "totalInstancesUsed": used["instances"], "totalCoresUsed": used["cores"],
            "totalRAMUsed": used["ram"], "totalServerGroupsUsed": used["server_groups"]}
        if not req.at_least("2.39"):
            absolute["maxImageMeta"] = lim["metadata_items"]
        if not req.at_least("2.57"):
            absolute["maxPersonality"] = lim["injected_files"]
            absolute["maxPersonalitySize"] = lim["injected_file_content_bytes"]
        if not req.at_least("2.36"):
            absolute.update({"maxSecurityGroups": LEGACY["security_groups"],
                             "maxSecurityGroupRules": LEGACY["security_group_rules"],
                             "maxTotalFloatingIps": LEGACY["floating_ips"],
                             "totalSecurityGroupsUsed": 0, "totalFloatingIpsUsed": 0})
        return {"limits": {"rate": [], "absolute": absolute}}


class QuotaSets:
    def __init__(self, svc: "ComputeService") -> None:
        self.quotas = svc.quotas

    def _check_project(self, req: Request, project_id: str, rule: str) -> None:
        req.enforce(f"{P}os-quota-sets:{rule}", {"project_id": project_id})

    @route("GET", "/v2.1/os-quota-sets/{project_id}/defaults",
           policy=f"{P}os-quota-sets:defaults")
    def defaults(self, req: Request, project_id: str) -> dict[str, Any]:
        values = quota_shape(req, self.quotas.defaults())
        return {"quota_set": {"id": project_id, **values}}

    @route("GET", "/v2.1/os-quota-sets/{project_id}/detail")
    def detail(self, req: Request, project_id: str) -> dict[str, Any]:
        self._check_project(req, project_id, "detail")
        user_id = req.query.get("user_id")
        lim = quota_shape(req, self.quotas.limits(project_id, user_id=user_id))
        used = self.quotas.usage(project_id, user_id or req.ctx.user_id,
                                 per_user=bool(user_id))
        return {"quota_set": {"id": project_id, **{
            k: {"limit": v, "in_use": used.get(k, 0), "reserved": 0}
            for k, v in lim.items()}}}

    @route("GET", "/v2.1/os-quota-sets/{project_id}")
    def show(self, req: Request, project_id: str) -> dict[str, Any]:
        self._check_project(req, project_id, "show")
        limits = self.quotas.limits(project_id, user_id=req.query.get("user_id"))
        return {"quota_set": {"id": project_id, **quota_shape(req, limits)}}

    @route("PUT", "/v2.1/os-quota-sets/{project_id}", policy=f"{P}os-quota-sets:update")
    def update(self, req: Request, project_id: str) -> dict[str, Any]:
        body = validate(schemas.quota_update, req.json())["quota_set"]
        force = bool(body.pop("force", False))
        legacy = [k for k in body if k in LEGACY or (k.startswith("injected_file") and
                                                     req.at_least("2.57"))]
        if legacy and req.at_least("2.36"):
            raise errors.BadRequest(f"Invalid input for field 'quota_set': Additional "
                                    f"properties are not allowed ({legacy[0]!r} was "
                                    "unexpected)")
        values = {k: int(v) for k, v in body.items() if k not in LEGACY}
        bad = [k for k, v in values.items() if v < -1]
        if bad:
            raise errors.BadRequest(f"Quota limit {values[bad[0]]} for {bad[0]} must be "
                                    "greater than or equal to -1.")
        user_id = req.query.get("user_id")
        if user_id and not force:  # as Nova: a user's limit fits inside the project's
            project = self.quotas.limits(project_id)
            for k, v in values.items():
                most = project.get(k, -1)
                if most != -1 and (v == -1 or v > most):
                    raise errors.BadRequest(f"Quota limit {v} for {k} must be less than or "
                                            f"equal to {most}.")
        self.quotas.update(project_id, values, user_id or None)
        out = quota_shape(req, self.quotas.limits(project_id, user_id=user_id or None))
        return {"quota_set": out}

    @route("DELETE", "/v2.1/os-quota-sets/{project_id}", status=202,
           policy=f"{P}os-quota-sets:delete")
    def delete(self, req: Request, project_id: str) -> None:
        self.quotas.reset(project_id, req.query.get("user_id") or None)


def quota_shape(req: Request, values: dict[str, Any]) -> dict[str, Any]:
    from pocketstack.compute.quotas import Quotas

    return Quotas.shape(values, req.at_least)
