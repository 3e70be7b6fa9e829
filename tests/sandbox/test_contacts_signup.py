"""sign_up_form, consent counts, resubscribe and V2 id cross-references.

CC-V3-FACTS §3.3, §8 and §11 fact 10: sign_up_form creates (201) or partially updates
(200), always leaves the contact explicit (pending_confirmation for new contacts under
Confirmed Opt-In) even when it was unsubscribed, appends lists and revives deleted
contacts. Resubscribe emails go out once per contact.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest

from ccbridge.sandbox import Sandbox
from ccbridge.sandbox.state import AccountData, Contact, ContactList, CustomField


def _error_text(response: httpx.Response) -> str:
    body = response.json()
    assert isinstance(body, list) and body, body
    return str(body[0]["error_message"])


def _default_list(account: AccountData) -> str:
    return next(iter(account.lists))


def _add_list(account: AccountData, sandbox: Sandbox, name: str) -> str:
    now = sandbox.clock.now()
    item = ContactList(list_id=str(uuid.uuid4()), name=name, created_at=now, updated_at=now)
    account.lists[item.list_id] = item
    return item.list_id


def _add_custom_field(account: AccountData, sandbox: Sandbox, label: str) -> str:
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


def _sign_up(client: httpx.Client, **body: Any) -> httpx.Response:
    return client.post("/contacts/sign_up_form", json=body)


def _get(client: httpx.Client, contact_id: str, include: str = "list_memberships") -> Any:
    return client.get(f"/contacts/{contact_id}", params={"include": include}).json()


def _create(client: httpx.Client, address: str, permission: str = "implicit") -> str:
    response = client.post(
        "/contacts",
        json={
            "create_source": "Account",
            "email_address": {"address": address, "permission_to_send": permission},
        },
    )
    assert response.status_code == 201, response.text
    return str(response.json()["contact_id"])


def _unsubscribe(client: httpx.Client, contact_id: str, address: str) -> None:
    response = client.put(
        f"/contacts/{contact_id}",
        json={
            "update_source": "Contact",
            "email_address": {"address": address, "permission_to_send": "unsubscribed"},
        },
    )
    assert response.status_code == 200, response.text


# -- sign_up_form ----------------------------------------------------------------------------
def test_sign_up_form_creates_explicit_contact_with_201(
    cc_http: httpx.Client, cc_account: AccountData
) -> None:
    list_id = _default_list(cc_account)
    response = _sign_up(
        cc_http, email_address="new@example.com", first_name="Jake", list_memberships=[list_id]
    )
    assert response.status_code == 201
    body = response.json()
    assert body["action"] == "created"
    contact = _get(cc_http, body["contact_id"])
    assert contact["create_source"] == "Contact"
    assert contact["first_name"] == "Jake"
    assert contact["list_memberships"] == [list_id]
    assert contact["email_address"]["permission_to_send"] == "explicit"
    assert contact["email_address"]["opt_in_source"] == "Contact"


def test_sign_up_form_under_confirmed_opt_in_creates_pending_contacts(
    cc_http: httpx.Client, cc_account: AccountData
) -> None:
    cc_account.account.confirmed_opt_in = True
    response = _sign_up(
        cc_http, email_address="coi@example.com", list_memberships=[_default_list(cc_account)]
    )
    assert response.status_code == 201
    email = _get(cc_http, response.json()["contact_id"])["email_address"]
    assert email["permission_to_send"] == "pending_confirmation"


def test_sign_up_form_updates_partially_with_200_and_appends_lists(
    cc_http: httpx.Client, cc_account: AccountData, cc_sandbox: Sandbox
) -> None:
    first_list = _default_list(cc_account)
    second_list = _add_list(cc_account, cc_sandbox, "Newsletter")
    created = _sign_up(
        cc_http,
        email_address="again@example.com",
        first_name="Jake",
        job_title="Musician",
        list_memberships=[first_list],
    ).json()
    response = _sign_up(
        cc_http,
        email_address="AGAIN@example.com",
        last_name="Dodge",
        list_memberships=[second_list],
    )
    assert response.status_code == 200
    assert response.json() == {"contact_id": created["contact_id"], "action": "updated"}
    contact = _get(cc_http, created["contact_id"])
    assert contact["first_name"] == "Jake"  # not sent, so kept
    assert contact["job_title"] == "Musician"
    assert contact["last_name"] == "Dodge"
    assert contact["list_memberships"] == [first_list, second_list]


def test_sign_up_form_appends_custom_fields(
    cc_http: httpx.Client, cc_account: AccountData, cc_sandbox: Sandbox
) -> None:
    car = _add_custom_field(cc_account, cc_sandbox, "Car")
    pet = _add_custom_field(cc_account, cc_sandbox, "Pet")
    list_id = _default_list(cc_account)
    created = _sign_up(
        cc_http,
        email_address="cf@example.com",
        list_memberships=[list_id],
        custom_fields=[{"custom_field_id": car, "value": "Tesla"}],
    ).json()
    _sign_up(
        cc_http,
        email_address="cf@example.com",
        list_memberships=[list_id],
        custom_fields=[{"custom_field_id": pet, "value": "Cat"}],
    )
    fields = _get(cc_http, created["contact_id"], "custom_fields")["custom_fields"]
    assert {f["custom_field_id"]: f["value"] for f in fields} == {car: "Tesla", pet: "Cat"}


def test_sign_up_form_makes_an_unsubscribed_contact_explicit(
    cc_http: httpx.Client, cc_account: AccountData
) -> None:
    cid = _create(cc_http, "back@example.com")
    _unsubscribe(cc_http, cid, "back@example.com")
    response = _sign_up(
        cc_http, email_address="back@example.com", list_memberships=[_default_list(cc_account)]
    )
    assert response.status_code == 200
    email = _get(cc_http, cid)["email_address"]
    assert email["permission_to_send"] == "explicit"
    assert email["opt_in_source"] == "Account"  # recorded at creation, never changes
    assert "opt_out_source" not in email


def test_sign_up_form_revives_a_deleted_contact(
    cc_http: httpx.Client, cc_account: AccountData
) -> None:
    cid = _create(cc_http, "lazarus@example.com")
    cc_http.delete(f"/contacts/{cid}")
    response = _sign_up(
        cc_http, email_address="lazarus@example.com", list_memberships=[_default_list(cc_account)]
    )
    assert response.status_code == 200
    assert response.json()["contact_id"] == cid
    contact = _get(cc_http, cid)
    assert "deleted_at" not in contact
    assert contact["list_memberships"] == [_default_list(cc_account)]
    listed = cc_http.get("/contacts", params={"email": "lazarus@example.com"}).json()
    assert [c["contact_id"] for c in listed["contacts"]] == [cid]


def test_sign_up_form_email_is_a_string_of_at_most_50(
    cc_http: httpx.Client, cc_account: AccountData
) -> None:
    list_id = _default_list(cc_account)
    response = _sign_up(
        cc_http, email_address={"address": "obj@example.com"}, list_memberships=[list_id]
    )
    assert response.status_code == 400
    assert "email_address" in _error_text(response)
    long_address = "a" * 40 + "@example.com"  # 52 characters: fine on a contact, not here
    response = _sign_up(cc_http, email_address=long_address, list_memberships=[list_id])
    assert response.status_code == 400
    assert "email_address" in _error_text(response)


@pytest.mark.parametrize(
    "lists",
    [None, [], "not-a-list", [str(uuid.uuid4()) for _ in range(51)]],
)
def test_sign_up_form_needs_1_to_50_lists(cc_http: httpx.Client, lists: Any) -> None:
    body: dict[str, Any] = {"email_address": "lists@example.com"}
    if lists is not None:
        body["list_memberships"] = lists
    response = cc_http.post("/contacts/sign_up_form", json=body)
    assert response.status_code == 400
    assert "list_memberships" in _error_text(response)


def test_sign_up_form_unknown_list_is_400(cc_http: httpx.Client) -> None:
    unknown = str(uuid.uuid4())
    response = _sign_up(cc_http, email_address="u@example.com", list_memberships=[unknown])
    assert response.status_code == 400
    assert unknown in _error_text(response)


def test_sign_up_form_needs_email_or_sms(cc_http: httpx.Client, cc_account: AccountData) -> None:
    response = _sign_up(cc_http, first_name="Nobody", list_memberships=[_default_list(cc_account)])
    assert response.status_code == 400
    assert "email_address" in _error_text(response)


def test_sign_up_form_rejects_fields_of_the_contact_schema(
    cc_http: httpx.Client, cc_account: AccountData
) -> None:
    response = _sign_up(
        cc_http,
        email_address="perm@example.com",
        list_memberships=[_default_list(cc_account)],
        permission_to_send="implicit",
    )
    assert response.status_code == 400
    assert "permission_to_send" in _error_text(response)


def test_sign_up_form_street_address_needs_kind(
    cc_http: httpx.Client, cc_account: AccountData
) -> None:
    response = _sign_up(
        cc_http,
        email_address="street@example.com",
        list_memberships=[_default_list(cc_account)],
        street_address={"city": "Waltham"},
    )
    assert response.status_code == 400
    assert "street_address.kind" in _error_text(response)


def test_sign_up_form_stores_phone_and_address(
    cc_http: httpx.Client, cc_account: AccountData
) -> None:
    created = _sign_up(
        cc_http,
        email_address="home@example.com",
        list_memberships=[_default_list(cc_account)],
        phone_number="(555) 555-1212",
        street_address={"kind": "home", "street": "1601 Trapelo Rd", "city": "Waltham"},
    ).json()
    contact = _get(cc_http, created["contact_id"], "phone_numbers,street_addresses")
    assert [p["phone_number"] for p in contact["phone_numbers"]] == ["(555) 555-1212"]
    assert contact["street_addresses"][0]["street"] == "1601 Trapelo Rd"


# -- counts ----------------------------------------------------------------------------------
def test_counts_by_consent_state(cc_http: httpx.Client, cc_account: AccountData) -> None:
    _create(cc_http, "e@example.com", "explicit")
    _create(cc_http, "p@example.com", "pending_confirmation")
    unsub = _create(cc_http, "u@example.com", "explicit")
    _unsubscribe(cc_http, unsub, "u@example.com")
    deleted = _create(cc_http, "d@example.com", "explicit")
    cc_http.delete(f"/contacts/{deleted}")
    body = cc_http.get("/contacts/counts").json()
    # the owner contact is implicit; the deleted contact is not counted
    assert body == {"total": 4, "explicit": 1, "implicit": 1, "pending": 1, "unsubscribed": 1}


def test_new_subscriber_only_with_include_and_only_last_30_days(
    cc_http: httpx.Client, cc_sandbox: Sandbox, cc_account: AccountData
) -> None:
    # The owner subscribed 31 days ago on the sandbox clock (the token would not live
    # that long, so the past is written into the account instead of waited for).
    owner = next(iter(cc_account.contacts.values()))
    assert owner.email_address is not None
    owner.email_address.opt_in_date = cc_sandbox.clock.now() - timedelta(days=31)
    _create(cc_http, "fresh@example.com", "explicit")
    assert "new_subscriber" not in cc_http.get("/contacts/counts").json()
    body = cc_http.get("/contacts/counts", params={"include": "new_subscriber"}).json()
    assert body["new_subscriber"] == 1
    assert body["total"] == 2


def test_counts_unknown_include_is_400(cc_http: httpx.Client) -> None:
    response = cc_http.get("/contacts/counts", params={"include": "everything"})
    assert response.status_code == 400
    assert "include" in _error_text(response)


# -- resubscribe -------------------------------------------------------------------------------
def test_resubscribe_sends_once_then_409(
    cc_http: httpx.Client, cc_account: AccountData, cc_raw: httpx.Client
) -> None:
    cid = _create(cc_http, "resub@example.com")
    _unsubscribe(cc_http, cid, "resub@example.com")
    list_id = _default_list(cc_account)
    first = cc_http.put(f"/contacts/resubscribe/{cid}", json={"list_ids": [list_id]})
    assert first.status_code == 200
    # Nothing changes until the contact confirms through the email.
    contact = _get(cc_http, cid)
    assert contact["email_address"]["permission_to_send"] == "unsubscribed"
    assert contact["list_memberships"] == []
    second = cc_http.put(f"/contacts/resubscribe/{cid}", json={"list_ids": [list_id]})
    assert second.status_code == 409
    assert "once" in _error_text(second)

    confirmed = cc_raw.post(f"/_sandbox/contacts/{cid}/confirm_resubscribe")
    assert confirmed.status_code == 200
    contact = _get(cc_http, cid)
    assert contact["email_address"]["permission_to_send"] == "explicit"
    assert contact["list_memberships"] == [list_id]


def test_resubscribe_only_for_unsubscribed_contacts(
    cc_http: httpx.Client, cc_account: AccountData
) -> None:
    cid = _create(cc_http, "subscribed@example.com")
    response = cc_http.put(
        f"/contacts/resubscribe/{cid}", json={"list_ids": [_default_list(cc_account)]}
    )
    assert response.status_code == 409
    assert "unsubscribed" in _error_text(response)


def test_resubscribe_validates_its_body(cc_http: httpx.Client) -> None:
    cid = _create(cc_http, "body@example.com")
    _unsubscribe(cc_http, cid, "body@example.com")
    response = cc_http.put(f"/contacts/resubscribe/{cid}", json={})
    assert response.status_code == 400
    assert "list_ids" in _error_text(response)
    response = cc_http.put(f"/contacts/resubscribe/{cid}", json={"list_ids": [str(uuid.uuid4())]})
    assert response.status_code == 400
    assert "list_ids" in _error_text(response)
    assert cc_http.put("/contacts/resubscribe/nope", json={"list_ids": []}).status_code == 404


# -- contact_id_xrefs ---------------------------------------------------------------------------
def test_xrefs_map_sequence_ids_sorted_ascending(
    cc_http: httpx.Client, cc_account: AccountData, cc_sandbox: Sandbox
) -> None:
    # V2-era ids need not follow creation order: store contacts with descending ones.
    now = cc_sandbox.clock.now()
    by_id = {}
    for sequence_id in (900, 500, 700):
        contact = Contact(
            contact_id=str(uuid.uuid4()),
            sequence_id=sequence_id,
            created_at=now,
            updated_at=now,
            create_source="Account",
            last_name=f"V2 {sequence_id}",
        )
        cc_account.add_contact(contact)
        by_id[contact.contact_id] = sequence_id
    response = cc_http.get(
        "/contacts/contact_id_xrefs", params={"sequence_ids": "700,999999,900,500"}
    )
    assert response.status_code == 200
    xrefs = response.json()["xrefs"]
    assert [x["sequence_id"] for x in xrefs] == ["500", "700", "900"]  # strings, ascending
    assert {x["contact_id"]: int(x["sequence_id"]) for x in xrefs} == by_id


@pytest.mark.parametrize(
    "params",
    [{}, {"sequence_ids": ""}, {"sequence_ids": "12,abc"}, {"sequence_ids": ",".join(["1"] * 501)}],
)
def test_xrefs_bad_sequence_ids_are_400(cc_http: httpx.Client, params: dict[str, str]) -> None:
    response = cc_http.get("/contacts/contact_id_xrefs", params=params)
    assert response.status_code == 400
    assert "sequence_ids" in _error_text(response)
