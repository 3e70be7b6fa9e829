"""Refresh coordination in one process: proactive refresh, single flight, rotating and
long-lived refresh tokens, invalid_grant, retriable failures, pacing, transparent clients."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

import httpx
import pytest

from ccbridge.oauth import (
    LinkedAccounts,
    NeedsReauthError,
    NeedsReauthEvent,
    TokenRefreshRetriableError,
)
from ccbridge.oauth.vault import StoredTokens
from ccbridge.sandbox import Sandbox, SandboxTransport
from ccbridge.sandbox.state import AccountData, App
from ccbridge.store import Database
from tests.oauth.conftest import HookRecorder, make_accounts
from tests.oauth.support import link_via_web, stored_tokens, token_calls

DAY = 86_400
TOKEN_PATH = "/oauth2/default/v1/token"


@pytest.fixture
def linked(accounts: LinkedAccounts, browser: httpx.Client, cc_sandbox: Sandbox) -> str:
    account = link_via_web(accounts, browser)
    cc_sandbox.requests.clear()
    return str(account.id)


def _refresh_token_works(sandbox: Sandbox, app: App, refresh_token: str) -> bool:
    with httpx.Client(base_url=sandbox.base_url, transport=SandboxTransport(sandbox)) as http:
        response = http.post(
            TOKEN_PATH,
            data={"grant_type": "refresh_token", "refresh_token": refresh_token},
            auth=(app.client_id, app.client_secret),
        )
    return response.status_code == 200


def test_a_token_not_yet_due_is_used_without_a_token_call(
    accounts: LinkedAccounts, linked: str, cc_sandbox: Sandbox
) -> None:
    before = stored_tokens(accounts, linked)
    cc_sandbox.advance_clock(DAY - 600)  # 10 minutes left: outside the 5-minute margin
    assert accounts.token_source(linked).get_token() == before.access_token
    assert token_calls(cc_sandbox) == []


def test_refreshes_proactively_inside_the_margin(
    accounts: LinkedAccounts, linked: str, cc_sandbox: Sandbox
) -> None:
    before = stored_tokens(accounts, linked)
    cc_sandbox.advance_clock(DAY - 240)  # 4 minutes left: inside the margin, still valid at CC
    token = accounts.token_source(linked).get_token()
    assert token != before.access_token
    assert len(token_calls(cc_sandbox)) == 1
    account = accounts.get(linked)
    assert account.token_version == 2
    assert account.last_refreshed_at is not None and account.last_refreshed_at > account.linked_at
    assert stored_tokens(accounts, linked).access_token == token  # committed before use
    assert [e.event for e in accounts.audit_log(linked)] == ["linked", "refreshed"]


@pytest.mark.parametrize("refresh_mode", ["rotating", "long_lived"], indirect=True)
def test_rotating_and_long_lived_refresh_tokens(
    accounts: LinkedAccounts, linked: str, cc_sandbox: Sandbox, app: App, refresh_mode: str
) -> None:
    old = stored_tokens(accounts, linked)
    cc_sandbox.advance_clock(DAY + 1)
    accounts.token_source(linked).get_token()
    new = stored_tokens(accounts, linked)
    if refresh_mode == "rotating":
        assert new.refresh_token != old.refresh_token
        assert not _refresh_token_works(cc_sandbox, app, old.refresh_token)
    else:
        assert new.refresh_token == old.refresh_token
    # The stored refresh token is the live one either way.
    assert _refresh_token_works(cc_sandbox, app, new.refresh_token)
    event = accounts.audit_log(linked)[-1]
    assert event.event == "refreshed" and event.detail["rotated"] is (refresh_mode == "rotating")


def test_fifty_threads_with_an_expired_token_make_one_token_call(
    accounts: LinkedAccounts, linked: str, cc_sandbox: Sandbox
) -> None:
    old = stored_tokens(accounts, linked).access_token
    cc_sandbox.advance_clock(DAY + 1)
    barrier = threading.Barrier(50)
    results: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def caller() -> None:
        source = accounts.token_source(linked)
        barrier.wait()
        try:
            token = source.refresh(old)  # what a Client does after CC's 401
        except BaseException as exc:  # pragma: no cover - reported below
            with lock:
                errors.append(exc)
            return
        with lock:
            results.append(token)

    threads = [threading.Thread(target=caller) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(results) == 50 and len(set(results)) == 1 and old not in results
    assert len(token_calls(cc_sandbox)) == 1
    assert accounts.get(linked).status == "active"


def test_fifty_asyncio_tasks_with_an_expired_token_make_one_token_call(
    accounts: LinkedAccounts, linked: str, cc_sandbox: Sandbox
) -> None:
    cc_sandbox.advance_clock(DAY + 1)

    async def storm() -> list[str]:
        source = accounts.token_source(linked)
        return await asyncio.gather(*(source.aget_token() for _ in range(50)))

    tokens = asyncio.run(storm())
    assert len(set(tokens)) == 1
    assert len(token_calls(cc_sandbox)) == 1


def test_client_refreshes_transparently_after_a_401(
    accounts: LinkedAccounts, linked: str, cc_sandbox: Sandbox
) -> None:
    # CC kills the access token early (the token is not due by its expiry): a 401.
    cc_sandbox.faults.add(
        {"match": {"path": "^/v3/account/summary", "times": 1}, "action": {"token": "expired"}}
    )
    with accounts.client(linked, rate_limit=None) as client:
        summary = client.account.get_account_by_id()
    assert summary["organization_name"] == "Example Org"
    assert len(token_calls(cc_sandbox)) == 1
    statuses = [
        e["status"] for e in cc_sandbox.requests.entries() if e["path"] == "/v3/account/summary"
    ]
    assert statuses == [401, 200]


async def test_async_client_refreshes_an_expired_token(
    accounts: LinkedAccounts, linked: str, cc_sandbox: Sandbox
) -> None:
    cc_sandbox.advance_clock(DAY + 1)
    async with accounts.async_client(linked, rate_limit=None) as client:
        summary = await client.account.get_account_by_id()
    assert summary["organization_name"] == "Example Org"
    assert len(token_calls(cc_sandbox)) == 1


def test_invalid_grant_after_revocation_marks_needs_reauth_and_fires_hook_and_webhook(
    db: Database,
    vault: Any,
    cc_sandbox: Sandbox,
    app: App,
    cc_account: AccountData,
    browser: httpx.Client,
) -> None:
    posted: list[dict[str, Any]] = []

    def receive(request: httpx.Request) -> httpx.Response:
        posted.append(json.loads(request.content))
        return httpx.Response(204)

    hook = HookRecorder()
    accounts = make_accounts(
        db,
        vault,
        cc_sandbox,
        app,
        on_needs_reauth=hook,
        reauth_webhook_url="https://app.example/hooks/cc",
        webhook_http=httpx.Client(transport=httpx.MockTransport(receive)),
    )
    account = link_via_web(accounts, browser)
    tokens = stored_tokens(accounts, account.id)
    # The owner revokes the app at CC (a real revocation through the revoke endpoint).
    with httpx.Client(base_url=cc_sandbox.base_url, transport=SandboxTransport(cc_sandbox)) as http:
        assert (
            http.post(
                "/oauth2/default/v1/revoke",
                data={"token": tokens.refresh_token},
                auth=(app.client_id, app.client_secret),
            ).status_code
            == 200
        )
    cc_sandbox.advance_clock(DAY + 1)
    with pytest.raises(NeedsReauthError) as info:
        accounts.token_source(account.id).get_token()
    assert info.value.account_id == account.id
    after = accounts.get(account.id)
    assert after.status == "needs_reauth"
    assert "invalid_grant" in (after.status_reason or "")
    assert [e.event for e in accounts.audit_log(account.id)][-2:] == [
        "refresh_failed",
        "needs_reauth",
    ]
    assert len(hook.events) == 1
    event: NeedsReauthEvent = hook.events[0]
    assert event.account.id == account.id and event.account.status == "needs_reauth"
    assert len(posted) == 1
    assert posted[0]["event"] == "needs_reauth" and posted[0]["account_id"] == account.id
    body = json.dumps(posted[0])
    assert tokens.refresh_token not in body and tokens.access_token not in body
    # Later callers get the same answer without another token call.
    cc_sandbox.requests.clear()
    with pytest.raises(NeedsReauthError):
        accounts.token_source(account.id).get_token()
    assert token_calls(cc_sandbox) == []
    accounts.close()


def test_a_failing_hook_and_webhook_never_break_the_caller(
    db: Database,
    vault: Any,
    cc_sandbox: Sandbox,
    app: App,
    cc_account: AccountData,
    browser: httpx.Client,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken_hook(event: NeedsReauthEvent) -> None:
        raise RuntimeError("hook bug")

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("down", request=request)

    accounts = make_accounts(
        db,
        vault,
        cc_sandbox,
        app,
        on_needs_reauth=broken_hook,
        reauth_webhook_url="https://app.example/hooks/cc",
        webhook_http=httpx.Client(transport=httpx.MockTransport(refuse)),
    )
    account = link_via_web(accounts, browser)
    cc_sandbox.advance_clock(181 * DAY)  # the refresh token died of idleness
    with pytest.raises(NeedsReauthError):
        accounts.token_source(account.id).get_token()
    assert accounts.get(account.id).status == "needs_reauth"
    assert "the needs_reauth hook failed" in caplog.text
    assert "webhook" in caplog.text and "ConnectError" in caplog.text
    accounts.close()


class FlakyTransport(httpx.BaseTransport):
    """The sandbox, except that token-endpoint requests fail to connect while ``down``."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.inner = SandboxTransport(sandbox)
        self.down = False

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self.down and request.url.path == TOKEN_PATH:
            raise httpx.ConnectError("connection refused", request=request)
        return self.inner.handle_request(request)


@pytest.mark.parametrize("failure", ["429", "503", "connect"])
def test_throttling_server_errors_and_network_failures_never_kill_the_account(
    db: Database,
    vault: Any,
    cc_sandbox: Sandbox,
    app: App,
    cc_account: AccountData,
    browser: httpx.Client,
    failure: str,
) -> None:
    hook = HookRecorder()
    transport = FlakyTransport(cc_sandbox)
    accounts = make_accounts(db, vault, cc_sandbox, app, transport=transport, on_needs_reauth=hook)
    linked = link_via_web(accounts, browser).id
    before = stored_tokens(accounts, linked)
    cc_sandbox.advance_clock(DAY + 1)
    if failure == "connect":
        transport.down = True
        expected = "could not be reached"
    else:
        rule = cc_sandbox.faults.add(
            {"match": {"path": "^/oauth2/default/v1/token$"}, "action": {"status": int(failure)}}
        )
        expected = failure
    for _ in range(3):  # however often it happens
        with pytest.raises(TokenRefreshRetriableError, match=expected):
            accounts.token_source(linked).get_token()
    account = accounts.get(linked)
    assert account.status == "active"
    assert stored_tokens(accounts, linked) == before
    failed = accounts.audit_log(linked)[-1]
    assert failed.event == "refresh_failed" and failed.detail["retriable"] is True
    assert hook.events == []
    if failure == "connect":
        transport.down = False
    else:
        cc_sandbox.faults.remove(rule.rule_id)
    assert accounts.token_source(linked).get_token() != before.access_token
    assert accounts.get(linked).status == "active"
    accounts.close()


@pytest.mark.parametrize("refresh_mode", ["rotating", "long_lived"], indirect=True)
def test_a_refresh_answer_lost_on_the_way_back(
    accounts: LinkedAccounts, linked: str, cc_sandbox: Sandbox, refresh_mode: str
) -> None:
    """CC refreshed, but the connection dropped before its answer arrived.

    The call itself is retriable and changes nothing. What happens next depends on the
    app's refresh-token mode: a long-lived token still works; a rotating one was spent by
    the lost answer, so the next refresh meets invalid_grant and the account needs its owner
    (the same window as a crash before the commit; docs/linked-accounts.md).
    """
    before = stored_tokens(accounts, linked)
    cc_sandbox.advance_clock(DAY + 1)
    cc_sandbox.faults.add(
        {"match": {"path": "^/oauth2/default/v1/token$", "times": 1}, "action": {"drop": True}}
    )
    with pytest.raises(TokenRefreshRetriableError):
        accounts.token_source(linked).get_token()
    assert accounts.get(linked).status == "active"
    assert stored_tokens(accounts, linked) == before
    if refresh_mode == "long_lived":
        assert accounts.token_source(linked).get_token() != before.access_token
        assert accounts.get(linked).status == "active"
    else:
        with pytest.raises(NeedsReauthError):
            accounts.token_source(linked).get_token()
        assert accounts.get(linked).status == "needs_reauth"


def test_a_lost_race_is_told_apart_from_a_dead_grant(
    accounts: LinkedAccounts,
    linked: str,
    cc_sandbox: Sandbox,
    app: App,
    cc_account: AccountData,
) -> None:
    """invalid_grant while the stored refresh token changed: use the new one, stay active.

    The other writer is simulated inside the refresh (after the row was read, before CC is
    called): it stores a newer grant, exactly what a process that bypassed the lock would do.
    """
    stale = stored_tokens(accounts, linked)
    with httpx.Client(base_url=cc_sandbox.base_url, transport=SandboxTransport(cc_sandbox)) as http:
        fresh = http.post(
            "/_sandbox/grants",
            json={"client_id": app.client_id, "account_id": cc_account.account.account_id},
        ).json()
        http.post(
            "/oauth2/default/v1/revoke",
            data={"token": stale.refresh_token},
            auth=(app.client_id, app.client_secret),
        )
    original_wait = accounts.pacer.wait

    def other_writer(conn: Any, client_id: str) -> float:
        import sqlalchemy as sa

        ciphertext, fp = accounts.vault.encrypt_tokens(
            StoredTokens(fresh["access_token"], fresh["refresh_token"])
        )
        conn.execute(
            sa.text(
                "UPDATE ccbridge_linked_accounts SET token_ciphertext = :c, key_fingerprint = :f,"
                " token_version = token_version + 1 WHERE id = :id"
            ),
            {"c": ciphertext, "f": fp, "id": linked},
        )
        accounts.pacer.wait = original_wait  # type: ignore[method-assign]
        return original_wait(conn, client_id)

    accounts.pacer.wait = other_writer  # type: ignore[method-assign]
    cc_sandbox.advance_clock(DAY + 1)
    token = accounts.token_source(linked).get_token()
    assert accounts.get(linked).status == "active"
    assert stored_tokens(accounts, linked).access_token == token
    statuses = [e["status"] for e in token_calls(cc_sandbox)]
    assert statuses[-2:] == [400, 200]  # the stale token was refused, the new one worked


def test_token_endpoint_calls_are_paced_per_client_id(
    db: Database,
    vault: Any,
    cc_sandbox: Sandbox,
    app: App,
    cc_account: AccountData,
    browser: httpx.Client,
) -> None:
    from ccbridge.sandbox.seed import create_account

    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        cc_sandbox.advance_clock(seconds)

    accounts = make_accounts(db, vault, cc_sandbox, app, sleep=sleep)
    first = link_via_web(accounts, browser, app_reference="a")
    create_account(
        cc_sandbox.state,
        cc_sandbox.clock.now(),
        email="b@example.com",
        password="pw",
        organization_name="B",
        first_name="B",
        last_name="B",
    )
    browser.cookies.clear()
    pending = accounts.start_authorization(
        session_id="s-b", app_reference="b", scopes=["contact_data"]
    )
    from ccbridge.testing.oauth_flow import approve

    second = accounts.complete_authorization(
        approve(browser, pending.url, email="b@example.com", password="pw"), session_id="s-b"
    )
    waits.clear()
    cc_sandbox.state.settings.rate_limits = True  # the sandbox enforces CC's 1/s on /token
    cc_sandbox.advance_clock(DAY + 1)
    accounts.refresh(first.id)
    accounts.refresh(second.id)
    statuses = [e["status"] for e in token_calls(cc_sandbox)][-2:]
    assert statuses == [200, 200]  # never a 429 from the token endpoint
    assert len(waits) == 1 and 1.0 < waits[0] <= accounts.pacer.interval
    accounts.close()
