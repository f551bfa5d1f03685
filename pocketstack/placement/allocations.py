"""Consumers, their allocations (atomic, capacity-checked) and usages."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from pocketstack.db import Database
from pocketstack.placement import claims, common, standard
from pocketstack.placement.models import (Allocation, Consumer, Inventory, ResourceClass,
                                          ResourceProvider)
from pocketstack.placement.providers import get_rp

_STANDARD = frozenset(standard.RESOURCE_CLASSES)

INCOMPLETE = "00000000-0000-0000-0000-000000000000"
NO_CHECK: Any = object()  # consumer_generation not checked (before 1.28, in-process claims)


@dataclass
class ConsumerRequest:
    """What one consumer should hold after the write: {rp_uuid: {rc: amount}}."""

    consumer: str
    allocations: dict[str, dict[str, int]]
    project_id: str | None = None
    user_id: str | None = None
    consumer_generation: Any = NO_CHECK
    consumer_type: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class Allocations:
    def __init__(self, db: Database) -> None:
        self.db = db

    # -- reads ---------------------------------------------------------------------
    def for_consumer(self, consumer: str) -> dict[str, Any]:
        with self.db.read() as s:
            c = s.get(Consumer, consumer)
            out: dict[str, Any] = {"allocations": {}}
            rows = s.execute(
                select(ResourceProvider.uuid, ResourceProvider.generation,
                       Allocation.resource_class, Allocation.used)
                .join(ResourceProvider, ResourceProvider.id == Allocation.resource_provider_id)
                .where(Allocation.consumer_id == consumer)).all()
            for rp_uuid, gen, rc, used in rows:
                entry = out["allocations"].setdefault(rp_uuid, {"generation": gen,
                                                                "resources": {}})
                entry["resources"][rc] = used
            if c is not None:
                out.update(project_id=c.project_id, user_id=c.user_id,
                           consumer_generation=c.generation, consumer_type=c.consumer_type)
            return out

    def for_provider(self, uuid: str) -> tuple[dict[str, dict[str, Any]], int]:
        with self.db.read() as s:
            rp = get_rp(s, uuid)
            out: dict[str, dict[str, Any]] = {}
            for consumer, rc, used in s.execute(
                    select(Allocation.consumer_id, Allocation.resource_class, Allocation.used)
                    .where(Allocation.resource_provider_id == rp.id)):
                out.setdefault(consumer, {"resources": {}})["resources"][rc] = used
            return out, rp.generation

    def usages(self, project_id: str, user_id: str | None = None,
               consumer_type: str | None = None, by_type: bool = False) -> dict[str, Any]:
        with self.db.read() as s:
            q = (select(Consumer.consumer_type, Allocation.resource_class,
                        func.sum(Allocation.used), func.count(func.distinct(Consumer.uuid)))
                 .join(Consumer, Consumer.uuid == Allocation.consumer_id)
                 .where(Consumer.project_id == project_id)
                 .group_by(Consumer.consumer_type, Allocation.resource_class))
            if user_id:
                q = q.where(Consumer.user_id == user_id)
            rows = s.execute(q).all()
            counts_q = (select(Consumer.consumer_type, func.count())
                        .where(Consumer.project_id == project_id)
                        .group_by(Consumer.consumer_type))
            if user_id:
                counts_q = counts_q.where(Consumer.user_id == user_id)
            counts = {t: n for t, n in s.execute(counts_q).all()}
        if not by_type:
            flat: dict[str, int] = {}
            for _t, rc, used, _n in rows:
                flat[rc] = flat.get(rc, 0) + int(used)
            return flat
        grouped: dict[str, dict[str, int]] = {}
        for ctype, rc, used, _n in rows:
            key = ctype or "unknown"
            if consumer_type not in (None, "all") and key != consumer_type:
                continue
            grouped.setdefault(key, {})[rc] = int(used)
        for ctype, n in counts.items():
            key = ctype or "unknown"
            if key in grouped:
                grouped[key]["consumer_count"] = n
        if consumer_type == "all":
            total: dict[str, int] = {"consumer_count": sum(counts.values())}
            for bucket in grouped.values():
                for rc, v in bucket.items():
                    if rc != "consumer_count":
                        total[rc] = total.get(rc, 0) + v
            return {"all": total}
        return grouped

    # -- writes ---------------------------------------------------------------------
    def set(self, requests: list[ConsumerRequest]) -> None:
        """Replace the allocations of every consumer in ``requests``, all or nothing."""
        with self.db.write() as s:
            self.set_in(s, requests)

    def delete(self, consumer: str) -> None:
        with self.db.write() as s:
            if not self.delete_in(s, consumer):
                raise common.not_found(f"No allocations for consumer '{consumer}'")

    def delete_in(self, s: Session, consumer: str) -> bool:
        """:meth:`delete` inside the caller's transaction; False when it had none."""
        return claims.release(self.db.tx_of(s), consumer)

    def set_in(self, s: Session, requests: list[ConsumerRequest]) -> None:
        """:meth:`set` inside the caller's transaction."""
        uuids = {u for r in requests for u in r.allocations}
        providers = {rp.uuid: rp for rp in s.scalars(
            select(ResourceProvider).where(ResourceProvider.uuid.in_(uuids)))}
        for u in uuids:
            if u not in providers:
                raise common.bad_request(f"Allocation for resource provider '{u}' that does "
                                         "not exist.", common.PROVIDER_NOT_FOUND)
        classes = {rc for r in requests for res in r.allocations.values() for rc in res}
        # the standard classes are seeded at start and cannot be deleted: look up the others
        unknown = classes - _STANDARD
        known = set(s.scalars(select(ResourceClass.name).where(
            ResourceClass.name.in_(unknown)))) if unknown else set()
        for rc in sorted(unknown - known):
            raise common.bad_request(f"Unable to allocate inventory: Unknown resource class "
                                     f"{rc}.")
        consumers = [r.consumer for r in requests]
        # consumers and their generations
        drop: list[Consumer] = []
        existing = False
        for r in requests:
            c = s.get(Consumer, r.consumer)
            existing = existing or c is not None
            if r.consumer_generation is not NO_CHECK:
                if c is None and r.consumer_generation is not None:
                    raise common.conflict(
                        f"consumer generation conflict - expected null but got "
                        f"{r.consumer_generation}", common.CONCURRENT_UPDATE)
                if c is not None and c.generation != r.consumer_generation:
                    raise common.conflict(
                        f"consumer generation conflict - expected "
                        f"{r.consumer_generation} but got {c.generation}",
                        common.CONCURRENT_UPDATE)
            if not r.allocations:
                if c is not None:
                    drop.append(c)
                continue
            if c is None:
                c = Consumer(uuid=r.consumer, project_id=r.project_id or INCOMPLETE,
                             user_id=r.user_id or INCOMPLETE, generation=0,
                             consumer_type=r.consumer_type)
                s.add(c)
            else:
                c.generation += 1
                if r.project_id:
                    c.project_id = r.project_id
                if r.user_id:
                    c.user_id = r.user_id
                if r.consumer_type:
                    c.consumer_type = r.consumer_type
        # forget the old allocations of these consumers, then check the new ones fit
        old: list[int] = []
        if existing:  # a new consumer has no allocations (they reference the consumer row)
            old = s.execute(select(Allocation.resource_provider_id).distinct()
                            .where(Allocation.consumer_id.in_(consumers))).scalars().all()
            s.execute(delete(Allocation).where(Allocation.consumer_id.in_(consumers)))
        for c in drop:
            s.delete(c)
        s.flush()
        wanted: dict[tuple[int, str], int] = {}
        for r in requests:
            for u, res in r.allocations.items():
                for rc, amount in res.items():
                    key = (providers[u].id, rc)
                    wanted[key] = wanted.get(key, 0) + amount
        self._check_capacity(s, providers, requests, wanted)
        rows = [{"consumer_id": r.consumer, "resource_provider_id": providers[u].id,
                 "resource_class": rc, "used": amount}
                for r in requests for u, res in r.allocations.items()
                for rc, amount in res.items()]
        if rows:  # one multi-row INSERT, not one per resource class
            s.execute(insert(Allocation), rows)
        for rp in providers.values():  # loaded above: no second query for them
            rp.generation += 1
        others = set(old) - {rp.id for rp in providers.values()}
        if others:
            for rp in s.scalars(select(ResourceProvider)
                                .where(ResourceProvider.id.in_(others))):
                rp.generation += 1

    @staticmethod
    def _check_capacity(s: Session, providers: dict[str, ResourceProvider],
                        requests: list[ConsumerRequest],
                        wanted: dict[tuple[int, str], int]) -> None:
        if not wanted:
            return
        rp_ids = {k[0] for k in wanted}
        by_id = {rp.id: rp for rp in providers.values()}
        invs = {(i.resource_provider_id, i.resource_class): i for i in s.scalars(
            select(Inventory).where(Inventory.resource_provider_id.in_(rp_ids)))}
        used = {(rp_id, rc): int(n) for rp_id, rc, n in s.execute(
            select(Allocation.resource_provider_id, Allocation.resource_class,
                   func.sum(Allocation.used))
            .where(Allocation.resource_provider_id.in_(rp_ids))
            .group_by(Allocation.resource_provider_id, Allocation.resource_class))}
        for r in requests:
            for u, res in r.allocations.items():
                for rc, amount in res.items():
                    inv = invs.get((providers[u].id, rc))
                    if inv is None:
                        raise common.conflict(
                            f"Unable to allocate inventory: Inventory for '{rc}' on resource "
                            f"provider '{u}' invalid.")
                    if (amount < inv.min_unit or amount > inv.max_unit
                            or amount % inv.step_size):
                        raise common.conflict(
                            f"Unable to allocate inventory: Unable to create allocation for "
                            f"'{rc}' on resource provider '{u}'. The requested amount would "
                            f"violate inventory constraints (min_unit {inv.min_unit}, "
                            f"max_unit {inv.max_unit}, step_size {inv.step_size}).")
        for (rp_id, rc), amount in wanted.items():
            inv = invs[(rp_id, rc)]
            capacity = int((inv.total - inv.reserved) * inv.allocation_ratio)
            if used.get((rp_id, rc), 0) + amount > capacity:
                raise common.conflict(
                    f"Unable to allocate inventory: Unable to create allocation for '{rc}' on "
                    f"resource provider '{by_id[rp_id].uuid}'. The requested amount would "
                    f"exceed the capacity.")
