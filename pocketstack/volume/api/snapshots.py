"""/snapshots and /backups."""

from __future__ import annotations

from typing import Any

from pocketstack.api import errors
from pocketstack.api.request import Reply, Request
from pocketstack.volume import common
from pocketstack.volume.api import views
from pocketstack.volume.api.volumes import body_of, list_filters
from pocketstack.volume.backups import BackupRecords, Backups
from pocketstack.volume.common import vroute
from pocketstack.volume.snapshots import Snapshots


class SnapshotsApi:
    def __init__(self, snapshots: Snapshots) -> None:
        self.snapshots = snapshots

    @vroute("POST", "/snapshots", status=202, policy="volume:create_snapshot")
    def create(self, req: Request) -> dict[str, Any]:
        body = body_of(req, "snapshot")
        snap = self.snapshots.create(req.ctx, body, req.at_least("3.66"))
        return {"snapshot": views.snapshot(req, snap, False)}

    def _list(self, req: Request, detail: bool) -> dict[str, Any]:
        items = self.snapshots.list(req.ctx, common.all_projects(req),
                                    list_filters(req, ("name", "status", "volume_id",
                                                       "project_id")))
        page, links = common.paginate(req, items, "snapshots/detail" if detail else "snapshots")
        if detail:
            out: dict[str, Any] = {"snapshots": [views.snapshot(req, x) for x in page]}
        else:
            out = {"snapshots": [views.snapshot(req, x, False) for x in page]}
        if links:
            out["snapshots_links"] = links
        return out

    @vroute("GET", "/snapshots", policy="volume:get_all_snapshots")
    def list(self, req: Request) -> dict[str, Any]:
        return self._list(req, False)

    @vroute("GET", "/snapshots/detail", policy="volume:get_all_snapshots")
    def detail(self, req: Request) -> dict[str, Any]:
        return self._list(req, True)

    @vroute("GET", "/snapshots/{snapshot_id}", policy="volume:get_snapshot")
    def get(self, req: Request, snapshot_id: str) -> dict[str, Any]:
        return {"snapshot": views.snapshot(req, self.snapshots.get(req.ctx, snapshot_id))}

    @vroute("PUT", "/snapshots/{snapshot_id}", policy="volume:update_snapshot")
    def update(self, req: Request, snapshot_id: str) -> dict[str, Any]:
        body = body_of(req, "snapshot")
        snap = self.snapshots.update(req.ctx, snapshot_id, body)
        return {"snapshot": views.snapshot(req, snap, False)}

    @vroute("DELETE", "/snapshots/{snapshot_id}", status=202, policy="volume:delete_snapshot")
    def delete(self, req: Request, snapshot_id: str) -> None:
        self.snapshots.delete(req.ctx, snapshot_id)

    @vroute("POST", "/snapshots/{snapshot_id}/action", status=202)
    def action(self, req: Request, snapshot_id: str) -> None:
        body = req.json()
        if not isinstance(body, dict) or len(body) != 1:
            raise errors.BadRequest("Invalid request body: exactly one action is expected.")
        name, args = next(iter(body.items()))
        if name == "os-reset_status":
            req.enforce("volume:snapshot_reset_status")
            self.snapshots.reset_status(req.ctx, snapshot_id, (args or {}).get("status"))
        elif name == "os-force_delete":
            req.enforce("volume:snapshot_force_delete")
            self.snapshots.delete(req.ctx, snapshot_id, force=True)
        elif name == "os-update_snapshot_status":
            req.enforce("volume:update_snapshot_status")
            if not isinstance(args, dict):
                raise errors.BadRequest("Invalid input for field/attribute "
                                        "os-update_snapshot_status.")
            self.snapshots.update_status(req.ctx, snapshot_id, args)
        else:
            raise errors.BadRequest(f"There is no such action: {name}")

    @vroute("GET", "/snapshots/{snapshot_id}/metadata", policy="volume:get_snapshot")
    def metadata(self, req: Request, snapshot_id: str) -> dict[str, Any]:
        return {"metadata": self.snapshots.metadata(req.ctx, snapshot_id)}

    @vroute("POST", "/snapshots/{snapshot_id}/metadata",
            policy="volume:update_snapshot_metadata")
    def add_metadata(self, req: Request, snapshot_id: str) -> dict[str, Any]:
        meta = common.metadata_body(req)
        return {"metadata": self.snapshots.set_metadata(req.ctx, snapshot_id, meta, False)}

    @vroute("PUT", "/snapshots/{snapshot_id}/metadata",
            policy="volume:update_snapshot_metadata")
    def replace_metadata(self, req: Request, snapshot_id: str) -> dict[str, Any]:
        meta = common.metadata_body(req)
        return {"metadata": self.snapshots.set_metadata(req.ctx, snapshot_id, meta, True)}

    @vroute("GET", "/snapshots/{snapshot_id}/metadata/{key}", policy="volume:get_snapshot")
    def get_metadata_item(self, req: Request, snapshot_id: str, key: str) -> dict[str, Any]:
        meta = self.snapshots.metadata(req.ctx, snapshot_id)
        if key not in meta:
            raise errors.NotFound(f"Snapshot {snapshot_id} has no metadata with key {key}.")
        return {"meta": {key: meta[key]}}

    @vroute("PUT", "/snapshots/{snapshot_id}/metadata/{key}",
            policy="volume:update_snapshot_metadata")
    def set_metadata_item(self, req: Request, snapshot_id: str, key: str) -> dict[str, Any]:
        meta = common.meta_item_body(req, key)
        self.snapshots.set_metadata(req.ctx, snapshot_id, meta, False)
        return {"meta": meta}

    @vroute("DELETE", "/snapshots/{snapshot_id}/metadata/{key}", status=200,
            policy="volume:update_snapshot_metadata")
    def delete_metadata(self, req: Request, snapshot_id: str, key: str) -> Reply:
        self.snapshots.delete_metadata(req.ctx, snapshot_id, key)
        return common.empty(200)


class BackupsApi:
    def __init__(self, backups: Backups) -> None:
        self.backups = backups
        self.records = BackupRecords(backups)

    @vroute("GET", "/backups/{backup_id}/export_record", policy="volume:backup:export")
    def export_record(self, req: Request, backup_id: str) -> dict[str, Any]:
        return {"backup-record": self.records.export(req.ctx, backup_id)}

    @vroute("POST", "/backups/import_record", status=201, policy="volume:backup:export")
    def import_record(self, req: Request) -> dict[str, Any]:
        body = body_of(req, "backup-record")
        b = self.records.import_(req.ctx, body.get("backup_service"), body.get("backup_url"))
        return {"backup": {"id": b["id"], "name": b["name"],
                           "links": common.links(req, "backups", b["id"])}}

    @vroute("POST", "/backups", status=202, policy="volume:backup:create")
    def create(self, req: Request) -> dict[str, Any]:
        body = body_of(req, "backup")
        b = self.backups.create(req.ctx, body)
        return {"backup": {"id": b["id"], "name": b["name"],
                           "links": common.links(req, "backups", b["id"])}}

    def _list(self, req: Request, detail: bool) -> dict[str, Any]:
        items = self.backups.list(req.ctx, common.all_projects(req),
                                  list_filters(req, ("name", "status", "volume_id")))
        page, links = common.paginate(req, items, "backups/detail" if detail else "backups")
        if detail:
            out: dict[str, Any] = {"backups": [views.backup(req, b) for b in page]}
        else:
            out = {"backups": [{"id": b["id"], "name": b["name"],
                                "links": common.links(req, "backups", b["id"])} for b in page]}
        if links:
            out["backups_links"] = links
        return out

    @vroute("GET", "/backups", policy="volume:backup:get_all")
    def list(self, req: Request) -> dict[str, Any]:
        return self._list(req, False)

    @vroute("GET", "/backups/detail", policy="volume:backup:get_all")
    def detail(self, req: Request) -> dict[str, Any]:
        return self._list(req, True)

    @vroute("GET", "/backups/{backup_id}", policy="volume:backup:get")
    def get(self, req: Request, backup_id: str) -> dict[str, Any]:
        return {"backup": views.backup(req, self.backups.get(req.ctx, backup_id))}

    @vroute("PUT", "/backups/{backup_id}", policy="volume:backup:update", min_version="3.9")
    def update(self, req: Request, backup_id: str) -> dict[str, Any]:
        body = body_of(req, "backup")
        full = views.backup(req, self.backups.update(req.ctx, backup_id, body))
        # Cinder answers an update with the summary view
        return {"backup": {k: full[k] for k in ("id", "name", "links")}}

    @vroute("DELETE", "/backups/{backup_id}", status=202, policy="volume:backup:delete")
    def delete(self, req: Request, backup_id: str) -> None:
        self.backups.delete(req.ctx, backup_id)

    @vroute("POST", "/backups/{backup_id}/restore", status=202, policy="volume:backup:restore")
    def restore(self, req: Request, backup_id: str) -> dict[str, Any]:
        body = req.json()
        if not isinstance(body, dict) or not isinstance(body.get("restore"), dict):
            raise errors.BadRequest("Missing required element 'restore' in request body.")
        return {"restore": self.backups.restore(req.ctx, backup_id, body["restore"])}

    @vroute("POST", "/backups/{backup_id}/action", status=202)
    def action(self, req: Request, backup_id: str) -> None:
        body = req.json()
        if not isinstance(body, dict) or len(body) != 1:
            raise errors.BadRequest("Invalid request body: exactly one action is expected.")
        name, args = next(iter(body.items()))
        if name == "os-reset_status":
            req.enforce("volume:backup:reset_status")
            self.backups.reset_status(req.ctx, backup_id, (args or {}).get("status"))
        elif name == "os-force_delete":
            req.enforce("volume:backup:force_delete")
            self.backups.delete(req.ctx, backup_id, force=True)
        else:
            raise errors.BadRequest(f"There is no such action: {name}")
