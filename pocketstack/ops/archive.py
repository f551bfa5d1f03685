"""``manage db archive-deleted-rows`` and ``manage db purge``: soft-deleted rows.

A service that keeps a row for every deleted resource (Nova's instances, with
``deleted`` set) grows its tables forever. Archiving moves those rows, and the
rows that belong to them (a server's instance actions), to ``shadow_<table>``
tables of the same database; purging deletes archived rows for good.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Column, MetaData, Table, func, inspect, select

from pocketstack.db import Base

if TYPE_CHECKING:
    from pocketstack.cloud import Cloud

SHADOW = "shadow_"
#: child tables archived with their parent: (child table, child column, parent column)
CHILDREN = {"compute_instance": [("compute_instance_action", "instance_uuid", "uuid")]}
#: the column telling when a soft-deleted row was deleted, by preference
WHEN_COLUMNS = ("deleted_at", "terminated_at", "updated_at", "created_at")


@dataclass
class SoftDeleted:
    table: Table
    when: str  # column with the deletion time

    def deleted_clause(self) -> Any:
        col = self.table.c.deleted
        return col.is_(True) if str(col.type) == "BOOLEAN" else col != 0


def soft_deleted_tables() -> list[SoftDeleted]:
    """Every table with a ``deleted`` column (checked on the models, not a fixed list)."""
    out = []
    for table in Base.metadata.sorted_tables:
        if "deleted" in table.c and not table.name.startswith(SHADOW):
            when = next(c for c in WHEN_COLUMNS if c in table.c)
            out.append(SoftDeleted(table, when))
    return out


def count_deleted(cloud: "Cloud") -> dict[str, int]:
    with cloud.db.read() as s:
        return {sd.table.name: int(s.scalar(select(func.count()).select_from(sd.table)
                                            .where(sd.deleted_clause())) or 0)
                for sd in soft_deleted_tables()}


def _shadow(table: Table, conn: Any) -> Table:
    """The shadow table of ``table`` (same columns, no keys or constraints), created if needed."""
    cols = [Column(c.name, c.type, nullable=True) for c in table.columns]
    shadow = Table(SHADOW + table.name, MetaData(), *cols)
    if not inspect(conn).has_table(shadow.name):
        shadow.create(conn)
    return shadow


def archive(cloud: "Cloud", before: dt.datetime | None = None, max_rows: int | None = None
            ) -> dict[str, int]:
    """Move soft-deleted rows (deleted before ``before``) to the shadow tables."""
    moved: dict[str, int] = {}
    with cloud.db.write() as s:
        conn = s.connection()
        budget = max_rows
        for sd in soft_deleted_tables():
            if budget is not None and budget <= 0:
                break
            t = sd.table
            q = select(t).where(sd.deleted_clause())
            if before is not None:
                q = q.where(t.c[sd.when] < before)
            q = q.order_by(t.c[sd.when])
            if budget is not None:
                q = q.limit(budget)
            rows = [dict(r._mapping) for r in conn.execute(q)]
            if not rows:
                continue
            conn.execute(_shadow(t, conn).insert(), rows)
            pk = list(t.primary_key.columns)[0]
            keys = [r[pk.name] for r in rows]
            for child, child_col, parent_col in CHILDREN.get(t.name, []):
                ct = Base.metadata.tables[child]
                values = [r[parent_col] for r in rows]
                crows = [dict(r._mapping) for r in
                         conn.execute(select(ct).where(ct.c[child_col].in_(values)))]
                if crows:
                    conn.execute(_shadow(ct, conn).insert(), crows)
                    conn.execute(ct.delete().where(ct.c[child_col].in_(values)))
                    moved[child] = moved.get(child, 0) + len(crows)
            conn.execute(t.delete().where(pk.in_(keys)))
            moved[t.name] = moved.get(t.name, 0) + len(rows)
            if budget is not None:
                budget -= len(rows)
    return moved


def purge(cloud: "Cloud", before: dt.datetime | None = None) -> dict[str, int]:
    """Delete archived rows (deleted before ``before``; all of them when None)."""
    purged: dict[str, int] = {}
    with cloud.db.write() as s:
        conn = s.connection()
        existing = set(inspect(conn).get_table_names())
        parents = {sd.table.name: sd.when for sd in soft_deleted_tables()}
        for name, when in parents.items():
            if SHADOW + name not in existing:
                continue
            t = Base.metadata.tables[name]
            shadow = _shadow(t, conn)
            cond = shadow.c[when] < before if before is not None else None
            for child, child_col, parent_col in CHILDREN.get(name, []):
                if SHADOW + child not in existing:
                    continue
                cshadow = _shadow(Base.metadata.tables[child], conn)
                sub = select(shadow.c[parent_col])
                if cond is not None:
                    sub = sub.where(cond)
                n = conn.execute(cshadow.delete().where(cshadow.c[child_col].in_(sub))).rowcount
                purged[SHADOW + child] = n
            stmt = shadow.delete() if cond is None else shadow.delete().where(cond)
            purged[SHADOW + name] = conn.execute(stmt).rowcount
    return purged
