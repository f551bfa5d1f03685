"""Compute API v2.1 (Nova) on port 8774, with the fake driver."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.responses import Response

from pocketstack.api import errors
from pocketstack.api.service import Microversions, Service, json_response
from pocketstack.compute import config  # noqa: F401  (registers the options)
from pocketstack.compute import policies  # noqa: F401  (registers the default rules)
from pocketstack.compute.aggregates import Aggregates
from pocketstack.compute.audit import UsageAudit
from pocketstack.compute.drivers.base import load_driver
from pocketstack.compute.flavors import Flavors
from pocketstack.compute.hosts import Hosts
from pocketstack.compute.imagecache import image_cache
from pocketstack.compute.keypairs import KeyPairs
from pocketstack.compute.live_migration import LiveMigrations
from pocketstack.compute.migration_records import MigrationRecords
from pocketstack.compute.networks import ServerNetworks
from pocketstack.compute.consoles import Consoles
from pocketstack.compute.periodic import Periodic
from pocketstack.compute.quotas import Quotas
from pocketstack.compute.rescue import Rescues
from pocketstack.compute.scheduler.manager import Scheduler
from pocketstack.compute.server_groups import ServerGroups
from pocketstack.compute.resize import Resizes
from pocketstack.compute.servers import Servers
from pocketstack.compute.shelve import Shelving
from pocketstack.compute.soft_delete import SoftDeletes
from pocketstack.compute.tasks import Tasks
from pocketstack.compute.volumes import ServerVolumes

if TYPE_CHECKING:
    from pocketstack.cloud import Cloud

MAX_VERSION = "2.96"

_ERROR_KEYS = {400: "badRequest", 401: "unauthorized", 403: "forbidden", 404: "itemNotFound",
               405: "badMethod", 406: "notAcceptable", 409: "conflictingRequest",
               410: "gone", 413: "overLimit", 415: "badMediaType", 429: "overLimit",
               501: "notImplemented", 503: "serviceUnavailable"}


class ComputeService(Service):
    name = "compute"
    catalog_type = "compute"
    catalog_name = "nova"
    description = "Compute Service (Nova API v2.1)"
    port = 8774
    version_path = "/v2.1"
    microversions = Microversions("compute", "2.1", MAX_VERSION,
                                  legacy_headers=("X-OpenStack-Nova-API-Version",),
                                  prefix="/v2.1")
    request_id_headers = ("x-compute-request-id", "x-openstack-request-id")

    def __init__(self, cloud: "Cloud") -> None:
        super().__init__(cloud)
        from pocketstack.compute.api import (admin, aggregates, audit_log, consoles, flavors,
                                             assisted_snapshots, legacy_actions,
                                             hypervisor_search, images, keypairs,
                                             legacy_hosts, legacy_network, legacy_secgroups,
                                             legacy_volumes,
                                             lifecycle, migrations, quota_classes, quotas,
                                             server_actions, server_groups, server_network,
                                             server_password, servers, tags, unimplemented,
                                             usage, versions,
                                             volume_attachments)

        conf = cloud.conf
        # in a compute API worker (compute.apiworker) the driver, the scheduler and the
        # task pool are the main process's, reached through the link (compute.remote)
        remote = self._remote = getattr(cloud, "remote", None)
        if remote is not None:
            self.handler_threads = conf.get("DEFAULT", "osapi_compute_worker_threads")
        self.driver = remote.proxy("compute.driver") if remote is not None else \
            load_driver(conf.get("DEFAULT", "compute_driver"), conf)
        self.flavors = Flavors(cloud.db)
        self.quotas = Quotas(cloud.db, conf)
        self.keypairs = KeyPairs(cloud.db, conf.get("quota", "key_pairs"))
        self.groups = ServerGroups(cloud.db, self.quotas)
        self.aggregates = Aggregates(cloud.db,
                                     conf.get("DEFAULT", "default_availability_zone"))
        self.hosts = Hosts(cloud, self.driver, self.aggregates)
        self.scheduler = remote.proxy("compute.scheduler") if remote is not None else \
            Scheduler(cloud, self.hosts)
        self.tasks = Tasks(cloud.db, conf, self.driver, self.scheduler,
                           cast=remote.cast if remote is not None else None)
        self.tasks.networks = ServerNetworks(cloud)
        self.tasks.cloud = cloud
        self.servers = Servers(self)
        self.migrations = MigrationRecords(cloud.db)
        self.resizes = Resizes(self)
        self.live = LiveMigrations(self)
        self.volumes = ServerVolumes(self)
        self.tasks.delete_hooks.append(self.volumes.cleanup)
        self.tasks.delete_hooks.append(self.scheduler.forget)
        self.hosts.enabled_hooks.append(self.scheduler.report_traits)
        self.shelving = Shelving(self)
        self.rescues = Rescues(self)
        self.soft_deletes = SoftDeletes(self)
        self.consoles = Consoles(self)
        self.usage_audit = UsageAudit(cloud, self.driver)
        self.periodic = Periodic(self)
        for resource in (versions.Versions(MAX_VERSION), flavors.Flavors(self),
                         flavors.FlavorExtras(self), keypairs.KeyPairs(self),
                         servers.Servers(self), server_actions.ServerActions(self),
                         server_actions.Metadata(self), server_actions.InstanceActions(self),
                         admin.Services(self), admin.Hypervisors(self),
                         admin.AvailabilityZones(self), quotas.Limits(self),
                         quotas.QuotaSets(self), server_groups.ServerGroups(self),
                         tags.Tags(self), aggregates.Aggregates(self),
                         usage.Usage(self), volume_attachments.VolumeAttachments(self),
                         server_password.ServerPassword(self),
                         server_network.Interfaces(self), server_network.ServerViews(self),
                         server_network.ExternalEvents(self), images.NovaImages(self),
                         legacy_secgroups.SecurityGroupProxy(self),
                         legacy_hosts.OsHosts(self), legacy_hosts.Extensions(self),
                         legacy_network.NetworkProxy(self), migrations.Migrations(self),
                         legacy_volumes.VolumeProxy(self),
                         consoles.ServerConsoles(self),
                         hypervisor_search.HypervisorSearch(self),
                         quota_classes.QuotaClassSets(self),
                         audit_log.InstanceUsageAuditLog(self),
                         assisted_snapshots.AssistedVolumeSnapshots(self)):
            self.router.include(resource)
        # actions served by the network and image integration (server_actions dispatches)
        self.extra_actions = {**server_network.network_actions(self),
                              **images.image_actions(self),
                              **migrations.move_actions(self),
                              **lifecycle.lifecycle_actions(self),
                              **consoles.console_actions(self),
                              **legacy_actions.legacy_actions(self)}
        unimplemented.register(self.router)
        workers = conf.get("DEFAULT", "osapi_compute_workers")
        if workers and remote is None:  # the port is served by worker processes
            from pocketstack.compute.workers import ApiWorkers

            self.workers = ApiWorkers(self, workers)
            self.serve_socket = self.workers.start

    def in_main_process(self, attr: str) -> Any:
        """This service's ``attr`` object as the main process has it, for the state only
        that process holds (the running tasks): in a compute API worker, reached through
        the link."""
        if self._remote is None:
            return getattr(self, attr)
        return self._remote.proxy(f"compute.{attr}")

    def render_error(self, exc: errors.ApiError) -> Response:
        key = _ERROR_KEYS.get(exc.code, "computeFault")
        if isinstance(exc, errors.OverQuota):
            key = "forbidden"
        return json_response({key: {"code": exc.code, "message": exc.message}},
                             status=exc.code, headers=exc.headers)

    def start(self) -> None:
        metadata = self.cloud.service("metadata")  # (made after compute: looked up here)
        if metadata is not None and hasattr(metadata, "config_drive"):
            self.tasks.config_drive_builder = metadata.config_drive
            self.tasks.delete_hooks.append(metadata.drop_config_drive)
        self.driver.init_host(self.cloud)
        self.flavors.seed()
        self.hosts.ensure()
        self.scheduler.load()
        self.hosts.start_heartbeat()
        self.tasks.submit(self._recover)
        image_cache(self.cloud).start_manager()  # only when cleanup is enabled
        self.periodic.start()

    def _recover(self) -> None:
        """Servers left mid-task by a previous run: settle them (builds become ERROR)."""
        from sqlalchemy import select

        from pocketstack.compute import states
        from pocketstack.compute.models import Instance, Migration
        from pocketstack.db import utcnow

        with self.cloud.db.write() as s:
            for inst in s.scalars(select(Instance).where(Instance.deleted.is_(False),
                                                         Instance.task_state.is_not(None))):
                if inst.vm_state == states.BUILDING:
                    inst.vm_state = states.ERROR
                    inst.fault = {"code": 500, "created": utcnow().isoformat(),
                                  "message": "Build interrupted by a restart of the cloud.",
                                  "details": ""}
                if inst.task_state == states.DELETING:
                    inst.deleted, inst.vm_state = True, states.DELETED
                    inst.terminated_at = utcnow()
                inst.task_state = None
            for mig in s.scalars(select(Migration).where(Migration.status.in_(
                    ("queued", "preparing", "running", "accepted", "pre-migrating")))):
                mig.status, mig.updated_at = "error", utcnow()  # interrupted moves
        self.scheduler.load()

    def stop(self) -> None:
        if hasattr(self, "workers"):
            self.workers.stop()
        image_cache(self.cloud).stop()
        self.periodic.stop()
        self.hosts.stop()
        self.tasks.shutdown()
