"""Fault injection: every match field, every action, and the rule validation.

Faults are added through the control plane (``POST /_sandbox/faults``) as a user would.
The probe routes are known CC operations the sandbox does not emulate: they answer 501
after authentication, rate limiting and faults, so a 501 means "no fault fired".
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from ccbridge.sandbox import AsyncSandboxTransport, Sandbox, SandboxTransport, activities
from ccbridge.sandbox.activities import activity_json
from ccbridge.sandbox.http import json_response
from ccbridge.sandbox.routing import Context, Route
from ccbridge.sandbox.seed import create_app
from ccbridge.sandbox.state import AccountData, App

PROBE = "/partner/accounts"
OTHER = "/partner/webhooks/subscriptions"
ALLOWED = 501
TOKEN_URL = "/oauth2/default/v1/token"


def add_fault(raw: httpx.Client, match: dict[str, Any], action: dict[str, Any]) -> dict[str, Any]:
    response = raw.post("/_sandbox/faults", json={"match": match, "action": action})
    assert response.status_code == 201, response.text
    rule: dict[str, Any] = response.json()
    return rule


def bearer_client(sandbox: Sandbox, token: str, **kwargs: Any) -> httpx.Client:
    return httpx.Client(
        base_url=sandbox.base_url + "/v3",
        transport=SandboxTransport(sandbox),
        headers={"Authorization": f"Bearer {token}"},
        **kwargs,
    )


# -- status actions -------------------------------------------------------------------
def test_status_fault_answers_with_ccs_error_array(
    cc_http: httpx.Client, cc_raw: httpx.Client
) -> None:
    add_fault(cc_raw, {"path": PROBE}, {"status": 503})
    response = cc_http.get(PROBE)
    assert response.status_code == 503
    assert response.json() == [
        {"error_key": "service_unavailable", "error_message": "Service Unavailable"}
    ]


def test_status_fault_500_default_body(cc_http: httpx.Client, cc_raw: httpx.Client) -> None:
    add_fault(cc_raw, {}, {"status": 500})
    response = cc_http.get(PROBE)
    assert response.status_code == 500
    assert response.json() == [
        {"error_key": "server_error", "error_message": "Internal Server Error"}
    ]


def test_status_fault_with_own_key_and_message(cc_http: httpx.Client, cc_raw: httpx.Client) -> None:
    add_fault(
        cc_raw,
        {"path": PROBE},
        {"status": 409, "error_key": "contacts.api.conflict", "error_message": "Busy."},
    )
    response = cc_http.get(PROBE)
    assert response.status_code == 409
    assert response.json() == [{"error_key": "contacts.api.conflict", "error_message": "Busy."}]


def test_401_fault_is_ccs_single_object_and_leaves_the_token_alive(
    cc_http: httpx.Client, cc_raw: httpx.Client
) -> None:
    add_fault(cc_raw, {"path": PROBE, "times": 1}, {"status": 401})
    response = cc_http.get(PROBE)
    assert response.status_code == 401
    assert response.json() == {"error_key": "unauthorized", "error_message": "Unauthorized"}
    assert cc_http.get(PROBE).status_code == ALLOWED


def test_429_fault_is_ccs_throttled_single_object(
    cc_http: httpx.Client, cc_raw: httpx.Client
) -> None:
    add_fault(cc_raw, {"path": PROBE}, {"status": 429})
    response = cc_http.get(PROBE)
    assert response.status_code == 429
    assert response.json() == {"error_key": "throttled", "error_message": "Too Many Requests"}


# -- match fields -----------------------------------------------------------------------
def test_method_match(cc_http: httpx.Client, cc_raw: httpx.Client) -> None:
    add_fault(cc_raw, {"method": "post", "path": PROBE}, {"status": 503})
    assert cc_http.get(PROBE).status_code == ALLOWED
    assert cc_http.post(PROBE, json={}).status_code == 503


def test_path_is_a_regular_expression_searched_in_the_path(
    cc_http: httpx.Client, cc_raw: httpx.Client
) -> None:
    add_fault(cc_raw, {"path": r"^/v3/partner/web\w+/"}, {"status": 503})
    assert cc_http.get(OTHER).status_code == 503
    assert cc_http.get(PROBE).status_code == ALLOWED
    cc_raw.delete("/_sandbox/faults")
    add_fault(cc_raw, {"path": "accounts$"}, {"status": 502})
    assert cc_http.get(PROBE).status_code == 502
    assert cc_http.get(OTHER).status_code == ALLOWED


def test_client_id_match(
    cc_sandbox: Sandbox,
    cc_app: App,
    cc_account: AccountData,
    cc_http: httpx.Client,
    cc_raw: httpx.Client,
) -> None:
    other_app = create_app(cc_sandbox.state, cc_sandbox.clock.now(), name="Other", redirect_uris=[])
    other_token = cc_sandbox.issuer.issue(
        cc_sandbox.state, cc_sandbox.clock, other_app, cc_account.account.account_id, "contact_data"
    )["access_token"]
    add_fault(cc_raw, {"client_id": other_app.client_id}, {"status": 503})
    with bearer_client(cc_sandbox, other_token) as other:
        assert other.get(PROBE).status_code == 503
    assert cc_http.get(PROBE).status_code == ALLOWED


def test_nth_fires_only_on_that_matching_call(cc_http: httpx.Client, cc_raw: httpx.Client) -> None:
    add_fault(cc_raw, {"path": PROBE, "nth": 2}, {"status": 503})
    cc_http.get(OTHER)  # does not match, so is not counted
    assert [cc_http.get(PROBE).status_code for _ in range(4)] == [ALLOWED, 503, ALLOWED, ALLOWED]


def test_times_caps_how_often_a_rule_fires(cc_http: httpx.Client, cc_raw: httpx.Client) -> None:
    rule = add_fault(cc_raw, {"path": PROBE, "times": 2}, {"status": 503})
    assert [cc_http.get(PROBE).status_code for _ in range(4)] == [503, 503, ALLOWED, ALLOWED]
    listed = cc_raw.get("/_sandbox/faults").json()["faults"]
    assert [(r["id"], r["seen"], r["fired"]) for r in listed] == [(rule["id"], 4, 2)]


def _probability_run(seed: int, token_for: Any) -> list[int]:
    sandbox = Sandbox(rate_limits=False, fault_seed=seed)
    token = token_for(sandbox)
    with httpx.Client(base_url=sandbox.base_url, transport=SandboxTransport(sandbox)) as raw:
        add_fault(raw, {"path": PROBE, "probability": 0.3}, {"status": 503})
    with bearer_client(sandbox, token) as client:
        return [client.get(PROBE).status_code for _ in range(200)]


def _token_for(sandbox: Sandbox) -> str:
    from ccbridge.sandbox.seed import create_account

    app = create_app(sandbox.state, sandbox.clock.now(), name="p", redirect_uris=[])
    account = create_account(
        sandbox.state,
        sandbox.clock.now(),
        email="p@example.com",
        password="pw",
        organization_name="P",
        first_name="P",
        last_name="Q",
    )
    issued = sandbox.issuer.issue(
        sandbox.state, sandbox.clock, app, account.account.account_id, "contact_data"
    )
    return str(issued["access_token"])


def test_probability_is_seeded_and_reproducible() -> None:
    first = _probability_run(42, _token_for)
    again = _probability_run(42, _token_for)
    other = _probability_run(7, _token_for)
    assert first == again
    assert first != other
    faulted = first.count(503)
    assert set(first) == {503, ALLOWED}
    assert 30 <= faulted <= 90  # about 30% of 200; the seed makes this exact, not flaky


def test_probability_zero_never_fires(cc_http: httpx.Client, cc_raw: httpx.Client) -> None:
    add_fault(cc_raw, {"probability": 0}, {"status": 503})
    assert {cc_http.get(PROBE).status_code for _ in range(20)} == {ALLOWED}


def test_rules_do_not_touch_the_control_plane(cc_raw: httpx.Client) -> None:
    add_fault(cc_raw, {}, {"status": 503, "drop": True})
    assert cc_raw.get("/_sandbox/faults").status_code == 200
    assert cc_raw.get("/_sandbox/clock").status_code == 200


# -- latency and dropped connections ---------------------------------------------------
def test_latency_past_the_read_timeout_raises_read_timeout(
    cc_sandbox: Sandbox, cc_token: dict[str, Any], cc_raw: httpx.Client
) -> None:
    add_fault(cc_raw, {"path": PROBE}, {"latency_ms": 5_000})
    timeout = httpx.Timeout(5.0, read=0.05)
    with (
        bearer_client(cc_sandbox, cc_token["access_token"], timeout=timeout) as client,
        pytest.raises(httpx.ReadTimeout),
    ):
        client.get(PROBE)


def test_latency_within_the_timeout_delays_but_answers(
    cc_sandbox: Sandbox, cc_token: dict[str, Any], cc_raw: httpx.Client
) -> None:
    add_fault(cc_raw, {"path": PROBE}, {"latency_ms": 20})
    with bearer_client(cc_sandbox, cc_token["access_token"], timeout=5.0) as client:
        assert client.get(PROBE).status_code == ALLOWED
    # The delay was scheduled on the response (not asserted as wall time).
    entry = cc_sandbox.requests.entries()[-1]
    assert entry["faults"] and entry["status"] == ALLOWED


async def test_async_transport_honours_latency_and_drop(
    cc_sandbox: Sandbox, cc_token: dict[str, Any], cc_raw: httpx.Client
) -> None:
    add_fault(cc_raw, {"path": PROBE}, {"latency_ms": 5_000})
    add_fault(cc_raw, {"path": OTHER}, {"drop": True})
    async with httpx.AsyncClient(
        base_url=cc_sandbox.base_url + "/v3",
        transport=AsyncSandboxTransport(cc_sandbox),
        headers={"Authorization": f"Bearer {cc_token['access_token']}"},
        timeout=httpx.Timeout(5.0, read=0.05),
    ) as client:
        with pytest.raises(httpx.ReadTimeout):
            await client.get(PROBE)
        with pytest.raises(httpx.RemoteProtocolError):
            await client.get(OTHER)


def test_drop_raises_remote_protocol_error(cc_http: httpx.Client, cc_raw: httpx.Client) -> None:
    add_fault(cc_raw, {"path": PROBE, "times": 1}, {"drop": True})
    with pytest.raises(httpx.RemoteProtocolError):
        cc_http.get(PROBE)
    assert cc_http.get(PROBE).status_code == ALLOWED


def test_drop_applies_even_when_the_rule_also_answers_an_error(
    cc_sandbox: Sandbox, cc_http: httpx.Client, cc_raw: httpx.Client
) -> None:
    rule = add_fault(cc_raw, {"path": PROBE}, {"status": 503, "drop": True})
    with pytest.raises(httpx.RemoteProtocolError):
        cc_http.get(PROBE)
    entry = cc_sandbox.requests.entries()[-1]
    assert (entry["status"], entry["faults"]) == (503, [rule["id"]])


# -- token actions ------------------------------------------------------------------------
def _refresh(raw: httpx.Client, app: App, refresh_token: str) -> httpx.Response:
    return raw.post(
        TOKEN_URL,
        data={"grant_type": "refresh_token", "refresh_token": refresh_token},
        auth=(app.client_id, app.client_secret),
    )


def test_token_expired_fault_ends_the_access_token_but_refresh_still_works(
    cc_sandbox: Sandbox,
    cc_app: App,
    cc_token: dict[str, Any],
    cc_http: httpx.Client,
    cc_raw: httpx.Client,
) -> None:
    add_fault(cc_raw, {"path": PROBE, "times": 1}, {"token": "expired"})
    response = cc_http.get(PROBE)
    assert response.status_code == 401
    assert response.json() == {"error_key": "unauthorized", "error_message": "Unauthorized"}
    assert cc_http.get(PROBE).status_code == 401  # an expired token stays expired
    refreshed = _refresh(cc_raw, cc_app, cc_token["refresh_token"])
    assert refreshed.status_code == 200, refreshed.text
    with bearer_client(cc_sandbox, refreshed.json()["access_token"]) as client:
        assert client.get(PROBE).status_code == ALLOWED


def test_token_revoked_fault_kills_the_token_and_its_refresh_token_for_good(
    cc_app: App,
    cc_token: dict[str, Any],
    cc_http: httpx.Client,
    cc_raw: httpx.Client,
) -> None:
    add_fault(cc_raw, {"path": PROBE}, {"token": "revoked"})
    assert cc_http.get(PROBE).status_code == 401
    assert cc_raw.delete("/_sandbox/faults").status_code == 204
    response = cc_http.get(PROBE)
    assert response.status_code == 401  # still dead with no rule left
    assert response.json() == {"error_key": "unauthorized", "error_message": "Unauthorized"}
    refreshed = _refresh(cc_raw, cc_app, cc_token["refresh_token"])
    assert refreshed.status_code == 400
    assert refreshed.json()["error"] == "invalid_grant"


# -- activity actions -------------------------------------------------------------------
@pytest.fixture
def bulk_probe(cc_sandbox: Sandbox) -> str:
    """A test-only /v3 route that queues a 10-item activity, like any CC bulk endpoint."""

    def handler(ctx: Context) -> Any:
        activity = activities.start_activity(
            ctx.account, ctx.state.settings, ctx.clock.now(), "sandbox_test_probe", 10
        )
        return json_response(activity_json(activity), 201)

    cc_sandbox.router.routes.insert(0, Route("POST", "/v3/_test/bulk", handler, "api"))
    return "/_test/bulk"


def test_activity_fault_ends_the_activity_the_request_created(
    cc_sandbox: Sandbox,
    cc_account: AccountData,
    cc_http: httpx.Client,
    cc_raw: httpx.Client,
    bulk_probe: str,
) -> None:
    add_fault(cc_raw, {"method": "POST", "path": bulk_probe, "times": 1}, {"activity": "timed_out"})
    doomed = cc_http.post(bulk_probe).json()["activity_id"]
    healthy = cc_http.post(bulk_probe).json()["activity_id"]
    cc_sandbox.advance_clock(60)
    cc_http.get(PROBE)  # any /v3 call moves activities along
    assert cc_account.activities[doomed].state == "timed_out"
    assert cc_account.activities[doomed].activity_errors
    assert cc_account.activities[healthy].state == "completed"


def test_activity_fault_leaves_earlier_activities_alone(
    cc_sandbox: Sandbox,
    cc_account: AccountData,
    cc_http: httpx.Client,
    cc_raw: httpx.Client,
    bulk_probe: str,
) -> None:
    earlier = cc_http.post(bulk_probe).json()["activity_id"]
    add_fault(cc_raw, {"path": PROBE}, {"activity": "failed"})
    cc_http.get(PROBE)  # matches, but creates no activity
    cc_sandbox.advance_clock(60)
    cc_http.get(OTHER)
    assert cc_account.activities[earlier].state == "completed"


@pytest.mark.parametrize("ending", ["failed", "cancelled"])
def test_activity_fault_on_a_real_json_import(
    cc_sandbox: Sandbox,
    cc_account: AccountData,
    cc_http: httpx.Client,
    cc_raw: httpx.Client,
    ending: str,
) -> None:
    list_id = next(iter(cc_account.lists))
    add_fault(
        cc_raw, {"method": "POST", "path": "/activities/contacts_json_import"}, {"activity": ending}
    )
    created = cc_http.post(
        "/activities/contacts_json_import",
        json={
            "import_data": [{"email": f"c{i}@example.com"} for i in range(4)],
            "list_ids": [list_id],
        },
    )
    if created.status_code == 501:
        pytest.skip("POST /v3/activities/contacts_json_import is not emulated yet")
    assert created.status_code == 201, created.text
    cc_sandbox.advance_clock(60)
    polled = cc_http.get(f"/activities/{created.json()['activity_id']}")
    if polled.status_code == 501:
        pytest.skip("GET /v3/activities/{id} is not emulated yet")
    assert polled.json()["state"] == ending
    assert cc_account.contact_by_email("c3@example.com") is None  # a failed import adds nobody


# -- the rules themselves -----------------------------------------------------------------
@pytest.mark.parametrize(
    ("spec", "named"),
    [
        ([], "JSON object"),
        ({"action": {"status": 503}, "when": {}}, "when"),
        ({"match": {"path": PROBE}}, "action is required"),
        ({"match": [], "action": {"status": 503}}, "match must be an object"),
        ({"action": "boom"}, "action must be an object"),
        ({"action": {}}, "action does nothing"),
        ({"action": {"latency_ms": 0}}, "action does nothing"),
        ({"match": {"verb": "GET"}, "action": {"status": 503}}, "verb"),
        ({"action": {"status": 503, "retry": True}}, "retry"),
        ({"match": {"method": "FETCH"}, "action": {"status": 503}}, "match.method"),
        ({"match": {"method": 1}, "action": {"status": 503}}, "match.method"),
        ({"match": {"path": "("}, "action": {"status": 503}}, "match.path"),
        ({"match": {"client_id": 5}, "action": {"status": 503}}, "match.client_id"),
        ({"match": {"nth": 0}, "action": {"status": 503}}, "match.nth"),
        ({"match": {"nth": "2"}, "action": {"status": 503}}, "match.nth"),
        ({"match": {"times": 0}, "action": {"status": 503}}, "match.times"),
        ({"match": {"times": 1.5}, "action": {"status": 503}}, "match.times"),
        ({"match": {"probability": 1.5}, "action": {"status": 503}}, "match.probability"),
        ({"match": {"probability": "half"}, "action": {"status": 503}}, "match.probability"),
        ({"action": {"status": 200}}, "action.status"),
        ({"action": {"status": "503"}}, "action.status"),
        ({"action": {"status": True}}, "action.status"),
        ({"action": {"error_key": "x"}}, "action.status"),
        ({"action": {"status": 503, "error_message": 3}}, "action.error_message"),
        ({"action": {"latency_ms": -1}}, "action.latency_ms"),
        ({"action": {"latency_ms": 10_000_000}}, "action.latency_ms"),
        ({"action": {"drop": "yes"}}, "action.drop"),
        ({"action": {"token": "stolen"}}, "action.token"),
        ({"action": {"activity": "exploded"}}, "action.activity"),
    ],
)
def test_bad_fault_specs_are_refused_naming_the_problem(
    cc_sandbox: Sandbox, cc_raw: httpx.Client, spec: Any, named: str
) -> None:
    response = cc_raw.post("/_sandbox/faults", json=spec)
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "bad_request"
    assert named in body["message"]
    assert cc_sandbox.faults.rules == []


def test_malformed_json_rule_is_400(cc_raw: httpx.Client) -> None:
    response = cc_raw.post(
        "/_sandbox/faults", content=b"{nope", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert "malformed JSON" in response.json()["message"]


def test_delete_clears_every_rule(cc_http: httpx.Client, cc_raw: httpx.Client) -> None:
    add_fault(cc_raw, {"path": PROBE}, {"status": 503})
    add_fault(cc_raw, {"path": OTHER}, {"status": 502})
    assert cc_raw.delete("/_sandbox/faults").status_code == 204
    assert cc_raw.get("/_sandbox/faults").json() == {"faults": []}
    assert cc_http.get(PROBE).status_code == ALLOWED
    assert cc_http.get(OTHER).status_code == ALLOWED


def test_delete_one_rule_by_id(cc_http: httpx.Client, cc_raw: httpx.Client) -> None:
    first = add_fault(cc_raw, {"path": PROBE}, {"status": 503})
    second = add_fault(cc_raw, {"path": OTHER}, {"status": 502})
    assert cc_raw.delete(f"/_sandbox/faults/{first['id']}").status_code == 204
    assert [r["id"] for r in cc_raw.get("/_sandbox/faults").json()["faults"]] == [second["id"]]
    assert cc_http.get(PROBE).status_code == ALLOWED
    missing = cc_raw.delete(f"/_sandbox/faults/{first['id']}")
    assert missing.status_code == 404
    assert str(first["id"]) in missing.json()["message"]


def test_rule_json_echoes_what_was_asked(cc_raw: httpx.Client) -> None:
    rule = add_fault(
        cc_raw,
        {"method": "get", "path": PROBE, "nth": 3, "probability": 0.5},
        {"status": 503, "latency_ms": 10},
    )
    assert rule["match"]["method"] == "GET"
    assert rule["match"]["nth"] == 3 and rule["match"]["probability"] == 0.5
    assert rule["action"]["status"] == 503 and rule["action"]["latency_ms"] == 10
    assert (rule["seen"], rule["fired"]) == (0, 0)


# -- faults on the OAuth endpoints -------------------------------------------------------
def test_oauth_fault_answers_in_oauth_error_shape(
    cc_app: App, cc_token: dict[str, Any], cc_raw: httpx.Client
) -> None:
    add_fault(cc_raw, {"path": "/token$", "times": 1}, {"status": 503})
    response = _refresh(cc_raw, cc_app, cc_token["refresh_token"])
    assert response.status_code == 503
    body = response.json()
    assert body["error"] == "temporarily_unavailable"
    assert "error_description" in body
    assert _refresh(cc_raw, cc_app, cc_token["refresh_token"]).status_code == 200


def test_oauth_fault_matches_the_client_id_of_basic_credentials(
    cc_sandbox: Sandbox, cc_app: App, cc_token: dict[str, Any], cc_raw: httpx.Client
) -> None:
    other = create_app(cc_sandbox.state, cc_sandbox.clock.now(), name="Other", redirect_uris=[])
    add_fault(cc_raw, {"path": "/token$", "client_id": other.client_id}, {"status": 500})
    response = _refresh(cc_raw, cc_app, cc_token["refresh_token"])
    assert response.status_code == 200
    faulted = _refresh(cc_raw, other, "RT.whatever")
    assert faulted.status_code == 500
    assert faulted.json()["error"] == "server_error"
