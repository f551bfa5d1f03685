"""Services, availability zones, quotas, limits, extensions, transfers and attachments."""

from __future__ import annotations

from typing import Any

from pocketstack.api import errors
from pocketstack.api.request import Request
from pocketstack.db import utcnow
from pocketstack.volume import common
from pocketstack.volume.actions import Actions
from pocketstack.volume.api import views
from pocketstack.volume.api.volumes import body_of
from pocketstack.volume.backups import Transfers
from pocketstack.volume.common import vroute
from pocketstack.volume.quotas import Quotas

EXTENSIONS = [
    ("AdminActions", "os-admin-actions", "Enable admin actions."),
    ("Availability_zones", "os-availability-zone", "Describe Availability Zones."),
    ("Backups", "backups", "Backups support."),
    ("Qos_specs_manage", "qos-specs", "QoS specs support."),
    ("Quotas", "os-quota-sets", "Quota management support."),
    ("Services", "os-services", "Services support."),
    ("Hosts", "os-hosts", "Admin-only host administration."),
    ("TypesManage", "os-types-manage", "Types manage support."),
    ("TypesExtraSpecs", "os-types-extra-specs", "Type extra specs support."),
    ("VolumeTransfer", "os-volume-transfer", "Volume transfer management support."),
    ("VolumeActions", "os-volume-actions", "Enable volume actions."),
    ("VolumeTypeAccess", "os-volume-type-access", "Volume type access support."),
    ("VolumeHostAttribute", "os-vol-host-attr", "Expose host as an attribute of a volume."),
    ("VolumeTenantAttribute", "os-vol-tenant-attr",
     "Expose the internal project_id as an attribute of a volume."),
    ("VolumeImageMetadata", "os-vol-image-meta", "Show image metadata associated with the "
     "volume."),
    ("ExtendedSnapshotAttributes", "os-extended-snapshot-attributes",
     "Extended SnapshotAttributes support."),
    ("SnapshotActions", "os-snapshot-actions", "Enable snapshot manager actions."),
]


class Misc:
    def __init__(self, service: Any, quotas: Quotas) -> None:
        self.service = service
        self.quotas = quotas
        self.disabled: dict[tuple[str, str], str | None] = {}

    # -- services & zones -------------------------------------------------------------
    def _services(self) -> list[dict[str, Any]]:
        host = self.service.cloud.host
        now = common.iso(utcnow())
        out = []
        backends = [("cinder-volume", b.host) for b in self.service.driver.backends]
        for binary, h in (("cinder-scheduler", host), *backends, ("cinder-backup", host)):
            reason = self.disabled.get((binary, h), False)
            svc = {"binary": binary, "host": h, "zone": "nova",
                   "status": "disabled" if reason is not False else "enabled",
                   "state": "up", "updated_at": now,
                   "disabled_reason": reason or None, "cluster": None,
                   "backend_state": "up" if binary == "cinder-volume" else None}
            if binary == "cinder-volume":  # replication fields: volume services only
                svc.update(replication_status="disabled", active_backend_id=None,
                           frozen=False)
            out.append(svc)
        return out

    @vroute("GET", "/os-services", policy="volume:services")
    def services(self, req: Request) -> dict[str, Any]:
        items = self._services()
        for key in ("binary", "host", "zone"):
            want = req.query.get(key)
            if want:  # a host filter matches "HOST" and "HOST@backend" alike, as Cinder
                items = [s for s in items if s[key] == want or
                         (key == "host" and s[key].split("@")[0] == want)]
        for s in items:
            if not req.at_least("3.7"):
                s.pop("cluster")
            if not req.at_least("3.49") or s["binary"] != "cinder-volume":
                s.pop("backend_state")
        return {"services": items}

    @vroute("PUT", "/os-services/{action}", policy="volume:services:update")
    def service_update(self, req: Request, action: str) -> dict[str, Any]:
        body = req.json()
        if not isinstance(body, dict) or not body.get("host") or not body.get("binary"):
            raise errors.BadRequest("Missing required element 'host' or 'binary'.")
        key = (body["binary"], body["host"])
        if key not in {(s["binary"], s["host"]) for s in self._services()}:
            raise errors.NotFound(f"Service {body['binary']} on host {body['host']} could "
                                  "not be found.")
        if action == "enable":
            self.disabled.pop(key, None)
            status = "enabled"
        elif action == "disable-log-reason" and not body.get("disabled_reason"):
            raise errors.BadRequest("Invalid input received: disabled_reason is required "
                                    "to disable-log-reason.")
        elif action in ("disable", "disable-log-reason"):
            self.disabled[key] = body.get("disabled_reason")
            status = "disabled"
        else:
            raise errors.NotFound(f"Unknown action {action}")
        return {"host": key[1], "binary": key[0], "service": key[0], "status": status,
                "disabled": status == "disabled",
                "disabled_reason": body.get("disabled_reason")}

    @vroute("GET", "/os-hosts", policy="volume:services")
    def hosts(self, req: Request) -> dict[str, Any]:
        return {"hosts": [{"service-status": "available" if s["state"] == "up"
                           else "unavailable", "service": s["binary"],
                           "zone": s["zone"], "service-state": s["status"],
                           "host_name": s["host"], "last-update": s["updated_at"]}
                          for s in self._services()]}

    @vroute("GET", "/os-hosts/{host}", policy="volume:services")
    def host(self, req: Request, host: str) -> dict[str, Any]:
        """The usage of a cinder-volume host: a "(total)" row then one per project."""
        names = {s["host"] for s in self._services()
                 if s["binary"] == "cinder-volume" and s["status"] == "enabled"}
        if host not in names and host not in {n.split("@")[0] for n in names}:
            raise errors.NotFound(f"Host {host} could not be found.")
        rows = self.quotas.per_project()
        total = tuple(sum(r[i] for r in rows) for i in range(1, 5))

        def resource(project: str, counts: tuple[int, ...]) -> dict[str, Any]:
            return {"resource": {"host": host, "project": project,
                                 "volume_count": str(counts[0]),
                                 "total_volume_gb": str(counts[1]),
                                 "snapshot_count": str(counts[2]),
                                 "total_snapshot_gb": str(counts[3])}}

        return {"host": [resource("(total)", total)] +
                [resource(r[0], r[1:]) for r in rows]}

    @vroute("GET", "/os-availability-zone", policy="volume:availability_zone")
    def zones(self, req: Request) -> dict[str, Any]:
        return {"availabilityZoneInfo": [{"zoneName": "nova",
                                          "zoneState": {"available": True}}]}

    @vroute("GET", "/extensions", policy="volume:extensions")
    def extensions(self, req: Request) -> dict[str, Any]:
        return {"extensions": [{"name": n, "alias": a, "description": d, "links": [],
                                "updated": "2013-04-01T00:00:00+00:00"}
                               for n, a, d in EXTENSIONS]}

    # -- back end: pools, capabilities, messages ------------------------------------------
    @vroute("GET", "/scheduler-stats/get_pools", policy="volume:services")
    def pools(self, req: Request) -> dict[str, Any]:
        """One pool per enabled back end (``HOST@name#pool``)."""
        backends = self.service.driver.backends
        if not common.as_bool(req.query.get("detail", False), "detail"):
            return {"pools": [{"name": b.location} for b in backends]}
        gib = 1024 ** 3
        allocated = self.quotas.allocated_gb_by_host()
        out = []
        for b in backends:
            disk = b.driver.disk_usage()
            used = sum(allocated.values()) if self.service.driver.legacy \
                else allocated.get(b.location, 0)
            out.append({"name": b.location, "capabilities": {
                "pool_name": b.backend_name, "volume_backend_name": b.backend_name,
                "vendor_name": "pocketstack", "driver_version": "1.0",
                "storage_protocol": "file",
                "total_capacity_gb": round(disk["total"] / gib, 2),
                "free_capacity_gb": round(disk["free"] / gib, 2),
                "allocated_capacity_gb": used, "provisioned_capacity_gb": used,
                "reserved_percentage": 0, "thin_provisioning_support": True,
                "thick_provisioning_support": False, "max_over_subscription_ratio": "20.0",
                "multiattach": True, "QoS_support": False, "backend_state": "up",
                "timestamp": common.iso(utcnow())}})
        return {"pools": out}

    @vroute("GET", "/capabilities/{host}", policy="volume:services")
    def capabilities(self, req: Request, host: str) -> dict[str, Any]:
        b = self.service.driver.find(host)
        if b is None:
            raise errors.NotFound(f"Service {host} could not be found.")
        return {"namespace": f"OS::Storage::Capabilities::{b.host}",
                "vendor_name": "pocketstack", "volume_backend_name": b.backend_name,
                "pool_name": b.backend_name, "driver_version": "1.0",
                "storage_protocol": "file",
                "display_name": None, "description": None, "visibility": None,
                "replication_targets": [], "properties": {
                    "thin_provisioning": {"title": "Thin Provisioning", "type": "boolean",
                                          "description": "Sparse files."}}}

    # -- quotas & limits -------------------------------------------------------------------
    def _target(self, req: Request, tenant_id: str) -> None:
        if tenant_id != req.ctx.project_id:
            req.enforce("volume:quota:update")  # admins only read others' quotas

    @vroute("GET", "/os-quota-sets/{tenant_id}", policy="volume:quota:show")
    def quota_show(self, req: Request, tenant_id: str) -> dict[str, Any]:
        self._target(req, tenant_id)
        usage = common.as_bool(req.query.get("usage", False), "usage")
        return {"quota_set": self.quotas.show(tenant_id, usage)}

    @vroute("GET", "/os-quota-sets/{tenant_id}/defaults", policy="volume:quota:show")
    def quota_defaults(self, req: Request, tenant_id: str) -> dict[str, Any]:
        return {"quota_set": self.quotas.show_defaults(tenant_id)}

    @vroute("PUT", "/os-quota-sets/{tenant_id}", policy="volume:quota:update")
    def quota_update(self, req: Request, tenant_id: str) -> dict[str, Any]:
        return {"quota_set": self.quotas.update(tenant_id, body_of(req, "quota_set"))}

    @vroute("DELETE", "/os-quota-sets/{tenant_id}", status=200, policy="volume:quota:delete")
    def quota_delete(self, req: Request, tenant_id: str) -> Any:
        self.quotas.delete(tenant_id)
        return common.empty(200)

    @vroute("GET", "/os-quota-class-sets/{class_name}", policy="volume:quota:show")
    def quota_class(self, req: Request, class_name: str) -> dict[str, Any]:
        d = self.quotas.show_defaults(class_name)
        return {"quota_class_set": d}

    @vroute("PUT", "/os-quota-class-sets/{class_name}", policy="volume:quota:update")
    def quota_class_update(self, req: Request, class_name: str) -> dict[str, Any]:
        if class_name != "default":
            raise errors.BadRequest("Only the 'default' quota class is supported.")
        body = body_of(req, "quota_class_set")
        limits = self.quotas.update(Quotas.CLASS, body)
        return {"quota_class_set": limits}

    @vroute("GET", "/limits", policy="volume:limits")
    def limits(self, req: Request) -> dict[str, Any]:
        return {"limits": {"rate": [],
                           "absolute": self.quotas.absolute_limits(req.ctx.project_id)}}


class TransfersApi:
    def __init__(self, transfers: Transfers) -> None:
        self.transfers = transfers

    def _create(self, req: Request) -> dict[str, Any]:
        body = body_of(req, "transfer")
        return {"transfer": views.transfer(req, self.transfers.create(req.ctx, body))}

    def _list(self, req: Request, detail: bool) -> dict[str, Any]:
        items = self.transfers.list(req.ctx, common.all_projects(req))
        page, _ = common.paginate(req, items, "volume-transfers")
        return {"transfers": [views.transfer(req, t, detail) for t in page]}

    def _accept(self, req: Request, transfer_id: str) -> dict[str, Any]:
        body = body_of(req, "accept")
        t = self.transfers.accept(req.ctx, transfer_id, body.get("auth_key"))
        return {"transfer": views.transfer(req, t, detail=False)}

    @vroute("POST", "/os-volume-transfer", status=202, policy="volume:create_transfer")
    def create(self, req: Request) -> dict[str, Any]:
        return self._create(req)

    @vroute("POST", "/volume-transfers", status=202, policy="volume:create_transfer",
            min_version="3.55")
    def create2(self, req: Request) -> dict[str, Any]:
        return self._create(req)

    @vroute("GET", "/os-volume-transfer", policy="volume:get_all_transfers")
    def list(self, req: Request) -> dict[str, Any]:
        return self._list(req, False)

    @vroute("GET", "/volume-transfers", policy="volume:get_all_transfers", min_version="3.55")
    def list2(self, req: Request) -> dict[str, Any]:
        return self._list(req, False)

    @vroute("GET", "/os-volume-transfer/detail", policy="volume:get_all_transfers")
    def detail(self, req: Request) -> dict[str, Any]:
        return self._list(req, True)

    @vroute("GET", "/volume-transfers/detail", policy="volume:get_all_transfers",
            min_version="3.55")
    def detail2(self, req: Request) -> dict[str, Any]:
        return self._list(req, True)

    @vroute("GET", "/os-volume-transfer/{transfer_id}", policy="volume:get_transfer")
    def get(self, req: Request, transfer_id: str) -> dict[str, Any]:
        return {"transfer": views.transfer(req, self.transfers.get(req.ctx, transfer_id))}

    @vroute("GET", "/volume-transfers/{transfer_id}", policy="volume:get_transfer",
            min_version="3.55")
    def get2(self, req: Request, transfer_id: str) -> dict[str, Any]:
        return {"transfer": views.transfer(req, self.transfers.get(req.ctx, transfer_id))}

    @vroute("DELETE", "/os-volume-transfer/{transfer_id}", status=202,
            policy="volume:delete_transfer")
    def delete(self, req: Request, transfer_id: str) -> None:
        self.transfers.delete(req.ctx, transfer_id)

    @vroute("DELETE", "/volume-transfers/{transfer_id}", status=202,
            policy="volume:delete_transfer", min_version="3.55")
    def delete2(self, req: Request, transfer_id: str) -> None:
        self.transfers.delete(req.ctx, transfer_id)

    @vroute("POST", "/os-volume-transfer/{transfer_id}/accept", status=202,
            policy="volume:accept_transfer")
    def accept(self, req: Request, transfer_id: str) -> dict[str, Any]:
        return self._accept(req, transfer_id)

    @vroute("POST", "/volume-transfers/{transfer_id}/accept", status=202,
            policy="volume:accept_transfer", min_version="3.55")
    def accept2(self, req: Request, transfer_id: str) -> dict[str, Any]:
        return self._accept(req, transfer_id)


class AttachmentsApi:
    def __init__(self, actions: Actions) -> None:
        self.actions = actions

    @vroute("POST", "/attachments", policy="volume:attachment_create", min_version="3.27")
    def create(self, req: Request) -> dict[str, Any]:
        body = body_of(req, "attachment")
        mode = body.get("mode") if req.at_least("3.54") else None
        return {"attachment": self.actions.attachment_create(
            req.ctx, body.get("volume_uuid"), body.get("instance_uuid"),
            body.get("connector"), mode)}

    def _list(self, req: Request, detail: bool) -> dict[str, Any]:
        filters = {k: req.query[k] for k in ("volume_id", "instance_id", "status")
                   if k in req.query}
        items = self.actions.attachment_list(req.ctx, common.all_projects(req), filters)
        page, _ = common.paginate(req, items, "attachments")
        if not detail:
            page = [{k: a[k] for k in ("id", "status", "instance", "volume_id")} for a in page]
        else:
            page = [{k: v for k, v in a.items() if k != "created_at"} for a in page]
        return {"attachments": page}

    @vroute("GET", "/attachments", policy="volume:attachment_get", min_version="3.27")
    def list(self, req: Request) -> dict[str, Any]:
        return self._list(req, False)

    @vroute("GET", "/attachments/detail", policy="volume:attachment_get", min_version="3.27")
    def detail(self, req: Request) -> dict[str, Any]:
        return self._list(req, True)

    @vroute("GET", "/attachments/{attachment_id}", policy="volume:attachment_get",
            min_version="3.27")
    def get(self, req: Request, attachment_id: str) -> dict[str, Any]:
        return {"attachment": self.actions.attachment_get(req.ctx, attachment_id)}

    @vroute("PUT", "/attachments/{attachment_id}", policy="volume:attachment_update",
            min_version="3.27")
    def update(self, req: Request, attachment_id: str) -> dict[str, Any]:
        body = body_of(req, "attachment")
        return {"attachment": self.actions.attachment_update(req.ctx, attachment_id,
                                                             body.get("connector"))}

    @vroute("DELETE", "/attachments/{attachment_id}", status=200,
            policy="volume:attachment_delete", min_version="3.27")
    def delete(self, req: Request, attachment_id: str) -> dict[str, Any]:
        self.actions.attachment_delete(req.ctx, attachment_id)
        return {"attachments": []}

    @vroute("POST", "/attachments/{attachment_id}/action", status=204,
            policy="volume:attachment_complete", min_version="3.44")
    def action(self, req: Request, attachment_id: str) -> None:
        body = req.json()
        if not isinstance(body, dict) or "os-complete" not in body:
            raise errors.BadRequest("There is no such action")
        self.actions.attachment_complete(req.ctx, attachment_id)
