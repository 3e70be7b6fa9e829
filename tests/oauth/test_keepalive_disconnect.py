"""Keep-alive against CC's 180-day idle expiry (on the sandbox clock), and disconnect."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from ccbridge.oauth import (
    AccountDisconnectedError,
    LinkedAccounts,
    NeedsReauthError,
    RevokeFailedError,
)
from ccbridge.sandbox import Sandbox, SandboxTransport
from ccbridge.sandbox.state import App
from tests.oauth.support import link_via_web, stored_tokens, token_calls

DAY = 86_400


@pytest.mark.parametrize("refresh_mode", ["rotating", "long_lived"], indirect=True)
def test_keep_alive_beats_the_180_day_idle_expiry(
    accounts: LinkedAccounts, browser: httpx.Client, cc_sandbox: Sandbox, refresh_mode: str
) -> None:
    account = link_via_web(accounts, browser)
    cc_sandbox.advance_clock(179 * DAY)
    report = accounts.keep_alive()
    assert report.refreshed == [account.id] and report.needs_reauth == [] and report.failed == {}
    cc_sandbox.advance_clock(179 * DAY)  # 358 days after linking, 179 after the keep-alive
    report = accounts.keep_alive()
    assert report.refreshed == [account.id]
    assert accounts.get(account.id).status == "active"
    with accounts.client(account.id, rate_limit=None) as client:
        assert client.account.get_account_by_id()["organization_name"] == "Example Org"


def test_without_keep_alive_the_account_dies_at_180_days(
    accounts: LinkedAccounts, browser: httpx.Client, cc_sandbox: Sandbox
) -> None:
    account = link_via_web(accounts, browser)
    cc_sandbox.advance_clock(181 * DAY)
    report = accounts.keep_alive()
    assert report.needs_reauth == [account.id]
    assert accounts.get(account.id).status == "needs_reauth"


def test_keep_alive_leaves_recently_refreshed_accounts_alone(
    accounts: LinkedAccounts, browser: httpx.Client, cc_sandbox: Sandbox
) -> None:
    link_via_web(accounts, browser)
    cc_sandbox.advance_clock(29 * DAY)
    cc_sandbox.requests.clear()
    report = accounts.keep_alive()
    assert report.checked == 0 and report.refreshed == []
    assert token_calls(cc_sandbox) == []
    assert accounts.keep_alive(idle_days=10).refreshed != []


def test_disconnect_revokes_at_cc_deletes_tokens_and_keeps_the_row(
    accounts: LinkedAccounts, browser: httpx.Client, cc_sandbox: Sandbox, app: App
) -> None:
    account = link_via_web(accounts, browser)
    tokens = stored_tokens(accounts, account.id)
    after = accounts.disconnect(account.id)
    assert after.status == "disconnected" and not after.has_tokens
    assert after.disconnected_at is not None and after.key_fingerprint is None
    revokes = [e for e in cc_sandbox.requests.entries() if e["path"].endswith("/revoke")]
    assert [e["status"] for e in revokes] == [200, 200]
    with httpx.Client(base_url=cc_sandbox.base_url, transport=SandboxTransport(cc_sandbox)) as http:
        dead = http.post(
            "/oauth2/default/v1/token",
            data={"grant_type": "refresh_token", "refresh_token": tokens.refresh_token},
            auth=(app.client_id, app.client_secret),
        )
        assert dead.json()["error"] == "invalid_grant"
        assert (
            http.get(
                "/v3/account/summary", headers={"Authorization": f"Bearer {tokens.access_token}"}
            ).status_code
            == 401
        )
    event = accounts.audit_log(account.id)[-1]
    assert event.event == "disconnected" and event.detail == {"forced": False, "revoked": True}
    with pytest.raises(AccountDisconnectedError):
        accounts.token_source(account.id).get_token()
    with pytest.raises(AccountDisconnectedError):
        accounts.client(account.id)
    assert accounts.disconnect(account.id).status == "disconnected"  # idempotent


def test_disconnect_keeps_the_tokens_when_cc_cannot_revoke_unless_forced(
    accounts: LinkedAccounts, browser: httpx.Client, cc_sandbox: Sandbox
) -> None:
    account = link_via_web(accounts, browser)
    rule = cc_sandbox.faults.add({"match": {"path": "/revoke$"}, "action": {"status": 503}})
    with pytest.raises(RevokeFailedError, match="503"):
        accounts.disconnect(account.id)
    assert accounts.get(account.id).status == "active" and accounts.get(account.id).has_tokens
    forced = accounts.disconnect(account.id, force=True)
    assert forced.status == "disconnected" and not forced.has_tokens
    assert accounts.audit_log(account.id)[-1].detail == {"forced": True, "revoked": False}
    cc_sandbox.faults.remove(rule.rule_id)


def test_a_needs_reauth_account_can_be_linked_again(
    accounts: LinkedAccounts, browser: httpx.Client, cc_sandbox: Sandbox, reauth_hook: Any
) -> None:
    account = link_via_web(accounts, browser)
    cc_sandbox.advance_clock(181 * DAY)
    with pytest.raises(NeedsReauthError):
        accounts.refresh(account.id)
    again = link_via_web(accounts, browser, session_id="again")
    assert again.id == account.id and again.status == "active" and again.status_reason is None
    assert accounts.token_source(account.id).get_token()
