"""Structured per-call logs on ``ccbridge.client`` with secrets kept out, and metric hooks."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest

from ccbridge import APITimeoutError, Client, RequestEvent, ResponseEvent, ServerError
from ccbridge._logging import redact_url
from ccbridge.sandbox import Sandbox
from ccbridge.testing.plugin import sandbox_client


def test_each_attempt_is_one_structured_record_without_secrets(
    cc_sandbox: Sandbox,
    cc_raw: httpx.Client,
    cc_token: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    cc_raw.post(
        "/_sandbox/faults",
        json={"match": {"path": "/v3/contacts", "times": 1}, "action": {"status": 503}},
    ).raise_for_status()
    caplog.set_level(logging.DEBUG, logger="ccbridge.client")
    with sandbox_client(cc_sandbox, cc_token) as client:
        client.contacts.get_contacts(email="owner@example.com", limit=5)
    records = [r for r in caplog.records if r.name == "ccbridge.client"]
    assert [(r.method, r.path, r.status, r.attempt, r.will_retry) for r in records] == [  # type: ignore[attr-defined]
        ("GET", "/contacts", 503, 1, True),
        ("GET", "/contacts", 200, 2, False),
    ]
    assert records[0].levelno == logging.WARNING and records[1].levelno == logging.INFO
    assert all(r.duration_ms >= 0 and r.operation_id == "getContacts" for r in records)  # type: ignore[attr-defined]
    secret = cc_token["access_token"]
    for record in records:
        text = record.getMessage() + repr(record.__dict__)
        assert secret not in text
        assert "owner@example.com" not in text  # the query string is never logged


def test_hooks_see_every_attempt_and_a_failing_hook_is_harmless(
    cc_sandbox: Sandbox,
    cc_raw: httpx.Client,
    cc_token: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    cc_raw.post(
        "/_sandbox/faults",
        json={"match": {"path": "/v3/account/summary"}, "action": {"status": 500}},
    ).raise_for_status()
    sent: list[RequestEvent] = []
    done: list[ResponseEvent] = []

    def broken(_: ResponseEvent) -> None:
        raise RuntimeError("metrics backend down")

    with (
        sandbox_client(
            cc_sandbox,
            cc_token,
            max_retries=1,
            on_request=[sent.append],
            on_response=[broken, done.append],
        ) as client,
        pytest.raises(ServerError),
    ):
        client.account.get_account_by_id()
    assert [(e.method, e.path, e.attempt) for e in sent] == [
        ("GET", "/account/summary", 1),
        ("GET", "/account/summary", 2),
    ]
    assert [(e.status, e.will_retry) for e in done] == [(500, True), (500, False)]
    assert "metrics hook failed" in caplog.text


def test_transport_errors_are_logged_with_their_kind(caplog: pytest.LogCaptureFixture) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    caplog.set_level(logging.INFO, logger="ccbridge.client")
    client = Client("t", transport=httpx.MockTransport(handler), rate_limit=None, max_retries=0)
    with client, pytest.raises(APITimeoutError, match="timed out"):
        client.request("GET", "/contacts")
    (record,) = [r for r in caplog.records if r.name == "ccbridge.client"]
    assert record.status is None and record.error == "ReadTimeout"  # type: ignore[attr-defined]


def test_redact_url_hides_secret_query_values() -> None:
    url = "https://x.test/cb?code=abc&state=s1&access_token=zzz&page=2"
    redacted = redact_url(url)
    assert "abc" not in redacted and "zzz" not in redacted
    assert "page=2" in redacted
