"""The placement domain layer in one object, and the in-process API for the scheduler."""

from __future__ import annotations

from typing import Any, Iterable

from sqlalchemy import select

from pocketstack.api import errors
from pocketstack.db import Database
from pocketstack.placement.allocations import Allocations, ConsumerRequest
from pocketstack.placement.candidates import CandidateFinder, CandidateRequest, RequestGroup
from pocketstack.placement.catalog import Catalog
from pocketstack.placement.inventories import Inventories
from pocketstack.placement.models import ResourceProvider
from pocketstack.placement.providers import Providers


class Placement:
    def __init__(self, db: Database, randomize: bool = False, max_candidates: int = -1
                 ) -> None:
        self.db = db
        self.catalog = Catalog(db)
        self.providers = Providers(db)
        self.inventories = Inventories(db)
        self.allocations = Allocations(db)
        self.candidates = CandidateFinder(db, randomize, max_candidates)

    def reshape(self, inventories: dict[str, tuple[int, dict[str, dict[str, Any]]]],
                requests: list[ConsumerRequest]) -> None:
        """POST /reshaper: new inventories and moved allocations in one transaction."""
        with self.db.write() as s:
            for uuid, (generation, invs) in inventories.items():
                self.inventories.replace_in(s, uuid, generation, invs, check_in_use=False)
            self.allocations.set_in(s, requests)
            for uuid in inventories:
                self.inventories.check_in_use(s, uuid)

    # -- in-process API (see the package docstring) ------------------------------
    def ensure_compute_provider(self, name: str, inventory: dict[str, Any],
                                uuid: str | None = None,
                                traits: Iterable[str] | None = None) -> str:
        with self.db.read() as s:
            rp_uuid = s.scalar(select(ResourceProvider.uuid)
                               .where(ResourceProvider.name == name))
        if rp_uuid is None:
            try:
                rp_uuid = self.providers.create(name, uuid=uuid)["uuid"]
            except errors.Conflict:  # created concurrently
                rp_uuid = self.providers.list(name=name)[0]["uuid"]
        wanted = {rc: (v if isinstance(v, dict) else {"total": v})
                  for rc, v in inventory.items()}
        for _ in range(5):
            current, generation = self.inventories.list(rp_uuid)
            merged = {rc: {**current.get(rc, {}), **v} for rc, v in wanted.items()}
            if merged == current:
                break
            try:
                self.inventories.replace(rp_uuid, generation, merged)
                break
            except errors.Conflict as exc:
                if exc.extra.get("code") != "placement.concurrent_update":
                    raise
        if traits is not None:
            for t in traits:
                if t.startswith("CUSTOM_"):
                    self.catalog.create_trait(t)
            have, generation = self.providers.get_traits(rp_uuid)
            if set(have) != set(traits):
                self.providers.set_traits(rp_uuid, list(traits), generation)
        return rp_uuid

    def claim(self, consumer: str, allocations: dict[str, dict[str, int]], project_id: str,
              user_id: str, consumer_type: str | None = "INSTANCE") -> None:
        self.allocations.set([ConsumerRequest(consumer, allocations, project_id, user_id,
                                              consumer_type=consumer_type)])

    def release(self, consumer: str) -> bool:
        try:
            self.allocations.delete(consumer)
        except errors.NotFound:
            return False
        return True

    def candidate_hosts(self, resources: dict[str, int], required: Iterable[str] = (),
                        forbidden: Iterable[str] = (), member_of: Iterable[str] | None = None,
                        limit: int | None = None) -> list[dict[str, Any]]:
        group = RequestGroup(resources=dict(resources), required=[{t} for t in required],
                             forbidden=set(forbidden),
                             member_of=[(set(member_of), set())] if member_of else [])
        cands, snap = self.candidates.find(CandidateRequest([group], limit=limit))
        return [{"uuid": snap.by_id[c.root].uuid, "name": snap.by_id[c.root].name,
                 "allocations": c.allocations} for c in cands]
