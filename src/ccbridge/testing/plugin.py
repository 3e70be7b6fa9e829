"""The ``ccbridge`` pytest plugin: a fresh CC sandbox and clients connected to it.

Installed with ccbridge (entry point ``pytest11``), so any test suite can use:

- ``cc_sandbox``: a fresh in-process ``Sandbox`` (rate limits off; turn them on with
  ``cc_sandbox.state.settings.rate_limits = True``).
- ``cc_app``: a registered application; ``cc_account``: an account seeded like a new CC
  account; ``cc_token``: a token response granting every scope plus offline_access.
- ``cc_http`` / ``cc_async_http``: httpx clients on the sandbox's ``/v3`` base URL with the
  bearer token set. When CC's swagger can be found (``CCBRIDGE_SPEC`` or ``../shared/spec``)
  every ``/v3`` response they receive is checked against it, and a test fails on the first
  response that does not conform.
- ``cc_conformance``: the checker itself (skips the test when the swagger is absent).
- ``cc_client`` / ``cc_async_client``: a ``ccbridge.Client`` / ``AsyncClient`` on the
  sandbox's clock (``sandbox_client`` builds one outside pytest).
- ``cc_redis_url``: a reachable Redis, else a skip (a failure under
  ``CCBRIDGE_REQUIRE_SERVICES=1``).

Beside the fixtures: ``ccbridge.testing.live_server`` / ``serve_sandbox`` serve an ASGI app
or a sandbox over real HTTP in a thread, for code that opens its own sockets;
``ccbridge.testing.oauth_flow`` signs in and presses Allow on the sandbox's pages like a
browser; ``ccbridge.testing.services`` finds PostgreSQL and Redis (skip or fail, one rule).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from ccbridge.sandbox import AsyncSandboxTransport, Sandbox, SandboxTransport
from ccbridge.sandbox.seed import create_account, create_app
from ccbridge.sandbox.state import AccountData, App
from ccbridge.testing.conformance import SpecConformance, find_spec, load_conformance
from ccbridge.testing.oauth_flow import REDIRECT_URI
from ccbridge.testing.services import redis_url_or_skip

ALL_SCOPES = "account_read account_update contact_data campaign_data offline_access"


class ConformanceViolation(AssertionError):
    """A sandbox response disagrees with CC's swagger."""


def _conformance_or_none() -> SpecConformance | None:
    path = find_spec()
    return load_conformance(str(path)) if path else None


def _checking_hook(checker: SpecConformance) -> Any:
    def check(response: httpx.Response) -> None:
        response.read()
        problems = checker.check(
            response.request.method,
            response.request.url.path,
            response.status_code,
            response.content,
            response.headers.get("content-type", ""),
        )
        if problems:
            raise ConformanceViolation("\n".join(problems))

    return check


def _async_checking_hook(checker: SpecConformance) -> Any:
    sync = _checking_hook(checker)

    async def check(response: httpx.Response) -> None:
        await response.aread()
        sync(response)

    return check


@pytest.fixture
def cc_sandbox() -> Sandbox:
    return Sandbox(rate_limits=False)


@pytest.fixture
def cc_app(cc_sandbox: Sandbox) -> App:
    return create_app(
        cc_sandbox.state,
        cc_sandbox.clock.now(),
        name="Test App",
        redirect_uris=[REDIRECT_URI],
    )


@pytest.fixture
def cc_account(cc_sandbox: Sandbox) -> AccountData:
    return create_account(
        cc_sandbox.state,
        cc_sandbox.clock.now(),
        email="owner@example.com",
        password="sandbox-password",
        organization_name="Example Org",
        first_name="Olive",
        last_name="Owner",
    )


@pytest.fixture
def cc_token(cc_sandbox: Sandbox, cc_app: App, cc_account: AccountData) -> dict[str, Any]:
    return cc_sandbox.issuer.issue(
        cc_sandbox.state, cc_sandbox.clock, cc_app, cc_account.account.account_id, ALL_SCOPES
    )


@pytest.fixture
def cc_conformance() -> SpecConformance:
    checker = _conformance_or_none()
    if checker is None:
        pytest.skip("CC's swagger not found: set CCBRIDGE_SPEC or place it in ../shared/spec/")
    return checker


@pytest.fixture
def cc_http(cc_sandbox: Sandbox, cc_token: dict[str, Any]) -> Iterator[httpx.Client]:
    checker = _conformance_or_none()
    hooks = {"response": [_checking_hook(checker)]} if checker else {}
    with httpx.Client(
        base_url=cc_sandbox.base_url + "/v3",
        transport=SandboxTransport(cc_sandbox),
        headers={"Authorization": f"Bearer {cc_token['access_token']}"},
        event_hooks=hooks,
    ) as client:
        yield client


@pytest.fixture
async def cc_async_http(
    cc_sandbox: Sandbox, cc_token: dict[str, Any]
) -> AsyncIterator[httpx.AsyncClient]:
    checker = _conformance_or_none()
    hooks = {"response": [_async_checking_hook(checker)]} if checker else {}
    async with httpx.AsyncClient(
        base_url=cc_sandbox.base_url + "/v3",
        transport=AsyncSandboxTransport(cc_sandbox),
        headers={"Authorization": f"Bearer {cc_token['access_token']}"},
        event_hooks=hooks,
    ) as client:
        yield client


@pytest.fixture
def cc_raw(cc_sandbox: Sandbox) -> Iterator[httpx.Client]:
    """An unauthenticated client on the sandbox root, for OAuth and control-plane calls."""
    with httpx.Client(
        base_url=cc_sandbox.base_url, transport=SandboxTransport(cc_sandbox)
    ) as client:
        yield client


def pytest_configure(config: pytest.Config) -> None:
    import os

    if os.environ.get("CCBRIDGE_REQUIRE_SPEC") == "1" and find_spec() is None:
        raise pytest.UsageError(
            "CCBRIDGE_REQUIRE_SPEC=1 but CC's swagger was not found "
            "(set CCBRIDGE_SPEC or place it in ../shared/spec/)"
        )


# -- ccbridge.Client fixtures ----------------------------------------------------------------
# A Client on the sandbox runs on the sandbox's clock: whenever it would wait (rate-limit
# pacing, retry backoff) it advances that clock instead of sleeping, the way real waiting
# lets time pass at CC. Its responses are checked against CC's swagger like cc_http's.

from ccbridge import AsyncClient, Client, MemoryBackend, RateLimiter  # noqa: E402


class _CheckingTransport(httpx.BaseTransport):
    def __init__(self, inner: httpx.BaseTransport, checker: SpecConformance | None) -> None:
        self._inner = inner
        self._check = _checking_hook(checker) if checker else None

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self._inner.handle_request(request)
        if self._check is not None and request.url.path.startswith("/v3/"):
            response.request = request
            self._check(response)
        return response


class _AsyncCheckingTransport(httpx.AsyncBaseTransport):
    def __init__(self, inner: httpx.AsyncBaseTransport, checker: SpecConformance | None) -> None:
        self._inner = inner
        self._check = _checking_hook(checker) if checker else None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._inner.handle_async_request(request)
        if self._check is not None and request.url.path.startswith("/v3/"):
            await response.aread()
            response.request = request
            self._check(response)
        return response


def sandbox_client(sandbox: Sandbox, token: Any, **options: Any) -> Client:
    """A ``ccbridge.Client`` wired to ``sandbox`` in-process, on the sandbox's clock.

    ``token`` is an access token (or a token response dict, or a ``TokenSource``); any
    ``Client`` argument can be overridden through ``options``.
    """
    if isinstance(token, dict):
        token = token["access_token"]
    settings: dict[str, Any] = {
        "base_url": sandbox.base_url + "/v3",
        "transport": _CheckingTransport(SandboxTransport(sandbox), _conformance_or_none()),
        "rate_limit": RateLimiter(MemoryBackend(), clock=sandbox.clock.time),
        "sleep": sandbox.advance_clock,
        "clock": sandbox.clock.time,
    }
    settings.update(options)
    return Client(token, **settings)


def async_sandbox_client(sandbox: Sandbox, token: Any, **options: Any) -> AsyncClient:
    """The ``ccbridge.AsyncClient`` twin of ``sandbox_client``."""

    async def advance(seconds: float) -> None:
        sandbox.advance_clock(seconds)

    if isinstance(token, dict):
        token = token["access_token"]
    settings: dict[str, Any] = {
        "base_url": sandbox.base_url + "/v3",
        "transport": _AsyncCheckingTransport(
            AsyncSandboxTransport(sandbox), _conformance_or_none()
        ),
        "rate_limit": RateLimiter(MemoryBackend(), clock=sandbox.clock.time),
        "sleep": advance,
        "clock": sandbox.clock.time,
    }
    settings.update(options)
    return AsyncClient(token, **settings)


@pytest.fixture
def cc_client(cc_sandbox: Sandbox, cc_token: dict[str, Any]) -> Iterator[Client]:
    """A ``ccbridge.Client`` for ``cc_account`` on ``cc_sandbox`` (all scopes)."""
    with sandbox_client(cc_sandbox, cc_token) as client:
        yield client


@pytest.fixture
async def cc_async_client(
    cc_sandbox: Sandbox, cc_token: dict[str, Any]
) -> AsyncIterator[AsyncClient]:
    """A ``ccbridge.AsyncClient`` for ``cc_account`` on ``cc_sandbox`` (all scopes)."""
    async with async_sandbox_client(cc_sandbox, cc_token) as client:
        yield client


@pytest.fixture
def cc_redis_url() -> str:
    """A reachable Redis URL (``CCBRIDGE_TEST_REDIS_URL``, default ``redis://127.0.0.1:6379/0``).

    Skips the test when Redis is unreachable, or fails it when
    ``CCBRIDGE_REQUIRE_SERVICES=1`` (as CI sets).
    """
    return redis_url_or_skip()
