"""The object index: accounts, containers and objects in the database.

Every change to an object row updates its container's counters in the same
transaction, so HEAD counts and listings are always consistent with each other.
"""

from __future__ import annotations

import time
from typing import Any, Callable

from sqlalchemy import and_, bindparam, delete, func, insert, or_, select, update

from pocketstack.api import errors
from pocketstack.db import Database, utcnow
from pocketstack.object.common import now_timestamp
from pocketstack.object.models import Account, Container, Object


_C, _O = Container.__table__.c, Object.__table__.c
# the statements of a PUT, built once
_PUT_LOOKUP = (select(_C.id, _C.meta, _C.object_count, _C.bytes_used, _O.id.label("old_id"),
                      _O.path, _O.size, _O.headers)
               .select_from(Container.__table__.outerjoin(
                   Object.__table__, and_(_O.container_id == _C.id,
                                          _O.name == bindparam("name"))))
               .where(_C.account == bindparam("account"), _C.name == bindparam("container")))
_DELETE_OBJECT = delete(Object.__table__).where(_O.id == bindparam("old_id"))
_INSERT_OBJECT = insert(Object.__table__)
_COUNT_OBJECT = (update(Container.__table__).where(_C.id == bindparam("cid"))
                 .values(object_count=_C.object_count + bindparam("dc"),
                         bytes_used=_C.bytes_used + bindparam("db")))


def _upper(prefix: str) -> str | None:
    """The smallest string greater than every string starting with ``prefix``."""
    while prefix:
        last = ord(prefix[-1])
        if last < 0x10FFFF:
            return prefix[:-1] + chr(last + 1)
        prefix = prefix[:-1]
    return None


def paged(fetch: Callable[[str | None, str | None, bool, int], list[Any]],
          name_of: Callable[[Any], str], params: dict[str, Any]) -> list[Any]:
    """Swift's listing walk: prefix, delimiter (→ subdirs), marker, end_marker, reverse.

    ``fetch(low, high, reverse, n)`` returns up to n rows with low < name < high (and
    the prefix) in name order (descending when reversed).
    """
    prefix, delim, limit, rev = (params["prefix"], params["delimiter"], params["limit"],
                                 params["reverse"])
    low, high = params["marker"] or None, params["end_marker"] or None
    if rev:
        low, high = high, low
    out: list[Any] = []
    batch = 100 if delim else max(limit, 1)
    while len(out) < limit:
        rows = fetch(low, high, rev, batch)
        if not rows:
            break
        jumped = False
        for row in rows:
            name = name_of(row)
            if delim:
                cut = name.find(delim, len(prefix))
                if cut >= 0:
                    sub = name[:cut + 1]
                    out.append({"subdir": sub})
                    if rev:
                        high = sub
                    else:
                        low = sub + "\U0010ffff"
                    jumped = True
                    break
            out.append(row)
            if rev:
                high = name
            else:
                low = name
            if len(out) >= limit:
                break
        if not jumped and len(rows) < batch:
            break
    return out[:limit]


def prefix_filter(column: Any, prefix: str) -> list[Any]:
    if not prefix:
        return []
    up = _upper(prefix)
    return [column >= prefix] + ([column < up] if up is not None else [])


class Store:
    def __init__(self, db: Database) -> None:
        self.db = db

    # -- accounts ---------------------------------------------------------------
    def account(self, name: str) -> dict[str, Any]:
        with self.db.read() as s:
            acct = s.get(Account, name)
            count, objects, used = s.execute(
                select(func.count(Container.id), func.coalesce(func.sum(Container.object_count),
                                                               0),
                       func.coalesce(func.sum(Container.bytes_used), 0))
                .where(Container.account == name)).one()
        return {"meta": dict(acct.meta) if acct else {},
                "sysmeta": dict(acct.sysmeta or {}) if acct else {},
                "created": acct.created_at.timestamp() if acct else time.time(),
                "containers": count, "objects": objects, "bytes": used}

    def account_quota(self, name: str) -> dict[str, Any] | None:
        """The account's usage when it has a byte quota (None without: the common case)."""
        with self.db.read() as s:
            row = s.execute(select(Account.meta, Account.sysmeta)
                            .where(Account.name == name)).first()
        if row is None or not (any(k.lower() == "quota-bytes" for k in row.meta or {}) or
                               any(k.startswith("quota-") for k in row.sysmeta or {})):
            return None
        return self.account(name)

    def update_account(self, name: str, fn: Callable[[dict[str, str]], dict[str, str]],
                       sysmeta: dict[str, str | None] | None = None) -> None:
        """Apply fn to the metadata; sysmeta items are set (removed when None)."""
        with self.db.write() as s:
            acct = s.get(Account, name)
            if acct is None:
                acct = Account(name=name, meta={}, sysmeta={})
                s.add(acct)
            acct.meta = fn(dict(acct.meta))
            if sysmeta:
                merged = dict(acct.sysmeta or {})
                for k, v in sysmeta.items():
                    if v is None:
                        merged.pop(k, None)
                    else:
                        merged[k] = v
                acct.sysmeta = merged

    def list_containers(self, account: str, params: dict[str, Any]) -> list[Any]:
        def fetch(low: str | None, high: str | None, rev: bool, n: int) -> list[Any]:
            q = select(Container).where(Container.account == account,
                                        *prefix_filter(Container.name, params["prefix"]))
            if low is not None:
                q = q.where(Container.name > low)
            if high is not None:
                q = q.where(Container.name < high)
            q = q.order_by(Container.name.desc() if rev else Container.name).limit(n)
            with self.db.read() as s:
                return list(s.scalars(q).all())

        return paged(fetch, lambda c: c.name, params)

    # -- containers -------------------------------------------------------------
    def container(self, account: str, name: str) -> Container | None:
        with self.db.read() as s:
            return s.scalars(select(Container).where(Container.account == account,
                                                     Container.name == name)).first()

    def get_container(self, account: str, name: str) -> Container:
        c = self.container(account, name)
        if c is None:
            raise errors.NotFound()
        return c

    def put_container(self, account: str, name: str,
                      fn: Callable[[Container], None]) -> bool:
        """Create or update; True when it was created."""
        with self.db.write() as s:
            c = s.scalars(select(Container).where(Container.account == account,
                                                  Container.name == name)).first()
            created = c is None
            if c is None:
                c = Container(account=account, name=name, meta={}, sysmeta={},
                              object_count=0, bytes_used=0, timestamp=now_timestamp())
                s.add(c)
            fn(c)
            c.updated_at = utcnow()
            return created

    def update_container(self, account: str, name: str, fn: Callable[[Container], None]
                         ) -> None:
        with self.db.write() as s:
            c = s.scalars(select(Container).where(Container.account == account,
                                                  Container.name == name)).first()
            if c is None:
                raise errors.NotFound()
            fn(c)
            c.updated_at = utcnow()

    def delete_container(self, account: str, name: str) -> None:
        with self.db.write() as s:
            c = s.scalars(select(Container).where(Container.account == account,
                                                  Container.name == name)).first()
            if c is None:
                raise errors.NotFound()
            live = s.scalar(select(func.count(Object.id)).where(Object.container_id == c.id))
            if live:
                raise errors.Conflict("There was a conflict when trying to complete your "
                                      "request.")
            s.delete(c)

    def list_objects(self, container: Container, params: dict[str, Any],
                     light: bool = False) -> list[Any]:
        """Object rows (or, ``light``, rows of the listing columns only: much cheaper)."""
        now = time.time()
        cols = ((Object.name, Object.etag, Object.size, Object.content_type,
                 Object.timestamp, Object.slo, Object.path) if light else (Object,))

        def fetch(low: str | None, high: str | None, rev: bool, n: int) -> list[Any]:
            q = select(*cols).where(Object.container_id == container.id,
                                     or_(Object.delete_at.is_(None), Object.delete_at > now),
                                     *prefix_filter(Object.name, params["prefix"]))
            if low is not None:
                q = q.where(Object.name > low)
            if high is not None:
                q = q.where(Object.name < high)
            q = q.order_by(Object.name.desc() if rev else Object.name).limit(n)
            with self.db.read() as s:
                return list(s.execute(q).all() if light else s.scalars(q).all())

        return paged(fetch, lambda o: o.name, params)

    # -- objects ------------------------------------------------------------------
    def get_object(self, container: Container, name: str) -> Object | None:
        with self.db.read() as s:
            o = s.scalars(select(Object).where(Object.container_id == container.id,
                                               Object.name == name)).first()
        if o is not None and o.delete_at is not None and o.delete_at <= time.time():
            return None
        return o

    def put_object(self, account: str, container: str, values: dict[str, Any],
                   check: Callable[[Any, Any], None] | None = None) -> str | None:
        """Insert or replace an object row; returns the data file it replaced.

        The write every PUT makes, kept short: one write transaction of prepared Core
        statements (the write lock is what concurrent PUTs queue on). ``check(container,
        old)`` sees rows with the container's meta, object_count and bytes_used, and the
        replaced object's size and headers (or None); it may refuse by raising.
        """
        with self.db.write() as s:
            conn = s.connection()
            row = conn.execute(_PUT_LOOKUP, {"account": account, "container": container,
                                             "name": values["name"]}).first()
            if row is None:
                raise errors.NotFound()
            old = row if row.old_id is not None else None
            if check is not None:
                check(row, old)
            vals = dict(values)
            stored = vals.pop("stored_bytes", vals["size"])
            vals["headers"] = {**vals.get("headers", {}), "_stored": stored}
            vals.setdefault("last_modified", utcnow())
            replaced, delta_count, delta_bytes = None, 1, stored
            if old is not None:
                replaced = old.path
                delta_count = 0
                delta_bytes -= old.headers.get("_stored", old.size)
                conn.execute(_DELETE_OBJECT, {"old_id": old.old_id})
            conn.execute(_INSERT_OBJECT, {**vals, "container_id": row.id})
            conn.execute(_COUNT_OBJECT, {"cid": row.id, "dc": delta_count,
                                         "db": delta_bytes})
        return replaced

    def update_object(self, container: Container, name: str, fn: Callable[[Object], None]
                      ) -> None:
        with self.db.write() as s:
            o = s.scalars(select(Object).where(Object.container_id == container.id,
                                               Object.name == name)).first()
            if o is None or (o.delete_at is not None and o.delete_at <= time.time()):
                raise errors.NotFound()
            fn(o)

    def delete_object(self, account: str, container: str, name: str) -> str:
        """Remove the row; returns its data file path (the caller removes the file)."""
        with self.db.write() as s:
            c = s.scalars(select(Container).where(Container.account == account,
                                                  Container.name == container)).first()
            if c is None:
                raise errors.NotFound()
            o = s.scalars(select(Object).where(Object.container_id == c.id,
                                               Object.name == name)).first()
            if o is None:
                raise errors.NotFound()
            expired = o.delete_at is not None and o.delete_at <= time.time()
            c.bytes_used -= o.headers.get("_stored", o.size)
            c.object_count -= 1
            s.delete(o)
            path = o.path
        if expired:
            raise errors.NotFound()
        return path

    def expired(self, limit: int = 500) -> list[tuple[str, str, str]]:
        with self.db.read() as s:
            rows = s.execute(select(Container.account, Container.name, Object.name)
                             .join(Object, Object.container_id == Container.id)
                             .where(Object.delete_at <= time.time()).limit(limit)).all()
        return [tuple(r) for r in rows]
