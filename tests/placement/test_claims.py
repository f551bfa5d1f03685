"""The DB-API claim (pocketstack.placement.claims) writes what the ORM path writes."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from pocketstack.api import errors
from pocketstack.db import Base, Database
from pocketstack.placement import claims
from pocketstack.placement.allocations import Allocations, ConsumerRequest
from pocketstack.placement.models import (Allocation, Consumer, Inventory, ResourceClass,
                                          ResourceProvider)

RP1, RP2 = "11111111-1111-1111-1111-111111111111", "22222222-2222-2222-2222-222222222222"


def make_db(path: str) -> Database:
    db = Database(f"sqlite:///{path}")
    tables = [m.__table__ for m in (ResourceClass, ResourceProvider, Inventory, Consumer,
                                    Allocation)]
    Base.metadata.create_all(db.writer, tables=tables)
    with db.write() as s:
        for rc in ("VCPU", "MEMORY_MB", "DISK_GB"):
            s.add(ResourceClass(name=rc, standard=True))
        for uuid in (RP1, RP2):
            rp = ResourceProvider(uuid=uuid, name=uuid[:4], generation=0)
            s.add(rp)
            s.flush()
            s.add(Inventory(resource_provider_id=rp.id, resource_class="VCPU", total=4,
                            reserved=0, min_unit=1, max_unit=4, step_size=1,
                            allocation_ratio=2.0))
            s.add(Inventory(resource_provider_id=rp.id, resource_class="MEMORY_MB",
                            total=1024, reserved=0, min_unit=1, max_unit=1024, step_size=1,
                            allocation_ratio=1.0))
    return db


@pytest.fixture
def db(tmp_path: Any) -> Database:
    return make_db(f"{tmp_path}/claims.db")


def state(db: Database) -> dict[str, Any]:
    with db.read() as s:
        return {
            "allocs": sorted(s.execute(select(Allocation.consumer_id, ResourceProvider.uuid,
                                              Allocation.resource_class, Allocation.used)
                                       .join(ResourceProvider, ResourceProvider.id ==
                                             Allocation.resource_provider_id)).all()),
            "consumers": sorted(s.execute(select(Consumer.uuid, Consumer.project_id,
                                                 Consumer.user_id, Consumer.consumer_type,
                                                 Consumer.generation)).all()),
            "generations": sorted(s.execute(select(ResourceProvider.uuid,
                                                   ResourceProvider.generation)).all())}


def orm(db: Database, consumer: str, allocs: dict[str, dict[str, int]], project: str | None,
        user: str | None, ctype: str | None) -> None:
    Allocations(db).set([ConsumerRequest(consumer, allocs, project, user,
                                         consumer_type=ctype)])


def fast(db: Database, consumer: str, allocs: dict[str, dict[str, int]],
         project: str | None, user: str | None, ctype: str | None) -> None:
    with db.write() as s:
        claims.claim(db.tx_of(s), consumer, allocs, project, user, ctype)


def test_claim_moves_and_release_match_the_orm_path(tmp_path: Any) -> None:
    steps = [("c1", {RP1: {"VCPU": 2, "MEMORY_MB": 512}}, "p", "u", "INSTANCE"),
             ("c2", {RP1: {"VCPU": 4}}, "p", "u", None),
             ("c1", {RP2: {"VCPU": 1}}, None, "u2", "MIGRATION"),  # moves: both bumped
             ("c1", {RP1: {"VCPU": 1}, RP2: {"MEMORY_MB": 1024}}, "p2", None, None)]
    results = []
    for writer in (orm, fast):
        db = make_db(f"{tmp_path}/{writer.__name__}.db")
        for step in steps:
            writer(db, *step)
        with db.write() as s:
            assert Allocations(db).delete_in(s, "c2")
            assert not Allocations(db).delete_in(s, "nobody")
        results.append(state(db))
    assert results[0] == results[1]
    assert results[1]["generations"] == [(RP1, 4), (RP2, 2)]
    assert results[1]["consumers"] == [("c1", "p2", "u2", "MIGRATION", 2)]


@pytest.mark.parametrize("allocs", [
    {RP1: {"VCPU": 9}},  # over capacity (4 x 2.0)
    {RP1: {"VCPU": 5}},  # over max_unit
    {RP1: {"DISK_GB": 1}},  # no inventory
    {"33333333-3333-3333-3333-333333333333": {"VCPU": 1}},  # no such provider
    {RP1: {"VCPU": 1}, RP2: {"VCPU": 9}},  # two providers (not the one-statement claim)
])
def test_refused_claims_are_undecided_and_the_orm_path_says_why(db: Database,
                                                                allocs: Any) -> None:
    before = state(db)
    with pytest.raises(claims.Undecided):
        fast(db, "c9", allocs, "p", "u", "INSTANCE")
    assert state(db) == before  # rolled back
    with pytest.raises((errors.Conflict, errors.BadRequest)):
        orm(db, "c9", allocs, "p", "u", "INSTANCE")
    fast(db, "c9", {RP1: {"VCPU": 1}}, "p", "u", "INSTANCE")  # its temp trigger remade
    assert state(db)["allocs"] == [("c9", RP1, "VCPU", 1)]
