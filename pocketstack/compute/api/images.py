"""Images in the Compute API: the createImage/createBackup server actions and Nova's
(deprecated, up to 2.35) /images proxy of the Image service."""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any, Callable

from pocketstack.api import errors
from pocketstack.api.request import Reply, Request
from pocketstack.api.routing import route
from pocketstack.api.validation import validate
from pocketstack.compute import disk_config
from pocketstack.compute.api import schemas
from pocketstack.compute.api.views import links
from pocketstack.compute.images import image_service
from pocketstack.compute.snapshots import Snapshots
from pocketstack.policy import RuleDefault, register_defaults

if TYPE_CHECKING:
    from pocketstack.compute.service import ComputeService

P = "os_compute_api:"
register_defaults([RuleDefault(f"{P}servers:create_image", "rule:project_member_or_admin"),
                   RuleDefault(f"{P}os-create-backup", "rule:project_member_or_admin"),
                   RuleDefault(f"{P}servers:rebuild", "rule:project_member_or_admin")])
_REBUILD_KEYS = {"imageRef", "name", "adminPass", "metadata", "accessIPv4", "accessIPv6",
                 "OS-DCF:diskConfig", "preserve_ephemeral", "personality", "description",
                 "key_name", "user_data", "trusted_image_certificates", "hostname"}
_STATUS = {"queued": "SAVING", "saving": "SAVING", "uploading": "SAVING",
           "importing": "SAVING", "active": "ACTIVE", "killed": "ERROR",
           "deleted": "DELETED", "pending_delete": "DELETED", "deactivated": "ERROR"}
_PROGRESS = {"queued": 25, "saving": 50, "active": 100}
_CORE = {"id", "name", "status", "visibility", "protected", "os_hidden", "owner", "size",
         "virtual_size", "checksum", "os_hash_algo", "os_hash_value", "created_at",
         "updated_at", "self", "file", "schema", "tags", "disk_format", "container_format",
         "min_ram", "min_disk", "direct_url", "locations", "stores"}


def _metadata(args: Any, action: str) -> dict[str, str]:
    md = args.get("metadata", {}) if isinstance(args, dict) else {}
    try:
        return validate(schemas.METADATA, md)
    except errors.BadRequest:
        raise errors.BadRequest(f"Invalid input for field/attribute {action}.metadata.") \
            from None


def _name(args: Any, action: str) -> str:
    name = args.get("name") if isinstance(args, dict) else None
    if not isinstance(name, str) or not name.strip() or len(name) > 255:
        raise errors.BadRequest(f"Invalid input for field/attribute {action}. 'name' is a "
                                "required property")
    return name


def image_actions(svc: "ComputeService") -> dict[str, Callable[..., Any]]:
    """Server action name -> handler(req, inst, args), for /servers/{id}/action."""
    snapshots = Snapshots(svc)

    def reply(req: Request, image: dict[str, Any]) -> Reply:
        base = svc.cloud.base_url(image_service(svc.cloud)).rstrip("/")
        headers = {"Location": f"{base}/v2/images/{image['id']}"}
        body = {"image_id": image["id"]} if req.at_least("2.45") else None
        return Reply(body, 202, headers)

    def create_image(req: Request, inst: Any, args: Any) -> Reply:
        req.enforce(f"{P}servers:create_image", {"project_id": inst.project_id,
                                                  "user_id": inst.user_id})
        image = snapshots.create(req.ctx, inst, _name(args, "createImage"),
                                 _metadata(args, "createImage"))
        return reply(req, image)

    def create_backup(req: Request, inst: Any, args: Any) -> Reply:
        req.enforce(f"{P}os-create-backup", {"project_id": inst.project_id,
                                             "user_id": inst.user_id})
        name = _name(args, "createBackup")
        kind, rotation = args.get("backup_type"), args.get("rotation")
        if not isinstance(kind, str) or not kind:
            raise errors.BadRequest("Invalid input for field/attribute createBackup. "
                                    "'backup_type' is a required property")
        try:
            rotation = int(rotation)
            if rotation < 0 or isinstance(args.get("rotation"), bool):
                raise ValueError
        except (TypeError, ValueError):
            raise errors.BadRequest("Invalid input for field/attribute rotation. Value: "
                                    f"{args.get('rotation')}. rotation must be >= 0") from None
        image = snapshots.create(req.ctx, inst, name, _metadata(args, "createBackup"),
                                 extra={"image_type": "backup", "backup_type": kind},
                                 action="createBackup", rotation=rotation)
        return reply(req, image)

    def rebuild_server(req: Request, inst: Any, args: Any) -> Reply:
        from pocketstack.compute.api import views
        from pocketstack.compute.api.servers import _UPDATE_HIDDEN
        from pocketstack.compute.rebuild import rebuild

        req.enforce(f"{P}servers:rebuild", {"project_id": inst.project_id,
                                             "user_id": inst.user_id})
        if not isinstance(args, dict) or not isinstance(args.get("imageRef"), str) or \
                not args["imageRef"]:
            raise errors.BadRequest("Invalid input for field/attribute rebuild. 'imageRef' "
                                    "is a required property")
        extra = set(args) - _REBUILD_KEYS
        if "personality" in args:
            from pocketstack.compute.api.servers import check_personality

            check_personality(svc, req, args["personality"])
        if "hostname" in args:
            from pocketstack.compute.api.servers import check_hostname

            check_hostname(req, args["hostname"])
        if extra:
            raise errors.BadRequest("Additional properties are not allowed "
                                    f"('{sorted(extra)[0]}' was unexpected)")
        name = args.get("name")
        if name is not None and (not isinstance(name, str) or not name.strip() or
                                 len(name) > 255):
            raise errors.BadRequest("Invalid input for field/attribute name.")
        md = args.get("metadata")
        if md is not None and (not isinstance(md, dict) or any(
                not isinstance(v, str) for v in md.values())):
            raise errors.BadRequest("Invalid input for field/attribute metadata.")
        updated = rebuild(svc, req.ctx, inst, args, reimage=req.at_least("2.93"))
        out = views.server(svc, req, updated, show=True)
        if not req.at_least("2.75"):
            out = {k: v for k, v in out.items() if not k.startswith(_UPDATE_HIDDEN)}
            out["addresses"] = {n: [{"version": a["version"], "addr": a["addr"]} for a in e]
                                for n, e in out["addresses"].items()}
        if req.at_least("2.54"):
            out["key_name"] = updated.key_name
        if req.at_least("2.57"):  # user_data at the top, never as the extended attribute
            out.pop("OS-EXT-SRV-ATTR:user_data", None)
            out["user_data"] = updated.user_data
        out["adminPass"] = args.get("adminPass") or secrets.token_urlsafe(9)
        return Reply({"server": out}, 202)

    return {"createImage": create_image, "createBackup": create_backup,
            "rebuild": rebuild_server}


def nova_image(req: Request, image: dict[str, Any], detail: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {"id": image["id"], "name": image.get("name"),
                           "links": links(req, "images", image["id"])}
    if not detail:
        return out
    props = {k: v for k, v in image.items() if k not in _CORE}
    out.update({"minRam": image.get("min_ram") or 0, "minDisk": image.get("min_disk") or 0,
                "metadata": props, "status": _STATUS.get(image.get("status", ""), "UNKNOWN"),
                "progress": _PROGRESS.get(image.get("status", ""), 0),
                "created": image.get("created_at"), "updated": image.get("updated_at"),
                "OS-EXT-IMG-SIZE:size": image.get("size")})
    disk_config.image_view(out, props)
    if props.get("instance_uuid"):
        out["server"] = {"id": props["instance_uuid"],
                         "links": links(req, "servers", props["instance_uuid"])}
    return out


class NovaImages:
    """GET/DELETE /images..., Nova's proxy of the Image service (removed in 2.36)."""

    def __init__(self, svc: "ComputeService") -> None:
        self.svc = svc

    def _service(self) -> Any:
        service = image_service(self.svc.cloud)
        if service is None:
            raise errors.NotFound("There is no Image service in this cloud.")
        return service

    def _get(self, req: Request, image_id: str) -> dict[str, Any]:
        try:
            return self._service().images.get(req.ctx, image_id)
        except errors.NotFound:
            raise errors.NotFound("Image not found.") from None

    def _list(self, req: Request, detail: bool) -> dict[str, Any]:
        params = []
        for key, value in req.query.items():
            if key in ("limit", "marker", "name", "status"):
                params.append((key, value.lower() if key == "status" else value))
            elif key == "server":
                params.append(("instance_uuid", value.rstrip("/").rsplit("/", 1)[-1]))
            elif key == "type":
                params.append(("image_type", value))
        try:
            images, _ = self._service().images.list(req.ctx, params)
        except errors.BadRequest as exc:
            raise errors.BadRequest(exc.message) from None
        return {"images": [nova_image(req, i, detail) for i in images]}

    @route("GET", "/v2.1/images", max_version="2.35")
    def index(self, req: Request) -> dict[str, Any]:
        return self._list(req, False)

    @route("GET", "/v2.1/images/detail", max_version="2.35")
    def detail(self, req: Request) -> dict[str, Any]:
        return self._list(req, True)

    @route("GET", "/v2.1/images/{image_id}", max_version="2.35")
    def show(self, req: Request, image_id: str) -> dict[str, Any]:
        return {"image": nova_image(req, self._get(req, image_id))}

    @route("DELETE", "/v2.1/images", status=204, max_version="2.35")
    def delete_blank(self, req: Request) -> None:
        raise errors.NotFound("Image not found.")

    @route("DELETE", "/v2.1/images/{image_id}", status=204, max_version="2.35")
    def delete(self, req: Request, image_id: str) -> None:
        self._get(req, image_id)
        try:
            self._service().changes.delete(req.ctx, image_id)
        except errors.NotFound:
            raise errors.NotFound("Image not found.") from None

    @route("GET", "/v2.1/images/{image_id}/metadata", max_version="2.35")
    def metadata(self, req: Request, image_id: str) -> dict[str, Any]:
        return {"metadata": nova_image(req, self._get(req, image_id))["metadata"]}

    def _change(self, req: Request, image_id: str, changes: list[dict[str, Any]]
                ) -> dict[str, Any]:
        self._get(req, image_id)
        try:
            image = self._service().changes.update(req.ctx, image_id, changes)
        except errors.NotFound:
            raise errors.NotFound("Image not found.") from None
        return nova_image(req, image)["metadata"]

    def _set(self, req: Request, image_id: str, replace: bool) -> dict[str, Any]:
        md = validate(schemas.metadata, req.json())["metadata"]
        current = nova_image(req, self._get(req, image_id))["metadata"]
        changes = [{"op": "replace" if k in current else "add", "path": k, "value": v}
                   for k, v in md.items()]
        if replace:
            changes += [{"op": "remove", "path": k} for k in current if k not in md]
        return {"metadata": self._change(req, image_id, changes)}

    @route("POST", "/v2.1/images/{image_id}/metadata", max_version="2.35")
    def update_metadata(self, req: Request, image_id: str) -> dict[str, Any]:
        return self._set(req, image_id, replace=False)

    @route("PUT", "/v2.1/images/{image_id}/metadata", max_version="2.35")
    def replace_metadata(self, req: Request, image_id: str) -> dict[str, Any]:
        return self._set(req, image_id, replace=True)

    @route("PUT", "/v2.1/images/{image_id}/metadata/{key}", max_version="2.35")
    def set_metadata_item(self, req: Request, image_id: str, key: str) -> dict[str, Any]:
        meta = validate(schemas.meta_item, req.json())["meta"]
        if key not in meta:
            raise errors.BadRequest("Request body and URI mismatch")
        current = nova_image(req, self._get(req, image_id))["metadata"]
        op = "replace" if key in current else "add"
        md = self._change(req, image_id, [{"op": op, "path": key, "value": meta[key]}])
        return {"meta": {key: md[key]}}

    @route("DELETE", "/v2.1/images/{image_id}/metadata/{key}", status=204,
           max_version="2.35")
    def delete_metadata_item(self, req: Request, image_id: str, key: str) -> None:
        if key not in nova_image(req, self._get(req, image_id))["metadata"]:
            raise errors.NotFound(f"Image metadata key {key} not found.")
        self._change(req, image_id, [{"op": "remove", "path": key}])

    @route("GET", "/v2.1/images/{image_id}/metadata/{key}", max_version="2.35")
    def metadata_item(self, req: Request, image_id: str, key: str) -> dict[str, Any]:
        md = nova_image(req, self._get(req, image_id))["metadata"]
        if key not in md:
            raise errors.NotFound("Image not found.")
        return {"meta": {key: md[key]}}
