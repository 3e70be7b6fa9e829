"""The connection to ccbridge's database, and the two kinds of transaction it offers.

ccbridge keeps durable state (linked accounts and their encrypted tokens, the audit log,
connect-flow ``state`` records) in SQLite by default and in PostgreSQL when several
machines share it. Both have to give one guarantee the refresh coordination rests on:
*a writer that holds the lock sees the latest committed row and nobody else can change it
until it commits*. The two databases get there differently:

- PostgreSQL locks rows: ``lock_row`` adds ``FOR UPDATE``, which waits for the holder and
  then returns the row as that holder committed it.
- SQLite has one writer at a time: ``write()`` starts with ``BEGIN IMMEDIATE``, which takes
  the database's write lock before the first read (pysqlite's own default would start the
  transaction only at the first write, after the re-read: too late). Journal mode is WAL,
  so readers are never blocked by the writer, and ``synchronous=FULL``, so a commit that
  returned has reached the disk (a lost commit of rotated tokens would strand an account).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Row, Table, create_engine, event, select
from sqlalchemy.engine import make_url
from sqlalchemy.sql.elements import ColumnElement

from ccbridge._errors import CCBridgeError

_IMMEDIATE = "ccbridge_immediate"


class StoreError(CCBridgeError):
    """The database cannot be used as configured (unreachable, not migrated, unsupported)."""


class Database:
    """An engine plus ccbridge's transaction helpers; one per process is enough.

    ``schema`` (PostgreSQL only) puts ccbridge's tables in their own schema through the
    connection's ``search_path``; tests use it to isolate runs.
    """

    def __init__(
        self,
        url: str,
        *,
        schema: str | None = None,
        busy_timeout: float = 30.0,
        echo: bool = False,
    ) -> None:
        parsed = make_url(url)
        self.url = parsed
        self.dialect = parsed.get_backend_name()
        self.schema = schema
        if self.dialect not in ("sqlite", "postgresql"):
            raise StoreError(
                f"CCBRIDGE_DATABASE_URL: ccbridge supports sqlite and postgresql, not "
                f"{self.dialect!r}"
            )
        connect_args: dict[str, Any] = {}
        options: dict[str, Any] = {"echo": echo, "pool_pre_ping": True}
        if self.dialect == "sqlite":
            database = parsed.database or ""
            if database in ("", ":memory:"):
                raise StoreError(
                    "CCBRIDGE_DATABASE_URL: an in-memory SQLite database cannot be shared "
                    "between connections; give a file path"
                )
            Path(database).parent.mkdir(parents=True, exist_ok=True)
            connect_args.update(timeout=busy_timeout, check_same_thread=False)
            options["pool_size"] = 10
            options["max_overflow"] = 40
        elif schema is not None:
            connect_args["options"] = f"-csearch_path={schema}"
        self.engine: Engine = create_engine(parsed, connect_args=connect_args, **options)
        if self.dialect == "sqlite":
            _install_sqlite_events(self.engine, busy_timeout)

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @property
    def display_url(self) -> str:
        """The URL with any password hidden, for messages."""
        return self.url.render_as_string(hide_password=True)

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A short transaction for reads (never blocks on SQLite's writer in WAL mode)."""
        with self.engine.connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction; on SQLite it holds the write lock from its first statement."""
        with self.engine.connect() as conn:
            if self.is_sqlite:
                conn.execution_options(**{_IMMEDIATE: True})
            with conn.begin():
                yield conn

    def lock_row(
        self, conn: Connection, table: Table, *where: ColumnElement[bool]
    ) -> Row[Any] | None:
        """Read one row so that nobody else can change it before this transaction ends.

        Call it inside ``write()``. On PostgreSQL this is ``SELECT … FOR UPDATE``; on SQLite
        the transaction already holds the database's write lock.
        """
        stmt = select(table).where(*where)
        if not self.is_sqlite:
            stmt = stmt.with_for_update()
        return conn.execute(stmt).first()

    def dispose(self) -> None:
        self.engine.dispose()

    def __repr__(self) -> str:
        return f"Database({self.display_url!r})"


def _install_sqlite_events(engine: Engine, busy_timeout: float) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take over transaction control from pysqlite so BEGIN IMMEDIATE is possible.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get(_IMMEDIATE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
