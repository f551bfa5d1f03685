"""Inventories of resource providers, with generation checks."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pocketstack.db import Database
from pocketstack.placement import common
from pocketstack.placement.models import Allocation, Inventory, ResourceClass, ResourceProvider
from pocketstack.placement.providers import check_generation, get_rp

FIELDS = ("total", "reserved", "min_unit", "max_unit", "step_size", "allocation_ratio")


def inventory_view(inv: Inventory) -> dict[str, Any]:
    return {f: getattr(inv, f) for f in FIELDS}


class Inventories:
    def __init__(self, db: Database) -> None:
        self.db = db

    @staticmethod
    def _load(s: Session, rp: ResourceProvider) -> dict[str, Inventory]:
        return {i.resource_class: i for i in s.scalars(
            select(Inventory).where(Inventory.resource_provider_id == rp.id))}

    @staticmethod
    def _normalize(rc: str, data: dict[str, Any], reserved_equal_ok: bool) -> dict[str, Any]:
        out = {"total": data["total"], "reserved": data.get("reserved", 0),
               "min_unit": data.get("min_unit", 1),
               "max_unit": data.get("max_unit", common.MAX_INT),
               "step_size": data.get("step_size", 1),
               "allocation_ratio": float(data.get("allocation_ratio", 1.0))}
        if out["reserved"] > out["total"] or (out["reserved"] == out["total"]
                                              and not reserved_equal_ok):
            raise common.bad_request(
                f"Unable to update inventory for resource provider: Invalid inventory for "
                f"'{rc}': Specified reserved is greater than total.")
        if out["min_unit"] > out["max_unit"]:
            raise common.bad_request(
                f"Invalid inventory for '{rc}': min_unit {out['min_unit']} is greater than "
                f"max_unit {out['max_unit']}.")
        return out

    @staticmethod
    def _check_classes(s: Session, names: list[str]) -> None:
        known = set(s.scalars(select(ResourceClass.name).where(ResourceClass.name.in_(names))))
        for name in names:
            if name not in known:
                raise common.bad_request(f"Unknown resource class in inventory for resource "
                                         f"provider: {name}")

    def check_in_use(self, s: Session, uuid: str) -> None:
        """409 if the provider holds allocations of classes it has no inventory for."""
        rp = get_rp(s, uuid)
        have = set(self._load(s, rp))
        used = s.scalars(select(Allocation.resource_class).distinct().where(
            Allocation.resource_provider_id == rp.id)).all()
        self._in_use(s, rp, [rc for rc in used if rc not in have])

    @staticmethod
    def _in_use(s: Session, rp: ResourceProvider, classes: list[str]) -> None:
        if not classes:
            return
        used = s.scalars(select(Allocation.resource_class).distinct().where(
            Allocation.resource_provider_id == rp.id,
            Allocation.resource_class.in_(classes))).all()
        if used:
            raise common.conflict(
                f"Inventory for '{', '.join(sorted(used))}' on resource provider "
                f"'{rp.uuid}' in use.", common.INVENTORY_INUSE)

    # -- whole set ----------------------------------------------------------------
    def list(self, uuid: str) -> tuple[dict[str, dict[str, Any]], int]:
        with self.db.read() as s:
            rp = get_rp(s, uuid)
            return ({rc: inventory_view(i) for rc, i in sorted(self._load(s, rp).items())},
                    rp.generation)

    def replace(self, uuid: str, generation: int, inventories: dict[str, dict[str, Any]],
                reserved_equal_ok: bool = True) -> tuple[dict[str, dict[str, Any]], int]:
        with self.db.write() as s:
            return self.replace_in(s, uuid, generation, inventories, reserved_equal_ok)

    def replace_in(self, s: Session, uuid: str, generation: int,
                   inventories: dict[str, dict[str, Any]], reserved_equal_ok: bool = True,
                   check_in_use: bool = True) -> tuple[dict[str, dict[str, Any]], int]:
        """:meth:`replace` inside the caller's transaction (the reshaper's)."""
        rp = get_rp(s, uuid)
        check_generation(rp, generation)
        self._check_classes(s, list(inventories))
        wanted = {rc: self._normalize(rc, d, reserved_equal_ok)
                  for rc, d in inventories.items()}
        current = self._load(s, rp)
        if check_in_use:
            self._in_use(s, rp, [rc for rc in current if rc not in wanted])
        for rc, inv in current.items():
            if rc not in wanted:
                s.delete(inv)
        for rc, data in wanted.items():
            inv = current.get(rc)
            if inv is None:
                s.add(Inventory(resource_provider_id=rp.id, resource_class=rc, **data))
            else:
                for k, v in data.items():
                    setattr(inv, k, v)
        rp.generation += 1
        s.flush()
        return ({rc: inventory_view(i) for rc, i in sorted(self._load(s, rp).items())},
                rp.generation)

    def delete_all(self, uuid: str) -> None:
        with self.db.write() as s:
            rp = get_rp(s, uuid)
            current = self._load(s, rp)
            self._in_use(s, rp, list(current))
            for inv in current.values():
                s.delete(inv)
            rp.generation += 1

    # -- one class ------------------------------------------------------------------
    def get(self, uuid: str, rc: str) -> tuple[dict[str, Any], int]:
        with self.db.read() as s:
            rp = get_rp(s, uuid)
            inv = self._load(s, rp).get(rc)
            if inv is None:
                raise common.not_found(f"No inventory of class {rc} for {uuid}")
            return inventory_view(inv), rp.generation

    def create(self, uuid: str, generation: int, rc: str, data: dict[str, Any],
               reserved_equal_ok: bool = True) -> tuple[dict[str, Any], int]:
        with self.db.write() as s:
            rp = get_rp(s, uuid)
            check_generation(rp, generation)
            self._check_classes(s, [rc])
            if rc in self._load(s, rp):
                raise common.conflict(f"Update conflict: Inventory for {rc} on resource "
                                      f"provider {uuid} already exists.")
            values = self._normalize(rc, data, reserved_equal_ok)
            inv = Inventory(resource_provider_id=rp.id, resource_class=rc, **values)
            s.add(inv)
            rp.generation += 1
            s.flush()
            return inventory_view(inv), rp.generation

    def update(self, uuid: str, generation: int, rc: str, data: dict[str, Any],
               reserved_equal_ok: bool = True) -> tuple[dict[str, Any], int]:
        with self.db.write() as s:
            rp = get_rp(s, uuid)
            check_generation(rp, generation)
            self._check_classes(s, [rc])
            inv = self._load(s, rp).get(rc)
            if inv is None:
                raise common.bad_request(f"No inventory record with resource class for "
                                         f"resource provider {uuid}: {rc}")
            for k, v in self._normalize(rc, data, reserved_equal_ok).items():
                setattr(inv, k, v)
            rp.generation += 1
            s.flush()
            return inventory_view(inv), rp.generation

    def delete(self, uuid: str, rc: str) -> None:
        with self.db.write() as s:
            rp = get_rp(s, uuid)
            inv = self._load(s, rp).get(rc)
            if inv is None:
                raise common.not_found(f"No inventory of class {rc} found for delete")
            self._in_use(s, rp, [rc])
            s.delete(inv)
            rp.generation += 1

    # -- usages ---------------------------------------------------------------------
    def provider_usages(self, uuid: str) -> tuple[dict[str, int], int]:
        with self.db.read() as s:
            rp = get_rp(s, uuid)
            usages = {rc: 0 for rc in self._load(s, rp)}
            for rc, used in s.execute(
                    select(Allocation.resource_class, func.sum(Allocation.used))
                    .where(Allocation.resource_provider_id == rp.id)
                    .group_by(Allocation.resource_class)):
                usages[rc] = int(used)
            return usages, rp.generation
