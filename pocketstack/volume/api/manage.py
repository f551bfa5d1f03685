"""/os-volume-manage, /manageable_volumes (3.8+) and the os-unmanage action's route."""

from __future__ import annotations

from typing import Any

from pocketstack.api.request import Request
from pocketstack.volume import common
from pocketstack.volume.api import views
from pocketstack.volume.api.volumes import body_of
from pocketstack.volume.common import vroute
from pocketstack.volume.manage import Manage


class ManageApi:
    def __init__(self, manage: Manage) -> None:
        self.manage = manage

    @vroute("POST", "/os-volume-manage", status=202, policy="volume:manage_existing")
    def create(self, req: Request) -> dict[str, Any]:
        vol = self.manage.manage(req.ctx, body_of(req, "volume"))
        return {"volume": views.volume(req, vol, False)}

    @vroute("POST", "/manageable_volumes", status=202, policy="volume:manage_existing",
            min_version="3.8")
    def create_v38(self, req: Request) -> dict[str, Any]:
        """The same as /os-volume-manage (openstacksdk posts here from 3.8)."""
        return self.create(req)

    def _list(self, req: Request, detail: bool) -> dict[str, Any]:
        items = self.manage.manageable(req.query.get("host"))
        if "sort" in req.query or "sort_key" in req.query or "limit" in req.query:
            items, _ = common.paginate(req, items, "manageable_volumes",
                                       ("created_at", "id", "size", "reference"))
        page = items
        if not detail:
            page = [{k: i[k] for k in ("reference", "size", "safe_to_manage")} for i in page]
        return {"manageable-volumes": page}

    @vroute("GET", "/manageable_volumes", policy="volume:list_manageable", min_version="3.8")
    def list(self, req: Request) -> dict[str, Any]:
        return self._list(req, False)

    @vroute("GET", "/manageable_volumes/detail", policy="volume:list_manageable",
            min_version="3.8")
    def detail(self, req: Request) -> dict[str, Any]:
        return self._list(req, True)
