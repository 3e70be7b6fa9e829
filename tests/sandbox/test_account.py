"""Account Services in the sandbox: summary, physical address, account emails, privileges."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from ccbridge.sandbox import Sandbox, SandboxTransport
from ccbridge.sandbox.resources.account import confirm_account_email
from ccbridge.sandbox.state import AccountData, App
from tests.sandbox.campaign_support import campaign_body

US_ADDRESS = {
    "address_line1": "1 Beacon Street",
    "address_line2": "Suite 5",
    "city": "Boston",
    "state_code": "MA",
    "postal_code": "02108",
    "country_code": "US",
}


def _error(response: httpx.Response) -> str:
    body = response.json()
    assert isinstance(body, list) and body, body
    return str(body[0]["error_message"])


# -- summary ----------------------------------------------------------------------------------
def test_summary_describes_the_account(cc_http: httpx.Client, cc_account: AccountData) -> None:
    response = cc_http.get("/account/summary")
    assert response.status_code == 200
    summary = response.json()
    assert summary["contact_email"] == "owner@example.com"
    assert summary["encoded_account_id"] == cc_account.account.account_id
    assert summary["organization_name"] == "Example Org"
    assert summary["first_name"] == "Olive" and summary["last_name"] == "Owner"
    assert "physical_address" not in summary and "company_logo" not in summary


def test_summary_extra_fields(cc_http: httpx.Client, cc_account: AccountData) -> None:
    cc_account.account.company_logo = {"url": "https://files.example.com/logo.png"}
    both = cc_http.get(
        "/account/summary", params={"extra_fields": "physical_address,company_logo"}
    ).json()
    assert both["physical_address"] == cc_account.account.physical_address
    assert both["company_logo"] == {"url": "https://files.example.com/logo.png"}
    only_address = cc_http.get("/account/summary", params={"extra_fields": "physical_address"})
    assert "company_logo" not in only_address.json()
    bad = cc_http.get("/account/summary", params={"extra_fields": "billing"})
    assert bad.status_code == 400 and "extra_fields" in _error(bad)


def test_put_summary_updates_only_what_is_sent(cc_http: httpx.Client) -> None:
    response = cc_http.put(
        "/account/summary",
        json={
            "organization_name": "Renamed Org",
            "website": "https://renamed.example.com",
            "contact_phone": "555-0100",
            "time_zone_id": "Europe/Paris",
            "encoded_account_id": "ignored",
        },
    )
    assert response.status_code == 200
    body = response.json()
    assert body["organization_name"] == "Renamed Org"
    assert body["contact_phone"] == "555-0100"
    assert body["first_name"] == "Olive"  # left out, so kept
    again = cc_http.get("/account/summary").json()
    assert again["website"] == "https://renamed.example.com"
    assert again["time_zone_id"] == "Europe/Paris"
    assert again["encoded_account_id"] != "ignored"


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"time_zone_id": "Mars/Olympus"}, "time_zone_id"),
        ({"contact_phone": "1" * 26}, "contact_phone"),
        ({"contact_email": "stranger@example.com"}, "contact_email"),
        ({"country_code": "USA"}, "country_code"),
        ({"state_code": ""}, "state_code"),
        ({"first_name": 7}, "first_name"),
        ({"organization_name": ""}, "organization_name"),
        ({"plan": "gold"}, "plan"),
    ],
)
def test_put_summary_validation(cc_http: httpx.Client, body: dict[str, Any], named: str) -> None:
    response = cc_http.put("/account/summary", json=body)
    assert response.status_code == 400
    assert named in _error(response)


def test_put_summary_contact_email_must_be_confirmed(
    cc_http: httpx.Client, cc_sandbox: Sandbox, cc_account: AccountData
) -> None:
    cc_http.post("/account/emails", json={"email_address": "boss@example.com"})
    assert (
        cc_http.put("/account/summary", json={"contact_email": "boss@example.com"}).status_code
        == 400
    )
    confirm_account_email(cc_account, "boss@example.com", cc_sandbox.clock.now())
    response = cc_http.put("/account/summary", json={"contact_email": "boss@example.com"})
    assert response.status_code == 200 and response.json()["contact_email"] == "boss@example.com"


# -- physical address -------------------------------------------------------------------------
def test_physical_address_get_and_put(cc_http: httpx.Client, cc_account: AccountData) -> None:
    current = cc_http.get("/account/summary/physical_address")
    assert current.status_code == 200
    assert current.json() == cc_account.account.physical_address
    replaced = cc_http.put("/account/summary/physical_address", json=US_ADDRESS)
    assert replaced.status_code == 200 and replaced.json() == US_ADDRESS
    shorter = {k: v for k, v in US_ADDRESS.items() if k != "address_line2"}
    cc_http.put("/account/summary/physical_address", json=shorter)
    assert cc_http.get("/account/summary/physical_address").json() == shorter


def test_physical_address_outside_us_uses_state_name(cc_http: httpx.Client) -> None:
    address = {
        "address_line1": "10 Downing Street",
        "city": "London",
        "state_name": "Greater London",
        "postal_code": "SW1A 2AA",
        "country_code": "GB",
    }
    response = cc_http.put("/account/summary/physical_address", json=address)
    assert response.status_code == 200 and response.json() == address


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"city": None}, "city"),
        ({"address_line1": None}, "address_line1"),
        ({"address_line1": "x" * 81}, "address_line1"),
        ({"country_code": None}, "country_code"),
        ({"country_code": "United States"}, "country_code"),
        ({"state_code": None}, "state_code"),
        ({"postal_code": None}, "postal_code"),
        ({"state_name": "Massachusetts"}, "state_name"),
        ({"country_code": "FR"}, "state_code"),
        ({"county": "Suffolk"}, "county"),
    ],
)
def test_physical_address_validation(
    cc_http: httpx.Client, change: dict[str, Any], named: str
) -> None:
    address: dict[str, Any] = {**US_ADDRESS, **change}
    address = {k: v for k, v in address.items() if v is not None}
    response = cc_http.put("/account/summary/physical_address", json=address)
    assert response.status_code == 400
    assert named in _error(response)


def test_post_physical_address_only_when_there_is_none(
    cc_http: httpx.Client, cc_account: AccountData
) -> None:
    conflict = cc_http.post("/account/summary/physical_address", json=US_ADDRESS)
    assert conflict.status_code == 409
    cc_account.account.physical_address = {}
    assert cc_http.get("/account/summary/physical_address").status_code == 404
    created = cc_http.post("/account/summary/physical_address", json=US_ADDRESS)
    assert created.status_code == 201 and created.json() == US_ADDRESS
    assert cc_http.get("/account/summary/physical_address").json() == US_ADDRESS


def test_campaigns_need_an_address_when_the_account_has_none(
    cc_http: httpx.Client, cc_account: AccountData
) -> None:
    cc_account.account.physical_address = {}
    response = cc_http.post("/emails", json=campaign_body("No address"))
    assert response.status_code == 400
    assert "physical_address_in_footer" in _error(response)


# -- account emails ---------------------------------------------------------------------------
def test_account_emails_list_the_confirmed_login_email(cc_http: httpx.Client) -> None:
    response = cc_http.get("/account/emails")
    assert response.status_code == 200
    [owner] = response.json()
    assert owner["email_address"] == "owner@example.com"
    assert owner["confirm_status"] == "CONFIRMED"
    assert owner["email_id"] >= 1
    assert "confirm_time" in owner


def test_adding_an_account_email(cc_http: httpx.Client) -> None:
    response = cc_http.post("/account/emails", json={"email_address": "sales@example.com"})
    assert response.status_code == 201
    created = response.json()
    assert created["email_address"] == "sales@example.com"
    assert created["confirm_status"] == "UNCONFIRMED"
    duplicate = cc_http.post("/account/emails", json={"email_address": "SALES@example.com"})
    assert duplicate.status_code == 409
    unconfirmed = cc_http.get("/account/emails", params={"confirm_status": "U"}).json()
    assert [e["email_address"] for e in unconfirmed] == ["sales@example.com"]
    confirmed = cc_http.get("/account/emails", params={"confirm_status": "CONFIRMED"}).json()
    assert [e["email_address"] for e in confirmed] == ["owner@example.com"]
    one = cc_http.get("/account/emails", params={"email_address": "sales@example.com"}).json()
    assert [e["email_id"] for e in one] == [created["email_id"]]


def test_a_confirmed_new_email_can_send_campaigns(
    cc_http: httpx.Client, cc_sandbox: Sandbox, cc_account: AccountData
) -> None:
    cc_http.post("/account/emails", json={"email_address": "news@example.com"})
    body = campaign_body("From news", from_email="news@example.com")
    assert cc_http.post("/emails", json=body).status_code == 400
    confirm_account_email(cc_account, "news@example.com", cc_sandbox.clock.now())
    listed = cc_http.get("/account/emails", params={"email_address": "news@example.com"})
    assert listed.json()[0]["confirm_status"] == "CONFIRMED"
    assert cc_http.post("/emails", json=body).status_code == 200


@pytest.mark.parametrize(
    "params",
    [
        {"confirm_status": "MAYBE"},
        {"role_code": "BOSS"},
        {"confirm_status": "C", "role_code": "C"},
    ],
)
def test_account_email_filters_are_validated(cc_http: httpx.Client, params: dict[str, str]) -> None:
    response = cc_http.get("/account/emails", params=params)
    assert response.status_code == 400


def test_role_code_filter(cc_http: httpx.Client) -> None:
    billing = cc_http.get("/account/emails", params={"role_code": "B"}).json()
    assert [e["email_address"] for e in billing] == ["owner@example.com"]
    cc_http.post("/account/emails", json={"email_address": "other@example.com"})
    other = cc_http.get("/account/emails", params={"role_code": "OTHER"}).json()
    assert other == []


@pytest.mark.parametrize(
    "body",
    [{}, {"email_address": "nope"}, {"email_address": "a" * 75 + "@example.com"}, {"x": 1}],
)
def test_adding_an_invalid_account_email_is_400(
    cc_http: httpx.Client, body: dict[str, Any]
) -> None:
    assert cc_http.post("/account/emails", json=body).status_code == 400


# -- privileges and scopes --------------------------------------------------------------------
def test_the_owner_holds_every_privilege(cc_http: httpx.Client) -> None:
    response = cc_http.get("/account/user/privileges")
    assert response.status_code == 200
    privileges = response.json()
    names = {p["privilege_name"] for p in privileges}
    for needed in (
        "contacts:read",
        "contacts:write",
        "contacts:lists:read",
        "contacts:lists:write",
        "campaign:read",
        "campaign:write",
        "campaign:send",
        "campaign:delete",
        "ui:campaign:metrics",
        "account:read",
        "account:update",
    ):
        assert needed in names
    ids = [p["privilege_id"] for p in privileges]
    assert len(ids) == len(set(ids))


def test_account_routes_need_account_scopes(
    cc_sandbox: Sandbox, cc_app: App, cc_account: AccountData
) -> None:
    token = cc_sandbox.issuer.issue(
        cc_sandbox.state, cc_sandbox.clock, cc_app, cc_account.account.account_id, "contact_data"
    )
    with httpx.Client(
        base_url=cc_sandbox.base_url + "/v3",
        transport=SandboxTransport(cc_sandbox),
        headers={"Authorization": f"Bearer {token['access_token']}"},
    ) as client:
        assert client.get("/account/summary").status_code == 403
        assert client.put("/account/summary", json={"website": "x"}).status_code == 403
        assert client.get("/emails").status_code == 403
        assert client.get("/account/user/privileges").status_code == 200


@pytest.mark.parametrize("payload", [b"null", b"[]", b'"x"', b"{", b"\xff"])
def test_junk_bodies_are_400(cc_http: httpx.Client, payload: bytes) -> None:
    headers = {"Content-Type": "application/json"}
    for method, path in (
        ("PUT", "/account/summary"),
        ("PUT", "/account/summary/physical_address"),
        ("POST", "/account/summary/physical_address"),
        ("POST", "/account/emails"),
    ):
        response = cc_http.request(method, path, content=payload, headers=headers)
        assert response.status_code == 400, (method, path, response.text)
