"""The typed methods of every core group, through both clients against the sandbox.

Each scenario is written once and run with ``Client`` and with ``AsyncClient``: ``_``
awaits what the async client returns and passes the sync client's values through, so
both twins are held to the same behaviour (CC-V3-FACTS §3-§7).
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ccbridge import AsyncClient, Client, ConflictError, InvalidArgumentError, NotFoundError
from ccbridge.models import (
    AccountEmail,
    Activity,
    CampaignActivity,
    Contact,
    ContactList,
    ContactsPage,
    CustomField,
    EmailCampaign,
    Segment,
    SignUpResult,
    Tag,
)
from ccbridge.sandbox import Sandbox
from ccbridge.sandbox.state import AccountData

AnyClient = Client | AsyncClient
Scenario = Callable[[AnyClient, AccountData, Sandbox], Awaitable[None]]
HTML = "<html><body><p>Hello</p>[[trackingImage]]</body></html>"


async def _(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


async def _all(paginator: Any) -> list[Any]:
    if hasattr(paginator, "__aiter__"):
        return [item async for item in paginator]
    return list(paginator)


def _list_id(account: AccountData) -> str:
    return next(iter(account.lists))


# -- contacts -----------------------------------------------------------------------------------
async def contacts_crud(client: AnyClient, account: AccountData, sandbox: Sandbox) -> None:
    contacts = client.contacts
    created = await _(
        contacts.create(
            "Ada@Example.com",
            create_source="Account",
            first_name="Ada",
            last_name="Lovelace",
            list_ids=[_list_id(account)],
            phone_numbers=[{"phone_number": "555-0100", "kind": "work"}],
        )
    )
    assert isinstance(created, Contact) and created.contact_id
    fetched = await _(
        contacts.get(created.contact_id, include=["list_memberships", "phone_numbers"])
    )
    assert fetched.list_memberships == [_list_id(account)]
    assert fetched.phone_numbers and fetched.phone_numbers[0].phone_number == "555-0100"
    with pytest.raises(ConflictError):
        await _(contacts.create("ada@example.com", create_source="Account"))

    fetched.job_title = "Analyst"
    fetched.last_name = None  # a PUT clears what it leaves out
    updated = await _(contacts.update(fetched, update_source="Account"))
    assert updated.job_title == "Analyst" and updated.last_name is None
    again = await _(contacts.get(created.contact_id, include="phone_numbers"))
    assert again.phone_numbers and again.phone_numbers[0].kind == "work"  # kept

    await _(contacts.delete(created.contact_id))
    deleted = await _(contacts.find("ada@example.com"))
    assert deleted is not None and deleted.is_deleted
    assert await _(contacts.find("nobody@example.com")) is None


async def contacts_pages(client: AnyClient, account: AccountData, sandbox: Sandbox) -> None:
    for i in range(5):
        await _(client.contacts.create(f"page{i}@example.com", create_source="Contact"))
    page = await _(client.contacts.list(limit=2, include_count=True))
    assert isinstance(page, ContactsPage) and len(page.contacts) == 2
    assert page.contacts_count == 6 and page.next_href
    everyone = await _all(client.contacts.iter(limit=2))
    assert len(everyone) == 6 and all(isinstance(c, Contact) for c in everyone)
    assert len({c.contact_id for c in everyone}) == 6
    counts = await _(client.contacts.counts())
    assert counts.total == 6


async def contacts_sign_up(client: AnyClient, account: AccountData, sandbox: Sandbox) -> None:
    first = await _(
        client.contacts.sign_up("fan@example.com", [_list_id(account)], first_name="Fan")
    )
    assert isinstance(first, SignUpResult) and first.created
    second = await _(
        client.contacts.sign_up("fan@example.com", [_list_id(account)], last_name="Club")
    )
    assert second.action == "updated" and second.contact_id == first.contact_id
    contact = await _(client.contacts.get(first.contact_id))
    assert (contact.first_name, contact.last_name) == ("Fan", "Club")  # a partial update
    assert contact.permission_to_send == "explicit"


async def contacts_bad_arguments(client: AnyClient, account: AccountData, sandbox: Sandbox) -> None:
    cases: list[tuple[Callable[[], Any], str]] = [
        (lambda: client.contacts.get("not-an-id"), "contact_id"),
        (lambda: client.contacts.create("a@example.com", create_source="Me"), "create_source"),
        (lambda: client.contacts.create(create_source="Account"), "email, a first_name"),
        (
            lambda: client.contacts.create(
                "a@example.com", create_source="Account", birthday_month=3
            ),
            "birthday_day",
        ),
        (lambda: client.contacts.list(limit=501), "limit"),
        (lambda: client.contacts.list(include=["friends"]), "include"),
        (lambda: client.contacts.sign_up("x" * 45 + "@example.com", [_list_id(account)]), "email"),
        (lambda: client.contacts.sign_up("a@example.com", []), "list_ids"),
        (
            lambda: client.contacts.update(Contact(first_name="x"), update_source="Account"),
            "contact_id",
        ),
    ]
    for call, word in cases:
        with pytest.raises(InvalidArgumentError) as caught:
            await _(call())
        assert word in str(caught.value)
    assert not [e for e in sandbox.requests.entries() if e["path"].startswith("/v3/")]


# -- lists, tags, custom fields, segments ----------------------------------------------------------
async def contact_lists(client: AnyClient, account: AccountData, sandbox: Sandbox) -> None:
    lists = client.contact_lists
    created = await _(lists.create("VIPs", description="Best customers", favorite=True))
    assert isinstance(created, ContactList) and created.favorite
    with pytest.raises(ConflictError):
        await _(lists.create("VIPs"))
    found = await _(lists.find_by_name("VIPs"))
    assert found is not None and found.list_id == created.list_id
    updated = await _(lists.update(created.list_id, name="Very VIPs"))
    assert updated.name == "Very VIPs" and not updated.description and not updated.favorite
    counted = await _(lists.get(created.list_id, include_membership_count="all"))
    assert counted.membership_count == 0
    names = {lst.name for lst in await _all(lists.iter(limit=1))}
    assert names == {"General Interest", "Very VIPs"}
    activity = await _(lists.delete(created.list_id))
    assert isinstance(activity, Activity)
    done = await _(client.bulk_activities.wait_for_activity(activity))
    assert done.state == "completed"
    assert await _(lists.find_by_name("Very VIPs")) is None


async def contact_tags(client: AnyClient, account: AccountData, sandbox: Sandbox) -> None:
    tags = client.contact_tags
    created = await _(tags.create("Newsletter", tag_source="Shop"))
    assert isinstance(created, Tag) and created.tag_source == "Shop"
    renamed = await _(tags.rename(created.tag_id, "Weekly"))
    assert renamed.name == "Weekly"
    counted = await _(tags.get(created.tag_id, include_count=True))
    assert counted.contacts_count == 0
    assert [t.name for t in await _all(tags.iter())] == ["Weekly"]
    activity = await _(tags.delete(created.tag_id))
    assert (await _(client.bulk_activities.wait_for_activity(activity))).succeeded
    assert await _all(tags.iter()) == []


async def custom_fields(client: AnyClient, account: AccountData, sandbox: Sandbox) -> None:
    fields = client.custom_fields
    created = await _(fields.create("Shoe size", "string"))
    assert isinstance(created, CustomField) and created.name
    color = await _(fields.create("Color", "single_select", choices=["Red", "Blue"]))
    assert color.choices and [c.choice_label for c in color.choices] == ["Red", "Blue"]
    updated = await _(fields.update(created.custom_field_id, label="Shoe size (EU)"))
    assert updated.label == "Shoe size (EU)"
    assert len(await _all(fields.iter(limit=1))) == 2
    await _(fields.delete(created.custom_field_id))
    with pytest.raises(NotFoundError):
        await _(fields.get(created.custom_field_id))


async def segments(client: AnyClient, account: AccountData, sandbox: Sandbox) -> None:
    criteria = {"version": "1.0.0", "criteria": {"type": "and", "group": []}}
    created = await _(client.segments.create("Everyone", criteria))
    assert isinstance(created, Segment) and created.segment_id is not None
    fetched = await _(client.segments.get(created.segment_id))
    assert fetched.criteria() == criteria
    renamed = await _(client.segments.rename(created.segment_id, "All of them"))
    assert renamed.name == "All of them"
    await _(client.segments.update(created.segment_id, name="Again", segment_criteria=criteria))
    assert [s.name for s in await _all(client.segments.iter(sort_by="name"))] == ["Again"]
    await _(client.segments.delete(created.segment_id))
    assert await _all(client.segments.iter()) == []
    with pytest.raises(InvalidArgumentError):
        await _(client.segments.create("bad", "{not json"))


# -- campaigns, scheduling, reporting, account -----------------------------------------------------
async def campaigns(client: AnyClient, account: AccountData, sandbox: Sandbox) -> None:
    sender = [e.email_address for e in await _(client.account.emails(confirm_status="CONFIRMED"))]
    assert sender == ["owner@example.com"]
    with pytest.raises(InvalidArgumentError, match=r"\[\[trackingImage\]\]"):
        await _(
            client.email_campaigns.create(
                "No tracking",
                subject="Hi",
                from_name="Olive",
                from_email=sender[0],
                reply_to_email=sender[0],
                html_content="<html><body>Hi</body></html>",
            )
        )
    campaign = await _(
        client.email_campaigns.create(
            "Spring sale",
            subject="Spring is here",
            from_name="Olive",
            from_email=sender[0],
            reply_to_email=sender[0],
            html_content=HTML,
        )
    )
    assert isinstance(campaign, EmailCampaign) and campaign.current_status == "Draft"
    activity_id = campaign.primary_email_activity_id
    assert activity_id is not None and campaign.permalink_activity_id is not None
    activity = await _(
        client.email_campaigns.set_recipients(activity_id, list_ids=[_list_id(account)])
    )
    assert isinstance(activity, CampaignActivity)
    assert activity.contact_list_ids == [_list_id(account)] and activity.html_content == HTML

    scheduling = client.email_scheduling
    assert await _(scheduling.schedules(activity_id)) == []
    when = datetime.fromtimestamp(sandbox.clock.time(), UTC) + timedelta(days=2)
    scheduled = await _(scheduling.schedule(activity_id, when))
    assert scheduled[0].scheduled_date is not None
    await _(scheduling.unschedule(activity_id))
    assert await _(scheduling.schedules(activity_id)) == []
    with pytest.raises(InvalidArgumentError, match="1 to 5"):
        await _(scheduling.test_send(activity_id, [f"t{i}@example.com" for i in range(6)]))
    await _(scheduling.test_send(activity_id, ["tester@example.com"], personal_message="FYI"))
    assert (await _(scheduling.preview(activity_id))).subject == "Spring is here"
    assert await _(scheduling.send_now(activity_id)) == []
    sandbox.advance_clock(3600)
    history = await _(scheduling.send_history(activity_id))
    assert history and history[0].send_status == "COMPLETED" and history[0].count == 1

    summaries = await _(client.reporting.email_campaign_summaries())
    assert [s.campaign_id for s in summaries.bulk_email_campaign_summaries] == [
        campaign.campaign_id
    ]
    listed = await _all(client.reporting.iter_campaign_summaries(limit=1))
    assert [s.campaign_id for s in listed] == [campaign.campaign_id]
    stats = await _(client.reporting.email_campaign_stats([campaign.campaign_id]))
    assert stats.results[0].stats is not None and stats.results[0].stats.em_sends == 1

    renamed = await _(client.email_campaigns.rename(campaign.campaign_id, "Spring sale 2"))
    assert renamed.name == "Spring sale 2"
    assert [c.name for c in await _all(client.email_campaigns.iter())] == ["Spring sale 2"]


async def account_summary(client: AnyClient, account: AccountData, sandbox: Sandbox) -> None:
    summary = await _(client.account.summary(extra_fields=["physical_address"]))
    assert summary.organization_name == "Example Org"
    assert summary.physical_address is not None and summary.physical_address.country_code
    address = await _(client.account.physical_address())
    assert address.address_line1 == summary.physical_address.address_line1
    emails = await _(client.account.emails())
    assert all(isinstance(e, AccountEmail) for e in emails) and emails[0].confirmed
    with pytest.raises(InvalidArgumentError, match="extra_fields"):
        await _(client.account.summary(extra_fields=["logo"]))


async def bulk_activities(client: AnyClient, account: AccountData, sandbox: Sandbox) -> None:
    result = await _(
        client.bulk_activities.import_contacts([{"email": "b@example.com"}], [_list_id(account)])
    )
    one = await _(client.bulk_activities.get(result.activity_ids[0]))
    assert one.succeeded and one.status and one.status.person_count == 1
    listed = await _all(client.bulk_activities.iter(state="completed"))
    assert [a.activity_id for a in listed] == result.activity_ids


SCENARIOS: list[Scenario] = [
    contacts_crud,
    contacts_pages,
    contacts_sign_up,
    contacts_bad_arguments,
    contact_lists,
    contact_tags,
    custom_fields,
    segments,
    campaigns,
    account_summary,
    bulk_activities,
]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.__name__)
def test_sync(
    scenario: Scenario, cc_client: Client, cc_account: AccountData, cc_sandbox: Sandbox
) -> None:
    asyncio.run(scenario(cc_client, cc_account, cc_sandbox))


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.__name__)
async def test_async(
    scenario: Scenario,
    cc_async_client: AsyncClient,
    cc_account: AccountData,
    cc_sandbox: Sandbox,
) -> None:
    await scenario(cc_async_client, cc_account, cc_sandbox)
