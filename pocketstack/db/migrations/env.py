"""Alembic environment for pocketstack (used by pocketstack.db.migrate)."""

from alembic import context

from pocketstack.db import Base
from pocketstack.db.migrate import import_models

import_models()
config = context.config
target_metadata = Base.metadata


def run() -> None:
    engine = config.attributes["engine"]
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata,
                          render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run()
