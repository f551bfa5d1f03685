"""Console auth tokens in the database, as Nova's ConsoleAuthToken object: the token is
random, its SHA-256 is the key, it expires ``[consoleauth] token_ttl`` seconds after it
was made (expired rows are removed when new tokens are made and at start-up), and an
instance's tokens go with it. Both the compute API (os-console-auth-tokens) and the
proxies read them, so a token survives a restart of the cloud."""

from __future__ import annotations

import hashlib
import secrets
import time
import urllib.parse
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select

from pocketstack.consoles.models import ConsoleAuthToken
from pocketstack.db import Database


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()


def access_url(base: str, console_type: str, token: str) -> str:
    """The URL a client opens: noVNC (1.1+) takes the token inside its ``path``
    parameter, the other consoles as ``?token=``."""
    sep = "&" if "?" in base else "?"
    if console_type == "novnc":
        return f"{base}{sep}{urllib.parse.urlencode({'path': f'?token={token}'})}"
    return f"{base}{sep}token={token}"


@dataclass
class ConnectInfo:
    instance_uuid: str
    console_type: str
    host: str
    port: int
    internal_access_path: str | None
    access_url_base: str | None
    expires: int


class ConsoleAuthTokens:
    def __init__(self, db: Database) -> None:
        self.db = db

    def authorize(self, instance_uuid: str, console_type: str, where: dict[str, Any],
                  ttl: int, access_url_base: str | None = None) -> str:
        """A new token for ``where`` (the driver's host, port, internal_access_path)."""
        token = secrets.token_urlsafe(24)
        now = int(time.time())
        with self.db.write() as s:
            s.execute(delete(ConsoleAuthToken).where(ConsoleAuthToken.expires <= now))
            s.add(ConsoleAuthToken(
                token_hash=token_hash(token), console_type=console_type,
                host=str(where.get("host") or ""), port=int(where.get("port") or 0),
                internal_access_path=where.get("internal_access_path"),
                instance_uuid=instance_uuid, access_url_base=access_url_base,
                expires=now + max(0, int(ttl))))
        return token

    def validate(self, token: str) -> ConnectInfo | None:
        """What a valid token opens; None when unknown or expired."""
        if not token:
            return None
        with self.db.read() as s:
            row = s.scalar(select(ConsoleAuthToken).where(
                ConsoleAuthToken.token_hash == token_hash(token),
                ConsoleAuthToken.expires > int(time.time())))
            if row is None:
                return None
            return ConnectInfo(row.instance_uuid, row.console_type, row.host, row.port,
                               row.internal_access_path, row.access_url_base, row.expires)

    def delete_for_instance(self, instance_uuid: str) -> None:
        """Run by every server delete: a read first, so that the usual server, which never
        had a console token, costs no write transaction. (No token can appear after the read:
        the console API refuses a server that is being deleted.)"""
        with self.db.raw_read() as tx:  # SQL text: an ORM query cost ~1 ms per delete
            if tx.one("SELECT 1 FROM consoles_auth_token WHERE instance_uuid = :uuid "
                      "LIMIT 1", {"uuid": instance_uuid}) is None:
                return
        with self.db.write() as s:
            s.execute(delete(ConsoleAuthToken).where(
                ConsoleAuthToken.instance_uuid == instance_uuid))

    def purge_expired(self) -> int:
        with self.db.write() as s:
            result = s.execute(delete(ConsoleAuthToken).where(
                ConsoleAuthToken.expires <= int(time.time())))
        return int(getattr(result, "rowcount", 0) or 0)
