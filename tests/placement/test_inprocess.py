"""The in-process API compute's scheduler uses (no HTTP), on a database of its own."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import event

from pocketstack.api import errors
from pocketstack.db import Database, migrate
from pocketstack.placement.manager import Placement


@pytest.fixture
def placement(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'p.db'}")
    migrate.upgrade(db)
    p = Placement(db)
    p.catalog.seed()
    p.catalog.seed()  # idempotent
    yield p
    db.dispose()


def test_ensure_claim_release(placement):
    rp = placement.ensure_compute_provider(
        "compute-1", {"VCPU": {"total": 4, "allocation_ratio": 2.0}, "MEMORY_MB": 4096},
        traits=["COMPUTE_NODE", "CUSTOM_FAST"])
    # classes not listed go away; fields not given keep their values
    assert placement.ensure_compute_provider("compute-1", {"VCPU": {"total": 4},
                                                           "MEMORY_MB": 4096}) == rp
    invs, _ = placement.inventories.list(rp)
    assert invs["VCPU"]["allocation_ratio"] == 2.0 and invs["MEMORY_MB"]["total"] == 4096
    hosts = placement.candidate_hosts({"VCPU": 6, "MEMORY_MB": 1024},
                                      required=["CUSTOM_FAST"])
    assert [h["name"] for h in hosts] == ["compute-1"]
    vm1, vm2 = str(uuid.uuid4()), str(uuid.uuid4())
    placement.claim(vm1, hosts[0]["allocations"], "proj", "user")
    with pytest.raises(errors.Conflict):
        placement.claim(vm2, {rp: {"VCPU": 4}}, "proj", "user")
    assert placement.candidate_hosts({"VCPU": 3}) == []
    assert placement.candidate_hosts({"VCPU": 2}, forbidden=["CUSTOM_FAST"]) == []
    assert placement.allocations.usages("proj") == {"VCPU": 6, "MEMORY_MB": 1024}
    assert placement.release(vm1) is True
    assert placement.release(vm1) is False
    assert [h["uuid"] for h in placement.candidate_hosts({"VCPU": 8})] == [rp]


def test_candidate_search_is_a_bulk_load(placement):
    # thousands of providers, searched with a fixed number of statements
    with placement.db.write() as s:
        from pocketstack.placement.models import Inventory, ResourceProvider

        for i in range(2000):
            s.add(ResourceProvider(id=i + 1, uuid=str(uuid.uuid4()), name=f"host-{i}",
                                   generation=0, root_provider_id=i + 1))
        s.flush()
        for i in range(2000):
            s.add(Inventory(resource_provider_id=i + 1, resource_class="VCPU",
                            total=1 + i % 8, max_unit=64))
            s.add(Inventory(resource_provider_id=i + 1, resource_class="MEMORY_MB",
                            total=1024 * (1 + i % 4), max_unit=65536))
    statements = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(placement.db.reader, "before_cursor_execute", listener)
    try:
        hosts = placement.candidate_hosts({"VCPU": 8, "MEMORY_MB": 4096})
    finally:
        event.remove(placement.db.reader, "before_cursor_execute", listener)
    assert len(hosts) == 250  # VCPU total 8 (i % 8 == 7) and so MEMORY_MB 4096
    assert all(h["name"].startswith("host-") for h in hosts)
    assert {int(h["name"].split("-")[1]) % 8 for h in hosts} == {7}
    assert {int(h["name"].split("-")[1]) % 4 for h in hosts} == {3}
    assert len(statements) <= 6
    assert len(placement.candidate_hosts({"VCPU": 1}, limit=10)) == 10


def test_max_allocation_candidates_and_random_order(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'r.db'}")
    migrate.upgrade(db)
    p = Placement(db, randomize=True, max_candidates=3)
    p.catalog.seed()
    for i in range(10):
        p.ensure_compute_provider(f"c{i}", {"VCPU": 2})
    orders = {tuple(h["name"] for h in p.candidate_hosts({"VCPU": 1})) for _ in range(10)}
    assert all(len(o) == 3 for o in orders) and len(orders) > 1
    assert len(p.candidate_hosts({"VCPU": 1}, limit=2)) == 2
    db.dispose()
