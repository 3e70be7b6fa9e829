"""The exception tree and the mapping from CC's error responses (CC-V3-FACTS §2)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
import pytest

import ccbridge
from ccbridge._errors import error_from_response, next_utc_midnight, parse_error_details


def _response(status: int, body: object, headers: dict[str, str] | None = None) -> httpx.Response:
    request = httpx.Request(
        "GET",
        "https://api.cc.email/v3/contacts?email=someone%40example.com",
        headers={"Authorization": "Bearer SECRET-TOKEN-123"},
    )
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.Response(
        status,
        content=content,
        headers={"content-type": "application/json", **(headers or {})},
        request=request,
    )


def test_array_body_gives_every_key_and_message() -> None:
    body = [
        {
            "error_key": "contacts.api.validation.error",
            "error_message": "email_address is required",
        },
        {
            "error_key": "contacts.api.validation.error",
            "error_message": "create_source is required",
        },
    ]
    error = error_from_response(_response(400, body), method="POST", path="/contacts")
    assert isinstance(error, ccbridge.BadRequestError)
    assert error.status == 400
    assert error.error_keys == ["contacts.api.validation.error"] * 2
    assert error.messages == ["email_address is required", "create_source is required"]
    assert "create_source is required" in str(error)


def test_single_object_body_of_401_is_parsed() -> None:
    body = {"error_key": "unauthorized", "error_message": "Unauthorized"}
    error = error_from_response(_response(401, body), method="GET", path="/contacts")
    assert isinstance(error, ccbridge.AuthenticationError)
    assert error.error_keys == ["unauthorized"]
    assert error.messages == ["Unauthorized"]


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, ccbridge.BadRequestError),
        (401, ccbridge.AuthenticationError),
        (403, ccbridge.PermissionDeniedError),
        (404, ccbridge.NotFoundError),
        (409, ccbridge.ConflictError),
        (415, ccbridge.UnsupportedMediaTypeError),
        (500, ccbridge.ServerError),
        (503, ccbridge.ServerError),
        (501, ccbridge.NotImplementedBySandbox),
        (405, ccbridge.APIError),
    ],
)
def test_each_status_has_its_class(status: int, cls: type[ccbridge.APIError]) -> None:
    error = error_from_response(_response(status, [{"error_key": "k", "error_message": "m"}]))
    assert type(error) is cls
    assert isinstance(error, ccbridge.APIError)
    assert isinstance(error, ccbridge.CCBridgeError)


def test_throttled_429_is_a_rate_limit_error() -> None:
    body = {"error_key": "throttled", "error_message": "Too Many Requests"}
    error = error_from_response(_response(429, body))
    assert type(error) is ccbridge.RateLimitError
    assert error.error_key == "throttled"


def test_quota_429_says_when_the_quota_resets() -> None:
    body = {"error_key": "quota_exceeded", "error_message": "Daily request quota exceeded"}
    now = datetime(2025, 3, 4, 22, 15, tzinfo=UTC)
    error = error_from_response(_response(429, body), now=now)
    assert isinstance(error, ccbridge.QuotaExceededError)
    assert error.resets_at == datetime(2025, 3, 5, 0, 0, tzinfo=UTC)
    assert "2025-03-05T00:00:00+00:00" in str(error)


def test_next_utc_midnight_from_another_timezone() -> None:
    from datetime import timedelta, timezone

    evening_in_new_york = datetime(2025, 3, 4, 21, 0, tzinfo=timezone(timedelta(hours=-5)))
    # 21:00 at UTC-5 is 02:00 UTC on the 5th: the quota resets at 00:00 UTC on the 6th.
    assert next_utc_midnight(evening_in_new_york) == datetime(2025, 3, 6, tzinfo=UTC)


def test_request_id_header_is_kept() -> None:
    error = error_from_response(
        _response(
            404,
            [{"error_key": "contacts.api.not_found", "error_message": "nope"}],
            {"x-request-id": "req-42"},
        )
    )
    assert error.request_id == "req-42"
    assert "req-42" in str(error)
    correlation = error_from_response(_response(500, [], {"x-correlation-id": "corr-7"}))
    assert correlation.request_id == "corr-7"


def test_error_text_never_shows_the_token_or_the_query() -> None:
    error = error_from_response(
        _response(403, [{"error_key": "forbidden", "error_message": "Forbidden"}]),
        method="GET",
        path="/contacts",
    )
    for text in (str(error), repr(error)):
        assert "SECRET-TOKEN-123" not in text
        assert "someone" not in text
        assert "Bearer" not in text


def test_non_json_error_body_is_kept_in_the_error() -> None:
    error = error_from_response(_response(502, b"<html>Bad Gateway</html>"))
    assert type(error) is ccbridge.ServerError
    assert error.errors == ()
    assert error.body == b"<html>Bad Gateway</html>"
    assert "Bad Gateway" in str(error)


def test_parse_error_details_ignores_junk() -> None:
    assert parse_error_details(b"") == ()
    assert parse_error_details(b"not json") == ()
    assert parse_error_details(b"[1, 2]") == ()
    oauth_shaped = parse_error_details(b'{"error":"invalid_token","error_description":"bad"}')
    assert [(d.error_key, d.error_message) for d in oauth_shaped] == [("invalid_token", "bad")]


def test_oauth_errors_are_their_own_branch() -> None:
    error = ccbridge.OAuthError(
        "invalid_grant", "The refresh token is invalid or expired.", status=400
    )
    assert isinstance(error, ccbridge.CCBridgeError)
    assert not isinstance(error, ccbridge.APIError)
    assert error.error == "invalid_grant"
    assert "invalid or expired" in str(error)


def test_invalid_argument_is_also_a_value_error() -> None:
    assert issubclass(ccbridge.InvalidArgumentError, ValueError)
    assert issubclass(ccbridge.APITimeoutError, ccbridge.APIConnectionError)
