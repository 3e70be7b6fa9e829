"""The pure retry policy: what is safe to send again, and how long to wait."""

from __future__ import annotations

import random

import httpx
import pytest

from ccbridge import InvalidArgumentError, RetryPolicy
from ccbridge._retry import is_idempotent, parse_retry_after

RNG = random.Random(7)
REQ = httpx.Request("POST", "https://api.cc.email/v3/contacts")


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("GET", "/contacts", True),
        ("PUT", "/contacts/abc", True),
        ("DELETE", "/contacts/abc", True),
        ("HEAD", "/contacts", True),
        ("POST", "/contacts/sign_up_form", True),  # keyed by email: repeating is harmless
        ("POST", "/contacts", False),
        ("POST", "/activities/contacts_json_import", False),
        ("PATCH", "/emails/abc", False),
    ],
)
def test_idempotency(method: str, path: str, expected: bool) -> None:
    assert is_idempotent(method, path) is expected


def test_5xx_retried_for_get_not_for_post() -> None:
    policy = RetryPolicy(max_attempts=4)
    assert policy.delay_after_status(503, None, 1, "GET", "/contacts", RNG) is not None
    assert policy.delay_after_status(503, None, 1, "POST", "/contacts", RNG) is None
    assert policy.delay_after_status(503, None, 1, "POST", "/contacts/sign_up_form", RNG)


def test_not_implemented_and_client_errors_are_final() -> None:
    policy = RetryPolicy()
    for status in (400, 401, 403, 404, 409, 415, 501):
        assert policy.delay_after_status(status, None, 1, "GET", "/contacts", RNG) is None


def test_throttled_is_retried_for_any_method_after_at_least_a_second() -> None:
    policy = RetryPolicy(max_attempts=3)
    for method in ("GET", "POST"):
        delay = policy.delay_after_status(429, "throttled", 1, method, "/contacts", RNG)
        assert delay is not None and delay >= 1.0


def test_quota_and_queue_cap_429s_are_not_retried() -> None:
    policy = RetryPolicy()
    assert policy.delay_after_status(429, "quota_exceeded", 1, "GET", "/x", RNG) is None
    assert (
        policy.delay_after_status(429, "activities.api.too_many_requests", 1, "POST", "/x", RNG)
        is None
    )


def test_retry_after_header_sets_the_floor() -> None:
    policy = RetryPolicy()
    delay = policy.delay_after_status(429, "throttled", 1, "GET", "/x", RNG, retry_after=5.0)
    assert delay is not None and delay >= 5.0
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") is None
    assert parse_retry_after(None) is None


def test_attempts_run_out() -> None:
    policy = RetryPolicy(max_attempts=3)
    assert policy.delay_after_status(503, None, 2, "GET", "/x", RNG) is not None
    assert policy.delay_after_status(503, None, 3, "GET", "/x", RNG) is None
    no_retries = RetryPolicy.from_max_retries(0)
    assert no_retries.delay_after_status(503, None, 1, "GET", "/x", RNG) is None


def test_connection_failure_before_sending_is_retried_even_for_post() -> None:
    policy = RetryPolicy()
    never_sent = httpx.ConnectError("refused", request=REQ)
    maybe_sent = httpx.ReadTimeout("slow", request=REQ)
    dropped = httpx.RemoteProtocolError("hung up", request=REQ)
    assert policy.delay_after_error(never_sent, 1, "POST", "/contacts", RNG) is not None
    assert policy.delay_after_error(httpx.ConnectTimeout("t", request=REQ), 1, "POST", "/c", RNG)
    assert policy.delay_after_error(maybe_sent, 1, "POST", "/contacts", RNG) is None
    assert policy.delay_after_error(dropped, 1, "POST", "/contacts", RNG) is None
    assert policy.delay_after_error(maybe_sent, 1, "GET", "/contacts", RNG) is not None
    assert policy.delay_after_error(dropped, 1, "DELETE", "/contacts/x", RNG) is not None


def test_backoff_is_exponential_with_full_jitter() -> None:
    policy = RetryPolicy(base_delay=0.5, max_delay=4.0)
    rng = random.Random(1)
    for attempt, ceiling in ((1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (5, 4.0), (9, 4.0)):
        samples = [policy.backoff(attempt, rng) for _ in range(300)]
        assert all(0.0 <= s <= ceiling for s in samples)
        # full jitter spreads over the whole range, not just near the ceiling
        assert min(samples) < ceiling * 0.1
        assert max(samples) > ceiling * 0.9


def test_bad_settings_are_rejected() -> None:
    with pytest.raises(InvalidArgumentError, match="max_retries"):
        RetryPolicy.from_max_retries(-1)
    with pytest.raises(InvalidArgumentError, match="max_attempts"):
        RetryPolicy(max_attempts=0)
