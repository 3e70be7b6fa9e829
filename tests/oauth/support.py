"""Helpers shared by the linked-accounts tests: databases, the sandbox served over HTTP,
and a browser stand-in that clicks through the sandbox's sign-in and consent pages."""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import sqlalchemy as sa

from ccbridge.sandbox import Sandbox, SandboxASGI
from ccbridge.store import Database, upgrade
from tests.sandbox.test_oauth_browser import forms_of, sign_in, submit

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
LOGIN_EMAIL = "owner@example.com"
PASSWORD = "sandbox-password"


def postgres_url() -> str:
    return os.environ.get("CCBRIDGE_TEST_POSTGRES_URL", DEFAULT_PG_URL)


def postgres_or_skip() -> str:
    """A reachable PostgreSQL URL; skip (or fail under CCBRIDGE_REQUIRE_SERVICES=1) if none."""
    url = postgres_url()
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("select 1"))
    except Exception as exc:  # any driver error means: not usable here
        message = f"PostgreSQL at {url} is not reachable ({type(exc).__name__})"
        if os.environ.get("CCBRIDGE_REQUIRE_SERVICES") == "1":
            pytest.fail(f"{message}, and CCBRIDGE_REQUIRE_SERVICES=1 makes it mandatory")
        pytest.skip(f"{message}; set CCBRIDGE_TEST_POSTGRES_URL to run the PostgreSQL variant")
    finally:
        engine.dispose()
    return url


@dataclass(frozen=True)
class DatabaseTarget:
    """Where a test's database lives: a URL and (PostgreSQL) a schema of its own."""

    kind: str
    url: str
    schema: str | None

    def open(self) -> Database:
        return Database(self.url, schema=self.schema)


@contextmanager
def database_target(kind: str, tmp_path: Any) -> Iterator[DatabaseTarget]:
    """A fresh, migrated database; PostgreSQL gets a unique schema, dropped afterwards."""
    if kind == "sqlite":
        target = DatabaseTarget("sqlite", f"sqlite:///{tmp_path}/ccbridge.db", None)
        db = target.open()
        upgrade(db)
        db.dispose()
        yield target
        return
    url = postgres_or_skip()
    schema = "ccb_test_" + uuid.uuid4().hex[:12]
    admin = sa.create_engine(url)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        target = DatabaseTarget("postgres", url, schema)
        db = target.open()
        upgrade(db)
        db.dispose()
        yield target
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def dump_database(db: Database) -> str:
    """Every row of every ccbridge table as text (SQLite: the ``.dump`` SQL)."""
    if db.is_sqlite:
        import sqlite3

        conn = sqlite3.connect(str(db.url.database))
        try:
            return "\n".join(conn.iterdump())
        finally:
            conn.close()
    lines = []
    with db.read() as conn:
        for table in (
            "ccbridge_linked_accounts",
            "ccbridge_account_events",
            "ccbridge_oauth_states",
            "ccbridge_token_pacing",
        ):
            for row in conn.execute(sa.text(f"SELECT * FROM {table}")):
                lines.append(f"{table}: {tuple(row)!r}")
    return "\n".join(lines)


# -- the sandbox over real HTTP ---------------------------------------------------------------
class HTTPSandbox:
    """A ``Sandbox`` served by uvicorn on 127.0.0.1 in a background thread."""

    def __init__(self, **sandbox_options: Any) -> None:
        import uvicorn

        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind(("127.0.0.1", 0))
        port = self.socket.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        self.sandbox = Sandbox(base_url=self.url, **sandbox_options)
        config = uvicorn.Config(
            SandboxASGI(self.sandbox), log_level="warning", access_log=False, lifespan="off"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True
        )

    def __enter__(self) -> HTTPSandbox:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the sandbox server did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.socket.close()

    def token_calls(self, client_id: str | None = None) -> list[dict[str, Any]]:
        with httpx.Client(base_url=self.url) as http:
            entries = http.get("/_sandbox/requests").json()["requests"]
        return [
            e
            for e in entries
            if e["path"] == "/oauth2/default/v1/token"
            and (client_id is None or e.get("client_id") == client_id)
        ]


def token_calls(sandbox: Sandbox) -> list[dict[str, Any]]:
    """Requests the sandbox's token endpoint received (from its request log)."""
    return [e for e in sandbox.requests.entries(0, None) if e["path"] == "/oauth2/default/v1/token"]


# -- a browser stand-in --------------------------------------------------------------------------
def approve(
    browser: httpx.Client,
    authorize_url: str,
    *,
    decision: str = "allow",
    email: str = LOGIN_EMAIL,
    password: str = PASSWORD,
) -> str:
    """Open the authorize URL, sign in, press Allow (or Deny); returns the callback URL."""
    page = browser.get(authorize_url)
    assert page.status_code == 200, page.text
    if any(f.kind == "login" for f in forms_of(page.text)):
        page = sign_in(browser, page, email, password)
    response = submit(browser, page, "consent", decision=decision)
    assert response.status_code == 303, response.text
    return str(response.headers["location"])


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query, keep_blank_values=True).items()}


DEFAULT_SCOPES = ("account_read", "contact_data", "campaign_data", "offline_access")


def link_via_web(
    accounts: Any,
    browser: httpx.Client,
    *,
    app_reference: str = "tenant-1",
    session_id: str = "browser-session-1",
    scopes: tuple[str, ...] = DEFAULT_SCOPES,
) -> Any:
    """Link the sandbox's owner account through the redirect flow, as a browser would."""
    pending = accounts.start_authorization(
        session_id=session_id, app_reference=app_reference, scopes=scopes
    )
    location = approve(browser, pending.url)
    return accounts.complete_authorization(location, session_id=session_id)


def stored_tokens(accounts: Any, account_id: str) -> Any:
    """The decrypted tokens of an account, read straight from its row."""
    with accounts.db.read() as conn:
        row = conn.execute(
            sa.text(
                "SELECT token_ciphertext, key_fingerprint FROM ccbridge_linked_accounts "
                "WHERE id = :id"
            ),
            {"id": account_id},
        ).one()
    return accounts.vault.decrypt_tokens(row[0], row[1], account_id=account_id)
