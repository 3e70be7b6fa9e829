"""Refresh coordination across processes, against the sandbox served over real HTTP.

- The refresh storm of issue 4: 5 processes × 50 concurrent callers holding an expired
  token → exactly one token call reaches the sandbox, everyone gets the same new token,
  and the account stays active. On SQLite and on PostgreSQL.
- A process killed between CC's token answer and the commit: the row is untouched and the
  lock is released; with long-lived refresh tokens the account survives, with rotating
  ones it is stranded (needs_reauth) — the window docs/linked-accounts.md analyses.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ccbridge.oauth import (
    Endpoints,
    KeyRing,
    LinkedAccounts,
    NeedsReauthError,
    OAuthClientConfig,
    TokenVault,
)
from ccbridge.oauth.vault import VaultKey, fingerprint, generate_key
from ccbridge.testing.oauth_flow import approve
from tests.oauth.support import HTTPSandbox, stored_tokens
from tests.store.support import DatabaseTarget

ROOT = Path(__file__).resolve().parents[2]
REDIRECT = "http://127.0.0.1:8765/callback"
DAY = 86_400
PROCESSES = 5
CALLERS = 50


@pytest.fixture
def http_sandbox() -> Iterator[HTTPSandbox]:
    # CC's rate limits stay on: a second token call within a second would be a 429.
    with HTTPSandbox(rate_limits=True) as served:
        yield served


class Setup:
    """An app, an account linked through the browser flow, and everything a worker needs."""

    def __init__(self, served: HTTPSandbox, target: DatabaseTarget, mode: str) -> None:
        self.served = served
        self.target = target
        self.key = generate_key()
        with httpx.Client(base_url=served.url) as control:
            app = control.post(
                "/_sandbox/apps",
                json={"name": "Storm", "redirect_uris": [REDIRECT], "refresh_token_mode": mode},
            ).json()
            control.post(
                "/_sandbox/accounts",
                json={
                    "email": "owner@example.com",
                    "password": "sandbox-password",
                    "organization_name": "Storm Org",
                },
            ).raise_for_status()
        self.client_id = app["client_id"]
        self.client_secret = app["client_secret"]
        self.offset = 0.0
        self.accounts = self.service()
        with httpx.Client(base_url=served.url) as browser:
            pending = self.accounts.start_authorization(
                session_id="s", app_reference="tenant", scopes=["account_read", "contact_data"]
            )
            self.account = self.accounts.complete_authorization(
                approve(browser, pending.url), session_id="s"
            )

    def service(self, **options: Any) -> LinkedAccounts:
        import time

        vault = TokenVault(KeyRing([VaultKey(self.key, fingerprint(self.key))], "test"))
        oauth = OAuthClientConfig(
            client_id=self.client_id,
            client_secret=self.client_secret,
            endpoints=Endpoints.okta_layout(self.served.url, self.served.url),
            redirect_uri=REDIRECT,
        )
        return LinkedAccounts(
            self.target.open(), vault, oauth, clock=lambda: time.time() + self.offset, **options
        )

    def expire_access_token(self) -> None:
        with httpx.Client(base_url=self.served.url) as control:
            body = control.post("/_sandbox/clock", json={"advance_seconds": DAY + 60}).json()
            control.delete("/_sandbox/requests")
        self.offset = float(body["offset_seconds"])

    def worker_config(self, **extra: Any) -> dict[str, Any]:
        return {
            "db_url": self.target.url,
            "schema": self.target.schema,
            "vault_key": self.key.decode(),
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "sandbox_url": self.served.url,
            "clock_offset": self.offset,
            "account_id": self.account.id,
            **extra,
        }

    def close(self) -> None:
        self.accounts.close()
        self.accounts.db.dispose()


def _spawn(mode: str, config: dict[str, Any]) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.Popen(
        [sys.executable, "-m", "tests.oauth.storm_worker", mode, json.dumps(config)],
        cwd=ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _start_together(workers: list[subprocess.Popen[str]]) -> None:
    for worker in workers:
        line = worker.stdout.readline() if worker.stdout else ""
        if line.strip() != "ready":
            _, err = worker.communicate(timeout=30)
            raise AssertionError(f"worker failed to start: {line!r}\n{err}")
    for worker in workers:
        assert worker.stdin is not None
        worker.stdin.write("go\n")
        worker.stdin.flush()


def test_five_processes_of_fifty_callers_make_one_token_call(
    http_sandbox: HTTPSandbox, db_target: DatabaseTarget
) -> None:
    setup = Setup(http_sandbox, db_target, "rotating")
    try:
        expired = stored_tokens(setup.accounts, setup.account.id).access_token
        setup.expire_access_token()
        config = setup.worker_config(callers=CALLERS, rejected=expired)
        workers = [_spawn("storm", config) for _ in range(PROCESSES)]
        _start_together(workers)
        results: list[dict[str, Any]] = []
        for worker in workers:
            out, err = worker.communicate(timeout=120)
            assert worker.returncode == 0, err
            results.extend(json.loads(out.strip().splitlines()[-1])["results"])
        assert len(results) == PROCESSES * CALLERS
        errors = [r["error"] for r in results if "error" in r]
        assert errors == []
        tokens = {r["token"] for r in results}
        assert len(tokens) == 1 and expired not in tokens
        calls = http_sandbox.token_calls(setup.client_id)
        assert [c["status"] for c in calls] == [200]
        account = setup.accounts.get(setup.account.id)
        assert account.status == "active"
        assert account.token_version == setup.account.token_version + 1
        assert stored_tokens(setup.accounts, setup.account.id).access_token in tokens
        refreshed = [
            e for e in setup.accounts.audit_log(setup.account.id) if e.event == "refreshed"
        ]
        assert len(refreshed) == 1
    finally:
        setup.close()


@pytest.mark.parametrize("mode", ["rotating", "long_lived"])
def test_a_process_killed_between_the_token_answer_and_the_commit(
    db_target: DatabaseTarget, mode: str
) -> None:
    # The dead process's pacing slot died with its transaction, so the survivor may call
    # within the same second; CC's 1/s limit is off here to keep to the crash itself.
    with HTTPSandbox(rate_limits=False) as served:
        _crash_case(served, db_target, mode)


def _crash_case(http_sandbox: HTTPSandbox, db_target: DatabaseTarget, mode: str) -> None:
    setup = Setup(http_sandbox, db_target, mode)
    try:
        before = stored_tokens(setup.accounts, setup.account.id)
        setup.expire_access_token()
        worker = _spawn("crash", setup.worker_config())
        _start_together([worker])
        out, err = worker.communicate(timeout=60)
        assert worker.returncode == 17, err
        assert "not reached" not in out
        # CC answered (and, rotating, spent the old refresh token) ...
        assert [c["status"] for c in http_sandbox.token_calls(setup.client_id)] == [200]
        # ... but nothing was committed, and the dead process holds no lock.
        assert stored_tokens(setup.accounts, setup.account.id) == before
        account = setup.accounts.get(setup.account.id)
        assert account.token_version == setup.account.token_version
        assert "refreshed" not in [e.event for e in setup.accounts.audit_log(setup.account.id)]
        if mode == "long_lived":
            current = setup.accounts.refresh(setup.account.id)
            assert current.access_token != before.access_token
            assert setup.accounts.get(setup.account.id).status == "active"
        else:
            with pytest.raises(NeedsReauthError):
                setup.accounts.refresh(setup.account.id)
            assert setup.accounts.get(setup.account.id).status == "needs_reauth"
    finally:
        setup.close()
