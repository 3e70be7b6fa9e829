"""Alembic's entry point for ccbridge's migrations.

``ccbridge.store.migrate.upgrade`` passes an open connection (inside a transaction that
holds the database's write lock); running ``alembic`` by hand with ``sqlalchemy.url``
in a config file works too. The version table has ccbridge's prefix, so an application
that uses Alembic for its own tables in the same database keeps its own history.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from ccbridge.store.schema import metadata

VERSION_TABLE = "ccbridge_alembic_version"

config = context.config


def _run(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=metadata,
        version_table=VERSION_TABLE,
        render_as_batch=True,  # SQLite can only change tables by copying them
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError(
            "set sqlalchemy.url, or run the migrations through `ccbridge db upgrade`"
        )
    engine = create_engine(url)
    with engine.connect() as conn:
        _run(conn)
        conn.commit()
