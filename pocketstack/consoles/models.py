"""The console auth tokens table (Nova's console_auth_tokens): only the token's hash
is stored; the token itself is given once, in the console's URL."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from pocketstack.db import Base, utcnow


class ConsoleAuthToken(Base):
    __tablename__ = "consoles_auth_token"
    __table_args__ = (Index("ix_consoles_auth_token_instance", "instance_uuid"),
                      Index("ix_consoles_auth_token_expires", "expires"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    console_type: Mapped[str] = mapped_column(String(32))
    host: Mapped[str] = mapped_column(String(255))
    port: Mapped[int] = mapped_column(Integer)
    internal_access_path: Mapped[str | None] = mapped_column(String(255), nullable=True)
    instance_uuid: Mapped[str] = mapped_column(String(36))
    access_url_base: Mapped[str | None] = mapped_column(String(255), nullable=True)
    expires: Mapped[int] = mapped_column(Integer)  # seconds since the epoch, as Nova's
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
