"""The CLI's two connect flows against the sandbox: the device flow and the loopback
redirect flow (a real listener on 127.0.0.1, the sandbox's pages driven like a browser)."""

from __future__ import annotations

import threading
from typing import Any

import httpx
import pytest

from ccbridge.oauth import (
    AuthorizationDeniedError,
    DeviceFlowExpiredError,
    LinkedAccounts,
)
from ccbridge.oauth.loopback import connect_with_loopback
from ccbridge.sandbox import Sandbox, SandboxTransport
from ccbridge.sandbox.state import AccountData, App
from ccbridge.store import Database
from ccbridge.testing import free_port
from ccbridge.testing.oauth_flow import approve
from tests.oauth.conftest import make_accounts
from tests.oauth.support import token_calls

DAY = 86_400


class Owner:
    """Plays the account owner: approves (or denies) the device code after some polls."""

    def __init__(
        self,
        sandbox: Sandbox,
        account: AccountData,
        *,
        after: int,
        allow: bool = True,
        skip_clock_on: int | None = None,
    ) -> None:
        self.sandbox = sandbox
        self.account = account
        self.after = after
        self.allow = allow
        self.skip_clock_on = skip_clock_on
        self.sleeps: list[float] = []
        self.user_code: str | None = None

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        if len(self.sleeps) != self.skip_clock_on:
            self.sandbox.advance_clock(seconds)
        if len(self.sleeps) == self.after and self.user_code:
            with httpx.Client(
                base_url=self.sandbox.base_url, transport=SandboxTransport(self.sandbox)
            ) as http:
                http.post(
                    "/_sandbox/device/approve",
                    json={
                        "user_code": self.user_code,
                        "account_id": self.account.account.account_id,
                        "allow": self.allow,
                    },
                ).raise_for_status()


def _service(db: Database, vault: Any, sandbox: Sandbox, app: App, owner: Owner) -> LinkedAccounts:
    return make_accounts(db, vault, sandbox, app, public=True, sleep=owner.sleep)


def test_device_flow_links_the_account_and_its_tokens_refresh_without_a_secret(
    db: Database, vault: Any, cc_sandbox: Sandbox, app: App, cc_account: AccountData
) -> None:
    owner = Owner(cc_sandbox, cc_account, after=2)
    accounts = _service(db, vault, cc_sandbox, app, owner)
    device = accounts.start_device_authorization(["account_read", "contact_data"])
    assert device.verification_uri.endswith("/oauth2/default/v1/device")
    assert device.interval == 5
    owner.user_code = device.user_code
    polls: list[str] = []
    account = accounts.wait_for_device(
        device, app_reference="cli", on_poll=lambda s, i: polls.append(s)
    )
    assert polls == ["authorization_pending"]  # approved during the second wait
    assert owner.sleeps == [5, 5]  # at the advertised interval
    assert account.status == "active" and account.cc_account_id == cc_account.account.account_id
    assert account.organization_name == "Example Org"
    cc_sandbox.advance_clock(DAY + 1)
    assert accounts.token_source(account.id).get_token()  # a public client refreshes with its id
    assert accounts.get(account.id).token_version == 2
    accounts.close()


def test_device_flow_honours_slow_down(
    db: Database, vault: Any, cc_sandbox: Sandbox, app: App, cc_account: AccountData
) -> None:
    # On the second wait the clock does not move: the poll comes too soon -> slow_down.
    owner = Owner(cc_sandbox, cc_account, after=4, skip_clock_on=2)
    accounts = _service(db, vault, cc_sandbox, app, owner)
    device = accounts.start_device_authorization(["contact_data"])
    owner.user_code = device.user_code
    polls: list[str] = []
    accounts.wait_for_device(device, app_reference="cli", on_poll=lambda s, i: polls.append(s))
    assert polls == ["authorization_pending", "slow_down", "authorization_pending"]
    assert owner.sleeps == [5, 5, 10, 10]  # five seconds more after slow_down, for good
    accounts.close()


def test_device_flow_denied_and_expired(
    db: Database, vault: Any, cc_sandbox: Sandbox, app: App, cc_account: AccountData
) -> None:
    owner = Owner(cc_sandbox, cc_account, after=1, allow=False)
    accounts = _service(db, vault, cc_sandbox, app, owner)
    device = accounts.start_device_authorization(["contact_data"])
    owner.user_code = device.user_code
    with pytest.raises(AuthorizationDeniedError, match="access_denied"):
        accounts.wait_for_device(device, app_reference="cli")
    owner2 = Owner(cc_sandbox, cc_account, after=10_000)
    accounts2 = _service(db, vault, cc_sandbox, app, owner2)
    device2 = accounts2.start_device_authorization(["contact_data"])
    with pytest.raises(DeviceFlowExpiredError):
        accounts2.wait_for_device(device2, app_reference="cli")
    assert accounts.list() == []
    accounts.close()
    accounts2.close()


def test_loopback_redirect_flow_through_a_local_listener(
    db: Database,
    vault: Any,
    cc_sandbox: Sandbox,
    app: App,
    cc_account: AccountData,
    browser: httpx.Client,
) -> None:
    redirect = f"http://127.0.0.1:{free_port()}/callback"
    app.redirect_uris.append(redirect)
    accounts = make_accounts(db, vault, cc_sandbox, app, public=True)
    landed: dict[str, Any] = {}

    def person_in_browser(url: str) -> None:
        def click_through() -> None:
            location = approve(browser, url)  # sign in and allow on the sandbox's pages
            assert location.startswith(redirect + "?")
            with httpx.Client() as real_browser:  # the redirect reaches the listener
                page = real_browser.get(location)
            landed["status"], landed["text"] = page.status_code, page.text

        threading.Thread(target=click_through).start()

    account = connect_with_loopback(
        accounts,
        app_reference="cli",
        redirect_uri=redirect,
        scopes=["account_read", "contact_data"],
        show_url=person_in_browser,
        timeout=30,
    )
    assert landed["status"] == 200 and "close this window" in landed["text"]
    assert account.status == "active" and account.organization_name == "Example Org"
    exchange = token_calls(cc_sandbox)[0]
    assert exchange["status"] == 200
    accounts.close()
