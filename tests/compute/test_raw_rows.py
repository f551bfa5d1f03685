"""The SQL-text fast path (pocketstack.db.raw) writes and reads the rows the ORM does."""

from __future__ import annotations

import datetime as dt

import pytest

from pocketstack.api import errors
from pocketstack.compute import instance_rows as rows
from pocketstack.compute.models import Instance, InstanceAction
from pocketstack.db import Base, Database, utcnow
from pocketstack.db.raw import Memo


@pytest.fixture()
def db(tmp_path):
    d = Database(f"sqlite:///{tmp_path}/x.db")
    Base.metadata.create_all(d.writer, tables=[Instance.__table__, InstanceAction.__table__])
    yield d
    d.dispose()


def _values(uuid: str) -> dict:
    now = utcnow()
    return {"uuid": uuid, "project_id": "p", "user_id": "u", "display_name": "vm",
            "flavorid": "1", "flavor": {"vcpus": 1}, "vcpus": 1, "memory_mb": 64,
            "vm_state": "building", "task_state": "scheduling", "created_at": now,
            "updated_at": now, "server_metadata": {"k": "v"}}


def test_insert_load_activate_event_and_quota(db):
    now = utcnow()
    with db.raw_write() as tx:
        assert rows.insert_within(tx, db, _values("a"), 1, 1, 64,
                                  {"instances": 1, "cores": -1, "ram": -1})
        rows.add_action(tx, db, "a", "create", "req-1", "u", "p", now)
    with db.raw_write() as tx:  # the second does not fit instances = 1: nothing written
        assert not rows.insert_within(tx, db, _values("b"), 1, 1, 64,
                                      {"instances": 1, "cores": -1, "ram": -1})
    with db.read() as s:  # what the ORM reads back
        inst = s.query(Instance).filter_by(uuid="a").one()
        assert inst.server_metadata == {"k": "v"} and inst.tags == [] and not inst.deleted
        assert isinstance(inst.created_at, dt.datetime) and inst.power_state == 0
        assert s.query(Instance).filter_by(uuid="b").first() is None
    loaded = rows.load(db, "a")
    assert loaded.flavor == {"vcpus": 1} and loaded.created_at == inst.created_at
    with db.raw_write() as tx:
        assert rows.activate(tx, db, "a", utcnow()) == (True, False)
        rows.add_event(tx, db, "a", "req-1", "build", "h1", "Success", now)
        rows.add_event(tx, db, "a", "req-1", "other", "h1", "Error", now, tb="boom")
    with db.read() as s:
        act = s.query(InstanceAction).one()
        assert [e["event"] for e in act.events] == ["build", "other"]
        assert act.events[1]["traceback"] == "boom" and act.message == "Error"
        assert s.query(Instance).filter_by(uuid="a").one().vm_state == "active"
    with db.raw_write() as tx:  # a delete overtook the build: its states stay
        assert rows.start_task(tx, db, "a", "deleting", utcnow())
        assert not rows.start_task(tx, db, "a", "deleting", utcnow())
        assert rows.activate(tx, db, "a", utcnow()) == (True, True)
    assert rows.column(db, "a", "task_state") == "deleting"


def test_raw_write_rolls_back_and_conflicts(db):
    with pytest.raises(RuntimeError):
        with db.raw_write() as tx:
            rows.insert(tx, db, Instance, _values("c"))
            raise RuntimeError
    assert rows.load(db, "c") is None
    with db.raw_write() as tx:
        rows.insert(tx, db, Instance, _values("c"))
    with pytest.raises(errors.Conflict):  # uuid is unique
        with db.raw_write() as tx:
            rows.insert(tx, db, Instance, _values("c"))
    with db.write() as s:  # the ORM's writer still works alongside
        s.query(Instance).filter_by(uuid="c").one().display_name = "renamed"
    assert rows.load(db, "c").display_name == "renamed"


def test_memo_forgets_on_write():
    memo, reads = Memo(), []
    assert memo.get("k", lambda: reads.append(1) or "v1") == "v1"
    assert memo.get("k", lambda: "v2") == "v1" and reads == [1]
    memo.invalidate()
    assert memo.get("k", lambda: "v2") == "v2"
