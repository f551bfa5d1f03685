"""Token revocation events (Keystone's revoke model).

A token is revoked when an event matches all of the event's non-null fields and
the token was issued before the event. Events are kept in the database (so they
survive restarts and reach other processes) and mirrored in memory.
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass
from typing import Any, Callable

from sqlalchemy import delete, select

from pocketstack.db import Database, utcnow
from pocketstack.identity.models import RevocationEvent

_FIELDS = ("user_id", "project_id", "domain_id", "audit_id", "audit_chain_id",
           "application_credential_id")


@dataclass(frozen=True)
class Event:
    issued_before: dt.datetime
    user_id: str | None = None
    project_id: str | None = None
    domain_id: str | None = None
    audit_id: str | None = None
    audit_chain_id: str | None = None
    application_credential_id: str | None = None

    def matches(self, token: dict[str, Any]) -> bool:
        if token["issued_at"] > self.issued_before:
            return False
        for name in _FIELDS:
            want = getattr(self, name)
            if want is None:
                continue
            if name == "audit_id":
                if want not in token["audit_ids"][:1]:
                    return False
            elif name == "audit_chain_id":
                if want not in token["audit_ids"][-1:]:
                    return False
            elif token.get(name) != want:
                return False
        return True


class Revocations:
    def __init__(self, db: Database, invalidate: Callable[[], None],
                 keep_seconds: int = 3600 + 172800) -> None:
        self.db = db
        self.invalidate = invalidate
        self.keep = dt.timedelta(seconds=keep_seconds)
        self._lock = threading.Lock()
        self._events: list[Event] = []
        self._loaded = False
        self._generation = 0  # bumped by forget(): a load that began before is stale

    def _load(self) -> None:
        generation = self._generation
        with self.db.write() as s:
            s.execute(delete(RevocationEvent).where(
                RevocationEvent.revoked_at < utcnow() - self.keep))
        with self.db.read() as s:
            rows = s.scalars(select(RevocationEvent)).all()
            self._events = [Event(issued_before=r.issued_before,
                                  **{f: getattr(r, f) for f in _FIELDS}) for r in rows]
        self._loaded = generation == self._generation

    def forget(self) -> None:
        """Read the events again at the next check (another process revoked some).
        Without the lock: a check may hold it while it waits for the database."""
        self._generation += 1
        self._loaded = False

    def revoke(self, **fields: str | None) -> None:
        now = utcnow()
        event = Event(issued_before=now, **fields)
        with self.db.write() as s:
            s.add(RevocationEvent(issued_before=now, revoked_at=now, **fields))
        with self._lock:
            if self._loaded:
                self._events.append(event)
        self.invalidate()

    def is_revoked(self, token: dict[str, Any]) -> bool:
        if not self._loaded:
            with self._lock:
                if not self._loaded:
                    self._load()
        return any(e.matches(token) for e in self._events)

    def list(self) -> list[Event]:
        if not self._loaded:
            self._load()
        return list(self._events)
