"""Which contacts a bulk activity acts on, and the activities that change them in bulk.

List-membership, tagging, delete and export activities all name their contacts through a
``source`` (contact ids, lists, tags, all active contacts, new subscribers, a segment or an
engagement level) minus an optional ``exclude``. ``select_contacts`` resolves a source the
same way for all of them, when the activity runs — so contacts that join a list while an
activity is queued are included, as they would be on CC.

Two sources the sandbox cannot really evaluate are accepted and reported, not guessed:
``engagement_level`` (the sandbox keeps no engagement data) selects nobody, and a
``segment_id`` is evaluated only if the segments module offers ``contacts_in_segment``;
otherwise it selects nobody. Either way one line in ``activity_errors`` says so.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ccbridge.sandbox.activities import worker
from ccbridge.sandbox.contact_lifecycle import delete_contact, ms_now, permission_of
from ccbridge.sandbox.state import AccountData, Activity, Contact

MAX_LISTS_PER_CONTACT = 50
MAX_TAGS_PER_CONTACT = 50
NEW_SUBSCRIBER_DAYS = 30


@dataclass
class Source:
    """One resolved ``source`` choice: its kind (the JSON key) and its value."""

    kind: str
    value: Any
    exclude: list[str] = field(default_factory=list)

    def to_payload(self) -> dict[str, Any]:
        return {"kind": self.kind, "value": self.value, "exclude": list(self.exclude)}

    @classmethod
    def from_payload(cls, raw: dict[str, Any]) -> Source:
        return cls(kind=raw["kind"], value=raw["value"], exclude=list(raw.get("exclude", [])))


def is_active(contact: Contact) -> bool:
    """Billable: neither deleted nor unsubscribed."""
    return contact.deleted_at is None and permission_of(contact) != "unsubscribed"


def is_new_subscriber(contact: Contact, now: datetime) -> bool:
    """Opted in (or created, for contacts without an email) within the last 30 days."""
    if not is_active(contact):
        return False
    email = contact.email_address
    since = (email.opt_in_date if email is not None else None) or contact.created_at
    return since >= now - timedelta(days=NEW_SUBSCRIBER_DAYS)


def select_contacts(
    data: AccountData,
    source: Source,
    now: datetime,
    errors: list[Any] | None = None,
    *,
    keep_deleted: bool = False,
) -> list[Contact]:
    """The contacts ``source`` names, in account order (or the order of contact_ids).

    Deleted contacts are left out unless ``keep_deleted``. Ids that name no contact, and
    sources the sandbox cannot evaluate, are reported in ``errors`` when it is given.
    """
    report = errors if errors is not None else []
    excluded = set(source.exclude)
    kind, value = source.kind, source.value
    chosen: list[Contact]
    if kind == "contact_ids":
        chosen = []
        for contact_id in dict.fromkeys(value):
            contact = data.contacts.get(contact_id)
            if contact is None:
                report.append(f"Contact {contact_id} does not exist.")
            elif keep_deleted or contact.deleted_at is None:
                chosen.append(contact)
            else:
                report.append(f"Contact {contact_id} is deleted; it was skipped.")
    elif kind == "list_ids":
        wanted = set(value)
        chosen = [c for c in _live(data) if wanted.intersection(c.list_memberships)]
    elif kind == "tag_ids":
        wanted = set(value)
        chosen = [c for c in _live(data) if wanted.intersection(c.taggings)]
    elif kind == "all_active_contacts":
        chosen = [c for c in _live(data) if is_active(c)]
    elif kind == "new_subscriber":
        chosen = [c for c in _live(data) if is_new_subscriber(c, now)]
    elif kind == "list_new_subscribers":  # exports: list members who joined recently
        wanted = set(value)
        chosen = [
            c
            for c in _live(data)
            if wanted.intersection(c.list_memberships) and is_new_subscriber(c, now)
        ]
    elif kind == "segment_id":
        chosen = _segment_members(data, int(value), report)
    elif kind == "engagement_level":
        report.append(
            "The sandbox keeps no engagement data, so engagement_level selected no contacts."
        )
        chosen = []
    else:  # pragma: no cover - the handlers only build the kinds above
        raise ValueError(f"unknown source kind {kind!r}")
    return [c for c in chosen if c.contact_id not in excluded]


def _live(data: AccountData) -> list[Contact]:
    contacts = data.contacts
    return [
        contacts[cid]
        for cid in data.contact_order
        if cid in contacts and contacts[cid].deleted_at is None
    ]


def _segment_members(data: AccountData, segment_id: int, report: list[Any]) -> list[Contact]:
    segments = importlib.import_module("ccbridge.sandbox.resources.segments")
    evaluate = getattr(segments, "contacts_in_segment", None)
    segment = data.segments.get(segment_id)
    if segment is None or segment.deleted_at is not None:
        report.append(f"Segment {segment_id} no longer exists; it selected no contacts.")
        return []
    if evaluate is None:
        report.append(
            f"The sandbox cannot evaluate segment criteria, so segment {segment_id} "
            "selected no contacts."
        )
        return []
    return [c for c in evaluate(data, segment) if c.deleted_at is None]


# -- workers ------------------------------------------------------------------------------
def _finish_counts(activity: Activity, total: int) -> None:
    """Record how many contacts the activity really touched, now that it has run."""
    activity.items_total = total
    activity.items_completed = total
    if "items_total_count" in activity.status:
        activity.status["items_total_count"] = total
    if "items_completed_count" in activity.status:
        activity.status["items_completed_count"] = total


@worker("add_list_memberships")
def add_list_memberships(data: AccountData, activity: Activity, now: datetime) -> None:
    """Add the selected contacts to the target lists; unsubscribed contacts stay out."""
    now = ms_now(now)
    payload = activity.payload
    targets = _live_lists(data, payload["list_ids"], activity)
    chosen = select_contacts(
        data, Source.from_payload(payload["source"]), now, activity.activity_errors
    )
    for contact in chosen:
        if permission_of(contact) == "unsubscribed":
            continue  # CC never puts an unsubscribed contact back on a list
        missing = [lid for lid in targets if lid not in contact.list_memberships]
        if not missing:
            continue
        if len(contact.list_memberships) + len(missing) > MAX_LISTS_PER_CONTACT:
            activity.activity_errors.append(
                f"Contact {contact.contact_id} was not added: it is in "
                f"{len(contact.list_memberships)} lists and a contact can be in at most "
                f"{MAX_LISTS_PER_CONTACT}."
            )
            continue
        contact.list_memberships.extend(missing)
        contact.updated_at = now
    _finish_counts(activity, len(chosen))


@worker("remove_list_memberships")
def remove_list_memberships(data: AccountData, activity: Activity, now: datetime) -> None:
    now = ms_now(now)
    payload = activity.payload
    targets = set(payload["list_ids"])
    chosen = select_contacts(
        data, Source.from_payload(payload["source"]), now, activity.activity_errors
    )
    for contact in chosen:
        if targets.intersection(contact.list_memberships):
            contact.list_memberships = [
                lid for lid in contact.list_memberships if lid not in targets
            ]
            contact.updated_at = now
    _finish_counts(activity, len(chosen))


@worker("contact_delete")
def bulk_contact_delete(data: AccountData, activity: Activity, now: datetime) -> None:
    """Delete the selected contacts; ones already deleted count as done."""
    now = ms_now(now)
    source = Source.from_payload(activity.payload["source"])
    chosen = select_contacts(data, source, now, activity.activity_errors, keep_deleted=True)
    for contact in chosen:
        delete_contact(contact, now)
    _finish_counts(activity, len(chosen))


@worker("contacts_taggings_add")
def add_taggings(data: AccountData, activity: Activity, now: datetime) -> None:
    now = ms_now(now)
    payload = activity.payload
    tag_ids = [tid for tid in payload["tag_ids"] if tid in data.tags]
    _report_missing(activity, payload["tag_ids"], tag_ids, "Tag")
    chosen = select_contacts(
        data, Source.from_payload(payload["source"]), now, activity.activity_errors
    )
    for contact in chosen:
        missing = [tid for tid in tag_ids if tid not in contact.taggings]
        if not missing:
            continue
        if len(contact.taggings) + len(missing) > MAX_TAGS_PER_CONTACT:
            activity.activity_errors.append(
                f"Contact {contact.contact_id} was not tagged: it has {len(contact.taggings)} "
                f"tags and a contact can have at most {MAX_TAGS_PER_CONTACT}."
            )
            continue
        contact.taggings.extend(missing)
        contact.updated_at = now
    _finish_counts(activity, len(chosen))


@worker("contacts_taggings_remove")
def remove_taggings(data: AccountData, activity: Activity, now: datetime) -> None:
    now = ms_now(now)
    payload = activity.payload
    tag_ids = set(payload["tag_ids"])
    chosen = select_contacts(
        data, Source.from_payload(payload["source"]), now, activity.activity_errors
    )
    for contact in chosen:
        if tag_ids.intersection(contact.taggings):
            contact.taggings = [tid for tid in contact.taggings if tid not in tag_ids]
            contact.updated_at = now
    _finish_counts(activity, len(chosen))


def _live_lists(data: AccountData, list_ids: list[str], activity: Activity) -> list[str]:
    live = [lid for lid in list_ids if lid in data.lists and data.lists[lid].deleted_at is None]
    _report_missing(activity, list_ids, live, "Contact list")
    return live


def _report_missing(activity: Activity, asked: list[str], found: list[str], what: str) -> None:
    """Targets deleted while the activity was queued are reported, not silently skipped."""
    present = set(found)
    for item_id in asked:
        if item_id not in present:
            activity.activity_errors.append(f"{what} {item_id} no longer exists; it was skipped.")
