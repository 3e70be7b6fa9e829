"""Real PostgreSQL and Redis for the tests that need them, found the same way everywhere.

Some behaviour only shows on a real server (row locks, a queue shared by processes). A
developer without PostgreSQL or Redis should see such a test skipped with a reason that
says how to run it; CI sets ``CCBRIDGE_REQUIRE_SERVICES=1`` so that a missing service fails
the run instead of letting it pass while testing nothing. These helpers give every suite,
ccbridge's own and its users', that one rule and the same environment variables:
``CCBRIDGE_TEST_POSTGRES_URL`` and ``CCBRIDGE_TEST_REDIS_URL``.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn
from urllib.parse import urlsplit, urlunsplit

import pytest
import sqlalchemy as sa

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


def unavailable(message: str, hint: str = "") -> NoReturn:
    """Skip the calling test because something it needs is missing (``message``).

    Under ``CCBRIDGE_REQUIRE_SERVICES=1`` the test fails instead: there a skip would
    hide that the behaviour was never tested. ``hint`` (how to provide the missing
    piece) is added to the skip reason.
    """
    if os.environ.get("CCBRIDGE_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{message}, and CCBRIDGE_REQUIRE_SERVICES=1 makes it mandatory")
    pytest.skip(f"{message}; {hint}" if hint else message)


def postgres_url_or_skip() -> str:
    """A reachable PostgreSQL URL (``CCBRIDGE_TEST_POSTGRES_URL``, default a local ``test``
    database); otherwise the test is skipped, or failed under CCBRIDGE_REQUIRE_SERVICES=1."""
    url = os.environ.get("CCBRIDGE_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("select 1"))
    except Exception as exc:  # any driver or URL error means: not usable here
        unavailable(
            f"PostgreSQL at {_without_password(url)} is not reachable ({type(exc).__name__})",
            "set CCBRIDGE_TEST_POSTGRES_URL or start PostgreSQL to run this test",
        )
    finally:
        engine.dispose()
    return url


def redis_url_or_skip() -> str:
    """A reachable Redis URL (``CCBRIDGE_TEST_REDIS_URL``, default ``redis://127.0.0.1:6379/0``);
    otherwise the test is skipped, or failed under CCBRIDGE_REQUIRE_SERVICES=1."""
    url = os.environ.get("CCBRIDGE_TEST_REDIS_URL", DEFAULT_REDIS_URL)
    try:
        import redis
    except ImportError:
        unavailable(
            "Redis is not usable (the 'redis' package is not installed)", "pip install redis"
        )
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=2)
        try:
            client.ping()
        finally:
            client.close()
    except Exception as exc:  # any client or URL error means: not usable here
        unavailable(
            f"Redis at {_without_password(url)} is not reachable ({type(exc).__name__})",
            "set CCBRIDGE_TEST_REDIS_URL or start Redis to run this test",
        )
    return url


@contextmanager
def isolated_postgres_schema(url: str, prefix: str = "ccb_test_") -> Iterator[str]:
    """A new, empty PostgreSQL schema for one test, dropped (with everything in it) after.

    Tests running at once against one database each get their own tables, and nothing a
    test created outlives it. Yields the schema's name; point your code at it (ccbridge's
    ``Database(url, schema=name)`` does).
    """
    schema = prefix + uuid.uuid4().hex[:12]
    admin = sa.create_engine(url)
    try:
        with admin.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        try:
            yield schema
        finally:
            with admin.begin() as conn:
                conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    finally:
        admin.dispose()


def _without_password(url: str) -> str:
    """``url`` fit for a skip reason or a CI log: any password replaced by ``***``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}"))
