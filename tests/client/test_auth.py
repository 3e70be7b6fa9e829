"""Token sources, and the client's one refresh-and-retry after a 401 (CC-V3-FACTS §1.5-1.7)."""

from __future__ import annotations

import base64
import threading
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

import ccbridge
from ccbridge import (
    AuthenticationError,
    Client,
    OAuthError,
    RefreshingTokenSource,
    StaticToken,
    TokenSet,
)
from ccbridge.sandbox import Sandbox, SandboxTransport
from ccbridge.sandbox.state import AccountData, App
from ccbridge.testing.plugin import async_sandbox_client, sandbox_client

TOKEN_URL = "https://authz.example.test/oauth2/default/v1/token"


class FakeTokenEndpoint:
    """A CC-like token endpoint: rotating refresh tokens, Basic client auth."""

    def __init__(self, *, rotate: bool = True, fail_with: str | None = None) -> None:
        self.rotate = rotate
        self.fail_with = fail_with
        self.requests: list[httpx.Request] = []
        self.valid_refresh = "RT-0"
        self.issued = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
        if self.fail_with or form.get("refresh_token") != self.valid_refresh:
            return httpx.Response(
                400,
                json={
                    "error": self.fail_with or "invalid_grant",
                    "error_description": "The refresh token is invalid or expired.",
                },
            )
        self.issued += 1
        body: dict[str, Any] = {
            "access_token": f"AT-{self.issued}",
            "token_type": "Bearer",
            "expires_in": 86_400,
            "scope": "contact_data offline_access",
        }
        if self.rotate:
            self.valid_refresh = f"RT-{self.issued}"
            body["refresh_token"] = self.valid_refresh
        return httpx.Response(200, json=body)

    def form(self, index: int = -1) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.requests[index].content.decode()).items()}


def _source(endpoint: FakeTokenEndpoint, **kwargs: Any) -> RefreshingTokenSource:
    options: dict[str, Any] = {
        "client_id": "my-client",
        "client_secret": "my-secret",
        "refresh_token": "RT-0",
        "token_url": TOKEN_URL,
        "transport": httpx.MockTransport(endpoint),
    }
    options.update(kwargs)
    return RefreshingTokenSource(**options)


# -- StaticToken -------------------------------------------------------------------------------
def test_static_token_hides_its_value() -> None:
    source = StaticToken("abc.def.ghi")
    assert source.get_token() == "abc.def.ghi"
    assert source.refresh("abc.def.ghi") == "abc.def.ghi"
    assert "abc" not in repr(source)
    with pytest.raises(ccbridge.InvalidArgumentError, match="token"):
        StaticToken("  ")


# -- RefreshingTokenSource ---------------------------------------------------------------------
def test_refresh_grant_uses_basic_auth_and_the_refresh_token() -> None:
    endpoint = FakeTokenEndpoint()
    source = _source(endpoint)
    assert source.get_token() == "AT-1"
    request = endpoint.requests[0]
    assert request.method == "POST"
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    expected = base64.b64encode(b"my-client:my-secret").decode()
    assert request.headers["authorization"] == f"Basic {expected}"
    assert endpoint.form() == {"grant_type": "refresh_token", "refresh_token": "RT-0"}


def test_public_clients_send_their_client_id_instead_of_a_secret() -> None:
    endpoint = FakeTokenEndpoint()
    source = _source(endpoint, client_secret=None)
    source.get_token()
    assert "authorization" not in endpoint.requests[0].headers
    assert endpoint.form()["client_id"] == "my-client"


def test_rotating_refresh_tokens_are_followed() -> None:
    endpoint = FakeTokenEndpoint(rotate=True)
    source = _source(endpoint)
    first = source.get_token()
    second = source.refresh(first)
    assert (first, second) == ("AT-1", "AT-2")
    assert endpoint.form(-1)["refresh_token"] == "RT-1"  # the rotated one, not RT-0


def test_long_lived_refresh_token_is_kept_when_not_returned() -> None:
    endpoint = FakeTokenEndpoint(rotate=False)
    source = _source(endpoint)
    source.refresh(None)
    source.refresh(None)
    assert [endpoint.form(i)["refresh_token"] for i in range(2)] == ["RT-0", "RT-0"]
    assert source.tokens is not None and source.tokens.refresh_token == "RT-0"


def test_tokens_are_persisted_before_they_are_used() -> None:
    endpoint = FakeTokenEndpoint()
    stored: list[TokenSet] = []
    source = _source(endpoint, on_token=stored.append)

    def api(request: httpx.Request) -> httpx.Response:
        used = request.headers["authorization"].removeprefix("Bearer ")
        # The token on the wire must already be in the store.
        assert stored and stored[-1].access_token == used
        return httpx.Response(200, json={"ok": True})

    with Client(source, transport=httpx.MockTransport(api), rate_limit=None) as client:
        assert client.request("GET", "/account/summary") == {"ok": True}
    assert stored[-1].refresh_token == "RT-1"
    assert stored[-1].expires_at is not None


def test_failed_persistence_keeps_the_new_tokens_and_retries_storing_them() -> None:
    endpoint = FakeTokenEndpoint()
    stored: list[TokenSet] = []
    failures = [RuntimeError("database is down")]

    def persist(tokens: TokenSet) -> None:
        if failures:
            raise failures.pop()
        stored.append(tokens)

    source = _source(endpoint, on_token=persist)
    with pytest.raises(RuntimeError, match="database is down"):
        source.get_token()
    # The rotated refresh token is not lost: the next call stores it, then hands it out,
    # without asking CC again (RT-0 is dead by now).
    assert source.get_token() == "AT-1"
    assert len(endpoint.requests) == 1
    assert [t.refresh_token for t in stored] == ["RT-1"]


def test_refresh_happens_before_expiry_not_after() -> None:
    endpoint = FakeTokenEndpoint()
    now = [1_000_000.0]
    source = _source(
        endpoint, access_token="AT-old", expires_at=now[0] + 3600, clock=lambda: now[0]
    )
    assert source.get_token() == "AT-old"
    assert endpoint.requests == []
    now[0] += 3600 - 299  # inside the five-minute margin
    assert source.get_token() == "AT-1"


def test_concurrent_callers_share_one_refresh() -> None:
    endpoint = FakeTokenEndpoint()
    source = _source(endpoint, access_token="AT-old", expires_at=None)
    results: list[str] = []
    lock = threading.Lock()

    def caller() -> None:
        token = source.refresh("AT-old")
        with lock:
            results.append(token)

    threads = [threading.Thread(target=caller) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert results == ["AT-1"] * 8
    assert len(endpoint.requests) == 1


def test_dead_refresh_token_raises_oauth_error() -> None:
    endpoint = FakeTokenEndpoint(fail_with="invalid_grant")
    source = _source(endpoint)
    with pytest.raises(OAuthError) as caught:
        source.get_token()
    assert caught.value.error == "invalid_grant"
    assert caught.value.status == 400
    assert "RT-0" not in str(caught.value) and "my-secret" not in str(caught.value)


async def test_async_twins_refresh_too() -> None:
    endpoint = FakeTokenEndpoint()
    source = _source(endpoint)
    assert await source.aget_token() == "AT-1"
    assert await source.arefresh("AT-1") == "AT-2"


def test_refreshing_source_against_the_sandbox_token_endpoint(
    cc_sandbox: Sandbox, cc_app: App, cc_token: dict[str, Any]
) -> None:
    stored: list[TokenSet] = []
    source = RefreshingTokenSource(
        client_id=cc_app.client_id,
        client_secret=cc_app.client_secret,
        refresh_token=cc_token["refresh_token"],
        token_url=cc_sandbox.base_url + "/oauth2/default/v1/token",
        transport=SandboxTransport(cc_sandbox),
        on_token=stored.append,
        clock=cc_sandbox.clock.time,
    )
    with sandbox_client(cc_sandbox, source) as client:
        summary = client.account.get_account_by_id()
    assert summary["contact_email"]
    assert len(stored) == 1 and stored[0].access_token != cc_token["access_token"]


# -- the client's 401 handling against the sandbox ---------------------------------------------
class GrantRefresher:
    """A test token source whose refresh asks the sandbox's control plane for a new grant."""

    def __init__(self, sandbox: Sandbox, app: App, account: AccountData, first: str) -> None:
        self._raw = httpx.Client(base_url=sandbox.base_url, transport=SandboxTransport(sandbox))
        self._grant = {"client_id": app.client_id, "account_id": account.account.account_id}
        self.token = first
        self.refreshes = 0

    def get_token(self) -> str:
        return self.token

    def refresh(self, rejected: str | None = None) -> str:
        self.refreshes += 1
        response = self._raw.post("/_sandbox/grants", json=self._grant)
        response.raise_for_status()
        self.token = response.json()["access_token"]
        return self.token

    async def aget_token(self) -> str:
        return self.get_token()

    async def arefresh(self, rejected: str | None = None) -> str:
        return self.refresh(rejected)


def _api_log(sandbox: Sandbox) -> list[tuple[str, int]]:
    return [
        (e["path"], e["status"]) for e in sandbox.requests.entries() if e["path"].startswith("/v3/")
    ]


def test_revoked_token_is_refreshed_once_and_the_call_retried(
    cc_sandbox: Sandbox,
    cc_raw: httpx.Client,
    cc_app: App,
    cc_account: AccountData,
    cc_token: dict[str, Any],
) -> None:
    cc_raw.post(
        "/_sandbox/faults",
        json={"match": {"path": "/v3/account/summary", "times": 1}, "action": {"token": "revoked"}},
    ).raise_for_status()
    source = GrantRefresher(cc_sandbox, cc_app, cc_account, cc_token["access_token"])
    with sandbox_client(cc_sandbox, source) as client:
        summary = client.account.get_account_by_id()
    assert summary["contact_email"] == "owner@example.com"
    assert source.refreshes == 1
    assert _api_log(cc_sandbox) == [("/v3/account/summary", 401), ("/v3/account/summary", 200)]


def test_expired_token_after_25_hours_is_refreshed(
    cc_sandbox: Sandbox, cc_app: App, cc_account: AccountData, cc_token: dict[str, Any]
) -> None:
    source = GrantRefresher(cc_sandbox, cc_app, cc_account, cc_token["access_token"])
    cc_sandbox.advance_clock(25 * 3600)  # CC access tokens live 24 hours
    with sandbox_client(cc_sandbox, source) as client:
        page = client.contacts.get_contacts(limit=1)
    assert isinstance(page["contacts"], list)
    assert source.refreshes == 1


def test_a_second_401_after_refreshing_is_final(
    cc_sandbox: Sandbox,
    cc_raw: httpx.Client,
    cc_app: App,
    cc_account: AccountData,
    cc_token: dict[str, Any],
) -> None:
    cc_raw.post(
        "/_sandbox/faults", json={"match": {"path": "/v3/contacts"}, "action": {"token": "expired"}}
    ).raise_for_status()
    source = GrantRefresher(cc_sandbox, cc_app, cc_account, cc_token["access_token"])
    with sandbox_client(cc_sandbox, source) as client, pytest.raises(AuthenticationError) as caught:
        client.contacts.get_contacts()
    assert caught.value.error_key == "unauthorized"
    assert source.refreshes == 1  # refreshed once, retried once, no loop
    assert [s for _, s in _api_log(cc_sandbox)] == [401, 401]


def test_static_token_401_is_raised_without_retrying(
    cc_sandbox: Sandbox, cc_token: dict[str, Any]
) -> None:
    cc_sandbox.advance_clock(25 * 3600)
    with sandbox_client(cc_sandbox, cc_token) as client, pytest.raises(AuthenticationError):
        client.account.get_account_by_id()
    assert [s for _, s in _api_log(cc_sandbox)] == [401]


async def test_async_client_refreshes_after_401(
    cc_sandbox: Sandbox, cc_app: App, cc_account: AccountData, cc_token: dict[str, Any]
) -> None:
    source = GrantRefresher(cc_sandbox, cc_app, cc_account, cc_token["access_token"])
    cc_sandbox.advance_clock(25 * 3600)
    async with async_sandbox_client(cc_sandbox, source) as client:
        summary = await client.account.get_account_by_id()
    assert summary["contact_email"] == "owner@example.com"
    assert source.refreshes == 1


def test_token_endpoint_throttling_is_waited_out() -> None:
    endpoint = FakeTokenEndpoint()
    answers = [httpx.Response(429, json={"error": "rate_limited"}), None]
    sleeps: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        answer = answers.pop(0)
        return answer if answer is not None else endpoint(request)

    source = _source(endpoint, transport=httpx.MockTransport(handler), sleep=sleeps.append)
    assert source.get_token() == "AT-1"
    assert sleeps == [1.0]  # CC's token endpoint allows one request per second


def test_token_endpoint_timeout_is_not_repeated() -> None:
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        raise httpx.ReadTimeout("slow", request=request)

    source = _source(FakeTokenEndpoint(), transport=httpx.MockTransport(handler))
    with pytest.raises(ccbridge.APIConnectionError, match="timed out"):
        source.get_token()
    assert len(calls) == 1  # the refresh token may already be rotated: never replay it
