"""/flavors (+detail), os-extra_specs and os-flavor-access."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.responses import Response

from pocketstack.api import errors
from pocketstack.api.request import Request
from pocketstack.api.routing import route
from pocketstack.api.validation import validate
from pocketstack.compute.extra_specs import validate_extra_spec
from pocketstack.compute.api import schemas, views
from pocketstack.compute.api.common import bool_param, int_param, next_link

if TYPE_CHECKING:
    from pocketstack.compute.service import ComputeService

P = "os_compute_api:"


class Flavors:
    def __init__(self, svc: "ComputeService") -> None:
        self.flavors = svc.flavors

    def _list(self, req: Request, detail: bool) -> dict[str, Any]:
        q = req.query
        raw = q.get("is_public")
        if raw is None:
            is_public: bool | None = True
        elif raw.lower() == "none":
            is_public = None
        else:
            from pocketstack.compute.api.common import bool_param

            is_public = bool_param(raw)
        admin = req.ctx.is_admin
        if not admin and is_public is None:
            is_public = True
        rows = self.flavors.list(req.ctx.project_id, admin, is_public,
                                 int_param(req, "minRam"), int_param(req, "minDisk"))
        key = q.get("sort_key", "flavorid")
        attr = {"flavorid": "flavorid", "name": "name", "memory_mb": "memory_mb",
                "vcpus": "vcpus", "root_gb": "root_gb", "id": "id"}.get(key)
        if attr is None:
            raise errors.BadRequest(f"Invalid input for query parameters sort_key. Value: {key}")
        reverse = q.get("sort_dir", "asc") == "desc"
        if attr == "flavorid":
            rows.sort(key=lambda f: (not f.flavorid.isdigit(), int(f.flavorid)
                                     if f.flavorid.isdigit() else 0, f.flavorid),
                      reverse=reverse)
        else:
            rows.sort(key=lambda f: getattr(f, attr), reverse=reverse)
        marker = q.get("marker")
        if marker is not None:
            idx = next((i for i, f in enumerate(rows) if f.flavorid == marker), None)
            if idx is None:
                raise errors.BadRequest(f"marker [{marker}] not found")
            rows = rows[idx + 1:]
        limit = int_param(req, "limit")
        if limit is not None:
            rows = rows[:limit]
        out: dict[str, Any] = {"flavors": [views.flavor(req, f, detail) for f in rows]}
        nxt = next_link(req, "flavors/detail" if detail else "flavors", rows, limit,
                        rows[-1].flavorid if rows else "")
        if nxt:
            out["flavors_links"] = nxt
        return out

    @route("GET", "/v2.1/flavors")
    def index(self, req: Request) -> dict[str, Any]:
        return self._list(req, False)

    @route("GET", "/v2.1/flavors/detail")
    def detail(self, req: Request) -> dict[str, Any]:
        return self._list(req, True)

    @route("GET", "/v2.1/flavors/{flavor_id}")
    def show(self, req: Request, flavor_id: str) -> dict[str, Any]:
        f = self.flavors.get(flavor_id, req.ctx.project_id, req.ctx.is_admin)
        return {"flavor": views.flavor(req, f)}

    @route("POST", "/v2.1/flavors", policy=f"{P}os-flavor-manage:create")
    def create(self, req: Request) -> dict[str, Any]:
        body = validate(schemas.flavor_create, req.json())["flavor"]
        if "description" in body and not req.at_least("2.55"):
            raise errors.BadRequest("Additional properties are not allowed ('description' "
                                    "was unexpected)")
        for key in ("ram", "vcpus", "disk", "OS-FLV-EXT-DATA:ephemeral", "swap"):
            if body.get(key) in ("", None):
                continue
            try:
                body[key] = int(body[key])
            except ValueError:
                raise errors.BadRequest(f"Invalid input for field '{key}'") from None
        for key in ("ram", "vcpus", "disk", "OS-FLV-EXT-DATA:ephemeral", "swap"):
            if isinstance(body.get(key), int) and body[key] > 2147483647:
                raise errors.BadRequest(f"Invalid input for field '{key}': must be <= "
                                        "2147483647")
        if body["ram"] < 1 or body["vcpus"] < 1 or body["disk"] < 0:
            raise errors.BadRequest("Invalid input for field 'flavor': ram and vcpus must be "
                                    ">= 1, disk >= 0")
        if "os-flavor-access:is_public" in body:
            body["os-flavor-access:is_public"] = bool_param(body["os-flavor-access:is_public"])
        if isinstance(body.get("id"), int):
            body["id"] = str(body["id"])
        name = body["name"].strip()
        if not name:
            raise errors.BadRequest("Invalid input for field 'name': must not be blank")
        body["name"] = name
        return {"flavor": views.flavor(req, self.flavors.create(body))}

    @route("PUT", "/v2.1/flavors/{flavor_id}", min_version="2.55",
           policy=f"{P}os-flavor-manage:update")
    def update(self, req: Request, flavor_id: str) -> dict[str, Any]:
        body = validate(schemas.flavor_update, req.json())["flavor"]
        return {"flavor": views.flavor(req, self.flavors.update_description(
            flavor_id, body["description"]))}

    @route("DELETE", "/v2.1/flavors/{flavor_id}", status=202,
           policy=f"{P}os-flavor-manage:delete")
    def delete(self, req: Request, flavor_id: str) -> None:
        self.flavors.delete(flavor_id)

    # -- access ---------------------------------------------------------------
    @route("GET", "/v2.1/flavors/{flavor_id}/os-flavor-access", policy=f"{P}os-flavor-access")
    def access(self, req: Request, flavor_id: str) -> dict[str, Any]:
        return {"flavor_access": [{"flavor_id": flavor_id, "tenant_id": p}
                                  for p in self.flavors.access(flavor_id)]}

    @route("POST", "/v2.1/flavors/{flavor_id}/action")
    def action(self, req: Request, flavor_id: str) -> dict[str, Any]:
        body = req.json()
        if not isinstance(body, dict) or len(body) != 1:
            raise errors.BadRequest("Malformed request body")
        name, args = next(iter(body.items()))
        tenant = args.get("tenant") if isinstance(args, dict) else None
        if name not in ("addTenantAccess", "removeTenantAccess"):
            raise errors.BadRequest(f"There is no such action: {name}")
        if not isinstance(tenant, str) or not tenant:
            raise errors.BadRequest(f"Invalid input for field '{name}': 'tenant' is a "
                                    "required property")
        if name == "addTenantAccess":
            req.enforce(f"{P}os-flavor-access:add_tenant_access")
            projects = self.flavors.add_access(flavor_id, tenant)
        else:
            req.enforce(f"{P}os-flavor-access:remove_tenant_access")
            projects = self.flavors.remove_access(flavor_id, tenant)
        return {"flavor_access": [{"flavor_id": flavor_id, "tenant_id": p} for p in projects]}


class FlavorExtras:
    def __init__(self, svc: "ComputeService") -> None:
        self.flavors = svc.flavors

    def _specs(self, req: Request, flavor_id: str) -> dict[str, Any]:
        return dict(self.flavors.get(flavor_id, req.ctx.project_id,
                                     req.ctx.is_admin).extra_specs or {})

    @route("GET", "/v2.1/flavors/{flavor_id}/os-extra_specs",
           policy=f"{P}os-flavor-extra-specs:index")
    def index(self, req: Request, flavor_id: str) -> dict[str, Any]:
        return {"extra_specs": self._specs(req, flavor_id)}

    @route("POST", "/v2.1/flavors/{flavor_id}/os-extra_specs",
           policy=f"{P}os-flavor-extra-specs:create")
    def create(self, req: Request, flavor_id: str) -> dict[str, Any]:
        body = validate(schemas.extra_specs, req.json())["extra_specs"]
        if req.at_least("2.86"):
            for key, value in body.items():
                validate_extra_spec(key, value)
        specs = {k: str(v) if not isinstance(v, bool) else str(v) for k, v in body.items()}
        self.flavors.set_extra_specs(flavor_id, specs)
        return {"extra_specs": specs}

    @route("GET", "/v2.1/flavors/{flavor_id}/os-extra_specs/{key}",
           policy=f"{P}os-flavor-extra-specs:show")
    def show(self, req: Request, flavor_id: str, key: str) -> dict[str, Any]:
        specs = self._specs(req, flavor_id)
        if key not in specs:
            raise errors.NotFound(f"Flavor {flavor_id} has no extra specs with key {key}.")
        return {key: specs[key]}

    @route("PUT", "/v2.1/flavors/{flavor_id}/os-extra_specs/{key}",
           policy=f"{P}os-flavor-extra-specs:update")
    def update(self, req: Request, flavor_id: str, key: str) -> dict[str, Any]:
        body = req.json()
        if not isinstance(body, dict) or len(body) != 1 or key not in body:
            raise errors.BadRequest("Request body and URI mismatch")
        validate(schemas.extra_specs, {"extra_specs": body})
        if req.at_least("2.86"):
            validate_extra_spec(key, body[key])
        value = str(body[key])
        self.flavors.set_extra_specs(flavor_id, {key: value})
        return {key: value}

    @route("DELETE", "/v2.1/flavors/{flavor_id}/os-extra_specs/{key}", status=200,
           policy=f"{P}os-flavor-extra-specs:delete")
    def delete(self, req: Request, flavor_id: str, key: str) -> Response:
        self.flavors.delete_extra_spec(flavor_id, key)
        return Response(status_code=200)
