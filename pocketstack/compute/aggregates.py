"""Host aggregates; an ``availability_zone`` key in their metadata puts hosts in a zone."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pocketstack.api import errors
from pocketstack.compute.models import Aggregate, ComputeService
from pocketstack.db import Database, new_uuid, utcnow


class Aggregates:
    def __init__(self, db: Database, default_az: str) -> None:
        self.db = db
        self.default_az = default_az

    def list(self) -> list[Aggregate]:
        with self.db.read() as s:
            return list(s.scalars(select(Aggregate).order_by(Aggregate.id)))

    @staticmethod
    def _get(s: Session, aggregate_id: str) -> Aggregate:
        agg = s.get(Aggregate, int(aggregate_id)) if aggregate_id.isdigit() else \
            s.scalar(select(Aggregate).where(Aggregate.uuid == aggregate_id))
        if agg is None:
            raise errors.NotFound(f"Aggregate {aggregate_id} could not be found.")
        return agg

    def get(self, aggregate_id: str) -> Aggregate:
        with self.db.read() as s:
            return self._get(s, aggregate_id)

    def create(self, name: str, az: str | None) -> Aggregate:
        with self.db.write() as s:
            if s.scalar(select(Aggregate.id).where(Aggregate.name == name)):
                raise errors.Conflict(f"Aggregate {name} already exists.")
            agg = Aggregate(uuid=new_uuid(), name=name, hosts=[],
                            aggregate_metadata={"availability_zone": az} if az else {})
            s.add(agg)
            return agg

    def update(self, aggregate_id: str, name: str | None, az: str | None,
               set_az: bool) -> Aggregate:
        with self.db.write() as s:
            agg = self._get(s, aggregate_id)
            if name is not None and name != agg.name:
                if s.scalar(select(Aggregate.id).where(Aggregate.name == name)):
                    raise errors.Conflict(f"Aggregate {name} already exists.")
                agg.name = name
            if set_az:
                md = dict(agg.aggregate_metadata or {})
                if az:
                    md["availability_zone"] = az
                else:
                    md.pop("availability_zone", None)
                self._check_zones(s, agg, md.get("availability_zone"), agg.hosts)
                agg.aggregate_metadata = md
                self._sync_zones(s, agg.hosts)
            agg.updated_at = utcnow()
            return agg

    def delete(self, aggregate_id: str) -> None:
        with self.db.write() as s:
            agg = self._get(s, aggregate_id)
            if agg.hosts:
                raise errors.BadRequest(f"Cannot remove aggregate {aggregate_id}: Host list is "
                                        "not empty")
            s.delete(agg)

    def add_host(self, aggregate_id: str, host: str) -> Aggregate:
        with self.db.write() as s:
            agg = self._get(s, aggregate_id)
            if not s.scalar(select(ComputeService.id).where(
                    ComputeService.host == host, ComputeService.binary == "nova-compute")):
                raise errors.NotFound(f"Compute host {host} could not be found.")
            if host in agg.hosts:
                raise errors.Conflict(f"Aggregate {aggregate_id} already has host {host}.")
            self._check_zones(s, agg, (agg.aggregate_metadata or {}).get("availability_zone"),
                              [host])
            agg.hosts = [*agg.hosts, host]
            agg.updated_at = utcnow()
            self._sync_zones(s, [host])
            return agg

    def remove_host(self, aggregate_id: str, host: str) -> Aggregate:
        with self.db.write() as s:
            agg = self._get(s, aggregate_id)
            if host not in agg.hosts:
                raise errors.NotFound(f"Cannot remove host {host} in aggregate "
                                      f"{aggregate_id}: not found")
            agg.hosts = [h for h in agg.hosts if h != host]
            agg.updated_at = utcnow()
            s.flush()
            self._sync_zones(s, [host])
            return agg

    def set_metadata(self, aggregate_id: str, metadata: dict[str, Any]) -> Aggregate:
        with self.db.write() as s:
            agg = self._get(s, aggregate_id)
            md = dict(agg.aggregate_metadata or {})
            for k, v in metadata.items():
                if v is None:
                    md.pop(k, None)
                else:
                    md[k] = str(v)
            self._check_zones(s, agg, md.get("availability_zone"), agg.hosts)
            agg.aggregate_metadata = md
            agg.updated_at = utcnow()
            s.flush()
            self._sync_zones(s, agg.hosts)
            return agg

    def _check_zones(self, s: Session, agg: Aggregate, az: str | None,
                     hosts: list[str]) -> None:
        """A host cannot be in two aggregates that name different zones."""
        if not az:
            return
        for other in s.scalars(select(Aggregate).where(Aggregate.id != agg.id)):
            other_az = (other.aggregate_metadata or {}).get("availability_zone")
            clash = set(other.hosts) & set(hosts)
            if other_az and other_az != az and clash:
                raise errors.Conflict(f"Cannot add host to aggregate {agg.id}. Reason: One or "
                                      f"more hosts already in availability zone(s) "
                                      f"['{other_az}'].")

    def _sync_zones(self, s: Session, hosts: list[str]) -> None:
        zones: dict[str, str] = {}
        for agg in s.scalars(select(Aggregate)):
            az = (agg.aggregate_metadata or {}).get("availability_zone")
            for h in agg.hosts or []:
                if az:
                    zones[h] = az
        for svc in s.scalars(select(ComputeService).where(
                ComputeService.binary == "nova-compute", ComputeService.host.in_(hosts))):
            svc.zone = zones.get(svc.host, self.default_az)

    def zone_of(self, host: str) -> str | None:
        for agg in self.list():
            if host in (agg.hosts or []) and (agg.aggregate_metadata or {}).get(
                    "availability_zone"):
                return agg.aggregate_metadata["availability_zone"]
        return None
