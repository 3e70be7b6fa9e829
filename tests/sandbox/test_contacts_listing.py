"""``GET /contacts``: filters, include, include_count and cursor pagination.

CC-V3-FACTS §2 (pagination), §3.2 (query parameters) and §11 facts 6 and 7. Remember that
every new account already holds one contact, its owner (``owner@example.com``).
"""

from __future__ import annotations

import base64
import uuid
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from ccbridge.sandbox import Sandbox
from ccbridge.sandbox.clock import iso
from ccbridge.sandbox.state import AccountData, Contact, ContactList, EmailAddress, Segment, Tag

OWNER = "owner@example.com"


def _error_text(response: httpx.Response) -> str:
    body = response.json()
    assert isinstance(body, list) and body, body
    return str(body[0]["error_message"])


def _create(client: httpx.Client, address: str, **extra: Any) -> str:
    body = {
        "create_source": "Account",
        "email_address": {"address": address, "permission_to_send": "implicit"},
        **extra,
    }
    response = client.post("/contacts", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["contact_id"])


def _add_list(account: AccountData, sandbox: Sandbox, name: str) -> str:
    now = sandbox.clock.now()
    item = ContactList(list_id=str(uuid.uuid4()), name=name, created_at=now, updated_at=now)
    account.lists[item.list_id] = item
    return item.list_id


def _add_tag(account: AccountData, sandbox: Sandbox, name: str) -> str:
    now = sandbox.clock.now()
    tag = Tag(tag_id=str(uuid.uuid4()), name=name, created_at=now, updated_at=now)
    account.tags[tag.tag_id] = tag
    return tag.tag_id


def _walk(client: httpx.Client, params: dict[str, Any]) -> list[dict[str, Any]]:
    """Every page of a listing, following relative next links; returns the pages."""
    pages = [client.get("/contacts", params=params).json()]
    while "next" in pages[-1].get("_links", {}):
        href = pages[-1]["_links"]["next"]["href"]
        assert href.startswith("/v3/contacts?cursor="), href
        assert len(pages) < 100, "pagination does not end"
        response = client.get(href.removeprefix("/v3"))
        assert response.status_code == 200, response.text
        pages.append(response.json())
    return pages


def _ids(body: dict[str, Any]) -> list[str]:
    return [c["contact_id"] for c in body["contacts"]]


def _emails(body: dict[str, Any]) -> set[str]:
    return {c["email_address"]["address"] for c in body["contacts"] if "email_address" in c}


# -- pagination ----------------------------------------------------------------------------
def test_pages_follow_relative_next_links_and_end_without_one(cc_http: httpx.Client) -> None:
    created = [_create(cc_http, f"p{i}@example.com") for i in range(11)]
    pages = _walk(cc_http, {"limit": 5})
    assert [len(page["contacts"]) for page in pages] == [5, 5, 2]  # 11 + the owner
    assert "_links" not in pages[-1]
    seen = [cid for page in pages for cid in _ids(page)]
    assert len(seen) == len(set(seen)) == 12
    assert set(created) <= set(seen)


def test_cursor_is_opaque_base64_of_the_query(cc_http: httpx.Client) -> None:
    for i in range(3):
        _create(cc_http, f"c{i}@example.com")
    href = cc_http.get("/contacts", params={"limit": 2}).json()["_links"]["next"]["href"]
    query = parse_qs(urlsplit(href).query)
    assert list(query) == ["cursor"]
    cursor = query["cursor"][0]
    decoded = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    assert "limit=2" in decoded


def test_exactly_full_last_page_has_no_next_link(cc_http: httpx.Client) -> None:
    for i in range(3):
        _create(cc_http, f"full{i}@example.com")
    pages = _walk(cc_http, {"limit": 2})
    assert [len(page["contacts"]) for page in pages] == [2, 2]
    assert "_links" not in pages[-1]


def test_filters_and_include_survive_across_pages(
    cc_http: httpx.Client, cc_account: AccountData, cc_sandbox: Sandbox
) -> None:
    wanted = _add_list(cc_account, cc_sandbox, "Wanted")
    members = set()
    for i in range(9):
        lists = [wanted] if i % 2 == 0 else []
        cid = _create(cc_http, f"m{i}@example.com", list_memberships=lists)
        if lists:
            members.add(cid)
    pages = _walk(cc_http, {"lists": wanted, "limit": 2, "include": "list_memberships"})
    seen = [c for page in pages for c in page["contacts"]]
    assert {c["contact_id"] for c in seen} == members
    assert all(c["list_memberships"] == [wanted] for c in seen)
    assert len(pages) == 3


def test_invalid_cursor_is_400(cc_http: httpx.Client) -> None:
    response = cc_http.get("/contacts", params={"cursor": "!!!not-a-cursor"})
    assert response.status_code == 400
    assert "cursor" in _error_text(response)


def test_default_limit_is_50(cc_http: httpx.Client, cc_account: AccountData) -> None:
    _bulk_add(cc_account, 60)
    body = cc_http.get("/contacts").json()
    assert len(body["contacts"]) == 50
    assert "next" in body["_links"]


@pytest.mark.parametrize("limit", ["0", "501", "ten", "-1"])
def test_limit_outside_1_to_500_is_400(cc_http: httpx.Client, limit: str) -> None:
    response = cc_http.get("/contacts", params={"limit": limit})
    assert response.status_code == 400
    assert "limit" in _error_text(response)


def _bulk_add(account: AccountData, n: int) -> list[str]:
    """Contacts stored directly in the account: fast, and the same as API-created ones."""
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    ids = []
    for i in range(n):
        contact = Contact(
            contact_id=str(uuid.uuid4()),
            sequence_id=account.take_sequence(),
            created_at=now,
            updated_at=now,
            create_source="Account",
            email_address=EmailAddress(
                address=f"bulk{i}@example.com",
                permission_to_send="implicit",
                created_at=now,
                updated_at=now,
                opt_in_source="Account",
                opt_in_date=now,
            ),
        )
        account.add_contact(contact)
        ids.append(contact.contact_id)
    return ids


def test_paging_1200_contacts_with_limit_500(
    cc_http: httpx.Client, cc_account: AccountData
) -> None:
    ids = _bulk_add(cc_account, 1200)
    pages = _walk(cc_http, {"limit": 500, "include_count": "true"})
    assert [len(page["contacts"]) for page in pages] == [500, 500, 201]
    assert all(page["contacts_count"] == 1201 for page in pages)
    seen = [cid for page in pages for cid in _ids(page)]
    assert len(set(seen)) == 1201
    assert set(ids) <= set(seen)


# -- status ---------------------------------------------------------------------------------
def test_status_filters(cc_http: httpx.Client) -> None:
    kept = _create(cc_http, "kept@example.com")
    deleted = _create(cc_http, "deleted@example.com")
    unsub = _create(cc_http, "unsub@example.com")
    cc_http.delete(f"/contacts/{deleted}")
    cc_http.put(
        f"/contacts/{unsub}",
        json={
            "update_source": "Contact",
            "email_address": {"address": "unsub@example.com", "permission_to_send": "unsubscribed"},
        },
    )

    def listed(status: str | None) -> set[str]:
        params = {"status": status} if status else {}
        return set(_ids(cc_http.get("/contacts", params=params).json()))

    default = listed(None)
    assert {kept, unsub} <= default and deleted not in default
    assert {kept, unsub, deleted} <= listed("all")
    assert listed("deleted") == {deleted}
    assert listed("unsubscribed") == {unsub}
    assert deleted not in listed("active") and kept in listed("active")
    assert listed("deleted,unsubscribed") == {deleted, unsub}


def test_unknown_status_is_400(cc_http: httpx.Client) -> None:
    response = cc_http.get("/contacts", params={"status": "explicit"})
    assert response.status_code == 400
    assert "status" in _error_text(response)


# -- email --------------------------------------------------------------------------------
def test_email_is_exact_and_case_insensitive(cc_http: httpx.Client) -> None:
    cid = _create(cc_http, "Case@Example.com")
    _create(cc_http, "case2@example.com")
    body = cc_http.get("/contacts", params={"email": "case@example.COM"}).json()
    assert _ids(body) == [cid]


def test_email_without_match_is_200_with_empty_contacts(cc_http: httpx.Client) -> None:
    response = cc_http.get("/contacts", params={"email": "nobody@example.com"})
    assert response.status_code == 200
    assert response.json() == {"contacts": []}


def test_email_of_deleted_contact_needs_status_all(cc_http: httpx.Client) -> None:
    cid = _create(cc_http, "hidden@example.com")
    cc_http.delete(f"/contacts/{cid}")
    assert cc_http.get("/contacts", params={"email": "hidden@example.com"}).json() == {
        "contacts": []
    }
    body = cc_http.get("/contacts", params={"email": "hidden@example.com", "status": "all"}).json()
    assert _ids(body) == [cid]


# -- lists, tags -------------------------------------------------------------------------------
def test_lists_filter_matches_any_given_list(
    cc_http: httpx.Client, cc_account: AccountData, cc_sandbox: Sandbox
) -> None:
    a = _add_list(cc_account, cc_sandbox, "A")
    b = _add_list(cc_account, cc_sandbox, "B")
    c = _add_list(cc_account, cc_sandbox, "C")
    in_a = _create(cc_http, "a@example.com", list_memberships=[a])
    in_b = _create(cc_http, "b@example.com", list_memberships=[b])
    _create(cc_http, "c@example.com", list_memberships=[c])
    body = cc_http.get("/contacts", params={"lists": f"{a},{b}"}).json()
    assert set(_ids(body)) == {in_a, in_b}


def test_lists_filter_limits(cc_http: httpx.Client) -> None:
    too_many = ",".join(str(uuid.uuid4()) for _ in range(26))
    response = cc_http.get("/contacts", params={"lists": too_many})
    assert response.status_code == 400
    assert "lists" in _error_text(response)
    response = cc_http.get("/contacts", params={"lists": "not-an-id"})
    assert response.status_code == 400
    assert "lists" in _error_text(response)


def test_tags_filter(cc_http: httpx.Client, cc_account: AccountData, cc_sandbox: Sandbox) -> None:
    vip = _add_tag(cc_account, cc_sandbox, "VIP")
    tagged = _create(cc_http, "vip@example.com", taggings=[vip])
    _create(cc_http, "plain@example.com")
    assert _ids(cc_http.get("/contacts", params={"tags": vip}).json()) == [tagged]
    too_many = ",".join(str(uuid.uuid4()) for _ in range(51))
    response = cc_http.get("/contacts", params={"tags": too_many})
    assert response.status_code == 400
    assert "tags" in _error_text(response)


# -- dates -----------------------------------------------------------------------------------
def test_created_and_updated_date_filters(cc_http: httpx.Client, cc_sandbox: Sandbox) -> None:
    early = _create(cc_http, "early@example.com")
    cc_sandbox.advance_clock(3600)
    middle = cc_sandbox.clock.now()
    cc_sandbox.advance_clock(3600)
    late = _create(cc_http, "late@example.com")
    after = set(_ids(cc_http.get("/contacts", params={"created_after": iso(middle)}).json()))
    assert after == {late}
    before = set(_ids(cc_http.get("/contacts", params={"created_before": iso(middle)}).json()))
    assert early in before and late not in before

    cc_sandbox.advance_clock(3600)
    mark = cc_sandbox.clock.now()
    cc_sandbox.advance_clock(60)
    cc_http.put(f"/contacts/{early}", json={"update_source": "Account", "first_name": "E"})
    updated = set(_ids(cc_http.get("/contacts", params={"updated_after": iso(mark)}).json()))
    assert updated == {early}


def test_updated_after_its_own_timestamp_excludes_the_contact(cc_http: httpx.Client) -> None:
    cid = _create(cc_http, "self@example.com")
    stamp = cc_http.get(f"/contacts/{cid}").json()["updated_at"]
    listed = set(_ids(cc_http.get("/contacts", params={"updated_after": stamp}).json()))
    assert cid not in listed


def test_optout_date_filters(cc_http: httpx.Client, cc_sandbox: Sandbox) -> None:
    stays = _create(cc_http, "stays@example.com")
    leaves = _create(cc_http, "leaves@example.com")
    mark = cc_sandbox.clock.now() - timedelta(seconds=1)
    cc_http.put(
        f"/contacts/{leaves}",
        json={
            "update_source": "Contact",
            "email_address": {
                "address": "leaves@example.com",
                "permission_to_send": "unsubscribed",
            },
        },
    )
    listed = _ids(cc_http.get("/contacts", params={"optout_after": iso(mark)}).json())
    assert listed == [leaves]
    assert stays not in _ids(
        cc_http.get("/contacts", params={"optout_before": "2999-01-01T00:00:00Z"}).json()
    )


def test_bad_date_is_400_naming_the_parameter(cc_http: httpx.Client) -> None:
    response = cc_http.get("/contacts", params={"updated_after": "yesterday"})
    assert response.status_code == 400
    assert "updated_after" in _error_text(response)


# -- include, include_count ------------------------------------------------------------------
def test_include_adds_sub_resources_to_listed_contacts(
    cc_http: httpx.Client, cc_account: AccountData
) -> None:
    plain = cc_http.get("/contacts").json()["contacts"][0]
    assert "list_memberships" not in plain
    body = cc_http.get("/contacts", params={"include": "list_memberships,taggings"}).json()
    owner = body["contacts"][0]
    assert owner["list_memberships"] == [next(iter(cc_account.lists))]
    assert owner["taggings"] == []
    assert "notes" not in owner


def test_unknown_include_is_400(cc_http: httpx.Client) -> None:
    response = cc_http.get("/contacts", params={"include": "list_memberships,sms_history"})
    assert response.status_code == 400
    assert "sms_history" in _error_text(response)


def test_contacts_count_only_with_include_count(cc_http: httpx.Client) -> None:
    _create(cc_http, "count1@example.com")
    _create(cc_http, "count2@example.com")
    assert "contacts_count" not in cc_http.get("/contacts").json()
    body = cc_http.get("/contacts", params={"include_count": "true", "limit": 1}).json()
    assert body["contacts_count"] == 3
    assert len(body["contacts"]) == 1
    response = cc_http.get("/contacts", params={"include_count": "maybe"})
    assert response.status_code == 400
    assert "include_count" in _error_text(response)


# -- sms_status, segment_id --------------------------------------------------------------------
def test_sms_status_filter(cc_http: httpx.Client) -> None:
    response = cc_http.post(
        "/contacts",
        json={
            "create_source": "Contact",
            "first_name": "Texter",
            "sms_channel": {
                "full_sms_address": "17815551212",
                "sms_channel_consents": [
                    {"sms_consent_permission": "explicit", "consent_type": "promotional_sms"}
                ],
            },
        },
    )
    assert response.status_code == 201, response.text
    texter = response.json()["contact_id"]
    assert _ids(cc_http.get("/contacts", params={"sms_status": "explicit"}).json()) == [texter]
    not_set = _ids(cc_http.get("/contacts", params={"sms_status": "not_set"}).json())
    assert texter not in not_set and not_set
    response = cc_http.get("/contacts", params={"sms_status": "implicit"})
    assert response.status_code == 400
    assert "sms_status" in _error_text(response)


def test_segment_id_can_only_be_combined_with_limit(
    cc_http: httpx.Client, cc_account: AccountData, cc_sandbox: Sandbox
) -> None:
    now = cc_sandbox.clock.now()
    cc_account.segments[7] = Segment(
        segment_id=7, name="All", segment_criteria="{}", created_at=now, edited_at=now
    )
    kept = _create(cc_http, "seg@example.com")
    gone = _create(cc_http, "seg-gone@example.com")
    cc_http.delete(f"/contacts/{gone}")
    body = cc_http.get("/contacts", params={"segment_id": "7", "limit": 10}).json()
    assert kept in _ids(body) and gone not in _ids(body)
    response = cc_http.get("/contacts", params={"segment_id": "7", "status": "all"})
    assert response.status_code == 400
    assert "segment_id" in _error_text(response)
    assert cc_http.get("/contacts", params={"segment_id": "99"}).status_code == 404
    response = cc_http.get("/contacts", params={"segment_id": "abc"})
    assert response.status_code == 400
    assert "segment_id" in _error_text(response)
