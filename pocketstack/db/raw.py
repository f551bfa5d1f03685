"""The fast path for hot statements: SQL text on the DB-API connection.

An ORM session costs ~0.2 ms to begin and commit and ~0.1-0.3 ms per statement
(cache keys, compilation lookup, unit of work) where SQLite itself takes a few
microseconds; on the busiest paths (a server's boot and delete) that overhead is
most of the server's CPU, and, as SQLite releases the GIL at every statement, a
write transaction of many statements holds the write lock across many GIL waits.
:meth:`Database.raw_write`/:meth:`Database.raw_read` run hand-written SQL (named
``:param`` placeholders) on a driver connection; :class:`Codec` converts a table's
values with the columns' own SQLAlchemy type processors, so rows read or written
here are exactly those the ORM reads and writes.
"""

from __future__ import annotations

import re
from typing import Any, Callable, Iterable, Sequence

from sqlalchemy import Table

_NAMED = re.compile(r"(?<![:\w]):(\w+)")


def _pyformat(sql: str) -> str:
    return _NAMED.sub(r"%(\1)s", sql.replace("%", "%%"))


class Tx:
    """One transaction (or one read snapshot) on a DB-API connection."""

    __slots__ = ("conn", "_fix", "after")

    def __init__(self, conn: Any, fix: Callable[[str], str] | None) -> None:
        self.conn = conn
        self._fix = fix  # None: the driver takes ``:name`` (sqlite3)
        self.after: list[Callable[[], None]] = []  # run once committed

    def execute(self, sql: str, params: Any = ()) -> Any:
        cur = self.conn.cursor()
        cur.execute(sql if self._fix is None else self._fix(sql), params)
        return cur

    def executemany(self, sql: str, rows: Iterable[Any]) -> Any:
        cur = self.conn.cursor()
        cur.executemany(sql if self._fix is None else self._fix(sql), rows)
        return cur

    def one(self, sql: str, params: Any = ()) -> Any:
        """The first row or None (every row is fetched: the statement is finished, an
        ``UPDATE ... RETURNING`` included)."""
        rows = self.execute(sql, params).fetchall()
        return rows[0] if rows else None

    def after_commit(self, fn: Callable[[], None]) -> None:
        self.after.append(fn)


def detached(model: Any, values: dict[str, Any]) -> Any:
    """A transient ``model`` object holding ``values`` (column name -> Python value), as
    ``model(**values)`` but without its constructor's attribute events (~150 us for a
    wide row, ~2 us here): for copies read or written by SQL text, never added to a
    session afterwards."""
    obj = model._sa_class_manager.new_instance()
    obj.__dict__.update(values)
    return obj


class Codec:
    """A table's values to and from what the driver stores (the columns' type
    processors for the engine's dialect), its Python-side defaults and its INSERT."""

    def __init__(self, table: Table, dialect: Any) -> None:
        self.table = table
        self.name = table.name
        self.columns = tuple(c.name for c in table.columns)
        self._bind = {c.name: c.type._cached_bind_processor(dialect) for c in table.columns}
        self._result = {c.name: c.type._cached_result_processor(dialect, None)
                        for c in table.columns}
        self._defaults: dict[str, Any] = {}
        for c in table.columns:
            d = c.default
            if d is None or c.primary_key:
                continue
            if d.is_scalar:
                self._defaults[c.name] = (False, d.arg)
            elif d.is_callable:
                self._defaults[c.name] = (True, d.arg)
        self._inserts: dict[tuple[str, ...], str] = {}
        self._selects: dict[tuple[str, ...], tuple[str, list[Any]]] = {}

    def bind(self, values: dict[str, Any]) -> dict[str, Any]:
        """``values`` (by column name) as the driver stores them."""
        out = {}
        for k, v in values.items():
            p = self._bind.get(k)
            out[k] = p(v) if p is not None else v
        return out

    def full(self, values: dict[str, Any]) -> dict[str, Any]:
        """``values`` with every other column's Python-side default (as the ORM's insert)."""
        out = dict(values)
        for name, (call, arg) in self._defaults.items():
            if name not in out:
                out[name] = arg(None) if call else arg
        return out

    def insert(self, keys: Sequence[str]) -> str:
        key = tuple(keys)
        sql = self._inserts.get(key)
        if sql is None:
            sql = self._inserts[key] = (
                f"INSERT INTO {self.name} ({', '.join(key)}) "
                f"VALUES ({', '.join(':' + k for k in key)})")
        return sql

    def select(self, columns: Sequence[str] | None = None) -> str:
        """``SELECT cols FROM table`` (append the WHERE); read rows with :meth:`load`."""
        cols = tuple(columns or self.columns)
        hit = self._selects.get(cols)
        if hit is None:
            hit = self._selects[cols] = (f"SELECT {', '.join(cols)} FROM {self.name}",
                                         [self._result[c] for c in cols])
        return hit[0]

    def load(self, row: Sequence[Any], columns: Sequence[str] | None = None
             ) -> dict[str, Any]:
        """A row of :meth:`select` ``columns`` as Python values by column name."""
        cols = tuple(columns or self.columns)
        procs = self._selects[cols][1] if cols in self._selects else \
            [self._result[c] for c in cols]
        return {c: (p(v) if p is not None else v) for c, p, v in zip(cols, procs, row)}


class Memo:
    """Values read from the database, kept until a write of theirs (:meth:`invalidate`
    after it commits). A value read while a write commits is not kept (generation)."""

    def __init__(self) -> None:
        import threading

        self._lock = threading.Lock()
        self._values: dict[Any, Any] = {}
        self._gen = 0

    def get(self, key: Any, read: Callable[[], Any]) -> Any:
        try:
            return self._values[key]
        except KeyError:
            pass
        gen = self._gen
        value = read()
        with self._lock:
            if gen == self._gen:
                self._values[key] = value
        return value

    def invalidate(self) -> None:
        with self._lock:
            self._gen += 1
            self._values.clear()


def invalidates(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Decorate a method that writes what ``self.memo`` (a :class:`Memo`) keeps: the memo
    is invalidated once it returns (or raises: a write may have committed first)."""
    import functools

    @functools.wraps(fn)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(self, *args, **kwargs)
        finally:
            self.memo.invalidate()
    return wrapper
