"""CC's JSON for a contact, shared by every sandbox feature that returns contacts.

``contact_json`` is the one place a ``Contact`` becomes CC's ``ContactResource``: core
properties always, sub-resources only when asked for with ``include`` (CC-V3-FACTS §3.1),
and no null values (CC's swagger has no nullable types, so absent means unknown).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from ccbridge.sandbox.clock import iso as _clock_iso
from ccbridge.sandbox.clock import iso_date
from ccbridge.sandbox.errors import CCError
from ccbridge.sandbox.state import Contact, EmailAddress

INCLUDE_VALUES = (
    "custom_fields",
    "list_memberships",
    "phone_numbers",
    "street_addresses",
    "taggings",
    "notes",
)
"""What ``include=`` accepts on the contact endpoints (the swagger's enum, exactly)."""

SUB_RESOURCES = (*INCLUDE_VALUES, "sms_channel")
"""Everything ``contact_json`` can add; ``sms_channel`` is not offered through ``include``."""


@functools.lru_cache(maxsize=65_536)
def _cached_iso(dt: datetime) -> str | None:
    return _clock_iso(dt)


def iso(dt: datetime | None) -> str | None:
    """CC's timestamp text, memoised: formatting dominates the cost of a 500-contact page,
    and contacts created together (imports) share their timestamps."""
    return None if dt is None else _cached_iso(dt)


def parse_include(raw: str | None, area: str = "contacts") -> tuple[str, ...]:
    """Validate an ``include`` csv; an unknown value is a 400 naming it."""
    if not raw:
        return ()
    values = [part.strip() for part in raw.split(",") if part.strip()]
    for value in values:
        if value not in INCLUDE_VALUES:
            raise CCError.bad_request(
                area, f"include value '{value}' is not one of: {', '.join(INCLUDE_VALUES)}."
            )
    return tuple(dict.fromkeys(values))


def _value(value: Any) -> Any:
    return iso(value) if isinstance(value, datetime) else value


def _record(record: dict[str, Any]) -> dict[str, Any]:
    """A stored sub-resource dict as JSON: timestamps formatted, None values left out."""
    return {key: _value(value) for key, value in record.items() if value is not None}


def email_json(email: EmailAddress) -> dict[str, Any]:
    out: dict[str, Any] = {
        "address": email.address,
        "permission_to_send": email.permission_to_send,
        "created_at": iso(email.created_at),
        "updated_at": iso(email.updated_at),
        "opt_in_source": email.opt_in_source,
        "opt_in_date": iso(email.opt_in_date),
        "opt_out_source": email.opt_out_source,
        "opt_out_date": iso(email.opt_out_date),
        "opt_out_reason": email.opt_out_reason,
        "confirm_status": email.confirm_status,
    }
    return {key: value for key, value in out.items() if value is not None}


def _notes_newest_first(notes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    def created(note: dict[str, Any]) -> str:
        value = note.get("created_at")
        return (iso(value) if isinstance(value, datetime) else str(value or "")) or ""

    return [_record(note) for note in sorted(notes, key=created, reverse=True)]


def contact_json(contact: Contact, include: Iterable[str] = ()) -> dict[str, Any]:
    """Render ``contact`` as CC's ContactResource with the requested sub-resources."""
    out: dict[str, Any] = {"contact_id": contact.contact_id}
    if contact.email_address is not None:
        out["email_address"] = email_json(contact.email_address)
    core = {
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "job_title": contact.job_title,
        "company_name": contact.company_name,
        "birthday_month": contact.birthday_month,
        "birthday_day": contact.birthday_day,
        "anniversary": contact.anniversary,
        "update_source": contact.update_source,
        "create_source": contact.create_source,
        "created_at": iso(contact.created_at),
        "updated_at": iso(contact.updated_at),
        "deleted_at": iso_date(contact.deleted_at),
    }
    out.update((key, value) for key, value in core.items() if value is not None)
    for name in include:
        if name == "custom_fields":
            out["custom_fields"] = [_record(cf) for cf in contact.custom_fields]
        elif name == "phone_numbers":
            out["phone_numbers"] = [_record(p) for p in contact.phone_numbers]
        elif name == "street_addresses":
            out["street_addresses"] = [_record(a) for a in contact.street_addresses]
        elif name == "list_memberships":
            out["list_memberships"] = list(contact.list_memberships)
        elif name == "taggings":
            out["taggings"] = list(contact.taggings)
        elif name == "notes":
            out["notes"] = _notes_newest_first(contact.notes)
        elif name == "sms_channel" and contact.sms_channel:
            out["sms_channel"] = _sms_json(contact.sms_channel)
    return out


def _sms_json(channel: dict[str, Any]) -> dict[str, Any]:
    out = _record({k: v for k, v in channel.items() if k != "sms_channel_consents"})
    out["sms_channel_consents"] = [
        _record(consent) for consent in channel.get("sms_channel_consents") or []
    ]
    return out
