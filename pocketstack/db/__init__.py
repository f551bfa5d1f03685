"""Database access: SQLAlchemy 2 over SQLite (WAL) by default, PostgreSQL or MySQL by URL.

Domain code opens transactions with :meth:`Database.write` (read-write) or
:meth:`Database.read` and gets ORM sessions; nothing outside the storage and
domain layers sees a session. On SQLite, write transactions start with
``BEGIN IMMEDIATE`` so that concurrent writers queue on the lock instead of
failing on a read-to-write upgrade.
"""

from __future__ import annotations

import datetime as _dt
import fcntl
import json
import logging
import os
import threading
import uuid
from contextlib import contextmanager
from typing import Any, Iterator

from sqlalchemy import JSON, DateTime, Text, create_engine, event, exc as sa_exc
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.pool import StaticPool  # noqa: F401  (re-exported for tests)
from sqlalchemy.types import TypeDecorator

from pocketstack.api import errors
from pocketstack.db.raw import Codec, Tx, _pyformat

LOG = logging.getLogger(__name__)


def utcnow() -> _dt.datetime:
    """Naive UTC 'now', microsecond precision, as stored in every table."""
    return _dt.datetime.now(_dt.timezone.utc).replace(tzinfo=None)


def new_id() -> str:
    return uuid.uuid4().hex


def new_uuid() -> str:
    return str(uuid.uuid4())


class JSONText(TypeDecorator):
    """JSON stored as text on every backend (SQLite has no JSON type of its own)."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> str | None:
        return None if value is None else json.dumps(value, separators=(",", ":"))

    def process_result_value(self, value: Any, dialect: Any) -> Any:
        return None if value is None else json.loads(value)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, _dt.datetime: DateTime}



def _sqlite_init(conn: Any, synchronous: str) -> None:
    """Every SQLite connection's settings, the engines' and the fast path's alike: no
    implicit transactions (they are begun explicitly), WAL, the chosen durability, foreign
    keys, and a busy wait for other processes' writers."""
    conn.isolation_level = None
    for pragma in ("journal_mode=WAL", f"synchronous={synchronous}", "foreign_keys=ON",
                   "busy_timeout=30000"):
        conn.execute(f"PRAGMA {pragma}")

class WriteLock:
    """SQLite's one writer at a time, queued here rather than spinning on SQLITE_BUSY: a
    thread lock, and for a database file also an exclusive ``flock`` on ``<file>.lock``, so
    that other processes on the same file (compute API workers, ``pocketstack manage``)
    queue the same way (SQLite's busy handler would sleep in steps of up to 100 ms)."""

    def __init__(self, url: str) -> None:
        self._thread = threading.Lock()
        path = make_url(url).database or ""
        self._fd = -1
        if path and path != ":memory:":
            self._fd = os.open(path + ".lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)

    def acquire(self) -> bool:
        self._thread.acquire()
        if self._fd >= 0:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX)
            except BaseException:
                self._thread.release()
                raise
        return True

    def release(self) -> None:
        if self._fd >= 0:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._thread.release()

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


class Database:
    def __init__(self, url: str, *, echo: bool = False, sqlite_synchronous: str = "NORMAL"
                 ) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        kwargs: dict[str, Any] = {"echo": echo, "future": True}
        if self.is_sqlite:
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
            # write() keeps one connection; the overflow one serves the engine's other
            # users (migrations)
            self.writer = create_engine(url, pool_size=1, max_overflow=1, pool_timeout=60,
                                        **kwargs)
            # as many kept connections as threads may read at once (each service's request
            # threads, the compute tasks, anyio's default pool of 40): an overflow
            # connection is opened (PRAGMAs and all) and closed per checkout
            self.reader = create_engine(url, pool_size=40, max_overflow=16, **kwargs)
            for engine, begin in ((self.writer, "BEGIN IMMEDIATE"), (self.reader, "BEGIN")):
                self._sqlite_setup(engine, begin, sqlite_synchronous)
        else:
            self.writer = self.reader = create_engine(url, pool_pre_ping=True, **kwargs)
        self._write_session = sessionmaker(self.writer, expire_on_commit=False)
        self._read_session = sessionmaker(self.reader, expire_on_commit=False)
        self._write_lock = WriteLock(url) if self.is_sqlite else None
        self._synchronous = sqlite_synchronous
        self._write_conn: Any = None  # SQLite: write()'s kept connection
        self._raw_readers = threading.local()
        self._codecs: dict[Any, Codec] = {}
        # sqlite3 takes the fast path's ``:name`` placeholders; the others ``%(name)s``
        self._fix = None if self.is_sqlite else _pyformat

    @staticmethod
    def _sqlite_setup(engine: Engine, begin: str, synchronous: str) -> None:
        @event.listens_for(engine, "connect")
        def _connect(dbapi_conn: Any, _record: Any) -> None:
            _sqlite_init(dbapi_conn, synchronous)  # transactions are begun below

        @event.listens_for(engine, "begin")
        def _begin(conn: Any) -> None:
            # on the driver's connection: SQLAlchemy's execution path costs ~50 us more
            conn.connection.driver_connection.execute(begin)

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A read-write transaction, committed when the block ends without error."""
        lock = self._write_lock
        if lock is not None:
            lock.acquire()
        try:
            with self._writer_session() as session:
                try:
                    yield session
                    session.commit()
                except sa_exc.IntegrityError as exc:
                    session.rollback()
                    LOG.debug("integrity error: %s", exc)
                    raise errors.Conflict("Conflict occurred attempting to store the resource: "
                                          "a duplicate or a missing reference.") from exc
                except BaseException:
                    session.rollback()
                    raise
        finally:
            if lock is not None:
                lock.release()

    def _writer_session(self) -> Session:
        """On SQLite (one writer at a time, under the lock) a session on the one kept
        writer connection: no pool checkout and return, no Connection made per write."""
        if self._write_lock is None:
            return self._write_session()
        return Session(bind=self._kept_writer(), expire_on_commit=False,
                       join_transaction_mode="rollback_only")

    def _kept_writer(self) -> Any:
        """SQLite: the one writer connection (under the write lock), :meth:`write`'s
        sessions' and :meth:`raw_write`'s alike (the latter on its driver connection,
        between the former's transactions)."""
        conn = self._write_conn
        if conn is None or conn.closed or conn.invalidated:
            conn = self._write_conn = self.writer.connect()
        return conn

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only transaction (a consistent snapshot on SQLite WAL)."""
        # Closing (not rolling back) ends the transaction and leaves loaded objects usable.
        with self._read_session() as session:
            yield session

    # -- the fast path (pocketstack.db.raw) --------------------------------------------
    def codec(self, model: Any) -> Codec:
        """The :class:`Codec` of a mapped class's table."""
        c = self._codecs.get(model)
        if c is None:
            c = self._codecs[model] = Codec(model.__table__, self.writer.dialect)
        return c

    def _driver_connect(self, engine: Engine) -> Any:
        cargs, cparams = engine.dialect.create_connect_args(engine.url)
        conn = engine.dialect.connect(*cargs, **cparams)
        if self.is_sqlite:
            _sqlite_init(conn, self._synchronous)
        return conn

    @contextmanager
    def raw_write(self) -> Iterator[Tx]:
        """A read-write transaction of SQL text (:class:`~pocketstack.db.raw.Tx`), serialised
        with :meth:`write`'s; ``tx.after_commit`` callbacks run once it is committed."""
        lock = self._write_lock
        if lock is None:
            pooled = self.writer.raw_connection()
            conn = pooled.driver_connection
        else:
            lock.acquire()
            try:
                conn = self._kept_writer().connection.driver_connection
                conn.execute("BEGIN IMMEDIATE")
            except BaseException:
                lock.release()
                raise
        tx = Tx(conn, self._fix)
        try:
            try:
                yield tx
                conn.commit() if lock is None else conn.execute("COMMIT")
            except BaseException as exc:
                conn.rollback() if lock is None else conn.execute("ROLLBACK")
                if isinstance(exc, self.writer.dialect.loaded_dbapi.IntegrityError):
                    LOG.debug("integrity error: %s", exc)
                    raise errors.Conflict("Conflict occurred attempting to store the "
                                          "resource: a duplicate or a missing reference."
                                          ) from exc
                raise
        finally:
            if lock is None:
                pooled.close()
            else:
                lock.release()
        for fn in tx.after:
            try:
                fn()
            except Exception:  # what follows a commit must not undo its success
                LOG.exception("after-commit callback failed")

    def tx_of(self, session: Session) -> Tx:
        """SQL text in a :meth:`write` session's transaction (begun if it was not)."""
        return Tx(session.connection().connection.driver_connection, self._fix)

    @contextmanager
    def raw_read(self, snapshot: bool = False) -> Iterator[Tx]:
        """Reads of SQL text (SQLite: a connection per thread, kept). Each statement sees
        the last commit; with ``snapshot`` they all see the same one (a transaction: two
        more statements, each a GIL release and re-acquisition)."""
        if not self.is_sqlite:
            pooled = self.reader.raw_connection()
            try:
                yield Tx(pooled.driver_connection, self._fix)
            finally:
                pooled.rollback()
                pooled.close()
            return
        conn = getattr(self._raw_readers, "conn", None)
        if conn is None:
            conn = self._raw_readers.conn = self._driver_connect(self.reader)
        if not snapshot:
            yield Tx(conn, None)
            return
        conn.execute("BEGIN")
        try:
            yield Tx(conn, None)
        finally:
            conn.execute("COMMIT")

    def dispose(self) -> None:
        if self._write_lock is not None:
            self._write_lock.close()
        if self._write_conn is not None:
            self._write_conn.close()
            self._write_conn = None
        self.writer.dispose()
        if self.reader is not self.writer:
            self.reader.dispose()
