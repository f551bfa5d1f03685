"""The boot-and-delete hot path's statements, as SQL text (pocketstack.db.raw).

A server's boot and delete run a dozen statements; through the ORM each costs
0.1-0.5 ms of CPU, here a few microseconds, and each write transaction holds the
SQLite write lock for fewer GIL round trips. Rows and values are those the ORM
reads and writes (the columns' own type processors convert them).
"""

from __future__ import annotations

import json
from typing import Any

from pocketstack.compute import states
from pocketstack.compute.models import Instance, InstanceAction
from pocketstack.db import Database, utcnow
from pocketstack.db.raw import Tx, detached


def load(db: Database, uuid: str, live: bool = True) -> Instance | None:
    """The instance (a detached copy, as ``db.read()`` gives), None when missing (or,
    with ``live``, deleted)."""
    codec = db.codec(Instance)
    with db.raw_read() as tx:
        row = tx.one(codec.select() + " WHERE uuid = :uuid", {"uuid": uuid})
    if row is None:
        return None
    values = codec.load(row)
    if live and values["deleted"]:
        return None
    return detached(Instance, values)


def insert(tx: Tx, db: Database, model: Any, values: dict[str, Any]) -> None:
    """INSERT one row of ``model`` (Python-side defaults filled in, as the ORM does)."""
    codec = db.codec(model)
    row = codec.full(values)
    tx.execute(codec.insert(list(row)), codec.bind(row))


_UNLIMITED = 1 << 62


def insert_within(tx: Tx, db: Database, values: dict[str, Any], count: int, vcpus: int,
                  ram: int, limits: dict[str, int]) -> bool:
    """INSERT the instance only when ``count`` servers of ``vcpus``/``ram`` fit the
    project's ``limits`` (instances, cores, ram; -1 unlimited), its usage counted in the
    same statement: False (nothing written) when they do not."""
    codec = db.codec(Instance)
    row = codec.full(values)
    keys = list(row)
    sql = (f"INSERT INTO compute_instance ({', '.join(keys)}) SELECT "
           f"{', '.join(':' + k for k in keys)} WHERE (SELECT count(id) + :q_n <= :q_il AND "
           "coalesce(sum(vcpus), 0) + :q_c <= :q_cl AND coalesce(sum(memory_mb), 0) + :q_r "
           "<= :q_rl FROM compute_instance WHERE project_id = :project_id AND deleted = "
           ":q_false)")

    def limit(name: str) -> int:
        return _UNLIMITED if limits[name] < 0 else limits[name]

    params = {**codec.bind(row), "q_n": count, "q_c": vcpus * count, "q_r": ram * count,
              "q_il": limit("instances"), "q_cl": limit("cores"), "q_rl": limit("ram"),
              "q_false": codec.bind({"deleted": False})["deleted"]}
    return tx.execute(sql, params).rowcount == 1


def add_action(tx: Tx, db: Database, uuid: str, action: str, request_id: str,
               user_id: str | None, project_id: str | None, now: Any) -> None:
    insert(tx, db, InstanceAction, {
        "instance_uuid": uuid, "action": action, "request_id": request_id,
        "user_id": user_id, "project_id": project_id, "start_time": now, "events": []})


_EVENT_SQLITE = (
    "UPDATE compute_instance_action SET events = json_insert(coalesce(events, '[]'), "
    "'$[#]', json(:event)), finish_time = :now, updated_at = :now{message} WHERE id = "
    "(SELECT id FROM compute_instance_action WHERE instance_uuid = :uuid AND "
    "request_id = :rid LIMIT 1)")


def add_event(tx: Tx, db: Database, uuid: str, request_id: str, event: str,
              host: str | None, result: str, started: Any, tb: str | None = None) -> None:
    """Append an event to the instance's action of ``request_id`` (Tasks._event_in):
    one statement on SQLite."""
    now = utcnow()
    ev = {"event": event, "start_time": started.isoformat(), "finish_time": now.isoformat(),
          "result": result, "traceback": tb, "host": host}
    codec = db.codec(InstanceAction)
    bound_now = codec.bind({"finish_time": now})["finish_time"]
    error = result != "Success"
    if db.is_sqlite:
        tx.execute(_EVENT_SQLITE.format(message=", message = 'Error'" if error else ""),
                   {"event": json.dumps(ev, separators=(",", ":")), "now": bound_now,
                    "uuid": uuid, "rid": request_id})
        return
    row = tx.one("SELECT id, events FROM compute_instance_action WHERE instance_uuid = :uuid "
                 "AND request_id = :rid", {"uuid": uuid, "rid": request_id})
    if row is None:
        return
    events = [*(json.loads(row[1]) if row[1] else []), ev]
    tx.execute("UPDATE compute_instance_action SET events = :events, finish_time = :now, "
               "updated_at = :now" + (", message = 'Error'" if error else "") +
               " WHERE id = :id", {"events": json.dumps(events, separators=(",", ":")),
                                   "now": bound_now, "id": row[0]})


_ACTIVATE = (
    "UPDATE compute_instance SET "
    "vm_state = CASE WHEN task_state = :deleting THEN vm_state ELSE :active END, "
    "task_state = CASE WHEN task_state = :deleting THEN task_state ELSE NULL END, "
    "power_state = :running, launched_at = :now, progress = 0, updated_at = :now "
    "WHERE uuid = :uuid AND deleted = :false")


def activate(tx: Tx, db: Database, uuid: str, now: Any) -> tuple[bool, bool]:
    """ACTIVE/RUNNING after a build unless a delete overtook it (then its task_state
    and vm_state stay): (the row was live, a delete overtook the build)."""
    params = db.codec(Instance).bind({"launched_at": now, "deleted": False})
    params = {"deleting": states.DELETING, "active": states.ACTIVE,
              "running": states.RUNNING, "now": params["launched_at"], "uuid": uuid,
              "false": params["deleted"]}
    if db.writer.dialect.update_returning:
        row = tx.one(_ACTIVATE + " RETURNING task_state", params)
        return (False, False) if row is None else (True, row[0] == states.DELETING)
    if not tx.execute(_ACTIVATE, params).rowcount:
        return False, False
    row = tx.one("SELECT task_state FROM compute_instance WHERE uuid = :uuid",
                 {"uuid": uuid})
    return True, row is not None and row[0] == states.DELETING


def start_task(tx: Tx, db: Database, uuid: str, task_state: str, now: Any) -> bool:
    """Set the task_state of a live instance that is not already in it: False when the
    instance is missing, deleted, or already in ``task_state``."""
    bound = db.codec(Instance).bind({"updated_at": now, "deleted": False})
    return bool(tx.execute(
        "UPDATE compute_instance SET task_state = :task, updated_at = :now WHERE uuid = :uuid "
        "AND deleted = :false AND (task_state IS NULL OR task_state != :task)",
        {"task": task_state, "now": bound["updated_at"], "uuid": uuid,
         "false": bound["deleted"]}).rowcount)


def set_live(tx: Tx, db: Database, uuid: str, fields: dict[str, Any]) -> bool:
    """Set columns (names are the model's, never the caller's input) of a live
    instance; False when it is missing or deleted."""
    bound = db.codec(Instance).bind({**fields, "deleted": False})
    sets = ", ".join(f"{name} = :{name}" for name in fields)
    return bool(tx.execute(f"UPDATE compute_instance SET {sets} WHERE uuid = :uuid_ "
                           "AND deleted = :deleted", {**bound, "uuid_": uuid}).rowcount)


def column(db: Database, uuid: str, name: str) -> Any:
    """One column of an instance (None when it is missing)."""
    codec = db.codec(Instance)
    with db.raw_read() as tx:
        row = tx.one(codec.select((name,)) + " WHERE uuid = :uuid", {"uuid": uuid})
    return None if row is None else codec.load(row, (name,))[name]
