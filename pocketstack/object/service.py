"""Object Storage (Swift API v1) on port 8080."""

from __future__ import annotations

import threading
import time
import uuid
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from pocketstack.api import errors
from pocketstack.api.context import RequestContext
from pocketstack.api.service import Service
from pocketstack.object import cors, formpost, policies  # noqa: F401  (registers the default rules)
from pocketstack.object.api.accounts import Accounts, CrossDomain, Info
from pocketstack.object.api.containers import Containers
from pocketstack.object.api.upload import Upload
from pocketstack.object.common import render_error
from pocketstack.object.files import Files
from pocketstack.object.store import Store

if TYPE_CHECKING:
    from pocketstack.cloud import Cloud


RESELLER_ROLES = ("ResellerAdmin",)


class ObjectStoreService(Service):
    name = "object-store"
    catalog_type = "object-store"
    catalog_name = "swift"
    description = "Object Storage Service (Swift API v1)"
    port = 8080
    version_path = "/v1/AUTH_$(project_id)s"
    request_id_headers = ("x-openstack-request-id", "x-trans-id")

    def __init__(self, cloud: "Cloud") -> None:
        super().__init__(cloud)
        self.store = Store(cloud.db)
        self.files = Files(cloud.data_dir)
        self._stop = threading.Event()
        self._reaper: threading.Thread | None = None
        containers, objects = Containers(self.store, self.files), Upload(self.store, self.files)
        containers.objects = objects
        accounts = Accounts(self.store, self.files)
        accounts.objects = objects
        for resource in (Info(), CrossDomain(), accounts, containers, objects):
            self.router.include(resource)

    async def _dispatch(self, raw: Any, ctx: RequestContext) -> Any:
        # Swift's transaction ids: tx + 21 hex digits + "-" + the time in 10 hex digits
        ctx.request_id = f"tx{uuid.uuid4().hex[:21]}-{int(time.time()):010x}"
        path = raw.url.path
        if formpost.is_formpost(raw.method, raw.headers):
            body = b""
            async for chunk in raw.stream():
                body += chunk
                if len(body) > formpost.MAX_BODY:
                    raise errors.RequestEntityTooLarge()
            return await run_in_threadpool(formpost.handle, self.store, self.files, path,
                                           raw.headers["content-type"], body), None
        if raw.method == "OPTIONS":
            return await run_in_threadpool(cors.preflight, self.store, path, raw.headers), None
        response, version = await super()._dispatch(raw, ctx)
        if "origin" in raw.headers:
            await run_in_threadpool(cors.decorate, self.store, path, raw.headers, response)
        return response, version

    def render_error(self, exc: errors.ApiError) -> Response:
        return render_error(exc)

    def start(self) -> None:
        self._seed_roles()
        self.files.clear_temp()
        self._reaper = threading.Thread(target=self._reap, name="object-expirer", daemon=True)
        self._reaper.start()

    def _seed_roles(self) -> None:
        """The ResellerAdmin role Swift's keystoneauth knows (Tempest assigns it)."""
        roles = self.cloud.identity.roles
        for name in RESELLER_ROLES:
            if roles.find_role(name) is None:
                try:
                    roles.create_role({"name": name})
                except errors.Conflict:  # created meanwhile
                    pass

    def stop(self) -> None:
        self._stop.set()

    def _reap(self) -> None:
        """The object expirer: removes objects past their X-Delete-At."""
        while not self._stop.wait(5):
            try:
                for account, container, name in self.store.expired():
                    try:
                        self.files.remove(self.store.delete_object(account, container, name))
                    except errors.NotFound:
                        pass
            except Exception:  # keep expiring on the next round
                self.log.exception("object expirer failed")
