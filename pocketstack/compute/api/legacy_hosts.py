"""Nova's deprecated ``/os-hosts`` (up to microversion 2.42, superseded by os-services and
os-hypervisors) and the ``/extensions`` listing clients still probe.

Host power actions (startup, shutdown, reboot) and maintenance mode are not something
any of pocketstack's drivers can do to a host, as with most Nova drivers: they answer
501 for an existing host (404 for an unknown one), as Nova does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pocketstack.api import errors
from pocketstack.api.request import Request
from pocketstack.api.routing import route
from pocketstack.policy import RuleDefault, register_defaults

if TYPE_CHECKING:
    from pocketstack.compute.service import ComputeService

P = "os_compute_api:"
register_defaults([
    *(RuleDefault(f"{P}os-hosts:{n}", "rule:admin_required")
      for n in ("list", "show", "update", "reboot", "shutdown", "start")),
    RuleDefault(f"{P}extensions", "rule:project_reader_or_admin")])
MAX = "2.42"
_SERVICES = {"nova-compute": "compute", "nova-scheduler": "scheduler",
             "nova-conductor": "conductor"}


class OsHosts:
    def __init__(self, svc: "ComputeService") -> None:
        self.svc = svc
        self.hosts = svc.hosts

    def _compute(self, host: str) -> Any:
        row = self.hosts.compute_services().get(host)
        if row is None:
            raise errors.NotFound(f"Compute host {host} could not be found.")
        return row

    @route("GET", "/v2.1/os-hosts", max_version=MAX, policy=f"{P}os-hosts:list")
    def index(self, req: Request) -> dict[str, Any]:
        zone = req.query.get("zone")
        out = []
        for row in self.hosts.services():
            kind = _SERVICES.get(row.binary, row.binary.removeprefix("nova-"))
            if zone and row.zone != zone:
                continue
            out.append({"host_name": row.host, "service": kind, "zone": row.zone})
        return {"hosts": out}

    @route("GET", "/v2.1/os-hosts/{host}", max_version=MAX, policy=f"{P}os-hosts:show")
    def show(self, req: Request, host: str) -> dict[str, Any]:
        self._compute(host)
        node = next((n for n in self.hosts.nodes() if n.host == host), None)
        total = {"cpu": node.vcpus if node else 0, "memory_mb": node.memory_mb if node else 0,
                 "disk_gb": node.local_gb if node else 0}
        used = self.hosts.usage().get(host, {})
        used_now = {"cpu": used.get("vcpus", 0), "memory_mb": used.get("memory_mb", 0),
                    "disk_gb": used.get("local_gb", 0)}
        rows = [{"resource": {"host": host, "project": "(total)", **total}},
                {"resource": {"host": host, "project": "(used_now)", **used_now}},
                {"resource": {"host": host, "project": "(used_max)", **used_now}}]
        for project, figures in sorted(self._per_project(host).items()):
            rows.append({"resource": {"host": host, "project": project, **figures}})
        return {"host": rows}

    def _per_project(self, host: str) -> dict[str, dict[str, int]]:
        from sqlalchemy import select

        from pocketstack.compute.models import Instance

        out: dict[str, dict[str, int]] = {}
        with self.svc.cloud.db.read() as s:
            for project, vcpus, ram, root, eph in s.execute(
                    select(Instance.project_id, Instance.vcpus, Instance.memory_mb,
                           Instance.root_gb, Instance.ephemeral_gb)
                    .where(Instance.host == host, Instance.deleted.is_(False))):
                f = out.setdefault(project, {"cpu": 0, "memory_mb": 0, "disk_gb": 0})
                f["cpu"] += vcpus
                f["memory_mb"] += ram
                f["disk_gb"] += root + eph
        return out

    @route("PUT", "/v2.1/os-hosts/{host}", max_version=MAX, policy=f"{P}os-hosts:update")
    def update(self, req: Request, host: str) -> dict[str, Any]:
        body = req.json()
        if not isinstance(body, dict) or not body or set(body) - {"status",
                                                                  "maintenance_mode"}:
            raise errors.BadRequest("Invalid input for field/attribute host: 'status' or "
                                    "'maintenance_mode' is needed, and nothing else")
        for key, value in body.items():
            if value not in ("enable", "disable"):
                raise errors.BadRequest(f"Invalid input for field/attribute {key}. Value: "
                                        f"{value}. '{value}' is not one of ['enable', "
                                        "'disable']")
        row = self._compute(host)
        if "maintenance_mode" in body:
            raise errors.NotImplementedYet("Putting a host in maintenance mode is not "
                                           "supported by this cloud's compute driver.")
        disabled = body["status"] == "disable"
        self.hosts.update_service(row.uuid, {"disabled": disabled,
                                             "disabled_reason": None})
        return {"host": host, "status": "disabled" if disabled else "enabled"}

    def _power(self, host: str, what: str) -> dict[str, Any]:
        self._compute(host)
        raise errors.NotImplementedYet(f"Host {what} is not supported by this cloud's "
                                       "compute driver.")

    @route("GET", "/v2.1/os-hosts/{host}/startup", max_version=MAX, policy=f"{P}os-hosts:start")
    def startup(self, req: Request, host: str) -> dict[str, Any]:
        return self._power(host, "startup")

    @route("GET", "/v2.1/os-hosts/{host}/shutdown", max_version=MAX,
           policy=f"{P}os-hosts:shutdown")
    def shutdown(self, req: Request, host: str) -> dict[str, Any]:
        return self._power(host, "shutdown")

    @route("GET", "/v2.1/os-hosts/{host}/reboot", max_version=MAX,
           policy=f"{P}os-hosts:reboot")
    def reboot(self, req: Request, host: str) -> dict[str, Any]:
        return self._power(host, "reboot")


# The v2.1 API's extension descriptors (what python-novaclient's `list-extensions` and
# Tempest read). Nova serves a fixed compatibility list; this one names the resources this
# Compute API serves, plus os-consoles, which Nova keeps listing after removing that API.
_EXTENSIONS = [
    ("AdminActions", "os-admin-actions"), ("AvailabilityZone", "os-availability-zone"),
    ("Aggregates", "os-aggregates"), ("Consoles", "os-consoles"),
    ("CreateBackup", "os-create-backup"), ("DiskConfig", "os-disk-config"),
    ("ExtendedAvailabilityZone", "OS-EXT-AZ"),
    ("ExtendedServerAttributes", "OS-EXT-SRV-ATTR"), ("ExtendedStatus", "OS-EXT-STS"),
    ("ExtendedVolumes", "os-extended-volumes"), ("ExternalEvents", "os-server-external-events"),
    ("FlavorAccess", "os-flavor-access"), ("FlavorExtraSpecs", "os-flavor-extra-specs"),
    ("FlavorManage", "os-flavor-manage"), ("Flavors", "flavors"), ("Hosts", "os-hosts"),
    ("Hypervisors", "os-hypervisors"), ("ImageSize", "OS-EXT-IMG-SIZE"), ("Images", "images"),
    ("InstanceActions", "os-instance-actions"), ("Keypairs", "os-keypairs"),
    ("Limits", "limits"), ("LockServer", "os-lock-server"), ("Migrations", "os-migrations"),
    ("PauseServer", "os-pause-server"), ("QuotaSets", "os-quota-sets"),
    ("SecurityGroups", "os-security-groups"), ("ServerActions", "servers"),
    ("ServerGroups", "os-server-groups"), ("ServerMetadata", "server-metadata"),
    ("ServerPassword", "os-server-password"), ("ServerTags", "os-server-tags"),
    ("ServerUsage", "OS-SRV-USG"), ("Servers", "servers"), ("Services", "os-services"),
    ("SimpleTenantUsage", "os-simple-tenant-usage"), ("SuspendServer", "os-suspend-server"),
    ("Versions", "versions"), ("VolumeAttachments", "os-volume-attachments"),
]


def _extension(name: str, alias: str) -> dict[str, Any]:
    return {"name": name, "alias": alias, "description": f"{name} support.",
            "links": [], "namespace": "http://docs.openstack.org/compute/ext/fake_xml",
            "updated": "2014-12-03T00:00:00Z"}


class Extensions:
    def __init__(self, svc: "ComputeService") -> None:
        self.svc = svc

    @route("GET", "/v2.1/extensions", policy=f"{P}extensions")
    def index(self, req: Request) -> dict[str, Any]:
        return {"extensions": [_extension(n, a) for n, a in _EXTENSIONS]}

    @route("GET", "/v2.1/extensions/{alias}", policy=f"{P}extensions")
    def show(self, req: Request, alias: str) -> dict[str, Any]:
        for name, known in _EXTENSIONS:
            if known == alias:
                return {"extension": _extension(name, known)}
        raise errors.NotFound(f"Extension {alias} could not be found.")
