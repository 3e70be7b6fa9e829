"""The client against the in-process sandbox: retries, timeouts, CC's rate limits and quota."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from ccbridge import (
    APIConnectionError,
    APITimeoutError,
    MemoryBackend,
    QuotaExceededError,
    RateLimiter,
    ServerError,
)
from ccbridge._errors import next_utc_midnight
from ccbridge.sandbox import Sandbox
from ccbridge.sandbox.state import AccountData
from ccbridge.testing.plugin import async_sandbox_client, sandbox_client


def _fault(raw: httpx.Client, match: dict[str, Any], action: dict[str, Any]) -> None:
    raw.post("/_sandbox/faults", json={"match": match, "action": action}).raise_for_status()


def _log(sandbox: Sandbox, path: str | None = None) -> list[tuple[str, str, int]]:
    return [
        (e["method"], e["path"], e["status"])
        for e in sandbox.requests.entries()
        if e["path"].startswith("/v3/") and (path is None or e["path"] == path)
    ]


def _recording_sleep(sandbox: Sandbox, sleeps: list[float]) -> Callable[[float], None]:
    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        sandbox.advance_clock(seconds)

    return sleep


def _new_contact(n: int) -> dict[str, Any]:
    return {
        "email_address": {"address": f"person{n}@example.com", "permission_to_send": "implicit"},
        "first_name": f"Person{n}",
        "create_source": "Account",
    }


# -- 5xx --------------------------------------------------------------------------------------
def test_get_is_retried_through_503s(
    cc_sandbox: Sandbox, cc_raw: httpx.Client, cc_token: dict
) -> None:
    _fault(cc_raw, {"path": "/v3/account/summary", "times": 2}, {"status": 503})
    sleeps: list[float] = []
    with sandbox_client(cc_sandbox, cc_token, sleep=_recording_sleep(cc_sandbox, sleeps)) as client:
        summary = client.account.get_account_by_id()
    assert summary["contact_email"] == "owner@example.com"
    assert [s for *_, s in _log(cc_sandbox)] == [503, 503, 200]
    assert len(sleeps) == 2 and all(0 <= s <= 1.0 for s in sleeps)


def test_retries_give_up_after_max_retries(
    cc_sandbox: Sandbox, cc_raw: httpx.Client, cc_token: dict
) -> None:
    _fault(cc_raw, {"path": "/v3/account/summary"}, {"status": 500})
    with (
        sandbox_client(cc_sandbox, cc_token, max_retries=2) as client,
        pytest.raises(ServerError) as caught,
    ):
        client.account.get_account_by_id()
    assert caught.value.status == 500
    assert len(_log(cc_sandbox)) == 3


def test_post_is_not_retried_on_503(
    cc_sandbox: Sandbox, cc_raw: httpx.Client, cc_token: dict
) -> None:
    _fault(cc_raw, {"method": "POST", "path": "^/v3/contacts$", "times": 1}, {"status": 503})
    with sandbox_client(cc_sandbox, cc_token) as client, pytest.raises(ServerError):
        client.contacts.create_contact(body=_new_contact(1))
    assert _log(cc_sandbox) == [("POST", "/v3/contacts", 503)]


def test_sign_up_form_post_is_retried_because_it_is_keyed_by_email(
    cc_sandbox: Sandbox, cc_raw: httpx.Client, cc_token: dict, cc_account: AccountData
) -> None:
    _fault(cc_raw, {"path": "sign_up_form", "times": 1}, {"status": 502})
    list_id = next(iter(cc_account.lists))
    with sandbox_client(cc_sandbox, cc_token) as client:
        result = client.contacts.create_or_update_contact(
            body={"email_address": "new@example.com", "list_memberships": [list_id]}
        )
    assert result["action"] == "created"
    assert [s for *_, s in _log(cc_sandbox)] == [502, 201]


async def test_async_get_is_retried_through_503s(
    cc_sandbox: Sandbox, cc_raw: httpx.Client, cc_token: dict
) -> None:
    _fault(cc_raw, {"path": "/v3/contact_lists", "times": 2}, {"status": 503})
    async with async_sandbox_client(cc_sandbox, cc_token) as client:
        page = await client.contact_lists.get_lists()
    assert page["lists"][0]["name"] == "General Interest"
    assert [s for *_, s in _log(cc_sandbox)] == [503, 503, 200]


# -- timeouts and dropped connections --------------------------------------------------------
def test_read_timeout_on_get_is_retried(
    cc_sandbox: Sandbox, cc_raw: httpx.Client, cc_token: dict
) -> None:
    _fault(cc_raw, {"path": "/v3/contacts", "times": 1}, {"latency_ms": 5_000})
    with sandbox_client(cc_sandbox, cc_token, timeout=0.05) as client:
        page = client.contacts.get_contacts()
    assert [c["email_address"]["address"] for c in page["contacts"]] == ["owner@example.com"]
    assert len(_log(cc_sandbox)) == 2


def test_timed_out_post_is_not_repeated(
    cc_sandbox: Sandbox, cc_raw: httpx.Client, cc_token: dict
) -> None:
    _fault(cc_raw, {"method": "POST", "path": "^/v3/contacts$", "times": 1}, {"latency_ms": 5_000})
    with sandbox_client(cc_sandbox, cc_token, timeout=0.05) as client:
        with pytest.raises(APITimeoutError):
            client.contacts.create_contact(body=_new_contact(2))
        # CC had already created it: sending the POST again would have met a 409.
        found = client.contacts.find_by_email("person2@example.com")
    assert found is not None
    assert [m for m, *_ in _log(cc_sandbox)] == ["POST", "GET"]


def test_dropped_connection_is_retried_for_get_not_post(
    cc_sandbox: Sandbox, cc_raw: httpx.Client, cc_token: dict
) -> None:
    _fault(cc_raw, {"path": "/v3/account/summary", "times": 1}, {"drop": True})
    _fault(cc_raw, {"method": "POST", "path": "^/v3/contact_tags$", "times": 1}, {"drop": True})
    with sandbox_client(cc_sandbox, cc_token) as client:
        client.account.get_account_by_id()
        with pytest.raises(APIConnectionError) as caught:
            client.contact_tags.post_tag(body={"name": "vip"})
    assert not isinstance(caught.value, APITimeoutError)
    assert [(m, s) for m, _, s in _log(cc_sandbox)] == [("GET", 200), ("GET", 200), ("POST", 201)]


# -- 429 and the daily quota ------------------------------------------------------------------
def test_throttled_calls_are_retried_when_pacing_is_off(
    cc_sandbox: Sandbox, cc_token: dict
) -> None:
    cc_sandbox.state.settings.rate_limits = True
    with sandbox_client(cc_sandbox, cc_token, rate_limit=None) as client:
        pages = [client.contact_lists.get_lists(limit=1) for _ in range(10)]
    assert all(p["lists"] for p in pages)
    statuses = [s for *_, s in _log(cc_sandbox)]
    assert statuses.count(200) == 10
    assert 429 in statuses  # CC did throttle; the client waited and tried again


def test_pacing_means_cc_never_throttles(cc_sandbox: Sandbox, cc_token: dict) -> None:
    cc_sandbox.state.settings.rate_limits = True
    with sandbox_client(cc_sandbox, cc_token) as client:
        for _ in range(14):
            client.contact_lists.get_lists(limit=1)
    statuses = [s for *_, s in _log(cc_sandbox)]
    assert statuses == [200] * 14


async def test_async_pacing_means_cc_never_throttles(cc_sandbox: Sandbox, cc_token: dict) -> None:
    cc_sandbox.state.settings.rate_limits = True
    async with async_sandbox_client(cc_sandbox, cc_token) as client:
        for _ in range(9):
            await client.contacts.get_contacts(limit=1)
    assert [s for *_, s in _log(cc_sandbox)] == [200] * 9


def test_cc_quota_exhaustion_raises_with_reset_time(
    cc_sandbox: Sandbox, cc_raw: httpx.Client, cc_token: dict
) -> None:
    cc_raw.patch("/_sandbox/settings", json={"rate_limits": True, "per_day": 3}).raise_for_status()
    with sandbox_client(cc_sandbox, cc_token, rate_limit=None) as client:
        for _ in range(3):
            client.account.get_account_by_id()
        with pytest.raises(QuotaExceededError) as caught:
            client.account.get_account_by_id()
    assert caught.value.resets_at == next_utc_midnight(cc_sandbox.clock.now())
    assert caught.value.resets_at > datetime.now(UTC)
    assert [s for *_, s in _log(cc_sandbox)] == [200, 200, 200, 429]  # not retried


def test_client_side_quota_stops_before_calling_cc(cc_sandbox: Sandbox, cc_token: dict) -> None:
    limiter = RateLimiter(MemoryBackend(), per_day=2, clock=cc_sandbox.clock.time)
    with sandbox_client(cc_sandbox, cc_token, rate_limit=limiter) as client:
        client.account.get_account_by_id()
        client.account.get_account_by_id()
        with pytest.raises(QuotaExceededError) as caught:
            client.account.get_account_by_id()
    assert caught.value.resets_at == next_utc_midnight(cc_sandbox.clock.now())
    assert len(_log(cc_sandbox)) == 2
