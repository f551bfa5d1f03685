"""An in-memory picture of every provider, loaded with a handful of bulk queries.

Allocation candidates and the filtered provider listing work on it, so that a
search over thousands of providers costs five SQL statements, not five per
provider.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pocketstack.placement.models import (Allocation, Inventory, ProviderAggregate,
                                          ProviderTrait, ResourceProvider)


@dataclass
class Inv:
    total: int
    reserved: int
    min_unit: int
    max_unit: int
    step_size: int
    allocation_ratio: float

    @property
    def capacity(self) -> int:
        return int((self.total - self.reserved) * self.allocation_ratio)


@dataclass
class Prov:
    id: int
    uuid: str
    name: str
    generation: int
    parent_id: int | None
    root_id: int
    inventories: dict[str, Inv] = field(default_factory=dict)
    used: dict[str, int] = field(default_factory=dict)
    traits: set[str] = field(default_factory=set)
    aggregates: set[str] = field(default_factory=set)

    def free(self, rc: str) -> int:
        inv = self.inventories.get(rc)
        return 0 if inv is None else inv.capacity - self.used.get(rc, 0)

    def fits(self, rc: str, amount: int, already: int = 0) -> bool:
        inv = self.inventories.get(rc)
        if inv is None:
            return False
        if amount < inv.min_unit or amount > inv.max_unit or amount % inv.step_size:
            return False
        return self.used.get(rc, 0) + already + amount <= inv.capacity


class Snapshot:
    def __init__(self, session: Session, need_traits: bool = True,
                 need_aggregates: bool = True) -> None:
        self.by_id: dict[int, Prov] = {}
        for row in session.execute(select(
                ResourceProvider.id, ResourceProvider.uuid, ResourceProvider.name,
                ResourceProvider.generation, ResourceProvider.parent_provider_id,
                ResourceProvider.root_provider_id)):
            self.by_id[row[0]] = Prov(row[0], row[1], row[2], row[3], row[4], row[5] or row[0])
        for inv in session.scalars(select(Inventory)):
            p = self.by_id.get(inv.resource_provider_id)
            if p is not None:
                p.inventories[inv.resource_class] = Inv(
                    inv.total, inv.reserved, inv.min_unit, inv.max_unit, inv.step_size,
                    inv.allocation_ratio)
        for rp_id, rc, used in session.execute(
                select(Allocation.resource_provider_id, Allocation.resource_class,
                       func.sum(Allocation.used))
                .group_by(Allocation.resource_provider_id, Allocation.resource_class)):
            p = self.by_id.get(rp_id)
            if p is not None:
                p.used[rc] = int(used)
        if need_traits:
            for rp_id, trait in session.execute(
                    select(ProviderTrait.resource_provider_id, ProviderTrait.trait)):
                if rp_id in self.by_id:
                    self.by_id[rp_id].traits.add(trait)
        if need_aggregates:
            for rp_id, agg in session.execute(
                    select(ProviderAggregate.resource_provider_id, ProviderAggregate.aggregate)):
                if rp_id in self.by_id:
                    self.by_id[rp_id].aggregates.add(agg)
        self.by_uuid = {p.uuid: p for p in self.by_id.values()}
        self.trees: dict[int, list[Prov]] = {}
        for p in sorted(self.by_id.values(), key=lambda p: p.id):
            self.trees.setdefault(p.root_id, []).append(p)

    def uuid_of(self, rp_id: int | None) -> str | None:
        return None if rp_id is None else self.by_id[rp_id].uuid

    def ancestors(self, p: Prov) -> list[int]:
        """``p``'s id and the ids of its ancestors, nearest first."""
        out = [p.id]
        while p.parent_id is not None:
            p = self.by_id[p.parent_id]
            out.append(p.id)
        return out

    def member_ok(self, p: Prov, member_of: list[tuple[set[str] | None, set[str]]]) -> bool:
        """Aggregate filters; a provider also counts as a member of its root's aggregates."""
        aggs = p.aggregates | self.by_id[p.root_id].aggregates
        for any_of, forbidden in member_of:
            if any_of is not None and not aggs & any_of:
                return False
            if forbidden and aggs & forbidden:
                return False
        return True


def traits_ok(traits: set[str], required: list[set[str]], forbidden: set[str]) -> bool:
    return all(traits & any_of for any_of in required) and not traits & forbidden
