"""The Block Storage service: wiring of managers, driver and API resources."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from starlette.responses import Response

from pocketstack.api import errors
from pocketstack.api.service import Microversions, Service, json_response
from pocketstack.volume import policies  # noqa: F401  (registers the default rules)
from pocketstack.volume.actions import Actions
from pocketstack.volume.api.groups import GroupsApi, GroupSnapshotsApi, GroupTypesApi
from pocketstack.volume.api.manage import ManageApi
from pocketstack.volume.api.messages import MessagesApi
from pocketstack.volume.api.misc import AttachmentsApi, Misc, TransfersApi
from pocketstack.volume.api.snapshots import BackupsApi, SnapshotsApi
from pocketstack.volume.api.types import DefaultTypesApi, QosApi, TypesApi
from pocketstack.volume.api.versions import Versions
from pocketstack.volume.api.volumes import VolumeActions, VolumesApi
from pocketstack.volume.backups import Backups, Transfers
from pocketstack.volume.common import MAX_VERSION
from pocketstack.volume.drivers import Backends
from pocketstack.volume.encryption import EncryptionApi
from pocketstack.volume.groups import Groups, GroupSnapshots, GroupTypes
from pocketstack.volume.manage import Manage
from pocketstack.volume.quotas import Quotas
from pocketstack.volume.snapshots import Snapshots
from pocketstack.volume.types import Types
from pocketstack.volume.upload import Uploads
from pocketstack.volume.volumes import Volumes
from pocketstack.volume.worker import Worker, settle

if TYPE_CHECKING:
    from pocketstack.api.context import RequestContext
    from pocketstack.cloud import Cloud

FAULT_NAMES = {400: "badRequest", 401: "unauthorized", 403: "forbidden", 404: "itemNotFound",
               405: "badMethod", 406: "notAcceptable", 409: "conflictingRequest",
               413: "overLimit", 415: "badMediaType", 501: "notImplemented",
               503: "serviceUnavailable"}


class VolumeService(Service):
    name = "volume"
    catalog_type = "volumev3"
    catalog_name = "cinderv3"
    description = "Block Storage Service (Cinder API v3)"
    port = 8776
    version_path = "/v3"
    microversions = Microversions("volume", "3.0", MAX_VERSION, prefix="/v3")
    request_id_headers = ("x-openstack-request-id",)

    def __init__(self, cloud: "Cloud") -> None:
        super().__init__(cloud)
        # the enabled back ends behind one driver interface (drivers/backends.py)
        self.driver = Backends.from_conf(cloud.conf, cloud.data_dir, cloud.host, cloud.db)
        self.host_name = self.driver.default.location  # HOST@file#file with one back end
        self.quotas = Quotas(cloud)
        self.worker = Worker(cloud.db)
        self.types = Types(cloud.db)
        self.volumes = Volumes(cloud, self.driver, self.quotas, self.host_name,
                               self.worker)
        self.actions = Actions(self.volumes)
        self.uploads = Uploads(self.volumes)
        self.snapshots = Snapshots(self.volumes)
        self.backups = Backups(self.volumes)
        self.transfers = Transfers(self.volumes)
        self.groups = Groups(self.volumes, self.snapshots)
        self.group_snapshots = GroupSnapshots(self.groups)
        self.manage = Manage(self.volumes)
        for resource in (Versions(), VolumesApi(self.volumes),
                         VolumeActions(self.volumes, self.actions, self.uploads,
                                       self.manage),
                         SnapshotsApi(self.snapshots), BackupsApi(self.backups),
                         TypesApi(self.types), QosApi(self.types),
                         DefaultTypesApi(self.types), EncryptionApi(self.types),
                         Misc(self, self.quotas), MessagesApi(cloud.db),
                         TransfersApi(self.transfers), AttachmentsApi(self.actions),
                         GroupTypesApi(GroupTypes(cloud.db)),
                         GroupsApi(self.groups, self.group_snapshots),
                         GroupSnapshotsApi(self.group_snapshots),
                         ManageApi(self.manage)):
            self.router.include(resource)
        # literal segments win over parameters (/volumes/detail before /volumes/{id})
        self.router._dynamic.sort(key=lambda r: (r.path.count("{"), -len(r.path)))

    def catalog_url(self, base_url: str) -> str:
        # Keystone's token catalog does not substitute $(project_id)s here, so the
        # project-less form (Cinder 3.67+) is what clients get.
        return base_url + "/v3"

    async def _dispatch(self, raw: Any, ctx: "RequestContext") -> Any:
        # Cinder's routes have no trailing slash: "/volumes/" (an empty id) is not found,
        # it is neither the collection nor a 405.
        path = raw.url.path
        if len(path) > 1 and path.endswith("/") and path.count("/") > 2:
            raise errors.NotFound("The resource could not be found.")
        return await super()._dispatch(raw, ctx)

    def render_error(self, exc: errors.ApiError) -> Response:
        name = FAULT_NAMES.get(exc.code, "computeFault")
        body: dict[str, Any] = {"code": exc.code, "message": exc.message}
        if exc.code == 413:
            body["retryAfter"] = "0"
        return json_response({name: body}, status=exc.code, headers=exc.headers)

    def start(self) -> None:
        self.driver.start()  # the reflink pool, when configured
        self.types.ensure_default()
        settle(self.cloud.db)  # work interrupted by a restart cannot resume

    def stop(self) -> None:
        self.worker.stop()  # acknowledged work finishes before the process exits
        self.driver.stop()

    # -- the in-process API for compute (see the package docstring) -------------------
    def reserve(self, ctx: "RequestContext", volume_id: str, instance_uuid: str) -> str:
        # A volume compute just created from an image or snapshot may still be building:
        # wait for it as Nova does (block_device_allocate_retries x interval = 180 s).
        deadline = time.monotonic() + 180
        while self.get_volume(ctx, volume_id)["status"] in ("creating", "downloading") \
                and time.monotonic() < deadline:
            time.sleep(0.1)
        return self.actions.attachment_create(ctx, volume_id, instance_uuid, None, "rw")["id"]

    def attach(self, ctx: "RequestContext", attachment_id: str, connector: dict[str, Any],
               mountpoint: str | None = None) -> dict[str, Any]:
        self.actions.attachment_update(ctx, attachment_id, connector or {"host": "local"})
        from pocketstack.volume.models import Attachment
        with self.cloud.db.write() as s:
            a = s.get(Attachment, attachment_id)
            a.mountpoint = mountpoint
            volume_id = a.volume_id
        self.actions.attachment_complete(ctx, attachment_id)
        return self.connection_info(ctx, volume_id, connector)

    def detach(self, ctx: "RequestContext", attachment_id: str) -> None:
        self.actions.attachment_delete(ctx, attachment_id)

    def connection_info(self, ctx: "RequestContext", volume_id: str,
                        connector: dict[str, Any] | None = None) -> dict[str, Any]:
        return self.actions.initialize_connection(ctx, volume_id, connector or {})

    def get_volume(self, ctx: "RequestContext", volume_id: str) -> dict[str, Any]:
        return self.volumes.get(volume_id, ctx.project_id, ctx.is_admin)
