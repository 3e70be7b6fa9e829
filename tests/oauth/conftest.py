"""Fixtures for the linked-accounts tests: a vault, an app on the sandbox, a service (the
``db`` per backend comes from ``tests/conftest.py``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from ccbridge.oauth import Endpoints, KeyRing, LinkedAccounts, OAuthClientConfig, TokenVault
from ccbridge.oauth.vault import VaultKey, fingerprint, generate_key
from ccbridge.sandbox import AsyncSandboxTransport, Sandbox, SandboxTransport
from ccbridge.sandbox.seed import create_app
from ccbridge.sandbox.state import AccountData, App
from ccbridge.store import Database

REDIRECT_URI = "http://127.0.0.1:8765/callback"


def new_key() -> VaultKey:
    key = generate_key()
    return VaultKey(key, fingerprint(key))


@pytest.fixture
def vault() -> TokenVault:
    return TokenVault(KeyRing([new_key()], "test"))


@pytest.fixture(params=["rotating"])
def refresh_mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def app(cc_sandbox: Sandbox, refresh_mode: str) -> App:
    return create_app(
        cc_sandbox.state,
        cc_sandbox.clock.now(),
        name="Linked Accounts Test",
        redirect_uris=[REDIRECT_URI],
        refresh_token_mode=refresh_mode,
    )


def sandbox_oauth(sandbox: Sandbox, app: App, *, public: bool = False) -> OAuthClientConfig:
    return OAuthClientConfig(
        client_id=app.client_id,
        client_secret=None if public else app.client_secret,
        endpoints=Endpoints.okta_layout(sandbox.base_url, sandbox.base_url),
        redirect_uri=REDIRECT_URI,
    )


class HookRecorder:
    def __init__(self) -> None:
        self.events: list[Any] = []

    def __call__(self, event: Any) -> None:
        self.events.append(event)


@pytest.fixture
def reauth_hook() -> HookRecorder:
    return HookRecorder()


def make_accounts(
    db: Database, vault: TokenVault, sandbox: Sandbox, app: App, **options: Any
) -> LinkedAccounts:
    public = options.pop("public", False)
    settings: dict[str, Any] = {
        "transport": SandboxTransport(sandbox),
        "async_transport": AsyncSandboxTransport(sandbox),
        "clock": sandbox.clock.time,
        "sleep": sandbox.advance_clock,
    }
    settings.update(options)
    return LinkedAccounts(db, vault, sandbox_oauth(sandbox, app, public=public), **settings)


@pytest.fixture
def accounts(
    db: Database,
    vault: TokenVault,
    cc_sandbox: Sandbox,
    app: App,
    cc_account: AccountData,
    reauth_hook: HookRecorder,
) -> Iterator[LinkedAccounts]:
    service = make_accounts(db, vault, cc_sandbox, app, on_needs_reauth=reauth_hook)
    yield service
    service.close()


@pytest.fixture
def browser(cc_sandbox: Sandbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=cc_sandbox.base_url, transport=SandboxTransport(cc_sandbox)) as c:
        yield c
