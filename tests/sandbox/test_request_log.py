"""The request log (``GET /_sandbox/requests``) and the sandbox's own logging keep no secrets.

DESIGN-NOTES: never log tokens, codes, client secrets or the Authorization header, and
redact them in the sandbox's request log too. These tests send real secrets and then search
the serialized log, and the captured Python log records, for the exact secret strings.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import httpx
import pytest

from ccbridge.sandbox import Sandbox
from ccbridge.sandbox.http import SandboxRequest
from ccbridge.sandbox.requestlog import REDACTED, RequestLog, redact_pairs, scrub_secrets
from ccbridge.sandbox.routing import Context, Route
from ccbridge.sandbox.state import AccountData, App

PROBE = "/partner/accounts"


def _log(raw: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    response = raw.get("/_sandbox/requests", params=params)
    assert response.status_code == 200
    entries: list[dict[str, Any]] = response.json()["requests"]
    return entries


def test_entries_for_api_oauth_and_control_calls(
    cc_app: App,
    cc_account: AccountData,
    cc_http: httpx.Client,
    cc_raw: httpx.Client,
) -> None:
    cc_http.get(PROBE, params={"limit": "5"})
    cc_raw.get("/oauth2/default/v1/keys")
    cc_raw.get("/_sandbox/clock")
    entries = _log(cc_raw)
    api, keys, clock = entries[-3:]
    assert api["method"] == "GET" and api["path"] == "/v3/partner/accounts"
    assert api["status"] == 501 and api["operation_id"] == "getPartnerSiteOwners"
    assert api["query"] == {"limit": "5"}
    assert api["client_id"] == cc_app.client_id
    assert api["account_id"] == cc_account.account.account_id
    assert keys["path"] == "/oauth2/default/v1/keys" and keys["status"] == 200
    assert clock["path"] == "/_sandbox/clock" and clock["status"] == 200
    assert all({"id", "time", "duration_ms", "faults"} <= set(e) for e in (api, keys, clock))
    assert api["id"] < keys["id"] < clock["id"]


def test_unknown_paths_are_logged_too(cc_raw: httpx.Client) -> None:
    cc_raw.get("/v3/no_such_thing")
    cc_raw.get("/elsewhere")
    assert [(e["path"], e["status"]) for e in _log(cc_raw)[-2:]] == [
        ("/v3/no_such_thing", 404),
        ("/elsewhere", 404),
    ]


@pytest.mark.parametrize(
    "name",
    [
        "code",
        "access_token",
        "refresh_token",
        "id_token",
        "client_secret",
        "code_verifier",
        "device_code",
        "user_code",
        "password",
        "state",
        "token",
        "x_session_token",
    ],
)
def test_secret_query_values_are_redacted(cc_raw: httpx.Client, name: str) -> None:
    secret = f"very-secret-{name}-value"
    cc_raw.get("/_sandbox/callback", params={name: secret, "scope": "contact_data"})
    entry = _log(cc_raw)[-1]
    assert entry["query"][name] == REDACTED
    assert entry["query"]["scope"] == "contact_data"  # ordinary values stay readable
    assert secret not in json.dumps(_log(cc_raw))


def test_state_is_an_ordinary_filter_on_the_api(
    cc_http: httpx.Client, cc_raw: httpx.Client
) -> None:
    cc_http.get("/activities", params={"state": "completed"})
    assert _log(cc_raw)[-1]["query"] == {"state": "completed"}


def test_no_token_header_or_body_anywhere_in_the_log(
    cc_app: App,
    cc_token: dict[str, Any],
    cc_http: httpx.Client,
    cc_raw: httpx.Client,
) -> None:
    access, refresh = cc_token["access_token"], cc_token["refresh_token"]
    body_marker = "body-marker-5f1c"
    cc_http.get(PROBE)
    cc_http.post("/contacts", json={"first_name": body_marker, "create_source": "Account"})
    # The refresh token and secret in the query (as some CC clients send them) and the body.
    cc_raw.post(
        "/oauth2/default/v1/token",
        params={"grant_type": "refresh_token", "refresh_token": refresh},
        auth=(cc_app.client_id, cc_app.client_secret),
    )
    cc_raw.post(
        "/oauth2/default/v1/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": refresh,
            "client_id": cc_app.client_id,
            "client_secret": cc_app.client_secret,
        },
    )
    serialized = cc_raw.get("/_sandbox/requests").text
    for secret in (access, refresh, cc_app.client_secret, body_marker):
        assert secret not in serialized
    assert "authorization" not in serialized.lower()
    assert "Bearer" not in serialized
    token_calls = [e for e in json.loads(serialized)["requests"] if e["path"].endswith("/token")]
    assert len(token_calls) == 2
    assert token_calls[0]["query"]["refresh_token"] == REDACTED
    assert all(e["client_id"] == cc_app.client_id for e in token_calls)  # public, so kept


def test_since_id_and_limit(cc_raw: httpx.Client) -> None:
    for _ in range(3):
        cc_raw.get("/_sandbox/clock")
    entries = _log(cc_raw)
    last_id = entries[-1]["id"]
    later = _log(cc_raw, since_id=last_id)
    assert [e["id"] for e in later] == [last_id + 1]  # the log call itself
    newest = _log(cc_raw, limit=2)
    assert len(newest) == 2 and newest[-1]["id"] > last_id


@pytest.mark.parametrize(("name", "value"), [("since_id", "abc"), ("limit", "-1")])
def test_bad_log_parameters_are_400(cc_raw: httpx.Client, name: str, value: str) -> None:
    response = cc_raw.get("/_sandbox/requests", params={name: value})
    assert response.status_code == 400
    assert name in response.json()["message"]


def test_delete_clears_the_log(cc_raw: httpx.Client) -> None:
    cc_raw.get("/_sandbox/clock")
    assert cc_raw.delete("/_sandbox/requests").status_code == 204
    assert [e["path"] for e in _log(cc_raw)] == ["/_sandbox/requests"]


def test_log_keeps_only_the_newest_entries() -> None:
    log = RequestLog(max_entries=3)
    for n in range(5):
        log.add({"n": n})
    assert [e["n"] for e in log.entries()] == [2, 3, 4]
    assert [e["id"] for e in log.entries()] == [3, 4, 5]


def test_redact_pairs_keeps_the_first_value_and_hides_secret_like_names() -> None:
    pairs = [("limit", "5"), ("limit", "9"), ("apiToken", "t"), ("Client_Secret", "s")]
    assert redact_pairs(pairs) == {"limit": "5", "apiToken": REDACTED, "Client_Secret": REDACTED}


# -- Python logging --------------------------------------------------------------------
@pytest.fixture
def failing_route(cc_sandbox: Sandbox) -> str:
    """A /_sandbox route whose handler crashes quoting the credentials it was sent."""

    def handler(ctx: Context) -> Any:
        header = ctx.request.headers.get("authorization", "")
        form = ctx.request.form()
        raise KeyError(f"cannot handle {header} with {form.get('refresh_token')}")

    cc_sandbox.router.routes.insert(0, Route("POST", "/_sandbox/_test/crash", handler, "control"))
    return "/_sandbox/_test/crash"


def test_a_crashing_handler_logs_a_traceback_without_secrets(
    cc_token: dict[str, Any],
    cc_raw: httpx.Client,
    failing_route: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    access, refresh = cc_token["access_token"], cc_token["refresh_token"]
    with caplog.at_level(logging.DEBUG):
        response = cc_raw.post(
            failing_route,
            headers={"Authorization": f"Bearer {access}"},
            data={"refresh_token": refresh},
        )
    assert response.status_code == 500
    assert response.json() == [
        {"error_key": "server_error", "error_message": "Internal Server Error"}
    ]
    assert "KeyError" in caplog.text and failing_route in caplog.text  # the bug is visible
    assert access not in caplog.text
    assert refresh not in caplog.text
    assert REDACTED in caplog.text


def test_a_whole_session_logs_no_secrets(
    cc_app: App,
    cc_token: dict[str, Any],
    cc_http: httpx.Client,
    cc_raw: httpx.Client,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.DEBUG):
        cc_http.get(PROBE)
        refreshed = cc_raw.post(
            "/oauth2/default/v1/token",
            data={"grant_type": "refresh_token", "refresh_token": cc_token["refresh_token"]},
            auth=(cc_app.client_id, cc_app.client_secret),
        ).json()
        cc_raw.post(
            "/oauth2/default/v1/token",
            data={"grant_type": "refresh_token", "refresh_token": "RT.made-up-and-wrong-123456"},
            auth=(cc_app.client_id, "a-wrong-secret"),
        )
    secrets = [
        cc_token["access_token"],
        cc_token["refresh_token"],
        refreshed.get("access_token", "-"),
        cc_app.client_secret,
        "a-wrong-secret",
    ]
    for secret in secrets:
        assert secret not in caplog.text


def test_scrub_secrets_hides_request_credentials_and_token_shapes() -> None:
    request = SandboxRequest.build(
        "POST",
        "/oauth2/default/v1/token",
        "code=the-auth-code-123",
        headers={
            "Authorization": "Basic Y2xpZW50OnMzY3IzdC1wYXNzd29yZA==",  # client:s3cr3t-password
            "Content-Type": "application/x-www-form-urlencoded",
        },
        body=b"client_secret=form-secret-456&grant_type=authorization_code",
    )
    text = (
        "failed: s3cr3t-password form-secret-456 the-auth-code-123 "
        "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl RT.abcdefghijklmnopqrstuvwxyz"
    )
    scrubbed = scrub_secrets(text, request)
    for secret in ("s3cr3t-password", "form-secret-456", "the-auth-code-123", "eyJhbGci", "RT.abc"):
        assert secret not in scrubbed
    assert scrubbed.startswith("failed: ")
