"""Single-contact operations of the sandbox, checked against CC's documented behaviour.

CC-V3-FACTS §3.1 (resource and limits), §3.3 (POST, PUT, DELETE) and §11 facts 5, 8, 9.
Every response also passes the swagger conformance check of the ``cc_http`` fixture.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from ccbridge.sandbox import Sandbox
from ccbridge.sandbox.state import AccountData, CustomField, Tag


def _error_text(response: httpx.Response) -> str:
    body = response.json()
    assert isinstance(body, list) and body, body
    assert {"error_key", "error_message"} <= set(body[0])
    return str(body[0]["error_message"])


def _create(client: httpx.Client, address: str, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "create_source": "Account",
        "email_address": {"address": address, "permission_to_send": "implicit"},
        **extra,
    }
    response = client.post("/contacts", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def _default_list(account: AccountData) -> str:
    return next(iter(account.lists))


def _add_tag(account: AccountData, sandbox: Sandbox, name: str = "VIP") -> str:
    now = sandbox.clock.now()
    tag = Tag(tag_id=str(uuid.uuid4()), name=name, created_at=now, updated_at=now)
    account.tags[tag.tag_id] = tag
    return tag.tag_id


def _add_custom_field(account: AccountData, sandbox: Sandbox, label: str = "Car") -> str:
    now = sandbox.clock.now()
    field = CustomField(
        custom_field_id=str(uuid.uuid4()),
        label=label,
        name=label.lower(),
        type="string",
        created_at=now,
        updated_at=now,
    )
    account.custom_fields[field.custom_field_id] = field
    return field.custom_field_id


# -- POST /contacts ----------------------------------------------------------------------
def test_post_creates_contact_with_201_and_records_opt_in_source(cc_http: httpx.Client) -> None:
    response = cc_http.post(
        "/contacts",
        json={
            "create_source": "Contact",
            "first_name": "Debora",
            "last_name": "Lang",
            "email_address": {"address": "dlang@example.com", "permission_to_send": "explicit"},
        },
    )
    assert response.status_code == 201
    created = response.json()
    assert created["create_source"] == "Contact"
    assert created["email_address"]["permission_to_send"] == "explicit"
    assert created["email_address"]["opt_in_source"] == "Contact"
    assert "opt_in_date" in created["email_address"]
    fetched = cc_http.get(f"/contacts/{created['contact_id']}").json()
    assert fetched["first_name"] == "Debora"
    assert fetched["email_address"]["address"] == "dlang@example.com"


def test_post_requires_create_source(cc_http: httpx.Client) -> None:
    response = cc_http.post("/contacts", json={"email_address": {"address": "x@example.com"}})
    assert response.status_code == 400
    assert "create_source" in _error_text(response)


def test_post_rejects_create_source_other_than_contact_or_account(cc_http: httpx.Client) -> None:
    response = cc_http.post("/contacts", json={"create_source": "System", "first_name": "A"})
    assert response.status_code == 400
    assert "create_source" in _error_text(response)


def test_post_needs_a_name_email_or_sms(cc_http: httpx.Client) -> None:
    response = cc_http.post("/contacts", json={"create_source": "Account", "job_title": "Chef"})
    assert response.status_code == 400
    assert "email_address" in _error_text(response)


def test_post_accepts_a_contact_with_only_a_name(cc_http: httpx.Client) -> None:
    response = cc_http.post("/contacts", json={"create_source": "Account", "last_name": "Solo"})
    assert response.status_code == 201
    assert "email_address" not in response.json()


def test_post_duplicate_email_is_409_case_insensitively(cc_http: httpx.Client) -> None:
    first = _create(cc_http, "dup@example.com")
    response = cc_http.post(
        "/contacts",
        json={"create_source": "Account", "email_address": {"address": "DUP@example.com"}},
    )
    assert response.status_code == 409
    assert first["contact_id"] in _error_text(response)


def test_post_email_of_a_deleted_contact_is_409(cc_http: httpx.Client) -> None:
    gone = _create(cc_http, "gone@example.com")
    assert cc_http.delete(f"/contacts/{gone['contact_id']}").status_code == 204
    response = cc_http.post(
        "/contacts",
        json={"create_source": "Account", "email_address": {"address": "gone@example.com"}},
    )
    assert response.status_code == 409
    assert "email_address" in _error_text(response)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("first_name", "x" * 51),
        ("last_name", "x" * 51),
        ("job_title", "x" * 51),
        ("company_name", "x" * 51),
        ("anniversary", "2020-01-011"),
        ("phone_numbers", [{"phone_number": f"555-000{i}", "kind": "home"} for i in range(4)]),
        ("phone_numbers", [{"phone_number": "1" * 26, "kind": "home"}]),
        ("street_addresses", [{"kind": "home", "city": "Boston"} for _ in range(4)]),
        ("street_addresses", [{"kind": "home", "street": "s" * 256}]),
        ("street_addresses", [{"kind": "home", "city": "c" * 51}]),
        ("notes", [{"content": "n"} for _ in range(151)]),
        ("notes", [{"content": "n" * 2001}]),
        ("list_memberships", [str(uuid.uuid4()) for _ in range(51)]),
        ("taggings", [str(uuid.uuid4()) for _ in range(51)]),
    ],
)
def test_post_limits_give_400_naming_the_field(
    cc_http: httpx.Client, field: str, value: Any
) -> None:
    response = cc_http.post(
        "/contacts", json={"create_source": "Account", "first_name": "A", field: value}
    )
    assert response.status_code == 400
    assert field in _error_text(response)


def test_post_email_longer_than_80_is_400(cc_http: httpx.Client) -> None:
    address = "a" * 70 + "@example.com"  # 82 characters
    response = cc_http.post(
        "/contacts", json={"create_source": "Account", "email_address": {"address": address}}
    )
    assert response.status_code == 400
    assert "email_address.address" in _error_text(response)


def test_post_invalid_email_is_400(cc_http: httpx.Client) -> None:
    response = cc_http.post(
        "/contacts", json={"create_source": "Account", "email_address": {"address": "nope"}}
    )
    assert response.status_code == 400
    assert "email_address.address" in _error_text(response)


def test_post_unknown_permission_is_400(cc_http: httpx.Client) -> None:
    response = cc_http.post(
        "/contacts",
        json={
            "create_source": "Account",
            "email_address": {"address": "p@example.com", "permission_to_send": "maybe"},
        },
    )
    assert response.status_code == 400
    assert "permission_to_send" in _error_text(response)


def test_post_custom_fields_limits(
    cc_http: httpx.Client, cc_account: AccountData, cc_sandbox: Sandbox
) -> None:
    field_ids = [_add_custom_field(cc_account, cc_sandbox, f"F{i}") for i in range(26)]
    too_many = [{"custom_field_id": fid, "value": "v"} for fid in field_ids]
    response = cc_http.post(
        "/contacts", json={"create_source": "Account", "first_name": "A", "custom_fields": too_many}
    )
    assert response.status_code == 400
    assert "custom_fields" in _error_text(response)
    long_value = [{"custom_field_id": field_ids[0], "value": "v" * 256}]
    response = cc_http.post(
        "/contacts",
        json={"create_source": "Account", "first_name": "A", "custom_fields": long_value},
    )
    assert response.status_code == 400
    assert "custom_fields[0].value" in _error_text(response)


def test_post_custom_field_must_exist_in_account(cc_http: httpx.Client) -> None:
    unknown = str(uuid.uuid4())
    response = cc_http.post(
        "/contacts",
        json={
            "create_source": "Account",
            "first_name": "A",
            "custom_fields": [{"custom_field_id": unknown, "value": "x"}],
        },
    )
    assert response.status_code == 400
    assert unknown in _error_text(response)


def test_post_unknown_list_id_is_400_naming_list_memberships(cc_http: httpx.Client) -> None:
    response = cc_http.post(
        "/contacts",
        json={
            "create_source": "Account",
            "first_name": "A",
            "list_memberships": [str(uuid.uuid4())],
        },
    )
    assert response.status_code == 400
    assert "list_memberships" in _error_text(response)


def test_post_malformed_list_id_is_400(cc_http: httpx.Client) -> None:
    response = cc_http.post(
        "/contacts",
        json={"create_source": "Account", "first_name": "A", "list_memberships": ["nope"]},
    )
    assert response.status_code == 400
    assert "list_memberships[0]" in _error_text(response)


def test_post_accepts_lists_tags_and_sub_resources(
    cc_http: httpx.Client, cc_account: AccountData, cc_sandbox: Sandbox
) -> None:
    list_id = _default_list(cc_account)
    tag_id = _add_tag(cc_account, cc_sandbox)
    field_id = _add_custom_field(cc_account, cc_sandbox)
    created = _create(
        cc_http,
        "full@example.com",
        list_memberships=[list_id],
        taggings=[tag_id],
        custom_fields=[{"custom_field_id": field_id, "value": "Tesla"}],
        phone_numbers=[{"phone_number": "+1-555-555-5555", "kind": "mobile"}],
        street_addresses=[{"kind": "work", "street": "1 Main St", "city": "Waltham"}],
        notes=[{"content": "Met at the fair"}],
    )
    include = "custom_fields,list_memberships,phone_numbers,street_addresses,taggings,notes"
    fetched = cc_http.get(f"/contacts/{created['contact_id']}", params={"include": include}).json()
    assert fetched["list_memberships"] == [list_id]
    assert fetched["taggings"] == [tag_id]
    assert fetched["custom_fields"] == [{"custom_field_id": field_id, "value": "Tesla"}]
    assert fetched["phone_numbers"][0]["phone_number"] == "+1-555-555-5555"
    assert fetched["phone_numbers"][0]["kind"] == "mobile"
    assert fetched["street_addresses"][0]["city"] == "Waltham"
    assert fetched["notes"][0]["content"] == "Met at the fair"


def test_post_unknown_tag_is_400(cc_http: httpx.Client) -> None:
    response = cc_http.post(
        "/contacts",
        json={"create_source": "Account", "first_name": "A", "taggings": [str(uuid.uuid4())]},
    )
    assert response.status_code == 400
    assert "taggings" in _error_text(response)


def test_post_unknown_field_is_400_naming_it(cc_http: httpx.Client) -> None:
    response = cc_http.post(
        "/contacts", json={"create_source": "Account", "first_name": "A", "nickname": "Al"}
    )
    assert response.status_code == 400
    assert "nickname" in _error_text(response)


def test_post_birthday_needs_month_and_day(cc_http: httpx.Client) -> None:
    response = cc_http.post(
        "/contacts", json={"create_source": "Account", "first_name": "A", "birthday_month": 3}
    )
    assert response.status_code == 400
    assert "birthday_day" in _error_text(response)
    response = cc_http.post(
        "/contacts",
        json={
            "create_source": "Account",
            "first_name": "A",
            "birthday_month": 13,
            "birthday_day": 1,
        },
    )
    assert response.status_code == 400
    assert "birthday_month" in _error_text(response)


@pytest.mark.parametrize(
    "value", ["11/15/2006", "2006/11/15", "2006-11-15", "1-5-2006", "2006-1-5"]
)
def test_post_accepts_cc_anniversary_layouts(cc_http: httpx.Client, value: str) -> None:
    response = cc_http.post(
        "/contacts", json={"create_source": "Account", "first_name": "A", "anniversary": value}
    )
    assert response.status_code == 201
    assert response.json()["anniversary"] == value


@pytest.mark.parametrize("value", ["15.11.2006", "2006-13-01", "Nov 5"])
def test_post_rejects_other_anniversary_values(cc_http: httpx.Client, value: str) -> None:
    response = cc_http.post(
        "/contacts", json={"create_source": "Account", "first_name": "A", "anniversary": value}
    )
    assert response.status_code == 400
    assert "anniversary" in _error_text(response)


def test_malformed_json_is_400(cc_http: httpx.Client) -> None:
    response = cc_http.post(
        "/contacts", content=b'{"create_source": ', headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert "JSON" in _error_text(response)


def test_wrong_content_type_is_415(cc_http: httpx.Client) -> None:
    response = cc_http.post(
        "/contacts", content=b"first_name=A", headers={"content-type": "text/plain"}
    )
    assert response.status_code == 415


def test_body_that_is_not_an_object_is_400(cc_http: httpx.Client) -> None:
    response = cc_http.post("/contacts", json=[{"first_name": "A"}])
    assert response.status_code == 400


# -- GET /contacts/{id} -----------------------------------------------------------------
def test_sub_resources_appear_only_when_included(
    cc_http: httpx.Client, cc_account: AccountData
) -> None:
    created = _create(cc_http, "inc@example.com", list_memberships=[_default_list(cc_account)])
    plain = cc_http.get(f"/contacts/{created['contact_id']}").json()
    for name in ("list_memberships", "custom_fields", "phone_numbers", "taggings", "notes"):
        assert name not in plain
    with_lists = cc_http.get(
        f"/contacts/{created['contact_id']}", params={"include": "list_memberships"}
    ).json()
    assert with_lists["list_memberships"] == [_default_list(cc_account)]
    assert "taggings" not in with_lists


def test_unknown_include_value_is_400(cc_http: httpx.Client) -> None:
    created = _create(cc_http, "bad-include@example.com")
    response = cc_http.get(f"/contacts/{created['contact_id']}", params={"include": "friends"})
    assert response.status_code == 400
    assert "include" in _error_text(response)


def test_malformed_contact_id_is_404(cc_http: httpx.Client) -> None:
    response = cc_http.get("/contacts/not-a-uuid")
    assert response.status_code == 404
    assert "contact_id" in _error_text(response)


def test_unknown_contact_id_is_404(cc_http: httpx.Client) -> None:
    assert cc_http.get(f"/contacts/{uuid.uuid4()}").status_code == 404
    assert (
        cc_http.put(f"/contacts/{uuid.uuid4()}", json={"update_source": "Account"}).status_code
        == 404
    )
    assert cc_http.delete(f"/contacts/{uuid.uuid4()}").status_code == 404


# -- PUT /contacts/{id} ------------------------------------------------------------------
def test_put_requires_update_source(cc_http: httpx.Client) -> None:
    created = _create(cc_http, "put@example.com")
    response = cc_http.put(f"/contacts/{created['contact_id']}", json={"first_name": "B"})
    assert response.status_code == 400
    assert "update_source" in _error_text(response)


def test_put_nulls_omitted_properties_and_keeps_omitted_sub_resources(
    cc_http: httpx.Client, cc_account: AccountData
) -> None:
    list_id = _default_list(cc_account)
    created = _create(
        cc_http,
        "keep@example.com",
        first_name="Ann",
        job_title="Chef",
        list_memberships=[list_id],
        phone_numbers=[{"phone_number": "555-1212", "kind": "home"}],
    )
    response = cc_http.put(
        f"/contacts/{created['contact_id']}",
        json={"update_source": "Account", "first_name": "Anna"},
    )
    assert response.status_code == 200
    fetched = cc_http.get(
        f"/contacts/{created['contact_id']}", params={"include": "list_memberships,phone_numbers"}
    ).json()
    assert fetched["first_name"] == "Anna"
    assert "job_title" not in fetched  # overwritten with null
    assert fetched["update_source"] == "Account"
    assert fetched["list_memberships"] == [list_id]  # sub-resources survive
    assert fetched["phone_numbers"][0]["phone_number"] == "555-1212"
    assert fetched["email_address"]["address"] == "keep@example.com"


def test_put_replaces_sub_resources_it_carries(
    cc_http: httpx.Client, cc_account: AccountData
) -> None:
    created = _create(
        cc_http,
        "replace@example.com",
        list_memberships=[_default_list(cc_account)],
        phone_numbers=[{"phone_number": "555-1212", "kind": "home"}],
    )
    response = cc_http.put(
        f"/contacts/{created['contact_id']}",
        json={
            "update_source": "Account",
            "list_memberships": [],
            "phone_numbers": [{"phone_number": "555-9999", "kind": "work"}],
        },
    )
    assert response.status_code == 200
    assert response.json()["list_memberships"] == []
    assert [p["phone_number"] for p in response.json()["phone_numbers"]] == ["555-9999"]


def test_put_round_trip_of_a_get_body_is_accepted(cc_http: httpx.Client) -> None:
    created = _create(
        cc_http, "round@example.com", phone_numbers=[{"phone_number": "555-1", "kind": "home"}]
    )
    body = cc_http.get(
        f"/contacts/{created['contact_id']}", params={"include": "phone_numbers"}
    ).json()
    body["update_source"] = "Account"
    body["first_name"] = "Round"
    response = cc_http.put(f"/contacts/{created['contact_id']}", json=body)
    assert response.status_code == 200, response.text
    assert response.json()["first_name"] == "Round"
    old_phone = created["phone_numbers"][0]["phone_number_id"]
    assert response.json()["phone_numbers"][0]["phone_number_id"] == old_phone


def test_put_revives_a_deleted_contact(cc_http: httpx.Client) -> None:
    created = _create(cc_http, "revive@example.com")
    cc_http.delete(f"/contacts/{created['contact_id']}")
    response = cc_http.put(
        f"/contacts/{created['contact_id']}",
        json={"update_source": "Account", "email_address": {"address": "revive@example.com"}},
    )
    assert response.status_code == 200
    assert "deleted_at" not in response.json()
    listed = cc_http.get("/contacts", params={"email": "revive@example.com"}).json()
    assert [c["contact_id"] for c in listed["contacts"]] == [created["contact_id"]]


def test_put_restore_of_deleted_contact_needs_update_source_account(
    cc_http: httpx.Client,
) -> None:
    created = _create(cc_http, "restore@example.com")
    cc_http.delete(f"/contacts/{created['contact_id']}")
    response = cc_http.put(
        f"/contacts/{created['contact_id']}", json={"update_source": "Contact", "first_name": "R"}
    )
    assert response.status_code == 400
    assert "update_source" in _error_text(response)


def test_put_unsubscribe_records_source_date_and_reason(cc_http: httpx.Client) -> None:
    created = _create(cc_http, "bye@example.com")
    response = cc_http.put(
        f"/contacts/{created['contact_id']}",
        json={
            "update_source": "Contact",
            "email_address": {
                "address": "bye@example.com",
                "permission_to_send": "unsubscribed",
                "opt_out_reason": "Too many emails",
            },
        },
    )
    assert response.status_code == 200
    email = response.json()["email_address"]
    assert email["permission_to_send"] == "unsubscribed"
    assert email["opt_out_source"] == "Contact"
    assert email["opt_out_reason"] == "Too many emails"
    assert "opt_out_date" in email
    assert email["opt_in_source"] == "Account"  # never changes after creation


def test_put_opt_out_reason_longer_than_255_is_400(cc_http: httpx.Client) -> None:
    created = _create(cc_http, "reason@example.com")
    response = cc_http.put(
        f"/contacts/{created['contact_id']}",
        json={
            "update_source": "Contact",
            "email_address": {
                "address": "reason@example.com",
                "permission_to_send": "unsubscribed",
                "opt_out_reason": "r" * 256,
            },
        },
    )
    assert response.status_code == 400
    assert "opt_out_reason" in _error_text(response)


def test_put_cannot_change_opt_in_source(cc_http: httpx.Client) -> None:
    created = _create(cc_http, "source@example.com")  # implicit, opted in by Account
    response = cc_http.put(
        f"/contacts/{created['contact_id']}",
        json={
            "update_source": "Contact",
            "email_address": {
                "address": "source@example.com",
                "permission_to_send": "explicit",
                "opt_in_source": "Contact",
            },
        },
    )
    assert response.status_code == 400
    assert "opt_in_source" in _error_text(response)
    response = cc_http.put(
        f"/contacts/{created['contact_id']}",
        json={
            "update_source": "Contact",
            "email_address": {"address": "source@example.com", "permission_to_send": "explicit"},
        },
    )
    assert response.status_code == 200
    assert response.json()["email_address"]["opt_in_source"] == "Account"


def test_put_account_cannot_opt_back_in_a_contact_who_unsubscribed(
    cc_http: httpx.Client,
) -> None:
    created = _create(cc_http, "optout@example.com")
    cid = created["contact_id"]
    cc_http.put(
        f"/contacts/{cid}",
        json={
            "update_source": "Contact",
            "email_address": {
                "address": "optout@example.com",
                "permission_to_send": "unsubscribed",
            },
        },
    )
    again = {"address": "optout@example.com", "permission_to_send": "explicit"}
    response = cc_http.put(
        f"/contacts/{cid}", json={"update_source": "Account", "email_address": again}
    )
    assert response.status_code == 409
    response = cc_http.put(
        f"/contacts/{cid}", json={"update_source": "Contact", "email_address": again}
    )
    assert response.status_code == 200
    email = response.json()["email_address"]
    assert email["permission_to_send"] == "explicit"
    assert "opt_out_source" not in email


def test_put_email_change_must_stay_unique(cc_http: httpx.Client) -> None:
    first = _create(cc_http, "one@example.com")
    second = _create(cc_http, "two@example.com")
    response = cc_http.put(
        f"/contacts/{second['contact_id']}",
        json={"update_source": "Account", "email_address": {"address": "ONE@example.com"}},
    )
    assert response.status_code == 409
    assert first["contact_id"] in _error_text(response)


def test_put_email_change_moves_the_email_index(cc_http: httpx.Client) -> None:
    created = _create(cc_http, "old@example.com")
    response = cc_http.put(
        f"/contacts/{created['contact_id']}",
        json={"update_source": "Account", "email_address": {"address": "new@example.com"}},
    )
    assert response.status_code == 200
    found = cc_http.get("/contacts", params={"email": "new@example.com"}).json()["contacts"]
    assert [c["contact_id"] for c in found] == [created["contact_id"]]
    assert cc_http.get("/contacts", params={"email": "old@example.com"}).json()["contacts"] == []
    _create(cc_http, "old@example.com")  # the old address is free again


def test_put_updates_updated_at(cc_http: httpx.Client, cc_sandbox: Sandbox) -> None:
    created = _create(cc_http, "time@example.com")
    cc_sandbox.advance_clock(3600)
    updated = cc_http.put(
        f"/contacts/{created['contact_id']}", json={"update_source": "Account", "first_name": "T"}
    ).json()
    assert updated["updated_at"] > created["updated_at"]
    assert updated["created_at"] == created["created_at"]


def test_put_cannot_change_create_source(cc_http: httpx.Client) -> None:
    created = _create(cc_http, "cs@example.com")
    response = cc_http.put(
        f"/contacts/{created['contact_id']}",
        json={"update_source": "Account", "create_source": "Contact", "first_name": "C"},
    )
    assert response.status_code == 400
    assert "create_source" in _error_text(response)


# -- DELETE /contacts/{id} ------------------------------------------------------------------
def test_delete_hides_contact_but_keeps_it_retrievable(
    cc_http: httpx.Client, cc_account: AccountData
) -> None:
    created = _create(cc_http, "del@example.com", list_memberships=[_default_list(cc_account)])
    response = cc_http.delete(f"/contacts/{created['contact_id']}")
    assert response.status_code == 204
    assert response.content == b""
    default = cc_http.get("/contacts", params={"limit": 500}).json()["contacts"]
    assert created["contact_id"] not in {c["contact_id"] for c in default}
    everything = cc_http.get("/contacts", params={"status": "all", "limit": 500}).json()
    deleted = [c for c in everything["contacts"] if c["contact_id"] == created["contact_id"]]
    assert len(deleted) == 1
    assert len(deleted[0]["deleted_at"]) == len("2016-07-08")  # a bare date
    fetched = cc_http.get(
        f"/contacts/{created['contact_id']}", params={"include": "list_memberships"}
    ).json()
    assert "deleted_at" in fetched
    assert fetched["list_memberships"] == []  # deleting strips list memberships
