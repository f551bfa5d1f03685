"""/types (extra specs, access) and /qos-specs."""

from __future__ import annotations

from typing import Any

from pocketstack.api import errors
from pocketstack.api.request import Reply, Request
from pocketstack.volume import common
from pocketstack.volume.api.volumes import body_of
from pocketstack.volume.common import vroute
from pocketstack.volume.types import Types


def _specs_body(req: Request) -> dict[str, Any]:
    body = req.json()
    if not isinstance(body, dict) or not isinstance(body.get("extra_specs"), dict):
        raise errors.BadRequest("Missing required element 'extra_specs' in request body.")
    return body["extra_specs"]


def one_spec(req: Request, key: str) -> dict[str, Any]:
    """The body of a PUT on one spec key (extra specs, group specs): exactly ``{key: value}``."""
    body = req.json()
    if not isinstance(body, dict) or len(body) != 1:
        raise errors.BadRequest("Request body contains too many items.")
    if key not in body:
        raise errors.BadRequest("Request body and URI mismatch")
    return body

class TypesApi:
    def __init__(self, types: Types) -> None:
        self.types = types

    @vroute("POST", "/types", policy="volume:type:manage")
    def create(self, req: Request) -> dict[str, Any]:
        created = self.types.create(body_of(req, "volume_type"))
        created.pop("qos_specs_id", None)  # shown by show and list only, as Cinder
        return {"volume_type": created}

    @vroute("GET", "/types", policy="volume:type:get_all")
    def list(self, req: Request) -> dict[str, Any]:
        items = self.types.list(req.ctx.project_id, req.ctx.is_admin,
                                req.query.get("is_public"))
        page, _ = common.paginate(req, items, "types")
        return {"volume_types": page}

    @vroute("GET", "/types/{type_id}", policy="volume:type:get")
    def get(self, req: Request, type_id: str) -> dict[str, Any]:
        return {"volume_type": self.types.get(type_id, req.ctx.project_id, req.ctx.is_admin)}

    @vroute("PUT", "/types/{type_id}", policy="volume:type:manage")
    def update(self, req: Request, type_id: str) -> dict[str, Any]:
        updated = self.types.update(type_id, body_of(req, "volume_type"))
        for key in ("qos_specs_id", "os-volume-type-access:is_public"):
            updated.pop(key, None)  # Cinder's update answer lacks them
        return {"volume_type": updated}

    @vroute("DELETE", "/types/{type_id}", status=202, policy="volume:type:manage")
    def delete(self, req: Request, type_id: str) -> None:
        self.types.delete(type_id)

    @vroute("GET", "/types/{type_id}/extra_specs", policy="volume:type:get")
    def specs(self, req: Request, type_id: str) -> dict[str, Any]:
        return {"extra_specs": self.types.specs(type_id)}

    @vroute("POST", "/types/{type_id}/extra_specs", policy="volume:type:manage")
    def set_specs(self, req: Request, type_id: str) -> dict[str, Any]:
        return {"extra_specs": self.types.set_specs(type_id, _specs_body(req))}

    @vroute("GET", "/types/{type_id}/extra_specs/{key}", policy="volume:type:get")
    def get_spec(self, req: Request, type_id: str, key: str) -> dict[str, Any]:
        specs = self.types.specs(type_id)
        if key not in specs:
            raise errors.NotFound(f"Volume Type {type_id} has no extra specs with key {key}.")
        return {key: specs[key]}

    @vroute("PUT", "/types/{type_id}/extra_specs/{key}", policy="volume:type:manage")
    def put_spec(self, req: Request, type_id: str, key: str) -> dict[str, Any]:
        return self.types.set_specs(type_id, one_spec(req, key))

    @vroute("DELETE", "/types/{type_id}/extra_specs/{key}", status=202,
            policy="volume:type:manage")
    def delete_spec(self, req: Request, type_id: str, key: str) -> None:
        self.types.delete_spec(type_id, key)

    @vroute("GET", "/types/{type_id}/os-volume-type-access", policy="volume:type:access")
    def access(self, req: Request, type_id: str) -> dict[str, Any]:
        return {"volume_type_access": self.types.access_list(type_id)}

    @vroute("POST", "/types/{type_id}/action", status=202, policy="volume:type:access")
    def action(self, req: Request, type_id: str) -> None:
        body = req.json()
        if not isinstance(body, dict) or len(body) != 1:
            raise errors.BadRequest("Invalid request body: exactly one action is expected.")
        name, args = next(iter(body.items()))
        project = (args or {}).get("project") if isinstance(args, dict) else None
        if name not in ("addProjectAccess", "removeProjectAccess"):
            raise errors.BadRequest(f"There is no such action: {name}")
        if not project:
            raise errors.BadRequest("Missing required element 'project'.")
        if name == "addProjectAccess":
            self.types.add_access(type_id, project)
        else:
            self.types.remove_access(type_id, project)


class QosApi:
    def __init__(self, types: Types) -> None:
        self.types = types

    @staticmethod
    def _view(req: Request, q: dict[str, Any]) -> dict[str, Any]:
        return q

    @vroute("POST", "/qos-specs", policy="volume:qos:manage")
    def create(self, req: Request) -> dict[str, Any]:
        q = self.types.qos_create(body_of(req, "qos_specs"))
        return {"qos_specs": q, "links": common.links(req, "qos-specs", q["id"])}

    @vroute("GET", "/qos-specs", policy="volume:qos:get")
    def list(self, req: Request) -> dict[str, Any]:
        page, _ = common.paginate(req, self.types.qos_list(), "qos-specs")
        return {"qos_specs": page}

    @vroute("GET", "/qos-specs/{qos_id}", policy="volume:qos:get")
    def get(self, req: Request, qos_id: str) -> dict[str, Any]:
        q = self.types.qos_get(qos_id)
        return {"qos_specs": q, "links": common.links(req, "qos-specs", q["id"])}

    @vroute("PUT", "/qos-specs/{qos_id}", policy="volume:qos:manage")
    def update(self, req: Request, qos_id: str) -> dict[str, Any]:
        return {"qos_specs": self.types.qos_set(qos_id, body_of(req, "qos_specs"))}

    @vroute("DELETE", "/qos-specs/{qos_id}", status=202, policy="volume:qos:manage")
    def delete(self, req: Request, qos_id: str) -> None:
        self.types.qos_delete(qos_id, common.as_bool(req.query.get("force", False), "force"))

    @vroute("PUT", "/qos-specs/{qos_id}/delete_keys", status=202, policy="volume:qos:manage")
    def delete_keys(self, req: Request, qos_id: str) -> None:
        body = req.json()
        keys = body.get("keys") if isinstance(body, dict) else None
        if not isinstance(keys, list):
            raise errors.BadRequest("Missing required element 'keys' in request body.")
        self.types.qos_delete_keys(qos_id, [str(k) for k in keys])

    @vroute("GET", "/qos-specs/{qos_id}/associations", policy="volume:qos:get")
    def associations(self, req: Request, qos_id: str) -> dict[str, Any]:
        return {"qos_associations": self.types.qos_associations(qos_id)}

    @vroute("GET", "/qos-specs/{qos_id}/associate", status=202, policy="volume:qos:manage")
    def associate(self, req: Request, qos_id: str) -> None:
        self.types.qos_associate(qos_id, req.query.get("vol_type_id"))

    @vroute("GET", "/qos-specs/{qos_id}/disassociate", status=202,
            policy="volume:qos:manage")
    def disassociate(self, req: Request, qos_id: str) -> None:
        self.types.qos_disassociate(qos_id, req.query.get("vol_type_id"))

    @vroute("GET", "/qos-specs/{qos_id}/disassociate_all", status=202,
            policy="volume:qos:manage")
    def disassociate_all(self, req: Request, qos_id: str) -> None:
        self.types.qos_disassociate(qos_id, None, all_=True)


__all__ = ["TypesApi", "QosApi", "Reply"]


class DefaultTypesApi:
    def __init__(self, types: Types) -> None:
        self.types = types

    @vroute("PUT", "/default-types/{target_project}", policy="volume:type:manage",
            min_version="3.62")
    def set(self, req: Request, target_project: str) -> dict[str, Any]:
        body = body_of(req, "default_type")
        return {"default_type": self.types.set_default(target_project,
                                                       body.get("volume_type"))}

    @vroute("GET", "/default-types/{target_project}", policy="volume:type:manage",
            min_version="3.62")
    def get(self, req: Request, target_project: str) -> dict[str, Any]:
        return {"default_type": self.types.get_default(target_project)}

    @vroute("GET", "/default-types", policy="volume:type:manage", min_version="3.62")
    def list(self, req: Request) -> dict[str, Any]:
        return {"default_types": self.types.list_defaults()}

    @vroute("DELETE", "/default-types/{target_project}", status=204,
            policy="volume:type:manage", min_version="3.62")
    def delete(self, req: Request, target_project: str) -> None:
        self.types.unset_default(target_project)
