"""Resource classes and traits: the standard ones (seeded) and CUSTOM_* ones."""

from __future__ import annotations

from sqlalchemy import exists, select

from pocketstack.db import Database
from pocketstack.placement import common, standard
from pocketstack.placement.models import (Allocation, Inventory, ProviderTrait, ResourceClass,
                                          Trait)


def _check_custom(name: str, kind: str) -> None:
    if not standard.CUSTOM_NAME.match(name) or len(name) > 255:
        raise common.bad_request(f"Invalid {kind} name {name!r}: custom names must start "
                                 "with CUSTOM_ and contain only A-Z, 0-9 and _.")


class Catalog:
    def __init__(self, db: Database) -> None:
        self.db = db

    def seed(self) -> None:
        """Insert the standard classes and traits that are missing (idempotent)."""
        with self.db.write() as s:
            have = set(s.scalars(select(ResourceClass.name)))
            for name in standard.RESOURCE_CLASSES:
                if name not in have:
                    s.add(ResourceClass(name=name, standard=True))
            have = set(s.scalars(select(Trait.name)))
            for name in standard.TRAITS:
                if name not in have:
                    s.add(Trait(name=name, standard=True))

    # -- resource classes -------------------------------------------------------
    def list_classes(self) -> list[str]:
        with self.db.read() as s:
            rows = s.execute(select(ResourceClass.name, ResourceClass.standard)).all()
        order = {n: i for i, n in enumerate(standard.RESOURCE_CLASSES)}
        return [n for n, _ in sorted(rows, key=lambda r: (not r[1], order.get(r[0], 0), r[0]))]

    def class_exists(self, name: str) -> bool:
        with self.db.read() as s:
            return s.get(ResourceClass, name) is not None

    def create_class(self, name: str, exist_ok: bool = False) -> bool:
        """True when created; a conflict (or False with ``exist_ok``) when it exists."""
        _check_custom(name, "resource class")
        with self.db.write() as s:
            if s.get(ResourceClass, name) is not None:
                if exist_ok:
                    return False
                raise common.conflict(f"Conflicting resource class already exists: {name}",
                                      common.DUPLICATE_NAME)
            s.add(ResourceClass(name=name, standard=False))
            return True

    def rename_class(self, name: str, new_name: str) -> None:
        _check_custom(new_name, "resource class")
        with self.db.write() as s:
            rc = s.get(ResourceClass, name)
            if rc is None:
                raise common.not_found(f"No such resource class {name}.")
            if rc.standard:
                raise common.bad_request(f"Cannot update standard resource class {name}")
            if s.get(ResourceClass, new_name) is not None:
                raise common.conflict(f"Resource class already exists: {new_name}",
                                      common.DUPLICATE_NAME)
            if self._class_in_use(s, name):
                raise common.conflict(f"Unable to update resource class {name}: it is in use.")
            s.delete(rc)
            s.add(ResourceClass(name=new_name, standard=False))

    @staticmethod
    def _class_in_use(s, name: str) -> bool:
        return bool(s.scalar(select(exists().where(Inventory.resource_class == name))) or
                    s.scalar(select(exists().where(Allocation.resource_class == name))))

    def delete_class(self, name: str) -> None:
        with self.db.write() as s:
            rc = s.get(ResourceClass, name)
            if rc is None:
                raise common.not_found(f"No such resource class {name}.")
            if rc.standard:
                raise common.bad_request(f"Cannot delete standard resource class {name}: "
                                         "Standard resource classes cannot be deleted.")
            if self._class_in_use(s, name):
                raise common.conflict(f"Unable to delete resource class {name}: Resource "
                                      "class is in use in inventory")
            s.delete(rc)

    # -- traits -------------------------------------------------------------------
    def list_traits(self, name_in: list[str] | None = None, startswith: str | None = None,
                    associated: bool | None = None) -> list[str]:
        with self.db.read() as s:
            q = select(Trait.name)
            if name_in is not None:
                q = q.where(Trait.name.in_(name_in))
            if startswith is not None:
                q = q.where(Trait.name.startswith(startswith, autoescape=True))
            used = exists().where(ProviderTrait.trait == Trait.name)
            if associated is True:
                q = q.where(used)
            elif associated is False:
                q = q.where(~used)
            return sorted(s.scalars(q))

    def trait_exists(self, name: str) -> bool:
        with self.db.read() as s:
            return s.get(Trait, name) is not None

    def create_trait(self, name: str) -> bool:
        _check_custom(name, "trait")
        with self.db.write() as s:
            if s.get(Trait, name) is not None:
                return False
            s.add(Trait(name=name, standard=False))
            return True

    def delete_trait(self, name: str) -> None:
        with self.db.write() as s:
            trait = s.get(Trait, name)
            if trait is None:
                raise common.not_found(f"No such trait(s): {name}.")
            if trait.standard:
                raise common.bad_request(f"Cannot delete standard trait {name}.")
            if s.scalar(select(exists().where(ProviderTrait.trait == name))):
                raise common.conflict(f"The trait {name} is in use by a resource provider.")
            s.delete(trait)
