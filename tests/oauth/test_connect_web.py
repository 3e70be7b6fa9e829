"""The redirect (web) connect flow against the sandbox, and every way a callback is refused.

Issue 4 "Bad input": a tampered or replayed state, a code issued to another client, a wrong
redirect URI, no refresh token — each a specific error, and none leaves an account behind.
"""

from __future__ import annotations

from urllib.parse import urlencode

import httpx
import pytest
import sqlalchemy as sa

from ccbridge.oauth import (
    AuthorizationDeniedError,
    CodeExchangeError,
    InvalidStateError,
    LinkedAccounts,
    OfflineAccessMissingError,
    SessionMismatchError,
    StateExpiredError,
    StateReplayError,
)
from ccbridge.oauth.protocol import s256_challenge
from ccbridge.sandbox import Sandbox
from ccbridge.sandbox.seed import create_app
from ccbridge.sandbox.state import AccountData, App
from ccbridge.testing.oauth_flow import approve
from tests.oauth.conftest import REDIRECT_URI, make_accounts
from tests.oauth.support import link_via_web, query_of

SESSION = "browser-session-1"


def _no_accounts(accounts: LinkedAccounts) -> None:
    assert accounts.list() == []
    with accounts.db.read() as conn:
        count = conn.execute(sa.text("SELECT count(*) FROM ccbridge_linked_accounts")).scalar()
    assert count == 0


def test_redirect_flow_links_the_account_with_its_cc_identity(
    accounts: LinkedAccounts, browser: httpx.Client, cc_account: AccountData, app: App
) -> None:
    account = link_via_web(accounts, browser, app_reference="tenant-42")
    assert account.status == "active"
    assert account.app_reference == "tenant-42"
    assert account.cc_account_id == cc_account.account.account_id
    assert account.platform_user_id == cc_account.account.account_id
    assert account.client_id == app.client_id
    assert account.organization_name == "Example Org"  # from GET /account/summary
    assert "offline_access" in account.scopes and "contact_data" in account.scopes
    assert account.access_expires_at is not None and account.has_tokens
    assert [e.event for e in accounts.audit_log(account.id)] == ["linked"]
    assert [a.id for a in accounts.find_by_app_reference("tenant-42")] == [account.id]


def test_authorize_url_uses_pkce_s256_and_asks_for_offline_access(
    accounts: LinkedAccounts, app: App
) -> None:
    pending = accounts.start_authorization(
        session_id=SESSION, app_reference="t", scopes=["contact_data"]
    )
    params = query_of(pending.url)
    assert params["client_id"] == app.client_id
    assert params["redirect_uri"] == REDIRECT_URI
    assert params["response_type"] == "code"
    assert params["scope"].split() == ["contact_data", "offline_access"]
    assert params["code_challenge_method"] == "S256"
    assert len(params["code_challenge"]) == 43
    assert params["state"] == pending.state and len(pending.state) >= 43
    # Only a hash of the state is stored, so the database cannot forge a callback.
    with accounts.db.read() as conn:
        stored = (
            conn.execute(sa.text("SELECT state_hash FROM ccbridge_oauth_states")).scalars().all()
        )
    assert pending.state not in stored and len(stored) == 1


def test_one_app_user_can_link_two_cc_accounts(
    accounts: LinkedAccounts, browser: httpx.Client, cc_sandbox: Sandbox
) -> None:
    from ccbridge.sandbox.seed import create_account

    first = link_via_web(accounts, browser, app_reference="user-7")
    create_account(
        cc_sandbox.state,
        cc_sandbox.clock.now(),
        email="second@example.com",
        password="pw-2",
        organization_name="Second Org",
        first_name="S",
        last_name="O",
    )
    browser.cookies.clear()
    pending = accounts.start_authorization(
        session_id="s2", app_reference="user-7", scopes=["account_read", "contact_data"]
    )
    location = approve(browser, pending.url, email="second@example.com", password="pw-2")
    second = accounts.complete_authorization(location, session_id="s2")
    assert second.id != first.id
    assert second.organization_name == "Second Org"
    assert {a.id for a in accounts.find_by_app_reference("user-7")} == {first.id, second.id}


def test_without_account_read_the_identity_comes_from_the_token(
    accounts: LinkedAccounts, browser: httpx.Client, cc_account: AccountData
) -> None:
    # GET /account/summary answers 403 without account_read: the link still succeeds.
    account = link_via_web(accounts, browser, scopes=("contact_data", "offline_access"))
    assert account.status == "active"
    assert account.cc_account_id == cc_account.account.account_id
    assert account.organization_name is None


def test_relinking_the_same_account_reuses_its_row(
    accounts: LinkedAccounts, browser: httpx.Client
) -> None:
    first = link_via_web(accounts, browser)
    again = link_via_web(accounts, browser, session_id="another-session")
    assert again.id == first.id
    assert again.token_version == first.token_version + 1
    assert [e.event for e in accounts.audit_log(first.id)] == ["linked", "relinked"]


def test_tampered_state_is_refused(accounts: LinkedAccounts, browser: httpx.Client) -> None:
    pending = accounts.start_authorization(
        session_id=SESSION, app_reference="t", scopes=["contact_data"]
    )
    location = approve(browser, pending.url)
    params = query_of(location)
    params["state"] = params["state"][:-2] + ("AA" if not params["state"].endswith("AA") else "BB")
    with pytest.raises(InvalidStateError, match="unknown"):
        accounts.complete_authorization(params, session_id=SESSION)
    _no_accounts(accounts)


def test_missing_state_is_refused(accounts: LinkedAccounts, browser: httpx.Client) -> None:
    pending = accounts.start_authorization(
        session_id=SESSION, app_reference="t", scopes=["contact_data"]
    )
    params = query_of(approve(browser, pending.url))
    del params["state"]
    with pytest.raises(InvalidStateError, match="no state"):
        accounts.complete_authorization(params, session_id=SESSION)
    _no_accounts(accounts)


def test_replayed_state_is_refused_and_the_first_link_stands(
    accounts: LinkedAccounts, browser: httpx.Client
) -> None:
    pending = accounts.start_authorization(
        session_id=SESSION, app_reference="t", scopes=["contact_data"]
    )
    location = approve(browser, pending.url)
    account = accounts.complete_authorization(location, session_id=SESSION)
    with pytest.raises(StateReplayError):
        accounts.complete_authorization(location, session_id=SESSION)
    assert [a.id for a in accounts.list()] == [account.id]
    assert accounts.get(account.id).status == "active"


def test_state_from_another_browser_session_is_refused_and_consumed(
    accounts: LinkedAccounts, browser: httpx.Client
) -> None:
    pending = accounts.start_authorization(
        session_id=SESSION, app_reference="t", scopes=["contact_data"]
    )
    location = approve(browser, pending.url)
    with pytest.raises(SessionMismatchError):
        accounts.complete_authorization(location, session_id="attacker-session")
    # The state is spent: even the right session cannot use it now.
    with pytest.raises(StateReplayError):
        accounts.complete_authorization(location, session_id=SESSION)
    _no_accounts(accounts)


def test_expired_state_is_refused(
    accounts: LinkedAccounts, browser: httpx.Client, cc_sandbox: Sandbox
) -> None:
    pending = accounts.start_authorization(
        session_id=SESSION, app_reference="t", scopes=["contact_data"]
    )
    location = approve(browser, pending.url)
    cc_sandbox.advance_clock(11 * 60)
    with pytest.raises(StateExpiredError):
        accounts.complete_authorization(location, session_id=SESSION)
    _no_accounts(accounts)


def test_denied_consent_is_a_specific_error(
    accounts: LinkedAccounts, browser: httpx.Client
) -> None:
    pending = accounts.start_authorization(
        session_id=SESSION, app_reference="t", scopes=["contact_data"]
    )
    location = approve(browser, pending.url, decision="deny")
    with pytest.raises(AuthorizationDeniedError) as info:
        accounts.complete_authorization(location, session_id=SESSION)
    assert info.value.error == "access_denied"
    _no_accounts(accounts)


def test_code_issued_to_another_client_is_refused(
    accounts: LinkedAccounts, browser: httpx.Client, cc_sandbox: Sandbox
) -> None:
    other = create_app(
        cc_sandbox.state, cc_sandbox.clock.now(), name="Other", redirect_uris=[REDIRECT_URI]
    )
    pending = accounts.start_authorization(
        session_id=SESSION, app_reference="t", scopes=["contact_data"]
    )
    ours = query_of(pending.url)
    # The attacker's own authorization, for their client, with the same state slipped in.
    foreign_url = "/oauth2/default/v1/authorize?" + urlencode(
        {**ours, "client_id": other.client_id, "code_challenge": s256_challenge("x" * 43)}
    )
    foreign = query_of(approve(browser, foreign_url))
    with pytest.raises(CodeExchangeError) as info:
        accounts.complete_authorization(foreign, session_id=SESSION)
    assert info.value.error == "invalid_grant"
    _no_accounts(accounts)


def test_wrong_redirect_uri_is_refused(
    db: object,
    vault: object,
    cc_sandbox: Sandbox,
    app: App,
    cc_account: AccountData,
    browser: httpx.Client,
) -> None:
    other_uri = "http://127.0.0.1:9999/other"
    app.redirect_uris.append(other_uri)
    service = make_accounts(db, vault, cc_sandbox, app)  # type: ignore[arg-type]
    pending = service.start_authorization(
        session_id=SESSION, app_reference="t", scopes=["contact_data"]
    )
    location = approve(browser, pending.url)
    # The state record names the redirect URI the code was issued for; exchange with another.
    with service.db.write() as conn:
        conn.execute(
            sa.text("UPDATE ccbridge_oauth_states SET redirect_uri = :u"), {"u": other_uri}
        )
    with pytest.raises(CodeExchangeError, match="redirect_uri"):
        service.complete_authorization(location, session_id=SESSION)
    _no_accounts(service)
    service.close()


def test_no_refresh_token_without_offline_access_links_nothing(
    accounts: LinkedAccounts, browser: httpx.Client, app: App
) -> None:
    pending = accounts.start_authorization(
        session_id=SESSION, app_reference="t", scopes=["contact_data"]
    )
    # The owner's browser arrives with offline_access stripped from the request.
    params = query_of(pending.url)
    params["scope"] = "contact_data"
    location = approve(browser, "/oauth2/default/v1/authorize?" + urlencode(params))
    with pytest.raises(OfflineAccessMissingError, match="offline_access"):
        accounts.complete_authorization(location, session_id=SESSION)
    _no_accounts(accounts)
