"""/v3/{project_id}/volumes: CRUD, metadata, image metadata and actions."""

from __future__ import annotations

import json
from typing import Any

from pocketstack.api import errors
from pocketstack.api.request import Reply, Request
from pocketstack.volume import common
from pocketstack.volume.actions import Actions
from pocketstack.volume.api import views
from pocketstack.volume.common import vroute
from pocketstack.volume.upload import Uploads
from pocketstack.volume.volumes import Volumes

FILTERS = ("name", "status", "bootable", "availability_zone", "volume_type", "project_id",
           "id", "size", "user_id", "snapshot_id", "source_volid", "multiattach")


def body_of(req: Request, key: str) -> dict[str, Any]:
    body = req.json()
    if not isinstance(body, dict) or not isinstance(body.get(key), dict):
        raise errors.BadRequest(f"Missing required element '{key}' in request body.")
    return body[key]


def list_filters(req: Request, allowed: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in allowed:
        if key in req.query:
            out[key] = req.query[key]
    if "name~" in req.query:
        out["name~"] = req.query["name~"]
    meta = req.query.get("metadata")
    if meta:
        try:
            parsed = json.loads(meta)
        except ValueError:
            try:
                import ast
                parsed = ast.literal_eval(meta)
            except (ValueError, SyntaxError):
                raise errors.BadRequest("Invalid input received: metadata filter must be a "
                                        "JSON object") from None
        if not isinstance(parsed, dict):
            raise errors.BadRequest("Invalid input received: metadata filter must be a dict")
        out["metadata"] = parsed
    return out


class VolumesApi:
    def __init__(self, volumes: Volumes) -> None:
        self.volumes = volumes

    @vroute("POST", "/volumes", status=202, policy="volume:create")
    def create(self, req: Request) -> dict[str, Any]:
        body = body_of(req, "volume")
        if "OS-SCH-HNT:scheduler_hints" in req.json():
            pass  # one back end: hints have nothing to choose between
        return {"volume": views.volume(req, self.volumes.create(req.ctx, body), False)}

    def _list(self, req: Request, detail: bool) -> dict[str, Any]:
        items = self.volumes.list(req.ctx.project_id, common.all_projects(req),
                                  list_filters(req, FILTERS))
        total = len(items)
        page, links = common.paginate(req, items, "volumes/detail" if detail else "volumes")
        render = views.volume if detail else views.volume_summary
        out: dict[str, Any] = {"volumes": [render(req, v) for v in page]}
        if links:
            out["volumes_links"] = links
        if req.at_least("3.45") and common.as_bool(req.query.get("with_count", False),
                                                   "with_count"):
            out["count"] = total
        return out

    @vroute("GET", "/volumes", policy="volume:get_all")
    def list(self, req: Request) -> dict[str, Any]:
        return self._list(req, False)

    @vroute("GET", "/volumes/detail", policy="volume:get_all")
    def detail(self, req: Request) -> dict[str, Any]:
        return self._list(req, True)

    @vroute("GET", "/volumes/summary", policy="volume:get_all", min_version="3.12")
    def summary(self, req: Request) -> dict[str, Any]:
        items = self.volumes.list(req.ctx.project_id, common.all_projects(req), {})
        out: dict[str, Any] = {"total_size": sum(v["size"] for v in items),
                               "total_count": len(items)}
        if req.at_least("3.36"):
            meta: dict[str, list[str]] = {}
            for v in items:
                for k, val in v["metadata"].items():
                    meta.setdefault(k, [])
                    if val not in meta[k]:
                        meta[k].append(val)
            out["metadata"] = meta
        return {"volume-summary": out}

    @vroute("GET", "/volumes/{volume_id}", policy="volume:get")
    def get(self, req: Request, volume_id: str) -> dict[str, Any]:
        return {"volume": views.volume(req, self.volumes.get(volume_id, req.ctx.project_id,
                                                             req.ctx.is_admin))}

    @vroute("PUT", "/volumes/{volume_id}", policy="volume:update")
    def update(self, req: Request, volume_id: str) -> dict[str, Any]:
        body = body_of(req, "volume")
        return {"volume": views.volume(req, self.volumes.update(req.ctx, volume_id, body),
                                        False)}

    @vroute("DELETE", "/volumes/{volume_id}", status=202, policy="volume:delete")
    def delete(self, req: Request, volume_id: str) -> None:
        cascade = common.as_bool(req.query.get("cascade", False), "cascade")
        force = common.as_bool(req.query.get("force", False), "force")
        if force:
            req.enforce("volume:force_delete")
        self.volumes.delete(req.ctx, volume_id, cascade=cascade, force=force)

    # -- metadata ------------------------------------------------------------------------
    @vroute("GET", "/volumes/{volume_id}/metadata", policy="volume:get_volume_metadata")
    def metadata(self, req: Request, volume_id: str) -> dict[str, Any]:
        return {"metadata": self.volumes.metadata(req.ctx, volume_id)}

    @vroute("POST", "/volumes/{volume_id}/metadata", policy="volume:update_volume_metadata")
    def add_metadata(self, req: Request, volume_id: str) -> dict[str, Any]:
        meta = common.metadata_body(req)
        return {"metadata": self.volumes.set_metadata(req.ctx, volume_id, meta, False)}

    @vroute("PUT", "/volumes/{volume_id}/metadata", policy="volume:update_volume_metadata")
    def replace_metadata(self, req: Request, volume_id: str) -> dict[str, Any]:
        meta = common.metadata_body(req)
        return {"metadata": self.volumes.set_metadata(req.ctx, volume_id, meta, True)}

    @vroute("GET", "/volumes/{volume_id}/metadata/{key}", policy="volume:get_volume_metadata")
    def get_metadata_item(self, req: Request, volume_id: str, key: str) -> dict[str, Any]:
        meta = self.volumes.metadata(req.ctx, volume_id)
        if key not in meta:
            raise errors.NotFound(f"Volume {volume_id} has no metadata with key {key}.")
        return {"meta": {key: meta[key]}}

    @vroute("PUT", "/volumes/{volume_id}/metadata/{key}",
            policy="volume:update_volume_metadata")
    def set_metadata_item(self, req: Request, volume_id: str, key: str) -> dict[str, Any]:
        meta = common.meta_item_body(req, key)
        self.volumes.set_metadata(req.ctx, volume_id, meta, False)
        return {"meta": meta}

    @vroute("DELETE", "/volumes/{volume_id}/metadata/{key}", status=200,
            policy="volume:update_volume_metadata")
    def delete_metadata_item(self, req: Request, volume_id: str, key: str) -> Reply:
        self.volumes.delete_metadata(req.ctx, volume_id, key)
        return common.empty(200)


class VolumeActions:
    """``POST /volumes/{id}/action``: one handler dispatching on the body's key."""

    def __init__(self, volumes: Volumes, actions: Actions, uploads: Uploads,
                 manage: Any = None) -> None:
        self.volumes = volumes
        self.actions = actions
        self.uploads = uploads
        self.manage = manage

    @vroute("POST", "/volumes/{volume_id}/action", status=202)
    def action(self, req: Request, volume_id: str) -> Any:
        body = req.json()
        if not isinstance(body, dict) or len(body) != 1:
            raise errors.BadRequest("Invalid request body: exactly one action is expected.")
        name, args = next(iter(body.items()))
        if args is None:
            args = {}
        handler = getattr(self, "_" + name.replace("os-", "").replace("-", "_"), None)
        if handler is None:
            raise errors.BadRequest(f"There is no such action: {name}")
        if not isinstance(args, dict):
            raise errors.BadRequest(f"Invalid input for field/attribute {name}.")
        return handler(req, volume_id, args)

    def _extend(self, req: Request, vid: str, args: dict[str, Any]) -> None:
        req.enforce("volume:extend")
        self.actions.extend(req.ctx, vid, args.get("new_size"), req.at_least("3.42"))

    def _reset_status(self, req: Request, vid: str, args: dict[str, Any]) -> None:
        req.enforce("volume:reset_status")
        self.actions.reset_status(req.ctx, vid, args)

    def _force_delete(self, req: Request, vid: str, args: dict[str, Any]) -> None:
        req.enforce("volume:force_delete")
        self.volumes.delete(req.ctx, vid, force=True)

    def _attach(self, req: Request, vid: str, args: dict[str, Any]) -> None:
        req.enforce("volume:attach")
        self.actions.attach(req.ctx, vid, args)

    def _detach(self, req: Request, vid: str, args: dict[str, Any]) -> None:
        req.enforce("volume:detach")
        self.actions.detach(req.ctx, vid, args.get("attachment_id"))

    def _reserve(self, req: Request, vid: str, args: dict[str, Any]) -> None:
        req.enforce("volume:reserve")
        self.actions.reserve(req.ctx, vid)

    def _unreserve(self, req: Request, vid: str, args: dict[str, Any]) -> None:
        req.enforce("volume:unreserve")
        self.actions.unreserve(req.ctx, vid)

    def _begin_detaching(self, req: Request, vid: str, args: dict[str, Any]) -> None:
        req.enforce("volume:begin_detaching")
        self.actions.begin_detaching(req.ctx, vid)

    def _roll_detaching(self, req: Request, vid: str, args: dict[str, Any]) -> None:
        req.enforce("volume:roll_detaching")
        self.actions.roll_detaching(req.ctx, vid)

    def _initialize_connection(self, req: Request, vid: str, args: dict[str, Any]) -> Reply:
        req.enforce("volume:initialize_connection")
        info = self.actions.initialize_connection(req.ctx, vid, args.get("connector"))
        return Reply({"connection_info": info}, 200)

    def _terminate_connection(self, req: Request, vid: str, args: dict[str, Any]) -> None:
        req.enforce("volume:terminate_connection")
        self.actions.terminate_connection(req.ctx, vid, args.get("connector"))

    def _set_bootable(self, req: Request, vid: str, args: dict[str, Any]) -> Reply:
        req.enforce("volume:set_bootable")
        if "bootable" not in args:
            raise errors.BadRequest("Must specify bootable in request.")
        self.actions.set_bootable(req.ctx, vid, args["bootable"])
        return common.empty(200)

    def _update_readonly_flag(self, req: Request, vid: str, args: dict[str, Any]) -> None:
        req.enforce("volume:update_readonly_flag")
        if "readonly" not in args:
            raise errors.BadRequest("Must specify readonly in request.")
        self.actions.update_readonly(req.ctx, vid, args["readonly"])

    def _retype(self, req: Request, vid: str, args: dict[str, Any]) -> None:
        req.enforce("volume:retype")
        self.actions.retype(req.ctx, vid, args.get("new_type"), args.get("migration_policy"))

    def _revert(self, req: Request, vid: str, args: dict[str, Any]) -> None:
        if not req.at_least("3.40"):
            raise errors.BadRequest("There is no such action: revert")
        req.enforce("volume:revert")
        self.actions.revert(req.ctx, vid, args.get("snapshot_id"))

    def _unmanage(self, req: Request, vid: str, args: dict[str, Any]) -> None:
        req.enforce("volume:unmanage")
        self.manage.unmanage(req.ctx, vid)

    def _force_detach(self, req: Request, vid: str, args: dict[str, Any]) -> None:
        req.enforce("volume:force_delete")
        self.actions.detach(req.ctx, vid, args.get("attachment_id"), force=True)

    def _reimage(self, req: Request, vid: str, args: dict[str, Any]) -> None:
        if not req.at_least("3.68"):
            raise errors.BadRequest("There is no such action: os-reimage")
        req.enforce("volume:update")
        self.actions.reimage(req.ctx, vid, args.get("image_id"),
                             common.as_bool(args.get("reimage_reserved", False),
                                            "reimage_reserved"))

    def _migrate_volume(self, req: Request, vid: str, args: dict[str, Any]) -> None:
        req.enforce("volume:migrate")
        vol = self.volumes.get(vid, req.ctx.project_id, True)
        host = args.get("host") or args.get("cluster")
        if host is None:
            raise errors.BadRequest("Must specify 'host' or 'cluster'.")
        if host in (vol["os-vol-host-attr:host"], vol["os-vol-host-attr:host"].split("#")[0]):
            raise errors.BadRequest("Invalid host: Destination host must be different than "
                                    "the current host.")
        if self.volumes.driver.find(host) is not None:
            raise errors.BadRequest(f"Invalid host: Migrating volume {vid} to {host} is not "
                                    "supported by this cloud (no volume migration).")
        raise errors.BadRequest(f"Invalid host: No valid back end was found. Host {host} is "
                                "not known to the scheduler.")

    def _set_image_metadata(self, req: Request, vid: str, args: dict[str, Any]) -> Reply:
        req.enforce("volume:image_metadata")
        meta = self.volumes.set_image_metadata(req.ctx, vid, args.get("metadata"))
        return Reply({"metadata": meta}, 200)

    def _unset_image_metadata(self, req: Request, vid: str, args: dict[str, Any]) -> Reply:
        req.enforce("volume:image_metadata")
        key = args.get("key")
        if not isinstance(key, str):
            raise errors.BadRequest("Invalid input for field/attribute key.")
        self.volumes.unset_image_metadata(req.ctx, vid, key)
        return common.empty(200)

    def _show_image_metadata(self, req: Request, vid: str, args: dict[str, Any]) -> Reply:
        req.enforce("volume:get")
        vol = self.volumes.get(vid, req.ctx.project_id, req.ctx.is_admin)
        return Reply({"metadata": vol.get("volume_image_metadata", {})}, 200)

    def _volume_upload_image(self, req: Request, vid: str, args: dict[str, Any]) -> Reply:
        req.enforce("volume:upload_image")
        answer = self.uploads.upload(req.ctx, vid, args, req.at_least("3.1"))
        return Reply({"os-volume_upload_image": answer}, 202)
