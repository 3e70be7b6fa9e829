"""Contact exports: the CSV file a ``contact_exports`` activity produces.

The export is built when the activity completes (so it reflects the account at that
moment) and kept in ``AccountData.exports`` under the activity id, which is also the
``file_export_id`` of ``GET /contact_exports/{file_export_id}``.

The file is RFC 4180 CSV with a header row. Its column names are the export field names
CC accepts in ``fields`` (``email_address``, ``first_name``, ...), in the order requested;
custom fields appear as ``cf:<name>`` columns. Without ``fields`` every field is exported,
custom fields included. Multi-valued properties are flattened: ``phone_number`` and the
address columns take the contact's first phone number and first street address,
``email_lists`` joins list names with ``", "``, ``notes`` joins note texts with ``"; "``,
and ``birthday`` reads ``M/D``. The sandbox keeps no social profiles or websites, so those
columns are empty. ``source_name`` is the contact's ``create_source``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import datetime
from typing import Any

from ccbridge.sandbox.activities import worker
from ccbridge.sandbox.bulk_contacts import Source, is_active, select_contacts
from ccbridge.sandbox.clock import iso
from ccbridge.sandbox.contact_lifecycle import ms_now, permission_of
from ccbridge.sandbox.state import AccountData, Activity, Contact

EXPORT_STATUSES = ("active", "unsubscribed", "removed")
"""Values of ``status``: active means billable, removed means deleted."""

EMAIL_DEPENDENT_FIELDS = (
    "email_optin_source",
    "email_optin_date",
    "email_optout_source",
    "email_optout_date",
    "email_optout_reason",
)
"""Exportable only together with ``email_address``."""

CUSTOM_FIELD_PREFIX = "cf:"


def _first(records: list[dict[str, Any]], key: str) -> str:
    return str(records[0].get(key) or "") if records else ""


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return iso(value) or ""
    return str(value)


def _email_attr(name: str) -> Callable[[Contact, AccountData], str]:
    def read(contact: Contact, data: AccountData) -> str:
        email = contact.email_address
        return _text(getattr(email, name)) if email is not None else ""

    return read


def _list_names(contact: Contact, data: AccountData) -> str:
    names = [data.lists[lid].name for lid in contact.list_memberships if lid in data.lists]
    return ", ".join(names)


def _birthday(contact: Contact, data: AccountData) -> str:
    if contact.birthday_month is None or contact.birthday_day is None:
        return ""
    return f"{contact.birthday_month}/{contact.birthday_day}"


COLUMNS: dict[str, Callable[[Contact, AccountData], str]] = {
    "email_address": _email_attr("address"),
    "first_name": lambda c, d: _text(c.first_name),
    "last_name": lambda c, d: _text(c.last_name),
    "company_name": lambda c, d: _text(c.company_name),
    "job_title": lambda c, d: _text(c.job_title),
    "phone_number": lambda c, d: _first(c.phone_numbers, "phone_number"),
    "street": lambda c, d: _first(c.street_addresses, "street"),
    "city": lambda c, d: _first(c.street_addresses, "city"),
    "state": lambda c, d: _first(c.street_addresses, "state"),
    "zip": lambda c, d: _first(c.street_addresses, "postal_code"),
    "country": lambda c, d: _first(c.street_addresses, "country"),
    "anniversary": lambda c, d: _text(c.anniversary),
    "birthday": _birthday,
    "birthday_month": lambda c, d: _text(c.birthday_month),
    "birthday_day": lambda c, d: _text(c.birthday_day),
    "email_lists": _list_names,
    "notes": lambda c, d: "; ".join(str(n.get("content") or "") for n in c.notes),
    "social_profiles": lambda c, d: "",
    "website": lambda c, d: "",
    "source_name": lambda c, d: _text(c.create_source),
    "created_at": lambda c, d: _text(c.created_at),
    "updated_at": lambda c, d: _text(c.updated_at),
    "email_optin_source": _email_attr("opt_in_source"),
    "email_optin_date": _email_attr("opt_in_date"),
    "email_optout_source": _email_attr("opt_out_source"),
    "email_optout_date": _email_attr("opt_out_date"),
    "email_optout_reason": _email_attr("opt_out_reason"),
}
"""Every export field CC documents, with how the sandbox fills its column."""


def default_fields(data: AccountData) -> list[str]:
    """All fields, then one ``cf:<name>`` column per custom field of the account."""
    return [*COLUMNS, *(CUSTOM_FIELD_PREFIX + cf.name for cf in data.custom_fields.values())]


def status_matches(contact: Contact, status: str | None) -> bool:
    if status == "removed":
        return contact.deleted_at is not None
    if contact.deleted_at is not None:
        return False  # deleted contacts are exported only when asked for by status
    if status == "unsubscribed":
        return permission_of(contact) == "unsubscribed"
    if status == "active":
        return is_active(contact)
    return True


def contacts_to_export(
    data: AccountData, payload: dict[str, Any], now: datetime, errors: list[Any] | None = None
) -> list[Contact]:
    """The contacts an export request names; with no source, the whole account."""
    status = payload.get("status")
    raw_source = payload.get("source")
    if raw_source is None:
        excluded = set(payload.get("exclude", []))
        pool = [
            data.contacts[cid]
            for cid in data.contact_order
            if cid in data.contacts and cid not in excluded
        ]
    else:
        pool = select_contacts(
            data,
            Source.from_payload(raw_source),
            now,
            errors,
            keep_deleted=status == "removed",
        )
    return [c for c in pool if status_matches(c, status)]


def build_csv(data: AccountData, contacts: list[Contact], fields: list[str]) -> str:
    by_name = {cf.name: cf.custom_field_id for cf in data.custom_fields.values()}
    readers: list[Callable[[Contact, AccountData], str]] = []
    for name in fields:
        if name.startswith(CUSTOM_FIELD_PREFIX):
            readers.append(_custom_field_reader(by_name.get(name[len(CUSTOM_FIELD_PREFIX) :])))
        else:
            readers.append(COLUMNS[name])
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(fields)
    for contact in contacts:
        writer.writerow([read(contact, data) for read in readers])
    return out.getvalue()


def _custom_field_reader(field_id: str | None) -> Callable[[Contact, AccountData], str]:
    def read(contact: Contact, data: AccountData) -> str:
        for entry in contact.custom_fields:
            if entry.get("custom_field_id") == field_id:
                return _text(entry.get("value"))
        return ""

    return read


@worker("contact_exports")
def run_export(data: AccountData, activity: Activity, now: datetime) -> None:
    """Write the export file and record how many contacts it holds."""
    payload = activity.payload
    contacts = contacts_to_export(data, payload, ms_now(now), activity.activity_errors)
    fields = payload.get("fields") or default_fields(data)
    data.exports[activity.activity_id] = build_csv(data, contacts, fields)
    activity.items_total = activity.items_completed = len(contacts)
    activity.status.update(items_total_count=len(contacts), items_completed_count=len(contacts))
