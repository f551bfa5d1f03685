"""Resource providers: the tree of providers, their traits and aggregates."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, exists, func, select
from sqlalchemy.orm import Session

from pocketstack.db import Database, new_uuid
from pocketstack.placement import common
from pocketstack.placement.models import (Allocation, ProviderAggregate, ProviderTrait,
                                          ResourceProvider, Trait)
from pocketstack.placement.snapshot import Snapshot, traits_ok

UNSET: Any = object()


def get_rp(session: Session, uuid: str, *, for_update: bool = False) -> ResourceProvider:
    rp = session.scalar(select(ResourceProvider).where(ResourceProvider.uuid == uuid))
    if rp is None:
        raise common.not_found(f"No resource provider with uuid {uuid} found",
                               common.PROVIDER_NOT_FOUND)
    return rp


def check_generation(rp: ResourceProvider, generation: int | None) -> None:
    if generation is not None and rp.generation != generation:
        raise common.conflict(
            f"Resource provider's generation already changed. Please update the generation "
            f"and try again. (resource provider {rp.uuid} has generation {rp.generation}, "
            f"got {generation})", common.CONCURRENT_UPDATE)


class Providers:
    def __init__(self, db: Database) -> None:
        self.db = db

    # -- views ------------------------------------------------------------------
    @staticmethod
    def view(session: Session, rp: ResourceProvider) -> dict[str, Any]:
        def uuid_of(rp_id: int | None) -> str | None:
            if rp_id is None:
                return None
            if rp_id == rp.id:
                return rp.uuid
            return session.scalar(select(ResourceProvider.uuid)
                                  .where(ResourceProvider.id == rp_id))

        return {"uuid": rp.uuid, "name": rp.name, "generation": rp.generation,
                "parent_provider_uuid": uuid_of(rp.parent_provider_id),
                "root_provider_uuid": uuid_of(rp.root_provider_id or rp.id),
                "updated_at": rp.updated_at}

    # -- CRUD -------------------------------------------------------------------
    def create(self, name: str, uuid: str | None = None,
               parent_uuid: str | None = None) -> dict[str, Any]:
        uuid = uuid or new_uuid()
        with self.db.write() as s:
            if s.scalar(select(ResourceProvider.id).where(ResourceProvider.uuid == uuid)):
                raise common.conflict(f"Conflicting resource provider uuid: {uuid} already "
                                      "exists.", common.DUPLICATE_NAME)
            self._check_name(s, name)
            rp = ResourceProvider(uuid=uuid, name=name, generation=0)
            if parent_uuid:
                parent = s.scalar(select(ResourceProvider)
                                  .where(ResourceProvider.uuid == parent_uuid))
                if parent is None:
                    raise common.bad_request(
                        f"parent provider UUID {parent_uuid} does not exist.")
                rp.parent_provider_id = parent.id
                rp.root_provider_id = parent.root_provider_id or parent.id
            s.add(rp)
            s.flush()
            if rp.root_provider_id is None:
                rp.root_provider_id = rp.id
            return self.view(s, rp)

    @staticmethod
    def _check_name(s: Session, name: str, exclude: int | None = None) -> None:
        found = s.scalar(select(ResourceProvider.id).where(ResourceProvider.name == name))
        if found is not None and found != exclude:
            raise common.conflict(f"Conflicting resource provider name: {name} already "
                                  "exists.", common.DUPLICATE_NAME)

    def get(self, uuid: str) -> dict[str, Any]:
        with self.db.read() as s:
            return self.view(s, get_rp(s, uuid))

    def update(self, uuid: str, name: str, parent_uuid: Any = UNSET,
               allow_reparent: bool = False) -> dict[str, Any]:
        with self.db.write() as s:
            rp = get_rp(s, uuid)
            self._check_name(s, name, exclude=rp.id)
            rp.name = name
            if parent_uuid is not UNSET:
                self._reparent(s, rp, parent_uuid, allow_reparent)
            s.flush()
            return self.view(s, rp)

    def _reparent(self, s: Session, rp: ResourceProvider, parent_uuid: str | None,
                  allow: bool) -> None:
        current = rp.parent_provider_id
        if parent_uuid is None:
            if current is None:
                return
            if not allow:
                raise common.bad_request("Un-parenting a provider is not currently allowed.")
            rp.parent_provider_id = None
            new_root = rp.id
        else:
            parent = s.scalar(select(ResourceProvider)
                              .where(ResourceProvider.uuid == parent_uuid))
            if parent is None:
                raise common.bad_request(f"parent provider UUID {parent_uuid} does not exist.")
            if parent.id == current:
                return
            if current is not None and not allow:
                raise common.bad_request("Re-parenting a provider is not currently allowed.")
            # no cycles: the new parent must not be rp or one of its descendants
            node: ResourceProvider | None = parent
            while node is not None:
                if node.id == rp.id:
                    raise common.bad_request("Creating a loop in the provider tree is "
                                             "not allowed.")
                node = s.get(ResourceProvider, node.parent_provider_id) \
                    if node.parent_provider_id else None
            rp.parent_provider_id = parent.id
            new_root = parent.root_provider_id or parent.id
        # the whole subtree moves to the new root
        old_root = rp.root_provider_id
        subtree, frontier = [rp], [rp.id]
        while frontier:
            children = list(s.scalars(select(ResourceProvider).where(
                ResourceProvider.parent_provider_id.in_(frontier))))
            subtree += children
            frontier = [c.id for c in children]
        for node in subtree:
            if node.root_provider_id == old_root:
                node.root_provider_id = new_root

    def delete(self, uuid: str) -> None:
        with self.db.write() as s:
            rp = get_rp(s, uuid)
            if s.scalar(select(exists().where(Allocation.resource_provider_id == rp.id))):
                raise common.conflict(f"Unable to delete resource provider {uuid}: Resource "
                                      "provider has allocations.", common.PROVIDER_INUSE)
            if s.scalar(select(exists().where(ResourceProvider.parent_provider_id == rp.id))):
                raise common.conflict(f"Unable to delete parent resource provider {uuid}: "
                                      "It has child resource providers.",
                                      common.CANNOT_DELETE_PARENT)
            s.delete(rp)

    def list(self, *, name: str | None = None, uuid: str | None = None,
             member_of: list[tuple[set[str] | None, set[str]]] | None = None,
             resources: dict[str, int] | None = None, in_tree: str | None = None,
             required: list[set[str]] | None = None, forbidden: set[str] | None = None
             ) -> list[dict[str, Any]]:
        with self.db.read() as s:
            snap = Snapshot(s)
            rows = list(snap.by_id.values())
            if name is not None:
                rows = [p for p in rows if p.name == name]
            if uuid is not None:
                rows = [p for p in rows if p.uuid == uuid]
            if in_tree is not None:
                anchor = snap.by_uuid.get(in_tree)
                if anchor is None:
                    return []
                rows = [p for p in rows if p.root_id == anchor.root_id]
            if member_of:
                rows = [p for p in rows if snap.member_ok(p, member_of)]
            if resources:
                rows = [p for p in rows
                        if all(p.free(rc) >= n and rc in p.inventories
                               for rc, n in resources.items())]
            if required or forbidden:
                rows = [p for p in rows if traits_ok(p.traits, required or [],
                                                     forbidden or set())]
            return [{"uuid": p.uuid, "name": p.name, "generation": p.generation,
                     "parent_provider_uuid": snap.uuid_of(p.parent_id),
                     "root_provider_uuid": snap.uuid_of(p.root_id)}
                    for p in sorted(rows, key=lambda p: p.id)]

    # -- traits -----------------------------------------------------------------
    def get_traits(self, uuid: str) -> tuple[list[str], int]:
        with self.db.read() as s:
            rp = get_rp(s, uuid)
            traits = s.scalars(select(ProviderTrait.trait)
                               .where(ProviderTrait.resource_provider_id == rp.id))
            return sorted(traits), rp.generation

    def set_traits(self, uuid: str, traits: list[str], generation: int) -> tuple[list[str], int]:
        with self.db.write() as s:
            rp = get_rp(s, uuid)
            check_generation(rp, generation)
            known = set(s.scalars(select(Trait.name).where(Trait.name.in_(traits))))
            missing = sorted(set(traits) - known)
            if missing:
                raise common.bad_request(f"No such trait(s): {', '.join(missing)}.")
            s.execute(delete(ProviderTrait).where(ProviderTrait.resource_provider_id == rp.id))
            for t in sorted(set(traits)):
                s.add(ProviderTrait(resource_provider_id=rp.id, trait=t))
            rp.generation += 1
            return sorted(set(traits)), rp.generation

    def delete_traits(self, uuid: str) -> None:
        with self.db.write() as s:
            rp = get_rp(s, uuid)
            s.execute(delete(ProviderTrait).where(ProviderTrait.resource_provider_id == rp.id))
            rp.generation += 1

    # -- aggregates -------------------------------------------------------------
    def get_aggregates(self, uuid: str) -> tuple[list[str], int]:
        with self.db.read() as s:
            rp = get_rp(s, uuid)
            aggs = s.scalars(select(ProviderAggregate.aggregate)
                             .where(ProviderAggregate.resource_provider_id == rp.id))
            return sorted(aggs), rp.generation

    def set_aggregates(self, uuid: str, aggregates: list[str], generation: int | None,
                       bump: bool) -> tuple[list[str], int]:
        with self.db.write() as s:
            rp = get_rp(s, uuid)
            check_generation(rp, generation)
            s.execute(delete(ProviderAggregate)
                      .where(ProviderAggregate.resource_provider_id == rp.id))
            for a in sorted(set(aggregates)):
                s.add(ProviderAggregate(resource_provider_id=rp.id, aggregate=a))
            if bump:
                rp.generation += 1
            return sorted(set(aggregates)), rp.generation

    def count(self) -> int:
        with self.db.read() as s:
            return s.scalar(select(func.count()).select_from(ResourceProvider)) or 0
