"""The in-process claim (on SQLite) and release, in a few DB-API statements.

The scheduler's claim (one consumer, its allocations on a provider or two, no consumer
generation to check) is the hot write of every boot. Through the ORM it cost a dozen
statements, each compiled and flushed by SQLAlchemy, under the write lock. Here it is:

1. the consumer row, inserted or (if it exists) its generation bumped, in one UPSERT
   that returns the generation (0: new, so it has no allocations to forget);
2. for an existing consumer only: its old allocations deleted (returning their providers);
3. the allocation rows, by ``executemany`` of one INSERT ... SELECT guarded by the
   provider's inventory (min_unit, max_unit, step_size and the capacity against the
   current usage, the same arithmetic as :meth:`Allocations._check_capacity`);
4. the generations of the providers touched, in one UPDATE.

SQL texts are constants, so sqlite3's per-connection statement cache compiles each once.
When a guarded row is not inserted (no such provider, no inventory, not enough room) the
fast path raises :class:`Undecided`: the caller rolls the transaction back and runs the
ORM path, which writes the same rows or raises Placement's exact error.
"""

from __future__ import annotations

import sqlite3

from pocketstack.db import utcnow
from pocketstack.db.raw import Tx

INCOMPLETE = "00000000-0000-0000-0000-000000000000"

_UPSERT_CONSUMER = (
    "INSERT INTO placement_consumer (uuid, project_id, user_id, consumer_type, generation,"
    " created_at, updated_at) VALUES (?1, ?2, ?3, ?4, 0, ?5, ?5)"
    " ON CONFLICT(uuid) DO UPDATE SET generation = generation + 1,"
    " project_id = COALESCE(?6, project_id), user_id = COALESCE(?7, user_id),"
    " consumer_type = COALESCE(?4, consumer_type), updated_at = ?5"
    " RETURNING generation")
_FORGET = ("DELETE FROM placement_allocation WHERE consumer_id = ?"
           " RETURNING resource_provider_id")
_INSERT_GUARDED = (
    "INSERT INTO placement_allocation (consumer_id, resource_provider_id, resource_class,"
    " used, created_at)"
    " SELECT ?1, i.resource_provider_id, i.resource_class, ?2, ?3"
    " FROM placement_inventory i"
    " WHERE i.resource_provider_id ="
    " (SELECT id FROM placement_resource_provider WHERE uuid = ?4)"
    " AND i.resource_class = ?5"
    " AND ?2 >= i.min_unit AND ?2 <= i.max_unit AND ?2 % i.step_size = 0"
    " AND ?2 + (SELECT COALESCE(SUM(a.used), 0) FROM placement_allocation a"
    " WHERE a.resource_provider_id = i.resource_provider_id"
    " AND a.resource_class = i.resource_class)"
    " <= CAST((i.total - i.reserved) * i.allocation_ratio AS INTEGER)")
_DELETE_ALLOCS = "DELETE FROM placement_allocation WHERE consumer_id = :consumer"
_DELETE_CONSUMER = "DELETE FROM placement_consumer WHERE uuid = :consumer"


class Undecided(Exception):
    """The fast path could not write the claim: roll back, then take the ORM path."""


def _stamp() -> str:
    # SQLAlchemy's SQLite DateTime storage format (microseconds always present)
    return utcnow().isoformat(" ", "microseconds")


def claim(tx: Tx, consumer: str, allocations: dict[str, dict[str, int]],
          project_id: str | None, user_id: str | None,
          consumer_type: str | None) -> None:
    """Make ``allocations`` ({rp_uuid: {rc: amount}}, not empty) the consumer's, in
    ``tx`` (SQLite's); raises :class:`Undecided` (having written part of it) when it
    cannot."""
    raw = tx.conn
    now = _stamp()
    try:
        (generation,), = raw.execute(_UPSERT_CONSUMER, (
            consumer, project_id or INCOMPLETE, user_id or INCOMPLETE, consumer_type or None,
            now, project_id or None, user_id or None)).fetchall()
        old: set[int] = set()
        if generation:  # it existed: forget its allocations before checking the new ones
            old = {r[0] for r in raw.execute(_FORGET, (consumer,)).fetchall()}
        rows = [(consumer, amount, now, rp, rc)
                for rp, res in allocations.items() for rc, amount in res.items()]
        if raw.executemany(_INSERT_GUARDED, rows).rowcount != len(rows):
            raise Undecided(consumer)
    except sqlite3.IntegrityError as exc:
        raise Undecided(consumer) from exc
    uuids = list(allocations)
    sql = ("UPDATE placement_resource_provider SET generation = generation + 1,"
           f" updated_at = ? WHERE uuid IN ({', '.join('?' * len(uuids))})")
    if old:
        sql += f" OR id IN ({', '.join('?' * len(old))})"
    raw.execute(sql, (now, *uuids, *old))


def release(tx: Tx, consumer: str) -> bool:
    """Drop the consumer and its allocations in ``tx`` (any database); False when it had
    no allocations."""
    if not tx.execute(_DELETE_ALLOCS, {"consumer": consumer}).rowcount:
        return False
    tx.execute(_DELETE_CONSUMER, {"consumer": consumer})
    return True
