"""Bulk activities that change many contacts: list memberships, tags and deletes.

Expected behaviour: CC-V3-FACTS §5 (sources, limits, response schemas), §8 (unsubscribed
contacts are never put back on lists), §10 (custom_fields_delete takes up to 100 ids
despite the swagger's maxItems: 0) and §11 fact 11.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from ccbridge.sandbox import Sandbox
from ccbridge.sandbox.state import AccountData, Contact, new_id
from tests.sandbox.test_bulk_activities import (
    error_text,
    finish,
    make_contact,
    make_custom_field,
    make_list,
    make_tag,
)


@pytest.fixture
def lists(cc_sandbox: Sandbox, cc_account: AccountData) -> tuple[str, str]:
    return make_list(cc_sandbox, cc_account, "Source"), make_list(cc_sandbox, cc_account, "Target")


@pytest.fixture
def people(
    cc_sandbox: Sandbox, cc_account: AccountData, lists: tuple[str, str]
) -> dict[str, Contact]:
    source, _ = lists
    return {
        "amy": make_contact(cc_sandbox, cc_account, "amy@example.com", lists=(source,)),
        "ben": make_contact(cc_sandbox, cc_account, "ben@example.com", lists=(source,)),
        "cal": make_contact(
            cc_sandbox, cc_account, "cal@example.com", "unsubscribed", lists=(source,)
        ),
        "dot": make_contact(cc_sandbox, cc_account, "dot@example.com"),
    }


def run(sandbox: Sandbox, http: httpx.Client, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = http.post(f"/activities/{path}", json=body)
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["state"] == "initialized"
    assert created["_links"]["self"]["href"] == f"/v3/activities/{created['activity_id']}"
    return finish(sandbox, http, created["activity_id"])


# -- list memberships ------------------------------------------------------------------------------


def test_add_by_contact_ids_skips_unsubscribed_contacts(
    cc_sandbox: Sandbox, cc_http: httpx.Client, lists: tuple[str, str], people: dict[str, Contact]
) -> None:
    _, target = lists
    ids = [people[n].contact_id for n in ("amy", "cal", "dot")]
    body = run(
        cc_sandbox,
        cc_http,
        "add_list_memberships",
        {"source": {"contact_ids": ids}, "list_ids": [target]},
    )
    assert body["status"]["list_count"] == 1
    assert body["status"]["items_total_count"] == 3
    assert target in people["amy"].list_memberships
    assert target in people["dot"].list_memberships
    assert target not in people["cal"].list_memberships  # unsubscribed stays out
    assert target not in people["ben"].list_memberships  # not in the source


def test_add_from_a_list_with_exclusions(
    cc_sandbox: Sandbox, cc_http: httpx.Client, lists: tuple[str, str], people: dict[str, Contact]
) -> None:
    source, target = lists
    run(
        cc_sandbox,
        cc_http,
        "add_list_memberships",
        {
            "source": {"list_ids": [source]},
            "exclude": {"contact_ids": [people["ben"].contact_id]},
            "list_ids": [target],
        },
    )
    assert people["amy"].list_memberships == [source, target]
    assert people["ben"].list_memberships == [source]
    assert people["dot"].list_memberships == []


def test_add_from_tags_and_all_active_contacts(
    cc_sandbox: Sandbox,
    cc_account: AccountData,
    cc_http: httpx.Client,
    lists: tuple[str, str],
    people: dict[str, Contact],
) -> None:
    _, target = lists
    tag = make_tag(cc_sandbox, cc_account, "VIP")
    people["dot"].taggings.append(tag)
    run(
        cc_sandbox,
        cc_http,
        "add_list_memberships",
        {"source": {"tag_ids": [tag]}, "list_ids": [target]},
    )
    assert target in people["dot"].list_memberships and target not in people["amy"].list_memberships

    other = make_list(cc_sandbox, cc_account, "Everyone")
    body = run(
        cc_sandbox,
        cc_http,
        "add_list_memberships",
        {"source": {"all_active_contacts": True}, "list_ids": [other]},
    )
    active = [c for c in cc_account.contacts.values() if other in c.list_memberships]
    assert people["cal"] not in active
    assert len(active) == len(cc_account.contacts) - 1  # the owner, amy, ben and dot
    assert body["status"]["items_total_count"] == len(active)


def test_unknown_contact_ids_are_reported_not_fatal(
    cc_sandbox: Sandbox, cc_http: httpx.Client, lists: tuple[str, str], people: dict[str, Contact]
) -> None:
    _, target = lists
    ghost = new_id()
    body = run(
        cc_sandbox,
        cc_http,
        "add_list_memberships",
        {"source": {"contact_ids": [people["amy"].contact_id, ghost]}, "list_ids": [target]},
    )
    assert body["state"] == "completed"
    assert any(ghost in message for message in body["activity_errors"])
    assert target in people["amy"].list_memberships


def test_engagement_level_is_accepted_and_selects_nobody(
    cc_sandbox: Sandbox, cc_http: httpx.Client, lists: tuple[str, str], people: dict[str, Contact]
) -> None:
    _, target = lists
    body = run(
        cc_sandbox,
        cc_http,
        "add_list_memberships",
        {"source": {"engagement_level": "high"}, "list_ids": [target]},
    )
    assert body["status"]["items_total_count"] == 0
    assert body["activity_errors"] and "engagement" in body["activity_errors"][0]
    assert all(target not in p.list_memberships for p in people.values())


def test_remove_memberships(
    cc_sandbox: Sandbox, cc_http: httpx.Client, lists: tuple[str, str], people: dict[str, Contact]
) -> None:
    source, _ = lists
    body = run(
        cc_sandbox,
        cc_http,
        "remove_list_memberships",
        {"source": {"contact_ids": [people["amy"].contact_id]}, "list_ids": [source]},
    )
    assert body["status"]["list_count"] == 1
    assert people["amy"].list_memberships == []
    assert people["ben"].list_memberships == [source]

    run(
        cc_sandbox,
        cc_http,
        "remove_list_memberships",
        {"source": {"list_ids": [source]}, "list_ids": [source]},
    )
    assert all(source not in p.list_memberships for p in people.values())


@pytest.mark.parametrize(
    ("path", "body", "named"),
    [
        ("add_list_memberships", {"list_ids": ["T"]}, "source"),
        ("add_list_memberships", {"source": {}, "list_ids": ["T"]}, "source"),
        (
            "add_list_memberships",
            {"source": {"list_ids": ["S"], "all_active_contacts": True}, "list_ids": ["T"]},
            "exactly one",
        ),
        (
            "add_list_memberships",
            {"source": {"all_active_contacts": False}, "list_ids": ["T"]},
            "exactly one",
        ),
        ("add_list_memberships", {"source": {"list_ids": ["S"]}}, "list_ids"),
        (
            "add_list_memberships",
            {"source": {"list_ids": ["S"]}, "list_ids": [new_id()]},
            "list_ids",
        ),
        (
            "add_list_memberships",
            {"source": {"list_ids": [new_id()]}, "list_ids": ["T"]},
            "source.list_ids",
        ),
        (
            "add_list_memberships",
            {"source": {"segment_id": 12}, "list_ids": ["T"]},
            "source.segment_id",
        ),
        (
            "add_list_memberships",
            {"source": {"contact_ids": ["x"]}, "list_ids": ["T"]},
            "source.contact_ids",
        ),
        (
            "add_list_memberships",
            {
                "source": {"contact_ids": [new_id()]},
                "exclude": {"contact_ids": [new_id()]},
                "list_ids": ["T"],
            },
            "exclude",
        ),
        (
            "add_list_memberships",
            {"source": {"contact_ids": [new_id() for _ in range(501)]}, "list_ids": ["T"]},
            "source.contact_ids",
        ),
        (
            "remove_list_memberships",
            {"source": {"segment_id": 12}, "list_ids": ["T"]},
            "source.segment_id",
        ),
        ("remove_list_memberships", {"source": {"list_ids": ["S"]}, "list_ids": "T"}, "list_ids"),
    ],
)
def test_bad_membership_requests_are_400_naming_the_field(
    cc_http: httpx.Client, lists: tuple[str, str], path: str, body: dict[str, Any], named: str
) -> None:
    source, target = lists

    def fill(value: Any) -> Any:
        if value == "S":
            return source
        if value == "T":
            return target
        if isinstance(value, list):
            return [fill(v) for v in value]
        if isinstance(value, dict):
            return {k: fill(v) for k, v in value.items()}
        return value

    response = cc_http.post(f"/activities/{path}", json=fill(body))
    assert response.status_code == 400
    assert named in error_text(response)


def test_more_than_50_target_lists_is_400(
    cc_sandbox: Sandbox, cc_account: AccountData, cc_http: httpx.Client, lists: tuple[str, str]
) -> None:
    targets = [make_list(cc_sandbox, cc_account, f"M{i}") for i in range(51)]
    response = cc_http.post(
        "/activities/add_list_memberships",
        json={"source": {"list_ids": [lists[0]]}, "list_ids": targets},
    )
    assert response.status_code == 400 and "list_ids" in error_text(response)


# -- bulk delete -------------------------------------------------------------------------------------


def test_contact_delete_by_ids_and_by_list(
    cc_sandbox: Sandbox, cc_http: httpx.Client, lists: tuple[str, str], people: dict[str, Contact]
) -> None:
    source, _ = lists
    body = run(cc_sandbox, cc_http, "contact_delete", {"contact_ids": [people["dot"].contact_id]})
    assert body["status"]["items_total_count"] == 1
    assert people["dot"].deleted_at is not None
    assert people["amy"].deleted_at is None

    body = run(cc_sandbox, cc_http, "contact_delete", {"list_ids": [source]})
    assert body["status"]["list_count"] == 1
    assert body["status"]["items_total_count"] == 3
    assert all(people[n].deleted_at is not None for n in ("amy", "ben", "cal"))


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"contact_ids": []},
        {"contact_ids": [new_id()], "list_ids": [new_id()]},
        {"contact_ids": [new_id() for _ in range(501)]},
        {"list_ids": [new_id()]},
        {"contact_ids": ["nope"]},
    ],
)
def test_bad_contact_delete_requests_are_400(cc_http: httpx.Client, body: dict[str, Any]) -> None:
    response = cc_http.post("/activities/contact_delete", json=body)
    assert response.status_code == 400
    message = error_text(response)
    assert "contact_ids" in message or "list_ids" in message


# -- taggings ---------------------------------------------------------------------------------------


def test_taggings_add_and_remove(
    cc_sandbox: Sandbox,
    cc_account: AccountData,
    cc_http: httpx.Client,
    lists: tuple[str, str],
    people: dict[str, Contact],
) -> None:
    source, _ = lists
    tag = make_tag(cc_sandbox, cc_account, "Donor")
    body = run(
        cc_sandbox,
        cc_http,
        "contacts_taggings_add",
        {"source": {"list_ids": [source]}, "tag_ids": [tag]},
    )
    assert body["status"]["items_total_count"] == 3
    assert all(tag in people[n].taggings for n in ("amy", "ben", "cal"))
    assert tag not in people["dot"].taggings

    run(
        cc_sandbox,
        cc_http,
        "contacts_taggings_remove",
        {"source": {"contact_ids": [people["amy"].contact_id]}, "tag_ids": [tag]},
    )
    assert tag not in people["amy"].taggings and tag in people["ben"].taggings

    newer = make_tag(cc_sandbox, cc_account, "New")
    run(
        cc_sandbox,
        cc_http,
        "contacts_taggings_add",
        {"source": {"new_subscriber": True}, "tag_ids": [newer]},
    )
    assert newer in people["dot"].taggings  # opted in moments ago
    assert newer not in people["cal"].taggings  # unsubscribed is not a subscriber


def test_taggings_respect_50_tags_per_contact(
    cc_sandbox: Sandbox, cc_account: AccountData, cc_http: httpx.Client, people: dict[str, Contact]
) -> None:
    people["amy"].taggings.extend(make_tag(cc_sandbox, cc_account, f"t{i}") for i in range(50))
    extra = make_tag(cc_sandbox, cc_account, "one too many")
    body = run(
        cc_sandbox,
        cc_http,
        "contacts_taggings_add",
        {"source": {"contact_ids": [people["amy"].contact_id]}, "tag_ids": [extra]},
    )
    assert len(people["amy"].taggings) == 50
    assert any(people["amy"].contact_id in m for m in body["activity_errors"])


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"source": {"list_ids": ["S"]}}, "tag_ids"),
        ({"source": {"list_ids": ["S"]}, "tag_ids": [new_id()]}, "tag_ids"),
        ({"source": {"list_ids": ["S"]}, "tag_ids": ["TAGS51"]}, "tag_ids"),
        ({"source": {"engagement_level": "high"}, "tag_ids": ["TAG"]}, "source.engagement_level"),
        ({"source": {"new_subscriber": "yes"}, "tag_ids": ["TAG"]}, "source.new_subscriber"),
        ({"tag_ids": ["TAG"]}, "source"),
    ],
)
def test_bad_tagging_requests_are_400_naming_the_field(
    cc_sandbox: Sandbox,
    cc_account: AccountData,
    cc_http: httpx.Client,
    lists: tuple[str, str],
    body: dict[str, Any],
    named: str,
) -> None:
    tag = make_tag(cc_sandbox, cc_account, "Any")
    many = [make_tag(cc_sandbox, cc_account, f"x{i}") for i in range(51)]
    payload = dict(body)
    if payload.get("tag_ids") == ["TAG"]:
        payload["tag_ids"] = [tag]
    if payload.get("tag_ids") == ["TAGS51"]:
        payload["tag_ids"] = many
    if payload.get("source") == {"list_ids": ["S"]}:
        payload["source"] = {"list_ids": [lists[0]]}
    response = cc_http.post("/activities/contacts_taggings_add", json=payload)
    assert response.status_code == 400
    assert named in error_text(response)


# -- deletions of lists, tags and custom fields -----------------------------------------------------


def test_list_delete_removes_lists_and_memberships(
    cc_sandbox: Sandbox,
    cc_account: AccountData,
    cc_http: httpx.Client,
    lists: tuple[str, str],
    people: dict[str, Contact],
) -> None:
    source, target = lists
    body = run(cc_sandbox, cc_http, "list_delete", {"list_ids": [source, target]})
    assert body["status"]["list_count"] == 2
    assert cc_account.lists[source].deleted_at is not None
    assert all(source not in p.list_memberships for p in people.values())


def test_tags_delete_removes_tags_from_contacts(
    cc_sandbox: Sandbox, cc_account: AccountData, cc_http: httpx.Client, people: dict[str, Contact]
) -> None:
    tag = make_tag(cc_sandbox, cc_account, "Old")
    people["amy"].taggings.append(tag)
    run(cc_sandbox, cc_http, "contacts_tags_delete", {"tag_ids": [tag]})
    assert tag not in cc_account.tags
    assert people["amy"].taggings == []


def test_custom_fields_delete_takes_up_to_100_ids(
    cc_sandbox: Sandbox, cc_account: AccountData, cc_http: httpx.Client, people: dict[str, Contact]
) -> None:
    field_ids = [make_custom_field(cc_sandbox, cc_account, f"F {i}") for i in range(100)]
    people["amy"].custom_fields.append({"custom_field_id": field_ids[0], "value": "v"})
    body = run(cc_sandbox, cc_http, "custom_fields_delete", {"custom_field_ids": field_ids})
    assert body["state"] == "completed"
    assert not cc_account.custom_fields
    assert people["amy"].custom_fields == []

    too_many = cc_http.post(
        "/activities/custom_fields_delete",
        json={"custom_field_ids": [new_id() for _ in range(101)]},
    )
    assert too_many.status_code == 400 and "custom_field_ids" in error_text(too_many)


@pytest.mark.parametrize(
    ("path", "body", "named"),
    [
        ("list_delete", {}, "list_ids"),
        ("list_delete", {"list_ids": [new_id()]}, "list_ids"),
        ("list_delete", {"list_ids": [new_id() for _ in range(101)]}, "list_ids"),
        ("contacts_tags_delete", {"tag_ids": []}, "tag_ids"),
        ("contacts_tags_delete", {"tag_ids": [new_id() for _ in range(501)]}, "tag_ids"),
        ("contacts_tags_delete", {"tag_ids": [new_id()]}, "tag_ids"),
        ("custom_fields_delete", {"custom_field_ids": [new_id()]}, "custom_field_ids"),
        ("custom_fields_delete", {"ids": []}, "ids"),
    ],
)
def test_bad_delete_requests_are_400_naming_the_field(
    cc_http: httpx.Client, path: str, body: dict[str, Any], named: str
) -> None:
    response = cc_http.post(f"/activities/{path}", json=body)
    assert response.status_code == 400
    assert named in error_text(response)


def test_a_body_that_is_not_json_is_415(cc_http: httpx.Client) -> None:
    response = cc_http.post(
        "/activities/list_delete", content=b"list_ids=1", headers={"content-type": "text/plain"}
    )
    assert response.status_code == 415
