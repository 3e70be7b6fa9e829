"""Helpers shared by the linked-accounts tests: reading the store back, the sandbox served
over HTTP, and linking an account through the sandbox's sign-in and consent pages (driven
by ``ccbridge.testing.oauth_flow``). The database per backend is ``tests.store.support``'s."""

from __future__ import annotations

from contextlib import ExitStack
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import sqlalchemy as sa

from ccbridge.sandbox import Sandbox
from ccbridge.store import Database
from ccbridge.testing import serve_sandbox
from ccbridge.testing.oauth_flow import approve


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
    """A ``Sandbox`` served over real HTTP (``ccbridge.testing.serve_sandbox``), with its
    token-endpoint log read over HTTP the way another process would read it."""

    def __init__(self, **sandbox_options: Any) -> None:
        self._options = sandbox_options
        self._stack = ExitStack()

    def __enter__(self) -> HTTPSandbox:
        self.sandbox: Sandbox = self._stack.enter_context(serve_sandbox(**self._options))
        self.url = self.sandbox.base_url
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

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
