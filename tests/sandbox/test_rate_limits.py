"""CC's per-application rate limits in the sandbox (CC-V3-FACTS §2, §11 fact 4).

CC allows 4 requests in any second and 10,000 per UTC day per API key (client_id), shared by
every account the key serves, and answers both with 429. The probe route is a known CC
operation the sandbox does not emulate (``GET /v3/partner/accounts``): it answers 501, but
only after authentication and rate limiting, so a 501 means "allowed through".

The sandbox clock is frozen at a whole second for these tests, so windows are exact and
nothing depends on how fast the machine runs; time moves only by ``advance_clock``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from ccbridge.sandbox import Sandbox, SandboxTransport
from ccbridge.sandbox.http import SandboxRequest
from ccbridge.sandbox.seed import create_account, create_app
from ccbridge.sandbox.state import AccountData, App

PROBE = "/v3/partner/accounts"
ALLOWED = 501
THROTTLED = {"error_key": "throttled", "error_message": "Too Many Requests"}


@pytest.fixture
def sandbox(cc_sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Sandbox:
    """The plugin's sandbox with rate limits on and its clock frozen at a whole second."""
    cc_sandbox.state.settings.rate_limits = True
    base = float(int(time.time()))
    clock = cc_sandbox.clock
    monkeypatch.setattr(clock, "time", lambda: base + clock.offset_seconds)
    return cc_sandbox


def _app(sandbox: Sandbox, name: str) -> App:
    return create_app(sandbox.state, sandbox.clock.now(), name=name, redirect_uris=[])


def _account(sandbox: Sandbox, email: str) -> AccountData:
    return create_account(
        sandbox.state,
        sandbox.clock.now(),
        email=email,
        password="pw",
        organization_name="Org",
        first_name="A",
        last_name="B",
    )


def _token(sandbox: Sandbox, app: App, account: AccountData) -> str:
    issued = sandbox.issuer.issue(
        sandbox.state, sandbox.clock, app, account.account.account_id, "contact_data"
    )
    return str(issued["access_token"])


@pytest.fixture
def clients(sandbox: Sandbox) -> Iterator[Any]:
    """Make httpx clients bound to one bearer token; all are closed afterwards."""
    made: list[httpx.Client] = []

    def make(token: str) -> httpx.Client:
        client = httpx.Client(
            base_url=sandbox.base_url,
            transport=SandboxTransport(sandbox),
            headers={"Authorization": f"Bearer {token}"},
        )
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


def _statuses(client: httpx.Client, n: int) -> list[int]:
    return [client.get(PROBE).status_code for _ in range(n)]


def _seconds_to_next_midnight(sandbox: Sandbox) -> float:
    now = sandbox.clock.time()
    return (int(now // 86_400) + 1) * 86_400 - now


def test_fifth_request_in_one_second_is_throttled_with_ccs_single_object(
    sandbox: Sandbox, clients: Any
) -> None:
    app, account = _app(sandbox, "one"), _account(sandbox, "one@example.com")
    client = clients(_token(sandbox, app, account))
    assert _statuses(client, 4) == [ALLOWED] * 4
    refused = client.get(PROBE)
    assert refused.status_code == 429
    assert refused.json() == THROTTLED  # a single object, not CC's usual array


def test_advancing_the_clock_one_second_frees_the_client(sandbox: Sandbox, clients: Any) -> None:
    app, account = _app(sandbox, "one"), _account(sandbox, "one@example.com")
    client = clients(_token(sandbox, app, account))
    assert _statuses(client, 5)[-1] == 429
    sandbox.advance_clock(0.999)
    assert client.get(PROBE).status_code == 429  # still inside the same second
    sandbox.advance_clock(0.001)
    assert _statuses(client, 4) == [ALLOWED] * 4
    assert client.get(PROBE).status_code == 429


def test_window_slides_rather_than_resetting_on_whole_seconds(
    sandbox: Sandbox, clients: Any
) -> None:
    app, account = _app(sandbox, "one"), _account(sandbox, "one@example.com")
    client = clients(_token(sandbox, app, account))
    assert _statuses(client, 2) == [ALLOWED] * 2  # at t=0
    sandbox.advance_clock(0.5)
    assert _statuses(client, 2) == [ALLOWED] * 2  # at t=0.5
    assert client.get(PROBE).status_code == 429
    sandbox.advance_clock(0.5)  # t=1.0: the two from t=0 left the window, t=0.5 ones did not
    assert _statuses(client, 3) == [ALLOWED, ALLOWED, 429]


def test_accounts_under_one_client_id_share_the_budget(sandbox: Sandbox, clients: Any) -> None:
    app = _app(sandbox, "shared")
    first = clients(_token(sandbox, app, _account(sandbox, "a@example.com")))
    second = clients(_token(sandbox, app, _account(sandbox, "b@example.com")))
    assert _statuses(first, 2) == [ALLOWED] * 2
    assert _statuses(second, 2) == [ALLOWED] * 2
    assert first.get(PROBE).status_code == 429
    assert second.get(PROBE).status_code == 429


def test_tokens_of_one_account_share_the_budget(sandbox: Sandbox, clients: Any) -> None:
    app, account = _app(sandbox, "one"), _account(sandbox, "one@example.com")
    first = clients(_token(sandbox, app, account))
    second = clients(_token(sandbox, app, account))
    assert _statuses(first, 4) == [ALLOWED] * 4
    assert second.get(PROBE).status_code == 429


def test_another_client_id_has_its_own_budget(sandbox: Sandbox, clients: Any) -> None:
    account = _account(sandbox, "one@example.com")
    busy = clients(_token(sandbox, _app(sandbox, "busy"), account))
    other = clients(_token(sandbox, _app(sandbox, "other"), account))
    assert _statuses(busy, 5)[-1] == 429
    assert _statuses(other, 4) == [ALLOWED] * 4
    assert other.get(PROBE).status_code == 429


def test_refused_requests_do_not_count(sandbox: Sandbox, clients: Any) -> None:
    app, account = _app(sandbox, "one"), _account(sandbox, "one@example.com")
    client = clients(_token(sandbox, app, account))
    assert _statuses(client, 4) == [ALLOWED] * 4  # t=0
    sandbox.advance_clock(0.5)
    assert _statuses(client, 3) == [429] * 3  # t=0.5: refused, so not in the window
    sandbox.advance_clock(0.5)
    # t=1.0: had the refusals counted, they would still fill the window until t=1.5.
    assert _statuses(client, 4) == [ALLOWED] * 4
    assert sandbox.api_usage(app.client_id) == 8


def test_unauthenticated_requests_do_not_count(sandbox: Sandbox, clients: Any) -> None:
    app, account = _app(sandbox, "one"), _account(sandbox, "one@example.com")
    client = clients(_token(sandbox, app, account))
    stranger = clients("not-a-token")
    assert _statuses(stranger, 6) == [401] * 6
    assert _statuses(client, 4) == [ALLOWED] * 4
    assert sandbox.api_usage(app.client_id) == 4


def test_daily_quota_of_10000_gives_a_distinct_body_and_resets_at_utc_midnight(
    sandbox: Sandbox, clients: Any
) -> None:
    assert sandbox.state.settings.per_day == 10_000  # CC's standard key
    app, account = _app(sandbox, "daily"), _account(sandbox, "daily@example.com")
    # Start just after a UTC midnight so 10,000 requests at 4/s (2,500 s) stay in one day.
    sandbox.advance_clock(_seconds_to_next_midnight(sandbox) + 1)
    token = _token(sandbox, app, account)
    request = SandboxRequest.build("GET", PROBE, headers={"authorization": f"Bearer {token}"})
    for n in range(10_000):
        if n and n % 4 == 0:
            sandbox.advance_clock(1.0)
        assert sandbox.handle(request).status == ALLOWED, f"request {n + 1} was refused"
    sandbox.advance_clock(1.0)
    client = clients(token)
    refused = client.get(PROBE)
    assert refused.status_code == 429
    body = refused.json()
    assert isinstance(body, dict) and body != THROTTLED  # a single object, not "throttled"
    assert body["error_key"] == "quota_exceeded"
    assert "00:00 UTC" in body["error_message"]
    sandbox.advance_clock(3600)
    assert client.get(PROBE).status_code == 429  # an hour later: still the same UTC day
    sandbox.advance_clock(_seconds_to_next_midnight(sandbox) - 0.5)
    assert client.get(PROBE).status_code == 429  # 23:59:59.5
    sandbox.advance_clock(0.5)
    assert client.get(PROBE).status_code == ALLOWED  # 00:00:00 UTC
    assert sandbox.api_usage(app.client_id) == 1


def test_quota_refusals_do_not_count_and_usage_reports_them(
    sandbox: Sandbox, clients: Any, cc_raw: httpx.Client
) -> None:
    patched = cc_raw.patch("/_sandbox/settings", json={"per_day": 6, "per_second": 1000})
    assert patched.status_code == 200
    app, account = _app(sandbox, "small"), _account(sandbox, "small@example.com")
    client = clients(_token(sandbox, app, account))
    assert _statuses(client, 8) == [ALLOWED] * 6 + [429] * 2
    usage = cc_raw.get("/_sandbox/usage").json()
    mine = next(c for c in usage["clients"] if c["client_id"] == app.client_id)
    assert mine["requests_today"] == 6
    assert mine["remaining_today"] == 0
    resets_at = datetime.fromisoformat(usage["resets_at"].replace("Z", "+00:00"))
    assert resets_at.timestamp() == sandbox.clock.time() + _seconds_to_next_midnight(sandbox)
    assert (resets_at.hour, resets_at.minute, resets_at.tzinfo) == (0, 0, UTC)


def test_changing_limits_keeps_todays_count(
    sandbox: Sandbox, clients: Any, cc_raw: httpx.Client
) -> None:
    app, account = _app(sandbox, "one"), _account(sandbox, "one@example.com")
    client = clients(_token(sandbox, app, account))
    assert _statuses(client, 3) == [ALLOWED] * 3
    assert cc_raw.patch("/_sandbox/settings", json={"per_day": 3}).status_code == 200
    assert client.get(PROBE).status_code == 429
    assert sandbox.api_usage(app.client_id) == 3


def test_settings_switch_rate_limits_off_and_on(
    sandbox: Sandbox, clients: Any, cc_raw: httpx.Client
) -> None:
    app, account = _app(sandbox, "one"), _account(sandbox, "one@example.com")
    client = clients(_token(sandbox, app, account))
    off = cc_raw.patch("/_sandbox/settings", json={"rate_limits": False})
    assert off.status_code == 200 and off.json()["rate_limits"] is False
    assert _statuses(client, 20) == [ALLOWED] * 20
    assert cc_raw.patch("/_sandbox/settings", json={"rate_limits": True}).status_code == 200
    assert _statuses(client, 5) == [ALLOWED] * 4 + [429]


def test_sandbox_built_with_rate_limits_off_never_throttles() -> None:
    sandbox = Sandbox(rate_limits=False)
    app, account = _app(sandbox, "one"), _account(sandbox, "one@example.com")
    request = SandboxRequest.build(
        "GET", PROBE, headers={"authorization": f"Bearer {_token(sandbox, app, account)}"}
    )
    assert {sandbox.handle(request).status for _ in range(50)} == {ALLOWED}


def test_rate_limits_are_on_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    sandbox = Sandbox()
    frozen = sandbox.clock.time()
    monkeypatch.setattr(sandbox.clock, "time", lambda: frozen)
    app, account = _app(sandbox, "one"), _account(sandbox, "one@example.com")
    request = SandboxRequest.build(
        "GET", PROBE, headers={"authorization": f"Bearer {_token(sandbox, app, account)}"}
    )
    statuses = [sandbox.handle(request).status for _ in range(5)]
    assert statuses == [ALLOWED] * 4 + [429]


def test_control_plane_and_oauth_keys_are_not_rate_limited(
    sandbox: Sandbox, cc_raw: httpx.Client
) -> None:
    assert {cc_raw.get("/_sandbox/clock").status_code for _ in range(10)} == {200}
    assert {cc_raw.get("/oauth2/default/v1/keys").status_code for _ in range(10)} == {200}
