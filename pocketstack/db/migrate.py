"""Schema migrations with Alembic.

Every service keeps its migrations in ``pocketstack/<service>/migrations/`` as
an Alembic branch of its own (branch label = service name), so services evolve
their schemas independently; ``upgrade heads`` brings all of them up to date.
Create a migration with ``pocketstack manage db revision --service NAME -m MSG``.
"""

from __future__ import annotations

import glob
import importlib
import logging
import os
from typing import TYPE_CHECKING

from sqlalchemy import inspect, text

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

    from pocketstack.db import Database

LOG = logging.getLogger(__name__)

PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT_DIR = os.path.join(PACKAGE_DIR, "db", "migrations")


def version_locations() -> list[str]:
    return sorted(glob.glob(os.path.join(PACKAGE_DIR, "*", "migrations", "versions")))


def model_modules() -> list[str]:
    """Every ``pocketstack.<service>.models`` module (their tables form the schema)."""
    names = []
    for path in sorted(glob.glob(os.path.join(PACKAGE_DIR, "*", "models.py"))):
        names.append(f"pocketstack.{os.path.basename(os.path.dirname(path))}.models")
    return names


def import_models() -> None:
    for name in model_modules():
        importlib.import_module(name)


def alembic_config(db: "Database") -> "AlembicConfig":
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", SCRIPT_DIR)
    cfg.set_main_option("version_locations", " ".join(version_locations()))
    cfg.set_main_option("path_separator", "space")
    cfg.set_main_option("sqlalchemy.url", db.url)
    cfg.attributes["engine"] = db.writer
    return cfg


def heads(db: "Database") -> set[str]:
    from alembic.script import ScriptDirectory

    return set(ScriptDirectory.from_config(alembic_config(db)).get_heads())


def current(db: "Database") -> set[str]:
    with db.reader.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return set()
        return {row[0] for row in conn.execute(text("SELECT version_num FROM alembic_version"))}


def upgrade(db: "Database") -> bool:
    """Bring every service's schema to its newest revision; True when anything ran."""
    if current(db) == heads(db):
        return False
    from alembic import command

    LOG.info("upgrading the database schema")
    command.upgrade(alembic_config(db), "heads")
    return True


def revision(db: "Database", service: str, message: str) -> str:
    """Autogenerate a migration for one service's tables (its own Alembic branch)."""
    from alembic import command
    from alembic.script import ScriptDirectory

    path = os.path.join(PACKAGE_DIR, service, "migrations", "versions")
    os.makedirs(path, exist_ok=True)
    cfg = alembic_config(db)
    script = ScriptDirectory.from_config(cfg)
    labels = {label for rev in script.walk_revisions() for label in (rev.branch_labels or ())}
    existing = [name for name in os.listdir(path) if name.endswith(".py")]
    rev_id = f"{service}_{len(existing) + 1:04d}"
    if service in labels:
        command.revision(cfg, message=message, autogenerate=True, head=f"{service}@head",
                         rev_id=rev_id)
    else:
        command.revision(cfg, message=message, autogenerate=True, head="base",
                         branch_label=service, version_path=path, rev_id=rev_id)
    return rev_id
