"""The models: CC's JSON in and out unchanged, drift tolerated, unreadable answers reported
as ``ResponseParseError`` with the body (never a pydantic traceback)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

import httpx
import pytest

from ccbridge import Client, ResponseParseError
from ccbridge.models import (
    AccountEmail,
    AccountSummary,
    Activity,
    CampaignActivity,
    Contact,
    ContactList,
    ContactsPage,
    CustomField,
    EmailAddress,
    EmailCampaign,
    EmailCampaignStatsReport,
    EmailCampaignSummariesPage,
    PhoneNumber,
    Segment,
    Tag,
)
from ccbridge.models.contacts import contact_put_body

CONTACT: dict[str, Any] = {
    "contact_id": "1618ae62-4752-11e9-9c8a-fa163e6b01c1",
    "email_address": {
        "address": "dlang@example.com",
        "permission_to_send": "implicit",
        "created_at": "2013-01-08T19:14:33.000Z",
        "updated_at": "2013-01-08T19:14:33.000Z",
        "opt_in_source": "Account",
        "confirm_status": "off",
    },
    "first_name": "Debora",
    "last_name": "Lang",
    "create_source": "Account",
    "created_at": "2013-01-08T19:14:33.000Z",
    "updated_at": "2013-01-08T19:14:33.000Z",
    "custom_fields": [{"custom_field_id": "1618ae62-4752-11e9-9c8a-fa163e6b01c2", "value": "7"}],
    "phone_numbers": [
        {
            "phone_number_id": "1618ae62-4752-11e9-9c8a-fa163e6b01c3",
            "phone_number": "555",
            "kind": "home",
        }
    ],
    "street_addresses": [{"kind": "work", "street": "1 Main St", "city": "Boston"}],
    "list_memberships": ["1618ae62-4752-11e9-9c8a-fa163e6b01c4"],
    "taggings": [],
    "notes": [
        {"note_id": "n1", "content": "met at the fair", "created_at": "2020-02-02T00:00:00Z"}
    ],
}


def test_contact_round_trips_cc_json() -> None:
    contact = Contact.parse(CONTACT)
    assert contact.email == "dlang@example.com"
    assert contact.email_address is not None
    assert contact.email_address.created_at == datetime(2013, 1, 8, 19, 14, 33, tzinfo=UTC)
    assert contact.custom_fields is not None and contact.custom_fields[0].value == "7"
    again = contact.to_api()
    # Timestamps come back in ISO form; everything else is byte-for-byte what CC sent.
    assert Contact.parse(again) == contact
    assert again["taggings"] == [] and again["list_memberships"] == CONTACT["list_memberships"]


def test_unknown_fields_are_kept_at_every_level() -> None:
    data = json.loads(json.dumps(CONTACT))
    data["loyalty_tier"] = "gold"
    data["email_address"]["bounce_reason"] = "mailbox full"
    contact = Contact.parse(data)
    assert contact.model_extra == {"loyalty_tier": "gold"}
    assert contact.email_address is not None
    assert contact.email_address.model_extra == {"bounce_reason": "mailbox full"}
    assert contact.to_api()["loyalty_tier"] == "gold"
    assert contact.to_api()["email_address"]["bounce_reason"] == "mailbox full"


def test_missing_optional_fields_are_fine_and_sub_resources_stay_unset() -> None:
    contact = Contact.parse({"contact_id": "x"})
    assert contact.email is None and contact.phone_numbers is None
    assert Contact.parse({"contact_id": "x", "phone_numbers": []}).phone_numbers == []


def test_repr_leaves_out_unset_and_empty_fields() -> None:
    text = repr(Contact.parse({"contact_id": "abc", "first_name": "Ann", "taggings": []}))
    assert text == "Contact(contact_id='abc', first_name='Ann')"


def test_contact_deleted_at_is_a_date_even_when_sent_as_a_timestamp() -> None:
    assert Contact.parse({"deleted_at": "2024-03-05"}).deleted_at == date(2024, 3, 5)
    assert Contact.parse({"deleted_at": "2024-03-05T10:00:00Z"}).deleted_at == date(2024, 3, 5)


@pytest.mark.parametrize(
    ("model", "data", "path"),
    [
        (Contact, {"email_address": {"permission_to_send": "implicit"}}, "email_address.address"),
        (Contact, {"birthday_month": "May"}, "birthday_month"),
        (Activity, {"state": "processing"}, "activity_id"),
        (ContactList, {"list_id": "x"}, "name"),
        (CustomField, {"label": "Size"}, "type"),
        (EmailCampaign, {"name": "no id"}, "campaign_id"),
    ],
)
def test_unreadable_data_raises_response_parse_error_with_the_body(
    model: type[Any], data: dict[str, Any], path: str
) -> None:
    with pytest.raises(ResponseParseError) as caught:
        model.parse(data, source="GET /somewhere")
    error = caught.value
    assert path in str(error) and model.__name__ in str(error)
    assert "GET /somewhere" in str(error)
    assert json.loads(error.body) == data
    assert error.__cause__ is None and error.__suppress_context__


def test_a_response_that_does_not_parse_reaches_the_caller_as_response_parse_error() -> None:
    # CC answers 200 with a contact that has no email address in its email object.
    weird = {"contact_id": "1618ae62-4752-11e9-9c8a-fa163e6b01c1", "email_address": "oops"}

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=weird)

    with Client("token", transport=httpx.MockTransport(handler), rate_limit=None) as client:
        with pytest.raises(ResponseParseError) as caught:
            client.contacts.get("1618ae62-4752-11e9-9c8a-fa163e6b01c1")
        assert json.loads(caught.value.body) == weird
        # the raw method still hands back the JSON, whatever its shape
        assert client.contacts.get_contact("1618ae62-4752-11e9-9c8a-fa163e6b01c1") == weird


def test_a_page_of_the_wrong_shape_raises_response_parse_error() -> None:
    with pytest.raises(ResponseParseError):
        ContactsPage.parse({"contacts": {"not": "a list"}})
    with pytest.raises(ResponseParseError):
        AccountEmail.parse_list({"not": "a list"})


def test_contacts_page_next_href() -> None:
    page = ContactsPage.parse(
        {"contacts": [CONTACT], "_links": {"next": {"href": "/v3/contacts?cursor=abc"}}}
    )
    assert page.next_href == "/v3/contacts?cursor=abc"
    assert page.to_api()["_links"]["next"]["href"] == "/v3/contacts?cursor=abc"
    assert ContactsPage.parse({"contacts": []}).next_href is None


def test_activity_helpers_and_both_error_shapes() -> None:
    running = Activity.parse(
        {
            "activity_id": "a1",
            "state": "processing",
            "percent_done": 40,
            "activity_errors": [{"message": "Tag t1 no longer exists"}, "plain text"],
            "status": {"items_total_count": 10, "items_completed_count": 4},
            "_links": {"self": {"href": "/v3/activities/a1"}},
        }
    )
    assert not running.is_done and running.percent == 40.0
    assert running.activity_errors == ["Tag t1 no longer exists", "plain text"]
    derived = Activity.parse(
        {
            "activity_id": "a2",
            "state": "processing",
            "status": {"items_total_count": 8, "items_completed_count": 2},
        }
    )
    assert derived.percent == 25.0
    export = Activity.parse(
        {
            "activity_id": "a3",
            "state": "completed",
            "_links": {"results": {"href": "/v3/contact_exports/a3"}},
        }
    )
    assert export.is_done and export.succeeded and export.percent == 100.0
    assert export.results_href == "/v3/contact_exports/a3"
    for state in ("failed", "cancelled", "timed_out"):
        ended = Activity.parse({"activity_id": "x", "state": state})
        assert ended.is_done and not ended.succeeded


def test_put_body_sends_writable_parts_and_only_sub_resources_held() -> None:
    contact = Contact.parse(CONTACT)
    contact.first_name = "Deb"
    contact.last_name = None
    body = contact_put_body(contact, "Account")
    assert body["update_source"] == "Account"
    assert body["first_name"] == "Deb" and "last_name" not in body  # CC clears it
    assert body["email_address"] == {
        "address": "dlang@example.com",
        "permission_to_send": "implicit",
    }
    assert body["phone_numbers"] == [{"phone_number": "555", "kind": "home"}]
    assert body["street_addresses"] == [{"kind": "work", "street": "1 Main St", "city": "Boston"}]
    assert "contact_id" not in body and "created_at" not in body
    bare = contact_put_body(Contact.parse({"contact_id": "x", "first_name": "A"}), "Contact")
    assert set(bare) == {"update_source", "first_name"}  # sub-resources never fetched: untouched


def test_other_resources_read_their_swagger_shapes() -> None:
    assert Tag.parse({"tag_id": "t", "name": "vip", "contacts_count": 3}).contacts_count == 3
    field = CustomField.parse(
        {
            "custom_field_id": "c",
            "label": "Color",
            "type": "single_select",
            "choices": [{"choice_id": 1, "choice_label": "Red", "display_order": 1}],
        }
    )
    assert field.choices is not None and field.choices[0].choice_id == 1
    segment = Segment.parse({"segment_id": 7, "name": "s", "segment_criteria": '{"a": 1}'})
    assert segment.criteria() == {"a": 1}
    campaign = EmailCampaign.parse(
        {
            "campaign_id": "c1",
            "campaign_activities": [
                {"campaign_activity_id": "p", "role": "permalink"},
                {"campaign_activity_id": "e", "role": "primary_email"},
            ],
        }
    )
    assert campaign.primary_email_activity_id == "e" and campaign.permalink_activity_id == "p"
    activity = CampaignActivity.parse(
        {
            "campaign_activity_id": "e",
            "contact_list_ids": ["l1"],
            "physical_address_in_footer": {"address_line1": "1"},
        }
    )
    assert activity.physical_address_in_footer is not None
    summary = AccountSummary.parse(
        {
            "organization_name": "Org",
            "physical_address": {"address_line1": "1", "city": "B", "country_code": "US"},
        }
    )
    assert summary.physical_address is not None and summary.physical_address.city == "B"
    assert AccountEmail.parse({"email_address": "a@b.co", "confirm_status": "CONFIRMED"}).confirmed
    page = EmailCampaignSummariesPage.parse(
        {
            "bulk_email_campaign_summaries": [{"campaign_id": "c", "unique_counts": {"sends": 3}}],
            "aggregate_percents": {"open": 12.5},
        }
    )
    assert page.bulk_email_campaign_summaries[0].unique_counts is not None
    report = EmailCampaignStatsReport.parse(
        {"results": [{"campaign_id": "c", "stats": {"em_sends": 2}}]}
    )
    assert report.results[0].stats is not None and report.results[0].stats.em_sends == 2


def test_models_can_be_built_by_hand_for_input() -> None:
    contact = Contact(
        email_address=EmailAddress(address="a@example.com"),
        phone_numbers=[PhoneNumber(phone_number="555-0100", kind="work")],
    )
    assert contact.to_api() == {
        "email_address": {"address": "a@example.com"},
        "phone_numbers": [{"phone_number": "555-0100", "kind": "work"}],
    }
